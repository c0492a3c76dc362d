//! The home page, the module console (`/admin/modules`) and the compliance
//! self-assessment (`/compliance`, 达标自评), with their `/api/v1` twins.

use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::Serialize;

use super::{GUIDE, Kind, State};
use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{self, Lang, Msg};
use crate::org::EnterpriseType;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::AppError;
use crate::web::grant::{self, Either, Need};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(modules_page)
        .service(module_switch)
        .service(compliance_page)
        .service(api_modules)
        .service(api_module_switch)
        .service(api_compliance);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_modules, api_module_switch, api_compliance))]
pub struct Doc;

/// A module as the console and API show it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ModuleView {
    pub id: &'static str,
    /// Row of the guide (附件2).
    pub row: u8,
    pub kind: Kind,
    pub name: String,
    pub requirement: String,
    pub state: State,
    /// Whether the current enterprise type's acceptance requires it.
    pub required: bool,
    /// A compliance warning when it is required but off.
    pub warning: Option<String>,
    /// Health detail when degraded or faulted.
    pub health: Option<String>,
    /// Served by a plugin (switched on the plugins page).
    pub plugin: Option<String>,
    /// Where the module opens: its own pages, or its plugin's first menu page.
    pub href: String,
}

fn module_views(app: &App, lang: Lang, etype: Option<EnterpriseType>) -> Vec<ModuleView> {
    GUIDE
        .iter()
        .map(|g| {
            let state = app.registry.state(app, g.id);
            let required = etype.is_some_and(|t| g.required_for.contains(&t));
            let health = app.registry.module(g.id).and_then(|m| match m.health(app) {
                super::Health::Ok => None,
                super::Health::Degraded(d) | super::Health::Faulted(d) => Some(d),
            });
            let on = state == State::Enabled;
            let plugin = app
                .registry
                .module(g.id)
                .is_none()
                .then(|| app.plugins.serving(app, g.id))
                .flatten()
                .map(|(id, _)| id);
            let href = match &plugin {
                Some(p) => app
                    .plugins
                    .module_of(p)
                    .and_then(|(_, info)| {
                        info.pages.iter().find(|x| x.in_menu).map(|x| x.id.clone())
                    })
                    .map_or_else(
                        || "/admin/plugins".to_string(),
                        |page| format!("/x/{p}/{page}"),
                    ),
                None => format!("/{}", g.id),
            };
            ModuleView {
                href,
                plugin,
                id: g.id,
                row: g.row,
                kind: g.kind,
                name: i18n::t(lang, &g.name_key()).to_string(),
                requirement: i18n::t(lang, &g.requirement_key()).to_string(),
                state,
                required,
                warning: if required && !on {
                    let key = if state == State::NotInstalled {
                        "registry.warn.required_missing"
                    } else {
                        "registry.warn.required"
                    };
                    Some(
                        Msg::new(key)
                            .arg("module", i18n::t(lang, &g.name_key()))
                            .arg(
                                "type",
                                etype.map(|t| i18n::t(lang, t.name_key())).unwrap_or(""),
                            )
                            .render(lang),
                    )
                } else {
                    None
                },
                health,
            }
        })
        .collect()
}

fn etype(app: &App) -> Result<Option<EnterpriseType>, AppError> {
    Ok(crate::org::service::enterprise_type(&app.store.read()?)?)
}

#[get("/")]
async fn home(ctx: Ctx) -> Result<HttpResponse, AppError> {
    let t = etype(&ctx.app)?;
    let modules: Vec<ModuleView> = module_views(&ctx.app, ctx.lang, t)
        .into_iter()
        .filter(|m| m.state != State::Enabled || ctx.who.can(m.id, Level::Read))
        .collect();
    let required = modules.iter().filter(|m| m.required).count();
    let ready = modules
        .iter()
        .filter(|m| m.required && m.state == State::Enabled)
        .count();
    ctx.page(
        "home.html",
        context! {
            modules => to_value(&modules),
            enterprise_type => t.map(|t| i18n::t(ctx.lang, t.name_key())),
            required, ready,
            can_admin => ctx.who.can("admin", Level::Read),
            park => crate::park::config(&ctx.app.store.read()?)?.enabled
                && ctx.who.can("integration", Level::Read),
        },
    )
}

#[get("/admin/modules")]
async fn modules_page(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let t = etype(&ctx.app)?;
    ctx.page(
        "admin/modules.html",
        context! {
            modules => to_value(&module_views(&ctx.app, ctx.lang, t)),
            enterprise_type => t.map(|t| i18n::t(ctx.lang, t.name_key())),
            can_write => ctx.who.can("admin", Level::Write),
        },
    )
}

/// `enable` → true, `disable` → false, for an installed module.
fn switch(app: &App, id: &str, action: &str) -> Result<bool, AppError> {
    let on = match action {
        "enable" => true,
        "disable" => false,
        _ => return Err(AppError::not_found()),
    };
    if app.registry.module(id).is_none() {
        return Err(crate::error::Error::not_found("registry.err.not_installed").into());
    }
    Ok(on)
}

#[post("/admin/modules/{id}/{action}")]
async fn module_switch(
    ctx: Need<grant::admin::Write>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let on = switch(&ctx.app, &id, &action)?;
    let warning = ctx
        .write(move |app, actor| app.registry.set_enabled(&app.store, actor, &id, on))
        .await?;
    let flash = match (on, warning.is_some()) {
        (true, _) => "flash.module_enabled",
        (false, false) => "flash.module_disabled",
        (false, true) => "flash.module_disabled_required",
    };
    Ok(redirect_with("/admin/modules", Some(flash)))
}

#[get("/compliance")]
async fn compliance_page(ctx: Need<Auditors>) -> Result<HttpResponse, AppError> {
    let report = compliance(&ctx.app, ctx.lang)?;
    let profile = crate::org::service::profile(&ctx.app.store.read()?)?;
    ctx.page(
        "compliance.html",
        context! {
            report => to_value(&report),
            profile => to_value(&profile),
            generated_ms => crate::util::now_ms(),
        },
    )
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemView {
    pub key: &'static str,
    pub text: String,
    pub met: bool,
    pub detail: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ComplianceModule {
    #[serde(flatten)]
    pub module: ModuleView,
    pub items: Vec<ItemView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ComplianceReport {
    /// None until the profile names the enterprise type.
    pub enterprise_type: Option<EnterpriseType>,
    pub enterprise_type_name: Option<String>,
    pub required_total: usize,
    pub required_enabled: usize,
    pub modules: Vec<ComplianceModule>,
}

/// For the enterprise type: each guide module, whether it is required, installed and on,
/// and per requirement item the evidence the module's data gives.
pub fn compliance(app: &App, lang: Lang) -> Result<ComplianceReport, AppError> {
    let t = etype(app)?;
    let mut modules = Vec::new();
    for mv in module_views(app, lang, t) {
        let g = super::catalogue::entry(mv.id).expect("views come from the catalogue");
        let evidence = match app.registry.module(mv.id) {
            Some(m) if mv.state != State::NotInstalled => m.evidence(app, lang),
            _ => Vec::new(),
        };
        let items = g
            .items
            .iter()
            .map(|key| match evidence.iter().find(|e| e.item_key == *key) {
                Some(e) => ItemView {
                    key,
                    text: i18n::t(lang, key).to_string(),
                    met: e.met,
                    detail: e.detail.clone(),
                },
                None => ItemView {
                    key,
                    text: i18n::t(lang, key).to_string(),
                    met: false,
                    detail: i18n::t(lang, "compliance.not_provided").to_string(),
                },
            })
            .collect();
        modules.push(ComplianceModule { module: mv, items });
    }
    let required_total = modules.iter().filter(|m| m.module.required).count();
    let required_enabled = modules
        .iter()
        .filter(|m| m.module.required && m.module.state == State::Enabled)
        .count();
    Ok(ComplianceReport {
        enterprise_type: t,
        enterprise_type_name: t.map(|t| i18n::t(lang, t.name_key()).to_string()),
        required_total,
        required_enabled,
        modules,
    })
}

/// The guide's modules with their state and whether the enterprise type requires them.
#[utoipa::path(tag = "modules", responses((status = 200, description = "Modules", body = Vec<ModuleView>)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/modules")]
async fn api_modules(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let t = etype(&ctx.app)?;
    Ok(HttpResponse::Ok().json(module_views(&ctx.app, ctx.lang, t)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SwitchResult {
    pub id: String,
    pub state: State,
    /// Set when the enterprise type requires the module just switched off.
    pub warning: Option<serde_json::Value>,
}

/// Switches a module on (`enable`) or off (`disable`). A disabled module's pages and API
/// answer 404 and leave the menu; its data stays. Switching off a module the enterprise
/// type requires is allowed and returns a compliance warning.
#[utoipa::path(tag = "modules", params(
    ("id" = String, Path, description = "Module id, e.g. safety"),
    ("action" = String, Path, description = "enable or disable")), responses(
    (status = 200, description = "Switched", body = SwitchResult),
    (status = 404, description = "Not installed in this build")), security(("bearer" = ["admin:write"])))]
#[post("/api/v1/modules/{id}/{action}")]
async fn api_module_switch(
    ctx: Need<grant::admin::Write>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let on = switch(&ctx.app, &id, &action)?;
    let mid = id.clone();
    let warning = ctx
        .write(move |app, actor| app.registry.set_enabled(&app.store, actor, &mid, on))
        .await?;
    Ok(HttpResponse::Ok().json(SwitchResult {
        state: ctx.app.registry.state(&ctx.app, &id),
        id,
        warning: warning.map(|w| {
            serde_json::json!({ "code": crate::error::code_of(w.key), "message": w.render(ctx.lang) })
        }),
    }))
}

/// Who reads the compliance report: admins, and auditors (who may not change anything).
type Auditors = Either<grant::admin::Read, grant::audit::Read>;

/// The compliance self-assessment (达标自评) for the enterprise type in the profile.
#[utoipa::path(tag = "modules", responses((status = 200, description = "Report", body = ComplianceReport)), security(("bearer" = ["admin:read"]), ("bearer" = ["audit:read"])))]
#[get("/api/v1/compliance")]
async fn api_compliance(ctx: Need<Auditors>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(compliance(&ctx.app, ctx.lang)?))
}
