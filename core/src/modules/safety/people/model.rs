//! People, vehicles, gates and positions (封闭化管理, 人员定位): who may be in the plant,
//! what the gates and the positioning system report, the plant map with its zones and the
//! rules per zone, and the duty roster (定时、定人、定岗).

use serde::{Deserialize, Serialize};

/// Who a person is to the plant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    Employee,
    Contractor,
    Visitor,
}

impl PersonKind {
    pub fn parse(s: &str) -> Option<PersonKind> {
        match s {
            "employee" => Some(PersonKind::Employee),
            "contractor" => Some(PersonKind::Contractor),
            "visitor" => Some(PersonKind::Visitor),
            _ => None,
        }
    }
}

/// A person who may enter the plant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Person {
    pub id: u64,
    pub kind: PersonKind,
    pub name: String,
    /// Department (employees) or company (contractors, visitors).
    #[serde(default)]
    pub organisation: String,
    /// Access card / face id / fingerprint id the gates report (unique).
    #[serde(default)]
    pub badge: String,
    /// Positioning tag id (UWB/BLE) the tag system reports (unique).
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub phone: String,
    /// Certificates in the archive held by this person (`safety.certificates` ids).
    #[serde(default)]
    pub certs: Vec<u64>,
    /// Visitors and contractors: access ends after this day (`YYYY-MM-DD`).
    #[serde(default)]
    pub valid_until: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A vehicle allowed in; hazardous-goods vehicles carry a transport permit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Vehicle {
    pub id: u64,
    /// 车牌号, upper case without spaces (the gates' plate recognition reports it so).
    pub plate: String,
    /// Carries hazardous goods (危险货物运输车辆).
    #[serde(default)]
    pub hazmat: bool,
    /// 道路危险货物运输许可证 / 运输证 number.
    #[serde(default)]
    pub hazmat_permit: String,
    /// Its expiry, `YYYY-MM-DD`.
    #[serde(default)]
    pub permit_expires: Option<String>,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub company: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A gate or door with an access controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Gate {
    /// The code the controller reports (`east`, `tank-farm-1`).
    pub code: String,
    pub name: String,
    /// The area it leads into: `plant` for the perimeter, or an inner area (`罐区`…).
    pub area: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

/// How the controller identified who passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Face,
    Card,
    Fingerprint,
    Plate,
    Qr,
    Manual,
}

/// Why a gate event needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// The badge or plate is not in the registry.
    Unknown,
    /// The person or vehicle is disabled or past its access date.
    NotAllowed,
    /// A certificate of the person (or the vehicle's transport permit) has expired.
    CertExpired,
}

/// One passage through a gate, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GateEvent {
    pub id: u64,
    pub gate: String,
    pub area: String,
    pub direction: Direction,
    pub method: Method,
    /// The badge or plate as reported.
    pub credential: String,
    #[serde(default)]
    pub person: Option<u64>,
    #[serde(default)]
    pub vehicle: Option<u64>,
    /// Name or plate, for lists.
    pub who: String,
    pub at_ms: i64,
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// `api` or `mqtt`.
    pub source: String,
}

/// The plant layout: an image spanning `width_m` × `height_m` metres; positions have the
/// origin at the image's bottom-left corner, x to the right, y up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlantMap {
    pub width_m: f64,
    pub height_m: f64,
    /// The image's content type; none when no layout was uploaded (a grid is drawn).
    #[serde(default)]
    pub image_type: Option<String>,
    #[serde(default)]
    pub updated_ms: i64,
}

impl Default for PlantMap {
    fn default() -> Self {
        PlantMap {
            width_m: 400.0,
            height_m: 300.0,
            image_type: None,
            updated_ms: 0,
        }
    }
}

/// People within `radius_m` of each other for longer than `seconds` (人员聚集).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Aggregation {
    pub people: u32,
    pub radius_m: f64,
    pub seconds: u32,
}

/// What a zone watches for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ZoneRules {
    /// Nobody inside without a working permit located in the zone that names them.
    #[serde(default)]
    pub permit_required: bool,
    #[serde(default)]
    pub max_occupancy: Option<u32>,
    /// A tag that has not moved (more than 2.5 m) for this long raises a man-down alarm.
    #[serde(default)]
    pub still_seconds: Option<u32>,
    #[serde(default)]
    pub aggregation: Option<Aggregation>,
}

/// An area on the map drawn as a polygon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Zone {
    pub id: u64,
    pub name: String,
    /// Vertices in metres, at least three, in order.
    pub polygon: Vec<[f64; 2]>,
    /// Only this floor (none: every floor).
    #[serde(default)]
    pub floor: Option<i32>,
    #[serde(default)]
    pub rules: ZoneRules,
}

/// Where the gate and positioning feeds come from over MQTT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedConfig {
    pub enabled: bool,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// TLS to the broker (system certificate authorities).
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub username: String,
    /// Sealed with the box's key (see `secrets`).
    #[serde(default)]
    pub password: crate::secrets::Secret,
    /// Topic filter of gate events (JSON, see docs), e.g. `plant/gate/#`.
    #[serde(default)]
    pub gate_topic: String,
    /// Topic filter of positions, e.g. `plant/rtls/#`.
    #[serde(default)]
    pub position_topic: String,
    /// Simulated people, vehicles and gate events (the demo plant); shown as simulated.
    #[serde(default)]
    pub simulate: bool,
}

fn default_port() -> u16 {
    1883
}

/// A post (岗位) that must be held during its shifts, by the people assigned to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Post {
    pub id: u64,
    pub name: String,
    /// The zone where the post is held.
    pub zone: u64,
    /// Minutes without the assigned person in the zone before the post counts as unmanned.
    #[serde(default = "default_grace")]
    pub grace_minutes: u32,
}

fn default_grace() -> u32 {
    10
}

/// A shift: daily from `from` to `to` (`HH:MM`, may cross midnight).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shift {
    pub id: u64,
    pub name: String,
    pub from: String,
    pub to: String,
}

/// Who holds a post in a shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assignment {
    pub id: u64,
    pub post: u64,
    pub shift: u64,
    pub person: u64,
}
