//! The alarm engine (ISA-18.2 / IEC 62682).
//!
//! Tag alarms are evaluated inside the tag engine's publish (the engine is a [`Sink`]):
//! limits with deadband, deviation, rate of change, digital states, each with on and off
//! delays. Modules raise and clear their own alarms (certificate expiry, overdue permits…)
//! with [`Alarms::raise_external`] / [`Alarms::clear_external`]. Every alarm runs the same
//! state machine: normal → unacknowledged → acknowledged → normal, or unacknowledged →
//! returned-unacknowledged → normal, plus shelved (with expiry), suppressed and out of
//! service, which keep evaluating silently.
//!
//! State changes go to the journal (`alarms.events`) and the live instances
//! (`alarms.instances`) in one transaction a second, and to a broadcast channel for the live
//! banner and list. Owns the `alarms.*` tables.

pub mod model;
pub mod notify;
pub mod service;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::broadcast;

use model::{AlarmDef, Condition, Event, EventKind, Instance, Priority, State, Text, plugin_of};

use crate::error::{Error, Result};
use crate::store::{Actor, Change, Reader, Store, StoreError, Table};
use crate::tags::engine::{Engine, Sink};
use crate::tags::model::{Quality, Reason, Sample};

pub(crate) const DEFS: Table<u64, AlarmDef> = Table::new("alarms.defs");
const INSTANCES: Table<u64, Instance> = Table::new("alarms.instances");
/// The next journal sequence number, kept in `store.meta`.
const SEQ_KEY: &str = "alarms.journal_seq";
/// (timestamp, sequence) → event.
pub(crate) const EVENTS: Table<(u64, u64), Event> = Table::new("alarms.events");

#[derive(Default)]
struct DefIndex {
    by_id: HashMap<u32, Arc<AlarmDef>>,
    by_tag: HashMap<u32, Vec<Arc<AlarmDef>>>,
    by_source: HashMap<String, u32>,
    /// Instrument-fault definitions, judged by `tick` from the tags' current values.
    faults: Vec<Arc<AlarmDef>>,
}

impl DefIndex {
    fn new(defs: Vec<AlarmDef>) -> DefIndex {
        let mut ix = DefIndex::default();
        for d in defs {
            let d = Arc::new(d);
            if let Condition::External { source } = &d.condition {
                ix.by_source.insert(source.clone(), d.id);
            } else if matches!(d.condition, Condition::BadQuality { .. }) {
                ix.faults.push(d.clone());
            } else {
                ix.by_tag.entry(d.tag).or_default().push(d.clone());
            }
            ix.by_id.insert(d.id, d);
        }
        ix
    }
}

#[derive(Default, Clone)]
struct Eval {
    active: bool,
    pending_on: Option<i64>,
    pending_off: Option<i64>,
    prev: Option<(i64, f64)>,
    last: Option<f64>,
}

#[derive(Default)]
struct Live {
    instances: HashMap<u32, Instance>,
    eval: HashMap<u32, Eval>,
    /// Instances changed since the last flush (persisted then).
    dirty: Vec<u32>,
}

/// How many alarms stand in which state.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Waiting for an operator: unacknowledged, returned unacknowledged or latched.
    pub unack: usize,
    /// Annunciated (shown in the live list).
    pub active: usize,
    pub shelved: usize,
    pub suppressed: usize,
    pub out_of_service: usize,
    /// The most urgent priority annunciated.
    pub top: Option<Priority>,
}

/// Counters for `/metrics` and the benchmark.
#[derive(Default)]
pub struct Stats {
    pub checks: AtomicU64,
    pub events: AtomicU64,
}

pub struct Alarms {
    store: Arc<Store>,
    tags: Arc<Engine>,
    defs: RwLock<Arc<DefIndex>>,
    live: Mutex<Live>,
    journal: Mutex<Vec<Event>>,
    events: broadcast::Sender<Event>,
    /// Journal key sequence, continued from the store (keys are never reused).
    seq: AtomicU64,
    flushing: Mutex<()>,
    reloading: Mutex<()>,
    pub stats: Stats,
}

/// Whether an instrument cannot be trusted to see: never read, a bad value, a reading below
/// its range (a transmitter's fault signal), or none for `max_age_s` (0: no limit).
fn instrument_fault(
    c: Option<&crate::tags::model::Current>,
    tag: Option<&crate::tags::model::Tag>,
    max_age_s: u32,
    now: i64,
) -> bool {
    let Some(c) = c else {
        return true;
    };
    let under_range = || {
        let lo = tag.and_then(|t| t.range_lo);
        let v = c.value.as_ref().and_then(|v| v.as_f64());
        matches!((lo, v), (Some(lo), Some(v)) if v < lo)
    };
    matches!(c.quality, Quality::Bad(_))
        || (c.quality == Quality::Uncertain(Reason::OutOfRange) && under_range())
        || (max_age_s > 0 && now - c.ts_ms > i64::from(max_age_s) * 1000)
}

/// Whether the condition holds for `v`, given whether it held before (hysteresis).
fn holds(c: &Condition, deadband: f64, was: bool, v: f64, rate: Option<f64>) -> Option<bool> {
    let db = if was { deadband.max(0.0) } else { 0.0 };
    Some(match c {
        Condition::High { limit } | Condition::HighHigh { limit } => v > limit - db,
        Condition::Low { limit } | Condition::LowLow { limit } => v < limit + db,
        Condition::Deviation { setpoint, limit } => (v - setpoint).abs() > limit - db,
        Condition::RateOfChange { limit_per_min } => rate?.abs() > limit_per_min - db,
        Condition::Digital { state } => (v - state).abs() < 0.5,
        Condition::BadQuality { .. } | Condition::External { .. } => return None,
    })
}

impl Sink for Alarms {
    fn every_sample(&self) -> bool {
        true
    }

    fn accept(&self, batch: &[Sample]) {
        // lock order everywhere: live, then defs (reload swaps defs while holding live)
        let mut live = self.live.lock().expect("alarms lock is never poisoned");
        let defs = self.def_index();
        if defs.by_tag.is_empty() {
            return;
        }
        let mut checks = 0u64;
        for s in batch {
            let Some(list) = defs.by_tag.get(&s.tag) else {
                continue;
            };
            // a bad value neither raises nor clears: the alarm holds its state; a value past
            // the instrument's range is still a value (a saturated transmitter reads high)
            let usable = matches!(
                s.quality,
                Quality::Good | Quality::Uncertain(Reason::OutOfRange)
            );
            let Some(v) = s.value.as_ref().and_then(|v| v.as_f64()).filter(|_| usable) else {
                continue;
            };
            for d in list.iter().filter(|d| d.enabled) {
                checks += 1;
                self.evaluate(&mut live, d, v, s.ts_ms);
            }
        }
        self.stats.checks.fetch_add(checks, Ordering::Relaxed);
    }
}

impl Alarms {
    pub fn open(store: Arc<Store>, tags: Arc<Engine>) -> Result<Alarms> {
        let r = store.read()?;
        let defs: Vec<AlarmDef> = r.values(&DEFS)?;
        let next_seq: u64 = crate::store::meta_get(&r, SEQ_KEY)?.unwrap_or(0);
        let mut live = Live::default();
        for (_, mut i) in r.all(&INSTANCES)? {
            // kept by a version that did not record who raises a module alarm
            if i.source.is_empty()
                && let Some(Condition::External { source }) =
                    defs.iter().find(|d| d.id == i.id).map(|d| &d.condition)
            {
                i.source = source.clone();
                i.plugin = plugin_of(source);
            }
            live.eval.insert(
                i.id,
                Eval {
                    active: i.active,
                    last: i.value,
                    ..Default::default()
                },
            );
            live.instances.insert(i.id, i);
        }
        let (events, _) = broadcast::channel(1024);
        Ok(Alarms {
            store,
            tags,
            defs: RwLock::new(Arc::new(DefIndex::new(defs))),
            live: Mutex::new(live),
            journal: Mutex::new(Vec::new()),
            events,
            seq: AtomicU64::new(next_seq),
            flushing: Mutex::new(()),
            reloading: Mutex::new(()),
            stats: Stats::default(),
        })
    }

    /// Re-reads the definitions (after a change).
    pub fn reload(&self) -> Result<()> {
        let _one = self
            .reloading
            .lock()
            .expect("alarms lock is never poisoned");
        let defs: Vec<AlarmDef> = self.store.read()?.values(&DEFS)?;
        let ix = DefIndex::new(defs);
        {
            let mut live = self.live.lock().expect("alarms lock is never poisoned");
            // alarms whose definition is gone or disabled leave the live list
            let gone: Vec<u32> = live
                .instances
                .keys()
                .copied()
                .filter(|id| ix.by_id.get(id).is_none_or(|d| !d.enabled))
                .collect();
            for id in gone {
                live.instances.remove(&id);
                live.eval.remove(&id);
                live.dirty.push(id);
            }
            // swapped while holding `live`: no evaluation sees the old definitions after this
            *self.defs.write().expect("alarms lock is never poisoned") = Arc::new(ix);
        }
        Ok(())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn def(&self, id: u32) -> Option<Arc<AlarmDef>> {
        self.defs
            .read()
            .expect("alarms lock is never poisoned")
            .by_id
            .get(&id)
            .cloned()
    }

    fn evaluate(&self, live: &mut Live, d: &Arc<AlarmDef>, v: f64, ts: i64) {
        let ev = live.eval.entry(d.id).or_default();
        let rate = ev.prev.and_then(|(pts, pv)| {
            let dt = (ts - pts) as f64 / 60_000.0;
            (dt > 0.0).then(|| (v - pv) / dt)
        });
        ev.prev = Some((ts, v));
        ev.last = Some(v);
        let Some(cond) = holds(&d.condition, d.deadband, ev.active, v, rate) else {
            return;
        };
        self.debounce(live, d, cond, ts, Some(v));
    }

    /// Applies on/off delays, then the state machine.
    fn debounce(
        &self,
        live: &mut Live,
        d: &Arc<AlarmDef>,
        cond: bool,
        ts: i64,
        value: Option<f64>,
    ) {
        let ev = live.eval.entry(d.id).or_default();
        let mut change = None;
        if cond {
            ev.pending_off = None;
            if !ev.active {
                let since = *ev.pending_on.get_or_insert(ts);
                if ts - since >= d.on_delay_s as i64 * 1000 {
                    ev.active = true;
                    ev.pending_on = None;
                    change = Some(true);
                }
            }
        } else {
            ev.pending_on = None;
            if ev.active {
                let since = *ev.pending_off.get_or_insert(ts);
                if ts - since >= d.off_delay_s as i64 * 1000 {
                    ev.active = false;
                    ev.pending_off = None;
                    change = Some(false);
                }
            }
        }
        match change {
            Some(active) => self.transition(live, d, active, ts, value),
            None if cond => {
                // keep the latest value of an active alarm visible
                if let Some(i) = live.instances.get_mut(&d.id) {
                    i.value = value.or(i.value);
                }
            }
            None => {}
        }
    }

    fn instance_for<'a>(&self, live: &'a mut Live, d: &AlarmDef, ts: i64) -> &'a mut Instance {
        let defs = self.tags.defs();
        live.instances.entry(d.id).or_insert_with(|| Instance {
            id: d.id,
            state: State::Normal,
            active: false,
            priority: d.priority,
            tag: defs.get(d.tag).map(|t| t.name.clone()).unwrap_or_default(),
            area: if d.area.is_empty() {
                defs.get(d.tag).map(|t| t.area.clone()).unwrap_or_default()
            } else {
                d.area.clone()
            },
            message_zh: d.message_zh.clone(),
            message_en: d.message_en.clone(),
            kind: d.condition.code().to_string(),
            value: None,
            raised_ms: None,
            changed_ms: ts,
            acked_by: None,
            ack_comment: None,
            shelved_until_ms: None,
            source: match &d.condition {
                Condition::External { source } => source.clone(),
                _ => String::new(),
            },
            plugin: match &d.condition {
                Condition::External { source } => plugin_of(source),
                _ => None,
            },
        })
    }

    fn transition(&self, live: &mut Live, d: &AlarmDef, active: bool, ts: i64, value: Option<f64>) {
        let inst = self.instance_for(live, d, ts);
        inst.active = active;
        if value.is_some() {
            inst.value = value;
        }
        let kind = match (active, inst.state) {
            (true, State::Normal | State::RtnUnack | State::Latched) => {
                inst.state = State::Unack;
                inst.raised_ms = Some(ts);
                inst.acked_by = None;
                inst.ack_comment = None;
                Some(EventKind::Raised)
            }
            (false, State::Unack | State::Ack) if d.latch => {
                inst.state = State::Latched;
                Some(EventKind::Returned)
            }
            (false, State::Unack) => {
                inst.state = State::RtnUnack;
                Some(EventKind::Returned)
            }
            (false, State::Ack) => {
                inst.state = State::Normal;
                Some(EventKind::Cleared)
            }
            // shelved, suppressed, out of service: evaluation goes on silently
            _ => None,
        };
        if let Some(k) = kind {
            inst.changed_ms = ts;
            let e = event(inst, k, ts, None, None);
            live.dirty.push(d.id);
            self.emit(e);
        }
    }

    fn emit(&self, e: Event) {
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        let _ = self.events.send(e.clone());
        self.journal
            .lock()
            .expect("alarms lock is never poisoned")
            .push(e);
    }

    /// The definitions now (swapped as a whole by `reload`).
    fn def_index(&self) -> Arc<DefIndex> {
        self.defs
            .read()
            .expect("alarms lock is never poisoned")
            .clone()
    }

    /// Instrument-fault alarms from the tags' current values (never read, bad, under range,
    /// silent too long), whether or not anything was published. Run once a second with
    /// the wall clock (not while replaying history: the current values are of now).
    pub fn check_instruments(&self, now: i64) {
        let mut live = self.live.lock().expect("alarms lock is never poisoned");
        let defs = self.def_index();
        let tags = self.tags.defs();
        for d in defs.faults.iter().filter(|d| d.enabled) {
            let Condition::BadQuality { max_age_s } = d.condition else {
                continue;
            };
            let current = self.tags.current(d.tag);
            let cond = instrument_fault(
                current.as_ref(),
                tags.get(d.tag).map(|t| &**t),
                max_age_s,
                now,
            );
            self.debounce(&mut live, d, cond, now, None);
        }
    }

    /// Delays and shelving that expire without a new sample. Run about once a second.
    pub fn tick(&self, now: i64) {
        let mut live = self.live.lock().expect("alarms lock is never poisoned");
        let defs = self.def_index();
        let due: Vec<(Arc<AlarmDef>, bool, Option<f64>)> = live
            .eval
            .iter()
            .filter_map(|(id, ev)| {
                let d = defs.by_id.get(id)?;
                if let Some(s) = ev.pending_on
                    && now - s >= d.on_delay_s as i64 * 1000
                {
                    return Some((d.clone(), true, ev.last));
                }
                if let Some(s) = ev.pending_off
                    && now - s >= d.off_delay_s as i64 * 1000
                {
                    return Some((d.clone(), false, ev.last));
                }
                None
            })
            .collect();
        for (d, cond, v) in due {
            self.debounce(&mut live, &d, cond, now, v);
        }
        let expired: Vec<u32> = live
            .instances
            .values()
            .filter(|i| i.state == State::Shelved && i.shelved_until_ms.is_some_and(|u| u <= now))
            .map(|i| i.id)
            .collect();
        for id in expired {
            self.restore(&mut live, id, now, EventKind::Unshelved, None, None);
        }
    }

    /// Back from shelved / suppressed / out of service: annunciate if still active.
    fn restore(
        &self,
        live: &mut Live,
        id: u32,
        ts: i64,
        kind: EventKind,
        user: Option<&str>,
        comment: Option<&str>,
    ) {
        let Some(inst) = live.instances.get_mut(&id) else {
            return;
        };
        inst.state = if inst.active {
            State::Unack
        } else {
            State::Normal
        };
        if inst.active {
            inst.raised_ms = Some(ts);
        }
        inst.shelved_until_ms = None;
        inst.changed_ms = ts;
        let e = event(inst, kind, ts, user, comment);
        live.dirty.push(id);
        self.emit(e);
    }

    /// Raises a module's alarm (`source` identifies it, e.g. `safety.certificate:12`),
    /// creating its definition the first time.
    pub fn raise_external(
        &self,
        source: &str,
        priority: Priority,
        message: &Text,
        area: &str,
    ) -> Result<()> {
        let id = self.external_def(source, priority, message, area)?;
        let d = self
            .def(id)
            .ok_or_else(|| Error::not_found("alarms.err.not_found"))?;
        if !d.enabled {
            return Ok(());
        }
        let mut live = self.live.lock().expect("alarms lock is never poisoned");
        self.debounce(&mut live, &d, true, crate::util::now_ms(), None);
        Ok(())
    }

    /// Makes a module's alarms under `prefixes` what `standing` says: raises each (a no-op
    /// for those already raised) and clears every other one under those prefixes (its cause
    /// is gone). Modules call it from their periodic checks.
    pub fn sync_external(
        &self,
        area: &str,
        prefixes: &[&str],
        standing: Vec<(String, Priority, Text)>,
    ) -> Result<()> {
        let mut raised = std::collections::HashSet::new();
        for (source, priority, text) in standing {
            self.raise_external(&source, priority, &text, area)?;
            raised.insert(source);
        }
        for prefix in prefixes {
            for source in self.external_sources(prefix) {
                if !raised.contains(&source) {
                    self.clear_external(&source);
                }
            }
        }
        Ok(())
    }

    /// Clears a module's alarm; nothing happens if it was never raised.
    pub fn clear_external(&self, source: &str) {
        let id = self
            .defs
            .read()
            .expect("alarms lock is never poisoned")
            .by_source
            .get(source)
            .copied();
        let Some(d) = id.and_then(|id| self.def(id)) else {
            return;
        };
        let mut live = self.live.lock().expect("alarms lock is never poisoned");
        self.debounce(&mut live, &d, false, crate::util::now_ms(), None);
    }

    /// Removes the module alarms under `prefixes`, definitions and live entries, without a
    /// return to normal: for notices a module now raises as alerts ([`crate::alerts`]), so
    /// a store from before the move does not keep them on the operators' list. A no-op
    /// once they are gone.
    pub fn retire_external(&self, prefixes: &[&str]) -> Result<()> {
        let ids: Vec<u32> = {
            let defs = self.defs.read().expect("alarms lock is never poisoned");
            defs.by_source
                .iter()
                .filter(|(s, _)| prefixes.iter().any(|p| s.starts_with(p)))
                .map(|(_, id)| *id)
                .collect()
        };
        if ids.is_empty() {
            return Ok(());
        }
        let mut w = self.store.write(&Actor::system("alarms"))?;
        for id in &ids {
            if let Some(before) = w.remove(&DEFS, &u64::from(*id))? {
                w.audit(
                    "alarms.def.delete",
                    format!("alarm:{id}"),
                    Change::deleted(&before),
                );
            }
        }
        w.commit()?;
        self.reload()
    }

    /// The definition id of a module alarm.
    pub fn external_id(&self, source: &str) -> Option<u32> {
        self.defs
            .read()
            .expect("alarms lock is never poisoned")
            .by_source
            .get(source)
            .copied()
    }

    /// Whether a module's alarm stands now (its condition holds).
    pub fn external_active(&self, source: &str) -> bool {
        let Some(id) = self.external_id(source) else {
            return false;
        };
        self.live
            .lock()
            .expect("alarms lock is never poisoned")
            .instances
            .get(&id)
            .is_some_and(|i| i.active)
    }

    /// The sources of module alarms whose source starts with `prefix` (to clear those whose
    /// cause is gone, e.g. a deleted certificate).
    pub fn external_sources(&self, prefix: &str) -> Vec<String> {
        self.defs
            .read()
            .expect("alarms lock is never poisoned")
            .by_source
            .keys()
            .filter(|s| s.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn external_def(
        &self,
        source: &str,
        priority: Priority,
        message: &Text,
        area: &str,
    ) -> Result<u32> {
        let found = self
            .defs
            .read()
            .expect("alarms lock is never poisoned")
            .by_source
            .get(source)
            .copied();
        let (zh, en) = (message.zh.clone(), message.en.clone());
        if let Some(id) = found {
            // the message follows the facts (days left…); keep the definition current
            let d = self
                .def(id)
                .ok_or_else(|| Error::not_found("alarms.err.not_found"))?;
            if d.message_zh != zh || d.priority != priority {
                let mut w = self.store.write(&Actor::system("alarms"))?;
                let updated = AlarmDef {
                    message_zh: zh.clone(),
                    message_en: en.clone(),
                    priority,
                    ..(*d).clone()
                };
                w.insert(&DEFS, &(id as u64), &updated)?;
                w.commit()?;
                self.reload()?;
                let mut live = self.live.lock().expect("alarms lock is never poisoned");
                if let Some(i) = live.instances.get_mut(&id) {
                    i.message_zh = zh;
                    i.message_en = en;
                    i.priority = priority;
                    live.dirty.push(id);
                }
            }
            return Ok(id);
        }
        let mut w = self.store.write(&Actor::system("alarms"))?;
        let id = w.next_u32_id(&DEFS)?;
        let d = AlarmDef {
            id,
            tag: 0,
            condition: Condition::External {
                source: source.to_string(),
            },
            priority,
            deadband: 0.0,
            on_delay_s: 0,
            off_delay_s: 0,
            message_zh: zh,
            message_en: en,
            area: area.to_string(),
            latch: false,
            enabled: true,
        };
        w.insert(&DEFS, &(id as u64), &d)?;
        w.audit(
            "alarms.def.create",
            format!("alarm:{id} {source}"),
            Change::created(&d),
        );
        w.commit()?;
        self.reload()?;
        Ok(id)
    }

    /// Live alarms, most urgent and newest first.
    pub fn instances(&self, filter: Option<State>) -> Vec<Instance> {
        let live = self.live.lock().expect("alarms lock is never poisoned");
        let mut v: Vec<Instance> = live
            .instances
            .values()
            .filter(|i| match filter {
                Some(s) => i.state == s,
                None => i.state != State::Normal,
            })
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then(b.raised_ms.unwrap_or(0).cmp(&a.raised_ms.unwrap_or(0)))
        });
        v
    }

    pub fn instance(&self, id: u32) -> Option<Instance> {
        self.live
            .lock()
            .expect("alarms lock is never poisoned")
            .instances
            .get(&id)
            .cloned()
    }

    /// (waiting for an operator, annunciated) counts.
    pub fn counts(&self) -> (usize, usize) {
        let s = self.summary();
        (s.unack, s.active)
    }

    /// Counts per state for the banner and the overview.
    pub fn summary(&self) -> Summary {
        let live = self.live.lock().expect("alarms lock is never poisoned");
        let mut s = Summary::default();
        for i in live.instances.values() {
            if i.state.needs_operator() {
                s.unack += 1;
            }
            if i.state.is_annunciated() {
                s.active += 1;
                s.top = Some(s.top.map_or(i.priority, |t| t.min(i.priority)));
            }
            match i.state {
                State::Shelved => s.shelved += 1,
                State::Suppressed => s.suppressed += 1,
                State::OutOfService => s.out_of_service += 1,
                _ => {}
            }
        }
        s
    }

    /// An operator action on one alarm, written to the journal before it returns. Errors
    /// name why it does not apply.
    pub fn act(&self, id: u32, action: Action, actor: &Actor, comment: &str) -> Result<Instance> {
        let inst = self.apply(id, action, actor, comment)?;
        self.flush()?;
        Ok(inst)
    }

    /// Acknowledges the listed alarms that wait for it (others were acknowledged meanwhile
    /// or are gone), journaled in one commit. Returns how many were acknowledged.
    pub fn ack_many(&self, ids: &[u32], actor: &Actor, comment: &str) -> Result<usize> {
        let mut n = 0;
        for id in ids {
            match self.apply(*id, Action::Ack, actor, comment) {
                Ok(_) => n += 1,
                Err(Error::Conflict(_) | Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.flush()?;
        Ok(n)
    }

    fn apply(&self, id: u32, action: Action, actor: &Actor, comment: &str) -> Result<Instance> {
        let comment = crate::error::text("comment", comment, 500, false)?;
        let now = crate::util::now_ms();
        let mut live = self.live.lock().expect("alarms lock is never poisoned");
        let Some(inst) = live.instances.get_mut(&id) else {
            return Err(Error::not_found("alarms.err.not_found"));
        };
        // people by their user name; tokens and the system by their kind too
        let who = match actor.kind {
            crate::store::ActorKind::User => actor.name.clone(),
            _ => actor.label(),
        };
        let c = (!comment.is_empty()).then_some(comment.as_str());
        match action {
            Action::Ack => {
                inst.state = match inst.state {
                    State::Unack => State::Ack,
                    State::RtnUnack | State::Latched => State::Normal,
                    _ => return Err(Error::conflict("alarms.err.not_unacked")),
                };
                inst.acked_by = Some(who.clone());
                inst.ack_comment = c.map(str::to_string);
                inst.changed_ms = now;
                let e = event(inst, EventKind::Acked, now, Some(&who), c);
                live.dirty.push(id);
                self.emit(e);
            }
            Action::Shelve { minutes } => {
                if !(1..=7 * 24 * 60).contains(&minutes) {
                    return Err(Error::invalid("minutes", "alarms.err.shelve_minutes"));
                }
                if c.is_none() {
                    return Err(Error::invalid("comment", "alarms.err.reason_required"));
                }
                if matches!(inst.state, State::OutOfService) {
                    return Err(Error::conflict("alarms.err.out_of_service"));
                }
                inst.state = State::Shelved;
                inst.shelved_until_ms = Some(now + minutes as i64 * 60_000);
                inst.changed_ms = now;
                let e = event(inst, EventKind::Shelved, now, Some(&who), c);
                live.dirty.push(id);
                self.emit(e);
            }
            Action::Unshelve => {
                if inst.state != State::Shelved {
                    return Err(Error::conflict("alarms.err.not_shelved"));
                }
                self.restore(&mut live, id, now, EventKind::Unshelved, Some(&who), c);
            }
            Action::Suppress | Action::OutOfService => {
                if c.is_none() {
                    return Err(Error::invalid("comment", "alarms.err.reason_required"));
                }
                let (state, kind) = match action {
                    Action::Suppress => (State::Suppressed, EventKind::Suppressed),
                    _ => (State::OutOfService, EventKind::OutOfService),
                };
                inst.state = state;
                inst.shelved_until_ms = None;
                inst.changed_ms = now;
                let e = event(inst, kind, now, Some(&who), c);
                live.dirty.push(id);
                self.emit(e);
            }
            Action::Unsuppress | Action::InService => {
                let (from, kind) = match action {
                    Action::Unsuppress => (State::Suppressed, EventKind::Unsuppressed),
                    _ => (State::OutOfService, EventKind::InService),
                };
                if inst.state != from {
                    return Err(Error::conflict("alarms.err.wrong_state"));
                }
                self.restore(&mut live, id, now, kind, Some(&who), c);
            }
        }
        Ok(live
            .instances
            .get(&id)
            .cloned()
            .expect("acted on an existing instance"))
    }

    /// Alarms standing (active and annunciated) for longer than `age_ms`: stale alarms,
    /// which ISA-18.2 counts after 24 hours.
    pub fn stale(&self, now: i64, age_ms: i64) -> Vec<Instance> {
        let mut v: Vec<Instance> = self
            .live
            .lock()
            .expect("alarms lock is never poisoned")
            .instances
            .values()
            .filter(|i| i.active && i.state.is_annunciated())
            .filter(|i| i.raised_ms.is_some_and(|r| now - r > age_ms))
            .cloned()
            .collect();
        v.sort_by_key(|i| i.raised_ms);
        v
    }

    /// Makes sure an alarm exists as an instance, so operators can shelve or take out of
    /// service one that is not active yet.
    pub fn ensure_instance(&self, id: u32) -> Result<()> {
        let d = self
            .def(id)
            .ok_or_else(|| Error::not_found("alarms.err.not_found"))?;
        let mut live = self.live.lock().expect("alarms lock is never poisoned");
        self.instance_for(&mut live, &d, crate::util::now_ms());
        Ok(())
    }

    /// Writes the journal and changed instances: one transaction. Returns events written.
    pub fn flush(&self) -> Result<usize, StoreError> {
        // one flush at a time: a later snapshot of an instance must not be overwritten by an
        // earlier one committing after it
        let _one = self.flushing.lock().expect("alarms lock is never poisoned");
        let events =
            std::mem::take(&mut *self.journal.lock().expect("alarms lock is never poisoned"));
        let ids: Vec<u32> = {
            let mut live = self.live.lock().expect("alarms lock is never poisoned");
            let mut ids = std::mem::take(&mut live.dirty);
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        if events.is_empty() && ids.is_empty() {
            return Ok(0);
        }
        let changed: Vec<(u32, Option<Instance>)> = {
            let live = self.live.lock().expect("alarms lock is never poisoned");
            ids.iter()
                .map(|id| {
                    let keep = live
                        .instances
                        .get(id)
                        .filter(|i| i.state != State::Normal || i.active)
                        .cloned();
                    (*id, keep)
                })
                .collect()
        };
        let written = (|| {
            let mut w = self.store.write(&Actor::system("alarms"))?;
            for e in &events {
                let seq = self.seq.fetch_add(1, Ordering::Relaxed);
                w.insert(&EVENTS, &(e.ts_ms.max(0) as u64, seq), e)?;
            }
            crate::store::meta_put(&mut w, SEQ_KEY, &self.seq.load(Ordering::Relaxed))?;
            for (id, inst) in &changed {
                match inst {
                    Some(i) => w.insert(&INSTANCES, &(*id as u64), i)?,
                    None => {
                        w.remove(&INSTANCES, &(*id as u64))?;
                    }
                }
            }
            w.commit()
        })();
        if let Err(e) = written {
            // nothing is lost: the events and changes wait for the next flush
            let mut journal = self.journal.lock().expect("alarms lock is never poisoned");
            let later = std::mem::replace(&mut *journal, events);
            journal.extend(later);
            drop(journal);
            self.live
                .lock()
                .expect("alarms lock is never poisoned")
                .dirty
                .extend(ids);
            return Err(e);
        }
        Ok(events.len())
    }
}

/// What an operator does to an alarm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Ack,
    Shelve { minutes: u32 },
    Unshelve,
    Suppress,
    Unsuppress,
    OutOfService,
    InService,
}

fn event(
    i: &Instance,
    kind: EventKind,
    ts: i64,
    user: Option<&str>,
    comment: Option<&str>,
) -> Event {
    Event {
        ts_ms: ts,
        alarm: i.id,
        kind,
        state: i.state,
        priority: i.priority,
        tag: i.tag.clone(),
        area: i.area.clone(),
        message_zh: i.message_zh.clone(),
        message_en: i.message_en.clone(),
        value: i.value,
        user: user.map(str::to_string),
        comment: comment.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;
    use crate::tags::model::{DataType, Quality, Source, Value};

    fn setup(cond: Condition, deadband: f64, on_delay: u32) -> (tempfile::TempDir, Alarms) {
        setup_with(cond, deadband, on_delay, false)
    }

    fn setup_with(
        cond: Condition,
        deadband: f64,
        on_delay: u32,
        latch: bool,
    ) -> (tempfile::TempDir, Alarms) {
        let (d, s) = temp_store();
        let store = Arc::new(s);
        let mut t = crate::tags::service::blank_tag("R101.TT101", DataType::Float, Source::Manual);
        t.id = 1;
        t.area = "resin".into();
        let tags = Arc::new(Engine::new(vec![t]));
        let mut w = store.write(&Actor::system("t")).unwrap();
        w.insert(
            &DEFS,
            &1,
            &AlarmDef {
                id: 1,
                tag: 1,
                condition: cond,
                priority: Priority::High,
                deadband,
                on_delay_s: on_delay,
                off_delay_s: 0,
                message_zh: "釜温高".into(),
                message_en: "Batch temperature high".into(),
                area: String::new(),
                latch,
                enabled: true,
            },
        )
        .unwrap();
        w.commit().unwrap();
        let a = Alarms::open(store, tags).unwrap();
        (d, a)
    }

    fn s(ts: i64, v: f64) -> Sample {
        Sample {
            tag: 1,
            ts_ms: ts,
            value: Some(Value::Float(v)),
            quality: Quality::Good,
        }
    }

    fn state(a: &Alarms) -> Option<State> {
        a.instance(1).map(|i| i.state)
    }

    #[test]
    fn a_high_alarm_raises_returns_and_is_acknowledged() {
        let (_d, a) = setup(Condition::High { limit: 92.0 }, 1.0, 0);
        a.accept(&[s(0, 90.0), s(1000, 92.5)]);
        assert_eq!(state(&a), Some(State::Unack));
        assert_eq!(a.counts(), (1, 1));
        // inside the deadband: still active
        a.accept(&[s(2000, 91.5)]);
        assert_eq!(state(&a), Some(State::Unack));
        a.accept(&[s(3000, 90.9)]);
        assert_eq!(state(&a), Some(State::RtnUnack));
        let op = Actor::user(3, "li.ming", None);
        a.act(1, Action::Ack, &op, "看过了").unwrap();
        assert_eq!(state(&a), Some(State::Normal));
        assert!(matches!(
            a.act(1, Action::Ack, &op, ""),
            Err(Error::Conflict(_))
        ));
        // an operator's action is journaled at once, with what came before it
        assert_eq!(a.flush().unwrap(), 0);
        let j = service::journal(&a.store.read().unwrap(), &Default::default(), 10).unwrap();
        let kinds: Vec<EventKind> = j.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [EventKind::Acked, EventKind::Returned, EventKind::Raised]
        );
        assert_eq!(j[0].user.as_deref(), Some("li.ming"));
    }

    #[test]
    fn an_over_range_reading_still_raises_and_a_bad_one_does_not() {
        use crate::tags::model::Reason;
        let (_d, a) = setup(Condition::High { limit: 92.0 }, 0.0, 0);
        // a transmitter pinned above its range is the worst case of a high alarm
        let mut pinned = s(1000, 130.0);
        pinned.quality = Quality::Uncertain(Reason::OutOfRange);
        a.accept(&[s(0, 90.0), pinned]);
        assert_eq!(state(&a), Some(State::Unack));
        // a failed read says nothing about the process: the alarm neither returns nor changes
        let mut failed = s(2000, 0.0);
        failed.value = None;
        failed.quality = Quality::Bad(Reason::CommFailure);
        a.accept(&[failed]);
        assert_eq!(state(&a), Some(State::Unack));
    }

    #[test]
    fn a_detector_that_cannot_be_read_is_an_alarm_of_its_own() {
        use crate::tags::model::Reason;
        let (_d, a) = setup(Condition::BadQuality { max_age_s: 60 }, 0.0, 10);
        // never read: a fault once the delay has passed
        a.check_instruments(0);
        assert_eq!(state(&a), None, "within the delay");
        a.check_instruments(10_000);
        assert_eq!(state(&a), Some(State::Unack));
        // readings come: it returns, still waiting for an acknowledgement
        a.tags.publish(vec![s(20_000, 3.0)]);
        a.check_instruments(21_000);
        assert_eq!(state(&a), Some(State::RtnUnack));
        a.act(1, Action::Ack, &Actor::user(1, "li.ming", None), "")
            .unwrap();
        assert_eq!(state(&a), Some(State::Normal));
        // a lost connection: bad values
        let mut lost = s(30_000, 0.0);
        lost.value = None;
        lost.quality = Quality::Bad(Reason::CommFailure);
        a.tags.publish(vec![lost]);
        a.check_instruments(30_000);
        a.check_instruments(40_000);
        assert_eq!(state(&a), Some(State::Unack));
        a.tags.publish(vec![s(50_000, 3.0)]);
        a.check_instruments(50_000);
        a.act(1, Action::Ack, &Actor::user(1, "li.ming", None), "")
            .unwrap();
        // a device that goes quiet: good, but older than a minute
        a.check_instruments(100_000);
        assert_eq!(state(&a), Some(State::Normal), "50 s old");
        a.check_instruments(111_000);
        a.check_instruments(121_000);
        assert_eq!(state(&a), Some(State::Unack), "silent for over a minute");
    }

    #[test]
    fn on_delay_filters_spikes_and_tick_completes_it() {
        let (_d, a) = setup(Condition::High { limit: 92.0 }, 0.0, 5);
        a.accept(&[s(0, 95.0), s(2000, 91.0)]);
        assert_eq!(state(&a), None, "a 2-second spike does not raise");
        a.accept(&[s(10_000, 95.0)]);
        a.tick(14_000);
        assert_eq!(state(&a), None);
        a.tick(15_000);
        assert_eq!(state(&a), Some(State::Unack));
    }

    #[test]
    fn shelved_alarms_stay_quiet_and_come_back_when_shelving_ends() {
        let (_d, a) = setup(Condition::High { limit: 92.0 }, 0.0, 0);
        a.accept(&[s(0, 95.0)]);
        let op = Actor::user(3, "li.ming", None);
        assert!(matches!(
            a.act(1, Action::Shelve { minutes: 10 }, &op, ""),
            Err(Error::Invalid {
                field: "comment",
                ..
            })
        ));
        a.act(1, Action::Shelve { minutes: 10 }, &op, "传感器维修")
            .unwrap();
        assert_eq!(a.counts(), (0, 0));
        a.accept(&[s(1000, 96.0)]);
        assert_eq!(state(&a), Some(State::Shelved));
        let until = a.instance(1).unwrap().shelved_until_ms.unwrap();
        a.tick(until);
        assert_eq!(
            state(&a),
            Some(State::Unack),
            "still active when shelving ends: annunciated"
        );
    }

    #[test]
    fn a_latched_alarm_holds_until_reset_and_stale_alarms_are_found() {
        let (_d, a) = setup_with(Condition::High { limit: 92.0 }, 0.0, 0, true);
        let op = Actor::user(3, "li.ming", None);
        a.accept(&[s(0, 95.0)]);
        a.act(1, Action::Ack, &op, "").unwrap();
        assert_eq!(
            a.stale(25 * 3_600_000, 24 * 3_600_000).len(),
            1,
            "standing for 25 h"
        );
        assert!(a.stale(3_600_000, 24 * 3_600_000).is_empty());
        a.accept(&[s(1000, 80.0)]);
        assert_eq!(
            state(&a),
            Some(State::Latched),
            "acknowledged, returned, still held"
        );
        assert_eq!(a.counts(), (1, 1));
        a.act(1, Action::Ack, &op, "复位").unwrap();
        assert_eq!(state(&a), Some(State::Normal));
    }

    #[test]
    fn rate_of_change_and_digital() {
        let (_d, a) = setup(Condition::RateOfChange { limit_per_min: 5.0 }, 0.0, 0);
        a.accept(&[s(0, 80.0), s(60_000, 84.0)]);
        assert_eq!(state(&a), None);
        a.accept(&[s(90_000, 88.0)]);
        assert_eq!(state(&a), Some(State::Unack), "8 °C/min");
        let (_d, a) = setup(Condition::Digital { state: 1.0 }, 0.0, 0);
        a.accept(&[s(0, 0.0), s(1000, 1.0)]);
        assert_eq!(state(&a), Some(State::Unack));
    }

    #[test]
    fn module_alarms_use_the_same_machine_and_survive_a_restart() {
        let (dir, a) = setup(Condition::High { limit: 92.0 }, 0.0, 0);
        let msg = Text {
            zh: "安全生产许可证 X-1 已过期".into(),
            en: "Safety production licence X-1 has expired".into(),
        };
        a.raise_external("safety.certificate:7", Priority::High, &msg, "safety")
            .unwrap();
        assert_eq!(
            a.external_sources("safety.certificate:"),
            vec!["safety.certificate:7".to_string()]
        );
        let inst = a.instances(None);
        assert_eq!(inst.len(), 1);
        assert_eq!(inst[0].kind, "external");
        a.flush().unwrap();
        drop(a);
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let a = Alarms::open(store, Arc::new(Engine::new(vec![]))).unwrap();
        assert_eq!(
            a.instances(None).len(),
            1,
            "active alarms come back after a restart"
        );
        a.clear_external("safety.certificate:7");
        assert_eq!(a.instances(None)[0].state, State::RtnUnack);
    }
}
