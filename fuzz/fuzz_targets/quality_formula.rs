//! Quality formulas as a lab manager types them: parsing never panics or runs away; a
//! formula that parses evaluates on any inputs to a number or a clear error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nplusx::modules::quality::formula::Formula;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    // any keyword of up to eight characters names a test item
    let known = |k: &str| k.chars().count() <= 8;
    if let Ok(f) = Formula::parse(src, &known) {
        for v in [0.0, 1.0, -1.5, 1e308, f64::MIN_POSITIVE] {
            let values = vec![v; f.inputs().len()];
            if let Ok(x) = f.eval(&values) {
                assert!(x.is_finite(), "{src:?} on {v} gave {x}");
            }
        }
    }
});
