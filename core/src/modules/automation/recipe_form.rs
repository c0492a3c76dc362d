//! The recipe form on the console: a new recipe, a new version of one (filled from the
//! version it starts from) and changes to a draft. Parameters are typed one per line,
//! `TAG VALUE [note]` (an `=` between tag and value is allowed), and go through the same
//! `recipes::create` / `recipes::update` as the API.

use actix_web::{HttpResponse, get, post, web};
use minijinja::context;

use super::recipes::{self, IngredientInput, ParamInput, Recipe, RecipeInput, RecipeState};
use crate::auth::model::Level;
use crate::error::{Error, Result};
use crate::i18n::Msg;
use crate::web::context::to_value;
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

type Res = std::result::Result<HttpResponse, AppError>;

/// Parameter lines: `R101.TIC101.SP 85 反应温度` or `R101.TIC101.SP = 85`.
pub fn parse_params(lines: &str) -> Result<Vec<ParamInput>> {
    crate::web::form::parse_lines(lines, "params", "automation.recipes.err_line", |line| {
        // the first `=` separates like a space (tag names hold none)
        let spaced = line.replacen('=', " ", 1);
        let mut words = spaced.split_whitespace();
        let (tag, value) = (words.next()?, words.next()?);
        Some(ParamInput {
            tag: tag.to_string(),
            value: value.parse().ok()?,
            note: words.collect::<Vec<_>>().join(" "),
        })
    })
}

/// Bill-of-materials lines: `RM-TOL 560 kg` (the unit may be left out: the material's
/// base unit).
pub fn parse_materials(lines: &str) -> Result<Vec<IngredientInput>> {
    crate::web::form::parse_lines(
        lines,
        "materials",
        "automation.recipes.err_material_line",
        |line| {
            let mut words = line.split_whitespace();
            let (material, qty) = (words.next()?, words.next()?.parse().ok()?);
            let unit = words.next().unwrap_or("").to_string();
            words.next().is_none().then(|| IngredientInput {
                material: material.to_string(),
                qty,
                unit,
            })
        },
    )
}

/// A recipe as the form shows it (parameters as lines).
fn values_of(r: &Recipe) -> serde_json::Value {
    let params = r
        .params
        .iter()
        .map(|p| {
            format!("{} {} {}", p.tag, p.value, p.note)
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let materials = r
        .materials
        .iter()
        .map(|m| format!("{} {} {}", m.material, m.qty, m.unit))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::json!({"code": r.code, "name": r.name, "product": r.product,
        "unit": r.unit, "params": params, "materials": materials, "note": r.note})
}

fn form_ctx(
    ctx: &Need<grant::automation::Read>,
    editing: Option<&Recipe>,
    values: serde_json::Value,
) -> std::result::Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let writable = ctx.app.tags.defs().sorted_names(|t| t.writable);
    Ok(context! {
        editing => to_value(&editing),
        units => to_value(&super::batches::units(&r)?),
        writable => writable,
        values => to_value(&values),
    })
}

#[derive(serde::Deserialize)]
struct NewQuery {
    #[serde(default)]
    from: Option<u64>,
}

/// A new recipe, or (`?from=ID`) the next version of one, filled from it.
#[get("/automation/recipes/new")]
async fn new_page(ctx: Need<grant::automation::Read>, q: web::Query<NewQuery>) -> Res {
    ctx.require("automation", Level::Write)?;
    let values = match q.from {
        Some(id) => values_of(&recipes::recipe(&ctx.app.store.read()?, id)?),
        None => serde_json::json!({}),
    };
    let c = form_ctx(&ctx, None, values)?;
    ctx.page("automation/recipe_form.html", c)
}

/// Changes to a draft.
#[get("/automation/recipes/{id}/edit")]
async fn edit_page(ctx: Need<grant::automation::Read>, id: web::Path<u64>) -> Res {
    ctx.require("automation", Level::Write)?;
    let r = recipes::recipe(&ctx.app.store.read()?, *id)?;
    if r.state != RecipeState::Draft {
        return Err(Error::Conflict(Msg::new("automation.recipe.err.not_draft")).into());
    }
    let c = form_ctx(&ctx, Some(&r), values_of(&r))?;
    ctx.page("automation/recipe_form.html", c)
}

#[post("/automation/recipes/form")]
async fn submit(ctx: Need<grant::automation::Read>, form: web::Form<Vec<(String, String)>>) -> Res {
    ctx.require("automation", Level::Write)?;
    let f = FormData::from(form);
    let id: Option<u64> = f.opt("id").ok().flatten();
    let r = async {
        let input = RecipeInput {
            code: f.get("code").trim().to_string(),
            name: f.get("name").to_string(),
            product: f.get("product").trim().to_string(),
            unit: f.get("unit").to_string(),
            params: parse_params(f.get("params"))?,
            materials: parse_materials(f.get("materials"))?,
            note: f.get("note").to_string(),
        };
        ctx.write(move |app, actor| {
            let (tag_of, known) = recipes::lookups(app);
            let now = crate::util::now_ms();
            match id {
                Some(id) => recipes::update(&app.store, actor, id, input, &tag_of, &known, now),
                None => recipes::create(&app.store, actor, input, &tag_of, &known, now),
            }
        })
        .await
    }
    .await;
    let editing = match id {
        Some(id) => recipes::recipe(&ctx.app.store.read()?, id).ok(),
        None => None,
    };
    ctx.done(
        r.map(|_| "/automation/recipes".to_string()),
        "flash.saved",
        "automation/recipe_form.html",
        || form_ctx(&ctx, editing.as_ref(), f.echo()),
    )
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(new_page).service(edit_page).service(submit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_lines_parse_or_name_the_bad_line() {
        let p =
            parse_params("R101.TIC101.SP 85 反应温度\n\nR101.FIC101.SP = 12.5\nR101.HOLD.SP=30")
                .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].tag.as_str(), p[0].value, p[0].note.as_str()),
            ("R101.TIC101.SP", 85.0, "反应温度")
        );
        assert_eq!((p[1].tag.as_str(), p[1].value), ("R101.FIC101.SP", 12.5));
        assert_eq!((p[2].tag.as_str(), p[2].value), ("R101.HOLD.SP", 30.0));
        for bad in ["R101.TIC101.SP", "R101.TIC101.SP hot"] {
            assert_eq!(
                parse_params(bad).unwrap_err().msg().key,
                "automation.recipes.err_line"
            );
        }
    }

    #[test]
    fn material_lines_parse_or_name_the_bad_line() {
        let m = parse_materials("RM-TOL 240 kg\n\nRM-BA 0.16 t\nRM-AA 20").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[0].material.as_str(), m[0].qty, m[0].unit.as_str()),
            ("RM-TOL", 240.0, "kg")
        );
        assert_eq!((m[1].qty, m[1].unit.as_str()), (0.16, "t"));
        assert_eq!(m[2].unit, "", "the base unit");
        for bad in ["RM-TOL", "RM-TOL many", "RM-TOL 240 kg extra"] {
            assert_eq!(
                parse_materials(bad).unwrap_err().msg().key,
                "automation.recipes.err_material_line"
            );
        }
    }
}
