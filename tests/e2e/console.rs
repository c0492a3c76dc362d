//! The admin console: modules, profile, compliance, language, the safety archive and the
//! API document, driven over HTTP against the real binary.

use crate::common;

use common::{Client, Server};
use serde_json::{Value, json};

#[test]
fn a_disabled_module_vanishes_survives_a_restart_and_keeps_its_data() {
    let mut s = Server::demo();
    let admin = s.login("admin");
    let before = s.admin_api().get("/api/v1/safety/certificates").json();
    let count = before.as_array().unwrap().len();
    assert!(count > 5);

    let r = admin.submit("/admin/modules/safety/disable", &[]);
    assert_eq!(r.status, 303);
    let page = admin.get("/admin/modules").body;
    assert!(
        page.contains("验收必选模块"),
        "a compliance warning is shown"
    );
    assert_eq!(admin.get("/safety").status, 404);
    assert_eq!(admin.get("/safety/certificates").status, 404);
    assert_eq!(s.admin_api().get("/api/v1/safety/certificates").status, 404);
    assert!(
        !admin
            .get("/")
            .body
            .contains("href=\"/safety/certificates\""),
        "gone from the menu"
    );
    let log = s
        .admin_api()
        .get("/api/v1/audit?action=registry.module")
        .json();
    assert_eq!(log["entries"][0]["action"], "registry.module.disable");
    assert_eq!(log["entries"][0]["actor"]["name"], "admin");

    // restart on the same data dir
    let data = s.data.clone();
    assert!(s.stop().success(), "clean exit on SIGTERM");
    let s2 = Server::start(&["serve"], &data, None);
    let api = s2.admin_api();
    assert_eq!(
        api.get("/api/v1/safety/certificates").status,
        404,
        "still off after restart"
    );

    let r = api.post_json("/api/v1/modules/safety/enable", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "enabled");
    let after = api.get("/api/v1/safety/certificates").json();
    assert_eq!(
        after.as_array().unwrap().len(),
        count,
        "data kept while off"
    );

    // switching off a required module over the API returns the warning, in words
    let r = api.post_json("/api/v1/modules/safety/disable", &json!({}));
    assert_eq!(r.json()["warning"]["code"], "registry.warn.required");
    let msg = r.json()["warning"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("安全生产") && msg.contains("化工园区内企业"),
        "{msg}"
    );
    // switching it off again changes nothing and is not audited again
    let before = api.get("/api/v1/audit?action=registry.module").json()["entries"]
        .as_array()
        .unwrap()
        .len();
    api.post_json("/api/v1/modules/safety/disable", &json!({}));
    let after = api.get("/api/v1/audit?action=registry.module").json()["entries"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
    // a module this build does not have cannot be switched
    assert_eq!(
        api.post_json("/api/v1/modules/energy/enable", &json!({}))
            .status,
        404
    );
}

#[test]
fn the_profile_refuses_a_wrong_credit_code_and_keeps_the_old_one() {
    let s = Server::demo();
    let admin = s.login("admin");
    let api = s.admin_api();
    let mut p = api.get("/api/v1/profile").json();
    let original = p["credit_code"].clone();
    p["credit_code"] = json!("91330781MA2E8K4Q7K");
    p["company_name"] = json!("改名测试");
    let r = api.put_json("/api/v1/profile", &p);
    assert_eq!(r.status, 422);
    assert_eq!(r.code(), "org.credit_code_check");
    assert_eq!(r.json()["error"]["field"], "credit_code");
    assert!(
        r.json()["error"]["message"].as_str().unwrap().contains("J"),
        "names the expected check character"
    );
    assert_eq!(api.get("/api/v1/profile").json()["credit_code"], original);
    p["credit_code"] = json!("000000000000000000");
    let r = api.put_json("/api/v1/profile", &p);
    assert_eq!(
        (r.status, r.code()),
        (422, "org.credit_code_header".to_string())
    );

    // the same through the form: 422, the field highlighted, what was typed kept
    let r = admin.submit(
        "/admin/profile",
        &[
            ("company_name", "兰溪宏达精细化工有限公司"),
            ("credit_code", "91330781MA2E8K4Q7"),
            ("enterprise_type", "outside_park"),
            ("address", "兰溪"),
            ("legal_rep", "张建国"),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("应为 18 位"), "{}", r.body);
    assert!(r.body.contains("value=\"91330781MA2E8K4Q7\""));
    assert!(r.body.contains("aria-invalid=\"true\""));

    // a valid change goes through and moves the compliance requirements
    let r = admin.submit(
        "/admin/profile",
        &[
            ("company_name", "兰溪宏达精细化工有限公司"),
            ("credit_code", "91330781ma2e8k4q7j"),
            ("enterprise_type", "outside_park"),
            ("address", "兰溪"),
            ("legal_rep", "张建国"),
            ("contact_name", "王海涛"),
            ("contact_role", "安全经理"),
            ("contact_phone", "13905791002"),
        ],
    );
    assert_eq!(r.status, 303);
    let p = api.get("/api/v1/profile").json();
    assert_eq!(p["credit_code"], "91330781MA2E8K4Q7J");
    assert_eq!(p["enterprise_type"], "outside_park");
    let c = api.get("/api/v1/compliance").json();
    assert_eq!(
        c["required_total"], 1,
        "outside the park only safety is required"
    );
}

#[test]
fn the_compliance_page_shows_every_guide_module_with_evidence() {
    let s = Server::demo();
    let manager = s.login("zhang.jianguo");
    let page = manager.get("/compliance");
    assert_eq!(page.status, 200);
    for name in [
        "安全生产",
        "生产自动化",
        "进销存管理",
        "设备管理",
        "质量管理",
        "数据互通",
        "能源管理",
        "仓储物流",
    ] {
        assert!(page.body.contains(name), "{name} listed");
    }
    let r = s.admin_api().get("/api/v1/compliance").json();
    assert_eq!(r["enterprise_type"], "in_park");
    assert_eq!(r["required_total"], 6);
    assert_eq!(r["required_enabled"], 6, "all six N modules are built");
    let inventory = r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "inventory")
        .unwrap();
    for item in inventory["items"].as_array().unwrap() {
        assert_eq!(
            item["met"], true,
            "the demo uses purchasing, sales and stock: {item}"
        );
    }
    let automation = r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "automation")
        .unwrap();
    assert_eq!(automation["items"][0]["met"], true, "{automation}");
    let safety = r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "safety")
        .unwrap();
    let archive = safety["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "module.safety.item.archive")
        .unwrap();
    // the demo keeps two expired documents on purpose: the archive is not "kept current"
    assert_eq!(archive["met"], false);
    assert!(
        archive["detail"].as_str().unwrap().contains("已过期 2"),
        "{archive}"
    );
    let quality = r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "quality")
        .unwrap();
    assert_eq!(quality["state"], "enabled");
    assert_eq!(quality["items"].as_array().unwrap().len(), 3, "{quality}");
    let equipment = r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "equipment")
        .unwrap();
    assert_eq!(equipment["state"], "enabled");
    assert_eq!(
        equipment["items"].as_array().unwrap().len(),
        5,
        "{equipment}"
    );
}

#[test]
fn english_is_one_click_away() {
    let s = Server::demo();
    let c = s.login("admin");
    assert!(c.get("/").body.contains("模块总览"));
    let r = c.get("/lang/en?next=/admin/modules");
    assert_eq!(r.header("location"), Some("/admin/modules"));
    let page = c.get("/admin/modules").body;
    assert!(page.contains("Modules"));
    assert!(page.contains("Safety production"));
    // the choice is remembered on the account: a new session starts in English
    let c2 = s.login("admin");
    assert!(c2.get("/").body.contains("Modules at a glance"));
    // API errors follow Accept-Language
    let mut api = s.admin_api();
    api.lang = Some("en-US,en;q=0.9");
    let r = api.get("/api/v1/users/999");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["message"], "No such user.");
}

#[test]
fn the_safety_archive_records_renews_and_attaches() {
    let s = Server::demo();
    let officer = s.login("wang.haitao");
    let r = officer.submit(
        "/safety/certificates",
        &[
            ("kind", "hazchem_license"),
            ("number", "浙金兰危化经字〔2026〕000999"),
            ("issuer", "兰溪市应急管理局"),
            ("holder", "兰溪宏达精细化工有限公司"),
            ("issued", "2026-01-10"),
            ("expires", "2025-01-09"),
        ],
    );
    assert_eq!(r.status, 422, "expiry before issue is refused");
    assert!(r.body.contains("必须晚于发证日期"));
    let r = officer.submit(
        "/safety/certificates",
        &[
            ("kind", "hazchem_license"),
            ("number", "浙金兰危化经字〔2026〕000999"),
            ("issuer", "兰溪市应急管理局"),
            ("holder", "兰溪宏达精细化工有限公司"),
            ("issued", "2026-01-10"),
            ("expires", "2029-01-09"),
        ],
    );
    assert_eq!(r.status, 303);
    let loc = r.header("location").unwrap().to_string();
    let id: u64 = loc.rsplit('/').next().unwrap().parse().unwrap();

    // a scan: PDF accepted, an executable renamed .pdf refused
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    let api = s.admin_api();
    let r = api.post_multipart(
        &format!("/api/v1/safety/certificates/{id}/files"),
        "file",
        "许可证扫描.pdf",
        "application/pdf",
        pdf,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let fid = r.json()["id"].as_u64().unwrap();
    let r = api.post_multipart(
        &format!("/api/v1/safety/certificates/{id}/files"),
        "file",
        "evil.pdf",
        "application/pdf",
        b"MZ\x90\x00\x03\x00\x00\x00",
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.code(), "safety.file_type");
    let f = officer.get(&format!("/safety/certificates/{id}/files/{fid}"));
    assert_eq!(f.status, 200);
    assert_eq!(f.bytes, pdf);
    assert!(f.header("content-disposition").unwrap().contains("UTF-8''"));

    // renewal moves the old number to the history
    let r = api.post_json(
        &format!("/api/v1/safety/certificates/{id}/renew"),
        &json!({"number": "浙金兰危化经字〔2029〕000001", "issued": "2029-01-01", "expires": "2032-01-01"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["renewals"][0]["number"], "浙金兰危化经字〔2026〕000999");
    assert_eq!(v["status"], "valid");

    // deleting a licence is a sign-off: operators read the archive, the safety officer approves
    let operator = s.login("li.ming");
    assert_eq!(
        operator
            .submit(&format!("/safety/certificates/{id}/delete"), &[])
            .status,
        403
    );
    assert_eq!(operator.get("/safety/certificates/new").status, 403);
    assert_eq!(
        operator.get("/safety/kinds").status,
        200,
        "operators may read the kinds"
    );
    assert!(operator.get(&format!("/safety/certificates/{id}")).status == 200);

    // the overview counts the demo's expired and expiring documents
    let sum = api.get("/api/v1/safety/summary").json();
    assert!(sum["expired"].as_u64().unwrap() >= 2);
    assert!(sum["expiring"].as_u64().unwrap() >= 2);
    let page = officer.get("/safety/certificates?status=expired").body;
    assert!(page.contains("status-expired"));
}

#[test]
fn every_documented_endpoint_exists_and_requires_authentication() {
    let s = Server::demo();
    let doc = s.browser().get("/api/v1/openapi.json").json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 28, "{} paths", paths.len());
    let anon = s.browser();
    let mut checked = 0;
    for (path, ops) in paths {
        if ["/healthz", "/metrics"].contains(&path.as_str()) {
            continue;
        }
        let concrete = path
            .replace("{action}", "enable")
            .replace("{id}", "1")
            .replace("{file}", "1");
        for method in ops.as_object().unwrap().keys() {
            let r = match method.as_str() {
                "get" => anon.get(&concrete),
                "delete" => anon.delete(&concrete),
                "post" => anon.post_json(&concrete, &json!({})),
                "put" => anon.put_json(&concrete, &json!({})),
                other => panic!("unexpected method {other}"),
            };
            assert_eq!(r.status, 401, "{method} {path} must require authentication");
            assert_eq!(r.code(), "auth.login_required", "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 39, "{checked} operations");
}

/// Operations any signed-in person may use (their own account and notices): no grant.
const FOR_ANY_PERSON: &[&str] = &[
    "/api/v1/me",
    "/api/v1/notices",
    "/api/v1/notices/{id}/read",
    "/api/v1/notices/read-all",
    "/api/v1/alerts",
    "/api/v1/alerts/{id}/ack",
];

/// Every documented operation declares the grant it needs as its bearer scope
/// (`module:level`, or alternatives); a token holding exactly a built-in role's grants gets
/// 403 wherever the role lacks it, whatever the body — the check runs before the body is
/// read — and never a 2xx.
#[test]
fn every_documented_operation_refuses_every_role_without_its_grant() {
    let s = Server::demo();
    let admin = s.admin_api();
    let doc = s.browser().get("/api/v1/openapi.json").json();
    let roles = admin.get("/api/v1/roles").json();
    let builtin: Vec<&Value> = roles
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["builtin"] == true)
        .collect();
    assert!(builtin.len() >= 8, "{roles}");
    // a token per built-in role, with exactly the role's grants
    let tokens: Vec<(String, Value, Client)> = builtin
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap().to_string();
            let t = admin.post_json(
                "/api/v1/tokens",
                &json!({"name": format!("authz-{id}"), "grants": r["grants"]}),
            );
            assert_eq!(t.status, 201, "{}", t.body);
            let secret = t.json()["secret"].as_str().unwrap().to_string();
            (id, r["grants"].clone(), s.api(&secret))
        })
        .collect();
    // read is implied by any level
    let holds = |grants: &Value, scope: &str| {
        let (module, level) = scope.split_once(':').expect("scope module:level");
        grants[module]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x == level) || (level == "read" && !l.is_empty()))
    };
    let (mut refused, mut failures) = (0, Vec::new());
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if ["/healthz", "/metrics"].contains(&path.as_str()) {
            continue;
        }
        let concrete = path
            .replace("{action}", "ack")
            .replace("{id}", "1")
            .replace("{file}", "1")
            .replace("{key}", "blinding")
            .replace("{name}", "TIC201.PV")
            .replace("{code}", "G1")
            .replace("{user}", "1")
            .replace("{page}", "overview");
        for (method, op) in ops.as_object().unwrap() {
            // the scopes of each alternative security requirement
            let scopes: Vec<String> = op["security"]
                .as_array()
                .map(|alts| {
                    alts.iter()
                        .flat_map(|alt| alt["bearer"].as_array().cloned().unwrap_or_default())
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if scopes.is_empty() {
                assert!(
                    FOR_ANY_PERSON.contains(&path.as_str()),
                    "{method} {path} declares no grant (security bearer scope)"
                );
                continue;
            }
            for (role, grants, client) in &tokens {
                if scopes.iter().any(|sc| holds(grants, sc)) {
                    continue;
                }
                let r = match method.as_str() {
                    "get" => client.get(&concrete),
                    "delete" => client.delete(&concrete),
                    "post" => client.post_json(&concrete, &json!({})),
                    "put" => client.put_json(&concrete, &json!({})),
                    other => panic!("unexpected method {other}"),
                };
                if r.status != 403 {
                    failures.push(format!(
                        "{} {path} as {role} (needs {}): {} {}",
                        method.to_uppercase(),
                        scopes.join(" or "),
                        r.status,
                        r.body.chars().take(120).collect::<String>()
                    ));
                }
                refused += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(refused >= 300, "{refused} refusals checked");
}

#[test]
fn health_and_metrics_for_monitoring() {
    let s = Server::demo();
    let h = s.browser().get("/healthz").json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["store"], "ok");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    s.browser().get("/login");
    let m = s.browser().get("/metrics");
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    assert!(m.body.contains("nplusx_http_requests_total{"));
    assert!(m.body.contains("route=\"/login\""));
    assert!(
        m.body
            .contains("nplusx_module_enabled{module=\"safety\"} 1")
    );
    assert!(m.body.contains("nplusx_audit_entries "));
}
