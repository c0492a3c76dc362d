//! User-facing text: the zh-CN and en catalogues in `web/i18n/`, embedded at build time (or
//! read from disk while developing: `web::source`).
//!
//! A catalogue is TOML; nested tables flatten to dotted keys (`[auth] login = "…"` is
//! `auth.login`). Placeholders are `{name}`. Every string shown to a user (pages, API error
//! messages, CLI errors) goes through a key here; both catalogues hold the same keys (tested).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};

#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("zh") {
            Some(Lang::ZhCn)
        } else if s.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// Picks the first supported language of an `Accept-Language` header.
    pub fn from_accept_language(h: &str) -> Option<Lang> {
        let mut tags: Vec<(f32, &str)> = h
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        tags.sort_by(|a, b| b.0.total_cmp(&a.0));
        tags.into_iter().find_map(|(_, t)| Lang::parse(t))
    }
}

type Catalogue = HashMap<String, String>;

fn flatten(prefix: &str, t: &toml::Table, out: &mut Catalogue) -> Result<(), String> {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out)?,
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => return Err(format!("key {key} must be a string, found {other}")),
        }
    }
    Ok(())
}

fn load(src: &str, name: &str) -> Catalogue {
    // The catalogues are embedded and checked by tests; a broken one is a build defect.
    let t: toml::Table = toml::from_str(src).unwrap_or_else(|e| panic!("catalogue {name}: {e}"));
    let mut out = Catalogue::new();
    flatten("", &t, &mut out).unwrap_or_else(|e| panic!("catalogue {name}: {e}"));
    out
}

static ZH: LazyLock<Catalogue> =
    LazyLock::new(|| load(include_str!("../../web/i18n/zh-CN.toml"), "zh-CN"));
static EN: LazyLock<Catalogue> =
    LazyLock::new(|| load(include_str!("../../web/i18n/en.toml"), "en"));

fn catalogue(lang: Lang) -> &'static Catalogue {
    if let Some(dir) = crate::web::source::dir_path() {
        let live = LIVE.get_or_init(|| Mutex::new(Live::load(&dir.join("i18n"))));
        let mut live = live.lock().unwrap_or_else(PoisonError::into_inner);
        if live.stamp.changed() {
            live.reload();
        }
        return live.cats[lang as usize];
    }
    match lang {
        Lang::ZhCn => &ZH,
        Lang::En => &EN,
    }
}

/// The catalogues read from the web directory (`web::source`), read again when their files
/// change. A replaced catalogue is leaked, because `t` hands out `&'static str`; that
/// happens only when a developer edits a catalogue of a running server.
struct Live {
    dir: std::path::PathBuf,
    stamp: crate::web::source::Stamp,
    cats: [&'static Catalogue; 2],
}

static LIVE: OnceLock<Mutex<Live>> = OnceLock::new();

impl Live {
    fn load(dir: &std::path::Path) -> Live {
        let mut live = Live {
            dir: dir.to_path_buf(),
            stamp: crate::web::source::Stamp::new(dir),
            cats: [&ZH, &EN],
        };
        live.reload();
        live
    }

    /// Reads both files; one that cannot be read or parsed keeps what was loaded before.
    fn reload(&mut self) {
        for lang in Lang::ALL {
            let path = self.dir.join(format!("{}.toml", lang.code()));
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|src| toml::from_str::<toml::Table>(&src).map_err(|e| e.to_string()))
                .and_then(|t| {
                    let mut c = Catalogue::new();
                    flatten("", &t, &mut c).map(|()| c)
                });
            match parsed {
                Ok(c) => self.cats[lang as usize] = Box::leak(Box::new(c)),
                Err(e) => tracing::warn!(path = %path.display(), "catalogue not reloaded: {e}"),
            }
        }
    }
}

/// The text for `key`, or the key itself when missing (visible in the UI, caught by tests).
pub fn t(lang: Lang, key: &str) -> &str {
    catalogue(lang).get(key).map(String::as_str).unwrap_or(key)
}

/// The text for `key` with `{name}` placeholders filled from `args`.
pub fn tf(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let mut s = t(lang, key).to_string();
    for (name, value) in args {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

/// True when the key exists in every catalogue.
pub fn has(key: &str) -> bool {
    Lang::ALL.iter().all(|l| catalogue(*l).contains_key(key))
}

/// An argument of a message: plain text, a catalogue key rendered in the message's
/// language (module names, enterprise types, permission levels), or whole messages, each
/// rendered in that language and joined (the reasons a rule gives).
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Text(String),
    Key(String),
    Msgs(Vec<Msg>),
}

/// A message to show a user: a catalogue key and its arguments, rendered per language late.
#[derive(Clone, Debug, PartialEq)]
pub struct Msg {
    pub key: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

impl Msg {
    pub fn new(key: &'static str) -> Msg {
        Msg {
            key,
            args: Vec::new(),
        }
    }
    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Msg {
        self.args.push((name, Arg::Text(value.to_string())));
        self
    }
    /// An argument that is itself catalogue text, e.g. `module.safety.name`.
    pub fn arg_key(mut self, name: &'static str, key: impl Into<String>) -> Msg {
        self.args.push((name, Arg::Key(key.into())));
        self
    }
    /// An argument made of messages, rendered in the message's language and joined by
    /// the language's list separator.
    pub fn arg_msgs(mut self, name: &'static str, msgs: Vec<Msg>) -> Msg {
        self.args.push((name, Arg::Msgs(msgs)));
        self
    }
    pub fn render(&self, lang: Lang) -> String {
        let args: Vec<(&str, String)> = self
            .args
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Arg::Text(s) => s.clone(),
                    Arg::Key(key) => t(lang, key).to_string(),
                    Arg::Msgs(m) => m
                        .iter()
                        .map(|m| m.render(lang))
                        .collect::<Vec<_>>()
                        .join(if lang == Lang::En { "; " } else { "；" }),
                };
                (*k, v)
            })
            .collect();
        tf(lang, self.key, &args)
    }
    /// Both languages on one line, for the CLI and logs: `中文 / English`.
    pub fn bilingual(&self) -> String {
        format!("{} / {}", self.render(Lang::ZhCn), self.render(Lang::En))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_have_the_same_keys() {
        let zh: std::collections::BTreeSet<_> = ZH.keys().collect();
        let en: std::collections::BTreeSet<_> = EN.keys().collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(only_zh.is_empty(), "keys missing in en: {only_zh:?}");
        assert!(only_en.is_empty(), "keys missing in zh-CN: {only_en:?}");
    }

    #[test]
    fn placeholders_match_between_languages() {
        let re = |s: &str| {
            let mut v: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                .collect();
            v.sort();
            v
        };
        for (k, zh) in ZH.iter() {
            let en = &EN[k];
            assert_eq!(re(zh), re(en), "placeholders differ for {k}");
        }
    }

    /// Every `t("…")` in templates and every catalogue key in Rust code (message keys with
    /// an `.err.` / `.warn.` segment, `flash.*`, `Msg::new`, menu and permission labels) must
    /// exist, so no user ever sees a raw key.
    #[test]
    fn every_referenced_key_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        fn walk(dir: &std::path::Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, ext, out);
                } else if p.extension().is_some_and(|x| x == ext) {
                    out.push(p);
                }
            }
        }
        let is_key = |k: &str| {
            k.contains('.')
                && !k.ends_with('.')
                && k.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        };
        let mut missing = Vec::new();
        let mut templates = Vec::new();
        walk(&root.join("web/templates"), "html", &mut templates);
        for f in &templates {
            let text = std::fs::read_to_string(f).unwrap();
            let parts: Vec<&str> = text.split("t('").collect();
            for (i, part) in parts.iter().enumerate().skip(1) {
                // `asset('…')` is not `t('…')`; `t('a.b_' ~ x)` is built at render time
                let boundary =
                    !parts[i - 1].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                let key = part.split('\'').next().unwrap_or("");
                if boundary && is_key(key) && !key.ends_with('_') && !has(key) {
                    missing.push(format!("{}: {key}", f.display()));
                }
            }
        }
        let mut sources = Vec::new();
        walk(&root.join("core/src"), "rs", &mut sources);
        for f in &sources {
            let text = std::fs::read_to_string(f).unwrap();
            let parts: Vec<&str> = text.split('"').collect();
            for (i, lit) in parts.iter().enumerate() {
                let before = if i > 0 { parts[i - 1] } else { "" };
                let referenced = lit.contains(".err.")
                    || lit.contains(".warn.")
                    || lit.starts_with("flash.")
                    || before.ends_with("Msg::new(")
                    || before.ends_with("label_key: ")
                    || before.ends_with("description_key: ");
                if i % 2 == 1 && referenced && is_key(lit) && !has(lit) {
                    missing.push(format!("{}: {lit}", f.display()));
                }
            }
        }
        // every audited action has a label for the audit page
        for f in &sources {
            if f.ends_with("i18n.rs") {
                continue;
            }
            let text = std::fs::read_to_string(f).unwrap();
            // audit_saved("x.y", …) records x.y.create and x.y.update
            for call in text.split(".audit_saved(").skip(1) {
                let args = call.split(',').next().unwrap_or("");
                for (i, lit) in args.split('"').enumerate() {
                    for suffix in ["create", "update"] {
                        let key = format!("audit.act.{}_{suffix}", lit.replace('.', "_"));
                        if i % 2 == 1 && is_key(lit) && !has(&key) {
                            missing.push(format!("{}: {key}", f.display()));
                        }
                    }
                }
            }
            for call in text.split(".audit(").skip(1) {
                let args = call.split(',').next().unwrap_or("");
                for (i, lit) in args.split('"').enumerate() {
                    let key = format!("audit.act.{}", lit.replace('.', "_"));
                    let test_only = lit.starts_with("test.") || lit.starts_with("thing.");
                    if i % 2 == 1 && is_key(lit) && !test_only && !has(&key) {
                        missing.push(format!("{}: {key}", f.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "missing catalogue keys:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn accept_language_negotiation() {
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,zh;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("fr;q=1, zh-CN;q=0.5"),
            Some(Lang::ZhCn)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
    }
}
