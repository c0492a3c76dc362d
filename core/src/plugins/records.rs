//! The records plugins may read (contract 0.2): one collection per kind of record, each
//! behind its module's capability (`records.inventory`, `records.production`…), handed
//! over as JSON objects built here field by field. These objects are the public contract:
//! a field may be added, never renamed or dropped, whatever the modules' own models do —
//! so nothing here serialises a module's struct, only simple enumerations.
//!
//! Every collection reads through its module's service (never its tables). A timed
//! collection reads one window, `[from, to)` in Unix ms on its time field (the last 24
//! hours when none is given), newest first; the others are read whole and cut at the limit.
//!
//! Conventions of the objects: times are Unix ms (`…_ms`), days `YYYY-MM-DD` in plant time,
//! enumerations their snake_case ids, quantities in the material's base unit; related
//! records are named by their codes (material code, lot number, location code, equipment
//! tag number), looked up once per call; a value that is not there is `null`.

use std::cmp::Reverse;
use std::collections::HashMap;

use serde_json::{Value, json};

use super::runtime::wit;
use crate::alarms::service as alarm_log;
use crate::app::App;
use crate::modules::automation::batches as production;
use crate::modules::equipment::service as equipment;
use crate::modules::inventory::service as inventory;
use crate::modules::quality::service as quality;
use crate::modules::safety::hazards::service as hazards;
use crate::modules::safety::people::service as people;
use crate::modules::safety::permits::service as permits;
use crate::store::Reader;
use crate::util::now_ms;

/// One collection plugins may read (contract 0.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// `inventory.movements`
    pub name: &'static str,
    /// The capability a plugin must hold to read it (`records.inventory`).
    pub capability: &'static str,
    /// The registry module that must be switched on (`inventory`); None for the parts of
    /// the box that are always on (alarms).
    pub module: Option<&'static str>,
    /// The field the time window applies to (Unix ms), None: not timed.
    pub time_field: Option<&'static str>,
}

const fn untimed(
    name: &'static str,
    capability: &'static str,
    module: Option<&'static str>,
) -> Collection {
    Collection {
        name,
        capability,
        module,
        time_field: None,
    }
}

const fn timed(
    name: &'static str,
    capability: &'static str,
    module: Option<&'static str>,
    time_field: &'static str,
) -> Collection {
    Collection {
        name,
        capability,
        module,
        time_field: Some(time_field),
    }
}

/// Every collection, in the order `records.collections` lists them. The fields of each
/// are on the function that builds its rows (`materials`, `stock`, `movements`…).
pub const COLLECTIONS: &[Collection] = &[
    untimed(
        "inventory.materials",
        "records.inventory",
        Some("inventory"),
    ),
    untimed("inventory.stock", "records.inventory", Some("inventory")),
    untimed(
        "inventory.locations",
        "records.inventory",
        Some("inventory"),
    ),
    untimed(
        "inventory.sales_orders",
        "records.inventory",
        Some("inventory"),
    ),
    timed(
        "inventory.movements",
        "records.inventory",
        Some("inventory"),
        "ts_ms",
    ),
    timed(
        "production.batches",
        "records.production",
        Some("automation"),
        "started_ms",
    ),
    untimed("production.oee", "records.production", Some("automation")),
    untimed("equipment.assets", "records.equipment", Some("equipment")),
    timed(
        "equipment.work_orders",
        "records.equipment",
        Some("equipment"),
        "created_ms",
    ),
    timed(
        "quality.samples",
        "records.quality",
        Some("quality"),
        "taken_ms",
    ),
    timed(
        "quality.nonconformances",
        "records.quality",
        Some("quality"),
        "opened_ms",
    ),
    timed(
        "safety.permits",
        "records.safety",
        Some("safety"),
        "start_ms",
    ),
    untimed("safety.hazards", "records.safety", Some("safety")),
    untimed("safety.people", "records.safety", Some("safety")),
    untimed("safety.layout", "records.safety", Some("safety")),
    untimed("safety.zones", "records.safety", Some("safety")),
    // named people's whereabouts: a capability of its own, reviewed apart
    untimed("safety.positions", "records.positions", Some("safety")),
    untimed("alarms.active", "records.alarms", None),
    timed("alarms.journal", "records.alarms", None, "ts_ms"),
];

/// The collections `records.pivot` folds, with the fields it may group by, those of them that
/// are times (`<field>:day`, `<field>:month`) and those a measure may fold.
pub type PivotFields = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

pub const PIVOTS: &[PivotFields] = &[
    (
        "inventory.movements",
        crate::modules::inventory::service::analysis::PIVOT_FIELDS,
        crate::modules::inventory::service::analysis::PIVOT_TIMES,
        crate::modules::inventory::service::analysis::PIVOT_NUMBERS,
    ),
    (
        "production.batches",
        &[
            "unit",
            "product",
            "recipe",
            "state",
            "trigger",
            "output_unit",
            "started_ms",
            "ended_ms",
            "planned_qty",
            "output_qty",
            "yield_pct",
        ],
        &["started_ms", "ended_ms"],
        &["planned_qty", "output_qty", "yield_pct"],
    ),
    (
        "equipment.work_orders",
        &[
            "equipment",
            "kind",
            "origin",
            "priority",
            "state",
            "open",
            "stopped",
            "assignee",
            "overdue",
            "created_ms",
            "due_ms",
            "done_ms",
        ],
        &["created_ms", "due_ms", "done_ms"],
        &[],
    ),
    (
        "quality.samples",
        &[
            "material",
            "point",
            "stage",
            "state",
            "verdict",
            "taken_ms",
            "decided_ms",
        ],
        &["taken_ms", "decided_ms"],
        &[],
    ),
    (
        "quality.nonconformances",
        &["material", "disposition", "open", "opened_ms", "closed_ms"],
        &["opened_ms", "closed_ms"],
        &[],
    ),
    (
        "safety.permits",
        &[
            "work",
            "level",
            "state",
            "location",
            "work_unit",
            "workers",
            "start_ms",
            "end_ms",
        ],
        &["start_ms", "end_ms"],
        &["workers"],
    ),
    (
        "alarms.journal",
        &["event", "state", "priority", "tag", "area", "user", "ts_ms"],
        &["ts_ms"],
        &[],
    ),
];

/// The pivot fields of a collection, if it has a pivot.
pub fn pivot_fields(collection: &str) -> Option<&'static PivotFields> {
    PIVOTS.iter().find(|p| p.0 == collection)
}

/// The collection of this name.
pub fn find(name: &str) -> Option<&'static Collection> {
    COLLECTIONS.iter().find(|c| c.name == name)
}

/// At most this many rows a call, whatever limit a plugin asks for.
pub const MAX_ROWS: usize = 10_000;

/// The window of a timed collection read without one: the last 24 hours.
const DEFAULT_WINDOW_MS: i64 = 86_400_000;

/// Work orders are listed a page (50) at a time and each page walks the ones before it:
/// a window is looked for among the newest 40 pages (2 000 orders) at most.
const MAX_ORDER_PAGES: usize = 40;

/// `[from, to)` in Unix ms.
type Span = (i64, i64);

fn within(span: Span, t: i64) -> bool {
    (span.0..span.1).contains(&t)
}

fn failed(e: impl std::fmt::Display) -> wit::Error {
    wit::Error::Failed(e.to_string())
}

/// A module service's refusal, in English.
fn service(e: crate::error::Error) -> wit::Error {
    wit::Error::Failed(e.msg().render(crate::i18n::Lang::En))
}

/// A simple enumeration by its serde name (`"in_progress"`).
fn id_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A plant-local day, `YYYY-MM-DD`.
fn day(ms: i64, offset: time::UtcOffset) -> String {
    crate::plant_time::format_day(crate::plant_time::local(ms, offset).date())
}

/// Lot numbers by lot id, each read once per call.
#[derive(Default)]
struct LotNumbers(HashMap<u64, Option<String>>);

impl LotNumbers {
    fn get(&mut self, r: &impl Reader, id: u64) -> Option<String> {
        self.0
            .entry(id)
            .or_insert_with(|| inventory::lot(r, id).ok().map(|l| l.number))
            .clone()
    }
}

/// Material codes and base units by id.
/// What rows name a material by: its code, base unit, category and standard cost.
#[derive(Clone)]
struct MaterialRef {
    code: String,
    unit: String,
    category: &'static str,
    unit_cost: f64,
}

fn material_codes(r: &impl Reader) -> Result<HashMap<u64, MaterialRef>, wit::Error> {
    Ok(inventory::materials(r)
        .map_err(service)?
        .into_iter()
        .map(|m| {
            let x = MaterialRef {
                code: m.code,
                unit: m.base_unit,
                category: m.category.id(),
                unit_cost: m.unit_cost,
            };
            (m.id, x)
        })
        .collect())
}

/// Rows of a collection, newest first for timed ones. `window`: [from, to) in Unix ms on
/// the collection's time field (only for timed collections; for others pass None). At most
/// `limit` rows (and never more than [`MAX_ROWS`]). `state`: the state the caller filters
/// on, where the module can select by it (work orders: a state id or `open`), so a filter
/// reaches past the newest orders.
pub fn rows(
    app: &App,
    c: &Collection,
    window: Option<(i64, i64)>,
    limit: usize,
    state: Option<&str>,
) -> Result<Vec<Value>, wit::Error> {
    if let Some(module) = c.module
        && !app.registry.is_enabled(module)
    {
        return Err(wit::Error::Failed(format!(
            "the {module} module is switched off"
        )));
    }
    let now = now_ms();
    let span = match (c.time_field, window) {
        (None, None) => (i64::MIN, i64::MAX),
        (None, Some(_)) => {
            return Err(wit::Error::Invalid(format!(
                "{} is not timed: it takes no window",
                c.name
            )));
        }
        (Some(_), None) => (now.saturating_sub(DEFAULT_WINDOW_MS), now.saturating_add(1)),
        (Some(_), Some((from, to))) if from < to => (from, to),
        (Some(_), Some(_)) => {
            return Err(wit::Error::Invalid(
                "the window's start must come before its end".into(),
            ));
        }
    };
    // the caller bounds it: a plugin's query at MAX_ROWS, a pivot at what it folds
    if limit == 0 {
        return Ok(Vec::new());
    }
    let r = app.store.read().map_err(failed)?;
    let mut out = match c.name {
        "inventory.materials" => materials(&r, limit)?,
        "inventory.stock" => stock(&r, app, limit)?,
        "inventory.locations" => locations(&r, limit)?,
        "inventory.sales_orders" => sales_orders(&r, limit)?,
        "inventory.movements" => movements(&r, span, limit)?,
        "production.batches" => batches(&r, span, limit)?,
        "production.oee" => oee_rows(&r, now, limit)?,
        "equipment.assets" => assets(&r, app, limit)?,
        "equipment.work_orders" => work_orders(&r, span, limit, now, state)?,
        "quality.samples" => samples(&r, span, limit)?,
        "quality.nonconformances" => nonconformances(&r, span, limit)?,
        "safety.permits" => permits_rows(&r, app, span, limit)?,
        "safety.hazards" => hazards_rows(&r, app, limit)?,
        "safety.people" => people_rows(&r, limit)?,
        "safety.layout" => layout_rows(&r)?,
        "safety.zones" => zone_rows(&r, app, limit)?,
        "safety.positions" => position_rows(&r, app, now, limit)?,
        "alarms.active" => active_alarms(app, limit),
        "alarms.journal" => journal(&r, span, limit)?,
        other => return Err(wit::Error::NotFound(format!("no collection {other}"))),
    };
    out.truncate(limit);
    Ok(out)
}

// ------------------------------------------------------------------ inventory

/// `inventory.materials` (not timed), in id order:
/// `id`, `code`, `name`, `spec`, `category` (`raw`, `auxiliary`, `intermediate`, `product`,
/// `packaging`, `spare`, `other`), `unit` (the base unit stock is kept in), `cas`,
/// `ghs` (GHS hazard class ids), `hazmat`, `highly_toxic`, `precursor_class` (0–3),
/// `explosive_precursor`, `safety_stock`, `reorder_point`, `max_stock` (base units, 0:
/// none), `shelf_life_days` (0: none), `active`.
/// `inventory.sales_orders` (not timed), the open ones — approved and not fully delivered —
/// oldest first (since 0.3): `id`, `number` (`SO-<id>`), `customer` (partner code),
/// `customer_name`, `kind`, `ship_to`, `created_ms`, `strategy` (`fefo`, `fifo`…),
/// `lines` (`[{line, material (code), material_name, qty, delivered, remaining, unit}]`).
fn sales_orders(r: &impl Reader, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let mats: HashMap<u64, crate::modules::inventory::model::Material> = inventory::materials(r)
        .map_err(service)?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let partners: HashMap<u64, crate::modules::inventory::model::Partner> = inventory::partners(r)
        .map_err(service)?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut orders = inventory::orders::sales_orders(r).map_err(service)?;
    orders.retain(|o| o.state == crate::modules::inventory::model::OrderState::Approved);
    orders.sort_by_key(|o| (o.created_ms, o.id));
    Ok(orders
        .into_iter()
        .filter_map(|o| {
            let lines: Vec<Value> = o
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.qty - l.delivered > 1e-9)
                .map(|(i, l)| {
                    let m = mats.get(&l.material);
                    json!({
                        "line": i,
                        "material": m.map(|m| m.code.clone()),
                        "material_name": m.map(|m| m.name.clone()),
                        "qty": l.qty,
                        "delivered": l.delivered,
                        "remaining": l.qty - l.delivered,
                        "unit": m.map(|m| m.base_unit.clone()),
                    })
                })
                .collect();
            (!lines.is_empty()).then(|| {
                let p = partners.get(&o.customer);
                json!({
                    "id": o.id,
                    "number": format!("SO-{}", o.id),
                    "customer": p.map(|p| p.code.clone()),
                    "customer_name": p.map(|p| p.name.clone()),
                    "kind": o.kind.id(),
                    "ship_to": o.ship_to,
                    "created_ms": o.created_ms,
                    "strategy": id_of(&o.strategy),
                    "lines": lines,
                })
            })
        })
        .take(limit)
        .collect())
}

fn materials(r: &impl Reader, limit: usize) -> Result<Vec<Value>, wit::Error> {
    Ok(inventory::materials(r)
        .map_err(service)?
        .into_iter()
        .take(limit)
        .map(|m| {
            json!({
                "id": m.id,
                "code": m.code,
                "name": m.name,
                "spec": m.spec,
                "category": m.category.id(),
                "unit": m.base_unit,
                "cas": m.cas,
                "ghs": m.ghs,
                "hazmat": m.hazmat,
                "highly_toxic": m.highly_toxic,
                "precursor_class": m.precursor_class,
                "explosive_precursor": m.explosive_precursor,
                "safety_stock": m.safety_stock,
                "reorder_point": m.reorder_point,
                "max_stock": m.max_stock,
                "shelf_life_days": m.shelf_life_days,
                "active": m.active,
            })
        })
        .collect())
}

/// `inventory.stock` (not timed), one row per material × location × lot on hand:
/// `material` (code), `material_name`, `lot` (lot number), `warehouse` (code), `location`
/// (code), `qty`, `unit` (base unit), `quality` (`released` / `held` / `rejected`, the
/// lot's status), `expires` (day or null), `days_left` (to expiry, negative: expired; null:
/// does not expire), `last_move_ms`.
fn stock(r: &impl Reader, app: &App, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let today = crate::plant_time::today(app.offset);
    Ok(inventory::stock(r, &Default::default(), today)
        .map_err(service)?
        .into_iter()
        .take(limit)
        .map(|s| {
            json!({
                "material": s.material_code,
                "material_name": s.material_name,
                "lot": s.lot_number,
                "warehouse": s.warehouse_code,
                "location": s.location_code,
                "qty": s.balance.qty,
                "unit": s.base_unit,
                "value": s.value,
                "quality": s.quality.id(),
                "expires": s.expires,
                "days_left": s.days_left,
                "last_move_ms": s.balance.last_move_ms,
            })
        })
        .collect())
}

/// `inventory.locations` (not timed), in id order: `id` (what `inventory.move` takes as
/// `from` / `to`), `code` (unique within its warehouse), `name`, `warehouse` (code),
/// `warehouse_name`, `hazmat_store` (危险化学品专用仓库), `major_hazard` (a major hazard
/// installation: hazardous chemicals move in or out only with a second custodian),
/// `capacity_kg` (0: no limit).
fn locations(r: &impl Reader, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let stores: HashMap<u64, _> = inventory::warehouses(r)
        .map_err(service)?
        .into_iter()
        .map(|w| (w.id, w))
        .collect();
    Ok(inventory::locations(r)
        .map_err(service)?
        .into_iter()
        .take(limit)
        .map(|l| {
            let w = stores.get(&l.warehouse);
            json!({
                "id": l.id,
                "code": l.code,
                "name": l.name,
                "warehouse": w.map(|w| w.code.as_str()),
                "warehouse_name": w.map(|w| w.name.as_str()),
                "hazmat_store": w.is_some_and(|w| w.hazmat_store),
                "major_hazard": w.is_some_and(|w| w.major_hazard),
                "capacity_kg": l.capacity_kg,
            })
        })
        .collect())
}

/// `inventory.movements`, timed on `ts_ms` (when the movement changed the stock; for one
/// still waiting for its second custodian, when it was asked for):
/// `id`, `ts_ms`, `kind` (`receipt`, `issue`, `return`, `transfer`, `adjust`, `count`,
/// `scrap`, `delivery`), `material` (code), `lot` (lot number), `from`, `to` (location
/// codes, null: outside the stores; `from_warehouse`, `to_warehouse` their stores' codes, as
/// a location's code is unique only in its store), `qty` (base units, always positive: the direction is
/// from → to), `unit` (base unit), `category` (the material's), `value` (`qty` × the
/// material's standard cost, CNY, as it stands now), `reason`, `reference` (the document: `PO-12`, a batch
/// number…), `by`, `state` (`posted`, or `pending` for a 剧毒 movement waiting for the
/// second custodian).
fn movements(r: &impl Reader, span: Span, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let mats = material_codes(r)?;
    let stores: HashMap<u64, String> = inventory::warehouses(r)
        .map_err(service)?
        .into_iter()
        .map(|w| (w.id, w.code))
        .collect();
    let locs: HashMap<u64, (String, Option<&String>)> = inventory::locations(r)
        .map_err(service)?
        .into_iter()
        .map(|l| (l.id, (l.code, stores.get(&l.warehouse))))
        .collect();
    // through each material's time index: a window far back, or an empty one, costs no
    // walk over the whole ledger
    let mut list = Vec::new();
    for id in mats.keys() {
        list.extend(inventory::ledger(r, Some(*id), span.0, span.1, limit).map_err(service)?);
    }
    list.extend(
        inventory::pending(r)
            .map_err(service)?
            .into_iter()
            .filter(|m| within(span, m.ts_ms)),
    );
    let at = |m: &crate::modules::inventory::model::Movement| m.posted_ms.unwrap_or(m.ts_ms);
    list.sort_by_key(|m| Reverse((at(m), m.id)));
    list.truncate(limit);
    let mut lots = LotNumbers::default();
    Ok(list
        .into_iter()
        .map(|m| {
            let mat = mats.get(&m.material);
            let ts = at(&m);
            let (from, to) = (
                m.from.and_then(|l| locs.get(&l)),
                m.to.and_then(|l| locs.get(&l)),
            );
            json!({
                "id": m.id,
                "ts_ms": ts,
                "kind": m.kind.id(),
                "material": mat.map(|x| x.code.as_str()),
                "category": mat.map(|x| x.category),
                "lot": lots.get(r, m.lot),
                "from": from.map(|l| &l.0),
                "to": to.map(|l| &l.0),
                "from_warehouse": from.and_then(|l| l.1),
                "to_warehouse": to.and_then(|l| l.1),
                "qty": m.qty,
                "unit": mat.map(|x| x.unit.as_str()),
                "value": mat.map(|x| x.unit_cost * m.qty),
                "reason": m.reason,
                "reference": m.reference,
                "by": m.by,
                "state": id_of(&m.state),
            })
        })
        .collect())
}

// ------------------------------------------------------------------ production

/// `production.batches`, timed on `started_ms`:
/// `id`, `number`, `unit` (the process unit's code), `product` (material code), `recipe`
/// (code or null), `recipe_version` (or null), `state` (`running`, `done`, `aborted`),
/// `trigger` (`operator` or `tag`), `phase` (the phase running now, or null), `started_ms`,
/// `ended_ms` (null while running), `planned_qty` (base units, 0: not planned),
/// `output_lot` (lot number or null), `output_qty`, `output_unit` (null without output),
/// `yield_pct` (output over plan, null without both), `consumed` (the issues to the batch,
/// returns of what was left over negative: `[{material, lot, qty, unit}]`, base units), `samples` (quality sample ids of the
/// output lot); since 0.3 `needs` (by the recipe's bill of materials, one batch:
/// `[{material, qty, unit, issued, remaining}]`, base units; empty without one).
fn batches(r: &impl Reader, span: Span, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let list: Vec<_> = production::batches(r)
        .map_err(service)?
        .into_iter()
        .filter(|b| within(span, b.started_ms))
        .take(limit)
        .collect();
    let mats = if list.iter().any(|b| !b.issues.is_empty()) {
        material_codes(r)?
    } else {
        HashMap::new()
    };
    let mut lots = LotNumbers::default();
    let mut out = Vec::with_capacity(list.len());
    for b in list {
        let consumed: Vec<Value> = b
            .issues
            .iter()
            .filter_map(|id| inventory::movement(r, *id).ok())
            .map(|m| {
                let mat = mats.get(&m.material);
                // a return of material left over counts negative
                let qty = if m.kind == crate::modules::inventory::model::MoveKind::Return {
                    -m.qty
                } else {
                    m.qty
                };
                json!({
                    "material": mat.map(|x| x.code.as_str()),
                    "lot": lots.get(r, m.lot),
                    "qty": qty,
                    "unit": mat.map(|x| x.unit.as_str()),
                })
            })
            .collect();
        let phase = b
            .phases
            .iter()
            .rev()
            .find(|p| p.to_ms.is_none())
            .filter(|_| b.ended_ms.is_none())
            .map(|p| p.name.clone());
        let yield_pct = b.yield_pct();
        let needs = production::needs(r, &b).map_err(service)?;
        out.push(json!({
            "id": b.id,
            "number": b.number,
            "unit": b.unit,
            "product": b.product,
            "recipe": b.recipe.as_ref().map(|x| x.code.clone()),
            "recipe_version": b.recipe.as_ref().map(|x| x.version),
            "state": id_of(&b.state),
            "trigger": id_of(&b.trigger),
            "phase": phase,
            "started_ms": b.started_ms,
            "ended_ms": b.ended_ms,
            "planned_qty": b.planned_qty,
            "output_lot": b.output.as_ref().map(|o| o.lot_number.clone()),
            "output_qty": b.output.as_ref().map(|o| o.qty),
            "output_unit": b.output.as_ref().map(|o| o.unit.clone()),
            "yield_pct": yield_pct,
            "consumed": consumed,
            "samples": b.samples,
            "needs": needs,
        }));
    }
    Ok(out)
}

/// `production.oee` (not timed): each process unit's figures now, as the automation
/// overview shows them: `unit` (code), `name`, `running` (the batch number running on it,
/// or null), `phase` (its phase now, or null), and `shift` (the last 8 hours) and `day`
/// (the last 24), each `{availability, performance, quality, oee, batches}` — fractions
/// 0–1, null where an input is missing (no ideal cycle set, no decided output): a figure
/// is never made up.
fn oee_rows(r: &impl Reader, now: i64, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let figures = |o: &crate::modules::automation::oee::Oee| {
        json!({
            "availability": o.availability,
            "performance": o.performance,
            "quality": o.quality,
            "oee": o.oee,
            "batches": o.batches,
        })
    };
    Ok(crate::modules::automation::oee::units_now(r, now)
        .map_err(service)?
        .into_iter()
        .take(limit)
        .map(|u| {
            let phase = u.running.as_ref().and_then(|b| {
                b.phases
                    .iter()
                    .rev()
                    .find(|p| p.to_ms.is_none())
                    .map(|p| p.name.clone())
            });
            json!({
                "unit": u.unit.code,
                "name": u.unit.name,
                "running": u.running.as_ref().map(|b| b.number.clone()),
                "phase": phase,
                "shift": figures(&u.shift),
                "day": figures(&u.oee),
            })
        })
        .collect())
}

// ------------------------------------------------------------------ equipment

/// `equipment.assets` (not timed), in tag number order, deleted equipment left out:
/// `id`, `tag_no`, `name`, `category` (its name), `location`, `status` (`running`,
/// `standby`, `maintenance`, `stopped`, `scrapped`), `criticality` (`A`, `B`, `C`),
/// `parent` (the tag number of the unit it is part of, or null); since 0.3 `tags` (the
/// names of its tags: those bound to it and those whose equipment field is its tag number,
/// the bound ones first, in the ledger's order) and `vibration_zone` (the worst ISO 10816 zone of its vibration tags now, `A`–`D`,
/// or null when none is judged).
fn assets(r: &impl Reader, app: &App, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let cats: HashMap<u64, String> = equipment::categories(r)
        .map_err(service)?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let mut list = equipment::all_equipment(r).map_err(service)?;
    let tags: HashMap<u64, String> = list.iter().map(|e| (e.id, e.tag_no.clone())).collect();
    list.sort_by(|a, b| a.tag_no.cmp(&b.tag_no));
    let mut worst: HashMap<u64, crate::modules::equipment::rules::Zone> = HashMap::new();
    for (w, zone) in equipment::watches(r).map_err(service)? {
        if let Some(z) = zone {
            let e = worst.entry(w.equipment).or_insert(z);
            *e = (*e).max(z);
        }
    }
    let defs = app.tags.defs();
    let mut by_equipment: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in defs.iter().filter(|t| !t.equipment.is_empty()) {
        by_equipment
            .entry(t.equipment.as_str())
            .or_default()
            .push(t.name.as_str());
    }
    let tag_names = |e: &crate::modules::equipment::model::Equipment| {
        let mut names: Vec<String> = Vec::new();
        for b in &e.bindings {
            if !names.contains(&b.tag) {
                names.push(b.tag.clone());
            }
        }
        let mut others: Vec<&str> = by_equipment
            .get(e.tag_no.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|n| !names.iter().any(|x| x == n))
            .collect();
        others.sort_unstable();
        names.extend(others.into_iter().map(String::from));
        names
    };
    Ok(list
        .into_iter()
        .take(limit)
        .map(|e| {
            json!({
                "id": e.id,
                "tag_no": e.tag_no,
                "name": e.name,
                "category": cats.get(&e.category),
                "location": e.location,
                "status": e.status.id(),
                "criticality": e.criticality.id(),
                "parent": e.parent.and_then(|p| tags.get(&p)),
                "tags": tag_names(&e),
                "vibration_zone": worst.get(&e.id).map(|z| format!("{z:?}")),
            })
        })
        .collect())
}

/// `equipment.work_orders`, timed on `created_ms` (among the newest 2 000 orders; with a
/// filter on `state` or `"open": true`, among the newest 2 000 of those):
/// `id`, `number`, `equipment` (tag number), `kind` (`corrective`, `preventive`,
/// `inspection`), `origin` (`manual`, `fault`, `condition`, `alarm`, `plan`,
/// `inspection`, `plugin`), `title`, `priority` (`urgent`, `high`, `normal`, `low`), `state`
/// (`open`, `assigned`, `in_progress`, `waiting_parts`, `done`, `verified`, `cancelled`),
/// `open` (not done, verified or cancelled), `stopped` (the equipment is down until done), `assignee` (name or null), `created_ms`,
/// `due_ms`, `started_ms`, `done_ms`, `verified_ms` (null until then), `overdue` (open
/// and past due).
fn work_orders(
    r: &impl Reader,
    span: Span,
    limit: usize,
    now: i64,
    state: Option<&str>,
) -> Result<Vec<Value>, wit::Error> {
    let mut list = Vec::new();
    'pages: for page in 1..=MAX_ORDER_PAGES {
        let filter = equipment::WoFilter {
            page: Some(page),
            state: state.map(str::to_string),
            ..Default::default()
        };
        let p = equipment::orders(r, &filter, now).map_err(service)?;
        // newest first: once a page reaches before the window, the rest are older still
        let mut past = false;
        for o in p.items {
            if o.created_ms < span.0 {
                past = true;
            } else if o.created_ms < span.1 {
                list.push(o);
                if list.len() >= limit {
                    break 'pages;
                }
            }
        }
        if past || !p.more {
            break;
        }
    }
    list.sort_by_key(|o| Reverse((o.created_ms, o.id)));
    let mut tags: HashMap<u64, Option<String>> = HashMap::new();
    Ok(list
        .into_iter()
        .map(|o| {
            let tag = tags
                .entry(o.equipment)
                .or_insert_with(|| equipment::equipment(r, o.equipment).ok().map(|e| e.tag_no))
                .clone();
            json!({
                "id": o.id,
                "number": o.number,
                "equipment": tag,
                "kind": o.kind.id(),
                "origin": o.origin.id(),
                "title": o.title,
                "priority": o.priority.id(),
                "state": o.state.id(),
                "open": o.state.is_open(),
                "stopped": o.stopped,
                "assignee": o.assignee.map(|_| o.assignee_name.clone()),
                "created_ms": o.created_ms,
                "due_ms": o.due_ms,
                "started_ms": o.started_ms,
                "done_ms": o.done_ms,
                "verified_ms": o.verified_ms,
                "overdue": o.state.is_open() && o.due_ms < now,
            })
        })
        .collect())
}

// ------------------------------------------------------------------ quality

/// `quality.samples`, timed on `taken_ms`:
/// `id`, `number`, `material` (code), `lot` (lot number, null for an in-process sample),
/// `point` (sampling point code), `stage` (`receipt`, `intermediate`, `finished`),
/// `state` (`pending`, `passed`, `failed`, `released`, `rejected`, `concession`,
/// `retested`), `verdict` (`pass`, `fail`, `pending`), `taken_ms`, `decided_ms` (null
/// until released, rejected or conceded), `results`: `[{item (keyword), name, value
/// (number or null), text, unit, verdict}]`.
fn samples(r: &impl Reader, span: Span, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let list: Vec<_> = quality::samples(r)
        .map_err(service)?
        .into_iter()
        .filter(|s| within(span, s.taken_ms))
        .take(limit)
        .collect();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let points: HashMap<u64, _> = quality::points(r)
        .map_err(service)?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let items: HashMap<u64, _> = quality::items(r)
        .map_err(service)?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let mats = material_codes(r)?;
    let mut lots = LotNumbers::default();
    Ok(list
        .into_iter()
        .map(|s| {
            let point = points.get(&s.point);
            let results: Vec<Value> = s
                .results
                .iter()
                .map(|l| {
                    let item = items.get(&l.item);
                    json!({
                        "item": item.map(|i| i.keyword.clone()),
                        "name": item.map(|i| i.name.clone()),
                        "value": l.value,
                        "text": l.text,
                        "unit": item.map(|i| i.unit.clone()),
                        "verdict": id_of(&l.verdict),
                    })
                })
                .collect();
            json!({
                "id": s.id,
                "number": s.number,
                "material": mats.get(&s.material).map(|m| m.code.clone()),
                "lot": s.lot.and_then(|l| lots.get(r, l)),
                "point": point.map(|p| p.code.clone()),
                "stage": point.map(|p| id_of(&p.stage)),
                "state": s.state.id(),
                "verdict": id_of(&s.verdict),
                "taken_ms": s.taken_ms,
                "decided_ms": s.decided_ms,
                "results": results,
            })
        })
        .collect())
}

/// `quality.nonconformances`, timed on `opened_ms`:
/// `id`, `sample` (sample number), `material` (code), `lot` (lot number or null),
/// `opened_ms`, `finding` (the failed items as text), `disposition` (`rework`,
/// `downgrade`, `scrap`, `concession`, `return`, `retested`, or null while undecided),
/// `closed_ms` (null while open), `open`.
fn nonconformances(r: &impl Reader, span: Span, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let list: Vec<_> = quality::ncrs(r)
        .map_err(service)?
        .into_iter()
        .filter(|n| within(span, n.opened_ms))
        .take(limit)
        .collect();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let mats = material_codes(r)?;
    let mut lots = LotNumbers::default();
    let mut numbers: HashMap<u64, Option<String>> = HashMap::new();
    Ok(list
        .into_iter()
        .map(|n| {
            let sample = numbers
                .entry(n.sample)
                .or_insert_with(|| quality::sample(r, n.sample).ok().map(|s| s.number))
                .clone();
            json!({
                "id": n.id,
                "sample": sample,
                "material": mats.get(&n.material).map(|m| m.code.clone()),
                "lot": n.lot.and_then(|l| lots.get(r, l)),
                "opened_ms": n.opened_ms,
                "finding": n.finding,
                "disposition": n.disposition.as_ref().map(id_of),
                "closed_ms": n.closed_ms,
                "open": n.closed_ms.is_none(),
            })
        })
        .collect())
}

// ------------------------------------------------------------------ safety

/// `safety.permits`, timed on `start_ms` (the planned start):
/// `id`, `number`, `work` (`hot_work`, `confined_space`, `blinding`, `height`,
/// `lifting`, `temporary_power`, `excavation`, `road_break`), `level` (`special`, `first`,
/// `iii`… or null for types without levels), `state` (`draft`, `measures`,
/// `gas_analysis`, `approval`, `briefing`, `working`, `suspended`, `acceptance`,
/// `closed`, `cancelled`, `withdrawn`), `content` (the work), `location`, `work_unit`,
/// `workers` (how many), `start_ms`, `end_ms` (the planned period), `started_ms`,
/// `closed_ms` (when work actually began and the permit was closed, or null); since 0.3 `x`,
/// `y` (where the work is on the plant layout, metres as in `safety.zones`).
fn permits_rows(
    r: &impl Reader,
    app: &App,
    span: Span,
    limit: usize,
) -> Result<Vec<Value>, wit::Error> {
    Ok(permits::permits(r, &Default::default(), app.offset)
        .map_err(service)?
        .into_iter()
        .filter(|p| within(span, p.from_ms))
        .take(limit)
        .map(|p| {
            let work = p.work().id();
            json!({
                "id": p.id,
                "number": p.number,
                "work": work,
                "level": p.level,
                "state": p.stage.id(),
                "content": p.content,
                "location": p.location,
                "work_unit": p.work_unit,
                "workers": p.workers.len(),
                "start_ms": p.from_ms,
                "end_ms": p.to_ms,
                "started_ms": p.started_ms,
                "closed_ms": p.closed_ms,
                "x": p.x,
                "y": p.y,
            })
        })
        .collect())
}

/// `safety.hazards` (not timed), open and closed, newest first:
/// `id`, `number`, `title`, `location`, `level` (`general`, `major`), `source` (`daily`,
/// `comprehensive`, `specialist`, `seasonal`, `holiday`, `accident_analogy`,
/// `before_restart`, `expert`, `control_failure`, `other`), `state` (`reported`,
/// `rectifying`, `pending_acceptance`, `closed`), `reported_ms`, `reported_day`,
/// `deadline` (day or null), `overdue` (past the deadline and not closed), `assignee`
/// (name or null), `closed_ms`.
fn hazards_rows(r: &impl Reader, app: &App, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let today = crate::plant_time::today(app.offset);
    Ok(hazards::hazards(r, None, today)
        .map_err(service)?
        .into_iter()
        .take(limit)
        .map(|h| {
            let overdue = hazards::overdue(&h, today);
            json!({
                "id": h.id,
                "number": h.number,
                "title": h.title,
                "location": h.location,
                "level": id_of(&h.level),
                "source": h.source.id(),
                "state": h.state.id(),
                "reported_ms": h.reported_ms,
                "reported_day": day(h.reported_ms, app.offset),
                "deadline": h.deadline,
                "overdue": overdue,
                "assignee": h.assignee.map(|_| h.assignee_name.clone()),
                "closed_ms": h.closed_ms,
            })
        })
        .collect())
}

/// `safety.people` (not timed): who is inside each gated area now, by the gate events,
/// the plant perimeter (`plant`) first; counts only, no names:
/// `area`, `people`, `vehicles`.
fn people_rows(r: &impl Reader, limit: usize) -> Result<Vec<Value>, wit::Error> {
    Ok(people::head_counts(r)
        .map_err(service)?
        .into_iter()
        .take(limit)
        .map(|h| {
            json!({
                "area": h.area,
                "people": h.people,
                "vehicles": h.vehicles,
            })
        })
        .collect())
}

/// `safety.layout` (not timed, since 0.3): the plant layout the positions and zones are
/// drawn on, one row: `width_m`, `height_m`, `image` (a layout image was uploaded),
/// `updated_ms`. Coordinates on it are metres from its bottom-left corner, x to the right
/// and y up (a plugin's map has y down: `height_m - y`).
fn layout_rows(r: &impl Reader) -> Result<Vec<Value>, wit::Error> {
    let m = people::map(r).map_err(service)?;
    Ok(vec![json!({
        "width_m": m.width_m,
        "height_m": m.height_m,
        "image": m.image_type.is_some(),
        "updated_ms": m.updated_ms,
    })])
}

/// `safety.zones` (not timed, since 0.3): the zones drawn on the plant layout, in id order:
/// `id`, `name`, `polygon` (`[[x, y], …]`, metres as in `safety.layout`), `floor` (or null:
/// every floor), `permit_required` (nobody inside without a working permit naming them),
/// `max_occupancy` (or null), `people` (tracked tags inside now).
fn zone_rows(r: &impl Reader, app: &App, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let (_, occupancy, _, _) = crate::modules::safety::people::live::live(app).snapshot(now_ms());
    let inside: HashMap<u64, u32> = occupancy.into_iter().collect();
    Ok(people::zones(r)
        .map_err(service)?
        .into_iter()
        .take(limit)
        .map(|z| {
            json!({
                "id": z.id,
                "name": z.name,
                "polygon": z.polygon,
                "floor": z.floor,
                "permit_required": z.rules.permit_required,
                "max_occupancy": z.rules.max_occupancy,
                "people": inside.get(&z.id).copied().unwrap_or(0),
            })
        })
        .collect())
}

/// `safety.positions` (not timed, since 0.3): the people the positioning system sees now, by
/// name: `person` (id), `name`, `kind` (`employee`, `contractor`, `visitor`, or null),
/// `x`, `y` (metres as in `safety.layout`), `floor`, `seen_ms`, `zones` (ids of the zones they
/// are in), `sos` (an SOS stands), `still_s` (seconds without moving).
fn position_rows(
    r: &impl Reader,
    app: &App,
    now: i64,
    limit: usize,
) -> Result<Vec<Value>, wit::Error> {
    let (seen, _, _, _) = crate::modules::safety::people::live::live(app).snapshot(now);
    let kinds: HashMap<u64, Value> = people::people(r)
        .map_err(service)?
        .into_iter()
        .map(|p| (p.id, id_of(&p.kind)))
        .collect();
    Ok(seen
        .into_iter()
        .take(limit)
        .map(|s| {
            json!({
                "person": s.person,
                "name": s.name,
                "kind": kinds.get(&s.person),
                "x": s.x,
                "y": s.y,
                "floor": s.floor,
                "seen_ms": s.seen_ms,
                "zones": s.zones,
                "sos": s.sos,
                "still_s": s.still_s,
            })
        })
        .collect())
}

// ------------------------------------------------------------------ alarms

/// `alarms.active` (not timed): every alarm not in the normal state, the most urgent and
/// newest first:
/// `id` (the alarm definition), `tag` (tag name, empty for a module's alarm), `source` (who
/// raises a module's alarm, `safety.permit_gas_failed:<permit>`, `safety.zone:<zone>:…`, `plugin:<id>:<key>`; empty for a tag's),
/// `area`, `priority` (`urgent`, `high`, `medium`, `low`), `state` (`unack`, `ack`,
/// `rtn_unack`, `latched`, `shelved`, `suppressed`, `out_of_service`), `active` (the
/// condition holds now), `kind` (`high`, `high_high`, `low`, `low_low`, `deviation`,
/// `rate_of_change`, `digital`, `bad_quality`, `external`), `message_zh`, `message_en`,
/// `value` (or null), `raised_ms` (or null), `changed_ms`, `acked_by` (or null),
/// `shelved_until_ms` (or null).
fn active_alarms(app: &App, limit: usize) -> Vec<Value> {
    app.alarms
        .instances(None)
        .into_iter()
        .take(limit)
        .map(|i| {
            json!({
                "id": i.id,
                "tag": i.tag,
                "source": i.source,
                "area": i.area,
                "priority": i.priority.id(),
                "state": id_of(&i.state),
                "active": i.active,
                "kind": i.kind,
                "message_zh": i.message_zh,
                "message_en": i.message_en,
                "value": i.value,
                "raised_ms": i.raised_ms,
                "changed_ms": i.changed_ms,
                "acked_by": i.acked_by,
                "shelved_until_ms": i.shelved_until_ms,
            })
        })
        .collect()
}

/// `alarms.journal`, timed on `ts_ms`:
/// `ts_ms`, `alarm` (the alarm definition id), `event` (`raised`, `returned`, `acked`,
/// `cleared`, `shelved`, `unshelved`, `suppressed`, `unsuppressed`, `out_of_service`,
/// `in_service`), `state` (the alarm's state after it, as in `alarms.active`, or
/// `normal`), `priority`, `tag`, `area`, `message_zh`, `message_en`, `value` (or null),
/// `user` (who acted, or null), `comment` (or null).
fn journal(r: &impl Reader, span: Span, limit: usize) -> Result<Vec<Value>, wit::Error> {
    let q = alarm_log::JournalQuery {
        from_ms: Some(span.0),
        // the journal's end is inclusive
        to_ms: Some(span.1 - 1),
        ..Default::default()
    };
    Ok(alarm_log::journal(r, &q, limit)
        .map_err(service)?
        .into_iter()
        .map(|e| {
            json!({
                "ts_ms": e.ts_ms,
                "alarm": e.alarm,
                "event": id_of(&e.kind),
                "state": id_of(&e.state),
                "priority": e.priority.id(),
                "tag": e.tag,
                "area": e.area,
                "message_zh": e.message_zh,
                "message_en": e.message_en,
                "value": e.value,
                "user": e.user,
                "comment": e.comment,
            })
        })
        .collect())
}
