//! Pages (under `/safety/permits`) and API (under `/api/v1/safety`) of the special work
//! permits. Every step is signed by the signed-in person; machine tokens may read permits
//! but never sign them.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::calendar::YearCoverage;
use super::model::{
    Action, BlindAction, ChainConfig, Details, Duty, GasRef, Permit, Stage, ToxicLimit,
    ToxicReading, Worker, chain_keys,
};
use super::rules::{Activity, Calendar, HotLevel, HotMethod, WorkType};
use super::service::{
    self as svc, ActionInput, GasInput, PermitFilter, PermitInput, Signer, WindowInput,
};
use super::settings;
use crate::auth::model::Level;
use crate::error::Error;
use crate::i18n::{Lang, Msg, t};
use crate::util::now_ms;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::export::{self, Format};
use crate::web::form::FormData;
use crate::web::grant::{self, Need, Person};

const M: &str = "safety";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(register_page)
        .service(export_register)
        .service(new_page)
        .service(create_submit)
        .service(settings_page)
        .service(chain_submit)
        .service(calendar_submit)
        .service(duties_submit)
        .service(gases_submit)
        .service(holidays_submit)
        .service(holidays_shipped)
        .service(detail_page)
        .service(edit_page)
        .service(update_submit)
        .service(act_submit)
        .service(print_page)
        .service(api_list)
        .service(api_create)
        .service(api_daily)
        .service(api_chains)
        .service(api_chain_put)
        .service(api_chain_reset)
        .service(api_calendar)
        .service(api_calendar_put)
        .service(api_calendar_import)
        .service(api_gas_limits)
        .service(api_gas_limits_put)
        .service(api_gas_limits_reset)
        .service(api_duties)
        .service(api_duties_put)
        .service(api_get)
        .service(api_update)
        .service(api_act);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_list,
    api_create,
    api_daily,
    api_chains,
    api_chain_put,
    api_chain_reset,
    api_calendar,
    api_calendar_put,
    api_calendar_import,
    api_gas_limits,
    api_gas_limits_put,
    api_gas_limits_reset,
    api_duties,
    api_duties_put,
    api_get,
    api_update,
    api_act
))]
pub struct Doc;

/// The signed-in person as a signer, with their duties.
pub(crate) fn signer(ctx: &Need<Person<grant::safety::Read>>) -> Result<Signer, AppError> {
    signer_of(ctx)
}

/// The caller as a signer, if they are a person (machine tokens read permits, never sign).
fn signer_of(ctx: &Ctx) -> Result<Signer, AppError> {
    let user = ctx
        .who
        .user()
        .ok_or_else(|| Error::Forbidden(Msg::new("safety.permit.err.token")))?;
    let duties = settings::duties(&ctx.app.store.read()?, user.id)?;
    Ok(Signer {
        user_id: user.id,
        username: user.username.clone(),
        name: user.display_name.clone(),
        duties,
        can_write: ctx.who.can(M, Level::Write),
    })
}

fn work_name(w: WorkType, lang: Lang) -> String {
    t(lang, &format!("safety.work.{}", w.id())).to_string()
}

fn level_name(w: WorkType, level: Option<&str>, lang: Lang) -> String {
    level
        .map(|l| t(lang, &format!("safety.level.{}_{l}", w.id())).to_string())
        .unwrap_or_default()
}

/// One step of a permit's approval chain, as the page shows it.
#[derive(Serialize)]
struct StepView {
    duty: &'static str,
    signed_by: Option<String>,
    at_ms: Option<i64>,
    next: bool,
}

/// One gas analysis with its verdict, as the page shows it.
#[derive(Serialize)]
struct GasRow<'a> {
    sampled_ms: i64,
    point: &'a str,
    combustible_pct: Option<f64>,
    o2_pct: Option<f64>,
    toxics: String,
    analyst: &'a str,
    pass: bool,
    /// A failure still standing (no later pass at its point).
    standing: bool,
    findings: Vec<&'a str>,
}

/// A permit as pages show it: the record plus names, the approval steps, the reasons for
/// its level, the work windows and the gas analyses with their verdicts.
#[derive(Serialize)]
struct PermitView<'a> {
    #[serde(flatten)]
    permit: &'a Permit,
    work: &'static str,
    work_name: String,
    level_name: String,
    stage_id: &'static str,
    steps: Vec<StepView>,
    needs_gas: bool,
    intact: bool,
    upgrade_texts: Vec<String>,
    windows_text: Vec<String>,
    activity_names: Vec<String>,
    gas_rows: Vec<GasRow<'a>>,
    gas_blocked: bool,
}

fn view(p: &Permit, lang: Lang, offset: time::UtcOffset) -> PermitView<'_> {
    let approvals: Vec<_> = p
        .signatures
        .iter()
        .filter(|s| s.action == Action::Approve)
        .collect();
    let steps = p
        .chain
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let s = (i < p.approved_steps)
                .then(|| approvals.get(approvals.len() - p.approved_steps + i))
                .flatten();
            StepView {
                duty: d.id(),
                signed_by: s.map(|s| s.name.clone()),
                at_ms: s.map(|s| s.at_ms),
                next: i == p.approved_steps && p.stage == Stage::Approval,
            }
        })
        .collect();
    let standing: Vec<i64> = svc::standing_failures(p)
        .iter()
        .map(|g| g.sampled_ms)
        .collect();
    let gas_rows = p
        .gas
        .iter()
        .map(|g| GasRow {
            sampled_ms: g.sampled_ms,
            point: &g.point,
            combustible_pct: g.combustible_pct,
            o2_pct: g.o2_pct,
            toxics: g
                .toxics
                .iter()
                .map(|t| format!("{} {}", t.name, t.value))
                .collect::<Vec<_>>()
                .join(", "),
            analyst: &g.analyst,
            pass: g.pass(),
            standing: standing.contains(&g.sampled_ms) && !g.pass(),
            findings: g
                .failures
                .iter()
                .map(|f| {
                    if lang == Lang::En {
                        f.en.as_str()
                    } else {
                        f.zh.as_str()
                    }
                })
                .collect(),
        })
        .collect();
    let minute = |ms| crate::plant_time::format_minute(ms, offset);
    PermitView {
        permit: p,
        work: p.work().id(),
        work_name: work_name(p.work(), lang),
        level_name: level_name(p.work(), p.level.as_deref(), lang),
        stage_id: p.stage.id(),
        steps,
        needs_gas: p.details.needs_gas(),
        intact: svc::signatures_intact(p),
        upgrade_texts: p
            .upgrades
            .iter()
            .map(|u| svc::upgrade_msg(u).render(lang))
            .collect(),
        windows_text: p
            .windows
            .iter()
            .map(|w| format!("{} – {}", minute(w.from_ms), minute(w.to_ms)))
            .collect(),
        activity_names: p
            .activities
            .iter()
            .map(|a| t(lang, &format!("safety.permit.activity.{}", a.id())).to_string())
            .collect(),
        gas_rows,
        gas_blocked: !standing.is_empty(),
    }
}

// ------------------------------------------------------------------ register

#[derive(Debug, Default, Deserialize)]
struct RegisterQuery {
    #[serde(flatten)]
    filter: PermitFilter,
    /// The day of the daily statistics (`YYYY-MM-DD`, default today).
    #[serde(default)]
    day: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

fn parse_day(s: Option<&str>, offset: time::UtcOffset) -> time::Date {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    s.and_then(|s| time::Date::parse(s.trim(), &fmt).ok())
        .unwrap_or_else(|| crate::plant_time::today(offset))
}

fn daily_json(
    r: &impl crate::store::Reader,
    day: time::Date,
    ctx: &Ctx,
) -> Result<Vec<serde_json::Value>, AppError> {
    Ok(svc::daily(r, day, ctx.app.offset)?
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "work": c.work.id(),
                "work_name": work_name(c.work, ctx.lang),
                "level_name": level_name(c.work, c.level.as_deref(), ctx.lang),
                "count": c.count,
                "on_site": c.on_site,
            })
        })
        .collect())
}

#[get("/safety/permits")]
async fn register_page(
    ctx: Need<grant::safety::Read>,
    q: web::Query<RegisterQuery>,
) -> Result<HttpResponse, AppError> {
    let day = parse_day(q.day.as_deref(), ctx.app.offset);
    let r = ctx.app.store.read()?;
    let permits = svc::permits(&r, &q.filter, ctx.app.offset)?;
    let list: Vec<_> = permits
        .iter()
        .map(|p| view(p, ctx.lang, ctx.app.offset))
        .collect();
    let may_apply = ctx.who.user().is_some_and(|u| {
        ctx.who.can(M, Level::Write)
            || settings::duties(&r, u.id).is_ok_and(|d| d.contains(&Duty::Applicant))
    });
    let query = serde_urlencoded::to_string(&q.filter).unwrap_or_default();
    ctx.page(
        "safety/permits.html",
        context! {
            permits => to_value(&list),
            filter => to_value(&q.filter),
            query => query,
            day => crate::plant_time::format_day(day),
            daily => to_value(&daily_json(&r, day, &ctx)?),
            types => to_value(&types_json(ctx.lang)),
            stages => Stage::ALL.iter().map(|s| s.id()).collect::<Vec<_>>(),
            may_apply => may_apply,
            can_configure => ctx.who.can(M, Level::Approve),
        },
    )
}

fn types_json(lang: Lang) -> Vec<serde_json::Value> {
    WorkType::ALL
        .iter()
        .map(|w| {
            serde_json::json!({
                "id": w.id(),
                "name": work_name(*w, lang),
                "levels": w.levels().iter().map(|l| serde_json::json!({"id": l, "name": level_name(*w, Some(l), lang)})).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[get("/safety/permits/export")]
async fn export_register(
    ctx: Need<grant::safety::Read>,
    q: web::Query<RegisterQuery>,
) -> Result<HttpResponse, AppError> {
    let list = svc::permits(&ctx.app.store.read()?, &q.filter, ctx.app.offset)?;
    let l = ctx.lang;
    let off = ctx.app.offset;
    let head = [
        "number",
        "work",
        "level",
        "stage",
        "applicant_unit",
        "content",
        "location",
        "work_unit",
        "leader",
        "guardian",
        "from",
        "to",
        "applicant",
        "closed",
    ]
    .iter()
    .map(|k| t(l, &format!("safety.permit.col.{k}")).to_string())
    .collect();
    let rows = list
        .iter()
        .map(|p| {
            vec![
                p.number.clone(),
                work_name(p.work(), l),
                level_name(p.work(), p.level.as_deref(), l),
                t(l, &format!("safety.stage.{}", p.stage.id())).to_string(),
                p.applicant_unit.clone(),
                p.content.clone(),
                p.location.clone(),
                p.work_unit.clone(),
                p.leader.clone(),
                p.guardian.clone(),
                crate::plant_time::format_minute(p.from_ms, off),
                crate::plant_time::format_minute(p.to_ms, off),
                p.applicant.clone(),
                p.closed_ms
                    .map(|m| crate::plant_time::format_minute(m, off))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let table = export::Table {
        head,
        rows,
        numeric_from: usize::MAX,
    };
    let format = Format::parse(q.format.as_deref());
    let bytes = table.bytes(format)?;
    Ok(export::attachment("permits", format, bytes))
}

// ------------------------------------------------------------------ the form

/// Choices the form offers: guardians, permits to link or serve, detector tags, gases.
fn form_ctx(
    ctx: &Ctx,
    work: WorkType,
    permit: Option<&Permit>,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let users = crate::auth::service::users(&r)?;
    let duties = settings::all_duties(&r)?;
    let guardians: Vec<serde_json::Value> = users
        .iter()
        .filter(|u| {
            u.enabled
                && duties
                    .iter()
                    .any(|(id, d)| *id == u.id && d.contains(&Duty::Guardian))
        })
        .map(|u| serde_json::json!({"id": u.id, "name": u.display_name}))
        .collect();
    let open: Vec<serde_json::Value> = svc::permits(
        &r,
        &PermitFilter {
            stage: Some("open".into()),
            ..Default::default()
        },
        ctx.app.offset,
    )?
    .iter()
    .filter(|p| Some(p.id) != permit.map(|x| x.id))
    .map(|p| {
        serde_json::json!({
            "id": p.id, "number": p.number, "work": p.work().id(),
            "label": format!("{} {} {}", p.number, work_name(p.work(), ctx.lang), p.content),
        })
    })
    .collect();
    let tags: Vec<serde_json::Value> = crate::tags::service::tags(&r)?
        .iter()
        .map(|t| {
            let d = if ctx.lang == Lang::En {
                &t.description_en
            } else {
                &t.description_zh
            };
            serde_json::json!({"name": t.name, "label": d})
        })
        .collect();
    let gases: Vec<serde_json::Value> = settings::gas_refs(&r)?
        .iter()
        .map(|g| gas_ref_json(g, ctx.lang))
        .collect();
    Ok(context! {
        today => crate::plant_time::format_day(crate::plant_time::today(ctx.app.offset)),
        work => work.id(),
        work_name => work_name(work, ctx.lang),
        permit => permit.map(|p| to_value(&view(p, ctx.lang, ctx.app.offset))),
        values => to_value(&values),
        guardians => to_value(&guardians),
        open => to_value(&open),
        tags => to_value(&tags),
        gases => to_value(&gases),
        methods => HotMethod::ALL.iter().map(|m| m.id()).collect::<Vec<_>>(),
        activities => Activity::ALL.iter().map(|a| a.id()).collect::<Vec<_>>(),
        hot_levels => to_value(&["special", "first", "second"].iter().map(|l| serde_json::json!({"id": l, "name": level_name(WorkType::HotWork, Some(l), ctx.lang)})).collect::<Vec<_>>()),
    })
}

fn gas_ref_json(g: &GasRef, lang: Lang) -> serde_json::Value {
    serde_json::json!({
        "formula": g.formula,
        "name": if lang == Lang::En { &g.name_en } else { &g.name_zh },
        "limit": g.limit(),
        "ppm": g.limit_ppm().map(|p| (p * 100.0).round() / 100.0),
    })
}

fn default_values(ctx: &Ctx, work: WorkType) -> Result<serde_json::Value, AppError> {
    let r = ctx.app.store.read()?;
    let dept = ctx
        .who
        .user()
        .and_then(|u| u.department_id)
        .and_then(|d| crate::org::service::department(&r, d).ok().flatten())
        .map(|d| d.name)
        .unwrap_or_default();
    let now = now_ms();
    let hour = 3_600_000;
    let start = now - now.rem_euclid(hour) + hour;
    let cfg = settings::chain(
        &r,
        &super::model::chain_key(work, work.levels().last().copied()),
        ctx.lang,
    )?;
    // the four-gas detector's toxic gases, for spaces that may hold them
    let toxics = if matches!(work, WorkType::ConfinedSpace) {
        "H2S\nCO"
    } else {
        ""
    };
    Ok(serde_json::json!({
        "applicant_unit": dept,
        "from": crate::plant_time::format_minute(start, ctx.app.offset).replace(' ', "T"),
        "to": crate::plant_time::format_minute(start + 4 * hour, ctx.app.offset).replace(' ', "T"),
        "checklist": cfg.checklist.join("\n"),
        "x": "0", "y": "0", "assessed": "second",
        "voltage_v": "380", "blind_action": "insert", "toxics": toxics,
    }))
}

/// A permit's saved form as the form's fields.
fn permit_values(p: &Permit, offset: time::UtcOffset) -> serde_json::Value {
    let i = svc::input_of(p, offset);
    let mut v = serde_json::json!({
        "applicant_unit": i.applicant_unit, "content": i.content, "location": i.location,
        "x": i.x.to_string(), "y": i.y.to_string(), "work_unit": i.work_unit, "leader": i.leader,
        "workers": i.workers.iter().map(|w| format!("{} {}", w.name, w.cert).trim().to_string()).collect::<Vec<_>>().join("\n"),
        "guardian_id": i.guardian_id.map(|g| g.to_string()).unwrap_or_default(),
        "linked": i.linked,
        "risks": i.risks, "from": i.from.replace(' ', "T"), "to": i.to.replace(' ', "T"),
        "windows": i.windows.iter().map(|w| format!("{} - {}", w.from, w.to)).collect::<Vec<_>>().join("\n"),
        "activity": i.activities.iter().map(|a| a.id()).collect::<Vec<_>>(),
        "checklist": p.checklist.iter().map(|m| m.text.clone()).collect::<Vec<_>>().join("\n"),
    });
    let d = serde_json::to_value(&p.details).unwrap_or_default();
    if let (Some(o), Some(d)) = (v.as_object_mut(), d.as_object()) {
        for (k, x) in d {
            let s = match x {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                serde_json::Value::Array(items) if k == "toxics" => items
                    .iter()
                    .map(|t| format!("{} {}", t["name"].as_str().unwrap_or(""), t["limit_mg_m3"]))
                    .collect::<Vec<_>>()
                    .join("\n"),
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            let k = if k == "action" { "blind_action" } else { k };
            o.insert(k.into(), s.into());
        }
    }
    v
}

fn flag(f: &FormData, name: &str) -> bool {
    matches!(f.get(name), "1" | "on" | "true")
}

/// A yes/no choice that may be left open (`true`, `false`, or nothing chosen).
fn choice(f: &FormData, name: &str) -> Option<bool> {
    match f.get(name) {
        "true" | "1" | "on" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn num(f: &FormData, name: &'static str) -> Result<f64, Error> {
    f.opt::<f64>(name)?.ok_or(Error::Invalid {
        field: name,
        msg: Msg::new("common.err.required").arg("field", name),
    })
}

/// Toxic gases one per line: the name, then (optionally) a stricter limit in mg/m³.
fn toxics_of(s: &str) -> Result<Vec<ToxicLimit>, Error> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            // `H2S`, `H2S 5`, `H2S ≤ 5`, `H2S<=5 mg/m³`: the name, then a stricter limit
            let cleaned = l
                .replace("mg/m³", " ")
                .replace("mg/m3", " ")
                .replace(['≤', '<', '='], " ");
            let mut parts = cleaned.split(|c: char| c.is_whitespace() || c == ',' || c == '，');
            let name = parts.next().unwrap_or("").trim().to_string();
            let limit = match parts.find(|p| !p.trim().is_empty()) {
                None => 0.0,
                Some(x) => x.trim().parse::<f64>().map_err(|_| Error::Invalid {
                    field: "toxics",
                    msg: Msg::new("safety.permit.err.toxic_line").arg("line", l),
                })?,
            };
            Ok(ToxicLimit {
                name,
                limit_mg_m3: limit,
            })
        })
        .collect()
}

fn details_of(work: WorkType, f: &FormData) -> Result<Details, Error> {
    let s = |n: &str| f.get(n).trim().to_string();
    Ok(match work {
        WorkType::HotWork => Details::HotWork {
            assessed: HotLevel::parse(f.get("assessed")).ok_or(Error::Invalid {
                field: "assessed",
                msg: Msg::new("common.err.required").arg("field", "assessed"),
            })?,
            method: s("method"),
            method_kind: HotMethod::parse(f.get("method_kind")),
            lel_pct: f.opt("lel_pct")?,
            oxygen_service: flag(f, "oxygen_service"),
            space: s("space"),
            outdoor: choice(f, "outdoor"),
            wind_force: f.opt("wind_force")?,
            wind_approval: s("wind_approval"),
            monitor_tags: f
                .get("monitor_tags")
                .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect(),
        },
        WorkType::ConfinedSpace => Details::ConfinedSpace {
            space: s("space"),
            medium: s("medium"),
            lel_pct: f.opt("lel_pct")?,
            enriched: flag(f, "enriched"),
            painting: flag(f, "painting"),
            toxics: toxics_of(f.get("toxics"))?,
        },
        WorkType::Blinding => Details::Blinding {
            line: s("line"),
            medium: s("medium"),
            temperature_c: f.opt("temperature_c")?,
            pressure_mpa: f.opt("pressure_mpa")?,
            blind_spec: s("blind_spec"),
            blind_number: s("blind_number"),
            action: if f.get("blind_action") == "remove" {
                BlindAction::Remove
            } else {
                BlindAction::Insert
            },
        },
        WorkType::Height => Details::Height {
            height_m: num(f, "height_m")?,
            hazard_factors: flag(f, "hazard_factors"),
            wind_force: f.opt("wind_force")?,
        },
        WorkType::Lifting => Details::Lifting {
            load_t: num(f, "load_t")?,
            tool: s("tool"),
            outdoor: choice(f, "outdoor"),
            wind_force: f.opt("wind_force")?,
        },
        WorkType::TemporaryPower => Details::TemporaryPower {
            connection_point: s("connection_point"),
            voltage_v: num(f, "voltage_v")?,
            power_kw: num(f, "power_kw")?,
            serves: f.opt("serves")?,
            hazardous_area: choice(f, "hazardous_area"),
            lel_pct: f.opt("lel_pct")?,
        },
        WorkType::Excavation => Details::Excavation {
            depth_m: num(f, "depth_m")?,
            area: s("area"),
            hazardous_area: choice(f, "hazardous_area"),
            medium: s("medium"),
            lel_pct: f.opt("lel_pct")?,
            toxics: toxics_of(f.get("toxics"))?,
        },
        WorkType::RoadBreak => Details::RoadBreak {
            road_section: s("road_section"),
            reason: s("reason"),
            detour: s("detour"),
        },
    })
}

/// Workers one per line: the name, then (after a space) the certificate number.
fn workers_of(s: &str) -> Vec<Worker> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(
            |l| match l.split_once(|c: char| c.is_whitespace() || c == ',' || c == '，') {
                Some((n, c)) => Worker {
                    name: n.trim().into(),
                    cert: c.trim().into(),
                },
                None => Worker {
                    name: l.into(),
                    cert: String::new(),
                },
            },
        )
        .collect()
}

/// Work windows one per line: `2026-11-24 08:00 - 17:00` (the same day, or the next
/// morning when the end is earlier) or `2026-11-24 20:00 - 2026-11-25 04:00`.
fn windows_of(s: &str) -> Result<Vec<WindowInput>, Error> {
    let bad = |l: &str| Error::Invalid {
        field: "windows",
        msg: Msg::new("safety.permit.err.window_line").arg("line", l),
    };
    let hm = time::macros::format_description!("[hour]:[minute]");
    let mut out = Vec::new();
    for l in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let l2 = l.replace('T', " ");
        let (a, b) = ["–", "—", " - ", "~", "至", "到"]
            .iter()
            .find_map(|sep| l2.split_once(sep))
            .ok_or_else(|| bad(l))?;
        let (a, b) = (a.trim(), b.trim());
        let from_ms =
            crate::plant_time::parse_local(a, time::UtcOffset::UTC).ok_or_else(|| bad(l))?;
        let to = if b.len() <= 5 {
            let end = time::Time::parse(b, &hm).map_err(|_| bad(l))?;
            let start = crate::plant_time::local(from_ms, time::UtcOffset::UTC);
            let day = if end <= start.time() {
                start.date().next_day().ok_or_else(|| bad(l))?
            } else {
                start.date()
            };
            format!("{day} {:02}:{:02}", end.hour(), end.minute())
        } else {
            crate::plant_time::parse_local(b, time::UtcOffset::UTC).ok_or_else(|| bad(l))?;
            b.to_string()
        };
        out.push(WindowInput {
            from: a.to_string(),
            to,
        });
    }
    Ok(out)
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn input_of(work: WorkType, f: &FormData) -> Result<PermitInput, Error> {
    Ok(PermitInput {
        details: details_of(work, f)?,
        applicant_unit: f.get("applicant_unit").into(),
        content: f.get("content").into(),
        location: f.get("location").into(),
        x: f.opt("x")?.unwrap_or(0.0),
        y: f.opt("y")?.unwrap_or(0.0),
        work_unit: f.get("work_unit").into(),
        leader: f.get("leader").into(),
        workers: workers_of(f.get("workers")),
        guardian_id: f.opt("guardian_id")?,
        linked: f
            .all("linked")
            .iter()
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        risks: f.get("risks").into(),
        from: f.get("from").into(),
        to: f.get("to").into(),
        windows: windows_of(f.get("windows"))?,
        activities: f
            .all("activity")
            .iter()
            .filter_map(|a| Activity::parse(a))
            .collect(),
        checklist: Some(lines(f.get("checklist"))),
    })
}

#[derive(Deserialize)]
struct WorkQuery {
    #[serde(default)]
    work: Option<String>,
}

fn work_of(s: Option<&str>) -> Result<WorkType, AppError> {
    s.and_then(WorkType::parse)
        .ok_or_else(|| Error::NotFound(Msg::new("safety.permit.err.chain_key")).into())
}

#[get("/safety/permits/new")]
async fn new_page(
    ctx: Need<Person<grant::safety::Read>>,
    q: web::Query<WorkQuery>,
) -> Result<HttpResponse, AppError> {
    signer(&ctx)?;
    let work = work_of(q.work.as_deref())?;
    let values = default_values(&ctx, work)?;
    ctx.page(
        "safety/permit_form.html",
        form_ctx(&ctx, work, None, values)?,
    )
}

#[post("/safety/permits")]
async fn create_submit(
    ctx: Need<Person<grant::safety::Read>>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let s = signer(&ctx)?;
    let f = FormData::from(form);
    let work = work_of(Some(f.get("work")))?;
    let (app, lang) = (ctx.app.clone(), ctx.lang);
    let result = async {
        let input = input_of(work, &f)?;
        blocking(move || svc::create(&app.store, &s, input, now_ms(), app.offset, lang)).await
    }
    .await;
    ctx.done(
        result.map(|p| format!("/safety/permits/{}", p.id)),
        "flash.saved",
        "safety/permit_form.html",
        || form_ctx(&ctx, work, None, echo(&f)),
    )
}

/// The form as typed, with multi-valued fields as lists.
fn echo(f: &FormData) -> serde_json::Value {
    let mut v = f.echo();
    if let Some(o) = v.as_object_mut() {
        o.insert("linked".into(), f.all("linked").into());
        o.insert("activity".into(), f.all("activity").into());
    }
    v
}

fn load(ctx: &Ctx, id: u64) -> Result<Permit, AppError> {
    Ok(svc::permit(&ctx.app.store.read()?, id)?)
}

#[get("/safety/permits/{id}/edit")]
async fn edit_page(
    ctx: Need<Person<grant::safety::Read>>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    signer(&ctx)?;
    let p = load(&ctx, *id)?;
    let values = permit_values(&p, ctx.app.offset);
    ctx.page(
        "safety/permit_form.html",
        form_ctx(&ctx, p.work(), Some(&p), values)?,
    )
}

#[post("/safety/permits/{id}")]
async fn update_submit(
    ctx: Need<Person<grant::safety::Read>>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let s = signer(&ctx)?;
    let f = FormData::from(form);
    let p = load(&ctx, *id)?;
    let (app, pid) = (ctx.app.clone(), p.id);
    let result = async {
        let input = input_of(p.work(), &f)?;
        blocking(move || svc::update(&app.store, &s, pid, input, now_ms(), app.offset)).await
    }
    .await;
    ctx.done(
        result.map(|_| format!("/safety/permits/{pid}")),
        "flash.saved",
        "safety/permit_form.html",
        || form_ctx(&ctx, p.work(), Some(&p), echo(&f)),
    )
}

// ------------------------------------------------------------------ the permit

fn detail_ctx(
    ctx: &Ctx,
    p: &Permit,
    s: &Signer,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let linked: Vec<serde_json::Value> = p
        .linked
        .iter()
        .filter_map(|id| svc::permit(&r, *id).ok())
        .map(|l| serde_json::json!({"id": l.id, "number": l.number, "work_name": work_name(l.work(), ctx.lang), "stage": l.stage.id()}))
        .collect();
    let now = crate::plant_time::format_minute(now_ms(), ctx.app.offset).replace(' ', "T");
    // what the analyst's form asks for
    let limits = p
        .details
        .needs_gas()
        .then(|| svc::gas_limits(&r, p).ok())
        .flatten();
    let refs = settings::gas_refs(&r)?;
    let toxic_limits: Vec<serde_json::Value> = limits
        .as_ref()
        .map(|l| {
            l.toxics
                .iter()
                .map(|(name, limit)| {
                    let ppm = refs
                        .iter()
                        .find(|g| g.matches(name))
                        .filter(|g| g.molar_mass > 0.0)
                        .map(|g| (limit * 24.45 / g.molar_mass * 100.0).round() / 100.0);
                    serde_json::json!({"name": name, "limit": limit, "ppm": ppm})
                })
                .collect()
        })
        .unwrap_or_default();
    // before work starts: which cameras will record it
    let covering: Vec<String> = if svc::needs_video(p) {
        let zones = svc::location_zones(&r, p)?;
        crate::cameras::cameras(&r)?
            .into_iter()
            .filter(|c| c.enabled && c.zones.iter().any(|z| zones.contains(z)))
            .map(|c| c.name)
            .collect()
    } else {
        Vec::new()
    };
    let video = match svc::permit_video_work(&r, p.id)? {
        Some(work) => Some(crate::cameras::video::record::permit_video(
            &r,
            &work,
            now_ms(),
        )?),
        None => None,
    };
    Ok(context! {
        video => to_value(&video),
        covering => covering,
        needs_video => svc::needs_video(p),
        combustible_limit => limits.as_ref().map(|l| super::rules::combustible_limit(l.lel_pct)),
        needs_o2 => limits.as_ref().is_some_and(|l| l.oxygen != super::rules::OxygenRule::Unchecked),
        toxic_limits => to_value(&toxic_limits),
        permit => to_value(&view(p, ctx.lang, ctx.app.offset)),
        offered => svc::offered(p, s).iter().map(|a| a.id()).collect::<Vec<_>>(),
        linked => to_value(&linked),
        values => to_value(&values),
        now_local => now,
        may_edit => p.stage == Stage::Draft && (p.applicant_id == s.user_id || s.can_write),
        my_duties => s.duties.iter().map(|d| d.id()).collect::<Vec<_>>(),
    })
}

#[get("/safety/permits/{id}")]
async fn detail_page(
    ctx: Need<grant::safety::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let p = load(&ctx, *id)?;
    // machine tokens and viewers see the permit without actions
    let s = signer_of(&ctx).unwrap_or_else(|_| Signer::system());
    let c = detail_ctx(&ctx, &p, &s, serde_json::json!({}))?;
    ctx.page("safety/permit.html", c)
}

fn action_of(f: &FormData, p: &Permit) -> Result<ActionInput, Error> {
    let action = Action::parse(f.get("action")).ok_or(Error::Invalid {
        field: "action",
        msg: Msg::new("common.err.required").arg("field", "action"),
    })?;
    let gas = (action == Action::Gas)
        .then(|| -> Result<GasInput, Error> {
            let names = f.all("toxic_name");
            let values = f.all("toxic_value");
            let mut toxics = Vec::new();
            for (name, v) in names.iter().zip(values.iter()) {
                if v.trim().is_empty() {
                    continue;
                }
                let value = v
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| Error::invalid("toxics", "safety.permit.err.gas_value"))?;
                toxics.push(ToxicReading {
                    name: name.to_string(),
                    value,
                });
            }
            Ok(GasInput {
                sampled: f.get("sampled").into(),
                point: f.get("point").into(),
                combustible_pct: f.opt("combustible_pct")?,
                o2_pct: f.opt("o2_pct")?,
                toxics,
            })
        })
        .transpose()?;
    let reconfirm = action == Action::Resume && p.work() == WorkType::Height;
    let applies = (action == Action::ConfirmMeasures || reconfirm).then(|| {
        (0..p.checklist.len())
            .map(|i| flag(f, &format!("applies_{i}")))
            .collect()
    });
    Ok(ActionInput {
        action,
        step: f.opt("step")?,
        note: f.get("note").into(),
        gas,
        applies,
        receivers: lines(f.get("receivers")),
    })
}

/// One signed step (the gas detectors as the running box sees them), then the box's own
/// stops and the permit alarms, so a failing analysis raises its alarm at once and work
/// that depends on a stopped permit stops with it.
async fn perform(ctx: &Ctx, s: Signer, id: u64, input: ActionInput) -> Result<Permit, AppError> {
    let app = ctx.app.clone();
    blocking(move || {
        let now = now_ms();
        let site = super::Instruments(&app);
        let p = svc::act(&app.store, &site, &s, id, input, now, app.offset)?;
        // a stop here may stop the work that depends on it; then the alarms
        super::enforce(&app, now)?;
        Ok(p)
    })
    .await
}

#[post("/safety/permits/{id}/act")]
async fn act_submit(
    ctx: Need<Person<grant::safety::Read>>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let s = signer(&ctx)?;
    let f = FormData::from(form);
    let p = load(&ctx, *id)?;
    let pid = p.id;
    let result = async {
        let input = action_of(&f, &p)?;
        perform(&ctx, s.clone(), pid, input).await
    }
    .await;
    match result {
        Ok(_) => Ok(redirect_with(
            &format!("/safety/permits/{pid}"),
            Some("flash.signed"),
        )),
        Err(e) => {
            // show the refusal on the permit, the typed values kept
            let mut values = f.echo();
            if let Some(o) = values.as_object_mut() {
                o.insert("failed_action".into(), f.get("action").into());
            }
            let c = detail_ctx(&ctx, &p, &s, values)?;
            let e: AppError = e;
            if e.status == actix_web::http::StatusCode::FORBIDDEN {
                // a refused signature is shown like any refusal, on the permit's page
                let c = context! { error => e.msg.render(ctx.lang), ..c };
                return ctx.page_status(e.status, "safety/permit.html", c);
            }
            ctx.form_error("safety/permit.html", c, e)
        }
    }
}

#[get("/safety/permits/{id}/print")]
async fn print_page(
    ctx: Need<grant::safety::Read>,
    req: HttpRequest,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let p = load(&ctx, *id)?;
    let info = req.connection_info();
    let url = format!(
        "{}://{}/safety/permits/{}",
        info.scheme(),
        info.host(),
        p.id
    );
    let company = crate::org::service::profile(&ctx.app.store.read()?)?.company_name;
    ctx.page(
        "safety/permit_print.html",
        context! {
            permit => to_value(&view(&p, ctx.lang, ctx.app.offset)),
            qr => crate::web::render::qr_svg(&url),
            url => url,
            company => company,
        },
    )
}

// ------------------------------------------------------------------ settings

#[derive(Serialize)]
struct UserDuties {
    id: u64,
    name: String,
    username: String,
    duties: Vec<&'static str>,
}

fn settings_ctx(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let chains: Vec<serde_json::Value> = settings::chains(&r, ctx.lang)?
        .iter()
        .map(|c| {
            let (w, l) = c.key.split_once(':').unwrap_or((&c.key, ""));
            let work = WorkType::parse(w).unwrap_or(WorkType::HotWork);
            serde_json::json!({
                "key": c.key,
                "name": format!("{} {}", work_name(work, ctx.lang), level_name(work, (!l.is_empty()).then_some(l), ctx.lang)).trim().to_string(),
                "steps": c.steps.iter().map(|d| d.id()).collect::<Vec<_>>().join(" "),
                "step_names": c.steps.iter().map(|d| t(ctx.lang, d.key())).collect::<Vec<_>>().join(" → "),
                "checklist": c.checklist.join("\n"),
                "count": c.checklist.len(),
                "custom": c.custom,
            })
        })
        .collect();
    let cal = settings::calendar(&r)?;
    let duties = settings::all_duties(&r)?;
    let users: Vec<UserDuties> = crate::auth::service::users(&r)?
        .into_iter()
        .filter(|u| u.enabled)
        .map(|u| UserDuties {
            duties: duties
                .iter()
                .find(|(id, _)| *id == u.id)
                .map(|(_, d)| d.iter().map(|d| d.id()).collect())
                .unwrap_or_default(),
            id: u.id,
            name: u.display_name,
            username: u.username,
        })
        .collect();
    let year = crate::plant_time::today(ctx.app.offset).year();
    let mut years: Vec<i32> = cal
        .holidays
        .iter()
        .chain(&cal.working_weekends)
        .map(|d| d.year())
        .filter(|y| *y >= year)
        .chain([year, year + 1])
        .collect();
    years.sort_unstable();
    years.dedup();
    let coverage: Vec<YearCoverage> = years.into_iter().map(|y| cal.year(y)).collect();
    // warnings only for this year and the next: later years are a plant's head start
    let missing: Vec<&YearCoverage> = coverage
        .iter()
        .filter(|c| c.year <= year + 1 && !c.confirmed)
        .collect();
    let gases = settings::gas_refs(&r)?;
    Ok(context! {
        chains => to_value(&chains),
        calendar => to_value(&calendar_view(&cal)),
        coverage => to_value(&coverage),
        missing => to_value(&missing),
        gases_text => gas_refs_text(&gases),
        gases => to_value(&gases.iter().map(|g| gas_ref_json(g, ctx.lang)).collect::<Vec<_>>()),
        users => to_value(&users),
        duties => Duty::ALL.iter().map(|d| d.id()).collect::<Vec<_>>(),
        approving => Duty::ALL.iter().filter(|d| d.approves()).map(|d| d.id()).collect::<Vec<_>>(),
        values => to_value(&values),
    })
}

#[get("/safety/permits/settings")]
async fn settings_page(ctx: Need<grant::safety::Approve>) -> Result<HttpResponse, AppError> {
    let c = settings_ctx(&ctx, serde_json::json!({}))?;
    ctx.page("safety/permit_settings.html", c)
}

/// The gas reference data as the settings form shows it, one gas per line (CSV: a name
/// with a comma, such as 1,2-二氯乙烷, is quoted): formula, Chinese name, English name, MAC,
/// PC-TWA, PC-STEL, molar mass.
fn gas_refs_text(v: &[GasRef]) -> String {
    let n = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for g in v {
        let _ = w.write_record([
            g.formula.clone(),
            g.name_zh.clone(),
            g.name_en.clone(),
            n(g.mac),
            n(g.twa),
            n(g.stel),
            g.molar_mass.to_string(),
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes)
        .unwrap_or_default()
        .replace(',', ", ")
        .trim_end()
        .to_string()
}

/// The settings form's gas lines back as reference data; a bad row is named with the
/// column that is wrong.
fn gas_refs_of(s: &str) -> Result<Vec<GasRef>, Error> {
    const COLUMNS: [&str; 7] = [
        "formula",
        "name_zh",
        "name_en",
        "mac",
        "twa",
        "stel",
        "molar_mass",
    ];
    let text = s.replace('，', ",");
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let row = i + 1;
        let rec = rec.map_err(|_| Error::Invalid {
            field: "gases",
            msg: Msg::new("safety.permit.err.gas_ref_columns")
                .arg("row", row)
                .arg("found", 0),
        })?;
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if rec.len() != COLUMNS.len() {
            return Err(Error::Invalid {
                field: "gases",
                msg: Msg::new("safety.permit.err.gas_ref_columns")
                    .arg("row", row)
                    .arg("found", rec.len()),
            });
        }
        let number = |col: usize| -> Result<Option<f64>, Error> {
            let x = &rec[col];
            if x.is_empty() {
                return Ok(None);
            }
            x.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .map(Some)
                .ok_or_else(|| Error::Invalid {
                    field: "gases",
                    msg: Msg::new("safety.permit.err.gas_ref_number")
                        .arg("row", row)
                        .arg_key("column", format!("safety.permit.gas_col.{}", COLUMNS[col]))
                        .arg("value", x),
                })
        };
        out.push(GasRef {
            formula: rec[0].into(),
            name_zh: rec[1].into(),
            name_en: rec[2].into(),
            mac: number(3)?,
            twa: number(4)?,
            stel: number(5)?,
            molar_mass: number(6)?.unwrap_or(0.0),
        });
    }
    Ok(out)
}

fn steps_of(s: &str) -> Result<Vec<Duty>, Error> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == '→' || c == '>')
        .filter(|x| !x.trim().is_empty())
        .map(|x| {
            Duty::parse(x).ok_or(Error::Invalid {
                field: "steps",
                msg: Msg::new("safety.permit.err.duty_unknown").arg("value", x),
            })
        })
        .collect()
}

async fn settings_result(
    ctx: &Ctx,
    f: &FormData,
    r: Result<(), AppError>,
    anchor: &str,
) -> Result<HttpResponse, AppError> {
    match r {
        Ok(()) => Ok(redirect_with(
            &format!("/safety/permits/settings#{anchor}"),
            Some("flash.saved"),
        )),
        Err(e) => {
            let c = settings_ctx(ctx, f.echo())?;
            ctx.form_error("safety/permit_settings.html", c, e)
        }
    }
}

#[post("/safety/permits/settings/chain")]
async fn chain_submit(
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let reset = f.get("reset") == "1";
    let key = f.get("key").to_string();
    let r = async {
        let steps = steps_of(f.get("steps"))?;
        let c = ChainConfig {
            key: key.clone(),
            steps,
            checklist: lines(f.get("checklist")),
            custom: true,
        };
        ctx.write(move |app, actor| settings::save_chain(&app.store, actor, c, reset))
            .await
    }
    .await;
    settings_result(&ctx, &f, r, &key.replace(':', "-")).await
}

fn calendar_view(c: &Calendar) -> serde_json::Value {
    let days = |v: &[time::Date]| {
        v.iter()
            .map(|d| crate::plant_time::format_day(*d))
            .collect::<Vec<_>>()
    };
    let hm = |t: time::Time| format!("{:02}:{:02}", t.hour(), t.minute());
    serde_json::json!({
        "holidays": days(&c.holidays),
        "working_weekends": days(&c.working_weekends),
        "night_from": hm(c.night_from),
        "night_to": hm(c.night_to),
        "confirmed_years": c.confirmed_years,
    })
}

/// The calendar as the API and the form give it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalendarInput {
    /// Statutory holidays, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// Weekend days that are working days (调休).
    pub working_weekends: Vec<String>,
    /// Night begins (`HH:MM`, default 20:00) …
    pub night_from: String,
    /// … and ends (`HH:MM`, default 06:00).
    pub night_to: String,
    /// Years whose State Council notice is entered in full; omitted: unchanged.
    #[serde(default)]
    pub confirmed_years: Option<Vec<i32>>,
}

/// The calendar as entered; years confirmed as before unless the input says otherwise.
fn calendar_of(c: &CalendarInput, before: &Calendar) -> Result<Calendar, Error> {
    let time = |field: &'static str, s: &str| -> Result<time::Time, Error> {
        let fmt = time::macros::format_description!("[hour]:[minute]");
        time::Time::parse(s.trim(), &fmt).map_err(|_| Error::Invalid {
            field,
            msg: Msg::new("safety.permit.err.time"),
        })
    };
    Ok(Calendar {
        holidays: settings::parse_dates(&c.holidays.join("\n"))?,
        working_weekends: settings::parse_dates(&c.working_weekends.join("\n")).map_err(
            |e| match e {
                Error::Invalid { msg, .. } => Error::Invalid {
                    field: "working_weekends",
                    msg,
                },
                other => other,
            },
        )?,
        night_from: time("night_from", &c.night_from)?,
        night_to: time("night_to", &c.night_to)?,
        confirmed_years: c
            .confirmed_years
            .clone()
            .unwrap_or_else(|| before.confirmed_years.clone()),
    })
}

#[post("/safety/permits/settings/calendar")]
async fn calendar_submit(
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let input = CalendarInput {
        holidays: vec![f.get("holidays").to_string()],
        working_weekends: vec![f.get("working_weekends").to_string()],
        night_from: f.get("night_from").into(),
        night_to: f.get("night_to").into(),
        confirmed_years: None,
    };
    let (app, actor) = (ctx.app.clone(), ctx.actor());
    let before = settings::calendar(&app.store.read()?)?;
    let r = async {
        let cal = calendar_of(&input, &before)?;
        blocking(move || settings::save_calendar(&app.store, &actor, cal).map(|_| ())).await
    }
    .await;
    settings_result(&ctx, &f, r, "calendar").await
}

#[post("/safety/permits/settings/duties")]
async fn duties_submit(
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let user: u64 = f.opt("user")?.ok_or(Error::Invalid {
        field: "user",
        msg: Msg::new("safety.permit.err.user"),
    })?;
    let duties: Vec<Duty> = f
        .all("duty")
        .iter()
        .filter_map(|d| Duty::parse(d))
        .collect();
    let r = ctx
        .write(move |app, actor| settings::set_duties(&app.store, actor, user, duties))
        .await;
    settings_result(&ctx, &f, r, "duties").await
}

#[post("/safety/permits/settings/gases")]
async fn gases_submit(
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let reset = f.get("reset") == "1";
    let r = async {
        let refs = gas_refs_of(f.get("gases"))?;
        ctx.write(move |app, actor| {
            settings::save_gas_refs(&app.store, actor, refs, reset).map(|_| ())
        })
        .await
    }
    .await;
    settings_result(&ctx, &f, r, "gases").await
}

/// Imports a holiday file (multipart field `file`) and shows, per year, what changed.
#[post("/safety/permits/settings/holidays")]
async fn holidays_submit(
    ctx: Need<grant::safety::Approve>,
    mp: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    let r = import_holidays(&ctx, mp).await;
    imported(&ctx, r)
}

/// Loads the holidays this binary ships (this year's and next year's).
#[post("/safety/permits/settings/holidays/shipped")]
async fn holidays_shipped(ctx: Need<grant::safety::Approve>) -> Result<HttpResponse, AppError> {
    let r = ctx
        .write(move |app, actor| {
            settings::import_holidays(&app.store, actor, super::calendar::SHIPPED)
        })
        .await;
    imported(&ctx, r)
}

type Imported = (Calendar, Vec<(YearCoverage, YearCoverage)>);

/// The settings page after an import: the years changed, before and after, or the error.
fn imported(ctx: &Ctx, r: Result<Imported, AppError>) -> Result<HttpResponse, AppError> {
    match r {
        Ok((_, changes)) => {
            let lines: Vec<String> = changes
                .iter()
                .map(|(a, b)| {
                    t(ctx.lang, "safety.permit.imported_year")
                        .replace("{year}", &b.year.to_string())
                        .replace("{before}", &a.holidays.to_string())
                        .replace("{after}", &b.holidays.to_string())
                        .replace("{workdays}", &b.workdays.to_string())
                })
                .collect();
            let c = settings_ctx(ctx, serde_json::json!({}))?;
            ctx.page(
                "safety/permit_settings.html",
                context! { imported => lines, ..c },
            )
        }
        Err(e) => {
            let c = settings_ctx(ctx, serde_json::json!({}))?;
            ctx.form_error("safety/permit_settings.html", c, e)
        }
    }
}

async fn import_holidays(ctx: &Ctx, mp: actix_multipart::Multipart) -> Result<Imported, AppError> {
    let (_, bytes) = crate::web::form::read_upload(mp, 256 * 1024).await?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::invalid("file", "safety.permit.err.holiday_text"))?;
    ctx.write(move |app, actor| settings::import_holidays(&app.store, actor, &text))
        .await
}

// ------------------------------------------------------------------ API

/// The permit register, newest first.
#[utoipa::path(tag = "safety", params(PermitFilter), responses((status = 200, description = "Permits", body = Vec<Permit>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/permits")]
async fn api_list(
    ctx: Need<grant::safety::Read>,
    f: web::Query<PermitFilter>,
) -> Result<HttpResponse, AppError> {
    let v = svc::permits(&ctx.app.store.read()?, &f, ctx.app.offset)?;
    Ok(HttpResponse::Ok().json(v))
}

/// Drafts a permit (signed-in users with the applicant duty or safety write).
#[utoipa::path(tag = "safety", request_body = PermitInput, responses(
    (status = 201, description = "Drafted", body = Permit),
    (status = 422, description = "A field breaks a rule; the message names it"),
    (status = 403, description = "Not an applicant, or a machine token")), security(("bearer" = ["safety:read"])))]
#[post("/api/v1/safety/permits")]
async fn api_create(
    ctx: Need<Person<grant::safety::Read>>,
    body: web::Json<PermitInput>,
) -> Result<HttpResponse, AppError> {
    let s = signer(&ctx)?;
    let (app, lang, input) = (ctx.app.clone(), ctx.lang, body.into_inner());
    let p =
        blocking(move || svc::create(&app.store, &s, input, now_ms(), app.offset, lang)).await?;
    Ok(HttpResponse::Created().json(p))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct DayQuery {
    /// `YYYY-MM-DD`, default today.
    #[serde(default)]
    date: Option<String>,
}

/// Daily statistics: permits whose period touches the day, by type and level.
#[utoipa::path(tag = "safety", params(DayQuery), responses((status = 200, description = "Counts", body = Vec<svc::DayCount>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/permits/daily")]
async fn api_daily(
    ctx: Need<grant::safety::Read>,
    q: web::Query<DayQuery>,
) -> Result<HttpResponse, AppError> {
    let day = parse_day(q.date.as_deref(), ctx.app.offset);
    let v = svc::daily(&ctx.app.store.read()?, day, ctx.app.offset)?;
    Ok(HttpResponse::Ok().json(v))
}

/// Approval chains and checklists, one per type (and level).
#[utoipa::path(tag = "safety", responses((status = 200, description = "Chains", body = Vec<ChainConfig>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/permit-chains")]
async fn api_chains(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(settings::chains(&ctx.app.store.read()?, ctx.lang)?))
}

/// Sets a chain and checklist (`hot_work:special`, `confined_space`…).
#[utoipa::path(tag = "safety", params(("key" = String, Path, description = "Chain key")), request_body = ChainConfig, responses(
    (status = 204, description = "Saved"), (status = 422, description = "A step is not an approving duty")), security(("bearer" = ["safety:approve"])))]
#[put("/api/v1/safety/permit-chains/{key}")]
async fn api_chain_put(
    ctx: Need<grant::safety::Approve>,
    key: web::Path<String>,
    body: web::Json<ChainConfig>,
) -> Result<HttpResponse, AppError> {
    let mut c = body.into_inner();
    c.key = key.into_inner();
    ctx.write(move |app, actor| settings::save_chain(&app.store, actor, c, false))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Returns a chain to Annex B's default.
#[utoipa::path(tag = "safety", params(("key" = String, Path, description = "Chain key")), responses((status = 204, description = "Reset")), security(("bearer" = ["safety:approve"])))]
#[delete("/api/v1/safety/permit-chains/{key}")]
async fn api_chain_reset(
    ctx: Need<grant::safety::Approve>,
    key: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let c = ChainConfig {
        key: key.into_inner(),
        steps: Vec::new(),
        checklist: Vec::new(),
        custom: false,
    };
    if !chain_keys().contains(&c.key) {
        return Err(Error::NotFound(Msg::new("safety.permit.err.chain_key")).into());
    }
    ctx.write(move |app, actor| settings::save_chain(&app.store, actor, c, true))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The holiday calendar that decides hot-work upgrades.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Calendar", body = CalendarInput)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/permit-calendar")]
async fn api_calendar(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(calendar_view(&settings::calendar(&ctx.app.store.read()?)?)))
}

/// Replaces the holiday calendar.
#[utoipa::path(tag = "safety", request_body = CalendarInput, responses(
    (status = 200, description = "Saved", body = CalendarInput), (status = 422, description = "A date or time is malformed")), security(("bearer" = ["safety:approve"])))]
#[put("/api/v1/safety/permit-calendar")]
async fn api_calendar_put(
    ctx: Need<grant::safety::Approve>,
    body: web::Json<CalendarInput>,
) -> Result<HttpResponse, AppError> {
    let before = settings::calendar(&ctx.app.store.read()?)?;
    let cal = calendar_of(&body, &before)?;
    let cal = ctx
        .write(move |app, actor| settings::save_calendar(&app.store, actor, cal))
        .await?;
    Ok(HttpResponse::Ok().json(calendar_view(&cal)))
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct HolidayUpload {
    /// A text file, one entry per line: `YYYY-MM-DD holiday|workday [name]`; `YYYY official`
    /// for a year whose State Council notice is entered in full; `#` starts a comment.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Imports holidays and adjusted working days from a file: the years it covers replace
/// those years in the calendar.
#[utoipa::path(tag = "safety", request_body(content = inline(HolidayUpload), content_type = "multipart/form-data"), responses(
    (status = 200, description = "The calendar now", body = CalendarInput),
    (status = 422, description = "A line of the file is not understood; the message names it")), security(("bearer" = ["safety:approve"])))]
#[post("/api/v1/safety/permit-calendar/import")]
async fn api_calendar_import(
    ctx: Need<grant::safety::Approve>,
    mp: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    let (cal, _) = import_holidays(&ctx, mp).await?;
    Ok(HttpResponse::Ok().json(calendar_view(&cal)))
}

/// The toxic-gas limits permits are held to (GBZ 2.1, mg/m³).
#[utoipa::path(tag = "safety", responses((status = 200, description = "Gases", body = Vec<GasRef>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/gas-limits")]
async fn api_gas_limits(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(settings::gas_refs(&ctx.app.store.read()?)?))
}

/// Replaces the toxic-gas limits.
#[utoipa::path(tag = "safety", request_body = Vec<GasRef>, responses(
    (status = 200, description = "Saved", body = Vec<GasRef>), (status = 422, description = "A row is incomplete; the message names it")), security(("bearer" = ["safety:approve"])))]
#[put("/api/v1/safety/gas-limits")]
async fn api_gas_limits_put(
    ctx: Need<grant::safety::Approve>,
    body: web::Json<Vec<GasRef>>,
) -> Result<HttpResponse, AppError> {
    let refs = body.into_inner();
    let v = ctx
        .write(move |app, actor| settings::save_gas_refs(&app.store, actor, refs, false))
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Returns the toxic-gas limits to the shipped GBZ 2.1 values.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Reset", body = Vec<GasRef>)), security(("bearer" = ["safety:approve"])))]
#[delete("/api/v1/safety/gas-limits")]
async fn api_gas_limits_reset(ctx: Need<grant::safety::Approve>) -> Result<HttpResponse, AppError> {
    let v = ctx
        .write(move |app, actor| settings::save_gas_refs(&app.store, actor, Vec::new(), true))
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Signing duties per user id.
#[utoipa::path(tag = "safety", responses((status = 200, description = "User id → duties", body = Object)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/duties")]
async fn api_duties(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    let v: std::collections::BTreeMap<String, Vec<Duty>> =
        settings::all_duties(&ctx.app.store.read()?)?
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    Ok(HttpResponse::Ok().json(v))
}

/// Sets a user's signing duties.
#[utoipa::path(tag = "safety", params(("user" = u64, Path, description = "User id")), request_body = Vec<Duty>, responses(
    (status = 204, description = "Saved"), (status = 404, description = "No such user")), security(("bearer" = ["safety:approve"])))]
#[put("/api/v1/safety/duties/{user}")]
async fn api_duties_put(
    ctx: Need<grant::safety::Approve>,
    user: web::Path<u64>,
    body: web::Json<Vec<Duty>>,
) -> Result<HttpResponse, AppError> {
    let (u, d) = (*user, body.into_inner());
    ctx.write(move |app, actor| settings::set_duties(&app.store, actor, u, d))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One permit with its signatures, analyses and approval state.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Permit id")), responses(
    (status = 200, description = "The permit", body = Permit), (status = 404, description = "No such permit")), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/permits/{id}")]
async fn api_get(
    ctx: Need<grant::safety::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(load(&ctx, *id)?))
}

/// Changes a draft.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Permit id")), request_body = PermitInput, responses(
    (status = 200, description = "Changed", body = Permit), (status = 409, description = "Already submitted"),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["safety:read"])))]
#[put("/api/v1/safety/permits/{id}")]
async fn api_update(
    ctx: Need<Person<grant::safety::Read>>,
    id: web::Path<u64>,
    body: web::Json<PermitInput>,
) -> Result<HttpResponse, AppError> {
    let s = signer(&ctx)?;
    let (app, pid, input) = (ctx.app.clone(), *id, body.into_inner());
    let p = blocking(move || svc::update(&app.store, &s, pid, input, now_ms(), app.offset)).await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Performs one signed step of the life cycle as the signed-in person.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Permit id")), request_body = ActionInput, responses(
    (status = 200, description = "Done", body = Permit),
    (status = 403, description = "The signer lacks the duty the step needs"),
    (status = 409, description = "Not possible at this stage, or out of order"),
    (status = 422, description = "A rule refuses it; the message names the rule")), security(("bearer" = ["safety:read"])))]
#[post("/api/v1/safety/permits/{id}/actions")]
async fn api_act(
    ctx: Need<Person<grant::safety::Read>>,
    id: web::Path<u64>,
    body: web::Json<ActionInput>,
) -> Result<HttpResponse, AppError> {
    let s = signer(&ctx)?;
    let p = perform(&ctx, s, *id, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(p))
}
