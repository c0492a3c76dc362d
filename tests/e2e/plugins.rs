//! Plugins end to end: a contractor makes a key, packs and signs a plugin with the CLI; the
//! plant trusts the key, installs, uses, upgrades (data kept), rolls back, disables and
//! removes it over HTTP and the CLI; damaged or untrusted packages are refused with the
//! reason and install nothing. Hostile plugins (endless loop, memory bomb, trap, calls
//! without a grant, a log flood) are stopped, audited and contained: the box keeps serving.

use crate::common;
use crate::common::plugins as plugin;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{BOOTSTRAP, Client, Server, cli, eventually, text};
use serde_json::{Value, json};

fn serve(data: &Path) -> Server {
    Server::start(&["serve", "--bootstrap-token", BOOTSTRAP], data, None)
}

/// The test plugin with this id and version, packed with the CLI (signed with `key`).
fn pack(dir: &Path, id: &str, version: &str, caps: &[&str], key: Option<&Path>) -> Vec<u8> {
    let out = plugin::pack_with_cli(
        dir,
        &format!("{id}-{version}"),
        &plugin::manifest(id, version, caps),
        &plugin::component(id, version),
        key,
    );
    std::fs::read(out).unwrap()
}

fn page(api: &Client, id: &str) -> common::Resp {
    api.get(&format!("/x/{id}/main"))
}

fn configure(api: &Client, id: &str, mode: &str, grants: &[&str]) {
    let r = api.put_json(
        &format!("/api/v1/plugins/{id}/settings"),
        &json!({"settings": {"mode": mode}, "grants": grants}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn stats(api: &Client, id: &str) -> Value {
    api.get("/api/v1/plugins")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn a_signed_plugin_goes_from_contractor_to_plant_and_back_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = plugin::keygen(tmp.path(), "contractor");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let caps = ["log", "storage", "tags.read"];
    let v1 = pack(tmp.path(), "hostile", "1.0.0", &caps, Some(&key));
    let v2 = pack(tmp.path(), "hostile", "1.1.0", &caps, Some(&key));
    // signing an unsigned package afterwards gives the same signed package
    let unsigned = tmp.path().join("unsigned.nxp");
    std::fs::write(
        &unsigned,
        nplusx::plugins::package::pack(
            &plugin::manifest("hostile", "1.0.0", &caps),
            &plugin::component("hostile", "1.0.0"),
            None,
        ),
    )
    .unwrap();
    let o = cli(&[
        "plugin",
        "sign",
        unsigned.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read(&unsigned).unwrap(),
        v1,
        "ed25519 signatures are deterministic"
    );
    let o = cli(&[
        "plugin",
        "inspect",
        tmp.path().join("hostile-1.0.0.nxp").to_str().unwrap(),
    ]);
    assert!(text(&o).contains("signed by   ed25519:"), "{}", text(&o));
    assert!(text(&o).contains("capability  storage"), "{}", text(&o));

    let data = tmp.path().join("data");
    let mut s = serve(&data);
    let mut api = s.admin_api();
    api.lang = Some("en");

    // signed by a key the plant does not trust yet: refused, nothing installed
    let r = api.post_bytes("/api/v1/plugins?grants=log,storage&enable=true", &v1);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "plugins.untrusted");
    assert!(r.body.contains("is not a trusted publisher"), "{}", r.body);
    let trust = api.post_form(
        "/admin/plugin-keys",
        &[("public_key", public.as_str()), ("name", "Test contractor")],
    );
    assert_eq!(trust.status, 303, "{}", trust.body);

    // the review (dry run) shows the signer and what it asks for
    let review = api.post_bytes("/api/v1/plugins?dry_run=true", &v1).json();
    assert_eq!(review["trusted"], true);
    assert_eq!(review["capabilities"].as_array().unwrap().len(), 3);
    assert!(stats(&api, "hostile").is_null());

    // a grant the plugin did not ask for is refused
    let r = api.post_bytes("/api/v1/plugins?grants=tags.write&enable=true", &v1);
    assert_eq!(r.code(), "plugins.not_asked", "{}", r.body);
    let r = api.post_bytes("/api/v1/plugins?grants=log,storage&enable=true", &v1);
    assert_eq!(r.status, 201, "{}", r.body);
    eventually(10, || stats(&api, "hostile")["stats"]["state"] == "running");

    // its page, with the plugin's text escaped
    let p = page(&api, "hostile");
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.body.contains("version 1.0.0, mode ok, note []"),
        "{}",
        p.body
    );
    assert!(
        !p.body.contains("<script>alert(1)"),
        "plugin text is escaped"
    );
    assert!(p.body.contains("&lt;script&gt;alert(1)"));
    // a form submission: refused fields come back with the plugin's message …
    let bad = api.post_form("/x/hostile/main/save", &[("note", " ")]);
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("1–100 characters"));
    // … and a good one is kept in the plugin's storage
    let ok = api.post_form("/x/hostile/main/save", &[("note", "keep me")]);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert!(page(&api, "hostile").body.contains("note [keep me]"));

    // upgrade: the data stays
    let r = api.post_bytes("/api/v1/plugins", &v2);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["previous"], "1.0.0");
    eventually(10, || {
        page(&api, "hostile")
            .body
            .contains("version 1.1.0, mode ok, note [keep me]")
    });
    // the same version again is refused
    assert_eq!(
        api.post_bytes("/api/v1/plugins", &v2).code(),
        "plugins.same_version"
    );
    // a package of the same plugin from another (trusted) publisher: refused; the key is
    // trusted over the API this time (a bad key or no name: refused, nothing trusted)
    let (other_key, other_public) = plugin::keygen(tmp.path(), "other");
    for bad in [
        json!({"public_key": "ed25519:not-a-key", "name": "Other contractor"}),
        json!({"public_key": other_public, "name": ""}),
    ] {
        let r = api.post_json("/api/v1/plugin-keys", &bad);
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    assert_eq!(
        api.get("/api/v1/plugin-keys")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = api.post_json(
        "/api/v1/plugin-keys",
        &json!({"public_key": other_public, "name": "Other contractor"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let other_fp = r.json()["fingerprint"].as_str().unwrap().to_string();
    let keys = api.get("/api/v1/plugin-keys").json();
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|k| k["fingerprint"] == other_fp.as_str()
                && k["name"] == "Other contractor"
                && k["public_key"] == other_public.as_str()),
        "{keys}"
    );
    let hijack = pack(tmp.path(), "hostile", "1.2.0", &caps, Some(&other_key));
    let r = api.post_bytes("/api/v1/plugins", &hijack);
    assert_eq!(r.code(), "plugins.publisher_changed", "{}", r.body);
    // no longer trusted: its packages are refused as untrusted
    assert_eq!(
        api.delete(&format!("/api/v1/plugin-keys/{other_fp}"))
            .status,
        204
    );
    assert_eq!(
        api.delete(&format!("/api/v1/plugin-keys/{other_fp}"))
            .status,
        404
    );
    let r = api.post_bytes("/api/v1/plugins", &hijack);
    assert_eq!(r.code(), "plugins.untrusted", "{}", r.body);
    let audit = api.get("/api/v1/audit?action=plugins.key.remove").body;
    assert!(audit.contains(&other_fp), "{audit}");
    // an older one too: going back is a rollback
    let r = api.post_bytes("/api/v1/plugins", &v1);
    assert_eq!(r.code(), "plugins.older", "{}", r.body);
    // rollback: the data stays
    let r = api.post_json("/api/v1/plugins/hostile/rollback", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(10, || {
        page(&api, "hostile")
            .body
            .contains("version 1.0.0, mode ok, note [keep me]")
    });
    assert_eq!(
        api.post_json("/api/v1/plugins/hostile/rollback", &json!({}))
            .code(),
        "plugins.no_previous"
    );
    // disabled: its pages are gone; enabled: back
    let r = api.post_json("/api/v1/plugins/hostile/disable", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(page(&api, "hostile").status, 404);
    api.post_json("/api/v1/plugins/hostile/enable", &json!({}));
    eventually(10, || page(&api, "hostile").status == 200);

    // every step is in the audit log
    let audit = api.get("/api/v1/audit?q=plugin:hostile").body;
    for action in [
        "plugins.plugin.install",
        "plugins.plugin.upgrade",
        "plugins.plugin.rollback",
        "plugins.plugin.disable",
        "plugins.plugin.enable",
    ] {
        assert!(audit.contains(action), "{action} audited: {audit}");
    }

    // damaged or wrong packages: refused with the reason, nothing changes
    let component = plugin::component("hostile", "1.0.0");
    let k = key.as_path();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (v2[..v2.len() / 2].to_vec(), "plugins.truncated"),
        (b"PK\x03\x04not a package".to_vec(), "plugins.magic"),
        (
            {
                let mut b = v2.clone();
                let i = b.len() - 500;
                b[i] ^= 0x55;
                b
            },
            "plugins.signature_bad",
        ),
        (
            // packed by hand: the CLI refuses to pack it
            nplusx::plugins::package::pack(
                &plugin::manifest("hostile", "2.0.0", &["log", "teleport"]),
                &component,
                Some(
                    &nplusx::plugins::package::read_secret(&std::fs::read_to_string(k).unwrap())
                        .unwrap(),
                ),
            ),
            "plugins.capability",
        ),
        (
            nplusx::plugins::package::pack(
                &plugin::manifest("hostile", "2.0.0", &["log"])
                    .replace("wit = \"0.1\"", "wit = \"1.0\""),
                &component,
                Some(
                    &nplusx::plugins::package::read_secret(&std::fs::read_to_string(k).unwrap())
                        .unwrap(),
                ),
            ),
            "plugins.wit",
        ),
        (
            pack(tmp.path(), "other", "1.0.0", &["log"], None),
            "plugins.unsigned",
        ),
    ];
    // a manifest that does not match its component, and one for another contract
    let signed_with = |manifest_text: &str, comp: &[u8]| {
        let mf = tmp.path().join("m.toml");
        let cf = tmp.path().join("c.wasm");
        let out = tmp.path().join("x.nxp");
        std::fs::write(&mf, manifest_text).unwrap();
        std::fs::write(&cf, comp).unwrap();
        let _ = std::fs::remove_file(&out);
        let o = cli(&[
            "plugin",
            "pack",
            "--manifest",
            mf.to_str().unwrap(),
            "--component",
            cf.to_str().unwrap(),
            "--key",
            k.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        (o, out)
    };
    let (o, out) = signed_with(&plugin::manifest("hostile", "3.0.0", &["log"]), &component);
    assert!(o.status.success(), "{}", text(&o));
    let mismatch = std::fs::read(out).unwrap();
    let (o, _) = signed_with(
        &plugin::manifest("hostile", "3.0.0", &["log"]).replace("wit = \"0.1\"", "wit = \"1.0\""),
        &component,
    );
    assert!(
        !o.status.success(),
        "the CLI refuses to pack for another contract"
    );
    assert!(text(&o).contains("1.0"), "{}", text(&o));
    let (o, out) = signed_with(
        &plugin::manifest("hostile", "3.0.0", &["log"]),
        b"\0asm\x01\0\0\0",
    );
    assert!(o.status.success(), "{}", text(&o));
    let core_module = std::fs::read(out).unwrap();
    for (bytes, code) in cases.into_iter().chain([
        (mismatch, "plugins.mismatch"),
        (core_module, "plugins.component"),
    ]) {
        let r = api.post_bytes("/api/v1/plugins?grants=log", &bytes);
        assert_eq!(r.status, 422, "{code}: {}", r.body);
        assert_eq!(r.code(), code, "{}", r.body);
    }
    let list = api.get("/api/v1/plugins").json();
    let ours = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "hostile")
        .unwrap();
    assert_eq!(ours["version"], "1.0.0", "nothing changed");
    assert!(!list.as_array().unwrap().iter().any(|p| p["id"] == "other"));

    // removed with its data
    let r = api.delete("/api/v1/plugins/hostile");
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(stats(&api, "hostile").is_null());
    assert_eq!(page(&api, "hostile").status, 404);

    // the CLI does the same with the server stopped
    s.stop();
    let d = data.to_str().unwrap();
    let (p1, p2) = (
        tmp.path().join("hostile-1.0.0.nxp"),
        tmp.path().join("hostile-1.1.0.nxp"),
    );
    let run = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--data", d]);
        let o = cli(&a);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        text(&o)
    };
    let out = run(&[
        "plugin",
        "install",
        p1.to_str().unwrap(),
        "--grant-safe",
        "--enable",
    ]);
    assert!(out.contains("hostile 1.0.0"), "{out}");
    assert!(
        out.contains("enabled, granted log,storage,tags.read"),
        "{out}"
    );
    let out = run(&["plugin", "upgrade", p2.to_str().unwrap()]);
    assert!(
        out.contains("hostile 1.1.0: enabled, granted log,storage,tags.read"),
        "{out}"
    );
    let out = run(&["plugin", "rollback", "hostile"]);
    assert!(out.contains("hostile 1.0.0"), "{out}");
    let out = run(&["plugin", "disable", "hostile"]);
    assert!(out.contains("disabled"), "{out}");
    let out = run(&["plugin", "enable", "hostile"]);
    assert!(out.contains("hostile 1.0.0: enabled"), "{out}");
    let out = run(&["plugin", "list"]);
    assert!(out.contains("hostile 1.0.0"), "{out}");
    let o = cli(&["plugin", "remove", "hostile", "--data", d]);
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(&["plugin", "list", "--data", d]);
    assert!(!text(&o).contains("hostile"), "{}", text(&o));
    let o = cli(&["plugin", "install", "/nonexistent.nxp", "--data", d]);
    assert!(!o.status.success());
}

/// A box (no demo) in developer mode with the 0.1 test plugin installed (asking for
/// `caps`, granted `log` and `storage`) and running.
fn dev_box(tmp: &Path, caps: &[&str]) -> (Server, Client) {
    let s = serve(&tmp.join("data"));
    let mut api = s.admin_api();
    api.lang = Some("en");
    // developer mode: unsigned packages install, and every page says so
    let r = api.post_form("/admin/plugin-settings/developer-mode", &[("on", "true")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let pkg = pack(tmp, "hostile", "1.0.0", caps, None);
    let r = api.post_bytes("/api/v1/plugins?grants=log,storage&enable=true", &pkg);
    assert_eq!(r.status, 201, "{}", r.body);
    eventually(10, || stats(&api, "hostile")["stats"]["state"] == "running");
    (s, api)
}

#[test]
fn hostile_plugins_are_stopped_audited_and_the_box_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, api) = dev_box(
        tmp.path(),
        &["log", "storage", "tags.read", "events", "clock"],
    );
    assert!(api.get("/admin/plugins").body.contains("dev-mode"));

    // an endless loop: stopped at its time limit, the box answers meanwhile
    configure(&api, "hostile", "loop", &["log", "storage"]);
    let t = Instant::now();
    let h = {
        let base = s.url("");
        std::thread::spawn(move || common::Server::api_at(&base, BOOTSTRAP).get("/x/hostile/main"))
    };
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        api.get("/healthz").status,
        200,
        "the box answers while a plugin loops"
    );
    let r = h.join().unwrap();
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("time limit"), "{}", r.body);
    assert!(t.elapsed() < Duration::from_secs(5));
    eventually(10, || {
        stats(&api, "hostile")["stats"]["faults"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    });
    eventually(10, || stats(&api, "hostile")["stats"]["state"] == "running");

    // sleeping: a plugin cannot wait (it would block where no deadline reaches)
    configure(&api, "hostile", "sleep", &["log", "storage"]);
    let t = Instant::now();
    let r = page(&api, "hostile");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("woke up"), "{}", r.body);
    assert!(t.elapsed() < Duration::from_secs(5));

    // a form aimed at the console's own pages: refused, nothing rendered
    configure(&api, "hostile", "escape", &["log", "storage"]);
    let r = page(&api, "hostile");
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("bad action name"), "{}", r.body);
    assert!(!r.body.contains("plugin-settings/developer-mode\""));
    assert_eq!(
        api.post_form("/x/hostile/main/..%2F..%2Fadmin", &[]).status,
        404
    );

    // a memory bomb: stopped at its cap
    configure(&api, "hostile", "memory", &["log", "storage"]);
    let r = page(&api, "hostile");
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("memory limit"), "{}", r.body);

    // a trap: restarted
    configure(&api, "hostile", "trap", &["log", "storage"]);
    let r = page(&api, "hostile");
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("trapped"), "{}", r.body);
    eventually(10, || stats(&api, "hostile")["stats"]["state"] == "running");

    // calls without a grant: error values, audited, no access
    configure(&api, "hostile", "ungranted", &["log", "storage"]);
    let r = page(&api, "hostile");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("tags: Err(Error::Denied"), "{}", r.body);
    assert!(r.body.contains("clock: Err(Error::Denied"), "{}", r.body);
    assert!(r.body.contains("storage: Ok(())"), "granted: {}", r.body);
    let audit = api.get("/api/v1/audit?action=plugins.plugin.denied").body;
    assert!(audit.contains("tags.read"), "{audit}");
    assert!(audit.contains("clock"), "{audit}");

    // a log flood (within a generous time limit): capped, counted, the box unaffected
    let r = api.put_json(
        "/api/v1/plugins/hostile/settings",
        &json!({"settings": {"mode": "flood"}, "grants": ["log", "storage"], "deadline_ms": 10000}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = page(&api, "hostile");
    assert_eq!(r.status, 200, "{}", r.body);
    let log = api.get("/api/v1/plugins/hostile/log");
    let lines = log
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["host"] == false)
        .count();
    assert!(lines <= 1000, "{lines} of the plugin's lines kept");
    let dropped: u64 = log
        .header("x-dropped-lines")
        .unwrap_or("0")
        .parse()
        .unwrap();
    assert!(dropped > 90_000, "{dropped} lines dropped");

    // crashing at start: restarted with backoff, then switched off with an alarm
    configure(&api, "hostile", "crash", &["log", "storage"]);
    eventually(30, || {
        let p = stats(&api, "hostile");
        p["enabled"] == false
    });
    let faults = api.get("/api/v1/audit?action=plugins.plugin.fault").json();
    assert!(faults["entries"].as_array().unwrap().len() >= 3, "{faults}");
    let alarms = api.get("/api/v1/alarms").body;
    assert!(
        alarms.contains("hostile"),
        "an alarm says the plugin was switched off: {alarms}"
    );
    assert_eq!(page(&api, "hostile").status, 404);

    // the box served throughout
    assert_eq!(api.get("/healthz").status, 200);
    assert_eq!(api.get("/api/v1/tags").status, 200);
}

/// The admin API of a demo box switched to developer mode (unsigned packages install).
fn demo_dev_api(s: &Server) -> Client {
    let mut api = s.admin_api();
    api.lang = Some("en");
    let r = api.post_form("/admin/plugin-settings/developer-mode", &[("on", "true")]);
    assert_eq!(r.status, 303, "{}", r.body);
    api
}

#[test]
fn a_plugin_uses_every_capability_through_the_box() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::demo();
    let api = demo_dev_api(&s);
    let caps = [
        "log",
        "clock",
        "tags.read",
        "tags.history",
        "storage",
        "records.read",
        "actions",
        "events",
        "alarms",
        "mqtt",
    ];
    let pkg = pack(tmp.path(), "hostile", "1.0.0", &caps, None);
    let r = api.post_bytes(
        &format!("/api/v1/plugins?grants={}&enable=true", caps.join(",")),
        &pkg,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    configure(&api, "hostile", "all", &caps);
    // subscribed to every tag: the simulator's samples arrive in batches
    let samples = |b: &str| -> u64 {
        b.split("samples ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    eventually(20, || samples(&page(&api, "hostile").body) > 0);
    let b = page(&api, "hostile").body;
    assert!(b.contains("raised: Ok(())"), "{b}");
    assert!(b.contains("emitted: Ok(()), listened: Ok(())"), "{b}");
    assert!(b.contains("profile: Ok(1)"), "{b}");
    // (the first render acknowledged it; later ones find nothing left to acknowledge)
    assert!(
        b.contains("acked: Ok(&quot;{\\&quot;acknowledged\\&quot;:"),
        "{b}"
    );
    // northbound is off in the demo: said plainly
    assert!(
        b.contains("published: Err(Error::Failed(&quot;Northbound MQTT publishing is off."),
        "{b}"
    );
    assert!(b.contains("bad key: Err(Error::Invalid"), "{b}");
    // the plugin's alarm is in the box's alarm list, acknowledged by the plugin
    let alarms = api.get("/api/v1/alarms").body;
    assert!(alarms.contains("test alarm"), "{alarms}");
    let journal = api.get("/api/v1/alarms/journal?q=test%20alarm").body;
    assert!(
        journal.contains("plugin:hostile"),
        "acknowledged as the plugin: {journal}"
    );
}

/// The number after `prefix` in a page.
fn number_after(body: &str, prefix: &str) -> u64 {
    body.split(prefix)
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

fn faults(api: &Client) -> u64 {
    stats(api, "hostile")["stats"]["faults"]
        .as_u64()
        .unwrap_or(0)
}

/// The sandbox's findings, each fixed: the documented page limits are the enforced ones
/// (a page within them renders every time; a larger one is refused, never a fault); many
/// readers of a large page neither hold up the box nor swell it; a plugin's alarms stay
/// under the admin's ceiling and hourly limit and leave with the plugin; the log keeps the
/// box's lines through a flood and the panic message through switching off; the wall
/// clock needs the `clock` grant.
#[test]
fn the_sandbox_enforces_the_documented_limits_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, api) = dev_box(tmp.path(), &["log", "storage", "alarms", "clock"]);
    let running = |api: &Client| stats(api, "hostile")["stats"]["state"] == "running";

    // (d) 16 readers of a 4,000-row page: built a few at a time off the web workers
    configure(&api, "hostile", "rows4000", &["log", "storage"]);
    assert_eq!(page(&api, "hostile").status, 200);
    let (before, _) = s.rss_mib();
    let mut most = before;
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let base = s.url("");
            std::thread::spawn(move || {
                let c = common::Server::api_at(&base, BOOTSTRAP);
                (0..2)
                    .map(|_| c.get("/x/hostile/main").status)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    while !readers.iter().all(|h| h.is_finished()) {
        let t = Instant::now();
        assert_eq!(api.get("/api/v1/tags").status, 200);
        slowest = slowest.max(t.elapsed());
        most = most.max(s.rss_mib().0);
        std::thread::sleep(Duration::from_millis(20));
    }
    for h in readers {
        assert!(h.join().unwrap().iter().all(|s| *s == 200));
    }
    println!(
        "16 readers × 2 of a 4,000-row plugin page: slowest other API call {} ms, RSS {before:.0} → at most {most:.0} MiB",
        slowest.as_millis()
    );
    assert!(
        most - before < 80.0,
        "the box grew by {:.0} MiB",
        most - before
    );

    // (a) pages at the documented limits render, again and again (given the time: a
    // million cells take the plugin longer than the default 200 ms to build)
    let slow = |mode: &str| {
        let r = api.put_json(
            "/api/v1/plugins/hostile/settings",
            &json!({"settings": {"mode": mode}, "grants": ["log", "storage"], "deadline_ms": 5000}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    for (mode, last) in [("bigpage", "table 9"), ("emptycells", "table 25")] {
        slow(mode);
        for _ in 0..2 {
            let r = page(&api, "hostile");
            assert_eq!(
                r.status,
                200,
                "{mode}: {}",
                &r.body[..r.body.len().min(300)]
            );
            assert!(r.body.contains(last), "{mode}: every table shown");
        }
        assert_eq!(faults(&api), 0, "{mode}: no fault");
    }
    // over 4 MiB: refused with the reason; over what the box takes in one call: refused
    // before it is copied; neither is a fault, the plugin keeps running
    configure(&api, "hostile", "overpage", &["log", "storage"]);
    let r = page(&api, "hostile");
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("the page is too large"), "{}", r.body);
    slow("hugepage");
    for _ in 0..2 {
        let r = page(&api, "hostile");
        assert_eq!(r.status, 502, "{}", r.body);
        assert!(
            r.body.contains("the page is too large (over 40 MiB"),
            "{}",
            r.body
        );
    }
    assert_eq!(faults(&api), 0, "a refused page is not a fault");
    assert_eq!(stats(&api, "hostile")["enabled"], true);
    eventually(10, || running(&api));

    // (f) the wall clock is the `clock` capability, also through WASI
    configure(&api, "hostile", "clock", &["log", "storage"]);
    let r = page(&api, "hostile");
    assert!(
        r.body.contains("wall clock 0 s, monotonic ok true"),
        "{}",
        r.body
    );
    let log = api.get("/api/v1/plugins/hostile/log").body;
    assert!(log.contains("the wall clock reads 1970-01-01"), "{log}");
    configure(&api, "hostile", "clock", &["log", "storage", "clock"]);
    let secs = number_after(&page(&api, "hostile").body, "wall clock ");
    assert!(secs > 1_700_000_000 && secs < u64::MAX, "{secs}");

    // (e) 200 urgent alarms asked for: at most the hourly limit raised, at the ceiling,
    // each naming its plugin
    configure(&api, "hostile", "alarms", &["log", "storage", "alarms"]);
    let r = page(&api, "hostile");
    assert!(
        r.body.contains("raised 12, first refusal: Error::Quota"),
        "{}",
        r.body
    );
    let plugin_alarms = |api: &Client| -> Vec<Value> {
        api.get("/api/v1/alarms")
            .json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["plugin"] == "hostile")
            .cloned()
            .collect()
    };
    let raised = plugin_alarms(&api);
    assert_eq!(raised.len(), 12);
    assert!(raised.iter().all(|a| a["priority"] == "high"), "{raised:?}");
    assert!(
        raised[0]["source"]
            .as_str()
            .unwrap()
            .starts_with("plugin:hostile:k")
    );
    // the admin lowers both: standing alarms stay (at the new ceiling), no new one
    let r = api.put_json(
        "/api/v1/plugins/hostile/settings",
        &json!({"settings": {"mode": "alarms"}, "grants": ["log", "storage", "alarms"],
                "alarm_ceiling": "low", "alarms_per_hour": 0}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = page(&api, "hostile");
    assert!(
        r.body.contains("raised 12, first refusal: Error::Quota"),
        "{}",
        r.body
    );
    let raised = plugin_alarms(&api);
    assert!(raised.iter().all(|a| a["priority"] == "low"), "{raised:?}");
    for bad in [
        json!({"alarms_per_hour": 601}),
        json!({"alarm_ceiling": "extreme"}),
    ] {
        let mut body =
            json!({"settings": {"mode": "alarms"}, "grants": ["log", "storage", "alarms"]});
        body.as_object_mut()
            .unwrap()
            .extend(bad.as_object().unwrap().clone());
        let r = api.put_json("/api/v1/plugins/hostile/settings", &body);
        assert!(
            r.status == 422 || r.status == 400,
            "{bad}: {} {}",
            r.status,
            r.body
        );
    }
    let p = stats(&api, "hostile");
    assert_eq!(
        (p["alarm_ceiling"].as_str(), p["alarms_per_hour"].as_u64()),
        (Some("low"), Some(0))
    );

    // (b, c) a plugin that floods its log and panics: the box's fault lines survive the
    // flood, and the panic message survives switching off, in the log and the alarm
    configure(&api, "hostile", "floodtrap", &["log", "storage"]);
    eventually(40, || {
        page(&api, "hostile");
        stats(&api, "hostile")["enabled"] == false
    });
    let log = api.get("/api/v1/plugins/hostile/log");
    let lines = log.json();
    let lines = lines.as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["text"] == "noise 0"),
        "the plugin's lines are kept"
    );
    let faults_logged: Vec<&Value> = lines
        .iter()
        .filter(|l| l["host"] == true && l["text"].as_str().unwrap().starts_with("fault: "))
        .collect();
    assert!(faults_logged.len() >= 3, "{faults_logged:?}");
    assert!(
        faults_logged[0]["text"]
            .as_str()
            .unwrap()
            .contains("trapped: the reactor model diverged at step 7 (src/lib.rs:"),
        "{faults_logged:?}"
    );
    let p = stats(&api, "hostile");
    assert!(
        p["stats"]["last_fault"]
            .as_str()
            .unwrap()
            .contains("the reactor model diverged"),
        "{p}"
    );
    let alarms = api.get("/api/v1/alarms").json();
    let off = alarms
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source"] == "plugins:hostile:faulted")
        .cloned()
        .expect("an alarm says the plugin was switched off");
    let text = off["message_en"].as_str().unwrap();
    assert!(
        text.contains("the reactor model diverged at step 7"),
        "{text}"
    );
    assert!(!text.contains("backtrace"), "{text}");

    // (e) removal takes its alarms along (the journal keeps them)
    assert_eq!(api.delete("/api/v1/plugins/hostile").status, 204);
    let left = api.get("/api/v1/alarms").body;
    assert!(!left.contains("hostile"), "{left}");
    let journal = api.get("/api/v1/alarms/journal?q=plugin%20alarm").body;
    assert!(journal.contains("plugin hostile removed"), "{journal}");
}

/// Contract 0.2 beside 0.1: a plugin built for each runs on the same box (0.2 takes the
/// numbers in columns), and a component that does not fit the version its manifest names
/// is refused with the reason.
#[test]
fn plugins_built_for_either_contract_run_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::demo();
    let api = demo_dev_api(&s);
    let caps = [
        "log",
        "storage",
        "tags.read",
        "tags.history",
        "clock",
        "schedule",
        "records.inventory",
        "records.production",
        "records.equipment",
        "records.quality",
        "records.safety",
        "records.alarms",
        "actions.equipment",
        "files",
        "notify",
    ];
    // `schedule`, `files` and `notify` are 0.2's: a 0.1 manifest may not ask for them
    let caps_of = |wit: &str| -> Vec<&str> {
        caps.iter()
            .copied()
            .filter(|c| wit != "0.1" || !["schedule", "files", "notify"].contains(c))
            .collect()
    };
    let packed = |id: &str, component: Vec<u8>, wit: &str| {
        let m = plugin::manifest_for(id, "1.0.0", &caps_of(wit), wit);
        std::fs::read(plugin::pack_with_cli(
            tmp.path(),
            &format!("{id}-{wit}"),
            &m,
            &component,
            None,
        ))
        .unwrap()
    };
    let samples = |b: &str| number_after(b, "samples ");
    for (id, wit, pkg) in [
        (
            "columns",
            "0.2",
            packed("columns", plugin::component_v02("columns", "1.0.0"), "0.2"),
        ),
        (
            "records",
            "0.1",
            packed("records", plugin::component("records", "1.0.0"), "0.1"),
        ),
    ] {
        let grants = caps_of(wit);
        let r = api.post_bytes(
            &format!("/api/v1/plugins?grants={}&enable=true", grants.join(",")),
            &pkg,
        );
        assert_eq!(r.status, 201, "{id}: {}", r.body);
        configure(&api, id, "subscribe", &grants);
    }
    for id in ["columns", "records"] {
        eventually(20, || {
            let n = samples(&api.get(&format!("/x/{id}/main")).body);
            n > 0 && n < u64::MAX
        });
    }
    // 0.2's totals: a tag's figures per hour and per shift of plant time, computed by the
    // box; without the grant refused, a bad shift refused with the reason
    let totals = |grants: &[&str]| {
        let r = api.put_json(
            "/api/v1/plugins/columns/settings",
            &json!({"settings": {"mode": "totals", "label": "R101.TT101"}, "grants": grants}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        api.get("/x/columns/main").body
    };
    let b = totals(&["log", "storage", "tags.read", "clock"]);
    assert!(b.contains("hour: Error::Denied"), "{b}");
    let b = totals(&caps);
    assert!(b.contains("badshift: Error::Invalid"), "{b}");
    let hourly = number_after(&b, "hour: ");
    assert!((2..=3).contains(&hourly), "{b}");
    assert!(number_after(&b, "periods, ") > 0, "{b}");
    assert!(b.contains("sane true"), "{b}");
    assert!(
        b.contains("shift: 1 periods") || b.contains("shift: 2 periods"),
        "{b}"
    );

    // 0.2's scheduled jobs (every second here, in cron's seconds field): each runs with its
    // own time limit; one that overruns is stopped — not a fault — and suspended after three
    // runs in a row, while the plugin's other job keeps running; a bad cron expression is
    // refused naming the job; without the grant, refused
    let mode = |mode: &str, grants: &[&str]| configure(&api, "columns", mode, grants);
    let job = |name: &str| -> Value {
        stats(&api, "columns")["stats"]["jobs"]
            .as_array()
            .and_then(|j| j.iter().find(|j| j["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    let runs = || number_after(&api.get("/x/columns/main").body, "job runs ");
    mode("jobs", &caps);
    eventually(15, || runs() >= 2 && runs() < u64::MAX);
    assert_eq!(job("count")["last"], "ok", "{}", job("count"));
    assert!(job("count")["next_ms"].as_i64().unwrap() > 0);
    let console = api.get("/admin/plugins/columns");
    assert_eq!(console.status, 200, "{}", console.body);
    assert!(
        console.body.contains("Scheduled jobs")
            && console.body.contains("<code>* * * * * *</code>"),
        "{}",
        console.body
    );
    mode("jobs", &["log", "storage", "tags.read"]);
    eventually(10, || stats(&api, "columns")["stats"]["state"] == "failed");
    let why = stats(&api, "columns")["stats"]["detail"].to_string();
    assert!(why.contains("Denied") && why.contains("schedule"), "{why}");
    mode("slowjob", &caps);
    eventually(30, || job("spin")["suspended"] == true);
    let before = runs();
    eventually(10, || runs() > before);
    let p = stats(&api, "columns");
    assert_eq!(p["stats"]["faults"], 0, "an overrun is not a fault: {p}");
    assert_eq!(p["enabled"], true);
    let log = api.get("/api/v1/plugins/columns/log").body;
    assert!(
        log.contains("job spin stopped at its time limit of 100 ms"),
        "{log}"
    );
    assert!(log.contains("job spin suspended"), "{log}");
    mode("badjob", &caps);
    eventually(10, || stats(&api, "columns")["stats"]["state"] == "failed");
    let why = stats(&api, "columns")["stats"]["detail"].to_string();
    assert!(why.contains("job weekly: cron"), "{why}");
    // the version named and the component disagree (a version newer than the box's is
    // refused already by `nplusx plugin pack`, and on install: the manifest's unit tests)
    for (id, component, wit, says) in [
        (
            "wrong-a",
            plugin::component_v02("wrong-a", "1.0.0"),
            "0.1",
            "contract 0.1",
        ),
        (
            "wrong-b",
            plugin::component("wrong-b", "1.0.0"),
            "0.2",
            "contract 0.2",
        ),
    ] {
        let r = api.post_bytes("/api/v1/plugins?dry_run=true", &packed(id, component, wit));
        assert_eq!(r.status, 422, "{id}: {}", r.body);
        assert!(r.body.contains(says), "{id}: {}", r.body);
    }
    let listed = api.get("/api/v1/plugins").body;
    assert!(!listed.contains("wrong-"), "nothing installed: {listed}");

    // 0.2's module records: each collection behind its module's grant, in its documented
    // shape, by time window; a work order proposed through the equipment module's rules
    let records = |grants: &[&str]| {
        let r = api.put_json(
            "/api/v1/plugins/columns/settings",
            &json!({"settings": {"mode": "records", "label": "P101"}, "grants": grants}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        eventually(10, || stats(&api, "columns")["stats"]["state"] == "running");
        api.get("/x/columns/main").body
    };
    let b = records(&[
        "log",
        "storage",
        "clock",
        "records.equipment",
        "records.alarms",
    ]);
    let line = |b: &str, what: &str| -> String {
        b.split(&format!("{what}: "))
            .nth(1)
            .and_then(|r| r.split("</p>").next())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(
        line(&b, "collections"),
        "equipment.assets,equipment.work_orders,alarms.active,alarms.journal"
    );
    assert!(
        line(&b, "inventory.movements").starts_with("Error::Denied"),
        "{b}"
    );
    assert!(
        line(&b, "quality.samples").starts_with("Error::Denied"),
        "{b}"
    );
    assert!(line(&b, "locations").starts_with("Error::Denied"), "{b}");
    assert!(line(&b, "safety.permits").contains("records.safety"), "{b}");
    let assets = line(&b, "assets");
    assert!(
        assets.starts_with("1 rows ") && assets.contains("&quot;tag_no&quot;:&quot;P101&quot;"),
        "{assets}"
    );
    assert!(line(&b, "untimed window").contains("not timed"), "{b}");
    assert!(line(&b, "long window").contains("400 days"), "{b}");
    assert!(line(&b, "alarms.journal").contains(" rows "), "{b}");
    // no action granted: none listed, the proposal refused
    assert_eq!(line(&b, "actions"), "");
    assert!(line(&b, "proposed").contains("actions.equipment"), "{b}");
    let b = records(&caps);
    for c in [
        "inventory.movements",
        "production.batches",
        "equipment.work_orders",
        "quality.samples",
        "safety.permits",
    ] {
        let l = line(&b, c);
        let n: u64 = l.split(' ').next().unwrap_or("").parse().unwrap_or(0);
        assert!(n > 0 && l.contains(" rows {"), "{c}: {l}");
    }
    // a movement carries its material's category and its value at standard cost
    let mv = line(&b, "inventory.movements");
    assert!(
        mv.contains("&quot;value&quot;:") && mv.contains("&quot;category&quot;:&quot;"),
        "{mv}"
    );
    // the stores' locations, with their warehouse, for scanning and labels
    let locs = line(&b, "locations");
    assert!(
        locs.contains(" rows {") && locs.contains("&quot;warehouse&quot;:&quot;"),
        "{locs}"
    );
    assert_eq!(line(&b, "actions"), "equipment.propose-work-order");
    let proposed: Value =
        serde_json::from_str(&line(&b, "proposed").replace("&quot;", "\"")).unwrap();
    assert_eq!(proposed["new"], true, "{proposed}");
    assert_eq!(proposed["state"], "open");
    // proposed again while open: the same order
    let again: Value = serde_json::from_str(&line(&b, "again").replace("&quot;", "\"")).unwrap();
    assert_eq!(
        (again["id"].clone(), again["new"].clone()),
        (proposed["id"].clone(), json!(false))
    );
    // refused by the module's rules, with the rule's words
    assert!(line(&b, "unknown").starts_with("Error::NotFound"), "{b}");
    let untitled = line(&b, "untitled");
    assert!(
        untitled.starts_with("Error::Invalid") && untitled.contains("title"),
        "{untitled}"
    );
    // the equipment module has it, from the plugin, audited as the plugin
    let o = api.get(&format!("/api/v1/equipment/work-orders/{}", proposed["id"]));
    assert_eq!(o.status, 200, "{}", o.body);
    let o: Value = serde_json::from_str(&o.body).unwrap();
    assert_eq!(o["origin"]["kind"], "plugin", "{o}");
    assert_eq!(o["origin"]["plugin"], "columns");
    assert_eq!(o["priority"], "high");
    assert_eq!(o["created_by"], "plugin:columns", "{o}");
    let page = api
        .get(&format!("/equipment/work-orders/{}", proposed["id"]))
        .body;
    assert!(
        page.contains("Proposed by a plugin") && page.contains("energy:baseline"),
        "{page}"
    );

    // 0.2's files and notify: a scheduled job has the box write a workbook and sends it
    // through the plant's channels — the robots get its link, email the file itself
    let (ding, ding_got) = common::sinks::http(r#"{"errcode":0,"errmsg":"ok"}"#);
    let (wecom, wecom_got) = common::sinks::http(r#"{"errcode":0,"errmsg":"ok"}"#);
    let (smtp_port, mail) = common::sinks::smtp();
    for body in [
        json!({"id": 0, "name": "值班群", "min_priority": "urgent", "enabled": true,
            "target": {"kind": "dingtalk", "webhook": format!("{ding}/robot/send?access_token=t1"), "secret": "SECabc"}}),
        json!({"id": 0, "name": "厂长", "min_priority": "urgent", "enabled": true,
            "target": {"kind": "wecom", "webhook": format!("{wecom}/cgi-bin/webhook/send?key=k")}}),
        json!({"id": 0, "name": "ops mail", "min_priority": "urgent", "enabled": true,
            "target": {"kind": "email", "host": "127.0.0.1", "port": smtp_port, "security": "none",
                "from": "nplusx@plant.example", "to": ["manager@plant.example"]}}),
    ] {
        let r = api.post_json("/api/v1/alarms/channels", &body);
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = api.put_json(
        "/api/v1/plugins/columns/settings",
        &json!({"settings": {"mode": "report", "label": "值班群,厂长,ops mail"}, "grants": caps}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let reported = |got: &common::sinks::Requests| {
        got.all()
            .iter()
            .any(|(_, b)| b.contains("能源日报 Energy daily") && b.contains("/x/columns/files/"))
    };
    eventually(20, || {
        reported(&ding_got) && reported(&wecom_got) && mail.len() > 0
    });
    let b = api.get("/x/columns/main").body;
    for c in ["值班群", "厂长", "ops mail"] {
        assert_eq!(line(&b, &format!("sent {c}")), "ok", "{b}");
    }
    let sent = mail
        .all()
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d.contains("manager@plant.example"))
        .unwrap();
    assert!(
        sent.contains("Content-Disposition: attachment") && sent.contains("spreadsheetml"),
        "{sent}"
    );
    // the file, for those who may read the plugin's pages; CSV with formula-like text inert
    let file = line(&b, "file");
    assert!(file.starts_with("/x/columns/files/"), "{b}");
    let got = api.get(&file);
    assert_eq!(got.status, 200);
    assert!(got.bytes.starts_with(b"PK"), "an xlsx is a zip");
    let csv = api.get(&line(&b, "csv"));
    assert_eq!(csv.status, 200);
    let csv = String::from_utf8_lossy(&csv.bytes[3..]).into_owned();
    let row = csv.lines().nth(1).unwrap_or("");
    assert!(
        row.starts_with("20") && row.ends_with(",1234.5,'=cmd"),
        "{csv}"
    );
    assert_eq!(api.get("/x/columns/files/0000000000000").status, 404);
    assert_eq!(api.get(&file.replace("/columns/", "/records/")).status, 404);
    // bad input answered with the reason; nothing sent
    let channels = line(&b, "channels");
    assert!(
        channels.contains("值班群") && channels.contains("ops mail"),
        "{b}"
    );
    assert!(line(&b, "no channel").contains("NotFound"), "{b}");
    assert!(line(&b, "no title").contains("Invalid"), "{b}");
    assert!(line(&b, "no file").contains("NotFound"), "{b}");
    assert!(line(&b, "bad name").contains("Invalid"), "{b}");
    assert!(line(&b, "bad sheet").contains("Invalid"), "{b}");
    // without the grants: refused
    let r = api.put_json(
        "/api/v1/plugins/columns/settings",
        &json!({"settings": {"mode": "report", "label": "值班群"}, "grants": ["log", "storage", "schedule"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let b = api.get("/x/columns/main").body;
    assert!(line(&b, "channels").contains("notify"), "{b}");
    assert!(line(&b, "bad name").contains("Denied"), "{b}");

    // 0.2's boards: widgets on the plugin's grid; as a wall screen without the menu and
    // dark; arranged by posting places, which the plugin keeps; one off its grid refused
    mode("board", &["log", "storage"]);
    let b = api.get("/x/columns/main").body;
    assert!(
        b.contains("data-board")
            && b.contains(r#"data-widget="power""#)
            && b.contains("data-plugin-gauge"),
        "{b}"
    );
    assert!(
        b.contains("grid-column: 1 / span 4") && b.contains("data-refresh=\"5\""),
        "{b}"
    );
    assert!(
        b.contains("class=\"sidenav\"") && b.contains("?wall=1"),
        "{b}"
    );
    assert!(
        b.contains("data-arrange-start"),
        "the admin may arrange: {b}"
    );
    let wall = api.get("/x/columns/main?wall=1").body;
    assert!(
        wall.contains(r#"<html lang="en" class="dark wall">"#),
        "{wall}"
    );
    assert!(
        !wall.contains("class=\"sidenav\"") && wall.contains("data-fullscreen"),
        "{wall}"
    );
    let r = api.post_form(
        "/x/columns/main/arrange",
        &[
            ("power", "6,3,6,4"),
            ("permits", "0,0,6,3"),
            ("split", "0,3,6,4"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let b = api.get("/x/columns/main").body;
    assert!(
        b.contains("grid-column: 7 / span 6; grid-row: 4 / span 4"),
        "{b}"
    );
    // an action the page does not offer: not found, the plugin not asked
    let r = api.post_form("/x/columns/main/format-disk", &[]);
    assert_eq!(r.status, 404, "{}", r.body);
    mode("badboard", &["log", "storage"]);
    let r = api.get("/x/columns/main");
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("does not fit the grid"), "{}", r.body);
}

/// A contractor follows docs/plugins.md alone: the crate, the code and the manifest are the
/// guide's own blocks, built with the kit as the guide says, packed and signed with the
/// CLI, trusted and installed over the API, configured, and used — page, form and a refusal.
#[test]
fn a_contractor_builds_a_plugin_from_the_guide_with_the_kit() {
    let tmp = tempfile::tempdir().unwrap();
    let guide = std::fs::read_to_string(plugin::source_tree().join("docs/plugins.md")).unwrap();
    let files = plugin::files_in_guide(&guide);
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["Cargo.toml", "src/lib.rs", "nplusx-plugin.toml"]);
    // the guide's layout: the crate beside the nplusx source tree
    let krate = tmp.path().join("meter-today");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::os::unix::fs::symlink(plugin::source_tree(), tmp.path().join("nplusx")).unwrap();
    for (path, body) in &files {
        std::fs::write(krate.join(path), body).unwrap();
    }
    let component = plugin::build_contractor_crate(&krate, "meter_today");
    let manifest = std::fs::read_to_string(krate.join("nplusx-plugin.toml")).unwrap();
    let (key, public) = plugin::keygen(tmp.path(), "contractor");
    let pkg = plugin::pack_with_cli(
        tmp.path(),
        "meter-today-0.1.0",
        &manifest,
        &component,
        Some(&key),
    );
    let o = cli(&["plugin", "inspect", pkg.to_str().unwrap()]);
    assert!(
        o.status.success() && text(&o).contains("meter-today"),
        "{}",
        text(&o)
    );

    let s = Server::demo();
    let mut api = s.admin_api();
    api.lang = Some("en");
    let r = api.post_json(
        "/api/v1/plugin-keys",
        &json!({"public_key": public, "name": "Your company"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api.post_bytes(
        "/api/v1/plugins?grants=tags.read,tags.history,clock,storage&enable=true",
        &std::fs::read(&pkg).unwrap(),
    );
    // `tag` is required and has no default: installed, but it cannot start until set
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api.put_json(
        "/api/v1/plugins/meter-today/settings",
        &json!({"settings": {"tag": "R101.TT101"}, "grants": ["tags.read", "tags.history", "clock", "storage"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(20, || {
        stats(&api, "meter-today")["stats"]["state"] == "running"
    });
    let page = |api: &Client| api.get("/x/meter-today/main");
    eventually(20, || {
        let b = page(&api).body;
        b.contains("R101.TT101") && !b.contains("<span class=\"kpi-value\">—")
    });
    let b = page(&api).body;
    assert!(b.contains("Used today") && b.contains("Meter today"), "{b}");
    // the form: saved, shown; too long: refused beside the field, nothing kept
    let r = api.post_form(
        "/x/meter-today/main/note",
        &[("note", "checked by shift B")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(page(&api).body.contains("Note: checked by shift B"));
    let long = "x".repeat(201);
    let r = api.post_form("/x/meter-today/main/note", &[("note", long.as_str())]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("At most 200 characters."), "{}", r.body);
    // a required field left empty: the box refuses it before the plugin sees it (0.2)
    let r = api.post_form("/x/meter-today/main/note", &[("note", "")]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("Required."), "{}", r.body);
    assert!(page(&api).body.contains("Note: checked by shift B"));
}
