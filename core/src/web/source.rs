//! Where the console's files come from: embedded in the binary (release builds, the
//! appliance), or read from a `web/` directory on disk while the server runs, so that
//! changing a word in a template, a catalogue or a stylesheet needs a browser reload and no
//! recompile.
//!
//! The directory is `--web-dir` / `NPLUSX_WEB_DIR` when given (it must hold `templates/`,
//! `static/` and `i18n/`); in debug builds it is the source tree's `web/` when that exists;
//! `NPLUSX_WEB_DIR=` (empty) keeps a debug build on the embedded files. Front-end packages
//! from npm (`/static/vendor/…`) are always the embedded ones.
//!
//! Readers ([`super::render::Ui`], [`super::assets`], [`crate::i18n`]) keep what they loaded
//! and look again when a [`Stamp`] of the files changes (checked at most every 250 ms).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::i18n::Msg;

static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Picks the web directory once, at start-up (`serve` and `demo`). `given` is the flag or
/// environment value; None means "not given", `Some("")` means "embedded".
pub fn init(given: Option<&Path>) -> Result<Option<&'static Path>, Msg> {
    let dir = match given {
        Some(p) if p.as_os_str().is_empty() => None,
        Some(p) => {
            let missing: Vec<&str> = ["templates", "static", "i18n"]
                .into_iter()
                .filter(|sub| !p.join(sub).is_dir())
                .collect();
            if !missing.is_empty() {
                return Err(Msg::new("config.invalid_key").arg("key", "web_dir").arg(
                    "detail",
                    format!("{}: no {}/", p.display(), missing.join("/, ")),
                ));
            }
            Some(p.to_path_buf())
        }
        None if cfg!(debug_assertions) => {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
            src.join("templates").is_dir().then_some(src)
        }
        None => None,
    };
    let _ = DIR.set(dir);
    Ok(dir_path())
}

/// The web directory files are read from, or None for the embedded ones (also before
/// [`init`], as in unit tests).
pub fn dir_path() -> Option<&'static Path> {
    DIR.get().and_then(|d| d.as_deref())
}

/// `(name relative to dir with '/', path)` of every file under `dir`, sorted by name.
pub fn files(dir: &Path) -> Vec<(String, PathBuf)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((name, p));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A fingerprint of the names, sizes and modification times of the files under a
/// directory: tells a reader when to load again.
pub struct Stamp {
    dir: PathBuf,
    last: u64,
    checked: Instant,
}

impl Stamp {
    pub fn new(dir: &Path) -> Stamp {
        Stamp {
            dir: dir.to_path_buf(),
            last: fingerprint(dir),
            checked: Instant::now(),
        }
    }

    /// True (once) when a file was changed, added or removed since the last true.
    pub fn changed(&mut self) -> bool {
        if self.checked.elapsed() < Duration::from_millis(250) {
            return false;
        }
        self.checked = Instant::now();
        let now = fingerprint(&self.dir);
        std::mem::replace(&mut self.last, now) != now
    }
}

fn fingerprint(dir: &Path) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for (name, path) in files(dir) {
        name.hash(&mut h);
        if let Ok(m) = std::fs::metadata(&path) {
            m.len().hash(&mut h);
            m.modified().ok().hash(&mut h);
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_sees_changed_added_and_removed_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/a.html"), "a").unwrap();
        let mut s = Stamp::new(d.path());
        s.checked -= Duration::from_secs(1);
        assert!(!s.changed());
        std::fs::write(d.path().join("sub/a.html"), "ab").unwrap();
        s.checked -= Duration::from_secs(1);
        assert!(s.changed());
        std::fs::write(d.path().join("b.css"), "b").unwrap();
        s.checked -= Duration::from_secs(1);
        assert!(s.changed());
        assert_eq!(
            files(d.path()).into_iter().map(|f| f.0).collect::<Vec<_>>(),
            ["b.css", "sub/a.html"]
        );
        std::fs::remove_file(d.path().join("b.css")).unwrap();
        s.checked -= Duration::from_secs(1);
        assert!(s.changed());
        assert!(!s.changed(), "checked again within 250 ms");
    }

    #[test]
    fn a_given_dir_must_hold_the_three_folders() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("templates")).unwrap();
        let e = init(Some(d.path())).unwrap_err();
        assert!(
            e.bilingual().contains("static/, i18n/"),
            "{}",
            e.bilingual()
        );
    }
}
