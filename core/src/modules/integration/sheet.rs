//! Tags to and from spreadsheets (`/integration/tag-sheet`, `/api/v1/tag-sheet`): export as
//! CSV or Excel in the columns the import reads, and import with a report per bad row.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::Deserialize;

use super::routes::{TagFilter, tag_views};
use crate::auth::model::Level;
use crate::tags::io;
use crate::web::context::to_value;
use crate::web::error::{AppError, blocking};
use crate::web::export::{self, SheetUpload};
use crate::web::grant::{self, Need};

const M: &str = "integration";
/// Largest sheet accepted (100,000 rows of tags fit in far less).
const MAX_BYTES: usize = 32 << 20;

#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct SheetQuery {
    /// `csv` (default) or `xlsx`.
    #[serde(default)]
    pub format: Option<String>,
    /// Only this plant area.
    #[serde(default)]
    pub area: Option<String>,
    /// Only this device.
    #[serde(default)]
    pub device: Option<u32>,
    /// Text in name, description or equipment.
    #[serde(default)]
    pub q: Option<String>,
}

async fn export_sheet(
    ctx: &Need<grant::integration::Read>,
    q: &SheetQuery,
) -> Result<HttpResponse, AppError> {
    let format = export::Format::parse(q.format.as_deref());
    let filter = TagFilter {
        area: q.area.clone(),
        device: q.device,
        q: q.q.clone(),
    };
    let tags: Vec<_> = tag_views(&ctx.app, &filter)
        .into_iter()
        .map(|v| v.tag)
        .collect();
    let devices = crate::tags::service::devices(&ctx.app.store.read()?)?;
    let lang = ctx.lang;
    let bytes = blocking(move || io::table(lang, &tags, &devices).bytes(format)).await?;
    Ok(export::attachment("tags", format, bytes))
}

#[get("/integration/tag-sheet")]
async fn page(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    ctx.page(
        "integration/tag_sheet.html",
        context! { can_write => ctx.who.can(M, Level::Write), columns => io::COLUMNS.to_vec() },
    )
}

#[get("/integration/tag-sheet/export")]
async fn export_page(
    ctx: Need<grant::integration::Read>,
    q: web::Query<SheetQuery>,
) -> Result<HttpResponse, AppError> {
    export_sheet(&ctx, &q).await
}

async fn run_import(
    ctx: &Need<grant::integration::Write>,
    mp: Multipart,
) -> Result<io::Imported, AppError> {
    let (_, bytes) = crate::web::form::read_upload(mp, MAX_BYTES).await?;
    super::routes::reconfigure(ctx, move |app, actor| {
        io::import(&app.store, actor, io::parse(&bytes)?)
    })
    .await
}

#[post("/integration/tag-sheet")]
async fn import_submit(
    ctx: Need<grant::integration::Write>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    match run_import(&ctx, mp).await {
        Ok(done) => ctx.page(
            "integration/tag_sheet.html",
            context! { can_write => true, columns => io::COLUMNS.to_vec(), done => to_value(&done) },
        ),
        Err(e) => match export::refused_rows(&e, ctx.lang) {
            Some(rows) => {
                let c = context! { can_write => true, columns => io::COLUMNS.to_vec(), rows => to_value(&rows) };
                ctx.form_error("integration/tag_sheet.html", c, e)
            }
            None => Err(e),
        },
    }
}

/// The tags as a spreadsheet (columns as the import reads them).
#[utoipa::path(tag = "tags", params(SheetQuery), responses((status = 200, description = "CSV or Excel file")), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/tag-sheet")]
async fn api_export(
    ctx: Need<grant::integration::Read>,
    q: web::Query<SheetQuery>,
) -> Result<HttpResponse, AppError> {
    export_sheet(&ctx, &q).await
}

/// Imports tags from a sheet (multipart field `file`): new names are created, existing
/// ones replaced. All rows or none: on errors `error.rows` lists each bad row (sheet row
/// number), its field and the reason.
#[utoipa::path(tag = "tags", request_body(content = inline(SheetUpload), content_type = "multipart/form-data"), responses(
    (status = 200, description = "Imported", body = io::Imported),
    (status = 422, description = "Rows break rules; nothing was imported")), security(("bearer" = ["integration:write"])))]
#[post("/api/v1/tag-sheet")]
async fn api_import(
    ctx: Need<grant::integration::Write>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
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
