//! What a screen's live stream sends: one frame a second with the values that changed
//! since the last frame and the alarm markers that changed, named by tag. The first frame
//! has every bound tag, its alarm and, for trend bindings, the last ten minutes from the
//! historian. A viewer's cost is one read of the engine's current values per second, so
//! 500 bindings stay far under a percent of a core (`cargo bench --bench automation`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use crate::alarms::Alarms;
use crate::historian::Historian;
use crate::tags::engine::Engine;
use crate::tags::model::Quality;

fn quality_word(q: Quality) -> &'static str {
    match q {
        Quality::Good => "good",
        Quality::Uncertain(_) => "uncertain",
        Quality::Bad(_) => "bad",
    }
}

/// How far back a trend sparkline reaches.
pub const TREND_MS: i64 = 10 * 60_000;
/// Points of history a sparkline starts with (buckets over `TREND_MS`).
const TREND_POINTS: u32 = 120;

/// A tag's alarm marker: the most urgent annunciated alarm's priority, whether any waits
/// for an operator, and whether any is active (not returned).
#[derive(Debug, Clone, PartialEq)]
struct Mark {
    priority: String,
    waiting: bool,
    active: bool,
}

pub struct Feed {
    engine: Arc<Engine>,
    alarms: Arc<Alarms>,
    /// Bound tags: id and name.
    tags: Vec<(u32, String)>,
    ids: Vec<u32>,
    /// (timestamp, quality) last sent per tag.
    sent: Vec<Option<(i64, Quality)>>,
    /// Alarm marker last sent per tag name.
    marks: HashMap<String, Mark>,
}

impl Feed {
    pub fn new(engine: Arc<Engine>, alarms: Arc<Alarms>, tags: Vec<(u32, String)>) -> Feed {
        let ids = tags.iter().map(|(id, _)| *id).collect::<Vec<_>>();
        Feed {
            engine,
            alarms,
            sent: vec![None; ids.len()],
            ids,
            tags,
            marks: HashMap::new(),
        }
    }

    /// The first frame: every tag's value and alarm, and the recent history of `trends`.
    pub fn snapshot(&mut self, historian: &Historian, trends: &[u32], now_ms: i64) -> Json {
        let mut frame = self.frame_inner(true);
        let mut hist = serde_json::Map::new();
        for (id, name) in self.tags.iter().filter(|(id, _)| trends.contains(id)) {
            let Ok(buckets) = historian.aggregate(*id, now_ms - TREND_MS, now_ms, TREND_POINTS)
            else {
                continue;
            };
            let points: Vec<Json> = buckets
                .iter()
                .filter_map(|b| Some(json!([b.ts_ms, b.last?])))
                .collect();
            hist.insert(name.clone(), Json::Array(points));
        }
        frame["trends"] = Json::Object(hist);
        frame
    }

    /// The changes since the last frame; None when nothing changed.
    pub fn frame(&mut self) -> Option<Json> {
        let f = self.frame_inner(false);
        let empty = f["values"].as_object().is_some_and(|m| m.is_empty())
            && f["alarms"].as_object().is_some_and(|m| m.is_empty());
        (!empty).then_some(f)
    }

    fn frame_inner(&mut self, all: bool) -> Json {
        let currents = self.engine.currents(&self.ids);
        let mut values = serde_json::Map::new();
        for (i, c) in currents.iter().enumerate() {
            let Some(c) = c else { continue };
            let key = (c.ts_ms, c.quality);
            if !all && self.sent[i] == Some(key) {
                continue;
            }
            self.sent[i] = Some(key);
            values.insert(
                self.tags[i].1.clone(),
                json!([c.value, quality_word(c.quality), c.ts_ms]),
            );
        }
        // alarm markers: the most urgent annunciated alarm on each bound tag
        let mut now: HashMap<String, Mark> = HashMap::new();
        for inst in self.alarms.instances(None) {
            if !inst.state.is_annunciated() || !self.tags.iter().any(|(_, n)| *n == inst.tag) {
                continue;
            }
            let p = serde_json::to_value(inst.priority)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let (waiting, active) = (inst.state.needs_operator(), inst.active);
            now.entry(inst.tag.clone())
                .and_modify(|m| {
                    // instances come most urgent first: keep its priority
                    m.waiting |= waiting;
                    m.active |= active;
                })
                .or_insert(Mark {
                    priority: p,
                    waiting,
                    active,
                });
        }
        let mut alarms = serde_json::Map::new();
        for (tag, m) in &now {
            if all || self.marks.get(tag) != Some(m) {
                alarms.insert(tag.clone(), json!([m.priority, m.waiting, m.active]));
            }
        }
        for tag in self.marks.keys() {
            if !now.contains_key(tag) {
                alarms.insert(tag.clone(), Json::Null);
            }
        }
        self.marks = now;
        json!({ "values": values, "alarms": alarms })
    }
}
