//! Units, batches and the electronic batch record (ISA-88 in the small). A unit (`R101`)
//! names the tags that tell its phase and its batch number, and its key tags. A batch runs
//! on a unit: started and ended by an operator, or by the unit's batch-number tag (a new
//! number ends the batch before and starts the next); its phases come from the unit's phase
//! tag or are set by hand. Materials are issued to a batch and its output lot received into
//! stock through the inventory module's service (every stock rule applies; the movements
//! carry the batch number as their reference); samples of the output lot are taken through
//! the quality module's service. The batch record is assembled when asked from what the
//! other parts of the box keep: the recipe version and its download report, phase times,
//! key parameters per phase (min / max / mean from the historian), alarms during the batch,
//! operator actions (tag writes on the unit, batch actions), materials issued, the lot
//! produced and its samples. Genealogy follows lots in → batch → lot out, both ways.
//!
//! Owns `automation.units` and `automation.batches`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Reader, Store, Table};

const UNITS: Table<String, Unit> = Table::new("automation.units");
const BATCHES: Table<u64, Batch> = Table::new("automation.batches");

/// A process unit that runs batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Unit {
    /// `R101`: matches the tags' equipment field.
    pub code: String,
    pub name: String,
    /// The plant area its alarms are raised in (`resin`).
    #[serde(default)]
    pub area: String,
    /// A tag whose value is the phase's number (0 = the first of `phases`); empty: phases
    /// are set by hand.
    #[serde(default)]
    pub phase_tag: String,
    #[serde(default)]
    pub phases: Vec<String>,
    /// A tag whose value is the batch number the PLC runs; a new value starts a batch (and
    /// ends the one before). Empty: batches are started and ended by hand.
    #[serde(default)]
    pub batch_tag: String,
    /// The tags whose min / max / mean per phase go into the record (empty: every tag of
    /// the unit, by its equipment field).
    #[serde(default)]
    pub key_tags: Vec<String>,
    /// The product a batch started by the batch tag makes (a material code).
    #[serde(default)]
    pub product: String,
    /// The ideal batch cycle in minutes, for OEE's performance (none: not figured).
    #[serde(default)]
    pub ideal_cycle_min: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    Running,
    Done,
    Aborted,
}

/// How a batch began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Operator,
    Tag,
}

/// One phase as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PhaseRun {
    pub name: String,
    pub from_ms: i64,
    #[serde(default)]
    pub to_ms: Option<i64>,
}

/// The recipe version a batch ran with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecipeRef {
    pub id: u64,
    pub code: String,
    pub version: u32,
}

/// The lot a batch made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Output {
    pub lot: u64,
    pub lot_number: String,
    pub qty: f64,
    pub unit: String,
    /// The receipt movement.
    pub movement: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Batch {
    pub id: u64,
    /// Unique (`R101-1043`, `PA101-20261204-01`).
    pub number: String,
    pub unit: String,
    /// The product's material code.
    pub product: String,
    #[serde(default)]
    pub recipe: Option<RecipeRef>,
    pub state: BatchState,
    pub trigger: Trigger,
    /// For a batch its unit's batch tag started: the tag's number (`R101-1043`); the batch
    /// number is the same unless that was taken before (a PLC counting again from its
    /// start), then it carries a suffix.
    #[serde(default)]
    pub tag_number: Option<String>,
    pub started_ms: i64,
    pub started_by: String,
    #[serde(default)]
    pub ended_ms: Option<i64>,
    #[serde(default)]
    pub ended_by: Option<String>,
    #[serde(default)]
    pub phases: Vec<PhaseRun>,
    /// Planned output in the product's base unit (0: not planned).
    #[serde(default)]
    pub planned_qty: f64,
    /// Issue movements posted for it (inventory ids).
    #[serde(default)]
    pub issues: Vec<u64>,
    #[serde(default)]
    pub output: Option<Output>,
    /// Samples taken of its output lot (quality ids).
    #[serde(default)]
    pub samples: Vec<u64>,
    #[serde(default)]
    pub note: String,
}

impl Batch {
    /// The window the record covers: start to end (or `now` while running).
    pub fn window(&self, now_ms: i64) -> (i64, i64) {
        (self.started_ms, self.ended_ms.unwrap_or(now_ms))
    }

    /// Yield: output over plan (None without both).
    pub fn yield_pct(&self) -> Option<f64> {
        let out = self.output.as_ref()?;
        (self.planned_qty > 0.0).then(|| out.qty / self.planned_qty * 100.0)
    }
}

// ------------------------------------------------------------------ pure rules

/// Moves `phases` to `name` at `at_ms`: closes the open phase and opens the new one. No
/// change (false) when `name` is the phase running.
pub fn enter_phase(phases: &mut Vec<PhaseRun>, name: &str, at_ms: i64) -> bool {
    if phases
        .last()
        .is_some_and(|p| p.to_ms.is_none() && p.name == name)
    {
        return false;
    }
    if let Some(open) = phases.last_mut().filter(|p| p.to_ms.is_none()) {
        open.to_ms = Some(at_ms);
    }
    phases.push(PhaseRun {
        name: name.to_string(),
        from_ms: at_ms,
        to_ms: None,
    });
    true
}

/// Closes the open phase (the batch ended).
pub fn close_phases(phases: &mut [PhaseRun], at_ms: i64) {
    if let Some(open) = phases.last_mut().filter(|p| p.to_ms.is_none()) {
        open.to_ms = Some(at_ms);
    }
}

/// The phase a phase tag's value names (its number in `phases`); None for a value that
/// names none (the batch stays in its phase).
pub fn phase_of(phases: &[String], value: f64) -> Option<&str> {
    if !value.is_finite() || value < 0.0 || value.fract() != 0.0 {
        return None;
    }
    phases.get(value as usize).map(String::as_str)
}

/// What a unit's batch-number tag asks for, given the batch running now.
#[derive(Debug, PartialEq)]
pub enum TagTrigger {
    /// Nothing: the number is the running batch's (or no number).
    Keep,
    /// Start batch `number` (ending the running one first, if any).
    Start(String),
}

/// The batch number a unit's batch tag value stands for: `R101-1043`. Zero and negative
/// values mean no batch.
pub fn tag_number(unit: &str, value: f64) -> Option<String> {
    (value.is_finite() && value >= 1.0 && value.fract() == 0.0)
        .then(|| format!("{unit}-{}", value as i64))
}

/// A number the unit's latest batch (running or ended) was not started by starts a batch; the
/// number its latest batch carries changes nothing — also after an operator ended that batch.
pub fn tag_trigger(unit: &str, value: f64, latest: Option<&Batch>) -> TagTrigger {
    match tag_number(unit, value) {
        None => TagTrigger::Keep,
        Some(n) if latest.is_some_and(|b| b.tag_number.as_deref() == Some(n.as_str())) => {
            TagTrigger::Keep
        }
        Some(n) => TagTrigger::Start(n),
    }
}

/// Per-phase statistics of one tag's good numeric samples `(ts, value)` (oldest first):
/// for each phase (min, max, mean, count); None for a phase without a value. The historian
/// keeps a value when it changes, so the value in force when a phase starts — the last one
/// before it, unless one falls on its first millisecond — counts for that phase too.
pub fn phase_stats(
    phases: &[PhaseRun],
    end_ms: i64,
    samples: &[(i64, f64)],
) -> Vec<Option<(f64, f64, f64, u32)>> {
    let mut out = Vec::with_capacity(phases.len());
    let mut i = 0;
    for p in phases {
        let to = p.to_ms.unwrap_or(end_ms);
        while i < samples.len() && samples[i].0 < p.from_ms {
            i += 1;
        }
        let (mut lo, mut hi, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0u32);
        let mut take = |v: f64| {
            lo = lo.min(v);
            hi = hi.max(v);
            sum += v;
            n += 1;
        };
        let on_start = samples.get(i).is_some_and(|x| x.0 == p.from_ms);
        if !on_start && i > 0 {
            take(samples[i - 1].1);
        }
        let mut j = i;
        while j < samples.len() && samples[j].0 < to {
            take(samples[j].1);
            j += 1;
        }
        out.push((n > 0).then(|| (lo, hi, sum / f64::from(n), n)));
    }
    out
}

// ------------------------------------------------------------------ units

pub fn units(r: &impl Reader) -> Result<Vec<Unit>> {
    Ok(r.values(&UNITS)?)
}

pub fn unit(r: &impl Reader, code: &str) -> Result<Unit> {
    r.get(&UNITS, &code.to_string())?
        .ok_or_else(|| Error::NotFound(Msg::new("automation.batch.err.unit").arg("unit", code)))
}

/// A unit named in a form or a body (a recipe's, a screen's): refused on the `unit` field
/// when the box has no such unit.
pub fn known_unit(r: &impl Reader, code: &str) -> Result<()> {
    unit(r, code).map(|_| ()).map_err(|_| {
        Error::invalid_msg(
            "unit",
            Msg::new("automation.batch.err.unit").arg("unit", code),
        )
    })
}

/// Creates or replaces a unit; its tags must exist (the phase tag needs phase names).
pub fn save_unit(
    store: &Store,
    actor: &Actor,
    u: Unit,
    tag_known: &dyn Fn(&str) -> bool,
    product_known: &dyn Fn(&str) -> bool,
) -> Result<Unit> {
    let code = text("code", &u.code, 40, true)?;
    if code.chars().any(char::is_whitespace) {
        return Err(Error::invalid("code", "automation.recipe.err.code"));
    }
    let name = text("name", &u.name, 80, true)?;
    let known = |field: &'static str, t: &str| -> Result<String> {
        let t = t.trim();
        if !t.is_empty() && !tag_known(t) {
            return Err(Error::invalid_msg(
                field,
                Msg::new("automation.recipe.err.tag").arg("tag", t),
            ));
        }
        Ok(t.to_string())
    };
    let phase_tag = known("phase_tag", &u.phase_tag)?;
    let batch_tag = known("batch_tag", &u.batch_tag)?;
    let key_tags = u
        .key_tags
        .iter()
        .map(|t| known("key_tags", t))
        .filter(|t| t.as_ref().map_or(true, |t| !t.is_empty()))
        .collect::<Result<Vec<_>>>()?;
    let phases: Vec<String> = u
        .phases
        .iter()
        .map(|p| text("phases", p, 40, true))
        .collect::<Result<_>>()?;
    if !phase_tag.is_empty() && phases.is_empty() {
        return Err(Error::invalid("phases", "automation.batch.err.phases"));
    }
    let product = u.product.trim().to_string();
    if !product.is_empty() && !product_known(&product) {
        return Err(Error::invalid_msg(
            "product",
            Msg::new("automation.recipe.err.product").arg("code", &product),
        ));
    }
    if u.ideal_cycle_min
        .is_some_and(|m| !m.is_finite() || m <= 0.0 || m > 30.0 * 24.0 * 60.0)
    {
        return Err(Error::invalid(
            "ideal_cycle_min",
            "automation.batch.err.cycle",
        ));
    }
    let u = Unit {
        code,
        name,
        area: text("area", &u.area, 40, false)?,
        phase_tag,
        phases,
        batch_tag,
        key_tags,
        product,
        ideal_cycle_min: u.ideal_cycle_min,
    };
    let mut w = store.write(actor)?;
    let before = w.get(&UNITS, &u.code)?;
    w.insert(&UNITS, &u.code, &u)?;
    w.audit_saved(
        "automation.unit",
        format!("unit:{}", u.code),
        before.as_ref(),
        &u,
    );
    w.commit()?;
    Ok(u)
}

// ------------------------------------------------------------------ batches

pub fn batches(r: &impl Reader) -> Result<Vec<Batch>> {
    let mut v = r.values(&BATCHES)?;
    v.reverse();
    Ok(v)
}

pub fn batch(r: &impl Reader, id: u64) -> Result<Batch> {
    r.get(&BATCHES, &id)?
        .ok_or_else(|| Error::not_found("automation.batch.err.not_found"))
}

/// The batch running on `unit`, if any.
pub fn running_on(r: &impl Reader, unit: &str) -> Result<Option<Batch>> {
    Ok(r.values(&BATCHES)?
        .into_iter()
        .rev()
        .find(|b| b.unit == unit && b.state == BatchState::Running))
}

/// What an operator gives to start a batch.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct StartInput {
    pub unit: String,
    /// Empty: `<unit>-<yyyymmdd>-<nn>`.
    #[serde(default)]
    pub number: String,
    /// The recipe code (its approved version is used); empty: none.
    #[serde(default)]
    pub recipe: String,
    /// The product's material code; empty: the recipe's, else the unit's.
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub planned_qty: f64,
    #[serde(default)]
    pub note: String,
}

/// Starts a batch on a unit that runs none.
pub fn start(
    store: &Store,
    actor: &Actor,
    input: StartInput,
    trigger: Trigger,
    now_ms: i64,
    today: time::Date,
) -> Result<Batch> {
    let mut w = store.write(actor)?;
    let b = start_in(&mut w, input, trigger, now_ms, today)?;
    w.audit(
        "automation.batch.start",
        format!("batch:{}", b.number),
        Change::created(&b),
    );
    w.commit()?;
    Ok(b)
}

fn start_in(
    w: &mut crate::store::WriteTx,
    input: StartInput,
    trigger: Trigger,
    now_ms: i64,
    today: time::Date,
) -> Result<Batch> {
    let u = unit(&*w, input.unit.trim())?;
    if trigger == Trigger::Operator && !u.batch_tag.is_empty() {
        return Err(Error::Conflict(
            Msg::new("automation.batch.err.by_tag")
                .arg("unit", &u.code)
                .arg("tag", &u.batch_tag),
        ));
    }
    if let Some(b) = running_on(&*w, &u.code)? {
        return Err(Error::Conflict(
            Msg::new("automation.batch.err.running")
                .arg("unit", &u.code)
                .arg("batch", &b.number),
        ));
    }
    if !input.planned_qty.is_finite() || input.planned_qty < 0.0 {
        return Err(Error::invalid("planned_qty", "automation.batch.err.qty"));
    }
    let recipe = match input.recipe.trim() {
        "" => None,
        code => {
            let r = super::recipes::approved(&*w, code)?.ok_or_else(|| {
                Error::invalid_msg(
                    "recipe",
                    Msg::new("automation.batch.err.recipe").arg("code", code),
                )
            })?;
            if r.unit != u.code {
                return Err(Error::invalid_msg(
                    "recipe",
                    Msg::new("automation.batch.err.recipe_unit")
                        .arg("code", code)
                        .arg("unit", &r.unit),
                ));
            }
            Some(r)
        }
    };
    let product = [
        input.product.trim(),
        recipe.as_ref().map_or("", |r| r.product.as_str()),
        u.product.as_str(),
    ]
    .into_iter()
    .find(|p| !p.is_empty())
    .unwrap_or_default()
    .to_string();
    if product.is_empty() {
        return Err(Error::invalid("product", "automation.batch.err.product"));
    }
    if crate::modules::inventory::service::material_by_code(&*w, &product)?.is_none() {
        return Err(Error::invalid_msg(
            "product",
            Msg::new("automation.recipe.err.product").arg("code", &product),
        ));
    }
    let all = batches(&*w)?;
    let number = match input.number.trim() {
        "" => {
            let day = format!(
                "{}-{:04}{:02}{:02}",
                u.code,
                today.year(),
                u8::from(today.month()),
                today.day()
            );
            let n = all.iter().filter(|b| b.number.starts_with(&day)).count() + 1;
            format!("{day}-{n:02}")
        }
        n => text("number", n, 40, true)?,
    };
    let tag_number = (trigger == Trigger::Tag).then(|| number.clone());
    let number = match &tag_number {
        // the PLC's counter came round again (or restarted): keep its number, made unique
        Some(n) if all.iter().any(|b| b.number == *n) => (2..)
            .map(|i| format!("{n}~{i}"))
            .find(|x| !all.iter().any(|b| b.number == *x))
            .unwrap_or_default(),
        _ => number,
    };
    if all.iter().any(|b| b.number == number) {
        return Err(Error::invalid_msg(
            "number",
            Msg::new("automation.batch.err.number").arg("number", &number),
        ));
    }
    let b = Batch {
        id: w.next_id(&BATCHES)?,
        number,
        unit: u.code.clone(),
        product,
        recipe: recipe.map(|r| RecipeRef {
            id: r.id,
            code: r.code,
            version: r.version,
        }),
        state: BatchState::Running,
        trigger,
        tag_number,
        started_ms: now_ms,
        started_by: w.actor().name.clone(),
        ended_ms: None,
        ended_by: None,
        phases: Vec::new(),
        planned_qty: input.planned_qty,
        issues: Vec::new(),
        output: None,
        samples: Vec::new(),
        note: text("note", &input.note, 500, false)?,
    };
    w.insert(&BATCHES, &b.id, &b)?;
    Ok(b)
}

fn running(w: &crate::store::WriteTx, id: u64) -> Result<Batch> {
    let b = batch(w, id)?;
    if b.state != BatchState::Running {
        return Err(Error::Conflict(
            Msg::new("automation.batch.err.not_running").arg("batch", &b.number),
        ));
    }
    Ok(b)
}

/// Ends (done) or aborts a running batch.
pub fn end(store: &Store, actor: &Actor, id: u64, abort: bool, now_ms: i64) -> Result<Batch> {
    let mut w = store.write(actor)?;
    let before = running(&w, id)?;
    let b = end_in(&mut w, before.clone(), abort, now_ms)?;
    w.audit(
        if abort {
            "automation.batch.abort"
        } else {
            "automation.batch.end"
        },
        format!("batch:{}", b.number),
        Change::updated(&before, &b),
    );
    w.commit()?;
    Ok(b)
}

fn end_in(w: &mut crate::store::WriteTx, mut b: Batch, abort: bool, now_ms: i64) -> Result<Batch> {
    close_phases(&mut b.phases, now_ms);
    b.state = if abort {
        BatchState::Aborted
    } else {
        BatchState::Done
    };
    b.ended_ms = Some(now_ms);
    b.ended_by = Some(w.actor().name.clone());
    w.insert(&BATCHES, &b.id, &b)?;
    Ok(b)
}

/// Sets the phase of a running batch by hand (units without a phase tag).
pub fn set_phase(store: &Store, actor: &Actor, id: u64, name: &str, now_ms: i64) -> Result<Batch> {
    let mut w = store.write(actor)?;
    let mut b = running(&w, id)?;
    let u = unit(&w, &b.unit)?;
    if !u.phase_tag.is_empty() {
        return Err(Error::Conflict(
            Msg::new("automation.batch.err.phase_by_tag").arg("tag", &u.phase_tag),
        ));
    }
    let name = text("phase", name, 40, true)?;
    if !u.phases.is_empty() && !u.phases.contains(&name) {
        return Err(Error::invalid_msg(
            "phase",
            Msg::new("automation.batch.err.phase")
                .arg("phase", &name)
                .arg("phases", u.phases.join(", ")),
        ));
    }
    if enter_phase(&mut b.phases, &name, now_ms) {
        w.insert(&BATCHES, &b.id, &b)?;
        w.audit(
            "automation.batch.phase",
            format!("batch:{} {name}", b.number),
            Change::none(),
        );
        w.commit()?;
    }
    Ok(b)
}

/// What an operator gives to issue a material lot to a batch or receive its output.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct LotMove {
    /// The material's code (for the output: empty means the batch's product).
    #[serde(default)]
    pub material: String,
    /// The lot's number (for the output: the new lot's number).
    pub lot: String,
    /// The location id it leaves (issue) or goes to (output).
    pub location: u64,
    pub qty: f64,
    /// Empty: the material's base unit.
    #[serde(default)]
    pub unit: String,
}

/// Issues a material lot to a running batch: an inventory issue with the batch number as
/// its reference, posted through inventory's service in this transaction (a held, expired
/// or short lot is refused with inventory's reason; a 剧毒 lot waiting for a second
/// custodian is refused here: issue it from inventory first).
pub fn issue(app: &App, actor: &Actor, id: u64, m: LotMove) -> Result<Batch> {
    use crate::modules::inventory::{model::MoveKind, model::MoveState, service as inv};
    let mut w = app.store.write(actor)?;
    let mut b = running(&w, id)?;
    let material = inv::material_by_code(&w, m.material.trim())?.ok_or_else(|| {
        Error::invalid_msg(
            "material",
            Msg::new("automation.recipe.err.product").arg("code", m.material.trim()),
        )
    })?;
    let lot = inv::lot_by_number(&w, material.id, m.lot.trim())?.ok_or_else(|| {
        Error::invalid_msg(
            "lot",
            Msg::new("automation.batch.err.lot")
                .arg("lot", m.lot.trim())
                .arg("material", &material.code),
        )
    })?;
    let posted = inv::post_in(
        &mut w,
        actor,
        inv::MoveInput {
            kind: Some(MoveKind::Issue),
            material: material.id,
            lot: Some(lot.id),
            from: Some(m.location),
            qty: m.qty,
            unit: m.unit,
            reference: b.number.clone(),
            reason: format!("batch {}", b.number),
            ..Default::default()
        },
        crate::modules::inventory::posting(app),
    )?;
    if posted.movement.state == MoveState::Pending {
        return Err(Error::Conflict(Msg::new("automation.batch.err.pending")));
    }
    b.issues.push(posted.movement.id);
    w.insert(&BATCHES, &b.id, &b)?;
    w.commit()?;
    crate::modules::inventory::announce(app, &posted.movement);
    Ok(b)
}

/// An inventory issue — or a return of material left over — whose reference is a running
/// batch's number (or the number its batch tag gave, when that was taken before) joins that
/// batch's materials, as an issue made from the batch does: from the inventory console, the
/// API or a plugin such as the warehouse's scanning. Called for the `inventory.moved` event;
/// a movement already in the batch, or naming no running batch, changes nothing.
pub fn link_issue(app: &App, movement: u64, reference: &str) -> Result<()> {
    let reference = reference.trim();
    if reference.is_empty() {
        return Ok(());
    }
    let r = app.store.read()?;
    let Some(b) = r.values(&BATCHES)?.into_iter().rev().find(|b| {
        b.state == BatchState::Running
            && (b.number == reference || b.tag_number.as_deref() == Some(reference))
    }) else {
        return Ok(());
    };
    if b.issues.contains(&movement) {
        return Ok(());
    }
    drop(r);
    let mut w = app.store.write(&Actor::system("automation"))?;
    let mut b = batch(&w, b.id)?;
    if b.state == BatchState::Running && !b.issues.contains(&movement) {
        b.issues.push(movement);
        w.insert(&BATCHES, &b.id, &b)?;
        w.commit()?;
    }
    Ok(())
}

/// One material a batch needs by its recipe's bill of materials, and how much of it has
/// been issued to the batch (base units).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MaterialNeed {
    pub material: String,
    pub qty: f64,
    pub unit: String,
    pub issued: f64,
    /// `qty - issued`, not below 0.
    pub remaining: f64,
}

/// What a batch needs by its recipe's bill of materials against what was issued to it; empty
/// without a recipe or a bill of materials.
pub fn needs(r: &impl Reader, b: &Batch) -> Result<Vec<MaterialNeed>> {
    use crate::modules::inventory::service as inv;
    let Some(rr) = &b.recipe else {
        return Ok(Vec::new());
    };
    // a recipe version is never deleted; one that cannot be read needs nothing
    let bom = super::recipes::recipe(r, rr.id)
        .map(|x| x.materials)
        .unwrap_or_default();
    if bom.is_empty() {
        return Ok(Vec::new());
    }
    let mut issued: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    for id in &b.issues {
        let Ok(m) = inv::movement(r, *id) else {
            continue;
        };
        let code = inv::material(r, m.material)?.code;
        // material returned from the batch was not used by it
        let sign = if m.kind == crate::modules::inventory::model::MoveKind::Return {
            -1.0
        } else {
            1.0
        };
        *issued.entry(code).or_default() += sign * m.qty;
    }
    Ok(bom
        .into_iter()
        .map(|i| {
            let done = issued.get(&i.material).copied().unwrap_or(0.0);
            MaterialNeed {
                remaining: (i.qty - done).max(0.0),
                issued: done,
                material: i.material,
                qty: i.qty,
                unit: i.unit,
            }
        })
        .collect())
}

/// Receives a batch's output lot into stock (an inventory receipt of the product with the
/// batch number as reference; a new lot number; held for quality when the product is
/// inspected). Once per batch.
pub fn receive_output(app: &App, actor: &Actor, id: u64, m: LotMove) -> Result<Batch> {
    use crate::modules::inventory::{model::MoveKind, service as inv};
    let mut w = app.store.write(actor)?;
    let mut b = batch(&w, id)?;
    if b.state == BatchState::Aborted {
        return Err(Error::Conflict(
            Msg::new("automation.batch.err.not_running").arg("batch", &b.number),
        ));
    }
    if b.output.is_some() {
        return Err(Error::Conflict(
            Msg::new("automation.batch.err.output").arg("batch", &b.number),
        ));
    }
    // the output is the batch's product
    let code = m.material.trim();
    if !code.is_empty() && code != b.product {
        return Err(Error::invalid_msg(
            "material",
            Msg::new("automation.batch.err.output_material")
                .arg("material", code)
                .arg("product", &b.product),
        ));
    }
    let code = b.product.clone();
    let material = inv::material_by_code(&w, &code)?.ok_or_else(|| {
        Error::invalid_msg(
            "material",
            Msg::new("automation.recipe.err.product").arg("code", &code),
        )
    })?;
    let posted = inv::post_in(
        &mut w,
        actor,
        inv::MoveInput {
            kind: Some(MoveKind::Receipt),
            material: material.id,
            lot_number: m.lot.trim().to_string(),
            to: Some(m.location),
            qty: m.qty,
            unit: m.unit,
            reference: b.number.clone(),
            reason: format!("batch {}", b.number),
            ..Default::default()
        },
        crate::modules::inventory::posting(app),
    )?;
    b.output = Some(Output {
        lot: posted.lot.id,
        lot_number: posted.lot.number.clone(),
        qty: posted.movement.qty,
        unit: material.base_unit.clone(),
        movement: posted.movement.id,
    });
    w.insert(&BATCHES, &b.id, &b)?;
    w.commit()?;
    crate::modules::inventory::announce(app, &posted.movement);
    Ok(b)
}

/// Takes a sample through the quality service: of the batch's output lot once it is
/// received (at `point`, or the first finished-product point), else an in-process sample of
/// the product (at `point`, or the first intermediate point of the unit or the product).
pub fn sample(app: &App, actor: &Actor, id: u64, point: Option<u64>) -> Result<Batch> {
    use crate::modules::quality::{model::Stage, service as q};
    let r = app.store.read()?;
    let b = batch(&r, id)?;
    let (material, lot, stage) = match &b.output {
        Some(out) => (
            crate::modules::inventory::service::lot(&r, out.lot)?.material,
            Some(out.lot),
            Stage::Finished,
        ),
        None => {
            if b.state != BatchState::Running {
                return Err(Error::Conflict(
                    Msg::new("automation.batch.err.no_output").arg("batch", &b.number),
                ));
            }
            let m = crate::modules::inventory::service::material_by_code(&r, &b.product)?
                .ok_or_else(|| Error::not_found("automation.batch.err.not_found"))?;
            (m.id, None, Stage::Intermediate)
        }
    };
    let point = match point {
        Some(p) => p,
        None => q::points(&r)?
            .into_iter()
            .filter(|p| p.stage == stage)
            .find(|p| {
                stage == Stage::Finished
                    || p.material == Some(material)
                    || p.unit.replace('-', "") == b.unit.replace('-', "")
            })
            .map(|p| p.id)
            .ok_or_else(|| Error::Conflict(Msg::new("automation.batch.err.no_point")))?,
    };
    drop(r);
    let s = q::create_sample(
        &app.store,
        actor,
        q::NewSample {
            material,
            lot,
            point,
            spec: None,
            sampler: actor.name.clone(),
        },
        crate::modules::quality::routes::now(app),
    )?;
    let mut w = app.store.write(actor)?;
    let mut b = batch(&w, id)?;
    b.samples.push(s.id);
    w.insert(&BATCHES, &b.id, &b)?;
    w.commit()?;
    Ok(b)
}

/// Writes a batch as given, a new id when it has none: the demo's past batches, rebuilt from
/// the simulator's history.
pub(crate) fn put(store: &Store, actor: &Actor, mut b: Batch) -> Result<Batch> {
    let mut w = store.write(actor)?;
    if b.id == 0 {
        b.id = w.next_id(&BATCHES)?;
    }
    w.insert(&BATCHES, &b.id, &b)?;
    w.commit()?;
    Ok(b)
}

/// Batch starts from a tag that failed and were logged.
#[derive(Default)]
struct Warned(std::sync::Mutex<std::collections::HashSet<String>>);

fn number_of(e: &Error) -> String {
    e.msg().render(crate::i18n::Lang::En)
}

/// Follows the units' phase and batch-number tags (once a second): a new batch number ends
/// the batch running and starts the next; the phase tag moves the running batch's phase.
/// Writes only on change.
pub fn follow_tags(app: &App, now_ms: i64) -> Result<()> {
    let r = app.store.read()?;
    let list = units(&r)?;
    let defs = app.tags.defs();
    let value_of = |name: &str| -> Option<f64> {
        let t = defs.by_name(name)?;
        let c = app.tags.current(t.id)?;
        if !c.quality.is_good() {
            return None;
        }
        c.value?.as_f64()
    };
    let mut plans = Vec::new();
    let all = batches(&r)?;
    for u in list {
        let run = running_on(&r, &u.code)?;
        let latest = all.iter().find(|b| b.unit == u.code);
        let trigger = if u.batch_tag.is_empty() {
            TagTrigger::Keep
        } else {
            value_of(&u.batch_tag).map_or(TagTrigger::Keep, |v| tag_trigger(&u.code, v, latest))
        };
        let phase = if u.phase_tag.is_empty() {
            None
        } else {
            value_of(&u.phase_tag).and_then(|v| phase_of(&u.phases, v).map(str::to_string))
        };
        let phase_moves = phase.as_ref().is_some_and(|p| {
            run.as_ref().is_some_and(|b| {
                b.phases
                    .last()
                    .is_none_or(|x| x.to_ms.is_some() || x.name != *p)
            })
        });
        if trigger != TagTrigger::Keep || phase_moves {
            plans.push((u, run, trigger, phase));
        }
    }
    drop(r);
    if plans.is_empty() {
        return Ok(());
    }
    let today = crate::plant_time::today(app.offset);
    let mut w = app.store.write(&Actor::system("automation"))?;
    for (u, run, trigger, phase) in plans {
        let mut current = run;
        if let TagTrigger::Start(number) = trigger {
            if let Some(b) = current.take() {
                let done = end_in(&mut w, b, false, now_ms)?;
                w.audit(
                    "automation.batch.end",
                    format!("batch:{}", done.number),
                    Change::none(),
                );
            }
            // the product: the recipe last downloaded to the unit, else the unit's own
            let last = super::recipes::downloads(&w, None, 50)?
                .into_iter()
                .find(|d| d.unit == u.code && d.ok);
            let input = StartInput {
                unit: u.code.clone(),
                number,
                recipe: last.as_ref().map(|d| d.code.clone()).unwrap_or_default(),
                ..StartInput::default()
            };
            match start_in(&mut w, input, Trigger::Tag, now_ms, today) {
                Ok(mut b) => {
                    // the version the unit holds is the one downloaded, not the newest
                    if let Some(d) = &last {
                        b.recipe = Some(RecipeRef {
                            id: d.recipe,
                            code: d.code.clone(),
                            version: d.version,
                        });
                        w.insert(&BATCHES, &b.id, &b)?;
                    }
                    w.audit(
                        "automation.batch.start",
                        format!("batch:{}", b.number),
                        Change::created(&b),
                    );
                    current = Some(b);
                }
                Err(e) => {
                    // a unit without a product: no batch; said once per number
                    let key = format!("{}/{}", u.code, number_of(&e));
                    if app
                        .state(Warned::default)
                        .0
                        .lock()
                        .expect("never poisoned")
                        .insert(key)
                    {
                        tracing::warn!(unit = %u.code, error = %e.msg().render(crate::i18n::Lang::En), "batch not started from its tag");
                    }
                }
            }
        }
        if let (Some(mut b), Some(p)) = (current, phase)
            && enter_phase(&mut b.phases, &p, now_ms)
        {
            w.insert(&BATCHES, &b.id, &b)?;
        }
    }
    w.commit()?;
    Ok(())
}

/// A bare unit `code` for tests of the modules built on units.
#[cfg(test)]
pub(crate) fn test_unit(store: &Store, code: &str) {
    save_unit(
        store,
        &Actor::system("t"),
        Unit {
            code: code.into(),
            name: code.into(),
            area: String::new(),
            phase_tag: String::new(),
            phases: Vec::new(),
            batch_tag: String::new(),
            key_tags: Vec::new(),
            product: String::new(),
            ideal_cycle_min: None,
        },
        &|_| true,
        &|_| true,
    )
    .expect("a bare unit saves");
}

#[cfg(test)]
mod tests;
