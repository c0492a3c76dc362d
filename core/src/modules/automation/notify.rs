//! Notification channels (`/automation/notify`, `/api/v1/alarms/channels`): DingTalk and
//! WeCom robots and email, with a test button. Changing them needs `automation.approve`.

use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::Serialize;

use crate::alarms::model::Priority;
use crate::alarms::notify::{self as svc, Channel, ChannelStatus, SmtpSecurity, Target};
use crate::auth::model::Level;
use crate::error::Error;
use crate::secrets::Secret;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const M: &str = "automation";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_page)
        .service(new_page)
        .service(create_submit)
        .service(edit_page)
        .service(update_submit)
        .service(delete_submit)
        .service(test_submit)
        .service(api_list)
        .service(api_create)
        .service(api_get)
        .service(api_update)
        .service(api_delete)
        .service(api_test);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_list, api_create, api_get, api_update, api_delete, api_test))]
pub struct Doc;

/// A channel (secrets shown only as set) with its counters.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    #[serde(flatten)]
    pub channel: Channel,
    pub status: ChannelStatus,
}

fn views(ctx: &Ctx) -> Result<Vec<ChannelView>, AppError> {
    Ok(svc::channels(&ctx.app.store.read()?)?
        .into_iter()
        .map(|c| ChannelView {
            status: ctx.app.notifier.status(c.id),
            channel: c.redacted(),
        })
        .collect())
}

fn load(ctx: &Ctx, id: u32) -> Result<Channel, AppError> {
    svc::channels(&ctx.app.store.read()?)?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| Error::not_found("alarms.err.channel_not_found").into())
}

fn values(c: &Channel) -> serde_json::Value {
    let mut v = serde_json::json!({
        "name": c.name, "min_priority": c.min_priority.id(), "areas": c.areas.join(", "),
        "returns": if c.returns { "on" } else { "" }, "alerts": if c.alerts { "on" } else { "" }, "max_per_hour": c.max_per_hour.to_string(),
        "lang": c.lang, "enabled": if c.enabled { "on" } else { "" }, "port": "465", "security": "tls",
    });
    let extra = match &c.target {
        Target::Dingtalk { webhook, secret } => {
            serde_json::json!({"kind": "dingtalk", "webhook": webhook, "secret_set": secret.is_set()})
        }
        Target::Wecom { webhook } => serde_json::json!({"kind": "wecom", "webhook": webhook}),
        Target::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
        } => serde_json::json!({
            "kind": "email", "host": host, "port": port.to_string(), "security": security, "username": username,
            "password_set": password.is_set(), "from": from, "to": to.join(", "),
        }),
    };
    if let (Some(v), serde_json::Value::Object(m)) = (v.as_object_mut(), extra) {
        v.extend(m);
    }
    v
}

fn secret_field(f: &FormData, name: &str) -> Secret {
    match (f.get(name), f.checked(&format!("{name}_clear"))) {
        (_, true) => Secret::Empty,
        ("", false) => Secret::Keep,
        (p, false) => Secret::Plain(p.to_string()),
    }
}

fn from_form(f: &FormData, id: u32) -> Result<Channel, Error> {
    let list = |name: &str| -> Vec<String> {
        f.get(name)
            .split([',', '，', ';', '；', ' ', '\n'])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    let target = match f.get("kind") {
        "dingtalk" => Target::Dingtalk {
            webhook: f.get("webhook").to_string(),
            secret: secret_field(f, "secret"),
        },
        "wecom" => Target::Wecom {
            webhook: f.get("webhook").to_string(),
        },
        "email" => Target::Email {
            host: f.get("host").to_string(),
            port: f.opt("port")?.unwrap_or(465),
            security: match f.get("security") {
                "starttls" => SmtpSecurity::Starttls,
                "none" => SmtpSecurity::None,
                _ => SmtpSecurity::Tls,
            },
            username: f.get("username").to_string(),
            password: secret_field(f, "password"),
            from: f.get("from").to_string(),
            to: list("to"),
        },
        _ => return Err(Error::invalid("kind", "alarms.err.channel_kind")),
    };
    Ok(Channel {
        id,
        name: f.get("name").to_string(),
        target,
        min_priority: Priority::parse(f.get("min_priority"))
            .ok_or_else(|| Error::invalid("min_priority", "alarms.err.priority"))?,
        areas: list("areas"),
        returns: f.checked("returns"),
        alerts: f.checked("alerts"),
        max_per_hour: f.opt("max_per_hour")?.unwrap_or(30),
        lang: f.get("lang").to_string(),
        enabled: f.checked("enabled"),
    })
}

fn form_ctx(ctx: &Ctx, channel: Option<&Channel>, values: serde_json::Value) -> minijinja::Value {
    context! {
        channel => channel.map(|c| to_value(&c.redacted())),
        values => to_value(&values),
        priorities => Priority::ALL.iter().map(|p| p.id()).collect::<Vec<_>>(),
        can_approve => ctx.who.can(M, Level::Approve),
    }
}

#[get("/automation/notify")]
async fn list_page(ctx: Need<grant::automation::Read>) -> Result<HttpResponse, AppError> {
    ctx.page(
        "automation/channels.html",
        context! { channels => to_value(&views(&ctx)?), can_approve => ctx.who.can(M, Level::Approve) },
    )
}

#[get("/automation/notify/new")]
async fn new_page(ctx: Need<grant::automation::Approve>) -> Result<HttpResponse, AppError> {
    let v = serde_json::json!({"kind": "dingtalk", "min_priority": "high", "max_per_hour": "30", "lang": ctx.lang.code(),
        "enabled": "on", "port": "465", "security": "tls"});
    ctx.page("automation/channel_form.html", form_ctx(&ctx, None, v))
}

async fn save(ctx: &Ctx, f: &FormData, id: u32) -> Result<Channel, AppError> {
    let c = from_form(f, id)?;
    ctx.write(move |app, actor| {
        let c = svc::save(&app.store, actor, c)?;
        app.notifier.reload()?;
        Ok(c)
    })
    .await
}

#[post("/automation/notify")]
async fn create_submit(
    ctx: Need<grant::automation::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    ctx.done(
        save(&ctx, &f, 0)
            .await
            .map(|c| format!("/automation/notify/{}", c.id)),
        "flash.saved",
        "automation/channel_form.html",
        || Ok(form_ctx(&ctx, None, f.echo())),
    )
}

#[get("/automation/notify/{id:\\d+}")]
async fn edit_page(
    ctx: Need<grant::automation::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let c = load(&ctx, *id)?;
    let v = values(&c);
    let mut cx = form_ctx(&ctx, Some(&c), v);
    cx = context! { status => to_value(&ctx.app.notifier.status(c.id)), ..cx };
    ctx.page("automation/channel_form.html", cx)
}

#[post("/automation/notify/{id:\\d+}")]
async fn update_submit(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let before = load(&ctx, *id)?;
    ctx.done(
        save(&ctx, &f, *id)
            .await
            .map(|c| format!("/automation/notify/{}", c.id)),
        "flash.saved",
        "automation/channel_form.html",
        || {
            let mut echo = f.echo();
            echo["secret_set"] = values(&before)["secret_set"].clone();
            echo["password_set"] = values(&before)["password_set"].clone();
            Ok(form_ctx(&ctx, Some(&before), echo))
        },
    )
}

#[post("/automation/notify/{id:\\d+}/delete")]
async fn delete_submit(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    ctx.write(move |app, actor| {
        svc::delete(&app.store, actor, id)?;
        app.notifier.reload()
    })
    .await?;
    Ok(redirect_with("/automation/notify", Some("flash.deleted")))
}

async fn send_test(ctx: &Need<grant::automation::Approve>, id: u32) -> Result<(), AppError> {
    let c = load(ctx, id)?;
    let app = ctx.app.clone();
    blocking(move || app.notifier.test(&c)).await
}

#[post("/automation/notify/{id:\\d+}/test")]
async fn test_submit(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    match send_test(&ctx, *id).await {
        Ok(()) => Ok(redirect_with(
            &format!("/automation/notify/{id}"),
            Some("flash.test_sent"),
        )),
        Err(e) if e.status == actix_web::http::StatusCode::BAD_GATEWAY => {
            let c = load(&ctx, *id)?;
            let cx = form_ctx(&ctx, Some(&c), values(&c));
            ctx.form_error("automation/channel_form.html", cx, e)
        }
        Err(e) => Err(e),
    }
}

/// Notification channels with their counters (sent, failed, held back by the rate limit).
#[utoipa::path(tag = "alarms", responses((status = 200, description = "Channels", body = Vec<ChannelView>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms/channels")]
async fn api_list(ctx: Need<grant::automation::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(views(&ctx)?))
}

async fn api_save(ctx: &Need<grant::automation::Approve>, c: Channel) -> Result<Channel, AppError> {
    ctx.write(move |app, actor| {
        let c = svc::save(&app.store, actor, c)?;
        app.notifier.reload()?;
        Ok(c.redacted())
    })
    .await
}

/// Adds a channel (`id` ignored). Secrets: a string sets them; answers show `{"set": true}`.
#[utoipa::path(tag = "alarms", request_body = Channel, responses(
    (status = 201, description = "Created", body = Channel), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["automation:approve"])))]
#[post("/api/v1/alarms/channels")]
async fn api_create(
    ctx: Need<grant::automation::Approve>,
    body: web::Json<Channel>,
) -> Result<HttpResponse, AppError> {
    let c = api_save(
        &ctx,
        Channel {
            id: 0,
            ..body.into_inner()
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(c))
}

#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Channel id")), responses(
    (status = 200, description = "The channel", body = ChannelView), (status = 404, description = "No such channel")), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms/channels/{id:\\d+}")]
async fn api_get(
    ctx: Need<grant::automation::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let c = load(&ctx, *id)?;
    Ok(HttpResponse::Ok().json(ChannelView {
        status: ctx.app.notifier.status(c.id),
        channel: c.redacted(),
    }))
}

/// Replaces a channel; `{"set": true}` keeps a stored secret.
#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Channel id")), request_body = Channel, responses(
    (status = 200, description = "Updated", body = Channel), (status = 404, description = "No such channel"),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["automation:approve"])))]
#[put("/api/v1/alarms/channels/{id:\\d+}")]
async fn api_update(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
    body: web::Json<Channel>,
) -> Result<HttpResponse, AppError> {
    let c = api_save(
        &ctx,
        Channel {
            id: *id,
            ..body.into_inner()
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(c))
}

#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Channel id")), responses(
    (status = 204, description = "Deleted"), (status = 404, description = "No such channel")), security(("bearer" = ["automation:approve"])))]
#[delete("/api/v1/alarms/channels/{id:\\d+}")]
async fn api_delete(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    ctx.write(move |app, actor| {
        svc::delete(&app.store, actor, id)?;
        app.notifier.reload()
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a test message through the channel now and reports whether it went through.
#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Channel id")), responses(
    (status = 204, description = "Delivered"), (status = 502, description = "The robot or mail server refused it; the message says why")), security(("bearer" = ["automation:approve"])))]
#[post("/api/v1/alarms/channels/{id:\\d+}/test")]
async fn api_test(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    send_test(&ctx, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
