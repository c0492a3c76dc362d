//! One camera's RTSP session (retina): DESCRIBE with the camera's credentials (Basic or
//! Digest, as the camera asks), SETUP of its video stream interleaved on the RTSP TCP
//! connection, PLAY, then access units handed to the feed. A failure is recorded in the
//! camera's status and the session tried again after a pause that doubles up to 30 s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use retina::client::{
    Credentials, PlayOptions, Session, SessionOptions, SetupOptions, TcpTransportOptions, Transport,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef};

use super::{Feed, Frame, LinkState, Params};
use crate::cameras::Camera;

/// No frame for this long: the camera stalled.
const STALL: Duration = Duration::from_secs(10);
/// Each RTSP request's answer within this.
const REQUEST: Duration = Duration::from_secs(10);
/// Sustained over 5 s above this, a camera floods the box (a 4K camera at its best
/// quality sends ~16 Mbit/s).
const MAX_BPS: u64 = 60_000_000;
/// One access unit larger than this is not video.
const MAX_FRAME: usize = 8 << 20;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why a session ended: a catalogue key (`cameras.fail.*`) for what the box recognises,
/// and the detail (English, from the box or the RTSP library).
struct Failure {
    key: &'static str,
    text: String,
    /// Not worth retrying soon (credentials refused, codec not supported).
    lasting: bool,
}

impl Failure {
    fn new(key: &'static str, text: impl Into<String>) -> Failure {
        Failure {
            key,
            text: text.into(),
            lasting: false,
        }
    }
    fn lasting(key: &'static str, text: impl Into<String>) -> Failure {
        Failure {
            lasting: true,
            ..Failure::new(key, text)
        }
    }
}

fn from_retina(e: retina::Error) -> Failure {
    // retina's messages carry the connection and message context on further lines
    let full = e.to_string();
    let text = full.lines().next().unwrap_or("").trim().to_string();
    if text.contains("401") {
        Failure::lasting(
            "credentials",
            format!("the camera refused the user name or password ({text})"),
        )
    } else if text.contains("Connection refused") || text.contains("Unable to connect") {
        Failure::new("unreachable", text)
    } else {
        Failure::new("other", text)
    }
}

pub async fn run(feed: Arc<Feed>, cam: Camera, password: String) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let epoch = feed.next_epoch();
        feed.set_status(|s| {
            s.state = LinkState::Connecting;
            s.since_ms = crate::util::now_ms();
            if epoch > 1 {
                s.reconnects += 1;
            }
        });
        let began = Instant::now();
        let why = session(&feed, &cam, &password, epoch).await;
        let now = crate::util::now_ms();
        tracing::warn!(camera = %cam.name, error = %why.text, "camera stream ended");
        feed.set_status(|s| {
            s.state = LinkState::Failed;
            s.error_key = why.key.to_string();
            s.last_error = why.text.clone();
            s.last_error_ms = Some(now);
            s.since_ms = now;
            s.bitrate_bps = 0;
            s.fps = 0.0;
        });
        if began.elapsed() > Duration::from_secs(30) {
            backoff = Duration::from_secs(1);
        }
        let pause = if why.lasting { MAX_BACKOFF } else { backoff };
        tokio::time::sleep(pause).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, retina::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(REQUEST, f).await {
        Err(_) => Err(Failure::new(
            "timeout",
            format!("no answer to {what} within 10 s"),
        )),
        Ok(r) => r.map_err(from_retina),
    }
}

/// Rates over a sliding 5 s window.
struct Meter {
    window_start: Instant,
    bytes: u64,
    frames: u64,
}

async fn session(feed: &Feed, cam: &Camera, password: &str, epoch: u64) -> Failure {
    match session_inner(feed, cam, password, epoch).await {
        Ok(()) => Failure::new("ended", "the camera ended the stream"),
        Err(f) => f,
    }
}

async fn session_inner(
    feed: &Feed,
    cam: &Camera,
    password: &str,
    epoch: u64,
) -> Result<(), Failure> {
    let url =
        url::Url::parse(&cam.rtsp_url).map_err(|e| Failure::lasting("other", e.to_string()))?;
    let creds = (!cam.username.is_empty()).then(|| Credentials {
        username: cam.username.clone(),
        password: password.to_string(),
    });
    let opts = SessionOptions::default()
        .creds(creds)
        .user_agent(format!("nplusx/{}", env!("CARGO_PKG_VERSION")));
    let mut described = timed("DESCRIBE", Session::describe(url, opts)).await?;
    let Some(i) = described
        .streams()
        .iter()
        .position(|s| s.media() == "video")
    else {
        return Err(Failure::lasting(
            "no_video",
            "the camera offers no video stream",
        ));
    };
    let encoding = described.streams()[i].encoding_name().to_ascii_lowercase();
    if encoding != "h264" && encoding != "h265" {
        return Err(Failure::lasting(
            "codec",
            format!(
                "the camera sends {encoding}; only H.264 and H.265 can be repackaged without transcoding"
            ),
        ));
    }
    let setup = SetupOptions::default()
        .transport(Transport::Tcp(TcpTransportOptions::default()))
        .frame_format(FrameFormat::MP4);
    timed("SETUP", described.setup(i, setup)).await?;
    let playing = timed("PLAY", described.play(PlayOptions::default())).await?;
    let mut demuxed = playing.demuxed().map_err(from_retina)?;
    let mut params: Option<Arc<Params>> = None;
    let mut meter = Meter {
        window_start: Instant::now(),
        bytes: 0,
        frames: 0,
    };
    loop {
        let item = match tokio::time::timeout(STALL, demuxed.next()).await {
            Err(_) => {
                return Err(Failure::new(
                    "stalled",
                    "no video for 10 s: the camera stalled",
                ));
            }
            Ok(None) => return Ok(()),
            Ok(Some(Err(e))) => return Err(from_retina(e)),
            Ok(Some(Ok(item))) => item,
        };
        let CodecItem::VideoFrame(f) = item else {
            continue;
        };
        if f.stream_id() != i {
            continue;
        }
        if f.has_new_parameters() || params.is_none() {
            let Some(ParametersRef::Video(v)) = demuxed.streams()[i].parameters() else {
                continue;
            };
            let entry = v.mp4_sample_entry().build().map_err(|e| {
                Failure::lasting("codec", format!("cannot repackage this stream: {e}"))
            })?;
            let (w, h) = v.pixel_dimensions();
            let p = Arc::new(Params::new(v.rfc6381_codec().to_string(), w, h, entry));
            feed.set_status(|s| {
                s.codec = p.codec.clone();
                s.width = w;
                s.height = h;
                s.h265 = p.h265;
            });
            params = Some(p);
        }
        let Some(p) = params.clone() else { continue };
        if f.data().len() > MAX_FRAME {
            return Err(Failure::new(
                "flood",
                format!(
                    "a frame of {} MB: not a video stream the box takes",
                    f.data().len() >> 20
                ),
            ));
        }
        meter.bytes += f.data().len() as u64;
        meter.frames += 1;
        let elapsed = meter.window_start.elapsed();
        let now = crate::util::now_ms();
        let len = f.data().len() as u64;
        if elapsed >= Duration::from_secs(5) {
            let secs = elapsed.as_secs_f64();
            let bps = (meter.bytes as f64 * 8.0 / secs) as u64;
            let fps = meter.frames as f64 / secs;
            meter = Meter {
                window_start: Instant::now(),
                bytes: 0,
                frames: 0,
            };
            feed.set_status(|s| {
                s.bitrate_bps = bps;
                s.fps = (fps * 10.0).round() / 10.0;
            });
            if bps > MAX_BPS {
                return Err(Failure::new(
                    "flood",
                    format!(
                        "the camera floods the box with {:.0} Mbit/s (at most {} Mbit/s taken)",
                        bps as f64 / 1e6,
                        MAX_BPS / 1_000_000
                    ),
                ));
            }
        }
        feed.set_status(|s| {
            if s.state != LinkState::Connected {
                s.state = LinkState::Connected;
                s.since_ms = now;
            }
            s.frames += 1;
            s.bytes += len;
        });
        let frame = Frame {
            epoch,
            time: f.timestamp().elapsed().max(0) as u64,
            wall_ms: now,
            key: f.is_random_access_point(),
            data: Bytes::from(f.into_data()),
            params: p,
        };
        feed.publish(Arc::new(frame));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cameras::testcam;

    /// A real RTSP session on loopback against the box's test-camera server, sending
    /// camera-sized filler frames at `kbps`: the feed's status after `secs`.
    fn run_against(kbps: u64, secs: u64) -> super::super::Status {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            tokio::spawn(testcam::serve(
                l,
                Arc::new(move || testcam::Filler::new(1920, 1080, 25, 50, kbps * 1000)),
            ));
            let feed = Arc::new(Feed::new(1));
            let cam = Camera {
                id: 1,
                name: "t".into(),
                area: String::new(),
                rtsp_url: format!("rtsp://127.0.0.1:{port}/t"),
                snapshot_url: String::new(),
                username: String::new(),
                password: crate::secrets::Secret::Empty,
                enabled: true,
                recording: crate::cameras::Recording::Off,
                zones: Vec::new(),
            };
            let task = tokio::spawn(run(feed.clone(), cam, String::new()));
            tokio::time::sleep(Duration::from_secs(secs)).await;
            task.abort();
            feed.status()
        })
    }

    #[test]
    fn a_camera_at_4_mbit_is_taken_and_one_flooding_the_box_is_cut_off() {
        let ok = run_against(4_000, 7);
        assert_eq!(ok.state, LinkState::Connected, "{ok:?}");
        assert!(ok.codec.starts_with("avc1.42"), "{ok:?}");
        assert_eq!((ok.width, ok.height), (1920, 1088));
        assert!(
            (3_000_000..5_500_000).contains(&ok.bitrate_bps),
            "{}",
            ok.bitrate_bps
        );
        let flood = run_against(120_000, 7);
        assert_eq!(flood.error_key, "flood", "{flood:?}");
        assert!(flood.last_error.contains("floods the box"), "{flood:?}");
    }
}
