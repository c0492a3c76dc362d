//! What the MQTT driver (`drivers::mqtt`) and the northbound publisher share: client options
//! with TLS (rustls, ring, the system's certificate authorities) and topic-filter matching.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};

/// Where and how to reach a broker.
pub struct Broker<'a> {
    pub client_id: String,
    pub host: &'a str,
    pub port: u16,
    pub tls: bool,
    pub username: &'a str,
    pub password: Option<String>,
    pub keep_alive_s: u16,
}

/// The TLS setup for brokers: the system's certificate authorities, TLS 1.2 and 1.3.
fn tls_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

pub fn options(b: &Broker) -> MqttOptions {
    let mut o = MqttOptions::new(b.client_id.clone(), b.host, b.port);
    o.set_keep_alive(Duration::from_secs(b.keep_alive_s.clamp(5, 3600) as u64));
    // gateways publish large JSON documents and Sparkplug births; 1 MiB either way
    o.set_max_packet_size(1 << 20, 1 << 20);
    if !b.username.is_empty() {
        o.set_credentials(b.username, b.password.clone().unwrap_or_default());
    }
    if b.tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(tls_config()),
        )));
    }
    o
}

/// A host name or address a device or broker is reached at.
pub fn check_host(host: &str) -> crate::error::Result<()> {
    let h = host.trim();
    if h.is_empty() || h.len() > 253 || h.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(crate::error::Error::invalid("host", "tags.err.host"));
    }
    Ok(())
}

/// A broker's address: host and port.
pub fn check_broker(host: &str, port: u16) -> crate::error::Result<()> {
    check_host(host)?;
    if port == 0 {
        return Err(crate::error::Error::invalid("port", "tags.err.port"));
    }
    Ok(())
}

/// A client id: at most 64 of `A-Z a-z 0-9 - _ .` (empty: the box's default).
pub fn check_client_id(id: &str) -> crate::error::Result<()> {
    if id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(crate::error::Error::invalid(
            "client_id",
            "tags.err.client_id",
        ));
    }
    Ok(())
}

/// Whether `topic` matches the subscription `filter` (`+` one level, `#` the rest).
pub fn matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether `s` is a valid subscription filter (`#` only last, wildcards whole levels).
pub fn valid_filter(s: &str) -> bool {
    if s.is_empty() || s.len() > 512 || s.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = s.split('/').collect();
    levels.iter().enumerate().all(|(i, l)| match *l {
        "#" => i == levels.len() - 1,
        "+" => true,
        l => !l.contains('#') && !l.contains('+'),
    })
}

/// A task that drives a client's event loop and hands its events over a channel, so the
/// caller can `select!` on them safely (`EventLoop::poll` must not be dropped half-way: a
/// request it had taken would be lost). After an error it waits before reconnecting, 1 s
/// doubling to 30 s. Stopped when the returned guard is dropped.
pub fn pump(
    mut events: rumqttc::EventLoop,
) -> (
    Pump,
    tokio::sync::mpsc::Receiver<Result<rumqttc::Event, String>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let task = tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        loop {
            let ev = events.poll().await;
            let failed = ev.is_err();
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) = &ev {
                backoff = Duration::from_secs(1);
            }
            if tx.send(ev.map_err(|e| e.to_string())).await.is_err() {
                return;
            }
            if failed {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    });
    (crate::util::AbortOnDrop(task), rx)
}

/// Stops the event-loop task when dropped.
pub type Pump = crate::util::AbortOnDrop;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_like_a_broker() {
        assert!(matches("plant/+/temp", "plant/r101/temp"));
        assert!(!matches("plant/+/temp", "plant/r101/x/temp"));
        assert!(matches("plant/#", "plant/r101/x/temp"));
        assert!(matches("plant/#", "plant"));
        assert!(!matches("plant/r101", "plant/r101/temp"));
        assert!(valid_filter("plant/+/temp") && valid_filter("#"));
        assert!(!valid_filter("plant/#/temp") && !valid_filter("plant/te+mp") && !valid_filter(""));
    }
}
