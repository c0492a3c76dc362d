//! The running condition evaluation: once a second the current value of every bound
//! vibration tag is judged by its equipment's ISO 10816-3 zone (with hysteresis; not while
//! the machine's bound motor current reads zero: a machine standing still is not judged);
//! zone changes are recorded, raise or clear the zone alarm through the alarm engine, and
//! entering C or D proposes a work order. An urgent alarm raised on a bound tag proposes a
//! work order too.
//!
//! The evaluation keeps the watched tags and their zones in memory ([`Condition`]) and reads
//! the store only when the ledger changed (`Condition::reload` after a save) or once a
//! minute, so its cost is the tag engine's `currents` and a comparison per tag.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::model::Criticality;
use super::rules::{self, Zone};
use super::service::{self, Watch, ZoneChange};
use crate::alarms::model::Priority;
use crate::app::App;
use crate::i18n::Msg;
use crate::store::Actor;

/// A watched tag: its binding, its zone, its handle in the tag engine.
struct Watched {
    watch: Watch,
    zone: Option<Zone>,
    handle: Option<u32>,
    /// The motor current tag's handle, if the machine has one.
    running: Option<u32>,
    /// A zone the readings have been in since (ms), not yet taken.
    pending: Option<(Zone, i64)>,
    /// When the machine was last seen standing still (its run-up is not judged).
    stopped_ms: Option<i64>,
}

/// Seconds between two looks at the preventive plans (calendar dates and meters).
const PLAN_EVERY_S: u64 = 10;

/// A motor current at or below this (A) means the machine stands still (a running motor of
/// the sizes ISO 10816-3 covers draws several amperes even unloaded).
const STOPPED_A: f64 = 1.0;

/// A new zone is taken once the readings have stayed in it this long (one spike is not a
/// condition).
pub const CONFIRM_MS: i64 = 10_000;

/// After a machine starts, its run-up is not judged for this long (ISO 10816-3 judges
/// steady running).
pub const SETTLE_MS: i64 = 60_000;

/// The evaluation's state, shared through `App::state`.
#[derive(Default)]
pub struct Condition {
    watched: Mutex<Vec<Watched>>,
    /// The ledger changed: read the watches again before the next evaluation.
    stale: AtomicBool,
    loaded_ms: Mutex<i64>,
}

/// The evaluation of a running box.
pub fn state(app: &App) -> Arc<Condition> {
    app.state(|| Condition {
        stale: AtomicBool::new(true),
        ..Condition::default()
    })
}

impl Condition {
    /// Marks the watches out of date (after equipment or bindings changed).
    pub fn reload(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    fn load(&self, app: &App) -> crate::error::Result<()> {
        let r = app.store.read()?;
        let list = service::watches(&r)?;
        self.watch(list, &app.tags.defs());
        Ok(())
    }

    /// Watches these tags (with the zones they are in now), resolved in the tag engine's
    /// definitions.
    pub fn watch(&self, list: Vec<(Watch, Option<Zone>)>, defs: &crate::tags::engine::Defs) {
        let mut w = self
            .watched
            .lock()
            .expect("condition lock is never poisoned");
        *w = list
            .into_iter()
            .map(|(watch, zone)| Watched {
                handle: defs.by_name(&watch.tag).map(|t| t.id),
                running: watch
                    .running
                    .as_deref()
                    .and_then(|t| defs.by_name(t))
                    .map(|t| t.id),
                watch,
                zone,
                pending: None,
                stopped_ms: None,
            })
            .collect();
        *self
            .loaded_ms
            .lock()
            .expect("condition lock is never poisoned") = crate::util::now_ms();
    }

    /// Judges every watched tag's current value; returns the zone changes (already taken
    /// into the in-memory zones). Bad or missing values change nothing.
    pub fn evaluate(&self, app: &App, now_ms: i64) -> crate::error::Result<Vec<ZoneChange>> {
        let age = now_ms
            - *self
                .loaded_ms
                .lock()
                .expect("condition lock is never poisoned");
        if self.stale.swap(false, Ordering::Relaxed) || age > 60_000 {
            self.load(app)?;
        }
        Ok(self.judge(&app.tags, now_ms))
    }

    /// Judges the watched tags' current values in the tag engine (what `evaluate` does
    /// once the watches are loaded).
    pub fn judge(&self, tags: &crate::tags::engine::Engine, now_ms: i64) -> Vec<ZoneChange> {
        let mut w = self
            .watched
            .lock()
            .expect("condition lock is never poisoned");
        let handles: Vec<u32> = w.iter().map(|x| x.handle.unwrap_or(u32::MAX)).collect();
        let motors: Vec<u32> = w.iter().map(|x| x.running.unwrap_or(u32::MAX)).collect();
        let currents = tags.currents(&handles);
        let amps = tags.currents(&motors);
        let mut changes = Vec::new();
        for ((x, c), a) in w.iter_mut().zip(currents).zip(amps) {
            let Some(c) = c.filter(|c| c.quality.is_good()) else {
                continue;
            };
            let stopped = a
                .filter(|a| a.quality.is_good())
                .and_then(|a| a.value.and_then(|v| v.as_f64()))
                .is_some_and(|amps| amps <= STOPPED_A);
            if stopped {
                x.stopped_ms = Some(now_ms);
                x.pending = None;
                continue;
            }
            if x.stopped_ms.is_some_and(|t| now_ms - t < SETTLE_MS) {
                continue;
            }
            let Some(v) = c.value.and_then(|v| v.as_f64()) else {
                continue;
            };
            let Some(z) = rules::next_zone(x.zone, v, &x.watch.bounds) else {
                continue;
            };
            if Some(z) == x.zone {
                x.pending = None;
                continue;
            }
            // the new zone holds for CONFIRM_MS before it is taken
            let since = match x.pending {
                Some((p, t)) if p == z => t,
                _ => {
                    x.pending = Some((z, now_ms));
                    now_ms
                }
            };
            if now_ms - since >= CONFIRM_MS {
                x.pending = None;
                changes.push(ZoneChange {
                    equipment: x.watch.equipment,
                    tag: x.watch.tag.clone(),
                    from: x.zone,
                    to: z,
                    value: (v * 1000.0).round() / 1000.0,
                    ts_ms: c.ts_ms,
                });
                x.zone = Some(z);
            }
        }
        changes
    }

    /// The zone notices standing now: one per watched tag in zone C or D, with the zone and
    /// the machine.
    fn standing(&self) -> Vec<(String, Priority, crate::alarms::model::Text, Zone, u64)> {
        let w = self
            .watched
            .lock()
            .expect("condition lock is never poisoned");
        w.iter()
            .filter_map(|x| {
                let zone = x.zone?;
                let (p, key) = zone_alarm(zone, x.watch.criticality)?;
                let msg = Msg::new(key)
                    .arg("tag_no", &x.watch.tag_no)
                    .arg("tag", &x.watch.tag);
                Some((
                    format!("equipment.zone:{}/{}", x.watch.equipment, x.watch.tag),
                    p,
                    crate::alarms::model::Text::of(&msg),
                    zone,
                    x.watch.equipment,
                ))
            })
            .collect()
    }
}

/// The notice a zone raises: zone C medium (an alert), D high (an alarm), one step higher
/// on a machine of criticality A (its failure stops the plant); A and B raise none.
fn zone_alarm(zone: Zone, c: Criticality) -> Option<(Priority, &'static str)> {
    let critical = c == Criticality::A;
    match zone {
        Zone::C if critical => Some((Priority::High, "equipment.alarm.zone_c")),
        Zone::C => Some((Priority::Medium, "equipment.alarm.zone_c")),
        Zone::D if critical => Some((Priority::Urgent, "equipment.alarm.zone_d")),
        Zone::D => Some((Priority::High, "equipment.alarm.zone_d")),
        Zone::A | Zone::B => None,
    }
}

/// One evaluation: zone changes recorded (with the work orders they propose) and the zone
/// alarms brought in line. Called by the ticker once a second.
pub fn tick(app: &App) -> crate::error::Result<usize> {
    let cond = state(app);
    let changes = cond.evaluate(app, crate::util::now_ms())?;
    if changes.is_empty() {
        return Ok(0);
    }
    let opened = service::zone_changes(
        &app.store,
        &Actor::system("equipment"),
        &changes,
        super::now(app),
    )?;
    for o in &opened {
        tracing::info!(order = %o.number, title = %o.title, "work order proposed by condition");
    }
    // ISO 10816: zone D is likely to damage the machine — an alarm, the operator may have
    // to stop it; zone C is unsatisfactory for long-term running — an alert to the
    // machine's maintenance leads, who plan the repair (the order proposed above)
    let (d, c): (Vec<_>, Vec<_>) = cond.standing().into_iter().partition(|x| x.3 == Zone::D);
    app.alarms.sync_external(
        "equipment",
        &["equipment.zone:"],
        d.into_iter().map(|(s, p, t, _, _)| (s, p, t)).collect(),
    )?;
    let r = app.store.read()?;
    let c = c
        .into_iter()
        .map(
            |(source, priority, text, _, equipment)| crate::alerts::Raise {
                link: format!("/equipment/{equipment}"),
                route: super::leads_of(&r, equipment, None),
                source,
                priority,
                text,
            },
        )
        .collect();
    drop(r);
    app.sync_alerts("equipment", &["equipment.zone:"], c)?;
    Ok(changes.len())
}

/// An urgent alarm raised on a tag bound to equipment proposes a corrective work order
/// (unless that equipment has an open one from an alarm already).
fn on_alarm(app: &App, e: &crate::alarms::model::Event) -> crate::error::Result<()> {
    let r = app.store.read()?;
    let Some((_, ids)) = service::bound(&r, &e.tag)? else {
        return Ok(());
    };
    drop(r);
    for id in ids {
        service::alarm_order(
            &app.store,
            &Actor::system("equipment"),
            id,
            &e.tag,
            &e.message_zh,
            super::now(app),
        )?;
    }
    Ok(())
}

/// Starts the 1-s evaluation and the alarm listener on the I/O runtime.
pub fn start(app: Arc<App>) {
    let Some(io) = app.io() else { return };
    let a = app.clone();
    io.spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n = 0u64;
        loop {
            every.tick().await;
            n += 1;
            if !a.registry.is_enabled("equipment") {
                continue;
            }
            let b = a.clone();
            // meters (run hours, counts) are read for the plans every ten seconds
            let plans = n % PLAN_EVERY_S == 1;
            let r = tokio::task::spawn_blocking(move || {
                tick(&b)?;
                if plans {
                    let opened = service::scheduled(
                        &b.store,
                        &Actor::system("equipment"),
                        super::now(&b),
                        &|tag| super::meter(&b, tag),
                    )?;
                    for o in &opened {
                        tracing::info!(order = %o.number, title = %o.title, "preventive work order opened");
                    }
                }
                Ok::<_, crate::error::Error>(())
            })
            .await;
            if let Ok(Err(e)) = r {
                tracing::warn!(error = %e, "equipment condition evaluation failed");
            }
        }
    });
    let mut events = app.alarms.subscribe();
    io.spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            if e.kind != crate::alarms::model::EventKind::Raised
                || e.priority != Priority::Urgent
                || e.tag.is_empty()
                || !app.registry.is_enabled("equipment")
            {
                continue;
            }
            let a = app.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(err) = on_alarm(&a, &e) {
                    tracing::warn!(tag = %e.tag, error = %err, "no work order for an urgent alarm");
                }
            })
            .await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_alarms_are_one_step_higher_on_a_critical_machine() {
        let p = |z, c| zone_alarm(z, c).map(|(p, _)| p);
        assert_eq!(p(Zone::B, Criticality::A), None);
        assert_eq!(p(Zone::C, Criticality::B), Some(Priority::Medium));
        assert_eq!(p(Zone::C, Criticality::A), Some(Priority::High));
        assert_eq!(p(Zone::D, Criticality::C), Some(Priority::High));
        assert_eq!(p(Zone::D, Criticality::A), Some(Priority::Urgent));
    }
}
