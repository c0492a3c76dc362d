//! The demo plant's laboratory: test items with the acid-value and solids formulas, the
//! resins' and the monomer's specifications, sampling points, and three months of samples
//! on the batches inventory made — in every state, with one lot held under test — so the
//! SPC charts have data.

use super::model::{ItemKind, SamplingPoint, Spec, Stage, TestItem};
use super::rules::Compare;
use super::service::{self as svc, NewSample, Now, ResultInput, SampleAction};
use crate::app::App;
use crate::error::Result;
use crate::modules::inventory::service as inventory;
use crate::store::Actor;

struct Item {
    keyword: &'static str,
    name: &'static str,
    unit: &'static str,
    method: &'static str,
    kind: ItemKind,
    decimals: i32,
    plausible: (f64, f64),
    formula: &'static str,
}

const N: ItemKind = ItemKind::Number;

const ITEMS: &[Item] = &[
    Item {
        keyword: "VIS",
        name: "粘度 (25 ℃)",
        unit: "mPa·s",
        method: "GB/T 2794-2022",
        kind: N,
        decimals: 0,
        plausible: (1.0, 100_000.0),
        formula: "",
    },
    Item {
        keyword: "DRY",
        name: "烘后残留质量",
        unit: "g",
        method: "GB/T 1725-2007",
        kind: N,
        decimals: 4,
        plausible: (0.0, 10.0),
        formula: "",
    },
    Item {
        keyword: "W",
        name: "试样质量",
        unit: "g",
        method: "GB/T 1725-2007",
        kind: N,
        decimals: 4,
        plausible: (0.1, 10.0),
        formula: "",
    },
    Item {
        keyword: "SC",
        name: "固体含量",
        unit: "%",
        method: "GB/T 1725-2007",
        kind: N,
        decimals: 1,
        plausible: (0.0, 100.0),
        formula: "DRY / W × 100",
    },
    Item {
        keyword: "V",
        name: "滴定体积",
        unit: "mL",
        method: "GB/T 6743-2008",
        kind: N,
        decimals: 2,
        plausible: (0.0, 50.0),
        formula: "",
    },
    Item {
        keyword: "V0",
        name: "空白体积",
        unit: "mL",
        method: "GB/T 6743-2008",
        kind: N,
        decimals: 2,
        plausible: (0.0, 5.0),
        formula: "",
    },
    Item {
        keyword: "c",
        name: "KOH 标准溶液浓度",
        unit: "mol/L",
        method: "GB/T 6743-2008",
        kind: N,
        decimals: 4,
        plausible: (0.001, 1.0),
        formula: "",
    },
    Item {
        keyword: "m",
        name: "试样质量（酸值）",
        unit: "g",
        method: "GB/T 6743-2008",
        kind: N,
        decimals: 4,
        plausible: (0.1, 50.0),
        formula: "",
    },
    Item {
        keyword: "AV",
        name: "酸值",
        unit: "mgKOH/g",
        method: "GB/T 6743-2008",
        kind: N,
        decimals: 1,
        plausible: (0.0, 300.0),
        formula: "(V - V0) * c * 56.1 / m",
    },
    Item {
        keyword: "COL",
        name: "色度",
        unit: "Hazen",
        method: "GB/T 3143-1982",
        kind: N,
        decimals: 0,
        plausible: (0.0, 1000.0),
        formula: "",
    },
    Item {
        keyword: "APP",
        name: "外观",
        unit: "",
        method: "目测",
        kind: ItemKind::Text,
        decimals: 0,
        plausible: (0.0, 0.0),
        formula: "",
    },
    Item {
        keyword: "PUR",
        name: "纯度 (GC)",
        unit: "%",
        method: "GB/T 17530.2",
        kind: N,
        decimals: 2,
        plausible: (80.0, 100.0),
        formula: "",
    },
    Item {
        keyword: "MEHQ",
        name: "阻聚剂 MEHQ",
        unit: "mg/kg",
        method: "GB/T 17530.5",
        kind: N,
        decimals: 0,
        plausible: (0.0, 500.0),
        formula: "",
    },
    Item {
        keyword: "H2O",
        name: "水分",
        unit: "%",
        method: "GB/T 6283-2008",
        kind: N,
        decimals: 2,
        plausible: (0.0, 5.0),
        formula: "",
    },
];

/// A deterministic sequence of readings around a centre (so the demo is the same each time).
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // sum of four uniforms: roughly normal, mean 0, σ ≈ 0.58
        (0..4)
            .map(|i| ((self.0 >> (i * 16)) & 0xffff) as f64 / 65535.0 - 0.5)
            .sum()
    }
    fn around(&mut self, centre: f64, spread: f64) -> f64 {
        centre + self.next() * spread
    }
}

pub fn seed(app: &App) -> Result<()> {
    let a = Actor::system("demo");
    // the analyst enters results; the lab's head reviews and decides them (four eyes)
    let person = |name: &str| -> Result<Actor> {
        Ok(
            crate::auth::service::user_by_name(&app.store.read()?, name)?
                .map(|u| Actor::user(u.id, &u.username, None))
                .unwrap_or_else(|| Actor::system(name)),
        )
    };
    let (lab, lead) = (person("he.jing")?, person("wu.lihua")?);
    let store = &app.store;
    let today = crate::plant_time::today(app.offset);
    let now = Now {
        ms: crate::util::now_ms(),
        today,
    };
    let mut ids = std::collections::HashMap::new();
    for it in ITEMS {
        let x = svc::save_item(
            store,
            &a,
            TestItem {
                id: 0,
                keyword: it.keyword.into(),
                name: it.name.into(),
                unit: it.unit.into(),
                method: it.method.into(),
                kind: it.kind,
                decimals: it.decimals,
                plausible_low: (it.kind == N).then_some(it.plausible.0),
                plausible_high: (it.kind == N).then_some(it.plausible.1),
                formula: it.formula.into(),
                formula_version: 0,
                active: true,
            },
            now,
        )?;
        ids.insert(it.keyword, x.id);
    }
    let point = |code: &str, name: &str, stage, unit: &str| SamplingPoint {
        id: 0,
        code: code.into(),
        name: name.into(),
        stage,
        unit: unit.into(),
        every_hours: 0,
        material: None,
    };
    let r = store.read()?;
    let mat = |code: &str| -> Result<u64> {
        Ok(inventory::material_by_code(&r, code)?
            .map(|m| m.id)
            .unwrap_or_default())
    };
    let (ar, we, ba) = (mat("FG-AR100")?, mat("FG-WE200")?, mat("RM-BA")?);
    drop(r);
    let sp_in = svc::save_point(
        store,
        &a,
        point("SP-IN", "原料进厂取样口", Stage::Receipt, ""),
    )?;
    let mut reactor = point(
        "SP-R101",
        "R-101 反应釜取样阀",
        Stage::Intermediate,
        "R-101",
    );
    reactor.material = Some(ar);
    // 中控: a sample every eight hours while the box runs (the history below is by hand)
    reactor.every_hours = 8;
    let sp_r = svc::save_point(store, &a, reactor)?;
    let sp_fg = svc::save_point(
        store,
        &a,
        point("SP-FG", "成品包装线", Stage::Finished, "包装"),
    )?;
    // the limits as the standards write them (their digits decide the rounding, GB/T 8170)
    let spec = |material, stage, standard: &str, lines: &str| -> Result<Spec> {
        Ok(Spec {
            id: 0,
            material,
            grade: String::new(),
            customer: None,
            stage,
            compare: Compare::Rounded,
            lines: svc::spec_lines(&store.read()?, lines)?,
            standard: standard.into(),
            version: 0,
        })
    };
    for (material, stage, standard, lines) in [
        (
            ar,
            Stage::Finished,
            "Q/LX 001-2025 丙烯酸树脂 AR-100",
            "VIS 3000 ~ 6000\nSC 49.0 ~ 51.0\nAV ≤ 5.0\nCOL ≤ 100\nAPP = 清澈透明",
        ),
        (
            ar,
            Stage::Intermediate,
            "R-101 中控",
            "VIS 2500 ~ 6500\nSC 48.0 ~ 52.0",
        ),
        (
            we,
            Stage::Finished,
            "Q/LX 002-2025 水性丙烯酸乳液 WE-200",
            "SC 44.0 ~ 46.0\nVIS 500 ~ 2000",
        ),
        (
            ba,
            Stage::Receipt,
            "GB/T 17530.1 丙烯酸丁酯 优等品",
            "PUR ≥ 99.5\nMEHQ 10 ~ 20\nH2O ≤ 0.05\nCOL ≤ 10",
        ),
    ] {
        svc::save_spec(store, &a, spec(material, stage, standard, lines)?)?;
    }

    // the batches inventory made: an in-process sample or three, and the release sample
    let mut g = Gen(20_251_203);
    let r = store.read()?;
    let mut lots = Vec::new();
    for n in 1..=60 {
        match inventory::lot_by_number(&r, ar, &format!("AR{n:04}"))? {
            Some(l) => lots.push(l),
            None => break,
        }
    }
    drop(r);
    let entered = |vis: f64, sc: f64, av: f64, col: f64, app: &str| -> Vec<ResultInput> {
        // the raw readings that give these results through the formulas
        let w = 1.5;
        let m = 2.0;
        let (c, v0) = (0.1, 0.05);
        let v = av * m / (c * 56.1) + v0;
        let mut out = vec![
            ("VIS", format!("{vis:.0}")),
            ("DRY", format!("{:.4}", sc / 100.0 * w)),
            ("W", format!("{w:.4}")),
            ("V", format!("{v:.2}")),
            ("V0", format!("{v0:.2}")),
            ("c", format!("{c:.4}")),
            ("m", format!("{m:.4}")),
            ("COL", format!("{col:.0}")),
        ];
        if !app.is_empty() {
            out.push(("APP", app.to_string()));
        }
        out.into_iter()
            .map(|(k, v)| ResultInput {
                item: None,
                keyword: k.into(),
                value: v,
            })
            .collect()
    };
    let count = lots.len();
    for (i, lot) in lots.iter().enumerate() {
        let made = lot.received_ms;
        let at = |hours_before: i64| Now {
            ms: (made - hours_before * 3_600_000).min(now.ms),
            today,
        };
        // in process, on the reactor: viscosity and solids rising to the end point
        for (k, h) in [14i64, 8, 3].iter().enumerate() {
            let s = svc::create_sample(
                store,
                &lab,
                NewSample {
                    material: ar,
                    lot: None,
                    point: sp_r.id,
                    spec: None,
                    sampler: "周强".into(),
                },
                at(*h),
            )?;
            let vis = g.around(3600.0 + 400.0 * k as f64, 300.0);
            let sc = g.around(49.2 + 0.4 * k as f64, 0.5);
            let mut rs = entered(vis, sc, 4.0, 50.0, "");
            rs.retain(|r| matches!(r.keyword.as_str(), "VIS" | "DRY" | "W"));
            svc::enter_results(store, &lab, s.id, rs, at(*h - 1))?;
        }
        // the release sample of the batch
        let s = svc::create_sample(
            store,
            &lab,
            NewSample {
                material: ar,
                lot: Some(lot.id),
                point: sp_fg.id,
                spec: None,
                sampler: "周强".into(),
            },
            at(0),
        )?;
        let last = i + 1 == count;
        if last {
            // the newest batch is still under test: its lot is held
            continue;
        }
        let (vis, sc, av, col) = (
            g.around(4500.0, 500.0),
            g.around(50.0, 0.6),
            g.around(3.2, 0.8).max(0.5),
            g.around(40.0, 20.0).max(5.0),
        );
        // a few batches out of specification: acid value too high, or too thin
        let (vis, av) = match i % 7 {
            3 if i < count - 3 => (vis, 6.3),
            5 if i < count - 3 => (2700.0, av),
            _ => (vis, av),
        };
        let judged = svc::enter_results(
            store,
            &lab,
            s.id,
            entered(vis, sc, av, col, "清澈透明"),
            at(-2),
        )?;
        let decide = |action| svc::act(store, &lead, s.id, action, at(-4));
        match (judged.state, i % 7) {
            (super::model::SampleState::Passed, _) if i + 2 == count => {} // passed, to release
            (super::model::SampleState::Passed, _) => {
                decide(SampleAction::Release {
                    comment: String::new(),
                })?;
            }
            (super::model::SampleState::Failed, 3) => {
                decide(SampleAction::Concession {
                    comment: "酸值略高，客户书面同意让步接收".into(),
                })?;
            }
            (super::model::SampleState::Failed, _) if i + 4 >= count => {} // failed, to decide
            (super::model::SampleState::Failed, _) => {
                decide(SampleAction::Reject {
                    comment: "粘度过低，返工".into(),
                })?;
            }
            _ => {}
        }
    }
    // the latest monomer delivery: tested on arrival and released
    let r = store.read()?;
    let ba_lot = inventory::stock(
        &r,
        &inventory::StockFilter {
            material: Some(ba),
            ..Default::default()
        },
        today,
    )?
    .into_iter()
    .max_by_key(|x| x.balance.lot)
    .map(|x| x.balance.lot);
    drop(r);
    if let Some(lot) = ba_lot {
        let s = svc::create_sample(
            store,
            &lab,
            NewSample {
                material: ba,
                lot: Some(lot),
                point: sp_in.id,
                spec: None,
                sampler: "周强".into(),
            },
            now,
        )?;
        let rs = [
            ("PUR", "99.72"),
            ("MEHQ", "15"),
            ("H2O", "0.03"),
            ("COL", "5"),
        ]
        .into_iter()
        .map(|(k, v)| ResultInput {
            item: None,
            keyword: k.into(),
            value: v.into(),
        })
        .collect();
        svc::enter_results(store, &lab, s.id, rs, now)?;
        svc::act(
            store,
            &lead,
            s.id,
            SampleAction::Release {
                comment: String::new(),
            },
            now,
        )?;
    }
    Ok(())
}
