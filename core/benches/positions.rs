//! Position ingest benchmark: 2,000 positioning tags walking over a 400 m × 300 m plant with
//! 100 polygon zones (rules on each: permit required, maximum occupancy, man-down, and
//! aggregation), through the same `Tracker` the appliance runs, printed beside a baseline
//! measured in the same run: the same updates through a tracker without zones (tag lookup,
//! bounds check, stillness anchor, track sampling), so the ratio is the cost of zone
//! evaluation. The 1 s `tick` (man-down, aggregation) runs as in the appliance and counts.
//!
//! Run: `cargo bench --bench positions` (release build). Seconds per measurement:
//! `NPLUSX_BENCH_SECS` (default 5).

use std::hint::black_box;
use std::time::Instant;

use nplusx::modules::safety::people::model::{Aggregation, PlantMap, Zone, ZoneRules};
use nplusx::modules::safety::people::tracking::{Tracker, Update, Wearer};

const TAGS: usize = 2_000;
const ZONES: usize = 100;

/// A small deterministic generator (xorshift), so runs compare.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 100 zones on a 10 × 10 grid of 40 m × 30 m cells, each an irregular hexagon inside its
/// cell, with every kind of rule spread over them.
fn zones(rng: &mut Rng) -> Vec<Zone> {
    (0..ZONES)
        .map(|i| {
            let (cx, cy) = ((i % 10) as f64 * 40.0 + 20.0, (i / 10) as f64 * 30.0 + 15.0);
            let polygon = (0..6)
                .map(|k| {
                    let a = k as f64 * std::f64::consts::PI / 3.0;
                    let r = 10.0 + rng.next() * 8.0;
                    [cx + r * a.cos(), cy + r * 0.75 * a.sin()]
                })
                .collect();
            Zone {
                id: i as u64 + 1,
                name: format!("Z{i}"),
                polygon,
                floor: None,
                rules: ZoneRules {
                    permit_required: i % 4 == 0,
                    max_occupancy: (i % 4 == 1).then_some(15),
                    still_seconds: (i % 4 == 2).then_some(120),
                    aggregation: (i % 4 == 3).then_some(Aggregation {
                        people: 5,
                        radius_m: 15.0,
                        seconds: 60,
                    }),
                },
            }
        })
        .collect()
}

fn wearers() -> Vec<Wearer> {
    (0..TAGS)
        .map(|i| Wearer {
            person: i as u64 + 1,
            name: format!("P{i}"),
            tag: format!("UWB-{i:05}"),
        })
        .collect()
}

/// One round of updates: every tag moves up to 1.5 m (people walk ~1.4 m/s; tags report 1 Hz).
fn rounds(rng: &mut Rng, n: usize) -> Vec<Vec<Update>> {
    let mut pos: Vec<(f64, f64)> = (0..TAGS)
        .map(|_| (rng.next() * 400.0, rng.next() * 300.0))
        .collect();
    (0..n)
        .map(|_| {
            pos.iter_mut()
                .enumerate()
                .map(|(i, p)| {
                    p.0 = (p.0 + (rng.next() - 0.5) * 3.0).clamp(0.0, 400.0);
                    p.1 = (p.1 + (rng.next() - 0.5) * 3.0).clamp(0.0, 300.0);
                    Update {
                        tag: format!("UWB-{i:05}"),
                        x: p.0,
                        y: p.1,
                        floor: 0,
                        at_ms: None,
                        sos: false,
                    }
                })
                .collect()
        })
        .collect()
}

/// Updates per second through `t` over the rounds, repeated for `secs`; ticks once per round
/// (one simulated second).
fn run(t: &mut Tracker, rounds: &[Vec<Update>], secs: f64) -> (f64, usize) {
    let start = Instant::now();
    let (mut n, mut changes, mut clock) = (0usize, 0usize, 0i64);
    while start.elapsed().as_secs_f64() < secs {
        for round in rounds {
            clock += 1000;
            for u in round {
                changes += black_box(t.ingest(u, clock)).map(|c| c.len()).unwrap_or(0);
            }
            changes += t.tick(clock).len();
            black_box(t.take_track());
            n += round.len();
        }
    }
    (n as f64 / start.elapsed().as_secs_f64(), changes)
}

fn main() {
    let secs: f64 = std::env::var("NPLUSX_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let zones = zones(&mut rng);
    let rounds = rounds(&mut rng, 60);
    let map = PlantMap::default();

    let mut bare = Tracker::new(&map, Vec::new(), wearers());
    let (base, _) = run(&mut bare, &rounds, secs);
    let mut full = Tracker::new(&map, zones, wearers());
    let (rate, changes) = run(&mut full, &rounds, secs);

    println!("position ingest, {TAGS} tags, {ZONES} polygon zones, 1 Hz reports, tick per second:");
    println!("  without zones (baseline): {:>12.0} updates/s", base);
    println!(
        "  with zone evaluation:     {:>12.0} updates/s  ({:.2}× the baseline's cost)",
        rate,
        base / rate
    );
    println!("  alarm changes produced:   {changes}");
    println!(
        "  target: ≥ 20,000 updates/s → {}",
        if rate >= 20_000.0 { "met" } else { "NOT met" }
    );
}
