//! Video benchmark: 16 cameras at 1080p, 25 fps, 4 Mbit/s each, pulled over RTSP
//! (TCP-interleaved) and recorded continuously to segment files by the box's own ingest and
//! recorder (`cameras::video`), printed as a share of one core beside the cost of only
//! reading the same sockets (the floor: the box cannot pay less than the kernel's copy).
//!
//! The cameras are a child process (this binary again, `NPLUSX_BENCH_CAMERA_CHILD=1`)
//! running the box's test-camera RTSP server with camera-sized filler frames (an IDR every
//! 2 s ten times a P frame), so their cost is not counted. CPU is the process's user +
//! system time (getrusage) over a measured window after a warm-up.
//!
//! Run: `cargo bench --bench video` (release build). Cameras: `NPLUSX_BENCH_CAMERAS`
//! (default 16); seconds measured: `NPLUSX_BENCH_SECS` (default 20); bit rate:
//! `NPLUSX_BENCH_KBPS` (default 4000).

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nplusx::cameras::testcam::{self, Filler};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct it is given
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// The child: one test-camera server per camera, ports on stdout, until stdin closes.
fn child(cameras: u64, kbps: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut ports = Vec::new();
    for _ in 0..cameras {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        ports.push(l.local_addr().unwrap().port());
        rt.spawn(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            testcam::serve(
                l,
                Arc::new(move || Filler::new(1920, 1080, 25, 50, kbps * 1000)),
            )
            .await
        });
    }
    println!(
        "{}",
        ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut s = String::new();
    let _ = std::io::stdin().read_line(&mut s);
}

/// Baseline: the RTSP handshake by hand, then read and drop what arrives.
fn read_only(ports: &[u16], secs: u64) -> (f64, u64) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut threads = Vec::new();
    for &p in ports {
        let (stop, total) = (stop.clone(), total.clone());
        threads.push(std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", p)).unwrap();
            let url = format!("rtsp://127.0.0.1:{p}/bench");
            for (i, req) in [
                format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
                format!("SETUP {url}/track1 RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"),
                format!("PLAY {url} RTSP/1.0\r\nCSeq: 3\r\nSession: 6e706c78\r\n\r\n"),
            ]
            .iter()
            .enumerate()
            {
                s.write_all(req.as_bytes()).unwrap();
                // the answer's head and body (DESCRIBE's SDP)
                let mut r = BufReader::new(&s);
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                let _ = i;
            }
            let mut buf = vec![0u8; 64 * 1024];
            s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(n) = s.read(&mut buf) {
                    total.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(3));
    let (c0, b0, t0) = (
        cpu_secs(),
        total.load(std::sync::atomic::Ordering::Relaxed),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, b1, wall) = (
        cpu_secs(),
        total.load(std::sync::atomic::Ordering::Relaxed),
        t0.elapsed(),
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    ((c1 - c0) / wall.as_secs_f64(), b1 - b0)
}

fn main() {
    let cameras = env("NPLUSX_BENCH_CAMERAS", 16);
    let secs = env("NPLUSX_BENCH_SECS", 20);
    let kbps = env("NPLUSX_BENCH_KBPS", 4000);
    if std::env::var("NPLUSX_BENCH_CAMERA_CHILD").is_ok() {
        return child(cameras, kbps);
    }
    let mut kid = std::process::Command::new(std::env::current_exe().unwrap())
        .env("NPLUSX_BENCH_CAMERA_CHILD", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(kid.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ports: Vec<u16> = line
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();

    let (base_core, base_bytes) = read_only(&ports, secs);

    // the box: store, cameras recording continuously, the supervisor and recorder running
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(nplusx::store::Store::open(dir.path()).unwrap());
    let actor = nplusx::store::Actor::system("bench");
    for (i, p) in ports.iter().enumerate() {
        nplusx::cameras::save(
            &store,
            &actor,
            nplusx::cameras::Camera {
                id: 0,
                name: format!("cam{i:02}"),
                area: String::new(),
                rtsp_url: format!("rtsp://127.0.0.1:{p}/bench"),
                snapshot_url: String::new(),
                username: String::new(),
                password: nplusx::secrets::Secret::Empty,
                enabled: true,
                recording: nplusx::cameras::Recording::Continuous,
                zones: Vec::new(),
            },
        )
        .unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let video = Arc::new(nplusx::cameras::video::Video::new(
        store.clone(),
        dir.path(),
        time::UtcOffset::from_hms(8, 0, 0).unwrap(),
    ));
    video.start(rt.handle());
    std::thread::sleep(Duration::from_secs(6));
    let connected = video
        .statuses()
        .values()
        .filter(|s| s.state == nplusx::cameras::video::LinkState::Connected)
        .count();
    let bytes0: u64 = video.statuses().values().map(|s| s.bytes).sum();
    let (c0, t0) = (cpu_secs(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, wall) = (cpu_secs(), t0.elapsed());
    let statuses = video.statuses();
    let bytes1: u64 = statuses.values().map(|s| s.bytes).sum();
    let recording = statuses.values().filter(|s| s.recording).count();
    video.recorder.stop_all();
    let on_disk: u64 = walk(&dir.path().join("video"));
    drop(kid.stdin.take());
    let _ = kid.wait();

    let core = (c1 - c0) / wall.as_secs_f64();
    let mbit = |b: u64| b as f64 * 8.0 / wall.as_secs_f64() / 1e6;
    println!(
        "video: {cameras} cameras × 1080p 25 fps {kbps} kbit/s, {connected} connected, {recording} recording"
    );
    println!(
        "  ingest + record: {:.1} % of one core (goal < 15 %), {:.1} Mbit/s of video taken, {:.1} MB written in all",
        core * 100.0,
        mbit(bytes1 - bytes0),
        on_disk as f64 / 1e6
    );
    println!(
        "  only reading the sockets: {:.1} % of one core, {:.1} Mbit/s ({:.1}× the floor)",
        base_core * 100.0,
        mbit(base_bytes),
        core / base_core.max(1e-9)
    );
}

fn walk(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() { walk(&e.path()) } else { m.len() }
                })
                .sum()
        })
        .unwrap_or(0)
}
