//! Plugins in the console (`/admin/plugins…`, permission `admin`), their pages (`/x/<id>/…`,
//! the permissions of the guide module they implement) and the API (`/api/v1/plugins…`).

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::manifest;
use crate::auth::model::Level;
use crate::error::Error;
use crate::i18n::Msg;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const ADMIN: &str = "admin";
/// A plugin's message after an action (its own text, shown escaped on the next page).
const MSG_COOKIE: &str = "nx_plugin_msg";

fn app(ctx: &Ctx) -> std::sync::Arc<crate::app::App> {
    ctx.app.clone().into_inner()
}

fn list_ctx(ctx: &Ctx) -> Result<serde_json::Value, AppError> {
    let r = ctx.app.store.read()?;
    let keys = super::Plugins::keys(&r)?;
    let dev = super::Plugins::developer_mode(&r)?;
    Ok(serde_json::json!({
        "plugins": ctx.app.plugins.list(&ctx.app)?,
        "keys": keys.into_iter().map(|(fp, k)| serde_json::json!({"fingerprint": fp, "key": k})).collect::<Vec<_>>(),
        "developer_mode": dev,
        "can_write": ctx.who.can(ADMIN, Level::Write),
    }))
}

#[get("/admin/plugins")]
async fn list_page(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let c = list_ctx(&ctx)?;
    ctx.page("admin/plugins.html", to_value(&c))
}

/// Upload → the review screen (nothing installed yet).
#[post("/admin/plugins/upload")]
async fn upload_submit(
    ctx: Need<grant::admin::Write>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    let result = async {
        let (_, bytes) = crate::web::form::read_upload(mp, super::package::MAX_BYTES).await?;
        let a = app(&ctx);
        let (review, bytes) = blocking(move || {
            let (review, _) = a.plugins.review(&a, &bytes)?;
            Ok((review, bytes))
        })
        .await?;
        let token = ctx.app.plugins.stage(bytes);
        Ok::<_, AppError>((review, token))
    }
    .await;
    match result {
        Ok((review, token)) => ctx.page(
            "admin/plugin_review.html",
            context! { review => to_value(&review), token },
        ),
        Err(e) => {
            let c = list_ctx(&ctx)?;
            ctx.form_error("admin/plugins.html", to_value(&c), e)
        }
    }
}

/// The admin confirmed the review: install (or upgrade) with the capabilities ticked.
#[post("/admin/plugins/install")]
async fn install_submit(
    ctx: Need<grant::admin::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let bytes = ctx
        .app
        .plugins
        .unstage(f.get("token"))
        .ok_or_else(|| AppError::from(Error::invalid("token", "plugins.err.staged")))?;
    let grants = f.all("grant");
    let enable = f.checked("enable");
    let (a, actor) = (app(&ctx), ctx.actor());
    let rec =
        blocking(move || a.plugins.install(&a, &actor, &bytes, Some(&grants), enable)).await?;
    Ok(redirect_with(
        &format!("/admin/plugins/{}", rec.id),
        Some("flash.saved"),
    ))
}

#[get("/admin/plugins/{id}")]
async fn detail_page(
    ctx: Need<grant::admin::Read>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let p = ctx.app.plugins.get(&ctx.app, &id)?;
    let (log, dropped) = ctx.app.plugins.log(&id).unwrap_or_default();
    ctx.page(
        "admin/plugin.html",
        context! {
            p => to_value(&p),
            dangerous => manifest::CAPABILITIES.iter().filter(|(_, d)| *d).map(|(c, _)| *c).collect::<Vec<_>>(),
            log => to_value(&log.iter().rev().take(300).collect::<Vec<_>>()),
            dropped,
            can_write => ctx.who.can(ADMIN, Level::Write),
        },
    )
}

#[post("/admin/plugins/{id}/settings")]
async fn settings_submit(
    ctx: Need<grant::admin::Write>,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let settings: BTreeMap<String, String> =
        f.0.iter()
            .filter_map(|(k, v)| k.strip_prefix("s_").map(|n| (n.to_string(), v.clone())))
            .collect();
    let grants = f.all("grant");
    let current = super::Limits::of(&ctx.app.plugins.get(&ctx.app, &id)?.installed);
    let limits = super::Limits {
        deadline_ms: f.opt::<u32>("deadline_ms")?.unwrap_or(current.deadline_ms),
        memory_mib: f.opt::<u32>("memory_mib")?.unwrap_or(current.memory_mib),
        quota_mib: f.opt::<u32>("quota_mib")?.unwrap_or(current.quota_mib),
        alarm_ceiling: match f.get("alarm_ceiling") {
            "" => current.alarm_ceiling,
            v => serde_json::from_value(serde_json::Value::String(v.to_string()))
                .map_err(|_| Error::invalid("alarm_ceiling", "plugins.err.alarm_ceiling"))?,
        },
        alarms_per_hour: f
            .opt::<u32>("alarms_per_hour")?
            .unwrap_or(current.alarms_per_hour),
    };
    let (a, actor, pid) = (app(&ctx), ctx.actor(), id.to_string());
    blocking(move || {
        a.plugins
            .configure(&a, &actor, &pid, &settings, &grants, limits)
    })
    .await?;
    Ok(redirect_with(
        &format!("/admin/plugins/{id}"),
        Some("flash.saved"),
    ))
}

#[post("/admin/plugins/{id}/{action}")]
async fn action_submit(
    ctx: Need<grant::admin::Write>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let (a, actor) = (app(&ctx), ctx.actor());
    let to = match action.as_str() {
        "enable" | "disable" | "rollback" => format!("/admin/plugins/{id}"),
        "remove" => "/admin/plugins".to_string(),
        _ => return Err(AppError::not_found()),
    };
    blocking(move || {
        match action.as_str() {
            "enable" => a.plugins.set_enabled(&a, &actor, &id, true).map(|_| ()),
            "disable" => a.plugins.set_enabled(&a, &actor, &id, false).map(|_| ()),
            "rollback" => a.plugins.rollback(&a, &actor, &id).map(|_| ()),
            _ => a.plugins.remove(&a, &actor, &id),
        }?;
        Ok(())
    })
    .await?;
    Ok(redirect_with(&to, Some("flash.saved")))
}

#[post("/admin/plugin-settings/developer-mode")]
async fn dev_mode_submit(
    ctx: Need<grant::admin::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let on = FormData::from(form).get("on") == "true";
    let (a, actor) = (app(&ctx), ctx.actor());
    blocking(move || a.plugins.set_developer_mode(&a.store, &actor, on)).await?;
    Ok(redirect_with("/admin/plugins", Some("flash.saved")))
}

#[post("/admin/plugin-keys")]
async fn key_add_submit(
    ctx: Need<grant::admin::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let (key, name) = (f.get("public_key").to_string(), f.get("name").to_string());
    let (a, actor) = (app(&ctx), ctx.actor());
    ctx.done(
        blocking(move || a.plugins.add_key(&a.store, &actor, &key, &name))
            .await
            .map(|_| "/admin/plugins".to_string()),
        "flash.saved",
        "admin/plugins.html",
        || {
            let c = list_ctx(&ctx)?;
            Ok(to_value(&c))
        },
    )
}

#[post("/admin/plugin-keys/{fp}/delete")]
async fn key_delete_submit(
    ctx: Need<grant::admin::Approve>,
    fp: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (a, actor) = (app(&ctx), ctx.actor());
    blocking(move || a.plugins.remove_key(&a.store, &actor, &fp)).await?;
    Ok(redirect_with("/admin/plugins", Some("flash.deleted")))
}

/// A trusted publisher key, as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// What `DELETE /api/v1/plugin-keys/{fingerprint}` takes.
    pub fingerprint: String,
    #[serde(flatten)]
    pub key: super::store::TrustedKey,
}

/// The publisher keys this box trusts: packages signed with one of them install.
#[utoipa::path(tag = "plugins", responses((status = 200, description = "Trusted keys", body = Vec<KeyView>)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/plugin-keys")]
async fn api_keys(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let keys = super::Plugins::keys(&ctx.app.store.read().map_err(Error::from)?)?;
    Ok(HttpResponse::Ok().json(
        keys.into_iter()
            .map(|(fingerprint, key)| KeyView { fingerprint, key })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewKey {
    /// The publisher's public key as `nplusx plugin keygen` printed it (`ed25519:…`).
    pub public_key: String,
    /// Whose key it is (1–100 characters), as the admin notes it.
    pub name: String,
}

/// Trusts a publisher key (the same as the console's form; audited).
#[utoipa::path(tag = "plugins", request_body = NewKey, responses(
    (status = 201, description = "Trusted", body = KeyView),
    (status = 422, description = "Not a public key, or no name; nothing changed")), security(("bearer" = ["admin:approve"])))]
#[post("/api/v1/plugin-keys")]
async fn api_key_add(
    ctx: Need<grant::admin::Approve>,
    body: web::Json<NewKey>,
) -> Result<HttpResponse, AppError> {
    let (a, actor, b) = (app(&ctx), ctx.actor(), body.into_inner());
    let key = blocking(move || a.plugins.add_key(&a.store, &actor, &b.public_key, &b.name)).await?;
    let fingerprint = super::package::read_public(&key.public_key)
        .map(|k| super::package::fingerprint(&k))
        .unwrap_or_default();
    Ok(HttpResponse::Created().json(KeyView { fingerprint, key }))
}

/// Stops trusting a publisher key: plugins it signed no longer start (audited).
#[utoipa::path(tag = "plugins", params(("fingerprint" = String, Path, description = "The key's fingerprint")), responses(
    (status = 204, description = "No longer trusted"), (status = 404, description = "No such key")), security(("bearer" = ["admin:approve"])))]
#[delete("/api/v1/plugin-keys/{fingerprint}")]
async fn api_key_delete(
    ctx: Need<grant::admin::Approve>,
    fp: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (a, actor) = (app(&ctx), ctx.actor());
    blocking(move || a.plugins.remove_key(&a.store, &actor, &fp)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ------------------------------------------------------------------ plugin pages

/// The guide module guarding a running plugin, checked for `level`.
fn guard(ctx: &Ctx, id: &str, level: Level) -> Result<super::runtime::wit::Info, AppError> {
    let (module, info) = ctx
        .app
        .plugins
        .module_of(id)
        .ok_or_else(AppError::not_found)?;
    ctx.require(&module, level)?;
    Ok(info)
}

use super::views::safe_name;

/// The length of a value's JSON, counted as it is written (nothing is kept).
fn json_len(v: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}

/// A view the console can show: bounded in size, with safe action and field names.
fn check_view(v: &super::runtime::view::View, plugin: &str) -> Result<(), String> {
    let bytes = json_len(v);
    if bytes > super::runtime::PAGE_BYTES {
        return Err(format!(
            "the page is too large ({bytes} bytes; at most 4 MiB)"
        ));
    }
    match super::views::problem(v, plugin) {
        Some(p) => Err(p),
        None => Ok(()),
    }
}

fn plugin_error(detail: String) -> AppError {
    Error::Device(Msg::new("plugins.err.call").arg("detail", detail)).into()
}

async fn show(
    ctx: &Ctx,
    id: &str,
    page: &str,
    params: Vec<(String, String)>,
    errors: Vec<super::runtime::view::FieldError>,
    submitted: Vec<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let info = guard(ctx, id, Level::Read)?;
    let wall = params.iter().any(|(k, v)| k == "wall" && v == "1");
    // a bounded number of pages are built at once, whatever the number of readers: each
    // holds a plugin's answer (up to 4 MiB) and its HTML
    let _turn = ctx.app.plugins.page_turn().await.map_err(plugin_error)?;
    let v = ctx
        .app
        .plugins
        .render(id, page, params, ctx.lang.code())
        .await
        .map_err(plugin_error)?;
    let title = info
        .pages
        .iter()
        .find(|p| p.id == page)
        .map(|p| {
            if ctx.lang == crate::i18n::Lang::En {
                p.title_en.clone()
            } else {
                p.title_zh.clone()
            }
        })
        .unwrap_or_default();
    let errs: BTreeMap<String, String> = errors.into_iter().map(|e| (e.field, e.message)).collect();
    let status = if errs.is_empty() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    use base64::Engine as _;
    let message = ctx
        .req
        .cookie(MSG_COOKIE)
        .and_then(|c| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c.value())
                .ok()
        })
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let can_act = ctx.who.can(
        &ctx.app
            .plugins
            .module_of(id)
            .map(|m| m.0)
            .unwrap_or_default(),
        Level::Write,
    );
    let (plugin, page_id) = (id.to_string(), page.to_string());
    use super::runtime::view::{Block, FieldKind};
    let layout = if super::drawing::wants_layout(&v) {
        layout_for(ctx, id)?
    } else {
        None
    };
    let has_scan =
        v.blocks.iter().any(
            |b| matches!(b, Block::Form(f) if f.fields.iter().any(|x| x.kind == FieldKind::Scan)),
        ) && can_act;
    let has_board = v.blocks.iter().any(|b| matches!(b, Block::Board(_)));
    let can_arrange = v
        .blocks
        .iter()
        .any(|b| matches!(b, Block::Board(x) if !x.arrange_action.is_empty()));
    // a board opened as a wall screen: no menu, the dark theme
    let wall = has_board && wall;
    // refusals of fields no form on the page shows (a board's arrangement, a button's
    // argument) are listed in the banner, or the reader would not learn why
    let on_forms: std::collections::HashSet<&str> = v
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Form(f) => Some(f.fields.iter().map(|x| x.name.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    let loose_errors: Vec<String> = errs
        .iter()
        .filter(|(f, _)| !on_forms.contains(f.as_str()))
        .map(|(f, m)| format!("{f}: {m}"))
        .collect();
    let mut resp = ctx
        .page_blocking(status, "plugins/view.html", move || {
            check_view(&v, &plugin).map_err(plugin_error)?;
            let view = if super::drawing::needed(&v) {
                let json = super::drawing::prepare(&v, layout.as_ref())
                    .map_err(|e| plugin_error(e.to_string()))?;
                to_value(&json)
            } else {
                to_value(&v)
            };
            let c = context! {
                message,
                plugin,
                page_id,
                page_title => title,
                view,
                field_errors => to_value(&errs),
                loose_errors,
                submitted => to_value(&submitted.into_iter().collect::<BTreeMap<_, _>>()),
                can_act,
                has_board,
                can_arrange,
                has_scan,
                wall,
                rendered_ms => crate::util::now_ms(),
            };
            Ok(if wall {
                context! { nav => (), html_class => "dark wall", ..c }
            } else {
                c
            })
        })
        .await?;
    if has_scan {
        // the barcode reader is WebAssembly: compiling it needs 'wasm-unsafe-eval' (which
        // allows no script eval), on these pages only
        resp.headers_mut().insert(
            actix_web::http::header::CONTENT_SECURITY_POLICY,
            actix_web::http::header::HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
                 style-src 'self' 'unsafe-inline'; script-src 'self' 'wasm-unsafe-eval'; \
                 object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            ),
        );
    }
    if ctx.req.cookie(MSG_COOKIE).is_some() {
        let mut gone = actix_web::cookie::Cookie::build(MSG_COOKIE, "")
            .path("/x/")
            .finish();
        gone.make_removal();
        let _ = resp.add_cookie(&gone);
    }
    Ok(resp)
}

#[get("/x/{id}/{page}")]
async fn plugin_page(
    ctx: Ctx,
    path: web::Path<(String, String)>,
    q: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (id, page) = path.into_inner();
    show(&ctx, &id, &page, q.into_inner(), Vec::new(), Vec::new()).await
}

/// Whether the plugin may draw on the plant layout: granted the safety module's records.
fn may_use_layout(ctx: &Ctx, id: &str) -> Result<bool, AppError> {
    Ok(super::store::installed(&ctx.app.store.read()?)?
        .into_iter()
        .any(|p| p.id == id && p.grants.iter().any(|g| g == "records.safety")))
}

/// The plant layout a plugin's map is drawn on, if the plugin may use it.
fn layout_for(ctx: &Ctx, id: &str) -> Result<Option<super::drawing::Layout>, AppError> {
    if !may_use_layout(ctx, id)? || !ctx.who.can("safety", Level::Read) {
        return Ok(None);
    }
    let m = crate::modules::safety::people::service::map(&ctx.app.store.read()?)?;
    Ok(Some(super::drawing::Layout {
        width_m: m.width_m,
        height_m: m.height_m,
        image: m.image_type.map(|_| {
            // plugin ids are [a-z0-9-] (the manifest checks)
            format!("/x/{id}/map/layout?v={}", m.updated_ms)
        }),
    }))
}

/// The plant layout image under a plugin's map, for those who may read the plugin's pages
/// (and only if the plugin was granted the safety module's records).
#[get("/x/{id}/map/layout")]
async fn plugin_layout(ctx: Ctx, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    guard(&ctx, &id, Level::Read)?;
    // the layout is the safety module's: its readers only
    if !may_use_layout(&ctx, &id)? || !ctx.who.can("safety", Level::Read) {
        return Err(AppError::not_found());
    }
    let (t, bytes) = crate::modules::safety::people::service::map_image(&ctx.app.store.read()?)?
        .ok_or_else(AppError::not_found)?;
    Ok(HttpResponse::Ok()
        .content_type(t)
        .insert_header(("cache-control", "private, max-age=60"))
        .body(bytes))
}

/// A table file the plugin made (`files.table`), for those who may read its pages.
#[get("/x/{id}/files/{file}")]
async fn plugin_file(
    ctx: Ctx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, file) = path.into_inner();
    guard(&ctx, &id, Level::Read)?;
    let f = super::files::load(&ctx.app.store.read()?, &id, &file, crate::util::now_ms())?
        .ok_or_else(AppError::not_found)?;
    let disposition = actix_web::http::header::ContentDisposition {
        disposition: actix_web::http::header::DispositionType::Attachment,
        parameters: vec![actix_web::http::header::DispositionParam::FilenameExt(
            actix_web::http::header::ExtendedValue {
                charset: actix_web::http::header::Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: f.name.clone().into_bytes(),
            },
        )],
    };
    Ok(HttpResponse::Ok()
        .content_type(f.content_type())
        .insert_header(disposition)
        .body(f.bytes.into_vec()))
}

#[post("/x/{id}/{page}/{action}")]
async fn plugin_action(
    ctx: Ctx,
    path: web::Path<(String, String, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (id, page, action) = path.into_inner();
    guard(&ctx, &id, Level::Write)?;
    if !safe_name(&page) || !safe_name(&action) {
        return Err(AppError::not_found());
    }
    let mut fields: Vec<(String, String)> = form
        .into_inner()
        .into_iter()
        .filter(|(k, _)| k != "csrf")
        .collect();
    // since 0.2 the box checks a submission against the form on the page first: only
    // actions the page offers, fields of their kind and within their limits
    if ctx.app.plugins.contract_of(&id).is_some_and(|m| m >= 2) {
        let v = {
            let _turn = ctx.app.plugins.page_turn().await.map_err(plugin_error)?;
            ctx.app
                .plugins
                .render(&id, &page, Vec::new(), ctx.lang.code())
                .await
                .map_err(plugin_error)?
        };
        if !super::views::offers_action(&v, &action) {
            return Err(AppError::not_found());
        }
        if let Some(f) = super::views::form_of(&v, &action) {
            let defs = ctx.app.tags.defs();
            let exists = |name: &str| defs.by_name(name).is_some();
            let zh = ctx.lang == crate::i18n::Lang::ZhCn;
            let (joined, errors) = super::views::check_submission(f, &fields, zh, &exists);
            if !errors.is_empty() {
                return show(&ctx, &id, &page, Vec::new(), errors, joined).await;
            }
            fields = joined;
        }
    }
    let outcome = ctx
        .app
        .plugins
        .action(
            &id,
            &page,
            &action,
            fields.clone(),
            ctx.lang.code(),
            ctx.who.clone(),
        )
        .await
        .map_err(plugin_error)?;
    if !outcome.errors.is_empty() {
        return show(&ctx, &id, &page, Vec::new(), outcome.errors, fields).await;
    }
    if !outcome.next_page.is_empty() && !safe_name(&outcome.next_page) {
        return Err(plugin_error(format!(
            "bad next page {:?}",
            outcome.next_page
        )));
    }
    let next = if outcome.next_page.is_empty() {
        page
    } else {
        outcome.next_page
    };
    let mut r = redirect_with(&format!("/x/{id}/{next}"), None);
    if !outcome.message.is_empty() {
        use base64::Engine as _;
        let text: String = outcome.message.chars().take(500).collect();
        let c = actix_web::cookie::Cookie::build(
            MSG_COOKIE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text),
        )
        .path("/x/")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Lax)
        .finish();
        let _ = r.add_cookie(&c);
    }
    Ok(r)
}

// ------------------------------------------------------------------ API

/// Installed plugins with their state and counters.
#[utoipa::path(tag = "plugins", responses((status = 200, description = "Plugins", body = Vec<super::PluginView>)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/plugins")]
async fn api_list(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(ctx.app.plugins.list(&ctx.app)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct InstallQuery {
    /// Capabilities to grant, comma-separated (a subset of what the manifest asks for).
    /// Left out on an upgrade: the installed version's grants still asked for.
    #[serde(default)]
    pub grants: Option<String>,
    /// Enable it right away.
    #[serde(default)]
    pub enable: bool,
    /// Only check the package and answer what the review screen shows.
    #[serde(default)]
    pub dry_run: bool,
}

/// Installs a package (the request body, `application/octet-stream`), or upgrades the
/// installed plugin of the same id with its data kept. Refused with the reason when the
/// package is damaged, unsigned or signed by an untrusted key (outside developer mode),
/// built for another contract version, or its component does not match its manifest.
#[utoipa::path(tag = "plugins", params(InstallQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"), responses(
    (status = 201, description = "Installed", body = super::store::Installed),
    (status = 200, description = "Dry run: the review", body = super::Review),
    (status = 422, description = "Refused; nothing installed")), security(("bearer" = ["admin:write"])))]
#[post("/api/v1/plugins")]
async fn api_install(
    ctx: Need<grant::admin::Write>,
    q: web::Query<InstallQuery>,
    mut payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| AppError::bad_request(Msg::new("web.err.bad_form").arg("detail", e)))?;
        if body.len() + chunk.len() > super::package::MAX_BYTES {
            return Err(Error::invalid("package", "plugins.err.too_big").into());
        }
        body.extend_from_slice(&chunk);
    }
    let (a, actor) = (app(&ctx), ctx.actor());
    let grants: Option<Vec<String>> = q.grants.as_ref().map(|g| {
        g.split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect()
    });
    let (enable, dry) = (q.enable, q.dry_run);
    if dry {
        let review = blocking(move || Ok(a.plugins.review(&a, &body)?.0)).await?;
        return Ok(HttpResponse::Ok().json(review));
    }
    let rec = blocking(move || {
        a.plugins
            .install(&a, &actor, &body, grants.as_deref(), enable)
    })
    .await?;
    Ok(HttpResponse::Created().json(rec))
}

/// `enable`, `disable` or `rollback` (to the version before the last upgrade).
#[utoipa::path(tag = "plugins", params(("id" = String, Path, description = "Plugin id"), ("action" = String, Path, description = "enable | disable | rollback")), responses(
    (status = 200, description = "Done", body = super::store::Installed), (status = 404, description = "Not installed")), security(("bearer" = ["admin:write"])))]
#[post("/api/v1/plugins/{id}/{action}")]
async fn api_action(
    ctx: Need<grant::admin::Write>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    if !["enable", "disable", "rollback"].contains(&action.as_str()) {
        return Err(AppError::not_found());
    }
    let (a, actor) = (app(&ctx), ctx.actor());
    let rec = blocking(move || {
        Ok(match action.as_str() {
            "enable" => a.plugins.set_enabled(&a, &actor, &id, true)?,
            "disable" => a.plugins.set_enabled(&a, &actor, &id, false)?,
            _ => a.plugins.rollback(&a, &actor, &id)?,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(rec))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Configure {
    /// Settings by name, as text (the manifest's schema).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// The capabilities granted (replaces the previous grants).
    pub grants: Vec<String>,
    #[serde(default)]
    pub deadline_ms: Option<u32>,
    #[serde(default)]
    pub memory_mib: Option<u32>,
    #[serde(default)]
    pub quota_mib: Option<u32>,
    /// The highest priority the plugin's alarms get (`urgent`, `high`, `medium`, `low`).
    #[serde(default)]
    pub alarm_ceiling: Option<crate::alarms::model::Priority>,
    /// New alarms the plugin may raise per hour (0–600).
    #[serde(default)]
    pub alarms_per_hour: Option<u32>,
}

/// Changes a plugin's settings, grants and limits; a running plugin restarts with them.
#[utoipa::path(tag = "plugins", params(("id" = String, Path, description = "Plugin id")), request_body = Configure, responses(
    (status = 200, description = "Saved", body = super::store::Installed),
    (status = 422, description = "A setting, grant or limit is refused; nothing changed")), security(("bearer" = ["admin:write"])))]
#[put("/api/v1/plugins/{id}/settings")]
async fn api_configure(
    ctx: Need<grant::admin::Write>,
    id: web::Path<String>,
    body: web::Json<Configure>,
) -> Result<HttpResponse, AppError> {
    let current = super::Limits::of(&ctx.app.plugins.get(&ctx.app, &id)?.installed);
    let b = body.into_inner();
    let limits = super::Limits {
        deadline_ms: b.deadline_ms.unwrap_or(current.deadline_ms),
        memory_mib: b.memory_mib.unwrap_or(current.memory_mib),
        quota_mib: b.quota_mib.unwrap_or(current.quota_mib),
        alarm_ceiling: b.alarm_ceiling.unwrap_or(current.alarm_ceiling),
        alarms_per_hour: b.alarms_per_hour.unwrap_or(current.alarms_per_hour),
    };
    let (a, actor) = (app(&ctx), ctx.actor());
    let rec = blocking(move || {
        a.plugins
            .configure(&a, &actor, &id, &b.settings, &b.grants, limits)
    })
    .await?;
    Ok(HttpResponse::Ok().json(rec))
}

/// Removes a plugin, its packages and its storage.
#[utoipa::path(tag = "plugins", params(("id" = String, Path, description = "Plugin id")), responses(
    (status = 204, description = "Removed"), (status = 404, description = "Not installed")), security(("bearer" = ["admin:write"])))]
#[delete("/api/v1/plugins/{id}")]
async fn api_remove(
    ctx: Need<grant::admin::Write>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (a, actor) = (app(&ctx), ctx.actor());
    blocking(move || a.plugins.remove(&a, &actor, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The plugin's newest log lines (its own log and what it printed).
#[utoipa::path(tag = "plugins", params(("id" = String, Path, description = "Plugin id")), responses(
    (status = 200, description = "Log lines, oldest first", body = Vec<super::runtime::LogLine>)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/plugins/{id}/log")]
async fn api_log(
    ctx: Need<grant::admin::Read>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    ctx.app.plugins.get(&ctx.app, &id)?;
    let (lines, dropped) = ctx.app.plugins.log(&id).unwrap_or_default();
    Ok(HttpResponse::Ok()
        .insert_header(("X-Dropped-Lines", dropped.to_string()))
        .json(lines))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_page)
        .service(upload_submit)
        .service(install_submit)
        .service(dev_mode_submit)
        .service(key_add_submit)
        .service(key_delete_submit)
        .service(detail_page)
        .service(settings_submit)
        .service(action_submit)
        .service(plugin_file)
        .service(plugin_layout)
        .service(plugin_page)
        .service(plugin_action)
        .service(api_list)
        .service(api_install)
        .service(api_action)
        .service(api_configure)
        .service(api_remove)
        .service(api_log)
        .service(api_keys)
        .service(api_key_add)
        .service(api_key_delete);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_list,
    api_install,
    api_action,
    api_configure,
    api_remove,
    api_log,
    api_keys,
    api_key_add,
    api_key_delete
))]
pub struct Doc;
