//! Purchasing and sales, written by the inventory service: requisitions (by hand or
//! proposed from reorder points), purchase orders with approval by amount and price alerts,
//! receipts by lot against them, invoice matching; sales orders with price-list floors, the
//! live credit check and buyers' licences, deliveries by lot (FEFO / FIFO), the public-
//! security sales registers, payments, and the receivables and payables summaries.
//!
//! A receipt or delivery is a stock movement carrying its order line (`Movement::doc`): when
//! it posts (at once, or when the second custodian confirms a 剧毒 movement) `posted`
//! updates the line in the same transaction.

use std::collections::HashMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::super::model::{
    DocLine, Handler, Location, Material, MoveKind, Movement, OrderState, Partner, PoLine,
    PricePoint, PurchaseOrder, RegisterEntry, ReqState, Requisition, SalesKind, SalesOrder, SoLine,
    Warehouse,
};
use super::super::rules::{self, Credit, Pickable, Strategy};
use super::super::store::{
    BALANCES, CODES, LOCATIONS, PENDING, PRICES, PURCHASE_ORDERS, REGISTER, REQUISITIONS,
    SALES_ORDERS, WAREHOUSES,
};
use super::{MoveInput, Posted, Posting, material, partner, post_in, settings, totals, user_id};
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Order, Reader, Store, WriteTx};

fn price(field: &'static str, v: f64) -> Result<()> {
    if !v.is_finite() || !(0.0..=1e9).contains(&v) {
        return Err(Error::invalid(field, "inventory.err.price"));
    }
    Ok(())
}

fn money2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A document (order, count) may be approved by an approver, while it waits, and not by
/// the one who made it (compared by user, or by label for tokens and the system);
/// `own_key` is the refusal for the latter.
pub(super) fn approvable(
    actor: &Actor,
    can_approve: bool,
    state: OrderState,
    created_by_id: u64,
    created_by: &str,
    own_key: &'static str,
) -> Result<()> {
    if !can_approve {
        return Err(Error::Forbidden(Msg::new("inventory.err.approver")));
    }
    if state != OrderState::Pending {
        return Err(Error::Conflict(Msg::new("inventory.err.not_pending")));
    }
    if (created_by_id != 0 && user_id(actor) == created_by_id) || actor.label() == created_by {
        return Err(Error::Conflict(Msg::new(own_key)));
    }
    Ok(())
}

/// `paid` after a payment of `amount` (greater than zero, and not past the order's total).
fn paid(paid: f64, amount: f64, total: f64) -> Result<f64> {
    price("amount", amount)?;
    if amount <= 0.0 {
        return Err(Error::invalid("amount", "inventory.err.amount"));
    }
    if paid + amount > total + 0.005 {
        return Err(Error::invalid_msg(
            "amount",
            Msg::new("inventory.err.overpaid")
                .arg("total", total)
                .arg("paid", paid),
        ));
    }
    Ok(money2(paid + amount))
}

// ------------------------------------------------------------------ requisitions

pub fn requisitions(r: &impl Reader) -> Result<Vec<Requisition>> {
    Ok(r.values(&REQUISITIONS)?)
}

/// A requisition by hand.
pub fn requisition(
    store: &Store,
    actor: &Actor,
    material_id: u64,
    qty: f64,
    unit: &str,
    reason: &str,
    now_ms: i64,
) -> Result<Requisition> {
    let mut w = store.write(actor)?;
    let m = material(&w, material_id)
        .map_err(|_| Error::invalid("material", "inventory.err.material_not_found"))?;
    let x = Requisition {
        id: w.next_id(&REQUISITIONS)?,
        material: m.id,
        qty: rules::to_base(&m, qty, unit)?,
        reason: text("reason", reason, 200, false)?,
        proposed: false,
        state: ReqState::Open,
        purchase_order: None,
        by: actor.label(),
        created_ms: now_ms,
    };
    w.insert(&REQUISITIONS, &x.id, &x)?;
    w.audit(
        "inventory.requisition.create",
        format!("requisition:{} {}", x.id, m.code),
        Change::created(&x),
    );
    w.commit()?;
    Ok(x)
}

/// Proposes requisitions for every material whose stock, with what is on order and the
/// planned use over `lead_days` (the average daily issues of the last 30 days), falls to
/// its reorder point; materials with an open requisition are skipped. Returns the new ones.
pub fn propose_requisitions(
    store: &Store,
    lead_days: f64,
    now_ms: i64,
) -> Result<Vec<Requisition>> {
    let r = store.read()?;
    let mats = super::materials(&r)?;
    let have = totals(&r)?;
    let open: Vec<u64> = requisitions(&r)?
        .into_iter()
        .filter(|q| q.state == ReqState::Open)
        .map(|q| q.material)
        .collect();
    let on_order = on_order(&r)?;
    let since = now_ms - 30 * 86_400_000;
    let mut out = Vec::new();
    for m in mats.iter().filter(|m| m.active && m.reorder_point > 0.0) {
        if open.contains(&m.id) {
            continue;
        }
        let used: f64 = super::ledger(&r, Some(m.id), since, now_ms + 1, 100_000)?
            .iter()
            .filter(|x| x.kind == MoveKind::Issue)
            .map(|x| x.qty)
            .sum();
        if let Some(q) = rules::reorder_qty(
            have.get(&m.id).copied().unwrap_or(0.0),
            on_order.get(&m.id).copied().unwrap_or(0.0),
            m.reorder_point,
            m.max_stock,
            used / 30.0,
            lead_days,
        ) {
            out.push((m.clone(), q));
        }
    }
    drop(r);
    if out.is_empty() {
        return Ok(Vec::new());
    }
    let mut w = store.write(&Actor::system("reorder"))?;
    let mut made = Vec::new();
    for (m, qty) in out {
        let x = Requisition {
            id: w.next_id(&REQUISITIONS)?,
            material: m.id,
            qty,
            reason: String::new(),
            proposed: true,
            state: ReqState::Open,
            purchase_order: None,
            by: "system:reorder".into(),
            created_ms: now_ms,
        };
        w.insert(&REQUISITIONS, &x.id, &x)?;
        w.audit(
            "inventory.requisition.create",
            format!("requisition:{} {}", x.id, m.code),
            Change::created(&x),
        );
        made.push(x);
    }
    w.commit()?;
    Ok(made)
}

/// Base units ordered and not yet received, per material (approved and pending orders).
fn on_order(r: &impl Reader) -> Result<HashMap<u64, f64>> {
    let mut out: HashMap<u64, f64> = HashMap::new();
    for po in purchase_orders(r)? {
        if matches!(po.state, OrderState::Pending | OrderState::Approved) {
            for l in &po.lines {
                *out.entry(l.material).or_default() += (l.qty - l.received).max(0.0);
            }
        }
    }
    Ok(out)
}

/// Base units of 剧毒 movements for an order line that wait for their second custodian.
fn pending_on(r: &impl Reader, doc: DocLine) -> Result<f64> {
    Ok(r.all(&PENDING)?
        .into_iter()
        .filter(|(_, m)| m.doc == Some(doc))
        .map(|(_, m)| m.qty)
        .sum())
}

/// Whether any movement of order `order` waits for its second custodian.
fn has_pending(r: &impl Reader, order: DocLine) -> Result<bool> {
    let same = |d: &DocLine| match (d, order) {
        (DocLine::Purchase { order: a, .. }, DocLine::Purchase { order: b, .. })
        | (DocLine::Sales { order: a, .. }, DocLine::Sales { order: b, .. }) => *a == b,
        _ => false,
    };
    Ok(r.all(&PENDING)?
        .into_iter()
        .any(|(_, m)| m.doc.as_ref().is_some_and(same)))
}

/// Checks, when the second custodian confirms a movement of an order line, that the order
/// is still open, the line has room for it, and (deliveries) the buyer's licences hold.
pub(super) fn check_pending(
    r: &impl Reader,
    doc: DocLine,
    qty: f64,
    m: &Material,
    today: time::Date,
) -> Result<()> {
    match doc {
        DocLine::Purchase { order, line } => {
            let po = purchase_order(r, order)?;
            if po.state != OrderState::Approved {
                return Err(Error::Conflict(Msg::new("inventory.err.not_approved")));
            }
            let l = po
                .lines
                .get(line as usize)
                .ok_or_else(|| Error::invalid("line", "inventory.err.line"))?;
            if l.received + pending_on(r, doc)? + qty > l.qty * 1.1 + rules::EPS {
                return Err(Error::invalid("qty", "inventory.err.over_receipt_pending"));
            }
        }
        DocLine::Sales { order, line } => {
            let so = sales_order(r, order)?;
            if so.state != OrderState::Approved {
                return Err(Error::Conflict(Msg::new("inventory.err.not_approved")));
            }
            let l = so
                .lines
                .get(line as usize)
                .ok_or_else(|| Error::invalid("line", "inventory.err.line"))?;
            if l.delivered + pending_on(r, doc)? + qty > l.qty + rules::EPS {
                return Err(Error::invalid("qty", "inventory.err.over_delivery_pending"));
            }
            if so.kind != SalesKind::Return {
                rules::check_buyer(m, &partner(r, so.customer)?, today)?;
            }
        }
        DocLine::Count { .. } | DocLine::WorkOrder { .. } => {}
    }
    Ok(())
}

// ------------------------------------------------------------------ purchase orders

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LineInput {
    pub material: u64,
    pub qty: f64,
    /// Default: the base unit.
    #[serde(default)]
    pub unit: String,
    /// CNY per base unit, without tax. Sales: default the price list's.
    #[serde(default)]
    pub price: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PoInput {
    pub supplier: u64,
    pub lines: Vec<LineInput>,
    /// Open requisitions this order covers.
    #[serde(default)]
    pub requisitions: Vec<u64>,
    #[serde(default)]
    pub note: String,
}

pub fn purchase_orders(r: &impl Reader) -> Result<Vec<PurchaseOrder>> {
    Ok(r.values(&PURCHASE_ORDERS)?)
}

pub fn purchase_order(r: &impl Reader, id: u64) -> Result<PurchaseOrder> {
    r.get(&PURCHASE_ORDERS, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.order_not_found"))
}

/// The last purchase prices of a material, oldest first.
pub fn price_history(r: &impl Reader, material: u64) -> Result<Vec<PricePoint>> {
    let mut v = Vec::new();
    r.visit(
        &PRICES,
        (material, 0, 0)..(material + 1, 0, 0),
        Order::Asc,
        |_, p| {
            v.push(p);
            ControlFlow::Continue(())
        },
    )?;
    Ok(v)
}

fn lines_checked(w: &WriteTx, input: &[LineInput]) -> Result<Vec<(Material, f64, Option<f64>)>> {
    if input.is_empty() || input.len() > 200 {
        return Err(Error::invalid("lines", "inventory.err.lines"));
    }
    input
        .iter()
        .map(|l| {
            let m = material(w, l.material)
                .map_err(|_| Error::invalid("material", "inventory.err.material_not_found"))?;
            if !m.active {
                return Err(Error::invalid(
                    "material",
                    "inventory.err.material_inactive",
                ));
            }
            let qty = rules::to_base(&m, l.qty, &l.unit)?;
            if let Some(p) = l.price {
                price("price", p)?;
            }
            Ok((m, qty, l.price))
        })
        .collect()
}

/// Places a purchase order. It waits for approval when its amount is over the plant's
/// limit or a price is far from the last ones; a seller of hazardous chemicals must hold a
/// valid licence.
pub fn create_po(
    store: &Store,
    actor: &Actor,
    input: PoInput,
    p: Posting,
) -> Result<PurchaseOrder> {
    let mut w = store.write(actor)?;
    let s = settings(&w)?;
    let sup = partner(&w, input.supplier)
        .map_err(|_| Error::invalid("supplier", "inventory.err.partner_not_found"))?;
    if !sup.role.sells_to_us() {
        return Err(Error::invalid("supplier", "inventory.err.not_supplier"));
    }
    let mut lines = Vec::new();
    for (m, qty, pr) in lines_checked(&w, &input.lines)? {
        rules::check_seller(&m, &sup, p.today)?;
        let price = pr.ok_or_else(|| Error::invalid("price", "inventory.err.price"))?;
        let history: Vec<f64> = price_history(&w, m.id)?.iter().map(|x| x.price).collect();
        lines.push(PoLine {
            material: m.id,
            qty,
            price,
            received: 0.0,
            invoiced: 0.0,
            invoiced_amount: 0.0,
            price_alert: rules::price_deviation(price, &history, s.price_deviation_pct),
        });
    }
    let amount = money2(lines.iter().map(|l| l.qty * l.price).sum());
    let mut needs = Vec::new();
    if amount > s.po_approval_limit {
        needs.push("amount".to_string());
    }
    if lines.iter().any(|l| l.price_alert.is_some()) {
        needs.push("price".to_string());
    }
    let id = w.next_id(&PURCHASE_ORDERS)?;
    for rq in &input.requisitions {
        let mut q = w
            .get(&REQUISITIONS, rq)?
            .filter(|q| q.state == ReqState::Open)
            .ok_or_else(|| Error::invalid("requisitions", "inventory.err.requisition"))?;
        q.state = ReqState::Ordered;
        q.purchase_order = Some(id);
        w.insert(&REQUISITIONS, rq, &q)?;
    }
    let po = PurchaseOrder {
        id,
        supplier: sup.id,
        lines,
        state: if needs.is_empty() {
            OrderState::Approved
        } else {
            OrderState::Pending
        },
        amount,
        needs,
        requisitions: input.requisitions,
        created_by: actor.label(),
        created_by_id: user_id(actor),
        created_ms: p.now_ms,
        approved_by: String::new(),
        paid: 0.0,
        note: text("note", &input.note, 500, false)?,
    };
    if po.state == OrderState::Approved {
        record_prices(&mut w, &po, p.now_ms)?;
    }
    w.insert(&PURCHASE_ORDERS, &po.id, &po)?;
    w.audit(
        "inventory.purchase.create",
        format!("PO-{} {}", po.id, sup.name),
        Change::created(&po),
    );
    w.commit()?;
    Ok(po)
}

fn record_prices(w: &mut WriteTx, po: &PurchaseOrder, now_ms: i64) -> Result<()> {
    for l in &po.lines {
        w.insert(
            &PRICES,
            &(l.material, now_ms.max(0) as u64, po.id),
            &PricePoint {
                ts_ms: now_ms,
                supplier: po.supplier,
                purchase_order: po.id,
                price: l.price,
            },
        )?;
    }
    Ok(())
}

/// What can be done to a purchase order.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum PoAction {
    /// Approve a pending order (inventory approve; not the one who placed it).
    Approve,
    /// Cancel an order nothing was received against.
    Cancel,
    /// Receive goods by lot into a location.
    Receive { lines: Vec<ReceiveLine> },
    /// The supplier's invoice for a line: quantity and amount.
    Invoice { line: u32, qty: f64, amount: f64 },
    /// A payment to the supplier.
    Pay { amount: f64 },
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ReceiveLine {
    /// Index of the order line (0-based).
    pub line: u32,
    pub qty: f64,
    #[serde(default)]
    pub unit: String,
    pub lot_number: String,
    #[serde(default)]
    pub supplier_lot: String,
    #[serde(default)]
    pub expires: Option<String>,
    pub to: u64,
}

/// Runs an action on a purchase order; receipts post their movements in the same
/// transaction. Returns the order and the movements posted (or waiting).
pub fn po_act(
    store: &Store,
    actor: &Actor,
    id: u64,
    action: PoAction,
    can_approve: bool,
    p: Posting,
) -> Result<(PurchaseOrder, Vec<Posted>)> {
    let mut w = store.write(actor)?;
    let before = purchase_order(&w, id)?;
    let mut po = before.clone();
    let mut posted = Vec::new();
    let code = match action {
        PoAction::Approve => {
            approvable(
                actor,
                can_approve,
                po.state,
                po.created_by_id,
                &po.created_by,
                "inventory.err.own_order",
            )?;
            po.state = OrderState::Approved;
            po.approved_by = actor.label();
            record_prices(&mut w, &po, p.now_ms)?;
            "inventory.purchase.approve"
        }
        PoAction::Cancel => {
            if po.lines.iter().any(|l| l.received > 0.0)
                || po.state == OrderState::Cancelled
                || has_pending(
                    &w,
                    DocLine::Purchase {
                        order: po.id,
                        line: 0,
                    },
                )?
            {
                return Err(Error::Conflict(Msg::new("inventory.err.cannot_cancel")));
            }
            po.state = OrderState::Cancelled;
            for rq in &po.requisitions {
                if let Some(mut q) = w.get(&REQUISITIONS, rq)? {
                    q.state = ReqState::Open;
                    q.purchase_order = None;
                    w.insert(&REQUISITIONS, rq, &q)?;
                }
            }
            "inventory.purchase.cancel"
        }
        PoAction::Receive { lines } => {
            if po.state != OrderState::Approved {
                return Err(Error::Conflict(Msg::new("inventory.err.not_approved")));
            }
            if lines.is_empty() {
                return Err(Error::invalid("lines", "inventory.err.lines"));
            }
            // the order is saved first so that `posted` finds it and adds what arrives
            w.insert(&PURCHASE_ORDERS, &po.id, &po)?;
            for rl in lines {
                let line = po
                    .lines
                    .get(rl.line as usize)
                    .ok_or_else(|| Error::invalid("line", "inventory.err.line"))?
                    .clone();
                let m = material(&w, line.material)?;
                let qty = rules::to_base(&m, rl.qty, &rl.unit)?;
                let current = purchase_order(&w, po.id)?.lines[rl.line as usize].received
                    + pending_on(
                        &w,
                        DocLine::Purchase {
                            order: po.id,
                            line: rl.line,
                        },
                    )?;
                if current + qty > line.qty * 1.1 + rules::EPS {
                    // 10 % over-delivery tolerance, as common in chemical supply
                    return Err(Error::invalid_msg(
                        "qty",
                        Msg::new("inventory.err.over_receipt")
                            .arg("ordered", line.qty)
                            .arg("received", rules::round3(current)),
                    ));
                }
                let input = MoveInput {
                    kind: Some(MoveKind::Receipt),
                    material: m.id,
                    lot_number: rl.lot_number,
                    supplier_lot: rl.supplier_lot,
                    supplier: Some(po.supplier),
                    expires: rl.expires,
                    to: Some(rl.to),
                    // as entered (2 桶): the ledger keeps both, posting converts
                    qty: rl.qty,
                    unit: rl.unit.clone(),
                    reference: format!("PO-{}", po.id),
                    purchase_order: Some(po.id),
                    doc: Some(DocLine::Purchase {
                        order: po.id,
                        line: rl.line,
                    }),
                    ..Default::default()
                };
                posted.push(post_in(&mut w, actor, input, p)?);
            }
            po = purchase_order(&w, po.id)?;
            "inventory.purchase.receive"
        }
        PoAction::Invoice { line, qty, amount } => {
            price("amount", amount)?;
            let l = po
                .lines
                .get_mut(line as usize)
                .ok_or_else(|| Error::invalid("line", "inventory.err.line"))?;
            if !qty.is_finite() || qty <= 0.0 || l.invoiced + qty > l.received + rules::EPS {
                return Err(Error::invalid("qty", "inventory.err.over_invoice"));
            }
            l.invoiced += qty;
            l.invoiced_amount = money2(l.invoiced_amount + amount);
            "inventory.purchase.invoice"
        }
        PoAction::Pay { amount } => {
            po.paid = paid(po.paid, amount, po.amount)?;
            "inventory.purchase.pay"
        }
    };
    w.insert(&PURCHASE_ORDERS, &po.id, &po)?;
    w.audit(code, format!("PO-{}", po.id), Change::updated(&before, &po));
    w.commit()?;
    Ok((po, posted))
}

/// Ordered, received and invoiced per line (the three-way matching summary).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Matching {
    pub line: u32,
    pub material: u64,
    pub ordered: f64,
    pub received: f64,
    pub invoiced: f64,
    pub ordered_amount: f64,
    pub received_amount: f64,
    pub invoiced_amount: f64,
    /// Invoiced amount minus the invoiced quantity at the order's price (a price variance).
    pub difference: f64,
}

pub fn matching(po: &PurchaseOrder) -> Vec<Matching> {
    po.lines
        .iter()
        .enumerate()
        .map(|(i, l)| Matching {
            line: i as u32,
            material: l.material,
            ordered: l.qty,
            received: l.received,
            invoiced: l.invoiced,
            ordered_amount: money2(l.qty * l.price),
            received_amount: money2(l.received * l.price),
            invoiced_amount: l.invoiced_amount,
            difference: money2(l.invoiced_amount - l.invoiced * l.price),
        })
        .collect()
}

// ------------------------------------------------------------------ sales orders

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SoInput {
    pub customer: u64,
    pub kind: SalesKind,
    pub lines: Vec<LineInput>,
    /// 用途, required for registered goods (剧毒, 易制爆, 易制毒).
    #[serde(default)]
    pub end_use: String,
    /// Who fetches registered goods, with their ID number.
    #[serde(default)]
    pub handler: Handler,
    #[serde(default)]
    pub ship_to: String,
    /// Default FEFO.
    #[serde(default)]
    pub strategy: Option<Strategy>,
}

pub fn sales_orders(r: &impl Reader) -> Result<Vec<SalesOrder>> {
    Ok(r.values(&SALES_ORDERS)?)
}

pub fn sales_order(r: &impl Reader, id: u64) -> Result<SalesOrder> {
    r.get(&SALES_ORDERS, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.order_not_found"))
}

/// What a customer's credit stands at: open orders' undelivered value and deliveries not
/// yet paid, leaving out order `except`.
/// What of a line the customer is invoiced for: what was delivered, or on consignment what
/// they reported used.
fn billed(kind: SalesKind, l: &SoLine) -> f64 {
    if kind == SalesKind::Consignment {
        l.consumed
    } else {
        l.delivered
    }
}

pub fn credit_in_use(r: &impl Reader, customer: u64, except: Option<u64>) -> Result<(f64, f64)> {
    let mut open = 0.0;
    let mut unpaid = 0.0;
    for so in sales_orders(r)? {
        if so.customer != customer || Some(so.id) == except || !so.kind.charged() {
            continue;
        }
        if matches!(so.state, OrderState::Pending | OrderState::Approved) {
            open += so
                .lines
                .iter()
                .map(|l| (l.qty - billed(so.kind, l)).max(0.0) * l.price)
                .sum::<f64>();
        }
        if so.state != OrderState::Cancelled {
            unpaid += (so.delivered_amount - so.paid).max(0.0);
        }
    }
    Ok((money2(open), money2(unpaid)))
}

/// The real-time credit check of an order of `amount` for `c`.
pub fn credit_check(
    r: &impl Reader,
    c: &Partner,
    amount: f64,
    except: Option<u64>,
) -> Result<Credit> {
    let (open_orders, unpaid) = credit_in_use(r, c.id, except)?;
    Ok(Credit {
        limit: c.credit_limit,
        open_orders,
        unpaid,
        this_order: amount,
    })
}

fn registered(m: &Material) -> bool {
    m.registered_sale() || m.precursor_class > 0
}

/// Takes a sales order. Buyers of hazardous chemicals need valid licences (refused
/// otherwise); registered goods need the handler with a valid ID number and the end use;
/// a price below the floor, or an order over the credit limit, waits for approval — or,
/// when the customer's policy says so, is refused.
pub fn create_so(store: &Store, actor: &Actor, input: SoInput, p: Posting) -> Result<SalesOrder> {
    let mut w = store.write(actor)?;
    let c = partner(&w, input.customer)
        .map_err(|_| Error::invalid("customer", "inventory.err.partner_not_found"))?;
    if !c.role.buys() {
        return Err(Error::invalid("customer", "inventory.err.not_customer"));
    }
    let checked = lines_checked(&w, &input.lines)?;
    let mut lines = Vec::new();
    let mut needs = Vec::new();
    let mut any_registered = false;
    for (m, qty, pr) in checked {
        if input.kind != SalesKind::Return {
            rules::check_buyer(&m, &c, p.today)?;
        }
        any_registered |= registered(&m);
        // the customer's price list first, then the material's list and floor prices
        let agreed = c.prices.iter().find(|x| x.material == m.id);
        let (list, floor) = match agreed {
            Some(x) => (x.price, x.floor()),
            None => (m.list_price, m.floor_price),
        };
        let price = match (input.kind.charged(), pr) {
            (false, _) => pr.unwrap_or(0.0),
            (true, Some(x)) => x,
            (true, None) if list > 0.0 => list,
            (true, None) => return Err(Error::invalid("price", "inventory.err.no_list_price")),
        };
        if input.kind.charged()
            && floor > 0.0
            && price < floor - 1e-9
            && !needs.contains(&"floor".to_string())
        {
            needs.push("floor".to_string());
        }
        lines.push(SoLine {
            material: m.id,
            qty,
            price,
            delivered: 0.0,
            consumed: 0.0,
        });
    }
    let end_use = text("end_use", &input.end_use, 200, false)?;
    let handler = Handler {
        name: text("handler", &input.handler.name, 50, false)?,
        id_number: input.handler.id_number.trim().to_uppercase(),
    };
    if any_registered && input.kind != SalesKind::Return {
        if handler.name.is_empty() {
            return Err(Error::invalid("handler", "inventory.err.handler"));
        }
        if !rules::id_number_ok(&handler.id_number) {
            return Err(Error::invalid("handler_id", "inventory.err.id_number"));
        }
        if end_use.is_empty() {
            return Err(Error::invalid("end_use", "inventory.err.end_use"));
        }
        // the registers carry the buyer's address
        if input.ship_to.trim().is_empty() && c.address.trim().is_empty() {
            return Err(Error::invalid("ship_to", "inventory.err.address"));
        }
    }
    let amount = if input.kind.charged() {
        money2(lines.iter().map(|l| l.qty * l.price).sum())
    } else {
        0.0
    };
    let credit = credit_check(&w, &c, amount, None)?;
    if input.kind.charged() && credit.over() {
        match c.credit_policy {
            super::super::model::CreditPolicy::Block => {
                return Err(Error::invalid_msg(
                    "customer",
                    Msg::new("inventory.err.credit_blocked")
                        .arg("used", money2(credit.used()))
                        .arg("limit", c.credit_limit),
                ));
            }
            super::super::model::CreditPolicy::Approve => needs.push("credit".to_string()),
        }
    }
    let so = SalesOrder {
        id: w.next_id(&SALES_ORDERS)?,
        customer: c.id,
        kind: input.kind,
        lines,
        state: if needs.is_empty() {
            OrderState::Approved
        } else {
            OrderState::Pending
        },
        amount,
        needs,
        credit_used: money2(credit.used()),
        credit_limit: c.credit_limit,
        end_use,
        handler,
        ship_to: text("ship_to", &input.ship_to, 200, false)?,
        strategy: input.strategy.unwrap_or(Strategy::Fefo),
        created_by: actor.label(),
        created_by_id: user_id(actor),
        created_ms: p.now_ms,
        approved_by: String::new(),
        paid: 0.0,
        delivered_amount: 0.0,
        last_delivery_ms: None,
    };
    w.insert(&SALES_ORDERS, &so.id, &so)?;
    w.audit(
        "inventory.sales.create",
        format!("SO-{} {}", so.id, c.name),
        Change::created(&so),
    );
    w.commit()?;
    Ok(so)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum SoAction {
    /// Approve a pending order (below floor, over credit).
    Approve,
    Cancel,
    /// Deliver lines; without `picks` the lots are proposed by the order's strategy. A
    /// return order takes goods back into `to`.
    Deliver {
        lines: Vec<DeliverLine>,
    },
    /// Consignment orders: what the customer reports used from the consignment store
    /// (taken oldest or first-expiring first, by the order's strategy); it is invoiced.
    Consume {
        lines: Vec<ConsumeLine>,
    },
    /// A payment received from the customer.
    Pay {
        amount: f64,
    },
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ConsumeLine {
    pub line: u32,
    /// In the material's base unit (or a unit it converts from).
    pub qty: f64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DeliverLine {
    pub line: u32,
    pub qty: f64,
    #[serde(default)]
    pub picks: Option<Vec<Pick>>,
    /// Return orders: the location the goods come back to.
    #[serde(default)]
    pub to: Option<u64>,
    /// Return orders: the lot they come back as.
    #[serde(default)]
    pub lot: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Pick {
    pub lot: u64,
    pub location: u64,
    pub qty: f64,
}

/// Lots that a delivery of `m` may take now (released, in date), with their stock.
pub fn pickable(r: &impl Reader, m: u64, today: time::Date) -> Result<Vec<Pickable>> {
    // stock at a customer's consignment store is theirs to use, not ours to pick
    let mut consigned: HashMap<u64, bool> = HashMap::new();
    let mut out = Vec::new();
    for (p, l) in lots_with_stock(r, m, 0..u64::MAX)? {
        let at_customer = match consigned.get(&p.location) {
            Some(x) => *x,
            None => {
                let x = consignee_of(r, p.location)?.is_some();
                consigned.insert(p.location, x);
                x
            }
        };
        if !at_customer && rules::check_lot(MoveKind::Delivery, &l, today).is_ok() {
            out.push(p);
        }
    }
    Ok(out)
}

/// The lots of `m` with stock at the locations in `at`, each with its lot.
fn lots_with_stock(
    r: &impl Reader,
    m: u64,
    at: std::ops::Range<u64>,
) -> Result<Vec<(Pickable, super::super::model::Lot)>> {
    let mut bs = Vec::new();
    r.visit(
        &BALANCES,
        (m, at.start, 0)..(m, at.end, 0),
        Order::Asc,
        |_, b| {
            bs.push(b);
            ControlFlow::Continue(())
        },
    )?;
    bs.into_iter()
        .filter(|b| b.qty > rules::EPS)
        .map(|b| {
            let l = super::lot(r, b.lot)?;
            let p = Pickable {
                lot: l.id,
                location: b.location,
                qty: b.qty,
                received_ms: l.received_ms,
                expires: rules::expiry(&l).flatten(),
            };
            Ok((p, l))
        })
        .collect()
}

/// The customer whose consignment store a location is in, if it is.
fn consignee_of(r: &impl Reader, location: u64) -> Result<Option<u64>> {
    let l = super::location(r, location)?;
    Ok(super::warehouse(r, l.warehouse)?.consignee)
}

/// The location of a customer's consignment store (寄售仓), made with their first
/// consignment: a warehouse `CS-<customer code>` at their address with one location.
fn consignment_location(w: &mut WriteTx, c: &Partner) -> Result<u64> {
    let mine = super::warehouses(w)?
        .into_iter()
        .find(|wh| wh.consignee == Some(c.id));
    let wh = match mine {
        Some(wh) => wh,
        None => {
            let wh = Warehouse {
                id: w.next_id(&WAREHOUSES)?,
                code: format!("CS-{}", c.code),
                name: Msg::new("inventory.consignment.store")
                    .arg("customer", &c.name)
                    .render(crate::i18n::Lang::ZhCn),
                hazmat_store: false,
                major_hazard: false,
                custodians: Vec::new(),
                address: c.address.clone(),
                consignee: Some(c.id),
            };
            if !w.claim(&CODES, &format!("w:{}", wh.code), wh.id, None)? {
                return Err(Error::Conflict(
                    Msg::new("inventory.err.consignment_code").arg("code", &wh.code),
                ));
            }
            w.insert(&WAREHOUSES, &wh.id, &wh)?;
            w.audit(
                "inventory.warehouse.create",
                format!("warehouse:{} {}", wh.id, wh.code),
                Change::created(&wh),
            );
            wh
        }
    };
    if let Some(l) = super::locations(w)?
        .into_iter()
        .find(|l| l.warehouse == wh.id)
    {
        return Ok(l.id);
    }
    let l = Location {
        id: w.next_id(&LOCATIONS)?,
        warehouse: wh.id,
        code: "CS".into(),
        name: c.name.clone(),
        capacity_kg: 0.0,
    };
    w.claim(&CODES, &format!("l:{}:CS", wh.id), l.id, None)?;
    w.insert(&LOCATIONS, &l.id, &l)?;
    w.audit(
        "inventory.location.create",
        format!("location:{} CS", l.id),
        Change::created(&l),
    );
    Ok(l.id)
}

/// What went out to a customer of a material (delivered on its sales, sample and consignment
/// orders) and what came back on its return orders, base units.
fn shipped_to(r: &impl Reader, customer: u64, material: u64) -> Result<(f64, f64)> {
    let (mut out, mut back) = (0.0, 0.0);
    for so in sales_orders(r)?.iter().filter(|o| o.customer == customer) {
        // consigned goods are theirs once used
        let qty: f64 = so
            .lines
            .iter()
            .filter(|l| l.material == material)
            .map(|l| billed(so.kind, l))
            .sum();
        match so.kind {
            SalesKind::Return => back += qty,
            SalesKind::Transfer => {}
            _ => out += qty,
        }
    }
    Ok((out, back))
}

pub fn so_act(
    store: &Store,
    actor: &Actor,
    id: u64,
    action: SoAction,
    can_approve: bool,
    p: Posting,
) -> Result<(SalesOrder, Vec<Posted>)> {
    let mut w = store.write(actor)?;
    let before = sales_order(&w, id)?;
    let mut so = before.clone();
    let mut posted = Vec::new();
    let code = match action {
        SoAction::Approve => {
            approvable(
                actor,
                can_approve,
                so.state,
                so.created_by_id,
                &so.created_by,
                "inventory.err.own_order",
            )?;
            so.state = OrderState::Approved;
            so.approved_by = actor.label();
            "inventory.sales.approve"
        }
        SoAction::Cancel => {
            if so.lines.iter().any(|l| l.delivered > 0.0)
                || so.state == OrderState::Cancelled
                || has_pending(
                    &w,
                    DocLine::Sales {
                        order: so.id,
                        line: 0,
                    },
                )?
            {
                return Err(Error::Conflict(Msg::new("inventory.err.cannot_cancel")));
            }
            so.state = OrderState::Cancelled;
            "inventory.sales.cancel"
        }
        SoAction::Deliver { lines } => {
            if so.state != OrderState::Approved {
                return Err(Error::Conflict(Msg::new("inventory.err.not_approved")));
            }
            if lines.is_empty() {
                return Err(Error::invalid("lines", "inventory.err.lines"));
            }
            let c = partner(&w, so.customer)?;
            // saved first so that `posted` finds it and counts what leaves
            w.insert(&SALES_ORDERS, &so.id, &so)?;
            for dl in lines {
                let line = so
                    .lines
                    .get(dl.line as usize)
                    .ok_or_else(|| Error::invalid("line", "inventory.err.line"))?
                    .clone();
                let m = material(&w, line.material)?;
                let qty = rules::to_base(&m, dl.qty, "")?;
                let done = sales_order(&w, so.id)
                    .map(|x| x.lines[dl.line as usize].delivered)
                    .unwrap_or(0.0)
                    + pending_on(
                        &w,
                        DocLine::Sales {
                            order: so.id,
                            line: dl.line,
                        },
                    )?;
                if done + qty > line.qty + rules::EPS {
                    return Err(Error::invalid_msg(
                        "qty",
                        Msg::new("inventory.err.over_delivery")
                            .arg("ordered", line.qty)
                            .arg("delivered", rules::round3(done)),
                    ));
                }
                let doc = Some(DocLine::Sales {
                    order: so.id,
                    line: dl.line,
                });
                if so.kind == SalesKind::Return {
                    // back only what went out to this customer and has not come back
                    let (shipped, returned) = shipped_to(&w, so.customer, m.id)?;
                    let waiting = pending_on(
                        &w,
                        DocLine::Sales {
                            order: so.id,
                            line: dl.line,
                        },
                    )?;
                    if qty > shipped - returned - waiting + rules::EPS {
                        return Err(Error::invalid_msg(
                            "qty",
                            Msg::new("inventory.err.over_return")
                                .arg("shipped", rules::round3(shipped))
                                .arg("returned", rules::round3(returned + waiting))
                                .arg("unit", &m.base_unit),
                        ));
                    }
                    let input = MoveInput {
                        kind: Some(MoveKind::Return),
                        material: m.id,
                        lot: dl.lot,
                        to: dl.to,
                        qty,
                        reference: format!("SO-{}", so.id),
                        reason: c.name.clone(),
                        doc,
                        ..Default::default()
                    };
                    posted.push(post_in(&mut w, actor, input, p)?);
                    continue;
                }
                // the licence may have expired since the order was taken
                rules::check_buyer(&m, &c, p.today)?;
                let picks = match dl.picks {
                    Some(v) => v
                        .into_iter()
                        .map(|x| (x.lot, x.location, x.qty))
                        .collect::<Vec<_>>(),
                    None => {
                        let (v, short) =
                            rules::propose(pickable(&w, m.id, p.today)?, qty, so.strategy);
                        if short > rules::EPS {
                            return Err(Error::invalid_msg(
                                "qty",
                                Msg::new("inventory.err.short")
                                    .arg("short", rules::round3(short))
                                    .arg("unit", &m.base_unit),
                            ));
                        }
                        v
                    }
                };
                let sum: f64 = picks.iter().map(|x| x.2).sum();
                if (sum - qty).abs() > 1e-6 {
                    return Err(Error::invalid("picks", "inventory.err.picks"));
                }
                // on consignment the goods go to the customer's consignment store, still ours
                let consign_to = if so.kind == SalesKind::Consignment {
                    if m.highly_toxic {
                        return Err(Error::invalid("line", "inventory.err.consignment_toxic"));
                    }
                    rules::check_consignee(&m, &c, p.today)?;
                    Some(consignment_location(&mut w, &c)?)
                } else {
                    None
                };
                for (lot, location, q) in picks {
                    // a transfer takes held lots; what leaves for a customer may not be held,
                    // rejected or expired
                    if consign_to.is_some() {
                        rules::check_lot(MoveKind::Delivery, &super::lot(&w, lot)?, p.today)?;
                    }
                    let input = MoveInput {
                        kind: Some(if consign_to.is_some() {
                            MoveKind::Transfer
                        } else {
                            MoveKind::Delivery
                        }),
                        material: m.id,
                        lot: Some(lot),
                        from: Some(location),
                        to: consign_to,
                        qty: q,
                        reference: format!("SO-{}", so.id),
                        reason: c.name.clone(),
                        doc,
                        ..Default::default()
                    };
                    posted.push(post_in(&mut w, actor, input, p)?);
                }
            }
            so = sales_order(&w, so.id)?;
            "inventory.sales.deliver"
        }
        SoAction::Consume { lines } => {
            if so.kind != SalesKind::Consignment {
                return Err(Error::Conflict(Msg::new("inventory.err.not_consignment")));
            }
            if so.state != OrderState::Approved {
                return Err(Error::Conflict(Msg::new("inventory.err.not_approved")));
            }
            if lines.is_empty() {
                return Err(Error::invalid("lines", "inventory.err.lines"));
            }
            let c = partner(&w, so.customer)?;
            let at = consignment_location(&mut w, &c)?;
            w.insert(&SALES_ORDERS, &so.id, &so)?;
            for cl in lines {
                let line = sales_order(&w, so.id)?
                    .lines
                    .get(cl.line as usize)
                    .ok_or_else(|| Error::invalid("line", "inventory.err.line"))?
                    .clone();
                let m = material(&w, line.material)?;
                let qty = rules::to_base(&m, cl.qty, "")?;
                if line.consumed + qty > line.delivered + rules::EPS {
                    return Err(Error::invalid_msg(
                        "qty",
                        Msg::new("inventory.err.over_consumption")
                            .arg("delivered", rules::round3(line.delivered))
                            .arg("consumed", rules::round3(line.consumed))
                            .arg("unit", &m.base_unit),
                    ));
                }
                // what the consignment store holds of it, oldest (or first expiring) first
                let here: Vec<Pickable> = lots_with_stock(&w, m.id, at..at + 1)?
                    .into_iter()
                    .map(|(p, _)| p)
                    .collect();
                let (picks, short) = rules::propose(here, qty, so.strategy);
                if short > rules::EPS {
                    return Err(Error::invalid_msg(
                        "qty",
                        Msg::new("inventory.err.short")
                            .arg("short", rules::round3(short))
                            .arg("unit", &m.base_unit),
                    ));
                }
                for (lot, location, q) in picks {
                    let input = MoveInput {
                        kind: Some(MoveKind::Delivery),
                        material: m.id,
                        lot: Some(lot),
                        from: Some(location),
                        qty: q,
                        reference: format!("SO-{}", so.id),
                        reason: c.name.clone(),
                        doc: Some(DocLine::Sales {
                            order: so.id,
                            line: cl.line,
                        }),
                        ..Default::default()
                    };
                    posted.push(post_in(&mut w, actor, input, p)?);
                }
            }
            so = sales_order(&w, so.id)?;
            "inventory.sales.consume"
        }
        SoAction::Pay { amount } => {
            so.paid = paid(so.paid, amount, so.amount)?;
            "inventory.sales.pay"
        }
    };
    w.insert(&SALES_ORDERS, &so.id, &so)?;
    w.audit(code, format!("SO-{}", so.id), Change::updated(&before, &so));
    w.commit()?;
    Ok((so, posted))
}

/// Called by the ledger when a movement with an order line posts: the line counts it, and
/// a delivery of registered goods is written to the public-security registers.
pub(super) fn posted(w: &mut WriteTx, mv: &Movement, m: &Material) -> Result<()> {
    match mv.doc {
        Some(DocLine::Purchase { order, line }) => {
            let mut po = purchase_order(w, order)?;
            if let Some(l) = po.lines.get_mut(line as usize) {
                l.received += mv.qty;
            }
            if po.lines.iter().all(|l| l.received + rules::EPS >= l.qty) {
                po.state = OrderState::Done;
            }
            w.insert(&PURCHASE_ORDERS, &po.id, &po)?;
        }
        Some(DocLine::Sales { order, line }) => {
            let mut so = sales_order(w, order)?;
            let Some(l) = so.lines.get_mut(line as usize) else {
                return Ok(());
            };
            let consignment = so.kind == SalesKind::Consignment;
            let value = mv.qty * l.price;
            // on consignment the transfer to the customer's store hands the goods over, and
            // what they report used (a delivery from that store) is invoiced
            let handed_over = if consignment {
                mv.kind == MoveKind::Transfer
            } else {
                mv.kind == MoveKind::Delivery
            };
            if consignment && mv.kind == MoveKind::Delivery {
                l.consumed += mv.qty;
            } else {
                l.delivered += mv.qty;
            }
            if so.kind.charged() && (!consignment || mv.kind == MoveKind::Delivery) {
                so.delivered_amount = money2(so.delivered_amount + value);
            }
            so.last_delivery_ms = mv.posted_ms;
            if so
                .lines
                .iter()
                .all(|l| billed(so.kind, l) + rules::EPS >= l.qty)
            {
                so.state = OrderState::Done;
            }
            if handed_over && registered(m) {
                let c = partner(w, so.customer)?;
                let lot = super::lot(w, mv.lot)?;
                let today = mv.posted_ms.unwrap_or(mv.ts_ms);
                let licences = c
                    .licences
                    .iter()
                    .map(|l| {
                        let key = format!("inventory.licence.{}", l.kind.id());
                        let name = crate::i18n::t(crate::i18n::Lang::ZhCn, &key).to_string();
                        format!("{name} {}", l.number)
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut registers = Vec::new();
                if m.highly_toxic {
                    registers.push("toxic");
                }
                if m.explosive_precursor {
                    registers.push("explosive");
                }
                if m.precursor_class > 0 {
                    registers.push("precursor");
                }
                for reg in registers {
                    let e = RegisterEntry {
                        ts_ms: today,
                        movement: mv.id,
                        sales_order: so.id,
                        register: reg.into(),
                        buyer: c.name.clone(),
                        buyer_credit_code: c.credit_code.clone(),
                        address: if so.ship_to.is_empty() {
                            c.address.clone()
                        } else {
                            so.ship_to.clone()
                        },
                        handler: so.handler.name.clone(),
                        handler_id: so.handler.id_number.clone(),
                        material_code: m.code.clone(),
                        material_name: m.name.clone(),
                        cas: m.cas.clone(),
                        qty: mv.qty,
                        unit: m.base_unit.clone(),
                        lot: lot.number.clone(),
                        end_use: so.end_use.clone(),
                        licences: licences.clone(),
                        by: mv.by.clone(),
                    };
                    let key = format!("{reg}\u{1f}{:016x}\u{1f}{:016x}", today.max(0), mv.id);
                    w.insert(&REGISTER, &key, &e)?;
                }
            }
            w.insert(&SALES_ORDERS, &so.id, &so)?;
        }
        Some(DocLine::Count { .. } | DocLine::WorkOrder { .. }) | None => {}
    }
    Ok(())
}

/// One register (`toxic`, `explosive`, `precursor`) between two times, oldest first.
pub fn register(
    r: &impl Reader,
    which: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<RegisterEntry>> {
    let lo = format!("{which}\u{1f}{:016x}", from_ms.max(0));
    let hi = format!("{which}\u{1f}{:016x}", to_ms.max(0));
    let mut v = Vec::new();
    r.visit(&REGISTER, lo..hi, Order::Asc, |_, e| {
        v.push(e);
        ControlFlow::Continue(())
    })?;
    Ok(v)
}

// ------------------------------------------------------------------ finance hand-off

/// What a customer owes or what we owe a supplier.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Balance {
    pub partner: u64,
    pub code: String,
    pub name: String,
    pub credit_code: String,
    /// Delivered (receivables) or received (payables) value, CNY.
    pub amount: f64,
    pub paid: f64,
    pub open: f64,
    /// Past the payment terms.
    pub overdue: f64,
    pub orders: usize,
}

/// Receivables per customer: delivered value not yet paid, and how much of it is past the
/// payment terms.
pub fn receivables(r: &impl Reader, now_ms: i64) -> Result<Vec<Balance>> {
    let partners: HashMap<u64, Partner> =
        super::partners(r)?.into_iter().map(|p| (p.id, p)).collect();
    let mut out: HashMap<u64, Balance> = HashMap::new();
    for so in sales_orders(r)?
        .into_iter()
        .filter(|s| s.kind.charged() && s.state != OrderState::Cancelled)
    {
        let Some(p) = partners.get(&so.customer) else {
            continue;
        };
        let b = out.entry(p.id).or_insert_with(|| blank(p));
        let open = (so.delivered_amount - so.paid).max(0.0);
        b.amount += so.delivered_amount;
        b.paid += so.paid;
        b.open += open;
        b.orders += 1;
        if let Some(t) = so.last_delivery_ms
            && t + i64::from(p.payment_days) * 86_400_000 < now_ms
        {
            b.overdue += open;
        }
    }
    Ok(finish(out))
}

/// Payables per supplier: received value not yet paid.
pub fn payables(r: &impl Reader) -> Result<Vec<Balance>> {
    let partners: HashMap<u64, Partner> =
        super::partners(r)?.into_iter().map(|p| (p.id, p)).collect();
    let mut out: HashMap<u64, Balance> = HashMap::new();
    for po in purchase_orders(r)?
        .into_iter()
        .filter(|s| s.state != OrderState::Cancelled)
    {
        let Some(p) = partners.get(&po.supplier) else {
            continue;
        };
        let b = out.entry(p.id).or_insert_with(|| blank(p));
        let received: f64 = po.lines.iter().map(|l| l.received * l.price).sum();
        b.amount += received;
        b.paid += po.paid;
        b.open += (received - po.paid).max(0.0);
        b.orders += 1;
    }
    Ok(finish(out))
}

fn blank(p: &Partner) -> Balance {
    Balance {
        partner: p.id,
        code: p.code.clone(),
        name: p.name.clone(),
        credit_code: p.credit_code.clone(),
        amount: 0.0,
        paid: 0.0,
        open: 0.0,
        overdue: 0.0,
        orders: 0,
    }
}

fn finish(m: HashMap<u64, Balance>) -> Vec<Balance> {
    let mut v: Vec<Balance> = m
        .into_values()
        .map(|mut b| {
            b.amount = money2(b.amount);
            b.paid = money2(b.paid);
            b.open = money2(b.open);
            b.overdue = money2(b.overdue);
            b
        })
        .collect();
    v.sort_by(|a, b| a.code.cmp(&b.code));
    v
}

/// Counts for the compliance page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub requisitions: u64,
    pub purchase_orders: u64,
    pub received_lines: u64,
    pub sales_orders: u64,
    pub customers_with_limit: u64,
    /// Orders that waited for approval over the credit limit.
    pub credit_holds: u64,
    pub register_entries: u64,
}

pub fn counts(r: &impl Reader) -> Result<Counts> {
    let pos = purchase_orders(r)?;
    let sos = sales_orders(r)?;
    Ok(Counts {
        requisitions: r.count(&REQUISITIONS)?,
        purchase_orders: pos.len() as u64,
        received_lines: pos
            .iter()
            .flat_map(|p| p.lines.iter())
            .filter(|l| l.received > 0.0)
            .count() as u64,
        sales_orders: sos.len() as u64,
        customers_with_limit: super::partners(r)?
            .iter()
            .filter(|p| p.role.buys() && p.credit_limit > 0.0)
            .count() as u64,
        credit_holds: sos
            .iter()
            .filter(|s| s.needs.iter().any(|n| n == "credit"))
            .count() as u64,
        register_entries: r.count(&REGISTER)?,
    })
}
