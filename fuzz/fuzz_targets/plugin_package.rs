//! Plugin packages as a contractor uploads them: parsing never panics; a package that
//! parses has a manifest that parses on its own.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nplusx::plugins::package::parse(data);
});
