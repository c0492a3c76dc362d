//! Safe control: the rules a write to the process must pass beyond the tag's own (writable,
//! type, engineering range): the largest step one write may make, the least time between
//! two writes, and interlocks — permissive conditions on other tags that must hold. Rules
//! belong to the automation module (operating the process); every write, from a screen, the
//! tag page or `POST /api/v1/tags/{name}/write`, goes through [`check`]. Where an input a
//! rule needs is missing (no current value to measure a step from, an interlock tag without
//! a good value) the write is refused: the stricter way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, delete, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::store::{Actor, Reader, Store, Table};
use crate::web::error::AppError;
use crate::web::grant::{self, Need};

/// Control rules by tag name. Only this file reads or writes it.
const RULES: Table<String, ControlRule> = Table::new("automation.control");

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
    #[serde(default)]
    pub tag: String,
    /// The largest change one write may make from the current value (engineering units).
    #[serde(default)]
    pub max_step: Option<f64>,
    /// The least time between two writes to the tag, seconds.
    #[serde(default)]
    pub min_interval_s: u32,
    #[serde(default)]
    pub interlocks: Vec<Interlock>,
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

pub fn rule(r: &impl Reader, tag: &str) -> Result<Option<ControlRule>> {
    Ok(r.get(&RULES, &tag.to_string())?)
}

/// Saves the rules of a writable tag. Interlock tags must exist and not be the tag itself;
/// a step is a positive number; an interval at most an hour.
pub fn save_rule(
    store: &Store,
    actor: &Actor,
    mut rule: ControlRule,
    tag_writable: Option<bool>,
    tag_exists: &dyn Fn(&str) -> bool,
) -> Result<ControlRule> {
    match tag_writable {
        None => {
            return Err(Error::NotFound(
                Msg::new("tags.err.tag_not_found").arg("name", &rule.tag),
            ));
        }
        Some(false) => return Err(Error::invalid("tag", "tags.err.not_writable")),
        Some(true) => {}
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
        if i.tag == rule.tag || !tag_exists(&i.tag) || !i.value.is_finite() {
            return Err(Error::invalid_msg(
                "interlocks",
                Msg::new("automation.control.err.interlock_tag")
                    .arg("line", n + 1)
                    .arg("tag", &i.tag),
            ));
        }
    }
    let mut w = store.write(actor)?;
    let before = w.get(&RULES, &rule.tag)?;
    w.insert(&RULES, &rule.tag, &rule)?;
    w.audit_saved(
        "automation.control",
        format!("control:{}", rule.tag),
        before,
        &rule,
    );
    w.commit()?;
    Ok(rule)
}

pub fn delete_rule(store: &Store, actor: &Actor, tag: &str) -> Result<()> {
    let mut w = store.write(actor)?;
    let Some(before) = w.get(&RULES, &tag.to_string())? else {
        return Err(Error::not_found("automation.control.err.not_found"));
    };
    w.remove(&RULES, &tag.to_string())?;
    w.audit(
        "automation.control.delete",
        format!("control:{tag}"),
        crate::store::Change::deleted(&before),
    );
    w.commit()?;
    Ok(())
}

/// When each tag was last written (since the box started).
#[derive(Default)]
struct LastWrites(Mutex<HashMap<String, i64>>);

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
pub fn check(app: &App, tag: &str, new: f64) -> Result<()> {
    let Some(rule) = rule(&app.store.read()?, tag)? else {
        return Ok(());
    };
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

// ------------------------------------------------------------------ API

/// The control rules of every tag that has some.
#[utoipa::path(tag = "automation", responses((status = 200, description = "Rules", body = Vec<ControlRule>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/control")]
async fn api_rules(
    ctx: Need<grant::automation::Read>,
) -> std::result::Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(rules(&ctx.app.store.read()?)?))
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
            let writable = defs.by_name(&rule.tag).map(|t| t.writable);
            save_rule(&app.store, actor, rule, writable, &|t| {
                defs.by_name(t).is_some()
            })
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
    ctx.write(move |app, actor| delete_rule(&app.store, actor, &tag))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(api_rules)
        .service(api_rule_save)
        .service(api_rule_delete);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_rules, api_rule_save, api_rule_delete))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> ControlRule {
        ControlRule {
            tag: "R101.TIC.SP".into(),
            max_step: Some(5.0),
            min_interval_s: 10,
            interlocks: vec![Interlock {
                tag: "R101.CW".into(),
                op: Cmp::Eq,
                value: 1.0,
                text: "夹套冷却水阀须开".into(),
            }],
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
    fn comparisons() {
        assert!(Cmp::Lt.holds(1.0, 2.0) && !Cmp::Lt.holds(2.0, 2.0));
        assert!(Cmp::Le.holds(2.0, 2.0) && Cmp::Ge.holds(2.0, 2.0));
        assert!(Cmp::Gt.holds(3.0, 2.0) && Cmp::Ne.holds(3.0, 2.0));
        assert!(Cmp::Eq.holds(1.0, 1.0) && !Cmp::Eq.holds(0.0, 1.0));
    }
}
