//! 进销存 (purchase, sales and inventory), 附件2 row 3, with the hazardous-chemical ledgers.
//!
//! - `model`: materials, warehouses and locations, partners, lots, movements, balances,
//!   storage rules, settings;
//! - `rules`: what stock may do, as pure functions (units, CAS, GB 15603 incompatibility,
//!   dedicated stores, lots that may not leave, negative stock, licences, credit, FEFO);
//! - `service`: the only writer of the `inventory.*` tables (`store.rs`): master data, lots,
//!   and the ledger, which posts each movement with its balances in one transaction;
//! - `routes`: pages and the JSON API; `demo`: the demo plant's stores and stock.
//!
//! Other modules and plugins use [`post`] (checked by the same rules as the console, and
//! announced as `inventory.*` events) and [`service::set_lot_quality`].

mod demo;
pub mod model;
pub mod orders_routes;
pub mod routes;
pub mod rules;
pub mod service;
pub mod sheet;
mod store;

use crate::alarms::model::{Priority, Text};
use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{Lang, Msg};
use crate::registry::{Evidence, Health, MenuEntry, Module, PermissionDef};
use crate::store::Actor;

pub struct Inventory;

const PERMISSIONS: &[PermissionDef] = &[
    PermissionDef {
        level: Level::Read,
        description_key: "inventory.perm.read",
    },
    PermissionDef {
        level: Level::Write,
        description_key: "inventory.perm.write",
    },
    PermissionDef {
        level: Level::Approve,
        description_key: "inventory.perm.approve",
    },
];

impl Module for Inventory {
    fn id(&self) -> &'static str {
        "inventory"
    }

    fn permissions(&self) -> &'static [PermissionDef] {
        PERMISSIONS
    }

    fn routes(&self, cfg: &mut actix_web::web::ServiceConfig) {
        routes::configure(cfg);
        orders_routes::configure(cfg);
        sheet::configure(cfg)
    }

    fn prefixes(&self) -> &'static [&'static str] {
        &["/inventory", "/api/v1/inventory"]
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        let mut doc = <routes::Doc as utoipa::OpenApi>::openapi();
        doc.merge(<orders_routes::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<sheet::Doc as utoipa::OpenApi>::openapi());
        doc
    }

    fn menu(&self) -> Vec<MenuEntry> {
        let e = |label_key, href: &str| MenuEntry {
            label_key,
            href: href.into(),
            level: Level::Read,
        };
        vec![
            e("inventory.menu.stock", "/inventory/stock"),
            e("inventory.menu.movements", "/inventory/movements"),
            e("inventory.menu.purchase", "/inventory/purchase-orders"),
            e("inventory.menu.sales", "/inventory/sales-orders"),
            e("inventory.menu.counts", "/inventory/counts"),
            e("inventory.menu.analysis", "/inventory/analysis"),
            e("inventory.menu.finance", "/inventory/finance"),
            e("inventory.menu.materials", "/inventory/materials"),
            e("inventory.menu.warehouses", "/inventory/warehouses"),
            e("inventory.menu.partners", "/inventory/partners"),
            e("inventory.menu.sheet", "/inventory/sheet"),
            e("inventory.menu.settings", "/inventory/settings"),
        ]
    }

    fn start(&self, app: std::sync::Arc<App>) {
        // pivot rows for a ledger from before they existed (once)
        match service::analysis::fill_pivot_rows(&app.store) {
            Ok(0) => {}
            Ok(n) => tracing::info!(movements = n, "inventory pivot rows filled in"),
            Err(e) => tracing::error!(error = %e, "inventory pivot rows not filled in"),
        }
    }

    fn health(&self, app: &App) -> Health {
        match app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| service::counts(&r))
        {
            Ok(c) if c.pending > 0 => Health::Degraded(format!(
                "{} 剧毒 movements wait for a second custodian",
                c.pending
            )),
            Ok(_) => Health::Ok,
            Err(e) => Health::Faulted(e.to_string()),
        }
    }

    fn evidence(&self, app: &App, lang: Lang) -> Vec<Evidence> {
        let Ok((c, o)) = app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| Ok((service::counts(&r)?, service::orders::counts(&r)?)))
        else {
            return Vec::new();
        };
        vec![
            Evidence {
                item_key: "module.inventory.item.purchase",
                met: o.purchase_orders > 0 && o.received_lines > 0,
                detail: Msg::new("inventory.evidence.purchase")
                    .arg("orders", o.purchase_orders)
                    .arg("received", o.received_lines)
                    .arg("requisitions", o.requisitions)
                    .render(lang),
            },
            Evidence {
                item_key: "module.inventory.item.sales",
                met: o.sales_orders > 0 && o.customers_with_limit > 0,
                detail: Msg::new("inventory.evidence.sales")
                    .arg("orders", o.sales_orders)
                    .arg("limits", o.customers_with_limit)
                    .arg("held", o.credit_holds)
                    .arg("register", o.register_entries)
                    .render(lang),
            },
            Evidence {
                item_key: "module.inventory.item.stock",
                met: c.materials > 0 && c.movements > 0,
                detail: Msg::new("inventory.evidence.stock")
                    .arg("materials", c.materials)
                    .arg("hazmat", c.hazmat)
                    .arg("movements", c.movements)
                    .arg("lots", c.lots)
                    .render(lang),
            },
        ]
    }

    fn periodic(&self, app: &App) -> crate::error::Result<()> {
        stock_alerts(app)
    }

    fn seed_demo(&self, app: &App) -> crate::error::Result<()> {
        demo::seed(app)
    }
}

/// What posting needs from the box now: the plant's day and whether the quality module
/// holds receipts.
pub fn posting(app: &App) -> service::Posting {
    service::Posting {
        now_ms: crate::util::now_ms(),
        today: crate::plant_time::today(app.offset),
        quality_on: app.registry.module("quality").is_some() && app.registry.is_enabled("quality"),
    }
}

/// Posts a movement for the console, the API, another module or a plugin (the same rules
/// for all) and announces it on the plugin event feed.
pub fn post(
    app: &App,
    actor: &Actor,
    input: service::MoveInput,
) -> crate::error::Result<service::Posted> {
    let p = service::post(&app.store, actor, input, posting(app))?;
    announce(app, &p.movement);
    Ok(p)
}

/// Checks a movement by every rule `post` applies, writing nothing.
pub fn check(app: &App, actor: &Actor, input: service::MoveInput) -> crate::error::Result<()> {
    service::check(&app.store, actor, input, posting(app))
}

/// Sets a lot's quality status from the console or the API. While the quality module is on,
/// a lot under test is released only by deciding its sample there.
pub fn set_lot_quality(
    app: &App,
    actor: &Actor,
    id: u64,
    q: model::LotQuality,
    note: &str,
) -> crate::error::Result<model::Lot> {
    if q == model::LotQuality::Released && app.registry.is_enabled("quality") {
        let r = app.store.read()?;
        let samples = crate::modules::quality::service::lot_samples(&r, id)?;
        if let Some(s) = samples.iter().find(|s| !s.state.closed()) {
            return Err(crate::error::Error::Conflict(
                Msg::new("inventory.err.lot_under_test").arg("sample", &s.number),
            ));
        }
        // a lot the lab rejected is scrapped or returned, not released from the store
        let rejected = samples
            .iter()
            .find(|s| s.state == crate::modules::quality::model::SampleState::Rejected);
        if let Some(s) = rejected
            && service::lot(&r, id)?.quality == model::LotQuality::Rejected
        {
            return Err(crate::error::Error::Conflict(
                Msg::new("inventory.err.lot_rejected_by_lab").arg("sample", &s.number),
            ));
        }
    }
    service::set_lot_quality(&app.store, actor, id, q, note)
}

/// The second custodian's confirmation of a 剧毒 movement, announced once posted.
pub fn confirm(app: &App, actor: &Actor, id: u64) -> crate::error::Result<model::Movement> {
    let m = service::confirm(&app.store, actor, id, posting(app))?;
    announce(app, &m);
    Ok(m)
}

/// `inventory.moved` for every posted movement, and `inventory.received` /
/// `inventory.shipped` for receipts and deliveries.
pub fn announce(app: &App, m: &model::Movement) {
    if m.state != model::MoveState::Posted {
        return;
    }
    let value = serde_json::json!({
        "id": m.id,
        "kind": m.kind.id(),
        "material": m.material,
        "lot": m.lot,
        "from": m.from,
        "to": m.to,
        "qty": m.qty,
        "reference": m.reference,
    });
    let data = value.to_string();
    let mut kinds = vec!["inventory.moved"];
    match m.kind {
        model::MoveKind::Receipt => kinds.push("inventory.received"),
        model::MoveKind::Delivery => kinds.push("inventory.shipped"),
        _ => {}
    }
    for kind in kinds {
        app.dispatch("inventory", kind, &value);
        app.plugins
            .publish_event(crate::plugins::runtime::wit::Event {
                kind: kind.into(),
                source: "inventory".into(),
                ts_ms: m.posted_ms.unwrap_or(m.ts_ms),
                data: data.clone(),
            });
    }
}

fn texts(msg: &Msg) -> Text {
    Text {
        zh: msg.render(Lang::ZhCn),
        en: msg.render(Lang::En),
    }
}

/// Shortage (below safety stock), overstock (above maximum), lots near or past expiry and
/// slow-moving stock, raised as alerts to the warehouse (holders of the module's write level)
/// and cleared when their cause is gone: buying and issuing stock is not an operator's
/// response to the process.
pub fn stock_alerts(app: &App) -> crate::error::Result<()> {
    let today = crate::plant_time::today(app.offset);
    let now = crate::util::now_ms();
    let r = app.store.read()?;
    let s = service::settings(&r)?;
    let mats = service::materials(&r)?;
    let totals = service::totals(&r)?;
    let mut standing = Vec::new();
    for m in mats.iter().filter(|m| m.active) {
        let have = totals.get(&m.id).copied().unwrap_or(0.0);
        if m.safety_stock > 0.0 && have < m.safety_stock - rules::EPS {
            let msg = Msg::new("inventory.alarm.shortage")
                .arg("code", &m.code)
                .arg("name", &m.name)
                .arg("have", rules::round3(have))
                .arg("min", m.safety_stock)
                .arg("unit", &m.base_unit);
            standing.push((
                format!("inventory.shortage:{}", m.id),
                Priority::Medium,
                texts(&msg),
            ));
        }
        if m.max_stock > 0.0 && have > m.max_stock + rules::EPS {
            let msg = Msg::new("inventory.alarm.overstock")
                .arg("code", &m.code)
                .arg("name", &m.name)
                .arg("have", rules::round3(have))
                .arg("max", m.max_stock)
                .arg("unit", &m.base_unit);
            standing.push((
                format!("inventory.overstock:{}", m.id),
                Priority::Low,
                texts(&msg),
            ));
        }
    }
    let rows = service::stock(&r, &service::StockFilter::default(), today)?;
    let mut lots_seen = std::collections::HashSet::new();
    for row in rows.iter().filter(|x| x.balance.qty > rules::EPS) {
        if let Some(d) = row.days_left
            && d <= i64::from(s.near_expiry_days)
            && lots_seen.insert(row.balance.lot)
        {
            let (key, priority) = if d < 0 {
                ("inventory.alarm.expired", Priority::High)
            } else {
                ("inventory.alarm.near_expiry", Priority::Low)
            };
            let msg = Msg::new(key)
                .arg("code", &row.material_code)
                .arg("lot", &row.lot_number)
                .arg("day", row.expires.as_deref().unwrap_or(""))
                .arg("days", d);
            standing.push((
                format!("inventory.expiry:{}", row.balance.lot),
                priority,
                texts(&msg),
            ));
        }
        let idle_days = (now - row.balance.last_move_ms) / 86_400_000;
        if idle_days >= i64::from(s.slow_moving_days) {
            let msg = Msg::new("inventory.alarm.slow")
                .arg("code", &row.material_code)
                .arg("lot", &row.lot_number)
                .arg("location", &row.location_code)
                .arg("days", idle_days);
            standing.push((
                format!(
                    "inventory.slow:{}:{}",
                    row.balance.lot, row.balance.location
                ),
                Priority::Low,
                texts(&msg),
            ));
        }
    }
    drop(r);
    let standing = standing
        .into_iter()
        .map(|(source, priority, text): (String, Priority, Text)| {
            // lots have their own page; materials are found on the stock page
            let link = match source.strip_prefix("inventory.expiry:") {
                Some(lot) => format!("/inventory/lots/{lot}"),
                None => match source.strip_prefix("inventory.slow:") {
                    Some(rest) => format!(
                        "/inventory/lots/{}",
                        rest.split(':').next().unwrap_or_default()
                    ),
                    None => "/inventory/stock".into(),
                },
            };
            crate::alerts::Raise {
                source,
                priority,
                text,
                link,
                route: crate::alerts::Route::holders("inventory", crate::auth::model::Level::Write),
            }
        })
        .collect();
    let prefixes = [
        "inventory.shortage:",
        "inventory.overstock:",
        "inventory.expiry:",
        "inventory.slow:",
    ];
    // these were alarms before: a store written then keeps none of them
    app.alarms.retire_external(&prefixes)?;
    app.sync_alerts("inventory", &prefixes, standing)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::model::*;

    pub fn toluene() -> Material {
        Material {
            id: 1,
            code: "RM-TOL".into(),
            name: "甲苯".into(),
            spec: "工业级 99.5%".into(),
            category: Default::default(),
            base_unit: "kg".into(),
            units: vec![UnitConv {
                unit: "桶".into(),
                factor: 170.0,
            }],
            cas: "108-88-3".into(),
            ghs: vec!["flam_liq_2".into()],
            hazmat: true,
            highly_toxic: false,
            precursor_class: 3,
            explosive_precursor: false,
            storage_group: "flammable_liquid".into(),
            shelf_life_days: 365,
            safety_stock: 500.0,
            reorder_point: 1000.0,
            max_stock: 20_000.0,
            unit_cost: 6.5,
            list_price: 8.5,
            floor_price: 7.5,
            active: true,
            inspect: true,
        }
    }

    pub fn lot(material: u64, expires: &str) -> Lot {
        Lot {
            id: 1,
            material,
            number: "L1".into(),
            supplier_lot: String::new(),
            supplier: None,
            purchase_order: None,
            received_ms: 0,
            expires: Some(expires.into()),
            quality: LotQuality::Released,
            quality_note: String::new(),
            quality_by: String::new(),
        }
    }

    pub fn licence(kind: LicenceKind, expires: &str) -> Licence {
        Licence {
            kind,
            number: "浙杭安经字[2024]000123".into(),
            expires: expires.into(),
        }
    }

    pub fn customer() -> Partner {
        Partner {
            id: 1,
            code: "C-01".into(),
            name: "杭州某涂料有限公司".into(),
            role: PartnerRole::Customer,
            credit_code: "91330781MA2E8K4Q7J".into(),
            address: "浙江省杭州市余杭区文一西路 1 号".into(),
            licences: vec![],
            credit_limit: 100_000.0,
            credit_policy: CreditPolicy::Approve,
            payment_days: 30,
            contacts: vec![],
            prices: vec![],
        }
    }
}
