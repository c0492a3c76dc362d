//! Special work permits (八大特殊作业票) per GB 30871-2022.
//!
//! - `rules`: the standard's rules as pure functions (levels, validity, gas limits, wind,
//!   certificates, conflicts); every refusal names the rule. `calendar`: holidays, rest
//!   days and night hours as data (the binary ships this year's and next year's).
//! - `model`: the permit record (Annex A fields per type), stages, duties, signatures,
//!   the toxic-gas reference data.
//! - `service`: the life cycle and the stops the box makes by itself; the only writer of
//!   `safety.permits`. `settings`: calendar, duties, chains and checklists, gas limits; the
//!   only writer of their tables.
//! - `routes`: pages under `/safety/permits` and the API under `/api/v1/safety`.
//!
//! This file ties the service to the running box: the gas detectors it watches are tags
//! of the data platform, and their alarms stop the work at once.

pub mod calendar;
pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod settings;

use std::sync::Arc;

use crate::app::App;
use service::{Detector, Site};

/// The plant's gas detectors as the permit rules see them: a tag's live value and the
/// alarms on it.
pub struct Instruments<'a>(pub &'a App);

impl Site for Instruments<'_> {
    fn detector(&self, tag: &str) -> Detector {
        let defs = self.0.tags.defs();
        let Some(t) = defs.by_name(tag) else {
            return Detector::Unknown;
        };
        match self.0.tags.current(t.id) {
            None => return Detector::Unknown,
            Some(c) if !c.quality.is_good() => return Detector::Bad,
            Some(_) => {}
        }
        let alarm = self
            .0
            .alarms
            .instances(None)
            .iter()
            .any(|i| i.active && i.tag == tag);
        if alarm {
            Detector::Alarm
        } else {
            Detector::Normal
        }
    }

    fn camera_live(&self, zones: &[u64]) -> bool {
        let Ok(cams) = self
            .0
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| crate::cameras::cameras(&r))
        else {
            return false;
        };
        cams.iter()
            .filter(|c| c.enabled && c.zones.iter().any(|z| zones.contains(z)))
            .any(|c| self.0.video.status(c.id).state == crate::cameras::video::LinkState::Connected)
    }
}

/// The stops the box makes by itself, then the permit alarms (every minute, and when a
/// detector raises an alarm).
pub fn enforce(app: &App, now_ms: i64) -> crate::error::Result<()> {
    service::enforce(&app.store, &Instruments(app), now_ms)?;
    super::permit_alarms(app, now_ms)
}

/// Follows the alarm events: when an alarm is raised on a tag a working permit watches,
/// the work stops at once (not at the next minute).
pub fn start(app: Arc<App>) {
    let Some(io) = app.io() else { return };
    let mut events = app.alarms.subscribe();
    io.spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            if e.kind != crate::alarms::model::EventKind::Raised
                || e.tag.is_empty()
                || !app.registry.is_enabled("safety")
            {
                continue;
            }
            let a = app.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let watched = a
                    .store
                    .read()
                    .map_err(crate::error::Error::from)
                    .and_then(|r| service::watching(&r, &e.tag))
                    .unwrap_or(false);
                if watched && let Err(err) = enforce(&a, crate::util::now_ms()) {
                    tracing::warn!(tag = %e.tag, error = %err, "permits not stopped after a detector alarm");
                }
            })
            .await;
        }
    });
}
