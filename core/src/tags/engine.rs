//! The tag engine: current values in memory and their fan-out.
//!
//! Drivers call [`Engine::publish`] with batches of samples. The engine checks them against
//! the tag definitions (unknown tags dropped, range → uncertain), keeps the latest value of
//! every tag, and decides what is *reportable*: a change beyond the tag's deadband, a
//! quality change, or a heartbeat once a minute for a steady value. Reportable samples go
//! to the sinks (historian, alarm engine: synchronous, must not block) and to the live
//! broadcast (SSE, plugins, northbound: lossy for slow subscribers, who are told they lagged).
//! Publishing never waits on a subscriber.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::broadcast;

use super::model::{Current, Quality, Reason, Sample, Tag, Value};

/// A steady value is reported at least this often, so history and subscribers see it alive.
pub const HEARTBEAT_MS: i64 = 60_000;

/// A consumer of reportable samples that runs inside `publish`. Must be quick and must not
/// block (append to a buffer, evaluate a limit).
pub trait Sink: Send + Sync {
    fn accept(&self, batch: &[Sample]);
    /// True for sinks that must see every sample, not only those past the tag's deadband
    /// and heartbeat (alarm evaluation: a short spike inside the deadband still counts).
    fn every_sample(&self) -> bool {
        false
    }
}

/// The tag definitions, indexed by handle and by name. Replaced as a whole on change.
#[derive(Default)]
pub struct Defs {
    by_id: Vec<Option<Arc<Tag>>>,
    by_name: HashMap<String, u32>,
}

impl Defs {
    pub fn new(tags: impl IntoIterator<Item = Tag>) -> Defs {
        let mut d = Defs::default();
        for t in tags {
            let id = t.id as usize;
            if d.by_id.len() <= id {
                d.by_id.resize(id + 1, None);
            }
            d.by_name.insert(t.name.clone(), t.id);
            d.by_id[id] = Some(Arc::new(t));
        }
        d
    }
    pub fn get(&self, id: u32) -> Option<&Arc<Tag>> {
        self.by_id.get(id as usize).and_then(|t| t.as_ref())
    }
    pub fn by_name(&self, name: &str) -> Option<&Arc<Tag>> {
        self.by_name.get(name).and_then(|id| self.get(*id))
    }
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Tag>> {
        self.by_id.iter().flatten()
    }
    /// The names of the tags `keep` takes, sorted (for pickers and suggestion lists).
    pub fn sorted_names(&self, keep: impl Fn(&Tag) -> bool) -> Vec<String> {
        let mut names: Vec<String> = self
            .iter()
            .filter(|t| keep(t))
            .map(|t| t.name.clone())
            .collect();
        names.sort();
        names
    }
    pub fn len(&self) -> usize {
        self.by_name.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[derive(Clone)]
struct Slot {
    current: Current,
    reported: Option<(Option<Value>, Quality, i64)>,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct EngineStats {
    pub samples_in: AtomicU64,
    pub samples_reported: AtomicU64,
    pub samples_unknown: AtomicU64,
}

pub struct Engine {
    defs: RwLock<Arc<Defs>>,
    slots: RwLock<Vec<Option<Slot>>>,
    sinks: RwLock<Vec<Arc<dyn Sink>>>,
    live: broadcast::Sender<Arc<Vec<Sample>>>,
    pub stats: EngineStats,
}

fn initial(now: i64) -> Slot {
    Slot {
        current: Current {
            value: None,
            quality: Quality::Bad(Reason::NotYetRead),
            ts_ms: now,
        },
        reported: None,
    }
}

impl Engine {
    pub fn new(tags: Vec<Tag>) -> Engine {
        let (live, _) = broadcast::channel(1024);
        let e = Engine {
            defs: RwLock::new(Arc::new(Defs::default())),
            slots: RwLock::new(Vec::new()),
            sinks: RwLock::new(Vec::new()),
            live,
            stats: EngineStats::default(),
        };
        e.set_defs(tags);
        e
    }

    /// Replaces the definitions (after a tag is created, changed or deleted). Values of
    /// tags that still exist are kept.
    pub fn set_defs(&self, tags: Vec<Tag>) {
        let defs = Arc::new(Defs::new(tags));
        let now = crate::util::now_ms();
        let mut slots = self.slots.write().expect("engine lock is never poisoned");
        slots.resize(defs.by_id.len(), None);
        for (i, slot) in slots.iter_mut().enumerate() {
            match (defs.by_id[i].is_some(), slot.is_some()) {
                (true, false) => *slot = Some(initial(now)),
                (false, true) => *slot = None,
                _ => {}
            }
        }
        *self.defs.write().expect("engine lock is never poisoned") = defs;
    }

    pub fn defs(&self) -> Arc<Defs> {
        self.defs
            .read()
            .expect("engine lock is never poisoned")
            .clone()
    }

    pub fn add_sink(&self, sink: Arc<dyn Sink>) {
        self.sinks
            .write()
            .expect("engine lock is never poisoned")
            .push(sink);
    }

    /// Live reportable samples. A receiver that falls behind gets `Lagged` and continues.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Vec<Sample>>> {
        self.live.subscribe()
    }

    pub fn current(&self, id: u32) -> Option<Current> {
        let slots = self.slots.read().expect("engine lock is never poisoned");
        slots.get(id as usize)?.as_ref().map(|s| s.current.clone())
    }

    /// Current values of many tags at once (one lock).
    pub fn currents(&self, ids: &[u32]) -> Vec<Option<Current>> {
        let slots = self.slots.read().expect("engine lock is never poisoned");
        ids.iter()
            .map(|id| slots.get(*id as usize)?.as_ref().map(|s| s.current.clone()))
            .collect()
    }

    /// Takes in a batch from a driver. Never blocks on subscribers.
    pub fn publish(&self, batch: Vec<Sample>) {
        let defs = self.defs();
        let sinks = self
            .sinks
            .read()
            .expect("engine lock is never poisoned")
            .clone();
        let keep_all = sinks.iter().any(|s| s.every_sample());
        let mut accepted = Vec::with_capacity(if keep_all { batch.len() } else { 0 });
        let mut reported = Vec::with_capacity(batch.len());
        {
            let mut slots = self.slots.write().expect("engine lock is never poisoned");
            for mut s in batch {
                let Some(tag) = defs.get(s.tag) else {
                    self.stats.samples_unknown.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let Some(slot) = slots.get_mut(s.tag as usize).and_then(|s| s.as_mut()) else {
                    continue;
                };
                if s.quality.is_good()
                    && let Some(v) = s.value.as_ref().and_then(Value::as_f64)
                    && (!v.is_finite() || !tag.in_range(v))
                {
                    s.quality = Quality::Uncertain(if v.is_finite() {
                        Reason::OutOfRange
                    } else {
                        Reason::BadValue
                    });
                }
                slot.current = Current {
                    value: s.value.clone().or_else(|| slot.current.value.clone()),
                    quality: s.quality,
                    ts_ms: s.ts_ms,
                };
                self.stats.samples_in.fetch_add(1, Ordering::Relaxed);
                if keep_all {
                    accepted.push(s.clone());
                }
                if reportable(tag, slot.reported.as_ref(), &s) {
                    slot.reported = Some((s.value.clone(), s.quality, s.ts_ms));
                    reported.push(s);
                }
            }
        }
        if !accepted.is_empty() {
            for sink in sinks.iter().filter(|s| s.every_sample()) {
                sink.accept(&accepted);
            }
        }
        if reported.is_empty() {
            return;
        }
        self.stats
            .samples_reported
            .fetch_add(reported.len() as u64, Ordering::Relaxed);
        for sink in sinks.iter().filter(|s| !s.every_sample()) {
            sink.accept(&reported);
        }
        // no receivers is fine: nobody is watching live
        let _ = self.live.send(Arc::new(reported));
    }

    /// Marks every tag of a device with `quality` (connection lost, device switched off).
    pub fn mark_device(&self, device: u32, quality: Quality, ts_ms: i64) {
        let defs = self.defs();
        let batch: Vec<Sample> = defs
            .iter()
            .filter(|t| t.source.device() == Some(device))
            .map(|t| Sample {
                tag: t.id,
                ts_ms,
                value: None,
                quality,
            })
            .collect();
        self.publish(batch);
    }
}

fn reportable(tag: &Tag, prev: Option<&(Option<Value>, Quality, i64)>, s: &Sample) -> bool {
    let Some((pv, pq, pts)) = prev else {
        return true;
    };
    if *pq != s.quality || s.ts_ms - pts >= HEARTBEAT_MS {
        return true;
    }
    let beyond = |d: f64| {
        if tag.deadband > 0.0 {
            d.abs() > tag.deadband
        } else {
            d != 0.0
        }
    };
    match (pv, &s.value) {
        (Some(Value::Float(a)), Some(Value::Float(b))) => beyond(b - a),
        (Some(Value::Int(a)), Some(Value::Int(b))) => beyond((b - a) as f64),
        (a, b) => a != b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::model::{DataType, Source};
    use std::sync::Mutex;

    fn tag(id: u32, deadband: f64) -> Tag {
        Tag {
            id,
            name: format!("T{id}"),
            description_zh: String::new(),
            description_en: String::new(),
            unit: "°C".into(),
            data_type: DataType::Float,
            source: Source::Manual,
            scaling: None,
            deadband,
            resolution: 0.01,
            range_lo: Some(0.0),
            range_hi: Some(200.0),
            writable: false,
            area: String::new(),
            equipment: String::new(),
            retention_days: 30,
        }
    }

    fn s(tag: u32, ts: i64, v: f64) -> Sample {
        Sample {
            tag,
            ts_ms: ts,
            value: Some(Value::Float(v)),
            quality: Quality::Good,
        }
    }

    #[derive(Default)]
    struct Collect(Mutex<Vec<Sample>>);
    impl Sink for Collect {
        fn accept(&self, batch: &[Sample]) {
            self.0.lock().unwrap().extend_from_slice(batch);
        }
    }

    #[test]
    fn deadband_quality_and_heartbeat_decide_what_is_reported() {
        let e = Engine::new(vec![tag(1, 0.5)]);
        let c = Arc::new(Collect::default());
        e.add_sink(c.clone());
        e.publish(vec![
            s(1, 0, 80.0),
            s(1, 1000, 80.3),
            s(1, 2000, 80.6),
            s(9, 2000, 1.0),
        ]);
        e.publish(vec![s(1, 3000, 250.0)]);
        e.publish(vec![s(1, 63_000, 250.1)]);
        let got: Vec<(i64, Quality)> =
            c.0.lock()
                .unwrap()
                .iter()
                .map(|s| (s.ts_ms, s.quality))
                .collect();
        assert_eq!(
            got,
            vec![
                (0, Quality::Good),
                (2000, Quality::Good),
                (3000, Quality::Uncertain(Reason::OutOfRange)),
                (63_000, Quality::Uncertain(Reason::OutOfRange)),
            ]
        );
        // the current value follows every sample, reported or not
        assert_eq!(e.current(1).unwrap().ts_ms, 63_000);
        assert_eq!(e.stats.samples_unknown.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_lost_device_turns_its_tags_bad_keeping_the_last_value() {
        let mut t = tag(1, 0.0);
        t.source = Source::Simulator {
            device: 7,
            signal: "x".into(),
        };
        let e = Engine::new(vec![t, tag(2, 0.0)]);
        e.publish(vec![s(1, 0, 10.0), s(2, 0, 20.0)]);
        e.mark_device(7, Quality::Bad(Reason::CommFailure), 5);
        let c = e.current(1).unwrap();
        assert_eq!(c.quality, Quality::Bad(Reason::CommFailure));
        assert_eq!(c.value, Some(Value::Float(10.0)));
        assert_eq!(e.current(2).unwrap().quality, Quality::Good);
    }

    #[test]
    fn redefining_keeps_values_of_surviving_tags() {
        let e = Engine::new(vec![tag(1, 0.0), tag(2, 0.0)]);
        e.publish(vec![s(1, 0, 10.0)]);
        e.set_defs(vec![tag(1, 0.0), tag(3, 0.0)]);
        assert_eq!(e.current(1).unwrap().value, Some(Value::Float(10.0)));
        assert!(e.current(2).is_none());
        assert_eq!(
            e.current(3).unwrap().quality,
            Quality::Bad(Reason::NotYetRead)
        );
    }
}
