//! The unit form on the console (approve level): code, name, area, the phase tag with its
//! phase names (one per line, in the order of the tag's values 0, 1, 2…), the batch-number
//! tag, key tags (one per line) and the default product — the same `save_unit` as the API.

use actix_web::{HttpResponse, get, post, web};
use minijinja::context;

use super::batches::{self, Unit};
use crate::auth::model::Level;
use crate::web::context::to_value;
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

type Res = std::result::Result<HttpResponse, AppError>;

fn lines(v: &str) -> Vec<String> {
    v.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn form_ctx(
    ctx: &Need<grant::automation::Read>,
    editing: Option<&Unit>,
    values: serde_json::Value,
) -> minijinja::Value {
    let names = ctx.app.tags.defs().sorted_names(|_| true);
    context! {
        editing => to_value(&editing),
        tag_names => names,
        values => to_value(&values),
    }
}

fn values_of(u: &Unit) -> serde_json::Value {
    serde_json::json!({
        "code": u.code, "name": u.name, "area": u.area, "phase_tag": u.phase_tag,
        "phases": u.phases.join("\n"), "batch_tag": u.batch_tag,
        "key_tags": u.key_tags.join("\n"), "product": u.product,
        "ideal_cycle_min": u.ideal_cycle_min.map(|m| m.to_string()).unwrap_or_default(),
    })
}

#[get("/automation/units/new")]
async fn new_page(ctx: Need<grant::automation::Read>) -> Res {
    ctx.require("automation", Level::Approve)?;
    ctx.page(
        "automation/unit_form.html",
        form_ctx(&ctx, None, serde_json::json!({})),
    )
}

#[get("/automation/units/{code}/edit")]
async fn edit_page(ctx: Need<grant::automation::Read>, code: web::Path<String>) -> Res {
    ctx.require("automation", Level::Approve)?;
    let u = batches::unit(&ctx.app.store.read()?, &code)?;
    ctx.page(
        "automation/unit_form.html",
        form_ctx(&ctx, Some(&u), values_of(&u)),
    )
}

#[post("/automation/units/form")]
async fn submit(ctx: Need<grant::automation::Read>, form: web::Form<Vec<(String, String)>>) -> Res {
    ctx.require("automation", Level::Approve)?;
    let f = FormData::from(form);
    let editing = match f.get("editing") {
        "" => None,
        code => batches::unit(&ctx.app.store.read()?, code).ok(),
    };
    let r = async {
        let u = Unit {
            // an existing unit keeps its code (batches and screens name it)
            code: editing
                .as_ref()
                .map_or_else(|| f.get("code").trim().to_string(), |u| u.code.clone()),
            name: f.get("name").to_string(),
            area: f.get("area").to_string(),
            phase_tag: f.get("phase_tag").to_string(),
            phases: lines(f.get("phases")),
            batch_tag: f.get("batch_tag").to_string(),
            key_tags: lines(f.get("key_tags")),
            product: f.get("product").to_string(),
            ideal_cycle_min: f.opt("ideal_cycle_min")?,
        };
        if editing.is_none() && batches::unit(&ctx.app.store.read()?, &u.code).is_ok() {
            return Err(crate::error::Error::invalid_msg(
                "code",
                crate::i18n::Msg::new("automation.units.err_exists").arg("unit", &u.code),
            )
            .into());
        }
        ctx.write(move |app, actor| super::batch_api::save_unit(app, actor, u))
            .await
    }
    .await;
    ctx.done(
        r.map(|u| format!("/automation/units/{}", u.code)),
        "flash.saved",
        "automation/unit_form.html",
        || Ok(form_ctx(&ctx, editing.as_ref(), f.echo())),
    )
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(new_page).service(edit_page).service(submit);
}
