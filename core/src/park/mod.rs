//! The park role: an nplusx instance at a chemical park (or a group's head office) that
//! follows the plants' boxes over the park's MQTT broker and shows their key figures, alarms
//! and safety standing side by side, without copying their stores.
//!
//! Each plant's box publishes Sparkplug B northbound (`northbound`): edge node
//! `<group>/<node>`, a device per plant area with its tags, `alarms` with alarm events, and
//! `summary` with the key figures (`northbound::figures`). This side subscribes to
//! `spBv1.0/<group>/#` for the configured groups (all when none), and keeps in memory, per
//! edge node, what its births declared and its data changed since: online or not (NBIRTH /
//! NDEATH with the matching bdSeq), the figures, the latest alarm events, and every tag's
//! latest value by area. Nothing is written to the park's store but the configuration.
//!
//! As a Sparkplug host application it asks a node for a rebirth (`Node Control/Rebirth` in
//! NCMD, QoS 0) when it hears data it cannot place: from a node whose birth it has not seen (the
//! park instance started after the box), with an unknown alias, or after a gap in the
//! sequence numbers (a lost message). At most one request per node per 10 s.
//!
//! Only an NBIRTH (with its bdSeq and sequence number) makes a plant known; a replayed
//! backlog (historical metrics) or a value older than the one shown is not taken as current;
//! a DDEATH takes the device's values away. On (re)connecting it publishes its Sparkplug
//! host STATE (retained, the will says offline) and asks every plant it knows for a rebirth.
//!
//! Bounded: at most [`MAX_BOXES`] nodes (the one offline longest makes room), [`MAX_TAGS`]
//! tags per node, [`MAX_EVENTS`] events per node, names and texts capped; ids longer than 64
//! bytes, oversize values and payloads that are not Sparkplug B are counted and dropped.
//! Owns the `park.*` tables.

pub mod routes;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde::{Deserialize, Serialize};

use crate::error::{self, Error, Result};
use crate::northbound::figures::{FigVal, Figures};
use crate::secrets::Secret;
use crate::sparkplug::{self, Topic, Val};
use crate::store::{Actor, Change, Reader, Store, Table};
use crate::util::now_ms;

const CONFIG: Table<String, Config> = Table::new("park.config");
/// The plants heard from, with what they said last: a plant whose box is down when the park
/// box restarts is shown offline, not forgotten. Written each minute and at shutdown.
const PLANTS: Table<String, Known> = Table::new("park.plants");

/// How often the plants heard from are written down.
const REMEMBER_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A plant as remembered across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Known {
    group: String,
    node: String,
    figures: Figures,
    last_seen_ms: i64,
    offline_since_ms: Option<i64>,
}

fn known_key(group: &str, node: &str) -> String {
    format!("{group}\u{1f}{node}")
}

/// Nodes followed at most (a park has dozens of plants; a typo'd wildcard on a busy
/// broker must not eat the box's memory).
pub const MAX_BOXES: usize = 500;
/// Tags kept per node.
pub const MAX_TAGS: usize = 20_000;
/// Alarm events kept per node.
pub const MAX_EVENTS: usize = 50;
/// Between two rebirth requests to one node.
const REBIRTH_EVERY_MS: i64 = 10_000;

/// Which broker to follow and which Sparkplug groups.
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
    /// Empty: `nplusx-park`.
    #[serde(default)]
    pub client_id: String,
    /// Sparkplug group ids to follow (empty: every group on the broker).
    #[serde(default)]
    pub groups: Vec<String>,
}

fn port() -> u16 {
    1883
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
            groups: Vec::new(),
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

    fn filters(&self) -> Vec<String> {
        if self.groups.is_empty() {
            vec!["spBv1.0/+/#".into()]
        } else {
            self.groups
                .iter()
                .map(|g| format!("spBv1.0/{g}/#"))
                .collect()
        }
    }
}

pub fn config(r: &impl Reader) -> Result<Config> {
    Ok(r.get(&CONFIG, &"config".to_string())?.unwrap_or_default())
}

/// Checks and stores the configuration (its password sealed).
pub fn save_config(store: &Store, actor: &Actor, input: Config) -> Result<Config> {
    let c = Config {
        host: input.host.trim().to_string(),
        username: error::text("username", &input.username, 128, false)?,
        groups: input
            .groups
            .iter()
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty())
            .collect(),
        ..input
    };
    if c.enabled || !c.host.is_empty() {
        crate::mqtt::check_broker(&c.host, c.port)?;
    }
    if c.groups.len() > 50 || !c.groups.iter().all(|g| sparkplug::id_ok(g)) {
        return Err(Error::invalid("groups", "park.err.groups"));
    }
    crate::mqtt::check_client_id(&c.client_id)?;
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
        "park.config.update",
        "park",
        Change::updated(before.redacted(), c.redacted()),
    );
    w.commit()?;
    Ok(c)
}

/// A tag's latest value as the box published it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TagValue {
    pub name: String,
    /// None: the box published no good value (bad quality or none yet).
    pub value: Option<FigVal>,
    pub ts_ms: i64,
}

/// One plant's box as the park sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Plant {
    pub group: String,
    pub node: String,
    /// Between an NBIRTH and the NDEATH of the same session (or the broker connection lost).
    pub online: bool,
    pub born_ms: Option<i64>,
    pub last_seen_ms: i64,
    pub offline_since_ms: Option<i64>,
    pub figures: Figures,
    /// The latest alarm events, newest first (as the box's journal wrote them).
    #[schema(value_type = Vec<Object>)]
    pub events: VecDeque<serde_json::Value>,
    /// Area (Sparkplug device) → tag values by alias.
    #[serde(skip)]
    pub areas: BTreeMap<String, BTreeMap<u64, TagValue>>,
    /// Rebirths asked of this node.
    pub rebirths: u64,
    #[serde(skip)]
    bd_seq: Option<u64>,
    #[serde(skip)]
    next_seq: Option<u64>,
    #[serde(skip)]
    aliases: HashMap<u64, String>,
    #[serde(skip)]
    asked_ms: i64,
}

impl Plant {
    fn new(group: &str, node: &str, now: i64) -> Plant {
        Plant {
            group: group.into(),
            node: node.into(),
            online: false,
            born_ms: None,
            last_seen_ms: now,
            offline_since_ms: None,
            figures: Figures::new(),
            events: VecDeque::new(),
            areas: BTreeMap::new(),
            rebirths: 0,
            bd_seq: None,
            next_seq: None,
            aliases: HashMap::new(),
            asked_ms: i64::MIN,
        }
    }

    /// The enterprise's name, or the node id while the box has not said it.
    pub fn name(&self) -> &str {
        match self.figures.get("enterprise/name") {
            Some(FigVal::Text(t)) if !t.is_empty() => t,
            _ => &self.node,
        }
    }

    /// The plant without its tags (for lists: the tags can be many).
    pub fn without_tags(&self) -> Plant {
        Plant {
            areas: BTreeMap::new(),
            aliases: HashMap::new(),
            group: self.group.clone(),
            node: self.node.clone(),
            figures: self.figures.clone(),
            events: self.events.clone(),
            ..*self
        }
    }

    fn tag_count(&self) -> usize {
        self.areas.values().map(BTreeMap::len).sum()
    }
}

/// Counters for the page and the API.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct Status {
    pub connected: bool,
    pub messages: u64,
    /// Messages dropped: not Sparkplug B, ids too long, or over the bounds.
    pub dropped: u64,
    pub rebirths: u64,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
}

/// What the park knows: every node heard from, by (group, node).
#[derive(Debug, Default)]
pub struct View {
    pub plants: BTreeMap<(String, String), Plant>,
    pub status: Status,
    /// Nodes heard from without a birth: when their rebirth was last asked.
    unborn: HashMap<(String, String), i64>,
}

/// A rebirth request to send: `spBv1.0/<group>/NCMD/<node>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebirth {
    pub group: String,
    pub node: String,
}

impl Rebirth {
    pub fn topic(&self) -> String {
        format!("spBv1.0/{}/NCMD/{}", self.group, self.node)
    }

    pub fn payload() -> Vec<u8> {
        sparkplug::encode(&sparkplug::Payload {
            timestamp: Some(now_ms() as u64),
            metrics: vec![sparkplug::Metric {
                name: Some("Node Control/Rebirth".into()),
                datatype: Some(sparkplug::datatype::BOOLEAN),
                value: Some(sparkplug::MetricValue::Boolean(true)),
                ..Default::default()
            }],
            ..Default::default()
        })
    }
}

fn fig(v: Val) -> Option<FigVal> {
    match v {
        Val::Number(x) => Some(FigVal::Number(x)),
        Val::Bool(b) => Some(FigVal::Number(if b { 1.0 } else { 0.0 })),
        Val::Text(t) => Some(FigVal::Text(t)),
        Val::Null => None,
    }
}

fn bd_seq_of(p: &sparkplug::Payload) -> Option<u64> {
    p.metrics
        .iter()
        .find(|m| m.name.as_deref() == Some("bdSeq"))
        .and_then(|m| match m.val() {
            Some(Val::Number(x)) if x >= 0.0 => Some(x as u64),
            _ => None,
        })
}

/// Longest metric or tag name kept.
const MAX_NAME: usize = 256;
/// Longest text value kept (a tag's text, a figure); the alarm list and events up to
/// [`MAX_JSON`].
const MAX_TEXT: usize = 4096;
const MAX_JSON: usize = 16 * 1024;
/// Nodes heard from without a birth, remembered for rate-limiting their rebirth requests.
const MAX_UNBORN: usize = 1000;

/// A metric's value if it fits the bounds (`Some(None)`: a null, the value is gone).
fn bounded(m: &sparkplug::Metric, max_text: usize) -> Option<Option<FigVal>> {
    match m.val()? {
        Val::Text(t) if t.len() > max_text => None,
        v => Some(fig(v)),
    }
}

impl View {
    /// Takes one message from the broker; returns the rebirth to ask for, if any.
    pub fn on_message(&mut self, topic: &str, payload: &[u8], now: i64) -> Option<Rebirth> {
        self.status.messages += 1;
        let Some(t) = Topic::parse(topic) else {
            // STATE messages of host applications and anything else under the filter
            return None;
        };
        if matches!(t.kind.as_str(), "NCMD" | "DCMD") {
            return None;
        }
        if t.group.len() > 64
            || t.node.len() > 64
            || t.device.as_ref().is_some_and(|d| d.len() > 64)
        {
            self.status.dropped += 1;
            return None;
        }
        let Some(p) = sparkplug::decode(payload) else {
            self.status.dropped += 1;
            return None;
        };
        // a sequence number is 0–255 (a larger one is a broken or hostile publisher)
        if p.seq.is_some_and(|s| s > 255) {
            self.status.dropped += 1;
            return None;
        }
        let key = (t.group.clone(), t.node.clone());
        if t.kind == "NBIRTH" && t.device.is_none() {
            return self.birth(key, &p, now);
        }
        let Some(plant) = self.plants.get_mut(&key) else {
            // never born here: only a birth makes a plant (so junk cannot take the slots);
            // its data asks for one
            return match t.kind.as_str() {
                "NDEATH" | "DDEATH" => None,
                _ => self.ask_unborn(key, now),
            };
        };
        plant.last_seen_ms = now;
        if t.kind == "NDEATH" && t.device.is_none() {
            // a death of an older session (its will delivered late) is not this one's
            if bd_seq_of(&p) == plant.bd_seq {
                plant.online = false;
                plant.offline_since_ms = Some(now);
                plant.next_seq = None;
            }
            return None;
        }
        // everything else belongs to the session whose birth this side saw, in order
        let in_order = match (plant.next_seq, p.seq) {
            (Some(want), Some(got)) => want == got,
            _ => false,
        };
        if !plant.online || !in_order {
            return self.ask(key, now);
        }
        plant.next_seq = p.seq.map(|s| (s + 1) % 256);
        // node-level data carries nothing the park shows
        let device = t.device?;
        let mut unknown = false;
        let mut dropped = 0u64;
        match (t.kind.as_str(), device.as_str()) {
            ("DDEATH", "summary") => plant.figures.clear(),
            ("DDEATH", area) => {
                // the device is gone: its values are not current any more
                plant.areas.remove(area);
                plant.aliases.retain(|_, d| d != area);
            }
            ("DBIRTH" | "DDATA", "summary") => {
                if t.kind == "DBIRTH" {
                    // a birth carries every figure: one no longer sent goes
                    plant.figures.clear();
                }
                for m in &p.metrics {
                    // a replayed backlog (historical) is not the plant's state now
                    if m.is_historical == Some(true) {
                        continue;
                    }
                    let Some(n) = m.name.as_ref().filter(|n| n.len() <= MAX_NAME) else {
                        continue;
                    };
                    let max = if n == "alarms/list" {
                        MAX_JSON
                    } else {
                        MAX_TEXT
                    };
                    match bounded(m, max) {
                        Some(None) => {
                            plant.figures.remove(n);
                        }
                        Some(Some(v))
                            if plant.figures.contains_key(n) || plant.figures.len() < 1000 =>
                        {
                            plant.figures.insert(n.clone(), v);
                        }
                        _ => dropped += 1,
                    }
                }
            }
            ("DBIRTH" | "DDATA", "alarms") => {
                for m in &p.metrics {
                    if m.name.as_deref() != Some("Alarm") {
                        continue;
                    }
                    match m.val() {
                        Some(Val::Text(j)) if j.len() <= MAX_JSON => {
                            if let Ok(e) = serde_json::from_str::<serde_json::Value>(&j) {
                                // newest first, by when it happened (a replayed backlog
                                // comes after what is current)
                                let ts = |e: &serde_json::Value| e["ts_ms"].as_i64().unwrap_or(0);
                                let at = plant
                                    .events
                                    .iter()
                                    .position(|x| ts(x) <= ts(&e))
                                    .unwrap_or(plant.events.len());
                                plant.events.insert(at, e);
                                plant.events.truncate(MAX_EVENTS);
                            }
                        }
                        _ => dropped += 1,
                    }
                }
            }
            ("DBIRTH", area) => {
                // a birth declares the device's tags anew
                plant.areas.remove(area);
                plant.aliases.retain(|_, d| d != area);
                let mut count = plant.tag_count();
                let mut tags = BTreeMap::new();
                for m in &p.metrics {
                    let (Some(n), Some(a)) = (&m.name, m.alias) else {
                        continue;
                    };
                    let value = bounded(m, MAX_TEXT);
                    if n.len() > MAX_NAME
                        || value.is_none()
                        || count >= MAX_TAGS
                        || plant.aliases.contains_key(&a)
                    {
                        dropped += 1;
                        continue;
                    }
                    count += 1;
                    plant.aliases.insert(a, area.to_string());
                    tags.insert(
                        a,
                        TagValue {
                            name: n.clone(),
                            value: value.flatten(),
                            ts_ms: m.timestamp.map_or(now, |t| t.min(i64::MAX as u64) as i64),
                        },
                    );
                }
                if !tags.is_empty() {
                    plant.areas.insert(area.to_string(), tags);
                }
            }
            ("DDATA", area) => {
                for m in &p.metrics {
                    let Some(a) = m.alias else { continue };
                    let slot = plant
                        .aliases
                        .get(&a)
                        .filter(|d| d.as_str() == area)
                        .and_then(|d| plant.areas.get_mut(d))
                        .and_then(|tags| tags.get_mut(&a));
                    let Some(v) = slot else {
                        unknown = true;
                        continue;
                    };
                    let ts = m.timestamp.map_or(now, |t| t.min(i64::MAX as u64) as i64);
                    // a replayed backlog, or a value older than the one shown, is not current
                    if m.is_historical == Some(true) || ts < v.ts_ms {
                        continue;
                    }
                    match bounded(m, MAX_TEXT) {
                        Some(value) => {
                            v.value = value;
                            v.ts_ms = ts;
                        }
                        None => dropped += 1,
                    }
                }
            }
            _ => {}
        }
        self.status.dropped += dropped;
        if unknown { self.ask(key, now) } else { None }
    }

    /// An NBIRTH: the plant's new session. One without its bdSeq or sequence number is
    /// refused (the spec requires both; without them deaths and gaps cannot be judged).
    fn birth(
        &mut self,
        key: (String, String),
        p: &sparkplug::Payload,
        now: i64,
    ) -> Option<Rebirth> {
        let (Some(bd), Some(seq)) = (bd_seq_of(p), p.seq) else {
            self.status.dropped += 1;
            return None;
        };
        if !self.plants.contains_key(&key) {
            if self.plants.len() >= MAX_BOXES {
                // full: the plant offline longest makes room
                let oldest = self
                    .plants
                    .iter()
                    .filter(|(_, p)| !p.online)
                    .min_by_key(|(_, p)| p.offline_since_ms.unwrap_or(i64::MIN))
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => {
                        self.plants.remove(&k);
                    }
                    None => {
                        self.status.dropped += 1;
                        return None;
                    }
                }
            }
            self.unborn.remove(&key);
            self.plants
                .insert(key.clone(), Plant::new(&key.0, &key.1, now));
        }
        let plant = self.plants.get_mut(&key).expect("inserted above");
        plant.last_seen_ms = now;
        plant.online = true;
        plant.born_ms = Some(now);
        plant.offline_since_ms = None;
        plant.bd_seq = Some(bd);
        plant.aliases.clear();
        plant.areas.clear();
        // the summary's birth follows; until then nothing of the last session passes as now
        plant.figures.clear();
        plant.next_seq = Some((seq + 1) % 256);
        None
    }

    fn ask(&mut self, key: (String, String), now: i64) -> Option<Rebirth> {
        let plant = self.plants.get_mut(&key)?;
        if now.saturating_sub(plant.asked_ms) < REBIRTH_EVERY_MS {
            return None;
        }
        plant.asked_ms = now;
        plant.rebirths += 1;
        self.status.rebirths += 1;
        Some(Rebirth {
            group: key.0,
            node: key.1,
        })
    }

    /// A rebirth for a node heard from but never born here, at most every 10 s per node;
    /// the nodes remembered for that are bounded.
    fn ask_unborn(&mut self, key: (String, String), now: i64) -> Option<Rebirth> {
        if let Some(at) = self.unborn.get(&key)
            && now.saturating_sub(*at) < REBIRTH_EVERY_MS
        {
            return None;
        }
        if self.unborn.len() >= MAX_UNBORN {
            self.unborn.clear();
        }
        self.unborn.insert(key.clone(), now);
        self.status.rebirths += 1;
        Some(Rebirth {
            group: key.0,
            node: key.1,
        })
    }

    /// The broker connection is gone: nobody can say the plants are online.
    fn lost(&mut self, now: i64) {
        self.status.connected = false;
        for p in self.plants.values_mut() {
            if p.online {
                p.online = false;
                p.offline_since_ms = Some(now);
            }
            p.next_seq = None;
        }
    }

    /// Back on the broker: every plant known is asked for its state again (a quiet one
    /// would otherwise stay offline until it next publishes).
    fn reconnected(&mut self, now: i64) -> Vec<Rebirth> {
        self.status.connected = true;
        let keys: Vec<(String, String)> = self.plants.keys().cloned().collect();
        keys.into_iter().filter_map(|k| self.ask(k, now)).collect()
    }
}

/// The running subscriber and what it has heard.
pub struct Park {
    store: Arc<Store>,
    rt: tokio::runtime::Handle,
    view: Arc<Mutex<View>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Park {
    pub fn new(store: Arc<Store>, rt: tokio::runtime::Handle) -> Park {
        Park {
            store,
            rt,
            view: Arc::default(),
            task: Mutex::new(None),
        }
    }

    /// Runs `f` on the view (under its lock: keep it short).
    pub fn with<T>(&self, f: impl FnOnce(&View) -> T) -> T {
        f(&self.view.lock().expect("park lock is never poisoned"))
    }

    /// (Re)starts the subscriber from the stored configuration; stops it when disabled.
    /// The plants remembered (of the groups followed) are shown offline until their boxes
    /// answer the rebirth requests.
    pub fn reload(&self) -> Result<()> {
        let cfg = config(&self.store.read()?)?;
        let mut task = self.task.lock().expect("park task lock is never poisoned");
        if let Some(t) = task.take() {
            t.abort();
            // what was heard since the last minute's note is kept too
            remember(&self.store, &self.view)?;
        }
        let mut view = View::default();
        for (_, k) in self.store.read()?.all(&PLANTS)? {
            if !cfg.groups.is_empty() && !cfg.groups.contains(&k.group) {
                continue;
            }
            let mut p = Plant::new(&k.group, &k.node, k.last_seen_ms);
            p.figures = k.figures;
            p.offline_since_ms = Some(k.offline_since_ms.unwrap_or(k.last_seen_ms));
            view.plants.insert((k.group, k.node), p);
        }
        *self.view.lock().expect("park lock is never poisoned") = view;
        if cfg.enabled {
            let password = self
                .store
                .sealer()
                .ok()
                .and_then(|s| s.reveal(&cfg.password));
            let (view, store) = (self.view.clone(), self.store.clone());
            *task = Some(self.rt.spawn(async move {
                let keeper = tokio::spawn(keep(store, view.clone()));
                let _keeper = crate::util::AbortOnDrop(keeper);
                follow(cfg, password, view).await
            }));
        }
        Ok(())
    }

    /// Stops the subscriber and writes down the plants heard from (at shutdown).
    pub fn stop(&self) {
        if let Some(t) = self
            .task
            .lock()
            .expect("park task lock is never poisoned")
            .take()
        {
            t.abort();
            if let Err(e) = remember(&self.store, &self.view) {
                tracing::warn!(error = %e, "park: plants not written down");
            }
        }
    }

    /// Forgets a plant (a box taken out of service): gone from the board until its box
    /// publishes a birth again. Audited.
    pub fn forget(&self, actor: &Actor, group: &str, node: &str) -> Result<()> {
        let key = (group.to_string(), node.to_string());
        let gone = self
            .view
            .lock()
            .expect("park lock is never poisoned")
            .plants
            .remove(&key);
        let mut w = self.store.write(actor)?;
        let stored = w.remove(&PLANTS, &known_key(group, node))?;
        if gone.is_none() && stored.is_none() {
            w.abort()?;
            return Err(Error::not_found("park.err.unknown"));
        }
        w.audit(
            "park.plant.forget",
            format!("{group}/{node}"),
            Change::deleted(serde_json::json!({"group": group, "node": node})),
        );
        w.commit()?;
        Ok(())
    }
}

/// Writes down every plant heard from (replacing what was written before).
fn remember(store: &Store, view: &Mutex<View>) -> Result<()> {
    let known: Vec<Known> = view
        .lock()
        .expect("park lock is never poisoned")
        .plants
        .values()
        .map(|p| Known {
            group: p.group.clone(),
            node: p.node.clone(),
            figures: p.figures.clone(),
            last_seen_ms: p.last_seen_ms,
            offline_since_ms: p.offline_since_ms,
        })
        .collect();
    let mut w = store.write(&Actor::system("park"))?;
    let keep: std::collections::HashSet<String> =
        known.iter().map(|k| known_key(&k.group, &k.node)).collect();
    for (k, _) in w.all(&PLANTS)? {
        if !keep.contains(&k) {
            w.remove(&PLANTS, &k)?;
        }
    }
    for k in &known {
        w.insert(&PLANTS, &known_key(&k.group, &k.node), k)?;
    }
    w.commit()?;
    Ok(())
}

/// Writes the plants down every minute while following.
async fn keep(store: Arc<Store>, view: Arc<Mutex<View>>) {
    let mut tick = tokio::time::interval(REMEMBER_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let (s, v) = (store.clone(), view.clone());
        match tokio::task::spawn_blocking(move || remember(&s, &v)).await {
            Ok(Err(e)) => tracing::warn!(error = %e, "park: plants not written down"),
            Err(e) => tracing::warn!(error = %e, "park: plants not written down"),
            Ok(Ok(())) => {}
        }
    }
}

fn record_error(view: &Mutex<View>, why: &str) {
    let mut v = view.lock().expect("park lock is never poisoned");
    v.status.last_error = Some(why.to_string());
    v.status.last_error_ms = Some(now_ms());
}

/// Keeps a session with the park's broker and feeds the view.
async fn follow(cfg: Config, password: Option<String>, view: Arc<Mutex<View>>) {
    let mut opts = crate::mqtt::options(&crate::mqtt::Broker {
        client_id: if cfg.client_id.is_empty() {
            "nplusx-park".into()
        } else {
            cfg.client_id.clone()
        },
        host: &cfg.host,
        port: cfg.port,
        tls: cfg.tls,
        username: &cfg.username,
        password,
        keep_alive_s: 30,
    });
    opts.set_clean_session(true);
    // Sparkplug 3.0 host state: retained online message, the will says offline (same
    // timestamp); edge nodes that name this host as their primary can follow it
    let host_id = if cfg.client_id.is_empty() {
        "nplusx-park".to_string()
    } else {
        cfg.client_id.clone()
    };
    let state_topic = format!("spBv1.0/STATE/{host_id}");
    let state_ts = now_ms();
    let state = |online: bool| format!(r#"{{"online":{online},"timestamp":{state_ts}}}"#);
    opts.set_last_will(rumqttc::LastWill::new(
        &state_topic,
        state(false),
        QoS::AtLeastOnce,
        true,
    ));
    let (client, events) = AsyncClient::new(opts, 256);
    // the pump reconnects (1 s doubling to 30 s) and keeps the same client usable
    let (_pump, mut events) = crate::mqtt::pump(events);
    while let Some(ev) = events.recv().await {
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                for f in cfg.filters() {
                    let _ = client.subscribe(f, QoS::AtMostOnce).await;
                }
                let _ = client
                    .publish(&state_topic, QoS::AtLeastOnce, true, state(true))
                    .await;
                let asks = view
                    .lock()
                    .expect("park lock is never poisoned")
                    .reconnected(now_ms());
                for r in asks {
                    let _ =
                        client.try_publish(r.topic(), QoS::AtMostOnce, false, Rebirth::payload());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let ask = view
                    .lock()
                    .expect("park lock is never poisoned")
                    .on_message(&p.topic, &p.payload, now_ms());
                if let Some(r) = ask {
                    tracing::debug!(group = %r.group, node = %r.node, "asking a plant's box for a rebirth");
                    // never wait on a full request queue while holding the session
                    let _ =
                        client.try_publish(r.topic(), QoS::AtMostOnce, false, Rebirth::payload());
                }
            }
            Ok(_) => {}
            Err(e) => {
                view.lock()
                    .expect("park lock is never poisoned")
                    .lost(now_ms());
                record_error(&view, &e);
                tracing::debug!(error = %e, "park broker unreachable");
            }
        }
    }
}

#[cfg(test)]
mod tests;
