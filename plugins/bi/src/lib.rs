//! BI — the business intelligence X module, a first-party nplusx plugin written with the kit
//! (contract 0.3).
//!
//! - **KPI library** (`kpis`): figures across the modules over the last 7, 30 or 90 days —
//!   OEE, first-pass yield and batch yield, inventory turnover, days of cover and ageing,
//!   energy intensity, permits by type, hidden dangers closed on time, the alarm rate against
//!   ISA-18.2 — each from the module records it is defined on (`kpi` has the arithmetic).
//! - **Pivots** (`pivot`): rows, columns and measures over a module's records, computed by
//!   the box (`records.pivot`), with a chart, saved views and an Excel export.

pub mod kpi;
pub mod labels;

use nplusx_sdk::files::{Cell, Format, Sheet};
use nplusx_sdk::plant::{self, DAY_MS};
use nplusx_sdk::serde_json::{Value, json};
use nplusx_sdk::tags::Step;
use nplusx_sdk::{
    Button, ChartData, Error, Field, Form, Info, Kpi, Lang, Outcome, Page, Plugin, Table, Tone,
    Values, View, clock, files, records, storage, tags,
};
use serde::{Deserialize, Serialize};

/// A pivot as the reader set it up: what `records.pivot` is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PivotView {
    collection: String,
    rows: Vec<String>,
    columns: Vec<String>,
    measures: Vec<String>,
    /// Plant days, both included.
    from: String,
    to: String,
}

/// The collections the box pivots, with their names for readers.
const COLLECTIONS: &[(&str, &str, &str)] = &[
    ("inventory.movements", "出入库", "Stock movements"),
    ("production.batches", "生产批次", "Batches"),
    ("equipment.work_orders", "维修工单", "Work orders"),
    ("quality.samples", "质检样品", "Samples"),
    ("quality.nonconformances", "不合格品", "Nonconformances"),
    ("safety.permits", "作业票", "Work permits"),
    ("alarms.journal", "报警日志", "Alarm journal"),
];

fn err(e: Error) -> String {
    e.into()
}

fn words(s: &str) -> Vec<String> {
    s.split([',', '，'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The start of a plant day `YYYY-MM-DD`, Unix ms.
fn day_start(day: &str, offset_ms: i64) -> Option<i64> {
    let p: Vec<i64> = day
        .split('-')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    match p[..] {
        [y, m, d] if (1..=12).contains(&m) && (1..=31).contains(&d) => {
            Some(days_from_civil(y, m, d) * DAY_MS - offset_ms)
        }
        _ => None,
    }
}

fn fmt(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "—".into(),
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{:.1}", v * 100.0))
}

fn default_view(offset: i64) -> PivotView {
    let now = clock::now_ms().unwrap_or(0);
    PivotView {
        collection: "inventory.movements".into(),
        rows: vec!["category".into()],
        columns: vec!["ts_ms:month".into()],
        measures: vec!["sum:value".into()],
        from: plant::day_of(now - 364 * DAY_MS, offset),
        to: plant::day_of(now, offset),
    }
}

fn current(offset: i64) -> Result<PivotView, String> {
    Ok(storage::get_json("view:current")
        .map_err(err)?
        .unwrap_or_else(|| default_view(offset)))
}

/// The pivot the box computes for a view, as JSON.
fn compute(v: &PivotView, offset: i64) -> Result<Value, Error> {
    let from = day_start(&v.from, offset)
        .ok_or_else(|| Error::Invalid(format!("from: not a day: {}", v.from)))?;
    let to = day_start(&v.to, offset)
        .ok_or_else(|| Error::Invalid(format!("to: not a day: {}", v.to)))?
        + DAY_MS;
    records::pivot(&v.collection, from, to, &v.rows, &v.columns, &v.measures)
}

/// A group's key for readers: each part named in their language (`dims` are the fields the
/// parts come from).
fn key(k: &Value, dims: &[String], lang: Lang) -> String {
    k.as_array()
        .map(|parts| {
            parts
                .iter()
                .enumerate()
                .map(|(i, p)| match p.as_str() {
                    Some(code) => dims
                        .get(i)
                        .map_or_else(|| code.to_string(), |d| labels::part(d, code, lang)),
                    None => "—".to_string(),
                })
                .collect::<Vec<_>>()
                .join(" / ")
        })
        .unwrap_or_default()
}

/// The pivot as rows of text: the header, the body, the totals row.
fn grid(v: &PivotView, t: &Value, lang: Lang) -> (Vec<String>, Vec<Vec<String>>) {
    let cols: Vec<String> = t["columns"]
        .as_array()
        .map(|c| c.iter().map(|k| key(k, &v.columns, lang)).collect())
        .unwrap_or_default();
    let mut header = vec![if v.rows.is_empty() {
        String::new()
    } else {
        v.rows.join(" / ")
    }];
    for c in &cols {
        for m in &v.measures {
            header.push(if v.measures.len() > 1 || !c.is_empty() {
                format!("{c} {m}").trim().to_string()
            } else {
                m.clone()
            });
        }
    }
    for m in &v.measures {
        header.push(format!("{} {m}", lang.pick("合计", "Total")));
    }
    let figures = |cell: &Value| -> Vec<String> {
        cell.as_array()
            .map(|f| f.iter().map(|x| fmt(x.as_f64(), 2)).collect())
            .unwrap_or_default()
    };
    let mut body = Vec::new();
    if let Some(rows) = t["rows"].as_array() {
        for (i, r) in rows.iter().enumerate() {
            let mut line = vec![key(r, &v.rows, lang)];
            for j in 0..cols.len() {
                let cell = &t["cells"][i][j];
                if cell.is_array() {
                    line.extend(figures(cell));
                } else {
                    line.extend(v.measures.iter().map(|_| String::new()));
                }
            }
            line.extend(figures(&t["row_totals"][i]));
            body.push(line);
        }
    }
    let mut totals = vec![lang.pick("合计", "Total").to_string()];
    for j in 0..cols.len() {
        totals.extend(figures(&t["column_totals"][j]));
    }
    totals.extend(figures(&t["total"]));
    body.push(totals);
    (header, body)
}

fn pivot_page(query: &Values, lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let offset = plant::offset_ms().map_err(err)?;
    let (view, name) = match query.text("view") {
        "" => (current(offset)?, String::new()),
        n => match storage::get_json::<PivotView>(&format!("saved:{n}")).map_err(err)? {
            Some(v) => (v, n.to_string()),
            None => (current(offset)?, String::new()),
        },
    };
    let mut page = Page::new(if name.is_empty() {
        t("透视分析", "Pivot").to_string()
    } else {
        format!("{} · {name}", t("透视分析", "Pivot"))
    });
    let saved: Vec<(String, String)> = storage::keys("saved:", 200)
        .map_err(err)?
        .into_iter()
        .map(|k| {
            let n = k["saved:".len()..].to_string();
            (n.clone(), format!("/x/bi/pivot?view={n}"))
        })
        .collect();
    if !saved.is_empty() {
        page = page.heading(t("已保存的视图", "Saved views")).links(saved);
    }
    match compute(&view, offset) {
        Ok(table) => {
            let (header, body) = grid(&view, &table, lang);
            let mut tbl = Table::new(header.iter().map(String::as_str)).numeric(1);
            for line in &body {
                tbl.push(line.iter().map(String::as_str));
            }
            page = page.kpis(vec![
                Kpi::new(
                    t("读取记录", "Records read"),
                    table["records"].as_u64().unwrap_or(0),
                ),
                Kpi::new(
                    t("合计", "Total"),
                    fmt(
                        table["total"][0].as_f64(),
                        if view.measures.first().is_some_and(|m| m.trim() == "count") {
                            0
                        } else {
                            2
                        },
                    ),
                )
                .hint(view.measures.first().cloned().unwrap_or_default()),
            ]);
            page = page.table(tbl);
            // a bar per row group of the first measure's row totals
            if let Some(rows) = table["rows"].as_array()
                && !rows.is_empty()
                && rows.len() <= 60
            {
                let bars: Vec<(String, f64)> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        (
                            key(r, &view.rows, lang),
                            table["row_totals"][i][0].as_f64().unwrap_or(0.0),
                        )
                    })
                    .collect();
                page = page.chart(
                    format!("{} · {}", view.rows.join(" / "), view.measures[0]),
                    ChartData::bars(bars),
                );
            }
        }
        Err(e) => {
            page = page.notice(Tone::Bad, String::from(e));
        }
    }
    if let Some(addr) = storage::get_json::<String>("file:last").map_err(err)? {
        page = page.links([(
            t("下载最近导出的 Excel", "Download the last Excel export"),
            addr,
        )]);
    }
    let choices: Vec<(&str, &str)> = COLLECTIONS
        .iter()
        .map(|(id, zh, en)| (*id, lang.pick(zh, en)))
        .collect();
    Ok(page
        .buttons(vec![Button::new("excel", t("导出 Excel", "Export to Excel"))])
        .heading(t("设置透视", "Set up the pivot"))
        .form(
            Form::new("run", t("计算", "Compute"))
                .field(
                    Field::choice("collection", t("数据", "Records"), &choices)
                        .required()
                        .value(&view.collection),
                )
                .field(Field::text("rows", t("行（字段，逗号分隔）", "Rows (fields, comma-separated)")).value(view.rows.join(", ")).hint(t(
                    "时间字段可按日、月：ts_ms:month",
                    "A time by day or month: ts_ms:month",
                )))
                .field(Field::text("columns", t("列", "Columns")).value(view.columns.join(", ")))
                .field(
                    Field::text("measures", t("度量", "Measures"))
                        .required()
                        .value(view.measures.join(", "))
                        .hint(t("count，或 sum:/mean:/min:/max: 数值字段", "count, or sum:/mean:/min:/max: of a number")),
                )
                .field(Field::date("from", t("自", "From")).required().value(&view.from))
                .field(Field::date("to", t("至（含）", "To (included)")).required().value(&view.to)),
        )
        .form(
            Form::new("save", t("保存视图", "Save the view"))
                .field(Field::text("name", t("名称", "Name")).required().hint(t(
                    "字母、数字、- 或 _",
                    "Letters, digits, - or _",
                ))),
        )
        .text(t(
            "可用字段见插件开发指南（docs/plugins.md 的 Pivots 一节）；出入库的 value 为数量 × 物料标准成本（元）。",
            "The fields are listed in docs/plugins.md (Pivots); a movement's value is its quantity × the material's standard cost (CNY).",
        ))
        .into())
}

/// The KPI library over the last `days`.
fn kpis_page(query: &Values, lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let days: i64 = match query.text("days") {
        "7" => 7,
        "90" => 90,
        "365" => 365,
        _ => 30,
    };
    let now = clock::now_ms().map_err(err)?;
    let offset = plant::offset_ms().map_err(err)?;
    let from = plant::day_start(now, offset) - (days - 1) * DAY_MS;
    let span_h = (now - from) as f64 / 3_600_000.0;
    let mut page = Page::new(format!(
        "{} · {} {days} {}",
        t("KPI 指标库", "KPI library"),
        t("最近", "last"),
        t("天", "days")
    ))
    .links([7, 30, 90, 365].map(|d| {
        (
            format!("{d} {}", t("天", "days")),
            format!("/x/bi/kpis?days={d}"),
        )
    }));
    let mut notes: Vec<String> = Vec::new();

    // production: OEE now, batch yield and output in the period
    let oee: Vec<Value> = records::query("production.oee", &json!({}), 100).unwrap_or_default();
    let day_oee: Vec<f64> = oee
        .iter()
        .filter_map(|u| u["day"]["oee"].as_f64())
        .collect();
    let oee_mean =
        (!day_oee.is_empty()).then(|| day_oee.iter().sum::<f64>() / day_oee.len() as f64);
    let batches: Vec<Value> =
        records::between("production.batches", from, now + 1, &json!({}), 10_000)
            .unwrap_or_default();
    let done: Vec<&Value> = batches.iter().filter(|b| b["state"] == "done").collect();
    let yields: Vec<f64> = done
        .iter()
        .filter_map(|b| b["yield_pct"].as_f64())
        .collect();
    let yield_mean = (!yields.is_empty()).then(|| yields.iter().sum::<f64>() / yields.len() as f64);
    let output_t: f64 = done
        .iter()
        .filter(|b| matches!(b["output_unit"].as_str(), Some("t")))
        .filter_map(|b| b["output_qty"].as_f64())
        .sum::<f64>()
        + done
            .iter()
            .filter(|b| matches!(b["output_unit"].as_str(), Some("kg")))
            .filter_map(|b| b["output_qty"].as_f64())
            .sum::<f64>()
            / 1000.0;

    // quality: first-pass yield of the lots sampled in the period
    let samples: Vec<Value> =
        records::between("quality.samples", from, now + 1, &json!({}), 10_000).unwrap_or_default();
    let triples: Vec<(String, i64, String)> = samples
        .iter()
        .filter_map(|s| {
            Some((
                format!("{}/{}", s["material"].as_str()?, s["lot"].as_str()?),
                s["taken_ms"].as_i64()?,
                s["verdict"].as_str()?.to_string(),
            ))
        })
        .collect();
    let fpy = kpi::first_pass_yield(&triples);

    // inventory: turnover, cover, ageing
    let stock: Vec<Value> =
        records::query("inventory.stock", &json!({}), 10_000).unwrap_or_default();
    let stock_value: f64 = stock.iter().filter_map(|s| s["value"].as_f64()).sum();
    let consumed = records::pivot(
        "inventory.movements",
        from,
        now + 1,
        &["kind".into()],
        &[],
        &["sum:value".into()],
    )
    .ok();
    let consumed_value: f64 = consumed
        .as_ref()
        .and_then(|p| {
            let rows = p["rows"].as_array()?;
            Some(
                rows.iter()
                    .enumerate()
                    .filter(|(_, k)| matches!(k[0].as_str(), Some("issue" | "delivery")))
                    .filter_map(|(i, _)| p["row_totals"][i][0].as_f64())
                    .sum(),
            )
        })
        .unwrap_or(0.0);
    let (turns, cover) = kpi::turnover(consumed_value, stock_value, days as f64);
    let ages = kpi::ageing(
        &stock
            .iter()
            .filter_map(|s| Some((s["value"].as_f64()?, s["last_move_ms"].as_i64()?)))
            .collect::<Vec<_>>(),
        now,
    );

    // energy intensity: the electricity meter's count over the output
    let meter: Option<String> = storage::get_json("energy_tag").map_err(err)?;
    let energy = meter.as_ref().and_then(|m| {
        tags::totals(m, from, now, &Step::Day).ok().map(|ts| {
            ts.iter()
                .map(|x| x.delta)
                .filter(|d| d.is_finite())
                .sum::<f64>()
        })
    });
    let intensity = energy.filter(|_| output_t > 0.0).map(|e| e / output_t);
    if meter.is_none() {
        notes.push(t("能耗强度：请在插件设置中填写电表位号（energy_tag）。", "Energy intensity: set the electricity meter's tag (energy_tag) in the plugin's settings.").into());
    }

    // safety: permits by type, hidden dangers closed on time
    let permits = records::pivot(
        "safety.permits",
        from,
        now + 1,
        &["work".into()],
        &[],
        &["count".into()],
    )
    .ok();
    let hazards: Vec<Value> =
        records::query("safety.hazards", &json!({}), 10_000).unwrap_or_default();
    let closed: Vec<(i64, i64)> = hazards
        .iter()
        .filter(|h| h["reported_ms"].as_i64().is_some_and(|r| r >= from))
        .filter_map(|h| {
            let c = h["closed_ms"].as_i64()?;
            let d = day_start(h["deadline"].as_str()?, offset)? + DAY_MS;
            Some((c, d))
        })
        .collect();
    let hazards_on_time = kpi::on_time(&closed);
    let overdue = hazards.iter().filter(|h| h["overdue"] == true).count();

    // alarms: raised per hour against ISA-18.2
    let journal = records::pivot(
        "alarms.journal",
        from,
        now + 1,
        &["event".into()],
        &[],
        &["count".into()],
    )
    .ok();
    let raised: f64 = journal
        .as_ref()
        .and_then(|p| {
            let rows = p["rows"].as_array()?;
            rows.iter()
                .position(|k| k[0] == "raised")
                .and_then(|i| p["row_totals"][i][0].as_f64())
        })
        .unwrap_or(0.0);
    let per_hour = raised / span_h.max(1.0);

    page =
        page.heading(t("生产", "Production"))
            .kpis(vec![
                Kpi::new(
                    t(
                        "设备综合效率 OEE（24 h，各装置均值）",
                        "OEE (24 h, mean of the units)",
                    ),
                    pct(oee_mean),
                )
                .unit("%"),
                Kpi::new(
                    t("批次收率（均值）", "Batch yield (mean)"),
                    fmt(yield_mean, 1),
                )
                .unit("%")
                .hint(format!("{} {}", done.len(), t("批完成", "batches done"))),
                Kpi::new(t("一次合格率", "First-pass yield"), pct(fpy))
                    .unit("%")
                    .hint(t(
                        "按批次首个判定样品",
                        "by each lot's first decided sample",
                    )),
                Kpi::new(
                    t("能耗强度（电）", "Energy intensity (electricity)"),
                    fmt(intensity, 1),
                )
                .unit("kWh/t")
                .hint(format!("{} t", fmt(Some(output_t), 2))),
            ])
            .heading(t("库存", "Inventory"))
            .kpis(vec![
                Kpi::new(t("库存金额", "Stock value"), fmt(Some(stock_value), 0)).unit("元"),
                Kpi::new(t("期间周转次数", "Turns in the period"), fmt(turns, 2)).hint(format!(
                    "{} {} 元",
                    t("出库", "issued"),
                    fmt(Some(consumed_value), 0)
                )),
                Kpi::new(t("库存可用天数", "Days of cover"), fmt(cover, 0)).unit(t("天", "days")),
                Kpi::new(
                    t("呆滞库存（>180 天未动）", "Idle stock (no move > 180 days)"),
                    fmt(Some(ages[3]), 0),
                )
                .unit("元")
                .tone(if ages[3] > 0.0 {
                    Tone::Warn
                } else {
                    Tone::Neutral
                }),
            ])
            .chart(
                t("库龄（库存金额，元）", "Stock age (value, CNY)"),
                ChartData::bars([
                    ("≤30", ages[0]),
                    ("31–90", ages[1]),
                    ("91–180", ages[2]),
                    (">180", ages[3]),
                ]),
            )
            .heading(t("安全", "Safety"))
            .kpis(vec![
                Kpi::new(
                    t("作业票", "Work permits"),
                    fmt(permits.as_ref().and_then(|p| p["total"][0].as_f64()), 0),
                ),
                Kpi::new(
                    t("隐患按期整改率", "Hidden dangers closed on time"),
                    pct(hazards_on_time),
                )
                .unit("%")
                .hint(format!("{} {}", closed.len(), t("项已整改", "closed"))),
                Kpi::new(t("逾期未整改隐患", "Hidden dangers overdue"), overdue)
                    .tone(if overdue > 0 { Tone::Bad } else { Tone::Good }),
                Kpi::new(t("报警率", "Alarm rate"), fmt(Some(per_hour), 1))
                    .unit(t("次/小时", "per hour"))
                    .hint(format!("ISA-18.2: {}", kpi::alarm_rate_band(per_hour)))
                    .tone(match kpi::alarm_rate_band(per_hour) {
                        "acceptable" => Tone::Good,
                        "manageable" => Tone::Warn,
                        _ => Tone::Bad,
                    }),
            ]);
    if let Some(p) = &permits
        && let Some(rows) = p["rows"].as_array()
        && !rows.is_empty()
    {
        page = page.chart(
            t("作业票（按类型）", "Work permits by type"),
            ChartData::bars(
                rows.iter()
                    .enumerate()
                    .map(|(i, k)| {
                        (
                            key(k, &["work".to_string()], lang),
                            p["row_totals"][i][0].as_f64().unwrap_or(0.0),
                        )
                    })
                    .collect::<Vec<_>>(),
            ),
        );
    }
    for n in notes {
        page = page.notice(Tone::Neutral, n);
    }
    Ok(page
        .text(t(
            "口径：OEE 为生产自动化模块各装置 24 小时 OEE 的均值；一次合格率为期间内各批次首个判定样品合格的比例；周转次数 = 期间领用与发货金额 ÷ 当前库存金额；库龄按最后一次出入库计；报警率 = 期间产生的报警数 ÷ 小时数（ISA-18.2：≤6 可接受，≤12 可管理）。",
            "Definitions: OEE is the mean of the units' 24-hour OEE from production automation; first-pass yield the share of lots whose first decided sample in the period passed; turns = value issued and delivered in the period ÷ stock value now; age counts from the last movement; alarm rate = alarms raised ÷ hours (ISA-18.2: ≤ 6 acceptable, ≤ 12 manageable).",
        ))
        .into())
}

struct Bi;

impl Plugin for Bi {
    fn info() -> Info {
        nplusx_sdk::info("bi", "BI 商业智能", "BI", env!("CARGO_PKG_VERSION"))
            .page("kpis", "KPI 指标库", "KPI library", true)
            .page("pivot", "透视分析", "Pivot", true)
    }

    fn start(settings: &Values) -> Result<(), String> {
        if settings.flag("demo") && storage::keys("saved:", 1).map_err(err)?.is_empty() {
            let offset = plant::offset_ms().map_err(err)?;
            let base = default_view(offset);
            let demo = [
                ("movement-value-by-month", base.clone()),
                (
                    "permits-by-type",
                    PivotView {
                        collection: "safety.permits".into(),
                        rows: vec!["work".into()],
                        columns: vec!["state".into()],
                        measures: vec!["count".into()],
                        ..base.clone()
                    },
                ),
                (
                    "alarms-by-priority",
                    PivotView {
                        collection: "alarms.journal".into(),
                        rows: vec!["priority".into()],
                        columns: vec!["ts_ms:day".into()],
                        measures: vec!["count".into()],
                        from: plant::day_of(clock::now_ms().unwrap_or(0) - 6 * DAY_MS, offset),
                        ..base
                    },
                ),
            ];
            for (name, v) in demo {
                storage::set_json(&format!("saved:{name}"), &v).map_err(err)?;
            }
        }
        let tag = settings.text("energy_tag").trim().to_string();
        if tag.is_empty() {
            storage::delete("energy_tag").map_err(err)?;
        } else {
            storage::set_json("energy_tag", &tag).map_err(err)?;
        }
        Ok(())
    }

    fn render(page: &str, query: &Values, lang: Lang) -> Result<View, String> {
        match page {
            "kpis" => kpis_page(query, lang),
            "pivot" => pivot_page(query, lang),
            other => Err(format!("no page {other}")),
        }
    }

    fn action(page: &str, action: &str, f: &Values, lang: Lang) -> Result<Outcome, String> {
        let t = |a: &'static str, b: &'static str| lang.pick(a, b);
        let offset = plant::offset_ms().map_err(err)?;
        match (page, action) {
            ("pivot", "run") => {
                let v = PivotView {
                    collection: f.text("collection").to_string(),
                    rows: words(f.text("rows")),
                    columns: words(f.text("columns")),
                    measures: words(f.text("measures")),
                    from: f.text("from").to_string(),
                    to: f.text("to").to_string(),
                };
                if let Err(e) = compute(&v, offset) {
                    let why = match e {
                        Error::Invalid(s) | Error::Failed(s) | Error::Denied(s) => s,
                        other => String::from(other),
                    };
                    let field = if why.contains("window") || why.starts_with("from") {
                        "from"
                    } else if why.contains("measure") || why.contains("not a number") {
                        "measures"
                    } else {
                        "rows"
                    };
                    return Ok(Outcome::field_error(field, why));
                }
                storage::set_json("view:current", &v).map_err(err)?;
                Ok(Outcome::done())
            }
            ("pivot", "save") => {
                let name = f.text("name").trim();
                if name.is_empty()
                    || name.len() > 40
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Ok(Outcome::field_error(
                        "name",
                        t("1–40 个字母、数字、- 或 _", "1–40 letters, digits, - or _"),
                    ));
                }
                storage::set_json(&format!("saved:{name}"), &current(offset)?).map_err(err)?;
                Ok(Outcome::message(format!(
                    "{} {name}",
                    t("已保存视图", "View saved:")
                )))
            }
            ("pivot", "excel") => {
                let v = current(offset)?;
                let table = compute(&v, offset).map_err(err)?;
                let (header, body) = grid(&v, &table, lang);
                let mut sheet = Sheet::new(t("透视", "Pivot"), header.iter().map(String::as_str));
                for line in body {
                    sheet.push(
                        line.into_iter()
                            .enumerate()
                            .map(|(i, c)| match c.parse::<f64>() {
                                Ok(x) if i > 0 => Cell::Number(x),
                                _ => Cell::Text(c),
                            })
                            .collect(),
                    );
                }
                let info = Sheet::new(t("条件", "Query"), [t("项目", "Item"), t("内容", "Value")])
                    .row(vec![
                        Cell::Text(t("数据", "Records").into()),
                        Cell::Text(v.collection.clone()),
                    ])
                    .row(vec![
                        Cell::Text(t("行", "Rows").into()),
                        Cell::Text(v.rows.join(", ")),
                    ])
                    .row(vec![
                        Cell::Text(t("列", "Columns").into()),
                        Cell::Text(v.columns.join(", ")),
                    ])
                    .row(vec![
                        Cell::Text(t("度量", "Measures").into()),
                        Cell::Text(v.measures.join(", ")),
                    ])
                    .row(vec![
                        Cell::Text(t("期间", "Period").into()),
                        Cell::Text(format!("{} – {}", v.from, v.to)),
                    ]);
                let addr = files::table(
                    &format!("pivot-{}", v.collection),
                    Format::Xlsx,
                    &[sheet, info],
                )
                .map_err(err)?;
                storage::set_json("file:last", &addr).map_err(err)?;
                Ok(Outcome::message(t(
                    "已导出 Excel：见页面上的下载链接",
                    "Exported: the download link is on the page",
                )))
            }
            _ => Err(format!("no action {action} on {page}")),
        }
    }
}

nplusx_sdk::plugin!(Bi);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plant_days_start_at_plant_midnight() {
        // 2026-12-05 00:00 +08:00 is 2026-12-04 16:00 UTC
        assert_eq!(
            day_start("2026-12-05", 8 * 3_600_000),
            Some(1_796_400_000_000)
        );
        assert_eq!(day_start("2026-13-01", 0), None);
        assert_eq!(day_start("yesterday", 0), None);
    }

    #[test]
    fn a_pivot_reads_as_a_grid_with_its_totals() {
        let v = PivotView {
            collection: "inventory.movements".into(),
            rows: vec!["category".into()],
            columns: vec![],
            measures: vec!["sum:value".into()],
            from: "2026-01-01".into(),
            to: "2026-12-31".into(),
        };
        let t = json!({
            "rows": [["raw"], ["product"]], "columns": [[]],
            "cells": [[[10.0]], [[2.5]]],
            "row_totals": [[10.0], [2.5]], "column_totals": [[12.5]], "total": [12.5], "records": 3
        });
        let (header, body) = grid(&v, &t, Lang::En);
        assert_eq!(header, ["category", "sum:value", "Total sum:value"]);
        assert_eq!(
            body[0],
            ["raw material", "10.00", "10.00"],
            "codes read as names"
        );
        assert_eq!(body[2], ["Total", "12.50", "12.50"]);
    }
}
