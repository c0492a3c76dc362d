//! 设备管理 (equipment), 附件2 row 4: the ledger, condition monitoring, spare parts and
//! maintenance.
//!
//! - `rules`: ISO 10816-3 vibration zones, the work order life cycle, when plans fall due,
//!   the KPIs — pure functions;
//! - `model`: categories with typed parameters, equipment, zones, work orders, plans;
//! - `service`: the only writer of the `equipment.*` tables (`store.rs`); spare parts leave
//!   stock through inventory's service in the work order's transaction;
//! - `condition`: the running evaluation of bound vibration tags (once a second) and of
//!   urgent alarms on bound tags, which propose work orders;
//! - `routes`: the JSON API; `pages`: the console (phones scan a label, report a fault
//!   with a photo and work their orders); `demo`: the demo plant's machines.

pub mod condition;
mod demo;
pub mod inspection;
pub mod model;
pub mod pages;
pub mod routes;
pub mod rules;
pub mod service;
pub mod sheet;
mod store;

use crate::alarms::model::{Priority, Text};
use crate::alerts::{Raise, Route};
use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{Lang, Msg};
use crate::registry::{Evidence, Figure, Health, MenuEntry, Module, PermissionDef, Standing};
use crate::store::Actor;

pub struct Equipment;

const PERMISSIONS: &[PermissionDef] = &[
    PermissionDef {
        level: Level::Read,
        description_key: "equipment.perm.read",
    },
    PermissionDef {
        level: Level::Write,
        description_key: "equipment.perm.write",
    },
    PermissionDef {
        level: Level::Approve,
        description_key: "equipment.perm.approve",
    },
];

impl Module for Equipment {
    fn id(&self) -> &'static str {
        "equipment"
    }

    fn permissions(&self) -> &'static [PermissionDef] {
        PERMISSIONS
    }

    fn routes(&self, cfg: &mut actix_web::web::ServiceConfig) {
        routes::configure(cfg);
        sheet::configure(cfg);
        inspection::configure(cfg);
        pages::configure(cfg);
    }

    fn prefixes(&self) -> &'static [&'static str] {
        &["/equipment", "/api/v1/equipment"]
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        let mut doc = <routes::Doc as utoipa::OpenApi>::openapi();
        doc.merge(<sheet::Doc as utoipa::OpenApi>::openapi());
        doc.merge(<inspection::Doc as utoipa::OpenApi>::openapi());
        doc
    }

    fn menu(&self) -> Vec<MenuEntry> {
        let e = |label_key, href: &str| MenuEntry {
            label_key,
            href: href.into(),
            level: Level::Read,
        };
        vec![
            e("equipment.menu.board", "/equipment/board"),
            e("equipment.menu.ledger", "/equipment"),
            e("equipment.menu.sheet", "/equipment/sheet"),
            e(
                "equipment.menu.mine",
                "/equipment/work-orders?mine=1&state=open",
            ),
            e("equipment.menu.orders", "/equipment/work-orders?state=open"),
            e("equipment.menu.rounds", "/equipment/rounds"),
            e("equipment.menu.plans", "/equipment/plans"),
            e("equipment.menu.categories", "/equipment/categories"),
        ]
    }

    fn health(&self, app: &App) -> Health {
        match app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| service::counts(&r, crate::plant_time::today(app.offset)))
        {
            Ok(c) if c.in_zone_cd > 0 => {
                Health::Degraded(format!("{} vibration points in zone C or D", c.in_zone_cd))
            }
            Ok(_) => Health::Ok,
            Err(e) => Health::Faulted(e.to_string()),
        }
    }

    fn evidence(&self, app: &App, lang: Lang) -> Vec<Evidence> {
        let Ok(c) = app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| service::counts(&r, crate::plant_time::today(app.offset)))
        else {
            return Vec::new();
        };
        vec![
            Evidence {
                item_key: "module.equipment.item.condition",
                met: c.vibration_tags > 0,
                detail: Msg::new("equipment.evidence.condition")
                    .arg("tags", c.bound_tags)
                    .arg("vibration", c.vibration_tags)
                    .arg("cd", c.in_zone_cd)
                    .render(lang),
            },
            Evidence {
                item_key: "module.equipment.item.ledger",
                met: c.equipment > 0 && c.with_params > 0,
                detail: Msg::new("equipment.evidence.ledger")
                    .arg("equipment", c.equipment)
                    .arg("categories", c.categories)
                    .arg("params", c.with_params)
                    .render(lang),
            },
            Evidence {
                item_key: "module.equipment.item.documents",
                met: c.documents > 0,
                detail: Msg::new("equipment.evidence.documents")
                    .arg("documents", c.documents)
                    .arg("certificates", c.certificates)
                    .arg("expired", c.expired_certificates)
                    .render(lang),
            },
            Evidence {
                item_key: "module.equipment.item.spares",
                met: c.with_bom > 0,
                detail: Msg::new("equipment.evidence.spares")
                    .arg("bom", c.with_bom)
                    .arg("issued", c.parts_issued)
                    .render(lang),
            },
            Evidence {
                item_key: "module.equipment.item.mobile",
                met: c.orders > 0 && c.plans > 0,
                detail: Msg::new("equipment.evidence.mobile")
                    .arg("orders", c.orders)
                    .arg("open", c.open_orders)
                    .arg("faults", c.faults)
                    .arg("plans", c.plans)
                    .render(lang),
            },
        ]
    }

    fn figures(&self, app: &App) -> crate::error::Result<Vec<Figure>> {
        use crate::modules::safety::archive::model::Status;
        use Standing::{Attention, Danger, Normal};
        let r = app.store.read()?;
        let today = crate::plant_time::today(app.offset);
        let c = service::counts(&r, today)?;
        let late = service::overdue(&r, crate::util::now_ms())?.len();
        let (zone_c, zone_d_critical, zone_d) = service::zones_in_service(&r)?;
        // inspection certificates of equipment in use (stopped or scrapped equipment is not
        // due for inspection: TSG 08), the newest of each title (an old one kept beside its
        // renewal is history)
        let in_use: std::collections::HashSet<u64> = service::all_equipment(&r)?
            .into_iter()
            .filter(|e| {
                !matches!(
                    e.status,
                    model::EqStatus::Stopped | model::EqStatus::Scrapped
                )
            })
            .map(|e| e.id)
            .collect();
        let mut newest: std::collections::HashMap<(u64, String), model::Document> =
            std::collections::HashMap::new();
        for d in service::documents::certificates(&r)? {
            if !in_use.contains(&d.equipment) {
                continue;
            }
            let k = (d.equipment, d.title.clone());
            if newest.get(&k).is_none_or(|n| n.due < d.due) {
                newest.insert(k, d);
            }
        }
        let status = |st: Status| {
            newest
                .values()
                .filter(|d| service::documents::status(d, today) == st)
                .count()
        };
        Ok(vec![
            Figure::count("zone_c", zone_c, Attention),
            // zone D: damage may occur; on a machine whose failure stops the plant (A) that
            // is danger, on the others it wants attention (as its alarm's priority does)
            Figure::count("zone_d_critical", zone_d_critical, Danger),
            Figure::count("zone_d", zone_d, Attention),
            Figure::count("orders_open", c.open_orders as usize, Normal),
            Figure::count("orders_overdue", late, Attention),
            // the periodic inspection is applied for a month ahead (TSG 08)
            Figure::count("certificates_expiring", status(Status::Expiring), Attention),
            // special equipment past its inspection must not run
            Figure::count("certificates_expired", status(Status::Expired), Danger),
        ])
    }

    fn periodic(&self, app: &App) -> crate::error::Result<()> {
        // plans fall due in `condition`'s ticker (meters every ten seconds)
        // these were alarms before: a store written then keeps none of them
        app.alarms.retire_external(&[
            "equipment.order:",
            "equipment.route:",
            "equipment.certificate:",
        ])?;
        overdue_alerts(app)?;
        round_alerts(app)?;
        certificate_alerts(app)
    }

    fn seed_demo(&self, app: &App) -> crate::error::Result<()> {
        demo::seed(app)
    }

    fn start(&self, app: std::sync::Arc<App>) {
        condition::start(app)
    }
}

/// The moment of a write, as the service wants it.
pub fn now(app: &App) -> service::Now {
    service::Now {
        ms: crate::util::now_ms(),
        today: crate::plant_time::today(app.offset),
        offset: app.offset,
    }
}

/// A meter tag's reading now (good quality only).
pub fn meter(app: &App, tag: &str) -> Option<f64> {
    let id = app.tags.defs().by_name(tag)?.id;
    let c = app.tags.current(id)?;
    if !c.quality.is_good() {
        return None;
    }
    c.value.and_then(|v| v.as_f64())
}

/// Who is looking at documents, from the request's principal.
pub fn viewer(who: &crate::web::context::Principal) -> service::documents::Viewer {
    service::documents::Viewer {
        department: who.user().and_then(|u| u.department_id),
        roles: who.user().map(|u| u.roles.clone()).unwrap_or_default(),
        approver: who.can("equipment", Level::Approve),
    }
}

/// Whether a user may be given work orders: enabled, and holding the module's write level.
pub fn technician(r: &impl crate::store::Reader, u: &crate::auth::model::User) -> bool {
    let m = [("equipment", crate::registry::Kind::N)];
    u.enabled
        && crate::auth::service::user_grants(r, u, &m)
            .ok()
            .and_then(|g| g.get("equipment").copied())
            .is_some_and(|l| l.has(Level::Write))
}

/// The box as the equipment service sees it.
pub struct AppSite<'a>(pub &'a App);

impl service::Site for AppSite<'_> {
    fn tag_exists(&self, name: &str) -> bool {
        self.0.tags.defs().by_name(name).is_some()
    }
    fn tag_unit(&self, name: &str) -> String {
        self.0
            .tags
            .defs()
            .by_name(name)
            .map(|t| t.unit.clone())
            .unwrap_or_default()
    }
    fn assignable(&self, user: u64) -> Option<String> {
        let r = self.0.store.read().ok()?;
        let u = crate::auth::service::user(&r, user).ok().flatten()?;
        technician(&r, &u).then_some(u.display_name)
    }
    fn meter(&self, tag: &str) -> Option<f64> {
        meter(self.0, tag)
    }
    fn posting(&self) -> crate::modules::inventory::service::Posting {
        crate::modules::inventory::posting(self.0)
    }
}

/// Applies an action to a work order and announces the stock it moved.
pub fn act(
    app: &App,
    actor: &Actor,
    id: u64,
    a: service::ActionInput,
    approver: bool,
) -> crate::error::Result<service::Acted> {
    let done = service::act(&app.store, actor, id, a, approver, &AppSite(app), now(app))?;
    for m in &done.movements {
        crate::modules::inventory::announce(app, m);
    }
    Ok(done)
}

/// The maintenance leads of a machine's department (holders of the module's approve level
/// there), plus `owners`; the module's approvers plant-wide when the machine has no
/// department or the department has no lead.
pub(crate) fn leads_of(
    r: &impl crate::store::Reader,
    equipment: u64,
    owners: Option<u64>,
) -> Route {
    let dept = service::equipment(r, equipment)
        .ok()
        .and_then(|e| e.department);
    Route::holders("equipment", Level::Approve)
        .owners(owners)
        .in_departments(dept)
}

/// An alert for every open work order past its due time — to its assignee and the
/// machine's department's leads — cleared once it is done.
pub fn overdue_alerts(app: &App) -> crate::error::Result<()> {
    let r = app.store.read()?;
    let late = service::overdue(&r, crate::util::now_ms())?;
    let mut standing = Vec::new();
    for o in late {
        let tag_no = service::equipment(&r, o.equipment)
            .map(|e| e.tag_no)
            .unwrap_or_default();
        let priority = match o.priority {
            model::WoPriority::Urgent => Priority::High,
            model::WoPriority::High => Priority::Medium,
            _ => Priority::Low,
        };
        standing.push(Raise {
            source: format!("equipment.order:{}", o.id),
            priority,
            text: Text::of(
                &Msg::new("equipment.alarm.overdue")
                    .arg("number", &o.number)
                    .arg("tag_no", tag_no)
                    .arg("title", &o.title),
            ),
            link: format!("/equipment/work-orders/{}", o.id),
            route: leads_of(&r, o.equipment, o.assignee),
        });
    }
    drop(r);
    app.sync_alerts("equipment", &["equipment.order:"], standing)
}

/// A low alert for every active inspection route whose round is more than an hour late —
/// to the people of the department that walks it — cleared by the next round.
pub fn round_alerts(app: &App) -> crate::error::Result<()> {
    const GRACE_MS: i64 = 3_600_000;
    let r = app.store.read()?;
    let now = crate::util::now_ms();
    let standing = service::inspection::late_routes(&r, now - GRACE_MS)?
        .into_iter()
        .map(|(rt, due)| Raise {
            source: format!("equipment.route:{}", rt.id),
            priority: Priority::Low,
            text: Text::of(
                &Msg::new("equipment.alarm.round_late")
                    .arg("route", &rt.name)
                    .arg("due", crate::plant_time::format_minute(due, app.offset)),
            ),
            link: "/equipment/rounds".into(),
            route: Route::holders("equipment", Level::Write).in_departments(rt.department),
        })
        .collect();
    drop(r);
    app.sync_alerts("equipment", &["equipment.route:"], standing)
}

/// An alert for every inspection certificate past its due date (high) or within its
/// warning days (low) — to the machine's department's leads — cleared once a new
/// certificate date is uploaded.
pub fn certificate_alerts(app: &App) -> crate::error::Result<()> {
    use crate::modules::safety::archive::model::Status;
    let today = crate::plant_time::today(app.offset);
    let r = app.store.read()?;
    let mut standing = Vec::new();
    for d in service::documents::certificates(&r)? {
        let (priority, key) = match service::documents::status(&d, today) {
            Status::Expired => (Priority::High, "equipment.alarm.cert_expired"),
            Status::Expiring => (Priority::Low, "equipment.alarm.cert_expiring"),
            _ => continue,
        };
        let tag_no = service::equipment(&r, d.equipment)
            .map(|e| e.tag_no)
            .unwrap_or_default();
        standing.push(Raise {
            source: format!("equipment.certificate:{}", d.id),
            priority,
            text: Text::of(
                &Msg::new(key)
                    .arg("tag_no", tag_no)
                    .arg("title", &d.title)
                    .arg("due", d.due.clone().unwrap_or_default()),
            ),
            link: format!("/equipment/{}", d.equipment),
            route: leads_of(&r, d.equipment, None),
        });
    }
    drop(r);
    app.sync_alerts("equipment", &["equipment.certificate:"], standing)
}
