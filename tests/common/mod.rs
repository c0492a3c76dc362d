//! Test harness: starts the real `nplusx` binary on a free loopback port with a fresh data
//! dir and hands back HTTP clients. Each test reads as a user's story.
#![allow(dead_code)]

pub mod broker;
pub mod camera;
pub mod opcua;
pub mod plc;
pub mod plugins;
pub mod sinks;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BOOTSTRAP: &str = "e2e-bootstrap-token-0123456789abcdef";

/// The binary under test: this build's, or `NPLUSX_E2E_BIN` (e.g. a release build, for the
/// memory figures of the appliance as shipped).
pub fn bin() -> String {
    std::env::var("NPLUSX_E2E_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nplusx").to_string())
}

/// Runs a CLI command to completion.
pub fn cli(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("NPLUSX_CONFIG")
        .env_remove("NPLUSX_DATA")
        .output()
        .expect("nplusx runs")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// How many appliances run at once (`NPLUSX_E2E_SERVERS`, default 3): on a 2-core machine
/// more would starve the timing stories (a hard kill's durability window, a broker outage).
/// A test waits for a slot; the slot is freed when its server stops, not when it is
/// dropped, so a test that restarts its server does not wait for itself. A wait longer
/// than five minutes goes ahead anyway, so a test holding two servers cannot deadlock.
static SLOTS: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

fn max_servers() -> usize {
    std::env::var("NPLUSX_E2E_SERVERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3)
}

/// A running appliance's place among the `max_servers`.
struct Slot;

impl Slot {
    fn take() -> Slot {
        let (lock, freed) = &SLOTS;
        let mut running = lock.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = Instant::now() + Duration::from_secs(300);
        while *running >= max_servers() && Instant::now() < deadline {
            running = freed
                .wait_timeout(running, Duration::from_secs(1))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *running += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (lock, freed) = &SLOTS;
        let mut running = lock.lock().unwrap_or_else(|e| e.into_inner());
        *running = running.saturating_sub(1);
        freed.notify_one();
    }
}

pub struct Server {
    child: Option<Child>,
    slot: Option<Slot>,
    pub base: String,
    pub data: PathBuf,
    pub lines: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// `nplusx demo` on a fresh data dir, plain HTTP on loopback, with the bootstrap token.
    pub fn demo() -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data = tmp.path().join("data");
        let mut s = Server::start(&["demo", "--bootstrap-token", BOOTSTRAP], &data, None);
        s._tmp = Some(tmp);
        s
    }

    /// Starts `nplusx <args> --data <data> --listen 127.0.0.1:0 --tls off [--config cfg]`
    /// and waits until it listens (and has printed first-start credentials, if any).
    pub fn start(args: &[&str], data: &Path, config: Option<&Path>) -> Server {
        Server::start_env(args, data, config, &[])
    }

    /// `start` with extra environment variables (e.g. libfaketime's, to run the box weeks
    /// later than the machine's clock).
    pub fn start_env(
        args: &[&str],
        data: &Path,
        config: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Server {
        let slot = Slot::take();
        let mut cmd = Command::new(bin());
        cmd.envs(env.iter().copied());
        cmd.args(args)
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0", "--tls", "off"])
            .env_remove("NPLUSX_CONFIG")
            .env("NPLUSX_LOG", "warn")
            // the bundled plugins compile once for all the tests' boxes, not once per box
            .env(
                "NPLUSX_PLUGIN_CACHE",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let mut child = cmd.spawn().expect("nplusx starts");
        let out = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut lines = Vec::new();
        let mut base = None;
        // the credentials block (fresh data dir) follows the banner; wait for it briefly
        let mut quiet_since = None;
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(l) => {
                    if let Some(rest) = l.strip_prefix("nplusx listening on ") {
                        base = Some(rest.trim().to_string());
                    }
                    let done = l.contains("Password: ");
                    lines.push(l);
                    quiet_since = None;
                    if done {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if base.is_some() {
                        let q = quiet_since.get_or_insert_with(Instant::now);
                        if q.elapsed() > Duration::from_millis(600) {
                            break;
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let Some(base) = base else {
            let status = child.wait().ok();
            panic!(
                "nplusx did not start (exit {status:?}); stdout:\n{}",
                lines.join("\n")
            );
        };
        Server {
            child: Some(child),
            slot: Some(slot),
            base,
            data: data.to_path_buf(),
            lines,
            _tmp: None,
        }
    }

    /// The demo password printed once at first start.
    pub fn password(&self) -> String {
        self.lines
            .iter()
            .find_map(|l| l.split("Password: ").nth(1))
            .expect("credentials were printed")
            .trim()
            .to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client (cookies, no redirects followed).
    pub fn browser(&self) -> Client {
        Client::new(&self.base, None)
    }

    /// An API client with a bearer token.
    pub fn api(&self, token: &str) -> Client {
        Client::new(&self.base, Some(token.to_string()))
    }

    /// A browser client for a server known only by its base URL (from another thread).
    pub fn browser_at(base: &str) -> Client {
        Client::new(base, None)
    }

    /// An API client for a server known only by its base URL (from another thread).
    pub fn api_at(base: &str, token: &str) -> Client {
        Client::new(base, Some(token.to_string()))
    }

    /// The bootstrap admin API client.
    pub fn admin_api(&self) -> Client {
        self.api(BOOTSTRAP)
    }

    /// A browser client signed in as `user` with the demo password.
    pub fn login(&self, user: &str) -> Client {
        let c = self.browser();
        let r = c.login(user, &self.password());
        assert_eq!(r.status, 303, "login of {user} failed: {}", r.body);
        c
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// (resident, peak resident) memory of the server in MiB, from /proc.
    pub fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid().unwrap_or(0)))
            .unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
    }

    /// SIGKILL: a power cut for the process (nothing is flushed).
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.slot = None;
    }

    /// SIGTERM and wait; returns the exit status. The data dir stays until `self` drops.
    pub fn stop(&mut self) -> ExitStatus {
        self.terminate().expect("server was running")
    }

    fn terminate(&mut self) -> Option<ExitStatus> {
        let _slot = self.slot.take();
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = child.try_wait().expect("wait works") {
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ties a temporary directory's life to this server.
    pub fn keep_tempdir(&mut self, tmp: tempfile::TempDir) {
        self._tmp = Some(tmp);
    }

    /// Keeps the data dir alive beyond this server (for restarts).
    pub fn take_tempdir(&mut self) -> Option<tempfile::TempDir> {
        self._tmp.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

pub struct Resp {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
    pub lang: Option<&'static str>,
}

impl Client {
    fn new(base: &str, token: Option<String>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client {
            agent,
            base: base.to_string(),
            token,
            lang: None,
        }
    }

    fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut r = r.expect("request completes");
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let bytes = r
            .body_mut()
            .with_config()
            .limit(200 << 20)
            .read_to_vec()
            .unwrap_or_default();
        Resp {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            headers,
            bytes,
        }
    }

    fn with<B>(&self, mut req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(l) = self.lang {
            req = req.header("Accept-Language", l);
        }
        req
    }

    pub fn get(&self, path: &str) -> Resp {
        Client::finish(
            self.with(self.agent.get(format!("{}{path}", self.base)))
                .call(),
        )
    }

    /// The first `max` bytes of a response that may never end (a live stream): status,
    /// content type, bytes. Stops early after `secs`.
    pub fn get_prefix(&self, path: &str, max: usize, secs: u64) -> (u16, String, Vec<u8>) {
        let mut r = match self
            .with(self.agent.get(format!("{}{path}", self.base)))
            .call()
        {
            Ok(r) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut reader = r.body_mut().as_reader();
        let mut out = Vec::new();
        let mut buf = [0u8; 16384];
        let deadline = Instant::now() + Duration::from_secs(secs);
        while out.len() < max && Instant::now() < deadline {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        (status, ct, out)
    }

    /// Posts raw bytes (`application/octet-stream`), e.g. a plugin package.
    pub fn post_bytes(&self, path: &str, bytes: &[u8]) -> Resp {
        Client::finish(
            self.with(self.agent.post(format!("{}{path}", self.base)))
                .header("Content-Type", "application/octet-stream")
                .send(bytes),
        )
    }

    /// Puts raw bytes of the given content type (a drawing, a picture).
    pub fn put_bytes(&self, path: &str, content_type: &str, bytes: &[u8]) -> Resp {
        Client::finish(
            self.with(self.agent.put(format!("{}{path}", self.base)))
                .header("Content-Type", content_type)
                .send(bytes),
        )
    }

    pub fn delete(&self, path: &str) -> Resp {
        let mut req = self.with(self.agent.delete(format!("{}{path}", self.base)));
        if let Some(c) = self.csrf_if_session() {
            req = req.header("X-CSRF-Token", c);
        }
        Client::finish(req.call())
    }

    pub fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        Client::finish(
            self.with(self.agent.post(format!("{}{path}", self.base)))
                .send_form(form.iter().copied()),
        )
    }

    /// Posts a form with the session's CSRF token added.
    pub fn submit(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let csrf = self.csrf();
        let mut f: Vec<(&str, &str)> = form.to_vec();
        f.push(("csrf", &csrf));
        self.post_form(path, &f)
    }

    /// The CSRF token when this is a signed-in browser client.
    fn csrf_if_session(&self) -> Option<String> {
        if self.token.is_some() {
            return None;
        }
        let page = self.get("/account/password");
        attr(&page.body, "name=\"csrf-token\" content=\"")
    }

    /// Whether plugin `id` runs (`GET /api/v1/plugins`).
    pub fn plugin_running(&self, id: &str) -> bool {
        self.get("/api/v1/plugins")
            .json()
            .as_array()
            .is_some_and(|l| {
                l.iter()
                    .any(|p| p["id"] == id && p["stats"]["state"] == "running")
            })
    }

    /// Sets one of plugin `id`'s settings, keeping the others and the grants (the plugin
    /// restarts with them).
    pub fn set_plugin_setting(&self, id: &str, key: &str, value: &str) {
        let mut p = self
            .get("/api/v1/plugins")
            .json()
            .as_array()
            .and_then(|l| l.iter().find(|p| p["id"] == id).cloned())
            .unwrap_or_else(|| panic!("no plugin {id}"));
        p["settings"][key] = serde_json::Value::from(value);
        let r = self.put_json(
            &format!("/api/v1/plugins/{id}/settings"),
            &serde_json::json!({"settings": p["settings"], "grants": p["grants"]}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// A DingTalk channel `name` (urgent alarms only) to a test robot endpoint; what the
    /// robot receives.
    pub fn dingtalk_channel(&self, name: &str) -> sinks::Requests {
        let (ding, got) = sinks::http(r#"{"errcode":0,"errmsg":"ok"}"#);
        let r = self.post_json(
            "/api/v1/alarms/channels",
            &serde_json::json!({"id": 0, "name": name, "min_priority": "urgent", "enabled": true,
                "target": {"kind": "dingtalk", "webhook": format!("{ding}/robot/send?access_token=t")}}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        got
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.send_json("POST", path, body)
    }

    /// Posts JSON with an API token; None when the server is gone (killed mid-request).
    pub fn try_post_json(&self, path: &str, body: &serde_json::Value) -> Option<Resp> {
        let r = self
            .with(self.agent.post(format!("{}{path}", self.base)))
            .send_json(body);
        r.is_ok().then(|| Client::finish(r))
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn put_json(&self, path: &str, body: &serde_json::Value) -> Resp {
        self.send_json("PUT", path, body)
    }

    fn send_json(&self, method: &str, path: &str, body: &serde_json::Value) -> Resp {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "PUT" => self.with(self.agent.put(url)),
            _ => self.with(self.agent.post(url)),
        };
        if let Some(c) = self.csrf_if_session() {
            req = req.header("X-CSRF-Token", c);
        }
        Client::finish(req.send_json(body))
    }

    pub fn post_multipart(
        &self,
        path: &str,
        field: &str,
        filename: &str,
        ct: &str,
        data: &[u8],
    ) -> Resp {
        let b = "nplusxE2eBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
        let mut req = self
            .with(self.agent.post(format!("{}{path}", self.base)))
            .content_type(format!("multipart/form-data; boundary={b}"));
        if let Some(c) = self.csrf_if_session() {
            req = req.header("X-CSRF-Token", c);
        }
        Client::finish(req.send(&body[..]))
    }

    /// Posts a multipart form: text fields and files (field, file name, content type, bytes).
    pub fn post_multipart_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> Resp {
        let b = "nplusxE2eBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (field, filename, ct, data) in files {
            body.extend_from_slice(
                format!("--{b}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
        let mut req = self
            .with(self.agent.post(format!("{}{path}", self.base)))
            .content_type(format!("multipart/form-data; boundary={b}"));
        if let Some(c) = self.csrf_if_session() {
            req = req.header("X-CSRF-Token", c);
        }
        Client::finish(req.send(&body[..]))
    }

    /// Signs in through the login form (with its pre-session CSRF cookie).
    pub fn login(&self, user: &str, password: &str) -> Resp {
        let page = self.get("/login");
        let pre = attr(&page.body, "name=\"csrf\" value=\"").expect("login form has a csrf field");
        self.post_form(
            "/login",
            &[
                ("username", user),
                ("password", password),
                ("csrf", &pre),
                ("next", "/"),
            ],
        )
    }

    /// A cookie's value from this client's jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let jar = self.agent.cookie_jar_lock();
        let v = jar
            .iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_string());
        jar.release();
        v
    }

    /// Puts a cookie (for this server) into the jar, as a browser that kept it would.
    pub fn set_cookie(&self, name: &str, value: &str) {
        let mut jar = self.agent.cookie_jar_lock();
        let url: ureq::http::Uri = self.base.parse().expect("base is a URI");
        let c =
            ureq::Cookie::parse(format!("{name}={value}; Path=/"), &url).expect("cookie parses");
        jar.insert(c, &url).expect("cookie fits the jar");
        jar.release();
    }

    /// The session's CSRF token, from the page meta tag.
    pub fn csrf(&self) -> String {
        let page = self.get("/account/password");
        attr(&page.body, "name=\"csrf-token\" content=\"")
            .expect("signed-in pages carry a CSRF token")
    }
}

/// The value of the first KPI labelled `label` on a plugin page (a panic names the page).
pub fn kpi(page: &str, label: &str) -> String {
    let marker = format!("<span class=\"kpi-label\">{label}</span><span class=\"kpi-value\">");
    page.split(&marker)
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_else(|| panic!("no KPI {label}: {page}"))
        .trim()
        .to_string()
}

/// The value after `prefix` up to the next quote.
pub fn attr(html: &str, prefix: &str) -> Option<String> {
    let rest = html.split(prefix).nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

/// Waits until `f` holds, or panics after `secs`.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("condition not met within {secs} s");
}

/// Reads a Server-Sent Events stream (as the bootstrap admin) until `until` appears or
/// `secs` pass; returns the response head and what arrived.
pub fn read_sse(base: &str, path: &str, until: &str, secs: u64) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {BOOTSTRAP}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if String::from_utf8_lossy(&out).contains(until) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Today in the test boxes' plant time (the default `+08:00`), `YYYY-MM-DD`.
pub fn plant_today() -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).expect("a valid offset");
    nplusx::plant_time::format_day(nplusx::plant_time::today(offset))
}
