//! Sign-in, throttling, CSRF, permissions and roles, driven over HTTP against the real binary.

use crate::common;

use common::{Server, attr};
use serde_json::json;

#[test]
fn a_user_signs_in_and_a_wrong_password_is_refused() {
    let s = Server::demo();
    let c = s.browser();
    // anonymous pages send you to the login page, keeping where you wanted to go
    let r = c.get("/admin/users");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login?next=%2Fadmin%2Fusers"));

    let r = c.login("wang.haitao", "not-the-password");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("用户名或密码错误"), "Chinese by default");

    let r = c.login("wang.haitao", &s.password());
    assert_eq!(r.status, 303);
    let cookie = r.header("set-cookie").unwrap_or("").to_string();
    assert!(cookie.contains("nx_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    let home = c.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("王海涛"));

    // the audit log has both attempts
    let log = s.admin_api().get("/api/v1/audit?action=auth.login").json();
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(&actions[..2], &["auth.login", "auth.login_failed"]);

    // after sign-out the old cookie is worth nothing
    let csrf = c.csrf();
    assert_eq!(c.post_form("/logout", &[("csrf", &csrf)]).status, 303);
    assert_eq!(c.get("/").status, 303);
}

#[test]
fn repeated_failures_slow_down_then_lock_and_are_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("nplusx.toml");
    std::fs::write(
        &cfg,
        "[login]\nslow_after = 2\nlock_after = 4\nlock_minutes = 1\nwindow_minutes = 15\n",
    )
    .unwrap();
    let s = Server::start(
        &["demo", "--bootstrap-token", common::BOOTSTRAP],
        &tmp.path().join("data"),
        Some(&cfg),
    );
    let c = s.browser();
    assert_eq!(c.login("li.ming", "wrong-1").status, 401);
    assert_eq!(c.login("li.ming", "wrong-2").status, 401);
    // a third attempt right away must wait
    let r = c.login("li.ming", "wrong-3");
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert!(r.body.contains("秒后再试"), "{}", r.body);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(c.login("li.ming", "wrong-3").status, 401);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(c.login("li.ming", "wrong-4").status, 401);
    // now locked: even the right password is refused
    let r = c.login("li.ming", &s.password());
    assert_eq!(r.status, 429);
    assert!(r.body.contains("锁定"), "{}", r.body);
    let log = s.admin_api().get("/api/v1/audit?action=auth.locked").json();
    assert!(
        !log["entries"].as_array().unwrap().is_empty(),
        "lockout audited"
    );
    // the address is only slowed down: another account signs in once the wait is over
    std::thread::sleep(std::time::Duration::from_millis(4100));
    assert_eq!(s.browser().login("wu.lihua", &s.password()).status, 303);
    // an admin sees the lock and lifts it
    let admin = s.login("admin");
    let page = admin.get("/admin/users").body;
    assert!(
        page.contains("登录锁定") && page.contains("li.ming"),
        "the lock is listed"
    );
    let locks = s.admin_api().get("/api/v1/login-locks").json();
    assert_eq!(locks[0]["username"], "li.ming");
    assert_eq!(
        admin
            .submit("/admin/locks/unlock", &[("username", "li.ming")])
            .status,
        303
    );
    assert!(
        s.admin_api()
            .get("/api/v1/login-locks")
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(c.login("li.ming", &s.password()).status, 303);
}

#[test]
fn parallel_guesses_cannot_slip_past_the_throttle() {
    let s = Server::demo();
    let base = s.base.clone();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let base = base.clone();
                scope.spawn(move || {
                    let c = Server::browser_at(&base);
                    c.login("wu.lihua", &format!("guess-{i}")).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 24, "{statuses:?}");
    assert!(
        checked <= 3,
        "at most slow_after guesses are checked at once: {statuses:?}"
    );
}

#[test]
fn redirects_stay_on_this_site() {
    let s = Server::demo();
    let c = s.browser();
    for evil in [
        "//evil.example",
        "/%09/evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "/%0a/x",
    ] {
        let r = c.get(&format!("/lang/en?next={evil}"));
        assert_eq!(r.header("location"), Some("/"), "{evil}");
    }
    let page = c.get("/login");
    let pre = common::attr(&page.body, "name=\"csrf\" value=\"").unwrap();
    let r = c.post_form(
        "/login",
        &[
            ("username", "admin"),
            ("password", &s.password()),
            ("csrf", &pre),
            ("next", "/\t/evil.example"),
        ],
    );
    assert_eq!(r.header("location"), Some("/"));
    // a local path is kept
    assert_eq!(
        c.get("/lang/zh-CN?next=/admin/users").header("location"),
        Some("/admin/users")
    );
}

#[test]
fn an_expired_session_says_so_and_returns_to_the_page() {
    let s = Server::demo();
    let c = s.login("wang.haitao");
    let csrf = c.csrf();
    let stale = c.cookie("nx_session").unwrap();
    // signed out (here, or by an expiry): the cookie the browser kept no longer works
    assert_eq!(c.post_form("/logout", &[("csrf", &csrf)]).status, 303);
    c.set_cookie("nx_session", &stale);
    let r = c.get("/safety/certificates");
    assert_eq!(
        r.header("location"),
        Some("/login?next=%2Fsafety%2Fcertificates&expired=1")
    );
    let page = c.get(r.header("location").unwrap());
    assert!(page.body.contains("登录已过期"));
}

#[test]
fn oversized_sign_in_fields_are_refused_without_bloating_the_log() {
    let s = Server::demo();
    let c = s.browser();
    let huge = "x".repeat(100_000);
    let r = c.login(&huge, "whatever");
    assert_eq!(r.status, 401);
    let log = s
        .admin_api()
        .get("/api/v1/audit?action=auth.login_failed")
        .json();
    let target = log["entries"][0]["target"].as_str().unwrap();
    assert!(target.len() < 80, "{} bytes", target.len());
}

#[test]
fn a_form_without_its_csrf_token_changes_nothing() {
    let s = Server::demo();
    let admin = s.login("admin");
    // no token
    let r = admin.post_form("/admin/modules/safety/disable", &[]);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF"));
    // a wrong token
    let r = admin.post_form("/admin/modules/safety/disable", &[("csrf", "forged")]);
    assert_eq!(r.status, 403);
    // a JSON call with the session cookie but no header
    let r = admin.post_form("/api/v1/modules/safety/disable", &[]);
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "auth.csrf");
    assert_eq!(admin.get("/safety").status, 200, "module still on");
    // the login form has its own token
    let c = s.browser();
    let r = c.post_form(
        "/login",
        &[
            ("username", "admin"),
            ("password", &s.password()),
            ("csrf", "x"),
        ],
    );
    assert_eq!(r.status, 403);
}

#[test]
fn a_viewer_is_denied_admin_actions_in_pages_and_api() {
    let s = Server::demo();
    let viewer = s.login("liu.yang");
    let r = viewer.get("/admin/users");
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("admin.read"),
        "the message names the permission"
    );
    let r = viewer.submit("/admin/modules/safety/disable", &[]);
    assert_eq!(r.status, 403);
    // API with the session (CSRF header sent) and in English
    let mut v = s.login("liu.yang");
    v.lang = Some("en");
    let r = v.post_json(
        "/api/v1/users",
        &json!({"username": "x1", "display_name": "X", "password": "long enough pw"}),
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "auth.forbidden");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("admin.write")
    );
    // viewers read modules but do not write them
    assert_eq!(viewer.get("/safety/certificates").status, 200);
    assert_eq!(viewer.get("/safety/certificates/new").status, 403);
    // the menu does not offer what the viewer cannot open
    let home = viewer.get("/").body;
    assert!(!home.contains("href=\"/admin/users\""));
    assert!(home.contains("href=\"/safety/certificates\""));
    // nothing changed
    let modules = s.admin_api().get("/api/v1/modules").json();
    let safety = modules
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "safety")
        .unwrap();
    assert_eq!(safety["state"], "enabled");
}

#[test]
fn a_role_change_takes_effect_on_the_next_click() {
    let s = Server::demo();
    let api = s.admin_api();
    let viewer = s.login("liu.yang");
    assert_eq!(viewer.get("/safety/certificates/new").status, 403);

    // a custom role granting safety write
    let r = api.post_json(
        "/api/v1/roles",
        &json!({"id": "archive_clerk", "name_zh": "档案员", "name_en": "Archive clerk",
                "grants": {"safety": ["read", "write"]}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let users = api.get("/api/v1/users").json();
    let liu = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "liu.yang")
        .unwrap();
    let id = liu["id"].as_u64().unwrap();
    let r = api.put_json(
        &format!("/api/v1/users/{id}"),
        &json!({"display_name": "刘洋", "roles": ["viewer", "archive_clerk"], "enabled": true,
                "department_id": liu["department_id"], "phone": liu["phone"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // same session, new rights
    assert_eq!(viewer.get("/safety/certificates/new").status, 200);

    // narrowing the role narrows the user
    let r = api.put_json(
        "/api/v1/roles/archive_clerk",
        &json!({"name_zh": "档案员", "name_en": "Archive clerk", "grants": {"safety": ["read"]}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(viewer.get("/safety/certificates/new").status, 403);
    // a role in use cannot be deleted
    assert_eq!(api.delete("/api/v1/roles/archive_clerk").status, 409);
}

#[test]
fn tokens_are_scoped_shown_once_and_revocable() {
    let s = Server::demo();
    let admin = s.login("admin");
    let r = admin.submit(
        "/admin/tokens",
        &[("name", "gate-east"), ("grant.safety.read", "on")],
    );
    assert_eq!(r.status, 200);
    let secret = attr(&r.body, "<pre class=\"secret-value\" data-copy>")
        .map(|s| s.split('<').next().unwrap().to_string())
        .expect("the secret is shown");
    assert!(secret.starts_with("nxt_"));
    // not shown again
    assert!(!admin.get("/admin/tokens").body.contains(&secret));

    let gate = s.api(&secret);
    assert_eq!(gate.get("/api/v1/safety/certificates").status, 200);
    let r = gate.get("/api/v1/users");
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "auth.forbidden");
    // machines need no CSRF token, but their scope still applies to writes
    let r = gate.post_json(
        "/api/v1/safety/certificates",
        &json!({"kind": "hazchem_license", "number": "X-1", "issuer": "I", "holder": "H", "issued": "2026-01-01"}),
    );
    assert_eq!(r.status, 403);

    let tokens = s.admin_api().get("/api/v1/tokens").json();
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "gate-east")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    assert_eq!(
        s.admin_api().delete(&format!("/api/v1/tokens/{id}")).status,
        200
    );
    let r = gate.get("/api/v1/safety/certificates");
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "auth.token_invalid");
}

#[test]
fn an_admin_set_password_must_be_changed_first() {
    let s = Server::demo();
    let api = s.admin_api();
    let r = api.post_json(
        "/api/v1/users",
        &json!({"username": "zhao.lei", "display_name": "赵磊", "password": "initial pass 1",
                "roles": ["operator"]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let c = s.browser();
    let r = c.login("zhao.lei", "initial pass 1");
    assert_eq!(r.header("location"), Some("/account/password"));
    // every other page sends them back there
    assert_eq!(c.get("/").header("location"), Some("/account/password"));
    let r = c.submit(
        "/account/password",
        &[
            ("old_password", "initial pass 1"),
            ("password", "my own pass 2"),
            ("password2", "my own pass 2"),
        ],
    );
    assert_eq!(r.status, 303);
    assert_eq!(c.get("/").status, 200);
}

#[test]
fn bad_api_input_gets_a_clear_error() {
    let s = Server::demo();
    let api = s.admin_api();
    let r = api.post_json(
        "/api/v1/users",
        &json!({"username": "Bad Name!", "display_name": "x", "password": "long enough"}),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.code(), "auth.username");
    assert_eq!(r.json()["error"]["field"], "username");
    let r = api.post_json("/api/v1/users", &json!({"username": 5}));
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "web.bad_json");
    let r = s.api("nxt_not-a-real-token").get("/api/v1/me");
    assert_eq!(r.status, 401);
    let r = s.browser().get("/api/v1/me");
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "auth.login_required");
}
