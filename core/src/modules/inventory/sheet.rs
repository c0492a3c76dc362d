//! Materials and partners to and from spreadsheets (`/inventory/sheet`,
//! `/api/v1/inventory/sheets/{materials|partners}`): CSV or Excel in the columns the import
//! reads; imports create new codes and replace existing ones, all rows or none, with a report
//! naming each bad row, its column and the rule.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::{HttpResponse, get, post, web};
use minijinja::context;

use super::model::{
    Category, Contact, CreditPolicy, Licence, LicenceKind, Material, Partner, PartnerPrice,
    PartnerRole, UnitConv,
};
use super::service::{self as svc, Imported};
use crate::auth::model::Level;
use crate::error::{Error, Result, RowError};
use crate::i18n::{self, Lang, Msg};
use crate::web::context::{Ctx, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::export::{self, Format, SheetQuery, SheetUpload, Table};
use crate::web::grant::{self, Need};

const M: &str = "inventory";
const MAX_BYTES: usize = 16 << 20;
const MAX_ROWS: usize = 50_000;

pub const MATERIAL_COLUMNS: &[&str] = &[
    "code",
    "name",
    "spec",
    "category",
    "base_unit",
    "units",
    "cas",
    "ghs",
    "hazmat",
    "highly_toxic",
    "precursor_class",
    "explosive_precursor",
    "storage_group",
    "shelf_life_days",
    "safety_stock",
    "reorder_point",
    "max_stock",
    "unit_cost",
    "list_price",
    "floor_price",
    "active",
    "inspect",
];

pub const PARTNER_COLUMNS: &[&str] = &[
    "code",
    "name",
    "role",
    "credit_code",
    "address",
    "credit_limit",
    "credit_policy",
    "payment_days",
    "licences",
    "contacts",
    "prices",
];

fn header(lang: Lang, col: &str) -> String {
    format!("{} ({col})", i18n::t(lang, &format!("inventory.io.{col}")))
}

fn yes(b: bool) -> String {
    if b { "是".into() } else { "否".into() }
}

fn num(x: f64) -> String {
    if x == 0.0 {
        String::new()
    } else {
        x.to_string()
    }
}

pub fn materials_table(lang: Lang, list: &[Material]) -> Table {
    Table {
        head: MATERIAL_COLUMNS.iter().map(|c| header(lang, c)).collect(),
        rows: list
            .iter()
            .map(|m| {
                vec![
                    m.code.clone(),
                    m.name.clone(),
                    m.spec.clone(),
                    m.category.id().to_string(),
                    m.base_unit.clone(),
                    units_text(&m.units),
                    m.cas.clone(),
                    m.ghs.join(", "),
                    yes(m.hazmat),
                    yes(m.highly_toxic),
                    m.precursor_class.to_string(),
                    yes(m.explosive_precursor),
                    m.storage_group.clone(),
                    m.shelf_life_days.to_string(),
                    num(m.safety_stock),
                    num(m.reorder_point),
                    num(m.max_stock),
                    num(m.unit_cost),
                    num(m.list_price),
                    num(m.floor_price),
                    yes(m.active),
                    yes(m.inspect),
                ]
            })
            .collect(),
        numeric_from: 12,
    }
}

pub fn partners_table(lang: Lang, list: &[Partner], code_of: &HashMap<u64, String>) -> Table {
    Table {
        head: PARTNER_COLUMNS.iter().map(|c| header(lang, c)).collect(),
        rows: list
            .iter()
            .map(|p| {
                vec![
                    p.code.clone(),
                    p.name.clone(),
                    serde_json::to_value(p.role)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    p.credit_code.clone(),
                    p.address.clone(),
                    num(p.credit_limit),
                    match p.credit_policy {
                        CreditPolicy::Approve => "approve".into(),
                        CreditPolicy::Block => "block".into(),
                    },
                    p.payment_days.to_string(),
                    licences_text(&p.licences, "; "),
                    contacts_text(&p.contacts, "; "),
                    prices_text(&p.prices, code_of),
                ]
            })
            .collect(),
        // numbers are written as text: codes like 0579… keep their zeros
        numeric_from: usize::MAX,
    }
}

// ------------------------------------------------------------------ text fields

/// Units as the form and the sheet write them (`桶=170; t=1000`).
pub(super) fn units_text(units: &[UnitConv]) -> String {
    units
        .iter()
        .map(|u| format!("{}={}", u.unit, u.factor))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Licences, one `kind number expires` per item, joined by `sep`.
pub(super) fn licences_text(list: &[Licence], sep: &str) -> String {
    list.iter()
        .map(|l| format!("{} {} {}", l.kind.id(), l.number, l.expires))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Contacts, one `name phone` per item, joined by `sep`.
pub(super) fn contacts_text(list: &[Contact], sep: &str) -> String {
    list.iter()
        .map(|c| format!("{} {}", c.name, c.phone).trim().to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

/// `桶=170; t=1000` → units (forms and sheets).
pub(super) fn parse_units(s: &str) -> Result<Vec<UnitConv>> {
    s.split([';', '；', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            let (u, f) = x
                .split_once('=')
                .ok_or_else(|| Error::invalid("units", "inventory.err.factor"))?;
            Ok(UnitConv {
                unit: u.trim().into(),
                factor: f
                    .trim()
                    .parse()
                    .map_err(|_| Error::invalid("units", "inventory.err.factor"))?,
            })
        })
        .collect()
}

/// Licences one a line (or `;`-separated): `kind number last-day`.
pub(super) fn parse_licences(s: &str) -> Result<Vec<Licence>> {
    s.split([';', '；', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            match parts.as_slice() {
                [kind, number @ .., expires] if !number.is_empty() => Ok(Licence {
                    kind: LicenceKind::parse(kind)
                        .ok_or_else(|| Error::invalid("licences", "inventory.err.licence_kind"))?,
                    number: number.join(" "),
                    expires: expires.to_string(),
                }),
                _ => Err(Error::invalid("licences", "inventory.err.licence_line")),
            }
        })
        .collect()
}

/// A price list one line a material (or `;`-separated): `code price [floor]`, the material
/// by its code. A refusal names the line.
pub(super) fn parse_prices(s: &str, codes: &HashMap<String, u64>) -> Result<Vec<PartnerPrice>> {
    s.split([';', '；', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let bad = || {
                Error::invalid_msg(
                    "prices",
                    Msg::new("inventory.err.price_line").arg("line", l),
                )
            };
            let mut parts = l.split_whitespace();
            let material = parts
                .next()
                .and_then(|c| codes.get(c))
                .copied()
                .ok_or_else(bad)?;
            let mut number = || -> Result<Option<f64>> {
                parts
                    .next()
                    .map(|x| x.parse::<f64>().map_err(|_| bad()))
                    .transpose()
            };
            let price = number()?.ok_or_else(bad)?;
            let floor = number()?.unwrap_or(0.0);
            if parts.next().is_some() {
                return Err(bad());
            }
            Ok(PartnerPrice {
                material,
                price,
                floor,
            })
        })
        .collect()
}

/// Material codes by id, for price lists as text.
pub(super) fn material_codes(r: &impl crate::store::Reader) -> Result<HashMap<u64, String>> {
    Ok(svc::materials(r)?
        .into_iter()
        .map(|m| (m.id, m.code))
        .collect())
}

/// A price list as [`parse_prices`] reads it.
pub(super) fn prices_text(list: &[PartnerPrice], code_of: &HashMap<u64, String>) -> String {
    list.iter()
        .map(|p| {
            let code = code_of.get(&p.material).map_or("?", String::as_str);
            if p.floor > 0.0 {
                format!("{code} {} {}", p.price, p.floor)
            } else {
                format!("{code} {}", p.price)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Contacts one a line (or `;`-separated): `name phone`.
pub(super) fn parse_contacts(s: &str) -> Vec<Contact> {
    s.split([';', '；', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, phone) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            Contact {
                name: name.into(),
                phone: phone.trim().into(),
            }
        })
        .collect()
}

// ------------------------------------------------------------------ rows → records

type Row = HashMap<&'static str, String>;

fn cell<'a>(r: &'a Row, k: &str) -> &'a str {
    r.get(k).map_or("", |s| s.trim())
}

fn flag(r: &Row, k: &'static str) -> Result<bool> {
    match cell(r, k).to_lowercase().as_str() {
        "" | "no" | "n" | "false" | "0" | "否" => Ok(false),
        "yes" | "y" | "true" | "1" | "是" | "√" => Ok(true),
        _ => Err(Error::invalid(k, "tags.err.import_yes_no")),
    }
}

fn number<T: std::str::FromStr + Default>(r: &Row, k: &'static str) -> Result<T> {
    match cell(r, k) {
        "" => Ok(T::default()),
        v => v
            .parse()
            .map_err(|_| Error::invalid(k, "common.err.number")),
    }
}

/// 物料类别 by id (`raw`) or Chinese name (原料); empty: the material's own (a sheet from
/// before categories existed changes nothing), `other` for a new one.
fn category(r: &Row, base: Option<&Material>) -> Result<Category> {
    match cell(r, "category") {
        "" => Ok(base.map_or(Category::Other, |b| b.category)),
        c => Category::parse(c).ok_or_else(|| Error::invalid("category", "inventory.err.category")),
    }
}

fn material_of(r: &Row, base: Option<&Material>) -> Result<Material> {
    let units = parse_units(cell(r, "units"))?;
    Ok(Material {
        id: base.map_or(0, |b| b.id),
        code: cell(r, "code").into(),
        name: cell(r, "name").into(),
        spec: cell(r, "spec").into(),
        category: category(r, base)?,
        base_unit: cell(r, "base_unit").into(),
        units,
        cas: cell(r, "cas").into(),
        ghs: cell(r, "ghs")
            .split([',', '，', ';'])
            .map(str::to_string)
            .collect(),
        hazmat: flag(r, "hazmat")?,
        highly_toxic: flag(r, "highly_toxic")?,
        precursor_class: number(r, "precursor_class")?,
        explosive_precursor: flag(r, "explosive_precursor")?,
        storage_group: cell(r, "storage_group").into(),
        shelf_life_days: number(r, "shelf_life_days")?,
        safety_stock: number(r, "safety_stock")?,
        reorder_point: number(r, "reorder_point")?,
        max_stock: number(r, "max_stock")?,
        unit_cost: number(r, "unit_cost")?,
        list_price: number(r, "list_price")?,
        floor_price: number(r, "floor_price")?,
        inspect: flag(r, "inspect")?,
        active: if r.contains_key("active") && !cell(r, "active").is_empty() {
            flag(r, "active")?
        } else {
            true
        },
    })
}

fn partner_of(r: &Row, base: Option<&Partner>, codes: &HashMap<String, u64>) -> Result<Partner> {
    let licences = parse_licences(cell(r, "licences"))?;
    let contacts = parse_contacts(cell(r, "contacts"));
    let prices = parse_prices(cell(r, "prices"), codes)?;
    Ok(Partner {
        id: base.map_or(0, |b| b.id),
        code: cell(r, "code").into(),
        name: cell(r, "name").into(),
        role: match cell(r, "role") {
            "supplier" | "供应商" => PartnerRole::Supplier,
            "customer" | "客户" => PartnerRole::Customer,
            "both" | "供应商兼客户" => PartnerRole::Both,
            _ => return Err(Error::invalid("role", "inventory.err.role")),
        },
        credit_code: cell(r, "credit_code").into(),
        address: cell(r, "address").into(),
        licences,
        credit_limit: number(r, "credit_limit")?,
        credit_policy: match cell(r, "credit_policy") {
            "" | "approve" => CreditPolicy::Approve,
            "block" => CreditPolicy::Block,
            _ => {
                return Err(Error::invalid(
                    "credit_policy",
                    "inventory.err.credit_policy",
                ));
            }
        },
        payment_days: number(r, "payment_days")?,
        contacts,
        prices,
    })
}

/// Turns rows into records, checking each as the form would; the errors name their rows.
fn records<T>(
    rows: Vec<(usize, Row)>,
    of: impl Fn(&Row) -> Result<T>,
    check: impl Fn(T) -> Result<T>,
    code: impl Fn(&T) -> String,
) -> Result<Vec<(usize, T)>> {
    if rows.is_empty() {
        return Err(Error::invalid("file", "web.err.file_empty"));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut errors: Vec<RowError> = Vec::new();
    let mut out = Vec::new();
    for (row, cells) in rows {
        let r = of(&cells)
            .and_then(&check)
            .and_then(|x| match seen.insert(code(&x), row) {
                Some(first) => Err(Error::invalid_msg(
                    "code",
                    Msg::new("tags.err.import_twice").arg("row", first),
                )),
                None => Ok(x),
            });
        match r {
            Ok(x) => out.push((row, x)),
            Err(e) => errors.push(e.in_row(row)?),
        }
        if errors.len() >= 100 {
            break;
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::Rows(errors))
    }
}

fn import(
    app: &crate::app::App,
    actor: &crate::store::Actor,
    which: &str,
    bytes: &[u8],
) -> Result<Imported> {
    let r = app.store.read()?;
    match which {
        "materials" => {
            let rows =
                export::read_table(bytes, MATERIAL_COLUMNS, "inventory.io", "code", MAX_ROWS)?;
            let existing: HashMap<String, Material> = svc::materials(&r)?
                .into_iter()
                .map(|m| (m.code.clone(), m))
                .collect();
            drop(r);
            let list = records(
                rows,
                |c| material_of(c, existing.get(cell(c, "code"))),
                svc::check_material,
                |m: &Material| m.code.clone(),
            )?;
            svc::import_materials(&app.store, actor, list)
        }
        _ => {
            let rows =
                export::read_table(bytes, PARTNER_COLUMNS, "inventory.io", "code", MAX_ROWS)?;
            let existing: HashMap<String, Partner> = svc::partners(&r)?
                .into_iter()
                .map(|p| (p.code.clone(), p))
                .collect();
            let codes: HashMap<String, u64> = svc::materials(&r)?
                .into_iter()
                .map(|m| (m.code, m.id))
                .collect();
            drop(r);
            let list = records(
                rows,
                |c| partner_of(c, existing.get(cell(c, "code")), &codes),
                svc::check_partner,
                |p: &Partner| p.code.clone(),
            )?;
            svc::import_partners(
                &app.store,
                actor,
                list.into_iter().map(|(_, p)| p).collect(),
            )
        }
    }
}

// ------------------------------------------------------------------ routes

fn which(s: &str) -> std::result::Result<&'static str, AppError> {
    match s {
        "materials" => Ok("materials"),
        "partners" => Ok("partners"),
        _ => Err(AppError::not_found()),
    }
}

async fn export_sheet(
    ctx: &Ctx,
    w: &'static str,
    q: &SheetQuery,
) -> std::result::Result<HttpResponse, AppError> {
    let format = Format::parse(q.format.as_deref());
    let (app, lang) = (ctx.app.clone(), ctx.lang);
    let bytes = blocking(move || {
        let r = app.store.read()?;
        let t = if w == "materials" {
            materials_table(lang, &svc::materials(&r)?)
        } else {
            partners_table(lang, &svc::partners(&r)?, &material_codes(&r)?)
        };
        t.bytes(format)
    })
    .await?;
    Ok(export::attachment(w, format, bytes))
}

fn page_data(ctx: &Ctx) -> minijinja::Value {
    context! {
        can_write => ctx.who.can(M, Level::Write),
        material_columns => MATERIAL_COLUMNS.to_vec(),
        partner_columns => PARTNER_COLUMNS.to_vec(),
    }
}

#[get("/inventory/sheet")]
async fn page(ctx: Need<grant::inventory::Read>) -> std::result::Result<HttpResponse, AppError> {
    ctx.page("inventory/sheet.html", page_data(&ctx))
}

#[get("/inventory/sheet/{which}")]
async fn export_page(
    ctx: Need<grant::inventory::Read>,
    w: web::Path<String>,
    q: web::Query<SheetQuery>,
) -> std::result::Result<HttpResponse, AppError> {
    export_sheet(&ctx, which(&w)?, &q).await
}

async fn run_import(
    ctx: &Ctx,
    w: &'static str,
    mp: Multipart,
) -> std::result::Result<Imported, AppError> {
    let (_, bytes) = crate::web::form::read_upload(mp, MAX_BYTES).await?;
    ctx.write(move |app, actor| import(app, actor, w, &bytes))
        .await
}

#[post("/inventory/sheet/{which}")]
async fn import_submit(
    ctx: Need<grant::inventory::Write>,
    w: web::Path<String>,
    mp: Multipart,
) -> std::result::Result<HttpResponse, AppError> {
    let w = which(&w)?;
    match run_import(&ctx, w, mp).await {
        Ok(done) => ctx.page(
            "inventory/sheet.html",
            context! { done => to_value(&done), which => w, ..page_data(&ctx) },
        ),
        Err(e) => match export::refused_rows(&e, ctx.lang) {
            Some(rows) => {
                let c = context! { rows => to_value(&rows), which => w, ..page_data(&ctx) };
                ctx.form_error("inventory/sheet.html", c, e)
            }
            None => Err(e),
        },
    }
}

/// Materials or partners as a spreadsheet, in the columns the import reads.
#[utoipa::path(tag = "inventory", params(("which" = String, Path, description = "materials or partners"), SheetQuery),
    responses((status = 200, description = "CSV or Excel file")), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/sheets/{which}")]
async fn api_export(
    ctx: Need<grant::inventory::Read>,
    w: web::Path<String>,
    q: web::Query<SheetQuery>,
) -> std::result::Result<HttpResponse, AppError> {
    export_sheet(&ctx, which(&w)?, &q).await
}

/// Imports materials or partners (multipart field `file`): new codes are created, existing
/// ones replaced. All rows or none: on errors `error.rows` lists each bad row (sheet row
/// number), its column and the rule.
#[utoipa::path(tag = "inventory", params(("which" = String, Path, description = "materials or partners")),
    request_body(content = inline(SheetUpload), content_type = "multipart/form-data"), responses(
    (status = 200, description = "Imported", body = Imported),
    (status = 422, description = "Rows break rules; nothing was imported")), security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/sheets/{which}")]
async fn api_import(
    ctx: Need<grant::inventory::Write>,
    w: web::Path<String>,
    mp: Multipart,
) -> std::result::Result<HttpResponse, AppError> {
    let w = which(&w)?;
    Ok(HttpResponse::Ok().json(run_import(&ctx, w, mp).await?))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page)
        .service(export_page)
        .service(import_submit)
        .service(api_export)
        .service(api_import);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_export, api_import))]
pub struct Doc;
