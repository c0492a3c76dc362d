//! The plugin manifest (`nplusx-plugin.toml`): who the plugin is, which contract version it
//! was built against, the capabilities it asks for (with reasons the admin reads) and its
//! settings schema. Checked strictly: unknown keys and unknown capabilities are errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::i18n::Msg;

/// The contract version this host implements (`wit/`, `nplusx:plugin@0.3.0`); it runs
/// plugins built for 0.1 and 0.2 too (`wit/0.1/`, `wit/0.2/`).
pub const WIT_MAJOR: u32 = 0;
pub const WIT_MINOR: u32 = 3;

/// Every capability, and whether it is dangerous (operates the plant or changes other
/// modules' records: shown apart in the review, never granted by "grant all" on the CLI
/// without naming it).
pub const CAPABILITIES: &[(&str, bool)] = &[
    ("log", false),
    ("clock", false),
    ("tags.read", false),
    ("tags.history", false),
    ("tags.write", true),
    ("storage", false),
    ("records.read", false),
    ("records.safety", false),
    ("records.production", false),
    ("records.inventory", false),
    ("records.equipment", false),
    ("records.quality", false),
    ("records.alarms", false),
    // where named people are now: personal information (PIPL), reviewed apart (since 0.3)
    ("records.positions", true),
    ("actions", true),
    ("actions.inventory", true),
    ("actions.equipment", true),
    ("actions.alarms", true),
    ("events", false),
    ("alarms", false),
    ("mqtt", false),
    ("schedule", false),
    ("files", false),
    ("notify", false),
    // an outbound channel to another broker: a vendor reaches what the plugin answers
    ("link", true),
];

/// Capabilities whose imports only contract 0.2 has.
const SINCE_0_2: &[&str] = &["schedule", "files", "notify"];
/// Capabilities whose imports only contract 0.3 has.
const SINCE_0_3: &[&str] = &["link"];

pub fn is_dangerous(cap: &str) -> bool {
    CAPABILITIES.iter().any(|(c, d)| *c == cap && *d)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `[a-z][a-z0-9-]{1,31}`; the URL segment `/x/<id>`.
    pub id: String,
    /// Semantic version.
    pub version: String,
    /// `major.minor` of the WIT contract it was built against.
    pub wit: String,
    /// The guide's X module it implements (`energy`, `logistics`, `bi`…): its permissions
    /// guard the plugin's pages and its compliance row counts the plugin.
    pub module: String,
    pub name_zh: String,
    pub name_en: String,
    pub publisher: String,
    #[serde(default)]
    pub description_zh: String,
    #[serde(default)]
    pub description_en: String,
    /// Seconds between `tick` calls; 0: never.
    #[serde(default)]
    pub tick_seconds: u32,
    #[serde(default, rename = "capability")]
    pub capabilities: Vec<CapabilityRequest>,
    #[serde(default, rename = "setting")]
    pub settings: Vec<SettingDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityRequest {
    pub id: String,
    pub reason_zh: String,
    pub reason_en: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    Text,
    Number,
    Integer,
    Boolean,
    Choice,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingDef {
    pub name: String,
    pub label_zh: String,
    pub label_en: String,
    pub kind: SettingKind,
    #[serde(default)]
    pub default: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

fn bad(detail: impl std::fmt::Display) -> Error {
    Error::invalid_msg(
        "manifest",
        Msg::new("plugins.err.manifest").arg("detail", detail),
    )
}

/// `[a-z][a-z0-9-]{1,31}`.
pub fn valid_id(id: &str) -> bool {
    (2..=32).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `major.minor.patch` with numbers (pre-release and build parts allowed after `-` / `+`).
pub fn valid_version(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    v.len() <= 64
        && parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.chars().all(|c| c.is_ascii_digit()))
}

/// Orders two versions by their numbers (pre-release parts ignored).
pub fn version_key(v: &str) -> (u64, u64, u64) {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let mut it = core.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

impl Manifest {
    /// The minor version of the contract it was built against (checked on parsing).
    pub fn wit_minor(&self) -> u32 {
        self.wit
            .split_once('.')
            .and_then(|(_, m)| m.parse().ok())
            .unwrap_or(WIT_MINOR)
    }

    /// Parses and checks a manifest; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Manifest> {
        let m: Manifest = toml::from_str(text).map_err(|e| bad(e.message()))?;
        m.check()?;
        Ok(m)
    }

    pub fn check(&self) -> Result<()> {
        if !valid_id(&self.id) {
            return Err(bad(format!(
                "id {:?}: 2–32 of a-z, 0-9 and -, starting with a letter",
                self.id
            )));
        }
        if !valid_version(&self.version) {
            return Err(bad(format!(
                "version {:?} is not a semantic version (1.2.3)",
                self.version
            )));
        }
        let (major, minor) = self
            .wit
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
            .ok_or_else(|| bad(format!("wit {:?}: major.minor, e.g. \"0.1\"", self.wit)))?;
        if major != WIT_MAJOR || minor > WIT_MINOR || minor == 0 {
            return Err(Error::invalid_msg(
                "manifest",
                Msg::new("plugins.err.wit")
                    .arg("wanted", &self.wit)
                    .arg("have", format!("{WIT_MAJOR}.{WIT_MINOR}")),
            ));
        }
        let x_module = crate::registry::catalogue::GUIDE
            .iter()
            .any(|g| g.id == self.module && g.kind == crate::registry::Kind::X);
        if !x_module {
            let ids: Vec<&str> = crate::registry::catalogue::GUIDE
                .iter()
                .filter(|g| g.kind == crate::registry::Kind::X)
                .map(|g| g.id)
                .collect();
            return Err(bad(format!(
                "module {:?} is not one of the guide's X modules ({})",
                self.module,
                ids.join(", ")
            )));
        }
        for (name, v, max) in [
            ("name_zh", &self.name_zh, 64),
            ("name_en", &self.name_en, 64),
            ("publisher", &self.publisher, 100),
        ] {
            if v.trim().is_empty() || v.chars().count() > max {
                return Err(bad(format!("{name}: 1–{max} characters")));
            }
        }
        for (name, v) in [
            ("description_zh", &self.description_zh),
            ("description_en", &self.description_en),
        ] {
            if v.chars().count() > 500 {
                return Err(bad(format!("{name}: at most 500 characters")));
            }
        }
        if self.tick_seconds > 86_400 {
            return Err(bad("tick_seconds: at most 86400"));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.capabilities {
            if !CAPABILITIES.iter().any(|(k, _)| *k == c.id) {
                return Err(Error::invalid_msg(
                    "manifest",
                    Msg::new("plugins.err.capability").arg("cap", &c.id),
                ));
            }
            if !seen.insert(c.id.as_str()) {
                return Err(bad(format!("capability {} listed twice", c.id)));
            }
            if SINCE_0_2.contains(&c.id.as_str()) && minor < 2 {
                return Err(bad(format!(
                    "capability {} needs contract 0.2 or later (wit = \"{}\")",
                    c.id, self.wit
                )));
            }
            if SINCE_0_3.contains(&c.id.as_str()) && minor < 3 {
                return Err(bad(format!(
                    "capability {} needs contract 0.3 or later (wit = \"{}\")",
                    c.id, self.wit
                )));
            }
            if c.reason_zh.trim().is_empty() || c.reason_en.trim().is_empty() {
                return Err(bad(format!(
                    "capability {}: give the reason in both languages",
                    c.id
                )));
            }
        }
        let mut names = std::collections::HashSet::new();
        for s in &self.settings {
            let ok = (1..=32).contains(&s.name.len())
                && s.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok || !names.insert(s.name.as_str()) {
                return Err(bad(format!(
                    "setting {:?}: a unique name of a-z, 0-9 and _",
                    s.name
                )));
            }
            if s.kind == SettingKind::Choice && s.choices.is_empty() {
                return Err(bad(format!("setting {}: a choice needs choices", s.name)));
            }
            if !s.default.is_empty() {
                check_value(s, &s.default).map_err(|e| {
                    bad(format!("setting {}: default {:?}: {e}", s.name, s.default))
                })?;
            }
        }
        Ok(())
    }

    pub fn asks(&self, cap: &str) -> bool {
        self.capabilities.iter().any(|c| c.id == cap)
    }

    /// The settings as they start: each default.
    pub fn default_settings(&self) -> BTreeMap<String, String> {
        self.settings
            .iter()
            .map(|s| (s.name.clone(), s.default.clone()))
            .collect()
    }

    /// Checks the admin's settings against the schema; unknown names are refused.
    pub fn check_settings(
        &self,
        values: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        for k in values.keys() {
            if !self.settings.iter().any(|s| &s.name == k) {
                return Err(Error::invalid_msg(
                    "settings",
                    Msg::new("plugins.err.setting")
                        .arg("name", k)
                        .arg("detail", "unknown setting"),
                ));
            }
        }
        let mut out = BTreeMap::new();
        for s in &self.settings {
            let v = values
                .get(&s.name)
                .map(|v| v.trim().to_string())
                .unwrap_or_default();
            if v.is_empty() && s.required {
                return Err(Error::invalid_msg(
                    "settings",
                    Msg::new("plugins.err.setting")
                        .arg("name", &s.name)
                        .arg("detail", "required"),
                ));
            }
            if !v.is_empty() {
                check_value(s, &v).map_err(|e| {
                    Error::invalid_msg(
                        "settings",
                        Msg::new("plugins.err.setting")
                            .arg("name", &s.name)
                            .arg("detail", e),
                    )
                })?;
            }
            out.insert(s.name.clone(), v);
        }
        Ok(out)
    }
}

fn check_value(s: &SettingDef, v: &str) -> std::result::Result<(), String> {
    if v.chars().count() > 1000 {
        return Err("at most 1000 characters".into());
    }
    let num = |x: f64| -> std::result::Result<(), String> {
        if s.min.is_some_and(|m| x < m) || s.max.is_some_and(|m| x > m) {
            return Err(format!(
                "between {} and {}",
                s.min.map_or("−∞".into(), |m| m.to_string()),
                s.max.map_or("∞".into(), |m| m.to_string())
            ));
        }
        Ok(())
    };
    match s.kind {
        SettingKind::Text => Ok(()),
        SettingKind::Number => match v.parse::<f64>() {
            Ok(x) if x.is_finite() => num(x),
            _ => Err("a number".into()),
        },
        SettingKind::Integer => match v.parse::<i64>() {
            Ok(x) => num(x as f64),
            Err(_) => Err("a whole number".into()),
        },
        SettingKind::Boolean => match v {
            "true" | "false" => Ok(()),
            _ => Err("true or false".into()),
        },
        SettingKind::Choice => {
            if s.choices.iter().any(|c| c == v) {
                Ok(())
            } else {
                Err(format!("one of {}", s.choices.join(", ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
id = "tank-watch"
version = "0.1.0"
wit = "0.1"
module = "logistics"
name_zh = "储罐"
name_en = "Tanks"
publisher = "Example"
tick_seconds = 10
[[capability]]
id = "tags.read"
reason_zh = "读"
reason_en = "read"
[[setting]]
name = "high_pct"
label_zh = "高"
label_en = "High"
kind = "number"
default = "85"
min = 10
max = 100
"#;

    #[test]
    fn manifests_are_checked_strictly() {
        let m = Manifest::parse(OK).unwrap();
        assert_eq!(m.id, "tank-watch");
        assert!(m.asks("tags.read"));
        let e = |text: &str| {
            Manifest::parse(text)
                .unwrap_err()
                .msg()
                .render(crate::i18n::Lang::En)
        };
        assert!(e(&OK.replace("tags.read", "tags.everything")).contains("tags.everything"));
        assert!(e(&OK.replace("wit = \"0.1\"", "wit = \"1.0\"")).contains("1.0"));
        assert!(e(&OK.replace("wit = \"0.1\"", "wit = \"0.9\"")).contains("0.9"));
        assert!(e(&OK.replace("wit = \"0.1\"", "wit = \"0.0\"")).contains("0.0"));
        // a capability newer than the contract the plugin was built for
        let sched = OK.replace("id = \"tags.read\"", "id = \"schedule\"");
        assert!(e(&sched).contains("needs contract 0.2"));
        assert!(Manifest::parse(&sched.replace("wit = \"0.1\"", "wit = \"0.2\"")).is_ok());
        assert!(e(&OK.replace("logistics", "safety")).contains("X modules"));
        assert!(e(&OK.replace("0.1.0", "one")).contains("semantic"));
        assert!(e(&OK.replace("tank-watch", "Tank")).contains("id"));
        assert!(e(&format!("{OK}\nextra = 1")).contains("extra"));
        assert!(e(&OK.replace("default = \"85\"", "default = \"5\"")).contains("between"));
        // settings from the admin
        let mut v = BTreeMap::new();
        v.insert("high_pct".to_string(), "120".to_string());
        assert!(m.check_settings(&v).is_err());
        v.insert("high_pct".to_string(), "90".to_string());
        assert_eq!(m.check_settings(&v).unwrap()["high_pct"], "90");
        v.insert("other".to_string(), "1".to_string());
        assert!(m.check_settings(&v).is_err());
        assert!(version_key("1.10.0") > version_key("1.9.3"));
    }
}
