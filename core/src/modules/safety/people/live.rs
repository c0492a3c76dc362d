//! The running side of people tracking: one `Tracker` per appliance fed by the API, the
//! MQTT feed and (in the demo) the simulator; a 1 s ticker for the time-dependent rules,
//! track storage, the permits that allow people into permit-only zones, and the duty roster;
//! alarms raised and cleared through the alarm engine; a broadcast for the live map.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::model::{Direction, FeedConfig, GateEvent};
use super::service as ps;
use super::tracking::{Change, Seen, Tracker, Update};
use crate::alarms::model::Priority;
use crate::app::App;
use crate::i18n::{Lang, Msg};
use crate::modules::safety::permits::model::Stage;
use crate::util::now_ms;

/// What the MQTT feed is doing, for the settings page.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct FeedStatus {
    pub connected: bool,
    pub messages: u64,
    pub rejected: u64,
    pub last_error: Option<String>,
    pub last_ms: Option<i64>,
}

pub struct Live {
    tracker: Mutex<Tracker>,
    pub feed: Mutex<FeedStatus>,
    feed_task: Mutex<Option<crate::util::AbortOnDrop>>,
    /// When the last position and the last gate event arrived (ms; 0 = never).
    pub last_position_ms: AtomicI64,
    pub last_gate_ms: AtomicI64,
    /// Post id → since when nobody assigned holds it.
    absent_since: Mutex<HashMap<u64, i64>>,
    /// Bumped when positions change, for the live map's stream.
    pub changed: tokio::sync::watch::Sender<u64>,
}

/// The appliance's live tracking state.
pub fn live(app: &App) -> Arc<Live> {
    app.state(|| Live::load(app))
}

impl Live {
    fn load(app: &App) -> Live {
        let (map, zones, wearers) = app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| Ok((ps::map(&r)?, ps::zones(&r)?, ps::wearers(&r)?)))
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "positions: registry not loaded");
                (Default::default(), Vec::new(), Vec::new())
            });
        Live {
            tracker: Mutex::new(Tracker::new(&map, zones, wearers)),
            feed: Mutex::new(FeedStatus::default()),
            feed_task: Mutex::new(None),
            last_position_ms: AtomicI64::new(0),
            last_gate_ms: AtomicI64::new(0),
            absent_since: Mutex::new(HashMap::new()),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    fn tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.tracker.lock().expect("tracker lock is never poisoned")
    }

    /// Re-reads the map, the zones and who wears which tag (after they change).
    pub fn reload(&self, app: &App) -> crate::error::Result<()> {
        let r = app.store.read()?;
        let (map, zones, wearers) = (ps::map(&r)?, ps::zones(&r)?, ps::wearers(&r)?);
        drop(r);
        let changes = {
            let mut t = self.tracker();
            t.set_map(&map);
            let mut c = t.set_zones(zones);
            c.extend(t.set_wearers(wearers));
            c
        };
        apply(app, changes);
        Ok(())
    }

    /// Takes position reports; returns, per report, why it was refused (if it was).
    pub fn ingest(&self, app: &App, updates: &[Update]) -> Vec<Option<Msg>> {
        let now = now_ms();
        let mut changes = Vec::new();
        let results = {
            let mut t = self.tracker();
            updates
                .iter()
                .map(|u| match t.ingest(u, now) {
                    Ok(c) => {
                        changes.extend(c);
                        None
                    }
                    Err(r) => Some(r.msg()),
                })
                .collect::<Vec<_>>()
        };
        if results.iter().any(Option::is_none) {
            self.last_position_ms.store(now, Ordering::Relaxed);
            self.changed.send_modify(|n| *n += 1);
        }
        apply(app, changes);
        results
    }

    /// Notes a gate event; a flagged entry (unknown, not allowed, certificate expired) is an
    /// event alert to the safety staff: the guard at the gate deals with the person, the
    /// control room does not, and it waits for an acknowledgement.
    pub fn gate_event(&self, app: &App, e: &GateEvent) {
        self.last_gate_ms.store(now_ms(), Ordering::Relaxed);
        for f in &e.flags {
            let key = match f {
                super::model::Flag::Unknown => "safety.gate.alarm.unknown",
                super::model::Flag::NotAllowed => "safety.gate.alarm.not_allowed",
                super::model::Flag::CertExpired => "safety.gate.alarm.cert_expired",
            };
            let msg = Msg::new(key)
                .arg("gate", &e.gate)
                .arg("who", &e.who)
                .arg_key(
                    "direction",
                    if e.direction == Direction::In {
                        "safety.gate.in"
                    } else {
                        "safety.gate.out"
                    },
                );
            // one alert per gate, flag and person: the same person again counts up
            let source = format!(
                "safety.gate:{}:{}:{}",
                e.gate,
                key.rsplit('.').next().unwrap_or(""),
                e.who
            );
            let raise = crate::alerts::Raise {
                source,
                priority: Priority::Medium,
                text: crate::modules::safety::texts(&msg),
                link: "/safety/gates".into(),
                route: crate::alerts::Route::holders("safety", crate::auth::model::Level::Write),
            };
            if let Err(err) = app.pulse_alert("safety", raise) {
                tracing::warn!(error = %err, gate = e.gate, "gate alert not raised");
            }
        }
    }

    /// Who is where now, and zone occupancy.
    pub fn snapshot(&self, now: i64) -> (Vec<Seen>, Vec<(u64, u32)>, u64, u64) {
        let t = self.tracker();
        (t.seen(now), t.occupancy(), t.accepted, t.rejected)
    }

    /// Once a second: time-dependent rules, tracks to the store; every 10 s the permits
    /// that allow people into permit-only zones and the duty roster.
    pub fn tick(&self, app: &App, now: i64, slow: bool) {
        if slow && let Err(e) = self.refresh_allowed(app) {
            tracing::warn!(error = %e, "positions: permits not read");
        }
        let (changes, points) = {
            let mut t = self.tracker();
            (t.tick(now), t.take_track())
        };
        apply(app, changes);
        if let Err(e) = ps::write_track(&app.store, &points) {
            tracing::warn!(error = %e, points = points.len(), "positions: track not stored");
        }
        if slow {
            match self.roster(app, now) {
                Ok(changes) => apply(app, changes),
                Err(e) => tracing::warn!(error = %e, "duty roster not checked"),
            }
        }
    }

    /// People a working permit names, by the zone its location is in.
    fn refresh_allowed(&self, app: &App) -> crate::error::Result<()> {
        let r = app.store.read()?;
        let working = crate::modules::safety::permits::service::permits(
            &r,
            &crate::modules::safety::permits::service::PermitFilter {
                stage: Some(Stage::Working.id().into()),
                ..Default::default()
            },
            app.offset,
        )?;
        let people = ps::people(&r)?;
        drop(r);
        let mut t = self.tracker();
        let mut allowed: HashMap<u64, HashSet<u64>> = HashMap::new();
        for z in t.zones() {
            for p in working
                .iter()
                .filter(|p| super::tracking::point_in_polygon(&z.polygon, p.x, p.y))
            {
                let names: HashSet<&str> = p
                    .workers
                    .iter()
                    .map(|w| w.name.as_str())
                    .chain([p.leader.as_str(), p.guardian.as_str()])
                    .collect();
                allowed.entry(z.id).or_default().extend(
                    people
                        .iter()
                        .filter(|x| names.contains(x.name.as_str()))
                        .map(|x| x.id),
                );
            }
        }
        let changes = t.set_allowed(allowed);
        drop(t);
        apply(app, changes);
        Ok(())
    }

    /// Posts now in a shift: held by an assigned person (in the post's zone by position, or
    /// inside the plant by the gates for people without a tag), unmanned past the grace
    /// time, or held by someone else.
    pub fn roster_status(&self, app: &App, now: i64) -> crate::error::Result<Vec<PostStatus>> {
        let r = app.store.read()?;
        let (posts, shifts, assignments, people, counts) = (
            ps::posts(&r)?,
            ps::shifts(&r)?,
            ps::assignments(&r)?,
            ps::people(&r)?,
            ps::head_counts(&r)?,
        );
        drop(r);
        let local = crate::plant_time::local(now, app.offset);
        let minute = local.hour() as u32 * 60 + local.minute() as u32;
        let seen = self.tracker().seen(now);
        let in_plant: HashSet<&str> = counts
            .iter()
            .filter(|h| h.area == "plant")
            .flat_map(|h| h.inside.iter().map(|(n, _)| n.as_str()))
            .collect();
        let mut out = Vec::new();
        for post in &posts {
            let current: Vec<&super::model::Shift> =
                shifts.iter().filter(|s| ps::in_shift(s, minute)).collect();
            let assigned: Vec<&super::model::Person> = assignments
                .iter()
                .filter(|a| a.post == post.id && current.iter().any(|s| s.id == a.shift))
                .filter_map(|a| people.iter().find(|p| p.id == a.person))
                .collect();
            let in_zone: Vec<&Seen> = seen
                .iter()
                .filter(|s| s.zones.contains(&post.zone))
                .collect();
            let holding: Vec<String> = assigned
                .iter()
                .filter(|p| {
                    in_zone.iter().any(|s| s.person == p.id)
                        || (p.tag.is_empty() && in_plant.contains(p.name.as_str()))
                })
                .map(|p| p.name.clone())
                .collect();
            let others: Vec<String> = in_zone
                .iter()
                .filter(|s| !assigned.iter().any(|p| p.id == s.person))
                .map(|s| s.name.clone())
                .collect();
            out.push(PostStatus {
                post: post.id,
                name: post.name.clone(),
                zone: post.zone,
                grace_minutes: post.grace_minutes,
                shift: current.first().map(|s| s.name.clone()),
                assigned: assigned.iter().map(|p| p.name.clone()).collect(),
                holding,
                others,
            });
        }
        Ok(out)
    }

    fn roster(&self, app: &App, now: i64) -> crate::error::Result<Vec<Change>> {
        let status = self.roster_status(app, now)?;
        let mut absent = self
            .absent_since
            .lock()
            .expect("roster lock is never poisoned");
        let mut out = Vec::new();
        for s in status {
            let staffed = s.shift.is_none() || s.assigned.is_empty() || !s.holding.is_empty();
            let since = if staffed {
                absent.remove(&s.post);
                now
            } else {
                *absent.entry(s.post).or_insert(now)
            };
            let unmanned = !staffed && now - since >= s.grace_minutes as i64 * 60_000;
            let assigned = s.assigned.join("、");
            out.push(Change {
                source: format!("safety.post:{}:unmanned", s.post),
                raise: unmanned && s.others.is_empty(),
                priority: Priority::High,
                msg: Msg::new("safety.roster.alarm.unmanned")
                    .arg("post", &s.name)
                    .arg("assigned", &assigned)
                    .arg("minutes", (now - since) / 60_000),
            });
            out.push(Change {
                source: format!("safety.post:{}:wrong_person", s.post),
                raise: unmanned && !s.others.is_empty(),
                priority: Priority::High,
                msg: Msg::new("safety.roster.alarm.wrong_person")
                    .arg("post", &s.name)
                    .arg("assigned", &assigned)
                    .arg("who", s.others.join("、")),
            });
        }
        Ok(out)
    }

    /// (Re)starts the MQTT feed from the stored settings.
    pub fn restart_feed(self: &Arc<Self>, app: &Arc<App>) {
        let cfg = app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| ps::feed(&r))
            .unwrap_or_default();
        let mut slot = self.feed_task.lock().expect("feed lock is never poisoned");
        *slot = None;
        *self.feed.lock().expect("feed lock is never poisoned") = FeedStatus::default();
        let Some(io) = app.io() else { return };
        if cfg.enabled && !cfg.host.is_empty() {
            let (live, app) = (self.clone(), app.clone());
            *slot = Some(crate::util::AbortOnDrop(
                io.spawn(async move { run_feed(live, app, cfg).await }),
            ));
        }
    }
}

/// A post's state now, for the roster page and the alarms.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostStatus {
    pub post: u64,
    pub name: String,
    pub zone: u64,
    pub grace_minutes: u32,
    /// The shift in force now (none: the post is not staffed now).
    pub shift: Option<String>,
    pub assigned: Vec<String>,
    /// Assigned people on the post now.
    pub holding: Vec<String>,
    /// Others in the post's zone.
    pub others: Vec<String>,
}

/// Raises and clears alarms (area `safety`), both languages rendered.
fn apply(app: &App, changes: Vec<Change>) {
    for c in changes {
        if c.raise {
            if let Err(e) = app.alarms.raise_external(
                &c.source,
                c.priority,
                &crate::modules::safety::texts(&c.msg),
                "safety",
            ) {
                tracing::warn!(error = %e, source = c.source, "alarm not raised");
            }
        } else {
            app.alarms.clear_external(&c.source);
        }
    }
}

/// Starts the ticker, the MQTT feed and (when configured) the simulator.
pub fn start(app: Arc<App>) {
    let Some(io) = app.io() else { return };
    let l = live(&app);
    l.restart_feed(&app);
    let a = app.clone();
    io.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n = 0u64;
        loop {
            tick.tick().await;
            if !a.registry.is_enabled("safety") {
                continue;
            }
            let (a2, slow) = (a.clone(), n.is_multiple_of(10));
            let daily = n.is_multiple_of(86_400);
            n += 1;
            let _ = tokio::task::spawn_blocking(move || {
                live(&a2).tick(&a2, now_ms(), slow);
                if daily && let Err(e) = ps::prune_tracks(&a2.store, now_ms(), 30) {
                    tracing::warn!(error = %e, "old tracks not pruned");
                }
            })
            .await;
        }
    });
    io.spawn(super::simulate::run(app));
}

/// Subscribes to the gate and position topics and feeds what arrives.
async fn run_feed(live: Arc<Live>, app: Arc<App>, cfg: FeedConfig) {
    use rumqttc::{AsyncClient, Event, Packet, QoS};
    let password = app
        .store
        .sealer()
        .ok()
        .and_then(|s| s.reveal(&cfg.password));
    let opts = crate::mqtt::options(&crate::mqtt::Broker {
        client_id: format!("nplusx-safety-{}", std::process::id()),
        host: &cfg.host,
        port: cfg.port,
        tls: cfg.tls,
        username: &cfg.username,
        password,
        keep_alive_s: 30,
    });
    let (client, events) = AsyncClient::new(opts, 256);
    let (_pump, mut rx) = crate::mqtt::pump(events);
    let status = |f: &dyn Fn(&mut FeedStatus)| {
        f(&mut live.feed.lock().expect("feed lock is never poisoned"))
    };
    while let Some(ev) = rx.recv().await {
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                status(&|s| {
                    s.connected = true;
                    s.last_error = None;
                });
                for t in [&cfg.gate_topic, &cfg.position_topic] {
                    if !t.is_empty() {
                        let _ = client.subscribe(t.as_str(), QoS::AtLeastOnce).await;
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let topic = p.topic.clone();
                let payload = p.payload.to_vec();
                let (live2, app2, cfg2) = (live.clone(), app.clone(), cfg.clone());
                let err = tokio::task::spawn_blocking(move || {
                    feed_message(&live2, &app2, &cfg2, &topic, &payload)
                })
                .await
                .unwrap_or_else(|e| Some(e.to_string()));
                status(&|s| {
                    s.messages += 1;
                    s.last_ms = Some(now_ms());
                    if let Some(e) = &err {
                        s.rejected += 1;
                        s.last_error = Some(e.clone());
                    }
                });
            }
            Ok(_) => {}
            Err(e) => status(&|s| {
                s.connected = false;
                s.last_error = Some(e.clone());
            }),
        }
    }
}

/// One feed message: a gate event, or one position or a list of them. Returns what was
/// wrong with it, if anything (in English, for the feed status and the log).
fn feed_message(
    live: &Live,
    app: &App,
    cfg: &FeedConfig,
    topic: &str,
    payload: &[u8],
) -> Option<String> {
    if !cfg.gate_topic.is_empty() && crate::mqtt::matches(&cfg.gate_topic, topic) {
        let input: ps::GateInput = match serde_json::from_slice(payload) {
            Ok(i) => i,
            Err(e) => return Some(format!("{topic}: not a gate event: {e}")),
        };
        let today = crate::plant_time::today(app.offset);
        return match ps::record_gate_event(
            &app.store,
            &crate::store::Actor::system("mqtt"),
            input,
            "mqtt",
            now_ms(),
            today,
        ) {
            Ok(e) => {
                live.gate_event(app, &e);
                None
            }
            Err(e) => Some(format!("{topic}: {}", e.msg().render(Lang::En))),
        };
    }
    if !cfg.position_topic.is_empty() && crate::mqtt::matches(&cfg.position_topic, topic) {
        let updates: Vec<Update> = match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(serde_json::Value::Array(a)) => {
                match a.into_iter().map(serde_json::from_value).collect() {
                    Ok(u) => u,
                    Err(e) => return Some(format!("{topic}: not positions: {e}")),
                }
            }
            Ok(v) => match serde_json::from_value(v) {
                Ok(u) => vec![u],
                Err(e) => return Some(format!("{topic}: not a position: {e}")),
            },
            Err(e) => return Some(format!("{topic}: not JSON: {e}")),
        };
        let errors: Vec<String> = live
            .ingest(app, &updates)
            .into_iter()
            .flatten()
            .map(|m| m.render(Lang::En))
            .collect();
        return (!errors.is_empty()).then(|| format!("{topic}: {}", errors.join("; ")));
    }
    None
}
