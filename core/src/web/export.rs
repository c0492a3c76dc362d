//! Tables as downloads: CSV (UTF-8 with BOM, so Excel opens Chinese text correctly) or an
//! Excel workbook, sent as an attachment.

use actix_web::HttpResponse;
use actix_web::http::header;

use std::collections::HashMap;

use crate::error::Error;
use crate::i18n::Msg;
use crate::store::StoreError;

/// The download formats lists offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// `xlsx` → Excel; anything else → CSV.
    pub fn parse(s: Option<&str>) -> Format {
        match s {
            Some("xlsx") => Format::Xlsx,
            _ => Format::Csv,
        }
    }
    fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// A table to download: a header row and rows of text. Cells from column `numeric_from` on
/// that parse as numbers are written as numbers in Excel.
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub numeric_from: usize,
}

fn failed(detail: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::Db(format!("export: {detail}")))
}

impl Table {
    /// The file's bytes.
    pub fn bytes(&self, format: Format) -> Result<Vec<u8>, Error> {
        match format {
            Format::Csv => self.csv(),
            Format::Xlsx => self.xlsx(),
        }
    }

    fn csv(&self) -> Result<Vec<u8>, Error> {
        let mut out = vec![0xEF, 0xBB, 0xBF];
        {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(&self.head).map_err(failed)?;
            for r in &self.rows {
                w.write_record(r.iter().map(|c| inert(c))).map_err(failed)?;
            }
            w.flush().map_err(failed)?;
        }
        Ok(out)
    }

    fn xlsx(&self) -> Result<Vec<u8>, Error> {
        use rust_xlsxwriter::{Format, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        let bold = Format::new().set_bold();
        for (c, h) in self.head.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &bold)
                .map_err(failed)?;
        }
        // Excel holds at most 1,048,576 rows
        for (r, row) in self.rows.iter().take(1_048_575).enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, col) = (r as u32 + 1, c as u16);
                match cell.parse::<f64>() {
                    Ok(x) if c >= self.numeric_from && x.is_finite() => {
                        ws.write_number(r, col, x).map(|_| ())
                    }
                    _ => ws.write_string(r, col, cell).map(|_| ()),
                }
                .map_err(failed)?;
            }
        }
        ws.set_column_width(0, 20).map_err(failed)?;
        ws.set_column_width(1, 16).map_err(failed)?;
        wb.save_to_buffer().map_err(failed)
    }
}

/// Whether a spreadsheet would take a text cell for a formula (CSV injection): it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return, and is not a number.
fn formula_like(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
        && !cell.parse::<f64>().is_ok_and(f64::is_finite)
}

/// A cell as a CSV file carries it: one a spreadsheet would run as a formula gets a leading
/// `'`, which Excel and WPS show as text and [`read_table`] takes off again.
pub(crate) fn inert(cell: &str) -> String {
    if formula_like(cell) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// The query of a sheet download: `format=csv` (default) or `xlsx`.
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct SheetQuery {
    /// `csv` (default) or `xlsx`.
    #[serde(default)]
    pub format: Option<String>,
}

/// The multipart body of a sheet import, for the API schema.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SheetUpload {
    /// A .xlsx or .csv file with a header row (column codes as in the export).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// An import's refusal as a sheet page lists it (row, column, message), or None when it is
/// not the uploader's to fix (forbidden, a server fault) and goes on as an error page.
pub fn refused_rows(
    e: &crate::web::error::AppError,
    lang: crate::i18n::Lang,
) -> Option<Vec<serde_json::Value>> {
    (e.status.is_client_error() && e.status != actix_web::http::StatusCode::FORBIDDEN).then(|| {
        e.rows
            .iter()
            .map(|r| serde_json::json!({"row": r.row, "field": r.field, "message": r.msg.render(lang)}))
            .collect()
    })
}

/// Sends `bytes` as a download named `<stem>.<ext>`.
pub fn attachment(stem: &str, format: Format, bytes: Vec<u8>) -> HttpResponse {
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{stem}.{}\"", format.ext()),
        ))
        .body(bytes)
}

fn column_of(cell: &str, columns: &'static [&'static str], labels: &str) -> Option<&'static str> {
    let cell = cell.trim();
    let code = cell
        .rsplit_once('(')
        .and_then(|(_, c)| c.strip_suffix(')'))
        .unwrap_or(cell)
        .trim();
    columns.iter().copied().find(|c| {
        *c == code
            || crate::i18n::Lang::ALL
                .iter()
                .any(|l| crate::i18n::t(*l, &format!("{labels}.{c}")) == cell)
    })
}

fn cell_text(d: &calamine::Data) -> String {
    use calamine::Data;
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        // a date typed in Excel or WPS: as the forms write it
        Data::DateTime(d) if d.is_datetime() => {
            let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{da:02}")
            } else {
                format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}")
            }
        }
        other => other.to_string(),
    }
}

/// A row of an uploaded sheet: its number in the sheet and its cells by column code.
pub type SheetRow = (usize, HashMap<&'static str, String>);

/// The rows of an uploaded sheet (first row: headers, by column code — `Label (code)` as the
/// exports write them — or by label in either language under `labels`), each as (row number
/// in the sheet, cells by column). `.xlsx` by content, anything else read as CSV (UTF-8, BOM
/// allowed). The `required` column must be there; at most `max_rows` rows.
pub fn read_table(
    bytes: &[u8],
    columns: &'static [&'static str],
    labels: &str,
    required: &'static str,
    max_rows: usize,
) -> Result<Vec<SheetRow>, Error> {
    let grid: Vec<Vec<String>> = if bytes.starts_with(b"PK\x03\x04") {
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).map_err(|e| {
                Error::invalid_msg("file", Msg::new("tags.err.import_file").arg("detail", e))
            })?;
        let range = wb
            .worksheet_range_at(0)
            .ok_or_else(|| {
                Error::invalid_msg(
                    "file",
                    Msg::new("tags.err.import_file").arg("detail", "no worksheet"),
                )
            })?
            .map_err(|e| {
                Error::invalid_msg("file", Msg::new("tags.err.import_file").arg("detail", e))
            })?;
        range
            .rows()
            .map(|r| r.iter().map(cell_text).collect())
            .collect()
    } else {
        let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
            .map_err(|_| Error::invalid("file", "tags.err.import_encoding"))?;
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        r.records()
            .map(|rec| {
                rec.map(|rec| rec.iter().map(str::to_string).collect())
                    .map_err(|e| {
                        Error::invalid_msg(
                            "file",
                            Msg::new("tags.err.import_file").arg("detail", e),
                        )
                    })
            })
            .collect::<Result<_, Error>>()?
    };
    let mut lines = grid.into_iter().enumerate();
    let Some((_, head)) = lines.next() else {
        return Err(Error::invalid("file", "web.err.file_empty"));
    };
    let mut cols = Vec::with_capacity(head.len());
    for h in &head {
        if h.trim().is_empty() {
            cols.push(None);
            continue;
        }
        let c = column_of(h, columns, labels).ok_or_else(|| {
            Error::invalid_msg("file", Msg::new("tags.err.import_column").arg("column", h))
        })?;
        cols.push(Some(c));
    }
    if !cols.contains(&Some(required)) {
        return Err(Error::invalid_msg(
            "file",
            Msg::new("tags.err.import_column").arg("column", required),
        ));
    }
    let mut out = Vec::new();
    let mut spilled = Vec::new();
    for (i, cells) in lines {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if out.len() >= max_rows {
            return Err(Error::invalid_msg(
                "file",
                Msg::new("tags.err.import_rows").arg("max", max_rows),
            ));
        }
        // more filled cells than the header names: most often a decimal comma (1,5) that
        // split a number in two — never read as something else
        if cells.iter().skip(cols.len()).any(|c| !c.trim().is_empty()) {
            spilled.push(crate::error::RowError {
                row: i + 1,
                field: "file",
                msg: Msg::new("web.err.extra_cells")
                    .arg("cells", cells.len())
                    .arg("columns", cols.len()),
            });
            continue;
        }
        let row = cols
            .iter()
            .zip(cells)
            .filter_map(|(c, v)| {
                let v = v.trim();
                // the quote an export put before a formula-like cell
                let v = v
                    .strip_prefix('\'')
                    .filter(|x| formula_like(x))
                    .unwrap_or(v);
                Some(((*c)?, v.to_string()))
            })
            .collect();
        out.push((i + 1, row));
    }
    if !spilled.is_empty() {
        return Err(Error::Rows(spilled));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decimal_comma_that_splits_a_row_is_refused_not_misread() {
        let csv = "sample,item,value\nQC-1,W,1,5\nQC-1,V,2.5\nQC-1,c,0.1,\n";
        let Err(Error::Rows(rows)) = read_table(
            csv.as_bytes(),
            &["sample", "item", "value"],
            "quality.import",
            "sample",
            100,
        ) else {
            panic!("refused")
        };
        // the trailing empty cell of row 4 is harmless; row 2 is named
        assert_eq!(rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn formula_like_cells_are_exported_inert_and_read_back_as_they_were() {
        let t = Table {
            head: vec!["name".into(), "value".into()],
            rows: vec![
                vec!["=1+1".into(), "-5".into()],
                vec!["@SUM(A1)".into(), "+86 579".into()],
            ],
            numeric_from: 1,
        };
        let b = t.bytes(Format::Csv).unwrap();
        let text = String::from_utf8_lossy(&b[3..]).to_string();
        assert!(text.contains("'=1+1,-5"), "{text}");
        assert!(text.contains("'@SUM(A1),'+86 579"), "{text}");
        let rows = read_table(&b, &["name", "value"], "x", "name", 10).unwrap();
        assert_eq!(rows[0].1["name"], "=1+1");
        assert_eq!(rows[0].1["value"], "-5");
        assert_eq!(rows[1].1["value"], "+86 579");
    }

    #[test]
    fn a_date_typed_in_excel_reads_as_a_day() {
        use rust_xlsxwriter::{ExcelDateTime, Format as XFormat, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "tag_no").unwrap();
        ws.write_string(0, 1, "commissioned").unwrap();
        ws.write_string(1, 0, "P-1").unwrap();
        let day = ExcelDateTime::from_ymd(2026, 11, 1).unwrap();
        ws.write_datetime_with_format(1, 1, &day, &XFormat::new().set_num_format("yyyy/m/d"))
            .unwrap();
        let b = wb.save_to_buffer().unwrap();
        let rows = read_table(&b, &["tag_no", "commissioned"], "x", "tag_no", 10).unwrap();
        assert_eq!(rows[0].1["commissioned"], "2026-11-01");
    }

    #[test]
    fn csv_has_a_bom_and_quotes_what_needs_it() {
        let t = Table {
            head: vec!["时间".into(), "说明".into()],
            rows: vec![vec!["2026-11-26 08:00:00".into(), "釜温高, 检查".into()]],
            numeric_from: 1,
        };
        let b = t.bytes(Format::Csv).unwrap();
        assert_eq!(&b[..3], &[0xEF, 0xBB, 0xBF]);
        assert!(String::from_utf8_lossy(&b[3..]).contains("\"釜温高, 检查\""));
        assert_eq!(&t.bytes(Format::Xlsx).unwrap()[..2], b"PK");
    }
}
