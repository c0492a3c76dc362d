//! Northbound: the plant's tag values and alarms published to an existing MQTT broker (EMQX,
//! Mosquitto) for a group or park platform, as Sparkplug B or plain JSON, with
//! store-and-forward.
//!
//! Two tasks on the I/O runtime. The *collector* takes what the tag engine reports (changes
//! past the deadband) and the alarm journal's events, filters them by area, and appends one
//! item a second to a durable queue (`northbound.queue`). The *sender* keeps one MQTT session:
//! on connect it publishes births, then sends queued items oldest first, one at a time with
//! QoS 1, and deletes an item only when the broker has acknowledged all its messages. While
//! the broker is unreachable the queue grows (bounded by `max_queue`, oldest dropped and
//! counted); after a reconnect it is replayed in order, Sparkplug metrics marked historical.
//!
//! Sparkplug B: the box is edge node `<group>/<node>`; each plant area is a device whose
//! DBIRTH declares its tags (name = tag name, alias = tag id); DDATA carry aliases and a
//! sequence number; NDEATH with the session's bdSeq is the MQTT last will. A rebirth request
//! (`Node Control/Rebirth` in NCMD) is answered; other commands are not accepted (writes to
//! the process from outside stay off). JSON: `<prefix>/data` (a second of values),
//! `<prefix>/alarms` (a second of alarm events), and a retained `<prefix>/status` (`online`,
//! will `offline`).
//!
//! Owns the `northbound.*` tables.

pub mod figures;
pub mod routes;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, LastWill, Packet, QoS};
use serde::{Deserialize, Serialize};

use crate::alarms::model::Event as AlarmEvent;
use crate::error::{self, Error, Result};
use crate::i18n::Msg;
use crate::secrets::Secret;
use crate::sparkplug::{self, Val};
use crate::store::{Actor, Change, Order, Reader, Store, StoreError, Table};
use crate::tags::engine::Engine;
use crate::tags::model::{Quality, Sample, Value};
use crate::util::now_ms;

const CONFIG: Table<String, Config> = Table::new("northbound.config");
const QUEUE: Table<u64, Item> = Table::new("northbound.queue");

/// Payload style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    SparkplugB,
    Json,
}

/// Where and what to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Config {
    pub enabled: bool,
    pub host: String,
    #[serde(default = "port")]
    pub port: u16,
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    /// Empty: `nplusx-<node>`.
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub format: Format,
    /// Sparkplug group id.
    #[serde(default = "group")]
    pub group_id: String,
    /// Sparkplug edge node id; also the default JSON topic prefix `nplusx/<node>`.
    #[serde(default = "node")]
    pub node_id: String,
    /// JSON topics start with this (empty: `nplusx/<node>`).
    #[serde(default)]
    pub topic_prefix: String,
    /// Plant areas whose tags are published (empty: all).
    #[serde(default)]
    pub areas: Vec<String>,
    /// Publish alarm events too.
    #[serde(default = "yes")]
    pub alarms: bool,
    /// Items (one a second) kept while the broker is unreachable; older ones are dropped.
    #[serde(default = "max_queue")]
    pub max_queue: u64,
}

fn port() -> u16 {
    1883
}
fn group() -> String {
    "nplusx".into()
}
fn node() -> String {
    "plant".into()
}
fn yes() -> bool {
    true
}
fn max_queue() -> u64 {
    7 * 86_400
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            host: String::new(),
            port: port(),
            tls: false,
            username: String::new(),
            password: Secret::Empty,
            client_id: String::new(),
            format: Format::SparkplugB,
            group_id: group(),
            node_id: node(),
            topic_prefix: String::new(),
            areas: Vec::new(),
            alarms: true,
            max_queue: max_queue(),
        }
    }
}

impl Config {
    pub fn redacted(&self) -> Config {
        Config {
            password: self.password.redacted(),
            ..self.clone()
        }
    }
    fn prefix(&self) -> String {
        if self.topic_prefix.is_empty() {
            format!("nplusx/{}", self.node_id)
        } else {
            self.topic_prefix.clone()
        }
    }
}

/// One second of what happened, as queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub ts_ms: i64,
    pub samples: Vec<Sample>,
    #[serde(default)]
    pub alarms: Vec<AlarmEvent>,
    /// Messages from plugins (capability `mqtt`), published as they are.
    #[serde(default)]
    pub messages: Vec<Outbound>,
    /// Key figures that changed (`figures`); null for one no longer collected.
    #[serde(default)]
    pub figures: figures::Changes,
}

impl Item {
    fn empty() -> Item {
        Item {
            ts_ms: 0,
            samples: Vec::new(),
            alarms: Vec::new(),
            messages: Vec::new(),
            figures: figures::Changes::new(),
        }
    }
}

/// A message a plugin publishes: its topic under the box's prefix, payload, retain flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outbound {
    pub topic: String,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// Counters for the console and the API.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct Status {
    pub connected: bool,
    /// Items waiting in the queue.
    pub queued: u64,
    /// Messages the broker acknowledged.
    pub sent: u64,
    /// Items dropped because the queue was full.
    pub dropped: u64,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    pub last_sent_ms: Option<i64>,
}

pub fn config(r: &impl Reader) -> Result<Config> {
    Ok(r.get(&CONFIG, &"config".to_string())?.unwrap_or_default())
}

/// Checks and stores the configuration (its password sealed).
pub fn save_config(store: &Store, actor: &Actor, input: Config) -> Result<Config> {
    let c = Config {
        host: input.host.trim().to_string(),
        username: error::text("username", &input.username, 128, false)?,
        topic_prefix: input.topic_prefix.trim().trim_end_matches('/').to_string(),
        ..input
    };
    if c.enabled || !c.host.is_empty() {
        crate::mqtt::check_broker(&c.host, c.port)?;
    }
    if !sparkplug::id_ok(&c.group_id) {
        return Err(Error::invalid("group_id", "northbound.err.id"));
    }
    if !sparkplug::id_ok(&c.node_id) {
        return Err(Error::invalid("node_id", "northbound.err.id"));
    }
    if !c.topic_prefix.is_empty()
        && (c.topic_prefix.contains(['+', '#']) || c.topic_prefix.len() > 200)
    {
        return Err(Error::invalid("topic_prefix", "northbound.err.prefix"));
    }
    crate::mqtt::check_client_id(&c.client_id)?;
    if !(60..=100_000_000).contains(&c.max_queue) {
        return Err(Error::invalid_msg(
            "max_queue",
            Msg::new("northbound.err.max_queue"),
        ));
    }
    let mut w = store.write(actor)?;
    let before = config(&w)?;
    let same = before.host == c.host && before.port == c.port;
    crate::secrets::check_keep("password", &c.password, Some(&before.password), same)?;
    let c = Config {
        password: store.sealer()?.seal(&c.password, Some(&before.password))?,
        ..c
    };
    w.insert(&CONFIG, &"config".to_string(), &c)?;
    w.audit(
        "northbound.config.update",
        "northbound",
        Change::updated(before.redacted(), c.redacted()),
    );
    w.commit()?;
    Ok(c)
}

/// The running publisher; restarted by [`Northbound::reload`] when its configuration changes.
pub struct Northbound {
    store: Arc<Store>,
    engine: Arc<Engine>,
    alarms: Arc<crate::alarms::Alarms>,
    rt: tokio::runtime::Handle,
    status: Arc<Mutex<Status>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    figures: Arc<Mutex<figures::Feed>>,
}

impl Northbound {
    pub fn new(
        store: Arc<Store>,
        engine: Arc<Engine>,
        alarms: Arc<crate::alarms::Alarms>,
        rt: tokio::runtime::Handle,
    ) -> Northbound {
        Northbound {
            store,
            engine,
            alarms,
            rt,
            status: Arc::default(),
            tasks: Mutex::new(Vec::new()),
            figures: Arc::default(),
        }
    }

    /// Whether publishing is switched on (the key figures are collected only then).
    pub fn enabled(&self) -> bool {
        self.store
            .read()
            .map_err(Error::from)
            .and_then(|r| config(&r))
            .is_ok_and(|c| c.enabled)
    }

    /// Hands over the key figures just collected ([`figures::collect`]); those that changed
    /// go out with the next item.
    pub fn set_figures(&self, fresh: figures::Figures) {
        self.figures
            .lock()
            .expect("figures lock is never poisoned")
            .update(fresh, now_ms());
    }

    pub fn status(&self) -> Status {
        let mut s = self
            .status
            .lock()
            .expect("status lock is never poisoned")
            .clone();
        s.queued = self.store.read().and_then(|r| r.count(&QUEUE)).unwrap_or(0);
        s
    }

    /// (Re)starts the tasks from the stored configuration; stops them when disabled.
    pub fn reload(&self) -> Result<()> {
        let mut tasks = self.tasks.lock().expect("tasks lock is never poisoned");
        let cfg = config(&self.store.read()?)?;
        for t in tasks.drain(..) {
            t.abort();
        }
        {
            let mut s = self.status.lock().expect("status lock is never poisoned");
            s.connected = false;
        }
        if !cfg.enabled {
            return Ok(());
        }
        let (wake_tx, wake_rx) = tokio::sync::watch::channel(());
        tasks.push(self.rt.spawn(collect(
            self.store.clone(),
            self.engine.clone(),
            self.alarms.clone(),
            cfg.clone(),
            self.status.clone(),
            self.figures.clone(),
            wake_tx,
        )));
        tasks.push(self.rt.spawn(send(
            self.store.clone(),
            self.engine.clone(),
            cfg,
            self.status.clone(),
            self.figures.clone(),
            wake_rx,
        )));
        Ok(())
    }

    /// Queues a plugin's message (`<prefix>/<topic>`), sent in order with the rest and
    /// kept while the broker is unreachable. An error when northbound publishing is off.
    pub fn enqueue_message(&self, topic: &str, payload: &[u8], retain: bool) -> Result<()> {
        let cfg = config(&self.store.read()?)?;
        if !cfg.enabled {
            return Err(crate::error::Error::conflict("northbound.err.off"));
        }
        let item = Item {
            ts_ms: now_ms(),
            messages: vec![Outbound {
                topic: topic.to_string(),
                payload: payload.to_vec(),
                retain,
            }],
            ..Item::empty()
        };
        enqueue(&self.store, &item, cfg.max_queue)?;
        Ok(())
    }

    pub fn stop(&self) {
        for t in self
            .tasks
            .lock()
            .expect("tasks lock is never poisoned")
            .drain(..)
        {
            t.abort();
        }
    }
}

fn record_error(status: &Mutex<Status>, why: &str) {
    let mut s = status.lock().expect("status lock is never poisoned");
    s.last_error = Some(why.to_string());
    s.last_error_ms = Some(now_ms());
}

/// Appends one item a second from the engine's reports and the alarm events.
async fn collect(
    store: Arc<Store>,
    engine: Arc<Engine>,
    alarms: Arc<crate::alarms::Alarms>,
    cfg: Config,
    status: Arc<Mutex<Status>>,
    feed: Arc<Mutex<figures::Feed>>,
    wake: tokio::sync::watch::Sender<()>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut values = engine.subscribe();
    let mut events = alarms.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending = Item::empty();
    let wanted = |tag: u32| {
        cfg.areas.is_empty()
            || engine
                .defs()
                .get(tag)
                .is_some_and(|t| cfg.areas.iter().any(|a| *a == t.area))
    };
    loop {
        tokio::select! {
            v = values.recv() => match v {
                Ok(batch) => pending.samples.extend(batch.iter().filter(|s| wanted(s.tag)).cloned()),
                Err(RecvError::Lagged(n)) => record_error(&status, &format!("{n} value batches missed (system overloaded)")),
                Err(RecvError::Closed) => return,
            },
            e = events.recv(), if cfg.alarms => match e {
                Ok(e) => pending.alarms.push(e),
                Err(RecvError::Lagged(n)) => record_error(&status, &format!("{n} alarm events missed")),
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                pending.figures = feed.lock().expect("figures lock is never poisoned").take_changed();
                if pending.samples.is_empty() && pending.alarms.is_empty() && pending.figures.is_empty() {
                    continue;
                }
                pending.ts_ms = now_ms();
                let item = std::mem::replace(&mut pending, Item::empty());
                let (st, max) = (store.clone(), cfg.max_queue);
                let r = tokio::task::spawn_blocking(move || enqueue(&st, &item, max)).await;
                match r {
                    Ok(Ok(dropped)) => {
                        if dropped > 0 {
                            status.lock().expect("status lock is never poisoned").dropped += dropped;
                        }
                        let _ = wake.send(());
                    }
                    Ok(Err(e)) => record_error(&status, &format!("queue: {e}")),
                    Err(e) => record_error(&status, &format!("queue: {e}")),
                }
            }
        }
    }
}

/// Appends an item; drops the oldest beyond `max`. Returns how many were dropped.
fn enqueue(store: &Store, item: &Item, max: u64) -> Result<u64, StoreError> {
    let mut w = store.write(&Actor::system("northbound"))?;
    let last = w.first(&QUEUE, Order::Desc)?.map_or(0, |(k, _)| k);
    w.insert(&QUEUE, &(last + 1), item)?;
    let n = w.count(&QUEUE)?;
    let mut dropped = 0;
    if n > max {
        // keys are consecutive: the oldest n − max go
        let first = w.first(&QUEUE, Order::Asc)?.map_or(0, |(k, _)| k);
        dropped = w.remove_range(&QUEUE, first..first + (n - max))?;
        tracing::warn!(dropped, "northbound queue full: oldest items dropped");
    }
    w.commit()?;
    Ok(dropped)
}

fn first_item(store: &Store) -> Result<Option<(u64, Item)>, StoreError> {
    store.read()?.first(&QUEUE, Order::Asc)
}

fn remove_item(store: &Store, key: u64) -> Result<(), StoreError> {
    let mut w = store.write(&Actor::system("northbound"))?;
    w.remove(&QUEUE, &key)?;
    w.commit()
}

fn area_device(area: &str) -> String {
    if area.is_empty() {
        "plant".into()
    } else {
        area.replace(['/', '+', '#'], "_")
    }
}

fn val(v: Option<&Value>, q: Quality) -> Val {
    match (v, q.is_good()) {
        (Some(Value::Bool(b)), true) => Val::Bool(*b),
        (Some(Value::Text(t)), true) => Val::Text(t.to_string()),
        (Some(v), true) => v.as_f64().map_or(Val::Null, Val::Number),
        _ => Val::Null,
    }
}

fn quality_text(q: Quality) -> String {
    match q {
        Quality::Good => "good".into(),
        Quality::Uncertain(r) | Quality::Bad(r) => {
            let kind = if matches!(q, Quality::Bad(_)) {
                "bad"
            } else {
                "uncertain"
            };
            let reason = serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("{kind}:{reason}")
        }
    }
}

/// One MQTT message to publish.
struct Message {
    topic: String,
    payload: Vec<u8>,
    retain: bool,
}

/// The sender's per-session Sparkplug state.
struct Session {
    cfg: Config,
    seq: u64,
    bd_seq: u64,
    started_ms: i64,
    figures: Arc<Mutex<figures::Feed>>,
}

/// A key figure as a Sparkplug metric: named, not aliased (a module switched on later
/// adds figures without a rebirth); null when the figure is gone.
fn figure_metric(
    name: &str,
    v: Option<&figures::FigVal>,
    ts_ms: u64,
    historical: bool,
) -> sparkplug::Metric {
    let v = match v {
        Some(figures::FigVal::Number(x)) => Val::Number(*x),
        Some(figures::FigVal::Text(t)) => Val::Text(t.clone()),
        None => Val::Null,
    };
    sparkplug::Metric {
        alias: None,
        ..sparkplug::metric(Some(name), 0, ts_ms, &v, historical)
    }
}

impl Session {
    fn next_seq(&mut self) -> u64 {
        let s = self.seq;
        self.seq = (self.seq + 1) % 256;
        s
    }

    fn topic(&self, kind: &str, device: Option<&str>) -> String {
        match device {
            Some(d) => format!(
                "spBv1.0/{}/{kind}/{}/{d}",
                self.cfg.group_id, self.cfg.node_id
            ),
            None => format!("spBv1.0/{}/{kind}/{}", self.cfg.group_id, self.cfg.node_id),
        }
    }

    fn current_figures(&self) -> figures::Figures {
        self.figures
            .lock()
            .expect("figures lock is never poisoned")
            .current
            .clone()
    }

    /// The JSON summary: every current figure, retained (a late subscriber gets the latest).
    fn json_summary(&self, ts_ms: i64) -> Message {
        Message {
            topic: format!("{}/summary", self.cfg.prefix()),
            payload: serde_json::to_vec(&serde_json::json!({
                "node": self.cfg.node_id, "ts": ts_ms, "figures": self.current_figures(),
            }))
            .unwrap_or_default(),
            retain: true,
        }
    }

    /// NBIRTH and a DBIRTH per area with every published tag and its current value, and
    /// the `summary` device with the key figures.
    fn births(&mut self, engine: &Engine) -> Vec<Message> {
        if self.cfg.format == Format::Json {
            let mut out = vec![Message {
                topic: format!("{}/status", self.cfg.prefix()),
                payload: b"online".to_vec(),
                retain: true,
            }];
            if !self.current_figures().is_empty() {
                out.push(self.json_summary(now_ms()));
            }
            return out;
        }
        self.seq = 0;
        let now = now_ms() as u64;
        let nbirth = sparkplug::Payload {
            timestamp: Some(now),
            seq: Some(self.next_seq()),
            metrics: vec![
                sparkplug::Metric {
                    name: Some("bdSeq".into()),
                    datatype: Some(sparkplug::datatype::INT64),
                    value: Some(sparkplug::MetricValue::Long(self.bd_seq)),
                    ..Default::default()
                },
                sparkplug::Metric {
                    name: Some("Node Control/Rebirth".into()),
                    datatype: Some(sparkplug::datatype::BOOLEAN),
                    value: Some(sparkplug::MetricValue::Boolean(false)),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let mut out = vec![Message {
            topic: self.topic("NBIRTH", None),
            payload: sparkplug::encode(&nbirth),
            retain: false,
        }];
        let defs = engine.defs();
        let mut by_area: BTreeMap<String, Vec<sparkplug::Metric>> = BTreeMap::new();
        let ids: Vec<u32> = defs.iter().map(|t| t.id).collect();
        let currents = engine.currents(&ids);
        for (t, c) in defs.iter().zip(currents) {
            if !self.cfg.areas.is_empty() && !self.cfg.areas.contains(&t.area) {
                continue;
            }
            let (v, ts) = c.map_or((Val::Null, now), |c| {
                (val(c.value.as_ref(), c.quality), c.ts_ms as u64)
            });
            by_area
                .entry(area_device(&t.area))
                .or_default()
                .push(sparkplug::metric(Some(&t.name), t.id as u64, ts, &v, false));
        }
        if self.cfg.alarms {
            by_area.entry("alarms".into()).or_default();
        }
        let figures = self.current_figures();
        if !figures.is_empty() {
            by_area.insert(
                "summary".into(),
                figures
                    .iter()
                    .map(|(k, v)| figure_metric(k, Some(v), now, false))
                    .collect(),
            );
        }
        for (device, metrics) in by_area {
            let p = sparkplug::Payload {
                timestamp: Some(now),
                seq: Some(self.next_seq()),
                metrics,
                ..Default::default()
            };
            out.push(Message {
                topic: self.topic("DBIRTH", Some(&device)),
                payload: sparkplug::encode(&p),
                retain: false,
            });
        }
        out
    }

    /// The messages of one queued item.
    fn encode(&mut self, engine: &Engine, item: &Item) -> Vec<Message> {
        let defs = engine.defs();
        let mut out = Vec::new();
        match self.cfg.format {
            Format::Json => {
                if !item.samples.is_empty() {
                    let values: Vec<serde_json::Value> = item
                        .samples
                        .iter()
                        .filter_map(|s| {
                            let t = defs.get(s.tag)?;
                            Some(serde_json::json!({
                                "tag": t.name, "ts": s.ts_ms, "value": s.value, "quality": quality_text(s.quality),
                                "unit": t.unit, "area": t.area,
                            }))
                        })
                        .collect();
                    out.push(Message {
                        topic: format!("{}/data", self.cfg.prefix()),
                        payload: serde_json::to_vec(&serde_json::json!({"node": self.cfg.node_id, "ts": item.ts_ms, "values": values}))
                            .unwrap_or_default(),
                        retain: false,
                    });
                }
                if !item.figures.is_empty() {
                    out.push(self.json_summary(item.ts_ms));
                }
                if !item.alarms.is_empty() {
                    // one message per second of events, however many: a flood stays a few messages
                    out.push(Message {
                        topic: format!("{}/alarms", self.cfg.prefix()),
                        payload: serde_json::to_vec(&serde_json::json!({
                            "node": self.cfg.node_id, "ts": item.ts_ms, "events": item.alarms,
                        }))
                        .unwrap_or_default(),
                        retain: false,
                    });
                }
            }
            Format::SparkplugB => {
                let historical = item.ts_ms < self.started_ms;
                let mut by_area: BTreeMap<String, Vec<sparkplug::Metric>> = BTreeMap::new();
                for s in &item.samples {
                    let Some(t) = defs.get(s.tag) else { continue };
                    by_area
                        .entry(area_device(&t.area))
                        .or_default()
                        .push(sparkplug::metric(
                            None,
                            s.tag as u64,
                            s.ts_ms.max(0) as u64,
                            &val(s.value.as_ref(), s.quality),
                            historical,
                        ));
                }
                if !item.alarms.is_empty() {
                    let metrics = item
                        .alarms
                        .iter()
                        .map(|e| {
                            sparkplug::metric(
                                Some("Alarm"),
                                0,
                                e.ts_ms.max(0) as u64,
                                &Val::Text(serde_json::to_string(e).unwrap_or_default()),
                                historical,
                            )
                        })
                        .map(|mut m| {
                            // event metrics are named, not aliased
                            m.alias = None;
                            m
                        })
                        .collect();
                    by_area.insert("alarms".into(), metrics);
                }
                if !item.figures.is_empty() {
                    let ts = item.ts_ms.max(0) as u64;
                    by_area.insert(
                        "summary".into(),
                        item.figures
                            .iter()
                            .map(|(k, v)| figure_metric(k, v.as_ref(), ts, historical))
                            .collect(),
                    );
                }
                for (device, metrics) in by_area {
                    let p = sparkplug::Payload {
                        timestamp: Some(item.ts_ms.max(0) as u64),
                        seq: Some(self.next_seq()),
                        metrics,
                        ..Default::default()
                    };
                    out.push(Message {
                        topic: self.topic("DDATA", Some(&device)),
                        payload: sparkplug::encode(&p),
                        retain: false,
                    });
                }
            }
        }
        for m in &item.messages {
            out.push(Message {
                topic: format!("{}/{}", self.cfg.prefix(), m.topic),
                payload: m.payload.clone(),
                retain: m.retain,
            });
        }
        out
    }
}

/// The item being sent and how many acknowledgements it still waits for.
struct InFlight {
    key: u64,
    acks_left: usize,
}

/// Keeps an MQTT session and drains the queue through it.
async fn send(
    store: Arc<Store>,
    engine: Arc<Engine>,
    cfg: Config,
    status: Arc<Mutex<Status>>,
    figures: Arc<Mutex<figures::Feed>>,
    mut wake: tokio::sync::watch::Receiver<()>,
) {
    let password = store.sealer().ok().and_then(|s| s.reveal(&cfg.password));
    let mut bd_seq = 0u64;
    let mut backoff = Duration::from_secs(1);
    loop {
        let mut session = Session {
            cfg: cfg.clone(),
            seq: 0,
            bd_seq,
            started_ms: now_ms(),
            figures: figures.clone(),
        };
        let mut opts = crate::mqtt::options(&crate::mqtt::Broker {
            client_id: if cfg.client_id.is_empty() {
                format!("nplusx-{}", cfg.node_id)
            } else {
                cfg.client_id.clone()
            },
            host: &cfg.host,
            port: cfg.port,
            tls: cfg.tls,
            username: &cfg.username,
            password: password.clone(),
            keep_alive_s: 30,
        });
        let will = match cfg.format {
            Format::SparkplugB => {
                let p = sparkplug::Payload {
                    timestamp: Some(now_ms() as u64),
                    metrics: vec![sparkplug::Metric {
                        name: Some("bdSeq".into()),
                        datatype: Some(sparkplug::datatype::INT64),
                        value: Some(sparkplug::MetricValue::Long(bd_seq)),
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                LastWill::new(
                    session.topic("NDEATH", None),
                    sparkplug::encode(&p),
                    QoS::AtLeastOnce,
                    false,
                )
            }
            Format::Json => LastWill::new(
                format!("{}/status", cfg.prefix()),
                "offline",
                QoS::AtLeastOnce,
                true,
            ),
        };
        opts.set_last_will(will);
        opts.set_clean_session(true);
        bd_seq = (bd_seq + 1) % 256;
        // a fresh client per session: nothing from a broken one is sent twice
        let (client, events) = AsyncClient::new(opts, 256);
        let (pump, mut events) = crate::mqtt::pump(events);
        let mut inflight: Option<InFlight> = None;
        let mut poll = tokio::time::interval(Duration::from_millis(500));
        let broken: String = loop {
            tokio::select! {
                ev = events.recv() => match ev.unwrap_or_else(|| Err("event loop stopped".into())) {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        backoff = Duration::from_secs(1);
                        status.lock().expect("status lock is never poisoned").connected = true;
                        session.started_ms = now_ms();
                        if cfg.format == Format::SparkplugB {
                            let _ = client.subscribe(session.topic("NCMD", None), QoS::AtLeastOnce).await;
                        }
                        for m in session.births(&engine) {
                            let _ = client.publish(m.topic, QoS::AtMostOnce, m.retain, m.payload).await;
                        }
                        inflight = next(&store, &engine, &client, &mut session).await;
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        if let Some(f) = inflight.as_mut() {
                            f.acks_left = f.acks_left.saturating_sub(1);
                            if f.acks_left == 0 {
                                let key = f.key;
                                {
                                    let mut s = status.lock().expect("status lock is never poisoned");
                                    s.sent += 1;
                                    s.last_sent_ms = Some(now_ms());
                                }
                                let st = store.clone();
                                if let Err(e) = tokio::task::spawn_blocking(move || remove_item(&st, key)).await.unwrap_or(Ok(())) {
                                    record_error(&status, &format!("queue: {e}"));
                                }
                                inflight = next(&store, &engine, &client, &mut session).await;
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        // NCMD: only a rebirth request is accepted
                        let rebirth = sparkplug::decode(&p.payload).is_some_and(|pl| {
                            pl.metrics.iter().any(|m| m.name.as_deref() == Some("Node Control/Rebirth") && m.val() == Some(Val::Bool(true)))
                        });
                        if rebirth {
                            for m in session.births(&engine) {
                                let _ = client.publish(m.topic, QoS::AtMostOnce, m.retain, m.payload).await;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => break e,
                },
                _ = wake.changed() => {
                    if inflight.is_none() && status.lock().expect("status lock is never poisoned").connected {
                        inflight = next(&store, &engine, &client, &mut session).await;
                    }
                }
                _ = poll.tick() => {
                    if inflight.is_none() && status.lock().expect("status lock is never poisoned").connected {
                        inflight = next(&store, &engine, &client, &mut session).await;
                    }
                }
            }
        };
        drop(pump);
        {
            let mut s = status.lock().expect("status lock is never poisoned");
            s.connected = false;
        }
        record_error(&status, &broken);
        tracing::debug!(error = %broken, "northbound broker unreachable");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Publishes the oldest queued item, if any.
async fn next(
    store: &Arc<Store>,
    engine: &Engine,
    client: &AsyncClient,
    session: &mut Session,
) -> Option<InFlight> {
    let st = store.clone();
    let (key, item) = tokio::task::spawn_blocking(move || first_item(&st))
        .await
        .ok()?
        .ok()??;
    let msgs = session.encode(engine, &item);
    if msgs.is_empty() {
        let st = store.clone();
        let _ = tokio::task::spawn_blocking(move || remove_item(&st, key)).await;
        return None;
    }
    let n = msgs.len();
    for m in msgs {
        if client
            .publish(m.topic, QoS::AtLeastOnce, m.retain, m.payload)
            .await
            .is_err()
        {
            return None;
        }
    }
    Some(InFlight { key, acks_left: n })
}
