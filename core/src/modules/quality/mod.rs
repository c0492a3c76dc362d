//! 质量管理 (quality), 附件2 row 5: samples, formulas, automatic judgement, holds, SPC.
//!
//! - `formula`: the formula language (parse, check, compile, evaluate; GB/T 8170 rounding);
//! - `rules`: judgement against specifications and SPC (I-MR, X̄-R, Cp/Cpk, Western
//!   Electric), as pure functions;
//! - `service`: the only writer of the `quality.*` tables (`store.rs`); it holds and
//!   releases lots through inventory's service, in the same transaction;
//! - `routes`: the JSON API; `pages`: the console's pages (results entered on phones).
//!
//! It listens to inventory's `inventory.received`: a receipt of a material under incoming
//! inspection (held on arrival by inventory) opens its incoming sample here.

mod demo;
pub mod formula;
pub mod model;
pub mod pages;
pub mod routes;
pub mod rules;
pub mod service;
mod store;

use crate::alarms::model::{Priority, Text};
use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{Lang, Msg};
use crate::registry::{Evidence, Figure, Health, MenuEntry, Module, PermissionDef, Standing};
use crate::store::Actor;

pub struct Quality;

const PERMISSIONS: &[PermissionDef] = &[
    PermissionDef {
        level: Level::Read,
        description_key: "quality.perm.read",
    },
    PermissionDef {
        level: Level::Write,
        description_key: "quality.perm.write",
    },
    PermissionDef {
        level: Level::Approve,
        description_key: "quality.perm.approve",
    },
];

impl Module for Quality {
    fn id(&self) -> &'static str {
        "quality"
    }

    fn permissions(&self) -> &'static [PermissionDef] {
        PERMISSIONS
    }

    fn routes(&self, cfg: &mut actix_web::web::ServiceConfig) {
        pages::configure(cfg);
        routes::configure(cfg);
    }

    fn prefixes(&self) -> &'static [&'static str] {
        &["/quality", "/api/v1/quality"]
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <routes::Doc as utoipa::OpenApi>::openapi()
    }

    fn menu(&self) -> Vec<MenuEntry> {
        let e = |label_key, href: &str| MenuEntry {
            label_key,
            href: href.into(),
            level: Level::Read,
        };
        vec![
            e("quality.menu.samples", "/quality/samples"),
            e(
                "quality.menu.nonconforming",
                "/quality/samples?state=nonconforming",
            ),
            e("quality.menu.ncrs", "/quality/ncrs"),
            e("quality.menu.spc", "/quality/spc"),
            e("quality.menu.items", "/quality/items"),
            e("quality.menu.specs", "/quality/specs"),
        ]
    }

    fn health(&self, app: &App) -> Health {
        match app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| service::counts(&r))
        {
            Ok(_) => Health::Ok,
            Err(e) => Health::Faulted(e.to_string()),
        }
    }

    fn evidence(&self, app: &App, lang: Lang) -> Vec<Evidence> {
        let Ok(c) = app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| service::counts(&r))
        else {
            return Vec::new();
        };
        vec![
            Evidence {
                item_key: "module.quality.item.records",
                met: c.points > 0 && c.samples > 0,
                detail: Msg::new("quality.evidence.records")
                    .arg("points", c.points)
                    .arg("samples", c.samples)
                    .arg("items", c.items)
                    .render(lang),
            },
            Evidence {
                item_key: "module.quality.item.formulas",
                met: c.formulas > 0,
                detail: Msg::new("quality.evidence.formulas")
                    .arg("formulas", c.formulas)
                    .render(lang),
            },
            Evidence {
                item_key: "module.quality.item.judgement",
                met: c.specs > 0 && c.judged > 0,
                detail: Msg::new("quality.evidence.judgement")
                    .arg("specs", c.specs)
                    .arg("judged", c.judged)
                    .arg("failed", c.failed)
                    .arg("ncrs", c.ncrs)
                    .render(lang),
            },
        ]
    }

    fn on_event(
        &self,
        app: &App,
        kind: &str,
        data: &serde_json::Value,
    ) -> crate::error::Result<()> {
        if kind == "inventory.received"
            && let Some(movement) = data["id"].as_u64()
        {
            service::on_receipt(
                &app.store,
                &Actor::system("quality"),
                movement,
                routes::now(app),
            )?;
        }
        Ok(())
    }

    fn figures(&self, app: &App) -> crate::error::Result<Vec<Figure>> {
        use model::SampleState;
        let r = app.store.read()?;
        let samples = service::samples(&r)?;
        let n = |st: SampleState| samples.iter().filter(|s| s.state == st).count();
        let open_ncrs = service::ncrs(&r)?
            .iter()
            .filter(|n| n.closed_ms.is_none())
            .count();
        Ok(vec![
            Figure::count("samples_pending", n(SampleState::Pending), Standing::Normal),
            // a failed sample holds its lot until someone decides
            Figure::count(
                "samples_failed",
                n(SampleState::Failed),
                Standing::Attention,
            ),
            // an open report has no due date: shown, not a standing of its own
            Figure::count("ncrs_open", open_ncrs, Standing::Normal),
        ])
    }

    fn periodic(&self, app: &App) -> crate::error::Result<()> {
        service::scheduled(&app.store, &Actor::system("quality"), routes::now(app))?;
        spc_alerts(app)
    }

    fn seed_demo(&self, app: &App) -> crate::error::Result<()> {
        demo::seed(app)
    }
}

fn texts(msg: &Msg) -> Text {
    Text {
        zh: msg.render(Lang::ZhCn),
        en: msg.render(Lang::En),
    }
}

/// Readings considered by the SPC alerts: the latest of each item and product.
const SPC_WINDOW: usize = 50;

/// Western Electric rules broken by the latest reading of an item of a product raise an
/// alert to the quality staff (the lab and QA act on a drifting product, not the control
/// room); it clears once the latest reading breaks none.
pub fn spc_alerts(app: &App) -> crate::error::Result<()> {
    let r = app.store.read()?;
    let items = service::items(&r)?;
    let mut standing = Vec::new();
    let now = crate::util::now_ms();
    for sp in service::specs(&r)? {
        for line in sp
            .lines
            .iter()
            .filter(|l| l.limits.min.is_some() || l.limits.max.is_some())
        {
            let series = service::series(
                &r,
                line.item,
                sp.material,
                sp.stage,
                now - 366 * 86_400_000,
                now + 1,
            )?;
            let tail = &series[series.len().saturating_sub(SPC_WINDOW)..];
            let x: Vec<f64> = tail.iter().map(|p| p.2).collect();
            let Some(c) = rules::imr(&x) else { continue };
            let last = x.len() - 1;
            // the Western Electric rules by number (1: beyond 3σ … 4: eight in a row)
            let broken: Vec<String> = rules::western_electric(&x, c.center, c.sigma)
                .into_iter()
                .filter(|v| v.index == last)
                .map(|v| (v.rule as u8 + 1).to_string())
                .collect();
            if broken.is_empty() {
                continue;
            }
            let keyword = items
                .iter()
                .find(|i| i.id == line.item)
                .map_or("?", |i| i.keyword.as_str());
            let material = crate::modules::inventory::service::material(&r, sp.material)
                .map_or_else(|_| sp.material.to_string(), |m| m.code);
            let msg = Msg::new("quality.alarm.spc")
                .arg("item", keyword)
                .arg("material", material)
                .arg("rules", broken.join(", "));
            let key = format!("quality.spc:{}:{}", line.item, sp.material);
            if !standing.iter().any(|(k, _, _)| *k == key) {
                standing.push((key, Priority::Medium, texts(&msg)));
            }
        }
    }
    drop(r);
    let standing = standing
        .into_iter()
        .map(|(source, priority, text)| crate::alerts::Raise {
            source,
            priority,
            text,
            link: "/quality/spc".into(),
            route: crate::alerts::Route::holders("quality", crate::auth::model::Level::Write),
        })
        .collect();
    // these were alarms before: a store written then keeps none of them
    app.alarms.retire_external(&["quality.spc:"])?;
    app.sync_alerts("quality", &["quality.spc:"], standing)
}

#[cfg(test)]
mod tests;
