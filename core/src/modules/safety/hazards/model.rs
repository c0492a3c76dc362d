//! Dual prevention (双重预防机制): the risk register graded by LEC, inspection tasks on
//! cycles and their records, and hidden dangers (隐患) from report to closure.

use serde::{Deserialize, Serialize};

use crate::modules::safety::archive::model::FileMeta;

/// Risk level by the LEC product D = L × E × C: 重大 (red) > 320, 较大 (orange) 160–320,
/// 一般 (yellow) 70–160, 低 (blue) below 70.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Major,
    Large,
    General,
    Low,
}

impl RiskLevel {
    pub fn of(d: f64) -> RiskLevel {
        if d > 320.0 {
            RiskLevel::Major
        } else if d >= 160.0 {
            RiskLevel::Large
        } else if d >= 70.0 {
            RiskLevel::General
        } else {
            RiskLevel::Low
        }
    }
    pub fn colour(self) -> &'static str {
        match self {
            RiskLevel::Major => "red",
            RiskLevel::Large => "orange",
            RiskLevel::General => "yellow",
            RiskLevel::Low => "blue",
        }
    }
}

/// One line of the risk register: analysis object → unit → event → control measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Risk {
    pub id: u64,
    /// 分析对象 (a unit, a device, an operation).
    pub object: String,
    /// 分析单元
    pub unit: String,
    /// 风险事件 (fire, poisoning, fall…).
    pub event: String,
    /// 管控措施, one per entry.
    pub measures: Vec<String>,
    /// Likelihood (0.1–10), exposure (0.5–10), consequence (1–100).
    pub l: f64,
    pub e: f64,
    pub c: f64,
    /// 责任人
    #[serde(default)]
    pub owner: String,
}

impl Risk {
    pub fn d(&self) -> f64 {
        self.l * self.e * self.c
    }
    pub fn level(&self) -> RiskLevel {
        RiskLevel::of(self.d())
    }
}

/// How often an inspection task comes round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cycle {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Cycle {
    pub fn parse(s: &str) -> Option<Cycle> {
        match s {
            "hour" => Some(Cycle::Hour),
            "day" => Some(Cycle::Day),
            "week" => Some(Cycle::Week),
            "month" => Some(Cycle::Month),
            "year" => Some(Cycle::Year),
            _ => None,
        }
    }
    /// The period in ms (months as 30 days, years as 365).
    pub fn ms(self, every: u32) -> i64 {
        let unit: i64 = match self {
            Cycle::Hour => 3_600_000,
            Cycle::Day => 86_400_000,
            Cycle::Week => 7 * 86_400_000,
            Cycle::Month => 30 * 86_400_000,
            Cycle::Year => 365 * 86_400_000,
        };
        unit * every.max(1) as i64
    }
}

/// An inspection task (排查任务) on a risk, assigned to a person, on a cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    pub id: u64,
    pub risk: u64,
    pub name: String,
    pub cycle: Cycle,
    #[serde(default = "one")]
    pub every: u32,
    /// The user who inspects.
    pub assignee: u64,
    /// What to check; empty: the risk's control measures.
    #[serde(default)]
    pub items: Vec<String>,
    /// When the next inspection falls due.
    pub next_due_ms: i64,
}

fn one() -> u32 {
    1
}

/// One item's result in an inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemResult {
    pub item: String,
    /// None until checked.
    #[serde(default)]
    pub ok: Option<bool>,
    #[serde(default)]
    pub note: String,
}

/// An inspection the cycle generated: a checklist for the assignee, then its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Inspection {
    pub id: u64,
    pub task: u64,
    pub risk: u64,
    pub name: String,
    pub assignee: u64,
    pub due_ms: i64,
    pub items: Vec<ItemResult>,
    #[serde(default)]
    pub done_ms: Option<i64>,
    #[serde(default)]
    pub done_by: String,
    /// Hidden dangers reported from failed items.
    #[serde(default)]
    pub hazards: Vec<u64>,
}

/// 隐患级别
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HazardLevel {
    General,
    Major,
}

/// Where a hidden danger was found (隐患来源).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Daily,
    Comprehensive,
    Specialist,
    Seasonal,
    Holiday,
    AccidentAnalogy,
    BeforeRestart,
    Expert,
    ControlFailure,
    Other,
}

impl Source {
    pub const ALL: [Source; 10] = [
        Source::Daily,
        Source::Comprehensive,
        Source::Specialist,
        Source::Seasonal,
        Source::Holiday,
        Source::AccidentAnalogy,
        Source::BeforeRestart,
        Source::Expert,
        Source::ControlFailure,
        Source::Other,
    ];
    pub fn id(self) -> &'static str {
        match self {
            Source::Daily => "daily",
            Source::Comprehensive => "comprehensive",
            Source::Specialist => "specialist",
            Source::Seasonal => "seasonal",
            Source::Holiday => "holiday",
            Source::AccidentAnalogy => "accident_analogy",
            Source::BeforeRestart => "before_restart",
            Source::Expert => "expert",
            Source::ControlFailure => "control_failure",
            Source::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.id() == s)
    }
}

/// Where a hidden danger is in its workflow: 已上报 → 已指派 (整改中) → 待验收 → 已验收.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HazardState {
    Reported,
    Rectifying,
    PendingAcceptance,
    Closed,
}

impl HazardState {
    pub fn id(self) -> &'static str {
        match self {
            HazardState::Reported => "reported",
            HazardState::Rectifying => "rectifying",
            HazardState::PendingAcceptance => "pending_acceptance",
            HazardState::Closed => "closed",
        }
    }
}

/// A signed step of a hidden danger's workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Step {
    pub action: String,
    pub by: String,
    pub at_ms: i64,
    #[serde(default)]
    pub note: String,
}

/// A hidden danger (隐患).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hazard {
    pub id: u64,
    /// `YH-20261126-001`
    pub number: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub location: String,
    pub level: HazardLevel,
    pub source: Source,
    #[serde(default)]
    pub risk: Option<u64>,
    #[serde(default)]
    pub inspection: Option<u64>,
    pub state: HazardState,
    pub reported_by: String,
    pub reported_ms: i64,
    /// 整改责任人 (a user).
    #[serde(default)]
    pub assignee: Option<u64>,
    #[serde(default)]
    pub assignee_name: String,
    /// 整改期限 `YYYY-MM-DD`.
    #[serde(default)]
    pub deadline: Option<String>,
    /// 整改措施 as assigned.
    #[serde(default)]
    pub measures: String,
    #[serde(default)]
    pub photos_before: Vec<FileMeta>,
    #[serde(default)]
    pub photos_after: Vec<FileMeta>,
    #[serde(default)]
    pub closed_ms: Option<i64>,
    #[serde(default)]
    pub history: Vec<Step>,
}
