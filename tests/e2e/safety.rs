//! The safety module over HTTP: special work permits signed by the demo staff through their
//! life cycle with the GB 30871 refusals on the way, the register, its export, the printable
//! permit with its QR code, the settings, and the demo's permits of every type.

use crate::common;

use common::{Client, Server};
use serde_json::{Value, json};

/// Local plant time (+08:00) `minutes` from now, `YYYY-MM-DD HH:MM`.
pub(crate) fn local(minutes: i64) -> String {
    let t = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8))
        + time::Duration::minutes(minutes);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(&f).unwrap()
}

pub(crate) fn user_id(admin: &Client, username: &str) -> u64 {
    admin
        .get("/api/v1/users")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("demo user {username}"))["id"]
        .as_u64()
        .unwrap()
}

pub(crate) fn hot_work(guardian: u64, x: f64, from: &str, to: &str) -> Value {
    json!({
        "details": {"type": "hot_work", "assessed": "second", "method": "电焊", "method_kind": "welding",
                    "lel_pct": 1.2, "outdoor": false, "wind_force": 1},
        "applicant_unit": "生产部", "content": "测试：排污管线补焊", "location": "污水站",
        "x": x, "y": 900.0, "work_unit": "设备动力部", "leader": "徐国平",
        "workers": [{"name": "王强", "cert": "T330781199203150417"}],
        "guardian_id": guardian, "risks": "可燃气体\n烫伤", "from": from, "to": to,
    })
}

/// Which demo user signs each duty.
pub(crate) fn who(duty: &str) -> &'static str {
    match duty {
        "unit" | "utilities" => "li.ming",
        "safety_dept" => "wang.haitao",
        "fire" => "chen.xiaoyan",
        "leader" => "zhang.jianguo",
        _ => "xu.guoping",
    }
}

pub(crate) fn act(c: &Client, id: u64, body: Value) -> common::Resp {
    c.post_json(&format!("/api/v1/safety/permits/{id}/actions"), &body)
}

pub(crate) fn gas(sampled: &str, combustible: f64) -> Value {
    json!({"action": "gas", "gas": {"sampled": sampled, "point": "法兰", "combustible_pct": combustible, "o2_pct": 20.9}})
}

#[test]
fn hot_work_through_its_chain_with_every_refusal_on_the_way() {
    let s = Server::demo();
    let admin = s.admin_api();
    let sun = user_id(&admin, "sun.wei");
    let applicant = s.login("zhou.jianming");

    // a validity beyond the type's limit is refused and nothing is created
    let before = admin
        .get("/api/v1/safety/permits")
        .json()
        .as_array()
        .unwrap()
        .len();
    let r = applicant.post_json(
        "/api/v1/safety/permits",
        &hot_work(sun, 800.0, &local(0), &local(100 * 60)),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("GB 30871"), "{}", r.body);
    assert_eq!(
        admin
            .get("/api/v1/safety/permits")
            .json()
            .as_array()
            .unwrap()
            .len(),
        before
    );

    // machine tokens read permits but never sign them
    assert_eq!(
        admin
            .post_json(
                "/api/v1/safety/permits",
                &hot_work(sun, 800.0, &local(0), &local(180))
            )
            .status,
        403
    );

    let r = applicant.post_json(
        "/api/v1/safety/permits",
        &hot_work(sun, 800.0, &local(-1), &local(180)),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let p = r.json();
    let id = p["id"].as_u64().unwrap();
    assert!(p["number"].as_str().unwrap().starts_with("DH-"));
    assert_eq!(act(&applicant, id, json!({"action": "submit"})).status, 200);
    assert_eq!(
        act(&applicant, id, json!({"action": "confirm_measures"})).status,
        200
    );

    // the analyst records gas: over the limit (LEL 1.2 % → 0.2 % vol) is recorded as
    // failing, and the permit waits for a passing one
    let analyst = s.login("wu.lihua");
    let r = act(&analyst, id, gas(&local(-42), 0.35));
    assert_eq!(r.status, 200, "{}", r.body);
    let now = r.json();
    assert_eq!(now["gas"].as_array().unwrap().len(), 1);
    assert!(
        now["gas"][0]["failures"][0]["en"]
            .as_str()
            .unwrap()
            .contains("limit of 0.2"),
        "{now}"
    );
    assert_eq!(now["stage"], "gas_analysis");
    // a passing one at the same point, sampled 40 minutes ago
    assert_eq!(act(&analyst, id, gas(&local(-40), 0.1)).status, 200);

    let p = admin.get(&format!("/api/v1/safety/permits/{id}")).json();
    assert_eq!(p["stage"], "approval");
    let chain: Vec<String> = p["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    assert!(!chain.is_empty());
    // a viewer and the applicant cannot sign an approval
    let viewer = s.login("liu.yang");
    assert_eq!(act(&viewer, id, json!({"action": "approve"})).status, 403);
    let r = act(&applicant, id, json!({"action": "approve"}));
    assert_eq!(r.status, 403, "{}", r.body);
    // a step out of order is refused and names the duty whose step is next
    if chain.len() > 1 {
        let last = s.login(who(chain.last().unwrap()));
        let r = act(
            &last,
            id,
            json!({"action": "approve", "step": chain.len() - 1}),
        );
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("所在基层单位"), "{}", r.body);
    }
    for (i, d) in chain.iter().enumerate() {
        let signer = s.login(who(d));
        let r = act(
            &signer,
            id,
            json!({"action": "approve", "step": i, "note": "同意"}),
        );
        assert_eq!(r.status, 200, "step {i} ({d}): {}", r.body);
    }
    assert_eq!(act(&applicant, id, json!({"action": "brief"})).status, 200);

    // the guardian starts: the 40-minute-old sample is refused, a fresh one passes
    let guardian = s.login("sun.wei");
    let r = act(&guardian, id, json!({"action": "start"}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("30"), "{}", r.body);
    assert_eq!(act(&analyst, id, gas(&local(0), 0.05)).status, 200);
    let r = act(&guardian, id, json!({"action": "start"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["stage"], "working");
    // a short pause needs no re-test
    assert_eq!(
        act(
            &guardian,
            id,
            json!({"action": "suspend", "note": "换焊条"})
        )
        .status,
        200
    );
    assert_eq!(act(&guardian, id, json!({"action": "resume"})).status, 200);
    assert_eq!(act(&applicant, id, json!({"action": "finish"})).status, 200);
    let r = act(&s.login("li.ming"), id, json!({"action": "accept"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    assert_eq!(p["stage"], "closed");
    let actions: Vec<&str> = p["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"submit"));
    assert_eq!(actions.last(), Some(&"accept"));
    assert!(actions.contains(&"start") && actions.contains(&"resume"));

    // the printable permit carries the number and a QR code to the live permit
    let number = p["number"].as_str().unwrap().to_string();
    let print = applicant.get(&format!("/safety/permits/{id}/print"));
    assert_eq!(print.status, 200);
    assert!(
        print.body.contains(&number) && print.body.contains("<svg"),
        "{}",
        print.body
    );
    assert!(
        print
            .body
            .contains(&format!("/safety/permits/{id}</small>"))
    );
    // the register finds it and exports it to Excel
    let page = applicant.get(&format!("/safety/permits?q={number}"));
    assert!(page.body.contains(&number));
    let x = applicant.get(&format!("/safety/permits/export?format=xlsx&q={number}"));
    assert_eq!(x.status, 200);
    assert_eq!(&x.bytes[..2], b"PK");
    let csv = applicant.get("/safety/permits/export?format=csv&work=hot_work&stage=closed");
    assert!(csv.body.contains(&number), "{}", csv.body);
    // the audit log has every signed step
    let audit = admin
        .get("/api/v1/audit?action=safety.permit&limit=100")
        .body;
    assert!(audit.contains("safety.permit.accept"), "{audit}");
}

fn permit(kind: Value, guardian: u64, from: &str, to: &str) -> Value {
    json!({
        "details": kind,
        "applicant_unit": "生产部", "content": "测试作业", "location": "测试装置",
        "x": 2000.0, "y": 2000.0, "work_unit": "设备动力部", "leader": "徐国平",
        "workers": [{"name": "王强", "cert": "T330781199203150417"}],
        "guardian_id": guardian, "risks": "泄漏", "from": from, "to": to,
    })
}

fn field_of(r: &common::Resp) -> String {
    r.json()["error"]["field"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Signs a permit (by id) from its draft to work, as the demo staff: submit and measures by
/// the applicant, a passing analysis, each approval, briefing, a fresh analysis, start.
pub(crate) fn to_work(s: &Server, id: u64, analysis: impl Fn(&str) -> Value) {
    to_briefed(s, id, analysis);
    let r = act(&s.login("sun.wei"), id, json!({"action": "start"}));
    assert_eq!(r.status, 200, "{}", r.body);
}

/// `to_work` up to the start: approved, briefed, a fresh analysis.
pub(crate) fn to_briefed(s: &Server, id: u64, analysis: impl Fn(&str) -> Value) {
    let applicant = s.login("zhou.jianming");
    let analyst = s.login("wu.lihua");
    for a in ["submit", "confirm_measures"] {
        let r = act(&applicant, id, json!({"action": a}));
        assert_eq!(r.status, 200, "{a}: {}", r.body);
    }
    let r = act(&analyst, id, analysis(&local(-10)));
    assert_eq!(r.status, 200, "{}", r.body);
    let chain: Vec<String> = r.json()["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    for (i, d) in chain.iter().enumerate() {
        let r = act(
            &s.login(who(d)),
            id,
            json!({"action": "approve", "step": i}),
        );
        assert_eq!(r.status, 200, "{d}: {}", r.body);
    }
    assert_eq!(act(&applicant, id, json!({"action": "brief"})).status, 200);
    assert_eq!(act(&analyst, id, analysis(&local(-4))).status, 200);
}

/// What a GB 30871 review found wrong, each point driven through the API by the demo staff:
/// failing analyses recorded and stopping work, values a rule needs required (unknown LEL
/// → 0.2 %), wind, hot work inside a vessel.
#[test]
fn gb30871_review_points_hold_through_the_api() {
    let s = Server::demo();
    let admin = s.admin_api();
    let sun = user_id(&admin, "sun.wei");
    let applicant = s.login("zhou.jianming");
    let analyst = s.login("wu.lihua");
    let (from, to) = (local(-1), local(240));
    let create =
        |kind: Value| applicant.post_json("/api/v1/safety/permits", &permit(kind, sun, &from, &to));

    // 2. values a rule needs are required; an unknown LEL takes the stricter limit
    let r = create(json!({"type": "lifting", "load_t": 12.0, "tool": "吊车", "wind_force": 2}));
    assert_eq!(
        (r.status, field_of(&r)),
        (422, "outdoor".into()),
        "{}",
        r.body
    );
    let r = create(json!({"type": "confined_space", "space": "V-901", "medium": "甲苯"}));
    assert_eq!(
        (r.status, field_of(&r)),
        (422, "toxics".into()),
        "{}",
        r.body
    );
    let r = create(
        json!({"type": "confined_space", "space": "V-901", "medium": "甲苯",
                          "toxics": [{"name": "C7H8", "limit_mg_m3": 80.0}]}),
    );
    assert_eq!(
        (r.status, field_of(&r)),
        (422, "toxics".into()),
        "above GBZ 2.1: {}",
        r.body
    );
    let r = create(
        json!({"type": "confined_space", "space": "V-901", "medium": "甲苯",
                          "toxics": [{"name": "甲苯"}, {"name": "H2S"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let cs = r.json();
    let cs_id = cs["id"].as_u64().unwrap();
    assert_eq!(cs["details"]["lel_pct"], Value::Null);
    assert_eq!(
        cs["details"]["toxics"][0],
        json!({"name": "C7H8", "limit_mg_m3": 50.0})
    );
    let analysis = |c: f64, o2: f64, toluene: f64, h2s: f64| {
        move |sampled: &str| {
            json!({"action": "gas", "gas": {"sampled": sampled, "point": "人孔", "combustible_pct": c,
                   "o2_pct": o2, "toxics": [{"name": "C7H8", "value": toluene}, {"name": "H2S", "value": h2s}]}})
        }
    };
    for a in ["submit", "confirm_measures"] {
        assert_eq!(act(&applicant, cs_id, json!({"action": a})).status, 200);
    }
    // 1. 0.3 % with an unknown LEL fails, and is kept on the record
    let r = act(&analyst, cs_id, analysis(0.3, 20.9, 1.0, 0.0)(&local(-5)));
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    assert_eq!(p["stage"], "gas_analysis");
    assert_eq!(p["gas"][0]["failures"][0]["field"], "combustible_pct");
    // a missing toxic value is bad input, not a reading
    let r = act(
        &analyst,
        cs_id,
        json!({"action": "gas", "gas": {"sampled": local(-4), "point": "人孔",
                 "combustible_pct": 0.1, "o2_pct": 20.9, "toxics": [{"name": "H2S", "value": 0.0}]}}),
    );
    assert_eq!(
        (r.status, field_of(&r)),
        (422, "toxics".into()),
        "{}",
        r.body
    );
    // the rest of its way to work, then the 2-hourly reading finds toluene over 50 mg/m³
    let r = act(&applicant, cs_id, json!({"action": "cancel"}));
    assert_eq!(r.status, 200);
    let r = create(
        json!({"type": "confined_space", "space": "V-902", "medium": "甲苯",
                          "toxics": [{"name": "甲苯"}, {"name": "H2S"}]}),
    );
    let cs_id = r.json()["id"].as_u64().unwrap();
    to_work(&s, cs_id, analysis(0.05, 20.8, 2.0, 0.0));
    let r = act(&analyst, cs_id, analysis(0.05, 20.8, 86.0, 0.0)(&local(-2)));
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    assert_eq!(
        p["stage"], "suspended",
        "a failing analysis during work stops it"
    );
    assert_eq!(p["retest_required"], true);
    let number = p["number"].as_str().unwrap().to_string();
    // an alarm at once, and a notice to the guardian and the safety department
    assert!(alarm_with(&admin, &number), "no alarm for {number}");
    let guardian = s.login("sun.wei");
    for who in [&guardian, &s.login("wang.haitao")] {
        let n = who.get("/api/v1/notices?unread=true").json();
        assert!(n.to_string().contains(&number), "{n}");
    }
    assert!(
        guardian
            .get("/safety/permits")
            .body
            .contains("data-notices")
    );
    // the guardian cannot resume until a passing re-test at that point
    let r = act(&guardian, cs_id, json!({"action": "resume"}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "safety.permit.gas_failed");
    assert_eq!(
        act(&analyst, cs_id, analysis(0.05, 20.8, 10.0, 0.0)(&local(0))).status,
        200
    );
    let r = act(&guardian, cs_id, json!({"action": "resume"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["stage"], "working");
    assert!(
        !alarm_with(&admin, &number),
        "the alarm clears with the passing re-test"
    );

    // 3. outdoor hot work in wind of force 5: refused, or upgraded with the special approval
    let hot = |assessed: &str, force: u8, approval: &str| {
        json!({"type": "hot_work", "assessed": assessed, "method": "电焊", "method_kind": "welding",
               "lel_pct": 5.0, "outdoor": true, "wind_force": force, "wind_approval": approval,
               "monitor_tags": ["GD201"]})
    };
    let r = create(hot("second", 5, ""));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "safety.rule.wind_hot");
    let r = create(hot("second", 5, "反应器泄漏，生产确需立即补焊"));
    assert_eq!(r.status, 201, "{}", r.body);
    let p = r.json();
    assert_eq!(p["level"], "first");
    assert!(p["upgrades"].to_string().contains("wind"), "{p}");
    let r = create(hot("special", 8, "抢修"));
    assert_eq!(
        (r.status, r.code()),
        (422, "safety.rule.wind_hot_special".into()),
        "{}",
        r.body
    );
    let r = create(
        json!({"type": "lifting", "load_t": 12.0, "tool": "吊车", "outdoor": true, "wind_force": 6}),
    );
    assert_eq!(
        (r.status, r.code()),
        (422, "safety.rule.wind".into()),
        "{}",
        r.body
    );

    // 4. hot work inside a vessel: its confined-space permit linked, and its gas limits
    let mut inside = hot("second", 1, "");
    inside["space"] = json!("V-902");
    inside["outdoor"] = json!(false);
    let r = create(inside.clone());
    assert_eq!(
        (r.status, r.code()),
        (422, "safety.permit.space_permit".into()),
        "{}",
        r.body
    );
    let mut body = permit(inside, sun, &from, &to);
    body["linked"] = json!([cs_id]);
    body["x"] = json!(2100.0);
    let r = applicant.post_json("/api/v1/safety/permits", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let hw = r.json()["id"].as_u64().unwrap();
    for a in ["submit", "confirm_measures"] {
        let r = act(&applicant, hw, json!({"action": a}));
        assert_eq!(r.status, 200, "{a}: {}", r.body);
    }
    // oxygen 22 % (fine in the open) fails inside; the vessel's toxic gases are asked for
    let r = act(&analyst, hw, analysis(0.1, 22.0, 1.0, 0.0)(&local(0)));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["gas"][0]["failures"][0]["field"], "o2_pct");
    let r = act(&analyst, hw, gas(&local(0), 0.1));
    assert_eq!(
        (r.status, field_of(&r)),
        (422, "toxics".into()),
        "{}",
        r.body
    );
}

#[test]
fn conflicts_and_bad_steps_are_refused_with_the_rule_named() {
    let s = Server::demo();
    let admin = s.admin_api();
    let sun = user_id(&admin, "sun.wei");
    let applicant = s.login("zhou.jianming");
    let blinding = |x: f64| {
        json!({
            "details": {"type": "blinding", "line": "P-9001", "medium": "甲苯", "blind_spec": "DN50", "blind_number": "MB-91", "action": "insert"},
            "applicant_unit": "生产部", "content": "测试盲板", "location": "罐区", "x": x, "y": -500.0,
            "work_unit": "设备动力部", "leader": "徐国平", "guardian_id": sun, "risks": "泄漏",
            "from": local(60), "to": local(180),
        })
    };
    let first = applicant
        .post_json("/api/v1/safety/permits", &blinding(0.0))
        .json();
    let first_id = first["id"].as_u64().unwrap();
    assert_eq!(
        act(&applicant, first_id, json!({"action": "submit"})).status,
        200
    );
    // a second blinding on the same line: refused, naming the line and the other permit
    let second = applicant
        .post_json("/api/v1/safety/permits", &blinding(200.0))
        .json();
    let second_id = second["id"].as_u64().unwrap();
    let r = act(&applicant, second_id, json!({"action": "submit"}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("P-9001") && r.body.contains(first["number"].as_str().unwrap()),
        "{}",
        r.body
    );
    assert_eq!(
        admin
            .get(&format!("/api/v1/safety/permits/{second_id}"))
            .json()["stage"],
        "draft"
    );
    // hot work 10 m from that blinding: refused (30 m rule)
    let hot = applicant
        .post_json("/api/v1/safety/permits", &{
            let mut h = hot_work(sun, 10.0, &local(60), &local(180));
            h["y"] = json!(-500.0);
            h
        })
        .json();
    let r = act(
        &applicant,
        hot["id"].as_u64().unwrap(),
        json!({"action": "submit"}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("30"), "{}", r.body);
    // steps that are not possible now
    let r = act(&applicant, first_id, json!({"action": "start"}));
    assert_eq!(r.status, 409, "{}", r.body);
    // a permit of another type cannot take a gas analysis
    let r = act(&s.login("wu.lihua"), first_id, gas(&local(0), 0.1));
    assert!(r.status == 409 || r.status == 422, "{}", r.body);
    // unknown permits and unknown fields
    assert_eq!(applicant.get("/api/v1/safety/permits/999999").status, 404);
    let r = applicant.post_json(
        "/api/v1/safety/permits",
        &json!({"details": {"type": "teleport"}}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    // the form page shows a rule breach next to the form and keeps what was typed
    let r = applicant.submit(
        "/safety/permits",
        &[
            ("work", "height"),
            ("applicant_unit", "生产部"),
            ("work_unit", "设备动力部"),
            ("content", "屋顶检修"),
            ("location", "仓库屋顶"),
            ("x", "0"),
            ("y", "0"),
            ("from", &local(60).replace(' ', "T")),
            ("to", &local(240).replace(' ', "T")),
            ("height_m", "12"),
            ("wind_force", "6"),
            ("leader", "徐国平"),
            ("checklist", "安全带"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("风力 6 级") || r.body.contains("Wind force 6"),
        "{}",
        r.body
    );
    assert!(r.body.contains("屋顶检修"));
}

#[test]
fn demo_permits_settings_and_statistics() {
    let s = Server::demo();
    let admin = s.admin_api();
    let list = admin.get("/api/v1/safety/permits").json();
    let list = list.as_array().unwrap();
    for w in [
        "hot_work",
        "confined_space",
        "blinding",
        "height",
        "lifting",
        "temporary_power",
        "excavation",
        "road_break",
    ] {
        assert!(
            list.iter().any(|p| p["details"]["type"] == w),
            "no demo permit of {w}"
        );
    }
    for st in [
        "draft",
        "measures",
        "gas_analysis",
        "approval",
        "briefing",
        "working",
        "suspended",
        "acceptance",
        "closed",
    ] {
        assert!(
            list.iter().any(|p| p["stage"] == st),
            "no demo permit at {st}"
        );
    }
    // the temporary power serves the welding job and ends with it
    let power = list
        .iter()
        .find(|p| p["details"]["type"] == "temporary_power")
        .unwrap();
    let served = power["details"]["serves"].as_u64().unwrap();
    let hw = list.iter().find(|p| p["id"] == served).unwrap();
    assert_eq!(power["to_ms"], hw["to_ms"]);

    // daily statistics count what is on site today
    let daily = admin.get("/api/v1/safety/permits/daily").json();
    let on_site: u64 = daily
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["on_site"].as_u64().unwrap())
        .sum();
    assert!(on_site >= 3, "{daily}");

    // every demo permit's page and print render for the safety manager
    let safety = s.login("wang.haitao");
    for p in list {
        let id = p["id"].as_u64().unwrap();
        let page = safety.get(&format!("/safety/permits/{id}"));
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(p["number"].as_str().unwrap()));
        assert_eq!(
            safety.get(&format!("/safety/permits/{id}/print")).status,
            200
        );
    }
    for w in [
        "hot_work",
        "confined_space",
        "blinding",
        "height",
        "lifting",
        "temporary_power",
        "excavation",
        "road_break",
    ] {
        let r = safety.get(&format!("/safety/permits/new?work={w}"));
        assert_eq!(r.status, 200, "{w}: {}", r.body);
    }
    assert_eq!(safety.get("/safety/permits/new?work=teleport").status, 404);

    // settings: chains, calendar, duties (safety approve)
    let page = safety.get("/safety/permits/settings");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("hot_work:special"));
    let r = safety.submit(
        "/safety/permits/settings/chain",
        &[
            ("key", "blinding"),
            ("steps", "unit guardian"),
            ("checklist", "x"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let r = safety.submit(
        "/safety/permits/settings/chain",
        &[
            ("key", "blinding"),
            ("steps", "unit safety_dept"),
            ("checklist", "隔离\n挂牌"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let chains = admin.get("/api/v1/safety/permit-chains").json();
    let b = chains
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "blinding")
        .unwrap();
    assert_eq!(b["steps"], json!(["unit", "safety_dept"]));
    assert_eq!(b["checklist"].as_array().unwrap().len(), 2);
    // the shipped calendar: next year is not entered in full, and the page says so
    let next = time::OffsetDateTime::now_utc().year() + 1;
    assert!(
        page.body.contains(&format!("data-missing-year=\"{next}\"")),
        "{}",
        page.body
    );
    let bad = safety.post_multipart(
        "/safety/permits/settings/holidays",
        "file",
        "holidays.txt",
        "text/plain",
        format!("{next}-01-01 holiday\n{next}-13-01 holiday\n").as_bytes(),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("13-01"), "{}", bad.body);
    // a year "entered in full" needs its 13 statutory days off
    let mut notice = format!("{next} official\n");
    for d in 1..=13 {
        notice.push_str(&format!("{next}-10-{d:02} holiday\n"));
    }
    let good = safety.post_multipart(
        "/safety/permits/settings/holidays",
        "file",
        "holidays.txt",
        "text/plain",
        notice.as_bytes(),
    );
    assert_eq!(good.status, 200, "{}", good.body);
    assert!(good.body.contains("id=\"imported\""), "{}", good.body);
    let cal = admin.get("/api/v1/safety/permit-calendar").json();
    assert!(
        cal["confirmed_years"]
            .as_array()
            .unwrap()
            .contains(&json!(next)),
        "{cal}"
    );
    assert!(
        !safety
            .get("/safety/permits/settings")
            .body
            .contains(&format!("data-missing-year=\"{next}\""))
    );
    let r = safety.submit(
        "/safety/permits/settings/calendar",
        &[
            ("holidays", "2027-01-01\n2027-02-30"),
            ("working_weekends", ""),
            ("night_from", "20:00"),
            ("night_to", "06:00"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("2027-02-30"));
    let r = safety.submit(
        "/safety/permits/settings/calendar",
        &[
            ("holidays", "2027-01-01\n2027-02-17"),
            ("working_weekends", "2027-02-07"),
            ("night_from", "20:00"),
            ("night_to", "06:00"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        admin.get("/api/v1/safety/permit-calendar").json()["holidays"],
        json!(["2027-01-01", "2027-02-17"])
    );
    let viewer = s.login("liu.yang");
    assert_eq!(viewer.get("/safety/permits/settings").status, 403);
    assert_eq!(viewer.get("/safety/permits").status, 200);

    // the compliance page shows permits issued in the last 30 days
    let c = s.login("zhang.jianguo").get("/compliance");
    assert!(
        c.body.contains("近 30 天开具作业票") || c.body.contains("permits in the last 30 days"),
        "{}",
        c.body
    );
}

/// A token for a gate controller or positioning system: safety write only.
fn machine_token(s: &Server, name: &str) -> Client {
    let admin = s.login("admin");
    let r = admin.submit(
        "/admin/tokens",
        &[("name", name), ("grant.safety.write", "on")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = common::attr(&r.body, "<pre class=\"secret-value\" data-copy>")
        .map(|s| s.split('<').next().unwrap().to_string())
        .expect("the secret is shown");
    s.api(&secret)
}

/// Stops the demo's simulator so only the test's events and positions count.
fn quiet(s: &Server) {
    let r = s.admin_api().put_json(
        "/api/v1/safety/feed",
        &json!({"enabled": false, "host": "", "port": 1883, "gate_topic": "", "position_topic": "", "simulate": false}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn person(api: &Client, name: &str, badge: &str, tag: &str, certs: Vec<u64>) -> u64 {
    let r = api.post_json(
        "/api/v1/safety/people",
        &json!({"id": 0, "kind": "contractor", "name": name, "organisation": "测试单位", "badge": badge,
                "tag": tag, "certs": certs, "valid_until": "2099-01-01", "enabled": true}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_u64().unwrap()
}

fn count(api: &Client, area: &str) -> (u64, u64) {
    let v = api.get("/api/v1/safety/headcount").json();
    v.as_array()
        .unwrap()
        .iter()
        .find(|h| h["area"] == area)
        .map(|h| {
            (
                h["people"].as_u64().unwrap(),
                h["vehicles"].as_u64().unwrap(),
            )
        })
        .unwrap_or((0, 0))
}

/// Standing alarms whose English message contains `text`.
fn alarm_with(api: &Client, text: &str) -> bool {
    api.get("/api/v1/alarms")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["active"] == true && a["message_en"].as_str().unwrap_or("").contains(text))
}

/// Standing alerts of the caller whose English text contains `text`.
fn alert_with(api: &Client, text: &str) -> bool {
    api.get("/api/v1/alerts")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["en"].as_str().unwrap_or("").contains(text))
}

#[test]
fn gate_events_count_heads_and_flag_unknown_or_expired_entries() {
    let s = Server::demo();
    quiet(&s);
    let admin = s.admin_api();
    let gate = machine_token(&s, "lab-door");
    assert_eq!(
        admin
            .put_json(
                "/api/v1/safety/gates/lab",
                &json!({"code": "", "name": "化验室门禁", "area": "化验室"})
            )
            .status,
        200
    );
    // a certificate that expired 20 days ago in the demo archive (陈志强's welding licence)
    let certs = admin
        .get("/api/v1/safety/certificates?status=expired")
        .json();
    let expired = certs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "special_operation")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    person(&admin, "测试甲", "B-001", "", vec![]);
    person(&admin, "测试乙", "B-002", "", vec![]);
    person(&admin, "测试丙", "B-003", "", vec![expired]);
    let pass = |badge: &str, dir: &str| {
        gate.post_json(
            "/api/v1/safety/gate-events",
            &json!({"gate": "lab", "direction": dir, "method": "card", "credential": badge}),
        )
    };
    assert_eq!(pass("B-001", "in").status, 201);
    assert_eq!(pass("B-002", "in").status, 201);
    assert_eq!(count(&admin, "化验室"), (2, 0));
    assert_eq!(pass("B-001", "out").status, 201);
    assert_eq!(count(&admin, "化验室"), (1, 0));
    // an unknown badge is recorded, flagged and raises an alert for the safety staff (the
    // guard deals with it, not the control room); it changes no count
    let r = pass("X-999", "in");
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["flags"], json!(["unknown"]));
    assert_eq!(count(&admin, "化验室"), (1, 0));
    let safety = s.login("wang.haitao");
    common::eventually(5, || alert_with(&safety, "unknown badge or plate X-999"));
    assert!(
        !alarm_with(&admin, "X-999"),
        "not on the operators' alarm list"
    );
    // an expired certificate is flagged, the person counted; twice is one alert counting 2
    let r = pass("B-003", "in");
    assert_eq!(r.json()["flags"], json!(["cert_expired"]), "{}", r.body);
    assert_eq!(count(&admin, "化验室"), (2, 0));
    assert_eq!(pass("B-003", "out").status, 201);
    assert_eq!(pass("B-003", "in").status, 201);
    let mine = safety.get("/api/v1/alerts").json();
    let expired: Vec<&Value> = mine
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["en"]
                .as_str()
                .unwrap()
                .contains("测试丙 has an expired certificate")
        })
        .collect();
    assert_eq!(expired.len(), 1, "{mine}");
    // in, out and in again: three passes of one person, one alert
    assert_eq!(expired[0]["count"], 3);
    // the guard's office acknowledges it: an event then leaves the list
    let r = safety.post_json(
        &format!("/api/v1/alerts/{}/ack", expired[0]["id"]),
        &json!({"comment": "已拦下，证书待复审"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!alert_with(&safety, "测试丙 has an expired certificate"));
    // an unknown gate is refused and records nothing
    let before = admin
        .get("/api/v1/safety/gate-events?limit=5000")
        .json()
        .as_array()
        .unwrap()
        .len();
    let r = gate.post_json(
        "/api/v1/safety/gate-events",
        &json!({"gate": "nowhere", "direction": "in", "method": "face", "credential": "B-001"}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("nowhere"));
    assert_eq!(
        admin
            .get("/api/v1/safety/gate-events?limit=5000")
            .json()
            .as_array()
            .unwrap()
            .len(),
        before
    );
    // a hazardous-goods truck whose transport permit expired (demo: 浙G·D8812)
    let r = gate.post_json(
        "/api/v1/safety/gate-events",
        &json!({"gate": "lab", "direction": "in", "method": "plate", "credential": "浙G D8812"}),
    );
    assert_eq!(r.json()["flags"], json!(["cert_expired"]), "{}", r.body);
    assert_eq!(count(&admin, "化验室"), (2, 1));
    let flagged = admin.get("/api/v1/safety/gate-events?flagged=true").json();
    assert!(flagged.as_array().unwrap().len() >= 3);
    // the gate page shows the counts and the flags; the token cannot read pages or configure
    let page = s.login("wang.haitao").get("/safety/gates");
    assert!(
        page.body.contains("data-count=\"化验室\">2<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("X-999"));
    assert_eq!(
        gate.put_json(
            "/api/v1/safety/gates/x",
            &json!({"code": "", "name": "x", "area": "x"})
        )
        .status,
        403
    );
}

#[test]
fn positioning_alarms_from_a_simulated_mqtt_feed() {
    let Some(broker) = common::broker::Mosquitto::start() else {
        return;
    };
    let s = Server::demo();
    quiet(&s);
    let admin = s.admin_api();
    let r = admin.put_json(
        "/api/v1/safety/feed",
        &json!({"enabled": true, "host": "127.0.0.1", "port": broker.port, "gate_topic": "t/gate/#",
                "position_topic": "t/rtls/#", "simulate": false}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    common::eventually(15, || {
        admin.get("/api/v1/safety/feed").json()["status"]["connected"] == true
    });
    for (i, name) in ["定位甲", "定位乙", "定位丙", "定位丁"].iter().enumerate() {
        person(&admin, name, &format!("P-{i}"), &format!("T-{i}"), vec![]);
    }
    let zone = |name: &str, x0: f64, y0: f64, x1: f64, y1: f64, rules: Value| {
        let r = admin.post_json(
            "/api/v1/safety/zones",
            &json!({"id": 0, "name": name,
            "polygon": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "rules": rules}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    };
    zone(
        "禁区测试",
        115.0,
        95.0,
        135.0,
        115.0,
        json!({"permit_required": true}),
    );
    zone(
        "限员测试",
        140.0,
        95.0,
        160.0,
        115.0,
        json!({"max_occupancy": 2}),
    );
    zone(
        "静止测试",
        165.0,
        95.0,
        185.0,
        115.0,
        json!({"still_seconds": 10}),
    );
    zone(
        "聚集测试",
        115.0,
        125.0,
        190.0,
        165.0,
        json!({"aggregation": {"people": 3, "radius_m": 15.0, "seconds": 10}}),
    );
    // a zone outside the map is refused
    let r = admin.post_json(
        "/api/v1/safety/zones",
        &json!({"id": 0, "name": "外面",
        "polygon": [[0, 0], [500, 0], [500, 10]], "rules": {}}),
    );
    assert_eq!(r.status, 422, "{}", r.body);

    let tags = common::broker::TestClient::connect(broker.port, "rtls-test", &[], false);
    let at = |tag: usize, x: f64, y: f64, sos: bool| {
        tags.publish(
            "t/rtls/uwb",
            json!({"tag": format!("T-{tag}"), "x": x, "y": y, "sos": sos}).to_string(),
        );
    };
    // forbidden zone without a permit
    at(0, 125.0, 105.0, false);
    common::eventually(10, || {
        alarm_with(&admin, "定位甲 entered forbidden zone “禁区测试”")
    });
    // three people in a zone for two
    for (t, x) in [(1, 145.0), (2, 150.0), (3, 155.0)] {
        at(t, x, 105.0, false);
    }
    common::eventually(10, || {
        alarm_with(&admin, "Zone “限员测试”: 3 people, over the maximum of 2")
    });
    // SOS from a tag
    at(1, 146.0, 105.0, true);
    common::eventually(10, || alarm_with(&admin, "定位乙 pressed SOS"));
    // one leaves: occupancy clears; gate events over MQTT are taken too
    at(3, 175.0, 105.0, false);
    common::eventually(10, || !alarm_with(&admin, "限员测试"));
    // man-down: tag 3 reports the same place (with jitter) for over 10 s
    for i in 0..14 {
        at(3, 175.0 + (i % 2) as f64 * 0.8, 105.0, false);
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    common::eventually(10, || alarm_with(&admin, "定位丁 has not moved"));
    // aggregation: three within 15 m for over 10 s
    for _ in 0..14 {
        at(0, 150.0, 140.0, false);
        at(1, 155.0, 142.0, false);
        at(2, 160.0, 140.0, false);
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    common::eventually(10, || {
        alarm_with(&admin, "Zone “聚集测试”: 3 people within 15 m")
    });
    // refused reports: an unknown tag over MQTT shows in the feed status; off the map over the API
    tags.publish(
        "t/rtls/uwb",
        json!({"tag": "GHOST", "x": 1.0, "y": 1.0}).to_string(),
    );
    common::eventually(10, || {
        admin.get("/api/v1/safety/feed").json()["status"]["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("GHOST")
    });
    let rtls = machine_token(&s, "rtls");
    let r = rtls.post_json(
        "/api/v1/safety/positions",
        &json!({"tag": "T-0", "x": 999.0, "y": 10.0}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("outside"), "{}", r.body);
    let r = rtls.post_json(
        "/api/v1/safety/positions",
        &json!([{"tag": "T-0", "x": 10.0, "y": 10.0}, {"tag": "NOPE", "x": 1.0, "y": 1.0}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["accepted"], 1);
    assert_eq!(r.json()["refused"][0]["index"], 1);
    // a gate event over MQTT
    assert_eq!(
        admin
            .put_json(
                "/api/v1/safety/gates/mq",
                &json!({"code": "", "name": "MQ 门", "area": "MQ区"})
            )
            .status,
        200
    );
    tags.publish(
        "t/gate/mq",
        json!({"gate": "mq", "direction": "in", "method": "face", "credential": "P-0"}).to_string(),
    );
    common::eventually(10, || count(&admin, "MQ区") == (1, 0));
    // the live view and the track for playback
    let live = admin.get("/api/v1/safety/positions").json();
    assert!(
        live["people"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "定位丁")
    );
    let id = admin
        .get("/api/v1/safety/people")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "定位丙")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    common::eventually(10, || {
        admin
            .get(&format!("/api/v1/safety/people/{id}/track"))
            .json()["points"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    });
    let sse = common::read_sse(&s.base, "/safety/map/stream", "定位", 10);
    assert!(sse.contains("定位"), "{sse}");
    let page = s
        .login("wang.haitao")
        .get(&format!("/safety/track?person={id}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("track-json"));
}

const PNG: &[u8] = include_bytes!("../../core/src/modules/safety/assets/demo-photo.png");

fn hazard(api: &Client, id: u64) -> Value {
    api.get(&format!("/api/v1/safety/hazards/{id}")).json()
}

#[test]
fn hidden_dangers_from_a_phone_report_to_acceptance() {
    let s = Server::demo();
    let admin = s.admin_api();
    let reporter = s.login("zhou.jianming");
    let before = admin
        .get("/api/v1/safety/hazards")
        .json()
        .as_array()
        .unwrap()
        .len();
    // a file named .png that is a PDF is refused and nothing is reported
    let fields = [
        ("title", "泵房地面油污"),
        ("location", "罐区泵房"),
        ("level", "general"),
        ("source", "daily"),
    ];
    let r = reporter.post_multipart_form(
        "/safety/hazards",
        &fields,
        &[("photo", "现场.png", "image/png", b"%PDF-1.7\n%%EOF\n")],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("application/pdf"), "{}", r.body);
    assert_eq!(
        admin
            .get("/api/v1/safety/hazards")
            .json()
            .as_array()
            .unwrap()
            .len(),
        before
    );
    // reported from the phone with a photo
    let r = reporter.post_multipart_form(
        "/safety/hazards",
        &fields,
        &[("photo", "现场.png", "image/png", PNG)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let id: u64 = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let h = hazard(&admin, id);
    assert_eq!(h["state"], "reported");
    assert_eq!(h["photos_before"].as_array().unwrap().len(), 1);
    let photo = h["photos_before"][0]["id"].as_u64().unwrap();
    let got = reporter.get(&format!("/safety/hazards/{id}/photos/{photo}"));
    assert_eq!(got.bytes, PNG);
    // only the safety department assigns
    let xu = user_id(&admin, "xu.guoping");
    let tomorrow = local(24 * 60)[..10].to_string();
    let assign = json!({"action": "assign", "assignee": xu, "deadline": tomorrow, "measures": "清理油污，查找漏点"});
    let url = format!("/api/v1/safety/hazards/{id}/actions");
    assert_eq!(reporter.post_json(&url, &assign).status, 403);
    let safety = s.login("wang.haitao");
    let r = safety.post_json(
        &url,
        &json!({"action": "assign", "assignee": xu, "deadline": "2020-01-01"}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let r = safety.post_json(&url, &assign);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "rectifying");
    // the assignee needs an after photo before reporting it done
    let fixer = s.login("xu.guoping");
    let r = fixer.post_json(&url, &json!({"action": "rectify", "note": "已清理"}));
    assert_eq!(r.status, 422, "{}", r.body);
    let r = fixer.post_multipart_form(
        &format!("/safety/hazards/{id}/photos"),
        &[("after", "1")],
        &[("photo", "after.png", "image/png", PNG)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        fixer
            .post_json(&url, &json!({"action": "rectify", "note": "已清理"}))
            .status,
        200
    );
    // refused acceptance needs a reason and goes back to rectification
    assert_eq!(
        safety
            .post_json(&url, &json!({"action": "reject", "note": ""}))
            .status,
        422
    );
    let r = safety.post_json(&url, &json!({"action": "reject", "note": "漏点未处理"}));
    assert_eq!(r.json()["state"], "rectifying", "{}", r.body);
    assert_eq!(
        fixer
            .post_json(&url, &json!({"action": "rectify", "note": "已更换密封"}))
            .status,
        200
    );
    let r = safety.post_json(&url, &json!({"action": "accept", "note": "合格"}));
    assert_eq!(r.json()["state"], "closed", "{}", r.body);
    let steps: Vec<String> = r.json()["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        steps,
        ["report", "assign", "rectify", "reject", "rectify", "accept"]
    );
    let page = reporter.get(&format!("/safety/hazards/{id}"));
    assert!(page.body.contains("已验收"), "{}", page.body);

    // the demo's overdue hidden danger raises an alert for its assignee and the safety
    // staff, not an alarm; statistics count it
    let office = s.login("wang.haitao");
    common::eventually(70, || alert_with(&office, "is past its deadline"));
    assert!(
        alert_with(&s.login("xu.guoping"), "is past its deadline"),
        "the assignee has it"
    );
    assert!(!alarm_with(&admin, "is past its deadline"));
    let st = admin.get("/api/v1/safety/hazard-stats").json();
    assert!(st["overdue"].as_u64().unwrap() >= 1, "{st}");

    // an inspection from the cycle: a failed item needs a note and becomes a hidden danger
    let patrol = s.login("qian.feng");
    let mine = patrol.get("/api/v1/safety/inspections?pending=true").json();
    let insp = mine
        .as_array()
        .unwrap()
        .first()
        .expect("the demo's patrol has inspections")
        .clone();
    let n = insp["items"].as_array().unwrap().len();
    let iurl = format!("/api/v1/safety/inspections/{}", insp["id"]);
    let mut results: Vec<Value> = (0..n).map(|_| json!({"ok": true})).collect();
    results[0] = json!({"ok": false});
    assert_eq!(
        patrol.post_json(&iurl, &json!({"results": results})).status,
        422
    );
    results[0] = json!({"ok": false, "note": "液位计显示异常"});
    assert_eq!(
        reporter
            .post_json(&iurl, &json!({"results": results}))
            .status,
        403,
        "not the assignee"
    );
    let r = patrol.post_json(&iurl, &json!({"results": results}));
    assert_eq!(r.status, 200, "{}", r.body);
    let made = r.json()["hazards"][0].as_u64().unwrap();
    assert_eq!(hazard(&admin, made)["state"], "reported");
    assert_eq!(
        patrol.post_json(&iurl, &json!({"results": results})).status,
        409
    );
    for p in [
        "/safety/hazards",
        "/safety/risks",
        "/safety/inspections",
        "/safety/hazards?state=overdue",
    ] {
        assert_eq!(safety.get(p).status, 200, "{p}");
    }
}

#[test]
fn duty_roster_knows_who_holds_a_post_and_raises_alarms() {
    let s = Server::demo();
    quiet(&s);
    let admin = s.admin_api();
    let a = person(&admin, "岗位甲", "R-1", "TR-1", vec![]);
    person(&admin, "岗位乙", "R-2", "TR-2", vec![]);
    let z = admin
        .post_json(
            "/api/v1/safety/zones",
            &json!({"id": 0, "name": "值守测试",
        "polygon": [[115, 95], [135, 95], [135, 115], [115, 115]], "rules": {}}),
        )
        .json()["id"]
        .as_u64()
        .unwrap();
    let safety = s.login("wang.haitao");
    let hm = |m: i64| local(m)[11..16].to_string();
    let (from, to) = (hm(-60), hm(60));
    for form in [
        vec![
            ("what", "post"),
            ("name", "测试岗"),
            ("zone", &*z.to_string()),
            ("grace_minutes", "1"),
        ],
        vec![
            ("what", "shift"),
            ("name", "测试班"),
            ("from", &*from),
            ("to", &*to),
        ],
    ] {
        let r = safety.submit("/safety/roster", &form);
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let post = admin
        .get("/api/v1/safety/roster")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "测试岗")
        .unwrap()["post"]
        .as_u64()
        .unwrap();
    let shifts = safety.get("/safety/roster").body;
    assert!(shifts.contains("测试班"));
    // the shift id is the newest; assign 岗位甲 through the form
    let shift_id = {
        let page = safety.get("/safety/roster").body;
        let i = page.rfind("/safety/roster/shift/").unwrap();
        page[i + 21..]
            .split('/')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let r = safety.submit(
        "/safety/roster",
        &[
            ("what", "assignment"),
            ("post", &post.to_string()),
            ("shift", &shift_id.to_string()),
            ("person", &a.to_string()),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    // a shift that starts and ends at once is refused
    let r = safety.submit(
        "/safety/roster",
        &[
            ("what", "shift"),
            ("name", "坏班"),
            ("from", "08:00"),
            ("to", "08:00"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);

    let rtls = machine_token(&s, "rtls-roster");
    let place = |tag: &str, x: f64| {
        let r = rtls.post_json(
            "/api/v1/safety/positions",
            &json!({"tag": tag, "x": x, "y": 105.0}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    let status = || {
        admin
            .get("/api/v1/safety/roster")
            .json()
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["post"] == post)
            .unwrap()
            .clone()
    };
    place("TR-1", 125.0);
    let st = status();
    assert_eq!(st["holding"], json!(["岗位甲"]), "{st}");
    // 岗位甲 leaves, 岗位乙 takes the post: after the grace minute, a wrong-person alarm
    place("TR-1", 300.0);
    place("TR-2", 125.0);
    assert_eq!(status()["others"], json!(["岗位乙"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(100);
    while !alarm_with(&admin, "held by 岗位乙") {
        assert!(
            std::time::Instant::now() < deadline,
            "no wrong-person alarm"
        );
        place("TR-1", 300.0);
        place("TR-2", 125.5);
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    // 岗位乙 leaves too: unmanned
    place("TR-2", 300.0);
    common::eventually(30, || alarm_with(&admin, "Post “测试岗” unmanned"));
    // 岗位甲 back: both clear
    place("TR-1", 125.0);
    common::eventually(30, || !alarm_with(&admin, "测试岗"));
}
