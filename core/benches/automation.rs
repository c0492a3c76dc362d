//! Automation benchmark: the per-phase part of a batch record (min / max / mean of every key
//! tag in every phase) for a 24-hour batch with 200 key tags and 10 phases, assembled from
//! the historian by the function the record uses (`record::phase_records`), printed beside
//! the time to read the same raw samples (the floor: the record cannot be cheaper than
//! reading them).
//!
//! Second, a process screen with 500 live bindings: the server's cost of one frame a second
//! for a viewer (read the bound tags' current values and alarms, keep what changed, encode
//! the event), printed as a share of one core beside the cost of publishing the same 500
//! values into the tag engine (what the drivers pay anyway).
//!
//! Run: `cargo bench --bench automation` (release build). Tags: `NPLUSX_BENCH_TAGS` (default
//! 200); hours: `NPLUSX_BENCH_HOURS` (default 24); one sample a second per tag; bindings:
//! `NPLUSX_BENCH_BINDINGS` (default 500).

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
    screen(env("NPLUSX_BENCH_BINDINGS", 500));
}

/// One viewer of a screen with `n` bindings, every value changing every second (the worst
/// case: nothing is left out of a frame).
fn screen(n: usize) {
    use nplusx::alarms::Alarms;
    use nplusx::modules::automation::screens::live::Feed;
    let tags: Vec<Tag> = (0..n)
        .map(|i| {
            let mut t = nplusx::tags::service::blank_tag(
                &format!("R101.S{i:03}"),
                DataType::Float,
                Source::Manual,
            );
            t.id = i as u32 + 1;
            t
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let engine = Arc::new(Engine::new(tags.clone()));
    let alarms = Arc::new(Alarms::open(store, engine.clone()).unwrap());
    let mut feed = Feed::new(
        engine.clone(),
        alarms,
        tags.iter().map(|t| (t.id, t.name.clone())).collect(),
    );
    let seconds = 600;
    let (mut publish, mut frames, mut bytes) = (0f64, 0f64, 0usize);
    for s in 0..seconds {
        let batch: Vec<Sample> = tags
            .iter()
            .map(|t| Sample {
                tag: t.id,
                ts_ms: START_MS + s * 1000,
                value: Some(Value::Float(50.0 + (s as f64 + f64::from(t.id)).sin())),
                quality: Quality::Good,
            })
            .collect();
        let t = Instant::now();
        engine.publish(batch);
        publish += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let frame = feed.frame().expect("every value changed");
        let event = nplusx::web::sse::event("changes", &frame);
        frames += t.elapsed().as_secs_f64();
        bytes += event.len();
    }
    let per_frame_us = frames / seconds as f64 * 1e6;
    let per_publish_us = publish / seconds as f64 * 1e6;
    println!(
        "process screen: {n} live bindings, one frame a second, every value changing ({seconds} frames)"
    );
    println!("  publish the {n} values to the engine (baseline) {per_publish_us:>8.1} µs");
    println!(
        "  build and encode the viewer's frame          {per_frame_us:>8.1} µs  ({:.2}× the publish; {:.3} % of a core per viewer, {} bytes a frame; goal < 2 %)",
        per_frame_us / per_publish_us,
        per_frame_us / 1e6 * 100.0,
        bytes / seconds as usize
    );
}
