//! The park board (`/integration/park`), one plant's page (`/integration/park/<group>/<node>`)
//! and their API (`/api/v1/park`), part of the data integration module.

use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::Serialize;

use super::{Config, Plant, Status, TagValue};
use crate::auth::model::Level;
use crate::error::Error;
use crate::i18n::{self, Lang};
use crate::northbound::figures::FigVal;
use crate::web::context::{Ctx, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const M: &str = "integration";
/// The modules whose figures the board shows, in this order, each with its figures in the
/// order a reader takes them in (others the box sends follow, by name).
const MODULES: [(&str, &[&str]); 3] = [
    (
        "safety",
        &[
            "permits_on_site",
            "special_hot_work_on_site",
            "confined_space_on_site",
            "permits_due",
            "permits_gas_failed",
            "people_on_site",
            "hazards_open",
            "hazards_overdue",
            "hazards_major_open",
            "certificates_expiring",
            "certificates_expired",
            "paperwork_expired",
        ],
    ),
    (
        "equipment",
        &[
            "zone_c",
            "zone_d_critical",
            "zone_d",
            "orders_open",
            "orders_overdue",
            "certificates_expiring",
            "certificates_expired",
        ],
    ),
    (
        "quality",
        &["samples_pending", "samples_failed", "ncrs_open"],
    ),
];

/// A number as people read it: whole numbers without a decimal point, others without the
/// binary noise of a double (61.900000000000006 → 61.9).
pub fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page)
        .service(submit)
        .service(plant_page)
        .service(api_get)
        .service(api_put)
        .service(api_plant)
        .service(forget)
        .service(api_forget);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_get, api_put, api_plant, api_forget))]
pub struct Doc;

/// The configuration (password shown only as set), the subscriber's counters and every
/// plant heard from.
#[derive(Serialize, utoipa::ToSchema)]
pub struct View {
    pub config: Config,
    pub status: Status,
    pub plants: Vec<Plant>,
}

/// One plant with its tags' latest values by area.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlantView {
    #[serde(flatten)]
    pub plant: Plant,
    pub areas: std::collections::BTreeMap<String, Vec<TagValue>>,
}

fn view(ctx: &Ctx) -> Result<View, AppError> {
    let config = super::config(&ctx.app.store.read()?)?.redacted();
    let (status, plants) = ctx.app.park.with(|v| {
        (
            v.status.clone(),
            v.plants
                .values()
                .map(Plant::without_tags)
                .collect::<Vec<_>>(),
        )
    });
    Ok(View {
        config,
        status,
        plants,
    })
}

fn number(f: Option<&FigVal>) -> Option<f64> {
    match f {
        Some(FigVal::Number(x)) => Some(*x),
        _ => None,
    }
}

fn text(f: Option<&FigVal>) -> &str {
    match f {
        Some(FigVal::Text(t)) => t,
        _ => "",
    }
}

/// A figure as the board shows it.
#[derive(Serialize)]
struct FigureLine {
    label: String,
    value: String,
    standing: String,
}

#[derive(Serialize)]
struct ModuleLine {
    name: String,
    standing: String,
    figures: Vec<FigureLine>,
}

#[derive(Serialize)]
struct AlarmLine {
    priority: String,
    priority_label: String,
    state_label: String,
    message: String,
    tag: String,
    raised_ms: Option<i64>,
}

/// A plant's card: what the board shows of it, in the reader's language.
#[derive(Serialize)]
struct Card {
    group: String,
    node: String,
    name: String,
    online: bool,
    last_seen_ms: i64,
    offline_since_ms: Option<i64>,
    /// `normal`, `attention`, `danger`, or `unknown` before the box said.
    standing: String,
    alarms_active: Option<i64>,
    alarms_unack: Option<i64>,
    alarms: Vec<AlarmLine>,
    modules: Vec<ModuleLine>,
    tags: usize,
}

fn card(p: &Plant, lang: Lang) -> Card {
    let f = &p.figures;
    let alarms = serde_json::from_str::<Vec<serde_json::Value>>(text(f.get("alarms/list")))
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            let priority = a["priority"].as_str().unwrap_or("").to_string();
            let message = match lang {
                Lang::ZhCn => &a["message_zh"],
                _ => &a["message_en"],
            };
            AlarmLine {
                priority_label: i18n::t(lang, &format!("alarms.priority.{priority}")).to_string(),
                state_label: a["state"]
                    .as_str()
                    .map(|st| i18n::t(lang, &format!("alarms.state.{st}")).to_string())
                    .unwrap_or_default(),
                priority,
                message: message.as_str().unwrap_or("").to_string(),
                tag: a["tag"].as_str().unwrap_or("").to_string(),
                raised_ms: a["raised_ms"].as_i64(),
            }
        })
        .collect();
    let modules = MODULES
        .iter()
        .filter(|(m, _)| f.contains_key(&format!("{m}/status")))
        .map(|(m, order)| {
            let flags = text(f.get(&format!("{m}/flags")));
            let prefix = format!("{m}/");
            let mut figures: Vec<(usize, FigureLine)> = f
                .iter()
                .filter_map(|(k, v)| {
                    let key = k.strip_prefix(&prefix)?;
                    let FigVal::Number(x) = v else { return None };
                    let label_key = format!("figure.{m}.{key}");
                    let standing = flags
                        .split(',')
                        .find_map(|fl| fl.strip_prefix(key)?.strip_prefix(':'))
                        .unwrap_or("normal");
                    let place = order.iter().position(|o| *o == key).unwrap_or(order.len());
                    Some((
                        place,
                        FigureLine {
                            label: if i18n::has(&label_key) {
                                i18n::t(lang, &label_key).to_string()
                            } else {
                                key.to_string()
                            },
                            value: number_text(*x),
                            standing: standing.to_string(),
                        },
                    ))
                })
                .collect();
            figures.sort_by_key(|(place, _)| *place);
            let figures = figures.into_iter().map(|(_, l)| l).collect();
            ModuleLine {
                name: i18n::t(lang, &format!("module.{m}.name")).to_string(),
                standing: text(f.get(&format!("{m}/status"))).to_string(),
                figures,
            }
        })
        .collect();
    let standing = match text(f.get("box/status")) {
        "" => "unknown",
        s => s,
    };
    Card {
        group: p.group.clone(),
        node: p.node.clone(),
        name: p.name().to_string(),
        online: p.online,
        last_seen_ms: p.last_seen_ms,
        offline_since_ms: p.offline_since_ms,
        standing: standing.to_string(),
        alarms_active: number(f.get("alarms/active")).map(|x| x as i64),
        alarms_unack: number(f.get("alarms/unack")).map(|x| x as i64),
        alarms,
        modules,
        tags: p.areas.values().map(|a| a.len()).sum(),
    }
}

fn values(c: &Config) -> serde_json::Value {
    serde_json::json!({
        "enabled": if c.enabled { "on" } else { "" }, "host": c.host, "port": c.port.to_string(),
        "tls": if c.tls { "on" } else { "" }, "username": c.username, "password_set": c.password.is_set(),
        "client_id": c.client_id, "groups": c.groups.join(", "),
    })
}

fn from_form(f: &FormData) -> Result<Config, Error> {
    Ok(Config {
        enabled: f.checked("enabled"),
        host: f.get("host").trim().to_string(),
        port: f.opt("port")?.unwrap_or(1883),
        tls: f.checked("tls"),
        username: f.get("username").trim().to_string(),
        password: f.secret("password", "password_clear"),
        client_id: f.get("client_id").trim().to_string(),
        groups: f
            .get("groups")
            .split([',', '，'])
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

fn cards(ctx: &Ctx) -> Vec<Card> {
    // copied out under the lock, rendered outside it (the subscriber waits on that lock)
    let plants: Vec<Plant> = ctx
        .app
        .park
        .with(|v| v.plants.values().map(Plant::without_tags).collect());
    let mut cards: Vec<Card> = plants.iter().map(|p| card(p, ctx.lang)).collect();
    // the plants that need someone first, then by name
    let rank = |c: &Card| match (c.online, c.standing.as_str()) {
        (true, "danger") => 0,
        (false, _) => 1,
        (true, "attention") => 2,
        _ => 3,
    };
    cards.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.name.cmp(&b.name)));
    cards
}

#[get("/integration/park")]
async fn page(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    let config = super::config(&ctx.app.store.read()?)?;
    let status = ctx.app.park.with(|v| v.status.clone());
    ctx.page(
        "integration/park.html",
        context! {
            cards => to_value(&cards(&ctx)), values => to_value(&values(&config)),
            status => to_value(&status), can_write => ctx.who.can(M, Level::Approve),
        },
    )
}

#[post("/integration/park")]
async fn submit(
    ctx: Need<grant::integration::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let result = async {
        let c = from_form(&f)?;
        ctx.write(move |app, actor| {
            let c = super::save_config(&app.store, actor, c)?;
            app.park.reload()?;
            Ok(c)
        })
        .await
    }
    .await;
    ctx.done(
        result.map(|_| "/integration/park".to_string()),
        "flash.saved",
        "integration/park.html",
        || {
            let status = ctx.app.park.with(|v| v.status.clone());
            let mut echo = f.echo();
            echo["password_set"] = (!f.get("password").is_empty()).into();
            Ok(context! {
                cards => to_value(&cards(&ctx)), values => to_value(&echo),
                status => to_value(&status), can_write => true,
            })
        },
    )
}

fn plant_view(ctx: &Ctx, group: &str, node: &str) -> Result<PlantView, AppError> {
    ctx.app
        .park
        .with(|v| {
            v.plants
                .get(&(group.to_string(), node.to_string()))
                .map(|p| PlantView {
                    plant: p.clone(),
                    areas: p
                        .areas
                        .iter()
                        .map(|(a, tags)| (a.clone(), tags.values().cloned().collect()))
                        .collect(),
                })
        })
        .ok_or_else(|| Error::not_found("park.err.unknown").into())
}

#[get("/integration/park/{group}/{node}")]
async fn plant_page(
    ctx: Need<grant::integration::Read>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (group, node) = path.into_inner();
    let v = plant_view(&ctx, &group, &node)?;
    let c = card(&v.plant, ctx.lang);
    let events: Vec<_> = v.plant.events.iter().cloned().collect();
    let areas: std::collections::BTreeMap<&String, Vec<serde_json::Value>> = v
        .areas
        .iter()
        .map(|(a, tags)| {
            let rows = tags
                .iter()
                .map(|t| {
                    let value = match &t.value {
                        Some(FigVal::Number(x)) => number_text(*x),
                        Some(FigVal::Text(s)) => s.clone(),
                        None => "—".into(),
                    };
                    serde_json::json!({"name": t.name, "value": value, "ts_ms": t.ts_ms})
                })
                .collect();
            (a, rows)
        })
        .collect();
    ctx.page(
        "integration/park_plant.html",
        context! {
            card => to_value(&c), areas => to_value(&areas), events => to_value(&events),
            can_write => ctx.who.can(M, Level::Approve),
        },
    )
}

/// The park subscription's configuration and counters, and every plant heard from with
/// its key figures (`enterprise/name`, `alarms/*`, `<module>/*`, `box/status`) and latest
/// alarm events.
#[utoipa::path(tag = "park", responses((status = 200, description = "Configuration, status and plants", body = View)), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/park")]
async fn api_get(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(view(&ctx)?))
}

/// Replaces the park subscription's configuration (needs `integration.approve`); the
/// subscriber restarts with it and asks the boxes for their births again. `password`: a
/// string sets it, `{"set": true}` keeps it.
#[utoipa::path(tag = "park", request_body = Config, responses(
    (status = 200, description = "Saved", body = View), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["integration:approve"])))]
#[put("/api/v1/park")]
async fn api_put(
    ctx: Need<grant::integration::Approve>,
    body: web::Json<Config>,
) -> Result<HttpResponse, AppError> {
    let c = body.into_inner();
    ctx.write(move |app, actor| {
        super::save_config(&app.store, actor, c)?;
        app.park.reload()
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&ctx)?))
}

/// One plant: its figures, events and every tag's latest value by area.
#[utoipa::path(tag = "park", params(("group" = String, Path), ("node" = String, Path)), responses(
    (status = 200, description = "The plant", body = PlantView), (status = 404, description = "Not heard from")), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/park/{group}/{node}")]
async fn api_plant(
    ctx: Need<grant::integration::Read>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (group, node) = path.into_inner();
    Ok(HttpResponse::Ok().json(plant_view(&ctx, &group, &node)?))
}

#[post("/integration/park/{group}/{node}/forget")]
async fn forget(
    ctx: Need<grant::integration::Approve>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (group, node) = path.into_inner();
    ctx.write(move |app, actor| app.park.forget(actor, &group, &node))
        .await?;
    Ok(crate::web::context::redirect_with(
        "/integration/park",
        Some("flash.park_forgotten"),
    ))
}

/// Forgets a plant (a box taken out of service; needs `integration.approve`): gone from the
/// board until its box publishes a birth again.
#[utoipa::path(tag = "park", params(("group" = String, Path), ("node" = String, Path)), responses(
    (status = 204, description = "Forgotten"), (status = 404, description = "Not heard from")), security(("bearer" = ["integration:approve"])))]
#[delete("/api/v1/park/{group}/{node}")]
async fn api_forget(
    ctx: Need<grant::integration::Approve>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (group, node) = path.into_inner();
    ctx.write(move |app, actor| app.park.forget(actor, &group, &node))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
