//! Request pipeline, outermost first:
//! 1. [`finish`]: metrics, security headers, and rendering every error in the caller's
//!    language and format (JSON for `/api/`, a page or the login redirect for browsers);
//! 2. [`identify`]: resolves the caller (bearer token or session cookie) into a
//!    [`Principal`], the language, and enforces CSRF tokens and forced password changes.
//!
//! 3. [`module_gate`]: 404 for the routes of a switched-off module.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use super::context::{Ctx, LANG_COOKIE, Principal, SESSION_COOKIE, Who, lang_of};
use super::error::AppError;
use crate::app::App;
use crate::auth::service as auth;
use crate::i18n::{Lang, Msg};

/// True for machine endpoints, which answer errors in JSON.
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/healthz" || path == "/metrics"
}

/// The client address. `X-Forwarded-For` counts only when the connection comes from a
/// proxy listed in `web.trusted_proxies`; then the right-most address not itself a trusted
/// proxy is the client.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip().to_string();
    let trusted = req
        .app_data::<web::Data<App>>()
        .map(|a| a.cfg.web.trusted_proxies.clone())
        .unwrap_or_default();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|a| a.parse::<std::net::IpAddr>().is_ok())
        .rev()
        .find(|a| !trusted.iter().any(|t| t == a))
        .map(str::to_string);
    Some(forwarded.unwrap_or(peer))
}

fn bearer(req: &ServiceRequest) -> Option<String> {
    let h = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| value.trim().to_string())
}

fn early(req: ServiceRequest, e: AppError) -> ServiceResponse<BoxBody> {
    req.into_response(HttpResponse::from_error(e))
}

pub async fn identify(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // embedded files are public and need no store lookups
    if req.path().starts_with("/static/") || req.path() == "/favicon.ico" {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(app) = req.app_data::<web::Data<App>>().cloned() else {
        return Ok(early(req, AppError::internal()));
    };
    let ip = client_ip(req.request());
    let targets = app.registry.permission_targets();

    let mut principal: Option<Principal> = None;
    if let Some(secret) = bearer(&req) {
        match auth::token_by_secret(&app.store, &secret) {
            Ok(Some(t)) => {
                principal = Some(Principal {
                    grants: t.grants.clone(),
                    who: Who::Token(Box::new(t)),
                    ip: ip.clone(),
                });
            }
            Ok(None) => {
                return Ok(early(
                    req,
                    AppError::new(StatusCode::UNAUTHORIZED, Msg::new("auth.err.token_invalid")),
                ));
            }
            Err(e) => return Ok(early(req, e.into())),
        }
    } else if let Some(c) = req.cookie(SESSION_COOKIE) {
        match auth::session(&app.store, &app.cfg.session, c.value()) {
            Ok(Some((key, s, user))) => {
                let grants = match app.store.read() {
                    Ok(r) => auth::user_grants(&r, &user, &targets).unwrap_or_default(),
                    Err(e) => return Ok(early(req, e.into())),
                };
                principal = Some(Principal {
                    grants,
                    who: Who::User {
                        user: Box::new(user),
                        session_key: key,
                        csrf: s.csrf,
                    },
                    ip: ip.clone(),
                });
            }
            Ok(None) => {}
            Err(e) => return Ok(early(req, e.into())),
        }
    }

    let lang = req
        .cookie(LANG_COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .or_else(|| {
            principal
                .as_ref()
                .and_then(|p| p.user())
                .and_then(|u| u.lang)
        })
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default();
    req.extensions_mut().insert(lang);

    if let Some(p) = &principal {
        if let Who::User { user, csrf, .. } = &p.who {
            // A password set by an admin must be replaced before anything else.
            let path = req.path();
            let exempt = path == "/account/password"
                || path == "/logout"
                || path.starts_with("/static/")
                || path.starts_with("/lang/");
            if user.must_change_password && !exempt {
                if is_api(path) {
                    return Ok(early(
                        req,
                        AppError::new(
                            StatusCode::FORBIDDEN,
                            Msg::new("auth.err.password_change_required"),
                        ),
                    ));
                }
                return Ok(req.into_response(super::context::redirect_with(
                    "/account/password",
                    Some("flash.password_change_required"),
                )));
            }
            if is_unsafe(req.method()) {
                let expected = csrf.clone();
                match csrf_ok(&mut req, &expected, app.cfg.web.max_upload_mib).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(path = %req.path(), user = %user.username, "CSRF token missing or wrong");
                        return Ok(early(
                            req,
                            AppError::new(StatusCode::FORBIDDEN, Msg::new("auth.err.csrf")),
                        ));
                    }
                    Err(e) => return Ok(early(req, e)),
                }
            }
        }
        req.extensions_mut().insert(p.clone());
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks the synchroniser token: the `X-CSRF-Token` header, a `csrf` field of a
/// urlencoded form (the body is buffered and put back for the handler), or a `csrf`
/// query parameter (multipart uploads).
async fn csrf_ok(req: &mut ServiceRequest, expected: &str, max_mib: u64) -> Result<bool, AppError> {
    use crate::util::constant_time_eq;
    if let Some(h) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return Ok(constant_time_eq(h, expected));
    }
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") {
        let limit = (max_mib as usize) << 20;
        let mut payload = req.take_payload();
        let mut body = web::BytesMut::new();
        use futures_util::StreamExt;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                AppError::bad_request(Msg::new("web.err.bad_form").arg("detail", e))
            })?;
            if body.len() + chunk.len() > limit {
                return Err(AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Msg::new("web.err.too_large").arg("mib", max_mib),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let ok = fields
            .iter()
            .any(|(k, v)| k == "csrf" && constant_time_eq(v, expected));
        req.set_payload(Payload::from(body));
        return Ok(ok);
    }
    let from_query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.0.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
    Ok(from_query.is_some_and(|v| constant_time_eq(&v, expected)))
}

pub async fn finish(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let api = is_api(req.path());
    let res = next.call(req).await?;
    let status = res.status();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    if let Some(app) = res.request().app_data::<web::Data<App>>() {
        app.metrics
            .observe_request(&method, &route, status.as_u16(), start.elapsed());
    }
    tracing::debug!(
        method = %method,
        route = %route,
        status = status.as_u16(),
        ms = start.elapsed().as_millis() as u64,
        "request"
    );
    let mut res = match res.response().error() {
        Some(err) => {
            let e = err
                .as_error::<AppError>()
                .cloned()
                .unwrap_or_else(|| from_status(status, &err.to_string()));
            let req = res.request().clone();
            let rendered = render_error(&req, &e, api);
            ServiceResponse::new(req, rendered)
        }
        None => res.map_into_boxed_body(),
    };
    let h = res.headers_mut();
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ] {
        // a handler that set a stricter policy of its own (a served drawing) keeps it
        let name = header::HeaderName::from_static(k);
        if !h.contains_key(&name) {
            h.insert(name, header::HeaderValue::from_static(v));
        }
    }
    Ok(res)
}

/// Errors raised by actix itself (no route, method not allowed, payload too large…).
fn from_status(status: StatusCode, detail: &str) -> AppError {
    let key = match status {
        StatusCode::NOT_FOUND => "web.err.not_found",
        StatusCode::METHOD_NOT_ALLOWED => "web.err.method",
        StatusCode::PAYLOAD_TOO_LARGE => "web.err.too_large_plain",
        s if s.is_client_error() => "web.err.bad_request",
        _ => "web.err.internal",
    };
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), detail, "request failed");
    }
    AppError::new(status, Msg::new(key))
}

fn render_error(req: &HttpRequest, e: &AppError, api: bool) -> HttpResponse {
    let lang = lang_of(req);
    let mut r = HttpResponse::build(e.status);
    if let Some(s) = e.retry_after_s {
        r.insert_header((header::RETRY_AFTER, s.to_string()));
    }
    if api {
        return r.json(e.to_json(lang));
    }
    if e.status == StatusCode::UNAUTHORIZED {
        // back to where they were: the page itself, or for a form post the page it came from
        let next = if req.method() == Method::GET {
            req.uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default()
        } else {
            referer_path(req).unwrap_or_default()
        };
        let mut query = Vec::new();
        if !next.is_empty() && next != "/" {
            query.push(format!("next={}", urlencode(&next)));
        }
        // a session cookie that no longer works: it expired (or was signed out elsewhere)
        if req.cookie(super::context::SESSION_COOKIE).is_some() {
            query.push("expired=1".to_string());
        }
        let to = if query.is_empty() {
            "/login".to_string()
        } else {
            format!("/login?{}", query.join("&"))
        };
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .finish();
    }
    let Some(app) = req.app_data::<web::Data<App>>() else {
        return r.body(e.msg.render(lang));
    };
    let extra = minijinja::context! {
        status => e.status.as_u16(),
        message => e.msg.render(lang),
        code => e.code(),
    };
    let html = match req.extensions().get::<Principal>().cloned() {
        Some(who) => {
            let ctx = Ctx {
                app: app.clone(),
                who,
                lang,
                req: req.clone(),
            };
            app.ui.render(
                "error.html",
                lang,
                minijinja::context! { ..extra, ..ctx.base() },
            )
        }
        None => app.ui.render("error.html", lang, extra),
    };
    match html {
        Ok(h) => r.content_type("text/html; charset=utf-8").body(h),
        Err(err) => {
            tracing::error!(error = %err, "error page failed to render");
            r.body(e.msg.render(lang))
        }
    }
}

/// The path (and query) of the `Referer`, when it is this site.
fn referer_path(req: &HttpRequest) -> Option<String> {
    let r = req.headers().get(header::REFERER)?.to_str().ok()?;
    let host = req.connection_info().host().to_string();
    let rest = r.split_once("://")?.1;
    let (h, path) = rest.split_once('/').unwrap_or((rest, ""));
    (h == host).then(|| format!("/{path}"))
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|x| x.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// Answers 404 for routes of a switched-off module (its data stays; switching it back on
/// brings the pages back). Runs inside `identify`, so the 404 page still has the menu.
pub async fn module_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let off = req
        .app_data::<web::Data<App>>()
        .and_then(|a| a.registry.disabled_owner(req.path()));
    if off.is_some() {
        return Ok(early(req, AppError::not_found()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Answers every request no route matched.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::not_found())
}
