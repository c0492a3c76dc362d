//! A person's notices: the page `/notices` and the API under `/api/v1/notices`. Everyone
//! signed in sees their own; machine tokens have none.

use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::auth::model::User;
use crate::error::Error;
use crate::i18n::Msg;
use crate::util::now_ms;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::AppError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page)
        .service(open)
        .service(read_all)
        .service(api_list)
        .service(api_read)
        .service(api_read_all);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_list, api_read, api_read_all))]
pub struct Doc;

/// The signed-in person (notices are per person, not per machine token).
fn person(ctx: &Ctx) -> Result<User, AppError> {
    ctx.who
        .user()
        .cloned()
        .ok_or_else(|| Error::Forbidden(Msg::new("notices.err.person")).into())
}

#[derive(Serialize)]
struct View {
    id: u64,
    at_ms: i64,
    text: String,
    link: String,
    unread: bool,
}

#[get("/notices")]
async fn page(ctx: Ctx) -> Result<HttpResponse, AppError> {
    let u = person(&ctx)?;
    let list: Vec<View> = super::list(&ctx.app.store.read()?, u.id)?
        .into_iter()
        .map(|n| View {
            text: n.text(ctx.lang).to_string(),
            id: n.id,
            at_ms: n.at_ms,
            link: n.link,
            unread: n.read_ms.is_none(),
        })
        .collect();
    ctx.page("notices.html", context! { notices => to_value(&list) })
}

/// Marks a notice read and goes to its record.
#[post("/notices/{id}/open")]
async fn open(ctx: Ctx, id: web::Path<u64>) -> Result<HttpResponse, AppError> {
    let u = person(&ctx)?;
    let link = super::list(&ctx.app.store.read()?, u.id)?
        .into_iter()
        .find(|n| n.id == *id)
        .map(|n| n.link)
        .ok_or_else(|| Error::NotFound(Msg::new("notices.err.not_found")))?;
    let nid = *id;
    ctx.write(move |app, actor| super::mark_read(&app.store, actor, u.id, Some(nid), now_ms()))
        .await?;
    // only links inside the console
    let to = if link.starts_with('/') && !link.starts_with("//") {
        link
    } else {
        "/notices".into()
    };
    Ok(redirect_with(&to, None))
}

#[post("/notices/read")]
async fn read_all(ctx: Ctx) -> Result<HttpResponse, AppError> {
    let u = person(&ctx)?;
    ctx.write(move |app, actor| super::mark_read(&app.store, actor, u.id, None, now_ms()))
        .await?;
    Ok(redirect_with("/notices", Some("flash.saved")))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ListQuery {
    /// Only unread notices.
    #[serde(default)]
    unread: bool,
}

/// The signed-in person's notices, newest first.
#[utoipa::path(tag = "notices", params(ListQuery), responses(
    (status = 200, description = "Notices", body = Vec<super::Notice>),
    (status = 403, description = "A machine token (notices are per person)")), security(("bearer" = [])))]
#[get("/api/v1/notices")]
async fn api_list(ctx: Ctx, q: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let u = person(&ctx)?;
    let v: Vec<_> = super::list(&ctx.app.store.read()?, u.id)?
        .into_iter()
        .filter(|n| !q.unread || n.read_ms.is_none())
        .collect();
    Ok(HttpResponse::Ok().json(v))
}

/// Marks one notice read.
#[utoipa::path(tag = "notices", params(("id" = u64, Path, description = "Notice id")), responses(
    (status = 204, description = "Read"), (status = 404, description = "Not one of the caller's notices")), security(("bearer" = [])))]
#[post("/api/v1/notices/{id}/read")]
async fn api_read(ctx: Ctx, id: web::Path<u64>) -> Result<HttpResponse, AppError> {
    let u = person(&ctx)?;
    let nid = *id;
    ctx.write(move |app, actor| super::mark_read(&app.store, actor, u.id, Some(nid), now_ms()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Marks all the caller's notices read.
#[utoipa::path(tag = "notices", responses((status = 204, description = "Read")), security(("bearer" = [])))]
#[post("/api/v1/notices/read-all")]
async fn api_read_all(ctx: Ctx) -> Result<HttpResponse, AppError> {
    let u = person(&ctx)?;
    ctx.write(move |app, actor| super::mark_read(&app.store, actor, u.id, None, now_ms()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
