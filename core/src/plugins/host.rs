//! What the plugin imports do, over the box's services. Every function checks its
//! capability first (`Guest::allow`) and answers with the contract's error values; none
//! panics on bad input from a plugin.

use std::collections::HashMap;

use super::runtime::{Guest, nplusx, wit};
use super::store as kv;
use crate::auth::model::Level;
use crate::tags::model::{DataType, Quality, Value};
use crate::util::now_ms;

use nplusx::plugin::tags::{Bucket, Current, Step, TagInfo, Total};

/// The collections of contract 0.1, each with the capabilities that allow it, in the shapes
/// 0.1 gave them (the box's own records as they are stored). A 0.2 plugin reads the ones
/// [`super::records`] also has in that module's documented shape instead.
pub const V01_COLLECTIONS: &[(&str, &[&str])] = &[
    ("org.profile", &["records.read"]),
    ("safety.certificates", &["records.read", "records.safety"]),
    ("alarms.active", &["records.read", "records.alarms"]),
    ("tags.defs", &["records.read"]),
    (
        "inventory.materials",
        &["records.read", "records.inventory"],
    ),
    ("inventory.stock", &["records.read", "records.inventory"]),
];

/// Which shape a collection is read in for this plugin: 0.1's (with its capabilities) or
/// a module's documented one.
enum Source {
    V01(&'static [&'static str]),
    Module(&'static super::records::Collection),
}

fn source(g: &Guest, name: &str) -> Option<Source> {
    let old = V01_COLLECTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, caps)| *caps);
    match (super::records::find(name), old) {
        (Some(_), Some(caps)) if g.minor < 2 => Some(Source::V01(caps)),
        (Some(c), _) => Some(Source::Module(c)),
        (None, Some(caps)) => Some(Source::V01(caps)),
        (None, None) => None,
    }
}

/// The collections this plugin may read (none granted: an empty list).
pub fn collections(g: &Guest) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let names = super::records::COLLECTIONS
        .iter()
        .map(|c| c.name)
        .chain(V01_COLLECTIONS.iter().map(|(n, _)| *n));
    for name in names {
        let allowed = match source(g, name) {
            Some(Source::V01(caps)) => g.holds_any(caps),
            Some(Source::Module(c)) => g.holds_any(&[c.capability]),
            None => false,
        };
        if allowed && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// Alarm keys one plugin may use.
const MAX_ALARM_KEYS: usize = 200;

/// The actions `actions.invoke` offers, each with the capabilities that allow it (the broad
/// `actions` of contract 0.1 or the module's own) and, when the plugin is answering a
/// person's submission, the permission that person needs: the one the console asks for the
/// same thing.
pub const ACTIONS: &[(&str, &[&str], (&str, Level))] = &[
    (
        "alarms.acknowledge",
        &["actions", "actions.alarms"],
        ("automation", Level::Write),
    ),
    (
        "alarms.acknowledge-own",
        &["actions", "actions.alarms"],
        ("automation", Level::Write),
    ),
    (
        "inventory.move",
        &["actions", "actions.inventory"],
        ("inventory", Level::Write),
    ),
    (
        "equipment.propose-work-order",
        &["actions", "actions.equipment"],
        ("equipment", Level::Write),
    ),
];

fn failed(e: impl std::fmt::Display) -> wit::Error {
    wit::Error::Failed(e.to_string())
}

pub fn quality(q: Quality) -> wit::Quality {
    match q {
        Quality::Good => wit::Quality::Good,
        Quality::Uncertain(_) => wit::Quality::Uncertain,
        Quality::Bad(_) => wit::Quality::Bad,
    }
}

/// A quality in `samples.qualities`: 0 good, 1 uncertain, 2 bad.
pub fn quality_code(q: Quality) -> u8 {
    match q {
        Quality::Good => 0,
        Quality::Uncertain(_) => 1,
        Quality::Bad(_) => 2,
    }
}

pub fn value(v: Option<&Value>) -> wit::Value {
    match v {
        None => wit::Value::None,
        Some(Value::Bool(b)) => wit::Value::Boolean(*b),
        Some(Value::Int(i)) => wit::Value::Integer(*i),
        Some(Value::Float(f)) => wit::Value::Float(*f),
        Some(Value::Text(t)) => wit::Value::Text(t.to_string()),
    }
}

/// A sample as plugins receive it.
pub fn sample(handle: u32, s: &crate::tags::model::Sample) -> wit::Sample {
    wit::Sample {
        handle,
        ts_ms: s.ts_ms,
        value: value(s.value.as_ref()),
        quality: quality(s.quality),
    }
}

fn type_name(d: DataType) -> &'static str {
    match d {
        DataType::Bool => "bool",
        DataType::Int => "int",
        DataType::Float => "float",
        DataType::String => "string",
    }
}

pub fn find(g: &mut Guest, area: &str) -> Result<Vec<TagInfo>, wit::Error> {
    g.allow("tags.read")?;
    let app = g.app()?;
    Ok(app
        .tags
        .defs()
        .iter()
        .filter(|t| area.is_empty() || t.area == area)
        .take(10_000)
        .map(|t| TagInfo {
            name: t.name.clone(),
            description_zh: t.description_zh.clone(),
            description_en: t.description_en.clone(),
            unit: t.unit.clone(),
            area: t.area.clone(),
            data_type: type_name(t.data_type).into(),
            writable: t.writable,
        })
        .collect())
}

fn tag_id(app: &crate::app::App, name: &str) -> Result<u32, wit::Error> {
    app.tags
        .defs()
        .by_name(name)
        .map(|t| t.id)
        .ok_or_else(|| wit::Error::NotFound(format!("no tag {name}")))
}

pub fn read(g: &mut Guest, names: &[String]) -> Result<Vec<Current>, wit::Error> {
    g.allow("tags.read")?;
    if names.len() > 10_000 {
        return Err(wit::Error::Invalid("at most 10,000 tags per read".into()));
    }
    let app = g.app()?;
    names
        .iter()
        .map(|n| {
            let id = tag_id(&app, n)?;
            let c = app.tags.current(id);
            Ok(Current {
                name: n.clone(),
                ts_ms: c.as_ref().map_or(0, |c| c.ts_ms),
                value: value(c.as_ref().and_then(|c| c.value.as_ref())),
                quality: c.map_or(wit::Quality::Bad, |c| quality(c.quality)),
            })
        })
        .collect()
}

pub fn subscribe(g: &mut Guest, names: &[String]) -> Result<Vec<u32>, wit::Error> {
    g.allow("tags.read")?;
    if names.len() > 10_000 {
        return Err(wit::Error::Invalid(
            "at most 10,000 tags per subscription".into(),
        ));
    }
    let app = g.app()?;
    let ids = names
        .iter()
        .map(|n| tag_id(&app, n))
        .collect::<Result<Vec<u32>, _>>()?;
    *g.shared
        .subscription
        .write()
        .expect("lock is never poisoned") = ids.clone();
    g.shared
        .generation
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok((0..ids.len() as u32).collect())
}

fn period(from: i64, to: i64) -> Result<(), wit::Error> {
    if to <= from || to - from > 400 * 86_400_000 {
        return Err(wit::Error::Invalid(
            "the period must end after it starts and span at most 400 days".into(),
        ));
    }
    Ok(())
}

pub fn history(
    g: &mut Guest,
    name: &str,
    from: i64,
    to: i64,
    limit: u32,
) -> Result<Vec<(i64, f64)>, wit::Error> {
    g.allow("tags.history")?;
    period(from, to)?;
    if to - from > 7 * 86_400_000 {
        return Err(wit::Error::Invalid(
            "raw history spans at most 7 days; use aggregate for longer".into(),
        ));
    }
    g.rate("history", 600)?;
    let app = g.app()?;
    let id = tag_id(&app, name)?;
    let points = app.historian.raw(id, from, to).map_err(failed)?;
    Ok(points
        .iter()
        .filter_map(|p| Some((p.ts_ms, p.value.as_ref()?.as_f64()?)))
        .take(limit.min(100_000) as usize)
        .collect())
}

pub fn aggregate(
    g: &mut Guest,
    name: &str,
    from: i64,
    to: i64,
    buckets: u32,
) -> Result<Vec<Bucket>, wit::Error> {
    g.allow("tags.history")?;
    period(from, to)?;
    if !(1..=10_000).contains(&buckets) {
        return Err(wit::Error::Invalid("1 to 10,000 buckets".into()));
    }
    g.rate("history", 600)?;
    let app = g.app()?;
    let id = tag_id(&app, name)?;
    let out = app
        .historian
        .aggregate(id, from, to, buckets)
        .map_err(failed)?;
    let nan = f64::NAN;
    Ok(out
        .into_iter()
        .map(|b| Bucket {
            ts_ms: b.ts_ms,
            count: b.count,
            min: b.min.unwrap_or(nan),
            max: b.max.unwrap_or(nan),
            avg: b.avg.unwrap_or(nan),
            first: b.first.unwrap_or(nan),
            last: b.last.unwrap_or(nan),
        })
        .collect())
}

pub fn totals(
    g: &mut Guest,
    name: &str,
    from: i64,
    to: i64,
    step: Step,
) -> Result<Vec<Total>, wit::Error> {
    use crate::historian::totals as t;
    g.allow("tags.history")?;
    period(from, to)?;
    let app = g.app()?;
    let step = match step {
        Step::Hour => t::Step::Hour,
        Step::Shift(s) => t::Step::Shift(s),
        Step::Day => t::Step::Day,
        Step::Month => t::Step::Month,
    };
    let bounds = t::boundaries(from, to, &step, app.offset).ok_or_else(|| {
        wit::Error::Invalid(format!(
            "at most {} periods; shift starts are minutes of the day, 0–1439 (at least one)",
            t::MAX_PERIODS
        ))
    })?;
    g.rate("history", 600)?;
    let tag = app
        .tags
        .defs()
        .by_name(name)
        .cloned()
        .ok_or_else(|| wit::Error::NotFound(format!("no tag {name}")))?;
    if !matches!(tag.data_type, DataType::Int | DataType::Float) {
        return Err(wit::Error::Invalid(format!(
            "{name} is a {} tag; totals are of numbers",
            type_name(tag.data_type)
        )));
    }
    Ok(app
        .historian
        .totals(tag.id, &bounds, now_ms())
        .map_err(failed)?
        .into_iter()
        .map(|x| Total {
            start_ms: x.start_ms,
            end_ms: x.end_ms,
            count: x.count,
            min: x.min,
            max: x.max,
            mean: x.mean,
            first: x.first,
            last: x.last,
            delta: x.delta,
            integral: x.integral,
        })
        .collect())
}

pub fn write_tag(g: &mut Guest, name: &str, v: wit::Value) -> Result<(), wit::Error> {
    g.allow("tags.write")?;
    let app = g.app()?;
    let tag = app
        .tags
        .defs()
        .by_name(name)
        .cloned()
        .ok_or_else(|| wit::Error::NotFound(format!("no tag {name}")))?;
    let json = match v {
        wit::Value::None => serde_json::Value::Null,
        wit::Value::Boolean(b) => serde_json::Value::Bool(b),
        wit::Value::Integer(i) => serde_json::Value::from(i),
        wit::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        wit::Value::Text(t) => serde_json::Value::String(t),
    };
    g.rate("tag write", 120)?;
    let checked = crate::tags::service::check_write(&tag, &json)
        .map_err(|e| wit::Error::Invalid(e.msg().render(crate::i18n::Lang::En)))?;
    let rt = app
        .io()
        .ok_or_else(|| wit::Error::Failed("the box is shutting down".into()))?;
    let actor = g.actor();
    rt.block_on(crate::tags::service::write(&app, actor, tag, checked))
        .map_err(|e| wit::Error::Failed(e.msg().render(crate::i18n::Lang::En)))
}

fn check_key(key: &str) -> Result<(), wit::Error> {
    if key.is_empty() || key.len() > 256 {
        return Err(wit::Error::Invalid("keys are 1–256 bytes".into()));
    }
    Ok(())
}

fn used(g: &mut Guest, app: &crate::app::App) -> Result<u64, wit::Error> {
    if let Some(u) = g.kv_used {
        return Ok(u);
    }
    let u = kv::usage(&app.store, &g.id).map_err(failed)?;
    g.kv_used = Some(u);
    Ok(u)
}

pub fn kv_get(g: &mut Guest, key: &str) -> Result<Option<Vec<u8>>, wit::Error> {
    g.allow("storage")?;
    check_key(key)?;
    let app = g.app()?;
    kv::get(&app.store, &g.id, key).map_err(failed)
}

pub fn kv_set(g: &mut Guest, key: &str, value: Option<Vec<u8>>) -> Result<(), wit::Error> {
    g.allow("storage")?;
    check_key(key)?;
    if value.as_ref().is_some_and(|v| v.len() > 1 << 20) {
        return Err(wit::Error::Invalid("values are at most 1 MiB".into()));
    }
    g.rate("storage write", 1_200)?;
    let app = g.app()?;
    let before = used(g, &app)?;
    let old = kv::get(&app.store, &g.id, key).map_err(failed)?;
    let size = |v: &Option<Vec<u8>>| v.as_ref().map_or(0, |v| (v.len() + key.len()) as u64);
    let after = before - size(&old).min(before) + size(&value);
    if after > g.quota && after > before {
        return Err(wit::Error::Quota(format!(
            "storage quota of {} bytes used up ({before} in use)",
            g.quota
        )));
    }
    kv::put(&app.store, &g.id, key, value.as_deref()).map_err(failed)?;
    g.kv_used = Some(after);
    Ok(())
}

pub fn kv_keys(g: &mut Guest, prefix: &str, limit: u32) -> Result<Vec<String>, wit::Error> {
    g.allow("storage")?;
    let app = g.app()?;
    kv::keys(&app.store, &g.id, prefix, limit.min(10_000) as usize).map_err(failed)
}

pub fn kv_usage(g: &mut Guest) -> Result<(u64, u64), wit::Error> {
    g.allow("storage")?;
    let app = g.app()?;
    Ok((used(g, &app)?, g.quota))
}

/// Records of a collection (`window`: a timed one's `[from, to)`), filtered by field
/// equality, at most `limit`.
pub fn records(
    g: &mut Guest,
    collection: &str,
    window: Option<(i64, i64)>,
    filter: &str,
    limit: u32,
) -> Result<Vec<String>, wit::Error> {
    let Some(src) = source(g, collection) else {
        return Err(wit::Error::NotFound(format!("no collection {collection}")));
    };
    match &src {
        Source::V01(caps) => g.allow_one_of(caps)?,
        Source::Module(c) => g.allow(c.capability)?,
    }
    if let Some((from, to)) = window
        && (to <= from || to - from > 400 * 86_400_000)
    {
        return Err(wit::Error::Invalid(
            "the window must end after it starts and span at most 400 days".into(),
        ));
    }
    g.rate("query", 600)?;
    let filter: HashMap<String, serde_json::Value> = if filter.trim().is_empty() {
        HashMap::new()
    } else {
        serde_json::from_str(filter)
            .map_err(|e| wit::Error::Invalid(format!("the filter must be a JSON object: {e}")))?
    };
    let app = g.app()?;
    let limit = (limit as usize).min(super::records::MAX_ROWS);
    let rows = match src {
        Source::Module(c) => {
            // filtered after reading: a timed collection's newest as many as a call may
            // give; an untimed one (stock, materials, locations) whole, so a filter finds
            // its rows wherever they are
            let want = if filter.is_empty() {
                limit
            } else if c.time_field.is_none() {
                usize::MAX
            } else {
                super::records::MAX_ROWS
            };
            // an equipment state the module can filter by reads only those orders
            let state = filter.get("state").and_then(|v| v.as_str()).or_else(|| {
                (filter.get("open") == Some(&serde_json::Value::Bool(true))).then_some("open")
            });
            super::records::rows(&app, c, window, want, state)?
        }
        Source::V01(_) if window.is_some() => {
            return Err(wit::Error::Invalid(format!(
                "{collection} is not timed: read it with query"
            )));
        }
        Source::V01(_) => v01_rows(&app, collection)?,
    };
    Ok(rows
        .into_iter()
        .filter(|row| filter.iter().all(|(k, v)| row.get(k) == Some(v)))
        .take(limit)
        .map(|row| row.to_string())
        .collect())
}

/// Records a generic pivot reads at most (a window holding more: `invalid`, narrow it).
const PIVOT_ROWS: usize = 500_000;

/// `records.pivot`: the box folds a timed collection's window into a pivot table. Inventory
/// movements are folded by the inventory module from its own tables (the whole ledger in one
/// read); the others from the rows `records.rs` gives plugins.
pub fn pivot(
    g: &mut Guest,
    collection: &str,
    (from, to): (i64, i64),
    rows: &[String],
    columns: &[String],
    measures: &[String],
) -> Result<String, wit::Error> {
    let Some(c) = super::records::find(collection) else {
        return Err(wit::Error::NotFound(format!("no collection {collection}")));
    };
    g.allow(c.capability)?;
    let Some(fields) = super::records::pivot_fields(collection) else {
        return Err(wit::Error::Invalid(format!(
            "{collection} has no pivot (collections with one: {})",
            super::records::PIVOTS
                .iter()
                .map(|p| p.0)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    if to <= from || to - from > 400 * 86_400_000 {
        return Err(wit::Error::Invalid(
            "the window must end after it starts and span at most 400 days".into(),
        ));
    }
    g.rate("query", 600)?;
    let spec = crate::pivot::Spec::parse(rows, columns, measures, fields.1, fields.2, fields.3)
        .map_err(wit::Error::Invalid)?;
    let app = g.app()?;
    if let Some(m) = c.module
        && !app.registry.is_enabled(m)
    {
        return Err(wit::Error::Failed(format!(
            "the {m} module is switched off"
        )));
    }
    let table = if collection == "inventory.movements" {
        let r = app.store.read().map_err(failed)?;
        crate::modules::inventory::service::analysis::pivot_movements(
            &r, &spec, from, to, app.offset,
        )
        .map_err(|e| wit::Error::Failed(e.msg().render(crate::i18n::Lang::En)))?
    } else {
        let rows = super::records::rows(&app, c, Some((from, to)), PIVOT_ROWS + 1, None)?;
        if rows.len() > PIVOT_ROWS {
            return Err(wit::Error::Invalid(format!(
                "more than {PIVOT_ROWS} records in the window: narrow it"
            )));
        }
        crate::pivot::compute(&spec, &rows, app.offset).map_err(wit::Error::Invalid)?
    };
    serde_json::to_string(&table).map_err(failed)
}

/// A 0.1 collection's rows, as 0.1 gave them.
fn v01_rows(app: &crate::app::App, collection: &str) -> Result<Vec<serde_json::Value>, wit::Error> {
    let r = app.store.read().map_err(failed)?;
    let rows: Vec<serde_json::Value> = match collection {
        "org.profile" => vec![
            serde_json::to_value(crate::org::service::profile(&r).map_err(failed)?)
                .map_err(failed)?,
        ],
        "safety.certificates" => {
            let today = crate::plant_time::today(app.offset);
            crate::modules::safety::archive::service::certificates(&r, today, &Default::default())
                .map_err(failed)?
                .into_iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect()
        }
        "alarms.active" => app
            .alarms
            .instances(None)
            .into_iter()
            .filter(|i| i.state != crate::alarms::model::State::Normal)
            .filter_map(|i| serde_json::to_value(i).ok())
            .collect(),
        "tags.defs" => app
            .tags
            .defs()
            .iter()
            .filter_map(|t| serde_json::to_value(t.as_ref()).ok())
            .collect(),
        "inventory.materials" | "inventory.stock" if !app.registry.is_enabled("inventory") => {
            return Err(wit::Error::Failed(
                "the inventory module is switched off".into(),
            ));
        }
        "inventory.materials" => crate::modules::inventory::service::materials(&r)
            .map_err(failed)?
            .into_iter()
            .filter_map(|m| serde_json::to_value(m).ok())
            .collect(),
        "inventory.stock" => crate::modules::inventory::service::stock(
            &r,
            &Default::default(),
            crate::plant_time::today(app.offset),
        )
        .map_err(failed)?
        .into_iter()
        .filter_map(|x| serde_json::to_value(x).ok())
        .collect(),
        other => return Err(wit::Error::NotFound(format!("no collection {other}"))),
    };
    Ok(rows)
}

pub fn invoke(g: &mut Guest, name: &str, args: &str) -> Result<String, wit::Error> {
    let Some((_, caps, (module, level))) = ACTIONS.iter().find(|(n, ..)| *n == name) else {
        return Err(wit::Error::NotFound(format!("no action {name}")));
    };
    g.allow_one_of(caps)?;
    // answering a person: the action is theirs, with their permission, audited as them
    let actor = match &g.caller {
        Some(p) if !p.can(module, *level) => {
            let who = p.actor().name;
            g.log.push_host(
                "warn",
                &format!("{name} refused: {who} has no {} on {module}", level.id()),
            );
            return Err(wit::Error::Denied(format!(
                "{who} may not do this: their role has no {} permission on the {module} module",
                level.id()
            )));
        }
        Some(p) => p.actor().via_plugin(&g.id),
        None => g.actor(),
    };
    g.rate("action", 120)?;
    let args: serde_json::Value = serde_json::from_str(args)
        .map_err(|e| wit::Error::Invalid(format!("arguments must be JSON: {e}")))?;
    let comment = args["comment"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(500)
        .collect::<String>();
    let app = g.app()?;
    // a module's refusal, in the language of the person acting (English otherwise)
    let lang = g.lang.unwrap_or(crate::i18n::Lang::En);
    let en = |e: crate::error::Error| e.msg().render(lang);
    match name {
        "alarms.acknowledge" => {
            let id = args["id"]
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| wit::Error::Invalid("`id`: the alarm's id".into()))?;
            app.alarms
                .act(id, crate::alarms::Action::Ack, &actor, &comment)
                .map_err(|e| wit::Error::Invalid(en(e)))?;
            Ok(serde_json::json!({ "acknowledged": 1 }).to_string())
        }
        "alarms.acknowledge-own" => {
            let prefix = format!("plugin:{}:", g.id);
            let ids: Vec<u32> = app
                .alarms
                .external_sources(&prefix)
                .iter()
                .filter_map(|s| app.alarms.external_id(s))
                .collect();
            let n = app
                .alarms
                .ack_many(&ids, &actor, &comment)
                .map_err(|e| wit::Error::Failed(en(e)))?;
            Ok(serde_json::json!({ "acknowledged": n }).to_string())
        }
        "inventory.move" => {
            // the same rules as the console: a refusal names the rule; a movement that needs
            // two custodians (剧毒, a major hazard store) needs them signed in themselves —
            // neither the plugin nor a person acting through it
            if !app.registry.is_enabled("inventory") {
                return Err(wit::Error::Failed(
                    "the inventory module is switched off".into(),
                ));
            }
            use crate::modules::inventory::{model::MoveKind, service as inv};
            // `"check": true`: every rule, nothing posted (since 0.3)
            let mut args = args;
            // a check asked for wrongly must not post for real
            let check = match args.as_object_mut().and_then(|o| o.remove("check")) {
                None | Some(serde_json::Value::Bool(false)) => false,
                Some(serde_json::Value::Bool(true)) => true,
                Some(other) => {
                    return Err(wit::Error::Invalid(format!(
                        "check: true or false, not {other}"
                    )));
                }
            };
            let mut input: inv::MoveInput = serde_json::from_value(args)
                .map_err(|e| wit::Error::Invalid(format!("a movement: {e}")))?;
            // a lot named by its number (what labels carry): the lot of that material
            if input.lot.is_none()
                && !input.lot_number.trim().is_empty()
                && input.kind != Some(MoveKind::Receipt)
            {
                let r = app.store.read().map_err(failed)?;
                let l = inv::lot_by_number(&r, input.material, input.lot_number.trim())
                    .map_err(failed)?
                    .ok_or_else(|| {
                        wit::Error::Invalid(format!(
                            "lot: no lot {} of this material",
                            input.lot_number.trim()
                        ))
                    })?;
                input.lot = Some(l.id);
            }
            let refusal = |e: crate::error::Error| match e {
                crate::error::Error::Invalid { field, .. } => {
                    wit::Error::Invalid(format!("{field}: {}", en(e)))
                }
                other => wit::Error::Failed(en(other)),
            };
            if check {
                crate::modules::inventory::check(&app, &actor, input).map_err(refusal)?;
                // who the movement would be recorded as: the person whose form it is
                return Ok(serde_json::json!({ "ok": true, "by": actor.label() }).to_string());
            }
            let p = crate::modules::inventory::post(&app, &actor, input).map_err(refusal)?;
            serde_json::to_string(&p).map_err(failed)
        }
        "equipment.propose-work-order" => {
            use crate::modules::equipment::service as eq;
            if !app.registry.is_enabled("equipment") {
                return Err(wit::Error::Failed(
                    "the equipment module is switched off".into(),
                ));
            }
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Proposal {
                /// The equipment's tag number (位号), e.g. `P-101`.
                equipment: String,
                key: String,
                title: String,
                #[serde(default)]
                description: String,
                #[serde(default)]
                priority: Option<crate::modules::equipment::model::WoPriority>,
                #[serde(default)]
                due: Option<String>,
            }
            let p: Proposal = serde_json::from_value(args)
                .map_err(|e| wit::Error::Invalid(format!("a work order proposal: {e}")))?;
            let r = app.store.read().map_err(failed)?;
            let e = eq::by_tag_no(&r, p.equipment.trim())
                .map_err(failed)?
                .ok_or_else(|| wit::Error::NotFound(format!("no equipment {}", p.equipment)))?;
            drop(r);
            let n = eq::NewOrder {
                equipment: e.id,
                kind: crate::modules::equipment::model::WoKind::Corrective,
                title: p.title,
                description: p.description,
                priority: p.priority.unwrap_or_default(),
                stopped: false,
                due: p.due,
                needs_permits: Vec::new(),
            };
            let (o, new) = eq::propose_order(
                &app.store,
                &actor,
                &g.id,
                &p.key,
                n,
                crate::modules::equipment::now(&app),
            )
            .map_err(|e| match e {
                crate::error::Error::Invalid { field, .. } => {
                    wit::Error::Invalid(format!("{field}: {}", en(e)))
                }
                other => wit::Error::Failed(en(other)),
            })?;
            Ok(serde_json::json!({
                "id": o.id, "number": o.number, "state": o.state, "new": new,
            })
            .to_string())
        }
        other => Err(wit::Error::NotFound(format!("no action {other}"))),
    }
}

fn check_name(name: &str, what: &str) -> Result<(), wit::Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(wit::Error::Invalid(format!(
            "{what}: 1–64 of letters, digits and - _ . :"
        )))
    }
}

pub fn emit(g: &mut Guest, name: &str, data: &str) -> Result<(), wit::Error> {
    g.allow("events")?;
    check_name(name, "event name")?;
    if data.len() > 64 * 1024 {
        return Err(wit::Error::Invalid("event data is at most 64 KiB".into()));
    }
    let parsed: serde_json::Value = serde_json::from_str(data)
        .map_err(|e| wit::Error::Invalid(format!("event data must be a JSON object: {e}")))?;
    if !parsed.is_object() {
        return Err(wit::Error::Invalid(
            "event data must be a JSON object".into(),
        ));
    }
    g.rate("event", 600)?;
    let app = g.app()?;
    app.plugins.publish_event(wit::Event {
        kind: format!("plugin.{}.{name}", g.id),
        source: format!("plugin:{}", g.id),
        ts_ms: now_ms(),
        data: parsed.to_string(),
    });
    Ok(())
}

pub fn listen(g: &mut Guest, kinds: Vec<String>) -> Result<(), wit::Error> {
    g.allow("events")?;
    if kinds.len() > 100 || kinds.iter().any(|k| k.is_empty() || k.len() > 128) {
        return Err(wit::Error::Invalid(
            "1–100 kinds of 1–128 characters".into(),
        ));
    }
    *g.shared.listen.write().expect("lock is never poisoned") = kinds;
    Ok(())
}

pub fn raise_alarm(
    g: &mut Guest,
    key: &str,
    priority: nplusx::plugin::events::Priority,
    zh: &str,
    en: &str,
) -> Result<(), wit::Error> {
    use crate::alarms::model::Priority as P;
    use nplusx::plugin::events::Priority as W;
    g.allow("alarms")?;
    check_name(key, "alarm key")?;
    if zh.trim().is_empty() || en.trim().is_empty() || zh.len() > 400 || en.len() > 400 {
        return Err(wit::Error::Invalid(
            "messages: 1–400 bytes in both languages".into(),
        ));
    }
    g.rate("alarm", 600)?;
    let app = g.app()?;
    let source = format!("plugin:{}:{key}", g.id);
    // a plugin's alarms are definitions in the alarm system: a bounded set of them
    if app.alarms.external_id(&source).is_none()
        && app
            .alarms
            .external_sources(&format!("plugin:{}:", g.id))
            .len()
            >= MAX_ALARM_KEYS
    {
        return Err(wit::Error::Quota(format!(
            "at most {MAX_ALARM_KEYS} different alarm keys per plugin"
        )));
    }
    // the admin's limits: a new alarm counts against the hour, a standing one is kept
    if !app.alarms.external_active(&source) {
        let now = now_ms();
        let mut raises = g
            .shared
            .alarm_raises
            .lock()
            .expect("lock is never poisoned");
        while raises.front().is_some_and(|t| now - t >= 3_600_000) {
            raises.pop_front();
        }
        if raises.len() >= g.alarms.per_hour as usize {
            drop(raises);
            let why = format!(
                "at most {} new alarms an hour (the limit the admin set)",
                g.alarms.per_hour
            );
            g.log
                .push_host("warn", &format!("alarm {key} refused: {why}"));
            return Err(wit::Error::Quota(why));
        }
        raises.push_back(now);
    }
    let asked = match priority {
        W::Urgent => P::Urgent,
        W::High => P::High,
        W::Medium => P::Medium,
        W::Low => P::Low,
    };
    // `Urgent` sorts first: the ceiling is the larger of the two
    let p = asked.max(g.alarms.ceiling);
    let text = crate::alarms::model::Text {
        zh: zh.to_string(),
        en: en.to_string(),
    };
    app.alarms
        .raise_external(&source, p, &text, "")
        .map_err(|e| wit::Error::Failed(e.msg().render(crate::i18n::Lang::En)))
}

pub fn clear_alarm(g: &mut Guest, key: &str) -> Result<(), wit::Error> {
    g.allow("alarms")?;
    check_name(key, "alarm key")?;
    let app = g.app()?;
    app.alarms.clear_external(&format!("plugin:{}:{key}", g.id));
    Ok(())
}

pub fn schedule_set(
    g: &mut Guest,
    jobs: Vec<nplusx::plugin::schedule::Job>,
) -> Result<(), wit::Error> {
    use super::jobs::{JobSpec, MAX_JOBS, parse_cron};
    g.allow("schedule")?;
    if jobs.len() > MAX_JOBS {
        return Err(wit::Error::Invalid(format!("at most {MAX_JOBS} jobs")));
    }
    let mut out: Vec<JobSpec> = Vec::with_capacity(jobs.len());
    for j in jobs {
        check_name(&j.name, "job name")?;
        if out.iter().any(|o| o.name == j.name) {
            return Err(wit::Error::Invalid(format!("job {}: named twice", j.name)));
        }
        if !(100..=10_000).contains(&j.deadline_ms) {
            return Err(wit::Error::Invalid(format!(
                "job {}: deadline-ms is 100–10,000",
                j.name
            )));
        }
        let cron = parse_cron(&j.cron)
            .map_err(|e| wit::Error::Invalid(format!("job {}: cron {:?}: {e}", j.name, j.cron)))?;
        out.push(JobSpec {
            name: j.name,
            cron_text: j.cron,
            cron,
            deadline: std::time::Duration::from_millis(u64::from(j.deadline_ms)),
        });
    }
    *g.shared.jobs.lock().expect("lock is never poisoned") = Some(out);
    Ok(())
}

/// `files.table`: the box writes the file and keeps it for the plugin's readers.
pub fn files_table(
    g: &mut Guest,
    name: &str,
    format: nplusx::plugin::files::Format,
    sheets: Vec<nplusx::plugin::files::Sheet>,
) -> Result<String, wit::Error> {
    use super::files as f;
    use nplusx::plugin::files::{Cell, Format};
    g.allow("files")?;
    g.rate("files", 60)?;
    let sheets: Vec<f::Sheet> = sheets
        .into_iter()
        .map(|s| f::Sheet {
            name: s.name,
            header: s.header,
            rows: s
                .rows
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|c| match c {
                            Cell::Empty => f::Cell::Empty,
                            Cell::Text(t) => f::Cell::Text(t),
                            Cell::Number(x) => f::Cell::Number(x),
                            Cell::Time(ms) => f::Cell::Time(ms),
                        })
                        .collect()
                })
                .collect(),
        })
        .collect();
    let app = g.app()?;
    let format = match format {
        Format::Xlsx => f::Format::Xlsx,
        Format::Csv => f::Format::Csv,
    };
    let (name, bytes) = f::write(name, format, &sheets, app.offset).map_err(wit::Error::Invalid)?;
    let id = f::save(&app.store, &g.actor(), &g.id, name, bytes, now_ms()).map_err(failed)?;
    Ok(format!("/x/{}/files/{id}", g.id))
}

/// `notify.channels`: the enabled channels' names.
pub fn notify_channels(g: &mut Guest) -> Result<Vec<String>, wit::Error> {
    g.allow("notify")?;
    Ok(g.app()?.notifier.enabled_names())
}

/// Messages a plugin may send an hour, whatever the channels allow.
const NOTIFY_PER_HOUR: usize = 30;

/// `notify.send`: through a channel, within its hourly limit and the plugin's.
pub fn notify_send(
    g: &mut Guest,
    channel: &str,
    title: &str,
    text: &str,
    file: Option<&str>,
) -> Result<(), wit::Error> {
    g.allow("notify")?;
    let (tl, bl) = (title.trim().chars().count(), text.chars().count());
    if tl == 0 || tl > 200 || bl > 4_000 {
        return Err(wit::Error::Invalid(
            "a title of 1–200 characters and a text of at most 4,000".into(),
        ));
    }
    let app = g.app()?;
    let now = now_ms();
    let attachment = match file {
        None => None,
        Some(address) => {
            let r = app.store.read().map_err(failed)?;
            let f = super::files::by_address(&r, &g.id, address, now)
                .map_err(failed)?
                .ok_or_else(|| {
                    wit::Error::NotFound(format!("no file {address} of this plugin (kept 7 days)"))
                })?;
            let mime = f.content_type().to_string();
            Some((address.to_string(), f.name, mime, f.bytes.into_vec()))
        }
    };
    {
        let mut sent = g
            .shared
            .notified
            .lock()
            .expect("plugin lock is never poisoned");
        while sent.front().is_some_and(|t| *t <= now - 3_600_000) {
            sent.pop_front();
        }
        if sent.len() >= NOTIFY_PER_HOUR {
            return Err(wit::Error::Quota(format!(
                "at most {NOTIFY_PER_HOUR} messages an hour"
            )));
        }
    }
    // the link for robots and the mail's text; the file itself goes with email
    let base = app.cfg.web.public_url.trim().trim_end_matches('/');
    let mut body = text.to_string();
    let attachment = attachment.map(|(address, name, mime, bytes)| {
        body.push_str(&format!("\n{name}: {base}{address}"));
        (name, mime, bytes)
    });
    let log = g.log.clone();
    let channel_name = channel.to_string();
    app.notifier
        .message(channel, title.trim(), &body, attachment, move |r| {
            if let Err(why) = r {
                log.push_host(
                    "warn",
                    &format!("the message through {channel_name} failed: {why}"),
                );
            }
        })
        .map_err(|e| match e {
            crate::alarms::notify::MessageRefused::NoChannel => {
                wit::Error::NotFound(format!("no enabled channel {channel}"))
            }
            crate::alarms::notify::MessageRefused::Limit(n) => wit::Error::Quota(format!(
                "the channel {channel} sends at most {n} messages an hour"
            )),
        })?;
    g.shared
        .notified
        .lock()
        .expect("plugin lock is never poisoned")
        .push_back(now);
    Ok(())
}

pub fn mqtt_publish(
    g: &mut Guest,
    topic: &str,
    payload: &[u8],
    retain: bool,
) -> Result<(), wit::Error> {
    g.allow("mqtt")?;
    let ok = !topic.is_empty()
        && topic.len() <= 200
        && !topic.contains(['+', '#', '\0'])
        && !topic.starts_with('/');
    if !ok {
        return Err(wit::Error::Invalid(
            "topic: 1–200 characters, no wildcards, not starting with /".into(),
        ));
    }
    if payload.len() > 16 * 1024 {
        return Err(wit::Error::Invalid("payload is at most 16 KiB".into()));
    }
    // it shares the plant's store-and-forward queue: metered
    g.rate("mqtt publish", 60)?;
    let app = g.app()?;
    app.northbound
        .enqueue_message(&format!("plugins/{}/{topic}", g.id), payload, retain)
        .map_err(|e| wit::Error::Failed(e.msg().render(crate::i18n::Lang::En)))
}
