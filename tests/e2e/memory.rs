//! Memory of the appliance as a plant loads it: the demo (bundled plugins included) with
//! 20,000 Modbus tags polled every second, and the demo under a burst of 100,000 values a
//! second over MQTT (2,000 tags in JSON). Each prints resident and peak resident memory
//! beside the targets (120 MiB and 160 MiB) into `memory.txt` in the test's temporary
//! directory, which `.ci/run` shows; nothing is asserted about the figures (they depend on
//! the build: run with `NPLUSX_E2E_BIN=target/release/nplusx` for the shipped binary).

use std::time::{Duration, Instant};

use crate::common;

use common::broker::{Mosquitto, TestClient};
use common::plc::TcpPlc;
use common::{Server, eventually};
use serde_json::json;

fn report(line: String) {
    use std::io::Write;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("memory.txt");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(f, "{line}").unwrap();
    eprintln!("{line}");
}

fn import(api: &common::Client, csv: &str) {
    let r = api.post_multipart(
        "/api/v1/tag-sheet",
        "file",
        "tags.csv",
        "text/csv",
        csv.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(500)]);
}

fn quality(api: &common::Client, name: &str) -> String {
    api.get(&format!("/api/v1/tags/{name}")).json()["current"]["quality"]["q"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn memory_with_20000_modbus_tags_polled_every_second() {
    let plc = TcpPlc::start();
    let s = Server::demo();
    let api = s.admin_api();
    let (demo_rss, _) = s.rss_mib();
    let r = api.post_json(
        "/api/v1/devices",
        &json!({"id": 0, "name": "big-plc", "enabled": true, "config": {"driver": "modbus_tcp",
            "host": "127.0.0.1", "port": plc.addr.port(), "unit": 1}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let mut csv = String::from("name,data_type,source,device,mb_area,mb_address,mb_format\n");
    for i in 0..20_000u32 {
        csv.push_str(&format!(
            "M{i:05},float,modbus,big-plc,holding_register,{},float32\n",
            i * 2
        ));
    }
    let t0 = Instant::now();
    import(&api, &csv);
    let imported = t0.elapsed();
    eventually(60, || quality(&api, "M19999") == "good");
    // a minute of polling: the figure is the steady state, not the start
    std::thread::sleep(Duration::from_secs(60));
    assert_eq!(quality(&api, "M00000"), "good");
    let st = api.get("/api/v1/devices").json();
    let (rss, peak) = s.rss_mib();
    report(format!(
        "memory, 20,000 Modbus tags polled every second (demo with bundled plugins): resident {rss:.0} MiB, peak {peak:.0} MiB (target < 120 MiB: {}); demo alone before {demo_rss:.0} MiB; import of 20,000 rows {:.1} s; devices {}",
        if peak < 120.0 { "met" } else { "NOT met" },
        imported.as_secs_f64(),
        st.as_array().map_or(0, Vec::len),
    ));
}

#[test]
fn memory_under_an_mqtt_burst_of_100000_values_a_second() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let s = Server::demo();
    let api = s.admin_api();
    let r = api.post_json(
        "/api/v1/devices",
        &json!({"id": 0, "name": "gateway", "enabled": true, "config": {"driver": "mqtt",
            "host": "127.0.0.1", "port": broker.port, "username": "plant", "password": "s3cret"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // 20 gateways' topics, each a JSON object of 100 values
    let mut csv = String::from("name,data_type,source,device,mq_topic,mq_format,mq_path\n");
    for t in 0..20 {
        for k in 0..100 {
            csv.push_str(&format!(
                "Q{t:02}.{k:03},float,mqtt,gateway,site/gw{t},json,/v{k}\n"
            ));
        }
    }
    import(&api, &csv);
    let pubr = TestClient::connect(broker.port, "burst", &[], false);
    let payload = |n: u32| {
        let fields: Vec<String> = (0..100)
            .map(|k| format!("\"v{k}\":{}.{k}", n % 1000))
            .collect();
        format!("{{{}}}", fields.join(","))
    };
    // until the appliance has subscribed
    eventually(30, || {
        pubr.client
            .publish("site/gw0", rumqttc::QoS::AtLeastOnce, false, payload(1))
            .unwrap();
        quality(&api, "Q00.099") == "good"
    });
    let (before, _) = s.rss_mib();
    // 10 s at 1,000 messages (100,000 values) a second, QoS 0 as gateways burst
    let (start, mut sent) = (Instant::now(), 0u32);
    while start.elapsed() < Duration::from_secs(10) {
        let due = (start.elapsed().as_secs_f64() * 1000.0) as u32;
        while sent < due {
            let topic = format!("site/gw{}", sent % 20);
            if pubr
                .client
                .try_publish(topic, rumqttc::QoS::AtMostOnce, false, payload(sent))
                .is_err()
            {
                break;
            }
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_secs(3));
    let (after, peak) = s.rss_mib();
    assert_eq!(quality(&api, "Q19.099"), "good");
    report(format!(
        "memory, MQTT burst of {} messages of 100 JSON values in 10 s to 2,000 tags (demo with bundled plugins): resident before {before:.0} MiB, after {after:.0} MiB, peak {peak:.0} MiB (target < 160 MiB: {})",
        sent,
        if peak < 160.0 { "met" } else { "NOT met" },
    ));
}
