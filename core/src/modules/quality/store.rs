//! Tables of 质量管理. Only `service` reads or writes them; other modules call the service.

use super::model::{FormulaVersion, Nonconformance, Sample, SamplingPoint, Spec, TestItem};
use crate::store::Table;

pub(super) const ITEMS: Table<u64, TestItem> = Table::new("quality.items");
/// Unique codes: `k:<keyword>` → item, `p:<point code>` → sampling point,
/// `n:<sample number>` → sample.
pub(super) const CODES: Table<String, u64> = Table::new("quality.codes");
/// Every version of every formula: (item, version).
pub(super) const FORMULAS: Table<(u64, u64), FormulaVersion> = Table::new("quality.formulas");
pub(super) const POINTS: Table<u64, SamplingPoint> = Table::new("quality.points");
pub(super) const SPECS: Table<u64, Spec> = Table::new("quality.specs");
/// Every version of every specification: (spec, version).
pub(super) const SPEC_VERSIONS: Table<(u64, u64), Spec> = Table::new("quality.spec_versions");
pub(super) const SAMPLES: Table<u64, Sample> = Table::new("quality.samples");
/// Samples by lot: (lot, sample).
pub(super) const BY_LOT: Table<(u64, u64), ()> = Table::new("quality.by_lot");
/// The incoming sample of each receipt: movement → sample (a receipt opens one at most).
pub(super) const BY_RECEIPT: Table<u64, u64> = Table::new("quality.by_receipt");
/// Results for SPC: (item, material, taken ms, sample) → value.
pub(super) const SERIES: Table<(u64, u64, u64, u64), f64> = Table::new("quality.series");
pub(super) const NCRS: Table<u64, Nonconformance> = Table::new("quality.ncrs");
/// Per-year sample number sequence: year → last number.
pub(super) const SEQ: Table<u64, u64> = Table::new("quality.seq");
