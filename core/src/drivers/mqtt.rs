//! The MQTT driver (rumqttc): subscribes to what the device's tags name and turns payloads
//! into samples. JSON payloads are read with a JSON pointer per tag, text payloads are the
//! value, and Sparkplug B edge nodes and devices are followed through their BIRTH, DATA and
//! DEATH messages (aliases learnt from births; data with an unknown alias asks the node for
//! a rebirth).
//!
//! A malformed payload marks the tags it was meant for bad (`bad_value`) and counts as an
//! error; a death or a lost connection marks them `comm_failure`. Nothing else stops.
//! Subscriptions follow tag changes without a reconnect.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Packet, QoS};

use super::{Status, record_error, set_status};
use crate::secrets::Sealer;
use crate::sparkplug::{self, Val};
use crate::tags::engine::{Defs, Engine};
use crate::tags::model::{
    DataType, DriverConfig, PayloadFormat, Quality, Reason, Sample, Source, Tag, Value,
};
use crate::util::now_ms;

/// The device's tags by what they listen to.
#[derive(Default)]
struct Routes {
    /// JSON and text tags: (filter, format, path, tag).
    plain: Vec<(String, PayloadFormat, String, u32)>,
    /// Sparkplug tags: identity → metric name → tags.
    sparkplug: HashMap<String, HashMap<String, Vec<u32>>>,
}

impl Routes {
    fn new(defs: &Defs, device: u32) -> Routes {
        let mut r = Routes::default();
        for t in defs.iter() {
            let Source::Mqtt {
                device: d,
                topic,
                format,
                path,
            } = &t.source
            else {
                continue;
            };
            if *d != device {
                continue;
            }
            match format {
                PayloadFormat::SparkplugB => r
                    .sparkplug
                    .entry(topic.clone())
                    .or_default()
                    .entry(path.clone())
                    .or_default()
                    .push(t.id),
                f => r.plain.push((topic.clone(), *f, path.clone(), t.id)),
            }
        }
        r
    }

    /// Every topic filter to subscribe to.
    fn filters(&self) -> HashSet<String> {
        let mut out: HashSet<String> = self.plain.iter().map(|(f, ..)| f.clone()).collect();
        for identity in self.sparkplug.keys() {
            let parts: Vec<&str> = identity.split('/').collect();
            match parts.as_slice() {
                ["spBv1.0", g, n] => {
                    for k in ["NBIRTH", "NDATA", "NDEATH"] {
                        out.insert(format!("spBv1.0/{g}/{k}/{n}"));
                    }
                }
                ["spBv1.0", g, n, d] => {
                    out.insert(format!("spBv1.0/{g}/NDEATH/{n}"));
                    for k in ["DBIRTH", "DDATA", "DDEATH"] {
                        out.insert(format!("spBv1.0/{g}/{k}/{n}/{d}"));
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// Runs one MQTT device until the task is aborted.
pub async fn run(
    engine: Arc<Engine>,
    device: u32,
    config: DriverConfig,
    sealer: Arc<Sealer>,
    status: Status,
) {
    let DriverConfig::Mqtt {
        host,
        port,
        tls,
        username,
        password,
        client_id,
        keep_alive_s,
    } = config
    else {
        return;
    };
    let opts = crate::mqtt::options(&crate::mqtt::Broker {
        client_id: if client_id.is_empty() {
            format!("nplusx-{device}")
        } else {
            client_id
        },
        host: &host,
        port,
        tls,
        username: &username,
        password: sealer.reveal(&password),
        keep_alive_s,
    });
    let (client, events) = AsyncClient::new(opts, 64);
    let (_pump, mut events) = crate::mqtt::pump(events);
    let mut defs = engine.defs();
    let mut routes = Routes::new(&defs, device);
    let mut subscribed: HashSet<String> = HashSet::new();
    let mut connected = false;
    // Sparkplug aliases per edge node / device identity
    let mut aliases: HashMap<String, HashMap<u64, String>> = HashMap::new();
    let mut rebirth_asked: HashSet<String> = HashSet::new();
    let mut check = tokio::time::interval(Duration::from_secs(1));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                None => return,
                Some(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                    connected = true;
                    set_status(&status, |s| s.connected = true);
                    subscribed.clear();
                    aliases.clear();
                    rebirth_asked.clear();
                    sync_subscriptions(&client, &routes, &mut subscribed).await;
                    set_status(&status, |s| s.subscriptions = subscribed.len());
                }
                Some(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    let t = std::time::Instant::now();
                    let topic = p.topic.clone();
                    let batch = if let Some(sp) = sparkplug::Topic::parse(&topic) {
                        on_sparkplug(&client, &routes, &defs, &sp, &p.payload, &mut aliases, &mut rebirth_asked, &status).await
                    } else {
                        on_plain(&routes, &defs, &topic, &p.payload, &status)
                    };
                    if !batch.is_empty() {
                        engine.publish(batch);
                    }
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    set_status(&status, |s| {
                        s.requests += 1;
                        s.latency_ms = if s.requests == 1 { ms } else { s.latency_ms * 0.9 + ms * 0.1 };
                        s.last_ok_ms = Some(now_ms());
                    });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    if connected {
                        tracing::warn!(device, error = %e, "mqtt connection lost; reconnecting");
                    }
                    connected = false;
                    record_error(&status, &e);
                    set_status(&status, |s| s.connected = false);
                    engine.mark_device(device, Quality::Bad(Reason::CommFailure), now_ms());
                }
            },
            _ = check.tick() => {
                let now = engine.defs();
                if !Arc::ptr_eq(&now, &defs) {
                    defs = now;
                    routes = Routes::new(&defs, device);
                    if connected {
                        sync_subscriptions(&client, &routes, &mut subscribed).await;
                        set_status(&status, |s| s.subscriptions = subscribed.len());
                    }
                }
            }
        }
    }
}

async fn sync_subscriptions(
    client: &AsyncClient,
    routes: &Routes,
    subscribed: &mut HashSet<String>,
) {
    let wanted = routes.filters();
    // a few SUBSCRIBE packets, not one request per topic: the client's request queue is
    // short and this task is the one that drains its events
    let new: Vec<rumqttc::SubscribeFilter> = wanted
        .difference(subscribed)
        .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce))
        .collect();
    for chunk in new.chunks(200) {
        let _ = client.subscribe_many(chunk.to_vec()).await;
    }
    for f in subscribed.difference(&wanted) {
        // a topic left subscribed is harmless (its messages match no tag); never block here
        let _ = client.try_unsubscribe(f.clone());
    }
    *subscribed = wanted;
}

fn bad(id: u32, ts: i64, reason: Reason) -> Sample {
    Sample {
        tag: id,
        ts_ms: ts,
        value: None,
        quality: Quality::Bad(reason),
    }
}

/// A decoded value as the tag's type (numbers scaled); `None` if it does not fit.
pub(super) fn convert(t: &Tag, v: &Val) -> Option<Value> {
    let num = |x: f64| t.scaling.map_or(x, |s| s.apply(x));
    match (t.data_type, v) {
        (DataType::String, Val::Text(s)) => Some(Value::Text(s.as_str().into())),
        (DataType::String, Val::Number(x)) => Some(Value::Text(x.to_string().into())),
        (DataType::Bool, Val::Bool(b)) => Some(Value::Bool(*b)),
        (DataType::Bool, Val::Number(x)) => Some(Value::Bool(*x != 0.0)),
        (DataType::Int, Val::Number(x)) if x.is_finite() => {
            Some(Value::Int(num(*x).round() as i64))
        }
        (DataType::Float, Val::Number(x)) if x.is_finite() => Some(Value::Float(num(*x))),
        (DataType::Int | DataType::Float, Val::Bool(b)) => Some(Value::Int(*b as i64)),
        // numbers sent as strings ("23.5") are common from gateways
        (DataType::Int | DataType::Float | DataType::Bool, Val::Text(s)) => convert(
            t,
            &s.trim()
                .parse::<f64>()
                .ok()
                .map(Val::Number)
                .or(match s.trim() {
                    "true" | "on" => Some(Val::Bool(true)),
                    "false" | "off" => Some(Val::Bool(false)),
                    _ => None,
                })?,
        ),
        _ => None,
    }
}

fn sample(t: Option<&Arc<Tag>>, id: u32, v: Option<Val>, ts: i64) -> Sample {
    match (t, v) {
        (_, Some(Val::Null)) => bad(id, ts, Reason::BadValue),
        (Some(t), Some(v)) => match convert(t, &v) {
            Some(value) => Sample {
                tag: id,
                ts_ms: ts,
                value: Some(value),
                quality: Quality::Good,
            },
            None => bad(id, ts, Reason::BadValue),
        },
        _ => bad(id, ts, Reason::BadValue),
    }
}

fn json_val(v: &serde_json::Value) -> Option<Val> {
    Some(match v {
        serde_json::Value::Number(n) => Val::Number(n.as_f64()?),
        serde_json::Value::Bool(b) => Val::Bool(*b),
        serde_json::Value::String(s) => Val::Text(s.clone()),
        serde_json::Value::Null => Val::Null,
        _ => return None,
    })
}

/// JSON and text payloads.
fn on_plain(
    routes: &Routes,
    defs: &Defs,
    topic: &str,
    payload: &[u8],
    status: &Status,
) -> Vec<Sample> {
    let ts = now_ms();
    let hits: Vec<&(String, PayloadFormat, String, u32)> = routes
        .plain
        .iter()
        .filter(|(f, ..)| crate::mqtt::matches(f, topic))
        .collect();
    if hits.is_empty() {
        return Vec::new();
    }
    let json: Option<Result<serde_json::Value, String>> = hits
        .iter()
        .any(|h| h.1 == PayloadFormat::Json)
        .then(|| serde_json::from_slice(payload).map_err(|e| e.to_string()));
    if let Some(Err(e)) = &json {
        record_error(status, &format!("{topic}: not JSON: {e}"));
    }
    let text = std::str::from_utf8(payload).ok().map(str::trim);
    hits.into_iter()
        .map(|(_, format, path, id)| {
            let v = match format {
                PayloadFormat::Json => match &json {
                    Some(Ok(doc)) => {
                        let found = doc.pointer(path).and_then(json_val);
                        if found.is_none() {
                            record_error(status, &format!("{topic}: nothing usable at {path:?}"));
                        }
                        found
                    }
                    _ => None,
                },
                _ => text.map(|s| Val::Text(s.to_string())),
            };
            let had = v.is_some();
            let s = sample(defs.get(*id), *id, v, ts);
            if had && s.value.is_none() {
                record_error(
                    status,
                    &format!("{topic}: the value at {path:?} does not fit the tag's type"),
                );
            }
            s
        })
        .collect()
}

/// Sparkplug B births, data and deaths.
#[allow(clippy::too_many_arguments)]
async fn on_sparkplug(
    client: &AsyncClient,
    routes: &Routes,
    defs: &Defs,
    topic: &sparkplug::Topic,
    payload: &[u8],
    aliases: &mut HashMap<String, HashMap<u64, String>>,
    rebirth_asked: &mut HashSet<String>,
    status: &Status,
) -> Vec<Sample> {
    let identity = topic.identity();
    let now = now_ms();
    let tags_of = |identity: &str| -> Vec<u32> {
        routes
            .sparkplug
            .get(identity)
            .map(|m| m.values().flatten().copied().collect())
            .unwrap_or_default()
    };
    if topic.kind == "NDEATH" || topic.kind == "DDEATH" {
        // a node's death takes its devices with it
        let prefix = format!("{identity}/");
        return routes
            .sparkplug
            .keys()
            .filter(|k| **k == identity || (topic.kind == "NDEATH" && k.starts_with(&prefix)))
            .flat_map(|k| tags_of(k))
            .map(|id| bad(id, now, Reason::CommFailure))
            .collect();
    }
    let Some(p) = sparkplug::decode(payload) else {
        record_error(
            status,
            &format!("{}: not a Sparkplug B payload", topic.identity()),
        );
        return tags_of(&identity)
            .into_iter()
            .map(|id| bad(id, now, Reason::BadValue))
            .collect();
    };
    let Some(metrics) = routes.sparkplug.get(&identity) else {
        return Vec::new();
    };
    let birth = topic.kind.ends_with("BIRTH");
    let known = aliases.entry(identity.clone()).or_default();
    if birth {
        known.clear();
        rebirth_asked.remove(&identity);
    }
    let mut out = Vec::new();
    let mut unknown_alias = false;
    for m in &p.metrics {
        if birth && let (Some(name), Some(alias)) = (&m.name, m.alias) {
            known.insert(alias, name.clone());
        }
        let name = match (&m.name, m.alias) {
            (Some(n), _) => n.clone(),
            (None, Some(a)) => match known.get(&a) {
                Some(n) => n.clone(),
                None => {
                    unknown_alias = true;
                    continue;
                }
            },
            (None, None) => continue,
        };
        let Some(ids) = metrics.get(&name) else {
            continue;
        };
        let ts = m.timestamp.or(p.timestamp).map_or(now, |t| t as i64);
        for id in ids {
            out.push(sample(defs.get(*id), *id, m.val(), ts));
        }
    }
    if unknown_alias && rebirth_asked.insert(identity.clone()) {
        // data before its birth (we joined late): ask the edge node to send births again
        let rebirth = sparkplug::Payload {
            timestamp: Some(now as u64),
            metrics: vec![sparkplug::Metric {
                name: Some("Node Control/Rebirth".into()),
                datatype: Some(sparkplug::datatype::BOOLEAN),
                value: Some(sparkplug::MetricValue::Boolean(true)),
                ..Default::default()
            }],
            ..Default::default()
        };
        let ncmd = format!("spBv1.0/{}/NCMD/{}", topic.group, topic.node);
        let _ = client
            .publish(ncmd, QoS::AtLeastOnce, false, sparkplug::encode(&rebirth))
            .await;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::model::Scaling;

    fn tag(id: u32, data_type: DataType, topic: &str, format: PayloadFormat, path: &str) -> Tag {
        let mut t = crate::tags::service::blank_tag(
            &format!("T{id}"),
            data_type,
            Source::Mqtt {
                device: 1,
                topic: topic.into(),
                format,
                path: path.into(),
            },
        );
        t.id = id;
        t
    }

    #[test]
    fn json_and_text_payloads_map_to_tags_and_bad_ones_mark_them() {
        let mut scaled = tag(
            3,
            DataType::Float,
            "plant/+/ai",
            PayloadFormat::Json,
            "/raw",
        );
        scaled.scaling = Some(Scaling {
            raw_lo: 4.0,
            raw_hi: 20.0,
            eng_lo: 0.0,
            eng_hi: 100.0,
        });
        let defs = Defs::new(vec![
            tag(
                1,
                DataType::Float,
                "plant/r101",
                PayloadFormat::Json,
                "/temp",
            ),
            tag(2, DataType::Bool, "plant/r101", PayloadFormat::Json, "/run"),
            scaled,
            tag(4, DataType::Float, "plant/level", PayloadFormat::Text, ""),
        ]);
        let routes = Routes::new(&defs, 1);
        let status = Status::default();
        let s = on_plain(
            &routes,
            &defs,
            "plant/r101",
            br#"{"temp": 85.5, "run": true}"#,
            &status,
        );
        assert_eq!(
            s.iter().map(|s| s.value.clone()).collect::<Vec<_>>(),
            [Some(Value::Float(85.5)), Some(Value::Bool(true))]
        );
        let s = on_plain(&routes, &defs, "plant/x/ai", br#"{"raw": 12}"#, &status);
        assert_eq!(s[0].value, Some(Value::Float(50.0)));
        let s = on_plain(&routes, &defs, "plant/level", b" 63.2 ", &status);
        assert_eq!(s[0].value, Some(Value::Float(63.2)));
        // malformed JSON, a missing field, a non-number: bad, counted, nothing stored
        let s = on_plain(&routes, &defs, "plant/r101", b"{temp: 85", &status);
        assert!(
            s.iter()
                .all(|s| s.quality == Quality::Bad(Reason::BadValue) && s.value.is_none())
        );
        let s = on_plain(&routes, &defs, "plant/r101", br#"{"temp": "hot"}"#, &status);
        assert!(
            s.iter()
                .all(|s| s.quality == Quality::Bad(Reason::BadValue))
        );
        let s = on_plain(&routes, &defs, "plant/level", b"n/a", &status);
        assert_eq!(s[0].quality, Quality::Bad(Reason::BadValue));
        assert!(status.lock().unwrap().errors >= 3);
        assert!(on_plain(&routes, &defs, "other/topic", b"1", &status).is_empty());
    }
}
