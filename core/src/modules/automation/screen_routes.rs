//! Process screens' pages and API: the list, a screen live (desktop, `?wall=1` for wall
//! screens, phones), the drag-and-drop editor, backgrounds, the live stream, and every
//! unit's automatic table view. Set-point writes from a screen go through the tag write
//! API (`POST /api/v1/tags/{name}/write`) or, for critical tags, a write request — the
//! same rules as everywhere (`control.rs`).

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::screens::{self, Screen, ScreenInput, Show};
use crate::app::App;
use crate::auth::model::Level;
use crate::error::Error;
use crate::web::context::to_value;
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};
use crate::web::sse;

type Res = Result<HttpResponse, AppError>;

fn named(app: &App, s: Screen) -> Screen {
    let defs = app.tags.defs();
    screens::named(s, &|id| defs.get(id).cloned())
}

fn save(
    app: &App,
    actor: &crate::store::Actor,
    input: ScreenInput,
) -> crate::error::Result<Screen> {
    let defs = app.tags.defs();
    let s = screens::save(
        &app.store,
        actor,
        input,
        &|n| defs.by_name(n).cloned(),
        crate::util::now_ms(),
    )?;
    Ok(named(app, s))
}

// ------------------------------------------------------------------ API

/// Every process screen with its bindings.
#[utoipa::path(tag = "automation", responses((status = 200, description = "Screens", body = Vec<Screen>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/screens")]
async fn api_list(ctx: Need<grant::automation::Read>) -> Res {
    let list: Vec<Screen> = screens::screens(&ctx.app.store.read()?)?
        .into_iter()
        .map(|s| named(&ctx.app, s))
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// One screen.
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Screen id")), responses((status = 200, description = "The screen", body = Screen), (status = 404, description = "No such screen")), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/screens/{id}")]
async fn api_get(ctx: Need<grant::automation::Read>, id: web::Path<u64>) -> Res {
    let s = screens::screen(&ctx.app.store.read()?, *id)?;
    Ok(HttpResponse::Ok().json(named(&ctx.app, s)))
}

/// Creates a screen (no `id`) or saves one (`id` and the `version` it was loaded at):
/// `{"name": "R101 反应釜", "unit": "R101", "bindings": [{"tag": "R101.TT101", "show":
/// "value", "x": 42.5, "y": 30, "label": "TT101"}]}`. `show` is `value`, `state`, `bar`
/// (needs the tag's range), `trend` or `alarm`; `x`, `y` are percent of the background.
#[utoipa::path(tag = "automation", request_body = ScreenInput, responses(
    (status = 200, description = "Saved", body = Screen),
    (status = 404, description = "No such screen"),
    (status = 409, description = "Saved by someone else since `version`"),
    (status = 422, description = "A binding names an unknown tag, sits outside, or does not suit its tag; nothing saved")),
    security(("bearer" = ["automation:approve"])))]
#[post("/api/v1/automation/screens")]
async fn api_save(ctx: Need<grant::automation::Approve>, body: web::Json<ScreenInput>) -> Res {
    let input = body.into_inner();
    let s = ctx.write(move |app, actor| save(app, actor, input)).await?;
    Ok(HttpResponse::Ok().json(s))
}

/// Deletes a screen and its background.
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Screen id")), responses((status = 204, description = "Deleted"), (status = 404, description = "No such screen")), security(("bearer" = ["automation:approve"])))]
#[delete("/api/v1/automation/screens/{id}")]
async fn api_delete(ctx: Need<grant::automation::Approve>, id: web::Path<u64>) -> Res {
    let id = *id;
    ctx.write(move |app, actor| screens::delete(&app.store, actor, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Puts a background behind a screen: the request body is an SVG drawing or a PNG, JPEG or
/// WebP picture (at most 4 MiB). An SVG carrying scripts, event handlers, external
/// references or entity declarations is refused with what it carries.
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Screen id")), request_body(content = Vec<u8>, content_type = "image/svg+xml"), responses(
    (status = 200, description = "Saved", body = Screen),
    (status = 422, description = "Not a picture, or an SVG that runs or loads something; nothing saved")),
    security(("bearer" = ["automation:approve"])))]
#[put("/api/v1/automation/screens/{id}/background")]
async fn api_background(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u64>,
    payload: web::Payload,
) -> Res {
    let bytes = crate::web::form::read_body(payload, screens::MAX_IMAGE).await?;
    let id = *id;
    let s = ctx
        .write(move |app, actor| {
            let s = screens::set_background(&app.store, actor, id, bytes, crate::util::now_ms())?;
            Ok(named(app, s))
        })
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// A screen's live values as Server-Sent Events: first `snapshot` (`values`: tag → [value,
/// quality, time]; `alarms`: tag → [priority, waiting for an operator, active]; `trends`: tag →
/// [[time, value]…] over the last ten minutes), then once a second `changes` with what
/// changed (an alarm that cleared comes as null), and `alive` after 5 s without a change
/// (a viewer that hears nothing for longer marks every value as lost).
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Screen id")), responses(
    (status = 200, description = "text/event-stream", content_type = "text/event-stream", body = String)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/screens/{id}/stream")]
async fn api_stream(ctx: Need<grant::automation::Read>, id: web::Path<u64>) -> Res {
    let s = screens::screen(&ctx.app.store.read()?, *id)?;
    let defs = ctx.app.tags.defs();
    let mut tags: Vec<(u32, String)> = Vec::new();
    for b in &s.bindings {
        if let Some(t) = defs.get(b.tag_id)
            && !tags.iter().any(|(id, _)| *id == t.id)
        {
            tags.push((t.id, t.name.clone()));
        }
    }
    let trends: Vec<u32> = s
        .bindings
        .iter()
        .filter(|b| b.show == Show::Trend)
        .map(|b| b.tag_id)
        .collect();
    let app = ctx.app.clone().into_inner();
    let mut feed = screens::live::Feed::new(app.tags.clone(), app.alarms.clone(), tags);
    let hist = app.historian.clone();
    let first = web::block(move || {
        let snap = feed.snapshot(&hist, &trends, crate::util::now_ms());
        (feed, snap)
    })
    .await
    .map_err(|_| AppError::internal())?;
    let (feed, snap) = first;
    let snapshot = sse::event("snapshot", &snap);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let updates = futures_util::stream::unfold(
        (feed, tick, 0u32),
        |(mut feed, mut tick, mut quiet)| async move {
            loop {
                tick.tick().await;
                if let Some(f) = feed.frame() {
                    return Some((
                        Ok::<_, actix_web::Error>(sse::event("changes", &f)),
                        (feed, tick, 0),
                    ));
                }
                // a quiet screen still hears from the box every 5 s, so a viewer can tell
                // a steady process from a dead connection
                quiet += 1;
                if quiet >= 5 {
                    return Some((Ok(sse::event("alive", &())), (feed, tick, 0)));
                }
            }
        },
    );
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(snapshot) }),
        updates,
    );
    Ok(sse::response(stream))
}

// ------------------------------------------------------------------ pages

/// What the page's script needs of each bound tag: unit, resolution, range, whether this
/// person may write it and whether it takes two people.
fn screen_data(
    ctx: &Need<grant::automation::Read>,
    s: &Screen,
) -> Result<serde_json::Value, AppError> {
    let defs = ctx.app.tags.defs();
    let r = ctx.app.store.read()?;
    let rules = super::control::rules(&r)?;
    let can_write = ctx.who.can("automation", Level::Write);
    // a unit's phase tag shows the phase's name (its value is the phase's number)
    let phases: Vec<(String, Vec<String>)> = super::batches::units(&r)?
        .into_iter()
        .filter(|u| !u.phase_tag.is_empty())
        .map(|u| (u.phase_tag, u.phases))
        .collect();
    let mut tags = serde_json::Map::new();
    for b in &s.bindings {
        let Some(t) = defs.get(b.tag_id) else {
            continue;
        };
        let critical = rules.iter().any(|r| r.tag_id == t.id && r.critical);
        let states = phases
            .iter()
            .find(|(tag, _)| *tag == t.name)
            .map(|(_, names)| names.clone())
            .unwrap_or_default();
        tags.insert(
            t.name.clone(),
            json!({
                "unit": t.unit,
                "description": if ctx.lang == crate::i18n::Lang::En { &t.description_en } else { &t.description_zh },
                "type": t.data_type,
                "resolution": t.resolution,
                "lo": t.range_lo,
                "hi": t.range_hi,
                "writable": t.writable && can_write,
                "critical": critical,
                "states": states,
            }),
        );
    }
    Ok(json!({
        "id": s.id,
        "version": s.version,
        "name": s.name,
        "unit": s.unit,
        "bindings": s.bindings,
        "tags": tags,
    }))
}

#[get("/automation/screens")]
async fn list_page(ctx: Need<grant::automation::Read>) -> Res {
    let c = list_ctx(&ctx, json!({}))?;
    ctx.page("automation/screens.html", c)
}

fn list_ctx(
    ctx: &Need<grant::automation::Read>,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    Ok(context! {
        screens => to_value(&screens::screens(&r)?),
        units => to_value(&super::batches::units(&r)?),
        can_edit => ctx.who.can("automation", Level::Approve),
        values => to_value(&values),
    })
}

/// A new screen from the list's form: a name and the unit; then the editor.
#[post("/automation/screens")]
async fn create_submit(
    ctx: Need<grant::automation::Read>,
    form: web::Form<Vec<(String, String)>>,
) -> Res {
    ctx.require("automation", Level::Approve)?;
    let f = FormData::from(form);
    let input = ScreenInput::new(f.get("name"), f.get("unit"), Vec::new());
    let r = ctx.write(move |app, actor| save(app, actor, input)).await;
    ctx.done(
        r.map(|s| format!("/automation/screens/{}/edit", s.id)),
        "flash.saved",
        "automation/screens.html",
        || list_ctx(&ctx, f.echo()),
    )
}

#[derive(Deserialize)]
struct ViewQuery {
    #[serde(default)]
    wall: Option<String>,
}

#[get("/automation/screens/{id}")]
async fn view_page(
    ctx: Need<grant::automation::Read>,
    id: web::Path<u64>,
    q: web::Query<ViewQuery>,
) -> Res {
    let s = named(&ctx.app, screens::screen(&ctx.app.store.read()?, *id)?);
    let data = screen_data(&ctx, &s)?;
    let wall = q.wall.as_deref().is_some_and(|w| w == "1");
    let mut c = context! {
        screen => to_value(&s),
        data => to_value(&data),
        wall => wall,
        can_edit => ctx.who.can("automation", Level::Approve),
        can_write => ctx.who.can("automation", Level::Write),
    };
    if wall {
        // a wall screen shows the process, not the menu
        c = context! { nav => (), ..c };
    }
    ctx.page("automation/screen.html", c)
}

fn edit_ctx(ctx: &Need<grant::automation::Read>, id: u64) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let s = named(&ctx.app, screens::screen(&r, id)?);
    let data = screen_data(ctx, &s)?;
    let names = ctx.app.tags.defs().sorted_names(|_| true);
    Ok(context! {
        screen => to_value(&s),
        data => to_value(&data),
        tag_names => names,
        units => to_value(&super::batches::units(&r)?),
    })
}

#[get("/automation/screens/{id}/edit")]
async fn edit_page(ctx: Need<grant::automation::Read>, id: web::Path<u64>) -> Res {
    ctx.require("automation", Level::Approve)?;
    let c = edit_ctx(&ctx, *id)?;
    ctx.page("automation/screen_edit.html", c)
}

/// The editor's background form (multipart, field `file`).
#[post("/automation/screens/{id}/background")]
async fn background_submit(
    ctx: Need<grant::automation::Read>,
    id: web::Path<u64>,
    mp: Multipart,
) -> Res {
    ctx.require("automation", Level::Approve)?;
    let id = *id;
    let r = async {
        let (_, bytes) = crate::web::form::read_upload(mp, screens::MAX_IMAGE).await?;
        ctx.write(move |app, actor| {
            screens::set_background(&app.store, actor, id, bytes, crate::util::now_ms())
        })
        .await
    }
    .await;
    ctx.done(
        r.map(|s| format!("/automation/screens/{}/edit", s.id)),
        "flash.saved",
        "automation/screen_edit.html",
        || edit_ctx(&ctx, id),
    )
}

#[post("/automation/screens/{id}/delete")]
async fn delete_submit(ctx: Need<grant::automation::Read>, id: web::Path<u64>) -> Res {
    ctx.require("automation", Level::Approve)?;
    let id = *id;
    ctx.write(move |app, actor| screens::delete(&app.store, actor, id))
        .await?;
    Ok(crate::web::context::redirect_with(
        "/automation/screens",
        Some("flash.deleted"),
    ))
}

/// The background, served with a policy of its own: even opened on its own, an SVG may
/// not run or load anything.
#[get("/automation/screens/{id}/background")]
async fn background(ctx: Need<grant::automation::Read>, id: web::Path<u64>) -> Res {
    match screens::background(&ctx.app.store.read()?, *id)? {
        Some((mime, bytes)) => Ok(HttpResponse::Ok()
            .content_type(mime)
            .insert_header(("cache-control", "private, max-age=60"))
            .insert_header((
                "content-security-policy",
                "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox",
            ))
            .body(bytes)),
        None => Err(Error::not_found("automation.screen.err.no_background").into()),
    }
}

/// A unit's automatic table view: every tag of the unit, live, with its screens.
#[get("/automation/units/{code}")]
async fn unit_page(ctx: Need<grant::automation::Read>, code: web::Path<String>) -> Res {
    let r = ctx.app.store.read()?;
    let unit = super::batches::unit(&r, &code)?;
    let defs = ctx.app.tags.defs();
    let tags = screens::unit_tags(&r, &unit, &defs)?;
    let ids: Vec<u32> = tags.iter().map(|t| t.id).collect();
    let currents = ctx.app.tags.currents(&ids);
    let views: Vec<serde_json::Value> = tags
        .iter()
        .zip(currents)
        .map(|(t, c)| {
            let mut v = serde_json::to_value(&**t).unwrap_or_default();
            v["current"] = serde_json::to_value(c).unwrap_or_default();
            v
        })
        .collect();
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    let unit_screens: Vec<Screen> = screens::screens(&r)?
        .into_iter()
        .filter(|s| s.unit == unit.code)
        .collect();
    let running = super::batches::batches(&r)?
        .into_iter()
        .find(|b| b.unit == unit.code && b.state == super::batches::BatchState::Running);
    ctx.page(
        "automation/unit.html",
        context! {
            unit => to_value(&unit),
            tags => to_value(&views),
            names => names.join(","),
            screens => to_value(&unit_screens),
            running => to_value(&running),
            can_edit => ctx.who.can("automation", Level::Approve),
        },
    )
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(api_list)
        .service(api_get)
        .service(api_save)
        .service(api_delete)
        .service(api_background)
        .service(api_stream)
        .service(list_page)
        .service(create_submit)
        .service(view_page)
        .service(edit_page)
        .service(background_submit)
        .service(delete_submit)
        .service(background)
        .service(unit_page);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_list, api_get, api_save, api_delete, api_background, api_stream))]
pub struct Doc;
