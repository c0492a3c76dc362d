//! An IP camera for the tests: GStreamer's RTSP server (`tests/peers/rtsp_camera.py`,
//! gst-rtsp-server through Python GI; not project code) serving H.264 on a free loopback
//! port with Digest credentials. Debian: `python3-gi gir1.2-gst-rtsp-server-1.0
//! gstreamer1.0-plugins-{base,good,ugly}` (`.ci/run` installs them). Without them the tests
//! that need it are skipped with a notice, unless NPLUSX_REQUIRE_RTSP=1 (CI).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "Cam-2026";

pub struct Camera {
    child: Option<Child>,
    pub port: u16,
    codec: &'static str,
}

const PYTHON: &str = "/usr/bin/python3";

fn script() -> String {
    format!(
        "{}/../tests/peers/rtsp_camera.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn available() -> bool {
    Command::new(PYTHON)
        .args([
            "-c",
            // the server and every element the camera's pipelines use
            "import gi; gi.require_version('GstRtspServer', '1.0'); gi.require_version('Gst', '1.0'); \
             from gi.repository import GstRtspServer, Gst; Gst.init(None); \
             assert all(Gst.ElementFactory.find(e) for e in \
             ('videotestsrc', 'clockoverlay', 'x264enc', 'rtph264pay', 'jpegenc', 'rtpjpegpay'))",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Camera {
    /// A camera serving `rtsp://127.0.0.1:{port}/cam`, or `None` (test skipped) when
    /// GStreamer's RTSP server is not installed.
    pub fn start() -> Option<Camera> {
        Camera::start_codec("h264")
    }

    /// A camera sending `codec` (`h264`, or `jpeg` as old cameras do).
    pub fn start_codec(codec: &'static str) -> Option<Camera> {
        let required = std::env::var("NPLUSX_REQUIRE_RTSP").is_ok_and(|v| v == "1");
        if !available() {
            assert!(
                !required,
                "NPLUSX_REQUIRE_RTSP=1 but GStreamer's RTSP server or an element the camera uses is not installed (python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-x)"
            );
            eprintln!(
                "SKIPPED: no RTSP camera (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-x)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut c = Camera {
            child: None,
            port,
            codec,
        };
        c.restart();
        Some(c)
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/cam", self.port)
    }

    /// Starts the server (again, on the same port) and waits until it listens.
    pub fn restart(&mut self) {
        let mut child = Command::new(PYTHON)
            .arg(script())
            .arg(self.port.to_string())
            .args([
                "--user",
                USER,
                "--password",
                PASSWORD,
                "--codec",
                self.codec,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the RTSP camera starts");
        let out = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).expect("reads");
        assert_eq!(line.trim(), "READY", "the RTSP camera did not start");
        self.child = Some(child);
    }

    /// The camera hangs (SIGSTOP): its connection stays open, nothing arrives.
    pub fn freeze(&self, frozen: bool) {
        if let Some(c) = &self.child {
            let sig = if frozen { "-STOP" } else { "-CONT" };
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
        }
    }

    /// The camera loses power.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Checks an MP4 file with GStreamer's demuxer and H.264 parser (third-party readers):
/// the number of frames read, or the error they report.
pub fn frames_in_mp4(path: &std::path::Path) -> Result<u64, String> {
    let code = format!(
        r#"
import sys, gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
p = Gst.parse_launch("filesrc location={} ! qtdemux ! h264parse ! fakesink name=s signal-handoffs=true")
n = [0]
p.get_by_name("s").connect("handoff", lambda *a: n.__setitem__(0, n[0] + 1))
p.set_state(Gst.State.PLAYING)
m = p.get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
p.set_state(Gst.State.NULL)
if m is None or m.type == Gst.MessageType.ERROR:
    print("error", m.parse_error() if m else "timeout"); sys.exit(1)
print(n[0])
"#,
        path.display()
    );
    let out = Command::new(PYTHON)
        .args(["-c", &code])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        return Err(format!("{text} {}", String::from_utf8_lossy(&out.stderr)));
    }
    text.parse().map_err(|_| text)
}
