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

use super::batches::{self, Batch, phase_stats};
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
        let points: Vec<(i64, f64)> = historian
            .raw(t.id, lookback, to)?
            .into_iter()
            .filter(|p| p.quality.is_good())
            .filter_map(|p| Some((p.ts_ms, p.value?.as_f64()?)))
            .collect();
        for (ph, st) in phases.iter_mut().zip(phase_stats(runs, to, &points)) {
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
            .find(|d| d.unit == b.unit && d.at_ms <= to)
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
        .filter(|t| t.equipment == b.unit || names.contains(t.name.as_str()))
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
            qty: mv.qty,
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
