//! Inventory benchmark: with 1,000,000 movements over 5,000 materials and 200 locations in
//! the store, (1) posting a movement durably (checked, with its balances and audit entry),
//! from one client and from eight at once (where group commit shares commits), (2) the
//! balance of a material at a location, (3) a page of the ledger filtered by material and
//! month — each beside SQLite doing the same with indexed tables (WAL, synchronous=FULL, one
//! transaction per movement, one connection per client) —, and (4) a pivot of the whole
//! ledger (value and count by material category × plant month) natively, beside reading the
//! ledger alone; (5) the same pivot through the plugin contract: the box serving this store
//! (its release binary on loopback) and the BI plugin asking `records.pivot` for it, timed as
//! its reader waits for the pivot page; all measured in the same run.
//!
//! Run: `cargo bench --bench inventory` (release build). Movements loaded:
//! `NPLUSX_BENCH_MOVEMENTS` (default 1,000,000); postings measured: `NPLUSX_BENCH_POSTS`
//! (default 8,000, a multiple of 8). Postings are made durable by the store's journal; each
//! timed run ends with a checkpoint, so the page writes it deferred are in the figure.

use std::time::{Duration, Instant};

#[path = "../../tests/common/mod.rs"]
mod common;

use nplusx::modules::inventory::model::{Category, Location, Material, MoveKind, Warehouse};
use nplusx::modules::inventory::service::{self as svc, MoveInput, Posting};
use nplusx::store::{Actor, Store};

const MATERIALS: u64 = 5_000;
const LOCATIONS: u64 = 200;
const DAY_MS: i64 = 86_400_000;
/// Concurrent clients of the second posting measure.
const CLIENTS: u64 = 8;
/// 2026-01-01 00:00 UTC.
const YEAR_START: i64 = 1_767_225_600_000;

/// A small deterministic generator (xorshift), so both stores get the same movements.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One movement of the load: a receipt of a new lot, or an issue from an earlier one.
#[derive(Clone, Copy)]
struct Mv {
    ts_ms: i64,
    material: u64,
    location: u64,
    /// Index of the receipt that made the lot.
    lot: u64,
    qty: f64,
    receipt: bool,
}

/// Receipts and issues over a year: each material has lots at a few locations; issues take
/// a quarter of a lot at a time.
fn load(n: u64) -> Vec<Mv> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(n as usize);
    let mut open: Vec<(u64, u64, u64, f64)> = Vec::new(); // (material, location, lot, left)
    for i in 0..n {
        let ts_ms = YEAR_START + (i as i64 * 365 * DAY_MS) / n as i64;
        if open.len() < 1000 || rng.below(3) == 0 {
            let m = rng.below(MATERIALS) + 1;
            let l = rng.below(LOCATIONS) + 1;
            out.push(Mv {
                ts_ms,
                material: m,
                location: l,
                lot: i,
                qty: 1000.0,
                receipt: true,
            });
            open.push((m, l, i, 1000.0));
        } else {
            let k = rng.below(open.len() as u64) as usize;
            let (m, l, lot, left) = open[k];
            out.push(Mv {
                ts_ms,
                material: m,
                location: l,
                lot,
                qty: 250.0,
                receipt: false,
            });
            if left - 250.0 <= 0.0 {
                open.swap_remove(k);
            } else {
                open[k].3 = left - 250.0;
            }
        }
    }
    out
}

fn posting(ts_ms: i64) -> Posting {
    Posting {
        now_ms: ts_ms,
        today: time::OffsetDateTime::from_unix_timestamp(ts_ms / 1000)
            .unwrap()
            .date(),
        quality_on: false,
    }
}

fn input(mv: &Mv, lots: &[u64]) -> MoveInput {
    if mv.receipt {
        MoveInput {
            kind: Some(MoveKind::Receipt),
            material: mv.material,
            lot_number: format!("L{}", mv.lot),
            to: Some(mv.location),
            qty: mv.qty,
            ..Default::default()
        }
    } else {
        MoveInput {
            kind: Some(MoveKind::Issue),
            material: mv.material,
            lot: Some(lots[mv.lot as usize]),
            from: Some(mv.location),
            qty: mv.qty,
            ..Default::default()
        }
    }
}

fn setup(store: &Store) {
    let a = Actor::system("bench");
    let wh = svc::save_warehouse(
        store,
        &a,
        Warehouse {
            id: 0,
            code: "WH".into(),
            name: "store".into(),
            hazmat_store: false,
            major_hazard: false,
            custodians: vec![],
            address: String::new(),
            consignee: None,
        },
    )
    .unwrap();
    for i in 1..=LOCATIONS {
        svc::save_location(
            store,
            &a,
            Location {
                id: 0,
                warehouse: wh.id,
                code: format!("L{i:03}"),
                name: String::new(),
                capacity_kg: 0.0,
            },
        )
        .unwrap();
    }
    for i in 1..=MATERIALS {
        let m = Material {
            id: 0,
            code: format!("M{i:05}"),
            name: format!("物料 {i}"),
            spec: String::new(),
            // seven categories, for the pivot
            category: Category::ALL[(i % 7) as usize],
            base_unit: "kg".into(),
            units: vec![],
            cas: String::new(),
            ghs: vec![],
            hazmat: false,
            highly_toxic: false,
            precursor_class: 0,
            explosive_precursor: false,
            storage_group: String::new(),
            shelf_life_days: 0,
            safety_stock: 0.0,
            reorder_point: 0.0,
            max_stock: 0.0,
            unit_cost: 1.0,
            list_price: 0.0,
            floor_price: 0.0,
            active: true,
            inspect: false,
        };
        svc::save_material(store, &a, m).unwrap();
    }
}

fn main() {
    let n: u64 = std::env::var("NPLUSX_BENCH_MOVEMENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let moves = load(n);
    println!("inventory: {n} movements over {MATERIALS} materials and {LOCATIONS} locations");

    // ---------------------------------------------------------------- nplusx (redb)
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    setup(&store);
    let actor = Actor::system("bench");
    let t = Instant::now();
    let mut lots: Vec<u64> = vec![0; moves.len()];
    for chunk in moves.chunks(10_000) {
        let mut w = store.write(&actor).unwrap();
        for mv in chunk {
            let p = svc::post_in(&mut w, &actor, input(mv, &lots), posting(mv.ts_ms)).unwrap();
            if mv.receipt {
                lots[mv.lot as usize] = p.lot.id;
            }
        }
        w.commit().unwrap();
    }
    println!(
        "  loaded in {:.1} s ({:.0} movements/s in batches of 10,000), store {:.0} MiB",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64(),
        store.file_size() as f64 / 1048576.0
    );
    // a pivot over the whole ledger (BI): value and count by material category × plant month.
    // The baseline is the same pivot folded from the ledger's records; the box answers it (the
    // console's API and `records.pivot` of the plugin contract) from the pivot rows kept
    // beside the ledger, filled in at start for a ledger older than them
    let native_pivot_s = {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let spec = svc::analysis::movement_pivot(
            &w(&["category"]),
            &w(&["ts_ms:month"]),
            &w(&["sum:value", "count"]),
        )
        .unwrap();
        let cst = time::UtcOffset::from_hms(8, 0, 0).unwrap();
        let r = store.read().unwrap();
        let t = Instant::now();
        let from_ledger = svc::analysis::pivot_movements(&r, &spec, 0, i64::MAX, cst).unwrap();
        let ledger_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let read = std::hint::black_box(svc::ledger(&r, None, 0, i64::MAX, usize::MAX).unwrap());
        let walk = t.elapsed().as_secs_f64();
        drop(r);
        let t = Instant::now();
        let filled = svc::analysis::fill_pivot_rows(&store).unwrap();
        let fill_s = t.elapsed().as_secs_f64();
        let r = store.read().unwrap();
        let t = Instant::now();
        let table = svc::analysis::pivot_movements(&r, &spec, 0, i64::MAX, cst).unwrap();
        // what `records.pivot` hands the plugin
        let json = serde_json::to_string(&table).unwrap();
        let rows_s = t.elapsed().as_secs_f64();
        assert_eq!(table, from_ledger, "the rows give the ledger's pivot");
        println!(
            "  pivot category × month (sum of value, count) over {} movements ({} × {} cells): from the pivot rows, as the box answers the API and records.pivot (JSON {} bytes included), {:.2} s; folded from the ledger's records {:.2} s ({:.1}× slower); the ledger read alone into a list {:.2} s ({} movements); filling the rows of an older ledger {:.1} s ({filled} rows, once at start)",
            table.records,
            table.rows.len(),
            table.columns.len(),
            json.len(),
            rows_s,
            ledger_s,
            ledger_s / rows_s,
            walk,
            read.len(),
            fill_s,
        );
        rows_s
    };
    // durable posting from one client, one commit per movement
    let posts: u64 = std::env::var("NPLUSX_BENCH_POSTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8_000);
    let mut rng = Rng(42);
    let (j0, k0, _) = store.journal_stats();
    let t = Instant::now();
    for i in 0..posts {
        let m = rng.below(MATERIALS) + 1;
        let l = rng.below(LOCATIONS) + 1;
        let p = posting(YEAR_START + 366 * DAY_MS + i as i64);
        svc::post(
            &store,
            &actor,
            MoveInput {
                kind: Some(MoveKind::Receipt),
                material: m,
                lot_number: format!("B{i}"),
                to: Some(l),
                qty: 10.0,
                ..Default::default()
            },
            p,
        )
        .unwrap();
    }
    store.checkpoint().unwrap();
    let redb_post = posts as f64 / t.elapsed().as_secs_f64();
    // the same from CLIENTS clients at once (phones at a goods-in door): group commit
    let (w0, c0) = store.group_stats();
    let t = Instant::now();
    std::thread::scope(|s| {
        for c in 0..CLIENTS {
            let (store, actor) = (&store, &actor);
            s.spawn(move || {
                let mut rng = Rng(1000 + c);
                for i in 0..posts / CLIENTS {
                    let p = posting(YEAR_START + 367 * DAY_MS + i as i64);
                    svc::post(
                        store,
                        actor,
                        MoveInput {
                            kind: Some(MoveKind::Receipt),
                            material: rng.below(MATERIALS) + 1,
                            lot_number: format!("C{c}-{i}"),
                            to: Some(rng.below(LOCATIONS) + 1),
                            qty: 10.0,
                            ..Default::default()
                        },
                        p,
                    )
                    .unwrap();
                }
            });
        }
    });
    store.checkpoint().unwrap();
    let redb_post_many = posts as f64 / t.elapsed().as_secs_f64();
    let (w1, c1) = store.group_stats();
    let (writes, commits) = (w1 - w0, c1 - c0);
    let (j1, k1, _) = store.journal_stats();
    // balance of a material at a location
    let q = 20_000;
    let r = store.read().unwrap();
    let t = Instant::now();
    let mut sum = 0.0;
    for _ in 0..q {
        sum += svc::balance(&r, rng.below(MATERIALS) + 1, rng.below(LOCATIONS) + 1).unwrap();
    }
    let redb_balance = t.elapsed() / q;
    // a page of the ledger: one material, one month, newest first, 100 lines
    let pages = 500;
    let t = Instant::now();
    let mut lines = 0;
    for _ in 0..pages {
        let month = rng.below(12) as i64;
        let from = YEAR_START + month * 30 * DAY_MS;
        lines += svc::ledger(
            &r,
            Some(rng.below(MATERIALS) + 1),
            from,
            from + 31 * DAY_MS,
            100,
        )
        .unwrap()
        .len();
    }
    let redb_page = t.elapsed() / pages;
    drop(r);
    std::hint::black_box(sum);

    // ---------------------------------------------------------------- SQLite
    let sdir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(sdir.path().join("inv.db")).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE movements(id INTEGER PRIMARY KEY, ts INTEGER, kind TEXT, material INTEGER,
           lot INTEGER, from_loc INTEGER, to_loc INTEGER, qty REAL, reference TEXT, by TEXT);
         CREATE INDEX movements_material_ts ON movements(material, ts);
         CREATE TABLE balances(material INTEGER, location INTEGER, lot INTEGER, qty REAL,
           PRIMARY KEY(material, location, lot)) WITHOUT ROWID;
         CREATE TABLE lots(id INTEGER PRIMARY KEY, material INTEGER, number TEXT, UNIQUE(material, number));
         CREATE TABLE audit(id INTEGER PRIMARY KEY, ts INTEGER, action TEXT, target TEXT, detail TEXT);",
    )
    .unwrap();
    let post_sql = |db: &rusqlite::Connection, mv: &Mv| {
        let (from, to, d) = if mv.receipt {
            (None, Some(mv.location), mv.qty)
        } else {
            (Some(mv.location), None, -mv.qty)
        };
        if mv.receipt {
            db.execute(
                "INSERT INTO lots(id, material, number) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    mv.lot as i64 + 1,
                    mv.material as i64,
                    format!("L{}", mv.lot)
                ],
            )
            .unwrap();
        } else {
            // the check the service makes: enough at the location
            let have: f64 = db
                .query_row(
                    "SELECT COALESCE(SUM(qty), 0) FROM balances WHERE material=?1 AND location=?2 AND lot=?3",
                    rusqlite::params![mv.material as i64, mv.location as i64, mv.lot as i64 + 1],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(have + 1e-9 >= mv.qty);
        }
        db.execute(
            "INSERT INTO movements(ts, kind, material, lot, from_loc, to_loc, qty, reference, by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '', 'bench')",
            rusqlite::params![
                mv.ts_ms,
                if mv.receipt { "receipt" } else { "issue" },
                mv.material as i64,
                mv.lot as i64 + 1,
                from.map(|x| x as i64),
                to.map(|x| x as i64),
                mv.qty
            ],
        )
        .unwrap();
        db.execute(
            "INSERT INTO balances(material, location, lot, qty) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(material, location, lot) DO UPDATE SET qty = qty + excluded.qty",
            rusqlite::params![mv.material as i64, mv.location as i64, mv.lot as i64 + 1, d],
        )
        .unwrap();
        db.execute(
            "INSERT INTO audit(ts, action, target, detail) VALUES (?1, 'movement.post', ?2, ?3)",
            rusqlite::params![
                mv.ts_ms,
                format!("movement {}", mv.material),
                format!("{}", mv.qty)
            ],
        )
        .unwrap();
    };
    let t = Instant::now();
    for chunk in moves.chunks(10_000) {
        db.execute_batch("BEGIN").unwrap();
        for mv in chunk {
            post_sql(&db, mv);
        }
        db.execute_batch("COMMIT").unwrap();
    }
    println!("  SQLite loaded in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    for i in 0..posts {
        let mv = Mv {
            ts_ms: YEAR_START + 366 * DAY_MS + i as i64,
            material: rng.below(MATERIALS) + 1,
            location: rng.below(LOCATIONS) + 1,
            lot: n + i,
            qty: 10.0,
            receipt: true,
        };
        db.execute_batch("BEGIN").unwrap();
        post_sql(&db, &mv);
        db.execute_batch("COMMIT").unwrap();
    }
    let sql_post = posts as f64 / t.elapsed().as_secs_f64();
    // CLIENTS connections at once, each movement its own transaction (SQLite has no group
    // commit: writers take turns on the database lock)
    let path = sdir.path().join("inv.db");
    let t = Instant::now();
    std::thread::scope(|s| {
        for c in 0..CLIENTS {
            let path = &path;
            s.spawn(move || {
                let db = rusqlite::Connection::open(path).unwrap();
                db.execute_batch("PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;")
                    .unwrap();
                let mut rng = Rng(1000 + c);
                for i in 0..posts / CLIENTS {
                    let mv = Mv {
                        ts_ms: YEAR_START + 367 * DAY_MS + i as i64,
                        material: rng.below(MATERIALS) + 1,
                        location: rng.below(LOCATIONS) + 1,
                        lot: n + posts + c * posts + i,
                        qty: 10.0,
                        receipt: true,
                    };
                    db.execute_batch("BEGIN IMMEDIATE").unwrap();
                    post_sql(&db, &mv);
                    db.execute_batch("COMMIT").unwrap();
                }
            });
        }
    });
    let sql_post_many = posts as f64 / t.elapsed().as_secs_f64();
    let mut stmt = db
        .prepare("SELECT COALESCE(SUM(qty), 0) FROM balances WHERE material=?1 AND location=?2")
        .unwrap();
    let t = Instant::now();
    for _ in 0..q {
        let v: f64 = stmt
            .query_row(
                rusqlite::params![
                    (rng.below(MATERIALS) + 1) as i64,
                    (rng.below(LOCATIONS) + 1) as i64
                ],
                |r| r.get(0),
            )
            .unwrap();
        sum += v;
    }
    let sql_balance = t.elapsed() / q;
    let mut page = db
        .prepare(
            "SELECT id, ts, kind, material, lot, from_loc, to_loc, qty, reference, by FROM movements
             WHERE material=?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts DESC LIMIT 100",
        )
        .unwrap();
    let t = Instant::now();
    let mut sql_lines = 0;
    for _ in 0..pages {
        let month = rng.below(12) as i64;
        let from = YEAR_START + month * 30 * DAY_MS;
        let rows = page
            .query_map(
                rusqlite::params![(rng.below(MATERIALS) + 1) as i64, from, from + 31 * DAY_MS],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
        sql_lines += rows.count();
    }
    let sql_page = t.elapsed() / pages;
    std::hint::black_box(sum);

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "  post a movement, durable:   {:>8.0} /s   SQLite {:>8.0} /s   ratio {:.2}",
        redb_post,
        sql_post,
        redb_post / sql_post
    );
    println!(
        "  the same, {CLIENTS} clients at once: {:>8.0} /s   SQLite {:>8.0} /s   ratio {:.2}   ({:.1} postings per commit)",
        redb_post_many,
        sql_post_many,
        redb_post_many / sql_post_many,
        writes as f64 / commits.max(1) as f64
    );
    println!(
        "  (both: {} batches made durable by the journal, {} checkpoints)",
        j1 - j0,
        k1 - k0
    );
    println!(
        "  balance material×location: {:>8.1} µs   SQLite {:>8.1} µs   ratio {:.2}",
        us(redb_balance),
        us(sql_balance),
        us(sql_balance) / us(redb_balance)
    );
    println!(
        "  ledger page (material, month): {:>5.2} ms ({} lines avg)   SQLite {:.2} ms ({} avg)   ratio {:.2}",
        us(redb_page) / 1000.0,
        lines / pages as usize,
        us(sql_page) / 1000.0,
        sql_lines / pages as usize,
        us(sql_page) / us(redb_page)
    );
    through_the_contract(store, dir.path(), n, native_pivot_s);
}

/// The pivot of (4) through the plugin contract: the store closed, the box started on it
/// (`serve`, the binary this bench was built with), the BI plugin switched on with
/// `records.inventory`, and the BI pivot page asked for value and count by category × month
/// over the whole year — the plugin calls `records.pivot`, the box folds the ledger's pivot
/// rows, the plugin lays the answer out. Timed as the reader waits: computing it on
/// "Compute" (the plugin checks the view, then saves it) and opening the page.
fn through_the_contract(store: Store, data: &std::path::Path, n: u64, native_s: f64) {
    use serde_json::json;
    drop(store);
    let s = common::Server::start(
        &["serve", "--bootstrap-token", common::BOOTSTRAP],
        data,
        None,
    );
    let mut api = s.admin_api();
    api.lang = Some("en");
    // the bundled plugins are registered (switched off) as the box boots
    common::eventually(120, || {
        api.get("/api/v1/plugins")
            .json()
            .as_array()
            .is_some_and(|l| l.iter().any(|p| p["id"] == "bi"))
    });
    let grants = ["clock", "storage", "files", "records.inventory"];
    let r = api.put_json(
        "/api/v1/plugins/bi/settings",
        &json!({"settings": {}, "grants": grants}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.post_json("/api/v1/plugins/bi/enable", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    common::eventually(300, || api.plugin_running("bi"));
    let form = [
        ("collection", "inventory.movements"),
        ("rows", "category"),
        ("columns", "ts_ms:month"),
        ("measures", "sum:value, count"),
        ("from", "2025-12-31"),
        ("to", "2027-01-01"),
    ];
    // the first call after the box started, then again
    let mut runs = Vec::new();
    for _ in 0..2 {
        let t = Instant::now();
        let r = api.post_form("/x/bi/pivot/run", &form);
        runs.push(t.elapsed().as_secs_f64());
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let t = Instant::now();
    let page = api.get("/x/bi/pivot");
    let page_s = t.elapsed().as_secs_f64();
    assert_eq!(page.status, 200);
    let records = page
        .body
        .split("<span class=\"kpi-label\">Records read</span><span class=\"kpi-value\">")
        .nth(1)
        .and_then(|x| x.split('<').next())
        .unwrap_or_default()
        .trim()
        .to_string();
    assert_eq!(records, n.to_string(), "the page folds every movement");
    println!(
        "  the same pivot through the plugin contract (the BI plugin's page, HTTP on loopback): computed on Compute {:.2} s the first time after the box started, {:.2} s the second; the page opened then {:.2} s; natively in the host {:.2} s (page {:.1}× the native call)",
        runs[0],
        runs[1],
        page_s,
        native_s,
        page_s / native_s
    );
}
