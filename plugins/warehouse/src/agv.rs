//! Transport tasks handed to AGVs (or stackers) through tags, as a fleet controller or a
//! stacker's PLC takes them. For each vehicle named in the `agv` setting (`AGV1`) the box
//! has five tags:
//!
//! | Tag | Who writes | What |
//! |---|---|---|
//! | `<name>.FROM`, `<name>.TO` | the box | pick-up and drop-off station numbers (setting `stations`) |
//! | `<name>.TASK` | the box | the task number, written last: a new task; 0 clears the finished one |
//! | `<name>.STATE` | the vehicle | 0 ready, 1 accepted, 2 carrying, 3 done, 4 fault |
//! | `<name>.CUR` | the vehicle | the task number it has in hand |
//!
//! The vehicle takes one task at a time and keeps reporting done (or fault) until the box
//! clears the number. When the task is done the box posts the transfer through the inventory
//! module (its rules apply then: a refused transfer is left *not posted* with inventory's
//! reason, for the keeper to book by scanning). What to do at each look at the tags is
//! decided here ([`decide`]), without calling the host.

use serde::{Deserialize, Serialize};

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Waiting for a ready vehicle.
    Queued,
    /// Written to a vehicle, not yet accepted.
    Sent,
    Accepted,
    Carrying,
    /// Done and the transfer posted.
    Posted,
    /// Done, but inventory refused the transfer.
    NotPosted,
    /// The vehicle reported a fault or never accepted it.
    Fault,
    /// Inventory refused the transfer when it was about to be handed over (the lot was held
    /// or moved while the task waited): nothing moved.
    Refused,
    Cancelled,
}

impl Stage {
    /// On a vehicle now.
    pub fn in_hand(self) -> bool {
        matches!(self, Stage::Sent | Stage::Accepted | Stage::Carrying)
    }

    pub fn name(self, zh: bool) -> &'static str {
        let (a, b) = match self {
            Stage::Queued => ("排队", "queued"),
            Stage::Sent => ("已下达", "sent"),
            Stage::Accepted => ("已接收", "accepted"),
            Stage::Carrying => ("搬运中", "carrying"),
            Stage::Posted => ("完成并已过账", "done, posted"),
            Stage::NotPosted => ("完成但未过账", "done, not posted"),
            Stage::Fault => ("故障", "fault"),
            Stage::Refused => (
                "下达前被进销存拒绝",
                "refused by inventory before hand-over",
            ),
            Stage::Cancelled => ("已取消", "cancelled"),
        };
        if zh { a } else { b }
    }
}

/// A transport task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub n: u32,
    /// What is moved, for people: `material lot qty unit`.
    pub what: String,
    /// `store/location` keys.
    pub from: String,
    pub to: String,
    pub from_station: u32,
    pub to_station: u32,
    /// The `inventory.move` arguments of the transfer, posted when the task is done.
    pub movement: String,
    /// Who asked for it.
    pub by: String,
    pub stage: Stage,
    #[serde(default)]
    pub vehicle: String,
    pub created_ms: i64,
    #[serde(default)]
    pub sent_ms: i64,
    #[serde(default)]
    pub ended_ms: i64,
    /// The movement's id, a refusal or a fault.
    #[serde(default)]
    pub note: String,
}

/// A vehicle waits this long to accept a task before the task is called a fault.
pub const ACCEPT_MS: i64 = 30_000;

/// The largest task number a vehicle's register holds (a 16-bit word).
pub const WIRE_MAX: u32 = 65_535;

impl Task {
    /// The number written to the vehicle: the task's, counted round within 1–65,535.
    pub fn wire(&self) -> u32 {
        wire(self.n)
    }
}

pub fn wire(n: u32) -> u32 {
    (n.max(1) - 1) % WIRE_MAX + 1
}

/// What the box does at a look at one vehicle's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Nothing,
    /// The task in hand moved on (accepted, carrying).
    Advance(Stage),
    /// The task is done: post its transfer, then clear.
    Done,
    /// The vehicle failed the task (or never took it): record, then clear.
    Fault,
    /// The vehicle reports a finished task the box does not hold: clear it.
    Clear,
    /// The vehicle is ready: hand it the next queued task.
    Dispatch,
}

/// `in_hand`: the task this vehicle holds (its number as written, stage, when sent);
/// `state`, `current`: its tags now (None: unreadable, bad quality).
pub fn decide(
    in_hand: Option<(u32, Stage, i64)>,
    state: Option<i64>,
    current: Option<i64>,
    now_ms: i64,
) -> Decision {
    let (Some(state), Some(current)) = (state, current) else {
        // no signal: a task written but never seen taken ends after the wait; one taken
        // stays with the vehicle (it may be carrying) until the signal is back
        return match in_hand {
            Some((_, Stage::Sent, sent_ms)) if now_ms - sent_ms > ACCEPT_MS => Decision::Fault,
            _ => Decision::Nothing,
        };
    };
    match in_hand {
        None => match state {
            0 => Decision::Dispatch,
            3 | 4 => Decision::Clear,
            _ => Decision::Nothing,
        },
        Some((n, stage, sent_ms)) => {
            let ours = current == i64::from(n);
            match state {
                1 if ours && stage == Stage::Sent => Decision::Advance(Stage::Accepted),
                2 if ours && stage != Stage::Carrying => Decision::Advance(Stage::Carrying),
                3 if ours => Decision::Done,
                4 if ours => Decision::Fault,
                // not taken (still ready, or busy with something else) for too long; once
                // taken, a reading that does not name it (a glitch) changes nothing
                _ if !ours && stage == Stage::Sent && now_ms - sent_ms > ACCEPT_MS => {
                    Decision::Fault
                }
                _ => Decision::Nothing,
            }
        }
    }
}

/// `AGV1, AGV2` → the vehicles' names.
pub fn vehicles(text: &str) -> Vec<String> {
    text.split([',', '，', ';', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// `WH-GEN/G-03=11; WH-GEN/G-01=12` → location key → station number.
pub fn stations(text: &str) -> Result<std::collections::BTreeMap<String, u32>, String> {
    let mut out = std::collections::BTreeMap::new();
    for part in text
        .split([';', '；', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (loc, n) = part
            .split_once('=')
            .ok_or_else(|| format!("“{part}” is not store/location=station"))?;
        let n: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=9999).contains(n))
            .ok_or_else(|| format!("“{part}”: a station is a number 1–9999"))?;
        if !loc.contains('/') {
            return Err(format!("“{part}” is not store/location=station"));
        }
        out.insert(loc.trim().to_string(), n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_vehicle_gets_the_next_task_and_a_stale_finish_is_cleared() {
        assert_eq!(decide(None, Some(0), Some(0), 0), Decision::Dispatch);
        assert_eq!(decide(None, Some(3), Some(9), 0), Decision::Clear);
        assert_eq!(decide(None, Some(4), Some(9), 0), Decision::Clear);
        assert_eq!(decide(None, Some(2), Some(9), 0), Decision::Nothing);
        // unreadable tags: nothing is decided
        assert_eq!(decide(None, None, Some(0), 0), Decision::Nothing);
        // … but a task written to a silent vehicle is not left waiting for ever
        let sent = Some((7, Stage::Sent, 1_000));
        assert_eq!(decide(sent, None, None, 20_000), Decision::Nothing);
        assert_eq!(decide(sent, None, None, 40_000), Decision::Fault);
        let carrying = Some((7, Stage::Carrying, 1_000));
        assert_eq!(decide(carrying, None, None, 90_000), Decision::Nothing);
    }

    #[test]
    fn the_task_in_hand_follows_the_vehicle() {
        let sent = Some((7, Stage::Sent, 1_000));
        assert_eq!(
            decide(sent, Some(1), Some(7), 2_000),
            Decision::Advance(Stage::Accepted)
        );
        // a quick vehicle may be carrying before it was seen accepting
        assert_eq!(
            decide(sent, Some(2), Some(7), 2_000),
            Decision::Advance(Stage::Carrying)
        );
        let carrying = Some((7, Stage::Carrying, 1_000));
        assert_eq!(decide(carrying, Some(2), Some(7), 9_000), Decision::Nothing);
        assert_eq!(decide(carrying, Some(3), Some(7), 9_000), Decision::Done);
        assert_eq!(decide(carrying, Some(4), Some(7), 9_000), Decision::Fault);
        // the state of another task is not this one's
        assert_eq!(decide(carrying, Some(3), Some(6), 9_000), Decision::Nothing);
        // never taken: a fault after 30 s
        assert_eq!(decide(sent, Some(0), Some(0), 20_000), Decision::Nothing);
        assert_eq!(decide(sent, Some(0), Some(0), 40_000), Decision::Fault);
        // taken: a reading without its number is a glitch, not a fault
        assert_eq!(
            decide(carrying, Some(0), Some(0), 90_000),
            Decision::Nothing
        );
    }

    #[test]
    fn task_numbers_fit_the_register() {
        assert_eq!(wire(1), 1);
        assert_eq!(wire(65_535), 65_535);
        assert_eq!(wire(65_536), 1);
        assert_eq!(wire(131_071), 1);
    }

    #[test]
    fn settings_are_read_or_refused() {
        assert_eq!(vehicles("AGV1, AGV2"), ["AGV1", "AGV2"]);
        assert!(vehicles("").is_empty());
        let s = stations("WH-GEN/G-03=11; WH-GEN/G-01 = 12\n").unwrap();
        assert_eq!(s.get("WH-GEN/G-01"), Some(&12));
        assert!(stations("G-01=12").is_err());
        assert!(stations("WH-GEN/G-01=0").is_err());
        assert!(stations("WH-GEN/G-01=x").is_err());
        assert!(stations("").unwrap().is_empty());
    }
}
