//! The OPC UA client driver (async-opcua): one session per device, the device's tags as
//! monitored items of one subscription, writes and browsing through the same session.
//!
//! The session reconnects by itself (and carries the subscription over, or recreates it on
//! a restarted server); while it is down the device's tags are `comm_failure`, and after
//! every reconnect the nodes are read once, because a server only reports *changes* and a
//! value that did not move during the outage would otherwise stay bad. A node the server
//! does not know marks its tags `config_error`; a bad status from the server marks them
//! bad with its name as the device's last error.
//!
//! The session's event loop runs in its own task: the requests this task makes
//! (create items, read, write) only complete while the loop is polled.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::opcua::client::{
    ClientBuilder, DataChangeCallback, IdentityToken, Session, SessionActivity, SessionPollResult,
};
use ::opcua::crypto::SecurityPolicy;
use ::opcua::types::{
    AttributeId, BrowseDescription, BrowseDirection, BrowseResultMask, DataValue,
    EndpointDescription, MessageSecurityMode, MonitoredItemCreateRequest, MonitoringMode,
    MonitoringParameters, NodeClass, NodeId, NumericRange, ReadValueId, ReferenceTypeId,
    StatusCode, TimestampsToReturn, UserTokenType, Variant, VariantScalarTypeId, WriteValue,
};
use futures_util::StreamExt;

use super::{Status, record_error, set_status};
use crate::secrets::Sealer;
use crate::sparkplug::Val;
use crate::tags::engine::{Defs, Engine};
use crate::tags::model::{DriverConfig, Quality, Reason, Sample, Source, Tag, UaSecurity, Value};
use crate::util::now_ms;

/// Items created per request (servers limit the size of one request).
const CHUNK: usize = 500;
/// Source timestamps further than this from the box's clock are replaced by the time of
/// arrival (a server with a wrong clock must not scatter history over the years).
const MAX_SKEW_MS: i64 = 3_600_000;

/// The node id in its canonical text form (`ns=2;s=R101.TT101`), or `None` if it is not one.
pub fn canonical_node(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 512 {
        return None;
    }
    NodeId::from_str(t).ok().map(|n| n.to_string())
}

/// `opc.tcp://host[:port][/path]`.
pub fn valid_endpoint(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("opc.tcp://") else {
        return false;
    };
    let host = rest.split(['/', ':']).next().unwrap_or("");
    !host.is_empty()
        && url.len() <= 300
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// What routes and tag writes use of a running device: its session while there is one,
/// and the OPC UA type of each node's last value, so writes send what the server expects.
#[derive(Default)]
pub struct Link {
    session: Mutex<Option<Arc<Session>>>,
    types: Mutex<HashMap<String, VariantScalarTypeId>>,
}

/// One child of a node, for the browse page.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BrowseRow {
    pub node_id: String,
    pub browse_name: String,
    pub display_name: String,
    /// `object`, `variable`, `method`, …
    pub class: String,
    /// Variables: the OPC UA type of the current value (`Double`, `Boolean`…).
    pub ua_type: Option<String>,
    /// Variables: the tag data type that fits (`float`, `int`, `bool`, `string`).
    pub data_type: Option<String>,
    /// Variables: the current value as text.
    pub value: Option<String>,
}

impl Link {
    fn session(&self) -> Result<Arc<Session>, String> {
        self.session
            .lock()
            .expect("link lock is never poisoned")
            .clone()
            .ok_or_else(|| "not connected".to_string())
    }

    fn set_session(&self, s: Option<Arc<Session>>) {
        *self.session.lock().expect("link lock is never poisoned") = s;
    }

    fn note_type(&self, node: &str, v: &Variant) {
        if let Some(t) = v.scalar_type_id() {
            let mut types = self.types.lock().expect("link lock is never poisoned");
            if types.get(node) != Some(&t) {
                types.insert(node.to_string(), t);
            }
        }
    }

    /// Writes a value (engineering units, checked by the caller) to the tag's node, as the
    /// node's own type. The answer is the server's status.
    pub async fn write(&self, tag: &Tag, value: &Value) -> Result<(), String> {
        let Source::OpcUa { node_id, .. } = &tag.source else {
            return Err("not an OPC UA tag".into());
        };
        let node = NodeId::from_str(node_id).map_err(|_| format!("bad node id {node_id}"))?;
        let session = self.session()?;
        let known = self
            .types
            .lock()
            .expect("link lock is never poisoned")
            .get(node_id)
            .copied();
        let ty = match known {
            Some(t) => t,
            None => {
                let dv = timeout(session.read(
                    &[ReadValueId::from(node.clone())],
                    TimestampsToReturn::Neither,
                    0.0,
                ))
                .await?
                .into_iter()
                .next()
                .ok_or("no answer")?;
                let status = dv.status();
                let v = dv.value.ok_or_else(|| status.to_string())?;
                self.note_type(node_id, &v);
                v.scalar_type_id()
                    .ok_or_else(|| format!("node {node_id} holds no scalar value"))?
            }
        };
        let typed = typed_value(tag, value, ty)
            .ok_or_else(|| format!("{value:?} does not fit the node's type {ty:?}"))?;
        let wv = WriteValue {
            node_id: node,
            attribute_id: AttributeId::Value as u32,
            index_range: NumericRange::None,
            // no timestamps: many servers refuse writes that carry them
            value: DataValue::value_only(typed),
        };
        let status = timeout(session.write(&[wv]))
            .await?
            .into_iter()
            .next()
            .unwrap_or(StatusCode::BadUnexpectedError);
        if status.is_good() {
            Ok(())
        } else {
            Err(status.to_string())
        }
    }

    /// The children of `node` (the Objects folder if empty) with the current values of the
    /// variables among them; at most `limit` rows.
    pub async fn browse(&self, node: &str, limit: usize) -> Result<Vec<BrowseRow>, String> {
        let start = if node.trim().is_empty() {
            NodeId::objects_folder_id()
        } else {
            NodeId::from_str(node.trim()).map_err(|_| format!("bad node id {node}"))?
        };
        let session = self.session()?;
        let desc = BrowseDescription {
            node_id: start,
            browse_direction: BrowseDirection::Forward,
            reference_type_id: ReferenceTypeId::HierarchicalReferences.into(),
            include_subtypes: true,
            node_class_mask: 0,
            result_mask: BrowseResultMask::All as u32,
        };
        let mut rows = Vec::new();
        let mut results = timeout(session.browse(&[desc], 0, None)).await?;
        while let Some(r) = results.pop() {
            if r.status_code.is_bad() {
                return Err(r.status_code.to_string());
            }
            for rd in r.references.unwrap_or_default() {
                if rows.len() >= limit {
                    break;
                }
                rows.push(BrowseRow {
                    node_id: rd.node_id.node_id.to_string(),
                    browse_name: rd.browse_name.name.to_string(),
                    display_name: rd.display_name.text.to_string(),
                    class: class_name(rd.node_class).into(),
                    ua_type: None,
                    data_type: None,
                    value: None,
                });
            }
            if r.continuation_point.is_null_or_empty() {
                break;
            }
            if rows.len() >= limit {
                let _ = session.browse_next(true, &[r.continuation_point]).await;
                break;
            }
            results = timeout(session.browse_next(false, &[r.continuation_point])).await?;
        }
        let vars: Vec<usize> = (0..rows.len())
            .filter(|i| rows[*i].class == "variable")
            .collect();
        for chunk in vars.chunks(CHUNK) {
            let ids: Vec<ReadValueId> = chunk
                .iter()
                .filter_map(|i| NodeId::from_str(&rows[*i].node_id).ok())
                .map(ReadValueId::from)
                .collect();
            if ids.len() != chunk.len() {
                continue;
            }
            let values = timeout(session.read(&ids, TimestampsToReturn::Neither, 0.0)).await?;
            for (i, dv) in chunk.iter().zip(values) {
                let row = &mut rows[*i];
                match &dv.value {
                    Some(v) if dv.status().is_good() => {
                        self.note_type(&row.node_id, v);
                        row.ua_type = v.scalar_type_id().map(|t| format!("{t:?}"));
                        row.data_type = v.scalar_type_id().map(|t| tag_type(t).to_string());
                        row.value = Some(display(v));
                    }
                    _ => row.value = Some(dv.status().to_string()),
                }
            }
        }
        Ok(rows)
    }
}

/// A value as a variant of the node's type: integers rounded and range-checked exactly
/// (no saturation), floats finite, nothing converted that the type cannot hold.
fn typed_value(tag: &Tag, value: &Value, ty: VariantScalarTypeId) -> Option<Variant> {
    use VariantScalarTypeId as T;
    let raw = |x: f64| tag.scaling.map_or(x, |s| s.invert(x));
    // integers as i128 so that every type's range can be checked
    let int = || -> Option<i128> {
        match value {
            Value::Int(i) if tag.scaling.is_none() => Some(*i as i128),
            Value::Int(i) => float_int(raw(*i as f64)),
            Value::Float(f) => float_int(raw(*f)),
            Value::Bool(b) => Some(*b as i128),
            Value::Text(_) => None,
        }
    };
    let float = || -> Option<f64> {
        let x = match value {
            Value::Int(i) => raw(*i as f64),
            Value::Float(f) => raw(*f),
            Value::Bool(b) => *b as u8 as f64,
            Value::Text(_) => return None,
        };
        x.is_finite().then_some(x)
    };
    Some(match ty {
        T::Boolean => match value {
            Value::Bool(b) => Variant::Boolean(*b),
            _ => match int()? {
                0 => Variant::Boolean(false),
                1 => Variant::Boolean(true),
                _ => return None,
            },
        },
        T::SByte => Variant::SByte(i8::try_from(int()?).ok()?),
        T::Byte => Variant::Byte(u8::try_from(int()?).ok()?),
        T::Int16 => Variant::Int16(i16::try_from(int()?).ok()?),
        T::UInt16 => Variant::UInt16(u16::try_from(int()?).ok()?),
        T::Int32 => Variant::Int32(i32::try_from(int()?).ok()?),
        T::UInt32 => Variant::UInt32(u32::try_from(int()?).ok()?),
        T::Int64 => Variant::Int64(i64::try_from(int()?).ok()?),
        T::UInt64 => Variant::UInt64(u64::try_from(int()?).ok()?),
        T::Float => {
            let x = float()?;
            if x.abs() > f32::MAX as f64 {
                return None;
            }
            Variant::Float(x as f32)
        }
        T::Double => Variant::Double(float()?),
        T::String => match value {
            Value::Text(t) => Variant::String(t.as_ref().into()),
            _ => return None,
        },
        _ => return None,
    })
}

/// A float rounded to an integer, if it is a finite number in i64's range.
fn float_int(x: f64) -> Option<i128> {
    let r = x.round();
    (r.is_finite() && r >= i64::MIN as f64 && r <= u64::MAX as f64).then_some(r as i128)
}

async fn timeout<T>(
    f: impl Future<Output = Result<T, ::opcua::types::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_secs(10), f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.status().to_string()),
        Err(_) => Err("no answer within 10 s".into()),
    }
}

fn is_integer(t: VariantScalarTypeId) -> bool {
    use VariantScalarTypeId as T;
    matches!(
        t,
        T::SByte | T::Byte | T::Int16 | T::UInt16 | T::Int32 | T::UInt32 | T::Int64 | T::UInt64
    )
}

/// The tag data type that holds values of an OPC UA type.
fn tag_type(t: VariantScalarTypeId) -> &'static str {
    use VariantScalarTypeId as T;
    match t {
        T::Boolean => "bool",
        T::Float | T::Double => "float",
        t if is_integer(t) => "int",
        _ => "string",
    }
}

fn class_name(c: NodeClass) -> &'static str {
    match c {
        NodeClass::Object => "object",
        NodeClass::Variable => "variable",
        NodeClass::Method => "method",
        NodeClass::ObjectType => "object_type",
        NodeClass::VariableType => "variable_type",
        NodeClass::ReferenceType => "reference_type",
        NodeClass::DataType => "data_type",
        NodeClass::View => "view",
        _ => "unspecified",
    }
}

/// A value as the browse page shows it.
fn display(v: &Variant) -> String {
    match to_val(v) {
        Some(Val::Number(x)) => x.to_string(),
        Some(Val::Bool(b)) => b.to_string(),
        Some(Val::Text(s)) => s,
        _ => format!("{:?}", v.type_id()),
    }
}

/// A scalar the tag engine can take; arrays and structures are not.
fn to_val(v: &Variant) -> Option<Val> {
    Some(match v {
        Variant::Boolean(b) => Val::Bool(*b),
        Variant::SByte(x) => Val::Number(*x as f64),
        Variant::Byte(x) => Val::Number(*x as f64),
        Variant::Int16(x) => Val::Number(*x as f64),
        Variant::UInt16(x) => Val::Number(*x as f64),
        Variant::Int32(x) => Val::Number(*x as f64),
        Variant::UInt32(x) => Val::Number(*x as f64),
        Variant::Int64(x) => Val::Number(*x as f64),
        Variant::UInt64(x) => Val::Number(*x as f64),
        // an f32 as the decimal it was written as (0.42, not 0.41999998688697815)
        Variant::Float(x) => Val::Number(x.to_string().parse().unwrap_or(*x as f64)),
        Variant::Double(x) => Val::Number(*x),
        Variant::String(s) => Val::Text(s.to_string()),
        Variant::LocalizedText(t) => Val::Text(t.text.to_string()),
        _ => return None,
    })
}

/// Why a value with this status is not good.
fn reason(status: StatusCode) -> Reason {
    if status == StatusCode::BadNodeIdUnknown
        || status == StatusCode::BadNodeIdInvalid
        || status == StatusCode::BadAttributeIdInvalid
        || status == StatusCode::BadNotReadable
        || status == StatusCode::BadUserAccessDenied
    {
        Reason::ConfigError
    } else if status == StatusCode::BadCommunicationError
        || status == StatusCode::BadNotConnected
        || status == StatusCode::BadNoCommunication
        || status == StatusCode::BadWaitingForInitialData
        || status == StatusCode::BadServerHalted
        || status == StatusCode::BadOutOfService
    {
        Reason::CommFailure
    } else {
        Reason::DeviceError
    }
}

/// The sample a data value gives a tag.
fn sample(t: &Tag, dv: &DataValue, now: i64) -> Sample {
    let ts = dv
        .source_timestamp
        .as_ref()
        .or(dv.server_timestamp.as_ref())
        .map(|d| d.as_chrono().timestamp_millis())
        .filter(|ts| (ts - now).abs() <= MAX_SKEW_MS)
        .unwrap_or(now);
    let status = dv.status();
    if status.is_bad() {
        return Sample {
            tag: t.id,
            ts_ms: ts,
            value: None,
            quality: Quality::Bad(reason(status)),
        };
    }
    match dv
        .value
        .as_ref()
        .and_then(to_val)
        .and_then(|v| super::mqtt::convert(t, &v))
    {
        Some(value) => Sample {
            tag: t.id,
            ts_ms: ts,
            value: Some(value),
            quality: if status.is_good() {
                Quality::Good
            } else {
                Quality::Uncertain(Reason::DeviceError)
            },
        },
        None => Sample {
            tag: t.id,
            ts_ms: ts,
            value: None,
            quality: Quality::Bad(Reason::BadValue),
        },
    }
}

/// A node's value: its type noted for writes, and a sample for each tag reading it.
fn take_value(
    node: &str,
    dv: &DataValue,
    nodes: &HashMap<String, Vec<u32>>,
    defs: &Defs,
    link: &Link,
    now: i64,
    batch: &mut Vec<Sample>,
) {
    if let Some(v) = &dv.value {
        link.note_type(node, v);
    }
    for id in nodes.get(node).into_iter().flatten() {
        if let Some(tag) = defs.get(*id) {
            batch.push(sample(tag, dv, now));
        }
    }
}

/// The device's tags by node.
fn routes(defs: &Defs, device: u32) -> HashMap<String, Vec<u32>> {
    let mut out: HashMap<String, Vec<u32>> = HashMap::new();
    for t in defs.iter() {
        if let Source::OpcUa { device: d, node_id } = &t.source
            && *d == device
        {
            out.entry(node_id.clone()).or_default().push(t.id);
        }
    }
    for ids in out.values_mut() {
        ids.sort_unstable();
    }
    out
}

/// The settings the driver runs with.
pub struct Settings {
    pub endpoint: String,
    pub security: UaSecurity,
    pub username: String,
    pub password: Option<String>,
    pub interval: Duration,
    /// This box's application certificate and the servers' (`<data>/opcua-pki`).
    pub pki_dir: PathBuf,
}

impl Settings {
    /// The settings of an OPC UA device; an error if its stored password cannot be opened
    /// (sealed on another box): logging in with an empty one could lock the account.
    pub fn new(
        config: &DriverConfig,
        sealer: &Sealer,
        pki_dir: PathBuf,
    ) -> Result<Settings, String> {
        let DriverConfig::OpcUa {
            endpoint,
            security,
            username,
            password,
            interval_ms,
        } = config
        else {
            return Err("not an OPC UA device".into());
        };
        let revealed = sealer.reveal(password);
        if password.is_set() && revealed.is_none() {
            return Err("the stored password cannot be opened on this box; enter it again".into());
        }
        Ok(Settings {
            endpoint: endpoint.clone(),
            security: *security,
            username: username.clone(),
            password: revealed,
            interval: Duration::from_millis((*interval_ms).max(50) as u64),
            pki_dir,
        })
    }
}

/// Where the certificate a device's server showed first is kept (`<pki>/pins/<device>`).
fn pin_path(pki: &std::path::Path, device: u32) -> PathBuf {
    pki.join("pins").join(format!("device-{device}"))
}

/// Forgets the pinned server certificate of a device: the next connection trusts the
/// certificate the server shows then (the admin's "trust the new certificate").
pub fn forget_pin(pki: &std::path::Path, device: u32) -> std::io::Result<bool> {
    match std::fs::remove_file(pin_path(pki, device)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Trust on first use: a signed or encrypted session goes only to the server certificate
/// seen the first time (per device and address); a different one is refused until the
/// admin trusts it.
fn check_pin(
    pki: &std::path::Path,
    device: u32,
    endpoint: &str,
    cert: &[u8],
) -> Result<(), String> {
    use sha2::Digest;
    let seen = hex::encode(sha2::Sha256::digest(cert));
    let path = pin_path(pki, device);
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Some((url, pinned)) = text.trim().split_once('\n')
        && url == endpoint
    {
        if pinned == seen {
            return Ok(());
        }
        return Err(format!(
            "the server's certificate changed (trusted SHA-256 {}…, now {}…); if the server was \
             replaced on purpose, trust the new certificate on the device page",
            &pinned[..pinned.len().min(16)],
            &seen[..16]
        ));
    }
    let dir = path.parent().unwrap_or(pki);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&path, format!("{endpoint}\n{seen}\n"))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// One key pair for the box, made before the first client needs it: two devices starting
/// together must not both write it.
static PKI_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Ends the session when the driver stops: the session is closed on the server (a PLC
/// has few session slots), and the event-loop task is stopped if it does not end by itself.
struct Closing {
    close: Option<::opcua::client::SessionDropGuard>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Closing {
    fn drop(&mut self) {
        drop(self.close.take());
        if let (Some(task), Ok(rt)) = (self.task.take(), tokio::runtime::Handle::try_current()) {
            rt.spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                task.abort();
            });
        }
    }
}

/// Runs one OPC UA device until the task is aborted.
pub async fn run(
    engine: Arc<Engine>,
    device: u32,
    settings: Settings,
    status: Status,
    link: Arc<Link>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let why = session(&engine, device, &settings, &status, &link).await;
        link.set_session(None);
        set_status(&status, |s| s.connected = false);
        engine.mark_device(device, Quality::Bad(Reason::CommFailure), now_ms());
        tracing::warn!(device, error = %why, "opc ua: no session; retrying");
        record_error(&status, &why);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// The endpoint to use: the server's description of the wanted security, at the address
/// configured here.
fn pick_endpoint(
    endpoints: Vec<EndpointDescription>,
    settings: &Settings,
) -> Result<EndpointDescription, String> {
    let mode = match settings.security {
        UaSecurity::None => MessageSecurityMode::None,
        UaSecurity::Sign => MessageSecurityMode::Sign,
        UaSecurity::SignAndEncrypt => MessageSecurityMode::SignAndEncrypt,
    };
    let preference = |uri: &str| match SecurityPolicy::from_uri(uri) {
        SecurityPolicy::None if mode == MessageSecurityMode::None => Some(0),
        SecurityPolicy::Aes256Sha256RsaPss => Some(3),
        SecurityPolicy::Basic256Sha256 => Some(2),
        SecurityPolicy::Aes128Sha256RsaOaep => Some(1),
        _ => None,
    };
    let token = if settings.username.is_empty() {
        UserTokenType::Anonymous
    } else {
        UserTokenType::UserName
    };
    let token_ok = |t: &::opcua::types::UserTokenPolicy| {
        t.token_type == token
            && (token == UserTokenType::Anonymous
                || mode != MessageSecurityMode::None
                // on an unsecured channel the password must be encrypted by the token's policy
                || !matches!(
                    SecurityPolicy::from_uri(t.security_policy_uri.as_ref()),
                    SecurityPolicy::None | SecurityPolicy::Unknown
                ))
    };
    let mut candidates: Vec<(i32, EndpointDescription)> = endpoints
        .into_iter()
        .filter(|e| e.security_mode == mode)
        .filter_map(|e| preference(e.security_policy_uri.as_ref()).map(|p| (p, e)))
        .collect();
    if candidates.is_empty() {
        return Err(format!(
            "the server offers no endpoint with security {mode:?}"
        ));
    }
    let offered = candidates.iter().any(|(_, e)| {
        e.user_identity_tokens
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|t| t.token_type == token)
    });
    candidates.retain(|(_, e)| {
        e.user_identity_tokens
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(token_ok)
    });
    if offered && candidates.is_empty() {
        return Err(
            "the server would receive the password unencrypted on this endpoint; \
                    choose \"sign and encrypt\""
                .into(),
        );
    }
    let Some((_, mut best)) = candidates.into_iter().max_by_key(|(p, _)| *p) else {
        return Err(match token {
            UserTokenType::Anonymous => "the server does not accept anonymous sessions".into(),
            _ => "the server does not accept user names and passwords".into(),
        });
    };
    best.endpoint_url = settings.endpoint.as_str().into();
    Ok(best)
}

/// One client and session: returns why it ended (it only ends if it cannot start).
async fn session(
    engine: &Arc<Engine>,
    device: u32,
    settings: &Settings,
    status: &Status,
    link: &Arc<Link>,
) -> String {
    let builder = ClientBuilder::new()
        .application_name("nplusx")
        .application_uri("urn:nplusx:client")
        .product_uri("urn:nplusx")
        .pki_dir(&settings.pki_dir)
        // the box's application identity, made once (the server must trust it for
        // signed or encrypted channels)
        .create_sample_keypair(true)
        // the box trusts the server it was pointed at; the server must trust the box
        .trust_server_certs(true)
        // a few tries, then discovery again (the server's endpoints or certificate may
        // have changed)
        .session_retry_limit(5)
        .session_retry_initial(Duration::from_secs(1))
        .session_retry_max(Duration::from_secs(30))
        .keep_alive_interval(Duration::from_secs(5))
        .max_failed_keep_alive_count(3)
        .request_timeout(Duration::from_secs(10))
        .session_timeout(60_000);
    // making the key pair is slow (RSA) and must happen once
    let made = tokio::task::spawn_blocking(move || {
        let _one = PKI_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        builder.client()
    })
    .await;
    let mut client = match made {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return format!("client settings: {e:?}"),
        Err(e) => return format!("client settings: {e}"),
    };
    let endpoints = match tokio::time::timeout(
        Duration::from_secs(10),
        client.get_server_endpoints_from_url(settings.endpoint.as_str()),
    )
    .await
    {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => return format!("{}: {}", settings.endpoint, e.status()),
        Err(_) => return format!("{}: no answer within 10 s", settings.endpoint),
    };
    let endpoint = match pick_endpoint(endpoints, settings) {
        Ok(e) => e,
        Err(e) => return e,
    };
    if settings.security != UaSecurity::None {
        let cert = endpoint
            .server_certificate
            .value
            .as_deref()
            .unwrap_or_default();
        if let Err(e) = check_pin(&settings.pki_dir, device, &settings.endpoint, cert) {
            return e;
        }
    }
    let identity = if settings.username.is_empty() {
        IdentityToken::Anonymous
    } else {
        IdentityToken::new_user_name(
            settings.username.as_str(),
            settings.password.as_deref().unwrap_or(""),
        )
    };
    let (session, event_loop) = match client.connect_to_endpoint_directly(endpoint, identity) {
        Ok(x) => x,
        Err(e) => return format!("{}", e.status()),
    };
    // the event loop in its own task, its events over a channel
    let (ev_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut closing = Closing {
        close: Some(session.close_on_drop()),
        task: None,
    };
    closing.task = Some(tokio::spawn(async move {
        let stream = event_loop.enter();
        futures_util::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            let keep = matches!(
                ev,
                Ok(SessionPollResult::Reconnected(_))
                    | Ok(SessionPollResult::ConnectionLost(_))
                    | Ok(SessionPollResult::ReconnectFailed(_))
                    | Ok(SessionPollResult::SessionActivity(
                        SessionActivity::KeepAliveFailed(_)
                    ))
                    | Err(_)
            );
            if keep && ev_tx.send(ev).is_err() {
                return;
            }
        }
    }));
    let _closing = closing;
    let (data_tx, mut data) = tokio::sync::mpsc::unbounded_channel::<(String, DataValue)>();
    let mut defs = engine.defs();
    let mut nodes = routes(&defs, device);
    // the routes the subscription was last brought in line with
    let mut subscribed: Option<HashMap<String, Vec<u32>>> = None;
    let mut connected = false;
    let mut check = tokio::time::interval(Duration::from_secs(1));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                None => return "session ended".into(),
                Some(Ok(SessionPollResult::Reconnected(mode))) => {
                    tracing::info!(device, ?mode, "opc ua session up");
                    connected = true;
                    link.set_session(Some(session.clone()));
                    set_status(status, |s| s.connected = true);
                    // a carried-over subscription's publish loop needs a kick (async-opcua
                    // 0.19), and values that did not change while down are read once
                    if session.subscription_state().lock().subscription_ids().is_some() {
                        session.trigger_publish_now();
                    }
                    if subscribed.is_some() {
                        refresh(&session, engine, &defs, &nodes, link, status).await;
                        // compare with what the session really holds after the reconnect:
                        // items the library could not recreate are made again
                        subscribed = Some(HashMap::new());
                    }
                }
                Some(Ok(SessionPollResult::ConnectionLost(code) | SessionPollResult::ReconnectFailed(code))) => {
                    if connected {
                        tracing::warn!(device, %code, "opc ua connection lost; reconnecting");
                        engine.mark_device(device, Quality::Bad(Reason::CommFailure), now_ms());
                    }
                    connected = false;
                    link.set_session(None);
                    set_status(status, |s| s.connected = false);
                    record_error(status, &code.to_string());
                }
                Some(Ok(SessionPollResult::SessionActivity(SessionActivity::KeepAliveFailed(code)))) => {
                    record_error(status, &format!("keep-alive: {code}"));
                }
                Some(Ok(_)) => {}
                Some(Err(code)) => return format!("session: {code}"),
            },
            Some(first) = data.recv() => {
                let t = std::time::Instant::now();
                let now = now_ms();
                let mut batch = Vec::new();
                let mut next = Some(first);
                while let Some((node, dv)) = next {
                    if dv.status().is_bad() {
                        record_error(status, &format!("{node}: {}", dv.status()));
                    }
                    take_value(&node, &dv, &nodes, &defs, link, now, &mut batch);
                    next = data.try_recv().ok();
                }
                let n = batch.len();
                if n > 0 {
                    engine.publish(batch);
                }
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                set_status(status, |s| {
                    s.requests += 1;
                    s.latency_ms = if s.requests == 1 { ms } else { s.latency_ms * 0.9 + ms * 0.1 };
                    s.last_ok_ms = Some(now);
                });
            }
            _ = check.tick() => {
                let now = engine.defs();
                if !Arc::ptr_eq(&now, &defs) {
                    defs = now;
                    nodes = routes(&defs, device);
                }
                if connected && subscribed.as_ref() != Some(&nodes) {
                    let had = subscribed.take().unwrap_or_default();
                    match sync(&session, settings, &nodes, &had, &data_tx, engine, &defs, link, status).await {
                        Ok(()) => {
                            subscribed = Some(nodes.clone());
                            set_status(status, |s| s.subscriptions = nodes.len());
                        }
                        Err(e) => {
                            record_error(status, &format!("subscription: {e}"));
                            subscribed = Some(had);
                        }
                    }
                }
            }
        }
    }
}

/// Brings the session's subscription in line with `nodes`: one subscription, one item per
/// node; new nodes added, gone ones removed (one request each, however many tags). Items
/// the server refuses mark their tags and are not asked for again until the tags change.
/// Tags that are new on a node already monitored get its value by a read.
#[allow(clippy::too_many_arguments)]
async fn sync(
    session: &Arc<Session>,
    settings: &Settings,
    nodes: &HashMap<String, Vec<u32>>,
    had: &HashMap<String, Vec<u32>>,
    data_tx: &tokio::sync::mpsc::UnboundedSender<(String, DataValue)>,
    engine: &Arc<Engine>,
    defs: &Defs,
    link: &Link,
    status: &Status,
) -> Result<(), String> {
    let (sub, monitored): (Option<u32>, HashMap<String, u32>) = {
        let state = session.subscription_state().lock();
        let sub = state
            .subscription_ids()
            .and_then(|ids| ids.first().copied());
        let items = sub
            .and_then(|id| state.get(id))
            .map(|s| {
                s.monitored_items()
                    .map(|m| (m.item_to_monitor().node_id.to_string(), m.id()))
                    .collect()
            })
            .unwrap_or_default();
        (sub, items)
    };
    let sub = match sub {
        Some(id) => id,
        None if nodes.is_empty() => return Ok(()),
        None => {
            let tx = data_tx.clone();
            timeout(session.create_subscription(
                settings.interval,
                60,
                10,
                0,
                0,
                true,
                DataChangeCallback::new(move |dv, item| {
                    let _ = tx.send((item.item_to_monitor().node_id.to_string(), dv));
                }),
            ))
            .await?
        }
    };
    // gone nodes
    let gone: Vec<u32> = monitored
        .iter()
        .filter(|(n, _)| !nodes.contains_key(*n))
        .map(|(_, id)| *id)
        .collect();
    for chunk in gone.chunks(CHUNK) {
        timeout(session.delete_monitored_items(sub, chunk)).await?;
    }
    // new nodes (a node refused before is asked again only if its tags changed)
    let new: Vec<&String> = nodes
        .iter()
        .filter(|(n, tags)| !monitored.contains_key(*n) && had.get(*n) != Some(tags))
        .map(|(n, _)| n)
        .collect();
    let mut refused = Vec::new();
    for chunk in new.chunks(CHUNK) {
        let items: Vec<MonitoredItemCreateRequest> = chunk
            .iter()
            .map(|n| {
                MonitoredItemCreateRequest::new(
                    ReadValueId::from(NodeId::from_str(n).unwrap_or_else(|_| NodeId::null())),
                    MonitoringMode::Reporting,
                    MonitoringParameters {
                        sampling_interval: settings.interval.as_secs_f64() * 1000.0,
                        // changes between two publications are kept, up to 10
                        queue_size: 10,
                        discard_oldest: true,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let created =
            timeout(session.create_monitored_items(sub, TimestampsToReturn::Both, items)).await?;
        for (node, c) in chunk.iter().zip(created) {
            if c.result.status_code.is_bad() {
                refused.push(((*node).clone(), c.result.status_code));
            }
        }
    }
    if !refused.is_empty() {
        let now = now_ms();
        let batch: Vec<Sample> = refused
            .iter()
            .flat_map(|(node, code)| {
                nodes.get(node).into_iter().flatten().map(move |t| Sample {
                    tag: *t,
                    ts_ms: now,
                    value: None,
                    quality: Quality::Bad(reason(*code)),
                })
            })
            .collect();
        engine.publish(batch);
        let (node, code) = &refused[0];
        record_error(
            status,
            &format!("{} node(s) refused, e.g. {node}: {code}", refused.len()),
        );
    }
    // tags added to nodes that were monitored already: read their value once
    let grown: HashMap<String, Vec<u32>> = nodes
        .iter()
        .filter(|(n, tags)| monitored.contains_key(*n) && had.get(*n) != Some(tags))
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    if !grown.is_empty() {
        refresh(session, engine, defs, &grown, link, status).await;
    }
    Ok(())
}

/// Reads every node once and publishes the values (after a reconnect).
async fn refresh(
    session: &Arc<Session>,
    engine: &Arc<Engine>,
    defs: &Defs,
    nodes: &HashMap<String, Vec<u32>>,
    link: &Link,
    status: &Status,
) {
    let list: Vec<&String> = nodes.keys().collect();
    for chunk in list.chunks(CHUNK) {
        let ids: Vec<ReadValueId> = chunk
            .iter()
            .map(|n| ReadValueId::from(NodeId::from_str(n).unwrap_or_else(|_| NodeId::null())))
            .collect();
        match timeout(session.read(&ids, TimestampsToReturn::Both, 0.0)).await {
            Ok(values) => {
                let now = now_ms();
                let mut batch = Vec::new();
                for (node, dv) in chunk.iter().zip(values) {
                    take_value(node, &dv, nodes, defs, link, now, &mut batch);
                }
                engine.publish(batch);
            }
            Err(e) => {
                record_error(status, &format!("read: {e}"));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_and_endpoints_are_checked() {
        assert_eq!(
            canonical_node(" ns=2;s=R101.TT101 ").as_deref(),
            Some("ns=2;s=R101.TT101")
        );
        assert_eq!(canonical_node("ns=0;i=2253").as_deref(), Some("i=2253"));
        assert_eq!(
            canonical_node("ns=3;i=1042").as_deref(),
            Some("ns=3;i=1042")
        );
        assert_eq!(canonical_node("R101.TT101"), None);
        assert_eq!(canonical_node(""), None);
        assert!(valid_endpoint("opc.tcp://10.0.0.5:4840"));
        assert!(valid_endpoint("opc.tcp://plc-1:4840/freeopcua/server/"));
        assert!(!valid_endpoint("http://10.0.0.5:4840"));
        assert!(!valid_endpoint("opc.tcp://:4840"));
        assert!(!valid_endpoint("opc.tcp://a b"));
    }

    #[test]
    fn values_become_samples_of_the_tag_type() {
        use crate::tags::model::DataType;
        let mut t = crate::tags::service::blank_tag(
            "R101.TT101",
            DataType::Float,
            Source::OpcUa {
                device: 1,
                node_id: "ns=2;s=x".into(),
            },
        );
        t.id = 7;
        let now = now_ms();
        let s = sample(&t, &DataValue::new_now(Variant::Float(21.5)), now);
        assert_eq!(s.value, Some(Value::Float(21.5)));
        let s = sample(&t, &DataValue::new_now(Variant::Float(0.42)), now);
        assert_eq!(s.value, Some(Value::Float(0.42)), "f32 as written");
        assert_eq!(s.quality, Quality::Good);
        // a server clock far off: the time of arrival is used
        let mut dv = DataValue::new_now(Variant::Int16(3));
        dv.source_timestamp = Some(::opcua::types::DateTime::ymd(2001, 1, 1));
        dv.server_timestamp = None;
        assert_eq!(sample(&t, &dv, now).ts_ms, now);
        // bad status: no value, the reason from the status
        let mut dv = DataValue::new_now(Variant::Double(1.0));
        dv.status = Some(StatusCode::BadNodeIdUnknown);
        let s = sample(&t, &dv, now);
        assert_eq!(s.quality, Quality::Bad(Reason::ConfigError));
        assert_eq!(s.value, None);
        // a structure does not fit a float tag
        let dv = DataValue::new_now(Variant::ByteString(vec![1u8, 2].into()));
        assert_eq!(sample(&t, &dv, now).quality, Quality::Bad(Reason::BadValue));
        assert_eq!(tag_type(VariantScalarTypeId::UInt16), "int");
    }

    #[test]
    fn writes_fit_the_node_type_exactly_or_are_refused() {
        use crate::tags::model::{DataType, Scaling};
        use VariantScalarTypeId as T;
        let t = crate::tags::service::blank_tag(
            "SP",
            DataType::Int,
            Source::OpcUa {
                device: 1,
                node_id: "ns=2;s=x".into(),
            },
        );
        let w = |v: Value, ty| typed_value(&t, &v, ty);
        assert_eq!(w(Value::Int(-3), T::Int16), Some(Variant::Int16(-3)));
        assert_eq!(
            w(Value::Int(-32768), T::Int16),
            Some(Variant::Int16(-32768))
        );
        assert_eq!(w(Value::Int(-32769), T::Int16), None);
        assert_eq!(w(Value::Int(-1), T::UInt16), None);
        assert_eq!(w(Value::Float(-2.5), T::Int32), Some(Variant::Int32(-3)));
        assert_eq!(w(Value::Float(f64::NAN), T::Int32), None);
        assert_eq!(w(Value::Float(1e30), T::Int64), None);
        assert_eq!(
            w(Value::Int(i64::MAX), T::Int64),
            Some(Variant::Int64(i64::MAX))
        );
        assert_eq!(w(Value::Float(1e39), T::Float), None);
        assert_eq!(w(Value::Float(0.5), T::Double), Some(Variant::Double(0.5)));
        assert_eq!(w(Value::Int(1), T::Boolean), Some(Variant::Boolean(true)));
        assert_eq!(w(Value::Int(2), T::Boolean), None);
        assert_eq!(w(Value::Float(1.0), T::String), None);
        // scaling is undone before the type is checked: 50 % of 0–4000 raw
        let mut scaled = t.clone();
        scaled.scaling = Some(Scaling {
            raw_lo: 0.0,
            raw_hi: 4000.0,
            eng_lo: 0.0,
            eng_hi: 100.0,
        });
        assert_eq!(
            typed_value(&scaled, &Value::Float(50.0), T::UInt16),
            Some(Variant::UInt16(2000))
        );
    }

    #[test]
    fn a_changed_server_certificate_is_refused_until_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let url = "opc.tcp://10.0.0.5:4840/";
        assert!(check_pin(dir.path(), 3, url, b"cert one").is_ok());
        assert!(check_pin(dir.path(), 3, url, b"cert one").is_ok());
        let e = check_pin(dir.path(), 3, url, b"cert two").unwrap_err();
        assert!(e.contains("certificate changed"), "{e}");
        // another device, or the same device at another address, pins its own
        assert!(check_pin(dir.path(), 4, url, b"cert two").is_ok());
        assert!(check_pin(dir.path(), 3, "opc.tcp://10.0.0.6:4840/", b"cert two").is_ok());
        assert!(forget_pin(dir.path(), 3).unwrap());
        assert!(check_pin(dir.path(), 3, url, b"cert two").is_ok());
        assert_eq!(tag_type(VariantScalarTypeId::Boolean), "bool");
    }
}
