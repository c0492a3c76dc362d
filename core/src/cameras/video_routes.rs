//! Video through the box: live views (fragmented MP4 over chunked HTTP, played with Media
//! Source Extensions by `web/static/video.js`), camera status, recordings with a day
//! timeline, clips as standard MP4 served by byte range (playback and export), and the
//! recording settings.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use minijinja::context;
use serde::Deserialize;
use tokio::sync::broadcast;

use super::video::record::{self, VideoSettings};
use super::video::{Frame, LiveMuxer, Params, Viewer, first_frames};
use crate::auth::model::Level;
use crate::error::Error;
use crate::i18n::Msg;
use crate::web::context::{Ctx, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::form::FormData;
use crate::web::grant::{self, Need, Requirement};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(settings_page)
        .service(settings_submit)
        .service(live)
        .service(clip_page)
        .service(export)
        .service(api_status)
        .service(api_statuses)
        .service(api_recordings)
        .service(api_clip)
        .service(api_settings)
        .service(api_settings_put);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_status,
    api_statuses,
    api_recordings,
    api_clip,
    api_settings,
    api_settings_put
))]
pub struct Doc;

/// Who may watch and play back: the data platform's readers, operators (their alarms'
/// cameras) and the safety department (permit video).
pub struct Watch;

impl Requirement for Watch {
    fn check(ctx: &Ctx) -> Result<(), AppError> {
        if ctx.who.can("automation", Level::Read) || ctx.who.can("safety", Level::Read) {
            return Ok(());
        }
        ctx.require("integration", Level::Read)
    }
}

/// How long a live view waits for the camera's first key frame.
const FIRST_FRAME: Duration = Duration::from_secs(8);

struct LiveState {
    _viewer: Viewer,
    head: Option<Bytes>,
    queue: VecDeque<Arc<Frame>>,
    rx: broadcast::Receiver<Arc<Frame>>,
    mux: LiveMuxer,
    epoch: u64,
    params: Arc<Params>,
    last: u64,
    skip: bool,
}

/// The live stream of a camera: the init segment, then a fragment per frame from the
/// newest key frame on. Ends when the camera reconnects or changes its stream (the player
/// starts again) or after 15 s without video.
#[get("/integration/cameras/{id:\\d+}/live.mp4")]
async fn live(ctx: Need<Watch>, id: web::Path<u32>) -> Result<HttpResponse, AppError> {
    let c = super::camera(&ctx.app.store.read()?, *id)?;
    if !c.enabled || c.rtsp_url.is_empty() {
        return Err(Error::Conflict(Msg::new("cameras.err.no_stream")).into());
    }
    let viewer = ctx.app.video.watch(&c);
    let Some((frames, rx)) = first_frames(viewer.feed(), FIRST_FRAME).await else {
        let st = viewer.feed().status();
        let detail = if st.last_error.is_empty() {
            "no key frame within 8 s".to_string()
        } else {
            st.last_error
        };
        return Err(Error::Device(Msg::new("cameras.err.no_video").arg("detail", detail)).into());
    };
    let first = frames[0].clone();
    let state = LiveState {
        _viewer: viewer,
        head: Some(first.params.init.clone()),
        queue: frames.into(),
        rx,
        mux: LiveMuxer::default(),
        epoch: first.epoch,
        params: first.params.clone(),
        last: 0,
        skip: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(h) = s.head.take() {
            return Some((Ok::<_, actix_web::Error>(h), s));
        }
        loop {
            let f = match s.queue.pop_front() {
                Some(f) => f,
                None => match tokio::time::timeout(Duration::from_secs(15), s.rx.recv()).await {
                    Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                        s.skip = true;
                        continue;
                    }
                    Ok(Ok(f)) => f,
                },
            };
            if f.epoch != s.epoch || f.params != s.params {
                return None;
            }
            // the buffered frames and the receiver overlap by a frame or two
            if s.last > 0 && f.time <= s.last {
                continue;
            }
            if s.skip {
                if !f.key {
                    continue;
                }
                s.skip = false;
            }
            s.last = f.time.max(1);
            if let Some(frag) = s.mux.push(f) {
                return Some((Ok(Bytes::from(frag)), s));
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(format!("video/mp4; codecs=\"{}\"", first.params.codec))
        .insert_header(("cache-control", "no-store"))
        .insert_header(("content-encoding", "identity"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream))
}

/// A camera's stream status.
#[utoipa::path(tag = "cameras", params(("id" = u32, Path, description = "Camera id")), responses(
    (status = 200, description = "Connection, codec, resolution, bit rate, last error", body = Object),
    (status = 404, description = "No such camera")),
    security(("bearer" = ["integration:read"]), ("bearer" = ["automation:read"]), ("bearer" = ["safety:read"])))]
#[get("/api/v1/cameras/{id:\\d+}/status")]
async fn api_status(ctx: Need<Watch>, id: web::Path<u32>) -> Result<HttpResponse, AppError> {
    super::camera(&ctx.app.store.read()?, *id)?;
    Ok(HttpResponse::Ok().json(ctx.app.video.status(*id)))
}

/// Every camera's stream status, by camera id.
#[utoipa::path(tag = "cameras", responses((status = 200, description = "Camera id → status", body = Object)),
    security(("bearer" = ["integration:read"]), ("bearer" = ["automation:read"]), ("bearer" = ["safety:read"])))]
#[get("/api/v1/cameras/status")]
async fn api_statuses(ctx: Need<Watch>) -> Result<HttpResponse, AppError> {
    let cams = super::cameras(&ctx.app.store.read()?)?;
    let all = ctx.app.video.statuses();
    let out: std::collections::BTreeMap<String, super::video::Status> = cams
        .iter()
        .map(|c| {
            (
                c.id.to_string(),
                all.get(&c.id).cloned().unwrap_or_default(),
            )
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct Span {
    /// UTC ms (default: 24 h before `to`).
    from: Option<i64>,
    /// UTC ms (default: now).
    to: Option<i64>,
    /// `1`: as an attachment (export).
    #[serde(default)]
    download: Option<String>,
}

/// Times the box takes: 1970 to 2100 (UTC ms).
const LATEST_MS: i64 = 4_102_444_800_000;

impl Span {
    fn range(&self) -> Result<(i64, i64), Error> {
        let to = self.to.unwrap_or_else(crate::util::now_ms);
        let from = self.from.unwrap_or(to.saturating_sub(86_400_000));
        for (field, v) in [("from", from), ("to", to)] {
            if !(0..=LATEST_MS).contains(&v) {
                return Err(Error::invalid(field, "cameras.err.time"));
            }
        }
        Ok((from, to))
    }
}

/// Recorded segments of a camera overlapping a span, oldest first, with why each was
/// recorded and until when it is kept.
#[utoipa::path(tag = "cameras", params(("id" = u32, Path, description = "Camera id"), Span), responses(
    (status = 200, description = "Segments", body = Object), (status = 404, description = "No such camera")),
    security(("bearer" = ["integration:read"]), ("bearer" = ["automation:read"]), ("bearer" = ["safety:read"])))]
#[get("/api/v1/cameras/{id:\\d+}/recordings")]
async fn api_recordings(
    ctx: Need<Watch>,
    id: web::Path<u32>,
    q: web::Query<Span>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    super::camera(&r, *id)?;
    let (from, to) = q.range()?;
    Ok(HttpResponse::Ok().json(record::segments(&r, *id, from, to)?))
}

/// Parses `Range: bytes=a-b` / `bytes=a-` against a length.
fn byte_range(req: &HttpRequest, len: u64) -> Option<Option<(u64, u64)>> {
    let h = req.headers().get("range")?.to_str().ok()?;
    let spec = h.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let r = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.saturating_sub(n), len)
        }
        (a, "") => (a.parse().ok()?, len),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.saturating_add(1).min(len),
        ),
    };
    Some((r.0 < r.1 && r.0 < len).then_some(r))
}

async fn clip_response(
    ctx: &Ctx,
    req: &HttpRequest,
    id: u32,
    q: &Span,
) -> Result<HttpResponse, AppError> {
    let c = super::camera(&ctx.app.store.read()?, id)?;
    if q.from.is_none() {
        return Err(Error::invalid("from", "cameras.err.time").into());
    }
    let (from, to) = q.range()?;
    let app = ctx.app.clone();
    let clip = Arc::new(blocking(move || app.video.recorder.clip(id, from, to)).await?);
    let (status, a, b) = match byte_range(req, clip.len) {
        None => (StatusCode::OK, 0, clip.len),
        Some(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b),
        Some(None) => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header(("content-range", format!("bytes */{}", clip.len)))
                .finish());
        }
    };
    let mut res = HttpResponse::build(status);
    res.content_type("video/mp4")
        .insert_header(("accept-ranges", "bytes"))
        .insert_header(("content-encoding", "identity"))
        .insert_header(("cache-control", "no-store"))
        .no_chunking(b - a);
    if status == StatusCode::PARTIAL_CONTENT {
        res.insert_header(("content-range", format!("bytes {a}-{}/{}", b - 1, clip.len)));
    }
    if q.download.as_deref() == Some("1") {
        let name = format!(
            "{}-{}.mp4",
            c.name.replace(|ch: char| !ch.is_alphanumeric(), "_"),
            crate::plant_time::format_minute(from, ctx.app.offset)
                .replace([' ', ':'], "")
                .replace('-', "")
        );
        res.insert_header((
            "content-disposition",
            format!(
                "attachment; filename=\"clip.mp4\"; filename*=UTF-8''{}",
                crate::web::middleware::urlencode(&name).replace('+', "%20")
            ),
        ));
    }
    const CHUNK: u64 = 1 << 20;
    let body = futures_util::stream::unfold(a, move |at| {
        let clip = clip.clone();
        async move {
            if at >= b {
                return None;
            }
            let end = (at + CHUNK).min(b);
            let read = tokio::task::spawn_blocking(move || clip.read(at, end)).await;
            match read {
                Ok(Ok(bytes)) => Some((Ok::<_, actix_web::Error>(Bytes::from(bytes)), end)),
                Ok(Err(e)) => Some((Err(actix_web::error::ErrorInternalServerError(e)), b)),
                Err(e) => Some((Err(actix_web::error::ErrorInternalServerError(e)), b)),
            }
        }
    });
    Ok(res.streaming(body))
}

/// Recorded video from `from` to `to` (at most 2 hours) as a standard MP4 that starts at
/// the key frame before `from`; byte ranges for seeking; `download=1` to export.
#[utoipa::path(tag = "cameras", params(("id" = u32, Path, description = "Camera id"), Span), responses(
    (status = 200, description = "MP4", content_type = "video/mp4"),
    (status = 206, description = "The range asked for", content_type = "video/mp4"),
    (status = 404, description = "No such camera, or nothing recorded then"),
    (status = 422, description = "The span is reversed or longer than 2 hours")),
    security(("bearer" = ["integration:read"]), ("bearer" = ["automation:read"]), ("bearer" = ["safety:read"])))]
#[get("/api/v1/cameras/{id:\\d+}/clip")]
async fn api_clip(
    ctx: Need<Watch>,
    req: HttpRequest,
    id: web::Path<u32>,
    q: web::Query<Span>,
) -> Result<HttpResponse, AppError> {
    clip_response(&ctx, &req, *id, &q).await
}

#[get("/integration/cameras/{id:\\d+}/clip.mp4")]
async fn clip_page(
    ctx: Need<Watch>,
    req: HttpRequest,
    id: web::Path<u32>,
    q: web::Query<Span>,
) -> Result<HttpResponse, AppError> {
    clip_response(&ctx, &req, *id, &q).await
}

#[derive(Deserialize)]
struct ExportForm {
    /// Plant-local `YYYY-MM-DDTHH:MM` (a datetime-local field).
    from: String,
    to: String,
}

/// The camera page's export form: local times to the clip's download.
#[get("/integration/cameras/{id:\\d+}/export")]
async fn export(
    ctx: Need<Watch>,
    id: web::Path<u32>,
    q: web::Query<ExportForm>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    // a mistake goes back to the form with its reason, the times kept
    let back = |key: &str| {
        Ok(HttpResponse::SeeOther()
            .insert_header((
                "location",
                format!(
                    "/integration/cameras/{id}?export_error={key}&from={}&to={}#export",
                    crate::web::middleware::urlencode(&q.from),
                    crate::web::middleware::urlencode(&q.to)
                ),
            ))
            .finish())
    };
    let parse = |s: &str| crate::plant_time::parse_local(&s.replace('T', " "), ctx.app.offset);
    let (Some(from), Some(to)) = (parse(&q.from), parse(&q.to)) else {
        return back("time");
    };
    if to <= from {
        return back("clip_order");
    }
    if to - from > record::MAX_CLIP_MS {
        return back("clip_long");
    }
    let app = ctx.app.clone();
    if blocking(move || app.video.recorder.clip(id, from, to))
        .await
        .is_err()
    {
        return back("no_footage");
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            "location",
            format!("/integration/cameras/{id}/clip.mp4?from={from}&to={to}&download=1"),
        ))
        .finish())
}

// ------------------------------------------------------------------ settings

fn settings_values(s: &VideoSettings) -> serde_json::Value {
    serde_json::json!({
        "preroll_s": s.preroll_s, "postroll_s": s.postroll_s,
        "keep_continuous_days": s.keep_continuous_days, "keep_alarm_days": s.keep_alarm_days,
        "keep_permit_days": s.keep_permit_days, "budget_mb": s.budget_mb,
    })
}

fn settings_from(f: &FormData) -> Result<VideoSettings, Error> {
    fn num<T: std::str::FromStr>(f: &FormData, k: &'static str) -> Result<T, Error> {
        f.get(k)
            .trim()
            .parse()
            .map_err(|_| Error::invalid(k, "common.err.number"))
    }
    Ok(VideoSettings {
        preroll_s: num(f, "preroll_s")?,
        postroll_s: num(f, "postroll_s")?,
        keep_continuous_days: num(f, "keep_continuous_days")?,
        keep_alarm_days: num(f, "keep_alarm_days")?,
        keep_permit_days: num(f, "keep_permit_days")?,
        budget_mb: num(f, "budget_mb")?,
    })
}

fn used_bytes(ctx: &Ctx) -> Result<u64, AppError> {
    Ok(record::segments_all(&ctx.app.store.read()?)?
        .iter()
        .map(|s| s.bytes)
        .sum())
}

#[get("/integration/cameras/settings")]
async fn settings_page(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    let s = record::settings(&ctx.app.store.read()?)?;
    ctx.page(
        "integration/video_settings.html",
        context! { values => to_value(&settings_values(&s)), used_mb => used_bytes(&ctx)? / 1_000_000,
                   can_write => ctx.who.can("integration", Level::Write) },
    )
}

#[post("/integration/cameras/settings")]
async fn settings_submit(
    ctx: Need<grant::integration::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let parsed = settings_from(&f);
    let saved = match parsed {
        Ok(s) => {
            ctx.write(move |app, actor| record::save_settings(&app.store, actor, s))
                .await
        }
        Err(e) => Err(e.into()),
    };
    let used = used_bytes(&ctx)? / 1_000_000;
    ctx.done(
        saved.map(|_| "/integration/cameras/settings".to_string()),
        "flash.saved",
        "integration/video_settings.html",
        || Ok(context! { values => to_value(&f.echo()), used_mb => used, can_write => true }),
    )
}

/// Recording settings: pre-/post-roll, retention per reason, disk budget.
#[utoipa::path(tag = "cameras", responses((status = 200, description = "Settings", body = VideoSettings)),
    security(("bearer" = ["integration:read"])))]
#[get("/api/v1/cameras/settings")]
async fn api_settings(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(record::settings(&ctx.app.store.read()?)?))
}

/// Replaces the recording settings (permit video kept at least 30 days).
#[utoipa::path(tag = "cameras", request_body = VideoSettings, responses(
    (status = 200, description = "Saved", body = VideoSettings), (status = 422, description = "A field breaks a rule")),
    security(("bearer" = ["integration:write"])))]
#[put("/api/v1/cameras/settings")]
async fn api_settings_put(
    ctx: Need<grant::integration::Write>,
    body: web::Json<VideoSettings>,
) -> Result<HttpResponse, AppError> {
    let s = body.into_inner();
    let saved = ctx
        .write(move |app, actor| record::save_settings(&app.store, actor, s))
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// The recordings of a day on a camera's page: the timeline and what plays.
pub fn day_timeline(
    ctx: &Ctx,
    camera: u32,
    day: time::Date,
) -> Result<serde_json::Value, AppError> {
    let start = crate::plant_time::day_start(day, ctx.app.offset);
    let end = start + 86_400_000;
    let segs = record::segments(&ctx.app.store.read()?, camera, start, end)?;
    let now = crate::util::now_ms();
    let bars: Vec<serde_json::Value> = record::runs(&segs, 2_000, now)
        .iter()
        .map(|r| {
            let a = r.from_ms.max(start);
            let b = r.to_ms.min(end).max(a + 1);
            serde_json::json!({
                "from": r.from_ms, "to": r.to_ms.min(r.from_ms + record::MAX_CLIP_MS),
                "end": r.to_ms,
                "left": (a - start) as f64 / 864_000.0,
                "width": ((b - a) as f64 / 864_000.0).max(0.4),
                "kind": r.kind, "open": r.open, "bytes": r.bytes, "permits": r.permits,
            })
        })
        .collect();
    Ok(serde_json::json!({ "bars": bars, "day": crate::plant_time::format_day(day) }))
}
