//! Modbus polling benchmark, against a tokio-modbus TCP server in a child process (so its
//! CPU is not counted): a 10,000-register map with gaps, polled once a second.
//!
//! Printed: reads per poll issued by the planner vs the minimum the 125-register limit
//! allows, and the appliance's CPU use while polling, beside a baseline measured in the same
//! run: the same map read without coalescing (at most 4 registers per read, no gaps bridged).
//!
//! Also printed, from the planner alone: a scattered map (20 registers, gaps of up to 125)
//! on TCP against the minimum, and on RTU the line time per poll of the planned reads
//! against reading every gap and reading none, at 9,600 and 115,200 baud.
//!
//! Run: `cargo bench --bench modbus`. Seconds per measurement: `NPLUSX_BENCH_SECS` (10).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nplusx::drivers::Drivers;
use nplusx::drivers::modbus::plan;
use nplusx::tags::engine::Engine;
use nplusx::tags::model::{
    DataType, Device, DriverConfig, ModbusArea, ModbusOptions, ModbusPoint, PollGroup, RegFormat,
    Source, Tag, WordOrder,
};

const REGISTERS: u32 = 10_000;

/// Tags over 10,000 holding registers: float32, uint16, int32 and bits, with gaps of 0–3
/// unused registers (deterministic).
fn map() -> Vec<Tag> {
    let (mut tags, mut addr, mut used, mut x) = (Vec::new(), 0u32, 0u32, 12345u32);
    while used < REGISTERS {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let format = match (x >> 16) % 4 {
            0 | 1 => RegFormat::Float32,
            2 => RegFormat::Uint16,
            _ => RegFormat::Int32,
        };
        let id = tags.len() as u32 + 1;
        let mut t = nplusx::tags::service::blank_tag(
            &format!("T{id}"),
            if format == RegFormat::Float32 {
                DataType::Float
            } else {
                DataType::Int
            },
            Source::Modbus {
                device: 1,
                point: ModbusPoint {
                    area: ModbusArea::HoldingRegister,
                    address: addr as u16,
                    format,
                    order: WordOrder::Abcd,
                    bit: None,
                    group: "default".into(),
                },
            },
        );
        t.id = id;
        tags.push(t);
        used += format.words() as u32;
        addr += format.words() as u32 + (x >> 24) % 4;
    }
    tags
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // fields after the command name (which is in parentheses)
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// The PLC: serves every holding register, in this binary started as a child.
fn plc() {
    use tokio_modbus::prelude::{ExceptionCode, Request, Response};
    #[derive(Clone)]
    struct Svc;
    impl tokio_modbus::server::Service for Svc {
        type Request = Request<'static>;
        type Response = Response;
        type Exception = ExceptionCode;
        type Future = std::future::Ready<Result<Response, ExceptionCode>>;
        fn call(&self, req: Self::Request) -> Self::Future {
            std::future::ready(match req {
                Request::ReadHoldingRegisters(a, c) => {
                    Ok(Response::ReadHoldingRegisters((a..a + c).collect()))
                }
                _ => Err(ExceptionCode::IllegalFunction),
            })
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        let server = tokio_modbus::server::tcp::Server::new(listener);
        let on_connected = |stream, addr| async move {
            tokio_modbus::server::tcp::accept_tcp_connection(stream, addr, |_| Ok(Some(Svc)))
        };
        tokio::spawn(async move { server.serve(&on_connected, |_| {}).await });
        // until the benchmark closes our stdin
        let _ =
            tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
    });
}

struct Run {
    reads_per_poll: usize,
    requests: u64,
    errors: u64,
    cpu_percent: f64,
}

fn poll(port: u16, tags: &[Tag], options: ModbusOptions, secs: f64) -> Run {
    let engine = Arc::new(Engine::new(tags.to_vec()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(nplusx::store::Store::open(dir.path()).unwrap());
    let drivers = Drivers::new(engine.clone(), store, rt.handle().clone());
    let device = Device {
        id: 1,
        name: "bench".into(),
        description: String::new(),
        config: DriverConfig::ModbusTcp {
            host: "127.0.0.1".into(),
            port,
            unit: 1,
            options,
        },
        enabled: true,
    };
    drivers.reconcile(std::slice::from_ref(&device));
    // the first poll connects and plans; measure from the second second on
    std::thread::sleep(Duration::from_millis(1500));
    let (c0, r0, t0) = (cpu_seconds(), drivers.status(1).requests, Instant::now());
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (c1, st) = (cpu_seconds(), drivers.status(1));
    let elapsed = t0.elapsed().as_secs_f64();
    drivers.stop_all();
    Run {
        reads_per_poll: st.reads_per_poll,
        requests: st.requests - r0,
        errors: st.errors,
        cpu_percent: (c1 - c0) / elapsed * 100.0,
    }
}

fn main() {
    if std::env::var("NPLUSX_BENCH_PLC").is_ok() {
        return plc();
    }
    let secs: f64 = std::env::var("NPLUSX_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let tags = map();
    let points: Vec<ModbusPoint> = tags
        .iter()
        .filter_map(|t| match &t.source {
            Source::Modbus { point, .. } => Some(point.clone()),
            _ => None,
        })
        .collect();
    let span = points
        .iter()
        .map(|p| p.address as u32 + p.format.words() as u32)
        .max()
        .unwrap();
    let opts = ModbusOptions {
        groups: vec![PollGroup {
            name: "default".into(),
            interval_ms: 1000,
        }],
        ..Default::default()
    };
    let with_ids: Vec<(u32, ModbusPoint)> = tags
        .iter()
        .zip(&points)
        .map(|(t, p)| (t.id, p.clone()))
        .collect();
    let issued = plan::plan(
        &with_ids,
        &opts,
        plan::Bridging::tcp(&opts),
        &plan::Splits::new(),
    )
    .len();
    let minimum = plan::minimum_reads(&points);
    println!(
        "modbus polling: {} tags on {REGISTERS} registers spread over addresses 0–{} (gaps of 0–3), one poll a second",
        tags.len(),
        span - 1
    );
    println!(
        "  reads per poll: issued {issued}, minimum the 125-register limit allows {minimum} — {}",
        if issued == minimum {
            "equal"
        } else {
            "NOT minimal"
        }
    );

    scattered();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("NPLUSX_BENCH_PLC", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();

    let naive = poll(
        port,
        &tags,
        ModbusOptions {
            max_gap: Some(0),
            max_registers: 4,
            ..opts.clone()
        },
        secs,
    );
    let planned = poll(port, &tags, opts, secs);
    drop(child.stdin.take());
    let _ = child.wait();
    for (label, r) in [
        ("baseline, no coalescing", &naive),
        ("planned reads", &planned),
    ] {
        println!(
            "  {label:<24} {:>5} reads/poll, {:>6} requests in {secs:.0} s, {} errors, CPU {:.2} % of one core",
            r.reads_per_poll, r.requests, r.errors, r.cpu_percent
        );
    }
    println!(
        "  planned / baseline: reads {:.3}, CPU {:.3}; requirement (< 5 % of one core): {}",
        planned.reads_per_poll as f64 / naive.reads_per_poll as f64,
        planned.cpu_percent / naive.cpu_percent.max(1e-9),
        if planned.cpu_percent < 5.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}

/// Reads per poll and RTU line time for a scattered map of 20 holding registers.
fn scattered() {
    let gaps = [
        0u16, 40, 90, 125, 3, 60, 110, 7, 125, 30, 80, 2, 125, 45, 100, 9, 70, 125, 15, 50,
    ];
    let mut addr = 0u16;
    let points: Vec<(u32, ModbusPoint)> = gaps
        .iter()
        .enumerate()
        .map(|(i, g)| {
            addr += g;
            let p = ModbusPoint {
                area: ModbusArea::HoldingRegister,
                address: addr,
                format: RegFormat::Uint16,
                order: WordOrder::Abcd,
                bit: None,
                group: "default".into(),
            };
            (i as u32, p)
        })
        .collect();
    let all: Vec<ModbusPoint> = points.iter().map(|(_, p)| p.clone()).collect();
    let auto = ModbusOptions::default();
    let old = ModbusOptions {
        max_gap: Some(32),
        ..Default::default()
    };
    let none = ModbusOptions {
        max_gap: Some(0),
        ..Default::default()
    };
    let reads =
        |o: &ModbusOptions, b: plan::Bridging| plan::plan(&points, o, b, &plan::Splits::new());
    let minimum = plan::minimum_reads(&all);
    let tcp = reads(&auto, plan::Bridging::tcp(&auto)).len();
    println!("scattered map: 20 holding registers over addresses 0–{addr} (gaps up to 125)");
    println!(
        "  TCP reads per poll: planned {tcp}, minimum {minimum} — {}; with the old fixed gap of 32: {}",
        if tcp == minimum {
            "equal"
        } else {
            "NOT minimal"
        },
        reads(&old, plan::Bridging::tcp(&old)).len()
    );
    for baud in [9600u32, 115_200] {
        let planned = reads(&auto, plan::Bridging::rtu(&auto, baud));
        let bridged = reads(&auto, plan::Bridging::tcp(&auto));
        let apart = reads(&none, plan::Bridging::tcp(&none));
        let ms = |b: &[plan::Block]| plan::rtu_line_ms(b, baud);
        println!(
            "  RTU {baud} baud: planned {} reads, {:.1} ms of line per poll; every gap read ({minimum} reads) {:.1} ms; no gap read ({} reads) {:.1} ms; planned / best of the two {:.3}",
            planned.len(),
            ms(&planned),
            ms(&bridged),
            apart.len(),
            ms(&apart),
            ms(&planned) / ms(&bridged).min(ms(&apart)),
        );
    }
}
