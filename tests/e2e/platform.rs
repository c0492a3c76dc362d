//! The data platform: tags, devices, the simulator and live values, over HTTP.

use crate::common;

use std::time::Duration;

use common::{BOOTSTRAP, Server, eventually, read_sse};
use serde_json::json;

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
    assert_eq!(st["tags"], nplusx::drivers::simulator::SIGNALS.len());

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
    // browsing is for OPC UA servers: asking a simulator is a refusal, not a gateway error
    // (found by scripts/api_fuzz.sh: it answered 502)
    let r = api.get(&format!("/api/v1/devices/{dev}/browse?node="));
    assert_eq!(
        (r.status, r.code()),
        (409, "tags.driver_cannot_browse".to_string()),
        "{}",
        r.body
    );
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

#[test]
fn history_is_queried_raw_and_in_buckets_and_exported() {
    let s = Server::demo();
    let api = s.admin_api();
    // the demo backfills eight hours, live samples follow every second
    let h = api
        .get("/api/v1/tags/R101.TT101/history?buckets=8&from=2000-01-01T00:00:00Z")
        .json();
    let buckets = h["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 8);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let from = |secs: i64| {
        time::OffsetDateTime::from_unix_timestamp(now / 1000 - secs)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let q = format!(
        "/api/v1/tags/R101.TT101/history?from={}&buckets=80",
        from(8 * 3600)
    );
    let b = api.get(&q).json();
    let full: Vec<u64> = b["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["count"].as_u64().unwrap())
        .collect();
    assert!(
        full.iter().filter(|c| **c >= 30).count() >= 75,
        "8 h of 10 s samples: {full:?}"
    );
    let max = b["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["max"].as_f64())
        .fold(0.0, f64::max);
    assert!(max > 80.0, "batches reach reaction temperature ({max})");

    std::thread::sleep(Duration::from_millis(2500));
    let raw = api
        .get(&format!(
            "/api/v1/tags/R101.TT101/history?from={}",
            from(60)
        ))
        .json();
    let pts = raw["points"].as_array().unwrap();
    assert!(
        pts.len() >= 2,
        "live samples are in history within a second or two"
    );
    assert!(
        pts.windows(2)
            .all(|w| w[0]["ts_ms"].as_i64() <= w[1]["ts_ms"].as_i64())
    );

    // bad input is named
    let r = api.get("/api/v1/tags/R101.TT101/history?from=yesterday");
    assert_eq!((r.status, r.code()), (422, "history.time".to_string()));
    assert_eq!(r.json()["error"]["field"], "from");
    let r = api.get("/api/v1/tags/R101.TT101/history?buckets=0");
    assert_eq!(r.code(), "history.buckets");
    let r = api.get(&format!(
        "/api/v1/tags/R101.TT101/history?from={}&to={}",
        from(10),
        from(20)
    ));
    assert_eq!(r.code(), "history.order");
    assert_eq!(api.get("/api/v1/tags/NOPE/history").status, 404);

    // exports: CSV with a BOM for Excel, and a real .xlsx (a zip)
    let c = s.login("li.ming");
    let csv = c.get(&format!(
        "/integration/trends/export?tags=R101.TT101,GD201&from={}&buckets=10&format=csv",
        from(3600)
    ));
    assert_eq!(csv.status, 200);
    assert!(csv.bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert!(csv.body.contains("R101.TT101") && csv.body.contains("GD201"));
    assert_eq!(csv.body.lines().count(), 1 + 2 * 10);
    let x = c.get(&format!(
        "/integration/trends/export?tags=R101.TT101&from={}&format=xlsx",
        from(600)
    ));
    assert_eq!(x.status, 200);
    assert!(x.bytes.starts_with(b"PK"), "an xlsx is a zip");
    assert!(
        c.get("/integration/trends?tags=R101.TT101")
            .body
            .contains("trend-chart")
    );
}

#[test]
fn a_hard_kill_during_fast_ingest_loses_at_most_the_last_second() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&["demo", "--bootstrap-token", BOOTSTRAP], &data, None);
    let api = s.admin_api();
    // a fast device: 200 tags at 20 Hz
    let r = api.post_json(
        "/api/v1/devices",
        &json!({"id": 0, "name": "fast", "config": {"driver": "simulator", "interval_s": 0.05, "seed": 9, "speed": 1.0}, "enabled": true}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let dev = r.json()["id"].as_u64().unwrap();
    for i in 0..200 {
        let t = json!({"id": 0, "name": format!("FAST.{i:03}"), "data_type": "float", "resolution": 0.01,
            "source": {"kind": "simulator", "device": dev, "signal": "r101.temperature"}});
        assert_eq!(api.post_json("/api/v1/tags", &t).status, 201);
    }
    std::thread::sleep(Duration::from_secs(4));
    // what is certainly committed: samples older than three flush periods (the history API
    // also shows the uncommitted buffer, which a hard kill may lose)
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let cutoff = now_ms() - 3_000;
    let committed = |h: &serde_json::Value| {
        h["points"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["ts_ms"].as_i64().is_some_and(|t| t <= cutoff))
            .count()
    };
    let before = committed(
        &api.get("/api/v1/tags/FAST.000/history?from=2000-01-01T00:00:00Z")
            .json(),
    );
    assert!(before > 20, "{before}");
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    s.kill_hard();

    let out = common::cli(&["audit", "verify", "--data", data.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "the store opens and its chain is intact: {}",
        common::text(&out)
    );
    let s2 = Server::start(&["serve"], &data, None);
    let h = s2
        .admin_api()
        .get("/api/v1/tags/FAST.000/history?from=2000-01-01T00:00:00Z")
        .json();
    let pts = h["points"].as_array().unwrap();
    let last = pts
        .iter()
        .filter_map(|p| p["ts_ms"].as_i64())
        .filter(|t| *t <= killed_at + 100)
        .max()
        .unwrap();
    assert!(
        killed_at - last < 2_000,
        "at most the last second is lost ({} ms)",
        killed_at - last
    );
    assert!(committed(&h) >= before, "nothing committed is lost");
    // samples are whole: 20 Hz, no duplicates
    let ts: Vec<i64> = pts.iter().map(|p| p["ts_ms"].as_i64().unwrap()).collect();
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "no duplicates after recovery"
    );
}

#[test]
fn tags_go_out_to_a_spreadsheet_and_come_back() {
    let s = Server::demo();
    let api = s.admin_api();
    let xlsx = api.get("/api/v1/tag-sheet?format=xlsx&area=resin");
    assert_eq!(xlsx.status, 200);
    assert!(
        xlsx.header("content-disposition")
            .unwrap()
            .contains("tags.xlsx")
    );
    assert_eq!(&xlsx.bytes[..2], b"PK");
    // the export imports back unchanged
    let r = api.post_multipart(
        "/api/v1/tag-sheet",
        "file",
        "tags.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &xlsx.bytes,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"created": 0, "updated": 0}));

    // an engineer's sheet with mistakes: the console lists them, nothing is imported
    let before = api.get("/api/v1/tags").json().as_array().unwrap().len();
    let eng = s.login("admin");
    let csv = "name,data_type,source,unit,range_lo,range_hi,area\n\
        LAB.AV,float,manual,mgKOH/g,0,50,quality\n\
        LAB.OH,floaty,manual,mgKOH/g,0,50,quality\n\
        LAB.VISC,float,manual,mPa·s,100,10,quality\n";
    let page = eng.post_multipart(
        &format!("/integration/tag-sheet?csrf={}", eng.csrf()),
        "file",
        "lab.csv",
        "text/csv",
        csv.as_bytes(),
    );
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("数据类型须是")
            && page.body.contains(">3<")
            && page.body.contains(">4<"),
        "{}",
        page.body
    );
    assert_eq!(
        api.get("/api/v1/tags").json().as_array().unwrap().len(),
        before
    );
    // fixed, it goes in
    let fixed = csv.replace("floaty", "float").replace("100,10", "10,100");
    let page = eng.post_multipart(
        &format!("/integration/tag-sheet?csrf={}", eng.csrf()),
        "file",
        "lab.csv",
        "text/csv",
        fixed.as_bytes(),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("新建 3 个"), "{}", page.body);
    assert_eq!(
        api.get("/api/v1/tags/LAB.VISC").json()["range_hi"],
        json!(100.0)
    );
    // a file that is not a sheet
    let r = api.post_multipart(
        "/api/v1/tag-sheet",
        "file",
        "x.bin",
        "application/octet-stream",
        b"\x00\x01\x02garbage",
    );
    assert_eq!(
        (r.status, r.json()["error"]["field"].clone()),
        (422, json!("file")),
        "{}",
        r.body
    );
}
