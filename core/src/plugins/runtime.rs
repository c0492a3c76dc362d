//! The wasmtime side of plugins: one engine for the box, the WIT bindings, compiled
//! components cached on disk, and the host state every plugin instance gets (its
//! capability checks, limits and log).
//!
//! Limits: a memory cap per store (a `ResourceLimiter` that also records the size, for the
//! console), and a time budget per call enforced by epoch interruption. A global thread
//! ticks the epoch every [`EPOCH_MS`]; at each deadline the callback compares the time the
//! call has spent *in the plugin* (wall time minus time in host functions, which may wait on
//! a PLC) with the budget, and either extends the deadline or stops the call.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::app::App;
use crate::util::now_ms;

// the contract the host serves (`wit/`, 0.3)
wasmtime::component::bindgen!({
    path: "../wit",
    world: "module",
    // views go to templates as JSON (and 0.2's views come in through it: `compat::v02`)
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub use self::nplusx::plugin::types as wit;
pub use self::nplusx::plugin::views as view;

/// Contract 0.1 (`wit/0.1/`), for plugins built against it. Its types and views are the
/// same records and variants as 0.2's, so they are 0.2's Rust types; its imports answer
/// through the 0.2 ones (`compat.rs`).
pub mod v01 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1",
        world: "module",
        with: {
            "nplusx:plugin/types@0.1.0": super::nplusx::plugin::types,
        },
    });
}

/// Contract 0.2 (`wit/0.2/`), for plugins built against it: the same types; its imports
/// answer through 0.3's and its views (which 0.3 extended) become 0.3's (`compat::v02`).
pub mod v02 {
    wasmtime::component::bindgen!({
        path: "../wit/0.2",
        world: "module",
        additional_derives: [serde::Serialize],
        with: {
            "nplusx:plugin/types@0.2.0": super::nplusx::plugin::types,
        },
    });
}

/// A component linked against the contract version its manifest names.
pub enum Pre {
    V01(v01::ModulePre<HostState>),
    V02(v02::ModulePre<HostState>),
    V03(ModulePre<HostState>),
}

/// An instance's exports, by contract version.
pub enum Bindings {
    V01(v01::Module),
    V02(v02::Module),
    V03(Module),
}

impl Pre {
    /// The contract's minor version (0.1 → 1).
    pub fn minor(&self) -> u32 {
        match self {
            Pre::V01(_) => 1,
            Pre::V02(_) => 2,
            Pre::V03(_) => 3,
        }
    }

    pub fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Bindings> {
        Ok(match self {
            Pre::V01(p) => Bindings::V01(p.instantiate(store)?),
            Pre::V02(p) => Bindings::V02(p.instantiate(store)?),
            Pre::V03(p) => Bindings::V03(p.instantiate(store)?),
        })
    }
}

/// The same call on either version's exports (their signatures and types are the same).
macro_rules! both {
    ($b:expr, $m:ident => $call:expr) => {
        match $b {
            Bindings::V01($m) => $call,
            Bindings::V02($m) => $call,
            Bindings::V03($m) => $call,
        }
    };
}

impl Bindings {
    pub fn call_describe(&self, s: &mut Store<HostState>) -> wasmtime::Result<wit::Info> {
        both!(self, m => m.call_describe(s))
    }
    pub fn call_start(
        &self,
        s: &mut Store<HostState>,
        settings: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>> {
        both!(self, m => m.call_start(s, settings))
    }
    pub fn call_stop(&self, s: &mut Store<HostState>) -> wasmtime::Result<()> {
        both!(self, m => m.call_stop(s))
    }
    pub fn call_tick(&self, s: &mut Store<HostState>, now_ms: i64) -> wasmtime::Result<()> {
        both!(self, m => m.call_tick(s, now_ms))
    }
    pub fn call_on_event(&self, s: &mut Store<HostState>, e: &wit::Event) -> wasmtime::Result<()> {
        both!(self, m => m.call_on_event(s, e))
    }
    /// A scheduled job (since 0.2; a 0.1 plugin cannot set any).
    pub fn call_run_job(
        &self,
        s: &mut Store<HostState>,
        name: &str,
        due_ms: i64,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Bindings::V01(_) => Ok(Ok(())),
            Bindings::V02(m) => m.call_run_job(s, name, due_ms),
            Bindings::V03(m) => m.call_run_job(s, name, due_ms),
        }
    }
    pub fn call_render(
        &self,
        s: &mut Store<HostState>,
        page: &str,
        params: &[(String, String)],
        lang: &str,
    ) -> wasmtime::Result<Result<view::View, String>> {
        match self {
            Bindings::V01(m) => Ok(m
                .call_render(s, page, params, lang)?
                .map(super::compat::views::view)),
            Bindings::V02(m) => Ok(m
                .call_render(s, page, params, lang)?
                .map(super::compat::v02::view)),
            Bindings::V03(m) => m.call_render(s, page, params, lang),
        }
    }
    pub fn call_action(
        &self,
        s: &mut Store<HostState>,
        page: &str,
        action: &str,
        fields: &[(String, String)],
        lang: &str,
    ) -> wasmtime::Result<Result<view::Outcome, String>> {
        match self {
            Bindings::V01(m) => Ok(m
                .call_action(s, page, action, fields, lang)?
                .map(super::compat::views::outcome)),
            Bindings::V02(m) => Ok(m
                .call_action(s, page, action, fields, lang)?
                .map(super::compat::v02::outcome)),
            Bindings::V03(m) => m.call_action(s, page, action, fields, lang),
        }
    }

    /// A batch of samples: 0.2 takes numbers in columns (`on-samples`) and text as
    /// records (`on-tags`); 0.1 takes every sample as a record.
    pub fn call_samples(&self, s: &mut Store<HostState>, b: &Batch) -> wasmtime::Result<()> {
        match (self, b) {
            (Bindings::V01(m), Batch::Records(r)) => m.call_on_tags(s, r),
            (Bindings::V02(m), Batch::Columns(numbers, texts)) => {
                if !numbers.handles.is_empty() {
                    m.call_on_samples(&mut *s, numbers)?;
                }
                if !texts.is_empty() {
                    m.call_on_tags(s, texts)?;
                }
                Ok(())
            }
            (Bindings::V03(m), Batch::Columns(numbers, texts)) => {
                if !numbers.handles.is_empty() {
                    m.call_on_samples(&mut *s, numbers)?;
                }
                if !texts.is_empty() {
                    m.call_on_tags(s, texts)?;
                }
                Ok(())
            }
            (Bindings::V01(_), Batch::Columns(..))
            | (Bindings::V02(_) | Bindings::V03(_), Batch::Records(_)) => Err(
                wasmtime::Error::msg("a batch for the other contract version"),
            ),
        }
    }

    /// Whether the plugin takes numbers in columns (contract 0.2 and later).
    pub fn columns(&self) -> bool {
        matches!(self, Bindings::V02(_) | Bindings::V03(_))
    }
}

/// Samples for one plugin call, in the form its contract version takes.
#[derive(Debug, Clone)]
pub enum Batch {
    /// 0.1: one record per sample.
    Records(Vec<wit::Sample>),
    /// 0.2: numbers (and booleans) in columns, text as records.
    Columns(wit::Samples, Vec<wit::Sample>),
}

impl Batch {
    pub fn new(columns: bool) -> Batch {
        if columns {
            Batch::Columns(
                wit::Samples {
                    handles: Vec::new(),
                    ts_ms: Vec::new(),
                    values: Vec::new(),
                    qualities: Vec::new(),
                },
                Vec::new(),
            )
        } else {
            Batch::Records(Vec::new())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Batch::Records(r) => r.len(),
            Batch::Columns(n, t) => n.handles.len() + t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a sample under the plugin's handle.
    pub fn push(&mut self, handle: u32, s: &crate::tags::model::Sample) {
        match self {
            Batch::Records(r) => r.push(super::host::sample(handle, s)),
            Batch::Columns(n, t) => {
                use crate::tags::model::Value as V;
                let v = match &s.value {
                    Some(V::Text(_)) => {
                        t.push(super::host::sample(handle, s));
                        return;
                    }
                    None => f64::NAN,
                    Some(V::Bool(b)) => f64::from(u8::from(*b)),
                    Some(V::Int(i)) => *i as f64,
                    Some(V::Float(f)) => *f,
                };
                n.handles.push(handle);
                n.ts_ms.push(s.ts_ms);
                n.values.push(v);
                n.qualities.push(super::host::quality_code(s.quality));
            }
        }
    }
}

/// How often the epoch advances.
pub const EPOCH_MS: u64 = 10;
/// The largest page a plugin may return, as JSON (`render`).
pub const PAGE_BYTES: usize = 4 << 20;
/// Data one call may hand the box: wasmtime's hostcall fuel, counted as the bytes of the
/// host's copy (24 for each string or list, on top of their contents) for an import's
/// arguments and for an export's answer alike. A page within [`PAGE_BYTES`] costs at most
/// eight times its JSON (an empty table cell is 3 bytes of JSON and 24 of fuel), so every
/// page within the documented limits is taken and then checked; more than this is refused
/// as too large ([`Fault::Oversize`]), never copied.
pub const HOSTCALL_FUEL: usize = 8 * PAGE_BYTES + (8 << 20);

/// Time a call may spend in host calls (a tag write waiting for a PLC…): ten times its own
/// budget, at least 10 s.
pub fn host_budget(budget: Duration) -> Duration {
    (budget * 10).max(Duration::from_secs(10))
}

/// Why a call into a plugin ended badly.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// It ran past its time budget.
    Deadline(Duration),
    /// It asked for more memory than its cap.
    Memory(u64),
    /// It trapped: the panic message it printed (with where), else the trap's kind.
    Trap(String),
    /// It handed the box more data in one call than [`HOSTCALL_FUEL`] (a page far over the
    /// limits): refused, not copied. On a page this is a refusal, not a fault.
    Oversize,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Deadline(d) => write!(f, "stopped at its time limit of {} ms", d.as_millis()),
            Fault::Memory(cap) => write!(f, "stopped at its memory limit of {} MiB", cap >> 20),
            Fault::Trap(t) => write!(f, "trapped: {t}"),
            Fault::Oversize => write!(
                f,
                "handed the box more than {} MiB of data in one call",
                HOSTCALL_FUEL >> 20
            ),
        }
    }
}

/// Why the host stopped a call (raised by the deadline callback and the memory limiter, to
/// tell them from the plugin's own traps).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stopped {
    Deadline,
    Memory,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stopped::Deadline => "time limit",
            Stopped::Memory => "memory limit",
        })
    }
}

impl std::error::Error for Stopped {}

/// Classifies a failed call. `panic` is the message the plugin printed as it panicked
/// ([`PluginLog::take_panic`]): the fault says that, not a backtrace.
pub fn fault(
    e: &wasmtime::Error,
    budget: Duration,
    memory_cap: u64,
    panic: Option<String>,
) -> Fault {
    let stopped = e.chain().find_map(|c| c.downcast_ref::<Stopped>().copied());
    if stopped == Some(Stopped::Deadline)
        || e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt)
    {
        return Fault::Deadline(budget);
    }
    if stopped == Some(Stopped::Memory) {
        return Fault::Memory(memory_cap);
    }
    if e.chain()
        .any(|c| c.to_string().contains("fuel allocated for hostcalls"))
    {
        return Fault::Oversize;
    }
    if let Some(p) = panic {
        return Fault::Trap(p);
    }
    // the trap's kind (`wasm \`unreachable\` instruction executed`), without the backtrace
    let text = match e.chain().find_map(|c| c.downcast_ref::<wasmtime::Trap>()) {
        Some(t) => t.to_string(),
        None => e
            .chain()
            .last()
            .map(|c| c.to_string())
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    Fault::Trap(text.chars().take(500).collect())
}

/// The box's plugin engine: compiles components (with a cache) and links the imports.
pub struct Runtime {
    engine: Engine,
    /// Contract 0.3 (current).
    linker: Linker<HostState>,
    /// Contract 0.1.
    linker01: Linker<HostState>,
    /// Contract 0.2.
    linker02: Linker<HostState>,
    cache: PathBuf,
}

impl Runtime {
    /// A runtime caching compiled components in `cache` (created if missing).
    pub fn new(cache: &Path) -> Result<Runtime, String> {
        let mut cfg = Config::new();
        cfg.epoch_interruption(true);
        let engine = Engine::new(&cfg).map_err(|e| format!("plugin engine: {e}"))?;
        let mut linker = wasi_linker(&engine)?;
        Module::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| format!("{e}"))?;
        let mut linker01 = wasi_linker(&engine)?;
        v01::Module::add_to_linker::<_, HasSelf<_>>(&mut linker01, |s| s)
            .map_err(|e| format!("{e}"))?;
        let mut linker02 = wasi_linker(&engine)?;
        v02::Module::add_to_linker::<_, HasSelf<_>>(&mut linker02, |s| s)
            .map_err(|e| format!("{e}"))?;
        std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
        let ticker = engine.clone();
        std::thread::Builder::new()
            .name("nplusx-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(EPOCH_MS));
                    ticker.increment_epoch();
                }
            })
            .map_err(|e| format!("epoch thread: {e}"))?;
        Ok(Runtime {
            engine,
            linker,
            linker01,
            linker02,
            cache: cache.to_path_buf(),
        })
    }

    /// Where the compiled form of `bytes` is cached: named by the component's hash, the
    /// machine's architecture and the engine's compatibility hash (wasmtime's version,
    /// target and settings), so a data dir moved to a box of another architecture (or a
    /// newer binary) compiles its plugins again instead of loading code it cannot run.
    /// Packages themselves are WebAssembly and run on every architecture.
    pub fn cache_path(&self, bytes: &[u8]) -> PathBuf {
        use sha2::Digest;
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        self.cache.join(format!(
            "{}-{}-{:016x}.cwasm",
            hex::encode(&sha2::Sha256::digest(bytes)[..16]),
            std::env::consts::ARCH,
            h.finish()
        ))
    }

    /// The compiled component: from the cache when this engine compiled the same bytes
    /// before, else compiled now and cached. Errors say what is wrong with the bytes.
    pub fn compile(&self, bytes: &[u8]) -> Result<Component, String> {
        let path = self.cache_path(bytes);
        if path.is_file() {
            // SAFETY: the file was written by `Component::serialize` of an engine with the
            // same compatibility hash (it is in the name), into the box's private data dir.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "stale compiled plugin; recompiling")
                }
            }
        }
        if !bytes.starts_with(b"\0asm") {
            return Err("not a WebAssembly file".into());
        }
        let c = Component::from_binary(&self.engine, bytes)
            .map_err(|e| format!("not a usable WebAssembly component: {e:#}"))?;
        if let Ok(ser) = c.serialize() {
            // a name of this process and call's own: boxes sharing a cache never write one file
            static TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = TMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
            if std::fs::write(&tmp, ser).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
        Ok(c)
    }

    /// Links a component against the contract version `0.<minor>` its manifest names;
    /// fails if it needs imports or lacks exports of that version.
    pub fn prepare(&self, c: &Component, minor: u32) -> Result<Pre, String> {
        let bad = |e: wasmtime::Error| {
            format!("the component does not fit the plugin contract 0.{minor}: {e:#}")
        };
        Ok(match minor {
            1 => Pre::V01(
                v01::ModulePre::new(self.linker01.instantiate_pre(c).map_err(bad)?).map_err(bad)?,
            ),
            2 => Pre::V02(
                v02::ModulePre::new(self.linker02.instantiate_pre(c).map_err(bad)?).map_err(bad)?,
            ),
            _ => {
                Pre::V03(ModulePre::new(self.linker.instantiate_pre(c).map_err(bad)?).map_err(bad)?)
            }
        })
    }

    /// A store for one instance, with its limits.
    pub fn store(&self, state: HostState) -> Store<HostState> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        // data a plugin hands one host call (strings, lists) is capped
        store.set_hostcall_fuel(HOSTCALL_FUEL);
        store.epoch_deadline_callback(|ctx| {
            let g = &ctx.data().guest;
            let used = g.call_started.elapsed().saturating_sub(g.host_time);
            // time in host calls is not the plugin's, but it is bounded too
            if used >= g.budget || g.host_time >= host_budget(g.budget) {
                return Err(wasmtime::Error::new(Stopped::Deadline));
            }
            let left = (g.budget - used).as_millis() as u64 / EPOCH_MS;
            Ok(UpdateDeadline::Continue(left.max(1)))
        });
        store
    }
}

/// A linker with WASI for plugins: no files, network, environment or args, and waits that
/// return at once.
fn wasi_linker(engine: &Engine) -> Result<Linker<HostState>, String> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    // Rust std guests import WASI; they get no files, network, environment or args
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| format!("{e}"))?;
    // Plugins have nothing to wait for (no files, sockets or stdin), and a wait would
    // block the plugin's thread where no deadline reaches it: waiting returns at once.
    linker.allow_shadowing(true);
    {
        use wasmtime::component::Resource;
        use wasmtime_wasi::p2::DynPollable;
        let mut poll = linker
            .instance("wasi:io/poll@0.2.12")
            .map_err(|e| format!("{e}"))?;
        poll.func_wrap("poll", |_cx, (list,): (Vec<Resource<DynPollable>>,)| {
            Ok(((0..list.len() as u32).collect::<Vec<u32>>(),))
        })
        .map_err(|e| format!("{e}"))?;
        poll.func_wrap(
            "[method]pollable.block",
            |_cx, (_p,): (Resource<DynPollable>,)| Ok(()),
        )
        .map_err(|e| format!("{e}"))?;
        poll.func_wrap(
            "[method]pollable.ready",
            |_cx, (_p,): (Resource<DynPollable>,)| Ok((true,)),
        )
        .map_err(|e| format!("{e}"))?;
    }
    linker.allow_shadowing(false);
    Ok(linker)
}

/// Memory cap of a store, and the size it reached.
pub struct Limiter {
    pub cap: u64,
    /// Bytes of all linear memories now.
    pub total: u64,
    pub peak: u64,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // the cap is for all the store's memories together
        let total = self.total + (desired.saturating_sub(current)) as u64;
        if total > self.cap {
            return Err(wasmtime::Error::new(Stopped::Memory));
        }
        self.total = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        8
    }
}

/// One line of a plugin's log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LogLine {
    pub ts_ms: i64,
    /// `debug`, `info`, `warn`, `error`, or `stdout` / `stderr` for printed output.
    pub level: String,
    pub text: String,
    /// Written by the box about the plugin (faults, denials, refusals), not by the plugin:
    /// kept apart, so a plugin's own flood neither counts against nor crowds them out.
    pub host: bool,
}

/// A plugin's log: the newest lines, with caps on line length and lines per minute.
/// The box keeps it across restarts and switching off, until the plugin is removed.
#[derive(Default)]
pub struct PluginLog {
    inner: Mutex<LogInner>,
}

#[derive(Default)]
struct LogInner {
    lines: std::collections::VecDeque<LogLine>,
    /// The box's own lines about the plugin.
    host: std::collections::VecDeque<LogLine>,
    minute: i64,
    in_minute: u32,
    /// Lines not kept because of the per-minute cap.
    dropped: u64,
    /// Printed output not yet ending in a newline, per stream.
    partial: HashMap<&'static str, Vec<u8>>,
    /// Where the last panic happened, until its message line arrives.
    panic_at: Option<String>,
    /// The last panic's message and place, until a fault takes it.
    panic: Option<String>,
}

/// Lines kept per plugin.
const LOG_LINES: usize = 1_000;
/// The box's lines kept per plugin.
const HOST_LINES: usize = 200;
const LINES_PER_MINUTE: u32 = 1_000;
const LINE_BYTES: usize = 2_048;

impl PluginLog {
    pub fn push(&self, level: &str, text: &str) {
        let mut g = self.inner.lock().expect("log lock is never poisoned");
        g.push(level, text);
    }

    /// A line of the box about the plugin: never capped by the plugin's rate.
    pub fn push_host(&self, level: &str, text: &str) {
        let mut g = self.inner.lock().expect("log lock is never poisoned");
        if g.host.len() >= HOST_LINES {
            g.host.pop_front();
        }
        g.host.push_back(line(level, text, true));
    }

    fn print(&self, stream: &'static str, bytes: &[u8]) {
        let mut g = self.inner.lock().expect("log lock is never poisoned");
        let mut buf = g.partial.remove(stream).unwrap_or_default();
        buf.extend_from_slice(bytes);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            if stream == "stderr" {
                g.watch_panic(&text);
            }
            g.push(stream, &text);
        }
        if buf.len() > LINE_BYTES {
            let line = std::mem::take(&mut buf);
            g.push(stream, String::from_utf8_lossy(&line).as_ref());
        }
        g.partial.insert(stream, buf);
    }

    /// The newest lines (oldest first; the plugin's and the box's together) and how many
    /// of the plugin's were dropped by the caps.
    pub fn lines(&self) -> (Vec<LogLine>, u64) {
        let g = self.inner.lock().expect("log lock is never poisoned");
        let mut all: Vec<LogLine> = g.lines.iter().chain(g.host.iter()).cloned().collect();
        all.sort_by_key(|l| l.ts_ms);
        (all, g.dropped)
    }

    /// The message of the panic printed since the last call, if any (`message (place)`).
    pub fn take_panic(&self) -> Option<String> {
        let mut g = self.inner.lock().expect("log lock is never poisoned");
        g.panic_at = None;
        g.panic.take()
    }
}

fn line(level: &str, text: &str, host: bool) -> LogLine {
    let mut text: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect();
    if text.len() > LINE_BYTES {
        let mut cut = LINE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    LogLine {
        ts_ms: now_ms(),
        level: level.to_string(),
        text,
        host,
    }
}

impl LogInner {
    fn push(&mut self, level: &str, text: &str) {
        let now = now_ms();
        if now / 60_000 != self.minute {
            self.minute = now / 60_000;
            self.in_minute = 0;
        }
        if self.in_minute >= LINES_PER_MINUTE {
            self.dropped += 1;
            return;
        }
        self.in_minute += 1;
        if self.lines.len() >= LOG_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line(level, text, false));
    }

    /// Rust's panic hook prints `thread '…' panicked at <file>:<line>:<col>:` and then the
    /// message: both are caught here, before any cap, for the fault that follows.
    fn watch_panic(&mut self, text: &str) {
        if let Some(i) = text.find(" panicked at ") {
            let at = text[i + " panicked at ".len()..].trim_end_matches(':');
            self.panic_at = Some(at.chars().take(200).collect());
        } else if let Some(at) = self.panic_at.take() {
            let msg: String = text.chars().take(300).collect();
            self.panic = Some(format!("{msg} ({at})"));
        }
    }
}

/// stdout / stderr of a plugin, into its log (never an error to the plugin: a flood is
/// counted, not fatal).
#[derive(Clone)]
pub struct LogPipe {
    log: Arc<PluginLog>,
    stream: &'static str,
}

impl LogPipe {
    pub fn new(log: Arc<PluginLog>, stream: &'static str) -> LogPipe {
        LogPipe { log, stream }
    }
}

impl wasmtime_wasi::cli::IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for LogPipe {
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for LogPipe {
    async fn ready(&mut self) {}
}

impl wasmtime_wasi::p2::OutputStream for LogPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> wasmtime_wasi::p2::StreamResult<()> {
        self.log.print(self.stream, &bytes);
        Ok(())
    }
    fn flush(&mut self) -> wasmtime_wasi::p2::StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> wasmtime_wasi::p2::StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.log.print(self.stream, buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// What a running plugin shares with the box outside its store: its tag subscription
/// (handle = index), the event kinds it listens to.
#[derive(Default)]
pub struct Shared {
    pub subscription: RwLock<Vec<u32>>,
    /// Changes whenever `subscription` does.
    pub generation: std::sync::atomic::AtomicU64,
    pub listen: RwLock<Vec<String>>,
    /// When the plugin last raised an alarm that was not standing (the admin's hourly
    /// limit counts these; kept across restarts of the instance).
    pub alarm_raises: Mutex<std::collections::VecDeque<i64>>,
    /// Jobs `schedule.set` asked for, until the plugin's thread takes them.
    pub jobs: Mutex<Option<Vec<super::jobs::JobSpec>>>,
    /// When the plugin sent its messages of the last hour (`notify.send`).
    pub notified: Mutex<std::collections::VecDeque<i64>>,
    /// Its outbound channel (`link`), if open.
    pub link: Mutex<Option<super::link::Link>>,
    /// Where calls to the instance go (set while it runs): a channel's messages come this way.
    pub calls: Mutex<Option<std::sync::mpsc::SyncSender<super::instance::Call>>>,
}

/// What the admin lets a plugin's alarms do.
#[derive(Debug, Clone, Copy)]
pub struct AlarmLimits {
    /// Alarms raised above it are raised at it.
    pub ceiling: crate::alarms::model::Priority,
    /// New alarms (not already standing) per hour; past it a raise answers `quota`.
    pub per_hour: u32,
}

/// The admin's limits as one instance applies them.
#[derive(Debug, Clone, Copy)]
pub struct GuestLimits {
    /// Storage quota, bytes.
    pub quota: u64,
    /// Time budget of one call.
    pub budget: Duration,
    pub alarms: AlarmLimits,
}

/// The plugin-facing part of a store's state.
pub struct Guest {
    pub id: String,
    /// The module id whose permissions guard the plugin's pages.
    pub grants: HashSet<String>,
    pub app: Weak<App>,
    pub log: Arc<PluginLog>,
    pub shared: Arc<Shared>,
    pub quota: u64,
    /// The highest priority its alarms get, and how many new ones an hour.
    pub alarms: AlarmLimits,
    /// Bytes of storage in use (known after the first storage call).
    pub kv_used: Option<u64>,
    pub call_started: Instant,
    pub host_time: Duration,
    pub budget: Duration,
    /// The contract the plugin was built for (minor version: 1 for 0.1).
    pub minor: u32,
    /// The person whose submission the plugin is answering (during `action` only): module
    /// actions it invokes act as them and need their permission.
    pub caller: Option<crate::web::context::Principal>,
    /// That person's language (during `action` only): a module's refusal of an action they
    /// invoke is told in it; otherwise in English, for the plugin's log.
    pub lang: Option<crate::i18n::Lang>,
    /// Denials already audited (capability → minute), so a looping plugin cannot flood the
    /// audit log.
    denied: HashMap<&'static str, i64>,
    /// Calls per kind in the current minute (kind → (minute, count)).
    rates: HashMap<&'static str, (i64, u32)>,
}

impl Guest {
    pub fn new(
        id: &str,
        grants: HashSet<String>,
        app: Weak<App>,
        log: Arc<PluginLog>,
        shared: Arc<Shared>,
        limits: GuestLimits,
    ) -> Guest {
        let GuestLimits {
            quota,
            budget,
            alarms,
        } = limits;
        Guest {
            id: id.to_string(),
            grants,
            app,
            log,
            shared,
            quota,
            alarms,
            kv_used: None,
            call_started: Instant::now(),
            host_time: Duration::ZERO,
            budget,
            minor: super::manifest::WIT_MINOR,
            caller: None,
            lang: None,
            denied: HashMap::new(),
            rates: HashMap::new(),
        }
    }

    pub fn actor(&self) -> crate::store::Actor {
        crate::store::Actor::system(&format!("plugin:{}", self.id))
    }

    pub fn app(&self) -> Result<Arc<App>, wit::Error> {
        self.app
            .upgrade()
            .ok_or_else(|| wit::Error::Failed("the box is shutting down".into()))
    }

    /// Counts a call of `kind`; more than `per_minute` in a minute are refused with `quota`
    /// (host calls that write to the store or the network are metered).
    pub fn rate(&mut self, kind: &'static str, per_minute: u32) -> Result<(), wit::Error> {
        let minute = now_ms() / 60_000;
        let e = self.rates.entry(kind).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        if e.1 >= per_minute {
            return Err(wit::Error::Quota(format!(
                "at most {per_minute} {kind} calls a minute"
            )));
        }
        e.1 += 1;
        Ok(())
    }

    /// Whether one of the capabilities was granted (a broad one, like `actions`, and the
    /// module's own, like `actions.inventory`); a refusal names the last.
    pub fn allow_one_of(&mut self, caps: &[&'static str]) -> Result<(), wit::Error> {
        match caps.iter().find(|c| self.grants.contains(**c)) {
            Some(_) => Ok(()),
            None => self.allow(caps.last().copied().unwrap_or("actions")),
        }
    }

    /// Whether the plugin holds any of the capabilities (no refusal: for listings).
    pub fn holds_any(&self, caps: &[&str]) -> bool {
        caps.iter().any(|c| self.grants.contains(*c))
    }

    /// Whether the capability was granted; a refusal is audited (once a minute per
    /// capability) and answered with `denied`.
    pub fn allow(&mut self, cap: &'static str) -> Result<(), wit::Error> {
        if self.grants.contains(cap) {
            return Ok(());
        }
        let minute = now_ms() / 60_000;
        if self.denied.get(cap) != Some(&minute) {
            self.denied.insert(cap, minute);
            self.log
                .push_host("warn", &format!("denied: capability {cap} was not granted"));
            if let Some(app) = self.app.upgrade() {
                let actor = self.actor();
                let done = app.store.write(&actor).and_then(|mut w| {
                    w.audit(
                        "plugins.plugin.denied",
                        format!("plugin:{}", self.id),
                        crate::store::Change::created(serde_json::json!({ "capability": cap })),
                    );
                    w.commit()
                });
                if let Err(e) = done {
                    tracing::error!(plugin = %self.id, error = %e, "denial not audited");
                }
            }
        }
        Err(wit::Error::Denied(format!(
            "the capability {cap} was not granted to this plugin"
        )))
    }
}

/// Everything a store holds: WASI (no files, network or environment), the limiter and the
/// plugin-facing state.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: Limiter,
    pub guest: Guest,
}

impl HostState {
    pub fn new(guest: Guest, memory_cap: u64) -> HostState {
        let mut b = wasmtime_wasi::WasiCtxBuilder::new();
        b.stdout(LogPipe::new(guest.log.clone(), "stdout"))
            .stderr(LogPipe::new(guest.log.clone(), "stderr"));
        // the time of day is the `clock` capability, whichever way it is asked for; the
        // monotonic clock (durations) and random numbers (hash maps need them) tell the
        // plugin nothing about the plant and are always there
        if !guest.grants.contains("clock") {
            b.wall_clock(UngrantedClock {
                log: guest.log.clone(),
                warned: std::sync::atomic::AtomicI64::new(-1),
            });
        }
        let wasi = b.build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                cap: memory_cap,
                total: 0,
                peak: 0,
            },
            guest,
        }
    }

    /// Runs a host function, keeping its time out of the plugin's budget.
    fn timed<T>(&mut self, f: impl FnOnce(&mut Guest) -> T) -> T {
        let t = Instant::now();
        let out = f(&mut self.guest);
        self.guest.host_time += t.elapsed();
        out
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// WASI's wall clock for a plugin without the `clock` grant: it reads the Unix epoch
/// (1970-01-01), and the plugin's log says why once a minute.
struct UngrantedClock {
    log: Arc<PluginLog>,
    warned: std::sync::atomic::AtomicI64,
}

impl wasmtime_wasi::HostWallClock for UngrantedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        let minute = now_ms() / 60_000;
        if self
            .warned
            .swap(minute, std::sync::atomic::Ordering::Relaxed)
            != minute
        {
            self.log.push_host(
                "warn",
                "denied: the wall clock reads 1970-01-01 because the capability clock was not granted",
            );
        }
        Duration::ZERO
    }
}

// ------------------------------------------------------------------ imports

impl self::nplusx::plugin::types::Host for HostState {}
impl self::nplusx::plugin::views::Host for HostState {}

impl self::nplusx::plugin::log::Host for HostState {
    fn write(&mut self, level: self::nplusx::plugin::log::Level, message: String) {
        use self::nplusx::plugin::log::Level;
        self.timed(|g| {
            if g.allow("log").is_ok() {
                let l = match level {
                    Level::Debug => "debug",
                    Level::Info => "info",
                    Level::Warn => "warn",
                    Level::Error => "error",
                };
                g.log.push(l, &message);
            }
        })
    }
}

impl self::nplusx::plugin::clock::Host for HostState {
    fn now_ms(&mut self) -> Result<i64, wit::Error> {
        self.timed(|g| g.allow("clock").map(|_| now_ms()))
    }
    fn utc_offset_minutes(&mut self) -> Result<i32, wit::Error> {
        self.timed(|g| {
            g.allow("clock")?;
            Ok(g.app()?.offset.whole_minutes() as i32)
        })
    }
}

impl self::nplusx::plugin::tags::Host for HostState {
    fn find(
        &mut self,
        area: String,
    ) -> Result<Vec<self::nplusx::plugin::tags::TagInfo>, wit::Error> {
        self.timed(|g| super::host::find(g, &area))
    }
    fn read(
        &mut self,
        names: Vec<String>,
    ) -> Result<Vec<self::nplusx::plugin::tags::Current>, wit::Error> {
        self.timed(|g| super::host::read(g, &names))
    }
    fn subscribe(&mut self, names: Vec<String>) -> Result<Vec<u32>, wit::Error> {
        self.timed(|g| super::host::subscribe(g, &names))
    }
    fn history(
        &mut self,
        name: String,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<Vec<(i64, f64)>, wit::Error> {
        self.timed(|g| super::host::history(g, &name, from_ms, to_ms, limit))
    }
    fn aggregate(
        &mut self,
        name: String,
        from_ms: i64,
        to_ms: i64,
        buckets: u32,
    ) -> Result<Vec<self::nplusx::plugin::tags::Bucket>, wit::Error> {
        self.timed(|g| super::host::aggregate(g, &name, from_ms, to_ms, buckets))
    }
    fn totals(
        &mut self,
        name: String,
        from_ms: i64,
        to_ms: i64,
        step: self::nplusx::plugin::tags::Step,
    ) -> Result<Vec<self::nplusx::plugin::tags::Total>, wit::Error> {
        self.timed(|g| super::host::totals(g, &name, from_ms, to_ms, step))
    }
}

impl self::nplusx::plugin::tag_write::Host for HostState {
    fn write(&mut self, name: String, value: wit::Value) -> Result<(), wit::Error> {
        self.timed(|g| super::host::write_tag(g, &name, value))
    }
}

impl self::nplusx::plugin::storage::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, wit::Error> {
        self.timed(|g| super::host::kv_get(g, &key))
    }
    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), wit::Error> {
        self.timed(|g| super::host::kv_set(g, &key, Some(value)))
    }
    fn delete(&mut self, key: String) -> Result<(), wit::Error> {
        self.timed(|g| super::host::kv_set(g, &key, None))
    }
    fn keys(&mut self, prefix: String, limit: u32) -> Result<Vec<String>, wit::Error> {
        self.timed(|g| super::host::kv_keys(g, &prefix, limit))
    }
    fn usage(&mut self) -> Result<(u64, u64), wit::Error> {
        self.timed(super::host::kv_usage)
    }
}

impl self::nplusx::plugin::records::Host for HostState {
    fn collections(&mut self) -> Result<Vec<String>, wit::Error> {
        self.timed(|g| Ok(super::host::collections(g)))
    }
    fn query(
        &mut self,
        collection: String,
        filter: String,
        limit: u32,
    ) -> Result<Vec<String>, wit::Error> {
        self.timed(|g| super::host::records(g, &collection, None, &filter, limit))
    }
    fn between(
        &mut self,
        collection: String,
        from_ms: i64,
        to_ms: i64,
        filter: String,
        limit: u32,
    ) -> Result<Vec<String>, wit::Error> {
        self.timed(|g| super::host::records(g, &collection, Some((from_ms, to_ms)), &filter, limit))
    }
    fn pivot(
        &mut self,
        collection: String,
        from_ms: i64,
        to_ms: i64,
        rows: Vec<String>,
        columns: Vec<String>,
        measures: Vec<String>,
    ) -> Result<String, wit::Error> {
        self.timed(|g| {
            super::host::pivot(g, &collection, (from_ms, to_ms), &rows, &columns, &measures)
        })
    }
}

impl self::nplusx::plugin::actions::Host for HostState {
    fn available(&mut self) -> Result<Vec<String>, wit::Error> {
        // the actions this plugin may run (none granted: an empty list)
        self.timed(|g| {
            Ok(super::host::ACTIONS
                .iter()
                .filter(|(_, caps, _)| g.holds_any(caps))
                .map(|(name, ..)| name.to_string())
                .collect())
        })
    }
    fn invoke(&mut self, name: String, args: String) -> Result<String, wit::Error> {
        self.timed(|g| super::host::invoke(g, &name, &args))
    }
}

impl self::nplusx::plugin::events::Host for HostState {
    fn emit(&mut self, name: String, data: String) -> Result<(), wit::Error> {
        self.timed(|g| super::host::emit(g, &name, &data))
    }
    fn listen(&mut self, kinds: Vec<String>) -> Result<(), wit::Error> {
        self.timed(|g| super::host::listen(g, kinds))
    }
    fn raise_alarm(
        &mut self,
        key: String,
        priority: self::nplusx::plugin::events::Priority,
        message_zh: String,
        message_en: String,
    ) -> Result<(), wit::Error> {
        self.timed(|g| super::host::raise_alarm(g, &key, priority, &message_zh, &message_en))
    }
    fn clear_alarm(&mut self, key: String) -> Result<(), wit::Error> {
        self.timed(|g| super::host::clear_alarm(g, &key))
    }
}

impl self::nplusx::plugin::schedule::Host for HostState {
    fn set(&mut self, jobs: Vec<self::nplusx::plugin::schedule::Job>) -> Result<(), wit::Error> {
        self.timed(|g| super::host::schedule_set(g, jobs))
    }
}

impl self::nplusx::plugin::files::Host for HostState {
    fn table(
        &mut self,
        name: String,
        format: self::nplusx::plugin::files::Format,
        sheets: Vec<self::nplusx::plugin::files::Sheet>,
    ) -> Result<String, wit::Error> {
        self.timed(|g| super::host::files_table(g, &name, format, sheets))
    }
}

impl self::nplusx::plugin::notify::Host for HostState {
    fn channels(&mut self) -> Result<Vec<String>, wit::Error> {
        self.timed(super::host::notify_channels)
    }
    fn send(
        &mut self,
        channel: String,
        title: String,
        text: String,
        file: Option<String>,
    ) -> Result<(), wit::Error> {
        self.timed(|g| super::host::notify_send(g, &channel, &title, &text, file.as_deref()))
    }
}

impl self::nplusx::plugin::link::Host for HostState {
    fn open(
        &mut self,
        broker: self::nplusx::plugin::link::Broker,
        topics: Vec<String>,
    ) -> Result<(), wit::Error> {
        self.timed(|g| super::link::open(g, broker, topics))
    }
    fn publish(&mut self, topic: String, payload: Vec<u8>) -> Result<(), wit::Error> {
        self.timed(|g| super::link::publish(g, &topic, &payload))
    }
    fn connected(&mut self) -> Result<bool, wit::Error> {
        self.timed(super::link::connected)
    }
    fn close(&mut self) -> Result<(), wit::Error> {
        self.timed(super::link::close)
    }
}

impl self::nplusx::plugin::mqtt::Host for HostState {
    fn publish(&mut self, topic: String, payload: Vec<u8>, retain: bool) -> Result<(), wit::Error> {
        self.timed(|g| super::host::mqtt_publish(g, &topic, &payload, retain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_printed_to_stderr_is_kept_for_the_fault_even_past_the_cap() {
        let log = PluginLog::default();
        for i in 0..LINES_PER_MINUTE + 10 {
            log.push("info", &format!("noise {i}"));
        }
        log.print(
            "stderr",
            b"\nthread '<unnamed>' panicked at src/lib.rs:242:17:\nthe model diverged\nnote: run with `RUST_BACKTRACE=1`\n",
        );
        assert_eq!(
            log.take_panic().as_deref(),
            Some("the model diverged (src/lib.rs:242:17)")
        );
        assert_eq!(log.take_panic(), None, "taken once");
    }

    #[test]
    fn the_box_lines_are_neither_capped_nor_crowded_out_by_the_plugins() {
        let log = PluginLog::default();
        log.push_host("error", "fault: trapped: first");
        for i in 0..3 * LINES_PER_MINUTE {
            log.push("info", &format!("flood {i}"));
        }
        log.push_host("error", "fault: trapped: second");
        let (lines, dropped) = log.lines();
        assert_eq!(dropped, 2 * LINES_PER_MINUTE as u64);
        let host: Vec<&str> = lines
            .iter()
            .filter(|l| l.host)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(host, ["fault: trapped: first", "fault: trapped: second"]);
        assert_eq!(lines.iter().filter(|l| !l.host).count(), LOG_LINES);
    }

    #[test]
    fn a_cached_compile_of_another_machine_is_compiled_again() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::new(dir.path()).unwrap();
        let (_, bytes, _) = crate::plugins::BUNDLED[0];
        let path = rt.cache_path(bytes);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.contains(&format!("-{}-", std::env::consts::ARCH)),
            "{name}"
        );
        rt.compile(bytes).unwrap();
        assert!(path.is_file());
        // what another architecture's (or a damaged) compile would leave under this name: a
        // file this engine refuses; the component is compiled again and the file replaced
        std::fs::write(&path, b"\x7fELF compiled for another machine").unwrap();
        let c = rt.compile(bytes).unwrap();
        rt.prepare(&c, 3).unwrap();
        assert!(std::fs::read(&path).unwrap().len() > 1000);
    }

    #[test]
    fn every_page_within_the_limits_fits_the_fuel() {
        // the most fuel per byte of JSON: empty cells, 3 bytes (`"",`) for 24 of fuel
        let per_cell_json = 3;
        let per_cell_fuel = std::mem::size_of::<String>();
        assert!(PAGE_BYTES / per_cell_json * per_cell_fuel < HOSTCALL_FUEL);
    }
}
