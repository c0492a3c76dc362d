//! The console's pages of 设备管理: the ledger and a machine's page (what its QR label
//! opens on a phone: condition, spare parts, work orders, the fault report), the label
//! sheet, work orders with their actions, preventive plans, categories and the status board.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::model::{
    Category, Criticality, EqStatus, Equipment, ParamDef, ParamKind, Plan, Role, Trigger,
    VibrationClass, WoKind, WoPriority, WoState,
};
use super::rules::{self, MachineGroup, Mounting, ZoneBounds};
use super::service::{self as svc, ActionInput, EqFilter, NewOrder, PartInput, WoFilter};
use crate::auth::model::Level;
use crate::error::Error;
use crate::i18n::Msg;
use crate::modules::inventory::service as inventory;
use crate::web::context::{Ctx, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const M: &str = "equipment";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(board_page)
        .service(ledger_page)
        .service(new_page)
        .service(create_submit)
        .service(labels_page)
        .service(orders_page)
        .service(order_page)
        .service(order_action)
        .service(order_photos)
        .service(order_photo)
        .service(plans_page)
        .service(plan_submit)
        .service(categories_page)
        .service(category_submit)
        .service(equipment_page)
        .service(edit_page)
        .service(update_submit)
        .service(delete_submit)
        .service(report_page)
        .service(report_submit)
        .service(document_submit)
        .service(document_download);
}

/// The box's address as the browser reached it, for QR codes on printed labels.
fn here(req: &HttpRequest, path: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}{path}", info.scheme(), info.host())
}

// ------------------------------------------------------------------ the ledger

/// Equipment as a list row shows it.
#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    e: &'a Equipment,
    category_name: String,
    zone: Option<rules::Zone>,
    open_orders: usize,
}

fn rows(r: &impl crate::store::Reader, list: &[Equipment]) -> Result<Vec<Value>, AppError> {
    let cats: BTreeMap<u64, String> = svc::categories(r)?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    list.iter()
        .map(|e| {
            let zone = svc::zones_of(r, e.id)?.iter().map(|z| z.zone).max();
            let open_orders = svc::orders_of(r, e.id)?
                .iter()
                .filter(|o| o.state.is_open())
                .count();
            Ok(json!(Row {
                e,
                category_name: cats.get(&e.category).cloned().unwrap_or_default(),
                zone,
                open_orders,
            }))
        })
        .collect()
}

#[get("/equipment")]
async fn ledger_page(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<EqFilter>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let page = svc::list(&r, &q)?;
    ctx.page(
        "equipment/ledger.html",
        context! {
            rows => to_value(&rows(&r, &page.items)?),
            page => page.page,
            more => page.more,
            f => to_value(&json!({
                "q": q.q, "category": q.category, "criticality": q.criticality,
                "status": q.status, "department": q.department,
            })),
            categories => to_value(&tree(&svc::categories(&r)?)),
            departments => to_value(&crate::org::service::departments(&r)?),
            statuses => EqStatus::ALL.map(|s| s.id()),
            can_write => ctx.who.can(M, Level::Write),
        },
    )
}

/// Categories in tree order with their depth, for selects.
fn tree(all: &[Category]) -> Vec<Value> {
    fn walk(all: &[Category], parent: Option<u64>, depth: usize, out: &mut Vec<Value>) {
        for c in all.iter().filter(|c| c.parent == parent) {
            out.push(
                json!({"id": c.id, "code": c.code, "name": c.name, "depth": depth,
                "indent": "— ".repeat(depth), "params": c.params, "parent": c.parent}),
            );
            if depth < 10 {
                walk(all, Some(c.id), depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(all, None, 0, &mut out);
    out
}

// ------------------------------------------------------------------ the equipment form

#[derive(Deserialize)]
struct FormQuery {
    category: Option<u64>,
}

/// The form's data: the record's values as strings, the parameters of the chosen category.
fn form_data(
    ctx: &Ctx,
    e: Option<&Equipment>,
    values: Value,
    category: Option<u64>,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let cats = svc::categories(&r)?;
    let category = category
        .or_else(|| values["category"].as_str().and_then(|s| s.parse().ok()))
        .or(e.map(|e| e.category))
        .or(cats.first().map(|c| c.id));
    let defs: Vec<ParamDef> = match category {
        Some(c) => svc::param_defs(&r, c)?,
        None => Vec::new(),
    };
    let mut v = match e {
        Some(e) => echo_of(&r, e)?,
        None => json!({"criticality": "B", "status": "running"}),
    };
    if let (Some(o), Some(typed)) = (v.as_object_mut(), values.as_object()) {
        for (k, x) in typed {
            o.insert(k.clone(), x.clone());
        }
    }
    if let Some(c) = category {
        v["category"] = json!(c.to_string());
    }
    Ok(context! {
        equipment => e.map(to_value),
        values => to_value(&v),
        defs => to_value(&defs),
        categories => to_value(&tree(&cats)),
        departments => to_value(&crate::org::service::departments(&r)?),
        statuses => EqStatus::ALL.map(|s| s.id()),
        roles => Role::ALL.map(|s| s.id()),
        criticalities => Criticality::ALL.map(|s| s.id()),
    })
}

/// A record's values as the form's strings.
fn echo_of(r: &impl crate::store::Reader, e: &Equipment) -> Result<Value, AppError> {
    let parent = match e.parent {
        Some(p) => svc::equipment(r, p)?.tag_no,
        None => String::new(),
    };
    let bom = super::sheet::bom_text(r, &e.bom, "\n")?;
    let bindings = super::sheet::bindings_text(&e.bindings, "\n");
    let mut v = json!({
        "tag_no": e.tag_no, "name": e.name, "category": e.category.to_string(),
        "department": e.department.map(|d| d.to_string()).unwrap_or_default(),
        "location": e.location, "manufacturer": e.manufacturer, "model": e.model,
        "serial": e.serial,
        "commissioned": e.commissioned.clone().unwrap_or_default(),
        "criticality": e.criticality.id(), "status": e.status.id(), "parent": parent,
        "group": e.vibration.group.map(|g| match g { MachineGroup::Group1 => "group1", MachineGroup::Group2 => "group2" }).unwrap_or(""),
        "mounting": e.vibration.mounting.map(|m| match m { Mounting::Rigid => "rigid", Mounting::Flexible => "flexible" }).unwrap_or(""),
        "bindings": bindings, "bom": bom,
    });
    if let Some(b) = e.vibration.bounds {
        v["ab"] = json!(b.ab.to_string());
        v["bc"] = json!(b.bc.to_string());
        v["cd"] = json!(b.cd.to_string());
    }
    for (k, p) in &e.params {
        v[format!("p_{k}")] = json!(super::sheet::param_text(p));
    }
    Ok(v)
}

/// Reads the equipment form. Bindings: a line per tag, `tag role [point]`; spare parts: a
/// line per material, `code qty [note]`.
fn parse_form(r: &impl crate::store::Reader, f: &FormData, id: u64) -> Result<Equipment, Error> {
    let category: u64 = f
        .opt("category")?
        .ok_or_else(|| Error::invalid("category", "equipment.err.category_not_found"))?;
    let defs = svc::param_defs(r, category)?;
    let mut params = BTreeMap::new();
    for d in &defs {
        if d.kind == ParamKind::Bool && !f.has(&format!("p_{}", d.key)) {
            continue;
        }
        if let Some(v) = svc::parse_param(d, f.get(&format!("p_{}", d.key)))? {
            params.insert(d.key.clone(), v);
        }
    }
    let parent = match f.get("parent").trim() {
        "" => None,
        t => Some(
            svc::by_tag_no(r, t)?
                .ok_or_else(|| Error::invalid("parent", "equipment.err.parent_not_found"))?
                .id,
        ),
    };
    let bindings = super::sheet::parse_bindings(f.get("bindings"))?;
    let bom = super::sheet::parse_bom(r, f.get("bom"))?;
    let bounds = match (
        f.opt::<f64>("ab")?,
        f.opt::<f64>("bc")?,
        f.opt::<f64>("cd")?,
    ) {
        (None, None, None) => None,
        (Some(ab), Some(bc), Some(cd)) => Some(ZoneBounds { ab, bc, cd }),
        _ => return Err(Error::invalid("ab", "equipment.err.zone_bounds")),
    };
    Ok(Equipment {
        id,
        tag_no: f.get("tag_no").into(),
        name: f.get("name").into(),
        category,
        department: f.opt("department")?,
        location: f.get("location").into(),
        manufacturer: f.get("manufacturer").into(),
        model: f.get("model").into(),
        serial: f.get("serial").into(),
        commissioned: Some(f.get("commissioned").to_string()),
        criticality: Criticality::parse(f.get("criticality"))
            .ok_or_else(|| Error::invalid("criticality", "equipment.err.criticality"))?,
        status: EqStatus::parse(f.get("status"))
            .ok_or_else(|| Error::invalid("status", "equipment.err.status"))?,
        parent,
        params,
        bindings,
        vibration: VibrationClass {
            group: f.choice("group"),
            mounting: f.choice("mounting"),
            bounds,
        },
        bom,
        deleted: false,
    })
}

#[get("/equipment/new")]
async fn new_page(
    ctx: Need<grant::equipment::Write>,
    q: web::Query<FormQuery>,
) -> Result<HttpResponse, AppError> {
    let c = form_data(&ctx, None, json!({}), q.category)?;
    ctx.page("equipment/form.html", c)
}

#[post("/equipment")]
async fn create_submit(
    ctx: Need<grant::equipment::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    save(&ctx, FormData::from(form), 0).await
}

async fn save(ctx: &Ctx, f: FormData, id: u64) -> Result<HttpResponse, AppError> {
    let r = async {
        let e = parse_form(&ctx.app.store.read()?, &f, id)?;
        ctx.write(move |app, actor| {
            let e = svc::save_equipment(&app.store, actor, e, &super::AppSite(app))?;
            super::condition::state(app).reload();
            Ok(e)
        })
        .await
        .map(|e| format!("/equipment/{}", e.id))
    }
    .await;
    ctx.done(r, "flash.saved", "equipment/form.html", || {
        let e = match id {
            0 => None,
            id => Some(svc::equipment(&ctx.app.store.read()?, id)?),
        };
        form_data(ctx, e.as_ref(), f.echo(), None)
    })
}

#[get("/equipment/{id:\\d+}/edit")]
async fn edit_page(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    q: web::Query<FormQuery>,
) -> Result<HttpResponse, AppError> {
    let e = svc::scanned(&ctx.app.store.read()?, *id)?;
    let c = form_data(&ctx, Some(&e), json!({}), q.category)?;
    ctx.page("equipment/form.html", c)
}

#[post("/equipment/{id:\\d+}")]
async fn update_submit(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    save(&ctx, FormData::from(form), id.into_inner()).await
}

#[post("/equipment/{id:\\d+}/delete")]
async fn delete_submit(
    ctx: Need<grant::equipment::Approve>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let r = ctx
        .write(move |app, actor| {
            let e = svc::delete_equipment(&app.store, actor, id)?;
            super::condition::state(app).reload();
            Ok(e)
        })
        .await
        .map(|_| "/equipment".to_string());
    ctx.done(r, "flash.deleted", "equipment/equipment.html", || {
        equipment_data(&ctx, id)
    })
}

// ------------------------------------------------------------------ a machine's page

fn equipment_data(ctx: &Ctx, id: u64) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let e = svc::scanned(&r, id)?;
    let cat = svc::category(&r, e.category)?;
    let defs = svc::param_defs(&r, e.category)?;
    let params: Vec<Value> = defs
        .iter()
        .filter_map(|d| {
            let v = e.params.get(&d.key)?;
            Some(json!({"name": d.name, "value": v.to_string(), "unit": d.unit}))
        })
        .collect();
    let parent = e.parent.and_then(|p| svc::equipment(&r, p).ok());
    let children: Vec<Equipment> = svc::list(
        &r,
        &EqFilter {
            parent: Some(e.id),
            ..EqFilter::default()
        },
    )?
    .items;
    let department = match e.department {
        Some(d) => crate::org::service::department(&r, d)?.map(|d| d.name),
        None => None,
    };
    let zones = svc::zones_of(&r, e.id)?;
    let defs_tags = ctx.app.tags.defs();
    let tags: Vec<Value> = e
        .bindings
        .iter()
        .map(|b| {
            let def = defs_tags.by_name(&b.tag);
            let cur = def.and_then(|t| ctx.app.tags.current(t.id));
            let value = cur
                .as_ref()
                .filter(|c| c.quality.is_good())
                .and_then(|c| c.value.as_ref())
                .and_then(|v| v.as_f64());
            json!({
                "tag": b.tag, "role": b.role.id(), "point": b.point,
                "value": value.map(|v| format!("{v:.2}")),
                "unit": def.map(|t| t.unit.clone()).unwrap_or_default(),
                "zone": zones.iter().find(|z| z.tag == b.tag).map(|z| z.zone),
            })
        })
        .collect();
    let orders: Vec<_> = svc::orders_of(&r, e.id)?.into_iter().take(20).collect();
    let plans: Vec<Value> = svc::plans(&r)?
        .into_iter()
        .filter(|p| p.equipment == e.id)
        .map(|p| plan_row(ctx, &p))
        .collect();
    let to = crate::util::now_ms();
    let (kpis, pm) = svc::kpis(&r, Some(e.id), to - 90 * 86_400_000, to)?;
    let number = |k: &str| match e.params.get(k) {
        Some(super::model::ParamValue::Number(n)) => Some(*n),
        _ => None,
    };
    // judged by standard boundaries that do not fit the machine: say so
    let out_of_scope = e.vibration.bounds.is_none()
        && e.bindings.iter().any(|b| b.role == Role::Vibration)
        && rules::outside_iso10816_3(number("rated_power"), number("speed"));
    Ok(context! {
        out_of_scope,
        e => to_value(&e),
        category => to_value(&cat),
        params => to_value(&params),
        parent => parent.map(|p| to_value(&p)),
        children => to_value(&children),
        department,
        tags => to_value(&tags),
        bounds => to_value(&svc::bounds_of(&e)),
        history => to_value(&svc::zone_history(&r, e.id, 20)?),
        bom => to_value(&svc::bom(&r, &e)?),
        orders => to_value(&orders),
        plans => to_value(&plans),
        kpis => to_value(&kpis),
        pm,
        documents => to_value(&super::routes::doc_views(ctx, e.id)?),
        doc_kinds => super::model::DocKind::ALL.map(|k| k.id()),
        departments => to_value(&crate::org::service::departments(&r)?),
        can_write => ctx.who.can(M, Level::Write),
        can_approve => ctx.who.can(M, Level::Approve),
    })
}

/// A machine's page: what its QR label opens.
#[get("/equipment/{id:\\d+}")]
async fn equipment_page(
    ctx: Need<grant::equipment::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let c = equipment_data(&ctx, *id)?;
    ctx.page("equipment/equipment.html", c)
}

#[derive(Deserialize)]
struct LabelQuery {
    /// Comma-separated ids; default: the ledger's filter.
    ids: Option<String>,
    #[serde(flatten)]
    filter: EqFilter,
}

/// A printable sheet of QR labels: each opens the machine's page on a phone.
#[get("/equipment/labels")]
async fn labels_page(
    ctx: Need<grant::equipment::Read>,
    req: HttpRequest,
    q: web::Query<LabelQuery>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let list: Vec<Equipment> = match q.ids.as_deref().filter(|s| !s.is_empty()) {
        Some(ids) => ids
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .map(|id| svc::scanned(&r, id))
            .collect::<Result<_, _>>()?,
        None => svc::list(&r, &q.filter)?.items,
    };
    let labels: Vec<Value> = list
        .iter()
        .map(|e| {
            let url = here(&req, &format!("/equipment/{}", e.id));
            json!({"tag_no": e.tag_no, "name": e.name, "location": e.location,
                "qr": crate::web::render::qr_svg(&url).to_string(), "url": url})
        })
        .collect();
    ctx.page(
        "equipment/labels.html",
        context! { labels => to_value(&labels) },
    )
}

// ------------------------------------------------------------------ fault reports

fn report_data(ctx: &Ctx, id: u64, values: Value) -> Result<minijinja::Value, AppError> {
    let e = svc::scanned(&ctx.app.store.read()?, id)?;
    Ok(context! {
        e => to_value(&e),
        values => to_value(&values),
        priorities => WoPriority::ALL.map(|p| p.id()),
    })
}

/// The fault report (报修) a phone opens from the machine's page.
#[get("/equipment/{id:\\d+}/report")]
async fn report_page(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let c = report_data(&ctx, *id, json!({"priority": "high"}))?;
    ctx.page("equipment/report.html", c)
}

/// Photos a report or an order takes at most.
const MAX_PHOTOS: usize = 6;

/// A multipart form's fields and its `photo` files (up to six).
async fn read_photos(mp: Multipart) -> Result<(FormData, Vec<(String, Vec<u8>)>), AppError> {
    let max = crate::modules::safety::archive::service::MAX_FILE_BYTES;
    let (f, files) = crate::web::form::read_multipart(mp, max, max * MAX_PHOTOS).await?;
    let photos = files
        .into_iter()
        .filter(|(field, _, b)| field == "photo" && !b.is_empty())
        .take(MAX_PHOTOS)
        .map(|(_, n, b)| (n, b))
        .collect();
    Ok((f, photos))
}

/// Multipart: the report's fields and up to six `photo` files (images only).
#[post("/equipment/{id:\\d+}/report")]
async fn report_submit(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    let (f, photos) = read_photos(mp).await?;
    let id = id.into_inner();
    let r = async {
        let n = NewOrder {
            equipment: id,
            kind: WoKind::Corrective,
            title: f.get("title").into(),
            description: f.get("description").into(),
            priority: WoPriority::parse(f.get("priority")).unwrap_or(WoPriority::High),
            stopped: f.checked("stopped"),
            due: None,
            needs_permits: Vec::new(),
        };
        ctx.write(move |app, actor| {
            svc::create_order(&app.store, actor, n, true, photos, super::now(app))
        })
        .await
        .map(|o| format!("/equipment/work-orders/{}", o.id))
    }
    .await;
    ctx.done(r, "flash.reported", "equipment/report.html", || {
        report_data(&ctx, id, f.echo())
    })
}

// ------------------------------------------------------------------ work orders

#[derive(Deserialize)]
struct MineQuery {
    /// `1`: the orders assigned to whoever is looking.
    #[serde(default)]
    mine: Option<String>,
}

#[get("/equipment/work-orders")]
async fn orders_page(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<WoFilter>,
    mine: web::Query<MineQuery>,
) -> Result<HttpResponse, AppError> {
    let mut q = q.into_inner();
    let mine = mine.mine.as_deref() == Some("1");
    if mine {
        q.assignee = Some(ctx.who.user().map_or(0, |u| u.id));
    }
    let r = ctx.app.store.read()?;
    let page = svc::orders(&r, &q, crate::util::now_ms())?;
    let mut names: BTreeMap<u64, String> = BTreeMap::new();
    for o in &page.items {
        if let std::collections::btree_map::Entry::Vacant(v) = names.entry(o.equipment) {
            v.insert(svc::equipment(&r, o.equipment)?.tag_no);
        }
    }
    let now = crate::util::now_ms();
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|o| {
            json!({"o": o, "tag_no": names.get(&o.equipment), "overdue": o.state.is_open() && o.due_ms < now})
        })
        .collect();
    ctx.page(
        "equipment/orders.html",
        context! {
            rows => to_value(&rows),
            page => page.page,
            more => page.more,
            f => to_value(&json!({"state": q.state, "kind": q.kind, "equipment": q.equipment, "mine": mine})),
            states => WoState::ALL.map(|s| s.id()),
            kinds => WoKind::ALL.map(|s| s.id()),
        },
    )
}

fn order_data(ctx: &Ctx, id: u64, values: Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let o = svc::order(&r, id)?;
    let e = svc::equipment(&r, o.equipment)?;
    let bom = if e.deleted {
        Vec::new()
    } else {
        svc::bom(&r, &e)?
    };
    let users: Vec<Value> = crate::auth::service::users(&r)?
        .into_iter()
        .filter(|u| super::technician(&r, u))
        .map(|u| json!({"id": u.id, "name": u.display_name}))
        .collect();
    // beyond the machine's list: what is in stock (nothing else can be issued)
    let totals = inventory::totals(&r)?;
    let materials: Vec<Value> = inventory::materials(&r)?
        .into_iter()
        .filter(|m| m.active)
        .filter_map(|m| {
            let stock = totals.get(&m.id).copied().filter(|q| *q > 0.0)?;
            Some(json!({"id": m.id, "code": m.code, "name": m.name, "unit": m.base_unit, "stock": stock}))
        })
        .collect();
    let approver = ctx.who.can(M, Level::Approve);
    let writer = ctx.who.can(M, Level::Write);
    let me = ctx.who.user().map(|u| u.id);
    let actions: Vec<&str> = rules::actions(o.state)
        .into_iter()
        // whoever did the work does not see the sign-off (the service refuses it anyway)
        .filter(|a| !(*a == rules::WoAction::Verify && me == Some(o.done_by_id)))
        .filter(|a| {
            let needs_approve = matches!(
                a,
                rules::WoAction::Assign
                    | rules::WoAction::Verify
                    | rules::WoAction::Reject
                    | rules::WoAction::Cancel
            );
            if needs_approve { approver } else { writer }
        })
        .map(|a| a.id())
        .collect();
    let held: Vec<Value> = {
        let mut by: BTreeMap<u64, (String, String, f64, String)> = BTreeMap::new();
        for p in &o.parts {
            let x = by.entry(p.material).or_insert((
                p.code.clone(),
                p.name.clone(),
                0.0,
                p.unit.clone(),
            ));
            x.2 += p.qty;
        }
        by.into_iter()
            .filter(|(_, x)| x.2 > 1e-9)
            .map(|(id, x)| json!({"material": id, "code": x.0, "name": x.1, "qty": x.2, "unit": x.3}))
            .collect()
    };
    // the open permits of the types the job needs, to link one of each
    let mut permits: Vec<Value> = Vec::new();
    for want in &o.needs_permits {
        let found = crate::modules::safety::permits::service::permits(
            &r,
            &crate::modules::safety::permits::service::PermitFilter {
                work: Some(want.clone()),
                stage: Some("open".into()),
                ..Default::default()
            },
            ctx.app.offset,
        )?;
        permits.extend(
            found.into_iter().take(30).map(
                |p| json!({"id": p.id, "number": p.number, "content": p.content, "work": want}),
            ),
        );
    }
    Ok(context! {
        o => to_value(&o),
        e => to_value(&e),
        bom => to_value(&bom),
        users => to_value(&users),
        materials => to_value(&materials),
        held => to_value(&held),
        permits => to_value(&permits),
        actions,
        working => writer && rules::books_work(o.state),
        open => o.state.is_open(),
        can_write => writer,
        overdue => o.state.is_open() && o.due_ms < crate::util::now_ms(),
        values => to_value(&values),
    })
}

#[get("/equipment/work-orders/{id}")]
async fn order_page(
    ctx: Need<grant::equipment::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let c = order_data(&ctx, *id, json!({}))?;
    ctx.page("equipment/order.html", c)
}

/// The action forms of a work order: `action` and its fields; parts as parallel
/// `part_material` / `part_qty` lists (blank lines skipped).
#[post("/equipment/work-orders/{id}/actions")]
async fn order_action(
    ctx: Need<super::routes::Acts>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = id.into_inner();
    let approver = ctx.who.can(M, Level::Approve);
    let need = svc::level_for(f.get("action"));
    if !ctx.who.can(M, need) {
        return Err(crate::web::context::forbidden(M, need));
    }
    let r = async {
        let mut parts = Vec::new();
        for (m, q) in f.all("part_material").iter().zip(f.all("part_qty")) {
            if m.trim().is_empty() || q.trim().is_empty() {
                continue;
            }
            parts.push(PartInput {
                material: m
                    .trim()
                    .parse()
                    .map_err(|_| Error::invalid("parts", "equipment.err.no_parts"))?,
                qty: q
                    .trim()
                    .parse()
                    .map_err(|_| Error::invalid("parts", "common.err.number"))?,
                ..PartInput::default()
            });
        }
        let a = ActionInput {
            action: f.get("action").into(),
            assignee: f.opt("assignee")?,
            note: f.get("note").into(),
            report: f.get("report").into(),
            hours: f.opt("hours")?,
            parts,
            line: f.opt("line")?,
            permit: f.opt("permit")?,
            // the assign form says which permits the job needs (unticked: none)
            needs_permits: (f.get("action") == "assign").then(|| f.all("needs_permits")),
        };
        ctx.write(move |app, actor| super::act(app, actor, id, a, approver))
            .await
            .map(|_| format!("/equipment/work-orders/{id}"))
    }
    .await;
    ctx.done(r, "flash.saved", "equipment/order.html", || {
        order_data(&ctx, id, f.echo())
    })
}

/// Multipart: `photo` files added to an open order.
#[post("/equipment/work-orders/{id}/photos")]
async fn order_photos(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    let (_, files) = read_photos(mp).await?;
    let id = id.into_inner();
    let r = ctx
        .write(move |app, actor| svc::add_photos(&app.store, actor, id, files, super::now(app)))
        .await
        .map(|_| format!("/equipment/work-orders/{id}"));
    ctx.done(r, "flash.saved", "equipment/order.html", || {
        order_data(&ctx, id, json!({}))
    })
}

#[get("/equipment/work-orders/{id}/photos/{file}")]
async fn order_photo(
    ctx: Need<grant::equipment::Read>,
    path: web::Path<(u64, u64)>,
) -> Result<HttpResponse, AppError> {
    let (meta, bytes) = svc::photo(&ctx.app.store.read()?, path.0, path.1)?;
    Ok(HttpResponse::Ok()
        .content_type(meta.content_type)
        .insert_header(("cache-control", "private, max-age=3600"))
        .body(bytes))
}

// ------------------------------------------------------------------ plans

fn plan_row(ctx: &Ctx, p: &Plan) -> Value {
    let next = super::routes::plan_next(&ctx.app, p);
    json!({"p": p, "next": next})
}

fn plans_data(ctx: &Ctx, values: Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let mut tag_nos: BTreeMap<u64, String> = BTreeMap::new();
    let plans: Vec<Value> = svc::plans(&r)?
        .iter()
        .map(|p| {
            let tag_no = match tag_nos.get(&p.equipment) {
                Some(t) => t.clone(),
                None => {
                    let t = svc::equipment(&r, p.equipment)?.tag_no;
                    tag_nos.insert(p.equipment, t.clone());
                    t
                }
            };
            let mut v = plan_row(ctx, p);
            v["tag_no"] = json!(tag_no);
            Ok(v)
        })
        .collect::<Result<_, AppError>>()?;
    Ok(context! {
        plans => to_value(&plans),
        values => to_value(&values),
        priorities => WoPriority::ALL.map(|p| p.id()),
        can_write => ctx.who.can(M, Level::Write),
    })
}

/// Preventive plans; `?edit=<id>` fills the form with a plan to change or pause.
#[get("/equipment/plans")]
async fn plans_page(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    let values = match q.edit {
        Some(id) => {
            let r = ctx.app.store.read()?;
            let p = svc::plan(&r, id)?;
            let mut v = json!({
                "id": p.id.to_string(), "tag_no": svc::equipment(&r, p.equipment)?.tag_no,
                "title": p.title, "priority": p.priority.id(), "tasks": p.tasks.join("\n"),
                "needs_permits": p.needs_permits, "lead_days": p.lead_days.to_string(),
                "start": p.start.unwrap_or_default(), "active": p.active,
                "last_meter": p.last_meter.map(|m| m.to_string()).unwrap_or_default(),
            });
            match p.trigger {
                Trigger::Calendar { every_days } => {
                    v["trigger"] = json!("calendar");
                    v["every"] = json!(every_days.to_string());
                }
                Trigger::Meter { tag, every } => {
                    v["trigger"] = json!("meter");
                    v["every"] = json!(every.to_string());
                    v["tag"] = json!(tag);
                }
            }
            v
        }
        None => json!({"trigger": "calendar", "priority": "normal", "active": true}),
    };
    ctx.page("equipment/plans.html", plans_data(&ctx, values)?)
}

#[post("/equipment/plans")]
async fn plan_submit(
    ctx: Need<grant::equipment::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let e = svc::by_tag_no(&ctx.app.store.read()?, f.get("tag_no"))?
            .ok_or_else(|| Error::invalid("tag_no", "equipment.err.not_found"))?;
        let trigger = if f.get("trigger") == "meter" {
            Trigger::Meter {
                tag: f.get("tag").into(),
                every: f
                    .opt("every")?
                    .ok_or_else(|| Error::invalid("every", "equipment.err.every_meter"))?,
            }
        } else {
            Trigger::Calendar {
                every_days: f
                    .opt("every")?
                    .ok_or_else(|| Error::invalid("every", "equipment.err.every_days"))?,
            }
        };
        let p = Plan {
            id: f.opt("id")?.unwrap_or(0),
            equipment: e.id,
            title: f.get("title").into(),
            trigger,
            tasks: f.get("tasks").lines().map(str::to_string).collect(),
            priority: WoPriority::parse(f.get("priority")).unwrap_or_default(),
            needs_permits: f.all("needs_permits"),
            lead_days: f.opt("lead_days")?.unwrap_or(0),
            start: Some(f.get("start").to_string()),
            last_done_ms: None,
            last_meter: f.opt("last_meter")?,
            meter_low_since_ms: None,
            open_order: None,
            // a new plan starts active; an edited one is paused by clearing the box
            active: !f.has("id") || f.checked("active"),
        };
        ctx.write(move |app, actor| {
            svc::save_plan(&app.store, actor, p, crate::plant_time::today(app.offset))
        })
        .await
        .map(|_| "/equipment/plans".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "equipment/plans.html", || {
        plans_data(&ctx, f.echo())
    })
}

// ------------------------------------------------------------------ categories

fn categories_data(ctx: &Ctx, values: Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    Ok(context! {
        categories => to_value(&tree(&svc::categories(&r)?)),
        values => to_value(&values),
        can_write => ctx.who.can(M, Level::Write),
    })
}

#[derive(Deserialize)]
pub(super) struct EditQuery {
    pub edit: Option<u64>,
}

#[get("/equipment/categories")]
async fn categories_page(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    let values = match q.edit {
        Some(id) => {
            let c = svc::category(&ctx.app.store.read()?, id)?;
            let params: String = c
                .params
                .iter()
                .map(|p| {
                    format!(
                        "{}|{}|{}|{}|{}\n",
                        p.key,
                        p.name,
                        p.kind.id(),
                        p.unit,
                        if p.required { "required" } else { "" }
                    )
                })
                .collect();
            json!({"id": c.id.to_string(), "code": c.code, "name": c.name,
                "parent": c.parent.map(|p| p.to_string()).unwrap_or_default(),
                "params": params.trim_end()})
        }
        None => json!({}),
    };
    let c = categories_data(&ctx, values)?;
    ctx.page("equipment/categories.html", c)
}

/// A parameter type as written: its id or its Chinese name.
fn kind_of(s: &str) -> Option<ParamKind> {
    ParamKind::parse(s).or(match s {
        "数字" => Some(ParamKind::Number),
        "文字" | "文本" => Some(ParamKind::Text),
        "日期" => Some(ParamKind::Date),
        "是/否" | "是否" => Some(ParamKind::Bool),
        _ => None,
    })
}

/// Parameters as lines `key|name|kind|unit|required`.
fn parse_params(s: &str) -> Result<Vec<ParamDef>, Error> {
    s.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            let bad = || {
                Error::invalid_msg(
                    "params",
                    Msg::new("equipment.err.param_line").arg("line", i + 1),
                )
            };
            let kind = kind_of(f.get(2).copied().unwrap_or("")).ok_or_else(|| {
                Error::invalid_msg(
                    "params",
                    Msg::new("equipment.err.param_kind_line").arg("line", i + 1),
                )
            })?;
            Ok(ParamDef {
                key: f.first().copied().unwrap_or("").to_string(),
                name: f.get(1).copied().unwrap_or("").to_string(),
                kind,
                unit: f.get(3).copied().unwrap_or("").to_string(),
                required: match f.get(4).copied().unwrap_or("") {
                    "" | "optional" | "否" | "no" | "可选" => false,
                    "required" | "必填" | "是" | "yes" => true,
                    _ => return Err(bad()),
                },
            })
        })
        .collect()
}

#[post("/equipment/categories")]
async fn category_submit(
    ctx: Need<grant::equipment::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let c = Category {
            id: f.opt("id")?.unwrap_or(0),
            code: f.get("code").into(),
            name: f.get("name").into(),
            parent: f.opt("parent")?,
            params: parse_params(f.get("params"))?,
        };
        ctx.write(move |app, actor| svc::save_category(&app.store, actor, c))
            .await
            .map(|_| "/equipment/categories".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "equipment/categories.html", || {
        categories_data(&ctx, f.echo())
    })
}

// ------------------------------------------------------------------ the status board

#[get("/equipment/board")]
async fn board_page(ctx: Need<grant::equipment::Read>) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let all = svc::all_equipment(&r)?;
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &all {
        *by_status.entry(e.status.id()).or_default() += 1;
    }
    let mut zones = Vec::new();
    for e in &all {
        for z in svc::zones_of(&r, e.id)? {
            if z.zone >= rules::Zone::C {
                zones.push(json!({"e": e, "z": z}));
            }
        }
    }
    let now = crate::util::now_ms();
    let open = svc::orders(
        &r,
        &WoFilter {
            state: Some("open".into()),
            ..WoFilter::default()
        },
        now,
    )?;
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    let mut overdue = 0;
    for o in &open.items {
        *by_state.entry(o.state.id()).or_default() += 1;
        overdue += usize::from(o.due_ms < now);
    }
    let from = now - 30 * 86_400_000;
    let (kpis, pm) = svc::kpis(&r, None, from, now)?;
    let top: Vec<Value> = svc::top_failing(&r, now - 365 * 86_400_000, 5)?
        .into_iter()
        .map(|(e, n)| json!({"e": e, "n": n}))
        .collect();
    ctx.page(
        "equipment/board.html",
        context! {
            total => all.len(),
            by_status => to_value(&by_status),
            zones => to_value(&zones),
            by_state => to_value(&by_state),
            open_count => open.items.len(),
            open_more => open.more,
            overdue,
            kpis => to_value(&kpis),
            pm,
            top => to_value(&top),
        },
    )
}

// ------------------------------------------------------------------ documents

/// Multipart (CSRF in the address): a document or a new version of one.
#[post("/equipment/{id:\\d+}/documents")]
async fn document_submit(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let r = async {
        let (input, file) = super::routes::read_document(mp).await?;
        let v = super::viewer(&ctx.who);
        ctx.write(move |app, actor| {
            svc::documents::save_document(
                &app.store,
                actor,
                id,
                input,
                file,
                &v,
                crate::util::now_ms(),
            )
        })
        .await
        .map(|_| format!("/equipment/{id}#documents"))
    }
    .await;
    ctx.done(r, "flash.saved", "equipment/equipment.html", || {
        equipment_data(&ctx, id)
    })
}

#[get("/equipment/documents/{doc}/{version}")]
async fn document_download(
    ctx: Need<grant::equipment::Read>,
    path: web::Path<(u64, u32)>,
) -> Result<HttpResponse, AppError> {
    let v = super::viewer(&ctx.who);
    let (meta, bytes) = svc::documents::file(&ctx.app.store.read()?, path.0, path.1, &v)?;
    Ok(crate::modules::safety::archive::routes::file_response(
        meta, bytes,
    ))
}
