//! The data platform: tags, devices, the simulator and live values, over HTTP.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{BOOTSTRAP, Server, eventually};
use serde_json::json;

/// Reads a Server-Sent Events stream for up to `secs`, until `until` appears.
fn read_sse(base: &str, path: &str, until: &str, secs: u64) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {BOOTSTRAP}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if String::from_utf8_lossy(&out).contains(until) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_demo_plant_streams_live_values() {
    let s = Server::demo();
    let api = s.admin_api();
    eventually(10, || {
        let tags = api.get("/api/v1/tags").json();
        tags.as_array().unwrap().len() >= 20
            && tags
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["current"]["quality"]["q"] == "good")
    });
    let t = api.get("/api/v1/tags/R101.TT101").json();
    assert_eq!(t["unit"], "°C");
    let v = t["current"]["value"].as_f64().unwrap();
    assert!((0.0..200.0).contains(&v));

    let text = read_sse(
        &s.base,
        "/api/v1/stream/tags?names=R101.TT101,GD201",
        "event: values",
        10,
    );
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    assert!(text.contains("event: snapshot"), "{text}");
    assert!(text.contains("event: values"), "{text}");
    assert!(text.contains("\"name\":\"R101.TT101\""));
    assert!(
        !text.contains("\"name\":\"R101.PT101\""),
        "only the tags asked for"
    );

    let dev = api.get("/api/v1/devices").json();
    let id = dev[0]["id"].as_u64().unwrap();
    let st = api.get(&format!("/api/v1/devices/{id}/status")).json();
    assert_eq!(st["connected"], true);
    assert!(st["requests"].as_u64().unwrap() > 0);
    assert_eq!(st["tags"], 22);

    // the live table page carries the names to subscribe to
    let page = s.login("li.ming").get("/integration/tags?area=resin").body;
    assert!(page.contains("data-live=\""));
    assert!(page.contains("R101.TT101") && !page.contains("TK201.LT"));
}

#[test]
fn tags_are_configured_through_the_api_with_clear_errors() {
    let s = Server::demo();
    let api = s.admin_api();
    let dev = api.get("/api/v1/devices").json()[0]["id"].as_u64().unwrap();
    let manual = json!({
        "id": 0, "name": "LAB.AV01", "description_zh": "酸值（化验）", "unit": "mgKOH/g",
        "data_type": "float", "source": {"kind": "manual"}, "range_lo": 0.0, "range_hi": 50.0,
        "area": "qc"
    });
    let r = api.post_json("/api/v1/tags", &manual);
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.json()["id"].as_u64().unwrap() > 20);
    let r = api.post_json("/api/v1/tags", &manual);
    assert_eq!((r.status, r.code()), (422, "tags.name_taken".to_string()));
    let mut bad = manual.clone();
    bad["name"] = json!("X1");
    bad["source"] = json!({"kind": "simulator", "device": dev, "signal": "r101.nonexistent"});
    let r = api.post_json("/api/v1/tags", &bad);
    assert_eq!((r.status, r.code()), (422, "tags.signal".to_string()));
    assert_eq!(r.json()["error"]["field"], "source");
    let mut bad = manual.clone();
    bad["name"] = json!("X2");
    bad["range_lo"] = json!(10.0);
    bad["range_hi"] = json!(1.0);
    assert_eq!(api.post_json("/api/v1/tags", &bad).code(), "tags.range");
    assert_eq!(api.get("/api/v1/tags/X1").status, 404);

    // a simulator tag starts delivering values
    let mut sim = manual.clone();
    sim["name"] = json!("R101.TT101.COPY");
    sim["source"] = json!({"kind": "simulator", "device": dev, "signal": "r101.temperature"});
    sim["range_hi"] = json!(200.0);
    assert_eq!(api.post_json("/api/v1/tags", &sim).status, 201);
    eventually(10, || {
        api.get("/api/v1/tags/R101.TT101.COPY").json()["current"]["quality"]["q"] == "good"
    });

    // a device in use cannot be deleted; switched off, its tags turn bad
    assert_eq!(api.delete(&format!("/api/v1/devices/{dev}")).status, 409);
    let mut d = api.get(&format!("/api/v1/devices/{dev}")).json();
    d["enabled"] = json!(false);
    assert_eq!(
        api.put_json(&format!("/api/v1/devices/{dev}"), &d).status,
        200
    );
    eventually(5, || {
        let c = &api.get("/api/v1/tags/R101.TT101").json()["current"];
        c["quality"]["q"] == "bad" && c["quality"]["reason"] == "device_disabled"
    });
    // audited
    let log = api.get("/api/v1/audit?action=tags.").json();
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"tags.device.update") && actions.contains(&"tags.tag.create"));
}

#[test]
fn the_platform_follows_its_module_switch_and_permissions() {
    let s = Server::demo();
    let api = s.admin_api();
    let viewer = s.login("liu.yang");
    assert_eq!(viewer.get("/integration/tags").status, 200);
    assert_eq!(viewer.get("/integration/tags/new").status, 403);
    assert_eq!(
        api.post_json("/api/v1/modules/integration/disable", &json!({}))
            .status,
        200
    );
    assert_eq!(api.get("/api/v1/tags").status, 404);
    assert_eq!(api.get("/api/v1/devices").status, 404);
    assert_eq!(viewer.get("/integration").status, 404);
    assert_eq!(
        api.post_json("/api/v1/modules/integration/enable", &json!({}))
            .status,
        200
    );
    assert_eq!(api.get("/api/v1/tags").status, 200);
    let _ = BOOTSTRAP;
}
