//! Register words as a PLC answers them, for any point a tag can name: decoding never
//! panics, gives a finite value or nothing, and a decoded value written back through the
//! same point reads back the same. Read plans for any set of points stay within the
//! protocol's limits and keep every point.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nplusx::drivers::modbus::plan;
use nplusx::tags::model::{ModbusArea, ModbusOptions, ModbusPoint, RegFormat, WordOrder};

const AREAS: [ModbusArea; 4] = [
    ModbusArea::Coil,
    ModbusArea::DiscreteInput,
    ModbusArea::InputRegister,
    ModbusArea::HoldingRegister,
];
const FORMATS: [RegFormat; 7] = [
    RegFormat::Bit,
    RegFormat::Int16,
    RegFormat::Uint16,
    RegFormat::Int32,
    RegFormat::Uint32,
    RegFormat::Float32,
    RegFormat::Float64,
];
const ORDERS: [WordOrder; 4] = [
    WordOrder::Abcd,
    WordOrder::Cdab,
    WordOrder::Badc,
    WordOrder::Dcba,
];

fn point(b: &[u8]) -> ModbusPoint {
    let area = AREAS[b[0] as usize % 4];
    let format = match area {
        ModbusArea::Coil | ModbusArea::DiscreteInput => RegFormat::Bit,
        _ => FORMATS[b[3] as usize % 7],
    };
    ModbusPoint {
        area,
        address: u16::from_le_bytes([b[1], b[2]]),
        format,
        order: ORDERS[(b[3] >> 4) as usize % 4],
        bit: (format == RegFormat::Bit && b[0] & 0x80 != 0).then_some(b[0] & 0x0f),
        group: "default".into(),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let p = point(data);
    let words: Vec<u16> = data[4..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    if let Some(v) = plan::decode(&p, &words) {
        assert!(v.is_finite(), "{p:?} {words:?} → {v}");
        if let Ok(w) = plan::encode(&p, v) {
            let back = plan::decode(&p, &w).expect("encoded words decode");
            assert!(back == v, "{p:?}: {v} written reads back {back}");
        }
    }
    // points as a tag can be configured (the tag service refuses one past register 65535)
    let points: Vec<(u32, ModbusPoint)> = data
        .chunks_exact(4)
        .enumerate()
        .map(|(i, c)| (i as u32, point(c)))
        .filter(|(_, p)| p.address as u32 + plan::span(p) as u32 <= 65_536)
        .collect();
    let opts = ModbusOptions::default();
    for bridging in [plan::Bridging::tcp(&opts), plan::Bridging::rtu(&opts, 9600)] {
        let blocks = plan::plan(&points, &opts, bridging, &plan::Splits::new());
        let kept: usize = blocks.iter().map(|b| b.points.len()).sum();
        assert_eq!(kept, points.len());
        for b in &blocks {
            let max = match b.area {
                ModbusArea::Coil | ModbusArea::DiscreteInput => 2000,
                _ => 125,
            };
            assert!(b.count >= 1 && b.count <= max, "{b:?}");
            assert!(b.start as u32 + b.count as u32 <= 65_536, "{b:?}");
            for (_, q) in &b.points {
                assert!(
                    q.address >= b.start
                        && q.address as u32 + plan::span(q) as u32
                            <= b.start as u32 + b.count as u32
                );
            }
        }
    }
});
