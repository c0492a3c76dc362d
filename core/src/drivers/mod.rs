//! Device drivers: one supervised task per enabled device, feeding the tag engine.
//!
//! [`Drivers::reconcile`] brings the running tasks in line with the configured devices
//! (start new or changed ones, stop removed or disabled ones). Each task owns its
//! connection, reconnects with backoff, and keeps per-device counters for the status page.
//! A driver never blocks the engine and the engine never blocks a driver.

pub mod modbus;
pub mod mqtt;
pub mod opcua;
pub mod simulator;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::tags::engine::Engine;
use crate::tags::model::{
    Device, DeviceStatus, DriverConfig, Quality, Reason, Sample, Source, Value,
};
use crate::util::now_ms;

type Status = Arc<Mutex<DeviceStatus>>;

/// Changes a device's counters.
pub(crate) fn set_status(status: &Status, f: impl FnOnce(&mut DeviceStatus)) {
    f(&mut status.lock().expect("status lock is never poisoned"));
}

/// Counts an error of a device and keeps it as the last one.
pub(crate) fn record_error(status: &Status, why: &str) {
    set_status(status, |s| {
        s.errors += 1;
        s.last_error = Some(why.to_string());
        s.last_error_ms = Some(now_ms());
    });
}

struct Running {
    device: Device,
    task: tokio::task::JoinHandle<()>,
    status: Status,
    /// Drivers that write take requests here.
    writes: Option<tokio::sync::mpsc::Sender<modbus::WriteReq>>,
    /// OPC UA devices: their session, for writes and browsing.
    link: Option<Arc<opcua::Link>>,
}

pub struct Drivers {
    engine: Arc<Engine>,
    /// For the credentials drivers log in with.
    store: Arc<crate::store::Store>,
    /// The I/O runtime driver tasks run on (separate from the web workers).
    rt: tokio::runtime::Handle,
    running: Mutex<HashMap<u32, Running>>,
}

impl Drivers {
    pub fn new(
        engine: Arc<Engine>,
        store: Arc<crate::store::Store>,
        rt: tokio::runtime::Handle,
    ) -> Drivers {
        Drivers {
            engine,
            store,
            rt,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Starts, restarts and stops driver tasks to match `devices`. Callable from any thread.
    pub fn reconcile(&self, devices: &[Device]) {
        let mut running = self.running.lock().expect("drivers lock is never poisoned");
        let now = now_ms();
        let wanted: HashMap<u32, &Device> = devices
            .iter()
            .filter(|d| d.enabled)
            .map(|d| (d.id, d))
            .collect();
        running.retain(|id, r| {
            let keep = wanted.get(id).is_some_and(|d| **d == r.device);
            if !keep {
                r.task.abort();
                tracing::info!(device = %r.device.name, "driver stopped");
            }
            keep
        });
        for d in devices.iter().filter(|d| !d.enabled) {
            self.engine
                .mark_device(d.id, Quality::Bad(Reason::DeviceDisabled), now);
        }
        for (id, d) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            let status: Status = Arc::default();
            let mut writes = None;
            let mut link = None;
            let task = match &d.config {
                DriverConfig::Simulator {
                    interval_s,
                    seed,
                    speed,
                } => {
                    let (tx, rx) = tokio::sync::mpsc::channel(16);
                    writes = Some(tx);
                    self.rt.spawn(run_simulator(
                        self.engine.clone(),
                        d.id,
                        Sim {
                            interval_s: *interval_s,
                            seed: *seed,
                            speed: *speed,
                        },
                        status.clone(),
                        rx,
                    ))
                }
                DriverConfig::Mqtt { .. } => match self.store.sealer() {
                    Ok(sealer) => self.rt.spawn(mqtt::run(
                        self.engine.clone(),
                        d.id,
                        d.config.clone(),
                        sealer,
                        status.clone(),
                    )),
                    Err(e) => {
                        tracing::error!(device = %d.name, error = %e, "credentials cannot be opened");
                        continue;
                    }
                },
                DriverConfig::OpcUa { .. } => {
                    let settings =
                        self.store
                            .sealer()
                            .map_err(|e| e.to_string())
                            .and_then(|sealer| {
                                opcua::Settings::new(&d.config, &sealer, self.opcua_pki())
                            });
                    match settings {
                        Ok(settings) => {
                            let l = Arc::new(opcua::Link::default());
                            link = Some(l.clone());
                            self.rt.spawn(opcua::run(
                                self.engine.clone(),
                                d.id,
                                settings,
                                status.clone(),
                                l,
                            ))
                        }
                        Err(why) => {
                            // not started; the device page says why
                            tracing::error!(device = %d.name, error = %why, "opc ua device not started");
                            record_error(&status, &why);
                            self.engine
                                .mark_device(d.id, Quality::Bad(Reason::ConfigError), now);
                            self.rt.spawn(async {})
                        }
                    }
                }
                DriverConfig::ModbusTcp { .. } | DriverConfig::ModbusRtu { .. } => {
                    let (tx, rx) = tokio::sync::mpsc::channel(16);
                    writes = Some(tx);
                    self.rt.spawn(modbus::run(
                        self.engine.clone(),
                        d.id,
                        d.config.clone(),
                        status.clone(),
                        rx,
                    ))
                }
            };
            tracing::info!(device = %d.name, "driver started");
            running.insert(
                id,
                Running {
                    device: d.clone(),
                    task,
                    status,
                    writes,
                    link,
                },
            );
        }
    }

    /// This box's OPC UA certificates and the servers' pinned ones (`<data>/opcua-pki`).
    pub fn opcua_pki(&self) -> std::path::PathBuf {
        self.store
            .path()
            .parent()
            .map(|d| d.join("opcua-pki"))
            .unwrap_or_default()
    }

    /// Counters of a device (running or not).
    pub fn status(&self, device: u32) -> DeviceStatus {
        let running = self.running.lock().expect("drivers lock is never poisoned");
        let mut s = running
            .get(&device)
            .map(|r| {
                r.status
                    .lock()
                    .expect("status lock is never poisoned")
                    .clone()
            })
            .unwrap_or_default();
        s.tags = self
            .engine
            .defs()
            .iter()
            .filter(|t| t.source.device() == Some(device))
            .count();
        s
    }

    /// Writes `value` (engineering units, already checked against the tag's rules) to the
    /// tag's device and waits for the device's answer. Errors are for the user: the device
    /// is off or not connected, the driver cannot write, or the device refused.
    pub async fn write(
        &self,
        tag: Arc<crate::tags::model::Tag>,
        value: Value,
    ) -> Result<(), crate::error::Error> {
        use crate::error::Error;
        use crate::i18n::Msg;
        let device = tag.source.device();
        let (tx, link) = {
            let running = self.running.lock().expect("drivers lock is never poisoned");
            match device.and_then(|d| running.get(&d)) {
                None => return Err(Error::Device(Msg::new("tags.err.device_off"))),
                Some(r) => (r.writes.clone(), r.link.clone()),
            }
        };
        if let Some(link) = link {
            return link.write(&tag, &value).await.map_err(|detail| {
                Error::Device(Msg::new("tags.err.write_failed").arg("detail", detail))
            });
        }
        let tx = tx.ok_or_else(|| Error::Device(Msg::new("tags.err.driver_cannot_write")))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let wait = Duration::from_secs(30);
        let deadline = tokio::time::Instant::now() + wait;
        tx.send(modbus::WriteReq {
            tag,
            value,
            deadline,
            reply,
        })
        .await
        .map_err(|_| Error::Device(Msg::new("tags.err.device_off")))?;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(detail))) => Err(Error::Device(
                Msg::new("tags.err.write_failed").arg("detail", detail),
            )),
            _ => Err(Error::Device(
                Msg::new("tags.err.write_failed").arg("detail", "no answer"),
            )),
        }
    }

    /// The children of an OPC UA node of a running device, for picking tags.
    pub async fn browse(
        &self,
        device: u32,
        node: &str,
    ) -> Result<Vec<opcua::BrowseRow>, crate::error::Error> {
        use crate::error::Error;
        use crate::i18n::Msg;
        let link = {
            let running = self.running.lock().expect("drivers lock is never poisoned");
            running.get(&device).map(|r| r.link.clone())
        };
        let link = match link {
            None => return Err(Error::Device(Msg::new("tags.err.device_off"))),
            Some(None) => return Err(Error::conflict("tags.err.driver_cannot_browse")),
            Some(Some(l)) => l,
        };
        link.browse(node, 2_000).await.map_err(|detail| {
            Error::Device(Msg::new("tags.err.browse_failed").arg("detail", detail))
        })
    }

    /// Stops every driver (shutdown).
    pub fn stop_all(&self) {
        let mut running = self.running.lock().expect("drivers lock is never poisoned");
        for (_, r) in running.drain() {
            r.task.abort();
        }
    }
}

/// A simulator device's settings.
struct Sim {
    interval_s: f64,
    seed: u64,
    speed: f64,
}

/// Runs the simulated plant: a step each interval, published to the engine; writes to its
/// set-points are taken between steps, as a PLC would, and show in the next step (at once:
/// the read-back sees them).
async fn run_simulator(
    engine: Arc<Engine>,
    device: u32,
    sim: Sim,
    status: Status,
    mut writes: tokio::sync::mpsc::Receiver<modbus::WriteReq>,
) {
    let interval = Duration::from_secs_f64(sim.interval_s.clamp(0.05, 3600.0));
    let mut plant = simulator::Plant::new(sim.seed, sim.speed);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    {
        let mut s = status.lock().expect("status lock is never poisoned");
        s.connected = true;
    }
    loop {
        let dt = tokio::select! {
            _ = tick.tick() => interval.as_secs_f64(),
            Some(w) = writes.recv() => {
                let answer = match (&w.tag.source, w.value.as_f64()) {
                    (Source::Simulator { signal, .. }, Some(v)) => plant.set(signal, v),
                    _ => Err("not a number".to_string()),
                };
                let ok = answer.is_ok();
                let _ = w.reply.send(answer);
                if !ok {
                    continue;
                }
                // publish the new set-point now, with no process time passing
                0.0
            }
        };
        let started = std::time::Instant::now();
        let values = plant.step(dt);
        let ts = now_ms();
        let defs = engine.defs();
        let batch: Vec<Sample> = defs
            .iter()
            .filter_map(|t| match &t.source {
                Source::Simulator { device: d, signal } if *d == device => Some((t, signal)),
                _ => None,
            })
            .map(|(t, signal)| {
                let idx = simulator::SIGNALS.iter().position(|s| s.name == signal);
                match idx {
                    Some(i) => Sample {
                        tag: t.id,
                        ts_ms: ts,
                        value: Some(match (&values[i], t.data_type) {
                            (Value::Float(f), crate::tags::model::DataType::Int) => {
                                Value::Int(f.round() as i64)
                            }
                            (v, _) => v.clone(),
                        }),
                        quality: Quality::Good,
                    },
                    None => Sample {
                        tag: t.id,
                        ts_ms: ts,
                        value: None,
                        quality: Quality::Bad(Reason::ConfigError),
                    },
                }
            })
            .collect();
        engine.publish(batch);
        let mut s = status.lock().expect("status lock is never poisoned");
        s.requests += 1;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        s.latency_ms = if s.requests == 1 {
            ms
        } else {
            s.latency_ms * 0.9 + ms * 0.1
        };
        s.last_ok_ms = Some(ts);
    }
}
