//! The ledger to and from spreadsheets (`/equipment/sheet`, `/api/v1/equipment/sheet`): CSV or
//! Excel in the columns the import reads. An import creates new 位号 and changes existing ones
//! (only the columns the sheet has), all rows or none, with a report naming each bad row, its
//! column and the rule. Anyone who reads the ledger may export it; importing (many records
//! at once) takes the approve level, which the maintenance department and admins hold. The bindings and spare-parts cells are read by the same parsers as the
//! equipment form.

use std::collections::{BTreeMap, HashMap};

use actix_multipart::Multipart;
use actix_web::{HttpResponse, get, post, web};
use minijinja::context;

use super::model::{
    Binding, BomLine, Category, Criticality, EqStatus, Equipment, ParamDef, ParamValue, Role,
};
use super::rules::{MachineGroup, Mounting};
use super::service::{self as svc, SheetRow};
use crate::auth::model::Level;
use crate::error::{Error, Result, RowError};
use crate::i18n::{self, Lang, Msg};
use crate::modules::inventory::service as inventory;
use crate::tags::io::Imported;
use crate::web::context::{Ctx, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::export::{self, Format, SheetQuery, SheetUpload, Table};
use crate::web::grant::{self, Need};

const M: &str = "equipment";
const MAX_BYTES: usize = 16 << 20;
const MAX_ROWS: usize = 20_000;

pub const COLUMNS: &[&str] = &[
    "tag_no",
    "name",
    "category",
    "parent",
    "department",
    "location",
    "manufacturer",
    "model",
    "serial",
    "commissioned",
    "criticality",
    "status",
    "group",
    "mounting",
    "params",
    "bindings",
    "bom",
];

// ------------------------------------------------------------------ cells as text

/// A choice as a sheet may write it: its id, or its label in either language under `prefix`.
fn choice<T: Copy>(all: &[T], id: impl Fn(T) -> &'static str, prefix: &str, s: &str) -> Option<T> {
    let s = s.trim();
    all.iter().copied().find(|x| {
        let key = format!("{prefix}.{}", id(*x));
        id(*x).eq_ignore_ascii_case(s)
            || Lang::ALL
                .iter()
                .any(|l| i18n::t(*l, &key).eq_ignore_ascii_case(s))
    })
}

fn group_id(g: MachineGroup) -> &'static str {
    match g {
        MachineGroup::Group1 => "group1",
        MachineGroup::Group2 => "group2",
    }
}

fn mounting_id(m: Mounting) -> &'static str {
    match m {
        Mounting::Rigid => "rigid",
        Mounting::Flexible => "flexible",
    }
}

/// A measuring-point role as typed: its id or its name in either language.
pub(super) fn role_of(s: &str) -> Option<Role> {
    choice(&Role::ALL, Role::id, "equipment.role", s)
}

/// Items of a list cell or box: one a line, or `;`-separated in a sheet cell.
fn items(s: &str) -> impl Iterator<Item = (usize, &str)> {
    s.split(['\n', ';', '；'])
        .map(str::trim)
        .enumerate()
        .filter(|(_, x)| !x.is_empty())
        .map(|(i, x)| (i + 1, x))
}

/// Bound tags, an item each: `tag role [point]`.
pub(super) fn parse_bindings(s: &str) -> Result<Vec<Binding>> {
    items(s)
        .map(|(n, item)| {
            let mut parts = item.split_whitespace();
            let tag = parts.next().unwrap_or_default();
            let role = parts.next().and_then(role_of).ok_or_else(|| {
                Error::invalid_msg(
                    "bindings",
                    Msg::new("equipment.err.binding_line").arg("line", n),
                )
            })?;
            Ok(Binding {
                tag: tag.to_string(),
                role,
                point: parts.collect::<Vec<_>>().join(" "),
            })
        })
        .collect()
}

pub(super) fn bindings_text(list: &[Binding], sep: &str) -> String {
    list.iter()
        .map(|b| {
            format!("{} {} {}", b.tag, b.role.id(), b.point)
                .trim()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(sep)
}

/// Spare parts, an item each: `material-code qty [note]`; the material must exist.
pub(super) fn parse_bom(r: &impl crate::store::Reader, s: &str) -> Result<Vec<BomLine>> {
    items(s)
        .map(|(n, item)| {
            let bad =
                || Error::invalid_msg("bom", Msg::new("equipment.err.bom_line").arg("line", n));
            let mut parts = item.split_whitespace();
            let code = parts.next().unwrap_or_default();
            let m = inventory::material_by_code(r, code)?.ok_or_else(|| {
                Error::invalid_msg(
                    "bom",
                    Msg::new("equipment.err.bom_code")
                        .arg("line", n)
                        .arg("code", code),
                )
            })?;
            let qty: f64 = parts
                .next()
                .and_then(|q| q.parse().ok())
                .filter(|q: &f64| q.is_finite() && *q > 0.0)
                .ok_or_else(bad)?;
            Ok(BomLine {
                material: m.id,
                qty,
                note: parts.collect::<Vec<_>>().join(" "),
            })
        })
        .collect()
}

pub(super) fn bom_text(
    r: &impl crate::store::Reader,
    list: &[BomLine],
    sep: &str,
) -> Result<String> {
    let mut out = Vec::with_capacity(list.len());
    for l in list {
        let m = inventory::material(r, l.material)?;
        out.push(
            format!("{} {} {}", m.code, l.qty, l.note)
                .trim()
                .to_string(),
        );
    }
    Ok(out.join(sep))
}

/// A parameter's value as forms and sheets write it.
pub(super) fn param_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Parameters, an item each: `key=value` (or the parameter's name for its key), typed by
/// the category's definitions, set over `out`; `key=` with no value takes one out.
fn parse_params(
    defs: &[ParamDef],
    s: &str,
    mut out: BTreeMap<String, ParamValue>,
) -> Result<BTreeMap<String, ParamValue>> {
    for (n, item) in items(s) {
        let (k, v) = item.split_once(['=', '＝']).ok_or_else(|| {
            Error::invalid_msg(
                "params",
                Msg::new("equipment.err.param_item").arg("line", n),
            )
        })?;
        let k = k.trim();
        let d = defs
            .iter()
            .find(|d| d.key == k || d.name == k)
            .ok_or_else(|| {
                Error::invalid_msg(
                    "params",
                    Msg::new("equipment.err.param_unknown").arg("key", k),
                )
            })?;
        match svc::parse_param(d, v)? {
            Some(v) => out.insert(d.key.clone(), v),
            None => out.remove(&d.key),
        };
    }
    Ok(out)
}

fn params_text(p: &BTreeMap<String, ParamValue>) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={}", param_text(v)))
        .collect::<Vec<_>>()
        .join("; ")
}

// ------------------------------------------------------------------ the table

fn header(lang: Lang, col: &str) -> String {
    format!("{} ({col})", i18n::t(lang, &format!("equipment.col.{col}")))
}

/// What a sheet names other records by.
struct Names {
    categories: HashMap<u64, Category>,
    departments: HashMap<u64, String>,
    tag_nos: HashMap<u64, String>,
}

impl Names {
    fn load(r: &impl crate::store::Reader) -> Result<Names> {
        Ok(Names {
            categories: svc::categories(r)?.into_iter().map(|c| (c.id, c)).collect(),
            departments: crate::org::service::departments(r)?
                .into_iter()
                .map(|d| (d.id, d.name))
                .collect(),
            tag_nos: svc::all_equipment(r)?
                .into_iter()
                .map(|e| (e.id, e.tag_no))
                .collect(),
        })
    }
}

pub fn ledger_table(r: &impl crate::store::Reader, lang: Lang) -> Result<Table> {
    let names = Names::load(r)?;
    let mut list = svc::all_equipment(r)?;
    list.sort_by(|a, b| a.tag_no.cmp(&b.tag_no));
    let mut rows = Vec::with_capacity(list.len());
    for e in &list {
        let label = |prefix: &str, id: &str| i18n::t(lang, &format!("{prefix}.{id}")).to_string();
        rows.push(vec![
            e.tag_no.clone(),
            e.name.clone(),
            names
                .categories
                .get(&e.category)
                .map(|c| c.code.clone())
                .unwrap_or_default(),
            e.parent
                .and_then(|p| names.tag_nos.get(&p).cloned())
                .unwrap_or_default(),
            e.department
                .and_then(|d| names.departments.get(&d).cloned())
                .unwrap_or_default(),
            e.location.clone(),
            e.manufacturer.clone(),
            e.model.clone(),
            e.serial.clone(),
            e.commissioned.clone().unwrap_or_default(),
            e.criticality.id().to_string(),
            label("equipment.status", e.status.id()),
            e.vibration
                .group
                .map(|g| label("equipment.group", group_id(g)))
                .unwrap_or_default(),
            e.vibration
                .mounting
                .map(|m| label("equipment.mounting", mounting_id(m)))
                .unwrap_or_default(),
            params_text(&e.params),
            bindings_text(&e.bindings, "; "),
            bom_text(r, &e.bom, "; ")?,
        ]);
    }
    Ok(Table {
        head: COLUMNS.iter().map(|c| header(lang, c)).collect(),
        rows,
        // 位号, serials and models are text even when they look like numbers
        numeric_from: usize::MAX,
    })
}

// ------------------------------------------------------------------ rows → records

type Cells = HashMap<&'static str, String>;

/// What rows name, read once for the whole sheet.
struct Lookup {
    categories: Vec<Category>,
    departments: Vec<crate::org::model::Department>,
    defs: HashMap<u64, Vec<ParamDef>>,
}

/// A row on top of the record it changes (or a new one): the sheet's columns replace the
/// record's fields, the columns it does not have keep them.
fn equipment_of(
    r: &impl crate::store::Reader,
    look: &mut Lookup,
    c: &Cells,
    base: Option<&Equipment>,
) -> Result<(Equipment, Option<String>)> {
    let has = |k: &str| c.contains_key(k);
    let cell = |k: &str| c.get(k).map_or("", |s| s.trim());
    let mut e = base.cloned().unwrap_or_else(|| Equipment::new("", "", 0));
    // a 位号 matched regardless of case keeps the ledger's spelling
    if base.is_none() {
        e.tag_no = cell("tag_no").to_string();
    }
    if has("name") {
        e.name = cell("name").into();
    }
    if e.name.is_empty() {
        return Err(Error::invalid("name", "equipment.err.name_required"));
    }
    if has("category") {
        let v = cell("category");
        e.category = look
            .categories
            .iter()
            .find(|x| x.code.eq_ignore_ascii_case(v) || x.name == v)
            .ok_or_else(|| {
                Error::invalid_msg(
                    "category",
                    Msg::new("equipment.err.category_unknown").arg("category", v),
                )
            })?
            .id;
    } else if base.is_none() {
        return Err(Error::invalid(
            "category",
            "equipment.err.category_not_found",
        ));
    }
    if has("department") {
        let v = cell("department");
        e.department = match v {
            "" => None,
            v => Some(
                look.departments
                    .iter()
                    .find(|d| d.name == v || d.id.to_string() == v)
                    .ok_or_else(|| {
                        Error::invalid_msg(
                            "department",
                            Msg::new("equipment.err.department_unknown").arg("name", v),
                        )
                    })?
                    .id,
            ),
        };
    }
    for (col, field) in [
        ("location", &mut e.location),
        ("manufacturer", &mut e.manufacturer),
        ("model", &mut e.model),
        ("serial", &mut e.serial),
    ] {
        if has(col) {
            *field = cell(col).into();
        }
    }
    if has("commissioned") {
        e.commissioned = Some(cell("commissioned").to_string()).filter(|s| !s.is_empty());
    }
    if has("criticality") && !cell("criticality").is_empty() {
        e.criticality = Criticality::parse(&cell("criticality").to_uppercase())
            .or_else(|| {
                choice(
                    &Criticality::ALL,
                    Criticality::id,
                    "equipment.criticality",
                    cell("criticality"),
                )
            })
            .ok_or_else(|| Error::invalid("criticality", "equipment.err.criticality"))?;
    }
    if has("status") && !cell("status").is_empty() {
        e.status = choice(
            &EqStatus::ALL,
            EqStatus::id,
            "equipment.status",
            cell("status"),
        )
        .ok_or_else(|| {
            Error::invalid_msg(
                "status",
                Msg::new("equipment.err.status_value").arg("value", cell("status")),
            )
        })?;
    }
    if has("group") {
        e.vibration.group = match cell("group") {
            "" => None,
            v => Some(
                choice(
                    &[MachineGroup::Group1, MachineGroup::Group2],
                    group_id,
                    "equipment.group",
                    v,
                )
                .ok_or_else(|| Error::invalid("group", "equipment.err.group"))?,
            ),
        };
    }
    if has("mounting") {
        e.vibration.mounting = match cell("mounting") {
            "" => None,
            v => Some(
                choice(
                    &[Mounting::Rigid, Mounting::Flexible],
                    mounting_id,
                    "equipment.mounting",
                    v,
                )
                .ok_or_else(|| Error::invalid("mounting", "equipment.err.mounting"))?,
            ),
        };
    }
    if has("params") {
        if let std::collections::hash_map::Entry::Vacant(v) = look.defs.entry(e.category) {
            v.insert(svc::param_defs(r, e.category)?);
        }
        // the parameters named are set, the others kept (all of them when the category
        // changed: the old ones may not belong to the new one)
        let kept = match base {
            Some(b) if b.category == e.category => b.params.clone(),
            _ => BTreeMap::new(),
        };
        e.params = parse_params(&look.defs[&e.category], cell("params"), kept)?;
    }
    if has("bindings") {
        e.bindings = parse_bindings(cell("bindings"))?;
    }
    if has("bom") {
        e.bom = parse_bom(r, cell("bom"))?;
    }
    let parent = if has("parent") {
        Some(cell("parent").to_string()).filter(|s| !s.is_empty())
    } else {
        e.parent
            .map(|p| svc::equipment(r, p))
            .transpose()?
            .map(|p| p.tag_no)
    };
    Ok((e, parent))
}

fn import(app: &crate::app::App, actor: &crate::store::Actor, bytes: &[u8]) -> Result<Imported> {
    let rows = export::read_table(bytes, COLUMNS, "equipment.col", "tag_no", MAX_ROWS)?;
    if rows.is_empty() {
        return Err(Error::invalid("file", "web.err.file_empty"));
    }
    let r = app.store.read()?;
    let mut look = Lookup {
        categories: svc::categories(&r)?,
        departments: crate::org::service::departments(&r)?,
        defs: HashMap::new(),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut errors: Vec<RowError> = Vec::new();
    let mut list = Vec::with_capacity(rows.len());
    for (row, cells) in rows {
        let tag_no = cells.get("tag_no").map_or("", |s| s.trim()).to_string();
        let r = svc::by_tag_no(&r, &tag_no).and_then(|base| {
            if let Some(first) = seen.insert(tag_no.to_uppercase(), row) {
                return Err(Error::invalid_msg(
                    "tag_no",
                    Msg::new("tags.err.import_twice").arg("row", first),
                ));
            }
            equipment_of(&r, &mut look, &cells, base.as_ref())
        });
        match r {
            Ok((equipment, parent)) => list.push(SheetRow {
                row,
                equipment,
                parent,
            }),
            Err(e) => errors.push(e.in_row(row)?),
        }
        if errors.len() >= 100 {
            break;
        }
    }
    drop(r);
    // the rows that could be read are checked against the ledger's rules too, so one
    // report names every bad row
    let done = svc::import_equipment(&app.store, actor, list, errors, &super::AppSite(app))?;
    super::condition::state(app).reload();
    Ok(done)
}

// ------------------------------------------------------------------ routes

async fn export_sheet(ctx: &Ctx, q: &SheetQuery) -> std::result::Result<HttpResponse, AppError> {
    let format = Format::parse(q.format.as_deref());
    let (app, lang) = (ctx.app.clone(), ctx.lang);
    let bytes = blocking(move || ledger_table(&app.store.read()?, lang)?.bytes(format)).await?;
    Ok(export::attachment("equipment", format, bytes))
}

fn page_data(ctx: &Ctx) -> minijinja::Value {
    context! {
        can_import => ctx.who.can(M, Level::Approve),
        columns => COLUMNS.to_vec(),
    }
}

#[get("/equipment/sheet")]
async fn page(ctx: Need<grant::equipment::Read>) -> std::result::Result<HttpResponse, AppError> {
    ctx.page("equipment/sheet.html", page_data(&ctx))
}

#[get("/equipment/sheet/ledger")]
async fn export_page(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<SheetQuery>,
) -> std::result::Result<HttpResponse, AppError> {
    export_sheet(&ctx, &q).await
}

async fn run_import(ctx: &Ctx, mp: Multipart) -> std::result::Result<Imported, AppError> {
    let (_, bytes) = crate::web::form::read_upload(mp, MAX_BYTES).await?;
    ctx.write(move |app, actor| import(app, actor, &bytes))
        .await
}

#[post("/equipment/sheet/ledger")]
async fn import_submit(
    ctx: Need<grant::equipment::Approve>,
    mp: Multipart,
) -> std::result::Result<HttpResponse, AppError> {
    match run_import(&ctx, mp).await {
        Ok(done) => ctx.page(
            "equipment/sheet.html",
            context! { done => to_value(&done), ..page_data(&ctx) },
        ),
        Err(e) => match export::refused_rows(&e, ctx.lang) {
            Some(rows) => {
                let c = context! { rows => to_value(&rows), ..page_data(&ctx) };
                ctx.form_error("equipment/sheet.html", c, e)
            }
            None => Err(e),
        },
    }
}

/// The ledger as a spreadsheet, in the columns the import reads.
#[utoipa::path(tag = "equipment", params(SheetQuery),
    responses((status = 200, description = "CSV or Excel file")), security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/sheet")]
async fn api_export(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<SheetQuery>,
) -> std::result::Result<HttpResponse, AppError> {
    export_sheet(&ctx, &q).await
}

/// Imports the ledger (multipart field `file`): new 位号 are created, existing ones changed
/// in the columns the sheet has. Bulk changes are the maintenance department's: approve
/// level. All rows or none: on errors `error.rows` lists each bad row (sheet row number),
/// its column and the rule.
#[utoipa::path(tag = "equipment",
    request_body(content = inline(SheetUpload), content_type = "multipart/form-data"), responses(
    (status = 200, description = "Imported", body = Imported),
    (status = 422, description = "Rows break rules; nothing was imported")), security(("bearer" = ["equipment:approve"])))]
#[post("/api/v1/equipment/sheet")]
async fn api_import(
    ctx: Need<grant::equipment::Approve>,
    mp: Multipart,
) -> std::result::Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(run_import(&ctx, mp).await?))
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
