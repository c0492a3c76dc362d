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
        svc::create_tag(&app.store, &actor, t)?;
    }
    app.reload_tags()
}
