//! Equipment benchmark: with 10,000 pieces of equipment and 100,000 work orders, a page of
//! 50 of the ledger and of the work orders under filters, beside SQLite answering the same
//! pages from indexed tables (each record decoded from its JSON, as a page needs it); and
//! the condition evaluation of 2,000 bound vibration tags, as a share of one core at one
//! evaluation a second, beside the tag engine's own read of those values (the floor).
//!
//! Run: `cargo bench --bench equipment` (release build). Sizes: `NPLUSX_BENCH_EQUIPMENT`
//! (default 10,000), `NPLUSX_BENCH_ORDERS` (default 100,000).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use nplusx::modules::equipment::condition::Condition;
use nplusx::modules::equipment::model::{
    Binding, Category, Criticality, EqStatus, Equipment, ParamDef, ParamKind, ParamValue, Role,
    VibrationClass, WoPriority,
};
use nplusx::modules::equipment::rules::Zone;
use nplusx::modules::equipment::service::{
    self as svc, ActionInput, EqFilter, NewOrder, Now, Site, Watch, WoFilter,
};
use nplusx::modules::inventory::service::Posting;
use nplusx::store::{Actor, Store};
use nplusx::tags::engine::Engine;
use nplusx::tags::model::{DataType, Quality, Sample, Source, Value};

const DAY_MS: i64 = 86_400_000;
const NOW_MS: i64 = 1_796_300_000_000;

struct BenchSite;

impl Site for BenchSite {
    fn tag_exists(&self, _: &str) -> bool {
        true
    }
    fn tag_unit(&self, _: &str) -> String {
        "mm/s".into()
    }
    fn assignable(&self, _: u64) -> Option<String> {
        Some("钱峰".into())
    }
    fn meter(&self, _: &str) -> Option<f64> {
        None
    }
    fn posting(&self) -> Posting {
        Posting {
            now_ms: NOW_MS,
            today: time::macros::date!(2026 - 12 - 03),
            quality_on: false,
        }
    }
}

/// xorshift64*, deterministic.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn at(ms: i64) -> Now {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap();
    Now {
        ms,
        today: nplusx::plant_time::local(ms, offset).date(),
        offset,
    }
}

/// Median of the runs of `f`, per call.
fn time(runs: usize, mut f: impl FnMut(usize)) -> Duration {
    let mut v: Vec<Duration> = (0..runs)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect();
    v.sort();
    v[runs / 2]
}

const STATES: [&str; 7] = [
    "open",
    "assigned",
    "in_progress",
    "waiting_parts",
    "done",
    "verified",
    "cancelled",
];

fn main() {
    let n_eq = env("NPLUSX_BENCH_EQUIPMENT", 10_000);
    let n_wo = env("NPLUSX_BENCH_ORDERS", 100_000);
    println!("equipment: {n_eq} pieces of equipment, {n_wo} work orders");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let actor = Actor::user(1, "bench", None);
    let site = BenchSite;
    let cats: Vec<u64> = ["PUMP", "AGI", "CMP", "VESSEL", "TANK", "INST"]
        .iter()
        .map(|code| {
            svc::save_category(
                &store,
                &actor,
                Category {
                    id: 0,
                    code: code.to_string(),
                    name: code.to_string(),
                    parent: None,
                    params: vec![ParamDef {
                        key: "rated_power".into(),
                        name: "额定功率".into(),
                        kind: ParamKind::Number,
                        unit: "kW".into(),
                        required: false,
                    }],
                },
            )
            .unwrap()
            .id
        })
        .collect();

    // the ledger: 10,000 machines, a fifth with a vibration tag
    let mut rng = Rng(7);
    let t = Instant::now();
    let mut rows = Vec::with_capacity(n_eq);
    for chunk in (0..n_eq).collect::<Vec<_>>().chunks(2_000) {
        let mut w = store.write(&actor).unwrap();
        for &i in chunk {
            let e = svc::save_equipment_in(
                &mut w,
                Equipment {
                    id: 0,
                    tag_no: format!("E-{i:05}"),
                    name: format!("设备 {i}"),
                    category: cats[rng.below(cats.len() as u64) as usize],
                    department: None,
                    location: format!("车间 {}", rng.below(20)),
                    manufacturer: "厂家".into(),
                    model: format!("M{}", rng.below(300)),
                    serial: String::new(),
                    commissioned: None,
                    criticality: [Criticality::A, Criticality::B, Criticality::C]
                        [rng.below(3) as usize],
                    status: [EqStatus::Running, EqStatus::Standby, EqStatus::Maintenance]
                        [rng.below(3) as usize],
                    parent: None,
                    params: BTreeMap::from([(
                        "rated_power".into(),
                        ParamValue::Number(rng.below(300) as f64),
                    )]),
                    bindings: if i % 5 == 0 {
                        vec![Binding {
                            tag: format!("E-{i:05}.VT"),
                            role: Role::Vibration,
                            point: String::new(),
                        }]
                    } else {
                        Vec::new()
                    },
                    vibration: VibrationClass::default(),
                    bom: Vec::new(),
                    deleted: false,
                },
                &site,
            )
            .unwrap();
            rows.push(e);
        }
        w.commit().unwrap();
    }
    println!("  ledger loaded in {:.1} s", t.elapsed().as_secs_f64());

    // 100,000 work orders over two years, most closed, some open in each state
    let t = Instant::now();
    let mut loaded: Vec<(u64, u64, &'static str, i64)> = Vec::with_capacity(n_wo);
    let verifier = Actor::user(2, "验收人", None);
    for chunk in (0..n_wo).collect::<Vec<_>>().chunks(10_000) {
        let mut w = store.write(&actor).unwrap();
        let mut to_verify = Vec::new();
        for &i in chunk {
            let e = &rows[rng.below(rows.len() as u64) as usize];
            let created = NOW_MS - 730 * DAY_MS + (i as i64) * (730 * DAY_MS / n_wo as i64);
            let o = svc::open_in(
                &mut w,
                NewOrder {
                    equipment: e.id,
                    title: format!("故障 {i}"),
                    description: "巡检发现异响，温度偏高。".into(),
                    priority: WoPriority::Normal,
                    ..NewOrder::default()
                },
                true,
                at(created),
            )
            .unwrap();
            // 97 % verified, the rest spread over the other states
            let target = if rng.below(100) < 97 {
                "verified"
            } else {
                STATES[rng.below(7) as usize]
            };
            let steps: &[&str] = match target {
                "open" => &[],
                "assigned" => &["assign"],
                "in_progress" => &["assign", "start"],
                "waiting_parts" => &["assign", "start", "wait_parts"],
                "done" => &["assign", "start", "done"],
                "verified" => &["assign", "start", "done"],
                _ => &["cancel"],
            };
            for s in steps {
                let a = ActionInput {
                    action: s.to_string(),
                    assignee: Some(7),
                    hours: Some(2.0),
                    report: "更换轴承".into(),
                    note: "好".into(),
                    ..ActionInput::default()
                };
                svc::act_in(&mut w, o.id, a, true, &site, at(created + 3_600_000)).unwrap();
            }
            if target == "verified" {
                to_verify.push((o.id, created));
            }
            loaded.push((o.id, e.id, target, o.due_ms));
        }
        w.commit().unwrap();
        // the sign-off is another person's
        let mut w = store.write(&verifier).unwrap();
        for (id, created) in to_verify {
            let a = ActionInput {
                action: "verify".into(),
                note: "试车正常".into(),
                ..ActionInput::default()
            };
            svc::act_in(&mut w, id, a, true, &site, at(created + 7_200_000)).unwrap();
        }
        w.commit().unwrap();
    }
    println!(
        "  work orders loaded in {:.1} s, store {:.0} MiB",
        t.elapsed().as_secs_f64(),
        store.file_size() as f64 / 1048576.0
    );

    // ---------------------------------------------------------------- pages in nplusx
    let r = store.read().unwrap();
    let wo_rows: Vec<(u64, u64, &'static str, i64, String)> = loaded
        .into_iter()
        .map(|(id, eq, state, due)| {
            let json = serde_json::to_string(&svc::order(&r, id).unwrap()).unwrap();
            (id, eq, state, due, json)
        })
        .collect();
    let runs = 200;
    let ledger_filters = [
        EqFilter {
            criticality: Some("A".into()),
            status: Some("running".into()),
            ..EqFilter::default()
        },
        EqFilter {
            q: "M12".into(),
            ..EqFilter::default()
        },
        EqFilter {
            category: Some(cats[3]),
            page: Some(5),
            ..EqFilter::default()
        },
    ];
    let redb_ledger = time(runs, |i| {
        let p = svc::list(&r, &ledger_filters[i % 3]).unwrap();
        black_box(p.items.len());
    });
    let wo_filters = [
        WoFilter {
            state: Some("open".into()),
            ..WoFilter::default()
        },
        WoFilter {
            state: Some("waiting_parts".into()),
            ..WoFilter::default()
        },
        WoFilter {
            page: Some(20),
            ..WoFilter::default()
        },
        WoFilter {
            equipment: Some(rows[1234 % rows.len()].id),
            ..WoFilter::default()
        },
    ];
    let redb_orders = time(runs, |i| {
        let p = svc::orders(&r, &wo_filters[i % 4], NOW_MS).unwrap();
        black_box(p.items.len());
    });
    let open_found = svc::orders(&r, &wo_filters[0], NOW_MS).unwrap().items.len();
    drop(r);

    // ---------------------------------------------------------------- SQLite
    let sdir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(sdir.path().join("eq.db")).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE equipment(id INTEGER PRIMARY KEY, tag_no TEXT UNIQUE, name TEXT,
           category INTEGER, criticality TEXT, status TEXT, model TEXT, location TEXT, json TEXT);
         CREATE INDEX equipment_category ON equipment(category, tag_no);
         CREATE INDEX equipment_crit ON equipment(criticality, status, tag_no);
         CREATE TABLE orders(id INTEGER PRIMARY KEY, equipment INTEGER, state TEXT,
           due INTEGER, json TEXT);
         CREATE INDEX orders_state ON orders(state, id);
         CREATE INDEX orders_equipment ON orders(equipment, id);",
    )
    .unwrap();
    {
        let tx = db.unchecked_transaction().unwrap();
        for e in &rows {
            tx.execute(
                "INSERT INTO equipment VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    e.id as i64,
                    e.tag_no,
                    e.name,
                    e.category as i64,
                    e.criticality.id(),
                    e.status.id(),
                    e.model,
                    e.location,
                    serde_json::to_string(e).unwrap()
                ],
            )
            .unwrap();
        }
        for (id, eq, state, due, json) in &wo_rows {
            tx.execute(
                "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![*id as i64, *eq as i64, state, due, json],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let page_of = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> usize {
        let mut st = db.prepare_cached(sql).unwrap();
        let page: Vec<serde_json::Value> = st
            .query_map(params, |row| row.get::<_, String>(0))
            .unwrap()
            .map(|j| serde_json::from_str(&j.unwrap()).unwrap())
            .collect();
        page.len()
    };
    let sql_ledger = time(runs, |i| {
        let n = match i % 3 {
            0 => page_of(
                "SELECT json FROM equipment WHERE criticality = 'A' AND status = 'running' ORDER BY tag_no LIMIT 51",
                &[],
            ),
            1 => page_of(
                "SELECT json FROM equipment WHERE tag_no LIKE '%M12%' OR name LIKE '%M12%' OR model LIKE '%M12%' OR location LIKE '%M12%' ORDER BY tag_no LIMIT 51",
                &[],
            ),
            _ => page_of(
                "SELECT json FROM equipment WHERE category = ?1 ORDER BY tag_no LIMIT 51 OFFSET 200",
                &[&(cats[3] as i64)],
            ),
        };
        black_box(n);
    });
    let sql_orders = time(runs, |i| {
        let n = match i % 4 {
            0 => page_of(
                "SELECT json FROM orders WHERE state IN ('open','assigned','in_progress','waiting_parts') ORDER BY id DESC LIMIT 51",
                &[],
            ),
            1 => page_of(
                "SELECT json FROM orders WHERE state = 'waiting_parts' ORDER BY id DESC LIMIT 51",
                &[],
            ),
            2 => page_of(
                "SELECT json FROM orders ORDER BY id DESC LIMIT 51 OFFSET 950",
                &[],
            ),
            _ => page_of(
                "SELECT json FROM orders WHERE equipment = ?1 ORDER BY id DESC LIMIT 51",
                &[&(rows[1234 % rows.len()].id as i64)],
            ),
        };
        black_box(n);
    });
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  ledger page of 50 (filters: criticality+status, text, category page 5): {:>6.2} ms   SQLite {:>6.2} ms   ratio {:.2}",
        ms(redb_ledger),
        ms(sql_ledger),
        ms(redb_ledger) / ms(sql_ledger)
    );
    println!(
        "  work-order page of 50 (open, waiting for parts, page 20, one machine): {:>6.2} ms   SQLite {:>6.2} ms   ratio {:.2}   ({open_found} open on page 1)",
        ms(redb_orders),
        ms(sql_orders),
        ms(redb_orders) / ms(sql_orders)
    );

    // ---------------------------------------------------------------- condition
    let n_tags = 2_000usize;
    let tags: Vec<_> = (0..n_tags)
        .map(|i| {
            let mut t = nplusx::tags::service::blank_tag(
                &format!("V{i}.VT"),
                DataType::Float,
                Source::Manual,
            );
            t.id = i as u32 + 1;
            t
        })
        .collect();
    let engine = Engine::new(tags);
    let cond = Condition::default();
    cond.watch(
        (0..n_tags)
            .map(|i| {
                (
                    Watch {
                        equipment: i as u64 + 1,
                        tag_no: format!("E-{i}"),
                        tag: format!("V{i}.VT"),
                        bounds: VibrationClass::default().bounds(),
                        criticality: Criticality::B,
                        running: None,
                    },
                    Some(Zone::B),
                )
            })
            .collect(),
        &engine.defs(),
    );
    let handles: Vec<u32> = (1..=n_tags as u32).collect();
    let mut step = 0i64;
    let mut feed = |engine: &Engine| {
        step += 1;
        engine.publish(
            (0..n_tags)
                .map(|i| Sample {
                    tag: i as u32 + 1,
                    ts_ms: NOW_MS + step * 1000,
                    // hovering inside zone B, so the evaluation judges and changes nothing
                    value: Some(Value::Float(2.0 + ((i as i64 + step) % 7) as f64 * 0.05)),
                    quality: Quality::Good,
                })
                .collect(),
        );
    };
    let evals = 2_000;
    let mut judge = Duration::ZERO;
    let mut floor = Duration::ZERO;
    for i in 0..evals {
        feed(&engine);
        let t = Instant::now();
        black_box(engine.currents(&handles));
        floor += t.elapsed();
        let t = Instant::now();
        let changes = cond.judge(&engine, NOW_MS + i as i64 * 1000);
        judge += t.elapsed();
        assert!(changes.is_empty());
    }
    let per = judge / evals;
    let per_floor = floor / evals;
    println!(
        "  condition of {n_tags} vibration tags: {:>7.1} µs an evaluation = {:.3} % of a core at 1 Hz   engine read alone {:.1} µs   ratio {:.2}",
        per.as_secs_f64() * 1e6,
        per.as_secs_f64() * 100.0,
        per_floor.as_secs_f64() * 1e6,
        per.as_secs_f64() / per_floor.as_secs_f64()
    );
}
