//! Console pages of recipes, batches (with the printable batch record) and genealogy.
//! Every action goes through the same service functions as the API.

use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::Serialize;

use super::batches::{self, LotMove, StartInput, Trigger};
use super::recipes::{self, RecipeState};
use super::record;
use crate::auth::model::Level;
use crate::web::context::{redirect_with, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

type Res = Result<HttpResponse, AppError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(recipes_page)
        .service(recipe_approve)
        .service(recipe_download_page)
        .service(recipe_download)
        .service(batches_page)
        .service(batch_start)
        .service(batch_page)
        .service(batch_action)
        .service(genealogy_page);
}

// ------------------------------------------------------------------ recipes

#[get("/automation/recipes")]
async fn recipes_page(ctx: Need<grant::automation::Read>) -> Res {
    let r = ctx.app.store.read()?;
    let mut list = recipes::recipes(&r)?;
    list.sort_by(|a, b| {
        (&a.code, std::cmp::Reverse(a.version)).cmp(&(&b.code, std::cmp::Reverse(b.version)))
    });
    let downloads = recipes::downloads(&r, None, 50)?;
    drop(r);
    ctx.page(
        "automation/recipes.html",
        context! {
            recipes => to_value(&list),
            downloads => to_value(&downloads),
            can_write => ctx.who.can("automation", Level::Write),
            can_approve => ctx.who.can("automation", Level::Approve),
        },
    )
}

#[post("/automation/recipes/{id}/approve")]
async fn recipe_approve(ctx: Need<grant::automation::Approve>, id: web::Path<u64>) -> Res {
    let id = *id;
    ctx.write(move |app, actor| recipes::approve(&app.store, actor, id, crate::util::now_ms()))
        .await?;
    Ok(redirect_with("/automation/recipes", Some("flash.saved")))
}

#[derive(Serialize)]
struct Planned {
    tag: String,
    unit: String,
    now: Option<f64>,
    wanted: f64,
    changes: bool,
}

/// The confirmation step: each parameter's value now → the recipe's value.
#[get("/automation/recipes/{id}/download")]
async fn recipe_download_page(ctx: Need<grant::automation::Write>, id: web::Path<u64>) -> Res {
    let rec = recipes::recipe(&ctx.app.store.read()?, *id)?;
    if rec.state != RecipeState::Approved {
        return Err(crate::error::Error::Conflict(crate::i18n::Msg::new(
            "automation.recipe.err.not_approved",
        ))
        .into());
    }
    let defs = ctx.app.tags.defs();
    let plan: Vec<Planned> = rec
        .params
        .iter()
        .map(|p| {
            let t = defs.get(p.tag_id);
            let now = t
                .and_then(|t| ctx.app.tags.current(t.id))
                .and_then(|c| c.value)
                .and_then(|v| v.as_f64());
            Planned {
                tag: t.map_or_else(|| p.tag.clone(), |t| t.name.clone()),
                unit: t.map(|t| t.unit.clone()).unwrap_or_default(),
                changes: now.is_none_or(|n| (n - p.value).abs() > 1e-9),
                now,
                wanted: p.value,
            }
        })
        .collect();
    ctx.page(
        "automation/recipe_download.html",
        context! { recipe => to_value(&rec), plan => to_value(&plan), report => (), },
    )
}

#[post("/automation/recipes/{id}/download")]
async fn recipe_download(ctx: Need<grant::automation::Write>, id: web::Path<u64>) -> Res {
    let app = ctx.app.clone().into_inner();
    let rec = recipes::recipe(&app.store.read()?, *id)?;
    match recipes::download(&app, ctx.actor(), *id).await {
        Ok(d) => ctx.page(
            "automation/recipe_download.html",
            context! { recipe => to_value(&rec), plan => (), report => to_value(&d) },
        ),
        Err(e) => ctx.form_error(
            "automation/recipe_download.html",
            context! { recipe => to_value(&rec), plan => (), report => () },
            e,
        ),
    }
}

// ------------------------------------------------------------------ batches

fn batches_ctx(
    ctx: &Need<grant::automation::Read>,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let list = batches::batches(&r)?;
    let units = batches::units(&r)?;
    let approved: Vec<recipes::Recipe> = recipes::recipes(&r)?
        .into_iter()
        .filter(|x| x.state == RecipeState::Approved)
        .collect();
    Ok(context! {
        batches => to_value(&list.into_iter().take(200).collect::<Vec<_>>()),
        units => to_value(&units),
        recipes => to_value(&approved),
        values => to_value(&values),
        can_write => ctx.who.can("automation", Level::Write),
    })
}

#[get("/automation/batches")]
async fn batches_page(ctx: Need<grant::automation::Read>) -> Res {
    let c = batches_ctx(&ctx, serde_json::json!({}))?;
    ctx.page("automation/batches.html", c)
}

#[post("/automation/batches")]
async fn batch_start(
    ctx: Need<grant::automation::Read>,
    form: web::Form<Vec<(String, String)>>,
) -> Res {
    ctx.require("automation", Level::Write)?;
    let f = FormData::from(form);
    let result = async {
        let input = StartInput {
            unit: f.get("unit").to_string(),
            number: f.get("number").to_string(),
            recipe: f.get("recipe").to_string(),
            product: f.get("product").to_string(),
            planned_qty: f.opt::<f64>("planned_qty")?.unwrap_or(0.0),
            note: f.get("note").to_string(),
        };
        ctx.write(move |app, actor| {
            batches::start(
                &app.store,
                actor,
                input,
                Trigger::Operator,
                crate::util::now_ms(),
                crate::plant_time::today(app.offset),
            )
        })
        .await
    }
    .await;
    ctx.done(
        result.map(|b| format!("/automation/batches/{}", b.id)),
        "flash.saved",
        "automation/batches.html",
        || batches_ctx(&ctx, f.echo()),
    )
}

fn record_ctx(
    ctx: &Need<grant::automation::Read>,
    id: u64,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let rec = record::assemble(&ctx.app, id)?;
    let r = ctx.app.store.read()?;
    let unit = batches::unit(&r, &rec.batch.unit).ok();
    let locations = crate::modules::inventory::service::locations(&r)?;
    Ok(context! {
        rec => to_value(&rec),
        unit => to_value(&unit),
        locations => to_value(&locations),
        values => to_value(&values),
        can_write => ctx.who.can("automation", Level::Write),
    })
}

#[get("/automation/batches/{id}")]
async fn batch_page(ctx: Need<grant::automation::Read>, id: web::Path<u64>) -> Res {
    let c = record_ctx(&ctx, *id, serde_json::json!({}))?;
    ctx.page("automation/batch.html", c)
}

/// The batch's actions from its page: end, abort, phase, issue, output, sample.
#[post("/automation/batches/{id}/{action}")]
async fn batch_action(
    ctx: Need<grant::automation::Read>,
    path: web::Path<(u64, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> Res {
    ctx.require("automation", Level::Write)?;
    let (id, action) = path.into_inner();
    let f = FormData::from(form);
    let lot_move = |f: &FormData| -> Result<LotMove, AppError> {
        Ok(LotMove {
            material: f.get("material").to_string(),
            lot: f.get("lot").to_string(),
            location: f.opt::<u64>("location")?.unwrap_or(0),
            qty: f.opt::<f64>("qty")?.unwrap_or(0.0),
            unit: f.get("unit").to_string(),
        })
    };
    let result: Result<batches::Batch, AppError> = async {
        let now = crate::util::now_ms();
        match action.as_str() {
            "end" | "abort" => {
                let abort = action == "abort";
                ctx.write(move |app, actor| batches::end(&app.store, actor, id, abort, now))
                    .await
            }
            "phase" => {
                let p = f.get("phase").to_string();
                ctx.write(move |app, actor| batches::set_phase(&app.store, actor, id, &p, now))
                    .await
            }
            "issue" => {
                let m = lot_move(&f)?;
                ctx.write(move |app, actor| batches::issue(app, actor, id, m))
                    .await
            }
            "output" => {
                let m = lot_move(&f)?;
                ctx.write(move |app, actor| batches::receive_output(app, actor, id, m))
                    .await
            }
            "sample" => {
                ctx.write(move |app, actor| batches::sample(app, actor, id, None))
                    .await
            }
            _ => Err(crate::error::Error::not_found("automation.batch.err.not_found").into()),
        }
    }
    .await;
    ctx.done(
        result.map(|b| format!("/automation/batches/{}", b.id)),
        "flash.saved",
        "automation/batch.html",
        || record_ctx(&ctx, id, f.echo()),
    )
}

// ------------------------------------------------------------------ genealogy

#[get("/automation/genealogy")]
async fn genealogy_page(
    ctx: Need<grant::automation::Read>,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> Res {
    let lot = q
        .get("lot")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let g = if lot.is_empty() {
        None
    } else {
        Some(record::genealogy(&ctx.app.store.read()?, &lot)?)
    };
    ctx.page(
        "automation/genealogy.html",
        context! { lot => lot, genealogy => to_value(&g) },
    )
}
