//! Stored history chunks and stage segments (a damaged disk, a restored backup): decoding
//! never panics and never claims more samples than the header says.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nplusx::historian::codec;

fuzz_target!(|data: &[u8]| {
    if let Some(points) = codec::decode(data) {
        let h = codec::header(data).expect("a decoded chunk has a header");
        assert_eq!(points.len(), h.count as usize);
    }
    let _ = codec::decode_compact(data, 1_767_225_600_000);
});
