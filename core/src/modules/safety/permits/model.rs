//! Special work permits (八大特殊作业票) as records: the form of GB 30871-2022 Annex A per
//! type, the stage of the permit's life cycle, and the signatures that moved it.
//!
//! Times are UTC milliseconds; the rules (`permits.rs`) see them in the plant's local time.

use serde::{Deserialize, Serialize};

use super::rules::{HotLevel, WorkType};

impl WorkType {
    pub const ALL: [WorkType; 8] = [
        WorkType::HotWork,
        WorkType::ConfinedSpace,
        WorkType::Blinding,
        WorkType::Height,
        WorkType::Lifting,
        WorkType::TemporaryPower,
        WorkType::Excavation,
        WorkType::RoadBreak,
    ];

    pub fn id(self) -> &'static str {
        match self {
            WorkType::HotWork => "hot_work",
            WorkType::ConfinedSpace => "confined_space",
            WorkType::Blinding => "blinding",
            WorkType::Height => "height",
            WorkType::Lifting => "lifting",
            WorkType::TemporaryPower => "temporary_power",
            WorkType::Excavation => "excavation",
            WorkType::RoadBreak => "road_break",
        }
    }

    pub fn parse(s: &str) -> Option<WorkType> {
        WorkType::ALL.into_iter().find(|w| w.id() == s)
    }

    /// Permit numbers start with the pinyin initials of the type, as plants print them.
    pub fn prefix(self) -> &'static str {
        match self {
            WorkType::HotWork => "DH",
            WorkType::ConfinedSpace => "SX",
            WorkType::Blinding => "MB",
            WorkType::Height => "GC",
            WorkType::Lifting => "DZ",
            WorkType::TemporaryPower => "LD",
            WorkType::Excavation => "DT",
            WorkType::RoadBreak => "DL",
        }
    }

    /// The levels a type has, most dangerous first (ids as in chain keys).
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            WorkType::HotWork => &["special", "first", "second"],
            WorkType::Height => &["iv", "iii", "ii", "i"],
            WorkType::Lifting => &["first", "second", "third"],
            _ => &[],
        }
    }
}

impl HotLevel {
    pub fn id(self) -> &'static str {
        match self {
            HotLevel::Special => "special",
            HotLevel::First => "first",
            HotLevel::Second => "second",
        }
    }
    pub fn parse(s: &str) -> Option<HotLevel> {
        [HotLevel::Special, HotLevel::First, HotLevel::Second]
            .into_iter()
            .find(|l| l.id() == s)
    }
}

/// A signing duty (签批职责) a safety admin gives a person: who may apply, analyse gas,
/// watch over the work, and sign which approval step. Annex B names the approvers.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// 作业申请人 / 作业负责人
    Applicant,
    /// 气体分析人
    Analyst,
    /// 监护人
    Guardian,
    /// 所在基层单位负责人
    Unit,
    /// 专业部门 (equipment, process, electrical…)
    Specialist,
    /// 安全管理部门
    SafetyDept,
    /// 主管领导 / 主管厂长 / 总工程师
    Leader,
    /// 配送电单位
    PowerUnit,
    /// 消防 (countersigns road breaks)
    Fire,
    /// 水、电、汽、工艺、设备 countersign (excavation)
    Utilities,
}

impl Duty {
    pub const ALL: [Duty; 10] = [
        Duty::Applicant,
        Duty::Analyst,
        Duty::Guardian,
        Duty::Unit,
        Duty::Specialist,
        Duty::SafetyDept,
        Duty::Leader,
        Duty::PowerUnit,
        Duty::Fire,
        Duty::Utilities,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Duty::Applicant => "applicant",
            Duty::Analyst => "analyst",
            Duty::Guardian => "guardian",
            Duty::Unit => "unit",
            Duty::Specialist => "specialist",
            Duty::SafetyDept => "safety_dept",
            Duty::Leader => "leader",
            Duty::PowerUnit => "power_unit",
            Duty::Fire => "fire",
            Duty::Utilities => "utilities",
        }
    }

    pub fn parse(s: &str) -> Option<Duty> {
        Duty::ALL.into_iter().find(|d| d.id() == s.trim())
    }

    pub fn key(self) -> &'static str {
        match self {
            Duty::Applicant => "safety.duty.applicant",
            Duty::Analyst => "safety.duty.analyst",
            Duty::Guardian => "safety.duty.guardian",
            Duty::Unit => "safety.duty.unit",
            Duty::Specialist => "safety.duty.specialist",
            Duty::SafetyDept => "safety.duty.safety_dept",
            Duty::Leader => "safety.duty.leader",
            Duty::PowerUnit => "safety.duty.power_unit",
            Duty::Fire => "safety.duty.fire",
            Duty::Utilities => "safety.duty.utilities",
        }
    }

    /// Duties that may sign approval steps (the others are roles in the work itself).
    pub fn approves(self) -> bool {
        !matches!(self, Duty::Applicant | Duty::Analyst | Duty::Guardian)
    }
}

/// Where a permit is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Being filled in by the applicant.
    Draft,
    /// Risk identification and safety measures being confirmed.
    Measures,
    /// Waiting for a passing gas analysis.
    GasAnalysis,
    /// Signed step by step along the approval chain.
    Approval,
    /// Approved; the briefing (安全交底) and the guardian's start are next.
    Briefing,
    Working,
    Suspended,
    /// Work finished; waiting for the completion acceptance.
    Acceptance,
    Closed,
    /// Given up before work began.
    Cancelled,
    /// Stopped during work (the guardian left, conditions changed).
    Withdrawn,
}

impl Stage {
    pub const ALL: [Stage; 11] = [
        Stage::Draft,
        Stage::Measures,
        Stage::GasAnalysis,
        Stage::Approval,
        Stage::Briefing,
        Stage::Working,
        Stage::Suspended,
        Stage::Acceptance,
        Stage::Closed,
        Stage::Cancelled,
        Stage::Withdrawn,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Stage::Draft => "draft",
            Stage::Measures => "measures",
            Stage::GasAnalysis => "gas_analysis",
            Stage::Approval => "approval",
            Stage::Briefing => "briefing",
            Stage::Working => "working",
            Stage::Suspended => "suspended",
            Stage::Acceptance => "acceptance",
            Stage::Closed => "closed",
            Stage::Cancelled => "cancelled",
            Stage::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|x| x.id() == s)
    }

    /// No further action is possible.
    pub fn is_final(self) -> bool {
        matches!(self, Stage::Closed | Stage::Cancelled | Stage::Withdrawn)
    }

    /// Work is going on (or paused) at the site.
    pub fn on_site(self) -> bool {
        matches!(self, Stage::Working | Stage::Suspended)
    }
}

/// 盲板抽堵: inserting (堵) or removing (抽) a blind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlindAction {
    Insert,
    Remove,
}

/// The type-specific part of the Annex A form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Details {
    HotWork {
        /// The level assessed from the place and the hazard; the permit may carry a higher one.
        assessed: HotLevel,
        /// 动火方式: welding, cutting, grinding…
        method: String,
        /// Lower explosive limit of the medium, % vol (decides the combustible limit).
        lel_pct: f64,
        /// In oxygen service: the oxygen content is checked too.
        #[serde(default)]
        oxygen_service: bool,
        /// Inside a vessel (confined space), its tag; empty outdoors.
        #[serde(default)]
        space: String,
        /// Beaufort force forecast for the period.
        #[serde(default)]
        wind_force: u8,
    },
    ConfinedSpace {
        /// 受限空间名称 / vessel tag.
        space: String,
        /// 原有介质
        medium: String,
        /// Lower explosive limit of the medium, % vol (decides the combustible limit).
        #[serde(default = "default_lel")]
        lel_pct: f64,
        /// Oxygen-enriched air used (O2 up to 23.5 %).
        #[serde(default)]
        enriched: bool,
        /// Painting or coating inside (may not overlap hot work in the same space).
        #[serde(default)]
        painting: bool,
        /// Toxic gas to check, its occupational limit (GBZ 2.1), e.g. H2S 10 mg/m³.
        #[serde(default)]
        toxic_name: String,
        #[serde(default)]
        toxic_limit: Option<f64>,
    },
    Blinding {
        /// 管道名称 / line number.
        line: String,
        medium: String,
        #[serde(default)]
        temperature_c: Option<f64>,
        #[serde(default)]
        pressure_mpa: Option<f64>,
        /// 盲板材质、规格
        blind_spec: String,
        /// 盲板编号 (one permit per blind per action).
        blind_number: String,
        action: BlindAction,
    },
    Height {
        height_m: f64,
        /// Objective hazard factors (wind, ≤ 5 °C, night, rain, live conductors…).
        #[serde(default)]
        hazard_factors: bool,
        #[serde(default)]
        wind_force: u8,
    },
    Lifting {
        load_t: f64,
        /// 吊具名称
        tool: String,
        #[serde(default)]
        outdoor: bool,
        #[serde(default)]
        wind_force: u8,
    },
    TemporaryPower {
        /// 电源接入点
        connection_point: String,
        voltage_v: f64,
        power_kw: f64,
        /// The hot-work or confined-space permit this power serves (its validity then binds).
        #[serde(default)]
        serves: Option<u64>,
    },
    Excavation {
        depth_m: f64,
        /// 作业范围 / area description.
        area: String,
        /// In a hazardous area: deeper than 1.2 m it follows confined-space rules.
        #[serde(default)]
        hazardous_area: bool,
    },
    RoadBreak {
        road_section: String,
        reason: String,
        /// 交通组织 / detour.
        detour: String,
    },
}

fn default_lel() -> f64 {
    4.0
}

impl Details {
    pub fn work(&self) -> WorkType {
        match self {
            Details::HotWork { .. } => WorkType::HotWork,
            Details::ConfinedSpace { .. } => WorkType::ConfinedSpace,
            Details::Blinding { .. } => WorkType::Blinding,
            Details::Height { .. } => WorkType::Height,
            Details::Lifting { .. } => WorkType::Lifting,
            Details::TemporaryPower { .. } => WorkType::TemporaryPower,
            Details::Excavation { .. } => WorkType::Excavation,
            Details::RoadBreak { .. } => WorkType::RoadBreak,
        }
    }

    /// Whether a passing gas analysis is needed before approval and start: hot work,
    /// confined space, and excavation deeper than 1.2 m in a hazardous area.
    pub fn needs_gas(&self) -> bool {
        match self {
            Details::HotWork { .. } | Details::ConfinedSpace { .. } => true,
            Details::Excavation {
                depth_m,
                hazardous_area,
                ..
            } => *hazardous_area && *depth_m > 1.2,
            _ => false,
        }
    }
}

/// A person doing the work, with the number of their special-operation certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Worker {
    pub name: String,
    #[serde(default)]
    pub cert: String,
}

/// One safety measure of the checklist (安全措施确认).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Measure {
    pub text: String,
    /// Set when the measures are confirmed: whether it applies to this job.
    #[serde(default)]
    pub applies: Option<bool>,
    /// Who confirmed it (name), for applicable measures.
    #[serde(default)]
    pub confirmed_by: String,
}

/// One gas analysis (气体分析).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GasReading {
    /// When the sample was taken.
    pub sampled_ms: i64,
    /// 取样点
    pub point: String,
    /// Combustible gas, % vol.
    #[serde(default)]
    pub combustible_pct: Option<f64>,
    /// Oxygen, % vol.
    #[serde(default)]
    pub o2_pct: Option<f64>,
    /// Toxic gas reading in the unit of the permit's limit.
    #[serde(default)]
    pub toxic_value: Option<f64>,
    pub analyst_id: u64,
    pub analyst: String,
    pub recorded_ms: i64,
}

/// A signed, time-stamped action. `digest` chains it to the permit's previous signature
/// (SHA-256 over that digest and this action's content), so a later edit of the record shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signature {
    pub action: Action,
    /// The duty signed under (approvals, analyses, guardian actions).
    #[serde(default)]
    pub duty: Option<Duty>,
    pub user_id: u64,
    pub username: String,
    pub name: String,
    pub at_ms: i64,
    #[serde(default)]
    pub note: String,
    pub digest: String,
}

/// What a user can do to a permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Draft → measures: the form is complete and passes the rules.
    Submit,
    /// Measures → gas analysis / approval: risks identified, checklist confirmed.
    ConfirmMeasures,
    /// Record a gas analysis (before approval, before start, before resuming, during work).
    Gas,
    /// Sign the next approval step.
    Approve,
    /// Send back to draft with a reason.
    Reject,
    /// Record the safety briefing (安全交底) and who received it.
    Brief,
    /// The guardian starts the work.
    Start,
    Suspend,
    Resume,
    /// The work is done; acceptance is next.
    Finish,
    /// Completion acceptance (完工验收): the permit closes.
    Accept,
    Cancel,
    Withdraw,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Submit,
        Action::ConfirmMeasures,
        Action::Gas,
        Action::Approve,
        Action::Reject,
        Action::Brief,
        Action::Start,
        Action::Suspend,
        Action::Resume,
        Action::Finish,
        Action::Accept,
        Action::Cancel,
        Action::Withdraw,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::ConfirmMeasures => "confirm_measures",
            Action::Gas => "gas",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Brief => "brief",
            Action::Start => "start",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Finish => "finish",
            Action::Accept => "accept",
            Action::Cancel => "cancel",
            Action::Withdraw => "withdraw",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.id() == s)
    }
}

/// The briefing (安全交底): who gave it and who received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Briefing {
    pub giver: String,
    pub receivers: Vec<String>,
    pub at_ms: i64,
}

/// A special work permit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Permit {
    pub id: u64,
    /// `DH-20261126-003`: type prefix, day of application, sequence of that day.
    pub number: String,
    pub details: Details,
    /// The level the permit carries (`special`, `iii`, …), computed from the details and
    /// the period; none for types without levels.
    #[serde(default)]
    pub level: Option<String>,
    /// The hot-work level was raised from the assessed one (day off, night, wind).
    #[serde(default)]
    pub upgraded: bool,
    pub stage: Stage,
    /// 申请单位
    pub applicant_unit: String,
    pub applicant_id: u64,
    pub applicant: String,
    /// 作业内容
    pub content: String,
    /// 作业地点
    pub location: String,
    /// Position on the plant map, metres from its origin.
    pub x: f64,
    pub y: f64,
    /// 作业单位
    pub work_unit: String,
    /// 作业负责人
    pub leader: String,
    pub workers: Vec<Worker>,
    /// 监护人: a user with the guardian duty, who signs the start.
    #[serde(default)]
    pub guardian_id: Option<u64>,
    #[serde(default)]
    pub guardian: String,
    /// Other permits of the same job (关联作业票).
    #[serde(default)]
    pub linked: Vec<u64>,
    /// 危害辨识: one hazard per line.
    #[serde(default)]
    pub risks: String,
    pub checklist: Vec<Measure>,
    pub from_ms: i64,
    pub to_ms: i64,
    /// The approval chain, fixed when the permit is submitted.
    #[serde(default)]
    pub chain: Vec<Duty>,
    /// How many steps of `chain` are signed.
    #[serde(default)]
    pub approved_steps: usize,
    #[serde(default)]
    pub gas: Vec<GasReading>,
    #[serde(default)]
    pub briefing: Option<Briefing>,
    /// Every signed action, oldest first.
    #[serde(default)]
    pub signatures: Vec<Signature>,
    #[serde(default)]
    pub started_ms: Option<i64>,
    #[serde(default)]
    pub suspended_ms: Option<i64>,
    #[serde(default)]
    pub closed_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Permit {
    pub fn work(&self) -> WorkType {
        self.details.work()
    }

    /// The key of the chain and checklist configuration for this permit's type and level.
    pub fn chain_key(&self) -> String {
        chain_key(self.work(), self.level.as_deref())
    }

    /// The last gas analysis, if any.
    pub fn last_gas(&self) -> Option<&GasReading> {
        self.gas.iter().max_by_key(|g| g.sampled_ms)
    }
}

/// `hot_work:special`, `height:ii`, `confined_space`…
pub fn chain_key(work: WorkType, level: Option<&str>) -> String {
    match level {
        Some(l) => format!("{}:{l}", work.id()),
        None => work.id().to_string(),
    }
}

/// Every chain key: one per type, or one per level where the type has levels.
pub fn chain_keys() -> Vec<String> {
    WorkType::ALL
        .into_iter()
        .flat_map(|w| {
            if w.levels().is_empty() {
                vec![chain_key(w, None)]
            } else {
                w.levels().iter().map(|l| chain_key(w, Some(l))).collect()
            }
        })
        .collect()
}

/// A plant's approval chain and checklist for one type (and level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainConfig {
    pub key: String,
    /// Approval steps in order, each signed by a holder of the duty.
    pub steps: Vec<Duty>,
    /// Safety measures copied into each new permit of this kind.
    pub checklist: Vec<String>,
    /// Changed by the plant (false: the Annex B default).
    #[serde(default)]
    pub custom: bool,
}
