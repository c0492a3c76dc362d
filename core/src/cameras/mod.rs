//! Cameras (the video part of 数据互通): a registry of the plant's cameras with their RTSP
//! stream and snapshot addresses, snapshots fetched through the box (browsers never see a
//! camera's credentials, and need not reach the video network), and a snapshot of each
//! camera in an alarm's area taken when the alarm is raised and kept with it for 30 days.
//!
//! Snapshot URLs are HTTP(S) (Hikvision `/ISAPI/Streaming/channels/101/picture`, Dahua
//! `/cgi-bin/snapshot.cgi`…) with Basic or Digest authentication (http-auth). Credentials are
//! sealed like every other secret. Owns the `cameras.*` tables.

pub mod routes;
pub mod testcam;
pub mod video;
pub mod video_routes;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alarms::model::{Event, EventKind};
use crate::error::{self, Error, Result};
use crate::i18n::Msg;
use crate::secrets::Secret;
use crate::store::{Actor, Change, Order, Reader, Store, Table};

const CAMERAS: Table<u64, Camera> = Table::new("cameras.defs");
/// (time taken, camera id) → which alarms a snapshot belongs to (no image: lists stay cheap).
const SNAPS: Table<(u64, u64), Snap> = Table::new("cameras.snaps");
/// (time taken, camera id) → the image.
const IMAGES: Table<(u64, u64), Image> = Table::new("cameras.images");
/// Alarms raised within this long of a camera's last snapshot share it.
const SHARE_MS: u128 = 30_000;
/// Largest snapshot accepted.
pub const MAX_SNAPSHOT: u64 = 5 << 20;
const KEEP_MS: i64 = 30 * 86_400_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Camera {
    pub id: u32,
    pub name: String,
    /// Plant area: its snapshots show on the area's pages and with its alarms.
    #[serde(default)]
    pub area: String,
    /// `rtsp://…` for the plant's video system (no credentials in it).
    #[serde(default)]
    pub rtsp_url: String,
    /// `http(s)://…` returning a JPEG.
    #[serde(default)]
    pub snapshot_url: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    pub enabled: bool,
    /// What the box records of this camera besides permit work in its zones.
    #[serde(default)]
    pub recording: Recording,
    /// Plant-map zones this camera sees: permits at work there are recorded with it.
    #[serde(default)]
    pub zones: Vec<u64>,
}

/// A camera's own recording mode. Permit work in the zones it covers is recorded whatever
/// the mode (GB 30871).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recording {
    /// Only permit work; no stream kept unless someone watches.
    Off,
    /// Alarm clips (pre-roll and post-roll) and permit work.
    #[default]
    Events,
    /// Always, plus the reasons above (kept as long as the longest asks).
    Continuous,
}

impl Recording {
    pub fn id(self) -> &'static str {
        match self {
            Recording::Off => "off",
            Recording::Events => "events",
            Recording::Continuous => "continuous",
        }
    }
    pub fn parse(s: &str) -> Option<Recording> {
        [Recording::Off, Recording::Events, Recording::Continuous]
            .into_iter()
            .find(|r| r.id() == s)
    }
}

impl Camera {
    pub fn redacted(&self) -> Camera {
        Camera {
            password: self.password.redacted(),
            ..self.clone()
        }
    }
}

/// A stored alarm snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snap {
    pub alarms: Vec<u32>,
    pub content_type: String,
}

/// A snapshot's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image(#[serde(with = "serde_bytes")] pub Vec<u8>);

/// What the console lists for an alarm: where to fetch each snapshot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SnapRef {
    pub ts_ms: i64,
    pub camera: u32,
    pub camera_name: String,
}

pub fn cameras(r: &impl Reader) -> Result<Vec<Camera>> {
    Ok(r.values(&CAMERAS)?)
}

pub fn camera(r: &impl Reader, id: u32) -> Result<Camera> {
    r.get(&CAMERAS, &(id as u64))?
        .ok_or_else(|| Error::not_found("cameras.err.not_found"))
}

fn check_url(field: &'static str, u: &str, schemes: &[&str]) -> Result<String> {
    let u = u.trim();
    if u.is_empty() {
        return Ok(String::new());
    }
    let scheme_ok = schemes.iter().any(|s| u.starts_with(&format!("{s}://")));
    let rest = u.split_once("://").map_or("", |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    if !scheme_ok || host.is_empty() || u.len() > 1000 || u.contains(char::is_whitespace) {
        return Err(Error::invalid(field, "cameras.err.url"));
    }
    if host.contains('@') {
        // credentials in a URL end up in logs and browsers; they belong in the fields
        return Err(Error::invalid(field, "cameras.err.url_credentials"));
    }
    Ok(u.to_string())
}

/// Creates (`id` 0) or replaces a camera.
pub fn save(store: &Store, actor: &Actor, input: Camera) -> Result<Camera> {
    let sealer = store.sealer()?;
    let mut w = store.write(actor)?;
    let before = if input.id == 0 {
        None
    } else {
        Some(camera(&w, input.id)?)
    };
    let mut c = Camera {
        name: error::text("name", &input.name, 64, true)?,
        area: error::text("area", &input.area, 40, false)?,
        rtsp_url: check_url("rtsp_url", &input.rtsp_url, &["rtsp", "rtsps"])?,
        snapshot_url: check_url("snapshot_url", &input.snapshot_url, &["http", "https"])?,
        username: error::text("username", &input.username, 128, false)?,
        password: {
            let old = before.as_ref().map(|b| &b.password);
            let same = before.as_ref().is_some_and(|b| {
                crate::secrets::origin(&b.snapshot_url)
                    == crate::secrets::origin(input.snapshot_url.trim())
            });
            crate::secrets::check_keep("password", &input.password, old, same)?;
            sealer.seal(&input.password, old)?
        },
        ..input
    };
    c.zones.sort_unstable();
    c.zones.dedup();
    if !c.zones.is_empty() {
        let known = crate::modules::safety::people::service::zones(&w)?;
        if let Some(z) = c.zones.iter().find(|z| !known.iter().any(|k| k.id == **z)) {
            return Err(Error::invalid_msg(
                "zones",
                Msg::new("cameras.err.zone").arg("zone", z),
            ));
        }
    }
    if c.rtsp_url.is_empty() && c.snapshot_url.is_empty() {
        return Err(Error::invalid("snapshot_url", "cameras.err.no_url"));
    }
    if c.id == 0 {
        c.id = w.next_u32_id(&CAMERAS)?;
    }
    w.insert(&CAMERAS, &(c.id as u64), &c)?;
    w.audit_saved(
        "cameras.camera",
        format!("camera:{} {}", c.id, c.name),
        before.map(|b| b.redacted()),
        c.redacted(),
    );
    w.commit()?;
    Ok(c)
}

pub fn delete(store: &Store, actor: &Actor, id: u32) -> Result<()> {
    let mut w = store.write(actor)?;
    // a permit's video is evidence: its camera stays until the footage's retention ends
    if video::record::holds_evidence(&w, id, crate::util::now_ms())? {
        return Err(Error::Conflict(Msg::new("cameras.err.has_evidence")));
    }
    let before = w
        .remove(&CAMERAS, &(id as u64))?
        .ok_or_else(|| Error::not_found("cameras.err.not_found"))?;
    w.audit(
        "cameras.camera.delete",
        format!("camera:{id} {}", before.name),
        Change::deleted(before.redacted()),
    );
    w.commit()?;
    Ok(())
}

/// Fetches a camera's snapshot now: (content type, bytes). Answers a Basic or Digest
/// challenge once. Errors say what the camera did, for the console.
pub fn fetch(store: &Store, c: &Camera) -> std::result::Result<(String, Vec<u8>), String> {
    if c.snapshot_url.is_empty() {
        return Err("no snapshot address".into());
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(8)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .get(&c.snapshot_url)
        .call()
        .map_err(|e| e.to_string())?;
    if r.status() == 401 && !c.username.is_empty() {
        let challenge = r
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let mut client = http_auth::PasswordClient::try_from(challenge.as_str())?;
        let password = store
            .sealer()
            .ok()
            .and_then(|s| s.reveal(&c.password))
            .unwrap_or_default();
        let uri = c
            .snapshot_url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/");
        let auth = client.respond(&http_auth::PasswordParams {
            username: &c.username,
            password: &password,
            uri,
            method: "GET",
            body: Some(&[]),
        })?;
        r = agent
            .get(&c.snapshot_url)
            .header("Authorization", &auth)
            .call()
            .map_err(|e| e.to_string())?;
    }
    if !r.status().is_success() {
        return Err(format!("HTTP {}", r.status()));
    }
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = r
        .body_mut()
        .with_config()
        .limit(MAX_SNAPSHOT)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    // trust the bytes, not the header: cameras mislabel JPEGs, proxies return HTML errors
    let kind = infer::get(&bytes).map(|k| k.mime_type()).unwrap_or("");
    if !kind.starts_with("image/") {
        return Err(format!("not an image ({ct})"));
    }
    Ok((kind.to_string(), bytes))
}

/// Snapshots kept for an alarm (its raises in the last 30 days), newest first.
pub fn snaps_of(r: &impl Reader, alarm: u32, cameras: &[Camera]) -> Result<Vec<SnapRef>> {
    let from = (crate::util::now_ms() - KEEP_MS).max(0) as u64;
    let mut out = Vec::new();
    r.visit(
        &SNAPS,
        (from, 0)..=(u64::MAX, u64::MAX),
        Order::Desc,
        |(ts, cam), s| {
            if s.alarms.contains(&alarm) {
                out.push(SnapRef {
                    ts_ms: ts as i64,
                    camera: cam as u32,
                    camera_name: cameras
                        .iter()
                        .find(|c| c.id as u64 == cam)
                        .map(|c| c.name.clone())
                        .unwrap_or_default(),
                });
            }
            if out.len() >= 24 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        },
    )?;
    Ok(out)
}

/// A stored snapshot: (content type, bytes).
pub fn snap(r: &impl Reader, ts_ms: i64, camera: u32) -> Result<(String, Vec<u8>)> {
    let key = (ts_ms.max(0) as u64, camera as u64);
    let meta = r
        .get(&SNAPS, &key)?
        .ok_or_else(|| Error::not_found("cameras.err.not_found"))?;
    let img = r
        .get(&IMAGES, &key)?
        .ok_or_else(|| Error::not_found("cameras.err.not_found"))?;
    Ok((meta.content_type, img.0))
}

/// Per camera: the last snapshot stored for alarms, and whether one is being taken.
#[derive(Default)]
struct CamState {
    last: Option<(u64, std::time::Instant)>,
    busy: bool,
}

type States = std::sync::Mutex<std::collections::HashMap<u32, CamState>>;

/// Attaches snapshots of a raised alarm's area: each camera is photographed at most once per
/// 30 s and at most one fetch per camera runs at a time (an alarm flood does not hammer the
/// cameras or fill the disk); alarms within the 30 s share the picture. Prunes past 30 days.
fn attach(store: &Store, e: &Event, states: &States) -> Result<usize> {
    let list: Vec<Camera> = cameras(&store.read()?)?
        .into_iter()
        .filter(|c| {
            c.enabled && !c.snapshot_url.is_empty() && !e.area.is_empty() && c.area == e.area
        })
        .collect();
    let mut n = 0;
    for c in &list {
        enum Plan {
            Share(u64),
            Take,
            Skip,
        }
        let plan = {
            let mut st = states.lock().expect("camera lock is never poisoned");
            let s = st.entry(c.id).or_default();
            match s.last {
                Some((ts, at)) if at.elapsed().as_millis() < SHARE_MS => Plan::Share(ts),
                _ if s.busy => Plan::Skip,
                _ => {
                    s.busy = true;
                    Plan::Take
                }
            }
        };
        let key_ts = e.ts_ms.max(0) as u64;
        match plan {
            Plan::Skip => {}
            Plan::Share(ts) => {
                let mut w = store.write(&Actor::system("cameras"))?;
                if let Some(mut s) = w.get(&SNAPS, &(ts, c.id as u64))? {
                    if !s.alarms.contains(&e.alarm) {
                        s.alarms.push(e.alarm);
                    }
                    w.insert(&SNAPS, &(ts, c.id as u64), &s)?;
                    n += 1;
                }
                w.commit()?;
            }
            Plan::Take => {
                let taken = fetch(store, c);
                let stored = match taken {
                    Ok((content_type, bytes)) => (|| {
                        let mut w = store.write(&Actor::system("cameras"))?;
                        let key = (key_ts, c.id as u64);
                        w.insert(
                            &SNAPS,
                            &key,
                            &Snap {
                                alarms: vec![e.alarm],
                                content_type,
                            },
                        )?;
                        w.insert(&IMAGES, &key, &Image(bytes))?;
                        let cutoff = (crate::util::now_ms() - KEEP_MS).max(0) as u64;
                        w.remove_range(&SNAPS, (0, 0)..(cutoff, 0))?;
                        w.remove_range(&IMAGES, (0, 0)..(cutoff, 0))?;
                        w.commit()
                    })()
                    .map(|_| true)
                    .map_err(Error::from),
                    Err(why) => {
                        tracing::warn!(camera = %c.name, error = %why, "alarm snapshot failed");
                        Ok(false)
                    }
                };
                let mut st = states.lock().expect("camera lock is never poisoned");
                let s = st.entry(c.id).or_default();
                s.busy = false;
                if matches!(stored, Ok(true)) {
                    s.last = Some((key_ts, std::time::Instant::now()));
                    n += 1;
                }
                stored?;
            }
        }
    }
    Ok(n)
}

/// Follows the alarm events and attaches snapshots to raised alarms. Run on the I/O runtime.
pub async fn follow_alarms(
    store: Arc<Store>,
    video: Arc<video::Video>,
    mut events: tokio::sync::broadcast::Receiver<Event>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let states: Arc<States> = Arc::default();
    loop {
        match events.recv().await {
            Ok(e) if e.kind == EventKind::Raised && !e.area.is_empty() => {
                if let Ok(cams) = store
                    .read()
                    .map_err(crate::error::Error::from)
                    .and_then(|r| cameras(&r))
                {
                    video
                        .recorder
                        .alarm_raised(&cams, &e.area, e.alarm, crate::util::now_ms());
                }
                let (st, states) = (store.clone(), states.clone());
                tokio::task::spawn_blocking(move || {
                    if let Err(err) = attach(&st, &e, &states) {
                        tracing::warn!(error = %err, "alarm snapshots not stored");
                    }
                });
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// The message for a failed live snapshot.
pub fn fetch_error(detail: String) -> Error {
    Error::Device(Msg::new("cameras.err.fetch").arg("detail", detail))
}
