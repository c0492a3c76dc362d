//! Stock counts (盘点) and the stock analysis. A count takes the book quantities of a
//! warehouse (or one location) when it opens and freezes their stock until it is approved
//! or cancelled; counters record what they find; an approver
//! other than the one who opened it approves the variances, which post as `count` movements
//! in the same transaction. The analysis reads balances and the ledger: stock value, turnover,
//! ageing by receipt and ABC classes by consumption value.

use std::collections::HashMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::super::model::{DocLine, Location, MoveKind, OrderState};
use super::super::rules;
use super::super::store::{BALANCES, COUNTS, OPEN_COUNTS};
use super::{MoveInput, Posting, lot, material, materials, post_in, warehouse};
use crate::error::{Error, Result};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Order, Reader, Store};

/// One balance to count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CountLine {
    pub material: u64,
    pub location: u64,
    pub lot: u64,
    /// The book quantity when the count opened.
    pub book: f64,
    /// What the counter found; None until counted.
    #[serde(default)]
    pub counted: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockCount {
    pub id: u64,
    pub warehouse: u64,
    #[serde(default)]
    pub location: Option<u64>,
    /// `pending` while counting and waiting for approval, `done` once the variances posted.
    pub state: OrderState,
    pub lines: Vec<CountLine>,
    pub created_by: String,
    #[serde(default)]
    pub created_by_id: u64,
    pub created_ms: i64,
    #[serde(default)]
    pub approved_by: String,
}

pub fn counts(r: &impl Reader) -> Result<Vec<StockCount>> {
    Ok(r.values(&COUNTS)?)
}

pub fn count(r: &impl Reader, id: u64) -> Result<StockCount> {
    r.get(&COUNTS, &id)?
        .ok_or_else(|| Error::not_found("inventory.err.count_not_found"))
}

/// What an open count covers: a warehouse, or one of its locations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    pub warehouse: u64,
    pub location: Option<u64>,
}

impl Scope {
    fn covers(&self, warehouse: u64, location: u64) -> bool {
        self.warehouse == warehouse && self.location.is_none_or(|x| x == location)
    }
}

/// The open count (if any) that covers location `l`: its stock is frozen until the count
/// is approved or cancelled.
pub(super) fn counting(r: &impl Reader, l: &Location) -> Result<Option<u64>> {
    Ok(r.all(&OPEN_COUNTS)?
        .into_iter()
        .find(|(_, s)| s.covers(l.warehouse, l.id))
        .map(|(id, _)| id))
}

/// Opens a count of a warehouse (or one of its locations) with the book quantities of now.
pub fn open_count(
    store: &Store,
    actor: &Actor,
    warehouse_id: u64,
    location: Option<u64>,
    now_ms: i64,
) -> Result<StockCount> {
    let mut w = store.write(actor)?;
    let wh = warehouse(&w, warehouse_id)
        .map_err(|_| Error::invalid("warehouse", "inventory.err.warehouse_not_found"))?;
    let locs: Vec<u64> = super::locations(&w)?
        .into_iter()
        .filter(|l| l.warehouse == wh.id && location.is_none_or(|x| x == l.id))
        .map(|l| l.id)
        .collect();
    if location.is_some() && locs.is_empty() {
        return Err(Error::invalid(
            "location",
            "inventory.err.location_not_found",
        ));
    }
    for (id, scope) in w.all(&OPEN_COUNTS)? {
        if locs.iter().any(|l| scope.covers(wh.id, *l)) {
            return Err(Error::invalid_msg(
                "warehouse",
                Msg::new("inventory.err.counting").arg("count", id),
            ));
        }
    }
    let mut lines = Vec::new();
    w.visit(&BALANCES, .., Order::Asc, |(m, l, lot), b| {
        if locs.contains(&l) && b.qty.abs() > rules::EPS {
            lines.push(CountLine {
                material: m,
                location: l,
                lot,
                book: b.qty,
                counted: None,
            });
        }
        ControlFlow::Continue(())
    })?;
    let c = StockCount {
        id: w.next_id(&COUNTS)?,
        warehouse: wh.id,
        location,
        state: OrderState::Pending,
        lines,
        created_by: actor.label(),
        created_by_id: super::user_id(actor),
        created_ms: now_ms,
        approved_by: String::new(),
    };
    w.insert(&COUNTS, &c.id, &c)?;
    w.insert(
        &OPEN_COUNTS,
        &c.id,
        &Scope {
            warehouse: c.warehouse,
            location: c.location,
        },
    )?;
    w.audit(
        "inventory.count.create",
        format!("CNT-{} {}", c.id, wh.code),
        Change::created(&c),
    );
    w.commit()?;
    Ok(c)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum CountAction {
    /// Quantities found, by line (base units, zero or more).
    Record {
        lines: Vec<Counted>,
    },
    /// Approve the variances (inventory approve, not the one who opened the count): they
    /// post as `count` movements.
    Approve,
    Cancel,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct Counted {
    pub line: u32,
    pub counted: f64,
}

/// The variance of a counted line (counted − book).
pub fn variance(l: &CountLine) -> Option<f64> {
    l.counted.map(|c| c - l.book)
}

pub fn count_act(
    store: &Store,
    actor: &Actor,
    id: u64,
    action: CountAction,
    can_approve: bool,
    p: Posting,
) -> Result<StockCount> {
    let mut w = store.write(actor)?;
    let before = count(&w, id)?;
    let mut c = before.clone();
    if c.state != OrderState::Pending {
        return Err(Error::Conflict(Msg::new("inventory.err.count_closed")));
    }
    let code = match action {
        CountAction::Record { lines } => {
            for x in lines {
                if !x.counted.is_finite() || x.counted < 0.0 || x.counted > 1e12 {
                    return Err(Error::invalid("counted", "inventory.err.qty"));
                }
                let l = c
                    .lines
                    .get_mut(x.line as usize)
                    .ok_or_else(|| Error::invalid("line", "inventory.err.line"))?;
                l.counted = Some(x.counted);
            }
            "inventory.count.record"
        }
        CountAction::Cancel => {
            c.state = OrderState::Cancelled;
            "inventory.count.cancel"
        }
        CountAction::Approve => {
            super::orders::approvable(
                actor,
                can_approve,
                c.state,
                c.created_by_id,
                &c.created_by,
                "inventory.err.own_count",
            )?;
            if c.lines.iter().any(|l| l.counted.is_none()) {
                return Err(Error::invalid("lines", "inventory.err.not_counted"));
            }
            for l in c.lines.clone() {
                let Some(v) = variance(&l).filter(|v| v.abs() > rules::EPS) else {
                    continue;
                };
                let m = material(&w, l.material)?;
                let input = MoveInput {
                    kind: Some(MoveKind::Count),
                    material: l.material,
                    lot: Some(l.lot),
                    from: (v < 0.0).then_some(l.location),
                    to: (v > 0.0).then_some(l.location),
                    qty: v.abs(),
                    unit: m.base_unit.clone(),
                    reference: format!("CNT-{}", c.id),
                    reason: "盘点差异 / count variance".into(),
                    doc: Some(DocLine::Count { count: c.id }),
                    ..Default::default()
                };
                post_in(&mut w, actor, input, p)?;
            }
            c.state = OrderState::Done;
            c.approved_by = actor.label();
            "inventory.count.approve"
        }
    };
    if c.state != OrderState::Pending {
        w.remove(&OPEN_COUNTS, &c.id)?;
    }
    w.insert(&COUNTS, &c.id, &c)?;
    w.audit(code, format!("CNT-{}", c.id), Change::updated(&before, &c));
    w.commit()?;
    Ok(c)
}

// ------------------------------------------------------------------ analysis

/// One material in the analysis.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MaterialAnalysis {
    pub material: u64,
    pub code: String,
    pub name: String,
    pub base_unit: String,
    pub on_hand: f64,
    /// On hand × unit cost (CNY).
    pub value: f64,
    /// Issued and delivered over the period (base units and CNY at unit cost).
    pub consumed: f64,
    pub consumed_value: f64,
    /// Consumed value / stock value, over the period.
    pub turnover: Option<f64>,
    /// Days the stock on hand lasts at the period's rate of use.
    pub days_of_cover: Option<f64>,
    /// Stock value by age since receipt (`AGE_BUCKETS`).
    pub ageing: [f64; 4],
    /// By consumption value.
    pub abc: char,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Analysis {
    pub from_ms: i64,
    pub to_ms: i64,
    pub stock_value: f64,
    pub ageing: [f64; 4],
    pub materials: Vec<MaterialAnalysis>,
}

/// Stock value, turnover, ageing and ABC over the `days` before `now_ms`.
pub fn analysis(r: &impl Reader, now_ms: i64, days: i64) -> Result<Analysis> {
    let from = now_ms - days * 86_400_000;
    let mats = materials(r)?;
    let mut by_id: HashMap<u64, MaterialAnalysis> = HashMap::new();
    for m in &mats {
        by_id.insert(
            m.id,
            MaterialAnalysis {
                material: m.id,
                code: m.code.clone(),
                name: m.name.clone(),
                base_unit: m.base_unit.clone(),
                on_hand: 0.0,
                value: 0.0,
                consumed: 0.0,
                consumed_value: 0.0,
                turnover: None,
                days_of_cover: None,
                ageing: [0.0; 4],
                abc: 'C',
            },
        );
    }
    let cost: HashMap<u64, f64> = mats.iter().map(|m| (m.id, m.unit_cost)).collect();
    let mut lots: HashMap<u64, i64> = HashMap::new();
    for b in super::all_balances(r)? {
        let received = match lots.get(&b.lot) {
            Some(t) => *t,
            None => {
                let t = lot(r, b.lot)?.received_ms;
                lots.insert(b.lot, t);
                t
            }
        };
        if let Some(a) = by_id.get_mut(&b.material) {
            let v = b.qty * cost.get(&b.material).copied().unwrap_or(0.0);
            a.on_hand += b.qty;
            a.value += v;
            a.ageing[rules::age_bucket((now_ms - received) / 86_400_000)] += v;
        }
    }
    for m in &mats {
        let used: f64 = super::ledger(r, Some(m.id), from, now_ms + 1, usize::MAX)?
            .iter()
            .filter(|x| matches!(x.kind, MoveKind::Issue | MoveKind::Delivery))
            .map(|x| x.qty)
            .sum();
        if let Some(a) = by_id.get_mut(&m.id) {
            a.consumed = used;
            a.consumed_value = used * m.unit_cost;
            a.turnover = rules::turnover(a.consumed_value, a.value);
            a.days_of_cover = (used > rules::EPS)
                .then(|| (a.on_hand / (used / days as f64) * 10.0).round() / 10.0);
        }
    }
    let mut list: Vec<MaterialAnalysis> = by_id.into_values().collect();
    list.sort_by(|a, b| {
        b.consumed_value
            .total_cmp(&a.consumed_value)
            .then(a.code.cmp(&b.code))
    });
    let classes = rules::abc(&list.iter().map(|a| a.consumed_value).collect::<Vec<_>>());
    for (a, c) in list.iter_mut().zip(classes) {
        a.abc = c;
        a.value = (a.value * 100.0).round() / 100.0;
        a.consumed_value = (a.consumed_value * 100.0).round() / 100.0;
    }
    let mut ageing = [0.0; 4];
    for a in &list {
        for (i, v) in a.ageing.iter().enumerate() {
            ageing[i] += v;
        }
    }
    Ok(Analysis {
        from_ms: from,
        to_ms: now_ms,
        stock_value: (list.iter().map(|a| a.value).sum::<f64>() * 100.0).round() / 100.0,
        ageing,
        materials: list,
    })
}
