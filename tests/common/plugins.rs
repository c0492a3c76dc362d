//! Builds the test plugin (`tests/plugins/hostile`) for wasm32-wasip2, once per version and
//! id per test run, into `target/plugins` (its own target dir), and writes manifests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Components built so far, by (id, version).
type Built = HashMap<(String, String), Vec<u8>>;
static BUILT: Mutex<Option<Built>> = Mutex::new(None);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example plugin (`plugins/examples/tank-watch`): its manifest and component.
pub fn example() -> (String, Vec<u8>) {
    let root = root();
    let dir = root.join("plugins/examples/tank-watch");
    let target = root.join("target/plugins");
    build(&dir, &target, &[]);
    (
        std::fs::read_to_string(dir.join("nplusx-plugin.toml")).unwrap(),
        std::fs::read(target.join("wasm32-wasip2/release/tank_watch.wasm")).unwrap(),
    )
}

/// `cargo build --release --target wasm32-wasip2` of a plugin crate into `target`.
fn build(dir: &Path, target: &Path, env: &[(&str, &str)]) {
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .envs(env.iter().copied())
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "{} builds for wasm32-wasip2",
        dir.display()
    );
}

/// The component of the test plugin, answering `describe` with this id and version.
pub fn component(id: &str, version: &str) -> Vec<u8> {
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let cache = built.get_or_insert_with(HashMap::new);
    if let Some(b) = cache.get(&(id.to_string(), version.to_string())) {
        return b.clone();
    }
    let root = root();
    let target = root.join("target/plugins");
    build(
        &root.join("tests/plugins/hostile"),
        &target,
        &[("PLUGIN_VERSION", version), ("PLUGIN_ID", id)],
    );
    let bytes = std::fs::read(target.join("wasm32-wasip2/release/hostile.wasm")).unwrap();
    cache.insert((id.to_string(), version.to_string()), bytes.clone());
    bytes
}

/// A manifest for the test plugin.
pub fn manifest(id: &str, version: &str, caps: &[&str]) -> String {
    let mut m = format!(
        "id = \"{id}\"\nversion = \"{version}\"\nwit = \"0.1\"\nmodule = \"bi\"\n\
         name_zh = \"测试插件\"\nname_en = \"Test plugin\"\npublisher = \"Test contractor\"\n"
    );
    for c in caps {
        m.push_str(&format!(
            "\n[[capability]]\nid = \"{c}\"\nreason_zh = \"测试\"\nreason_en = \"testing\"\n"
        ));
    }
    m.push_str(
        "\n[[setting]]\nname = \"mode\"\nlabel_zh = \"模式\"\nlabel_en = \"Mode\"\nkind = \"choice\"\n\
         default = \"ok\"\nchoices = [\"ok\", \"loop\", \"memory\", \"trap\", \"ungranted\", \"flood\", \"crash\", \"refuse\", \"subscribe\", \"all\", \"sleep\", \"escape\"]\n",
    );
    m
}
