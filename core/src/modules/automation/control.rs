//! Safe control: the rules a write to the process must pass beyond the tag's own (writable,
//! type, engineering range): the largest step one write may make, the least time between
//! two writes, and interlocks — permissive conditions on other tags that must hold. Rules
//! belong to the automation module (operating the process); every write, from a screen, the
//! tag page or `POST /api/v1/tags/{name}/write`, goes through [`check`]. Where an input a
//! rule needs is missing (no current value to measure a step from, an interlock tag without
//! a good value) the write is refused: the stricter way. A tag marked critical is written
//! only by two people: one asks for the write, another confirms it (not the same person,
//! not a token), within ten minutes; the write then passes every rule again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::store::{Actor, Reader, Store, Table};
use crate::web::error::AppError;
use crate::web::grant::{self, Need};

/// Control rules by tag id (a rename keeps them). Only this file reads or writes it.
const RULES: Table<u64, ControlRule> = Table::new("automation.control_rules");

/// How an interlock compares another tag's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Cmp {
    pub fn holds(self, x: f64, v: f64) -> bool {
        match self {
            Cmp::Lt => x < v,
            Cmp::Le => x <= v,
            Cmp::Gt => x > v,
            Cmp::Ge => x >= v,
            Cmp::Eq => (x - v).abs() < 1e-9,
            Cmp::Ne => (x - v).abs() >= 1e-9,
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "≤",
            Cmp::Gt => ">",
            Cmp::Ge => "≥",
            Cmp::Eq => "=",
            Cmp::Ne => "≠",
        }
    }
}

/// A permissive: the write is allowed only while `tag` `op` `value` holds (a bool tag
/// reads 1 for true).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Interlock {
    pub tag: String,
    pub op: Cmp,
    pub value: f64,
    /// Why, as the operator sees it when it blocks (夹套冷却水阀未开…).
    #[serde(default)]
    pub text: String,
}

/// The rules on writes to one tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ControlRule {
    /// The tag's name when the rule was saved (the API answers with the name now).
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub tag_id: u32,
    /// The largest change one write may make from the current value (engineering units).
    #[serde(default)]
    pub max_step: Option<f64>,
    /// The least time between two writes to the tag, seconds.
    #[serde(default)]
    pub min_interval_s: u32,
    #[serde(default)]
    pub interlocks: Vec<Interlock>,
    /// A write needs two people: one asks (`POST /api/v1/automation/writes`), another
    /// confirms; a direct write is refused.
    #[serde(default)]
    pub critical: bool,
}

/// Why a write is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocked {
    /// The step from the current value is larger than allowed.
    Step { delta: f64, max: f64 },
    /// No current value to measure the step from.
    NoCurrent,
    /// Written too recently: this many seconds to wait.
    TooSoon { wait_s: i64 },
    /// An interlock does not hold (or its tag has no good value: `value` None).
    Interlock {
        tag: String,
        op: Cmp,
        want: f64,
        value: Option<f64>,
        text: String,
    },
}

/// Judges a write of `new` against a rule: the step from `current`, the time since the
/// last write, each interlock by `value_of` (a tag's good value, None when it has none).
/// Pure; the first refusal found is returned.
pub fn judge(
    rule: &ControlRule,
    current: Option<f64>,
    new: f64,
    last_write_ms: Option<i64>,
    now_ms: i64,
    value_of: &dyn Fn(&str) -> Option<f64>,
) -> std::result::Result<(), Blocked> {
    for i in &rule.interlocks {
        let value = value_of(&i.tag);
        if !value.is_some_and(|x| i.op.holds(x, i.value)) {
            return Err(Blocked::Interlock {
                tag: i.tag.clone(),
                op: i.op,
                want: i.value,
                value,
                text: i.text.clone(),
            });
        }
    }
    if let Some(max) = rule.max_step {
        let Some(cur) = current else {
            return Err(Blocked::NoCurrent);
        };
        let delta = (new - cur).abs();
        if delta > max + 1e-9 {
            return Err(Blocked::Step { delta, max });
        }
    }
    if rule.min_interval_s > 0
        && let Some(last) = last_write_ms
    {
        let wait_ms = last + i64::from(rule.min_interval_s) * 1000 - now_ms;
        if wait_ms > 0 {
            return Err(Blocked::TooSoon {
                wait_s: (wait_ms + 999) / 1000,
            });
        }
    }
    Ok(())
}

impl Blocked {
    pub fn msg(&self) -> Msg {
        let n = |x: f64| format!("{}", (x * 1e6).round() / 1e6);
        match self {
            Blocked::Step { delta, max } => Msg::new("automation.control.err.step")
                .arg("delta", n(*delta))
                .arg("max", n(*max)),
            Blocked::NoCurrent => Msg::new("automation.control.err.no_current"),
            Blocked::TooSoon { wait_s } => {
                Msg::new("automation.control.err.too_soon").arg("seconds", wait_s)
            }
            Blocked::Interlock {
                tag,
                op,
                want,
                value,
                text,
            } => Msg::new("automation.control.err.interlock")
                .arg("tag", tag)
                .arg("condition", format!("{} {}", op.symbol(), n(*want)))
                .arg("value", value.map_or("—".to_string(), n))
                .arg("text", text),
        }
    }
}

// ------------------------------------------------------------------ service

pub fn rules(r: &impl Reader) -> Result<Vec<ControlRule>> {
    Ok(r.values(&RULES)?)
}

pub fn rule(r: &impl Reader, tag_id: u32) -> Result<Option<ControlRule>> {
    Ok(r.get(&RULES, &u64::from(tag_id))?)
}

/// Saves the rules of a writable tag (`tag`: its id and whether it is writable, None when
/// there is no such tag). Interlock tags must exist and not be the tag itself; a step is a
/// positive number; an interval at most an hour.
pub fn save_rule(
    store: &Store,
    actor: &Actor,
    mut rule: ControlRule,
    tag_of: &dyn Fn(&str) -> Option<Arc<crate::tags::model::Tag>>,
) -> Result<ControlRule> {
    use crate::tags::model::DataType;
    let Some(tag) = tag_of(&rule.tag) else {
        return Err(Error::NotFound(
            Msg::new("tags.err.tag_not_found").arg("name", &rule.tag),
        ));
    };
    if !tag.writable {
        return Err(Error::invalid("tag", "tags.err.not_writable"));
    }
    rule.tag_id = tag.id;
    // a step on an on/off tag would block every command
    if tag.data_type == DataType::Bool && rule.max_step.is_some() {
        return Err(Error::invalid(
            "max_step",
            "automation.control.err.step_bool",
        ));
    }
    if rule.max_step.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        return Err(Error::invalid(
            "max_step",
            "automation.control.err.max_step",
        ));
    }
    if rule.min_interval_s > 3600 {
        return Err(Error::invalid(
            "min_interval_s",
            "automation.control.err.interval",
        ));
    }
    if rule.interlocks.len() > 20 {
        return Err(Error::invalid(
            "interlocks",
            "automation.control.err.interlocks",
        ));
    }
    for (n, i) in rule.interlocks.iter_mut().enumerate() {
        i.tag = i.tag.trim().to_string();
        i.text = text("interlocks", &i.text, 100, false)?;
        let why = if i.tag == rule.tag {
            Some("automation.control.err.interlock_self")
        } else if tag_of(&i.tag).is_none() {
            Some("automation.control.err.interlock_unknown")
        } else if !i.value.is_finite() {
            Some("automation.control.err.interlock_tag")
        } else {
            None
        };
        let (None, Some(other)) = (why, tag_of(&i.tag)) else {
            return Err(Error::invalid_msg(
                "interlocks",
                Msg::new(why.unwrap_or("automation.control.err.interlock_tag"))
                    .arg("line", n + 1)
                    .arg("tag", &i.tag),
            ));
        };
        // a condition its tag can never meet would block the write for good
        let never = |key: &'static str| {
            Error::invalid_msg(
                "interlocks",
                Msg::new(key).arg("line", n + 1).arg("tag", &i.tag),
            )
        };
        match other.data_type {
            DataType::String => return Err(never("automation.control.err.interlock_text")),
            DataType::Int if i.value.fract() != 0.0 && matches!(i.op, Cmp::Eq) => {
                return Err(never("automation.control.err.interlock_int"));
            }
            _ => {}
        }
        // past the range a value is not good: a condition only values beyond it meet
        // can never hold
        let (lo, hi) = (other.range_lo, other.range_hi);
        let reachable = match (other.data_type, i.op) {
            (DataType::Bool, _) => i.value == 0.0 || i.value == 1.0,
            (_, Cmp::Eq) => other.in_range(i.value),
            (_, Cmp::Ne) => true,
            (_, Cmp::Lt) => lo.is_none_or(|lo| i.value > lo),
            (_, Cmp::Le) => lo.is_none_or(|lo| i.value >= lo),
            (_, Cmp::Gt) => hi.is_none_or(|hi| i.value < hi),
            (_, Cmp::Ge) => hi.is_none_or(|hi| i.value <= hi),
        };
        if !reachable {
            let key = if other.data_type == DataType::Bool {
                "automation.control.err.interlock_bool"
            } else {
                "automation.control.err.interlock_range"
            };
            let bound = |b: Option<f64>, none: &str| b.map_or(none.to_string(), |x| x.to_string());
            return Err(Error::invalid_msg(
                "interlocks",
                Msg::new(key)
                    .arg("line", n + 1)
                    .arg("tag", &i.tag)
                    .arg("lo", bound(other.range_lo, "−∞"))
                    .arg("hi", bound(other.range_hi, "∞")),
            ));
        }
    }
    let mut w = store.write(actor)?;
    let key = u64::from(rule.tag_id);
    let before = w.get(&RULES, &key)?;
    if before.as_ref().is_some_and(|b| b.critical) && !rule.critical {
        lifting_two_person_rule(actor)?;
    }
    w.insert(&RULES, &key, &rule)?;
    w.audit_saved(
        "automation.control",
        format!("control:{}", rule.tag),
        before,
        &rule,
    );
    w.commit()?;
    Ok(rule)
}

/// Taking a tag's two-person rule away is a person's act, signed in (not a token or a
/// plugin): a machine must not be able to undo what two people are required for.
fn lifting_two_person_rule(actor: &Actor) -> Result<()> {
    if actor.kind != crate::store::ActorKind::User {
        return Err(Error::Forbidden(Msg::new(
            "automation.control.err.critical_person",
        )));
    }
    Ok(())
}

/// Takes the rules of the tag named `tag` away.
pub fn delete_rule_of(app: &App, actor: &Actor, tag: &str) -> Result<()> {
    let id = app
        .tags
        .defs()
        .by_name(tag)
        .map(|t| t.id)
        .ok_or_else(|| Error::NotFound(Msg::new("tags.err.tag_not_found").arg("name", tag)))?;
    delete_rule(&app.store, actor, id, tag)
}

pub fn delete_rule(store: &Store, actor: &Actor, tag_id: u32, tag: &str) -> Result<()> {
    let mut w = store.write(actor)?;
    let key = u64::from(tag_id);
    let Some(before) = w.get(&RULES, &key)? else {
        return Err(Error::not_found("automation.control.err.not_found"));
    };
    if before.critical {
        lifting_two_person_rule(actor)?;
    }
    w.remove(&RULES, &key)?;
    w.audit(
        "automation.control.delete",
        format!("control:{tag}"),
        crate::store::Change::deleted(&before),
    );
    w.commit()?;
    Ok(())
}

/// When each tag was last written (since the box started), and the confirmed critical
/// writes about to be sent: (tag, value) cleared by a second person.
#[derive(Default)]
struct LastWrites(Mutex<HashMap<String, i64>>, Mutex<Vec<(String, f64)>>);

/// Takes the clearance of a confirmed write of `value` to `tag`, if there is one.
fn take_cleared(app: &App, tag: &str, value: f64) -> bool {
    let state = last_writes(app);
    let mut cleared = state.1.lock().expect("cleared lock is never poisoned");
    match cleared
        .iter()
        .position(|(t, v)| t == tag && (v - value).abs() < 1e-9)
    {
        Some(i) => {
            cleared.swap_remove(i);
            true
        }
        None => false,
    }
}

fn last_writes(app: &App) -> Arc<LastWrites> {
    app.state(LastWrites::default)
}

/// A tag's current value when its quality is good (bools as 0/1).
fn good_value(app: &App, tag: &str) -> Option<f64> {
    let id = app.tags.defs().by_name(tag)?.id;
    let c = app.tags.current(id)?;
    if !c.quality.is_good() {
        return None;
    }
    c.value.and_then(|v| v.as_f64())
}

/// Checks a write of `new` to `tag` against its control rules (none: nothing to check).
/// Refusals are conflicts naming the rule; nothing is written.
pub fn check(app: &App, t: &crate::tags::model::Tag, new: f64) -> Result<()> {
    let Some(rule) = rule(&app.store.read()?, t.id)? else {
        return Ok(());
    };
    let tag = t.name.as_str();
    // a critical write goes only as a confirmed request (cleared just before it is sent)
    if rule.critical && !take_cleared(app, tag, new) {
        return Err(Error::Conflict(Msg::new("automation.control.err.critical")));
    }
    let last = last_writes(app)
        .0
        .lock()
        .expect("last writes lock is never poisoned")
        .get(tag)
        .copied();
    judge(
        &rule,
        good_value(app, tag),
        new,
        last,
        crate::util::now_ms(),
        &|t| good_value(app, t),
    )
    .map_err(|b| Error::Conflict(b.msg()))
}

/// Notes a write that went through (for the interval rule).
pub fn written(app: &App, tag: &str) {
    last_writes(app)
        .0
        .lock()
        .expect("last writes lock is never poisoned")
        .insert(tag.to_string(), crate::util::now_ms());
}

// ------------------------------------------------------------------ two-person writes

/// Write requests by id. Only this file reads or writes it.
const REQUESTS: Table<u64, WriteRequest> = Table::new("automation.write_requests");

/// How long a request waits for its second person.
const REQUEST_TTL_MS: i64 = 10 * 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    /// Confirmed; being written.
    Confirming,
    /// Confirmed and written.
    Written,
    /// Confirmed, and the write was refused or failed (`outcome` says why).
    Failed,
    Expired,
}

/// A critical write asked for by one person, waiting for another's confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WriteRequest {
    pub id: u64,
    pub tag: String,
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// The value when asked (old → new, as the confirmer sees it).
    #[schema(value_type = Object)]
    pub old: Option<serde_json::Value>,
    pub by_id: u64,
    pub by: String,
    pub at_ms: i64,
    pub state: RequestState,
    #[serde(default)]
    pub confirmed_by: String,
    #[serde(default)]
    pub outcome: String,
}

/// A person's name and id; tokens are refused (two people, not one and a machine).
fn person(r: &impl Reader, actor: &Actor) -> Result<(u64, String)> {
    if actor.kind != crate::store::ActorKind::User {
        return Err(Error::Forbidden(Msg::new("automation.control.err.person")));
    }
    let name = crate::auth::service::user(r, actor.id)?
        .map(|u| u.display_name)
        .unwrap_or_else(|| actor.name.clone());
    Ok((actor.id, name))
}

/// Asks for a critical write: the value is checked against the tag (type, range) now and
/// against every rule again when it is confirmed.
pub fn request_write(
    app: &App,
    actor: &Actor,
    tag: &str,
    value: serde_json::Value,
) -> Result<WriteRequest> {
    let t = app
        .tags
        .defs()
        .by_name(tag)
        .cloned()
        .ok_or_else(|| Error::NotFound(Msg::new("tags.err.tag_not_found").arg("name", tag)))?;
    crate::tags::service::check_write(&t, &value)?;
    let mut w = app.store.write(actor)?;
    if !rule(&w, t.id)?.is_some_and(|r| r.critical) {
        return Err(Error::invalid("tag", "automation.control.err.not_critical"));
    }
    let (by_id, by) = person(&w, actor)?;
    let old = app
        .tags
        .current(t.id)
        .and_then(|c| c.value)
        .and_then(|v| serde_json::to_value(v).ok());
    let req = WriteRequest {
        id: w.next_id(&REQUESTS)?,
        tag: tag.to_string(),
        value,
        old,
        by_id,
        by,
        at_ms: crate::util::now_ms(),
        state: RequestState::Pending,
        confirmed_by: String::new(),
        outcome: String::new(),
    };
    w.insert(&REQUESTS, &req.id, &req)?;
    w.audit(
        "automation.write_request",
        format!("write:{} {}", req.id, req.tag),
        crate::store::Change::created(&req),
    );
    w.commit()?;
    Ok(req)
}

/// The requests still waiting (expired ones shown as such), newest first.
pub fn requests(r: &impl Reader, now_ms: i64) -> Result<Vec<WriteRequest>> {
    let mut out: Vec<WriteRequest> = r.values(&REQUESTS)?;
    for q in out.iter_mut() {
        if q.state == RequestState::Pending && now_ms - q.at_ms > REQUEST_TTL_MS {
            q.state = RequestState::Expired;
        }
    }
    out.reverse();
    Ok(out)
}

/// Whether person `me` may confirm a request at `now_ms`: a pending one, younger than ten
/// minutes, asked for by someone else.
pub fn may_confirm(req: &WriteRequest, me: u64, now_ms: i64) -> std::result::Result<(), Msg> {
    if req.state != RequestState::Pending || now_ms - req.at_ms > REQUEST_TTL_MS {
        return Err(Msg::new("automation.control.err.request_over"));
    }
    if me == req.by_id {
        return Err(Msg::new("automation.control.err.same_person"));
    }
    Ok(())
}

/// Confirms a request as the second person and sends the write through every rule; the
/// request records the outcome either way.
pub async fn confirm_write(app: &Arc<App>, actor: Actor, id: u64) -> Result<WriteRequest> {
    let now = crate::util::now_ms();
    // the request is taken in a transaction first: of two confirming at once, one writes
    let store = app.store.clone();
    let who = actor.clone();
    let (req, name) = tokio::task::spawn_blocking(move || -> Result<(WriteRequest, String)> {
        let mut w = store.write(&who)?;
        let mut req = w
            .get(&REQUESTS, &id)?
            .ok_or_else(|| Error::not_found("automation.control.err.request_not_found"))?;
        let (me, name) = person(&w, &who)?;
        may_confirm(&req, me, now).map_err(Error::Conflict)?;
        req.state = RequestState::Confirming;
        w.insert(&REQUESTS, &id, &req)?;
        w.commit()?;
        Ok((req, name))
    })
    .await
    .map_err(|_| Error::Conflict(Msg::new("automation.control.err.request_over")))??;
    let t =
        app.tags.defs().by_name(&req.tag).cloned().ok_or_else(|| {
            Error::NotFound(Msg::new("tags.err.tag_not_found").arg("name", &req.tag))
        })?;
    let v = crate::tags::service::check_write(&t, &req.value)?;
    if let Some(x) = v.as_f64() {
        last_writes(app)
            .1
            .lock()
            .expect("cleared lock is never poisoned")
            .push((req.tag.clone(), x));
    }
    let result = crate::tags::service::write(app, actor.clone(), t, v.clone()).await;
    // a clearance the write did not use (refused before the rule was asked) is dropped
    if let Some(x) = v.as_f64() {
        take_cleared(app, &req.tag, x);
    }
    let mut done = req.clone();
    done.confirmed_by = name;
    match &result {
        Ok(()) => done.state = RequestState::Written,
        Err(e) => {
            done.state = RequestState::Failed;
            done.outcome = e.msg().bilingual();
        }
    }
    let store = app.store.clone();
    let saved = done.clone();
    let recorded = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut w = store.write(&actor)?;
        w.insert(&REQUESTS, &saved.id, &saved)?;
        w.audit(
            "automation.write_confirm",
            format!("write:{} {}", saved.id, saved.tag),
            crate::store::Change::updated(&req, &saved),
        );
        Ok(w.commit()?)
    })
    .await;
    // the write's own outcome is what the operator must hear (it is audited by the tag
    // service either way), even if the request's record could not be updated
    if !matches!(recorded, Ok(Ok(()))) {
        tracing::error!(
            request = id,
            "a confirmed write's request could not be recorded"
        );
    }
    result.map(|()| done)
}

// ------------------------------------------------------------------ API

/// The control rules of every tag that has some.
#[utoipa::path(tag = "automation", responses((status = 200, description = "Rules", body = Vec<ControlRule>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/control")]
async fn api_rules(
    ctx: Need<grant::automation::Read>,
) -> std::result::Result<HttpResponse, AppError> {
    let defs = ctx.app.tags.defs();
    let list: Vec<ControlRule> = rules(&ctx.app.store.read()?)?
        .into_iter()
        .map(|mut r| {
            if let Some(t) = defs.get(r.tag_id) {
                r.tag = t.name.clone();
            }
            r
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Sets the control rules of a writable tag: `max_step`, `min_interval_s`, `interlocks`
/// (`{"tag": "R101.CW_VALVE", "op": "eq", "value": 1, "text": "冷却水阀须开"}`).
#[utoipa::path(tag = "automation", params(("tag" = String, Path, description = "Tag name")), request_body = ControlRule, responses(
    (status = 200, description = "Saved", body = ControlRule),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["automation:approve"])))]
#[put("/api/v1/automation/control/{tag}")]
async fn api_rule_save(
    ctx: Need<grant::automation::Approve>,
    tag: web::Path<String>,
    body: web::Json<ControlRule>,
) -> std::result::Result<HttpResponse, AppError> {
    let mut rule = body.into_inner();
    rule.tag = tag.into_inner();
    let saved = ctx
        .write(move |app, actor| {
            let defs = app.tags.defs();
            save_rule(&app.store, actor, rule, &|t| defs.by_name(t).cloned())
        })
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// Takes a tag's control rules away (its range still holds).
#[utoipa::path(tag = "automation", params(("tag" = String, Path, description = "Tag name")), responses(
    (status = 204, description = "Deleted"), (status = 404, description = "No rules on this tag")),
    security(("bearer" = ["automation:approve"])))]
#[delete("/api/v1/automation/control/{tag}")]
async fn api_rule_delete(
    ctx: Need<grant::automation::Approve>,
    tag: web::Path<String>,
) -> std::result::Result<HttpResponse, AppError> {
    let tag = tag.into_inner();
    ctx.write(move |app, actor| delete_rule_of(app, actor, &tag))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A critical write asked for: the tag and the value.
#[derive(Deserialize, ToSchema)]
struct RequestBody {
    tag: String,
    #[schema(value_type = Object)]
    value: serde_json::Value,
}

/// Critical writes asked for, newest first (pending, written, failed, expired).
#[utoipa::path(tag = "automation", responses((status = 200, description = "Requests", body = Vec<WriteRequest>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/writes")]
async fn api_requests(
    ctx: Need<grant::automation::Read>,
) -> std::result::Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(requests(&ctx.app.store.read()?, crate::util::now_ms())?))
}

/// Asks for a write to a critical tag (a person signed in); another person confirms it.
#[utoipa::path(tag = "automation", request_body = RequestBody, responses(
    (status = 201, description = "Asked; waits for a second person", body = WriteRequest),
    (status = 422, description = "Not a critical tag, or the value breaks the tag's rules")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/writes")]
async fn api_request(
    ctx: Need<grant::automation::Write>,
    body: web::Json<RequestBody>,
) -> std::result::Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let req = ctx
        .write(move |app, actor| request_write(app, actor, &b.tag, b.value))
        .await?;
    Ok(HttpResponse::Created().json(req))
}

/// Confirms a critical write as the second person (not the one who asked, not a token,
/// within ten minutes): the write is sent through every rule and read back.
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Request id")), responses(
    (status = 200, description = "Written", body = WriteRequest),
    (status = 409, description = "Same person, over, or a rule refuses it"),
    (status = 502, description = "The device refused it or did not read back")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/writes/{id}/confirm")]
async fn api_confirm(
    ctx: Need<grant::automation::Write>,
    id: web::Path<u64>,
) -> std::result::Result<HttpResponse, AppError> {
    let app = ctx.app.clone().into_inner();
    let done = confirm_write(&app, ctx.actor(), *id).await?;
    Ok(HttpResponse::Ok().json(done))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(api_rules)
        .service(api_rule_save)
        .service(api_rule_delete)
        .service(api_requests)
        .service(api_request)
        .service(api_confirm);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_rules,
    api_rule_save,
    api_rule_delete,
    api_requests,
    api_request,
    api_confirm
))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> ControlRule {
        ControlRule {
            tag: "R101.TIC.SP".into(),
            tag_id: 1,
            max_step: Some(5.0),
            min_interval_s: 10,
            interlocks: vec![Interlock {
                tag: "R101.CW".into(),
                op: Cmp::Eq,
                value: 1.0,
                text: "夹套冷却水阀须开".into(),
            }],
            critical: false,
        }
    }

    #[test]
    fn an_interlock_blocks_until_it_holds_and_a_missing_value_blocks_too() {
        let open = |t: &str| (t == "R101.CW").then_some(1.0);
        let shut = |t: &str| (t == "R101.CW").then_some(0.0);
        let bad = |_: &str| None;
        assert_eq!(judge(&rule(), Some(80.0), 82.0, None, 0, &open), Ok(()));
        assert!(matches!(
            judge(&rule(), Some(80.0), 82.0, None, 0, &shut),
            Err(Blocked::Interlock {
                value: Some(0.0),
                ..
            })
        ));
        // an interlock tag without a good value does not hold
        assert!(matches!(
            judge(&rule(), Some(80.0), 82.0, None, 0, &bad),
            Err(Blocked::Interlock { value: None, .. })
        ));
    }

    #[test]
    fn a_step_too_large_or_a_write_too_soon_is_refused() {
        let open = |_: &str| Some(1.0);
        assert_eq!(judge(&rule(), Some(80.0), 85.0, None, 0, &open), Ok(()));
        assert_eq!(
            judge(&rule(), Some(80.0), 85.5, None, 0, &open),
            Err(Blocked::Step {
                delta: 5.5,
                max: 5.0
            })
        );
        // no current value to measure the step from: refused
        assert_eq!(
            judge(&rule(), None, 80.0, None, 0, &open),
            Err(Blocked::NoCurrent)
        );
        // ten seconds between writes
        assert_eq!(
            judge(&rule(), Some(80.0), 81.0, Some(1_000), 5_500, &open),
            Err(Blocked::TooSoon { wait_s: 6 })
        );
        assert_eq!(
            judge(&rule(), Some(80.0), 81.0, Some(1_000), 11_000, &open),
            Ok(())
        );
    }

    #[test]
    fn a_critical_write_is_confirmed_by_someone_else_in_time() {
        let req = WriteRequest {
            id: 1,
            tag: "SP".into(),
            value: serde_json::json!(1),
            old: None,
            by_id: 7,
            by: "李明".into(),
            at_ms: 0,
            state: RequestState::Pending,
            confirmed_by: String::new(),
            outcome: String::new(),
        };
        assert_eq!(may_confirm(&req, 9, 60_000), Ok(()));
        let key = |r: std::result::Result<(), Msg>| r.unwrap_err().key;
        assert_eq!(
            key(may_confirm(&req, 7, 60_000)),
            "automation.control.err.same_person"
        );
        assert_eq!(
            key(may_confirm(&req, 9, REQUEST_TTL_MS + 1)),
            "automation.control.err.request_over"
        );
        let done = WriteRequest {
            state: RequestState::Written,
            ..req
        };
        assert_eq!(
            key(may_confirm(&done, 9, 1)),
            "automation.control.err.request_over"
        );
    }

    #[test]
    fn a_two_person_rule_is_taken_away_by_a_person_only_and_bad_interlocks_are_refused() {
        use crate::tags::model::{DataType, Source};
        let (_d, store) = crate::store::tests::temp_store();
        let mk = |id: u32, name: &str, dt: DataType| {
            let mut t = crate::tags::service::blank_tag(name, dt, Source::Manual);
            t.id = id;
            t.writable = true;
            t.range_lo = Some(0.0);
            t.range_hi = Some(200.0);
            Arc::new(t)
        };
        let tags = [
            mk(1, "R101.TIC.SP", DataType::Float),
            mk(2, "R101.NAME", DataType::String),
            mk(3, "R101.PHASE", DataType::Int),
            mk(4, "R101.TT", DataType::Float),
        ];
        let look = |n: &str| tags.iter().find(|t| t.name == n).cloned();
        let person = Actor::user(1, "zhang.jianguo", None);
        let token = Actor::token(9, "scada", None);
        let critical = ControlRule {
            critical: true,
            interlocks: Vec::new(),
            ..rule()
        };
        save_rule(&store, &person, critical.clone(), &look).unwrap();
        let lifted = ControlRule {
            critical: false,
            ..critical.clone()
        };
        let e = save_rule(&store, &token, lifted.clone(), &look).unwrap_err();
        assert_eq!(e.msg().key, "automation.control.err.critical_person");
        assert_eq!(
            delete_rule(&store, &token, 1, "R101.TIC.SP")
                .unwrap_err()
                .msg()
                .key,
            "automation.control.err.critical_person"
        );
        // a token may still tighten or keep it
        save_rule(&store, &token, critical.clone(), &look).unwrap();
        save_rule(&store, &person, lifted, &look).unwrap();
        // interlocks that could never hold
        let with = |tag: &str, op: Cmp, value: f64| ControlRule {
            interlocks: vec![Interlock {
                tag: tag.into(),
                op,
                value,
                text: String::new(),
            }],
            ..rule()
        };
        for (r, key) in [
            (
                with("R101.NAME", Cmp::Eq, 1.0),
                "automation.control.err.interlock_text",
            ),
            (
                with("R101.PHASE", Cmp::Eq, 2.5),
                "automation.control.err.interlock_int",
            ),
            (
                with("R101.TT", Cmp::Lt, 0.0),
                "automation.control.err.interlock_range",
            ),
            (
                with("R101.TT", Cmp::Gt, 200.0),
                "automation.control.err.interlock_range",
            ),
            (
                with("R101.NOPE", Cmp::Eq, 1.0),
                "automation.control.err.interlock_unknown",
            ),
            (
                with("R101.TIC.SP", Cmp::Eq, 1.0),
                "automation.control.err.interlock_self",
            ),
        ] {
            assert_eq!(
                save_rule(&store, &person, r, &look).unwrap_err().msg().key,
                key
            );
        }
        save_rule(&store, &person, with("R101.TT", Cmp::Le, 0.0), &look).unwrap();
    }

    #[test]
    fn comparisons() {
        assert!(Cmp::Lt.holds(1.0, 2.0) && !Cmp::Lt.holds(2.0, 2.0));
        assert!(Cmp::Le.holds(2.0, 2.0) && Cmp::Ge.holds(2.0, 2.0));
        assert!(Cmp::Gt.holds(3.0, 2.0) && Cmp::Ne.holds(3.0, 2.0));
        assert!(Cmp::Eq.holds(1.0, 1.0) && !Cmp::Eq.holds(0.0, 1.0));
    }
}
