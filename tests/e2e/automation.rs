//! Production automation over HTTP against a tokio-modbus PLC: a recipe drafted, refused
//! where its parameters are wrong, approved by a second person and downloaded as one set
//! with read-back verification (a parameter the PLC does not take is reported as differing,
//! an interlock blocks the whole set, a unit running another recipe's batch refuses it);
//! a batch from start to its record, with materials issued from inventory, the output lot
//! received, a quality sample of it, per-phase figures from the historian, alarms and
//! operator actions, and the lot's genealogy both ways.

use crate::common;

use common::plc::TcpPlc;
use common::{Server, eventually};
use serde_json::{Value, json};

fn current(api: &common::Client, name: &str) -> Value {
    api.get(&format!("/api/v1/tags/{name}")).json()["current"]["value"].clone()
}

fn tag(api: &common::Client, name: &str, data_type: &str, device: u64, point: Value, extra: Value) {
    let mut body = json!({"id": 0, "name": name, "data_type": data_type, "equipment": "R900",
        "area": "resin", "source": {"kind": "modbus", "device": device}});
    for (k, v) in point.as_object().unwrap() {
        body["source"][k] = v.clone();
    }
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = api.post_json("/api/v1/tags", &body);
    assert_eq!(r.status, 201, "{name}: {}", r.body);
}

fn location(api: &common::Client, code: &str) -> u64 {
    api.get("/api/v1/inventory/locations")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == code)
        .unwrap()["id"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_recipe_downloads_verified_and_a_batch_runs_to_its_record_with_lots_and_samples() {
    let plc = TcpPlc::start();
    {
        let mut m = plc.memory.lock().unwrap();
        m.set_f32(100, 80.0); // reaction temperature set-point
        m.holding[110] = 15; // hold time, min
        m.set_f32(120, 10.0); // feed set-point
        m.holding[130] = 0; // phase
        m.set_f32(0, 25.0); // temperature
        m.coils[5] = true; // cooling water open
    }
    let s = Server::demo();
    let api = s.admin_api();
    let r = api.post_json(
        "/api/v1/devices",
        &json!({"id": 0, "name": "R900 PLC", "enabled": true, "config": {"driver": "modbus_tcp",
            "host": "127.0.0.1", "port": plc.addr.port(), "unit": 1, "timeout_ms": 500,
            "groups": [{"name": "default", "interval_ms": 200}]}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let dev = r.json()["id"].as_u64().unwrap();
    let f32_at = |a: u16| json!({"area": "holding_register", "address": a, "format": "float32"});
    let sp = json!({"writable": true, "range_lo": 0, "range_hi": 150});
    tag(&api, "R900.TIC.SP", "float", dev, f32_at(100), sp.clone());
    tag(
        &api,
        "R900.HOLD.SP",
        "int",
        dev,
        json!({"area": "holding_register", "address": 110, "format": "uint16"}),
        json!({"writable": true, "range_lo": 5, "range_hi": 240}),
    );
    tag(&api, "R900.FIC.SP", "float", dev, f32_at(120), sp);
    tag(
        &api,
        "R900.PHASE",
        "int",
        dev,
        json!({"area": "holding_register", "address": 130, "format": "uint16"}),
        json!({}),
    );
    tag(&api, "R900.TT", "float", dev, f32_at(0), json!({}));
    tag(
        &api,
        "R900.XV5",
        "bool",
        dev,
        json!({"area": "coil", "address": 5, "format": "bit"}),
        json!({"writable": true}),
    );
    eventually(10, || current(&api, "R900.TIC.SP") == json!(80.0));

    // the unit: phases from its phase tag, no batch tag (batches by hand)
    let r = api.put_json(
        "/api/v1/automation/units/R900",
        &json!({"code": "", "name": "试验釜 R900", "area": "resin", "phase_tag": "R900.PHASE",
            "phases": ["idle", "charge", "react", "cool"], "key_tags": ["R900.TT", "R900.TIC.SP"],
            "product": "FG-AR100"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.put_json(
        "/api/v1/automation/units/R901",
        &json!({"code": "", "name": "x", "phase_tag": "R900.PHASE", "phases": []}),
    );
    assert_eq!(r.json()["error"]["field"], "phases", "{}", r.body);

    // a recipe: bad parameters are refused, naming the parameter
    let recipe = |params: Value| {
        json!({"code": "AR100@R900", "name": "AR-100 标准", "product": "FG-AR100", "unit": "R900",
            "params": params})
    };
    for (params, code) in [
        (
            json!([{"tag": "R900.NOPE", "value": 1}]),
            "automation.recipe.tag",
        ),
        (
            json!([{"tag": "R900.TT", "value": 80}]),
            "automation.recipe.param",
        ),
        (
            json!([{"tag": "R900.HOLD.SP", "value": 300}]),
            "automation.recipe.param",
        ),
        (
            json!([{"tag": "R900.HOLD.SP", "value": 30.5}]),
            "automation.recipe.param",
        ),
    ] {
        let r = api.post_json("/api/v1/automation/recipes", &recipe(params));
        assert_eq!((r.status, r.code()), (422, code.to_string()), "{}", r.body);
    }
    // a recipe for a unit the box does not know
    let mut unknown = recipe(json!([{"tag": "R900.TIC.SP", "value": 90}]));
    unknown["unit"] = json!("R999");
    let r = api.post_json("/api/v1/automation/recipes", &unknown);
    assert_eq!(
        (r.status, r.json()["error"]["field"].clone()),
        (422, json!("unit")),
        "{}",
        r.body
    );
    let r = api.post_json(
        "/api/v1/automation/recipes",
        &recipe(
            json!([{"tag": "R900.TIC.SP", "value": 92.5}, {"tag": "R900.HOLD.SP", "value": 30},
            {"tag": "R900.FIC.SP", "value": 12.0}]),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let rid = r.json()["id"].as_u64().unwrap();
    // a draft does not download; its author does not approve it
    let r = api.post_json(
        &format!("/api/v1/automation/recipes/{rid}/download"),
        &json!({}),
    );
    assert_eq!(r.code(), "automation.recipe.not_approved", "{}", r.body);
    let r = api.post_json(
        &format!("/api/v1/automation/recipes/{rid}/approve"),
        &json!({}),
    );
    assert_eq!(r.code(), "automation.recipe.own", "{}", r.body);
    let lead = s.login("zhang.jianguo");
    let r = lead.post_json(
        &format!("/api/v1/automation/recipes/{rid}/approve"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "approved");

    // an interlock on one parameter blocks the whole set: nothing is sent
    let r = api.put_json(
        "/api/v1/automation/control/R900.TIC.SP",
        &json!({"interlocks": [{"tag": "R900.XV5", "op": "eq", "value": 1, "text": "冷却水须开"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    plc.memory.lock().unwrap().coils[5] = false;
    eventually(10, || current(&api, "R900.XV5") == json!(false));
    let r = api.post_json(
        &format!("/api/v1/automation/recipes/{rid}/download"),
        &json!({}),
    );
    assert_eq!(
        (r.status, r.code()),
        (409, "automation.recipe.refused".to_string()),
        "{}",
        r.body
    );
    assert!(r.body.contains("R900.TIC.SP"), "{}", r.body);
    {
        let m = plc.memory.lock().unwrap();
        assert_eq!((m.f32_at(100), m.holding[110]), (80.0, 15), "nothing sent");
    }
    plc.memory.lock().unwrap().coils[5] = true;
    eventually(10, || current(&api, "R900.XV5") == json!(true));

    // the PLC keeps its own feed set-point: the download says what differed
    plc.memory.lock().unwrap().ignore_writes = vec![120];
    let r = api.post_json(
        &format!("/api/v1/automation/recipes/{rid}/download"),
        &json!({}),
    );
    assert_eq!(r.status, 502, "{}", r.body);
    let d = r.json();
    assert_eq!(d["ok"], false);
    let res = d["results"].as_array().unwrap();
    assert_eq!(res.len(), 3);
    assert_eq!(
        (
            res[0]["ok"].clone(),
            res[0]["before"].clone(),
            res[0]["after"].clone()
        ),
        (json!(true), json!(80.0), json!(92.5))
    );
    assert_eq!(res[1]["after"], json!(30.0));
    assert_eq!(res[2]["ok"], false);
    assert_eq!(res[2]["after"], json!(10.0), "the value the PLC holds");
    assert!(
        res[2]["error"].as_str().unwrap().contains("read"),
        "{}",
        res[2]
    );
    // taken: a verified download
    plc.memory.lock().unwrap().ignore_writes.clear();
    let r = api.post_json(
        &format!("/api/v1/automation/recipes/{rid}/download"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(plc.memory.lock().unwrap().f32_at(120), 12.0);

    // a batch, by an operator, as the PLC starts charging
    plc.memory.lock().unwrap().holding[130] = 1;
    eventually(10, || current(&api, "R900.PHASE") == json!(1));
    let op = s.login("li.ming");
    let r = op.post_json(
        "/api/v1/automation/batches",
        &json!({"unit": "R900", "recipe": "AR100@R900", "planned_qty": 2000}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let b = r.json();
    let bid = b["id"].as_u64().unwrap();
    let number = b["number"].as_str().unwrap().to_string();
    assert!(number.starts_with("R900-"), "{number}");
    assert_eq!(b["product"], "FG-AR100");
    assert_eq!(b["recipe"]["version"], 1);
    // one batch per unit at a time
    let r = op.post_json("/api/v1/automation/batches", &json!({"unit": "R900"}));
    assert_eq!(
        (r.status, r.code()),
        (409, "automation.batch.running".to_string()),
        "{}",
        r.body
    );
    // phases come from the PLC's phase tag, not by hand
    let r = op.post_json(
        &format!("/api/v1/automation/batches/{bid}/phase"),
        &json!({"phase": "react"}),
    );
    assert_eq!(r.code(), "automation.batch.phase_by_tag", "{}", r.body);
    eventually(10, || {
        api.get("/api/v1/automation/batches?unit=R900").json()[0]["phases"][0]["name"] == "charge"
    });

    // materials issued through inventory: its rules apply (a lot that does not exist, more
    // than the lot holds), then two lots go in
    let a01 = location(&api, "A-01");
    let issue = |material: &str, lot: &str, qty: f64| {
        op.post_json(
            &format!("/api/v1/automation/batches/{bid}/issue"),
            &json!({"material": material, "lot": lot, "location": a01, "qty": qty}),
        )
    };
    let r = issue("RM-BA", "NO-SUCH", 10.0);
    assert_eq!(
        (r.status, r.json()["error"]["field"].clone()),
        (422, json!("lot")),
        "{}",
        r.body
    );
    let r = issue("RM-BA", "BA26091", 100_000.0);
    assert_eq!(
        r.status, 422,
        "inventory refuses what the lot does not hold: {}",
        r.body
    );
    for (m, l, q) in [("RM-BA", "BA26091", 120.0), ("RM-MMA", "MMA26091", 80.0)] {
        let r = issue(m, l, q);
        assert_eq!(r.status, 200, "{m} {l}: {}", r.body);
    }
    let ledger = api.get("/api/v1/inventory/movements?limit=20").body;
    assert!(
        ledger.contains(&number),
        "the issues carry the batch number: {ledger}"
    );

    // the recipe cannot go to the unit while it runs a batch of another recipe
    let r = api.post_json(
        "/api/v1/automation/recipes",
        &json!({"code": "WE200@R900", "name": "WE-200", "product": "FG-WE200", "unit": "R900",
            "params": [{"tag": "R900.TIC.SP", "value": 70}]}),
    );
    let other = r.json()["id"].as_u64().unwrap();
    assert_eq!(
        lead.post_json(
            &format!("/api/v1/automation/recipes/{other}/approve"),
            &json!({})
        )
        .status,
        200
    );
    let r = api.post_json(
        &format!("/api/v1/automation/recipes/{other}/download"),
        &json!({}),
    );
    assert_eq!(
        (r.status, r.code()),
        (409, "automation.recipe.unit_busy".to_string()),
        "{}",
        r.body
    );
    assert_eq!(plc.memory.lock().unwrap().f32_at(100), 92.5, "nothing sent");

    // the process runs: an operator write during the batch, the reaction phase
    let r = op.post_json("/api/v1/tags/R900.TIC.SP/write", &json!({"value": 93.0}));
    assert_eq!(r.status, 200, "{}", r.body);
    plc.memory.lock().unwrap().holding[130] = 2;
    eventually(10, || {
        api.get("/api/v1/automation/batches?unit=R900").json()[0]["phases"][1]["name"] == "react"
    });
    plc.memory.lock().unwrap().set_f32(0, 91.0);
    eventually(10, || current(&api, "R900.TT") == json!(91.0));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = op.post_json(&format!("/api/v1/automation/batches/{bid}/end"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "done");

    // the output lot into stock, and a sample of it through quality
    let a02 = location(&api, "A-02");
    // the output is the batch's product, nothing else
    let r = op.post_json(
        &format!("/api/v1/automation/batches/{bid}/output"),
        &json!({"material": "RM-BA", "lot": "BA-OUT", "location": a02, "qty": 10}),
    );
    assert_eq!(
        (r.status, r.json()["error"]["field"].clone()),
        (422, json!("material")),
        "{}",
        r.body
    );
    let r = op.post_json(
        &format!("/api/v1/automation/batches/{bid}/output"),
        &json!({"lot": "AR-T900", "location": a02, "qty": 1950}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = op.post_json(
        &format!("/api/v1/automation/batches/{bid}/output"),
        &json!({"lot": "AR-T901", "location": a02, "qty": 1}),
    );
    assert_eq!(r.code(), "automation.batch.output", "once: {}", r.body);
    let r = op.post_json(
        &format!("/api/v1/automation/batches/{bid}/sample"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // the record
    let rec = api.get(&format!("/api/v1/automation/batches/{bid}/record"));
    assert_eq!(rec.status, 200, "{}", rec.body);
    let rec = rec.json();
    assert_eq!(rec["recipe"]["code"], "AR100@R900");
    assert_eq!(rec["download"]["ok"], true);
    let phases = rec["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 2, "{rec}");
    let react = &phases[1];
    assert_eq!(react["name"], "react");
    let tt = react["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == "R900.TT")
        .unwrap();
    assert_eq!(tt["max"], json!(91.0), "{tt}");
    assert!(tt["count"].as_u64().unwrap() >= 1);
    let charge_tt = phases[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == "R900.TT")
        .unwrap();
    assert_eq!(charge_tt["max"], json!(25.0), "{charge_tt}");
    let materials: Vec<(String, String)> = rec["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["material"].as_str().unwrap().into(),
                m["lot"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        materials,
        [
            ("RM-BA".to_string(), "BA26091".to_string()),
            ("RM-MMA".into(), "MMA26091".into())
        ]
    );
    assert_eq!(rec["batch"]["output"]["lot_number"], "AR-T900");
    assert_eq!(rec["samples"].as_array().unwrap().len(), 1);
    assert!((rec["yield_pct"].as_f64().unwrap() - 97.5).abs() < 1e-9);
    let actions = rec["actions"].to_string();
    assert!(
        actions.contains("R900.TIC.SP") && actions.contains("li.ming"),
        "the operator's write: {actions}"
    );
    assert!(
        actions.contains("automation.batch.start") && actions.contains("automation.batch.end"),
        "{actions}"
    );

    // genealogy both ways
    let g = api.get("/api/v1/automation/genealogy?lot=AR-T900").json();
    assert_eq!(g["made_by"][0]["number"], number.as_str());
    assert_eq!(g["made_by"][0]["lots_in"].as_array().unwrap().len(), 2);
    let g = api.get("/api/v1/automation/genealogy?lot=BA26091").json();
    assert_eq!(g["used_in"][0]["lot_out"], "AR-T900");
}

#[test]
fn the_shift_log_carries_open_items_and_a_handover_takes_two_people() {
    let s = Server::demo();
    let day = s.login("li.ming");
    let night = s.login("sun.wei");
    // the demo's R101 log: the day shift handed over, the night shift took over, the open
    // item (P101's seal) carried over
    let log = day.get("/api/v1/automation/shift-log?unit=R101").json();
    assert_eq!(log["last"]["taken_by"], "sun.wei", "{log}");
    assert_eq!(log["open_items"].as_array().unwrap().len(), 1, "{log}");
    assert_eq!(
        log["entries"].as_array().unwrap().len(),
        1,
        "this shift's own entry"
    );
    assert_eq!(
        day.get("/api/v1/automation/shift-log?unit=R999").status,
        404
    );

    let post = |c: &common::Client, body: Value| c.post_json("/api/v1/automation/shift-log", &body);
    let r = post(
        &night,
        json!({"action": "entry", "unit": "R101", "text": " "}),
    );
    assert_eq!(
        (r.status, r.json()["error"]["field"].clone()),
        (422, json!("text")),
        "{}",
        r.body
    );
    let r = post(
        &night,
        json!({"action": "entry", "unit": "R101", "text": "R101 取样待化验结果", "open_item": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["open_items"].as_array().unwrap().len(), 2);
    let r = post(
        &night,
        json!({"action": "hand_over", "unit": "R101", "note": "两项未了"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["pending"]["open_items"].as_array().unwrap().len(),
        2
    );
    // the one who handed over cannot take over; a second handover waits for the first
    let r = post(&night, json!({"action": "take_over", "unit": "R101"}));
    assert_eq!(r.code(), "automation.shift.same_person", "{}", r.body);
    let r = post(&day, json!({"action": "hand_over", "unit": "R101"}));
    assert_eq!(r.code(), "automation.shift.pending", "{}", r.body);
    let r = post(&day, json!({"action": "take_over", "unit": "R101"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let log = r.json();
    assert!(
        log["entries"].as_array().unwrap().is_empty(),
        "a new shift: {log}"
    );
    let open = log["open_items"].as_array().unwrap();
    assert_eq!(open.len(), 2, "both carried over");
    // closing needs a note; closed, it is not carried any more
    let id = open[0]["id"].clone();
    let r = post(&day, json!({"action": "close", "id": id, "note": ""}));
    assert_eq!(r.status, 422, "{}", r.body);
    let r = post(
        &day,
        json!({"action": "close", "id": id, "note": "已更换机封"}),
    );
    assert_eq!(
        r.json()["open_items"].as_array().unwrap().len(),
        1,
        "{}",
        r.body
    );
    // the page shows it
    let page = day.get("/automation/shift-log?unit=R101").body;
    assert!(page.contains("R101 取样待化验结果"), "{page}");

    // R101's batches start from its batch-number tag: not by hand
    let r = day.post_json("/api/v1/automation/batches", &json!({"unit": "R101"}));
    assert_eq!(
        (r.status, r.code()),
        (409, "automation.batch.by_tag".to_string()),
        "{}",
        r.body
    );
    assert_eq!(day.get("/automation/shift-log?unit=R999").status, 404);

    // the overview: R101's batch now and its OEE over the last day from the batch records
    let page = day.get("/automation").body;
    assert!(page.contains("R101-1000") && page.contains("OEE"), "{page}");
    // the compliance evidence counts the units' key variables and the batch records
    let c = s.admin_api().get("/api/v1/compliance").json().to_string();
    assert!(
        c.contains("electronic batch records") || c.contains("电子批记录"),
        "{c}"
    );
}

/// The demo reactor's process screen over the API: a binding to an unknown tag and a
/// drawing that carries a script are refused and change nothing; a clean drawing is taken
/// and served under a policy that runs nothing; the live stream sends the bound values
/// (and the recent trend) and then what changes; the screen's set-point rule refuses a
/// step too large.
#[test]
fn a_process_screen_refuses_bad_bindings_and_scripted_drawings_and_streams_live_values() {
    let s = Server::demo();
    let api = s.admin_api();
    let list = api.get("/api/v1/automation/screens").json();
    let screen = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["unit"] == "R101")
        .unwrap_or_else(|| panic!("the demo's R101 screen: {list}"))
        .clone();
    let id = screen["id"].as_u64().unwrap();
    let version = screen["version"].as_u64().unwrap();
    assert!(
        screen["bindings"].as_array().unwrap().len() >= 10,
        "{screen}"
    );

    // a binding to a tag that does not exist: refused, named, nothing saved
    let mut bindings = screen["bindings"].as_array().unwrap().clone();
    bindings.push(json!({"tag": "R101.TT999", "show": "value", "x": 10, "y": 10}));
    let body = json!({"id": id, "version": version, "name": screen["name"], "unit": "R101", "bindings": bindings});
    let r = api.post_json("/api/v1/automation/screens", &body);
    assert_eq!(
        (r.status, r.code()),
        (422, "automation.screen.unknown_tag".to_string()),
        "{}",
        r.body
    );
    assert!(r.body.contains("R101.TT999"), "{}", r.body);
    // a bar needs the tag's range; a position outside the drawing is refused
    bindings.pop();
    bindings.push(json!({"tag": "R101.TT101", "show": "value", "x": 120, "y": 10}));
    let body = json!({"id": id, "version": version, "name": screen["name"], "unit": "R101", "bindings": bindings});
    assert_eq!(
        api.post_json("/api/v1/automation/screens", &body).code(),
        "automation.screen.position"
    );
    let now = api.get(&format!("/api/v1/automation/screens/{id}")).json();
    assert_eq!(now["version"].as_u64(), Some(version), "nothing saved");

    // a drawing with a script, an event handler or an external reference: refused
    for (svg, code) in [
        (
            r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
            "svg_element",
        ),
        (
            r#"<svg xmlns="http://www.w3.org/2000/svg"><rect onclick="alert(1)"/></svg>"#,
            "svg_handler",
        ),
        (
            r#"<svg xmlns="http://www.w3.org/2000/svg"><image href="http://10.0.0.9/x.png"/></svg>"#,
            "svg_reference",
        ),
        (
            r#"<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>"#,
            "svg_doctype",
        ),
        ("%PDF-1.7", "image_type"),
    ] {
        let r = api.put_bytes(
            &format!("/api/v1/automation/screens/{id}/background"),
            "image/svg+xml",
            svg.as_bytes(),
        );
        assert_eq!(
            (r.status, r.code()),
            (422, format!("automation.screen.{code}")),
            "{svg}: {}",
            r.body
        );
    }
    let served = api.get(&format!("/automation/screens/{id}/background"));
    assert!(
        served.body.contains("丙烯酸树脂聚合釜"),
        "the demo drawing is still there"
    );
    // a clean one is taken, and served under its own policy
    let clean = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50"><rect width="100" height="50" fill="#eee"/><text x="5" y="20">R101</text></svg>"##;
    let r = api.put_bytes(
        &format!("/api/v1/automation/screens/{id}/background"),
        "image/svg+xml",
        clean.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["version"].as_u64(), Some(version + 1));
    let served = api.get(&format!("/automation/screens/{id}/background"));
    assert_eq!(served.header("content-type"), Some("image/svg+xml"));
    assert!(
        served
            .header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'") && c.contains("sandbox")),
        "{:?}",
        served.header("content-security-policy")
    );

    // the live stream: every bound value and the temperature's recent trend, then changes
    let base = s.base.clone();
    let out = common::read_sse(
        &base,
        &format!("/api/v1/automation/screens/{id}/stream"),
        "event: changes",
        10,
    );
    let snapshot = out
        .lines()
        .skip_while(|l| *l != "event: snapshot")
        .nth(1)
        .and_then(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("a snapshot: {out}"));
    let snap: Value = serde_json::from_str(snapshot).unwrap();
    let tt = &snap["values"]["R101.TT101"];
    assert!(tt[0].is_number() && tt[1] == "good", "{tt}");
    assert!(snap["values"]["R101.TIC101.SP"][0].is_number(), "{snap}");
    assert!(
        snap["trends"]["R101.TT101"]
            .as_array()
            .is_some_and(|t| t.len() > 10),
        "ten minutes of the temperature: {}",
        snap["trends"]
    );
    assert!(
        out.contains("event: changes"),
        "the simulator moves the values: {out}"
    );

    // the demo's rule on the reaction temperature set-point: at most 20 °C a write
    let sp = current(&api, "R101.TIC101.SP").as_f64().unwrap();
    let far = if sp < 85.0 { sp + 21.0 } else { sp - 21.0 };
    let r = api.post_json("/api/v1/tags/R101.TIC101.SP/write", &json!({"value": far}));
    assert_eq!(
        (r.status, r.code()),
        (409, "automation.control.step".to_string()),
        "{}",
        r.body
    );
    assert_eq!(
        current(&api, "R101.TIC101.SP").as_f64(),
        Some(sp),
        "nothing written"
    );
    // the unit's table view lists its tags
    let page = s.login("li.ming").get("/automation/units/R101").body;
    assert!(
        page.contains("data-tag=\"R101.TT101\"") && page.contains("data-tag=\"R101.PHASE\""),
        "{page}"
    );
}

/// The control console: an approver marks the hold-time set-point critical through the
/// form (an unreadable interlock line is refused with the line); an operator's direct
/// write is then refused, their request cannot be confirmed by themselves, and a second
/// operator confirms it on the page, which writes it.
#[test]
fn a_critical_set_point_is_written_by_two_people_through_the_control_console() {
    let s = Server::demo();
    let lead = s.login("zhang.jianguo");
    let r = lead.submit(
        "/automation/control/rules",
        &[
            ("tag", "R101.HOLD.SP"),
            ("interlocks", "R101.TT101 ~ 1"),
            ("critical", "on"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("R101.TT101 ~ 1"), "the line is named");
    let r = lead.submit(
        "/automation/control/rules",
        &[
            ("tag", "R101.HOLD.SP"),
            ("interlocks", "R101.NOPE = 1 no such tag"),
            ("critical", "on"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let r = lead.submit(
        "/automation/control/rules",
        &[("tag", "R101.HOLD.SP"), ("critical", "on")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = lead.get("/automation/control").body;
    assert!(page.contains("data-rule=\"R101.HOLD.SP\""), "{page}");
    // 修改 fills the form with the tag's rules, so a change keeps the others
    let form = lead.get("/automation/control?tag=R101.HOLD.SP").body;
    assert!(form.contains("name=\"critical\" checked"), "{form}");

    let api = s.admin_api();
    let old = current(&api, "R101.HOLD.SP").as_f64().unwrap();
    let new = if old < 100.0 { old + 1.0 } else { old - 1.0 };
    let li = s.login("li.ming");
    let r = li.post_json("/api/v1/tags/R101.HOLD.SP/write", &json!({"value": new}));
    assert_eq!(
        (r.status, r.code()),
        (409, "automation.control.critical".to_string()),
        "{}",
        r.body
    );
    let r = li.post_json(
        "/api/v1/automation/writes",
        &json!({"tag": "R101.HOLD.SP", "value": new}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_u64().unwrap();
    // the one who asked cannot confirm: the page says so, nothing is written
    let r = li.submit(&format!("/automation/control/requests/{id}/confirm"), &[]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("另一人确认"), "{}", r.body);
    assert_eq!(current(&api, "R101.HOLD.SP").as_f64(), Some(old));
    // a second person sees it waiting and confirms it
    let sun = s.login("sun.wei");
    let page = sun.get("/automation/control").body;
    assert!(
        page.contains(&format!("/automation/control/requests/{id}/confirm")),
        "a confirm button for the second person: {page}"
    );
    let r = sun.submit(&format!("/automation/control/requests/{id}/confirm"), &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    eventually(5, || current(&api, "R101.HOLD.SP").as_f64() == Some(new));
    let reqs = api.get("/api/v1/automation/writes").json();
    let req = reqs
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == id)
        .unwrap();
    assert_eq!(
        (req["state"].as_str(), req["confirmed_by"].as_str()),
        (Some("written"), Some("孙伟")),
        "{req}"
    );
}

/// The recipe form: a new version of an approved recipe starts from its parameters; an
/// unreadable parameter line is refused with the line; the draft saved is changed through
/// the same form by a second person, who is then among its editors.
#[test]
fn a_new_recipe_version_is_drafted_and_changed_on_the_console() {
    let s = Server::demo();
    let api = s.admin_api();
    let recipes = api.get("/api/v1/automation/recipes").json();
    let ar = recipes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "AR100@R101" && r["state"] == "approved")
        .unwrap()
        .clone();
    let li = s.login("li.ming");
    let page = li
        .get(&format!("/automation/recipes/new?from={}", ar["id"]))
        .body;
    assert!(
        page.contains("R101.TIC101.SP 85"),
        "filled from the approved version: {page}"
    );
    let form = |params: &str| {
        vec![
            ("code", "AR100@R101".to_string()),
            ("name", "丙烯酸树脂 AR-100 工艺（提高反应温度）".to_string()),
            ("product", ar["product"].as_str().unwrap().to_string()),
            ("unit", "R101".to_string()),
            ("params", params.to_string()),
        ]
    };
    let submit = |c: &common::Client, f: Vec<(&str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        c.submit("/automation/recipes/form", &f)
    };
    let r = submit(&li, form("R101.TIC101.SP 88\nR101.FIC101.SP twelve"));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("R101.FIC101.SP twelve"),
        "the line is named"
    );
    let r = submit(
        &li,
        form("R101.TIC101.SP 88 反应温度\nR101.FIC101.SP = 12\nR101.HOLD.SP 30"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let draft = api
        .get("/api/v1/automation/recipes")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "AR100@R101" && r["state"] == "draft")
        .unwrap()
        .clone();
    assert_eq!(
        draft["version"].as_u64(),
        ar["version"].as_u64().map(|v| v + 1)
    );
    assert_eq!(draft["params"][0]["value"], 88.0);
    // a second person changes the draft through the same form
    let sun = s.login("sun.wei");
    let id = draft["id"].to_string();
    let mut f = form("R101.TIC101.SP 87\nR101.FIC101.SP 12\nR101.HOLD.SP 30");
    f.push(("id", id.clone()));
    let r = submit(&sun, f);
    assert_eq!(r.status, 303, "{}", r.body);
    let after = api.get("/api/v1/automation/recipes").json();
    let after = after
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].to_string().as_str() == id.as_str())
        .unwrap();
    assert_eq!(after["params"][0]["value"], 87.0);
    assert_eq!(after["edited_by"], json!(["sun.wei"]), "{after}");
}

/// The unit form: a phase tag without phase names and an unknown key tag are refused with
/// the field named; a new unit gets its table view; a second unit of the same code is
/// refused; a change keeps the code.
#[test]
fn a_unit_is_set_up_on_the_console() {
    let s = Server::demo();
    let lead = s.login("zhang.jianguo");
    let base = [
        ("code", "R102"),
        ("name", "R102 乳液聚合釜"),
        ("area", "resin"),
        ("batch_tag", ""),
        ("product", ""),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&str, &str)> = base.to_vec();
        f.extend_from_slice(extra);
        lead.submit("/automation/units/form", &f)
    };
    let r = with(&[("phase_tag", "R101.PHASE"), ("phases", "")]);
    assert_eq!(r.status, 422, "{}", r.body);
    let r = with(&[("key_tags", "R101.TT101\nR101.TT999")]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("R101.TT999"), "the tag is named");
    let r = with(&[
        ("key_tags", "TK201.LT\nTK202.LT"),
        ("ideal_cycle_min", "300"),
    ]);
    assert_eq!(r.status, 303, "{}", r.body);
    let units = s.admin_api().get("/api/v1/automation/units").json();
    let r102 = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == "R102")
        .unwrap()
        .clone();
    assert_eq!(r102["key_tags"], json!(["TK201.LT", "TK202.LT"]), "{r102}");
    let page = lead.get("/automation/units/R102").body;
    assert!(page.contains("data-tag=\"TK201.LT\""), "{page}");
    // the same code again: refused; a change through the edit form keeps it
    assert_eq!(with(&[]).status, 422);
    let r = lead.submit(
        "/automation/units/form",
        &[
            ("editing", "R102"),
            ("code", "R999"),
            ("name", "R102 乳液聚合釜（改）"),
            ("key_tags", "TK201.LT"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let units = s.admin_api().get("/api/v1/automation/units").json();
    assert!(
        units
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["code"] == "R102" && u["name"] == "R102 乳液聚合釜（改）")
    );
    assert!(
        !units
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["code"] == "R999")
    );
    // an operator cannot
    assert_eq!(s.login("li.ming").get("/automation/units/new").status, 403);
}
