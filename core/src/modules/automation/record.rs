//! The electronic batch record, assembled when asked from what the box keeps (nothing is
//! copied at the batch's end, so the record cannot disagree with its sources): the batch and
//! its recipe version and download, phase times and each key tag's min / max / mean per
//! phase from the historian, the alarm journal during the batch in the unit's area, the
//! operator actions (tag writes on the unit's tags, batch and recipe actions) from the audit
//! log, the materials issued and the output lot from inventory, and the samples of that lot
//! from quality. Genealogy: the lots that went into the batches that made a lot, and the
//! batches (and their output lots) a lot went into.

use serde::Serialize;
use utoipa::ToSchema;

use super::batches::{self, Batch};
use super::recipes::{self, Download, Recipe};
use crate::app::App;
use crate::error::Result;
use crate::store::Reader;

/// One key tag's figures in one phase.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TagStat {
    pub tag: String,
    pub unit: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// Good samples the figures come from.
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PhaseRecord {
    pub name: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tags: Vec<TagStat>,
}

/// An alarm event during the batch.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AlarmLine {
    pub ts_ms: i64,
    pub kind: String,
    pub priority: String,
    pub tag: String,
    pub message_zh: String,
    pub message_en: String,
    pub user: Option<String>,
}

/// An operator action during the batch (from the audit log).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ActionLine {
    pub at_ms: i64,
    pub by: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Object)]
    pub after: Option<serde_json::Value>,
}

/// A material lot issued to the batch.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MaterialLine {
    pub movement: u64,
    pub at_ms: i64,
    pub material: String,
    pub name: String,
    pub lot: String,
    pub qty: f64,
    pub unit: String,
    pub by: String,
}

/// A sample of the output lot.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SampleLine {
    pub id: u64,
    pub number: String,
    pub state: String,
    pub taken_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BatchRecord {
    pub batch: Batch,
    pub recipe: Option<Recipe>,
    /// The last download of the batch's recipe to its unit before the batch ended.
    pub download: Option<Download>,
    pub phases: Vec<PhaseRecord>,
    pub alarms: Vec<AlarmLine>,
    pub actions: Vec<ActionLine>,
    pub materials: Vec<MaterialLine>,
    /// The output lot's quality state (released / held / rejected), when received.
    pub output_quality: Option<String>,
    pub samples: Vec<SampleLine>,
    pub yield_pct: Option<f64>,
    pub assembled_ms: i64,
}

/// How many alarm events and actions a record lists at most.
const MAX_LINES: usize = 5_000;

/// The key tags of a unit: its list, else every numeric tag whose equipment is the unit.
pub fn key_tags(app: &App, unit: &batches::Unit) -> Vec<std::sync::Arc<crate::tags::model::Tag>> {
    let defs = app.tags.defs();
    if unit.key_tags.is_empty() {
        defs.iter()
            .filter(|t| {
                t.equipment == unit.code && t.data_type != crate::tags::model::DataType::String
            })
            .cloned()
            .collect()
    } else {
        unit.key_tags
            .iter()
            .filter_map(|n| defs.by_name(n).cloned())
            .collect()
    }
}

/// The key parameters per phase: one read of each tag's history over the whole batch (from
/// an hour before its start, for the value in force then), folded into each phase's min /
/// max / mean.
pub fn phase_records(
    historian: &crate::historian::Historian,
    tags: &[std::sync::Arc<crate::tags::model::Tag>],
    runs: &[batches::PhaseRun],
    from: i64,
    to: i64,
) -> Result<Vec<PhaseRecord>> {
    let mut phases: Vec<PhaseRecord> = runs
        .iter()
        .map(|p| PhaseRecord {
            name: p.name.clone(),
            from_ms: p.from_ms,
            to_ms: p.to_ms.unwrap_or(to),
            tags: Vec::with_capacity(tags.len()),
        })
        .collect();
    let lookback = from - 3_600_000;
    for t in tags {
        let pieces = historian.pieces(t.id, lookback, to)?;
        for (ph, st) in phases.iter_mut().zip(fold_phases(runs, to, &pieces)) {
            ph.tags.push(TagStat {
                tag: t.name.clone(),
                unit: t.unit.clone(),
                min: st.map(|x| x.0),
                max: st.map(|x| x.1),
                mean: st.map(|x| x.2),
                count: st.map_or(0, |x| x.3),
            });
        }
    }
    Ok(phases)
}

/// [`batches::phase_stats`] over a tag's history as the historian keeps it: a chunk wholly
/// inside a phase adds its summary (min, max, sum, good count) without being decoded; only
/// chunks across a phase's start or end are decoded. Same figures, a fraction of the work.
pub fn fold_phases(
    runs: &[batches::PhaseRun],
    end_ms: i64,
    pieces: &[crate::historian::Piece],
) -> Vec<Option<(f64, f64, f64, u32)>> {
    use crate::historian::Piece;
    /// One phase's figures as they add up, and the value in force at its start.
    #[derive(Default)]
    struct Acc {
        lo: f64,
        hi: f64,
        sum: f64,
        n: u32,
        carry: Option<(i64, f64)>,
        on_start: bool,
    }
    impl Acc {
        fn add(&mut self, lo: f64, hi: f64, sum: f64, n: u32) {
            if n == 0 {
                return;
            }
            if self.n == 0 {
                (self.lo, self.hi) = (lo, hi);
            }
            self.lo = self.lo.min(lo);
            self.hi = self.hi.max(hi);
            self.sum += sum;
            self.n += n;
        }
        fn before(&mut self, ts: i64, v: f64) {
            if self.carry.is_none_or(|c| ts >= c.0) {
                self.carry = Some((ts, v));
            }
        }
        fn point(&mut self, from: i64, to: i64, ts: i64, v: f64) {
            if ts < from {
                self.before(ts, v);
            } else if ts < to {
                self.add(v, v, v, 1);
                self.on_start |= ts == from;
            }
        }
    }
    let good = |p: &crate::historian::codec::Point| {
        p.quality
            .is_good()
            .then(|| p.value.as_ref().and_then(|v| v.as_f64()))
            .flatten()
    };
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        let (from, to) = (r.from_ms, r.to_ms.unwrap_or(end_ms));
        let mut acc = Acc::default();
        for piece in pieces {
            match piece {
                Piece::Chunk(h, _) if !h.late && !h.text && h.first_ts >= to => {}
                Piece::Chunk(h, _) if !h.late && !h.text && h.last_ts < from => {
                    if h.good > 0 {
                        acc.before(h.last_ts, h.last);
                    }
                }
                Piece::Chunk(h, _)
                    if !h.late && !h.text && h.first_ts >= from && h.last_ts < to =>
                {
                    acc.add(h.min, h.max, h.sum, h.good);
                    acc.on_start |= h.first_ts == from;
                }
                Piece::Chunk(_, bytes) => {
                    for p in crate::historian::codec::decode(bytes).unwrap_or_default() {
                        if let Some(v) = good(&p) {
                            acc.point(from, to, p.ts_ms, v);
                        }
                    }
                }
                Piece::Points(v) => {
                    for p in v {
                        if let Some(x) = good(p) {
                            acc.point(from, to, p.ts_ms, x);
                        }
                    }
                }
            }
        }
        if !acc.on_start
            && let Some((_, v)) = acc.carry
        {
            acc.add(v, v, v, 1);
        }
        out.push((acc.n > 0).then(|| (acc.lo, acc.hi, acc.sum / f64::from(acc.n), acc.n)));
    }
    out
}

/// Assembles batch `id`'s record.
pub fn assemble(app: &App, id: u64) -> Result<BatchRecord> {
    let now = crate::util::now_ms();
    let r = app.store.read()?;
    let b = batches::batch(&r, id)?;
    let (from, to) = b.window(now);
    let unit = batches::unit(&r, &b.unit).ok();
    let recipe = match &b.recipe {
        Some(x) => Some(recipes::recipe(&r, x.id)?),
        None => None,
    };
    let download = recipe.as_ref().and_then(|rc| {
        recipes::downloads(&r, Some(&rc.code), 200)
            .ok()?
            .into_iter()
            .find(|d| d.recipe == rc.id && d.unit == b.unit && d.at_ms <= to)
    });

    let tags = unit.as_ref().map(|u| key_tags(app, u)).unwrap_or_default();
    let phases = phase_records(&app.historian, &tags, &b.phases, from, to)?;

    // alarms in the unit's area (or on its tags) while it ran
    let names: std::collections::HashSet<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    let area = unit.as_ref().map(|u| u.area.clone()).unwrap_or_default();
    let q = crate::alarms::service::JournalQuery {
        from_ms: Some(from),
        to_ms: Some(to),
        ..Default::default()
    };
    let mut alarms: Vec<AlarmLine> = crate::alarms::service::journal(&r, &q, MAX_LINES)?
        .into_iter()
        .filter(|e| names.contains(e.tag.as_str()) || (!area.is_empty() && e.area == area))
        .map(|e| AlarmLine {
            ts_ms: e.ts_ms,
            kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            priority: e.priority.id().to_string(),
            tag: e.tag,
            message_zh: e.message_zh,
            message_en: e.message_en,
            user: e.user,
        })
        .collect();
    alarms.reverse();

    // operator actions: writes to the unit's tags, the batch's own actions, recipe downloads
    let unit_tags: std::collections::HashSet<String> = app
        .tags
        .defs()
        .iter()
        .filter(|t| {
            t.equipment == b.unit
                || names.contains(t.name.as_str())
                || recipe
                    .as_ref()
                    .is_some_and(|rc| rc.params.iter().any(|p| p.tag_id == t.id))
        })
        .map(|t| format!("tag:{} {}", t.id, t.name))
        .collect();
    // the batch's own end is audited as its transaction commits, a moment after `to`
    let aq = crate::store::audit::Query {
        from_ms: Some(from),
        to_ms: Some(to + 60_000),
        ..Default::default()
    };
    let batch_target = format!("batch:{}", b.number);
    let mut actions: Vec<ActionLine> = crate::store::audit::search(&r, &aq, MAX_LINES * 4)?
        .into_iter()
        .filter(|e| {
            (e.action.starts_with("tags.tag.write")
                && e.at_ms <= to
                && unit_tags.contains(&e.target))
                || (e.action.starts_with("automation.batch.")
                    && e.target.starts_with(&batch_target))
                || (e.action == "automation.recipe.download"
                    && e.at_ms <= to
                    && e.target.ends_with(&format!("→ {}", b.unit)))
        })
        .take(MAX_LINES)
        .map(|e| ActionLine {
            at_ms: e.at_ms,
            by: e.actor.label(),
            action: e.action,
            target: e.target,
            before: e.before,
            after: e.after,
        })
        .collect();
    actions.reverse();

    // materials issued and the output lot, from inventory; its samples, from quality
    let mut materials = Vec::new();
    for m in &b.issues {
        let mv = crate::modules::inventory::service::movement(&r, *m)?;
        let lot = crate::modules::inventory::service::lot(&r, mv.lot)?;
        let mat = crate::modules::inventory::service::material(&r, mv.material)?;
        materials.push(MaterialLine {
            movement: mv.id,
            at_ms: mv.ts_ms,
            material: mat.code,
            name: mat.name,
            lot: lot.number,
            // material returned from the batch counts against what it was issued
            qty: if mv.kind == crate::modules::inventory::model::MoveKind::Return {
                -mv.qty
            } else {
                mv.qty
            },
            unit: mat.base_unit,
            by: mv.by,
        });
    }
    // samples: those taken for the batch (in-process and of its output) and any other of
    // the output lot (goods-in on receipt, a retest)
    let mut found = Vec::new();
    for id in &b.samples {
        found.push(crate::modules::quality::service::sample(&r, *id)?);
    }
    let mut output_quality = None;
    if let Some(o) = &b.output {
        let lot = crate::modules::inventory::service::lot(&r, o.lot)?;
        output_quality = serde_json::to_value(lot.quality)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        for s in crate::modules::quality::service::lot_samples(&r, o.lot)? {
            if !found.iter().any(|x| x.id == s.id) {
                found.push(s);
            }
        }
    }
    found.sort_by_key(|s| s.taken_ms);
    let samples = found
        .into_iter()
        .map(|s| SampleLine {
            id: s.id,
            number: s.number,
            state: s.state.id().to_string(),
            taken_ms: s.taken_ms,
        })
        .collect();
    Ok(BatchRecord {
        yield_pct: b.yield_pct(),
        batch: b,
        recipe,
        download,
        phases,
        alarms,
        actions,
        materials,
        output_quality,
        samples,
        assembled_ms: now,
    })
}

/// One step of a lot's genealogy.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GenealogyLine {
    pub batch: u64,
    pub number: String,
    pub unit: String,
    pub product: String,
    /// The lots issued to the batch (material code, lot number).
    pub lots_in: Vec<(String, String)>,
    /// The lot the batch made.
    pub lot_out: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Genealogy {
    pub lot: String,
    /// Batches that made this lot (backwards: where it came from).
    pub made_by: Vec<GenealogyLine>,
    /// Batches this lot went into (forwards: where it went).
    pub used_in: Vec<GenealogyLine>,
}

/// A lot number's genealogy, both ways (lot numbers are unique per material: a number
/// shared by two materials' lots finds both).
pub fn genealogy(r: &impl Reader, lot_number: &str) -> Result<Genealogy> {
    let lot_number = lot_number.trim();
    let mut made_by = Vec::new();
    let mut used_in = Vec::new();
    for b in batches::batches(r)? {
        let mut lots_in = Vec::new();
        for m in &b.issues {
            let mv = crate::modules::inventory::service::movement(r, *m)?;
            let lot = crate::modules::inventory::service::lot(r, mv.lot)?;
            let mat = crate::modules::inventory::service::material(r, mv.material)?;
            lots_in.push((mat.code, lot.number));
        }
        let line = GenealogyLine {
            batch: b.id,
            number: b.number.clone(),
            unit: b.unit.clone(),
            product: b.product.clone(),
            lot_out: b.output.as_ref().map(|o| o.lot_number.clone()),
            lots_in,
        };
        if line.lot_out.as_deref() == Some(lot_number) {
            made_by.push(line.clone());
        }
        if line.lots_in.iter().any(|(_, l)| l == lot_number) {
            used_in.push(line);
        }
    }
    Ok(Genealogy {
        lot: lot_number.to_string(),
        made_by,
        used_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::historian::Historian;
    use crate::tags::engine::{Engine, Sink};
    use crate::tags::model::{DataType, Quality, Reason, Sample, Source, Value};
    use std::sync::Arc;

    #[test]
    fn summaries_of_whole_chunks_give_the_figures_of_every_sample() {
        let (_d, store) = crate::store::tests::temp_store();
        let mut t = crate::tags::service::blank_tag("R101.TT101", DataType::Float, Source::Manual);
        t.id = 1;
        t.resolution = 0.01;
        let engine = Arc::new(Engine::new(vec![t]));
        let h = Historian::open(Arc::new(store), engine).unwrap();
        let t0 = 1_796_300_000_000i64;
        // three hours at 1 Hz, a bad stretch in the middle, then a value held unchanged
        for s in 0..10_800i64 {
            let bad = (4_000..4_100).contains(&s);
            h.accept(&[Sample {
                tag: 1,
                ts_ms: t0 + s * 1000,
                value: Some(Value::Float(50.0 + 20.0 * (s as f64 / 300.0).sin())),
                quality: if bad {
                    Quality::Bad(Reason::CommFailure)
                } else {
                    Quality::Good
                },
            }]);
            if s % 600 == 599 {
                h.flush().unwrap();
            }
        }
        h.flush().unwrap();
        let run = |from: i64, to: Option<i64>| batches::PhaseRun {
            name: String::new(),
            from_ms: t0 + from * 1000,
            to_ms: to.map(|x| t0 + x * 1000),
        };
        // boundaries inside chunks, on a chunk's start (15 min), across the bad stretch, and
        // a phase after the last sample (the held value carried in)
        let runs = vec![
            run(0, Some(123)),
            run(123, Some(900)),
            run(900, Some(3_999)),
            run(3_999, Some(7_777)),
            run(7_777, Some(10_800)),
            run(10_800, None),
        ];
        let end = t0 + 11_000 * 1000;
        let raw: Vec<(i64, f64)> = h
            .raw(1, t0 - 3_600_000, end)
            .unwrap()
            .into_iter()
            .filter(|p| p.quality.is_good())
            .filter_map(|p| Some((p.ts_ms, p.value?.as_f64()?)))
            .collect();
        let want = batches::phase_stats(&runs, end, &raw);
        let got = fold_phases(&runs, end, &h.pieces(1, t0 - 3_600_000, end).unwrap());
        assert_eq!(want.len(), got.len());
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            let (w, g) = (w.unwrap(), g.unwrap());
            assert_eq!((w.0, w.1, w.3), (g.0, g.1, g.3), "phase {i}");
            assert!((w.2 - g.2).abs() < 1e-6, "phase {i}: {w:?} {g:?}");
        }
        assert_eq!(
            got[5].unwrap().3,
            1,
            "after the last sample: the value in force"
        );
    }
}
