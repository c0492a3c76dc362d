//! MQTT with a real broker (Mosquitto on loopback): JSON, text and Sparkplug B payloads in;
//! northbound Sparkplug B and JSON out, including a broker outage during which messages are
//! queued on the box and afterwards all arrive, in order.

use crate::common;

use std::time::Duration;

use common::broker::{Mosquitto, TestClient};
use common::{BOOTSTRAP, Server, eventually};
use nplusx::sparkplug::{self, Metric, MetricValue, Payload, Val, datatype};
use serde_json::{Value, json};

fn fresh() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&["serve", "--bootstrap-token", BOOTSTRAP], &data, None);
    s.keep_tempdir(tmp);
    s
}

fn current(api: &common::Client, name: &str) -> Value {
    api.get(&format!("/api/v1/tags/{name}")).json()["current"].clone()
}

fn q(api: &common::Client, name: &str) -> String {
    let c = current(api, name);
    format!(
        "{}{}",
        c["quality"]["q"].as_str().unwrap_or(""),
        c["quality"]["reason"]
            .as_str()
            .map(|r| format!(":{r}"))
            .unwrap_or_default()
    )
}

fn mqtt_tag(
    api: &common::Client,
    name: &str,
    data_type: &str,
    device: u64,
    topic: &str,
    format: &str,
    path: &str,
) {
    let r = api.post_json(
        "/api/v1/tags",
        &json!({"id": 0, "name": name, "data_type": data_type,
            "source": {"kind": "mqtt", "device": device, "topic": topic, "format": format, "path": path}}),
    );
    assert_eq!(r.status, 201, "{name}: {}", r.body);
}

fn spb(metrics: Vec<Metric>, seq: u64) -> Vec<u8> {
    sparkplug::encode(&Payload {
        timestamp: Some(nplusx::util::now_ms() as u64),
        metrics,
        seq: Some(seq),
        ..Default::default()
    })
}

#[test]
fn gateways_publish_json_text_and_sparkplug_b() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let s = fresh();
    let api = s.admin_api();
    let r = api.post_json(
        "/api/v1/devices",
        &json!({"id": 0, "name": "site broker", "enabled": true, "config": {"driver": "mqtt",
            "host": "127.0.0.1", "port": broker.port, "username": "plant", "password": "s3cret"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json()["config"]["password"],
        json!({"set": true}),
        "the password is never shown"
    );
    let dev = r.json()["id"].as_u64().unwrap();
    mqtt_tag(
        &api,
        "R301.TT",
        "float",
        dev,
        "plant/r301/state",
        "json",
        "/temp",
    );
    mqtt_tag(
        &api,
        "R301.RUN",
        "bool",
        dev,
        "plant/r301/state",
        "json",
        "/run",
    );
    mqtt_tag(&api, "TK301.LT", "float", dev, "plant/+/level", "text", "");
    mqtt_tag(
        &api,
        "EDGE.T",
        "float",
        dev,
        "spBv1.0/Plant/Edge1/PLC1",
        "sparkplug_b",
        "Reactor/Temp",
    );
    mqtt_tag(
        &api,
        "EDGE.CNT",
        "int",
        dev,
        "spBv1.0/Plant/Edge1/PLC1",
        "sparkplug_b",
        "Batch/Count",
    );
    // the stored password is sealed: not in the store file in clear
    let store = std::fs::read(s.data.join("nplusx.redb")).unwrap();
    assert!(
        !store.windows(6).any(|w| w == b"s3cret"),
        "password sealed at rest"
    );

    let gw = TestClient::connect(broker.port, "gateway", &["spBv1.0/Plant/NCMD/#"], false);
    // six topic filters: the JSON and text topics, and one Sparkplug device (its birth, data
    // and death, and its node's death)
    eventually(10, || {
        let st = api.get(&format!("/api/v1/devices/{dev}/status")).json();
        st["connected"] == true && st["subscriptions"] == 6
    });
    std::thread::sleep(Duration::from_millis(300));

    gw.publish("plant/r301/state", r#"{"temp": 81.5, "run": true}"#);
    gw.publish("plant/tk301/level", "55.5");
    eventually(10, || {
        current(&api, "R301.TT")["value"] == json!(81.5)
            && current(&api, "TK301.LT")["value"] == json!(55.5)
    });
    assert_eq!(current(&api, "R301.RUN")["value"], json!(true));

    // Sparkplug: data before a birth asks the node for a rebirth
    let data = spb(
        vec![Metric {
            alias: Some(1),
            datatype: Some(datatype::FLOAT),
            value: Some(MetricValue::Float(70.0)),
            ..Default::default()
        }],
        1,
    );
    gw.publish("spBv1.0/Plant/DDATA/Edge1/PLC1", data);
    let asked = gw.collect(10, |m| !m.is_empty());
    assert_eq!(
        asked.first().map(|m| m.0.as_str()),
        Some("spBv1.0/Plant/NCMD/Edge1"),
        "{asked:?}"
    );
    let p = sparkplug::decode(&asked[0].1).unwrap();
    assert_eq!(p.metrics[0].name.as_deref(), Some("Node Control/Rebirth"));
    // birth with names and aliases, then data by alias
    let birth = spb(
        vec![
            Metric {
                name: Some("Reactor/Temp".into()),
                alias: Some(1),
                datatype: Some(datatype::FLOAT),
                value: Some(MetricValue::Float(72.25)),
                ..Default::default()
            },
            Metric {
                name: Some("Batch/Count".into()),
                alias: Some(2),
                datatype: Some(datatype::INT32),
                value: Some(MetricValue::Int((-3i32) as u32)),
                ..Default::default()
            },
        ],
        0,
    );
    gw.publish("spBv1.0/Plant/DBIRTH/Edge1/PLC1", birth);
    eventually(10, || current(&api, "EDGE.T")["value"] == json!(72.25));
    assert_eq!(current(&api, "EDGE.CNT")["value"], json!(-3));
    let data = spb(
        vec![Metric {
            alias: Some(1),
            datatype: Some(datatype::FLOAT),
            value: Some(MetricValue::Float(73.5)),
            ..Default::default()
        }],
        2,
    );
    gw.publish("spBv1.0/Plant/DDATA/Edge1/PLC1", data);
    eventually(10, || current(&api, "EDGE.T")["value"] == json!(73.5));

    // malformed payloads: only the tags they were for go bad, nothing wrong is stored
    let errors = api.get(&format!("/api/v1/devices/{dev}/status")).json()["errors"]
        .as_u64()
        .unwrap();
    gw.publish("plant/r301/state", "{temp: 81");
    gw.publish(
        "spBv1.0/Plant/DDATA/Edge1/PLC1",
        b"\xff\x00garbage".to_vec(),
    );
    eventually(10, || {
        q(&api, "R301.TT") == "bad:bad_value" && q(&api, "EDGE.T") == "bad:bad_value"
    });
    assert_eq!(
        current(&api, "R301.TT")["value"],
        json!(81.5),
        "the last good value is kept, marked bad"
    );
    assert_eq!(q(&api, "TK301.LT"), "good");
    assert!(
        api.get(&format!("/api/v1/devices/{dev}/status")).json()["errors"]
            .as_u64()
            .unwrap()
            > errors
    );

    // a device's death marks its tags
    gw.publish("spBv1.0/Plant/DDEATH/Edge1/PLC1", spb(vec![], 3));
    eventually(10, || q(&api, "EDGE.CNT") == "bad:comm_failure");
    assert_eq!(q(&api, "TK301.LT"), "good");

    // an MQTT tag cannot be made writable; a bad topic names its field
    let r = api.post_json(
        "/api/v1/tags",
        &json!({"id": 0, "name": "X1", "data_type": "float", "writable": true,
        "source": {"kind": "mqtt", "device": dev, "topic": "a/b", "format": "json", "path": "/x"}}),
    );
    assert_eq!(
        (r.status, r.json()["error"]["field"].clone()),
        (422, json!("writable"))
    );
    for (topic, format, path, field) in [
        ("a/#/b", "json", "/x", "topic"),
        ("a/b", "json", "x", "path"),
        ("plant/x", "sparkplug_b", "m", "topic"),
        ("spBv1.0/G/N", "sparkplug_b", "", "path"),
    ] {
        let r = api.post_json("/api/v1/tags", &json!({"id": 0, "name": "X1", "data_type": "float",
            "source": {"kind": "mqtt", "device": dev, "topic": topic, "format": format, "path": path}}));
        assert_eq!(
            (r.status, r.json()["error"]["field"].clone()),
            (422, json!(field)),
            "{topic} {path}: {}",
            r.body
        );
    }
}

fn write(api: &common::Client, tag: &str, v: f64) {
    let r = api.post_json(&format!("/api/v1/tags/{tag}/write"), &json!({ "value": v }));
    assert_eq!(r.status, 200, "{}", r.body);
}

/// (alias, value, historical) of the areas' DDATA metrics in `msgs`.
fn ddata(msgs: &[(String, Vec<u8>)]) -> Vec<(u64, f64, bool, u64)> {
    msgs.iter()
        .filter(|(t, _)| t.contains("/DDATA/") && !t.ends_with("/summary"))
        .flat_map(|(_, p)| {
            let p = sparkplug::decode(p).unwrap();
            let seq = p.seq.unwrap();
            p.metrics.into_iter().filter_map(move |m| match m.val() {
                Some(Val::Number(x)) => {
                    Some((m.alias.unwrap(), x, m.is_historical == Some(true), seq))
                }
                _ => None,
            })
        })
        .collect()
}

#[test]
fn northbound_publishes_sparkplug_and_json_and_replays_after_an_outage() {
    let Some(mut broker) = Mosquitto::start() else {
        return;
    };
    let s = fresh();
    let api = s.admin_api();
    let r = api.post_json(
        "/api/v1/tags",
        &json!({"id": 0, "name": "NB.SP", "data_type": "float", "source": {"kind": "manual"},
        "writable": true, "area": "resin", "range_lo": 0, "range_hi": 1000}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let alias = r.json()["id"].as_u64().unwrap();
    write(&api, "NB.SP", 1.0);

    let host = TestClient::connect(broker.port, "scada-host", &["spBv1.0/#", "nplusx/#"], true);
    let bad = api.put_json(
        "/api/v1/northbound",
        &json!({"enabled": true, "host": "127.0.0.1", "port": broker.port, "node_id": "a/b"}),
    );
    assert_eq!(
        (bad.status, bad.json()["error"]["field"].clone()),
        (422, json!("node_id"))
    );
    let r = api.put_json(
        "/api/v1/northbound",
        &json!({"enabled": true, "host": "127.0.0.1", "port": broker.port, "group_id": "Lanxi", "node_id": "hongda"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // births: the node, then the resin area with the tag by name and alias
    let got = host.collect(15, |m| {
        m.iter()
            .any(|(t, _)| t == "spBv1.0/Lanxi/DBIRTH/hongda/resin")
    });
    let topics: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert!(
        topics.contains(&"spBv1.0/Lanxi/NBIRTH/hongda"),
        "{topics:?}"
    );
    let (_, birth) = got
        .iter()
        .find(|(t, _)| t == "spBv1.0/Lanxi/DBIRTH/hongda/resin")
        .unwrap();
    let birth = sparkplug::decode(birth).unwrap();
    let m = birth
        .metrics
        .iter()
        .find(|m| m.name.as_deref() == Some("NB.SP"))
        .expect("the tag is born");
    assert_eq!((m.alias, m.val()), (Some(alias), Some(Val::Number(1.0))));

    // the key figures by name on the summary device, within the 5 s they are collected in
    let got = host.collect(15, |m| {
        m.iter().any(|(t, _)| t.ends_with("/hongda/summary"))
    });
    let (t, p) = got
        .iter()
        .find(|(t, _)| t.ends_with("/hongda/summary"))
        .expect("the summary device");
    assert!(t.starts_with("spBv1.0/Lanxi/D"), "{t}");
    let figures = sparkplug::decode(p).unwrap();
    let fig = |name: &str| {
        figures
            .metrics
            .iter()
            .find(|m| m.name.as_deref() == Some(name))
            .and_then(|m| m.val())
    };
    assert_eq!(fig("alarms/active"), Some(Val::Number(0.0)), "{figures:?}");
    assert_eq!(fig("box/status"), Some(Val::Text("normal".into())));
    assert!(fig("safety/hazards_open").is_some(), "{figures:?}");

    // live data by alias, with a sequence number
    write(&api, "NB.SP", 2.0);
    let got = host.collect(10, |m| ddata(m).iter().any(|d| d.1 == 2.0));
    let d = ddata(&got);
    assert_eq!(
        d.last().map(|d| (d.0, d.1, d.2)),
        Some((alias, 2.0, false)),
        "{d:?}"
    );

    // the broker goes away: values queue on the box
    broker.stop();
    eventually(15, || {
        api.get("/api/v1/northbound").json()["status"]["connected"] == false
    });
    for v in [10.0, 11.0, 12.0, 13.0, 14.0] {
        write(&api, "NB.SP", v);
        std::thread::sleep(Duration::from_millis(1100));
    }
    eventually(5, || {
        api.get("/api/v1/northbound").json()["status"]["queued"]
            .as_u64()
            .unwrap()
            >= 5
    });
    broker.restart();
    // all of them arrive, in order, marked historical
    let got = host.collect(60, |m| ddata(m).iter().any(|d| d.1 == 14.0));
    let values: Vec<(f64, bool)> = ddata(&got)
        .iter()
        .filter(|d| d.1 >= 10.0)
        .map(|d| (d.1, d.2))
        .collect();
    assert_eq!(
        values,
        [
            (10.0, true),
            (11.0, true),
            (12.0, true),
            (13.0, true),
            (14.0, true)
        ],
        "{got:?} {}",
        api.get("/api/v1/northbound").body
    );
    assert!(
        got.iter().any(|(t, _)| t == "spBv1.0/Lanxi/NBIRTH/hongda"),
        "a new birth after the reconnect"
    );
    eventually(10, || {
        api.get("/api/v1/northbound").json()["status"]["queued"] == 0
    });

    // plain JSON instead
    let r = api.put_json(
        "/api/v1/northbound",
        &json!({"enabled": true, "host": "127.0.0.1", "port": broker.port, "format": "json", "node_id": "hongda"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    std::thread::sleep(Duration::from_millis(1500));
    write(&api, "NB.SP", 42.0);
    let got = host.collect(15, |m| {
        m.iter()
            .any(|(t, p)| t == "nplusx/hongda/data" && String::from_utf8_lossy(p).contains("42"))
    });
    let (_, p) = got
        .iter()
        .rev()
        .find(|(t, _)| t == "nplusx/hongda/data")
        .expect("JSON data");
    let doc: Value = serde_json::from_slice(p).unwrap();
    let v = doc["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["tag"] == "NB.SP")
        .unwrap();
    assert_eq!(
        (v["value"].clone(), v["quality"].clone(), v["area"].clone()),
        (json!(42.0), json!("good"), json!("resin"))
    );
    assert!(
        got.iter()
            .any(|(t, p)| t == "nplusx/hongda/status" && p == b"online")
    );
    // the figures, retained: whoever subscribes later gets them at once
    let late = TestClient::connect(
        broker.port,
        "late-reader",
        &["nplusx/hongda/summary"],
        false,
    );
    let got = late.collect(10, |m| !m.is_empty());
    let doc: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(doc["figures"]["box/status"], "normal", "{doc}");
}
