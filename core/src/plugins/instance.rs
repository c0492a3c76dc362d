//! A running plugin: one thread owns its wasmtime store and makes every call into it, one
//! at a time, from a queue (renders and actions from the web, tag batches, events, ticks).
//!
//! A fault (deadline, memory, trap) throws the instance away; the thread waits (1 s,
//! doubling to 60 s) and instantiates it again. The third fault within 10 minutes disables
//! the plugin and raises an alarm. The box keeps serving throughout: a web request waiting
//! on a faulted plugin gets an error, not a hang.

use std::collections::{HashSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::runtime::{
    Batch, Bindings, Fault, Guest, HostState, PluginLog, Pre, Runtime, Shared, fault, view, wit,
};
use super::store::Installed;
use crate::app::App;
use crate::util::now_ms;

/// What the thread is asked to do.
pub enum Call {
    Render {
        page: String,
        params: Vec<(String, String)>,
        lang: String,
        reply: tokio::sync::oneshot::Sender<Result<view::View, String>>,
    },
    Action {
        page: String,
        action: String,
        fields: Vec<(String, String)>,
        lang: String,
        /// Who submitted it.
        caller: Box<crate::web::context::Principal>,
        reply: tokio::sync::oneshot::Sender<Result<view::Outcome, String>>,
    },
    Tags(Batch),
    Event(wit::Event),
    Stop,
}

/// Where a plugin is, for the console.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum RunState {
    Starting,
    Running,
    /// Faulted and waiting to restart.
    Faulted(String),
    /// `start` refused (bad settings…); stays stopped until changed.
    Failed(String),
    /// Disabled after repeated faults.
    Disabled(String),
    Stopped,
}

/// Counters of a plugin, for the console and the API.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    #[serde(flatten)]
    pub state: RunState,
    pub calls: u64,
    /// Time spent in calls, ms.
    pub busy_ms: f64,
    /// The longest call, ms.
    pub max_call_ms: f64,
    pub faults: u64,
    pub last_fault: Option<String>,
    pub last_fault_ms: Option<i64>,
    /// Largest linear memory the instance reached, bytes.
    pub memory_peak: u64,
    /// Tag batches dropped because the plugin was busy.
    pub dropped_batches: u64,
    /// Time to instantiate and start, ms.
    pub start_ms: f64,
    /// Its scheduled jobs (contract 0.2).
    pub jobs: Vec<super::jobs::JobStat>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            state: RunState::Starting,
            calls: 0,
            busy_ms: 0.0,
            max_call_ms: 0.0,
            faults: 0,
            last_fault: None,
            last_fault_ms: None,
            memory_peak: 0,
            dropped_batches: 0,
            start_ms: 0.0,
            jobs: Vec::new(),
        }
    }
}

/// The web side's handle on a running plugin.
pub struct Handle {
    pub tx: SyncSender<Call>,
    pub stats: Arc<Mutex<Stats>>,
    pub log: Arc<PluginLog>,
    pub shared: Arc<Shared>,
    pub info: wit::Info,
    /// The guide module whose permissions guard its pages.
    pub module: String,
    /// The contract's minor version it was built for (1: 0.1).
    pub minor: u32,
    pub thread: Option<std::thread::JoinHandle<()>>,
    /// Fan-out tasks (tags, events); stopped with the plugin.
    pub tasks: Vec<crate::util::AbortOnDrop>,
}

impl Handle {
    /// Queues a call that must not wait (tags, events): dropped and counted if the queue
    /// is full.
    pub fn offer(&self, call: Call) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(call) {
            self.stats.lock().expect("stats lock").dropped_batches += 1;
        }
    }

    pub fn stop(&mut self) {
        self.tasks.clear();
        // nothing keeps its calls open, and an outbound channel closes with the plugin (in
        // this order: a channel opening meanwhile sees no calls and closes itself)
        self.shared
            .calls
            .lock()
            .expect("lock is never poisoned")
            .take();
        let link = self
            .shared
            .link
            .lock()
            .expect("lock is never poisoned")
            .take();
        if let Some(l) = link {
            l.shut();
        }
        // a full queue drains within its calls' deadlines; a dropped Stop is made up for by
        // the sender going away when this handle is dropped
        let _ = self.tx.try_send(Call::Stop);
        if let Some(t) = self.thread.take() {
            let until = Instant::now() + Duration::from_secs(5);
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                // not waited for further: the box's operations must not hang on a plugin
                tracing::warn!(plugin = %self.info.id, "plugin thread did not stop within 5 s; left behind");
            }
        }
    }
}

/// Everything the thread needs.
pub struct Spec {
    pub installed: Installed,
    pub pre: Pre,
    pub runtime: Arc<Runtime>,
    pub app: Weak<App>,
}

/// Faults in this window count towards disabling.
const FAULT_WINDOW: Duration = Duration::from_secs(600);
const FAULTS_TO_DISABLE: usize = 3;

struct Live {
    store: wasmtime::Store<HostState>,
    module: Bindings,
}

/// Instantiates and starts the plugin, and describes it (for the manager, before the
/// thread takes over). The describe answer is checked against the manifest.
pub fn describe(spec: &Spec) -> Result<wit::Info, String> {
    let (mut live, _) = instantiate(spec, Arc::default(), Arc::default())?;
    call(&mut live, |m, s| m.call_describe(s)).map_err(|f| f.to_string())
}

fn instantiate(
    spec: &Spec,
    log: Arc<PluginLog>,
    shared: Arc<Shared>,
) -> Result<(Live, f64), String> {
    let t = Instant::now();
    let i = &spec.installed;
    let grants: HashSet<String> = i.grants.iter().cloned().collect();
    let mut guest = Guest::new(
        &i.id,
        grants,
        spec.app.clone(),
        log,
        shared,
        super::runtime::GuestLimits {
            quota: i.quota_mib as u64 * (1 << 20),
            budget: Duration::from_millis(i.deadline_ms as u64),
            alarms: super::runtime::AlarmLimits {
                ceiling: i.alarm_ceiling,
                per_hour: i.alarms_per_hour,
            },
        },
    );
    guest.minor = spec.pre.minor();
    let mut store = spec
        .runtime
        .store(HostState::new(guest, i.memory_mib as u64 * (1 << 20)));
    let module = spec
        .pre
        .instantiate(&mut store)
        .map_err(|e| format!("cannot instantiate: {e:#}"))?;
    Ok((Live { store, module }, t.elapsed().as_secs_f64() * 1000.0))
}

/// One call with its budget; a fault is classified.
fn call<T>(
    live: &mut Live,
    f: impl FnOnce(&Bindings, &mut wasmtime::Store<HostState>) -> wasmtime::Result<T>,
) -> Result<T, Fault> {
    let (budget, cap) = {
        let s = live.store.data_mut();
        s.guest.call_started = Instant::now();
        s.guest.host_time = Duration::ZERO;
        (s.guest.budget, s.limiter.cap)
    };
    live.store.set_epoch_deadline(1);
    f(&live.module, &mut live.store).map_err(|e| {
        let g = &live.store.data().guest;
        let f = fault(&e, budget, cap, g.log.take_panic());
        if matches!(f, Fault::Trap(_)) {
            // the whole story (backtrace) for whoever reads the log
            g.log.push_host("debug", &format!("{e:#}"));
        }
        f
    })
}

/// Starts the thread of a plugin, writing to `log` (the box keeps a plugin's log across
/// restarts).
pub fn spawn(
    spec: Spec,
    info: wit::Info,
    module: String,
    log: Arc<PluginLog>,
) -> Result<Handle, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Call>(64);
    let minor = spec.pre.minor();
    let stats: Arc<Mutex<Stats>> = Arc::default();
    let shared: Arc<Shared> = Arc::default();
    // before the thread runs `start`, which may open a channel whose messages come this way
    *shared.calls.lock().expect("lock is never poisoned") = Some(tx.clone());
    let (s2, l2, sh2) = (stats.clone(), log.clone(), shared.clone());
    let thread = std::thread::Builder::new()
        .name(format!("plugin-{}", spec.installed.id))
        .spawn(move || run(spec, rx, s2, l2, sh2))
        .map_err(|e| format!("thread: {e}"))?;
    Ok(Handle {
        tx,
        stats,
        log,
        shared,
        info,
        module,
        minor,
        thread: Some(thread),
        tasks: Vec::new(),
    })
}

fn set_state(stats: &Mutex<Stats>, s: RunState) {
    stats.lock().expect("stats lock").state = s;
}

fn run(
    spec: Spec,
    rx: Receiver<Call>,
    stats: Arc<Mutex<Stats>>,
    log: Arc<PluginLog>,
    shared: Arc<Shared>,
) {
    let id = spec.installed.id.clone();
    let tick = match spec.installed.manifest.tick_seconds {
        0 => None,
        s => Some(Duration::from_secs(s as u64)),
    };
    let mut live: Option<Live> = None;
    let mut failed: Option<String> = None;
    let mut faults = Faults {
        times: VecDeque::new(),
        backoff: Duration::from_secs(1),
        restart_at: Instant::now(),
    };
    let mut next_tick = tick.map(|t| Instant::now() + t);
    let offset = spec
        .app
        .upgrade()
        .map_or(time::UtcOffset::UTC, |a| a.offset);
    let mut jobs = super::jobs::Jobs::default();
    loop {
        // (re)start when due
        if live.is_none() && failed.is_none() && Instant::now() >= faults.restart_at {
            set_state(&stats, RunState::Starting);
            match instantiate(&spec, log.clone(), shared.clone()) {
                Ok((mut l, ms)) => {
                    let settings: Vec<(String, String)> = spec
                        .installed
                        .settings
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    match call(&mut l, |m, s| m.call_start(s, &settings)) {
                        Ok(Ok(())) => {
                            stats.lock().expect("stats lock").start_ms = ms;
                            set_state(&stats, RunState::Running);
                            live = Some(l);
                        }
                        Ok(Err(why)) => {
                            log.push_host("error", &format!("start refused: {why}"));
                            set_state(&stats, RunState::Failed(why.clone()));
                            failed = Some(why);
                        }
                        Err(f) => {
                            if faults.record(&spec, &id, &f, &stats, &log) {
                                return;
                            }
                        }
                    }
                }
                Err(why) => {
                    set_state(&stats, RunState::Failed(why.clone()));
                    failed = Some(why);
                }
            }
        }
        // the jobs the plugin set (at start, or since)
        let set = shared.jobs.lock().expect("lock is never poisoned").take();
        if let Some(new) = set {
            jobs.replace(new, now_ms(), offset);
            stats.lock().expect("stats lock").jobs = jobs.stats();
        }
        let now = Instant::now();
        let mut wait = Duration::from_secs(3600);
        if let Some(t) = next_tick {
            wait = wait.min(t.saturating_duration_since(now));
        }
        if live.is_some()
            && let Some(t) = jobs.next_ms()
        {
            wait = wait.min(Duration::from_millis((t - now_ms()).max(0) as u64));
        }
        if live.is_none() && failed.is_none() {
            wait = wait.min(faults.restart_at.saturating_duration_since(now));
        }
        let msg = match rx.recv_timeout(wait) {
            Ok(c) => Some(c),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Call::Stop),
        };
        if let Some(Call::Stop) = msg {
            if let Some(mut l) = live.take() {
                let _ = call(&mut l, |m, s| m.call_stop(s));
            }
            set_state(&stats, RunState::Stopped);
            return;
        }
        let Some(l) = live.as_mut() else {
            // not running: answer what waits for an answer
            let why = failed
                .clone()
                .unwrap_or_else(|| "the plugin is restarting".into());
            match msg {
                Some(Call::Render { reply, .. }) => {
                    let _ = reply.send(Err(why));
                }
                Some(Call::Action { reply, .. }) => {
                    let _ = reply.send(Err(why));
                }
                _ => {}
            }
            continue;
        };
        // a job that is due runs with its own time limit
        if msg.is_none()
            && let Some(i) = jobs.due(now_ms())
        {
            let (name, deadline, due) = {
                let (sp, st) = &jobs.list[i];
                (sp.name.clone(), sp.deadline, st.next_ms.unwrap_or(0))
            };
            let saved = l.store.data().guest.budget;
            l.store.data_mut().guest.budget = deadline;
            let started = Instant::now();
            let r = call(l, |m, s| m.call_run_job(s, &name, due));
            l.store.data_mut().guest.budget = saved;
            count(&stats, started, live.as_ref());
            let ran = now_ms();
            match r {
                Ok(res) => {
                    if let Err(e) = &res {
                        log.push_host("warn", &format!("job {name} failed: {e}"));
                    }
                    jobs.finished(i, ran, res, false, offset);
                }
                Err(Fault::Deadline(_)) => {
                    log.push_host(
                        "warn",
                        &format!(
                            "job {name} stopped at its time limit of {} ms",
                            deadline.as_millis()
                        ),
                    );
                    if jobs.finished(i, ran, Ok(()), true, offset) {
                        log.push_host(
                            "error",
                            &format!(
                                "job {name} suspended: {} runs in a row past its time limit",
                                super::jobs::OVERRUNS_TO_SUSPEND
                            ),
                        );
                    }
                    // not a fault; the instance cannot be called again after a stop
                    live = None;
                    faults.restart_at = Instant::now();
                }
                Err(f) => {
                    jobs.finished(i, ran, Err(f.to_string()), false, offset);
                    live = None;
                    if faults.record(&spec, &id, &f, &stats, &log) {
                        return;
                    }
                }
            }
            stats.lock().expect("stats lock").jobs = jobs.stats();
            continue;
        }
        let started = Instant::now();
        let outcome: Result<(), Ended> = match msg {
            None => {
                // a tick is due
                if let (Some(t), Some(period)) = (next_tick, tick)
                    && Instant::now() >= t
                {
                    next_tick = Some(Instant::now() + period);
                    call(l, |m, s| m.call_tick(s, now_ms())).map_err(Ended::Faulted)
                } else {
                    Ok(())
                }
            }
            Some(Call::Tags(batch)) => {
                call(l, |m, s| m.call_samples(s, &batch)).map_err(Ended::Faulted)
            }
            Some(Call::Event(e)) => call(l, |m, s| m.call_on_event(s, &e)).map_err(Ended::Faulted),
            Some(Call::Render {
                page,
                params,
                lang,
                reply,
            }) => answer(
                reply,
                call(l, |m, s| m.call_render(s, &page, &params, &lang)),
            ),
            Some(Call::Action {
                page,
                action,
                fields,
                lang,
                caller,
                reply,
            }) => answer(
                reply,
                call(l, |m, s| {
                    s.data_mut().guest.caller = Some(*caller);
                    s.data_mut().guest.lang = crate::i18n::Lang::parse(&lang);
                    let r = m.call_action(s, &page, &action, &fields, &lang);
                    s.data_mut().guest.caller = None;
                    s.data_mut().guest.lang = None;
                    r
                }),
            ),
            Some(Call::Stop) => Ok(()),
        };
        count(&stats, started, live.as_ref());
        match outcome {
            Ok(()) => {}
            Err(Ended::Refused(why)) => {
                // a page far over the limits: refused, not a fault; the instance cannot be
                // called again after an answer it could not hand over, so it starts afresh
                log.push_host("warn", &format!("page refused: {why}"));
                live = None;
                faults.restart_at = Instant::now();
            }
            Err(Ended::Faulted(f)) => {
                live = None;
                if faults.record(&spec, &id, &f, &stats, &log) {
                    return;
                }
            }
        }
    }
}

/// Counts a call in the plugin's statistics.
fn count(stats: &Mutex<Stats>, started: Instant, live: Option<&Live>) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut st = stats.lock().expect("stats lock");
    st.calls += 1;
    st.busy_ms += ms;
    st.max_call_ms = st.max_call_ms.max(ms);
    if let Some(l) = live {
        st.memory_peak = st.memory_peak.max(l.store.data().limiter.peak);
    }
}

/// How a call that did not finish well ended.
enum Ended {
    /// The plugin's fault: counted towards switching it off.
    Faulted(Fault),
    /// Its answer was refused (too large to take): the caller is told, nothing counted.
    Refused(String),
}

/// Hands a call's answer (or why there is none) to whoever waits for it.
fn answer<T>(
    reply: tokio::sync::oneshot::Sender<Result<T, String>>,
    r: Result<Result<T, String>, Fault>,
) -> Result<(), Ended> {
    match r {
        Ok(v) => {
            let _ = reply.send(v);
            Ok(())
        }
        Err(Fault::Oversize) => {
            let why = format!(
                "the page is too large (over {} MiB of data; pages are at most {} MiB)",
                super::runtime::HOSTCALL_FUEL >> 20,
                super::runtime::PAGE_BYTES >> 20
            );
            let _ = reply.send(Err(why.clone()));
            Err(Ended::Refused(why))
        }
        Err(f) => {
            let _ = reply.send(Err(f.to_string()));
            Err(Ended::Faulted(f))
        }
    }
}

/// Recent faults and when to restart.
struct Faults {
    times: VecDeque<Instant>,
    backoff: Duration,
    restart_at: Instant,
}

impl Faults {
    /// Records a fault; returns true when the plugin was disabled for repeating them.
    fn record(
        &mut self,
        spec: &Spec,
        id: &str,
        f: &Fault,
        stats: &Arc<Mutex<Stats>>,
        log: &PluginLog,
    ) -> bool {
        let text = f.to_string();
        tracing::warn!(plugin = id, fault = %text, "plugin faulted");
        log.push_host("error", &format!("fault: {text}"));
        {
            let mut st = stats.lock().expect("stats lock");
            st.faults += 1;
            st.last_fault = Some(text.clone());
            st.last_fault_ms = Some(now_ms());
            st.state = RunState::Faulted(text.clone());
        }
        let now = Instant::now();
        self.times.push_back(now);
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) > FAULT_WINDOW)
        {
            self.times.pop_front();
        }
        let disable = self.times.len() >= FAULTS_TO_DISABLE;
        if let Some(app) = spec.app.upgrade() {
            app.plugins.on_fault(&app, id, &text, disable, stats);
        }
        if disable {
            set_state(
                stats,
                RunState::Disabled(format!(
                    "{} faults within 10 minutes; last: {text}",
                    self.times.len()
                )),
            );
            return true;
        }
        self.restart_at = now + self.backoff;
        self.backoff = (self.backoff * 2).min(Duration::from_secs(60));
        false
    }
}
