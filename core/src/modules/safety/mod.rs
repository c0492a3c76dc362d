//! 安全生产 (safety production), 附件2 row 1, required of every enterprise type.
//!
//! Built so far: the enterprise archive (企业档案): licences, certificates and reports of the
//! enterprise and the certificates of people, with yellow / red status as due dates
//! approach, periodic-update dates per kind, attachments and renewal history.
//! Special work permits, people/vehicle tracking and hidden-danger management follow
//! (issue 5) in this folder.
//!
//! Owns the `safety.*` tables; `service` is their only reader and writer.

mod demo;
pub mod model;
pub mod routes;
pub mod service;
mod store;

use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{Lang, Msg};
use crate::registry::{Evidence, Health, MenuEntry, Module, PermissionDef};

pub struct Safety;

const PERMISSIONS: &[PermissionDef] = &[
    PermissionDef {
        level: Level::Read,
        description_key: "safety.perm.read",
    },
    PermissionDef {
        level: Level::Write,
        description_key: "safety.perm.write",
    },
    PermissionDef {
        level: Level::Approve,
        description_key: "safety.perm.approve",
    },
];

impl Module for Safety {
    fn id(&self) -> &'static str {
        "safety"
    }

    fn permissions(&self) -> &'static [PermissionDef] {
        PERMISSIONS
    }

    fn routes(&self, cfg: &mut actix_web::web::ServiceConfig) {
        routes::configure(cfg)
    }

    fn prefixes(&self) -> &'static [&'static str] {
        &["/safety", "/api/v1/safety"]
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <routes::Doc as utoipa::OpenApi>::openapi()
    }

    fn menu(&self) -> Vec<MenuEntry> {
        vec![
            MenuEntry {
                label_key: "safety.menu.overview",
                href: "/safety".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.certificates",
                href: "/safety/certificates".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.kinds",
                href: "/safety/kinds".into(),
                level: Level::Approve,
            },
        ]
    }

    fn health(&self, app: &App) -> Health {
        match app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| service::kinds(&r))
        {
            Ok(_) => Health::Ok,
            Err(e) => Health::Faulted(e.to_string()),
        }
    }

    fn evidence(&self, app: &App, lang: Lang) -> Vec<Evidence> {
        let today = service::today(app.offset);
        let Ok(s) = app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| service::summary(&r, today))
        else {
            return Vec::new();
        };
        vec![Evidence {
            item_key: "module.safety.item.archive",
            // in use and kept current: documents on file and none of them expired
            met: s.enterprise > 0 && s.expired == 0,
            detail: Msg::new("safety.evidence.archive")
                .arg("total", s.total)
                .arg("enterprise", s.enterprise)
                .arg("person", s.person)
                .arg("expiring", s.expiring)
                .arg("expired", s.expired)
                .render(lang),
        }]
    }

    fn seed_demo(&self, app: &App) -> crate::error::Result<()> {
        demo::seed(app)
    }
}
