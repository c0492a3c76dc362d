//! Recording: segment files (fragmented MP4, about a minute each, starting at a key frame)
//! under `<data>/video/<camera>/`, indexed in `cameras.segments`.
//!
//! What is recorded, per camera (its recording mode and [`Plan`]):
//! - `continuous`: always;
//! - every permit at work that GB 30871 wants on video (特级 hot work, confined space) in a
//!   plant-map zone the camera covers, from the start of work to its closure;
//! - alarms raised in the camera's area (modes `events` and `continuous`): from the pre-roll
//!   (kept in the feed's buffer) to the post-roll after the raise.
//!
//! Each segment keeps why it was recorded; it is kept as long as its longest reason asks
//! (permit video at least 30 days). Over the disk budget the oldest footage no permit
//! protects goes first; an alert goes to the admins at 90 % of the budget.
//!
//! Crash consistency: the index row of a segment is written (open) before its file, the
//! file is synced before its row is closed, and a row is removed before its file. At start,
//! open rows are recovered from their files (cut at the last complete fragment) and files
//! without a row are removed: a hard kill loses at most the fragment being written (≤ 1 s).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::fmp4::{self, Sample};
use super::{Feed, Frame};
use crate::cameras::{Camera, Recording};
use crate::error::{Error, Result};
use crate::i18n::Msg;
use crate::store::{Actor, Order, Reader, Store, Table};

/// (camera, start ms) → segment.
const SEGMENTS: Table<(u64, u64), Segment> = Table::new("cameras.segments");
/// The one row of recording settings.
const SETTINGS: Table<u64, VideoSettings> = Table::new("cameras.video_settings");

/// A segment ends at the first key frame after this long.
const SEGMENT_MS: i64 = 60_000;
/// A fragment is written at each key frame or after this long.
const FRAGMENT_MS: i64 = 1_000;
/// GB 30871 keeps work video at least a month: 31 days covers every month.
pub const MIN_PERMIT_DAYS: u32 = 31;
/// Clips and playback ranges longer than this are refused.
pub const MAX_CLIP_MS: i64 = 2 * 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    Continuous,
    Permit { id: u64, number: String },
    Alarm { id: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub camera: u32,
    pub start_ms: i64,
    /// Start plus the duration of its samples (while open: as of the last close or recovery).
    pub end_ms: i64,
    pub bytes: u64,
    pub frames: u64,
    /// Still being written (or was, when the box stopped: recovered at the next start).
    pub open: bool,
    pub reasons: Vec<Reason>,
    pub keep_until_ms: i64,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// File name under `video/<camera>/`.
    pub file: String,
}

impl Segment {
    /// A permit's footage is not removed for space before its retention ends.
    pub fn protected(&self, now_ms: i64) -> bool {
        self.keep_until_ms > now_ms
            && self
                .reasons
                .iter()
                .any(|r| matches!(r, Reason::Permit { .. }))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VideoSettings {
    /// Seconds before an alarm that its clip begins (kept in memory per camera).
    pub preroll_s: u32,
    /// Seconds after an alarm's raise that recording goes on.
    pub postroll_s: u32,
    pub keep_continuous_days: u32,
    pub keep_alarm_days: u32,
    /// GB 30871: work video kept at least a month, counted from the permit's closure;
    /// 31 days is the least taken.
    pub keep_permit_days: u32,
    /// Disk space for video, MB.
    pub budget_mb: u64,
}

impl Default for VideoSettings {
    fn default() -> Self {
        VideoSettings {
            preroll_s: 10,
            postroll_s: 30,
            keep_continuous_days: 7,
            keep_alarm_days: 30,
            keep_permit_days: 31,
            budget_mb: 100_000,
        }
    }
}

pub fn settings(r: &impl Reader) -> Result<VideoSettings> {
    Ok(r.get(&SETTINGS, &0)?.unwrap_or_default())
}

pub fn save_settings(store: &Store, actor: &Actor, s: VideoSettings) -> Result<VideoSettings> {
    let range = |field: &'static str, v: u32, lo: u32, hi: u32| {
        if v < lo || v > hi {
            Err(Error::invalid_msg(
                field,
                Msg::new("cameras.err.range").arg("min", lo).arg("max", hi),
            ))
        } else {
            Ok(())
        }
    };
    range("preroll_s", s.preroll_s, 0, 60)?;
    range("postroll_s", s.postroll_s, 5, 600)?;
    range("keep_continuous_days", s.keep_continuous_days, 1, 3650)?;
    range("keep_alarm_days", s.keep_alarm_days, 1, 3650)?;
    if s.keep_permit_days < MIN_PERMIT_DAYS {
        return Err(Error::invalid(
            "keep_permit_days",
            "cameras.err.permit_keep",
        ));
    }
    range(
        "keep_permit_days",
        s.keep_permit_days,
        MIN_PERMIT_DAYS,
        3650,
    )?;
    if s.budget_mb < 1_000 || s.budget_mb > 100_000_000 {
        return Err(Error::invalid("budget_mb", "cameras.err.budget"));
    }
    let mut w = store.write(actor)?;
    let before = w.get(&SETTINGS, &0)?;
    w.insert(&SETTINGS, &0, &s)?;
    w.audit_saved("cameras.video_settings", "video", before, s.clone());
    w.commit()?;
    Ok(s)
}

/// Segments of a camera overlapping `from..to`, oldest first.
pub fn segments(r: &impl Reader, camera: u32, from_ms: i64, to_ms: i64) -> Result<Vec<Segment>> {
    let mut out = Vec::new();
    // a segment starts at most an hour before its end (a minute normally)
    let lo = (from_ms - 3_600_000).max(0) as u64;
    r.visit(
        &SEGMENTS,
        (camera as u64, lo)..=(camera as u64, to_ms.max(0) as u64),
        Order::Asc,
        |_, s| {
            if s.end_ms >= from_ms || s.open {
                out.push(s);
            }
            std::ops::ControlFlow::<()>::Continue(())
        },
    )?;
    Ok(out)
}

/// Whether a camera holds permit footage still within its retention (evidence: the camera
/// is not deleted while it does).
pub fn holds_evidence(r: &impl Reader, camera: u32, now_ms: i64) -> Result<bool> {
    let mut found = false;
    r.visit(
        &SEGMENTS,
        (camera as u64, 0)..=(camera as u64, u64::MAX),
        Order::Asc,
        |_, s| {
            found = s.protected(now_ms)
                || (s.open && s.reasons.iter().any(|x| matches!(x, Reason::Permit { .. })));
            if found {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        },
    )?;
    Ok(found)
}

/// An alarm's clips (the segments recorded for it, merged per camera), newest first.
pub fn of_alarm(r: &impl Reader, alarm: u32, now_ms: i64) -> Result<Vec<Run>> {
    let segs: Vec<Segment> = r
        .values(&SEGMENTS)?
        .into_iter()
        .filter(|s| s.reasons.contains(&Reason::Alarm { id: alarm }))
        .collect();
    let mut out = runs(&segs, 2_000, now_ms);
    out.sort_by_key(|r| std::cmp::Reverse(r.from_ms));
    out.truncate(20);
    Ok(out)
}

/// Every segment (the settings page's disk use).
pub fn segments_all(r: &impl Reader) -> Result<Vec<Segment>> {
    Ok(r.values(&SEGMENTS)?)
}

/// Segments recorded for a permit, every camera, oldest first.
pub fn of_permit(r: &impl Reader, permit: u64, from_ms: i64, to_ms: i64) -> Result<Vec<Segment>> {
    let mut out: Vec<Segment> = r
        .values(&SEGMENTS)?
        .into_iter()
        .filter(|s| s.end_ms >= from_ms && s.start_ms <= to_ms)
        .filter(|s| {
            s.reasons
                .iter()
                .any(|x| matches!(x, Reason::Permit { id, .. } if *id == permit))
        })
        .collect();
    out.sort_by_key(|s| (s.start_ms, s.camera));
    Ok(out)
}

/// Whether one run (one camera, no hole over the runs' gap) covers `from..to`.
pub fn covered(runs: &[Run], from_ms: i64, to_ms: i64) -> bool {
    runs.iter()
        .any(|r| r.from_ms <= from_ms && r.to_ms >= to_ms)
}

/// Segments that follow each other on one camera, merged: what a timeline draws and a
/// permit lists (a one-minute segment is too small to pick).
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub camera: u32,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Still being recorded.
    pub open: bool,
    /// `permit`, `alarm` or `continuous`: the strongest reason in the run.
    pub kind: &'static str,
    pub permits: Vec<String>,
    pub bytes: u64,
}

fn kind_of(reasons: &[Reason]) -> &'static str {
    if reasons.iter().any(|r| matches!(r, Reason::Permit { .. })) {
        "permit"
    } else if reasons.iter().any(|r| matches!(r, Reason::Alarm { .. })) {
        "alarm"
    } else {
        "continuous"
    }
}

/// Merges segments (any order) into runs per camera: a gap of at most `gap_ms` joins two.
/// An open segment runs to `now_ms`.
pub fn runs(segs: &[Segment], gap_ms: i64, now_ms: i64) -> Vec<Run> {
    let mut sorted: Vec<&Segment> = segs.iter().collect();
    sorted.sort_by_key(|s| (s.camera, s.start_ms));
    let rank = |k: &str| match k {
        "permit" => 2,
        "alarm" => 1,
        _ => 0,
    };
    let mut out: Vec<Run> = Vec::new();
    for s in sorted {
        let end = if s.open { now_ms } else { s.end_ms };
        let kind = kind_of(&s.reasons);
        let permits = s.reasons.iter().filter_map(|r| match r {
            Reason::Permit { number, .. } => Some(number.clone()),
            _ => None,
        });
        match out.last_mut() {
            Some(r) if r.camera == s.camera && s.start_ms <= r.to_ms + gap_ms => {
                r.to_ms = r.to_ms.max(end);
                r.open |= s.open;
                r.bytes += s.bytes;
                if rank(kind) > rank(r.kind) {
                    r.kind = kind;
                }
                for p in permits {
                    if !r.permits.contains(&p) {
                        r.permits.push(p);
                    }
                }
            }
            _ => out.push(Run {
                camera: s.camera,
                from_ms: s.start_ms,
                to_ms: end,
                open: s.open,
                kind,
                permits: permits.collect(),
                bytes: s.bytes,
            }),
        }
    }
    out
}

/// Where no camera recorded between `from_ms` and `to_ms` (holes over `gap_ms`).
pub fn gaps(runs: &[Run], from_ms: i64, to_ms: i64, gap_ms: i64) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = runs.iter().map(|r| (r.from_ms, r.to_ms)).collect();
    spans.sort_unstable();
    let mut out = Vec::new();
    let mut at = from_ms;
    for (a, b) in spans {
        if a > at + gap_ms && a < to_ms {
            out.push((at, a));
        }
        at = at.max(b);
    }
    if to_ms > at + gap_ms {
        out.push((at, to_ms));
    }
    out
}

/// A permit's work on the first seconds may precede the camera's first key frame, and a
/// reconnecting camera leaves a short hole: coverage allows this much at the start and
/// between segments.
const COVER_SLACK_MS: i64 = 10_000;

/// A permit's video: the cameras covering its location, what they recorded of its work,
/// and whether that covers the work from its start to its closure.
#[derive(Debug, Clone, Serialize)]
pub struct PermitVideo {
    pub cameras: Vec<Camera>,
    pub segments: Vec<Segment>,
    /// The segments merged per camera, with their clip links split at 2 hours.
    pub runs: Vec<Run>,
    /// Where no camera recorded the work.
    pub gaps: Vec<(i64, i64)>,
    pub from_ms: i64,
    /// None while the work goes on.
    pub to_ms: Option<i64>,
    pub full: bool,
}

pub fn permit_video(
    r: &impl Reader,
    work: &crate::modules::safety::permits::service::VideoWork,
    now_ms: i64,
) -> Result<PermitVideo> {
    let cameras: Vec<Camera> = crate::cameras::cameras(r)?
        .into_iter()
        .filter(|c| c.enabled && c.zones.iter().any(|z| work.zones.contains(z)))
        .map(|c| c.redacted())
        .collect();
    let to = work.closed_ms.unwrap_or(now_ms);
    let segments = of_permit(r, work.id, work.started_ms, to)?;
    // what was recorded decides, whatever the cameras cover today; the segment being
    // written runs to now
    let runs = runs(&segments, COVER_SLACK_MS, now_ms);
    let end = to - COVER_SLACK_MS.min((to - work.started_ms) / 2);
    let full = covered(&runs, work.started_ms + COVER_SLACK_MS, end);
    let gaps = gaps(&runs, work.started_ms + COVER_SLACK_MS, to, COVER_SLACK_MS);
    Ok(PermitVideo {
        cameras,
        segments,
        runs,
        gaps,
        from_ms: work.started_ms,
        to_ms: work.closed_ms,
        full,
    })
}

/// What should be recorded now.
#[derive(Debug, Default)]
pub struct Plan {
    /// Camera → why it records now.
    reasons: HashMap<u32, BTreeSet<Reason>>,
    /// Cameras whose stream is needed (recording, or buffering the pre-roll).
    stream: BTreeSet<u32>,
    /// Permits at work that need video.
    pub works: Vec<crate::modules::safety::permits::service::VideoWork>,
}

impl Plan {
    pub fn needs_stream(&self, camera: u32) -> bool {
        self.stream.contains(&camera)
    }
    pub fn reasons(&self, camera: u32) -> BTreeSet<Reason> {
        self.reasons.get(&camera).cloned().unwrap_or_default()
    }
}

/// A recording in progress.
struct Writer {
    camera: u32,
    start_ms: i64,
    file: std::fs::File,
    name: String,
    params: Arc<super::Params>,
    epoch: u64,
    first_time: u64,
    /// Frames of the fragment being gathered.
    pending: Vec<Arc<Frame>>,
    seq: u32,
    bytes: u64,
    frames: u64,
    duration: u64,
    last_duration: u32,
    reasons: BTreeSet<Reason>,
}

/// What a camera's recording thread is told each second.
#[derive(Default)]
struct Orders {
    reasons: BTreeSet<Reason>,
    stop: bool,
}

struct Worker {
    order: Arc<Mutex<Orders>>,
    thread: std::thread::JoinHandle<()>,
}

/// Recording for every camera.
pub struct Recorder {
    store: Arc<Store>,
    dir: PathBuf,
    workers: Mutex<HashMap<u32, Worker>>,
    /// Alarms raised: camera → (until, alarm ids).
    alarms: Mutex<HashMap<u32, (i64, BTreeSet<u32>)>>,
    settings: Mutex<VideoSettings>,
    last_housekeep: Mutex<i64>,
    /// Set when the index could not be written (disk full…): shown with the status.
    pub last_error: Mutex<String>,
}

impl Recorder {
    pub fn new(store: Arc<Store>, dir: PathBuf) -> Recorder {
        let settings = store
            .read()
            .map_err(Error::from)
            .and_then(|r| settings(&r))
            .unwrap_or_default();
        Recorder {
            store,
            dir,
            workers: Mutex::default(),
            alarms: Mutex::default(),
            settings: Mutex::new(settings),
            last_housekeep: Mutex::new(0),
            last_error: Mutex::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn preroll_ms(&self) -> i64 {
        i64::from(self.settings.lock().expect("settings lock").preroll_s) * 1000
    }

    /// An alarm raised in `area`: its cameras record from the pre-roll to the post-roll.
    pub fn alarm_raised(&self, cams: &[Camera], area: &str, alarm: u32, now_ms: i64) {
        if area.is_empty() {
            return;
        }
        let post = i64::from(self.settings.lock().expect("settings lock").postroll_s) * 1000;
        let mut a = self.alarms.lock().expect("alarms lock");
        for c in cams
            .iter()
            .filter(|c| c.area == area && c.recording != Recording::Off)
        {
            let e = a.entry(c.id).or_insert((0, BTreeSet::new()));
            e.0 = e.0.max(now_ms + post);
            e.1.insert(alarm);
        }
    }

    /// Decides what each camera records now.
    pub fn plan(&self, cams: &[Camera], now_ms: i64) -> Plan {
        if let Ok(s) = self
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| settings(&r))
        {
            *self.settings.lock().expect("settings lock") = s;
        }
        let works = match self
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| crate::modules::safety::permits::service::at_work_needing_video(&r))
        {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "video: permits at work not read");
                Vec::new()
            }
        };
        // 特级 hot work waiting for its start: its cameras stream beforehand (the start needs
        // them live)
        let awaiting = self
            .store
            .read()
            .map_err(Error::from)
            .and_then(|r| {
                crate::modules::safety::permits::service::special_awaiting_start_zones(&r)
            })
            .unwrap_or_default();
        let mut plan = Plan {
            works: works.clone(),
            ..Plan::default()
        };
        let mut alarms = self.alarms.lock().expect("alarms lock");
        alarms.retain(|_, (until, _)| *until > now_ms);
        for c in cams.iter().filter(|c| c.enabled && !c.rtsp_url.is_empty()) {
            let mut why = BTreeSet::new();
            if c.recording == Recording::Continuous {
                why.insert(Reason::Continuous);
            }
            for w in &works {
                if w.zones.iter().any(|z| c.zones.contains(z)) {
                    why.insert(Reason::Permit {
                        id: w.id,
                        number: w.number.clone(),
                    });
                }
            }
            if let Some((_, ids)) = alarms.get(&c.id) {
                why.extend(ids.iter().map(|id| Reason::Alarm { id: *id }));
            }
            if !why.is_empty()
                || c.recording != Recording::Off
                || c.zones.iter().any(|z| awaiting.contains(z))
            {
                plan.stream.insert(c.id);
            }
            if !why.is_empty() {
                plan.reasons.insert(c.id, why);
            }
        }
        plan
    }

    /// Tells a camera's recording thread what to record, starting it when needed.
    pub fn drive(&self, cam: &Camera, feed: &Arc<Feed>, plan: &Plan, _now_ms: i64) {
        let reasons = plan.reasons(cam.id);
        let mut workers = self.workers.lock().expect("workers lock");
        if let Some(w) = workers.get(&cam.id)
            && w.thread.is_finished()
        {
            workers.remove(&cam.id);
        }
        match workers.get(&cam.id) {
            Some(w) => w.order.lock().expect("order lock").reasons = reasons,
            None if !reasons.is_empty() => {
                let order = Arc::new(Mutex::new(Orders {
                    reasons,
                    stop: false,
                }));
                let (o, f, store, dir) = (
                    order.clone(),
                    feed.clone(),
                    self.store.clone(),
                    self.dir.clone(),
                );
                let keep = self.settings.lock().expect("settings lock").clone();
                let preroll = self.preroll_ms();
                let thread = std::thread::Builder::new()
                    .name(format!("record-{}", cam.id))
                    .spawn(move || record_loop(&store, &dir, &f, &o, keep, preroll))
                    .expect("a thread starts");
                workers.insert(cam.id, Worker { order, thread });
            }
            None => {}
        }
    }

    pub fn stop(&self, camera: u32) {
        if let Some(w) = self.workers.lock().expect("workers lock").remove(&camera) {
            w.order.lock().expect("order lock").stop = true;
        }
    }

    /// Stops every recording and waits for the segments to be closed (at shutdown).
    pub fn stop_all(&self) {
        let all: Vec<Worker> = self
            .workers
            .lock()
            .expect("workers lock")
            .drain()
            .map(|(_, w)| w)
            .collect();
        for w in &all {
            w.order.lock().expect("order lock").stop = true;
        }
        for w in all {
            let _ = w.thread.join();
        }
    }

    /// Retention and the disk budget, once a minute.
    pub fn housekeep(&self, now_ms: i64) {
        {
            let mut last = self.last_housekeep.lock().expect("lock");
            if now_ms - *last < 60_000 {
                return;
            }
            *last = now_ms;
        }
        if let Err(e) = self.apply_retention(now_ms) {
            tracing::warn!(error = %e, "video retention failed");
        }
    }

    /// Recomputes each closed segment's retention from the settings now in force (permit
    /// footage counts from the permit's closure, and is kept while the work goes on),
    /// removes footage past it, then the oldest unprotected footage while over the budget
    /// (open segments count by their file's size); raises or clears the disk alert.
    /// Returns the segments removed.
    pub fn apply_retention(&self, now_ms: i64) -> Result<usize> {
        let s = self.settings.lock().expect("settings lock").clone();
        let r = self.store.read()?;
        let mut all = r.values(&SEGMENTS)?;
        let mut closures: HashMap<u64, Option<Option<i64>>> = HashMap::new();
        let mut changed: Vec<usize> = Vec::new();
        for (i, x) in all.iter_mut().enumerate().filter(|(_, x)| !x.open) {
            let keep = retention(&x.reasons, x.end_ms, &s, &mut |id| {
                *closures.entry(id).or_insert_with(|| permit_closure(&r, id))
            });
            if keep != x.keep_until_ms {
                x.keep_until_ms = keep;
                changed.push(i);
            }
        }
        drop(r);
        let changed: Vec<&Segment> = changed.iter().map(|i| &all[*i]).collect();
        let size = |x: &Segment| {
            if x.open {
                std::fs::metadata(self.dir.join(x.camera.to_string()).join(&x.file))
                    .map(|m| m.len())
                    .unwrap_or(0)
            } else {
                x.bytes
            }
        };
        let mut used: u64 = all.iter().map(size).sum();
        let budget = s.budget_mb.saturating_mul(1_000_000);
        let mut doomed: Vec<&Segment> = all
            .iter()
            .filter(|x| !x.open && x.keep_until_ms <= now_ms)
            .collect();
        used = used.saturating_sub(doomed.iter().map(|x| x.bytes).sum::<u64>());
        let mut rest: Vec<&Segment> = all
            .iter()
            .filter(|x| !x.open && x.keep_until_ms > now_ms && !x.protected(now_ms))
            .collect();
        rest.sort_by_key(|x| x.start_ms);
        for x in rest {
            if used <= budget {
                break;
            }
            used = used.saturating_sub(x.bytes);
            doomed.push(x);
        }
        for chunk in changed.chunks(500) {
            let mut w = self.store.write(&Actor::system("cameras"))?;
            for x in chunk {
                w.insert(&SEGMENTS, &(x.camera as u64, x.start_ms as u64), *x)?;
            }
            w.commit()?;
        }
        for chunk in doomed.chunks(200) {
            let mut w = self.store.write(&Actor::system("cameras"))?;
            for x in chunk {
                w.remove(&SEGMENTS, &(x.camera as u64, x.start_ms as u64))?;
            }
            w.commit()?;
            for x in chunk {
                let _ = std::fs::remove_file(self.dir.join(x.camera.to_string()).join(&x.file));
            }
        }
        let standing = if used.saturating_mul(10) >= budget.saturating_mul(9) {
            let key = if used > budget {
                "cameras.alert.disk_over"
            } else {
                "cameras.alert.disk"
            };
            let msg = Msg::new(key)
                .arg("used", used / 1_000_000)
                .arg("budget", s.budget_mb);
            vec![crate::alerts::Raise {
                source: "cameras.disk:video".into(),
                priority: crate::alarms::model::Priority::High,
                text: crate::alarms::model::Text {
                    zh: msg.render(crate::i18n::Lang::ZhCn),
                    en: msg.render(crate::i18n::Lang::En),
                },
                link: "/integration/cameras/settings".into(),
                route: crate::alerts::Route::holders(
                    "integration",
                    crate::auth::model::Level::Approve,
                ),
            }]
        } else {
            Vec::new()
        };
        crate::alerts::sync(
            &self.store,
            "integration",
            &["cameras.disk:"],
            standing,
            now_ms,
        )?;
        Ok(doomed.len())
    }

    /// At start: open rows recovered from their files, files without a row removed.
    pub fn recover(&self) -> Result<(usize, usize)> {
        let s = self.settings.lock().expect("settings lock").clone();
        let all = self.store.read()?.values(&SEGMENTS)?;
        let mut fixed = 0;
        for seg in all.iter().filter(|x| x.open) {
            let path = self.dir.join(seg.camera.to_string()).join(&seg.file);
            let scanned = std::fs::File::open(&path).and_then(|mut f| fmp4::scan(&mut f));
            let mut w = self.store.write(&Actor::system("cameras"))?;
            let key = (seg.camera as u64, seg.start_ms as u64);
            match scanned {
                Ok(sc) if !sc.fragments.is_empty() => {
                    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) {
                        let _ = f.set_len(sc.complete_len).and_then(|_| f.sync_all());
                    }
                    let first = sc.fragments[0].base_time;
                    let last = sc.fragments.last().expect("non-empty");
                    let dur = last.base_time + last.duration() - first;
                    let mut seg = seg.clone();
                    seg.open = false;
                    seg.end_ms = seg.start_ms + (dur / 90) as i64;
                    seg.bytes = sc.complete_len;
                    seg.frames = sc.fragments.iter().map(|f| f.samples.len() as u64).sum();
                    seg.keep_until_ms = keep_until(&seg.reasons, seg.end_ms, &s);
                    w.insert(&SEGMENTS, &key, &seg)?;
                }
                _ => {
                    w.remove(&SEGMENTS, &key)?;
                    let _ = std::fs::remove_file(&path);
                }
            }
            w.commit()?;
            fixed += 1;
        }
        // files with no row: written after a row was removed, or before it was added
        let rows: BTreeSet<(u32, String)> = self
            .store
            .read()?
            .values(&SEGMENTS)?
            .into_iter()
            .map(|x| (x.camera, x.file))
            .collect();
        let mut orphans = 0;
        if let Ok(cams) = std::fs::read_dir(&self.dir) {
            for cam in cams.flatten() {
                let Some(id) = cam.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                for f in std::fs::read_dir(cam.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let name = f.file_name().to_string_lossy().to_string();
                    if !rows.contains(&(id, name)) {
                        let _ = std::fs::remove_file(f.path());
                        orphans += 1;
                    }
                }
            }
        }
        Ok((fixed, orphans))
    }

    /// A standard MP4 of a camera from `from_ms` to `to_ms` (starting at the key frame
    /// at or before `from_ms`).
    pub fn clip(&self, camera: u32, from_ms: i64, to_ms: i64) -> Result<fmp4::Clip> {
        if to_ms <= from_ms {
            return Err(Error::invalid("to", "cameras.err.clip_order"));
        }
        if to_ms.saturating_sub(from_ms) > MAX_CLIP_MS {
            return Err(Error::invalid("to", "cameras.err.clip_long"));
        }
        let segs = segments(&self.store.read()?, camera, from_ms, to_ms)?;
        let mut parts = Vec::new();
        let mut entry: Option<(Vec<u8>, u32, u32)> = None;
        for seg in segs.iter().filter(|s| s.start_ms < to_ms) {
            let path = self.dir.join(camera.to_string()).join(&seg.file);
            let Ok(sc) = std::fs::File::open(&path).and_then(|mut f| fmp4::scan(&mut f)) else {
                continue;
            };
            let Some(first) = sc.fragments.first().map(|f| f.base_time) else {
                continue;
            };
            match &entry {
                None => entry = Some((sc.sample_entry.clone(), sc.width, sc.height)),
                // the stream changed (resolution, codec): the clip ends before it
                Some((e, _, _)) if *e != sc.sample_entry => break,
                _ => {}
            }
            let wall = |t: u64| seg.start_ms + ((t - first) / 90) as i64;
            let mut frags: Vec<fmp4::Fragment> = sc
                .fragments
                .into_iter()
                .filter(|f| wall(f.base_time) < to_ms && wall(f.base_time + f.duration()) > from_ms)
                .collect();
            if parts.is_empty() {
                // begin at a key frame
                let Some(k) = frags
                    .iter()
                    .position(|f| f.samples.first().is_some_and(|s| s.key))
                else {
                    continue;
                };
                frags.drain(..k);
            }
            if !frags.is_empty() {
                parts.push(fmp4::Part {
                    file: path,
                    fragments: frags,
                });
            }
        }
        let Some((e, w, h)) = entry.filter(|_| !parts.is_empty()) else {
            return Err(Error::not_found("cameras.err.no_footage"));
        };
        Ok(fmp4::Clip::new(&e, w, h, &parts))
    }
}

/// A permit's closure: Some(None) while its work goes on, None when the permit is unknown.
fn permit_closure(r: &impl Reader, id: u64) -> Option<Option<i64>> {
    match crate::modules::safety::permits::service::permit_video_work(r, id) {
        Ok(Some(w)) => Some(w.closed_ms),
        _ => None,
    }
}

/// How long footage ending at `end_ms` is kept: each reason's days from its end, a
/// permit's from the permit's closure (`closure`: Some(None) while at work — kept; None
/// when unknown — from the end).
fn retention(
    reasons: &[Reason],
    end_ms: i64,
    s: &VideoSettings,
    closure: &mut dyn FnMut(u64) -> Option<Option<i64>>,
) -> i64 {
    let day = 86_400_000i64;
    let days = |d: u32| day.saturating_mul(i64::from(d));
    reasons
        .iter()
        .map(|r| match r {
            Reason::Continuous => end_ms.saturating_add(days(s.keep_continuous_days)),
            Reason::Alarm { .. } => end_ms.saturating_add(days(s.keep_alarm_days)),
            Reason::Permit { id, .. } => match closure(*id) {
                Some(None) => i64::MAX,
                Some(Some(closed)) => closed.max(end_ms).saturating_add(days(s.keep_permit_days)),
                None => end_ms.saturating_add(days(s.keep_permit_days)),
            },
        })
        .max()
        .unwrap_or(end_ms)
}

/// Retention as a segment is written: from its end (housekeeping corrects permits').
fn keep_until(reasons: &[Reason], end_ms: i64, s: &VideoSettings) -> i64 {
    retention(reasons, end_ms, s, &mut |_| None)
}

/// A camera's recording thread: follows the feed and writes what the order says; the
/// camera's status says "recording" exactly while a segment is open.
fn record_loop(
    store: &Store,
    dir: &Path,
    feed: &Feed,
    order: &Mutex<Orders>,
    settings: VideoSettings,
    preroll_ms: i64,
) {
    record_frames(store, dir, feed, order, settings, preroll_ms);
    feed.set_status(|s| s.recording = false);
}

fn record_frames(
    store: &Store,
    dir: &Path,
    feed: &Feed,
    order: &Mutex<Orders>,
    settings: VideoSettings,
    preroll_ms: i64,
) {
    let cam_dir = dir.join(feed.camera.to_string());
    let mut writer: Option<Writer> = None;
    // start from the pre-roll
    let (backlog, mut rx) = feed.follow(Some(crate::util::now_ms() - preroll_ms));
    let mut last: Option<(u64, u64)> = None;
    let mut queue: std::collections::VecDeque<Arc<Frame>> = backlog.into();
    let mut skip_to_key = false;
    loop {
        let frame = match queue.pop_front() {
            Some(f) => f,
            None => match recv_timeout(&mut rx, std::time::Duration::from_millis(500)) {
                Recv::Frame(f) => f,
                Recv::Lagged => {
                    skip_to_key = true;
                    continue;
                }
                Recv::Idle => {
                    let o = order.lock().expect("order lock");
                    if o.stop || o.reasons.is_empty() {
                        drop(o);
                        finish(store, &mut writer, &settings);
                        return;
                    }
                    continue;
                }
                Recv::Closed => {
                    finish(store, &mut writer, &settings);
                    return;
                }
            },
        };
        // the backlog and the receiver overlap
        if last.is_some_and(|l| (frame.epoch, frame.time) <= l) {
            continue;
        }
        last = Some((frame.epoch, frame.time));
        let (reasons, stop) = {
            let o = order.lock().expect("order lock");
            (o.reasons.clone(), o.stop)
        };
        if stop || reasons.is_empty() {
            finish(store, &mut writer, &settings);
            return;
        }
        if skip_to_key {
            if !frame.key {
                continue;
            }
            skip_to_key = false;
            // frames were lost: the segment ends where they were
            finish(store, &mut writer, &settings);
        }
        let new_stream = writer
            .as_ref()
            .is_some_and(|w| w.epoch != frame.epoch || w.params != frame.params);
        let long = writer
            .as_ref()
            .is_some_and(|w| frame.key && frame.wall_ms - w.start_ms >= SEGMENT_MS);
        if new_stream || long {
            finish(store, &mut writer, &settings);
        }
        if writer.is_none() {
            if !frame.key {
                continue;
            }
            match open(store, &cam_dir, feed.camera, &frame, &reasons, &settings) {
                Ok(w) => writer = Some(w),
                Err(e) => {
                    tracing::error!(camera = feed.camera, error = %e, "recording not started");
                    feed.set_status(|s| s.last_error = format!("recording: {e}"));
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    continue;
                }
            }
        }
        let w = writer.as_mut().expect("opened above");
        if w.frames == 0 && w.pending.is_empty() {
            feed.set_status(|s| s.recording = true);
        }
        w.reasons.extend(reasons);
        if let Err(e) = push(w, frame) {
            tracing::error!(camera = feed.camera, error = %e, "recording write failed");
            feed.set_status(|s| s.last_error = format!("recording: {e}"));
            finish(store, &mut writer, &settings);
            skip_to_key = true;
        }
    }
}

enum Recv {
    Frame(Arc<Frame>),
    Lagged,
    Idle,
    Closed,
}

fn recv_timeout(rx: &mut broadcast::Receiver<Arc<Frame>>, wait: std::time::Duration) -> Recv {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match rx.try_recv() {
            Ok(f) => return Recv::Frame(f),
            Err(broadcast::error::TryRecvError::Lagged(_)) => return Recv::Lagged,
            Err(broadcast::error::TryRecvError::Closed) => return Recv::Closed,
            Err(broadcast::error::TryRecvError::Empty) => {
                if std::time::Instant::now() >= deadline {
                    return Recv::Idle;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

fn open(
    store: &Store,
    cam_dir: &Path,
    camera: u32,
    frame: &Frame,
    reasons: &BTreeSet<Reason>,
    settings: &VideoSettings,
) -> std::io::Result<Writer> {
    std::fs::create_dir_all(cam_dir)?;
    let name = format!("{}.mp4", frame.wall_ms);
    let seg = Segment {
        camera,
        start_ms: frame.wall_ms,
        end_ms: frame.wall_ms,
        bytes: 0,
        frames: 0,
        open: true,
        reasons: reasons.iter().cloned().collect(),
        keep_until_ms: keep_until(
            &reasons.iter().cloned().collect::<Vec<_>>(),
            frame.wall_ms,
            settings,
        ),
        codec: frame.params.codec.clone(),
        width: frame.params.width,
        height: frame.params.height,
        file: name.clone(),
    };
    // the row first: a file never exists without one that recovery can find
    (|| {
        let mut w = store.write(&Actor::system("cameras"))?;
        w.insert(&SEGMENTS, &(camera as u64, frame.wall_ms as u64), &seg)?;
        w.commit()
    })()
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut file = std::fs::File::create(cam_dir.join(&name))?;
    file.write_all(&frame.params.init)?;
    Ok(Writer {
        camera,
        start_ms: frame.wall_ms,
        file,
        name,
        params: frame.params.clone(),
        epoch: frame.epoch,
        first_time: frame.time,
        pending: Vec::new(),
        seq: 0,
        bytes: frame.params.init.len() as u64,
        frames: 0,
        duration: 0,
        last_duration: 3_600,
        reasons: reasons.clone(),
    })
}

fn push(w: &mut Writer, frame: Arc<Frame>) -> std::io::Result<()> {
    let due = w
        .pending
        .first()
        .is_some_and(|f| frame.key || frame.wall_ms - f.wall_ms >= FRAGMENT_MS);
    if due {
        let next = frame.time;
        flush(w, Some(next))?;
    }
    w.pending.push(frame);
    Ok(())
}

/// Writes the pending frames as one fragment; `next` is the time of the frame after them.
fn flush(w: &mut Writer, next: Option<u64>) -> std::io::Result<()> {
    if w.pending.is_empty() {
        return Ok(());
    }
    let mut samples = Vec::with_capacity(w.pending.len());
    let mut data = Vec::with_capacity(w.pending.iter().map(|f| f.data.len()).sum());
    for (i, f) in w.pending.iter().enumerate() {
        let after = w.pending.get(i + 1).map(|n| n.time).or(next);
        let duration = match after {
            Some(t) => t.saturating_sub(f.time).clamp(1, 90_000 * 5) as u32,
            None => w.last_duration,
        };
        w.last_duration = duration;
        samples.push(Sample {
            duration,
            size: f.data.len() as u32,
            key: f.key,
        });
        data.extend_from_slice(&f.data);
    }
    w.seq += 1;
    let base = w.pending[0].time.saturating_sub(w.first_time);
    let frag = fmp4::fragment(w.seq, base, &samples, &data);
    w.file.write_all(&frag)?;
    w.bytes += frag.len() as u64;
    w.frames += samples.len() as u64;
    w.duration = base + samples.iter().map(|s| u64::from(s.duration)).sum::<u64>();
    w.pending.clear();
    Ok(())
}

/// Ends the segment: the last fragment written, the file synced, the row closed.
fn finish(store: &Store, writer: &mut Option<Writer>, settings: &VideoSettings) {
    let Some(mut w) = writer.take() else { return };
    let written = flush(&mut w, None).and_then(|_| w.file.sync_all());
    if let Err(e) = written {
        tracing::error!(camera = w.camera, error = %e, "recording not completed; recovered at the next start");
        return;
    }
    let end_ms = w.start_ms + (w.duration / 90) as i64;
    let reasons: Vec<Reason> = w.reasons.iter().cloned().collect();
    let seg = Segment {
        camera: w.camera,
        start_ms: w.start_ms,
        end_ms,
        bytes: w.bytes,
        frames: w.frames,
        open: false,
        keep_until_ms: keep_until(&reasons, end_ms, settings),
        reasons,
        codec: w.params.codec.clone(),
        width: w.params.width,
        height: w.params.height,
        file: w.name.clone(),
    };
    let r = (|| {
        let mut tx = store.write(&Actor::system("cameras"))?;
        tx.insert(&SEGMENTS, &(w.camera as u64, w.start_ms as u64), &seg)?;
        tx.commit()
    })();
    if let Err(e) = r {
        tracing::error!(camera = w.camera, error = %e, "segment index not closed; recovered at the next start");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(camera: u32, a: i64, b: i64) -> Segment {
        Segment {
            camera,
            start_ms: a,
            end_ms: b,
            bytes: 1,
            frames: 1,
            open: false,
            reasons: vec![],
            keep_until_ms: 0,
            codec: String::new(),
            width: 0,
            height: 0,
            file: String::new(),
        }
    }

    #[test]
    fn coverage_needs_one_camera_without_gaps() {
        let covers = |segs: &[Segment], a, b| covered(&runs(segs, 2_000, 0), a, b);
        let s = [seg(1, 0, 60_000), seg(1, 60_500, 120_000)];
        assert!(covers(&s, 1_000, 119_000));
        assert!(!covers(&s, 1_000, 130_000), "ends early");
        let gap = [seg(1, 0, 60_000), seg(1, 70_000, 120_000)];
        assert!(!covers(&gap, 0, 120_000));
        // two cameras each with a gap do not add up
        let two = [seg(1, 0, 60_000), seg(2, 65_000, 120_000)];
        assert!(!covers(&two, 0, 120_000));
        assert!(!covers(&[], 0, 1));
        // the segment being written runs to now
        let mut open = seg(1, 0, 0);
        open.open = true;
        assert!(covered(&runs(&[open], 2_000, 90_000), 5_000, 85_000));
    }

    #[test]
    fn segments_merge_into_runs_and_holes_are_found() {
        let mut a = seg(1, 0, 60_000);
        a.reasons = vec![Reason::Continuous];
        let mut b = seg(1, 60_200, 120_000);
        b.reasons = vec![Reason::Alarm { id: 2 }];
        let c = seg(1, 200_000, 260_000);
        let d = seg(2, 0, 30_000);
        let r = runs(&[c.clone(), a, b, d], 2_000, 0);
        assert_eq!(r.len(), 3);
        assert_eq!(
            (r[0].camera, r[0].from_ms, r[0].to_ms, r[0].kind),
            (1, 0, 120_000, "alarm")
        );
        assert_eq!((r[1].from_ms, r[1].to_ms), (200_000, 260_000));
        assert_eq!(r[2].camera, 2);
        assert_eq!(
            gaps(&r, 0, 300_000, 2_000),
            vec![(120_000, 200_000), (260_000, 300_000)]
        );
        assert!(gaps(&r, 10_000, 110_000, 2_000).is_empty());
    }

    #[test]
    fn retention_follows_the_longest_reason() {
        let s = VideoSettings::default();
        let day = 86_400_000;
        assert_eq!(keep_until(&[Reason::Continuous], 0, &s), 7 * day);
        let both = [
            Reason::Continuous,
            Reason::Permit {
                id: 1,
                number: "DH".into(),
            },
        ];
        assert_eq!(keep_until(&both, 0, &s), 31 * day);
    }

    #[test]
    fn over_the_budget_the_oldest_unprotected_footage_goes_and_admins_are_alerted() {
        let (dir, store) = crate::store::tests::temp_store();
        let a = Actor::system("test");
        save_settings(
            &store,
            &a,
            VideoSettings {
                budget_mb: 1_000,
                ..Default::default()
            },
        )
        .unwrap();
        let rec = Recorder::new(Arc::new(store), dir.path().join("video"));
        let now = 100 * 86_400_000;
        let day = 86_400_000;
        let permit = Reason::Permit {
            id: 7,
            number: "DH-1".into(),
        };
        // (start, MB, reasons): retention counts from each segment's end (a permit nobody
        // knows: from the segment's end too)
        let rows = [
            (now - 8 * day, 50, vec![Reason::Continuous]), // past its 7 days
            (now - 3 * day, 500, vec![Reason::Continuous]), // oldest unprotected
            (now - 2 * day, 500, vec![permit.clone()]),    // a permit's: protected
            (now - day, 300, vec![Reason::Alarm { id: 3 }]),
            (now - 60_000, 150, vec![Reason::Continuous]),
        ];
        std::fs::create_dir_all(rec.dir().join("1")).unwrap();
        let mut w = rec.store.write(&a).unwrap();
        for (start, mb, reasons) in &rows {
            let mut g = seg(1, *start, start + 500);
            g.bytes = mb * 1_000_000;
            g.reasons = reasons.clone();
            g.file = format!("{start}.mp4");
            std::fs::write(rec.dir().join("1").join(&g.file), b"x").unwrap();
            w.insert(&SEGMENTS, &(1, *start as u64), &g).unwrap();
        }
        w.commit().unwrap();
        // the permit's segment is older than the rest but stays; 950 MB left ≥ 90 %
        assert_eq!(rec.apply_retention(now).unwrap(), 2);
        let left: Vec<i64> = segments_all(&rec.store.read().unwrap())
            .unwrap()
            .iter()
            .map(|g| g.start_ms)
            .collect();
        assert_eq!(left, [rows[2].0, rows[3].0, rows[4].0]);
        let file = |i: usize| rec.dir().join(format!("1/{}.mp4", rows[i].0));
        assert!(!file(0).exists() && !file(1).exists() && file(2).exists());
        let alerts = crate::alerts::all(&rec.store.read().unwrap()).unwrap();
        assert!(
            alerts
                .iter()
                .any(|x| x.source == "cameras.disk:video" && x.zh.contains("950")),
            "{alerts:?}"
        );
        // a month later everything has gone, and the alert clears
        assert_eq!(rec.apply_retention(now + 32 * day).unwrap(), 3);
        assert!(
            !crate::alerts::all(&rec.store.read().unwrap())
                .unwrap()
                .iter()
                .any(|x| x.source == "cameras.disk:video")
        );
    }

    #[test]
    fn settings_refuse_permit_video_kept_under_a_month() {
        let (_d, store) = crate::store::tests::temp_store();
        let a = Actor::system("test");
        let short = VideoSettings {
            keep_permit_days: 30,
            ..Default::default()
        };
        let e = save_settings(&store, &a, short).unwrap_err();
        assert!(format!("{e:?}").contains("permit_keep"), "{e:?}");
        let tiny = VideoSettings {
            budget_mb: 10,
            ..Default::default()
        };
        assert!(save_settings(&store, &a, tiny).is_err());
        assert_eq!(
            settings(&store.read().unwrap()).unwrap(),
            VideoSettings::default()
        );
    }
}
