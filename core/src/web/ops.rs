//! Operations endpoints: `GET /healthz` (JSON) and `GET /metrics` (Prometheus text), and
//! the metrics the rest of the web layer records.

use std::sync::Mutex;
use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::app::App;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModuleLabels {
    module: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CameraLabels {
    camera: String,
}

/// Per camera: what the cameras page shows of its stream.
#[derive(Default)]
struct CameraMetrics {
    connected: Family<CameraLabels, Gauge>,
    bitrate: Family<CameraLabels, Gauge>,
    frames: Family<CameraLabels, Gauge>,
    reconnects: Family<CameraLabels, Gauge>,
    recording: Family<CameraLabels, Gauge>,
    viewers: Family<CameraLabels, Gauge>,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    uptime: Gauge,
    store_bytes: Gauge,
    audit_entries: Gauge,
    grouped_writes: Gauge,
    group_commits: Gauge,
    journal_batches: Gauge,
    journal_checkpoints: Gauge,
    journal_redone: Gauge,
    module_enabled: Family<ModuleLabels, Gauge>,
    cameras: CameraMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("nplusx");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0])
        });
        let uptime = Gauge::default();
        let store_bytes = Gauge::default();
        let audit_entries = Gauge::default();
        let module_enabled = Family::<ModuleLabels, Gauge>::default();
        let grouped_writes = Gauge::default();
        let group_commits = Gauge::default();
        let journal_batches = Gauge::default();
        let journal_checkpoints = Gauge::default();
        let journal_redone = Gauge::default();
        registry.register(
            "store_journal_redone",
            "Journaled batches redone when the store opened (the last run ended without a checkpoint)",
            journal_redone.clone(),
        );
        registry.register(
            "store_journal_batches",
            "Group commits made durable by the redo journal instead of a page sync",
            journal_batches.clone(),
        );
        registry.register(
            "store_journal_checkpoints",
            "Checkpoints: durable commits that emptied the journal",
            journal_checkpoints.clone(),
        );
        registry.register(
            "store_grouped_writes",
            "Writes (stock postings) that went through group commit since start",
            grouped_writes.clone(),
        );
        registry.register(
            "store_group_commits",
            "Durable commits that carried those writes (writes / commits = batch size)",
            group_commits.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "uptime_seconds",
            "Seconds since the server started",
            uptime.clone(),
        );
        registry.register(
            "store_file_bytes",
            "Size of the store file",
            store_bytes.clone(),
        );
        registry.register(
            "audit_entries",
            "Entries in the audit log",
            audit_entries.clone(),
        );
        registry.register(
            "module_enabled",
            "1 when a built-in module is switched on",
            module_enabled.clone(),
        );
        let cameras = CameraMetrics::default();
        for (name, help, f) in [
            (
                "camera_connected",
                "1 while the camera's RTSP stream is connected",
                &cameras.connected,
            ),
            (
                "camera_bitrate_bps",
                "The camera's video bit rate over the last 5 s",
                &cameras.bitrate,
            ),
            (
                "camera_frames",
                "Frames received from the camera since the box started",
                &cameras.frames,
            ),
            (
                "camera_reconnects",
                "Connections to the camera after the first",
                &cameras.reconnects,
            ),
            (
                "camera_recording",
                "1 while the camera is being recorded",
                &cameras.recording,
            ),
            (
                "camera_viewers",
                "Live views of the camera open now",
                &cameras.viewers,
            ),
        ] {
            registry.register(name, help, f.clone());
        }
        Metrics {
            cameras,
            registry: Mutex::new(registry),
            requests,
            latency,
            uptime,
            store_bytes,
            audit_entries,
            grouped_writes,
            group_commits,
            journal_batches,
            journal_checkpoints,
            journal_redone,
            module_enabled,
        }
    }
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Healthz {
    /// "ok" when the store answers, otherwise "degraded".
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_s: u64,
    /// "ok" or the store error.
    pub store: String,
    pub schema_version: u64,
}

/// Liveness and store health, for load balancers and monitoring. No authentication.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "The appliance and its store are healthy", body = Healthz),
    (status = 503, description = "The store does not answer", body = Healthz)))]
#[get("/healthz")]
pub async fn healthz(app: web::Data<App>) -> HttpResponse {
    let store = match app.store.check() {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    let ok = store == "ok";
    let body = Healthz {
        status: if ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: app.started.elapsed().as_secs(),
        store,
        schema_version: app.store.schema_version().unwrap_or(0),
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics in the text exposition format. No authentication; holds no secrets.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(app: web::Data<App>) -> HttpResponse {
    let m = &app.metrics;
    m.uptime.set(app.started.elapsed().as_secs() as i64);
    m.store_bytes.set(app.store.file_size() as i64);
    if let Ok(v) = crate::store::audit::head_seq(&app.store) {
        m.audit_entries.set(v as i64);
    }
    let (writes, commits) = app.store.group_stats();
    m.grouped_writes.set(writes as i64);
    m.group_commits.set(commits as i64);
    let (batches, checkpoints, redone) = app.store.journal_stats();
    m.journal_batches.set(batches as i64);
    m.journal_checkpoints.set(checkpoints as i64);
    m.journal_redone.set(redone as i64);
    for module in app.registry.modules() {
        m.module_enabled
            .get_or_create(&ModuleLabels {
                module: module.id().to_string(),
            })
            .set(app.registry.is_enabled(module.id()) as i64);
    }
    let names: std::collections::HashMap<u32, String> = app
        .store
        .read()
        .map_err(crate::error::Error::from)
        .and_then(|r| crate::cameras::cameras(&r))
        .map(|cs| cs.into_iter().map(|c| (c.id, c.name)).collect())
        .unwrap_or_default();
    for (id, st) in app.video.statuses() {
        let Some(name) = names.get(&id) else { continue };
        let l = CameraLabels {
            camera: format!("{id} {name}"),
        };
        let c = &m.cameras;
        let connected = st.state == crate::cameras::video::LinkState::Connected;
        c.connected.get_or_create(&l).set(connected as i64);
        c.bitrate.get_or_create(&l).set(st.bitrate_bps as i64);
        c.frames.get_or_create(&l).set(st.frames as i64);
        c.reconnects.get_or_create(&l).set(st.reconnects as i64);
        c.recording.get_or_create(&l).set(st.recording as i64);
        c.viewers.get_or_create(&l).set(st.viewers as i64);
    }
    let mut out = String::new();
    let registry = m.registry.lock().expect("metrics lock is never poisoned");
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
        tracing::error!(error = %e, "metrics encoding failed");
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .content_type(prometheus_client::encoding::prometheus_text::CONTENT_TYPE)
        .body(out)
}
