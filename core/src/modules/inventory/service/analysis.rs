//! Pivot tables over the ledger (BI): the inventory module answers them from its own tables,
//! for its API and for the plugins that ask the box (`records.pivot`).

use std::collections::HashMap;
use std::ops::ControlFlow;

use time::UtcOffset;

use super::super::model::{Material, MoveState, Movement};
use super::super::store::{LEDGER, LOCATIONS, MATERIALS, WAREHOUSES};
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

struct Row<'a> {
    mv: &'a Movement,
    mat: Option<&'a Material>,
    locs: &'a HashMap<u64, String>,
}

impl Fields for Row<'_> {
    fn text(&self, field: &str) -> Option<String> {
        match field {
            "category" => self.mat.map(|m| m.category.id().to_string()),
            "material" => self.mat.map(|m| m.code.clone()),
            "kind" => Some(self.mv.kind.id().to_string()),
            "from" => self.mv.from.and_then(|l| self.locs.get(&l)).cloned(),
            "to" => self.mv.to.and_then(|l| self.locs.get(&l)).cloned(),
            "unit" => self.mat.map(|m| m.base_unit.clone()),
            _ => self.number(field).map(|x| x.to_string()),
        }
    }
    fn number(&self, field: &str) -> Option<f64> {
        match field {
            "qty" => Some(self.mv.qty),
            "value" => self.mat.map(|m| m.unit_cost * self.mv.qty),
            "ts_ms" => Some(self.mv.posted_ms.unwrap_or(self.mv.ts_ms) as f64),
            _ => None,
        }
    }
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
    r.visit(&LEDGER, .., Order::Asc, |_, mv: Movement| {
        let t = mv.posted_ms.unwrap_or(mv.ts_ms);
        if mv.state != MoveState::Posted || t < from_ms || t >= to_ms {
            return ControlFlow::Continue(());
        }
        let row = Row {
            mat: mats.get(&mv.material),
            mv: &mv,
            locs: &locs,
        };
        match p.add(&row) {
            Ok(()) => ControlFlow::Continue(()),
            Err(why) => {
                refused = Some(why);
                ControlFlow::Break(())
            }
        }
    })?;
    match refused {
        Some(why) => Err(Error::invalid_msg(
            "pivot",
            Msg::new("inventory.err.pivot").arg("why", why),
        )),
        None => Ok(p.finish()),
    }
}
