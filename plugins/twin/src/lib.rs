//! 数字孪生 — the digital twin X module, a first-party nplusx plugin written with the kit
//! (contract 0.3).
//!
//! One live plant view joining what the other modules know, over the safety module's plant
//! layout: its zones coloured by what stands in them, the units and equipment (coloured by
//! state, vibration zone, their alarms and the work orders that stop them, with their live
//! key values and the batch running on a unit), the people the positioning system sees,
//! the permits at work, vehicles on site. Each thing opens its record in its module; a zone
//! opens the twin's page of that zone.
//!
//! It reads every part through the contract (`scene` joins them), so it shows only what
//! the admin granted: a part it may not read is left out and named on the page. Equipment is
//! placed by an engineer (the places page), beside the unit it is part of, or in the zone
//! its ledger location names.

pub mod names;
pub mod scene;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use nplusx_sdk::serde_json::json;
use nplusx_sdk::{
    Area, Board, Error, Field, Form, Info, Kpi, Lang, Map, Marker, Outcome, Page, Plugin, Table,
    Tone, Values, View, Widget, WidgetContent, Xy, clock, plant, records, storage, tags,
};
use scene::{Place, Placed, Records, Scene, State};

const DAY_MS: i64 = 86_400_000;
const ALL: u32 = 10_000;
/// Key values shown per piece of equipment.
const KEY_VALUES: usize = 4;

#[derive(Debug, Default, Clone)]
struct Settings {
    areas: BTreeMap<String, String>,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings::default());
}

fn settings() -> Settings {
    SETTINGS.with(|s| s.borrow().clone())
}

fn err(e: Error) -> String {
    e.into()
}

fn tone(s: State) -> Tone {
    match s {
        State::Idle => Tone::Neutral,
        State::Good => Tone::Good,
        State::Warn => Tone::Warn,
        State::Bad => Tone::Bad,
    }
}

/// One part of the plant the twin reads: `None` (and why, for the page) when the plugin
/// may not read it — the capability not granted, the module switched off.
fn part<T>(r: Result<T, Error>, what: &str, missing: &mut Vec<String>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            let why: String = e.into();
            missing.push(format!("{what}: {why}"));
            None
        }
    }
}

fn place_key(tag_no: &str) -> String {
    format!("place:{tag_no}")
}

/// The places an engineer gave, by tag number.
fn kept_places() -> Result<BTreeMap<String, Place>, Error> {
    let mut out = BTreeMap::new();
    for k in storage::keys("place:", ALL)? {
        if let Some(p) = storage::get_json::<Place>(&k)? {
            out.insert(k["place:".len()..].to_string(), p);
        }
    }
    Ok(out)
}

/// Reads every part and joins them.
fn load(lang: Lang) -> Result<(Scene, Vec<String>), String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let mut missing = Vec::new();
    let now = clock::now_ms().map_err(err)?;
    let r = Records {
        layout: part(
            records::query("safety.layout", &json!({}), 1)
                .map(|v: Vec<scene::Layout>| v.into_iter().next().unwrap_or_default()),
            t("厂区平面图", "plant layout"),
            &mut missing,
        ),
        zones: part(
            records::query("safety.zones", &json!({}), ALL),
            t("区域", "zones"),
            &mut missing,
        ),
        positions: part(
            records::query("safety.positions", &json!({}), ALL),
            t("人员定位", "positions"),
            &mut missing,
        ),
        heads: part(
            records::query("safety.people", &json!({}), ALL),
            t("门禁人数", "head counts"),
            &mut missing,
        ),
        // permits planned to start in the last 31 days: temporary power may run 30 days
        // (GB 30871), work at height 7; those on site now are at work or suspended
        permits: part(
            records::between(
                "safety.permits",
                now - 31 * DAY_MS,
                now + DAY_MS,
                &json!({}),
                10_000,
            ),
            t("作业票", "permits"),
            &mut missing,
        ),
        assets: part(
            records::query("equipment.assets", &json!({}), ALL),
            t("设备", "equipment"),
            &mut missing,
        ),
        orders: part(
            records::between(
                "equipment.work_orders",
                now - 365 * DAY_MS,
                now + 1,
                &json!({ "open": true }),
                2_000,
            ),
            t("维修工单", "work orders"),
            &mut missing,
        ),
        units: part(
            records::query("production.oee", &json!({}), ALL),
            t("生产装置", "process units"),
            &mut missing,
        ),
        alarms: part(
            records::query("alarms.active", &json!({}), ALL),
            t("报警", "alarms"),
            &mut missing,
        ),
    };
    let kept = kept_places().map_err(err)?;
    Ok((Scene::join(r, &kept, &settings().areas), missing))
}

/// Live key values of the placed equipment: asset index → (tag, value with its unit). Key
/// values are measurements — tags with a unit that cannot be written (not set-points) —,
/// those bound to the equipment first, at most [`KEY_VALUES`] each.
type KeyValues = HashMap<usize, Vec<(String, String)>>;

fn key_values(s: &Scene, missing: &mut Vec<String>, lang: Lang) -> KeyValues {
    if s.places.is_empty() {
        return HashMap::new();
    }
    let Some(infos) = part(tags::find(""), lang.pick("实时值", "live values"), missing) else {
        return HashMap::new();
    };
    let measured: HashMap<&str, &str> = infos
        .iter()
        .filter(|i| !i.writable && !i.unit.is_empty())
        .map(|i| (i.name.as_str(), i.unit.as_str()))
        .collect();
    let chosen: Vec<(usize, Vec<&str>)> = s
        .places
        .keys()
        .map(|i| {
            let tags = s.assets[*i]
                .tags
                .iter()
                .map(String::as_str)
                .filter(|t| measured.contains_key(t))
                .take(KEY_VALUES)
                .collect();
            (*i, tags)
        })
        .collect();
    let names: Vec<String> = chosen
        .iter()
        .flat_map(|(_, t)| t.iter().map(|n| n.to_string()))
        .collect();
    let Ok(current) = tags::read(&names) else {
        return HashMap::new();
    };
    let text: HashMap<String, String> = current
        .into_iter()
        .map(|c| {
            let unit = measured.get(c.name.as_str()).copied().unwrap_or("");
            let text = match (&c.value, c.quality) {
                (_, nplusx_sdk::Quality::Bad) => lang.pick("无效", "bad").to_string(),
                (nplusx_sdk::Value::Text(t), _) => t.clone(),
                (v, _) => nplusx_sdk::number(v)
                    .map_or_else(|| "—".to_string(), |x| format!("{} {unit}", figure(x))),
            };
            (c.name, text)
        })
        .collect();
    chosen
        .into_iter()
        .map(|(i, tags)| {
            let vals = tags
                .into_iter()
                .filter_map(|t| text.get(t).map(|v| (t.to_string(), v.clone())))
                .collect();
            (i, vals)
        })
        .collect()
}

fn values_text(values: &KeyValues, i: usize) -> String {
    values
        .get(&i)
        .map(|v| {
            v.iter()
                .map(|(t, x)| format!("{t} {x}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// A measured value to three significant places or so.
fn figure(x: f64) -> String {
    let s = if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `MM-DD HH:MM` of plant time.
fn when(ms: i64, offset: i64) -> String {
    let local = ms + offset;
    let (_, m, d) = plant::civil(local.div_euclid(DAY_MS));
    let min = local.rem_euclid(DAY_MS) / 60_000;
    format!("{m:02}-{d:02} {:02}:{:02}", min / 60, min % 60)
}

/// The part of the layout a map shows, `(left, bottom, right, top)` in metres: the whole
/// layout, or a zone with a margin around it.
#[derive(Clone, Copy)]
struct Window(f64, f64, f64, f64);

impl Window {
    fn of(s: &Scope, sc: &Scene) -> Window {
        match s {
            Scope::Zone(id) if let Some(z) = sc.zone(*id) => {
                let (x0, y0, x1, y1) = scene::bounds(&z.polygon);
                let m = ((x1 - x0).max(y1 - y0) * 0.08).max(3.0);
                Window(x0 - m, y0 - m, x1 + m, y1 + m)
            }
            _ => Window(0.0, 0.0, sc.layout.width_m, sc.layout.height_m),
        }
    }

    /// A point of the layout on the map: from the window's top-left, y running down.
    fn at(self, x: f64, y: f64) -> (f32, f32) {
        ((x - self.0) as f32, (self.3 - y) as f32)
    }
}

fn alarm_text(a: &scene::Alarm, lang: Lang) -> String {
    let m = lang.pick(&a.message_zh, &a.message_en);
    if m.is_empty() {
        a.tag.clone()
    } else {
        m.to_string()
    }
}

/// Everything said about one piece of equipment, for its hint and the tables.
fn asset_line(s: &Scene, i: usize, values: &KeyValues, lang: Lang) -> String {
    let a = &s.assets[i];
    let mut parts = vec![
        format!("{} {}", a.tag_no, a.name),
        names::status(&a.status, lang),
    ];
    if let Some(z) = &a.vibration_zone {
        parts.push(format!("{} {z}", lang.pick("振动区", "vibration zone")));
    }
    if let Some(u) = s.units.get(&a.tag_no)
        && let Some(b) = &u.running
    {
        let phase = u.phase.as_deref().unwrap_or("");
        parts.push(
            format!("{} {b} {phase}", lang.pick("批次", "batch"))
                .trim_end()
                .to_string(),
        );
    }
    let vals = values_text(values, i);
    if !vals.is_empty() {
        parts.push(vals);
    }
    for o in s.orders.get(&a.tag_no).into_iter().flatten().take(2) {
        parts.push(format!("{} {}", o.number, o.title));
    }
    for al in s.asset_alarms(i).take(2) {
        parts.push(format!("⚠ {}", alarm_text(al, lang)));
    }
    let line = parts.join(" · ");
    // a marker's hint holds 300 characters
    line.chars().take(290).collect()
}

fn zone_hint(s: &Scene, id: u64, lang: Lang) -> String {
    let Some(z) = s.zone(id) else {
        return String::new();
    };
    let alarms = s.zone_alarms(id).count();
    let work = s.zone_permits(id).count();
    let cap = z.max_occupancy.map(|m| format!("/{m}")).unwrap_or_default();
    let mut h = format!(
        "{} · {} {}{cap} · {} {alarms} · {} {work}",
        z.name,
        lang.pick("人员", "people"),
        z.people,
        lang.pick("报警", "alarms"),
        lang.pick("作业", "permits at work"),
    );
    let hidden = s.zone_hidden(id);
    if hidden > 0 {
        h.push_str(&format!(
            " · {} {hidden}",
            lang.pick(
                "搁置/屏蔽/停用的报警",
                "alarms shelved, suppressed or out of service"
            )
        ));
    }
    if let Some(a) = s.zone_alarms(id).next() {
        h.push_str(&format!(" · ⚠ {}", alarm_text(a, lang)));
    }
    h.chars().take(290).collect()
}

fn permit_hint(p: &scene::Permit, lang: Lang) -> String {
    let level = p
        .level
        .as_deref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    let h = format!(
        "{} {}{level} · {} · {} · {} {}",
        p.number,
        names::work(&p.work, lang),
        p.content,
        p.location,
        p.workers,
        lang.pick("人作业", "workers"),
    );
    h.chars().take(290).collect()
}

/// Where on the map (zone or detail), which equipment, people and permits to draw.
#[derive(Clone, Copy)]
enum Scope {
    Plant,
    Zone(u64),
}

/// The plant layout with the zones and everything placed on it (the whole plant), or one
/// zone's surroundings on a grid (a zone's page).
fn draw(s: &Scope, sc: &Scene, values: &KeyValues, lang: Lang) -> Map {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let inside = |x: f64, y: f64| match s {
        Scope::Plant => true,
        Scope::Zone(id) => sc.zone(*id).is_some_and(|z| z.contains(x, y)),
    };
    let w = Window::of(s, sc);
    // the whole plant on its layout; a zone closer, on a 5 m grid
    let mut map = match s {
        Scope::Plant => {
            Map::new(sc.layout.width_m as f32, sc.layout.height_m as f32, 10.0).on_layout()
        }
        Scope::Zone(_) => Map::new((w.2 - w.0) as f32, (w.3 - w.1) as f32, 5.0),
    };
    for z in &sc.zones {
        if let Scope::Zone(id) = s
            && *id != z.id
        {
            continue;
        }
        let points = z
            .polygon
            .iter()
            .map(|p| {
                let (x, y) = w.at(p[0], p[1]);
                Xy { x, y }
            })
            .collect();
        map = map.area(Area {
            label: z.name.clone(),
            points,
            tone: tone(sc.zone_state(z.id)),
            hint: zone_hint(sc, z.id, lang),
            href: format!("/x/twin/zone?id={}", z.id),
        });
    }
    for (i, (p, _)) in &sc.places {
        if !inside(p.x, p.y) {
            continue;
        }
        let a = &sc.assets[*i];
        let (x, y) = w.at(p.x, p.y);
        map = map.marker(
            Marker::new(a.tag_no.clone(), x, y)
                .tone(tone(sc.asset_state(*i)))
                .hint(asset_line(sc, *i, values, lang))
                .link(format!("/equipment/{}", a.id)),
        );
    }
    // a permit without a place on the layout is at (0, 0): in the tables, not on the map
    for p in sc
        .at_work()
        .filter(|p| (p.x, p.y) != (0.0, 0.0) && inside(p.x, p.y))
    {
        let (x, y) = w.at(p.x, p.y);
        let (mark, tone) = if p.state == "suspended" {
            ("⏸", Tone::Bad)
        } else {
            ("✎", Tone::Warn)
        };
        map = map.marker(
            Marker::new(format!("{mark} {}", names::work(&p.work, lang)), x, y)
                .tone(tone)
                .hint(permit_hint(p, lang))
                .link(format!("/safety/permits/{}", p.id)),
        );
    }
    for p in sc.people.iter().filter(|p| inside(p.x, p.y)) {
        let (x, y) = w.at(p.x, p.y);
        let alarms: Vec<&scene::Alarm> = sc.person_alarms(p.person).collect();
        let (label, state) = if p.sos {
            (format!("SOS {}", p.name), State::Bad)
        } else if alarms.iter().any(|a| a.serious()) {
            (p.name.clone(), State::Bad)
        } else if !alarms.is_empty() {
            (p.name.clone(), State::Warn)
        } else {
            (String::new(), State::Idle)
        };
        let mut hint = format!("{} {}", p.name, names::person(p.kind.as_deref(), lang));
        if p.still_s >= 60 {
            hint.push_str(&format!(" · {} {} s", t("未移动", "still for"), p.still_s));
        }
        for a in alarms.iter().take(2) {
            hint.push_str(&format!(" · ⚠ {}", alarm_text(a, lang)));
        }
        map = map.marker(
            Marker::new(label, x, y)
                .tone(tone(state))
                .hint(hint.chars().take(290).collect::<String>())
                .link(format!("/safety/people/{}", p.person)),
        );
    }
    map
}

fn kpis(s: &Scope, sc: &Scene, lang: Lang) -> Vec<Kpi> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let in_scope = |zone: Option<u64>| match s {
        Scope::Plant => true,
        Scope::Zone(id) => zone == Some(*id),
    };
    let alarms: Vec<&scene::Alarm> = sc
        .alarms
        .iter()
        .zip(&sc.alarm_at)
        .filter(|(_, at)| in_scope(at.zone))
        .map(|(a, _)| a)
        .collect();
    let serious = alarms.iter().filter(|a| a.serious()).count();
    let people = match s {
        Scope::Plant => sc.people.len(),
        Scope::Zone(id) => sc.people.iter().filter(|p| p.zones.contains(id)).count(),
    };
    let work = match s {
        Scope::Plant => sc.at_work().count(),
        Scope::Zone(id) => sc.zone_permits(*id).count(),
    };
    let placed: Vec<usize> = sc
        .places
        .keys()
        .copied()
        .filter(|i| match s {
            Scope::Plant => true,
            Scope::Zone(id) => sc.asset_zone(*i) == Some(*id),
        })
        .collect();
    let worn = placed
        .iter()
        .filter(|i| matches!(sc.assets[**i].vibration_zone.as_deref(), Some("C" | "D")))
        .count();
    let alarm_kpi = if sc.alarms_known {
        Kpi::new(
            t("报警（其中紧急/高）", "Alarms (of which urgent/high)"),
            format!("{} ({serious})", alarms.len()),
        )
        .tone(if serious > 0 {
            Tone::Bad
        } else if alarms.is_empty() {
            Tone::Good
        } else {
            Tone::Warn
        })
    } else {
        Kpi::new(
            t("报警（其中紧急/高）", "Alarms (of which urgent/high)"),
            "—",
        )
    };
    let people_kpi = if sc.people_known {
        Kpi::new(t("定位人员", "People located"), people)
    } else {
        Kpi::new(t("定位人员", "People located"), "—")
    };
    let mut k = vec![
        alarm_kpi,
        people_kpi,
        Kpi::new(
            t("现场作业票（含暂停）", "Permits on site (incl. suspended)"),
            work,
        )
        .tone(if work > 0 { Tone::Warn } else { Tone::Neutral }),
        Kpi::new(
            t("振动 C/D 区设备", "Equipment in vibration zone C/D"),
            worn,
        )
        .tone(if worn > 0 { Tone::Warn } else { Tone::Good }),
    ];

    if let (Scope::Plant, Some(v)) = (s, sc.vehicles) {
        k.push(Kpi::new(t("在厂车辆", "Vehicles on site"), v));
    }
    if let (Scope::Plant, Some(n)) = (s, sc.on_site) {
        k.push(Kpi::new(t("在厂人数（门禁）", "On site (gates)"), n));
    }
    k
}

fn alarm_table(s: &Scope, sc: &Scene, lang: Lang) -> Table {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let mut table = Table::new([
        t("优先级", "Priority"),
        t("报警", "Alarm"),
        t("位置", "Where"),
        t("状态", "State"),
    ]);
    for (a, at) in sc.alarms.iter().zip(&sc.alarm_at) {
        if let Scope::Zone(id) = s
            && at.zone != Some(*id)
        {
            continue;
        }
        let mut place = Vec::new();
        if let Some(i) = at.asset {
            place.push(sc.assets[i].tag_no.clone());
        }
        if let Some(z) = at.zone.and_then(|z| sc.zone(z)) {
            place.push(z.name.clone());
        }
        if place.is_empty() {
            place.push(t("全厂", "plant").to_string());
        }
        table.push([
            names::priority(&a.priority, lang),
            alarm_text(a, lang),
            place.join(" · "),
            names::alarm_state(&a.state, lang),
        ]);
    }
    table.page_size(12)
}

fn permit_table(s: &Scope, sc: &Scene, offset: i64, lang: Lang) -> Table {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let mut table = Table::new([
        t("作业票", "Permit"),
        t("作业", "Work"),
        t("区域", "Zone"),
        t("地点", "Location"),
        t("人数", "Workers"),
        t("计划结束", "Planned end"),
        t("状态", "State"),
    ])
    .numeric(4);
    let list: Vec<&scene::Permit> = match s {
        Scope::Plant => sc.at_work().collect(),
        Scope::Zone(id) => sc.zone_permits(*id).collect(),
    };
    for p in list {
        let zone = sc
            .zone_at(p.x, p.y)
            .and_then(|z| sc.zone(z))
            .map(|z| z.name.clone())
            .unwrap_or_default();
        table.push([
            p.number.clone(),
            names::work(&p.work, lang),
            zone,
            p.location.clone(),
            p.workers.to_string(),
            when(p.end_ms, offset),
            if p.state == "suspended" {
                lang.pick("暂停", "suspended").to_string()
            } else {
                lang.pick("作业中", "at work").to_string()
            },
        ]);
    }
    table.page_size(12)
}

fn equipment_table(s: &Scope, sc: &Scene, values: &KeyValues, lang: Lang) -> Table {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let mut table = Table::new([
        t("位号", "Tag no."),
        t("名称", "Name"),
        t("状态", "Status"),
        t("振动区", "Vibration zone"),
        t("区域", "Zone"),
        t("批次 / 阶段", "Batch / phase"),
        t("关键实时值", "Key values"),
    ]);
    for (i, a) in sc.assets.iter().enumerate() {
        let zone = sc.asset_zone(i);
        if let Scope::Zone(id) = s
            && zone != Some(*id)
        {
            continue;
        }
        let batch = sc
            .units
            .get(&a.tag_no)
            .and_then(|u| {
                u.running
                    .as_ref()
                    .map(|b| format!("{b} {}", u.phase.as_deref().unwrap_or("")))
            })
            .unwrap_or_default();
        let zone_name = match (zone.and_then(|z| sc.zone(z)), sc.places.contains_key(&i)) {
            (Some(z), _) => z.name.clone(),
            (None, true) => t("区域外", "outside the zones").to_string(),
            (None, false) => t("未摆放", "not placed").to_string(),
        };
        table.push([
            a.tag_no.clone(),
            a.name.clone(),
            names::status(&a.status, lang),
            a.vibration_zone.clone().unwrap_or_else(|| "—".into()),
            zone_name,
            batch.trim_end().to_string(),
            values_text(values, i),
        ]);
    }
    table.page_size(20)
}

fn missing_notice(page: Page, missing: &[String], lang: Lang) -> Page {
    if missing.is_empty() {
        return page;
    }
    page.notice(
        Tone::Warn,
        format!(
            "{}{}",
            lang.pick(
                "以下内容未获授权或所属模块已关闭，不在图上：",
                "Not on the view (not granted, or its module is switched off): "
            ),
            missing.join("; ")
        ),
    )
}

/// The widgets both boards show, not yet placed: figures, the map, standing alarms, permits
/// on site, units and equipment.
fn widgets(
    scope: &Scope,
    sc: &Scene,
    values: &KeyValues,
    offset: i64,
    title: String,
    lang: Lang,
) -> [Widget; 5] {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    [
        Widget::new("kpis", "", WidgetContent::Kpis(kpis(scope, sc, lang))),
        Widget::new(
            "map",
            title,
            WidgetContent::Map(draw(scope, sc, values, lang)),
        ),
        Widget::new(
            "alarms",
            t("当前报警", "Standing alarms"),
            WidgetContent::Table(alarm_table(scope, sc, lang)),
        ),
        Widget::new(
            "work",
            t(
                "现场作业票（作业中/暂停）",
                "Permits on site (at work, suspended)",
            ),
            WidgetContent::Table(permit_table(scope, sc, offset, lang)),
        ),
        Widget::new(
            "equipment",
            t("装置与设备", "Units and equipment"),
            WidgetContent::Table(equipment_table(scope, sc, values, lang)),
        ),
    ]
}

fn plant_page(lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let (sc, mut missing) = load(lang)?;
    let values = key_values(&sc, &mut missing, lang);
    let offset = plant::offset_ms().map_err(err)?;
    let scope = Scope::Plant;
    let [k, map, alarms, work, equipment] = widgets(
        &scope,
        &sc,
        &values,
        offset,
        t("厂区", "Plant").to_string(),
        lang,
    );
    let board = Board::new(12)
        .refresh(15)
        .widget(k.at(0, 0, 12, 1))
        .widget(map.at(0, 1, 8, 6))
        .widget(alarms.at(8, 1, 4, 3))
        .widget(work.at(8, 4, 4, 3))
        .widget(equipment.at(0, 7, 12, 3));
    let page = missing_notice(Page::new(t("全厂孪生", "Plant view")), &missing, lang);
    Ok(page
        .board(board)
        .text(t(
            "区域：红色＝紧急/高优先级报警、SOS、超员或设备红色；黄色＝其他报警或设备黄色；绿色＝正常；灰色＝无法判断（报警或人员定位未授权）。设备：红色＝振动 D 区、紧急/高优先级报警或停机工单；黄色＝振动 C 区、其他报警或检修；绿色＝运行；灰色＝备用、停用、报废或无法判断。✎ 为作业中的作业票，红色 ⏸ 为暂停的作业票，圆点为定位人员。点击区域查看该区域，点击设备、作业票或人员打开其记录。",
            "Zones: red = an urgent or high alarm, an SOS, too many people or equipment in red; amber = other alarms or equipment in amber; green = normal; grey = not known (alarms or positions not granted). Equipment: red = vibration zone D, an urgent or high alarm or a work order that stops it; amber = zone C, other alarms or maintenance; green = running; grey = standby, stopped, scrapped or not known. ✎ marks a permit at work, a red ⏸ a suspended one, dots the people located. Click a zone for its page, equipment, a permit or a person for its record.",
        ))
        .links([(t("设备摆放", "Placing equipment"), "/x/twin/places")])
        .into())
}

fn zone_page(query: &Values, lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let (sc, mut missing) = load(lang)?;
    let id: u64 = match query.text("id").parse() {
        Ok(id) if sc.zone(id).is_some() => id,
        _ => {
            return Ok(Page::new(t("区域", "Zone"))
                .notice(Tone::Bad, t("没有这个区域。", "No such zone."))
                .links([(t("返回全厂孪生", "Back to the plant view"), "/x/twin/plant")])
                .into());
        }
    };
    let values = key_values(&sc, &mut missing, lang);
    let offset = plant::offset_ms().map_err(err)?;
    let z = sc.zone(id).expect("checked above");
    let scope = Scope::Zone(id);
    let mut people = Table::new([
        t("姓名", "Name"),
        t("类别", "Kind"),
        t("未移动 (s)", "Still (s)"),
        t("SOS", "SOS"),
    ])
    .numeric(2);
    for p in sc.people.iter().filter(|p| p.zones.contains(&id)) {
        people.push([
            p.name.clone(),
            names::person(p.kind.as_deref(), lang),
            p.still_s.to_string(),
            if p.sos { "SOS".into() } else { String::new() },
        ]);
    }
    let mut rules = Vec::new();
    if z.permit_required {
        rules.push(t("凭作业票进入", "entry with a permit only").to_string());
    }
    if let Some(m) = z.max_occupancy {
        rules.push(format!("{} {m}", t("最多", "at most")));
    }
    let title = format!("{} · {}", t("区域", "Zone"), z.name);
    let [k, map, alarms, work, equipment] =
        widgets(&scope, &sc, &values, offset, z.name.clone(), lang);
    let board = Board::new(12)
        .refresh(15)
        .widget(k.at(0, 0, 12, 1))
        .widget(map.at(0, 1, 8, 5))
        .widget(
            Widget::new(
                "people",
                t("区域内人员", "People inside"),
                WidgetContent::Table(people),
            )
            .at(8, 1, 4, 5),
        )
        .widget(alarms.at(0, 6, 6, 3))
        .widget(work.at(6, 6, 6, 3))
        .widget(equipment.at(0, 9, 12, 3));
    let mut page = missing_notice(Page::new(title), &missing, lang);
    if !rules.is_empty() {
        page = page.text(rules.join(" · "));
    }
    Ok(page
        .board(board)
        .links([(t("返回全厂孪生", "Back to the plant view"), "/x/twin/plant")])
        .into())
}

fn places_page(lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let (sc, missing) = load(lang)?;
    let mut table = Table::new([
        t("位号", "Tag no."),
        t("名称", "Name"),
        t("台账位置", "Ledger location"),
        t("X (m)", "X (m)"),
        t("Y (m)", "Y (m)"),
        t("来源", "From"),
        t("区域", "Zone"),
    ])
    .numeric(3);
    for (i, a) in sc.assets.iter().enumerate() {
        let (x, y, how) = match sc.places.get(&i) {
            Some((p, how)) => (
                figure(p.x),
                figure(p.y),
                match how {
                    Placed::Kept => t("手动摆放", "placed by hand"),
                    Placed::Parent => t("随所属装置", "with its unit"),
                    Placed::Location => t("按台账位置", "by its ledger location"),
                },
            ),
            None => ("—".into(), "—".into(), t("未摆放", "not placed")),
        };
        let zone = sc
            .asset_zone(i)
            .and_then(|z| sc.zone(z))
            .map(|z| z.name.clone())
            .unwrap_or_default();
        table.push([
            a.tag_no.clone(),
            a.name.clone(),
            a.location.clone(),
            x,
            y,
            how.to_string(),
            zone,
        ]);
    }
    let page = missing_notice(
        Page::new(t("设备摆放", "Placing equipment")),
        &missing,
        lang,
    );
    Ok(page
        .text(t(
            "坐标与安全模块的厂区平面图一致：单位米，原点在平面图左下角，X 向右、Y 向上（与区域多边形相同）。未手动摆放的设备放在其所属装置旁，或放在其台账位置所写的区域中。",
            "Coordinates are those of the safety module's plant layout: metres from its bottom-left corner, x to the right, y up (as the zones' polygons). Equipment not placed by hand sits beside the unit it is part of, or in the zone its ledger location names.",
        ))
        .table(table)
        .form(
            Form::new("place", t("保存位置", "Save place"))
                .field(Field::text("tag_no", t("设备位号", "Equipment tag no.")).required())
                .field(Field::number("x", "X (m)").required().min(0.0).max(sc.layout.width_m))
                .field(Field::number("y", "Y (m)").required().min(0.0).max(sc.layout.height_m)),
        )
        .form(
            Form::new("unplace", t("取消手动摆放", "Remove the place"))
                .field(Field::text("tag_no", t("设备位号", "Equipment tag no.")).required()),
        )
        .links([(t("返回全厂孪生", "Back to the plant view"), "/x/twin/plant")])
        .into())
}

/// The equipment a tag number names, as the ledger spells it.
fn known_tag_no(f: &Values, lang: Lang) -> Result<Result<String, Outcome>, String> {
    let asked = f.text("tag_no").trim().to_string();
    let assets: Vec<scene::Asset> =
        records::query("equipment.assets", &json!({}), ALL).map_err(err)?;
    Ok(
        match assets
            .iter()
            .find(|a| a.tag_no.eq_ignore_ascii_case(&asked))
        {
            Some(a) => Ok(a.tag_no.clone()),
            None => Err(Outcome::field_error(
                "tag_no",
                format!(
                    "{} {asked}",
                    lang.pick(
                        "设备台账中没有这个位号：",
                        "No equipment with this tag number:"
                    )
                ),
            )),
        },
    )
}

fn place(f: &Values, lang: Lang) -> Result<Outcome, String> {
    let tag_no = match known_tag_no(f, lang)? {
        Ok(t) => t,
        Err(o) => return Ok(o),
    };
    let p = Place {
        x: f.number("x")?,
        y: f.number("y")?,
    };
    let layout: scene::Layout = records::query("safety.layout", &json!({}), 1)
        .map(|v: Vec<scene::Layout>| v.into_iter().next().unwrap_or_default())
        .unwrap_or_default();
    if p.x > layout.width_m || p.y > layout.height_m {
        return Ok(Outcome::field_error(
            if p.x > layout.width_m { "x" } else { "y" },
            format!(
                "{} {} × {} m",
                lang.pick("超出厂区平面图：", "Outside the plant layout:"),
                layout.width_m,
                layout.height_m
            ),
        ));
    }
    storage::set_json(&place_key(&tag_no), &p).map_err(err)?;
    Ok(Outcome::message(format!(
        "{} {tag_no}",
        lang.pick("已保存位置：", "Place saved:")
    )))
}

fn unplace(f: &Values, lang: Lang) -> Result<Outcome, String> {
    let tag_no = match known_tag_no(f, lang)? {
        Ok(t) => t,
        Err(o) => return Ok(o),
    };
    storage::delete(&place_key(&tag_no)).map_err(err)?;
    Ok(Outcome::message(format!(
        "{} {tag_no}",
        lang.pick("已取消手动摆放：", "Place removed:")
    )))
}

/// The demo plant's equipment on its layout, at the first start (the tanks find the tank
/// farm by their ledger location, the agitator and the transmitter sit beside R101).
const DEMO_PLACES: &[(&str, f64, f64)] = &[
    ("U-100", 40.0, 252.0),
    ("R101", 80.0, 222.0),
    ("P101", 56.0, 200.0),
    ("P101B", 56.0, 190.0),
    ("C101", 200.0, 150.0),
];

struct Twin;

impl Plugin for Twin {
    fn info() -> Info {
        nplusx_sdk::info(
            "twin",
            "数字孪生",
            "Digital twin",
            env!("CARGO_PKG_VERSION"),
        )
        .page("plant", "全厂孪生", "Plant view", true)
        .page("places", "设备摆放", "Placing equipment", true)
        .page("zone", "区域", "Zone", false)
    }

    fn start(settings: &Values) -> Result<(), String> {
        let areas =
            scene::parse_areas(settings.text("areas")).map_err(|e| format!("areas: {e}"))?;
        SETTINGS.with(|c| *c.borrow_mut() = Settings { areas });
        if settings.flag("demo") && storage::keys("place:", 1).map_err(err)?.is_empty() {
            for (tag_no, x, y) in DEMO_PLACES {
                storage::set_json(&place_key(tag_no), &Place { x: *x, y: *y }).map_err(err)?;
            }
        }
        Ok(())
    }

    fn render(page: &str, query: &Values, lang: Lang) -> Result<View, String> {
        match page {
            "plant" => plant_page(lang),
            "zone" => zone_page(query, lang),
            "places" => places_page(lang),
            other => Err(format!("no page {other}")),
        }
    }

    fn action(page: &str, action: &str, fields: &Values, lang: Lang) -> Result<Outcome, String> {
        match (page, action) {
            ("places", "place") => place(fields, lang),
            ("places", "unplace") => unplace(fields, lang),
            _ => Err(format!("no action {action} on {page}")),
        }
    }
}

nplusx_sdk::plugin!(Twin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_and_times_read_well() {
        assert_eq!(figure(78.234), "78.2");
        assert_eq!(figure(0.456), "0.46");
        assert_eq!(figure(1234.5), "1234");
        assert_eq!(figure(5.0), "5");
        // 2026-12-05 09:30 UTC is 17:30 in Lanxi (UTC+8)
        assert_eq!(when(1_796_463_000_000, 8 * 3_600_000), "12-05 17:30");
    }
}
