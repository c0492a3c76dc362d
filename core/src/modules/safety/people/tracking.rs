//! Live positions (人员定位): the tags the positioning system reports, which zones they are
//! in, and the zone rules (forbidden without a permit, maximum occupancy, man-down after
//! stillness, SOS, aggregation). Pure and in memory: `ingest` takes one position, `tick`
//! (about once a second) evaluates what depends on time; both return only the alarm
//! *changes*, which the caller raises or clears. No I/O, so it can be benchmarked and tested
//! alone.

use std::collections::{HashMap, HashSet};

use crate::alarms::model::Priority;
use crate::i18n::Msg;

use super::model::{Aggregation, PlantMap, Zone};

/// One position report.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Update {
    /// The tag id as the positioning system reports it.
    pub tag: String,
    /// Metres from the map's bottom-left corner.
    pub x: f64,
    pub y: f64,
    #[serde(default)]
    pub floor: i32,
    /// Unix ms; omitted: when received.
    #[serde(default)]
    pub at_ms: Option<i64>,
    /// The wearer pressed the SOS button.
    #[serde(default)]
    pub sos: bool,
}

/// Why a position was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Reject {
    UnknownTag(String),
    OutsideMap { x: f64, y: f64, w: f64, h: f64 },
}

impl Reject {
    pub fn msg(&self) -> Msg {
        match self {
            Reject::UnknownTag(t) => Msg::new("safety.track.err.unknown_tag").arg("tag", t),
            Reject::OutsideMap { x, y, w, h } => Msg::new("safety.track.err.outside")
                .arg("x", x)
                .arg("y", y)
                .arg("w", w)
                .arg("h", h),
        }
    }
}

/// An alarm to raise or clear: its source (stable per cause), priority and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub source: String,
    pub raise: bool,
    pub priority: Priority,
    pub msg: Msg,
}

/// A person the tracker knows: id, name and tag.
#[derive(Debug, Clone)]
pub struct Wearer {
    pub person: u64,
    pub name: String,
    pub tag: String,
}

/// A point of a track, kept for playback.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackPoint {
    pub x: f32,
    pub y: f32,
    pub floor: i16,
}

/// Tags silent this long are taken as gone (left the plant, battery): they leave their zones.
pub const SILENT_MS: i64 = 120_000;
/// Moves shorter than this do not count as movement (positioning is ±3 m static at best, so
/// a still tag jitters; man-down compares against an anchor, not the last report).
const STILL_RADIUS_M: f64 = 2.5;
/// A track point is kept at most this often per person, or when it moved this far.
const TRACK_MS: i64 = 5_000;
const TRACK_M: f64 = 2.0;

struct ZoneIdx {
    zone: Zone,
    bbox: [f64; 4],
}

impl ZoneIdx {
    fn contains(&self, x: f64, y: f64, floor: i32) -> bool {
        if self.zone.floor.is_some_and(|f| f != floor) {
            return false;
        }
        let [x0, y0, x1, y1] = self.bbox;
        x >= x0 && x <= x1 && y >= y0 && y <= y1 && point_in_polygon(&self.zone.polygon, x, y)
    }
}

/// Even-odd rule (ray casting).
pub fn point_in_polygon(poly: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut inside = false;
    let n = poly.len();
    let mut j = n.wrapping_sub(1);
    for i in 0..n {
        let [xi, yi] = poly[i];
        let [xj, yj] = poly[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[derive(Debug, Clone)]
struct Slot {
    person: u64,
    name: String,
    x: f64,
    y: f64,
    floor: i32,
    seen_ms: i64,
    /// Where it last moved from, and when.
    anchor: (f64, f64),
    moved_ms: i64,
    zones: Vec<u32>,
    sos: bool,
    track_ms: i64,
    track_at: (f64, f64),
    present: bool,
}

/// What a person is doing now, for the live map.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Seen {
    pub person: u64,
    pub name: String,
    pub x: f64,
    pub y: f64,
    pub floor: i32,
    pub seen_ms: i64,
    pub zones: Vec<u64>,
    pub sos: bool,
    /// Not moved for at least this many seconds.
    pub still_s: i64,
}

/// The live state of every tag and zone.
pub struct Tracker {
    w: f64,
    h: f64,
    zones: Vec<ZoneIdx>,
    tags: HashMap<String, usize>,
    slots: Vec<Slot>,
    occupancy: Vec<u32>,
    /// Zone index → people a working permit located in it names.
    allowed: HashMap<u32, HashSet<u64>>,
    /// Sources of the alarms standing now.
    active: HashSet<String>,
    /// Zone index → since when its aggregation condition holds.
    crowd_since: HashMap<u32, i64>,
    /// Track points not yet written.
    track: Vec<(u64, i64, TrackPoint)>,
    pub accepted: u64,
    pub rejected: u64,
    pub last_ms: i64,
}

impl Tracker {
    pub fn new(map: &PlantMap, zones: Vec<Zone>, wearers: Vec<Wearer>) -> Tracker {
        let mut t = Tracker {
            w: map.width_m,
            h: map.height_m,
            zones: Vec::new(),
            tags: HashMap::new(),
            slots: Vec::new(),
            occupancy: Vec::new(),
            allowed: HashMap::new(),
            active: HashSet::new(),
            crowd_since: HashMap::new(),
            track: Vec::new(),
            accepted: 0,
            rejected: 0,
            last_ms: 0,
        };
        t.set_zones(zones);
        t.set_wearers(wearers);
        t
    }

    /// Replaces the zones: memberships are recomputed from the last positions (without
    /// entry alarms; permit-only zones are re-checked by `set_allowed`), and the alarms of
    /// zones that are gone are cleared (returned).
    pub fn set_zones(&mut self, zones: Vec<Zone>) -> Vec<Change> {
        self.zones = zones
            .into_iter()
            .map(|zone| {
                let mut bbox = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
                for [x, y] in &zone.polygon {
                    bbox = [
                        bbox[0].min(*x),
                        bbox[1].min(*y),
                        bbox[2].max(*x),
                        bbox[3].max(*y),
                    ];
                }
                ZoneIdx { zone, bbox }
            })
            .collect();
        self.occupancy = vec![0; self.zones.len()];
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            let zones: Vec<u32> = if s.present {
                (0..self.zones.len() as u32)
                    .filter(|z| self.zones[*z as usize].contains(s.x, s.y, s.floor))
                    .collect()
            } else {
                Vec::new()
            };
            for z in &zones {
                self.occupancy[*z as usize] += 1;
            }
            self.slots[i].zones = zones;
        }
        self.crowd_since.clear();
        let ids: HashSet<String> = self
            .zones
            .iter()
            .map(|z| format!("safety.zone:{}:", z.zone.id))
            .collect();
        self.drop_alarms(|src| {
            src.starts_with("safety.zone:")
                && !ids.iter().any(|prefix| src.starts_with(prefix.as_str()))
        })
    }

    /// Clears (and returns the changes of) the standing alarms whose source matches.
    fn drop_alarms(&mut self, gone: impl Fn(&str) -> bool) -> Vec<Change> {
        let stale: Vec<String> = self.active.iter().filter(|s| gone(s)).cloned().collect();
        stale
            .into_iter()
            .map(|source| {
                self.active.remove(&source);
                Change {
                    source,
                    raise: false,
                    priority: Priority::Low,
                    msg: Msg::new("safety.track.alarm.gone"),
                }
            })
            .collect()
    }

    pub fn set_map(&mut self, map: &PlantMap) {
        self.w = map.width_m;
        self.h = map.height_m;
    }

    /// Replaces who wears which tag, keeping the state of people who keep their tag; the
    /// alarms of people no longer tracked are cleared (returned).
    pub fn set_wearers(&mut self, wearers: Vec<Wearer>) -> Vec<Change> {
        let old: HashMap<u64, Slot> = self.slots.drain(..).map(|s| (s.person, s)).collect();
        self.tags.clear();
        for w in wearers.into_iter().filter(|w| !w.tag.is_empty()) {
            let slot = old.get(&w.person).cloned().unwrap_or(Slot {
                person: w.person,
                name: w.name.clone(),
                x: 0.0,
                y: 0.0,
                floor: 0,
                seen_ms: 0,
                anchor: (0.0, 0.0),
                moved_ms: 0,
                zones: Vec::new(),
                sos: false,
                track_ms: 0,
                track_at: (0.0, 0.0),
                present: false,
            });
            self.tags.insert(w.tag, self.slots.len());
            self.slots.push(Slot {
                name: w.name,
                ..slot
            });
        }
        self.occupancy = vec![0; self.zones.len()];
        for s in &self.slots {
            for z in &s.zones {
                self.occupancy[*z as usize] += 1;
            }
        }
        let kept: HashSet<u64> = self.slots.iter().map(|s| s.person).collect();
        self.drop_alarms(|src| {
            let person = src
                .strip_prefix("safety.person:")
                .and_then(|r| r.split(':').next())
                .or_else(|| src.split(":forbidden:").nth(1));
            person
                .and_then(|p| p.parse::<u64>().ok())
                .is_some_and(|p| !kept.contains(&p))
        })
    }

    /// Who may be in each permit-required zone: zone id → person ids. People already inside
    /// are judged again (a permit that ended makes them trespassers; one that started lets
    /// them in); the alarm changes are returned.
    pub fn set_allowed(&mut self, by_zone_id: HashMap<u64, HashSet<u64>>) -> Vec<Change> {
        self.allowed = self
            .zones
            .iter()
            .enumerate()
            .filter_map(|(i, z)| by_zone_id.get(&z.zone.id).map(|s| (i as u32, s.clone())))
            .collect();
        let mut out = Vec::new();
        for i in 0..self.slots.len() {
            let (person, name, zones) = {
                let s = &self.slots[i];
                if !s.present {
                    continue;
                }
                (s.person, s.name.clone(), s.zones.clone())
            };
            for z in zones {
                let zone = &self.zones[z as usize].zone;
                if !zone.rules.permit_required {
                    continue;
                }
                let zid = zone.id;
                let on = !self.allowed.get(&z).is_some_and(|s| s.contains(&person));
                let msg = self
                    .zone_msg("safety.track.alarm.forbidden", z)
                    .arg("name", &name);
                self.set_alarm(
                    &mut out,
                    Self::forbidden_source(zid, person),
                    on,
                    Priority::High,
                    msg,
                );
            }
        }
        out
    }

    pub fn zones(&self) -> impl Iterator<Item = &Zone> {
        self.zones.iter().map(|z| &z.zone)
    }

    /// People in each zone now (zone id, count).
    pub fn occupancy(&self) -> Vec<(u64, u32)> {
        self.zones
            .iter()
            .zip(&self.occupancy)
            .map(|(z, n)| (z.zone.id, *n))
            .collect()
    }

    fn zone_msg(&self, key: &'static str, z: u32) -> Msg {
        Msg::new(key).arg("zone", &self.zones[z as usize].zone.name)
    }

    fn set_alarm(
        &mut self,
        out: &mut Vec<Change>,
        source: String,
        on: bool,
        priority: Priority,
        msg: Msg,
    ) {
        let was = self.active.contains(&source);
        if on && !was {
            self.active.insert(source.clone());
            out.push(Change {
                source,
                raise: true,
                priority,
                msg,
            });
        } else if !on && was {
            self.active.remove(&source);
            out.push(Change {
                source,
                raise: false,
                priority,
                msg,
            });
        }
    }

    fn forbidden_source(zone: u64, person: u64) -> String {
        format!("safety.zone:{zone}:forbidden:{person}")
    }

    /// Takes one position. Refused positions change nothing.
    pub fn ingest(&mut self, u: &Update, now_ms: i64) -> Result<Vec<Change>, Reject> {
        let Some(&i) = self.tags.get(&u.tag) else {
            self.rejected += 1;
            return Err(Reject::UnknownTag(u.tag.clone()));
        };
        if !(u.x.is_finite() && u.y.is_finite())
            || u.x < 0.0
            || u.y < 0.0
            || u.x > self.w
            || u.y > self.h
        {
            self.rejected += 1;
            return Err(Reject::OutsideMap {
                x: u.x,
                y: u.y,
                w: self.w,
                h: self.h,
            });
        }
        self.accepted += 1;
        let at = u.at_ms.unwrap_or(now_ms).min(now_ms);
        // a late report (older than what we have) changes nothing
        if self.slots[i].present && at < self.slots[i].seen_ms {
            return Ok(Vec::new());
        }
        self.last_ms = self.last_ms.max(at);
        let mut out = Vec::new();
        let slot = &mut self.slots[i];
        if !slot.present
            || ((u.x - slot.anchor.0).powi(2) + (u.y - slot.anchor.1).powi(2)).sqrt()
                > STILL_RADIUS_M
        {
            slot.anchor = (u.x, u.y);
            slot.moved_ms = at;
        }
        (slot.x, slot.y, slot.floor, slot.seen_ms, slot.present) = (u.x, u.y, u.floor, at, true);
        if at - slot.track_ms >= TRACK_MS
            || ((u.x - slot.track_at.0).powi(2) + (u.y - slot.track_at.1).powi(2)).sqrt() >= TRACK_M
        {
            slot.track_ms = at;
            slot.track_at = (u.x, u.y);
            let p = TrackPoint {
                x: u.x as f32,
                y: u.y as f32,
                floor: u.floor as i16,
            };
            self.track.push((slot.person, at, p));
        }
        let (person, name) = (slot.person, slot.name.clone());
        // SOS: raised while the tag reports it
        if u.sos != self.slots[i].sos {
            self.slots[i].sos = u.sos;
        }
        self.set_alarm(
            &mut out,
            format!("safety.person:{person}:sos"),
            u.sos,
            Priority::Urgent,
            Msg::new("safety.track.alarm.sos")
                .arg("name", &name)
                .arg("x", format!("{:.0}", u.x))
                .arg("y", format!("{:.0}", u.y)),
        );
        // zones
        let now_in: Vec<u32> = (0..self.zones.len() as u32)
            .filter(|z| self.zones[*z as usize].contains(u.x, u.y, u.floor))
            .collect();
        let before = std::mem::take(&mut self.slots[i].zones);
        for z in before.iter().filter(|z| !now_in.contains(z)) {
            self.occupancy[*z as usize] -= 1;
            self.leave(&mut out, *z, person, &name);
        }
        for z in now_in.iter().filter(|z| !before.contains(z)) {
            self.occupancy[*z as usize] += 1;
            self.enter(&mut out, *z, person, &name);
        }
        self.slots[i].zones = now_in;
        Ok(out)
    }

    fn enter(&mut self, out: &mut Vec<Change>, z: u32, person: u64, name: &str) {
        let zone = &self.zones[z as usize].zone;
        let zid = zone.id;
        if zone.rules.permit_required && !self.allowed.get(&z).is_some_and(|s| s.contains(&person))
        {
            let msg = self
                .zone_msg("safety.track.alarm.forbidden", z)
                .arg("name", name);
            self.set_alarm(
                out,
                Self::forbidden_source(zid, person),
                true,
                Priority::High,
                msg,
            );
        }
        self.check_occupancy(out, z);
    }

    /// Leaves a zone: its forbidden alarm clears, occupancy is re-checked, and (unless the
    /// tag went silent, when it matters most) the man-down alarm clears.
    fn leave(&mut self, out: &mut Vec<Change>, z: u32, person: u64, name: &str) {
        self.leave_zone(out, z, person, name, true)
    }

    fn leave_zone(
        &mut self,
        out: &mut Vec<Change>,
        z: u32,
        person: u64,
        name: &str,
        clear_still: bool,
    ) {
        let zid = self.zones[z as usize].zone.id;
        let msg = self
            .zone_msg("safety.track.alarm.forbidden", z)
            .arg("name", name);
        self.set_alarm(
            out,
            Self::forbidden_source(zid, person),
            false,
            Priority::High,
            msg,
        );
        self.check_occupancy(out, z);
        if clear_still {
            self.set_alarm(
                out,
                format!("safety.person:{person}:still"),
                false,
                Priority::Urgent,
                Msg::new("safety.track.alarm.still").arg("name", name),
            );
        }
    }

    fn check_occupancy(&mut self, out: &mut Vec<Change>, z: u32) {
        let zone = &self.zones[z as usize].zone;
        let Some(max) = zone.rules.max_occupancy else {
            return;
        };
        let n = self.occupancy[z as usize];
        let msg = self
            .zone_msg("safety.track.alarm.occupancy", z)
            .arg("n", n)
            .arg("max", max);
        let source = format!("safety.zone:{}:occupancy", zone.id);
        self.set_alarm(out, source, n > max, Priority::Medium, msg);
    }

    /// Time-dependent rules: silent tags leave their zones, man-down after stillness,
    /// aggregation held long enough.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Change> {
        let mut out = Vec::new();
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            if !s.present {
                continue;
            }
            let (person, name) = (s.person, s.name.clone());
            if now_ms - s.seen_ms > SILENT_MS {
                let zones = std::mem::take(&mut self.slots[i].zones);
                self.slots[i].present = false;
                for z in zones {
                    self.occupancy[z as usize] -= 1;
                    self.leave_zone(&mut out, z, person, &name, false);
                }
                continue;
            }
            let still_for = now_ms - s.moved_ms;
            let limit = s
                .zones
                .iter()
                .filter_map(|z| self.zones[*z as usize].zone.rules.still_seconds)
                .min();
            let down = limit.is_some_and(|l| still_for >= l as i64 * 1000);
            let msg = Msg::new("safety.track.alarm.still")
                .arg("name", &name)
                .arg("minutes", still_for / 60_000)
                .arg("x", format!("{:.0}", s.x))
                .arg("y", format!("{:.0}", s.y));
            self.set_alarm(
                &mut out,
                format!("safety.person:{person}:still"),
                down,
                Priority::Urgent,
                msg,
            );
        }
        for z in 0..self.zones.len() as u32 {
            let Some(rule) = self.zones[z as usize].zone.rules.aggregation.clone() else {
                continue;
            };
            let crowd = self.largest_group(z, &rule);
            let holds = crowd >= rule.people as usize;
            let since = if holds {
                *self.crowd_since.entry(z).or_insert(now_ms)
            } else {
                self.crowd_since.remove(&z);
                now_ms
            };
            let on = holds && now_ms - since >= rule.seconds as i64 * 1000;
            let msg = self
                .zone_msg("safety.track.alarm.aggregation", z)
                .arg("n", crowd)
                .arg("radius", rule.radius_m)
                .arg("seconds", rule.seconds);
            let source = format!("safety.zone:{}:aggregation", self.zones[z as usize].zone.id);
            self.set_alarm(&mut out, source, on, Priority::High, msg);
        }
        out
    }

    /// The most people within `radius` of one of them, in zone `z`.
    fn largest_group(&self, z: u32, rule: &Aggregation) -> usize {
        let inside: Vec<(f64, f64)> = self
            .slots
            .iter()
            .filter(|s| s.present && s.zones.contains(&z))
            .map(|s| (s.x, s.y))
            .collect();
        if inside.len() < rule.people as usize {
            return inside.len().min(1);
        }
        let r2 = rule.radius_m * rule.radius_m;
        inside
            .iter()
            .map(|(x, y)| {
                inside
                    .iter()
                    .filter(|(a, b)| (a - x).powi(2) + (b - y).powi(2) <= r2)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// Track points gathered since the last call.
    pub fn take_track(&mut self) -> Vec<(u64, i64, TrackPoint)> {
        std::mem::take(&mut self.track)
    }

    /// Everyone seen recently, for the live map.
    pub fn seen(&self, now_ms: i64) -> Vec<Seen> {
        self.slots
            .iter()
            .filter(|s| s.present)
            .map(|s| Seen {
                person: s.person,
                name: s.name.clone(),
                x: s.x,
                y: s.y,
                floor: s.floor,
                seen_ms: s.seen_ms,
                zones: s
                    .zones
                    .iter()
                    .map(|z| self.zones[*z as usize].zone.id)
                    .collect(),
                sos: s.sos,
                still_s: (now_ms - s.moved_ms) / 1000,
            })
            .collect()
    }

    /// The sources of the alarms standing now.
    pub fn active(&self) -> &HashSet<String> {
        &self.active
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::ZoneRules;
    use super::*;

    fn square(id: u64, x: f64, y: f64, side: f64, rules: ZoneRules) -> Zone {
        Zone {
            id,
            name: format!("Z{id}"),
            polygon: vec![[x, y], [x + side, y], [x + side, y + side], [x, y + side]],
            floor: None,
            rules,
        }
    }

    fn tracker(zones: Vec<Zone>, n: u64) -> Tracker {
        let wearers = (1..=n)
            .map(|i| Wearer {
                person: i,
                name: format!("P{i}"),
                tag: format!("T{i}"),
            })
            .collect();
        Tracker::new(&PlantMap::default(), zones, wearers)
    }

    fn at(tag: u64, x: f64, y: f64) -> Update {
        Update {
            tag: format!("T{tag}"),
            x,
            y,
            floor: 0,
            at_ms: None,
            sos: false,
        }
    }

    fn raised(c: &[Change]) -> Vec<(String, bool)> {
        c.iter().map(|c| (c.source.clone(), c.raise)).collect()
    }

    #[test]
    fn polygons_contain_what_they_should() {
        let l = [
            [0.0, 0.0],
            [10.0, 0.0],
            [10.0, 4.0],
            [4.0, 4.0],
            [4.0, 10.0],
            [0.0, 10.0],
        ];
        assert!(point_in_polygon(&l, 2.0, 8.0));
        assert!(point_in_polygon(&l, 8.0, 2.0));
        assert!(!point_in_polygon(&l, 8.0, 8.0));
        assert!(!point_in_polygon(&l, -1.0, 2.0));
    }

    #[test]
    fn unknown_tags_and_positions_off_the_map_are_refused() {
        let mut t = tracker(vec![], 1);
        assert!(matches!(
            t.ingest(&at(9, 1.0, 1.0), 0),
            Err(Reject::UnknownTag(_))
        ));
        assert!(matches!(
            t.ingest(&at(1, 401.0, 1.0), 0),
            Err(Reject::OutsideMap { .. })
        ));
        assert!(matches!(
            t.ingest(&at(1, f64::NAN, 1.0), 0),
            Err(Reject::OutsideMap { .. })
        ));
        assert_eq!((t.accepted, t.rejected), (0, 3));
        assert!(t.seen(0).is_empty());
    }

    #[test]
    fn forbidden_zones_need_a_permit_naming_the_person() {
        let rules = ZoneRules {
            permit_required: true,
            ..Default::default()
        };
        let mut t = tracker(vec![square(7, 100.0, 100.0, 20.0, rules)], 2);
        t.set_allowed(HashMap::from([(7, HashSet::from([2]))]));
        let c = t.ingest(&at(1, 110.0, 110.0), 1000).unwrap();
        assert_eq!(raised(&c), vec![("safety.zone:7:forbidden:1".into(), true)]);
        assert!(
            t.ingest(&at(2, 111.0, 111.0), 1000).unwrap().is_empty(),
            "P2 has a permit"
        );
        let c = t.ingest(&at(1, 50.0, 50.0), 2000).unwrap();
        assert_eq!(
            raised(&c),
            vec![("safety.zone:7:forbidden:1".into(), false)]
        );
        assert_eq!(t.occupancy(), vec![(7, 1)]);
        // P2's permit ends while P2 is inside: now a trespasser; a new permit lets P2 in again
        let c = t.set_allowed(HashMap::new());
        assert_eq!(raised(&c), vec![("safety.zone:7:forbidden:2".into(), true)]);
        let c = t.set_allowed(HashMap::from([(7, HashSet::from([2]))]));
        assert_eq!(
            raised(&c),
            vec![("safety.zone:7:forbidden:2".into(), false)]
        );
        // a late report changes nothing
        let mut late = at(2, 300.0, 200.0);
        late.at_ms = Some(500);
        assert!(t.ingest(&late, 3000).unwrap().is_empty());
        assert_eq!(t.occupancy(), vec![(7, 1)]);
        // the zone removed: memberships recomputed, nothing standing to clear
        let c = t.set_zones(Vec::new());
        assert!(c.is_empty());
        assert!(t.occupancy().is_empty());
    }

    #[test]
    fn occupancy_over_the_maximum() {
        let rules = ZoneRules {
            max_occupancy: Some(2),
            ..Default::default()
        };
        let mut t = tracker(vec![square(3, 0.0, 0.0, 50.0, rules)], 3);
        t.ingest(&at(1, 10.0, 10.0), 0).unwrap();
        t.ingest(&at(2, 20.0, 10.0), 0).unwrap();
        let c = t.ingest(&at(3, 30.0, 10.0), 0).unwrap();
        assert_eq!(raised(&c), vec![("safety.zone:3:occupancy".into(), true)]);
        let c = t.ingest(&at(3, 80.0, 10.0), 0).unwrap();
        assert_eq!(raised(&c), vec![("safety.zone:3:occupancy".into(), false)]);
    }

    #[test]
    fn man_down_after_stillness_despite_jitter_and_silent_tags_leave() {
        let rules = ZoneRules {
            still_seconds: Some(60),
            ..Default::default()
        };
        let mut t = tracker(vec![square(1, 0.0, 0.0, 100.0, rules)], 1);
        let mut u = at(1, 50.0, 50.0);
        for s in 0..=70 {
            // ±1 m of positioning jitter is not movement
            u.x = 50.0 + if s % 2 == 0 { 1.0 } else { -0.8 };
            u.at_ms = Some(s * 1000);
            t.ingest(&u, s * 1000).unwrap();
        }
        assert!(t.tick(50_000).is_empty());
        assert_eq!(
            raised(&t.tick(61_000)),
            vec![("safety.person:1:still".into(), true)]
        );
        // moving again clears it
        let mut m = at(1, 60.0, 50.0);
        m.at_ms = Some(71_000);
        t.ingest(&m, 71_000).unwrap();
        assert_eq!(
            raised(&t.tick(72_000)),
            vec![("safety.person:1:still".into(), false)]
        );
        // still again for over a minute, then silence: the tag leaves its zone, but the
        // man-down alarm stays (a tag silent inside a vessel is when it matters)
        for s in 72..=140 {
            t.tick(s * 1000);
        }
        assert!(t.active().contains("safety.person:1:still"));
        t.tick(71_000 + SILENT_MS + 1);
        assert_eq!(t.occupancy(), vec![(1, 0)]);
        assert!(t.seen(300_000).is_empty());
        assert!(t.active().contains("safety.person:1:still"));
        // the person is deleted: the alarm clears
        let c = t.set_wearers(Vec::new());
        assert_eq!(raised(&c), vec![("safety.person:1:still".into(), false)]);
    }

    #[test]
    fn sos_and_aggregation() {
        let rules = ZoneRules {
            aggregation: Some(Aggregation {
                people: 3,
                radius_m: 15.0,
                seconds: 60,
            }),
            ..Default::default()
        };
        let mut t = tracker(vec![square(5, 0.0, 0.0, 200.0, rules)], 4);
        let mut s = at(4, 150.0, 150.0);
        s.sos = true;
        assert_eq!(
            raised(&t.ingest(&s, 0).unwrap()),
            vec![("safety.person:4:sos".into(), true)]
        );
        for (i, x) in [(1, 10.0), (2, 18.0), (3, 24.0)] {
            t.ingest(&at(i, x, 10.0), 0).unwrap();
        }
        assert!(
            t.tick(1_000)
                .iter()
                .all(|c| !c.source.contains("aggregation"))
        );
        t.ingest(&at(1, 10.0, 10.0), 30_000).unwrap();
        assert_eq!(
            raised(&t.tick(61_000)),
            vec![("safety.zone:5:aggregation".into(), true)]
        );
        // spread out: 3 m → 60 m apart
        t.ingest(&at(3, 90.0, 10.0), 62_000).unwrap();
        assert_eq!(
            raised(&t.tick(63_000)),
            vec![("safety.zone:5:aggregation".into(), false)]
        );
    }
}
