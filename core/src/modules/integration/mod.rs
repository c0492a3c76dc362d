//! 数据互通 (data integration), 附件2 row 6: the plant's real-time data, business data and
//! video gathered into one platform that feeds every module.
//!
//! This folder holds the module's registry entry, pages and API (`routes.rs`) and its demo
//! data (`demo.rs`). The platform itself lives beside it because every module uses it:
//! tag model, configuration service and engine in `crate::tags`, device drivers in
//! `crate::drivers`, history in `crate::historian`. Built so far: tags, devices, the
//! simulator, Modbus, MQTT and OPC UA drivers (with browsing), live values (SSE), history
//! with trends and export, the tag sheet, northbound publishing and cameras.

pub mod browse;
mod demo;
pub mod history;
pub mod routes;
pub mod sheet;

use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{Lang, Msg};
use crate::registry::{Evidence, Health, MenuEntry, Module, PermissionDef};

pub struct Integration;

const PERMISSIONS: &[PermissionDef] = &[
    PermissionDef {
        level: Level::Read,
        description_key: "integration.perm.read",
    },
    PermissionDef {
        level: Level::Write,
        description_key: "integration.perm.write",
    },
    PermissionDef {
        level: Level::Approve,
        description_key: "integration.perm.approve",
    },
];

impl Module for Integration {
    fn id(&self) -> &'static str {
        "integration"
    }

    fn permissions(&self) -> &'static [PermissionDef] {
        PERMISSIONS
    }

    fn routes(&self, cfg: &mut actix_web::web::ServiceConfig) {
        routes::configure(cfg)
    }

    fn prefixes(&self) -> &'static [&'static str] {
        &[
            "/integration",
            "/api/v1/tags",
            "/api/v1/devices",
            "/api/v1/stream",
            "/api/v1/northbound",
            "/api/v1/park",
            "/api/v1/tag-sheet",
            "/api/v1/cameras",
        ]
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        let mut doc = <routes::Doc as utoipa::OpenApi>::openapi();
        doc.merge(<crate::northbound::routes::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<crate::park::routes::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<sheet::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<browse::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<crate::cameras::routes::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<crate::cameras::video_routes::Doc as utoipa::OpenApi>::openapi());
        doc
    }

    fn menu(&self) -> Vec<MenuEntry> {
        vec![
            MenuEntry {
                label_key: "integration.menu.overview",
                href: "/integration".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "integration.menu.tags",
                href: "/integration/tags".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "integration.menu.trends",
                href: "/integration/trends".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "integration.menu.devices",
                href: "/integration/devices".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "integration.menu.cameras",
                href: "/integration/cameras".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "integration.menu.northbound",
                href: "/integration/northbound".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "integration.menu.park",
                href: "/integration/park".into(),
                level: Level::Read,
            },
        ]
    }

    fn health(&self, app: &App) -> Health {
        let devices = match app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| crate::tags::service::devices(&r))
        {
            Ok(d) => d,
            Err(e) => return Health::Faulted(e.to_string()),
        };
        let down: Vec<String> = devices
            .iter()
            .filter(|d| d.enabled && !app.drivers.status(d.id).connected)
            .map(|d| d.name.clone())
            .collect();
        if down.is_empty() {
            Health::Ok
        } else {
            Health::Degraded(format!("not connected: {}", down.join(", ")))
        }
    }

    fn evidence(&self, app: &App, lang: Lang) -> Vec<Evidence> {
        let defs = app.tags.defs();
        let ids: Vec<u32> = defs.iter().map(|t| t.id).collect();
        let good = app
            .tags
            .currents(&ids)
            .iter()
            .flatten()
            .filter(|c| c.quality.is_good())
            .count();
        vec![Evidence {
            item_key: "module.integration.item.realtime",
            met: good > 0,
            detail: Msg::new("integration.evidence.realtime")
                .arg("tags", defs.len())
                .arg("good", good)
                .render(lang),
        }]
    }

    fn seed_demo(&self, app: &App) -> crate::error::Result<()> {
        demo::seed(app)
    }
}
