//! Who is calling and in which language: the [`Principal`] the `identify` middleware resolves
//! from a session cookie or a bearer token, and the [`Ctx`] extractor handlers use to check
//! permissions, build the audit actor and render pages.

use std::future::{Ready, ready};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Serialize;

use super::error::AppError;
use crate::app::App;
use crate::auth::model::{Grants, Level, Token, User};
use crate::i18n::{self, Lang, Msg};
use crate::store::Actor;

pub const SESSION_COOKIE: &str = "nx_session";
pub const LANG_COOKIE: &str = "nx_lang";
pub const FLASH_COOKIE: &str = "nx_flash";
/// Double-submit cookie protecting the login form (there is no session yet).
pub const PRE_COOKIE: &str = "nx_pre";

#[derive(Clone, Debug)]
pub enum Who {
    User {
        user: Box<User>,
        /// SHA-256 of the session cookie (the `auth.sessions` key).
        session_key: String,
        csrf: String,
    },
    Token(Box<Token>),
}

/// An authenticated caller and what they may do.
#[derive(Clone, Debug)]
pub struct Principal {
    pub who: Who,
    pub grants: Grants,
    pub ip: Option<String>,
}

impl Principal {
    /// Read is implied by any level: nobody writes or approves what they cannot see.
    pub fn can(&self, module: &str, level: Level) -> bool {
        self.grants
            .get(module)
            .is_some_and(|l| l.has(level) || (level == Level::Read && !l.is_empty()))
    }

    pub fn actor(&self) -> Actor {
        match &self.who {
            Who::User { user, .. } => Actor::user(user.id, &user.username, self.ip.clone()),
            Who::Token(t) => Actor::token(t.id, &t.name, self.ip.clone()),
        }
    }

    pub fn user(&self) -> Option<&User> {
        match &self.who {
            Who::User { user, .. } => Some(user),
            Who::Token(_) => None,
        }
    }

    pub fn csrf(&self) -> Option<&str> {
        match &self.who {
            Who::User { csrf, .. } => Some(csrf),
            Who::Token(_) => None,
        }
    }
}

/// The caller's language, resolved by the `identify` middleware (cookie, user setting,
/// `Accept-Language`, then zh-CN).
pub fn lang_of(req: &HttpRequest) -> Lang {
    req.extensions().get::<Lang>().copied().unwrap_or_default()
}

/// A request by an authenticated caller. Extracting it fails with 401 for anonymous ones.
pub struct Ctx {
    pub app: web::Data<App>,
    pub who: Principal,
    pub lang: Lang,
    pub req: HttpRequest,
}

impl FromRequest for Ctx {
    type Error = AppError;
    type Future = Ready<Result<Ctx, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let Some(app) = req.app_data::<web::Data<App>>().cloned() else {
            return ready(Err(AppError::internal()));
        };
        let Some(who) = req.extensions().get::<Principal>().cloned() else {
            return ready(Err(AppError::unauthorized()));
        };
        ready(Ok(Ctx {
            app,
            who,
            lang: lang_of(req),
            req: req.clone(),
        }))
    }
}

/// One entry of the left navigation.
#[derive(Serialize, Clone)]
pub struct NavItem {
    pub label: String,
    pub href: String,
    pub active: bool,
}

#[derive(Serialize)]
pub struct NavGroup {
    pub label: String,
    pub items: Vec<NavItem>,
}

impl Ctx {
    /// 403 unless the caller holds `level` on `module`. The message names the permission.
    pub fn require(&self, module: &str, level: Level) -> Result<(), AppError> {
        if self.who.can(module, level) {
            return Ok(());
        }
        Err(forbidden(module, level))
    }

    pub fn actor(&self) -> Actor {
        self.who.actor()
    }

    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key).to_string()
    }

    /// The left navigation: N modules, X modules, then the console's own pages, each
    /// filtered by what the caller may read and by which modules are switched on.
    pub fn nav(&self) -> Vec<NavGroup> {
        let path = self.req.path();
        let item = |label: String, href: String| NavItem {
            active: false,
            label,
            href,
        };
        let mut groups = Vec::new();
        // in the guide's order (附件2 rows), whatever order the modules were built in
        let mut modules: Vec<_> = self.app.registry.modules().iter().collect();
        modules.sort_by_key(|m| m.guide().row);
        for kind in [crate::registry::Kind::N, crate::registry::Kind::X] {
            let mut items = Vec::new();
            for m in &modules {
                if m.kind() != kind || !self.app.registry.is_enabled(m.id()) {
                    continue;
                }
                if !self.who.can(m.id(), Level::Read) {
                    continue;
                }
                for e in m.menu() {
                    if self.who.can(m.id(), e.level) {
                        items.push(item(self.t(e.label_key), e.href));
                    }
                }
            }
            if kind == crate::registry::Kind::X {
                // plugins' pages, guarded by the guide module they implement
                for (module, id, page, zh, en) in self.app.plugins.menu() {
                    if self.who.can(&module, Level::Read) {
                        let label = if self.lang == crate::i18n::Lang::En {
                            en
                        } else {
                            zh
                        };
                        items.push(item(label, format!("/x/{id}/{page}")));
                    }
                }
            }
            if !items.is_empty() {
                let key = match kind {
                    crate::registry::Kind::N => "nav.group_n",
                    _ => "nav.group_x",
                };
                groups.push(NavGroup {
                    label: self.t(key),
                    items,
                });
            }
        }
        let mut sys = Vec::new();
        if self.who.can("admin", Level::Read) || self.who.can("audit", Level::Read) {
            sys.push(item(self.t("nav.compliance"), "/compliance".into()));
        }
        if self.who.can("admin", Level::Read) {
            for (key, href) in [
                ("nav.profile", "/admin/profile"),
                ("nav.modules", "/admin/modules"),
                ("nav.plugins", "/admin/plugins"),
                ("nav.users", "/admin/users"),
                ("nav.roles", "/admin/roles"),
                ("nav.tokens", "/admin/tokens"),
                ("nav.backup", "/admin/backup"),
            ] {
                sys.push(item(self.t(key), href.into()));
            }
        }
        if self.who.can("audit", Level::Read) {
            sys.push(item(self.t("nav.audit"), "/admin/audit".into()));
        }
        if !sys.is_empty() {
            groups.push(NavGroup {
                label: self.t("nav.group_system"),
                items: sys,
            });
        }
        // the entry whose href is the longest prefix of the path is the current one
        let under = |href: &str| path == href || path.starts_with(&format!("{href}/"));
        let best = groups
            .iter()
            .flat_map(|g| g.items.iter())
            .filter(|i| under(&i.href))
            .map(|i| i.href.len())
            .max();
        for i in groups.iter_mut().flat_map(|g| g.items.iter_mut()) {
            i.active = Some(i.href.len()) == best && under(&i.href);
        }
        groups
    }

    /// The context every page shares: language, user, CSRF token, navigation, plant name.
    pub fn base(&self) -> Value {
        let user = self.who.user();
        let r = self.app.store.read().ok();
        let plant = r
            .as_ref()
            .and_then(|r| crate::org::service::profile(r).ok())
            .map(|p| p.company_name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.t("app.name"));
        let developer_mode = user.is_some()
            && r.as_ref()
                .and_then(|r| crate::plugins::Plugins::developer_mode(r).ok())
                .unwrap_or(false);
        let notices = user.filter(|u| !u.must_change_password).and_then(|u| {
            r.as_ref()
                .and_then(|r| crate::notices::unread(r, u.id).ok())
        });
        let alerts = user.filter(|u| !u.must_change_password).and_then(|u| {
            r.as_ref()
                .and_then(|r| crate::alerts::unacked(r, u.id).ok())
        });
        context! {
            lang => self.lang.code(),
            notices_unread => notices,
            alerts_unacked => alerts,
            user_name => user.map(|u| u.display_name.clone()),
            username => user.map(|u| u.username.clone()),
            csrf => self.who.csrf(),
            nav => to_value(&self.nav()),
            plant_name => plant,
            path => self.req.path(),
            flash => take_flash(&self.req),
            secure => self.app.tls,
            alarm_summary => self.alarm_banner().map(|s| to_value(&s)),
            developer_mode,
        }
    }

    /// The alarm counts of the top bar, for people who may see alarms (not while they must
    /// change their password first: the stream behind the banner would refuse them).
    fn alarm_banner(&self) -> Option<crate::alarms::Summary> {
        (self.who.user().is_some_and(|u| !u.must_change_password)
            && self.app.registry.is_enabled("automation")
            && self.who.can("automation", Level::Read))
        .then(|| self.app.alarms.summary())
    }

    /// Renders `template` with the shared context and `extra` (which wins on name clashes).
    pub fn page(&self, template: &str, extra: Value) -> Result<HttpResponse, AppError> {
        self.page_status(StatusCode::OK, template, extra)
    }

    pub fn page_status(
        &self,
        status: StatusCode,
        template: &str,
        extra: Value,
    ) -> Result<HttpResponse, AppError> {
        let ctx = context! { ..extra, ..self.base() };
        let html = self.app.ui.render(template, self.lang, ctx)?;
        let mut r = HttpResponse::build(status);
        r.content_type("text/html; charset=utf-8");
        if self.req.cookie(FLASH_COOKIE).is_some() {
            r.cookie(expired(FLASH_COOKIE));
        }
        Ok(r.body(html))
    }

    /// [`Ctx::page_status`] for a page that may be large (a plugin's table of thousands of
    /// rows): `extra` is built and the template rendered on the blocking pool, so the web
    /// workers keep answering meanwhile.
    pub async fn page_blocking<F>(
        &self,
        status: StatusCode,
        template: &'static str,
        extra: F,
    ) -> Result<HttpResponse, AppError>
    where
        F: FnOnce() -> Result<Value, AppError> + Send + 'static,
    {
        let (app, lang, base) = (self.app.clone(), self.lang, self.base());
        let html = actix_web::web::block(move || -> Result<String, AppError> {
            let ctx = context! { ..extra()?, ..base };
            Ok(app.ui.render(template, lang, ctx)?)
        })
        .await??;
        let mut r = HttpResponse::build(status);
        r.content_type("text/html; charset=utf-8");
        if self.req.cookie(FLASH_COOKIE).is_some() {
            r.cookie(expired(FLASH_COOKIE));
        }
        Ok(r.body(html))
    }

    /// Runs a write on the blocking pool: `f` gets the app and the caller as the actor (it
    /// opens its store transaction with them, so the audit entry names the caller).
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&App, &Actor) -> crate::error::Result<T> + Send + 'static,
    {
        let (app, actor) = (self.app.clone(), self.actor());
        super::error::blocking(move || f(&app, &actor)).await
    }

    /// The end of a form submission: on success a redirect to the page `r` names, with the
    /// flash message (`flash.saved`…); on a refusal the form again with the error and what
    /// was typed (`form` builds the page's data, only then).
    pub fn done(
        &self,
        r: Result<String, AppError>,
        flash: &'static str,
        template: &str,
        form: impl FnOnce() -> Result<Value, AppError>,
    ) -> Result<HttpResponse, AppError> {
        match r {
            Ok(to) => Ok(redirect_with(&to, Some(flash))),
            Err(e) if e.status.is_server_error() || e.status == StatusCode::FORBIDDEN => Err(e),
            Err(e) => self.form_error(template, form()?, e),
        }
    }

    /// Re-renders a form with the error that stopped it (status 422 for validation).
    pub fn form_error(
        &self,
        template: &str,
        extra: Value,
        err: impl Into<AppError>,
    ) -> Result<HttpResponse, AppError> {
        let e: AppError = err.into();
        if e.status.is_server_error() || e.status == StatusCode::FORBIDDEN {
            return Err(e);
        }
        // an import or a multi-line field: every refused row under the summary
        let rows: Vec<String> = e.rows.iter().map(|r| r.msg.render(self.lang)).collect();
        let ctx = context! {
            error => e.msg.render(self.lang),
            error_field => e.field.or_else(|| e.rows.first().map(|r| r.field)),
            error_rows => rows,
            ..extra
        };
        self.page_status(e.status, template, ctx)
    }
}

/// 303 to `to`, with a flash message (a catalogue key under `flash.`) for the next page.
pub fn redirect_with(to: &str, flash: Option<&'static str>) -> HttpResponse {
    let mut r = HttpResponse::SeeOther();
    r.insert_header(("Location", to));
    if let Some(f) = flash {
        r.cookie(
            Cookie::build(FLASH_COOKIE, f)
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .finish(),
        );
    }
    r.finish()
}

fn take_flash(req: &HttpRequest) -> Option<String> {
    let c = req.cookie(FLASH_COOKIE)?;
    let key = c.value();
    (key.starts_with("flash.") && i18n::has(key)).then(|| i18n::t(lang_of(req), key).to_string())
}

/// A cookie that tells the browser to forget `name`.
pub fn expired(name: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build(name, "").path("/").finish();
    c.make_removal();
    c
}

pub fn forbidden(module: &str, level: Level) -> AppError {
    let area = match crate::registry::catalogue::entry(module) {
        Some(g) => g.name_key(),
        None => format!("area.{module}"),
    };
    AppError::new(
        StatusCode::FORBIDDEN,
        Msg::new("auth.err.forbidden")
            .arg_key("area", area)
            .arg_key("level", format!("level.{}", level.id()))
            .arg("perm", format!("{module}.{}", level.id())),
    )
}

/// A serde value for templates (minijinja 3 takes serde types through `Serde`).
pub fn to_value<T: Serialize>(v: &T) -> Value {
    Value::from(minijinja::value::Serde(v))
}
