//! Special work permits (八大特殊作业票) as records: the form of GB 30871-2022 Annex A per
//! type, the stage of the permit's life cycle, and the signatures that moved it.
//!
//! Times are UTC milliseconds; the rules (`permits.rs`) see them in the plant's local time.

use serde::{Deserialize, Serialize};

use super::rules::{Activity, HotLevel, HotMethod, Upgrade, WorkType};

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

/// A toxic gas a confined space (or what follows its rules) is tested for, with the
/// occupational exposure limit that applies (GBZ 2.1, mg/m³).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToxicLimit {
    /// The gas as the reference data names it (formula, e.g. `H2S`), or as entered.
    pub name: String,
    /// Limit in mg/m³: the reference's MAC, else its PC-TWA, or a stricter one entered
    /// (0 or omitted when drafting: take the reference's).
    #[serde(default)]
    pub limit_mg_m3: f64,
}

/// The type-specific part of the Annex A form. Fields a rule needs are required when a
/// permit is drafted; they are optional here only so that older records still read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Details {
    HotWork {
        /// The level assessed from the place and the hazard; the permit may carry a higher one.
        assessed: HotLevel,
        /// 动火方式 as written on the form (electric welding of the flange…).
        method: String,
        /// The kind of method: welding and cutting need certificated workers.
        #[serde(default)]
        method_kind: Option<HotMethod>,
        /// Lower explosive limit of the medium, % vol; unknown: the stricter 0.2 % applies.
        #[serde(default)]
        lel_pct: Option<f64>,
        /// In oxygen service: the oxygen content is checked too.
        #[serde(default)]
        oxygen_service: bool,
        /// Inside a vessel (confined space), its tag; then the confined-space gas limits
        /// apply and a valid confined-space permit for it must be linked.
        #[serde(default)]
        space: String,
        /// 露天 (outdoors): the wind counts.
        #[serde(default)]
        outdoor: Option<bool>,
        /// Beaufort force forecast for the period.
        #[serde(default)]
        wind_force: Option<u8>,
        /// Outdoors in wind of force 5 or more: why the work cannot wait (因生产确需动火).
        /// With it the work is upgraded one level; without it, refused.
        #[serde(default)]
        wind_approval: String,
        /// Gas-detector tags watching the spot (required for 特级): an alarm on one of them
        /// during work suspends the permit.
        #[serde(default)]
        monitor_tags: Vec<String>,
    },
    ConfinedSpace {
        /// 受限空间名称 / vessel tag.
        space: String,
        /// 原有介质
        medium: String,
        /// Lower explosive limit of the medium, % vol; unknown: the stricter 0.2 % applies.
        #[serde(default)]
        lel_pct: Option<f64>,
        /// Oxygen-enriched air used (O2 up to 23.5 %).
        #[serde(default)]
        enriched: bool,
        /// Painting or coating inside (may not overlap hot work in the same space).
        #[serde(default)]
        painting: bool,
        /// Toxic gases to test for (at least one), with their limits.
        #[serde(default)]
        toxics: Vec<ToxicLimit>,
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
        /// Objective hazard factors besides night (≤ 5 °C, rain, live conductors…); night
        /// comes from the work windows and the plant calendar.
        #[serde(default)]
        hazard_factors: bool,
        #[serde(default)]
        wind_force: Option<u8>,
    },
    Lifting {
        load_t: f64,
        /// 吊具名称
        tool: String,
        /// 露天: outdoor lifting stops from wind force 6.
        #[serde(default)]
        outdoor: Option<bool>,
        #[serde(default)]
        wind_force: Option<u8>,
    },
    TemporaryPower {
        /// 电源接入点
        connection_point: String,
        voltage_v: f64,
        power_kw: f64,
        /// The hot-work or confined-space permit this power serves (its validity then binds).
        #[serde(default)]
        serves: Option<u64>,
        /// Connected in a hazardous (explosive) area: a gas test before connecting.
        #[serde(default)]
        hazardous_area: Option<bool>,
        /// LEL of the area's medium, % vol, for that test; unknown: 0.2 % applies.
        #[serde(default)]
        lel_pct: Option<f64>,
    },
    Excavation {
        depth_m: f64,
        /// 作业范围 / area description.
        area: String,
        /// In a hazardous area: deeper than 1.2 m it follows confined-space rules (unknown
        /// counts as hazardous; a new permit must say).
        #[serde(default)]
        hazardous_area: Option<bool>,
        /// The medium that may collect in the pit (deep excavation in a hazardous area).
        #[serde(default)]
        medium: String,
        #[serde(default)]
        lel_pct: Option<f64>,
        #[serde(default)]
        toxics: Vec<ToxicLimit>,
    },
    RoadBreak {
        road_section: String,
        reason: String,
        /// 交通组织 / detour.
        detour: String,
    },
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

    /// Excavation deeper than 1.2 m in a hazardous area: it follows the confined-space
    /// rules (24 h validity, readings every 2 h, oxygen and toxic gases, re-tests).
    pub fn deep_hazardous(&self) -> bool {
        matches!(self, Details::Excavation { depth_m, hazardous_area, .. }
            if *depth_m > 1.2 && *hazardous_area != Some(false))
    }

    /// A confined space, or what follows its rules.
    pub fn enclosed(&self) -> bool {
        matches!(self, Details::ConfinedSpace { .. }) || self.deep_hazardous()
    }

    /// Whether a passing gas analysis is needed before approval and start: hot work,
    /// confined space, deep excavation in a hazardous area, and temporary power connected
    /// in a hazardous area (unknown counts as hazardous).
    pub fn needs_gas(&self) -> bool {
        match self {
            Details::HotWork { .. } | Details::ConfinedSpace { .. } => true,
            Details::TemporaryPower { hazardous_area, .. } => *hazardous_area != Some(false),
            _ => self.deep_hazardous(),
        }
    }

    /// The hot-work method, for the certificate rule.
    pub fn hot_method(&self) -> Option<HotMethod> {
        match self {
            Details::HotWork { method_kind, .. } => *method_kind,
            _ => None,
        }
    }

    /// Gas-detector tags bound to the job.
    pub fn monitor_tags(&self) -> &[String] {
        match self {
            Details::HotWork { monitor_tags, .. } => monitor_tags,
            _ => &[],
        }
    }

    /// The vessel hot work is done in, if any.
    pub fn hot_space(&self) -> Option<&str> {
        match self {
            Details::HotWork { space, .. } if !space.trim().is_empty() => Some(space.trim()),
            _ => None,
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

/// One toxic-gas value of an analysis, mg/m³.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToxicReading {
    pub name: String,
    pub value: f64,
}

/// A limit an analysis broke, as it read when recorded (both languages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    /// The value concerned: `combustible_pct`, `o2_pct` or `toxics`.
    pub field: String,
    pub zh: String,
    pub en: String,
}

/// One gas analysis (气体分析). Every analysis is kept, failing ones too: a failure stands
/// until a later passing analysis at the same sampling point.
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
    /// Toxic gases, mg/m³.
    #[serde(default)]
    pub toxics: Vec<ToxicReading>,
    /// The limits it broke; empty: it passed.
    #[serde(default)]
    pub failures: Vec<Finding>,
    pub analyst_id: u64,
    pub analyst: String,
    pub recorded_ms: i64,
}

impl GasReading {
    pub fn pass(&self) -> bool {
        self.failures.is_empty()
    }
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
    /// The level was raised from the assessed one (hot work: day off, night, wind; height:
    /// night, hazard factors).
    #[serde(default)]
    pub upgraded: bool,
    /// Why it was raised, as the permit shows it.
    #[serde(default)]
    pub upgrades: Vec<Upgrade>,
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
    /// The planned work windows inside the period (e.g. day shifts on three days); work
    /// starts and resumes only inside one. Empty: the whole period is one window.
    #[serde(default)]
    pub windows: Vec<WorkWindow>,
    /// Work nearby hot work must keep away from (venting, discharging, painting).
    #[serde(default)]
    pub activities: Vec<Activity>,
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
    /// The work was stopped for gas (a failing analysis, a detector alarm, the daily
    /// re-analysis): it resumes only after a new passing analysis.
    #[serde(default)]
    pub retest_required: bool,
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

    /// The last passing gas analysis, if any.
    pub fn last_pass(&self) -> Option<&GasReading> {
        self.gas
            .iter()
            .filter(|g| g.pass())
            .max_by_key(|g| g.sampled_ms)
    }

    /// The work windows, or the whole period as one.
    pub fn spans_ms(&self) -> Vec<(i64, i64)> {
        if self.windows.is_empty() {
            vec![(self.from_ms, self.to_ms)]
        } else {
            self.windows.iter().map(|w| (w.from_ms, w.to_ms)).collect()
        }
    }

    /// Whether `now_ms` is inside a work window (its level was decided for exactly those
    /// minutes, so not a minute early).
    pub fn in_window(&self, now_ms: i64) -> bool {
        self.spans_ms()
            .iter()
            .any(|(a, b)| now_ms >= *a && now_ms < *b)
    }
}

/// A planned work window (UTC ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkWindow {
    pub from_ms: i64,
    pub to_ms: i64,
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

/// Reference data: a toxic gas's occupational exposure limits (职业接触限值), GBZ 2.1-2019,
/// mg/m³. Plants edit the list; the permit takes the MAC, else the PC-TWA, as its limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GasRef {
    /// Formula, the name permits use (`H2S`).
    pub formula: String,
    pub name_zh: String,
    pub name_en: String,
    /// 最高容许浓度
    #[serde(default)]
    pub mac: Option<f64>,
    /// 时间加权平均容许浓度
    #[serde(default)]
    pub twa: Option<f64>,
    /// 短时间接触容许浓度
    #[serde(default)]
    pub stel: Option<f64>,
    /// g/mol, to show the limit in ppm (at 25 °C: ppm = mg/m³ × 24.45 / M).
    pub molar_mass: f64,
}

impl GasRef {
    /// The limit a permit's analysis is held to: the MAC where there is one, else the
    /// PC-TWA (the stricter of the time-weighted limits). Every gas of GBZ 2.1 has one of
    /// the two; a row with only a PC-STEL is refused.
    pub fn limit(&self) -> Option<f64> {
        self.mac.or(self.twa)
    }

    /// The limit in ppm, for detectors that read ppm.
    pub fn limit_ppm(&self) -> Option<f64> {
        let l = self.limit()?;
        (self.molar_mass > 0.0).then(|| l * 24.45 / self.molar_mass)
    }

    /// Whether `name` names this gas (formula, Chinese or English name; case ignored).
    pub fn matches(&self, name: &str) -> bool {
        let n = name.trim();
        [&self.formula, &self.name_zh, &self.name_en]
            .iter()
            .any(|x| !x.is_empty() && x.eq_ignore_ascii_case(n))
    }
}

/// GBZ 2.1-2019 values for the gases chemical plants test for most (mg/m³), as shipped;
/// plants check and extend them on the permit settings page.
pub fn default_gas_refs() -> Vec<GasRef> {
    let g = |formula: &str,
             name_zh: &str,
             name_en: &str,
             (mac, twa, stel): (Option<f64>, Option<f64>, Option<f64>),
             molar_mass| GasRef {
        formula: formula.into(),
        name_zh: name_zh.into(),
        name_en: name_en.into(),
        mac,
        twa,
        stel,
        molar_mass,
    };
    vec![
        g(
            "H2S",
            "硫化氢",
            "Hydrogen sulfide",
            (Some(10.0), None, None),
            34.08,
        ),
        g(
            "CO",
            "一氧化碳",
            "Carbon monoxide",
            (None, Some(20.0), Some(30.0)),
            28.01,
        ),
        g(
            "NH3",
            "氨",
            "Ammonia",
            (None, Some(20.0), Some(30.0)),
            17.03,
        ),
        g("Cl2", "氯气", "Chlorine", (Some(1.0), None, None), 70.90),
        g(
            "HCN",
            "氰化氢",
            "Hydrogen cyanide",
            (Some(1.0), None, None),
            27.03,
        ),
        g("COCl2", "光气", "Phosgene", (Some(0.5), None, None), 98.92),
        g(
            "SO2",
            "二氧化硫",
            "Sulfur dioxide",
            (None, Some(5.0), Some(10.0)),
            64.07,
        ),
        g(
            "NO2",
            "二氧化氮",
            "Nitrogen dioxide",
            (None, Some(5.0), Some(10.0)),
            46.01,
        ),
        g(
            "HCl",
            "氯化氢",
            "Hydrogen chloride",
            (Some(7.5), None, None),
            36.46,
        ),
        g(
            "C6H6",
            "苯",
            "Benzene",
            (None, Some(6.0), Some(10.0)),
            78.11,
        ),
        g(
            "C7H8",
            "甲苯",
            "Toluene",
            (None, Some(50.0), Some(100.0)),
            92.14,
        ),
        g(
            "C8H10",
            "二甲苯",
            "Xylene",
            (None, Some(50.0), Some(100.0)),
            106.17,
        ),
        g(
            "C8H8",
            "苯乙烯",
            "Styrene",
            (None, Some(50.0), Some(100.0)),
            104.15,
        ),
        g(
            "CH3OH",
            "甲醇",
            "Methanol",
            (None, Some(25.0), Some(50.0)),
            32.04,
        ),
        g(
            "HCHO",
            "甲醛",
            "Formaldehyde",
            (Some(0.5), None, None),
            30.03,
        ),
        g(
            "C3H6O",
            "丙酮",
            "Acetone",
            (None, Some(300.0), Some(450.0)),
            58.08,
        ),
        g(
            "C4H8O2",
            "乙酸乙酯",
            "Ethyl acetate",
            (None, Some(200.0), Some(300.0)),
            88.11,
        ),
        g(
            "C3H3N",
            "丙烯腈",
            "Acrylonitrile",
            (None, Some(1.0), Some(2.0)),
            53.06,
        ),
        g(
            "C2H3Cl",
            "氯乙烯",
            "Vinyl chloride",
            (None, Some(10.0), None),
            62.50,
        ),
        g(
            "C2H4O",
            "环氧乙烷",
            "Ethylene oxide",
            (None, Some(2.0), None),
            44.05,
        ),
        g(
            "CS2",
            "二硫化碳",
            "Carbon disulfide",
            (None, Some(5.0), Some(10.0)),
            76.14,
        ),
        g(
            "C7H12O2",
            "丙烯酸正丁酯",
            "n-Butyl acrylate",
            (None, Some(25.0), None),
            128.17,
        ),
    ]
}
