//! The permit life cycle: drafting, the GB 30871 checks (`permits.rs`) on submission, gas
//! analyses, approval chains, briefing, start, suspension and resumption, acceptance. Every
//! step is a signed action of a person holding the duty it needs; a refused step changes
//! nothing. The only writer of `safety.permits`, `safety.permit_chains`, `safety.duties` and
//! `safety.permit_calendar`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::model::{
    Action, Briefing, ChainConfig, Details, Duty, GasReading, Measure, Permit, Signature, Stage,
    Worker, chain_key, chain_keys,
};
use super::rules::{self as rules, Breach, Calendar, HotLevel, Job, WorkType};
use crate::error::{Error, Result};
use crate::i18n::{Lang, Msg};
use crate::modules::safety::store::{CALENDAR, CHAINS, DUTIES, PERMITS};
use crate::store::{Actor, Change, Reader, Store};

/// The person signing: permits are signed by people, never by machine tokens.
#[derive(Debug, Clone)]
pub struct Signer {
    pub user_id: u64,
    pub username: String,
    pub name: String,
    pub duties: Vec<Duty>,
    /// Safety write permission (safety staff may draft for anyone).
    pub can_write: bool,
}

impl Signer {
    pub fn has(&self, d: Duty) -> bool {
        self.duties.contains(&d)
    }
    fn may_apply(&self) -> bool {
        self.can_write || self.has(Duty::Applicant)
    }
    fn actor(&self) -> Actor {
        Actor::user(self.user_id, &self.username, None)
    }
}

/// What a permit form carries. Times are the plant's local time, `YYYY-MM-DD HH:MM`
/// (a `T` between date and time is accepted too).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PermitInput {
    pub details: Details,
    pub applicant_unit: String,
    pub content: String,
    pub location: String,
    pub x: f64,
    pub y: f64,
    pub work_unit: String,
    pub leader: String,
    #[serde(default)]
    pub workers: Vec<Worker>,
    #[serde(default)]
    pub guardian_id: Option<u64>,
    #[serde(default)]
    pub linked: Vec<u64>,
    #[serde(default)]
    pub risks: String,
    pub from: String,
    pub to: String,
    /// Safety measures; omitted: the configured checklist of the type and level.
    #[serde(default)]
    pub checklist: Option<Vec<String>>,
}

/// A gas analysis as entered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GasInput {
    /// Sampling time, local `YYYY-MM-DD HH:MM`.
    pub sampled: String,
    pub point: String,
    #[serde(default)]
    pub combustible_pct: Option<f64>,
    #[serde(default)]
    pub o2_pct: Option<f64>,
    #[serde(default)]
    pub toxic_value: Option<f64>,
}

/// One step of the life cycle.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionInput {
    pub action: Action,
    /// Approvals: the step (0-based) the signer means to sign; refused when it is not next.
    #[serde(default)]
    pub step: Option<usize>,
    /// Reason or remark (required to reject, suspend and withdraw).
    #[serde(default)]
    pub note: String,
    /// `gas`: the analysis.
    #[serde(default)]
    pub gas: Option<GasInput>,
    /// `confirm_measures`: whether each checklist item applies (omitted: all apply).
    #[serde(default)]
    pub applies: Option<Vec<bool>>,
    /// `brief`: who received the briefing (omitted: the workers).
    #[serde(default)]
    pub receivers: Vec<String>,
}

impl ActionInput {
    pub fn new(action: Action) -> ActionInput {
        ActionInput {
            action,
            step: None,
            note: String::new(),
            gas: None,
            applies: None,
            receivers: Vec::new(),
        }
    }
}

fn breach(field: &'static str, b: Breach) -> Error {
    Error::Invalid {
        field,
        msg: b.msg(),
    }
}

// ------------------------------------------------------------------ time

/// `YYYY-MM-DD HH:MM` (or with `T`) in the plant's time zone → UTC ms.
pub fn parse_local(s: &str, offset: UtcOffset) -> Option<i64> {
    let s = s.trim().replace('T', " ");
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let s = s.get(..16).unwrap_or(&s);
    let t = PrimitiveDateTime::parse(s, &fmt).ok()?;
    Some((t.assume_offset(offset).unix_timestamp_nanos() / 1_000_000) as i64)
}

/// UTC ms → the plant's local time.
pub fn local(ms: i64, offset: UtcOffset) -> PrimitiveDateTime {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    PrimitiveDateTime::new(t.date(), t.time())
}

/// UTC ms → `YYYY-MM-DD HH:MM` local (signatures are time-stamped to the minute).
pub fn format_local(ms: i64, offset: UtcOffset) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    local(ms, offset).format(&fmt).unwrap_or_default()
}

// ------------------------------------------------------------------ configuration

/// The plant's calendar (holidays, working weekends, night hours).
pub fn calendar(r: &impl Reader) -> Result<Calendar> {
    Ok(r.get(&CALENDAR, &"calendar".to_string())?
        .unwrap_or_default())
}

pub fn save_calendar(store: &Store, actor: &Actor, cal: Calendar) -> Result<Calendar> {
    let mut w = store.write(actor)?;
    let before = calendar(&w)?;
    w.insert(&CALENDAR, &"calendar".to_string(), &cal)?;
    w.audit(
        "safety.permit.calendar",
        "calendar",
        Change::updated(
            format!(
                "{} holidays, {} working weekends",
                before.holidays.len(),
                before.working_weekends.len()
            ),
            format!(
                "{} holidays, {} working weekends",
                cal.holidays.len(),
                cal.working_weekends.len()
            ),
        ),
    );
    w.commit()?;
    Ok(cal)
}

/// Dates one per line (or separated by commas/spaces), `YYYY-MM-DD`.
pub fn parse_dates(s: &str) -> Result<Vec<Date>> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut out = Vec::new();
    for part in s.split(|c: char| c.is_whitespace() || c == ',' || c == '，') {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        let d = Date::parse(p, &fmt).map_err(|_| Error::Invalid {
            field: "holidays",
            msg: Msg::new("safety.permit.err.date").arg("value", p),
        })?;
        out.push(d);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The duties of a user.
pub fn duties(r: &impl Reader, user_id: u64) -> Result<Vec<Duty>> {
    Ok(r.get(&DUTIES, &user_id)?.unwrap_or_default())
}

/// Every user's duties.
pub fn all_duties(r: &impl Reader) -> Result<Vec<(u64, Vec<Duty>)>> {
    Ok(r.all(&DUTIES)?)
}

pub fn set_duties(store: &Store, actor: &Actor, user_id: u64, mut d: Vec<Duty>) -> Result<()> {
    let mut w = store.write(actor)?;
    let user = crate::auth::service::user(&w, user_id)?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.permit.err.user")))?;
    d.sort();
    d.dedup();
    let before = duties(&w, user_id)?;
    if d.is_empty() {
        w.remove(&DUTIES, &user_id)?;
    } else {
        w.insert(&DUTIES, &user_id, &d)?;
    }
    let ids = |v: &[Duty]| v.iter().map(|d| d.id()).collect::<Vec<_>>().join(",");
    w.audit(
        "safety.permit.duties",
        format!("user:{} {}", user.id, user.username),
        Change::updated(ids(&before), ids(&d)),
    );
    w.commit()?;
    Ok(())
}

/// Annex B's approvers as the default chain of a type and level.
fn default_steps(work: WorkType, level: Option<&str>) -> Vec<Duty> {
    use Duty::*;
    match (work, level.unwrap_or("")) {
        (WorkType::HotWork, "special") => vec![Unit, SafetyDept, Leader],
        (WorkType::HotWork, "first") => vec![Unit, SafetyDept],
        (WorkType::HotWork, _) => vec![Unit],
        (WorkType::ConfinedSpace | WorkType::Blinding, _) => vec![Unit],
        (WorkType::Height, "i") => vec![Unit],
        (WorkType::Height, "iv") => vec![Unit, Specialist, Leader],
        (WorkType::Height, _) => vec![Unit, Specialist],
        (WorkType::Lifting, "first") => vec![Unit, Specialist, Leader],
        (WorkType::Lifting, _) => vec![Unit, Specialist],
        (WorkType::TemporaryPower, _) => vec![PowerUnit],
        (WorkType::Excavation, _) => vec![Utilities, SafetyDept, Specialist],
        (WorkType::RoadBreak, _) => vec![Fire, SafetyDept, Specialist],
    }
}

/// The default safety measures of a type, from the catalogue (`safety.measures.<type>`,
/// items separated by `|`).
fn default_checklist(work: WorkType, lang: Lang) -> Vec<String> {
    let key = match work {
        WorkType::HotWork => "safety.measures.hot_work",
        WorkType::ConfinedSpace => "safety.measures.confined_space",
        WorkType::Blinding => "safety.measures.blinding",
        WorkType::Height => "safety.measures.height",
        WorkType::Lifting => "safety.measures.lifting",
        WorkType::TemporaryPower => "safety.measures.temporary_power",
        WorkType::Excavation => "safety.measures.excavation",
        WorkType::RoadBreak => "safety.measures.road_break",
    };
    crate::i18n::t(lang, key)
        .split('|')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn split_key(key: &str) -> Option<(WorkType, Option<&str>)> {
    let (w, l) = match key.split_once(':') {
        Some((w, l)) => (w, Some(l)),
        None => (key, None),
    };
    Some((WorkType::parse(w)?, l))
}

/// The chain and checklist of a key: the plant's own, or the default.
pub fn chain(r: &impl Reader, key: &str, lang: Lang) -> Result<ChainConfig> {
    if let Some(c) = r.get(&CHAINS, &key.to_string())? {
        return Ok(c);
    }
    let (work, level) =
        split_key(key).ok_or_else(|| Error::NotFound(Msg::new("safety.permit.err.chain_key")))?;
    Ok(ChainConfig {
        key: key.to_string(),
        steps: default_steps(work, level),
        checklist: default_checklist(work, lang),
        custom: false,
    })
}

/// Every chain, in type and level order.
pub fn chains(r: &impl Reader, lang: Lang) -> Result<Vec<ChainConfig>> {
    chain_keys().iter().map(|k| chain(r, k, lang)).collect()
}

/// Changes a chain; `reset` goes back to the default.
pub fn save_chain(store: &Store, actor: &Actor, mut c: ChainConfig, reset: bool) -> Result<()> {
    if !chain_keys().contains(&c.key) {
        return Err(Error::NotFound(Msg::new("safety.permit.err.chain_key")));
    }
    let mut w = store.write(actor)?;
    if reset {
        w.remove(&CHAINS, &c.key)?;
        w.audit("safety.permit.chain", &c.key, Change::none());
        return Ok(w.commit()?);
    }
    if c.steps.is_empty() {
        return Err(Error::invalid("steps", "safety.permit.err.steps_empty"));
    }
    if let Some(d) = c.steps.iter().find(|d| !d.approves()) {
        return Err(Error::Invalid {
            field: "steps",
            msg: Msg::new("safety.permit.err.step_duty").arg_key("duty", d.key()),
        });
    }
    c.checklist = c
        .checklist
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if c.checklist.len() > 60 {
        return Err(Error::invalid(
            "checklist",
            "safety.permit.err.checklist_long",
        ));
    }
    c.custom = true;
    let steps = c
        .steps
        .iter()
        .map(|d| d.id())
        .collect::<Vec<_>>()
        .join(" → ");
    w.insert(&CHAINS, &c.key, &c)?;
    w.audit(
        "safety.permit.chain",
        &c.key,
        Change::created(format!("{steps}; {} measures", c.checklist.len())),
    );
    Ok(w.commit()?)
}

// ------------------------------------------------------------------ reading

pub fn permit(r: &impl Reader, id: u64) -> Result<Permit> {
    r.get(&PERMITS, &id)?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.permit.err.not_found")))
}

/// Register filters; every field optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
pub struct PermitFilter {
    /// Work type id (`hot_work`…).
    #[serde(default)]
    pub work: Option<String>,
    /// Stage id, or `open` for every stage not final.
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    /// Text in number, content, location, units, applicant, leader, workers.
    #[serde(default)]
    pub q: Option<String>,
    /// Planned period touching days from … (`YYYY-MM-DD`)
    #[serde(default)]
    pub from: Option<String>,
    /// … to (inclusive).
    #[serde(default)]
    pub to: Option<String>,
}

fn day_start(d: &str, offset: UtcOffset) -> Option<i64> {
    parse_local(&format!("{} 00:00", d.trim()), offset)
}

/// Permits matching a filter, newest first.
pub fn permits(r: &impl Reader, f: &PermitFilter, offset: UtcOffset) -> Result<Vec<Permit>> {
    fn nonempty(o: &Option<String>) -> Option<&str> {
        o.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let from = nonempty(&f.from).and_then(|d| day_start(d, offset));
    let to = nonempty(&f.to)
        .and_then(|d| day_start(d, offset))
        .map(|t| t + 86_400_000);
    let q = nonempty(&f.q).map(str::to_lowercase);
    let mut out: Vec<Permit> = r
        .all(&PERMITS)?
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| nonempty(&f.work).is_none_or(|w| p.work().id() == w))
        .filter(|p| {
            nonempty(&f.stage).is_none_or(|s| {
                if s == "open" {
                    !p.stage.is_final()
                } else {
                    p.stage.id() == s
                }
            })
        })
        .filter(|p| nonempty(&f.level).is_none_or(|l| p.level.as_deref() == Some(l)))
        .filter(|p| from.is_none_or(|t| p.to_ms > t))
        .filter(|p| to.is_none_or(|t| p.from_ms < t))
        .filter(|p| {
            q.as_deref().is_none_or(|q| {
                let hay = format!(
                    "{} {} {} {} {} {} {} {}",
                    p.number,
                    p.content,
                    p.location,
                    p.applicant_unit,
                    p.work_unit,
                    p.applicant,
                    p.leader,
                    p.workers
                        .iter()
                        .map(|w| w.name.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
                .to_lowercase();
                hay.contains(q)
            })
        })
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.id));
    Ok(out)
}

/// Count of permits of one type and level.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayCount {
    pub work: WorkType,
    pub level: Option<String>,
    pub count: usize,
    /// Of these, on site (working or suspended) now.
    pub on_site: usize,
}

/// The daily safety commitment's figures: permits (approved or further, not cancelled)
/// whose planned period touches the day, by type and level.
pub fn daily(r: &impl Reader, day: Date, offset: UtcOffset) -> Result<Vec<DayCount>> {
    let start = (PrimitiveDateTime::new(day, time::Time::MIDNIGHT)
        .assume_offset(offset)
        .unix_timestamp())
        * 1000;
    let end = start + 86_400_000;
    let mut out: Vec<DayCount> = Vec::new();
    for (_, p) in r.all(&PERMITS)? {
        let approved = !matches!(
            p.stage,
            Stage::Draft
                | Stage::Measures
                | Stage::GasAnalysis
                | Stage::Approval
                | Stage::Cancelled
        );
        if !approved || p.to_ms <= start || p.from_ms >= end {
            continue;
        }
        let i = match out
            .iter()
            .position(|c| c.work == p.work() && c.level == p.level)
        {
            Some(i) => i,
            None => {
                out.push(DayCount {
                    work: p.work(),
                    level: p.level.clone(),
                    count: 0,
                    on_site: 0,
                });
                out.len() - 1
            }
        };
        out[i].count += 1;
        if p.stage.on_site() {
            out[i].on_site += 1;
        }
    }
    let order = |c: &DayCount| {
        let w = WorkType::ALL.iter().position(|w| *w == c.work).unwrap_or(0);
        let l = c
            .level
            .as_deref()
            .and_then(|l| c.work.levels().iter().position(|x| *x == l))
            .unwrap_or(0);
        (w, l)
    };
    out.sort_by_key(order);
    Ok(out)
}

/// Permits per type with a planned start in the last `days` days (not cancelled, not drafts).
pub fn issued_since(r: &impl Reader, since_ms: i64) -> Result<Vec<(WorkType, usize)>> {
    let all = r.all(&PERMITS)?;
    Ok(WorkType::ALL
        .into_iter()
        .map(|w| {
            let n = all
                .iter()
                .filter(|(_, p)| {
                    p.work() == w
                        && p.from_ms >= since_ms
                        && !matches!(p.stage, Stage::Draft | Stage::Cancelled)
                })
                .count();
            (w, n)
        })
        .collect())
}

// ------------------------------------------------------------------ drafting

/// The level a permit carries, and whether hot work was raised from its assessed level.
fn level_of(
    d: &Details,
    from: PrimitiveDateTime,
    to: PrimitiveDateTime,
    cal: &Calendar,
) -> Result<(Option<String>, bool)> {
    Ok(match d {
        Details::HotWork {
            assessed,
            wind_force,
            ..
        } => {
            let l = rules::hot_level(*assessed, from, to, *wind_force, cal);
            (Some(l.id().to_string()), l != *assessed)
        }
        Details::Height {
            height_m,
            hazard_factors,
            ..
        } => {
            let l = rules::height_level(*height_m, *hazard_factors)
                .ok_or_else(|| Error::invalid("height_m", "safety.permit.err.height"))?;
            let id = match l {
                rules::HeightLevel::I => "i",
                rules::HeightLevel::II => "ii",
                rules::HeightLevel::III => "iii",
                rules::HeightLevel::IV => "iv",
            };
            (Some(id.to_string()), false)
        }
        Details::Lifting { load_t, .. } => {
            let id = match rules::lift_level(*load_t) {
                rules::LiftLevel::First => "first",
                rules::LiftLevel::Second => "second",
                rules::LiftLevel::Third => "third",
            };
            (Some(id.to_string()), false)
        }
        _ => (None, false),
    })
}

fn hot_level_of(p: &Permit) -> Option<HotLevel> {
    match p.work() {
        WorkType::HotWork => p.level.as_deref().and_then(HotLevel::parse),
        _ => None,
    }
}

fn finite(field: &'static str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if !v.is_finite() || v < lo || v > hi {
        return Err(Error::Invalid {
            field,
            msg: Msg::new("safety.permit.err.range")
                .arg("lo", lo)
                .arg("hi", hi),
        });
    }
    Ok(())
}

fn required(field: &'static str, v: &str) -> Result<()> {
    crate::error::text(field, v, 500, true).map(|_| ())
}

/// The type's own fields.
fn check_details(d: &Details) -> Result<()> {
    match d {
        Details::HotWork {
            method,
            lel_pct,
            wind_force,
            ..
        } => {
            required("method", method)?;
            finite("lel_pct", *lel_pct, 0.1, 100.0)?;
            finite("wind_force", *wind_force as f64, 0.0, 17.0)
        }
        Details::ConfinedSpace {
            space,
            medium,
            lel_pct,
            toxic_name,
            toxic_limit,
            ..
        } => {
            required("space", space)?;
            required("medium", medium)?;
            finite("lel_pct", *lel_pct, 0.1, 100.0)?;
            if let Some(l) = toxic_limit {
                required("toxic_name", toxic_name)?;
                finite("toxic_limit", *l, 0.0, 1e6)?;
            }
            Ok(())
        }
        Details::Blinding {
            line,
            medium,
            blind_spec,
            blind_number,
            temperature_c,
            pressure_mpa,
            ..
        } => {
            required("line", line)?;
            required("medium", medium)?;
            required("blind_spec", blind_spec)?;
            required("blind_number", blind_number)?;
            if let Some(t) = temperature_c {
                finite("temperature_c", *t, -273.0, 2000.0)?;
            }
            if let Some(p) = pressure_mpa {
                finite("pressure_mpa", *p, -0.1, 100.0)?;
            }
            Ok(())
        }
        Details::Height {
            height_m,
            wind_force,
            ..
        } => {
            finite("height_m", *height_m, 2.0, 1000.0)
                .map_err(|_| Error::invalid("height_m", "safety.permit.err.height"))?;
            finite("wind_force", *wind_force as f64, 0.0, 17.0)
        }
        Details::Lifting {
            load_t,
            tool,
            wind_force,
            ..
        } => {
            finite("load_t", *load_t, 0.001, 10_000.0)?;
            required("tool", tool)?;
            finite("wind_force", *wind_force as f64, 0.0, 17.0)
        }
        Details::TemporaryPower {
            connection_point,
            voltage_v,
            power_kw,
            ..
        } => {
            required("connection_point", connection_point)?;
            finite("voltage_v", *voltage_v, 1.0, 10_000.0)?;
            finite("power_kw", *power_kw, 0.01, 10_000.0)
        }
        Details::Excavation { depth_m, area, .. } => {
            finite("depth_m", *depth_m, 0.01, 100.0)?;
            required("area", area)
        }
        Details::RoadBreak {
            road_section,
            reason,
            detour,
        } => {
            required("road_section", road_section)?;
            required("reason", reason)?;
            required("detour", detour)
        }
    }
}

/// The form rules that do not depend on other jobs: fields, the period and its validity
/// limit, the level, wind, the guardian, linked and served permits.
struct Checked {
    from_ms: i64,
    to_ms: i64,
    level: Option<String>,
    upgraded: bool,
    guardian: Option<(u64, String)>,
}

fn check_input(
    r: &impl Reader,
    input: &PermitInput,
    self_id: Option<u64>,
    offset: UtcOffset,
) -> Result<Checked> {
    required("content", &input.content)?;
    required("location", &input.location)?;
    required("applicant_unit", &input.applicant_unit)?;
    required("work_unit", &input.work_unit)?;
    required("leader", &input.leader)?;
    finite("x", input.x, -100_000.0, 100_000.0)?;
    finite("y", input.y, -100_000.0, 100_000.0)?;
    check_details(&input.details)?;
    for w in &input.workers {
        required("workers", &w.name)?;
    }
    let from_ms = parse_local(&input.from, offset)
        .ok_or_else(|| Error::invalid("from", "safety.permit.err.datetime"))?;
    let to_ms = parse_local(&input.to, offset)
        .ok_or_else(|| Error::invalid("to", "safety.permit.err.datetime"))?;
    let (from, to) = (local(from_ms, offset), local(to_ms, offset));
    let cal = calendar(r)?;
    let (level, upgraded) = level_of(&input.details, from, to, &cal)?;
    let work = input.details.work();
    let hot = match work {
        WorkType::HotWork => level.as_deref().and_then(HotLevel::parse),
        _ => None,
    };
    // temporary power: the served permit's validity binds
    let mut serves = None;
    if let Details::TemporaryPower {
        serves: Some(sid), ..
    } = &input.details
    {
        let s = r
            .get(&PERMITS, sid)?
            .ok_or_else(|| Error::invalid("serves", "safety.permit.err.serves_missing"))?;
        if !matches!(s.work(), WorkType::HotWork | WorkType::ConfinedSpace) {
            return Err(Error::invalid("serves", "safety.permit.err.serves_type"));
        }
        if from_ms < s.from_ms || to_ms > s.to_ms {
            return Err(Error::Invalid {
                field: "to",
                msg: Msg::new("safety.permit.err.serves_period")
                    .arg("number", &s.number)
                    .arg("from", format_local(s.from_ms, offset))
                    .arg("to", format_local(s.to_ms, offset)),
            });
        }
        serves = Some(Duration::milliseconds(s.to_ms - s.from_ms));
    }
    rules::check_validity(work, hot, serves, from, to).map_err(|b| breach("to", b))?;
    match &input.details {
        Details::Height { wind_force, .. } => rules::check_wind(work, true, *wind_force),
        Details::Lifting {
            outdoor,
            wind_force,
            ..
        } => rules::check_wind(work, *outdoor, *wind_force),
        _ => Ok(()),
    }
    .map_err(|b| breach("wind_force", b))?;
    for l in &input.linked {
        if Some(*l) == self_id || r.get(&PERMITS, l)?.is_none() {
            return Err(Error::Invalid {
                field: "linked",
                msg: Msg::new("safety.permit.err.linked").arg("id", l),
            });
        }
    }
    let guardian = match input.guardian_id {
        None => None,
        Some(g) => {
            let u = crate::auth::service::user(r, g)?
                .filter(|u| u.enabled)
                .ok_or_else(|| {
                    Error::invalid("guardian_id", "safety.permit.err.guardian_missing")
                })?;
            if !duties(r, g)?.contains(&Duty::Guardian) {
                return Err(Error::Invalid {
                    field: "guardian_id",
                    msg: Msg::new("safety.permit.err.guardian_duty").arg("name", &u.display_name),
                });
            }
            Some((u.id, u.display_name))
        }
    };
    Ok(Checked {
        from_ms,
        to_ms,
        level,
        upgraded,
        guardian,
    })
}

fn job_of(p: &Permit, offset: UtcOffset) -> Job {
    let (line, space, painting) = match &p.details {
        Details::Blinding { line, .. } => (Some(line.trim().to_string()), None, false),
        Details::HotWork { space, .. } if !space.trim().is_empty() => {
            (None, Some(space.trim().to_string()), false)
        }
        Details::ConfinedSpace {
            space, painting, ..
        } => (None, Some(space.trim().to_string()), *painting),
        _ => (None, None, false),
    };
    Job {
        id: p.id,
        work: p.work(),
        x: p.x,
        y: p.y,
        line,
        space,
        painting,
        from: local(p.from_ms, offset),
        to: local(p.to_ms, offset),
    }
}

/// Conflicts with permits that are submitted and not final: refused, naming the rule and
/// the other permit.
fn check_conflicts(r: &impl Reader, p: &Permit, offset: UtcOffset) -> Result<()> {
    let all = r.all(&PERMITS)?;
    let others: Vec<Job> = all
        .iter()
        .filter(|(_, o)| o.id != p.id && o.stage != Stage::Draft && !o.stage.is_final())
        .map(|(_, o)| job_of(o, offset))
        .collect();
    if let Some((other, b)) = rules::conflicts(&job_of(p, offset), &others)
        .into_iter()
        .next()
    {
        let number = all
            .iter()
            .find(|(_, o)| o.id == other)
            .map(|(_, o)| o.number.clone())
            .unwrap_or_default();
        return Err(Error::Invalid {
            field: "location",
            msg: b.msg().arg("other", number),
        });
    }
    Ok(())
}

fn next_number(r: &impl Reader, work: WorkType, now_ms: i64, offset: UtcOffset) -> Result<String> {
    let fmt = time::macros::format_description!("[year][month][day]");
    let day = local(now_ms, offset)
        .date()
        .format(&fmt)
        .unwrap_or_default();
    let prefix = format!("{}-{day}-", work.prefix());
    let n = r
        .all(&PERMITS)?
        .iter()
        .filter(|(_, p)| p.number.starts_with(&prefix))
        .count();
    Ok(format!("{prefix}{:03}", n + 1))
}

fn apply_input(p: &mut Permit, input: PermitInput, c: Checked) {
    p.details = input.details;
    p.level = c.level;
    p.upgraded = c.upgraded;
    p.applicant_unit = input.applicant_unit.trim().into();
    p.content = input.content.trim().into();
    p.location = input.location.trim().into();
    p.x = input.x;
    p.y = input.y;
    p.work_unit = input.work_unit.trim().into();
    p.leader = input.leader.trim().into();
    p.workers = input.workers;
    (p.guardian_id, p.guardian) = match c.guardian {
        Some((id, name)) => (Some(id), name),
        None => (None, String::new()),
    };
    p.linked = input.linked;
    p.risks = input.risks.trim().into();
    p.from_ms = c.from_ms;
    p.to_ms = c.to_ms;
}

fn summary_of(p: &Permit) -> String {
    format!(
        "{} {} {} {}",
        p.number,
        p.work().id(),
        p.level.as_deref().unwrap_or("-"),
        p.stage.id()
    )
}

/// Drafts a permit. The form rules apply at once; conflicts with other jobs are checked
/// when it is submitted.
pub fn create(
    store: &Store,
    s: &Signer,
    input: PermitInput,
    now_ms: i64,
    offset: UtcOffset,
    lang: Lang,
) -> Result<Permit> {
    if !s.may_apply() {
        return Err(Error::Forbidden(
            Msg::new("safety.permit.err.duty").arg_key("duty", Duty::Applicant.key()),
        ));
    }
    let mut w = store.write(&s.actor())?;
    let c = check_input(&w, &input, None, offset)?;
    let work = input.details.work();
    let checklist = match &input.checklist {
        Some(items) => items.clone(),
        None => chain(&w, &chain_key(work, c.level.as_deref()), lang)?.checklist,
    };
    let mut p = Permit {
        id: w.next_id(&PERMITS)?,
        number: next_number(&w, work, now_ms, offset)?,
        details: input.details.clone(),
        level: None,
        upgraded: false,
        stage: Stage::Draft,
        applicant_unit: String::new(),
        applicant_id: s.user_id,
        applicant: s.name.clone(),
        content: String::new(),
        location: String::new(),
        x: 0.0,
        y: 0.0,
        work_unit: String::new(),
        leader: String::new(),
        workers: Vec::new(),
        guardian_id: None,
        guardian: String::new(),
        linked: Vec::new(),
        risks: String::new(),
        checklist: measures(checklist),
        from_ms: 0,
        to_ms: 0,
        chain: Vec::new(),
        approved_steps: 0,
        gas: Vec::new(),
        briefing: None,
        signatures: Vec::new(),
        started_ms: None,
        suspended_ms: None,
        closed_ms: None,
        created_ms: now_ms,
        updated_ms: now_ms,
    };
    apply_input(&mut p, input, c);
    w.insert(&PERMITS, &p.id, &p)?;
    w.audit(
        "safety.permit.create",
        format!("permit:{} {}", p.id, p.number),
        Change::created(summary_of(&p)),
    );
    w.commit()?;
    Ok(p)
}

fn measures(items: Vec<String>) -> Vec<Measure> {
    items
        .into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|text| Measure {
            text,
            applies: None,
            confirmed_by: String::new(),
        })
        .collect()
}

/// Changes a draft (the applicant or safety staff).
pub fn update(
    store: &Store,
    s: &Signer,
    id: u64,
    input: PermitInput,
    now_ms: i64,
    offset: UtcOffset,
) -> Result<Permit> {
    let mut w = store.write(&s.actor())?;
    let before = permit(&w, id)?;
    if before.stage != Stage::Draft {
        return Err(Error::Conflict(Msg::new("safety.permit.err.not_draft")));
    }
    if before.applicant_id != s.user_id && !s.can_write {
        return Err(Error::Forbidden(Msg::new(
            "safety.permit.err.not_applicant",
        )));
    }
    let c = check_input(&w, &input, Some(id), offset)?;
    let mut p = before.clone();
    if let Some(items) = &input.checklist {
        p.checklist = measures(items.clone());
    }
    apply_input(&mut p, input, c);
    p.updated_ms = now_ms;
    w.insert(&PERMITS, &id, &p)?;
    w.audit(
        "safety.permit.update",
        format!("permit:{} {}", p.id, p.number),
        Change::updated(summary_of(&before), summary_of(&p)),
    );
    w.commit()?;
    Ok(p)
}

// ------------------------------------------------------------------ the life cycle

fn wrong_stage(p: &Permit, a: Action) -> Error {
    Error::Conflict(
        Msg::new("safety.permit.err.stage")
            .arg_key("stage", format!("safety.stage.{}", p.stage.id()))
            .arg_key("action", format!("safety.action.{}", a.id())),
    )
}

fn need_duty(d: Duty) -> Error {
    Error::Forbidden(Msg::new("safety.permit.err.duty").arg_key("duty", d.key()))
}

fn note_required(input: &ActionInput) -> Result<()> {
    if input.note.trim().is_empty() {
        return Err(Error::invalid("note", "safety.permit.err.note"));
    }
    Ok(())
}

/// SHA-256 over the previous signature's digest and what this one says.
fn digest(prev: &str, permit: u64, x: &Signature) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(
        format!(
            "|{permit}|{}|{}|{}|{}|{}|{}|{}",
            x.action.id(),
            x.duty.map(|d| d.id()).unwrap_or(""),
            x.user_id,
            x.username,
            x.name,
            x.at_ms,
            x.note
        )
        .as_bytes(),
    );
    hex::encode(h.finalize())
}

fn sign(p: &mut Permit, s: &Signer, a: Action, duty: Option<Duty>, note: &str, now_ms: i64) {
    let prev = p
        .signatures
        .last()
        .map(|x| x.digest.clone())
        .unwrap_or_default();
    let mut x = Signature {
        action: a,
        duty,
        user_id: s.user_id,
        username: s.username.clone(),
        name: s.name.clone(),
        // time-stamped to the minute, as the form prints signatures
        at_ms: now_ms - now_ms.rem_euclid(60_000),
        note: note.trim().to_string(),
        digest: String::new(),
    };
    x.digest = digest(&prev, p.id, &x);
    p.signatures.push(x);
}

/// Whether the signature chain of a permit is intact.
pub fn signatures_intact(p: &Permit) -> bool {
    let mut prev = "";
    for x in &p.signatures {
        if digest(prev, p.id, x) != x.digest {
            return false;
        }
        prev = &x.digest;
    }
    true
}

/// Checks a gas analysis against the limits of the permit's type.
fn check_gas(p: &Permit, g: &GasInput) -> Result<()> {
    let need = |field: &'static str, v: Option<f64>| -> Result<f64> {
        v.filter(|x| x.is_finite() && *x >= 0.0 && *x <= 100.0)
            .ok_or_else(|| Error::invalid(field, "safety.permit.err.gas_value"))
    };
    match &p.details {
        Details::HotWork {
            lel_pct,
            oxygen_service,
            ..
        } => {
            let c = need("combustible_pct", g.combustible_pct)?;
            let o2 = if *oxygen_service {
                Some(need("o2_pct", g.o2_pct)?)
            } else {
                None
            };
            rules::check_hot_gas(c, *lel_pct, o2).map_err(|b| breach("combustible_pct", b))
        }
        Details::ConfinedSpace {
            lel_pct,
            enriched,
            toxic_name,
            toxic_limit,
            ..
        } => {
            let c = need("combustible_pct", g.combustible_pct)?;
            let o2 = need("o2_pct", g.o2_pct)?;
            rules::check_hot_gas(c, *lel_pct, None).map_err(|b| breach("combustible_pct", b))?;
            rules::check_confined_oxygen(o2, *enriched).map_err(|b| breach("o2_pct", b))?;
            if let Some(limit) = toxic_limit {
                let v = g
                    .toxic_value
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| Error::invalid("toxic_value", "safety.permit.err.gas_value"))?;
                if v > *limit {
                    return Err(Error::Invalid {
                        field: "toxic_value",
                        msg: Msg::new("safety.rule.toxic")
                            .arg("name", toxic_name)
                            .arg("value", v)
                            .arg("limit", limit),
                    });
                }
            }
            Ok(())
        }
        Details::Excavation { .. } => {
            let c = need("combustible_pct", g.combustible_pct)?;
            let o2 = need("o2_pct", g.o2_pct)?;
            rules::check_hot_gas(c, 4.0, None).map_err(|b| breach("combustible_pct", b))?;
            rules::check_confined_oxygen(o2, false).map_err(|b| breach("o2_pct", b))
        }
        _ => Err(Error::Conflict(Msg::new("safety.permit.err.no_gas"))),
    }
}

/// The latest gas sample must be at most 30 minutes old (and, after a suspension, taken
/// after it began).
fn fresh_sample(p: &Permit, now_ms: i64, after_ms: Option<i64>, offset: UtcOffset) -> Result<()> {
    let g = p
        .last_gas()
        .filter(|g| after_ms.is_none_or(|t| g.sampled_ms >= t))
        .ok_or_else(|| Error::invalid("gas", "safety.permit.err.gas_missing"))?;
    rules::check_sample_age(local(g.sampled_ms, offset), local(now_ms, offset))
        .map_err(|b| breach("gas", b))
}

/// Who may stop work on site (suspend: `other` = the unit head; withdraw: the leader) and
/// under which duty they sign: the guardian, the safety department, or `other`.
fn stopper(is_guardian: bool, s: &Signer, other: Duty) -> Result<Duty> {
    if is_guardian {
        Ok(Duty::Guardian)
    } else if s.has(Duty::SafetyDept) {
        Ok(Duty::SafetyDept)
    } else if s.has(other) {
        Ok(other)
    } else {
        Err(Error::Forbidden(Msg::new("safety.permit.err.not_guardian")))
    }
}

/// Performs one step of the life cycle, signed by `s` at `now_ms`. A refused step leaves
/// the permit as it was.
pub fn act(
    store: &Store,
    s: &Signer,
    id: u64,
    input: ActionInput,
    now_ms: i64,
    offset: UtcOffset,
) -> Result<Permit> {
    let mut w = store.write(&s.actor())?;
    let before = permit(&w, id)?;
    let mut p = before.clone();
    let a = input.action;
    let is_guardian = p.guardian_id == Some(s.user_id) && s.has(Duty::Guardian);
    let mut duty = None;
    match a {
        Action::Submit => {
            if p.stage != Stage::Draft {
                return Err(wrong_stage(&p, a));
            }
            if !s.may_apply() {
                return Err(need_duty(Duty::Applicant));
            }
            if p.applicant_id != s.user_id && !s.can_write {
                return Err(Error::Forbidden(Msg::new(
                    "safety.permit.err.not_applicant",
                )));
            }
            // the whole form again: the calendar or the served permit may have changed
            let input = input_of(&p, offset);
            let c = check_input(&w, &input, Some(id), offset)?;
            apply_input(&mut p, input, c);
            check_conflicts(&w, &p, offset)?;
            if p.checklist.is_empty() {
                return Err(Error::invalid(
                    "checklist",
                    "safety.permit.err.checklist_empty",
                ));
            }
            p.chain = chain(&w, &p.chain_key(), Lang::ZhCn)?.steps;
            p.approved_steps = 0;
            p.stage = Stage::Measures;
        }
        Action::ConfirmMeasures => {
            if p.stage != Stage::Measures {
                return Err(wrong_stage(&p, a));
            }
            if !s.may_apply() {
                return Err(need_duty(Duty::Applicant));
            }
            if p.applicant_id != s.user_id && !s.can_write {
                return Err(Error::Forbidden(Msg::new(
                    "safety.permit.err.not_applicant",
                )));
            }
            if p.risks.trim().is_empty() {
                return Err(Error::invalid("risks", "safety.permit.err.risks"));
            }
            let applies = input
                .applies
                .clone()
                .unwrap_or_else(|| vec![true; p.checklist.len()]);
            if applies.len() != p.checklist.len() {
                return Err(Error::invalid("applies", "safety.permit.err.applies"));
            }
            for (m, ap) in p.checklist.iter_mut().zip(applies) {
                m.applies = Some(ap);
                m.confirmed_by = if ap { s.name.clone() } else { String::new() };
            }
            p.stage = if p.details.needs_gas() {
                Stage::GasAnalysis
            } else {
                Stage::Approval
            };
        }
        Action::Gas => {
            if !matches!(
                p.stage,
                Stage::GasAnalysis
                    | Stage::Approval
                    | Stage::Briefing
                    | Stage::Working
                    | Stage::Suspended
            ) {
                return Err(wrong_stage(&p, a));
            }
            if !p.details.needs_gas() {
                return Err(Error::Conflict(Msg::new("safety.permit.err.no_gas")));
            }
            if !s.has(Duty::Analyst) {
                return Err(need_duty(Duty::Analyst));
            }
            duty = Some(Duty::Analyst);
            let g = input
                .gas
                .clone()
                .ok_or_else(|| Error::invalid("gas", "safety.permit.err.gas_missing"))?;
            required("point", &g.point)?;
            let sampled_ms = parse_local(&g.sampled, offset)
                .ok_or_else(|| Error::invalid("sampled", "safety.permit.err.datetime"))?;
            if sampled_ms > now_ms + 60_000 {
                return Err(Error::invalid("sampled", "safety.permit.err.sample_future"));
            }
            if now_ms - sampled_ms > 86_400_000 {
                return Err(Error::invalid("sampled", "safety.permit.err.sample_old"));
            }
            check_gas(&p, &g)?;
            p.gas.push(GasReading {
                sampled_ms,
                point: g.point.trim().to_string(),
                combustible_pct: g.combustible_pct,
                o2_pct: g.o2_pct,
                toxic_value: g.toxic_value,
                analyst_id: s.user_id,
                analyst: s.name.clone(),
                recorded_ms: now_ms,
            });
            if p.stage == Stage::GasAnalysis {
                p.stage = Stage::Approval;
            }
        }
        Action::Approve => {
            if p.stage != Stage::Approval {
                return Err(wrong_stage(&p, a));
            }
            let next = p.approved_steps;
            let Some(&d) = p.chain.get(next) else {
                return Err(wrong_stage(&p, a));
            };
            if let Some(step) = input.step
                && step != next
            {
                return Err(Error::Conflict(
                    Msg::new("safety.permit.err.order")
                        .arg("step", step + 1)
                        .arg("next", next + 1)
                        .arg_key("duty", d.key()),
                ));
            }
            if !s.has(d) {
                return Err(need_duty(d));
            }
            if s.user_id == p.applicant_id {
                return Err(Error::Forbidden(Msg::new("safety.permit.err.own")));
            }
            // one step per person in this round (a rejection starts a new one)
            if p.signatures
                .iter()
                .rev()
                .take_while(|x| x.action != Action::Submit)
                .any(|x| x.action == Action::Approve && x.user_id == s.user_id)
            {
                return Err(Error::Forbidden(Msg::new("safety.permit.err.twice")));
            }
            duty = Some(d);
            p.approved_steps += 1;
            if p.approved_steps == p.chain.len() {
                p.stage = Stage::Briefing;
            }
        }
        Action::Reject => {
            if p.stage != Stage::Approval {
                return Err(wrong_stage(&p, a));
            }
            let d = p.chain[p.approved_steps.min(p.chain.len().saturating_sub(1))];
            if !s.has(d) {
                return Err(need_duty(d));
            }
            note_required(&input)?;
            duty = Some(d);
            p.stage = Stage::Draft;
            p.approved_steps = 0;
            p.chain.clear();
            for m in &mut p.checklist {
                m.applies = None;
                m.confirmed_by.clear();
            }
        }
        Action::Brief => {
            if p.stage != Stage::Briefing {
                return Err(wrong_stage(&p, a));
            }
            if !s.may_apply() && !is_guardian {
                return Err(need_duty(Duty::Applicant));
            }
            let receivers: Vec<String> = if input.receivers.is_empty() {
                p.workers.iter().map(|w| w.name.clone()).collect()
            } else {
                input.receivers.clone()
            }
            .into_iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
            if receivers.is_empty() {
                return Err(Error::invalid("receivers", "safety.permit.err.receivers"));
            }
            p.briefing = Some(Briefing {
                giver: s.name.clone(),
                receivers,
                at_ms: now_ms,
            });
        }
        Action::Start => {
            if p.stage != Stage::Briefing {
                return Err(wrong_stage(&p, a));
            }
            if p.guardian_id.is_none() {
                return Err(Error::invalid(
                    "guardian_id",
                    "safety.permit.err.no_guardian",
                ));
            }
            if !is_guardian {
                return Err(Error::Forbidden(Msg::new("safety.permit.err.not_guardian")));
            }
            duty = Some(Duty::Guardian);
            if p.approved_steps < p.chain.len() {
                return Err(Error::Conflict(Msg::new("safety.permit.err.approvals")));
            }
            if p.checklist.iter().any(|m| m.applies.is_none()) {
                return Err(Error::Conflict(Msg::new(
                    "safety.permit.err.checklist_open",
                )));
            }
            if p.briefing.is_none() {
                return Err(Error::Conflict(Msg::new("safety.permit.err.no_briefing")));
            }
            if now_ms < p.from_ms - 60_000 || now_ms >= p.to_ms {
                return Err(Error::Invalid {
                    field: "from",
                    msg: Msg::new("safety.permit.err.outside")
                        .arg("from", format_local(p.from_ms, offset))
                        .arg("to", format_local(p.to_ms, offset)),
                });
            }
            if p.details.needs_gas() {
                fresh_sample(&p, now_ms, None, offset)?;
            }
            p.stage = Stage::Working;
            p.started_ms = Some(now_ms);
        }
        Action::Suspend => {
            if p.stage != Stage::Working {
                return Err(wrong_stage(&p, a));
            }
            duty = Some(stopper(is_guardian, s, Duty::Unit)?);
            note_required(&input)?;
            p.stage = Stage::Suspended;
            p.suspended_ms = Some(now_ms);
        }
        Action::Resume => {
            if p.stage != Stage::Suspended {
                return Err(wrong_stage(&p, a));
            }
            if !is_guardian {
                return Err(Error::Forbidden(Msg::new("safety.permit.err.not_guardian")));
            }
            duty = Some(Duty::Guardian);
            if now_ms >= p.to_ms {
                return Err(Error::Invalid {
                    field: "to",
                    msg: Msg::new("safety.permit.err.outside")
                        .arg("from", format_local(p.from_ms, offset))
                        .arg("to", format_local(p.to_ms, offset)),
                });
            }
            let since = p.suspended_ms.unwrap_or(now_ms);
            // deep excavation in a hazardous area follows the confined-space rules
            let limit = rules::retest_after(p.work(), hot_level_of(&p))
                .or_else(|| p.details.needs_gas().then(|| Duration::minutes(60)));
            if let Some(limit) = limit
                && now_ms - since > limit.whole_milliseconds() as i64
            {
                fresh_sample(&p, now_ms, Some(since), offset).map_err(|_| Error::Invalid {
                    field: "gas",
                    msg: Msg::new("safety.permit.err.retest")
                        .arg("minutes", (now_ms - since) / 60_000)
                        .arg("limit", limit.whole_minutes()),
                })?;
            }
            p.stage = Stage::Working;
            p.suspended_ms = None;
        }
        Action::Finish => {
            if p.stage != Stage::Working {
                return Err(wrong_stage(&p, a));
            }
            if !(p.applicant_id == s.user_id || s.can_write || is_guardian) {
                return Err(Error::Forbidden(Msg::new(
                    "safety.permit.err.not_applicant",
                )));
            }
            p.stage = Stage::Acceptance;
        }
        Action::Accept => {
            if p.stage != Stage::Acceptance {
                return Err(wrong_stage(&p, a));
            }
            let d = [Duty::Unit, Duty::SafetyDept]
                .into_iter()
                .find(|d| s.has(*d))
                .ok_or_else(|| need_duty(Duty::Unit))?;
            duty = Some(d);
            p.stage = Stage::Closed;
            p.closed_ms = Some(now_ms);
        }
        Action::Cancel => {
            if !matches!(
                p.stage,
                Stage::Draft
                    | Stage::Measures
                    | Stage::GasAnalysis
                    | Stage::Approval
                    | Stage::Briefing
            ) {
                return Err(wrong_stage(&p, a));
            }
            let own = p.applicant_id == s.user_id;
            if !(own || s.can_write || s.has(Duty::SafetyDept)) {
                return Err(Error::Forbidden(Msg::new(
                    "safety.permit.err.not_applicant",
                )));
            }
            p.stage = Stage::Cancelled;
            p.closed_ms = Some(now_ms);
        }
        Action::Withdraw => {
            if !p.stage.on_site() {
                return Err(wrong_stage(&p, a));
            }
            duty = Some(stopper(is_guardian, s, Duty::Leader)?);
            note_required(&input)?;
            p.stage = Stage::Withdrawn;
            p.closed_ms = Some(now_ms);
        }
    }
    sign(&mut p, s, a, duty, &input.note, now_ms);
    p.updated_ms = now_ms;
    w.insert(&PERMITS, &id, &p)?;
    w.audit(
        &format!("safety.permit.{}", a.id()),
        format!("permit:{} {}", p.id, p.number),
        Change::updated(summary_of(&before), summary_of(&p)),
    );
    w.commit()?;
    Ok(p)
}

/// A permit's form as input (to re-check it on submission).
pub fn input_of(p: &Permit, offset: UtcOffset) -> PermitInput {
    PermitInput {
        details: p.details.clone(),
        applicant_unit: p.applicant_unit.clone(),
        content: p.content.clone(),
        location: p.location.clone(),
        x: p.x,
        y: p.y,
        work_unit: p.work_unit.clone(),
        leader: p.leader.clone(),
        workers: p.workers.clone(),
        guardian_id: p.guardian_id,
        linked: p.linked.clone(),
        risks: p.risks.clone(),
        from: format_local(p.from_ms, offset),
        to: format_local(p.to_ms, offset),
        checklist: None,
    }
}

/// What a signer may do next to a permit, for the page's buttons (the service still
/// checks every rule when they press one).
pub fn offered(p: &Permit, s: &Signer) -> Vec<Action> {
    let is_guardian = p.guardian_id == Some(s.user_id) && s.has(Duty::Guardian);
    let own = p.applicant_id == s.user_id;
    let mut out = Vec::new();
    match p.stage {
        Stage::Draft if s.may_apply() && (own || s.can_write) => out.push(Action::Submit),
        Stage::Measures if s.may_apply() && (own || s.can_write) => {
            out.push(Action::ConfirmMeasures)
        }
        Stage::Approval => {
            if let Some(d) = p.chain.get(p.approved_steps)
                && s.has(*d)
                && !own
            {
                out.extend([Action::Approve, Action::Reject]);
            }
        }
        Stage::Briefing => {
            if s.may_apply() || is_guardian {
                out.push(Action::Brief);
            }
            if is_guardian {
                out.push(Action::Start);
            }
        }
        Stage::Working => {
            if stopper(is_guardian, s, Duty::Unit).is_ok() {
                out.push(Action::Suspend);
            }
            if own || s.can_write || is_guardian {
                out.push(Action::Finish);
            }
        }
        Stage::Suspended if is_guardian => out.push(Action::Resume),
        Stage::Acceptance if s.has(Duty::Unit) || s.has(Duty::SafetyDept) => {
            out.push(Action::Accept)
        }
        _ => {}
    }
    if p.details.needs_gas()
        && s.has(Duty::Analyst)
        && matches!(
            p.stage,
            Stage::GasAnalysis
                | Stage::Approval
                | Stage::Briefing
                | Stage::Working
                | Stage::Suspended
        )
    {
        out.push(Action::Gas);
    }
    if matches!(
        p.stage,
        Stage::Draft | Stage::Measures | Stage::GasAnalysis | Stage::Approval | Stage::Briefing
    ) && (own || s.can_write || s.has(Duty::SafetyDept))
    {
        out.push(Action::Cancel);
    }
    if p.stage.on_site() && stopper(is_guardian, s, Duty::Leader).is_ok() {
        out.push(Action::Withdraw);
    }
    out
}

// ------------------------------------------------------------------ alarms

/// What the alarm check found for one permit.
#[derive(Debug, Clone, PartialEq)]
pub enum Due {
    /// Past its planned end and not closed (on site: the work runs without a valid permit).
    Expired { on_site: bool },
    /// Confined space at work with no reading in the last 2 hours.
    ReadingDue { minutes: i64 },
}

/// The permits that need an alarm now.
pub fn due(r: &impl Reader, now_ms: i64) -> Result<Vec<(Permit, Due)>> {
    let mut out = Vec::new();
    for (_, p) in r.all(&PERMITS)? {
        if p.stage.is_final() || p.stage == Stage::Draft {
            continue;
        }
        if now_ms >= p.to_ms {
            let on_site = p.stage.on_site();
            out.push((p, Due::Expired { on_site }));
            continue;
        }
        if p.stage == Stage::Working && p.work() == WorkType::ConfinedSpace {
            let last = p
                .last_gas()
                .map(|g| g.sampled_ms)
                .or(p.started_ms)
                .unwrap_or(now_ms);
            if now_ms - last > 2 * 3_600_000 {
                out.push((
                    p,
                    Due::ReadingDue {
                        minutes: (now_ms - last) / 60_000,
                    },
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
