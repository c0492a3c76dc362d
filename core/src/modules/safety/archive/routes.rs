//! Pages (under `/safety`) and API (under `/api/v1/safety`) of the enterprise archive.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;

use super::model::{CertKind, CertView, Certificate, FileMeta, Subject};
use super::service::{self as svc, CertInput, Filter, RenewInput};
use crate::auth::model::Level;
use crate::error::Error;
use crate::i18n::Lang;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const M: &str = "safety";

/// Pages under `/safety` and the API under `/api/v1/safety`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(overview)
        .service(list_page)
        .service(new_page)
        .service(create_submit)
        .service(detail_page)
        .service(update_submit)
        .service(renew_submit)
        .service(delete_submit)
        .service(upload_submit)
        .service(file_download)
        .service(file_delete)
        .service(kinds_page)
        .service(kind_submit)
        .service(api_summary)
        .service(api_list)
        .service(api_create)
        .service(api_get)
        .service(api_update)
        .service(api_renew)
        .service(api_delete)
        .service(api_upload)
        .service(api_file)
        .service(api_kinds)
        .service(api_kind_create)
        .service(api_kind_update);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_summary,
    api_list,
    api_create,
    api_get,
    api_update,
    api_renew,
    api_delete,
    api_upload,
    api_file,
    api_kinds,
    api_kind_create,
    api_kind_update
))]
pub struct Doc;

fn kind_name(k: &CertKind, lang: Lang) -> String {
    match lang {
        Lang::ZhCn => k.name_zh.clone(),
        Lang::En => k.name_en.clone(),
    }
}

fn kinds_json(ctx: &Ctx) -> Result<Vec<serde_json::Value>, AppError> {
    Ok(svc::kinds(&ctx.app.store.read()?)?
        .iter()
        .map(|k| serde_json::json!({ "id": k.id, "name": kind_name(k, ctx.lang), "subject": k.subject, "kind": k }))
        .collect())
}

// ------------------------------------------------------------------ pages

#[get("/safety")]
async fn overview(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    let today = crate::plant_time::today(ctx.app.offset);
    let r = ctx.app.store.read()?;
    let summary = svc::summary(&r, today)?;
    let urgent: Vec<CertView> = svc::certificates(&r, today, &Filter::default())?
        .into_iter()
        .filter(|v| {
            matches!(
                v.status,
                super::model::Status::Expired | super::model::Status::Expiring
            )
        })
        .collect();
    ctx.page(
        "safety/overview.html",
        context! {
            summary => to_value(&summary),
            urgent => to_value(&urgent),
            kinds => to_value(&kinds_json(&ctx)?),
        },
    )
}

#[get("/safety/certificates")]
async fn list_page(
    ctx: Need<grant::safety::Read>,
    f: web::Query<Filter>,
) -> Result<HttpResponse, AppError> {
    let today = crate::plant_time::today(ctx.app.offset);
    let certs = svc::certificates(&ctx.app.store.read()?, today, &f)?;
    ctx.page(
        "safety/certificates.html",
        context! {
            certs => to_value(&certs),
            kinds => to_value(&kinds_json(&ctx)?),
            filter => to_value(&serde_json::json!({
                "status": f.status, "kind": f.kind, "subject": f.subject, "q": f.q,
            })),
            can_write => ctx.who.can(M, Level::Write),
        },
    )
}

fn form_ctx(
    ctx: &Ctx,
    cert: Option<&CertView>,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    Ok(context! {
        cert => cert.map(to_value),
        kinds => to_value(&kinds_json(ctx)?),
        values => to_value(&values),
        can_write => ctx.who.can(M, Level::Write),
        can_approve => ctx.who.can(M, Level::Approve),
        max_mib => svc::MAX_FILE_BYTES >> 20,
    })
}

#[get("/safety/certificates/new")]
async fn new_page(
    ctx: Need<grant::safety::Write>,
    q: web::Query<Filter>,
) -> Result<HttpResponse, AppError> {
    let holder = crate::org::service::profile(&ctx.app.store.read()?)?.company_name;
    let c = form_ctx(
        &ctx,
        None,
        serde_json::json!({ "kind": q.kind, "holder": holder }),
    )?;
    ctx.page("safety/certificate_form.html", c)
}

fn input_of(f: &FormData) -> CertInput {
    CertInput {
        kind: f.get("kind").into(),
        number: f.get("number").into(),
        issuer: f.get("issuer").into(),
        scope: f.get("scope").into(),
        holder: f.get("holder").into(),
        holder_ref: f.get("holder_ref").into(),
        issued: f.get("issued").into(),
        expires: Some(f.get("expires").to_string()),
        note: f.get("note").into(),
    }
}

#[post("/safety/certificates")]
async fn create_submit(
    ctx: Need<grant::safety::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let input = input_of(&f);
    ctx.done(
        ctx.write(move |app, actor| svc::create(&app.store, actor, input))
            .await
            .map(|c| format!("/safety/certificates/{}", c.id)),
        "flash.saved",
        "safety/certificate_form.html",
        || form_ctx(&ctx, None, f.echo()),
    )
}

fn load_view(ctx: &Ctx, id: u64) -> Result<CertView, AppError> {
    let r = ctx.app.store.read()?;
    let c = svc::certificate(&r, id)?;
    let k = svc::kind(&r, &c.kind)?;
    Ok(svc::view(
        &c,
        k.as_ref(),
        crate::plant_time::today(ctx.app.offset),
    ))
}

fn cert_values(c: &Certificate) -> serde_json::Value {
    serde_json::json!({
        "kind": c.kind, "number": c.number, "issuer": c.issuer, "scope": c.scope,
        "holder": c.holder, "holder_ref": c.holder_ref, "issued": c.issued,
        "expires": c.expires.clone().unwrap_or_default(), "note": c.note,
    })
}

#[get("/safety/certificates/{id}")]
async fn detail_page(
    ctx: Need<grant::safety::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let v = load_view(&ctx, *id)?;
    let values = cert_values(&v.cert);
    let c = form_ctx(&ctx, Some(&v), values)?;
    ctx.page("safety/certificate_form.html", c)
}

async fn detail_error(
    ctx: &Ctx,
    id: u64,
    f: &FormData,
    e: AppError,
) -> Result<HttpResponse, AppError> {
    let v = load_view(ctx, id)?;
    let mut values = cert_values(&v.cert);
    if let (Some(o), serde_json::Value::Object(typed)) = (values.as_object_mut(), f.echo()) {
        o.extend(typed);
    }
    let c = form_ctx(ctx, Some(&v), values)?;
    ctx.form_error("safety/certificate_form.html", c, e)
}

#[post("/safety/certificates/{id}")]
async fn update_submit(
    ctx: Need<grant::safety::Write>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let (cid, input) = (*id, input_of(&f));
    match ctx
        .write(move |app, actor| svc::update(&app.store, actor, cid, input))
        .await
    {
        Ok(_) => Ok(redirect_with(
            &format!("/safety/certificates/{cid}"),
            Some("flash.saved"),
        )),
        Err(e) => detail_error(&ctx, cid, &f, e).await,
    }
}

#[post("/safety/certificates/{id}/renew")]
async fn renew_submit(
    ctx: Need<grant::safety::Write>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let input = RenewInput {
        number: f.get("renew_number").into(),
        issued: f.get("renew_issued").into(),
        expires: Some(f.get("renew_expires").to_string()),
    };
    let cid = *id;
    match ctx
        .write(move |app, actor| svc::renew(&app.store, actor, cid, input))
        .await
    {
        Ok(_) => Ok(redirect_with(
            &format!("/safety/certificates/{cid}"),
            Some("flash.renewed"),
        )),
        Err(e) => detail_error(&ctx, cid, &f, e).await,
    }
}

#[post("/safety/certificates/{id}/delete")]
async fn delete_submit(
    ctx: Need<grant::safety::Approve>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    // removing a licence from the archive is a sign-off, not an edit
    let cid = *id;
    ctx.write(move |app, actor| svc::delete(&app.store, actor, cid))
        .await?;
    Ok(redirect_with("/safety/certificates", Some("flash.deleted")))
}

/// The `file` field of an upload, at most the archive's file size.
async fn read_upload(mp: Multipart) -> Result<(String, Vec<u8>), AppError> {
    crate::web::form::read_upload(mp, svc::MAX_FILE_BYTES).await
}

#[post("/safety/certificates/{id}/files")]
async fn upload_submit(
    ctx: Need<grant::safety::Write>,
    id: web::Path<u64>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    let cid = *id;
    let result = match read_upload(mp).await {
        Ok((name, bytes)) => {
            ctx.write(move |app, actor| svc::add_file(&app.store, actor, cid, &name, bytes))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(redirect_with(
            &format!("/safety/certificates/{cid}"),
            Some("flash.uploaded"),
        )),
        Err(e) => detail_error(&ctx, cid, &FormData(Vec::new()), e).await,
    }
}

pub(crate) fn file_response(meta: FileMeta, bytes: Vec<u8>) -> HttpResponse {
    // RFC 6266 / 5987: ASCII fallback plus the UTF-8 name (Chinese file names)
    let ascii: String = meta
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = crate::web::middleware::urlencode(&meta.name).replace('+', "%20");
    HttpResponse::Ok()
        .content_type(meta.content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes)
}

#[get("/safety/certificates/{id}/files/{file}")]
async fn file_download(
    ctx: Need<grant::safety::Read>,
    path: web::Path<(u64, u64)>,
) -> Result<HttpResponse, AppError> {
    let (meta, bytes) = svc::file(&ctx.app.store.read()?, path.0, path.1)?;
    Ok(file_response(meta, bytes))
}

#[post("/safety/certificates/{id}/files/{file}/delete")]
async fn file_delete(
    ctx: Need<grant::safety::Write>,
    path: web::Path<(u64, u64)>,
) -> Result<HttpResponse, AppError> {
    let (cid, fid) = path.into_inner();
    ctx.write(move |app, actor| svc::remove_file(&app.store, actor, cid, fid))
        .await?;
    Ok(redirect_with(
        &format!("/safety/certificates/{cid}"),
        Some("flash.deleted"),
    ))
}

#[get("/safety/kinds")]
async fn kinds_page(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    ctx.page(
        "safety/kinds.html",
        context! { kinds => to_value(&kinds_json(&ctx)?), can_write => ctx.who.can(M, Level::Approve), values => to_value(&serde_json::json!({"warn_days": "90"})) },
    )
}

fn kind_of(f: &FormData) -> Result<CertKind, Error> {
    Ok(CertKind {
        id: f.get("id").into(),
        name_zh: f.get("name_zh").into(),
        name_en: f.get("name_en").into(),
        subject: if f.get("subject") == "person" {
            Subject::Person
        } else {
            Subject::Enterprise
        },
        warn_days: f.opt("warn_days")?.unwrap_or(90),
        update_months: f.opt("update_months")?,
        builtin: false,
    })
}

/// One form for both: `create=1` adds a kind, otherwise the kind `id` is changed.
#[post("/safety/kinds")]
async fn kind_submit(
    ctx: Need<grant::safety::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let create = f.get("create") == "1";
    let result = async {
        let k = kind_of(&f)?;
        ctx.write(move |app, actor| svc::save_kind(&app.store, actor, k, create))
            .await
    }
    .await;
    ctx.done(
        result.map(|_| "/safety/kinds".to_string()),
        "flash.saved",
        "safety/kinds.html",
        || {
            let c = context! {
                kinds => to_value(&kinds_json(&ctx)?),
                can_write => true,
                values => to_value(&f.echo()),
                failed_id => f.get("id").to_string(),
            };
            Ok(c)
        },
    )
}

// ------------------------------------------------------------------ API

/// Counts of documents per status.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Counts", body = svc::Summary)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/summary")]
async fn api_summary(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    let s = svc::summary(
        &ctx.app.store.read()?,
        crate::plant_time::today(ctx.app.offset),
    )?;
    Ok(HttpResponse::Ok().json(s))
}

/// Licences, certificates and reports with their status, most urgent first.
#[utoipa::path(tag = "safety", params(Filter), responses((status = 200, description = "Certificates", body = Vec<CertView>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/certificates")]
async fn api_list(
    ctx: Need<grant::safety::Read>,
    f: web::Query<Filter>,
) -> Result<HttpResponse, AppError> {
    let v = svc::certificates(
        &ctx.app.store.read()?,
        crate::plant_time::today(ctx.app.offset),
        &f,
    )?;
    Ok(HttpResponse::Ok().json(v))
}

/// Records a licence, certificate or report.
#[utoipa::path(tag = "safety", request_body = CertInput, responses(
    (status = 201, description = "Created", body = CertView),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["safety:write"])))]
#[post("/api/v1/safety/certificates")]
async fn api_create(
    ctx: Need<grant::safety::Write>,
    body: web::Json<CertInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner();
    let c = ctx
        .write(move |app, actor| svc::create(&app.store, actor, input))
        .await?;
    Ok(HttpResponse::Created().json(load_view(&ctx, c.id)?))
}

/// One certificate with its status, renewals and attachments.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Certificate id")), responses(
    (status = 200, description = "The certificate", body = CertView), (status = 404, description = "No such certificate")),
    security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/certificates/{id}")]
async fn api_get(
    ctx: Need<grant::safety::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(load_view(&ctx, *id)?))
}

/// Corrects a certificate's data. Use `renew` for a new validity period.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Certificate id")), request_body = CertInput, responses(
    (status = 200, description = "Updated", body = CertView), (status = 422, description = "A field breaks a rule")),
    security(("bearer" = ["safety:write"])))]
#[put("/api/v1/safety/certificates/{id}")]
async fn api_update(
    ctx: Need<grant::safety::Write>,
    id: web::Path<u64>,
    body: web::Json<CertInput>,
) -> Result<HttpResponse, AppError> {
    let (cid, input) = (*id, body.into_inner());
    ctx.write(move |app, actor| svc::update(&app.store, actor, cid, input))
        .await?;
    Ok(HttpResponse::Ok().json(load_view(&ctx, cid)?))
}

/// Renews a certificate: the current number and dates move to the renewal history.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Certificate id")), request_body = RenewInput, responses(
    (status = 200, description = "Renewed", body = CertView), (status = 422, description = "A field breaks a rule")),
    security(("bearer" = ["safety:write"])))]
#[post("/api/v1/safety/certificates/{id}/renew")]
async fn api_renew(
    ctx: Need<grant::safety::Write>,
    id: web::Path<u64>,
    body: web::Json<RenewInput>,
) -> Result<HttpResponse, AppError> {
    let (cid, input) = (*id, body.into_inner());
    ctx.write(move |app, actor| svc::renew(&app.store, actor, cid, input))
        .await?;
    Ok(HttpResponse::Ok().json(load_view(&ctx, cid)?))
}

/// Deletes a certificate and its attachments.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Certificate id")), responses(
    (status = 204, description = "Deleted"), (status = 404, description = "No such certificate")), security(("bearer" = ["safety:approve"])))]
#[delete("/api/v1/safety/certificates/{id}")]
async fn api_delete(
    ctx: Need<grant::safety::Approve>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let cid = *id;
    ctx.write(move |app, actor| svc::delete(&app.store, actor, cid))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Upload {
    /// PDF, PNG, JPEG or WebP, at most 10 MiB; checked by content.
    #[schema(content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// Attaches a scan (multipart field `file`).
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Certificate id")),
    request_body(content = inline(Upload), content_type = "multipart/form-data"), responses(
    (status = 201, description = "Attached", body = FileMeta),
    (status = 422, description = "Empty, too large or not a PDF/image")), security(("bearer" = ["safety:write"])))]
#[post("/api/v1/safety/certificates/{id}/files")]
async fn api_upload(
    ctx: Need<grant::safety::Write>,
    id: web::Path<u64>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    let (name, bytes) = read_upload(mp).await?;
    let cid = *id;
    let m = ctx
        .write(move |app, actor| svc::add_file(&app.store, actor, cid, &name, bytes))
        .await?;
    Ok(HttpResponse::Created().json(m))
}

/// Downloads an attachment.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Certificate id"), ("file" = u64, Path, description = "File id")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
    (status = 404, description = "No such file")), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/certificates/{id}/files/{file}")]
async fn api_file(
    ctx: Need<grant::safety::Read>,
    path: web::Path<(u64, u64)>,
) -> Result<HttpResponse, AppError> {
    let (meta, bytes) = svc::file(&ctx.app.store.read()?, path.0, path.1)?;
    Ok(file_response(meta, bytes))
}

/// Kinds of documents with their warning windows and update periods.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Kinds", body = Vec<CertKind>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/kinds")]
async fn api_kinds(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::kinds(&ctx.app.store.read()?)?))
}

/// Adds a kind of document.
#[utoipa::path(tag = "safety", request_body = CertKind, responses(
    (status = 201, description = "Created", body = CertKind), (status = 422, description = "A field breaks a rule")),
    security(("bearer" = ["safety:approve"])))]
#[post("/api/v1/safety/kinds")]
async fn api_kind_create(
    ctx: Need<grant::safety::Approve>,
    body: web::Json<CertKind>,
) -> Result<HttpResponse, AppError> {
    let k = body.into_inner();
    let k = ctx
        .write(move |app, actor| svc::save_kind(&app.store, actor, k, true))
        .await?;
    Ok(HttpResponse::Created().json(k))
}

/// Changes a kind's names, warning window or update period.
#[utoipa::path(tag = "safety", params(("id" = String, Path, description = "Kind id")), request_body = CertKind, responses(
    (status = 200, description = "Updated", body = CertKind), (status = 404, description = "No such kind")),
    security(("bearer" = ["safety:write"])))]
#[put("/api/v1/safety/kinds/{id}")]
async fn api_kind_update(
    ctx: Need<grant::safety::Write>,
    id: web::Path<String>,
    body: web::Json<CertKind>,
) -> Result<HttpResponse, AppError> {
    let mut k = body.into_inner();
    k.id = id.into_inner();
    let k = ctx
        .write(move |app, actor| svc::save_kind(&app.store, actor, k, false))
        .await?;
    Ok(HttpResponse::Ok().json(k))
}
