//! The console's pages of 质量管理: samples (list, a sample with its results form and the
//! decision), test items with their formulas, specifications and nonconformance reports.
//! Phones enter results on the sample page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{ItemKind, Origin, Sample, SampleState, TestItem};
use super::routes::now;
use super::service::{self as svc, NcrInput, NewSample, ResultInput, SampleAction};
use crate::auth::model::Level;
use crate::auth::service::People;
use crate::error::Error;
use crate::i18n::Msg;
use crate::modules::inventory::service as inventory;
use crate::web::context::{Ctx, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const M: &str = "quality";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(samples_page)
        .service(sample_submit)
        .service(import_submit)
        .service(sample_page)
        .service(results_submit)
        .service(action_submit)
        .service(items_page)
        .service(item_submit)
        .service(specs_page)
        .service(spec_submit)
        .service(ncrs_page)
        .service(ncr_submit)
        .service(spc_page)
        .service(label_page)
        .service(coa_page);
}

/// The box's address as the browser reached it, for QR codes on printed pages.
fn here(req: &HttpRequest, path: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}{path}", info.scheme(), info.host())
}

/// A sample's label (to print and stick on the bottle): number, what and when, and a QR
/// code that opens the sample on a phone.
#[get("/quality/samples/{id}/label")]
async fn label_page(
    ctx: Need<grant::quality::Read>,
    req: HttpRequest,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let items = svc::items(&r)?;
    let s = svc::sample(&r, *id)?;
    let url = here(&req, &format!("/quality/samples/{}", s.id));
    let sample = shown(&r, &s, &items, &People::load(&r)?)?;
    ctx.page(
        "quality/label.html",
        context! { sample => to_value(&sample), qr => crate::web::render::qr_svg(&url), url },
    )
}

/// Customers (and partners that buy) as a select lists them.
fn customers(r: &impl crate::store::Reader) -> Result<Vec<Value>, Error> {
    Ok(inventory::partners(r)?
        .into_iter()
        .filter(|p| p.role.buys())
        .map(|p| json!({"id": p.id, "label": format!("{} {}", p.code, p.name)}))
        .collect())
}

#[derive(Deserialize)]
struct CoaQuery {
    /// A customer (partner id) whose own specification is printed and judged.
    customer: Option<u64>,
}

/// The certificate of analysis (产品质量检验报告) of a lot: its latest decided sample, judged
/// against the plant's specification or the customer's, with a QR code to the live record.
/// Refused while the lot has no released (or conceded) sample.
#[get("/quality/lots/{lot}/coa")]
async fn coa_page(
    ctx: Need<grant::quality::Read>,
    req: HttpRequest,
    lot: web::Path<u64>,
    q: web::Query<CoaQuery>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let lot = inventory::lot(&r, *lot)?;
    let customer = q.customer.map(|c| inventory::partner(&r, c)).transpose()?;
    if customer.as_ref().is_some_and(|c| !c.role.buys()) {
        return Err(Error::invalid("customer", "quality.err.customer").into());
    }
    let coa = svc::certificate(&r, lot.id, q.customer)?;
    let m = inventory::material(&r, lot.material)?;
    let profile = crate::org::service::profile(&r)?;
    let url = here(&req, &format!("/quality/samples/{}", coa.sample.id));
    let names = People::load(&r)?;
    // 检验: whoever entered the results; 审核: whoever decided the sample
    let mut tested_by: Vec<String> = coa
        .sample
        .results
        .iter()
        .filter(|l| l.formula_version.is_none() && !l.by.is_empty())
        .map(|l| names.of(&l.by))
        .collect();
    tested_by.dedup();
    ctx.page(
        "quality/coa.html",
        context! {
            tested_by => tested_by.join("、"),
            approved_by => names.of(&coa.sample.decided_by),
            coa => to_value(&coa),
            lot => to_value(&lot),
            material => to_value(&m),
            customer => customer.map(|c| c.name),
            company => profile.company_name,
            address => profile.address,
            qr => crate::web::render::qr_svg(&url),
            url,
        },
    )
}

#[get("/quality")]
async fn home(_ctx: Need<grant::quality::Read>) -> HttpResponse {
    crate::web::context::redirect_with("/quality/samples", None)
}

/// A sample as the pages show it: with the names of what it refers to and who did it.
fn shown(
    r: &impl crate::store::Reader,
    s: &Sample,
    items: &[TestItem],
    names: &People,
) -> Result<Value, Error> {
    let m = inventory::material(r, s.material)?;
    let lot = s.lot.map(|l| inventory::lot(r, l)).transpose()?;
    let point = svc::point(r, s.point)?;
    let spec = svc::sample_spec(r, s)?;
    let judged = |item: u64| {
        spec.as_ref()
            .is_some_and(|sp| sp.lines.iter().any(|l| l.item == item))
    };
    let lines: Vec<Value> = s
        .results
        .iter()
        .map(|l| {
            let it = items.iter().find(|i| i.id == l.item);
            json!({
                "line": l,
                "keyword": it.map(|i| i.keyword.clone()),
                "name": it.map(|i| i.name.clone()),
                "unit": it.map(|i| i.unit.clone()),
                "kind": it.map(|i| i.kind),
                "decimals": it.map(|i| i.decimals),
                "computed": it.is_some_and(|i| !i.formula.is_empty()),
                // an input of a formula is reported, not judged
                "judged": judged(l.item),
                "by": names.of(&l.by),
                // what a correction replaced
                "history": l.history.iter().map(|h| json!({
                    "shown": h.value.map_or_else(|| h.text.clone(), |v| v.to_string()),
                    "by": names.of(&h.by),
                    "at_ms": h.at_ms,
                })).collect::<Vec<_>>(),
                "formula": it.map(|i| i.formula.clone()),
                "shown": l.value.map(|v| {
                    let d = it.map_or(2, |i| i.decimals);
                    let r = crate::modules::quality::formula::round_gb(v, d);
                    format!("{r:.*}", d.max(0) as usize)
                }),
            })
        })
        .collect();
    Ok(json!({
        "s": s,
        "state": s.state.id(),
        "material_code": m.code,
        "material_name": m.name,
        "lot_number": lot.as_ref().map(|l| l.number.clone()),
        "point_name": point.name,
        "lines": lines,
        "sampler": names.of(&s.sampler),
        "decided_by": names.of(&s.decided_by),
    }))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
}

fn samples_data(ctx: &Ctx, state: &str, values: Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let items = svc::items(&r)?;
    let names = People::load(&r)?;
    let rows: Vec<Value> = svc::samples(&r)?
        .iter()
        .filter(|s| match state {
            "" => true,
            // a passed sample without a lot (in-process control) has nothing to release
            "open" => !s.state.closed() && (s.state != SampleState::Passed || s.lot.is_some()),
            "nonconforming" => matches!(
                s.state,
                SampleState::Failed | SampleState::Rejected | SampleState::Concession
            ),
            st => s.state.id() == st,
        })
        .take(500)
        .map(|s| shown(&r, s, &items, &names))
        .collect::<Result<_, _>>()?;
    Ok(context! {
        rows => to_value(&rows),
        state,
        states => ["open", "pending", "passed", "failed", "nonconforming", "released", "rejected", "concession"],
        materials => to_value(&inventory::materials(&r)?),
        points => to_value(&svc::points(&r)?),
        can_write => ctx.who.can(M, Level::Write),
        values => to_value(&values),
    })
}

#[get("/quality/samples")]
async fn samples_page(
    ctx: Need<grant::quality::Read>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let state = q.state.clone().unwrap_or_else(|| "open".into());
    let c = samples_data(&ctx, &state, json!({}))?;
    ctx.page("quality/samples.html", c)
}

#[post("/quality/samples")]
async fn sample_submit(
    ctx: Need<grant::quality::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let material: u64 = f
            .opt("material")?
            .ok_or_else(|| Error::invalid("material", "quality.err.material_not_found"))?;
        let number = f.get("lot").trim().to_string();
        let lot = if number.is_empty() {
            None
        } else {
            let r = ctx.app.store.read()?;
            Some(
                inventory::lot_by_number(&r, material, &number)?
                    .ok_or_else(|| Error::invalid("lot", "quality.err.lot_not_found"))?
                    .id,
            )
        };
        let x = NewSample {
            material,
            lot,
            point: f.opt("point")?.unwrap_or(0),
            spec: None,
            sampler: f.get("sampler").into(),
        };
        ctx.write(move |app, actor| svc::create_sample(&app.store, actor, x, now(app)))
            .await
            .map(|s| format!("/quality/samples/{}", s.id))
    }
    .await;
    ctx.done(r, "flash.saved", "quality/samples.html", || {
        samples_data(&ctx, "open", f.echo())
    })
}

/// An instrument's file uploaded from the samples page: every bad row listed with its
/// number, nothing entered unless all are good.
#[post("/quality/samples/import")]
async fn import_submit(
    ctx: Need<grant::quality::Write>,
    mp: actix_multipart::Multipart,
) -> Result<HttpResponse, AppError> {
    match super::routes::import_upload(&ctx, mp).await {
        Ok(n) => {
            let mut c = samples_data(&ctx, "open", json!({}))?;
            c = context! { imported => n, ..c };
            ctx.page("quality/samples.html", c)
        }
        Err(mut e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => {
            for r in &mut e.rows {
                r.msg = Msg::new("common.err.at_row")
                    .arg("row", r.row)
                    .arg("field", r.field)
                    .arg("msg", r.msg.render(ctx.lang));
            }
            if e.field.is_none() {
                e.field = Some("file");
            }
            let c = samples_data(&ctx, "open", json!({}))?;
            ctx.form_error("quality/samples.html", c, e)
        }
        Err(e) => Err(e),
    }
}

fn sample_data(ctx: &Ctx, id: u64) -> Result<minijinja::Value, AppError> {
    sample_data_typed(ctx, id, &FormData(Vec::new()))
}

/// The sample page; after a refused entry, with the values as typed (`r_<item>` fields).
fn sample_data_typed(ctx: &Ctx, id: u64, typed: &FormData) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let items = svc::items(&r)?;
    let s = svc::sample(&r, id)?;
    let spec = svc::sample_spec(&r, &s)?;
    // every item the lab may enter: the specification's and the inputs of its formulas
    let formulas: Vec<&TestItem> = items.iter().filter(|i| !i.formula.is_empty()).collect();
    let mut wanted: Vec<u64> = s.results.iter().map(|l| l.item).collect();
    let mut i = 0;
    while i < wanted.len() {
        if let Some(f) = formulas.iter().find(|f| f.id == wanted[i]) {
            let known = |_: &str| true;
            if let Ok(parsed) = super::formula::Formula::parse(&f.formula, &known) {
                for k in parsed.inputs() {
                    if let Some(it) = items.iter().find(|x| &x.keyword == k)
                        && !wanted.contains(&it.id)
                    {
                        wanted.push(it.id);
                    }
                }
            }
        }
        i += 1;
    }
    let entry: Vec<Value> = wanted
        .iter()
        .filter_map(|id| items.iter().find(|x| x.id == *id))
        .filter(|x| x.formula.is_empty())
        .map(|x| {
            let current = s.results.iter().find(|l| l.item == x.id);
            let stored = current
                .map(|l| {
                    l.value
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| l.text.clone())
                })
                .unwrap_or_default();
            let field = format!("r_{}", x.id);
            let value = if typed.has(&field) {
                typed.get(&field).to_string()
            } else {
                stored
            };
            json!({"item": x, "value": value})
        })
        .collect();
    let limits: Vec<Value> = spec
        .iter()
        .flat_map(|sp| sp.lines.iter())
        .map(|l| json!({"item": l.item, "shown": super::rules::limits_text(&l.limits)}))
        .collect();
    // the decisions the service would take from this user, so none is offered to be refused
    let own = svc::entered_by(&s, &ctx.actor().label());
    let has_results = s
        .results
        .iter()
        .any(|l| l.value.is_some() || !l.text.is_empty());
    let mut actions = Vec::new();
    if !s.state.closed() && ctx.who.can(M, Level::Approve) {
        if s.state == SampleState::Passed && !own {
            actions.push("release");
        }
        if (s.state == SampleState::Failed || (s.state == SampleState::Pending && spec.is_none()))
            && !own
        {
            actions.push("concession");
        }
        if s.state == SampleState::Failed && !matches!(s.origin, Origin::Retest { .. }) {
            actions.push("retest");
        }
        if has_results && !own {
            actions.push("reject");
        }
    }
    // a lot-less passed sample has nothing to decide
    let waits_for_review = own
        && ctx.who.can(M, Level::Approve)
        && (s.state == SampleState::Failed || (s.state == SampleState::Passed && s.lot.is_some()));
    Ok(context! {
        sample => to_value(&shown(&r, &s, &items, &People::load(&r)?)?),
        entry => to_value(&entry),
        limits => to_value(&limits),
        spec => spec.map(|s| to_value(&s)),
        ncrs => to_value(&svc::ncrs(&r)?.into_iter().filter(|n| n.sample == id).collect::<Vec<_>>()),
        can_write => ctx.who.can(M, Level::Write) && !s.state.closed(),
        customers => to_value(&customers(&r)?),
        actions,
        waits_for_review,
    })
}

#[get("/quality/samples/{id}")]
async fn sample_page(
    ctx: Need<grant::quality::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let c = sample_data(&ctx, *id)?;
    ctx.page("quality/sample.html", c)
}

#[post("/quality/samples/{id}/results")]
async fn results_submit(
    ctx: Need<grant::quality::Write>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = id.into_inner();
    let r = async {
        // fields `r_<item id>`; blank ones are left as they are
        let input: Vec<ResultInput> =
            f.0.iter()
                .filter_map(|(k, v)| {
                    let item = k.strip_prefix("r_")?.parse().ok()?;
                    (!v.trim().is_empty()).then(|| ResultInput {
                        item: Some(item),
                        keyword: String::new(),
                        value: v.clone(),
                    })
                })
                .collect();
        ctx.write(move |app, actor| svc::enter_results(&app.store, actor, id, input, now(app)))
            .await
            .map(|_| format!("/quality/samples/{id}"))
    }
    .await;
    ctx.done(r, "flash.saved", "quality/sample.html", || {
        sample_data_typed(&ctx, id, &f)
    })
}

#[post("/quality/samples/{id}/actions")]
async fn action_submit(
    ctx: Need<grant::quality::Approve>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = id.into_inner();
    let r = async {
        let a: SampleAction =
            serde_json::from_value(json!({"action": f.get("action"), "comment": f.get("comment")}))
                .map_err(|_| Error::invalid("action", "quality.err.action"))?;
        ctx.write(move |app, actor| svc::act(&app.store, actor, id, a, now(app)))
            .await
            .map(|s| format!("/quality/samples/{}", s.retest.unwrap_or(s.id)))
    }
    .await;
    ctx.done(r, "flash.saved", "quality/sample.html", || {
        sample_data(&ctx, id)
    })
}

fn items_data(ctx: &Ctx, values: Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    Ok(context! {
        items => to_value(&svc::items(&r)?),
        versions => to_value(&svc::formula_versions(&r, None)?.into_iter().take(50).collect::<Vec<_>>()),
        kinds => ["number", "text", "pass_fail"],
        can_write => ctx.who.can(M, Level::Write),
        values => to_value(&values),
    })
}

#[get("/quality/items")]
async fn items_page(
    ctx: Need<grant::quality::Read>,
    q: web::Query<SpecQuery>,
) -> Result<HttpResponse, AppError> {
    // changing an item starts from all it holds, so nothing is lost by saving
    let values = match q.edit {
        Some(id) => serde_json::to_value(svc::item(&ctx.app.store.read()?, id)?)
            .unwrap_or_else(|_| json!({})),
        None => json!({"decimals": 2, "kind": "number"}),
    };
    let c = items_data(&ctx, values)?;
    ctx.page("quality/items.html", c)
}

/// Creates an item, or changes the one named by `id` (its keyword, formula…).
#[post("/quality/items")]
async fn item_submit(
    ctx: Need<grant::quality::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let kind = f.choice("kind").unwrap_or_default();
        let x = TestItem {
            id: f.opt("id")?.unwrap_or(0),
            keyword: f.get("keyword").into(),
            name: f.get("name").into(),
            unit: f.get("unit").into(),
            method: f.get("method").into(),
            kind,
            decimals: f.opt("decimals")?.unwrap_or(2),
            plausible_low: f.opt("plausible_low")?,
            plausible_high: f.opt("plausible_high")?,
            formula: f.get("formula").into(),
            formula_version: 0,
            active: f.get("active") != "false",
        };
        ctx.write(move |app, actor| svc::save_item(&app.store, actor, x, now(app)))
            .await
            .map(|_| "/quality/items".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "quality/items.html", || {
        items_data(&ctx, f.echo())
    })
}

#[derive(Deserialize)]
struct SpecQuery {
    /// A specification to change in the form.
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    edit: Option<u64>,
}

fn specs_data(
    ctx: &Ctx,
    edit: Option<u64>,
    values: Option<Value>,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let items = svc::items(&r)?;
    let all = svc::specs(&r)?;
    let specs: Vec<Value> = all
        .iter()
        .map(|s| {
            let m = inventory::material(&r, s.material)?;
            let customer = s
                .customer
                .map(|c| inventory::partner(&r, c).map(|p| p.name))
                .transpose()?;
            let lines: Vec<Value> = s
                .lines
                .iter()
                .map(|l| {
                    let it = items.iter().find(|i| i.id == l.item);
                    json!({"keyword": it.map(|i| i.keyword.clone()), "name": it.map(|i| i.name.clone()),
                           "unit": it.map(|i| i.unit.clone()), "l": l.limits,
                           "shown": super::rules::limits_text(&l.limits)})
                })
                .collect();
            // the versions before this one, as their lines read
            let earlier: Vec<Value> = svc::spec_versions(&r, s.id)?
                .iter()
                .filter(|v| v.version != s.version)
                .map(|v| Ok(json!({"version": v.version, "text": svc::spec_text(&r, v)?.replace('\n', "; ")})))
                .collect::<Result<_, Error>>()?;
            Ok(json!({"s": s, "material": format!("{} {}", m.code, m.name), "customer": customer, "lines": lines, "earlier": earlier}))
        })
        .collect::<Result<_, Error>>()?;
    // the form: what was typed after a refusal, else the specification being changed
    let values = match (values, edit.and_then(|id| all.iter().find(|s| s.id == id))) {
        (Some(v), _) => v,
        (None, Some(s)) => json!({
            "id": s.id, "material": s.material, "stage": s.stage, "grade": s.grade,
            "customer": s.customer, "standard": s.standard, "compare": s.compare,
            "lines": svc::spec_text(&r, s)?,
        }),
        (None, None) => json!({"stage": "finished", "compare": "rounded"}),
    };
    let customers = customers(&r)?;
    Ok(context! {
        specs => to_value(&specs),
        values => to_value(&values),
        materials => to_value(&inventory::materials(&r)?),
        customers => to_value(&customers),
        stages => ["receipt", "intermediate", "finished"],
        can_write => ctx.who.can(M, Level::Write),
    })
}

#[get("/quality/specs")]
async fn specs_page(
    ctx: Need<grant::quality::Read>,
    q: web::Query<SpecQuery>,
) -> Result<HttpResponse, AppError> {
    let c = specs_data(&ctx, q.edit, None)?;
    ctx.page("quality/specs.html", c)
}

/// Creates a specification, or changes the one named by `id`; its lines as written text.
#[post("/quality/specs")]
async fn spec_submit(
    ctx: Need<grant::quality::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let stage = f.choice("stage").unwrap_or(super::model::Stage::Finished);
        let compare = f.choice("compare").unwrap_or_default();
        let lines = svc::spec_lines(&ctx.app.store.read()?, f.get("lines"))?;
        let x = super::model::Spec {
            id: f.opt("id")?.unwrap_or(0),
            material: f
                .opt("material")?
                .ok_or_else(|| Error::invalid("material", "quality.err.material_not_found"))?,
            grade: f.get("grade").into(),
            customer: f.opt("customer")?,
            stage,
            compare,
            lines,
            standard: f.get("standard").into(),
            version: 0,
        };
        ctx.write(move |app, actor| svc::save_spec(&app.store, actor, x))
            .await
            .map(|_| "/quality/specs".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "quality/specs.html", || {
        specs_data(&ctx, None, Some(f.echo()))
    })
}

fn ncrs_data(ctx: &Ctx) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let rows: Vec<Value> = svc::ncrs(&r)?
        .into_iter()
        .map(|n| {
            let s = svc::sample(&r, n.sample)?;
            let m = inventory::material(&r, n.material)?;
            Ok(json!({"n": n, "number": s.number, "material": format!("{} {}", m.code, m.name)}))
        })
        .collect::<Result<_, Error>>()?;
    Ok(context! {
        rows => to_value(&rows),
        dispositions => ["rework", "downgrade", "scrap", "concession", "return"],
        can_decide => ctx.who.can(M, Level::Approve),
    })
}

#[get("/quality/ncrs")]
async fn ncrs_page(ctx: Need<grant::quality::Read>) -> Result<HttpResponse, AppError> {
    let c = ncrs_data(&ctx)?;
    ctx.page("quality/ncrs.html", c)
}

#[post("/quality/ncrs/{id}")]
async fn ncr_submit(
    ctx: Need<grant::quality::Approve>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = id.into_inner();
    let r = async {
        let disposition = f.choice("disposition");
        let x = NcrInput {
            cause: f.get("cause").into(),
            disposition,
            corrective_action: f.get("corrective_action").into(),
            close: f.get("close") == "true",
        };
        ctx.write(move |app, actor| svc::update_ncr(&app.store, actor, id, x, now(app)))
            .await
            .map(|_| "/quality/ncrs".to_string())
    }
    .await;
    ctx.done(r, "flash.saved", "quality/ncrs.html", || ncrs_data(&ctx))
}

#[derive(Deserialize)]
struct SpcQuery {
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    item: Option<u64>,
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    product: Option<u64>,
    #[serde(default)]
    stage: Option<super::model::Stage>,
    /// Subgroup size for the X̄-R chart (2–9); none: individuals only.
    #[serde(default, deserialize_with = "crate::util::blank_none")]
    n: Option<usize>,
}

/// The I-MR chart of an item for a product over the last year, with Cp / Cpk and the
/// Western Electric rules broken.
#[get("/quality/spc")]
async fn spc_page(
    ctx: Need<grant::quality::Read>,
    q: web::Query<SpcQuery>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let specs = svc::specs(&r)?;
    let numeric: Vec<TestItem> = svc::items(&r)?
        .into_iter()
        .filter(|i| i.kind == ItemKind::Number)
        .collect();
    let stage = q.stage.unwrap_or(super::model::Stage::Finished);
    let to = crate::util::now_ms();
    let from = to - 366 * 86_400_000;
    // the numeric items the plant's specifications of a product judge at this stage (a
    // formula's raw inputs are not charted)
    let charted = |p: u64| -> Vec<u64> {
        let mut v: Vec<u64> = specs
            .iter()
            .filter(|s| s.material == p && s.stage == stage && s.customer.is_none())
            .flat_map(|s| s.lines.iter().map(|l| l.item))
            .filter(|i| numeric.iter().any(|x| x.id == *i))
            .collect();
        v.dedup();
        v
    };
    // two readings make a chart
    let has_data =
        |p: u64, i: u64| svc::series(&r, i, p, stage, from, to).is_ok_and(|x| x.len() >= 2);
    let mut products: Vec<u64> = specs
        .iter()
        .filter(|s| s.stage == stage)
        .map(|s| s.material)
        .collect();
    products.sort_unstable();
    products.dedup();
    // by default the first product and item with readings to chart
    let product = q.product.or_else(|| {
        products
            .iter()
            .copied()
            .find(|p| charted(*p).into_iter().any(|i| has_data(*p, i)))
            .or(products.first().copied())
    });
    let mut offered = product.map(charted).unwrap_or_default();
    let item = q.item.or_else(|| {
        let p = product?;
        offered
            .iter()
            .copied()
            .find(|i| has_data(p, *i))
            .or(offered.first().copied())
    });
    if let Some(i) = item.filter(|i| !offered.contains(i)) {
        offered.push(i);
    }
    let items: Vec<&TestItem> = numeric.iter().filter(|x| offered.contains(&x.id)).collect();
    let report = match (item, product) {
        (Some(i), Some(p)) => Some(svc::spc(&r, i, p, stage, from, to, q.n)?),
        _ => None,
    };
    let materials: Vec<Value> = products
        .iter()
        .filter_map(|id| inventory::material(&r, *id).ok())
        .map(|m| json!({"id": m.id, "label": format!("{} {}", m.code, m.name)}))
        .collect();
    let shown = item
        .and_then(|i| numeric.iter().find(|x| x.id == i))
        .cloned();
    ctx.page(
        "quality/spc.html",
        context! {
            items => to_value(&items),
            materials => to_value(&materials),
            item,
            product,
            shown => to_value(&shown),
            report => to_value(&report),
            chart => report.as_ref().map(|x| serde_json::to_string(x).unwrap_or_default()),
            target => super::rules::CPK_TARGET,
            stage => to_value(&stage),
            n => q.n,
            stages => ["finished", "intermediate", "receipt"],
        },
    )
}
