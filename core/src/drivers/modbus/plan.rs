//! Which requests read a device's tags, and how register words become values and back.
//! Pure functions, so the rules are tested without a device.
//!
//! Tags of one polling group and data table are sorted by address and joined into reads of
//! at most `max_registers` registers (2,000 bits for coils and inputs), bridging gaps of
//! unused addresses as [`Bridging`] allows: on TCP every gap the size limit leaves room for
//! (a request's round trip costs far more than the bytes), on RTU the gaps whose bytes take
//! less line time than another request would; a device's `max_gap` overrides both.
//!
//! A read the device refuses with "illegal data address" is split ([`Split`]): a bridged
//! read into runs of adjacent addresses, and a refused run into its tags one by one, so one
//! bad address costs one tag, not its neighbours.

use std::collections::HashMap;

use crate::tags::model::{ModbusArea, ModbusOptions, ModbusPoint, RegFormat, WordOrder};

/// Most bits one read may return (function 1 and 2).
pub const MAX_BITS: u16 = 2000;
/// Most registers one read may return (function 3 and 4).
pub const MAX_REGISTERS: u16 = 125;

/// How many unused addresses one read may bridge, for registers and for bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bridging {
    pub registers: u32,
    pub bits: u32,
}

/// A device's turnaround on a serial line assumed when planning RTU reads: the time from
/// the end of a request to the start of its answer (PLCs and meters: a few to tens of ms).
pub const RTU_TURNAROUND_MS: f64 = 10.0;

impl Bridging {
    /// Modbus TCP: any gap the request size allows.
    pub fn tcp(opts: &ModbusOptions) -> Bridging {
        opts.max_gap.map_or(
            Bridging {
                registers: MAX_REGISTERS as u32 - 1,
                bits: MAX_BITS as u32 - 1,
            },
            Bridging::fixed,
        )
    }

    /// Modbus RTU at `baud`: a gap is bridged when its bytes take less line time than one
    /// more request's round trip ([`rtu_request_ms`]).
    pub fn rtu(opts: &ModbusOptions, baud: u32) -> Bridging {
        opts.max_gap.map_or_else(
            || {
                let (request, char_ms) = (rtu_request_ms(baud), rtu_char_ms(baud));
                Bridging {
                    registers: ((request / (2.0 * char_ms)) as u32).min(MAX_REGISTERS as u32 - 1),
                    bits: ((request / (char_ms / 8.0)) as u32).min(MAX_BITS as u32 - 1),
                }
            },
            Bridging::fixed,
        )
    }

    fn fixed(gap: u16) -> Bridging {
        Bridging {
            registers: gap as u32,
            bits: gap as u32,
        }
    }

    fn gap(self, area: ModbusArea) -> u32 {
        if area.is_bits() {
            self.bits
        } else {
            self.registers
        }
    }
}

/// Line time of one character on a Modbus RTU line: 11 bits (start, 8 data, parity or a
/// second stop bit, stop), in ms.
pub fn rtu_char_ms(baud: u32) -> f64 {
    11_000.0 / baud.max(1) as f64
}

/// The fixed cost of one more read request on an RTU line, in ms: the request (8 bytes) and
/// the answer's address, function, byte count and CRC (5 bytes), the 3.5-character silence
/// after each (1.75 ms above 19,200 baud), and the device's turnaround.
pub fn rtu_request_ms(baud: u32) -> f64 {
    let c = rtu_char_ms(baud);
    let silence = if baud > 19_200 { 1.75 } else { 3.5 * c };
    13.0 * c + 2.0 * silence + RTU_TURNAROUND_MS
}

/// Line time of a plan's reads on an RTU line, in ms: each read's fixed cost and its data.
pub fn rtu_line_ms(blocks: &[Block], baud: u32) -> f64 {
    let c = rtu_char_ms(baud);
    blocks
        .iter()
        .map(|b| {
            let bytes = if b.area.is_bits() {
                (b.count as u32).div_ceil(8)
            } else {
                2 * b.count as u32
            };
            rtu_request_ms(baud) + bytes as f64 * c
        })
        .sum()
}

/// How an address is read after the device refused a read with "illegal data address".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Joined with adjacent addresses only, no gap bridged.
    Adjacent,
    /// Read alone.
    Alone,
}

/// The splits learnt from a device's refusals, by (table, address).
pub type Splits = HashMap<(ModbusArea, u16), Split>;

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

    /// True when the read covers addresses no tag of it uses.
    pub fn bridges(&self) -> bool {
        let used: u32 = {
            let mut spans: Vec<(u32, u32)> = self
                .points
                .iter()
                .map(|(_, p)| (p.address as u32, p.address as u32 + span(p) as u32))
                .collect();
            spans.sort();
            let (mut n, mut reach) = (0, self.start as u32);
            for (s, e) in spans {
                n += e.saturating_sub(s.max(reach));
                reach = reach.max(e);
            }
            n
        };
        used < self.count as u32
    }

    /// The split to apply to its addresses when the device refuses it as an illegal data
    /// address, or None when it already is a single tag.
    pub fn split_on_refusal(&self) -> Option<Split> {
        if self.points.len() <= 1 {
            None
        } else if self.bridges() {
            Some(Split::Adjacent)
        } else {
            Some(Split::Alone)
        }
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

/// The reads for `points` (one polling group), bridging gaps as `bridging` allows and
/// keeping to the `splits` learnt from refusals.
pub fn plan(
    points: &[(u32, ModbusPoint)],
    opts: &ModbusOptions,
    bridging: Bridging,
    splits: &Splits,
) -> Vec<Block> {
    let split = |p: &ModbusPoint| splits.get(&(p.area, p.address)).copied();
    let mut sorted: Vec<&(u32, ModbusPoint)> = points.iter().collect();
    sorted.sort_by_key(|(id, p)| (p.area, p.address, *id));
    let mut blocks: Vec<Block> = Vec::new();
    for (id, p) in sorted {
        let (start, end) = (p.address as u32, p.address as u32 + span(p) as u32);
        if let Some(b) = blocks.last_mut()
            && b.area == p.area
            && split(p) != Some(Split::Alone)
            && !b.points.iter().any(|(_, q)| split(q) == Some(Split::Alone))
            && end.max(b.end()) - b.start as u32 <= limit(p.area, opts)
        {
            let last = b.points.last().map(|(_, q)| split(q)).unwrap_or_default();
            let gap = if split(p).is_some() || last.is_some() {
                0
            } else {
                bridging.gap(p.area)
            };
            if start <= b.end() + gap {
                b.count = (end.max(b.end()) - b.start as u32) as u16;
                b.points.push((*id, p.clone()));
                continue;
            }
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
        let opts = ModbusOptions {
            max_gap: Some(32),
            ..Default::default()
        };
        let b = plan(&points, &opts, Bridging::tcp(&opts), &Splits::new());
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
        // TCP by default bridges every gap a request can hold; the coils 1900 and 2100 still
        // need two reads: 2,000 bits
        let tcp = ModbusOptions::default();
        let b = plan(&points, &tcp, Bridging::tcp(&tcp), &Splits::new());
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
        let tcp = ModbusOptions::default();
        let b = plan(&points, &tcp, Bridging::tcp(&tcp), &Splits::new());
        assert!(b.iter().all(|b| b.count <= 125));
        let all: Vec<ModbusPoint> = points.iter().map(|(_, p)| p.clone()).collect();
        assert_eq!(b.len(), minimum_reads(&all));
        // a device that takes at most 64 registers
        let small = ModbusOptions {
            max_registers: 64,
            ..Default::default()
        };
        assert!(
            plan(&points, &small, Bridging::tcp(&small), &Splits::new())
                .iter()
                .all(|b| b.count <= 64)
        );
    }

    #[test]
    fn a_scattered_map_on_tcp_takes_the_fewest_reads() {
        // 20 holding registers with gaps of up to 125 (the map): 8 reads with the
        // old fixed gap of 32, the minimum of 6 now
        let gaps = [
            0u16, 40, 90, 125, 3, 60, 110, 7, 125, 30, 80, 2, 125, 45, 100, 9, 70, 125, 15, 50,
        ];
        let mut addr = 0u16;
        let points: Vec<(u32, ModbusPoint)> = gaps
            .iter()
            .enumerate()
            .map(|(i, g)| {
                addr += g;
                (
                    i as u32,
                    pt(ModbusArea::HoldingRegister, addr, RegFormat::Uint16),
                )
            })
            .collect();
        let all: Vec<ModbusPoint> = points.iter().map(|(_, p)| p.clone()).collect();
        let tcp = ModbusOptions::default();
        assert_eq!(
            plan(&points, &tcp, Bridging::tcp(&tcp), &Splits::new()).len(),
            minimum_reads(&all)
        );
        let old = ModbusOptions {
            max_gap: Some(32),
            ..Default::default()
        };
        assert!(
            plan(&points, &old, Bridging::tcp(&old), &Splits::new()).len() > minimum_reads(&all)
        );
    }

    #[test]
    fn rtu_bridges_what_costs_less_than_a_request() {
        let o = ModbusOptions::default();
        // 9,600 baud: 1.146 ms a character; a request costs 13 characters, two silences of
        // 3.5 and the turnaround ≈ 32.9 ms, i.e. 14 registers (28 bytes) or 229 bits
        let slow = Bridging::rtu(&o, 9600);
        assert_eq!((slow.registers, slow.bits), (14, 229));
        // 115,200 baud: silences of 1.75 ms; ≈ 14.7 ms per request, 77 registers
        let fast = Bridging::rtu(&o, 115_200);
        assert_eq!((fast.registers, fast.bits), (77, 1235));
        // a gap is worth bridging exactly when the bridged plan takes less line time
        let points = |gap: u16| {
            vec![
                (1, pt(ModbusArea::HoldingRegister, 0, RegFormat::Uint16)),
                (
                    2,
                    pt(ModbusArea::HoldingRegister, 1 + gap, RegFormat::Uint16),
                ),
            ]
        };
        for gap in [10u16, 14, 15, 20] {
            let bridged = plan(&points(gap), &o, Bridging::tcp(&o), &Splits::new());
            let apart = plan(&points(gap), &o, Bridging::fixed(0), &Splits::new());
            let chosen = plan(&points(gap), &o, slow, &Splits::new());
            let best = rtu_line_ms(&bridged, 9600).min(rtu_line_ms(&apart, 9600));
            assert_eq!(rtu_line_ms(&chosen, 9600), best, "gap {gap}");
        }
        // a device's own setting wins
        let set = ModbusOptions {
            max_gap: Some(3),
            ..Default::default()
        };
        assert_eq!(Bridging::rtu(&set, 9600), Bridging::fixed(3));
        assert_eq!(Bridging::tcp(&set), Bridging::fixed(3));
    }

    #[test]
    fn a_refused_read_splits_into_runs_then_tags() {
        use ModbusArea::HoldingRegister as H;
        // runs 0–2 and 50–51 bridged into one read
        let points: Vec<(u32, ModbusPoint)> = [0u16, 1, 2, 50, 51]
            .iter()
            .map(|a| (*a as u32, pt(H, *a, RegFormat::Uint16)))
            .collect();
        let o = ModbusOptions::default();
        let b = plan(&points, &o, Bridging::tcp(&o), &Splits::new());
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].split_on_refusal(), Some(Split::Adjacent));
        let mut splits = Splits::new();
        for (_, p) in &b[0].points {
            splits.insert((p.area, p.address), Split::Adjacent);
        }
        let b = plan(&points, &o, Bridging::tcp(&o), &splits);
        let runs: Vec<(u16, u16)> = b.iter().map(|b| (b.start, b.count)).collect();
        assert_eq!(runs, [(0, 3), (50, 2)]);
        // the run 50–51 is refused again: its tags are read alone
        assert_eq!(b[1].split_on_refusal(), Some(Split::Alone));
        for (_, p) in &b[1].points {
            splits.insert((p.area, p.address), Split::Alone);
        }
        let b = plan(&points, &o, Bridging::tcp(&o), &splits);
        let starts: Vec<u16> = b.iter().map(|b| b.start).collect();
        assert_eq!(starts, [0, 50, 51]);
        assert_eq!(b[1].split_on_refusal(), None);
        // a new tag between split runs joins them only where adjacent
        let mut more = points.clone();
        more.push((9, pt(H, 10, RegFormat::Uint16)));
        let b = plan(&more, &o, Bridging::tcp(&o), &splits);
        assert_eq!(
            b.iter().map(|b| b.start).collect::<Vec<_>>(),
            [0, 10, 50, 51]
        );
    }

    #[test]
    fn isolated_points_are_read_alone() {
        use ModbusArea::HoldingRegister as H;
        let points: Vec<(u32, ModbusPoint)> = (0..5)
            .map(|i| (i, pt(H, i as u16, RegFormat::Uint16)))
            .collect();
        let iso: Splits = [((H, 2), Split::Alone)].into();
        let o = ModbusOptions::default();
        let b = plan(&points, &o, Bridging::tcp(&o), &iso);
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
