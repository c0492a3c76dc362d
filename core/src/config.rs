//! The appliance configuration: a TOML file (see `packaging/nplusx.toml`), overridden by
//! command-line flags and `NPLUSX_*` environment variables (clap reads both), in that order.
//!
//! Unknown keys are errors, and every error names the key, so a typo never silently falls
//! back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::i18n::Msg;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// A certificate generated on first start and kept in `<data>/tls/`.
    SelfSigned,
    /// The plant's own PEM files (`web.cert`, `web.key`).
    Files,
    /// Plain HTTP. Only for loopback or behind a TLS-terminating proxy.
    Off,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the store, certificates and plugin caches live.
    pub data_dir: PathBuf,
    pub web: Web,
    pub session: Session,
    pub login: Login,
    pub plant: Plant,
    pub log: Log,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    pub listen: String,
    pub tls: TlsMode,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Upload size limit for forms and files, in MiB.
    pub max_upload_mib: u64,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed (login throttling
    /// and the audit log then see the real client).
    pub trusted_proxies: Vec<String>,
    /// The address people reach the box at (`https://10.1.2.3:8443`), for links in
    /// messages sent out of the box (a report's download link in a DingTalk message).
    /// Empty: messages give the path on the box only.
    pub public_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Session {
    /// A session ends after this long without a request.
    pub idle_minutes: u64,
    /// A session ends this long after login, however active.
    pub max_hours: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Login {
    /// Failures (per account and per client address) before each further attempt must wait.
    pub slow_after: u32,
    /// Failures before the account or address is locked for `lock_minutes`.
    pub lock_after: u32,
    pub lock_minutes: u64,
    /// Failures older than this are forgotten.
    pub window_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Plant {
    /// UTC offset used to show and enter times, e.g. "+08:00" (China Standard Time).
    pub utc_offset: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A tracing filter, e.g. "info" or "info,nplusx::web=debug".
    pub level: String,
    /// "text" for people, "json" for log collectors.
    pub format: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("/var/lib/nplusx"),
            web: Web::default(),
            session: Session::default(),
            login: Login::default(),
            plant: Plant::default(),
            log: Log::default(),
        }
    }
}

impl Default for Web {
    fn default() -> Self {
        Web {
            listen: "0.0.0.0:8443".into(),
            tls: TlsMode::SelfSigned,
            cert: None,
            key: None,
            max_upload_mib: 20,
            trusted_proxies: Vec::new(),
            public_url: String::new(),
        }
    }
}

impl Default for Session {
    fn default() -> Self {
        Session {
            idle_minutes: 8 * 60,
            max_hours: 12,
        }
    }
}

impl Default for Login {
    fn default() -> Self {
        Login {
            slow_after: 3,
            lock_after: 10,
            lock_minutes: 15,
            window_minutes: 15,
        }
    }
}

impl Default for Plant {
    fn default() -> Self {
        Plant {
            utc_offset: "+08:00".into(),
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// A configuration problem, shown to the admin in both languages.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.bilingual())]
pub struct ConfigError(pub Msg);

fn bad(key: &str, detail: impl ToString) -> ConfigError {
    ConfigError(
        Msg::new("config.invalid_key")
            .arg("key", key)
            .arg("detail", detail.to_string()),
    )
}

impl Config {
    /// Reads and checks a config file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(
                Msg::new("config.unreadable")
                    .arg("path", path.display())
                    .arg("detail", e),
            )
        })?;
        Config::from_toml(&text).map_err(|e| match e {
            ConfigError(m) if m.key == "config.parse" => ConfigError(m.arg("path", path.display())),
            other => other,
        })
    }

    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let key = key_of(&e, text);
            ConfigError(
                Msg::new("config.parse")
                    .arg("key", key)
                    .arg("detail", e.to_string().trim_end()),
            )
        })?;
        Ok(cfg)
    }

    /// Checks values that TOML types cannot express. Call after applying overrides.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.utc_offset()?;
        if self.web.tls == TlsMode::Files {
            for (key, p) in [("web.cert", &self.web.cert), ("web.key", &self.web.key)] {
                match p {
                    None => return Err(bad(key, "required when web.tls = \"files\"")),
                    Some(p) if !p.is_file() => {
                        return Err(bad(key, format!("{} is not a file", p.display())));
                    }
                    _ => {}
                }
            }
        }
        let positive = [
            ("session.idle_minutes", self.session.idle_minutes),
            ("session.max_hours", self.session.max_hours),
            ("login.lock_minutes", self.login.lock_minutes),
            ("login.window_minutes", self.login.window_minutes),
            ("web.max_upload_mib", self.web.max_upload_mib),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(bad(key, "must be greater than 0"));
            }
        }
        if self.login.lock_after == 0 || self.login.slow_after > self.login.lock_after {
            return Err(bad(
                "login.lock_after",
                "must be greater than 0 and at least login.slow_after",
            ));
        }
        for p in &self.web.trusted_proxies {
            if p.parse::<std::net::IpAddr>().is_err() {
                return Err(bad(
                    "web.trusted_proxies",
                    format!("\"{p}\" is not an IP address"),
                ));
            }
        }
        let url = self.web.public_url.trim();
        if !url.is_empty()
            && (!(url.starts_with("https://") || url.starts_with("http://"))
                || url.contains(char::is_whitespace))
        {
            return Err(bad(
                "web.public_url",
                format!("\"{url}\" is not an http:// or https:// address"),
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(bad("log.format", "must be \"text\" or \"json\""));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| bad("log.level", e))?;
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.web.listen.parse().map_err(|_| {
            bad(
                "web.listen",
                format!(
                    "\"{}\" is not an address like 0.0.0.0:8443",
                    self.web.listen
                ),
            )
        })
    }

    pub fn utc_offset(&self) -> Result<time::UtcOffset, ConfigError> {
        let f = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
        time::UtcOffset::parse(&self.plant.utc_offset, &f).map_err(|_| {
            bad(
                "plant.utc_offset",
                format!("\"{}\" is not an offset like +08:00", self.plant.utc_offset),
            )
        })
    }
}

/// The dotted key a TOML error points at (`web.listen`), so the message can lead with it:
/// the error's span gives the line; the key is left of its `=`, the table is the nearest
/// `[header]` above. Unknown keys are named by the message itself.
fn key_of(e: &toml::de::Error, text: &str) -> String {
    let Some(span) = e.span() else {
        return "?".into();
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[start..]
        .find('\n')
        .map(|i| start + i)
        .unwrap_or(text.len());
    let line = &text[line_start..line_end];
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(['[', ']']).trim().to_string());
    let unknown = e
        .message()
        .strip_prefix("unknown field `")
        .and_then(|r| r.split_once('`'))
        .map(|(name, _)| name.to_string());
    let key = unknown.or_else(|| {
        line.split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string())
            .filter(|k| !k.is_empty() && !k.starts_with('['))
    });
    match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (None, Some(k)) => k,
        (Some(t), None) => t,
        (None, None) => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_in_packaging_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/nplusx.toml");
        let c = Config::from_file(&p).expect("packaging/nplusx.toml parses");
        c.validate().expect("packaging/nplusx.toml is valid");
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_toml("[web]\nlisten = \"0.0.0.0:1\"\nlistn = \"x\"\n").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("listn"), "{s}");
        assert!(s.contains("line 3"), "{s}");
    }

    #[test]
    fn bad_values_are_named() {
        let mut c = Config::default();
        c.web.listen = "localhost".into();
        assert!(c.validate().unwrap_err().to_string().contains("web.listen"));
        let mut c = Config::default();
        c.plant.utc_offset = "CST".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("plant.utc_offset")
        );
        let mut c = Config::default();
        c.web.tls = TlsMode::Files;
        assert!(c.validate().unwrap_err().to_string().contains("web.cert"));
        let e = Config::from_toml("[session]\nidle_minutes = \"ten\"\n").unwrap_err();
        assert!(e.to_string().contains("idle_minutes"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_dotted_key() {
        for (text, key) in [
            ("[web]\nlisten = 5\n", "web.listen"),
            ("[web]\ntls = \"none\"\n", "web.tls"),
            (
                "# c\n[session]\nidle_minutes = \"ten\"\n",
                "session.idle_minutes",
            ),
            ("data_dir = 3\n", "data_dir"),
            ("[login]\nlok_after = 3\n", "login.lok_after"),
        ] {
            let e = Config::from_toml(text).unwrap_err();
            assert!(
                e.to_string().contains(&format!("（键 {key}）")),
                "{text:?} → {e}"
            );
        }
    }

    #[test]
    fn offset_parses() {
        let c = Config::default();
        assert_eq!(c.utc_offset().unwrap().whole_hours(), 8);
    }
}
