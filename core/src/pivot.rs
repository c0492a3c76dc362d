//! Pivot tables over module records (BI): records grouped by one or more dimensions down
//! (`rows`) and across (`columns`), with measures in each cell and the totals of every row,
//! column and the whole. Pure: the caller hands over the records through [`Fields`] — the
//! JSON objects of `records.rs` or a module's own structs —, so the host computes a pivot
//! natively whoever asks for it.
//!
//! A dimension is a field (`category`), or a time field's plant day or month
//! (`ts_ms:day`, `ts_ms:month`); a measure is `count` or `sum`/`mean`/`min`/`max` of a
//! numeric field (`sum:value`). Only the fields the caller names as readable may be used:
//! anything else is refused with the field's name, before any record is read.

use std::collections::BTreeMap;

use time::UtcOffset;

/// At most this many dimensions down and across, and measures.
pub const MAX_DIMS: usize = 3;
pub const MAX_MEASURES: usize = 8;
/// At most this many cells (row groups × column groups): a pivot is read by people.
pub const MAX_CELLS: usize = 100_000;

/// A record's fields as a pivot reads them.
pub trait Fields {
    /// The field as a group key; None when missing or null.
    fn text(&self, field: &str) -> Option<String>;
    /// The field as a number (a measure, or a time in Unix ms); None when not a number.
    fn number(&self, field: &str) -> Option<f64>;
}

impl Fields for serde_json::Value {
    fn text(&self, field: &str) -> Option<String> {
        match self.get(field)? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
    fn number(&self, field: &str) -> Option<f64> {
        self.get(field)?.as_f64()
    }
}

/// What records are grouped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Field(String),
    /// A time field's plant day, `YYYY-MM-DD`.
    Day(String),
    /// A time field's plant month, `YYYY-MM`.
    Month(String),
}

impl Dim {
    fn field(&self) -> &str {
        match self {
            Dim::Field(f) | Dim::Day(f) | Dim::Month(f) => f,
        }
    }

    fn key(&self, rec: &impl Fields, offset: UtcOffset) -> Option<String> {
        match self {
            Dim::Field(f) => rec.text(f),
            Dim::Day(f) | Dim::Month(f) => {
                let ms = rec.number(f)? as i64;
                let day = crate::plant_time::local(ms, offset).date();
                Some(match self {
                    Dim::Day(_) => crate::plant_time::format_day(day),
                    _ => format!("{:04}-{:02}", day.year(), u8::from(day.month())),
                })
            }
        }
    }
}

/// How a measure folds a cell's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Count,
    Sum,
    Mean,
    Min,
    Max,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub agg: Agg,
    /// Empty for `count`.
    pub field: String,
}

/// A pivot to compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub rows: Vec<Dim>,
    pub columns: Vec<Dim>,
    pub measures: Vec<Measure>,
}

impl Spec {
    /// Reads a pivot's words (`category`, `ts_ms:month`; `count`, `sum:value`), checking
    /// every field against `readable` (the collection's documented fields), `times` (those
    /// of them that are times) and `numbers` (those a measure may fold). The error names
    /// what is wrong.
    pub fn parse(
        rows: &[String],
        columns: &[String],
        measures: &[String],
        readable: &[&str],
        times: &[&str],
        numbers: &[&str],
    ) -> Result<Spec, String> {
        let known = |f: &str| -> Result<String, String> {
            if readable.contains(&f) {
                Ok(f.to_string())
            } else {
                Err(format!(
                    "no field {f:?} to pivot on (readable: {})",
                    readable.join(", ")
                ))
            }
        };
        let dim = |s: &String| -> Result<Dim, String> {
            match s.trim().split_once(':') {
                None => known(s.trim()).map(Dim::Field),
                Some((f, unit)) => {
                    let f = known(f)?;
                    if !times.contains(&f.as_str()) {
                        return Err(format!("{f} is not a time: it has no {unit}"));
                    }
                    match unit {
                        "day" => Ok(Dim::Day(f)),
                        "month" => Ok(Dim::Month(f)),
                        other => Err(format!("{other:?}: a time groups by day or month")),
                    }
                }
            }
        };
        let measure = |s: &String| -> Result<Measure, String> {
            let s = s.trim();
            if s == "count" {
                return Ok(Measure {
                    agg: Agg::Count,
                    field: String::new(),
                });
            }
            let (agg, f) = s
                .split_once(':')
                .ok_or_else(|| format!("{s:?}: a measure is count, or sum/mean/min/max:<field>"))?;
            let agg = match agg {
                "sum" => Agg::Sum,
                "mean" => Agg::Mean,
                "min" => Agg::Min,
                "max" => Agg::Max,
                other => {
                    return Err(format!(
                        "{other:?}: measures are count, sum, mean, min, max"
                    ));
                }
            };
            let field = known(f)?;
            if !numbers.contains(&field.as_str()) {
                return Err(format!(
                    "{field} is not a quantity to measure (numbers: {})",
                    numbers.join(", ")
                ));
            }
            Ok(Measure { agg, field })
        };
        if rows.len() > MAX_DIMS || columns.len() > MAX_DIMS {
            return Err(format!("at most {MAX_DIMS} dimensions down and across"));
        }
        if measures.is_empty() || measures.len() > MAX_MEASURES {
            return Err(format!("1 to {MAX_MEASURES} measures"));
        }
        Ok(Spec {
            rows: rows.iter().map(dim).collect::<Result<_, _>>()?,
            columns: columns.iter().map(dim).collect::<Result<_, _>>()?,
            measures: measures.iter().map(measure).collect::<Result<_, _>>()?,
        })
    }

    /// The fields the pivot reads (for a caller that builds records field by field).
    pub fn fields(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .rows
            .iter()
            .chain(&self.columns)
            .map(Dim::field)
            .chain(self.measures.iter().map(|m| m.field.as_str()))
            .filter(|f| !f.is_empty())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// One measure's running figures.
#[derive(Debug, Clone, Copy)]
struct Acc {
    rows: u64,
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            rows: 0,
            n: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Acc {
    fn add(&mut self, x: Option<f64>) {
        self.rows += 1;
        if let Some(x) = x.filter(|x| x.is_finite()) {
            self.n += 1;
            self.sum += x;
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
    }
    fn merge(&mut self, o: &Acc) {
        self.rows += o.rows;
        self.n += o.n;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }
    /// The figure; None where no record had a number (never a made-up 0 for min/max/mean).
    fn value(&self, agg: Agg) -> Option<f64> {
        match agg {
            Agg::Count => Some(self.rows as f64),
            _ if self.n == 0 => None,
            Agg::Sum => Some(self.sum),
            Agg::Mean => Some(self.sum / self.n as f64),
            Agg::Min => Some(self.min),
            Agg::Max => Some(self.max),
        }
    }
}

/// A group's key: one value per dimension (None: the field was missing).
pub type Key = Vec<Option<String>>;

/// A computed pivot. `cells[r][c]` holds one figure per measure, in the spec's order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Table {
    pub rows: Vec<Key>,
    pub columns: Vec<Key>,
    pub cells: Vec<Vec<Vec<Option<f64>>>>,
    pub row_totals: Vec<Vec<Option<f64>>>,
    pub column_totals: Vec<Vec<Option<f64>>>,
    pub total: Vec<Option<f64>>,
    /// Records read.
    pub records: u64,
}

/// A pivot being folded, a record at a time (a caller streaming a ledger keeps no list).
pub struct Pivot<'s> {
    spec: &'s Spec,
    offset: UtcOffset,
    cells: BTreeMap<(Key, Key), Vec<Acc>>,
    row_keys: BTreeMap<Key, ()>,
    col_keys: BTreeMap<Key, ()>,
    records: u64,
}

impl<'s> Pivot<'s> {
    pub fn new(spec: &'s Spec, offset: UtcOffset) -> Pivot<'s> {
        Pivot {
            spec,
            offset,
            cells: BTreeMap::new(),
            row_keys: BTreeMap::new(),
            col_keys: BTreeMap::new(),
            records: 0,
        }
    }

    /// Adds a record; refused when the groups would exceed [`MAX_CELLS`].
    pub fn add(&mut self, rec: &impl Fields) -> Result<(), String> {
        let spec = self.spec;
        self.records += 1;
        let rk: Key = spec.rows.iter().map(|d| d.key(rec, self.offset)).collect();
        let ck: Key = spec
            .columns
            .iter()
            .map(|d| d.key(rec, self.offset))
            .collect();
        let key = (rk, ck);
        let accs = match self.cells.get_mut(&key) {
            Some(accs) => accs,
            None => {
                self.row_keys.insert(key.0.clone(), ());
                self.col_keys.insert(key.1.clone(), ());
                let (r, c) = (self.row_keys.len(), self.col_keys.len());
                if r.saturating_mul(c) > MAX_CELLS {
                    return Err(format!(
                        "more than {MAX_CELLS} cells ({r} rows × {c} columns so far): group by fewer or coarser fields"
                    ));
                }
                self.cells
                    .entry(key)
                    .or_insert_with(|| vec![Acc::default(); spec.measures.len()])
            }
        };
        for (acc, ms) in accs.iter_mut().zip(&spec.measures) {
            acc.add(match ms.agg {
                Agg::Count => None,
                _ => rec.number(&ms.field),
            });
        }
        Ok(())
    }

    /// The table, groups in key order.
    pub fn finish(self) -> Table {
        let spec = self.spec;
        let m = spec.measures.len();
        let rows: Vec<Key> = self.row_keys.into_keys().collect();
        let columns: Vec<Key> = self.col_keys.into_keys().collect();
        let col_at: BTreeMap<&Key, usize> =
            columns.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let row_at: BTreeMap<&Key, usize> = rows.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let mut grid = vec![vec![vec![None; m]; columns.len()]; rows.len()];
        let mut row_acc = vec![vec![Acc::default(); m]; rows.len()];
        let mut col_acc = vec![vec![Acc::default(); m]; columns.len()];
        let mut all = vec![Acc::default(); m];
        for ((rk, ck), accs) in &self.cells {
            let (r, c) = (row_at[rk], col_at[ck]);
            for (i, (acc, ms)) in accs.iter().zip(&spec.measures).enumerate() {
                grid[r][c][i] = acc.value(ms.agg);
                row_acc[r][i].merge(acc);
                col_acc[c][i].merge(acc);
                all[i].merge(acc);
            }
        }
        let figures = |accs: &[Acc]| -> Vec<Option<f64>> {
            accs.iter()
                .zip(&spec.measures)
                .map(|(a, ms)| a.value(ms.agg))
                .collect()
        };
        Table {
            rows,
            columns,
            cells: grid,
            row_totals: row_acc.iter().map(|a| figures(a)).collect(),
            column_totals: col_acc.iter().map(|a| figures(a)).collect(),
            total: figures(&all),
            records: self.records,
        }
    }
}

/// Folds `records` into the pivot `spec` describes.
pub fn compute<'a, R: Fields + 'a>(
    spec: &Spec,
    records: impl IntoIterator<Item = &'a R>,
    offset: UtcOffset,
) -> Result<Table, String> {
    let mut p = Pivot::new(spec, offset);
    for rec in records {
        p.add(rec)?;
    }
    Ok(p.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: &[&str] = &["category", "material", "kind", "qty", "value", "ts_ms"];
    const TIMES: &[&str] = &["ts_ms"];
    const NUMBERS: &[&str] = &["qty", "value"];
    const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
        Ok(o) => o,
        Err(_) => panic!(),
    };

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn spec(rows: &[&str], cols: &[&str], measures: &[&str]) -> Result<Spec, String> {
        Spec::parse(
            &words(rows),
            &words(cols),
            &words(measures),
            FIELDS,
            TIMES,
            NUMBERS,
        )
    }

    // 2026-01-31 23:30 and 2026-02-01 00:30 in plant time (UTC+8)
    const JAN_31: i64 = 1_769_873_400_000;
    const FEB_1: i64 = 1_769_877_000_000;

    fn movements() -> Vec<serde_json::Value> {
        vec![
            json!({"category": "raw", "material": "RM-TOL", "qty": 100.0, "value": 680.0, "ts_ms": JAN_31}),
            json!({"category": "raw", "material": "RM-BA", "qty": 50.0, "value": 600.0, "ts_ms": FEB_1}),
            json!({"category": "product", "material": "FG-AR100", "qty": 20.0, "value": 500.0, "ts_ms": FEB_1}),
            json!({"category": "raw", "material": "RM-TOL", "qty": 10.0, "value": null, "ts_ms": FEB_1}),
            json!({"material": "X-1", "qty": 1.0, "value": 1.0, "ts_ms": FEB_1}),
        ]
    }

    #[test]
    fn class_by_month_sums_values_in_plant_months_with_totals() {
        let s = spec(
            &["category"],
            &["ts_ms:month"],
            &["sum:value", "count", "mean:qty"],
        )
        .unwrap();
        let t = compute(&s, &movements(), CST).unwrap();
        assert_eq!(t.records, 5);
        // a missing category is its own group (null), sorted first
        assert_eq!(
            t.rows,
            vec![
                vec![None],
                vec![Some("product".into())],
                vec![Some("raw".into())]
            ]
        );
        // 23:30 on 31 January plant time is January, though it is 15:30 UTC
        assert_eq!(
            t.columns,
            vec![vec![Some("2026-01".into())], vec![Some("2026-02".into())]]
        );
        let raw = &t.cells[2];
        assert_eq!(raw[0], vec![Some(680.0), Some(1.0), Some(100.0)]);
        // a null value is counted as a record but not summed
        assert_eq!(raw[1], vec![Some(600.0), Some(2.0), Some(30.0)]);
        // product had nothing in January: an empty cell, no figures (not zeros)
        assert_eq!(t.cells[1][0], vec![None, None, None]);
        assert_eq!(
            t.row_totals[2],
            vec![Some(1280.0), Some(3.0), Some(160.0 / 3.0)]
        );
        assert_eq!(t.column_totals[1][0], Some(1101.0));
        assert_eq!(t.total, vec![Some(1781.0), Some(5.0), Some(181.0 / 5.0)]);
    }

    #[test]
    fn min_max_and_several_dimensions() {
        let s = spec(&["category", "material"], &[], &["min:qty", "max:qty"]).unwrap();
        let t = compute(&s, &movements(), CST).unwrap();
        assert_eq!(t.columns, vec![Vec::<Option<String>>::new()]);
        let tol = t
            .rows
            .iter()
            .position(|k| k == &vec![Some("raw".to_string()), Some("RM-TOL".to_string())])
            .unwrap();
        assert_eq!(t.cells[tol][0], vec![Some(10.0), Some(100.0)]);
        assert_eq!(t.rows.len(), 4);
        let days = spec(&[], &["ts_ms:day"], &["count"]).unwrap();
        let t = compute(&days, &movements(), CST).unwrap();
        assert_eq!(
            t.columns,
            vec![
                vec![Some("2026-01-31".into())],
                vec![Some("2026-02-01".into())]
            ]
        );
    }

    #[test]
    fn fields_it_may_not_read_and_bad_words_are_refused_by_name() {
        let e = spec(&["price"], &[], &["count"]).unwrap_err();
        assert!(
            e.contains("\"price\"") && e.contains("readable: category"),
            "{e}"
        );
        let e = spec(&["category"], &[], &["sum:cost"]).unwrap_err();
        assert!(e.contains("\"cost\""), "{e}");
        let e = spec(&["qty:month"], &[], &["count"]).unwrap_err();
        assert!(e.contains("qty is not a time"), "{e}");
        let e = spec(&["ts_ms:week"], &[], &["count"]).unwrap_err();
        assert!(e.contains("day or month"), "{e}");
        let e = spec(&["category"], &[], &["sum:material"]).unwrap_err();
        assert!(e.contains("material is not a quantity"), "{e}");
        let e = spec(&["category"], &[], &["median:qty"]).unwrap_err();
        assert!(e.contains("\"median\""), "{e}");
        assert!(
            spec(&["category"], &[], &[])
                .unwrap_err()
                .contains("1 to 8")
        );
        let four = ["category", "material", "kind", "qty"];
        assert!(spec(&four, &[], &["count"]).is_err());
        assert_eq!(
            spec(&["category"], &["ts_ms:month"], &["sum:value", "count"])
                .unwrap()
                .fields(),
            vec!["category", "ts_ms", "value"]
        );
    }

    #[test]
    fn a_pivot_too_large_to_read_is_refused() {
        let s = spec(&["material"], &["qty"], &["count"]).unwrap();
        let many: Vec<serde_json::Value> = (0..400)
            .map(|i| json!({"material": format!("M{i}"), "qty": i}))
            .collect();
        let e = compute(&s, &many, CST).unwrap_err();
        assert!(e.contains("more than 100000 cells"), "{e}");
    }
}
