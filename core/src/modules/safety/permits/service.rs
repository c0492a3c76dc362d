//! The permit life cycle: drafting with the GB 30871 checks (`rules`), gas analyses (every
//! one recorded, failing ones too), approval chains, briefing, start, suspension and
//! resumption, acceptance, and the stops the box makes by itself (a failing analysis during
//! work, a gas-detector alarm, the daily re-analysis, the end of a work window or of the
//! permit). Every step is a signed action of a person holding the duty it needs (or of the
//! box, for its own stops); a refused step changes nothing. The only writer of
//! `safety.permits`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, Duration, PrimitiveDateTime, UtcOffset};

use super::model::{
    Action, Briefing, Details, Duty, Finding, GasReading, Measure, Permit, Signature, Stage,
    ToxicLimit, ToxicReading, WorkWindow, Worker, chain_key,
};
use super::rules::{
    self as rules, Activity, Breach, GasLimits, GasValues, HotLevel, HotWind, Job, OxygenRule,
    Sampled, Span, WorkType,
};
use super::settings::{self, calendar, chain, duties};
use crate::error::{Error, Result};
use crate::i18n::{Lang, Msg};
use crate::modules::safety::store::PERMITS;
use crate::plant_time::{format_minute, local, parse_local};
use crate::store::{Actor, Change, Reader, Store, WriteTx};

/// The person signing: permits are signed by people, never by machine tokens. The box
/// itself signs the stops it makes (`Signer::system`).
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
    /// The box, for the stops it makes by itself (user id 0, no duties).
    pub fn system() -> Signer {
        Signer {
            user_id: 0,
            username: "system".into(),
            name: "nplusx".into(),
            duties: Vec::new(),
            can_write: false,
        }
    }
    pub fn has(&self, d: Duty) -> bool {
        self.duties.contains(&d)
    }
    fn may_apply(&self) -> bool {
        self.can_write || self.has(Duty::Applicant)
    }
    fn actor(&self) -> Actor {
        if self.user_id == 0 {
            return Actor::system("safety");
        }
        Actor::user(self.user_id, &self.username, None)
    }
    /// The same person with their duties as stored now (read inside the signing
    /// transaction, so a duty taken away a moment ago no longer signs).
    fn reloaded(&self, r: &impl Reader) -> Result<Signer> {
        let mut s = self.clone();
        if s.user_id != 0 {
            s.duties = duties(r, s.user_id)?;
        }
        Ok(s)
    }
}

/// A planned work window as entered (local `YYYY-MM-DD HH:MM`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WindowInput {
    pub from: String,
    pub to: String,
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
    /// Planned work windows inside the period; omitted: the whole period.
    #[serde(default)]
    pub windows: Vec<WindowInput>,
    /// Work the job involves that must keep away from hot work.
    #[serde(default)]
    pub activities: Vec<Activity>,
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
    /// Each toxic gas the permit names, mg/m³.
    #[serde(default)]
    pub toxics: Vec<ToxicReading>,
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
    /// `resume` of work at height: the measures confirmed again, one flag each.
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

/// What the plant's instruments say about a gas detector (a tag) a permit is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    /// No such tag, or no value yet.
    Unknown,
    /// Its value is bad (communication lost, out of range).
    Bad,
    /// An alarm on it is active.
    Alarm,
    Normal,
}

impl Detector {
    fn key(self) -> &'static str {
        match self {
            Detector::Unknown => "safety.permit.detector.unknown",
            Detector::Bad => "safety.permit.detector.bad",
            Detector::Alarm => "safety.permit.detector.alarm",
            Detector::Normal => "safety.permit.detector.normal",
        }
    }
}

/// The plant as the permit rules see it: its gas detectors. The module implements it over
/// the tag engine and the alarms; tests give their own.
pub trait Site {
    fn detector(&self, tag: &str) -> Detector;
    /// Whether a camera covering one of the plant-map `zones` is streaming to the box now
    /// (so the work is recorded from its first minute).
    fn camera_live(&self, zones: &[u64]) -> bool;
}

/// A site without instruments (every detector unknown, no camera).
pub struct NoInstruments;

impl Site for NoInstruments {
    fn detector(&self, _tag: &str) -> Detector {
        Detector::Unknown
    }
    fn camera_live(&self, _zones: &[u64]) -> bool {
        false
    }
}

fn breach(field: &'static str, b: Breach) -> Error {
    Error::Invalid {
        field,
        msg: b.msg(),
    }
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

/// The level a permit carries, and why it is above the assessed one.
fn level_of(
    d: &Details,
    windows: &[Span],
    cal: &rules::Calendar,
) -> Result<(Option<String>, Vec<rules::Upgrade>)> {
    Ok(match d {
        Details::HotWork {
            assessed,
            outdoor,
            wind_force,
            wind_approval,
            ..
        } => {
            // `check_details` made outdoor and the wind force required; unknown is outdoors
            let wind = HotWind {
                outdoor: outdoor.unwrap_or(true),
                force: wind_force.unwrap_or(0),
                special_approval: !wind_approval.trim().is_empty(),
            };
            let l = rules::hot_level(*assessed, windows, wind, cal)
                .map_err(|b| breach("wind_force", b))?;
            (Some(l.level.id().to_string()), l.upgrades)
        }
        Details::Height {
            height_m,
            hazard_factors,
            ..
        } => {
            let l = rules::height_level(*height_m, *hazard_factors, windows, cal)
                .ok_or_else(|| Error::invalid("height_m", "safety.permit.err.height"))?;
            let id = match l.level {
                rules::HeightLevel::I => "i",
                rules::HeightLevel::II => "ii",
                rules::HeightLevel::III => "iii",
                rules::HeightLevel::IV => "iv",
            };
            (Some(id.to_string()), l.upgrades)
        }
        Details::Lifting { load_t, .. } => {
            let id = match rules::lift_level(*load_t) {
                rules::LiftLevel::First => "first",
                rules::LiftLevel::Second => "second",
                rules::LiftLevel::Third => "third",
            };
            (Some(id.to_string()), Vec::new())
        }
        _ => (None, Vec::new()),
    })
}

/// Why a level was raised, in words.
pub fn upgrade_msg(u: &rules::Upgrade) -> Msg {
    match u {
        rules::Upgrade::Night { at } => Msg::new("safety.permit.upgrade.night").arg("at", at),
        rules::Upgrade::DayOff { date, holiday } => Msg::new(if *holiday {
            "safety.permit.upgrade.holiday"
        } else {
            "safety.permit.upgrade.day_off"
        })
        .arg("date", date),
        rules::Upgrade::Wind { force } => {
            Msg::new("safety.permit.upgrade.wind").arg("force", force)
        }
        rules::Upgrade::HazardFactors => Msg::new("safety.permit.upgrade.hazard_factors"),
    }
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

/// A value a rule needs: refused when missing, naming the field.
fn needed<T: Copy>(field: &'static str, v: Option<T>) -> Result<T> {
    v.ok_or_else(|| Error::Invalid {
        field,
        msg: Msg::new("safety.permit.err.needed")
            .arg_key("field", format!("safety.permit.f.{field}")),
    })
}

fn lel(v: Option<f64>) -> Result<()> {
    v.map_or(Ok(()), |l| finite("lel_pct", l, 0.1, 100.0))
}

fn wind(v: Option<u8>) -> Result<u8> {
    let w = needed("wind_force", v)?;
    finite("wind_force", w as f64, 0.0, 17.0)?;
    Ok(w)
}

/// The type's own fields, checked and tidied: required values present, numbers in range,
/// toxic gases resolved against the reference data, detector tags known.
fn check_details(r: &impl Reader, d: &Details) -> Result<Details> {
    let mut d = d.clone();
    match &mut d {
        Details::HotWork {
            method,
            method_kind,
            lel_pct,
            outdoor,
            wind_force,
            wind_approval,
            monitor_tags,
            space,
            ..
        } => {
            required("method", method)?;
            needed("method_kind", *method_kind)?;
            lel(*lel_pct)?;
            needed("outdoor", *outdoor)?;
            wind(*wind_force)?;
            crate::error::text("wind_approval", wind_approval, 500, false)?;
            crate::error::text("space", space, 100, false)?;
            let mut tags: Vec<String> = monitor_tags
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            tags.dedup();
            if tags.len() > 20 {
                return Err(Error::invalid(
                    "monitor_tags",
                    "safety.permit.err.monitor_many",
                ));
            }
            for t in &tags {
                let tag = crate::tags::service::tag_by_name(r, t).map_err(|_| Error::Invalid {
                    field: "monitor_tags",
                    msg: Msg::new("safety.permit.err.monitor_unknown").arg("tag", t),
                })?;
                // a gas detector reads %LEL, ppm, % vol or mg/m³ (not a flow meter)
                let unit = tag.unit.to_lowercase().replace([' ', '³'], "");
                if !["%lel", "lel%", "ppm", "%vol", "%", "mg/m3", "vol%"].contains(&unit.as_str()) {
                    return Err(Error::Invalid {
                        field: "monitor_tags",
                        msg: Msg::new("safety.permit.err.monitor_unit")
                            .arg("tag", t)
                            .arg("unit", &tag.unit),
                    });
                }
            }
            *monitor_tags = tags;
        }
        Details::ConfinedSpace {
            space,
            medium,
            lel_pct,
            toxics,
            ..
        } => {
            required("space", space)?;
            required("medium", medium)?;
            lel(*lel_pct)?;
            let refs = settings::gas_refs(r)?;
            *toxics = settings::resolve_toxics(&refs, toxics, true)?;
            medium_tested(&refs, medium, toxics)?;
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
        }
        Details::Height {
            height_m,
            wind_force,
            ..
        } => {
            finite("height_m", *height_m, 2.0, 1000.0)
                .map_err(|_| Error::invalid("height_m", "safety.permit.err.height"))?;
            wind(*wind_force)?;
        }
        Details::Lifting {
            load_t,
            tool,
            outdoor,
            wind_force,
        } => {
            finite("load_t", *load_t, 0.001, 10_000.0)?;
            required("tool", tool)?;
            // the wind counts outdoors; indoors a forecast is optional
            if needed("outdoor", *outdoor)? {
                wind(*wind_force)?;
            } else if let Some(w) = wind_force {
                finite("wind_force", *w as f64, 0.0, 17.0)?;
            }
        }
        Details::TemporaryPower {
            connection_point,
            voltage_v,
            power_kw,
            hazardous_area,
            lel_pct,
            ..
        } => {
            required("connection_point", connection_point)?;
            finite("voltage_v", *voltage_v, 1.0, 10_000.0)?;
            finite("power_kw", *power_kw, 0.01, 10_000.0)?;
            needed("hazardous_area", *hazardous_area)?;
            lel(*lel_pct)?;
        }
        Details::Excavation {
            depth_m,
            area,
            hazardous_area,
            medium,
            lel_pct,
            toxics,
        } => {
            finite("depth_m", *depth_m, 0.01, 100.0)?;
            required("area", area)?;
            crate::error::text("medium", medium, 500, false)?;
            lel(*lel_pct)?;
            let deep = needed("hazardous_area", *hazardous_area)? && *depth_m > 1.2;
            let refs = settings::gas_refs(r)?;
            *toxics = settings::resolve_toxics(&refs, toxics, deep)?;
            if deep {
                medium_tested(&refs, medium, toxics)?;
            }
        }
        Details::RoadBreak {
            road_section,
            reason,
            detour,
        } => {
            required("road_section", road_section)?;
            required("reason", reason)?;
            required("detour", detour)?;
        }
    }
    Ok(d)
}

/// A medium that is itself a toxic gas of the reference data must be among the gases
/// tested (a toluene tank is tested for toluene).
fn medium_tested(refs: &[super::model::GasRef], medium: &str, toxics: &[ToxicLimit]) -> Result<()> {
    if let Some(g) = refs.iter().find(|g| g.matches(medium))
        && !toxics.iter().any(|t| g.matches(&t.name))
    {
        return Err(Error::Invalid {
            field: "toxics",
            msg: Msg::new("safety.permit.err.medium_untested")
                .arg("medium", medium.trim())
                .arg("name", &g.formula),
        });
    }
    Ok(())
}

/// The workers: named; where the work needs certificated workers (welding and cutting,
/// temporary power, lifting), each holds one on file in the enterprise archive, issued to
/// them, for that operation, valid until the end of the work. Any other certificate number
/// given is checked for expiry.
fn check_workers(r: &impl Reader, d: &Details, workers: &[Worker], last: time::Date) -> Result<()> {
    use crate::modules::safety::archive::{model::Status, service::person_certificate};
    for w in workers {
        required("workers", &w.name)?;
        crate::error::text("workers", &w.cert, 100, false)?;
    }
    let kind = format!("safety.permit.cert.{}", d.work().id());
    let needs = rules::needs_certificates(d.work(), d.hot_method());
    if needs && workers.is_empty() {
        return Err(Error::Invalid {
            field: "workers",
            msg: Msg::new("safety.permit.err.workers_required").arg_key("cert", kind),
        });
    }
    // the words of the operation a certificate's scope names (焊接与热切割作业…)
    let operation: &[&str] = match d.work() {
        WorkType::HotWork => &["焊接", "热切割"],
        WorkType::TemporaryPower => &["电工"],
        WorkType::Lifting => &["起重"],
        _ => &[],
    };
    for w in workers {
        let bad = |key: &'static str| {
            Msg::new(key)
                .arg("name", &w.name)
                .arg("number", w.cert.trim())
        };
        if w.cert.trim().is_empty() {
            if needs {
                return Err(Error::Invalid {
                    field: "workers",
                    msg: bad("safety.permit.err.cert_required").arg_key("cert", kind.clone()),
                });
            }
            continue;
        }
        let Some(c) = person_certificate(r, &w.cert, last)? else {
            if needs {
                return Err(Error::Invalid {
                    field: "workers",
                    msg: bad("safety.permit.err.cert_unknown").arg_key("cert", kind.clone()),
                });
            }
            continue;
        };
        if c.status == Status::Expired {
            return Err(Error::Invalid {
                field: "workers",
                msg: bad("safety.permit.err.cert_expired").arg("due", c.due.unwrap_or_default()),
            });
        }
        if !needs {
            continue;
        }
        if c.cert.holder.trim() != w.name.trim() {
            return Err(Error::Invalid {
                field: "workers",
                msg: bad("safety.permit.err.cert_holder").arg("holder", c.cert.holder.trim()),
            });
        }
        if !operation.iter().any(|o| c.cert.scope.contains(o)) {
            return Err(Error::Invalid {
                field: "workers",
                msg: bad("safety.permit.err.cert_kind")
                    .arg("scope", &c.cert.scope)
                    .arg_key("cert", kind.clone()),
            });
        }
    }
    Ok(())
}

/// The form rules that do not depend on other jobs: fields, the period, its work windows
/// and validity limit, the level, wind, detectors, the guardian, linked and served permits,
/// certificates.
struct Checked {
    details: Details,
    from_ms: i64,
    to_ms: i64,
    windows: Vec<WorkWindow>,
    level: Option<String>,
    upgrades: Vec<rules::Upgrade>,
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
    let details = check_details(r, &input.details)?;
    let from_ms = parse_local(&input.from, offset)
        .ok_or_else(|| Error::invalid("from", "safety.permit.err.datetime"))?;
    let to_ms = parse_local(&input.to, offset)
        .ok_or_else(|| Error::invalid("to", "safety.permit.err.datetime"))?;
    let (from, to) = (local(from_ms, offset), local(to_ms, offset));
    if input.windows.len() > 31 {
        return Err(Error::invalid("windows", "safety.permit.err.windows_many"));
    }
    let mut windows = Vec::new();
    for w in &input.windows {
        let a = parse_local(&w.from, offset)
            .ok_or_else(|| Error::invalid("windows", "safety.permit.err.datetime"))?;
        let b = parse_local(&w.to, offset)
            .ok_or_else(|| Error::invalid("windows", "safety.permit.err.datetime"))?;
        windows.push(WorkWindow {
            from_ms: a,
            to_ms: b,
        });
    }
    let spans: Vec<Span> = if windows.is_empty() {
        vec![(from, to)]
    } else {
        windows
            .iter()
            .map(|w| (local(w.from_ms, offset), local(w.to_ms, offset)))
            .collect()
    };
    if to > from {
        rules::check_windows((from, to), &spans).map_err(|b| breach("windows", b))?;
    }
    let cal = calendar(r)?;
    let (level, upgrades) = level_of(&details, &spans, &cal)?;
    let work = details.work();
    let hot = match work {
        WorkType::HotWork => level.as_deref().and_then(HotLevel::parse),
        _ => None,
    };
    // temporary power: the served permit must be in force, and its validity binds
    let mut serves = None;
    if let Details::TemporaryPower {
        serves: Some(sid), ..
    } = &details
    {
        let s = r
            .get(&PERMITS, sid)?
            .ok_or_else(|| Error::invalid("serves", "safety.permit.err.serves_missing"))?;
        if !matches!(s.work(), WorkType::HotWork | WorkType::ConfinedSpace) {
            return Err(Error::invalid("serves", "safety.permit.err.serves_type"));
        }
        if s.stage.is_final() {
            return Err(Error::Invalid {
                field: "serves",
                msg: Msg::new("safety.permit.err.serves_final")
                    .arg("number", &s.number)
                    .arg_key("stage", format!("safety.stage.{}", s.stage.id())),
            });
        }
        if from_ms < s.from_ms || to_ms > s.to_ms {
            return Err(Error::Invalid {
                field: "to",
                msg: Msg::new("safety.permit.err.serves_period")
                    .arg("number", &s.number)
                    .arg("from", format_minute(s.from_ms, offset))
                    .arg("to", format_minute(s.to_ms, offset)),
            });
        }
        serves = Some(Duration::milliseconds(s.to_ms - s.from_ms));
    }
    rules::check_validity(work, hot, serves, details.deep_hazardous(), (from, to)).map_err(
        |b| {
            // a limit that comes from a raised level says why the level was raised
            let msg = b.msg();
            match (upgrades.is_empty(), level.as_deref()) {
                (false, Some(l)) => Error::Invalid {
                    field: "to",
                    msg: Msg::new("safety.permit.err.validity_raised")
                        .arg_msgs("rule", vec![msg])
                        .arg_key("level", format!("safety.level.{}_{l}", work.id()))
                        .arg_msgs("why", upgrades.iter().map(upgrade_msg).collect()),
                },
                _ => Error::Invalid { field: "to", msg },
            }
        },
    )?;
    match &details {
        Details::Height { wind_force, .. } => {
            rules::check_wind(work, true, wind_force.unwrap_or(0))
        }
        Details::Lifting {
            outdoor,
            wind_force,
            ..
        } => rules::check_wind(work, outdoor.unwrap_or(true), wind_force.unwrap_or(0)),
        _ => Ok(()),
    }
    .map_err(|b| breach("wind_force", b))?;
    if hot == Some(HotLevel::Special) && details.monitor_tags().is_empty() {
        return Err(Error::invalid(
            "monitor_tags",
            "safety.permit.err.monitor_required",
        ));
    }
    let mut linked = Vec::new();
    for l in &input.linked {
        match r.get(&PERMITS, l)? {
            Some(p) if Some(*l) != self_id => linked.push(p),
            _ => {
                return Err(Error::Invalid {
                    field: "linked",
                    msg: Msg::new("safety.permit.err.linked").arg("id", l),
                });
            }
        }
    }
    // hot work inside a vessel: a confined-space permit for that vessel, in force
    if let Some(space) = details.hot_space()
        && space_permit(&linked, space).is_none()
    {
        return Err(Error::Invalid {
            field: "linked",
            msg: Msg::new("safety.permit.err.space_permit").arg("space", space),
        });
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
    check_workers(r, &details, &input.workers, to.date())?;
    Ok(Checked {
        details,
        from_ms,
        to_ms,
        windows,
        level,
        upgrades,
        guardian,
    })
}

/// Among `linked`, a confined-space permit for `space` that is not closed, cancelled or
/// withdrawn.
fn space_permit<'a>(linked: &'a [Permit], space: &str) -> Option<&'a Permit> {
    linked.iter().find(|p| {
        !p.stage.is_final()
            && matches!(&p.details, Details::ConfinedSpace { space: s, .. }
                if s.trim().eq_ignore_ascii_case(space.trim()))
    })
}

fn linked_permits(r: &impl Reader, p: &Permit) -> Result<Vec<Permit>> {
    let mut out = Vec::new();
    for id in &p.linked {
        if let Some(l) = r.get(&PERMITS, id)? {
            out.push(l);
        }
    }
    Ok(out)
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
        activities: p.activities.clone(),
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
    p.details = c.details;
    p.level = c.level;
    p.upgraded = !c.upgrades.is_empty();
    p.upgrades = c.upgrades;
    p.applicant_unit = input.applicant_unit.trim().into();
    p.content = input.content.trim().into();
    p.location = input.location.trim().into();
    p.x = input.x;
    p.y = input.y;
    p.work_unit = input.work_unit.trim().into();
    p.leader = input.leader.trim().into();
    p.workers = input
        .workers
        .into_iter()
        .map(|w| Worker {
            name: w.name.trim().into(),
            cert: w.cert.trim().into(),
        })
        .collect();
    (p.guardian_id, p.guardian) = match c.guardian {
        Some((id, name)) => (Some(id), name),
        None => (None, String::new()),
    };
    p.linked = input.linked;
    p.risks = input.risks.trim().into();
    p.from_ms = c.from_ms;
    p.to_ms = c.to_ms;
    p.windows = c.windows;
    let mut activities = input.activities;
    activities.sort_by_key(|a| a.id());
    activities.dedup();
    p.activities = activities;
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
    let mut w = store.write(&s.actor())?;
    let s = &s.reloaded(&w)?;
    if !s.may_apply() {
        return Err(need_duty(Duty::Applicant));
    }
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
        upgrades: Vec::new(),
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
        windows: Vec::new(),
        activities: Vec::new(),
        chain: Vec::new(),
        approved_steps: 0,
        gas: Vec::new(),
        briefing: None,
        signatures: Vec::new(),
        started_ms: None,
        suspended_ms: None,
        retest_required: false,
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

// ------------------------------------------------------------------ gas

/// What a permit's gas analyses are held to: hot work by its medium's LEL (and oxygen in
/// oxygen service); inside a vessel also the vessel's confined-space limits (oxygen, its
/// toxic gases); confined spaces and deep excavation in hazardous areas by oxygen and
/// their toxic gases; temporary power in a hazardous area by combustible gas.
pub fn gas_limits(r: &impl Reader, p: &Permit) -> Result<GasLimits> {
    let pairs = |t: &[ToxicLimit]| {
        t.iter()
            .map(|t| (t.name.clone(), t.limit_mg_m3))
            .collect::<Vec<_>>()
    };
    Ok(match &p.details {
        Details::HotWork {
            lel_pct,
            oxygen_service,
            ..
        } => match p.details.hot_space() {
            Some(space) => {
                let linked = linked_permits(r, p)?;
                let (enriched, toxics, vessel_lel) =
                    match space_permit(&linked, space).map(|c| &c.details) {
                        Some(Details::ConfinedSpace {
                            enriched,
                            toxics,
                            lel_pct,
                            ..
                        }) => (*enriched, pairs(toxics), *lel_pct),
                        _ => (false, Vec::new(), None),
                    };
                // the lower of the two media's LELs; either unknown: unknown (0.2 %)
                let lel = match (*lel_pct, vessel_lel) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    _ => None,
                };
                GasLimits {
                    lel_pct: lel,
                    oxygen: OxygenRule::Enclosed { enriched },
                    toxics,
                }
            }
            None => GasLimits {
                lel_pct: *lel_pct,
                oxygen: if *oxygen_service {
                    OxygenRule::OxygenService
                } else {
                    OxygenRule::Unchecked
                },
                toxics: Vec::new(),
            },
        },
        Details::ConfinedSpace {
            lel_pct,
            enriched,
            toxics,
            ..
        } => GasLimits {
            lel_pct: *lel_pct,
            oxygen: OxygenRule::Enclosed {
                enriched: *enriched,
            },
            toxics: pairs(toxics),
        },
        Details::Excavation {
            lel_pct, toxics, ..
        } if p.details.deep_hazardous() => GasLimits {
            lel_pct: *lel_pct,
            oxygen: OxygenRule::Enclosed { enriched: false },
            toxics: pairs(toxics),
        },
        Details::TemporaryPower { lel_pct, .. } if p.details.needs_gas() => GasLimits {
            lel_pct: *lel_pct,
            oxygen: OxygenRule::Unchecked,
            toxics: Vec::new(),
        },
        _ => return Err(Error::Conflict(Msg::new("safety.permit.err.no_gas"))),
    })
}

/// The values of an analysis as entered, checked for what the limits need: combustible
/// gas always, oxygen where it is limited, each toxic gas the permit names (and no other).
/// Missing or impossible values are bad input, not a failing analysis.
fn gas_values(l: &GasLimits, g: &GasInput) -> Result<GasValues> {
    let pct = |field: &'static str, v: Option<f64>, need: bool| -> Result<Option<f64>> {
        match v {
            None if !need => Ok(None),
            Some(x) if x.is_finite() && (0.0..=100.0).contains(&x) => Ok(Some(x)),
            _ => Err(Error::invalid(field, "safety.permit.err.gas_value")),
        }
    };
    let combustible_pct = pct("combustible_pct", g.combustible_pct, true)?;
    let o2_pct = pct("o2_pct", g.o2_pct, l.oxygen != OxygenRule::Unchecked)?;
    for t in &g.toxics {
        if !l.toxics.iter().any(|(n, _)| *n == t.name) {
            return Err(Error::Invalid {
                field: "toxics",
                msg: Msg::new("safety.permit.err.toxic_not_named").arg("name", &t.name),
            });
        }
        if !t.value.is_finite() || t.value < 0.0 || t.value > 1e6 {
            return Err(Error::invalid("toxics", "safety.permit.err.gas_value"));
        }
    }
    let mut toxics = Vec::new();
    for (name, _) in &l.toxics {
        let v = g
            .toxics
            .iter()
            .find(|t| t.name == *name)
            .ok_or_else(|| Error::Invalid {
                field: "toxics",
                msg: Msg::new("safety.permit.err.toxic_missing").arg("name", name),
            })?;
        toxics.push((name.clone(), v.value));
    }
    Ok(GasValues {
        combustible_pct,
        o2_pct,
        toxics,
    })
}

/// The failing analyses still standing (a later pass at the same point clears one), as
/// each was judged when recorded.
pub fn standing_failures(p: &Permit) -> Vec<&GasReading> {
    failures_by(p, |g| g.pass())
}

/// The failing analyses standing when every analysis is judged again against the limits
/// the permit has now (a form edited after a rejection may have lowered them).
fn standing_failures_now<'a>(p: &'a Permit, limits: &GasLimits) -> Vec<&'a GasReading> {
    failures_by(p, |g| passes_now(g, limits))
}

fn passes_now(g: &GasReading, limits: &GasLimits) -> bool {
    let values = GasValues {
        combustible_pct: g.combustible_pct,
        o2_pct: g.o2_pct,
        toxics: g.toxics.iter().map(|t| (t.name.clone(), t.value)).collect(),
    };
    g.pass() && rules::judge_gas(limits, &values).is_empty()
}

fn failures_by(p: &Permit, pass: impl Fn(&GasReading) -> bool) -> Vec<&GasReading> {
    let samples: Vec<Sampled> = p
        .gas
        .iter()
        .map(|g| Sampled {
            at_ms: g.sampled_ms,
            point: &g.point,
            pass: pass(g),
        })
        .collect();
    rules::open_failures(&samples)
        .into_iter()
        .map(|i| &p.gas[i])
        .collect()
}

fn gas_failed(g: &GasReading, offset: UtcOffset) -> Error {
    Error::Invalid {
        field: "gas",
        msg: Msg::new("safety.permit.err.gas_failed")
            .arg("time", format_minute(g.sampled_ms, offset))
            .arg("point", &g.point),
    }
}

/// Whether the analyses let work start or resume now, each judged against the permit's
/// limits as they are now: no failure standing, and the last passing analysis at most 30
/// minutes old (and taken after `after_ms`, when given).
fn gas_ready(
    p: &Permit,
    limits: &GasLimits,
    now_ms: i64,
    after_ms: Option<i64>,
    offset: UtcOffset,
) -> Result<()> {
    if let Some(g) = standing_failures_now(p, limits).first() {
        return Err(gas_failed(g, offset));
    }
    // sampling times are to the minute: a sample in the minute work stopped counts
    let g = p
        .gas
        .iter()
        .filter(|g| passes_now(g, limits))
        .max_by_key(|g| g.sampled_ms)
        .filter(|g| after_ms.is_none_or(|t| g.sampled_ms >= t - t.rem_euclid(60_000)))
        .ok_or_else(|| Error::invalid("gas", "safety.permit.err.gas_missing"))?;
    rules::check_sample_age(local(g.sampled_ms, offset), local(now_ms, offset))
        .map_err(|b| breach("gas", b))
}

/// Every detector bound to the permit reads normally.
/// GB 30871: 特级 hot work is done under full video. Work starts (and resumes) only while a
/// camera covering its location on the plant map streams to the box, which then records it.
fn video_ready(r: &impl Reader, p: &Permit, site: &dyn Site) -> Result<()> {
    if !(p.work() == WorkType::HotWork && p.level.as_deref() == Some("special")) {
        return Ok(());
    }
    let zones = location_zones(r, p)?;
    if zones.is_empty() {
        return Err(Error::Conflict(Msg::new("safety.permit.err.video_zone")));
    }
    if !site.camera_live(&zones) {
        return Err(Error::Conflict(Msg::new("safety.permit.err.video")));
    }
    Ok(())
}

fn detectors_ready(p: &Permit, site: &dyn Site) -> Result<()> {
    for t in p.details.monitor_tags() {
        let d = site.detector(t);
        if d != Detector::Normal {
            return Err(Error::Invalid {
                field: "monitor_tags",
                msg: Msg::new("safety.permit.err.detector")
                    .arg("tag", t)
                    .arg_key("state", d.key()),
            });
        }
    }
    Ok(())
}

/// The findings of a failing analysis, each broken limit a sentence.
fn findings_text(f: &[Finding], lang: Lang) -> String {
    let sep = if lang == Lang::En { " " } else { "" };
    f.iter()
        .map(|x| match lang {
            Lang::En => x.en.as_str(),
            Lang::ZhCn => x.zh.as_str(),
        })
        .collect::<Vec<_>>()
        .join(sep)
}

/// Records an analysis on `p` (failing ones too) and moves the permit on: a pass in the
/// gas-analysis stage opens the approvals; a failure during work stops it. Returns the
/// reading.
fn record_gas(
    r: &impl Reader,
    p: &mut Permit,
    s: &Signer,
    g: &GasInput,
    now_ms: i64,
    offset: UtcOffset,
) -> Result<GasReading> {
    required("point", &g.point)?;
    crate::error::text("point", &g.point, 100, true)?;
    let sampled_ms = parse_local(&g.sampled, offset)
        .ok_or_else(|| Error::invalid("sampled", "safety.permit.err.datetime"))?;
    if sampled_ms > now_ms + 60_000 {
        return Err(Error::invalid("sampled", "safety.permit.err.sample_future"));
    }
    if now_ms - sampled_ms > 86_400_000 {
        return Err(Error::invalid("sampled", "safety.permit.err.sample_old"));
    }
    let limits = gas_limits(r, p)?;
    let values = gas_values(&limits, g)?;
    let failures = rules::judge_gas(&limits, &values)
        .into_iter()
        .map(|(field, b)| Finding {
            field: field.to_string(),
            zh: b.msg().render(Lang::ZhCn),
            en: b.msg().render(Lang::En),
        })
        .collect();
    let reading = GasReading {
        sampled_ms,
        point: g.point.trim().to_string(),
        combustible_pct: values.combustible_pct,
        o2_pct: values.o2_pct,
        toxics: values
            .toxics
            .into_iter()
            .map(|(name, value)| ToxicReading { name, value })
            .collect(),
        failures,
        analyst_id: s.user_id,
        analyst: s.name.clone(),
        recorded_ms: now_ms,
    };
    p.gas.push(reading.clone());
    if reading.pass() && p.stage == Stage::GasAnalysis {
        p.stage = Stage::Approval;
    }
    Ok(reading)
}

/// Stops work on site: suspended, and (for gas) a new passing analysis needed to resume.
fn stop(p: &mut Permit, now_ms: i64, retest: bool) {
    p.stage = Stage::Suspended;
    p.suspended_ms = Some(now_ms);
    p.retest_required |= retest;
}

/// Tells the permit's guardian and everyone holding the safety-department duty.
fn notify_stop(
    w: &mut WriteTx,
    p: &Permit,
    text: &crate::alarms::model::Text,
    now_ms: i64,
) -> Result<()> {
    let mut users: Vec<u64> = settings::all_duties(&*w)?
        .into_iter()
        .filter(|(_, d)| d.contains(&Duty::SafetyDept))
        .map(|(u, _)| u)
        .collect();
    users.extend(p.guardian_id);
    crate::notices::send(
        w,
        &users,
        "safety",
        text,
        &format!("/safety/permits/{}", p.id),
        now_ms,
    )
}

// ------------------------------------------------------------------ who may do what

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

/// Whether `s` may take `a` on `p` in its present stage, and the duty they sign under.
/// The one place that decides it: the permit page offers exactly the actions this allows,
/// and `act` checks it before anything else (the rules of the step come after).
pub fn permission(p: &Permit, s: &Signer, a: Action) -> Result<Option<Duty>> {
    use Stage::*;
    let own = p.applicant_id == s.user_id;
    let is_guardian = p.guardian_id == Some(s.user_id) && s.has(Duty::Guardian);
    let stage = |ok: &[Stage]| {
        if ok.contains(&p.stage) {
            Ok(())
        } else {
            Err(wrong_stage(p, a))
        }
    };
    let applicant = || {
        if !s.may_apply() {
            Err(need_duty(Duty::Applicant))
        } else if !own && !s.can_write {
            Err(Error::Forbidden(Msg::new(
                "safety.permit.err.not_applicant",
            )))
        } else {
            Ok(None)
        }
    };
    match a {
        Action::Submit => stage(&[Draft]).and_then(|_| applicant()),
        Action::ConfirmMeasures => stage(&[Measures]).and_then(|_| applicant()),
        Action::Gas => {
            stage(&[GasAnalysis, Approval, Briefing, Working, Suspended])?;
            if !p.details.needs_gas() {
                return Err(Error::Conflict(Msg::new("safety.permit.err.no_gas")));
            }
            if !s.has(Duty::Analyst) {
                return Err(need_duty(Duty::Analyst));
            }
            if own {
                return Err(Error::Forbidden(Msg::new("safety.permit.err.own_gas")));
            }
            Ok(Some(Duty::Analyst))
        }
        Action::Approve | Action::Reject => {
            stage(&[Approval])?;
            let d = *p
                .chain
                .get(p.approved_steps)
                .ok_or_else(|| wrong_stage(p, a))?;
            if !s.has(d) {
                return Err(need_duty(d));
            }
            if own {
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
            Ok(Some(d))
        }
        Action::Brief => {
            stage(&[Briefing])?;
            if is_guardian {
                return Ok(None);
            }
            applicant()
        }
        Action::Start => {
            stage(&[Briefing])?;
            if p.guardian_id.is_none() {
                return Err(Error::invalid(
                    "guardian_id",
                    "safety.permit.err.no_guardian",
                ));
            }
            if !is_guardian {
                return Err(Error::Forbidden(Msg::new("safety.permit.err.not_guardian")));
            }
            if p.briefing.is_none() {
                return Err(Error::Conflict(Msg::new("safety.permit.err.no_briefing")));
            }
            Ok(Some(Duty::Guardian))
        }
        Action::Suspend => {
            stage(&[Working])?;
            stopper(is_guardian, s, Duty::Unit).map(Some)
        }
        Action::Resume => {
            stage(&[Suspended])?;
            if !is_guardian {
                return Err(Error::Forbidden(Msg::new("safety.permit.err.not_guardian")));
            }
            Ok(Some(Duty::Guardian))
        }
        Action::Finish => {
            stage(&[Working, Suspended])?;
            if own || s.can_write || is_guardian {
                Ok(None)
            } else {
                Err(Error::Forbidden(Msg::new(
                    "safety.permit.err.not_applicant",
                )))
            }
        }
        Action::Accept => {
            stage(&[Acceptance])?;
            [Duty::Unit, Duty::SafetyDept]
                .into_iter()
                .find(|d| s.has(*d))
                .map(Some)
                .ok_or_else(|| need_duty(Duty::Unit))
        }
        Action::Cancel => {
            stage(&[Draft, Measures, GasAnalysis, Approval, Briefing])?;
            if own || s.can_write || s.has(Duty::SafetyDept) {
                Ok(None)
            } else {
                Err(Error::Forbidden(Msg::new(
                    "safety.permit.err.not_applicant",
                )))
            }
        }
        Action::Withdraw => {
            stage(&[Working, Suspended])?;
            stopper(is_guardian, s, Duty::Leader).map(Some)
        }
    }
}

/// What a signer may do next to a permit, for the page's buttons: exactly what
/// `permission` allows.
pub fn offered(p: &Permit, s: &Signer) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| permission(p, s, *a).is_ok())
        .collect()
}

// ------------------------------------------------------------------ acting

/// Performs one step of the life cycle, signed by `s` at `now_ms`. A refused step leaves
/// the permit as it was. `site` tells the state of the gas detectors a permit is bound to.
pub fn act(
    store: &Store,
    site: &dyn Site,
    s: &Signer,
    id: u64,
    input: ActionInput,
    now_ms: i64,
    offset: UtcOffset,
) -> Result<Permit> {
    let mut w = store.write(&s.actor())?;
    // duties as stored now, inside the signing transaction
    let s = &s.reloaded(&w)?;
    if s.user_id == 0 {
        return Err(Error::Forbidden(Msg::new("safety.permit.err.token")));
    }
    let before = permit(&w, id)?;
    let mut p = before.clone();
    let a = input.action;
    let duty = permission(&p, s, a)?;
    // a failing analysis: its findings, and whether it stopped work on site
    let mut failed: Option<(GasReading, bool)> = None;
    match a {
        Action::Submit => {
            // the whole form again: the calendar, the reference data or the served permit
            // may have changed
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
            let g = input
                .gas
                .as_ref()
                .ok_or_else(|| Error::invalid("gas", "safety.permit.err.gas_missing"))?;
            let reading = record_gas(&w, &mut p, s, g, now_ms, offset)?;
            if !reading.pass() {
                failed = Some((reading, p.stage == Stage::Working));
            }
        }
        Action::Approve => {
            let next = p.approved_steps;
            if let Some(step) = input.step
                && step != next
            {
                return Err(Error::Conflict(
                    Msg::new("safety.permit.err.order")
                        .arg("step", step + 1)
                        .arg("next", next + 1)
                        .arg_key("duty", p.chain[next].key()),
                ));
            }
            p.approved_steps += 1;
            if p.approved_steps == p.chain.len() {
                p.stage = Stage::Briefing;
            }
        }
        Action::Reject => {
            note_required(&input)?;
            p.stage = Stage::Draft;
            p.approved_steps = 0;
            p.chain.clear();
            for m in &mut p.checklist {
                m.applies = None;
                m.confirmed_by.clear();
            }
        }
        Action::Brief => {
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
            if now_ms < p.from_ms || now_ms >= p.to_ms || !p.in_window(now_ms) {
                return Err(outside(&p, offset));
            }
            if p.details.needs_gas() {
                gas_ready(&p, &gas_limits(&w, &p)?, now_ms, None, offset)?;
            }
            detectors_ready(&p, site)?;
            video_ready(&w, &p, site)?;
            check_related(&w, &p)?;
            p.stage = Stage::Working;
            p.started_ms = Some(now_ms);
        }
        Action::Suspend => {
            note_required(&input)?;
            stop(&mut p, now_ms, false);
        }
        Action::Resume => {
            if now_ms >= p.to_ms || !p.in_window(now_ms) {
                return Err(outside(&p, offset));
            }
            let since = p.suspended_ms.unwrap_or(now_ms);
            if p.details.needs_gas() {
                let limits = gas_limits(&w, &p)?;
                if let Some(g) = standing_failures_now(&p, &limits).first() {
                    return Err(gas_failed(g, offset));
                }
                let limit =
                    rules::retest_after(p.work(), hot_level_of(&p), p.details.deep_hazardous())
                        .unwrap_or(Duration::minutes(60));
                let long = now_ms - since > limit.whole_milliseconds() as i64;
                if p.retest_required || long {
                    gas_ready(&p, &limits, now_ms, Some(since), offset).map_err(|_| {
                        if p.retest_required {
                            Error::invalid("gas", "safety.permit.err.retest_required")
                        } else {
                            Error::Invalid {
                                field: "gas",
                                msg: Msg::new("safety.permit.err.retest")
                                    .arg("minutes", (now_ms - since) / 60_000)
                                    .arg("limit", limit.whole_minutes()),
                            }
                        }
                    })?;
                }
            }
            detectors_ready(&p, site)?;
            video_ready(&w, &p, site)?;
            check_related(&w, &p)?;
            if p.work() == WorkType::Height {
                reconfirm(&mut p, &input, s)?;
            }
            p.stage = Stage::Working;
            p.suspended_ms = None;
            p.retest_required = false;
        }
        Action::Finish => p.stage = Stage::Acceptance,
        Action::Accept => {
            p.stage = Stage::Closed;
            p.closed_ms = Some(now_ms);
        }
        Action::Cancel => {
            p.stage = Stage::Cancelled;
            p.closed_ms = Some(now_ms);
        }
        Action::Withdraw => {
            note_required(&input)?;
            p.stage = Stage::Withdrawn;
            p.closed_ms = Some(now_ms);
        }
    }
    sign(&mut p, s, a, duty, &input.note, now_ms);
    if let Some((reading, on_site)) = failed {
        let findings = |lang| findings_text(&reading.failures, lang);
        let key = if on_site {
            // people leave: the work stops until a new passing analysis; the analyst who
            // found it signs the stop, with the findings in both languages
            stop(&mut p, now_ms, true);
            let note = [Lang::ZhCn, Lang::En]
                .map(|l| {
                    format!(
                        "{}{}",
                        crate::i18n::t(l, "safety.permit.gas.failed"),
                        findings(l)
                    )
                })
                .join(" / ");
            sign(
                &mut p,
                s,
                Action::Suspend,
                Some(Duty::Analyst),
                &note,
                now_ms,
            );
            "safety.permit.notice.gas_stopped"
        } else {
            "safety.permit.notice.gas_failed"
        };
        let msg = |lang| {
            Msg::new(key)
                .arg("number", &p.number)
                .arg("location", &p.location)
                .arg("point", &reading.point)
                .arg("time", format_minute(reading.sampled_ms, offset))
                .arg("findings", findings(lang))
                .render(lang)
        };
        let text = crate::alarms::model::Text {
            zh: msg(Lang::ZhCn),
            en: msg(Lang::En),
        };
        notify_stop(&mut w, &p, &text, now_ms)?;
    }
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

fn outside(p: &Permit, offset: UtcOffset) -> Error {
    let windows = p
        .spans_ms()
        .iter()
        .map(|(a, b)| {
            format!(
                "{}–{}",
                format_minute(*a, offset),
                format_minute(*b, offset)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Error::Invalid {
        field: "from",
        msg: Msg::new("safety.permit.err.outside").arg("windows", windows),
    }
}

/// The permits a job depends on are in force: the confined-space permit of the vessel hot
/// work is done in is at work (people inside under it); the permit temporary power serves
/// is not closed, cancelled or withdrawn.
fn check_related(r: &impl Reader, p: &Permit) -> Result<()> {
    if let Some(space) = p.details.hot_space() {
        let linked = linked_permits(r, p)?;
        if !space_permit(&linked, space).is_some_and(|c| c.stage == Stage::Working) {
            return Err(Error::Conflict(
                Msg::new("safety.permit.err.space_not_working").arg("space", space),
            ));
        }
    }
    if let Details::TemporaryPower {
        serves: Some(sid), ..
    } = &p.details
        && let Some(s) = r.get(&PERMITS, sid)?
        && s.stage.is_final()
    {
        return Err(Error::Conflict(
            Msg::new("safety.permit.err.serves_final")
                .arg("number", &s.number)
                .arg_key("stage", format!("safety.stage.{}", s.stage.id())),
        ));
    }
    Ok(())
}

/// Work at height resumes only with its safety measures confirmed again: every measure that
/// applied must be ticked.
fn reconfirm(p: &mut Permit, input: &ActionInput, s: &Signer) -> Result<()> {
    let ticks = input
        .applies
        .as_ref()
        .filter(|v| v.len() == p.checklist.len())
        .ok_or_else(|| Error::invalid("applies", "safety.permit.err.reconfirm"))?;
    if p.checklist
        .iter()
        .zip(ticks)
        .any(|(m, t)| m.applies == Some(true) && !t)
    {
        return Err(Error::invalid("applies", "safety.permit.err.reconfirm"));
    }
    for m in p.checklist.iter_mut().filter(|m| m.applies == Some(true)) {
        m.confirmed_by = s.name.clone();
    }
    Ok(())
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
        from: format_minute(p.from_ms, offset),
        to: format_minute(p.to_ms, offset),
        windows: p
            .windows
            .iter()
            .map(|w| WindowInput {
                from: format_minute(w.from_ms, offset),
                to: format_minute(w.to_ms, offset),
            })
            .collect(),
        activities: p.activities.clone(),
        checklist: None,
    }
}

// ------------------------------------------------------------------ the box's own stops

/// Why work on site must stop now, if it must: the permit expired, its work window ended,
/// hot work's daily re-analysis is due, a gas detector bound to it is not reading normally
/// (alarm, bad value, gone), hot work inside a vessel whose confined-space permit is no
/// longer at work (people left it), or temporary power whose served permit has ended. The
/// second value: a new analysis is needed. `all`: every permit, for the related ones.
fn stop_reason(
    p: &Permit,
    all: &HashMap<u64, Permit>,
    site: &dyn Site,
    now_ms: i64,
) -> Option<(Msg, bool)> {
    if now_ms >= p.to_ms {
        return Some((Msg::new("safety.permit.stop.expired"), false));
    }
    if !p.in_window(now_ms) {
        return Some((Msg::new("safety.permit.stop.window"), false));
    }
    if p.work() == WorkType::HotWork
        && p.last_pass().is_none_or(|g| {
            now_ms - g.sampled_ms > rules::HOT_REANALYSIS.whole_milliseconds() as i64
        })
    {
        return Some((Msg::new("safety.permit.stop.reanalysis"), true));
    }
    for t in p.details.monitor_tags() {
        let d = site.detector(t);
        if d != Detector::Normal {
            return Some((
                Msg::new("safety.permit.stop.detector")
                    .arg("tag", t)
                    .arg_key("state", d.key()),
                true,
            ));
        }
    }
    if let Some(space) = p.details.hot_space() {
        let linked: Vec<Permit> = p
            .linked
            .iter()
            .filter_map(|id| all.get(id).cloned())
            .collect();
        if !space_permit(&linked, space).is_some_and(|c| c.stage == Stage::Working) {
            return Some((
                Msg::new("safety.permit.stop.space").arg("space", space),
                true,
            ));
        }
    }
    if let Details::TemporaryPower {
        serves: Some(sid), ..
    } = &p.details
        && let Some(s) = all.get(sid)
        && s.stage.is_final()
    {
        return Some((
            Msg::new("safety.permit.stop.served")
                .arg("number", &s.number)
                .arg_key("stage", format!("safety.stage.{}", s.stage.id())),
            false,
        ));
    }
    None
}

/// Whether a working permit watches `tag` with a gas detector.
pub fn watching(r: &impl Reader, tag: &str) -> Result<bool> {
    Ok(r.all(&PERMITS)?.iter().any(|(_, p)| {
        p.stage == Stage::Working && p.details.monitor_tags().iter().any(|t| t == tag)
    }))
}

/// Stops the work of every permit that must stop now (see `stop_reason`): suspended,
/// signed by the box with the reason, the guardian and the safety department told. Run
/// every minute and whenever an alarm is raised. Returns the permits stopped.
pub fn enforce(store: &Store, site: &dyn Site, now_ms: i64) -> Result<Vec<Permit>> {
    let mut out: Vec<Permit> = Vec::new();
    // a stop can stop another (a vessel's permit, then the hot work inside it): go on
    // until nothing more stops
    loop {
        let stopped = enforce_once(store, site, now_ms)?;
        if stopped.is_empty() {
            return Ok(out);
        }
        out.extend(stopped);
    }
}

fn enforce_once(store: &Store, site: &dyn Site, now_ms: i64) -> Result<Vec<Permit>> {
    let all: HashMap<u64, Permit> = store.read()?.all(&PERMITS)?.into_iter().collect();
    let due: Vec<u64> = all
        .values()
        .filter(|p| p.stage == Stage::Working && stop_reason(p, &all, site, now_ms).is_some())
        .map(|p| p.id)
        .collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let system = Signer::system();
    let mut w = store.write(&system.actor())?;
    let mut out = Vec::new();
    for id in due {
        let before = permit(&w, id)?;
        if before.stage != Stage::Working {
            continue;
        }
        let Some((why, retest)) = stop_reason(&before, &all, site, now_ms) else {
            continue;
        };
        let mut p = before.clone();
        stop(&mut p, now_ms, retest);
        sign(
            &mut p,
            &system,
            Action::Suspend,
            None,
            &why.bilingual(),
            now_ms,
        );
        p.updated_ms = now_ms;
        let notice = |lang| {
            Msg::new("safety.permit.notice.stopped")
                .arg("number", &p.number)
                .arg("location", &p.location)
                .arg("reason", why.render(lang))
                .render(lang)
        };
        let text = crate::alarms::model::Text {
            zh: notice(Lang::ZhCn),
            en: notice(Lang::En),
        };
        notify_stop(&mut w, &p, &text, now_ms)?;
        w.insert(&PERMITS, &id, &p)?;
        w.audit(
            "safety.permit.suspend",
            format!("permit:{} {}", p.id, p.number),
            Change::updated(
                summary_of(&before),
                format!("{} ({})", summary_of(&p), why.render(Lang::En)),
            ),
        );
        out.push(p);
    }
    w.commit()?;
    Ok(out)
}

// ------------------------------------------------------------------ alarms

/// What the alarm check found for one permit.
#[derive(Debug, Clone, PartialEq)]
pub enum Due {
    /// Past its planned end and not closed (on site: the work was stopped and must not go on).
    Expired { on_site: bool },
    /// A confined space (or deep excavation in a hazardous area) at work with no reading in
    /// the last 2 hours.
    ReadingDue { minutes: i64 },
    /// With work on site, a failing gas analysis stands (people must leave).
    GasFailed {
        point: String,
        findings_zh: String,
        findings_en: String,
    },
}

/// Permits with work going on (or paused) at the site now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OnSite {
    pub all: usize,
    /// 特级 hot work (GB 30871-2022 §5.2: the highest-risk work a plant does).
    pub special_hot_work: usize,
    pub confined_space: usize,
}

pub fn on_site(r: &impl Reader) -> Result<OnSite> {
    let mut n = OnSite::default();
    for (_, p) in r.all(&PERMITS)? {
        if !p.stage.on_site() {
            continue;
        }
        n.all += 1;
        match p.work() {
            WorkType::HotWork if p.level.as_deref() == Some("special") => n.special_hot_work += 1,
            WorkType::ConfinedSpace => n.confined_space += 1,
            _ => {}
        }
    }
    Ok(n)
}

/// The permits that need an alarm now.
pub fn due(r: &impl Reader, now_ms: i64) -> Result<Vec<(Permit, Due)>> {
    let mut out = Vec::new();
    for (_, p) in r.all(&PERMITS)? {
        if p.stage.is_final() || p.stage == Stage::Draft {
            continue;
        }
        if p.stage.on_site()
            && let Some(g) = standing_failures(&p).last()
        {
            let d = Due::GasFailed {
                point: g.point.clone(),
                findings_zh: findings_text(&g.failures, Lang::ZhCn),
                findings_en: findings_text(&g.failures, Lang::En),
            };
            out.push((p.clone(), d));
        }
        if now_ms >= p.to_ms {
            let on_site = p.stage.on_site();
            out.push((p, Due::Expired { on_site }));
            continue;
        }
        if p.stage == Stage::Working && p.details.enclosed() {
            let last = p
                .last_gas()
                .map(|g| g.sampled_ms)
                .or(p.started_ms)
                .unwrap_or(now_ms);
            let every = rules::ENCLOSED_READINGS.whole_milliseconds() as i64;
            if now_ms - last > every {
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

// ------------------------------------------------------------------ migrations

/// Schema 2: a confined-space permit's single toxic gas (`toxic_name`, `toxic_limit`) and
/// each analysis's `toxic_value` become lists (`toxics`), so a space is tested for every
/// gas it may hold.
pub(crate) fn migrate_toxic_lists(w: &mut WriteTx) -> crate::store::Result<()> {
    use ciborium::Value;
    const RAW: crate::store::Table<u64, Value> = crate::store::Table::new("safety.permits");
    fn take(m: &mut Vec<(Value, Value)>, key: &str) -> Option<Value> {
        let i = m.iter().position(|(k, _)| k.as_text() == Some(key))?;
        Some(m.remove(i).1)
    }
    fn num(v: &Value) -> Option<f64> {
        match v {
            Value::Float(f) => Some(*f),
            Value::Integer(i) => i128::from(*i).to_string().parse().ok(),
            _ => None,
        }
    }
    let text = |s: &str| Value::Text(s.to_string());
    for (id, mut v) in w.all(&RAW)? {
        let Value::Map(permit) = &mut v else { continue };
        let mut name = None;
        let mut changed = false;
        if let Some((_, Value::Map(details))) = permit
            .iter_mut()
            .find(|(k, _)| k.as_text() == Some("details"))
        {
            let (n, l) = (take(details, "toxic_name"), take(details, "toxic_limit"));
            changed |= n.is_some() || l.is_some();
            if let (Some(Value::Text(n)), Some(l)) = (n, l.as_ref().and_then(num))
                && !n.trim().is_empty()
            {
                details.push((
                    text("toxics"),
                    Value::Array(vec![Value::Map(vec![
                        (text("name"), text(n.trim())),
                        (text("limit_mg_m3"), Value::Float(l)),
                    ])]),
                ));
                name = Some(n.trim().to_string());
            }
        }
        if let Some((_, Value::Array(readings))) =
            permit.iter_mut().find(|(k, _)| k.as_text() == Some("gas"))
        {
            for r in readings.iter_mut() {
                let Value::Map(r) = r else { continue };
                let Some(value) = take(r, "toxic_value") else {
                    continue;
                };
                changed = true;
                if let (Some(n), Some(x)) = (&name, num(&value)) {
                    r.push((
                        text("toxics"),
                        Value::Array(vec![Value::Map(vec![
                            (text("name"), text(n)),
                            (text("value"), Value::Float(x)),
                        ])]),
                    ));
                }
            }
        }
        if changed {
            w.insert(&RAW, &id, &v)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

// ------------------------------------------------------------------ video (GB 30871)

/// Work GB 30871 wants on video: 特级 hot work (full video) and confined-space entry.
pub fn needs_video(p: &Permit) -> bool {
    match p.work() {
        WorkType::HotWork => p.level.as_deref() == Some("special"),
        WorkType::ConfinedSpace => true,
        _ => false,
    }
}

/// A permit whose work is to be recorded, and the plant-map zones its location lies in
/// (cameras covering one of them record it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoWork {
    pub id: u64,
    pub number: String,
    pub zones: Vec<u64>,
    pub started_ms: i64,
    /// None while the work goes on (working, suspended, waiting for acceptance).
    pub closed_ms: Option<i64>,
    pub special: bool,
    /// 监护人, told when the work's video breaks.
    pub guardian_id: Option<u64>,
}

fn video_work(
    p: &Permit,
    zones: &[crate::modules::safety::people::model::Zone],
) -> Option<VideoWork> {
    if !needs_video(p) {
        return None;
    }
    let started_ms = p.started_ms?;
    Some(VideoWork {
        id: p.id,
        number: p.number.clone(),
        zones: zones
            .iter()
            .filter(|z| {
                crate::modules::safety::people::tracking::point_in_polygon(&z.polygon, p.x, p.y)
            })
            .map(|z| z.id)
            .collect(),
        started_ms,
        closed_ms: match p.stage {
            Stage::Working | Stage::Suspended | Stage::Acceptance => None,
            _ => Some(p.closed_ms.unwrap_or(p.updated_ms)),
        },
        special: p.work() == WorkType::HotWork,
        guardian_id: p.guardian_id,
    })
}

/// The plant-map zones a permit's location lies in.
pub fn location_zones(r: &impl Reader, p: &Permit) -> Result<Vec<u64>> {
    Ok(crate::modules::safety::people::service::zones(r)?
        .iter()
        .filter(|z| {
            crate::modules::safety::people::tracking::point_in_polygon(&z.polygon, p.x, p.y)
        })
        .map(|z| z.id)
        .collect())
}

/// The permits at work now that need video.
pub fn at_work_needing_video(r: &impl Reader) -> Result<Vec<VideoWork>> {
    let zones = crate::modules::safety::people::service::zones(r)?;
    Ok(r.all(&PERMITS)?
        .iter()
        .filter(|(_, p)| {
            matches!(
                p.stage,
                Stage::Working | Stage::Suspended | Stage::Acceptance
            )
        })
        .filter_map(|(_, p)| video_work(p, &zones))
        .collect())
}

/// The zones of 特级 hot-work permits approved and waiting for their start: their cameras
/// are pulled beforehand, so the start finds them streaming.
pub fn special_awaiting_start_zones(r: &impl Reader) -> Result<Vec<u64>> {
    let zones = crate::modules::safety::people::service::zones(r)?;
    let mut out = Vec::new();
    for (_, p) in r.all(&PERMITS)? {
        if p.stage == Stage::Briefing
            && p.work() == WorkType::HotWork
            && p.level.as_deref() == Some("special")
        {
            out.extend(
                zones
                    .iter()
                    .filter(|z| {
                        crate::modules::safety::people::tracking::point_in_polygon(
                            &z.polygon, p.x, p.y,
                        )
                    })
                    .map(|z| z.id),
            );
        }
    }
    Ok(out)
}

/// One permit's video work (its span and zones), if it needs video and has started.
pub fn permit_video_work(r: &impl Reader, id: u64) -> Result<Option<VideoWork>> {
    let zones = crate::modules::safety::people::service::zones(r)?;
    Ok(video_work(&permit(r, id)?, &zones))
}

/// 特级 hot-work permits whose work started since `since_ms`, for the compliance page.
pub fn special_hot_work_since(r: &impl Reader, since_ms: i64) -> Result<Vec<VideoWork>> {
    let zones = crate::modules::safety::people::service::zones(r)?;
    let mut out: Vec<VideoWork> = r
        .all(&PERMITS)?
        .iter()
        .filter_map(|(_, p)| video_work(p, &zones))
        .filter(|v| v.special && v.started_ms >= since_ms)
        .collect();
    out.sort_by_key(|v| std::cmp::Reverse(v.started_ms));
    Ok(out)
}
