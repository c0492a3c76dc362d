//! The plant map and its zones, live positions (ingest, stream) and tracks for playback: pages and API.

use super::*;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(map_page)
        .service(map_image)
        .service(map_submit)
        .service(zone_submit)
        .service(zone_delete)
        .service(map_stream)
        .service(track_page)
        .service(api_positions)
        .service(api_positions_live)
        .service(api_track)
        .service(api_map)
        .service(api_map_put)
        .service(api_zones)
        .service(api_zone_create)
        .service(api_zone_update);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_positions,
    api_positions_live,
    api_track,
    api_map,
    api_map_put,
    api_zones,
    api_zone_create,
    api_zone_update
))]
pub(super) struct Doc;

/// A zone as the map page draws it: the record, its polygon as SVG points
/// and how many people are inside.
#[derive(serde::Serialize)]
struct ZoneView<'a> {
    #[serde(flatten)]
    zone: &'a Zone,
    points: String,
    occupancy: u32,
}

fn zone_view<'a>(z: &'a Zone, occupancy: &[(u64, u32)]) -> ZoneView<'a> {
    ZoneView {
        zone: z,
        points: z
            .polygon
            .iter()
            .map(|[x, y]| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" "),
        occupancy: occupancy
            .iter()
            .find(|(id, _)| *id == z.id)
            .map_or(0, |(_, n)| *n),
    }
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
async fn map_page(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    let c = map_ctx(&ctx, serde_json::json!({}))?;
    ctx.page("safety/map.html", c)
}

#[get("/safety/map/image")]
async fn map_image(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
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
async fn map_submit(
    ctx: Need<grant::safety::Approve>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    let max = crate::modules::safety::archive::service::MAX_FILE_BYTES;
    let (f, files) = crate::web::form::read_multipart(mp, max, max + 4096).await?;
    let file = files
        .into_iter()
        .find(|(field, ..)| field == "file")
        .map(|(_, name, bytes)| (name, bytes));
    let (w, h): (Option<f64>, Option<f64>) = (f.opt("width_m")?, f.opt("height_m")?);
    let r = ctx
        .write(move |app, actor| {
            ps::save_map(
                &app.store,
                actor,
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
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let z = zone_of(&f)?;
        ctx.write(move |app, actor| ps::save_zone(&app.store, actor, z))
            .await
    }
    .await;
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
async fn zone_delete(
    ctx: Need<grant::safety::Approve>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let zid = *id;
    ctx.write(move |app, actor| ps::delete_zone(&app.store, actor, zid))
        .await?;
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
async fn map_stream(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
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
            .and_then(|s| crate::plant_time::parse_local(s, offset))
    };
    (
        p(&q.from).unwrap_or(now - 3_600_000),
        p(&q.to).unwrap_or(now),
    )
}

#[get("/safety/track")]
async fn track_page(
    ctx: Need<grant::safety::Read>,
    q: web::Query<TrackQuery>,
) -> Result<HttpResponse, AppError> {
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
            from => crate::plant_time::format_minute(from, off).replace(' ', "T"),
            to => crate::plant_time::format_minute(to, off).replace(' ', "T"),
            points => to_value(&points.iter().map(|(t, p)| serde_json::json!([t, p.x, p.y, p.floor])).collect::<Vec<_>>()),
        },
    )
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
    (status = 422, description = "The single position was refused")), security(("bearer" = ["safety:write"])))]
#[post("/api/v1/safety/positions")]
async fn api_positions(
    ctx: Need<grant::safety::Write>,
    body: web::Json<Positions>,
) -> Result<HttpResponse, AppError> {
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
#[utoipa::path(tag = "safety", responses((status = 200, description = "Live positions", body = LiveView)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/positions")]
async fn api_positions_live(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(live_view(&ctx.app)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct TrackOut {
    /// `[ms, x, y, floor]`, oldest first.
    points: Vec<(i64, f32, f32, i16)>,
}

/// A person's track for playback (sampled every 5 s or 2 m; at most 20,000 points).
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Person id"), TrackQuery), responses(
    (status = 200, description = "Track", body = TrackOut)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/people/{id}/track")]
async fn api_track(
    ctx: Need<grant::safety::Read>,
    id: web::Path<u64>,
    q: web::Query<TrackQuery>,
) -> Result<HttpResponse, AppError> {
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
#[utoipa::path(tag = "safety", responses((status = 200, description = "Map", body = PlantMap)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/map")]
async fn api_map(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(ps::map(&ctx.app.store.read()?)?))
}

/// Sets the plant map's size in metres (the image is uploaded on the map page).
#[utoipa::path(tag = "safety", request_body = PlantMap, responses(
    (status = 200, description = "Saved", body = PlantMap), (status = 422, description = "Out of range, or zones would fall outside")), security(("bearer" = ["safety:approve"])))]
#[put("/api/v1/safety/map")]
async fn api_map_put(
    ctx: Need<grant::safety::Approve>,
    body: web::Json<PlantMap>,
) -> Result<HttpResponse, AppError> {
    let m = body.into_inner();
    let m = ctx
        .write(move |app, actor| {
            ps::save_map(&app.store, actor, m.width_m, m.height_m, None, now_ms())
        })
        .await?;
    reload(&ctx);
    Ok(HttpResponse::Ok().json(m))
}

/// Zones with their rules.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Zones", body = Vec<Zone>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/zones")]
async fn api_zones(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(ps::zones(&ctx.app.store.read()?)?))
}

/// Draws a zone (`id` ignored).
#[utoipa::path(tag = "safety", request_body = Zone, responses(
    (status = 201, description = "Created", body = Zone), (status = 422, description = "Polygon or rules invalid")), security(("bearer" = ["safety:approve"])))]
#[post("/api/v1/safety/zones")]
async fn api_zone_create(
    ctx: Need<grant::safety::Approve>,
    body: web::Json<Zone>,
) -> Result<HttpResponse, AppError> {
    let mut z = body.into_inner();
    z.id = 0;
    let z = ctx
        .write(move |app, actor| ps::save_zone(&app.store, actor, z))
        .await?;
    reload(&ctx);
    Ok(HttpResponse::Created().json(z))
}

/// Changes a zone.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Zone id")), request_body = Zone, responses(
    (status = 200, description = "Changed", body = Zone)), security(("bearer" = ["safety:approve"])))]
#[put("/api/v1/safety/zones/{id}")]
async fn api_zone_update(
    ctx: Need<grant::safety::Approve>,
    id: web::Path<u64>,
    body: web::Json<Zone>,
) -> Result<HttpResponse, AppError> {
    let mut z = body.into_inner();
    z.id = *id;
    let z = ctx
        .write(move |app, actor| ps::save_zone(&app.store, actor, z))
        .await?;
    reload(&ctx);
    Ok(HttpResponse::Ok().json(z))
}
