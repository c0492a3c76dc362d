//! Historian benchmark: ingest rate with a durable commit every second, bytes per value on
//! disk, and query times, each printed beside a baseline measured in the same run (SQLite,
//! one row per sample, WAL, one transaction per second).
//!
//! Run: `cargo bench --bench historian` (release build). Seconds of ingest per store:
//! `NPLUSX_BENCH_SECS` (default 10); `NPLUSX_BENCH_ONLY=month` runs only the simulated month.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nplusx::drivers::simulator::{Plant, SIGNALS};
use nplusx::historian::Historian;
use nplusx::store::Store;
use nplusx::tags::engine::{Engine, Sink};
use nplusx::tags::model::{Quality, Sample, Source, Tag};

/// 357 simulated plants × 28 signals ≈ 10,000 tags.
const PLANTS: usize = 357;
/// Seconds of plant time pre-generated; replayed with shifted timestamps.
const STEPS: usize = 100;
const DAY_MS: i64 = 86_400_000;

fn tags() -> Vec<Tag> {
    let mut out = Vec::new();
    for p in 0..PLANTS {
        for (i, s) in SIGNALS.iter().enumerate() {
            let mut t = nplusx::tags::service::blank_tag(
                &format!("P{p}.{}", s.tag),
                s.data_type,
                Source::Manual,
            );
            t.id = (p * SIGNALS.len() + i + 1) as u32;
            t.resolution = s.resolution;
            out.push(t);
        }
    }
    out
}

/// The simulator's signals, `STEPS` seconds of them, for every plant.
fn stream() -> Vec<Vec<Sample>> {
    let mut plants: Vec<Plant> = (0..PLANTS).map(|p| Plant::new(p as u64 + 1, 1.0)).collect();
    (0..STEPS)
        .map(|step| {
            let mut batch = Vec::with_capacity(PLANTS * SIGNALS.len());
            for (p, plant) in plants.iter_mut().enumerate() {
                for (i, v) in plant.step(1.0).into_iter().enumerate() {
                    batch.push(Sample {
                        tag: (p * SIGNALS.len() + i + 1) as u32,
                        ts_ms: step as i64 * 1000,
                        value: Some(v),
                        quality: Quality::Good,
                    });
                }
            }
            batch
        })
        .collect()
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

struct Ingest {
    values: u64,
    secs: f64,
    commits: u64,
    max_commit_gap: Duration,
    mean_flush_ms: f64,
    max_flush_ms: f64,
    bytes: u64,
}

/// Feeds the historian at `rate` values/s (in 10 ms steps) for `secs`, flushing once a
/// second like the appliance, and reports what was committed.
fn ingest_historian(data: &[Sample], secs: f64, rate: f64) -> Ingest {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let engine = Arc::new(Engine::new(tags()));
    let h = Arc::new(Historian::open(store.clone(), engine).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (h, stop) = (h.clone(), stop.clone());
        let data = data.to_vec();
        std::thread::spawn(move || {
            let per_tick = (rate / 100.0) as usize;
            let base = 1_767_225_600_000i64; // 2026-01-01
            let span = STEPS as i64 * 1000;
            let (mut pos, mut round) = (0usize, 0i64);
            let start = Instant::now();
            let mut tick = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut batch = Vec::with_capacity(per_tick);
                for _ in 0..per_tick {
                    let s = &data[pos];
                    batch.push(Sample {
                        ts_ms: base + round * span + s.ts_ms,
                        ..s.clone()
                    });
                    pos += 1;
                    if pos == data.len() {
                        pos = 0;
                        round += 1;
                    }
                }
                h.accept(&batch);
                tick += 1;
                let due = start + Duration::from_millis(tick * 10);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        })
    };
    // commits on a fixed one-second cadence, like the appliance's interval timer
    let started = Instant::now();
    let (mut committed, mut commits) = (0u64, 0u64);
    let mut last = Instant::now();
    let mut max_gap = Duration::ZERO;
    let mut flush_total = Duration::ZERO;
    let mut flush_max = Duration::ZERO;
    let mut k = 1u32;
    while started.elapsed().as_secs_f64() < secs {
        std::thread::sleep(
            (started + Duration::from_secs(k as u64)).saturating_duration_since(Instant::now()),
        );
        k += 1;
        let f = Instant::now();
        committed += h.flush().unwrap() as u64;
        flush_total += f.elapsed();
        flush_max = flush_max.max(f.elapsed());
        commits += 1;
        max_gap = max_gap.max(last.elapsed());
        last = Instant::now();
    }
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    committed += h.flush().unwrap() as u64;
    drop(h);
    drop(store);
    Ingest {
        values: committed,
        secs: elapsed,
        commits,
        max_commit_gap: max_gap,
        mean_flush_ms: flush_total.as_secs_f64() * 1000.0 / commits.max(1) as f64,
        max_flush_ms: flush_max.as_secs_f64() * 1000.0,
        bytes: file_size(dir.path()),
    }
}

fn sqlite_open(path: &std::path::Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.execute_batch(
        "CREATE TABLE samples (tag INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL,
         PRIMARY KEY (tag, ts)) WITHOUT ROWID;",
    )
    .unwrap();
    c
}

fn ingest_sqlite(data: &[Sample], secs: f64) -> Ingest {
    let dir = tempfile::tempdir().unwrap();
    let c = sqlite_open(&dir.path().join("baseline.sqlite"));
    let started = Instant::now();
    let mut values = 0u64;
    let mut commits = 0u64;
    let mut round = 0i64;
    let mut max_gap = Duration::ZERO;
    'outer: loop {
        let tx_start = Instant::now();
        c.execute_batch("BEGIN").unwrap();
        {
            let mut st = c
                .prepare_cached(
                    "INSERT INTO samples (tag, ts, value, quality) VALUES (?1, ?2, ?3, 0)",
                )
                .unwrap();
            // one transaction per second of wall time, as many rows as fit
            while tx_start.elapsed() < Duration::from_secs(1) {
                for batch in data.chunks(10_000) {
                    for s in batch {
                        let ts = round * STEPS as i64 * 1000 + s.ts_ms;
                        st.execute(rusqlite::params![
                            s.tag,
                            ts,
                            s.value.as_ref().and_then(|v| v.as_f64())
                        ])
                        .unwrap();
                    }
                    values += batch.len() as u64;
                    if tx_start.elapsed() >= Duration::from_secs(1) {
                        break;
                    }
                }
                round += 1;
            }
        }
        c.execute_batch("COMMIT").unwrap();
        commits += 1;
        max_gap = max_gap.max(tx_start.elapsed());
        if started.elapsed().as_secs_f64() >= secs {
            break 'outer;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    c.pragma_update(None, "wal_checkpoint", "TRUNCATE").ok();
    drop(c);
    Ingest {
        values,
        secs: elapsed,
        commits,
        max_commit_gap: max_gap,
        mean_flush_ms: 0.0,
        max_flush_ms: 0.0,
        bytes: file_size(dir.path()),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Plants in the storage and query data set: a day of their signals at 1 Hz.
const DAY_PLANTS: usize = 10;

fn storage_and_queries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let defs: Vec<Tag> = tags()
        .into_iter()
        .take(SIGNALS.len() * DAY_PLANTS)
        .collect();
    let engine = Arc::new(Engine::new(defs));
    let h = Historian::open(store.clone(), engine).unwrap();
    let sq = tempfile::tempdir().unwrap();
    let c = sqlite_open(&sq.path().join("q.sqlite"));
    let mut plants: Vec<Plant> = (0..DAY_PLANTS)
        .map(|p| Plant::new(42 + p as u64, 1.0))
        .collect();
    let t0 = 1_767_225_600_000i64;
    {
        let mut st = c
            .prepare("INSERT INTO samples (tag, ts, value, quality) VALUES (?1, ?2, ?3, 0)")
            .unwrap();
        c.execute_batch("BEGIN").unwrap();
        for sec in 0..86_400i64 {
            let ts = t0 + sec * 1000;
            let mut batch = Vec::with_capacity(DAY_PLANTS * SIGNALS.len());
            for (p, plant) in plants.iter_mut().enumerate() {
                for (i, v) in plant.step(1.0).into_iter().enumerate() {
                    batch.push(Sample {
                        tag: (p * SIGNALS.len() + i + 1) as u32,
                        ts_ms: ts,
                        value: Some(v),
                        quality: Quality::Good,
                    });
                }
            }
            for s in &batch {
                st.execute(rusqlite::params![
                    s.tag,
                    s.ts_ms,
                    s.value.as_ref().and_then(|v| v.as_f64())
                ])
                .unwrap();
            }
            h.accept(&batch);
            // both stores commit once per 10 s of samples; the historian packs closed
            // chunks behind its flushes as the box does
            if sec % 10 == 9 {
                h.flush().unwrap();
                h.pack().unwrap();
                c.execute_batch("COMMIT; BEGIN").unwrap();
            }
        }
        c.execute_batch("COMMIT").unwrap();
    }
    h.flush().unwrap();
    c.pragma_update(None, "wal_checkpoint", "TRUNCATE").ok();
    let values = 86_400.0 * (DAY_PLANTS * SIGNALS.len()) as f64;
    let (chunks, chunk_bytes, stages, stage_bytes, sealed) = h.usage().unwrap();
    println!(
        "        encoded: {chunks} chunks, {:.2} bytes/sample; {stages} stage blocks, {:.1} kB",
        chunk_bytes as f64 / sealed.max(1) as f64,
        stage_bytes as f64 / 1e3
    );
    let (alloc, stored, meta, frag) = store.space().unwrap();
    println!(
        "        redb: allocated {:.1} MB, stored {:.1} MB, metadata {:.1} MB, fragmented {:.1} MB, file {:.1} MB",
        alloc as f64 / 1e6,
        stored as f64 / 1e6,
        meta as f64 / 1e6,
        frag as f64 / 1e6,
        file_size(dir.path()) as f64 / 1e6
    );
    let hb = file_size(dir.path()) as f64 / values;
    let sb = file_size(sq.path()) as f64 / values;
    println!(
        "storage: a day of {} simulator signals at 1 Hz ({values:.0} values), bytes per value on disk: historian {hb:.2} | SQLite {sb:.2} | ratio {:.1}x",
        DAY_PLANTS * SIGNALS.len(),
        sb / hb
    );

    let runs = 15;
    let raw_ms = median(
        (0..runs)
            .map(|_| {
                let s = Instant::now();
                let p = h.raw(1, t0, t0 + DAY_MS - 1).unwrap();
                assert_eq!(p.len(), 86_400);
                s.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    let agg_ms = median(
        (0..runs)
            .map(|_| {
                let s = Instant::now();
                let b = h.aggregate(1, t0, t0 + DAY_MS, 1000).unwrap();
                assert_eq!(b.len(), 1000);
                s.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    let sql_raw_ms = median(
        (0..runs)
            .map(|_| {
                let s = Instant::now();
                let mut st = c.prepare_cached("SELECT ts, value FROM samples WHERE tag = 1 AND ts >= ?1 AND ts < ?2 ORDER BY ts").unwrap();
                let n = st
                    .query_map(rusqlite::params![t0, t0 + DAY_MS], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)))
                    .unwrap()
                    .count();
                assert_eq!(n, 86_400);
                s.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    let sql_agg_ms = median(
        (0..runs)
            .map(|_| {
                let s = Instant::now();
                let mut st = c
                    .prepare_cached(
                        "SELECT (ts - ?1) * 1000 / 86400000 AS b, COUNT(*), MIN(value), MAX(value), AVG(value)
                         FROM samples WHERE tag = 1 AND ts >= ?1 AND ts < ?2 GROUP BY b",
                    )
                    .unwrap();
                let n = st.query_map(rusqlite::params![t0, t0 + DAY_MS], |_| Ok(())).unwrap().count();
                assert_eq!(n, 1000);
                s.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    println!(
        "query: 24 h of one 1 Hz tag, raw (86,400 points):  historian {raw_ms:7.2} ms | SQLite {sql_raw_ms:7.2} ms | SQLite/historian {:.1}x",
        sql_raw_ms / raw_ms
    );
    println!(
        "query: the same day in 1,000 buckets:                historian {agg_ms:7.2} ms | SQLite {sql_agg_ms:7.2} ms | SQLite/historian {:.1}x",
        sql_agg_ms / agg_ms
    );
}

/// The month: plants, days, and the days their tags keep.
const MONTH_PLANTS: usize = 2;
const MONTH_DAYS: i64 = 30;
const MONTH_RETENTION_DAYS: u32 = 7;

struct Month {
    file: u64,
    values: u64,
    chunks: u64,
    secs: f64,
}

/// A month of `MONTH_PLANTS` plants' signals at 1 Hz, as the box runs it: a flush each
/// simulated minute followed by the hourly rolls and (with `pack`) the packing, retention
/// each simulated hour. Reports the store's file and the values it holds at the end.
fn month(pack: bool) -> Month {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let defs: Vec<Tag> = tags()
        .into_iter()
        .take(SIGNALS.len() * MONTH_PLANTS)
        .map(|mut t| {
            t.retention_days = MONTH_RETENTION_DAYS;
            t
        })
        .collect();
    let h = Historian::open(store.clone(), Arc::new(Engine::new(defs))).unwrap();
    let mut plants: Vec<Plant> = (0..MONTH_PLANTS)
        .map(|p| Plant::new(7 + p as u64, 1.0))
        .collect();
    let t0 = 1_767_225_600_000i64;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(60 * MONTH_PLANTS * SIGNALS.len());
    for sec in 0..MONTH_DAYS * 86_400 {
        let ts = t0 + sec * 1000;
        for (p, plant) in plants.iter_mut().enumerate() {
            for (i, v) in plant.step(1.0).into_iter().enumerate() {
                batch.push(Sample {
                    tag: (p * SIGNALS.len() + i + 1) as u32,
                    ts_ms: ts,
                    value: Some(v),
                    quality: Quality::Good,
                });
            }
        }
        if sec % 60 == 59 {
            h.accept(&batch);
            batch.clear();
            h.flush().unwrap();
            h.roll_hours(ts).unwrap();
            if pack {
                h.pack().unwrap();
            }
            if sec % 3600 == 3599 {
                h.apply_retention(ts).unwrap();
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let (chunks, _, _, _, values) = h.usage().unwrap();
    drop(h);
    drop(store);
    Month {
        file: file_size(dir.path()),
        values,
        chunks,
        secs,
    }
}

fn months() {
    let with = month(true);
    let without = month(false);
    let per = |m: &Month| m.file as f64 / m.values.max(1) as f64;
    println!(
        "storage after a simulated month ({} tags at 1 Hz, {MONTH_RETENTION_DAYS} days kept, flushed each minute, hourly rolls and retention as the box runs them):",
        MONTH_PLANTS * SIGNALS.len()
    );
    for (name, m) in [("packed", &with), ("not packed (baseline)", &without)] {
        println!(
            "        {name}: file {:.1} MB for {} values held in {} chunks: {:.2} bytes per value ({:.0} s)",
            m.file as f64 / 1e6,
            m.values,
            m.chunks,
            per(m),
            m.secs
        );
    }
    println!(
        "storage: a month with retention, bytes per value on disk: packed {:.2} | not packed {:.2} | ratio {:.2}x (goal: at most 1.37)",
        per(&with),
        per(&without),
        per(&without) / per(&with)
    );
}

fn main() {
    let secs: f64 = std::env::var("NPLUSX_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    println!(
        "== historian benchmark: {} tags (the simulator's 22 signals × {PLANTS} plants), {secs} s per run, a durable commit every second",
        PLANTS * SIGNALS.len()
    );
    if std::env::var("NPLUSX_BENCH_ONLY").as_deref() == Ok("month") {
        months();
        return;
    }
    let data: Vec<Sample> = stream().into_iter().flatten().collect();
    let s = ingest_sqlite(&data, secs);
    let sr = s.values as f64 / s.secs;
    println!(
        "baseline: SQLite row-per-sample (WAL, one transaction per second): {sr:>9.0} values/s, longest commit gap {:.2} s",
        s.max_commit_gap.as_secs_f64()
    );
    for rate in [1e6, 2e6, 4e6] {
        let h = ingest_historian(&data, secs, rate);
        let hr = h.values as f64 / h.secs;
        // kept up: (nearly) everything offered is committed, and a commit takes under a second
        let kept_up = hr >= 0.98 * rate && h.mean_flush_ms < 1000.0;
        println!(
            "ingest at {:.0}M values/s offered: historian committed {hr:>9.0} values/s in {} commits, commit mean {:.0} ms / max {:.0} ms, {} | ratio to SQLite {:.1}x",
            rate / 1e6,
            h.commits,
            h.mean_flush_ms,
            h.max_flush_ms,
            if kept_up { "kept up" } else { "FELL BEHIND" },
            hr / sr
        );
        let _ = (h.bytes, h.max_commit_gap);
    }
    storage_and_queries();
    months();
}
