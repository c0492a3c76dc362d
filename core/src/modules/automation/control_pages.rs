//! The control console (`/automation/control`): every tag's write rules, the form that sets
//! them (approve level), and the critical writes waiting for a second person, confirmed
//! here. The rules themselves live in `control.rs`.

use actix_web::{HttpResponse, get, post, web};
use minijinja::context;

use super::control::{self, Cmp, ControlRule, Interlock};
use crate::auth::model::Level;
use crate::error::Result;
use crate::web::context::{redirect_with, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

type Res = std::result::Result<HttpResponse, AppError>;

/// One interlock per line: `TAG OP VALUE [text]`, OP one of `< <= ≤ > >= ≥ = == != ≠`.
pub fn parse_interlocks(lines: &str) -> Result<Vec<Interlock>> {
    crate::web::form::parse_lines(
        lines,
        "interlocks",
        "automation.control.err.interlock_line",
        |line| {
            let mut parts = line.splitn(4, char::is_whitespace);
            let (tag, op, value) = (parts.next()?, parts.next()?, parts.next()?);
            let op = match op {
                "<" => Cmp::Lt,
                "<=" | "≤" => Cmp::Le,
                ">" => Cmp::Gt,
                ">=" | "≥" => Cmp::Ge,
                "=" | "==" => Cmp::Eq,
                "!=" | "≠" => Cmp::Ne,
                _ => return None,
            };
            Some(Interlock {
                tag: tag.to_string(),
                op,
                value: value.parse().ok()?,
                text: parts.next().unwrap_or("").trim().to_string(),
            })
        },
    )
}

fn page_ctx(
    ctx: &Need<grant::automation::Read>,
    values: serde_json::Value,
) -> std::result::Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let defs = ctx.app.tags.defs();
    let rules: Vec<serde_json::Value> = control::rules(&r)?
        .into_iter()
        .map(|mut rule| {
            if let Some(t) = defs.get(rule.tag_id) {
                rule.tag = t.name.clone();
            }
            serde_json::json!({ "rule": rule })
        })
        .collect();
    let writable = defs.sorted_names(|t| t.writable);
    let now = crate::util::now_ms();
    let me = ctx.who.user().map(|u| u.id);
    let requests: Vec<serde_json::Value> = control::requests(&r, now)?
        .into_iter()
        .take(50)
        .map(|q| {
            let may = me.is_some_and(|me| control::may_confirm(&q, me, now).is_ok());
            // what the tag holds now: the confirmer sees the change as it would be made
            let current = defs
                .by_name(&q.tag)
                .and_then(|t| ctx.app.tags.current(t.id))
                .and_then(|c| c.value);
            serde_json::json!({ "req": q, "may_confirm": may, "now": current })
        })
        .collect();
    Ok(context! {
        rules => to_value(&rules),
        writable => writable,
        requests => to_value(&requests),
        can_write => ctx.who.can("automation", Level::Write),
        can_approve => ctx.who.can("automation", Level::Approve),
        values => to_value(&values),
    })
}

/// The console; `?tag=NAME` fills the form with that tag's rules (to change one rule
/// without losing the others).
#[get("/automation/control")]
async fn page(
    ctx: Need<grant::automation::Read>,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> Res {
    let mut values = serde_json::json!({});
    if let Some(name) = q.get("tag")
        && let Some(t) = ctx.app.tags.defs().by_name(name).cloned()
        && let Some(rule) = control::rule(&ctx.app.store.read()?, t.id)?
    {
        let lines: Vec<String> = rule
            .interlocks
            .iter()
            .map(|i| {
                format!("{} {} {} {}", i.tag, i.op.symbol(), i.value, i.text)
                    .trim_end()
                    .to_string()
            })
            .collect();
        values = serde_json::json!({
            "tag": t.name,
            "max_step": rule.max_step.map(|x| x.to_string()).unwrap_or_default(),
            "min_interval_s": if rule.min_interval_s > 0 { rule.min_interval_s.to_string() } else { String::new() },
            "interlocks": lines.join("\n"),
            "critical": if rule.critical { "on" } else { "" },
        });
    }
    let c = page_ctx(&ctx, values)?;
    ctx.page("automation/control.html", c)
}

/// Saves a tag's rules from the form (approve level).
#[post("/automation/control/rules")]
async fn rule_submit(
    ctx: Need<grant::automation::Read>,
    form: web::Form<Vec<(String, String)>>,
) -> Res {
    ctx.require("automation", Level::Approve)?;
    let f = FormData::from(form);
    let r = async {
        let rule = ControlRule {
            tag: f.get("tag").trim().to_string(),
            tag_id: 0,
            max_step: f.opt("max_step")?,
            min_interval_s: f.opt("min_interval_s")?.unwrap_or(0),
            interlocks: parse_interlocks(f.get("interlocks"))?,
            critical: f.checked("critical"),
        };
        ctx.write(move |app, actor| {
            let defs = app.tags.defs();
            control::save_rule(&app.store, actor, rule, &|t| defs.by_name(t).cloned())
        })
        .await
    }
    .await;
    ctx.done(
        r.map(|_| "/automation/control".to_string()),
        "flash.saved",
        "automation/control.html",
        || page_ctx(&ctx, f.echo()),
    )
}

#[post("/automation/control/rules/{tag}/delete")]
async fn rule_delete(ctx: Need<grant::automation::Read>, tag: web::Path<String>) -> Res {
    ctx.require("automation", Level::Approve)?;
    let tag = tag.into_inner();
    ctx.write(move |app, actor| control::delete_rule_of(app, actor, &tag))
        .await?;
    Ok(redirect_with("/automation/control", Some("flash.deleted")))
}

/// The second person confirms a critical write: it is sent through every rule and read
/// back; the page then shows the outcome.
#[post("/automation/control/requests/{id}/confirm")]
async fn confirm_submit(ctx: Need<grant::automation::Read>, id: web::Path<u64>) -> Res {
    ctx.require("automation", Level::Write)?;
    let app = ctx.app.clone().into_inner();
    let r = control::confirm_write(&app, ctx.actor(), *id)
        .await
        .map_err(AppError::from);
    match r {
        Ok(_) => Ok(redirect_with("/automation/control", Some("flash.written"))),
        Err(e) => ctx.form_error(
            "automation/control.html",
            page_ctx(&ctx, serde_json::json!({}))?,
            e,
        ),
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page)
        .service(rule_submit)
        .service(rule_delete)
        .service(confirm_submit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interlock_lines_parse_or_name_the_bad_line() {
        let v = parse_interlocks("R101.CW = 1 冷却水阀须开\n\nR101.PT101 <= 0.3\n").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].op, v[0].value, v[0].text.as_str()),
            (Cmp::Eq, 1.0, "冷却水阀须开")
        );
        assert_eq!(
            (v[1].op, v[1].value, v[1].text.as_str()),
            (Cmp::Le, 0.3, "")
        );
        for bad in ["R101.CW", "R101.CW ~ 1", "R101.CW = one"] {
            let e = parse_interlocks(bad).unwrap_err();
            assert_eq!(e.msg().key, "automation.control.err.interlock_line");
        }
    }
}
