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
pub mod permit_model;
pub mod permit_service;
pub mod permits;
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

    fn periodic(&self, app: &App) -> crate::error::Result<()> {
        certificate_alarms(app)
    }

    fn seed_demo(&self, app: &App) -> crate::error::Result<()> {
        demo::seed(app)
    }
}

/// Alarm source of a certificate's due date.
fn cert_source(id: u64) -> String {
    format!("safety.certificate:{id}")
}

/// Raises an alarm for every expired (high priority) and expiring (low) document of the
/// archive and clears the alarms of documents renewed or deleted since.
pub fn certificate_alarms(app: &App) -> crate::error::Result<()> {
    use crate::alarms::model::{Priority, Text};
    let today = service::today(app.offset);
    let r = app.store.read()?;
    let kinds = service::kinds(&r)?;
    let certs = service::certificates(&r, today, &service::Filter::default())?;
    drop(r);
    let mut raised = std::collections::HashSet::new();
    for c in &certs {
        let priority = match c.status {
            model::Status::Expired => Priority::High,
            model::Status::Expiring => Priority::Low,
            _ => continue,
        };
        let kind = kinds.iter().find(|k| k.id == c.cert.kind);
        let text = |lang: Lang| {
            let name = kind
                .map(|k| match lang {
                    Lang::ZhCn => k.name_zh.clone(),
                    Lang::En => k.name_en.clone(),
                })
                .unwrap_or_else(|| c.cert.kind.clone());
            let key = match (c.status, c.due_reason) {
                (model::Status::Expired, _) => "safety.alarm.expired",
                (_, Some(model::DueReason::PeriodicUpdate)) => "safety.alarm.update_due",
                _ => "safety.alarm.expiring",
            };
            Msg::new(key)
                .arg("kind", name)
                .arg("number", &c.cert.number)
                .arg("holder", &c.cert.holder)
                .arg("due", c.due.as_deref().unwrap_or(""))
                .arg("days", c.days_left.unwrap_or(0).abs())
                .render(lang)
        };
        let source = cert_source(c.cert.id);
        let message = Text {
            zh: text(Lang::ZhCn),
            en: text(Lang::En),
        };
        app.alarms
            .raise_external(&source, priority, &message, "safety")?;
        raised.insert(source);
    }
    for source in app.alarms.external_sources("safety.certificate:") {
        if !raised.contains(&source) {
            app.alarms.clear_external(&source);
        }
    }
    Ok(())
}
