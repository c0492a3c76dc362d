//! 设备管理 on the demo plant with a Modbus PLC as the machine: a vibration tag driven into
//! zone C proposes a work order (and raises the zone alarm); the order runs its life cycle
//! with spare parts issued from inventory; a preventive plan by run hours falls due when
//! the meter passes it; the ledger's refusals.

use serde_json::{Value, json};

use crate::common::plc::TcpPlc;
use crate::common::{Client, Server, eventually};

fn id_by(list: &Value, key: &str, v: &str) -> u64 {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|x| x[key] == v)
        .unwrap_or_else(|| panic!("{v} not in the list"))["id"]
        .as_u64()
        .unwrap()
}

/// The stock of a material over every location.
fn stock(api: &Client, material: u64) -> f64 {
    api.get(&format!("/api/v1/inventory/stock?material={material}"))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["qty"].as_f64().unwrap())
        .sum()
}

fn orders_of(api: &Client, equipment: u64) -> Vec<Value> {
    api.get(&format!(
        "/api/v1/equipment/work-orders?equipment={equipment}"
    ))
    .json()["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn action(api: &Client, order: u64, body: Value) -> crate::common::Resp {
    api.post_json(
        &format!("/api/v1/equipment/work-orders/{order}/actions"),
        &body,
    )
}

/// A pump on a PLC: vibration (float32 at 0), motor current (2), run hours (4).
fn pump_plc(api: &Client) -> TcpPlc {
    let plc = TcpPlc::start();
    {
        let mut m = plc.memory.lock().unwrap();
        m.set_f32(0, 1.0);
        m.set_f32(2, 28.0);
        m.set_f32(4, 1_200.0);
    }
    let r = api.post_json(
        "/api/v1/devices",
        &json!({"id": 0, "name": "P901 PLC", "enabled": true, "config": {"driver": "modbus_tcp",
            "host": "127.0.0.1", "port": plc.addr.port(), "unit": 1, "timeout_ms": 500,
            "groups": [{"name": "default", "interval_ms": 200}]}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let dev = r.json()["id"].as_u64().unwrap();
    for (name, addr, unit) in [
        ("P901.VT", 0, "mm/s"),
        ("P901.IT", 2, "A"),
        ("P901.RH", 4, "h"),
    ] {
        let r = api.post_json(
            "/api/v1/tags",
            &json!({"id": 0, "name": name, "data_type": "float", "unit": unit,
                "source": {"kind": "modbus", "device": dev, "area": "holding_register",
                    "address": addr, "format": "float32"}}),
        );
        assert_eq!(r.status, 201, "{name}: {}", r.body);
    }
    plc
}

#[test]
fn a_pump_in_zone_c_gets_a_work_order_whose_parts_move_stock() {
    let s = Server::demo();
    let api = s.admin_api();
    let plc = pump_plc(&api);
    let cats = api.get("/api/v1/equipment/categories").json();
    let pump_cat = id_by(&cats, "code", "ROT-PUMP");
    let mats = api.get("/api/v1/inventory/materials").json();
    let bearing = id_by(&mats, "code", "SP-BRG-6309");

    // the ledger's refusals: each names its field and saves nothing
    let body = |tag_no: &str, power: Value, bindings: Value| {
        json!({"tag_no": tag_no, "name": "循环泵", "category": pump_cat, "criticality": "A",
            "status": "running", "params": {"rated_power": power, "flow": 30.0},
            "bindings": bindings, "bom": [{"material": bearing, "qty": 2.0}]})
    };
    let vib = json!([{"tag": "P901.VT", "role": "vibration", "point": "驱动端"},
        {"tag": "P901.IT", "role": "motor_current"}, {"tag": "P901.RH", "role": "run_hours"}]);
    for (b, field, code) in [
        (
            body("P101", json!(15.0), json!([])),
            "tag_no",
            "equipment.tag_no_taken",
        ),
        (
            body("P-901", json!("十五"), json!([])),
            "params",
            "equipment.param_type",
        ),
        (
            body(
                "P-901",
                json!(15.0),
                json!([{"tag": "P101.VT", "role": "bearing_temperature"}]),
            ),
            "bindings",
            "equipment.tag_role",
        ),
    ] {
        let r = api.post_json("/api/v1/equipment", &b);
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.json()["error"]["field"], field, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], code, "{}", r.body);
    }
    assert!(
        api.get("/api/v1/equipment?q=P-901").json()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = api.post_json("/api/v1/equipment", &body("P-901", json!(15.0), vib));
    assert_eq!(r.status, 201, "{}", r.body);
    let eq = r.json()["id"].as_u64().unwrap();

    // zone B (rated 15 kW: group 2; mounting unknown: rigid, the strictest — 1.4/2.8/4.5
    // mm/s), taken once the readings hold for ten seconds
    plc.memory.lock().unwrap().set_f32(0, 2.0);
    eventually(30, || {
        api.get(&format!("/api/v1/equipment/{eq}/condition")).json()["zones"][0]["zone"] == "B"
    });
    assert!(orders_of(&api, eq).is_empty());
    // 3.2 mm/s: zone C, a proposed work order, the zone alarm
    plc.memory.lock().unwrap().set_f32(0, 3.2);
    eventually(30, || orders_of(&api, eq).len() == 1);
    let o = orders_of(&api, eq).remove(0);
    assert_eq!(o["origin"]["kind"], "condition", "{o}");
    assert_eq!(o["origin"]["zone"], "C");
    assert_eq!(o["state"], "open");
    let c = api.get(&format!("/api/v1/equipment/{eq}/condition")).json();
    assert_eq!(c["zones"][0]["zone"], "C");
    assert_eq!(c["history"][0]["work_order"], o["id"]);
    // zone C is the maintenance leads' alert, not an operator's alarm
    let alerts = api.get("/api/v1/alerts?all=true").body;
    assert!(alerts.contains("P-901"), "zone alert missing: {alerts}");
    let alarms = api.get("/api/v1/alarms").body;
    assert!(!alarms.contains("P-901"), "zone C is no alarm: {alarms}");
    // a stopped pump is not judged: at 0 A its standstill reading leaves the zone as it was
    {
        let mut m = plc.memory.lock().unwrap();
        m.set_f32(2, 0.0);
        m.set_f32(0, 0.2);
    }
    std::thread::sleep(std::time::Duration::from_secs(13));
    let c = api.get(&format!("/api/v1/equipment/{eq}/condition")).json();
    assert_eq!(c["zones"][0]["zone"], "C", "{c}");

    // the life cycle through the API; the technician is a maintenance user
    let order = o["id"].as_u64().unwrap();
    let users = api.get("/api/v1/users").json();
    let tech = id_by(&users, "username", "qian.feng");
    let r = action(&api, order, json!({"action": "start"}));
    assert_eq!(r.status, 409, "assign first: {}", r.body);
    let r = action(&api, order, json!({"action": "assign", "assignee": tech}));
    assert_eq!(r.status, 200, "{}", r.body);
    // the technician works it from his phone (a person's report: not through a token)
    let t = s.login("qian.feng");
    assert_eq!(action(&t, order, json!({"action": "start"})).status, 200);
    let before = stock(&api, bearing);
    // more than in stock: refused with the reason, nothing moves
    let r = action(
        &t,
        order,
        json!({"action": "parts", "parts": [{"material": bearing, "qty": 99}]}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "equipment.part_stock");
    assert_eq!(stock(&api, bearing), before);
    let r = action(
        &t,
        order,
        json!({"action": "parts", "parts": [{"material": bearing, "qty": 2}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stock(&api, bearing), before - 2.0);
    let number = o["number"].as_str().unwrap();
    let moves = api
        .get(&format!("/api/v1/inventory/movements?material={bearing}"))
        .body;
    assert!(moves.contains(number), "the issue names the order: {moves}");
    // done without a report is refused; a token cannot report it; with it and the hours
    // from the technician it is done
    let r = action(&t, order, json!({"action": "done", "hours": 3.5}));
    assert_eq!(r.json()["error"]["field"], "report", "{}", r.body);
    let done = json!({"action": "done", "hours": 3.5, "report": "更换驱动端轴承，复测 1.9 mm/s"});
    assert_eq!(action(&api, order, done.clone()).status, 403);
    let r = action(&t, order, done);
    assert_eq!(r.status, 200, "{}", r.body);
    // a token cannot sign off; the manager signs in and verifies
    let r = action(&api, order, json!({"action": "verify", "note": "好"}));
    assert_eq!(r.status, 403, "{}", r.body);
    let boss = s.login("zhang.jianguo");
    let r = boss.submit(
        &format!("/equipment/work-orders/{order}/actions"),
        &[("action", "verify"), ("note", "试车正常，关闭")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let o = api
        .get(&format!("/api/v1/equipment/work-orders/{order}"))
        .json();
    assert_eq!(o["state"], "verified", "{o}");
    assert_eq!(o["verified_by"], "张建国");

    // a preventive plan by run hours: every 500 h from 1,000 h; the meter reads 1,200 h
    let r = api.post_json(
        "/api/v1/equipment/plans",
        &json!({"equipment": eq, "title": "500 h 换油", "tasks": ["换油"],
            "trigger": {"kind": "meter", "tag": "P901.RH", "every": 500.0}, "last_meter": 1000.0}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let plan = r.json()["id"].as_u64().unwrap();
    let r = api.post_json(
        "/api/v1/equipment/plans",
        &json!({"equipment": eq, "title": "x",
            "trigger": {"kind": "meter", "tag": "P901.VT", "every": 500.0}}),
    );
    assert_eq!(r.status, 422, "a vibration tag is not a meter: {}", r.body);
    std::thread::sleep(std::time::Duration::from_secs(11));
    assert!(
        !orders_of(&api, eq)
            .iter()
            .any(|o| o["kind"] == "preventive"),
        "not due at 1,200 h"
    );
    plc.memory.lock().unwrap().set_f32(4, 1_500.5);
    eventually(25, || {
        orders_of(&api, eq)
            .iter()
            .any(|o| o["kind"] == "preventive" && o["origin"]["plan"] == plan)
    });
    let plans = api.get("/api/v1/equipment/plans").json();
    let p = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == plan)
        .unwrap();
    assert!(p["open_order"].is_u64(), "{p}");
}

#[test]
fn a_deleted_machine_s_label_says_so() {
    let s = Server::demo();
    let api = s.admin_api();
    let cats = api.get("/api/v1/equipment/categories").json();
    let tank = id_by(&cats, "code", "STA-TANK");
    let r = api.post_json(
        "/api/v1/equipment",
        &json!({"tag_no": "TK-999", "name": "废液罐", "category": tank, "criticality": "C",
            "status": "running", "params": {"volume": 10.0, "medium": "废液"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_u64().unwrap();
    let phone = s.login("li.ming");
    assert_eq!(phone.get(&format!("/equipment/{id}")).status, 200);
    // an operator may not delete; the admin may
    assert_eq!(
        phone.submit(&format!("/equipment/{id}/delete"), &[]).status,
        403
    );
    assert_eq!(api.delete(&format!("/api/v1/equipment/{id}")).status, 200);
    let r = phone.get(&format!("/equipment/{id}"));
    assert_eq!(r.status, 404);
    assert!(r.body.contains("TK-999"), "{}", r.body);
    let r = api.get(&format!("/api/v1/equipment/{id}"));
    assert_eq!(r.json()["error"]["code"], "equipment.deleted", "{}", r.body);
}

fn import(api: &Client, name: &str, bytes: &[u8]) -> crate::common::Resp {
    let mime = if name.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "text/csv"
    };
    api.post_multipart("/api/v1/equipment/sheet", "file", name, mime, bytes)
}

/// The rows and columns an import refused.
fn refused(r: &crate::common::Resp) -> Vec<(u64, String)> {
    assert_eq!(r.status, 422, "{}", r.body);
    r.json()["error"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["row"].as_u64().unwrap(),
                x["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_ledger_round_trips_through_a_sheet_with_a_report_per_bad_row() {
    let s = Server::demo();
    let api = s.admin_api();
    // the export reads back as an import that changes nothing, as CSV and as Excel
    let csv = api.get("/api/v1/equipment/sheet?format=csv");
    assert_eq!(csv.status, 200);
    assert!(
        csv.body.contains("(tag_no)") && csv.body.contains("P101,单体进料泵"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains("SP-SEAL-P101"), "spare parts exported");
    let r = import(&api, "ledger.csv", csv.body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"created": 0, "updated": 0}));
    let xlsx = api.get("/api/v1/equipment/sheet?format=xlsx");
    assert!(xlsx.bytes.starts_with(b"PK"));
    let r = import(&api, "ledger.xlsx", &xlsx.bytes);
    assert_eq!(r.json(), json!({"created": 0, "updated": 0}), "{}", r.body);
    let before = api.get("/api/v1/equipment/sheet?format=csv").body;

    // rows that cannot be read: each named, nothing imported
    let bad = "tag_no,name,category,criticality,params,bom\n\
               P-201,新泵,ROT-PUMP,A,rated_power=15; flow=20,SP-SEAL-P101 1\n\
               P-202,新泵二,ROT-PUMP,A,rated_power=十五; flow=20,\n\
               P-203,新泵三,NO-SUCH,B,,\n\
               p-201,重复,ROT-PUMP,A,rated_power=15; flow=20,\n\
               P-204,新泵四,ROT-PUMP,E,rated_power=15; flow=20,\n\
               P-205,新泵五,ROT-PUMP,A,rated_power=15; flow=20,SP-NONE 1\n";
    let r = import(&api, "bad.csv", bad.as_bytes());
    assert_eq!(
        refused(&r),
        [
            (3, "params".into()),
            (4, "category".into()),
            (5, "tag_no".into()),
            (6, "criticality".into()),
            (7, "bom".into())
        ]
    );
    // rows the ledger's rules refuse: a parent loop, a missing required parameter, an
    // existing 位号 taken by a new row's conflicting tag role
    let bad = "tag_no,name,category,parent,params,bindings\n\
               M-301,电机一,ROT,M-302,rated_power=15,\n\
               M-302,电机二,ROT,M-301,rated_power=15,\n\
               P-206,新泵六,ROT-PUMP,,rated_power=15,\n\
               P-207,新泵七,ROT-PUMP,,rated_power=15; flow=20,P101.VT pressure\n";
    let r = import(&api, "bad.csv", bad.as_bytes());
    assert_eq!(
        refused(&r),
        [
            (2, "parent".into()),
            (3, "parent".into()),
            (4, "params".into()),
            (5, "bindings".into())
        ]
    );
    assert_eq!(
        api.get("/api/v1/equipment/sheet?format=csv").body,
        before,
        "nothing imported"
    );

    // a good sheet: a unit and a pump under it (the pump's row first), by names or codes
    let good = "位号 (tag_no),名称 (name),分类 (category),上级设备 (parent),criticality,status,group,mounting,params,bom\n\
                P-301A,三号进料泵,离心泵,U-300,A,备用,group2,柔性基础,rated_power=18.5; 额定流量=25; seal=机械密封,SP-SEAL-P101 2 机封\n\
                U-300,三号装置,UNIT,,A,running,,,,\n";
    let r = import(&api, "good.csv", good.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"created": 2, "updated": 0}));
    let list = api.get("/api/v1/equipment?q=-30").json()["items"].clone();
    let unit = id_by(&list, "tag_no", "U-300");
    let pump = api
        .get(&format!(
            "/api/v1/equipment/{}",
            id_by(&list, "tag_no", "P-301A")
        ))
        .json();
    assert_eq!(pump["parent"], unit);
    assert_eq!(pump["status"], "standby");
    assert_eq!(pump["vibration"]["mounting"], "flexible");
    assert_eq!(pump["params"]["flow"], 25.0);
    assert_eq!(pump["bom"][0]["qty"], 2.0);
    // a sheet with some columns changes only those
    let r = import(
        &api,
        "loc.csv",
        "tag_no,location\nP-301A,三号泵房\n".as_bytes(),
    );
    assert_eq!(r.json(), json!({"created": 0, "updated": 1}), "{}", r.body);
    let p = api.get(&format!("/api/v1/equipment/{}", pump["id"])).json();
    assert_eq!(p["location"], "三号泵房");
    assert_eq!(p["name"], "三号进料泵");
    assert_eq!(p["bom"], pump["bom"]);
    // parameters named are set, the others kept; `key=` takes one out
    let r = import(
        &api,
        "params.csv",
        "tag_no,params\nP-301A,seal=填料密封; head=\n".as_bytes(),
    );
    assert_eq!(r.json(), json!({"created": 0, "updated": 1}), "{}", r.body);
    let p = api.get(&format!("/api/v1/equipment/{}", pump["id"])).json();
    assert_eq!(p["params"]["seal"], "填料密封");
    assert_eq!(p["params"]["flow"], 25.0);
    // a new 位号 without a name, an unknown department: named with the value
    let r = import(
        &api,
        "new.csv",
        "tag_no,category,department\nP-302,ROT-PUMP,\nP-303,ROT-PUMP,设备部\n".as_bytes(),
    );
    assert_eq!(refused(&r), [(2, "name".into()), (3, "name".into())]);
    let r = import(
        &api,
        "new.csv",
        "tag_no,name,category,department,params\nP-303,泵,ROT-PUMP,设备部,rated_power=5; flow=2\n"
            .as_bytes(),
    );
    assert_eq!(refused(&r), [(2, "department".into())]);
    assert!(r.body.contains("设备部"), "{}", r.body);
    // the console page: an operator may export, not import (bulk changes take approve)
    let phone = s.login("li.ming");
    let page = phone.get("/equipment/sheet");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("export-xlsx") && !page.body.contains("import-form"));
    assert_eq!(phone.get("/equipment/sheet/ledger?format=csv").status, 200);
    let r = phone.post_multipart(
        "/equipment/sheet/ledger",
        "file",
        "loc.csv",
        "text/csv",
        "tag_no,location\nP-301A,别处\n".as_bytes(),
    );
    assert_eq!(r.status, 403);
    assert!(
        s.login("admin")
            .get("/equipment/sheet")
            .body
            .contains("import-form")
    );
}

#[test]
fn an_abnormal_inspection_round_opens_a_work_order_for_its_machine() {
    let s = Server::demo();
    let api = s.admin_api();
    let ledger = api.get("/api/v1/equipment?q=TK20").json()["items"].clone();
    let tank = id_by(&ledger, "tag_no", "TK201");
    let pump = id_by(
        &api.get("/api/v1/equipment?q=P101").json()["items"],
        "tag_no",
        "P101",
    );
    let look =
        |e: u64, item: &str| json!({"equipment": e, "item": item, "check": {"kind": "look"}});
    let temp = json!({"equipment": pump, "item": "轴承温度", "check": {"kind": "reading", "unit": "℃", "hi": 70.0}});
    // a route the rules refuse: no checkpoints, a range upside down, an unknown machine
    for (points, why) in [
        (json!([]), "points_count"),
        (
            json!([{"equipment": pump, "item": "出口压力", "check": {"kind": "reading", "unit": "MPa", "lo": 0.5, "hi": 0.3}}]),
            "point_range",
        ),
        (json!([look(999_999, "外观")]), "point_equipment"),
    ] {
        let r = api.post_json(
            "/api/v1/equipment/routes",
            &json!({"name": "罐区班检", "every_hours": 8, "points": points}),
        );
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(
            r.json()["error"]["code"],
            format!("equipment.{why}"),
            "{}",
            r.body
        );
    }
    let r = api.post_json(
        "/api/v1/equipment/routes",
        &json!({"name": "罐区班检", "every_hours": 8,
            "points": [look(tank, "呼吸阀、阻火器完好"), temp, look(pump, "机封无泄漏")]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let route = r.json()["id"].as_u64().unwrap();
    let rounds = format!("/api/v1/equipment/routes/{route}/rounds");

    // a round is a person's: a token may not record one
    let all_ok = json!({"answers": [{"ok": true}, {"value": 50.0}, {"ok": true}]});
    assert_eq!(api.post_json(&rounds, &all_ok).status, 403);
    let phone = s.login("li.ming");
    // every checkpoint answered; an abnormal look says what was found
    let r = phone.post_json(
        &rounds,
        &json!({"answers": [{"ok": true}, {}, {"ok": true}]}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "equipment.answer_missing");
    assert!(r.body.contains("轴承温度"), "{}", r.body);
    let r = phone.post_json(
        &rounds,
        &json!({"answers": [{"ok": false, "note": " "}, {"value": 50.0}, {"ok": true}]}),
    );
    assert_eq!(
        r.json()["error"]["code"],
        "equipment.answer_note",
        "{}",
        r.body
    );
    // a running machine is not skipped; a reading no gauge shows is refused
    let r = phone.post_json(
        &rounds,
        &json!({"answers": [{"ok": true}, {"skip": true}, {"ok": true}]}),
    );
    assert_eq!(
        r.json()["error"]["code"],
        "equipment.skip_running",
        "{}",
        r.body
    );
    let r = phone.post_json(
        &rounds,
        &json!({"answers": [{"ok": true}, {"value": 1e300}, {"ok": true}]}),
    );
    assert_eq!(
        r.json()["error"]["code"],
        "equipment.answer_implausible",
        "{}",
        r.body
    );
    // walked on checkpoints since changed: refused, not filed under the new ones
    let r = phone.post_json(
        &rounds,
        &json!({"rev": 99, "answers": [{"ok": true}, {"value": 50.0}, {"ok": true}]}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(phone.get(&rounds).json().as_array().unwrap().is_empty());
    let before = orders_of(&api, pump).len();
    let tank_before = orders_of(&api, tank).len();

    // a reading above its range is abnormal whatever was ticked: one order for the pump
    let r = phone.post_json(
        &rounds,
        &json!({"answers": [{"ok": true}, {"ok": true, "value": 78.5}, {"ok": true}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let round = r.json();
    assert_eq!(round["results"][1]["normal"], false);
    assert_eq!(round["orders"].as_array().unwrap().len(), 1);
    let o = api
        .get(&format!(
            "/api/v1/equipment/work-orders/{}",
            round["orders"][0]
        ))
        .json();
    assert_eq!(o["equipment"], pump);
    assert_eq!(o["origin"]["kind"], "inspection");
    assert_eq!(o["origin"]["round"], round["id"]);
    assert!(o["title"].as_str().unwrap().contains("78.5"), "{o}");
    assert_eq!(orders_of(&api, pump).len(), before + 1);
    // the next round finds it again: the finding goes onto the open order, no second one;
    // the tank's finding opens its own
    let r = phone.post_json(
        &rounds,
        &json!({"answers": [{"ok": false, "note": "呼吸阀锈蚀卡涩"}, {"value": 79.0}, {"ok": true}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let again = r.json();
    assert_eq!(again["orders"].as_array().unwrap().len(), 2);
    assert_eq!(again["orders"][1], round["orders"][0], "{again}");
    assert_eq!(orders_of(&api, pump).len(), before + 1);
    let o2 = api
        .get(&format!(
            "/api/v1/equipment/work-orders/{}",
            round["orders"][0]
        ))
        .json();
    assert!(o2["description"].as_str().unwrap().contains("79"), "{o2}");
    assert_eq!(
        o2["steps"].as_array().unwrap().last().unwrap()["action"],
        "finding"
    );
    // a second route of the same name is refused
    let r = api.post_json(
        "/api/v1/equipment/routes",
        &json!({"name": "罐区班检", "every_hours": 8, "points": [look(tank, "外观")]}),
    );
    assert_eq!(
        r.json()["error"]["code"],
        "equipment.route_name_taken",
        "{}",
        r.body
    );
    assert_eq!(orders_of(&api, tank).len(), tank_before + 1);
    // the route's last round is now; the record page names the order
    let routes = api.get("/api/v1/equipment/routes").json();
    let rt = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == route)
        .unwrap();
    assert!(rt["last_round_ms"].is_i64() && rt["late"] == false, "{rt}");
    let page = phone.get(&format!("/equipment/rounds/record/{}", round["id"]));
    assert!(page.body.contains(o["number"].as_str().unwrap()));
    // newest rounds first
    let list = phone.get(&rounds).json();
    assert_eq!(list[0]["id"], again["id"]);
    // a machine in a route is not deleted from the ledger
    let r = api.delete(&format!("/api/v1/equipment/{tank}"));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("罐区班检"), "{}", r.body);
    // a route of the maintenance department is walked by its people (or an approver)
    let depts = api.get("/api/v1/departments").json();
    let maint = id_by(&depts, "name", "设备动力部");
    let mut rt = api
        .get("/api/v1/equipment/routes")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == route)
        .unwrap()
        .clone();
    rt["department"] = json!(maint);
    let r = api.put_json(&format!("/api/v1/equipment/routes/{route}"), &rt);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = phone.post_json(&rounds, &all_ok);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("设备动力部"), "{}", r.body);
    let r = s.login("qian.feng").post_json(&rounds, &all_ok);
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn a_hot_work_job_starts_under_its_permit_in_force_and_not_before() {
    use crate::safety::{act as permit_act, gas, hot_work, local, to_work, user_id};
    let s = Server::demo();
    let api = s.admin_api();
    let pump = id_by(
        &api.get("/api/v1/equipment?q=P101").json()["items"],
        "tag_no",
        "P101",
    );
    let r = api.post_json(
        "/api/v1/equipment/work-orders",
        &json!({"equipment": pump, "title": "泵出口管线补焊", "needs_permits": ["hot_work"]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let order = r.json()["id"].as_u64().unwrap();
    let tech = user_id(&api, "qian.feng");
    assert_eq!(
        action(&api, order, json!({"action": "assign", "assignee": tech})).status,
        200
    );
    let t = s.login("qian.feng");
    // no permit linked: refused
    let r = action(&t, order, json!({"action": "start"}));
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (409, Some("equipment.permit_needed"))
    );
    // a hot-work permit for the job, linked while it is still a draft: not yet in force
    let applicant = s.login("zhou.jianming");
    let r = applicant.post_json(
        "/api/v1/safety/permits",
        &hot_work(user_id(&api, "sun.wei"), 800.0, &local(-1), &local(180)),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let permit = r.json()["id"].as_u64().unwrap();
    let r = action(&t, order, json!({"action": "permit", "permit": permit}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = action(&t, order, json!({"action": "start"}));
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (409, Some("equipment.permit_not_in_force")),
        "{}",
        r.body
    );
    // signed through its chain and started by the guardian: the job may start now
    to_work(&s, permit, |t| gas(t, 0.1));
    let r = action(&t, order, json!({"action": "start"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "in_progress", "{}", r.body);
    // once started the permits stay as they were
    let r = action(&t, order, json!({"action": "permit", "permit": permit}));
    assert_eq!(r.status, 409, "{}", r.body);
    // the guardian suspends the permit: the paused job may not resume until work under it
    // resumes
    assert_eq!(
        action(&t, order, json!({"action": "wait_parts", "note": "等法兰"})).status,
        200
    );
    let guardian = s.login("sun.wei");
    let r = permit_act(
        &guardian,
        permit,
        json!({"action": "suspend", "note": "风力增大"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = action(&t, order, json!({"action": "resume"}));
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (409, Some("equipment.permit_not_in_force")),
        "{}",
        r.body
    );
    assert_eq!(
        permit_act(&guardian, permit, json!({"action": "resume"})).status,
        200
    );
    let r = action(&t, order, json!({"action": "resume"}));
    assert_eq!(r.status, 200, "{}", r.body);

    // one job under a permit: a second order may not take it
    let r = api.post_json(
        "/api/v1/equipment/work-orders",
        &json!({"equipment": pump, "title": "出口阀更换", "needs_permits": ["hot_work"]}),
    );
    let other = r.json()["id"].as_u64().unwrap();
    let r = action(&api, other, json!({"action": "permit", "permit": permit}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "equipment.permit_taken");
    // the permit's work finished while the job waits for parts: a new permit is linked,
    // and the job resumes under it
    assert_eq!(
        action(&t, order, json!({"action": "wait_parts", "note": "等垫片"})).status,
        200
    );
    let r = permit_act(&applicant, permit, json!({"action": "finish"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(action(&t, order, json!({"action": "resume"})).status, 409);
    let r = applicant.post_json(
        "/api/v1/safety/permits",
        &hot_work(user_id(&api, "sun.wei"), 1200.0, &local(-1), &local(180)),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let second = r.json()["id"].as_u64().unwrap();
    to_work(&s, second, |t| gas(t, 0.1));
    let r = action(&t, order, json!({"action": "permit", "permit": second}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = action(&t, order, json!({"action": "resume"}));
    assert_eq!(r.status, 200, "{}", r.body);
    // done, then sent back: rework is work, under a permit in force
    let r = action(
        &t,
        order,
        json!({"action": "done", "report": "补焊完成", "hours": 2.0}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let guardian2 = s.login("sun.wei");
    assert_eq!(
        permit_act(
            &guardian2,
            second,
            json!({"action": "suspend", "note": "停电"})
        )
        .status,
        200
    );
    let lead = s.login("xu.guoping");
    let r = action(
        &lead,
        order,
        json!({"action": "reject", "note": "焊缝有气孔"}),
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (409, Some("equipment.permit_not_in_force")),
        "{}",
        r.body
    );
}

#[test]
fn the_lead_hears_of_new_orders_and_pauses_a_plan_from_the_console() {
    let s = Server::demo();
    let api = s.admin_api();
    let pump = id_by(
        &api.get("/api/v1/equipment?q=P101").json()["items"],
        "tag_no",
        "P101",
    );
    // an operator writes an order: the maintenance lead is told it waits to be assigned
    let operator = s.login("li.ming");
    let r = operator.post_json(
        "/api/v1/equipment/work-orders",
        &json!({"equipment": pump, "title": "联轴器护罩松动"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let number = r.json()["number"].as_str().unwrap().to_string();
    let lead = s.login("xu.guoping");
    let told = |c: &Client| {
        c.get("/api/v1/notices")
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["zh"].as_str().unwrap_or("").contains(&number))
    };
    assert!(told(&lead), "the lead has a notice of {number}");
    assert!(!told(&operator), "not the one who wrote it");
    assert!(
        !told(&s.login("zhang.jianguo")),
        "not a manager who only approves"
    );

    // a calendar plan, changed and paused from the console: no more orders from it
    let plans = api.get("/api/v1/equipment/plans").json();
    let p = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["trigger"]["kind"] == "calendar")
        .expect("a calendar plan in the demo")
        .clone();
    let id = p["id"].as_u64().unwrap();
    let page = lead.get(&format!("/equipment/plans?edit={id}"));
    assert!(page.body.contains(p["title"].as_str().unwrap()));
    assert!(page.body.contains(&format!("name=\"id\" value=\"{id}\"")));
    let tag_no = api
        .get(&format!("/api/v1/equipment/{}", p["equipment"]))
        .json()["tag_no"]
        .as_str()
        .unwrap()
        .to_string();
    let every = p["trigger"]["every_days"].to_string();
    let r = lead.submit(
        "/equipment/plans",
        &[
            ("id", &id.to_string()),
            ("tag_no", &tag_no),
            ("title", "季度润滑（暂停）"),
            ("trigger", "calendar"),
            ("every", &every),
            ("priority", "normal"),
            ("tasks", "加油"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let p = api.get("/api/v1/equipment/plans").json();
    let p = p
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .unwrap();
    assert_eq!(p["active"], false, "{p}");
    assert_eq!(p["title"], "季度润滑（暂停）");
    assert!(lead.get("/equipment/plans").body.contains("已暂停"));
}
