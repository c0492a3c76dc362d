//! Records of 进销存: master data (materials, warehouses and locations, partners), lots,
//! the movement ledger and the balances it keeps, the storage rules of GB 15603 and the
//! module's settings. Quantities are in the material's base unit; days are `YYYY-MM-DD` in
//! plant time.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Another unit a material is counted in: `factor` base units make one `unit`
/// (a 200 kg drum: `{unit: "桶", factor: 200}` when the base unit is kg).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnitConv {
    pub unit: String,
    pub factor: f64,
}

/// What a material is to the plant (物料类别): reports and analyses group by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 原料
    Raw,
    /// 辅料 (initiators, neutralisers, solvents used up in the process)
    Auxiliary,
    /// 中间体
    Intermediate,
    /// 成品
    Product,
    /// 包装材料
    Packaging,
    /// 备品备件
    Spare,
    /// 其他 (materials kept before categories existed)
    #[default]
    Other,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Raw,
        Category::Auxiliary,
        Category::Intermediate,
        Category::Product,
        Category::Packaging,
        Category::Spare,
        Category::Other,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Category::Raw => "raw",
            Category::Auxiliary => "auxiliary",
            Category::Intermediate => "intermediate",
            Category::Product => "product",
            Category::Packaging => "packaging",
            Category::Spare => "spare",
            Category::Other => "other",
        }
    }

    /// By id or by its Chinese name (as a sheet may carry it); empty: `other`.
    pub fn parse(s: &str) -> Option<Category> {
        let s = s.trim();
        if s.is_empty() {
            return Some(Category::Other);
        }
        Category::ALL.into_iter().find(|c| {
            c.id().eq_ignore_ascii_case(s)
                || matches!(
                    (c, s),
                    (Category::Raw, "原料")
                        | (Category::Auxiliary, "辅料")
                        | (Category::Intermediate, "中间体")
                        | (Category::Product, "成品")
                        | (Category::Packaging, "包装材料" | "包材")
                        | (Category::Spare, "备品备件" | "备件")
                        | (Category::Other, "其他")
                )
        })
    }
}

/// A material (raw material, intermediate, finished product, spare).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Material {
    /// Assigned; send 0 to create.
    pub id: u64,
    /// Unique, e.g. `RM-TOL`.
    pub code: String,
    pub name: String,
    /// 规格型号
    #[serde(default)]
    pub spec: String,
    /// 物料类别 (`other` for materials kept before categories existed).
    #[serde(default)]
    pub category: Category,
    /// The unit stock is kept in (kg, L, 个…).
    pub base_unit: String,
    /// Other units and their factors to the base unit.
    #[serde(default)]
    pub units: Vec<UnitConv>,
    /// CAS number, checked by its check digit when given.
    #[serde(default)]
    pub cas: String,
    /// GHS hazard classes (GB 30000), e.g. `flam_liq_2`, `acute_tox_1`.
    #[serde(default)]
    pub ghs: Vec<String>,
    /// 危险化学品 (in the catalogue of hazardous chemicals).
    #[serde(default)]
    pub hazmat: bool,
    /// 剧毒化学品: two custodians for every movement (双人双锁), sales register.
    #[serde(default)]
    pub highly_toxic: bool,
    /// 易制毒化学品 class 1–3; 0: not a precursor chemical. Sales ledger kept two years.
    #[serde(default)]
    pub precursor_class: u8,
    /// 易制爆危险化学品: sales register, dedicated store.
    #[serde(default)]
    pub explosive_precursor: bool,
    /// Storage groups for the incompatibility rules (`oxidizer`, `flammable_liquid`…), one
    /// or more separated by commas (`oxidizer,acid` for nitric acid: each group's rules
    /// apply); empty: general goods.
    #[serde(default)]
    pub storage_group: String,
    /// Shelf life from receipt in days; 0: none.
    #[serde(default)]
    pub shelf_life_days: u32,
    /// Below this the shortage alarm is raised (base units; 0: none).
    #[serde(default)]
    pub safety_stock: f64,
    /// At or below this a requisition is proposed (0: none).
    #[serde(default)]
    pub reorder_point: f64,
    /// Above this the overstock alarm is raised (0: none).
    #[serde(default)]
    pub max_stock: f64,
    /// Standard cost per base unit (CNY), for stock value and ABC.
    #[serde(default)]
    pub unit_cost: f64,
    /// Price list: the selling price per base unit (CNY, without tax; 0: not sold).
    #[serde(default)]
    pub list_price: f64,
    /// The lowest price a sale may use without approval (0: none).
    #[serde(default)]
    pub floor_price: f64,
    #[serde(default = "yes")]
    pub active: bool,
    /// 来料检验: while the quality module is on, receipts of it arrive held and the quality
    /// module opens their incoming sample; the lot is released with the sample.
    #[serde(default)]
    pub inspect: bool,
}

fn yes() -> bool {
    true
}

/// The groups of a `storage_group` field (`oxidizer,acid`).
pub fn storage_groups(field: &str) -> impl Iterator<Item = &str> {
    field.split(',').map(str::trim).filter(|g| !g.is_empty())
}

impl Material {
    /// Whether the material must be kept in a dedicated hazardous-chemical store.
    pub fn needs_hazmat_store(&self) -> bool {
        self.hazmat || self.highly_toxic || self.explosive_precursor || self.precursor_class > 0
    }
    /// Whether sales go to the public-security register (剧毒 / 易制爆).
    pub fn registered_sale(&self) -> bool {
        self.highly_toxic || self.explosive_precursor
    }
}

/// A warehouse; a dedicated hazardous-chemical store names its custodians.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Warehouse {
    pub id: u64,
    pub code: String,
    pub name: String,
    /// 危险化学品专用仓库
    #[serde(default)]
    pub hazmat_store: bool,
    /// User ids of the custodians (保管员); a dedicated store needs two.
    #[serde(default)]
    pub custodians: Vec<u64>,
    /// A storage unit that is a major hazard installation (构成重大危险源, GB 18218-2018, as the
    /// plant's 重大危险源辨识 found): hazardous chemicals move in and out of it only with two
    /// people (a second custodian confirms), and it needs two custodians.
    #[serde(default)]
    pub major_hazard: bool,
    #[serde(default)]
    pub address: String,
    /// A consignment store (寄售仓) at this customer's site: its stock is still ours, goes
    /// there only on the customer's consignment orders and is invoiced when they report
    /// it used. Set by the service when the first consignment is delivered; not editable.
    #[serde(default)]
    pub consignee: Option<u64>,
}

/// A storage location inside a warehouse (a room, a bay, a tank).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Location {
    pub id: u64,
    pub warehouse: u64,
    /// Unique within the warehouse, e.g. `A-01`.
    pub code: String,
    #[serde(default)]
    pub name: String,
    /// What it may hold, in kg of materials counted by mass (0: no limit).
    #[serde(default)]
    pub capacity_kg: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartnerRole {
    Supplier,
    Customer,
    Both,
}

impl PartnerRole {
    pub fn sells_to_us(self) -> bool {
        matches!(self, PartnerRole::Supplier | PartnerRole::Both)
    }
    pub fn buys(self) -> bool {
        matches!(self, PartnerRole::Customer | PartnerRole::Both)
    }
}

/// Licences a trading partner of hazardous chemicals holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenceKind {
    /// 危险化学品经营许可证
    HazTrade,
    /// 安全生产许可证 (a producer selling its own products)
    HazProduction,
    /// 危险化学品安全使用许可证 (a user above the thresholds)
    HazUse,
    /// 剧毒化学品购买许可证
    ToxicPurchase,
    /// 易制毒化学品购买许可证 / 备案证明
    PrecursorPurchase,
    /// 易制爆危险化学品 buyer's record (单位合法用途说明 and 备案)
    ExplosivePurchase,
}

impl LicenceKind {
    pub const ALL: [LicenceKind; 6] = [
        LicenceKind::HazTrade,
        LicenceKind::HazProduction,
        LicenceKind::HazUse,
        LicenceKind::ToxicPurchase,
        LicenceKind::PrecursorPurchase,
        LicenceKind::ExplosivePurchase,
    ];
    pub fn id(self) -> &'static str {
        match self {
            LicenceKind::HazTrade => "haz_trade",
            LicenceKind::HazProduction => "haz_production",
            LicenceKind::HazUse => "haz_use",
            LicenceKind::ToxicPurchase => "toxic_purchase",
            LicenceKind::PrecursorPurchase => "precursor_purchase",
            LicenceKind::ExplosivePurchase => "explosive_purchase",
        }
    }
    pub fn parse(s: &str) -> Option<LicenceKind> {
        Self::ALL.into_iter().find(|k| k.id() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Licence {
    pub kind: LicenceKind,
    pub number: String,
    /// Last day of validity.
    pub expires: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub name: String,
    #[serde(default)]
    pub phone: String,
}

/// What a sales order over the customer's credit limit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditPolicy {
    /// Waits for approval (inventory approve).
    #[default]
    Approve,
    /// Refused outright.
    Block,
}

/// A supplier or customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Partner {
    pub id: u64,
    pub code: String,
    pub name: String,
    pub role: PartnerRole,
    /// 统一社会信用代码, checked like the company profile's.
    pub credit_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub licences: Vec<Licence>,
    /// CNY; 0: no credit (every order over the limit).
    #[serde(default)]
    pub credit_limit: f64,
    #[serde(default)]
    pub credit_policy: CreditPolicy,
    /// Payment terms in days after delivery.
    #[serde(default)]
    pub payment_days: u32,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// The customer's own price list (价格表): a sales order takes these prices by default,
    /// and a price below the line's floor (or, without one, below the agreed price) waits
    /// for approval. Materials without a line use their list and floor prices.
    #[serde(default)]
    pub prices: Vec<PartnerPrice>,
}

/// One line of a customer's price list (CNY per base unit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartnerPrice {
    pub material: u64,
    pub price: f64,
    /// 0: the agreed price itself is the floor.
    #[serde(default)]
    pub floor: f64,
}

impl PartnerPrice {
    /// Below this a sale to the customer needs approval.
    pub fn floor(&self) -> f64 {
        if self.floor > 0.0 {
            self.floor
        } else {
            self.price
        }
    }
}

/// Quality status of a lot, set by the quality module (or an inventory approver).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LotQuality {
    #[default]
    Released,
    /// 待检 / 冻结: may be moved within stores, not issued or shipped.
    Held,
    /// 不合格: may only be scrapped or returned to the supplier.
    Rejected,
}

impl LotQuality {
    pub fn id(self) -> &'static str {
        match self {
            LotQuality::Released => "released",
            LotQuality::Held => "held",
            LotQuality::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<LotQuality> {
        [LotQuality::Released, LotQuality::Held, LotQuality::Rejected]
            .into_iter()
            .find(|q| q.id() == s)
    }
}

/// A lot of one material, created by its receipt (or by production).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Lot {
    pub id: u64,
    pub material: u64,
    /// Our lot number, unique per material.
    pub number: String,
    #[serde(default)]
    pub supplier_lot: String,
    /// The supplier's partner id, if bought.
    #[serde(default)]
    pub supplier: Option<u64>,
    /// The purchase order it was received against.
    #[serde(default)]
    pub purchase_order: Option<u64>,
    pub received_ms: i64,
    /// Last day of use; none: does not expire.
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub quality: LotQuality,
    #[serde(default)]
    pub quality_note: String,
    #[serde(default)]
    pub quality_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MoveKind {
    /// Into stock from a supplier (creates the lot).
    Receipt,
    /// To production.
    Issue,
    /// Back from production.
    Return,
    /// Between locations.
    Transfer,
    /// A correction, up (`to`) or down (`from`), with a reason.
    Adjust,
    /// The result of a stock count, up or down.
    Count,
    Scrap,
    /// Out to a customer.
    Delivery,
}

impl MoveKind {
    pub const ALL: [MoveKind; 8] = [
        MoveKind::Receipt,
        MoveKind::Issue,
        MoveKind::Return,
        MoveKind::Transfer,
        MoveKind::Adjust,
        MoveKind::Count,
        MoveKind::Scrap,
        MoveKind::Delivery,
    ];
    pub fn id(self) -> &'static str {
        match self {
            MoveKind::Receipt => "receipt",
            MoveKind::Issue => "issue",
            MoveKind::Return => "return",
            MoveKind::Transfer => "transfer",
            MoveKind::Adjust => "adjust",
            MoveKind::Count => "count",
            MoveKind::Scrap => "scrap",
            MoveKind::Delivery => "delivery",
        }
    }
    pub fn parse(s: &str) -> Option<MoveKind> {
        Self::ALL.into_iter().find(|k| k.id() == s)
    }
    /// Takes stock out of the plant's use (the lot must be released and in date).
    pub fn consumes(self) -> bool {
        matches!(self, MoveKind::Issue | MoveKind::Delivery)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MoveState {
    Posted,
    /// A 剧毒 movement waiting for the second custodian (双人双锁).
    Pending,
    Cancelled,
}

/// One line of the stock ledger. Never changed once posted: corrections are new movements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Movement {
    pub id: u64,
    pub ts_ms: i64,
    pub kind: MoveKind,
    pub material: u64,
    pub lot: u64,
    /// Location the stock leaves.
    pub from: Option<u64>,
    /// Location the stock enters.
    pub to: Option<u64>,
    /// Base units, always positive; the direction is `from` / `to`.
    pub qty: f64,
    /// As entered (in `unit`).
    pub entered_qty: f64,
    pub unit: String,
    #[serde(default)]
    pub reason: String,
    /// The document it belongs to: `PO-12`, `SO-3`, `CNT-2`, a batch number…
    #[serde(default)]
    pub reference: String,
    /// Who posted it (actor label) and their user id (0 for the system, tokens, plugins).
    pub by: String,
    #[serde(default)]
    pub by_id: u64,
    /// The second custodian of a 剧毒 movement.
    #[serde(default)]
    pub second: String,
    pub state: MoveState,
    /// When it changed the balances.
    #[serde(default)]
    pub posted_ms: Option<i64>,
    /// The order line it receives or delivers.
    #[serde(default)]
    pub doc: Option<DocLine>,
}

/// Stock of one lot at one location. Kept by the posting transaction, never summed up
/// from the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    pub material: u64,
    pub location: u64,
    pub lot: u64,
    pub qty: f64,
    /// Last movement in or out (for slow-moving stock).
    pub last_move_ms: i64,
}

/// How far apart two storage groups must be kept (GB 15603-2022 储存方式), at the box's
/// granularity of stores (buildings) and locations (rooms, bays, marked areas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Separation {
    /// 分离贮存: not in the same store (another building).
    Store,
    /// 隔离 / 隔开贮存: not at the same location (kept apart by distance or aisles, or by a
    /// wall, within the same store).
    Location,
}

/// One incompatibility rule (禁忌): groups `a` and `b` kept apart as `separation` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StorageRule {
    pub a: String,
    pub b: String,
    pub separation: Separation,
    /// Why, shown in the refusal ("oxidizers feed a fire of flammable liquids").
    #[serde(default)]
    pub note: String,
}

/// The module's settings (one row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    /// Allow issues beyond the balance (stock goes negative). Off: refused.
    #[serde(default)]
    pub allow_negative: bool,
    /// Lots expiring within this many days raise the near-expiry alarm.
    pub near_expiry_days: u32,
    /// Stock not moved for this many days is slow-moving.
    pub slow_moving_days: u32,
    /// Purchase orders above this amount (CNY) need approval.
    pub po_approval_limit: f64,
    /// A purchase price further than this from the average of the last three raises an alert (%).
    pub price_deviation_pct: f64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            allow_negative: false,
            near_expiry_days: 30,
            slow_moving_days: 90,
            po_approval_limit: 50_000.0,
            price_deviation_pct: 10.0,
        }
    }
}

/// The document a movement belongs to, so that posting it (now, or when the second
/// custodian confirms) updates that document's line in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DocLine {
    Purchase {
        order: u64,
        line: u32,
    },
    Sales {
        order: u64,
        line: u32,
    },
    /// A stock count's variance.
    Count {
        count: u64,
    },
    /// Spare parts issued to (or returned from) a maintenance work order of the equipment
    /// module, which books them on the order in the same transaction.
    WorkOrder {
        order: u64,
    },
}

/// A purchase requisition: by hand, or proposed from the reorder point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Requisition {
    pub id: u64,
    pub material: u64,
    /// Base units.
    pub qty: f64,
    #[serde(default)]
    pub reason: String,
    /// Proposed by the box from the reorder point and planned use.
    #[serde(default)]
    pub proposed: bool,
    pub state: ReqState,
    #[serde(default)]
    pub purchase_order: Option<u64>,
    pub by: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReqState {
    Open,
    Ordered,
    Cancelled,
}

/// Where an order stands. Purchase and sales orders share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Waiting for approval (amount over the limit, a price alert, below floor price, over
    /// the credit limit).
    Pending,
    /// May be received / delivered.
    Approved,
    /// Every line received / delivered.
    Done,
    Cancelled,
}

impl OrderState {
    pub fn id(self) -> &'static str {
        match self {
            OrderState::Pending => "pending",
            OrderState::Approved => "approved",
            OrderState::Done => "done",
            OrderState::Cancelled => "cancelled",
        }
    }
}

/// A line of a purchase order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PoLine {
    pub material: u64,
    /// Base units ordered.
    pub qty: f64,
    /// CNY per base unit, without tax.
    pub price: f64,
    #[serde(default)]
    pub received: f64,
    /// Base units invoiced by the supplier.
    #[serde(default)]
    pub invoiced: f64,
    #[serde(default)]
    pub invoiced_amount: f64,
    /// How far the price is from the average of the material's last three purchase prices
    /// (%), when beyond the plant's threshold.
    #[serde(default)]
    pub price_alert: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseOrder {
    pub id: u64,
    pub supplier: u64,
    pub lines: Vec<PoLine>,
    pub state: OrderState,
    pub amount: f64,
    /// Why it waits for approval (catalogue keys).
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub requisitions: Vec<u64>,
    pub created_by: String,
    #[serde(default)]
    pub created_by_id: u64,
    pub created_ms: i64,
    #[serde(default)]
    pub approved_by: String,
    /// Paid to the supplier (CNY).
    #[serde(default)]
    pub paid: f64,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SalesKind {
    Standard,
    /// Free samples: no amount, no credit.
    Sample,
    /// Goods stay ours at the customer until used.
    Consignment,
    /// The customer sends goods back (a receipt).
    Return,
    /// To another site of the company (no amount, no credit).
    Transfer,
}

impl SalesKind {
    pub fn id(self) -> &'static str {
        match self {
            SalesKind::Standard => "standard",
            SalesKind::Sample => "sample",
            SalesKind::Consignment => "consignment",
            SalesKind::Return => "return",
            SalesKind::Transfer => "transfer",
        }
    }
    /// Whether the order is charged (and so uses credit).
    pub fn charged(self) -> bool {
        matches!(self, SalesKind::Standard | SalesKind::Consignment)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SoLine {
    pub material: u64,
    pub qty: f64,
    pub price: f64,
    #[serde(default)]
    pub delivered: f64,
    /// Consignment orders: what the customer reported used (and is invoiced), of what was
    /// delivered to the consignment store.
    #[serde(default)]
    pub consumed: f64,
}

/// Who fetches registered goods for the buyer (剧毒 / 易制爆 / 易制毒 sales registers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Handler {
    pub name: String,
    /// 居民身份证号码 (GB 11643 check digit).
    pub id_number: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SalesOrder {
    pub id: u64,
    pub customer: u64,
    pub kind: SalesKind,
    pub lines: Vec<SoLine>,
    pub state: OrderState,
    pub amount: f64,
    #[serde(default)]
    pub needs: Vec<String>,
    /// The credit check when the order was placed.
    #[serde(default)]
    pub credit_used: f64,
    #[serde(default)]
    pub credit_limit: f64,
    /// 用途: what the buyer uses registered goods for.
    #[serde(default)]
    pub end_use: String,
    #[serde(default)]
    pub handler: Handler,
    #[serde(default)]
    pub ship_to: String,
    pub strategy: super::rules::Strategy,
    pub created_by: String,
    #[serde(default)]
    pub created_by_id: u64,
    pub created_ms: i64,
    #[serde(default)]
    pub approved_by: String,
    /// Received from the customer (CNY).
    #[serde(default)]
    pub paid: f64,
    /// Delivered value (CNY), what the customer owes once delivered.
    #[serde(default)]
    pub delivered_amount: f64,
    #[serde(default)]
    pub last_delivery_ms: Option<i64>,
}

/// One line of the public-security sales registers (剧毒 / 易制爆 kept ≥ 1 year, 易制毒
/// kept 2 years), written with the delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegisterEntry {
    pub ts_ms: i64,
    pub movement: u64,
    pub sales_order: u64,
    /// `toxic` (剧毒), `explosive` (易制爆) or `precursor` (易制毒).
    pub register: String,
    pub buyer: String,
    pub buyer_credit_code: String,
    pub address: String,
    pub handler: String,
    pub handler_id: String,
    pub material_code: String,
    pub material_name: String,
    pub cas: String,
    pub qty: f64,
    pub unit: String,
    pub lot: String,
    pub end_use: String,
    /// The buyer's licence numbers the sale relied on.
    pub licences: String,
    pub by: String,
}

/// A purchase price, for the supplier price history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PricePoint {
    pub ts_ms: i64,
    pub supplier: u64,
    pub purchase_order: u64,
    pub price: f64,
}
