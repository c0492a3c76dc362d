//! Pages and API of dual prevention: hidden dangers (report from a phone with photos,
//! assign, rectify, accept), the risk register with its inspection tasks, and the
//! inspections people do.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::Deserialize;

use super::model::{Cycle, Hazard, HazardLevel, Inspection, Risk, Source, Task};
use super::service::{self as hs, HazardAction, HazardInput, Person, Stats};
use crate::auth::model::Level;
use crate::error::Error;
use crate::modules::safety::permits::model::Duty;
use crate::util::now_ms;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const M: &str = "safety";
/// Photos per report, and their total size.
const MAX_PHOTOS: usize = 6;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(hazards_page)
        .service(report_submit)
        .service(hazard_page)
        .service(hazard_act)
        .service(hazard_photo_submit)
        .service(hazard_photo)
        .service(risks_page)
        .service(risk_submit)
        .service(task_submit)
        .service(inspections_page)
        .service(inspection_submit)
        .service(api_hazards)
        .service(api_report)
        .service(api_hazard)
        .service(api_hazard_act)
        .service(api_stats)
        .service(api_risks)
        .service(api_risk_create)
        .service(api_tasks)
        .service(api_task_create)
        .service(api_inspections)
        .service(api_inspection_record);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_hazards,
    api_report,
    api_hazard,
    api_hazard_act,
    api_stats,
    api_risks,
    api_risk_create,
    api_tasks,
    api_task_create,
    api_inspections,
    api_inspection_record
))]
pub struct Doc;

/// The signed-in person: managers hold safety approve or the safety department duty.
fn person(ctx: &Need<grant::Person<grant::safety::Read>>) -> Result<Person, AppError> {
    let s = crate::modules::safety::permits::routes::signer(ctx)?;
    Ok(Person {
        manages: ctx.who.can(M, Level::Approve) || s.has(Duty::SafetyDept),
        writes: s.can_write,
        user_id: s.user_id,
        username: s.username,
        name: s.name,
    })
}

fn today(ctx: &Ctx) -> time::Date {
    crate::plant_time::today(ctx.app.offset)
}

fn users_json(ctx: &Ctx) -> Result<Vec<serde_json::Value>, AppError> {
    Ok(crate::auth::service::users(&ctx.app.store.read()?)?
        .into_iter()
        .filter(|u| u.enabled)
        .map(|u| serde_json::json!({"id": u.id, "name": u.display_name}))
        .collect())
}

// ------------------------------------------------------------------ hidden dangers

#[derive(Deserialize, Default)]
struct HazardQuery {
    #[serde(default)]
    state: Option<String>,
}

fn list_ctx(
    ctx: &Ctx,
    state: Option<&str>,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let list = hs::hazards(&r, state, today(ctx))?;
    let stats = hs::stats(&r, today(ctx), now_ms(), ctx.app.offset)?;
    let risks = hs::risks(&r)?;
    drop(r);
    let t = today(ctx);
    let view: Vec<serde_json::Value> = list
        .iter()
        .map(|h| {
            let mut v = serde_json::to_value(h).unwrap_or_default();
            v["overdue"] = hs::overdue(h, t).into();
            v["state_id"] = h.state.id().into();
            v
        })
        .collect();
    Ok(context! {
        hazards => to_value(&view),
        stats => to_value(&stats),
        state => state.unwrap_or(""),
        sources => Source::ALL.iter().map(|s| s.id()).collect::<Vec<_>>(),
        risks => to_value(&risks.iter().map(|r| serde_json::json!({"id": r.id, "label": format!("{} / {} / {}", r.object, r.unit, r.event)})).collect::<Vec<_>>()),
        values => to_value(&values),
        max_photos => MAX_PHOTOS,
    })
}

#[get("/safety/hazards")]
async fn hazards_page(
    ctx: Need<grant::safety::Read>,
    q: web::Query<HazardQuery>,
) -> Result<HttpResponse, AppError> {
    let c = list_ctx(
        &ctx,
        q.state.as_deref(),
        serde_json::json!({"level": "general", "source": "daily"}),
    )?;
    ctx.page("safety/hazards.html", c)
}

fn input_of(f: &FormData) -> Result<HazardInput, Error> {
    Ok(HazardInput {
        title: f.get("title").into(),
        description: f.get("description").into(),
        location: f.get("location").into(),
        level: if f.get("level") == "major" {
            HazardLevel::Major
        } else {
            HazardLevel::General
        },
        source: Source::parse(f.get("source")).unwrap_or(Source::Other),
        risk: f.opt("risk")?,
    })
}

/// Multipart: the report's fields and up to six `photo` files.
#[post("/safety/hazards")]
async fn report_submit(
    ctx: Need<grant::Person<grant::safety::Read>>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    let p = person(&ctx)?;
    let max = crate::modules::safety::archive::service::MAX_FILE_BYTES;
    let (f, files) = crate::web::form::read_multipart(mp, max, max * MAX_PHOTOS).await?;
    let photos: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter(|(field, ..)| field == "photo")
        .take(MAX_PHOTOS)
        .map(|(_, n, b)| (n, b))
        .collect();
    let (app, off) = (ctx.app.clone(), ctx.app.offset);
    let r = async {
        let input = input_of(&f)?;
        blocking(move || hs::report(&app.store, &p, input, photos, now_ms(), off)).await
    }
    .await;
    ctx.done(
        r.map(|h| format!("/safety/hazards/{}", h.id)),
        "flash.reported",
        "safety/hazards.html",
        || list_ctx(&ctx, None, f.echo()),
    )
}

fn detail_ctx(
    ctx: &Need<grant::Person<grant::safety::Read>>,
    h: &Hazard,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let p = person(ctx).ok();
    let risk = h
        .risk
        .and_then(|r| hs::risk(&ctx.app.store.read().ok()?, r).ok());
    Ok(context! {
        hazard => to_value(h),
        state_id => h.state.id(),
        overdue => hs::overdue(h, today(ctx)),
        risk => risk.map(|r| to_value(&r)),
        manages => p.as_ref().is_some_and(|p| p.manages),
        is_assignee => p.as_ref().is_some_and(|p| h.assignee == Some(p.user_id) || p.writes),
        users => to_value(&users_json(ctx)?),
        values => to_value(&values),
        today => crate::plant_time::format_day(today(ctx)),
    })
}

#[get("/safety/hazards/{id}")]
async fn hazard_page(
    ctx: Need<grant::Person<grant::safety::Read>>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let h = hs::hazard(&ctx.app.store.read()?, *id)?;
    let c = detail_ctx(&ctx, &h, serde_json::json!({}))?;
    ctx.page("safety/hazard.html", c)
}

fn action_of(f: &FormData) -> Result<HazardAction, Error> {
    let note = f.get("note").to_string();
    Ok(match f.get("action") {
        "assign" => HazardAction::Assign {
            assignee: f.opt("assignee")?.unwrap_or(0),
            deadline: f.get("deadline").into(),
            measures: f.get("measures").into(),
        },
        "rectify" => HazardAction::Rectify { note },
        "accept" => HazardAction::Accept { note },
        _ => HazardAction::Reject { note },
    })
}

#[post("/safety/hazards/{id}/act")]
async fn hazard_act(
    ctx: Need<grant::Person<grant::safety::Read>>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let p = person(&ctx)?;
    let f = FormData::from(form);
    let (app, hid, day) = (ctx.app.clone(), *id, today(&ctx));
    let r = async {
        let a = action_of(&f)?;
        blocking(move || hs::act(&app.store, &p, hid, a, now_ms(), day)).await
    }
    .await;
    match r {
        Ok(_) => Ok(redirect_with(
            &format!("/safety/hazards/{hid}"),
            Some("flash.signed"),
        )),
        Err(e) => {
            let h = hs::hazard(&ctx.app.store.read()?, hid)?;
            let c = detail_ctx(&ctx, &h, f.echo())?;
            if e.status == actix_web::http::StatusCode::FORBIDDEN {
                let c = context! { error => e.msg.render(ctx.lang), ..c };
                return ctx.page_status(e.status, "safety/hazard.html", c);
            }
            ctx.form_error("safety/hazard.html", c, e)
        }
    }
}

/// Multipart: `photo` files; `after=1` for photos of the rectified state.
#[post("/safety/hazards/{id}/photos")]
async fn hazard_photo_submit(
    ctx: Need<grant::Person<grant::safety::Read>>,
    id: web::Path<u64>,
    mp: Multipart,
) -> Result<HttpResponse, AppError> {
    let p = person(&ctx)?;
    let max = crate::modules::safety::archive::service::MAX_FILE_BYTES;
    let (f, files) = crate::web::form::read_multipart(mp, max, max * MAX_PHOTOS).await?;
    let after = f.get("after") == "1";
    let (app, hid) = (ctx.app.clone(), *id);
    let files: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .take(MAX_PHOTOS)
        .map(|(_, n, b)| (n, b))
        .collect();
    let r =
        blocking(move || hs::add_photos(&app.store, &p, hid, after, files, now_ms()).map(|_| ()))
            .await;
    match r {
        Ok(()) => Ok(redirect_with(
            &format!("/safety/hazards/{hid}"),
            Some("flash.uploaded"),
        )),
        Err(e) => {
            let h = hs::hazard(&ctx.app.store.read()?, hid)?;
            let c = detail_ctx(&ctx, &h, serde_json::json!({}))?;
            ctx.form_error("safety/hazard.html", c, e)
        }
    }
}

#[get("/safety/hazards/{id}/photos/{file}")]
async fn hazard_photo(
    ctx: Need<grant::safety::Read>,
    path: web::Path<(u64, u64)>,
) -> Result<HttpResponse, AppError> {
    let (meta, bytes) = hs::photo(&ctx.app.store.read()?, path.0, path.1)?;
    Ok(HttpResponse::Ok()
        .content_type(meta.content_type)
        .insert_header(("cache-control", "private, max-age=3600"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(bytes))
}

// ------------------------------------------------------------------ risks and tasks

fn risks_ctx(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let (risks, tasks) = (hs::risks(&r)?, hs::tasks(&r)?);
    drop(r);
    let view: Vec<serde_json::Value> = risks
        .iter()
        .map(|x| {
            let mut v = serde_json::to_value(x).unwrap_or_default();
            v["d"] = x.d().into();
            v["level"] = serde_json::to_value(x.level()).unwrap_or_default();
            v["colour"] = x.level().colour().into();
            v
        })
        .collect();
    Ok(context! {
        risks => to_value(&view),
        tasks => to_value(&tasks),
        users => to_value(&users_json(ctx)?),
        values => to_value(&values),
        can_configure => ctx.who.can(M, Level::Approve),
        now_local => crate::plant_time::format_minute(now_ms(), ctx.app.offset).replace(' ', "T"),
    })
}

#[get("/safety/risks")]
async fn risks_page(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    let c = risks_ctx(
        &ctx,
        serde_json::json!({"l": "1", "e": "1", "c": "1", "every": "1"}),
    )?;
    ctx.page("safety/risks.html", c)
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[post("/safety/risks")]
async fn risk_submit(
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let parsed = (|| -> Result<Risk, Error> {
        Ok(Risk {
            id: 0,
            object: f.get("object").into(),
            unit: f.get("unit").into(),
            event: f.get("event").into(),
            measures: lines(f.get("measures")),
            l: f.opt("l")?.unwrap_or(0.0),
            e: f.opt("e")?.unwrap_or(0.0),
            c: f.opt("c")?.unwrap_or(0.0),
            owner: f.get("owner").into(),
        })
    })();
    let r = async {
        let x = parsed?;
        ctx.write(move |app, actor| hs::save_risk(&app.store, actor, x))
            .await
    }
    .await;
    ctx.done(
        r.map(|_| "/safety/risks".to_string()),
        "flash.saved",
        "safety/risks.html",
        || risks_ctx(&ctx, f.echo()),
    )
}

#[post("/safety/risks/tasks")]
async fn task_submit(
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let off = ctx.app.offset;
    let parsed = (|| -> Result<Task, Error> {
        Ok(Task {
            id: 0,
            risk: f.opt("risk")?.unwrap_or(0),
            name: f.get("name").into(),
            cycle: Cycle::parse(f.get("cycle")).unwrap_or(Cycle::Day),
            every: f.opt("every")?.unwrap_or(1),
            assignee: f.opt("assignee")?.unwrap_or(0),
            items: lines(f.get("items")),
            next_due_ms: crate::plant_time::parse_local(f.get("first_due"), off)
                .unwrap_or_else(now_ms),
        })
    })();
    let r = async {
        let t = parsed?;
        ctx.write(move |app, actor| {
            hs::save_task(&app.store, actor, t)?;
            hs::generate_inspections(&app.store, now_ms()).map(|_| ())
        })
        .await
    }
    .await;
    match r {
        Ok(()) => Ok(redirect_with("/safety/risks#tasks", Some("flash.saved"))),
        Err(e) => {
            let c = risks_ctx(&ctx, f.echo())?;
            ctx.form_error("safety/risks.html", c, e)
        }
    }
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
struct InspectionQuery {
    /// Everyone's (managers), not only the caller's.
    #[serde(default)]
    all: Option<bool>,
    /// Only those not done yet.
    #[serde(default)]
    pending: Option<bool>,
}

fn inspections_for(
    ctx: &Need<grant::Person<grant::safety::Read>>,
    q: &InspectionQuery,
) -> Result<Vec<Inspection>, AppError> {
    let p = person(ctx)?;
    let mine = !(q.all.unwrap_or(false) && p.manages);
    Ok(hs::inspections(
        &ctx.app.store.read()?,
        mine.then_some(p.user_id),
        q.pending.unwrap_or(false),
    )?)
}

#[get("/safety/inspections")]
async fn inspections_page(
    ctx: Need<grant::Person<grant::safety::Read>>,
    q: web::Query<InspectionQuery>,
) -> Result<HttpResponse, AppError> {
    let list = inspections_for(&ctx, &q)?;
    ctx.page(
        "safety/inspections.html",
        context! { inspections => to_value(&list.iter().take(200).collect::<Vec<_>>()), all => q.all.unwrap_or(false) },
    )
}

#[post("/safety/inspections/{id}")]
async fn inspection_submit(
    ctx: Need<grant::Person<grant::safety::Read>>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let p = person(&ctx)?;
    let f = FormData::from(form);
    let iid = *id;
    let n = hs::inspection(&ctx.app.store.read()?, iid)?.items.len();
    let results: Vec<(bool, String)> = (0..n)
        .map(|i| {
            (
                f.get(&format!("ok_{i}")) != "0",
                f.get(&format!("note_{i}")).to_string(),
            )
        })
        .collect();
    let (app, off) = (ctx.app.clone(), ctx.app.offset);
    match blocking(move || hs::record_inspection(&app.store, &p, iid, results, now_ms(), off)).await
    {
        Ok(i) if !i.hazards.is_empty() => Ok(redirect_with(
            "/safety/hazards?state=reported",
            Some("flash.reported"),
        )),
        Ok(_) => Ok(redirect_with("/safety/inspections", Some("flash.saved"))),
        Err(e) => {
            let list = inspections_for(&ctx, &InspectionQuery::default())?;
            let c = context! { inspections => to_value(&list), all => false, failed => iid };
            ctx.form_error("safety/inspections.html", c, e)
        }
    }
}

// ------------------------------------------------------------------ API

#[derive(Deserialize, utoipa::IntoParams)]
struct StateQuery {
    /// A state id, `open` or `overdue`.
    #[serde(default)]
    state: Option<String>,
}

/// Hidden dangers, newest first.
#[utoipa::path(tag = "safety", params(StateQuery), responses((status = 200, description = "Hidden dangers", body = Vec<Hazard>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/hazards")]
async fn api_hazards(
    ctx: Need<grant::safety::Read>,
    q: web::Query<StateQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(hs::hazards(
        &ctx.app.store.read()?,
        q.state.as_deref(),
        today(&ctx),
    )?))
}

/// Reports a hidden danger (photos are added with the page's upload).
#[utoipa::path(tag = "safety", request_body = HazardInput, responses(
    (status = 201, description = "Reported", body = Hazard), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["safety:read"])))]
#[post("/api/v1/safety/hazards")]
async fn api_report(
    ctx: Need<grant::Person<grant::safety::Read>>,
    body: web::Json<HazardInput>,
) -> Result<HttpResponse, AppError> {
    let p = person(&ctx)?;
    let (app, off, input) = (ctx.app.clone(), ctx.app.offset, body.into_inner());
    let h = blocking(move || hs::report(&app.store, &p, input, Vec::new(), now_ms(), off)).await?;
    Ok(HttpResponse::Created().json(h))
}

/// One hidden danger with its history.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Hazard id")), responses(
    (status = 200, description = "The hidden danger", body = Hazard), (status = 404, description = "No such hidden danger")), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/hazards/{id}")]
async fn api_hazard(
    ctx: Need<grant::safety::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(hs::hazard(&ctx.app.store.read()?, *id)?))
}

/// A step of the workflow: assign, rectify, accept or reject.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Hazard id")), request_body = HazardAction, responses(
    (status = 200, description = "Done", body = Hazard), (status = 403, description = "Not the manager or the assignee"),
    (status = 409, description = "Not possible in this state"), (status = 422, description = "A rule refuses it")), security(("bearer" = ["safety:read"])))]
#[post("/api/v1/safety/hazards/{id}/actions")]
async fn api_hazard_act(
    ctx: Need<grant::Person<grant::safety::Read>>,
    id: web::Path<u64>,
    body: web::Json<HazardAction>,
) -> Result<HttpResponse, AppError> {
    let p = person(&ctx)?;
    let (app, hid, day, a) = (ctx.app.clone(), *id, today(&ctx), body.into_inner());
    let h = blocking(move || hs::act(&app.store, &p, hid, a, now_ms(), day)).await?;
    Ok(HttpResponse::Ok().json(h))
}

/// Statistics of hidden dangers, inspections and risks.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Figures", body = Stats)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/hazard-stats")]
async fn api_stats(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(hs::stats(
        &ctx.app.store.read()?,
        today(&ctx),
        now_ms(),
        ctx.app.offset,
    )?))
}

/// The risk register.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Risks", body = Vec<Risk>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/risks")]
async fn api_risks(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(hs::risks(&ctx.app.store.read()?)?))
}

/// Adds (id 0) or changes a risk.
#[utoipa::path(tag = "safety", request_body = Risk, responses(
    (status = 200, description = "Saved", body = Risk), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["safety:approve"])))]
#[post("/api/v1/safety/risks")]
async fn api_risk_create(
    ctx: Need<grant::safety::Approve>,
    body: web::Json<Risk>,
) -> Result<HttpResponse, AppError> {
    let x = body.into_inner();
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| hs::save_risk(&app.store, actor, x))
            .await?,
    ))
}

/// Inspection tasks.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Tasks", body = Vec<Task>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/tasks")]
async fn api_tasks(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(hs::tasks(&ctx.app.store.read()?)?))
}

/// Adds (id 0) or changes an inspection task; due inspections are generated at once.
#[utoipa::path(tag = "safety", request_body = Task, responses(
    (status = 200, description = "Saved", body = Task), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["safety:approve"])))]
#[post("/api/v1/safety/tasks")]
async fn api_task_create(
    ctx: Need<grant::safety::Approve>,
    body: web::Json<Task>,
) -> Result<HttpResponse, AppError> {
    let t = body.into_inner();
    let t = ctx
        .write(move |app, actor| {
            let t = hs::save_task(&app.store, actor, t)?;
            hs::generate_inspections(&app.store, now_ms())?;
            Ok(t)
        })
        .await?;
    Ok(HttpResponse::Ok().json(t))
}

/// The caller's inspections (managers: everyone's with `all=true`).
#[utoipa::path(tag = "safety", params(InspectionQuery), responses((status = 200, description = "Inspections", body = Vec<Inspection>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/inspections")]
async fn api_inspections(
    ctx: Need<grant::Person<grant::safety::Read>>,
    q: web::Query<InspectionQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(inspections_for(&ctx, &q)?))
}

/// An inspection's results, one per item (`ok`, `note`; a failed item needs a note and
/// becomes a reported hidden danger).
#[derive(Deserialize, utoipa::ToSchema)]
struct Results {
    results: Vec<ItemIn>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ItemIn {
    ok: bool,
    #[serde(default)]
    note: String,
}

/// Records an inspection.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Inspection id")), request_body = Results, responses(
    (status = 200, description = "Recorded", body = Inspection), (status = 403, description = "Not the assignee"),
    (status = 409, description = "Already done"), (status = 422, description = "Items missing, or a failed item without a note")), security(("bearer" = ["safety:read"])))]
#[post("/api/v1/safety/inspections/{id}")]
async fn api_inspection_record(
    ctx: Need<grant::Person<grant::safety::Read>>,
    id: web::Path<u64>,
    body: web::Json<Results>,
) -> Result<HttpResponse, AppError> {
    let p = person(&ctx)?;
    let results = body
        .into_inner()
        .results
        .into_iter()
        .map(|r| (r.ok, r.note))
        .collect();
    let (app, off, iid) = (ctx.app.clone(), ctx.app.offset, *id);
    let i = blocking(move || hs::record_inspection(&app.store, &p, iid, results, now_ms(), off))
        .await?;
    Ok(HttpResponse::Ok().json(i))
}
