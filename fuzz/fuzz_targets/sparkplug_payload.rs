//! Sparkplug B payloads and topics as a broker delivers them: decoding never panics, every
//! metric's value reads, and what was read encodes and decodes again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nplusx::sparkplug;

fuzz_target!(|data: &[u8]| {
    if let Some(p) = sparkplug::decode(data) {
        for m in &p.metrics {
            let _ = m.val();
        }
        let again = sparkplug::encode(&p);
        let q = sparkplug::decode(&again).expect("an encoded payload decodes");
        assert_eq!(q.metrics.len(), p.metrics.len());
        assert_eq!(q.seq, p.seq);
    }
    if let Ok(t) = std::str::from_utf8(data)
        && let Some(topic) = sparkplug::Topic::parse(t)
    {
        let _ = topic.identity();
    }
});
