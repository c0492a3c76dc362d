//! 点检 on the web: the routes with their next round due, the round a phone walks (grouped
//! by machine, a tap for a look, a number for a reading), a round's record with the work
//! orders its findings opened; the JSON API beside them. Routes are set by whoever holds
//! the approve level (the maintenance department); rounds are walked at the write level.

use actix_web::{HttpResponse, get, post, put, web};
use minijinja::context;
use serde::Serialize;
use serde_json::{Value, json};

use super::model::{Answer, CheckKind, CheckPoint, InspectionRoute, Round};
use super::service::{self as svc, inspection as insp};
use crate::auth::model::Level;
use crate::error::{Error, Result};
use crate::i18n::Msg;
use crate::web::context::{Ctx, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const M: &str = "equipment";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(routes_page)
        .service(route_submit)
        .service(round_page)
        .service(round_submit)
        .service(record_page)
        .service(api_routes)
        .service(api_route_create)
        .service(api_route_update)
        .service(api_rounds)
        .service(api_round_create)
        .service(api_round);
}

// ------------------------------------------------------------------ checkpoints as text

/// Checkpoints one a line: `位号 | item` for a look, `位号 | item | unit | low | high` for a
/// reading (a bound may be left empty).
fn parse_points(r: &impl crate::store::Reader, s: &str) -> Result<Vec<CheckPoint>> {
    let mut out = Vec::new();
    for (i, line) in s.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = || {
            Error::invalid_msg(
                "points",
                Msg::new("equipment.err.point_line").arg("line", i + 1),
            )
        };
        let parts: Vec<&str> = line.split(['|', '｜']).map(str::trim).collect();
        if parts.len() < 2 {
            return Err(bad());
        }
        let e = svc::by_tag_no(r, parts[0])?.ok_or_else(|| {
            Error::invalid_msg(
                "points",
                Msg::new("equipment.err.point_tag_no")
                    .arg("line", i + 1)
                    .arg("tag_no", parts[0]),
            )
        })?;
        let bound = |x: Option<&&str>| -> Result<Option<f64>> {
            match x.copied().unwrap_or("") {
                "" => Ok(None),
                v => v.parse().map(Some).map_err(|_| bad()),
            }
        };
        // two fields or five: a four-field line would leave it unsaid which end is meant
        let check = match parts.len() {
            2 => CheckKind::Look,
            5 => CheckKind::Reading {
                unit: parts[2].to_string(),
                lo: bound(parts.get(3))?,
                hi: bound(parts.get(4))?,
            },
            _ => return Err(bad()),
        };
        out.push(CheckPoint {
            equipment: e.id,
            item: parts[1].to_string(),
            check,
        });
    }
    Ok(out)
}

fn points_text(r: &impl crate::store::Reader, points: &[CheckPoint]) -> Result<String> {
    let mut out = Vec::with_capacity(points.len());
    for p in points {
        let tag_no = svc::equipment(r, p.equipment)?.tag_no;
        out.push(match &p.check {
            CheckKind::Look => format!("{tag_no} | {}", p.item),
            CheckKind::Reading { unit, lo, hi } => {
                let n = |x: &Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
                format!("{tag_no} | {} | {unit} | {} | {}", p.item, n(lo), n(hi))
            }
        });
    }
    Ok(out.join("\n"))
}

// ------------------------------------------------------------------ pages

/// A route as the list shows it: when its next round is due and whether that has passed.
#[derive(Serialize, utoipa::ToSchema)]
struct RouteView {
    #[serde(flatten)]
    route: InspectionRoute,
    due_ms: i64,
    late: bool,
}

fn view(rt: InspectionRoute, now_ms: i64) -> RouteView {
    let due_ms = insp::due_ms(&rt);
    RouteView {
        late: rt.active && due_ms < now_ms,
        due_ms,
        route: rt,
    }
}

fn routes_data(ctx: &Ctx, values: Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let now = crate::util::now_ms();
    let routes: Vec<RouteView> = insp::routes(&r)?
        .into_iter()
        .map(|rt| view(rt, now))
        .collect();
    Ok(context! {
        routes => to_value(&routes),
        rounds => to_value(&insp::recent_rounds(&r, 20)?),
        departments => to_value(&crate::org::service::departments(&r)?),
        values => to_value(&values),
        can_walk => ctx.who.can(M, Level::Write),
        can_plan => ctx.who.can(M, Level::Approve),
    })
}

/// 点检: the routes, their next rounds, the latest rounds; the route form for planners.
#[get("/equipment/rounds")]
async fn routes_page(
    ctx: Need<grant::equipment::Read>,
    q: web::Query<super::pages::EditQuery>,
) -> Result<HttpResponse, AppError> {
    let values = match q.edit {
        Some(id) => {
            let r = ctx.app.store.read()?;
            let rt = insp::route(&r, id)?;
            json!({
                "id": rt.id.to_string(), "name": rt.name, "every_hours": rt.every_hours.to_string(),
                "department": rt.department.map(|d| d.to_string()).unwrap_or_default(),
                "points": points_text(&r, &rt.points)?, "active": rt.active,
            })
        }
        None => json!({"every_hours": "8", "active": true}),
    };
    ctx.page("equipment/rounds.html", routes_data(&ctx, values)?)
}

#[post("/equipment/rounds")]
async fn route_submit(
    ctx: Need<grant::equipment::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let points = parse_points(&ctx.app.store.read()?, f.get("points"))?;
        let rt = InspectionRoute {
            id: f.opt("id")?.unwrap_or(0),
            name: f.get("name").into(),
            department: f.opt("department")?,
            every_hours: f
                .opt("every_hours")?
                .ok_or_else(|| Error::invalid("every_hours", "equipment.err.every_hours"))?,
            points,
            active: f.checked("active"),
            made_ms: 0,
            rev: 0,
            last_round_ms: None,
        };
        ctx.write(move |app, actor| insp::save_route(&app.store, actor, rt, crate::util::now_ms()))
            .await
            .map(|_| "/equipment/rounds".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "equipment/rounds.html", || {
        routes_data(&ctx, f.echo())
    })
}

/// A route's checkpoints grouped by machine, in the route's order, each with its index.
fn round_data(ctx: &Ctx, id: u64, values: Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let rt = insp::route(&r, id)?;
    if !rt.active {
        return Err(Error::Conflict(Msg::new("equipment.err.route_inactive")).into());
    }
    let mut groups: Vec<Value> = Vec::new();
    for (i, p) in rt.points.iter().enumerate() {
        let point = json!({"i": i, "item": p.item, "check": p.check});
        match groups.last_mut() {
            Some(g) if g["equipment"]["id"] == p.equipment => {
                g["points"].as_array_mut().expect("points").push(point);
            }
            _ => {
                let e = svc::equipment(&r, p.equipment)?;
                groups.push(json!({
                    "equipment": {"id": e.id, "tag_no": e.tag_no, "name": e.name, "location": e.location,
                        "running": e.status == super::model::EqStatus::Running, "status": e.status.id()},
                    "points": [point],
                }));
            }
        }
    }
    Ok(context! {
        route => to_value(&view(rt, crate::util::now_ms())),
        groups => to_value(&groups),
        values => to_value(&values),
    })
}

/// The round a phone walks.
#[get("/equipment/rounds/{id:\\d+}/walk")]
async fn round_page(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    ctx.page("equipment/round.html", round_data(&ctx, *id, json!({}))?)
}

/// The round form's answers: `ok_<i>` (1 normal, 0 abnormal, `skip` not checked),
/// `value_<i>`, `skip_<i>` (a reading not taken), `note_<i>`.
fn answers_of(f: &FormData, n: usize) -> Result<Vec<Answer>> {
    (0..n)
        .map(|i| {
            let ok = f.get(&format!("ok_{i}"));
            Ok(Answer {
                skip: ok == "skip" || f.checked(&format!("skip_{i}")),
                ok: match ok {
                    "1" => Some(true),
                    "0" => Some(false),
                    _ => None,
                },
                value: match f.get(&format!("value_{i}")).trim() {
                    "" => None,
                    v => Some(v.replace(',', ".").parse().map_err(|_| {
                        Error::invalid_msg(
                            "answers",
                            Msg::new("equipment.err.answer_number").arg("line", i + 1),
                        )
                    })?),
                },
                note: f.get(&format!("note_{i}")).into(),
            })
        })
        .collect()
}

#[post("/equipment/rounds/{id:\\d+}/walk")]
async fn round_submit(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = id.into_inner();
    let approver = ctx.who.can(M, Level::Approve);
    let r = async {
        let n = insp::route(&ctx.app.store.read()?, id)?.points.len();
        let input = insp::RoundInput {
            answers: answers_of(&f, n)?,
            rev: f.opt("rev")?,
        };
        ctx.write(move |app, actor| {
            insp::record_round(&app.store, actor, id, input, approver, super::now(app))
        })
        .await
        .map(|round| format!("/equipment/rounds/record/{}", round.id))
    }
    .await;
    ctx.done(r, "flash.saved", "equipment/round.html", || {
        round_data(&ctx, id, f.echo())
    })
}

/// A round as it was walked, with the work orders it opened.
#[get("/equipment/rounds/record/{id:\\d+}")]
async fn record_page(
    ctx: Need<grant::equipment::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let round = insp::round(&r, *id)?;
    let mut results = Vec::with_capacity(round.results.len());
    for x in &round.results {
        let mut v = json!(x);
        v["tag_no"] = json!(svc::equipment(&r, x.equipment)?.tag_no);
        results.push(v);
    }
    let orders = round
        .orders
        .iter()
        .map(|o| svc::order(&r, *o))
        .collect::<Result<Vec<_>>>()?;
    ctx.page(
        "equipment/round_record.html",
        context! {
            round => to_value(&round),
            results => to_value(&results),
            orders => to_value(&orders),
        },
    )
}

// ------------------------------------------------------------------ API

/// Inspection routes with the time their next round is due.
#[utoipa::path(tag = "equipment", responses((status = 200, description = "Routes", body = Vec<RouteView>)), security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/routes")]
async fn api_routes(ctx: Need<grant::equipment::Read>) -> Result<HttpResponse, AppError> {
    let now = crate::util::now_ms();
    let v: Vec<RouteView> = insp::routes(&ctx.app.store.read()?)?
        .into_iter()
        .map(|rt| view(rt, now))
        .collect();
    Ok(HttpResponse::Ok().json(v))
}

/// Creates an inspection route: checkpoints on equipment, a round every `every_hours`.
#[utoipa::path(tag = "equipment", request_body = InspectionRoute, responses(
    (status = 201, description = "Created", body = InspectionRoute),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["equipment:approve"])))]
#[post("/api/v1/equipment/routes")]
async fn api_route_create(
    ctx: Need<grant::equipment::Approve>,
    body: web::Json<InspectionRoute>,
) -> Result<HttpResponse, AppError> {
    let mut rt = body.into_inner();
    rt.id = 0;
    let saved = ctx
        .write(move |app, actor| insp::save_route(&app.store, actor, rt, crate::util::now_ms()))
        .await?;
    Ok(HttpResponse::Created().json(saved))
}

/// Changes an inspection route (its rounds so far keep the checkpoints they were walked
/// with).
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Route id")), request_body = InspectionRoute, responses(
    (status = 200, description = "Saved", body = InspectionRoute),
    (status = 422, description = "Refused")),
    security(("bearer" = ["equipment:approve"])))]
#[put("/api/v1/equipment/routes/{id}")]
async fn api_route_update(
    ctx: Need<grant::equipment::Approve>,
    id: web::Path<u64>,
    body: web::Json<InspectionRoute>,
) -> Result<HttpResponse, AppError> {
    let mut rt = body.into_inner();
    rt.id = *id;
    let saved = ctx
        .write(move |app, actor| insp::save_route(&app.store, actor, rt, crate::util::now_ms()))
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// A route's latest rounds (50), newest first.
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Route id")), responses((status = 200, description = "Rounds", body = Vec<Round>)), security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/routes/{id}/rounds")]
async fn api_rounds(
    ctx: Need<grant::equipment::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    insp::route(&r, *id)?;
    Ok(HttpResponse::Ok().json(insp::rounds_of(&r, *id, 50)?))
}

/// Records a round (a person's, signed in): every checkpoint answered — `ok` for a look
/// (an abnormal one with a `note`), `value` for a reading. Each machine with an abnormal
/// finding gets a corrective work order (`orders`).
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Route id")), request_body = insp::RoundInput, responses(
    (status = 201, description = "Recorded", body = Round),
    (status = 422, description = "An answer is missing; `error.message` names the checkpoint")),
    security(("bearer" = ["equipment:write"])))]
#[post("/api/v1/equipment/routes/{id}/rounds")]
async fn api_round_create(
    ctx: Need<grant::equipment::Write>,
    id: web::Path<u64>,
    body: web::Json<insp::RoundInput>,
) -> Result<HttpResponse, AppError> {
    let (id, input) = (*id, body.into_inner());
    let approver = ctx.who.can(M, Level::Approve);
    let round = ctx
        .write(move |app, actor| {
            insp::record_round(&app.store, actor, id, input, approver, super::now(app))
        })
        .await?;
    Ok(HttpResponse::Created().json(round))
}

/// A round as it was walked.
#[utoipa::path(tag = "equipment", params(("id" = u64, Path, description = "Round id")), responses((status = 200, description = "Round", body = Round)), security(("bearer" = ["equipment:read"])))]
#[get("/api/v1/equipment/rounds/{id}")]
async fn api_round(
    ctx: Need<grant::equipment::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(insp::round(&ctx.app.store.read()?, *id)?))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_routes,
    api_route_create,
    api_route_update,
    api_rounds,
    api_round_create,
    api_round
))]
pub struct Doc;
