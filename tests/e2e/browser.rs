//! Browser story (tests/browser/console.spec.mjs): Playwright driving Debian's chromium
//! against the real server. Needs `/usr/bin/chromium` (`apt-get install chromium`; .ci/run
//! installs it) and Node.js; the npm packages are installed here on first run. Without
//! chromium the test is skipped with a notice, unless NPLUSX_REQUIRE_BROWSER=1 (set by CI).

use crate::common;
use crate::common::opcua as ua;
use crate::common::plugins as plugin;

use std::path::Path;
use std::process::Command;

#[test]
fn an_admin_signs_in_switches_language_and_toggles_a_module() {
    story("console.spec.mjs");
}

#[test]
fn an_operator_follows_live_alarms_acknowledges_and_shelves() {
    story("alarms.spec.mjs");
}

#[test]
fn an_engineer_connects_a_modbus_plc_and_writes_a_setpoint() {
    let plc = common::plc::TcpPlc::start();
    plc.memory.lock().unwrap().set_f32(100, 60.0);
    if story_with(
        "modbus.spec.mjs",
        &[("PLC_PORT", plc.addr.port().to_string())],
    ) {
        assert_eq!(
            plc.memory.lock().unwrap().f32_at(100),
            72.5,
            "the write reached the PLC"
        );
    }
}

#[test]
fn an_engineer_browses_an_opc_ua_server_and_adds_a_tag() {
    let server = ua::UaServer::start();
    story_with("opcua.spec.mjs", &[("UA_ENDPOINT", server.endpoint())]);
}

#[test]
fn an_admin_installs_the_example_plugin_and_uses_its_page() {
    // the contractor: a key, and the example packed and signed with it
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = plugin::keygen(tmp.path(), "contractor");
    let (manifest, component) = plugin::example();
    let pkg = plugin::pack_with_cli(tmp.path(), "tank-watch", &manifest, &component, Some(&key));
    // the plant: a fresh box (not the demo, which has the example built in)
    let data = tmp.path().join("data");
    let s = common::Server::start(
        &["serve", "--bootstrap-token", common::BOOTSTRAP],
        &data,
        None,
    );
    story_on(
        &s,
        "plugins.spec.mjs",
        &[("PKG", pkg.display().to_string()), ("PUBKEY", public)],
    );
}

#[test]
fn an_engineer_places_a_binding_and_an_operator_writes_a_setpoint_from_the_screen() {
    story("screens.spec.mjs");
}

#[test]
fn a_hot_work_permit_is_signed_through_its_chain_on_a_phone() {
    story("permit.spec.mjs");
}

/// Runs one Playwright story against a fresh demo server.
#[test]
fn a_keeper_receives_a_purchase_order_by_lot_and_issues_from_it_on_a_phone() {
    story("inventory.spec.mjs");
}

/// The lab enters a batch's results on a phone and sees the judgement; a concession frees
/// the lot.
#[test]
fn the_lab_enters_results_on_a_phone_and_sees_the_judgement() {
    story("quality.spec.mjs");
}

/// An operator scans a pump's QR label on a phone and reports a fault with a photo; the
/// technician issues a spare part and reports it done; the lead signs it off.
#[test]
fn a_fault_reported_from_a_qr_label_is_repaired_and_closed_on_phones() {
    story("equipment.spec.mjs");
}

fn story(spec: &str) {
    story_with(spec, &[]);
}

/// Runs a story with extra environment against a fresh demo server; false when skipped
/// (no chromium).
fn story_with(spec: &str, env: &[(&str, String)]) -> bool {
    if !chromium_ready() {
        return false;
    }
    story_on(&common::Server::demo(), spec, env)
}

/// Whether chromium is there (a failure if CI requires it).
fn chromium_ready() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let required = std::env::var("NPLUSX_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    if !Path::new(&chromium).exists() {
        assert!(
            !required,
            "NPLUSX_REQUIRE_BROWSER=1 but {chromium} is missing"
        );
        eprintln!("SKIPPED browser test: {chromium} not found (apt-get install chromium)");
        return false;
    }
    true
}

/// Runs a story against a running server; false when skipped (no chromium).
fn story_on(s: &common::Server, spec: &str, env: &[(&str, String)]) -> bool {
    if !chromium_ready() {
        return false;
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    npm_ci(&dir);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(spec)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(&dir)
        .env("BASE", &s.base)
        .env("PASSWORD", s.password())
        .env("TOKEN", common::BOOTSTRAP)
        .env("SHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser story {spec} failed:\n{log}");
    assert!(log.contains("browser story passed"), "{log}");
    true
}

/// Installs playwright-core once; two stories starting together wait for each other.
fn npm_ci(dir: &Path) {
    static ONCE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    if dir.join("node_modules/playwright-core").is_dir() {
        return;
    }
    let ok = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .expect("npm runs")
        .success();
    assert!(ok, "npm ci in tests/browser failed");
}

/// The boards plugin's 综合 board arranged and shown full-screen on a wall, the energy
/// page on a phone (tests/browser/boards.spec.mjs).
#[test]
fn a_manager_arranges_the_plant_board_for_the_wall_and_reads_energy_on_a_phone() {
    story("boards.spec.mjs");
}

/// The store keeper prints QR labels and puts a lot away on a phone by photographing them:
/// the box's barcode reader decodes each photo into its scan field.
#[test]
fn a_keeper_puts_a_lot_away_by_scanning_its_labels_with_a_phone() {
    story("warehouse.spec.mjs");
}

/// The safety manager watches the plant in the digital twin, opens a zone and from it the
/// reactor's record and a permit at work; the same view on a phone.
#[test]
fn the_safety_manager_drills_down_from_the_digital_twin() {
    story("twin.spec.mjs");
}

#[test]
fn a_camera_is_watched_live_in_the_browser() {
    story("video.spec.mjs");
}

/// The park board switched on from its form and following the box's own northbound
/// (tests/browser/park.spec.mjs).
#[test]
fn a_park_admin_follows_a_plant_on_the_park_board() {
    let Some(broker) = common::broker::Mosquitto::start() else {
        return;
    };
    story_with("park.spec.mjs", &[("BROKER_PORT", broker.port.to_string())]);
}
