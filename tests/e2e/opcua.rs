//! OPC UA with a real server on loopback (async-opcua's server plays the PLC): the admin
//! browses it and adds tags from what it finds, values arrive by subscription in the tags'
//! types, writes land in the server as the node's own type, unknown nodes are bad without
//! harming the rest, and a server restart is survived. Logins: anonymous, user name and
//! password, and a signed and encrypted channel.

use crate::common;
use crate::common::opcua as ua;

use std::time::Duration;

use common::{BOOTSTRAP, Client, Server, eventually};
use opcua::types::Variant;
use serde_json::{Value, json};
use ua::UaServer;

fn device(api: &Client, name: &str, config: Value) -> u64 {
    let r = api.post_json(
        "/api/v1/devices",
        &json!({"id": 0, "name": name, "enabled": true, "config": config}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_u64().unwrap()
}

fn tag(api: &Client, name: &str, data_type: &str, device: u64, node: &str, extra: Value) {
    let mut body = json!({"id": 0, "name": name, "data_type": data_type,
        "source": {"kind": "opc_ua", "device": device, "node_id": node}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = api.post_json("/api/v1/tags", &body);
    assert_eq!(r.status, 201, "{name}: {}", r.body);
}

fn current(api: &Client, name: &str) -> Value {
    api.get(&format!("/api/v1/tags/{name}")).json()["current"].clone()
}

fn quality(api: &Client, name: &str) -> (String, String) {
    let c = current(api, name);
    (
        c["quality"]["q"].as_str().unwrap_or("").to_string(),
        c["quality"]["reason"].as_str().unwrap_or("").to_string(),
    )
}

fn good(api: &Client, name: &str, v: Value) -> bool {
    let c = current(api, name);
    c["quality"]["q"] == "good" && c["value"] == v
}

fn status(api: &Client, dev: u64) -> Value {
    api.get(&format!("/api/v1/devices/{dev}/status")).json()
}

#[test]
fn a_server_is_browsed_read_written_and_survives_a_restart() {
    let mut plc = UaServer::start();
    let s = Server::demo();
    let api = s.admin_api();
    let dev = device(
        &api,
        "DCS gateway",
        json!({"driver": "opc_ua", "endpoint": plc.endpoint(), "interval_ms": 200}),
    );
    eventually(20, || status(&api, dev)["connected"] == true);

    // browsing: the Objects folder holds the plant folder, which holds the variables
    let root = api.get(&format!("/api/v1/devices/{dev}/browse"));
    assert_eq!(root.status, 200, "{}", root.body);
    let plant = root
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["browse_name"] == "Plant")
        .cloned()
        .expect("Plant folder");
    assert_eq!(plant["class"], "object");
    let plant_node = plant["node_id"].as_str().unwrap().to_string();
    assert_eq!(plant_node, plc.node("Plant"));
    let list = api
        .get(&format!(
            "/api/v1/devices/{dev}/browse?node={}",
            urlencode(&plant_node)
        ))
        .json();
    let temp = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["browse_name"] == "R101.Temperature")
        .cloned()
        .expect("temperature variable");
    assert_eq!(temp["class"], "variable");
    assert_eq!(temp["ua_type"], "Double");
    assert_eq!(temp["data_type"], "float");
    assert_eq!(temp["value"], "85.5");
    assert_eq!(temp["tags"], json!([]));

    // the admin adds tags from the browse page: the link opens the form filled in
    let admin = s.login("admin");
    let page = admin
        .get(&format!(
            "/integration/devices/{dev}/browse?node={}",
            urlencode(&plant_node)
        ))
        .body;
    assert!(page.contains("R101.Temperature"), "{page}");
    let prefix = "/integration/tags/new?source_kind=opc_ua";
    let query = common::attr(&page, prefix).expect("an add-as-tag link");
    let form = admin
        .get(&format!("{prefix}{}", query.replace("&amp;", "&")))
        .body;
    // the first variable's node, its name and its type are filled in
    let first = &list.as_array().unwrap()[0];
    assert!(
        form.contains(&format!("value=\"{}\"", first["node_id"].as_str().unwrap())),
        "the node is filled in: {form}"
    );
    assert!(form.contains(&format!(
        "value=\"{}\"",
        first["browse_name"].as_str().unwrap()
    )));
    assert!(form.contains(r#"<option value="opc_ua" selected>"#));

    tag(
        &api,
        "DCS.TT1",
        "float",
        dev,
        &plc.node("R101.Temperature"),
        json!({}),
    );
    // a float transmitter in MPa shown in kPa
    tag(
        &api,
        "DCS.PT1",
        "float",
        dev,
        &plc.node("R101.Pressure"),
        json!({"scaling": {"raw_lo": 0, "raw_hi": 1, "eng_lo": 0, "eng_hi": 1000}, "resolution": 0.1}),
    );
    tag(
        &api,
        "DCS.P1RUN",
        "bool",
        dev,
        &plc.node("P101.Running"),
        json!({}),
    );
    tag(
        &api,
        "DCS.FQ1",
        "int",
        dev,
        &plc.node("FQ101.Total"),
        json!({}),
    );
    tag(
        &api,
        "DCS.SP1",
        "int",
        dev,
        &plc.node("TIC101.SP"),
        json!({"writable": true, "range_lo": 0, "range_hi": 100}),
    );
    tag(
        &api,
        "DCS.BATCH",
        "string",
        dev,
        &plc.node("R101.Batch"),
        json!({}),
    );
    // the node id is stored in its canonical form
    tag(
        &api,
        "DCS.TT1B",
        "float",
        dev,
        &format!(" {} ", plc.node("R101.Temperature")),
        json!({}),
    );
    assert_eq!(
        api.get("/api/v1/tags/DCS.TT1B").json()["source"]["node_id"],
        plc.node("R101.Temperature")
    );
    tag(
        &api,
        "XX999",
        "float",
        dev,
        &plc.node("NoSuchNode"),
        json!({}),
    );
    // a node id that is none is refused and nothing is created
    let r = api.post_json(
        "/api/v1/tags",
        &json!({"id": 0, "name": "BAD", "data_type": "float",
            "source": {"kind": "opc_ua", "device": dev, "node_id": "R101.Temperature"}}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "tags.node_id");
    assert_eq!(api.get("/api/v1/tags/BAD").status, 404);

    eventually(20, || good(&api, "DCS.TT1", json!(85.5)));
    eventually(10, || {
        let v = current(&api, "DCS.PT1")["value"].as_f64().unwrap_or(0.0);
        (v - 420.0).abs() < 0.1
    });
    eventually(10, || good(&api, "DCS.P1RUN", json!(true)));
    eventually(10, || good(&api, "DCS.FQ1", json!(1200)));
    eventually(10, || good(&api, "DCS.BATCH", json!("B2026-118")));
    eventually(10, || good(&api, "DCS.TT1B", json!(85.5)));
    // the unknown node is bad and says why; the rest of the device is unaffected
    eventually(10, || {
        quality(&api, "XX999") == ("bad".to_string(), "config_error".to_string())
    });
    assert!(
        status(&api, dev)["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("NoSuchNode"),
        "{}",
        status(&api, dev)
    );

    // the PLC changes a value: it arrives by subscription
    plc.set("R101.Temperature", 91.25f64);
    eventually(10, || good(&api, "DCS.TT1", json!(91.25)));
    let browsed = api
        .get(&format!(
            "/api/v1/devices/{dev}/browse?node={}",
            urlencode(&plant_node)
        ))
        .json();
    let row = browsed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["browse_name"] == "R101.Temperature")
        .cloned()
        .unwrap();
    assert_eq!(row["tags"], json!(["DCS.TT1", "DCS.TT1B"]));

    // a setpoint written through the API lands in the server as an Int16
    let w = api.post_json("/api/v1/tags/DCS.SP1/write", &json!({"value": 72}));
    assert_eq!(w.status, 200, "{}", w.body);
    assert_eq!(plc.get("TIC101.SP"), Some(Variant::Int16(72)));
    eventually(10, || good(&api, "DCS.SP1", json!(72)));
    // negative setpoints reach an Int16 node exactly
    let mut sp: Value = api.get("/api/v1/tags/DCS.SP1").json();
    sp["range_lo"] = json!(-50);
    sp.as_object_mut().unwrap().remove("current");
    let r = api.put_json("/api/v1/tags/DCS.SP1", &sp);
    assert_eq!(r.status, 200, "{}", r.body);
    let w = api.post_json("/api/v1/tags/DCS.SP1/write", &json!({"value": -3}));
    assert_eq!(w.status, 200, "{}", w.body);
    assert_eq!(plc.get("TIC101.SP"), Some(Variant::Int16(-3)));
    let w = api.post_json("/api/v1/tags/DCS.SP1/write", &json!({"value": 72}));
    assert_eq!(w.status, 200, "{}", w.body);
    // out of the tag's range: refused before anything is sent
    let w = api.post_json("/api/v1/tags/DCS.SP1/write", &json!({"value": 150}));
    assert_eq!(w.status, 422, "{}", w.body);
    assert_eq!(plc.get("TIC101.SP"), Some(Variant::Int16(72)));
    // the write is in the audit log with the old and the new value
    let audit = api
        .get("/api/v1/audit?action=tags.tag.write&q=DCS.SP1")
        .body;
    assert!(audit.contains("72"), "{audit}");

    // the server goes away: the tags go bad; it comes back: values return without help
    plc.stop();
    eventually(30, || {
        quality(&api, "DCS.TT1") == ("bad".to_string(), "comm_failure".to_string())
    });
    assert_eq!(status(&api, dev)["connected"], false);
    std::thread::sleep(Duration::from_secs(1));
    plc.restart(Duration::from_millis(0));
    // a fresh server starts with its initial values
    eventually(60, || good(&api, "DCS.TT1", json!(85.5)));
    eventually(10, || good(&api, "DCS.FQ1", json!(1200)));
    plc.set("FQ101.Total", 1300i32);
    eventually(10, || good(&api, "DCS.FQ1", json!(1300)));
    assert_eq!(status(&api, dev)["connected"], true);
}

#[test]
fn user_names_passwords_encryption_and_certificates() {
    let mut plc = UaServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        &["serve", "--bootstrap-token", BOOTSTRAP],
        &tmp.path().join("data"),
        None,
    );
    s.keep_tempdir(tmp);
    let api = s.admin_api();

    // signed and encrypted, with a user name: values arrive, the password is never shown
    let secure = device(
        &api,
        "Secure DCS",
        json!({"driver": "opc_ua", "endpoint": plc.endpoint(), "security": "sign_and_encrypt",
            "username": ua::USER, "password": ua::PASSWORD, "interval_ms": 200}),
    );
    tag(
        &api,
        "TT201",
        "float",
        secure,
        &plc.node("R101.Temperature"),
        json!({}),
    );
    eventually(30, || good(&api, "TT201", json!(85.5)));
    let shown = api.get(&format!("/api/v1/devices/{secure}")).body;
    assert!(!shown.contains(ua::PASSWORD), "{shown}");
    assert!(shown.contains(r#""password":{"set":true}"#), "{shown}");
    // the box's application certificate, and the server's certificate pinned for the device
    let pki = s.data.join("opcua-pki");
    assert!(pki.join("own/cert.der").is_file());
    assert!(pki.join(format!("pins/device-{secure}")).is_file());

    // moving the device elsewhere needs the password typed again
    let mut moved: Value = api.get(&format!("/api/v1/devices/{secure}")).json();
    moved["config"]["endpoint"] = json!("opc.tcp://10.9.9.9:4840/");
    let r = api.put_json(&format!("/api/v1/devices/{secure}"), &moved);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "common.secret_reenter");

    // a wrong password: not connected, and the server's reason is on the device
    let wrong = device(
        &api,
        "Wrong password",
        json!({"driver": "opc_ua", "endpoint": plc.endpoint(), "security": "sign_and_encrypt",
            "username": ua::USER, "password": "nope", "interval_ms": 200}),
    );
    tag(
        &api,
        "TT202",
        "float",
        wrong,
        &plc.node("R101.Temperature"),
        json!({}),
    );
    eventually(30, || {
        let e = status(&api, wrong)["last_error"]
            .as_str()
            .unwrap_or("")
            .to_string();
        e.contains("BadUserAccessDenied") || e.contains("BadIdentityTokenRejected")
    });
    assert_eq!(status(&api, wrong)["connected"], false);
    assert_eq!(current(&api, "TT202")["value"], Value::Null);

    // a password over an unsecured channel is not sent when the server would get it in
    // clear text (this server does not encrypt user tokens on its None endpoint)
    let plain = device(
        &api,
        "Plain password",
        json!({"driver": "opc_ua", "endpoint": plc.endpoint(), "username": ua::USER,
            "password": ua::PASSWORD, "interval_ms": 200}),
    );
    eventually(20, || {
        status(&api, plain)["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("unencrypted")
    });
    assert_eq!(status(&api, plain)["connected"], false);

    // the secure endpoint takes no anonymous sessions: said plainly
    let anon = device(
        &api,
        "Anonymous secure",
        json!({"driver": "opc_ua", "endpoint": plc.endpoint(), "security": "sign_and_encrypt"}),
    );
    eventually(20, || {
        status(&api, anon)["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("anonymous")
    });

    // the server comes back with another certificate: refused until the admin trusts it
    plc.replace_certificate();
    eventually(90, || {
        status(&api, secure)["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("certificate changed")
    });
    assert_ne!(quality(&api, "TT201").0, "good");
    let trust = api.post_form(
        &format!("/integration/devices/{secure}/trust-certificate"),
        &[],
    );
    assert_eq!(trust.status, 303, "{}", trust.body);
    eventually(90, || good(&api, "TT201", json!(85.5)));
    let audit = api
        .get("/api/v1/audit?action=tags.device.trust_certificate")
        .body;
    assert!(audit.contains(&format!("device:{secure}")), "{audit}");

    // bad settings are refused and change nothing
    for (config, code) in [
        (
            json!({"driver": "opc_ua", "endpoint": "http://127.0.0.1:4840"}),
            "tags.ua_endpoint",
        ),
        (
            json!({"driver": "opc_ua", "endpoint": plc.endpoint(), "interval_ms": 10}),
            "tags.ua_interval",
        ),
    ] {
        let r = api.post_json(
            "/api/v1/devices",
            &json!({"id": 0, "name": "Bad", "enabled": true, "config": config}),
        );
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.code(), code);
    }
    assert!(!api.get("/api/v1/devices").body.contains("\"Bad\""));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
