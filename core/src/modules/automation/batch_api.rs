//! The API of units, batches, batch records and genealogy (`/api/v1/automation/…`).

use actix_web::{HttpResponse, get, post, put, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::batches::{self, Batch, LotMove, StartInput, Trigger, Unit};
use super::record;
use crate::web::error::AppError;
use crate::web::grant::{self, Need};

type Res = std::result::Result<HttpResponse, AppError>;

/// The units that run batches.
#[utoipa::path(tag = "automation", responses((status = 200, description = "Units", body = Vec<Unit>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/units")]
async fn api_units(ctx: Need<grant::automation::Read>) -> Res {
    Ok(HttpResponse::Ok().json(batches::units(&ctx.app.store.read()?)?))
}

/// Creates or replaces a unit (its phase tag and names, its batch-number tag, key tags,
/// default product).
#[utoipa::path(tag = "automation", params(("code" = String, Path, description = "Unit code")), request_body = Unit, responses(
    (status = 200, description = "Saved", body = Unit),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["automation:approve"])))]
#[put("/api/v1/automation/units/{code}")]
async fn api_unit_save(
    ctx: Need<grant::automation::Approve>,
    code: web::Path<String>,
    body: web::Json<Unit>,
) -> Res {
    let mut u = body.into_inner();
    u.code = code.into_inner();
    let saved = ctx
        .write(move |app, actor| save_unit(app, actor, u))
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// Saves a unit, its tags looked up in the tag engine and its product in inventory.
pub(super) fn save_unit(
    app: &crate::app::App,
    actor: &crate::store::Actor,
    u: Unit,
) -> crate::error::Result<Unit> {
    let defs = app.tags.defs();
    let (_, product_known) = super::recipes::lookups(app);
    batches::save_unit(
        &app.store,
        actor,
        u,
        &|t| defs.by_name(t).is_some(),
        &product_known,
    )
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ListQuery {
    /// Only this unit's batches.
    #[serde(default)]
    unit: Option<String>,
    /// `running`, `done`, `aborted`.
    #[serde(default)]
    state: Option<String>,
}

/// Batches, newest first.
#[utoipa::path(tag = "automation", params(ListQuery), responses((status = 200, description = "Batches", body = Vec<Batch>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/batches")]
async fn api_batches(ctx: Need<grant::automation::Read>, q: web::Query<ListQuery>) -> Res {
    let list: Vec<Batch> = batches::batches(&ctx.app.store.read()?)?
        .into_iter()
        .filter(|b| q.unit.as_ref().is_none_or(|u| *u == b.unit))
        .filter(|b| {
            q.state.as_ref().is_none_or(|s| {
                serde_json::to_value(b.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    == Some(s.clone())
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Starts a batch on a unit that runs none (by an operator).
#[utoipa::path(tag = "automation", request_body = StartInput, responses(
    (status = 201, description = "Started", body = Batch),
    (status = 409, description = "The unit runs another batch"),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/batches")]
async fn api_start(ctx: Need<grant::automation::Write>, body: web::Json<StartInput>) -> Res {
    let input = body.into_inner();
    let b = ctx
        .write(move |app, actor| {
            batches::start(
                &app.store,
                actor,
                input,
                Trigger::Operator,
                crate::util::now_ms(),
                crate::plant_time::today(app.offset),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(b))
}

#[derive(Deserialize, ToSchema)]
struct EndBody {
    /// Abort instead of ending as done.
    #[serde(default)]
    abort: bool,
}

/// Ends a running batch (done), or aborts it.
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Batch id")), request_body = EndBody, responses(
    (status = 200, description = "Ended", body = Batch), (status = 409, description = "Not running")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/batches/{id}/end")]
async fn api_end(
    ctx: Need<grant::automation::Write>,
    id: web::Path<u64>,
    body: Option<web::Json<EndBody>>,
) -> Res {
    let (id, abort) = (*id, body.is_some_and(|b| b.abort));
    let b = ctx
        .write(move |app, actor| batches::end(&app.store, actor, id, abort, crate::util::now_ms()))
        .await?;
    Ok(HttpResponse::Ok().json(b))
}

#[derive(Deserialize, ToSchema)]
struct PhaseBody {
    phase: String,
}

/// Moves a running batch to a phase by hand (units without a phase tag).
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Batch id")), request_body = PhaseBody, responses(
    (status = 200, description = "In the phase", body = Batch),
    (status = 409, description = "Not running, or the unit's phase tag sets phases"),
    (status = 422, description = "Not one of the unit's phases")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/batches/{id}/phase")]
async fn api_phase(
    ctx: Need<grant::automation::Write>,
    id: web::Path<u64>,
    body: web::Json<PhaseBody>,
) -> Res {
    let (id, phase) = (*id, body.into_inner().phase);
    let b = ctx
        .write(move |app, actor| {
            batches::set_phase(&app.store, actor, id, &phase, crate::util::now_ms())
        })
        .await?;
    Ok(HttpResponse::Ok().json(b))
}

/// Issues a material lot to a running batch (an inventory issue referencing the batch).
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Batch id")), request_body = LotMove, responses(
    (status = 200, description = "Issued", body = Batch),
    (status = 409, description = "Not running, or the movement waits for a second custodian"),
    (status = 422, description = "Inventory refuses it (held, expired, short…), with its reason")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/batches/{id}/issue")]
async fn api_issue(
    ctx: Need<grant::automation::Write>,
    id: web::Path<u64>,
    body: web::Json<LotMove>,
) -> Res {
    let (id, m) = (*id, body.into_inner());
    let b = ctx
        .write(move |app, actor| batches::issue(app, actor, id, m))
        .await?;
    Ok(HttpResponse::Ok().json(b))
}

/// Receives the batch's output lot into stock (once).
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Batch id")), request_body = LotMove, responses(
    (status = 200, description = "Received", body = Batch),
    (status = 409, description = "Aborted, or received already"),
    (status = 422, description = "Inventory refuses it, with its reason")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/batches/{id}/output")]
async fn api_output(
    ctx: Need<grant::automation::Write>,
    id: web::Path<u64>,
    body: web::Json<LotMove>,
) -> Res {
    let (id, m) = (*id, body.into_inner());
    let b = ctx
        .write(move |app, actor| batches::receive_output(app, actor, id, m))
        .await?;
    Ok(HttpResponse::Ok().json(b))
}

#[derive(Deserialize, ToSchema)]
struct SampleBody {
    /// The quality sampling point (default: the first finished-product point).
    #[serde(default)]
    point: Option<u64>,
}

/// Takes a sample of the batch's output lot (through the quality module).
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Batch id")), request_body = SampleBody, responses(
    (status = 200, description = "Sampled", body = Batch),
    (status = 409, description = "No output lot yet")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/batches/{id}/sample")]
async fn api_sample(
    ctx: Need<grant::automation::Write>,
    id: web::Path<u64>,
    body: Option<web::Json<SampleBody>>,
) -> Res {
    let (id, point) = (*id, body.and_then(|b| b.into_inner().point));
    let b = ctx
        .write(move |app, actor| batches::sample(app, actor, id, point))
        .await?;
    Ok(HttpResponse::Ok().json(b))
}

/// The batch record: recipe and download, phases with each key tag's min / max / mean,
/// alarms, operator actions, materials issued, output lot and samples.
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Batch id")), responses(
    (status = 200, description = "Record", body = record::BatchRecord), (status = 404, description = "No such batch")),
    security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/batches/{id}/record")]
async fn api_record(ctx: Need<grant::automation::Read>, id: web::Path<u64>) -> Res {
    let app = ctx.app.clone();
    let id = *id;
    let rec = web::block(move || record::assemble(&app, id))
        .await
        .map_err(|_| {
            crate::error::Error::Device(
                crate::i18n::Msg::new("tags.err.write_failed").arg("detail", "stopped"),
            )
        })??;
    Ok(HttpResponse::Ok().json(rec))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct LotQuery {
    /// A lot number.
    lot: String,
}

/// A lot's genealogy both ways: the batches that made it (and their lots in) and the batches
/// it went into (and their lots out).
#[utoipa::path(tag = "automation", params(LotQuery), responses((status = 200, description = "Genealogy", body = record::Genealogy)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/genealogy")]
async fn api_genealogy(ctx: Need<grant::automation::Read>, q: web::Query<LotQuery>) -> Res {
    Ok(HttpResponse::Ok().json(record::genealogy(&ctx.app.store.read()?, &q.lot)?))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(api_units)
        .service(api_unit_save)
        .service(api_batches)
        .service(api_start)
        .service(api_end)
        .service(api_phase)
        .service(api_issue)
        .service(api_output)
        .service(api_sample)
        .service(api_record)
        .service(api_genealogy);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_units,
    api_unit_save,
    api_batches,
    api_start,
    api_end,
    api_phase,
    api_issue,
    api_output,
    api_sample,
    api_record,
    api_genealogy
))]
pub struct Doc;
