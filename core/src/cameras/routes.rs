//! Camera pages (`/integration/cameras`) and API (`/api/v1/cameras`), part of the data
//! integration module; snapshots are fetched through the box.

use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;

use super::Camera;
use crate::auth::model::Level;
use crate::secrets::Secret;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::form::FormData;
use crate::web::grant::{self, Either, Need};

const M: &str = "integration";

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `/integration/cameras/settings` before `/integration/cameras/{id}`
    super::video_routes::configure(cfg);
    cfg.service(list_page)
        .service(new_page)
        .service(create_submit)
        .service(snapshot)
        .service(stored_snap)
        .service(edit_page)
        .service(update_submit)
        .service(delete_submit)
        .service(api_list)
        .service(api_create)
        .service(api_get)
        .service(api_update)
        .service(api_delete)
        .service(api_snapshot);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_list, api_create, api_get, api_update, api_delete, api_snapshot))]
pub struct Doc;

fn list(ctx: &Ctx) -> Result<Vec<Camera>, AppError> {
    Ok(super::cameras(&ctx.app.store.read()?)?
        .iter()
        .map(Camera::redacted)
        .collect())
}

fn values(c: &Camera) -> serde_json::Value {
    serde_json::json!({
        "name": c.name, "area": c.area, "rtsp_url": c.rtsp_url, "snapshot_url": c.snapshot_url,
        "username": c.username, "password_set": c.password.is_set(), "enabled": if c.enabled { "on" } else { "" },
        "recording": c.recording.id(),
        "zones": c.zones.iter().map(|z| z.to_string()).collect::<Vec<_>>(),
    })
}

fn from_form(f: &FormData, id: u32) -> Camera {
    Camera {
        id,
        name: f.get("name").into(),
        area: f.get("area").into(),
        rtsp_url: f.get("rtsp_url").into(),
        snapshot_url: f.get("snapshot_url").into(),
        username: f.get("username").into(),
        password: match (f.get("password"), f.checked("password_clear")) {
            (_, true) => Secret::Empty,
            ("", false) => Secret::Keep,
            (p, false) => Secret::Plain(p.to_string()),
        },
        enabled: f.checked("enabled"),
        recording: super::Recording::parse(f.get("recording")).unwrap_or_default(),
        zones: f
            .all("zones")
            .iter()
            .filter(|z| !z.is_empty())
            .map(|z| z.parse().unwrap_or(u64::MAX))
            .collect(),
    }
}

#[get("/integration/cameras")]
async fn list_page(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    ctx.page(
        "integration/cameras.html",
        context! { cameras => to_value(&list(&ctx)?), can_write => ctx.who.can(M, Level::Write),
        statuses => to_value(&statuses(&ctx)?) },
    )
}

/// Each camera's stream status, in the order of the list (idle for a camera never pulled).
fn statuses(ctx: &Ctx) -> Result<Vec<super::video::Status>, AppError> {
    let all = ctx.app.video.statuses();
    Ok(list(ctx)?
        .iter()
        .map(|c| all.get(&c.id).cloned().unwrap_or_default())
        .collect())
}

#[get("/integration/cameras/new")]
async fn new_page(ctx: Need<grant::integration::Write>) -> Result<HttpResponse, AppError> {
    ctx.page(
        "integration/camera_form.html",
        context! { values => to_value(&serde_json::json!({"enabled": "on"})), zones => to_value(&zone_choices(&ctx)?) },
    )
}

async fn save(ctx: &Ctx, c: Camera) -> Result<Camera, AppError> {
    ctx.write(move |app, actor| super::save(&app.store, actor, c))
        .await
}

#[post("/integration/cameras")]
async fn create_submit(
    ctx: Need<grant::integration::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    ctx.done(
        save(&ctx, from_form(&f, 0))
            .await
            .map(|c| format!("/integration/cameras/{}", c.id)),
        "flash.saved",
        "integration/camera_form.html",
        || Ok(context! { values => to_value(&f.echo()), zones => to_value(&zone_choices(&ctx)?) }),
    )
}

#[derive(serde::Deserialize)]
struct PageQuery {
    /// The day of the recordings timeline (`YYYY-MM-DD`, default today).
    day: Option<String>,
    /// Play the recording from this moment (UTC ms) …
    play: Option<i64>,
    /// … to this one.
    until: Option<i64>,
    /// Why the export form was refused (a `cameras.err.*` key), and its times.
    export_error: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// A camera: its live view and status, the day's recordings on a timeline with playback
/// and export, and its settings.
#[get("/integration/cameras/{id:\\d+}")]
async fn edit_page(
    ctx: Need<grant::integration::Read>,
    id: web::Path<u32>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let c = super::camera(&ctx.app.store.read()?, *id)?;
    let day = q
        .day
        .as_deref()
        .and_then(crate::plant_time::parse_day)
        .unwrap_or_else(|| crate::plant_time::today(ctx.app.offset));
    let timeline = super::video_routes::day_timeline(&ctx, c.id, day)?;
    let play = q.play.map(|from| {
        let to = q
            .until
            .unwrap_or(from + 60_000)
            .min(from + super::video::record::MAX_CLIP_MS);
        serde_json::json!({ "from": from, "to": to })
    });
    ctx.page(
        "integration/camera_form.html",
        context! { camera => to_value(&c.redacted()), values => to_value(&values(&c)),
        can_write => ctx.who.can(M, Level::Write),
        status => to_value(&ctx.app.video.status(c.id)), timeline => to_value(&timeline),
        play => to_value(&play), zones => to_value(&zone_choices(&ctx)?),
        export_error => q.export_error.as_deref().filter(|k| ["time", "clip_order", "clip_long", "no_footage"].contains(k)),
        export_from => q.from.clone(), export_to => q.to.clone() },
    )
}

/// The plant map's zones a camera can cover.
fn zone_choices(ctx: &Ctx) -> Result<Vec<serde_json::Value>, AppError> {
    Ok(
        crate::modules::safety::people::service::zones(&ctx.app.store.read()?)?
            .iter()
            .map(|z| serde_json::json!({ "id": z.id, "name": z.name }))
            .collect(),
    )
}

#[post("/integration/cameras/{id:\\d+}")]
async fn update_submit(
    ctx: Need<grant::integration::Write>,
    id: web::Path<u32>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let before = super::camera(&ctx.app.store.read()?, *id)?;
    ctx.done(save(&ctx, from_form(&f, *id)).await.map(|c| format!("/integration/cameras/{}", c.id)), "flash.saved", "integration/camera_form.html", || {
let mut echo = f.echo();
            echo["password_set"] = before.password.is_set().into();
    Ok(context! { camera => to_value(&before.redacted()), values => to_value(&echo), can_write => true, zones => to_value(&zone_choices(&ctx)?) })
})
}

#[post("/integration/cameras/{id:\\d+}/delete")]
async fn delete_submit(
    ctx: Need<grant::integration::Write>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    ctx.write(move |app, actor| super::delete(&app.store, actor, id))
        .await?;
    Ok(redirect_with("/integration/cameras", Some("flash.deleted")))
}

fn image(content_type: &str, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type.to_string())
        .insert_header(("cache-control", "no-store"))
        .body(bytes)
}

/// Cameras are the data platform's; operators watching alarms see their area's too.
type Watch = Either<grant::integration::Read, grant::automation::Read>;

async fn live(ctx: &Need<Watch>, id: u32) -> Result<HttpResponse, AppError> {
    let c = super::camera(&ctx.app.store.read()?, id)?;
    if c.snapshot_url.is_empty() {
        // how the camera is set up, not a camera that failed to answer (502)
        return Err(crate::error::Error::conflict("cameras.err.no_snapshot").into());
    }
    let app = ctx.app.clone();
    let (ct, bytes) =
        blocking(move || super::fetch(&app.store, &c).map_err(super::fetch_error)).await?;
    Ok(image(&ct, bytes))
}

#[get("/integration/cameras/{id:\\d+}/snapshot")]
async fn snapshot(ctx: Need<Watch>, id: web::Path<u32>) -> Result<HttpResponse, AppError> {
    live(&ctx, *id).await
}

/// A snapshot taken when an alarm was raised.
#[get("/integration/camera-snaps/{ts:\\d+}/{camera:\\d+}")]
async fn stored_snap(
    ctx: Need<Watch>,
    path: web::Path<(i64, u32)>,
) -> Result<HttpResponse, AppError> {
    let (ts, cam) = path.into_inner();
    let (ct, bytes) = super::snap(&ctx.app.store.read()?, ts, cam)?;
    Ok(image(&ct, bytes))
}

/// Cameras (credentials shown only as set).
#[utoipa::path(tag = "cameras", responses((status = 200, description = "Cameras", body = Vec<Camera>)), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/cameras")]
async fn api_list(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(list(&ctx)?))
}

/// Adds a camera (`id` ignored). `password`: a string sets it.
#[utoipa::path(tag = "cameras", request_body = Camera, responses(
    (status = 201, description = "Created", body = Camera), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["integration:write"])))]
#[post("/api/v1/cameras")]
async fn api_create(
    ctx: Need<grant::integration::Write>,
    body: web::Json<Camera>,
) -> Result<HttpResponse, AppError> {
    let c = save(
        &ctx,
        Camera {
            id: 0,
            ..body.into_inner()
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(c.redacted()))
}

#[utoipa::path(tag = "cameras", params(("id" = u32, Path, description = "Camera id")), responses(
    (status = 200, description = "The camera", body = Camera), (status = 404, description = "No such camera")), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/cameras/{id:\\d+}")]
async fn api_get(
    ctx: Need<grant::integration::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(super::camera(&ctx.app.store.read()?, *id)?.redacted()))
}

/// Replaces a camera; `{"set": true}` keeps the stored password.
#[utoipa::path(tag = "cameras", params(("id" = u32, Path, description = "Camera id")), request_body = Camera, responses(
    (status = 200, description = "Updated", body = Camera), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["integration:write"])))]
#[put("/api/v1/cameras/{id:\\d+}")]
async fn api_update(
    ctx: Need<grant::integration::Write>,
    id: web::Path<u32>,
    body: web::Json<Camera>,
) -> Result<HttpResponse, AppError> {
    let c = save(
        &ctx,
        Camera {
            id: *id,
            ..body.into_inner()
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(c.redacted()))
}

#[utoipa::path(tag = "cameras", params(("id" = u32, Path, description = "Camera id")), responses(
    (status = 204, description = "Deleted"), (status = 404, description = "No such camera")), security(("bearer" = ["integration:write"])))]
#[delete("/api/v1/cameras/{id:\\d+}")]
async fn api_delete(
    ctx: Need<grant::integration::Write>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    ctx.write(move |app, actor| super::delete(&app.store, actor, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A snapshot from the camera now (the image the camera returns).
#[utoipa::path(tag = "cameras", params(("id" = u32, Path, description = "Camera id")), responses(
    (status = 200, description = "JPEG or PNG", content_type = "image/jpeg"),
    (status = 502, description = "The camera did not answer with an image")), security(("bearer" = ["integration:read"]), ("bearer" = ["automation:read"])))]
#[get("/api/v1/cameras/{id:\\d+}/snapshot")]
async fn api_snapshot(ctx: Need<Watch>, id: web::Path<u32>) -> Result<HttpResponse, AppError> {
    live(&ctx, *id).await
}
