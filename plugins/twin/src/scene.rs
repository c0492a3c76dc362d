//! The plant as the twin joins it (pure): the records each module gives through the
//! contract, put in their places on the plant layout, and each alarm, permit and person
//! assigned to the zone and the equipment it concerns. Nothing here calls the host, so the
//! joins are tested natively.
//!
//! Coordinates are the safety module's: metres from the layout's bottom-left corner, x to
//! the right, y up. The pages flip y for the map (`height - y`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

fn yes() -> bool {
    true
}

/// `safety.layout`.
#[derive(Debug, Clone, Deserialize)]
pub struct Layout {
    pub width_m: f64,
    pub height_m: f64,
}

impl Default for Layout {
    /// The safety module's default layout (400 × 300 m), for a twin that may not read it.
    fn default() -> Self {
        Layout {
            width_m: 400.0,
            height_m: 300.0,
        }
    }
}

/// `safety.zones`.
#[derive(Debug, Clone, Deserialize)]
pub struct Zone {
    pub id: u64,
    pub name: String,
    pub polygon: Vec<[f64; 2]>,
    #[serde(default)]
    pub permit_required: bool,
    #[serde(default)]
    pub max_occupancy: Option<u32>,
    #[serde(default)]
    pub people: u32,
}

impl Zone {
    pub fn contains(&self, x: f64, y: f64) -> bool {
        inside(&self.polygon, x, y)
    }

    /// The centre of the polygon's bounding box.
    pub fn centre(&self) -> (f64, f64) {
        let (x0, y0, x1, y1) = bounds(&self.polygon);
        ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    }

    /// A point inside the polygon near its middle: the bounding box's centre when inside,
    /// else the nearest inside point of a 20 × 20 grid over the box (an L- or U-shaped zone).
    pub fn inner_point(&self) -> (f64, f64) {
        let (cx, cy) = self.centre();
        if self.contains(cx, cy) {
            return (cx, cy);
        }
        let (x0, y0, x1, y1) = bounds(&self.polygon);
        let mut best: Option<(f64, (f64, f64))> = None;
        for i in 0..20 {
            for j in 0..20 {
                let x = x0 + (x1 - x0) * (f64::from(i) + 0.5) / 20.0;
                let y = y0 + (y1 - y0) * (f64::from(j) + 0.5) / 20.0;
                let d = (x - cx).powi(2) + (y - cy).powi(2);
                if self.contains(x, y) && best.is_none_or(|(b, _)| d < b) {
                    best = Some((d, (x, y)));
                }
            }
        }
        best.map_or((cx, cy), |(_, p)| p)
    }
}

/// `(min x, min y, max x, max y)` of some points.
pub fn bounds(points: &[[f64; 2]]) -> (f64, f64, f64, f64) {
    points.iter().fold(
        (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
        |(a, b, c, d), p| (a.min(p[0]), b.min(p[1]), c.max(p[0]), d.max(p[1])),
    )
}

/// Whether (x, y) lies inside the polygon (even-odd rule).
pub fn inside(poly: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut hit = false;
    let n = poly.len();
    for i in 0..n {
        let [xi, yi] = poly[i];
        let [xj, yj] = poly[(i + n - 1) % n];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            hit = !hit;
        }
    }
    hit
}

/// `safety.positions`.
#[derive(Debug, Clone, Deserialize)]
pub struct Position {
    pub person: u64,
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    pub x: f64,
    pub y: f64,
    #[serde(default)]
    pub zones: Vec<u64>,
    #[serde(default)]
    pub sos: bool,
    #[serde(default)]
    pub still_s: i64,
}

/// `safety.people`: head counts by the gates.
#[derive(Debug, Clone, Deserialize)]
pub struct HeadCount {
    pub area: String,
    pub people: u64,
    pub vehicles: u64,
}

/// `safety.permits`.
#[derive(Debug, Clone, Deserialize)]
pub struct Permit {
    pub id: u64,
    pub number: String,
    pub work: String,
    #[serde(default)]
    pub level: Option<String>,
    pub state: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub workers: u32,
    #[serde(default)]
    pub end_ms: i64,
    #[serde(default)]
    pub x: f64,
    #[serde(default)]
    pub y: f64,
}

/// `equipment.assets`.
#[derive(Debug, Clone, Deserialize)]
pub struct Asset {
    pub id: u64,
    pub tag_no: String,
    pub name: String,
    #[serde(default)]
    pub location: String,
    pub status: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub vibration_zone: Option<String>,
}

/// `equipment.work_orders` (the open ones).
#[derive(Debug, Clone, Deserialize)]
pub struct WorkOrder {
    pub id: u64,
    pub number: String,
    pub equipment: String,
    pub title: String,
    #[serde(default)]
    pub stopped: bool,
}

/// `production.oee`: a process unit now.
#[derive(Debug, Clone, Deserialize)]
pub struct Unit {
    pub unit: String,
    pub name: String,
    #[serde(default)]
    pub running: Option<String>,
    #[serde(default)]
    pub phase: Option<String>,
}

/// `alarms.active`.
#[derive(Debug, Clone, Deserialize)]
pub struct Alarm {
    pub id: u64,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub area: String,
    pub priority: String,
    pub state: String,
    /// The condition holds now (not returned to normal).
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub message_zh: String,
    #[serde(default)]
    pub message_en: String,
}

impl Alarm {
    /// Urgent and high alarms whose condition holds colour red; the others (and those
    /// returned to normal but not yet acknowledged) amber.
    pub fn serious(&self) -> bool {
        self.active && matches!(self.priority.as_str(), "urgent" | "high")
    }

    /// Shelved, suppressed and out-of-service alarms are not shown on the map (ISA-18.2:
    /// the operator has taken them off the list on purpose).
    pub fn shown(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "shelved" | "suppressed" | "out_of_service"
        )
    }

    /// The person a zone's alarm names (`safety.zone:<zone>:forbidden:<person>`).
    fn zone_person(&self) -> Option<u64> {
        let s = self.source.as_deref()?.strip_prefix("safety.zone:")?;
        let mut parts = s.split(':');
        let (_, what, person) = (parts.next()?, parts.next()?, parts.next()?);
        (what == "forbidden").then(|| person.parse().ok())?
    }

    /// The record a module's alarm names by its source: (`zone`/`person`/`permit`, id).
    fn subject(&self) -> Option<(&'static str, u64)> {
        let s = self.source.as_deref()?;
        let (head, rest) = s.split_once(':')?;
        let kind = match head {
            "safety.zone" => "zone",
            "safety.person" => "person",
            h if h.starts_with("safety.permit") => "permit",
            _ => return None,
        };
        // `safety.zone:<id>:…`; a permit's id is the last field (`safety.permit_gas_failed:9`)
        let id = if kind == "permit" {
            rest.rsplit(':').next()?
        } else {
            rest.split(':').next()?
        };
        Some((kind, id.parse().ok()?))
    }
}

/// Where an engineer placed a piece of equipment (metres, y up).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub x: f64,
    pub y: f64,
}

/// How a place was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Placed by hand.
    Kept,
    /// Beside the unit it is part of.
    Parent,
    /// In the zone its ledger location names.
    Location,
}

/// Everything the twin read, each part `None` when the plugin may not read it (not
/// granted, or its module switched off).
#[derive(Debug, Clone, Default)]
pub struct Records {
    pub layout: Option<Layout>,
    pub zones: Option<Vec<Zone>>,
    pub positions: Option<Vec<Position>>,
    pub heads: Option<Vec<HeadCount>>,
    pub permits: Option<Vec<Permit>>,
    pub assets: Option<Vec<Asset>>,
    pub orders: Option<Vec<WorkOrder>>,
    pub units: Option<Vec<Unit>>,
    pub alarms: Option<Vec<Alarm>>,
}

/// The plant joined.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    pub layout: Layout,
    pub zones: Vec<Zone>,
    pub people: Vec<Position>,
    /// The permits read (of the last days); [`Scene::at_work`] those at work.
    pub permits: Vec<Permit>,
    pub assets: Vec<Asset>,
    /// Asset index → where it is and how that was found.
    pub places: HashMap<usize, (Place, Placed)>,
    pub alarms: Vec<Alarm>,
    /// Alarm index → what it is about.
    pub alarm_at: Vec<At>,
    /// Shelved, suppressed and out-of-service alarms (off the colours, counted per zone:
    /// an out-of-service detector is a protection missing) and what each is about.
    pub hidden: Vec<(Alarm, At)>,
    /// The alarms and the positions could be read: without them nothing is called normal.
    pub alarms_known: bool,
    pub people_known: bool,
    /// Tag number → open orders on it.
    pub orders: BTreeMap<String, Vec<WorkOrder>>,
    /// Unit code → the unit now.
    pub units: HashMap<String, Unit>,
    pub vehicles: Option<u64>,
    pub on_site: Option<u64>,
}

/// What an alarm is about on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct At {
    pub zone: Option<u64>,
    /// An asset index.
    pub asset: Option<usize>,
    pub person: Option<u64>,
}

/// Alarm areas (`resin`) on the layout's zones by name (`resin=聚合车间; tank_farm=罐区`).
pub fn parse_areas(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for part in text
        .split([';', '；', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((area, zone)) = part.split_once('=') else {
            return Err(format!("“{part}” is not area=zone"));
        };
        let (area, zone) = (area.trim(), zone.trim());
        if area.is_empty() || zone.is_empty() {
            return Err(format!("“{part}” is not area=zone"));
        }
        out.insert(area.to_string(), zone.to_string());
    }
    Ok(out)
}

impl Scene {
    /// Joins what was read. `kept`: places by tag number; `areas`: alarm area → zone name.
    pub fn join(
        r: Records,
        kept: &BTreeMap<String, Place>,
        areas: &BTreeMap<String, String>,
    ) -> Scene {
        let mut s = Scene {
            alarms_known: r.alarms.is_some(),
            people_known: r.positions.is_some(),
            layout: r.layout.unwrap_or_default(),
            zones: r.zones.unwrap_or_default(),
            people: r.positions.unwrap_or_default(),
            permits: r.permits.unwrap_or_default(),
            assets: r.assets.unwrap_or_default(),
            ..Default::default()
        };
        if let Some(heads) = &r.heads
            && let Some(plant) = heads.iter().find(|h| h.area == "plant")
        {
            s.vehicles = Some(plant.vehicles);
            s.on_site = Some(plant.people);
        }
        for o in r.orders.unwrap_or_default() {
            s.orders.entry(o.equipment.clone()).or_default().push(o);
        }
        s.units = r
            .units
            .unwrap_or_default()
            .into_iter()
            .map(|u| (u.unit.clone(), u))
            .collect();
        s.place_assets(kept);
        let (alarms, hidden): (Vec<Alarm>, Vec<Alarm>) = r
            .alarms
            .unwrap_or_default()
            .into_iter()
            .partition(Alarm::shown);
        s.alarm_at = alarms.iter().map(|a| s.locate(a, areas)).collect();
        s.hidden = hidden
            .into_iter()
            .map(|a| {
                let at = s.locate(&a, areas);
                (a, at)
            })
            .collect();
        s.alarms = alarms;
        s
    }

    /// Kept places first; then each unplaced piece beside its placed parent (6 m to the
    /// right per child, 3 m lower); then those whose ledger location names a zone, spread over
    /// the zone's middle; then the parts of units placed that way, beside them.
    fn place_assets(&mut self, kept: &BTreeMap<String, Place>) {
        for (i, a) in self.assets.iter().enumerate() {
            if let Some(p) = kept.get(&a.tag_no) {
                self.places.insert(i, (*p, Placed::Kept));
            }
        }
        self.place_children();
        let mut per_zone: HashMap<u64, usize> = HashMap::new();
        for (i, a) in self.assets.iter().enumerate() {
            if self.places.contains_key(&i) || a.location.is_empty() {
                continue;
            }
            // the longest zone name the location contains (罐区 in “罐区 东侧”)
            let Some(z) = self
                .zones
                .iter()
                .filter(|z| !z.name.is_empty() && a.location.contains(&z.name))
                .max_by_key(|z| z.name.chars().count())
            else {
                continue;
            };
            let n = per_zone.entry(z.id).or_default();
            let (cx, cy) = z.inner_point();
            let (x0, y0, x1, y1) = bounds(&z.polygon);
            let step = ((x1 - x0) / 6.0).clamp(2.0, 12.0);
            let (col, row) = ((*n % 4) as f64, (*n / 4) as f64);
            let x = (cx + (col - 1.5) * step).clamp(x0, x1);
            let y = (cy - row * step).clamp(y0, y1);
            // spread over the middle, but never outside the zone (an L-shaped hall)
            let p = if z.contains(x, y) {
                Place { x, y }
            } else {
                Place { x: cx, y: cy }
            };
            *n += 1;
            self.places.insert(i, (p, Placed::Location));
        }
        // a unit placed by its location takes its parts beside it
        self.place_children();
    }

    /// Each unplaced piece beside its placed parent, 6 m to the right of it per piece already
    /// there, 3 m lower, on the layout; parents placed through their own parents too (a few
    /// rounds reach every level).
    fn place_children(&mut self) {
        let index: HashMap<String, usize> = self
            .assets
            .iter()
            .enumerate()
            .map(|(i, a)| (a.tag_no.clone(), i))
            .collect();
        for _ in 0..4 {
            let mut found = Vec::new();
            let mut beside: HashMap<usize, usize> = HashMap::new();
            for (i, a) in self.assets.iter().enumerate() {
                let Some(parent) = a.parent.as_deref().and_then(|p| index.get(p)) else {
                    continue;
                };
                if self
                    .places
                    .get(&i)
                    .is_some_and(|(_, how)| *how == Placed::Parent)
                {
                    *beside.entry(*parent).or_default() += 1;
                }
            }
            for (i, a) in self.assets.iter().enumerate() {
                if self.places.contains_key(&i) {
                    continue;
                }
                let Some(parent) = a.parent.as_deref().and_then(|p| index.get(p)) else {
                    continue;
                };
                if let Some((p, _)) = self.places.get(parent) {
                    let n = beside.entry(*parent).or_default();
                    *n += 1;
                    found.push((
                        i,
                        Place {
                            x: p.x + 6.0 * *n as f64,
                            y: p.y - 3.0,
                        },
                    ));
                }
            }
            if found.is_empty() {
                break;
            }
            for (i, p) in found {
                let p = self.clamp(p);
                self.places.insert(i, (p, Placed::Parent));
            }
        }
    }

    /// A place kept on the layout.
    fn clamp(&self, p: Place) -> Place {
        Place {
            x: p.x.clamp(0.0, self.layout.width_m),
            y: p.y.clamp(0.0, self.layout.height_m),
        }
    }

    /// The zone a point is in (the first drawn that holds it).
    pub fn zone_at(&self, x: f64, y: f64) -> Option<u64> {
        self.zones.iter().find(|z| z.contains(x, y)).map(|z| z.id)
    }

    pub fn zone(&self, id: u64) -> Option<&Zone> {
        self.zones.iter().find(|z| z.id == id)
    }

    /// The zone a placed asset is in.
    pub fn asset_zone(&self, i: usize) -> Option<u64> {
        self.places
            .get(&i)
            .and_then(|(p, _)| self.zone_at(p.x, p.y))
    }

    /// What an alarm is about: a tag's equipment (and the zone it stands in), the zone,
    /// person or permit a module's alarm names, else the zone its area is mapped to.
    fn locate(&self, a: &Alarm, areas: &BTreeMap<String, String>) -> At {
        let mut at = At::default();
        if !a.tag.is_empty()
            && let Some(i) = self.assets.iter().position(|x| x.tags.contains(&a.tag))
        {
            at.asset = Some(i);
            at.zone = self.asset_zone(i);
        }
        match a.subject() {
            Some(("zone", id)) if self.zone(id).is_some() => {
                at.zone = Some(id);
                at.person = a.zone_person();
            }
            Some(("person", id)) => {
                at.person = Some(id);
                if let Some(p) = self.people.iter().find(|p| p.person == id) {
                    at.zone = p.zones.first().copied().or_else(|| self.zone_at(p.x, p.y));
                }
            }
            // a permit's alarm stands where the permit is, at work or not
            Some(("permit", id)) => {
                if let Some(p) = self.permits.iter().find(|p| p.id == id) {
                    at.zone = self.zone_at(p.x, p.y);
                }
            }
            _ => {}
        }
        if at.zone.is_none()
            && let Some(name) = areas.get(&a.area)
            && let Some(z) = self.zones.iter().find(|z| z.name == *name)
        {
            at.zone = Some(z.id);
        }
        at
    }

    /// The alarms about a zone (directly or through what stands in it).
    pub fn zone_alarms(&self, zone: u64) -> impl Iterator<Item = &Alarm> {
        self.alarms
            .iter()
            .zip(&self.alarm_at)
            .filter(move |(_, at)| at.zone == Some(zone))
            .map(|(a, _)| a)
    }

    pub fn asset_alarms(&self, i: usize) -> impl Iterator<Item = &Alarm> {
        self.alarms
            .iter()
            .zip(&self.alarm_at)
            .filter(move |(_, at)| at.asset == Some(i))
            .map(|(a, _)| a)
    }

    pub fn person_alarms(&self, person: u64) -> impl Iterator<Item = &Alarm> {
        self.alarms
            .iter()
            .zip(&self.alarm_at)
            .filter(move |(_, at)| at.person == Some(person))
            .map(|(a, _)| a)
    }

    /// Red: vibration zone D, a serious alarm on its tags, or an open order that stops it;
    /// amber: zone C, any other alarm, or under maintenance; green: running; grey: standby,
    /// stopped or scrapped.
    pub fn asset_state(&self, i: usize) -> State {
        let a = &self.assets[i];
        let alarms: Vec<&Alarm> = self.asset_alarms(i).collect();
        let stopped = self
            .orders
            .get(&a.tag_no)
            .is_some_and(|os| os.iter().any(|o| o.stopped));
        let zone = a.vibration_zone.as_deref();
        if zone == Some("D") || alarms.iter().any(|x| x.serious()) || stopped {
            State::Bad
        } else if zone == Some("C") || !alarms.is_empty() || a.status == "maintenance" {
            State::Warn
        } else if a.status == "running" && self.alarms_known {
            State::Good
        } else {
            State::Idle
        }
    }

    /// Red: an SOS, a serious alarm, more people than allowed, or equipment in red;
    /// amber: any other alarm or equipment in amber; green otherwise.
    pub fn zone_state(&self, id: u64) -> State {
        let Some(z) = self.zone(id) else {
            return State::Idle;
        };
        let alarms: Vec<&Alarm> = self.zone_alarms(id).collect();
        let sos = self.people.iter().any(|p| p.sos && p.zones.contains(&id));
        let crowded = z.max_occupancy.is_some_and(|m| z.people > m);
        let worst = (0..self.assets.len())
            .filter(|i| self.asset_zone(*i) == Some(id))
            .map(|i| self.asset_state(i))
            .max()
            .unwrap_or(State::Idle);
        if sos || crowded || alarms.iter().any(|a| a.serious()) || worst == State::Bad {
            State::Bad
        } else if !alarms.is_empty() || worst == State::Warn {
            State::Warn
        } else if self.alarms_known && self.people_known {
            State::Good
        } else {
            // nothing known to be wrong, but the alarms — or where people are, which places
            // their SOS and man-down alarms — could not be read: not "normal"
            State::Idle
        }
    }

    /// Permits on site: at work, or suspended (work stopped — a gas re-test, the weather —
    /// with the permit still open). A permit with no place on the layout (0, 0) has none.
    pub fn at_work(&self) -> impl Iterator<Item = &Permit> {
        self.permits
            .iter()
            .filter(|p| matches!(p.state.as_str(), "working" | "suspended"))
    }

    /// The hidden (shelved, suppressed, out-of-service) alarms about a zone.
    pub fn zone_hidden(&self, zone: u64) -> usize {
        self.hidden
            .iter()
            .filter(|(_, at)| at.zone == Some(zone))
            .count()
    }

    /// Permits at work in a zone.
    pub fn zone_permits(&self, id: u64) -> impl Iterator<Item = &Permit> {
        let z = self.zone(id);
        self.at_work()
            .filter(move |p| z.is_some_and(|z| z.contains(p.x, p.y)))
    }
}

/// How a thing is drawn, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Idle,
    Good,
    Warn,
    Bad,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(id: u64, name: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> Zone {
        Zone {
            id,
            name: name.into(),
            polygon: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
            permit_required: false,
            max_occupancy: Some(3),
            people: 0,
        }
    }

    fn asset(tag_no: &str, location: &str, parent: Option<&str>, tags: &[&str]) -> Asset {
        Asset {
            id: 0,
            tag_no: tag_no.into(),
            name: tag_no.into(),
            location: location.into(),
            status: "running".into(),
            parent: parent.map(Into::into),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            vibration_zone: None,
        }
    }

    fn alarm(tag: &str, source: Option<&str>, area: &str, priority: &str) -> Alarm {
        Alarm {
            id: 1,
            tag: tag.into(),
            source: source.map(Into::into),
            area: area.into(),
            priority: priority.into(),
            state: "unack".into(),
            active: true,
            message_zh: String::new(),
            message_en: String::new(),
        }
    }

    fn records() -> Records {
        Records {
            layout: Some(Layout {
                width_m: 400.0,
                height_m: 300.0,
            }),
            zones: Some(vec![
                zone(1, "聚合车间", 30.0, 170.0, 150.0, 260.0),
                zone(2, "罐区", 220.0, 170.0, 380.0, 280.0),
            ]),
            assets: Some(vec![
                asset("U-100", "树脂车间", None, &[]),
                asset("R101", "树脂车间", Some("U-100"), &["R101.TT101"]),
                asset("R101-M01", "树脂车间", Some("R101"), &["R101.M01.VT"]),
                asset("TK201", "罐区", None, &["TK201.LT"]),
                asset("TK202", "罐区 东侧", None, &[]),
                asset("C101", "空压站", None, &[]),
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn points_inside_and_outside_a_polygon() {
        let z = zone(1, "a", 0.0, 0.0, 10.0, 10.0);
        assert!(z.contains(5.0, 5.0));
        assert!(!z.contains(15.0, 5.0));
        assert!(!z.contains(5.0, -0.1));
        let tri = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        assert!(inside(&tri, 2.0, 2.0));
        assert!(!inside(&tri, 8.0, 8.0));
    }

    #[test]
    fn equipment_is_placed_by_hand_then_beside_its_unit_then_in_the_zone_its_location_names() {
        let kept = BTreeMap::from([("R101".to_string(), Place { x: 80.0, y: 220.0 })]);
        let s = Scene::join(records(), &kept, &BTreeMap::new());
        let at = |tag: &str| {
            let i = s.assets.iter().position(|a| a.tag_no == tag).unwrap();
            s.places.get(&i).copied()
        };
        assert_eq!(
            at("R101"),
            Some((Place { x: 80.0, y: 220.0 }, Placed::Kept))
        );
        // the agitator is part of R101: beside it
        let (m, how) = at("R101-M01").unwrap();
        assert_eq!(how, Placed::Parent);
        assert!(
            (m.x - 86.0).abs() < 1e-9 && (m.y - 217.0).abs() < 1e-9,
            "{m:?}"
        );
        // the tanks' location names the tank farm: inside it, apart from each other
        let (t1, how) = at("TK201").unwrap();
        let (t2, _) = at("TK202").unwrap();
        assert_eq!(how, Placed::Location);
        assert_eq!(s.zone_at(t1.x, t1.y), Some(2));
        assert_eq!(s.zone_at(t2.x, t2.y), Some(2));
        assert_ne!(t1, t2);
        // neither placed nor in a zone it names: not on the map
        assert_eq!(at("C101"), None);
        // the unit U-100 is not placed, its location names no zone
        assert_eq!(at("U-100"), None);
    }

    #[test]
    fn alarms_land_on_their_equipment_their_zone_or_the_zone_their_area_maps_to() {
        let mut r = records();
        r.alarms = Some(vec![
            alarm("R101.TT101", None, "resin", "high"),
            alarm("GD201", None, "tank_farm", "medium"),
            alarm("", Some("safety.zone:1:occupancy"), "safety", "medium"),
            alarm("", Some("safety.permit_gas_failed:9"), "safety", "high"),
            alarm("", Some("plugin:energy:baseline:em01"), "", "medium"),
            Alarm {
                state: "shelved".into(),
                ..alarm("TK201.LT", None, "tank_farm", "high")
            },
        ]);
        r.permits = Some(vec![Permit {
            id: 9,
            number: "SX-1".into(),
            work: "confined_space".into(),
            level: None,
            state: "working".into(),
            content: String::new(),
            location: String::new(),
            workers: 2,
            end_ms: 0,
            x: 300.0,
            y: 200.0,
        }]);
        let kept = BTreeMap::from([("R101".to_string(), Place { x: 80.0, y: 220.0 })]);
        let areas = parse_areas("tank_farm=罐区").unwrap();
        let s = Scene::join(r, &kept, &areas);
        assert_eq!(s.alarms.len(), 5, "the shelved alarm is not shown");
        let r101 = s.assets.iter().position(|a| a.tag_no == "R101").unwrap();
        assert_eq!(
            s.alarm_at[0],
            At {
                zone: Some(1),
                asset: Some(r101),
                person: None
            }
        );
        // GD201 is no equipment in the ledger: its area's zone
        assert_eq!(s.alarm_at[1].zone, Some(2));
        assert_eq!(s.alarm_at[2].zone, Some(1));
        // the permit's alarm stands where the permit is
        assert_eq!(s.alarm_at[3].zone, Some(2));
        assert_eq!(
            s.alarm_at[4],
            At::default(),
            "a plant-wide alarm is on no zone"
        );
        // a high alarm on R101: it and its hall are red; the tank farm is red too (the permit's)
        assert_eq!(s.asset_state(r101), State::Bad);
        assert_eq!(s.zone_state(1), State::Bad);
        assert_eq!(s.zone_state(2), State::Bad);
        assert_eq!(s.zone_permits(2).count(), 1);
        assert_eq!(s.zone_permits(1).count(), 0);
    }

    #[test]
    fn a_serious_alarm_returned_to_normal_is_amber_until_acknowledged() {
        let mut r = records();
        r.alarms = Some(vec![Alarm {
            active: false,
            state: "rtn_unack".into(),
            ..alarm("R101.TT101", None, "resin", "high")
        }]);
        let kept = BTreeMap::from([("R101".to_string(), Place { x: 80.0, y: 220.0 })]);
        let s = Scene::join(r, &kept, &BTreeMap::new());
        let r101 = s.assets.iter().position(|a| a.tag_no == "R101").unwrap();
        assert_eq!(s.asset_state(r101), State::Warn);
        assert_eq!(s.zone_state(1), State::Warn);
    }

    #[test]
    fn equipment_and_zone_states() {
        let mut r = records();
        r.alarms = Some(Vec::new());
        r.positions = Some(Vec::new());
        r.orders = Some(vec![WorkOrder {
            id: 1,
            number: "WO-1".into(),
            equipment: "TK202".into(),
            title: "leak".into(),
            stopped: true,
        }]);
        if let Some(a) = r.assets.as_mut() {
            a[2].vibration_zone = Some("C".into());
            a[5].status = "standby".into();
        }
        let kept = BTreeMap::from([("R101".to_string(), Place { x: 80.0, y: 220.0 })]);
        let s = Scene::join(r, &kept, &BTreeMap::new());
        let i = |tag: &str| s.assets.iter().position(|a| a.tag_no == tag).unwrap();
        assert_eq!(s.asset_state(i("R101")), State::Good);
        assert_eq!(s.asset_state(i("R101-M01")), State::Warn, "zone C");
        assert_eq!(s.asset_state(i("TK202")), State::Bad, "an order stops it");
        assert_eq!(s.asset_state(i("C101")), State::Idle);
        assert_eq!(s.zone_state(1), State::Warn, "the agitator in zone C");
        assert_eq!(s.zone_state(2), State::Bad);
    }

    #[test]
    fn a_crowded_zone_or_an_sos_is_red() {
        let mut r = records();
        r.assets = None;
        if let Some(z) = r.zones.as_mut() {
            z[0].people = 4;
        }
        r.positions = Some(vec![Position {
            person: 7,
            name: "张三".into(),
            kind: Some("employee".into()),
            x: 300.0,
            y: 200.0,
            zones: vec![2],
            sos: true,
            still_s: 0,
        }]);
        let s = Scene::join(r, &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(s.zone_state(1), State::Bad, "4 people, 3 allowed");
        assert_eq!(s.zone_state(2), State::Bad, "an SOS");
    }

    #[test]
    fn nothing_is_called_normal_when_the_alarms_cannot_be_read() {
        let kept = BTreeMap::from([("R101".to_string(), Place { x: 80.0, y: 220.0 })]);
        let s = Scene::join(records(), &kept, &BTreeMap::new());
        let r101 = s.assets.iter().position(|a| a.tag_no == "R101").unwrap();
        assert_eq!(s.asset_state(r101), State::Idle);
        assert_eq!(s.zone_state(1), State::Idle);
    }

    #[test]
    fn hidden_alarms_suspended_permits_and_the_person_a_zone_alarm_names() {
        let mut r = records();
        r.alarms = Some(vec![
            Alarm {
                state: "out_of_service".into(),
                ..alarm("GD201", None, "tank_farm", "high")
            },
            alarm("", Some("safety.zone:2:forbidden:7"), "safety", "high"),
        ]);
        let permit = |id, state: &str| Permit {
            id,
            number: format!("P-{id}"),
            work: "hot_work".into(),
            level: None,
            state: state.into(),
            content: String::new(),
            location: String::new(),
            workers: 1,
            end_ms: 0,
            x: 300.0,
            y: 200.0,
        };
        r.permits = Some(vec![
            permit(1, "working"),
            permit(2, "suspended"),
            permit(3, "closed"),
        ]);
        let areas = parse_areas("tank_farm=罐区").unwrap();
        let s = Scene::join(r, &BTreeMap::new(), &areas);
        // the out-of-service detector is off the colours but counted for its zone
        assert_eq!(s.alarms.len(), 1);
        assert_eq!(s.zone_hidden(2), 1);
        assert_eq!(
            s.alarm_at[0],
            At {
                zone: Some(2),
                asset: None,
                person: Some(7)
            }
        );
        assert_eq!(s.person_alarms(7).count(), 1);
        // at work and suspended are on site; the closed one is not
        assert_eq!(s.zone_permits(2).map(|p| p.id).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn equipment_placed_by_location_stays_inside_an_l_shaped_zone() {
        let mut r = records();
        // an L: the bounding box's centre (50, 50) is outside it
        r.zones = Some(vec![Zone {
            id: 9,
            name: "L 车间".into(),
            polygon: vec![
                [0.0, 0.0],
                [100.0, 0.0],
                [100.0, 20.0],
                [20.0, 20.0],
                [20.0, 100.0],
                [0.0, 100.0],
            ],
            permit_required: false,
            max_occupancy: None,
            people: 0,
        }]);
        r.assets = Some(
            (0..6)
                .map(|i| asset(&format!("E{i}"), "L 车间", None, &[]))
                .collect(),
        );
        let s = Scene::join(r, &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(s.places.len(), 6);
        for (p, _) in s.places.values() {
            assert_eq!(s.zone_at(p.x, p.y), Some(9), "{p:?}");
        }
    }

    #[test]
    fn alarm_area_settings_are_parsed_or_refused() {
        let a = parse_areas("resin=聚合车间； tank_farm = 罐区\n").unwrap();
        assert_eq!(a.get("resin").map(String::as_str), Some("聚合车间"));
        assert_eq!(a.get("tank_farm").map(String::as_str), Some("罐区"));
        assert!(parse_areas("").unwrap().is_empty());
        assert!(parse_areas("resin").is_err());
        assert!(parse_areas("=罐区").is_err());
    }
}
