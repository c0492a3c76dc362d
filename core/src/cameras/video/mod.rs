//! Video: each camera in use is pulled once over RTSP (`ingest`), its H.264/H.265 access
//! units shared by every live viewer (fragmented MP4 for Media Source Extensions) and the
//! recorder (`record`: segment files under the data dir, indexed in the store). Nothing is
//! decoded or transcoded.
//!
//! A camera is in use while someone watches it, while its recording mode asks for its
//! stream (events: for the pre-roll of alarm clips; continuous), or while a permit at work
//! in a zone it covers needs its video. [`Video::supervise`] starts and stops the ingest
//! tasks once a second.

pub mod fmp4;
mod ingest;
pub mod record;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

use super::Camera;
use crate::store::Store;

/// How long a camera nobody needs keeps its connection (a viewer reloading a page).
const IDLE: Duration = Duration::from_secs(20);
/// Frames a slow viewer or the recorder may fall behind before it skips to a key frame.
const FANOUT: usize = 512;
/// Frames kept for the pre-roll at most (60 s at 25 fps plus a GOP).
const MAX_BUFFERED: usize = 2_000;

/// What a stream is, from its parameter sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// RFC 6381 codec (`avc1.64001F`, `hvc1.1.6.L93.B0`).
    pub codec: String,
    pub h265: bool,
    pub width: u32,
    pub height: u32,
    /// The `avc1`/`hvc1` box.
    pub sample_entry: Vec<u8>,
    /// `ftyp moov` of a fragmented MP4 with this sample entry.
    pub init: Bytes,
}

impl Params {
    pub fn new(codec: String, width: u32, height: u32, sample_entry: Vec<u8>) -> Params {
        let init = Bytes::from(fmp4::init_segment(&sample_entry, width, height));
        Params {
            h265: codec.starts_with("hvc1") || codec.starts_with("hev1"),
            codec,
            width,
            height,
            sample_entry,
            init,
        }
    }
}

/// One access unit from a camera.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Counts the camera's connections: times restart with each.
    pub epoch: u64,
    /// 90 kHz units since the connection's first frame.
    pub time: u64,
    /// When it arrived (UTC ms).
    pub wall_ms: i64,
    pub key: bool,
    /// 4-byte length-prefixed NAL units.
    pub data: Bytes,
    pub params: Arc<Params>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Not in use: no connection.
    #[default]
    Idle,
    Connecting,
    Connected,
    /// The last attempt failed; retrying after a pause.
    Failed,
}

/// What the cameras page and `/metrics` show of a camera's stream.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Status {
    pub state: LinkState,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// Over the last 5 seconds.
    pub bitrate_bps: u64,
    pub fps: f64,
    pub frames: u64,
    pub bytes: u64,
    /// Connections made after the first.
    pub reconnects: u64,
    pub last_error: String,
    /// What kind of failure it was (`cameras.fail.<key>`): credentials, unreachable,
    /// timeout, stalled, ended, codec, no_video, flood, other.
    pub error_key: String,
    /// When the last error happened (UTC ms).
    pub last_error_ms: Option<i64>,
    /// Since when the state holds (UTC ms).
    pub since_ms: i64,
    pub viewers: usize,
    /// Being written to a recording now.
    pub recording: bool,
    /// The browser cannot be expected to play this codec (H.265 outside Safari/Edge).
    pub h265: bool,
}

/// A camera's shared stream.
pub struct Feed {
    pub camera: u32,
    tx: broadcast::Sender<Arc<Frame>>,
    /// Frames from a key frame at least the pre-roll back: alarm clips start before the
    /// alarm, live views start at the newest key frame without waiting for the next.
    buffer: Mutex<VecDeque<Arc<Frame>>>,
    status: Mutex<Status>,
    viewers: AtomicUsize,
    /// The ingest task and the camera settings it runs with.
    task: Mutex<Option<(tokio::task::JoinHandle<()>, Camera)>>,
    last_needed: Mutex<Instant>,
    preroll_ms: std::sync::atomic::AtomicI64,
    /// Connections so far, over every ingest task: a frame's epoch never repeats.
    epochs: std::sync::atomic::AtomicU64,
}

impl Feed {
    fn new(camera: u32) -> Feed {
        Feed {
            camera,
            tx: broadcast::channel(FANOUT).0,
            buffer: Mutex::default(),
            status: Mutex::default(),
            viewers: AtomicUsize::new(0),
            task: Mutex::default(),
            last_needed: Mutex::new(Instant::now()),
            preroll_ms: std::sync::atomic::AtomicI64::new(10_000),
            epochs: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn status(&self) -> Status {
        let mut s = self.status.lock().expect("status lock").clone();
        s.viewers = self.viewers.load(Ordering::Relaxed);
        s
    }

    /// The epoch of a new connection.
    fn next_epoch(&self) -> u64 {
        self.epochs.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn set_status(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().expect("status lock"))
    }

    /// Hands a frame to the viewers and the recorder, and keeps it for the pre-roll.
    fn publish(&self, frame: Arc<Frame>) {
        {
            let mut b = self.buffer.lock().expect("buffer lock");
            if b.back()
                .is_some_and(|l| l.epoch != frame.epoch || l.params != frame.params)
            {
                b.clear();
            }
            if frame.key {
                // start at the newest key frame at or before the pre-roll
                let keep_from = frame.wall_ms - self.preroll_ms.load(Ordering::Relaxed);
                if let Some(i) = b.iter().rposition(|f| f.key && f.wall_ms <= keep_from) {
                    b.drain(..i);
                }
            }
            if b.len() >= MAX_BUFFERED {
                // a camera with a very long GOP: wait for the next key frame
                b.clear();
            }
            if frame.key || !b.is_empty() {
                b.push_back(frame.clone());
            }
        }
        let _ = self.tx.send(frame);
    }

    /// The buffered frames from the first at or after `from_ms` that starts a GOP (or the
    /// newest key frame when `from_ms` is None), and a receiver for what follows.
    pub fn follow(
        &self,
        from_ms: Option<i64>,
    ) -> (Vec<Arc<Frame>>, broadcast::Receiver<Arc<Frame>>) {
        let b = self.buffer.lock().expect("buffer lock");
        let rx = self.tx.subscribe();
        let start = match from_ms {
            None => b.iter().rposition(|f| f.key),
            Some(t) => b
                .iter()
                .rposition(|f| f.key && f.wall_ms <= t)
                .or_else(|| b.iter().position(|f| f.key)),
        };
        let frames = start
            .map(|i| b.iter().skip(i).cloned().collect())
            .unwrap_or_default();
        (frames, rx)
    }

    fn clear(&self) {
        self.buffer.lock().expect("buffer lock").clear();
    }
}

/// Decrements a camera's viewer count when a live view ends.
pub struct Viewer(Arc<Feed>);

impl Viewer {
    pub fn feed(&self) -> &Arc<Feed> {
        &self.0
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.0.viewers.fetch_sub(1, Ordering::Relaxed);
        *self.0.last_needed.lock().expect("lock") = Instant::now();
    }
}

/// Every camera's stream, and the recorder.
pub struct Video {
    store: Arc<Store>,
    feeds: Mutex<HashMap<u32, Arc<Feed>>>,
    rt: Mutex<Option<tokio::runtime::Handle>>,
    offset: time::UtcOffset,
    /// Permit → since when its work has had no camera recording it (UTC ms).
    unwatched: Mutex<HashMap<u64, i64>>,
    /// The box's own test camera (`rtsp://testcam.nplusx/…`), started when first used.
    testcam: Mutex<Option<u16>>,
    pub recorder: record::Recorder,
}

impl Video {
    /// `offset`: the plant's UTC offset, for times in alerts.
    pub fn new(store: Arc<Store>, data_dir: &std::path::Path, offset: time::UtcOffset) -> Video {
        Video {
            offset,
            recorder: record::Recorder::new(store.clone(), data_dir.join("video")),
            store,
            feeds: Mutex::default(),
            rt: Mutex::default(),
            testcam: Mutex::default(),
            unwatched: Mutex::default(),
        }
    }

    pub fn feed(&self, camera: u32) -> Arc<Feed> {
        self.feeds
            .lock()
            .expect("feeds lock")
            .entry(camera)
            .or_insert_with(|| Arc::new(Feed::new(camera)))
            .clone()
    }

    /// Status of every camera that has had a stream.
    pub fn statuses(&self) -> HashMap<u32, Status> {
        self.feeds
            .lock()
            .expect("feeds lock")
            .iter()
            .map(|(id, f)| (*id, f.status()))
            .collect()
    }

    pub fn status(&self, camera: u32) -> Status {
        self.feed(camera).status()
    }

    /// Registers a viewer and makes sure the camera is being pulled.
    pub fn watch(&self, camera: &Camera) -> Viewer {
        let feed = self.feed(camera.id);
        feed.viewers.fetch_add(1, Ordering::Relaxed);
        *feed.last_needed.lock().expect("lock") = Instant::now();
        self.ensure(camera, &feed);
        Viewer(feed)
    }

    fn ensure(&self, camera: &Camera, feed: &Arc<Feed>) {
        let mut task = feed.task.lock().expect("task lock");
        if let Some((h, running)) = task.as_ref() {
            if running == camera && !h.is_finished() {
                return;
            }
            h.abort();
            feed.clear();
        }
        let Some(rt) = self.rt.lock().expect("rt lock").clone() else {
            return;
        };
        let password = self
            .store
            .sealer()
            .ok()
            .and_then(|s| s.reveal(&camera.password))
            .unwrap_or_default();
        let mut target = camera.clone();
        if let Some(rest) = camera
            .rtsp_url
            .strip_prefix(&format!("rtsp://{}", super::testcam::HOST))
        {
            let mut port = self.testcam.lock().expect("testcam lock");
            if port.is_none() {
                match super::testcam::start(&rt) {
                    Ok(p) => *port = Some(p),
                    Err(e) => tracing::error!(error = %e, "test camera not started"),
                }
            }
            if let Some(p) = *port {
                target.rtsp_url = format!("rtsp://127.0.0.1:{p}{rest}");
            }
        }
        let h = rt.spawn(ingest::run(feed.clone(), target, password));
        *task = Some((h, camera.clone()));
    }

    fn stop(&self, feed: &Feed) {
        if let Some((h, _)) = feed.task.lock().expect("task lock").take() {
            h.abort();
            feed.clear();
            feed.set_status(|s| {
                s.state = LinkState::Idle;
                s.bitrate_bps = 0;
                s.fps = 0.0;
                s.since_ms = crate::util::now_ms();
            });
        }
    }

    /// Starts the supervisor and the recorder on the I/O runtime.
    pub fn start(self: &Arc<Self>, rt: &tokio::runtime::Handle) {
        *self.rt.lock().expect("rt lock") = Some(rt.clone());
        let me = self.clone();
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let m = me.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || m.supervise()).await {
                    tracing::error!(error = %e, "video supervisor failed");
                }
            }
        });
    }

    /// Once a second: which cameras are needed (viewers, recording modes, permits at
    /// work), their ingest started or stopped, and the recorder told what to record.
    pub fn supervise(&self) {
        let cams = match self
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| super::cameras(&r))
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "video: cameras not read");
                return;
            }
        };
        let now = crate::util::now_ms();
        let wanted = self.recorder.plan(&cams, now);
        for c in &cams {
            let feed = self.feed(c.id);
            feed.preroll_ms
                .store(self.recorder.preroll_ms(), Ordering::Relaxed);
            let usable = c.enabled && !c.rtsp_url.is_empty();
            let needed =
                usable && (feed.viewers.load(Ordering::Relaxed) > 0 || wanted.needs_stream(c.id));
            if needed {
                *feed.last_needed.lock().expect("lock") = Instant::now();
            }
            let idle_long = feed.last_needed.lock().expect("lock").elapsed() > IDLE;
            if usable && (needed || !idle_long) {
                if needed {
                    self.ensure(c, &feed);
                }
            } else {
                self.stop(&feed);
            }
            self.recorder.drive(c, &feed, &wanted, now);
        }
        // cameras deleted since
        let gone: Vec<Arc<Feed>> = self
            .feeds
            .lock()
            .expect("feeds lock")
            .values()
            .filter(|f| !cams.iter().any(|c| c.id == f.camera))
            .cloned()
            .collect();
        for f in gone {
            self.stop(&f);
            self.recorder.stop(f.camera);
        }
        self.recorder.housekeep(now);
        self.watch_permits(&cams, &wanted.works, now);
    }

    /// A 特级 hot-work permit at work that has had no camera recording it for 20 s (none
    /// covers its location, or they are down): an alert to the safety department and the
    /// guardian, standing until the video is back.
    fn watch_permits(
        &self,
        cams: &[Camera],
        works: &[crate::modules::safety::permits::service::VideoWork],
        now: i64,
    ) {
        const GRACE_MS: i64 = 20_000;
        let mut unwatched = self.unwatched.lock().expect("unwatched lock");
        let mut standing = Vec::new();
        // GB 30871 asks full video of 特级 hot work (confined-space work is recorded, but
        // its monitoring is the guardian's and the detectors')
        for w in works.iter().filter(|w| w.special) {
            let recorded = cams
                .iter()
                .filter(|c| c.enabled && c.zones.iter().any(|z| w.zones.contains(z)))
                .any(|c| {
                    let st = self.feed(c.id).status();
                    st.recording && st.state == LinkState::Connected
                });
            if recorded {
                unwatched.remove(&w.id);
                continue;
            }
            let since = *unwatched.entry(w.id).or_insert(now);
            if now - since < GRACE_MS {
                continue;
            }
            let msg = crate::i18n::Msg::new("cameras.alert.permit_unwatched")
                .arg("number", &w.number)
                .arg(
                    "since",
                    crate::plant_time::format_minute(since, self.offset),
                );
            standing.push(crate::alerts::Raise {
                source: format!("cameras.permit_video:{}", w.id),
                priority: crate::alarms::model::Priority::High,
                text: crate::alarms::model::Text {
                    zh: msg.render(crate::i18n::Lang::ZhCn),
                    en: msg.render(crate::i18n::Lang::En),
                },
                link: format!("/safety/permits/{}#video", w.id),
                route: crate::alerts::Route::holders("safety", crate::auth::model::Level::Write)
                    .owners(w.guardian_id),
            });
        }
        unwatched.retain(|id, _| works.iter().any(|w| w.id == *id));
        drop(unwatched);
        if let Err(e) = crate::alerts::sync(
            &self.store,
            "integration",
            &["cameras.permit_video:"],
            standing,
            now,
        ) {
            tracing::warn!(error = %e, "permit video alerts not synced");
        }
    }
}

/// Gives up after `max` for the first frame of a camera that is being (re)connected.
pub async fn first_frames(
    feed: &Feed,
    max: Duration,
) -> Option<(Vec<Arc<Frame>>, broadcast::Receiver<Arc<Frame>>)> {
    let deadline = tokio::time::Instant::now() + max;
    let (frames, mut rx) = feed.follow(None);
    if !frames.is_empty() {
        return Some((frames, rx));
    }
    // wait for a key frame
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            Ok(Ok(f)) if f.key => return Some((vec![f], rx)),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
        }
    }
}

/// Turns frames into fMP4 fragments of one frame each (a frame's duration is known when
/// the next arrives). Used by live views.
#[derive(Default)]
pub struct LiveMuxer {
    pending: Option<Arc<Frame>>,
    seq: u32,
}

impl LiveMuxer {
    /// The fragment of the frame before `f`, if any.
    pub fn push(&mut self, f: Arc<Frame>) -> Option<Vec<u8>> {
        let prev = self.pending.replace(f.clone())?;
        let duration = f.time.saturating_sub(prev.time).clamp(1, 90_000 * 5) as u32;
        self.seq += 1;
        Some(fmp4::fragment(
            self.seq,
            prev.time,
            &[fmp4::Sample {
                duration,
                size: prev.data.len() as u32,
                key: prev.key,
            }],
            &prev.data,
        ))
    }
}
