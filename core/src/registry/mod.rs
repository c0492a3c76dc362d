//! The module registry: which modules the guide (附件2) defines, which this build (or an
//! installed plugin) implements, and which the admin has switched on.
//!
//! Every N module implements [`Module`]; X modules will register through the plugin host
//! with the same shape. The registry builds the navigation, mounts module routes behind a
//! gate that answers 404 while a module is disabled (its data stays), and feeds the
//! compliance self-assessment. Owns the `registry.*` tables.

pub mod catalogue;
pub mod routes;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{Lang, Msg};
use crate::org::EnterpriseType;
use crate::store::{Actor, Change, Reader, Store, Table};

pub use catalogue::{GUIDE, GuideEntry};

/// N = mandatory module built into the binary; X = optional plugin; System = the console's
/// own areas (administration, audit), which carry permissions but cannot be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Kind {
    N,
    X,
    System,
}

/// A permission a module defines, with what it means there.
#[derive(Debug, Clone, Copy)]
pub struct PermissionDef {
    pub level: Level,
    /// Catalogue key describing what the level allows in this module.
    pub description_key: &'static str,
}

/// A menu entry of a module.
#[derive(Debug, Clone, Serialize)]
pub struct MenuEntry {
    /// Catalogue key of the label.
    pub label_key: &'static str,
    pub href: String,
    /// Level needed to see the entry.
    #[serde(skip)]
    pub level: Level,
}

/// How a module is doing, for the console and `/healthz`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Health {
    Ok,
    Degraded(String),
    Faulted(String),
}

/// One line of compliance evidence: something in the data that shows a requirement in use.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// Catalogue key of the requirement item (from the guide row).
    pub item_key: &'static str,
    /// Whether the data shows the item in use.
    pub met: bool,
    /// Rendered detail, e.g. "12 certificates on file, 2 expiring".
    pub detail: String,
}

/// How a key figure stands: what a park or group platform colours it by.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Normal,
    /// Something is due or late: someone should look today.
    Attention,
    /// Something the rules forbid or a life-safety condition holds now.
    Danger,
}

/// One of a module's key figures, published northbound for the park's board
/// ([`Module::figures`]). `key` is stable (`hazards_overdue`): the metric is
/// `<module>/<key>` and its label the catalogue's `figure.<module>.<key>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub key: &'static str,
    pub value: f64,
    pub standing: Standing,
}

impl Figure {
    /// A count that is normal at zero and `standing` above.
    pub fn count(key: &'static str, n: usize, above_zero: Standing) -> Figure {
        Figure {
            key,
            value: n as f64,
            standing: if n > 0 { above_zero } else { Standing::Normal },
        }
    }
}

/// A built-in module. Implementations live in `modules/<id>/mod.rs`.
pub trait Module: Send + Sync + 'static {
    /// Stable id, also the URL segment (`/safety`, `/api/v1/safety`) and permission prefix.
    fn id(&self) -> &'static str;
    /// The module's row of the guide.
    fn guide(&self) -> &'static GuideEntry {
        catalogue::entry(self.id()).expect("built-in modules are in the guide catalogue")
    }
    /// Name in the given language.
    fn name(&self, lang: Lang) -> String {
        crate::i18n::t(lang, &self.guide().name_key()).to_string()
    }
    fn kind(&self) -> Kind {
        self.guide().kind
    }
    /// Enterprise types whose acceptance requires the module.
    fn required_for(&self) -> &'static [EnterpriseType] {
        self.guide().required_for
    }
    /// Permissions this module checks, with what each level means here.
    fn permissions(&self) -> &'static [PermissionDef];
    /// Pages and JSON API, registered with absolute paths, all under [`Module::prefixes`].
    fn routes(&self, cfg: &mut actix_web::web::ServiceConfig);
    /// The path prefixes the module's routes live under (`/safety`, `/api/v1/safety`). While
    /// the module is switched off, requests under them answer 404.
    fn prefixes(&self) -> &'static [&'static str];
    /// The module's OpenAPI paths (absolute).
    fn openapi(&self) -> utoipa::openapi::OpenApi;
    /// Menu entries (absolute hrefs).
    fn menu(&self) -> Vec<MenuEntry>;
    fn health(&self, app: &App) -> Health;
    /// Evidence for the compliance page, per requirement item of the module's guide row.
    fn evidence(&self, app: &App, lang: Lang) -> Vec<Evidence>;
    /// Checks run about once a minute while the module is enabled: raise and clear the
    /// module's alarms (certificate expiry, overdue permits…).
    fn periodic(&self, _app: &App) -> crate::error::Result<()> {
        Ok(())
    }
    /// Another module's event (`inventory.received`…), delivered synchronously right after
    /// the commit that caused it, to every enabled module. A module reacts by calling its
    /// own service (the quality module opens the incoming sample of a receipt); an error is
    /// logged, and the module's `periodic` check must be able to catch up on what it missed.
    fn on_event(
        &self,
        _app: &App,
        _kind: &str,
        _data: &serde_json::Value,
    ) -> crate::error::Result<()> {
        Ok(())
    }
    /// A write to the process about to be sent (from any page, the API or a plugin): an
    /// error refuses it with the reason, and nothing is written (the automation module's
    /// control rules: steps, intervals, interlocks).
    fn check_write(
        &self,
        _app: &App,
        _tag: &crate::tags::model::Tag,
        _value: f64,
    ) -> crate::error::Result<()> {
        Ok(())
    }
    /// The module's key figures now (open hazards, permits in progress…), which the box
    /// publishes northbound for a park or group to see beside other plants' (`northbound`'s
    /// `summary` device). Called every few seconds while northbound publishing is on:
    /// counts from the module's own service, nothing slow.
    fn figures(&self, _app: &App) -> crate::error::Result<Vec<Figure>> {
        Ok(Vec::new())
    }
    /// Adds the module's part of the demo plant.
    fn seed_demo(&self, app: &App) -> crate::error::Result<()>;
    /// Starts what the module runs in the background while the appliance serves (live
    /// feeds, tickers), once, after the server listens. Tasks check whether the module is
    /// enabled as they go.
    fn start(&self, _app: std::sync::Arc<App>) {}
}

/// What the console shows for a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    NotInstalled,
    Enabled,
    Disabled,
    Faulted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Switch {
    enabled: bool,
    changed_ms: i64,
    changed_by: String,
}

const SWITCHES: Table<String, Switch> = Table::new("registry.modules");

/// The system areas: permissions without a switch.
pub const SYSTEM_AREAS: [&str; 2] = ["admin", "audit"];

pub struct Registry {
    modules: Vec<Arc<dyn Module>>,
    enabled: RwLock<HashMap<&'static str, bool>>,
}

impl Registry {
    /// Builds the registry over the built-in modules and loads their switches.
    pub fn new(store: &Store, modules: Vec<Arc<dyn Module>>) -> crate::error::Result<Registry> {
        for m in &modules {
            assert!(
                GUIDE.iter().any(|g| g.id == m.id()),
                "module {} is not in the guide catalogue",
                m.id()
            );
        }
        let r = store.read()?;
        let mut enabled = HashMap::new();
        for m in &modules {
            let on = r
                .get(&SWITCHES, &m.id().to_string())?
                .is_none_or(|s| s.enabled);
            enabled.insert(m.id(), on);
        }
        Ok(Registry {
            modules,
            enabled: RwLock::new(enabled),
        })
    }

    pub fn modules(&self) -> &[Arc<dyn Module>] {
        &self.modules
    }

    pub fn module(&self, id: &str) -> Option<&Arc<dyn Module>> {
        self.modules.iter().find(|m| m.id() == id)
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        self.enabled
            .read()
            .expect("registry lock is never poisoned")
            .get(id)
            .copied()
            .unwrap_or(false)
    }

    /// The state the console shows.
    pub fn state(&self, app: &App, id: &str) -> State {
        match self.module(id) {
            // X modules are plugins
            None => app
                .plugins
                .serving(app, id)
                .map_or(State::NotInstalled, |(_, s)| s),
            Some(_) if !self.is_enabled(id) => State::Disabled,
            Some(m) => match m.health(app) {
                Health::Faulted(_) => State::Faulted,
                _ => State::Enabled,
            },
        }
    }

    /// The switched-off module whose routes `path` belongs to, if any.
    pub fn disabled_owner(&self, path: &str) -> Option<&'static str> {
        self.modules
            .iter()
            .filter(|m| !self.is_enabled(m.id()))
            .find(|m| {
                m.prefixes().iter().any(|p| {
                    path == *p
                        || (path.starts_with(p) && path.as_bytes().get(p.len()) == Some(&b'/'))
                })
            })
            .map(|m| m.id())
    }

    /// Every id permissions can name: the guide's modules and the system areas.
    pub fn permission_targets(&self) -> Vec<(&'static str, Kind)> {
        let mut v: Vec<(&'static str, Kind)> = GUIDE.iter().map(|g| (g.id, g.kind)).collect();
        v.extend(SYSTEM_AREAS.iter().map(|a| (*a, Kind::System)));
        v
    }

    /// Switches a module on or off, audited. Returns a compliance warning when the
    /// enterprise type requires the module being switched off.
    pub fn set_enabled(
        &self,
        store: &Store,
        actor: &Actor,
        id: &str,
        on: bool,
    ) -> crate::error::Result<Option<Msg>> {
        let Some(m) = self.module(id) else {
            return Err(crate::error::Error::not_found("registry.err.not_installed"));
        };
        let mut w = store.write(actor)?;
        let before = w.get(&SWITCHES, &id.to_string())?.is_none_or(|s| s.enabled);
        let etype = crate::org::service::enterprise_type(&w)?;
        if before == on {
            // already in that state: nothing to change, nothing to audit
            return Ok(compliance_warning(id, on, etype));
        }
        w.insert(
            &SWITCHES,
            &id.to_string(),
            &Switch {
                enabled: on,
                changed_ms: crate::util::now_ms(),
                changed_by: actor.label(),
            },
        )?;
        w.audit(
            if on {
                "registry.module.enable"
            } else {
                "registry.module.disable"
            },
            format!("module:{id}"),
            Change::updated(
                serde_json::json!({ "enabled": before }),
                serde_json::json!({ "enabled": on }),
            ),
        );
        w.commit()?;
        self.enabled
            .write()
            .expect("registry lock is never poisoned")
            .insert(m.id(), on);
        Ok(compliance_warning(id, on, etype))
    }

    /// Reloads switches from the store (after a restore).
    pub fn reload(&self, store: &Store) -> crate::error::Result<()> {
        let r = store.read()?;
        let mut map = self
            .enabled
            .write()
            .expect("registry lock is never poisoned");
        for m in &self.modules {
            let on = r
                .get(&SWITCHES, &m.id().to_string())?
                .is_none_or(|s| s.enabled);
            map.insert(m.id(), on);
        }
        Ok(())
    }
}

/// The warning shown when a module the enterprise type requires is off.
pub fn compliance_warning(id: &str, on: bool, etype: Option<EnterpriseType>) -> Option<Msg> {
    let g = catalogue::entry(id)?;
    let t = etype?;
    (!on && g.required_for.contains(&t)).then(|| {
        Msg::new("registry.warn.required")
            .arg_key("module", g.name_key())
            .arg_key("type", t.name_key())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabling_a_required_module_warns() {
        assert!(compliance_warning("safety", false, Some(EnterpriseType::OutsidePark)).is_some());
        assert!(compliance_warning("quality", false, Some(EnterpriseType::OutsidePark)).is_none());
        assert!(compliance_warning("quality", false, Some(EnterpriseType::NewEntrant)).is_some());
        assert!(compliance_warning("quality", true, Some(EnterpriseType::NewEntrant)).is_none());
        assert!(compliance_warning("energy", false, Some(EnterpriseType::InPark)).is_none());
        assert!(compliance_warning("safety", false, None).is_none());
    }
}
