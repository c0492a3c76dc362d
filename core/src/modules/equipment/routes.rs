//! JSON API of 设备管理: categories, the ledger, condition, work orders and their actions,
//! preventive plans, KPIs.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};

use super::model::{Category, Equipment, Plan, WorkOrder, ZoneEvent, ZoneState};
use super::rules::{self, ZoneBounds};
use super::service::{self as svc, ActionInput, EqFilter, NewOrder, Page, WoFilter};
use crate::auth::model::Level;
use crate::web::error::AppError;
use crate::web::grant::{self, Either, Need};

/// Work order actions: the technician's (write) or the planner's and verifier's (approve).
pub(super) type Acts = Either<grant::equipment::Write, grant::equipment::Approve>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(api_categories)
        .service(api_category_create)
        .service(api_category_update)
        .service(api_orders)
        .service(api_order_create)
        .service(api_order)
        .service(api_order_action)
        .service(api_plans)
        .service(api_plan_create)
        .service(api_plan_update)
        .service(api_kpis)
        .service(api_list)
        .service(api_create)
        .service(api_get)
        .service(api_update)
        .service(api_delete)
        .service(api_condition)
        .service(api_documents)
        .service(api_document_upload)
        .service(api_document_file);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_categories,
    api_category_create,
    api_category_update,
    api_list,
    api_create,
    api_get,
    api_update,
    api_delete,
    api_condition,
    api_documents,
    api_document_upload,
    api_document_file,
    api_orders,
    api_order_create,
    api_order,
    api_order_action,
    api_plans,
    api_plan_create,
    api_plan_update,
    api_kpis
))]
pub struct Doc;

/// Reloads the condition evaluation's watches after the ledger changed.
fn ledger_changed(app: &crate::app::App) {
    super::condition::state(app).reload();
}

// ------------------------------------------------------------------ categories

/// The category tree (each with its parent and its own parameters).
#[utoipa::path(tag = "equipment", responses((status = 200, description = "Categories", body = Vec<Category>)), security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/categories")]
async fn api_categories(ctx: Need<grant::equipment::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::categories(&ctx.app.store.read()?)?))
}

/// Creates a category. Parameter keys are unique along the tree.
#[utoipa::path(tag = "equipment", request_body = Category, responses(
    (status = 201, description = "Created", body = Category),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["equipment:write"])))]
#[post("/api/v1/equipment/categories")]
async fn api_category_create(
    ctx: Need<grant::equipment::Write>,
    body: web::Json<Category>,
) -> Result<HttpResponse, AppError> {
    let mut c = body.into_inner();
    c.id = 0;
    let saved = ctx
        .write(move |app, actor| svc::save_category(&app.store, actor, c))
        .await?;
    Ok(HttpResponse::Created().json(saved))
}

/// Changes a category. A parameter's type may not change while equipment hold a value of
/// the old type.
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Category id")), request_body = Category, responses(
    (status = 200, description = "Saved", body = Category),
    (status = 422, description = "Refused")),
    security(("bearer" = ["equipment:write"])))]
#[put("/api/v1/equipment/categories/{id}")]
async fn api_category_update(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    body: web::Json<Category>,
) -> Result<HttpResponse, AppError> {
    let mut c = body.into_inner();
    c.id = id.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::save_category(&app.store, actor, c))
            .await?,
    ))
}

// ------------------------------------------------------------------ the ledger

/// One page (50) of the ledger in 位号 order, filtered.
#[utoipa::path(tag = "equipment", params(EqFilter), responses((status = 200, description = "A page", body = Page<Equipment>)), security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment")]
async fn api_list(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<EqFilter>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::list(&ctx.app.store.read()?, &q)?))
}

/// Adds equipment to the ledger. Refused: a 位号 in use, a parameter of the wrong type for
/// its category, a tag bound elsewhere with another role, a spare part that is not an
/// inventory material.
#[utoipa::path(tag = "equipment", request_body = Equipment, responses(
    (status = 201, description = "Created", body = Equipment),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["equipment:write"])))]
#[post("/api/v1/equipment")]
async fn api_create(
    ctx: Need<grant::equipment::Write>,
    body: web::Json<Equipment>,
) -> Result<HttpResponse, AppError> {
    let mut e = body.into_inner();
    e.id = 0;
    e.deleted = false;
    let saved = ctx
        .write(move |app, actor| {
            let e = svc::save_equipment(&app.store, actor, e, &super::AppSite(app))?;
            ledger_changed(app);
            Ok(e)
        })
        .await?;
    Ok(HttpResponse::Created().json(saved))
}

/// A piece of equipment with its spare parts and their stock.
#[derive(Serialize, utoipa::ToSchema)]
struct EquipmentDetail {
    #[serde(flatten)]
    equipment: Equipment,
    bom: Vec<svc::BomView>,
    zones: Vec<ZoneState>,
}

/// A piece of equipment (what scanning its label opens). A deleted one answers 404 with
/// the reason.
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Equipment id")), responses(
    (status = 200, description = "Equipment", body = EquipmentDetail),
    (status = 404, description = "Not found, or taken out of the ledger")),
    security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/{id:\\d+}")]
async fn api_get(
    ctx: Need<grant::equipment::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let e = svc::scanned(&r, *id)?;
    Ok(HttpResponse::Ok().json(EquipmentDetail {
        bom: svc::bom(&r, &e)?,
        zones: svc::zones_of(&r, e.id)?,
        equipment: e,
    }))
}

/// Changes a piece of equipment (the same checks as creating it).
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Equipment id")), request_body = Equipment, responses(
    (status = 200, description = "Saved", body = Equipment),
    (status = 422, description = "Refused")),
    security(("bearer" = ["equipment:write"])))]
#[put("/api/v1/equipment/{id:\\d+}")]
async fn api_update(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    body: web::Json<Equipment>,
) -> Result<HttpResponse, AppError> {
    let mut e = body.into_inner();
    e.id = id.into_inner();
    e.deleted = false;
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| {
            let e = svc::save_equipment(&app.store, actor, e, &super::AppSite(app))?;
            ledger_changed(app);
            Ok(e)
        })
        .await?,
    ))
}

/// Takes equipment out of the ledger (refused while parts hang below it or work orders
/// are open). Its history stays.
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Equipment id")), responses(
    (status = 200, description = "Deleted", body = Equipment),
    (status = 409, description = "Still has parts or open work orders")),
    security(("bearer" = ["equipment:approve"])))]
#[delete("/api/v1/equipment/{id:\\d+}")]
async fn api_delete(
    ctx: Need<grant::equipment::Approve>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| {
            let e = svc::delete_equipment(&app.store, actor, id)?;
            ledger_changed(app);
            Ok(e)
        })
        .await?,
    ))
}

/// What the condition of a piece of equipment is.
#[derive(Serialize, utoipa::ToSchema)]
struct ConditionView {
    /// The ISO 10816-3 boundaries its vibration is judged by (mm/s).
    bounds: ZoneBounds,
    /// Each bound tag with its value now.
    tags: Vec<TagNow>,
    /// The zone of each vibration tag now.
    zones: Vec<ZoneState>,
    /// Zone changes, newest first (the last 100).
    history: Vec<ZoneEvent>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TagNow {
    tag: String,
    role: super::model::Role,
    point: String,
    value: Option<f64>,
    unit: String,
    good: bool,
    ts_ms: Option<i64>,
}

fn condition_view(app: &crate::app::App, e: &Equipment) -> Result<ConditionView, AppError> {
    let r = app.store.read()?;
    let defs = app.tags.defs();
    let tags = e
        .bindings
        .iter()
        .map(|b| {
            let def = defs.by_name(&b.tag);
            let cur = def.and_then(|t| app.tags.current(t.id));
            TagNow {
                tag: b.tag.clone(),
                role: b.role,
                point: b.point.clone(),
                value: cur
                    .as_ref()
                    .and_then(|c| c.value.as_ref())
                    .and_then(|v| v.as_f64()),
                unit: def.map(|t| t.unit.clone()).unwrap_or_default(),
                good: cur.as_ref().is_some_and(|c| c.quality.is_good()),
                ts_ms: cur.map(|c| c.ts_ms),
            }
        })
        .collect();
    Ok(ConditionView {
        bounds: svc::bounds_of(e),
        tags,
        zones: svc::zones_of(&r, e.id)?,
        history: svc::zone_history(&r, e.id, 100)?,
    })
}

/// The condition of a piece of equipment: its bound tags now, the zone of each vibration
/// tag, and the zone history.
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Equipment id")), responses(
    (status = 200, description = "Condition", body = ConditionView)),
    security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/{id:\\d+}/condition")]
async fn api_condition(
    ctx: Need<grant::equipment::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let e = svc::scanned(&ctx.app.store.read()?, *id)?;
    Ok(HttpResponse::Ok().json(condition_view(&ctx.app, &e)?))
}

// ------------------------------------------------------------------ work orders

/// One page (50) of work orders, newest first.
#[utoipa::path(tag = "equipment", params(WoFilter), responses((status = 200, description = "A page", body = Page<WorkOrder>)), security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/work-orders")]
async fn api_orders(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<WoFilter>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::orders(
        &ctx.app.store.read()?,
        &q,
        crate::util::now_ms(),
    )?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct OrderInput {
    #[serde(flatten)]
    order: NewOrder,
    /// A fault report (报修) rather than a planned job.
    #[serde(default)]
    fault: bool,
}

/// Opens a work order or reports a fault (photos are added from the console's form).
#[utoipa::path(tag = "equipment", request_body = OrderInput, responses(
    (status = 201, description = "Opened", body = WorkOrder),
    (status = 422, description = "Refused")),
    security(("bearer" = ["equipment:write"])))]
#[post("/api/v1/equipment/work-orders")]
async fn api_order_create(
    ctx: Need<grant::equipment::Write>,
    body: web::Json<OrderInput>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let o = ctx
        .write(move |app, actor| {
            svc::create_order(
                &app.store,
                actor,
                b.order,
                b.fault,
                Vec::new(),
                super::now(app),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(o))
}

/// A work order with its history, hours, parts and photos.
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Work order id")), responses(
    (status = 200, description = "Work order", body = WorkOrder)),
    security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/work-orders/{id}")]
async fn api_order(
    ctx: Need<grant::equipment::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::order(&ctx.app.store.read()?, *id)?))
}

/// An action on a work order: a life-cycle step (`assign`, `start`, `wait_parts`, `resume`,
/// `done`, `verify`, `reject`, `cancel`; assigning, verifying, rejecting and cancelling
/// need the approve level) or a booking (`labour`, `parts`, `return_parts`, `check`,
/// `permit`, `note`). Parts leave stock through inventory in the same transaction; not
/// enough in stock refuses the action. Done needs the report and hours; verify needs the
/// sign-off of someone other than who did the work.
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Work order id")), request_body = ActionInput, responses(
    (status = 200, description = "Done", body = WorkOrder),
    (status = 409, description = "Not allowed in the order's state"),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["equipment:write", "equipment:approve"])))]
#[post("/api/v1/equipment/work-orders/{id}/actions")]
async fn api_order_action(
    ctx: Need<Acts>,
    id: web::Path<u64>,
    body: web::Json<ActionInput>,
) -> Result<HttpResponse, AppError> {
    let approver = ctx.who.can("equipment", Level::Approve);
    let (id, a) = (id.into_inner(), body.into_inner());
    let need = svc::level_for(&a.action);
    if !ctx.who.can("equipment", need) {
        return Err(crate::web::context::forbidden("equipment", need));
    }
    let done = ctx
        .write(move |app, actor| super::act(app, actor, id, a, approver))
        .await?;
    Ok(HttpResponse::Ok().json(done.order))
}

// ------------------------------------------------------------------ plans

/// A plan with when it is next due.
#[derive(Serialize, utoipa::ToSchema)]
struct PlanView {
    #[serde(flatten)]
    plan: Plan,
    next: svc::NextDue,
}

/// Preventive plans with their next due date or meter reading.
#[utoipa::path(tag = "equipment", responses((status = 200, description = "Plans", body = Vec<PlanView>)), security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/plans")]
async fn api_plans(ctx: Need<grant::equipment::Read>) -> Result<HttpResponse, AppError> {
    let v: Vec<PlanView> = svc::plans(&ctx.app.store.read()?)?
        .into_iter()
        .map(|p| PlanView {
            next: plan_next(&ctx.app, &p),
            plan: p,
        })
        .collect();
    Ok(HttpResponse::Ok().json(v))
}

pub(super) fn plan_next(app: &crate::app::App, p: &Plan) -> svc::NextDue {
    let meter = match &p.trigger {
        super::model::Trigger::Meter { tag, .. } => super::meter(app, tag),
        _ => None,
    };
    svc::next_due(p, app.offset, meter)
}

/// Creates a preventive plan: by calendar (`every_days`) or by a meter tag bound to the
/// equipment (`tag`, `every`).
#[utoipa::path(tag = "equipment", request_body = Plan, responses(
    (status = 201, description = "Created", body = Plan),
    (status = 422, description = "Refused")),
    security(("bearer" = ["equipment:write"])))]
#[post("/api/v1/equipment/plans")]
async fn api_plan_create(
    ctx: Need<grant::equipment::Write>,
    body: web::Json<Plan>,
) -> Result<HttpResponse, AppError> {
    let mut p = body.into_inner();
    p.id = 0;
    let saved = ctx
        .write(move |app, actor| {
            svc::save_plan(&app.store, actor, p, crate::plant_time::today(app.offset))
        })
        .await?;
    Ok(HttpResponse::Created().json(saved))
}

/// Changes a preventive plan (when it was last done stays).
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Plan id")), request_body = Plan, responses(
    (status = 200, description = "Saved", body = Plan),
    (status = 422, description = "Refused")),
    security(("bearer" = ["equipment:write"])))]
#[put("/api/v1/equipment/plans/{id}")]
async fn api_plan_update(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    body: web::Json<Plan>,
) -> Result<HttpResponse, AppError> {
    let mut p = body.into_inner();
    p.id = id.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| {
            svc::save_plan(&app.store, actor, p, crate::plant_time::today(app.offset))
        })
        .await?,
    ))
}

// ------------------------------------------------------------------ KPIs

#[derive(Deserialize, utoipa::IntoParams)]
struct KpiParams {
    /// Days back from now (default 30).
    days: Option<u32>,
    /// One piece of equipment.
    equipment: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct KpiView {
    days: u32,
    #[serde(flatten)]
    kpis: rules::Kpis,
    /// Share of preventive orders due in the period done by their due time.
    pm_compliance: Option<f64>,
}

/// Availability, MTBF, MTTR and preventive-maintenance compliance over the last days.
#[utoipa::path(tag = "equipment", params(KpiParams), responses((status = 200, description = "KPIs", body = KpiView)), security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/kpis")]
async fn api_kpis(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<KpiParams>,
) -> Result<HttpResponse, AppError> {
    let days = q.days.unwrap_or(30).clamp(1, 3660);
    let to = crate::util::now_ms();
    let from = to - i64::from(days) * 86_400_000;
    let (kpis, pm) = svc::kpis(&ctx.app.store.read()?, q.equipment, from, to)?;
    Ok(HttpResponse::Ok().json(KpiView {
        days,
        kpis,
        pm_compliance: pm,
    }))
}

// ------------------------------------------------------------------ documents

/// A document with its traffic light today.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct DocView {
    #[serde(flatten)]
    pub doc: super::model::Document,
    #[schema(value_type = String)]
    pub status: crate::modules::safety::archive::model::Status,
}

pub(super) fn doc_views(
    ctx: &crate::web::context::Ctx,
    equipment: u64,
) -> Result<Vec<DocView>, AppError> {
    let today = crate::plant_time::today(ctx.app.offset);
    let v = super::viewer(&ctx.who);
    Ok(
        svc::documents::documents_of(&ctx.app.store.read()?, equipment, &v)?
            .into_iter()
            .map(|doc| DocView {
                status: svc::documents::status(&doc, today),
                doc,
            })
            .collect(),
    )
}

/// The documents of a piece of equipment the caller may see (restricted ones only to
/// their departments and roles), with each certificate's status (expired, expiring, valid).
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Equipment id")), responses(
    (status = 200, description = "Documents", body = Vec<DocView>)),
    security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/{id:\\d+}/documents")]
async fn api_documents(
    ctx: Need<grant::equipment::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    svc::scanned(&ctx.app.store.read()?, *id)?;
    Ok(HttpResponse::Ok().json(doc_views(&ctx, *id)?))
}

/// Multipart form of a document upload: its fields (as in `DocInput`; `departments` and
/// `roles` comma-separated) and the `file`.
pub(super) async fn read_document(
    mp: actix_multipart::Multipart,
) -> Result<(svc::documents::DocInput, Option<(String, Vec<u8>)>), AppError> {
    let max = svc::documents::MAX_DOC_BYTES;
    let (f, files) = crate::web::form::read_multipart(mp, max, max + (1 << 20)).await?;
    let list = |name: &str| -> Vec<String> {
        f.all(name)
            .iter()
            .flat_map(|v| v.split([',', '，']))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let departments = list("departments")
        .iter()
        .map(|d| {
            d.parse().map_err(|_| {
                crate::error::Error::invalid("departments", "equipment.err.department")
            })
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let input = svc::documents::DocInput {
        id: f.opt("id")?.unwrap_or(0),
        kind: super::model::DocKind::parse(f.get("kind")),
        title: f.get("title").into(),
        number: f.get("number").into(),
        due: Some(f.get("due").to_string()),
        warn_days: f.opt("warn_days")?,
        departments,
        roles: list("roles"),
        note: f.get("note").into(),
    };
    let file = files
        .into_iter()
        .find(|(field, _, b)| field == "file" && !b.is_empty())
        .map(|(_, n, b)| (n, b));
    Ok((input, file))
}

/// Uploads a document (multipart: `kind` — manual, drawing, certificate, report, other —,
/// `title`, `number`, `due` for certificates, `warn_days`, `departments`, `roles`, `note`,
/// and `file`: PDF, PNG, JPEG, WebP, DWG, DOCX or XLSX, checked by content; `id` adds a
/// version to an existing document).
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Equipment id")), responses(
    (status = 201, description = "Saved", body = super::model::Document),
    (status = 422, description = "Refused: the file is not what its name says, a certificate without its due date…")),
    security(("bearer" = ["equipment:write"])))]
#[post("/api/v1/equipment/{id:\\d+}/documents")]
async fn api_document_upload(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    mp: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    let (input, file) = read_document(mp).await?;
    let (eq, v) = (id.into_inner(), super::viewer(&ctx.who));
    let d = ctx
        .write(move |app, actor| {
            svc::documents::save_document(
                &app.store,
                actor,
                eq,
                input,
                file,
                &v,
                crate::util::now_ms(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(d))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct VersionParams {
    /// A version (default: the latest).
    version: Option<u32>,
}

/// A document's file (the latest version unless one is asked for).
#[utoipa::path(tag = "equipment", params(("doc" = u64, Path, description = "Document id"), VersionParams), responses(
    (status = 200, description = "The file"),
    (status = 404, description = "No such document, or not visible to the caller")),
    security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/documents/{doc}/file")]
async fn api_document_file(
    ctx: Need<grant::equipment::Read>,
    doc: web::Path<u64>,
    q: web::Query<VersionParams>,
) -> Result<HttpResponse, AppError> {
    let v = super::viewer(&ctx.who);
    let (meta, bytes) =
        svc::documents::file(&ctx.app.store.read()?, *doc, q.version.unwrap_or(0), &v)?;
    Ok(crate::modules::safety::archive::routes::file_response(
        meta, bytes,
    ))
}
