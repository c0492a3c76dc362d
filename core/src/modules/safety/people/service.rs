//! The registry of people, vehicles and gates, gate events with head counts, the plant map
//! and its zones, the duty roster, and stored tracks. The only writer of the
//! `safety.people`, `safety.vehicles`, `safety.gates`, `safety.gate_events`,
//! `safety.presence`, `safety.map*`, `safety.zones`, `safety.posts`, `safety.shifts`,
//! `safety.assignments` and `safety.tracks` tables. Live positions are `tracking`'s.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use time::Date;

use super::model::{
    Assignment, Direction, Flag, Gate, GateEvent, Method, Person, PersonKind, PlantMap, Post,
    Shift, Vehicle, Zone,
};
use super::tracking::{TrackPoint, Wearer};
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::modules::safety::archive::model::{FileBlob, Status};
use crate::modules::safety::archive::service as archive;
use crate::modules::safety::store::{
    ASSIGNMENTS, FEED, GATE_EVENTS, GATES, MAP, MAP_IMAGE, PEOPLE, POSTS, PRESENCE, SHIFTS, TRACKS,
    VEHICLES, ZONES,
};
use crate::plant_time::parse_day;
use crate::store::{Actor, Change, Order, Reader, Store};

fn day_opt(field: &'static str, v: &Option<String>) -> Result<Option<String>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_day(s)
            .map(|d| Some(crate::plant_time::format_day(d)))
            .ok_or_else(|| Error::invalid(field, "common.err.date")),
    }
}

// ------------------------------------------------------------------ people

pub fn people(r: &impl Reader) -> Result<Vec<Person>> {
    Ok(r.values(&PEOPLE)?)
}

pub fn person(r: &impl Reader, id: u64) -> Result<Person> {
    r.get(&PEOPLE, &id)?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.people.err.not_found")))
}

/// Creates (`id` 0) or changes a person. Badges and tags are unique; certificates must be
/// people's certificates in the archive.
pub fn save_person(store: &Store, actor: &Actor, mut p: Person) -> Result<Person> {
    p.name = text("name", &p.name, 50, true)?;
    p.organisation = text("organisation", &p.organisation, 100, false)?;
    p.badge = text("badge", &p.badge, 64, false)?;
    p.tag = text("tag", &p.tag, 64, false)?;
    p.phone = crate::error::phone("phone", &p.phone)?;
    p.valid_until = day_opt("valid_until", &p.valid_until)?;
    if p.kind == PersonKind::Visitor && p.valid_until.is_none() {
        return Err(Error::invalid(
            "valid_until",
            "safety.people.err.visitor_until",
        ));
    }
    let mut w = store.write(actor)?;
    for (_, o) in w.all(&PEOPLE)? {
        if o.id == p.id {
            continue;
        }
        if !p.badge.is_empty() && o.badge == p.badge {
            return Err(Error::Invalid {
                field: "badge",
                msg: Msg::new("safety.people.err.badge_taken")
                    .arg("badge", &p.badge)
                    .arg("name", &o.name),
            });
        }
        if !p.tag.is_empty() && o.tag == p.tag {
            return Err(Error::Invalid {
                field: "tag",
                msg: Msg::new("safety.people.err.tag_taken")
                    .arg("tag", &p.tag)
                    .arg("name", &o.name),
            });
        }
    }
    p.certs.sort();
    p.certs.dedup();
    for c in &p.certs {
        let cert = archive::certificate(&w, *c).map_err(|_| Error::Invalid {
            field: "certs",
            msg: Msg::new("safety.people.err.cert").arg("id", c),
        })?;
        let personal = archive::kind(&w, &cert.kind)?
            .is_some_and(|k| k.subject == crate::modules::safety::archive::model::Subject::Person);
        if !personal {
            return Err(Error::Invalid {
                field: "certs",
                msg: Msg::new("safety.people.err.cert").arg("id", c),
            });
        }
    }
    let before = if p.id == 0 {
        p.id = w.next_id(&PEOPLE)?;
        None
    } else {
        Some(person(&w, p.id)?)
    };
    w.insert(&PEOPLE, &p.id, &p)?;
    w.audit_saved(
        "safety.person",
        format!("person:{} {}", p.id, p.name),
        before.as_ref(),
        &p,
    );
    w.commit()?;
    Ok(p)
}

/// Removes a person: refused while the roster assigns them; their presence and track go
/// with them (their gate events stay, as records).
pub fn delete_person(store: &Store, actor: &Actor, id: u64) -> Result<()> {
    let mut w = store.write(actor)?;
    let p = person(&w, id)?;
    if w.all(&ASSIGNMENTS)?.iter().any(|(_, a)| a.person == id) {
        return Err(Error::Conflict(Msg::new("safety.roster.err.in_use")));
    }
    let subject = format!("\u{1f}p:{id}");
    for (key, _) in w.all(&PRESENCE)? {
        if key.ends_with(&subject) {
            w.remove(&PRESENCE, &key)?;
        }
    }
    w.remove_range(&TRACKS, (id, 0)..=(id, u64::MAX))?;
    w.remove(&PEOPLE, &id)?;
    w.audit(
        "safety.person.delete",
        format!("person:{} {}", p.id, p.name),
        Change::deleted(&p),
    );
    Ok(w.commit()?)
}

/// The positioning tags and who wears them.
pub fn wearers(r: &impl Reader) -> Result<Vec<Wearer>> {
    Ok(people(r)?
        .into_iter()
        .filter(|p| p.enabled && !p.tag.is_empty())
        .map(|p| Wearer {
            person: p.id,
            name: p.name,
            tag: p.tag,
        })
        .collect())
}

// ------------------------------------------------------------------ vehicles

/// `浙G·A1234` / `浙g a1234` → `浙GA1234`.
pub fn normalise_plate(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '-' | '.'))
        .flat_map(char::to_uppercase)
        .collect()
}

pub fn vehicles(r: &impl Reader) -> Result<Vec<Vehicle>> {
    Ok(r.values(&VEHICLES)?)
}

pub fn save_vehicle(store: &Store, actor: &Actor, mut v: Vehicle) -> Result<Vehicle> {
    v.plate = normalise_plate(&v.plate);
    if v.plate.chars().count() < 6 || v.plate.chars().count() > 9 {
        return Err(Error::invalid("plate", "safety.vehicle.err.plate"));
    }
    v.driver = text("driver", &v.driver, 50, false)?;
    v.company = text("company", &v.company, 100, false)?;
    v.hazmat_permit = text("hazmat_permit", &v.hazmat_permit, 64, false)?;
    v.permit_expires = day_opt("permit_expires", &v.permit_expires)?;
    if v.hazmat && (v.hazmat_permit.is_empty() || v.permit_expires.is_none()) {
        return Err(Error::invalid(
            "hazmat_permit",
            "safety.vehicle.err.hazmat_permit",
        ));
    }
    let mut w = store.write(actor)?;
    if let Some((_, o)) = w
        .all(&VEHICLES)?
        .into_iter()
        .find(|(_, o)| o.id != v.id && o.plate == v.plate)
    {
        return Err(Error::Invalid {
            field: "plate",
            msg: Msg::new("safety.vehicle.err.plate_taken").arg("plate", o.plate),
        });
    }
    let before = if v.id == 0 {
        v.id = w.next_id(&VEHICLES)?;
        None
    } else {
        Some(
            w.get(&VEHICLES, &v.id)?
                .ok_or_else(|| Error::NotFound(Msg::new("safety.vehicle.err.not_found")))?,
        )
    };
    w.insert(&VEHICLES, &v.id, &v)?;
    w.audit_saved(
        "safety.vehicle",
        format!("vehicle:{} {}", v.id, v.plate),
        before.as_ref(),
        &v,
    );
    w.commit()?;
    Ok(v)
}

pub fn delete_vehicle(store: &Store, actor: &Actor, id: u64) -> Result<()> {
    let mut w = store.write(actor)?;
    let v = w
        .remove(&VEHICLES, &id)?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.vehicle.err.not_found")))?;
    w.audit(
        "safety.vehicle.delete",
        format!("vehicle:{} {}", v.id, v.plate),
        Change::deleted(&v),
    );
    Ok(w.commit()?)
}

// ------------------------------------------------------------------ gates

pub fn gates(r: &impl Reader) -> Result<Vec<Gate>> {
    Ok(r.values(&GATES)?)
}

pub fn save_gate(store: &Store, actor: &Actor, mut g: Gate) -> Result<Gate> {
    g.code = g.code.trim().to_string();
    if g.code.is_empty()
        || g.code.len() > 32
        || !g
            .code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid("code", "safety.gate.err.code"));
    }
    g.name = text("name", &g.name, 50, true)?;
    g.area = text("area", &g.area, 50, true)?;
    let mut w = store.write(actor)?;
    let before = w.get(&GATES, &g.code)?;
    w.insert(&GATES, &g.code, &g)?;
    w.audit_saved(
        "safety.gate",
        format!("gate:{}", g.code),
        before.as_ref(),
        &g,
    );
    w.commit()?;
    Ok(g)
}

pub fn delete_gate(store: &Store, actor: &Actor, code: &str) -> Result<()> {
    let mut w = store.write(actor)?;
    let g = w
        .remove(&GATES, &code.to_string())?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.gate.err.unknown").arg("gate", code)))?;
    w.audit(
        "safety.gate.delete",
        format!("gate:{code}"),
        Change::deleted(&g),
    );
    Ok(w.commit()?)
}

/// A gate event as controllers send it (API or MQTT).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GateInput {
    /// The gate's code.
    pub gate: String,
    pub direction: Direction,
    pub method: Method,
    /// Card number, face or fingerprint id; for `plate`, the plate.
    pub credential: String,
    /// Unix ms; omitted: when received.
    #[serde(default)]
    pub at_ms: Option<i64>,
}

fn presence_key(area: &str, subject: &str) -> String {
    format!("{area}\u{1f}{subject}")
}

/// Whether any of a person's certificates has expired on `today`.
fn cert_expired(r: &impl Reader, p: &Person, today: Date) -> Result<bool> {
    for c in &p.certs {
        if let Ok(cert) = archive::certificate(r, *c) {
            let k = archive::kind(r, &cert.kind)?;
            if archive::view(&cert, k.as_ref(), today).status == Status::Expired {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn expired(day: &Option<String>, today: Date) -> bool {
    day.as_deref()
        .and_then(parse_day)
        .is_some_and(|d| d < today)
}

/// Records a passage through a gate. Unknown gates are refused; unknown badges, people not
/// allowed in and expired certificates are recorded and flagged (the controller has already
/// opened or not; the record is what the plant needs). Known people and vehicles are counted
/// in or out of the gate's area.
pub fn record_gate_event(
    store: &Store,
    actor: &Actor,
    input: GateInput,
    source: &str,
    now_ms: i64,
    today: Date,
) -> Result<GateEvent> {
    let credential = text("credential", &input.credential, 64, true)?;
    let mut w = store.write(actor)?;
    let gate = w
        .get(&GATES, &input.gate.trim().to_string())?
        .ok_or_else(|| Error::Invalid {
            field: "gate",
            msg: Msg::new("safety.gate.err.unknown").arg("gate", input.gate.trim()),
        })?;
    let at_ms = input
        .at_ms
        .filter(|t| (now_ms - 7 * 86_400_000..=now_ms + 60_000).contains(t))
        .unwrap_or(now_ms);
    let mut flags = Vec::new();
    let (mut person, mut vehicle, mut who) = (None, None, credential.clone());
    if input.method == Method::Plate {
        let plate = normalise_plate(&credential);
        match w
            .all(&VEHICLES)?
            .into_iter()
            .find(|(_, v)| v.plate == plate)
        {
            None => flags.push(Flag::Unknown),
            Some((_, v)) => {
                if !v.enabled {
                    flags.push(Flag::NotAllowed);
                }
                if v.hazmat && expired(&v.permit_expires, today) {
                    flags.push(Flag::CertExpired);
                }
                vehicle = Some(v.id);
                who = v.plate;
            }
        }
    } else {
        match w
            .all(&PEOPLE)?
            .into_iter()
            .find(|(_, p)| p.badge == credential)
        {
            None => flags.push(Flag::Unknown),
            Some((_, p)) => {
                if !p.enabled || expired(&p.valid_until, today) {
                    flags.push(Flag::NotAllowed);
                }
                if cert_expired(&w, &p, today)? {
                    flags.push(Flag::CertExpired);
                }
                person = Some(p.id);
                who = p.name;
            }
        }
    }
    let subject = match (person, vehicle) {
        (Some(p), _) => Some(format!("p:{p}")),
        (_, Some(v)) => Some(format!("v:{v}")),
        _ => None,
    };
    if let Some(s) = subject {
        let key = presence_key(&gate.area, &s);
        match input.direction {
            Direction::In => w.insert(&PRESENCE, &key, &at_ms)?,
            Direction::Out => {
                w.remove(&PRESENCE, &key)?;
            }
        }
    }
    let e = GateEvent {
        id: w.next_id(&GATE_EVENTS)?,
        gate: gate.code,
        area: gate.area,
        direction: input.direction,
        method: input.method,
        credential,
        person,
        vehicle,
        who,
        at_ms,
        flags,
        source: source.into(),
    };
    w.insert(&GATE_EVENTS, &e.id, &e)?;
    w.commit()?;
    Ok(e)
}

/// The newest gate events (at most `limit`), optionally only flagged ones.
pub fn gate_events(r: &impl Reader, limit: usize, flagged_only: bool) -> Result<Vec<GateEvent>> {
    let mut out = Vec::new();
    r.visit(&GATE_EVENTS, .., Order::Desc, |_, e: GateEvent| {
        if !flagged_only || !e.flags.is_empty() {
            out.push(e);
        }
        if out.len() >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(out)
}

/// Who is inside an area now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HeadCount {
    pub area: String,
    pub people: usize,
    pub vehicles: usize,
    /// People inside by name, with when they came in.
    pub inside: Vec<(String, i64)>,
}

/// Head counts per area from the gate events (the plant perimeter is area `plant`).
pub fn head_counts(r: &impl Reader) -> Result<Vec<HeadCount>> {
    let people = people(r)?;
    let vehicles = vehicles(r)?;
    let mut out: Vec<HeadCount> = gates(r)?
        .iter()
        .map(|g| g.area.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|area| HeadCount {
            area,
            people: 0,
            vehicles: 0,
            inside: Vec::new(),
        })
        .collect();
    for (key, at) in r.all(&PRESENCE)? {
        let Some((area, subject)) = key.split_once('\u{1f}') else {
            continue;
        };
        let Some(hc) = out.iter_mut().find(|h| h.area == area) else {
            continue;
        };
        match subject.split_once(':') {
            Some(("p", id)) => {
                hc.people += 1;
                let name = id
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| people.iter().find(|p| p.id == id))
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                hc.inside.push((name, at));
            }
            Some(("v", id)) => {
                hc.vehicles += 1;
                let plate = id
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| vehicles.iter().find(|v| v.id == id))
                    .map(|v| v.plate.clone())
                    .unwrap_or_default();
                hc.inside.push((plate, at));
            }
            _ => {}
        }
    }
    // the perimeter first
    out.sort_by_key(|h| (h.area != "plant", h.area.clone()));
    Ok(out)
}

// ------------------------------------------------------------------ map and zones

pub fn map(r: &impl Reader) -> Result<PlantMap> {
    Ok(r.get(&MAP, &"map".to_string())?.unwrap_or_default())
}

pub fn map_image(r: &impl Reader) -> Result<Option<(String, Vec<u8>)>> {
    let m = map(r)?;
    let Some(t) = m.image_type else {
        return Ok(None);
    };
    Ok(r.get(&MAP_IMAGE, &"map".to_string())?.map(|b| (t, b.bytes)))
}

/// Sets the map's size in metres and, optionally, a new layout image (PNG, JPEG or WebP).
pub fn save_map(
    store: &Store,
    actor: &Actor,
    width_m: f64,
    height_m: f64,
    image: Option<(String, Vec<u8>)>,
    now_ms: i64,
) -> Result<PlantMap> {
    for (field, v) in [("width_m", width_m), ("height_m", height_m)] {
        if !v.is_finite() || !(10.0..=20_000.0).contains(&v) {
            return Err(Error::Invalid {
                field,
                msg: Msg::new("safety.permit.err.range")
                    .arg("lo", 10)
                    .arg("hi", 20_000),
            });
        }
    }
    let image = match image {
        Some((name, bytes)) => {
            let (_, mime) = archive::check_file(&name, &bytes)?;
            if mime == "application/pdf" {
                return Err(Error::invalid("file", "safety.map.err.image"));
            }
            Some((mime.to_string(), bytes))
        }
        None => None,
    };
    let mut w = store.write(actor)?;
    let before = map(&w)?;
    let zones = zones(&w)?;
    if let Some(z) = zones
        .iter()
        .find(|z| z.polygon.iter().any(|[x, y]| *x > width_m || *y > height_m))
    {
        return Err(Error::Invalid {
            field: "width_m",
            msg: Msg::new("safety.map.err.zone_outside").arg("zone", &z.name),
        });
    }
    let mut m = PlantMap {
        width_m,
        height_m,
        image_type: before.image_type.clone(),
        updated_ms: now_ms,
    };
    if let Some((mime, bytes)) = image {
        m.image_type = Some(mime);
        w.insert(&MAP_IMAGE, &"map".to_string(), &FileBlob { bytes })?;
    }
    w.insert(&MAP, &"map".to_string(), &m)?;
    w.audit_saved("safety.map", "map", Some(&before), &m);
    w.commit()?;
    Ok(m)
}

pub fn zones(r: &impl Reader) -> Result<Vec<Zone>> {
    Ok(r.values(&ZONES)?)
}

pub fn save_zone(store: &Store, actor: &Actor, mut z: Zone) -> Result<Zone> {
    z.name = text("name", &z.name, 50, true)?;
    let mut w = store.write(actor)?;
    let m = map(&w)?;
    if z.polygon.len() < 3 || z.polygon.len() > 200 {
        return Err(Error::invalid("polygon", "safety.zone.err.polygon"));
    }
    if let Some([x, y]) = z.polygon.iter().find(|[x, y]| {
        !x.is_finite()
            || !y.is_finite()
            || *x < 0.0
            || *y < 0.0
            || *x > m.width_m
            || *y > m.height_m
    }) {
        return Err(Error::Invalid {
            field: "polygon",
            msg: Msg::new("safety.track.err.outside")
                .arg("x", x)
                .arg("y", y)
                .arg("w", m.width_m)
                .arg("h", m.height_m),
        });
    }
    let r = &z.rules;
    if r.max_occupancy == Some(0)
        || r.still_seconds.is_some_and(|s| !(10..=86_400).contains(&s))
        || r.aggregation.as_ref().is_some_and(|a| {
            a.people < 2
                || !(1.0..=200.0).contains(&a.radius_m)
                || !(10..=86_400).contains(&a.seconds)
        })
    {
        return Err(Error::invalid("rules", "safety.zone.err.rules"));
    }
    let before = if z.id == 0 {
        z.id = w.next_id(&ZONES)?;
        None
    } else {
        Some(
            w.get(&ZONES, &z.id)?
                .ok_or_else(|| Error::NotFound(Msg::new("safety.zone.err.not_found")))?,
        )
    };
    w.insert(&ZONES, &z.id, &z)?;
    w.audit_saved(
        "safety.zone",
        format!("zone:{} {}", z.id, z.name),
        before.as_ref(),
        &z,
    );
    w.commit()?;
    Ok(z)
}

pub fn delete_zone(store: &Store, actor: &Actor, id: u64) -> Result<()> {
    let mut w = store.write(actor)?;
    if w.all(&POSTS)?.iter().any(|(_, p)| p.zone == id) {
        return Err(Error::Conflict(Msg::new("safety.zone.err.in_use")));
    }
    let z = w
        .remove(&ZONES, &id)?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.zone.err.not_found")))?;
    w.audit(
        "safety.zone.delete",
        format!("zone:{} {}", z.id, z.name),
        Change::deleted(&z),
    );
    Ok(w.commit()?)
}

// ------------------------------------------------------------------ tracks

/// Stores track points (from the tracker, about once a second).
pub fn write_track(store: &Store, points: &[(u64, i64, TrackPoint)]) -> Result<()> {
    if points.is_empty() {
        return Ok(());
    }
    let mut w = store.write(&Actor::system("positions"))?;
    for (person, at, p) in points {
        w.insert(&TRACKS, &(*person, *at as u64), p)?;
    }
    Ok(w.commit()?)
}

/// Track points of a person in `[from, to)`, at most `limit`.
pub fn track(
    r: &impl Reader,
    person: u64,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Vec<(i64, TrackPoint)>> {
    let mut out = Vec::new();
    r.visit(
        &TRACKS,
        (person, from_ms.max(0) as u64)..(person, to_ms.max(0) as u64),
        Order::Asc,
        |(_, at), p: TrackPoint| {
            out.push((at as i64, p));
            if out.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    Ok(out)
}

/// Drops track points older than `keep_days` (positions are kept 30 days by default).
pub fn prune_tracks(store: &Store, now_ms: i64, keep_days: i64) -> Result<u64> {
    let cutoff = (now_ms - keep_days * 86_400_000).max(0) as u64;
    let people: Vec<u64> = store
        .read()?
        .all(&PEOPLE)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut w = store.write(&Actor::system("positions"))?;
    let mut n = 0;
    for p in people {
        n += w.remove_range(&TRACKS, (p, 0)..(p, cutoff))?;
    }
    w.commit()?;
    Ok(n)
}

// ------------------------------------------------------------------ duty roster

pub fn posts(r: &impl Reader) -> Result<Vec<Post>> {
    Ok(r.values(&POSTS)?)
}
pub fn shifts(r: &impl Reader) -> Result<Vec<Shift>> {
    Ok(r.values(&SHIFTS)?)
}
pub fn assignments(r: &impl Reader) -> Result<Vec<Assignment>> {
    Ok(r.values(&ASSIGNMENTS)?)
}

pub fn save_post(store: &Store, actor: &Actor, mut p: Post) -> Result<Post> {
    p.name = text("name", &p.name, 50, true)?;
    if !(1..=240).contains(&p.grace_minutes) {
        return Err(Error::invalid("grace_minutes", "safety.roster.err.grace"));
    }
    let mut w = store.write(actor)?;
    if w.get(&ZONES, &p.zone)?.is_none() {
        return Err(Error::invalid("zone", "safety.zone.err.not_found"));
    }
    let before = if p.id == 0 {
        p.id = w.next_id(&POSTS)?;
        None
    } else {
        w.get(&POSTS, &p.id)?
    };
    w.insert(&POSTS, &p.id, &p)?;
    w.audit_saved(
        "safety.post",
        format!("post:{} {}", p.id, p.name),
        before.as_ref(),
        &p,
    );
    w.commit()?;
    Ok(p)
}

/// `HH:MM` → minutes after midnight.
pub fn minutes_of(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

pub fn save_shift(store: &Store, actor: &Actor, mut s: Shift) -> Result<Shift> {
    s.name = text("name", &s.name, 50, true)?;
    for (field, v) in [("from", &s.from), ("to", &s.to)] {
        if minutes_of(v).is_none() {
            return Err(Error::invalid(field, "safety.permit.err.time"));
        }
    }
    if s.from.trim() == s.to.trim() {
        return Err(Error::invalid("to", "safety.roster.err.empty_shift"));
    }
    let mut w = store.write(actor)?;
    let before = if s.id == 0 {
        s.id = w.next_id(&SHIFTS)?;
        None
    } else {
        w.get(&SHIFTS, &s.id)?
    };
    w.insert(&SHIFTS, &s.id, &s)?;
    w.audit_saved(
        "safety.shift",
        format!("shift:{} {}", s.id, s.name),
        before.as_ref(),
        &s,
    );
    w.commit()?;
    Ok(s)
}

pub fn save_assignment(store: &Store, actor: &Actor, mut a: Assignment) -> Result<Assignment> {
    let mut w = store.write(actor)?;
    if w.get(&POSTS, &a.post)?.is_none() {
        return Err(Error::invalid("post", "safety.roster.err.post"));
    }
    if w.get(&SHIFTS, &a.shift)?.is_none() {
        return Err(Error::invalid("shift", "safety.roster.err.shift"));
    }
    person(&w, a.person).map_err(|_| Error::invalid("person", "safety.people.err.not_found"))?;
    if w.all(&ASSIGNMENTS)?.iter().any(|(_, o)| {
        o.id != a.id && o.post == a.post && o.shift == a.shift && o.person == a.person
    }) {
        return Err(Error::invalid("person", "safety.roster.err.duplicate"));
    }
    if a.id == 0 {
        a.id = w.next_id(&ASSIGNMENTS)?;
    }
    w.insert(&ASSIGNMENTS, &a.id, &a)?;
    w.audit(
        "safety.assignment",
        format!("assignment:{}", a.id),
        Change::created(&a),
    );
    w.commit()?;
    Ok(a)
}

pub fn delete_roster_entry(store: &Store, actor: &Actor, what: &str, id: u64) -> Result<()> {
    let mut w = store.write(actor)?;
    let found = match what {
        "post" => {
            if w.all(&ASSIGNMENTS)?.iter().any(|(_, a)| a.post == id) {
                return Err(Error::Conflict(Msg::new("safety.roster.err.in_use")));
            }
            w.remove(&POSTS, &id)?.is_some()
        }
        "shift" => {
            if w.all(&ASSIGNMENTS)?.iter().any(|(_, a)| a.shift == id) {
                return Err(Error::Conflict(Msg::new("safety.roster.err.in_use")));
            }
            w.remove(&SHIFTS, &id)?.is_some()
        }
        _ => w.remove(&ASSIGNMENTS, &id)?.is_some(),
    };
    if !found {
        return Err(Error::NotFound(Msg::new("safety.roster.err.not_found")));
    }
    w.audit(
        "safety.roster.delete",
        format!("{what}:{id}"),
        Change::none(),
    );
    Ok(w.commit()?)
}

/// Whether minute-of-day `now` falls in the shift (which may cross midnight).
pub fn in_shift(s: &Shift, now: u32) -> bool {
    match (minutes_of(&s.from), minutes_of(&s.to)) {
        (Some(f), Some(t)) if f < t => now >= f && now < t,
        (Some(f), Some(t)) => now >= f || now < t,
        _ => false,
    }
}

// ------------------------------------------------------------------ feed settings

pub fn feed(r: &impl Reader) -> Result<super::model::FeedConfig> {
    Ok(r.get(&FEED, &"feed".to_string())?.unwrap_or_default())
}

/// Saves the MQTT feed settings (the password sealed; "keep" keeps the stored one while the
/// broker stays the same).
pub fn save_feed(
    store: &Store,
    actor: &Actor,
    c: super::model::FeedConfig,
) -> Result<super::model::FeedConfig> {
    let host = c.host.trim().to_string();
    if c.enabled && host.is_empty() {
        return Err(Error::invalid("host", "safety.feed.err.host"));
    }
    for (field, t) in [
        ("gate_topic", &c.gate_topic),
        ("position_topic", &c.position_topic),
    ] {
        if !t.is_empty() && !crate::mqtt::valid_filter(t) {
            return Err(Error::invalid(field, "safety.feed.err.topic"));
        }
    }
    if c.port == 0 {
        return Err(Error::invalid("port", "safety.feed.err.port"));
    }
    let mut w = store.write(actor)?;
    let before = feed(&w)?;
    let same = before.host == host && before.port == c.port;
    crate::secrets::check_keep("password", &c.password, Some(&before.password), same)?;
    let c = super::model::FeedConfig {
        host,
        password: store.sealer()?.seal(&c.password, Some(&before.password))?,
        ..c
    };
    w.insert(&FEED, &"feed".to_string(), &c)?;
    let shown = |f: &super::model::FeedConfig| super::model::FeedConfig {
        password: f.password.redacted(),
        ..f.clone()
    };
    w.audit_saved("safety.feed", "feed", Some(shown(&before)), shown(&c));
    w.commit()?;
    Ok(c)
}
