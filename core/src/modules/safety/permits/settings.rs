//! Permit settings: the holiday calendar, signing duties, approval chains and checklists
//! per type and level (Annex B defaults in code), and the toxic-gas limits (GBZ 2.1). The
//! only writer of `safety.permit_calendar`, `safety.duties`, `safety.permit_chains` and
//! `safety.gas_refs`.

use time::Date;

use super::calendar::{BadReason, HolidayFile, STATUTORY_DAYS, YearCoverage};
use super::model::{ChainConfig, Duty, GasRef, ToxicLimit, chain_keys, default_gas_refs};
use super::rules::{Calendar, WorkType};
use crate::error::{Error, Result};
use crate::i18n::{Lang, Msg};
use crate::modules::safety::store::{CALENDAR, CHAINS, DUTIES, GAS_REFS};
use crate::store::{Actor, Change, Reader, Store};

/// The plant's calendar (holidays, working weekends, night hours); until a plant saves its
/// own, the holidays this binary ships.
pub fn calendar(r: &impl Reader) -> Result<Calendar> {
    Ok(r.get(&CALENDAR, &"calendar".to_string())?
        .unwrap_or_else(Calendar::shipped))
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

/// Imports a holiday file (`calendar::HolidayFile`): the years it covers replace the
/// calendar's entries of those years. A bad line refuses the whole file. Returns the
/// calendar and, per year imported, its coverage before and after.
pub fn import_holidays(
    store: &Store,
    actor: &Actor,
    text: &str,
) -> Result<(Calendar, Vec<(YearCoverage, YearCoverage)>)> {
    let file = HolidayFile::parse(text).map_err(|b| {
        let msg = match b.reason {
            BadReason::Format => Msg::new("safety.permit.err.holiday_line"),
            BadReason::Date => Msg::new("safety.permit.err.holiday_date"),
            BadReason::Conflict { other } => {
                Msg::new("safety.permit.err.holiday_conflict").arg("other", other)
            }
            BadReason::WorkdayNotWeekend => Msg::new("safety.permit.err.holiday_workday"),
            BadReason::OfficialTooFew { holidays } => {
                Msg::new("safety.permit.err.holiday_official")
                    .arg("holidays", holidays)
                    .arg("min", STATUTORY_DAYS)
            }
        };
        Error::Invalid {
            field: "file",
            msg: msg.arg("line", b.line).arg("text", b.text),
        }
    })?;
    if file.holidays.is_empty() && file.workdays.is_empty() {
        return Err(Error::invalid("file", "safety.permit.err.holiday_empty"));
    }
    let mut cal = calendar(&store.read()?)?;
    let before = cal.clone();
    cal.import(&file);
    let mut years: Vec<i32> = file
        .holidays
        .iter()
        .chain(&file.workdays)
        .map(|d| d.year())
        .chain(file.official.iter().copied())
        .collect();
    years.sort_unstable();
    years.dedup();
    let changes = years
        .into_iter()
        .map(|y| (before.year(y), cal.year(y)))
        .collect();
    Ok((save_calendar(store, actor, cal)?, changes))
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
        (WorkType::Excavation, _) => vec![Utilities, Fire, SafetyDept, Specialist],
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

/// The toxic-gas reference data (GBZ 2.1 defaults until the plant changes them).
pub fn gas_refs(r: &impl Reader) -> Result<Vec<GasRef>> {
    Ok(r.get(&GAS_REFS, &"gases".to_string())?
        .unwrap_or_else(default_gas_refs))
}

/// Replaces the toxic-gas reference data (`reset`: back to the shipped GBZ 2.1 values).
pub fn save_gas_refs(
    store: &Store,
    actor: &Actor,
    mut refs: Vec<GasRef>,
    reset: bool,
) -> Result<Vec<GasRef>> {
    let mut w = store.write(actor)?;
    if reset {
        w.remove(&GAS_REFS, &"gases".to_string())?;
        w.audit("safety.permit.gas_refs", "gases", Change::none());
        w.commit()?;
        return Ok(default_gas_refs());
    }
    for (i, g) in refs.iter_mut().enumerate() {
        let row = i + 1;
        let bad = |key: &'static str| Error::Invalid {
            field: "gases",
            msg: Msg::new(key).arg("row", row),
        };
        g.formula = g.formula.trim().to_string();
        g.name_zh = g.name_zh.trim().to_string();
        g.name_en = g.name_en.trim().to_string();
        if g.formula.is_empty() || g.formula.chars().count() > 40 {
            return Err(bad("safety.permit.err.gas_ref_formula"));
        }
        if g.limit().is_none() {
            return Err(bad("safety.permit.err.gas_ref_limit"));
        }
        if [g.mac, g.twa, g.stel]
            .iter()
            .flatten()
            .any(|x| !x.is_finite() || *x <= 0.0 || *x > 100_000.0)
        {
            return Err(bad("safety.permit.err.gas_ref_limit"));
        }
        if !g.molar_mass.is_finite() || g.molar_mass <= 0.0 || g.molar_mass > 10_000.0 {
            return Err(bad("safety.permit.err.gas_ref_molar"));
        }
    }
    if let Some(dup) = refs
        .iter()
        .enumerate()
        .find(|(i, g)| refs[..*i].iter().any(|o| o.matches(&g.formula)))
    {
        return Err(Error::Invalid {
            field: "formula",
            msg: Msg::new("safety.permit.err.gas_ref_dup").arg("name", &dup.1.formula),
        });
    }
    let before = gas_refs(&w)?.len();
    w.insert(&GAS_REFS, &"gases".to_string(), &refs)?;
    w.audit(
        "safety.permit.gas_refs",
        "gases",
        Change::updated(format!("{before} gases"), format!("{} gases", refs.len())),
    );
    w.commit()?;
    Ok(refs)
}

/// The toxic gases a permit names, with the limits that apply: a gas in the reference data
/// takes its limit (a lower one entered is kept, a higher one refused); another gas must
/// come with its limit. `required`: at least one.
pub fn resolve_toxics(
    refs: &[GasRef],
    list: &[ToxicLimit],
    required: bool,
) -> Result<Vec<ToxicLimit>> {
    if required && list.iter().all(|t| t.name.trim().is_empty()) {
        return Err(Error::invalid(
            "toxics",
            "safety.permit.err.toxics_required",
        ));
    }
    let mut out: Vec<ToxicLimit> = Vec::new();
    for t in list.iter().filter(|t| !t.name.trim().is_empty()) {
        let entered = (t.limit_mg_m3.is_finite() && t.limit_mg_m3 > 0.0).then_some(t.limit_mg_m3);
        let r = refs.iter().find(|g| g.matches(&t.name));
        let (name, limit) = match (r.and_then(|g| g.limit().map(|l| (g, l))), entered) {
            (Some((g, reference)), Some(e)) if e > reference => {
                return Err(Error::Invalid {
                    field: "toxics",
                    msg: Msg::new("safety.permit.err.toxic_above")
                        .arg("name", &g.formula)
                        .arg("value", e)
                        .arg("limit", reference),
                });
            }
            (Some((g, _)), Some(e)) => (g.formula.clone(), e),
            (Some((g, reference)), None) => (g.formula.clone(), reference),
            (None, Some(e)) => (t.name.trim().to_string(), e),
            (None, None) => {
                return Err(Error::Invalid {
                    field: "toxics",
                    msg: Msg::new("safety.permit.err.toxic_unknown").arg("name", t.name.trim()),
                });
            }
        };
        if name.chars().count() > 40 {
            return Err(Error::invalid("toxics", "safety.permit.err.toxic_name"));
        }
        if !out.iter().any(|o| o.name == name) {
            out.push(ToxicLimit {
                name,
                limit_mg_m3: limit,
            });
        }
    }
    if out.len() > 10 {
        return Err(Error::invalid("toxics", "safety.permit.err.toxics_many"));
    }
    Ok(out)
}
