//! 质量管理 through the API on the demo plant: formulas refused with their position, a
//! receipt of a material under incoming inspection opens its sample, a failed result holds
//! the lot that inventory then refuses to ship, and a concession by the quality approver
//! makes it shippable.

use serde_json::{Value, json};

use crate::common::{Client, Server};

fn id_of(c: &Client, path: &str, key: &str, code: &str) -> u64 {
    c.get(path)
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .find(|x| x[key] == code)
        .unwrap_or_else(|| panic!("{code} not in {path}"))["id"]
        .as_u64()
        .unwrap()
}

fn item(api: &Client, keyword: &str, formula: &str) -> crate::common::Resp {
    api.post_json(
        "/api/v1/quality/items",
        &json!({"id": 0, "keyword": keyword, "name": keyword, "unit": "", "decimals": 1,
                "plausible_low": 0, "plausible_high": 1000, "formula": formula}),
    )
}

#[test]
fn a_failed_incoming_sample_holds_the_lot_until_a_concession() {
    let s = Server::demo();
    let mut api = s.admin_api();
    api.lang = Some("en");

    // the acid value of the monomer: four entered items and a formula
    for k in ["Vt", "Vb", "cN", "mS"] {
        assert_eq!(item(&api, k, "").status, 201);
    }
    // refused with the position: an unknown keyword, then a syntax error
    let r = item(&api, "AVt", "(Vt - Vx) * cN * 56.1 / mS");
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "formula");
    assert!(
        r.body.contains("character 7") && r.body.contains("Vx"),
        "{}",
        r.body
    );
    let r = item(&api, "AVt", "(Vt - Vb * cN * 56.1 / mS");
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Syntax error at character 26"),
        "{}",
        r.body
    );
    let av = item(&api, "AVt", "(Vt - Vb) × cN × 56.1 ÷ mS");
    assert_eq!(av.status, 201, "{}", av.body);
    let av = av.json()["id"].as_u64().unwrap();
    // the check endpoint evaluates without saving, and says so on a division by zero
    let c = api.post_json(
        "/api/v1/quality/formulas/check",
        &json!({"formula": "(Vt - Vb) * cN * 56.1 / mS",
                "values": {"Vt": 12.5, "Vb": 0.1, "cN": 0.1, "mS": 0}}),
    );
    assert_eq!(c.status, 422);
    assert!(c.body.contains("Division by zero"), "{}", c.body);

    // RM-BA is under incoming inspection: its specification at goods-in, AVt ≤ 5.0
    let ba = id_of(&api, "/api/v1/inventory/materials", "code", "RM-BA");
    let point = api.post_json(
        "/api/v1/quality/points",
        &json!({"id": 0, "code": "SP-GI", "name": "原料进厂", "stage": "receipt"}),
    );
    assert_eq!(point.status, 200, "{}", point.body);
    // a second specification for the same material, stage and grade is refused; the
    // demo's is changed to this test's acid value instead
    let spec = api.post_json(
        "/api/v1/quality/specs",
        &json!({"id": 0, "material": ba, "stage": "receipt",
                "lines": [{"item": av, "max": 5.0}]}),
    );
    assert_eq!(spec.status, 422, "{}", spec.body);
    assert_eq!(spec.json()["error"]["field"], "grade");
    let demo = api
        .get("/api/v1/quality/specs")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["material"] == ba && s["stage"] == "receipt")
        .expect("the demo's goods-in specification of RM-BA")
        .clone();
    let spec = api.put_json(
        &format!("/api/v1/quality/specs/{}", demo["id"]),
        &json!({"id": 0, "material": ba, "stage": "receipt", "standard": demo["standard"],
                "lines": [{"item": av, "max": 5.0}]}),
    );
    assert_eq!(spec.status, 200, "{}", spec.body);

    // a receipt where RM-BA is kept
    let stock = api
        .get(&format!("/api/v1/inventory/stock?material={ba}"))
        .json();
    let loc = stock[0]["location"].as_u64().expect("RM-BA in stock");
    let r = api.post_json(
        "/api/v1/inventory/movements",
        &json!({"kind": "receipt", "material": ba, "lot_number": "QT-0001", "to": loc, "qty": 500}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let lot = r.json()["lot"]["id"].as_u64().unwrap();
    assert_eq!(r.json()["lot"]["quality"], "held");
    let samples = api
        .get(&format!("/api/v1/quality/samples?lot={lot}"))
        .json();
    let sample = samples[0].clone();
    assert_eq!(sample["state"], "pending", "{samples}");
    assert_eq!(sample["origin"]["kind"], "receipt");
    let sid = sample["id"].as_u64().unwrap();

    // an implausible value is refused and nothing changes
    let results =
        |body: Value| api.post_json(&format!("/api/v1/quality/samples/{sid}/results"), &body);
    let r =
        results(json!([{"keyword": "Vt", "value": "12.5"}, {"keyword": "mS", "value": "5000"}]));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("plausible"), "{}", r.body);
    assert_eq!(
        api.get(&format!("/api/v1/quality/samples/{sid}")).json()["results"],
        sample["results"]
    );
    // AVt = (12.5 − 0.1) × 0.1 × 56.1 ÷ 2 = 34.8 > 5.0: failed
    let r = results(
        json!([{"keyword": "Vt", "value": "12.5"}, {"keyword": "Vb", "value": "0.1"},
                           {"keyword": "cN", "value": "0.1"}, {"keyword": "mS", "value": "2"}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let judged = r.json();
    assert_eq!(judged["state"], "failed", "{judged}");
    let line = judged["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["item"] == av)
        .unwrap()
        .clone();
    assert!((line["value"].as_f64().unwrap() - 34.782).abs() < 1e-9);
    assert_eq!(line["verdict"], "fail");
    let failed = api
        .get("/api/v1/quality/samples?state=nonconforming")
        .json();
    assert!(failed.as_array().unwrap().iter().any(|x| x["id"] == sid));
    let ncrs = api.get("/api/v1/quality/ncrs").json();
    assert!(
        ncrs[0]["finding"].as_str().unwrap().starts_with("AVt 34.8"),
        "{ncrs}"
    );

    // inventory refuses to ship the held lot
    let c3 = id_of(&api, "/api/v1/inventory/partners", "code", "C-003");
    let so = api.post_json(
        "/api/v1/inventory/sales-orders",
        &json!({"customer": c3, "kind": "standard", "lines": [{"material": ba, "qty": 10}]}),
    );
    assert_eq!(so.status, 201, "{}", so.body);
    let so = so.json();
    let so_id = so["id"].as_u64().unwrap();
    if so["state"] == "pending" {
        let r = api.post_json(
            &format!("/api/v1/inventory/sales-orders/{so_id}/actions"),
            &json!({"action": "approve"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let deliver = json!({"action": "deliver", "lines": [{"line": 0, "qty": 10,
                         "picks": [{"lot": lot, "location": loc, "qty": 10}]}]});
    let ship = |c: &Client| {
        c.post_json(
            &format!("/api/v1/inventory/sales-orders/{so_id}/actions"),
            &deliver,
        )
    };
    let r = ship(&api);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "lot", "{}", r.body);

    // a warehouse keeper cannot decide a sample; the lab's approver grants a concession
    let keeper = s.login("chen.xiaoyan");
    let act = |c: &Client, body: Value| {
        c.post_json(&format!("/api/v1/quality/samples/{sid}/actions"), &body)
    };
    assert_eq!(
        act(&keeper, json!({"action": "concession", "comment": "x"})).status,
        403
    );
    assert_eq!(
        act(&api, json!({"action": "release"})).status,
        409,
        "a failed sample is not released"
    );
    // four eyes: whoever entered the results does not concede them
    let r = act(&api, json!({"action": "concession", "comment": "x"}));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("someone else"), "{}", r.body);
    let lab = s.login("wu.lihua");
    let r = act(
        &lab,
        json!({"action": "concession", "comment": "客户书面同意让步接收"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "concession");
    let l = api.get(&format!("/api/v1/inventory/lots/{lot}")).json();
    assert_eq!(l["lot"]["quality"], "released", "{l}");
    // now it ships, with its certificate of analysis (the concession said on it)
    let r = ship(&api);
    assert_eq!(r.status, 200, "{}", r.body);
    let coa = api.get(&format!("/quality/lots/{lot}/coa"));
    assert_eq!(coa.status, 200, "{}", coa.body);
    assert!(
        coa.body.contains("QT-0001") && coa.body.contains("<svg"),
        "the lot and its QR code"
    );
    assert!(
        coa.body.contains("客户书面同意让步接收"),
        "the concession is on the certificate"
    );
    // a customer whose own specification asks for an item the lot was not tested for:
    // no certificate against it, and the items are named
    let pur = id_of(&api, "/api/v1/quality/items", "keyword", "PUR");
    let theirs = api.post_json(
        "/api/v1/quality/specs",
        &json!({"id": 0, "material": ba, "stage": "receipt", "customer": c3,
                "lines": [{"item": av, "max": 40.0}, {"item": pur, "min": 99.5}]}),
    );
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    let coa = api.get(&format!("/quality/lots/{lot}/coa?customer={c3}"));
    assert_eq!(coa.status, 409, "{}", coa.body);
    assert!(coa.body.contains("PUR"), "{}", coa.body);
    // a lot without a released sample has no certificate
    let tol = id_of(&api, "/api/v1/inventory/materials", "code", "RM-TOL");
    let other = api
        .get(&format!("/api/v1/inventory/stock?material={tol}"))
        .json()[0]["lot"]
        .as_u64()
        .unwrap();
    assert_eq!(api.get(&format!("/quality/lots/{other}/coa")).status, 409);
    // results on a decided sample are refused
    let r = results(json!([{"keyword": "Vt", "value": "1"}]));
    assert_eq!(r.status, 409, "{}", r.body);
    // an instrument's file: a bad row refuses the whole file, a good file enters results
    let point_id = point.json()["id"].as_u64().unwrap();
    let hand = api.post_json(
        "/api/v1/quality/samples",
        &json!({"material": ba, "point": point_id}),
    );
    assert_eq!(hand.status, 201, "{}", hand.body);
    let number = hand.json()["number"].as_str().unwrap().to_string();
    let hid = hand.json()["id"].as_u64().unwrap();
    let bad = format!(
        "sample,item,value\n{number},Vt,1.0\nQC-1999-000001,Vt,2\n{number},mS,99999\n{number},Xq,1\n{number},cN,abc\n"
    );
    let r = api.post_multipart(
        "/api/v1/quality/samples/import",
        "file",
        "gc.csv",
        "text/csv",
        bad.as_bytes(),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let rows = r.json()["error"]["rows"].clone();
    // every bad row (the header is row 1), each with what is wrong with it
    let named: Vec<(u64, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["row"].as_u64().unwrap(),
                x["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [(3, "sample"), (4, "value"), (5, "item"), (6, "value")]
            .map(|(r, f)| (r, f.to_string()))
            .to_vec(),
        "{rows}"
    );
    assert!(
        rows[1]["message"].as_str().unwrap().contains("mS"),
        "{rows}"
    );
    assert!(
        rows[2]["message"].as_str().unwrap().contains("Xq"),
        "{rows}"
    );
    assert!(
        api.get(&format!("/api/v1/quality/samples/{hid}")).json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["value"].is_null()),
        "nothing entered"
    );
    let good = format!(
        "sample,item,value\n{number},Vt,1.2\n{number},Vb,0.1\n{number},cN,0.1\n{number},mS,2\n"
    );
    let r = api.post_multipart(
        "/api/v1/quality/samples/import",
        "file",
        "gc.csv",
        "text/csv",
        good.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["entered"], 4);
    let s2 = api.get(&format!("/api/v1/quality/samples/{hid}")).json();
    assert_eq!(s2["state"], "passed", "AVt 3.1 ≤ 5.0: {s2}");

    // the console's specification form: limits as a lab writes them, a bad line named
    let we = id_of(&api, "/api/v1/inventory/materials", "code", "FG-WE200");
    let form = |lines: &str| {
        api.post_form(
            "/quality/specs",
            &[
                ("material", we.to_string().as_str()),
                ("stage", "finished"),
                ("grade", "出口级"),
                ("compare", "rounded"),
                ("lines", lines),
            ],
        )
    };
    let r = form("SC 46.0 ~ 44.0\nVIS ≤ 2000");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("Line 1"), "the bad line is named");
    // every bad line is named, not only the first
    let r = form("SC 46.0 ~ 44.0\nVIS ≤ lots\nVIS ≤ 2000\nXYZ ≤ 1");
    assert_eq!(r.status, 422, "{}", r.body);
    for n in ["Line 1", "Line 2", "Line 4"] {
        assert!(r.body.contains(n), "{n} named: {}", r.body);
    }
    assert!(!r.body.contains("Line 3"), "a good line is not named");
    // a range as many standards write it, with a hyphen
    let r = form("SC 44.0 - 46.0\nVIS ≤ 2000");
    assert!(r.status == 200 || r.status == 303, "{}", r.body);
    let saved = api
        .get("/api/v1/quality/specs")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["grade"] == "出口级")
        .expect("the new grade's specification")
        .clone();
    assert_eq!(saved["lines"][0]["min"], 44.0);
    assert_eq!(
        saved["lines"][0]["digits"], 1,
        "the digits it was written with"
    );

    // SPC of the demo resin's viscosity: I-MR, X̄-R of subgroups of 5, Cp/Cpk, on the page too
    let vis = id_of(&api, "/api/v1/quality/items", "keyword", "VIS");
    let ar = id_of(&api, "/api/v1/inventory/materials", "code", "FG-AR100");
    let spc = api
        .get(&format!("/api/v1/quality/spc?item={vis}&product={ar}&n=5"))
        .json();
    let n = spc["points"].as_array().unwrap().len();
    assert!(n >= 5, "{spc}");
    assert_eq!(spc["subgroups"].as_array().unwrap().len(), n / 5);
    assert!(spc["imr"]["sigma"].as_f64().unwrap() > 0.0);
    assert!(spc["xbar_r"]["ucl"].as_f64().unwrap() > spc["xbar_r"]["center"].as_f64().unwrap());
    assert_eq!(
        (spc["lsl"].as_f64(), spc["usl"].as_f64()),
        (Some(3000.0), Some(6000.0))
    );
    assert!(spc["cpk"].as_f64().is_some());
    let page = api.get(&format!("/quality/spc?item={vis}&product={ar}&n=5"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("X̄-R (n = 5)") && page.body.contains("data-spc-xbar"));
    // an absurd time span is an empty chart, not a crash
    let r = api.get(&format!(
        "/api/v1/quality/spc?item={vis}&product={ar}&to=-9223372036854775000"
    ));
    assert_eq!(r.status, 200);

    // the audit log has the formula, the results and the concession
    for action in [
        "quality.formula.create",
        "quality.sample.results",
        "quality.sample.concession",
    ] {
        let a = api.get(&format!("/api/v1/audit?action={action}")).json();
        assert!(!a["entries"].as_array().unwrap().is_empty(), "{action}");
    }
}
