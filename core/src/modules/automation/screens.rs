//! Process screens: a background (an SVG drawing or a PNG/JPEG/WebP picture of the unit)
//! with overlays bound to tags — a value with its unit, a state, a bar, a trend sparkline
//! or an alarm marker — placed in percent of the background, so one screen fits a desktop,
//! a wall screen and a phone. Screens are data: the editor in the browser saves the same
//! JSON the API takes. A binding names a tag; it is stored by the tag's id, so a rename
//! keeps it, and a binding to a tag that does not exist is refused.
//!
//! Backgrounds are checked before they are kept: pictures by their content, SVG by
//! `svg::check`, which refuses scripts, event handlers, external references and entity
//! declarations rather than trying to clean them.
//!
//! Owns `automation.screens` and `automation.screen_images`.

pub mod live;
pub mod svg;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Reader, Store, Table};
use crate::tags::model::{DataType, Tag};

const SCREENS: Table<u64, Screen> = Table::new("automation.screens");
const IMAGES: Table<u64, Image> = Table::new("automation.screen_images");

/// The most bindings one screen holds.
pub const MAX_BINDINGS: usize = 1000;
/// The largest background accepted.
pub const MAX_IMAGE: usize = 4 << 20;

/// What an overlay shows of its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Show {
    /// The value with its unit (a writable tag opens the set-point dialog).
    Value,
    /// On/off (a bool) or the value, coloured by its alarm state (a writable bool tag opens
    /// the on/off dialog).
    State,
    /// A bar between the tag's range limits (needs the tag's range).
    Bar,
    /// The last ten minutes as a sparkline (numbers only).
    Trend,
    /// A marker that shows only while the tag has an alarm, in its priority's colour.
    Alarm,
}

/// One overlay: a tag, what is shown of it and where (top-left corner, percent of the
/// background's width and height).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Binding {
    /// The tag's name (answers give the name now; saving looks it up by it).
    pub tag: String,
    /// The tag's id, which the binding follows through a rename (set on saving; ignored
    /// in what is sent).
    #[serde(default)]
    pub tag_id: u32,
    pub show: Show,
    pub x: f64,
    pub y: f64,
    /// A short caption shown before the value (`TIC101`); empty: none.
    #[serde(default)]
    pub label: String,
}

/// The background's kind and who put it there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Background {
    /// `image/svg+xml`, `image/png`, `image/jpeg` or `image/webp`.
    pub mime: String,
    pub bytes: usize,
    pub by: String,
    pub at_ms: i64,
}

/// A process screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Screen {
    pub id: u64,
    pub name: String,
    /// The unit it shows (`R101`); empty: a plant or area overview.
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub background: Option<Background>,
    pub bindings: Vec<Binding>,
    /// Goes up with every save; a save naming an older version is refused (someone else
    /// saved in between).
    pub version: u32,
    pub updated_by: String,
    pub updated_ms: i64,
}

/// What a save sends: no `id` makes a new screen.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ScreenInput {
    #[serde(default)]
    pub id: Option<u64>,
    /// The version the editor started from (refused when the screen has moved on).
    #[serde(default)]
    pub version: Option<u32>,
    pub name: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub bindings: Vec<Binding>,
}

impl ScreenInput {
    /// A new screen of `unit` (empty: a plant or area overview).
    pub fn new(name: &str, unit: &str, bindings: Vec<Binding>) -> ScreenInput {
        ScreenInput {
            id: None,
            version: None,
            name: name.into(),
            unit: unit.into(),
            bindings,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Image {
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
}

pub fn screens(r: &impl Reader) -> Result<Vec<Screen>> {
    Ok(r.values(&SCREENS)?)
}

pub fn screen(r: &impl Reader, id: u64) -> Result<Screen> {
    r.get(&SCREENS, &id)?
        .ok_or_else(|| Error::not_found("automation.screen.err.not_found"))
}

/// Answers with each binding's tag name as it is now (a renamed tag shows its new name; a
/// deleted one keeps the old name and shows no value).
pub fn named(mut s: Screen, by_id: &dyn Fn(u32) -> Option<Arc<Tag>>) -> Screen {
    for b in &mut s.bindings {
        if let Some(t) = by_id(b.tag_id) {
            b.tag = t.name.clone();
        }
    }
    s
}

/// Checks one binding against its tag; the tag's id goes into the binding.
fn check_binding(n: usize, b: &mut Binding, tag: Option<Arc<Tag>>) -> Result<()> {
    let Some(t) = tag else {
        return Err(Error::invalid_msg(
            "bindings",
            Msg::new("automation.screen.err.unknown_tag")
                .arg("n", n)
                .arg("tag", &b.tag),
        ));
    };
    // (NaN is in no range)
    let inside = |v: f64| (0.0..=100.0).contains(&v);
    if !(inside(b.x) && inside(b.y)) {
        return Err(Error::invalid_msg(
            "bindings",
            Msg::new("automation.screen.err.position")
                .arg("n", n)
                .arg("tag", &t.name),
        ));
    }
    let numeric = !matches!(t.data_type, DataType::String | DataType::Bool);
    let why = match b.show {
        Show::Bar if !numeric => Some("automation.screen.err.bar_type"),
        Show::Bar if t.range_lo.is_none() || t.range_hi.is_none() => {
            Some("automation.screen.err.bar_range")
        }
        Show::Trend if !numeric => Some("automation.screen.err.trend_type"),
        _ => None,
    };
    if let Some(key) = why {
        return Err(Error::invalid_msg(
            "bindings",
            Msg::new(key).arg("n", n).arg("tag", &t.name),
        ));
    }
    b.label = text("label", &b.label, 40, false)?;
    b.tag_id = t.id;
    b.tag = t.name.clone();
    Ok(())
}

/// Creates or updates a screen. Every binding must name an existing tag, sit inside the
/// background and suit what it shows; a save from an older version is refused.
pub fn save(
    store: &Store,
    actor: &Actor,
    input: ScreenInput,
    lookup: &dyn Fn(&str) -> Option<Arc<Tag>>,
    now_ms: i64,
) -> Result<Screen> {
    let name = text("name", &input.name, 80, true)?;
    let unit = text("unit", &input.unit, 40, false)?;
    if input.bindings.len() > MAX_BINDINGS {
        return Err(Error::invalid_msg(
            "bindings",
            Msg::new("automation.screen.err.too_many").arg("max", MAX_BINDINGS),
        ));
    }
    let mut bindings = input.bindings;
    for (i, b) in bindings.iter_mut().enumerate() {
        let tag = lookup(b.tag.trim());
        check_binding(i + 1, b, tag)?;
    }
    let mut w = store.write(actor)?;
    if !unit.is_empty() {
        super::batches::known_unit(&w, &unit)?;
    }
    let before = match input.id {
        Some(id) => Some(screen(&w, id)?),
        None => None,
    };
    // a save names the version it started from, so two editors cannot overwrite each other
    if before.is_some() && input.version.is_none() {
        return Err(Error::invalid_msg(
            "version",
            Msg::new("common.err.required").arg("field", "version"),
        ));
    }
    if let (Some(b), Some(v)) = (&before, input.version)
        && b.version != v
    {
        return Err(Error::Conflict(
            Msg::new("automation.screen.err.changed").arg("by", &b.updated_by),
        ));
    }
    let s = Screen {
        id: match &before {
            Some(b) => b.id,
            None => w.next_id(&SCREENS)?,
        },
        name,
        unit,
        background: before.as_ref().and_then(|b| b.background.clone()),
        bindings,
        version: before.as_ref().map_or(1, |b| b.version + 1),
        updated_by: actor.name.clone(),
        updated_ms: now_ms,
    };
    w.insert(&SCREENS, &s.id, &s)?;
    let target = format!("screen:{} {}", s.id, s.name);
    match &before {
        Some(b) => w.audit("automation.screen.update", target, Change::updated(b, &s)),
        None => w.audit("automation.screen.create", target, Change::created(&s)),
    }
    w.commit()?;
    Ok(s)
}

pub fn delete(store: &Store, actor: &Actor, id: u64) -> Result<()> {
    let mut w = store.write(actor)?;
    let s = screen(&w, id)?;
    w.remove(&SCREENS, &id)?;
    w.remove(&IMAGES, &id)?;
    w.audit(
        "automation.screen.delete",
        format!("screen:{} {}", s.id, s.name),
        Change::deleted(&s),
    );
    w.commit()?;
    Ok(())
}

/// What a background's bytes are: an SVG that passes `svg::check`, or a PNG, JPEG or
/// WebP picture. Anything else is refused with the reason.
pub fn background_kind(bytes: &[u8]) -> Result<&'static str> {
    if bytes.is_empty() {
        return Err(Error::invalid("file", "web.err.file_empty"));
    }
    if bytes.len() > MAX_IMAGE {
        return Err(Error::invalid_msg(
            "file",
            Msg::new("web.err.file_too_large").arg("mib", MAX_IMAGE >> 20),
        ));
    }
    // pictures by their magic bytes; anything else must be SVG text (an exported drawing
    // starts with `<?xml …?>`, which content sniffing calls XML)
    match infer::get(bytes).map(|k| k.mime_type()) {
        Some(m @ ("image/png" | "image/jpeg" | "image/webp")) => return Ok(m),
        // text that sniffing calls XML or HTML (a comment first) may still be an SVG
        Some(m) if !(m.starts_with("text/") || m.contains("xml")) => {
            return Err(Error::invalid("file", "automation.screen.err.image_type"));
        }
        _ => {}
    }
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| Error::invalid("file", "automation.screen.err.image_type"))?;
    svg::check(text).map_err(|why| Error::invalid_msg("file", why.msg()))?;
    Ok("image/svg+xml")
}

/// Puts a background behind a screen (replacing the one before).
pub fn set_background(
    store: &Store,
    actor: &Actor,
    id: u64,
    bytes: Vec<u8>,
    now_ms: i64,
) -> Result<Screen> {
    let mime = background_kind(&bytes)?;
    let mut w = store.write(actor)?;
    let before = screen(&w, id)?;
    let s = Screen {
        background: Some(Background {
            mime: mime.to_string(),
            bytes: bytes.len(),
            by: actor.name.clone(),
            at_ms: now_ms,
        }),
        version: before.version + 1,
        updated_by: actor.name.clone(),
        updated_ms: now_ms,
        ..before.clone()
    };
    w.insert(&IMAGES, &id, &Image { bytes })?;
    w.insert(&SCREENS, &id, &s)?;
    w.audit(
        "automation.screen.background",
        format!("screen:{} {}", s.id, s.name),
        Change::updated(&before.background, &s.background),
    );
    w.commit()?;
    Ok(s)
}

/// The background's type and bytes.
pub fn background(r: &impl Reader, id: u64) -> Result<Option<(String, Vec<u8>)>> {
    let s = screen(r, id)?;
    let Some(bg) = s.background else {
        return Ok(None);
    };
    Ok(r.get(&IMAGES, &id)?.map(|i| (bg.mime, i.bytes)))
}

/// The tags of a unit for its table view: its phase and batch tags, its key tags, every
/// tag whose equipment is the unit and every tag bound on its screens; no tag twice.
pub fn unit_tags(
    r: &impl Reader,
    unit: &super::batches::Unit,
    defs: &crate::tags::engine::Defs,
) -> Result<Vec<Arc<Tag>>> {
    let mut ids: Vec<u32> = Vec::new();
    let named = [&unit.phase_tag, &unit.batch_tag]
        .into_iter()
        .chain(unit.key_tags.iter());
    ids.extend(named.filter_map(|n| defs.by_name(n).map(|t| t.id)));
    let mut own: Vec<&Arc<Tag>> = defs.iter().filter(|t| t.equipment == unit.code).collect();
    own.sort_by(|a, b| a.name.cmp(&b.name));
    ids.extend(own.iter().map(|t| t.id));
    for s in screens(r)?.into_iter().filter(|s| s.unit == unit.code) {
        ids.extend(s.bindings.iter().map(|b| b.tag_id));
    }
    let mut seen = std::collections::HashSet::new();
    Ok(ids
        .into_iter()
        .filter(|id| seen.insert(*id))
        .filter_map(|id| defs.get(id).cloned())
        .collect())
}
