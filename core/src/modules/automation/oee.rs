//! OEE per unit (availability × performance × quality) from its batch records, and the
//! module's overview page (`/automation`): each unit's batch now, its OEE over the last 8
//! hours (a shift) and 24 hours, and the yield of its latest batches.
//!
//! - availability: time batches ran in the window / the window;
//! - performance: (batches finished in the window × the unit's ideal cycle) / their run time;
//! - quality: output released by quality / output decided (released + rejected) of the
//!   batches finished in the window (held lots are not decided yet and count in neither).
//!
//! A factor without its inputs (no ideal cycle set, no decided output) is `None`, and so is
//! OEE: a figure is never made up from a default.

use actix_web::{HttpResponse, get};
use minijinja::context;
use serde::Serialize;
use utoipa::ToSchema;

use super::batches::{self, Batch, BatchState};
use crate::web::context::to_value;
use crate::web::error::AppError;
use crate::web::grant::{self, Need};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Oee {
    pub availability: Option<f64>,
    pub performance: Option<f64>,
    pub quality: Option<f64>,
    pub oee: Option<f64>,
    /// Batches finished in the window.
    pub batches: u32,
}

/// A lot's quality decision as OEE counts it: Some(true) released, Some(false) rejected,
/// None undecided.
pub type Decided<'a> = dyn Fn(&Batch) -> Option<bool> + 'a;

/// The OEE of one unit's batches over [from, to).
pub fn oee(list: &[Batch], from: i64, to: i64, ideal_cycle_ms: i64, decided: &Decided<'_>) -> Oee {
    let window = (to - from).max(1) as f64;
    let mut run_ms = 0i64;
    let mut finished = Vec::new();
    for b in list
        .iter()
        .filter(|b| b.state != BatchState::Aborted || b.ended_ms.is_some())
    {
        let start = b.started_ms.max(from);
        let end = b.ended_ms.unwrap_or(to).min(to);
        if end > start {
            run_ms += end - start;
        }
        if b.state == BatchState::Done && b.ended_ms.is_some_and(|e| e >= from && e < to) {
            finished.push(b);
        }
    }
    let availability = Some((run_ms as f64 / window).min(1.0));
    let finished_run: i64 = finished
        .iter()
        .map(|b| b.ended_ms.unwrap_or(to) - b.started_ms)
        .sum();
    let performance = (ideal_cycle_ms > 0 && finished_run > 0)
        .then(|| (finished.len() as f64 * ideal_cycle_ms as f64 / finished_run as f64).min(1.0));
    let (mut good, mut decided_qty) = (0.0, 0.0);
    for b in &finished {
        if let (Some(out), Some(ok)) = (&b.output, decided(b)) {
            decided_qty += out.qty;
            if ok {
                good += out.qty;
            }
        }
    }
    let quality = (decided_qty > 0.0).then(|| good / decided_qty);
    let oee = match (availability, performance, quality) {
        (Some(a), Some(p), Some(q)) => Some(a * p * q),
        _ => None,
    };
    Oee {
        availability,
        performance,
        quality,
        oee,
        batches: finished.len() as u32,
    }
}

/// One process unit's figures now: the batch running on it, its OEE over the last 8 hours
/// (a shift) and the last 24, and the yield of its latest batches.
#[derive(Serialize)]
pub struct UnitFigures {
    pub unit: batches::Unit,
    pub running: Option<Batch>,
    pub shift: Oee,
    pub oee: Oee,
    /// The latest finished batches: number, id, yield %.
    pub recent: Vec<(String, u64, Option<f64>)>,
}

/// Every unit's figures at `now` (the overview page and the plugins' `production.oee`).
pub fn units_now(
    r: &impl crate::store::Reader,
    now: i64,
) -> crate::error::Result<Vec<UnitFigures>> {
    let from = now - 86_400_000;
    let all = batches::batches(r)?;
    let mut out = Vec::new();
    for u in batches::units(r)? {
        let mine: Vec<Batch> = all.iter().filter(|b| b.unit == u.code).cloned().collect();
        let decided = |b: &Batch| -> Option<bool> {
            let out = b.output.as_ref()?;
            let lot = crate::modules::inventory::service::lot(r, out.lot).ok()?;
            match lot.quality {
                crate::modules::inventory::model::LotQuality::Released => Some(true),
                crate::modules::inventory::model::LotQuality::Rejected => Some(false),
                crate::modules::inventory::model::LotQuality::Held => None,
            }
        };
        let ideal = u.ideal_cycle_min.map_or(0, |m| (m * 60_000.0) as i64);
        let figures = oee(&mine, from, now, ideal, &decided);
        let shift = oee(&mine, now - 8 * 3_600_000, now, ideal, &decided);
        out.push(UnitFigures {
            running: mine
                .iter()
                .find(|b| b.state == BatchState::Running)
                .cloned(),
            recent: mine
                .iter()
                .filter(|b| b.state == BatchState::Done)
                .take(5)
                .map(|b| (b.number.clone(), b.id, b.yield_pct()))
                .collect(),
            oee: figures,
            shift,
            unit: u,
        });
    }
    Ok(out)
}

#[get("/automation")]
async fn overview(ctx: Need<grant::automation::Read>) -> Result<HttpResponse, AppError> {
    let views = units_now(&ctx.app.store.read()?, crate::util::now_ms())?;
    ctx.page(
        "automation/overview.html",
        context! { units => to_value(&views) },
    )
}

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(overview);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::automation::batches::{Output, Trigger};

    const H: i64 = 3_600_000;

    fn batch(start: i64, end: Option<i64>, out: Option<f64>) -> Batch {
        Batch {
            id: 1,
            number: format!("B{start}"),
            unit: "R101".into(),
            product: "FG".into(),
            recipe: None,
            state: if end.is_some() {
                BatchState::Done
            } else {
                BatchState::Running
            },
            trigger: Trigger::Operator,
            tag_number: None,
            started_ms: start,
            started_by: "x".into(),
            ended_ms: end,
            ended_by: None,
            phases: Vec::new(),
            planned_qty: 4000.0,
            issues: Vec::new(),
            output: out.map(|qty| Output {
                lot: start as u64,
                lot_number: "L".into(),
                qty,
                unit: "kg".into(),
                movement: 1,
            }),
            samples: Vec::new(),
            note: String::new(),
        }
    }

    #[test]
    fn oee_is_availability_times_performance_times_quality() {
        // a 10 h window: two 4 h batches finished (ideal 3 h each), one rejected
        let list = vec![
            batch(0, Some(4 * H), Some(4000.0)),
            batch(5 * H, Some(9 * H), Some(1000.0)),
        ];
        let decided = |b: &Batch| Some(b.started_ms == 0);
        let o = oee(&list, 0, 10 * H, 3 * H, &decided);
        assert_eq!(o.batches, 2);
        assert!((o.availability.unwrap() - 0.8).abs() < 1e-9);
        assert!((o.performance.unwrap() - 0.75).abs() < 1e-9);
        assert!((o.quality.unwrap() - 0.8).abs() < 1e-9);
        assert!((o.oee.unwrap() - 0.48).abs() < 1e-9);
    }

    #[test]
    fn a_factor_without_its_inputs_is_unknown_not_a_default() {
        let list = vec![
            batch(0, Some(4 * H), Some(4000.0)),
            batch(6 * H, None, None),
        ];
        // no ideal cycle, output held: performance and quality unknown, OEE too
        let o = oee(&list, 0, 10 * H, 0, &|_| None);
        assert_eq!((o.performance, o.quality, o.oee), (None, None, None));
        // the running batch counts its time so far, clipped to the window
        assert!((o.availability.unwrap() - 0.8).abs() < 1e-9);
        // a batch that began before the window counts only inside it
        let o = oee(&[batch(-2 * H, Some(2 * H), None)], 0, 10 * H, 0, &|_| None);
        assert!((o.availability.unwrap() - 0.2).abs() < 1e-9);
    }
}
