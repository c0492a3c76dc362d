//! Totals benchmark: daily consumption of 500 energy meters over one year, as the energy
//! plugin asks for it (`tags.totals`, step day), answered from the historian's hourly
//! rolls, printed beside the same figures computed from the raw samples (what a plugin
//! pulling raw history would have to decode, before paying to carry it across).
//!
//! Run: `cargo bench --bench totals` (release build). Meters, days and the seconds between
//! a meter's samples: `NPLUSX_BENCH_METERS` (500), `NPLUSX_BENCH_DAYS` (365),
//! `NPLUSX_BENCH_METER_SECS` (60). The defaults write 263 M samples (about 0.6 GB in a
//! temporary directory) and take a few minutes.

use std::sync::Arc;
use std::time::Instant;

use nplusx::historian::Historian;
use nplusx::historian::totals::{self, Step};
use nplusx::store::Store;
use nplusx::tags::engine::Engine;
use nplusx::tags::model::{DataType, Quality, Sample, Source, Value};

const DAY_MS: i64 = 86_400_000;
/// 2026-01-01 00:00 plant time (+08:00).
const START: i64 = 1_767_196_800_000;

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let meters = env("NPLUSX_BENCH_METERS", 500) as u32;
    let days = env("NPLUSX_BENCH_DAYS", 365);
    let every_ms = env("NPLUSX_BENCH_METER_SECS", 60) * 1000;
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let tags = (1..=meters)
        .map(|i| {
            let mut t = nplusx::tags::service::blank_tag(
                &format!("EM{i:03}.kWh"),
                DataType::Float,
                Source::Manual,
            );
            t.id = i;
            t.resolution = 0.01;
            t.retention_days = 400;
            t
        })
        .collect();
    let h = Historian::open(store, Arc::new(Engine::new(tags))).unwrap();

    // a year of totalisers, a day at a time
    let t = Instant::now();
    let mut reading: Vec<f64> = (0..meters).map(|i| 10_000.0 * i as f64).collect();
    let mut k = 1u64;
    let per_day = DAY_MS / every_ms;
    let mut values = 0u64;
    for d in 0..days {
        let mut batch = Vec::with_capacity((per_day * meters as i64) as usize);
        for s in 0..per_day {
            let ts = START + d * DAY_MS + s * every_ms;
            for m in 0..meters {
                k = k
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                reading[m as usize] += (k >> 54) as f64 * 0.01;
                batch.push(Sample {
                    tag: m + 1,
                    ts_ms: ts,
                    value: Some(Value::Float(reading[m as usize])),
                    quality: Quality::Good,
                });
            }
        }
        values += batch.len() as u64;
        nplusx::tags::engine::Sink::accept(&h, &batch);
        h.flush().unwrap();
    }
    let ingest_s = t.elapsed().as_secs_f64();
    let now = START + days * DAY_MS + 3_600_000;

    // the rolls: what the box does in the background, a day a call
    let t = Instant::now();
    let mut hours = 0;
    loop {
        let n = h.roll_hours(now).unwrap();
        if n == 0 {
            break;
        }
        hours += n;
    }
    let roll_s = t.elapsed().as_secs_f64();

    let bounds = totals::boundaries(START, START + days * DAY_MS, &Step::Day, offset).unwrap();
    let t = Instant::now();
    let mut rolled = 0.0;
    for m in 1..=meters {
        rolled += h
            .totals(m, &bounds, now)
            .unwrap()
            .iter()
            .map(|x| x.delta)
            .sum::<f64>();
    }
    let rolled_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut raw = 0.0;
    let mut decoded = 0usize;
    for m in 1..=meters {
        let points: Vec<(i64, f64)> = h
            .raw(m, bounds[0] - DAY_MS, bounds[bounds.len() - 1] - 1)
            .unwrap()
            .iter()
            .filter(|p| p.quality.is_good())
            .filter_map(|p| Some((p.ts_ms, p.value.as_ref()?.as_f64()?)))
            .collect();
        decoded += points.len();
        let split = points.partition_point(|p| p.0 < bounds[0]);
        let before = points[..split].last().copied();
        raw += totals::totals(before, &points[split..], &bounds, now)
            .iter()
            .map(|x| x.delta)
            .sum::<f64>();
    }
    let raw_s = t.elapsed().as_secs_f64();
    assert!(
        (rolled - raw).abs() <= 1e-6 * raw.abs().max(1.0),
        "the rolls and the samples disagree: {rolled} vs {raw}"
    );

    println!(
        "totals benchmark: {meters} meters × {days} days, a sample every {} s ({:.1} M samples)",
        every_ms / 1000,
        values as f64 / 1e6
    );
    println!(
        "  ingest:                 {ingest_s:.1} s ({:.2} M values/s, a commit a day of data)",
        values as f64 / ingest_s / 1e6
    );
    println!(
        "  rolling the year:       {roll_s:.1} s for {hours} hours of {meters} meters (once, in the background)"
    );
    println!(
        "  daily totals, a year:   from the rolls {:.3} s, from raw samples {:.2} s ({:.1} M decoded), ratio {:.1}×",
        rolled_s,
        raw_s,
        decoded as f64 / 1e6,
        raw_s / rolled_s
    );
    println!("  check: {rolled:.1} kWh counted both ways");
}
