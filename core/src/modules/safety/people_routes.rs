//! Pages and API of people, vehicles, gates, positions, the plant map and its zones, and
//! the duty roster. Gate controllers and positioning systems post with a machine token
//! holding safety write (or publish over MQTT, see `live`).

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::live::{FeedStatus, PostStatus, live};
use super::people_model::{
    Aggregation, Assignment, FeedConfig, Gate, GateEvent, Person, PersonKind, PlantMap, Post,
    Shift, Vehicle, Zone, ZoneRules,
};
use super::people_service::{self as ps, GateInput, HeadCount};
use super::tracking::{Seen, Update};
use crate::auth::model::Level;
use crate::error::Error;
use crate::i18n::Msg;
use crate::util::now_ms;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::form::FormData;
use crate::web::sse;

const M: &str = "safety";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(people_page)
        .service(person_page)
        .service(person_submit)
        .service(person_delete)
        .service(vehicles_page)
        .service(vehicle_submit)
        .service(vehicle_delete)
        .service(gates_page)
        .service(gate_submit)
        .service(feed_submit)
        .service(map_page)
        .service(map_image)
        .service(map_submit)
        .service(zone_submit)
        .service(zone_delete)
        .service(map_stream)
        .service(track_page)
        .service(roster_page)
        .service(roster_submit)
        .service(roster_delete)
        .service(api_people)
        .service(api_person_create)
        .service(api_person_update)
        .service(api_person_delete)
        .service(api_vehicles)
        .service(api_vehicle_create)
        .service(api_gates)
        .service(api_gate_put)
        .service(api_gate_event)
        .service(api_gate_events)
        .service(api_headcount)
        .service(api_positions)
        .service(api_positions_live)
        .service(api_track)
        .service(api_map)
        .service(api_map_put)
        .service(api_zones)
        .service(api_zone_create)
        .service(api_zone_update)
        .service(api_feed)
        .service(api_feed_put)
        .service(api_roster);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_people,
    api_person_create,
    api_person_update,
    api_person_delete,
    api_vehicles,
    api_vehicle_create,
    api_gates,
    api_gate_put,
    api_gate_event,
    api_gate_events,
    api_headcount,
    api_positions,
    api_positions_live,
    api_track,
    api_map,
    api_map_put,
    api_zones,
    api_zone_create,
    api_zone_update,
    api_feed,
    api_feed_put,
    api_roster
))]
pub struct Doc;

/// After the registry, the map or the zones change, the tracker reads them again.
fn reload(ctx: &Ctx) {
    if let Err(e) = live(&ctx.app).reload(&ctx.app) {
        tracing::warn!(error = %e, "positions: registry not reloaded");
    }
}

fn today(ctx: &Ctx) -> time::Date {
    super::service::today(ctx.app.offset)
}

// ------------------------------------------------------------------ people

#[derive(Deserialize, Default)]
struct PeopleQuery {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

/// People's certificates in the archive, for the form's choice.
fn person_certs(ctx: &Ctx) -> Result<Vec<serde_json::Value>, AppError> {
    let r = ctx.app.store.read()?;
    Ok(super::service::certificates(
        &r,
        today(ctx),
        &super::service::Filter {
            subject: Some("person".into()),
            ..Default::default()
        },
    )?
    .into_iter()
    .map(|c| serde_json::json!({"id": c.cert.id, "label": format!("{} {} {}", c.cert.holder, c.cert.number, c.cert.scope), "status": c.status}))
    .collect())
}

#[get("/safety/people")]
async fn people_page(ctx: Ctx, q: web::Query<PeopleQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let r = ctx.app.store.read()?;
    let needle = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let list: Vec<Person> = ps::people(&r)?
        .into_iter()
        .filter(|p| {
            q.kind
                .as_deref()
                .filter(|k| !k.is_empty())
                .is_none_or(|k| PersonKind::parse(k) == Some(p.kind))
        })
        .filter(|p| {
            needle.is_empty()
                || format!("{} {} {} {}", p.name, p.organisation, p.badge, p.tag)
                    .to_lowercase()
                    .contains(&needle)
        })
        .collect();
    let counts = ps::head_counts(&r)?;
    drop(r);
    ctx.page(
        "safety/people.html",
        context! {
            people => to_value(&list),
            counts => to_value(&counts),
            filter => to_value(&serde_json::json!({"kind": q.kind, "q": q.q})),
            certs => to_value(&person_certs(&ctx)?),
            values => to_value(&serde_json::json!({"kind": "employee", "enabled": "1"})),
            can_write => ctx.who.can(M, Level::Write),
        },
    )
}

#[get("/safety/people/{id}")]
async fn person_page(ctx: Ctx, id: web::Path<u64>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let p = ps::person(&ctx.app.store.read()?, *id)?;
    let values = person_values(&p);
    person_form(&ctx, Some(&p), values, None)
}

fn person_values(p: &Person) -> serde_json::Value {
    let mut v = serde_json::to_value(p).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("enabled".into(), if p.enabled { "1" } else { "" }.into());
        o.insert(
            "kind".into(),
            serde_json::to_value(p.kind).unwrap_or_default(),
        );
    }
    v
}

fn person_form(
    ctx: &Ctx,
    p: Option<&Person>,
    values: serde_json::Value,
    err: Option<AppError>,
) -> Result<HttpResponse, AppError> {
    let c = context! {
        person => p.map(to_value),
        values => to_value(&values),
        certs => to_value(&person_certs(ctx)?),
        can_write => ctx.who.can(M, Level::Write),
        can_delete => ctx.who.can(M, Level::Approve),
    };
    match err {
        Some(e) => ctx.form_error("safety/person.html", c, e),
        None => ctx.page("safety/person.html", c),
    }
}

fn person_of(f: &FormData, id: u64) -> Result<Person, Error> {
    Ok(Person {
        id,
        kind: PersonKind::parse(f.get("kind")).ok_or(Error::Invalid {
            field: "kind",
            msg: Msg::new("common.err.required").arg("field", "kind"),
        })?,
        name: f.get("name").into(),
        organisation: f.get("organisation").into(),
        badge: f.get("badge").into(),
        tag: f.get("tag").into(),
        phone: f.get("phone").into(),
        certs: f
            .all("certs")
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect(),
        valid_until: Some(f.get("valid_until").to_string()),
        enabled: matches!(f.get("enabled"), "1" | "on"),
    })
}

/// One form for both: id 0 creates.
#[post("/safety/people/{id}")]
async fn person_submit(
    ctx: Ctx,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Write)?;
    let f = FormData::from(form);
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let r = match person_of(&f, *id) {
        Ok(p) => blocking(move || ps::save_person(&app.store, &actor, p)).await,
        Err(e) => Err(e.into()),
    };
    match r {
        Ok(p) => {
            reload(&ctx);
            Ok(redirect_with(
                &format!("/safety/people/{}", p.id),
                Some("flash.saved"),
            ))
        }
        Err(e) => {
            let before = (*id != 0)
                .then(|| ps::person(&ctx.app.store.read().ok()?, *id).ok())
                .flatten();
            let mut values = f.echo();
            if let Some(o) = values.as_object_mut() {
                o.insert("certs".into(), f.all("certs").into());
            }
            person_form(&ctx, before.as_ref(), values, Some(e))
        }
    }
}

#[post("/safety/people/{id}/delete")]
async fn person_delete(ctx: Ctx, id: web::Path<u64>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let (app, actor, pid) = (ctx.app.clone(), ctx.actor(), *id);
    blocking(move || ps::delete_person(&app.store, &actor, pid)).await?;
    reload(&ctx);
    Ok(redirect_with("/safety/people", Some("flash.deleted")))
}

// ------------------------------------------------------------------ vehicles

#[get("/safety/vehicles")]
async fn vehicles_page(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    vehicles_form(&ctx, serde_json::json!({"enabled": "1"}), None)
}

fn vehicles_form(
    ctx: &Ctx,
    values: serde_json::Value,
    err: Option<AppError>,
) -> Result<HttpResponse, AppError> {
    let list = ps::vehicles(&ctx.app.store.read()?)?;
    let today = super::service::format_day(today(ctx));
    let c = context! {
        vehicles => to_value(&list),
        today => today,
        values => to_value(&values),
        can_write => ctx.who.can(M, Level::Write),
        can_delete => ctx.who.can(M, Level::Approve),
    };
    match err {
        Some(e) => ctx.form_error("safety/vehicles.html", c, e),
        None => ctx.page("safety/vehicles.html", c),
    }
}

fn vehicle_of(f: &FormData) -> Result<Vehicle, Error> {
    Ok(Vehicle {
        id: f.opt("id")?.unwrap_or(0),
        plate: f.get("plate").into(),
        hazmat: matches!(f.get("hazmat"), "1" | "on"),
        hazmat_permit: f.get("hazmat_permit").into(),
        permit_expires: Some(f.get("permit_expires").to_string()),
        driver: f.get("driver").into(),
        company: f.get("company").into(),
        enabled: !matches!(f.get("disabled"), "1" | "on"),
    })
}

#[post("/safety/vehicles")]
async fn vehicle_submit(
    ctx: Ctx,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Write)?;
    let f = FormData::from(form);
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let r = match vehicle_of(&f) {
        Ok(v) => blocking(move || ps::save_vehicle(&app.store, &actor, v)).await,
        Err(e) => Err(e.into()),
    };
    match r {
        Ok(_) => Ok(redirect_with("/safety/vehicles", Some("flash.saved"))),
        Err(e) => vehicles_form(&ctx, f.echo(), Some(e)),
    }
}

#[post("/safety/vehicles/{id}/delete")]
async fn vehicle_delete(ctx: Ctx, id: web::Path<u64>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let (app, actor, vid) = (ctx.app.clone(), ctx.actor(), *id);
    blocking(move || ps::delete_vehicle(&app.store, &actor, vid)).await?;
    Ok(redirect_with("/safety/vehicles", Some("flash.deleted")))
}

// ------------------------------------------------------------------ gates and feeds

fn feed_view(ctx: &Ctx) -> Result<serde_json::Value, AppError> {
    let cfg = ps::feed(&ctx.app.store.read()?)?;
    let status = live(&ctx.app)
        .feed
        .lock()
        .expect("feed lock is never poisoned")
        .clone();
    Ok(serde_json::json!({
        "enabled": cfg.enabled, "host": cfg.host, "port": cfg.port, "tls": cfg.tls, "username": cfg.username,
        "password_set": cfg.password.is_set(), "gate_topic": cfg.gate_topic,
        "position_topic": cfg.position_topic, "simulate": cfg.simulate, "status": status,
    }))
}

fn gates_ctx(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let (gates, counts, events) = (
        ps::gates(&r)?,
        ps::head_counts(&r)?,
        ps::gate_events(&r, 100, false)?,
    );
    drop(r);
    let l = live(&ctx.app);
    Ok(context! {
        gates => to_value(&gates),
        counts => to_value(&counts),
        events => to_value(&events),
        feed => to_value(&feed_view(ctx)?),
        last_gate_ms => l.last_gate_ms.load(std::sync::atomic::Ordering::Relaxed),
        last_position_ms => l.last_position_ms.load(std::sync::atomic::Ordering::Relaxed),
        values => to_value(&values),
        can_write => ctx.who.can(M, Level::Write),
        can_configure => ctx.who.can(M, Level::Approve),
    })
}

#[get("/safety/gates")]
async fn gates_page(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let c = gates_ctx(&ctx, serde_json::json!({"area": "plant"}))?;
    ctx.page("safety/gates.html", c)
}

#[post("/safety/gates")]
async fn gate_submit(
    ctx: Ctx,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let f = FormData::from(form);
    let g = Gate {
        code: f.get("code").into(),
        name: f.get("name").into(),
        area: f.get("area").into(),
    };
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let r = if f.get("delete") == "1" {
        let code = g.code.clone();
        blocking(move || ps::delete_gate(&app.store, &actor, &code)).await
    } else {
        blocking(move || ps::save_gate(&app.store, &actor, g).map(|_| ())).await
    };
    match r {
        Ok(()) => Ok(redirect_with("/safety/gates", Some("flash.saved"))),
        Err(e) => {
            let c = gates_ctx(&ctx, f.echo())?;
            ctx.form_error("safety/gates.html", c, e)
        }
    }
}

#[post("/safety/gates/feed")]
async fn feed_submit(
    ctx: Ctx,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let f = FormData::from(form);
    let cfg = FeedConfig {
        enabled: matches!(f.get("enabled"), "1" | "on"),
        host: f.get("host").into(),
        port: f.opt("port")?.unwrap_or(1883),
        tls: matches!(f.get("tls"), "1" | "on"),
        username: f.get("username").into(),
        password: match f.get("password") {
            "" => crate::secrets::Secret::Keep,
            p => crate::secrets::Secret::Plain(p.into()),
        },
        gate_topic: f.get("gate_topic").trim().into(),
        position_topic: f.get("position_topic").trim().into(),
        simulate: matches!(f.get("simulate"), "1" | "on"),
    };
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    match blocking(move || ps::save_feed(&app.store, &actor, cfg)).await {
        Ok(_) => {
            live(&ctx.app).restart_feed(&ctx.app.clone().into_inner());
            Ok(redirect_with("/safety/gates#feed", Some("flash.saved")))
        }
        Err(e) => {
            let c = gates_ctx(&ctx, f.echo())?;
            ctx.form_error("safety/gates.html", c, e)
        }
    }
}

// ------------------------------------------------------------------ map and zones

fn zone_view(z: &Zone, occupancy: &[(u64, u32)]) -> serde_json::Value {
    let mut v = serde_json::to_value(z).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "points".into(),
            z.polygon
                .iter()
                .map(|[x, y]| format!("{x},{y}"))
                .collect::<Vec<_>>()
                .join(" ")
                .into(),
        );
        o.insert(
            "occupancy".into(),
            occupancy
                .iter()
                .find(|(id, _)| *id == z.id)
                .map(|(_, n)| *n)
                .unwrap_or(0)
                .into(),
        );
    }
    v
}

fn map_ctx(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let (map, zones, people) = (ps::map(&r)?, ps::zones(&r)?, ps::people(&r)?);
    drop(r);
    let (seen, occupancy, accepted, rejected) = live(&ctx.app).snapshot(now_ms());
    Ok(context! {
        map => to_value(&map),
        zones => to_value(&zones.iter().map(|z| zone_view(z, &occupancy)).collect::<Vec<_>>()),
        seen => to_value(&seen),
        people => to_value(&people.iter().map(|p| serde_json::json!({"id": p.id, "name": p.name})).collect::<Vec<_>>()),
        accepted => accepted,
        rejected => rejected,
        values => to_value(&values),
        can_configure => ctx.who.can(M, Level::Approve),
    })
}

#[get("/safety/map")]
async fn map_page(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let c = map_ctx(&ctx, serde_json::json!({}))?;
    ctx.page("safety/map.html", c)
}

#[get("/safety/map/image")]
async fn map_image(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    match ps::map_image(&ctx.app.store.read()?)? {
        Some((t, bytes)) => Ok(HttpResponse::Ok()
            .content_type(t)
            .insert_header(("cache-control", "private, max-age=60"))
            .insert_header(("x-content-type-options", "nosniff"))
            .body(bytes)),
        None => Err(Error::NotFound(Msg::new("safety.map.err.no_image")).into()),
    }
}

/// Multipart: `width_m`, `height_m` and optionally `file` (the layout image).
#[post("/safety/map")]
async fn map_submit(ctx: Ctx, mp: Multipart) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let max = super::service::MAX_FILE_BYTES;
    let (f, files) = crate::web::form::read_multipart(mp, max, max + 4096).await?;
    let file = files
        .into_iter()
        .find(|(field, ..)| field == "file")
        .map(|(_, name, bytes)| (name, bytes));
    let (w, h): (Option<f64>, Option<f64>) = (f.opt("width_m")?, f.opt("height_m")?);
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let r = blocking(move || {
        ps::save_map(
            &app.store,
            &actor,
            w.unwrap_or(0.0),
            h.unwrap_or(0.0),
            file,
            now_ms(),
        )
    })
    .await;
    match r {
        Ok(_) => {
            reload(&ctx);
            Ok(redirect_with("/safety/map", Some("flash.saved")))
        }
        Err(e) => {
            let c = map_ctx(&ctx, f.echo())?;
            ctx.form_error("safety/map.html", c, e)
        }
    }
}

/// `x,y x,y …` (spaces, semicolons or new lines between points).
fn polygon_of(s: &str) -> Result<Vec<[f64; 2]>, Error> {
    s.split(|c: char| c.is_whitespace() || c == ';')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (x, y) = p.split_once(',').ok_or(Error::Invalid {
                field: "polygon",
                msg: Msg::new("safety.zone.err.point").arg("point", p),
            })?;
            match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
                (Ok(x), Ok(y)) => Ok([x, y]),
                _ => Err(Error::Invalid {
                    field: "polygon",
                    msg: Msg::new("safety.zone.err.point").arg("point", p),
                }),
            }
        })
        .collect()
}

fn zone_of(f: &FormData) -> Result<Zone, Error> {
    let agg_people: Option<u32> = f.opt("agg_people")?;
    Ok(Zone {
        id: f.opt("id")?.unwrap_or(0),
        name: f.get("name").into(),
        polygon: polygon_of(f.get("polygon"))?,
        floor: f.opt("floor")?,
        rules: ZoneRules {
            permit_required: matches!(f.get("permit_required"), "1" | "on"),
            max_occupancy: f.opt("max_occupancy")?,
            still_seconds: f.opt("still_seconds")?,
            aggregation: match agg_people {
                Some(people) => Some(Aggregation {
                    people,
                    radius_m: f.opt("agg_radius_m")?.unwrap_or(15.0),
                    seconds: f.opt("agg_seconds")?.unwrap_or(60),
                }),
                None => None,
            },
        },
    })
}

#[post("/safety/map/zones")]
async fn zone_submit(
    ctx: Ctx,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let f = FormData::from(form);
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let r = match zone_of(&f) {
        Ok(z) => blocking(move || ps::save_zone(&app.store, &actor, z)).await,
        Err(e) => Err(e.into()),
    };
    match r {
        Ok(z) => {
            reload(&ctx);
            Ok(redirect_with(
                &format!("/safety/map#zone-{}", z.id),
                Some("flash.saved"),
            ))
        }
        Err(e) => {
            let c = map_ctx(&ctx, f.echo())?;
            ctx.form_error("safety/map.html", c, e)
        }
    }
}

#[post("/safety/map/zones/{id}/delete")]
async fn zone_delete(ctx: Ctx, id: web::Path<u64>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let (app, actor, zid) = (ctx.app.clone(), ctx.actor(), *id);
    blocking(move || ps::delete_zone(&app.store, &actor, zid)).await?;
    reload(&ctx);
    Ok(redirect_with("/safety/map", Some("flash.deleted")))
}

/// The live map's data: everyone seen and zone occupancy.
#[derive(Serialize, utoipa::ToSchema)]
struct LiveView {
    people: Vec<Seen>,
    occupancy: Vec<(u64, u32)>,
    accepted: u64,
    rejected: u64,
}

fn live_view(ctx_app: &crate::app::App) -> LiveView {
    let (people, occupancy, accepted, rejected) = live(ctx_app).snapshot(now_ms());
    LiveView {
        people,
        occupancy,
        accepted,
        rejected,
    }
}

/// Positions as Server-Sent Events: `positions` at most once a second while they change,
/// a comment every 15 s otherwise.
#[get("/safety/map/stream")]
async fn map_stream(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let app = ctx.app.clone();
    let rx = live(&app).changed.subscribe();
    let first = sse::event("positions", &live_view(&app));
    let updates = futures_util::stream::unfold((rx, app), |(mut rx, app)| async move {
        match tokio::time::timeout(Duration::from_secs(15), rx.changed()).await {
            Err(_) => Some((Ok::<_, actix_web::Error>(sse::keep_alive()), (rx, app))),
            Ok(Err(_)) => None,
            Ok(Ok(())) => {
                // at most one frame a second, however often tags report
                tokio::time::sleep(Duration::from_secs(1)).await;
                rx.borrow_and_update();
                Some((Ok(sse::event("positions", &live_view(&app))), (rx, app)))
            }
        }
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(first) }),
        updates,
    );
    Ok(sse::response(stream))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct TrackQuery {
    /// Person id (pages only; the API takes it in the path).
    #[serde(default)]
    person: Option<u64>,
    /// Local `YYYY-MM-DD HH:MM`; default one hour ago.
    #[serde(default)]
    from: Option<String>,
    /// Local `YYYY-MM-DD HH:MM`; default now.
    #[serde(default)]
    to: Option<String>,
}

fn track_range(q: &TrackQuery, offset: time::UtcOffset) -> (i64, i64) {
    let now = now_ms();
    let p = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| super::permits::service::parse_local(s, offset))
    };
    (
        p(&q.from).unwrap_or(now - 3_600_000),
        p(&q.to).unwrap_or(now),
    )
}

#[get("/safety/track")]
async fn track_page(ctx: Ctx, q: web::Query<TrackQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let (from, to) = track_range(&q, ctx.app.offset);
    let r = ctx.app.store.read()?;
    let (map, zones, people) = (ps::map(&r)?, ps::zones(&r)?, ps::people(&r)?);
    let points = match q.person {
        Some(p) => ps::track(&r, p, from, to, 20_000)?,
        None => Vec::new(),
    };
    drop(r);
    let off = ctx.app.offset;
    ctx.page(
        "safety/track.html",
        context! {
            map => to_value(&map),
            zones => to_value(&zones.iter().map(|z| zone_view(z, &[])).collect::<Vec<_>>()),
            people => to_value(&people.iter().filter(|p| !p.tag.is_empty()).map(|p| serde_json::json!({"id": p.id, "name": p.name})).collect::<Vec<_>>()),
            person => q.person,
            from => super::permits::service::format_local(from, off).replace(' ', "T"),
            to => super::permits::service::format_local(to, off).replace(' ', "T"),
            points => to_value(&points.iter().map(|(t, p)| serde_json::json!([t, p.x, p.y, p.floor])).collect::<Vec<_>>()),
        },
    )
}

// ------------------------------------------------------------------ roster

fn roster_ctx(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let (posts, shifts, assignments, zones, people) = (
        ps::posts(&r)?,
        ps::shifts(&r)?,
        ps::assignments(&r)?,
        ps::zones(&r)?,
        ps::people(&r)?,
    );
    drop(r);
    let status = live(&ctx.app).roster_status(&ctx.app, now_ms())?;
    Ok(context! {
        posts => to_value(&posts),
        shifts => to_value(&shifts),
        assignments => to_value(&assignments),
        zones => to_value(&zones.iter().map(|z| serde_json::json!({"id": z.id, "name": z.name})).collect::<Vec<_>>()),
        people => to_value(&people.iter().map(|p| serde_json::json!({"id": p.id, "name": p.name})).collect::<Vec<_>>()),
        status => to_value(&status),
        values => to_value(&values),
        can_configure => ctx.who.can(M, Level::Approve),
    })
}

#[get("/safety/roster")]
async fn roster_page(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let c = roster_ctx(&ctx, serde_json::json!({"grace_minutes": "10"}))?;
    ctx.page("safety/roster.html", c)
}

/// One form per kind: `what` = post, shift or assignment.
#[post("/safety/roster")]
async fn roster_submit(
    ctx: Ctx,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let f = FormData::from(form);
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let parsed: Result<RosterInput, Error> = (|| {
        Ok(match f.get("what") {
            "post" => RosterInput::Post(Post {
                id: 0,
                name: f.get("name").into(),
                zone: f.opt("zone")?.unwrap_or(0),
                grace_minutes: f.opt("grace_minutes")?.unwrap_or(10),
            }),
            "shift" => RosterInput::Shift(Shift {
                id: 0,
                name: f.get("name").into(),
                from: f.get("from").into(),
                to: f.get("to").into(),
            }),
            _ => RosterInput::Assignment(Assignment {
                id: 0,
                post: f.opt("post")?.unwrap_or(0),
                shift: f.opt("shift")?.unwrap_or(0),
                person: f.opt("person")?.unwrap_or(0),
            }),
        })
    })();
    let r = match parsed {
        Ok(input) => blocking(move || save_roster(&app.store, &actor, input)).await,
        Err(e) => Err(e.into()),
    };
    match r {
        Ok(()) => Ok(redirect_with("/safety/roster", Some("flash.saved"))),
        Err(e) => {
            let c = roster_ctx(&ctx, f.echo())?;
            ctx.form_error("safety/roster.html", c, e)
        }
    }
}

/// A roster entry to add.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "what", rename_all = "snake_case")]
enum RosterInput {
    Post(Post),
    Shift(Shift),
    Assignment(Assignment),
}

fn save_roster(
    store: &crate::store::Store,
    actor: &crate::store::Actor,
    i: RosterInput,
) -> crate::error::Result<()> {
    match i {
        RosterInput::Post(p) => ps::save_post(store, actor, p).map(|_| ()),
        RosterInput::Shift(s) => ps::save_shift(store, actor, s).map(|_| ()),
        RosterInput::Assignment(a) => ps::save_assignment(store, actor, a).map(|_| ()),
    }
}

#[post("/safety/roster/{what}/{id}/delete")]
async fn roster_delete(ctx: Ctx, path: web::Path<(String, u64)>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let (what, id) = path.into_inner();
    if !matches!(what.as_str(), "post" | "shift" | "assignment") {
        return Err(Error::NotFound(Msg::new("safety.roster.err.not_found")).into());
    }
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    blocking(move || ps::delete_roster_entry(&app.store, &actor, &what, id)).await?;
    Ok(redirect_with("/safety/roster", Some("flash.deleted")))
}

// ------------------------------------------------------------------ API

/// The registry of people.
#[utoipa::path(tag = "safety", responses((status = 200, description = "People", body = Vec<Person>)), security(("bearer" = [])))]
#[get("/api/v1/safety/people")]
async fn api_people(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    Ok(HttpResponse::Ok().json(ps::people(&ctx.app.store.read()?)?))
}

/// Registers a person (`id` ignored).
#[utoipa::path(tag = "safety", request_body = Person, responses(
    (status = 201, description = "Registered", body = Person), (status = 422, description = "A field breaks a rule (badge or tag taken…)")),
    security(("bearer" = [])))]
#[post("/api/v1/safety/people")]
async fn api_person_create(ctx: Ctx, body: web::Json<Person>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Write)?;
    let mut p = body.into_inner();
    p.id = 0;
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let p = blocking(move || ps::save_person(&app.store, &actor, p)).await?;
    reload(&ctx);
    Ok(HttpResponse::Created().json(p))
}

/// Changes a person.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Person id")), request_body = Person, responses(
    (status = 200, description = "Changed", body = Person), (status = 404, description = "No such person")), security(("bearer" = [])))]
#[put("/api/v1/safety/people/{id}")]
async fn api_person_update(
    ctx: Ctx,
    id: web::Path<u64>,
    body: web::Json<Person>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Write)?;
    let mut p = body.into_inner();
    p.id = *id;
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let p = blocking(move || ps::save_person(&app.store, &actor, p)).await?;
    reload(&ctx);
    Ok(HttpResponse::Ok().json(p))
}

/// Removes a person from the registry (their gate events and tracks stay).
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Person id")), responses((status = 204, description = "Removed")), security(("bearer" = [])))]
#[delete("/api/v1/safety/people/{id}")]
async fn api_person_delete(ctx: Ctx, id: web::Path<u64>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let (app, actor, pid) = (ctx.app.clone(), ctx.actor(), *id);
    blocking(move || ps::delete_person(&app.store, &actor, pid)).await?;
    reload(&ctx);
    Ok(HttpResponse::NoContent().finish())
}

/// Vehicles allowed in.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Vehicles", body = Vec<Vehicle>)), security(("bearer" = [])))]
#[get("/api/v1/safety/vehicles")]
async fn api_vehicles(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    Ok(HttpResponse::Ok().json(ps::vehicles(&ctx.app.store.read()?)?))
}

/// Registers (id 0) or changes a vehicle.
#[utoipa::path(tag = "safety", request_body = Vehicle, responses(
    (status = 200, description = "Saved", body = Vehicle), (status = 422, description = "A field breaks a rule")), security(("bearer" = [])))]
#[post("/api/v1/safety/vehicles")]
async fn api_vehicle_create(ctx: Ctx, body: web::Json<Vehicle>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Write)?;
    let (app, actor, v) = (ctx.app.clone(), ctx.actor(), body.into_inner());
    let v = blocking(move || ps::save_vehicle(&app.store, &actor, v)).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Gates and the areas they lead into.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Gates", body = Vec<Gate>)), security(("bearer" = [])))]
#[get("/api/v1/safety/gates")]
async fn api_gates(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    Ok(HttpResponse::Ok().json(ps::gates(&ctx.app.store.read()?)?))
}

/// Adds or changes a gate.
#[utoipa::path(tag = "safety", params(("code" = String, Path, description = "Gate code")), request_body = Gate, responses(
    (status = 200, description = "Saved", body = Gate), (status = 422, description = "A field breaks a rule")), security(("bearer" = [])))]
#[put("/api/v1/safety/gates/{code}")]
async fn api_gate_put(
    ctx: Ctx,
    code: web::Path<String>,
    body: web::Json<Gate>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let mut g = body.into_inner();
    g.code = code.into_inner();
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let g = blocking(move || ps::save_gate(&app.store, &actor, g)).await?;
    Ok(HttpResponse::Ok().json(g))
}

/// A gate controller reports a passage. Unknown gates are refused (422); unknown badges,
/// people not allowed in and expired certificates are recorded with `flags` and raise an
/// alarm.
#[utoipa::path(tag = "safety", request_body = GateInput, responses(
    (status = 201, description = "Recorded (see `flags`)", body = GateEvent),
    (status = 422, description = "Unknown gate or a malformed field")), security(("bearer" = [])))]
#[post("/api/v1/safety/gate-events")]
async fn api_gate_event(ctx: Ctx, body: web::Json<GateInput>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Write)?;
    let (app, actor, input, day) = (ctx.app.clone(), ctx.actor(), body.into_inner(), today(&ctx));
    let e =
        blocking(move || ps::record_gate_event(&app.store, &actor, input, "api", now_ms(), day))
            .await?;
    live(&ctx.app).gate_event(&ctx.app, &e);
    Ok(HttpResponse::Created().json(e))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct EventsQuery {
    /// At most this many (default 200, at most 5,000).
    #[serde(default)]
    limit: Option<usize>,
    /// Only flagged events.
    #[serde(default)]
    flagged: Option<bool>,
}

/// The newest gate events.
#[utoipa::path(tag = "safety", params(EventsQuery), responses((status = 200, description = "Events, newest first", body = Vec<GateEvent>)), security(("bearer" = [])))]
#[get("/api/v1/safety/gate-events")]
async fn api_gate_events(ctx: Ctx, q: web::Query<EventsQuery>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let limit = q.limit.unwrap_or(200).clamp(1, 5000);
    let v = ps::gate_events(&ctx.app.store.read()?, limit, q.flagged.unwrap_or(false))?;
    Ok(HttpResponse::Ok().json(v))
}

/// Head counts per area (`plant` is the perimeter), from the gate events.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Counts", body = Vec<HeadCount>)), security(("bearer" = [])))]
#[get("/api/v1/safety/headcount")]
async fn api_headcount(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    Ok(HttpResponse::Ok().json(ps::head_counts(&ctx.app.store.read()?)?))
}

/// Positions in: one object or a list.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Positions {
    One(Update),
    Many(Vec<Update>),
}

#[derive(Serialize, utoipa::ToSchema)]
struct Refused {
    index: usize,
    error: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Ingested {
    accepted: usize,
    refused: Vec<Refused>,
}

/// A positioning system reports tags: one position or a list (at most 10,000). Unknown
/// tags and positions off the map are refused per position (a single refused position:
/// 422), the rest taken.
#[utoipa::path(tag = "safety", request_body = Vec<Update>, responses(
    (status = 200, description = "Taken, with the refusals", body = Ingested),
    (status = 422, description = "The single position was refused")), security(("bearer" = [])))]
#[post("/api/v1/safety/positions")]
async fn api_positions(ctx: Ctx, body: web::Json<Positions>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Write)?;
    let (single, updates) = match body.into_inner() {
        Positions::One(u) => (true, vec![u]),
        Positions::Many(v) => (false, v),
    };
    if updates.len() > 10_000 {
        return Err(Error::Invalid {
            field: "positions",
            msg: Msg::new("safety.track.err.too_many").arg("max", 10_000),
        }
        .into());
    }
    let app = ctx.app.clone();
    let results = web::block(move || live(&app).ingest(&app, &updates))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "position ingest failed");
            AppError::internal()
        })?;
    if single && let Some(Some(msg)) = results.first() {
        return Err(Error::Invalid {
            field: "tag",
            msg: msg.clone(),
        }
        .into());
    }
    let refused: Vec<Refused> = results
        .iter()
        .enumerate()
        .filter_map(|(index, r)| {
            r.as_ref().map(|m| Refused {
                index,
                error: m.render(ctx.lang),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(Ingested {
        accepted: results.len() - refused.len(),
        refused,
    }))
}

/// Everyone seen now and zone occupancy.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Live positions", body = LiveView)), security(("bearer" = [])))]
#[get("/api/v1/safety/positions")]
async fn api_positions_live(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    Ok(HttpResponse::Ok().json(live_view(&ctx.app)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct TrackOut {
    /// `[ms, x, y, floor]`, oldest first.
    points: Vec<(i64, f32, f32, i16)>,
}

/// A person's track for playback (sampled every 5 s or 2 m; at most 20,000 points).
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Person id"), TrackQuery), responses(
    (status = 200, description = "Track", body = TrackOut)), security(("bearer" = [])))]
#[get("/api/v1/safety/people/{id}/track")]
async fn api_track(
    ctx: Ctx,
    id: web::Path<u64>,
    q: web::Query<TrackQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let (from, to) = track_range(&q, ctx.app.offset);
    let r = ctx.app.store.read()?;
    ps::person(&r, *id)?;
    let points = ps::track(&r, *id, from, to, 20_000)?
        .into_iter()
        .map(|(t, p)| (t, p.x, p.y, p.floor))
        .collect();
    Ok(HttpResponse::Ok().json(TrackOut { points }))
}

/// The plant map's size.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Map", body = PlantMap)), security(("bearer" = [])))]
#[get("/api/v1/safety/map")]
async fn api_map(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    Ok(HttpResponse::Ok().json(ps::map(&ctx.app.store.read()?)?))
}

/// Sets the plant map's size in metres (the image is uploaded on the map page).
#[utoipa::path(tag = "safety", request_body = PlantMap, responses(
    (status = 200, description = "Saved", body = PlantMap), (status = 422, description = "Out of range, or zones would fall outside")), security(("bearer" = [])))]
#[put("/api/v1/safety/map")]
async fn api_map_put(ctx: Ctx, body: web::Json<PlantMap>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let (app, actor, m) = (ctx.app.clone(), ctx.actor(), body.into_inner());
    let m =
        blocking(move || ps::save_map(&app.store, &actor, m.width_m, m.height_m, None, now_ms()))
            .await?;
    reload(&ctx);
    Ok(HttpResponse::Ok().json(m))
}

/// Zones with their rules.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Zones", body = Vec<Zone>)), security(("bearer" = [])))]
#[get("/api/v1/safety/zones")]
async fn api_zones(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    Ok(HttpResponse::Ok().json(ps::zones(&ctx.app.store.read()?)?))
}

/// Draws a zone (`id` ignored).
#[utoipa::path(tag = "safety", request_body = Zone, responses(
    (status = 201, description = "Created", body = Zone), (status = 422, description = "Polygon or rules invalid")), security(("bearer" = [])))]
#[post("/api/v1/safety/zones")]
async fn api_zone_create(ctx: Ctx, body: web::Json<Zone>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let mut z = body.into_inner();
    z.id = 0;
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let z = blocking(move || ps::save_zone(&app.store, &actor, z)).await?;
    reload(&ctx);
    Ok(HttpResponse::Created().json(z))
}

/// Changes a zone.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Zone id")), request_body = Zone, responses(
    (status = 200, description = "Changed", body = Zone)), security(("bearer" = [])))]
#[put("/api/v1/safety/zones/{id}")]
async fn api_zone_update(
    ctx: Ctx,
    id: web::Path<u64>,
    body: web::Json<Zone>,
) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let mut z = body.into_inner();
    z.id = *id;
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let z = blocking(move || ps::save_zone(&app.store, &actor, z)).await?;
    reload(&ctx);
    Ok(HttpResponse::Ok().json(z))
}

#[derive(Serialize, utoipa::ToSchema)]
struct FeedOut {
    config: FeedConfig,
    status: FeedStatus,
}

/// The MQTT feed settings (password shown as set or not) and its status.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Feed", body = FeedOut)), security(("bearer" = [])))]
#[get("/api/v1/safety/feed")]
async fn api_feed(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    let mut config = ps::feed(&ctx.app.store.read()?)?;
    config.password = config.password.redacted();
    let status = live(&ctx.app)
        .feed
        .lock()
        .expect("feed lock is never poisoned")
        .clone();
    Ok(HttpResponse::Ok().json(FeedOut { config, status }))
}

/// Sets the MQTT feed (gate and position topics) and restarts it.
#[utoipa::path(tag = "safety", request_body = FeedConfig, responses(
    (status = 200, description = "Saved"), (status = 422, description = "A field breaks a rule")), security(("bearer" = [])))]
#[put("/api/v1/safety/feed")]
async fn api_feed_put(ctx: Ctx, body: web::Json<FeedConfig>) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Approve)?;
    let (app, actor, c) = (ctx.app.clone(), ctx.actor(), body.into_inner());
    blocking(move || ps::save_feed(&app.store, &actor, c)).await?;
    live(&ctx.app).restart_feed(&ctx.app.clone().into_inner());
    Ok(HttpResponse::Ok().json(serde_json::json!({"saved": true})))
}

/// The duty roster now: each post, the shift in force, who is assigned and who holds it.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Posts", body = Vec<PostStatus>)), security(("bearer" = [])))]
#[get("/api/v1/safety/roster")]
async fn api_roster(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(M, Level::Read)?;
    Ok(HttpResponse::Ok().json(live(&ctx.app).roster_status(&ctx.app, now_ms())?))
}
