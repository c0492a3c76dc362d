//! Tags as form fields and spreadsheet rows: the console's tag form, and export to / import
//! from CSV and Excel. An import is checked row by row first and applied in one transaction
//! only if every row is right; otherwise the report names each bad row and field.

use std::collections::{HashMap, HashSet};

use super::model::{DataType, Device, ModbusPoint, Scaling, Source, Tag};
use super::service as svc;
use crate::error::{Error, Result, RowError};
use crate::i18n::{self, Lang, Msg};
use crate::store::{Actor, Change, Store};
use crate::web::form::FormData;

/// A tag as the form's (and a spreadsheet row's) string fields.
pub fn fields(t: &Tag) -> serde_json::Value {
    let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let (kind, device, signal) = match &t.source {
        Source::Manual => ("manual", String::new(), String::new()),
        Source::Simulator { device, signal } => ("simulator", device.to_string(), signal.clone()),
        Source::Modbus { device, .. } => ("modbus", device.to_string(), String::new()),
        Source::Mqtt { device, .. } => ("mqtt", device.to_string(), String::new()),
        Source::OpcUa { device, .. } => ("opc_ua", device.to_string(), String::new()),
    };
    let ua = match &t.source {
        Source::OpcUa { node_id, .. } => serde_json::json!({ "ua_node": node_id }),
        _ => serde_json::json!({}),
    };
    let mq = match &t.source {
        Source::Mqtt {
            topic,
            format,
            path,
            ..
        } => {
            serde_json::json!({"mq_topic": topic, "mq_format": format, "mq_path": path})
        }
        _ => serde_json::json!({"mq_format": "json"}),
    };
    let mb = match &t.source {
        Source::Modbus { point, .. } => serde_json::json!({
            "mb_area": point.area, "mb_address": point.address.to_string(), "mb_format": point.format,
            "mb_order": point.order, "mb_bit": point.bit.map(|b| b.to_string()).unwrap_or_default(), "mb_group": point.group,
        }),
        _ => {
            serde_json::json!({"mb_area": "holding_register", "mb_format": "float32", "mb_order": "abcd", "mb_group": "default"})
        }
    };
    let mut v = serde_json::json!({
        "name": t.name, "description_zh": t.description_zh, "description_en": t.description_en,
        "unit": t.unit, "data_type": t.data_type, "source_kind": kind, "device": device, "signal": signal,
        "raw_lo": num(t.scaling.map(|s| s.raw_lo)), "raw_hi": num(t.scaling.map(|s| s.raw_hi)),
        "eng_lo": num(t.scaling.map(|s| s.eng_lo)), "eng_hi": num(t.scaling.map(|s| s.eng_hi)),
        "deadband": t.deadband.to_string(), "resolution": t.resolution.to_string(),
        "range_lo": num(t.range_lo), "range_hi": num(t.range_hi),
        "writable": if t.writable { "on" } else { "" },
        "area": t.area, "equipment": t.equipment, "retention_days": t.retention_days.to_string(),
    });
    for extra in [mb, mq, ua] {
        if let (Some(v), serde_json::Value::Object(m)) = (v.as_object_mut(), extra) {
            v.extend(m);
        }
    }
    v
}

/// A choice field (`snake_case` enum) of a form.
pub fn choice<T: serde::de::DeserializeOwned>(
    f: &FormData,
    name: &str,
    field: &'static str,
) -> Result<T, Error> {
    serde_json::from_value(serde_json::Value::String(f.get(name).trim().to_string()))
        .map_err(|_| Error::invalid(field, "tags.err.modbus_field"))
}

/// The Modbus address fields of the tag form (format and order default when empty).
fn point_from_form(f: &FormData) -> Result<ModbusPoint, Error> {
    Ok(ModbusPoint {
        area: choice(f, "mb_area", "area")?,
        address: f
            .opt::<u16>("mb_address")?
            .ok_or_else(|| Error::invalid("address", "tags.err.address"))?,
        format: match f.get("mb_format").trim() {
            "" => Default::default(),
            _ => choice(f, "mb_format", "format")?,
        },
        order: match f.get("mb_order").trim() {
            "" => Default::default(),
            _ => choice(f, "mb_order", "order")?,
        },
        bit: f.opt::<u8>("mb_bit")?,
        group: match f.get("mb_group").trim() {
            "" => crate::tags::model::default_group(),
            g => g.to_string(),
        },
    })
}

/// A tag from form (or spreadsheet) fields; the service checks it further.
pub fn from_fields(f: &FormData) -> Result<Tag, Error> {
    let data_type = match f.get("data_type").trim() {
        "bool" => DataType::Bool,
        "int" => DataType::Int,
        "string" => DataType::String,
        "float" | "" => DataType::Float,
        _ => return Err(Error::invalid("data_type", "tags.err.data_type")),
    };
    let source = match f.get("source_kind").trim() {
        "simulator" => Source::Simulator {
            device: f
                .opt::<u32>("device")?
                .ok_or_else(|| Error::invalid("device", "tags.err.device_not_found"))?,
            signal: f.get("signal").to_string(),
        },
        "modbus" => Source::Modbus {
            device: f
                .opt::<u32>("device")?
                .ok_or_else(|| Error::invalid("device", "tags.err.device_not_found"))?,
            point: point_from_form(f)?,
        },
        "mqtt" => Source::Mqtt {
            device: f
                .opt::<u32>("device")?
                .ok_or_else(|| Error::invalid("device", "tags.err.device_not_found"))?,
            topic: f.get("mq_topic").trim().to_string(),
            format: choice(f, "mq_format", "format")?,
            path: f.get("mq_path").trim().to_string(),
        },
        "opc_ua" => Source::OpcUa {
            device: f
                .opt::<u32>("device")?
                .ok_or_else(|| Error::invalid("device", "tags.err.device_not_found"))?,
            node_id: f.get("ua_node").trim().to_string(),
        },
        "manual" | "" => Source::Manual,
        _ => return Err(Error::invalid("source", "tags.err.source_kind")),
    };
    let scaling = match (
        f.opt::<f64>("raw_lo")?,
        f.opt::<f64>("raw_hi")?,
        f.opt::<f64>("eng_lo")?,
        f.opt::<f64>("eng_hi")?,
    ) {
        (None, None, None, None) => None,
        (Some(raw_lo), Some(raw_hi), Some(eng_lo), Some(eng_hi)) => Some(Scaling {
            raw_lo,
            raw_hi,
            eng_lo,
            eng_hi,
        }),
        _ => return Err(Error::invalid("scaling", "tags.err.scaling")),
    };
    let mut t = svc::blank_tag(f.get("name"), data_type, source);
    t.description_zh = f.get("description_zh").into();
    t.description_en = f.get("description_en").into();
    t.unit = f.get("unit").into();
    t.scaling = scaling;
    t.deadband = f.opt("deadband")?.unwrap_or(0.0);
    t.resolution = f.opt("resolution")?.unwrap_or(0.001);
    t.range_lo = f.opt("range_lo")?;
    t.range_hi = f.opt("range_hi")?;
    t.writable = f.checked("writable");
    t.area = f.get("area").into();
    t.equipment = f.get("equipment").into();
    t.retention_days = f.opt("retention_days")?.unwrap_or(365);
    Ok(t)
}

/// The spreadsheet columns, in order. `source` holds the form's `source_kind`; `device` the
/// device's name (the form uses its id).
pub const COLUMNS: &[&str] = &[
    "name",
    "description_zh",
    "description_en",
    "unit",
    "data_type",
    "source",
    "device",
    "signal",
    "mb_area",
    "mb_address",
    "mb_format",
    "mb_order",
    "mb_bit",
    "mb_group",
    "mq_topic",
    "mq_format",
    "mq_path",
    "ua_node",
    "raw_lo",
    "raw_hi",
    "eng_lo",
    "eng_hi",
    "deadband",
    "resolution",
    "range_lo",
    "range_hi",
    "writable",
    "area",
    "equipment",
    "retention_days",
];

/// Most rows one import takes.
pub const MAX_ROWS: usize = 100_000;

/// The header of a column in `lang`: its label and, in brackets, its code, which is what the
/// import goes by (labels in either language are accepted too).
pub fn header(lang: Lang, col: &str) -> String {
    format!("{} ({col})", i18n::t(lang, &format!("tags.io.{col}")))
}

/// The export: one row per tag, in the import's columns.
pub fn table(lang: Lang, tags: &[Tag], devices: &[Device]) -> crate::web::export::Table {
    let names: HashMap<u32, &str> = devices.iter().map(|d| (d.id, d.name.as_str())).collect();
    let rows = tags
        .iter()
        .map(|t| {
            let f = fields(t);
            let keep_modbus = matches!(t.source, Source::Modbus { .. });
            let keep_mqtt = matches!(t.source, Source::Mqtt { .. });
            let keep_ua = matches!(t.source, Source::OpcUa { .. });
            COLUMNS
                .iter()
                .map(|c| match *c {
                    "source" => f["source_kind"].as_str().unwrap_or("").to_string(),
                    "device" => t
                        .source
                        .device()
                        .and_then(|d| names.get(&d))
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    "writable" => {
                        if t.writable {
                            "yes".into()
                        } else {
                            String::new()
                        }
                    }
                    c if c.starts_with("mb_") && !keep_modbus => String::new(),
                    c if c.starts_with("mq_") && !keep_mqtt => String::new(),
                    c if c.starts_with("ua_") && !keep_ua => String::new(),
                    c => match &f[c] {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        v => v.to_string().trim_matches('"').to_string(),
                    },
                })
                .collect()
        })
        .collect();
    crate::web::export::Table {
        head: COLUMNS.iter().map(|c| header(lang, c)).collect(),
        rows,
        // numbers stay text: addresses, ranges and bit numbers are read back as written
        numeric_from: usize::MAX,
    }
}

/// The column a header cell names, by code, `label (code)`, or a label in either language.
/// The rows of an uploaded file (first row: headers), each as (row number in the sheet,
/// cells by column). `.xlsx` by content, anything else read as CSV (UTF-8, BOM allowed).
pub fn parse(bytes: &[u8]) -> Result<Vec<(usize, HashMap<&'static str, String>)>> {
    crate::web::export::read_table(bytes, COLUMNS, "tags.io", "name", MAX_ROWS)
}

/// A sheet row as form fields (device name → id, yes/no → checkbox).
/// A sheet row as form fields (device name → id, yes/no → checkbox), over `base`: an
/// existing tag's fields, so the columns a sheet leaves out keep their values.
fn row_fields(
    row: &HashMap<&'static str, String>,
    devices: &HashMap<&str, u32>,
    base: Option<&Tag>,
) -> Result<FormData> {
    let mut f: Vec<(String, String)> = match base.map(fields) {
        Some(serde_json::Value::Object(m)) => m
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) if k == "writable" && s.is_empty() => None,
                serde_json::Value::String(s) => Some((k, s)),
                serde_json::Value::Null => None,
                v => Some((k, v.to_string().trim_matches('"').to_string())),
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut set = |k: &str, v: Option<String>| {
        f.retain(|(name, _)| name != k);
        if let Some(v) = v {
            f.push((k.to_string(), v));
        }
    };
    for (k, v) in row {
        match *k {
            "source" => set("source_kind", Some(v.clone())),
            "device" if v.is_empty() => set("device", None),
            "device" => {
                let id = devices.get(v.as_str()).ok_or_else(|| {
                    Error::invalid_msg(
                        "device",
                        Msg::new("tags.err.import_device").arg("device", v),
                    )
                })?;
                set("device", Some(id.to_string()));
            }
            "writable" => match v.to_lowercase().as_str() {
                "yes" | "y" | "true" | "1" | "on" | "是" | "√" => {
                    set("writable", Some("on".into()))
                }
                "" | "no" | "n" | "false" | "0" | "off" | "否" => set("writable", None),
                _ => return Err(Error::invalid("writable", "tags.err.import_yes_no")),
            },
            k => set(k, Some(v.clone())),
        }
    }
    Ok(FormData(f))
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
}

/// Creates new tags and replaces existing ones (by name), all or nothing. Errors name each
/// bad row (at most 100).
pub fn import(
    store: &Store,
    actor: &Actor,
    rows: Vec<(usize, HashMap<&'static str, String>)>,
) -> Result<Imported> {
    if rows.is_empty() {
        return Err(Error::invalid("file", "web.err.file_empty"));
    }
    let mut w = store.write(actor)?;
    let devices = svc::devices(&w)?;
    let by_name: HashMap<&str, u32> = devices.iter().map(|d| (d.name.as_str(), d.id)).collect();
    let existing: HashMap<String, Tag> = svc::tags(&w)?
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut errors: Vec<RowError> = Vec::new();
    let mut ready: Vec<(Option<Tag>, Tag)> = Vec::new();
    let mut next_id = svc::peek_next_id(&w)?;
    for (row, cells) in rows {
        let raw_name = cells
            .get("name")
            .map(|n| n.trim().to_string())
            .unwrap_or_default();
        let twice = seen
            .insert(raw_name.clone(), row)
            .filter(|_| !raw_name.is_empty());
        let checked = match twice {
            Some(first) => Err(Error::invalid_msg(
                "name",
                Msg::new("tags.err.import_twice").arg("row", first),
            )),
            None => {
                row_fields(&cells, &by_name, existing.get(&raw_name)).and_then(|f| from_fields(&f))
            }
        }
        .and_then(|t| {
            let name = t.name.trim().to_string();
            let before = existing.get(&name).cloned();
            let id = before.as_ref().map_or_else(
                || {
                    next_id += 1;
                    next_id - 1
                },
                |b| b.id,
            );
            // names are checked against the file and the store above; devices by the service
            let t = svc::check_tag_with(&t, id, &devices, |_, _| false)?;
            Ok((before, t))
        });
        match checked {
            Ok(x) => ready.push(x),
            Err(e) => errors.push(e.in_row(row)?),
        }
        if errors.len() >= 100 {
            break;
        }
    }
    if !errors.is_empty() {
        return Err(Error::Rows(errors));
    }
    let (mut created, mut updated) = (0, 0);
    let mut names = HashSet::new();
    for (before, t) in &ready {
        if before.is_none() {
            svc::take_next_id(&mut w)?;
            created += 1;
        } else if before.as_ref() != Some(t) {
            updated += 1;
        }
        names.insert(t.name.clone());
        svc::put_tag(&mut w, t)?;
    }
    w.audit(
        "tags.tag.import",
        format!("tags: {created} new, {updated} changed"),
        Change::created(
            serde_json::json!({ "created": created, "updated": updated, "rows": ready.len() }),
        ),
    );
    w.commit()?;
    Ok(Imported { created, updated })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;
    use crate::tags::model::{DriverConfig, ModbusArea, ModbusOptions, RegFormat, WordOrder};

    fn plc(s: &Store) -> Device {
        svc::create_device(
            s,
            &Actor::system("t"),
            Device {
                id: 0,
                name: "R101 PLC".into(),
                description: String::new(),
                config: DriverConfig::ModbusTcp {
                    host: "10.0.0.5".into(),
                    port: 502,
                    unit: 1,
                    options: ModbusOptions::default(),
                },
                enabled: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn an_export_imports_back_unchanged_in_both_formats() {
        let (_d, s) = temp_store();
        let dev = plc(&s);
        let mut t = svc::blank_tag(
            "R101.TT101",
            DataType::Float,
            Source::Modbus {
                device: dev.id,
                point: ModbusPoint {
                    area: ModbusArea::HoldingRegister,
                    address: 100,
                    format: RegFormat::Float32,
                    order: WordOrder::Cdab,
                    bit: None,
                    group: "default".into(),
                },
            },
        );
        t.description_zh = "釜温, 上部".into();
        t.scaling = Some(Scaling {
            raw_lo: 0.0,
            raw_hi: 4095.0,
            eng_lo: 0.0,
            eng_hi: 200.0,
        });
        t.range_lo = Some(0.0);
        t.range_hi = Some(200.0);
        t.writable = true;
        t.area = "resin".into();
        let t = svc::create_tag(&s, &Actor::system("t"), t).unwrap();
        let m = svc::create_tag(
            &s,
            &Actor::system("t"),
            svc::blank_tag("LAB.AV", DataType::Float, Source::Manual),
        )
        .unwrap();
        for format in [
            crate::web::export::Format::Csv,
            crate::web::export::Format::Xlsx,
        ] {
            let bytes = table(
                Lang::ZhCn,
                &[t.clone(), m.clone()],
                std::slice::from_ref(&dev),
            )
            .bytes(format)
            .unwrap();
            let rows = parse(&bytes).unwrap();
            assert_eq!(rows.len(), 2);
            assert_eq!(rows[0].0, 2, "sheet rows count from the header");
            let done = import(&s, &Actor::system("t"), rows).unwrap();
            assert_eq!(
                done,
                Imported {
                    created: 0,
                    updated: 0
                },
                "{format:?}: nothing changed"
            );
        }
        let back = svc::tag_by_name(&s.read().unwrap(), "R101.TT101").unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn a_sheet_with_bad_rows_imports_nothing_and_names_each() {
        let (_d, s) = temp_store();
        plc(&s);
        let csv = "name,data_type,source,device,mb_area,mb_address,mb_format,writable,range_lo,range_hi\n\
            FT1,float,modbus,R101 PLC,holding_register,10,float32,yes,0,50\n\
            FT2,float,modbus,Nope PLC,holding_register,12,float32,,,\n\
            FT3,decimal,manual,,,,,,,\n\
            FT1,float,manual,,,,,,,\n\
            FT5,float,modbus,R101 PLC,input_register,14,float32,yes,,\n\
            FT6,float,manual,,,,,maybe,,\n\
            FT7,float,manual,,,,,,9,1\n";
        let rows = parse(csv.as_bytes()).unwrap();
        let Err(Error::Rows(bad)) = import(&s, &Actor::system("t"), rows) else {
            panic!("rows rejected")
        };
        let got: Vec<(usize, &str)> = bad.iter().map(|r| (r.row, r.field)).collect();
        assert_eq!(
            got,
            [
                (3, "device"),
                (4, "data_type"),
                (5, "name"),
                (6, "writable"),
                (7, "writable"),
                (8, "range_lo")
            ]
        );
        assert!(
            svc::tags(&s.read().unwrap()).unwrap().is_empty(),
            "nothing was imported"
        );
        // headers are checked too
        assert!(matches!(
            parse(b"name,colour\nA,red\n"),
            Err(Error::Invalid { field: "file", .. })
        ));
        assert!(matches!(
            parse(b"\xff\xfe\x00"),
            Err(Error::Invalid { field: "file", .. })
        ));
        // a good sheet, with Chinese headers, creates the tags
        let ok = "\u{feff}位号 (name),数据类型 float/int/bool/string,来源 manual/simulator/modbus/mqtt\nA1,float,manual\nA2,int,manual\n";
        let done = import(&s, &Actor::system("t"), parse(ok.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            done,
            Imported {
                created: 2,
                updated: 0
            }
        );
        let ids: Vec<u32> = svc::tags(&s.read().unwrap())
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, [1, 2]);
        // a sheet with only some columns changes only those
        let before = svc::tag_by_name(&s.read().unwrap(), "A1").unwrap();
        let partial = "name,unit\nA1,°C\n";
        let done = import(&s, &Actor::system("t"), parse(partial.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            done,
            Imported {
                created: 0,
                updated: 1
            }
        );
        let after = svc::tag_by_name(&s.read().unwrap(), "A1").unwrap();
        assert_eq!(
            after,
            Tag {
                unit: "°C".into(),
                ..before
            }
        );
        let next = svc::create_tag(
            &s,
            &Actor::system("t"),
            svc::blank_tag("A3", DataType::Int, Source::Manual),
        )
        .unwrap();
        assert_eq!(next.id, 3, "ids continue after an import");
    }
}
