//! Enterprise profile and departments: pages under `/admin/profile`, API under `/api/v1`.

use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::model::{Contact, Department, EnterpriseType, INDUSTRIES, Profile};
use super::service as svc;
use crate::auth::model::Level;
use crate::i18n::{self, Lang};
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(profile_page)
        .service(profile_submit)
        .service(department_create)
        .service(department_update)
        .service(department_delete)
        .service(api_profile)
        .service(api_profile_update)
        .service(api_departments)
        .service(api_department_create)
        .service(api_department_update)
        .service(api_department_delete)
        .service(api_industries);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_profile,
    api_profile_update,
    api_departments,
    api_department_create,
    api_department_update,
    api_department_delete,
    api_industries
))]
pub struct Doc;

/// Rows of the contacts table on the form: the saved ones plus two blank rows.
const CONTACT_ROWS_EXTRA: usize = 2;

fn profile_ctx(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let zh = ctx.lang == Lang::ZhCn;
    let industries: Vec<serde_json::Value> = INDUSTRIES
        .iter()
        .map(|(c, z, e)| serde_json::json!({ "code": c, "name": if zh { z } else { e } }))
        .collect();
    let types: Vec<serde_json::Value> = EnterpriseType::ALL
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id(),
                "name": i18n::t(ctx.lang, t.name_key()),
                "min_investment_wan": t.min_investment_wan(),
            })
        })
        .collect();
    let departments = svc::departments(&r)?;
    let members: Vec<usize> = departments
        .iter()
        .map(|d| crate::auth::service::users_in_department(&r, d.id).unwrap_or(0))
        .collect();
    Ok(context! {
        values => to_value(&values),
        industries => to_value(&industries),
        types => to_value(&types),
        departments => to_value(&departments),
        members => to_value(&members),
        can_write => ctx.who.can("admin", Level::Write),
    })
}

/// The form's values for a saved profile (strings, as the inputs hold them).
fn profile_values(p: &Profile) -> serde_json::Value {
    let mut v = serde_json::to_value(p).unwrap_or_default();
    let opt = |x: Option<f64>| x.map(|n| n.to_string()).unwrap_or_default();
    v["enterprise_type"] = p.enterprise_type.map(|t| t.id()).unwrap_or("").into();
    v["output_value_wan"] = opt(p.output_value_wan).into();
    v["area_mu"] = opt(p.area_mu).into();
    v["employees"] = p
        .employees
        .map(|n| n.to_string())
        .unwrap_or_default()
        .into();
    let mut contacts = p.contacts.clone();
    contacts.extend(std::iter::repeat_n(Contact::default(), CONTACT_ROWS_EXTRA));
    v["contacts"] = serde_json::to_value(contacts).unwrap_or_default();
    v
}

#[get("/admin/profile")]
async fn profile_page(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let p = svc::profile(&ctx.app.store.read()?)?;
    let c = profile_ctx(&ctx, profile_values(&p))?;
    ctx.page("admin/profile.html", c)
}

/// The rows of the contacts table, as typed.
fn contacts_from_form(f: &FormData) -> Vec<Contact> {
    let roles = f.all("contact_role");
    let phones = f.all("contact_phone");
    f.all("contact_name")
        .into_iter()
        .enumerate()
        .map(|(i, name)| Contact {
            name,
            role: roles.get(i).cloned().unwrap_or_default(),
            phone: phones.get(i).cloned().unwrap_or_default(),
        })
        .collect()
}

fn profile_from_form(f: &FormData) -> crate::error::Result<Profile> {
    let contacts = contacts_from_form(f);
    Ok(Profile {
        company_name: f.get("company_name").into(),
        credit_code: f.get("credit_code").into(),
        industry: f.get("industry").into(),
        industry_note: f.get("industry_note").into(),
        address: f.get("address").into(),
        legal_rep: f.get("legal_rep").into(),
        legal_rep_phone: f.get("legal_rep_phone").into(),
        it_lead: f.get("it_lead").into(),
        it_lead_phone: f.get("it_lead_phone").into(),
        contacts,
        main_products: f.get("main_products").into(),
        process_flow: f.get("process_flow").into(),
        enterprise_type: EnterpriseType::parse(f.get("enterprise_type")),
        output_value_wan: f.opt("output_value_wan")?,
        employees: f.opt("employees")?,
        area_mu: f.opt("area_mu")?,
        updated_ms: 0,
    })
}

#[post("/admin/profile")]
async fn profile_submit(
    ctx: Need<grant::admin::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let result = async {
        let p = profile_from_form(&f)?;
        ctx.write(move |app, actor| svc::save_profile(&app.store, actor, p))
            .await
    }
    .await;
    ctx.done(
        result.map(|_| "/admin/profile".to_string()),
        "flash.saved",
        "admin/profile.html",
        || {
            // refill the form with what was typed, contacts included
            let mut v = f.echo();
            v["contacts"] = serde_json::to_value(contacts_from_form(&f)).unwrap_or_default();
            let c = profile_ctx(&ctx, v)?;
            Ok(c)
        },
    )
}

async fn department_form_result(
    ctx: &Ctx,
    result: Result<(), AppError>,
) -> Result<HttpResponse, AppError> {
    match result {
        Ok(()) => Ok(redirect_with(
            "/admin/profile#departments",
            Some("flash.saved"),
        )),
        Err(e) => {
            let p = svc::profile(&ctx.app.store.read()?)?;
            let c = profile_ctx(ctx, profile_values(&p))?;
            ctx.form_error("admin/profile.html", c, e)
        }
    }
}

#[post("/admin/departments")]
async fn department_create(
    ctx: Need<grant::admin::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let (name, head) = (f.get("name").to_string(), f.get("head").to_string());
    let r = ctx
        .write(move |app, actor| {
            svc::create_department(&app.store, actor, &name, &head).map(|_| ())
        })
        .await;
    department_form_result(&ctx, r).await
}

#[post("/admin/departments/{id}")]
async fn department_update(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let did = *id;
    let (name, head) = (f.get("name").to_string(), f.get("head").to_string());
    let r = ctx
        .write(move |app, actor| {
            svc::update_department(&app.store, actor, did, &name, &head).map(|_| ())
        })
        .await;
    department_form_result(&ctx, r).await
}

fn delete_dep(
    app: &crate::app::App,
    actor: &crate::store::Actor,
    id: u64,
) -> crate::error::Result<()> {
    let members = crate::auth::service::users_in_department(&app.store.read()?, id)?;
    svc::delete_department(&app.store, actor, id, members)
}

#[post("/admin/departments/{id}/delete")]
async fn department_delete(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let did = *id;
    let r = ctx
        .write(move |app, actor| delete_dep(app, actor, did))
        .await;
    department_form_result(&ctx, r).await
}

/// The enterprise profile (企业基本情况).
#[utoipa::path(tag = "profile", responses((status = 200, description = "The profile", body = Profile)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/profile")]
async fn api_profile(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::profile(&ctx.app.store.read()?)?))
}

/// Replaces the profile. `credit_code` must be a valid 统一社会信用代码 (check character
/// included); `enterprise_type` one of `in_park`, `new_entrant`, `relocated`, `outside_park`.
#[utoipa::path(tag = "profile", request_body = Profile, responses(
    (status = 200, description = "Saved", body = Profile),
    (status = 422, description = "A field breaks a rule; `error.field` names it")), security(("bearer" = ["admin:write"])))]
#[put("/api/v1/profile")]
async fn api_profile_update(
    ctx: Need<grant::admin::Write>,
    body: web::Json<Profile>,
) -> Result<HttpResponse, AppError> {
    let p = body.into_inner();
    let p = ctx
        .write(move |app, actor| svc::save_profile(&app.store, actor, p))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// All departments.
#[utoipa::path(tag = "profile", responses((status = 200, description = "Departments", body = Vec<Department>)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/departments")]
async fn api_departments(ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(svc::departments(&ctx.app.store.read()?)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DepartmentInput {
    pub name: String,
    #[serde(default)]
    pub head: String,
}

/// Creates a department.
#[utoipa::path(tag = "profile", request_body = DepartmentInput, responses(
    (status = 201, description = "Created", body = Department),
    (status = 422, description = "Name missing or taken")), security(("bearer" = ["admin:write"])))]
#[post("/api/v1/departments")]
async fn api_department_create(
    ctx: Need<grant::admin::Write>,
    body: web::Json<DepartmentInput>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let d = ctx
        .write(move |app, actor| svc::create_department(&app.store, actor, &b.name, &b.head))
        .await?;
    Ok(HttpResponse::Created().json(d))
}

/// Renames a department or changes its head.
#[utoipa::path(tag = "profile", params(("id" = u64, Path, description = "Department id")), request_body = DepartmentInput, responses(
    (status = 200, description = "Updated", body = Department),
    (status = 404, description = "No such department")), security(("bearer" = ["admin:write"])))]
#[put("/api/v1/departments/{id}")]
async fn api_department_update(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
    body: web::Json<DepartmentInput>,
) -> Result<HttpResponse, AppError> {
    let (did, b) = (*id, body.into_inner());
    let d = ctx
        .write(move |app, actor| svc::update_department(&app.store, actor, did, &b.name, &b.head))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Deletes a department nobody belongs to.
#[utoipa::path(tag = "profile", params(("id" = u64, Path, description = "Department id")), responses(
    (status = 204, description = "Deleted"),
    (status = 409, description = "Users still belong to it")), security(("bearer" = ["admin:write"])))]
#[delete("/api/v1/departments/{id}")]
async fn api_department_delete(
    ctx: Need<grant::admin::Write>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let did = *id;
    ctx.write(move |app, actor| delete_dep(app, actor, did))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Industry {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
}

/// The industry subcategories (GB/T 4754-2017) the profile accepts.
#[utoipa::path(tag = "profile", responses((status = 200, description = "Industries", body = Vec<Industry>)), security(("bearer" = ["admin:read"])))]
#[get("/api/v1/industries")]
async fn api_industries(_ctx: Need<grant::admin::Read>) -> Result<HttpResponse, AppError> {
    let v: Vec<Industry> = INDUSTRIES
        .iter()
        .map(|(code, name_zh, name_en)| Industry {
            code,
            name_zh,
            name_en,
        })
        .collect();
    Ok(HttpResponse::Ok().json(v))
}
