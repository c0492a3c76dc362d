//! Gates, gate events and head counts per area, and the feed settings (MQTT/API): pages and API.

use super::*;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(gates_page)
        .service(gate_submit)
        .service(feed_submit)
        .service(api_gates)
        .service(api_gate_put)
        .service(api_gate_event)
        .service(api_gate_events)
        .service(api_headcount)
        .service(api_feed)
        .service(api_feed_put);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_gates,
    api_gate_put,
    api_gate_event,
    api_gate_events,
    api_headcount,
    api_feed,
    api_feed_put
))]
pub(super) struct Doc;

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
async fn gates_page(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    let c = gates_ctx(&ctx, serde_json::json!({"area": "plant"}))?;
    ctx.page("safety/gates.html", c)
}

#[post("/safety/gates")]
async fn gate_submit(
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
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
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
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
    match ctx
        .write(move |app, actor| ps::save_feed(&app.store, actor, cfg))
        .await
    {
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

/// Gates and the areas they lead into.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Gates", body = Vec<Gate>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/gates")]
async fn api_gates(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(ps::gates(&ctx.app.store.read()?)?))
}

/// Adds or changes a gate.
#[utoipa::path(tag = "safety", params(("code" = String, Path, description = "Gate code")), request_body = Gate, responses(
    (status = 200, description = "Saved", body = Gate), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["safety:approve"])))]
#[put("/api/v1/safety/gates/{code}")]
async fn api_gate_put(
    ctx: Need<grant::safety::Approve>,
    code: web::Path<String>,
    body: web::Json<Gate>,
) -> Result<HttpResponse, AppError> {
    let mut g = body.into_inner();
    g.code = code.into_inner();
    let g = ctx
        .write(move |app, actor| ps::save_gate(&app.store, actor, g))
        .await?;
    Ok(HttpResponse::Ok().json(g))
}

/// A gate controller reports a passage. Unknown gates are refused (422); unknown badges,
/// people not allowed in and expired certificates are recorded with `flags` and raise an
/// alarm.
#[utoipa::path(tag = "safety", request_body = GateInput, responses(
    (status = 201, description = "Recorded (see `flags`)", body = GateEvent),
    (status = 422, description = "Unknown gate or a malformed field")), security(("bearer" = ["safety:write"])))]
#[post("/api/v1/safety/gate-events")]
async fn api_gate_event(
    ctx: Need<grant::safety::Write>,
    body: web::Json<GateInput>,
) -> Result<HttpResponse, AppError> {
    let (input, day) = (body.into_inner(), today(&ctx));
    let e = ctx
        .write(move |app, actor| {
            ps::record_gate_event(&app.store, actor, input, "api", now_ms(), day)
        })
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
#[utoipa::path(tag = "safety", params(EventsQuery), responses((status = 200, description = "Events, newest first", body = Vec<GateEvent>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/gate-events")]
async fn api_gate_events(
    ctx: Need<grant::safety::Read>,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = q.limit.unwrap_or(200).clamp(1, 5000);
    let v = ps::gate_events(&ctx.app.store.read()?, limit, q.flagged.unwrap_or(false))?;
    Ok(HttpResponse::Ok().json(v))
}

/// Head counts per area (`plant` is the perimeter), from the gate events.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Counts", body = Vec<HeadCount>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/headcount")]
async fn api_headcount(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(ps::head_counts(&ctx.app.store.read()?)?))
}

#[derive(Serialize, utoipa::ToSchema)]
struct FeedOut {
    config: FeedConfig,
    status: FeedStatus,
}

/// The MQTT feed settings (password shown as set or not) and its status.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Feed", body = FeedOut)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/feed")]
async fn api_feed(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
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
    (status = 200, description = "Saved"), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["safety:approve"])))]
#[put("/api/v1/safety/feed")]
async fn api_feed_put(
    ctx: Need<grant::safety::Approve>,
    body: web::Json<FeedConfig>,
) -> Result<HttpResponse, AppError> {
    let c = body.into_inner();
    ctx.write(move |app, actor| ps::save_feed(&app.store, actor, c))
        .await?;
    live(&ctx.app).restart_feed(&ctx.app.clone().into_inner());
    Ok(HttpResponse::Ok().json(serde_json::json!({"saved": true})))
}
