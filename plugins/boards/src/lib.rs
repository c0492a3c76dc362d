//! 可视化管理 — the boards X module, a first-party nplusx plugin written with the kit.
//!
//! Four wall-screen boards (综合 plant, 设备 equipment, 能源 energy, 运营 operations) built
//! from the N modules' records (permits, people on site, hidden dangers, batches and OEE,
//! equipment and work orders, stock, quality, alarms) and from tags (energy meters,
//! gauges). An admin chooses each board's widgets (`setup`) and drags them into place on
//! the board itself; places are kept in the plugin's storage. Opened with `?wall=1` a board
//! fills the screen in the dark theme and refreshes itself. A daily and a weekly report
//! (Excel, written by the box) go to the managers through the plant's channels.
//!
//! The grid arithmetic is in `layout` (pure, tested natively); this file gathers the
//! figures and builds the pages, the reports and the jobs.

pub mod layout;

use std::cell::RefCell;
use std::collections::BTreeMap;

use layout::{BoardId, COLUMNS, Place};
use nplusx_sdk::files::{Cell, Format, Sheet};
use nplusx_sdk::plant::{self, DAY_MS, HOUR_MS};
use nplusx_sdk::serde_json::{Value, json};
use nplusx_sdk::tags::{self, Step};
use nplusx_sdk::{
    Board, Button, ChartData, Error, Field, Form, Gauge, Info, Kpi, Lang, Outcome, Page, Plugin,
    Series, Table, Tone, Values, View, Widget, WidgetContent, log, records, schedule, storage,
};

/// A tag shown as a gauge, with its scale and, optionally, the high limits where it turns
/// amber and red (a vibration's ISO 10816 zones C and D, an alarm's H and HH).
#[derive(Debug, Clone, PartialEq)]
struct GaugeTag {
    tag: String,
    min: f64,
    max: f64,
    warn: Option<f64>,
    alarm: Option<f64>,
}

impl GaugeTag {
    /// The gauge's colour for a value (None: bad or missing).
    fn tone(&self, v: Option<f64>) -> Tone {
        match v {
            None => Tone::Warn,
            Some(v) if v < self.min || v > self.max => Tone::Bad,
            Some(v) if self.alarm.is_some_and(|a| v >= a) => Tone::Bad,
            Some(v) if self.warn.is_some_and(|w| v >= w) => Tone::Warn,
            Some(_) => Tone::Good,
        }
    }
}

/// The admin's settings.
#[derive(Debug, Clone, Default)]
struct Settings {
    energy_tags: Vec<String>,
    gauges: Vec<GaugeTag>,
    refresh: u32,
    channels: Vec<String>,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings::default());
}

fn settings() -> Settings {
    SETTINGS.with(|s| s.borrow().clone())
}

fn err(e: Error) -> String {
    e.into()
}

/// The longest window the box answers for a timed collection is 400 days.
const LONGEST: i64 = 399 * DAY_MS;

/// `TAG|min|max[|warn|alarm]` entries separated by `;` (the `gauges` setting), each a
/// numeric tag.
fn parse_gauges(text: &str, types: &BTreeMap<String, String>) -> Result<Vec<GaugeTag>, String> {
    let mut out: Vec<GaugeTag> = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let f: Vec<&str> = entry.split('|').map(str::trim).collect();
        let number = |i: usize| -> Result<Option<f64>, String> {
            match f.get(i) {
                None => Ok(None),
                Some(s) => s
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(Some)
                    .ok_or_else(|| format!("gauges: {entry:?} is TAG|min|max[|warn|alarm]")),
            }
        };
        let (Some(min), Some(max)) = (number(1)?, number(2)?) else {
            return Err(format!("gauges: {entry:?} is TAG|min|max[|warn|alarm]"));
        };
        let g = GaugeTag {
            tag: f[0].to_string(),
            min,
            max,
            warn: number(3)?,
            alarm: number(4)?,
        };
        if f.len() > 5 {
            return Err(format!("gauges: {entry:?} is TAG|min|max[|warn|alarm]"));
        }
        if g.min >= g.max {
            return Err(format!("gauges: {}: min must be below max", g.tag));
        }
        if let (Some(w), Some(a)) = (g.warn, g.alarm)
            && w >= a
        {
            return Err(format!("gauges: {}: warn must be below alarm", g.tag));
        }
        check_numeric(&g.tag, types).map_err(|e| format!("gauges: {e}"))?;
        if out
            .iter()
            .any(|o| layout::gauge_id(&o.tag) == layout::gauge_id(&g.tag))
        {
            return Err(format!("gauges: {} twice", g.tag));
        }
        out.push(g);
    }
    if out.len() > 40 {
        return Err("gauges: at most 40".into());
    }
    Ok(out)
}

fn check_numeric(tag: &str, types: &BTreeMap<String, String>) -> Result<(), String> {
    match types.get(tag).map(String::as_str) {
        None => Err(format!("{tag}: no such tag")),
        Some("int" | "float") => Ok(()),
        Some(t) => Err(format!("{tag} is a {t} tag; a number is needed")),
    }
}

/// Each tag's description (in both languages), unit and data type.
fn tag_infos() -> BTreeMap<String, tags::TagInfo> {
    tags::find("")
        .map(|l| l.into_iter().map(|t| (t.name.clone(), t)).collect())
        .unwrap_or_default()
}

// ------------------------------------------------------------------ figures

/// What one page render or report reads, each collection once.
struct Ctx {
    now: i64,
    off: i64,
    /// Start of today, plant time.
    day0: i64,
    lang: Lang,
    cache: RefCell<BTreeMap<String, Result<Vec<Value>, String>>>,
    infos: BTreeMap<String, tags::TagInfo>,
}

fn text(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v[k].as_f64()
}

fn fmt(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "—".into()
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{:.0}%", x * 100.0))
}

impl Ctx {
    fn new(lang: Lang) -> Result<Ctx, String> {
        let now = nplusx_sdk::clock::now_ms().map_err(err)?;
        let off = plant::offset_ms().map_err(err)?;
        Ok(Ctx::at(now, off, lang))
    }

    fn at(now: i64, off: i64, lang: Lang) -> Ctx {
        Ctx {
            now,
            off,
            day0: plant::day_start(now, off),
            lang,
            cache: RefCell::new(BTreeMap::new()),
            infos: tag_infos(),
        }
    }

    fn t(&self, zh: &str, en: &str) -> String {
        self.lang.pick(zh, en).to_string()
    }

    fn zh(&self) -> bool {
        self.lang == Lang::Zh
    }

    /// A collection's records (a timed one: those of the last 24 hours).
    fn all(&self, collection: &str) -> Result<Vec<Value>, String> {
        self.cached(collection.to_string(), || {
            records::query::<Value>(collection, &json!({}), 10_000)
        })
    }

    /// A timed collection's records in `[from, to)`.
    fn between(&self, collection: &str, from: i64, to: i64) -> Result<Vec<Value>, String> {
        self.cached(format!("{collection}@{from}-{to}"), || {
            records::between::<Value>(collection, from, to, &json!({}), 10_000)
        })
    }

    fn cached(
        &self,
        key: String,
        get: impl FnOnce() -> Result<Vec<Value>, Error>,
    ) -> Result<Vec<Value>, String> {
        if let Some(v) = self.cache.borrow().get(&key) {
            return v.clone();
        }
        let v = get().map_err(|e| match e {
            Error::Denied(_) => self.t(
                "未授予读取该模块记录的权限",
                "the plugin may not read this module's records",
            ),
            Error::Failed(m) => m,
            other => err(other),
        });
        self.cache.borrow_mut().insert(key, v.clone());
        v
    }

    fn tag_label(&self, tag: &str) -> (String, String) {
        self.infos
            .get(tag)
            .map_or((tag.to_string(), String::new()), |i| {
                let d = if self.zh() {
                    &i.description_zh
                } else {
                    &i.description_en
                };
                let label = if d.is_empty() {
                    tag.to_string()
                } else {
                    format!("{tag} {d}")
                };
                (label, i.unit.clone())
            })
    }

    fn label(&self, id: &str) -> String {
        label(id, self.zh())
    }
}

/// The user-facing name of a state, kind or priority id.
fn label(id: &str, zh: bool) -> String {
    let pairs: &[(&str, &str, &str)] = &[
        ("running", "运行", "running"),
        ("standby", "备用", "standby"),
        ("maintenance", "检修", "maintenance"),
        ("stopped", "停机", "stopped"),
        ("scrapped", "报废", "scrapped"),
        ("receipt", "入库", "receipt"),
        ("issue", "领用", "issue"),
        ("return", "退库", "return"),
        ("transfer", "移库", "transfer"),
        ("adjust", "调整", "adjust"),
        ("count", "盘点", "count"),
        ("scrap", "报废", "scrap"),
        ("delivery", "发货", "delivery"),
        ("urgent", "紧急", "urgent"),
        ("high", "高", "high"),
        ("medium", "中", "medium"),
        ("low", "低", "low"),
        ("unack", "未确认", "unacknowledged"),
        ("ack", "已确认", "acknowledged"),
        ("rtn_unack", "已恢复未确认", "returned, unacknowledged"),
        ("latched", "锁存", "latched"),
        ("shelved", "搁置", "shelved"),
        ("suppressed", "抑制", "suppressed"),
        ("out_of_service", "停用", "out of service"),
        ("hot_work", "动火作业", "hot work"),
        ("confined_space", "受限空间作业", "confined space entry"),
        ("blinding", "盲板抽堵作业", "blinding"),
        ("height", "高处作业", "work at height"),
        ("lifting", "吊装作业", "lifting"),
        ("temporary_power", "临时用电作业", "temporary power"),
        ("excavation", "动土作业", "excavation"),
        ("road_break", "断路作业", "road closure"),
        ("special", "特级", "special"),
        ("first", "一级", "first level"),
        ("second", "二级", "second level"),
        ("third", "三级", "third level"),
        ("i", "Ⅰ级", "level I"),
        ("ii", "Ⅱ级", "level II"),
        ("iii", "Ⅲ级", "level III"),
        ("iv", "Ⅳ级", "level IV"),
        ("draft", "草稿", "draft"),
        ("measures", "安全措施", "safety measures"),
        ("gas_analysis", "气体分析", "gas analysis"),
        ("approval", "审批", "approval"),
        ("briefing", "安全交底", "briefing"),
        ("working", "作业中", "working"),
        ("suspended", "暂停", "suspended"),
        ("acceptance", "验收", "acceptance"),
        ("closed", "关闭", "closed"),
        ("cancelled", "取消", "cancelled"),
        ("withdrawn", "收回", "withdrawn"),
        ("open", "待派工", "open"),
        ("assigned", "已派工", "assigned"),
        ("in_progress", "维修中", "in progress"),
        ("waiting_parts", "待备件", "waiting for parts"),
        ("done", "已完成", "done"),
        ("verified", "已验收", "verified"),
        ("normal", "一般", "normal"),
        ("manual", "人工", "manual"),
        ("fault", "故障报修", "fault report"),
        ("condition", "状态监测", "condition monitoring"),
        ("alarm", "报警", "alarm"),
        ("plan", "计划", "plan"),
        ("inspection", "巡检", "inspection"),
        ("plugin", "插件", "plugin"),
        ("held", "待检/冻结", "held"),
        ("rejected", "不合格", "rejected"),
        ("released", "合格放行", "released"),
    ];
    pairs
        .iter()
        .find(|(k, _, _)| *k == id)
        .map_or(id.to_string(), |(_, z, e)| {
            if zh { z.to_string() } else { e.to_string() }
        })
}

fn notice(tone: Tone, text: impl Into<String>) -> WidgetContent {
    WidgetContent::Notice(nplusx_sdk::Notice {
        tone,
        text: text.into(),
    })
}

/// One widget's content; a module that cannot be read makes a notice, not a broken board.
fn content(c: &Ctx, id: &str) -> WidgetContent {
    match build(c, id) {
        Ok(w) => w,
        Err(why) => notice(Tone::Warn, why),
    }
}

fn build(c: &Ctx, id: &str) -> Result<WidgetContent, String> {
    let now = c.now;
    Ok(match id {
        "permits" => {
            let today = permits_touching(c, c.day0, c.day0 + DAY_MS)?;
            let on_site: Vec<&Value> = today.iter().filter(|p| on_site(p)).collect();
            let overrun = on_site
                .iter()
                .filter(|p| num(p, "end_ms").is_some_and(|t| t < now as f64))
                .count();
            let hot = |level: &str| {
                today
                    .iter()
                    .filter(|p| p["work"] == "hot_work" && p["level"] == level)
                    .count()
            };
            WidgetContent::Kpis(vec![
                Kpi::new(c.t("今日作业票", "Permits today"), today.len()),
                Kpi::new(c.t("现场作业", "On site"), on_site.len()),
                Kpi::new(
                    c.t("特级/一级动火", "Special/first hot work"),
                    format!("{}/{}", hot("special"), hot("first")),
                ),
                Kpi::new(c.t("超期作业", "Past their end"), overrun).tone(if overrun > 0 {
                    Tone::Bad
                } else {
                    Tone::Good
                }),
            ])
        }
        "people" => {
            let list = c.all("safety.people")?;
            let plant = list.iter().find(|r| r["area"] == "plant");
            let sum = |k: &str| -> f64 {
                plant.map_or_else(
                    || list.iter().filter_map(|r| num(r, k)).sum(),
                    |p| num(p, k).unwrap_or(0.0),
                )
            };
            let areas: Vec<String> = list
                .iter()
                .filter(|r| r["area"] != "plant" && num(r, "people").unwrap_or(0.0) > 0.0)
                .map(|r| format!("{} {}", text(r, "area"), text(r, "people")))
                .collect();
            WidgetContent::Kpis(vec![
                Kpi::new(c.t("在场人员", "People"), sum("people")).hint(areas.join(" · ")),
                Kpi::new(c.t("车辆", "Vehicles"), sum("vehicles")),
            ])
        }
        "hazards" => {
            let list = c.all("safety.hazards")?;
            let open: Vec<&Value> = list.iter().filter(|h| h["state"] != "closed").collect();
            let overdue = open.iter().filter(|h| h["overdue"] == true).count();
            let major = open.iter().filter(|h| h["level"] == "major").count();
            WidgetContent::Kpis(vec![
                Kpi::new(c.t("未闭环", "Not closed"), open.len()),
                Kpi::new(c.t("逾期", "Overdue"), overdue).tone(if overdue > 0 {
                    Tone::Bad
                } else {
                    Tone::Good
                }),
                Kpi::new(c.t("重大隐患", "Major"), major).tone(if major > 0 {
                    Tone::Bad
                } else {
                    Tone::Neutral
                }),
            ])
        }
        "alarms" => {
            let list = c.all("alarms.active")?;
            let unack = list.iter().filter(|a| needs_operator(a)).count();
            // an alarm shelved, suppressed or out of service is active but hidden
            let urgent = list
                .iter()
                .filter(|a| {
                    a["active"] == true
                        && (a["state"] == "unack" || a["state"] == "ack")
                        && (a["priority"] == "urgent" || a["priority"] == "high")
                })
                .count();
            let hidden = |state: &str| list.iter().filter(|a| a["state"] == state).count();
            let (shelved, suppressed, oos) = (
                hidden("shelved"),
                hidden("suppressed"),
                hidden("out_of_service"),
            );
            WidgetContent::Kpis(vec![
                Kpi::new(c.t("未确认", "Unacknowledged"), unack).tone(if unack > 0 {
                    Tone::Bad
                } else {
                    Tone::Good
                }),
                Kpi::new(c.t("紧急/高", "Urgent/high"), urgent).tone(if urgent > 0 {
                    Tone::Warn
                } else {
                    Tone::Neutral
                }),
                Kpi::new(
                    c.t("搁置/抑制/停用", "Shelved/suppressed/out of service"),
                    shelved + suppressed + oos,
                )
                .hint(format!("{shelved} · {suppressed} · {oos}")),
            ])
        }
        "alarm_list" => {
            let list = c.all("alarms.active")?;
            if list.is_empty() {
                return Ok(notice(Tone::Good, c.t("没有报警", "No alarms")));
            }
            let mut t = Table::new([
                c.t("优先级", "Priority"),
                c.t("位号/来源", "Tag/source"),
                c.t("报警", "Alarm"),
                c.t("状态", "State"),
                c.t("时间", "Since"),
            ]);
            for a in list.iter().take(10) {
                let who = if text(a, "tag").is_empty() {
                    text(a, "source")
                } else {
                    text(a, "tag")
                };
                let msg = text(a, if c.zh() { "message_zh" } else { "message_en" });
                let since =
                    num(a, "raised_ms").map_or(String::new(), |t| plant::time_of(t as i64, c.off));
                t.push([
                    c.label(&text(a, "priority")),
                    who,
                    msg,
                    c.label(&text(a, "state")),
                    since,
                ]);
            }
            WidgetContent::Table(t)
        }
        "alarm_rate" => {
            let from = (now - 23 * HOUR_MS).div_euclid(HOUR_MS) * HOUR_MS;
            let (raised, complete) = raised_alarms(c, from, now + 1)?;
            if !complete {
                return Ok(notice(
                    Tone::Bad,
                    c.t(
                        "报警日志超过每日 10,000 条：报警泛滥",
                        "Over 10,000 alarm events a day: an alarm flood",
                    ),
                ));
            }
            let mut per = [0u32; 24];
            for e in &raised {
                if let Some(t) = num(e, "ts_ms") {
                    let i = ((t as i64 - from) / HOUR_MS).clamp(0, 23) as usize;
                    per[i] += 1;
                }
            }
            WidgetContent::Chart(ChartData::bars(per.iter().enumerate().map(|(i, n)| {
                (
                    plant::time_of(from + i as i64 * HOUR_MS, c.off),
                    f64::from(*n),
                )
            })))
        }
        "batches" => {
            let list = c.between("production.batches", now - 7 * DAY_MS, now + 1)?;
            let running: Vec<&Value> = list.iter().filter(|b| b["state"] == "running").collect();
            if running.is_empty() {
                return Ok(notice(
                    Tone::Neutral,
                    c.t("没有在产批次", "No batch running"),
                ));
            }
            let mut t = Table::new([
                c.t("批号", "Batch"),
                c.t("装置", "Unit"),
                c.t("产品", "Product"),
                c.t("阶段", "Phase"),
                c.t("开始", "Started"),
            ]);
            for b in running {
                let started = num(b, "started_ms").map_or(String::new(), |t| {
                    let t = t as i64;
                    if t >= c.day0 {
                        plant::time_of(t, c.off)
                    } else {
                        format!(
                            "{} {}",
                            &plant::day_of(t, c.off)[5..],
                            plant::time_of(t, c.off)
                        )
                    }
                });
                t.push([
                    text(b, "number"),
                    text(b, "unit"),
                    text(b, "product"),
                    text(b, "phase"),
                    started,
                ]);
            }
            WidgetContent::Table(t)
        }
        "output" => {
            let done = finished(c, c.day0, now)?;
            let by_unit = output_by_unit(&done);
            let out = by_unit
                .iter()
                .map(|(u, q)| format!("{} {u}", fmt(*q, 1)))
                .collect::<Vec<_>>()
                .join(" + ");
            let yields: Vec<f64> = done.iter().filter_map(|b| num(b, "yield_pct")).collect();
            let mean = if yields.is_empty() {
                f64::NAN
            } else {
                yields.iter().sum::<f64>() / yields.len() as f64
            };
            WidgetContent::Kpis(vec![
                Kpi::new(c.t("完成批次", "Batches done"), done.len()),
                Kpi::new(
                    c.t("产出", "Output"),
                    if out.is_empty() { "0".into() } else { out },
                ),
                Kpi::new(
                    c.t("产量达成率（均值）", "Output vs plan (mean)"),
                    fmt(mean, 1),
                )
                .unit("%"),
            ])
        }
        "oee" => {
            let list = c.all("production.oee")?;
            if list.is_empty() {
                return Ok(notice(
                    Tone::Neutral,
                    c.t("没有生产装置", "No process units"),
                ));
            }
            // batches often run longer than a shift: the day's figures lead, the shift's follow
            WidgetContent::Kpis(
                list.iter()
                    .map(|u| {
                        let (d, s) = (&u["day"], &u["shift"]);
                        Kpi::new(text(u, "name"), pct(d["oee"].as_f64())).hint(format!(
                            "A {} · P {} · Q {} · {} {}",
                            pct(d["availability"].as_f64()),
                            pct(d["performance"].as_f64()),
                            pct(d["quality"].as_f64()),
                            c.t("近8小时", "last 8 h"),
                            pct(s["oee"].as_f64())
                        ))
                    })
                    .collect(),
            )
        }
        "equipment_states" => {
            let list = c.all("equipment.assets")?;
            let mut by: BTreeMap<String, f64> = BTreeMap::new();
            for a in &list {
                *by.entry(text(a, "status")).or_default() += 1.0;
            }
            WidgetContent::Chart(ChartData::pie(
                by.into_iter().map(|(k, n)| (c.label(&k), n)),
            ))
        }
        "work_orders" => {
            let list = open_orders(c)?;
            let overdue = list.iter().filter(|o| o["overdue"] == true).count();
            let urgent = list.iter().filter(|o| o["priority"] == "urgent").count();
            let from_plugins = list.iter().filter(|o| o["origin"] == "plugin").count();
            WidgetContent::Kpis(vec![
                Kpi::new(c.t("未完成", "Open"), list.len()),
                Kpi::new(c.t("逾期", "Overdue"), overdue).tone(if overdue > 0 {
                    Tone::Bad
                } else {
                    Tone::Good
                }),
                Kpi::new(c.t("紧急", "Urgent"), urgent).hint(format!(
                    "{} {from_plugins}",
                    c.t("插件提出", "proposed by plugins")
                )),
            ])
        }
        "faults" => {
            let assets = c.all("equipment.assets")?;
            let orders = open_orders(c)?;
            let stopped_by_order = |tag: &str| {
                orders
                    .iter()
                    .any(|o| o["stopped"] == true && o["equipment"] == tag)
            };
            let down: Vec<&Value> = assets
                .iter()
                .filter(|a| {
                    a["status"] == "stopped"
                        || a["status"] == "maintenance"
                        || stopped_by_order(&text(a, "tag_no"))
                })
                .collect();
            if down.is_empty() {
                return Ok(notice(
                    Tone::Good,
                    c.t("设备均在运行或备用", "All equipment running or on standby"),
                ));
            }
            let mut t = Table::new([
                c.t("设备", "Equipment"),
                c.t("名称", "Name"),
                c.t("状态", "Status"),
                c.t("未完成工单", "Open orders"),
            ])
            .numeric(3);
            for a in down {
                let tag = text(a, "tag_no");
                let n = orders
                    .iter()
                    .filter(|o| o["equipment"] == tag.as_str())
                    .count();
                let status = if stopped_by_order(&tag) && a["status"] != "stopped" {
                    format!(
                        "{} · {}",
                        c.label(&text(a, "status")),
                        c.t("工单停机", "stopped for an order")
                    )
                } else {
                    c.label(&text(a, "status"))
                };
                t.push([tag, text(a, "name"), status, n.to_string()]);
            }
            WidgetContent::Table(t)
        }
        "energy_today" => {
            let s = settings();
            if s.energy_tags.is_empty() {
                return Ok(notice(
                    Tone::Neutral,
                    c.t(
                        "未设置能源表计（设置 energy_tags）",
                        "No energy meters set (setting energy_tags)",
                    ),
                ));
            }
            let mut k = Vec::new();
            for tag in &s.energy_tags {
                let (label, unit) = c.tag_label(tag);
                // a meter that sent nothing today has no figure, not zero
                let v = tags::totals(tag, c.day0, now, &Step::Day)
                    .map_err(err)?
                    .last()
                    .filter(|t| t.count > 0)
                    .map_or(f64::NAN, |t| t.delta);
                k.push(Kpi::new(label, fmt(v, 1)).unit(unit));
            }
            WidgetContent::Kpis(k)
        }
        "energy_hours" => {
            let s = settings();
            let from = (now - 23 * HOUR_MS).div_euclid(HOUR_MS) * HOUR_MS;
            let mut series = Vec::new();
            for tag in &s.energy_tags {
                let (label, unit) = c.tag_label(tag);
                let t = tags::totals(tag, from, now, &Step::Hour).map_err(err)?;
                series.push(Series {
                    name: label,
                    unit,
                    points: t
                        .iter()
                        .filter(|x| x.count > 0)
                        .map(|x| nplusx_sdk::Point {
                            ts_ms: x.start_ms,
                            value: x.delta,
                        })
                        .collect(),
                });
            }
            WidgetContent::Chart(ChartData::TimeSeries(series))
        }
        "movements" => {
            let list = c.between("inventory.movements", c.day0, now + 1)?;
            let mut by: BTreeMap<String, f64> = BTreeMap::new();
            for m in list.iter().filter(|m| m["state"] == "posted") {
                *by.entry(text(m, "kind")).or_default() += 1.0;
            }
            if by.is_empty() {
                return Ok(notice(
                    Tone::Neutral,
                    c.t("今日无出入库", "No movements today"),
                ));
            }
            WidgetContent::Chart(ChartData::bars(
                by.into_iter().map(|(k, n)| (c.label(&k), n)),
            ))
        }
        "stock_held" => {
            let list = c.all("inventory.stock")?;
            let held: Vec<&Value> = list.iter().filter(|s| s["quality"] != "released").collect();
            if held.is_empty() {
                return Ok(notice(
                    Tone::Good,
                    c.t("没有冻结或不合格批次", "No held or rejected lots"),
                ));
            }
            let mut t = Table::new([
                c.t("物料", "Material"),
                c.t("批号", "Lot"),
                c.t("库位", "Location"),
                c.t("数量", "Qty"),
                c.t("质量状态", "Quality"),
            ])
            .numeric(3);
            for s in held.iter().take(12) {
                t.push([
                    text(s, "material_name"),
                    text(s, "lot"),
                    text(s, "location"),
                    format!(
                        "{} {}",
                        fmt(num(s, "qty").unwrap_or(f64::NAN), 1),
                        text(s, "unit")
                    ),
                    c.label(&text(s, "quality")),
                ]);
            }
            WidgetContent::Table(t)
        }
        "quality" => {
            let samples = c.between("quality.samples", now - 30 * DAY_MS, now + 1)?;
            let pending = samples.iter().filter(|s| s["state"] == "pending").count();
            let failed = samples
                .iter()
                .filter(|s| {
                    (s["state"] == "failed" || s["state"] == "rejected")
                        && num(s, "taken_ms").is_some_and(|t| t >= c.day0 as f64)
                })
                .count();
            let open_nc = records::between::<Value>(
                "quality.nonconformances",
                now - LONGEST,
                now + 1,
                &json!({"open": true}),
                10_000,
            )
            .map_err(err)?
            .len();
            WidgetContent::Kpis(vec![
                Kpi::new(c.t("待检样品", "Samples pending"), pending),
                Kpi::new(c.t("今日不合格", "Failed today"), failed).tone(if failed > 0 {
                    Tone::Bad
                } else {
                    Tone::Good
                }),
                Kpi::new(c.t("未关闭不合格品", "Open nonconformances"), open_nc),
            ])
        }
        g if g.starts_with("gauge-") => {
            let s = settings();
            let Some(gt) = s.gauges.iter().find(|x| layout::gauge_id(&x.tag) == g) else {
                return Err(c.t(
                    "该仪表位号已不在设置中",
                    "this gauge's tag is no longer set",
                ));
            };
            let (label, unit) = c.tag_label(&gt.tag);
            let cur = tags::read(std::slice::from_ref(&gt.tag)).map_err(err)?;
            let good = cur
                .first()
                .is_some_and(|x| x.quality == nplusx_sdk::Quality::Good);
            let v = cur
                .first()
                .and_then(|x| nplusx_sdk::number(&x.value))
                .filter(|_| good);
            WidgetContent::Gauge(
                Gauge::new(label, v.unwrap_or(f64::NAN), gt.min, gt.max)
                    .unit(unit)
                    .tone(gt.tone(v)),
            )
        }
        other => return Err(format!("no widget {other}")),
    })
}

/// Batches finished (`done`) in `[from, to)`.
fn finished(c: &Ctx, from: i64, to: i64) -> Result<Vec<Value>, String> {
    // a batch that ends today may have started days ago
    let list = c.between("production.batches", from - 7 * DAY_MS, to + 1)?;
    Ok(list
        .into_iter()
        .filter(|b| {
            b["state"] == "done"
                && num(b, "ended_ms").is_some_and(|t| t >= from as f64 && t < to as f64)
        })
        .collect())
}

/// Output summed per unit of measure (`t`, `kg`…).
fn output_by_unit(done: &[Value]) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for b in done {
        if let Some(q) = num(b, "output_qty") {
            *out.entry(text(b, "output_unit")).or_default() += q;
        }
    }
    out
}

/// Open work orders (the module selects them, so old ones waiting for parts count too).
fn open_orders(c: &Ctx) -> Result<Vec<Value>, String> {
    c.cached("equipment.work_orders:open".into(), || {
        records::between::<Value>(
            "equipment.work_orders",
            c.now - LONGEST,
            c.now + 1,
            &json!({"open": true}),
            10_000,
        )
    })
}

/// Permits approved or further (not cancelled) whose planned period touches `[from, to)`,
/// as the permits module counts a day (a permit is planned for at most 31 days).
fn permits_touching(c: &Ctx, from: i64, to: i64) -> Result<Vec<Value>, String> {
    const NOT_APPROVED: &[&str] = &["draft", "measures", "gas_analysis", "approval", "cancelled"];
    Ok(c.between("safety.permits", from - 31 * DAY_MS, to)?
        .into_iter()
        .filter(|p| {
            !NOT_APPROVED.contains(&p["state"].as_str().unwrap_or(""))
                && num(p, "end_ms").is_some_and(|t| t > from as f64)
                && num(p, "start_ms").is_some_and(|t| t < to as f64)
        })
        .collect())
}

/// Working or suspended: people at the work place under the permit.
fn on_site(p: &Value) -> bool {
    p["state"] == "working" || p["state"] == "suspended"
}

/// The states an operator still has to act on, as the box's alarm banner counts them.
fn needs_operator(a: &Value) -> bool {
    a["state"] == "unack" || a["state"] == "rtn_unack" || a["state"] == "latched"
}

/// The journal's `raised` events in `[from, to)`, read a day at a time (the box answers at
/// most 10,000 events a call); false when a day held more than that (a flood: the count is
/// then a floor).
fn raised_alarms(c: &Ctx, from: i64, to: i64) -> Result<(Vec<Value>, bool), String> {
    let mut out = Vec::new();
    let mut complete = true;
    let mut t = from;
    while t < to {
        let end = (t + DAY_MS).min(to);
        let day = records::between::<Value>("alarms.journal", t, end, &json!({}), 10_000)
            .map_err(|e| c.t("报警日志不可读：", "The alarm journal cannot be read: ") + &err(e))?;
        complete &= day.len() < 10_000;
        out.extend(day.into_iter().filter(|e| e["event"] == "raised"));
        t = end;
    }
    Ok((out, complete))
}

// ------------------------------------------------------------------ boards

/// The widgets a board shows: the admin's choice, or the board's defaults (the equipment
/// board adds every configured gauge).
fn chosen(b: BoardId) -> Vec<String> {
    if let Ok(Some(list)) = storage::get_json::<Vec<String>>(&format!("widgets:{}", b.id())) {
        return list;
    }
    let mut out: Vec<String> = b.defaults().iter().map(|s| s.to_string()).collect();
    if b == BoardId::Equipment {
        out.extend(settings().gauges.iter().map(|g| layout::gauge_id(&g.tag)));
    }
    out
}

/// Every widget id an admin may choose, with its title.
fn catalogue(zh: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = layout::CATALOGUE
        .iter()
        .map(|k| (k.id.to_string(), if zh { k.zh } else { k.en }.to_string()))
        .collect();
    for g in settings().gauges {
        out.push((
            layout::gauge_id(&g.tag),
            format!("{} {}", if zh { "仪表" } else { "Gauge" }, g.tag),
        ));
    }
    out
}

fn size(id: &str) -> (u8, u8) {
    layout::kind_of(id).map_or(layout::GAUGE, |k| (k.w, k.h))
}

fn title_of(id: &str, c: &Ctx) -> String {
    match layout::kind_of(id) {
        Some(k) => c.t(k.zh, k.en),
        None => {
            let s = settings();
            s.gauges
                .iter()
                .find(|g| layout::gauge_id(&g.tag) == id)
                .map_or(id.to_string(), |g| g.tag.clone())
        }
    }
}

fn kept(b: BoardId) -> BTreeMap<String, Place> {
    storage::get_json(&format!("place:{}", b.id()))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A board as the box renders it: its widgets placed, their contents filled.
fn board_view(b: BoardId, c: &Ctx, wall: bool) -> View {
    let ids = chosen(b);
    let sized: Vec<(String, u8, u8)> = ids
        .iter()
        .map(|id| {
            let (w, h) = size(id);
            (id.clone(), w, h)
        })
        .collect();
    let (placed, left) = layout::arrange(&sized, &kept(b));
    let mut board = Board::new(COLUMNS)
        .refresh(settings().refresh)
        .arrange("arrange");
    for (id, p) in &placed {
        board =
            board.widget(Widget::new(id, title_of(id, c), content(c, id)).at(p.x, p.y, p.w, p.h));
    }
    let title = c.t(b.zh(), b.en());
    let mut page = Page::new(title.clone());
    if !left.is_empty() {
        page = page.notice(
            Tone::Warn,
            format!(
                "{} {}",
                c.t("看板已满，未显示：", "No room left on the board for:"),
                left.join(", ")
            ),
        );
    }
    let links: Vec<(String, String)> = BoardId::ALL
        .into_iter()
        .filter(|o| *o != b)
        .map(|o| (c.t(o.zh(), o.en()), format!("/x/boards/{}", o.id())))
        .collect();
    // a wall screen shows the board alone
    if wall {
        return page.board(board).into();
    }
    page.board(board)
        .links(links)
        .buttons(vec![
            Button::new("reset_places", c.t("恢复默认布局", "Default arrangement"))
                .confirm(c.t("丢弃此看板的拖放布局？", "Drop this board's arrangement?")),
        ])
        .into()
}

// ------------------------------------------------------------------ reports

/// A report's span: yesterday (`daily`) or last week, Monday to Monday (`weekly`), of the
/// plant calendar, as of `at`.
fn report_span(kind: &str, at: i64, off: i64) -> Option<(i64, i64)> {
    match kind {
        "daily" => {
            let d = plant::day_start(at, off);
            Some((d - DAY_MS, d))
        }
        "weekly" => {
            let w = plant::week_start(at, off);
            Some((w - 7 * DAY_MS, w))
        }
        _ => None,
    }
}

fn t_cell(ms: Option<f64>) -> Cell {
    ms.map_or(Cell::Empty, |t| Cell::Time(t as i64))
}

fn n_cell(v: Option<f64>) -> Cell {
    v.map_or(Cell::Empty, Cell::Number)
}

/// The report's sheets over `[from, to)`: a summary, then the records behind it.
fn report_sheets(c: &Ctx, from: i64, to: i64) -> Vec<Sheet> {
    let zh = c.zh();
    let tr = |a: &str, b: &str| if zh { a.to_string() } else { b.to_string() };
    let mut summary = Sheet::new(
        tr("概要", "Summary"),
        [tr("项目", "Item"), tr("数值", "Value"), tr("单位", "Unit")],
    );
    let mut add = |item: String, v: Cell, unit: &str| {
        summary.push(vec![Cell::Text(item), v, unit.into()]);
    };
    add(tr("开始", "From"), Cell::Time(from), "");
    add(tr("结束", "To"), Cell::Time(to), "");
    let mut sheets = Vec::new();
    let count = |r: &Result<Vec<Value>, String>| match r {
        Ok(l) => Cell::Number(l.len() as f64),
        Err(e) => Cell::Text(e.clone()),
    };

    // production
    let done = finished(c, from, to);
    add(tr("完成批次", "Batches done"), count(&done), "");
    if let Ok(done) = &done {
        for (u, q) in output_by_unit(done) {
            add(tr("产出", "Output"), Cell::Number(q), &u);
        }
        let mut s = Sheet::new(
            tr("批次", "Batches"),
            [
                tr("批号", "Batch"),
                tr("装置", "Unit"),
                tr("产品", "Product"),
                tr("开始", "Started"),
                tr("结束", "Ended"),
                tr("产出", "Output"),
                tr("单位", "Unit"),
                tr("收率%", "Yield %"),
                tr("产出批号", "Output lot"),
            ],
        );
        for b in done {
            s.push(vec![
                text(b, "number").into(),
                text(b, "unit").into(),
                text(b, "product").into(),
                t_cell(num(b, "started_ms")),
                t_cell(num(b, "ended_ms")),
                n_cell(num(b, "output_qty")),
                text(b, "output_unit").into(),
                n_cell(num(b, "yield_pct")),
                text(b, "output_lot").into(),
            ]);
        }
        sheets.push(s);
    }

    // safety: permits as the permits module counts a day, by type and level
    let permits = permits_touching(c, from, to);
    add(
        tr(
            "作业票（计划期与本期重叠，已批准）",
            "Permits (approved, planned within the period)",
        ),
        count(&permits),
        "",
    );
    if let Ok(list) = &permits {
        let mut by: BTreeMap<(String, String), u32> = BTreeMap::new();
        for p in list {
            *by.entry((text(p, "work"), text(p, "level"))).or_default() += 1;
        }
        for ((work, level), n) in by {
            let name = format!("{} {}", label(&work, zh), label(&level, zh));
            add(format!("  {}", name.trim()), Cell::Number(f64::from(n)), "");
        }
        let mut s = Sheet::new(
            tr("作业票", "Permits"),
            [
                tr("编号", "Number"),
                tr("作业类型", "Work"),
                tr("级别", "Level"),
                tr("状态", "State"),
                tr("地点", "Location"),
                tr("作业单位", "Work unit"),
                tr("计划开始", "Planned start"),
                tr("计划结束", "Planned end"),
                tr("开始作业", "Work began"),
                tr("关闭", "Closed"),
            ],
        );
        for p in list {
            s.push(vec![
                text(p, "number").into(),
                label(&text(p, "work"), zh).into(),
                label(&text(p, "level"), zh).into(),
                label(&text(p, "state"), zh).into(),
                text(p, "location").into(),
                text(p, "work_unit").into(),
                t_cell(num(p, "start_ms")),
                t_cell(num(p, "end_ms")),
                t_cell(num(p, "started_ms")),
                t_cell(num(p, "closed_ms")),
            ]);
        }
        sheets.push(s);
    }
    if let Ok(h) = c.all("safety.hazards") {
        let within =
            |k: &str, x: &Value| num(x, k).is_some_and(|t| t >= from as f64 && t < to as f64);
        let open: Vec<&Value> = h.iter().filter(|x| x["state"] != "closed").collect();
        for (item, n) in [
            (
                tr("新报隐患", "Hidden dangers reported"),
                h.iter().filter(|x| within("reported_ms", x)).count(),
            ),
            (
                tr("本期闭环隐患", "Hidden dangers closed"),
                h.iter().filter(|x| within("closed_ms", x)).count(),
            ),
            (
                tr("未闭环隐患（现在）", "Hidden dangers not closed (now)"),
                open.len(),
            ),
            (
                tr("  其中逾期", "  of which overdue"),
                open.iter().filter(|x| x["overdue"] == true).count(),
            ),
            (
                tr("  其中重大隐患", "  of which major"),
                open.iter().filter(|x| x["level"] == "major").count(),
            ),
        ] {
            add(item, Cell::Number(n as f64), "");
        }
    }

    // alarms: read a day at a time; tag alarms by tag, the modules' by their source
    match raised_alarms(c, from, to) {
        Ok((raised, complete)) => {
            let n = raised.len() as f64;
            add(
                tr("报警次数", "Alarms raised"),
                if complete {
                    Cell::Number(n)
                } else {
                    Cell::Text(format!("≥ {n}"))
                },
                "",
            );
            let hours = ((to - from) / HOUR_MS).max(1) as f64;
            add(
                tr("平均每小时报警（全厂）", "Alarms per hour (whole plant)"),
                Cell::Number(n / hours),
                "",
            );
            let mut by: BTreeMap<String, u32> = BTreeMap::new();
            for e in &raised {
                let who = if text(e, "tag").is_empty() {
                    let area = text(e, "area");
                    format!("{} {}", tr("模块报警", "module alarm"), area)
                        .trim()
                        .to_string()
                } else {
                    text(e, "tag")
                };
                *by.entry(who).or_default() += 1;
            }
            let mut top: Vec<(String, u32)> = by.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1));
            let mut s = Sheet::new(
                tr("报警", "Alarms"),
                [tr("位号/来源", "Tag/source"), tr("报警次数", "Raised")],
            );
            for (who, n) in top.into_iter().take(50) {
                s.push(vec![who.into(), Cell::Number(f64::from(n))]);
            }
            sheets.push(s);
        }
        Err(e) => add(tr("报警次数", "Alarms raised"), Cell::Text(e), ""),
    }

    // equipment
    if let Ok(orders) = c.between("equipment.work_orders", from, to) {
        add(
            tr("新建工单", "Work orders opened"),
            Cell::Number(orders.len() as f64),
            "",
        );
        let mut s = Sheet::new(
            tr("工单", "Work orders"),
            [
                tr("编号", "Number"),
                tr("设备", "Equipment"),
                tr("标题", "Title"),
                tr("优先级", "Priority"),
                tr("状态", "State"),
                tr("来源", "Origin"),
                tr("创建", "Created"),
            ],
        );
        for o in &orders {
            s.push(vec![
                text(o, "number").into(),
                text(o, "equipment").into(),
                text(o, "title").into(),
                label(&text(o, "priority"), zh).into(),
                label(&text(o, "state"), zh).into(),
                label(&text(o, "origin"), zh).into(),
                t_cell(num(o, "created_ms")),
            ]);
        }
        sheets.push(s);
    }

    // inventory and quality
    if let Ok(moves) = c.between("inventory.movements", from, to) {
        add(
            tr("出入库", "Stock movements"),
            Cell::Number(moves.len() as f64),
            "",
        );
        let mut s = Sheet::new(
            tr("出入库", "Movements"),
            [
                tr("时间", "Time"),
                tr("类型", "Kind"),
                tr("物料", "Material"),
                tr("批号", "Lot"),
                tr("从", "From"),
                tr("到", "To"),
                tr("数量", "Qty"),
                tr("单位", "Unit"),
                tr("单据", "Reference"),
            ],
        );
        for m in &moves {
            s.push(vec![
                t_cell(num(m, "ts_ms")),
                label(&text(m, "kind"), zh).into(),
                text(m, "material").into(),
                text(m, "lot").into(),
                text(m, "from").into(),
                text(m, "to").into(),
                n_cell(num(m, "qty")),
                text(m, "unit").into(),
                text(m, "reference").into(),
            ]);
        }
        sheets.push(s);
    }
    if let Ok(samples) = c.between("quality.samples", from, to) {
        let failed = samples.iter().filter(|s| s["verdict"] == "fail").count();
        add(
            tr("取样", "Samples taken"),
            Cell::Number(samples.len() as f64),
            "",
        );
        add(
            tr("不合格样品", "Samples failed"),
            Cell::Number(failed as f64),
            "",
        );
    }

    // energy, per day of the span
    let s = settings();
    if !s.energy_tags.is_empty() {
        let mut e = Sheet::new(
            tr("能源", "Energy"),
            [
                tr("日期", "Day"),
                tr("位号", "Tag"),
                tr("用量", "Used"),
                tr("单位", "Unit"),
            ],
        );
        for tag in &s.energy_tags {
            let (_, unit) = c.tag_label(tag);
            match tags::totals(tag, from, to - 1, &Step::Day) {
                Ok(days) => {
                    let sum: f64 = days.iter().map(|d| d.delta).sum();
                    add(
                        format!("{} {tag}", tr("能耗", "Energy")),
                        Cell::Number(sum),
                        &unit,
                    );
                    for d in days {
                        e.push(vec![
                            plant::day_of(d.start_ms, c.off).into(),
                            tag.as_str().into(),
                            Cell::Number(d.delta),
                            unit.as_str().into(),
                        ]);
                    }
                }
                Err(x) => add(
                    format!("{} {tag}", tr("能耗", "Energy")),
                    Cell::Text(err(x)),
                    "",
                ),
            }
        }
        sheets.push(e);
    }
    sheets.insert(0, summary);
    sheets
}

/// Writes the `daily` or `weekly` report as of `at` and answers (its name, its address).
fn write_report(kind: &str, at: i64, lang: Lang) -> Result<(String, String), String> {
    let c = Ctx::new(lang)?;
    let (from, to) = report_span(kind, at, c.off).ok_or_else(|| format!("no report {kind}"))?;
    let sheets = report_sheets(&c, from, to);
    let day = plant::day_of(from, c.off);
    let name = match (kind, c.zh()) {
        ("daily", true) => format!("生产日报-{day}"),
        ("daily", false) => format!("daily-{day}"),
        (_, true) => format!("生产周报-{day}"),
        _ => format!("weekly-{day}"),
    };
    let addr = nplusx_sdk::files::table(&name, Format::Xlsx, &sheets).map_err(err)?;
    let _ = storage::set_json(&format!("report:{kind}:{day}"), &(&name, &addr, c.now));
    Ok((name, addr))
}

/// Writes the report and sends it through the configured channels; answers what went where.
fn send_report(kind: &str, at: i64) -> Result<String, String> {
    let (name, addr) = write_report(kind, at, Lang::Zh)?;
    let channels = settings().channels;
    if channels.is_empty() {
        return Ok(format!("{name}: {addr} (no channels set)"));
    }
    let (title, body) = if kind == "daily" {
        (
            "生产日报 / Daily report",
            "昨日的生产、安全、设备、质量、库存与能耗汇总见附件。",
        )
    } else {
        (
            "生产周报 / Weekly report",
            "上周的生产、安全、设备、质量、库存与能耗汇总见附件。",
        )
    };
    let mut sent = Vec::new();
    for ch in &channels {
        match nplusx_sdk::notify::send(ch, &format!("{title} {name}"), body, Some(&addr)) {
            Ok(()) => sent.push(ch.clone()),
            Err(e) => log::warn(&format!("{name} not sent through {ch}: {}", err(e))),
        }
    }
    Ok(format!("{name}: {addr} → {}", sent.join(", ")))
}

fn reports_view(lang: Lang) -> Result<View, String> {
    let t = |a: &str, b: &str| lang.pick(a, b).to_string();
    let mut list: Vec<(String, String, i64)> = storage::keys("report:", 1000)
        .map_err(err)?
        .iter()
        .filter_map(|k| storage::get_json::<(String, String, i64)>(k).ok().flatten())
        .collect();
    list.sort_by_key(|r| std::cmp::Reverse(r.2));
    let s = settings();
    let mut page = Page::new(t("看板报表", "Board reports")).text(t(
        "日报（前一天）与周报（上周一至周日）由平台写成 Excel，按计划发送到设置的通知渠道；文件保留 7 天。",
        "The daily report (yesterday) and the weekly report (last Monday to Sunday) are written as Excel by the box and sent to the channels set, on schedule; files are kept 7 days.",
    ));
    page = page.notice(
        if s.channels.is_empty() {
            Tone::Warn
        } else {
            Tone::Neutral
        },
        if s.channels.is_empty() {
            t(
                "未设置发送渠道（设置 report_channels）：报表只生成不发送。",
                "No channels set (setting report_channels): reports are written, not sent.",
            )
        } else {
            format!("{} {}", t("发送渠道：", "Channels:"), s.channels.join(", "))
        },
    );
    page = page.buttons(vec![
        Button::new(
            "send_daily",
            t("现在生成并发送日报", "Write and send the daily report now"),
        ),
        Button::new(
            "send_weekly",
            t("现在生成并发送周报", "Write and send the weekly report now"),
        ),
    ]);
    // the box keeps files 7 days
    let now = nplusx_sdk::clock::now_ms().unwrap_or(0);
    let fresh: Vec<(String, String)> = list
        .into_iter()
        .filter(|r| now - r.2 < 7 * DAY_MS)
        .take(30)
        .map(|(name, addr, _)| (name, addr))
        .collect();
    if fresh.is_empty() {
        page = page.text(t("还没有报表。", "No reports yet."));
    } else {
        page = page.heading(t("最近的报表", "Recent reports")).links(fresh);
    }
    Ok(page.into())
}

fn setup_view(lang: Lang) -> Result<View, String> {
    let zh = lang == Lang::Zh;
    let t = |a: &str, b: &str| lang.pick(a, b).to_string();
    let cat = catalogue(zh);
    let choices: Vec<(&str, &str)> = cat.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut form = Form::new("choose", t("保存", "Save"));
    for b in BoardId::ALL {
        form = form.field(
            Field::multi_choice(
                &format!("widgets_{}", b.id()),
                lang.pick(b.zh(), b.en()),
                &choices,
            )
            .value(chosen(b).join(","))
            .hint(t(
                "勾选看板上显示的组件；拖放位置在看板页面调整。",
                "The widgets the board shows; drag them into place on the board itself.",
            )),
        );
    }
    Ok(Page::new(t("看板组件", "Board widgets"))
        .text(t(
            "每个看板最多 24 行 × 12 列；放不下的组件会在看板上注明。仪表位号、能源表计、刷新间隔与报表渠道在插件设置中修改。",
            "Each board has 12 columns and at most 24 rows; widgets that find no room are named on the board. Gauge tags, energy meters, the refresh interval and the report channels are plugin settings.",
        ))
        .form(form)
        .into())
}

struct Boards;

impl Plugin for Boards {
    fn info() -> Info {
        let mut i = nplusx_sdk::info("boards", "可视化管理", "Boards", env!("CARGO_PKG_VERSION"));
        for b in BoardId::ALL {
            i = i.page(b.id(), b.zh(), b.en(), true);
        }
        i.page("setup", "看板组件", "Board widgets", true).page(
            "reports",
            "看板报表",
            "Board reports",
            true,
        )
    }

    fn start(values: &Values) -> Result<(), String> {
        let types: BTreeMap<String, String> = tag_infos()
            .into_iter()
            .map(|(k, v)| (k, v.data_type))
            .collect();
        let energy_tags = values.list("energy_tags");
        for tag in &energy_tags {
            check_numeric(tag, &types).map_err(|e| format!("energy_tags: {e}"))?;
        }
        let gauges = parse_gauges(values.text("gauges"), &types)?;
        let refresh = values
            .integer("refresh_seconds")
            .unwrap_or(30)
            .clamp(5, 3600) as u32;
        SETTINGS.with(|s| {
            *s.borrow_mut() = Settings {
                energy_tags,
                gauges,
                refresh,
                channels: values.list("report_channels"),
            }
        });
        let mut jobs = Vec::new();
        for (name, key) in [("daily", "daily_report"), ("weekly", "weekly_report")] {
            let cron = values.text(key).trim();
            if !cron.is_empty() {
                jobs.push(schedule::job(name, cron, 10_000));
            }
        }
        schedule::set(&jobs)
            .map_err(|e| format!("{}: {}", "daily_report/weekly_report", err(e)))?;
        Ok(())
    }

    fn job(name: &str, due_ms: i64) -> Result<(), String> {
        send_report(name, due_ms).map(|s| log::info(&format!("report {s}")))
    }

    fn render(page: &str, query: &Values, lang: Lang) -> Result<View, String> {
        if let Some(b) = BoardId::parse(page) {
            let wall = query.text("wall") == "1";
            return Ok(board_view(b, &Ctx::new(lang)?, wall));
        }
        match page {
            "setup" => setup_view(lang),
            "reports" => reports_view(lang),
            other => Err(format!("no page {other}")),
        }
    }

    fn action(page: &str, action: &str, fields: &Values, lang: Lang) -> Result<Outcome, String> {
        let t = |a: &str, b: &str| lang.pick(a, b).to_string();
        match (BoardId::parse(page), action) {
            (Some(b), "arrange") => {
                let known = chosen(b);
                let posted: Vec<(String, String)> = fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                match layout::parse_arrangement(&posted, &known, lang == Lang::Zh) {
                    Ok(places) => {
                        storage::set_json(&format!("place:{}", b.id()), &places).map_err(err)?;
                        Ok(Outcome::message(t("布局已保存", "Arrangement saved")))
                    }
                    Err((field, why)) => Ok(Outcome::field_error(field, why)),
                }
            }
            (Some(b), "reset_places") => {
                storage::delete(&format!("place:{}", b.id())).map_err(err)?;
                Ok(Outcome::message(t(
                    "已恢复默认布局",
                    "Default arrangement restored",
                )))
            }
            (_, "choose") => {
                let known: Vec<String> = catalogue(false).into_iter().map(|(id, _)| id).collect();
                for b in BoardId::ALL {
                    let name = format!("widgets_{}", b.id());
                    let list = fields.list(&name);
                    if list.is_empty() {
                        return Ok(Outcome::field_error(
                            name,
                            t("至少选择一个组件", "choose at least one widget"),
                        ));
                    }
                    if let Some(x) = list.iter().find(|x| !known.contains(x)) {
                        return Ok(Outcome::field_error(
                            name,
                            format!("{} {x}", t("没有组件", "no widget")),
                        ));
                    }
                }
                for b in BoardId::ALL {
                    let list = fields.list(&format!("widgets_{}", b.id()));
                    storage::set_json(&format!("widgets:{}", b.id()), &list).map_err(err)?;
                }
                Ok(Outcome::message(t("看板组件已保存", "Board widgets saved")))
            }
            (_, "send_daily" | "send_weekly") => {
                let now = nplusx_sdk::clock::now_ms().map_err(err)?;
                let kind = &action[5..];
                send_report(kind, now)
                    .map(|s| Outcome::message(format!("{} {s}", t("已生成：", "Written:"))))
            }
            _ => Err(format!("no action {action} on {page}")),
        }
    }
}

nplusx_sdk::plugin!(Boards);
