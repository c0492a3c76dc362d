//! Automation benchmark: the per-phase part of a batch record (min / max / mean of every key
//! tag in every phase) for a 24-hour batch with 200 key tags and 10 phases, assembled from
//! the historian by the function the record uses (`record::phase_records`), printed beside
//! the time to read the same raw samples (the floor: the record cannot be cheaper than
//! reading them).
//!
//! Run: `cargo bench --bench automation` (release build). Tags: `NPLUSX_BENCH_TAGS` (default
//! 200); hours: `NPLUSX_BENCH_HOURS` (default 24); one sample a second per tag.

use std::sync::Arc;
use std::time::Instant;

use nplusx::historian::Historian;
use nplusx::modules::automation::batches::PhaseRun;
use nplusx::modules::automation::record::phase_records;
use nplusx::store::Store;
use nplusx::tags::engine::{Engine, Sink};
use nplusx::tags::model::{DataType, Quality, Sample, Source, Tag, Value};

const START_MS: i64 = 1_796_300_000_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n_tags = env("NPLUSX_BENCH_TAGS", 200);
    let hours = env("NPLUSX_BENCH_HOURS", 24);
    let secs = hours as i64 * 3600;
    let tags: Vec<Tag> = (0..n_tags)
        .map(|i| {
            let mut t = nplusx::tags::service::blank_tag(
                &format!("R101.K{i:03}"),
                DataType::Float,
                Source::Manual,
            );
            t.id = i as u32 + 1;
            t.resolution = 0.01;
            t
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let engine = Arc::new(Engine::new(tags.clone()));
    let h = Historian::open(store, engine).unwrap();

    // a day of 1 Hz values that move every second (nothing falls to a deadband)
    let t0 = Instant::now();
    for s in 0..secs {
        let batch: Vec<Sample> = tags
            .iter()
            .map(|t| Sample {
                tag: t.id,
                ts_ms: START_MS + s * 1000,
                value: Some(Value::Float(
                    50.0 + 20.0 * ((s as f64 / 600.0) + f64::from(t.id)).sin()
                        + (s % 7) as f64 * 0.01,
                )),
                quality: Quality::Good,
            })
            .collect();
        h.accept(&batch);
        if s % 60 == 59 {
            h.flush().unwrap();
        }
    }
    h.flush().unwrap();
    let ingest = t0.elapsed();
    let end = START_MS + secs * 1000;
    // ten phases of equal length
    let step = secs * 1000 / 10;
    let phases: Vec<PhaseRun> = (0..10)
        .map(|i| PhaseRun {
            name: format!("phase{i}"),
            from_ms: START_MS + i * step,
            to_ms: Some(START_MS + (i + 1) * step),
        })
        .collect();
    let arcs: Vec<Arc<Tag>> = tags.iter().cloned().map(Arc::new).collect();

    let runs = 5;
    let mut raw_best = f64::MAX;
    let mut raw_points = 0;
    let mut rec_best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let mut n = 0;
        for tag in &tags {
            n += h.raw(tag.id, START_MS, end).unwrap().len();
        }
        raw_best = raw_best.min(t.elapsed().as_secs_f64() * 1000.0);
        raw_points = n;
        let t = Instant::now();
        let rec = phase_records(&h, &arcs, &phases, START_MS, end).unwrap();
        rec_best = rec_best.min(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(rec.len(), 10);
        assert!(
            rec.iter()
                .all(|p| p.tags.len() == n_tags && p.tags.iter().all(|s| s.count > 0))
        );
    }
    println!(
        "batch record: {n_tags} key tags × {hours} h at 1 Hz ({raw_points} samples, ingested in {:.1} s)",
        ingest.as_secs_f64()
    );
    println!("  read the raw samples (baseline)      {raw_best:>8.1} ms");
    println!(
        "  per-phase min/max/mean, 10 phases    {rec_best:>8.1} ms  ({:.2}× the raw read; goal < 200 ms)",
        rec_best / raw_best
    );
}
