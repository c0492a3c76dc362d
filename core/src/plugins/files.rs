//! Table files plugins make for their readers (`files.table`, contract 0.2): the box writes
//! the Excel workbook (rust_xlsxwriter) or the CSV file (UTF-8 with BOM, formula-like text
//! made inert) from typed cells, keeps it 7 days in `plugins.files` (key `<plugin id> NUL
//! <file id>`), at most [`MAX_FILES`] per plugin, and serves it at
//! `/x/<plugin>/files/<file>` to those who may read the plugin's pages. The notification
//! channels attach it to email. Removing the plugin removes its files.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::store::{Order, Reader, Store, StoreError, Table, WriteTx};

const FILES: Table<String, FileRec> = Table::new("plugins.files");

/// Sheets a file may have.
pub const MAX_SHEETS: usize = 20;
/// Cells a file may have, over all sheets (headings included).
pub const MAX_CELLS: usize = 200_000;
/// Files a plugin keeps; a new one past it replaces the oldest.
pub const MAX_FILES: usize = 50;
/// How long a file is kept.
pub const KEEP_MS: i64 = 7 * 86_400_000;

/// A kept file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRec {
    /// As the plugin named it, with the extension.
    pub name: String,
    pub created_ms: i64,
    pub bytes: serde_bytes::ByteBuf,
}

impl FileRec {
    pub fn content_type(&self) -> &'static str {
        if self.name.ends_with(".csv") {
            "text/csv; charset=utf-8"
        } else {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// Unix ms, written as plant date and time.
    Time(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
}

fn key(plugin: &str, file: &str) -> String {
    format!("{plugin}\0{file}")
}

/// Checks a file's name and sheets: the reason if they break a rule.
pub fn check(name: &str, sheets: &[Sheet]) -> Result<(), String> {
    let n = name.trim().chars().count();
    if n == 0
        || n > 100
        || name
            .chars()
            .any(|c| c.is_control() || "/\\:*?\"<>|".contains(c))
    {
        return Err("the name: 1–100 characters, none of / \\ : * ? \" < > |".into());
    }
    if sheets.is_empty() || sheets.len() > MAX_SHEETS {
        return Err(format!("1–{MAX_SHEETS} sheets"));
    }
    let mut cells = 0usize;
    let mut names = std::collections::HashSet::new();
    for s in sheets {
        let len = s.name.chars().count();
        if len == 0 || len > 31 || s.name.chars().any(|c| "[]:*?/\\".contains(c)) {
            return Err(format!(
                "sheet {:?}: 1–31 characters, none of [ ] : * ? / \\",
                s.name
            ));
        }
        if !names.insert(s.name.to_lowercase()) {
            return Err(format!("sheet {:?} twice", s.name));
        }
        if s.rows.len() >= 1_048_576 {
            return Err(format!("sheet {:?}: at most 1,048,575 rows", s.name));
        }
        cells += s.header.len() + s.rows.iter().map(Vec::len).sum::<usize>();
        if s.header.len() > 16_384 || s.rows.iter().any(|r| r.len() > 16_384) {
            return Err(format!("sheet {:?}: at most 16,384 columns", s.name));
        }
    }
    if cells > MAX_CELLS {
        return Err(format!("{cells} cells; at most {MAX_CELLS}"));
    }
    Ok(())
}

/// The file's bytes and its name with the extension.
pub fn write(
    name: &str,
    format: Format,
    sheets: &[Sheet],
    offset: time::UtcOffset,
) -> Result<(String, Vec<u8>), String> {
    check(name, sheets)?;
    let name = name.trim();
    match format {
        Format::Csv => Ok((format!("{name}.csv"), csv(&sheets[0], offset)?)),
        Format::Xlsx => Ok((format!("{name}.xlsx"), xlsx(sheets, offset)?)),
    }
}

fn csv(s: &Sheet, offset: time::UtcOffset) -> Result<Vec<u8>, String> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(&mut out);
        w.write_record(s.header.iter().map(|h| crate::web::export::inert(h)))
            .map_err(|e| e.to_string())?;
        for r in &s.rows {
            w.write_record(r.iter().map(|c| match c {
                Cell::Empty => String::new(),
                Cell::Text(t) => crate::web::export::inert(t),
                Cell::Number(x) if x.is_finite() => x.to_string(),
                Cell::Number(_) => String::new(),
                Cell::Time(ms) => crate::plant_time::format_ms(*ms, offset),
            }))
            .map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn xlsx(sheets: &[Sheet], offset: time::UtcOffset) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{ExcelDateTime, Format as XFormat, Workbook};
    let e = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut wb = Workbook::new();
    let bold = XFormat::new().set_bold();
    let when = XFormat::new().set_num_format("yyyy-mm-dd hh:mm");
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&s.name).map_err(e)?;
        for (c, h) in s.header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &bold)
                .map_err(e)?;
        }
        for (r, row) in s.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Empty => {}
                    Cell::Text(t) => {
                        ws.write_string(r, c, t).map_err(e)?;
                    }
                    Cell::Number(x) if x.is_finite() => {
                        ws.write_number(r, c, *x).map_err(e)?;
                    }
                    Cell::Number(_) => {}
                    Cell::Time(ms) => {
                        let t = crate::plant_time::local(*ms, offset);
                        let d = ExcelDateTime::from_ymd(t.year() as u16, t.month() as u8, t.day())
                            .and_then(|d| {
                                d.and_hms(u16::from(t.hour()), t.minute(), f64::from(t.second()))
                            })
                            .map_err(e)?;
                        ws.write_datetime_with_format(r, c, &d, &when).map_err(e)?;
                    }
                }
            }
        }
        if !s.header.is_empty() {
            ws.set_column_range_width(0, s.header.len().min(16_384) as u16 - 1, 16)
                .map_err(e)?;
        }
    }
    wb.save_to_buffer().map_err(e)
}

/// Keeps a file for the plugin and answers its id; drops the plugin's files older than
/// [`KEEP_MS`] and the oldest past [`MAX_FILES`].
pub fn save(
    store: &Store,
    actor: &crate::store::Actor,
    plugin: &str,
    name: String,
    bytes: Vec<u8>,
    now_ms: i64,
) -> Result<String, StoreError> {
    let mut w = store.write(actor)?;
    let mut kept: Vec<(String, i64)> = Vec::new();
    let start = key(plugin, "");
    w.visit(&FILES, start.clone().., Order::Asc, |k, f| {
        if !k.starts_with(&start) {
            return ControlFlow::Break(());
        }
        kept.push((k, f.created_ms));
        ControlFlow::Continue(())
    })?;
    // ids are the creation time and a counter: in key order, oldest first
    let mut doomed: Vec<String> = kept
        .iter()
        .filter(|(_, t)| *t < now_ms - KEEP_MS)
        .map(|(k, _)| k.clone())
        .collect();
    let live = kept.len() - doomed.len();
    if live >= MAX_FILES {
        doomed.extend(
            kept.iter()
                .filter(|(_, t)| *t >= now_ms - KEEP_MS)
                .take(live + 1 - MAX_FILES)
                .map(|(k, _)| k.clone()),
        );
    }
    for k in &doomed {
        w.remove(&FILES, k)?;
    }
    let mut id = format!("{:013}", now_ms.max(0));
    let mut n = 0;
    while w.get(&FILES, &key(plugin, &id))?.is_some() {
        n += 1;
        id = format!("{:013}-{n}", now_ms.max(0));
    }
    w.insert(
        &FILES,
        &key(plugin, &id),
        &FileRec {
            name,
            created_ms: now_ms,
            bytes: serde_bytes::ByteBuf::from(bytes),
        },
    )?;
    w.commit()?;
    Ok(id)
}

/// A plugin's file, while it is kept.
pub fn load(
    r: &impl Reader,
    plugin: &str,
    file: &str,
    now_ms: i64,
) -> Result<Option<FileRec>, StoreError> {
    if file.is_empty() || file.len() > 40 || file.contains('\0') {
        return Ok(None);
    }
    Ok(r.get(&FILES, &key(plugin, file))?
        .filter(|f| f.created_ms >= now_ms - KEEP_MS))
}

/// The file of an address `files.table` gave (`/x/<plugin>/files/<file>`).
pub fn by_address(
    r: &impl Reader,
    plugin: &str,
    address: &str,
    now_ms: i64,
) -> Result<Option<FileRec>, StoreError> {
    let prefix = format!("/x/{plugin}/files/");
    match address.strip_prefix(&prefix) {
        Some(file) => load(r, plugin, file, now_ms),
        None => Ok(None),
    }
}

/// Removes a plugin's files (with the plugin).
pub(super) fn clear(w: &mut WriteTx, plugin: &str) -> Result<u64, StoreError> {
    super::store::remove_prefixed(w, &FILES, &key(plugin, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(name: &str, rows: usize) -> Sheet {
        Sheet {
            name: name.into(),
            header: vec!["时间".into(), "电 kWh".into(), "备注".into()],
            rows: (0..rows)
                .map(|i| {
                    vec![
                        Cell::Time(1_796_054_400_000 + i as i64 * 3_600_000),
                        Cell::Number(i as f64 * 1.5),
                        Cell::Text(if i == 0 { "=1+2".into() } else { "ok".into() }),
                    ]
                })
                .collect(),
        }
    }

    #[test]
    fn files_are_written_with_typed_cells_and_checked() {
        let cst = time::UtcOffset::from_hms(8, 0, 0).unwrap();
        let (name, csv) = write("能源月报", Format::Csv, &[sheet("12月", 2)], cst).unwrap();
        assert_eq!(name, "能源月报.csv");
        let text = String::from_utf8(csv[3..].to_vec()).unwrap();
        assert_eq!(
            text,
            "时间,电 kWh,备注\n2026-12-01 00:00:00,0,'=1+2\n2026-12-01 01:00:00,1.5,ok\n"
        );
        let (name, xlsx) = write("r", Format::Xlsx, &[sheet("a", 3), sheet("b", 1)], cst).unwrap();
        assert_eq!(name, "r.xlsx");
        assert!(xlsx.starts_with(b"PK"));
        // what the rules refuse
        assert!(write("", Format::Csv, &[sheet("a", 1)], cst).is_err());
        assert!(write("a/b", Format::Csv, &[sheet("a", 1)], cst).is_err());
        assert!(write("r", Format::Xlsx, &[], cst).is_err());
        assert!(write("r", Format::Xlsx, &[sheet("a:b", 1)], cst).is_err());
        assert!(write("r", Format::Xlsx, &[sheet("a", 1), sheet("A", 1)], cst).is_err());
        let err = write("r", Format::Xlsx, &[sheet("a", 70_000)], cst).unwrap_err();
        assert!(err.contains("at most 200000"), "{err}");
    }

    #[test]
    fn a_plugin_keeps_its_newest_files_for_a_week() {
        let (_d, s) = crate::store::tests::temp_store();
        let actor = crate::store::Actor::system("plugin:energy");
        let t0 = 1_796_054_400_000;
        let first = save(&s, &actor, "energy", "a.csv".into(), b"1".to_vec(), t0).unwrap();
        let ids: Vec<String> = (1..=MAX_FILES as i64)
            .map(|i| save(&s, &actor, "energy", format!("{i}.csv"), vec![], t0 + i).unwrap())
            .collect();
        let r = s.read().unwrap();
        assert!(
            load(&r, "energy", &first, t0 + 100).unwrap().is_none(),
            "the oldest went"
        );
        assert!(load(&r, "energy", &ids[0], t0 + 100).unwrap().is_some());
        assert!(
            load(&r, "energy", &ids[0], t0 + KEEP_MS + 2)
                .unwrap()
                .is_none()
        );
        assert!(load(&r, "other", &ids[0], t0 + 100).unwrap().is_none());
        let addr = format!("/x/energy/files/{}", ids[1]);
        assert!(by_address(&r, "energy", &addr, t0).unwrap().is_some());
        assert!(by_address(&r, "other", &addr, t0).unwrap().is_none());
    }
}
