//! The rules of GB 30871-2022 (special work permits) that a permit must pass, as pure
//! functions: levels (hot work upgraded for work windows on days off or at night and for
//! outdoor work in strong wind; height and lifting by their bands), validity limits, gas
//! analysis limits, freshness and failed samples, re-tests after interruptions, wind limits,
//! certificates, and conflicts between jobs nearby. The permit workflow (forms, approval
//! chains, signatures) calls these; every refusal names the rule.
//!
//! Numbers from ../shared/DOMAIN.md (Special work permits). Times are the plant's local time.
//! Where an input a rule needs is unknown, the stricter limit applies.

use serde::{Deserialize, Serialize};
use time::{Duration, PrimitiveDateTime};

pub use super::calendar::Calendar;
use super::calendar::OffHours;

/// The eight special works (八大特殊作业).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkType {
    /// 动火
    HotWork,
    /// 受限空间
    ConfinedSpace,
    /// 盲板抽堵
    Blinding,
    /// 高处
    Height,
    /// 吊装
    Lifting,
    /// 临时用电
    TemporaryPower,
    /// 动土
    Excavation,
    /// 断路
    RoadBreak,
}

/// Hot-work levels, from the least to the most dangerous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HotLevel {
    /// 二级
    Second,
    /// 一级
    First,
    /// 特级
    Special,
}

/// Work-at-height levels I–IV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeightLevel {
    I,
    II,
    III,
    IV,
}

/// Lifting levels by load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiftLevel {
    /// 三级, < 40 t
    Third,
    /// 二级, 40–100 t
    Second,
    /// 一级, > 100 t
    First,
}

/// 动火方式: decides whether the workers need a welding and thermal-cutting certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HotMethod {
    /// 电焊、气焊
    Welding,
    /// 气割、切割
    Cutting,
    /// 砂轮、打磨
    Grinding,
    /// 喷灯、电钻等其他可能产生火焰、火花和炽热表面的作业
    Other,
}

impl HotMethod {
    pub const ALL: [HotMethod; 4] = [
        HotMethod::Welding,
        HotMethod::Cutting,
        HotMethod::Grinding,
        HotMethod::Other,
    ];
    pub fn id(self) -> &'static str {
        match self {
            HotMethod::Welding => "welding",
            HotMethod::Cutting => "cutting",
            HotMethod::Grinding => "grinding",
            HotMethod::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<HotMethod> {
        HotMethod::ALL.into_iter().find(|m| m.id() == s)
    }
}

/// Work near hot work that GB 30871 keeps at a distance (动火点周边作业).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// 排放可燃气体: none within 30 m of hot work.
    VentCombustible,
    /// 排放可燃液体: none within 15 m.
    DischargeLiquid,
    /// 可燃溶剂清洗或喷漆: none within 10 m.
    SolventPainting,
}

impl Activity {
    pub const ALL: [Activity; 3] = [
        Activity::VentCombustible,
        Activity::DischargeLiquid,
        Activity::SolventPainting,
    ];
    pub fn id(self) -> &'static str {
        match self {
            Activity::VentCombustible => "vent_combustible",
            Activity::DischargeLiquid => "discharge_liquid",
            Activity::SolventPainting => "solvent_painting",
        }
    }
    pub fn parse(s: &str) -> Option<Activity> {
        Activity::ALL.into_iter().find(|a| a.id() == s)
    }
    /// The least distance to hot work, metres (the boundary itself is too near).
    pub fn distance(self) -> f64 {
        match self {
            Activity::VentCombustible => 30.0,
            Activity::DischargeLiquid => 15.0,
            Activity::SolventPainting => 10.0,
        }
    }
}

/// A broken rule: a stable code (`safety.rule.<code>` in the catalogues) and the numbers it
/// was checked with, for the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

/// Every rule code with its catalogue key.
const RULES: &[(&str, &str)] = &[
    ("period", "safety.rule.period"),
    ("validity", "safety.rule.validity"),
    ("window", "safety.rule.window"),
    ("combustible", "safety.rule.combustible"),
    ("oxygen_high", "safety.rule.oxygen_high"),
    ("oxygen_range", "safety.rule.oxygen_range"),
    ("toxic", "safety.rule.toxic"),
    ("value_missing", "safety.rule.value_missing"),
    ("sample_age", "safety.rule.sample_age"),
    ("wind", "safety.rule.wind"),
    ("wind_hot", "safety.rule.wind_hot"),
    ("wind_hot_special", "safety.rule.wind_hot_special"),
    ("hot_near_blinding", "safety.rule.hot_near_blinding"),
    (
        "hot_near_vent_combustible",
        "safety.rule.hot_near_vent_combustible",
    ),
    (
        "hot_near_discharge_liquid",
        "safety.rule.hot_near_discharge_liquid",
    ),
    (
        "hot_near_solvent_painting",
        "safety.rule.hot_near_solvent_painting",
    ),
    ("two_blindings", "safety.rule.two_blindings"),
    (
        "painting_with_hot_work",
        "safety.rule.painting_with_hot_work",
    ),
];

impl Breach {
    fn new(code: &'static str) -> Breach {
        debug_assert!(RULES.iter().any(|(c, _)| *c == code), "unknown rule {code}");
        Breach {
            code,
            args: Vec::new(),
        }
    }
    fn arg(mut self, name: &'static str, v: impl ToString) -> Breach {
        self.args.push((name, v.to_string()));
        self
    }

    /// The catalogue message naming the rule and its numbers.
    pub fn msg(&self) -> crate::i18n::Msg {
        let key = RULES
            .iter()
            .find(|(c, _)| *c == self.code)
            .map(|(_, k)| *k)
            .unwrap_or("safety.rule.period");
        self.args
            .iter()
            .fold(crate::i18n::Msg::new(key), |m, (k, v)| m.arg(k, v))
    }
}

/// A span of plant time (a permit's period or one of its work windows).
pub type Span = (PrimitiveDateTime, PrimitiveDateTime);

fn minute(t: PrimitiveDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(&f).unwrap_or_default()
}

/// Why a permit carries a higher level than the one assessed, as the permit shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Upgrade {
    /// A work window reaches into the night, from this minute (`YYYY-MM-DD HH:MM`).
    Night { at: String },
    /// A work window falls on a weekend not worked, or a holiday.
    DayOff { date: String, holiday: bool },
    /// Outdoor hot work in wind of force 5 or more, allowed with the special approval.
    Wind { force: u8 },
    /// Work at height with objective hazard factors named on the form.
    HazardFactors,
}

/// A level and the reasons it is above the assessed one.
#[derive(Debug, Clone, PartialEq)]
pub struct Level<L> {
    pub level: L,
    pub upgrades: Vec<Upgrade>,
}

/// The night and day-off reasons found in the work windows (the first of each kind).
fn calendar_upgrades(windows: &[Span], cal: &Calendar, day_off: bool) -> Vec<Upgrade> {
    let mut night = None;
    let mut off = None;
    for (from, to) in windows {
        for o in cal.off_hours(*from, *to) {
            match o {
                OffHours::Night(t) if night.is_none() => {
                    night = Some(Upgrade::Night { at: minute(t) })
                }
                OffHours::DayOff(d, holiday) if off.is_none() && day_off => {
                    off = Some(Upgrade::DayOff {
                        date: d.to_string(),
                        holiday,
                    })
                }
                _ => {}
            }
        }
    }
    off.into_iter().chain(night).collect()
}

/// Wind as far as hot work goes: outdoors, the forecast force, and whether the permit
/// carries the special approval that lets outdoor hot work go on from force 5.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotWind {
    pub outdoor: bool,
    pub force: u8,
    pub special_approval: bool,
}

/// The hot-work level the permit must carry: the assessed level, one up (to 特级) when a
/// work window touches a day off or the night, or for outdoor work in wind of force 5 or
/// more. Outdoor hot work from force 5 is forbidden unless specially approved (因生产确需动火),
/// and then upgraded; a 特级 job cannot be upgraded further, so it is refused.
pub fn hot_level(
    assessed: HotLevel,
    windows: &[Span],
    wind: HotWind,
    cal: &Calendar,
) -> Result<Level<HotLevel>, Breach> {
    let mut upgrades = calendar_upgrades(windows, cal, true);
    if wind.outdoor && wind.force >= 5 {
        if !wind.special_approval {
            return Err(Breach::new("wind_hot").arg("force", wind.force));
        }
        if assessed == HotLevel::Special {
            return Err(Breach::new("wind_hot_special").arg("force", wind.force));
        }
        upgrades.push(Upgrade::Wind { force: wind.force });
    }
    let level = match (upgrades.is_empty(), assessed) {
        (true, l) => l,
        (false, HotLevel::Second) => HotLevel::First,
        (false, _) => HotLevel::Special,
    };
    Ok(Level { level, upgrades })
}

/// The height level by working height (2–5, 5–15, 15–30, > 30 m), one up (to IV) where
/// objective hazard factors exist; night (a work window in the calendar's night hours) is
/// one of them. Below 2 m it is not work at height.
pub fn height_level(
    height_m: f64,
    hazard_factors: bool,
    windows: &[Span],
    cal: &Calendar,
) -> Option<Level<HeightLevel>> {
    if !height_m.is_finite() || height_m < 2.0 {
        return None;
    }
    let base = if height_m <= 5.0 {
        HeightLevel::I
    } else if height_m <= 15.0 {
        HeightLevel::II
    } else if height_m <= 30.0 {
        HeightLevel::III
    } else {
        HeightLevel::IV
    };
    let mut upgrades = calendar_upgrades(windows, cal, false);
    if hazard_factors {
        upgrades.push(Upgrade::HazardFactors);
    }
    let level = match (upgrades.is_empty(), base) {
        (true, l) => l,
        (false, HeightLevel::I) => HeightLevel::II,
        (false, HeightLevel::II) => HeightLevel::III,
        (false, _) => HeightLevel::IV,
    };
    Some(Level { level, upgrades })
}

/// The lifting level by load in tonnes.
pub fn lift_level(tonnes: f64) -> LiftLevel {
    if tonnes > 100.0 {
        LiftLevel::First
    } else if tonnes >= 40.0 {
        LiftLevel::Second
    } else {
        LiftLevel::Third
    }
}

/// The longest validity of a permit, if the standard sets one: hot work 8 h (特级, 一级) or
/// 72 h (二级); confined space 24 h, and so excavation deeper than 1.2 m in a hazardous area
/// (`as_confined`); height 7 days; temporary power 15 days, or the validity of the hot work
/// or confined-space permit it serves, never over 30 days.
pub fn max_validity(
    work: WorkType,
    hot: Option<HotLevel>,
    serves: Option<Duration>,
    as_confined: bool,
) -> Option<Duration> {
    match work {
        WorkType::HotWork => Some(match hot.unwrap_or(HotLevel::Special) {
            HotLevel::Second => Duration::hours(72),
            _ => Duration::hours(8),
        }),
        WorkType::ConfinedSpace => Some(Duration::hours(24)),
        WorkType::Excavation if as_confined => Some(Duration::hours(24)),
        WorkType::Height => Some(Duration::days(7)),
        WorkType::TemporaryPower => {
            Some(serves.unwrap_or(Duration::days(15)).min(Duration::days(30)))
        }
        _ => None,
    }
}

/// A permit's planned period against its limit.
pub fn check_validity(
    work: WorkType,
    hot: Option<HotLevel>,
    serves: Option<Duration>,
    as_confined: bool,
    (from, to): Span,
) -> Result<(), Breach> {
    if to <= from {
        return Err(Breach::new("period"));
    }
    match max_validity(work, hot, serves, as_confined) {
        Some(max) if to - from > max => Err(Breach::new("validity")
            .arg(
                "hours",
                format!("{:.1}", (to - from).whole_minutes() as f64 / 60.0),
            )
            .arg("max_hours", max.whole_hours())),
        _ => Ok(()),
    }
}

/// Work windows lie inside the permit's period, each with its end after its start, in
/// order and without overlapping.
pub fn check_windows((from, to): Span, windows: &[Span]) -> Result<(), Breach> {
    let mut prev_end: Option<PrimitiveDateTime> = None;
    for (a, b) in windows {
        let bad = || Breach::new("window").arg("window", format!("{}–{}", minute(*a), minute(*b)));
        if b <= a || *a < from || *b > to || prev_end.is_some_and(|e| *a < e) {
            return Err(bad());
        }
        prev_end = Some(*b);
    }
    Ok(())
}

/// The combustible-gas limit, % vol: 0.5 where the gas's lower explosive limit is 4 % or
/// more, else 0.2; an unknown LEL takes the stricter 0.2.
pub fn combustible_limit(lel_pct: Option<f64>) -> f64 {
    match lel_pct {
        Some(l) if l >= 4.0 => 0.5,
        _ => 0.2,
    }
}

/// Which oxygen limits a gas analysis is held to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OxygenRule {
    /// Not checked (hot work in the open, not in oxygen service).
    Unchecked,
    /// Oxygen service: at most 23.5 % vol.
    OxygenService,
    /// Confined spaces (and what follows their rules): 19.5–21 % vol, up to 23.5 % where
    /// oxygen-enriched air is used.
    Enclosed { enriched: bool },
}

/// What a gas analysis is held to: the medium's LEL, the oxygen rule, and each toxic gas
/// with its occupational limit (GBZ 2.1, mg/m³).
#[derive(Debug, Clone, PartialEq)]
pub struct GasLimits {
    pub lel_pct: Option<f64>,
    pub oxygen: OxygenRule,
    pub toxics: Vec<(String, f64)>,
}

/// The values of one analysis (toxic gases by name, mg/m³).
#[derive(Debug, Clone, PartialEq)]
pub struct GasValues {
    pub combustible_pct: Option<f64>,
    pub o2_pct: Option<f64>,
    pub toxics: Vec<(String, f64)>,
}

/// Every limit a gas analysis breaks, with the field it concerns; empty when it passes. A
/// value the limits need but the analysis lacks counts as failing.
pub fn judge_gas(l: &GasLimits, v: &GasValues) -> Vec<(&'static str, Breach)> {
    let mut out = Vec::new();
    let limit = combustible_limit(l.lel_pct);
    match v.combustible_pct {
        Some(c) if c.is_finite() && c <= limit => {}
        Some(c) => out.push((
            "combustible_pct",
            Breach::new("combustible")
                .arg("value", c)
                .arg("limit", limit),
        )),
        None => out.push((
            "combustible_pct",
            Breach::new("value_missing").arg("name", "combustible"),
        )),
    }
    let o2 = |hi: f64, lo: Option<f64>| match v.o2_pct {
        None => Some(Breach::new("value_missing").arg("name", "O2")),
        Some(o) if !o.is_finite() || o > hi || lo.is_some_and(|lo| o < lo) => Some(match lo {
            Some(lo) => Breach::new("oxygen_range")
                .arg("value", o)
                .arg("lo", lo)
                .arg("hi", hi),
            None => Breach::new("oxygen_high").arg("value", o).arg("limit", hi),
        }),
        Some(_) => None,
    };
    let oxygen = match l.oxygen {
        OxygenRule::Unchecked => None,
        OxygenRule::OxygenService => o2(23.5, None),
        OxygenRule::Enclosed { enriched } => o2(if enriched { 23.5 } else { 21.0 }, Some(19.5)),
    };
    if let Some(b) = oxygen {
        out.push(("o2_pct", b));
    }
    for (name, limit) in &l.toxics {
        match v.toxics.iter().find(|(n, _)| n == name).map(|(_, x)| *x) {
            Some(x) if x.is_finite() && x <= *limit => {}
            Some(x) => out.push((
                "toxics",
                Breach::new("toxic")
                    .arg("name", name)
                    .arg("value", x)
                    .arg("limit", limit),
            )),
            None => out.push(("toxics", Breach::new("value_missing").arg("name", name))),
        }
    }
    out
}

/// A sample counts only if taken at most 30 minutes before the work starts (and not after).
pub fn check_sample_age(
    sampled: PrimitiveDateTime,
    start: PrimitiveDateTime,
) -> Result<(), Breach> {
    let age = start - sampled;
    if age.is_negative() || age > Duration::minutes(30) {
        return Err(Breach::new("sample_age").arg("minutes", age.whole_minutes()));
    }
    Ok(())
}

/// One recorded gas analysis as far as failures go: when, where, whether it passed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampled<'a> {
    pub at_ms: i64,
    pub point: &'a str,
    pub pass: bool,
}

/// The failing analyses still standing: a failure at a sampling point is cleared only by a
/// later passing analysis at the same point (names compared without case and spaces):
/// recorded after it and sampled no earlier. Samples are in the order they were recorded.
pub fn open_failures(samples: &[Sampled]) -> Vec<usize> {
    let norm = |p: &str| p.trim().to_lowercase().replace(' ', "");
    samples
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.pass)
        .filter(|(i, f)| {
            // cleared by a pass sampled no earlier and recorded later: a failing result
            // that comes in late (sampled before the last pass) still stands
            !samples.iter().enumerate().any(|(j, s)| {
                s.pass && j > *i && s.at_ms >= f.at_ms && norm(s.point) == norm(f.point)
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// After an interruption this long, the gas must be tested again before work resumes: hot
/// work 30 min (特级, 一级) or 60 min (二级); confined space, and what follows its rules,
/// 60 min.
pub fn retest_after(work: WorkType, hot: Option<HotLevel>, as_confined: bool) -> Option<Duration> {
    match work {
        WorkType::HotWork => Some(match hot.unwrap_or(HotLevel::Special) {
            HotLevel::Second => Duration::minutes(60),
            _ => Duration::minutes(30),
        }),
        WorkType::ConfinedSpace => Some(Duration::minutes(60)),
        _ if as_confined => Some(Duration::minutes(60)),
        _ => None,
    }
}

/// Hot work is analysed again every day it goes on: a passing analysis older than this
/// stops the work until a new one.
pub const HOT_REANALYSIS: Duration = Duration::hours(24);

/// Confined spaces (and what follows their rules) are analysed at least this often while
/// people are inside.
pub const ENCLOSED_READINGS: Duration = Duration::hours(2);

/// Wind limits: no work at height in force 5 or more, no outdoor lifting in force 6 or more.
pub fn check_wind(work: WorkType, outdoor: bool, wind_force: u8) -> Result<(), Breach> {
    let limit = match work {
        WorkType::Height => 5,
        WorkType::Lifting if outdoor => 6,
        _ => return Ok(()),
    };
    if wind_force >= limit {
        return Err(Breach::new("wind")
            .arg("force", wind_force)
            .arg("limit", limit));
    }
    Ok(())
}

/// Whether the workers of a job must hold a special-operation certificate: welders and
/// cutters (焊接与热切割作业), electricians on temporary power (电工作业), crane operators and
/// riggers (起重机械作业). Hot work whose method is not known counts as welding.
pub fn needs_certificates(work: WorkType, method: Option<HotMethod>) -> bool {
    match work {
        WorkType::HotWork => matches!(
            method,
            None | Some(HotMethod::Welding) | Some(HotMethod::Cutting)
        ),
        WorkType::TemporaryPower | WorkType::Lifting => true,
        _ => false,
    }
}

/// A job in progress or planned, as far as conflicts go.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: u64,
    pub work: WorkType,
    /// Position on the plant map, metres.
    pub x: f64,
    pub y: f64,
    /// Blinding: the line (pipe) it opens or closes.
    pub line: Option<String>,
    /// Confined space: the vessel; painting inside it.
    pub space: Option<String>,
    pub painting: bool,
    /// Work it involves that must keep away from hot work.
    pub activities: Vec<Activity>,
    pub from: PrimitiveDateTime,
    pub to: PrimitiveDateTime,
}

impl Job {
    fn overlaps(&self, o: &Job) -> bool {
        self.from < o.to && o.from < self.to
    }
    fn distance(&self, o: &Job) -> f64 {
        ((self.x - o.x).powi(2) + (self.y - o.y).powi(2)).sqrt()
    }
}

/// Two names of a line or a space are the same regardless of case and spaces.
fn same_name(a: &Option<String>, b: &Option<String>) -> bool {
    let norm = |s: &str| s.to_lowercase().replace(char::is_whitespace, "");
    matches!((a, b), (Some(a), Some(b)) if norm(a) == norm(b))
}

/// What `other` does too near the hot work `hot`, `d` metres away (boundaries included).
fn near_hot_work(other: &Job, d: f64) -> Option<Breach> {
    if other.work == WorkType::Blinding && d <= 30.0 {
        return Some(Breach::new("hot_near_blinding").arg("metres", format!("{d:.0}")));
    }
    let painting = other.painting.then_some(Activity::SolventPainting);
    other
        .activities
        .iter()
        .copied()
        .chain(painting)
        .find(|a| d <= a.distance())
        .map(|a| {
            let code = match a {
                Activity::VentCombustible => "hot_near_vent_combustible",
                Activity::DischargeLiquid => "hot_near_discharge_liquid",
                Activity::SolventPainting => "hot_near_solvent_painting",
            };
            Breach::new(code)
                .arg("metres", format!("{d:.0}"))
                .arg("limit", a.distance())
        })
}

/// The conflicts a new job has with jobs at the same time: hot work within 30 m of
/// blinding or combustible venting, 15 m of liquid discharge, 10 m of solvent cleaning or
/// painting (each boundary included); two blinding jobs on one line; painting in a confined
/// space with hot work in it.
pub fn conflicts(new: &Job, others: &[Job]) -> Vec<(u64, Breach)> {
    let mut out = Vec::new();
    for o in others.iter().filter(|o| o.id != new.id && new.overlaps(o)) {
        let d = new.distance(o);
        let breach = match (new.work, o.work) {
            (WorkType::Blinding, WorkType::Blinding) if same_name(&new.line, &o.line) => {
                Some(Breach::new("two_blindings").arg("line", new.line.clone().unwrap_or_default()))
            }
            (WorkType::HotWork, WorkType::ConfinedSpace)
            | (WorkType::ConfinedSpace, WorkType::HotWork)
                if (new.painting || o.painting) && same_name(&new.space, &o.space) =>
            {
                Some(
                    Breach::new("painting_with_hot_work")
                        .arg("space", new.space.clone().unwrap_or_default()),
                )
            }
            // each hot job keeps the other's venting, discharge and painting away
            (WorkType::HotWork, WorkType::HotWork) => {
                near_hot_work(o, d).or_else(|| near_hot_work(new, d))
            }
            (WorkType::HotWork, _) => near_hot_work(o, d),
            (_, WorkType::HotWork) => near_hot_work(new, d),
            _ => None,
        };
        if let Some(b) = breach {
            out.push((o.id, b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn cal() -> Calendar {
        Calendar::shipped()
    }

    fn calm() -> HotWind {
        HotWind {
            outdoor: true,
            force: 3,
            special_approval: false,
        }
    }

    #[test]
    fn hot_work_is_upgraded_by_its_work_windows() {
        let c = cal();
        // a Tuesday, day shift: as assessed
        let day = [(datetime!(2026-11-24 9:00), datetime!(2026-11-24 16:00))];
        let l = hot_level(HotLevel::Second, &day, calm(), &c).unwrap();
        assert_eq!((l.level, l.upgrades.len()), (HotLevel::Second, 0));
        // ending at 20:00 sharp does not touch the night; 20:01 does, and says from when
        let eight = [(datetime!(2026-11-24 9:00), datetime!(2026-11-24 20:00))];
        assert_eq!(
            hot_level(HotLevel::Second, &eight, calm(), &c)
                .unwrap()
                .level,
            HotLevel::Second
        );
        let late = [(datetime!(2026-11-24 9:00), datetime!(2026-11-24 20:01))];
        let l = hot_level(HotLevel::Second, &late, calm(), &c).unwrap();
        assert_eq!(l.level, HotLevel::First);
        assert_eq!(
            l.upgrades,
            vec![Upgrade::Night {
                at: "2026-11-24 20:00".into()
            }]
        );
        // three day shifts Tuesday to Thursday: a 72-hour 二级 permit stays 二级
        let shifts = [
            (datetime!(2026-11-24 8:00), datetime!(2026-11-24 17:00)),
            (datetime!(2026-11-25 8:00), datetime!(2026-11-25 17:00)),
            (datetime!(2026-11-26 8:00), datetime!(2026-11-26 17:00)),
        ];
        assert_eq!(
            hot_level(HotLevel::Second, &shifts, calm(), &c)
                .unwrap()
                .level,
            HotLevel::Second
        );
        assert!(
            check_validity(
                WorkType::HotWork,
                Some(HotLevel::Second),
                None,
                false,
                (datetime!(2026-11-24 8:00), datetime!(2026-11-27 8:00))
            )
            .is_ok()
        );
        // the same span as one window crosses two nights: 一级, and then 8 h at most
        let whole = [(datetime!(2026-11-24 8:00), datetime!(2026-11-27 8:00))];
        assert_eq!(
            hot_level(HotLevel::Second, &whole, calm(), &c)
                .unwrap()
                .level,
            HotLevel::First
        );
        // a Saturday, National Day (a holiday), the adjusted working Saturday 10 October
        let sat = [(datetime!(2026-11-28 9:00), datetime!(2026-11-28 11:00))];
        let l = hot_level(HotLevel::First, &sat, calm(), &c).unwrap();
        assert_eq!(l.level, HotLevel::Special);
        assert_eq!(
            l.upgrades,
            vec![Upgrade::DayOff {
                date: "2026-11-28".into(),
                holiday: false
            }]
        );
        let nd = [(datetime!(2026-10-01 9:00), datetime!(2026-10-01 11:00))];
        assert!(matches!(
            hot_level(HotLevel::Second, &nd, calm(), &c)
                .unwrap()
                .upgrades[0],
            Upgrade::DayOff { holiday: true, .. }
        ));
        let worked = [(datetime!(2026-10-10 9:00), datetime!(2026-10-10 11:00))];
        assert_eq!(
            hot_level(HotLevel::Second, &worked, calm(), &c)
                .unwrap()
                .level,
            HotLevel::Second
        );
        // 特级 stays 特级 at night
        assert_eq!(
            hot_level(HotLevel::Special, &late, calm(), &c)
                .unwrap()
                .level,
            HotLevel::Special
        );
    }

    #[test]
    fn outdoor_hot_work_in_wind_needs_the_special_approval_and_is_upgraded() {
        let c = cal();
        let day = [(datetime!(2026-11-24 9:00), datetime!(2026-11-24 16:00))];
        let wind = |outdoor, force, special_approval| HotWind {
            outdoor,
            force,
            special_approval,
        };
        // force 4: as assessed
        assert_eq!(
            hot_level(HotLevel::Second, &day, wind(true, 4, false), &c)
                .unwrap()
                .level,
            HotLevel::Second
        );
        // force 5 outdoors: refused without the approval
        let e = hot_level(HotLevel::Second, &day, wind(true, 5, false), &c).unwrap_err();
        assert_eq!(e.code, "wind_hot");
        // with it: one level up, the reason shown
        let l = hot_level(HotLevel::First, &day, wind(true, 5, true), &c).unwrap();
        assert_eq!(l.level, HotLevel::Special);
        assert_eq!(l.upgrades, vec![Upgrade::Wind { force: 5 }]);
        // 特级 at force 8 cannot be upgraded: refused even with the approval
        let e = hot_level(HotLevel::Special, &day, wind(true, 8, true), &c).unwrap_err();
        assert_eq!(e.code, "wind_hot_special");
        // indoors (inside a building or vessel) the wind does not count
        assert_eq!(
            hot_level(HotLevel::Special, &day, wind(false, 8, false), &c)
                .unwrap()
                .level,
            HotLevel::Special
        );
        // night and wind together: still one level up
        let late = [(datetime!(2026-11-24 19:00), datetime!(2026-11-24 22:00))];
        let l = hot_level(HotLevel::Second, &late, wind(true, 6, true), &c).unwrap();
        assert_eq!((l.level, l.upgrades.len()), (HotLevel::First, 2));
    }

    #[test]
    fn height_levels_take_night_from_the_calendar() {
        let c = cal();
        let day = [(datetime!(2026-11-24 9:00), datetime!(2026-11-24 16:00))];
        let night = [(datetime!(2026-11-24 19:00), datetime!(2026-11-24 21:00))];
        let lvl = |h, f, w: &[Span]| height_level(h, f, w, &c).map(|l| l.level);
        assert_eq!(lvl(1.9, false, &day), None);
        assert_eq!(lvl(2.0, false, &day), Some(HeightLevel::I));
        assert_eq!(lvl(5.0, false, &day), Some(HeightLevel::I));
        assert_eq!(lvl(12.0, false, &day), Some(HeightLevel::II));
        assert_eq!(lvl(12.0, true, &day), Some(HeightLevel::III));
        assert_eq!(lvl(12.0, false, &night), Some(HeightLevel::III));
        assert_eq!(lvl(31.0, true, &night), Some(HeightLevel::IV));
        // a rest day is no hazard factor for height
        let sat = [(datetime!(2026-11-28 9:00), datetime!(2026-11-28 11:00))];
        assert_eq!(lvl(12.0, false, &sat), Some(HeightLevel::II));
        assert_eq!(lift_level(39.9), LiftLevel::Third);
        assert_eq!(lift_level(40.0), LiftLevel::Second);
        assert_eq!(lift_level(100.0), LiftLevel::Second);
        assert_eq!(lift_level(100.5), LiftLevel::First);
    }

    #[test]
    fn validity_limits_and_windows() {
        let a = datetime!(2026-11-24 8:00);
        let h = |n: i64| a + Duration::hours(n);
        let v = |w, hot, serves, confined, to| check_validity(w, hot, serves, confined, (a, to));
        assert!(v(WorkType::HotWork, Some(HotLevel::First), None, false, h(8)).is_ok());
        let e = v(WorkType::HotWork, Some(HotLevel::First), None, false, h(9)).unwrap_err();
        assert_eq!(e.code, "validity");
        assert!(
            v(
                WorkType::HotWork,
                Some(HotLevel::Second),
                None,
                false,
                h(72)
            )
            .is_ok()
        );
        assert!(
            v(
                WorkType::HotWork,
                Some(HotLevel::Second),
                None,
                false,
                h(73)
            )
            .is_err()
        );
        assert!(v(WorkType::ConfinedSpace, None, None, false, h(24)).is_ok());
        assert!(v(WorkType::ConfinedSpace, None, None, false, h(25)).is_err());
        // deep excavation in a hazardous area: 24 h like a confined space
        assert!(v(WorkType::Excavation, None, None, true, h(24)).is_ok());
        assert!(v(WorkType::Excavation, None, None, true, h(25)).is_err());
        assert!(v(WorkType::Excavation, None, None, false, h(24 * 10)).is_ok());
        assert!(v(WorkType::Height, None, None, false, h(24 * 7)).is_ok());
        assert!(v(WorkType::Height, None, None, false, h(24 * 7 + 1)).is_err());
        assert!(v(WorkType::TemporaryPower, None, None, false, h(24 * 15)).is_ok());
        assert!(v(WorkType::TemporaryPower, None, None, false, h(24 * 16)).is_err());
        let serves = Some(Duration::hours(8));
        assert!(v(WorkType::TemporaryPower, None, serves, false, h(9)).is_err());
        assert_eq!(
            v(WorkType::Lifting, None, None, false, a).unwrap_err().code,
            "period"
        );
        // windows inside the period, in order, not overlapping
        let p = (a, h(72));
        assert!(check_windows(p, &[(h(0), h(9)), (h(24), h(33))]).is_ok());
        assert!(check_windows(p, &[(h(0), h(73))]).is_err());
        assert!(check_windows(p, &[(h(-1), h(2))]).is_err());
        assert!(check_windows(p, &[(h(3), h(3))]).is_err());
        assert!(check_windows(p, &[(h(0), h(9)), (h(8), h(10))]).is_err());
        assert_eq!(
            check_windows(p, &[(h(24), h(33)), (h(0), h(9))])
                .unwrap_err()
                .code,
            "window"
        );
    }

    #[test]
    fn gas_limits_at_their_boundaries() {
        let hot = |lel| GasLimits {
            lel_pct: lel,
            oxygen: OxygenRule::Unchecked,
            toxics: vec![],
        };
        let vals = |c| GasValues {
            combustible_pct: Some(c),
            o2_pct: None,
            toxics: vec![],
        };
        let codes = |l: &GasLimits, v: &GasValues| {
            judge_gas(l, v)
                .into_iter()
                .map(|(f, b)| (f, b.code))
                .collect::<Vec<_>>()
        };
        assert!(judge_gas(&hot(Some(4.0)), &vals(0.5)).is_empty());
        assert_eq!(
            codes(&hot(Some(4.0)), &vals(0.51)),
            vec![("combustible_pct", "combustible")]
        );
        assert!(judge_gas(&hot(Some(3.9)), &vals(0.2)).is_empty());
        assert!(!judge_gas(&hot(Some(3.9)), &vals(0.21)).is_empty());
        // an unknown LEL takes the stricter 0.2 % vol
        assert!(judge_gas(&hot(None), &vals(0.2)).is_empty());
        assert!(!judge_gas(&hot(None), &vals(0.3)).is_empty());
        assert!(!judge_gas(&hot(Some(5.0)), &vals(f64::NAN)).is_empty());
        // oxygen service: at most 23.5 %
        let ox = GasLimits {
            oxygen: OxygenRule::OxygenService,
            ..hot(Some(5.0))
        };
        let with_o2 = |o| GasValues {
            o2_pct: Some(o),
            ..vals(0.1)
        };
        assert!(judge_gas(&ox, &with_o2(23.5)).is_empty());
        assert_eq!(codes(&ox, &with_o2(23.6)), vec![("o2_pct", "oxygen_high")]);
        // confined spaces: 19.5–21 %, 23.5 % with enriched air; toxic gases at their limits
        let enclosed = |enriched| GasLimits {
            lel_pct: None,
            oxygen: OxygenRule::Enclosed { enriched },
            toxics: vec![("H2S".into(), 10.0), ("CO".into(), 20.0)],
        };
        let cs = |o, h2s, co: Option<f64>| GasValues {
            combustible_pct: Some(0.1),
            o2_pct: Some(o),
            toxics: [
                Some(("H2S".to_string(), h2s)),
                co.map(|c| ("CO".to_string(), c)),
            ]
            .into_iter()
            .flatten()
            .collect(),
        };
        assert!(judge_gas(&enclosed(false), &cs(19.5, 10.0, Some(20.0))).is_empty());
        assert!(judge_gas(&enclosed(false), &cs(21.0, 0.0, Some(0.0))).is_empty());
        assert_eq!(
            codes(&enclosed(false), &cs(19.4, 0.0, Some(0.0))),
            vec![("o2_pct", "oxygen_range")]
        );
        assert!(!judge_gas(&enclosed(false), &cs(21.1, 0.0, Some(0.0))).is_empty());
        assert!(judge_gas(&enclosed(true), &cs(23.5, 0.0, Some(0.0))).is_empty());
        assert_eq!(
            codes(&enclosed(false), &cs(20.9, 10.1, Some(0.0))),
            vec![("toxics", "toxic")]
        );
        // a toxic gas not measured fails; several failures are all named
        assert_eq!(
            codes(&enclosed(false), &cs(20.9, 0.0, None)),
            vec![("toxics", "value_missing")]
        );
        let mut all_bad = cs(18.0, 50.0, Some(0.0));
        all_bad.combustible_pct = Some(1.0);
        assert_eq!(judge_gas(&enclosed(false), &all_bad).len(), 3);
    }

    #[test]
    fn samples_age_and_failures_stand_until_a_later_pass_at_the_same_point() {
        let start = datetime!(2026-11-24 9:00);
        assert!(check_sample_age(start - Duration::minutes(30), start).is_ok());
        let e = check_sample_age(start - Duration::minutes(31), start).unwrap_err();
        assert_eq!(e.code, "sample_age");
        assert!(check_sample_age(start + Duration::minutes(1), start).is_err());
        let s = |at_ms, point, pass| Sampled { at_ms, point, pass };
        // a failure at the bottom is not cleared by a pass at the top
        let v = [s(1, "罐底", false), s(2, "罐顶", true)];
        assert_eq!(open_failures(&v), vec![0]);
        // a later pass at the same point clears it (spaces and case ignored)
        let v = [s(1, "Manhole A", false), s(2, "manhole a", true)];
        assert!(open_failures(&v).is_empty());
        // an earlier pass does not, nor a pass recorded before a late failing result
        let v = [s(2, "A", false), s(1, "A", true)];
        assert_eq!(open_failures(&v), vec![0]);
        let v = [s(5, "A", true), s(3, "A", false)];
        assert_eq!(open_failures(&v), vec![1]);
        // in the same minute, the one recorded later counts
        assert!(open_failures(&[s(2, "A", false), s(2, "A", true)]).is_empty());
        assert_eq!(open_failures(&[s(2, "A", true), s(2, "A", false)]), vec![1]);
        assert_eq!(
            retest_after(WorkType::HotWork, Some(HotLevel::First), false),
            Some(Duration::minutes(30))
        );
        assert_eq!(
            retest_after(WorkType::HotWork, Some(HotLevel::Second), false),
            Some(Duration::minutes(60))
        );
        assert_eq!(
            retest_after(WorkType::ConfinedSpace, None, false),
            Some(Duration::minutes(60))
        );
        assert_eq!(
            retest_after(WorkType::Excavation, None, true),
            Some(Duration::minutes(60))
        );
        assert_eq!(retest_after(WorkType::Excavation, None, false), None);
        assert_eq!(retest_after(WorkType::Lifting, None, false), None);
    }

    #[test]
    fn wind_limits_and_certificates() {
        assert!(check_wind(WorkType::Height, true, 4).is_ok());
        assert!(check_wind(WorkType::Height, true, 5).is_err());
        assert!(check_wind(WorkType::Lifting, true, 5).is_ok());
        assert!(check_wind(WorkType::Lifting, true, 6).is_err());
        assert!(check_wind(WorkType::Lifting, false, 7).is_ok());
        assert!(needs_certificates(
            WorkType::HotWork,
            Some(HotMethod::Welding)
        ));
        assert!(needs_certificates(
            WorkType::HotWork,
            Some(HotMethod::Cutting)
        ));
        assert!(needs_certificates(WorkType::HotWork, None));
        assert!(!needs_certificates(
            WorkType::HotWork,
            Some(HotMethod::Grinding)
        ));
        assert!(needs_certificates(WorkType::TemporaryPower, None));
        assert!(needs_certificates(WorkType::Lifting, None));
        assert!(!needs_certificates(WorkType::Height, None));
    }

    #[test]
    fn conflicts_between_jobs_include_their_boundaries() {
        let job = |id, work, x: f64, activities: Vec<Activity>| Job {
            id,
            work,
            x,
            y: 0.0,
            line: (work == WorkType::Blinding).then(|| format!("L-{id}")),
            space: None,
            painting: false,
            activities,
            from: datetime!(2026-11-24 8:00),
            to: datetime!(2026-11-24 16:00),
        };
        let hot = job(1, WorkType::HotWork, 0.0, vec![]);
        let codes = |j: &Job, o: Job| {
            conflicts(j, &[o])
                .into_iter()
                .map(|(_, b)| b.code)
                .collect::<Vec<_>>()
        };
        // blinding at exactly 30 m conflicts, at 30.1 m it does not
        assert_eq!(
            codes(&hot, job(2, WorkType::Blinding, 30.0, vec![])),
            vec!["hot_near_blinding"]
        );
        assert!(codes(&hot, job(2, WorkType::Blinding, 30.1, vec![])).is_empty());
        // the other way round too
        assert_eq!(
            codes(&job(2, WorkType::Blinding, 30.0, vec![]), hot.clone()),
            vec!["hot_near_blinding"]
        );
        // venting 30 m, discharging liquid 15 m, solvents or painting 10 m
        let near = |x, a| codes(&hot, job(3, WorkType::Height, x, vec![a]));
        assert_eq!(
            near(30.0, Activity::VentCombustible),
            vec!["hot_near_vent_combustible"]
        );
        assert!(near(30.5, Activity::VentCombustible).is_empty());
        assert_eq!(
            near(15.0, Activity::DischargeLiquid),
            vec!["hot_near_discharge_liquid"]
        );
        assert!(near(15.1, Activity::DischargeLiquid).is_empty());
        assert_eq!(
            near(10.0, Activity::SolventPainting),
            vec!["hot_near_solvent_painting"]
        );
        assert!(near(10.1, Activity::SolventPainting).is_empty());
        // a confined space painted inside counts as painting nearby
        let mut painted = job(4, WorkType::ConfinedSpace, 8.0, vec![]);
        painted.painting = true;
        painted.space = Some("R-102".into());
        assert_eq!(codes(&hot, painted), vec!["hot_near_solvent_painting"]);
        // painting in the vessel the hot work is in
        let mut inside = hot.clone();
        inside.space = Some("R-101".into());
        let mut painting = job(5, WorkType::ConfinedSpace, 200.0, vec![]);
        painting.painting = true;
        painting.space = Some("R-101".into());
        assert_eq!(codes(&painting, inside), vec!["painting_with_hot_work"]);
        // a second blinding on the same line
        let mut b1 = job(6, WorkType::Blinding, 300.0, vec![]);
        let mut b2 = job(7, WorkType::Blinding, 900.0, vec![]);
        b1.line = Some("P-1".into());
        b2.line = Some("P-1".into());
        assert_eq!(codes(&b1, b2.clone()), vec!["two_blindings"]);
        let mut lower = b1.clone();
        lower.line = Some("p-1 ".into());
        assert_eq!(codes(&lower, b2), vec!["two_blindings"]);
        // hot work beside hot work that vents or paints
        let venting_hot = job(8, WorkType::HotWork, 5.0, vec![Activity::VentCombustible]);
        assert_eq!(
            codes(&hot, venting_hot.clone()),
            vec!["hot_near_vent_combustible"]
        );
        assert_eq!(
            codes(&venting_hot, hot.clone()),
            vec!["hot_near_vent_combustible"]
        );
        assert!(codes(&hot, job(9, WorkType::HotWork, 5.0, vec![])).is_empty());
        // not at the same time: no conflict
        let mut later = job(2, WorkType::Blinding, 5.0, vec![]);
        later.from = datetime!(2026-11-24 16:00);
        later.to = datetime!(2026-11-24 18:00);
        assert!(conflicts(&hot, &[later]).is_empty());
    }
}
