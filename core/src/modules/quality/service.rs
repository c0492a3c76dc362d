//! The only writer of the `quality.*` tables: test items and their versioned formulas,
//! sampling points, specifications, samples (results, computed results, judgement,
//! decisions) and nonconformance reports. A sample's lot is held in inventory while the
//! sample is open and released (or rejected) with its decision, through inventory's
//! service in the same transaction.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use time::Date;

use super::formula::{Formula, FormulaError, find_cycle};
use super::model::{
    Amended, Disposition, FormulaVersion, ItemKind, Nonconformance, Origin, ResultLine, Sample,
    SampleState, SamplingPoint, Spec, SpecLine, Stage, TestItem,
};
use super::rules::{self, Verdict};
use super::store::{
    BY_LOT, BY_RECEIPT, CODES, FORMULAS, ITEMS, NCRS, POINTS, SAMPLES, SEQ, SERIES, SPEC_VERSIONS,
    SPECS,
};
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::modules::inventory::model::LotQuality;
use crate::modules::inventory::service as inventory;
use crate::store::{Actor, Change, Order, Reader, Store, WriteTx};

/// The moment of a write: now, and the plant's day (sample numbers run per plant year).
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub ms: i64,
    pub today: Date,
}

fn claim(
    w: &mut WriteTx,
    field: &'static str,
    key: String,
    id: u64,
    old: Option<String>,
) -> Result<()> {
    if w.claim(&CODES, &key, id, old.as_deref())? {
        Ok(())
    } else {
        Err(Error::invalid(field, "quality.err.duplicate"))
    }
}

// ------------------------------------------------------------------ items and formulas

pub fn items(r: &impl Reader) -> Result<Vec<TestItem>> {
    Ok(r.values(&ITEMS)?)
}

pub fn item(r: &impl Reader, id: u64) -> Result<TestItem> {
    r.get(&ITEMS, &id)?
        .ok_or_else(|| Error::not_found("quality.err.item_not_found"))
}

pub fn item_by_keyword(r: &impl Reader, keyword: &str) -> Result<Option<TestItem>> {
    match r.get(&CODES, &format!("k:{keyword}"))? {
        Some(id) => Ok(Some(item(r, id)?)),
        None => Ok(None),
    }
}

const FUNCTIONS: &[&str] = &[
    "avg", "min", "max", "sum", "abs", "sqrt", "ln", "log10", "exp", "round", "if",
];

fn keyword(v: &str) -> Result<String> {
    let v = v.trim();
    let mut cs = v.chars();
    let ok = cs
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && v.len() <= 20
        && !FUNCTIONS.contains(&v);
    if ok {
        Ok(v.to_string())
    } else {
        Err(Error::invalid("keyword", "quality.err.keyword"))
    }
}

/// A formula error as a refusal of the `formula` field, naming the position.
pub fn formula_error(e: &FormulaError) -> Error {
    let (code, args) = e.message();
    let mut msg = Msg::new(match code {
        "empty" => "quality.formula.empty",
        "too_long" => "quality.formula.too_long",
        "too_deep" => "quality.formula.too_deep",
        "syntax_token" => "quality.formula.syntax_token",
        "syntax_operand" => "quality.formula.syntax_operand",
        "syntax_operator" => "quality.formula.syntax_operator",
        "syntax_close" => "quality.formula.syntax_close",
        "syntax_comma" => "quality.formula.syntax_comma",
        "unknown_keyword" => "quality.formula.unknown_keyword",
        "unknown_function" => "quality.formula.unknown_function",
        "arity_1" => "quality.formula.arity_1",
        "arity_2" => "quality.formula.arity_2",
        "arity_3" => "quality.formula.arity_3",
        "arity_many" => "quality.formula.arity_many",
        "not_finite_at" => "quality.formula.not_finite_at",
        "cycle" => "quality.formula.cycle",
        "division_by_zero" => "quality.formula.division_by_zero",
        "domain" => "quality.formula.domain",
        "missing" => "quality.formula.missing",
        _ => "quality.formula.not_finite",
    });
    for (k, v) in args {
        msg = msg.arg(k, v);
    }
    Error::invalid_msg("formula", msg)
}

/// Each item's formula, parsed (items without one are left out).
fn parsed(all: &[TestItem]) -> HashMap<u64, Formula> {
    let known = |k: &str| all.iter().any(|i| i.active && i.keyword == k);
    all.iter()
        .filter(|i| !i.formula.is_empty())
        .filter_map(|i| Formula::parse(&i.formula, &known).ok().map(|f| (i.id, f)))
        .collect()
}

/// Refuses a set of items whose formulas read each other in a circle.
fn check_cycles(all: &[TestItem]) -> Result<()> {
    let formulas = parsed(all);
    let graph: BTreeMap<String, Vec<String>> = all
        .iter()
        .filter_map(|i| {
            formulas
                .get(&i.id)
                .map(|f| (i.keyword.clone(), f.inputs().to_vec()))
        })
        .collect();
    match find_cycle(&graph) {
        Some(path) => Err(formula_error(&FormulaError {
            kind: super::formula::ErrorKind::Cycle(path),
            at: 0,
        })),
        None => Ok(()),
    }
}

/// Saves a test item. A formula is parsed against the other items' keywords and refused
/// with its position when it does not parse, names an unknown keyword or closes a cycle;
/// each change of it is a new audited version. Renaming a keyword rewrites the formulas
/// that use it (each a new version); deactivating an item a formula reads is refused.
pub fn save_item(store: &Store, actor: &Actor, mut x: TestItem, now: Now) -> Result<TestItem> {
    x.keyword = keyword(&x.keyword)?;
    x.name = text("name", &x.name, 60, true)?;
    x.unit = text("unit", &x.unit, 20, false)?;
    x.method = text("method", &x.method, 100, false)?;
    x.formula = x.formula.trim().to_string();
    if !(-6..=10).contains(&x.decimals) {
        return Err(Error::invalid("decimals", "quality.err.decimals"));
    }
    if let (Some(l), Some(h)) = (x.plausible_low, x.plausible_high)
        && l > h
    {
        return Err(Error::invalid("plausible_high", "quality.err.range"));
    }
    if !x.formula.is_empty() && x.kind != ItemKind::Number {
        return Err(Error::invalid("formula", "quality.err.formula_kind"));
    }
    let mut w = store.write(actor)?;
    let mut all = items(&w)?;
    let before = if x.id == 0 {
        x.id = w.next_id(&ITEMS)?;
        x.formula_version = 0;
        None
    } else {
        let b = item(&w, x.id)?;
        x.formula_version = b.formula_version;
        Some(b)
    };
    claim(
        &mut w,
        "keyword",
        format!("k:{}", x.keyword),
        x.id,
        before.as_ref().map(|b| format!("k:{}", b.keyword)),
    )?;
    // the others as they will be: renamed keyword rewritten into their formulas
    let renamed_from = before
        .as_ref()
        .filter(|b| b.keyword != x.keyword)
        .map(|b| b.keyword.clone());
    let mut rewritten = Vec::new();
    all.retain(|i| i.id != x.id);
    if let Some(old) = &renamed_from {
        // saved formulas parsed; only whether they read `old` matters here
        let known = |_: &str| true;
        for i in all.iter_mut().filter(|i| !i.formula.is_empty()) {
            if let Ok(f) = Formula::parse(&i.formula, &known)
                && f.inputs().contains(old)
            {
                i.formula = f.renamed(old, &x.keyword);
                rewritten.push(i.id);
            }
        }
    }
    if !x.active {
        let mut readers = all.iter().filter(|i| i.active && !i.formula.is_empty());
        let known = |_: &str| true;
        if let Some(r) = readers.find(|i| {
            Formula::parse(&i.formula, &known).is_ok_and(|f| f.inputs().contains(&x.keyword))
        }) {
            return Err(Error::Conflict(
                Msg::new("quality.err.item_in_use").arg("by", &r.keyword),
            ));
        }
        // a specification still asks for it: retire it there first
        if let Some(sp) = specs(&w)?
            .into_iter()
            .find(|sp| sp.lines.iter().any(|l| l.item == x.id))
        {
            let by = if sp.standard.is_empty() {
                format!("#{}", sp.id)
            } else {
                sp.standard
            };
            return Err(Error::Conflict(
                Msg::new("quality.err.item_in_spec").arg("spec", by),
            ));
        }
    }
    if !x.formula.is_empty() {
        let known = |k: &str| k == x.keyword || all.iter().any(|i| i.active && i.keyword == k);
        Formula::parse(&x.formula, &known).map_err(|e| formula_error(&e))?;
    }
    all.push(x.clone());
    check_cycles(&all)?;
    // versions: this item's formula and each rewritten one
    let changed = before
        .as_ref()
        .map_or(!x.formula.is_empty(), |b| b.formula != x.formula);
    if changed {
        x.formula_version += 1;
        new_version(
            &mut w,
            actor,
            &x,
            before.as_ref().map(|b| b.formula.as_str()),
            now,
        )?;
    }
    for id in rewritten {
        let mut i = all
            .iter()
            .find(|i| i.id == id)
            .cloned()
            .expect("rewritten item");
        let old = item(&w, id)?;
        i.formula_version = old.formula_version + 1;
        new_version(&mut w, actor, &i, Some(&old.formula), now)?;
        w.insert(&ITEMS, &id, &i)?;
        w.audit(
            "quality.item.update",
            format!("item:{} {}", i.id, i.keyword),
            Change::updated(&old, &i),
        );
    }
    w.insert(&ITEMS, &x.id, &x)?;
    w.audit_saved(
        "quality.item",
        format!("item:{} {}", x.id, x.keyword),
        before,
        &x,
    );
    w.commit()?;
    Ok(x)
}

fn new_version(
    w: &mut WriteTx,
    actor: &Actor,
    x: &TestItem,
    old: Option<&str>,
    now: Now,
) -> Result<()> {
    let v = FormulaVersion {
        item: x.id,
        version: x.formula_version,
        source: x.formula.clone(),
        by: actor.label(),
        at_ms: now.ms,
    };
    w.insert(&FORMULAS, &(x.id, u64::from(v.version)), &v)?;
    let what = match (old.filter(|o| !o.is_empty()), x.formula.is_empty()) {
        (None, _) => "quality.formula.create",
        (Some(_), true) => "quality.formula.delete",
        (Some(_), false) => "quality.formula.update",
    };
    w.audit(
        what,
        format!("item:{} {} v{}", x.id, x.keyword, v.version),
        Change::updated(old.unwrap_or(""), &x.formula),
    );
    Ok(())
}

/// Every version of every formula (or of one item's), newest first.
pub fn formula_versions(r: &impl Reader, item: Option<u64>) -> Result<Vec<FormulaVersion>> {
    let mut out = Vec::new();
    let range = match item {
        Some(i) => (i, 0)..(i + 1, 0),
        None => (0, 0)..(u64::MAX, 0),
    };
    r.visit(&FORMULAS, range, Order::Desc, |_, v| {
        out.push(v);
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// A formula tried without saving: its inputs and, given their values, its result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checked {
    pub inputs: Vec<String>,
    pub value: Option<f64>,
}

pub fn check_formula(
    r: &impl Reader,
    source: &str,
    values: &BTreeMap<String, f64>,
) -> Result<Checked> {
    let all = items(r)?;
    let known = |k: &str| all.iter().any(|i| i.active && i.keyword == k);
    let f = Formula::parse(source, &known).map_err(|e| formula_error(&e))?;
    // evaluated when given inputs, or when it needs none
    let value = if values.is_empty() && !f.inputs().is_empty() {
        None
    } else {
        Some(
            f.eval_by(|k| values.get(k).copied())
                .map_err(|e| formula_error(&e))?,
        )
    };
    Ok(Checked {
        inputs: f.inputs().to_vec(),
        value,
    })
}

// ------------------------------------------------------------------ points and specs

pub fn points(r: &impl Reader) -> Result<Vec<SamplingPoint>> {
    Ok(r.values(&POINTS)?)
}

pub fn point(r: &impl Reader, id: u64) -> Result<SamplingPoint> {
    r.get(&POINTS, &id)?
        .ok_or_else(|| Error::not_found("quality.err.point_not_found"))
}

pub fn save_point(store: &Store, actor: &Actor, mut x: SamplingPoint) -> Result<SamplingPoint> {
    x.code = text("code", &x.code, 30, true)?;
    if x.code.contains(char::is_whitespace) {
        return Err(Error::invalid("code", "quality.err.code"));
    }
    x.name = text("name", &x.name, 60, true)?;
    x.unit = text("unit", &x.unit, 30, false)?;
    if x.every_hours > 24 * 31 {
        return Err(Error::invalid("every_hours", "quality.err.every_hours"));
    }
    let mut w = store.write(actor)?;
    if let Some(m) = x.material {
        inventory::material(&w, m)
            .map_err(|_| Error::invalid("material", "quality.err.material_not_found"))?;
    }
    if x.every_hours > 0 && x.material.is_none() {
        return Err(Error::invalid("material", "quality.err.schedule_material"));
    }
    let before = if x.id == 0 {
        x.id = w.next_id(&POINTS)?;
        None
    } else {
        Some(point(&w, x.id)?)
    };
    claim(
        &mut w,
        "code",
        format!("p:{}", x.code),
        x.id,
        before.as_ref().map(|b| format!("p:{}", b.code)),
    )?;
    w.insert(&POINTS, &x.id, &x)?;
    w.audit_saved(
        "quality.point",
        format!("point:{} {}", x.id, x.code),
        before,
        &x,
    );
    w.commit()?;
    Ok(x)
}

pub fn specs(r: &impl Reader) -> Result<Vec<Spec>> {
    Ok(r.values(&SPECS)?)
}

pub fn spec(r: &impl Reader, id: u64) -> Result<Spec> {
    r.get(&SPECS, &id)?
        .ok_or_else(|| Error::not_found("quality.err.spec_not_found"))
}

pub fn save_spec(store: &Store, actor: &Actor, mut x: Spec) -> Result<Spec> {
    x.grade = text("grade", &x.grade, 30, false)?;
    x.standard = text("standard", &x.standard, 60, false)?;
    if x.lines.is_empty() || x.lines.len() > 60 {
        return Err(Error::invalid("lines", "quality.err.spec_lines"));
    }
    let mut w = store.write(actor)?;
    inventory::material(&w, x.material)
        .map_err(|_| Error::invalid("material", "quality.err.material_not_found"))?;
    if let Some(c) = x.customer {
        inventory::partner(&w, c)
            .map_err(|_| Error::invalid("customer", "quality.err.customer"))?;
    }
    let mut seen = Vec::new();
    for l in &mut x.lines {
        let it =
            item(&w, l.item).map_err(|_| Error::invalid("lines", "quality.err.item_not_found"))?;
        if seen.contains(&l.item) {
            return Err(Error::invalid_msg(
                "lines",
                Msg::new("quality.err.spec_duplicate").arg("item", &it.keyword),
            ));
        }
        seen.push(l.item);
        if let (Some(a), Some(b)) = (l.limits.min, l.limits.max)
            && a > b
        {
            return Err(Error::invalid_msg(
                "lines",
                Msg::new("quality.err.spec_range").arg("item", &it.keyword),
            ));
        }
        let numeric = l.limits.min.is_some() || l.limits.max.is_some() || l.limits.target.is_some();
        // a line that asks nothing would pass anything
        let criterion = match it.kind {
            ItemKind::Number => l.limits.min.is_some() || l.limits.max.is_some(),
            ItemKind::Text => !l.limits.text.trim().is_empty(),
            ItemKind::PassFail => true,
        };
        if !criterion {
            return Err(Error::invalid_msg(
                "lines",
                Msg::new("quality.err.spec_criterion").arg("item", &it.keyword),
            ));
        }
        if it.kind != ItemKind::Number && numeric {
            return Err(Error::invalid_msg(
                "lines",
                Msg::new("quality.err.spec_kind").arg("item", &it.keyword),
            ));
        }
        l.limits.text = text("lines", &l.limits.text, 60, false)?;
    }
    // one specification per material, grade, customer and stage
    let clash = specs(&w)?.into_iter().any(|s| {
        s.id != x.id
            && s.material == x.material
            && s.grade == x.grade
            && s.customer == x.customer
            && s.stage == x.stage
    });
    if clash {
        return Err(Error::invalid("grade", "quality.err.spec_exists"));
    }
    let before = if x.id == 0 {
        x.id = w.next_id(&SPECS)?;
        None
    } else {
        Some(spec(&w, x.id)?)
    };
    if let Some(b) = before.as_ref().filter(|b| b.version == 0) {
        // saved before versions were kept: it becomes version 1, for the record
        let mut first = b.clone();
        first.version = 1;
        w.insert(&SPEC_VERSIONS, &(x.id, 1), &first)?;
    }
    x.version = before.as_ref().map_or(0, |b| b.version.max(1)) + 1;
    w.insert(&SPECS, &x.id, &x)?;
    w.insert(&SPEC_VERSIONS, &(x.id, u64::from(x.version)), &x)?;
    w.audit_saved(
        "quality.spec",
        format!("spec:{} material:{}", x.id, x.material),
        before,
        &x,
    );
    w.commit()?;
    Ok(x)
}

/// The specification a sample is judged by: the version in force when it was taken.
pub fn sample_spec(r: &impl Reader, s: &Sample) -> Result<Option<Spec>> {
    let Some(id) = s.spec else { return Ok(None) };
    let current = spec(r, id)?;
    Ok(Some(match s.spec_version {
        Some(v) if v != current.version => r
            .get(&SPEC_VERSIONS, &(id, u64::from(v)))?
            .unwrap_or(current),
        _ => current,
    }))
}

/// Every version of a specification, newest first.
pub fn spec_versions(r: &impl Reader, id: u64) -> Result<Vec<Spec>> {
    let mut v = Vec::new();
    r.visit(
        &SPEC_VERSIONS,
        (id, 0)..(id + 1, 0),
        Order::Desc,
        |_, x: Spec| {
            v.push(x);
            ControlFlow::Continue(())
        },
    )?;
    Ok(v)
}

/// The specification a new sample of `material` at `stage` is judged against: the plant's
/// own (no customer), the first grade.
fn default_spec(r: &impl Reader, material: u64, stage: Stage) -> Result<Option<Spec>> {
    Ok(specs(r)?
        .into_iter()
        .filter(|s| s.material == material && s.stage == stage && s.customer.is_none())
        .min_by(|a, b| a.grade.cmp(&b.grade)))
}

// ------------------------------------------------------------------ samples

pub fn samples(r: &impl Reader) -> Result<Vec<Sample>> {
    let mut v: Vec<Sample> = r.values(&SAMPLES)?;
    v.reverse();
    Ok(v)
}

pub fn sample(r: &impl Reader, id: u64) -> Result<Sample> {
    r.get(&SAMPLES, &id)?
        .ok_or_else(|| Error::not_found("quality.err.sample_not_found"))
}

/// The samples of a lot, newest first.
pub fn lot_samples(r: &impl Reader, lot: u64) -> Result<Vec<Sample>> {
    let mut ids = Vec::new();
    r.visit(
        &BY_LOT,
        (lot, 0)..(lot + 1, 0),
        Order::Desc,
        |(_, s), ()| {
            ids.push(s);
            ControlFlow::Continue(())
        },
    )?;
    ids.into_iter().map(|id| sample(r, id)).collect()
}

/// A sample taken by hand.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewSample {
    pub material: u64,
    #[serde(default)]
    pub lot: Option<u64>,
    pub point: u64,
    /// Default: the material's specification at the point's stage.
    #[serde(default)]
    pub spec: Option<u64>,
    #[serde(default)]
    pub sampler: String,
}

pub fn create_sample(store: &Store, actor: &Actor, x: NewSample, now: Now) -> Result<Sample> {
    let sampler = text("sampler", &x.sampler, 40, false)?;
    let mut w = store.write(actor)?;
    let s = open_sample(
        &mut w,
        actor,
        x.material,
        x.lot,
        x.point,
        x.spec,
        Origin::Manual,
        sampler,
        now,
    )?;
    w.commit()?;
    Ok(s)
}

/// Opens a sample: numbered, with a line per specification item, and its lot held in
/// inventory while it is open (a pending sample holds its lot).
#[allow(clippy::too_many_arguments)]
fn open_sample(
    w: &mut WriteTx,
    actor: &Actor,
    material: u64,
    lot: Option<u64>,
    point_id: u64,
    spec_id: Option<u64>,
    origin: Origin,
    sampler: String,
    now: Now,
) -> Result<Sample> {
    inventory::material(w, material)
        .map_err(|_| Error::invalid("material", "quality.err.material_not_found"))?;
    let p =
        point(w, point_id).map_err(|_| Error::invalid("point", "quality.err.point_not_found"))?;
    let mut holds_lot = matches!(origin, Origin::Receipt { .. });
    if let Some(l) = lot {
        let l =
            inventory::lot(w, l).map_err(|_| Error::invalid("lot", "quality.err.lot_not_found"))?;
        if l.material != material {
            return Err(Error::invalid("lot", "quality.err.lot_material"));
        }
        // a rejected lot is scrapped or returned, or reworked into a new lot: not tested
        // back into use
        if l.quality == LotQuality::Rejected {
            return Err(Error::invalid("lot", "quality.err.lot_rejected"));
        }
        holds_lot |= l.quality == LotQuality::Released;
    }
    // a retest answers the same requirement the first sample failed: its version
    let mut retested_spec = None;
    if let Origin::Retest { of } = origin {
        let first = sample(w, of)?;
        holds_lot = first.holds_lot;
        retested_spec = sample_spec(w, &first)?;
    }
    let spec = match spec_id {
        _ if retested_spec.is_some() => retested_spec,
        Some(id) => {
            let s =
                spec(w, id).map_err(|_| Error::invalid("spec", "quality.err.spec_not_found"))?;
            if s.material != material {
                return Err(Error::invalid("spec", "quality.err.spec_material"));
            }
            Some(s)
        }
        None => default_spec(w, material, p.stage)?,
    };
    let id = w.next_id(&SAMPLES)?;
    let year = now.today.year() as u64;
    let n = w.get(&SEQ, &year)?.unwrap_or(0) + 1;
    w.insert(&SEQ, &year, &n)?;
    let number = format!("QC-{year}-{n:06}");
    let results = spec
        .iter()
        .flat_map(|s| s.lines.iter())
        .map(|l| ResultLine::empty(l.item))
        .collect();
    let s = Sample {
        id,
        number: number.clone(),
        material,
        lot,
        point: point_id,
        spec_version: spec.as_ref().map(|s| s.version),
        spec: spec.map(|s| s.id),
        origin,
        taken_ms: now.ms,
        sampler: if sampler.is_empty() {
            actor.label()
        } else {
            sampler
        },
        state: SampleState::Pending,
        results,
        verdict: Verdict::Pending,
        decided_by: String::new(),
        decided_ms: None,
        comment: String::new(),
        retest: None,
        holds_lot,
    };
    claim(w, "number", format!("n:{number}"), id, None)?;
    w.insert(&SAMPLES, &id, &s)?;
    if let Some(l) = lot {
        w.insert(&BY_LOT, &(l, id), &())?;
        hold(w, actor, l, &number)?;
    }
    w.audit(
        "quality.sample.create",
        format!("sample:{id} {number}"),
        Change::created(&s),
    );
    Ok(s)
}

/// Holds a lot for a sample (a lot already held or rejected stays as it is).
fn hold(w: &mut WriteTx, actor: &Actor, lot: u64, number: &str) -> Result<()> {
    if inventory::lot(w, lot)?.quality == LotQuality::Released {
        let note = Msg::new("quality.note.held")
            .arg("sample", number)
            .render(crate::i18n::Lang::ZhCn);
        inventory::set_lot_quality_in(w, actor, lot, LotQuality::Held, &note)?;
    }
    Ok(())
}

/// Opens the incoming sample of a receipt of a material under incoming inspection, once
/// per receipt; None when the material is not inspected or the sample exists.
pub fn on_receipt(store: &Store, actor: &Actor, movement: u64, now: Now) -> Result<Option<Sample>> {
    let mut w = store.write(actor)?;
    if w.get(&BY_RECEIPT, &movement)?.is_some() {
        return Ok(None);
    }
    let mv = inventory::movement(&w, movement)?;
    let m = inventory::material(&w, mv.material)?;
    if !m.inspect {
        return Ok(None);
    }
    let p = match points(&w)?.into_iter().find(|p| p.stage == Stage::Receipt) {
        Some(p) => p,
        None => {
            // the first receipt of an inspected material sets up the goods-in point
            let p = SamplingPoint {
                id: w.next_id(&POINTS)?,
                code: "SP-IN".into(),
                name: "原料进厂 Goods in".into(),
                stage: Stage::Receipt,
                unit: String::new(),
                every_hours: 0,
                material: None,
            };
            claim(&mut w, "code", "p:SP-IN".into(), p.id, None)?;
            w.insert(&POINTS, &p.id, &p)?;
            w.audit(
                "quality.point.create",
                format!("point:{} SP-IN", p.id),
                Change::created(&p),
            );
            p
        }
    };
    let s = open_sample(
        &mut w,
        actor,
        m.id,
        Some(mv.lot),
        p.id,
        None,
        Origin::Receipt { movement },
        mv.by.clone(),
        now,
    )?;
    w.insert(&BY_RECEIPT, &movement, &s.id)?;
    w.commit()?;
    Ok(Some(s))
}

/// One entered result: the item by keyword (or id), and the value as typed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ResultInput {
    #[serde(default)]
    pub item: Option<u64>,
    #[serde(default)]
    pub keyword: String,
    /// A number (`12.5`, `12,5`), a text, or `pass` / `fail` (合格 / 不合格).
    pub value: String,
}

/// Enters results, computes the formula items, judges every item and the sample. A result
/// outside its item's plausible range, on a decided sample, or for a computed item is
/// refused and nothing changes. A failing sample opens a nonconformance report.
pub fn enter_results(
    store: &Store,
    actor: &Actor,
    id: u64,
    input: Vec<ResultInput>,
    now: Now,
) -> Result<Sample> {
    let mut w = store.write(actor)?;
    let s = results_in(&mut w, actor, id, input, now)?;
    w.commit()?;
    Ok(s)
}

/// `enter_results` inside a transaction (an instrument file enters many samples at once).
fn results_in(
    w: &mut WriteTx,
    actor: &Actor,
    id: u64,
    input: Vec<ResultInput>,
    now: Now,
) -> Result<Sample> {
    if input.is_empty() || input.len() > 100 {
        return Err(Error::invalid("results", "quality.err.results"));
    }
    let before = sample(w, id)?;
    if before.state.closed() {
        return Err(Error::conflict("quality.err.sample_closed"));
    }
    // an out-of-specification result is a record: a retest, a concession or a rejection
    // answers it, not an edit
    if before.state == SampleState::Failed {
        return Err(Error::conflict("quality.err.sample_failed"));
    }
    let mut s = before.clone();
    let all = items(w)?;
    let mut seen = Vec::new();
    for r in input {
        let it = entered_item(&all, &r)?;
        // one result an item: a second would silently replace the first (a failing one)
        if seen.contains(&it.id) {
            return Err(Error::invalid_msg(
                "results",
                Msg::new("quality.err.result_twice").arg("item", &it.keyword),
            ));
        }
        seen.push(it.id);
        let (value, text_value) = entered_value(it, &r.value)?;
        let line = line_for(&mut s, it.id);
        // the same value again (a form sent back as it was) is no new result: it keeps
        // who entered it and when
        if line.value == value && line.text == text_value {
            continue;
        }
        // a changed result keeps the one it replaces, with who entered it and when
        if line.value.is_some() || !line.text.is_empty() {
            line.history.push(Amended {
                value: line.value,
                text: std::mem::take(&mut line.text),
                by: std::mem::take(&mut line.by),
                at_ms: line.at_ms,
            });
        }
        line.value = value;
        line.text = text_value;
        line.by = actor.label();
        line.at_ms = now.ms;
        line.error.clear();
    }
    compute(&mut s, &all, actor, now);
    let sp = sample_spec(w, &s)?;
    judge(&mut s, &all, sp.as_ref());
    // the numeric results, for SPC: per stage (a reactor's in-process readings are not
    // the finished product's)
    let stage = point(w, s.point)?.stage;
    for l in &s.results {
        if let Some(v) = l.value {
            w.insert(
                &SERIES,
                &(
                    l.item,
                    lane(s.material, stage),
                    s.taken_ms.max(0) as u64,
                    s.id,
                ),
                &v,
            )?;
        }
    }
    if s.state == SampleState::Failed && before.state != SampleState::Failed {
        open_ncr(w, &s, &all, sp.as_ref(), now)?;
    }
    w.insert(&SAMPLES, &s.id, &s)?;
    w.audit(
        "quality.sample.results",
        format!("sample:{} {}", s.id, s.number),
        Change::updated(&before, &s),
    );
    Ok(s)
}

/// The item a result is for: by id, else by keyword; a computed item takes no result.
fn entered_item<'a>(all: &'a [TestItem], r: &ResultInput) -> Result<&'a TestItem> {
    let it = match r.item {
        Some(i) => all.iter().find(|x| x.id == i),
        None => all.iter().find(|x| x.keyword == r.keyword.trim()),
    }
    .ok_or_else(|| {
        Error::invalid_msg(
            "results",
            Msg::new("quality.err.no_item").arg("item", r.keyword.trim()),
        )
    })?;
    if !it.formula.is_empty() {
        return Err(Error::invalid_msg(
            "results",
            Msg::new("quality.err.computed").arg("item", &it.keyword),
        ));
    }
    Ok(it)
}

/// A result as typed, read for its item: a number within the plausible range, a text, or
/// pass / fail.
fn entered_value(it: &TestItem, typed: &str) -> Result<(Option<f64>, String)> {
    let v = typed.trim();
    Ok(match it.kind {
        ItemKind::Number => {
            // a point is the decimal sign: 1,250 is refused, not read as 1.25
            let n: f64 = v
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| {
                    Error::invalid_msg(
                        "results",
                        Msg::new("quality.err.number")
                            .arg("item", format!("{} {}", it.name, it.keyword)),
                    )
                })?;
            if !rules::plausible(n, it.plausible_low, it.plausible_high) {
                let bound = |b: Option<f64>| b.map_or("—".into(), |x| x.to_string());
                return Err(Error::invalid_msg(
                    "results",
                    Msg::new("quality.err.implausible")
                        .arg("item", &it.keyword)
                        .arg("value", n)
                        .arg("low", bound(it.plausible_low))
                        .arg("high", bound(it.plausible_high)),
                ));
            }
            (Some(n), String::new())
        }
        ItemKind::Text => (None, text("results", v, 200, true)?),
        ItemKind::PassFail => match v.to_lowercase().as_str() {
            "pass" | "合格" | "ok" | "1" | "true" => (None, "pass".to_string()),
            "fail" | "不合格" | "ng" | "0" | "false" => (None, "fail".to_string()),
            _ => {
                return Err(Error::invalid_msg(
                    "results",
                    Msg::new("quality.err.pass_fail").arg("item", &it.keyword),
                ));
            }
        },
    })
}

fn line_for(s: &mut Sample, item: u64) -> &mut ResultLine {
    let i = match s.results.iter().position(|l| l.item == item) {
        Some(i) => i,
        None => {
            s.results.push(ResultLine::empty(item));
            s.results.len() - 1
        }
    };
    &mut s.results[i]
}

/// Computes every formula item of the sample's lines whose inputs have values, in
/// dependency order (a formula may read another's result). A formula that cannot be
/// evaluated leaves its line without a value and with the reason.
fn compute(s: &mut Sample, all: &[TestItem], actor: &Actor, now: Now) {
    let formulas = parsed(all);
    let keyword_of = |id: u64| all.iter().find(|i| i.id == id).map(|i| i.keyword.clone());
    // computed lines start over from the entered values; one that comes out the same keeps
    // when (and on whose entry) it was computed
    let before: HashMap<u64, Option<f64>> = s
        .results
        .iter()
        .filter(|l| formulas.contains_key(&l.item))
        .map(|l| (l.item, l.value))
        .collect();
    for l in s
        .results
        .iter_mut()
        .filter(|l| formulas.contains_key(&l.item))
    {
        l.value = None;
    }
    // at most one pass per formula: cycles were refused when formulas were saved
    for _ in 0..=formulas.len() {
        let values: HashMap<String, f64> = s
            .results
            .iter()
            .filter_map(|l| Some((keyword_of(l.item)?, l.value?)))
            .collect();
        let mut progress = false;
        for l in s.results.iter_mut().filter(|l| l.value.is_none()) {
            let Some(f) = formulas.get(&l.item) else {
                continue;
            };
            let version = all
                .iter()
                .find(|i| i.id == l.item)
                .map(|i| i.formula_version);
            if f.inputs().iter().all(|k| values.contains_key(k)) {
                match f.eval_by(|k| values.get(k).copied()) {
                    Ok(v) => {
                        l.value = Some(v);
                        l.error.clear();
                        progress = true;
                    }
                    Err(e) => l.error = formula_error(&e).to_string(),
                }
                if before.get(&l.item) != Some(&l.value) || l.formula_version != version {
                    l.formula_version = version;
                    l.by = actor.label();
                    l.at_ms = now.ms;
                }
            } else {
                let missing: Vec<&str> = f
                    .inputs()
                    .iter()
                    .filter(|k| !values.contains_key(*k))
                    .map(String::as_str)
                    .collect();
                l.error = format!("missing: {}", missing.join(", "));
            }
        }
        if !progress {
            break;
        }
    }
}

/// Judges each line against the specification and sets the sample's verdict and state.
fn judge(s: &mut Sample, all: &[TestItem], sp: Option<&Spec>) {
    let limits = |item: u64| -> Option<&SpecLine> { sp?.lines.iter().find(|l| l.item == item) };
    for l in &mut s.results {
        let Some(it) = all.iter().find(|i| i.id == l.item) else {
            continue;
        };
        // an item the specification does not name is reported, not judged
        let Some(lim) = limits(l.item).map(|x| x.limits.clone()) else {
            l.verdict = Verdict::Pending;
            continue;
        };
        l.verdict = match it.kind {
            ItemKind::Number => match l.value {
                Some(v) => rules::judge_number(
                    v,
                    it.decimals,
                    sp.map(|s| s.compare).unwrap_or_default(),
                    &lim,
                ),
                None => Verdict::Pending,
            },
            ItemKind::Text => rules::judge_text(&l.text, &lim),
            ItemKind::PassFail => match l.text.as_str() {
                "pass" => Verdict::Pass,
                "fail" => Verdict::Fail,
                _ => Verdict::Pending,
            },
        };
    }
    // the specification's items decide; without a specification nothing can pass
    s.verdict = match sp {
        Some(sp) => rules::overall(sp.lines.iter().map(|sl| {
            s.results
                .iter()
                .find(|l| l.item == sl.item)
                .map_or(Verdict::Pending, |l| l.verdict)
        })),
        None => Verdict::Pending,
    };
    s.state = match s.verdict {
        Verdict::Pass => SampleState::Passed,
        Verdict::Fail => SampleState::Failed,
        Verdict::Pending => SampleState::Pending,
    };
}

fn open_ncr(
    w: &mut WriteTx,
    s: &Sample,
    all: &[TestItem],
    sp: Option<&Spec>,
    now: Now,
) -> Result<()> {
    let finding = s
        .results
        .iter()
        .filter(|l| l.verdict == Verdict::Fail)
        .map(|l| {
            let it = all.iter().find(|i| i.id == l.item);
            let lim = sp.and_then(|sp| sp.lines.iter().find(|x| x.item == l.item));
            let shown = match (l.value, it) {
                (Some(v), Some(i)) => {
                    let d = i.decimals;
                    format!("{:.*}", d.max(0) as usize, super::formula::round_gb(v, d))
                }
                (Some(v), None) => v.to_string(),
                (None, _) => l.text.clone(),
            };
            let range = lim.map_or(String::new(), |x| {
                format!(" ({})", rules::limits_text(&x.limits))
            });
            format!("{} {shown}{range}", it.map_or("?", |i| i.keyword.as_str()))
        })
        .collect::<Vec<_>>()
        .join("; ");
    // decided without a failing line: the decision's reason is the finding
    let finding = if finding.is_empty() {
        s.comment.clone()
    } else {
        finding
    };
    let n = Nonconformance {
        id: w.next_id(&NCRS)?,
        sample: s.id,
        lot: s.lot,
        material: s.material,
        opened_ms: now.ms,
        finding,
        cause: String::new(),
        disposition: None,
        corrective_action: String::new(),
        closed_by: String::new(),
        closed_ms: None,
    };
    w.insert(&NCRS, &n.id, &n)?;
    w.audit(
        "quality.ncr.create",
        format!("ncr:{} {}", n.id, s.number),
        Change::created(&n),
    );
    Ok(())
}

/// What is decided about a sample.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum SampleAction {
    /// A passed sample: its lot is released.
    Release {
        #[serde(default)]
        comment: String,
    },
    /// A failed sample (or one without a specification) released anyway (让步接收): the
    /// reason is required and the nonconformance report is closed as a concession.
    Concession {
        #[serde(default)]
        comment: String,
    },
    /// The lot is 不合格: only scrap or return remain.
    Reject {
        #[serde(default)]
        comment: String,
    },
    /// A failed sample is tested again: a new sample replaces it, the lot stays held.
    Retest {
        #[serde(default)]
        comment: String,
    },
}

/// Decides a sample (the route checks the approve grant). Release and concession release
/// the lot in inventory unless another open sample still holds it; reject marks it 不合格.
pub fn act(
    store: &Store,
    actor: &Actor,
    id: u64,
    action: SampleAction,
    now: Now,
) -> Result<Sample> {
    let mut w = store.write(actor)?;
    let before = sample(&w, id)?;
    if before.state.closed() {
        return Err(Error::conflict("quality.err.sample_closed"));
    }
    let mut s = before.clone();
    let wrong = || Error::conflict("quality.err.action_state");
    // four eyes (GB/T 27025 §7.8.1.1 review of results): who entered a result does not
    // also decide the sample; a retest may be ordered by anyone with the grant
    if !matches!(action, SampleAction::Retest { .. }) && entered_by(&s, &actor.label()) {
        return Err(Error::conflict("quality.err.four_eyes"));
    }
    let (code, lot_to) = match &action {
        SampleAction::Release { comment } => {
            if s.state != SampleState::Passed {
                return Err(wrong());
            }
            s.comment = text("comment", comment, 500, false)?;
            s.state = SampleState::Released;
            // a passed retest settles the failure that called for it
            let chain = retested(&w, &s)?;
            close_ncrs(
                &mut w,
                actor,
                &chain,
                Disposition::Retested,
                &s.comment,
                now,
            )?;
            ("quality.sample.release", Some(LotQuality::Released))
        }
        SampleAction::Concession { comment } => {
            let allowed = s.state == SampleState::Failed
                || (s.state == SampleState::Pending && s.spec.is_none());
            if !allowed {
                return Err(wrong());
            }
            // a concession accepts a nonconformity that was found, not untested material
            if !has_results(&s) {
                return Err(Error::conflict("quality.err.concession_empty"));
            }
            s.comment = text("comment", comment, 500, true)?;
            s.state = SampleState::Concession;
            ensure_ncr(&mut w, &s, now)?;
            let mut chain = retested(&w, &s)?;
            chain.push(s.id);
            close_ncrs(
                &mut w,
                actor,
                &chain,
                Disposition::Concession,
                &s.comment,
                now,
            )?;
            ("quality.sample.concession", Some(LotQuality::Released))
        }
        SampleAction::Reject { comment } => {
            // a rejection rests on a result; the nonconformance report (if any) stays
            // open for its disposition (scrap, return, rework)
            if !has_results(&s) {
                return Err(Error::conflict("quality.err.reject_empty"));
            }
            s.comment = text("comment", comment, 500, true)?;
            ensure_ncr(&mut w, &s, now)?;
            s.state = SampleState::Rejected;
            ("quality.sample.reject", Some(LotQuality::Rejected))
        }
        SampleAction::Retest { comment } => {
            if s.state != SampleState::Failed {
                return Err(wrong());
            }
            // one retest, on a doubled sample (复验规则 of GB product standards: a failed
            // retest fails the lot), decided then by rejection or concession
            if matches!(s.origin, Origin::Retest { .. }) {
                return Err(Error::conflict("quality.err.retest_once"));
            }
            s.comment = text("comment", comment, 500, false)?;
            let r = open_sample(
                &mut w,
                actor,
                s.material,
                s.lot,
                s.point,
                s.spec,
                Origin::Retest { of: s.id },
                String::new(),
                now,
            )?;
            s.retest = Some(r.id);
            s.state = SampleState::Retested;
            ("quality.sample.retest", None)
        }
    };
    s.decided_by = actor.label();
    s.decided_ms = Some(now.ms);
    w.insert(&SAMPLES, &s.id, &s)?;
    if let (Some(lot), Some(q)) = (s.lot, lot_to) {
        let current = inventory::lot(&w, lot)?.quality;
        if current == LotQuality::Rejected && q == LotQuality::Released {
            // rejected meanwhile (by another sample): it stays 不合格
            return Err(Error::conflict("quality.err.lot_rejected"));
        }
        // another open sample of the lot keeps it held; a hold quality did not place
        // (a complaint) is not quality's to lift
        let others_open = lot_samples(&w, lot)?
            .iter()
            .any(|o| o.id != s.id && !o.state.closed());
        let ours = s.holds_lot || current == LotQuality::Released;
        if q == LotQuality::Rejected || (!others_open && ours) {
            let note = Msg::new(match q {
                LotQuality::Rejected => "quality.note.rejected",
                _ if s.state == SampleState::Concession => "quality.note.concession",
                _ => "quality.note.released",
            })
            .arg("sample", &s.number)
            .arg("comment", &s.comment)
            .render(crate::i18n::Lang::ZhCn);
            inventory::set_lot_quality_in(&mut w, actor, lot, q, &note)?;
        }
    }
    w.audit(
        code,
        format!("sample:{} {}", s.id, s.number),
        Change::updated(&before, &s),
    );
    w.commit()?;
    Ok(s)
}

// ------------------------------------------------------------------ nonconformance

pub fn ncrs(r: &impl Reader) -> Result<Vec<Nonconformance>> {
    let mut v: Vec<Nonconformance> = r.values(&NCRS)?;
    v.reverse();
    Ok(v)
}

/// Whether `label` entered a result of the sample, standing or since corrected.
pub fn entered_by(s: &Sample, label: &str) -> bool {
    s.results.iter().any(|l| {
        (l.by == label && l.formula_version.is_none()) || l.history.iter().any(|h| h.by == label)
    })
}

fn has_results(s: &Sample) -> bool {
    s.results
        .iter()
        .any(|l| l.value.is_some() || !l.text.is_empty())
}

/// A sample rejected or conceded without a failing result (no specification, or a
/// judgement by the lab) still gets its nonconformance report, with the decision's reason
/// as the finding, unless it or the sample it retests has one.
fn ensure_ncr(w: &mut WriteTx, s: &Sample, now: Now) -> Result<()> {
    let mut chain = retested(w, s)?;
    chain.push(s.id);
    if ncrs(w)?.iter().any(|n| chain.contains(&n.sample)) {
        return Ok(());
    }
    let all = items(w)?;
    let sp = sample_spec(w, s)?;
    open_ncr(w, s, &all, sp.as_ref(), now)
}

/// The samples a sample retests, nearest first.
fn retested(r: &impl Reader, s: &Sample) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut origin = s.origin.clone();
    while let Origin::Retest { of } = origin {
        out.push(of);
        origin = sample(r, of)?.origin;
    }
    Ok(out)
}

/// Closes the open nonconformance reports of the given samples with a disposition.
fn close_ncrs(
    w: &mut WriteTx,
    actor: &Actor,
    samples: &[u64],
    d: Disposition,
    note: &str,
    now: Now,
) -> Result<()> {
    for mut n in ncrs(w)?
        .into_iter()
        .filter(|n| samples.contains(&n.sample) && n.closed_ms.is_none())
    {
        let before = n.clone();
        n.disposition = Some(d);
        if n.corrective_action.is_empty() {
            n.corrective_action = note.to_string();
        }
        n.closed_by = actor.label();
        n.closed_ms = Some(now.ms);
        w.insert(&NCRS, &n.id, &n)?;
        w.audit(
            "quality.ncr.close",
            format!("ncr:{}", n.id),
            Change::updated(&before, &n),
        );
    }
    Ok(())
}

/// What the quality lead records on a nonconformance report.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NcrInput {
    #[serde(default)]
    pub cause: String,
    #[serde(default)]
    pub disposition: Option<Disposition>,
    #[serde(default)]
    pub corrective_action: String,
    /// Close it (a disposition and a corrective action are then required).
    #[serde(default)]
    pub close: bool,
}

pub fn update_ncr(
    store: &Store,
    actor: &Actor,
    id: u64,
    x: NcrInput,
    now: Now,
) -> Result<Nonconformance> {
    let mut w = store.write(actor)?;
    let before = w
        .get(&NCRS, &id)?
        .ok_or_else(|| Error::not_found("quality.err.ncr_not_found"))?;
    if before.closed_ms.is_some() {
        return Err(Error::conflict("quality.err.ncr_closed"));
    }
    let mut n = before.clone();
    n.cause = text("cause", &x.cause, 500, false)?;
    n.corrective_action = text("corrective_action", &x.corrective_action, 500, false)?;
    n.disposition = x.disposition;
    if x.close {
        if n.disposition.is_none() {
            return Err(Error::invalid("disposition", "quality.err.disposition"));
        }
        if n.corrective_action.is_empty() {
            return Err(Error::invalid_msg(
                "corrective_action",
                Msg::new("common.err.required").arg("field", "corrective_action"),
            ));
        }
        n.closed_by = actor.label();
        n.closed_ms = Some(now.ms);
    }
    w.insert(&NCRS, &n.id, &n)?;
    w.audit(
        "quality.ncr.update",
        format!("ncr:{}", n.id),
        Change::updated(&before, &n),
    );
    w.commit()?;
    Ok(n)
}

// ------------------------------------------------------------------ SPC

/// One item of one material over a time span: the readings in time order.
/// A material's readings at one stage share a key prefix in `quality.series`.
fn lane(material: u64, stage: Stage) -> u64 {
    material << 2
        | match stage {
            Stage::Receipt => 0,
            Stage::Intermediate => 1,
            Stage::Finished => 2,
        }
}

pub fn series(
    r: &impl Reader,
    item: u64,
    material: u64,
    stage: Stage,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(i64, u64, f64)>> {
    let mut out = Vec::new();
    let (a, b) = (from_ms.max(0) as u64, to_ms.max(0) as u64);
    let lane = lane(material, stage);
    r.visit(
        &SERIES,
        (item, lane, a, 0)..(item, lane, b, 0),
        Order::Asc,
        |(_, _, ms, sample), v| {
            out.push((ms as i64, sample, v));
            ControlFlow::Continue(())
        },
    )?;
    Ok(out)
}

/// Counts for the compliance page.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub items: usize,
    pub formulas: usize,
    pub points: usize,
    pub specs: usize,
    pub samples: usize,
    pub judged: usize,
    pub failed: usize,
    pub ncrs: usize,
}

pub fn counts(r: &impl Reader) -> Result<Counts> {
    let its = items(r)?;
    let ss = samples(r)?;
    Ok(Counts {
        items: its.len(),
        formulas: its.iter().filter(|i| !i.formula.is_empty()).count(),
        points: points(r)?.len(),
        specs: specs(r)?.len(),
        samples: ss.len(),
        judged: ss.iter().filter(|s| s.verdict != Verdict::Pending).count(),
        failed: ss
            .iter()
            .filter(|s| {
                matches!(
                    s.state,
                    SampleState::Failed | SampleState::Rejected | SampleState::Concession
                )
            })
            .count(),
        ncrs: r.count(&NCRS)? as usize,
    })
}

/// The plant's specification limits (LSL, USL) of an item for a material at a stage (the
/// first grade's; customers' own specifications are for their certificates).
pub fn limits_for(
    r: &impl Reader,
    item: u64,
    material: u64,
    stage: Stage,
) -> Result<(Option<f64>, Option<f64>)> {
    let mut own: Vec<Spec> = specs(r)?
        .into_iter()
        .filter(|s| s.material == material && s.customer.is_none() && s.stage == stage)
        .collect();
    own.sort_by_key(|s| s.grade.clone());
    Ok(own
        .iter()
        .find_map(|s| s.lines.iter().find(|l| l.item == item))
        .map_or((None, None), |l| (l.limits.min, l.limits.max)))
}

/// The open (undecided) samples of a lot: while there is one, the lot is released only by
/// deciding it.
pub fn open_samples(r: &impl Reader, lot: u64) -> Result<Vec<Sample>> {
    Ok(lot_samples(r, lot)?
        .into_iter()
        .filter(|s| !s.state.closed())
        .collect())
}

/// One line of a certificate of analysis.
#[derive(Debug, Clone, Serialize)]
pub struct CoaLine {
    pub keyword: String,
    pub name: String,
    pub unit: String,
    pub method: String,
    pub limits: rules::Limits,
    /// The limits as written in the specification (`≤ 5.0`).
    pub limits_text: String,
    /// The result as reported: rounded to the item's decimals (GB/T 8170), or the text.
    pub result: String,
    pub verdict: Verdict,
}

/// A lot's certificate of analysis: the newest released (or conceded) sample of the lot,
/// its results against the customer's specification when one is given and exists, else
/// the plant's.
#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    pub sample: Sample,
    pub spec: Spec,
    /// The specification is the customer's own.
    pub customers_spec: bool,
    pub lines: Vec<CoaLine>,
    /// Every line passes (a concession says so on the certificate).
    pub conforms: bool,
}

pub fn certificate(r: &impl Reader, lot: u64, customer: Option<u64>) -> Result<Certificate> {
    // a certificate of conformity for a lot that is held or rejected now would be false
    if inventory::lot(r, lot)?.quality != LotQuality::Released {
        return Err(Error::Conflict(Msg::new("quality.err.coa_lot_status")));
    }
    let s = lot_samples(r, lot)?
        .into_iter()
        .find(|s| matches!(s.state, SampleState::Released | SampleState::Concession))
        .ok_or_else(|| Error::Conflict(Msg::new("quality.err.no_release")))?;
    let Some(plant) = sample_spec(r, &s)? else {
        return Err(Error::Conflict(Msg::new("quality.err.no_release")));
    };
    let theirs = customer.and_then(|c| {
        specs(r).ok()?.into_iter().find(|x| {
            x.material == plant.material && x.stage == plant.stage && x.customer == Some(c)
        })
    });
    let customers_spec = theirs.is_some();
    let sp = theirs.unwrap_or(plant);
    let all = items(r)?;
    let mut lines = Vec::new();
    for l in &sp.lines {
        let Some(it) = all.iter().find(|i| i.id == l.item) else {
            continue;
        };
        let res = s.results.iter().find(|x| x.item == l.item);
        let (result, verdict) = match (it.kind, res) {
            (ItemKind::Number, Some(x)) if x.value.is_some() => {
                let v = x.value.unwrap_or_default();
                let shown = super::formula::round_gb(v, it.decimals);
                (
                    format!("{shown:.*}", it.decimals.max(0) as usize),
                    rules::judge_number(v, it.decimals, sp.compare, &l.limits),
                )
            }
            (ItemKind::Text, Some(x)) => (x.text.clone(), rules::judge_text(&x.text, &l.limits)),
            (ItemKind::PassFail, Some(x)) => (
                x.text.clone(),
                if x.text == "pass" {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
            ),
            _ => ("—".into(), Verdict::Pending),
        };
        lines.push(CoaLine {
            keyword: it.keyword.clone(),
            name: it.name.clone(),
            unit: it.unit.clone(),
            method: it.method.clone(),
            limits: l.limits.clone(),
            limits_text: rules::limits_text(&l.limits),
            result,
            verdict,
        });
    }
    // a customer's item the lot was not tested for cannot be certified, pass or fail
    let untested: Vec<&str> = lines
        .iter()
        .filter(|l| l.verdict == Verdict::Pending)
        .map(|l| l.keyword.as_str())
        .collect();
    if customers_spec && !untested.is_empty() {
        return Err(Error::Conflict(
            Msg::new("quality.err.coa_untested")
                .arg("sample", &s.number)
                .arg("items", untested.join(", ")),
        ));
    }
    let conforms = !lines.is_empty() && lines.iter().all(|l| l.verdict == Verdict::Pass);
    Ok(Certificate {
        sample: s,
        spec: sp,
        customers_spec,
        lines,
        conforms,
    })
}

/// Opens the samples that sampling points with a schedule are due for (every `every_hours`
/// since the point's last sample); returns how many.
pub fn scheduled(store: &Store, actor: &Actor, now: Now) -> Result<usize> {
    let r = store.read()?;
    // each point's newest sample, from one pass over the samples
    let mut last: HashMap<u64, i64> = HashMap::new();
    for s in samples(&r)? {
        let t = last.entry(s.point).or_insert(s.taken_ms);
        *t = (*t).max(s.taken_ms);
    }
    let due: Vec<SamplingPoint> = points(&r)?
        .into_iter()
        .filter(|p| p.every_hours > 0 && p.material.is_some())
        .filter(|p| {
            last.get(&p.id)
                .is_none_or(|t| now.ms - t >= i64::from(p.every_hours) * 3_600_000)
        })
        .collect();
    drop(r);
    for p in &due {
        let mut w = store.write(actor)?;
        let material = p.material.unwrap_or_default();
        open_sample(
            &mut w,
            actor,
            material,
            None,
            p.id,
            None,
            Origin::Schedule,
            String::new(),
            now,
        )?;
        w.commit()?;
    }
    Ok(due.len())
}

/// An instrument's export: one result a row (`sample` number, `item` keyword, `value`),
/// as CSV or Excel. Every row is checked first and the file is refused, with the rows at
/// fault, unless all are good; then each sample's results are entered as by hand, all in
/// one transaction.
pub fn import_results(
    store: &Store,
    actor: &Actor,
    rows: Vec<(usize, String, String, String)>,
    now: Now,
) -> Result<usize> {
    let mut w = store.write(actor)?;
    let all = items(&w)?;
    let mut by_sample: BTreeMap<u64, Vec<(usize, ResultInput)>> = BTreeMap::new();
    let mut errors = Vec::new();
    let refused = |row, field, e: Error| match e {
        Error::Invalid { msg, .. } | Error::Conflict(msg) => {
            Ok(crate::error::RowError { row, field, msg })
        }
        e => Err(e),
    };
    for (row, number, keyword, value) in rows {
        let Some(id) = w.get(&CODES, &format!("n:{}", number.trim()))? else {
            errors.push(crate::error::RowError {
                row,
                field: "sample",
                msg: Msg::new("quality.err.sample_not_found"),
            });
            continue;
        };
        let input = ResultInput {
            item: None,
            keyword,
            value,
        };
        // each row on its own first, so every bad row is named
        let checked = entered_item(&all, &input)
            .map_err(|e| ("item", e))
            .and_then(|it| {
                entered_value(it, &input.value).map_err(|e| ("value", e))?;
                Ok(it)
            });
        let it = match checked {
            Ok(it) => it,
            Err((field, e)) => {
                errors.push(refused(row, field, e)?);
                continue;
            }
        };
        let list = by_sample.entry(id).or_default();
        if list
            .iter()
            .any(|(_, x)| entered_item(&all, x).is_ok_and(|o| o.id == it.id))
        {
            errors.push(crate::error::RowError {
                row,
                field: "item",
                msg: Msg::new("quality.err.result_twice").arg("item", &it.keyword),
            });
            continue;
        }
        list.push((row, input));
    }
    let mut entered = 0;
    for (id, list) in by_sample {
        let first_row = list.first().map_or(0, |x| x.0);
        let n = list.len();
        // what is left is the sample's: decided, failed, too many results (its first row)
        match results_in(
            &mut w,
            actor,
            id,
            list.into_iter().map(|x| x.1).collect(),
            now,
        ) {
            Ok(_) => entered += n,
            Err(e) => errors.push(refused(first_row, "sample", e)?),
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(Error::Rows(errors));
    }
    w.commit()?;
    Ok(entered)
}

/// A reading on an SPC chart.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpcPoint {
    pub ms: i64,
    pub sample: u64,
    pub value: f64,
}

/// A subgroup of consecutive readings on the X̄-R chart.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subgroup {
    pub ms: i64,
    pub mean: f64,
    pub range: f64,
}

/// SPC of one item of one material over a span.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Spc {
    pub points: Vec<SpcPoint>,
    /// I-MR limits (two readings or more).
    pub imr: Option<rules::ChartLimits>,
    /// X̄-R limits of consecutive subgroups of `n` when asked.
    pub xbar_r: Option<rules::ChartLimits>,
    /// The subgroups' means (at their last reading) and ranges, for the X̄-R chart.
    pub subgroups: Vec<Subgroup>,
    pub lsl: Option<f64>,
    pub usl: Option<f64>,
    pub cp: Option<f64>,
    pub cpk: Option<f64>,
    /// Western Electric rules broken on the individuals chart.
    pub violations: Vec<rules::Violation>,
}

pub fn spc(
    r: &impl Reader,
    item: u64,
    material: u64,
    stage: Stage,
    from_ms: i64,
    to_ms: i64,
    n: Option<usize>,
) -> Result<Spc> {
    let series = series(r, item, material, stage, from_ms, to_ms)?;
    let x: Vec<f64> = series.iter().map(|p| p.2).collect();
    let (lsl, usl) = limits_for(r, item, material, stage)?;
    let imr = rules::imr(&x);
    let n = n.filter(|n| (2..=9).contains(n));
    let groups: Vec<(i64, Vec<f64>)> = n.map_or(Vec::new(), |n| {
        series
            .chunks_exact(n)
            .map(|c| (c[c.len() - 1].0, c.iter().map(|p| p.2).collect()))
            .collect()
    });
    let xbar_r = rules::xbar_r(&groups.iter().map(|g| g.1.clone()).collect::<Vec<_>>());
    let subgroups = groups
        .iter()
        .map(|(ms, g)| {
            let (mean, range) = rules::mean_range(g);
            Subgroup {
                ms: *ms,
                mean,
                range,
            }
        })
        .collect();
    let (cp, cpk) = imr.as_ref().map_or((None, None), |c| {
        rules::capability(c.center, c.sigma, lsl, usl)
    });
    let violations = imr.as_ref().map_or(Vec::new(), |c| {
        rules::western_electric(&x, c.center, c.sigma)
    });
    Ok(Spc {
        points: series
            .into_iter()
            .map(|(ms, sample, value)| SpcPoint { ms, sample, value })
            .collect(),
        imr,
        xbar_r,
        subgroups,
        lsl,
        usl,
        cp,
        cpk,
        violations,
    })
}

/// Specification lines from the text a lab writes, one a line (`AV ≤ 5.0`, `SC 49.0 ~ 51.0`,
/// `APP = 清澈透明`, a bare keyword for pass/fail); a refusal names every bad line.
pub fn spec_lines(r: &impl Reader, text: &str) -> Result<Vec<SpecLine>> {
    let all = items(r)?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: &'static str| crate::error::RowError {
            row: n + 1,
            field: "lines",
            msg: Msg::new(match reason {
                "keyword" => "quality.spec_line.keyword",
                "number" => "quality.spec_line.number",
                "range" => "quality.spec_line.range",
                "text" => "quality.spec_line.text",
                "item" => "quality.spec_line.item",
                _ => "quality.spec_line.form",
            })
            .arg("line", n + 1)
            .arg("text", line.trim()),
        };
        let parsed = rules::parse_spec_line(line).and_then(|(keyword, limits)| {
            let it = all
                .iter()
                .find(|i| i.active && i.keyword == keyword)
                .ok_or("item")?;
            Ok(SpecLine {
                item: it.id,
                limits,
            })
        });
        match parsed {
            Ok(l) => out.push(l),
            Err(reason) => errors.push(bad(reason)),
        }
    }
    match errors.len() {
        0 => Ok(out),
        // one bad line: its message alone, on the field
        1 => Err(Error::invalid_msg("lines", errors.remove(0).msg)),
        _ => Err(Error::Rows(errors)),
    }
}

/// A specification's lines as text, for its form.
pub fn spec_text(r: &impl Reader, s: &Spec) -> Result<String> {
    let all = items(r)?;
    Ok(s.lines
        .iter()
        .filter_map(|l| {
            let it = all.iter().find(|i| i.id == l.item)?;
            Some(rules::spec_line_text(&it.keyword, &l.limits))
        })
        .collect::<Vec<_>>()
        .join("\n"))
}
