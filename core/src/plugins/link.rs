//! Plugins' outbound MQTT channels (`link`, contract 0.3; capability `link`, dangerous): the
//! box connects out to a broker the plugin names (a vendor's, for remote maintenance),
//! subscribes to the plugin's topics and hands each message to the plugin as a `link.message`
//! event. Every message in and out, and the channel's opening and closing, is audited with its
//! topic and payload; the channel closes with the plugin.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Packet, QoS};

use super::instance::Call;
use super::runtime::{Guest, wit};
use crate::app::App;

/// Messages a channel takes in a minute; more are dropped (and counted in the log).
pub const IN_PER_MINUTE: u32 = 120;
/// Largest payload either way.
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// Payload text kept in an audit entry.
const AUDIT_TEXT: usize = 4096;

/// An open channel. Dropping it stops its connection at once; [`Link::shut`] says goodbye
/// to the broker first.
pub struct Link {
    client: AsyncClient,
    connected: Arc<AtomicBool>,
    address: String,
    _task: crate::util::AbortOnDrop,
}

impl Link {
    /// Disconnects (the broker sees a clean goodbye) and stops the connection.
    pub fn shut(self) -> String {
        let _ = self.client.try_disconnect();
        std::thread::sleep(Duration::from_millis(50));
        self.address.clone()
    }
}

/// Writes an audit entry; false when it could not be written (the message is then neither
/// delivered nor sent: nothing crosses the channel unrecorded).
fn audit(app: &App, plugin: &str, action: &str, data: serde_json::Value) -> bool {
    let done = app
        .store
        .write(&crate::store::Actor::system(&format!("plugin:{plugin}")))
        .and_then(|mut w| {
            w.audit(
                action,
                format!("plugin:{plugin}"),
                crate::store::Change::created(data),
            );
            w.commit()
        });
    if let Err(e) = &done {
        tracing::error!(plugin, action, error = %e, "link message not audited");
    }
    done.is_ok()
}

/// What the audit keeps of a message: its topic, size, SHA-256 and text (the first 4 KiB).
fn record(topic: &str, payload: &[u8]) -> serde_json::Value {
    use sha2::Digest;
    serde_json::json!({
        "topic": topic, "bytes": payload.len(),
        "sha256": hex::encode(sha2::Sha256::digest(payload)),
        "payload": text(payload),
    })
}

fn text(payload: &[u8]) -> String {
    let t = String::from_utf8_lossy(payload);
    t.chars().take(AUDIT_TEXT).collect()
}

fn address(a: &str) -> Option<(&str, u16)> {
    let (host, port) = a.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c));
    ok.then_some((host, port))
}

fn topic_ok(t: &str) -> bool {
    !t.is_empty() && t.len() <= 200 && !t.contains(['+', '#', '\0']) && !t.starts_with('/')
}

/// `link.open`.
pub fn open(
    g: &mut Guest,
    broker: super::runtime::nplusx::plugin::link::Broker,
    topics: Vec<String>,
) -> Result<(), wit::Error> {
    g.allow("link")?;
    g.rate("link open", 10)?;
    let Some((host, port)) = address(broker.address.trim()) else {
        return Err(wit::Error::Invalid(format!(
            "address {:?}: host:port",
            broker.address
        )));
    };
    if topics.is_empty()
        || topics.len() > 20
        || !topics.iter().all(|t| crate::mqtt::valid_filter(t))
    {
        return Err(wit::Error::Invalid(
            "topics: 1–20 subscription filters".into(),
        ));
    }
    let client_id = if broker.client_id.is_empty() {
        format!("nplusx-{}", g.id)
    } else {
        broker.client_id.clone()
    };
    if client_id.len() > 64 || client_id.contains('\0') {
        return Err(wit::Error::Invalid("client-id: 1–64 characters".into()));
    }
    let app = g.app()?;
    // only the broker the admin set in the plugin's settings (`broker`)
    let allowed = super::store::installed(
        &app.store
            .read()
            .map_err(|e| wit::Error::Failed(e.to_string()))?,
    )
    .map_err(|e| wit::Error::Failed(e.to_string()))?
    .into_iter()
    .find(|p| p.id == g.id)
    .and_then(|p| p.settings.get("broker").cloned())
    .unwrap_or_default();
    if allowed.trim() != broker.address.trim() {
        return Err(wit::Error::Denied(format!(
            "{:?} is not the broker the admin set for this plugin (its setting `broker`)",
            broker.address
        )));
    }
    let io = app
        .io()
        .ok_or_else(|| wit::Error::Failed("the box is shutting down".into()))?;
    let calls = g
        .shared
        .calls
        .lock()
        .expect("lock is never poisoned")
        .clone()
        .ok_or_else(|| wit::Error::Failed("the plugin is not running".into()))?;
    close(g)?;
    let mut opts = crate::mqtt::options(&crate::mqtt::Broker {
        client_id,
        host,
        port,
        tls: broker.tls,
        username: &broker.username,
        password: Some(broker.password.clone()).filter(|p| !p.is_empty()),
        keep_alive_s: 30,
    });
    opts.set_max_packet_size(MAX_PAYLOAD + 1024, MAX_PAYLOAD + 1024);
    let (client, events) = AsyncClient::new(opts, 64);
    // asked before anything the plugin publishes, so the subscription is in place when the
    // other side hears from the box (a clean session loses it: asked again on a reconnect)
    for t in &topics {
        client
            .try_subscribe(t, QoS::AtLeastOnce)
            .map_err(|e| wit::Error::Failed(e.to_string()))?;
    }
    let connected = Arc::new(AtomicBool::new(false));
    let task = {
        let (client, connected, id, weak) = (
            client.clone(),
            connected.clone(),
            g.id.clone(),
            Arc::downgrade(&app),
        );
        io.spawn(async move {
            let (_pump, mut rx) = crate::mqtt::pump(events);
            let mut minute = (0_i64, 0_u32);
            let mut first = true;
            while let Some(ev) = rx.recv().await {
                match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected.store(true, Ordering::Relaxed);
                        if !first {
                            for t in &topics {
                                let _ = client.subscribe(t, QoS::AtLeastOnce).await;
                            }
                        }
                        first = false;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let Some(app) = weak.upgrade() else { return };
                        let now = crate::util::now_ms();
                        if minute.0 != now / 60_000 {
                            minute = (now / 60_000, 0);
                        }
                        minute.1 += 1;
                        let log = app.plugins.log_of(&id);
                        if p.retain {
                            // a retained request would run again at every reconnect
                            log.push_host(
                                "warn",
                                &format!("link: a retained message on {} dropped", p.topic),
                            );
                            continue;
                        }
                        if minute.1 > IN_PER_MINUTE || p.payload.len() > MAX_PAYLOAD {
                            log.push_host(
                                "warn",
                                &format!(
                                    "link: a message on {} dropped (over 120 a minute or 64 KiB)",
                                    p.topic
                                ),
                            );
                            continue;
                        }
                        let (a, who) = (app.clone(), id.clone());
                        let audited = record(&p.topic, &p.payload);
                        let recorded = tokio::task::spawn_blocking(move || {
                            audit(&a, &who, "plugins.link.in", audited)
                        })
                        .await
                        .unwrap_or(false);
                        if !recorded {
                            log.push_host(
                                "error",
                                &format!(
                                    "link: a message on {} could not be audited; dropped",
                                    p.topic
                                ),
                            );
                            continue;
                        }
                        let Ok(payload) = std::str::from_utf8(&p.payload) else {
                            log.push_host(
                                "warn",
                                &format!(
                                    "link: a message on {} is not UTF-8 text; dropped",
                                    p.topic
                                ),
                            );
                            continue;
                        };
                        let e = wit::Event {
                            kind: "link.message".into(),
                            source: "link".into(),
                            ts_ms: now,
                            data: serde_json::json!({ "topic": p.topic, "payload": payload })
                                .to_string(),
                        };
                        if calls.try_send(Call::Event(e)).is_err() {
                            log.push_host("warn", "link: the plugin is busy; a message dropped");
                        }
                    }
                    Ok(_) => {}
                    Err(_) => connected.store(false, Ordering::Relaxed),
                }
            }
        })
    };
    audit(
        &app,
        &g.id,
        "plugins.link.open",
        serde_json::json!({ "address": broker.address, "tls": broker.tls }),
    );
    let link = Link {
        client,
        connected,
        address: broker.address,
        _task: crate::util::AbortOnDrop(task),
    };
    // the instance may have been stopped meanwhile (`Handle::stop` takes `calls`, then the
    // link): then this channel closes at once instead of outliving it
    let mut slot = g.shared.link.lock().expect("lock is never poisoned");
    if g.shared
        .calls
        .lock()
        .expect("lock is never poisoned")
        .is_none()
    {
        drop(slot);
        link.shut();
        return Err(wit::Error::Failed("the plugin is stopping".into()));
    }
    *slot = Some(link);
    Ok(())
}

/// `link.publish`.
pub fn publish(g: &mut Guest, topic: &str, payload: &[u8]) -> Result<(), wit::Error> {
    g.allow("link")?;
    if !topic_ok(topic) {
        return Err(wit::Error::Invalid(
            "topic: 1–200 characters, no wildcards, not starting with /".into(),
        ));
    }
    if payload.len() > MAX_PAYLOAD {
        return Err(wit::Error::Invalid("payload is at most 64 KiB".into()));
    }
    g.rate("link publish", 120)?;
    let app = g.app()?;
    if g.shared
        .link
        .lock()
        .expect("lock is never poisoned")
        .is_none()
    {
        return Err(wit::Error::Failed("no channel is open".into()));
    }
    if !audit(&app, &g.id, "plugins.link.out", record(topic, payload)) {
        return Err(wit::Error::Failed(
            "the message could not be audited, so it was not sent".into(),
        ));
    }
    {
        let link = g.shared.link.lock().expect("lock is never poisoned");
        let l = link
            .as_ref()
            .ok_or_else(|| wit::Error::Failed("no channel is open".into()))?;
        l.client
            .try_publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
            .map_err(|e| wit::Error::Failed(format!("not sent: {e}")))?;
    }
    Ok(())
}

/// `link.connected`.
pub fn connected(g: &mut Guest) -> Result<bool, wit::Error> {
    g.allow("link")?;
    Ok(g.shared
        .link
        .lock()
        .expect("lock is never poisoned")
        .as_ref()
        .is_some_and(|l| l.connected.load(Ordering::Relaxed)))
}

/// `link.close` (and before `open` replaces a channel).
pub fn close(g: &mut Guest) -> Result<(), wit::Error> {
    g.allow("link")?;
    let old = g.shared.link.lock().expect("lock is never poisoned").take();
    if let Some(l) = old {
        let address = l.shut();
        if let Ok(app) = g.app() {
            audit(
                &app,
                &g.id,
                "plugins.link.close",
                serde_json::json!({ "address": address }),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_topics_are_checked() {
        assert_eq!(
            address("broker.vendor.cn:8883"),
            Some(("broker.vendor.cn", 8883))
        );
        assert_eq!(address("127.0.0.1:1883"), Some(("127.0.0.1", 1883)));
        assert_eq!(address("broker"), None);
        assert_eq!(address("broker:0"), None);
        assert_eq!(address("bro ker:1883"), None);
        assert_eq!(address(":1883"), None);
        assert!(topic_ok("vendor/box-1/answers"));
        assert!(!topic_ok("vendor/+/answers") && !topic_ok("/abs") && !topic_ok(""));
    }
}
