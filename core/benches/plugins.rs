//! Plugin host benchmark, printed beside baselines measured in the same run:
//! - a batch of 1,000 samples into the test plugin (count and sum the good numeric ones):
//!   contract 0.1's `on-tags` (a record per sample) and 0.2's `on-samples` (columns),
//!   against the same loop in native Rust;
//! - instantiating a plugin with a warm compile cache, against compiling it cold;
//! - how long after its deadline a runaway plugin (an endless loop) is stopped.
//!
//! Run: `cargo bench --bench plugins` (release build; builds the test plugin for
//! wasm32-wasip2 first). Calls per measurement: `NPLUSX_BENCH_CALLS` (default 2,000).

#[path = "../../tests/common/plugins.rs"]
mod plugin;

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use nplusx::plugins::runtime::{AlarmLimits, Batch, Guest, GuestLimits, HostState, Runtime, wit};

fn state(rt_budget: Duration) -> HostState {
    let grants: HashSet<String> = ["log", "storage"].iter().map(|s| s.to_string()).collect();
    HostState::new(
        Guest::new(
            "hostile",
            grants,
            Weak::new(),
            Arc::default(),
            Arc::default(),
            GuestLimits {
                quota: 16 << 20,
                budget: rt_budget,
                alarms: AlarmLimits {
                    ceiling: nplusx::alarms::model::Priority::High,
                    per_hour: 12,
                },
            },
        ),
        64 << 20,
    )
}

fn batch() -> Vec<wit::Sample> {
    (0..1000u32)
        .map(|i| wit::Sample {
            handle: i,
            ts_ms: 1_790_000_000_000 + i as i64,
            value: if i % 10 == 0 {
                wit::Value::Integer(i as i64)
            } else {
                wit::Value::Float(i as f64 * 0.5)
            },
            quality: if i % 50 == 0 {
                wit::Quality::Bad
            } else {
                wit::Quality::Good
            },
        })
        .collect()
}

/// The plugin's `on-tags` logic, natively.
fn summarize(samples: &[wit::Sample]) -> (u64, f64) {
    let mut n = 0;
    let mut sum = 0.0;
    for s in samples {
        if !matches!(s.quality, wit::Quality::Good) {
            continue;
        }
        let v = match s.value {
            wit::Value::Float(f) => f,
            wit::Value::Integer(i) => i as f64,
            _ => continue,
        };
        n += 1;
        sum += v;
    }
    (n, sum)
}

fn main() {
    let calls: usize = std::env::var("NPLUSX_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let component = plugin::component("hostile", "1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(&dir.path().join("cache")).unwrap();

    // compile: cold, then from the cache
    let t = Instant::now();
    let c = rt.compile(&component).unwrap();
    let cold_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut warm = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let c = rt.compile(&component).unwrap();
        let pre = rt.prepare(&c, 1).unwrap();
        let mut store = rt.store(state(Duration::from_millis(200)));
        let m = pre.instantiate(&mut store).unwrap();
        black_box(&m);
        warm.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    warm.sort_by(f64::total_cmp);
    let warm_ms = warm[warm.len() / 2];

    // 1,000 samples per call: 0.1 as records, 0.2 in columns
    let b = batch();
    let per_call = |pre: &nplusx::plugins::runtime::Pre, batch: &Batch| {
        let mut store = rt.store(state(Duration::from_secs(10)));
        let m = pre.instantiate(&mut store).unwrap();
        m.call_start(&mut store, &[("mode".into(), "ok".into())])
            .unwrap()
            .unwrap();
        for _ in 0..50 {
            m.call_samples(&mut store, batch).unwrap();
        }
        let t = Instant::now();
        for _ in 0..calls {
            store.data_mut().guest.call_started = Instant::now();
            store.data_mut().guest.host_time = Duration::ZERO;
            m.call_samples(&mut store, batch).unwrap();
        }
        t.elapsed().as_secs_f64() * 1e6 / calls as f64
    };
    let pre = rt.prepare(&c, 1).unwrap();
    let plugin_us = per_call(&pre, &Batch::Records(b.clone()));
    let c02 = rt
        .compile(&plugin::component_v02("hostile", "1.0.0"))
        .unwrap();
    let pre02 = rt.prepare(&c02, 2).unwrap();
    let mut columns = Batch::new(true);
    for s in &b {
        let v = match s.value {
            wit::Value::Float(f) => f,
            wit::Value::Integer(i) => i as f64,
            _ => f64::NAN,
        };
        if let Batch::Columns(n, _) = &mut columns {
            n.handles.push(s.handle);
            n.ts_ms.push(s.ts_ms);
            n.values.push(v);
            n.qualities.push(match s.quality {
                wit::Quality::Good => 0,
                wit::Quality::Uncertain => 1,
                wit::Quality::Bad => 2,
            });
        }
    }
    let columns_us = per_call(&pre02, &columns);
    let t = Instant::now();
    let mut acc = 0.0;
    for _ in 0..calls * 10 {
        let (n, s) = summarize(black_box(&b));
        acc += n as f64 + s;
    }
    black_box(acc);
    let native_us = t.elapsed().as_secs_f64() * 1e6 / (calls * 10) as f64;

    // a runaway: an endless loop with a 200 ms budget
    let mut overshoot = Vec::new();
    for _ in 0..5 {
        let budget = Duration::from_millis(200);
        let mut store = rt.store(state(budget));
        let m = pre.instantiate(&mut store).unwrap();
        m.call_start(&mut store, &[("mode".into(), "loop".into())])
            .unwrap()
            .unwrap();
        store.data_mut().guest.call_started = Instant::now();
        store.data_mut().guest.host_time = Duration::ZERO;
        store.set_epoch_deadline(1);
        let t = Instant::now();
        let r = m.call_render(&mut store, "main", &[], "en");
        assert!(r.is_err(), "the loop was stopped");
        overshoot.push((t.elapsed().as_secs_f64() - budget.as_secs_f64()) * 1000.0);
    }
    overshoot.sort_by(f64::total_cmp);

    println!(
        "plugin host benchmark (component {} KB)",
        component.len() / 1024
    );
    println!(
        "  on-tags, 1,000 samples:  plugin {plugin_us:.1} µs/call (0.1, records), native {native_us:.2} µs/call, ratio {:.1}×",
        plugin_us / native_us
    );
    println!(
        "  on-samples, 1,000:       plugin {columns_us:.1} µs/call (0.2, columns), native {native_us:.2} µs/call, ratio {:.1}×; {:.1}× faster than 0.1",
        columns_us / native_us,
        plugin_us / columns_us
    );
    println!(
        "  instantiate:             warm cache {warm_ms:.2} ms (compile + link + instantiate), cold compile {cold_ms:.1} ms, ratio {:.3}",
        warm_ms / cold_ms
    );
    println!(
        "  runaway loop stopped:    {:.1} ms after its 200 ms deadline (median of 5; max {:.1} ms; epoch tick {} ms)",
        overshoot[overshoot.len() / 2],
        overshoot[overshoot.len() - 1],
        nplusx::plugins::runtime::EPOCH_MS
    );
}
