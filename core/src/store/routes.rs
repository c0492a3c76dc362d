//! Audit log search and export, chain verification, and backup download: pages under
//! `/admin/audit` and `/admin/backup`, API under `/api/v1`.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use minijinja::context;
use serde::Serialize;

use super::audit::{self, Entry, Query};
use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{self, Lang};
use crate::web::context::to_value;
use crate::web::error::{AppError, blocking};
use crate::web::grant::{self, Need};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(audit_page)
        .service(audit_csv)
        .service(backup_page)
        .service(backup_download)
        .service(api_audit)
        .service(api_audit_verify)
        .service(api_backup);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_audit, api_audit_verify, api_backup))]
pub struct Doc;

const PAGE: usize = 100;
/// Upper bound of one CSV export, to keep a request bounded.
const EXPORT_MAX: usize = 100_000;

/// Form fields of the search page: dates as typed (`YYYY-MM-DD`), converted to ms.
#[derive(serde::Deserialize, Default)]
struct SearchForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before_seq: Option<u64>,
}

fn to_query(f: &SearchForm, app: &App) -> Result<Query, AppError> {
    let date = |s: &str, field: &'static str| -> Result<Option<i64>, AppError> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        crate::plant_time::parse_local(s, app.offset)
            .map(Some)
            .ok_or_else(|| crate::error::Error::invalid(field, "common.err.date").into())
    };
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    Ok(Query {
        actor: opt(&f.actor),
        action: opt(&f.action),
        q: opt(&f.q),
        from_ms: date(&f.from, "from")?,
        // "to" is a day: include the whole of it
        to_ms: date(&f.to, "to")?.map(|t| t + 86_400_000),
        before_seq: f.before_seq,
    })
}

#[get("/admin/audit")]
async fn audit_page(
    ctx: Need<grant::audit::Read>,
    form: web::Query<SearchForm>,
) -> Result<HttpResponse, AppError> {
    let f = form.into_inner();
    let values = context! {
        actor => f.actor.clone(), action => f.action.clone(), q => f.q.clone(),
        from => f.from.clone(), to => f.to.clone(),
    };
    let q = match to_query(&f, &ctx.app) {
        Ok(q) => q,
        Err(e) => {
            return ctx.form_error(
                "admin/audit.html",
                context! { entries => Vec::<()>::new(), values },
                e,
            );
        }
    };
    let entries = audit::search(&ctx.app.store.read()?, &q, PAGE + 1)?;
    let more = entries.len() > PAGE;
    let entries: Vec<Entry> = entries.into_iter().take(PAGE).collect();
    let next_seq = if more {
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    let query_string = serde_urlencoded::to_string([
        ("actor", &f.actor),
        ("action", &f.action),
        ("q", &f.q),
        ("from", &f.from),
        ("to", &f.to),
    ])
    .unwrap_or_default();
    ctx.page(
        "admin/audit.html",
        context! {
            entries => to_value(&entries),
            values,
            next_seq,
            query_string,
        },
    )
}

fn csv_export(entries: &[Entry], lang: Lang, offset: time::UtcOffset) -> Result<Vec<u8>, AppError> {
    // UTF-8 with BOM, so Excel on Chinese Windows opens it correctly
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let head: Vec<String> = [
            "seq", "time", "actor", "ip", "action", "target", "before", "after",
        ]
        .iter()
        .map(|k| i18n::t(lang, &format!("audit.col.{k}")).to_string())
        .collect();
        w.write_record(&head).map_err(|_| AppError::internal())?;
        for e in entries {
            let json = |v: &Option<serde_json::Value>| {
                v.as_ref().map(|v| v.to_string()).unwrap_or_default()
            };
            w.write_record([
                e.seq.to_string(),
                crate::plant_time::format_ms(e.at_ms, offset),
                e.actor.label(),
                e.actor.ip.clone().unwrap_or_default(),
                e.action.clone(),
                e.target.clone(),
                json(&e.before),
                json(&e.after),
            ])
            .map_err(|_| AppError::internal())?;
        }
        w.flush().map_err(|_| AppError::internal())?;
    }
    Ok(out)
}

#[get("/admin/audit.csv")]
async fn audit_csv(
    ctx: Need<grant::audit::Read>,
    form: web::Query<SearchForm>,
) -> Result<HttpResponse, AppError> {
    let q = to_query(&form, &ctx.app)?;
    let entries = audit::search(&ctx.app.store.read()?, &q, EXPORT_MAX)?;
    let body = csv_export(&entries, ctx.lang, ctx.app.offset)?;
    let name = format!(
        "audit-{}.csv",
        &crate::plant_time::format_ms(crate::util::now_ms(), ctx.app.offset)[..10]
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body))
}

#[get("/admin/backup")]
async fn backup_page(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let app = ctx.app.clone();
    let v = blocking(move || Ok(audit::verify(&app.store)?)).await?;
    ctx.page(
        "admin/backup.html",
        context! {
            store_path => ctx.app.store.path().display().to_string(),
            store_bytes => ctx.app.store.file_size(),
            schema_version => ctx.app.store.schema_version()?,
            audit_entries => v.entries,
            audit_problem => v.problem.map(|p| p.msg().render(ctx.lang)),
            can_write => ctx.who.can("admin", Level::Write),
        },
    )
}

/// Sends what a blocking writer produces to an HTTP response body, chunk by chunk.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<web::Bytes, std::io::Error>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(web::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Streams a backup of the live store. It contains password hashes and every record, so it
/// needs `admin.write`, and the download is audited once the stream is complete.
async fn backup_response(ctx: Need<grant::admin::Write>) -> Result<HttpResponse, AppError> {
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        let out = std::io::BufWriter::with_capacity(256 << 10, ChannelWriter(tx.clone()));
        match super::backup::write_backup(&app.store, out, crate::auth::store::TRANSIENT) {
            Ok(s) => {
                let done = app.store.write(&actor).and_then(|mut w| {
                    w.audit(
                        "store.backup",
                        "download",
                        super::Change::created(
                            serde_json::json!({ "records": s.records, "tables": s.tables }),
                        ),
                    );
                    w.commit()
                });
                if let Err(e) = done {
                    tracing::warn!(error = %e, "backup download not audited");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "backup download failed");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let name = format!(
        "nplusx-{}.nxb",
        crate::plant_time::format_ms(crate::util::now_ms(), ctx.app.offset)
            .replace([' ', ':'], "-")
    );
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(body))
}

#[get("/admin/backup/download")]
async fn backup_download(ctx: Need<grant::admin::Write>) -> Result<HttpResponse, AppError> {
    backup_response(ctx).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<Entry>,
    /// Pass as `before_seq` for the next (older) page; absent on the last page.
    pub next_before_seq: Option<u64>,
}

/// Searches the audit log, newest first, 100 entries a page.
#[utoipa::path(tag = "audit", params(Query), responses(
    (status = 200, description = "Entries", body = AuditPage),
    (status = 403, description = "Needs audit.read")), security(("bearer" = ["audit:read"])))]
#[get("/api/v1/audit")]
async fn api_audit(
    ctx: Need<grant::audit::Read>,
    q: web::Query<Query>,
) -> Result<HttpResponse, AppError> {
    let mut entries = audit::search(&ctx.app.store.read()?, &q, PAGE + 1)?;
    let more = entries.len() > PAGE;
    entries.truncate(PAGE);
    Ok(HttpResponse::Ok().json(AuditPage {
        next_before_seq: if more {
            entries.last().map(|e| e.seq)
        } else {
            None
        },
        entries,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyResult {
    pub ok: bool,
    pub entries: u64,
    /// What is wrong, naming the entry.
    pub problem: Option<String>,
}

/// Walks the whole hash chain of the audit log.
#[utoipa::path(tag = "audit", responses((status = 200, description = "Result", body = VerifyResult)), security(("bearer" = ["audit:read"])))]
#[get("/api/v1/audit/verify")]
async fn api_audit_verify(ctx: Need<grant::audit::Read>) -> Result<HttpResponse, AppError> {
    let app = ctx.app.clone();
    let v = blocking(move || Ok(audit::verify(&app.store)?)).await?;
    Ok(HttpResponse::Ok().json(VerifyResult {
        ok: v.problem.is_none(),
        entries: v.entries,
        problem: v.problem.map(|p| p.msg().render(ctx.lang)),
    }))
}

/// Downloads a consistent backup of the live store (`.nxb`), for `nplusx restore`.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "The backup file", content_type = "application/octet-stream", body = Vec<u8>),
    (status = 403, description = "Needs admin.write")), security(("bearer" = ["admin:write"])))]
#[get("/api/v1/backup")]
async fn api_backup(ctx: Need<grant::admin::Write>) -> Result<HttpResponse, AppError> {
    backup_response(ctx).await
}
