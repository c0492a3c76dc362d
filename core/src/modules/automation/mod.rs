//! 生产自动化 (production automation), 附件2 row 2: the process as operators run it. Built
//! so far: the alarm system (ISA-18.2) over the data platform's tags: live alarm list and
//! banner, acknowledge / shelve / suppress / out of service, alarm definitions, journal
//! search and export, and the alarm KPIs (EEMUA 191); safe control (`control.rs`);
//! recipes with verified downloads (`recipes.rs`); units, batches and the electronic batch
//! record with genealogy (`batches.rs`, `record.rs`, API in `batch_api.rs`).
//!
//! The engine itself is `crate::alarms` (every module raises alarms through it); this
//! folder holds the module's registry entry, pages and API (`routes.rs`) and the demo
//! plant's alarm definitions (`demo.rs`).

pub mod batch_api;
mod batch_pages;
pub mod batches;
pub mod control;
mod control_pages;
mod demo;
pub mod notify;
pub mod oee;
mod recipe_form;
pub mod recipes;
pub mod record;
pub mod routes;
mod screen_routes;
pub mod screens;
pub mod shiftlog;
mod unit_form;

use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{Lang, Msg};
use crate::registry::{Evidence, Health, MenuEntry, Module, PermissionDef};

pub struct Automation;

const PERMISSIONS: &[PermissionDef] = &[
    PermissionDef {
        level: Level::Read,
        description_key: "automation.perm.read",
    },
    PermissionDef {
        level: Level::Write,
        description_key: "automation.perm.write",
    },
    PermissionDef {
        level: Level::Approve,
        description_key: "automation.perm.approve",
    },
];

impl Module for Automation {
    fn id(&self) -> &'static str {
        "automation"
    }

    fn permissions(&self) -> &'static [PermissionDef] {
        PERMISSIONS
    }

    fn routes(&self, cfg: &mut actix_web::web::ServiceConfig) {
        notify::configure(cfg);
        control::configure(cfg);
        control_pages::configure(cfg);
        recipes::configure(cfg);
        recipe_form::configure(cfg);
        batch_api::configure(cfg);
        batch_pages::configure(cfg);
        shiftlog::configure(cfg);
        unit_form::configure(cfg);
        screen_routes::configure(cfg);
        oee::configure(cfg);
        routes::configure(cfg)
    }

    fn prefixes(&self) -> &'static [&'static str] {
        &["/automation", "/api/v1/alarms", "/api/v1/automation"]
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        let mut doc = <routes::Doc as utoipa::OpenApi>::openapi();
        doc.merge(<notify::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<control::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<recipes::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<batch_api::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<shiftlog::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<screen_routes::Doc as utoipa::OpenApi>::openapi());
        doc
    }

    fn menu(&self) -> Vec<MenuEntry> {
        vec![
            MenuEntry {
                label_key: "automation.menu.overview",
                href: "/automation".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.screens",
                href: "/automation/screens".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.alarms",
                href: "/automation/alarms".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.batches",
                href: "/automation/batches".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.shift_log",
                href: "/automation/shift-log".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.recipes",
                href: "/automation/recipes".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.control",
                href: "/automation/control".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.journal",
                href: "/automation/journal".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.kpi",
                href: "/automation/kpi".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.defs",
                href: "/automation/defs".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "automation.menu.notify",
                href: "/automation/notify".into(),
                level: Level::Read,
            },
        ]
    }

    fn health(&self, app: &App) -> Health {
        let s = app.alarms.summary();
        if s.unack > 0 {
            Health::Degraded(format!("{} alarms waiting for an operator", s.unack))
        } else {
            Health::Ok
        }
    }

    /// Row 2's evidence: the key process variables of the units under automatic acquisition
    /// (a device, not typed in, reading good now) and under control (set-points a recipe
    /// downloads), process alarms, and batch records in use (batches in the last 30 days).
    fn evidence(&self, app: &App, lang: Lang) -> Vec<Evidence> {
        let r = app.store.read().map_err(crate::error::Error::from);
        let (defs, units, recipes, batches, screens) = match &r {
            Ok(r) => (
                crate::alarms::service::defs(r).unwrap_or_default(),
                batches::units(r).unwrap_or_default(),
                recipes::recipes(r).unwrap_or_default(),
                batches::batches(r).unwrap_or_default(),
                screens::screens(r).unwrap_or_default(),
            ),
            Err(_) => Default::default(),
        };
        let tag_alarms = defs
            .iter()
            .filter(|d| {
                !matches!(
                    d.condition,
                    crate::alarms::model::Condition::External { .. }
                )
            })
            .count();
        let key: Vec<_> = units
            .iter()
            .flat_map(|u| record::key_tags(app, u))
            .collect();
        let acquired = key
            .iter()
            .filter(|t| !matches!(t.source, crate::tags::model::Source::Manual))
            .filter(|t| app.tags.current(t.id).is_some_and(|c| c.quality.is_good()))
            .count();
        let controlled: std::collections::HashSet<u32> = recipes
            .iter()
            .filter(|x| x.state == recipes::RecipeState::Approved)
            .flat_map(|x| x.params.iter().map(|p| p.tag_id))
            .collect();
        let since = crate::util::now_ms() - 30 * 86_400_000;
        let recent = batches.iter().filter(|b| b.started_ms >= since).count();
        let s = app.alarms.summary();
        let pct = |n: usize, of: usize| (n * 100).checked_div(of).unwrap_or(0);
        vec![Evidence {
            item_key: "module.automation.item.process",
            met: tag_alarms > 0
                && !key.is_empty()
                && acquired == key.len()
                && recent > 0
                && !screens.is_empty(),
            detail: Msg::new("automation.evidence.process")
                .arg("defs", tag_alarms)
                .arg("active", s.active)
                .arg("unack", s.unack)
                .arg("units", units.len())
                .arg("acquired", acquired)
                .arg("key", key.len())
                .arg("pct", pct(acquired, key.len()))
                .arg("controlled", controlled.len())
                .arg("batches", recent)
                .arg("screens", screens.len())
                .arg(
                    "bindings",
                    screens.iter().map(|x| x.bindings.len()).sum::<usize>(),
                )
                .render(lang),
        }]
    }

    fn check_write(
        &self,
        app: &App,
        tag: &crate::tags::model::Tag,
        value: f64,
    ) -> crate::error::Result<()> {
        control::check(app, tag, value)
    }

    fn on_event(
        &self,
        app: &App,
        kind: &str,
        data: &serde_json::Value,
    ) -> crate::error::Result<()> {
        if kind == "tags.written"
            && let Some(tag) = data["tag"].as_str()
        {
            control::written(app, tag);
        }
        // an issue (or a return of material) naming a running batch joins its materials
        if kind == "inventory.moved"
            && (data["kind"] == "issue" || data["kind"] == "return")
            && let (Some(id), Some(reference)) = (data["id"].as_u64(), data["reference"].as_str())
        {
            batches::link_issue(app, id, reference)?;
        }
        Ok(())
    }

    fn seed_demo(&self, app: &App) -> crate::error::Result<()> {
        demo::seed(app)
    }

    /// Follows the units' batch-number and phase tags once a second.
    fn start(&self, app: std::sync::Arc<App>) {
        let Some(io) = app.io() else { return };
        io.spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if !app.registry.is_enabled("automation") {
                    continue;
                }
                let a = app.clone();
                let r = tokio::task::spawn_blocking(move || {
                    batches::follow_tags(&a, crate::util::now_ms())
                })
                .await;
                if let Ok(Err(e)) = r {
                    tracing::warn!(error = %e, "batch tags not followed");
                }
            }
        });
    }
}
