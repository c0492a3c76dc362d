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

/// The files a guide gives as fenced blocks marked `file=<path>` (` ```toml file=Cargo.toml`),
/// by path, in order.
pub fn files_in_guide(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.strip_prefix("```").and_then(|info| {
            info.split_whitespace()
                .find_map(|w| w.strip_prefix("file="))
        }) else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        out.push((path.to_string(), body.join("\n") + "\n"));
    }
    out
}

/// Builds a contractor's plugin crate as the guide says (`cargo build --release --target
/// wasm32-wasip2`), into its own target dir under `target/`; returns the component.
pub fn build_contractor_crate(dir: &Path, wasm_name: &str) -> Vec<u8> {
    let target = root().join("target/plugins-contractor");
    build(dir, &target, &[]);
    std::fs::read(target.join(format!("wasm32-wasip2/release/{wasm_name}.wasm"))).unwrap()
}

/// The nplusx source tree (what a contractor has beside their crate).
pub fn source_tree() -> PathBuf {
    root().canonicalize().unwrap()
}

/// `cargo build --release --target wasm32-wasip2` of a plugin crate into `target`.
fn build(dir: &Path, target: &Path, env: &[(&str, &str)]) {
    build_with(dir, target, env, &[]);
}

fn build_with(dir: &Path, target: &Path, env: &[(&str, &str)], args: &[&str]) {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .args(args)
        .arg("--manifest-path")
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

/// The component of the test plugin built against contract 0.1, answering `describe`
/// with this id and version.
pub fn component(id: &str, version: &str) -> Vec<u8> {
    component_for(id, version, "0.1")
}

/// The same plugin built against contract 0.2 (`on-samples` takes numbers in columns).
pub fn component_v02(id: &str, version: &str) -> Vec<u8> {
    component_for(id, version, "0.2")
}

fn component_for(id: &str, version: &str, wit: &str) -> Vec<u8> {
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let cache = built.get_or_insert_with(HashMap::new);
    let key = (format!("{id}@{wit}"), version.to_string());
    if let Some(b) = cache.get(&key) {
        return b.clone();
    }
    let root = root();
    let (target, args): (_, &[&str]) = match wit {
        "0.1" => (root.join("target/plugins"), &[]),
        _ => (root.join("target/plugins-v02"), &["--features", "v02"]),
    };
    build_with(
        &root.join("tests/plugins/hostile"),
        &target,
        &[("PLUGIN_VERSION", version), ("PLUGIN_ID", id)],
        args,
    );
    let bytes = std::fs::read(target.join("wasm32-wasip2/release/hostile.wasm")).unwrap();
    cache.insert(key, bytes.clone());
    bytes
}

/// Runs the `nplusx` CLI; panics with its output if it fails.
fn nplusx(args: &[&str]) -> String {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_nplusx"))
        .args(args)
        .env_remove("NPLUSX_CONFIG")
        .env_remove("NPLUSX_DATA")
        .output()
        .expect("nplusx runs");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "nplusx {args:?}: {out}");
    out
}

/// `nplusx plugin keygen` into `dir/<name>.key`: the key file and the public key it printed.
pub fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(format!("{name}.key"));
    let out = nplusx(&["plugin", "keygen", "--out", key.to_str().unwrap()]);
    let public = out
        .lines()
        .find(|l| l.starts_with("ed25519:"))
        .expect("public key printed")
        .to_string();
    (key, public)
}

/// `nplusx plugin pack` of a manifest and a component into `dir/<name>.nxp` (signed with
/// `key` if given): the package's path.
pub fn pack_with_cli(
    dir: &Path,
    name: &str,
    manifest: &str,
    component: &[u8],
    key: Option<&Path>,
) -> PathBuf {
    let (m, c, out) = (
        dir.join(format!("{name}.toml")),
        dir.join(format!("{name}.wasm")),
        dir.join(format!("{name}.nxp")),
    );
    std::fs::write(&m, manifest).unwrap();
    std::fs::write(&c, component).unwrap();
    let _ = std::fs::remove_file(&out);
    let mut args = vec![
        "plugin",
        "pack",
        "--manifest",
        m.to_str().unwrap(),
        "--component",
        c.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    if let Some(k) = key {
        args.extend(["--key", k.to_str().unwrap()]);
    }
    nplusx(&args);
    out
}

/// A manifest for the test plugin built against contract 0.1.
pub fn manifest(id: &str, version: &str, caps: &[&str]) -> String {
    manifest_for(id, version, caps, "0.1")
}

/// A manifest for the test plugin built against contract `wit` (`0.1`, `0.2`).
pub fn manifest_for(id: &str, version: &str, caps: &[&str], wit: &str) -> String {
    let mut m = format!(
        "id = \"{id}\"\nversion = \"{version}\"\nwit = \"{wit}\"\nmodule = \"bi\"\n\
         name_zh = \"测试插件\"\nname_en = \"Test plugin\"\npublisher = \"Test contractor\"\n"
    );
    for c in caps {
        m.push_str(&format!(
            "\n[[capability]]\nid = \"{c}\"\nreason_zh = \"测试\"\nreason_en = \"testing\"\n"
        ));
    }
    m.push_str(
        "\n[[setting]]\nname = \"mode\"\nlabel_zh = \"模式\"\nlabel_en = \"Mode\"\nkind = \"choice\"\n\
         default = \"ok\"\nchoices = [\"ok\", \"loop\", \"memory\", \"trap\", \"ungranted\", \"flood\", \"crash\", \"refuse\", \"subscribe\", \"all\", \"sleep\", \"escape\", \"stock\", \"bigpage\", \"emptycells\", \"overpage\", \"hugepage\", \"rows4000\", \"alarms\", \"clock\", \"floodtrap\", \"totals\", \"jobs\", \"slowjob\", \"badjob\", \"records\", \"report\", \"board\", \"badboard\"]\n\
         \n[[setting]]\nname = \"label\"\nlabel_zh = \"标签\"\nlabel_en = \"Label\"\nkind = \"text\"\ndefault = \"\"\n\
         \n[[setting]]\nname = \"move\"\nlabel_zh = \"出入库\"\nlabel_en = \"Movement\"\nkind = \"text\"\ndefault = \"\"\n",
    );
    m
}
