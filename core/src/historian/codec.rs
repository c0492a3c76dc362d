//! The compressed encoding of a run of samples of one tag (a *chunk*).
//!
//! ```text
//! header (fixed, little-endian): version u8, flags u8 (bit 0 text, bit 1 late), count u32,
//!   first_ts i64, last_ts i64, resolution f64, min f64, max f64, sum f64, good u32,
//!   first f64, last f64                                           = 74 bytes
//! bitstream, per sample:
//!   timestamp: delta-of-delta, variable length      '0' | '10'+7b | '110'+12b | '1110'+20b | '1111'+64b
//!   quality:   '0' same as before | '1' + 8-bit code (bit 7 = has value, bits 0..6 quality)
//!   value:     numeric: delta of the value quantised to `resolution`, zig-zag,
//!              '0' | '10'+6b | '110'+12b | '1110'+24b | '1111'+64b
//!              text: 16-bit length + bytes
//! ```
//! A steady 1 Hz signal costs 1 bit of timestamp and a few bits of value per sample; the
//! header's min / max / sum / first / last answer aggregate queries without decoding.

use std::sync::Arc;

use crate::tags::model::{Quality, Reason, Value};

const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 74;

/// One decoded point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub ts_ms: i64,
    pub value: Option<Value>,
    pub quality: Quality,
}

fn reason_code(r: Reason) -> u8 {
    match r {
        Reason::NotYetRead => 1,
        Reason::CommFailure => 2,
        Reason::DeviceError => 3,
        Reason::BadValue => 4,
        Reason::OutOfRange => 5,
        Reason::ConfigError => 6,
        Reason::Stale => 7,
        Reason::DeviceDisabled => 8,
    }
}

fn reason_of(code: u8) -> Reason {
    match code {
        2 => Reason::CommFailure,
        3 => Reason::DeviceError,
        4 => Reason::BadValue,
        5 => Reason::OutOfRange,
        6 => Reason::ConfigError,
        7 => Reason::Stale,
        8 => Reason::DeviceDisabled,
        _ => Reason::NotYetRead,
    }
}

/// 7-bit quality: 0 good, 0x10 + reason uncertain, 0x20 + reason bad.
fn quality_code(q: Quality) -> u8 {
    match q {
        Quality::Good => 0,
        Quality::Uncertain(r) => 0x10 | reason_code(r),
        Quality::Bad(r) => 0x20 | reason_code(r),
    }
}

fn quality_of(code: u8) -> Quality {
    match code & 0x30 {
        0 => Quality::Good,
        0x10 => Quality::Uncertain(reason_of(code & 0x0f)),
        _ => Quality::Bad(reason_of(code & 0x0f)),
    }
}

struct BitWriter {
    buf: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn new(buf: Vec<u8>) -> BitWriter {
        BitWriter { buf, acc: 0, n: 0 }
    }
    fn put(&mut self, bits: u64, count: u32) {
        debug_assert!(count <= 64);
        let mut left = count;
        while left > 0 {
            let take = left.min(64 - self.n).min(32);
            let chunk = (bits >> (left - take)) & ((1u64 << take) - 1);
            self.acc = (self.acc << take) | chunk;
            self.n += take;
            left -= take;
            while self.n >= 8 {
                self.n -= 8;
                self.buf.push((self.acc >> self.n) as u8);
            }
            self.acc &= (1u64 << self.n) - 1;
        }
    }
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.buf.push((self.acc << (8 - self.n)) as u8);
        }
        self.buf
    }
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    /// Up to 57 bits at once from a big-endian window; wider reads are split.
    fn get(&mut self, count: u32) -> Option<u64> {
        if count > 56 {
            let hi = self.get(count - 32)?;
            let lo = self.get(32)?;
            return Some((hi << 32) | lo);
        }
        if count == 0 {
            return Some(0);
        }
        let end = self.pos + count as usize;
        if end > self.data.len() * 8 {
            return None;
        }
        let byte = self.pos / 8;
        let mut window = [0u8; 8];
        let avail = (self.data.len() - byte).min(8);
        window[..avail].copy_from_slice(&self.data[byte..byte + avail]);
        let w = u64::from_be_bytes(window);
        let shift = 64 - (self.pos % 8) as u32 - count;
        self.pos = end;
        Some((w >> shift) & ((1u64 << count) - 1))
    }
    /// Reads up to 4 leading ones of a class prefix.
    fn class(&mut self) -> Option<u32> {
        let mut ones = 0;
        while ones < 4 && self.get(1)? == 1 {
            ones += 1;
        }
        Some(ones)
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

const TS_CLASSES: [u32; 4] = [7, 12, 20, 64];
const VAL_CLASSES: [u32; 4] = [6, 12, 24, 64];

fn put_varlen(w: &mut BitWriter, v: i64, classes: &[u32; 4]) {
    if v == 0 {
        w.put(0, 1);
        return;
    }
    let z = zigzag(v);
    for (i, bits) in classes.iter().enumerate() {
        if *bits == 64 || z < (1u64 << bits) {
            let prefix_len = (i as u32 + 1).min(4) + if i < 3 { 1 } else { 0 };
            // prefix: i+1 ones then a zero (the last class has four ones and no zero)
            let prefix = if i < 3 {
                ((1u64 << (i + 1)) - 1) << 1
            } else {
                0b1111
            };
            w.put(prefix, prefix_len);
            w.put(z, *bits);
            return;
        }
    }
}

fn get_varlen(r: &mut BitReader, classes: &[u32; 4]) -> Option<i64> {
    match r.class()? {
        0 => Some(0),
        c => Some(unzigzag(r.get(classes[c as usize - 1])?)),
    }
}

/// Summary kept in a chunk's header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    pub text: bool,
    /// Holds samples that arrived after newer ones (replayed by a gateway); such chunks may
    /// overlap others in time.
    pub late: bool,
    pub count: u32,
    pub first_ts: i64,
    pub last_ts: i64,
    pub resolution: f64,
    /// Over good numeric values only (NaN when there is none).
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub good: u32,
    pub first: f64,
    pub last: f64,
}

/// Appends samples of one tag, in time order, to a growing chunk.
pub struct Encoder {
    w: BitWriter,
    h: Header,
    /// When set, the first timestamp is written relative to it (compact stage segments).
    base_ts: Option<i64>,
    prev_ts: i64,
    prev_delta: i64,
    prev_q: u8,
    prev_v: i64,
}

impl Encoder {
    pub fn new(resolution: f64, text: bool) -> Encoder {
        Encoder {
            w: BitWriter::new(Vec::with_capacity(256)),
            h: Header {
                text,
                late: false,
                count: 0,
                first_ts: 0,
                last_ts: 0,
                resolution: if resolution > 0.0 && resolution.is_finite() {
                    resolution
                } else {
                    0.001
                },
                min: f64::NAN,
                max: f64::NAN,
                sum: 0.0,
                good: 0,
                first: f64::NAN,
                last: f64::NAN,
            },
            base_ts: None,
            prev_ts: 0,
            prev_delta: 0,
            prev_q: 0xff,
            prev_v: 0,
        }
    }

    /// An encoder for a compact segment whose first timestamp is relative to `base_ts`
    /// (see [`Encoder::compact`]).
    pub fn with_base(resolution: f64, text: bool, base_ts: i64) -> Encoder {
        Encoder {
            base_ts: Some(base_ts),
            ..Encoder::new(resolution, text)
        }
    }

    pub fn count(&self) -> u32 {
        self.h.count
    }
    pub fn first_ts(&self) -> i64 {
        self.h.first_ts
    }
    pub fn last_ts(&self) -> i64 {
        self.h.last_ts
    }
    /// Bytes the chunk would take now.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.w.buf.len() + 1
    }
    pub fn is_empty(&self) -> bool {
        self.h.count == 0
    }
    /// Marks the chunk as holding late samples.
    pub fn set_late(&mut self) {
        self.h.late = true;
    }

    /// Appends one sample. `ts_ms` must not be before the last one (the caller starts a new
    /// chunk for late samples).
    pub fn push(&mut self, ts_ms: i64, value: Option<&Value>, quality: Quality) {
        // timestamp
        if self.h.count == 0 {
            self.h.first_ts = ts_ms;
            match self.base_ts {
                Some(base) => put_varlen(&mut self.w, ts_ms - base, &TS_CLASSES),
                None => self.w.put(ts_ms as u64, 64),
            }
        } else {
            let delta = ts_ms - self.prev_ts;
            put_varlen(&mut self.w, delta - self.prev_delta, &TS_CLASSES);
            self.prev_delta = delta;
        }
        self.prev_ts = ts_ms;
        self.h.last_ts = ts_ms;
        // quality (+ whether a value follows)
        let has_value = match (value, self.h.text) {
            (Some(Value::Text(_)), true) => true,
            (Some(v), false) => v.as_f64().is_some_and(f64::is_finite),
            _ => false,
        };
        let code = quality_code(quality) | if has_value { 0x40 } else { 0 };
        if code == self.prev_q {
            self.w.put(0, 1);
        } else {
            self.w.put(1, 1);
            self.w.put(code as u64, 8);
            self.prev_q = code;
        }
        // value
        if has_value {
            match value {
                Some(Value::Text(s)) => {
                    let b = s.as_bytes();
                    let n = b.len().min(u16::MAX as usize);
                    self.w.put(n as u64, 16);
                    for byte in &b[..n] {
                        self.w.put(*byte as u64, 8);
                    }
                }
                Some(v) => {
                    let x = v.as_f64().expect("checked numeric above");
                    let q = (x / self.h.resolution).round() as i64;
                    put_varlen(&mut self.w, q.wrapping_sub(self.prev_v), &VAL_CLASSES);
                    self.prev_v = q;
                    if quality.is_good() {
                        let xv = q as f64 * self.h.resolution;
                        if self.h.good == 0 {
                            self.h.first = xv;
                            self.h.min = xv;
                            self.h.max = xv;
                        }
                        self.h.min = self.h.min.min(xv);
                        self.h.max = self.h.max.max(xv);
                        self.h.sum += xv;
                        self.h.last = xv;
                        self.h.good += 1;
                    }
                }
                None => unreachable!("has_value implies a value"),
            }
        }
        self.h.count += 1;
    }

    /// The chunk's bytes (the encoder can keep growing after this).
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        write_header(&mut out, &self.h);
        let w = BitWriter {
            buf: self.w.buf.clone(),
            acc: self.w.acc,
            n: self.w.n,
        };
        out.extend_from_slice(&w.finish());
        out
    }
}

fn write_header(out: &mut Vec<u8>, h: &Header) {
    out.push(VERSION);
    out.push(h.text as u8 | (h.late as u8) << 1);
    out.extend_from_slice(&h.count.to_le_bytes());
    out.extend_from_slice(&h.first_ts.to_le_bytes());
    out.extend_from_slice(&h.last_ts.to_le_bytes());
    for f in [h.resolution, h.min, h.max, h.sum] {
        out.extend_from_slice(&f.to_le_bytes());
    }
    out.extend_from_slice(&h.good.to_le_bytes());
    for f in [h.first, h.last] {
        out.extend_from_slice(&f.to_le_bytes());
    }
}

/// Reads a chunk's header without decoding its samples.
pub fn header(bytes: &[u8]) -> Option<Header> {
    if bytes.len() < HEADER_LEN || bytes[0] != VERSION {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let i64_at = |i: usize| i64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let f64_at = |i: usize| f64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    Some(Header {
        text: bytes[1] & 1 != 0,
        late: bytes[1] & 2 != 0,
        count: u32_at(2),
        first_ts: i64_at(6),
        last_ts: i64_at(14),
        resolution: f64_at(22),
        min: f64_at(30),
        max: f64_at(38),
        sum: f64_at(46),
        good: u32_at(54),
        first: f64_at(58),
        last: f64_at(66),
    })
    .filter(|_| bytes.len() >= HEADER_LEN)
}

/// Decodes a whole chunk. None when the bytes are not a valid chunk.
pub fn decode(bytes: &[u8]) -> Option<Vec<Point>> {
    let h = header(bytes)?;
    decode_body(&bytes[HEADER_LEN..], h.count, h.resolution, h.text, None)
}

fn decode_body(
    body: &[u8],
    count: u32,
    resolution: f64,
    text: bool,
    base: Option<i64>,
) -> Option<Vec<Point>> {
    // every sample takes at least two bits (timestamp and quality): a count the bytes cannot
    // hold is damage, refused before anything is allocated for it
    if count as usize > body.len().saturating_mul(4) {
        return None;
    }
    let mut r = BitReader { data: body, pos: 0 };
    let mut out = Vec::with_capacity(count as usize);
    // q × resolution, rounded to the resolution's decimals (no 25.180000000000003)
    let decimals = (0..12)
        .find(|d| {
            let x = resolution * 10f64.powi(*d);
            (x.round() - x).abs() <= 1e-9 * x.max(1.0)
        })
        .unwrap_or(12);
    let scale = 10f64.powi(decimals);
    let value_of = |q: i64| (q as f64 * resolution * scale).round() / scale;
    let (mut ts, mut delta, mut q, mut v) = (0i64, 0i64, 0u8, 0i64);
    for i in 0..count {
        // a timestamp that overflows is damage, not a time (found by fuzzing)
        if i == 0 {
            ts = match base {
                Some(b) => b.checked_add(get_varlen(&mut r, &TS_CLASSES)?)?,
                None => r.get(64)? as i64,
            };
        } else {
            delta = delta.checked_add(get_varlen(&mut r, &TS_CLASSES)?)?;
            ts = ts.checked_add(delta)?;
        }
        if r.get(1)? == 1 {
            q = r.get(8)? as u8;
        }
        let value = if q & 0x40 != 0 {
            if text {
                let n = r.get(16)? as usize;
                let mut b = Vec::with_capacity(n);
                for _ in 0..n {
                    b.push(r.get(8)? as u8);
                }
                Some(Value::Text(Arc::from(String::from_utf8_lossy(&b).as_ref())))
            } else {
                v = v.wrapping_add(get_varlen(&mut r, &VAL_CLASSES)?);
                Some(Value::Float(value_of(v)))
            }
        } else {
            None
        };
        out.push(Point {
            ts_ms: ts,
            value,
            quality: quality_of(q & 0x3f),
        });
    }
    Some(out)
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_uvarint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

impl Encoder {
    /// The compact form used for stage segments, a few bytes of framing instead of the
    /// chunk header: `flags u8 | resolution (i8 power of ten, or 0x7f + f64) | count varint
    /// | body`. The first timestamp is relative to the base given to `with_base`.
    pub fn compact(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.w.buf.len() + 16);
        out.push(self.h.text as u8);
        let e = self.h.resolution.log10().round();
        if (-12.0..=12.0).contains(&e)
            && (10f64.powi(e as i32) - self.h.resolution).abs() <= self.h.resolution * 1e-9
        {
            out.push(e as i8 as u8);
        } else {
            out.push(0x7f);
            out.extend_from_slice(&self.h.resolution.to_le_bytes());
        }
        put_uvarint(&mut out, self.h.count as u64);
        let w = BitWriter {
            buf: self.w.buf.clone(),
            acc: self.w.acc,
            n: self.w.n,
        };
        out.extend_from_slice(&w.finish());
        out
    }
}

/// Decodes [`Encoder::compact`] bytes written with base timestamp `base`.
pub fn decode_compact(bytes: &[u8], base: i64) -> Option<Vec<Point>> {
    let text = *bytes.first()? & 1 != 0;
    let mut pos = 2;
    let resolution = match *bytes.get(1)? {
        0x7f => {
            let r = f64::from_le_bytes(bytes.get(2..10)?.try_into().ok()?);
            pos = 10;
            r
        }
        e => 10f64.powi(e as i8 as i32),
    };
    let count = u32::try_from(get_uvarint(bytes, &mut pos)?).ok()?;
    decode_body(&bytes[pos..], count, resolution, text, Some(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> Value {
        Value::Float(v)
    }

    #[test]
    fn round_trips_values_qualities_and_gaps() {
        let mut e = Encoder::new(0.01, false);
        let pts = vec![
            (1_700_000_000_000, Some(f(25.0)), Quality::Good),
            (1_700_000_001_000, Some(f(25.13)), Quality::Good),
            (1_700_000_002_000, Some(f(25.13)), Quality::Good),
            (1_700_000_003_000, None, Quality::Bad(Reason::CommFailure)),
            (
                1_700_000_093_000,
                Some(f(-3.7)),
                Quality::Uncertain(Reason::OutOfRange),
            ),
            (1_700_000_094_000, Some(f(1e9)), Quality::Good),
            (1_700_000_094_001, Some(f(1e9 + 0.01)), Quality::Good),
        ];
        for (ts, v, q) in &pts {
            e.push(*ts, v.as_ref(), *q);
        }
        let out = decode(&e.bytes()).unwrap();
        assert_eq!(out.len(), pts.len());
        for (p, (ts, v, q)) in out.iter().zip(&pts) {
            assert_eq!(p.ts_ms, *ts);
            assert_eq!(p.quality, *q);
            match (
                p.value.as_ref().and_then(Value::as_f64),
                v.as_ref().and_then(Value::as_f64),
            ) {
                (Some(a), Some(b)) => assert!((a - b).abs() < 0.005, "{a} vs {b}"),
                (None, None) => {}
                other => panic!("{other:?}"),
            }
        }
        let h = header(&e.bytes()).unwrap();
        assert_eq!((h.count, h.good), (7, 5));
        assert_eq!(h.first_ts, 1_700_000_000_000);
        assert_eq!(h.last_ts, 1_700_000_094_001);
        assert!((h.max - 1e9 - 0.01).abs() < 1e-3);
        assert!((h.min - 25.0).abs() < 1e-9);
    }

    #[test]
    fn text_values_round_trip() {
        let mut e = Encoder::new(1.0, true);
        e.push(1000, Some(&Value::Text(Arc::from("运行"))), Quality::Good);
        e.push(
            2000,
            Some(&Value::Text(Arc::from("停止 / stopped"))),
            Quality::Good,
        );
        let out = decode(&e.bytes()).unwrap();
        assert_eq!(out[1].value, Some(Value::Text(Arc::from("停止 / stopped"))));
    }

    #[test]
    fn a_regular_noisy_signal_costs_about_a_byte_per_sample() {
        let mut e = Encoder::new(0.01, false);
        let mut x: f64 = 80.0;
        let mut seed = 12345u64;
        for i in 0..4096 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            x += ((seed % 1000) as f64 / 1000.0 - 0.5) * 0.2;
            e.push(1_700_000_000_000 + i * 1000, Some(&f(x)), Quality::Good);
        }
        let bytes = e.bytes().len() as f64 / 4096.0;
        assert!(bytes < 1.5, "{bytes} bytes per sample");
        let out = decode(&e.bytes()).unwrap();
        assert!((out[4095].value.as_ref().unwrap().as_f64().unwrap() - x).abs() < 0.006);
    }

    #[test]
    fn compact_segments_round_trip_with_their_base() {
        for res in [0.01, 1.0, 0.25] {
            let base = 1_767_225_600_000i64;
            let mut e = Encoder::with_base(res, false, base);
            e.push(base + 700, Some(&f(12.25)), Quality::Good);
            e.push(base + 1700, None, Quality::Bad(Reason::CommFailure));
            let b = e.compact();
            // powers of ten cost one byte of framing, other resolutions nine
            let limit = if res == 0.25 { 21 } else { 12 };
            assert!(b.len() < limit, "{} bytes for two samples", b.len());
            let out = decode_compact(&b, base).unwrap();
            assert_eq!(out[0].ts_ms, base + 700);
            assert_eq!(
                out[0].value.as_ref().unwrap().as_f64(),
                Some((12.25 / res).round() * res)
            );
            assert_eq!(out[1].quality, Quality::Bad(Reason::CommFailure));
        }
        assert!(decode_compact(&[0, 0xfe], 0).is_none());
    }

    #[test]
    fn a_damaged_count_is_refused_without_allocating_for_it() {
        // found by fuzz/fuzz_targets/history_chunk.rs: a compact segment claiming ~1.4 billion
        // samples in 8 bytes asked for 109 GB before reading a bit
        assert!(decode_compact(&[0x94, 0x94, 0x94, 0x94, 0x94, 0x94, 0x0a, 0xff], 0).is_none());
        let mut e = Encoder::new(0.01, false);
        e.push(1000, Some(&Value::Float(1.0)), Quality::Good);
        let mut b = e.bytes();
        b[2..6].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&b).is_none());
        // and timestamps that run past i64 (a segment whose offset overflows its base)
        let overflow = [
            0xba, 0x0f, 0x06, 0x45, 0xff, 0x06, 0x00, 0x45, 0xfa, 0x02, 0xd3, 0x00, 0x40,
        ];
        assert!(decode_compact(&overflow, 1_767_225_600_000).is_none());
    }

    #[test]
    fn garbage_is_rejected_not_misread() {
        assert!(decode(&[1, 2, 3]).is_none());
        let mut e = Encoder::new(0.1, false);
        for i in 0..100 {
            e.push(i * 1000, Some(&f(i as f64)), Quality::Good);
        }
        let b = e.bytes();
        assert!(
            decode(&b[..b.len() - 20]).is_none(),
            "a truncated chunk does not decode"
        );
    }

    #[test]
    fn bit_writer_and_varlen_classes() {
        for v in [
            0i64,
            1,
            -1,
            31,
            -32,
            33,
            2047,
            -2048,
            1 << 20,
            -(1 << 30),
            i64::MAX / 4,
            i64::MIN / 4,
        ] {
            let mut w = BitWriter::new(Vec::new());
            put_varlen(&mut w, v, &VAL_CLASSES);
            put_varlen(&mut w, -v, &TS_CLASSES);
            let b = w.finish();
            let mut r = BitReader { data: &b, pos: 0 };
            assert_eq!(get_varlen(&mut r, &VAL_CLASSES), Some(v));
            assert_eq!(get_varlen(&mut r, &TS_CLASSES), Some(-v));
        }
    }
}
