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

use Condition::{BadQuality, High, HighHigh, Low, LowLow};
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
        "GD101",
        BadQuality { max_age_s: 30 },
        P2,
        (0.0, 10),
        (
            "釜区可燃气体探测器 GD101 无有效读数（故障或通讯中断），须改用便携式检测仪",
            "Reactor area combustible gas detector GD101 not reading (fault or lost communication): use a portable detector",
        ),
    ),
    def(
        "GD102",
        BadQuality { max_age_s: 30 },
        P2,
        (0.0, 10),
        (
            "釜区甲苯探测器 GD102 无有效读数（故障或通讯中断），须改用便携式检测仪",
            "Reactor area toluene detector GD102 not reading (fault or lost communication): use a portable detector",
        ),
    ),
    def(
        "GD103",
        BadQuality { max_age_s: 30 },
        P2,
        (0.0, 10),
        (
            "釜区氧含量探测器 GD103 无有效读数（故障或通讯中断），须改用便携式检测仪",
            "Reactor area oxygen detector GD103 not reading (fault or lost communication): use a portable detector",
        ),
    ),
    def(
        "GD201",
        BadQuality { max_age_s: 30 },
        P2,
        (0.0, 10),
        (
            "罐区可燃气体探测器 GD201 无有效读数（故障或通讯中断），须改用便携式检测仪",
            "Tank farm combustible gas detector GD201 not reading (fault or lost communication): use a portable detector",
        ),
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
    replay(app)?;
    batches(app)?;
    screen(app)?;
    control_rules(app)
}

/// The reactor's process screen: the drawing and its live values, placed in the
/// drawing's own pixels (1200 × 675) and stored in percent.
fn screen(app: &App) -> Result<()> {
    use super::screens::{self, Binding, ScreenInput, Show};
    let lead = person(app, "zhang.jianguo")?;
    let at = |tag: &str, show: Show, label: &str, px: f64, py: f64| Binding {
        tag: tag.into(),
        tag_id: 0,
        show,
        x: (px / 12.0 * 10.0).round() / 10.0,
        y: (py / 6.75 * 10.0).round() / 10.0,
        label: label.into(),
    };
    let bindings = vec![
        at("R101.PHASE", Show::Value, "阶段", 24.0, 60.0),
        at("R101.BATCH", Show::Value, "批次", 24.0, 95.0),
        at("TK201.LT", Show::Bar, "LT", 78.0, 330.0),
        at("R101.FIC101.SP", Show::Value, "FIC101 SP", 190.0, 215.0),
        at("R101.M01.IT", Show::Value, "M01", 600.0, 62.0),
        at("R101.M01.VT", Show::Value, "VT", 600.0, 92.0),
        at("R101.M01.VT", Show::Alarm, "", 500.0, 70.0),
        at("R101.PT101", Show::Value, "PT101", 490.0, 150.0),
        at("R101.PT101", Show::Alarm, "", 430.0, 150.0),
        at("R101.TT101", Show::Value, "TT101", 490.0, 240.0),
        at("R101.TT101", Show::Trend, "", 490.0, 285.0),
        at("R101.TT101", Show::Alarm, "", 430.0, 240.0),
        at("R101.LT101", Show::Bar, "LT101", 490.0, 345.0),
        at("R101.TT102", Show::Value, "TT102", 680.0, 420.0),
        at("R101.TIC101.SP", Show::Value, "TIC101 SP", 900.0, 175.0),
        at("R101.HOLD.SP", Show::Value, "保温 SP", 900.0, 215.0),
    ];
    let defs = app.tags.defs();
    let s = screens::save(
        &app.store,
        &lead,
        ScreenInput::new("R101 聚合釜", "R101", bindings),
        &|n| defs.by_name(n).cloned(),
        crate::util::now_ms(),
    )?;
    screens::set_background(
        &app.store,
        &lead,
        s.id,
        include_bytes!("demo_assets/r101.svg").to_vec(),
        crate::util::now_ms(),
    )?;
    Ok(())
}

/// The reactor temperature set-point moves at most 20 °C a write, one write in 5 s.
fn control_rules(app: &App) -> Result<()> {
    let defs = app.tags.defs();
    super::control::save_rule(
        &app.store,
        &Actor::system("demo"),
        super::control::ControlRule {
            tag: "R101.TIC101.SP".into(),
            tag_id: 0,
            max_step: Some(20.0),
            min_interval_s: 5,
            interlocks: Vec::new(),
            critical: false,
        },
        &|t| defs.by_name(t).cloned(),
    )?;
    Ok(())
}

/// A user of the demo plant as an actor (the demo's people sign recipes and run batches).
fn person(app: &App, username: &str) -> Result<Actor> {
    let u = crate::auth::service::user_by_name(&app.store.read()?, username)?
        .ok_or_else(|| crate::error::Error::not_found("auth.err.user_not_found"))?;
    Ok(Actor::user(u.id, &u.username, None))
}

/// R101 as a unit, a recipe per resin grade (written by the shift lead, approved by the
/// plant manager), the batches of the last eight hours rebuilt from the simulator's
/// history (phase and batch-number tags), the last of them with materials, its output lot
/// and a sample, the batch the live simulator starts with, its materials issued and an
/// in-process sample taken, and the shift log.
fn batches(app: &App) -> Result<()> {
    use super::batches::{self as b, Batch, BatchState, Unit};
    use super::recipes::{self, ParamInput, RecipeInput};
    let demo = Actor::system("demo");
    let defs = app.tags.defs();
    let material = |code: &str| {
        app.store.read().ok().is_some_and(|r| {
            crate::modules::inventory::service::material_by_code(&r, code)
                .ok()
                .flatten()
                .is_some()
        })
    };
    // the PLC's phase numbers 0…6, named as the shift calls them
    let phases: Vec<String> = ["待料", "投料", "升温", "反应", "保温", "降温", "出料"]
        .map(String::from)
        .to_vec();
    b::save_unit(
        &app.store,
        &demo,
        Unit {
            code: "R101".into(),
            name: "R101 丙烯酸树脂聚合釜".into(),
            area: "resin".into(),
            phase_tag: "R101.PHASE".into(),
            phases: phases.clone(),
            batch_tag: "R101.BATCH".into(),
            key_tags: [
                "R101.TT101",
                "R101.TT102",
                "R101.PT101",
                "R101.LT101",
                "R101.M01.IT",
                "FT101",
                "R101.TIC101.SP",
            ]
            .map(String::from)
            .to_vec(),
            product: "FG-AR100".into(),
            // the simulated cycle: 7,500 s of process at ten times real time
            ideal_cycle_min: Some(12.0),
        },
        &|t| defs.by_name(t).is_some(),
        &material,
    )?;
    let lead = person(app, "sun.wei")?;
    let manager = person(app, "zhang.jianguo")?;
    let now = crate::util::now_ms();
    // each with what one batch takes: the warehouse's picking lists stage it for the batch
    let ar100_bom: &[(&str, f64)] = &[
        ("RM-TOL", 240.0),
        ("RM-BA", 160.0),
        ("RM-MMA", 120.0),
        ("RM-AA", 20.0),
    ];
    let we200_bom: &[(&str, f64)] = &[
        ("RM-BA", 300.0),
        ("RM-MMA", 250.0),
        ("RM-AA", 15.0),
        ("RM-APS", 4.0),
        ("RM-NAOH", 30.0),
    ];
    for (code, name, product, react, feed, hold, bom) in [
        (
            "AR100@R101",
            "丙烯酸树脂 AR-100 标准工艺",
            "FG-AR100",
            85.0,
            11.5,
            15.0,
            ar100_bom,
        ),
        (
            "WE200@R101",
            "水性丙烯酸乳液 WE-200 工艺",
            "FG-WE200",
            78.0,
            9.0,
            30.0,
            we200_bom,
        ),
    ] {
        let r = recipes::create(
            &app.store,
            &lead,
            RecipeInput {
                code: code.into(),
                name: name.into(),
                product: product.into(),
                unit: "R101".into(),
                params: [
                    ("R101.TIC101.SP", react),
                    ("R101.FIC101.SP", feed),
                    ("R101.HOLD.SP", hold),
                ]
                .map(|(tag, value)| ParamInput {
                    tag: tag.into(),
                    value,
                    note: String::new(),
                })
                .to_vec(),
                materials: bom
                    .iter()
                    .map(|(m, qty)| recipes::IngredientInput {
                        material: (*m).into(),
                        qty: *qty,
                        unit: String::new(),
                    })
                    .collect(),
                note: String::new(),
            },
            &|n| defs.by_name(n).map(|t| (**t).clone()),
            &material,
            now,
        )?;
        recipes::approve(&app.store, &manager, r.id, now)?;
    }
    let ar100 = recipes::approved(&app.store.read()?, "AR100@R101")?;

    // the history's batches: each batch-number change starts one, the phase tag moves it
    let (Some(phase_tag), Some(batch_tag)) =
        (defs.by_name("R101.PHASE"), defs.by_name("R101.BATCH"))
    else {
        return Ok(());
    };
    let from = now - 9 * 3_600_000;
    let mut events: Vec<(i64, bool, f64)> = Vec::new();
    for (tag, is_batch) in [(phase_tag.id, false), (batch_tag.id, true)] {
        for p in app.historian.raw(tag, from, now)? {
            if let Some(v) = p.value.and_then(|v| v.as_f64()) {
                events.push((p.ts_ms, is_batch, v));
            }
        }
    }
    // a batch number first, then the phase at the same instant
    events.sort_by_key(|e| (e.0, !e.1));
    let mut past: Vec<Batch> = Vec::new();
    let mut current: Option<Batch> = None;
    for (ts, is_batch, v) in events {
        if is_batch {
            let Some(number) = b::tag_number("R101", v) else {
                continue;
            };
            if current.as_ref().is_some_and(|c| c.number == number) {
                continue;
            }
            if let Some(mut done) = current.take() {
                b::close_phases(&mut done.phases, ts);
                done.state = BatchState::Done;
                done.ended_ms = Some(ts);
                done.ended_by = Some("system:automation".into());
                past.push(done);
            }
            current = Some(tag_batch(&number, ts, ar100.as_ref()));
        } else if let (Some(c), Some(p)) = (current.as_mut(), b::phase_of(&phases, v)) {
            b::enter_phase(&mut c.phases, p, ts);
        }
    }
    // the first began before the history and the last was cut by the box starting: only
    // whole batches, from their first phase to their last, are kept
    let whole: Vec<Batch> = past
        .into_iter()
        .filter(|x| {
            x.phases.first().map(|p| &p.name) == phases.first()
                && x.phases.last().map(|p| &p.name) == phases.last()
        })
        .collect();
    let last = whole.len().saturating_sub(1);
    let operator = person(app, "li.ming")?;
    let a01 = location(app, "A-01")?;
    let a02 = location(app, "A-02")?;
    for (i, x) in whole.into_iter().enumerate() {
        if i + 6 <= last {
            b::put(&app.store, &demo, x)?;
            continue;
        }
        if i != last {
            // the five before the latest: their output received (released: the product is
            // not inspected on receipt), so OEE has decided output to count
            let x = b::put(&app.store, &demo, x)?;
            let qty = 3_700.0 + 40.0 * (i % 4) as f64;
            b::receive_output(
                app,
                &operator,
                x.id,
                lot_move(
                    "",
                    &format!("AR{}", x.number.trim_start_matches("R101-")),
                    a02,
                    qty,
                ),
            )?;
            continue;
        }
        // the latest whole batch: its materials, its output lot and a sample of it
        let ended = (x.ended_ms, x.ended_by.clone(), x.phases.clone());
        let mut x = b::put(
            &app.store,
            &demo,
            Batch {
                state: BatchState::Running,
                ended_ms: None,
                ended_by: None,
                ..x
            },
        )?;
        for (m, lot, qty) in [("RM-BA", "BA26091", 160.0), ("RM-MMA", "MMA26091", 120.0)] {
            x = b::issue(app, &operator, x.id, lot_move(m, lot, a01, qty))?;
        }
        x.state = BatchState::Done;
        (x.ended_ms, x.ended_by, x.phases) = ended;
        let x = b::put(&app.store, &demo, x)?;
        b::receive_output(
            app,
            &operator,
            x.id,
            lot_move(
                "",
                &format!("AR{}", x.number.trim_start_matches("R101-")),
                a02,
                3_860.0,
            ),
        )?;
        b::sample(app, &person(app, "wu.lihua")?, x.id, None)?;
    }

    // the batch the live simulator starts with (its counter begins at 1000): materials in
    // and an in-process sample
    let running = b::put(
        &app.store,
        &demo,
        tag_batch("R101-1000", now, ar100.as_ref()),
    )?;
    for (m, lot, qty) in [("RM-BA", "BA26092", 150.0), ("RM-MMA", "MMA26092", 110.0)] {
        b::issue(app, &operator, running.id, lot_move(m, lot, a01, qty))?;
    }
    b::sample(app, &person(app, "wu.lihua")?, running.id, None)?;
    shift_log(app, now)
}

/// The day shift's log of R101 handed over to the night shift, an open item carried over.
fn shift_log(app: &App, now: i64) -> Result<()> {
    use super::shiftlog as s;
    let day = person(app, "li.ming")?;
    let night = person(app, "sun.wei")?;
    let h = 3_600_000;
    s::add(
        &app.store,
        &day,
        "R101",
        "接班检查：R101 夹套冷却水、搅拌、尾气吸收正常。",
        false,
        now - 9 * h,
    )?;
    s::add(
        &app.store,
        &day,
        "R101",
        "P101 进料泵机封有轻微渗漏，已报设备科，待停泵检修。",
        true,
        now - 6 * h,
    )?;
    s::add(
        &app.store,
        &day,
        "R101",
        "AR-100 批次按工艺卡运行，反应段最高温度 91.8 ℃，未超限。",
        false,
        now - 3 * h,
    )?;
    s::hand_over(
        &app.store,
        &day,
        "R101",
        "R101 连续生产 AR-100；P101 机封渗漏未处理，请夜班关注并配合检修。",
        now - h,
    )?;
    s::take_over(&app.store, &night, "R101", now - h + 300_000)?;
    s::add(
        &app.store,
        &night,
        "R101",
        "接班确认：R101 运行正常，P101 渗漏量未增加。",
        false,
        now - h + 600_000,
    )?;
    Ok(())
}

/// A running AR-100 batch of R101 as its batch-number tag starts it.
fn tag_batch(
    number: &str,
    started_ms: i64,
    recipe: Option<&super::recipes::Recipe>,
) -> super::batches::Batch {
    use super::batches::{BatchState, RecipeRef, Trigger};
    super::batches::Batch {
        id: 0,
        number: number.into(),
        tag_number: Some(number.into()),
        unit: "R101".into(),
        product: "FG-AR100".into(),
        recipe: recipe.map(|r| RecipeRef {
            id: r.id,
            code: r.code.clone(),
            version: r.version,
        }),
        state: BatchState::Running,
        trigger: Trigger::Tag,
        started_ms,
        started_by: "system:automation".into(),
        ended_ms: None,
        ended_by: None,
        phases: Vec::new(),
        planned_qty: 4000.0,
        issues: Vec::new(),
        output: None,
        samples: Vec::new(),
        note: String::new(),
    }
}

fn lot_move(material: &str, lot: &str, location: u64, qty: f64) -> super::batches::LotMove {
    super::batches::LotMove {
        material: material.into(),
        lot: lot.into(),
        location,
        qty,
        unit: String::new(),
    }
}

fn location(app: &App, code: &str) -> Result<u64> {
    crate::modules::inventory::service::locations(&app.store.read()?)?
        .into_iter()
        .find(|l| l.code == code)
        .map(|l| l.id)
        .ok_or_else(|| crate::error::Error::not_found("inventory.err.location_not_found"))
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
