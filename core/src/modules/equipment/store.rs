//! Tables of 设备管理. Only `service` reads or writes them; other modules call the service.

use super::model::{
    Category, Document, Equipment, InspectionRoute, Plan, Round, WorkOrder, ZoneEvent, ZoneState,
};
use crate::modules::safety::archive::model::FileBlob;
use crate::store::Table;

pub(super) const CATEGORIES: Table<u64, Category> = Table::new("equipment.categories");
pub(super) const EQUIPMENT: Table<u64, Equipment> = Table::new("equipment.items");
/// Unique codes: `t:<位号>` → equipment, `c:<category code>` → category,
/// `w:<work order number>` → work order.
pub(super) const CODES: Table<String, u64> = Table::new("equipment.codes");
/// The role each bound tag has: tag name → (role id, equipment ids bound with it).
pub(super) const TAG_ROLES: Table<String, (String, Vec<u64>)> = Table::new("equipment.tag_roles");
/// Current zone of each vibration tag of each equipment: (equipment, tag).
pub(super) const ZONES: Table<String, ZoneState> = Table::new("equipment.zones");
/// Zone history: (equipment, time ms, sequence).
pub(super) const ZONE_HISTORY: Table<(u64, u64, u64), ZoneEvent> =
    Table::new("equipment.zone_history");
pub(super) const WORK_ORDERS: Table<u64, WorkOrder> = Table::new("equipment.work_orders");
/// Work orders by state: (state's place in `WoState::ALL`, order).
pub(super) const BY_STATE: Table<(u64, u64), ()> = Table::new("equipment.by_state");
/// Work orders by equipment: (equipment, order).
pub(super) const BY_EQUIPMENT: Table<(u64, u64), ()> = Table::new("equipment.by_equipment");
/// Photos of work orders: (order, file id).
pub(super) const FILES: Table<(u64, u64), FileBlob> = Table::new("equipment.files");
pub(super) const PLANS: Table<u64, Plan> = Table::new("equipment.plans");
/// Per-year work order number sequence: year → last number.
pub(super) const SEQ: Table<u64, u64> = Table::new("equipment.seq");
pub(super) const DOCUMENTS: Table<u64, Document> = Table::new("equipment.documents");
/// Documents by equipment: (equipment, document).
pub(super) const DOCS_BY_EQUIPMENT: Table<(u64, u64), ()> =
    Table::new("equipment.docs_by_equipment");
/// Document files: (document, file id).
pub(super) const DOC_FILES: Table<(u64, u64), FileBlob> = Table::new("equipment.doc_files");
pub(super) const ROUTES: Table<u64, InspectionRoute> = Table::new("equipment.routes");
pub(super) const ROUNDS: Table<u64, Round> = Table::new("equipment.rounds");
/// Rounds by route: (route, round).
pub(super) const ROUNDS_BY_ROUTE: Table<(u64, u64), ()> = Table::new("equipment.rounds_by_route");
