//! The northbound page (`/integration/northbound`) and API (`/api/v1/northbound`), part of
//! the data integration module.

use actix_web::{HttpResponse, get, post, put, web};
use minijinja::context;
use serde::Serialize;

use super::{Config, Format, Status};
use crate::auth::model::Level;
use crate::error::Error;
use crate::web::context::{Ctx, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const M: &str = "integration";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page)
        .service(submit)
        .service(api_get)
        .service(api_put);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_get, api_put))]
pub struct Doc;

/// The configuration (password shown only as set) and the publisher's counters.
#[derive(Serialize, utoipa::ToSchema)]
pub struct View {
    pub config: Config,
    pub status: Status,
}

fn view(ctx: &Ctx) -> Result<View, AppError> {
    Ok(View {
        config: super::config(&ctx.app.store.read()?)?.redacted(),
        status: ctx.app.northbound.status(),
    })
}

fn values(c: &Config) -> serde_json::Value {
    serde_json::json!({
        "enabled": if c.enabled { "on" } else { "" }, "host": c.host, "port": c.port.to_string(),
        "tls": if c.tls { "on" } else { "" }, "username": c.username, "password_set": c.password.is_set(),
        "client_id": c.client_id, "format": c.format, "group_id": c.group_id, "node_id": c.node_id,
        "topic_prefix": c.topic_prefix, "areas": c.areas.join(", "), "alarms": if c.alarms { "on" } else { "" },
        "max_queue": c.max_queue.to_string(),
    })
}

fn from_form(f: &FormData) -> Result<Config, Error> {
    let d = Config::default();
    Ok(Config {
        enabled: f.checked("enabled"),
        host: f.get("host").trim().to_string(),
        port: f.opt("port")?.unwrap_or(d.port),
        tls: f.checked("tls"),
        username: f.get("username").trim().to_string(),
        password: f.secret("password", "password_clear"),
        client_id: f.get("client_id").trim().to_string(),
        format: if f.get("format") == "json" {
            Format::Json
        } else {
            Format::SparkplugB
        },
        group_id: f.get("group_id").trim().to_string(),
        node_id: f.get("node_id").trim().to_string(),
        topic_prefix: f.get("topic_prefix").trim().to_string(),
        areas: f
            .get("areas")
            .split([',', '，'])
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
        alarms: f.checked("alarms"),
        max_queue: f.opt("max_queue")?.unwrap_or(d.max_queue),
    })
}

#[get("/integration/northbound")]
async fn page(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    let v = view(&ctx)?;
    ctx.page(
        "integration/northbound.html",
        context! { values => to_value(&values(&v.config)), status => to_value(&v.status), can_write => ctx.who.can(M, Level::Approve) },
    )
}

#[post("/integration/northbound")]
async fn submit(
    ctx: Need<grant::integration::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    // publishing the plant's data off the box is an approval, not an everyday change
    let f = FormData::from(form);
    let result = async {
        let c = from_form(&f)?;
        ctx.write(move |app, actor| {
            let c = super::save_config(&app.store, actor, c)?;
            app.northbound.reload()?;
            Ok(c)
        })
        .await
    }
    .await;
    ctx.done(result.map(|_| "/integration/northbound".to_string()), "flash.saved", "integration/northbound.html", || {
let status = ctx.app.northbound.status();
            let mut echo = f.echo();
            echo["password_set"] = (!f.get("password").is_empty()).into();
    Ok(context! { values => to_value(&echo), status => to_value(&status), can_write => true })
})
}

/// Northbound configuration and counters (connected, queued, sent, dropped).
#[utoipa::path(tag = "northbound", responses((status = 200, description = "Configuration and status", body = View)), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/northbound")]
async fn api_get(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(view(&ctx)?))
}

/// Replaces the northbound configuration (needs `integration.approve`); the publisher
/// restarts with it. `password`: a string sets it, `{"set": true}` keeps it.
#[utoipa::path(tag = "northbound", request_body = Config, responses(
    (status = 200, description = "Saved", body = View), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["integration:approve"])))]
#[put("/api/v1/northbound")]
async fn api_put(
    ctx: Need<grant::integration::Approve>,
    body: web::Json<Config>,
) -> Result<HttpResponse, AppError> {
    let c = body.into_inner();
    ctx.write(move |app, actor| {
        super::save_config(&app.store, actor, c)?;
        app.northbound.reload()
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&ctx)?))
}
