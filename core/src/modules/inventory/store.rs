//! Tables of 进销存. Only `service` reads or writes them; other modules call the service.

use super::model::{
    Balance, Location, Lot, Material, Movement, Partner, PricePoint, PurchaseOrder, RegisterEntry,
    Requisition, SalesOrder, Settings, StorageRule, Warehouse,
};
use crate::store::Table;

pub(super) const MATERIALS: Table<u64, Material> = Table::new("inventory.materials");
pub(super) const WAREHOUSES: Table<u64, Warehouse> = Table::new("inventory.warehouses");
pub(super) const LOCATIONS: Table<u64, Location> = Table::new("inventory.locations");
pub(super) const PARTNERS: Table<u64, Partner> = Table::new("inventory.partners");
/// Unique codes: `m:<material>`, `w:<warehouse>`, `l:<warehouse id>:<location>`,
/// `p:<partner>`, `lot:<material id>:<lot number>` → id.
pub(super) const CODES: Table<String, u64> = Table::new("inventory.codes");
pub(super) const LOTS: Table<u64, Lot> = Table::new("inventory.lots");
/// The ledger of posted movements, by id.
pub(super) const LEDGER: Table<u64, Movement> = Table::new("inventory.ledger");
/// 剧毒 movements waiting for the second custodian, by id (ids from the ledger's sequence).
pub(super) const PENDING: Table<u64, Movement> = Table::new("inventory.pending");
/// Ledger index: (material, posted ms, movement id).
pub(super) const BY_MATERIAL: Table<(u64, u64, u64), ()> = Table::new("inventory.by_material");
/// Ledger index: (lot, movement id).
pub(super) const BY_LOT: Table<(u64, u64), ()> = Table::new("inventory.by_lot");
/// What a pivot reads of each posted movement, by movement id (`service::analysis`): a few
/// numbers instead of the whole record, written with the movement.
pub(super) const PIVOT_ROWS: Table<u64, super::service::analysis::PivotRow> =
    Table::new("inventory.pivot_rows");
/// `rows`: present once every posted movement has its pivot row (older ledgers are filled
/// in at start).
pub(super) const PIVOT_META: Table<String, u64> = Table::new("inventory.pivot_meta");
/// Balances by (material, location, lot); a balance that reaches zero is removed.
pub(super) const BALANCES: Table<(u64, u64, u64), Balance> = Table::new("inventory.balances");
/// What each location holds per material (sum of its lots), for put-away checks.
pub(super) const AT_LOCATION: Table<(u64, u64), f64> = Table::new("inventory.at_location");
/// One row each: `settings`, `rules`.
pub(super) const SETTINGS: Table<String, Settings> = Table::new("inventory.settings");
pub(super) const RULES: Table<String, Vec<StorageRule>> = Table::new("inventory.storage_rules");
pub(super) const REQUISITIONS: Table<u64, Requisition> = Table::new("inventory.requisitions");
pub(super) const PURCHASE_ORDERS: Table<u64, PurchaseOrder> =
    Table::new("inventory.purchase_orders");
pub(super) const SALES_ORDERS: Table<u64, SalesOrder> = Table::new("inventory.sales_orders");
/// Purchase prices by (material, ms, purchase order), for the price history and alerts.
pub(super) const PRICES: Table<(u64, u64, u64), PricePoint> = Table::new("inventory.prices");
/// The sales registers: `<register>\u{1f}<ms hex>\u{1f}<movement hex>` → entry. Never
/// deleted: 剧毒 / 易制爆 entries are kept at least one year, 易制毒 two.
pub(super) const REGISTER: Table<String, RegisterEntry> = Table::new("inventory.register");
/// Stock counts (盘点), by id.
pub(super) const COUNTS: Table<u64, super::service::counts::StockCount> =
    Table::new("inventory.counts");
/// The scope of each open count (warehouse, location), so that posting checks the freeze
/// without reading every count ever made.
pub(super) const OPEN_COUNTS: Table<u64, super::service::counts::Scope> =
    Table::new("inventory.open_counts");
