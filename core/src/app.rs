//! The running appliance: configuration, store, module registry, UI and metrics in one
//! [`App`] shared by every request, and [`run`], which starts the web server, the control
//! socket and background jobs and stops them cleanly on SIGTERM / Ctrl-C.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::throttle::Throttle;
use crate::config::{Config, TlsMode};
use crate::error::Error;
use crate::i18n::Msg;
use crate::registry::Registry;
use crate::store::Store;
use crate::web::ops::Metrics;
use crate::web::render::Ui;

pub struct App {
    pub cfg: Config,
    pub store: Arc<Store>,
    pub registry: Registry,
    /// Current tag values and their fan-out.
    pub tags: Arc<crate::tags::engine::Engine>,
    pub historian: Arc<crate::historian::Historian>,
    /// Alarm evaluation, states and journal; modules raise their alarms here.
    pub alarms: Arc<crate::alarms::Alarms>,
    /// Sends alarms to DingTalk / WeCom robots and email.
    pub notifier: Arc<crate::alarms::notify::Notifier>,
    pub drivers: crate::drivers::Drivers,
    /// Publishes tag values and alarms to an upstream MQTT broker (when configured).
    pub northbound: crate::northbound::Northbound,
    /// The park role: following other boxes over the park's broker (off unless configured).
    pub park: crate::park::Park,
    /// X modules as WebAssembly plugins.
    pub plugins: crate::plugins::Plugins,
    /// Camera streams, live views and recordings.
    pub video: Arc<crate::cameras::video::Video>,
    reloading: std::sync::Mutex<()>,
    /// The runtime of drivers and background I/O; shut down by `run` on exit.
    io: std::sync::Mutex<Option<tokio::runtime::Runtime>>,
    pub ui: Ui,
    pub metrics: Metrics,
    pub throttle: Throttle,
    pub started: Instant,
    /// The plant's UTC offset, for showing and entering times.
    pub offset: time::UtcOffset,
    /// True when served over HTTPS (cookies get `Secure`).
    pub tls: bool,
    /// State modules keep while the appliance runs (live positions…), by type.
    states: std::sync::Mutex<
        std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>,
    >,
}

/// Why the appliance could not start; shown to the admin in both languages.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.bilingual())]
pub struct StartError(pub Msg);

impl From<Error> for StartError {
    fn from(e: Error) -> Self {
        StartError(e.msg())
    }
}

impl From<crate::store::StoreError> for StartError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Locked(_) | crate::store::StoreError::TooNew { .. } => {
                Error::Store(e).into()
            }
            other => StartError(Msg::new("store.err.open").arg("detail", other)),
        }
    }
}

impl App {
    /// Opens the store and builds the registry. Does not listen yet.
    pub fn open(cfg: Config) -> Result<App, StartError> {
        let offset = cfg.utc_offset().map_err(|e| StartError(e.0))?;
        let store = Arc::new(Store::open(&cfg.data_dir)?);
        let registry = Registry::new(&store, crate::modules::builtin())?;
        let tags = Arc::new(crate::tags::engine::Engine::new(
            crate::tags::service::tags(&store.read()?)?,
        ));
        let historian = Arc::new(crate::historian::Historian::open(
            store.clone(),
            tags.clone(),
        )?);
        tags.add_sink(historian.clone());
        let alarms = Arc::new(crate::alarms::Alarms::open(store.clone(), tags.clone())?);
        tags.add_sink(alarms.clone());
        let notifier = Arc::new(crate::alarms::notify::Notifier::new(store.clone())?);
        let io = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("nplusx-io")
            .enable_all()
            .build()
            .map_err(|e| StartError(Msg::new("cli.err.runtime").arg("detail", e)))?;
        let drivers =
            crate::drivers::Drivers::new(tags.clone(), store.clone(), io.handle().clone());
        let northbound = crate::northbound::Northbound::new(
            store.clone(),
            tags.clone(),
            alarms.clone(),
            io.handle().clone(),
        );
        let park = crate::park::Park::new(store.clone(), io.handle().clone());
        let plugins = crate::plugins::Plugins::new(&cfg.data_dir);
        let video = Arc::new(crate::cameras::video::Video::new(
            store.clone(),
            &cfg.data_dir,
            offset,
        ));
        match video.recorder.recover() {
            Ok((0, 0)) => {}
            Ok((open, orphans)) => tracing::info!(
                open,
                orphans,
                "recordings cut short by the last stop recovered"
            ),
            Err(e) => tracing::error!(error = %e, "recordings not recovered"),
        }
        Ok(App {
            plugins,
            video,
            tags,
            historian,
            alarms,
            notifier,
            drivers,
            northbound,
            park,
            io: std::sync::Mutex::new(Some(io)),
            reloading: std::sync::Mutex::new(()),
            throttle: Throttle::new(cfg.login.clone()),
            tls: cfg.web.tls != TlsMode::Off,
            states: Default::default(),
            ui: Ui::new(offset),
            metrics: Metrics::default(),
            started: Instant::now(),
            offset,
            registry,
            store,
            cfg,
        })
    }
}

impl App {
    /// Re-reads tag definitions and devices after a configuration change: the engine gets
    /// the new definitions, drivers restart where their device changed.
    pub fn reload_tags(&self) -> crate::error::Result<()> {
        // one reload at a time: an older snapshot must not be applied after a newer one
        let _one = self
            .reloading
            .lock()
            .expect("reload lock is never poisoned");
        let r = self.store.read()?;
        self.tags.set_defs(crate::tags::service::tags(&r)?);
        self.drivers.reconcile(&crate::tags::service::devices(&r)?);
        Ok(())
    }

    /// The runtime of drivers and background I/O (none once shut down).
    pub fn io(&self) -> Option<tokio::runtime::Handle> {
        self.io
            .lock()
            .expect("io lock is never poisoned")
            .as_ref()
            .map(|rt| rt.handle().clone())
    }

    /// The running state of type `T` a module keeps, made by `init` on first use. `init` runs
    /// without the lock held (it may read the store or other states); if two callers race,
    /// the first stored wins.
    pub fn state<T: std::any::Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let id = std::any::TypeId::of::<T>();
        let found = self
            .states
            .lock()
            .expect("states lock is never poisoned")
            .get(&id)
            .cloned();
        let any = match found {
            Some(s) => s,
            None => {
                let made: Arc<dyn std::any::Any + Send + Sync> = Arc::new(init());
                self.states
                    .lock()
                    .expect("states lock is never poisoned")
                    .entry(id)
                    .or_insert(made)
                    .clone()
            }
        };
        any.downcast::<T>().expect("stored under its own type id")
    }

    /// Stops drivers and the I/O runtime (at shutdown).
    fn stop_io(&self) {
        self.plugins.stop_all();
        self.video.recorder.stop_all();
        self.drivers.stop_all();
        self.northbound.stop();
        self.park.stop();
        if let Some(rt) = self.io.lock().expect("io lock is never poisoned").take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        match self.historian.flush() {
            Ok(n) if n > 0 => tracing::info!(samples = n, "history flushed at shutdown"),
            Err(e) => tracing::error!(error = %e, "history flush at shutdown failed"),
            _ => {}
        }
        if let Err(e) = self.alarms.flush() {
            tracing::error!(error = %e, "alarm journal flush at shutdown failed");
        }
        // the postings the store journal holds go into the store file: a clean stop leaves
        // nothing to redo
        if let Err(e) = self.store.checkpoint() {
            tracing::error!(error = %e, "store checkpoint at shutdown failed; the next start redoes the journal");
        }
    }

    /// Starts the data platform's timers on the I/O runtime: every second the alarm delays
    /// and shelving expiries, then a durable flush of history and the alarm journal and the
    /// hourly rolls that are due; history retention every hour.
    fn start_timers(&self) {
        let io = self.io.lock().expect("io lock is never poisoned");
        let Some(rt) = io.as_ref() else { return };
        let h = self.historian.clone();
        let alarms = self.alarms.clone();
        rt.spawn(
            self.notifier
                .clone()
                .run(self.alarms.subscribe(), self.offset),
        );
        self.video.start(rt.handle());
        rt.spawn(crate::cameras::follow_alarms(
            self.store.clone(),
            self.video.clone(),
            self.alarms.subscribe(),
        ));
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut since_retention = 0u32;
            loop {
                tick.tick().await;
                let (h2, a2) = (h.clone(), alarms.clone());
                let retention = since_retention == 0;
                let trim = since_retention % 60 == 30;
                since_retention = (since_retention + 1) % 3600;
                let r = tokio::task::spawn_blocking(move || {
                    a2.tick(crate::util::now_ms());
                    a2.check_instruments(crate::util::now_ms());
                    if let Err(e) = a2.flush() {
                        tracing::error!(error = %e, "alarm journal flush failed; will retry");
                    }
                    let flushed = h2.flush();
                    if flushed.is_ok()
                        && let Err(e) = h2.roll_hours(crate::util::now_ms())
                    {
                        tracing::warn!(error = %e, "rolling history into hours failed; will retry");
                    }
                    if flushed.is_ok()
                        && let Err(e) = h2.pack()
                    {
                        tracing::warn!(error = %e, "packing history failed; will retry");
                    }
                    if retention && let Err(e) = h2.apply_retention(crate::util::now_ms()) {
                        tracing::warn!(error = %e, "history retention failed");
                    }
                    if trim {
                        crate::util::release_free_memory();
                    }
                    flushed
                })
                .await;
                match r {
                    Ok(Err(e)) => tracing::error!(error = %e, "history flush failed; will retry"),
                    Err(e) => tracing::error!(error = %e, "history flush task failed"),
                    Ok(Ok(_)) => {}
                }
            }
        });
    }
}

/// Options of `serve` and `demo` that are not configuration.
pub struct RunOptions {
    /// On a fresh data dir: create an admin API token with this secret.
    pub bootstrap_token: Option<String>,
    /// Seed the demo plant when the data dir is fresh.
    pub demo: bool,
}

/// Starts everything and serves until SIGTERM or Ctrl-C.
pub fn run(cfg: Config, opts: RunOptions) -> Result<(), StartError> {
    let fresh = !Store::exists(&cfg.data_dir);
    let app = App::open(cfg)?;
    let fresh = fresh || crate::auth::service::users(&app.store.read()?)?.is_empty();

    // Listen first: if the port is taken, nothing is seeded and no password is lost.
    let addr = app.cfg.listen_addr().map_err(|e| StartError(e.0))?;
    let listener = TcpListener::bind(addr)
        .map_err(|e| StartError(Msg::new("cli.err.bind").arg("addr", addr).arg("detail", e)))?;
    let local = listener
        .local_addr()
        .map_err(|e| StartError(Msg::new("cli.err.bind").arg("addr", addr).arg("detail", e)))?;
    let tls = match app.cfg.web.tls {
        TlsMode::Off => None,
        TlsMode::SelfSigned => Some(crate::web::tls::self_signed(&app.cfg.data_dir)?),
        TlsMode::Files => Some(crate::web::tls::from_files(
            app.cfg.web.cert.as_deref().expect("validated: cert is set"),
            app.cfg.web.key.as_deref().expect("validated: key is set"),
        )?),
    };

    match (&opts.bootstrap_token, fresh) {
        (Some(secret), true) => {
            crate::auth::bootstrap_token(&app, secret)?;
            println!("{}", Msg::new("cli.bootstrap_token_created").bilingual());
        }
        (Some(_), false) => {
            tracing::info!("bootstrap token ignored: the data dir is already set up")
        }
        (None, _) => {}
    }
    let credentials = match (fresh, opts.demo) {
        (true, true) => Some(crate::demo::seed(&app)?),
        (true, false) => Some(crate::auth::first_admin(&app)?),
        (false, _) => None,
    };

    let control = crate::control::bind(&app.cfg.data_dir)
        .inspect_err(|e| {
            tracing::warn!(error = %e, "control socket unavailable: `nplusx backup` will not reach this server")
        })
        .ok();

    print_banner(&app, local, tls.as_ref().map(|t| t.fingerprint.as_str()));
    match credentials {
        Some(c) => c.print(),
        None if opts.demo => println!(
            "{}",
            Msg::new("cli.demo_again")
                .arg("dir", app.cfg.data_dir.display())
                .bilingual()
        ),
        None => {}
    }

    let app = actix_web::web::Data::new(app);
    let for_shutdown = app.clone();
    let system = actix_web::rt::System::new();
    let result = system.block_on(async move {
        let server =
            crate::web::server(app.clone(), listener, tls.map(|t| t.config)).map_err(|e| {
                StartError(Msg::new("cli.err.bind").arg("addr", local).arg("detail", e))
            })?;
        let handle = server.handle();
        let control = control.and_then(|bound| {
            crate::control::serve(app.clone(), bound)
                .inspect_err(|e| tracing::warn!(error = %e, "control socket failed"))
                .ok()
        });
        let jobs = actix_web::rt::spawn(background_jobs(app.clone()));
        let figures = actix_web::rt::spawn(figures_job(app.clone()));
        app.start_timers();
        for m in app.registry.modules() {
            m.start(app.clone().into_inner());
        }
        if let Err(e) = app.reload_tags() {
            tracing::error!(error = %e, "drivers not started");
        }
        if let Err(e) = app.northbound.reload() {
            tracing::error!(error = %e, "northbound publisher not started");
        }
        if let Err(e) = app.park.reload() {
            tracing::error!(error = %e, "park subscriber not started");
        }
        let closing = app.clone().into_inner();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested: finishing requests in flight");
            closing.plugins.close();
            handle.stop(true).await;
        });
        // plugins compile (or load from the cache) in the background: the console serves
        // meanwhile, and a SIGTERM during a first compile is still a clean stop
        let booting = app.clone().into_inner();
        actix_web::rt::task::spawn_blocking(move || booting.plugins.boot(&booting));
        let result = server.await;
        jobs.abort();
        figures.abort();
        if let Some(c) = control {
            c.close();
        }
        result.map_err(|e| StartError(Msg::new("cli.err.bind").arg("addr", local).arg("detail", e)))
    });
    // outside the async runtime: the I/O runtime may block while it winds down
    for_shutdown.stop_io();
    tracing::info!("server stopped; store closed cleanly");
    result
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler can be installed");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Every 5 s while northbound publishing is on: the key figures for the park
/// ([`crate::northbound::figures`]).
async fn figures_job(app: actix_web::web::Data<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let a = app.clone();
        let _ = actix_web::web::block(move || {
            if a.northbound.enabled() {
                a.northbound
                    .set_figures(crate::northbound::figures::collect(&a));
            }
        })
        .await;
    }
}

/// Periodic housekeeping: each minute the enabled modules' checks (certificate expiry…),
/// every ten minutes expired sessions.
async fn background_jobs(app: actix_web::web::Data<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut minute = 0u32;
    loop {
        tick.tick().await;
        let a = app.clone();
        let purge = minute.is_multiple_of(10);
        minute = minute.wrapping_add(1);
        let r = actix_web::web::block(move || {
            a.run_periodic();
            if purge {
                crate::auth::service::purge_sessions(&a.store, &a.cfg.session)
            } else {
                Ok(0)
            }
        })
        .await;
        match r {
            Ok(Ok(n)) if n > 0 => tracing::info!(sessions = n, "expired sessions removed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "session purge failed"),
            _ => {}
        }
    }
}

impl App {
    /// Hands a module event to every other enabled module ([`Module::on_event`]).
    pub fn dispatch(&self, source: &str, kind: &str, data: &serde_json::Value) {
        for m in self.registry.modules() {
            if m.id() != source
                && self.registry.is_enabled(m.id())
                && let Err(e) = m.on_event(self, kind, data)
            {
                tracing::warn!(module = m.id(), event = kind, error = %e, "event handler failed");
            }
        }
    }

    /// Asks every module — enabled or not: switching a module off must not take its
    /// protections away — whether a write of `value` to `tag` may go to the process
    /// ([`Module::check_write`]); the first refusal stops it.
    pub fn check_write(
        &self,
        tag: &crate::tags::model::Tag,
        value: f64,
    ) -> crate::error::Result<()> {
        for m in self.registry.modules() {
            m.check_write(self, tag, value)?;
        }
        Ok(())
    }

    /// Runs every enabled module's periodic checks once, then escalates the alerts nobody
    /// acknowledged in time.
    pub fn run_periodic(&self) {
        for m in self.registry.modules() {
            if self.registry.is_enabled(m.id())
                && let Err(e) = m.periodic(self)
            {
                tracing::warn!(module = m.id(), error = %e, "periodic check failed");
            }
        }
        match crate::alerts::escalate(&self.store, crate::util::now_ms()) {
            Ok(up) => {
                for a in &up {
                    self.notifier.alert(a, true, self.offset);
                }
            }
            Err(e) => tracing::warn!(error = %e, "alert escalation failed"),
        }
    }

    /// Makes `module`'s standing alerts under `prefixes` what `standing` says
    /// ([`crate::alerts::sync`]) and sends the new ones to the channels that take alerts.
    pub fn sync_alerts(
        &self,
        module: &str,
        prefixes: &[&str],
        standing: Vec<crate::alerts::Raise>,
    ) -> crate::error::Result<()> {
        let raised = crate::alerts::sync(
            &self.store,
            module,
            prefixes,
            standing,
            crate::util::now_ms(),
        )?;
        for a in &raised {
            self.notifier.alert(a, false, self.offset);
        }
        Ok(())
    }

    /// Raises an event alert ([`crate::alerts::pulse`]) and sends it when new.
    pub fn pulse_alert(
        &self,
        module: &str,
        raise: crate::alerts::Raise,
    ) -> crate::error::Result<()> {
        if let Some(a) = crate::alerts::pulse(&self.store, module, raise, crate::util::now_ms())? {
            self.notifier.alert(&a, false, self.offset);
        }
        Ok(())
    }
}

/// Addresses a person on the LAN can type: every non-loopback IPv4 of the box when
/// listening on all interfaces, else the listen address itself.
pub fn lan_urls(local: SocketAddr, tls: bool) -> Vec<String> {
    let scheme = if tls { "https" } else { "http" };
    let port = local.port();
    let mut ips: Vec<IpAddr> = Vec::new();
    if local.ip().is_unspecified() {
        if let Ok(ifs) = if_addrs::get_if_addrs() {
            ips.extend(
                ifs.iter()
                    .map(|i| i.ip())
                    .filter(|ip| ip.is_ipv4() && !ip.is_loopback()),
            );
        }
        ips.push(IpAddr::from([127, 0, 0, 1]));
    } else {
        ips.push(local.ip());
    }
    ips.iter()
        .map(|ip| match ip {
            IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}/"),
            IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}/"),
        })
        .collect()
}

fn print_banner(app: &App, local: SocketAddr, fingerprint: Option<&str>) {
    let urls = lan_urls(local, app.tls);
    // The first line is stable and machine-readable: scripts and tests wait for it.
    let scheme = if app.tls { "https" } else { "http" };
    println!("nplusx listening on {scheme}://{local}");
    println!("{}", Msg::new("cli.banner_open").bilingual());
    for u in &urls {
        println!("    {u}");
    }
    if let Some(f) = fingerprint {
        println!("{}: {f}", Msg::new("cli.banner_fingerprint").bilingual());
    }
    println!(
        "{}",
        Msg::new("cli.banner_data")
            .arg("dir", app.cfg.data_dir.display())
            .bilingual()
    );
}

/// Credentials created at first start, printed once.
pub struct Credentials {
    pub rows: Vec<(String, String, String)>,
    pub password: String,
}

impl Credentials {
    pub fn print(&self) {
        println!();
        println!("{}", Msg::new("cli.credentials_once").bilingual());
        for (user, name, role) in &self.rows {
            println!("    {user:<14} {name:<8} {role}");
        }
        println!(
            "{}",
            Msg::new("cli.credentials_password")
                .arg("pw", &self.password)
                .bilingual()
        );
        println!();
    }
}

/// True if a path is inside a fresh (store-less) data dir.
pub fn is_fresh(dir: &Path) -> bool {
    !Store::exists(dir)
}
