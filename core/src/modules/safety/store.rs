//! Tables of the safety module, declared here for its four areas; each area's service is
//! the only one that reads or writes its own.

use super::archive::model::{CertKind, Certificate, FileBlob};
use crate::store::Table;

/// Certificate kinds added or changed by the plant (built-in defaults are code).
pub(super) const KINDS: Table<String, CertKind> = Table::new("safety.cert_kinds");
pub(super) const CERTS: Table<u64, Certificate> = Table::new("safety.certificates");
/// Attachment bytes, keyed by (certificate id, file id).
pub(super) const FILES: Table<(u64, u64), FileBlob> = Table::new("safety.files");
/// Special work permits.
pub(super) const PERMITS: Table<u64, super::permits::model::Permit> = Table::new("safety.permits");
/// Approval chains and checklists the plant changed, by chain key (defaults are code).
pub(super) const CHAINS: Table<String, super::permits::model::ChainConfig> =
    Table::new("safety.permit_chains");
/// Signing duties of users, by user id.
pub(super) const DUTIES: Table<u64, Vec<super::permits::model::Duty>> = Table::new("safety.duties");
/// The holiday calendar (one row, key `calendar`).
pub(super) const CALENDAR: Table<String, super::permits::rules::Calendar> =
    Table::new("safety.permit_calendar");
/// Toxic-gas limits the plant changed (one row, key `gases`; default: GBZ 2.1 in code).
pub(super) const GAS_REFS: Table<String, Vec<super::permits::model::GasRef>> =
    Table::new("safety.gas_refs");

use super::people::model as pm;
/// The registry of people (employees, contractors, visitors).
pub(super) const PEOPLE: Table<u64, pm::Person> = Table::new("safety.people");
pub(super) const VEHICLES: Table<u64, pm::Vehicle> = Table::new("safety.vehicles");
/// Gates by code.
pub(super) const GATES: Table<String, pm::Gate> = Table::new("safety.gates");
pub(super) const GATE_EVENTS: Table<u64, pm::GateEvent> = Table::new("safety.gate_events");
/// Who is inside which area: `<area>\u{1f}p:<person>` or `…v:<vehicle>` → since (ms).
pub(super) const PRESENCE: Table<String, i64> = Table::new("safety.presence");
/// The plant map's size (one row, key `map`) and its layout image.
pub(super) const MAP: Table<String, pm::PlantMap> = Table::new("safety.map");
pub(super) const MAP_IMAGE: Table<String, FileBlob> = Table::new("safety.map_image");
pub(super) const ZONES: Table<u64, pm::Zone> = Table::new("safety.zones");
pub(super) const POSTS: Table<u64, pm::Post> = Table::new("safety.posts");
pub(super) const SHIFTS: Table<u64, pm::Shift> = Table::new("safety.shifts");
pub(super) const ASSIGNMENTS: Table<u64, pm::Assignment> = Table::new("safety.assignments");
/// Sampled positions for playback: (person, ms) → point.
pub(super) const TRACKS: Table<(u64, u64), super::people::tracking::TrackPoint> =
    Table::new("safety.tracks");
/// The MQTT feed settings (one row, key `feed`).
pub(super) const FEED: Table<String, pm::FeedConfig> = Table::new("safety.feed");

use super::hazards::model as hm;
/// The risk register (双重预防: 风险分级管控).
pub(super) const RISKS: Table<u64, hm::Risk> = Table::new("safety.risks");
pub(super) const TASKS: Table<u64, hm::Task> = Table::new("safety.tasks");
pub(super) const INSPECTIONS: Table<u64, hm::Inspection> = Table::new("safety.inspections");
/// Hidden dangers (隐患排查治理).
pub(super) const HAZARDS: Table<u64, hm::Hazard> = Table::new("safety.hazards");
/// Photos of hidden dangers, keyed by (hazard id, file id).
pub(super) const HAZARD_FILES: Table<(u64, u64), FileBlob> = Table::new("safety.hazard_files");
