//! A person's alerts: the page `/alerts` and the API under `/api/v1/alerts`. Everyone
//! signed in sees the alerts routed or escalated to them; those who read the audit log
//! (managers, admins) may also see everyone's.

use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::auth::model::{Level, User};
use crate::error::Error;
use crate::i18n::Msg;
use crate::util::now_ms;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::AppError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page)
        .service(ack_form)
        .service(api_list)
        .service(api_ack);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_list, api_ack))]
pub struct Doc;

fn person(ctx: &Ctx) -> Result<User, AppError> {
    ctx.who
        .user()
        .cloned()
        .ok_or_else(|| Error::Forbidden(Msg::new("alerts.err.person")).into())
}

/// Whether the caller may see everyone's alerts.
fn oversees(ctx: &Ctx) -> bool {
    ctx.who.can("audit", Level::Read)
}

#[derive(Serialize)]
struct View {
    id: u64,
    priority: &'static str,
    module: String,
    text: String,
    link: String,
    raised_ms: i64,
    count: u32,
    active: bool,
    escalated: bool,
    mine: bool,
    ack_by: Option<String>,
    ack_ms: Option<i64>,
    ack_comment: String,
    cleared_ms: Option<i64>,
}

fn view(ctx: &Ctx, user: u64, a: super::Alert) -> View {
    View {
        text: a.text(ctx.lang).to_string(),
        priority: a.priority.id(),
        mine: a.is_for(user),
        escalated: a.escalated_ms.is_some(),
        ack_by: a.ack.as_ref().map(|k| k.name.clone()),
        ack_ms: a.ack.as_ref().map(|k| k.at_ms),
        ack_comment: a.ack.map(|k| k.comment).unwrap_or_default(),
        id: a.id,
        module: a.module,
        link: a.link,
        raised_ms: a.raised_ms,
        count: a.count,
        active: a.active,
        cleared_ms: a.cleared_ms,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ListQuery {
    /// Everyone's alerts, not only the caller's (managers and admins).
    #[serde(default)]
    all: bool,
    /// Also the latest closed alerts.
    #[serde(default)]
    closed: bool,
}

#[get("/alerts")]
async fn page(ctx: Ctx, q: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let u = person(&ctx)?;
    let all = q.all && oversees(&ctx);
    let r = ctx.app.store.read()?;
    let standing = if all {
        super::all(&r)?
    } else {
        super::for_user(&r, u.id)?
    };
    let closed = super::closed(&r, (!all).then_some(u.id), 50)?;
    drop(r);
    let standing: Vec<View> = standing.into_iter().map(|a| view(&ctx, u.id, a)).collect();
    let closed: Vec<View> = closed.into_iter().map(|a| view(&ctx, u.id, a)).collect();
    ctx.page(
        "alerts.html",
        context! {
            alerts => to_value(&standing),
            closed => to_value(&closed),
            all,
            may_see_all => oversees(&ctx),
        },
    )
}

#[derive(Deserialize)]
struct AckForm {
    #[serde(default)]
    comment: String,
}

#[post("/alerts/{id}/ack")]
async fn ack_form(
    ctx: Ctx,
    id: web::Path<u64>,
    form: web::Form<AckForm>,
) -> Result<HttpResponse, AppError> {
    person(&ctx)?;
    let (id, comment) = (*id, form.into_inner().comment);
    ctx.write(move |app, actor| super::ack(&app.store, actor, id, &comment, now_ms()))
        .await?;
    Ok(redirect_with("/alerts", Some("alerts.flash.acked")))
}

/// The caller's standing alerts (unacknowledged first), or everyone's with `all` (also for
/// a machine token holding the audit read grant, e.g. a reporting system).
#[utoipa::path(tag = "alerts", params(ListQuery), responses(
    (status = 200, description = "Alerts", body = Vec<super::Alert>),
    (status = 403, description = "A machine token without `all` (alerts are per person), or `all` without the audit read grant")),
    security(("bearer" = [])))]
#[get("/api/v1/alerts")]
async fn api_list(ctx: Ctx, q: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    if q.all && !oversees(&ctx) {
        return Err(Error::Forbidden(Msg::new("alerts.err.all")).into());
    }
    let user = if q.all { None } else { Some(person(&ctx)?.id) };
    let r = ctx.app.store.read()?;
    let mut v = match user {
        None => super::all(&r)?,
        Some(u) => super::for_user(&r, u)?,
    };
    if q.closed {
        v.extend(super::closed(&r, user, 200)?);
    }
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct AckBody {
    #[serde(default)]
    comment: String,
}

/// Acknowledges one of the caller's alerts ("seen, I am on it"): it stops its escalation;
/// an event or a cleared alert then leaves the list.
#[utoipa::path(tag = "alerts", params(("id" = u64, Path, description = "Alert id")), request_body = AckBody,
    responses((status = 200, description = "Acknowledged", body = super::Alert),
    (status = 403, description = "Not routed to the caller"), (status = 404, description = "No such standing alert"),
    (status = 409, description = "Already acknowledged")), security(("bearer" = [])))]
#[post("/api/v1/alerts/{id}/ack")]
async fn api_ack(
    ctx: Ctx,
    id: web::Path<u64>,
    body: Option<web::Json<AckBody>>,
) -> Result<HttpResponse, AppError> {
    person(&ctx)?;
    let id = *id;
    let comment = body.map(|b| b.into_inner().comment).unwrap_or_default();
    let a = ctx
        .write(move |app, actor| super::ack(&app.store, actor, id, &comment, now_ms()))
        .await?;
    Ok(HttpResponse::Ok().json(a))
}
