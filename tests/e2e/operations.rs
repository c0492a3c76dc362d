//! Operating the appliance: backup while serving and restore, audit verification, config
//! errors, CLI commands against a running server, HTTPS, graceful shutdown.

use crate::common;

use common::{BOOTSTRAP, Server, cli, text};
use serde_json::json;

#[test]
fn a_backup_taken_while_serving_restores_the_same_data() {
    let s = Server::demo();
    let api = s.admin_api();
    // keep writing while the backups are taken
    let writer = {
        let base = s.base.clone();
        std::thread::spawn(move || {
            let c = Server::api_at(&base, BOOTSTRAP);
            for i in 0..40 {
                let r = c.post_json(
                    "/api/v1/departments",
                    &json!({"name": format!("临时班组{i}"), "head": "测试"}),
                );
                assert_eq!(r.status, 201, "{}", r.body);
            }
        })
    };
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("online.nxb");
    let data = s.data.to_str().unwrap().to_string();
    // the CLI reaches the running server through its control socket
    let out = cli(&["backup", file.to_str().unwrap(), "--data", &data]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Backup written"));
    // and the API streams one too
    let dl = api.get("/api/v1/backup");
    assert_eq!(dl.status, 200);
    assert!(dl.header("content-disposition").unwrap().contains(".nxb"));
    writer.join().unwrap();
    let api_file = tmp.path().join("api.nxb");
    std::fs::write(&api_file, &dl.bytes).unwrap();

    // the final state, to compare with a backup taken now
    let last = tmp.path().join("last.nxb");
    let out = cli(&["backup", last.to_str().unwrap(), "--data", &data]);
    assert!(out.status.success(), "{}", text(&out));
    let users = api.get("/api/v1/users").json();
    let departments = api.get("/api/v1/departments").json();
    let certificates = api.get("/api/v1/safety/certificates").json();
    let profile = api.get("/api/v1/profile").json();

    for (f, exact) in [(&last, true), (&file, false), (&api_file, false)] {
        let target = tmp.path().join(format!(
            "restored-{}",
            f.file_stem().unwrap().to_str().unwrap()
        ));
        let out = cli(&[
            "restore",
            f.to_str().unwrap(),
            "--data",
            target.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let verify = cli(&["audit", "verify", "--data", target.to_str().unwrap()]);
        assert!(
            verify.status.success(),
            "restored chain verifies: {}",
            text(&verify)
        );
        let r = Server::start(&["serve", "--bootstrap-token", BOOTSTRAP], &target, None);
        let rapi = r.admin_api();
        // sessions are not restored, the bootstrap token is: it was in the backup
        assert_eq!(rapi.get("/api/v1/users").json(), users);
        assert_eq!(rapi.get("/api/v1/profile").json(), profile);
        assert_eq!(rapi.get("/api/v1/safety/certificates").json(), certificates);
        let deps = rapi.get("/api/v1/departments").json();
        if exact {
            assert_eq!(deps, departments);
        } else {
            // an online backup is a consistent prefix of the writes
            let n = deps.as_array().unwrap().len();
            let all = departments.as_array().unwrap();
            assert!(n <= all.len());
            assert_eq!(deps.as_array().unwrap()[..], all[..n]);
        }
        let login = r.browser().login("wang.haitao", &s.password());
        assert_eq!(login.status, 303, "demo passwords survive the restore");
    }
}

#[test]
fn audit_verify_finds_a_changed_byte() {
    let mut s = Server::demo();
    // a distinctive change, audited
    let r = s.admin_api().post_json(
        "/api/v1/departments",
        &json!({"name": "审计核查专用部门", "head": "AUDITMARKER"}),
    );
    assert_eq!(r.status, 201);
    let data = s.data.clone();
    let data_s = data.to_str().unwrap().to_string();
    // while serving, verify goes through the control socket
    let out = cli(&["audit", "verify", "--data", &data_s]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Audit chain intact"));
    assert!(s.stop().success());

    let out = cli(&["audit", "verify", "--data", &data_s]);
    assert!(out.status.success(), "{}", text(&out));

    // a copy of the store with one byte of that audit entry changed
    let copy = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(data.join("nplusx.redb")).unwrap();
    let needle = b"org.department.create";
    let mut hits = 0;
    let mut i = 0;
    while i + needle.len() <= bytes.len() {
        if &bytes[i..i + needle.len()] == needle {
            bytes[i + needle.len() - 1] = b'X';
            hits += 1;
        }
        i += 1;
    }
    assert!(hits > 0, "the audit entry is in the file");
    std::fs::write(copy.path().join("nplusx.redb"), &bytes).unwrap();
    let out = cli(&["audit", "verify", "--data", copy.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("altered"), "{msg}");
    assert!(msg.contains("审计链校验失败"), "{msg}");
    // the original is untouched and still verifies
    assert!(
        cli(&["audit", "verify", "--data", &data_s])
            .status
            .success()
    );
}

#[test]
fn a_malformed_config_is_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "[web]\nlisten = \"0.0.0.0:8443\"\nlistn = \"oops\"\n").unwrap();
    let out = cli(&["serve", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let msg = text(&out);
    assert!(msg.contains("listn"), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");
    assert!(msg.contains("配置文件"), "{msg}");

    std::fs::write(&cfg, "[session]\nidle_minutes = 0\n").unwrap();
    let out = cli(&[
        "serve",
        "--config",
        cfg.to_str().unwrap(),
        "--data",
        tmp.path().join("d").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("session.idle_minutes"),
        "{}",
        text(&out)
    );
    assert!(!tmp.path().join("d").exists(), "nothing was created");

    // flags are checked like the file
    let out = cli(&[
        "serve",
        "--listen",
        "localhost",
        "--data",
        tmp.path().join("d").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("web.listen"), "{}", text(&out));
}

#[test]
fn cli_commands_against_a_running_server_say_what_to_do_and_change_nothing() {
    let mut s = Server::demo();
    let data = s.data.to_str().unwrap().to_string();
    let out = cli(&[
        "user", "add", "sun.li", "--name", "孙丽", "--role", "viewer", "--data", &data,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let msg = text(&out);
    assert!(msg.contains("stop it first"), "{msg}");
    // a real backup restored over the live store is refused while the server runs
    let tmp = tempfile::tempdir().unwrap();
    let b = tmp.path().join("b.nxb");
    assert!(
        cli(&["backup", b.to_str().unwrap(), "--data", &data])
            .status
            .success()
    );
    let out = cli(&["restore", b.to_str().unwrap(), "--data", &data, "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("stop it first"), "{}", text(&out));
    let r = s
        .admin_api()
        .post_json("/api/v1/departments", &json!({"name": "恢复后仍在"}));
    assert_eq!(r.status, 201, "the server still writes to its own store");
    assert!(
        s.admin_api()
            .get("/api/v1/users")
            .body
            .find("sun.li")
            .is_none()
    );
    // a second server on the same data dir is refused
    let out = cli(&[
        "serve",
        "--data",
        &data,
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "off",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("in use by another nplusx process"),
        "{}",
        text(&out)
    );

    // once stopped, the offline commands work
    assert!(s.stop().success());
    let out = cli(&[
        "backup",
        tmp.path().join("after.nxb").to_str().unwrap(),
        "--data",
        &data,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(&[
        "user", "add", "sun.li", "--name", "孙丽", "--role", "viewer", "--data", &data,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("shown once"));
    let out = cli(&["user", "list", "--data", &data]);
    assert!(text(&out).contains("sun.li"));
    let out = cli(&[
        "token",
        "create",
        "erp",
        "--grant",
        "safety:read",
        "--data",
        &data,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(&[
        "token",
        "create",
        "erp2",
        "--grant",
        "safety:sometimes",
        "--data",
        &data,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("safety:sometimes"));
}

#[test]
fn broken_backups_change_nothing() {
    let s = Server::demo();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("b.nxb");
    let data = s.data.to_str().unwrap().to_string();
    assert!(
        cli(&["backup", file.to_str().unwrap(), "--data", &data])
            .status
            .success()
    );
    let bytes = std::fs::read(&file).unwrap();
    let cut = tmp.path().join("cut.nxb");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let target = tmp.path().join("target");
    let out = cli(&[
        "restore",
        cut.to_str().unwrap(),
        "--data",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("truncated or damaged"),
        "{}",
        text(&out)
    );
    assert!(!target.join("nplusx.redb").exists());
    let junk = tmp.path().join("junk.nxb");
    std::fs::write(&junk, "SQLite format 3\0").unwrap();
    let out = cli(&[
        "restore",
        junk.to_str().unwrap(),
        "--data",
        target.to_str().unwrap(),
    ]);
    assert!(
        text(&out).contains("not an nplusx backup"),
        "{}",
        text(&out)
    );
    // restoring over a live store needs --force
    let out = cli(&["restore", file.to_str().unwrap(), "--data", &data]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn https_with_a_self_signed_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut child = std::process::Command::new(common::bin())
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--tls",
            "self-signed",
            "--data",
        ])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("nplusx listening on ")
        .unwrap()
        .to_string();
    assert!(base.starts_with("https://"), "{base}");
    let fp_line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("SHA-256"))
        .unwrap();
    assert!(fp_line.contains(':'));
    assert!(data.join("tls/cert.pem").is_file());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[
                    ureq::tls::Certificate::from_pem(
                        &std::fs::read(data.join("tls/cert.pem")).unwrap(),
                    )
                    .unwrap(),
                ]))
                .build(),
        )
        .build()
        .into();
    let url = base.replace("127.0.0.1", "localhost");
    let mut r = agent.get(format!("{url}/login")).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.body_mut().read_to_string().unwrap();
    assert!(body.contains("csrf"));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}

#[test]
fn sigterm_under_load_loses_no_acknowledged_write() {
    let mut s = Server::demo();
    let base = s.base.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let writer = std::thread::spawn(move || {
        let c = Server::api_at(&base, BOOTSTRAP);
        let mut acked = 0u64;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                c.post_json(
                    "/api/v1/departments",
                    &json!({"name": format!("负载班组{acked}")}),
                )
            }));
            match r {
                Ok(r) if r.status == 201 => acked += 1,
                _ => break,
            }
        }
        acked
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = s.stop();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = writer.join().unwrap();
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
    assert!(acked > 5, "writes were under way ({acked})");

    let data = s.data.to_str().unwrap().to_string();
    let out = cli(&["audit", "verify", "--data", &data]);
    assert!(out.status.success(), "{}", text(&out));
    let again = Server::start(&["serve"], &s.data, None);
    let deps = again.admin_api().get("/api/v1/departments").json();
    let stored = deps
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"].as_str().unwrap().starts_with("负载班组"))
        .count() as u64;
    assert!(
        stored == acked || stored == acked + 1,
        "acked {acked}, stored {stored}"
    );
}

#[test]
fn a_busy_port_seeds_nothing_so_no_password_is_lost() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let out = std::process::Command::new(common::bin())
        .args([
            "demo",
            "--tls",
            "off",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("Cannot listen"), "{}", text(&out));
    drop(busy);
    // the next start is still a first start: it seeds and prints the passwords
    let s = Server::start(&["demo"], &data, None);
    assert!(!s.password().is_empty());
}

/// Unpacks a store kept in tests/fixtures (made by the migration code of its schema: see
/// `store::migrate::tests::upgrade_fixtures`) as the data dir `data`.
fn fixture_store(name: &str, data: &std::path::Path) -> Vec<u8> {
    use std::io::Read;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("fixture"))
        .read_to_end(&mut raw)
        .unwrap();
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(data.join("nplusx.redb"), &raw).unwrap();
    raw
}

#[test]
fn an_older_store_is_copied_then_upgraded_and_a_newer_one_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    // a plant's store as schema 2 left it: two Modbus devices, one with that time's fixed
    // gap of 32 (schema 3 makes it bridge automatically), one set to 8 by hand
    let data = tmp.path().join("data");
    fixture_store("store-schema-2.redb.gz", &data);
    let mut s = Server::start(&["serve"], &data, None);
    let admin = s.browser();
    let r = admin.login("admin", "Upgrade-fixture-2");
    assert_eq!(r.status, 303, "the old store's admin signs in: {}", r.body);
    let devices = admin.get("/api/v1/devices").json();
    let gap = |name: &str| {
        devices
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{name} kept: {devices}"))["config"]["max_gap"]
            .clone()
    };
    assert_eq!(gap("PLC-1"), serde_json::Value::Null, "{devices}");
    assert_eq!(gap("RTU-1"), json!(8), "{devices}");
    // the copy made before the upgrade, beside the store
    let copies = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(data.join("pre-upgrade"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let before = copies();
    assert_eq!(before.len(), 1, "{before:?}");
    let name = before[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("schema-2-") && name.ends_with(".nplusx-backup"),
        "{name}"
    );
    // a second start has nothing to migrate and copies nothing
    assert!(s.stop().success());
    let mut s = Server::start(&["serve"], &data, None);
    assert_eq!(copies(), before);
    assert!(s.stop().success());
    let out = cli(&["audit", "verify", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // the copy is a whole backup: restored on its own, it holds the plant again
    let again = tmp.path().join("restored");
    let out = cli(&[
        "restore",
        before[0].to_str().unwrap(),
        "--data",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let mut s = Server::start(&["serve"], &again, None);
    let admin = s.browser();
    assert_eq!(admin.login("admin", "Upgrade-fixture-2").status, 303);
    assert_eq!(
        admin
            .get("/api/v1/devices")
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(s.stop().success());

    // this binary onto a store from a version far ahead: refused, not a byte changed
    let newer = tmp.path().join("newer");
    let raw = fixture_store("store-schema-future.redb.gz", &newer);
    let out = cli(&[
        "serve",
        "--data",
        newer.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "off",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = text(&out);
    assert!(
        msg.contains("written by a newer nplusx (schema 100)")
            && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert!(msg.contains("不允许用旧版本打开新版本的数据"), "{msg}");
    assert!(
        std::fs::read(newer.join("nplusx.redb")).unwrap() == raw,
        "the newer store was written to"
    );
    assert!(!newer.join("pre-upgrade").exists());
}
