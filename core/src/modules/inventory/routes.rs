//! Pages and JSON API of 进销存: stock, the ledger and posting movements (with the second
//! custodian's confirmation for 剧毒 items), lots and their quality status, and the master
//! data (materials, warehouses and locations, partners), settings and storage rules.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, post, put, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::model::{
    Category, CreditPolicy, LicenceKind, Location, Lot, LotQuality, Material, MoveKind, Movement,
    Partner, PartnerRole, Settings, StorageRule, Warehouse,
};
use super::service::{self as svc, MoveInput, Posted, StockFilter, StockRow};
use crate::auth::model::Level;
use crate::error::Error;
use crate::plant_time::{day_start, parse_day};
use crate::web::context::{Ctx, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Either, Need};

const M: &str = "inventory";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(stock_page)
        .service(settings_page)
        .service(settings_submit)
        .service(movements_page)
        .service(movement_submit)
        .service(movement_confirm)
        .service(movement_cancel)
        .service(lot_page)
        .service(lot_quality_submit)
        .service(materials_page)
        .service(material_submit)
        .service(warehouses_page)
        .service(warehouse_submit)
        .service(location_submit)
        .service(partners_page)
        .service(partner_submit)
        .service(api_materials)
        .service(api_material_create)
        .service(api_material)
        .service(api_material_update)
        .service(api_warehouses)
        .service(api_warehouse_create)
        .service(api_locations)
        .service(api_location_create)
        .service(api_partners)
        .service(api_partner_create)
        .service(api_partner_update)
        .service(api_movements)
        .service(api_movement_create)
        .service(api_pending)
        .service(api_pivot)
        .service(api_movement_confirm)
        .service(api_movement_cancel)
        .service(api_stock)
        .service(api_lot)
        .service(api_lot_quality)
        .service(api_settings)
        .service(api_settings_update)
        .service(api_rules)
        .service(api_rules_update);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_materials,
    api_material_create,
    api_material,
    api_material_update,
    api_warehouses,
    api_warehouse_create,
    api_locations,
    api_location_create,
    api_partners,
    api_partner_create,
    api_partner_update,
    api_movements,
    api_movement_create,
    api_pending,
    api_pivot,
    api_movement_confirm,
    api_movement_cancel,
    api_stock,
    api_lot,
    api_lot_quality,
    api_settings,
    api_settings_update,
    api_rules,
    api_rules_update
))]
pub struct Doc;

fn today(ctx: &Ctx) -> time::Date {
    crate::plant_time::today(ctx.app.offset)
}

/// `YYYY-MM` → [first ms, first ms of the next month) in plant time.
fn month_range(ctx: &Ctx, month: &str) -> Result<(i64, i64), Error> {
    let first = parse_day(&format!("{month}-01"))
        .ok_or_else(|| Error::invalid("month", "inventory.err.month"))?;
    let next = if first.month() == time::Month::December {
        time::Date::from_calendar_date(first.year() + 1, time::Month::January, 1)
    } else {
        time::Date::from_calendar_date(first.year(), first.month().next(), 1)
    }
    .map_err(|_| Error::invalid("month", "inventory.err.month"))?;
    Ok((
        day_start(first, ctx.app.offset),
        day_start(next, ctx.app.offset),
    ))
}

// ------------------------------------------------------------------ views

/// A ledger line with the names a reader needs.
#[derive(Serialize)]
struct MoveView<'a> {
    #[serde(flatten)]
    m: &'a Movement,
    kind_id: &'static str,
    material_code: String,
    material_name: String,
    base_unit: String,
    lot_number: String,
    from_code: String,
    to_code: String,
    /// Who asked, as people read it.
    by_name: String,
}

/// Names of materials, lots, locations and people for views, read once per page.
struct Names {
    materials: std::collections::HashMap<u64, Material>,
    locations: std::collections::HashMap<u64, String>,
    people: crate::auth::service::People,
}

impl Names {
    fn load(r: &impl crate::store::Reader) -> Result<Names, Error> {
        let whs: std::collections::HashMap<u64, Warehouse> =
            svc::warehouses(r)?.into_iter().map(|w| (w.id, w)).collect();
        Ok(Names {
            people: crate::auth::service::People::load(r)?,
            materials: svc::materials(r)?.into_iter().map(|m| (m.id, m)).collect(),
            locations: svc::locations(r)?
                .into_iter()
                .map(|l| {
                    let wh = whs.get(&l.warehouse).map_or("?", |w| w.code.as_str());
                    (l.id, format!("{wh}/{}", l.code))
                })
                .collect(),
        })
    }
    fn location(&self, id: Option<u64>) -> String {
        id.and_then(|i| self.locations.get(&i).cloned())
            .unwrap_or_default()
    }
    fn view<'a>(&self, r: &impl crate::store::Reader, m: &'a Movement) -> MoveView<'a> {
        let mat = self.materials.get(&m.material);
        MoveView {
            m,
            kind_id: m.kind.id(),
            material_code: mat.map(|x| x.code.clone()).unwrap_or_default(),
            material_name: mat.map(|x| x.name.clone()).unwrap_or_default(),
            base_unit: mat.map(|x| x.base_unit.clone()).unwrap_or_default(),
            lot_number: svc::lot(r, m.lot).map(|l| l.number).unwrap_or_default(),
            from_code: self.location(m.from),
            to_code: self.location(m.to),
            by_name: self.people.of(&m.by),
        }
    }
}

/// Choices the movement forms offer.
fn choices(ctx: &Ctx) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let names = Names::load(&r)?;
    let mut locations: Vec<(u64, String)> = names.locations.into_iter().collect();
    locations.sort_by(|a, b| a.1.cmp(&b.1));
    let mut materials: Vec<Material> = names.materials.into_values().filter(|m| m.active).collect();
    materials.sort_by(|a, b| a.code.cmp(&b.code));
    let suppliers: Vec<Partner> = svc::partners(&r)?
        .into_iter()
        .filter(|p| p.role.sells_to_us())
        .collect();
    Ok(context! {
        materials => to_value(&materials),
        locations => to_value(&locations.iter().map(|(id, label)| serde_json::json!({"id": id, "label": label})).collect::<Vec<_>>()),
        suppliers => to_value(&suppliers),
        // deliveries leave with their sales order, count results with their count
        kinds => MoveKind::ALL
            .iter()
            .filter(|k| !matches!(k, MoveKind::Delivery | MoveKind::Count))
            .map(|k| k.id())
            .collect::<Vec<_>>(),
        can_write => ctx.who.can(M, Level::Write),
        can_approve => ctx.who.can(M, Level::Approve),
    })
}

// ------------------------------------------------------------------ stock

/// The module's entry (the dashboard links to `/inventory`): the stock.
#[get("/inventory")]
async fn home(_ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    Ok(crate::web::context::redirect_with("/inventory/stock", None))
}

#[get("/inventory/stock")]
async fn stock_page(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<StockFilter>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let rows = svc::stock(&r, &q, today(&ctx))?;
    let names = Names::load(&r)?;
    let pending = svc::pending(&r)?;
    let pending: Vec<MoveView> = pending.iter().map(|m| names.view(&r, m)).collect();
    let totals = svc::totals(&r)?;
    let mut short: Vec<serde_json::Value> = names
        .materials
        .values()
        .filter(|m| m.active && m.safety_stock > 0.0)
        .filter_map(|m| {
            let have = totals.get(&m.id).copied().unwrap_or(0.0);
            (have < m.safety_stock).then(|| {
                serde_json::json!({"id": m.id, "code": m.code, "name": m.name, "have": have,
                    "min": m.safety_stock, "unit": m.base_unit})
            })
        })
        .collect();
    short.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
    let value: f64 = rows.iter().map(|x| x.value).sum();
    let c = context! {
        rows => to_value(&rows),
        pending => to_value(&pending),
        short => to_value(&short),
        total_value => value,
        material => q.material,
        warehouse => q.warehouse,
        warehouses => to_value(&svc::warehouses(&r)?),
        user_id => ctx.who.user().map(|u| u.id),
        ..choices(&ctx)?
    };
    drop(r);
    ctx.page("inventory/stock.html", c)
}

#[post("/inventory/movements/{id}/confirm")]
async fn movement_confirm(
    ctx: Need<grant::Person<grant::inventory::Write>>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    ctx.write(move |app, actor| super::confirm(app, actor, id))
        .await?;
    Ok(crate::web::context::redirect_with(
        "/inventory/stock",
        Some("flash.saved"),
    ))
}

#[post("/inventory/movements/{id}/cancel")]
async fn movement_cancel(
    ctx: Need<grant::Person<grant::inventory::Write>>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    ctx.write(move |app, actor| svc::cancel(&app.store, actor, id))
        .await?;
    Ok(crate::web::context::redirect_with(
        "/inventory/stock",
        Some("flash.saved"),
    ))
}

// ------------------------------------------------------------------ ledger

#[derive(Deserialize, Default)]
struct LedgerQuery {
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    material: Option<u64>,
    /// `YYYY-MM`; default: every month.
    #[serde(default)]
    month: Option<String>,
}

fn ledger_data(
    ctx: &Ctx,
    q: &LedgerQuery,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let (from, to) = match q.month.as_deref().filter(|s| !s.is_empty()) {
        Some(m) => month_range(ctx, m)?,
        None => (0, i64::MAX),
    };
    let r = ctx.app.store.read()?;
    let list = svc::ledger(&r, q.material, from, to, 500)?;
    let names = Names::load(&r)?;
    let view: Vec<MoveView> = list.iter().map(|m| names.view(&r, m)).collect();
    let c = context! {
        movements => to_value(&view),
        material => q.material,
        month => q.month.clone().unwrap_or_default(),
        values => to_value(&values),
        ..choices(ctx)?
    };
    Ok(c)
}

#[get("/inventory/movements")]
async fn movements_page(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<LedgerQuery>,
) -> Result<HttpResponse, AppError> {
    let values = serde_json::json!({"kind": "issue", "material": q.material});
    let c = ledger_data(&ctx, &q, values)?;
    ctx.page("inventory/movements.html", c)
}

/// A movement from the console's form: the lot by its number (a receipt makes it).
fn move_form(ctx: &Ctx, f: &FormData) -> Result<MoveInput, Error> {
    let kind = MoveKind::parse(f.get("kind"))
        .ok_or_else(|| Error::invalid("kind", "inventory.err.kind"))?;
    let material: u64 = f
        .opt("material")?
        .ok_or_else(|| Error::invalid("material", "inventory.err.material_not_found"))?;
    let number = f.get("lot").trim().to_string();
    let lot = if kind == MoveKind::Receipt || number.is_empty() {
        None
    } else {
        let r = ctx.app.store.read()?;
        Some(
            svc::lot_by_number(&r, material, &number)?
                .ok_or_else(|| Error::invalid("lot", "inventory.err.lot_not_found"))?
                .id,
        )
    };
    let qty: f64 = f
        .opt("qty")?
        .ok_or_else(|| Error::invalid("qty", "inventory.err.qty"))?;
    // the form offers both selects; the kind decides which one counts
    let (from, to) = (f.opt::<u64>("from")?, f.opt::<u64>("to")?);
    let (from, to) = match kind {
        MoveKind::Receipt | MoveKind::Return => (None, to),
        MoveKind::Issue | MoveKind::Scrap | MoveKind::Delivery => (from, None),
        MoveKind::Transfer => (from, to),
        MoveKind::Adjust | MoveKind::Count => match f.get("direction") {
            "down" => (from, None),
            _ => (None, to),
        },
    };
    Ok(MoveInput {
        kind: Some(kind),
        material,
        lot,
        lot_number: if kind == MoveKind::Receipt {
            number
        } else {
            String::new()
        },
        supplier_lot: f.get("supplier_lot").into(),
        supplier: f.opt("supplier")?,
        expires: Some(f.get("expires").to_string()).filter(|s| !s.trim().is_empty()),
        from,
        to,
        qty,
        unit: f.get("unit").into(),
        reason: f.get("reason").into(),
        reference: f.get("reference").into(),
        purchase_order: None,
        doc: None,
    })
}

#[post("/inventory/movements")]
async fn movement_submit(
    ctx: Need<grant::inventory::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let input = move_form(&ctx, &f)?;
        let material = input.material;
        ctx.write(move |app, actor| super::post(app, actor, input))
            .await
            .map(|p| {
                if p.movement.state == super::model::MoveState::Pending {
                    "/inventory/stock".to_string()
                } else {
                    format!("/inventory/movements?material={material}")
                }
            })
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/movements.html", || {
        ledger_data(&ctx, &LedgerQuery::default(), f.echo())
    })
}

// ------------------------------------------------------------------ lots

#[derive(Serialize)]
struct LotView<'a> {
    #[serde(flatten)]
    lot: &'a Lot,
    material_code: String,
    material_name: String,
    base_unit: String,
    days_left: Option<i64>,
    stock: Vec<StockRow>,
}

fn lot_data(ctx: &Ctx, id: u64) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let l = svc::lot(&r, id)?;
    let m = svc::material(&r, l.material)?;
    let filter = StockFilter {
        material: Some(l.material),
        lot: Some(id),
        warehouse: None,
    };
    let stock = svc::stock(&r, &filter, today(ctx))?;
    let moves = svc::lot_movements(&r, id)?;
    let names = Names::load(&r)?;
    let moves: Vec<MoveView> = moves.iter().map(|x| names.view(&r, x)).collect();
    let view = LotView {
        lot: &l,
        material_code: m.code.clone(),
        material_name: m.name.clone(),
        base_unit: m.base_unit.clone(),
        days_left: super::rules::days_left(&l, today(ctx)),
        stock,
    };
    Ok(context! {
        lot => to_value(&view),
        movements => to_value(&moves),
        can_set_quality => ctx.who.can(M, Level::Approve) || ctx.who.can("quality", Level::Approve),
    })
}

#[get("/inventory/lots/{id}")]
async fn lot_page(
    ctx: Need<grant::inventory::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let c = lot_data(&ctx, *id)?;
    ctx.page("inventory/lot.html", c)
}

/// Who may set a lot's quality status: the lab's approver, or an inventory approver.
type QualityDecides = Either<grant::inventory::Approve, grant::quality::Approve>;

#[post("/inventory/lots/{id}/quality")]
async fn lot_quality_submit(
    ctx: Need<QualityDecides>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = id.into_inner();
    let r = async {
        let q = LotQuality::parse(f.get("quality"))
            .ok_or_else(|| Error::invalid("quality", "inventory.err.quality"))?;
        let note = f.get("note").to_string();
        ctx.write(move |app, actor| super::set_lot_quality(app, actor, id, q, &note))
            .await
            .map(|_| format!("/inventory/lots/{id}"))
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/lot.html", || {
        lot_data(&ctx, id)
    })
}

// ------------------------------------------------------------------ materials

fn materials_data(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let totals = svc::totals(&r)?;
    let mut mats = svc::materials(&r)?;
    mats.sort_by(|a, b| a.code.cmp(&b.code));
    let rows: Vec<serde_json::Value> = mats
        .iter()
        .map(|m| {
            let mut v = serde_json::json!({"stock": totals.get(&m.id).copied().unwrap_or(0.0)});
            v["m"] = serde_json::to_value(m).unwrap_or_default();
            v
        })
        .collect();
    let groups: Vec<String> = {
        let mut g: Vec<String> = super::rules::GROUPS.iter().map(|s| s.to_string()).collect();
        for rule in svc::storage_rules(&r)? {
            for x in [rule.a, rule.b] {
                if !g.contains(&x) {
                    g.push(x);
                }
            }
        }
        g
    };
    Ok(context! {
        rows => to_value(&rows),
        groups => groups,
        categories => Category::ALL.map(Category::id).to_vec(),
        values => to_value(&values),
        can_write => ctx.who.can(M, Level::Write),
    })
}

/// `?edit=<id>`: the page's form edits that record instead of adding one.
#[derive(Deserialize)]
struct EditQuery {
    edit: Option<u64>,
}

/// A material as its form's values (lists as the text the form takes).
fn material_values(m: &Material) -> serde_json::Value {
    let mut v = serde_json::to_value(m).unwrap_or_default();
    v["units"] = super::sheet::units_text(&m.units).into();
    v["ghs"] = m.ghs.join(", ").into();
    v
}

#[get("/inventory/materials")]
async fn materials_page(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    let values = match q.edit {
        Some(id) => material_values(&svc::material(&ctx.app.store.read()?, id)?),
        None => serde_json::json!({"base_unit": "kg"}),
    };
    let c = materials_data(&ctx, values)?;
    ctx.page("inventory/materials.html", c)
}

fn material_form(f: &FormData) -> Result<Material, Error> {
    let id: u64 = f.opt("id")?.unwrap_or(0);
    Ok(Material {
        id,
        code: f.get("code").into(),
        name: f.get("name").into(),
        spec: f.get("spec").into(),
        category: Category::parse(f.get("category"))
            .ok_or_else(|| Error::invalid("category", "inventory.err.category"))?,
        base_unit: f.get("base_unit").into(),
        units: super::sheet::parse_units(f.get("units"))?,
        cas: f.get("cas").into(),
        ghs: f
            .get("ghs")
            .split([',', '，', ' '])
            .map(str::to_string)
            .collect(),
        hazmat: f.checked("hazmat"),
        inspect: f.checked("inspect"),
        highly_toxic: f.checked("highly_toxic"),
        precursor_class: f.opt("precursor_class")?.unwrap_or(0),
        explosive_precursor: f.checked("explosive_precursor"),
        storage_group: f.all("storage_group").join(","),
        shelf_life_days: f.opt("shelf_life_days")?.unwrap_or(0),
        safety_stock: f.opt("safety_stock")?.unwrap_or(0.0),
        reorder_point: f.opt("reorder_point")?.unwrap_or(0.0),
        max_stock: f.opt("max_stock")?.unwrap_or(0.0),
        unit_cost: f.opt("unit_cost")?.unwrap_or(0.0),
        list_price: f.opt("list_price")?.unwrap_or(0.0),
        floor_price: f.opt("floor_price")?.unwrap_or(0.0),
        // a new material is in use; an edited one as its box says
        active: id == 0 || f.checked("active"),
    })
}

#[post("/inventory/materials")]
async fn material_submit(
    ctx: Need<grant::inventory::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let m = material_form(&f)?;
        ctx.write(move |app, actor| svc::save_material(&app.store, actor, m))
            .await
            .map(|_| "/inventory/materials".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/materials.html", || {
        materials_data(&ctx, f.echo())
    })
}

// ------------------------------------------------------------------ warehouses

fn warehouses_data(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let whs = svc::warehouses(&r)?;
    let locs = svc::locations(&r)?;
    let users: Vec<serde_json::Value> = crate::auth::service::users(&r)?
        .into_iter()
        .filter(|u| u.enabled)
        .map(|u| serde_json::json!({"id": u.id, "name": u.display_name}))
        .collect();
    let view: Vec<serde_json::Value> = whs
        .iter()
        .map(|w| {
            let names: Vec<String> = w
                .custodians
                .iter()
                .filter_map(|c| users.iter().find(|u| u["id"] == *c))
                .filter_map(|u| u["name"].as_str().map(str::to_string))
                .collect();
            serde_json::json!({
                "w": w,
                "custodian_names": names,
                "locations": locs.iter().filter(|l| l.warehouse == w.id).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(context! {
        warehouses => to_value(&view),
        users => to_value(&users),
        values => to_value(&values),
        can_write => ctx.who.can(M, Level::Approve),
    })
}

#[get("/inventory/warehouses")]
async fn warehouses_page(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    let c = warehouses_data(&ctx, serde_json::json!({}))?;
    ctx.page("inventory/warehouses.html", c)
}

#[post("/inventory/warehouses")]
async fn warehouse_submit(
    ctx: Need<grant::inventory::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let custodians = f
            .all("custodians")
            .iter()
            .map(|c| {
                c.parse()
                    .map_err(|_| Error::invalid("custodians", "inventory.err.custodian_user"))
            })
            .collect::<Result<Vec<u64>, Error>>()?;
        let x = Warehouse {
            id: 0,
            code: f.get("code").into(),
            name: f.get("name").into(),
            hazmat_store: f.checked("hazmat_store"),
            major_hazard: f.checked("major_hazard"),
            custodians,
            address: f.get("address").into(),
            consignee: None,
        };
        ctx.write(move |app, actor| svc::save_warehouse(&app.store, actor, x))
            .await
            .map(|_| "/inventory/warehouses".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/warehouses.html", || {
        warehouses_data(&ctx, f.echo())
    })
}

#[post("/inventory/locations")]
async fn location_submit(
    ctx: Need<grant::inventory::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let x = Location {
            id: 0,
            warehouse: f
                .opt("warehouse")?
                .ok_or_else(|| Error::invalid("warehouse", "inventory.err.warehouse_not_found"))?,
            code: f.get("code").into(),
            name: f.get("name").into(),
            capacity_kg: f.opt("capacity_kg")?.unwrap_or(0.0),
        };
        ctx.write(move |app, actor| svc::save_location(&app.store, actor, x))
            .await
            .map(|_| "/inventory/warehouses".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/warehouses.html", || {
        warehouses_data(&ctx, f.echo())
    })
}

// ------------------------------------------------------------------ partners

fn partners_data(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let mut list = svc::partners(&r)?;
    list.sort_by(|a, b| a.code.cmp(&b.code));
    let t = today(ctx);
    let codes = super::sheet::material_codes(&r)?;
    let view: Vec<serde_json::Value> = list
        .iter()
        .map(|p| {
            let licences: Vec<serde_json::Value> = p
                .licences
                .iter()
                .map(|l| {
                    let ok = parse_day(&l.expires).is_some_and(|d| d >= t);
                    serde_json::json!({"kind": l.kind.id(), "number": l.number, "expires": l.expires, "valid": ok})
                })
                .collect();
            let prices = super::sheet::prices_text(&p.prices, &codes);
            serde_json::json!({"p": p, "licences": licences, "prices": prices})
        })
        .collect();
    Ok(context! {
        partners => to_value(&view),
        licence_kinds => LicenceKind::ALL.iter().map(|k| k.id()).collect::<Vec<_>>(),
        values => to_value(&values),
        can_write => ctx.who.can(M, Level::Write),
    })
}

#[get("/inventory/partners")]
async fn partners_page(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    let values = match q.edit {
        Some(id) => {
            let r = ctx.app.store.read()?;
            let p = svc::partner(&r, id)?;
            let mut v = serde_json::to_value(&p).unwrap_or_default();
            v["licences"] = super::sheet::licences_text(&p.licences, "\n").into();
            v["contacts"] = super::sheet::contacts_text(&p.contacts, "\n").into();
            v["prices"] =
                super::sheet::prices_text(&p.prices, &super::sheet::material_codes(&r)?).into();
            v
        }
        None => serde_json::json!({"role": "customer", "payment_days": 30}),
    };
    let c = partners_data(&ctx, values)?;
    ctx.page("inventory/partners.html", c)
}

/// Licence lines `kind number expires`, contact lines `name phone`, price lines
/// `material-code price [floor]`.
fn partner_form(f: &FormData, codes: &HashMap<String, u64>) -> Result<Partner, Error> {
    let licences = super::sheet::parse_licences(f.get("licences"))?;
    let contacts = super::sheet::parse_contacts(f.get("contacts"));
    let prices = super::sheet::parse_prices(f.get("prices"), codes)?;
    Ok(Partner {
        id: f.opt("id")?.unwrap_or(0),
        code: f.get("code").into(),
        name: f.get("name").into(),
        role: match f.get("role") {
            "supplier" => PartnerRole::Supplier,
            "both" => PartnerRole::Both,
            _ => PartnerRole::Customer,
        },
        credit_code: f.get("credit_code").into(),
        address: f.get("address").into(),
        licences,
        credit_limit: f.opt("credit_limit")?.unwrap_or(0.0),
        credit_policy: if f.get("credit_policy") == "block" {
            CreditPolicy::Block
        } else {
            CreditPolicy::Approve
        },
        payment_days: f.opt("payment_days")?.unwrap_or(0),
        contacts,
        prices,
    })
}

#[post("/inventory/partners")]
async fn partner_submit(
    ctx: Need<grant::inventory::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let codes: HashMap<String, u64> = svc::materials(&ctx.app.store.read()?)?
            .into_iter()
            .map(|m| (m.code, m.id))
            .collect();
        let p = partner_form(&f, &codes)?;
        ctx.write(move |app, actor| svc::save_partner(&app.store, actor, p))
            .await
            .map(|_| "/inventory/partners".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/partners.html", || {
        partners_data(&ctx, f.echo())
    })
}

// ------------------------------------------------------------------ API: master data

/// Materials.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Materials", body = Vec<Material>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/materials")]
async fn api_materials(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::materials(&ctx.app.store.read()?)?))
}

/// Adds a material (`id` is assigned; send 0). The code is unique; a CAS number must pass
/// its check digit; 剧毒 and 易制爆 items are hazardous chemicals.
#[utoipa::path(tag = "inventory", request_body = Material, responses(
    (status = 201, description = "Created", body = Material),
    (status = 422, description = "A field breaks a rule; `error.field` names it")), security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/materials")]
async fn api_material_create(
    ctx: Need<grant::inventory::Write>,
    body: web::Json<Material>,
) -> Result<HttpResponse, AppError> {
    let mut m = body.into_inner();
    m.id = 0;
    let m = ctx
        .write(move |app, actor| svc::save_material(&app.store, actor, m))
        .await?;
    Ok(HttpResponse::Created().json(m))
}

/// One material with its stock.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Material id")), responses(
    (status = 200, description = "The material", body = Material), (status = 404, description = "No such material")),
    security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/materials/{id}")]
async fn api_material(
    ctx: Need<grant::inventory::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let m = svc::material(&r, *id)?;
    let stock: f64 = svc::balances_of(&r, m.id)?.iter().map(|b| b.qty).sum();
    Ok(HttpResponse::Ok().json(serde_json::json!({"material": m, "stock": stock})))
}

/// Changes a material.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Material id")), request_body = Material, responses(
    (status = 200, description = "Saved", body = Material), (status = 422, description = "A field breaks a rule")),
    security(("bearer" = ["inventory:write"])))]
#[put("/api/v1/inventory/materials/{id}")]
async fn api_material_update(
    ctx: Need<grant::inventory::Write>,
    id: web::Path<u64>,
    body: web::Json<Material>,
) -> Result<HttpResponse, AppError> {
    let mut m = body.into_inner();
    m.id = id.into_inner();
    let m = ctx
        .write(move |app, actor| svc::save_material(&app.store, actor, m))
        .await?;
    Ok(HttpResponse::Ok().json(m))
}

/// Warehouses.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Warehouses", body = Vec<Warehouse>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/warehouses")]
async fn api_warehouses(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::warehouses(&ctx.app.store.read()?)?))
}

/// Adds (id 0) or changes a warehouse. A dedicated hazardous-chemical store names its
/// custodians (user ids); 剧毒 items need two.
#[utoipa::path(tag = "inventory", request_body = Warehouse, responses(
    (status = 200, description = "Saved", body = Warehouse),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["inventory:approve"])))]
#[post("/api/v1/inventory/warehouses")]
async fn api_warehouse_create(
    ctx: Need<grant::inventory::Approve>,
    body: web::Json<Warehouse>,
) -> Result<HttpResponse, AppError> {
    let x = body.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::save_warehouse(&app.store, actor, x))
            .await?,
    ))
}

/// Storage locations.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Locations", body = Vec<Location>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/locations")]
async fn api_locations(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::locations(&ctx.app.store.read()?)?))
}

/// Adds (id 0) or changes a location; the code is unique within its warehouse.
#[utoipa::path(tag = "inventory", request_body = Location, responses(
    (status = 200, description = "Saved", body = Location),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["inventory:approve"])))]
#[post("/api/v1/inventory/locations")]
async fn api_location_create(
    ctx: Need<grant::inventory::Approve>,
    body: web::Json<Location>,
) -> Result<HttpResponse, AppError> {
    let x = body.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::save_location(&app.store, actor, x))
            .await?,
    ))
}

/// Suppliers and customers.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Partners", body = Vec<Partner>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/partners")]
async fn api_partners(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::partners(&ctx.app.store.read()?)?))
}

/// Adds a supplier or customer (`id` is assigned). `credit_code` must be a valid
/// 统一社会信用代码; licences carry their last day.
#[utoipa::path(tag = "inventory", request_body = Partner, responses(
    (status = 201, description = "Created", body = Partner),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/partners")]
async fn api_partner_create(
    ctx: Need<grant::inventory::Write>,
    body: web::Json<Partner>,
) -> Result<HttpResponse, AppError> {
    let mut x = body.into_inner();
    x.id = 0;
    let x = ctx
        .write(move |app, actor| svc::save_partner(&app.store, actor, x))
        .await?;
    Ok(HttpResponse::Created().json(x))
}

/// Changes a partner.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Partner id")), request_body = Partner, responses(
    (status = 200, description = "Saved", body = Partner), (status = 422, description = "A field breaks a rule")),
    security(("bearer" = ["inventory:write"])))]
#[put("/api/v1/inventory/partners/{id}")]
async fn api_partner_update(
    ctx: Need<grant::inventory::Write>,
    id: web::Path<u64>,
    body: web::Json<Partner>,
) -> Result<HttpResponse, AppError> {
    let mut x = body.into_inner();
    x.id = id.into_inner();
    let x = ctx
        .write(move |app, actor| svc::save_partner(&app.store, actor, x))
        .await?;
    Ok(HttpResponse::Ok().json(x))
}

// ------------------------------------------------------------------ API: stock

#[derive(Deserialize, utoipa::IntoParams)]
struct LedgerParams {
    /// Material id; without it, every material's movements.
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    material: Option<u64>,
    /// `YYYY-MM` (plant time).
    month: Option<String>,
    /// At most this many, newest first (default 100, at most 1,000).
    limit: Option<usize>,
}

/// The ledger, newest first, by material and month.
#[utoipa::path(tag = "inventory", params(LedgerParams), responses((status = 200, description = "Movements", body = Vec<Movement>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/movements")]
async fn api_movements(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<LedgerParams>,
) -> Result<HttpResponse, AppError> {
    let (from, to) = match q.month.as_deref().filter(|s| !s.is_empty()) {
        Some(m) => month_range(&ctx, m)?,
        None => (0, i64::MAX),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(HttpResponse::Ok().json(svc::ledger(
        &ctx.app.store.read()?,
        q.material,
        from,
        to,
        limit,
    )?))
}

/// Posts a movement (receipt, issue, return, transfer, adjust, count, scrap, delivery).
/// Refused, with the rule named, when it would make stock negative, issue or ship a held or
/// expired lot, put away next to an incompatible chemical or outside a dedicated store, or
/// use a unit that does not convert. A 剧毒 movement answers 202: it waits for a second
/// custodian (`state: pending`).
#[utoipa::path(tag = "inventory", request_body = MoveInput, responses(
    (status = 201, description = "Posted", body = Posted),
    (status = 202, description = "Waiting for the second custodian", body = Posted),
    (status = 403, description = "A 剧毒 movement by someone who is not a custodian"),
    (status = 422, description = "A rule refused it; `error.field` names the input")), security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/movements")]
async fn api_movement_create(
    ctx: Need<grant::inventory::Write>,
    body: web::Json<MoveInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner();
    let p = ctx
        .write(move |app, actor| super::post(app, actor, input))
        .await?;
    Ok(if p.movement.state == super::model::MoveState::Pending {
        HttpResponse::Accepted().json(p)
    } else {
        HttpResponse::Created().json(p)
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
struct PivotParams {
    /// Grouped down, comma-separated: `category`, `material`, `kind`, `from`, `to`, `unit`,
    /// or `ts_ms:day` / `ts_ms:month` (plant time); at most 3.
    #[serde(default)]
    rows: String,
    /// Grouped across, as `rows`.
    #[serde(default)]
    columns: String,
    /// Comma-separated: `count`, or `sum`/`mean`/`min`/`max` of `qty` or `value` (`sum:value`).
    measures: String,
    /// First plant day, `YYYY-MM-DD` (default: the ledger's start).
    #[serde(default)]
    from: String,
    /// Last plant day, included (default: today).
    #[serde(default)]
    to: String,
}

/// A pivot table over the posted movements of a period (BI): e.g. value by material
/// category × month (`rows=category&columns=ts_ms:month&measures=sum:value`), with row,
/// column and grand totals; a cell without movements has no figures (null), not zeros.
#[utoipa::path(tag = "inventory", params(PivotParams), responses(
    (status = 200, description = "The table", body = crate::pivot::Table),
    (status = 422, description = "A field that is not a movement's, a bad measure or day, or more than 100,000 cells")),
    security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/movements/pivot")]
async fn api_pivot(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<PivotParams>,
) -> Result<HttpResponse, AppError> {
    let words = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    };
    let spec =
        svc::analysis::movement_pivot(&words(&q.rows), &words(&q.columns), &words(&q.measures))?;
    let day = |s: &str, field: &'static str| -> Result<Option<time::Date>, Error> {
        match s.trim() {
            "" => Ok(None),
            d => parse_day(d)
                .map(Some)
                .ok_or_else(|| Error::invalid(field, "common.err.date")),
        }
    };
    let offset = ctx.app.offset;
    let from = day(&q.from, "from")?.map_or(0, |d| day_start(d, offset));
    let to = day(&q.to, "to")?
        .unwrap_or_else(|| crate::plant_time::today(offset))
        .next_day()
        .map_or(i64::MAX, |d| day_start(d, offset));
    if from >= to {
        return Err(Error::invalid("to", "inventory.err.period").into());
    }
    let app = ctx.app.clone();
    let table = crate::web::error::blocking(move || {
        svc::analysis::pivot_movements(&app.store.read()?, &spec, from, to, offset)
    })
    .await?;
    Ok(HttpResponse::Ok().json(table))
}

/// 剧毒 movements waiting for their second custodian.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Pending movements", body = Vec<Movement>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/movements/pending")]
async fn api_pending(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::pending(&ctx.app.store.read()?)?))
}

/// The second custodian confirms a 剧毒 movement (双人双锁): a signed-in custodian of the
/// store other than the one who asked. It is checked again and posted.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Movement id")), responses(
    (status = 200, description = "Posted", body = Movement),
    (status = 403, description = "Not a custodian of the store, or not a signed-in person"),
    (status = 409, description = "The same custodian who asked")), security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/movements/{id}/confirm")]
async fn api_movement_confirm(
    ctx: Need<grant::Person<grant::inventory::Write>>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| super::confirm(app, actor, id))
            .await?,
    ))
}

/// Withdraws a pending 剧毒 movement.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Movement id")), responses(
    (status = 200, description = "Cancelled", body = Movement), (status = 404, description = "Not pending")),
    security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/movements/{id}/cancel")]
async fn api_movement_cancel(
    ctx: Need<grant::Person<grant::inventory::Write>>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::cancel(&app.store, actor, id))
            .await?,
    ))
}

/// Stock per material × location × lot.
#[utoipa::path(tag = "inventory", params(StockFilter), responses((status = 200, description = "Stock", body = Vec<StockRow>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/stock")]
async fn api_stock(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<StockFilter>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::stock(&ctx.app.store.read()?, &q, today(&ctx))?))
}

#[derive(Serialize, utoipa::ToSchema)]
struct LotAnswer {
    lot: Lot,
    stock: Vec<StockRow>,
    movements: Vec<Movement>,
}

/// A lot: its quality status, where it is, and every movement.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Lot id")), responses(
    (status = 200, description = "The lot", body = LotAnswer), (status = 404, description = "No such lot")),
    security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/lots/{id}")]
async fn api_lot(
    ctx: Need<grant::inventory::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let lot = svc::lot(&r, *id)?;
    let filter = StockFilter {
        material: Some(lot.material),
        lot: Some(lot.id),
        warehouse: None,
    };
    Ok(HttpResponse::Ok().json(LotAnswer {
        stock: svc::stock(&r, &filter, today(&ctx))?,
        movements: svc::lot_movements(&r, lot.id)?,
        lot,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct QualityInput {
    quality: LotQuality,
    /// Required to hold or reject.
    #[serde(default)]
    note: String,
}

/// Sets a lot's quality status (the lab, or an inventory approver). Held and rejected lots
/// are not issued or shipped.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Lot id")), request_body = QualityInput, responses(
    (status = 200, description = "Saved", body = Lot), (status = 422, description = "A note is required to hold or reject")),
    security(("bearer" = ["inventory:approve", "quality:approve"])))]
#[post("/api/v1/inventory/lots/{id}/quality")]
async fn api_lot_quality(
    ctx: Need<QualityDecides>,
    id: web::Path<u64>,
    body: web::Json<QualityInput>,
) -> Result<HttpResponse, AppError> {
    let (id, q) = (id.into_inner(), body.into_inner());
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| super::set_lot_quality(app, actor, id, q.quality, &q.note))
            .await?,
    ))
}

/// The module's settings (negative stock, expiry warning, slow-moving days, approval limit,
/// price deviation).
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Settings", body = Settings)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/settings")]
async fn api_settings(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::settings(&ctx.app.store.read()?)?))
}

/// Replaces the settings.
#[utoipa::path(tag = "inventory", request_body = Settings, responses(
    (status = 200, description = "Saved", body = Settings), (status = 422, description = "A field breaks a rule")),
    security(("bearer" = ["inventory:approve"])))]
#[put("/api/v1/inventory/settings")]
async fn api_settings_update(
    ctx: Need<grant::inventory::Approve>,
    body: web::Json<Settings>,
) -> Result<HttpResponse, AppError> {
    let s = body.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::save_settings(&app.store, actor, s))
            .await?,
    ))
}

/// The storage incompatibility rules in force (GB 15603-2022 defaults until changed).
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Rules", body = Vec<StorageRule>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/storage-rules")]
async fn api_rules(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::storage_rules(&ctx.app.store.read()?)?))
}

/// Replaces the storage incompatibility rules.
#[utoipa::path(tag = "inventory", request_body = Vec<StorageRule>, responses(
    (status = 200, description = "Saved"), (status = 422, description = "A rule is malformed")),
    security(("bearer" = ["inventory:approve"])))]
#[put("/api/v1/inventory/storage-rules")]
async fn api_rules_update(
    ctx: Need<grant::inventory::Approve>,
    body: web::Json<Vec<StorageRule>>,
) -> Result<HttpResponse, AppError> {
    let v = body.into_inner();
    ctx.write(move |app, actor| svc::save_storage_rules(&app.store, actor, v))
        .await?;
    Ok(HttpResponse::Ok().json(svc::storage_rules(&ctx.app.store.read()?)?))
}

// ------------------------------------------------------------------ settings page

fn settings_data(
    ctx: &Ctx,
    values: Option<serde_json::Value>,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let s = svc::settings(&r)?;
    let rules = svc::storage_rules(&r)?;
    let lines: Vec<String> = rules
        .iter()
        .map(|x| {
            let sep = match x.separation {
                super::model::Separation::Store => "store",
                super::model::Separation::Location => "location",
            };
            format!("{} {} {sep} {}", x.a, x.b, x.note)
                .trim_end()
                .to_string()
        })
        .collect();
    let values = values.unwrap_or_else(|| {
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        v["rules"] = lines.join("\n").into();
        v
    });
    Ok(context! {
        values => to_value(&values),
        groups => super::rules::GROUPS.to_vec(),
        rules => to_value(&rules),
        can_approve => ctx.who.can(M, Level::Approve),
    })
}

#[get("/inventory/settings")]
async fn settings_page(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    let c = settings_data(&ctx, None)?;
    ctx.page("inventory/settings.html", c)
}

/// Storage rules one a line: `group group store|location note`.
fn parse_rules(text: &str) -> Result<Vec<StorageRule>, Error> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut it = l.splitn(4, char::is_whitespace);
            let (a, b, sep) = (it.next(), it.next(), it.next());
            let separation = match sep {
                Some("store") => super::model::Separation::Store,
                Some("location") => super::model::Separation::Location,
                _ => return Err(Error::invalid("rules", "inventory.err.rule_line")),
            };
            Ok(StorageRule {
                a: a.unwrap_or("").into(),
                b: b.unwrap_or("").into(),
                separation,
                note: it.next().unwrap_or("").trim().into(),
            })
        })
        .collect()
}

#[post("/inventory/settings")]
async fn settings_submit(
    ctx: Need<grant::inventory::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let s = Settings {
            allow_negative: f.checked("allow_negative"),
            near_expiry_days: f.opt("near_expiry_days")?.unwrap_or(0),
            slow_moving_days: f.opt("slow_moving_days")?.unwrap_or(0),
            po_approval_limit: f.opt("po_approval_limit")?.unwrap_or(0.0),
            price_deviation_pct: f.opt("price_deviation_pct")?.unwrap_or(0.0),
        };
        let rules = parse_rules(f.get("rules"))?;
        ctx.write(move |app, actor| svc::save_setup(&app.store, actor, s, rules))
            .await
            .map(|_| "/inventory/settings".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/settings.html", || {
        settings_data(&ctx, Some(f.echo()))
    })
}
