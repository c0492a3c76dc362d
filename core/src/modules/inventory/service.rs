//! The only writer of the inventory tables: master data, lots and their quality status,
//! and the stock ledger. A movement is checked by `rules` and posted in one audited
//! transaction together with the balances it changes; a 剧毒 movement waits for a second
//! custodian (双人双锁) before it changes anything.

use std::collections::HashMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use time::Date;

use super::model::{
    Balance, DocLine, Location, Lot, LotQuality, Material, MoveKind, MoveState, Movement, Partner,
    SalesKind, Settings, StorageRule, Warehouse,
};
use super::rules;
use super::store::{
    AT_LOCATION, BALANCES, BY_LOT, BY_MATERIAL, CODES, LEDGER, LOCATIONS, LOTS, MATERIALS,
    PARTNERS, PENDING, RULES, SETTINGS, WAREHOUSES,
};
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::plant_time::{format_day, parse_day};
use crate::store::{Actor, ActorKind, Change, Order, Reader, Store, WriteTx};

// ------------------------------------------------------------------ settings and rules

pub fn settings(r: &impl Reader) -> Result<Settings> {
    Ok(r.get(&SETTINGS, &"settings".to_string())?
        .unwrap_or_default())
}

pub fn save_settings(store: &Store, actor: &Actor, s: Settings) -> Result<Settings> {
    let mut w = store.write(actor)?;
    let s = put_settings(&mut w, s)?;
    w.commit()?;
    Ok(s)
}

fn put_settings(w: &mut WriteTx, s: Settings) -> Result<Settings> {
    if !(1..=3650).contains(&s.near_expiry_days) {
        return Err(Error::invalid("near_expiry_days", "inventory.err.days"));
    }
    if !(1..=3650).contains(&s.slow_moving_days) {
        return Err(Error::invalid("slow_moving_days", "inventory.err.days"));
    }
    money("po_approval_limit", s.po_approval_limit)?;
    if !(s.price_deviation_pct.is_finite() && (0.1..=1000.0).contains(&s.price_deviation_pct)) {
        return Err(Error::invalid("price_deviation_pct", "inventory.err.pct"));
    }
    let before = settings(w)?;
    w.insert(&SETTINGS, &"settings".to_string(), &s)?;
    w.audit(
        "inventory.settings.update",
        "settings",
        Change::updated(&before, &s),
    );
    Ok(s)
}

/// The incompatibility rules in force: the plant's, else the defaults of GB 15603.
pub fn storage_rules(r: &impl Reader) -> Result<Vec<StorageRule>> {
    Ok(r.get(&RULES, &"rules".to_string())?
        .unwrap_or_else(rules::default_rules))
}

pub fn save_storage_rules(store: &Store, actor: &Actor, v: Vec<StorageRule>) -> Result<()> {
    let mut w = store.write(actor)?;
    put_rules(&mut w, v)?;
    w.commit().map_err(Error::from)
}

/// The settings and the storage rules together, both or neither (the console's form).
pub fn save_setup(store: &Store, actor: &Actor, s: Settings, v: Vec<StorageRule>) -> Result<()> {
    let mut w = store.write(actor)?;
    put_settings(&mut w, s)?;
    put_rules(&mut w, v)?;
    w.commit().map_err(Error::from)
}

fn put_rules(w: &mut WriteTx, v: Vec<StorageRule>) -> Result<()> {
    if v.len() > 1000 {
        return Err(Error::invalid("rules", "inventory.err.too_many"));
    }
    let mut clean = Vec::with_capacity(v.len());
    for mut r in v {
        r.a = group("rules", &r.a)?;
        r.b = group("rules", &r.b)?;
        if r.a.is_empty() || r.b.is_empty() {
            return Err(Error::invalid("rules", "inventory.err.group"));
        }
        r.note = text("rules", &r.note, 200, false)?;
        clean.push(r);
    }
    let before = storage_rules(w)?;
    w.insert(&RULES, &"rules".to_string(), &clean)?;
    w.audit(
        "inventory.rules.update",
        "storage rules",
        Change::updated(&before, &clean),
    );
    Ok(())
}

/// A storage group: lowercase letters, digits and `_`, at most 40.
/// Storage groups as written (`oxidizer, acid`, `oxidizer，acid`), kept as `oxidizer,acid`.
fn group(field: &'static str, g: &str) -> Result<String> {
    let mut out: Vec<&str> = Vec::new();
    for part in g
        .split([',', '，', '+'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if part.len() > 40
            || !part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(Error::invalid(field, "inventory.err.group"));
        }
        if !out.contains(&part) {
            out.push(part);
        }
    }
    if out.len() > 4 {
        return Err(Error::invalid(field, "inventory.err.group"));
    }
    Ok(out.join(","))
}

fn money(field: &'static str, v: f64) -> Result<()> {
    if !v.is_finite() || !(0.0..=1e12).contains(&v) {
        return Err(Error::invalid(field, "inventory.err.amount"));
    }
    Ok(())
}

fn quantity(field: &'static str, v: f64) -> Result<()> {
    if !v.is_finite() || !(0.0..=1e12).contains(&v) {
        return Err(Error::invalid(field, "inventory.err.qty"));
    }
    Ok(())
}

fn code(field: &'static str, v: &str) -> Result<String> {
    let v = text(field, v, 40, true)?;
    if v.chars().any(|c| c.is_whitespace() || c == ':') {
        return Err(Error::invalid(field, "inventory.err.code"));
    }
    Ok(v)
}

/// Claims `key` in the code index for `id`; a code another record holds is refused.
fn claim(
    w: &mut WriteTx,
    field: &'static str,
    key: String,
    id: u64,
    old: Option<String>,
) -> Result<()> {
    if w.claim(&CODES, &key, id, old.as_deref())? {
        Ok(())
    } else {
        Err(Error::invalid(field, "inventory.err.duplicate_code"))
    }
}

// ------------------------------------------------------------------ materials

pub fn materials(r: &impl Reader) -> Result<Vec<Material>> {
    Ok(r.values(&MATERIALS)?)
}

pub fn material(r: &impl Reader, id: u64) -> Result<Material> {
    r.get(&MATERIALS, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.material_not_found"))
}

pub fn material_by_code(r: &impl Reader, code: &str) -> Result<Option<Material>> {
    match r.get(&CODES, &format!("m:{code}"))? {
        Some(id) => Ok(Some(material(r, id)?)),
        None => Ok(None),
    }
}

/// Checks a material's fields; returns it cleaned.
pub fn check_material(mut m: Material) -> Result<Material> {
    m.code = code("code", &m.code)?;
    m.name = text("name", &m.name, 100, true)?;
    m.spec = text("spec", &m.spec, 100, false)?;
    m.base_unit = text("base_unit", &m.base_unit, 10, true)?;
    m.cas = m.cas.trim().to_string();
    if !m.cas.is_empty() && !rules::cas_ok(&m.cas) {
        return Err(Error::invalid("cas", "inventory.err.cas"));
    }
    let mut seen = vec![m.base_unit.clone()];
    for u in &mut m.units {
        u.unit = text("units", &u.unit, 10, true)?;
        if seen.contains(&u.unit) {
            return Err(Error::invalid("units", "inventory.err.unit_twice"));
        }
        if !u.factor.is_finite() || u.factor <= 0.0 || u.factor > 1e9 {
            return Err(Error::invalid("units", "inventory.err.factor"));
        }
        seen.push(u.unit.clone());
    }
    m.ghs = m
        .ghs
        .iter()
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect();
    if m.ghs.len() > 30 || m.ghs.iter().any(|g| g.len() > 40) {
        return Err(Error::invalid("ghs", "inventory.err.ghs"));
    }
    if m.precursor_class > 3 {
        return Err(Error::invalid(
            "precursor_class",
            "inventory.err.precursor_class",
        ));
    }
    m.storage_group = group("storage_group", &m.storage_group)?;
    if m.highly_toxic || m.explosive_precursor {
        // every 剧毒 and 易制爆 chemical is a hazardous chemical
        m.hazmat = true;
    }
    // without a group the incompatibility rules could not see it
    if m.hazmat && m.storage_group.is_empty() {
        return Err(Error::invalid(
            "storage_group",
            "inventory.err.group_required",
        ));
    }
    if m.shelf_life_days > 36_500 {
        return Err(Error::invalid("shelf_life_days", "inventory.err.days"));
    }
    quantity("safety_stock", m.safety_stock)?;
    quantity("reorder_point", m.reorder_point)?;
    quantity("max_stock", m.max_stock)?;
    money("unit_cost", m.unit_cost)?;
    if m.max_stock > 0.0 && m.max_stock < m.safety_stock {
        return Err(Error::invalid(
            "max_stock",
            "inventory.err.max_below_safety",
        ));
    }
    Ok(m)
}

/// A material in stock (or with a movement waiting) keeps what its storage and movements
/// were checked by: base unit, storage group and hazard classes. A new storage group must be
/// one the rules know.
fn guard_material(r: &impl Reader, before: &Material, after: &Material) -> Result<()> {
    let plant = storage_rules(r)?;
    let known = |g: &str| rules::GROUPS.contains(&g) || plant.iter().any(|x| x.a == g || x.b == g);
    if !super::model::storage_groups(&after.storage_group).all(known) {
        return Err(Error::invalid(
            "storage_group",
            "inventory.err.group_unknown",
        ));
    }
    let in_stock = !balances_of(r, before.id)?.is_empty()
        || pending(r)?.iter().any(|p| p.material == before.id);
    if !in_stock {
        return Ok(());
    }
    let changed = if before.base_unit != after.base_unit {
        Some("base_unit")
    } else if before.storage_group != after.storage_group {
        Some("storage_group")
    } else if before.hazmat != after.hazmat {
        Some("hazmat")
    } else if before.highly_toxic != after.highly_toxic {
        Some("highly_toxic")
    } else if before.precursor_class != after.precursor_class {
        Some("precursor_class")
    } else if before.explosive_precursor != after.explosive_precursor {
        Some("explosive_precursor")
    } else {
        None
    };
    match changed {
        Some(field) => Err(Error::invalid(field, "inventory.err.material_in_stock")),
        None => Ok(()),
    }
}

/// Creates (id 0) or changes a material. Its code is unique.
pub fn save_material(store: &Store, actor: &Actor, m: Material) -> Result<Material> {
    let mut m = check_material(m)?;
    let mut w = store.write(actor)?;
    let before = if m.id == 0 {
        m.id = w.next_id(&MATERIALS)?;
        guard_material(&w, &m, &m)?;
        None
    } else {
        let b = material(&w, m.id)?;
        guard_material(&w, &b, &m)?;
        Some(b)
    };
    claim(
        &mut w,
        "code",
        format!("m:{}", m.code),
        m.id,
        before.as_ref().map(|b| format!("m:{}", b.code)),
    )?;
    w.insert(&MATERIALS, &m.id, &m)?;
    w.audit_saved(
        "inventory.material",
        format!("material:{} {}", m.id, m.code),
        before.as_ref(),
        &m,
    );
    w.commit()?;
    Ok(m)
}

// ------------------------------------------------------------------ warehouses and locations

pub fn warehouses(r: &impl Reader) -> Result<Vec<Warehouse>> {
    Ok(r.values(&WAREHOUSES)?)
}

pub fn warehouse(r: &impl Reader, id: u64) -> Result<Warehouse> {
    r.get(&WAREHOUSES, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.warehouse_not_found"))
}

pub fn save_warehouse(store: &Store, actor: &Actor, mut x: Warehouse) -> Result<Warehouse> {
    x.code = code("code", &x.code)?;
    x.name = text("name", &x.name, 100, true)?;
    x.address = text("address", &x.address, 200, false)?;
    x.custodians.sort_unstable();
    x.custodians.dedup();
    if x.hazmat_store && x.custodians.is_empty() {
        return Err(Error::invalid("custodians", "inventory.err.custodians"));
    }
    if x.major_hazard && !x.hazmat_store {
        return Err(Error::invalid(
            "major_hazard",
            "inventory.err.major_hazard_store",
        ));
    }
    if x.major_hazard && x.custodians.len() < 2 {
        return Err(Error::invalid(
            "custodians",
            "inventory.err.major_hazard_custodians",
        ));
    }
    let mut w = store.write(actor)?;
    for u in &x.custodians {
        let u = crate::auth::service::user(&w, *u)?
            .filter(|u| u.enabled)
            .ok_or_else(|| Error::invalid("custodians", "inventory.err.custodian_user"))?;
        // a custodian posts and confirms the store's movements: without the grant to, the
        // store's 双人双锁 could never be met
        let inventory = [("inventory", crate::registry::Kind::N)];
        let grants = crate::auth::service::user_grants(&w, &u, &inventory)?;
        if !grants
            .get("inventory")
            .is_some_and(|l| l.has(crate::auth::model::Level::Write))
        {
            return Err(Error::invalid_msg(
                "custodians",
                Msg::new("inventory.err.custodian_grant").arg("user", &u.display_name),
            ));
        }
    }
    let before = if x.id == 0 {
        x.id = w.next_id(&WAREHOUSES)?;
        None
    } else {
        let b = warehouse(&w, x.id)?;
        // what the store holds keeps it a dedicated store with enough custodians
        let held = stock_in(&w, x.id)?;
        if held.iter().any(|m| m.needs_hazmat_store()) && !x.hazmat_store {
            return Err(Error::invalid("hazmat_store", "inventory.err.store_in_use"));
        }
        if held.iter().any(|m| m.highly_toxic) && x.custodians.len() < 2 {
            return Err(Error::invalid("custodians", "inventory.err.two_custodians"));
        }
        Some(b)
    };
    // a consignment store is the service's (made with the customer's first consignment)
    x.consignee = before.as_ref().and_then(|b| b.consignee);
    claim(
        &mut w,
        "code",
        format!("w:{}", x.code),
        x.id,
        before.as_ref().map(|b| format!("w:{}", b.code)),
    )?;
    w.insert(&WAREHOUSES, &x.id, &x)?;
    w.audit_saved(
        "inventory.warehouse",
        format!("warehouse:{} {}", x.id, x.code),
        before.as_ref(),
        &x,
    );
    w.commit()?;
    Ok(x)
}

pub fn locations(r: &impl Reader) -> Result<Vec<Location>> {
    Ok(r.values(&LOCATIONS)?)
}

pub fn location(r: &impl Reader, id: u64) -> Result<Location> {
    r.get(&LOCATIONS, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.location_not_found"))
}

pub fn save_location(store: &Store, actor: &Actor, mut x: Location) -> Result<Location> {
    x.code = code("code", &x.code)?;
    x.name = text("name", &x.name, 100, false)?;
    quantity("capacity_kg", x.capacity_kg)?;
    let mut w = store.write(actor)?;
    warehouse(&w, x.warehouse)
        .map_err(|_| Error::invalid("warehouse", "inventory.err.warehouse_not_found"))?;
    let before = if x.id == 0 {
        x.id = w.next_id(&LOCATIONS)?;
        None
    } else {
        let b = location(&w, x.id)?;
        if b.warehouse != x.warehouse && held_at(&w, x.id)? > rules::EPS {
            return Err(Error::invalid("warehouse", "inventory.err.location_in_use"));
        }
        Some(b)
    };
    claim(
        &mut w,
        "code",
        format!("l:{}:{}", x.warehouse, x.code),
        x.id,
        before
            .as_ref()
            .map(|b| format!("l:{}:{}", b.warehouse, b.code)),
    )?;
    w.insert(&LOCATIONS, &x.id, &x)?;
    w.audit_saved(
        "inventory.location",
        format!("location:{} {}", x.id, x.code),
        before.as_ref(),
        &x,
    );
    w.commit()?;
    Ok(x)
}

/// The materials with stock in a warehouse.
fn stock_in(r: &impl Reader, warehouse_id: u64) -> Result<Vec<Material>> {
    let locs: Vec<u64> = locations(r)?
        .into_iter()
        .filter(|l| l.warehouse == warehouse_id)
        .map(|l| l.id)
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for l in locs {
        r.visit(&AT_LOCATION, (l, 0)..(l + 1, 0), Order::Asc, |(_, m), q| {
            if q.abs() > rules::EPS {
                ids.insert(m);
            }
            ControlFlow::Continue(())
        })?;
    }
    ids.into_iter().map(|id| material(r, id)).collect()
}

/// Base units of every material at a location (a sum of unlike units: zero or not).
fn held_at(r: &impl Reader, location: u64) -> Result<f64> {
    let mut sum = 0.0;
    r.visit(
        &AT_LOCATION,
        (location, 0)..(location + 1, 0),
        Order::Asc,
        |_, q| {
            sum += q.abs();
            ControlFlow::Continue(())
        },
    )?;
    Ok(sum)
}

// ------------------------------------------------------------------ partners

pub fn partners(r: &impl Reader) -> Result<Vec<Partner>> {
    Ok(r.values(&PARTNERS)?)
}

pub fn partner(r: &impl Reader, id: u64) -> Result<Partner> {
    r.get(&PARTNERS, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.partner_not_found"))
}

pub fn check_partner(mut x: Partner) -> Result<Partner> {
    x.code = code("code", &x.code)?;
    x.name = text("name", &x.name, 100, true)?;
    x.credit_code = crate::org::service::check_credit_code(x.credit_code.trim())?;
    x.address = text("address", &x.address, 200, false)?;
    money("credit_limit", x.credit_limit)?;
    if x.payment_days > 365 {
        return Err(Error::invalid("payment_days", "inventory.err.days"));
    }
    for l in &mut x.licences {
        l.number = text("licences", &l.number, 60, true)?;
        l.expires = parse_day(l.expires.trim())
            .map(format_day)
            .ok_or_else(|| Error::invalid("licences", "inventory.err.day"))?;
    }
    for c in &mut x.contacts {
        c.name = text("contacts", &c.name, 50, true)?;
        c.phone = text("contacts", &c.phone, 30, false)?;
    }
    if x.prices.len() > 500 {
        return Err(Error::invalid("prices", "inventory.err.prices"));
    }
    let mut seen = Vec::new();
    for l in &x.prices {
        if !l.price.is_finite() || l.price <= 0.0 || l.price > 1e9 || !l.floor.is_finite() {
            return Err(Error::invalid("prices", "inventory.err.price"));
        }
        if l.floor < 0.0 || l.floor > l.price {
            return Err(Error::invalid("prices", "inventory.err.price_floor"));
        }
        if seen.contains(&l.material) {
            return Err(Error::invalid("prices", "inventory.err.price_twice"));
        }
        seen.push(l.material);
    }
    Ok(x)
}

/// The materials a partner's price list names exist.
fn check_prices(r: &impl Reader, x: &Partner) -> Result<()> {
    for l in &x.prices {
        material(r, l.material)
            .map_err(|_| Error::invalid("prices", "inventory.err.material_not_found"))?;
    }
    Ok(())
}

pub fn save_partner(store: &Store, actor: &Actor, x: Partner) -> Result<Partner> {
    let mut x = check_partner(x)?;
    let mut w = store.write(actor)?;
    check_prices(&w, &x)?;
    let before = if x.id == 0 {
        x.id = w.next_id(&PARTNERS)?;
        None
    } else {
        Some(partner(&w, x.id)?)
    };
    claim(
        &mut w,
        "code",
        format!("p:{}", x.code),
        x.id,
        before.as_ref().map(|b| format!("p:{}", b.code)),
    )?;
    w.insert(&PARTNERS, &x.id, &x)?;
    w.audit_saved(
        "inventory.partner",
        format!("partner:{} {}", x.id, x.code),
        before.as_ref(),
        &x,
    );
    w.commit()?;
    Ok(x)
}

// ------------------------------------------------------------------ lots

pub fn lot(r: &impl Reader, id: u64) -> Result<Lot> {
    r.get(&LOTS, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.lot_not_found"))
}

pub fn lot_by_number(r: &impl Reader, material: u64, number: &str) -> Result<Option<Lot>> {
    match r.get(&CODES, &format!("lot:{material}:{number}"))? {
        Some(id) => Ok(Some(lot(r, id)?)),
        None => Ok(None),
    }
}

/// Sets a lot's quality status (the quality module's release or hold; an inventory
/// approver's decision). Held and rejected lots are not issued or shipped.
pub fn set_lot_quality(
    store: &Store,
    actor: &Actor,
    id: u64,
    q: LotQuality,
    note: &str,
) -> Result<Lot> {
    let mut w = store.write(actor)?;
    let l = set_lot_quality_in(&mut w, actor, id, q, note)?;
    w.commit()?;
    Ok(l)
}

/// `set_lot_quality` inside the caller's transaction: the quality module releases a lot
/// together with its sample's decision.
pub fn set_lot_quality_in(
    w: &mut WriteTx,
    actor: &Actor,
    id: u64,
    q: LotQuality,
    note: &str,
) -> Result<Lot> {
    let note = text("note", note, 500, q != LotQuality::Released)?;
    let before = lot(w, id)?;
    let mut l = before.clone();
    l.quality = q;
    l.quality_note = note;
    l.quality_by = actor.label();
    w.insert(&LOTS, &id, &l)?;
    w.audit(
        "inventory.lot.quality",
        format!("lot:{} {}", l.id, l.number),
        Change::updated(&before, &l),
    );
    Ok(l)
}

// ------------------------------------------------------------------ movements

/// A movement as asked for. A receipt names a new lot (`lot_number`, optional supplier lot
/// and expiry) or an existing one (`lot`); every other kind names an existing lot.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MoveInput {
    pub kind: Option<MoveKind>,
    pub material: u64,
    #[serde(default)]
    pub lot: Option<u64>,
    #[serde(default)]
    pub lot_number: String,
    #[serde(default)]
    pub supplier_lot: String,
    #[serde(default)]
    pub supplier: Option<u64>,
    /// Last day of use (`YYYY-MM-DD`); default: receipt + the material's shelf life.
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub from: Option<u64>,
    #[serde(default)]
    pub to: Option<u64>,
    pub qty: f64,
    /// Default: the base unit.
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub reference: String,
    #[serde(default)]
    pub purchase_order: Option<u64>,
    /// Set by the order services, not by callers of the API.
    #[serde(skip)]
    pub doc: Option<DocLine>,
}

/// What posting needs to know besides the store.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Posting {
    pub now_ms: i64,
    pub today: Date,
    /// The quality module is on: receipts arrive held until it releases them.
    pub quality_on: bool,
}

/// A movement checked and, unless it waits for a second custodian, posted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Posted {
    #[serde(flatten)]
    pub movement: Movement,
    /// For a receipt: the lot it created.
    pub lot: Lot,
}

/// Checks and posts a movement in one transaction with its balances and audit. A 剧毒
/// movement is only recorded as pending until another custodian confirms it.
pub fn post(store: &Store, actor: &Actor, input: MoveInput, p: Posting) -> Result<Posted> {
    if input.doc.is_some() {
        // a document's line is posted with its document (`post_in`), not journaled alone
        let mut w = store.write(actor)?;
        let out = post_in(&mut w, actor, input, p)?;
        w.commit()?;
        return Ok(out);
    }
    // movements arrive from many hands at once (phones at the goods-in door, plugins, the
    // console): concurrent postings share one commit, made durable by the store's journal
    // (a redo of `redo_post` with these arguments) rather than by syncing its pages
    let args = PostArgs { input, posting: p };
    let bytes = crate::store::encode(REDO_POST, &args)?;
    store.write_logged(actor, REDO_POST, bytes, move |w| post_args(w, &args))
}

/// Runs every rule of [`post`] on a movement without posting it: the posting is made in a
/// transaction that is then dropped, so nothing is written (a refusal is the one `post`
/// would give now).
pub fn check(store: &Store, actor: &Actor, input: MoveInput, p: Posting) -> Result<()> {
    let mut w = store.write(actor)?;
    let out = post_in(&mut w, actor, input, p);
    w.abort()?;
    out.map(|_| ())
}

/// The journal's name for a posting (`store::journal::KINDS`).
const REDO_POST: &str = "inventory.post";

/// A posting as the journal records it.
#[derive(Serialize, Deserialize)]
struct PostArgs {
    input: MoveInput,
    posting: Posting,
}

/// The posting itself, for the live write and for its redo alike.
fn post_args(w: &mut WriteTx, a: &PostArgs) -> Result<Posted> {
    let actor = w.actor().clone();
    post_in(w, &actor, a.input.clone(), a.posting)
}

/// Redoes a journaled posting after a crash (see `store/journal.rs`).
pub(crate) fn redo_post(w: &mut WriteTx, args: &[u8]) -> std::result::Result<(), String> {
    let a: PostArgs = crate::store::decode(REDO_POST, args).map_err(|e| e.to_string())?;
    post_args(w, &a).map(|_| ()).map_err(|e| format!("{e:?}"))
}

/// `post` inside a caller's transaction (a receipt against a purchase order, a delivery of
/// a sales order), so the document and the stock change together.
pub fn post_in(w: &mut WriteTx, actor: &Actor, input: MoveInput, p: Posting) -> Result<Posted> {
    let kind = input
        .kind
        .ok_or_else(|| Error::invalid("kind", "inventory.err.kind"))?;
    // a delivery leaves with its sales order: the buyer's licences, the credit and the
    // registers are the order's to check and write
    if kind == MoveKind::Delivery && !matches!(input.doc, Some(DocLine::Sales { .. })) {
        return Err(Error::invalid("kind", "inventory.err.delivery_by_order"));
    }
    // a count result posts from an approved stock count, not by hand
    if kind == MoveKind::Count && !matches!(input.doc, Some(DocLine::Count { .. })) {
        return Err(Error::invalid("kind", "inventory.err.count_by_count"));
    }
    let m = material(w, input.material)
        .map_err(|_| Error::invalid("material", "inventory.err.material_not_found"))?;
    if !m.active {
        return Err(Error::invalid(
            "material",
            "inventory.err.material_inactive",
        ));
    }
    let qty = rules::to_base(&m, input.qty, &input.unit)?;
    let unit = if input.unit.trim().is_empty() {
        m.base_unit.clone()
    } else {
        input.unit.trim().to_string()
    };
    // which side the stock leaves and enters
    let (from, to) = match kind {
        MoveKind::Receipt | MoveKind::Return => (None, Some(need(input.to, "to")?)),
        MoveKind::Issue | MoveKind::Scrap | MoveKind::Delivery => {
            (Some(need(input.from, "from")?), None)
        }
        MoveKind::Transfer => {
            let (f, t) = (need(input.from, "from")?, need(input.to, "to")?);
            if f == t {
                return Err(Error::invalid("to", "inventory.err.same_location"));
            }
            (Some(f), Some(t))
        }
        MoveKind::Adjust | MoveKind::Count => match (input.from, input.to) {
            (Some(f), None) => (Some(f), None),
            (None, Some(t)) => (None, Some(t)),
            _ => return Err(Error::invalid("from", "inventory.err.one_side")),
        },
    };
    let reason = text(
        "reason",
        &input.reason,
        200,
        matches!(kind, MoveKind::Adjust | MoveKind::Scrap),
    )?;
    let reference = text("reference", &input.reference, 60, false)?;
    // the lot
    let lot = match (kind, input.lot) {
        (MoveKind::Receipt, None) => new_lot(w, &m, &input, p)?,
        (_, Some(id)) => {
            let l = lot(w, id).map_err(|_| Error::invalid("lot", "inventory.err.lot_not_found"))?;
            if l.material != m.id {
                return Err(Error::invalid("lot", "inventory.err.lot_material"));
            }
            l
        }
        (_, None) => return Err(Error::invalid("lot", "inventory.err.lot_required")),
    };
    rules::check_lot(kind, &lot, p.today)?;
    let from_loc = from.map(|id| located(w, id, "from")).transpose()?;
    let to_loc = to.map(|id| located(w, id, "to")).transpose()?;
    if kind != MoveKind::Count {
        for (field, l) in [("from", &from_loc), ("to", &to_loc)] {
            if let Some((l, _)) = l
                && let Some(c) = counts::counting(w, l)?
            {
                return Err(Error::invalid_msg(
                    field,
                    Msg::new("inventory.err.counting").arg("count", c),
                ));
            }
        }
    }
    // 双人双锁 for 剧毒, and two people for hazardous chemicals in and out of a major hazard
    // store: the one who asks must be a custodian of every store involved, and a second
    // custodian confirms before anything moves
    let two_people = m.highly_toxic
        || (m.needs_hazmat_store()
            && from_loc
                .iter()
                .chain(to_loc.iter())
                .any(|(_, wh)| wh.major_hazard));
    if two_people {
        custodian(w, actor, from_loc.iter().chain(to_loc.iter()))?;
    }
    let mv = Movement {
        id: w.next_id(&LEDGER)?,
        ts_ms: p.now_ms,
        kind,
        material: m.id,
        lot: lot.id,
        from,
        to,
        qty,
        entered_qty: input.qty,
        unit,
        reason,
        reference,
        by: actor.label(),
        by_id: user_id(actor),
        second: String::new(),
        state: MoveState::Pending,
        posted_ms: None,
        doc: input.doc,
    };
    check_stock(w, &m, &mv)?;
    if two_people {
        w.insert(&PENDING, &mv.id, &mv)?;
        w.audit(
            "inventory.movement.pending",
            target(&mv, &m),
            Change::created(&mv),
        );
        return Ok(Posted { movement: mv, lot });
    }
    let mv = apply(w, mv, p.now_ms, &m)?;
    Ok(Posted { movement: mv, lot })
}

/// The user id of a person acting; 0 for tokens, plugins and the system.
pub(super) fn user_id(a: &Actor) -> u64 {
    if a.kind == ActorKind::User { a.id } else { 0 }
}

fn need(x: Option<u64>, field: &'static str) -> Result<u64> {
    x.ok_or_else(|| Error::invalid(field, "inventory.err.location_required"))
}

fn located(r: &impl Reader, id: u64, field: &'static str) -> Result<(Location, Warehouse)> {
    let l =
        location(r, id).map_err(|_| Error::invalid(field, "inventory.err.location_not_found"))?;
    let wh = warehouse(r, l.warehouse)?;
    Ok((l, wh))
}

fn target(mv: &Movement, m: &Material) -> String {
    format!(
        "movement:{} {} {} {}",
        mv.id,
        mv.kind.id(),
        m.code,
        rules::round3(mv.qty)
    )
}

/// A user who is a custodian of every store in `stores`; returns their name as the
/// registers show it.
fn custodian<'a>(
    r: &impl Reader,
    actor: &Actor,
    mut stores: impl Iterator<Item = &'a (Location, Warehouse)>,
) -> Result<String> {
    if actor.kind != ActorKind::User {
        return Err(Error::Forbidden(Msg::new("inventory.err.custodian_person")));
    }
    // a plugin could file the first custodian's request whenever a custodian clicks one of
    // its buttons: 双人双锁 is asked for and confirmed in the console only
    if let Some(via) = &actor.via {
        return Err(Error::Forbidden(
            Msg::new("inventory.err.custodian_via_plugin").arg("via", via.clone()),
        ));
    }
    if stores.any(|(_, wh)| !wh.custodians.contains(&actor.id)) {
        return Err(Error::Forbidden(Msg::new("inventory.err.not_custodian")));
    }
    Ok(crate::auth::service::user(r, actor.id)?
        .map_or_else(|| actor.name.clone(), |u| u.display_name))
}

fn new_lot(w: &mut WriteTx, m: &Material, input: &MoveInput, p: Posting) -> Result<Lot> {
    let number = code("lot_number", &input.lot_number)?;
    if lot_by_number(w, m.id, &number)?.is_some() {
        return Err(Error::invalid("lot_number", "inventory.err.lot_exists"));
    }
    let supplier = match input.supplier {
        Some(s) => {
            let sp = partner(w, s)
                .map_err(|_| Error::invalid("supplier", "inventory.err.partner_not_found"))?;
            if !sp.role.sells_to_us() {
                return Err(Error::invalid("supplier", "inventory.err.not_supplier"));
            }
            rules::check_seller(m, &sp, p.today)?;
            Some(s)
        }
        None => None,
    };
    let expires = match input
        .expires
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(
            parse_day(s)
                .map(format_day)
                .ok_or_else(|| Error::invalid("expires", "inventory.err.day"))?,
        ),
        // received today with a shelf life of N days: usable through day N - 1 after today
        None if m.shelf_life_days > 0 => Some(format_day(
            p.today + time::Duration::days(i64::from(m.shelf_life_days) - 1),
        )),
        None => None,
    };
    let l = Lot {
        id: w.next_id(&LOTS)?,
        material: m.id,
        number: number.clone(),
        supplier_lot: text("supplier_lot", &input.supplier_lot, 60, false)?,
        supplier,
        purchase_order: input.purchase_order,
        received_ms: p.now_ms,
        expires,
        quality: if p.quality_on && m.inspect {
            LotQuality::Held
        } else {
            LotQuality::Released
        },
        quality_note: String::new(),
        quality_by: String::new(),
    };
    w.insert(&CODES, &format!("lot:{}:{number}", m.id), &l.id)?;
    w.insert(&LOTS, &l.id, &l)?;
    w.audit(
        "inventory.lot.create",
        format!("lot:{} {} {}", l.id, m.code, l.number),
        Change::created(&l),
    );
    Ok(l)
}

/// The stock rules a movement must pass against what is in store now: enough at `from`,
/// and at `to` a dedicated store when needed, no incompatible neighbours, room left.
fn check_stock(w: &WriteTx, m: &Material, mv: &Movement) -> Result<()> {
    if let Some(f) = mv.from {
        let have = w.get(&BALANCES, &(m.id, f, mv.lot))?.map_or(0.0, |b| b.qty);
        let allow = settings(w)?.allow_negative;
        rules::check_available(have, mv.qty, allow)?;
    }
    if let Some(t) = mv.to {
        let (loc, wh) = located(w, t, "to")?;
        match wh.consignee {
            // a customer's consignment store is filled by their consignment orders only
            // (their own licence covers the storage on their site)
            Some(c) => {
                let theirs = match mv.doc {
                    Some(DocLine::Sales { order, .. }) => orders::sales_order(w, order)
                        .is_ok_and(|so| so.kind == SalesKind::Consignment && so.customer == c),
                    _ => false,
                };
                if !theirs {
                    return Err(Error::invalid("to", "inventory.err.consignment_store"));
                }
            }
            None => rules::check_store(m, wh.hazmat_store, wh.custodians.len())?,
        }
        if !m.storage_group.is_empty() || loc.capacity_kg > 0.0 {
            let mut cache: HashMap<u64, Material> = HashMap::new();
            let mut at_loc: Vec<(String, String)> = Vec::new();
            let mut in_store: Vec<(String, String)> = Vec::new();
            let mut held_kg = Some(0.0);
            let locs: Vec<Location> = locations(w)?
                .into_iter()
                .filter(|l| l.warehouse == wh.id)
                .collect();
            for l in &locs {
                let mut here: Vec<(u64, f64)> = Vec::new();
                w.visit(
                    &AT_LOCATION,
                    (l.id, 0)..(l.id + 1, 0),
                    Order::Asc,
                    |(_, mat), q| {
                        if q > rules::EPS {
                            here.push((mat, q));
                        }
                        ControlFlow::Continue(())
                    },
                )?;
                for (mat, q) in here {
                    if mat == m.id {
                        if l.id == t {
                            held_kg = held_kg.zip(rules::mass_kg(m, q)).map(|(a, b)| a + b);
                        }
                        continue;
                    }
                    let other = match cache.get(&mat) {
                        Some(x) => x.clone(),
                        None => {
                            let x = material(w, mat)?;
                            cache.insert(mat, x.clone());
                            x
                        }
                    };
                    if l.id == t {
                        held_kg = held_kg.zip(rules::mass_kg(&other, q)).map(|(a, b)| a + b);
                    }
                    if other.storage_group.is_empty() {
                        continue;
                    }
                    let entry = (other.storage_group.clone(), other.name.clone());
                    if l.id == t {
                        at_loc.push(entry);
                    } else {
                        in_store.push(entry);
                    }
                }
            }
            rules::check_put_away(&storage_rules(w)?, m, &pairs(&at_loc), &pairs(&in_store))?;
            if mv.from.is_none_or(|f| f != t) {
                rules::check_capacity(loc.capacity_kg, held_kg, rules::mass_kg(m, mv.qty))?;
            }
        }
    }
    Ok(())
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(g, n)| (g.as_str(), n.as_str())).collect()
}

/// Posts a checked movement: ledger, indexes, balances, audit.
fn apply(w: &mut WriteTx, mut mv: Movement, now_ms: i64, m: &Material) -> Result<Movement> {
    mv.state = MoveState::Posted;
    mv.posted_ms = Some(now_ms);
    if let Some(f) = mv.from {
        add(w, m.id, f, mv.lot, -mv.qty, now_ms)?;
    }
    if let Some(t) = mv.to {
        add(w, m.id, t, mv.lot, mv.qty, now_ms)?;
    }
    w.insert(&LEDGER, &mv.id, &mv)?;
    w.insert(
        &super::store::PIVOT_ROWS,
        &mv.id,
        &analysis::PivotRow::of(&mv),
    )?;
    w.insert(&BY_MATERIAL, &(m.id, now_ms.max(0) as u64, mv.id), &())?;
    w.insert(&BY_LOT, &(mv.lot, mv.id), &())?;
    w.audit(
        "inventory.movement.post",
        target(&mv, m),
        Change::created(&mv),
    );
    if mv.doc.is_some() {
        orders::posted(w, &mv, m)?;
    }
    Ok(mv)
}

fn add(w: &mut WriteTx, material: u64, location: u64, lot: u64, d: f64, now_ms: i64) -> Result<()> {
    let key = (material, location, lot);
    let mut b = w.get(&BALANCES, &key)?.unwrap_or(Balance {
        material,
        location,
        lot,
        qty: 0.0,
        last_move_ms: now_ms,
    });
    b.qty += d;
    b.last_move_ms = now_ms;
    if b.qty.abs() <= rules::EPS {
        w.remove(&BALANCES, &key)?;
    } else {
        w.insert(&BALANCES, &key, &b)?;
    }
    let k2 = (location, material);
    let q = w.get(&AT_LOCATION, &k2)?.unwrap_or(0.0) + d;
    if q.abs() <= rules::EPS {
        w.remove(&AT_LOCATION, &k2)?;
    } else {
        w.insert(&AT_LOCATION, &k2, &q)?;
    }
    Ok(())
}

/// 剧毒 movements waiting for their second custodian.
pub fn pending(r: &impl Reader) -> Result<Vec<Movement>> {
    Ok(r.values(&PENDING)?)
}

/// The second custodian confirms a pending 剧毒 movement: it is checked again against the
/// stock of now and posted, naming both.
pub fn confirm(store: &Store, actor: &Actor, id: u64, p: Posting) -> Result<Movement> {
    let mut w = store.write(actor)?;
    let mut mv = w
        .get(&PENDING, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.pending_not_found"))?;
    let m = material(&w, mv.material)?;
    if actor.kind == ActorKind::User && actor.id == mv.by_id {
        return Err(Error::Conflict(Msg::new("inventory.err.same_custodian")));
    }
    let name = custodian(&w, actor, stores_of(&w, &mv)?.iter())?;
    let l = lot(&w, mv.lot)?;
    rules::check_lot(mv.kind, &l, p.today)?;
    check_stock(&w, &m, &mv)?;
    w.remove(&PENDING, &id)?;
    // the order it belongs to may have changed meanwhile: still open, still room on the
    // line, the buyer's licences still valid
    if let Some(doc) = mv.doc {
        orders::check_pending(&w, doc, mv.qty, &m, p.today)?;
    }
    mv.second = name;
    let mv = apply(&mut w, mv, p.now_ms, &m)?;
    w.commit()?;
    Ok(mv)
}

/// The locations a movement leaves and enters, with their warehouses.
fn stores_of(r: &impl Reader, mv: &Movement) -> Result<Vec<(Location, Warehouse)>> {
    mv.from
        .iter()
        .chain(mv.to.iter())
        .map(|l| located(r, *l, "to"))
        .collect()
}

/// Withdraws a pending movement: the custodian who asked, or another custodian of its
/// stores.
pub fn cancel(store: &Store, actor: &Actor, id: u64) -> Result<Movement> {
    let mut w = store.write(actor)?;
    let mv = w
        .get(&PENDING, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.pending_not_found"))?;
    if !(actor.kind == ActorKind::User && actor.id == mv.by_id) {
        custodian(&w, actor, stores_of(&w, &mv)?.iter())?;
    }
    w.remove(&PENDING, &id)?;
    let mut mv = mv;
    mv.state = MoveState::Cancelled;
    w.audit(
        "inventory.movement.cancel",
        format!("movement:{}", mv.id),
        Change::deleted(&mv),
    );
    w.commit()?;
    Ok(mv)
}

pub fn movement(r: &impl Reader, id: u64) -> Result<Movement> {
    match r.get(&LEDGER, &id)? {
        Some(m) => Ok(m),
        None => r
            .get(&PENDING, &id)?
            .ok_or_else(|| Error::not_found("inventory.err.movement_not_found")),
    }
}

/// A page of the ledger, newest first: one material's movements posted in [from, to), or
/// every material's when `material` is None.
pub fn ledger(
    r: &impl Reader,
    material: Option<u64>,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Vec<Movement>> {
    let (from, to) = (from_ms.max(0) as u64, to_ms.max(0) as u64);
    let mut ids = Vec::new();
    match material {
        Some(mat) => {
            r.visit(
                &BY_MATERIAL,
                (mat, from, 0)..(mat, to, 0),
                Order::Desc,
                |(_, _, id), ()| {
                    ids.push(id);
                    if ids.len() >= limit {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            )?;
        }
        None => {
            let mut out = Vec::new();
            r.visit(&LEDGER, .., Order::Desc, |_, mv: Movement| {
                let t = mv.posted_ms.unwrap_or(mv.ts_ms);
                if t >= from_ms && t < to_ms {
                    out.push(mv);
                }
                if out.len() >= limit {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            return Ok(out);
        }
    }
    ids.into_iter().map(|id| movement(r, id)).collect()
}

/// Movements of one lot, oldest first.
pub fn lot_movements(r: &impl Reader, lot: u64) -> Result<Vec<Movement>> {
    let mut ids = Vec::new();
    r.visit(
        &BY_LOT,
        (lot, 0)..(lot + 1, 0),
        Order::Asc,
        |(_, id), ()| {
            ids.push(id);
            ControlFlow::Continue(())
        },
    )?;
    ids.into_iter().map(|id| movement(r, id)).collect()
}

/// The balance of one material at one location, over its lots (one range read).
pub fn balance(r: &impl Reader, material: u64, location: u64) -> Result<f64> {
    Ok(r.get(&AT_LOCATION, &(location, material))?.unwrap_or(0.0))
}

/// Balances of one material (all locations and lots).
pub fn balances_of(r: &impl Reader, material: u64) -> Result<Vec<Balance>> {
    let mut v = Vec::new();
    r.visit(
        &BALANCES,
        (material, 0, 0)..(material + 1, 0, 0),
        Order::Asc,
        |_, b| {
            v.push(b);
            ControlFlow::Continue(())
        },
    )?;
    Ok(v)
}

pub fn all_balances(r: &impl Reader) -> Result<Vec<Balance>> {
    Ok(r.values(&BALANCES)?)
}

/// A line of the stock list: a balance with the names a reader needs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StockRow {
    #[serde(flatten)]
    pub balance: Balance,
    pub material_code: String,
    pub material_name: String,
    pub base_unit: String,
    pub warehouse: u64,
    pub warehouse_code: String,
    pub location_code: String,
    pub lot_number: String,
    pub quality: LotQuality,
    pub expires: Option<String>,
    /// Days to expiry (negative: expired).
    pub days_left: Option<i64>,
    pub value: f64,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct StockFilter {
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub material: Option<u64>,
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub warehouse: Option<u64>,
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    pub lot: Option<u64>,
}

/// Current stock, one line per material × location × lot.
pub fn stock(r: &impl Reader, f: &StockFilter, today: Date) -> Result<Vec<StockRow>> {
    let bs = match f.material {
        Some(m) => balances_of(r, m)?,
        None => all_balances(r)?,
    };
    let mut mats: HashMap<u64, Material> = HashMap::new();
    let locs: HashMap<u64, Location> = locations(r)?.into_iter().map(|l| (l.id, l)).collect();
    let whs: HashMap<u64, Warehouse> = warehouses(r)?.into_iter().map(|w| (w.id, w)).collect();
    let mut out = Vec::new();
    for b in bs {
        if f.lot.is_some_and(|l| l != b.lot) {
            continue;
        }
        let Some(loc) = locs.get(&b.location) else {
            continue;
        };
        if f.warehouse.is_some_and(|w| w != loc.warehouse) {
            continue;
        }
        let m = match mats.entry(b.material) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(material(r, b.material)?),
        };
        let l = lot(r, b.lot)?;
        out.push(StockRow {
            material_code: m.code.clone(),
            material_name: m.name.clone(),
            base_unit: m.base_unit.clone(),
            warehouse: loc.warehouse,
            warehouse_code: whs
                .get(&loc.warehouse)
                .map(|w| w.code.clone())
                .unwrap_or_default(),
            location_code: loc.code.clone(),
            lot_number: l.number.clone(),
            quality: l.quality,
            days_left: rules::days_left(&l, today),
            expires: l.expires,
            value: b.qty * m.unit_cost,
            balance: b,
        });
    }
    Ok(out)
}

/// Total stock of each material on hand at the plant (base units): every location but the
/// customers' consignment stores (still ours, no longer available), which shortage,
/// reorder points and maximum stock are about.
pub fn totals(r: &impl Reader) -> Result<HashMap<u64, f64>> {
    let consigned: Vec<u64> = warehouses(r)?
        .into_iter()
        .filter(|w| w.consignee.is_some())
        .map(|w| w.id)
        .collect();
    let away: Vec<u64> = locations(r)?
        .into_iter()
        .filter(|l| consigned.contains(&l.warehouse))
        .map(|l| l.id)
        .collect();
    let mut t: HashMap<u64, f64> = HashMap::new();
    r.visit(&AT_LOCATION, .., Order::Asc, |(loc, mat), q| {
        if !away.contains(&loc) {
            *t.entry(mat).or_default() += q;
        }
        ControlFlow::Continue(())
    })?;
    Ok(t)
}

/// Counts for the overview and the compliance page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub materials: u64,
    pub hazmat: u64,
    pub warehouses: u64,
    pub partners: u64,
    pub movements: u64,
    pub lots: u64,
    pub pending: u64,
}

pub fn counts(r: &impl Reader) -> Result<Counts> {
    let mats = materials(r)?;
    Ok(Counts {
        materials: mats.len() as u64,
        hazmat: mats.iter().filter(|m| m.needs_hazmat_store()).count() as u64,
        warehouses: r.count(&WAREHOUSES)?,
        partners: r.count(&PARTNERS)?,
        movements: r.count(&LEDGER)?,
        lots: r.count(&LOTS)?,
        pending: r.count(&PENDING)?,
    })
}

// ------------------------------------------------------------------ sheet imports

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
}

/// Saves checked materials from a sheet in one transaction: new codes are created, existing
/// ones (`id` set by the caller from the code) replaced.
pub fn import_materials(
    store: &Store,
    actor: &Actor,
    list: Vec<(usize, Material)>,
) -> Result<Imported> {
    let mut w = store.write(actor)?;
    let (mut created, mut updated) = (0, 0);
    let mut errors = Vec::new();
    for (row, m) in &list {
        let before = match w.get(&CODES, &format!("m:{}", m.code))? {
            Some(id) => Some(material(&w, id)?),
            None => None,
        };
        let guarded = match &before {
            Some(b) => guard_material(&w, b, m),
            None => guard_material(&w, m, m),
        };
        if let Err(e) = guarded {
            errors.push(e.in_row(*row)?);
        }
    }
    if !errors.is_empty() {
        return Err(Error::Rows(errors));
    }
    for (_, mut m) in list {
        let before = match w.get(&CODES, &format!("m:{}", m.code))? {
            Some(id) => Some(material(&w, id)?),
            None => None,
        };
        match &before {
            Some(b)
                if *b
                    == Material {
                        id: b.id,
                        ..m.clone()
                    } =>
            {
                continue;
            }
            Some(b) => {
                m.id = b.id;
                updated += 1;
            }
            None => {
                m.id = w.next_id(&MATERIALS)?;
                w.insert(&CODES, &format!("m:{}", m.code), &m.id)?;
                created += 1;
            }
        }
        w.insert(&MATERIALS, &m.id, &m)?;
    }
    w.audit(
        "inventory.material.import",
        format!("materials: {created} new, {updated} changed"),
        Change::created(serde_json::json!({"created": created, "updated": updated})),
    );
    w.commit()?;
    Ok(Imported { created, updated })
}

/// Saves checked partners from a sheet in one transaction, as `import_materials`.
pub fn import_partners(store: &Store, actor: &Actor, list: Vec<Partner>) -> Result<Imported> {
    let mut w = store.write(actor)?;
    let (mut created, mut updated) = (0, 0);
    for mut p in list {
        check_prices(&w, &p)?;
        let before = match w.get(&CODES, &format!("p:{}", p.code))? {
            Some(id) => Some(partner(&w, id)?),
            None => None,
        };
        match &before {
            Some(b)
                if *b
                    == Partner {
                        id: b.id,
                        ..p.clone()
                    } =>
            {
                continue;
            }
            Some(b) => {
                p.id = b.id;
                updated += 1;
            }
            None => {
                p.id = w.next_id(&PARTNERS)?;
                w.insert(&CODES, &format!("p:{}", p.code), &p.id)?;
                created += 1;
            }
        }
        w.insert(&PARTNERS, &p.id, &p)?;
    }
    w.audit(
        "inventory.partner.import",
        format!("partners: {created} new, {updated} changed"),
        Change::created(serde_json::json!({"created": created, "updated": updated})),
    );
    w.commit()?;
    Ok(Imported { created, updated })
}

pub mod analysis;
pub mod counts;
pub mod orders;

#[cfg(test)]
mod tests;
