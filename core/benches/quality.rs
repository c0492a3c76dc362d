//! Quality benchmark: (1) evaluating a compiled 10-term formula, beside the same formula
//! written in Rust; (2) SPC over 10,000 readings — I-MR limits, Cp/Cpk and all four Western
//! Electric rules — beside a plain mean over the same readings. Ratios printed, measured in
//! the same run.
//!
//! Run: `cargo bench --bench quality` (release build).

use std::hint::black_box;
use std::time::Instant;

use nplusx::modules::quality::formula::Formula;
use nplusx::modules::quality::rules;

/// Ten terms over six inputs: a hydroxyl value with a blank correction, a moisture
/// correction and a guard against a zero sample mass.
const SRC: &str = "if(W > 0, (Vb - V) * c * 56.1 / W + AV - abs(H2O) * 0.5 + min(a, b) / 10, 0)";
const INPUTS: [&str; 8] = ["W", "Vb", "V", "c", "AV", "H2O", "a", "b"];

fn native(x: &[f64; 8]) -> f64 {
    let [w, vb, v, c, av, h2o, a, b] = *x;
    if w > 0.0 {
        (vb - v) * c * 56.1 / w + av - h2o.abs() * 0.5 + a.min(b) / 10.0
    } else {
        0.0
    }
}

fn main() {
    let known = |k: &str| INPUTS.contains(&k);
    let f = Formula::parse(SRC, &known).expect("the benchmark formula parses");
    // values in the formula's slot order
    let order: Vec<usize> = f
        .inputs()
        .iter()
        .map(|k| INPUTS.iter().position(|x| x == k).unwrap())
        .collect();
    let n = 5_000_000u64;
    let mut inputs = [2.0, 25.0, 12.5, 0.1, 3.2, 0.04, 1.0, 2.0];
    let mut slots = vec![0.0; order.len()];
    let mut stack = Vec::with_capacity(16);
    let t = Instant::now();
    let mut sum = 0.0;
    for i in 0..n {
        inputs[2] = 12.0 + (i % 100) as f64 * 0.01;
        for (s, &j) in slots.iter_mut().zip(&order) {
            *s = inputs[j];
        }
        sum += f.eval_with(black_box(&slots), &mut stack).unwrap();
    }
    let ours = n as f64 / t.elapsed().as_secs_f64();
    black_box(sum);
    let t = Instant::now();
    let mut sum2 = 0.0;
    for i in 0..n {
        inputs[2] = 12.0 + (i % 100) as f64 * 0.01;
        sum2 += native(black_box(&inputs));
    }
    let rust = n as f64 / t.elapsed().as_secs_f64();
    black_box(sum2);
    assert!((sum - sum2).abs() < 1e-6 * sum.abs(), "{sum} vs {sum2}");
    println!("quality: formula `{SRC}`");
    println!(
        "  evaluations:      {:>12.0} /s   native Rust {:>12.0} /s   ratio {:.3}",
        ours,
        rust,
        ours / rust
    );

    // SPC over 10,000 readings
    let mut x = Vec::with_capacity(10_000);
    let mut s = 42u64;
    for i in 0..10_000 {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = ((s >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 2.0;
        // a drift in the last thousand readings, so the rules have something to find
        x.push(50.0 + noise + if i > 9_000 { 1.5 } else { 0.0 });
    }
    let runs = 200;
    let t = Instant::now();
    let mut violations = 0;
    for _ in 0..runs {
        let c = rules::imr(black_box(&x)).unwrap();
        let (cp, cpk) = rules::capability(c.center, c.sigma, Some(45.0), Some(55.0));
        black_box((cp, cpk));
        violations = rules::western_electric(&x, c.center, c.sigma).len();
    }
    let spc = t.elapsed() / runs;
    let t = Instant::now();
    for _ in 0..runs {
        black_box(black_box(&x).iter().sum::<f64>() / x.len() as f64);
    }
    let mean = t.elapsed() / runs;
    println!(
        "  SPC (I-MR, Cp/Cpk, 4 rules) over 10,000 points: {:.3} ms ({violations} violations)   a plain mean {:.3} ms   ratio {:.1}",
        spc.as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        spc.as_secs_f64() / mean.as_secs_f64()
    );
}
