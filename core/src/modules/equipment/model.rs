//! What 设备管理 keeps: categories with their typed parameters, equipment (the ledger, with
//! the tags bound to it and its spare-parts list), vibration zones and their history, work
//! orders and preventive plans.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rules::{MachineGroup, Mounting, Zone, ZoneBounds};
use crate::modules::safety::archive::model::FileMeta;

/// The type of a technical parameter, fixed by the category that defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    Number,
    Text,
    /// `YYYY-MM-DD`.
    Date,
    Bool,
}

impl ParamKind {
    pub const ALL: [ParamKind; 4] = [
        ParamKind::Number,
        ParamKind::Text,
        ParamKind::Date,
        ParamKind::Bool,
    ];
    pub fn id(self) -> &'static str {
        match self {
            ParamKind::Number => "number",
            ParamKind::Text => "text",
            ParamKind::Date => "date",
            ParamKind::Bool => "bool",
        }
    }
    pub fn parse(s: &str) -> Option<ParamKind> {
        ParamKind::ALL.into_iter().find(|k| k.id() == s)
    }
}

/// A technical parameter a category asks of its equipment (设计压力, 额定功率…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ParamDef {
    /// Stable key (letters, digits, `_`), e.g. `rated_power`.
    pub key: String,
    pub name: String,
    pub kind: ParamKind,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub required: bool,
}

/// A node of the category tree (动设备 → 泵 → 离心泵). A category's equipment carry the
/// parameters of the category and of every category above it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Category {
    #[serde(default)]
    pub id: u64,
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<u64>,
    #[serde(default)]
    pub params: Vec<ParamDef>,
}

/// A parameter's value, typed as its definition says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Number(f64),
    /// Text, or a date as `YYYY-MM-DD`.
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{}", if *b { "✓" } else { "✗" }),
            ParamValue::Number(n) => write!(f, "{n}"),
            ParamValue::Text(t) => f.write_str(t),
        }
    }
}

/// A/B/C criticality: A fails the plant (safety, environment or the whole line), B one unit,
/// C nothing that cannot wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Criticality {
    A,
    B,
    C,
}

impl Criticality {
    pub const ALL: [Criticality; 3] = [Criticality::A, Criticality::B, Criticality::C];
    pub fn id(self) -> &'static str {
        match self {
            Criticality::A => "A",
            Criticality::B => "B",
            Criticality::C => "C",
        }
    }
    pub fn parse(s: &str) -> Option<Criticality> {
        Criticality::ALL.into_iter().find(|c| c.id() == s)
    }
}

/// 在用 / 备用 / 检修 / 停用 / 报废.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EqStatus {
    Running,
    Standby,
    Maintenance,
    Stopped,
    Scrapped,
}

impl EqStatus {
    pub const ALL: [EqStatus; 5] = [
        EqStatus::Running,
        EqStatus::Standby,
        EqStatus::Maintenance,
        EqStatus::Stopped,
        EqStatus::Scrapped,
    ];
    pub fn id(self) -> &'static str {
        match self {
            EqStatus::Running => "running",
            EqStatus::Standby => "standby",
            EqStatus::Maintenance => "maintenance",
            EqStatus::Stopped => "stopped",
            EqStatus::Scrapped => "scrapped",
        }
    }
    pub fn parse(s: &str) -> Option<EqStatus> {
        EqStatus::ALL.into_iter().find(|c| c.id() == s)
    }
}

/// What a bound tag measures on its equipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Vibration velocity RMS, mm/s: judged by ISO 10816-3 zone.
    Vibration,
    BearingTemperature,
    Pressure,
    MotorCurrent,
    /// Run hours (a meter for preventive plans).
    RunHours,
    /// Starts, strokes, cycles (a meter for preventive plans).
    Count,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Vibration,
        Role::BearingTemperature,
        Role::Pressure,
        Role::MotorCurrent,
        Role::RunHours,
        Role::Count,
    ];
    pub fn id(self) -> &'static str {
        match self {
            Role::Vibration => "vibration",
            Role::BearingTemperature => "bearing_temperature",
            Role::Pressure => "pressure",
            Role::MotorCurrent => "motor_current",
            Role::RunHours => "run_hours",
            Role::Count => "count",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|c| c.id() == s)
    }
    /// Roles that count up and drive plans by meter.
    pub fn is_meter(self) -> bool {
        matches!(self, Role::RunHours | Role::Count)
    }
}

/// A data-platform tag bound to a piece of equipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Binding {
    /// The tag's name.
    pub tag: String,
    pub role: Role,
    /// Where on the machine (驱动端轴承, 非驱动端…).
    #[serde(default)]
    pub point: String,
}

/// How the vibration of a rotating machine is judged (ISO 10816-3). Missing group or
/// mounting take the strictest boundaries; `bounds` overrides the standard's.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct VibrationClass {
    #[serde(default)]
    pub group: Option<MachineGroup>,
    #[serde(default)]
    pub mounting: Option<Mounting>,
    #[serde(default)]
    pub bounds: Option<ZoneBounds>,
}

impl VibrationClass {
    pub fn bounds(&self) -> ZoneBounds {
        self.bounds
            .unwrap_or_else(|| ZoneBounds::iso10816_3(self.group, self.mounting))
    }
}

/// A spare part of a piece of equipment: an inventory material and how many it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BomLine {
    pub material: u64,
    /// In the material's base unit.
    pub qty: f64,
    #[serde(default)]
    pub note: String,
}

/// A piece of equipment in the ledger (台账).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Equipment {
    #[serde(default)]
    pub id: u64,
    /// 位号, unique (P-101A).
    pub tag_no: String,
    pub name: String,
    pub category: u64,
    #[serde(default)]
    pub department: Option<u64>,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub manufacturer: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub serial: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub commissioned: Option<String>,
    pub criticality: Criticality,
    pub status: EqStatus,
    /// The unit or machine it is part of.
    #[serde(default)]
    pub parent: Option<u64>,
    /// Technical parameters by key, typed by the category's definitions.
    #[serde(default)]
    pub params: BTreeMap<String, ParamValue>,
    #[serde(default)]
    pub bindings: Vec<Binding>,
    #[serde(default)]
    pub vibration: VibrationClass,
    /// Spare parts (BOM).
    #[serde(default)]
    pub bom: Vec<BomLine>,
    /// Taken out of the ledger; its history stays, its QR label answers “deleted”.
    #[serde(default)]
    pub deleted: bool,
}

impl Equipment {
    /// A new machine with nothing but its 位号, name and category (criticality B, running).
    pub fn new(tag_no: &str, name: &str, category: u64) -> Equipment {
        Equipment {
            id: 0,
            tag_no: tag_no.into(),
            name: name.into(),
            category,
            department: None,
            location: String::new(),
            manufacturer: String::new(),
            model: String::new(),
            serial: String::new(),
            commissioned: None,
            criticality: Criticality::B,
            status: EqStatus::Running,
            parent: None,
            params: BTreeMap::new(),
            bindings: Vec::new(),
            vibration: VibrationClass::default(),
            bom: Vec::new(),
            deleted: false,
        }
    }
}

/// The zone a vibration tag of a piece of equipment is in now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZoneState {
    pub equipment: u64,
    pub tag: String,
    pub zone: Zone,
    pub value: f64,
    pub since_ms: i64,
}

/// A change of zone, kept as the zone history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZoneEvent {
    pub equipment: u64,
    pub tag: String,
    pub ts_ms: i64,
    pub from: Option<Zone>,
    pub to: Zone,
    pub value: f64,
    /// The work order the change proposed.
    #[serde(default)]
    pub work_order: Option<u64>,
}

/// 故障维修 / 预防性维护 / 点检.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WoKind {
    #[default]
    Corrective,
    Preventive,
    Inspection,
}

impl WoKind {
    pub const ALL: [WoKind; 3] = [WoKind::Corrective, WoKind::Preventive, WoKind::Inspection];
    pub fn id(self) -> &'static str {
        match self {
            WoKind::Corrective => "corrective",
            WoKind::Preventive => "preventive",
            WoKind::Inspection => "inspection",
        }
    }
    pub fn parse(s: &str) -> Option<WoKind> {
        WoKind::ALL.into_iter().find(|c| c.id() == s)
    }
}

/// Where a work order came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Written in the console or the API.
    Manual,
    /// A fault reported (from a phone, after scanning the label).
    Fault,
    /// A vibration tag entered zone C or D.
    Condition { tag: String, zone: Zone, value: f64 },
    /// An urgent alarm on a bound tag.
    Alarm { tag: String, message: String },
    /// A preventive plan fell due.
    Plan { plan: u64 },
    /// An inspection round (点检) found something wrong.
    Inspection { route: u64, round: u64 },
    /// Proposed by a plugin (an energy baseline breached, a board's rule…); `key` is the
    /// plugin's name for the condition: while an order for it is open, proposing it again
    /// answers that order.
    Plugin { plugin: String, key: String },
}

impl Origin {
    pub fn id(&self) -> &'static str {
        match self {
            Origin::Manual => "manual",
            Origin::Fault => "fault",
            Origin::Condition { .. } => "condition",
            Origin::Alarm { .. } => "alarm",
            Origin::Plan { .. } => "plan",
            Origin::Inspection { .. } => "inspection",
            Origin::Plugin { .. } => "plugin",
        }
    }
}

/// 紧急 / 高 / 一般 / 低.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WoPriority {
    Urgent,
    High,
    #[default]
    Normal,
    Low,
}

impl WoPriority {
    pub const ALL: [WoPriority; 4] = [
        WoPriority::Urgent,
        WoPriority::High,
        WoPriority::Normal,
        WoPriority::Low,
    ];
    pub fn id(self) -> &'static str {
        match self {
            WoPriority::Urgent => "urgent",
            WoPriority::High => "high",
            WoPriority::Normal => "normal",
            WoPriority::Low => "low",
        }
    }
    pub fn parse(s: &str) -> Option<WoPriority> {
        WoPriority::ALL.into_iter().find(|c| c.id() == s)
    }
    /// Hours to finish a work order of this priority when nobody sets a due time.
    pub fn default_hours(self) -> i64 {
        match self {
            WoPriority::Urgent => 8,
            WoPriority::High => 48,
            WoPriority::Normal => 7 * 24,
            WoPriority::Low => 30 * 24,
        }
    }
}

/// The work order life cycle: open → assigned → in progress ⇄ waiting for parts → done →
/// verified; open or assigned may be cancelled (a proposal turned down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WoState {
    Open,
    Assigned,
    InProgress,
    WaitingParts,
    Done,
    Verified,
    Cancelled,
}

impl WoState {
    pub const ALL: [WoState; 7] = [
        WoState::Open,
        WoState::Assigned,
        WoState::InProgress,
        WoState::WaitingParts,
        WoState::Done,
        WoState::Verified,
        WoState::Cancelled,
    ];
    pub fn id(self) -> &'static str {
        match self {
            WoState::Open => "open",
            WoState::Assigned => "assigned",
            WoState::InProgress => "in_progress",
            WoState::WaitingParts => "waiting_parts",
            WoState::Done => "done",
            WoState::Verified => "verified",
            WoState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<WoState> {
        WoState::ALL.into_iter().find(|c| c.id() == s)
    }
    /// Still work to do (counts for overdue and for “one open order per cause”).
    pub fn is_open(self) -> bool {
        !matches!(self, WoState::Done | WoState::Verified | WoState::Cancelled)
    }
}

/// Hours worked on a work order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Labour {
    pub person: String,
    pub hours: f64,
    #[serde(default)]
    pub note: String,
    pub at_ms: i64,
}

/// A spare part issued to (or returned from) a work order, with the inventory movement
/// that moved it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartUse {
    pub material: u64,
    pub code: String,
    pub name: String,
    /// Base units; negative for a return.
    pub qty: f64,
    pub unit: String,
    pub movement: u64,
    pub lot: u64,
    pub at_ms: i64,
    pub by: String,
}

/// One step of a work order's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WoStep {
    pub at_ms: i64,
    pub by: String,
    pub action: String,
    #[serde(default)]
    pub note: String,
}

/// A maintenance work order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkOrder {
    pub id: u64,
    /// WO-2026-0001, per plant year.
    pub number: String,
    pub equipment: u64,
    pub kind: WoKind,
    pub origin: Origin,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub priority: WoPriority,
    pub state: WoState,
    /// The equipment is stopped until the order is done (counts as downtime).
    #[serde(default)]
    pub stopped: bool,
    pub created_ms: i64,
    pub created_by: String,
    pub due_ms: i64,
    #[serde(default)]
    pub assignee: Option<u64>,
    #[serde(default)]
    pub assignee_name: String,
    #[serde(default)]
    pub started_ms: Option<i64>,
    #[serde(default)]
    pub photos: Vec<FileMeta>,
    #[serde(default)]
    pub labour: Vec<Labour>,
    #[serde(default)]
    pub parts: Vec<PartUse>,
    /// The checklist of a plan's order (task, ticked).
    #[serde(default)]
    pub checklist: Vec<(String, bool)>,
    /// What was found and done (required for done).
    #[serde(default)]
    pub report: String,
    #[serde(default)]
    pub done_ms: Option<i64>,
    #[serde(default)]
    pub done_by: String,
    #[serde(default)]
    pub done_by_id: u64,
    /// The sign-off: who verified, and what they said.
    #[serde(default)]
    pub verified_ms: Option<i64>,
    #[serde(default)]
    pub verified_by: String,
    #[serde(default)]
    pub signoff: String,
    /// The special work permits the job must have before it starts (`hot_work`,
    /// `confined_space`; welding inside a vessel needs both).
    #[serde(default)]
    pub needs_permits: Vec<String>,
    /// The safety module's permits this job works under.
    #[serde(default)]
    pub permits: Vec<PermitLink>,
    /// A meter reading when the order was done (plans by meter count from it).
    #[serde(default)]
    pub meter_at_done: Option<f64>,
    #[serde(default)]
    pub steps: Vec<WoStep>,
}

/// A safety-module permit a work order works under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PermitLink {
    pub id: u64,
    pub number: String,
    /// `hot_work`, `confined_space`…
    pub work: String,
}

/// When a preventive plan falls due.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// Every so many days from the last time it was done.
    Calendar { every_days: u32 },
    /// Every so much on a meter tag bound to the equipment (run hours, counts).
    Meter { tag: String, every: f64 },
}

/// A preventive maintenance plan (保养计划).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    #[serde(default)]
    pub id: u64,
    pub equipment: u64,
    pub title: String,
    pub trigger: Trigger,
    /// The checklist its work orders carry.
    #[serde(default)]
    pub tasks: Vec<String>,
    #[serde(default = "normal")]
    pub priority: WoPriority,
    /// Permits its orders need before work starts (`hot_work`, `confined_space`).
    #[serde(default)]
    pub needs_permits: Vec<String>,
    /// Calendar plans: the order opens this many days before the date.
    #[serde(default)]
    pub lead_days: u32,
    /// Calendar plans: the first due date when never done (`YYYY-MM-DD`; default: the day
    /// the plan is made).
    #[serde(default)]
    pub start: Option<String>,
    /// When it was last done (its order verified or done).
    #[serde(default)]
    pub last_done_ms: Option<i64>,
    /// Meter plans: the reading it was last done at (when made: the reading of its last
    /// overhaul; none counts from 0).
    #[serde(default)]
    pub last_meter: Option<f64>,
    /// Meter plans: since when the meter has read below `last_meter` (a reset or a
    /// replaced meter once it lasts; a glitch when it does not).
    #[serde(default)]
    pub meter_low_since_ms: Option<i64>,
    /// The order it opened that is not done yet.
    #[serde(default)]
    pub open_order: Option<u64>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn normal() -> WoPriority {
    WoPriority::Normal
}

fn yes() -> bool {
    true
}

/// 说明书 / 图纸 / 检验证书 / 报告 / 其他.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Manual,
    Drawing,
    /// An inspection certificate (pressure vessel, safety valve, lifting gear…), with the
    /// date the next inspection is due.
    Certificate,
    Report,
    Other,
}

impl DocKind {
    pub const ALL: [DocKind; 5] = [
        DocKind::Manual,
        DocKind::Drawing,
        DocKind::Certificate,
        DocKind::Report,
        DocKind::Other,
    ];
    pub fn id(self) -> &'static str {
        match self {
            DocKind::Manual => "manual",
            DocKind::Drawing => "drawing",
            DocKind::Certificate => "certificate",
            DocKind::Report => "report",
            DocKind::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.id() == s)
    }
}

/// One uploaded version of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DocVersion {
    /// 1, 2, …
    pub version: u32,
    pub file: FileMeta,
    #[serde(default)]
    pub note: String,
}

/// A document of a piece of equipment, with its versions. Who may see it: everyone with
/// the module's read level, or — when `departments` or `roles` are set — people of those
/// departments or holding those roles (and whoever holds the approve level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Document {
    pub id: u64,
    pub equipment: u64,
    pub kind: DocKind,
    pub title: String,
    /// Certificate or drawing number.
    #[serde(default)]
    pub number: String,
    /// Certificates: the next inspection is due (`YYYY-MM-DD`).
    #[serde(default)]
    pub due: Option<String>,
    /// Days before `due` it turns yellow.
    #[serde(default = "thirty")]
    pub warn_days: u32,
    #[serde(default)]
    pub departments: Vec<u64>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub versions: Vec<DocVersion>,
}

fn thirty() -> u32 {
    30
}

// ------------------------------------------------------------------ inspection rounds (点检)

/// What a checkpoint asks: a look (normal or not) or a reading with its normal range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckKind {
    /// 看、听、摸、闻: normal or abnormal; an abnormal one says what was found.
    Look,
    /// A value read on a local gauge or a handheld meter; outside `lo`..=`hi` is abnormal.
    Reading {
        #[serde(default)]
        unit: String,
        #[serde(default)]
        lo: Option<f64>,
        #[serde(default)]
        hi: Option<f64>,
    },
}

/// A checkpoint of a route: a piece of equipment and what to check on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckPoint {
    pub equipment: u64,
    /// 机封无泄漏, 轴承温度…
    pub item: String,
    pub check: CheckKind,
}

/// An inspection route (点检路线): checkpoints walked in order, every so many hours (a
/// round a shift, a day, a week).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InspectionRoute {
    #[serde(default)]
    pub id: u64,
    pub name: String,
    /// The department that walks it.
    #[serde(default)]
    pub department: Option<u64>,
    /// A round is due this many hours after the last one.
    pub every_hours: u32,
    pub points: Vec<CheckPoint>,
    #[serde(default = "yes")]
    pub active: bool,
    /// When the route was made (or switched on again) and when its last round was
    /// recorded, and its revision, one up at each change: a round walked on an older one is
    /// refused (set by the service).
    #[serde(default)]
    pub made_ms: i64,
    #[serde(default)]
    pub rev: u64,
    #[serde(default)]
    pub last_round_ms: Option<i64>,
}

/// A checkpoint's answer as the phone sends it: `ok` for a look, `value` for a reading.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Answer {
    #[serde(default)]
    pub ok: Option<bool>,
    #[serde(default)]
    pub value: Option<f64>,
    /// What was found (required for an abnormal look).
    #[serde(default)]
    pub note: String,
    /// Not checked: the machine is not running (standby, stopped, under repair).
    #[serde(default)]
    pub skip: bool,
}

/// A checkpoint as it was found: the item and its check as the route had them then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckResult {
    pub equipment: u64,
    pub item: String,
    pub check: CheckKind,
    pub normal: bool,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub note: String,
    /// Not checked: the machine was not running.
    #[serde(default)]
    pub skipped: bool,
}

/// A round walked (点检记录).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Round {
    pub id: u64,
    pub route: u64,
    pub route_name: String,
    pub ts_ms: i64,
    pub by: String,
    pub by_id: u64,
    pub results: Vec<CheckResult>,
    /// Work orders its abnormal findings opened (one per machine).
    #[serde(default)]
    pub orders: Vec<u64>,
}

impl Round {
    pub fn abnormal(&self) -> usize {
        self.results.iter().filter(|r| !r.normal).count()
    }
}
