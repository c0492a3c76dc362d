//! The safety module over HTTP: special work permits signed by the demo staff through their
//! life cycle with the GB 30871 refusals on the way, the register, its export, the printable
//! permit with its QR code, the settings, and the demo's permits of every type.

mod common;

use common::{Client, Server};
use serde_json::{Value, json};

/// Local plant time (+08:00) `minutes` from now, `YYYY-MM-DD HH:MM`.
fn local(minutes: i64) -> String {
    let t = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8))
        + time::Duration::minutes(minutes);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(&f).unwrap()
}

fn user_id(admin: &Client, username: &str) -> u64 {
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

fn hot_work(guardian: u64, x: f64, from: &str, to: &str) -> Value {
    json!({
        "details": {"type": "hot_work", "assessed": "second", "method": "电焊", "lel_pct": 1.2, "wind_force": 1},
        "applicant_unit": "生产部", "content": "测试：排污管线补焊", "location": "污水站",
        "x": x, "y": 900.0, "work_unit": "设备动力部", "leader": "徐国平",
        "workers": [{"name": "陈志强", "cert": "T330781197808060033"}],
        "guardian_id": guardian, "risks": "可燃气体\n烫伤", "from": from, "to": to,
    })
}

/// Which demo user signs each duty.
fn who(duty: &str) -> &'static str {
    match duty {
        "unit" => "li.ming",
        "safety_dept" | "fire" => "wang.haitao",
        "leader" => "zhang.jianguo",
        _ => "xu.guoping",
    }
}

fn act(c: &Client, id: u64, body: Value) -> common::Resp {
    c.post_json(&format!("/api/v1/safety/permits/{id}/actions"), &body)
}

fn gas(sampled: &str, combustible: f64) -> Value {
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

    // the analyst records gas: over the limit (LEL 1.2 % → 0.2 % vol) is refused
    let analyst = s.login("wu.lihua");
    let r = act(&analyst, id, gas(&local(-40), 0.35));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("0.2"), "{}", r.body);
    let now = admin.get(&format!("/api/v1/safety/permits/{id}")).json();
    assert_eq!(now["gas"].as_array().unwrap().len(), 0);
    assert_eq!(now["stage"], "gas_analysis");
    // a passing one, sampled 40 minutes ago
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
    // a step out of order is refused and names the step that is next
    if chain.len() > 1 {
        let last = s.login(who(chain.last().unwrap()));
        let r = act(
            &last,
            id,
            json!({"action": "approve", "step": chain.len() - 1}),
        );
        assert_eq!(r.status, 409, "{}", r.body);
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
        "draft", "measures", "approval", "briefing", "working", "closed",
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
