//! Condition of rotating machines, as pure functions: the ISO 10816-3 (ISO 20816-3) zone of a
//! vibration velocity RMS reading by machine group and mounting, with editable boundaries and
//! the strictest ones when the machine's class is not known; zone changes with a small
//! hysteresis, so a reading hovering at a boundary does not flap between zones; and which
//! changes propose a work order (entering zone C or D). Also the work order life cycle, when
//! a preventive plan falls due (by calendar or by meter), and the maintenance KPIs
//! (availability, MTBF, MTTR, preventive-maintenance compliance), and how an inspection
//! round's answers are judged and when the next round is due.
//!
//! Numbers: ../shared/DOMAIN.md (Equipment condition).

use serde::{Deserialize, Serialize};
use time::Date;

use super::model::{Answer, CheckKind, WoState};

use crate::error::{Error, Result};

/// ISO 10816-3 evaluation zones: A newly commissioned, B unrestricted long-term operation,
/// C restricted to a limited period until a suitable opportunity for repair, D severe
/// enough to cause damage.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Zone {
    A,
    B,
    C,
    D,
}

/// Machine groups of ISO 10816-3 by rated power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MachineGroup {
    /// Group 1: large machines, 300 kW to 50 MW.
    Group1,
    /// Group 2: medium machines, 15 kW to 300 kW.
    Group2,
}

/// How the machine is mounted (its support's stiffness in the direction measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mounting {
    Rigid,
    Flexible,
}

/// Whether a machine lies outside ISO 10816-3's scope (15 kW to 50 MW, 120 to 15,000 r/min)
/// by its rated power or speed, where known: its standard boundaries do not fit it and
/// should be edited (from the maker, or the part of ISO 10816 that covers it).
pub fn outside_iso10816_3(power_kw: Option<f64>, speed_rpm: Option<f64>) -> bool {
    power_kw.is_some_and(|p| p < 15.0)
        || speed_rpm.is_some_and(|n| !(120.0..=15_000.0).contains(&n))
}

/// Zone boundaries in mm/s RMS: A/B, B/C and C/D. A reading at a boundary belongs to the
/// worse zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ZoneBounds {
    pub ab: f64,
    pub bc: f64,
    pub cd: f64,
}

/// The largest boundary accepted (mm/s): far above any zone D of the standard.
const MAX_BOUND: f64 = 100.0;

impl ZoneBounds {
    /// The standard's boundaries for a machine class. A class not known takes the strictest
    /// boundaries it could have: group 2 when the group is missing, rigid when the mounting
    /// is.
    pub fn iso10816_3(group: Option<MachineGroup>, mounting: Option<Mounting>) -> ZoneBounds {
        let (ab, bc, cd) = match (
            group.unwrap_or(MachineGroup::Group2),
            mounting.unwrap_or(Mounting::Rigid),
        ) {
            (MachineGroup::Group1, Mounting::Rigid) => (2.3, 4.5, 7.1),
            (MachineGroup::Group1, Mounting::Flexible) => (3.5, 7.1, 11.0),
            (MachineGroup::Group2, Mounting::Rigid) => (1.4, 2.8, 4.5),
            (MachineGroup::Group2, Mounting::Flexible) => (2.3, 4.5, 7.1),
        };
        ZoneBounds { ab, bc, cd }
    }

    /// Edited boundaries must be numbers, rising, above zero and at most 100 mm/s.
    pub fn check(&self) -> Result<()> {
        let ok = [self.ab, self.bc, self.cd]
            .iter()
            .all(|b| b.is_finite() && *b > 0.0 && *b <= MAX_BOUND)
            && self.ab < self.bc
            && self.bc < self.cd;
        if ok {
            Ok(())
        } else {
            Err(Error::invalid("bounds", "equipment.err.zone_bounds"))
        }
    }
}

/// How far below a boundary (as a share of it) a reading must fall to leave a zone for a
/// better one: a pump hovering at 4.5 mm/s stays in C instead of flapping between B and C.
pub const HYSTERESIS: f64 = 0.05;

/// The zone of a velocity RMS reading (mm/s); None for a reading that is not a number or
/// is negative (the tag's quality says why).
pub fn zone(v: f64, b: &ZoneBounds) -> Option<Zone> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(if v >= b.cd {
        Zone::D
    } else if v >= b.bc {
        Zone::C
    } else if v >= b.ab {
        Zone::B
    } else {
        Zone::A
    })
}

/// The zone after a reading, given the zone before it: worse at once, better only once the
/// reading is [`HYSTERESIS`] below the boundary it crosses.
pub fn next_zone(prev: Option<Zone>, v: f64, b: &ZoneBounds) -> Option<Zone> {
    let now = zone(v, b)?;
    match prev {
        Some(p) if now < p => {
            // the zone the reading would be in were it that much higher
            let held = zone(v / (1.0 - HYSTERESIS), b)?;
            Some(held.min(p))
        }
        _ => Some(now),
    }
}

/// A change of zone that proposes a work order: into C or D from a better zone (or a first
/// reading already there).
pub fn proposes_work_order(prev: Option<Zone>, now: Zone) -> bool {
    now >= Zone::C && prev.is_none_or(|p| p < now)
}

// ------------------------------------------------------------------ work order life cycle

/// What can be done to a work order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WoAction {
    /// Give it to a technician (again, while nobody has started).
    Assign,
    /// The technician starts.
    Start,
    /// Work stops until spare parts arrive.
    WaitParts,
    /// Parts are there: work goes on.
    Resume,
    /// The technician reports it done (with what was found and done, and the hours).
    Done,
    /// A second person checks the work and signs it off: the order is closed.
    Verify,
    /// The check failed: back to the technician.
    Reject,
    /// Not to be done (a proposal turned down, a duplicate), with the reason.
    Cancel,
}

impl WoAction {
    pub const ALL: [WoAction; 8] = [
        WoAction::Assign,
        WoAction::Start,
        WoAction::WaitParts,
        WoAction::Resume,
        WoAction::Done,
        WoAction::Verify,
        WoAction::Reject,
        WoAction::Cancel,
    ];
    pub fn id(self) -> &'static str {
        match self {
            WoAction::Assign => "assign",
            WoAction::Start => "start",
            WoAction::WaitParts => "wait_parts",
            WoAction::Resume => "resume",
            WoAction::Done => "done",
            WoAction::Verify => "verify",
            WoAction::Reject => "reject",
            WoAction::Cancel => "cancel",
        }
    }
    pub fn parse(s: &str) -> Option<WoAction> {
        WoAction::ALL.into_iter().find(|a| a.id() == s)
    }
}

/// The state an action leads to from `s`; None when the life cycle does not allow it.
pub fn transition(s: WoState, a: WoAction) -> Option<WoState> {
    use WoAction as A;
    use WoState as S;
    Some(match (s, a) {
        (S::Open | S::Assigned, A::Assign) => S::Assigned,
        (S::Assigned, A::Start) => S::InProgress,
        (S::InProgress, A::WaitParts) => S::WaitingParts,
        (S::WaitingParts, A::Resume) => S::InProgress,
        (S::InProgress, A::Done) => S::Done,
        (S::Done, A::Verify) => S::Verified,
        (S::Done, A::Reject) => S::InProgress,
        (S::Open | S::Assigned, A::Cancel) => S::Cancelled,
        _ => return None,
    })
}

/// The actions the life cycle allows from `s`, in the order the page offers them.
pub fn actions(s: WoState) -> Vec<WoAction> {
    WoAction::ALL
        .into_iter()
        .filter(|a| transition(s, *a).is_some())
        .collect()
}

/// Work (hours, parts, checklist ticks) is booked while the order is being worked on.
pub fn books_work(s: WoState) -> bool {
    matches!(s, WoState::InProgress | WoState::WaitingParts)
}

// ------------------------------------------------------------------ preventive plans

/// When a calendar plan is due: `every_days` after it was last done, or on its first date.
pub fn calendar_due(last_done: Option<Date>, start: Date, every_days: u32) -> Date {
    match last_done {
        Some(d) => d.saturating_add(time::Duration::days(i64::from(every_days))),
        None => start,
    }
}

/// A calendar plan opens its order `lead_days` before it is due.
pub fn calendar_opens(due: Date, lead_days: u32, today: Date) -> bool {
    today >= due.saturating_sub(time::Duration::days(i64::from(lead_days)))
}

/// Where a meter plan stands against a reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MeterDue {
    /// So much left on the meter.
    NotYet(f64),
    Due,
    /// The reading is below the last one (meter replaced or reset): count from it.
    Rebase,
}

/// A meter plan falls due once the meter has run `every` since it was last done (from 0
/// when never done).
pub fn meter_due(last: Option<f64>, every: f64, reading: f64) -> MeterDue {
    let last = last.unwrap_or(0.0);
    if reading + 1e-9 < last {
        return MeterDue::Rebase;
    }
    let left = last + every - reading;
    if left <= 1e-9 {
        MeterDue::Due
    } else {
        MeterDue::NotYet(left)
    }
}

// ------------------------------------------------------------------ KPIs

/// A failure as the KPIs see it: a corrective order, from report to done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Failure {
    pub start_ms: i64,
    /// None while not repaired.
    pub end_ms: Option<i64>,
    /// The equipment stood still meanwhile (downtime).
    pub stopped: bool,
}

/// Maintenance KPIs over a period.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct Kpis {
    /// Share of the period the equipment could run (1 − downtime / period).
    pub availability: Option<f64>,
    /// Mean time between failures, hours: running time / failures in the period.
    pub mtbf_h: Option<f64>,
    /// Mean time to repair, hours: over the failures repaired in the period.
    pub mttr_h: Option<f64>,
    pub failures: usize,
    pub downtime_h: f64,
}

const HOUR_MS: f64 = 3_600_000.0;

/// The KPIs of `units` pieces of equipment over `[from, to)` from their failures.
pub fn kpis(failures: &[Failure], from: i64, to: i64, units: usize) -> Kpis {
    if to <= from || units == 0 {
        return Kpis::default();
    }
    let period = (to - from) as f64 * units as f64;
    let mut down = 0.0;
    let mut count = 0;
    let (mut repair, mut repaired) = (0.0, 0);
    for f in failures {
        let end = f.end_ms.unwrap_or(to);
        if f.stopped {
            let overlap = end.min(to) - f.start_ms.max(from);
            if overlap > 0 {
                down += overlap as f64;
            }
        }
        if (from..to).contains(&f.start_ms) {
            count += 1;
        }
        if let Some(e) = f.end_ms
            && (from..to).contains(&e)
        {
            repair += (e - f.start_ms).max(0) as f64;
            repaired += 1;
        }
    }
    let down = down.min(period);
    Kpis {
        availability: Some(1.0 - down / period),
        mtbf_h: (count > 0).then(|| (period - down) / HOUR_MS / count as f64),
        mttr_h: (repaired > 0).then(|| repair / HOUR_MS / repaired as f64),
        failures: count,
        downtime_h: down / HOUR_MS,
    }
}

/// Preventive-maintenance compliance: of the preventive orders due in the period (due
/// time, done time), the share done by their due time. None when none fell due.
pub fn pm_compliance(orders: &[(i64, Option<i64>)], from: i64, to: i64) -> Option<f64> {
    let due: Vec<_> = orders
        .iter()
        .filter(|(d, _)| (from..to).contains(d))
        .collect();
    if due.is_empty() {
        return None;
    }
    let on_time = due
        .iter()
        .filter(|(d, done)| done.is_some_and(|t| t <= *d))
        .count();
    Some(on_time as f64 / due.len() as f64)
}

// ------------------------------------------------------------------ inspection rounds

/// Why a checkpoint's answer cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// A look without normal/abnormal, a reading without a (finite) value.
    Missing,
    /// An abnormal look must say what was found.
    NoteNeeded,
    /// A reading no gauge shows (beyond ±10⁹): a slip of the thumb.
    Implausible,
}

/// The largest reading taken as typed.
const MAX_READING: f64 = 1e9;

/// Judges a checkpoint's answer: normal or not. A reading is judged by its range alone (a
/// bound left out does not limit), whatever the walker ticked.
pub fn judge_answer(check: &CheckKind, a: &Answer) -> std::result::Result<bool, Unanswered> {
    match check {
        CheckKind::Look => match a.ok {
            None => Err(Unanswered::Missing),
            Some(false) if a.note.trim().is_empty() => Err(Unanswered::NoteNeeded),
            Some(ok) => Ok(ok),
        },
        CheckKind::Reading { lo, hi, .. } => match a.value {
            Some(v) if v.is_finite() && v.abs() >= MAX_READING => Err(Unanswered::Implausible),
            Some(v) if v.is_finite() => {
                Ok(lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi))
            }
            _ => Err(Unanswered::Missing),
        },
    }
}

/// When a route's next round is due: `every_hours` after the last one, or after the route
/// was made or switched on again when that is later (a paused route is not late at once).
pub fn round_due_ms(last_ms: Option<i64>, made_ms: i64, every_hours: u32) -> i64 {
    last_ms.unwrap_or(made_ms).max(made_ms) + i64::from(every_hours) * 3_600_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_order_life_cycle() {
        use WoAction as A;
        use WoState as S;
        let mut s = S::Open;
        for (a, want) in [
            (A::Assign, S::Assigned),
            (A::Assign, S::Assigned),
            (A::Start, S::InProgress),
            (A::WaitParts, S::WaitingParts),
            (A::Resume, S::InProgress),
            (A::Done, S::Done),
            (A::Reject, S::InProgress),
            (A::Done, S::Done),
            (A::Verify, S::Verified),
        ] {
            s = transition(s, a).unwrap_or_else(|| panic!("{a:?} from {s:?}"));
            assert_eq!(s, want);
        }
        // nothing after verified; no skipping
        assert!(actions(S::Verified).is_empty());
        assert!(actions(S::Cancelled).is_empty());
        assert_eq!(transition(S::Open, A::Start), None, "assign first");
        assert_eq!(transition(S::Open, A::Done), None);
        assert_eq!(transition(S::InProgress, A::Verify), None, "done first");
        assert_eq!(transition(S::WaitingParts, A::Done), None, "resume first");
        assert_eq!(
            transition(S::InProgress, A::Cancel),
            None,
            "started work stays"
        );
        assert_eq!(transition(S::Assigned, A::Cancel), Some(S::Cancelled));
        assert_eq!(actions(S::Open), vec![A::Assign, A::Cancel]);
        assert!(books_work(S::WaitingParts) && !books_work(S::Assigned) && !books_work(S::Done));
    }

    #[test]
    fn calendar_plans_fall_due_with_their_lead() {
        use time::macros::date;
        let start = date!(2026 - 01 - 10);
        assert_eq!(calendar_due(None, start, 30), start);
        let due = calendar_due(Some(date!(2026 - 03 - 01)), start, 30);
        assert_eq!(due, date!(2026 - 03 - 31));
        assert!(!calendar_opens(due, 3, date!(2026 - 03 - 27)));
        assert!(calendar_opens(due, 3, date!(2026 - 03 - 28)));
        assert!(calendar_opens(due, 0, due));
        assert!(!calendar_opens(due, 0, date!(2026 - 03 - 30)));
    }

    #[test]
    fn meter_plans_fall_due_on_the_meter_and_rebase_on_a_reset() {
        assert_eq!(meter_due(None, 500.0, 499.0), MeterDue::NotYet(1.0));
        assert_eq!(meter_due(None, 500.0, 500.0), MeterDue::Due);
        assert_eq!(
            meter_due(Some(1200.0), 500.0, 1650.0),
            MeterDue::NotYet(50.0)
        );
        assert_eq!(meter_due(Some(1200.0), 500.0, 1700.5), MeterDue::Due);
        assert_eq!(meter_due(Some(1200.0), 500.0, 30.0), MeterDue::Rebase);
    }

    #[test]
    fn kpis_from_failures() {
        let h = 3_600_000;
        let fail = |s: i64, e: Option<i64>, stopped| Failure {
            start_ms: s * h,
            end_ms: e.map(|e| e * h),
            stopped,
        };
        // 100 h, one machine: a 4 h stop, a 2 h repair without stopping, one still open
        // from hour 98 (stopped: 2 h of downtime so far)
        let k = kpis(
            &[
                fail(10, Some(14), true),
                fail(50, Some(52), false),
                fail(98, None, true),
            ],
            0,
            100 * h,
            1,
        );
        assert_eq!(k.failures, 3);
        assert!((k.downtime_h - 6.0).abs() < 1e-9);
        assert!((k.availability.unwrap() - 0.94).abs() < 1e-9);
        assert!((k.mtbf_h.unwrap() - 94.0 / 3.0).abs() < 1e-9);
        assert!((k.mttr_h.unwrap() - 3.0).abs() < 1e-9);
        // a failure begun before the period counts its downtime inside only
        let k = kpis(&[fail(-5, Some(5), true)], 0, 100 * h, 2);
        assert_eq!(k.failures, 0);
        assert!((k.availability.unwrap() - (1.0 - 5.0 / 200.0)).abs() < 1e-9);
        assert_eq!(k.mtbf_h, None);
        assert_eq!(kpis(&[], 0, 0, 1), Kpis::default());
        // compliance: due in the period, done by the due time
        let c = pm_compliance(
            &[(10, Some(9)), (20, Some(25)), (30, None), (200, None)],
            0,
            100,
        );
        assert!((c.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(pm_compliance(&[(200, None)], 0, 100), None);
    }

    #[test]
    fn boundaries_follow_the_standard_and_the_unknown_class_is_the_strictest() {
        let b = |g, m| {
            let z = ZoneBounds::iso10816_3(g, m);
            (z.ab, z.bc, z.cd)
        };
        use MachineGroup::*;
        use Mounting::*;
        assert_eq!(b(Some(Group1), Some(Rigid)), (2.3, 4.5, 7.1));
        assert_eq!(b(Some(Group1), Some(Flexible)), (3.5, 7.1, 11.0));
        assert_eq!(b(Some(Group2), Some(Rigid)), (1.4, 2.8, 4.5));
        assert_eq!(b(Some(Group2), Some(Flexible)), (2.3, 4.5, 7.1));
        assert_eq!(b(None, None), (1.4, 2.8, 4.5));
        assert_eq!(b(Some(Group1), None), (2.3, 4.5, 7.1));
        assert_eq!(b(None, Some(Flexible)), (2.3, 4.5, 7.1));
    }

    #[test]
    fn a_reading_at_a_boundary_is_in_the_worse_zone() {
        let b = ZoneBounds::iso10816_3(Some(MachineGroup::Group2), Some(Mounting::Rigid));
        assert_eq!(zone(0.0, &b), Some(Zone::A));
        assert_eq!(zone(1.39, &b), Some(Zone::A));
        assert_eq!(zone(1.4, &b), Some(Zone::B));
        assert_eq!(zone(2.8, &b), Some(Zone::C));
        assert_eq!(zone(4.49, &b), Some(Zone::C));
        assert_eq!(zone(4.5, &b), Some(Zone::D));
        assert_eq!(zone(80.0, &b), Some(Zone::D));
        assert_eq!(zone(f64::NAN, &b), None);
        assert_eq!(zone(-0.1, &b), None);
    }

    #[test]
    fn zones_worsen_at_once_and_recover_below_the_hysteresis() {
        let b = ZoneBounds::iso10816_3(Some(MachineGroup::Group2), Some(Mounting::Flexible));
        // 4.5 mm/s is B/C
        assert_eq!(next_zone(Some(Zone::B), 4.5, &b), Some(Zone::C));
        assert_eq!(next_zone(Some(Zone::C), 4.4, &b), Some(Zone::C), "hovering");
        assert_eq!(
            next_zone(Some(Zone::C), 4.3, &b),
            Some(Zone::C),
            "within 5 %"
        );
        assert_eq!(
            next_zone(Some(Zone::C), 4.27, &b),
            Some(Zone::B),
            "5 % below"
        );
        // from D straight to A when the reading drops far
        assert_eq!(next_zone(Some(Zone::D), 0.5, &b), Some(Zone::A));
        // from D to C: below C/D less the band, not yet below B/C's
        assert_eq!(next_zone(Some(Zone::D), 6.0, &b), Some(Zone::C));
        assert_eq!(next_zone(None, 3.0, &b), Some(Zone::B));
        assert_eq!(next_zone(Some(Zone::B), f64::NAN, &b), None);
    }

    #[test]
    fn entering_c_or_d_proposes_a_work_order() {
        assert!(proposes_work_order(Some(Zone::B), Zone::C));
        assert!(proposes_work_order(Some(Zone::C), Zone::D));
        assert!(proposes_work_order(Some(Zone::A), Zone::D));
        assert!(proposes_work_order(None, Zone::C));
        assert!(!proposes_work_order(Some(Zone::C), Zone::C));
        assert!(!proposes_work_order(Some(Zone::D), Zone::C));
        assert!(!proposes_work_order(Some(Zone::A), Zone::B));
        assert!(!proposes_work_order(None, Zone::B));
    }

    #[test]
    fn edited_boundaries_must_rise_and_be_numbers() {
        let ok = ZoneBounds {
            ab: 2.0,
            bc: 4.0,
            cd: 6.0,
        };
        assert!(ok.check().is_ok());
        for bad in [
            ZoneBounds { ab: 4.0, ..ok },
            ZoneBounds { bc: 7.0, ..ok },
            ZoneBounds { ab: 0.0, ..ok },
            ZoneBounds { cd: f64::NAN, ..ok },
            ZoneBounds { cd: 500.0, ..ok },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_inspection_answer_is_judged_by_its_check() {
        use super::super::model::{Answer, CheckKind};
        let look = CheckKind::Look;
        let ans = |ok: Option<bool>, value: Option<f64>, note: &str| Answer {
            ok,
            value,
            note: note.into(),
            skip: false,
        };
        assert_eq!(judge_answer(&look, &ans(Some(true), None, "")), Ok(true));
        assert_eq!(
            judge_answer(&look, &ans(None, None, "")),
            Err(Unanswered::Missing)
        );
        // an abnormal look says what was found
        assert_eq!(
            judge_answer(&look, &ans(Some(false), None, " ")),
            Err(Unanswered::NoteNeeded)
        );
        assert_eq!(
            judge_answer(&look, &ans(Some(false), None, "机封滴漏")),
            Ok(false)
        );
        let temp = CheckKind::Reading {
            unit: "℃".into(),
            lo: None,
            hi: Some(70.0),
        };
        assert_eq!(judge_answer(&temp, &ans(None, Some(70.0), "")), Ok(true));
        // the range decides, not the tick
        assert_eq!(
            judge_answer(&temp, &ans(Some(true), Some(70.1), "")),
            Ok(false)
        );
        assert_eq!(
            judge_answer(&temp, &ans(Some(true), None, "")),
            Err(Unanswered::Missing)
        );
        assert_eq!(
            judge_answer(&temp, &ans(None, Some(f64::NAN), "")),
            Err(Unanswered::Missing)
        );
        let pressure = CheckKind::Reading {
            unit: "MPa".into(),
            lo: Some(0.4),
            hi: Some(0.6),
        };
        assert_eq!(
            judge_answer(&pressure, &ans(None, Some(0.39), "")),
            Ok(false)
        );
        assert_eq!(judge_answer(&pressure, &ans(None, Some(0.4), "")), Ok(true));
        assert_eq!(
            judge_answer(&pressure, &ans(None, Some(1e300), "")),
            Err(Unanswered::Implausible)
        );
    }

    #[test]
    fn slow_or_small_machines_are_outside_iso_10816_3() {
        assert!(
            outside_iso10816_3(Some(22.0), Some(85.0)),
            "an agitator at 85 r/min"
        );
        assert!(outside_iso10816_3(Some(7.5), Some(2900.0)));
        assert!(!outside_iso10816_3(Some(15.0), Some(2900.0)));
        assert!(!outside_iso10816_3(None, None), "not known: not flagged");
    }

    #[test]
    fn a_round_falls_due_every_so_many_hours_after_the_last() {
        let h = 3_600_000;
        assert_eq!(round_due_ms(None, 10 * h, 8), 18 * h);
        assert_eq!(round_due_ms(Some(20 * h), 10 * h, 8), 28 * h);
        assert_eq!(round_due_ms(Some(20 * h), 0, 168), 188 * h);
        // switched on again after a pause: counted from then
        assert_eq!(round_due_ms(Some(20 * h), 100 * h, 8), 108 * h);
    }
}
