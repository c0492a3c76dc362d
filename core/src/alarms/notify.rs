//! Alarm notifications: DingTalk and WeCom (企业微信) group robots and email (SMTP), each a
//! channel with its own priorities, areas and rate limit.
//!
//! A task follows the alarm events; for a raised alarm (and a return, if the channel asks
//! for it) every enabled channel whose priority threshold and areas match gets a message in
//! its language. A channel sends at most `max_per_hour` messages in any hour; the first one
//! over the limit becomes a notice that further alarms are held back, the rest are counted
//! and dropped (the alarm list and journal still have them). Sending happens off the I/O
//! runtime's workers, with a 10-second timeout; failures are counted and shown per channel.
//!
//! Owns the `alarms.channels` table.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::{Event, EventKind, Priority};
use crate::error::{self, Error, Result};
use crate::i18n::{self, Lang, Msg};
use crate::secrets::{Sealer, Secret};
use crate::store::{Actor, Change, Reader, Store, Table};

const CHANNELS: Table<u64, Channel> = Table::new("alarms.channels");
const HOUR_MS: i64 = 3_600_000;

/// How an email channel talks to its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// TLS from the first byte (port 465).
    #[default]
    Tls,
    /// Plain connection upgraded with STARTTLS (port 587 / 25).
    Starttls,
    /// No encryption (a relay on the plant LAN only).
    None,
}

/// Where a channel sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A DingTalk group robot: its webhook URL and, with 加签 security, the signing secret.
    Dingtalk {
        webhook: String,
        #[serde(default)]
        secret: Secret,
    },
    /// A WeCom (企业微信) group robot webhook.
    Wecom { webhook: String },
    Email {
        host: String,
        #[serde(default = "smtp_port")]
        port: u16,
        #[serde(default)]
        security: SmtpSecurity,
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: Secret,
        from: String,
        to: Vec<String>,
    },
}

fn smtp_port() -> u16 {
    465
}

/// A notification channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Channel {
    pub id: u32,
    pub name: String,
    pub target: Target,
    /// Alarms of this priority or more urgent are sent.
    pub min_priority: Priority,
    /// Plant areas whose alarms are sent (empty: all).
    #[serde(default)]
    pub areas: Vec<String>,
    /// Also send when an alarm returns to normal.
    #[serde(default)]
    pub returns: bool,
    /// Also send alerts (certificates due, overdue tasks, stock short…) of this priority or
    /// more urgent, when raised and when escalated; `areas` does not apply to them.
    #[serde(default)]
    pub alerts: bool,
    #[serde(default = "per_hour")]
    pub max_per_hour: u32,
    /// `zh-CN` or `en`.
    #[serde(default = "lang")]
    pub lang: String,
    pub enabled: bool,
}

fn per_hour() -> u32 {
    30
}
fn lang() -> String {
    "zh-CN".into()
}

impl Channel {
    /// As the API and the audit log show it: secrets only as "set".
    pub fn redacted(&self) -> Channel {
        let mut c = self.clone();
        match &mut c.target {
            Target::Dingtalk { secret, .. } => *secret = secret.redacted(),
            Target::Email { password, .. } => *password = password.redacted(),
            Target::Wecom { .. } => {}
        }
        c
    }

    fn wants(&self, e: &Event) -> bool {
        self.enabled
            && (e.kind == EventKind::Raised || (self.returns && e.kind == EventKind::Returned))
            && e.priority <= self.min_priority
            && (self.areas.is_empty() || self.areas.contains(&e.area))
    }

    fn language(&self) -> Lang {
        Lang::parse(&self.lang).unwrap_or(Lang::ZhCn)
    }
}

pub fn channels(r: &impl Reader) -> Result<Vec<Channel>> {
    Ok(r.values(&CHANNELS)?)
}

fn check_url(field: &'static str, u: &str) -> Result<String> {
    let u = u.trim();
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= 1000
        && !u.contains(char::is_whitespace)
        && u.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if !ok {
        return Err(Error::invalid(field, "alarms.err.webhook"));
    }
    Ok(u.to_string())
}

fn check_address(field: &'static str, a: &str) -> Result<String> {
    let a = a.trim();
    a.parse::<lettre::Address>()
        .map(|_| a.to_string())
        .map_err(|_| Error::invalid_msg(field, Msg::new("alarms.err.email").arg("address", a)))
}

/// The channel as it will be stored: checked, secrets sealed (or kept).
fn checked(c: Channel, before: Option<&Channel>, sealer: &Sealer) -> Result<Channel> {
    let name = error::text("name", &c.name, 64, true)?;
    if !(1..=1000).contains(&c.max_per_hour) {
        return Err(Error::invalid("max_per_hour", "alarms.err.per_hour"));
    }
    if Lang::parse(&c.lang).is_none() {
        return Err(Error::invalid("lang", "alarms.err.lang"));
    }
    let target = match c.target {
        Target::Dingtalk { webhook, secret } => {
            let (old, same) = match before.map(|b| &b.target) {
                Some(Target::Dingtalk { secret, webhook: w }) => (Some(secret), *w == webhook),
                _ => (None, false),
            };
            crate::secrets::check_keep("secret", &secret, old, same)?;
            Target::Dingtalk {
                webhook: check_url("webhook", &webhook)?,
                secret: sealer.seal(&secret, old)?,
            }
        }
        Target::Wecom { webhook } => Target::Wecom {
            webhook: check_url("webhook", &webhook)?,
        },
        Target::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
        } => {
            let host = host.trim().to_string();
            if host.is_empty() || host.len() > 253 || host.contains(char::is_whitespace) {
                return Err(Error::invalid("host", "tags.err.host"));
            }
            if port == 0 {
                return Err(Error::invalid("port", "tags.err.port"));
            }
            let to: Vec<String> = to
                .iter()
                .filter(|a| !a.trim().is_empty())
                .map(|a| check_address("to", a))
                .collect::<Result<_>>()?;
            if to.is_empty() || to.len() > 50 {
                return Err(Error::invalid("to", "alarms.err.recipients"));
            }
            let (old, same) = match before.map(|b| &b.target) {
                Some(Target::Email {
                    password,
                    host: h,
                    port: p,
                    ..
                }) => (Some(password), *h == host && *p == port),
                _ => (None, false),
            };
            crate::secrets::check_keep("password", &password, old, same)?;
            Target::Email {
                host,
                port,
                security,
                username: error::text("username", &username, 128, false)?,
                password: sealer.seal(&password, old)?,
                from: check_address("from", &from)?,
                to,
            }
        }
    };
    Ok(Channel {
        name,
        target,
        areas: c
            .areas
            .iter()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect(),
        ..c
    })
}

/// Creates (`id` 0) or replaces a channel.
pub fn save(store: &Store, actor: &Actor, input: Channel) -> Result<Channel> {
    let sealer = store.sealer()?;
    let mut w = store.write(actor)?;
    let before = if input.id == 0 {
        None
    } else {
        Some(
            w.get(&CHANNELS, &(input.id as u64))?
                .ok_or_else(|| Error::not_found("alarms.err.channel_not_found"))?,
        )
    };
    let mut c = checked(input, before.as_ref(), &sealer)?;
    if c.id == 0 {
        c.id = w.next_u32_id(&CHANNELS)?;
    }
    w.insert(&CHANNELS, &(c.id as u64), &c)?;
    w.audit_saved(
        "alarms.channel",
        format!("channel:{} {}", c.id, c.name),
        before.map(|b| b.redacted()),
        c.redacted(),
    );
    w.commit()?;
    Ok(c)
}

pub fn delete(store: &Store, actor: &Actor, id: u32) -> Result<()> {
    let mut w = store.write(actor)?;
    let before = w
        .remove(&CHANNELS, &(id as u64))?
        .ok_or_else(|| Error::not_found("alarms.err.channel_not_found"))?;
    w.audit(
        "alarms.channel.delete",
        format!("channel:{id} {}", before.name),
        Change::deleted(before.redacted()),
    );
    w.commit()?;
    Ok(())
}

/// A channel's counters, for the console.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelStatus {
    pub sent: u64,
    pub failed: u64,
    /// Alarms held back by the rate limit.
    pub suppressed: u64,
    pub last_sent_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
}

#[derive(Default)]
struct Window {
    sent: VecDeque<i64>,
    notice_sent: bool,
}

impl Window {
    /// Forgets what was sent more than an hour before `now`.
    fn prune(&mut self, now: i64) {
        while self.sent.front().is_some_and(|t| *t <= now - HOUR_MS) {
            self.sent.pop_front();
        }
    }
}

/// The running notifier.
pub struct Notifier {
    store: Arc<Store>,
    channels: RwLock<Arc<Vec<Channel>>>,
    status: Mutex<HashMap<u32, ChannelStatus>>,
    windows: Mutex<HashMap<u32, Window>>,
}

/// What a message says, rendered for one channel.
struct Text {
    title: String,
    body: String,
}

fn label(lang: Lang, prefix: &str, v: &impl Serialize) -> String {
    let code = serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    i18n::t(lang, &format!("{prefix}.{code}")).to_string()
}

fn render(lang: Lang, e: &Event, offset: time::UtcOffset) -> Text {
    let message = match lang {
        Lang::En if !e.message_en.is_empty() => &e.message_en,
        _ => &e.message_zh,
    };
    let title = format!(
        "【{}·{}】{message}",
        label(lang, "alarms.priority", &e.priority),
        label(lang, "alarms.event", &e.kind)
    );
    let mut lines = vec![title.clone()];
    if !e.tag.is_empty() {
        let value = e.value.map(|v| format!(" = {v}")).unwrap_or_default();
        lines.push(format!(
            "{}: {}{value}",
            i18n::t(lang, "alarms.col.tag"),
            e.tag
        ));
    }
    if !e.area.is_empty() {
        let key = format!("integration.area.{}", e.area);
        let area = if i18n::has(&key) {
            i18n::t(lang, &key)
        } else {
            e.area.as_str()
        };
        lines.push(format!("{}: {area}", i18n::t(lang, "alarms.col.area")));
    }
    lines.push(format!(
        "{}: {}",
        i18n::t(lang, "alarms.col.time"),
        crate::plant_time::format_ms(e.ts_ms, offset)
    ));
    Text {
        title,
        body: lines.join("\n"),
    }
}

impl Notifier {
    pub fn new(store: Arc<Store>) -> Result<Notifier> {
        let list = channels(&store.read()?)?;
        Ok(Notifier {
            store,
            channels: RwLock::new(Arc::new(list)),
            status: Mutex::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
        })
    }

    /// Re-reads the channels after a change.
    pub fn reload(&self) -> Result<()> {
        let list = channels(&self.store.read()?)?;
        *self
            .channels
            .write()
            .expect("notifier lock is never poisoned") = Arc::new(list);
        Ok(())
    }

    pub fn status(&self, id: u32) -> ChannelStatus {
        self.status
            .lock()
            .expect("notifier lock is never poisoned")
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    /// Follows the alarm events until the channel closes. Run on the I/O runtime.
    pub async fn run(
        self: Arc<Self>,
        mut events: tokio::sync::broadcast::Receiver<Event>,
        offset: time::UtcOffset,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "alarm notifications fell behind");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let list = self
                .channels
                .read()
                .expect("notifier lock is never poisoned")
                .clone();
            for c in list.iter().filter(|c| c.wants(&e)) {
                let now = e.ts_ms.max(crate::util::now_ms());
                let Some(text) = self.admit(c, now, offset, || render(c.language(), &e, offset))
                else {
                    continue;
                };
                let (me, c) = (self.clone(), c.clone());
                tokio::task::spawn_blocking(move || me.deliver(&c, &text));
            }
        }
    }

    /// Sends an alert raised or escalated now to the channels that take alerts.
    pub fn alert(
        self: &Arc<Self>,
        a: &crate::alerts::Alert,
        escalated: bool,
        offset: time::UtcOffset,
    ) {
        let list = self
            .channels
            .read()
            .expect("notifier lock is never poisoned")
            .clone();
        for c in list
            .iter()
            .filter(|c| c.enabled && c.alerts && a.priority <= c.min_priority)
        {
            let lang = c.language();
            let now = crate::util::now_ms();
            let Some(text) = self.admit(c, now, offset, || {
                let kind = if escalated {
                    "alerts.notify.escalated"
                } else {
                    "alerts.notify.raised"
                };
                let title = format!(
                    "【{}·{}】{}",
                    label(lang, "alarms.priority", &a.priority),
                    i18n::t(lang, kind),
                    a.text(lang)
                );
                let body = format!(
                    "{title}\n{}: {}",
                    i18n::t(lang, "alarms.col.time"),
                    crate::plant_time::format_ms(a.raised_ms, offset)
                );
                Text { title, body }
            }) else {
                continue;
            };
            let c = c.clone();
            let me = self.clone();
            std::thread::spawn(move || me.deliver(&c, &text));
        }
    }

    /// The names of the enabled channels.
    pub fn enabled_names(&self) -> Vec<String> {
        self.channels
            .read()
            .expect("notifier lock is never poisoned")
            .iter()
            .filter(|c| c.enabled)
            .map(|c| c.name.clone())
            .collect()
    }

    /// Sends a message through the enabled channel named (a plugin's report): within the
    /// channel's hourly limit, which it shares with alarms; delivered on a thread of its
    /// own, whose outcome goes to the channel's counters and to `done`. An attachment
    /// (name, content type, bytes) goes with email; a robot's text should carry its link.
    pub fn message(
        self: &Arc<Self>,
        channel: &str,
        title: &str,
        body: &str,
        attachment: Option<(String, String, Vec<u8>)>,
        done: impl FnOnce(Result<(), String>) + Send + 'static,
    ) -> std::result::Result<(), MessageRefused> {
        let c = self
            .channels
            .read()
            .expect("notifier lock is never poisoned")
            .iter()
            .find(|c| c.enabled && c.name == channel)
            .cloned()
            .ok_or(MessageRefused::NoChannel)?;
        {
            let now = crate::util::now_ms();
            let mut windows = self
                .windows
                .lock()
                .expect("notifier lock is never poisoned");
            let w = windows.entry(c.id).or_default();
            w.prune(now);
            if w.sent.len() as u32 >= c.max_per_hour {
                return Err(MessageRefused::Limit(c.max_per_hour));
            }
            w.sent.push_back(now);
        }
        let text = Text {
            title: title.to_string(),
            body: format!("{title}\n{body}"),
        };
        let me = self.clone();
        std::thread::spawn(move || {
            let r = send_with(&me.store, &c, &text, attachment.as_ref());
            me.record(&c, &r);
            done(r);
        });
        Ok(())
    }

    fn record(&self, c: &Channel, r: &std::result::Result<(), String>) {
        let mut status = self.status.lock().expect("notifier lock is never poisoned");
        let s = status.entry(c.id).or_default();
        match r {
            Ok(()) => {
                s.sent += 1;
                s.last_sent_ms = Some(crate::util::now_ms());
            }
            Err(why) => {
                tracing::warn!(channel = %c.name, error = %why, "notification failed");
                s.failed += 1;
                s.last_error = Some(why.clone());
                s.last_error_ms = Some(crate::util::now_ms());
            }
        }
    }

    /// Applies the rate limit: the text to send now, if any.
    fn admit(
        &self,
        c: &Channel,
        now: i64,
        offset: time::UtcOffset,
        render: impl FnOnce() -> Text,
    ) -> Option<Text> {
        let mut windows = self
            .windows
            .lock()
            .expect("notifier lock is never poisoned");
        let w = windows.entry(c.id).or_default();
        w.prune(now);
        if w.sent.is_empty() {
            w.notice_sent = false;
        }
        let lang = c.language();
        if (w.sent.len() as u32) < c.max_per_hour {
            w.sent.push_back(now);
            return Some(render());
        }
        self.status
            .lock()
            .expect("notifier lock is never poisoned")
            .entry(c.id)
            .or_default()
            .suppressed += 1;
        if w.notice_sent {
            return None;
        }
        w.notice_sent = true;
        let resume = w.sent.front().copied().unwrap_or(now) + HOUR_MS;
        let title = i18n::tf(
            lang,
            "alarms.notify.limited",
            &[("n", c.max_per_hour.to_string())],
        );
        Some(Text {
            body: format!(
                "{title}\n{}",
                i18n::tf(
                    lang,
                    "alarms.notify.resume",
                    &[("time", crate::plant_time::format_ms(resume, offset))]
                )
            ),
            title,
        })
    }

    /// Sends one message now (blocking); records the outcome.
    fn deliver(&self, c: &Channel, text: &Text) {
        let r = send(&self.store, c, text);
        self.record(c, &r);
    }

    /// A test message through a channel, answered with the outcome.
    pub fn test(&self, c: &Channel) -> Result<()> {
        let lang = c.language();
        let title = i18n::t(lang, "alarms.notify.test").to_string();
        let text = Text {
            body: format!(
                "{title}\n{}",
                crate::plant_time::format_ms(crate::util::now_ms(), time::UtcOffset::UTC)
            ),
            title,
        };
        send(&self.store, c, &text)
            .map_err(|detail| Error::Device(Msg::new("alarms.err.send").arg("detail", detail)))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// DingTalk's 加签: `timestamp` and `sign` = base64(HMAC-SHA256(secret, "{timestamp}\n{secret}")).
pub fn dingtalk_url(webhook: &str, secret: Option<&str>, ts_ms: i64) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return webhook.to_string();
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{ts_ms}\n{secret}").as_bytes());
    let sign = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let sign: String = serde_urlencoded::to_string([("sign", sign)]).unwrap_or_default();
    let sep = if webhook.contains('?') { '&' } else { '?' };
    format!("{webhook}{sep}timestamp={ts_ms}&{sign}")
}

fn post_robot(url: &str, text: &Text) -> Result<(), String> {
    let body = serde_json::json!({"msgtype": "text", "text": {"content": text.body}});
    let mut r = agent()
        .post(url)
        .send_json(&body)
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let answer: serde_json::Value = r.body_mut().read_json().unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    // both robots answer 200 with an error code
    match answer["errcode"].as_i64() {
        Some(0) | None => Ok(()),
        Some(code) => Err(format!(
            "errcode {code}: {}",
            answer["errmsg"].as_str().unwrap_or("")
        )),
    }
}

/// Why [`Notifier::message`] did not take a message.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageRefused {
    /// No enabled channel of that name.
    NoChannel,
    /// The channel's hourly limit is used up.
    Limit(u32),
}

fn send(store: &Store, c: &Channel, text: &Text) -> Result<(), String> {
    send_with(store, c, text, None)
}

fn send_with(
    store: &Store,
    c: &Channel,
    text: &Text,
    attachment: Option<&(String, String, Vec<u8>)>,
) -> Result<(), String> {
    let sealer = store.sealer().map_err(|e| e.to_string())?;
    match &c.target {
        Target::Dingtalk { webhook, secret } => {
            let secret = sealer.reveal(secret);
            post_robot(
                &dingtalk_url(webhook, secret.as_deref(), crate::util::now_ms()),
                text,
            )
        }
        Target::Wecom { webhook } => post_robot(webhook, text),
        Target::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
        } => {
            use lettre::Transport;
            let mut m = lettre::Message::builder()
                .from(from.parse().map_err(|e| format!("{e}"))?)
                .subject(&text.title);
            for a in to {
                m = m.to(a.parse().map_err(|e| format!("{e}"))?);
            }
            let message = match attachment {
                None => m
                    .header(lettre::message::header::ContentType::TEXT_PLAIN)
                    .body(text.body.clone()),
                Some((name, mime, bytes)) => {
                    use lettre::message::{Attachment, MultiPart, SinglePart, header};
                    let kind = header::ContentType::parse(mime).map_err(|e| e.to_string())?;
                    m.multipart(
                        MultiPart::mixed()
                            .singlepart(SinglePart::plain(text.body.clone()))
                            .singlepart(Attachment::new(name.clone()).body(bytes.clone(), kind)),
                    )
                }
            }
            .map_err(|e| e.to_string())?;
            let builder = match security {
                SmtpSecurity::Tls => {
                    lettre::SmtpTransport::relay(host).map_err(|e| e.to_string())?
                }
                SmtpSecurity::Starttls => {
                    lettre::SmtpTransport::starttls_relay(host).map_err(|e| e.to_string())?
                }
                SmtpSecurity::None => lettre::SmtpTransport::builder_dangerous(host),
            };
            let mut builder = builder.port(*port).timeout(Some(Duration::from_secs(10)));
            if !username.is_empty() {
                builder =
                    builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
                        username.clone(),
                        sealer.reveal(password).unwrap_or_default(),
                    ));
            }
            builder
                .build()
                .send(&message)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dingtalk_signs_like_its_documentation() {
        let url = dingtalk_url(
            "https://oapi.dingtalk.com/robot/send?access_token=abc",
            Some("SEC000"),
            1_700_000_000_000,
        );
        assert!(url.starts_with(
            "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000&sign="
        ));
        // the signature is base64 of 32 bytes, URL-encoded
        let sign = url.split("sign=").nth(1).unwrap();
        let decoded: String =
            serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("s={sign}")).unwrap()[0]
                .1
                .clone();
        use base64::Engine as _;
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(decoded)
                .unwrap()
                .len(),
            32
        );
        assert_eq!(dingtalk_url("https://x/y", None, 1), "https://x/y");
    }

    #[test]
    fn the_rate_limit_sends_one_notice_then_holds_back() {
        let (_d, s) = crate::store::tests::temp_store();
        let n = Notifier::new(Arc::new(s)).unwrap();
        let c = Channel {
            id: 1,
            name: "x".into(),
            target: Target::Wecom {
                webhook: "http://127.0.0.1:9/".into(),
            },
            min_priority: Priority::Low,
            areas: vec![],
            returns: false,
            alerts: false,
            max_per_hour: 2,
            lang: "en".into(),
            enabled: true,
        };
        let e = Event {
            ts_ms: 1,
            alarm: 1,
            kind: EventKind::Raised,
            state: super::super::model::State::Unack,
            priority: Priority::High,
            tag: "T".into(),
            area: "resin".into(),
            message_zh: "高".into(),
            message_en: "High".into(),
            value: Some(3.0),
            user: None,
            comment: None,
        };
        let utc = time::UtcOffset::UTC;
        let sent: Vec<Option<String>> = (0..5)
            .map(|_| {
                n.admit(&c, crate::util::now_ms(), utc, || {
                    render(c.language(), &e, utc)
                })
                .map(|t| t.title)
            })
            .collect();
        assert!(sent[0].as_deref().unwrap().contains("High"));
        assert!(sent[1].is_some());
        assert!(
            sent[2].as_deref().unwrap().contains("2"),
            "the notice names the limit: {:?}",
            sent[2]
        );
        assert_eq!(&sent[3..], &[None, None]);
        assert_eq!(n.status(1).suppressed, 3);
        assert!(c.wants(&e));
        assert!(
            !Channel {
                min_priority: Priority::Urgent,
                ..c.clone()
            }
            .wants(&e)
        );
        assert!(
            !Channel {
                areas: vec!["tank_farm".into()],
                ..c.clone()
            }
            .wants(&e)
        );
    }
}
