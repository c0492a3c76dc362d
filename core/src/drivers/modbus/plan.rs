//! Which requests read a device's tags, and how register words become values and back.
//! Pure functions, so the rules are tested without a device.
//!
//! Tags of one polling group and data table are sorted by address and joined into reads of
//! at most `max_registers` registers (2,000 bits for coils and inputs), bridging gaps of up
//! to `max_gap` unused addresses. A read the device refuses with "illegal data address"
//! is split: its tags are then read one by one (`isolated`), so one bad address costs one
//! tag, not its neighbours.

use std::collections::HashSet;

use crate::tags::model::{ModbusArea, ModbusOptions, ModbusPoint, RegFormat, WordOrder};

/// Most bits one read may return (function 1 and 2).
pub const MAX_BITS: u16 = 2000;
/// Most registers one read may return (function 3 and 4).
pub const MAX_REGISTERS: u16 = 125;

/// One read request and the tags it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub area: ModbusArea,
    pub start: u16,
    pub count: u16,
    /// (tag id, point), in address order.
    pub points: Vec<(u32, ModbusPoint)>,
}

impl Block {
    fn end(&self) -> u32 {
        self.start as u32 + self.count as u32
    }
}

/// Addresses (or bits) a point occupies.
pub fn span(p: &ModbusPoint) -> u16 {
    if p.area.is_bits() {
        1
    } else {
        p.format.words()
    }
}

fn limit(area: ModbusArea, opts: &ModbusOptions) -> u32 {
    if area.is_bits() {
        MAX_BITS as u32
    } else {
        opts.max_registers.clamp(1, MAX_REGISTERS) as u32
    }
}

/// The reads for `points` (one polling group). `isolated` points are read alone.
pub fn plan(
    points: &[(u32, ModbusPoint)],
    opts: &ModbusOptions,
    isolated: &HashSet<(ModbusArea, u16)>,
) -> Vec<Block> {
    let mut sorted: Vec<&(u32, ModbusPoint)> = points.iter().collect();
    sorted.sort_by_key(|(id, p)| (p.area, p.address, *id));
    let mut blocks: Vec<Block> = Vec::new();
    for (id, p) in sorted {
        let (start, end) = (p.address as u32, p.address as u32 + span(p) as u32);
        let alone = isolated.contains(&(p.area, p.address));
        if let Some(b) = blocks.last_mut()
            && !alone
            && b.area == p.area
            && !b
                .points
                .iter()
                .any(|(_, q)| isolated.contains(&(q.area, q.address)))
            && start <= b.end() + opts.max_gap as u32
            && end.max(b.end()) - b.start as u32 <= limit(p.area, opts)
        {
            b.count = (end.max(b.end()) - b.start as u32) as u16;
            b.points.push((*id, p.clone()));
            continue;
        }
        blocks.push(Block {
            area: p.area,
            start: p.address,
            count: (end - start) as u16,
            points: vec![(*id, p.clone())],
        });
    }
    blocks
}

/// The fewest reads the protocol's size limit allows for `points` (every gap bridged): the
/// benchmark's yardstick.
pub fn minimum_reads(points: &[ModbusPoint]) -> usize {
    let mut spans: Vec<(ModbusArea, u32, u32)> = points
        .iter()
        .map(|p| (p.area, p.address as u32, p.address as u32 + span(p) as u32))
        .collect();
    spans.sort();
    let mut n = 0;
    let mut cur: Option<(ModbusArea, u32)> = None;
    for (area, start, end) in spans {
        let max = if area.is_bits() {
            MAX_BITS
        } else {
            MAX_REGISTERS
        } as u32;
        match cur {
            Some((a, s)) if a == area && end - s <= max => {}
            _ => {
                n += 1;
                cur = Some((area, start));
            }
        }
    }
    n
}

/// Words as read, in the order of the value's bytes from most to least significant.
fn normalise(words: &[u16], order: WordOrder) -> Vec<u16> {
    let mut w = words.to_vec();
    if matches!(order, WordOrder::Cdab | WordOrder::Dcba) {
        w.reverse();
    }
    if matches!(order, WordOrder::Badc | WordOrder::Dcba) {
        for x in &mut w {
            *x = x.swap_bytes();
        }
    }
    w
}

fn be(words: &[u16]) -> u64 {
    words.iter().fold(0u64, |acc, w| (acc << 16) | *w as u64)
}

/// The raw value of a register point from the words at its address (as many as
/// [`RegFormat::words`]). `None` if there are too few words or a float is not finite.
pub fn decode(p: &ModbusPoint, words: &[u16]) -> Option<f64> {
    let n = p.format.words() as usize;
    let w = normalise(words.get(..n)?, p.order);
    let v = match p.format {
        RegFormat::Bit => ((w[0] >> p.bit.unwrap_or(0).min(15)) & 1) as f64,
        RegFormat::Int16 => w[0] as i16 as f64,
        RegFormat::Uint16 => w[0] as f64,
        RegFormat::Int32 => be(&w) as u32 as i32 as f64,
        RegFormat::Uint32 => be(&w) as u32 as f64,
        RegFormat::Float32 => f32::from_bits(be(&w) as u32) as f64,
        RegFormat::Float64 => f64::from_bits(be(&w)),
    };
    v.is_finite().then_some(v)
}

/// Why a value cannot be written in a point's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// Outside what the register format holds (e.g. 70,000 in a uint16).
    OutOfRange,
    /// Bits are written as coils or by read-modify-write, not here.
    NotARegisterValue,
}

/// The words to write for raw value `v` in the point's format and order.
pub fn encode(p: &ModbusPoint, v: f64) -> Result<Vec<u16>, EncodeError> {
    if !v.is_finite() {
        return Err(EncodeError::OutOfRange);
    }
    let int = |lo: f64, hi: f64| {
        let r = v.round();
        if r < lo || r > hi {
            Err(EncodeError::OutOfRange)
        } else {
            Ok(r)
        }
    };
    let bits: u64 = match p.format {
        RegFormat::Bit => return Err(EncodeError::NotARegisterValue),
        RegFormat::Int16 => int(i16::MIN as f64, i16::MAX as f64)? as i16 as u16 as u64,
        RegFormat::Uint16 => int(0.0, u16::MAX as f64)? as u64,
        RegFormat::Int32 => int(i32::MIN as f64, i32::MAX as f64)? as i32 as u32 as u64,
        RegFormat::Uint32 => int(0.0, u32::MAX as f64)? as u64,
        RegFormat::Float32 => {
            if v.abs() > f32::MAX as f64 {
                return Err(EncodeError::OutOfRange);
            }
            (v as f32).to_bits() as u64
        }
        RegFormat::Float64 => v.to_bits(),
    };
    let n = p.format.words() as usize;
    let words: Vec<u16> = (0..n).rev().map(|i| (bits >> (16 * i)) as u16).collect();
    // the reorderings are their own inverse
    Ok(normalise(&words, p.order))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(area: ModbusArea, address: u16, format: RegFormat) -> ModbusPoint {
        ModbusPoint {
            area,
            address,
            format,
            order: WordOrder::Abcd,
            bit: None,
            group: "default".into(),
        }
    }

    #[test]
    fn contiguous_and_near_addresses_share_a_read() {
        use ModbusArea::*;
        use RegFormat::*;
        let points = vec![
            (1, pt(HoldingRegister, 0, Float32)),
            (2, pt(HoldingRegister, 2, Uint16)),
            (3, pt(HoldingRegister, 10, Int32)),
            // beyond the gap limit: a new read
            (4, pt(HoldingRegister, 100, Uint16)),
            (5, pt(InputRegister, 0, Uint16)),
            (6, pt(Coil, 5, Bit)),
            (7, pt(Coil, 1900, Bit)),
            (8, pt(Coil, 2100, Bit)),
        ];
        let opts = ModbusOptions::default();
        let b = plan(&points, &opts, &HashSet::new());
        let shape: Vec<(ModbusArea, u16, u16, usize)> = b
            .iter()
            .map(|b| (b.area, b.start, b.count, b.points.len()))
            .collect();
        assert_eq!(
            shape,
            [
                (Coil, 5, 1, 1),
                (Coil, 1900, 1, 1),
                (Coil, 2100, 1, 1),
                (InputRegister, 0, 1, 1),
                (HoldingRegister, 0, 12, 3),
                (HoldingRegister, 100, 1, 1),
            ]
        );
        // with every gap bridged the coils 1900 and 2100 still need two reads: 2,000 bits
        let b = plan(
            &points,
            &ModbusOptions {
                max_gap: 2000,
                ..opts.clone()
            },
            &HashSet::new(),
        );
        assert_eq!(b.len(), 4);
        assert_eq!(
            b.len(),
            minimum_reads(&points.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>())
        );
    }

    #[test]
    fn reads_never_exceed_125_registers_and_match_the_minimum() {
        // 10,000 registers in 2,500 float32 values with a gap of 2 after every 8
        let mut points = Vec::new();
        let mut addr = 0u16;
        for i in 0..2500u32 {
            points.push((i, pt(ModbusArea::HoldingRegister, addr, RegFormat::Float32)));
            addr += if i % 4 == 3 { 4 } else { 2 };
        }
        let b = plan(&points, &ModbusOptions::default(), &HashSet::new());
        assert!(b.iter().all(|b| b.count <= 125));
        let all: Vec<ModbusPoint> = points.iter().map(|(_, p)| p.clone()).collect();
        assert_eq!(b.len(), minimum_reads(&all));
        // a device that takes at most 64 registers
        let small = ModbusOptions {
            max_registers: 64,
            ..Default::default()
        };
        assert!(
            plan(&points, &small, &HashSet::new())
                .iter()
                .all(|b| b.count <= 64)
        );
    }

    #[test]
    fn isolated_points_are_read_alone() {
        use ModbusArea::HoldingRegister as H;
        let points: Vec<(u32, ModbusPoint)> = (0..5)
            .map(|i| (i, pt(H, i as u16, RegFormat::Uint16)))
            .collect();
        let iso: HashSet<_> = [(H, 2)].into();
        let b = plan(&points, &ModbusOptions::default(), &iso);
        let starts: Vec<u16> = b.iter().map(|b| b.start).collect();
        assert_eq!(starts, [0, 2, 3]);
    }

    #[test]
    fn word_and_byte_orders_round_trip() {
        let mut p = pt(ModbusArea::HoldingRegister, 0, RegFormat::Float32);
        // 123.456 as float32 is 0x42F6E979
        for (order, words) in [
            (WordOrder::Abcd, [0x42F6, 0xE979]),
            (WordOrder::Cdab, [0xE979, 0x42F6]),
            (WordOrder::Badc, [0xF642, 0x79E9]),
            (WordOrder::Dcba, [0x79E9, 0xF642]),
        ] {
            p.order = order;
            let v = decode(&p, &words).unwrap();
            assert!((v - 123.456).abs() < 1e-4, "{order:?}: {v}");
            assert_eq!(encode(&p, v).unwrap(), words, "{order:?}");
        }
        p.format = RegFormat::Int16;
        p.order = WordOrder::Abcd;
        assert_eq!(decode(&p, &[0xFFFE]), Some(-2.0));
        assert_eq!(encode(&p, -2.0).unwrap(), [0xFFFE]);
        assert_eq!(encode(&p, 40_000.0), Err(EncodeError::OutOfRange));
        p.format = RegFormat::Uint32;
        p.order = WordOrder::Cdab;
        assert_eq!(decode(&p, &[0x0001, 0x0002]), Some(0x0002_0001 as f64));
        p.format = RegFormat::Float64;
        p.order = WordOrder::Abcd;
        let w = encode(&p, -1.5e300).unwrap();
        assert_eq!(decode(&p, &w), Some(-1.5e300));
        p.format = RegFormat::Float32;
        assert_eq!(decode(&p, &[0x7FC0, 0x0000]), None, "NaN is not a value");
        assert_eq!(decode(&p, &[0x7FC0]), None, "too few words");
        p.format = RegFormat::Bit;
        p.bit = Some(3);
        assert_eq!(decode(&p, &[0b1000]), Some(1.0));
        assert_eq!(decode(&p, &[0b0111]), Some(0.0));
    }
}
