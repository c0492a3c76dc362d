//! An MQTT broker for the tests: Mosquitto on a free loopback port with persistence, so a
//! restart keeps persistent sessions (an outage test). Debian: `apt-get install mosquitto`
//! (`.ci/run` installs it). Without it the tests that need it are skipped with a notice,
//! unless NPLUSX_REQUIRE_MOSQUITTO=1 (CI).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Mosquitto {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn binary() -> Option<PathBuf> {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

impl Mosquitto {
    /// A running broker, or `None` (test skipped) when Mosquitto is not installed.
    pub fn start() -> Option<Mosquitto> {
        let required = std::env::var("NPLUSX_REQUIRE_MOSQUITTO").is_ok_and(|v| v == "1");
        if binary().is_none() {
            assert!(
                !required,
                "NPLUSX_REQUIRE_MOSQUITTO=1 but mosquitto is not installed"
            );
            eprintln!("SKIPPED: mosquitto not installed (apt-get install mosquitto)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        // `user root`: started as root, Mosquitto would drop to user `mosquitto`, which cannot
        // write its persistence file into this private temp dir (ignored when not root)
        std::fs::write(
            dir.path().join("mosquitto.conf"),
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\npersistence_location {}/\nautosave_interval 1\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let mut m = Mosquitto {
            child: None,
            port,
            dir,
        };
        m.spawn();
        Some(m)
    }

    fn spawn(&mut self) {
        let child = Command::new(binary().unwrap())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM: the broker saves its persistent sessions and stops.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A test client: subscribes to `filters` (QoS 1, persistent session when `persistent`)
/// and collects (topic, payload) on a channel; publishes with `publish`.
pub struct TestClient {
    pub client: rumqttc::Client,
    pub rx: std::sync::mpsc::Receiver<(String, Vec<u8>)>,
}

impl TestClient {
    pub fn connect(port: u16, id: &str, filters: &[&str], persistent: bool) -> TestClient {
        let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_clean_session(!persistent);
        o.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut conn) = rumqttc::Client::new(o, 1000);
        for f in filters {
            client.subscribe(*f, rumqttc::QoS::AtLeastOnce).unwrap();
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        // a client without subscriptions is ready at connect; others at their SubAck
        let ready_at_connect = filters.is_empty();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for ev in conn.iter() {
                match ev {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                            return;
                        }
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)))
                        if ready_at_connect =>
                    {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        let _ = ready_rx.recv_timeout(Duration::from_secs(10));
        TestClient { client, rx }
    }

    pub fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.into())
            .unwrap();
    }

    /// Messages received within `secs`, until `until` holds for what arrived.
    pub fn collect(
        &self,
        secs: u64,
        mut until: impl FnMut(&[(String, Vec<u8>)]) -> bool,
    ) -> Vec<(String, Vec<u8>)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut got = Vec::new();
        while Instant::now() < deadline && !until(&got) {
            if let Ok(m) = self.rx.recv_timeout(Duration::from_millis(100)) {
                got.push(m);
            }
        }
        got
    }
}
