//! Records of 质量管理: test items (with their formulas), sampling points, specifications,
//! samples with their results, and nonconformance reports.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rules::{Compare, Limits, Verdict};

/// What kind of result an item takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A measured or computed number.
    #[default]
    Number,
    /// A description (appearance, odour), judged against the expected text.
    Text,
    /// Pass / fail by the analyst.
    PassFail,
}

/// A test item (检验项目): what is measured, how, and how it is rounded. An item with a
/// formula is computed from other items of the same sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TestItem {
    /// Assigned; send 0 to create.
    pub id: u64,
    /// Referenced by formulas: a letter or `_`, then letters, digits, `_` (`AV`, `V0`).
    pub keyword: String,
    pub name: String,
    #[serde(default)]
    pub unit: String,
    /// The method standard (`GB/T 2895-2008`).
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub kind: ItemKind,
    /// Decimals kept when rounding by GB/T 8170 (negative: tens, hundreds…).
    #[serde(default = "two")]
    pub decimals: i32,
    /// Results outside [low, high] are refused as implausible (a typo, a wrong unit).
    #[serde(default)]
    pub plausible_low: Option<f64>,
    #[serde(default)]
    pub plausible_high: Option<f64>,
    /// The formula computing it from other items' keywords (`(V - V0) * c * 56.1 / m`);
    /// empty: entered. Each change is a new version (see [`FormulaVersion`]).
    #[serde(default)]
    pub formula: String,
    #[serde(default)]
    pub formula_version: u32,
    #[serde(default = "yes")]
    pub active: bool,
}

fn two() -> i32 {
    2
}
fn yes() -> bool {
    true
}

/// One version of an item's formula, kept for the record (who changed it and when).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FormulaVersion {
    pub item: u64,
    pub version: u32,
    /// Empty when the formula was removed.
    pub source: String,
    pub by: String,
    pub at_ms: i64,
}

/// Where samples are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 原料进厂: the incoming sample of a receipt.
    Receipt,
    /// 中间控制: in process, per unit, on a schedule.
    Intermediate,
    /// 成品: the finished product's release sample.
    Finished,
}

/// A sampling point (取样点).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SamplingPoint {
    pub id: u64,
    /// Unique, e.g. `SP-RM`.
    pub code: String,
    pub name: String,
    pub stage: Stage,
    /// The process unit (`R-101`) for intermediates.
    #[serde(default)]
    pub unit: String,
    /// For intermediates: a sample every so many hours (0: by hand only).
    #[serde(default)]
    pub every_hours: u32,
    /// The material sampled on the schedule (intermediates).
    #[serde(default)]
    pub material: Option<u64>,
}

/// One line of a specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SpecLine {
    pub item: u64,
    #[serde(flatten)]
    pub limits: Limits,
}

/// A specification (质量标准) of a material and grade at a stage, optionally a customer's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Spec {
    /// Assigned; 0 or absent to create.
    #[serde(default)]
    pub id: u64,
    /// The inventory material it applies to.
    pub material: u64,
    /// 牌号 / grade (`优等品`, `合格品`); empty: the only grade.
    #[serde(default)]
    pub grade: String,
    /// A customer's own specification (a partner id), printed on their CoA.
    #[serde(default)]
    pub customer: Option<u64>,
    pub stage: Stage,
    /// How results are compared with the limits (GB/T 8170).
    #[serde(default)]
    pub compare: Compare,
    pub lines: Vec<SpecLine>,
    /// The standard it follows (`GB/T 2895`, `Q/LX 001-2025`).
    #[serde(default)]
    pub standard: String,
    /// Assigned: 1 when created, one more at each change. Every version is kept, and a
    /// sample is judged by the version in force when it was taken.
    #[serde(default)]
    pub version: u32,
}

/// Where a sample stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SampleState {
    /// Taken, results not complete.
    #[default]
    Pending,
    /// Every item passed; waits for release.
    Passed,
    /// An item failed; waits for a decision (retest, reject, concession).
    Failed,
    /// Released: its lot may be used and shipped.
    Released,
    /// Rejected: its lot is 不合格 (scrap or return only).
    Rejected,
    /// Released on concession (让步接收) despite a failure, by someone with approve grant.
    Concession,
    /// Replaced by a retest sample.
    Retested,
}

impl SampleState {
    pub fn id(self) -> &'static str {
        match self {
            SampleState::Pending => "pending",
            SampleState::Passed => "passed",
            SampleState::Failed => "failed",
            SampleState::Released => "released",
            SampleState::Rejected => "rejected",
            SampleState::Concession => "concession",
            SampleState::Retested => "retested",
        }
    }

    /// Decided: results may no longer change.
    pub fn closed(self) -> bool {
        matches!(
            self,
            SampleState::Released
                | SampleState::Rejected
                | SampleState::Concession
                | SampleState::Retested
        )
    }
}

/// Where a sample came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    /// Created by hand.
    Manual,
    /// The incoming sample of an inventory receipt (movement id).
    Receipt { movement: u64 },
    /// The schedule of a sampling point.
    Schedule,
    /// A retest of an earlier sample.
    Retest { of: u64 },
    /// A production batch (automation module).
    Batch { batch: u64 },
}

/// One result of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultLine {
    pub item: u64,
    /// Numeric results (entered or computed).
    #[serde(default)]
    pub value: Option<f64>,
    /// Text results, or `pass` / `fail`.
    #[serde(default)]
    pub text: String,
    /// Computed by the item's formula (version).
    #[serde(default)]
    pub formula_version: Option<u32>,
    /// Why a computed result has no value (a division by zero, an input missing).
    #[serde(default)]
    pub error: String,
    pub verdict: Verdict,
    #[serde(default)]
    pub by: String,
    #[serde(default)]
    pub at_ms: i64,
    /// Earlier results of the item on this sample, oldest first: a correction keeps what
    /// it replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Amended>,
}

/// A result replaced by a correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Amended {
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub text: String,
    pub by: String,
    pub at_ms: i64,
}

impl ResultLine {
    /// A line waiting for its result.
    pub fn empty(item: u64) -> ResultLine {
        ResultLine {
            item,
            value: None,
            text: String::new(),
            formula_version: None,
            error: String::new(),
            verdict: Verdict::Pending,
            by: String::new(),
            at_ms: 0,
            history: Vec::new(),
        }
    }
}

/// A sample (样品) of a lot at a sampling point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Sample {
    pub id: u64,
    /// `QC-<year>-<000001>`, printed on the label.
    pub number: String,
    pub material: u64,
    /// The inventory lot it stands for (none for an in-process sample).
    #[serde(default)]
    pub lot: Option<u64>,
    pub point: u64,
    /// The specification it is judged against (none: no specification set — it cannot
    /// pass until one is).
    #[serde(default)]
    pub spec: Option<u64>,
    /// The specification's version in force when the sample was taken: the one it is
    /// judged by, whatever changes later.
    #[serde(default)]
    pub spec_version: Option<u32>,
    pub origin: Origin,
    pub taken_ms: i64,
    #[serde(default)]
    pub sampler: String,
    pub state: SampleState,
    /// Every item of the specification, plus anything else entered.
    pub results: Vec<ResultLine>,
    /// The overall verdict of the results.
    pub verdict: Verdict,
    /// The decision (release, reject, concession): who, when, why.
    #[serde(default)]
    pub decided_by: String,
    #[serde(default)]
    pub decided_ms: Option<i64>,
    #[serde(default)]
    pub comment: String,
    /// The retest that replaced it.
    #[serde(default)]
    pub retest: Option<u64>,
    /// Quality put the lot on hold for this sample (or the one it retests, or the receipt's
    /// incoming inspection): only then does its release release the lot — a hold placed
    /// for another reason (a complaint) stays.
    #[serde(default)]
    pub holds_lot: bool,
}

/// What is done with nonconforming product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// 返工
    Rework,
    /// 降级
    Downgrade,
    /// 报废
    Scrap,
    /// 让步接收
    Concession,
    /// 退货
    Return,
    /// 复检合格: the retest (加倍复检) passed and the lot was released on it.
    Retested,
}

/// A nonconformance report (不合格品处置单), opened when a sample fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Nonconformance {
    pub id: u64,
    pub sample: u64,
    #[serde(default)]
    pub lot: Option<u64>,
    pub material: u64,
    pub opened_ms: i64,
    /// The failed items, as text (`AV 6.2 > 5.0`).
    pub finding: String,
    #[serde(default)]
    pub cause: String,
    #[serde(default)]
    pub disposition: Option<Disposition>,
    #[serde(default)]
    pub corrective_action: String,
    #[serde(default)]
    pub closed_by: String,
    #[serde(default)]
    pub closed_ms: Option<i64>,
}
