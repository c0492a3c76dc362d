//! The Modbus driver (TCP and RTU, tokio-modbus): one task per device that connects,
//! polls its tags group by group, and performs writes between polls.
//!
//! Failures are contained: an exception response marks the tags of that read bad
//! (`device_error`), and an "illegal data address" splits the read (`plan::Split`) so only
//! the tag at the bad address stays bad (`config_error`); a timeout or a broken connection marks every tag
//! of the device bad (`comm_failure`) and reconnects with backoff (1 s doubling to 30 s).
//! The tag list is re-read whenever the engine's definitions change, without a reconnect.

pub mod plan;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::{ExceptionCode, Slave};

use self::plan::{Block, Bridging, Splits, decode, encode};
use super::{Status, record_error, set_status};
use crate::tags::engine::{Defs, Engine};
use crate::tags::model::{
    DataType, DriverConfig, ModbusArea, ModbusOptions, ModbusPoint, Parity, Quality, Reason,
    RegFormat, Sample, Source, Tag, Value,
};
use crate::util::now_ms;

/// A write for the driver task, answered on `reply`.
pub struct WriteReq {
    pub tag: Arc<Tag>,
    pub value: Value,
    /// After this the caller has given up: the write must not happen any more.
    pub deadline: tokio::time::Instant,
    pub reply: oneshot::Sender<Result<(), String>>,
}

/// How a session ended: the connection is no longer usable.
#[derive(Debug)]
struct Broken(String);

/// Runs one Modbus device until the task is aborted.
pub async fn run(
    engine: Arc<Engine>,
    device: u32,
    config: DriverConfig,
    status: Status,
    mut writes: mpsc::Receiver<WriteReq>,
) {
    let (opts, bridging) = match &config {
        DriverConfig::ModbusTcp { options, .. } => (options.clone(), Bridging::tcp(options)),
        DriverConfig::ModbusRtu { options, baud, .. } => {
            (options.clone(), Bridging::rtu(options, *baud))
        }
        _ => return,
    };
    let mut backoff = Duration::from_secs(1);
    loop {
        match connect(&config, &opts).await {
            Ok(ctx) => {
                backoff = Duration::from_secs(1);
                set_status(&status, |s| s.connected = true);
                let Broken(why) = Session::new(
                    engine.clone(),
                    device,
                    opts.clone(),
                    bridging,
                    status.clone(),
                    ctx,
                )
                .run(&mut writes)
                .await;
                record_error(&status, &why);
                tracing::warn!(device, error = %why, "modbus connection lost; reconnecting");
            }
            Err(why) => {
                record_error(&status, &why);
                tracing::debug!(device, error = %why, "modbus connect failed");
            }
        }
        set_status(&status, |s| s.connected = false);
        engine.mark_device(device, Quality::Bad(Reason::CommFailure), now_ms());
        // while disconnected, writes fail at once instead of waiting for the reconnect
        let wait = tokio::time::sleep(backoff);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                Some(w) = writes.recv() => { let _ = w.reply.send(Err("device not connected".into())); }
            }
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn connect(config: &DriverConfig, opts: &ModbusOptions) -> Result<Context, String> {
    let timeout = Duration::from_millis(opts.timeout_ms.max(1) as u64);
    match config {
        DriverConfig::ModbusTcp {
            host, port, unit, ..
        } => {
            let addr =
                tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), *port)))
                    .await
                    .map_err(|_| format!("{host}:{port}: name lookup timed out"))?
                    .map_err(|e| format!("{host}:{port}: {e}"))?
                    .next()
                    .ok_or_else(|| format!("{host}:{port}: no address"))?;
            tokio::time::timeout(
                timeout,
                tokio_modbus::client::tcp::connect_slave(addr, Slave(*unit)),
            )
            .await
            .map_err(|_| format!("{addr}: connect timed out"))?
            .map_err(|e| format!("{addr}: {e}"))
        }
        DriverConfig::ModbusRtu {
            path,
            baud,
            parity,
            stop_bits,
            unit,
            ..
        } => {
            use tokio_serial::SerialPortBuilderExt;
            let port = tokio_serial::new(path, *baud)
                .data_bits(tokio_serial::DataBits::Eight)
                .parity(match parity {
                    Parity::None => tokio_serial::Parity::None,
                    Parity::Even => tokio_serial::Parity::Even,
                    Parity::Odd => tokio_serial::Parity::Odd,
                })
                .stop_bits(if *stop_bits == 2 {
                    tokio_serial::StopBits::Two
                } else {
                    tokio_serial::StopBits::One
                })
                .open_native_async()
                .map_err(|e| format!("{path}: {e}"))?;
            Ok(tokio_modbus::client::rtu::attach_slave(port, Slave(*unit)))
        }
        _ => Err("not a modbus device".into()),
    }
}

/// The device's tags, grouped and planned.
struct Plan {
    defs: Arc<Defs>,
    /// Per polling group: interval and reads.
    groups: Vec<(Duration, Vec<Block>)>,
    /// Tags whose group the device does not define.
    orphans: Vec<u32>,
}

impl Plan {
    fn new(
        defs: Arc<Defs>,
        device: u32,
        opts: &ModbusOptions,
        bridging: Bridging,
        splits: &Splits,
    ) -> Plan {
        let mut by_group: HashMap<&str, Vec<(u32, ModbusPoint)>> = HashMap::new();
        let mut orphans = Vec::new();
        for t in defs.iter() {
            if let Source::Modbus { device: d, point } = &t.source
                && *d == device
            {
                if opts.groups.iter().any(|g| g.name == point.group) {
                    by_group
                        .entry(point.group.as_str())
                        .or_default()
                        .push((t.id, point.clone()));
                } else {
                    orphans.push(t.id);
                }
            }
        }
        let groups = opts
            .groups
            .iter()
            .map(|g| {
                let points = by_group.remove(g.name.as_str()).unwrap_or_default();
                (
                    Duration::from_millis(g.interval_ms.max(10) as u64),
                    plan::plan(&points, opts, bridging, splits),
                )
            })
            .collect();
        Plan {
            defs,
            groups,
            orphans,
        }
    }

    fn reads_per_poll(&self) -> usize {
        self.groups.iter().map(|(_, b)| b.len()).sum()
    }
}

struct Session {
    engine: Arc<Engine>,
    device: u32,
    opts: ModbusOptions,
    status: Status,
    ctx: Context,
    bridging: Bridging,
    splits: Splits,
    plan: Plan,
}

/// What came back for one read.
enum Read {
    Words(Vec<u16>),
    Bits(Vec<bool>),
}

impl Session {
    fn new(
        engine: Arc<Engine>,
        device: u32,
        opts: ModbusOptions,
        bridging: Bridging,
        status: Status,
        ctx: Context,
    ) -> Session {
        let splits = Splits::new();
        let plan = Plan::new(engine.defs(), device, &opts, bridging, &splits);
        Session {
            engine,
            device,
            opts,
            status,
            ctx,
            bridging,
            splits,
            plan,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.opts.timeout_ms.max(1) as u64)
    }

    /// Rebuilds the plan when tags changed (or a read was split).
    fn replan(&mut self) {
        self.plan = Plan::new(
            self.engine.defs(),
            self.device,
            &self.opts,
            self.bridging,
            &self.splits,
        );
        let ts = now_ms();
        let orphans: Vec<Sample> = self
            .plan
            .orphans
            .iter()
            .map(|id| Sample {
                tag: *id,
                ts_ms: ts,
                value: None,
                quality: Quality::Bad(Reason::ConfigError),
            })
            .collect();
        if !orphans.is_empty() {
            self.engine.publish(orphans);
        }
        let n = self.plan.reads_per_poll();
        set_status(&self.status, |s| s.reads_per_poll = n);
    }

    async fn run(mut self, writes: &mut mpsc::Receiver<WriteReq>) -> Broken {
        self.replan();
        let start = tokio::time::Instant::now();
        let mut due: Vec<tokio::time::Instant> = vec![start; self.plan.groups.len()];
        loop {
            if !Arc::ptr_eq(&self.plan.defs, &self.engine.defs()) {
                self.replan();
            }
            let (g, at) = due
                .iter()
                .enumerate()
                .min_by_key(|(_, t)| **t)
                .map(|(g, t)| (g, *t))
                .expect("a device has at least one polling group");
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {
                    if let Err(b) = self.poll_group(g).await {
                        return b;
                    }
                    let interval = self.plan.groups[g].0;
                    let now = tokio::time::Instant::now();
                    // a slow device skips polls rather than queueing them
                    due[g] = (at + interval).max(now);
                }
                Some(w) = writes.recv() => {
                    if w.reply.is_closed() || tokio::time::Instant::now() >= w.deadline {
                        // answered "failed" already: writing now would surprise the operator
                        continue;
                    }
                    let result = self.write(&w.tag, &w.value).await;
                    let broken = matches!(result, Err(WriteFail::Broken(_)));
                    let _ = w.reply.send(result.map_err(|e| e.to_string()));
                    if broken {
                        return Broken("write: connection lost".into());
                    }
                }
            }
        }
    }

    /// One request with the timeout and the device's counters.
    async fn read(
        &mut self,
        area: ModbusArea,
        start: u16,
        count: u16,
    ) -> Result<Result<Read, ExceptionCode>, Broken> {
        let t = Instant::now();
        let timeout = self.timeout();
        let ctx = &mut self.ctx;
        let r = tokio::time::timeout(timeout, async {
            Ok::<_, tokio_modbus::Error>(match area {
                ModbusArea::Coil => ctx.read_coils(start, count).await?.map(Read::Bits),
                ModbusArea::DiscreteInput => ctx
                    .read_discrete_inputs(start, count)
                    .await?
                    .map(Read::Bits),
                ModbusArea::InputRegister => ctx
                    .read_input_registers(start, count)
                    .await?
                    .map(Read::Words),
                ModbusArea::HoldingRegister => ctx
                    .read_holding_registers(start, count)
                    .await?
                    .map(Read::Words),
            })
        })
        .await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        set_status(&self.status, |s| {
            s.requests += 1;
            s.latency_ms = if s.requests == 1 {
                ms
            } else {
                s.latency_ms * 0.9 + ms * 0.1
            };
        });
        match r {
            Err(_) => Err(Broken(format!(
                "read {area:?} {start}+{count}: no answer within {} ms",
                timeout.as_millis()
            ))),
            Ok(Err(e)) => Err(Broken(format!("read {area:?} {start}+{count}: {e}"))),
            Ok(Ok(r)) => Ok(r),
        }
    }

    async fn poll_group(&mut self, g: usize) -> Result<(), Broken> {
        let blocks = self.plan.groups[g].1.clone();
        let mut batch = Vec::new();
        let mut split = false;
        for b in &blocks {
            let ts = now_ms();
            match self.read(b.area, b.start, b.count).await {
                Ok(Ok(data)) => {
                    for (id, p) in &b.points {
                        batch.push(self.sample(*id, p, b, &data, ts));
                    }
                    set_status(&self.status, |s| s.last_ok_ms = Some(ts));
                }
                Ok(Err(ex)) => {
                    let refused = ex == ExceptionCode::IllegalDataAddress;
                    let reason = match b.split_on_refusal() {
                        None if refused => Reason::ConfigError,
                        Some(how) if refused => {
                            // from the next poll on, read the runs of adjacent addresses
                            // (then each tag) apart: only the bad address stays bad
                            for (_, p) in &b.points {
                                self.splits.insert((p.area, p.address), how);
                            }
                            split = true;
                            Reason::DeviceError
                        }
                        _ => Reason::DeviceError,
                    };
                    record_error(
                        &self.status,
                        &format!("read {:?} {}+{}: exception {ex}", b.area, b.start, b.count),
                    );
                    batch.extend(b.points.iter().map(|(id, _)| Sample {
                        tag: *id,
                        ts_ms: ts,
                        value: None,
                        quality: Quality::Bad(reason),
                    }));
                }
                Err(broken) => {
                    if !batch.is_empty() {
                        self.engine.publish(batch);
                    }
                    return Err(broken);
                }
            }
        }
        if !batch.is_empty() {
            self.engine.publish(batch);
        }
        if split {
            self.replan();
        }
        Ok(())
    }

    /// The sample of one tag from its block's data.
    fn sample(&self, id: u32, p: &ModbusPoint, b: &Block, data: &Read, ts: i64) -> Sample {
        let off = (p.address - b.start) as usize;
        let raw = match data {
            Read::Bits(bits) => bits.get(off).map(|x| *x as u8 as f64),
            Read::Words(words) => words.get(off..).and_then(|w| decode(p, w)),
        };
        let tag = self.plan.defs.get(id);
        let (value, quality) = match (raw, tag) {
            (Some(raw), Some(t)) => (Some(to_value(t, raw)), Quality::Good),
            _ => (None, Quality::Bad(Reason::BadValue)),
        };
        Sample {
            tag: id,
            ts_ms: ts,
            value,
            quality,
        }
    }

    /// Writes `value` (engineering units) to the tag's coil or registers, then reads the
    /// block back so the new value is current when the caller gets its answer.
    async fn write(&mut self, tag: &Tag, value: &Value) -> Result<(), WriteFail> {
        let Source::Modbus { point: p, .. } = &tag.source else {
            return Err(WriteFail::Refused("not a modbus tag".into()));
        };
        let v = value
            .as_f64()
            .ok_or_else(|| WriteFail::Refused("not a number".into()))?;
        let raw = tag.scaling.map_or(v, |s| s.invert(v));
        let timeout = self.timeout();
        let t = Instant::now();
        let ctx = &mut self.ctx;
        let r = tokio::time::timeout(timeout, async {
            match (p.area, p.format) {
                (ModbusArea::Coil, _) => ctx.write_single_coil(p.address, raw != 0.0).await,
                (ModbusArea::HoldingRegister, RegFormat::Bit) => {
                    // FC22 changes one bit in the PLC itself; read-modify-write (which can undo
                    // a bit the PLC changed meanwhile) only for devices without it
                    let mask = 1u16 << p.bit.unwrap_or(0).min(15);
                    let or = if raw != 0.0 { mask } else { 0 };
                    match ctx.masked_write_register(p.address, !mask, or).await? {
                        Err(ExceptionCode::IllegalFunction) => {}
                        done => return Ok(done),
                    }
                    let word = match ctx.read_holding_registers(p.address, 1).await? {
                        Ok(w) => w.first().copied().unwrap_or(0),
                        Err(ex) => return Ok(Err(ex)),
                    };
                    ctx.write_single_register(p.address, (word & !mask) | or)
                        .await
                }
                (ModbusArea::HoldingRegister, _) => {
                    let words = match encode(p, raw) {
                        Ok(w) => w,
                        Err(_) => return Ok(Err(ExceptionCode::IllegalDataValue)),
                    };
                    if words.len() == 1 {
                        ctx.write_single_register(p.address, words[0]).await
                    } else {
                        ctx.write_multiple_registers(p.address, &words).await
                    }
                }
                _ => Ok(Err(ExceptionCode::IllegalFunction)),
            }
        })
        .await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        set_status(&self.status, |s| {
            s.requests += 1;
            s.latency_ms = s.latency_ms * 0.9 + ms * 0.1;
        });
        match r {
            Err(_) => Err(WriteFail::Broken(format!(
                "no answer within {} ms",
                timeout.as_millis()
            ))),
            Ok(Err(e)) => Err(WriteFail::Broken(e.to_string())),
            Ok(Ok(Err(ex))) => {
                record_error(
                    &self.status,
                    &format!("write {:?} {}: exception {ex}", p.area, p.address),
                );
                Err(WriteFail::Refused(format!("exception {ex}")))
            }
            Ok(Ok(Ok(()))) => {
                // read back what the device now holds
                let b = Block {
                    area: p.area,
                    start: p.address,
                    count: plan::span(p),
                    points: vec![(tag.id, p.clone())],
                };
                let ts = now_ms();
                if let Ok(data) = self
                    .read(b.area, b.start, b.count)
                    .await
                    .map_err(|e| WriteFail::Broken(e.0))?
                {
                    let s = self.sample(tag.id, p, &b, &data, ts);
                    self.engine.publish(vec![s]);
                }
                Ok(())
            }
        }
    }
}

/// Why a write did not land.
#[derive(Debug)]
enum WriteFail {
    /// The device refused it (exception) or it cannot be encoded.
    Refused(String),
    /// The connection failed; the session ends.
    Broken(String),
}

impl std::fmt::Display for WriteFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteFail::Refused(s) | WriteFail::Broken(s) => f.write_str(s),
        }
    }
}

/// A raw number from the device in the tag's engineering units and type.
fn to_value(t: &Tag, raw: f64) -> Value {
    let v = t.scaling.map_or(raw, |s| s.apply(raw));
    match t.data_type {
        DataType::Bool => Value::Bool(v != 0.0),
        DataType::Int => Value::Int(v.round() as i64),
        DataType::Float | DataType::String => Value::Float(v),
    }
}
