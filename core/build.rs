//! Embeds the web UI into the binary:
//! - minijinja templates from `web/templates/`;
//! - our own static files from `web/static/`;
//! - front-end packages from the npm registry as `web/package-lock.json` pins them, fetched
//!   without Node.js (tarball, integrity hash checked, unpacked into `OUT_DIR`, never into the
//!   source tree), of which the files listed in `VENDOR` are embedded under `/static/vendor/`.
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

    let node_modules = vendor_packages(&web, &out);

    let mut assets: Vec<(String, PathBuf)> = Vec::new();
    collect(&web.join("static"), &web.join("static"), &mut assets);
    for (src, name) in VENDOR {
        let p = node_modules.join(src);
        assert!(
            p.is_file(),
            "{} is missing: check VENDOR in core/build.rs against web/package.json",
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

/// Fetches the front-end packages that `VENDOR` takes files from, as the lock file pins them,
/// without Node.js: each package's tarball from the npm registry (the lock's `resolved`
/// address, or the registry's standard one for its name and version), checked against the
/// lock's `integrity` hash before anything is unpacked. Returns a directory laid out as
/// `node_modules` with only the files `VENDOR` names.
///
/// `NPLUSX_NODE_MODULES=<dir>` takes the files from an existing `node_modules` instead (after
/// `npm ci` in `web/`, or a copy carried into an air-gapped network); each package's version
/// there must be the lock's. `NPM_CONFIG_REGISTRY` (or `npm_config_registry`) names a mirror.
fn vendor_packages(web: &Path, out: &Path) -> PathBuf {
    println!("cargo:rerun-if-env-changed=NPLUSX_NODE_MODULES");
    println!("cargo:rerun-if-env-changed=NPM_CONFIG_REGISTRY");
    println!("cargo:rerun-if-env-changed=npm_config_registry");
    let lock_text = std::fs::read_to_string(web.join("package-lock.json"))
        .expect("web/package-lock.json exists");
    let lock: serde_json::Value = serde_json::from_str(&lock_text)
        .unwrap_or_else(|e| panic!("web/package-lock.json is not JSON: {e}"));
    // the packages VENDOR needs, each with the files wanted from it
    let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
    for (src, _) in VENDOR {
        let (pkg, file) = split_package(src);
        match wanted.iter_mut().find(|(p, _)| p == pkg) {
            Some((_, files)) => files.push(file.to_string()),
            None => wanted.push((pkg.to_string(), vec![file.to_string()])),
        }
    }
    if let Some(dir) = std::env::var_os("NPLUSX_NODE_MODULES") {
        let dir = PathBuf::from(dir);
        for (pkg, _) in &wanted {
            let entry = lock_entry(&lock, pkg);
            let have = std::fs::read_to_string(dir.join(pkg).join("package.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["version"].as_str().map(str::to_string));
            assert!(
                have.as_deref() == entry["version"].as_str(),
                "NPLUSX_NODE_MODULES={}: {pkg} is {} there, the lock pins {}",
                dir.display(),
                have.as_deref().unwrap_or("missing"),
                entry["version"]
            );
        }
        return dir;
    }
    let root = out.join("vendor");
    let registry = std::env::var("NPM_CONFIG_REGISTRY")
        .or_else(|_| std::env::var("npm_config_registry"))
        .unwrap_or_else(|_| "https://registry.npmjs.org/".into());
    for (pkg, files) in &wanted {
        let entry = lock_entry(&lock, pkg);
        let version = entry["version"]
            .as_str()
            .expect("a locked package has a version");
        let integrity = entry["integrity"]
            .as_str()
            .unwrap_or_else(|| panic!("web/package-lock.json: {pkg} has no integrity hash"));
        let dest = root.join(pkg);
        let stamp = dest.join(".integrity");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(integrity)
            && files.iter().all(|f| dest.join(f).is_file())
        {
            continue;
        }
        let url = match entry["resolved"].as_str() {
            Some(u) => u.to_string(),
            None => tarball_url(&registry, pkg, version),
        };
        let tgz = download(&url, pkg);
        verify_integrity(&tgz, integrity, pkg, &url);
        let _ = std::fs::remove_dir_all(&dest);
        unpack(&tgz, files, &dest, pkg);
        std::fs::write(&stamp, integrity).expect("OUT_DIR is writable");
    }
    root
}

/// `"echarts/dist/x.js"` → (`"echarts"`, `"dist/x.js"`); a scoped `"@a/b/c"` → (`"@a/b"`, `"c"`).
fn split_package(src: &str) -> (&str, &str) {
    let cut = if src.starts_with('@') {
        src.match_indices('/').nth(1).map(|(i, _)| i)
    } else {
        src.find('/')
    };
    let i = cut.unwrap_or_else(|| panic!("VENDOR entry {src} names no file"));
    (&src[..i], &src[i + 1..])
}

fn lock_entry<'a>(lock: &'a serde_json::Value, pkg: &str) -> &'a serde_json::Value {
    let e = &lock["packages"][format!("node_modules/{pkg}")];
    assert!(
        e.is_object(),
        "web/package-lock.json does not lock {pkg}: add it to web/package.json and run \
         `npm install --package-lock-only` in web/"
    );
    e
}

/// The registry's address of a package's tarball: `<registry>/<name>/-/<base>-<version>.tgz`.
fn tarball_url(registry: &str, pkg: &str, version: &str) -> String {
    let base = pkg.rsplit('/').next().expect("a name");
    format!(
        "{}/{pkg}/-/{base}-{version}.tgz",
        registry.trim_end_matches('/')
    )
}

fn download(url: &str, pkg: &str) -> Vec<u8> {
    let fail = |e: String| -> ! {
        panic!(
            "cannot fetch the web UI's package {pkg} from {url}: {e}. The build downloads the \
             front-end packages that web/package-lock.json pins; check the network, set \
             NPM_CONFIG_REGISTRY to a reachable mirror, or point NPLUSX_NODE_MODULES at a \
             node_modules directory holding them."
        )
    };
    // the system's trust store (a plant or office network may inspect TLS with its own CA);
    // Mozilla's roots where the system has none
    let roots: Vec<ureq::tls::Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    let mut tls = ureq::tls::TlsConfig::builder();
    if !roots.is_empty() {
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
    }
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .tls_config(tls.build())
            .build(),
    );
    let mut resp = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| fail(e.to_string()));
    resp.body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_vec()
        .unwrap_or_else(|e| fail(e.to_string()))
}

/// Checks a Subresource-Integrity string (`sha512-<base64>`, as npm writes it).
fn verify_integrity(bytes: &[u8], integrity: &str, pkg: &str, url: &str) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let ok = integrity
        .split_whitespace()
        .any(|one| match one.split_once('-') {
            Some(("sha512", b64)) => {
                base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes)) == b64
            }
            Some(("sha256", b64)) => {
                base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes)) == b64
            }
            _ => false,
        });
    assert!(
        ok,
        "{pkg} from {url} does not match web/package-lock.json's integrity hash {integrity}: \
         refusing to build with it"
    );
}

/// Unpacks the wanted files of an npm tarball (its entries sit under `package/`).
fn unpack(tgz: &[u8], files: &[String], dest: &Path, pkg: &str) {
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let mut found = Vec::new();
    for entry in ar.entries().expect("a gzip'd tarball") {
        let mut entry = entry.unwrap_or_else(|e| panic!("{pkg}'s tarball is damaged: {e}"));
        let path = entry
            .path()
            .expect("entry path")
            .to_string_lossy()
            .into_owned();
        let Some((_, rel)) = path.split_once('/') else {
            continue;
        };
        if let Some(f) = files.iter().find(|f| f.as_str() == rel) {
            let to = dest.join(f);
            std::fs::create_dir_all(to.parent().expect("a file has a folder"))
                .expect("OUT_DIR is writable");
            let mut w = std::fs::File::create(&to).expect("OUT_DIR is writable");
            std::io::copy(&mut entry, &mut w).expect("OUT_DIR is writable");
            found.push(f.clone());
        }
    }
    for f in files {
        assert!(
            found.contains(f),
            "{pkg}'s tarball has no {f}: check VENDOR in core/build.rs against web/package.json"
        );
    }
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
