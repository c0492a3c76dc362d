//! Recipes (ISA-88 master/control recipes, reduced to what a batch plant downloads): per
//! product and unit, a set of parameters mapped to writable tags; versioned (a new version of
//! a code starts as a draft, approving it supersedes the version before) and approved by
//! someone other than its author. An approved recipe is downloaded to the unit as one set:
//! every parameter is checked first (the tag's type and range and every control rule, see
//! `control.rs`) and nothing is sent unless all pass; then each is written and read back,
//! and the download report says, per parameter, the value before, the value wanted and the
//! value the device holds after, with what differed. A unit running a batch of another
//! recipe refuses the download.
//!
//! Owns `automation.recipes` and `automation.downloads`.

use actix_web::{HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Order, Reader, Store, Table};
use crate::tags::model::Tag;
use crate::web::error::AppError;
use crate::web::grant::{self, Need};

const RECIPES: Table<u64, Recipe> = Table::new("automation.recipes");
const DOWNLOADS: Table<u64, Download> = Table::new("automation.downloads");

/// Where a recipe version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecipeState {
    /// Being written; may be changed; cannot be downloaded.
    Draft,
    /// In force: the version downloads use.
    Approved,
    /// Replaced by a later approved version (kept for the batch records that used it).
    Superseded,
}

/// One parameter: a value for a writable tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Param {
    /// The tag's name (the API answers with its name now).
    pub tag: String,
    #[serde(default)]
    pub tag_id: u32,
    pub value: f64,
    #[serde(default)]
    pub note: String,
}

/// A material one batch of the recipe takes (its bill of materials, 物料清单), in the
/// material's base unit: what the warehouse stages and issues to the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ingredient {
    /// The material's code (inventory).
    pub material: String,
    pub qty: f64,
    /// The material's base unit.
    pub unit: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct IngredientInput {
    pub material: String,
    pub qty: f64,
    /// Empty: the material's base unit; otherwise one it converts from (`t`, `桶`).
    #[serde(default)]
    pub unit: String,
}

/// One version of a recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Recipe {
    pub id: u64,
    /// Shared by every version (`PA-101@R101`).
    pub code: String,
    pub name: String,
    /// The product's material code (inventory).
    pub product: String,
    /// The unit it runs on (`R101`).
    pub unit: String,
    pub version: u32,
    pub state: RecipeState,
    pub params: Vec<Param>,
    /// What one batch takes; empty: not given (older versions).
    #[serde(default)]
    pub materials: Vec<Ingredient>,
    #[serde(default)]
    pub note: String,
    /// Its author (kept when others change the draft).
    pub made_by: String,
    pub made_ms: i64,
    /// Who changed the draft after its author (none of them may approve it).
    #[serde(default)]
    pub edited_by: Vec<String>,
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub approved_ms: Option<i64>,
}

/// What a person submits for a recipe (a new code, a new version of a code, or changes to a
/// draft).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RecipeInput {
    pub code: String,
    pub name: String,
    pub product: String,
    pub unit: String,
    pub params: Vec<ParamInput>,
    /// The bill of materials of one batch (optional).
    #[serde(default)]
    pub materials: Vec<IngredientInput>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ParamInput {
    pub tag: String,
    pub value: f64,
    #[serde(default)]
    pub note: String,
}

/// One parameter's outcome in a download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ParamResult {
    pub tag: String,
    pub wanted: f64,
    /// The tag's value before the download (none: no good value).
    pub before: Option<f64>,
    /// The value the device holds after (its read-back).
    pub after: Option<f64>,
    /// Written and read back as wanted.
    pub ok: bool,
    /// Why not, when not.
    #[serde(default)]
    pub error: Option<String>,
}

/// A download of a recipe to its unit: its report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Download {
    pub id: u64,
    pub recipe: u64,
    pub code: String,
    pub version: u32,
    pub unit: String,
    pub by: String,
    pub at_ms: i64,
    pub results: Vec<ParamResult>,
    /// Every parameter written and read back as wanted.
    pub ok: bool,
}

impl Download {
    /// The parameters whose value after differs from the one wanted.
    pub fn differed(&self) -> impl Iterator<Item = &ParamResult> {
        self.results.iter().filter(|p| !p.ok)
    }
}

pub fn recipes(r: &impl Reader) -> Result<Vec<Recipe>> {
    Ok(r.values(&RECIPES)?)
}

pub fn recipe(r: &impl Reader, id: u64) -> Result<Recipe> {
    r.get(&RECIPES, &id)?
        .ok_or_else(|| Error::not_found("automation.recipe.err.not_found"))
}

/// The approved version of `code`, if any.
pub fn approved(r: &impl Reader, code: &str) -> Result<Option<Recipe>> {
    Ok(recipes(r)?
        .into_iter()
        .find(|x| x.code == code && x.state == RecipeState::Approved))
}

/// Downloads, newest first (of one recipe code when given).
pub fn downloads(r: &impl Reader, code: Option<&str>, limit: usize) -> Result<Vec<Download>> {
    let mut out = Vec::new();
    r.visit(&DOWNLOADS, .., Order::Desc, |_, d: Download| {
        if code.is_none_or(|c| c == d.code) {
            out.push(d);
        }
        if out.len() >= limit {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })?;
    Ok(out)
}

/// Checks a recipe's fields and parameters: known writable tags, numbers of the tag's type
/// inside its range, each tag once. `tag_of` finds a tag by name; `product_known` says
/// whether a material code exists.
fn checked(
    input: RecipeInput,
    tag_of: &dyn Fn(&str) -> Option<Tag>,
    product_known: &dyn Fn(&str) -> bool,
) -> Result<(RecipeInput, Vec<Param>)> {
    let code = text("code", &input.code, 40, true)?;
    if code.chars().any(char::is_whitespace) {
        return Err(Error::invalid("code", "automation.recipe.err.code"));
    }
    let name = text("name", &input.name, 80, true)?;
    let product = text("product", &input.product, 40, true)?;
    if !product_known(&product) {
        return Err(Error::invalid_msg(
            "product",
            Msg::new("automation.recipe.err.product").arg("code", &product),
        ));
    }
    let unit = text("unit", &input.unit, 40, true)?;
    let note = text("note", &input.note, 500, false)?;
    if input.params.is_empty() || input.params.len() > 200 {
        return Err(Error::invalid("params", "automation.recipe.err.params"));
    }
    let mut params: Vec<Param> = Vec::new();
    for p in &input.params {
        let name = p.tag.trim();
        let tag = tag_of(name).ok_or_else(|| {
            Error::invalid_msg(
                "params",
                Msg::new("automation.recipe.err.tag").arg("tag", name),
            )
        })?;
        if params.iter().any(|x| x.tag_id == tag.id) {
            return Err(Error::invalid_msg(
                "params",
                Msg::new("automation.recipe.err.twice").arg("tag", &tag.name),
            ));
        }
        // the tag's own rules: writable, its type, its range
        let v = p.value;
        crate::tags::service::check_write(&tag, &serde_json::json!(v)).map_err(|e| {
            Error::invalid_msg(
                "params",
                Msg::new("automation.recipe.err.param")
                    .arg("tag", &tag.name)
                    .arg("value", v)
                    .arg_msgs("why", vec![e.msg()]),
            )
        })?;
        params.push(Param {
            tag: tag.name.clone(),
            tag_id: tag.id,
            value: v,
            note: text("note", &p.note, 200, false)?,
        });
    }
    Ok((
        RecipeInput {
            code,
            name,
            product,
            unit,
            note,
            params: Vec::new(),
            materials: input.materials,
        },
        params,
    ))
}

/// Checks a bill of materials against inventory's materials (read through its service in
/// the recipe's transaction): each a known, active material other than the product, once,
/// a quantity above 0 in a unit it converts from (kept in its base unit).
fn checked_materials(
    r: &impl Reader,
    product: &str,
    input: &[IngredientInput],
) -> Result<Vec<Ingredient>> {
    use crate::modules::inventory::{rules, service as inv};
    if input.len() > 100 {
        return Err(Error::invalid(
            "materials",
            "automation.recipe.err.materials",
        ));
    }
    let mut out: Vec<Ingredient> = Vec::new();
    for i in input {
        let code = i.material.trim();
        let m = inv::material_by_code(r, code)?
            .filter(|m| m.active)
            .ok_or_else(|| {
                Error::invalid_msg(
                    "materials",
                    Msg::new("automation.recipe.err.product").arg("code", code),
                )
            })?;
        if m.code == product {
            return Err(Error::invalid_msg(
                "materials",
                Msg::new("automation.recipe.err.material_product").arg("code", code),
            ));
        }
        if out.iter().any(|x| x.material == m.code) {
            return Err(Error::invalid_msg(
                "materials",
                Msg::new("automation.recipe.err.material_twice").arg("code", code),
            ));
        }
        let qty = rules::to_base(&m, i.qty, &i.unit).map_err(|e| {
            Error::invalid_msg(
                "materials",
                Msg::new("automation.recipe.err.material_qty")
                    .arg("code", code)
                    .arg_msgs("why", vec![e.msg()]),
            )
        })?;
        out.push(Ingredient {
            material: m.code.clone(),
            qty,
            unit: m.base_unit.clone(),
        });
    }
    Ok(out)
}

/// Creates a recipe: version 1 of a new code, or the next version of an existing code
/// (refused while that code has a draft: change the draft instead).
pub fn create(
    store: &Store,
    actor: &Actor,
    input: RecipeInput,
    tag_of: &dyn Fn(&str) -> Option<Tag>,
    product_known: &dyn Fn(&str) -> bool,
    now_ms: i64,
) -> Result<Recipe> {
    let (i, params) = checked(input, tag_of, product_known)?;
    let mut w = store.write(actor)?;
    super::batches::known_unit(&w, &i.unit)?;
    let materials = checked_materials(&w, &i.product, &i.materials)?;
    let same: Vec<Recipe> = recipes(&w)?
        .into_iter()
        .filter(|x| x.code == i.code)
        .collect();
    if same.iter().any(|x| x.state == RecipeState::Draft) {
        return Err(Error::Conflict(
            Msg::new("automation.recipe.err.draft_exists").arg("code", &i.code),
        ));
    }
    let r = Recipe {
        id: w.next_id(&RECIPES)?,
        version: same.iter().map(|x| x.version).max().unwrap_or(0) + 1,
        code: i.code,
        name: i.name,
        product: i.product,
        unit: i.unit,
        state: RecipeState::Draft,
        params,
        materials,
        note: i.note,
        made_by: actor.name.clone(),
        made_ms: now_ms,
        edited_by: Vec::new(),
        approved_by: None,
        approved_ms: None,
    };
    w.insert(&RECIPES, &r.id, &r)?;
    w.audit_saved(
        "automation.recipe",
        format!("recipe:{}@{}", r.code, r.version),
        None::<&Recipe>,
        &r,
    );
    w.commit()?;
    Ok(r)
}

/// Changes a draft (its code stays).
pub fn update(
    store: &Store,
    actor: &Actor,
    id: u64,
    mut input: RecipeInput,
    tag_of: &dyn Fn(&str) -> Option<Tag>,
    product_known: &dyn Fn(&str) -> bool,
    now_ms: i64,
) -> Result<Recipe> {
    let mut w = store.write(actor)?;
    let before = recipe(&w, id)?;
    if before.state != RecipeState::Draft {
        return Err(Error::Conflict(Msg::new("automation.recipe.err.not_draft")));
    }
    input.code.clone_from(&before.code);
    let (i, params) = checked(input, tag_of, product_known)?;
    super::batches::known_unit(&w, &i.unit)?;
    let materials = checked_materials(&w, &i.product, &i.materials)?;
    let mut edited_by = before.edited_by.clone();
    if actor.name != before.made_by && !edited_by.contains(&actor.name) {
        edited_by.push(actor.name.clone());
    }
    let r = Recipe {
        name: i.name,
        product: i.product,
        unit: i.unit,
        params,
        materials,
        note: i.note,
        made_ms: now_ms,
        edited_by,
        ..before.clone()
    };
    w.insert(&RECIPES, &id, &r)?;
    w.audit_saved(
        "automation.recipe",
        format!("recipe:{}@{}", r.code, r.version),
        Some(&before),
        &r,
    );
    w.commit()?;
    Ok(r)
}

/// Approves a draft (by someone other than its author): it is in force, the version before
/// is superseded.
pub fn approve(store: &Store, actor: &Actor, id: u64, now_ms: i64) -> Result<Recipe> {
    let mut w = store.write(actor)?;
    let before = recipe(&w, id)?;
    if before.state != RecipeState::Draft {
        return Err(Error::Conflict(Msg::new("automation.recipe.err.not_draft")));
    }
    if before.made_by == actor.name || before.edited_by.contains(&actor.name) {
        return Err(Error::Conflict(Msg::new("automation.recipe.err.own")));
    }
    if let Some(mut old) = approved(&w, &before.code)? {
        old.state = RecipeState::Superseded;
        w.insert(&RECIPES, &old.id, &old)?;
    }
    let r = Recipe {
        state: RecipeState::Approved,
        approved_by: Some(actor.name.clone()),
        approved_ms: Some(now_ms),
        ..before.clone()
    };
    w.insert(&RECIPES, &id, &r)?;
    w.audit(
        "automation.recipe.approve",
        format!("recipe:{}@{}", r.code, r.version),
        Change::updated(&before, &r),
    );
    w.commit()?;
    Ok(r)
}

/// Downloads an approved recipe to its unit: all parameters checked first (nothing is sent
/// unless every one passes), then written one by one through the tag write (control rules,
/// read-back), and the report kept. Refused while the unit runs a batch of another recipe.
pub async fn download(app: &std::sync::Arc<App>, actor: Actor, id: u64) -> Result<Download> {
    let (rec, tags) = {
        let r = app.store.read()?;
        let rec = recipe(&r, id)?;
        if rec.state != RecipeState::Approved {
            return Err(Error::Conflict(Msg::new(
                "automation.recipe.err.not_approved",
            )));
        }
        if let Some(b) = super::batches::running_on(&r, &rec.unit)?
            && b.recipe.as_ref().is_none_or(|x| x.code != rec.code)
        {
            return Err(Error::Conflict(
                Msg::new("automation.recipe.err.unit_busy")
                    .arg("unit", &rec.unit)
                    .arg("batch", &b.number),
            ));
        }
        let defs = app.tags.defs();
        let mut tags = Vec::new();
        for p in &rec.params {
            let t = defs.get(p.tag_id).cloned().ok_or_else(|| {
                Error::Conflict(Msg::new("automation.recipe.err.tag_gone").arg("tag", &p.tag))
            })?;
            tags.push(t);
        }
        (rec, tags)
    };
    // one set: every parameter passes the tag's rules and the control rules before any is
    // sent (the tag may have changed since the recipe was approved)
    let mut values = Vec::new();
    for (p, t) in rec.params.iter().zip(&tags) {
        let checked = crate::tags::service::check_write(t, &serde_json::json!(p.value))
            .and_then(|v| app.check_write(t, p.value).map(|()| v));
        match checked {
            Ok(v) => values.push(v),
            Err(e) => {
                return Err(Error::Conflict(
                    Msg::new("automation.recipe.err.refused")
                        .arg("tag", &t.name)
                        .arg_msgs("why", vec![e.msg()]),
                ));
            }
        }
    }
    let mut results = Vec::new();
    for ((p, t), value) in rec.params.iter().zip(tags).zip(values) {
        let before = app
            .tags
            .current(t.id)
            .filter(|c| c.quality.is_good())
            .and_then(|c| c.value)
            .and_then(|v| v.as_f64());
        let outcome = crate::tags::service::write(app, actor.clone(), t.clone(), value).await;
        let after = app
            .tags
            .current(t.id)
            .and_then(|c| c.value)
            .and_then(|v| v.as_f64());
        results.push(ParamResult {
            tag: t.name.clone(),
            wanted: p.value,
            before,
            after,
            ok: outcome.is_ok(),
            // kept in the record as the operator read it; both languages
            error: outcome.err().map(|e| e.msg().bilingual()),
        });
    }
    let store = app.store.clone();
    let ok = results.iter().all(|x| x.ok);
    let d = tokio::task::spawn_blocking(move || -> Result<Download> {
        let mut w = store.write(&actor)?;
        let d = Download {
            id: w.next_id(&DOWNLOADS)?,
            recipe: rec.id,
            code: rec.code.clone(),
            version: rec.version,
            unit: rec.unit.clone(),
            by: actor.name.clone(),
            at_ms: crate::util::now_ms(),
            results,
            ok,
        };
        w.insert(&DOWNLOADS, &d.id, &d)?;
        w.audit(
            "automation.recipe.download",
            format!("recipe:{}@{} → {}", d.code, d.version, d.unit),
            Change::created(&d),
        );
        w.commit()?;
        Ok(d)
    })
    .await
    .map_err(|_| Error::Device(Msg::new("tags.err.write_failed").arg("detail", "stopped")))??;
    Ok(d)
}

// ------------------------------------------------------------------ API

pub(super) fn lookups(
    app: &App,
) -> (
    impl Fn(&str) -> Option<Tag> + use<>,
    impl Fn(&str) -> bool + use<>,
) {
    let defs = app.tags.defs();
    let store = app.store.clone();
    (
        move |name: &str| defs.by_name(name).map(|t| (**t).clone()),
        move |code: &str| {
            store.read().ok().is_some_and(|r| {
                crate::modules::inventory::service::material_by_code(&r, code)
                    .ok()
                    .flatten()
                    .is_some()
            })
        },
    )
}

#[derive(Serialize, ToSchema)]
struct RecipeView {
    #[serde(flatten)]
    recipe: Recipe,
    /// The latest download of this version.
    last_download: Option<Download>,
}

/// Every recipe version with its latest download.
#[utoipa::path(tag = "automation", responses((status = 200, description = "Recipes", body = Vec<Recipe>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/recipes")]
async fn api_list(
    ctx: Need<grant::automation::Read>,
) -> std::result::Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let defs = ctx.app.tags.defs();
    let all = downloads(&r, None, 1_000)?;
    let list: Vec<RecipeView> = recipes(&r)?
        .into_iter()
        .map(|mut x| {
            for p in &mut x.params {
                if let Some(t) = defs.get(p.tag_id) {
                    p.tag.clone_from(&t.name);
                }
            }
            RecipeView {
                last_download: all.iter().find(|d| d.recipe == x.id).cloned(),
                recipe: x,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Creates version 1 of a recipe, or the next version (a draft) of an existing code.
#[utoipa::path(tag = "automation", request_body = RecipeInput, responses(
    (status = 201, description = "Created (a draft)", body = Recipe),
    (status = 409, description = "The code has a draft already"),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/recipes")]
async fn api_create(
    ctx: Need<grant::automation::Write>,
    body: web::Json<RecipeInput>,
) -> std::result::Result<HttpResponse, AppError> {
    let input = body.into_inner();
    let r = ctx
        .write(move |app, actor| {
            let (tag_of, known) = lookups(app);
            create(
                &app.store,
                actor,
                input,
                &tag_of,
                &known,
                crate::util::now_ms(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(r))
}

/// Changes a draft.
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Recipe id")), request_body = RecipeInput, responses(
    (status = 200, description = "Saved", body = Recipe),
    (status = 409, description = "Not a draft"),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["automation:write"])))]
#[put("/api/v1/automation/recipes/{id}")]
async fn api_update(
    ctx: Need<grant::automation::Write>,
    id: web::Path<u64>,
    body: web::Json<RecipeInput>,
) -> std::result::Result<HttpResponse, AppError> {
    let (id, input) = (*id, body.into_inner());
    let r = ctx
        .write(move |app, actor| {
            let (tag_of, known) = lookups(app);
            update(
                &app.store,
                actor,
                id,
                input,
                &tag_of,
                &known,
                crate::util::now_ms(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Approves a draft (not its author): it comes into force, the version before is superseded.
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Recipe id")), responses(
    (status = 200, description = "Approved", body = Recipe),
    (status = 409, description = "Not a draft, or the approver wrote it")),
    security(("bearer" = ["automation:approve"])))]
#[post("/api/v1/automation/recipes/{id}/approve")]
async fn api_approve(
    ctx: Need<grant::automation::Approve>,
    id: web::Path<u64>,
) -> std::result::Result<HttpResponse, AppError> {
    let id = *id;
    let r = ctx
        .write(move |app, actor| approve(&app.store, actor, id, crate::util::now_ms()))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Downloads an approved recipe to its unit as one set and answers the report: per
/// parameter the value before, wanted and read back after. 200 when every parameter reads
/// back as wanted, 502 with the same report when some did not.
#[utoipa::path(tag = "automation", params(("id" = u64, Path, description = "Recipe id")), responses(
    (status = 200, description = "Downloaded and verified", body = Download),
    (status = 409, description = "Not approved, the unit runs another batch, or a control rule refuses a parameter (nothing sent)"),
    (status = 502, description = "Sent, but some parameters did not read back as wanted", body = Download)),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/recipes/{id}/download")]
async fn api_download(
    ctx: Need<grant::automation::Write>,
    id: web::Path<u64>,
) -> std::result::Result<HttpResponse, AppError> {
    let app = ctx.app.clone().into_inner();
    let d = download(&app, ctx.actor(), *id).await?;
    Ok(if d.ok {
        HttpResponse::Ok().json(d)
    } else {
        HttpResponse::BadGateway().json(d)
    })
}

/// Downloads, newest first.
#[utoipa::path(tag = "automation", responses((status = 200, description = "Downloads", body = Vec<Download>)), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/downloads")]
async fn api_downloads(
    ctx: Need<grant::automation::Read>,
) -> std::result::Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(downloads(&ctx.app.store.read()?, None, 500)?))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(api_list)
        .service(api_create)
        .service(api_update)
        .service(api_approve)
        .service(api_download)
        .service(api_downloads);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_list,
    api_create,
    api_update,
    api_approve,
    api_download,
    api_downloads
))]
pub struct Doc;

#[cfg(test)]
mod tests;
