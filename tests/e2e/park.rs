//! The park role: two demo plants publish Sparkplug B northbound to one Mosquitto on
//! loopback; a third box, configured as the park's, follows both and shows their key
//! figures, alarms and safety standing side by side — from what it hears, not from their
//! stores — gets their state back after its own restart (rebirth requests), and shows a
//! plant whose box died as offline with what it said last.

use serde_json::{Value, json};

use nplusx::sparkplug;

use crate::common::broker::{Mosquitto, TestClient};
use crate::common::{BOOTSTRAP, Server, eventually};

fn fresh() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&["serve", "--bootstrap-token", BOOTSTRAP], &data, None);
    s.keep_tempdir(tmp);
    s
}

fn plant(park: &Server, node: &str) -> Option<Value> {
    park.admin_api().get("/api/v1/park").json()["plants"]
        .as_array()?
        .iter()
        .find(|p| p["group"] == "Lanxi" && p["node"] == node)
        .cloned()
}

fn figure(park: &Server, node: &str, key: &str) -> Value {
    plant(park, node).map_or(Value::Null, |p| p["figures"][key].clone())
}

fn count(api: &crate::common::Client, path: &str) -> usize {
    api.get(path).json().as_array().map_or(usize::MAX, Vec::len)
}

#[test]
fn a_park_box_shows_two_plants_side_by_side_and_knows_when_one_dies() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let park = fresh();
    let api = park.admin_api();
    // bad input changes nothing
    let bad = api.put_json(
        "/api/v1/park",
        &json!({"enabled": true, "host": "127.0.0.1", "port": broker.port, "groups": ["Lan/xi"]}),
    );
    assert_eq!(
        (bad.status, bad.json()["error"]["field"].clone()),
        (422, json!("groups"))
    );
    assert_eq!(api.get("/api/v1/park").json()["config"]["enabled"], false);
    let r = api.put_json(
        "/api/v1/park",
        &json!({"enabled": true, "host": "127.0.0.1", "port": broker.port, "groups": ["Lanxi"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(10, || {
        api.get("/api/v1/park").json()["status"]["connected"] == true
    });
    // its Sparkplug host state, retained
    let watcher = TestClient::connect(broker.port, "state-watcher", &["spBv1.0/STATE/#"], false);
    let got = watcher.collect(10, |m| !m.is_empty());
    assert_eq!(got[0].0, "spBv1.0/STATE/nplusx-park");
    let state: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(state["online"], true, "{state}");

    let a = Server::demo();
    let mut b = Server::demo();
    for (s, name, node) in [
        (&a, "兰溪红达化工有限公司", "hongda"),
        (&b, "浙江金泰新材料有限公司", "jintai"),
    ] {
        let box_api = s.admin_api();
        let mut p = box_api.get("/api/v1/profile").json();
        p["company_name"] = json!(name);
        let r = box_api.put_json("/api/v1/profile", &p);
        assert_eq!(r.status, 200, "{}", r.body);
        let r = box_api.put_json(
            "/api/v1/northbound",
            &json!({"enabled": true, "host": "127.0.0.1", "port": broker.port, "group_id": "Lanxi", "node_id": node}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // another park's group on the same broker is not followed
    let stranger = TestClient::connect(broker.port, "stranger", &[], false);
    let birth = sparkplug::Payload {
        seq: Some(0),
        ..Default::default()
    };
    stranger.publish("spBv1.0/Elsewhere/NBIRTH/x", sparkplug::encode(&birth));

    eventually(60, || {
        figure(&park, "hongda", "enterprise/name") == "兰溪红达化工有限公司"
            && figure(&park, "jintai", "enterprise/name") == "浙江金泰新材料有限公司"
            && figure(&park, "hongda", "safety/status").is_string()
            && figure(&park, "jintai", "equipment/status").is_string()
    });
    let all = api.get("/api/v1/park").json();
    assert_eq!(all["plants"].as_array().unwrap().len(), 2, "{all}");

    // the figures are the plants' own: what each box's API says of itself
    for (s, node) in [(&a, "hongda"), (&b, "jintai")] {
        let box_api = s.admin_api();
        eventually(20, || {
            figure(&park, node, "safety/hazards_open")
                == json!(count(&box_api, "/api/v1/safety/hazards?state=open") as f64)
                && figure(&park, node, "safety/hazards_overdue")
                    == json!(count(&box_api, "/api/v1/safety/hazards?state=overdue") as f64)
                && figure(&park, node, "alarms/active")
                    == json!(
                        box_api.get("/api/v1/alarms/summary").json()["active"]
                            .as_f64()
                            .unwrap()
                    )
        });
        let p = plant(&park, node).unwrap();
        assert_eq!(p["online"], true);
        let standing = ["normal", "attention", "danger"];
        assert!(
            standing.contains(&p["figures"]["box/status"].as_str().unwrap()),
            "{p}"
        );
        // the plant's tags by area, with values
        let detail = api.get(&format!("/api/v1/park/Lanxi/{node}")).json();
        let tags: usize = detail["areas"]
            .as_object()
            .unwrap()
            .values()
            .map(|a| a.as_array().unwrap().len())
            .sum();
        assert!(tags >= 20, "{detail}");
    }
    // the demo's own alarms, in the list the park shows
    let active = figure(&park, "hongda", "alarms/active").as_f64().unwrap();
    let list: Vec<Value> =
        serde_json::from_str(figure(&park, "hongda", "alarms/list").as_str().unwrap()).unwrap();
    assert_eq!(list.len(), (active as usize).min(10), "{list:?}");

    // a change on one plant reaches the park, the other stays as it was
    let box_api = a.admin_api();
    let mut p = box_api.get("/api/v1/profile").json();
    p["company_name"] = json!("兰溪红达化工（新名）");
    assert_eq!(box_api.put_json("/api/v1/profile", &p).status, 200);
    eventually(20, || {
        figure(&park, "hongda", "enterprise/name") == "兰溪红达化工（新名）"
    });
    assert_eq!(
        figure(&park, "jintai", "enterprise/name"),
        "浙江金泰新材料有限公司"
    );

    // the board, side by side, and one plant's page
    let page = api.get("/integration/park");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("兰溪红达化工（新名）") && page.body.contains("浙江金泰新材料有限公司"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Elsewhere"));
    assert!(plant(&park, "x").is_none());
    let one = api.get("/integration/park/Lanxi/jintai");
    assert_eq!(one.status, 200);
    assert!(one.body.contains("浙江金泰新材料有限公司"));
    assert_eq!(api.get("/integration/park/Lanxi/nobody").status, 404);

    // the park box restarts: it asks the boxes for births again
    let mut park = park;
    let data = park.data.clone();
    let tmp = park.take_tempdir();
    park.stop();
    let mut park = Server::start(&["serve"], &data, None);
    let online = |park: &Server, node: &str| plant(park, node).is_some_and(|p| p["online"] == true);
    eventually(30, || {
        online(&park, "hongda")
            && online(&park, "jintai")
            && figure(&park, "hongda", "enterprise/name") == "兰溪红达化工（新名）"
            && figure(&park, "jintai", "enterprise/name") == "浙江金泰新材料有限公司"
    });
    let status = park.admin_api().get("/api/v1/park").json()["status"].clone();
    assert!(status["rebirths"].as_u64().unwrap() >= 2, "{status}");

    // a plant's box dies: the broker delivers its will (NDEATH), the park shows it offline
    // and keeps what it said last
    b.kill_hard();
    eventually(20, || {
        plant(&park, "jintai").is_some_and(|p| p["online"] == false)
    });
    let j = plant(&park, "jintai").unwrap();
    assert!(j["offline_since_ms"].is_i64(), "{j}");
    assert_eq!(j["figures"]["enterprise/name"], "浙江金泰新材料有限公司");
    assert_eq!(plant(&park, "hongda").unwrap()["online"], true);
    let page = park.admin_api().get("/integration/park").body;
    assert!(page.contains("浙江金泰新材料有限公司"));

    // the park box restarts while that plant is down: still listed, offline, not forgotten
    park.stop();
    let park = Server::start(&["serve"], &data, None);
    let api = park.admin_api();
    eventually(30, || online(&park, "hongda"));
    let j = plant(&park, "jintai").expect("a plant down is remembered");
    assert_eq!(j["online"], false, "{j}");
    assert_eq!(j["figures"]["enterprise/name"], "浙江金泰新材料有限公司");

    // taken out of service: forgotten, audited
    assert_eq!(api.delete("/api/v1/park/Lanxi/jintai").status, 204);
    assert!(plant(&park, "jintai").is_none());
    assert_eq!(api.delete("/api/v1/park/Lanxi/jintai").status, 404);
    let audit = api.get("/api/v1/audit?action=park.plant.forget").body;
    assert!(audit.contains("Lanxi/jintai"), "{audit}");
    drop(tmp);
}
