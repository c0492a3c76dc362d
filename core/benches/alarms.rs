//! Alarm evaluation benchmark: limit checks per second through the alarm engine (as the tag
//! engine's sink, with deadband, delays and the state machine), printed beside a baseline
//! measured in the same run: the bare comparisons (`value > limit` over the same samples
//! and limits, no state), which bounds what any evaluator can do.
//!
//! Run: `cargo bench --bench alarms` (release build). Seconds per measurement:
//! `NPLUSX_BENCH_SECS` (default 5).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use nplusx::alarms::Alarms;
use nplusx::alarms::model::{AlarmDef, Condition, Priority};
use nplusx::drivers::simulator::{Plant, SIGNALS};
use nplusx::store::{Actor, Store};
use nplusx::tags::engine::{Engine, Sink};
use nplusx::tags::model::{DataType, Quality, Sample, Source, Tag};

/// 400 simulated plants × 25 signals = 10,000 tags.
const PLANTS: usize = 400;
const STEPS: usize = 60;

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
            out.push(t);
        }
    }
    out
}

/// HH / H / L / LL on every float signal, limits at 95 / 90 / 10 / 5 % of its range.
fn defs(tags: &[Tag]) -> Vec<AlarmDef> {
    let mut out = Vec::new();
    for t in tags {
        let s = &SIGNALS[(t.id as usize - 1) % SIGNALS.len()];
        if s.data_type != DataType::Float {
            continue;
        }
        let at = |f: f64| s.range.0 + (s.range.1 - s.range.0) * f;
        for (condition, priority) in [
            (Condition::HighHigh { limit: at(0.95) }, Priority::Urgent),
            (Condition::High { limit: at(0.90) }, Priority::High),
            (Condition::Low { limit: at(0.10) }, Priority::Medium),
            (Condition::LowLow { limit: at(0.05) }, Priority::High),
        ] {
            out.push(AlarmDef {
                id: 0,
                tag: t.id,
                condition,
                priority,
                deadband: (s.range.1 - s.range.0) * 0.01,
                on_delay_s: 2,
                off_delay_s: 0,
                message_zh: format!("{} 报警", t.name),
                message_en: String::new(),
                area: String::new(),
                latch: false,
                enabled: true,
            });
        }
    }
    out
}

fn stream() -> Vec<Vec<Sample>> {
    let mut plants: Vec<Plant> = (0..PLANTS)
        .map(|p| Plant::new(p as u64 + 1, 10.0))
        .collect();
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

fn secs() -> f64 {
    std::env::var("NPLUSX_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0)
}

fn main() {
    let tags = tags();
    let defs = defs(&tags);
    let data = stream();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let engine = Arc::new(Engine::new(tags.clone()));
    let imported =
        nplusx::alarms::service::import_defs(&store, &Actor::system("bench"), &engine.defs(), defs)
            .unwrap();
    let alarms = Alarms::open(store.clone(), engine.clone()).unwrap();
    println!(
        "alarm evaluation: {} tags, {} limit alarms (HH/H/L/LL, deadband, 2 s on-delay), {} samples per second of plant time",
        tags.len(),
        imported.len(),
        data[0].len()
    );

    // baseline: the comparisons alone over the same samples, limits found by index
    let mut limits: Vec<Vec<(u8, f64)>> = vec![Vec::new(); tags.len() + 1];
    for d in &imported {
        let (k, l) = match d.condition {
            Condition::HighHigh { limit } | Condition::High { limit } => (0, limit),
            Condition::Low { limit } | Condition::LowLow { limit } => (1, limit),
            _ => continue,
        };
        limits[d.tag as usize].push((k, l));
    }
    let dur = secs();
    let (mut checks, mut hits, mut round) = (0u64, 0u64, 0i64);
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < dur {
        for batch in &data {
            for s in batch {
                let Some(v) = s.value.as_ref().and_then(|v| v.as_f64()) else {
                    continue;
                };
                for (k, l) in &limits[s.tag as usize] {
                    checks += 1;
                    hits += u64::from(if *k == 0 { v > *l } else { v < *l });
                }
            }
        }
        round += 1;
    }
    black_box(hits);
    let base_rate = checks as f64 / t0.elapsed().as_secs_f64();

    // the engine: same samples with advancing timestamps, a tick each plant second
    let span = STEPS as i64 * 1000;
    let before = alarms.stats.checks.load(Ordering::Relaxed);
    let mut r = 0i64;
    let t1 = Instant::now();
    let mut shifted: Vec<Sample> = Vec::new();
    while t1.elapsed().as_secs_f64() < dur {
        for batch in &data {
            shifted.clear();
            shifted.extend(batch.iter().map(|s| Sample {
                ts_ms: s.ts_ms + r * span,
                ..s.clone()
            }));
            alarms.accept(&shifted);
            alarms.tick(shifted[0].ts_ms);
        }
        r += 1;
        alarms.flush().unwrap();
    }
    let elapsed = t1.elapsed().as_secs_f64();
    let engine_checks = alarms.stats.checks.load(Ordering::Relaxed) - before;
    let rate = engine_checks as f64 / elapsed;
    let events = alarms.stats.events.load(Ordering::Relaxed);
    println!(
        "  baseline (bare comparisons): {:>14.0} checks/s ({round} rounds)",
        base_rate
    );
    println!(
        "  alarm engine:                {:>14.0} checks/s ({} rounds, {} state changes journaled)",
        rate, r, events
    );
    println!("  engine / bare comparisons:   {:>14.3}", rate / base_rate);
    println!(
        "  engine / requirement (1,000,000 checks/s): {:.1}× — {}",
        rate / 1e6,
        if rate >= 1e6 {
            "meets it"
        } else {
            "BELOW the requirement"
        }
    );
}
