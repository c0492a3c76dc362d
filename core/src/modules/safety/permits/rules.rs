//! The rules of GB 30871-2022 (special work permits) that a permit must pass, as pure
//! functions: levels (hot work upgraded on rest days, holidays, at night and in strong wind;
//! height and lifting by their bands), validity limits, gas analysis limits and freshness,
//! re-tests after interruptions, and conflicts between jobs nearby. The permit workflow (forms,
//! approval chains, signatures) calls these; every refusal names the rule.
//!
//! Numbers from ../shared/DOMAIN.md (Special work permits). Times are the plant's local time.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, PrimitiveDateTime, Time, Weekday};

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

/// A broken rule: a stable code (`safety.rule.<code>` in the catalogues) and the numbers it
/// was checked with, for the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Breach {
    fn new(code: &'static str) -> Breach {
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
        let key = match self.code {
            "period" => "safety.rule.period",
            "validity" => "safety.rule.validity",
            "combustible" => "safety.rule.combustible",
            "oxygen_high" => "safety.rule.oxygen_high",
            "oxygen_range" => "safety.rule.oxygen_range",
            "sample_age" => "safety.rule.sample_age",
            "wind" => "safety.rule.wind",
            "hot_near_blinding" => "safety.rule.hot_near_blinding",
            "two_blindings" => "safety.rule.two_blindings",
            _ => "safety.rule.painting_with_hot_work",
        };
        self.args
            .iter()
            .fold(crate::i18n::Msg::new(key), |m, (k, v)| m.arg(k, v))
    }
}

/// The plant's calendar: holidays and rest days (the legal calendar moves some working
/// days), and what counts as night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    /// Days off besides weekends (statutory holidays).
    pub holidays: Vec<Date>,
    /// Weekend days that are working days (调休).
    pub working_weekends: Vec<Date>,
    /// Night from this time …
    pub night_from: Time,
    /// … to this time the next morning.
    pub night_to: Time,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            holidays: Vec::new(),
            working_weekends: Vec::new(),
            night_from: Time::from_hms(20, 0, 0).expect("valid time"),
            night_to: Time::from_hms(6, 0, 0).expect("valid time"),
        }
    }
}

impl Calendar {
    /// A holiday or a rest day (weekend, unless it is a working weekend).
    pub fn is_day_off(&self, d: Date) -> bool {
        if self.holidays.contains(&d) {
            return true;
        }
        matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !self.working_weekends.contains(&d)
    }

    pub fn is_night(&self, t: Time) -> bool {
        if self.night_from <= self.night_to {
            t >= self.night_from && t < self.night_to
        } else {
            t >= self.night_from || t < self.night_to
        }
    }

    fn off(&self, t: PrimitiveDateTime) -> bool {
        self.is_day_off(t.date()) || self.is_night(t.time())
    }

    /// Whether any minute of `[from, to)` falls on a day off or at night (checked every 30
    /// minutes and at the last minute: days and nights begin on whole hours).
    pub fn touches_off_hours(&self, from: PrimitiveDateTime, to: PrimitiveDateTime) -> bool {
        if to <= from {
            return self.off(from);
        }
        let last = to - Duration::minutes(1);
        let mut t = from;
        while t < last {
            if self.off(t) {
                return true;
            }
            t += Duration::minutes(30);
        }
        self.off(last)
    }
}

/// The hot-work level the permit must carry: the assessed level, one up (to 特级 at most)
/// when the work touches a day off or the night, or in wind of force 5 or more.
pub fn hot_level(
    assessed: HotLevel,
    from: PrimitiveDateTime,
    to: PrimitiveDateTime,
    wind_force: u8,
    cal: &Calendar,
) -> HotLevel {
    if cal.touches_off_hours(from, to) || wind_force >= 5 {
        match assessed {
            HotLevel::Second => HotLevel::First,
            _ => HotLevel::Special,
        }
    } else {
        assessed
    }
}

/// The height level by working height (2–5, 5–15, 15–30, > 30 m), one up (to IV) where
/// objective hazard factors exist. Below 2 m it is not work at height.
pub fn height_level(height_m: f64, hazard_factors: bool) -> Option<HeightLevel> {
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
    Some(if hazard_factors {
        match base {
            HeightLevel::I => HeightLevel::II,
            HeightLevel::II => HeightLevel::III,
            _ => HeightLevel::IV,
        }
    } else {
        base
    })
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
/// 72 h (二级); confined space 24 h; height 7 days; temporary power 15 days, or the validity
/// of the hot work or confined-space permit it serves.
pub fn max_validity(
    work: WorkType,
    hot: Option<HotLevel>,
    serves: Option<Duration>,
) -> Option<Duration> {
    match work {
        WorkType::HotWork => Some(match hot.unwrap_or(HotLevel::Special) {
            HotLevel::Second => Duration::hours(72),
            _ => Duration::hours(8),
        }),
        WorkType::ConfinedSpace => Some(Duration::hours(24)),
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
    from: PrimitiveDateTime,
    to: PrimitiveDateTime,
) -> Result<(), Breach> {
    if to <= from {
        return Err(Breach::new("period"));
    }
    match max_validity(work, hot, serves) {
        Some(max) if to - from > max => Err(Breach::new("validity")
            .arg("hours", (to - from).whole_minutes() as f64 / 60.0)
            .arg("max_hours", max.whole_hours())),
        _ => Ok(()),
    }
}

/// A gas analysis for hot work: combustible gas ≤ 0.5 % vol where the gas's LEL ≥ 4 %,
/// ≤ 0.2 % where it is lower; in oxygen service O2 ≤ 23.5 %.
pub fn check_hot_gas(
    combustible_pct: f64,
    lel_pct: f64,
    oxygen_service_o2: Option<f64>,
) -> Result<(), Breach> {
    let limit = if lel_pct >= 4.0 { 0.5 } else { 0.2 };
    if !combustible_pct.is_finite() || combustible_pct > limit {
        return Err(Breach::new("combustible")
            .arg("value", combustible_pct)
            .arg("limit", limit));
    }
    if let Some(o2) = oxygen_service_o2
        && o2 > 23.5
    {
        return Err(Breach::new("oxygen_high")
            .arg("value", o2)
            .arg("limit", 23.5));
    }
    Ok(())
}

/// Oxygen in a confined space: 19.5–21 % vol, up to 23.5 % where oxygen-enriched air is
/// used.
pub fn check_confined_oxygen(o2_pct: f64, enriched: bool) -> Result<(), Breach> {
    let hi = if enriched { 23.5 } else { 21.0 };
    if !o2_pct.is_finite() || !(19.5..=hi).contains(&o2_pct) {
        return Err(Breach::new("oxygen_range")
            .arg("value", o2_pct)
            .arg("lo", 19.5)
            .arg("hi", hi));
    }
    Ok(())
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

/// After an interruption this long, the gas must be tested again before work resumes: hot
/// work 30 min (特级, 一级) or 60 min (二级); confined space 60 min.
pub fn retest_after(work: WorkType, hot: Option<HotLevel>) -> Option<Duration> {
    match work {
        WorkType::HotWork => Some(match hot.unwrap_or(HotLevel::Special) {
            HotLevel::Second => Duration::minutes(60),
            _ => Duration::minutes(30),
        }),
        WorkType::ConfinedSpace => Some(Duration::minutes(60)),
        _ => None,
    }
}

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

/// The conflicts a new job has with jobs at the same time: hot work within 30 m of blinding;
/// two blinding jobs on one line; painting in a confined space with hot work in it.
pub fn conflicts(new: &Job, others: &[Job]) -> Vec<(u64, Breach)> {
    let mut out = Vec::new();
    for o in others.iter().filter(|o| o.id != new.id && new.overlaps(o)) {
        let pair = (new.work, o.work);
        let d = new.distance(o);
        let breach = match pair {
            (WorkType::HotWork, WorkType::Blinding) | (WorkType::Blinding, WorkType::HotWork)
                if d < 30.0 =>
            {
                Some(Breach::new("hot_near_blinding").arg("metres", format!("{d:.0}")))
            }
            (WorkType::Blinding, WorkType::Blinding)
                if new.line.is_some() && new.line == o.line =>
            {
                Some(Breach::new("two_blindings").arg("line", new.line.clone().unwrap_or_default()))
            }
            (WorkType::HotWork, WorkType::ConfinedSpace)
            | (WorkType::ConfinedSpace, WorkType::HotWork)
                if (new.painting || o.painting) && new.space.is_some() && new.space == o.space =>
            {
                Some(
                    Breach::new("painting_with_hot_work")
                        .arg("space", new.space.clone().unwrap_or_default()),
                )
            }
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
    use time::macros::{date, datetime};

    fn cal() -> Calendar {
        Calendar {
            holidays: vec![date!(2026 - 10 - 01)],
            working_weekends: vec![date!(2026 - 09 - 27)],
            ..Default::default()
        }
    }

    #[test]
    fn hot_work_is_upgraded_on_days_off_at_night_and_in_wind() {
        let c = cal();
        // a Tuesday afternoon: as assessed
        let (a, b) = (datetime!(2026-11-24 9:00), datetime!(2026-11-24 16:00));
        assert_eq!(hot_level(HotLevel::Second, a, b, 3, &c), HotLevel::Second);
        // into the night
        let late = datetime!(2026-11-24 21:00);
        assert_eq!(hot_level(HotLevel::Second, a, late, 3, &c), HotLevel::First);
        // a Saturday; a holiday on a Thursday; a working Sunday is a working day
        let sat = (datetime!(2026-11-28 9:00), datetime!(2026-11-28 11:00));
        assert_eq!(
            hot_level(HotLevel::First, sat.0, sat.1, 0, &c),
            HotLevel::Special
        );
        let hol = (datetime!(2026-10-01 9:00), datetime!(2026-10-01 11:00));
        assert_eq!(
            hot_level(HotLevel::Second, hol.0, hol.1, 0, &c),
            HotLevel::First
        );
        let sun = (datetime!(2026-09-27 9:00), datetime!(2026-09-27 11:00));
        assert_eq!(
            hot_level(HotLevel::Second, sun.0, sun.1, 0, &c),
            HotLevel::Second
        );
        // wind force 5
        assert_eq!(hot_level(HotLevel::Second, a, b, 5, &c), HotLevel::First);
        // 特级 stays 特级
        assert_eq!(
            hot_level(HotLevel::Special, a, late, 6, &c),
            HotLevel::Special
        );
        // ending at 20:00 sharp does not touch the night
        let eight = datetime!(2026-11-24 20:00);
        assert_eq!(
            hot_level(HotLevel::Second, a, eight, 0, &c),
            HotLevel::Second
        );
    }

    #[test]
    fn levels_by_height_and_load() {
        assert_eq!(height_level(1.9, false), None);
        assert_eq!(height_level(2.0, false), Some(HeightLevel::I));
        assert_eq!(height_level(5.0, false), Some(HeightLevel::I));
        assert_eq!(height_level(12.0, false), Some(HeightLevel::II));
        assert_eq!(height_level(12.0, true), Some(HeightLevel::III));
        assert_eq!(height_level(31.0, true), Some(HeightLevel::IV));
        assert_eq!(lift_level(39.9), LiftLevel::Third);
        assert_eq!(lift_level(40.0), LiftLevel::Second);
        assert_eq!(lift_level(100.0), LiftLevel::Second);
        assert_eq!(lift_level(100.5), LiftLevel::First);
    }

    #[test]
    fn validity_limits() {
        let a = datetime!(2026-11-24 8:00);
        let h = |n: i64| a + Duration::hours(n);
        assert!(check_validity(WorkType::HotWork, Some(HotLevel::First), None, a, h(8)).is_ok());
        let e =
            check_validity(WorkType::HotWork, Some(HotLevel::First), None, a, h(9)).unwrap_err();
        assert_eq!(e.code, "validity");
        assert!(check_validity(WorkType::HotWork, Some(HotLevel::Second), None, a, h(72)).is_ok());
        assert!(check_validity(WorkType::ConfinedSpace, None, None, a, h(25)).is_err());
        assert!(check_validity(WorkType::Height, None, None, a, h(24 * 7)).is_ok());
        assert!(check_validity(WorkType::Height, None, None, a, h(24 * 7 + 1)).is_err());
        // temporary power: 15 days, or the work it serves
        assert!(check_validity(WorkType::TemporaryPower, None, None, a, h(24 * 15)).is_ok());
        assert!(check_validity(WorkType::TemporaryPower, None, None, a, h(24 * 16)).is_err());
        let serves = Some(Duration::hours(8));
        assert!(check_validity(WorkType::TemporaryPower, None, serves, a, h(9)).is_err());
        assert!(check_validity(WorkType::Lifting, None, None, a, h(24 * 40)).is_ok());
        assert_eq!(
            check_validity(WorkType::Lifting, None, None, a, a)
                .unwrap_err()
                .code,
            "period"
        );
    }

    #[test]
    fn gas_analysis_and_samples() {
        assert!(check_hot_gas(0.5, 5.0, None).is_ok());
        assert_eq!(
            check_hot_gas(0.6, 5.0, None).unwrap_err().code,
            "combustible"
        );
        assert!(check_hot_gas(0.3, 3.0, None).is_err(), "LEL < 4 %: 0.2 %");
        assert!(check_hot_gas(0.2, 3.0, None).is_ok());
        assert_eq!(
            check_hot_gas(0.1, 5.0, Some(24.0)).unwrap_err().code,
            "oxygen_high"
        );
        assert!(check_hot_gas(f64::NAN, 5.0, None).is_err());
        assert!(check_confined_oxygen(20.9, false).is_ok());
        assert!(check_confined_oxygen(19.0, false).is_err());
        assert!(check_confined_oxygen(22.0, false).is_err());
        assert!(check_confined_oxygen(22.0, true).is_ok());
        let start = datetime!(2026-11-24 9:00);
        assert!(check_sample_age(start - Duration::minutes(30), start).is_ok());
        let e = check_sample_age(start - Duration::minutes(31), start).unwrap_err();
        assert_eq!(e.code, "sample_age");
        assert!(check_sample_age(start + Duration::minutes(1), start).is_err());
        assert_eq!(
            retest_after(WorkType::HotWork, Some(HotLevel::First)),
            Some(Duration::minutes(30))
        );
        assert_eq!(
            retest_after(WorkType::HotWork, Some(HotLevel::Second)),
            Some(Duration::minutes(60))
        );
        assert_eq!(
            retest_after(WorkType::ConfinedSpace, None),
            Some(Duration::minutes(60))
        );
        assert_eq!(retest_after(WorkType::Lifting, None), None);
        assert!(check_wind(WorkType::Height, true, 5).is_err());
        assert!(check_wind(WorkType::Lifting, true, 5).is_ok());
        assert!(check_wind(WorkType::Lifting, true, 6).is_err());
        assert!(check_wind(WorkType::Lifting, false, 7).is_ok());
    }

    #[test]
    fn conflicts_between_jobs() {
        let job = |id, work, x, line: Option<&str>, space: Option<&str>, painting| Job {
            id,
            work,
            x,
            y: 0.0,
            line: line.map(str::to_string),
            space: space.map(str::to_string),
            painting,
            from: datetime!(2026-11-24 8:00),
            to: datetime!(2026-11-24 16:00),
        };
        let hot = job(1, WorkType::HotWork, 0.0, None, Some("R101"), false);
        let blind_near = job(2, WorkType::Blinding, 20.0, Some("L-12"), None, false);
        let blind_far = job(3, WorkType::Blinding, 40.0, Some("L-13"), None, false);
        let c = conflicts(&hot, &[blind_near.clone(), blind_far]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].0, 2);
        assert_eq!(c[0].1.code, "hot_near_blinding");
        // a second blinding on the same line
        let same_line = job(4, WorkType::Blinding, 300.0, Some("L-12"), None, false);
        assert_eq!(
            conflicts(&same_line, std::slice::from_ref(&blind_near))[0]
                .1
                .code,
            "two_blindings"
        );
        // painting in a vessel with hot work in it
        let painting = job(5, WorkType::ConfinedSpace, 0.0, None, Some("R101"), true);
        assert_eq!(
            conflicts(&painting, std::slice::from_ref(&hot))[0].1.code,
            "painting_with_hot_work"
        );
        // not at the same time: no conflict
        let mut later = blind_near.clone();
        later.from = datetime!(2026-11-24 16:00);
        later.to = datetime!(2026-11-24 18:00);
        assert!(conflicts(&hot, &[later]).is_empty());
    }
}
