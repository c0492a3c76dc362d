//! Embeds the web UI into the binary:
//! - minijinja templates from `web/templates/`;
//! - our own static files from `web/static/`;
//! - front-end packages from the npm registry, installed with `npm ci` from
//!   `web/package.json` + `web/package-lock.json` into `OUT_DIR` (never into the source tree),
//!   of which the files listed in `VENDOR` are embedded under `/static/vendor/`.
//!
//! - the bundled plugins (`BUNDLED` below), built for `wasm32-wasip2` by a nested cargo in
//!   `target/plugins` (its own target dir: the outer build holds the main one's lock).
//!
//! Generates `$OUT_DIR/assets.rs`: a table of (path, bytes, content type, content hash), and
//! `$OUT_DIR/bundled_plugins.rs`: (manifest, component, demo only) of each bundled plugin.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/web/mime.rs"]
mod mime;
use mime::content_type;

/// Files taken from `node_modules` → name under `/static/vendor/`.
const VENDOR: &[(&str, &str)] = &[
    ("htmx.org/dist/htmx.min.js", "htmx.min.js"),
    ("echarts/dist/echarts.min.js", "echarts.min.js"),
    // the barcode reader of `scan` fields (ZXing-C++ as WebAssembly; the script is told to
    // load its .wasm from here, never from a CDN)
    ("zxing-wasm/dist/iife/reader/index.js", "zxing-reader.js"),
    (
        "zxing-wasm/dist/reader/zxing_reader.wasm",
        "zxing_reader.wasm",
    ),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let web = manifest.join("../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));

    minijinja_embed::embed_templates!("../web/templates", &[".html"][..]);

    let node_modules = npm_ci(&web, &out);

    let mut assets: Vec<(String, PathBuf)> = Vec::new();
    collect(&web.join("static"), &web.join("static"), &mut assets);
    for (src, name) in VENDOR {
        let p = node_modules.join(src);
        assert!(
            p.is_file(),
            "{} is missing after npm ci: check VENDOR in core/build.rs against web/package.json",
            p.display()
        );
        assets.push((format!("vendor/{name}"), p));
    }
    assets.sort();

    let mut code = String::from(
        "/// Embedded static files: (path under /static/, bytes, content type, content hash).\n\
         pub static ASSETS: &[(&str, &[u8], &str, &str)] = &[\n",
    );
    for (name, path) in &assets {
        let bytes = std::fs::read(path).expect("asset is readable");
        let mut h = std::hash::DefaultHasher::new();
        bytes.hash(&mut h);
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({path:?}), {ct:?}, \"{hash:016x}\"),\n",
            path = path.canonicalize().expect("asset path exists"),
            ct = content_type(name),
            hash = h.finish(),
        ));
    }
    code.push_str("];\n");
    std::fs::write(out.join("assets.rs"), code).expect("OUT_DIR is writable");

    bundle_plugins(&manifest, &out);

    println!("cargo:rerun-if-changed=../web/static");
    println!("cargo:rerun-if-changed=../web/package.json");
    println!("cargo:rerun-if-changed=../web/package-lock.json");
}

/// Runs `npm ci` in `OUT_DIR/npm` when the lock file changed since the last run.
fn npm_ci(web: &Path, out: &Path) -> PathBuf {
    let dir = out.join("npm");
    std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
    let lock = std::fs::read(web.join("package-lock.json")).expect("web/package-lock.json exists");
    let pkg = std::fs::read(web.join("package.json")).expect("web/package.json exists");
    let stamp = dir.join(".stamp");
    let mut h = std::hash::DefaultHasher::new();
    (&lock, &pkg).hash(&mut h);
    let want = format!("{:016x}", h.finish());
    let modules = dir.join("node_modules");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) && modules.is_dir() {
        return modules;
    }
    std::fs::write(dir.join("package.json"), &pkg).expect("OUT_DIR is writable");
    std::fs::write(dir.join("package-lock.json"), &lock).expect("OUT_DIR is writable");
    let status = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ])
        .current_dir(&dir)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`npm ci` for web/package.json failed ({s}). The build fetches the web UI's \
             front-end packages from the npm registry: check the network or registry settings."
        ),
        Err(e) => panic!(
            "cannot run npm ({e}). Building nplusx needs Node.js and npm to fetch the web UI's \
             front-end packages (web/package.json); on Debian: apt-get install nodejs npm"
        ),
    }
    std::fs::write(&stamp, want).expect("OUT_DIR is writable");
    modules
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            let rel = p
                .strip_prefix(root)
                .expect("inside root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, p));
        }
    }
}

/// Plugin crates (under `plugins/`) built into the binary, and whether only the demo plant
/// gets them (the example is for the demo; first-party X modules are offered on every box).
const BUNDLED: &[(&str, bool)] = &[
    ("examples/tank-watch", true),
    ("energy", false),
    ("boards", false),
    ("warehouse", false),
    ("remote", false),
    ("bi", false),
    ("twin", false),
];

/// Builds the bundled plugins for wasm32-wasip2 and writes the table that embeds them.
fn bundle_plugins(manifest: &Path, out: &Path) {
    let root = manifest.join("..");
    println!("cargo:rerun-if-changed=../wit");
    println!("cargo:rerun-if-changed=../plugins");
    ensure_wasm_target();
    let target_dir = root.join("target/plugins");
    let mut table = String::from("[\n");
    for (dir, demo_only) in BUNDLED {
        let crate_dir = root.join("plugins").join(dir);
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "--quiet",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(crate_dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            // the outer build's flags and wrappers (clippy's driver) are for the host crate,
            // not for the plugin
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("RUSTC_WRAPPER")
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo for plugin {dir}: {e}"));
        assert!(
            status.success(),
            "building plugin {dir} for wasm32-wasip2 failed"
        );
        let name = std::fs::read_to_string(crate_dir.join("Cargo.toml"))
            .expect("plugin Cargo.toml")
            .lines()
            .find_map(|l| {
                l.strip_prefix("name = ")
                    .map(|v| v.trim_matches('"').replace('-', "_"))
            })
            .expect("plugin crate has a name");
        let wasm = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{name}.wasm"));
        let manifest_file = crate_dir.join("nplusx-plugin.toml");
        table.push_str(&format!(
            "    (include_str!({:?}), include_bytes!({:?}) as &[u8], {demo_only}),\n",
            manifest_file.canonicalize().expect("plugin manifest"),
            wasm.canonicalize().expect("plugin component was built"),
        ));
    }
    table.push_str("]\n");
    std::fs::write(out.join("bundled_plugins.rs"), table).expect("OUT_DIR is writable");
}

/// `rustup target add wasm32-wasip2` when the target is missing (rustup does not add it by
/// itself on these machines).
fn ensure_wasm_target() {
    let sysroot = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if Path::new(&sysroot)
        .join("lib/rustlib/wasm32-wasip2")
        .is_dir()
    {
        return;
    }
    let ok = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the wasm32-wasip2 target is missing and `rustup target add wasm32-wasip2` failed; \
         plugins are built for it"
    );
}
