//! Sign-in, account, users, roles and API tokens: pages and `/api/v1` handlers.
//! Parse, authorise, call `auth::service`, render.

use std::collections::BTreeMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::model::{Level, Role, Token, User};
use super::service::{self as svc, NewToken, NewUser, RoleInput, UserUpdate};
use crate::app::App;
use crate::i18n::{self, Lang, Msg};
use crate::web::context::{
    Ctx, LANG_COOKIE, PRE_COOKIE, SESSION_COOKIE, Who, expired, lang_of, redirect_with, to_value,
};
use crate::web::error::{AppError, blocking};
use crate::web::form::FormData;
use crate::web::grant::{self, Need};
use crate::web::middleware::client_ip;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login_page)
        .service(login_submit)
        .service(logout)
        .service(set_lang)
        .service(password_page)
        .service(password_submit)
        .service(users_page)
        .service(user_new_page)
        .service(user_create)
        .service(user_page)
        .service(user_update)
        .service(user_password)
        .service(roles_page)
        .service(role_new_page)
        .service(role_create)
        .service(role_page)
        .service(role_update)
        .service(role_delete)
        .service(tokens_page)
        .service(token_create)
        .service(token_revoke)
        .service(api_me)
        .service(api_users)
        .service(api_user_create)
        .service(api_user)
        .service(api_user_update)
        .service(api_user_password)
        .service(api_roles)
        .service(api_role_create)
        .service(api_role)
        .service(api_role_update)
        .service(api_role_delete)
        .service(api_tokens)
        .service(api_token_create)
        .service(api_token_revoke)
        .service(unlock_submit)
        .service(api_locks)
        .service(api_unlock);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_me,
    api_users,
    api_user_create,
    api_user,
    api_user_update,
    api_user_password,
    api_roles,
    api_role_create,
    api_role,
    api_role_update,
    api_role_delete,
    api_tokens,
    api_token_create,
    api_token_revoke,
    api_locks,
    api_unlock
))]
pub struct Doc;

// ------------------------------------------------------------------ views

/// A user as the API and pages show it (never the password hash).
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: u64,
    pub username: String,
    pub display_name: String,
    pub department_id: Option<u64>,
    pub roles: Vec<String>,
    pub phone: String,
    pub email: String,
    pub enabled: bool,
    pub must_change_password: bool,
    pub created_ms: i64,
    pub last_login_ms: Option<i64>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            department_id: u.department_id,
            roles: u.roles.clone(),
            phone: u.phone.clone(),
            email: u.email.clone(),
            enabled: u.enabled,
            must_change_password: u.must_change_password,
            created_ms: u.created_ms,
            last_login_ms: u.last_login_ms,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleView {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub description: String,
    pub builtin: bool,
    /// Module id → levels.
    #[schema(value_type = Object)]
    pub grants: BTreeMap<String, Vec<Level>>,
}

impl From<&Role> for RoleView {
    fn from(r: &Role) -> Self {
        RoleView {
            id: r.id.clone(),
            name_zh: r.name_zh.clone(),
            name_en: r.name_en.clone(),
            description: r.description.clone(),
            builtin: r.builtin,
            grants: r
                .grants
                .iter()
                .map(|(m, l)| (m.clone(), l.list()))
                .collect(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: u64,
    pub name: String,
    /// First characters of the secret, to recognise it.
    pub prefix: String,
    #[schema(value_type = Object)]
    pub grants: BTreeMap<String, Vec<Level>>,
    pub created_ms: i64,
    pub created_by: String,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
    pub active: bool,
}

impl From<&Token> for TokenView {
    fn from(t: &Token) -> Self {
        TokenView {
            id: t.id,
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            grants: t
                .grants
                .iter()
                .map(|(m, l)| (m.clone(), l.list()))
                .collect(),
            created_ms: t.created_ms,
            created_by: t.created_by.clone(),
            expires_ms: t.expires_ms,
            last_used_ms: t.last_used_ms,
            revoked_ms: t.revoked_ms,
            active: t.is_active(crate::util::now_ms()),
        }
    }
}

fn role_name(r: &Role, lang: Lang) -> String {
    match lang {
        Lang::ZhCn => r.name_zh.clone(),
        Lang::En => r.name_en.clone(),
    }
}

// ------------------------------------------------------------------ sign-in

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
    /// Set when a session cookie no longer worked.
    #[serde(default)]
    expired: Option<String>,
}

/// Only plain local paths may be redirect targets: no `//evil.example`, no backslashes,
/// whitespace or control characters anywhere (browsers strip or reinterpret them).
fn safe_next(next: &str) -> &str {
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2000
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control());
    if plain { next } else { "/" }
}

fn login_form(
    app: &App,
    req: &HttpRequest,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let lang = lang_of(req);
    let pre = crate::util::random_secret();
    let html = app.ui.render(
        "login.html",
        lang,
        context! {
            pre_csrf => pre.clone(),
            next => next,
            username => username,
            error => error,
            plant_name => crate::org::service::profile(&app.store.read()?)
                .map(|p| p.company_name)
                .unwrap_or_default(),
        },
    )?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .cookie(
            Cookie::build(PRE_COOKIE, pre)
                .path("/login")
                .http_only(true)
                .secure(app.tls)
                .same_site(SameSite::Strict)
                .finish(),
        )
        .body(html))
}

#[get("/login")]
async fn login_page(
    app: web::Data<App>,
    req: HttpRequest,
    q: web::Query<NextQuery>,
    who: Option<Ctx>,
) -> Result<HttpResponse, AppError> {
    if who.is_some() {
        return Ok(redirect_with(safe_next(&q.next), None));
    }
    let notice = q
        .expired
        .is_some()
        .then(|| Msg::new("auth.session_expired").render(lang_of(&req)));
    login_form(&app, &req, StatusCode::OK, safe_next(&q.next), "", notice)
}

#[post("/login")]
async fn login_submit(
    app: web::Data<App>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let lang = lang_of(&req);
    let next = safe_next(f.get("next")).to_string();
    let username = f.get("username").to_string();
    let pre_ok = req.cookie(PRE_COOKIE).is_some_and(|c| {
        !c.value().is_empty() && crate::util::constant_time_eq(c.value(), f.get("csrf"))
    });
    if !pre_ok {
        let msg = Msg::new("auth.err.csrf").render(lang);
        return login_form(
            &app,
            &req,
            StatusCode::FORBIDDEN,
            &next,
            &username,
            Some(msg),
        );
    }
    let password = f.get("password").to_string();
    let ip = client_ip(&req);
    let ua = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let a = app.clone();
    let u = username.clone();
    let result =
        web::block(move || svc::login(&a.store, &a.throttle, &u, &password, ip, &ua)).await?;
    match result {
        Ok(ok) => {
            let to = if ok.user.must_change_password {
                "/account/password".to_string()
            } else {
                next
            };
            let mut r = HttpResponse::SeeOther();
            r.insert_header(("Location", to));
            r.cookie(
                Cookie::build(SESSION_COOKIE, ok.secret)
                    .path("/")
                    .http_only(true)
                    .secure(app.tls)
                    .same_site(SameSite::Lax)
                    .finish(),
            );
            r.cookie(expired(PRE_COOKIE));
            if let Some(l) = ok.user.lang {
                r.cookie(lang_cookie(l, app.tls));
            }
            Ok(r.finish())
        }
        Err(e) => {
            let e: AppError = e.into();
            let msg = e.msg.render(lang);
            let mut resp = login_form(&app, &req, e.status, &next, &username, Some(msg))?;
            if let Some(s) = e.retry_after_s {
                resp.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(s),
                );
            }
            Ok(resp)
        }
    }
}

#[post("/logout")]
async fn logout(ctx: Ctx) -> Result<HttpResponse, AppError> {
    if let Who::User { session_key, .. } = &ctx.who.who {
        let key = session_key.clone();
        ctx.write(move |app, actor| svc::logout(&app.store, actor, &key))
            .await?;
    }
    let mut r = redirect_with("/login", Some("flash.logged_out"));
    r.add_cookie(&expired(SESSION_COOKIE))
        .map_err(|_| AppError::internal())?;
    Ok(r)
}

fn lang_cookie(l: Lang, secure: bool) -> Cookie<'static> {
    Cookie::build(LANG_COOKIE, l.code())
        .path("/")
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}

/// Switches the language: a cookie for everyone, remembered on the account when signed in.
#[get("/lang/{code}")]
async fn set_lang(
    app: web::Data<App>,
    code: web::Path<String>,
    q: web::Query<NextQuery>,
    who: Option<Ctx>,
) -> Result<HttpResponse, AppError> {
    let lang = Lang::parse(&code).ok_or_else(AppError::not_found)?;
    if let Some(ctx) = who
        && let Some(u) = ctx.who.user()
    {
        let (a, actor, id) = (app.clone(), ctx.actor(), u.id);
        blocking(move || svc::set_language(&a.store, &actor, id, lang)).await?;
    }
    let mut r = redirect_with(safe_next(&q.next), None);
    r.add_cookie(&lang_cookie(lang, app.tls))
        .map_err(|_| AppError::internal())?;
    Ok(r)
}

#[get("/account/password")]
async fn password_page(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.page(
        "account/password.html",
        context! { forced => ctx.who.user().is_some_and(|u| u.must_change_password) },
    )
}

#[post("/account/password")]
async fn password_submit(
    ctx: Ctx,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let Who::User {
        user, session_key, ..
    } = &ctx.who.who
    else {
        return Err(AppError::not_found());
    };
    let forced = user.must_change_password;
    if f.get("password") != f.get("password2") {
        return ctx.form_error(
            "account/password.html",
            context! { forced },
            crate::error::Error::invalid("password2", "auth.err.password_mismatch"),
        );
    }
    let (id, key) = (user.id, session_key.clone());
    let (old, new) = (
        f.get("old_password").to_string(),
        f.get("password").to_string(),
    );
    match ctx
        .write(move |app, actor| {
            svc::change_own_password(&app.store, actor, id, &old, &new, Some(&key))
        })
        .await
    {
        Ok(()) => Ok(redirect_with("/", Some("flash.password_changed"))),
        Err(e) => ctx.form_error("account/password.html", context! { forced }, e),
    }
}

// ------------------------------------------------------------------ users (pages)

fn role_options(ctx: &Ctx) -> Result<Vec<serde_json::Value>, AppError> {
    let r = ctx.app.store.read()?;
    let roles = svc::roles(&r, &ctx.app.registry.permission_targets())?;
    Ok(roles
        .iter()
        .map(|ro| serde_json::json!({ "id": ro.id, "name": role_name(ro, ctx.lang), "builtin": ro.builtin }))
        .collect())
}

fn departments(ctx: &Ctx) -> Result<Vec<crate::org::Department>, AppError> {
    Ok(crate::org::service::departments(&ctx.app.store.read()?)?)
}

#[get("/admin/users")]
async fn users_page(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let users = svc::users(&r)?;
    let roles: BTreeMap<String, String> = svc::roles(&r, &ctx.app.registry.permission_targets())?
        .iter()
        .map(|ro| (ro.id.clone(), role_name(ro, ctx.lang)))
        .collect();
    let deps: BTreeMap<u64, String> = crate::org::service::departments(&r)?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let rows: Vec<serde_json::Value> = users
        .iter()
        .map(|u| {
            serde_json::json!({
                "user": UserView::from(u),
                "roles": u.roles.iter().map(|id| roles.get(id).cloned().unwrap_or_else(|| id.clone())).collect::<Vec<_>>(),
                "department": u.department_id.and_then(|d| deps.get(&d).cloned()).unwrap_or_default(),
            })
        })
        .collect();
    let locks = lock_views(&ctx);
    ctx.page(
        "admin/users.html",
        context! {
            rows => to_value(&rows),
            locks => to_value(&locks),
            can_write => ctx.who.can("admin", Level::Write),
        },
    )
}

/// A sign-in lock as the console and API show it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LockView {
    /// `pair:<user>@<address>`
    pub key: String,
    pub username: String,
    pub address: String,
    pub seconds_left: u64,
}

fn lock_views(ctx: &Ctx) -> Vec<LockView> {
    ctx.app
        .throttle
        .locks(crate::util::now_ms())
        .into_iter()
        .map(|(key, seconds_left)| {
            let rest = key.strip_prefix("pair:").unwrap_or(&key);
            let (username, address) = rest.rsplit_once('@').unwrap_or((rest, ""));
            LockView {
                username: username.to_string(),
                address: address.to_string(),
                key,
                seconds_left,
            }
        })
        .collect()
}

#[post("/admin/locks/unlock")]
async fn unlock_submit(
    ctx: Need<grant::admin::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let name = f.get("username").to_string();
    ctx.write(move |app, actor| svc::unlock(&app.store, &app.throttle, actor, &name))
        .await?;
    Ok(redirect_with("/admin/users", Some("flash.unlocked")))
}

fn user_form_ctx(
    ctx: &Ctx,
    user: Option<&User>,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    Ok(context! {
        user => user.map(|u| to_value(&UserView::from(u))),
        roles => to_value(&role_options(ctx)?),
        departments => to_value(&departments(ctx)?),
        values => to_value(&values),
        can_write => ctx.who.can("admin", Level::Write),
    })
}

#[get("/admin/users/new")]
async fn user_new_page(ctx: Need<grant::admin::Write>) -> Result<HttpResponse, AppError> {
    let c = user_form_ctx(
        &ctx,
        None,
        serde_json::json!({ "must_change_password": "on" }),
    )?;
    ctx.page("admin/user_form.html", c)
}

fn dept_of(f: &FormData) -> crate::error::Result<Option<u64>> {
    f.opt::<u64>("department_id")
}

#[post("/admin/users")]
async fn user_create(
    ctx: Need<grant::admin::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let new = dept_of(&f).map(|department_id| NewUser {
        username: f.get("username").into(),
        display_name: f.get("display_name").into(),
        password: f.get("password").into(),
        department_id,
        roles: f.all("roles"),
        phone: f.get("phone").into(),
        email: f.get("email").into(),
        must_change_password: f.checked("must_change_password"),
    });
    let result = async {
        let n = new?;
        ctx.write(move |app, actor| svc::create_user(&app.store, actor, n))
            .await
    }
    .await;
    ctx.done(
        result.map(|u| format!("/admin/users/{}", u.id)),
        "flash.saved",
        "admin/user_form.html",
        || user_form_ctx(&ctx, None, f.echo()),
    )
}

fn load_user(ctx: &Ctx, id: u64) -> Result<User, AppError> {
    svc::user(&ctx.app.store.read()?, id)?
        .ok_or_else(|| AppError::from(crate::error::Error::not_found("auth.err.user_not_found")))
}

#[get("/admin/users/{id}")]
async fn user_page(
    ctx: Need<grant::admin::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let u = load_user(&ctx, *id)?;
    let values = serde_json::json!({
        "display_name": u.display_name, "phone": u.phone, "email": u.email,
        "department_id": u.department_id.map(|d| d.to_string()).unwrap_or_default(),
        "enabled": if u.enabled { "on" } else { "" },
    });
    let c = user_form_ctx(&ctx, Some(&u), values)?;
    ctx.page("admin/user_form.html", c)
}

#[post("/admin/users/{id}")]
async fn user_update(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let u = load_user(&ctx, *id)?;
    let up = dept_of(&f).map(|department_id| UserUpdate {
        display_name: f.get("display_name").into(),
        department_id,
        roles: f.all("roles"),
        phone: f.get("phone").into(),
        email: f.get("email").into(),
        enabled: f.checked("enabled"),
    });
    let uid = u.id;
    let result = async {
        let up = up?;
        ctx.write(move |app, actor| svc::update_user(&app.store, actor, uid, up))
            .await
    }
    .await;
    ctx.done(
        result.map(|_| format!("/admin/users/{uid}")),
        "flash.saved",
        "admin/user_form.html",
        || {
            let mut v = f.echo();
            v["roles_submitted"] = serde_json::json!(f.all("roles"));
            let c = user_form_ctx(&ctx, Some(&u), v)?;
            Ok(c)
        },
    )
}

#[post("/admin/users/{id}/password")]
async fn user_password(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let u = load_user(&ctx, *id)?;
    let uid = u.id;
    let (pw, must) = (
        f.get("password").to_string(),
        f.checked("must_change_password"),
    );
    match ctx
        .write(move |app, actor| svc::set_password(&app.store, actor, uid, &pw, must))
        .await
    {
        Ok(()) => Ok(redirect_with(
            &format!("/admin/users/{uid}"),
            Some("flash.password_set"),
        )),
        Err(e) => {
            let c = user_form_ctx(&ctx, Some(&u), serde_json::json!({}))?;
            ctx.form_error("admin/user_form.html", c, e)
        }
    }
}

// ------------------------------------------------------------------ roles (pages)

/// The permission matrix rows: every module and system area with its name and kind.
fn matrix(ctx: &Ctx) -> Vec<serde_json::Value> {
    ctx.app
        .registry
        .permission_targets()
        .iter()
        .map(|(id, kind)| {
            let key = match kind {
                crate::registry::Kind::System => format!("area.{id}"),
                _ => format!("module.{id}.name"),
            };
            serde_json::json!({ "id": id, "name": i18n::t(ctx.lang, &key), "kind": kind })
        })
        .collect()
}

#[get("/admin/roles")]
async fn roles_page(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let roles: Vec<RoleView> = svc::roles(&r, &ctx.app.registry.permission_targets())?
        .iter()
        .map(RoleView::from)
        .collect();
    let holders: BTreeMap<String, usize> = svc::users(&r)?
        .iter()
        .flat_map(|u| u.roles.clone())
        .fold(BTreeMap::new(), |mut m, id| {
            *m.entry(id).or_default() += 1;
            m
        });
    ctx.page(
        "admin/roles.html",
        context! {
            roles => to_value(&roles),
            holders => to_value(&holders),
            modules => to_value(&matrix(&ctx)),
            can_write => ctx.who.can("admin", Level::Write),
        },
    )
}

fn grants_from_form(
    f: &FormData,
    modules: &[(&str, crate::registry::Kind)],
) -> BTreeMap<String, Vec<Level>> {
    let mut g = BTreeMap::new();
    for (m, _) in modules {
        let levels: Vec<Level> = Level::ALL
            .into_iter()
            .filter(|l| f.checked(&format!("grant.{m}.{}", l.id())))
            .collect();
        if !levels.is_empty() {
            g.insert(m.to_string(), levels);
        }
    }
    g
}

fn role_form_ctx(
    ctx: &Ctx,
    role: Option<&RoleView>,
    values: serde_json::Value,
    create: bool,
) -> minijinja::Value {
    context! {
        role => role.map(to_value),
        values => to_value(&values),
        modules => to_value(&matrix(ctx)),
        create,
        can_write => ctx.who.can("admin", Level::Write) && role.is_none_or(|r| !r.builtin),
    }
}

fn role_values(r: &RoleView) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": r.id, "name_zh": r.name_zh, "name_en": r.name_en, "description": r.description,
    });
    for (m, levels) in &r.grants {
        for l in levels {
            v[format!("grant.{m}.{}", l.id())] = "on".into();
        }
    }
    v
}

#[get("/admin/roles/new")]
async fn role_new_page(ctx: Need<grant::admin::Write>) -> Result<HttpResponse, AppError> {
    let c = role_form_ctx(&ctx, None, serde_json::json!({}), true);
    ctx.page("admin/role_form.html", c)
}

async fn save_role_form(
    ctx: Need<grant::admin::Write>,
    f: FormData,
    create: bool,
    id: Option<String>,
) -> Result<HttpResponse, AppError> {
    let modules = ctx.app.registry.permission_targets();
    let input = RoleInput {
        id: id.unwrap_or_else(|| f.get("id").to_string()),
        name_zh: f.get("name_zh").into(),
        name_en: f.get("name_en").into(),
        description: f.get("description").into(),
        grants: grants_from_form(&f, &modules),
    };
    let rid = input.id.clone();
    match ctx
        .write(move |app, actor| {
            svc::save_role(
                &app.store,
                actor,
                input,
                create,
                &app.registry.permission_targets(),
            )
        })
        .await
    {
        Ok(r) => Ok(redirect_with(
            &format!("/admin/roles/{}", r.id),
            Some("flash.saved"),
        )),
        Err(e) => {
            let existing = if create {
                None
            } else {
                svc::role(&ctx.app.store.read()?, &rid, &modules)?.map(|r| RoleView::from(&r))
            };
            let c = role_form_ctx(&ctx, existing.as_ref(), f.echo(), create);
            ctx.form_error("admin/role_form.html", c, e)
        }
    }
}

#[post("/admin/roles")]
async fn role_create(
    ctx: Need<grant::admin::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    save_role_form(ctx, FormData::from(form), true, None).await
}

fn load_role(ctx: &Ctx, id: &str) -> Result<Role, AppError> {
    svc::role(
        &ctx.app.store.read()?,
        id,
        &ctx.app.registry.permission_targets(),
    )?
    .ok_or_else(|| crate::error::Error::not_found("auth.err.role_not_found").into())
}

#[get("/admin/roles/{id}")]
async fn role_page(
    ctx: Need<grant::admin::Read>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let r = RoleView::from(&load_role(&ctx, &id)?);
    let c = role_form_ctx(&ctx, Some(&r), role_values(&r), false);
    ctx.page("admin/role_form.html", c)
}

#[post("/admin/roles/{id}")]
async fn role_update(
    ctx: Need<grant::admin::Write>,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    save_role_form(ctx, FormData::from(form), false, Some(id.into_inner())).await
}

#[post("/admin/roles/{id}/delete")]
async fn role_delete(
    ctx: Need<grant::admin::Write>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let rid = id.into_inner();
    let r2 = rid.clone();
    match ctx
        .write(move |app, actor| svc::delete_role(&app.store, actor, &r2))
        .await
    {
        Ok(()) => Ok(redirect_with("/admin/roles", Some("flash.deleted"))),
        Err(e) => {
            let r = RoleView::from(&load_role(&ctx, &rid)?);
            let c = role_form_ctx(&ctx, Some(&r), role_values(&r), false);
            ctx.form_error("admin/role_form.html", c, e)
        }
    }
}

// ------------------------------------------------------------------ tokens (pages)

fn tokens_ctx(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let tokens: Vec<TokenView> = svc::tokens(&ctx.app.store.read()?)?
        .iter()
        .rev()
        .map(TokenView::from)
        .collect();
    let modules = matrix(ctx);
    let module_names: BTreeMap<String, String> = modules
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap_or("").to_string(),
                m["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    Ok(context! {
        tokens => to_value(&tokens),
        module_names => to_value(&module_names),
        modules => to_value(&modules),
        values => to_value(&values),
        can_write => ctx.who.can("admin", Level::Write),
    })
}

#[get("/admin/tokens")]
async fn tokens_page(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let c = tokens_ctx(&ctx, serde_json::json!({}))?;
    ctx.page("admin/tokens.html", c)
}

#[post("/admin/tokens")]
async fn token_create(
    ctx: Need<grant::admin::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let modules = ctx.app.registry.permission_targets();
    let new = f.opt::<u32>("expires_days").map(|expires_days| NewToken {
        name: f.get("name").into(),
        grants: grants_from_form(&f, &modules),
        expires_days,
    });
    let result = async {
        let n = new?;
        ctx.write(move |app, actor| {
            svc::create_token(
                &app.store,
                actor,
                n,
                None,
                &app.registry.permission_targets(),
            )
        })
        .await
    }
    .await;
    match result {
        // The secret is shown on this response only; it is not stored anywhere.
        Ok((t, secret)) => {
            let c = tokens_ctx(&ctx, serde_json::json!({}))?;
            ctx.page(
                "admin/tokens.html",
                context! { created => to_value(&TokenView::from(&t)), secret, ..c },
            )
        }
        Err(e) => {
            let c = tokens_ctx(&ctx, f.echo())?;
            ctx.form_error("admin/tokens.html", c, e)
        }
    }
}

#[post("/admin/tokens/{id}/revoke")]
async fn token_revoke(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let tid = *id;
    ctx.write(move |app, actor| svc::revoke_token(&app.store, actor, tid))
        .await?;
    Ok(redirect_with("/admin/tokens", Some("flash.token_revoked")))
}

// ------------------------------------------------------------------ API

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    /// "user" or "token".
    pub kind: &'static str,
    pub id: u64,
    pub name: String,
    pub display_name: String,
    pub roles: Vec<String>,
    #[schema(value_type = Object)]
    pub grants: BTreeMap<String, Vec<Level>>,
    pub lang: Lang,
}

/// The caller: a signed-in user or an API token, and what it may do.
#[utoipa::path(tag = "auth", responses(
    (status = 200, description = "The caller", body = Me),
    (status = 401, description = "Not authenticated")),
    security(("bearer" = [])))]
#[get("/api/v1/me")]
async fn api_me(ctx: Ctx) -> Result<HttpResponse, AppError> {
    let grants = ctx
        .who
        .grants
        .iter()
        .map(|(m, l)| (m.clone(), l.list()))
        .collect();
    let me = match &ctx.who.who {
        Who::User { user, .. } => Me {
            kind: "user",
            id: user.id,
            name: user.username.clone(),
            display_name: user.display_name.clone(),
            roles: user.roles.clone(),
            grants,
            lang: ctx.lang,
        },
        Who::Token(t) => Me {
            kind: "token",
            id: t.id,
            name: t.name.clone(),
            display_name: t.name.clone(),
            roles: Vec::new(),
            grants,
            lang: ctx.lang,
        },
    };
    Ok(HttpResponse::Ok().json(me))
}

/// All users.
#[utoipa::path(tag = "users", responses(
    (status = 200, description = "Users", body = Vec<UserView>),
    (status = 403, description = "Needs admin.read")),
    security(("bearer" = ["admin:read"])))]
#[get("/api/v1/users")]
async fn api_users(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let users: Vec<UserView> = svc::users(&ctx.app.store.read()?)?
        .iter()
        .map(UserView::from)
        .collect();
    Ok(HttpResponse::Ok().json(users))
}

/// Creates a user. The password must follow the password rules.
#[utoipa::path(tag = "users", request_body = NewUser, responses(
    (status = 201, description = "Created", body = UserView),
    (status = 422, description = "A field breaks a rule; `error.field` names it"),
    (status = 403, description = "Needs admin.write")),
    security(("bearer" = ["admin:write"])))]
#[post("/api/v1/users")]
async fn api_user_create(
    ctx: Need<grant::admin::Write>,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, AppError> {
    let new = body.into_inner();
    let u = ctx
        .write(move |app, actor| svc::create_user(&app.store, actor, new))
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(&u)))
}

/// One user.
#[utoipa::path(tag = "users", params(("id" = u64, Path, description = "User id")), responses(
    (status = 200, description = "The user", body = UserView),
    (status = 404, description = "No such user")),
    security(("bearer" = ["admin:read"])))]
#[get("/api/v1/users/{id}")]
async fn api_user(
    ctx: Need<grant::admin::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(UserView::from(&load_user(&ctx, *id)?)))
}

/// Changes a user's name, department, roles, contact data or enabled flag.
#[utoipa::path(tag = "users", params(("id" = u64, Path, description = "User id")), request_body = UserUpdate, responses(
    (status = 200, description = "Updated", body = UserView),
    (status = 409, description = "Would leave no enabled admin"),
    (status = 422, description = "A field breaks a rule")),
    security(("bearer" = ["admin:write"])))]
#[put("/api/v1/users/{id}")]
async fn api_user_update(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
    body: web::Json<UserUpdate>,
) -> Result<HttpResponse, AppError> {
    let (uid, up) = (*id, body.into_inner());
    let u = ctx
        .write(move |app, actor| svc::update_user(&app.store, actor, uid, up))
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(&u)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetPassword {
    pub password: String,
    /// Make the user choose a new password at next login (default true).
    #[serde(default = "default_true")]
    pub must_change_password: bool,
}

fn default_true() -> bool {
    true
}

/// Sets a user's password and ends their sessions.
#[utoipa::path(tag = "users", params(("id" = u64, Path, description = "User id")), request_body = SetPassword, responses(
    (status = 204, description = "Password set"),
    (status = 422, description = "Password breaks the rules")),
    security(("bearer" = ["admin:write"])))]
#[post("/api/v1/users/{id}/password")]
async fn api_user_password(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
    body: web::Json<SetPassword>,
) -> Result<HttpResponse, AppError> {
    let (uid, b) = (*id, body.into_inner());
    ctx.write(move |app, actor| {
        svc::set_password(&app.store, actor, uid, &b.password, b.must_change_password)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// All roles, built-in ones first, with their grants.
#[utoipa::path(tag = "roles", responses((status = 200, description = "Roles", body = Vec<RoleView>)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/roles")]
async fn api_roles(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let roles: Vec<RoleView> = svc::roles(
        &ctx.app.store.read()?,
        &ctx.app.registry.permission_targets(),
    )?
    .iter()
    .map(RoleView::from)
    .collect();
    Ok(HttpResponse::Ok().json(roles))
}

/// Creates a custom role.
#[utoipa::path(tag = "roles", request_body = RoleInput, responses(
    (status = 201, description = "Created", body = RoleView),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["admin:write"])))]
#[post("/api/v1/roles")]
async fn api_role_create(
    ctx: Need<grant::admin::Write>,
    body: web::Json<RoleInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner();
    let r = ctx
        .write(move |app, actor| {
            svc::save_role(
                &app.store,
                actor,
                input,
                true,
                &app.registry.permission_targets(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(RoleView::from(&r)))
}

/// One role.
#[utoipa::path(tag = "roles", params(("id" = String, Path, description = "Role id")), responses(
    (status = 200, description = "The role", body = RoleView), (status = 404, description = "No such role")),
    security(("bearer" = ["admin:read"])))]
#[get("/api/v1/roles/{id}")]
async fn api_role(
    ctx: Need<grant::admin::Read>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(RoleView::from(&load_role(&ctx, &id)?)))
}

/// Replaces a custom role's names, description and grants. Takes effect on the holders' next request.
#[utoipa::path(tag = "roles", params(("id" = String, Path, description = "Role id")), request_body = RoleInput, responses(
    (status = 200, description = "Updated", body = RoleView),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["admin:write"])))]
#[put("/api/v1/roles/{id}")]
async fn api_role_update(
    ctx: Need<grant::admin::Write>,
    id: web::Path<String>,
    body: web::Json<RoleInput>,
) -> Result<HttpResponse, AppError> {
    let mut input = body.into_inner();
    input.id = id.into_inner();
    let r = ctx
        .write(move |app, actor| {
            svc::save_role(
                &app.store,
                actor,
                input,
                false,
                &app.registry.permission_targets(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(RoleView::from(&r)))
}

/// Deletes a custom role nobody holds.
#[utoipa::path(tag = "roles", params(("id" = String, Path, description = "Role id")), responses(
    (status = 204, description = "Deleted"), (status = 409, description = "Still held by users, or built-in")),
    security(("bearer" = ["admin:write"])))]
#[delete("/api/v1/roles/{id}")]
async fn api_role_delete(
    ctx: Need<grant::admin::Write>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let rid = id.into_inner();
    ctx.write(move |app, actor| svc::delete_role(&app.store, actor, &rid))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// All API tokens (never their secrets).
#[utoipa::path(tag = "tokens", responses((status = 200, description = "Tokens", body = Vec<TokenView>)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/tokens")]
async fn api_tokens(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let tokens: Vec<TokenView> = svc::tokens(&ctx.app.store.read()?)?
        .iter()
        .map(TokenView::from)
        .collect();
    Ok(HttpResponse::Ok().json(tokens))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub token: TokenView,
    /// The secret, shown this once. Send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// Creates an API token scoped to the given grants. The secret is in this response only.
#[utoipa::path(tag = "tokens", request_body = NewToken, responses(
    (status = 201, description = "Created", body = CreatedToken),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["admin:write"])))]
#[post("/api/v1/tokens")]
async fn api_token_create(
    ctx: Need<grant::admin::Write>,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, AppError> {
    let new = body.into_inner();
    let (t, secret) = ctx
        .write(move |app, actor| {
            svc::create_token(
                &app.store,
                actor,
                new,
                None,
                &app.registry.permission_targets(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token: TokenView::from(&t),
        secret,
    }))
}

/// Revokes a token; requests with it fail from now on.
#[utoipa::path(tag = "tokens", params(("id" = u64, Path, description = "Token id")), responses(
    (status = 200, description = "Revoked", body = TokenView), (status = 404, description = "No such token")),
    security(("bearer" = ["admin:write"])))]
#[delete("/api/v1/tokens/{id}")]
async fn api_token_revoke(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let tid = *id;
    let t = ctx
        .write(move |app, actor| svc::revoke_token(&app.store, actor, tid))
        .await?;
    Ok(HttpResponse::Ok().json(TokenView::from(&t)))
}

/// Current sign-in locks (an account from one address after repeated failures).
#[utoipa::path(tag = "users", responses((status = 200, description = "Locks", body = Vec<LockView>)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/login-locks")]
async fn api_locks(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(lock_views(&ctx)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UnlockRequest {
    pub username: String,
}

/// Lifts every sign-in lock and slow-down of an account. Audited.
#[utoipa::path(tag = "users", request_body = UnlockRequest, responses(
    (status = 200, description = "Keys that were locked", body = Vec<String>)), security(("bearer" = ["admin:write"])))]
#[post("/api/v1/login-locks/unlock")]
async fn api_unlock(
    ctx: Need<grant::admin::Write>,
    body: web::Json<UnlockRequest>,
) -> Result<HttpResponse, AppError> {
    let name = body.into_inner().username;
    let lifted = ctx
        .write(move |app, actor| svc::unlock(&app.store, &app.throttle, actor, &name))
        .await?;
    Ok(HttpResponse::Ok().json(lifted))
}
