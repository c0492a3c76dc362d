//! Modbus with real peers on loopback: a tokio-modbus TCP server and an RTU server on a
//! pseudo-terminal play the PLCs. Values arrive decoded and scaled; exceptions, a garbling
//! peer and a silent PLC make only the affected tags bad; the PLC restarting is survived;
//! a setpoint written through the API lands in the PLC's registers, and bad writes never
//! leave the appliance.

use crate::common;

use std::time::Duration;

use common::plc::{RtuPlc, TcpPlc};
use common::{BOOTSTRAP, Server, eventually};
use serde_json::{Value, json};

fn fresh() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut s = Server::start(&["serve", "--bootstrap-token", BOOTSTRAP], &data, None);
    s.keep_tempdir(tmp);
    s
}

fn device(api: &common::Client, body: Value) -> u64 {
    let r = api.post_json("/api/v1/devices", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_u64().unwrap()
}

fn tag(api: &common::Client, name: &str, data_type: &str, device: u64, point: Value, extra: Value) {
    let mut body = json!({"id": 0, "name": name, "data_type": data_type,
        "source": {"kind": "modbus", "device": device}});
    for (k, v) in point.as_object().unwrap() {
        body["source"][k] = v.clone();
    }
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = api.post_json("/api/v1/tags", &body);
    assert_eq!(r.status, 201, "{name}: {}", r.body);
}

fn current(api: &common::Client, name: &str) -> Value {
    api.get(&format!("/api/v1/tags/{name}")).json()["current"].clone()
}

fn quality(api: &common::Client, name: &str) -> (String, String) {
    let c = current(api, name);
    (
        c["quality"]["q"].as_str().unwrap_or("").to_string(),
        c["quality"]["reason"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn a_tcp_plc_is_read_written_and_survives_faults() {
    let mut plc = TcpPlc::start();
    {
        let mut m = plc.memory.lock().unwrap();
        m.set_f32(0, 85.5); // reactor temperature, float32 ABCD
        m.holding[2] = 2048; // pressure transmitter 0–4095 → 0–1.6 MPa
        let v = (-123_456i32) as u32; // int32, word-swapped (CDAB)
        m.holding[10] = v as u16;
        m.holding[11] = (v >> 16) as u16;
        m.holding[20] = 0b1000; // bit 3: pump running
        m.set_f32(100, 60.0); // temperature setpoint
        m.holding[201] = 7; // a neighbour of a missing register
        m.missing = vec![200];
        m.input[0] = (-40i16) as u16;
        m.coils[5] = true;
    }
    let s = fresh();
    let api = s.admin_api();
    let dev = device(
        &api,
        json!({"id": 0, "name": "R101 PLC", "enabled": true, "config": {"driver": "modbus_tcp",
            "host": "127.0.0.1", "port": plc.addr.port(), "unit": 1, "timeout_ms": 500,
            "groups": [{"name": "default", "interval_ms": 200}, {"name": "slow", "interval_ms": 1000}]}}),
    );
    tag(
        &api,
        "TT101",
        "float",
        dev,
        json!({"area": "holding_register", "address": 0, "format": "float32"}),
        json!({}),
    );
    tag(
        &api,
        "PT101",
        "float",
        dev,
        json!({"area": "holding_register", "address": 2, "format": "uint16"}),
        json!({"scaling": {"raw_lo": 0, "raw_hi": 4095, "eng_lo": 0, "eng_hi": 1.6}, "resolution": 0.0001}),
    );
    tag(
        &api,
        "FQ101",
        "int",
        dev,
        json!({"area": "holding_register", "address": 10, "format": "int32", "order": "cdab"}),
        json!({}),
    );
    tag(
        &api,
        "P101.RUN",
        "bool",
        dev,
        json!({"area": "holding_register", "address": 20, "format": "bit", "bit": 3}),
        json!({}),
    );
    tag(
        &api,
        "TIC101.SP",
        "float",
        dev,
        json!({"area": "holding_register", "address": 100, "format": "float32", "group": "slow"}),
        json!({"writable": true, "range_lo": 0, "range_hi": 100}),
    );
    tag(
        &api,
        "BAD200",
        "int",
        dev,
        json!({"area": "holding_register", "address": 200, "format": "uint16"}),
        json!({}),
    );
    tag(
        &api,
        "OK201",
        "int",
        dev,
        json!({"area": "holding_register", "address": 201, "format": "uint16"}),
        json!({}),
    );
    tag(
        &api,
        "TT900",
        "float",
        dev,
        json!({"area": "input_register", "address": 0, "format": "int16"}),
        json!({}),
    );
    tag(
        &api,
        "XV5",
        "bool",
        dev,
        json!({"area": "coil", "address": 5, "format": "bit"}),
        json!({"writable": true}),
    );

    // values arrive decoded and scaled
    eventually(10, || {
        current(&api, "TIC101.SP")["value"] == json!(60.0)
            && current(&api, "XV5")["value"] == json!(true)
    });
    assert_eq!(current(&api, "TT101")["value"], json!(85.5));
    let p = current(&api, "PT101")["value"].as_f64().unwrap();
    assert!((p - 2048.0 / 4095.0 * 1.6).abs() < 1e-3, "{p}");
    assert_eq!(current(&api, "FQ101")["value"], json!(-123_456));
    assert_eq!(current(&api, "P101.RUN")["value"], json!(true));
    assert_eq!(current(&api, "TT900")["value"], json!(-40.0));

    // the missing register: only its tag is bad, its neighbour is read
    eventually(10, || {
        quality(&api, "BAD200") == ("bad".into(), "config_error".into())
    });
    assert_eq!(quality(&api, "OK201").0, "good");
    assert_eq!(current(&api, "OK201")["value"], json!(7));
    let st = api.get(&format!("/api/v1/devices/{dev}/status")).json();
    assert_eq!(st["connected"], true);
    assert!(st["errors"].as_u64().unwrap() >= 1);
    assert!(
        st["last_error"].as_str().unwrap().contains("exception"),
        "{st}"
    );
    // coalesced: HR 0–20 in one read, 100 (slow group), 200 and 201 alone after the split,
    // one input register read, one coil read
    assert_eq!(st["reads_per_poll"], 6, "{st}");

    // a setpoint write lands in the PLC's registers and is read back
    let r = api.post_json("/api/v1/tags/TIC101.SP/write", &json!({"value": 72.5}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["value"], json!(72.5));
    assert_eq!(plc.memory.lock().unwrap().f32_at(100), 72.5);
    let r = api.post_json("/api/v1/tags/XV5/write", &json!({"value": false}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!plc.memory.lock().unwrap().coils[5]);

    // bad writes are refused before they reach the PLC
    let before = plc.memory.lock().unwrap().requests;
    for (tag, value, field) in [
        ("TIC101.SP", json!(150.0), "value"),
        ("TIC101.SP", json!("hot"), "value"),
        ("TT101", json!(50.0), "value"),
    ] {
        let r = api.post_json(
            &format!("/api/v1/tags/{tag}/write"),
            &json!({ "value": value }),
        );
        assert_eq!(r.status, 422, "{tag} {value}: {}", r.body);
        assert_eq!(r.json()["error"]["field"], field);
    }
    assert_eq!(plc.memory.lock().unwrap().f32_at(100), 72.5);
    let polled_meanwhile = plc.memory.lock().unwrap().requests - before;
    assert!(
        polled_meanwhile < 40,
        "only polls reached the PLC ({polled_meanwhile})"
    );
    // the audit log names the write with old and new value
    let audit = api.get("/api/v1/audit?action=tags.tag.write").json();
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["action"] == "tags.tag.write" && e["target"].as_str().unwrap().contains("TIC101.SP")
        })
        .expect("audited")
        .clone();
    assert_eq!(entry["before"]["value"], json!(60.0), "{entry}");
    assert_eq!(entry["after"]["value"], json!(72.5), "{entry}");

    // the PLC stops answering: its tags go bad, the appliance keeps serving
    plc.memory.lock().unwrap().silent = true;
    eventually(10, || {
        quality(&api, "TT101") == ("bad".into(), "comm_failure".into())
    });
    assert_eq!(api.get("/healthz").status, 200);
    plc.memory.lock().unwrap().silent = false;
    eventually(15, || quality(&api, "TT101").0 == "good");

    // a power cycle of the PLC: reconnect and carry on
    plc.restart(Duration::from_millis(1500));
    eventually(20, || {
        let st = api.get(&format!("/api/v1/devices/{dev}/status")).json();
        st["connected"] == true && quality(&api, "TT101").0 == "good"
    });
    plc.memory.lock().unwrap().set_f32(0, 91.25);
    eventually(10, || current(&api, "TT101")["value"] == json!(91.25));
}

#[test]
fn garbage_from_one_device_does_not_disturb_another() {
    // a "device" that answers every request with noise
    let noise = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let noise_port = noise.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut c in noise.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 260];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0
                        || c.write_all(&[
                            0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0xFF, 0x83, 0x99, 0x42,
                        ])
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    let plc = TcpPlc::start();
    plc.memory.lock().unwrap().holding[0] = 1234;
    let s = fresh();
    let api = s.admin_api();
    let good = device(
        &api,
        json!({"id": 0, "name": "good", "enabled": true, "config": {"driver": "modbus_tcp",
        "host": "127.0.0.1", "port": plc.addr.port(), "groups": [{"name": "default", "interval_ms": 200}]}}),
    );
    let bad = device(
        &api,
        json!({"id": 0, "name": "noisy", "enabled": true, "config": {"driver": "modbus_tcp",
        "host": "127.0.0.1", "port": noise_port, "timeout_ms": 300, "groups": [{"name": "default", "interval_ms": 200}]}}),
    );
    tag(
        &api,
        "GOOD",
        "int",
        good,
        json!({"area": "holding_register", "address": 0}),
        json!({}),
    );
    tag(
        &api,
        "NOISY",
        "int",
        bad,
        json!({"area": "holding_register", "address": 0}),
        json!({}),
    );
    eventually(10, || {
        quality(&api, "NOISY").0 == "bad" && current(&api, "GOOD")["value"] == json!(1234)
    });
    let st = api.get(&format!("/api/v1/devices/{bad}/status")).json();
    assert!(st["errors"].as_u64().unwrap() >= 1, "{st}");
    assert!(st["last_error"].as_str().is_some(), "{st}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        quality(&api, "GOOD").0,
        "good",
        "the good device kept going"
    );
    assert_eq!(
        current(&api, "NOISY")["value"],
        Value::Null,
        "nothing wrong was stored"
    );

    // bad device and tag configurations name their field
    for (body, field) in [
        (
            json!({"driver": "modbus_tcp", "host": "", "port": 502}),
            "host",
        ),
        (
            json!({"driver": "modbus_tcp", "host": "plc", "port": 0}),
            "port",
        ),
        (
            json!({"driver": "modbus_tcp", "host": "plc", "max_registers": 200}),
            "max_registers",
        ),
        (
            json!({"driver": "modbus_tcp", "host": "plc", "groups": []}),
            "groups",
        ),
        (
            json!({"driver": "modbus_tcp", "host": "plc", "groups": [{"name": "a", "interval_ms": 1}]}),
            "groups",
        ),
        (json!({"driver": "modbus_rtu", "path": "COM1"}), "path"),
        (
            json!({"driver": "modbus_rtu", "path": "/dev/ttyUSB0", "unit": 0}),
            "unit",
        ),
    ] {
        let r = api.post_json(
            "/api/v1/devices",
            &json!({"id": 0, "name": "x", "enabled": false, "config": body}),
        );
        assert_eq!(
            (r.status, r.json()["error"]["field"].clone()),
            (422, json!(field)),
            "{body}: {}",
            r.body
        );
    }
    for (point, data_type, extra, field) in [
        (
            json!({"area": "coil", "address": 1, "format": "uint16"}),
            "bool",
            json!({}),
            "format",
        ),
        (
            json!({"area": "holding_register", "address": 1, "format": "bit"}),
            "bool",
            json!({}),
            "bit",
        ),
        (
            json!({"area": "holding_register", "address": 65535, "format": "float32"}),
            "float",
            json!({}),
            "address",
        ),
        (
            json!({"area": "holding_register", "address": 1, "group": "fast"}),
            "int",
            json!({}),
            "group",
        ),
        (
            json!({"area": "input_register", "address": 1}),
            "int",
            json!({"writable": true}),
            "writable",
        ),
        (
            json!({"area": "holding_register", "address": 1}),
            "string",
            json!({}),
            "data_type",
        ),
    ] {
        let mut body = json!({"id": 0, "name": "T1", "data_type": data_type, "source": {"kind": "modbus", "device": good}});
        for (k, v) in point.as_object().unwrap() {
            body["source"][k] = v.clone();
        }
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = api.post_json("/api/v1/tags", &body);
        assert_eq!(
            (r.status, r.json()["error"]["field"].clone()),
            (422, json!(field)),
            "{point}: {}",
            r.body
        );
    }
}

#[test]
fn an_rtu_plc_on_a_serial_line_is_read_and_written() {
    let plc = RtuPlc::start(7);
    {
        let mut m = plc.memory.lock().unwrap();
        m.set_f32(10, 19.75);
        m.holding[30] = 500;
    }
    let s = fresh();
    let api = s.admin_api();
    let dev = device(
        &api,
        json!({"id": 0, "name": "flow meter", "enabled": true, "config": {"driver": "modbus_rtu",
        "path": plc.path, "baud": 19200, "parity": "even", "unit": 7, "timeout_ms": 500,
        "groups": [{"name": "default", "interval_ms": 250}]}}),
    );
    tag(
        &api,
        "FT201",
        "float",
        dev,
        json!({"area": "holding_register", "address": 10, "format": "float32"}),
        json!({}),
    );
    tag(
        &api,
        "FT201.HI",
        "int",
        dev,
        json!({"area": "holding_register", "address": 30}),
        json!({"writable": true, "range_lo": 0, "range_hi": 1000}),
    );
    // both tags read (the second was added after the first: a poll may come between)
    let ok = (0..150).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        current(&api, "FT201")["value"] == json!(19.75)
            && current(&api, "FT201.HI")["value"] == json!(500)
    });
    assert!(
        ok,
        "{}",
        api.get(&format!("/api/v1/devices/{dev}/status")).body
    );
    let r = api.post_json("/api/v1/tags/FT201.HI/write", &json!({"value": 640}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(plc.memory.lock().unwrap().holding[30], 640);
    let st = api.get(&format!("/api/v1/devices/{dev}/status")).json();
    assert_eq!(st["connected"], true, "{st}");
}

/// Safe control on a PLC: a setpoint with an interlock on the cooling-water valve, a largest
/// step and a least interval between writes; each refusal names its rule and nothing reaches
/// the PLC.
#[test]
fn a_setpoint_write_passes_its_control_rules_or_nothing_is_sent() {
    let plc = TcpPlc::start();
    {
        let mut m = plc.memory.lock().unwrap();
        m.set_f32(100, 60.0); // temperature setpoint
        m.coils[5] = false; // jacket cooling-water valve shut
    }
    let s = fresh();
    let api = s.admin_api();
    let dev = device(
        &api,
        json!({"id": 0, "name": "R101 PLC", "enabled": true, "config": {"driver": "modbus_tcp",
            "host": "127.0.0.1", "port": plc.addr.port(), "unit": 1, "timeout_ms": 500,
            "groups": [{"name": "default", "interval_ms": 200}]}}),
    );
    tag(
        &api,
        "TIC101.SP",
        "float",
        dev,
        json!({"area": "holding_register", "address": 100, "format": "float32"}),
        json!({"writable": true, "range_lo": 0, "range_hi": 100}),
    );
    tag(
        &api,
        "XV5",
        "bool",
        dev,
        json!({"area": "coil", "address": 5, "format": "bit"}),
        json!({"writable": true}),
    );
    tag(
        &api,
        "TT101",
        "float",
        dev,
        json!({"area": "holding_register", "address": 0, "format": "float32"}),
        json!({}),
    );
    eventually(10, || current(&api, "TIC101.SP")["value"] == json!(60.0));

    // bad rules are refused: an unknown interlock tag, a step that is not positive, a
    // tag that cannot be written
    let rules = |body: Value| api.put_json("/api/v1/automation/control/TIC101.SP", &body);
    let r = rules(json!({"interlocks": [{"tag": "NOPE", "op": "eq", "value": 1}]}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(rules(json!({"max_step": -1})).status, 422);
    // a condition its tag can never meet; a step on an on/off tag
    let r = rules(json!({"interlocks": [{"tag": "XV5", "op": "eq", "value": 2}]}));
    assert_eq!(
        r.json()["error"]["code"],
        "automation.control.interlock_bool",
        "{}",
        r.body
    );
    let r = api.put_json("/api/v1/automation/control/XV5", &json!({"max_step": 0.5}));
    assert_eq!(
        r.json()["error"]["code"],
        "automation.control.step_bool",
        "{}",
        r.body
    );
    assert_eq!(
        api.put_json("/api/v1/automation/control/TT101", &json!({}))
            .status,
        422
    );
    let r = rules(json!({"max_step": 5.0, "min_interval_s": 30,
        "interlocks": [{"tag": "XV5", "op": "eq", "value": 1, "text": "夹套冷却水阀须开"}]}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        api.get("/api/v1/automation/control").json()[0]["tag"],
        "TIC101.SP"
    );

    // the interlock blocks: the valve is shut
    let write = |v: f64| api.post_json("/api/v1/tags/TIC101.SP/write", &json!({"value": v}));
    let r = write(62.0);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("XV5") && r.body.contains("冷却水"),
        "{}",
        r.body
    );
    assert_eq!(plc.memory.lock().unwrap().f32_at(100), 60.0, "nothing sent");

    // the valve opens: a step within 5 goes through, a larger one does not
    plc.memory.lock().unwrap().coils[5] = true;
    eventually(10, || current(&api, "XV5")["value"] == json!(true));
    let r = write(70.0);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("10"), "the step is named: {}", r.body);
    let r = write(64.5);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(plc.memory.lock().unwrap().f32_at(100), 64.5);
    // again at once: too soon
    let r = write(65.0);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(plc.memory.lock().unwrap().f32_at(100), 64.5);

    // a rename keeps the rules (they follow the tag, not its name), and switching the
    // automation module off does not take them away
    // the tag as the API shows it (its definition, flattened, beside its current value)
    let mut t = api.get("/api/v1/tags/TIC101.SP").json();
    t["name"] = json!("TIC101.SP2");
    let r = api.put_json("/api/v1/tags/TIC101.SP", &t);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.post_json("/api/v1/tags/TIC101.SP2/write", &json!({"value": 99.0}));
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        api.get("/api/v1/automation/control").json()[0]["tag"],
        "TIC101.SP2"
    );
    assert_eq!(
        api.post_json("/api/v1/modules/automation/disable", &json!({}))
            .status,
        200
    );
    let r = api.post_json("/api/v1/tags/TIC101.SP2/write", &json!({"value": 99.0}));
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        api.post_json("/api/v1/modules/automation/enable", &json!({}))
            .status,
        200
    );
    t["name"] = json!("TIC101.SP");
    let r = api.put_json("/api/v1/tags/TIC101.SP2", &t);
    assert_eq!(r.status, 200, "{}", r.body);

    // rules taken away: the range alone holds
    assert_eq!(
        api.delete("/api/v1/automation/control/TIC101.SP").status,
        204
    );
    assert_eq!(write(90.0).status, 200);

    // the PLC acknowledges a write but keeps its own value: the read-back says it failed
    plc.memory.lock().unwrap().ignore_writes = vec![100];
    let r = write(80.0);
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(
        r.body.contains("90"),
        "what the device holds is named: {}",
        r.body
    );
    assert_eq!(current(&api, "TIC101.SP")["value"], json!(90.0));
}

/// A critical tag is written by two people: one asks, another confirms; the same person or a
/// token cannot confirm, and a direct write is refused.
#[test]
fn a_critical_write_takes_two_people() {
    let s = Server::demo();
    let api = s.admin_api();
    let r = api.post_json(
        "/api/v1/tags",
        &json!({"id": 0, "name": "R101.INTERLOCK_BYPASS", "data_type": "float",
            "source": {"kind": "manual"}, "writable": true, "range_lo": 0, "range_hi": 1}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api.put_json(
        "/api/v1/automation/control/R101.INTERLOCK_BYPASS",
        &json!({"critical": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // a direct write is refused
    let r = api.post_json(
        "/api/v1/tags/R101.INTERLOCK_BYPASS/write",
        &json!({"value": 1}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "automation.control.critical");
    // a token may not ask; a person asks
    let ask = json!({"tag": "R101.INTERLOCK_BYPASS", "value": 1});
    assert_eq!(api.post_json("/api/v1/automation/writes", &ask).status, 403);
    let li = s.login("li.ming");
    let r = li.post_json("/api/v1/automation/writes", &ask);
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_u64().unwrap();
    let confirm = format!("/api/v1/automation/writes/{id}/confirm");
    // the same person cannot confirm; nothing written
    let r = li.post_json(&confirm, &json!({}));
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "automation.control.same_person");
    assert_ne!(current(&api, "R101.INTERLOCK_BYPASS")["value"], json!(1.0));
    // another person confirms: written, and the request says by whom
    let r = s.login("sun.wei").post_json(&confirm, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "written");
    assert_eq!(r.json()["confirmed_by"], "孙伟");
    assert_eq!(current(&api, "R101.INTERLOCK_BYPASS")["value"], json!(1.0));
    // once only
    let r = s.login("zhou.jianming").post_json(&confirm, &json!({}));
    assert_eq!(r.status, 409, "{}", r.body);
    let list = api.get("/api/v1/automation/writes").json();
    assert_eq!(list[0]["state"], "written");
}
