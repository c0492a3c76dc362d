//! The alarm system over HTTP: alarms raised by the demo plant's tags and by the safety
//! module, operator actions with their permissions and errors, the live stream, the
//! journal and KPIs, definitions, and alarm state surviving a restart.

use crate::common;

use std::time::Duration;

use common::{Client, Server, eventually, read_sse};
use serde_json::{Value, json};

/// A definition on the oxygen detector that holds at once (air is ~20.9 %vol).
fn oxygen_alarm(api: &common::Client, limit: f64) -> u64 {
    let tags = api.get("/api/v1/tags?q=GD103").json();
    let o2 = tags
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "GD103")
        .expect("the demo has GD103")["id"]
        .as_u64()
        .unwrap();
    let r = api.post_json(
        "/api/v1/alarms/defs",
        &json!({"id": 0, "tag": o2, "condition": {"kind": "high", "limit": limit}, "priority": "high",
            "deadband": 0.2, "on_delay_s": 0, "off_delay_s": 0, "message_zh": "测试：氧含量高",
            "message_en": "Test: oxygen high", "area": "", "latch": false, "enabled": true}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_u64().unwrap()
}

fn find(list: &Value, id: u64) -> Option<Value> {
    list.as_array()?.iter().find(|a| a["id"] == id).cloned()
}

/// English texts of the notices that are alerts for the people responsible, never alarms.
const ADMINISTRATIVE: [&str; 14] = [
    "days overdue",
    "days left",
    "must be redone",
    "is not closed",
    "past its deadline",
    "not done",
    "below safety stock",
    "above maximum stock",
    "still in stock",
    "not moved for",
    "SPC:",
    "Inspection round late",
    "inspection overdue since",
    "is overdue",
];

#[test]
fn the_operators_alarm_list_holds_process_and_life_safety_alarms_and_the_rest_are_alerts() {
    let s = Server::demo();
    let admin = s.admin_api();
    let safety = s.login("wang.haitao");
    let operator = s.login("li.ming");
    let texts = |c: &Client, q: &str| -> Vec<Value> {
        c.get(&format!("/api/v1/alerts{q}"))
            .json()
            .as_array()
            .unwrap()
            .clone()
    };
    // the demo archive's expired certificates reach the safety office as alerts
    eventually(10, || {
        texts(&safety, "").iter().any(|a| {
            a["module"] == "safety"
                && a["priority"] == "high"
                && a["en"].as_str().unwrap().contains("days overdue")
        })
    });
    // and the warehouse's shortages, the maintenance's overdue order, the late inspections:
    // the same minute's checks, module after module, so they may land a moment later
    let needles = [
        "below safety stock",
        "is overdue",
        "not done",
        "past its deadline",
    ];
    let missing = || -> Vec<&str> {
        let all = texts(&admin, "?all=true");
        needles
            .iter()
            .copied()
            .filter(|n| !all.iter().any(|a| a["en"].as_str().unwrap().contains(n)))
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !missing().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(missing().is_empty(), "no alert for {:?}", missing());
    // the live alarm list: tag alarms and life-safety events only
    let alarms = admin.get("/api/v1/alarms").json();
    let alarms = alarms.as_array().unwrap();
    assert!(!alarms.is_empty());
    for a in alarms {
        let en = a["message_en"].as_str().unwrap();
        assert!(
            !ADMINISTRATIVE.iter().any(|x| en.contains(x)),
            "an administrative notice on the operators' list: {a}"
        );
    }
    assert!(
        alarms.iter().any(|a| a["tag"] == "R101.TT101"),
        "the reactor's temperature alarm stays: {alarms:?}"
    );
    // routed by role: the operator has none of the safety office's alerts and may not
    // acknowledge one, nor list everyone's
    let cert = texts(&safety, "")
        .into_iter()
        .find(|a| a["en"].as_str().unwrap().contains("days overdue"))
        .unwrap();
    assert!(
        !texts(&operator, "").iter().any(|a| a["id"] == cert["id"]),
        "not the operator's"
    );
    let r = operator.post_json(&format!("/api/v1/alerts/{}/ack", cert["id"]), &json!({}));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "alerts.not_yours", "{}", r.body);
    assert_eq!(operator.get("/api/v1/alerts?all=true").status, 403);

    // the top bar's badge counts them; acknowledging on the page takes one off
    let badge = |c: &Client| -> usize {
        let page = c.get("/alerts").body;
        page.split("data-alerts>")
            .nth(1)
            .and_then(|x| x.split('<').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let before = badge(&safety);
    assert!(before >= 2, "the safety office's badge: {before}");
    let csrf = safety.csrf();
    let r = safety.submit(
        &format!("/alerts/{}/ack", cert["id"]),
        &[("csrf", &csrf), ("comment", "已报换证")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(badge(&safety), before - 1);
    let again = safety.post_json(&format!("/api/v1/alerts/{}/ack", cert["id"]), &json!({}));
    assert_eq!(again.status, 409, "{}", again.body);
    // still standing (the certificate is still expired), acknowledged, with the comment
    let a = texts(&admin, "?all=true")
        .into_iter()
        .find(|a| a["id"] == cert["id"])
        .unwrap();
    assert_eq!(a["ack"]["comment"], "已报换证");
    assert_eq!(a["ack"]["name"], "wang.haitao");
}

#[test]
fn tag_alarms_are_raised_acknowledged_shelved_and_journaled() {
    let s = Server::demo();
    let api = s.admin_api();

    // the demo's simulated process is up: its standing high alarms are listed
    eventually(10, || {
        let all = api.get("/api/v1/alarms").json();
        all.as_array()
            .unwrap()
            .iter()
            .any(|a| a["priority"] == "high")
    });

    // the demo's simulated people and vehicles raise alarms of their own: stop them, and look
    // at the KPIs from here on
    let r = api.put_json(
        "/api/v1/safety/feed",
        &json!({"enabled": false, "host": "", "port": 1883, "simulate": false}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let since = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let id = oxygen_alarm(&api, 1.0);
    eventually(10, || {
        find(&api.get("/api/v1/alarms?state=unack").json(), id).is_some()
    });
    let a = api.get(&format!("/api/v1/alarms/{id}")).json();
    assert_eq!(a["tag"], "GD103");
    assert_eq!(
        a["area"], "resin",
        "the tag's area when the alarm names none"
    );
    assert!(a["value"].as_f64().unwrap() > 19.0);

    // the live stream: a summary first, then the acknowledgement below as a change
    let base = s.base.clone();
    let reader =
        std::thread::spawn(move || read_sse(&base, "/api/v1/alarms/stream", "event: changed", 10));
    std::thread::sleep(Duration::from_millis(700));

    // an operator acknowledges with a comment; twice is a conflict
    let op = s.login("li.ming");
    let csrf = op.csrf();
    let r = op.submit(
        &format!("/automation/alarms/{id}/ack"),
        &[("csrf", &csrf), ("comment", "已通知现场")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let a = api.get(&format!("/api/v1/alarms/{id}")).json();
    assert_eq!(a["state"], "ack");
    assert_eq!(a["acked_by"], "li.ming");
    assert_eq!(a["ack_comment"], "已通知现场");
    let again = api.post_json(&format!("/api/v1/alarms/{id}/ack"), &json!({}));
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.code(), "alarms.not_unacked");

    let sse = reader.join().unwrap();
    assert!(sse.contains("event: summary"), "{sse}");
    assert!(
        sse.contains("event: changed") && sse.contains("\"kind\":\"acked\""),
        "{sse}"
    );

    // shelving needs a reason and a sensible time; an operator may, suppressing needs approval
    let bad = api.post_json(
        &format!("/api/v1/alarms/{id}/shelve"),
        &json!({"minutes": 30}),
    );
    assert_eq!(
        (bad.status, bad.json()["error"]["field"].as_str()),
        (422, Some("comment"))
    );
    let bad = api.post_json(
        &format!("/api/v1/alarms/{id}/shelve"),
        &json!({"minutes": 0, "comment": "x"}),
    );
    assert_eq!(
        (bad.status, bad.json()["error"]["field"].as_str()),
        (422, Some("minutes"))
    );
    let bad = api.post_json(
        &format!("/api/v1/alarms/{id}/shelve"),
        &json!({"comment": "x"}),
    );
    assert_eq!(bad.status, 422);
    let r = op.submit(
        &format!("/automation/alarms/{id}/shelve"),
        &[
            ("csrf", &csrf),
            ("minutes", "30"),
            ("comment", "传感器标定"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        api.get(&format!("/api/v1/alarms/{id}")).json()["state"],
        "shelved"
    );
    assert!(find(&api.get("/api/v1/alarms?state=unack").json(), id).is_none());
    let forbidden = op.submit(
        &format!("/automation/alarms/{id}/suppress"),
        &[("csrf", &csrf), ("comment", "x")],
    );
    assert_eq!(forbidden.status, 403);
    let viewer = s.login("liu.yang");
    let vcsrf = viewer.csrf();
    assert_eq!(
        viewer
            .submit(&format!("/automation/alarms/{id}/ack"), &[("csrf", &vcsrf)])
            .status,
        403
    );

    // bad requests change nothing
    assert_eq!(api.get("/api/v1/alarms?state=bogus").status, 422);
    assert_eq!(
        api.post_json("/api/v1/alarms/999999/ack", &json!({}))
            .status,
        404
    );
    assert_eq!(
        api.post_json(&format!("/api/v1/alarms/{id}/explode"), &json!({}))
            .status,
        404
    );
    let garbled = api.post_json(
        &format!("/api/v1/alarms/{id}/unshelve"),
        &json!("not an object"),
    );
    assert_eq!(garbled.status, 400, "{}", garbled.body);
    assert_eq!(
        api.get(&format!("/api/v1/alarms/{id}")).json()["state"],
        "shelved"
    );

    // unshelving while the condition still holds annunciates it again
    let r = api.post_json(
        &format!("/api/v1/alarms/{id}/unshelve"),
        &json!({"comment": "标定完成"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "unack");

    // the journal has the story, newest first; the API takes RFC 3339 times
    let j = api
        .get(&format!("/api/v1/alarms/journal?alarm={id}"))
        .json();
    let kinds: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["unshelved", "shelved", "acked", "raised"]);
    assert_eq!(j[1]["comment"], "传感器标定");
    assert_eq!(j[1]["user"], "li.ming");
    assert_eq!(api.get("/api/v1/alarms/journal?from=yesterday").status, 422);
    assert_eq!(
        api.get("/api/v1/alarms/journal?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")
            .status,
        422
    );
    let old = api
        .get("/api/v1/alarms/journal?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z")
        .json();
    assert_eq!(old.as_array().unwrap().len(), 0);
    let k = api
        .get(&format!(
            "/api/v1/alarms/kpi?from={}",
            since.replace(':', "%3A").replace('+', "%2B")
        ))
        .json();
    assert!(k["raised"].as_u64().unwrap() >= 1, "{k}");
    assert!(
        k["top"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["alarm"] == id)
    );

    // the journal page filters and exports
    let page = op
        .get("/automation/journal?q=%E6%B0%A7%E5%90%AB%E9%87%8F")
        .body;
    assert!(page.contains("传感器标定"));
    let csv = op.get("/automation/journal/export?q=%E6%B0%A7%E5%90%AB%E9%87%8F&format=csv");
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-disposition").unwrap().contains(".csv"));
    let text = String::from_utf8_lossy(&csv.bytes[3..]).to_string();
    assert_eq!(text.lines().count(), 5, "header and four entries:\n{text}");
    assert!(text.lines().next().unwrap().contains("时间"));
    let bad = op.get("/automation/journal?from=notadate");
    assert!(bad.body.contains("notadate"), "the page names the bad time");
}

#[test]
fn definitions_are_checked_changed_and_deleted_and_state_survives_a_restart() {
    let mut s = Server::demo();
    let api = s.admin_api();
    let tag = api.get("/api/v1/tags?q=GD103").json()[0]["id"]
        .as_u64()
        .unwrap();
    let def = |v: Value| {
        let mut d = json!({"id": 0, "tag": tag, "condition": {"kind": "high", "limit": 1.0}, "priority": "high",
            "deadband": 0, "on_delay_s": 0, "off_delay_s": 0, "message_zh": "测试", "message_en": "",
            "area": "", "latch": false, "enabled": true});
        for (k, x) in v.as_object().unwrap() {
            d[k] = x.clone();
        }
        d
    };
    // each bad definition names its field
    for (bad, field) in [
        (json!({"tag": 999_999}), "tag"),
        (json!({"deadband": -1}), "deadband"),
        (json!({"on_delay_s": 99_999}), "on_delay_s"),
        (json!({"message_zh": ""}), "message_zh"),
        (
            json!({"condition": {"kind": "deviation", "setpoint": 50, "limit": 0}}),
            "condition",
        ),
        (
            json!({"condition": {"kind": "external", "source": "x"}}),
            "condition",
        ),
    ] {
        let r = api.post_json("/api/v1/alarms/defs", &def(bad.clone()));
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert_eq!(r.json()["error"]["field"], field, "{bad}");
    }
    let unknown = api.post_json(
        "/api/v1/alarms/defs",
        &def(json!({"condition": {"kind": "sideways"}})),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    // tag alarms only: the demo's modules raise their own alarms (gates, posts) meanwhile
    let tag_defs = |api: &common::Client| {
        api.get("/api/v1/alarms/defs")
            .json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["tag"] != 0)
            .count()
    };
    let before = tag_defs(&api);

    // an import is all or nothing, and names each bad row
    let rows = json!([
        def(json!({})),
        def(json!({"deadband": -1})),
        def(json!({"tag": 0})),
        def(json!({}))
    ]);
    let r = api.post_json("/api/v1/alarms/defs/import", &rows);
    assert_eq!(r.status, 422, "{}", r.body);
    let bad: Vec<(u64, String)> = r.json()["error"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(bad, [(2, "deadband".to_string()), (3, "tag".to_string())]);
    assert_eq!(tag_defs(&api), before);
    let good = json!([
        def(json!({"condition": {"kind": "low", "limit": 19.5}})),
        def(json!({"condition": {"kind": "high_high", "limit": 23.5}}))
    ]);
    let r = api.post_json("/api/v1/alarms/defs/import", &good);
    assert_eq!(r.status, 201, "{}", r.body);
    for d in r.json().as_array().unwrap() {
        assert_eq!(
            api.delete(&format!("/api/v1/alarms/defs/{}", d["id"]))
                .status,
            204
        );
    }

    let id = oxygen_alarm(&api, 1.0);
    eventually(10, || {
        api.get(&format!("/api/v1/alarms/{id}")).json()["state"] == "unack"
    });
    // an operator may not change definitions
    let op = s.login("li.ming");
    let csrf = op.csrf();
    let r = op.submit(
        &format!("/automation/defs/{id}"),
        &[
            ("csrf", &csrf),
            ("tag", "GD103"),
            ("kind", "high"),
            ("limit", "50"),
            ("priority", "high"),
            ("message_zh", "x"),
        ],
    );
    assert_eq!(r.status, 403);

    // the manager raises the limit in the console: the alarm returns
    let mgr = s.login("zhang.jianguo");
    let mcsrf = mgr.csrf();
    let bad = mgr.submit(
        &format!("/automation/defs/{id}"),
        &[
            ("csrf", &mcsrf),
            ("tag", "GD103"),
            ("kind", "high"),
            ("limit", "abc"),
            ("priority", "high"),
            ("message_zh", "测试"),
        ],
    );
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("aria-invalid"),
        "the form marks the field"
    );
    let r = mgr.submit(
        &format!("/automation/defs/{id}"),
        &[
            ("csrf", &mcsrf),
            ("tag", "GD103"),
            ("kind", "high"),
            ("limit", "23.5"),
            ("priority", "high"),
            ("deadband", "0.2"),
            ("message_zh", "釜区富氧"),
            ("enabled", "on"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    eventually(10, || {
        api.get(&format!("/api/v1/alarms/{id}")).json()["state"] == "rtn_unack"
    });
    // the audit trail names the change
    let audit = s.login("admin").get("/admin/audit").body;
    assert!(
        audit.contains("修改报警定义"),
        "audit shows the definition change"
    );

    // out of service (approve level), then a restart: the state is kept
    let r = api.post_json(
        &format!("/api/v1/alarms/{id}/out-of-service"),
        &json!({"comment": "检测器更换"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    s.stop();
    let data = s.data.clone();
    let tmp = s.take_tempdir();
    let s2 = Server::start(&["serve"], &data, None);
    let api2 = s2.admin_api();
    let a = api2.get(&format!("/api/v1/alarms/{id}")).json();
    assert_eq!(a["state"], "out_of_service", "{a}");
    let r = api2.post_json(&format!("/api/v1/alarms/{id}/in-service"), &json!({}));
    assert_eq!(
        r.json()["state"],
        "normal",
        "back in service and not active: normal"
    );

    // deleting the definition removes the alarm; its journal stays
    assert_eq!(
        api2.delete(&format!("/api/v1/alarms/defs/{id}")).status,
        204
    );
    assert_eq!(api2.get(&format!("/api/v1/alarms/{id}")).status, 404);
    assert_eq!(tag_defs(&api2), before);
    let j = api2
        .get(&format!(
            "/api/v1/alarms/journal?alarm={id}&from=2020-01-01T00:00:00Z"
        ))
        .json();
    assert!(j.as_array().unwrap().len() >= 4, "{j}");
    drop(s2);
    drop(tmp);
}

#[test]
fn alarms_reach_robots_and_mail_by_priority_with_a_rate_limit() {
    use common::sinks;
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        &["serve", "--bootstrap-token", common::BOOTSTRAP],
        &tmp.path().join("data"),
        None,
    );
    s.keep_tempdir(tmp);
    let api = s.admin_api();
    let (ding, ding_got) = sinks::http(r#"{"errcode":0,"errmsg":"ok"}"#);
    let (wecom, wecom_got) = sinks::http(r#"{"errcode":0,"errmsg":"ok"}"#);
    let (limited, limited_got) = sinks::http(r#"{"errcode":0,"errmsg":"ok"}"#);
    let (refusing, _) = sinks::http(r#"{"errcode":310000,"errmsg":"sign not match"}"#);
    let (smtp_port, mail) = sinks::smtp();
    let channel = |body: Value| {
        let r = api.post_json("/api/v1/alarms/channels", &body);
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    };
    let c = channel(
        json!({"id": 0, "name": "值班群", "min_priority": "high", "enabled": true,
        "target": {"kind": "dingtalk", "webhook": format!("{ding}/robot/send?access_token=t1"), "secret": "SECabc"}}),
    );
    assert_eq!(
        c["target"]["secret"],
        json!({"set": true}),
        "the secret is never shown"
    );
    channel(
        json!({"id": 0, "name": "厂长", "min_priority": "urgent", "enabled": true,
        "target": {"kind": "wecom", "webhook": format!("{wecom}/cgi-bin/webhook/send?key=k")}}),
    );
    channel(
        json!({"id": 0, "name": "ops mail", "min_priority": "urgent", "enabled": true, "lang": "en",
        "target": {"kind": "email", "host": "127.0.0.1", "port": smtp_port, "security": "none",
            "from": "nplusx@plant.example", "to": ["ops@plant.example", "chief@plant.example"]}}),
    );
    channel(
        json!({"id": 0, "name": "limited", "min_priority": "low", "max_per_hour": 2, "enabled": true,
        "target": {"kind": "wecom", "webhook": format!("{limited}/send")}}),
    );
    let bad = channel(
        json!({"id": 0, "name": "wrong secret", "min_priority": "urgent", "enabled": false,
        "target": {"kind": "dingtalk", "webhook": format!("{refusing}/robot/send")}}),
    );
    // bad channels name their field
    for (body, field) in [
        (json!({"kind": "wecom", "webhook": "ftp://x"}), "webhook"),
        (
            json!({"kind": "email", "host": "mail", "from": "nplusx", "to": ["a@b.cn"]}),
            "from",
        ),
        (
            json!({"kind": "email", "host": "mail", "from": "n@b.cn", "to": []}),
            "to",
        ),
    ] {
        let r = api.post_json(
            "/api/v1/alarms/channels",
            &json!({"id": 0, "name": "x", "min_priority": "low", "enabled": true, "target": body}),
        );
        assert_eq!(
            (r.status, r.json()["error"]["field"].clone()),
            (422, json!(field)),
            "{}",
            r.body
        );
    }
    // the test button reports a refusing robot
    let r = api.post_json(
        &format!("/api/v1/alarms/channels/{}/test", bad["id"]),
        &json!({}),
    );
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("310000"), "{}", r.body);

    // a manual tag with a high and an urgent limit
    let t = api.post_json(
        "/api/v1/tags",
        &json!({"id": 0, "name": "T1", "data_type": "float", "source": {"kind": "manual"},
        "writable": true, "area": "resin"}),
    );
    let tag = t.json()["id"].as_u64().unwrap();
    for (kind, limit, priority, zh, en) in [
        ("high", 10.0, "high", "T1 高", "T1 high"),
        ("high_high", 20.0, "urgent", "T1 高高", "T1 high-high"),
    ] {
        let r = api.post_json(
            "/api/v1/alarms/defs",
            &json!({"id": 0, "tag": tag, "condition": {"kind": kind, "limit": limit},
            "priority": priority, "message_zh": zh, "message_en": en, "enabled": true}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // raise both, return both, raise both again: four alarms, two of them urgent
    for v in [15.0, 25.0, 5.0, 15.0, 25.0] {
        assert_eq!(
            api.post_json("/api/v1/tags/T1/write", &json!({"value": v}))
                .status,
            200
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    eventually(10, || {
        ding_got.len() == 4 && wecom_got.len() == 2 && mail.len() == 2 && limited_got.len() == 3
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        (
            ding_got.len(),
            wecom_got.len(),
            mail.len(),
            limited_got.len()
        ),
        (4, 2, 2, 3)
    );
    // DingTalk: signed, a text message in Chinese
    let (path, body) = &ding_got.all()[0];
    assert!(
        path.starts_with("/robot/send?access_token=t1&timestamp=") && path.contains("&sign="),
        "{path}"
    );
    let msg: Value = serde_json::from_str(body).unwrap();
    assert_eq!(msg["msgtype"], "text");
    let text = msg["text"]["content"].as_str().unwrap();
    assert!(
        text.contains("T1 高") && text.contains("区域: 树脂车间") && text.contains("T1 = 15"),
        "{text}"
    );
    // WeCom got the urgent ones only
    assert!(wecom_got.all().iter().all(|(_, b)| b.contains("高高")));
    // mail in English to both recipients
    let m = &mail.all()[0].1;
    assert!(
        m.contains("RCPT TO:<ops@plant.example>") && m.contains("RCPT TO:<chief@plant.example>"),
        "{m}"
    );
    assert!(m.contains("T1 high-high"), "{m}");
    // the limited channel: two alarms, then one notice
    let last = &limited_got.all()[2].1;
    assert!(last.contains("上限"), "{last}");
    let st = api.get("/api/v1/alarms/channels").json();
    let lim = st
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "limited")
        .unwrap()
        .clone();
    assert_eq!(
        (
            lim["status"]["sent"].clone(),
            lim["status"]["suppressed"].clone()
        ),
        (json!(3), json!(2)),
        "{lim}"
    );
}

#[test]
fn cameras_are_fetched_through_the_box_and_photograph_alarms() {
    use common::sinks;
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        &["serve", "--bootstrap-token", common::BOOTSTRAP],
        &tmp.path().join("data"),
        None,
    );
    s.keep_tempdir(tmp);
    let api = s.admin_api();
    let (cam, served) = sinks::camera("cam123");
    let r = api.post_json(
        "/api/v1/cameras",
        &json!({"id": 0, "name": "R101 釜顶", "area": "resin", "enabled": true, "username": "admin", "password": "cam123",
            "snapshot_url": format!("{cam}/ISAPI/Streaming/channels/101/picture"), "rtsp_url": "rtsp://192.168.1.64:554/Streaming/Channels/101"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["password"], json!({"set": true}));
    let id = r.json()["id"].as_u64().unwrap();
    // a snapshot through the box, Digest authentication answered
    let img = api.get(&format!("/api/v1/cameras/{id}/snapshot"));
    assert_eq!(
        (img.status, img.header("content-type")),
        (200, Some("image/jpeg"))
    );
    assert_eq!(img.bytes, sinks::JPEG);
    // a wrong password: the camera's refusal is reported
    let r = api.post_json("/api/v1/cameras", &json!({"id": 0, "name": "wrong", "area": "tank_farm", "enabled": true,
        "username": "admin", "password": "nope", "snapshot_url": format!("{cam}/cgi-bin/snapshot.cgi")}));
    let wrong = r.json()["id"].as_u64().unwrap();
    let r = api.get(&format!("/api/v1/cameras/{wrong}/snapshot"));
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("401"), "{}", r.body);
    // addresses are checked
    for (url_field, url) in [
        ("snapshot_url", "http://admin:pw@10.0.0.1/x"),
        ("snapshot_url", "ftp://10.0.0.1/x"),
        ("rtsp_url", "http://10.0.0.1/"),
    ] {
        let r = api.post_json(
            "/api/v1/cameras",
            &json!({"id": 0, "name": "x", "enabled": true, url_field: url}),
        );
        assert_eq!(
            (r.status, r.json()["error"]["field"].clone()),
            (422, json!(url_field)),
            "{url}"
        );
    }

    // an alarm in the camera's area takes its snapshot
    let t = api.post_json(
        "/api/v1/tags",
        &json!({"id": 0, "name": "T1", "data_type": "float", "source": {"kind": "manual"},
        "writable": true, "area": "resin"}),
    );
    let tag = t.json()["id"].as_u64().unwrap();
    let d = api.post_json(
        "/api/v1/alarms/defs",
        &json!({"id": 0, "tag": tag, "condition": {"kind": "high", "limit": 10.0},
        "priority": "high", "message_zh": "T1 高", "enabled": true}),
    );
    let alarm = d.json()["id"].as_u64().unwrap();
    let before = *served.lock().unwrap();
    assert_eq!(
        api.post_json("/api/v1/tags/T1/write", &json!({"value": 15.0}))
            .status,
        200
    );
    eventually(10, || *served.lock().unwrap() > before);
    // pages with the admin token (this box has no demo users)
    let op = &api;
    let mut page = String::new();
    let found = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        page = op.get(&format!("/automation/alarms/{alarm}")).body;
        page.contains("/integration/camera-snaps/")
    });
    assert!(found, "{page}");
    let src = page
        .split("src=\"/integration/camera-snaps/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let snap = op.get(&format!("/integration/camera-snaps/{src}"));
    assert_eq!((snap.status, snap.bytes.as_slice()), (200, sinks::JPEG));
    // the area's tag page shows its cameras
    let tags = op.get("/integration/tags?area=resin").body;
    assert!(
        tags.contains(&format!("/integration/cameras/{id}/snapshot")),
        "the area page shows its camera"
    );
    assert!(
        tags.contains(&format!("/integration/cameras/{id}/live.mp4")),
        "live through the box"
    );
}
