//! 远程维护, the first-party remote maintenance plugin, on the demo plant with Mosquitto on
//! loopback playing the vendor's broker: the admin approves the demo's pending request with a
//! narrower scope; the box connects out; the vendor reads an allowed tag, is refused a tag
//! outside the scope and a write; every message is in the audit log; the kill switch cuts the
//! session mid-way and nothing is answered after it. A second session ends at its end time.

use serde_json::{Value, json};

use crate::common::broker::{Mosquitto, TestClient};
use crate::common::{Client, Server, eventually};

/// The JSON messages on `topic` that arrived within `secs`, until `until` holds.
fn wait_for(
    vendor: &TestClient,
    secs: u64,
    until: impl Fn(&(String, Value)) -> bool,
) -> Option<(String, Value)> {
    let got = vendor.collect(secs, |m| {
        m.iter().any(|(t, p)| {
            serde_json::from_slice(p)
                .map(|v| until(&(t.clone(), v)))
                .unwrap_or(false)
        })
    });
    got.into_iter()
        .filter_map(|(t, p)| Some((t, serde_json::from_slice(&p).ok()?)))
        .find(|m| until(m))
}

/// Publishes a request on the session's topic and waits for its answer.
fn ask(vendor: &TestClient, root: &str, body: Value) -> Option<Value> {
    vendor.publish(&format!("{root}/req"), body.to_string());
    let id = body["id"].clone();
    wait_for(vendor, 10, |(t, v)| {
        t == &format!("{root}/resp") && v["id"] == id
    })
    .map(|m| m.1)
}

/// Approves request `id` with this scope and duration; answers the session's topic root
/// (`nplusx/<token>`), from the status the box publishes to the vendor.
fn approve(admin: &Client, vendor: &TestClient, id: &str, read: &str, minutes: &str) -> String {
    let r = admin.post_form(
        "/x/remote/sessions/approve",
        &[
            ("id", id),
            ("read", read),
            ("write", ""),
            ("logs", "false"),
            ("minutes", minutes),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let (topic, status) = wait_for(vendor, 15, |(t, v)| {
        t.ends_with("/status") && v["state"] == "open"
    })
    .expect("the box says the session is open");
    assert_eq!(
        status["scope"]["read"],
        json!(read.split(", ").collect::<Vec<_>>())
    );
    topic.trim_end_matches("/status").to_string()
}

#[test]
fn a_vendor_reaches_only_what_the_admin_granted_until_the_session_is_cut() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let s = Server::demo();
    let mut admin = s.admin_api();
    admin.lang = Some("en");
    eventually(30, || admin.plugin_running("remote"));
    // the test broker speaks plain MQTT on loopback (the plugin's default is TLS)
    admin.set_plugin_setting("remote", "tls", "false");
    admin.set_plugin_setting("remote", "broker", &format!("127.0.0.1:{}", broker.port));
    eventually(30, || admin.plugin_running("remote"));
    let vendor = TestClient::connect(broker.port, "vendor-engineer", &["nplusx/#"], false);

    // the demo's pending request, asked with the alarm journal; approved with one tag only
    let page = admin.get("/x/remote/sessions").body;
    assert!(page.contains("R101") && page.contains("pending"), "{page}");
    let root = approve(&admin, &vendor, "1", "R101.TT101", "30");

    // inside the scope: the tag's current value
    let a = ask(
        &vendor,
        &root,
        json!({"op": "read", "id": "r1", "tags": ["R101.TT101"]}),
    )
    .expect("an answer");
    assert_eq!(a["ok"], true, "{a}");
    assert_eq!(a["values"][0]["tag"], "R101.TT101");
    assert!(a["values"][0]["value"].is_number(), "{a}");
    // outside it: another tag, a write, the journal (asked for, not granted), a made-up op
    let a = ask(
        &vendor,
        &root,
        json!({"op": "read", "id": "r2", "tags": ["R101.TT101", "TK201.LT"]}),
    )
    .unwrap();
    assert_eq!(a["ok"], false);
    assert_eq!(a["error"], "tag TK201.LT is outside this session's scope");
    assert!(
        a.get("values").is_none(),
        "nothing of the allowed tag either: {a}"
    );
    let a = ask(
        &vendor,
        &root,
        json!({"op": "write", "id": "w1", "tag": "R101.TT101", "value": 99.0}),
    )
    .unwrap();
    assert_eq!(a["ok"], false);
    assert_eq!(
        a["error"],
        "writing R101.TT101 is not granted in this session"
    );
    let a = ask(
        &vendor,
        &root,
        json!({"op": "logs", "id": "l1", "hours": 1}),
    )
    .unwrap();
    assert_eq!(
        a["error"],
        "the alarm journal is not granted in this session"
    );
    vendor.publish(
        &format!("{root}/req"),
        r#"{"op":"shell","id":"x","cmd":"cat /etc/passwd"}"#,
    );
    let a = wait_for(&vendor, 10, |(t, v)| {
        t == &format!("{root}/resp")
            && v["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("not a request"))
    });
    assert!(a.is_some(), "an unknown request is refused");

    // every request and answer is in the audit log, with its payload
    let log = admin.get("/api/v1/audit?action=plugins.link.").json();
    let entries = log["entries"].as_array().unwrap();
    let count = |action: &str, text: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e.to_string().contains(text))
            .count()
    };
    assert!(count("plugins.link.in", "TK201.LT") >= 1, "{log}");
    assert!(
        count("plugins.link.out", "outside this session") >= 1,
        "{log}"
    );
    assert!(count("plugins.link.out", "r1") >= 1, "{log}");
    assert_eq!(count("plugins.link.open", "127.0.0.1"), 1, "{log}");

    // the kill switch, mid-session: the vendor is told, and nothing is answered after it
    let r = admin.post_form("/x/remote/sessions/kill", &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    let ended = wait_for(&vendor, 10, |(t, v)| {
        t == &format!("{root}/status") && v["state"] == "ended"
    });
    assert_eq!(ended.expect("told it ended").1["reason"], "kill switch");
    assert!(
        ask(
            &vendor,
            &root,
            json!({"op": "read", "id": "r3", "tags": ["R101.TT101"]})
        )
        .is_none()
    );
    let page = admin.get("/x/remote/sessions").body;
    assert!(page.contains("kill switch"), "{page}");
    let log = admin.get("/api/v1/audit?action=plugins.link.close").json();
    assert_eq!(log["entries"].as_array().unwrap().len(), 1, "{log}");

    // a session ends at its end time: one minute
    let r = admin.post_form(
        "/x/remote/request/request",
        &[
            ("vendor", "Test vendor"),
            ("engineer", "Li, 13800000000"),
            ("reason", "check the level transmitter"),
            ("read", "TK201.LT"),
            ("write", ""),
            ("logs", "false"),
            ("minutes", "1"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let root = approve(&admin, &vendor, "2", "TK201.LT", "1");
    let a = ask(
        &vendor,
        &root,
        json!({"op": "read", "id": "t1", "tags": ["TK201.LT"]}),
    )
    .unwrap();
    assert_eq!(a["ok"], true, "{a}");
    let ended = wait_for(&vendor, 90, |(t, v)| {
        t == &format!("{root}/status") && v["state"] == "ended"
    });
    assert_eq!(ended.expect("ended on time").1["reason"], "end time");
    vendor.publish(
        &format!("{root}/req"),
        json!({"op": "read", "id": "t2", "tags": ["TK201.LT"]}).to_string(),
    );
    assert!(
        wait_for(&vendor, 5, |(t, v)| t == &format!("{root}/resp")
            && v["ok"] == true)
        .is_none(),
        "nothing is answered after the end time"
    );
}
