//! Pages (under `/automation`) and API (`/api/v1/alarms…`) of the alarm system.
//!
//! Permissions: reading alarms needs `automation.read`; acknowledging and shelving (an
//! operator's tools, shelving always with a reason and an expiry) `automation.write`;
//! suppressing, taking out of service and changing alarm definitions `automation.approve`.

use std::time::Duration;

use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::alarms::model::{AlarmDef, Condition, Event, Instance, Priority, State};
use crate::alarms::service::{self as svc, JournalQuery, Kpi};
use crate::alarms::{Action, Summary};
use crate::app::App;
use crate::auth::model::Level;
use crate::error::Error;
use crate::i18n::{self, Lang, Msg};
use crate::modules::integration::history::{parse_time_at, range_or};
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::export;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};
use crate::web::sse;

const M: &str = "automation";
/// The journal page and API return at most this many entries (newest first).
const JOURNAL_LIMIT: usize = 1000;
/// Export at most this many journal entries.
const EXPORT_LIMIT: usize = 100_000;
/// ISA-18.2: an alarm standing longer than this is stale.
const STALE_MS: i64 = 24 * 3_600_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(alarms_page)
        .service(alarms_live)
        .service(ack_many_submit)
        .service(alarm_page)
        .service(alarm_action_submit)
        .service(journal_page)
        .service(journal_export)
        .service(kpi_page)
        .service(defs_page)
        .service(def_new_page)
        .service(def_create_submit)
        .service(def_page)
        .service(def_update_submit)
        .service(def_delete_submit)
        .service(api_alarms)
        .service(api_summary)
        .service(api_stream)
        .service(api_journal)
        .service(api_kpi)
        .service(api_defs)
        .service(api_def_create)
        .service(api_def_import)
        .service(api_def)
        .service(api_def_update)
        .service(api_def_delete)
        .service(api_alarm)
        .service(api_ack)
        .service(api_action);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_alarms,
    api_summary,
    api_stream,
    api_journal,
    api_kpi,
    api_defs,
    api_def_create,
    api_def_import,
    api_def,
    api_def_update,
    api_def_delete,
    api_alarm,
    api_ack,
    api_action
))]
pub struct Doc;

// ------------------------------------------------------------------ shared

/// What an operator action needs: a comment (required for shelving, suppressing and
/// taking out of service) and, for shelving, minutes.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ActionBody {
    #[serde(default)]
    pub comment: String,
    /// Shelving time, 1–10,080 minutes (a week).
    #[serde(default)]
    pub minutes: Option<u32>,
}

fn action_of(name: &str, minutes: Option<u32>) -> Result<(Action, Level), AppError> {
    Ok(match name {
        "ack" => (Action::Ack, Level::Write),
        "shelve" => (
            Action::Shelve {
                minutes: minutes
                    .ok_or_else(|| Error::invalid("minutes", "alarms.err.shelve_minutes"))?,
            },
            Level::Write,
        ),
        "unshelve" => (Action::Unshelve, Level::Write),
        "suppress" => (Action::Suppress, Level::Approve),
        "unsuppress" => (Action::Unsuppress, Level::Approve),
        "out-of-service" => (Action::OutOfService, Level::Approve),
        "in-service" => (Action::InService, Level::Approve),
        _ => return Err(AppError::not_found()),
    })
}

/// Runs an operator action off the web workers (it commits the journal); shelving,
/// suppressing and taking out of service also work on an alarm that is not active yet (its
/// definition must exist).
async fn act(ctx: &Ctx, id: u32, action: Action, comment: &str) -> Result<Instance, AppError> {
    let comment = comment.to_string();
    ctx.write(move |app, actor| {
        if matches!(
            action,
            Action::Shelve { .. } | Action::Suppress | Action::OutOfService
        ) {
            app.alarms.ensure_instance(id)?;
        }
        app.alarms.act(id, action, actor, &comment)
    })
    .await
}

/// An alarm definition with its tag's name, for lists and forms.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DefView {
    #[serde(flatten)]
    pub def: AlarmDef,
    pub tag_name: String,
    pub unit: String,
    pub kind: String,
    /// The condition's limit (or state) and setpoint, for display.
    pub limit: Option<f64>,
    pub setpoint: Option<f64>,
}

fn def_view(app: &App, d: AlarmDef) -> DefView {
    let tags = app.tags.defs();
    let tag = tags.get(d.tag);
    let (limit, setpoint) = match &d.condition {
        Condition::High { limit }
        | Condition::HighHigh { limit }
        | Condition::Low { limit }
        | Condition::LowLow { limit } => (Some(*limit), None),
        Condition::Deviation { setpoint, limit } => (Some(*limit), Some(*setpoint)),
        Condition::RateOfChange { limit_per_min } => (Some(*limit_per_min), None),
        Condition::Digital { state } => (Some(*state), None),
        Condition::BadQuality { max_age_s } => {
            ((*max_age_s > 0).then_some(f64::from(*max_age_s)), None)
        }
        Condition::External { .. } => (None, None),
    };
    DefView {
        tag_name: tag.map(|t| t.name.clone()).unwrap_or_default(),
        unit: tag.map(|t| t.unit.clone()).unwrap_or_default(),
        kind: d.condition.code().to_string(),
        limit,
        setpoint,
        def: d,
    }
}

fn def_views(app: &App) -> Result<Vec<DefView>, AppError> {
    let mut v: Vec<DefView> = svc::defs(&app.store.read()?)?
        .into_iter()
        .map(|d| def_view(app, d))
        .collect();
    v.sort_by(|a, b| {
        (a.kind == "external", &a.tag_name, a.def.priority, a.def.id).cmp(&(
            b.kind == "external",
            &b.tag_name,
            b.def.priority,
            b.def.id,
        ))
    });
    Ok(v)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct ListQuery {
    /// `unack`, `ack`, `rtn_unack`, `latched`, `shelved`, `suppressed`, `out_of_service`;
    /// absent: every alarm that is not normal.
    #[serde(default)]
    pub state: Option<String>,
    /// Plant area.
    #[serde(default)]
    pub area: Option<String>,
    /// `urgent`, `high`, `medium` or `low`.
    #[serde(default)]
    pub priority: Option<String>,
}

fn list(app: &App, q: &ListQuery) -> Result<Vec<Instance>, Error> {
    let state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(State::parse(s).ok_or_else(|| {
            Error::invalid_msg("state", Msg::new("alarms.err.state").arg("value", s))
        })?),
    };
    let priority = match q.priority.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(p) => Some(
            Priority::parse(p).ok_or_else(|| Error::invalid("priority", "alarms.err.priority"))?,
        ),
    };
    let area = q.area.as_deref().filter(|a| !a.is_empty());
    Ok(app
        .alarms
        .instances(state)
        .into_iter()
        .filter(|i| priority.is_none_or(|p| i.priority == p))
        .filter(|i| area.is_none_or(|a| i.area == a))
        .collect())
}

fn areas(app: &App) -> Vec<String> {
    let mut a: Vec<String> = app
        .tags
        .defs()
        .iter()
        .map(|t| t.area.clone())
        .filter(|a| !a.is_empty())
        .collect();
    a.push("safety".into());
    a.sort();
    a.dedup();
    a
}

// ------------------------------------------------------------------ live list

fn list_ctx(ctx: &Ctx, q: &ListQuery) -> Result<minijinja::Value, AppError> {
    let alarms = list(&ctx.app, q)?;
    let waiting: Vec<u32> = alarms
        .iter()
        .filter(|a| a.state.needs_operator())
        .map(|a| a.id)
        .collect();
    let query = serde_urlencoded::to_string([
        ("state", q.state.as_deref().unwrap_or("")),
        ("priority", q.priority.as_deref().unwrap_or("")),
        ("area", q.area.as_deref().unwrap_or("")),
    ])
    .unwrap_or_default();
    Ok(context! {
        waiting,
        list_url => format!("/automation/alarms?{query}"),
        live_url => format!("/automation/alarms/live?{query}"),
        alarms => to_value(&alarms),
        summary => to_value(&ctx.app.alarms.summary()),
        filter => to_value(&serde_json::json!({ "state": q.state, "area": q.area, "priority": q.priority })),
        areas => to_value(&areas(&ctx.app)),
        can_write => ctx.who.can(M, Level::Write),
        now_ms => crate::util::now_ms(),
    })
}

#[get("/automation/alarms")]
async fn alarms_page(
    ctx: Need<grant::automation::Read>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let c = list_ctx(&ctx, &q)?;
    ctx.page("automation/alarms.html", c)
}

/// The list alone, which the page swaps in when the alarm stream says something changed.
#[get("/automation/alarms/live")]
async fn alarms_live(
    ctx: Need<grant::automation::Read>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let c = list_ctx(&ctx, &q)?;
    ctx.page("automation/_alarm_list.html", c)
}

/// Acknowledges the listed alarms that wait for it (the list's "acknowledge all").
#[post("/automation/alarms/ack")]
async fn ack_many_submit(
    ctx: Need<grant::automation::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let ids: Vec<u32> = f.all("id").iter().filter_map(|s| s.parse().ok()).collect();
    let comment = f.get("comment").to_string();
    ctx.write(move |app, actor| app.alarms.ack_many(&ids, actor, &comment))
        .await?;
    Ok(redirect_with(
        &back(&f, "/automation/alarms"),
        Some("flash.acknowledged"),
    ))
}

/// `next` from a form when it is a console path, else `fallback`.
fn back(f: &FormData, fallback: &str) -> String {
    let next = f.get("next");
    if next.starts_with("/automation/") && !next.starts_with("//") {
        next.to_string()
    } else {
        fallback.to_string()
    }
}

#[get("/automation/alarms/{id:\\d+}")]
async fn alarm_page(
    ctx: Need<grant::automation::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    alarm_page_with(&ctx, *id, None)
}

fn alarm_page_with(ctx: &Ctx, id: u32, err: Option<AppError>) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let def = svc::defs(&r)?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| Error::not_found("alarms.err.not_found"))?;
    let events = svc::journal(
        &r,
        &JournalQuery {
            alarm: Some(id),
            ..Default::default()
        },
        50,
    )?;
    let cams = crate::cameras::cameras(&r)?;
    let snaps = crate::cameras::snaps_of(&r, id, &cams)?;
    let area = ctx
        .app
        .alarms
        .instance(id)
        .map(|i| i.area)
        .unwrap_or_else(|| def.area.clone());
    let cams_by_id: std::collections::BTreeMap<String, String> = cams
        .iter()
        .map(|c| (c.id.to_string(), c.name.clone()))
        .collect();
    let area_cameras: Vec<crate::cameras::Camera> = cams
        .into_iter()
        .filter(|c| c.enabled && !area.is_empty() && c.area == area)
        .map(|c| c.redacted())
        .collect();
    let clips = crate::cameras::video::record::of_alarm(&r, id, crate::util::now_ms())?;
    let c = context! {
        snaps => to_value(&snaps),
        clips => to_value(&clips),
        camera_names => to_value(&cams_by_id),
        cameras => to_value(&area_cameras),
        def => to_value(&def_view(&ctx.app, def)),
        inst => ctx.app.alarms.instance(id).map(|i| to_value(&i)),
        events => to_value(&events),
        can_write => ctx.who.can(M, Level::Write),
        can_approve => ctx.who.can(M, Level::Approve),
    };
    match err {
        None => ctx.page("automation/alarm.html", c),
        Some(e) => ctx.form_error("automation/alarm.html", c, e),
    }
}

#[post("/automation/alarms/{id:\\d+}/{action}")]
async fn alarm_action_submit(
    ctx: Need<grant::automation::Write>,
    path: web::Path<(u32, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (id, name) = path.into_inner();
    let f = FormData::from(form);
    let minutes = f.opt::<u32>("minutes")?;
    let (action, level) = action_of(&name, minutes)?;
    ctx.require(M, level)?;
    match act(&ctx, id, action, f.get("comment")).await {
        Ok(_) => Ok(redirect_with(
            &back(&f, &format!("/automation/alarms/{id}")),
            Some("flash.saved"),
        )),
        Err(e) => alarm_page_with(&ctx, id, Some(e)),
    }
}

// ------------------------------------------------------------------ journal

impl JournalParams {
    /// The page's query: times optional (none: the newest entries), local plant times as the
    /// browser's `datetime-local` sends them, or RFC 3339.
    fn page_query(&self, offset: time::UtcOffset) -> Result<JournalQuery, Error> {
        let at = |field: &'static str, s: &Option<String>| -> Result<Option<i64>, Error> {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parse_time_at(field, s, Some(offset)))
                .transpose()
        };
        Ok(JournalQuery {
            from_ms: at("from", &self.from)?,
            to_ms: at("to", &self.to)?,
            priority: self.priority.clone(),
            area: self.area.clone(),
            q: self.q.clone(),
            alarm: self.alarm,
        })
    }
}

#[get("/automation/journal")]
async fn journal_page(
    ctx: Need<grant::automation::Read>,
    q: web::Query<JournalParams>,
) -> Result<HttpResponse, AppError> {
    let (events, error) = match q.page_query(ctx.app.offset) {
        Ok(jq) => (
            svc::journal(&ctx.app.store.read()?, &jq, JOURNAL_LIMIT)?,
            None,
        ),
        Err(e) => (Vec::new(), Some(e.msg().render(ctx.lang))),
    };
    let export_query = serde_urlencoded::to_string([
        ("from", q.from.as_deref().unwrap_or("")),
        ("to", q.to.as_deref().unwrap_or("")),
        ("priority", q.priority.as_deref().unwrap_or("")),
        ("area", q.area.as_deref().unwrap_or("")),
        ("q", q.q.as_deref().unwrap_or("")),
    ])
    .unwrap_or_default();
    ctx.page(
        "automation/journal.html",
        context! {
            truncated => events.len() >= JOURNAL_LIMIT,
            events => to_value(&events),
            filter => to_value(&serde_json::json!({ "from": q.from, "to": q.to, "priority": q.priority, "area": q.area, "q": q.q })),
            areas => to_value(&areas(&ctx.app)),
            export_query,
            limit => JOURNAL_LIMIT,
            error,
        },
    )
}

fn event_label(lang: Lang, prefix: &str, v: &impl Serialize) -> String {
    let code = serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    i18n::t(lang, &format!("{prefix}.{code}")).to_string()
}

#[get("/automation/journal/export")]
async fn journal_export(
    ctx: Need<grant::automation::Read>,
    q: web::Query<JournalParams>,
) -> Result<HttpResponse, AppError> {
    let jq = q.page_query(ctx.app.offset)?;
    let format = export::Format::parse(q.format.as_deref());
    let (app, lang, offset) = (ctx.app.clone(), ctx.lang, ctx.app.offset);
    let bytes = blocking(move || {
        let events = svc::journal(&app.store.read()?, &jq, EXPORT_LIMIT)?;
        let head = [
            "time", "priority", "event", "state", "tag", "area", "message", "value", "user",
            "comment",
        ]
        .iter()
        .map(|k| i18n::t(lang, &format!("alarms.col.{k}")).to_string())
        .collect();
        let rows = events
            .iter()
            .map(|e| {
                vec![
                    crate::plant_time::format_ms(e.ts_ms, offset),
                    event_label(lang, "alarms.priority", &e.priority),
                    event_label(lang, "alarms.event", &e.kind),
                    event_label(lang, "alarms.state", &e.state),
                    e.tag.clone(),
                    e.area.clone(),
                    match lang {
                        Lang::ZhCn => e.message_zh.clone(),
                        Lang::En => e.message_en.clone(),
                    },
                    e.value.map(|v| v.to_string()).unwrap_or_default(),
                    e.user.clone().unwrap_or_default(),
                    e.comment.clone().unwrap_or_default(),
                ]
            })
            .collect();
        export::Table {
            head,
            rows,
            numeric_from: 7,
        }
        .bytes(format)
    })
    .await?;
    Ok(export::attachment(
        &format!(
            "alarm-journal-{}",
            crate::plant_time::format_ms(crate::util::now_ms(), offset)
        ),
        format,
        bytes,
    ))
}

// ------------------------------------------------------------------ KPI

#[derive(Deserialize, Default)]
pub struct KpiForm {
    /// `24h`, `7d` or `30d`.
    #[serde(default)]
    pub range: Option<String>,
}

#[get("/automation/kpi")]
async fn kpi_page(
    ctx: Need<grant::automation::Read>,
    q: web::Query<KpiForm>,
) -> Result<HttpResponse, AppError> {
    let range = q.range.clone().unwrap_or_else(|| "24h".into());
    let hours = match range.as_str() {
        "7d" => 7 * 24,
        "30d" => 30 * 24,
        _ => 24,
    };
    let to = crate::util::now_ms();
    let from = to - hours * 3_600_000;
    let app = ctx.app.clone();
    let k = blocking(move || svc::kpi(&app.store.read()?, from, to)).await?;
    let stale = ctx.app.alarms.stale(to, STALE_MS);
    ctx.page(
        "automation/kpi.html",
        context! {
            kpi => to_value(&k),
            stale => to_value(&stale),
            range,
            flood_minutes => k.floods.iter().map(|f| (f.end_ms - f.start_ms) / 60_000).sum::<i64>(),
        },
    )
}

// ------------------------------------------------------------------ definitions

#[get("/automation/defs")]
async fn defs_page(ctx: Need<grant::automation::Read>) -> Result<HttpResponse, AppError> {
    ctx.page(
        "automation/defs.html",
        context! { defs => to_value(&def_views(&ctx.app)?), can_approve => ctx.who.can(M, Level::Approve) },
    )
}

const KINDS: [&str; 8] = [
    "high_high",
    "high",
    "low",
    "low_low",
    "deviation",
    "rate_of_change",
    "digital",
    "bad_quality",
];

fn def_form_ctx(ctx: &Ctx, def: Option<&DefView>, values: serde_json::Value) -> minijinja::Value {
    let mut tags: Vec<(String, String)> = ctx
        .app
        .tags
        .defs()
        .iter()
        .filter(|t| t.data_type != crate::tags::model::DataType::String)
        .map(|t| {
            let d = match ctx.lang {
                Lang::ZhCn => &t.description_zh,
                Lang::En => &t.description_en,
            };
            (t.name.clone(), d.clone())
        })
        .collect();
    tags.sort();
    context! {
        def => def.map(to_value),
        values => to_value(&values),
        tags => to_value(&tags),
        kinds => KINDS.to_vec(),
        priorities => Priority::ALL.iter().map(|p| p.id()).collect::<Vec<_>>(),
        can_approve => ctx.who.can(M, Level::Approve),
    }
}

fn def_values(v: &DefView) -> serde_json::Value {
    let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    serde_json::json!({
        "tag": v.tag_name, "kind": v.kind, "limit": num(v.limit), "setpoint": num(v.setpoint),
        "priority": v.def.priority.id(), "deadband": v.def.deadband.to_string(),
        "on_delay_s": v.def.on_delay_s.to_string(), "off_delay_s": v.def.off_delay_s.to_string(),
        "message_zh": v.def.message_zh, "message_en": v.def.message_en, "area": v.def.area,
        "latch": if v.def.latch { "on" } else { "" }, "enabled": if v.def.enabled { "on" } else { "" },
    })
}

fn def_from_form(app: &App, id: u32, f: &FormData) -> Result<AlarmDef, Error> {
    let tag = app
        .tags
        .defs()
        .by_name(f.get("tag").trim())
        .map(|t| t.id)
        .ok_or_else(|| Error::invalid("tag", "alarms.err.tag"))?;
    Ok(AlarmDef {
        id,
        tag,
        condition: svc::condition_of(f.get("kind"), f.opt("limit")?, f.opt("setpoint")?)?,
        priority: Priority::parse(f.get("priority"))
            .ok_or_else(|| Error::invalid("priority", "alarms.err.priority"))?,
        deadband: f.opt("deadband")?.unwrap_or(0.0),
        on_delay_s: f.opt("on_delay_s")?.unwrap_or(0),
        off_delay_s: f.opt("off_delay_s")?.unwrap_or(0),
        message_zh: f.get("message_zh").into(),
        message_en: f.get("message_en").into(),
        area: f.get("area").into(),
        latch: f.checked("latch"),
        enabled: f.checked("enabled"),
    })
}

/// Saves a definition and makes the engine use it.
fn save(app: &App, actor: &crate::store::Actor, d: AlarmDef) -> Result<AlarmDef, Error> {
    let d = svc::save_def(&app.store, actor, &app.tags.defs(), d)?;
    app.alarms.reload()?;
    Ok(d)
}

fn load_def(app: &App, id: u32) -> Result<DefView, Error> {
    let d = svc::defs(&app.store.read()?)?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| Error::not_found("alarms.err.not_found"))?;
    Ok(def_view(app, d))
}

#[get("/automation/defs/new")]
async fn def_new_page(
    ctx: Need<grant::automation::Approve>,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let tag = q.get("tag").cloned().unwrap_or_default();
    let c = def_form_ctx(
        &ctx,
        None,
        serde_json::json!({"tag": tag, "kind": "high", "priority": "high", "deadband": "0", "on_delay_s": "0", "off_delay_s": "0", "enabled": "on"}),
    );
    ctx.page("automation/def_form.html", c)
}

#[post("/automation/defs")]
async fn def_create_submit(
    ctx: Need<grant::automation::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let result = async {
        let d = def_from_form(&ctx.app, 0, &f)?;
        ctx.write(move |app, actor| save(app, actor, d)).await
    }
    .await;
    ctx.done(
        result.map(|d| format!("/automation/alarms/{}", d.id)),
        "flash.saved",
        "automation/def_form.html",
        || Ok(def_form_ctx(&ctx, None, f.echo())),
    )
}

#[get("/automation/defs/{id:\\d+}")]
async fn def_page(
    ctx: Need<grant::automation::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let v = load_def(&ctx.app, *id)?;
    if v.kind == "external" {
        // module alarms are configured by their module; show the alarm instead
        return Ok(redirect_with(
            &format!("/automation/alarms/{}", v.def.id),
            None,
        ));
    }
    let values = def_values(&v);
    let c = def_form_ctx(&ctx, Some(&v), values);
    ctx.page("automation/def_form.html", c)
}

#[post("/automation/defs/{id:\\d+}")]
async fn def_update_submit(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = *id;
    let result = async {
        let d = def_from_form(&ctx.app, id, &f)?;
        ctx.write(move |app, actor| save(app, actor, d)).await
    }
    .await;
    ctx.done(
        result.map(|d| format!("/automation/defs/{}", d.id)),
        "flash.saved",
        "automation/def_form.html",
        || {
            let v = load_def(&ctx.app, id)?;
            let c = def_form_ctx(&ctx, Some(&v), f.echo());
            Ok(c)
        },
    )
}

#[post("/automation/defs/{id:\\d+}/delete")]
async fn def_delete_submit(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    ctx.write(move |app, actor| {
        svc::delete_def(&app.store, actor, id)?;
        app.alarms.reload()
    })
    .await?;
    Ok(redirect_with("/automation/defs", Some("flash.deleted")))
}

// ------------------------------------------------------------------ API

/// Live alarms (not normal), most urgent and newest first.
#[utoipa::path(tag = "alarms", params(ListQuery), responses(
    (status = 200, description = "Alarms", body = Vec<Instance>),
    (status = 422, description = "Unknown state or priority")), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms")]
async fn api_alarms(
    ctx: Need<grant::automation::Read>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(list(&ctx.app, &q)?))
}

/// How many alarms stand in which state.
#[utoipa::path(tag = "alarms", responses((status = 200, description = "Counts", body = Summary)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms/summary")]
async fn api_summary(ctx: Need<grant::automation::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(ctx.app.alarms.summary()))
}

/// One alarm: its live state, or 404 when it has no definition. A defined alarm that has
/// never been raised answers with state `normal`.
#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Alarm (definition) id")), responses(
    (status = 200, description = "The alarm", body = Instance), (status = 404, description = "No such alarm")), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms/{id:\\d+}")]
async fn api_alarm(
    ctx: Need<grant::automation::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    if ctx.app.alarms.instance(*id).is_none() {
        ctx.app.alarms.ensure_instance(*id)?;
    }
    let inst = ctx
        .app
        .alarms
        .instance(*id)
        .ok_or_else(|| Error::not_found("alarms.err.not_found"))?;
    Ok(HttpResponse::Ok().json(inst))
}

/// The body of an action request: may be empty; otherwise JSON.
fn action_body(body: &web::Bytes) -> Result<ActionBody, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionBody::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request(Msg::new("web.err.bad_json").arg("detail", e)))
}

/// Acknowledges an alarm (unacknowledged → acknowledged; returned or latched → normal),
/// with an optional comment. The body may be empty.
#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Alarm id")), request_body(content = ActionBody, description = "Optional"), responses(
    (status = 200, description = "The alarm after the action", body = Instance),
    (status = 404, description = "No such alarm"),
    (status = 409, description = "Nothing to acknowledge")), security(("bearer" = ["automation:write"])))]
#[post("/api/v1/alarms/{id:\\d+}/ack")]
async fn api_ack(
    ctx: Need<grant::automation::Write>,
    id: web::Path<u32>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let b = action_body(&body)?;
    Ok(HttpResponse::Ok().json(act(&ctx, *id, Action::Ack, &b.comment).await?))
}

/// Shelves (`minutes` and `comment` required), unshelves, suppresses or takes an alarm out
/// of service (`comment` required) and back. `action`: `shelve`, `unshelve`, `suppress`,
/// `unsuppress`, `out-of-service`, `in-service`. Suppressing and service changes need
/// `automation.approve`.
#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Alarm id"), ("action" = String, Path, description = "The action")),
    request_body = ActionBody, responses(
    (status = 200, description = "The alarm after the action", body = Instance),
    (status = 404, description = "No such alarm or action"),
    (status = 409, description = "The action does not apply in the alarm's state"),
    (status = 422, description = "Comment or minutes missing or out of range")), security(("bearer" = ["automation:write"])))]
#[post("/api/v1/alarms/{id:\\d+}/{action}")]
async fn api_action(
    ctx: Need<grant::automation::Write>,
    path: web::Path<(u32, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (id, name) = path.into_inner();
    let b = action_body(&body)?;
    let (action, level) = action_of(&name, b.minutes)?;
    ctx.require(M, level)?;
    Ok(HttpResponse::Ok().json(act(&ctx, id, action, &b.comment).await?))
}

#[derive(Serialize)]
struct Changed<'a> {
    events: &'a [Event],
    summary: Summary,
}

/// Alarm changes as Server-Sent Events: `summary` first, then `changed` (the journal
/// entries and the new counts) whenever alarms change; a comment every 15 s.
#[utoipa::path(tag = "alarms", responses(
    (status = 200, description = "text/event-stream", content_type = "text/event-stream", body = String)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms/stream")]
async fn api_stream(ctx: Need<grant::automation::Read>) -> Result<HttpResponse, AppError> {
    let alarms = ctx.app.alarms.clone();
    let rx = alarms.subscribe();
    let first = sse::event("summary", &alarms.summary());
    let updates = futures_util::stream::unfold((rx, alarms), |(mut rx, alarms)| async move {
        use tokio::sync::broadcast::error::{RecvError, TryRecvError};
        let mut events = Vec::new();
        match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
            Err(_) => return Some((Ok::<_, actix_web::Error>(sse::keep_alive()), (rx, alarms))),
            Ok(Err(RecvError::Closed)) => return None,
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Ok(e)) => events.push(e),
        }
        // an alarm flood arrives as one message per burst, not one per alarm
        loop {
            match rx.try_recv() {
                Ok(e) if events.len() < 200 => events.push(e),
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => break,
            }
        }
        let bytes = sse::event(
            "changed",
            &Changed {
                events: &events,
                summary: alarms.summary(),
            },
        );
        Some((Ok(bytes), (rx, alarms)))
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(first) }),
        updates,
    );
    Ok(sse::response(stream))
}

/// Journal filters (the API's times default to the last 24 hours).
#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct JournalParams {
    /// From, RFC 3339. Default: 24 hours before `to`.
    #[serde(default)]
    pub from: Option<String>,
    /// To, RFC 3339. Default: now.
    #[serde(default)]
    pub to: Option<String>,
    /// `urgent`, `high`, `medium` or `low`.
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub area: Option<String>,
    /// Text in tag or message.
    #[serde(default)]
    pub q: Option<String>,
    /// One alarm.
    #[serde(default)]
    pub alarm: Option<u32>,
    /// At most this many entries (1–10,000, default 1,000), newest first.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Export only: `csv` or `xlsx`.
    #[serde(default)]
    #[param(ignore)]
    pub format: Option<String>,
}

/// The alarm journal: raised, returned, acknowledged, shelved… newest first.
#[utoipa::path(tag = "alarms", params(JournalParams), responses(
    (status = 200, description = "Journal entries", body = Vec<Event>),
    (status = 422, description = "A time is not RFC 3339, or from ≥ to")), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms/journal")]
async fn api_journal(
    ctx: Need<grant::automation::Read>,
    q: web::Query<JournalParams>,
) -> Result<HttpResponse, AppError> {
    let (from, to) = range_or(q.from.as_deref(), q.to.as_deref(), 24 * 3_600_000)?;
    let limit = q.limit.unwrap_or(JOURNAL_LIMIT);
    if !(1..=10_000).contains(&limit) {
        return Err(Error::invalid("limit", "alarms.err.limit_range").into());
    }
    let jq = JournalQuery {
        from_ms: Some(from),
        to_ms: Some(to),
        priority: q.priority.clone(),
        area: q.area.clone(),
        q: q.q.clone(),
        alarm: q.alarm,
    };
    let app = ctx.app.clone();
    let events = blocking(move || svc::journal(&app.store.read()?, &jq, limit)).await?;
    Ok(HttpResponse::Ok().json(events))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct KpiParams {
    /// From, RFC 3339. Default: 24 hours before `to`.
    #[serde(default)]
    pub from: Option<String>,
    /// To, RFC 3339. Default: now.
    #[serde(default)]
    pub to: Option<String>,
}

/// Alarm-system performance over a period: alarms per hour, the peak 10 minutes, floods,
/// the top ten and chattering alarms (ISA-18.2, EEMUA 191).
#[utoipa::path(tag = "alarms", params(KpiParams), responses((status = 200, description = "KPIs", body = Kpi)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms/kpi")]
async fn api_kpi(
    ctx: Need<grant::automation::Read>,
    q: web::Query<KpiParams>,
) -> Result<HttpResponse, AppError> {
    let (from, to) = range_or(q.from.as_deref(), q.to.as_deref(), 24 * 3_600_000)?;
    let app = ctx.app.clone();
    let k = blocking(move || svc::kpi(&app.store.read()?, from, to)).await?;
    Ok(HttpResponse::Ok().json(k))
}

/// Alarm definitions (tag alarms, and module alarms as `external`).
#[utoipa::path(tag = "alarms", responses((status = 200, description = "Definitions", body = Vec<DefView>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms/defs")]
async fn api_defs(ctx: Need<grant::automation::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(def_views(&ctx.app)?))
}

/// Adds a tag alarm (`id` is assigned; send 0). `tag` is the tag's numeric id.
#[utoipa::path(tag = "alarms", request_body = AlarmDef, responses(
    (status = 201, description = "Created", body = AlarmDef),
    (status = 422, description = "A field breaks a rule; `error.field` names it")), security(("bearer" = ["automation:approve"])))]
#[post("/api/v1/alarms/defs")]
async fn api_def_create(
    ctx: Need<grant::automation::Approve>,
    body: web::Json<AlarmDef>,
) -> Result<HttpResponse, AppError> {
    let d = AlarmDef {
        id: 0,
        ..body.into_inner()
    };
    let d = ctx.write(move |app, actor| save(app, actor, d)).await?;
    Ok(HttpResponse::Created().json(d))
}

/// Adds many tag alarms at once (up to 100,000; `id` ignored). Every row is checked
/// first: either all are added, or none is and `error.rows` lists each bad row (1-based)
/// with its field and message.
#[utoipa::path(tag = "alarms", request_body = Vec<AlarmDef>, responses(
    (status = 201, description = "Created, with their ids", body = Vec<AlarmDef>),
    (status = 422, description = "Rows break rules; nothing was added")), security(("bearer" = ["automation:approve"])))]
#[post("/api/v1/alarms/defs/import")]
async fn api_def_import(
    ctx: Need<grant::automation::Approve>,
    body: web::Json<Vec<AlarmDef>>,
) -> Result<HttpResponse, AppError> {
    let defs = body.into_inner();
    let created = ctx
        .write(move |app, actor| {
            let d = svc::import_defs(&app.store, actor, &app.tags.defs(), defs)?;
            app.alarms.reload()?;
            Ok(d)
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Definition id")), responses(
    (status = 200, description = "The definition", body = DefView), (status = 404, description = "No such definition")), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/alarms/defs/{id:\\d+}")]
async fn api_def(
    ctx: Need<grant::automation::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(load_def(&ctx.app, *id)?))
}

/// Replaces a tag alarm's definition.
#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Definition id")), request_body = AlarmDef, responses(
    (status = 200, description = "Updated", body = AlarmDef), (status = 404, description = "No such definition"),
    (status = 422, description = "A field breaks a rule")), security(("bearer" = ["automation:approve"])))]
#[put("/api/v1/alarms/defs/{id:\\d+}")]
async fn api_def_update(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
    body: web::Json<AlarmDef>,
) -> Result<HttpResponse, AppError> {
    let d = AlarmDef {
        id: *id,
        ..body.into_inner()
    };
    let d = ctx.write(move |app, actor| save(app, actor, d)).await?;
    Ok(HttpResponse::Ok().json(d))
}

#[utoipa::path(tag = "alarms", params(("id" = u32, Path, description = "Definition id")), responses(
    (status = 204, description = "Deleted"), (status = 404, description = "No such definition")), security(("bearer" = ["automation:approve"])))]
#[delete("/api/v1/alarms/defs/{id:\\d+}")]
async fn api_def_delete(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    ctx.write(move |app, actor| {
        svc::delete_def(&app.store, actor, id)?;
        app.alarms.reload()
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
