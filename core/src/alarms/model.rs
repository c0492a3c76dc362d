//! Alarm definitions, live alarm instances and the alarm journal (ISA-18.2 / IEC 62682).

use serde::{Deserialize, Serialize};

/// One colour each, everywhere: urgent red, high orange, medium yellow, low blue.
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
pub enum Priority {
    Urgent,
    High,
    Medium,
    Low,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Urgent,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ];
    pub fn id(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }
    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.id() == s)
    }
}

/// What makes an alarm active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// value > limit
    High { limit: f64 },
    /// value > limit (the second, more urgent high)
    HighHigh { limit: f64 },
    /// value < limit
    Low { limit: f64 },
    /// value < limit
    LowLow { limit: f64 },
    /// |value − setpoint| > limit
    Deviation { setpoint: f64, limit: f64 },
    /// |Δvalue| per minute > limit
    RateOfChange { limit_per_min: f64 },
    /// value == state (a digital or multi-state tag)
    Digital { state: f64 },
    /// The instrument cannot be read: its value is bad or was never read (communication
    /// lost, sensor or configuration fault), it reads below its range (a transmitter's
    /// fault signal, NAMUR NE 43), or — with `max_age_s` — no reading came for that long.
    /// A life-safety detector that cannot see is itself an alarm (ISA-18.2 instrument
    /// diagnostic alarm); its limit alarms hold their state meanwhile. Judged once a second.
    BadQuality {
        #[serde(default)]
        max_age_s: u32,
    },
    /// Raised and cleared by a module (certificate expiry, overdue permit…).
    External { source: String },
}

impl Condition {
    /// Stable code for lists and translations (`alarms.kind.<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            Condition::High { .. } => "high",
            Condition::HighHigh { .. } => "high_high",
            Condition::Low { .. } => "low",
            Condition::LowLow { .. } => "low_low",
            Condition::Deviation { .. } => "deviation",
            Condition::RateOfChange { .. } => "rate_of_change",
            Condition::Digital { .. } => "digital",
            Condition::BadQuality { .. } => "bad_quality",
            Condition::External { .. } => "external",
        }
    }
}

/// An alarm definition: a condition on a tag (or raised by a module), its priority and
/// how it is debounced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlarmDef {
    pub id: u32,
    /// Tag handle; 0 for module (external) alarms.
    #[serde(default)]
    pub tag: u32,
    pub condition: Condition,
    pub priority: Priority,
    /// A limit alarm returns only once the value is back inside the limit by this much.
    #[serde(default)]
    pub deadband: f64,
    /// The condition must hold this long before the alarm is raised.
    #[serde(default)]
    pub on_delay_s: u32,
    /// The condition must be gone this long before the alarm returns.
    #[serde(default)]
    pub off_delay_s: u32,
    #[serde(default)]
    pub message_zh: String,
    #[serde(default)]
    pub message_en: String,
    /// Plant area, for routing notifications and filtering.
    #[serde(default)]
    pub area: String,
    /// A latched alarm stays annunciated after it returns, until an operator resets it.
    #[serde(default)]
    pub latch: bool,
    pub enabled: bool,
}

/// ISA-18.2 alarm states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Normal,
    /// Active, not acknowledged.
    Unack,
    /// Active, acknowledged.
    Ack,
    /// Returned to normal, not yet acknowledged.
    RtnUnack,
    /// Returned to normal, held until an operator resets it (latching alarms).
    Latched,
    /// Hidden by an operator until `shelved_until`.
    Shelved,
    /// Suppressed by design (e.g. the equipment is stopped).
    Suppressed,
    /// Taken out of service (maintenance).
    OutOfService,
}

impl State {
    pub fn parse(s: &str) -> Option<State> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
    /// Shown in the live list and counted in the banner.
    pub fn is_annunciated(self) -> bool {
        matches!(
            self,
            State::Unack | State::Ack | State::RtnUnack | State::Latched
        )
    }
    /// Waiting for an operator (acknowledge or reset).
    pub fn needs_operator(self) -> bool {
        matches!(self, State::Unack | State::RtnUnack | State::Latched)
    }
}

/// A live alarm: the state of one definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Instance {
    /// The definition id.
    pub id: u32,
    pub state: State,
    /// Whether the condition holds now (also while shelved or suppressed).
    pub active: bool,
    pub priority: Priority,
    pub tag: String,
    pub area: String,
    pub message_zh: String,
    pub message_en: String,
    pub kind: String,
    /// The value that raised it (or the latest while active).
    pub value: Option<f64>,
    pub raised_ms: Option<i64>,
    pub changed_ms: i64,
    pub acked_by: Option<String>,
    pub ack_comment: Option<String>,
    pub shelved_until_ms: Option<i64>,
    /// Who raises a module alarm (`safety:permit:…`, `plugin:<id>:<key>`); empty for a
    /// tag's alarm.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// The plugin that raises it, for a plugin's alarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

/// The plugin behind a module alarm's source (`plugin:<id>:<key>`).
pub fn plugin_of(source: &str) -> Option<String> {
    source
        .strip_prefix("plugin:")
        .and_then(|r| r.split(':').next())
        .map(str::to_string)
}

/// What happened to an alarm, as the journal records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Raised,
    Returned,
    Acked,
    Cleared,
    Shelved,
    Unshelved,
    Suppressed,
    Unsuppressed,
    OutOfService,
    InService,
}

/// One entry of the alarm journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub ts_ms: i64,
    pub alarm: u32,
    pub kind: EventKind,
    pub state: State,
    pub priority: Priority,
    pub tag: String,
    pub area: String,
    pub message_zh: String,
    pub message_en: String,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// An alarm message in both catalogue languages (module alarms name user data, such as a
/// certificate kind, that has its own Chinese and English names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    /// `msg` rendered in both languages.
    pub fn of(msg: &crate::i18n::Msg) -> Text {
        Text {
            zh: msg.render(crate::i18n::Lang::ZhCn),
            en: msg.render(crate::i18n::Lang::En),
        }
    }
}
