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
    // a package of the same plugin from another (trusted) publisher: refused
    let (other_key, other_public) = plugin::keygen(tmp.path(), "other");
    api.post_form(
        "/admin/plugin-keys",
        &[
            ("public_key", other_public.as_str()),
            ("name", "Other contractor"),
        ],
    );
    let hijack = pack(tmp.path(), "hostile", "1.2.0", &caps, Some(&other_key));
    let r = api.post_bytes("/api/v1/plugins", &hijack);
    assert_eq!(r.code(), "plugins.publisher_changed", "{}", r.body);
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

#[test]
fn hostile_plugins_are_stopped_audited_and_the_box_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = serve(&data);
    let mut api = s.admin_api();
    api.lang = Some("en");
    // developer mode: unsigned packages install, and every page says so
    let r = api.post_form("/admin/plugin-settings/developer-mode", &[("on", "true")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let pkg = pack(
        tmp.path(),
        "hostile",
        "1.0.0",
        &["log", "storage", "tags.read", "events", "clock"],
        None,
    );
    let r = api.post_bytes("/api/v1/plugins?grants=log,storage&enable=true", &pkg);
    assert_eq!(r.status, 201, "{}", r.body);
    eventually(10, || stats(&api, "hostile")["stats"]["state"] == "running");
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
    let lines = log.json().as_array().unwrap().len();
    assert!(lines <= 1000, "{lines} lines kept");
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

#[test]
fn a_plugin_uses_every_capability_through_the_box() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::demo();
    let mut api = s.admin_api();
    api.lang = Some("en");
    api.post_form("/admin/plugin-settings/developer-mode", &[("on", "true")]);
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
