//! Pivot tables over the ledger (BI): the inventory module answers them from its own tables,
//! for its API and for the plugins that ask the box (`records.pivot`).

use std::collections::HashMap;
use std::ops::ControlFlow;

use time::UtcOffset;

use super::super::model::MoveKind;
use super::super::model::{Material, MoveState, Movement};
use super::super::store::{LEDGER, LOCATIONS, MATERIALS, PIVOT_META, PIVOT_ROWS, WAREHOUSES};
use crate::error::{Error, Result};
use crate::i18n::Msg;
use crate::pivot::{Fields, Pivot, Spec, Table};
use crate::store::{Order, Reader};

/// The fields a movement pivot may use, as `records.rs` hands movements to plugins:
/// `category` (the material's), `material` (code), `kind`, `from`, `to` (locations as
/// `warehouse/location`, e.g. `WH-GEN/A-01`: a location's code is unique only in its store),
/// `unit` (base unit), `qty` (base units), `value` (`qty` × the material's standard cost,
/// CNY), `ts_ms` (when it changed the stock; group by `ts_ms:day` or `ts_ms:month`).
pub const PIVOT_FIELDS: &[&str] = &[
    "category", "material", "kind", "from", "to", "unit", "qty", "value", "ts_ms",
];
pub const PIVOT_TIMES: &[&str] = &["ts_ms"];
pub const PIVOT_NUMBERS: &[&str] = &["qty", "value"];

/// What a pivot reads of a posted movement: kept beside the ledger (`PIVOT_ROWS`), a few
/// numbers that decode many times faster than the movement, so a pivot over a million
/// movements reads a million small rows.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PivotRow {
    /// When it changed the stock (Unix ms).
    #[serde(rename = "t")]
    pub ts_ms: i64,
    #[serde(rename = "m")]
    pub material: u64,
    /// `MoveKind` as its index in `MoveKind::ALL`.
    #[serde(rename = "k")]
    pub kind: u8,
    /// Locations; 0: none.
    #[serde(rename = "f")]
    pub from: u64,
    #[serde(rename = "o")]
    pub to: u64,
    #[serde(rename = "q")]
    pub qty: f64,
}

impl PivotRow {
    pub fn of(mv: &Movement) -> PivotRow {
        PivotRow {
            ts_ms: mv.posted_ms.unwrap_or(mv.ts_ms),
            material: mv.material,
            kind: MoveKind::ALL
                .iter()
                .position(|k| *k == mv.kind)
                .unwrap_or(0) as u8,
            from: mv.from.unwrap_or(0),
            to: mv.to.unwrap_or(0),
            qty: mv.qty,
        }
    }
}

struct Row<'a> {
    mv: PivotRow,
    mat: Option<&'a Material>,
    locs: &'a HashMap<u64, String>,
}

impl Fields for Row<'_> {
    fn text(&self, field: &str) -> Option<String> {
        match field {
            "category" => self.mat.map(|m| m.category.id().to_string()),
            "material" => self.mat.map(|m| m.code.clone()),
            "kind" => MoveKind::ALL
                .get(usize::from(self.mv.kind))
                .map(|k| k.id().to_string()),
            "from" => self.locs.get(&self.mv.from).cloned(),
            "to" => self.locs.get(&self.mv.to).cloned(),
            "unit" => self.mat.map(|m| m.base_unit.clone()),
            _ => self.number(field).map(|x| x.to_string()),
        }
    }
    fn number(&self, field: &str) -> Option<f64> {
        match field {
            "qty" => Some(self.mv.qty),
            "value" => self.mat.map(|m| m.unit_cost * self.mv.qty),
            "ts_ms" => Some(self.mv.ts_ms as f64),
            _ => None,
        }
    }
}

/// Gives every posted movement its pivot row (a ledger from before the rows existed), once;
/// run at start. Answers how many rows it wrote.
pub fn fill_pivot_rows(store: &crate::store::Store) -> Result<u64> {
    if store
        .read()?
        .get(&PIVOT_META, &"rows".to_string())?
        .is_some()
    {
        return Ok(0);
    }
    let mut w = store.write(&crate::store::Actor::system("inventory"))?;
    let mut rows = Vec::new();
    w.visit(&LEDGER, .., Order::Asc, |id, mv: Movement| {
        if mv.state == MoveState::Posted {
            rows.push((id, PivotRow::of(&mv)));
        }
        ControlFlow::Continue(())
    })?;
    let n = rows.len() as u64;
    for (id, row) in rows {
        w.insert(&PIVOT_ROWS, &id, &row)?;
    }
    w.insert(&PIVOT_META, &"rows".to_string(), &n)?;
    w.commit()?;
    Ok(n)
}

/// Reads a pivot's words against the movement fields; the refusal names the part.
pub fn movement_pivot(rows: &[String], columns: &[String], measures: &[String]) -> Result<Spec> {
    Spec::parse(
        rows,
        columns,
        measures,
        PIVOT_FIELDS,
        PIVOT_TIMES,
        PIVOT_NUMBERS,
    )
    .map_err(|why| Error::invalid_msg("pivot", Msg::new("inventory.err.pivot").arg("why", why)))
}

/// The posted movements whose time is in `[from_ms, to_ms)` folded into `spec`'s pivot,
/// the ledger walked once in one read transaction (nothing kept but the cells).
pub fn pivot_movements(
    r: &impl Reader,
    spec: &Spec,
    from_ms: i64,
    to_ms: i64,
    offset: UtcOffset,
) -> Result<Table> {
    let mut mats: HashMap<u64, Material> = HashMap::new();
    r.visit(&MATERIALS, .., Order::Asc, |id, m: Material| {
        mats.insert(id, m);
        ControlFlow::Continue(())
    })?;
    let mut stores: HashMap<u64, String> = HashMap::new();
    r.visit(
        &WAREHOUSES,
        ..,
        Order::Asc,
        |id, w: super::super::model::Warehouse| {
            stores.insert(id, w.code);
            ControlFlow::Continue(())
        },
    )?;
    let mut locs: HashMap<u64, String> = HashMap::new();
    r.visit(
        &LOCATIONS,
        ..,
        Order::Asc,
        |id, l: super::super::model::Location| {
            let wh = stores.get(&l.warehouse).map_or("?", String::as_str);
            locs.insert(id, format!("{wh}/{}", l.code));
            ControlFlow::Continue(())
        },
    )?;
    let mut p = Pivot::new(spec, offset);
    let mut refused = None;
    let mut fold = |mv: PivotRow| {
        if mv.ts_ms < from_ms || mv.ts_ms >= to_ms {
            return ControlFlow::Continue(());
        }
        let row = Row {
            mat: mats.get(&mv.material),
            mv,
            locs: &locs,
        };
        match p.add(&row) {
            Ok(()) => ControlFlow::Continue(()),
            Err(why) => {
                refused = Some(why);
                ControlFlow::Break(())
            }
        }
    };
    if r.get(&PIVOT_META, &"rows".to_string())?.is_some() {
        r.visit(&PIVOT_ROWS, .., Order::Asc, |_, row: PivotRow| fold(row))?;
    } else {
        // not filled in yet (the box is starting): the ledger itself
        r.visit(&LEDGER, .., Order::Asc, |_, mv: Movement| {
            if mv.state != MoveState::Posted {
                return ControlFlow::Continue(());
            }
            fold(PivotRow::of(&mv))
        })?;
    }
    match refused {
        Some(why) => Err(Error::invalid_msg(
            "pivot",
            Msg::new("inventory.err.pivot").arg("why", why),
        )),
        None => Ok(p.finish()),
    }
}
