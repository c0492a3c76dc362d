//! A PLC for the tests: a real Modbus server (tokio-modbus) over TCP or RTU with a full
//! register map, addresses that answer "illegal data address", a switch that makes it
//! stop answering, and restart (close every connection, listen again on the same port).
#![allow(dead_code)]

use std::future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio_modbus::prelude::{ExceptionCode, Request, Response};

/// The PLC's memory and behaviour, shared with the test.
pub struct Memory {
    pub holding: Vec<u16>,
    pub input: Vec<u16>,
    pub coils: Vec<bool>,
    pub discrete: Vec<bool>,
    /// Holding / input register addresses that do not exist (exception 02).
    pub missing: Vec<u16>,
    /// When set, requests get no answer at all.
    pub silent: bool,
    /// Holding registers whose writes are acknowledged but not kept (a PLC program that
    /// overrides or clamps the value).
    pub ignore_writes: Vec<u16>,
    pub requests: u64,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            holding: vec![0; 65536],
            input: vec![0; 65536],
            coils: vec![false; 65536],
            discrete: vec![false; 65536],
            missing: Vec::new(),
            silent: false,
            ignore_writes: Vec::new(),
            requests: 0,
        }
    }
}

impl Memory {
    pub fn set_f32(&mut self, addr: u16, v: f32) {
        let b = v.to_bits();
        self.holding[addr as usize] = (b >> 16) as u16;
        self.holding[addr as usize + 1] = b as u16;
    }
    pub fn f32_at(&self, addr: u16) -> f32 {
        f32::from_bits(
            ((self.holding[addr as usize] as u32) << 16) | self.holding[addr as usize + 1] as u32,
        )
    }
}

pub type Shared = Arc<Mutex<Memory>>;

#[derive(Clone)]
struct Service(Shared);

fn range(addr: u16, cnt: u16) -> std::ops::Range<usize> {
    addr as usize..addr as usize + cnt as usize
}

impl tokio_modbus::server::Service for Service {
    type Request = Request<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Option<Response>, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        let mut m = self.0.lock().unwrap();
        m.requests += 1;
        if m.silent {
            return future::ready(Ok(None));
        }
        let missing = |m: &Memory, a: u16, c: u16| {
            m.missing
                .iter()
                .any(|x| range(a, c).contains(&(*x as usize)))
        };
        let r = match req {
            Request::ReadHoldingRegisters(a, c) if missing(&m, a, c) => {
                Err(ExceptionCode::IllegalDataAddress)
            }
            Request::ReadInputRegisters(a, c) if missing(&m, a, c) => {
                Err(ExceptionCode::IllegalDataAddress)
            }
            Request::ReadHoldingRegisters(a, c) => Ok(Response::ReadHoldingRegisters(
                m.holding[range(a, c)].to_vec(),
            )),
            Request::ReadInputRegisters(a, c) => {
                Ok(Response::ReadInputRegisters(m.input[range(a, c)].to_vec()))
            }
            Request::ReadCoils(a, c) => Ok(Response::ReadCoils(m.coils[range(a, c)].to_vec())),
            Request::ReadDiscreteInputs(a, c) => Ok(Response::ReadDiscreteInputs(
                m.discrete[range(a, c)].to_vec(),
            )),
            Request::WriteSingleRegister(a, w) => {
                if !m.ignore_writes.contains(&a) {
                    m.holding[a as usize] = w;
                }
                Ok(Response::WriteSingleRegister(a, w))
            }
            Request::WriteMultipleRegisters(a, ws) => {
                let n = ws.len();
                if !m.ignore_writes.contains(&a) {
                    m.holding[range(a, n as u16)].copy_from_slice(&ws);
                }
                Ok(Response::WriteMultipleRegisters(a, n as u16))
            }
            Request::WriteSingleCoil(a, c) => {
                m.coils[a as usize] = c;
                Ok(Response::WriteSingleCoil(a, c))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        };
        future::ready(r.map(Some))
    }
}

/// A Modbus TCP PLC on 127.0.0.1, on its own runtime thread.
pub struct TcpPlc {
    pub memory: Shared,
    pub addr: SocketAddr,
    rt: tokio::runtime::Runtime,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TcpPlc {
    pub fn start() -> TcpPlc {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let mut plc = TcpPlc {
            memory: Arc::default(),
            addr,
            rt,
            task: None,
        };
        plc.serve(listener);
        plc
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let memory = self.memory.clone();
        self.task = Some(self.rt.spawn(async move {
            let server = tokio_modbus::server::tcp::Server::new(listener);
            let on_connected = |stream, addr| {
                let service = Service(memory.clone());
                async move {
                    tokio_modbus::server::tcp::accept_tcp_connection(stream, addr, |_| {
                        Ok(Some(service.clone()))
                    })
                }
            };
            let _ = server.serve(&on_connected, |_err| {}).await;
        }));
    }

    /// Power cycle: every connection drops; after `down` it listens again on the same port.
    pub fn restart(&mut self, down: std::time::Duration) {
        self.stop();
        std::thread::sleep(down);
        let listener = self
            .rt
            .block_on(tokio::net::TcpListener::bind(self.addr))
            .unwrap();
        self.serve(listener);
    }

    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = self.rt.block_on(t);
        }
    }
}

/// A Modbus RTU PLC on the master side of a pseudo-terminal; the appliance opens `path`.
pub struct RtuPlc {
    pub memory: Shared,
    pub path: String,
    _slave: std::fs::File,
    _rt: tokio::runtime::Runtime,
}

impl RtuPlc {
    pub fn start(unit: u8) -> RtuPlc {
        use tokio_serial::SerialPort;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let memory: Shared = Arc::default();
        let (master, slave, path) = rt.block_on(async {
            let (master, slave) =
                tokio_serial::SerialStream::pair().expect("a pseudo-terminal pair");
            let path = slave.name().expect("the pty has a name");
            // the appliance opens the slave side by its path (and locks it); a plain handle
            // stays open here, never read, so the master sees no hang-up before it does
            let keep = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .expect("pty slave opens");
            drop(slave);
            (master, keep, path)
        });
        let m = memory.clone();
        rt.spawn(async move {
            let server = tokio_modbus::server::rtu::Server::new(master);
            let service = UnitFilter {
                unit,
                inner: Service(m),
            };
            let _ = server.serve_forever(service).await;
        });
        RtuPlc {
            memory,
            path,
            _slave: slave,
            _rt: rt,
        }
    }
}

/// An RTU bus carries many units; this PLC answers only its own.
struct UnitFilter {
    unit: u8,
    inner: Service,
}

impl tokio_modbus::server::Service for UnitFilter {
    type Request = tokio_modbus::SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Option<Response>, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        if req.slave != self.unit {
            return future::ready(Ok(None));
        }
        tokio_modbus::server::Service::call(&self.inner, req.request)
    }
}
