//! Condition of rotating machines, as pure functions: the ISO 10816-3 (ISO 20816-3) zone of a
//! vibration velocity RMS reading by machine group and mounting, with editable boundaries and
//! the strictest ones when the machine's class is not known; zone changes with a small
//! hysteresis, so a reading hovering at a boundary does not flap between zones; and which
//! changes propose a work order (entering zone C or D).
//!
//! Numbers: ../shared/DOMAIN.md (Equipment condition).

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
