//! The only writer of the `equipment.*` tables: categories and their typed parameters, the
//! ledger (with bound tags and spare-parts lists), vibration zones and their history, work
//! orders through their life cycle (spare parts issued through inventory's service in the
//! same transaction) and preventive plans.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use time::Date;

use super::model::{
    BomLine, Category, EqStatus, Equipment, Labour, Origin, ParamDef, ParamKind, ParamValue,
    PartUse, Plan, Role, Trigger, WoKind, WoPriority, WoState, WoStep, WorkOrder, ZoneEvent,
    ZoneState,
};
use super::rules::{self, MeterDue, WoAction, Zone};
use super::store::{
    BY_EQUIPMENT, BY_STATE, CATEGORIES, CODES, EQUIPMENT, FILES, PLANS, SEQ, TAG_ROLES,
    WORK_ORDERS, ZONE_HISTORY, ZONES,
};
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::modules::inventory::model::{DocLine, MoveKind, MoveState};
use crate::modules::inventory::service as inventory;
use crate::modules::safety::archive::model::{FileBlob, FileMeta};
use crate::store::{Actor, ActorKind, Change, Order, Reader, Store, Table, WriteTx};

/// The moment of a write: now, and the plant's day (work order numbers run per plant year).
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub ms: i64,
    pub today: Date,
    pub offset: time::UtcOffset,
}

const HOUR_MS: i64 = 3_600_000;
/// How long a meter must read below a plan's last reading before the plan counts from the
/// new reading (a meter reset or replaced); a shorter drop is a glitch and changes nothing.
pub const METER_REBASE_MS: i64 = 10 * 60_000;

fn claim(
    w: &mut WriteTx,
    field: &'static str,
    key: String,
    id: u64,
    old: Option<String>,
    err: Msg,
) -> Result<()> {
    if w.claim(&CODES, &key, id, old.as_deref())? {
        Ok(())
    } else {
        Err(Error::invalid_msg(field, err))
    }
}

fn user_id(a: &Actor) -> u64 {
    if a.kind == ActorKind::User { a.id } else { 0 }
}

/// The name a record shows for whoever acts: a person's display name (what signs a work
/// order), else the actor's label.
fn who(r: &impl Reader, a: &Actor) -> Result<String> {
    if a.kind == ActorKind::User
        && let Some(u) = crate::auth::service::user(r, a.id)?
    {
        return Ok(u.display_name);
    }
    Ok(a.name.clone())
}

fn key_ok(k: &str) -> bool {
    let mut cs = k.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic())
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && k.len() <= 30
}

// ------------------------------------------------------------------ categories

pub fn categories(r: &impl Reader) -> Result<Vec<Category>> {
    Ok(r.values(&CATEGORIES)?)
}

pub fn category(r: &impl Reader, id: u64) -> Result<Category> {
    r.get(&CATEGORIES, &id)?
        .ok_or_else(|| Error::not_found("equipment.err.category_not_found"))
}

/// The categories from the root down to `id`.
fn lineage(all: &HashMap<u64, Category>, id: u64) -> Vec<&Category> {
    let mut out = Vec::new();
    let mut at = Some(id);
    while let Some(c) = at.and_then(|i| all.get(&i)) {
        if out.iter().any(|x: &&Category| x.id == c.id) {
            break;
        }
        out.push(c);
        at = c.parent;
    }
    out.reverse();
    out
}

/// The parameters equipment of category `id` carry: its own and every parent's.
pub fn param_defs(r: &impl Reader, id: u64) -> Result<Vec<ParamDef>> {
    let all: HashMap<u64, Category> = categories(r)?.into_iter().map(|c| (c.id, c)).collect();
    Ok(lineage(&all, id)
        .into_iter()
        .flat_map(|c| c.params.iter().cloned())
        .collect())
}

/// The category and every category below it.
pub fn subtree(all: &[Category], id: u64) -> HashSet<u64> {
    let mut out = HashSet::from([id]);
    loop {
        let before = out.len();
        for c in all {
            if c.parent.is_some_and(|p| out.contains(&p)) {
                out.insert(c.id);
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// Saves a category. Codes are unique; the parent must exist and not lie below it; each
/// parameter key once along the lineage. Changing a parameter's type is refused while
/// equipment hold a value of the old type.
pub fn save_category(store: &Store, actor: &Actor, mut c: Category) -> Result<Category> {
    c.code = text("code", &c.code, 30, true)?;
    c.name = text("name", &c.name, 60, true)?;
    for p in c.params.iter_mut() {
        p.key = p.key.trim().to_string();
        if !key_ok(&p.key) {
            return Err(Error::invalid_msg(
                "params",
                Msg::new("equipment.err.param_key").arg("key", &p.key),
            ));
        }
        p.name = text("params", &p.name, 40, true)?;
        p.unit = text("params", &p.unit, 20, false)?;
    }
    let mut w = store.write(actor)?;
    let all: HashMap<u64, Category> = categories(&w)?.into_iter().map(|c| (c.id, c)).collect();
    let before = if c.id == 0 {
        c.id = w.next_id(&CATEGORIES)?;
        None
    } else {
        Some(category(&w, c.id)?)
    };
    if let Some(p) = c.parent {
        if !all.contains_key(&p) {
            return Err(Error::invalid("parent", "equipment.err.category_not_found"));
        }
        if lineage(&all, p).iter().any(|x| x.id == c.id) {
            return Err(Error::invalid("parent", "equipment.err.category_cycle"));
        }
    }
    // keys unique along the lineage and in every category below
    let mut with_new = all.clone();
    with_new.insert(c.id, c.clone());
    let below: Vec<Category> = with_new.values().cloned().collect();
    for id in subtree(&below, c.id) {
        let mut seen = HashSet::new();
        for p in lineage(&with_new, id)
            .into_iter()
            .flat_map(|x| x.params.iter())
        {
            if !seen.insert(p.key.clone()) {
                return Err(Error::invalid_msg(
                    "params",
                    Msg::new("equipment.err.param_twice").arg("key", &p.key),
                ));
            }
        }
    }
    // a changed type must still fit every value held
    if let Some(b) = &before {
        let changed: Vec<&ParamDef> = c
            .params
            .iter()
            .filter(|p| b.params.iter().any(|o| o.key == p.key && o.kind != p.kind))
            .collect();
        if !changed.is_empty() {
            let cats = subtree(&below, c.id);
            for e in w.values(&EQUIPMENT)? {
                if !cats.contains(&e.category) || e.deleted {
                    continue;
                }
                for p in &changed {
                    if let Some(v) = e.params.get(&p.key)
                        && !fits(p.kind, v)
                    {
                        return Err(Error::invalid_msg(
                            "params",
                            Msg::new("equipment.err.param_in_use")
                                .arg("key", &p.key)
                                .arg("equipment", &e.tag_no),
                        ));
                    }
                }
            }
        }
    }
    claim(
        &mut w,
        "code",
        format!("c:{}", c.code),
        c.id,
        before.as_ref().map(|b| format!("c:{}", b.code)),
        Msg::new("equipment.err.category_code_taken").arg("code", &c.code),
    )?;
    w.insert(&CATEGORIES, &c.id, &c)?;
    w.audit_saved(
        "equipment.category",
        format!("category:{} {}", c.id, c.code),
        before,
        &c,
    );
    w.commit()?;
    Ok(c)
}

/// A `YYYY-MM-DD` field, trimmed; empty is none.
fn day(field: &'static str, v: Option<String>) -> Result<Option<String>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => crate::plant_time::parse_day(s)
            .map(|d| Some(crate::plant_time::format_day(d)))
            .ok_or_else(|| Error::invalid(field, "common.err.date")),
    }
}

fn fits(kind: ParamKind, v: &ParamValue) -> bool {
    match (kind, v) {
        (ParamKind::Number, ParamValue::Number(n)) => n.is_finite(),
        (ParamKind::Bool, ParamValue::Bool(_)) => true,
        (ParamKind::Text, ParamValue::Text(_)) => true,
        (ParamKind::Date, ParamValue::Text(t)) => crate::plant_time::parse_day(t).is_some(),
        _ => false,
    }
}

/// Reads a parameter typed in a form (text) as its definition's type.
pub fn parse_param(d: &ParamDef, s: &str) -> Result<Option<ParamValue>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        Error::invalid_msg(
            "params",
            Msg::new(match d.kind {
                ParamKind::Number => "equipment.err.param_number",
                ParamKind::Date => "equipment.err.param_date",
                ParamKind::Bool => "equipment.err.param_bool",
                ParamKind::Text => "equipment.err.param_text",
            })
            .arg("name", &d.name),
        )
    };
    Ok(Some(match d.kind {
        ParamKind::Number => ParamValue::Number(
            s.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(bad)?,
        ),
        ParamKind::Date => {
            crate::plant_time::parse_day(s).ok_or_else(bad)?;
            ParamValue::Text(s.to_string())
        }
        ParamKind::Bool => ParamValue::Bool(match s {
            "true" | "1" | "on" | "是" | "yes" => true,
            "false" | "0" | "off" | "否" | "no" => false,
            _ => return Err(bad()),
        }),
        ParamKind::Text => {
            if s.chars().count() > 200 {
                return Err(bad());
            }
            ParamValue::Text(s.to_string())
        }
    }))
}

// ------------------------------------------------------------------ the ledger

pub fn equipment(r: &impl Reader, id: u64) -> Result<Equipment> {
    r.get(&EQUIPMENT, &id)?
        .ok_or_else(|| Error::not_found("equipment.err.not_found"))
}

/// The equipment of a 位号 (not deleted).
pub fn by_tag_no(r: &impl Reader, tag_no: &str) -> Result<Option<Equipment>> {
    match r.get(&CODES, &tag_key(tag_no))? {
        Some(id) => Ok(Some(equipment(r, id)?)),
        None => Ok(None),
    }
}

/// A 位号's key in the code index: `P101` and `p101` are the same tag.
fn tag_key(tag_no: &str) -> String {
    format!("t:{}", tag_no.trim().to_uppercase())
}

/// Every piece of equipment in the ledger (deleted ones left out).
pub fn all_equipment(r: &impl Reader) -> Result<Vec<Equipment>> {
    Ok(r.values(&EQUIPMENT)?
        .into_iter()
        .filter(|e| !e.deleted)
        .collect())
}

/// The ledger's filter.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct EqFilter {
    /// Part of the 位号, name, model or location.
    #[serde(default)]
    pub q: String,
    /// A category (and every category below it).
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub category: Option<u64>,
    #[serde(default)]
    pub criticality: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub department: Option<u64>,
    /// Children of this equipment.
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub parent: Option<u64>,
    /// Page, from 1 (50 a page).
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub page: Option<usize>,
}

pub const PAGE: usize = 50;

/// A page of results and whether more follow.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: usize,
    pub more: bool,
}

/// Collects one page out of a walk over records in order.
struct Pager<T> {
    skip: usize,
    matched: usize,
    items: Vec<T>,
}

impl<T> Pager<T> {
    fn new(page: usize) -> Pager<T> {
        Pager {
            skip: (page - 1) * PAGE,
            matched: 0,
            items: Vec::new(),
        }
    }

    /// Takes a record the filter let through; breaks once one more than the page was seen.
    fn offer(&mut self, x: T) -> ControlFlow<()> {
        self.matched += 1;
        if self.matched > self.skip {
            if self.items.len() == PAGE {
                return ControlFlow::Break(());
            }
            self.items.push(x);
        }
        ControlFlow::Continue(())
    }

    fn finish(self, page: usize) -> Page<T> {
        let more = self.matched > self.skip + self.items.len();
        Page {
            items: self.items,
            page,
            more,
        }
    }
}

/// One page of the ledger, in 位号 order.
pub fn list(r: &impl Reader, f: &EqFilter) -> Result<Page<Equipment>> {
    let cats = match f.category {
        Some(c) => Some(subtree(&categories(r)?, c)),
        None => None,
    };
    let q = f.q.trim().to_lowercase();
    let crit = f.criticality.as_deref().filter(|s| !s.is_empty());
    let status = f.status.as_deref().filter(|s| !s.is_empty());
    let page = f.page.unwrap_or(1).max(1);
    let mut pager = Pager::new(page);
    // the code index walks 位号 in order (`t:` keys), so a page needs no sort of the ledger
    let mut err = None;
    r.visit(
        &CODES,
        "t:".to_string().."t;".to_string(),
        Order::Asc,
        |_, id| {
            let e = match equipment(r, id) {
                Ok(e) => e,
                Err(e) => {
                    err = Some(e);
                    return ControlFlow::Break(());
                }
            };
            let hit = cats.as_ref().is_none_or(|c| c.contains(&e.category))
                && crit.is_none_or(|c| e.criticality.id() == c)
                && status.is_none_or(|s| e.status.id() == s)
                && f.department.is_none_or(|d| e.department == Some(d))
                && f.parent.is_none_or(|p| e.parent == Some(p))
                && (q.is_empty()
                    || [&e.tag_no, &e.name, &e.model, &e.location]
                        .iter()
                        .any(|s| s.to_lowercase().contains(&q)));
            if hit {
                pager.offer(e)
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    if let Some(e) = err {
        return Err(e);
    }
    Ok(pager.finish(page))
}

/// What the equipment service asks of the rest of the box.
pub trait Site {
    /// Whether a data-platform tag of this name exists.
    fn tag_exists(&self, name: &str) -> bool;
    /// A tag's engineering unit (empty when none is set).
    fn tag_unit(&self, name: &str) -> String;
    /// The name of an active user who may be assigned work, None otherwise.
    fn assignable(&self, user: u64) -> Option<String>;
    /// A meter tag's reading now.
    fn meter(&self, tag: &str) -> Option<f64>;
    /// What posting stock needs (the plant's day, whether quality holds receipts).
    fn posting(&self) -> inventory::Posting;
}

/// Saves a piece of equipment. 位号 unique; category, parent, department and spare parts
/// must exist; parameters typed by the category (required ones present, unknown keys
/// refused); a tag bound with one role everywhere; vibration boundaries rising.
pub fn save_equipment(
    store: &Store,
    actor: &Actor,
    e: Equipment,
    site: &dyn Site,
) -> Result<Equipment> {
    let mut w = store.write(actor)?;
    let e = save_equipment_in(&mut w, e, site)?;
    w.commit()?;
    Ok(e)
}

/// [`save_equipment`] inside a caller's transaction (an import saves every row in one).
pub fn save_equipment_in(w: &mut WriteTx, mut e: Equipment, site: &dyn Site) -> Result<Equipment> {
    e.tag_no = text("tag_no", &e.tag_no, 40, true)?;
    if e.tag_no.contains(char::is_whitespace) {
        return Err(Error::invalid("tag_no", "equipment.err.tag_no_space"));
    }
    e.name = text("name", &e.name, 60, true)?;
    e.location = text("location", &e.location, 100, false)?;
    e.manufacturer = text("manufacturer", &e.manufacturer, 100, false)?;
    e.model = text("model", &e.model, 60, false)?;
    e.serial = text("serial", &e.serial, 60, false)?;
    if let Some(b) = &e.vibration.bounds {
        b.check()?;
    }
    e.commissioned = day("commissioned", e.commissioned.take())?;
    for b in e.bindings.iter_mut() {
        b.tag = b.tag.trim().to_string();
        b.point = text("bindings", &b.point, 40, false)?;
        if !site.tag_exists(&b.tag) {
            return Err(Error::invalid_msg(
                "bindings",
                Msg::new("equipment.err.tag_not_found").arg("tag", &b.tag),
            ));
        }
        // zones are in mm/s RMS: a tag in other units (or none) would be judged wrongly
        let unit = site.tag_unit(&b.tag);
        if b.role == Role::Vibration && unit.trim().to_lowercase() != "mm/s" {
            return Err(Error::invalid_msg(
                "bindings",
                Msg::new("equipment.err.vibration_unit")
                    .arg("tag", &b.tag)
                    .arg("unit", if unit.is_empty() { "—" } else { &unit }),
            ));
        }
    }
    let mut seen = HashSet::new();
    for b in &e.bindings {
        if !seen.insert(b.tag.clone()) {
            return Err(Error::invalid_msg(
                "bindings",
                Msg::new("equipment.err.tag_twice").arg("tag", &b.tag),
            ));
        }
    }
    for l in e.bom.iter_mut() {
        l.note = text("bom", &l.note, 60, false)?;
        if !(l.qty.is_finite() && l.qty > 0.0) {
            return Err(Error::invalid("bom", "equipment.err.bom_qty"));
        }
    }
    let before = if e.id == 0 {
        e.id = w.next_id(&EQUIPMENT)?;
        None
    } else {
        let b = equipment(&*w, e.id)?;
        if b.deleted {
            return Err(deleted(&b));
        }
        Some(b)
    };
    category(&*w, e.category)
        .map_err(|_| Error::invalid("category", "equipment.err.category_not_found"))?;
    let defs = param_defs(&*w, e.category)?;
    for k in e.params.keys() {
        if !defs.iter().any(|d| &d.key == k) {
            return Err(Error::invalid_msg(
                "params",
                Msg::new("equipment.err.param_unknown").arg("key", k),
            ));
        }
    }
    for d in &defs {
        match e.params.get(&d.key) {
            Some(v) if !fits(d.kind, v) => {
                return Err(Error::invalid_msg(
                    "params",
                    Msg::new("equipment.err.param_type")
                        .arg("name", &d.name)
                        .arg("kind", d.kind.id()),
                ));
            }
            None if d.required => {
                return Err(Error::invalid_msg(
                    "params",
                    Msg::new("equipment.err.param_required").arg("name", &d.name),
                ));
            }
            _ => {}
        }
    }
    if let Some(p) = e.parent {
        let mut at = Some(p);
        let mut hops = 0;
        while let Some(id) = at {
            if id == e.id || hops > 20 {
                return Err(Error::invalid("parent", "equipment.err.parent_cycle"));
            }
            let x = equipment(&*w, id)
                .map_err(|_| Error::invalid("parent", "equipment.err.parent_not_found"))?;
            if x.deleted {
                return Err(Error::invalid("parent", "equipment.err.parent_not_found"));
            }
            at = x.parent;
            hops += 1;
        }
    }
    if let Some(d) = e.department
        && crate::org::service::department(&*w, d)?.is_none()
    {
        return Err(Error::invalid("department", "equipment.err.department"));
    }
    for l in &e.bom {
        inventory::material(&*w, l.material).map_err(|_| {
            Error::invalid_msg(
                "bom",
                Msg::new("equipment.err.bom_material").arg("id", l.material),
            )
        })?;
    }
    claim(
        w,
        "tag_no",
        tag_key(&e.tag_no),
        e.id,
        before.as_ref().map(|b| tag_key(&b.tag_no)),
        Msg::new("equipment.err.tag_no_taken").arg("tag_no", &e.tag_no),
    )?;
    bind(w, &e, before.as_ref())?;
    w.insert(&EQUIPMENT, &e.id, &e)?;
    w.audit_saved(
        "equipment.item",
        format!("equipment:{} {}", e.id, e.tag_no),
        before,
        &e,
    );
    Ok(e)
}

/// A ledger row read from a sheet: the record (`id` set when its 位号 is in the ledger) and
/// its parent's 位号, which may be another row of the same sheet.
pub struct SheetRow {
    pub row: usize,
    pub equipment: Equipment,
    pub parent: Option<String>,
}

/// Saves a sheet's rows in one transaction, each as [`save_equipment_in`] checks it, parents
/// before the rows below them. All or nothing: nothing is saved when a row breaks a rule or
/// `earlier` (rows the caller could not read) has any; the errors name their rows (at most
/// 100).
pub fn import_equipment(
    store: &Store,
    actor: &Actor,
    rows: Vec<SheetRow>,
    earlier: Vec<crate::error::RowError>,
    site: &dyn Site,
) -> Result<crate::tags::io::Imported> {
    let mut w = store.write(actor)?;
    let in_sheet: HashSet<String> = rows.iter().map(|r| tag_key(&r.equipment.tag_no)).collect();
    let mut saved: HashSet<String> = HashSet::new();
    let (mut created, mut updated) = (0, 0);
    let mut errors = earlier;
    let mut pending = rows;
    while !pending.is_empty() && errors.len() < 100 {
        let (ready, waiting): (Vec<SheetRow>, Vec<SheetRow>) = pending.into_iter().partition(|r| {
            r.parent.as_deref().is_none_or(|p| {
                let p = tag_key(p);
                !in_sheet.contains(&p) || saved.contains(&p)
            })
        });
        if ready.is_empty() {
            // every row left waits for another: their parents form a loop
            for r in waiting {
                errors.push(crate::error::RowError {
                    row: r.row,
                    field: "parent",
                    msg: Msg::new("equipment.err.parent_cycle"),
                });
            }
            break;
        }
        for SheetRow {
            row,
            mut equipment,
            parent,
        } in ready
        {
            saved.insert(tag_key(&equipment.tag_no));
            let r = (|| -> Result<Option<bool>> {
                equipment.parent = match parent.as_deref() {
                    None => None,
                    Some(p) => Some(
                        by_tag_no(&w, p)?
                            .ok_or_else(|| {
                                Error::invalid_msg(
                                    "parent",
                                    Msg::new("equipment.err.parent_unknown").arg("tag_no", p),
                                )
                            })?
                            .id,
                    ),
                };
                let before = match equipment.id {
                    0 => None,
                    id => Some(self::equipment(&w, id)?),
                };
                if before.as_ref() == Some(&equipment) {
                    return Ok(None);
                }
                save_equipment_in(&mut w, equipment, site)?;
                Ok(Some(before.is_some()))
            })();
            match r {
                Ok(Some(true)) => updated += 1,
                Ok(Some(false)) => created += 1,
                Ok(None) => {}
                Err(e) => errors.push(e.in_row(row)?),
            }
        }
        pending = waiting;
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(Error::Rows(errors));
    }
    w.commit()?;
    Ok(crate::tags::io::Imported { created, updated })
}

/// Moves the tag-role index from the equipment's old bindings to its new ones; a tag
/// already bound elsewhere with another role is refused.
fn bind(w: &mut WriteTx, e: &Equipment, before: Option<&Equipment>) -> Result<()> {
    for b in before.map(|b| b.bindings.as_slice()).unwrap_or_default() {
        unbind(w, &b.tag, e.id)?;
    }
    for b in &e.bindings {
        let (role, mut ids) = w
            .get(&TAG_ROLES, &b.tag)?
            .unwrap_or_else(|| (b.role.id().to_string(), Vec::new()));
        if role != b.role.id() {
            let other = ids
                .first()
                .and_then(|id| w.get(&EQUIPMENT, id).ok().flatten())
                .map(|o| o.tag_no)
                .unwrap_or_default();
            return Err(Error::invalid_msg(
                "bindings",
                Msg::new("equipment.err.tag_role")
                    .arg("tag", &b.tag)
                    .arg("equipment", other)
                    .arg_key("role", format!("equipment.role.{role}")),
            ));
        }
        if !ids.contains(&e.id) {
            ids.push(e.id);
        }
        w.insert(&TAG_ROLES, &b.tag, &(role, ids))?;
    }
    // zones of vibration tags no longer bound go
    if let Some(b) = before {
        for old in &b.bindings {
            if !e
                .bindings
                .iter()
                .any(|n| n.tag == old.tag && n.role == Role::Vibration)
            {
                w.remove(&ZONES, &zone_key(e.id, &old.tag))?;
            }
        }
    }
    Ok(())
}

fn unbind(w: &mut WriteTx, tag: &str, id: u64) -> Result<()> {
    let key = tag.to_string();
    if let Some((role, mut ids)) = w.get(&TAG_ROLES, &key)? {
        ids.retain(|x| *x != id);
        if ids.is_empty() {
            w.remove(&TAG_ROLES, &key)?;
        } else {
            w.insert(&TAG_ROLES, &key, &(role, ids))?;
        }
    }
    Ok(())
}

fn deleted(e: &Equipment) -> Error {
    Error::NotFound(Msg::new("equipment.err.deleted").arg("tag_no", &e.tag_no))
}

/// Takes equipment out of the ledger: refused while it has parts below it or open work
/// orders. Its history stays; its 位号 is free again; its QR label answers “deleted”.
pub fn delete_equipment(store: &Store, actor: &Actor, id: u64) -> Result<Equipment> {
    let mut w = store.write(actor)?;
    let mut e = equipment(&w, id)?;
    if e.deleted {
        return Err(deleted(&e));
    }
    if let Some(c) = w
        .values(&EQUIPMENT)?
        .into_iter()
        .find(|c| c.parent == Some(id) && !c.deleted)
    {
        return Err(Error::Conflict(
            Msg::new("equipment.err.has_children").arg("child", c.tag_no),
        ));
    }
    // an inspection route would ask for a machine that is gone
    if let Some(rt) = inspection::routes(&w)?
        .into_iter()
        .find(|rt| rt.points.iter().any(|p| p.equipment == id))
    {
        return Err(Error::Conflict(
            Msg::new("equipment.err.in_route").arg("route", rt.name),
        ));
    }
    if let Some(o) = orders_of(&w, id)?.into_iter().find(|o| o.state.is_open()) {
        return Err(Error::Conflict(
            Msg::new("equipment.err.has_open_orders").arg("number", o.number),
        ));
    }
    let before = e.clone();
    for b in &e.bindings {
        unbind(&mut w, &b.tag, id)?;
        w.remove(&ZONES, &zone_key(id, &b.tag))?;
    }
    w.remove(&CODES, &tag_key(&e.tag_no))?;
    for p in plans(&w)?.into_iter().filter(|p| p.equipment == id) {
        let mut p2 = p.clone();
        p2.active = false;
        w.insert(&PLANS, &p.id, &p2)?;
    }
    e.deleted = true;
    e.bindings.clear();
    w.insert(&EQUIPMENT, &id, &e)?;
    w.audit(
        "equipment.item.delete",
        format!("equipment:{} {}", id, e.tag_no),
        Change::updated(before, &e),
    );
    w.commit()?;
    Ok(e)
}

/// Equipment that scanning a label may open: refused with the reason when deleted.
pub fn scanned(r: &impl Reader, id: u64) -> Result<Equipment> {
    let e = equipment(r, id)?;
    if e.deleted {
        return Err(deleted(&e));
    }
    Ok(e)
}

// ------------------------------------------------------------------ condition

fn zone_key(equipment: u64, tag: &str) -> String {
    format!("{equipment:020}/{tag}")
}

/// A vibration tag to watch: which equipment, which bounds.
#[derive(Debug, Clone)]
pub struct Watch {
    pub equipment: u64,
    pub tag_no: String,
    pub tag: String,
    pub bounds: rules::ZoneBounds,
    pub criticality: super::model::Criticality,
    /// The machine's motor current tag: while it reads zero the machine stands still and
    /// its vibration is not judged (ISO 10816-3 judges a machine running).
    pub running: Option<String>,
}

/// The zone boundaries a machine is judged by: edited ones, else the standard's for its
/// group and mounting, the group taken from its rated power (`rated_power`, kW: 300 kW and
/// more is group 1) when not given; what stays unknown takes the strictest.
pub fn bounds_of(e: &Equipment) -> rules::ZoneBounds {
    if let Some(b) = e.vibration.bounds {
        return b;
    }
    let group = e
        .vibration
        .group
        .or_else(|| match e.params.get("rated_power") {
            Some(ParamValue::Number(kw)) if *kw >= 300.0 => Some(rules::MachineGroup::Group1),
            Some(ParamValue::Number(_)) => Some(rules::MachineGroup::Group2),
            _ => None,
        });
    rules::ZoneBounds::iso10816_3(group, e.vibration.mounting)
}

/// Every vibration binding of equipment in the ledger, with the zone it is in now.
pub fn watches(r: &impl Reader) -> Result<Vec<(Watch, Option<Zone>)>> {
    let mut out = Vec::new();
    for e in all_equipment(r)? {
        for b in e.bindings.iter().filter(|b| b.role == Role::Vibration) {
            let z = r.get(&ZONES, &zone_key(e.id, &b.tag))?.map(|s| s.zone);
            out.push((
                Watch {
                    equipment: e.id,
                    tag_no: e.tag_no.clone(),
                    tag: b.tag.clone(),
                    bounds: bounds_of(&e),
                    criticality: e.criticality,
                    running: e
                        .bindings
                        .iter()
                        .find(|b| b.role == Role::MotorCurrent)
                        .map(|b| b.tag.clone()),
                },
                z,
            ));
        }
    }
    Ok(out)
}

/// A zone change seen by the running evaluation.
#[derive(Debug, Clone)]
pub struct ZoneChange {
    pub equipment: u64,
    pub tag: String,
    pub from: Option<Zone>,
    pub to: Zone,
    pub value: f64,
    pub ts_ms: i64,
}

/// Records zone changes (current zone and history) and opens the work orders they propose:
/// entering C or D, unless the equipment has an open order from its condition already.
/// Returns the orders opened.
pub fn zone_changes(
    store: &Store,
    actor: &Actor,
    changes: &[ZoneChange],
    now: Now,
) -> Result<Vec<WorkOrder>> {
    let mut w = store.write(actor)?;
    let mut opened = Vec::new();
    for c in changes {
        let Some(e) = w.get(&EQUIPMENT, &c.equipment)? else {
            continue;
        };
        if e.deleted {
            continue;
        }
        w.insert(
            &ZONES,
            &zone_key(c.equipment, &c.tag),
            &ZoneState {
                equipment: c.equipment,
                tag: c.tag.clone(),
                zone: c.to,
                value: c.value,
                since_ms: c.ts_ms,
            },
        )?;
        let mut ev = ZoneEvent {
            equipment: c.equipment,
            tag: c.tag.clone(),
            ts_ms: c.ts_ms,
            from: c.from,
            to: c.to,
            value: c.value,
            work_order: None,
        };
        let open = orders_of(&w, c.equipment)?
            .into_iter()
            .find(|o| o.state.is_open() && matches!(&o.origin, Origin::Condition { .. }));
        let worse = rules::proposes_work_order(c.from, c.to);
        if let Some(mut o) = open.clone().filter(|_| worse && c.to == Zone::D) {
            // worse while its order is open: the order becomes urgent and says why
            let before = o.state;
            o.priority = WoPriority::Urgent;
            o.due_ms = o
                .due_ms
                .min(now.ms + WoPriority::Urgent.default_hours() * HOUR_MS);
            o.steps.push(WoStep {
                at_ms: now.ms,
                by: who(&w, &w.actor().clone())?,
                action: "escalate".into(),
                note: format!("{} D {:.2} mm/s", c.tag, c.value),
            });
            put(&mut w, &o, Some(before))?;
            ev.work_order = Some(o.id);
        } else if worse && open.is_none() {
            let title = Msg::new("equipment.wo.condition_title")
                .arg("tag_no", &e.tag_no)
                .arg("zone", format!("{:?}", c.to))
                .arg("value", format!("{:.2}", c.value))
                .render(crate::i18n::Lang::ZhCn);
            let o = new_order(
                &mut w,
                &e,
                NewOrder {
                    equipment: e.id,
                    kind: WoKind::Corrective,
                    title,
                    description: String::new(),
                    priority: if c.to == Zone::D {
                        WoPriority::Urgent
                    } else {
                        WoPriority::High
                    },
                    stopped: false,
                    due: None,
                    needs_permits: Vec::new(),
                },
                Origin::Condition {
                    tag: c.tag.clone(),
                    zone: c.to,
                    value: c.value,
                },
                now,
            )?;
            ev.work_order = Some(o.id);
            opened.push(o);
        }
        let seq = w.next_id(&ZONE_HISTORY)?;
        w.insert(
            &ZONE_HISTORY,
            &(c.equipment, c.ts_ms.max(0) as u64, seq),
            &ev,
        )?;
        w.audit(
            "equipment.zone.change",
            format!("equipment:{} {} {}", e.id, e.tag_no, c.tag),
            Change::created(&ev),
        );
    }
    w.commit()?;
    Ok(opened)
}

/// Opens the corrective order an urgent alarm on a bound tag proposes, unless the
/// equipment has an open order from an alarm already. Returns it.
pub fn alarm_order(
    store: &Store,
    actor: &Actor,
    equipment_id: u64,
    tag: &str,
    message: &str,
    now: Now,
) -> Result<Option<WorkOrder>> {
    let mut w = store.write(actor)?;
    let e = equipment(&w, equipment_id)?;
    if e.deleted
        || orders_of(&w, e.id)?
            .iter()
            .any(|o| o.state.is_open() && matches!(o.origin, Origin::Alarm { .. }))
    {
        return Ok(None);
    }
    let title = Msg::new("equipment.wo.alarm_title")
        .arg("tag_no", &e.tag_no)
        .arg("message", message)
        .render(crate::i18n::Lang::ZhCn)
        .chars()
        .take(100)
        .collect();
    let o = new_order(
        &mut w,
        &e,
        NewOrder {
            equipment: e.id,
            kind: WoKind::Corrective,
            title,
            priority: WoPriority::Urgent,
            ..NewOrder::default()
        },
        Origin::Alarm {
            tag: tag.to_string(),
            message: message.to_string(),
        },
        now,
    )?;
    w.commit()?;
    Ok(Some(o))
}

/// The zone of each vibration tag of a piece of equipment now.
pub fn zones_of(r: &impl Reader, equipment: u64) -> Result<Vec<ZoneState>> {
    let mut out = Vec::new();
    let from = format!("{equipment:020}/");
    let to = format!("{equipment:020}0");
    r.visit(&ZONES, from..to, Order::Asc, |_, z| {
        out.push(z);
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// Zone history of a piece of equipment, newest first.
pub fn zone_history(r: &impl Reader, equipment: u64, limit: usize) -> Result<Vec<ZoneEvent>> {
    let mut out = Vec::new();
    r.visit(
        &ZONE_HISTORY,
        (equipment, 0, 0)..(equipment + 1, 0, 0),
        Order::Desc,
        |_, ev| {
            out.push(ev);
            if out.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    Ok(out)
}

/// The equipment a tag is bound to, with its role.
pub fn bound(r: &impl Reader, tag: &str) -> Result<Option<(Role, Vec<u64>)>> {
    Ok(r.get(&TAG_ROLES, &tag.to_string())?
        .and_then(|(role, ids)| Role::parse(&role).map(|r| (r, ids))))
}

// ------------------------------------------------------------------ work orders

pub fn order(r: &impl Reader, id: u64) -> Result<WorkOrder> {
    r.get(&WORK_ORDERS, &id)?
        .ok_or_else(|| Error::not_found("equipment.err.order_not_found"))
}

/// The ids an index `(parent, child)` holds under `parent`, newest (highest) first.
fn ids_under(r: &impl Reader, t: &Table<(u64, u64), ()>, parent: u64) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    r.visit(
        t,
        (parent, 0)..(parent + 1, 0),
        Order::Desc,
        |(_, id), ()| {
            ids.push(id);
            ControlFlow::Continue(())
        },
    )?;
    Ok(ids)
}

/// Every work order of a piece of equipment, newest first.
pub fn orders_of(r: &impl Reader, equipment: u64) -> Result<Vec<WorkOrder>> {
    ids_under(r, &BY_EQUIPMENT, equipment)?
        .into_iter()
        .map(|id| order(r, id))
        .collect()
}

/// The work order list's filter.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct WoFilter {
    /// A state id, `open` (not done, verified or cancelled) or `overdue`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub equipment: Option<u64>,
    #[serde(default)]
    pub kind: Option<String>,
    /// Assigned to this user.
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub assignee: Option<u64>,
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub page: Option<usize>,
}

/// One page of work orders, newest first.
pub fn orders(r: &impl Reader, f: &WoFilter, now_ms: i64) -> Result<Page<WorkOrder>> {
    let state = f.state.as_deref().filter(|s| !s.is_empty());
    let kind = f.kind.as_deref().filter(|s| !s.is_empty());
    let page = f.page.unwrap_or(1).max(1);
    let hit = |o: &WorkOrder| {
        (match state {
            None => true,
            Some("open") => o.state.is_open(),
            Some("overdue") => o.state.is_open() && o.due_ms < now_ms,
            Some(s) => o.state.id() == s,
        }) && kind.is_none_or(|k| o.kind.id() == k)
            && f.assignee.is_none_or(|a| o.assignee == Some(a))
            && f.equipment.is_none_or(|e| o.equipment == e)
    };
    let mut pager = Pager::new(page);
    let mut take = |o: WorkOrder| {
        if hit(&o) {
            pager.offer(o)
        } else {
            ControlFlow::Continue(())
        }
    };
    // the states asked for, through the state index
    let states: Option<Vec<WoState>> = match state {
        None => None,
        Some("open" | "overdue") => {
            Some(WoState::ALL.into_iter().filter(|s| s.is_open()).collect())
        }
        Some(s) => Some(WoState::parse(s).into_iter().collect()),
    };
    match (f.equipment, states) {
        // one machine's orders through its index
        (Some(e), _) => {
            for o in orders_of(r, e)? {
                if take(o).is_break() {
                    break;
                }
            }
        }
        (None, Some(states)) => {
            let mut ids = Vec::new();
            for s in states {
                let k = WoState::ALL.iter().position(|x| *x == s).unwrap_or(0) as u64;
                r.visit(&BY_STATE, (k, 0)..(k + 1, 0), Order::Asc, |(_, id), ()| {
                    ids.push(id);
                    ControlFlow::Continue(())
                })?;
            }
            ids.sort_unstable_by(|a, b| b.cmp(a));
            for id in ids {
                if take(order(r, id)?).is_break() {
                    break;
                }
            }
        }
        (None, None) => r.visit(&WORK_ORDERS, .., Order::Desc, |_, o| take(o))?,
    }
    Ok(pager.finish(page))
}

/// A work order as asked for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewOrder {
    pub equipment: u64,
    #[serde(default = "corrective")]
    pub kind: WoKind,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "normal")]
    pub priority: WoPriority,
    /// The equipment is stopped by the fault.
    #[serde(default)]
    pub stopped: bool,
    /// Due (plant time `YYYY-MM-DD HH:MM`); default by priority.
    #[serde(default)]
    pub due: Option<String>,
    /// The job needs special work permits of these types before it starts
    /// (`hot_work`, `confined_space`).
    #[serde(default)]
    pub needs_permits: Vec<String>,
}

fn corrective() -> WoKind {
    WoKind::Corrective
}
fn normal() -> WoPriority {
    WoPriority::Normal
}

/// Permit types a work order may wait for.
pub const PERMIT_TYPES: [&str; 2] = ["hot_work", "confined_space"];

/// The permit types asked for, checked and without repeats.
fn permit_types(v: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for p in v.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if !PERMIT_TYPES.contains(&p) {
            return Err(Error::invalid("needs_permits", "equipment.err.permit_type"));
        }
        if !out.iter().any(|x| x == p) {
            out.push(p.to_string());
        }
    }
    Ok(out)
}

fn new_order(
    w: &mut WriteTx,
    e: &Equipment,
    n: NewOrder,
    origin: Origin,
    now: Now,
) -> Result<WorkOrder> {
    let title = text("title", &n.title, 100, true)?;
    let description = text("description", &n.description, 2000, false)?;
    let due_ms = match n.due.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => crate::plant_time::parse_local(s, now.offset)
            .ok_or_else(|| Error::invalid("due", "equipment.err.due"))?,
        None => now.ms + n.priority.default_hours() * HOUR_MS,
    };
    let needs_permits = permit_types(&n.needs_permits)?;
    let year = now.today.year() as u64;
    let seq = w.get(&SEQ, &year)?.unwrap_or(0) + 1;
    w.insert(&SEQ, &year, &seq)?;
    let actor = w.actor().clone();
    let name = who(&*w, &actor)?;
    let o = WorkOrder {
        id: w.next_id(&WORK_ORDERS)?,
        number: format!("WO-{year}-{seq:04}"),
        equipment: e.id,
        kind: n.kind,
        origin,
        title,
        description,
        priority: n.priority,
        state: WoState::Open,
        stopped: n.stopped,
        created_ms: now.ms,
        created_by: name.clone(),
        due_ms,
        assignee: None,
        assignee_name: String::new(),
        started_ms: None,
        photos: Vec::new(),
        labour: Vec::new(),
        parts: Vec::new(),
        checklist: Vec::new(),
        report: String::new(),
        done_ms: None,
        done_by: String::new(),
        done_by_id: 0,
        verified_ms: None,
        verified_by: String::new(),
        signoff: String::new(),
        permits: Vec::new(),
        needs_permits,
        meter_at_done: None,
        steps: vec![WoStep {
            at_ms: now.ms,
            by: name,
            action: "create".into(),
            note: String::new(),
        }],
    };
    w.claim(&CODES, &format!("w:{}", o.number), o.id, None)?;
    put(w, &o, None)?;
    w.insert(&BY_EQUIPMENT, &(e.id, o.id), &())?;
    w.audit(
        "equipment.order.create",
        format!("order:{} {} {}", o.id, o.number, e.tag_no),
        Change::created(serde_json::json!({
            "equipment": e.tag_no, "kind": o.kind, "origin": o.origin, "title": o.title,
            "priority": o.priority,
        })),
    );
    // the planners hear of work waiting to be given out (not of their own)
    let to: Vec<u64> = dispatchers(&*w)?
        .into_iter()
        .filter(|u| *u != user_id(&actor))
        .collect();
    let msg = Msg::new("equipment.notice.opened")
        .arg("number", &o.number)
        .arg("tag_no", &e.tag_no)
        .arg("title", &o.title)
        .arg_key("origin", format!("equipment.origin.{}", o.origin.id()));
    crate::notices::send(
        w,
        &to,
        "equipment",
        &crate::alarms::model::Text::of(&msg),
        &format!("/equipment/work-orders/{}", o.id),
        now.ms,
    )?;
    Ok(o)
}

/// Who gives work out: enabled users holding the module's approve and write levels (the
/// maintenance lead, admins; not a manager who only approves).
fn dispatchers(r: &impl Reader) -> Result<Vec<u64>> {
    let m = [("equipment", crate::registry::Kind::N)];
    let mut out = Vec::new();
    for u in crate::auth::service::users(r)?
        .into_iter()
        .filter(|u| u.enabled)
    {
        let level = crate::auth::service::user_grants(r, &u, &m)?
            .get("equipment")
            .copied()
            .unwrap_or_default();
        if level.has(crate::auth::model::Level::Approve)
            && level.has(crate::auth::model::Level::Write)
        {
            out.push(u.id);
        }
    }
    Ok(out)
}

/// Writes a work order and keeps the state index: `before` is the state it was stored
/// with (None for a new order).
/// A state's place in the state index: its place in `WoState::ALL`.
fn state_place(s: WoState) -> u64 {
    WoState::ALL.iter().position(|x| *x == s).unwrap_or(0) as u64
}

fn put(w: &mut WriteTx, o: &WorkOrder, before: Option<WoState>) -> Result<()> {
    let ord = state_place;
    if before != Some(o.state) {
        if let Some(b) = before {
            w.remove(&BY_STATE, &(ord(b), o.id))?;
        }
        w.insert(&BY_STATE, &(ord(o.state), o.id), &())?;
    }
    Ok(w.insert(&WORK_ORDERS, &o.id, o)?)
}

/// Opens a work order (or a fault report) inside a caller's transaction.
pub fn open_in(w: &mut WriteTx, n: NewOrder, fault: bool, now: Now) -> Result<WorkOrder> {
    let e = equipment(&*w, n.equipment)
        .map_err(|_| Error::invalid("equipment", "equipment.err.not_found"))?;
    if e.deleted {
        return Err(deleted(&e));
    }
    // a due time typed by a person lies ahead (a plan's may already have passed)
    if let Some(ms) = n
        .due
        .as_deref()
        .and_then(|s| crate::plant_time::parse_local(s.trim(), now.offset))
        && ms < now.ms
    {
        return Err(Error::invalid("due", "equipment.err.due_past"));
    }
    let origin = if fault { Origin::Fault } else { Origin::Manual };
    new_order(w, &e, n, origin, now)
}

/// A plugin proposes a work order for a condition it names (`key`, 1–64 characters):
/// while an order for the same plugin and key is open, that order is answered (`false`:
/// not new) instead of a second one. The order is checked like any other (equipment,
/// title, due, permits) and starts open, for the maintenance planner to assign.
pub fn propose_order(
    store: &Store,
    actor: &Actor,
    plugin: &str,
    key: &str,
    n: NewOrder,
    now: Now,
) -> Result<(WorkOrder, bool)> {
    let key = text("key", key, 64, true)?;
    let mut w = store.write(actor)?;
    let e = equipment(&w, n.equipment)
        .map_err(|_| Error::invalid("equipment", "equipment.err.not_found"))?;
    if e.deleted {
        return Err(deleted(&e));
    }
    let same = |o: &WorkOrder| {
        o.state.is_open()
            && matches!(&o.origin, Origin::Plugin { plugin: p, key: k } if p == plugin && *k == key)
    };
    if let Some(o) = orders_of(&w, e.id)?.into_iter().find(same) {
        return Ok((o, false));
    }
    let origin = Origin::Plugin {
        plugin: plugin.to_string(),
        key,
    };
    let o = new_order(&mut w, &e, n, origin, now)?;
    w.commit()?;
    Ok((o, true))
}

/// Opens a work order (console, API) or reports a fault (from a phone: `fault`), with
/// photos (images only).
pub fn create_order(
    store: &Store,
    actor: &Actor,
    n: NewOrder,
    fault: bool,
    photos: Vec<(String, Vec<u8>)>,
    now: Now,
) -> Result<WorkOrder> {
    let checked = photos
        .into_iter()
        .map(|(name, b)| image(&name, &b).map(|(n, m)| (n, m, b)))
        .collect::<Result<Vec<_>>>()?;
    let mut w = store.write(actor)?;
    let mut o = open_in(&mut w, n, fault, now)?;
    for (name, mime, bytes) in checked {
        let meta = store_photo(&mut w, o.id, &name, mime, bytes, now.ms)?;
        o.photos.push(meta);
    }
    put(&mut w, &o, Some(o.state))?;
    w.commit()?;
    Ok(o)
}

fn image(name: &str, bytes: &[u8]) -> Result<(String, &'static str)> {
    let (name, mime) =
        crate::modules::safety::archive::service::check_file(name, bytes).map_err(|e| match e {
            // the size limit says its number; any other refusal: images only
            Error::Invalid { msg, .. } if msg.key == "safety.err.file_too_large" => {
                Error::Invalid {
                    field: "photo",
                    msg,
                }
            }
            Error::Invalid { .. } => Error::invalid("photo", "equipment.err.photo"),
            e => e,
        })?;
    if !mime.starts_with("image/") {
        return Err(Error::invalid("photo", "equipment.err.photo"));
    }
    Ok((name, mime))
}

fn store_photo(
    w: &mut WriteTx,
    order: u64,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
    now_ms: i64,
) -> Result<FileMeta> {
    store_file(w, &FILES, order, (name, mime), bytes, now_ms)
}

/// Keeps a file's bytes under its owner (`(owner, file id)`) and answers what it is.
fn store_file(
    w: &mut WriteTx,
    t: &Table<(u64, u64), FileBlob>,
    owner: u64,
    (name, mime): (&str, &str),
    bytes: Vec<u8>,
    now_ms: i64,
) -> Result<FileMeta> {
    let meta = FileMeta {
        id: w.next_id(t)?,
        name: name.to_string(),
        content_type: mime.to_string(),
        size: bytes.len() as u64,
        uploaded_ms: now_ms,
        uploaded_by: who(&*w, &w.actor().clone())?,
    };
    w.insert(t, &(owner, meta.id), &FileBlob { bytes })?;
    Ok(meta)
}

/// Adds photos to a work order that is not closed.
pub fn add_photos(
    store: &Store,
    actor: &Actor,
    id: u64,
    photos: Vec<(String, Vec<u8>)>,
    now: Now,
) -> Result<WorkOrder> {
    if photos.is_empty() {
        return Err(Error::invalid("photo", "equipment.err.photo"));
    }
    let checked = photos
        .into_iter()
        .map(|(name, b)| image(&name, &b).map(|(n, m)| (n, m, b)))
        .collect::<Result<Vec<_>>>()?;
    let mut w = store.write(actor)?;
    let mut o = order(&w, id)?;
    if !o.state.is_open() {
        return Err(Error::Conflict(Msg::new("equipment.err.order_closed")));
    }
    for (name, mime, bytes) in checked {
        let meta = store_photo(&mut w, o.id, &name, mime, bytes, now.ms)?;
        o.photos.push(meta);
    }
    put(&mut w, &o, Some(o.state))?;
    w.audit(
        "equipment.order.photo",
        format!("order:{} {}", o.id, o.number),
        Change::created(serde_json::json!({"photos": o.photos.len()})),
    );
    w.commit()?;
    Ok(o)
}

/// A photo of a work order.
pub fn photo(r: &impl Reader, order_id: u64, file: u64) -> Result<(FileMeta, Vec<u8>)> {
    let o = order(r, order_id)?;
    let meta = o
        .photos
        .iter()
        .find(|f| f.id == file)
        .cloned()
        .ok_or_else(|| Error::not_found("equipment.err.file_not_found"))?;
    let blob = r
        .get(&FILES, &(order_id, file))?
        .ok_or_else(|| Error::not_found("equipment.err.file_not_found"))?;
    Ok((meta, blob.bytes))
}

/// A spare part to issue to a work order: from a location (or any that has it, oldest lot
/// first), a lot (or the oldest usable).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartInput {
    pub material: u64,
    pub qty: f64,
    /// Default: the base unit.
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub location: Option<u64>,
    #[serde(default)]
    pub lot: Option<u64>,
}

/// What an action on a work order carries.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionInput {
    /// A life-cycle step (`assign`, `start`, `wait_parts`, `resume`, `done`, `verify`,
    /// `reject`, `cancel`) or a booking (`labour`, `parts`, `return_parts`, `check`, `permit`,
    /// `note`).
    pub action: String,
    /// assign: the technician (a user id).
    #[serde(default)]
    pub assignee: Option<u64>,
    /// Comment; cancel and reject need one; verify: the sign-off.
    #[serde(default)]
    pub note: String,
    /// done: what was found and done.
    #[serde(default)]
    pub report: String,
    /// labour (or done): hours worked.
    #[serde(default)]
    pub hours: Option<f64>,
    /// parts (or done): spare parts to issue.
    #[serde(default)]
    pub parts: Vec<PartInput>,
    /// check: the checklist line (from 0) to tick.
    #[serde(default)]
    pub line: Option<usize>,
    /// permit: the safety module's permit id.
    #[serde(default)]
    pub permit: Option<u64>,
    /// assign: the permits the job needs before it starts (`hot_work`, `confined_space`);
    /// absent leaves them as they are.
    #[serde(default)]
    pub needs_permits: Option<Vec<String>>,
}

/// The level an action on a work order needs: assigning, verifying, sending back and
/// cancelling are the planner's (approve); everything else the technician's (write).
pub fn level_for(action: &str) -> crate::auth::model::Level {
    match WoAction::parse(action.trim()) {
        Some(WoAction::Assign | WoAction::Verify | WoAction::Reject | WoAction::Cancel) => {
            crate::auth::model::Level::Approve
        }
        _ => crate::auth::model::Level::Write,
    }
}

/// What an action did, for the caller to announce (inventory movements posted).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Acted {
    #[serde(flatten)]
    pub order: WorkOrder,
    #[serde(skip)]
    pub movements: Vec<crate::modules::inventory::model::Movement>,
}

/// Applies an action to a work order, in one transaction with the parts it issues and the
/// plan it completes. `approver`: the caller holds the module's approve level (needed to
/// assign, verify, reject and cancel).
pub fn act(
    store: &Store,
    actor: &Actor,
    id: u64,
    a: ActionInput,
    approver: bool,
    bx: &dyn Site,
    now: Now,
) -> Result<Acted> {
    let mut w = store.write(actor)?;
    let done = act_in(&mut w, id, a, approver, bx, now)?;
    w.commit()?;
    Ok(done)
}

/// [`act`] inside a caller's transaction; the actor is the transaction's.
pub fn act_in(
    w: &mut WriteTx,
    id: u64,
    a: ActionInput,
    approver: bool,
    bx: &dyn Site,
    now: Now,
) -> Result<Acted> {
    let actor = &w.actor().clone();
    let name = who(&*w, actor)?;
    let note = text("note", &a.note, 500, false)?;
    let mut o = order(&*w, id)?;
    let before = o.clone();
    let e = equipment(&*w, o.equipment)?;
    let mut movements = Vec::new();
    let step_action = a.action.trim().to_string();
    let lifecycle = WoAction::parse(&step_action);
    // the technician's steps are the assignee's (or a planner's, who may stand in)
    let technicians = matches!(
        lifecycle,
        Some(WoAction::Start | WoAction::WaitParts | WoAction::Resume | WoAction::Done)
    ) || matches!(
        step_action.as_str(),
        "labour" | "parts" | "return_parts" | "check" | "uncheck"
    );
    if technicians
        && !approver
        && actor.kind == ActorKind::User
        && o.assignee.is_some_and(|u| u != actor.id)
    {
        return Err(Error::Forbidden(
            Msg::new("equipment.err.not_assignee").arg("name", &o.assignee_name),
        ));
    }
    if let Some(act) = lifecycle {
        let next = rules::transition(o.state, act).ok_or_else(|| {
            Error::Conflict(
                Msg::new("equipment.err.transition")
                    .arg_key("action", format!("equipment.action.{}", act.id()))
                    .arg_key("state", format!("equipment.state.{}", o.state.id())),
            )
        })?;
        let needs_approve = matches!(
            act,
            WoAction::Assign | WoAction::Verify | WoAction::Reject | WoAction::Cancel
        );
        if needs_approve && !approver {
            return Err(Error::Forbidden(Msg::new("equipment.err.approve_needed")));
        }
        match act {
            WoAction::Assign => {
                let u = a
                    .assignee
                    .ok_or_else(|| Error::invalid("assignee", "equipment.err.assignee"))?;
                let name = bx
                    .assignable(u)
                    .ok_or_else(|| Error::invalid("assignee", "equipment.err.assignee"))?;
                o.assignee = Some(u);
                o.assignee_name = name;
                if let Some(p) = &a.needs_permits {
                    o.needs_permits = permit_types(p)?;
                }
            }
            WoAction::Start | WoAction::Resume | WoAction::Reject => {
                if act == WoAction::Reject {
                    if note.is_empty() {
                        return Err(Error::invalid("note", "equipment.err.reason"));
                    }
                    o.done_ms = None;
                }
                // work begins (again) only under every permit the job needs, valid now —
                // sent back for rework too
                for want in &o.needs_permits {
                    permit_ready(&*w, &o, want, now.ms)?;
                }
                o.started_ms.get_or_insert(now.ms);
            }
            WoAction::Done => {
                // what was found and done is a person's report
                if actor.kind != ActorKind::User {
                    return Err(Error::Forbidden(Msg::new("equipment.err.report_person")));
                }
                o.report = text("report", &a.report, 2000, true)?;
                if let Some(h) = a.hours {
                    o.labour.push(labour(&name, h, &note, now)?);
                }
                issue_parts(w, &mut o, &a.parts, bx, now, &mut movements)?;
                if o.labour.is_empty() {
                    return Err(Error::invalid("hours", "equipment.err.no_labour"));
                }
                if let Some((t, _)) = o.checklist.iter().find(|(_, done)| !done) {
                    return Err(Error::invalid_msg(
                        "checklist",
                        Msg::new("equipment.err.checklist").arg("task", t),
                    ));
                }
                o.done_ms = Some(now.ms);
                o.done_by = name.clone();
                o.done_by_id = user_id(actor);
                o.meter_at_done = plan_meter(&*w, &o, bx)?;
            }
            WoAction::Verify => {
                // a sign-off is a person's: a machine token cannot close work
                if actor.kind != ActorKind::User {
                    return Err(Error::Forbidden(Msg::new("equipment.err.signoff_person")));
                }
                if note.is_empty() {
                    return Err(Error::invalid("note", "equipment.err.signoff"));
                }
                // not by whoever did, was given or booked the work
                let me = user_id(actor);
                if me == o.done_by_id
                    || o.assignee == Some(me)
                    || o.labour.iter().any(|l| l.person == name)
                {
                    return Err(Error::Conflict(Msg::new("equipment.err.self_verify")));
                }
                o.verified_ms = Some(now.ms);
                o.verified_by = name.clone();
                o.signoff = note.clone();
            }
            WoAction::Cancel => {
                if note.is_empty() {
                    return Err(Error::invalid("note", "equipment.err.reason"));
                }
            }
            WoAction::WaitParts => {}
        }
        o.state = next;
        // the technician hears of work given to them, and of work sent back
        let notice = match act {
            WoAction::Assign => Some("equipment.notice.assigned"),
            WoAction::Reject => Some("equipment.notice.rejected"),
            _ => None,
        };
        if let (Some(key), Some(u)) = (notice, o.assignee) {
            let msg = Msg::new(key)
                .arg("number", &o.number)
                .arg("tag_no", &e.tag_no)
                .arg("title", &o.title)
                .arg("note", &note);
            crate::notices::send(
                w,
                &[u],
                "equipment",
                &crate::alarms::model::Text::of(&msg),
                &format!("/equipment/work-orders/{}", o.id),
                now.ms,
            )?;
        }
        // a plan's order done: the plan counts from now (and from the meter)
        if let Origin::Plan { plan } = o.origin
            && matches!(next, WoState::Done | WoState::Cancelled)
            && let Some(mut p) = w.get(&PLANS, &plan)?
        {
            if next == WoState::Done {
                p.last_done_ms = Some(now.ms);
                if o.meter_at_done.is_some() {
                    p.last_meter = o.meter_at_done;
                }
            } else {
                // cancelled: this occurrence is skipped, the plan counts on from it
                match &p.trigger {
                    Trigger::Calendar { .. } => p.last_done_ms = Some(o.due_ms),
                    Trigger::Meter { tag, every } => {
                        p.last_meter = Some(
                            bx.meter(tag)
                                .unwrap_or_else(|| p.last_meter.unwrap_or(0.0) + every),
                        )
                    }
                }
            }
            if p.open_order == Some(o.id) {
                p.open_order = None;
            }
            w.insert(&PLANS, &p.id, &p)?;
        }
    } else {
        if !o.state.is_open() {
            return Err(Error::Conflict(Msg::new("equipment.err.order_closed")));
        }
        let working = rules::books_work(o.state);
        match step_action.as_str() {
            "labour" if working => {
                let h = a
                    .hours
                    .ok_or_else(|| Error::invalid("hours", "equipment.err.hours"))?;
                o.labour.push(labour(&name, h, &note, now)?);
            }
            "parts" if working => {
                if a.parts.is_empty() {
                    return Err(Error::invalid("parts", "equipment.err.no_parts"));
                }
                issue_parts(w, &mut o, &a.parts, bx, now, &mut movements)?;
            }
            "return_parts" if working => {
                return_parts(w, &mut o, &a.parts, bx, now, &mut movements)?;
            }
            "check" | "uncheck" if working => {
                let l = a
                    .line
                    .filter(|l| *l < o.checklist.len())
                    .ok_or_else(|| Error::invalid("line", "equipment.err.check_line"))?;
                o.checklist[l].1 = step_action == "check";
            }
            "permit" => {
                // linked while no work is going on: before it starts, while it is paused
                // (a permit that ran out is replaced by a new one) or done (before it is
                // sent back); while work is under way its permits stay as they are
                if !matches!(
                    o.state,
                    WoState::Open | WoState::Assigned | WoState::WaitingParts | WoState::Done
                ) {
                    return Err(Error::Conflict(Msg::new("equipment.err.permit_frozen")));
                }
                let pid = a
                    .permit
                    .ok_or_else(|| Error::invalid("permit", "equipment.err.permit"))?;
                let p = crate::modules::safety::permits::service::permit(&*w, pid)
                    .map_err(|_| Error::invalid("permit", "equipment.err.permit"))?;
                let work = work_of(&p);
                if !o.needs_permits.contains(&work) {
                    return Err(Error::invalid("permit", "equipment.err.permit_unneeded"));
                }
                // a permit that is over cannot cover work any more
                use crate::modules::safety::permits::model::Stage;
                if matches!(p.stage, Stage::Closed | Stage::Cancelled | Stage::Withdrawn) {
                    return Err(Error::invalid_msg(
                        "permit",
                        Msg::new("equipment.err.permit_over").arg("number", &p.number),
                    ));
                }
                // one job under a permit: another open order holding it is refused
                if let Some(other) = orders_holding_permit(&*w, pid)?
                    .into_iter()
                    .find(|x| x.id != o.id && x.state.is_open())
                {
                    return Err(Error::invalid_msg(
                        "permit",
                        Msg::new("equipment.err.permit_taken")
                            .arg("number", &p.number)
                            .arg("order", &other.number),
                    ));
                }
                o.permits.retain(|x| x.work != work);
                o.permits.push(super::model::PermitLink {
                    id: pid,
                    number: p.number,
                    work,
                });
            }
            "note" => {
                if note.is_empty() {
                    return Err(Error::invalid("note", "equipment.err.reason"));
                }
            }
            "labour" | "parts" | "return_parts" | "check" | "uncheck" => {
                return Err(Error::Conflict(
                    Msg::new("equipment.err.not_working")
                        .arg_key("state", format!("equipment.state.{}", o.state.id())),
                ));
            }
            _ => return Err(Error::invalid("action", "equipment.err.action")),
        }
    }
    o.steps.push(WoStep {
        at_ms: now.ms,
        by: name,
        action: step_action.clone(),
        note,
    });
    put(w, &o, Some(before.state))?;
    let summary = |x: &WorkOrder| {
        serde_json::json!({
            "state": x.state, "assignee": x.assignee_name, "labour_h": x.labour.iter().map(|l| l.hours).sum::<f64>(),
            "parts": x.parts.len(), "permits": x.permits, "report": x.report, "signoff": x.signoff,
        })
    };
    w.audit(
        &format!("equipment.order.{step_action}"),
        format!("order:{} {} {}", o.id, o.number, e.tag_no),
        Change::updated(summary(&before), summary(&o)),
    );
    Ok(Acted {
        order: o,
        movements,
    })
}

fn labour(person: &str, h: f64, note: &str, now: Now) -> Result<Labour> {
    if !(h.is_finite() && h > 0.0 && h <= 24.0 * 14.0) {
        return Err(Error::invalid("hours", "equipment.err.hours"));
    }
    Ok(Labour {
        person: person.to_string(),
        hours: (h * 100.0).round() / 100.0,
        note: note.to_string(),
        at_ms: now.ms,
    })
}

fn work_of(p: &crate::modules::safety::permits::model::Permit) -> String {
    serde_json::to_value(p.details.work())
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The work orders a safety permit is linked to (the open ones, through the state index).
fn orders_holding_permit(r: &impl Reader, permit: u64) -> Result<Vec<WorkOrder>> {
    let mut out = Vec::new();
    for s in WoState::ALL.into_iter().filter(|s| s.is_open()) {
        for id in ids_under(r, &BY_STATE, state_place(s))? {
            let o = order(r, id)?;
            if o.permits.iter().any(|l| l.id == permit) {
                out.push(o);
            }
        }
    }
    Ok(out)
}

/// A job that needs a permit of type `want` starts (and resumes) only under one linked to
/// it that is in force: the guardian has started the work (stage working, so the briefing
/// and the gas analysis are done) and now is inside its period and one of its work
/// windows (GB 30871).
fn permit_ready(r: &impl Reader, o: &WorkOrder, want: &str, now_ms: i64) -> Result<()> {
    use crate::modules::safety::permits::model::Stage;
    let missing = || {
        Error::Conflict(
            Msg::new("equipment.err.permit_needed")
                .arg_key("type", format!("equipment.permit.{want}")),
        )
    };
    let link = o
        .permits
        .iter()
        .find(|l| l.work == want)
        .ok_or_else(missing)?;
    let p = crate::modules::safety::permits::service::permit(r, link.id).map_err(|_| missing())?;
    let in_window = p.windows.is_empty()
        || p.windows
            .iter()
            .any(|x| (x.from_ms..x.to_ms).contains(&now_ms));
    if work_of(&p) != want
        || p.stage != Stage::Working
        || !(p.from_ms..p.to_ms).contains(&now_ms)
        || !in_window
    {
        return Err(Error::Conflict(
            Msg::new("equipment.err.permit_not_in_force")
                .arg("number", &p.number)
                .arg_key("type", format!("equipment.permit.{want}")),
        ));
    }
    Ok(())
}

/// The reading of the meter of the plan an order belongs to.
fn plan_meter(r: &impl Reader, o: &WorkOrder, bx: &dyn Site) -> Result<Option<f64>> {
    let Origin::Plan { plan } = o.origin else {
        return Ok(None);
    };
    Ok(match r.get(&PLANS, &plan)?.map(|p| p.trigger) {
        Some(Trigger::Meter { tag, .. }) => bx.meter(&tag),
        _ => None,
    })
}

/// Issues spare parts to a work order through inventory's service, in the order's
/// transaction: each part from the location and lot asked for, or split over the lots in
/// stock that may be used, oldest first. Not enough in stock refuses the whole action.
fn issue_parts(
    w: &mut WriteTx,
    o: &mut WorkOrder,
    parts: &[PartInput],
    bx: &dyn Site,
    now: Now,
    out: &mut Vec<crate::modules::inventory::model::Movement>,
) -> Result<()> {
    let p = bx.posting();
    let actor = w.actor().clone();
    let by = who(&*w, &actor)?;
    for part in parts {
        let m = inventory::material(&*w, part.material).map_err(|_| {
            Error::invalid_msg(
                "parts",
                Msg::new("equipment.err.bom_material").arg("id", part.material),
            )
        })?;
        if !(part.qty.is_finite() && part.qty > 0.0) {
            return Err(Error::invalid("parts", "equipment.err.bom_qty"));
        }
        let qty = crate::modules::inventory::rules::to_base(&m, part.qty, &part.unit)?;
        let picks: Vec<(u64, u64, f64)> = match (part.location, part.lot) {
            (Some(loc), Some(lot)) => vec![(loc, lot, qty)],
            _ => {
                let mut avail = inventory::orders::pickable(&*w, m.id, p.today)?;
                avail.retain(|x| {
                    part.location.is_none_or(|l| x.location == l)
                        && part.lot.is_none_or(|l| x.lot == l)
                });
                avail.sort_by_key(|x| (x.expires, x.received_ms, x.lot));
                let have: f64 = avail.iter().map(|x| x.qty).sum();
                if have + 1e-9 < qty {
                    return Err(Error::invalid_msg(
                        "parts",
                        Msg::new("equipment.err.part_stock")
                            .arg("code", &m.code)
                            .arg("name", &m.name)
                            .arg("qty", crate::modules::inventory::rules::round3(qty) + 0.0)
                            .arg(
                                "have",
                                crate::modules::inventory::rules::round3(have.max(0.0)) + 0.0,
                            )
                            .arg("unit", &m.base_unit),
                    ));
                }
                let mut left = qty;
                let mut v = Vec::new();
                for x in avail {
                    if left <= 1e-9 {
                        break;
                    }
                    let take = left.min(x.qty);
                    v.push((x.location, x.lot, take));
                    left -= take;
                }
                v
            }
        };
        for (loc, lot, q) in picks {
            let posted = inventory::post_in(
                w,
                &actor,
                inventory::MoveInput {
                    kind: Some(MoveKind::Issue),
                    material: m.id,
                    lot: Some(lot),
                    from: Some(loc),
                    qty: q,
                    reference: o.number.clone(),
                    reason: o.title.chars().take(100).collect(),
                    doc: Some(DocLine::WorkOrder { order: o.id }),
                    ..Default::default()
                },
                p,
            )
            .map_err(|e| match e {
                Error::Invalid { msg, .. } => Error::Invalid {
                    field: "parts",
                    msg: Msg::new("equipment.err.part_refused")
                        .arg("code", &m.code)
                        .arg_msgs("reason", vec![msg]),
                },
                e => e,
            })?;
            if posted.movement.state == MoveState::Pending {
                return Err(Error::invalid_msg(
                    "parts",
                    Msg::new("equipment.err.part_two_people").arg("code", &m.code),
                ));
            }
            o.parts.push(PartUse {
                material: m.id,
                code: m.code.clone(),
                name: m.name.clone(),
                qty: q,
                unit: m.base_unit.clone(),
                movement: posted.movement.id,
                lot,
                at_ms: now.ms,
                by: by.clone(),
            });
            out.push(posted.movement);
        }
    }
    Ok(())
}

/// Returns unused parts from a work order to stock: each part back to the location (and
/// lot) it was issued from, never more than the order holds of it.
fn return_parts(
    w: &mut WriteTx,
    o: &mut WorkOrder,
    parts: &[PartInput],
    bx: &dyn Site,
    now: Now,
    out: &mut Vec<crate::modules::inventory::model::Movement>,
) -> Result<()> {
    if parts.is_empty() {
        return Err(Error::invalid("parts", "equipment.err.no_parts"));
    }
    let p = bx.posting();
    let actor = w.actor().clone();
    let by = who(&*w, &actor)?;
    for part in parts {
        let m = inventory::material(&*w, part.material)
            .map_err(|_| Error::invalid("parts", "equipment.err.part_not_issued"))?;
        let qty = crate::modules::inventory::rules::to_base(&m, part.qty, &part.unit)?;
        // what the order holds per (lot, source location)
        let mut held: BTreeMap<u64, f64> = BTreeMap::new();
        for u in o.parts.iter().filter(|u| u.material == m.id) {
            *held.entry(u.lot).or_default() += u.qty;
        }
        let total: f64 = held.values().sum();
        if !(qty.is_finite() && qty > 0.0) || qty > total + 1e-9 {
            return Err(Error::invalid_msg(
                "parts",
                Msg::new("equipment.err.part_return")
                    .arg("code", &m.code)
                    .arg(
                        "qty",
                        crate::modules::inventory::rules::round3(total.max(0.0)) + 0.0,
                    )
                    .arg("unit", &m.base_unit),
            ));
        }
        let mut left = qty;
        for (lot, h) in held.into_iter().rev().filter(|(_, h)| *h > 1e-9) {
            if left <= 1e-9 {
                break;
            }
            let q = left.min(h);
            let from_loc = o
                .parts
                .iter()
                .find(|u| u.lot == lot && u.qty > 0.0)
                .map(|u| inventory::movement(&*w, u.movement))
                .transpose()?
                .and_then(|mv| mv.from);
            let to = part
                .location
                .or(from_loc)
                .ok_or_else(|| Error::invalid("location", "inventory.err.location_required"))?;
            let posted = inventory::post_in(
                w,
                &actor,
                inventory::MoveInput {
                    kind: Some(MoveKind::Return),
                    material: m.id,
                    lot: Some(lot),
                    to: Some(to),
                    qty: q,
                    reference: o.number.clone(),
                    doc: Some(DocLine::WorkOrder { order: o.id }),
                    ..Default::default()
                },
                p,
            )?;
            o.parts.push(PartUse {
                material: m.id,
                code: m.code.clone(),
                name: m.name.clone(),
                qty: -q,
                unit: m.base_unit.clone(),
                movement: posted.movement.id,
                lot,
                at_ms: now.ms,
                by: by.clone(),
            });
            out.push(posted.movement);
            left -= q;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ plans

pub fn plans(r: &impl Reader) -> Result<Vec<Plan>> {
    Ok(r.values(&PLANS)?)
}

pub fn plan(r: &impl Reader, id: u64) -> Result<Plan> {
    r.get(&PLANS, &id)?
        .ok_or_else(|| Error::not_found("equipment.err.plan_not_found"))
}

/// Saves a preventive plan: a calendar plan every 1–3,650 days; a meter plan on a run-hours
/// or count tag bound to its equipment, every positive amount.
pub fn save_plan(store: &Store, actor: &Actor, mut p: Plan, today: Date) -> Result<Plan> {
    p.title = text("title", &p.title, 100, true)?;
    p.tasks = p
        .tasks
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if p.tasks.len() > 50 || p.tasks.iter().any(|t| t.chars().count() > 100) {
        return Err(Error::invalid("tasks", "equipment.err.tasks"));
    }
    if p.lead_days > 60 {
        return Err(Error::invalid("lead_days", "equipment.err.lead_days"));
    }
    p.needs_permits = permit_types(&p.needs_permits)?;
    let mut w = store.write(actor)?;
    let e = equipment(&w, p.equipment)
        .map_err(|_| Error::invalid("equipment", "equipment.err.not_found"))?;
    if e.deleted {
        return Err(deleted(&e));
    }
    match &mut p.trigger {
        Trigger::Calendar { every_days } => {
            if !(1..=3650).contains(every_days) {
                return Err(Error::invalid("every", "equipment.err.every_days"));
            }
            p.start = Some(
                day("start", p.start.take())?
                    .unwrap_or_else(|| crate::plant_time::format_day(today)),
            );
        }
        Trigger::Meter { tag, every } => {
            *tag = tag.trim().to_string();
            if !(every.is_finite() && *every > 0.0) {
                return Err(Error::invalid("every", "equipment.err.every_meter"));
            }
            // counting from 0 on an old machine would open an order at once: the planner
            // says what the meter read at the last overhaul
            match p.last_meter {
                Some(m) if m.is_finite() && m >= 0.0 => {}
                Some(_) => return Err(Error::invalid("last_meter", "common.err.number")),
                None => return Err(Error::invalid("last_meter", "equipment.err.last_meter")),
            }
            if tag.is_empty() {
                return Err(Error::invalid("tag", "equipment.err.meter_tag_missing"));
            }
            if !e
                .bindings
                .iter()
                .any(|b| &b.tag == tag && b.role.is_meter())
            {
                return Err(Error::invalid_msg(
                    "tag",
                    Msg::new("equipment.err.meter_tag")
                        .arg("tag", tag.as_str())
                        .arg("tag_no", &e.tag_no),
                ));
            }
        }
    }
    let before = if p.id == 0 {
        p.id = w.next_id(&PLANS)?;
        None
    } else {
        let b = plan(&w, p.id)?;
        p.last_done_ms = b.last_done_ms;
        p.last_meter = b.last_meter;
        p.meter_low_since_ms = b.meter_low_since_ms;
        p.open_order = b.open_order;
        Some(b)
    };
    w.insert(&PLANS, &p.id, &p)?;
    w.audit_saved(
        "equipment.plan",
        format!("plan:{} {} {}", p.id, e.tag_no, p.title),
        before,
        &p,
    );
    w.commit()?;
    Ok(p)
}

/// When a plan is next due: a calendar date, or what is left on its meter.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NextDue {
    /// `YYYY-MM-DD`.
    Date {
        date: String,
    },
    Meter {
        reading: Option<f64>,
        at: f64,
    },
}

pub fn next_due(p: &Plan, offset: time::UtcOffset, meter: Option<f64>) -> NextDue {
    match &p.trigger {
        Trigger::Calendar { every_days } => NextDue::Date {
            date: crate::plant_time::format_day(rules::calendar_due(
                p.last_done_ms
                    .map(|ms| crate::plant_time::local(ms, offset).date()),
                start_of(p).unwrap_or(Date::MIN),
                *every_days,
            )),
        },
        Trigger::Meter { every, .. } => NextDue::Meter {
            reading: meter,
            at: p.last_meter.unwrap_or(0.0) + every,
        },
    }
}

fn start_of(p: &Plan) -> Option<Date> {
    p.start.as_deref().and_then(crate::plant_time::parse_day)
}

/// Opens the orders of the plans that fell due (by calendar with their lead, by meter from
/// the reading now); a meter that has read below the plan's last reading for
/// [`METER_REBASE_MS`] (replaced, reset) is counted from its new reading. A plan with an
/// order not yet done opens no other. Returns the orders opened.
pub fn scheduled(
    store: &Store,
    actor: &Actor,
    now: Now,
    meter: &dyn Fn(&str) -> Option<f64>,
) -> Result<Vec<WorkOrder>> {
    let r = store.read()?;
    let due: Vec<(Plan, Option<f64>, Option<Date>)> = plans(&r)?
        .into_iter()
        .filter(|p| p.active && p.open_order.is_none())
        .filter_map(|p| match &p.trigger {
            Trigger::Calendar { every_days } => {
                let d = rules::calendar_due(
                    p.last_done_ms
                        .map(|ms| crate::plant_time::local(ms, now.offset).date()),
                    start_of(&p).unwrap_or(now.today),
                    *every_days,
                );
                rules::calendar_opens(d, p.lead_days, now.today).then_some((p, None, Some(d)))
            }
            Trigger::Meter { tag, every } => {
                let v = meter(tag)?;
                match rules::meter_due(p.last_meter, *every, v) {
                    // a drop that did not last is forgotten
                    MeterDue::NotYet(_) if p.meter_low_since_ms.is_none() => None,
                    _ => Some((p.clone(), Some(v), None)),
                }
            }
        })
        .collect();
    drop(r);
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut w = store.write(actor)?;
    let mut opened = Vec::new();
    for (mut p, reading, date) in due {
        if let (Some(v), Trigger::Meter { every, .. }) = (reading, &p.trigger) {
            let state = rules::meter_due(p.last_meter, *every, v);
            let low_since = p.meter_low_since_ms;
            if state == MeterDue::Rebase {
                // below the last reading: a meter reset or replaced is counted from its new
                // reading once the drop has lasted; until then nothing is lost or opened
                let before = p.clone();
                match low_since {
                    None => p.meter_low_since_ms = Some(now.ms),
                    Some(t) if now.ms - t >= METER_REBASE_MS => {
                        p.last_meter = Some(v);
                        p.meter_low_since_ms = None;
                        w.audit(
                            "equipment.plan.rebase",
                            format!("plan:{} {}", p.id, p.title),
                            Change::updated(before, &p),
                        );
                    }
                    Some(_) => continue,
                }
                w.insert(&PLANS, &p.id, &p)?;
                continue;
            }
            if low_since.is_some() {
                p.meter_low_since_ms = None;
                w.insert(&PLANS, &p.id, &p)?;
            }
            if state != MeterDue::Due {
                continue;
            }
        }
        let Some(e) = w.get(&EQUIPMENT, &p.equipment)? else {
            continue;
        };
        if e.deleted {
            continue;
        }
        let due = date.map(|d| {
            crate::plant_time::format_minute(
                crate::plant_time::day_start(d, now.offset) + 16 * HOUR_MS,
                now.offset,
            )
        });
        let mut o = new_order(
            &mut w,
            &e,
            NewOrder {
                equipment: e.id,
                kind: WoKind::Preventive,
                title: p.title.clone(),
                description: String::new(),
                priority: p.priority,
                stopped: false,
                due,
                needs_permits: p.needs_permits.clone(),
            },
            Origin::Plan { plan: p.id },
            now,
        )?;
        o.checklist = p.tasks.iter().map(|t| (t.clone(), false)).collect();
        put(&mut w, &o, Some(o.state))?;
        p.open_order = Some(o.id);
        w.insert(&PLANS, &p.id, &p)?;
        opened.push(o);
    }
    w.commit()?;
    Ok(opened)
}

// ------------------------------------------------------------------ KPIs and counts

/// KPIs of the ledger (or one piece of equipment) over `[from, to)`.
pub fn kpis(
    r: &impl Reader,
    machine: Option<u64>,
    from: i64,
    to: i64,
) -> Result<(rules::Kpis, Option<f64>)> {
    let units = match machine {
        Some(id) => {
            equipment(r, id)?;
            1
        }
        None => all_equipment(r)?
            .iter()
            .filter(|e| e.status != EqStatus::Scrapped)
            .count(),
    };
    let mut failures = Vec::new();
    let mut pm = Vec::new();
    let mut visit = |o: WorkOrder| {
        // a preventive order cancelled was not done: it counts as missed
        if o.state == WoState::Cancelled && o.kind != WoKind::Preventive {
            return;
        }
        match o.kind {
            // a defect an inspection round found is not a failure (the machine still runs)
            WoKind::Corrective if matches!(o.origin, Origin::Inspection { .. }) && !o.stopped => {}
            WoKind::Corrective => failures.push(rules::Failure {
                start_ms: o.created_ms,
                end_ms: o.done_ms,
                stopped: o.stopped,
            }),
            WoKind::Preventive => pm.push((o.due_ms, o.done_ms)),
            WoKind::Inspection => {}
        }
    };
    match machine {
        Some(e) => orders_of(r, e)?.into_iter().for_each(&mut visit),
        None => r.visit(&WORK_ORDERS, .., Order::Asc, |_, o| {
            visit(o);
            ControlFlow::Continue(())
        })?,
    }
    Ok((
        rules::kpis(&failures, from, to, units),
        rules::pm_compliance(&pm, from, to),
    ))
}

/// The equipment with the most corrective orders since `from`.
pub fn top_failing(r: &impl Reader, from: i64, n: usize) -> Result<Vec<(Equipment, usize)>> {
    let mut count: HashMap<u64, usize> = HashMap::new();
    r.visit(&WORK_ORDERS, .., Order::Desc, |_, o| {
        if o.kind == WoKind::Corrective && o.created_ms >= from && o.state != WoState::Cancelled {
            *count.entry(o.equipment).or_default() += 1;
        }
        ControlFlow::Continue(())
    })?;
    let mut v: Vec<(u64, usize)> = count.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter()
        .take(n)
        .map(|(id, c)| Ok((equipment(r, id)?, c)))
        .collect()
}

/// Numbers for the compliance page and health.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub equipment: u64,
    pub categories: u64,
    pub with_params: u64,
    pub bound_tags: u64,
    pub vibration_tags: u64,
    pub in_zone_cd: u64,
    pub with_bom: u64,
    pub orders: u64,
    pub open_orders: u64,
    pub faults: u64,
    pub plans: u64,
    pub parts_issued: u64,
    pub documents: u64,
    pub certificates: u64,
    pub expired_certificates: u64,
}

pub fn counts(r: &impl Reader, today: Date) -> Result<Counts> {
    let certs = documents::certificates(r)?;
    let mut c = Counts {
        categories: r.count(&CATEGORIES)?,
        plans: r.count(&PLANS)?,
        documents: documents::count(r)?,
        certificates: certs.len() as u64,
        expired_certificates: certs
            .iter()
            .filter(|d| {
                documents::status(d, today)
                    == crate::modules::safety::archive::model::Status::Expired
            })
            .count() as u64,
        ..Counts::default()
    };
    for e in all_equipment(r)? {
        c.equipment += 1;
        c.with_params += u64::from(!e.params.is_empty());
        c.bound_tags += e.bindings.len() as u64;
        c.vibration_tags += e
            .bindings
            .iter()
            .filter(|b| b.role == Role::Vibration)
            .count() as u64;
        c.with_bom += u64::from(!e.bom.is_empty());
    }
    r.visit(&ZONES, .., Order::Asc, |_, z| {
        if z.zone >= Zone::C {
            c.in_zone_cd += 1;
        }
        ControlFlow::Continue(())
    })?;
    r.visit(&WORK_ORDERS, .., Order::Asc, |_, o| {
        c.orders += 1;
        c.open_orders += u64::from(o.state.is_open());
        c.faults += u64::from(o.origin == Origin::Fault);
        c.parts_issued += o.parts.len() as u64;
        ControlFlow::Continue(())
    })?;
    Ok(c)
}

/// Vibration points now in zone C or D (ISO 10816-3) on equipment in service (running or
/// standby; a machine stopped or in maintenance is not judged): (zone C, zone D on
/// criticality A machines, zone D on the others).
pub fn zones_in_service(r: &impl Reader) -> Result<(usize, usize, usize)> {
    let eq: std::collections::HashMap<u64, Equipment> =
        all_equipment(r)?.into_iter().map(|e| (e.id, e)).collect();
    let (mut c, mut d_critical, mut d) = (0, 0, 0);
    r.visit(&ZONES, .., Order::Asc, |_, z| {
        let in_service = eq
            .get(&z.equipment)
            .filter(|e| matches!(e.status, EqStatus::Running | EqStatus::Standby));
        match (z.zone, in_service) {
            (Zone::C, Some(_)) => c += 1,
            (Zone::D, Some(e)) if e.criticality == super::model::Criticality::A => d_critical += 1,
            (Zone::D, Some(_)) => d += 1,
            _ => {}
        }
        ControlFlow::Continue(())
    })?;
    Ok((c, d_critical, d))
}

/// Open orders past their due time (for the overdue alarms).
pub fn overdue(r: &impl Reader, now_ms: i64) -> Result<Vec<WorkOrder>> {
    let mut out = Vec::new();
    r.visit(&WORK_ORDERS, .., Order::Asc, |_, o| {
        if o.state.is_open() && o.due_ms < now_ms {
            out.push(o);
        }
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// Spare parts list lines with their stock now (from inventory).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BomView {
    #[serde(flatten)]
    pub line: BomLine,
    pub code: String,
    pub name: String,
    pub unit: String,
    pub stock: f64,
    pub reorder_point: f64,
}

pub fn bom(r: &impl Reader, e: &Equipment) -> Result<Vec<BomView>> {
    let totals = inventory::totals(r)?;
    e.bom
        .iter()
        .map(|l| {
            let m = inventory::material(r, l.material)?;
            Ok(BomView {
                line: l.clone(),
                code: m.code.clone(),
                name: m.name.clone(),
                unit: m.base_unit.clone(),
                stock: totals.get(&m.id).copied().unwrap_or(0.0),
                reorder_point: m.reorder_point,
            })
        })
        .collect()
}

pub mod documents;
pub mod inspection;

#[cfg(test)]
mod tests;
