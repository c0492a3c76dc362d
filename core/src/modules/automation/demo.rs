//! The demo plant's alarm definitions, on the simulator's tags, with limits from the
//! standards the plant must meet (GB/T 50493-2019 gas detection), then the last eight hours
//! of history replayed through them so the journal and the KPI page have a shift to show.
//! Vibration is judged by the equipment module (ISO 10816-3 zones of each machine).

use crate::alarms::model::{AlarmDef, Condition, Priority};
use crate::alarms::service;
use crate::app::App;
use crate::error::Result;
use crate::store::Actor;
use crate::tags::engine::Sink;
use crate::tags::model::Sample;

struct Def {
    tag: &'static str,
    condition: Condition,
    priority: Priority,
    deadband: f64,
    on_delay_s: u32,
    zh: &'static str,
    en: &'static str,
}

const fn def(
    tag: &'static str,
    condition: Condition,
    priority: Priority,
    (deadband, on_delay_s): (f64, u32),
    (zh, en): (&'static str, &'static str),
) -> Def {
    Def {
        tag,
        condition,
        priority,
        deadband,
        on_delay_s,
        zh,
        en,
    }
}

use Condition::{High, HighHigh, Low, LowLow};
use Priority::{High as P2, Low as P4, Medium as P3, Urgent as P1};

const DEFS: &[Def] = &[
    def(
        "R101.TT101",
        High { limit: 90.0 },
        P2,
        (1.0, 5),
        ("R101 釜温高", "R101 batch temperature high"),
    ),
    def(
        "R101.TT101",
        HighHigh { limit: 95.0 },
        P1,
        (1.0, 0),
        (
            "R101 釜温高高，检查冷却水",
            "R101 batch temperature high-high: check cooling water",
        ),
    ),
    def(
        "R101.PT101",
        High { limit: 0.30 },
        P2,
        (0.02, 5),
        ("R101 釜压高", "R101 pressure high"),
    ),
    def(
        "GD101",
        High { limit: 25.0 },
        P2,
        (2.0, 0),
        (
            "釜区可燃气体一级报警",
            "Reactor area combustible gas, first alarm",
        ),
    ),
    def(
        "GD101",
        HighHigh { limit: 50.0 },
        P1,
        (2.0, 0),
        (
            "釜区可燃气体二级报警",
            "Reactor area combustible gas, second alarm",
        ),
    ),
    def(
        "GD201",
        High { limit: 25.0 },
        P2,
        (2.0, 0),
        (
            "罐区可燃气体一级报警",
            "Tank farm combustible gas, first alarm",
        ),
    ),
    def(
        "GD201",
        HighHigh { limit: 50.0 },
        P1,
        (2.0, 0),
        (
            "罐区可燃气体二级报警",
            "Tank farm combustible gas, second alarm",
        ),
    ),
    // toluene PC-TWA 50 mg/m³ ≈ 13 ppm (GBZ 2.1): first alarm at 100 % OEL, second at 200 %
    def(
        "GD102",
        High { limit: 13.0 },
        P2,
        (1.0, 0),
        ("釜区甲苯浓度一级报警", "Reactor area toluene, first alarm"),
    ),
    def(
        "GD102",
        HighHigh { limit: 26.0 },
        P1,
        (1.0, 0),
        ("釜区甲苯浓度二级报警", "Reactor area toluene, second alarm"),
    ),
    def(
        "GD103",
        High { limit: 23.5 },
        P2,
        (0.2, 0),
        ("釜区富氧", "Reactor area oxygen enriched"),
    ),
    def(
        "GD103",
        Low { limit: 19.5 },
        P1,
        (0.2, 0),
        ("釜区缺氧", "Reactor area oxygen deficient"),
    ),
    def(
        "TK201.LT",
        High { limit: 90.0 },
        P2,
        (1.0, 10),
        ("甲苯储罐液位高", "Toluene tank level high"),
    ),
    def(
        "TK201.LT",
        LowLow { limit: 10.0 },
        P3,
        (1.0, 10),
        (
            "甲苯储罐液位低低，停泵",
            "Toluene tank level low-low: stop the pump",
        ),
    ),
    def(
        "TK202.LT",
        Low { limit: 25.0 },
        P4,
        (1.0, 10),
        (
            "乙酸乙酯储罐液位低，安排补料",
            "Ethyl acetate tank level low: order a delivery",
        ),
    ),
];

pub fn seed(app: &App) -> Result<()> {
    let actor = Actor::system("demo");
    let tags = app.tags.defs();
    for d in DEFS {
        let Some(tag) = tags.by_name(d.tag) else {
            continue;
        };
        service::save_def(
            &app.store,
            &actor,
            &tags,
            AlarmDef {
                id: 0,
                tag: tag.id,
                condition: d.condition.clone(),
                priority: d.priority,
                deadband: d.deadband,
                on_delay_s: d.on_delay_s,
                off_delay_s: 0,
                message_zh: d.zh.into(),
                message_en: d.en.into(),
                area: String::new(),
                latch: matches!(d.priority, Priority::Urgent),
                enabled: true,
            },
        )?;
    }
    app.alarms.reload()?;
    replay(app)
}

/// Feeds the stored history of the alarmed tags through the engine in time order, so the
/// alarms of the backfilled shift are in the journal.
fn replay(app: &App) -> Result<()> {
    let r = app.store.read()?;
    let mut ids: Vec<u32> = service::defs(&r)?
        .iter()
        .map(|d| d.tag)
        .filter(|t| *t != 0)
        .collect();
    drop(r);
    ids.sort_unstable();
    ids.dedup();
    let to = crate::util::now_ms();
    let mut samples: Vec<Sample> = Vec::new();
    for id in ids {
        for p in app.historian.raw(id, to - 9 * 3_600_000, to)? {
            samples.push(Sample {
                tag: id,
                ts_ms: p.ts_ms,
                value: p.value,
                quality: p.quality,
            });
        }
    }
    samples.sort_by_key(|s| s.ts_ms);
    for batch in samples.chunk_by(|a, b| a.ts_ms == b.ts_ms) {
        app.alarms.accept(batch);
        // on-delays complete between samples
        app.alarms.tick(batch[0].ts_ms);
    }
    app.alarms.flush()?;
    Ok(())
}
