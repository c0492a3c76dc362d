//! X modules as WebAssembly plugins: the host (wasmtime, `runtime.rs`), what the imports
//! do (`host.rs`), one thread per running plugin (`instance.rs`), the package format and
//! its signatures (`package.rs`), the manifest (`manifest.rs`), the tables (`store.rs`),
//! and the console and API (`routes.rs`). The contract is `wit/`.
//!
//! [`Plugins`] is the manager: install (checked: structure, signature, trusted publisher or
//! developer mode, contract version, component fits the contract, `describe` matches the
//! manifest), upgrade (data kept), rollback, enable, disable, remove, settings; it starts
//! enabled plugins at boot and feeds them tag samples and events.

mod compat;
pub mod drawing;
pub mod files;
pub mod host;
pub mod instance;
pub mod jobs;
pub mod link;
pub mod manifest;
pub mod package;
pub mod records;
pub mod routes;
pub mod runtime;
pub mod store;
pub mod views;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use serde::Serialize;

use crate::app::App;
use crate::error::{Error, Result};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Reader, Store};
use instance::{Call, Handle, Spec};
use runtime::{Runtime, view, wit};
use store::{INSTALLED, Installed, KEYS, PACKAGES, TrustedKey};

/// The limits the admin sets per plugin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub deadline_ms: u32,
    pub memory_mib: u32,
    pub quota_mib: u32,
    pub alarm_ceiling: crate::alarms::model::Priority,
    pub alarms_per_hour: u32,
}

impl Limits {
    pub fn of(i: &Installed) -> Limits {
        Limits {
            deadline_ms: i.deadline_ms,
            memory_mib: i.memory_mib,
            quota_mib: i.quota_mib,
            alarm_ceiling: i.alarm_ceiling,
            alarms_per_hour: i.alarms_per_hour,
        }
    }
}

/// Defaults the admin can change per plugin.
pub const DEFAULT_DEADLINE_MS: u32 = 200;
pub const DEFAULT_MEMORY_MIB: u32 = 64;
pub const DEFAULT_QUOTA_MIB: u32 = 16;
const DEV_MODE_KEY: &str = "plugins.developer_mode";
/// Plugin pages built at once (each holds a plugin's answer, up to 4 MiB, and its HTML);
/// more readers wait their turn.
const PAGE_BUILDS: usize = 2;

/// Plugins built into this binary: (manifest, component, only for the demo plant).
pub static BUNDLED: &[(&str, &[u8], bool)] =
    &include!(concat!(env!("OUT_DIR"), "/bundled_plugins.rs"));

/// The demo plant's settings of the bundled plugins: the energy module's hierarchy and the
/// meters on the simulator's site meters (electricity EM01.E, steam FQ301, water FQ401);
/// the boards' energy meters and gauges: R101's temperature and pressure, its agitator's
/// vibration (amber from 4.5 mm/s, red from 7.1: zones C and D of ISO 10816-3 for a group 2
/// machine on a flexible support, as the equipment module classes it), a tank level, and
/// the tank farm's gas detector (amber at 25 % LEL, red at 50 %: GB/T 50493-2019's first
/// and second alarm).
/// Dangerous capabilities the demo grants all the same: the warehouse plugin is for posting
/// stock movements by scanning (each one the scanning person's, under inventory's rules).
/// It also hands transport tasks to the simulated AGV1 by writing its task tags. The digital
/// twin shows where the demo's (invented) people are. The
/// remote maintenance plugin may open its vendor channel (each session still needs the
/// admin's approval); it may not write tags.
const DEMO_DANGEROUS: &[(&str, &str)] = &[
    ("warehouse", "actions.inventory"),
    ("warehouse", "tags.write"),
    ("remote", "link"),
    ("twin", "records.positions"),
];

const DEMO_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "energy",
        "nodes",
        "site|兰溪宏达精细化工 全厂|site||electricity,steam,water; \
         resin|树脂车间|unit|site|electricity,steam,water; \
         tank_farm|罐区|unit|site|electricity; \
         utilities|公用工程|unit|site|electricity,water; \
         r101|R101 聚合反应釜|equipment|resin|steam|R101; \
         p101|P101 单体进料泵|equipment|resin|electricity|P101",
    ),
    (
        "energy",
        "meters",
        "em01|全厂总电表|electricity|EM01.E|totaliser|site|1; \
         fq301|全厂蒸汽总表|steam|FQ301|totaliser|site|1; \
         fq401|全厂新鲜水总表|water|FQ401|totaliser|site|1",
    ),
    ("boards", "energy_tags", "EM01.E,FQ301,FQ401"),
    ("warehouse", "receiving", "WH-GEN/G-03"),
    ("warehouse", "staging", "WH-GEN/G-01"),
    ("warehouse", "agv", "AGV1"),
    (
        "warehouse",
        "stations",
        "WH-GEN/G-01=11; WH-GEN/G-02=12; WH-GEN/G-03=13; WH-HAZ/A-01=21; WH-HAZ/A-02=22",
    ),
    ("remote", "demo", "true"),
    ("bi", "demo", "true"),
    ("bi", "energy_tag", "EM01.E"),
    ("twin", "demo", "true"),
    (
        "twin",
        "areas",
        "resin=聚合车间; tank_farm=罐区; utilities=配电室",
    ),
    (
        "boards",
        "gauges",
        "R101.TT101|0|150;R101.PT101|0|1.6;R101.M01.VT|0|11.2|4.5|7.1;TK201.LT|0|100;GD201|0|100|25|50",
    ),
];

/// What the review screen shows of a package before it is installed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Review {
    pub id: String,
    pub version: String,
    pub module: String,
    pub name_zh: String,
    pub name_en: String,
    pub publisher: String,
    /// `ed25519:` key that signed it; empty if unsigned.
    pub signed_by: String,
    pub fingerprint: String,
    /// The key is among the trusted publisher keys.
    pub trusted: bool,
    /// Capabilities asked for: id, dangerous, reason zh, reason en.
    pub capabilities: Vec<(String, bool, String, String)>,
    /// Installed version of the same plugin, if any (the upload is an upgrade).
    pub installed_version: Option<String>,
    /// What the installed version is granted (an upgrade starts from it).
    pub granted: Vec<String>,
    pub pages: Vec<String>,
}

/// A plugin as the console and the API list it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginView {
    #[serde(flatten)]
    pub installed: Installed,
    pub stats: Option<instance::Stats>,
    pub storage_bytes: u64,
}

pub struct Plugins {
    runtime: OnceLock<std::result::Result<Arc<Runtime>, String>>,
    running: Mutex<HashMap<String, Handle>>,
    /// Set when the box shuts down: nothing starts any more (a boot still compiling stops
    /// after the plugin in hand, so the process exits promptly).
    closing: std::sync::atomic::AtomicBool,
    /// Each plugin's log, kept across restarts and switching off until it is removed.
    logs: Mutex<HashMap<String, Arc<runtime::PluginLog>>>,
    /// The counters of plugins switched off after faults (their last fault shown).
    stopped: Mutex<HashMap<String, instance::Stats>>,
    events: tokio::sync::broadcast::Sender<wit::Event>,
    app: OnceLock<Weak<App>>,
    cache_dir: std::path::PathBuf,
    /// One install / upgrade / switch at a time.
    changing: Mutex<()>,
    /// Turns to build a plugin page ([`PAGE_BUILDS`] at once).
    pages: tokio::sync::Semaphore,
    /// Uploads waiting for the admin's review: token → (bytes, when).
    staged: Mutex<HashMap<String, (Vec<u8>, std::time::Instant)>>,
}

impl Plugins {
    pub fn new(data_dir: &std::path::Path) -> Plugins {
        Plugins {
            runtime: OnceLock::new(),
            running: Mutex::new(HashMap::new()),
            closing: std::sync::atomic::AtomicBool::new(false),
            logs: Mutex::new(HashMap::new()),
            stopped: Mutex::new(HashMap::new()),
            events: tokio::sync::broadcast::channel(1024).0,
            app: OnceLock::new(),
            // NPLUSX_PLUGIN_CACHE: a cache shared by many boxes on one machine (the tests' demo
            // plants); entries are keyed by the component's hash and the engine's, written
            // whole and renamed into place, so sharing is safe
            cache_dir: std::env::var_os("NPLUSX_PLUGIN_CACHE")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| data_dir.join("plugin-cache")),
            changing: Mutex::new(()),
            pages: tokio::sync::Semaphore::new(PAGE_BUILDS),
            staged: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps an uploaded package for the review screen (30 minutes); returns its token.
    pub fn stage(&self, bytes: Vec<u8>) -> String {
        let mut raw = [0u8; 16];
        crate::util::fill_random(&mut raw);
        let token = hex::encode(raw);
        let mut s = self.staged.lock().expect("staged lock");
        s.retain(|_, (_, t)| t.elapsed() < Duration::from_secs(1800));
        while s.len() >= 8 {
            let oldest = s
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => s.remove(&k),
                None => break,
            };
        }
        s.insert(token.clone(), (bytes, std::time::Instant::now()));
        token
    }

    pub fn unstage(&self, token: &str) -> Option<Vec<u8>> {
        self.staged
            .lock()
            .expect("staged lock")
            .remove(token)
            .map(|(b, _)| b)
    }

    pub fn runtime(&self) -> Result<Arc<Runtime>> {
        self.runtime
            .get_or_init(|| Runtime::new(&self.cache_dir).map(Arc::new))
            .clone()
            .map_err(|e| Error::Device(Msg::new("plugins.err.runtime").arg("detail", e)))
    }

    /// Registers bundled plugins and starts the enabled ones (after the app is shared).
    pub fn boot(&self, app: &Arc<App>) {
        let _ = self.app.set(Arc::downgrade(app));
        if let Err(e) = self.register_bundled(app, false) {
            tracing::error!(error = %e.msg().render(crate::i18n::Lang::En), "bundled plugins not registered");
        }
        let list = match app.store.read().and_then(|r| store::installed(&r)) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "plugins not read");
                return;
            }
        };
        for p in list.into_iter().filter(|p| p.enabled) {
            if self.is_closing() {
                tracing::info!("shutting down: the remaining plugins are not started");
                return;
            }
            if let Err(e) = self.start(app, &p) {
                tracing::error!(plugin = %p.id, error = %e.msg().render(crate::i18n::Lang::En), "plugin not started");
            }
        }
    }

    /// Bundled plugins are installed (disabled) on first start and follow the binary's
    /// version afterwards; demo-only ones (the example) only where the demo put them.
    fn register_bundled(&self, app: &App, demo: bool) -> Result<()> {
        for (manifest_text, component, demo_only) in BUNDLED {
            let m = manifest::Manifest::parse(manifest_text)?;
            let existing = app.store.read()?.get(&INSTALLED, &m.id)?;
            if *demo_only && !demo && !existing.as_ref().is_some_and(|e| e.bundled) {
                continue;
            }
            if existing.as_ref().is_some_and(|e| !e.bundled) {
                tracing::warn!(plugin = %m.id, "a plugin installed by the admin has the id of a bundled one; kept");
                continue;
            }
            if existing
                .as_ref()
                .is_some_and(|e| e.version == m.version && e.bundled)
            {
                continue;
            }
            let bytes = package::pack(manifest_text, component, None);
            let mut w = app.store.write(&Actor::system("bundled"))?;
            let grants = match &existing {
                Some(e) => e.grants.iter().filter(|g| m.asks(g)).cloned().collect(),
                None => Vec::new(),
            };
            let settings = existing
                .as_ref()
                .map_or_else(|| m.default_settings(), |e| carry_settings(&m, &e.settings));
            let rec = Installed {
                id: m.id.clone(),
                version: m.version.clone(),
                manifest: m.clone(),
                enabled: existing.as_ref().is_some_and(|e| e.enabled),
                grants,
                settings,
                deadline_ms: existing
                    .as_ref()
                    .map_or(DEFAULT_DEADLINE_MS, |e| e.deadline_ms),
                memory_mib: existing
                    .as_ref()
                    .map_or(DEFAULT_MEMORY_MIB, |e| e.memory_mib),
                quota_mib: existing.as_ref().map_or(DEFAULT_QUOTA_MIB, |e| e.quota_mib),
                alarm_ceiling: existing
                    .as_ref()
                    .map_or_else(store::default_alarm_ceiling, |e| e.alarm_ceiling),
                alarms_per_hour: existing
                    .as_ref()
                    .map_or_else(store::default_alarms_per_hour, |e| e.alarms_per_hour),
                publisher_key: String::new(),
                bundled: true,
                installed_ms: crate::util::now_ms(),
                installed_by: "bundled".into(),
                previous: None,
            };
            if let Some(old) = existing.as_ref().filter(|e| e.version != m.version) {
                w.remove(&PACKAGES, &pkg_key(&old.id, &old.version))?;
            }
            w.insert(
                &PACKAGES,
                &pkg_key(&m.id, &m.version),
                &serde_bytes::ByteBuf::from(bytes),
            )?;
            w.insert(&INSTALLED, &m.id, &rec)?;
            w.audit(
                "plugins.plugin.install",
                format!("plugin:{}", m.id),
                Change::created(serde_json::json!({"version": m.version, "bundled": true})),
            );
            w.commit()?;
        }
        Ok(())
    }

    /// The demo plant: the bundled plugins on, with every capability but the dangerous ones
    /// (except those in [`DEMO_DANGEROUS`]), and their demo settings ([`DEMO_SETTINGS`]).
    pub fn seed_demo(&self, app: &App) -> Result<()> {
        self.register_bundled(app, true)?;
        for (manifest_text, _, _) in BUNDLED {
            let m = manifest::Manifest::parse(manifest_text)?;
            self.update(
                app,
                &Actor::system("demo"),
                &m.id,
                |r| {
                    r.enabled = true;
                    for (plugin, key, value) in DEMO_SETTINGS {
                        if *plugin == m.id {
                            r.settings.insert(key.to_string(), value.to_string());
                        }
                    }
                    r.grants = m
                        .capabilities
                        .iter()
                        .filter(|c| {
                            !manifest::is_dangerous(&c.id)
                                || DEMO_DANGEROUS.contains(&(m.id.as_str(), c.id.as_str()))
                        })
                        .map(|c| c.id.clone())
                        .collect();
                    Ok(())
                },
                "plugins.plugin.enable",
            )?;
        }
        Ok(())
    }

    /// A package may run here: signed by a trusted publisher, or developer mode is on.
    /// Returns whether the signer is trusted.
    fn check_trust(r: &impl Reader, p: &package::Package) -> Result<bool> {
        let trusted = match &p.signer {
            Some(k) => r.get(&KEYS, &package::fingerprint(k))?.is_some(),
            None => false,
        };
        if !trusted && !Self::developer_mode(r)? {
            return Err(match &p.signer {
                None => Error::invalid("package", "plugins.err.unsigned"),
                Some(k) => Error::invalid_msg(
                    "package",
                    Msg::new("plugins.err.untrusted").arg("key", package::fingerprint(k)),
                ),
            });
        }
        Ok(trusted)
    }

    pub fn developer_mode(r: &impl Reader) -> Result<bool> {
        Ok(crate::store::meta_get(r, DEV_MODE_KEY)?.unwrap_or(false))
    }

    pub fn set_developer_mode(&self, store: &Store, actor: &Actor, on: bool) -> Result<()> {
        let mut w = store.write(actor)?;
        let before = Self::developer_mode(&w)?;
        if before == on {
            return Ok(());
        }
        crate::store::meta_put(&mut w, DEV_MODE_KEY, &on)?;
        w.audit(
            "plugins.developer_mode",
            "plugins".to_string(),
            Change::updated(
                serde_json::json!({"on": before}),
                serde_json::json!({"on": on}),
            ),
        );
        w.commit()?;
        Ok(())
    }

    /// Reads and checks a package without installing it: structure, signature, publisher
    /// trust (or developer mode), contract, and `describe` against the manifest.
    pub fn review(&self, app: &App, bytes: &[u8]) -> Result<(Review, package::Package)> {
        let p = package::parse(bytes)?;
        let r = app.store.read()?;
        let trusted = Self::check_trust(&r, &p)?;
        let (signed_by, fingerprint) = match &p.signer {
            Some(k) => (package::public_text(k), package::fingerprint(k)),
            None => (String::new(), String::new()),
        };
        let installed = r.get(&INSTALLED, &p.manifest.id)?;
        if let Some(b) = &installed {
            // an upgrade comes from the same publisher (an unsigned test install excepted)
            if !b.bundled && !b.publisher_key.is_empty() && b.publisher_key != signed_by {
                return Err(Error::invalid_msg(
                    "package",
                    Msg::new("plugins.err.publisher_changed")
                        .arg("was", &b.publisher_key)
                        .arg(
                            "now",
                            if signed_by.is_empty() {
                                "-"
                            } else {
                                &signed_by
                            },
                        ),
                ));
            }
        }
        let info = self.describe(app, &p)?;
        let granted = installed
            .as_ref()
            .map(|i| i.grants.clone())
            .unwrap_or_default();
        let installed_version = installed.map(|i| i.version);
        let m = &p.manifest;
        Ok((
            Review {
                id: m.id.clone(),
                version: m.version.clone(),
                module: m.module.clone(),
                name_zh: m.name_zh.clone(),
                name_en: m.name_en.clone(),
                publisher: m.publisher.clone(),
                signed_by,
                fingerprint,
                trusted,
                capabilities: m
                    .capabilities
                    .iter()
                    .map(|c| {
                        (
                            c.id.clone(),
                            manifest::is_dangerous(&c.id),
                            c.reason_zh.clone(),
                            c.reason_en.clone(),
                        )
                    })
                    .collect(),
                installed_version,
                granted,
                pages: info.pages.iter().map(|p| p.id.clone()).collect(),
            },
            p,
        ))
    }

    /// Compiles (or takes from the cache) and links a package's component, and asks it who
    /// it is: the spec to run it with, and its answer.
    fn load(
        &self,
        p: &package::Package,
        installed: Installed,
        app: Weak<App>,
    ) -> Result<(Spec, wit::Info)> {
        let rt = self.runtime()?;
        let c = rt.compile(&p.component).map_err(component_error)?;
        let pre = rt
            .prepare(&c, p.manifest.wit_minor())
            .map_err(component_error)?;
        let spec = Spec {
            installed,
            pre,
            runtime: rt,
            app,
        };
        let info = instance::describe(&spec).map_err(component_error)?;
        check_info(&info).map_err(component_error)?;
        Ok((spec, info))
    }

    /// Checks a package's component against the contract and its manifest.
    fn describe(&self, app: &App, p: &package::Package) -> Result<wit::Info> {
        let (_, info) = self.load(
            p,
            self.record(&p.manifest, Vec::new(), app),
            self.app.get().cloned().unwrap_or_default(),
        )?;
        if info.id != p.manifest.id || info.version != p.manifest.version {
            return Err(Error::invalid_msg(
                "package",
                Msg::new("plugins.err.mismatch")
                    .arg(
                        "manifest",
                        format!("{} {}", p.manifest.id, p.manifest.version),
                    )
                    .arg("component", format!("{} {}", info.id, info.version)),
            ));
        }
        Ok(info)
    }

    fn record(&self, m: &manifest::Manifest, grants: Vec<String>, _app: &App) -> Installed {
        Installed {
            id: m.id.clone(),
            version: m.version.clone(),
            manifest: m.clone(),
            enabled: false,
            grants,
            settings: m.default_settings(),
            deadline_ms: DEFAULT_DEADLINE_MS,
            memory_mib: DEFAULT_MEMORY_MIB,
            quota_mib: DEFAULT_QUOTA_MIB,
            alarm_ceiling: store::default_alarm_ceiling(),
            alarms_per_hour: store::default_alarms_per_hour(),
            publisher_key: String::new(),
            bundled: false,
            installed_ms: crate::util::now_ms(),
            installed_by: String::new(),
            previous: None,
        }
    }

    /// Installs a package, or upgrades the installed plugin of the same id (its data and
    /// settings kept; capabilities new in this version are granted only if named).
    /// `grants` must be a subset of what the manifest asks for.
    pub fn install(
        &self,
        app: &Arc<App>,
        actor: &Actor,
        bytes: &[u8],
        grants: Option<&[String]>,
        enable: bool,
    ) -> Result<Installed> {
        let _one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let (review, p) = self.review(app, bytes)?;
        for g in grants.unwrap_or_default() {
            if !p.manifest.asks(g) {
                return Err(Error::invalid_msg(
                    "grants",
                    Msg::new("plugins.err.not_asked").arg("cap", g),
                ));
            }
        }
        let mut w = app.store.write(actor)?;
        let before = w.get(&INSTALLED, &p.manifest.id)?;
        if before.as_ref().is_some_and(|b| b.bundled) {
            return Err(Error::conflict("plugins.err.bundled"));
        }
        if before
            .as_ref()
            .is_some_and(|b| b.version == p.manifest.version)
        {
            return Err(Error::invalid_msg(
                "package",
                Msg::new("plugins.err.same_version").arg("version", &p.manifest.version),
            ));
        }
        if let Some(b) = before.as_ref().filter(|b| {
            manifest::version_key(&p.manifest.version) < manifest::version_key(&b.version)
        }) {
            // going back is a rollback, which keeps the data's provenance clear
            return Err(Error::invalid_msg(
                "package",
                Msg::new("plugins.err.older")
                    .arg("version", &p.manifest.version)
                    .arg("installed", &b.version),
            ));
        }
        let mut rec = self.record(&p.manifest, grants.unwrap_or_default().to_vec(), app);
        rec.publisher_key = review.signed_by.clone();
        rec.installed_by = actor.label();
        rec.enabled = enable;
        if let Some(b) = &before {
            // an upgrade: settings, limits and the switch carry over; without an explicit
            // choice so do the grants still asked for (new capabilities only if named)
            if grants.is_none() {
                rec.grants = b
                    .grants
                    .iter()
                    .filter(|g| p.manifest.asks(g))
                    .cloned()
                    .collect();
            }
            rec.settings = carry_settings(&p.manifest, &b.settings);
            rec.deadline_ms = b.deadline_ms;
            rec.memory_mib = b.memory_mib;
            rec.quota_mib = b.quota_mib;
            rec.alarm_ceiling = b.alarm_ceiling;
            rec.alarms_per_hour = b.alarms_per_hour;
            rec.enabled = b.enabled || enable;
            rec.previous = Some(b.version.clone());
            // keep only the version rolled back to
            if let Some(old) = &b.previous {
                w.remove(&PACKAGES, &pkg_key(&b.id, old))?;
            }
        }
        w.insert(
            &PACKAGES,
            &pkg_key(&rec.id, &rec.version),
            &serde_bytes::ByteBuf::from(bytes.to_vec()),
        )?;
        w.insert(&INSTALLED, &rec.id, &rec)?;
        let summary = serde_json::json!({
            "version": rec.version, "publisher": rec.manifest.publisher, "signed_by": rec.publisher_key,
            "grants": rec.grants, "enabled": rec.enabled,
        });
        match &before {
            None => w.audit(
                "plugins.plugin.install",
                format!("plugin:{}", rec.id),
                Change::created(summary),
            ),
            Some(b) => w.audit(
                "plugins.plugin.upgrade",
                format!("plugin:{}", rec.id),
                Change::updated(
                    serde_json::json!({"version": b.version, "grants": b.grants}),
                    summary,
                ),
            ),
        }
        w.commit()?;
        self.restart(app, &rec)?;
        Ok(rec)
    }

    /// Goes back to the version before the last upgrade (data kept).
    pub fn rollback(&self, app: &Arc<App>, actor: &Actor, id: &str) -> Result<Installed> {
        let _one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let mut w = app.store.write(actor)?;
        let cur = w
            .get(&INSTALLED, &id.to_string())?
            .ok_or_else(|| Error::not_found("plugins.err.not_found"))?;
        let prev = cur
            .previous
            .clone()
            .ok_or_else(|| Error::conflict("plugins.err.no_previous"))?;
        let bytes = w
            .get(&PACKAGES, &pkg_key(id, &prev))?
            .ok_or_else(|| Error::conflict("plugins.err.no_previous"))?;
        let p = package::parse(&bytes)?;
        Self::check_trust(&w, &p)?;
        let mut rec = cur.clone();
        rec.version = p.manifest.version.clone();
        rec.grants.retain(|g| p.manifest.asks(g));
        rec.settings = carry_settings(&p.manifest, &cur.settings);
        rec.manifest = p.manifest;
        rec.previous = None;
        rec.publisher_key = p
            .signer
            .as_ref()
            .map(package::public_text)
            .unwrap_or_default();
        w.remove(&PACKAGES, &pkg_key(id, &cur.version))?;
        w.insert(&INSTALLED, &rec.id, &rec)?;
        w.audit(
            "plugins.plugin.rollback",
            format!("plugin:{id}"),
            Change::updated(
                serde_json::json!({"version": cur.version}),
                serde_json::json!({"version": rec.version}),
            ),
        );
        w.commit()?;
        self.restart(app, &rec)?;
        Ok(rec)
    }

    pub fn set_enabled(
        &self,
        app: &Arc<App>,
        actor: &Actor,
        id: &str,
        on: bool,
    ) -> Result<Installed> {
        let _one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let rec = self.update(
            app,
            actor,
            id,
            |r| {
                r.enabled = on;
                Ok(())
            },
            if on {
                "plugins.plugin.enable"
            } else {
                "plugins.plugin.disable"
            },
        )?;
        self.restart(app, &rec)?;
        Ok(rec)
    }

    /// The admin's settings, grants and limits.
    pub fn configure(
        &self,
        app: &Arc<App>,
        actor: &Actor,
        id: &str,
        settings: &BTreeMap<String, String>,
        grants: &[String],
        limits: Limits,
    ) -> Result<Installed> {
        let _one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        if !(10..=10_000).contains(&limits.deadline_ms) {
            return Err(Error::invalid("deadline_ms", "plugins.err.deadline"));
        }
        if !(8..=1024).contains(&limits.memory_mib) {
            return Err(Error::invalid("memory_mib", "plugins.err.memory"));
        }
        if !(1..=1024).contains(&limits.quota_mib) {
            return Err(Error::invalid("quota_mib", "plugins.err.quota"));
        }
        if limits.alarms_per_hour > 600 {
            return Err(Error::invalid(
                "alarms_per_hour",
                "plugins.err.alarms_per_hour",
            ));
        }
        let rec = self.update(
            app,
            actor,
            id,
            |r| {
                r.settings = r.manifest.check_settings(settings)?;
                for g in grants {
                    if !r.manifest.asks(g) {
                        return Err(Error::invalid_msg(
                            "grants",
                            Msg::new("plugins.err.not_asked").arg("cap", g),
                        ));
                    }
                }
                r.grants = grants.to_vec();
                r.deadline_ms = limits.deadline_ms;
                r.memory_mib = limits.memory_mib;
                r.quota_mib = limits.quota_mib;
                r.alarm_ceiling = limits.alarm_ceiling;
                r.alarms_per_hour = limits.alarms_per_hour;
                Ok(())
            },
            "plugins.plugin.configure",
        )?;
        self.restart(app, &rec)?;
        Ok(rec)
    }

    fn update(
        &self,
        app: &App,
        actor: &Actor,
        id: &str,
        f: impl FnOnce(&mut Installed) -> Result<()>,
        action: &'static str,
    ) -> Result<Installed> {
        let mut w = app.store.write(actor)?;
        let before = w
            .get(&INSTALLED, &id.to_string())?
            .ok_or_else(|| Error::not_found("plugins.err.not_found"))?;
        let mut rec = before.clone();
        f(&mut rec)?;
        if rec == before {
            return Ok(rec);
        }
        w.insert(&INSTALLED, &rec.id, &rec)?;
        let view = |r: &Installed| {
            // credentials never reach the audit log: only whether they changed shows
            let settings: BTreeMap<&String, String> = r
                .settings
                .iter()
                .map(|(k, v)| {
                    let secret = ["password", "secret", "token"]
                        .iter()
                        .any(|w| k.to_ascii_lowercase().contains(w));
                    let shown = if secret && !v.is_empty() {
                        use sha2::Digest;
                        format!(
                            "(set, sha256 {})",
                            &hex::encode(sha2::Sha256::digest(v))[..8]
                        )
                    } else {
                        v.clone()
                    };
                    (k, shown)
                })
                .collect();
            serde_json::json!({
                "enabled": r.enabled, "grants": r.grants, "settings": settings,
                "deadline_ms": r.deadline_ms, "memory_mib": r.memory_mib, "quota_mib": r.quota_mib,
                "alarm_ceiling": r.alarm_ceiling, "alarms_per_hour": r.alarms_per_hour,
            })
        };
        w.audit(
            action,
            format!("plugin:{id}"),
            Change::updated(view(&before), view(&rec)),
        );
        w.commit()?;
        Ok(rec)
    }

    /// Removes a plugin, its packages and its storage.
    pub fn remove(&self, app: &Arc<App>, actor: &Actor, id: &str) -> Result<()> {
        let _one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let mut w = app.store.write(actor)?;
        let rec = w
            .get(&INSTALLED, &id.to_string())?
            .ok_or_else(|| Error::not_found("plugins.err.not_found"))?;
        if rec.bundled {
            return Err(Error::conflict("plugins.err.bundled"));
        }
        w.remove(&INSTALLED, &rec.id)?;
        w.remove(&PACKAGES, &pkg_key(id, &rec.version))?;
        if let Some(p) = &rec.previous {
            w.remove(&PACKAGES, &pkg_key(id, p))?;
        }
        let keys = store::clear(&mut w, id)?;
        files::clear(&mut w, id)?;
        w.audit(
            "plugins.plugin.remove",
            format!("plugin:{id}"),
            Change::deleted(serde_json::json!({"version": rec.version, "storage_keys": keys})),
        );
        w.commit()?;
        self.stop(id);
        self.logs.lock().expect("plugins lock").remove(id);
        self.stopped.lock().expect("plugins lock").remove(id);
        // its alarms (and the box's about it) return to normal, are acknowledged as the
        // removal and leave the list; their journal stays
        let prefixes = [format!("plugin:{id}:"), format!("plugins:{id}:")];
        let mut ids = Vec::new();
        for p in &prefixes {
            for source in app.alarms.external_sources(p) {
                app.alarms.clear_external(&source);
                ids.extend(app.alarms.external_id(&source));
            }
        }
        app.alarms
            .ack_many(&ids, actor, &format!("plugin {id} removed"))?;
        app.alarms
            .retire_external(&prefixes.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(())
    }

    pub fn add_key(
        &self,
        store: &Store,
        actor: &Actor,
        public_key: &str,
        name: &str,
    ) -> Result<TrustedKey> {
        let k = package::read_public(public_key)?;
        let name = crate::error::text("name", name, 100, true)?;
        let rec = TrustedKey {
            public_key: package::public_text(&k),
            name,
            added_ms: crate::util::now_ms(),
            added_by: actor.label(),
        };
        let mut w = store.write(actor)?;
        w.insert(&KEYS, &package::fingerprint(&k), &rec)?;
        w.audit(
            "plugins.key.add",
            format!("key:{}", package::fingerprint(&k)),
            Change::created(&rec),
        );
        w.commit()?;
        Ok(rec)
    }

    pub fn remove_key(&self, store: &Store, actor: &Actor, fingerprint: &str) -> Result<()> {
        let mut w = store.write(actor)?;
        let before = w
            .remove(&KEYS, &fingerprint.to_string())?
            .ok_or_else(|| Error::not_found("plugins.err.key_not_found"))?;
        w.audit(
            "plugins.key.remove",
            format!("key:{fingerprint}"),
            Change::deleted(&before),
        );
        w.commit()?;
        Ok(())
    }

    pub fn keys(r: &impl Reader) -> Result<Vec<(String, TrustedKey)>> {
        Ok(r.all(&KEYS)?)
    }

    /// The installed plugins with their counters.
    pub fn list(&self, app: &App) -> Result<Vec<PluginView>> {
        let list = store::installed(&app.store.read()?)?;
        let running = self.running.lock().expect("plugins lock");
        let stopped = self.stopped.lock().expect("plugins lock");
        Ok(list
            .into_iter()
            .map(|p| PluginView {
                stats: running
                    .get(&p.id)
                    .map(|h| h.stats.lock().expect("stats lock").clone())
                    .or_else(|| stopped.get(&p.id).cloned()),
                storage_bytes: store::usage(&app.store, &p.id).unwrap_or(0),
                installed: p,
            })
            .collect())
    }

    pub fn get(&self, app: &App, id: &str) -> Result<PluginView> {
        self.list(app)?
            .into_iter()
            .find(|p| p.installed.id == id)
            .ok_or_else(|| Error::not_found("plugins.err.not_found"))
    }

    pub fn log(&self, id: &str) -> Option<(Vec<runtime::LogLine>, u64)> {
        self.logs
            .lock()
            .expect("plugins lock")
            .get(id)
            .map(|l| l.lines())
    }

    /// The log a plugin writes to (the same one after a restart).
    fn log_of(&self, id: &str) -> Arc<runtime::PluginLog> {
        self.logs
            .lock()
            .expect("plugins lock")
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// Menu pages of running plugins: (module, plugin id, page, title zh, title en).
    pub fn menu(&self) -> Vec<(String, String, String, String, String)> {
        let running = self.running.lock().expect("plugins lock");
        let mut out: Vec<_> = running
            .iter()
            .flat_map(|(id, h)| {
                h.info.pages.iter().filter(|p| p.in_menu).map(move |p| {
                    (
                        h.module.clone(),
                        id.clone(),
                        p.id.clone(),
                        p.title_zh.clone(),
                        p.title_en.clone(),
                    )
                })
            })
            .collect();
        out.sort();
        out
    }

    /// The guide module whose permissions guard a running plugin's pages.
    pub fn module_of(&self, id: &str) -> Option<(String, wit::Info)> {
        self.running
            .lock()
            .expect("plugins lock")
            .get(id)
            .map(|h| (h.module.clone(), h.info.clone()))
    }

    /// The contract minor version a running plugin was built for (1: 0.1).
    pub fn contract_of(&self, id: &str) -> Option<u32> {
        self.running
            .lock()
            .expect("plugins lock")
            .get(id)
            .map(|h| h.minor)
    }

    /// The installed plugin that implements a guide module, and the module's state through
    /// it: enabled while it runs, faulted when enabled but not running, else disabled.
    pub fn serving(&self, app: &App, module: &str) -> Option<(String, crate::registry::State)> {
        use crate::registry::State;
        let list = app
            .store
            .read()
            .ok()
            .and_then(|r| store::installed(&r).ok())?;
        let running = self.running.lock().expect("plugins lock");
        let state = |p: &Installed| match (p.enabled, running.get(&p.id)) {
            (true, Some(h)) => match h.stats.lock().expect("stats lock").state {
                instance::RunState::Running | instance::RunState::Starting => State::Enabled,
                _ => State::Faulted,
            },
            (true, None) => State::Faulted,
            (false, _) => State::Disabled,
        };
        list.iter()
            .filter(|p| p.manifest.module == module)
            .map(|p| (p.id.clone(), state(p)))
            .min_by_key(|(_, s)| match s {
                State::Enabled => 0,
                State::Faulted => 1,
                _ => 2,
            })
    }

    /// A turn to build a plugin page; waits at most 30 s.
    pub async fn page_turn(&self) -> std::result::Result<tokio::sync::SemaphorePermit<'_>, String> {
        match tokio::time::timeout(Duration::from_secs(30), self.pages.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err("the box is busy building plugin pages; try again".into()),
        }
    }

    /// Renders a page (waits for the plugin's thread, which has a deadline).
    pub async fn render(
        &self,
        id: &str,
        page: &str,
        params: Vec<(String, String)>,
        lang: &str,
    ) -> std::result::Result<view::View, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(
            id,
            Call::Render {
                page: page.into(),
                params,
                lang: lang.into(),
                reply,
            },
        )?;
        wait(answer).await
    }

    /// A form submission or button by `caller`: the module actions the plugin invokes while
    /// answering it act as that person (see `host::invoke`).
    pub async fn action(
        &self,
        id: &str,
        page: &str,
        action: &str,
        fields: Vec<(String, String)>,
        lang: &str,
        caller: crate::web::context::Principal,
    ) -> std::result::Result<view::Outcome, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(
            id,
            Call::Action {
                page: page.into(),
                action: action.into(),
                fields,
                lang: lang.into(),
                caller: Box::new(caller),
                reply,
            },
        )?;
        wait(answer).await
    }

    fn send(&self, id: &str, call: Call) -> std::result::Result<(), String> {
        let running = self.running.lock().expect("plugins lock");
        let h = running.get(id).ok_or("the plugin is not running")?;
        h.tx.try_send(call)
            .map_err(|_| "the plugin is busy; try again".to_string())
    }

    /// Delivers a plugin's event to the others.
    pub fn publish_event(&self, e: wit::Event) {
        let _ = self.events.send(e);
    }

    /// A plugin faulted (called from its thread): audited; after repeated faults it is
    /// switched off and an alarm raised.
    pub fn on_fault(
        &self,
        app: &Arc<App>,
        id: &str,
        fault: &str,
        disable: bool,
        stats: &Arc<Mutex<instance::Stats>>,
    ) {
        let actor = Actor::system("plugin-host");
        let done = app.store.write(&actor).and_then(|mut w| {
            w.audit(
                "plugins.plugin.fault",
                format!("plugin:{id}"),
                Change::created(serde_json::json!({"fault": fault})),
            );
            w.commit()
        });
        if let Err(e) = done {
            tracing::error!(plugin = id, error = %e, "fault not audited");
        }
        // only the instance the box is running may switch the plugin off: one an admin has
        // just replaced (new settings, re-enabled) has no say
        let current = self
            .running
            .lock()
            .expect("plugins lock")
            .get(id)
            .is_some_and(|h| Arc::ptr_eq(&h.stats, stats));
        if !disable || !current {
            return;
        }
        let off = self.update(
            app,
            &actor,
            id,
            |r| {
                r.enabled = false;
                Ok(())
            },
            "plugins.plugin.disable",
        );
        if let Err(e) = off {
            tracing::error!(plugin = id, error = %e.msg().render(crate::i18n::Lang::En), "faulty plugin not switched off");
        }
        // the thread ends by itself; it must not be joined from itself
        if let Some(mut h) = self.running.lock().expect("plugins lock").remove(id) {
            h.tasks.clear();
            drop(h.thread.take());
        }
        let mut last = stats.lock().expect("stats lock").clone();
        last.state = instance::RunState::Disabled(fault.to_string());
        self.stopped
            .lock()
            .expect("plugins lock")
            .insert(id.to_string(), last);
        let text = crate::alarms::model::Text {
            zh: format!("插件 {id} 反复出错，已停用：{fault}"),
            en: format!("Plugin {id} faulted repeatedly and was switched off: {fault}"),
        };
        if let Err(e) = app.alarms.raise_external(
            &format!("plugins:{id}:faulted"),
            crate::alarms::model::Priority::Medium,
            &text,
            "",
        ) {
            tracing::error!(plugin = id, error = %e.msg().render(crate::i18n::Lang::En), "fault alarm not raised");
        }
    }

    fn stop(&self, id: &str) {
        let h = self.running.lock().expect("plugins lock").remove(id);
        if let Some(mut h) = h {
            h.stop();
        }
    }

    /// The box is shutting down: no plugin starts from now on.
    pub fn close(&self) {
        self.closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn is_closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn stop_all(&self) {
        self.close();
        let all: Vec<Handle> = self
            .running
            .lock()
            .expect("plugins lock")
            .drain()
            .map(|(_, h)| h)
            .collect();
        for mut h in all {
            h.stop();
        }
    }

    /// Stops the plugin if running and starts it again if enabled.
    fn restart(&self, app: &Arc<App>, rec: &Installed) -> Result<()> {
        self.stop(&rec.id);
        if rec.enabled {
            self.start(app, rec)?;
            app.alarms
                .clear_external(&format!("plugins:{}:faulted", rec.id));
        }
        Ok(())
    }

    fn start(&self, app: &Arc<App>, rec: &Installed) -> Result<()> {
        let bytes = app
            .store
            .read()?
            .get(&PACKAGES, &pkg_key(&rec.id, &rec.version))?
            .ok_or_else(|| Error::not_found("plugins.err.not_found"))?;
        let p = package::parse(&bytes)?;
        if !rec.bundled {
            // a removed key, or developer mode switched off, stops what it let in
            Self::check_trust(&app.store.read()?, &p)?;
        }
        let (spec, info) = self.load(&p, rec.clone(), Arc::downgrade(app))?;
        let mut h = instance::spawn(
            spec,
            info,
            rec.manifest.module.clone(),
            self.log_of(&rec.id),
        )
        .map_err(component_error)?;
        self.stopped.lock().expect("plugins lock").remove(&rec.id);
        if let Some(io) = app.io() {
            h.tasks.push(crate::util::AbortOnDrop(io.spawn(feed_tags(
                app.tags.clone(),
                h.shared.clone(),
                h.tx.clone(),
                h.stats.clone(),
                rec.manifest.wit_minor() >= 2,
            ))));
            h.tasks.push(crate::util::AbortOnDrop(io.spawn(feed_events(
                app.alarms.subscribe(),
                self.events.subscribe(),
                rec.id.clone(),
                h.shared.clone(),
                h.tx.clone(),
                h.stats.clone(),
            ))));
        }
        if self.is_closing() {
            // the box began shutting down while this one was starting
            h.stop();
            return Ok(());
        }
        self.running
            .lock()
            .expect("plugins lock")
            .insert(rec.id.clone(), h);
        tracing::info!(plugin = %rec.id, version = %rec.version, "plugin started");
        Ok(())
    }
}

/// What `describe` answers must fit the console: page ids as URL segments, bounded names.
fn check_info(info: &wit::Info) -> std::result::Result<(), String> {
    let page_id = |p: &str| {
        (1..=32).contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if info.pages.len() > 20 {
        return Err("at most 20 pages".into());
    }
    for p in &info.pages {
        if !page_id(&p.id) {
            return Err(format!("page id {:?}: 1–32 of a-z, 0-9 and -", p.id));
        }
        if [&p.title_zh, &p.title_en]
            .iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > 64)
        {
            return Err(format!("page {}: titles of 1–64 characters", p.id));
        }
    }
    if [&info.name_zh, &info.name_en]
        .iter()
        .any(|t| t.chars().count() > 64)
    {
        return Err("names of at most 64 characters".into());
    }
    Ok(())
}

fn component_error(detail: String) -> Error {
    Error::invalid_msg(
        "package",
        Msg::new("plugins.err.component").arg("detail", detail),
    )
}

fn pkg_key(id: &str, version: &str) -> String {
    format!("{id}@{version}")
}

/// Settings of a new version: the old values where the setting still exists and the value
/// still fits, else the new default.
fn carry_settings(
    m: &manifest::Manifest,
    old: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = m.default_settings();
    for (k, v) in old {
        if out.contains_key(k) {
            let mut one = out.clone();
            one.insert(k.clone(), v.clone());
            if m.check_settings(&one).is_ok() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

async fn wait<T>(
    answer: tokio::sync::oneshot::Receiver<std::result::Result<T, String>>,
) -> std::result::Result<T, String> {
    // the plugin's own deadline ends a call; this guards against a queue of them
    match tokio::time::timeout(Duration::from_secs(30), answer).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err("the plugin stopped".into()),
        Err(_) => Err("the plugin did not answer in time".into()),
    }
}

/// Collects the subscribed tags' samples and hands them over once a second, in the form
/// the plugin's contract takes (`columns`: 0.2 and later).
async fn feed_tags(
    engine: Arc<crate::tags::engine::Engine>,
    shared: Arc<runtime::Shared>,
    tx: std::sync::mpsc::SyncSender<Call>,
    stats: Arc<Mutex<instance::Stats>>,
    columns: bool,
) {
    let mut rx = engine.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut pending = runtime::Batch::new(columns);
    let mut handles: HashMap<u32, u32> = HashMap::new();
    let mut generation = u64::MAX;
    loop {
        tokio::select! {
            batch = rx.recv() => match batch {
                Ok(batch) => {
                    let g = shared.generation.load(std::sync::atomic::Ordering::Relaxed);
                    if g != generation {
                        generation = g;
                        handles = shared.subscription.read().expect("lock").iter().enumerate().map(|(h, t)| (*t, h as u32)).collect();
                    }
                    if handles.is_empty() {
                        continue;
                    }
                    for s in batch.iter() {
                        if let Some(h) = handles.get(&s.tag) {
                            pending.push(*h, s);
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            },
            _ = tick.tick() => {
                if !pending.is_empty() {
                    let batch = std::mem::replace(&mut pending, runtime::Batch::new(columns));
                    if let Err(std::sync::mpsc::TrySendError::Full(_)) = tx.try_send(Call::Tags(batch)) {
                        stats.lock().expect("stats lock").dropped_batches += 1;
                    }
                }
            }
        }
    }
}

/// Hands alarm events and other plugins' events to a plugin that listens to their kind.
async fn feed_events(
    mut alarms: tokio::sync::broadcast::Receiver<crate::alarms::model::Event>,
    mut plugins: tokio::sync::broadcast::Receiver<wit::Event>,
    id: String,
    shared: Arc<runtime::Shared>,
    tx: std::sync::mpsc::SyncSender<Call>,
    stats: Arc<Mutex<instance::Stats>>,
) {
    let own = format!("plugin:{id}");
    loop {
        let e = tokio::select! {
            a = alarms.recv() => match a {
                Ok(a) => wit::Event {
                    kind: format!("alarm.{}", serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()),
                    source: "automation".into(),
                    ts_ms: a.ts_ms,
                    data: serde_json::to_string(&a).unwrap_or_default(),
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            },
            p = plugins.recv() => match p {
                Ok(p) if p.source != own => p,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            },
        };
        let wanted = shared
            .listen
            .read()
            .expect("lock")
            .iter()
            .any(|k| k == &e.kind || (k.ends_with('.') && e.kind.starts_with(k.as_str())));
        if wanted && let Err(std::sync::mpsc::TrySendError::Full(_)) = tx.try_send(Call::Event(e)) {
            stats.lock().expect("stats lock").dropped_batches += 1;
        }
    }
}
