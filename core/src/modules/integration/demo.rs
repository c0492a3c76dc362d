//! The demo plant's data: one simulator device and a tag for each of its signals.

use crate::app::App;
use crate::drivers::simulator::SIGNALS;
use crate::error::Result;
use crate::store::Actor;
use crate::tags::model::{Device, DriverConfig, Source};
use crate::tags::service as svc;

pub fn seed(app: &App) -> Result<()> {
    let actor = Actor::system("demo");
    let device = svc::create_device(
        &app.store,
        &actor,
        Device {
            id: 0,
            name: "模拟装置 PLC".into(),
            description: "内置仿真：R101 丙烯酸树脂聚合釜、罐区、气体检测与公用工程".into(),
            config: DriverConfig::Simulator {
                interval_s: 1.0,
                seed: 2026,
                // batches run ten times faster than real time, so a demo shows a full cycle
                speed: 10.0,
            },
            enabled: true,
        },
    )?;
    for s in SIGNALS {
        let mut t = svc::blank_tag(
            s.tag,
            s.data_type,
            Source::Simulator {
                device: device.id,
                signal: s.name.into(),
            },
        );
        t.description_zh = s.zh.into();
        t.description_en = s.en.into();
        t.unit = s.unit.into();
        t.area = s.area.into();
        t.equipment = s.equipment.into();
        t.range_lo = Some(s.range.0);
        t.range_hi = Some(s.range.1);
        t.resolution = s.resolution;
        t.deadband = s.deadband;
        t.writable = s.writable;
        svc::create_tag(&app.store, &actor, t)?;
    }
    app.reload_tags()?;
    backfill(app, device.id)
}

/// Eight hours of history, so trends show a day shift at once: the simulator run forward
/// at 10 s steps and written through the historian like live data.
fn backfill(app: &App, device: u32) -> Result<()> {
    use crate::drivers::simulator::Plant;
    use crate::tags::engine::Sink;
    use crate::tags::model::{Quality, Sample, Value};
    let defs = app.tags.defs();
    let ids: Vec<Option<u32>> = SIGNALS
        .iter()
        .map(|s| {
            defs.iter()
                .find(|t| matches!(&t.source, Source::Simulator { device: d, signal } if *d == device && signal == s.name))
                .map(|t| t.id)
        })
        .collect();
    let now = crate::util::now_ms();
    let step_ms = 10_000;
    let steps = 8 * 3600 * 1000 / step_ms;
    // about 40 batches in eight hours: numbered so the live plant (from 1000) follows on
    let run = || {
        let mut plant = Plant::new(7, 10.0).with_batch(960);
        (0..steps).map(move |_| plant.step(step_ms as f64 / 1000.0))
    };
    // the totalisers (energy, steam, water, feed, run hours) end where the live simulator
    // starts counting, so their history and the live values join without a drop (which
    // would read as a meter reset)
    // the plant's counts before its first step (a step of no time advances nothing)
    let first = Plant::new(7, 10.0).with_batch(960).step(0.0);
    // stepped through in order (the plant's steps depend on the ones before)
    let last = run().fold(Vec::new(), |_, values| values);
    let shift: Vec<f64> = SIGNALS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let total = s.name.ends_with(".total")
                || s.name.ends_with(".kwh")
                || s.name.ends_with("run_hours");
            match (
                total,
                first.get(i).and_then(|v| v.as_f64()),
                last.get(i).and_then(|v| v.as_f64()),
            ) {
                (true, Some(a), Some(b)) => b - a,
                _ => 0.0,
            }
        })
        .collect();
    for (i, values) in run().enumerate() {
        let ts = now - (steps - i as i64) * step_ms;
        let batch: Vec<Sample> = values
            .into_iter()
            .zip(&ids)
            .zip(&shift)
            .filter_map(|((v, id), d)| {
                let v = match v {
                    Value::Float(x) if *d != 0.0 => Value::Float(x - d),
                    other => other,
                };
                Some(Sample {
                    tag: (*id)?,
                    ts_ms: ts,
                    value: Some(v),
                    quality: Quality::Good,
                })
            })
            .collect();
        app.historian.accept(&batch);
        if i % 360 == 0 {
            app.historian.flush()?;
        }
    }
    app.historian.flush()?;
    Ok(())
}
