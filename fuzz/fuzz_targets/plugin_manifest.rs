//! Plugin manifests (TOML) as packages carry them: parsing never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = nplusx::plugins::manifest::Manifest::parse(text);
    }
});
