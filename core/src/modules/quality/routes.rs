//! JSON API of 质量管理: test items and formulas (with a check that saves nothing),
//! sampling points, specifications, samples (results, decisions), nonconformance reports
//! and SPC.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};

use super::model::{
    FormulaVersion, Nonconformance, Sample, SampleState, SamplingPoint, Spec, TestItem,
};
use super::service::{self as svc, Checked, NcrInput, NewSample, ResultInput, SampleAction};
use crate::error::Error;
use crate::web::error::AppError;
use crate::web::grant::{self, Need};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(api_items)
        .service(api_item_create)
        .service(api_item_update)
        .service(api_formulas)
        .service(api_formula_save)
        .service(api_formula_check)
        .service(api_points)
        .service(api_point_create)
        .service(api_specs)
        .service(api_spec_create)
        .service(api_spec_update)
        .service(api_samples)
        .service(api_sample_create)
        .service(api_sample)
        .service(api_sample_results)
        .service(api_results_import)
        .service(api_sample_action)
        .service(api_ncrs)
        .service(api_ncr_update)
        .service(api_spc);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_items,
    api_item_create,
    api_item_update,
    api_formulas,
    api_formula_save,
    api_formula_check,
    api_points,
    api_point_create,
    api_specs,
    api_spec_create,
    api_spec_update,
    api_samples,
    api_sample_create,
    api_sample,
    api_sample_results,
    api_results_import,
    api_sample_action,
    api_ncrs,
    api_ncr_update,
    api_spc
))]
pub struct Doc;

pub fn now(app: &crate::app::App) -> svc::Now {
    svc::Now {
        ms: crate::util::now_ms(),
        today: crate::plant_time::today(app.offset),
    }
}

// ------------------------------------------------------------------ items and formulas

/// Test items (with their formulas).
#[utoipa::path(tag = "quality", responses((status = 200, description = "Items", body = Vec<TestItem>)), security(("bearer" = ["quality:read"])))]
#[get("/api/v1/quality/items")]
async fn api_items(ctx: Need<grant::quality::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::items(&ctx.app.store.read()?)?))
}

/// Creates a test item. A formula is refused with its position when it does not parse,
/// names an unknown keyword or closes a cycle.
#[utoipa::path(tag = "quality", request_body = TestItem, responses(
    (status = 201, description = "Created", body = TestItem),
    (status = 422, description = "Refused; `error.field` names the input, formula errors their position")),
    security(("bearer" = ["quality:write"])))]
#[post("/api/v1/quality/items")]
async fn api_item_create(
    ctx: Need<grant::quality::Write>,
    body: web::Json<TestItem>,
) -> Result<HttpResponse, AppError> {
    let mut x = body.into_inner();
    x.id = 0;
    let saved = ctx
        .write(move |app, actor| svc::save_item(&app.store, actor, x, now(app)))
        .await?;
    Ok(HttpResponse::Created().json(saved))
}

/// Changes a test item. Renaming its keyword rewrites the formulas that use it (each a new
/// version); deactivating an item a formula reads is refused.
#[utoipa::path(tag = "quality", params(("id" = u64, Path, description = "Item id")), request_body = TestItem, responses(
    (status = 200, description = "Saved", body = TestItem),
    (status = 409, description = "Still read by a formula"),
    (status = 422, description = "Refused")),
    security(("bearer" = ["quality:write"])))]
#[put("/api/v1/quality/items/{id}")]
async fn api_item_update(
    ctx: Need<grant::quality::Write>,
    id: web::Path<u64>,
    body: web::Json<TestItem>,
) -> Result<HttpResponse, AppError> {
    let mut x = body.into_inner();
    x.id = id.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::save_item(&app.store, actor, x, now(app)))
            .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct FormulaParams {
    /// Only this item's versions.
    item: Option<u64>,
}

/// Every version of the formulas (who changed what, when), newest first.
#[utoipa::path(tag = "quality", params(FormulaParams), responses((status = 200, description = "Versions", body = Vec<FormulaVersion>)), security(("bearer" = ["quality:read"])))]
#[get("/api/v1/quality/formulas")]
async fn api_formulas(
    ctx: Need<grant::quality::Read>,
    q: web::Query<FormulaParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::formula_versions(&ctx.app.store.read()?, q.item)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct FormulaInput {
    /// The item it computes.
    item: u64,
    /// Empty removes the formula (a new version, audited as a deletion).
    formula: String,
}

/// Sets (or removes) an item's formula: a new version, audited.
#[utoipa::path(tag = "quality", request_body = FormulaInput, responses(
    (status = 200, description = "Saved", body = TestItem),
    (status = 422, description = "The formula is refused, with its position")),
    security(("bearer" = ["quality:write"])))]
#[post("/api/v1/quality/formulas")]
async fn api_formula_save(
    ctx: Need<grant::quality::Write>,
    body: web::Json<FormulaInput>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| {
            let mut it = svc::item(&app.store.read()?, b.item)?;
            it.formula = b.formula;
            svc::save_item(&app.store, actor, it, now(app))
        })
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct CheckInput {
    formula: String,
    /// Values of its keywords; without them the formula is only parsed.
    #[serde(default)]
    values: BTreeMap<String, f64>,
}

/// Parses a formula and, given values, evaluates it. Nothing is saved.
#[utoipa::path(tag = "quality", request_body = CheckInput, responses(
    (status = 200, description = "Its inputs and value", body = Checked),
    (status = 422, description = "A syntax error, unknown keyword or evaluation error, with its position")),
    security(("bearer" = ["quality:read"])))]
#[post("/api/v1/quality/formulas/check")]
async fn api_formula_check(
    ctx: Need<grant::quality::Read>,
    body: web::Json<CheckInput>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    Ok(HttpResponse::Ok().json(svc::check_formula(
        &ctx.app.store.read()?,
        &b.formula,
        &b.values,
    )?))
}

// ------------------------------------------------------------------ points and specs

/// Sampling points.
#[utoipa::path(tag = "quality", responses((status = 200, description = "Points", body = Vec<SamplingPoint>)), security(("bearer" = ["quality:read"])))]
#[get("/api/v1/quality/points")]
async fn api_points(ctx: Need<grant::quality::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::points(&ctx.app.store.read()?)?))
}

/// Creates or changes (with `id`) a sampling point.
#[utoipa::path(tag = "quality", request_body = SamplingPoint, responses(
    (status = 200, description = "Saved", body = SamplingPoint), (status = 422, description = "Refused")),
    security(("bearer" = ["quality:write"])))]
#[post("/api/v1/quality/points")]
async fn api_point_create(
    ctx: Need<grant::quality::Write>,
    body: web::Json<SamplingPoint>,
) -> Result<HttpResponse, AppError> {
    let x = body.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::save_point(&app.store, actor, x))
            .await?,
    ))
}

/// Specifications.
#[utoipa::path(tag = "quality", responses((status = 200, description = "Specifications", body = Vec<Spec>)), security(("bearer" = ["quality:read"])))]
#[get("/api/v1/quality/specs")]
async fn api_specs(ctx: Need<grant::quality::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::specs(&ctx.app.store.read()?)?))
}

/// Creates a specification (one per material, grade, customer and stage).
#[utoipa::path(tag = "quality", request_body = Spec, responses(
    (status = 201, description = "Created", body = Spec), (status = 422, description = "Refused")),
    security(("bearer" = ["quality:write"])))]
#[post("/api/v1/quality/specs")]
async fn api_spec_create(
    ctx: Need<grant::quality::Write>,
    body: web::Json<Spec>,
) -> Result<HttpResponse, AppError> {
    let mut x = body.into_inner();
    x.id = 0;
    let s = ctx
        .write(move |app, actor| svc::save_spec(&app.store, actor, x))
        .await?;
    Ok(HttpResponse::Created().json(s))
}

/// Changes a specification.
#[utoipa::path(tag = "quality", params(("id" = u64, Path, description = "Specification id")), request_body = Spec, responses(
    (status = 200, description = "Saved", body = Spec), (status = 422, description = "Refused")),
    security(("bearer" = ["quality:write"])))]
#[put("/api/v1/quality/specs/{id}")]
async fn api_spec_update(
    ctx: Need<grant::quality::Write>,
    id: web::Path<u64>,
    body: web::Json<Spec>,
) -> Result<HttpResponse, AppError> {
    let mut x = body.into_inner();
    x.id = id.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::save_spec(&app.store, actor, x))
            .await?,
    ))
}

// ------------------------------------------------------------------ samples

#[derive(Deserialize, utoipa::IntoParams)]
struct SampleParams {
    /// `pending`, `passed`, `failed`, `released`, `rejected`, `concession`, `retested`;
    /// `nonconforming` for failed, rejected and concession together.
    state: Option<String>,
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    lot: Option<u64>,
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    material: Option<u64>,
}

/// Samples, newest first, filtered by state, lot or material.
#[utoipa::path(tag = "quality", params(SampleParams), responses((status = 200, description = "Samples", body = Vec<Sample>)), security(("bearer" = ["quality:read"])))]
#[get("/api/v1/quality/samples")]
async fn api_samples(
    ctx: Need<grant::quality::Read>,
    q: web::Query<SampleParams>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(filtered(&ctx.app.store.read()?, &q)?))
}

fn filtered(r: &impl crate::store::Reader, q: &SampleParams) -> Result<Vec<Sample>, Error> {
    let state = q.state.as_deref().filter(|s| !s.is_empty());
    Ok(svc::samples(r)?
        .into_iter()
        .filter(|s| match state {
            Some("nonconforming") => matches!(
                s.state,
                SampleState::Failed | SampleState::Rejected | SampleState::Concession
            ),
            Some(st) => s.state.id() == st,
            None => true,
        })
        .filter(|s| q.lot.is_none_or(|l| s.lot == Some(l)))
        .filter(|s| q.material.is_none_or(|m| s.material == m))
        .collect())
}

/// Takes a sample by hand; its lot is held in inventory while it is open.
#[utoipa::path(tag = "quality", request_body = NewSample, responses(
    (status = 201, description = "Created", body = Sample), (status = 422, description = "Refused")),
    security(("bearer" = ["quality:write"])))]
#[post("/api/v1/quality/samples")]
async fn api_sample_create(
    ctx: Need<grant::quality::Write>,
    body: web::Json<NewSample>,
) -> Result<HttpResponse, AppError> {
    let x = body.into_inner();
    let s = ctx
        .write(move |app, actor| svc::create_sample(&app.store, actor, x, now(app)))
        .await?;
    Ok(HttpResponse::Created().json(s))
}

/// A sample with its results and verdicts.
#[utoipa::path(tag = "quality", params(("id" = u64, Path, description = "Sample id")), responses(
    (status = 200, description = "The sample", body = Sample), (status = 404, description = "No such sample")),
    security(("bearer" = ["quality:read"])))]
#[get("/api/v1/quality/samples/{id}")]
async fn api_sample(
    ctx: Need<grant::quality::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::sample(&ctx.app.store.read()?, *id)?))
}

/// Enters results (by item keyword or id): the formula items are computed, every item and
/// the sample judged; a failure opens a nonconformance report. Refused, changing nothing:
/// a value outside the item's plausible range, a computed item, a decided sample.
#[utoipa::path(tag = "quality", params(("id" = u64, Path, description = "Sample id")), request_body = Vec<ResultInput>, responses(
    (status = 200, description = "The sample, judged", body = Sample),
    (status = 409, description = "The sample is decided"),
    (status = 422, description = "A value refused; the message names the item")),
    security(("bearer" = ["quality:write"])))]
#[post("/api/v1/quality/samples/{id}/results")]
async fn api_sample_results(
    ctx: Need<grant::quality::Write>,
    id: web::Path<u64>,
    body: web::Json<Vec<ResultInput>>,
) -> Result<HttpResponse, AppError> {
    let (id, input) = (id.into_inner(), body.into_inner());
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::enter_results(&app.store, actor, id, input, now(app)))
            .await?,
    ))
}

/// The columns of an instrument's results file.
const IMPORT_COLUMNS: &[&str] = &["sample", "item", "value"];

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ResultsUpload {
    /// A .csv or .xlsx file with a header row `sample,item,value` (sample number, item
    /// keyword, result), one result a row.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ImportedResults {
    /// Results entered.
    entered: usize,
}

/// Enters results from an instrument's export (CSV or Excel: `sample,item,value`). The
/// file is refused, naming each row at fault, unless every row is good; nothing is entered
/// then.
#[utoipa::path(tag = "quality", request_body(content = ResultsUpload, content_type = "multipart/form-data"), responses(
    (status = 200, description = "Entered", body = ImportedResults),
    (status = 422, description = "Rows refused (`error.rows`: row, field, message); nothing entered")),
    security(("bearer" = ["quality:write"])))]
#[post("/api/v1/quality/samples/import")]
async fn api_results_import(
    ctx: Need<grant::quality::Write>,
    mp: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    let entered = import_upload(&ctx, mp).await?;
    Ok(HttpResponse::Ok().json(ImportedResults { entered }))
}

/// Reads an uploaded instrument file (field `file`, up to 2 MiB, CSV or Excel) and enters
/// its results; the console's upload and the API share it.
pub(super) async fn import_upload(
    ctx: &Need<grant::quality::Write>,
    mp: actix_multipart::Multipart,
) -> Result<usize, AppError> {
    let (_, bytes) = crate::web::form::read_upload(mp, 2 << 20).await?;
    ctx.write(move |app, actor| {
        let rows = crate::web::export::read_table(
            &bytes,
            IMPORT_COLUMNS,
            "quality.import",
            "sample",
            10_000,
        )?
        .into_iter()
        .map(|(row, cells)| {
            let get = |k: &str| cells.get(k).cloned().unwrap_or_default();
            (row, get("sample"), get("item"), get("value"))
        })
        .collect();
        svc::import_results(&app.store, actor, rows, now(app))
    })
    .await
}

/// Decides a sample: `release` (passed), `concession` (failed, with the reason), `reject`,
/// `retest` (failed: a new sample replaces it). Needs the quality approve grant. Release
/// and concession release the lot in inventory; reject marks it 不合格.
#[utoipa::path(tag = "quality", params(("id" = u64, Path, description = "Sample id")), request_body = SampleAction, responses(
    (status = 200, description = "Decided", body = Sample),
    (status = 403, description = "Without the quality approve grant"),
    (status = 409, description = "Not possible in the sample's state")),
    security(("bearer" = ["quality:approve"])))]
#[post("/api/v1/quality/samples/{id}/actions")]
async fn api_sample_action(
    ctx: Need<grant::quality::Approve>,
    id: web::Path<u64>,
    body: web::Json<SampleAction>,
) -> Result<HttpResponse, AppError> {
    let (id, a) = (id.into_inner(), body.into_inner());
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::act(&app.store, actor, id, a, now(app)))
            .await?,
    ))
}

// ------------------------------------------------------------------ nonconformance

/// Nonconformance reports, newest first.
#[utoipa::path(tag = "quality", responses((status = 200, description = "Reports", body = Vec<Nonconformance>)), security(("bearer" = ["quality:read"])))]
#[get("/api/v1/quality/ncrs")]
async fn api_ncrs(ctx: Need<grant::quality::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::ncrs(&ctx.app.store.read()?)?))
}

/// Records cause, disposition and corrective action; `close` closes the report.
#[utoipa::path(tag = "quality", params(("id" = u64, Path, description = "Report id")), request_body = NcrInput, responses(
    (status = 200, description = "Saved", body = Nonconformance),
    (status = 409, description = "Already closed"), (status = 422, description = "Refused")),
    security(("bearer" = ["quality:approve"])))]
#[post("/api/v1/quality/ncrs/{id}")]
async fn api_ncr_update(
    ctx: Need<grant::quality::Approve>,
    id: web::Path<u64>,
    body: web::Json<NcrInput>,
) -> Result<HttpResponse, AppError> {
    let (id, x) = (id.into_inner(), body.into_inner());
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| svc::update_ncr(&app.store, actor, id, x, now(app)))
            .await?,
    ))
}

// ------------------------------------------------------------------ SPC

#[derive(Deserialize, utoipa::IntoParams)]
struct SpcParams {
    item: u64,
    /// The material (product).
    product: u64,
    /// Unix ms; default: a year back.
    from: Option<i64>,
    to: Option<i64>,
    /// Subgroup size for the X̄-R chart (2–9; consecutive readings).
    n: Option<usize>,
    /// `receipt`, `intermediate` or `finished` (default): readings of one stage only.
    stage: Option<super::model::Stage>,
}

/// SPC of one item of one product: I-MR (and X̄-R) limits, Cp / Cpk against the plant's
/// specification, and the Western Electric rules broken.
#[utoipa::path(tag = "quality", params(SpcParams), responses((status = 200, description = "Charts and indices", body = svc::Spc)), security(("bearer" = ["quality:read"])))]
#[get("/api/v1/quality/spc")]
async fn api_spc(
    ctx: Need<grant::quality::Read>,
    q: web::Query<SpcParams>,
) -> Result<HttpResponse, AppError> {
    let to = q.to.unwrap_or_else(crate::util::now_ms);
    let from = q.from.unwrap_or(to.saturating_sub(366 * 86_400_000));
    let stage = q.stage.unwrap_or(super::model::Stage::Finished);
    let r = ctx.app.store.read()?;
    Ok(HttpResponse::Ok().json(svc::spc(&r, q.item, q.product, stage, from, to, q.n)?))
}
