//! 能源管理 — the energy X module, a first-party nplusx plugin written with the kit.
//!
//! Meters (electricity, water, steam, natural gas, compressed air, nitrogen) bound to
//! totaliser or rate tags, in a metering hierarchy (site / secondary units / main
//! equipment) checked against GB 17167-2006's metering rates; consumption per hour, shift,
//! day and month computed by the box (`tags.totals`, from its hourly rolls); standard coal
//! (GB/T 2589-2020) and CO2 from versioned, editable factors; energy per tonne of product
//! from the batch records; an hour-of-week baseline per meter whose breach raises an alarm
//! (and proposes a work order for the equipment it meters); a monthly report written as
//! Excel by the box, downloadable and sent through the plant's channels.
//!
//! The rules and arithmetic are in `calc` (pure, tested natively); this file is the
//! plugin: storage, pages, jobs.

pub mod calc;

use std::cell::RefCell;
use std::collections::BTreeMap;

use calc::{Baseline, Factors, Kind, Level, Medium, Meter, Node};
use nplusx_sdk::files::{Cell, Format, Sheet};
use nplusx_sdk::tags::{self, Step, Total};
use nplusx_sdk::{
    ChartData, Error, Field, Form, Info, Kpi, Lang, Outcome, Page, Plugin, Series, Table, Tone,
    Values, View, actions, events, log, records, schedule, storage,
};
use serde::{Deserialize, Serialize};

const CONFIG: &str = "config";
const FACTORS: &str = "factors";

/// The hierarchy and the meters, as kept in storage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Config {
    nodes: Vec<Node>,
    meters: Vec<Meter>,
}

/// The admin's settings.
#[derive(Debug, Clone, Default)]
struct Settings {
    sigma: f64,
    weeks: i64,
    channels: Vec<String>,
    shifts: Vec<u16>,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings::default());
}

fn err(e: Error) -> String {
    format!("{e:?}")
}

fn config() -> Config {
    storage::get_json(CONFIG).ok().flatten().unwrap_or_default()
}

fn save_config(c: &Config) -> Result<(), String> {
    storage::set_json(CONFIG, c).map_err(err)
}

fn factor_versions() -> Vec<Factors> {
    storage::get_json::<Vec<Factors>>(FACTORS)
        .ok()
        .flatten()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![Factors::standard()])
}

/// `id|name|level|parent|media,…|equipment` entries separated by `;` (the `nodes` setting).
fn parse_nodes(text: &str) -> Result<Vec<Node>, String> {
    let mut out: Vec<Node> = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let f: Vec<&str> = entry.split('|').map(str::trim).collect();
        if f.len() < 5 {
            return Err(format!(
                "node {entry:?}: id|name|level|parent|media[|equipment]"
            ));
        }
        let level = Level::parse(f[2])
            .ok_or_else(|| format!("node {}: level site, unit or equipment", f[0]))?;
        let media = f[4]
            .split(',')
            .filter(|m| !m.trim().is_empty())
            .map(|m| Medium::parse(m).ok_or_else(|| format!("node {}: no medium {m:?}", f[0])))
            .collect::<Result<Vec<_>, _>>()?;
        let n = Node {
            id: f[0].into(),
            name: f[1].into(),
            level,
            parent: f[3].into(),
            media,
            equipment: f.get(5).copied().unwrap_or("").into(),
        };
        if let Some((_, why)) = calc::node_problem(&n, &out) {
            return Err(format!("node {}: {why}", n.id));
        }
        out.push(n);
    }
    Ok(out)
}

/// The data type of each tag, by name.
fn tag_types() -> BTreeMap<String, String> {
    tags::find("")
        .map(|l| l.into_iter().map(|t| (t.name, t.data_type)).collect())
        .unwrap_or_default()
}

/// `id|name|medium|tag|kind|node|scale` entries separated by `;` (the `meters` setting).
fn parse_meters(text: &str, nodes: &[Node]) -> Result<Vec<Meter>, String> {
    let types = tag_types();
    let mut out: Vec<Meter> = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let f: Vec<&str> = entry.split('|').map(str::trim).collect();
        if f.len() < 6 {
            return Err(format!(
                "meter {entry:?}: id|name|medium|tag|kind|node[|scale]"
            ));
        }
        let m = Meter {
            id: f[0].into(),
            name: f[1].into(),
            medium: Medium::parse(f[2])
                .ok_or_else(|| format!("meter {}: no medium {:?}", f[0], f[2]))?,
            tag: f[3].into(),
            kind: match f[4] {
                "totaliser" => Kind::Totaliser,
                "rate" => Kind::Rate,
                k => return Err(format!("meter {}: kind totaliser or rate, not {k:?}", f[0])),
            },
            node: f[5].into(),
            scale: f.get(6).map_or(Ok(1.0), |s| {
                s.parse()
                    .map_err(|_| format!("meter {}: scale {s:?}", f[0]))
            })?,
        };
        if let Some((_, why)) =
            calc::meter_problem(&m, nodes, types.get(&m.tag).map(String::as_str))
        {
            return Err(format!("meter {}: {why}", m.id));
        }
        if out.iter().any(|o| o.id == m.id) {
            return Err(format!("meter {}: twice", m.id));
        }
        out.push(m);
    }
    Ok(out)
}

/// A meter's consumption per period of `step` over `[from, to)`, in its medium's unit.
fn consumption(m: &Meter, from: i64, to: i64, step: &Step) -> Result<Vec<Total>, Error> {
    let mut t = tags::totals(&m.tag, from, to, step)?;
    for x in &mut t {
        let v = match m.kind {
            Kind::Totaliser => x.delta,
            Kind::Rate => x.integral,
        };
        x.delta = v * m.scale;
    }
    Ok(t)
}

/// The period of `step` that holds `now` (the box's plant calendar).
fn period(tag: &str, now: i64, step: &Step) -> Option<(i64, i64)> {
    tags::totals(tag, now - 1, now, step)
        .ok()?
        .last()
        .map(|t| (t.start_ms, t.end_ms))
}

/// Figures of every meter over one span.
struct Span {
    from: i64,
    to: i64,
    /// meter id → consumption in its unit
    used: BTreeMap<String, f64>,
}

fn span(meters: &[Meter], from: i64, to: i64) -> Span {
    let used = meters
        .iter()
        .map(|m| {
            let v = consumption(m, from, to, &Step::Day)
                .map(|t| {
                    t.iter()
                        .filter(|x| x.end_ms > from && x.start_ms < to)
                        .map(|x| x.delta)
                        .sum()
                })
                .unwrap_or(f64::NAN);
            (m.id.clone(), v)
        })
        .collect();
    Span { from, to, used }
}

/// The site's consumption of each purchased medium: its site-level meters, or where the
/// site has none for a medium, the sum of the secondary units' meters.
fn site_totals(c: &Config, s: &Span) -> BTreeMap<Medium, f64> {
    let level_of = |m: &Meter| c.nodes.iter().find(|n| n.id == m.node).map(|n| n.level);
    let mut out = BTreeMap::new();
    for medium in Medium::ALL.into_iter().filter(|m| m.purchased()) {
        let of = |level: Level| -> Vec<f64> {
            c.meters
                .iter()
                .filter(|m| m.medium == medium && level_of(m) == Some(level))
                .filter_map(|m| s.used.get(&m.id).copied().filter(|v| v.is_finite()))
                .collect()
        };
        let site = of(Level::Site);
        let pick = if site.is_empty() {
            of(Level::Unit)
        } else {
            site
        };
        if !pick.is_empty() {
            out.insert(medium, pick.iter().sum());
        }
    }
    out
}

/// Output in tonnes of the batches that ended in `[from, to)`.
fn output_tonnes(from: i64, to: i64) -> Option<f64> {
    #[derive(Deserialize)]
    struct Batch {
        #[serde(default)]
        ended_ms: Option<i64>,
        #[serde(default)]
        output_qty: Option<f64>,
        #[serde(default)]
        output_unit: Option<String>,
    }
    // batches started up to 40 days before the span may end in it
    let rows: Vec<Batch> = records::between(
        "production.batches",
        from - 40 * calc::DAY_MS,
        to,
        &serde_json::json!({}),
        10_000,
    )
    .ok()?;
    let t: f64 = rows
        .iter()
        .filter(|b| b.ended_ms.is_some_and(|e| e >= from && e < to))
        .filter_map(|b| calc::tonnes(b.output_qty?, b.output_unit.as_deref()?))
        .sum();
    Some(t)
}

/// The plant's UTC offset, ms (the box's; UTC if it cannot say).
fn offset() -> i64 {
    nplusx_sdk::plant::offset_ms().unwrap_or(0)
}

fn fmt(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "—".into()
    }
}

/// The figures a report and the overview show for a span.
struct Figures {
    site: BTreeMap<Medium, f64>,
    kgce: f64,
    kg_co2: f64,
    output_t: Option<f64>,
}

impl Figures {
    fn of(c: &Config, s: &Span, f: &Factors, year: i32) -> Figures {
        let site = site_totals(c, s);
        let kgce = site.iter().map(|(m, v)| f.kgce(*m, *v)).sum();
        let kg_co2 = site.iter().map(|(m, v)| f.kg_co2(*m, *v, year)).sum();
        Figures {
            site,
            kgce,
            kg_co2,
            output_t: output_tonnes(s.from, s.to),
        }
    }
    /// kgce per tonne of product.
    fn intensity(&self) -> Option<f64> {
        self.output_t.filter(|t| *t > 0.0).map(|t| self.kgce / t)
    }
}

fn year_of(day: &str) -> i32 {
    day.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2000)
}

/// The monthly report's sheets.
fn report_sheets(c: &Config, s: &Span, versions: &[Factors], off: i64, zh: bool) -> Vec<Sheet> {
    let day = calc::day_of(s.from, off);
    let f = calc::in_force(versions, &day)
        .cloned()
        .unwrap_or_else(Factors::standard);
    let year = year_of(&day);
    let fig = Figures::of(c, s, &f, year);
    let t = |a: &'static str, b: &'static str| if zh { a } else { b };
    let mut summary = Sheet::new(
        t("汇总", "Summary"),
        [t("项目", "Item"), t("数量", "Amount"), t("单位", "Unit")],
    );
    summary.push(vec![
        t("期间起", "From").into(),
        Cell::Time(s.from),
        "".into(),
    ]);
    summary.push(vec![t("期间止", "To").into(), Cell::Time(s.to), "".into()]);
    for (m, v) in &fig.site {
        summary.push(vec![m.name(zh).into(), (*v).into(), m.unit().into()]);
    }
    summary.push(vec![
        t("综合能耗（当量值）", "Total energy (equivalent)").into(),
        (fig.kgce / 1000.0).into(),
        "tce".into(),
    ]);
    summary.push(vec![
        t("二氧化碳排放", "CO2 emissions").into(),
        (fig.kg_co2 / 1000.0).into(),
        "t".into(),
    ]);
    if let Some(o) = fig.output_t {
        summary.push(vec![
            t("产量（批次）", "Output (batches)").into(),
            o.into(),
            "t".into(),
        ]);
    }
    if let Some(i) = fig.intensity() {
        summary.push(vec![
            t("单位产品综合能耗", "Energy per tonne").into(),
            i.into(),
            "kgce/t".into(),
        ]);
    }
    summary.push(vec![
        t("折标系数版本", "Factor version").into(),
        f64::from(f.version).into(),
        f.note.clone().into(),
    ]);
    let mut meters = Sheet::new(
        t("表计", "Meters"),
        [
            t("表计", "Meter"),
            t("介质", "Medium"),
            t("位号", "Tag"),
            t("计量对象", "Node"),
            t("用量", "Used"),
            t("单位", "Unit"),
            "kgce",
            "kgCO2",
        ],
    );
    for m in &c.meters {
        let v = s.used.get(&m.id).copied().unwrap_or(f64::NAN);
        meters.push(vec![
            m.name.clone().into(),
            m.medium.name(zh).into(),
            m.tag.clone().into(),
            m.node.clone().into(),
            v.into(),
            m.medium.unit().into(),
            f.kgce(m.medium, v).into(),
            f.kg_co2(m.medium, v, year).into(),
        ]);
    }
    let mut cover = Sheet::new(
        t("计量器具配备率", "Meter coverage"),
        [
            t("层级", "Level"),
            t("介质", "Medium"),
            t("应配", "Needed"),
            t("已配", "Metered"),
            t("配备率 %", "Rate %"),
            t("要求 %", "Required %"),
        ],
    );
    for x in calc::coverage(&c.nodes, &c.meters) {
        cover.push(vec![
            x.level.name(zh).into(),
            x.medium.name(zh).into(),
            (x.needed as f64).into(),
            (x.metered as f64).into(),
            x.pct().into(),
            x.required_pct.into(),
        ]);
    }
    vec![summary, meters, cover]
}

/// Writes the report of the month holding `at` and answers its address.
fn write_report(at: i64, zh: bool) -> Result<(String, String), String> {
    let c = config();
    let first = c.meters.first().ok_or("no meters yet")?;
    let (from, to) = period(&first.tag, at, &Step::Month).ok_or("no calendar from the box")?;
    let off = offset();
    let month = calc::month_of(from, off);
    let s = span(
        &c.meters,
        from,
        to.min(nplusx_sdk::clock::now_ms().unwrap_or(to)),
    );
    let sheets = report_sheets(&c, &s, &factor_versions(), off, zh);
    let name = if zh {
        format!("能源月报-{month}")
    } else {
        format!("energy-{month}")
    };
    let addr = nplusx_sdk::files::table(&name, Format::Xlsx, &sheets).map_err(err)?;
    let _ = storage::set(&format!("report:{month}"), addr.as_bytes());
    Ok((month, addr))
}

/// Sends the report of the month holding `at` through the configured channels.
fn send_report(at: i64) -> Result<String, String> {
    let (month, addr) = write_report(at, true)?;
    let channels = SETTINGS.with(|s| s.borrow().channels.clone());
    let mut sent = Vec::new();
    for ch in &channels {
        match nplusx_sdk::notify::send(
            ch,
            &format!("能源月报 {month} / Energy report {month}"),
            &format!(
                "{month} 的能源月报（折标煤、二氧化碳、单位产品能耗、计量器具配备率）见附件。"
            ),
            Some(&addr),
        ) {
            Ok(()) => sent.push(ch.clone()),
            Err(e) => log::warn(&format!("report not sent through {ch}: {}", err(e))),
        }
    }
    Ok(format!("{month}: {addr} → {}", sent.join(", ")))
}

/// The hourly check: each meter's last complete hour against its hour-of-week baseline
/// of the weeks before; a breach raises an alarm (and proposes a work order for the
/// equipment the meter's node names), a normal hour clears it.
fn check_baselines(now: i64) {
    let c = config();
    let (sigma, weeks) = SETTINGS.with(|s| (s.borrow().sigma, s.borrow().weeks));
    let off = offset();
    for m in &c.meters {
        let to = now.div_euclid(calc::HOUR_MS) * calc::HOUR_MS;
        let from = to - weeks * 168 * calc::HOUR_MS - calc::HOUR_MS;
        let Ok(hours) = consumption(m, from, to, &Step::Hour) else {
            continue;
        };
        let Some((last, history)) = hours.split_last() else {
            continue;
        };
        let b = Baseline::learn(
            &history
                .iter()
                .map(|h| (h.start_ms, Some(h.delta)))
                .collect::<Vec<_>>(),
            off,
        );
        let slot = calc::hour_of_week(last.start_ms, off);
        let key = format!("baseline:{}", m.id);
        match b.abnormal(slot, last.delta, sigma) {
            Some(true) => {
                let (mean, unit) = (b.mean[slot], m.medium.unit());
                let _ = events::raise_alarm(
                    &key,
                    events::Priority::Medium,
                    &format!(
                        "{} 用量异常：上一小时 {:.1} {unit}，基线 {:.1} {unit}",
                        m.name, last.delta, mean
                    ),
                    &format!(
                        "{}: abnormal use, {:.1} {unit} in the last hour against a baseline of {:.1} {unit}",
                        m.name, last.delta, mean
                    ),
                );
                let equipment = c
                    .nodes
                    .iter()
                    .find(|n| n.id == m.node)
                    .map(|n| n.equipment.clone())
                    .unwrap_or_default();
                if !equipment.is_empty() {
                    let args = serde_json::json!({
                        "equipment": equipment,
                        "key": format!("energy:baseline:{}", m.id),
                        "title": format!("{} 用量高于基线，请检查", m.name),
                        "description": format!("{:.1} {unit} in the hour from {}, baseline {:.1} {unit}", last.delta, calc::day_of(last.start_ms, off), mean),
                        "priority": "normal",
                    });
                    if let Err(e) =
                        actions::invoke("equipment.propose-work-order", &args.to_string())
                    {
                        log::debug(&format!("no work order proposed for {}: {}", m.id, err(e)));
                    }
                }
            }
            Some(false) => {
                let _ = events::clear_alarm(&key);
            }
            None => {}
        }
    }
}

struct Energy;

fn medium_choices(zh: bool) -> Vec<(String, String)> {
    Medium::ALL
        .iter()
        .map(|m| (m.id().to_string(), format!("{} ({})", m.name(zh), m.unit())))
        .collect()
}

fn choices(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

impl Energy {
    fn overview(lang: Lang) -> Result<View, String> {
        let zh = lang == Lang::Zh;
        let t = |a: &str, b: &str| lang.pick(a, b).to_string();
        let c = config();
        let mut page = Page::new(t("能源管理", "Energy"));
        let Some(first) = c.meters.first() else {
            return Ok(page
                .notice(
                    Tone::Warn,
                    t(
                        "还没有表计：在“表计与层级”页添加。",
                        "No meters yet: add them on the Meters page.",
                    ),
                )
                .links([(
                    t("表计与层级", "Meters and hierarchy"),
                    "/x/energy/meters".to_string(),
                )])
                .into());
        };
        let now = nplusx_sdk::clock::now_ms().map_err(err)?;
        let (d0, d1) = period(&first.tag, now, &Step::Day).ok_or("no calendar")?;
        let (m0, m1) = period(&first.tag, now, &Step::Month).ok_or("no calendar")?;
        let off = offset();
        let today_day = calc::day_of(d0, off);
        let f = calc::in_force(&factor_versions(), &today_day)
            .cloned()
            .unwrap_or_else(Factors::standard);
        let year = year_of(&today_day);
        let today = span(&c.meters, d0, d1.min(now + 1));
        let month = span(&c.meters, m0, m1.min(now + 1));
        let ft = Figures::of(&c, &today, &f, year);
        let fm = Figures::of(&c, &month, &f, year);
        let mut kpis: Vec<Kpi> = ft
            .site
            .iter()
            .map(|(m, v)| {
                Kpi::new(
                    format!("{}{}", t("今日", "Today: "), m.name(zh)),
                    fmt(*v, 1),
                )
                .unit(m.unit())
            })
            .collect();
        kpis.push(
            Kpi::new(t("今日综合能耗", "Energy today"), fmt(ft.kgce / 1000.0, 3))
                .unit("tce")
                .tone(Tone::Good),
        );
        kpis.push(Kpi::new(t("今日二氧化碳", "CO2 today"), fmt(ft.kg_co2 / 1000.0, 3)).unit("t"));
        kpis.push(
            Kpi::new(
                t("本月单位产品能耗", "Energy per tonne, month"),
                fm.intensity().map_or("—".into(), |i| fmt(i, 1)),
            )
            .unit("kgce/t")
            .hint(fm.output_t.map_or(t("无批次产量", "no batch output"), |o| {
                format!("{} {} t", t("产量", "output"), fmt(o, 2))
            })),
        );
        kpis.push(
            Kpi::new(
                t("本月综合能耗", "Energy this month"),
                fmt(fm.kgce / 1000.0, 2),
            )
            .unit("tce"),
        );
        let mut table = Table::new([
            t("表计", "Meter"),
            t("介质", "Medium"),
            t("位号", "Tag"),
            t("今日用量", "Today"),
            t("本月用量", "This month"),
            t("单位", "Unit"),
            t("本月 kgce", "Month kgce"),
            t("本月 kgCO2", "Month kgCO2"),
        ])
        .numeric(3)
        .page_size(25);
        table.columns[5].numeric = false;
        for m in &c.meters {
            let d = today.used.get(&m.id).copied().unwrap_or(f64::NAN);
            let mo = month.used.get(&m.id).copied().unwrap_or(f64::NAN);
            table.push([
                m.name.clone(),
                m.medium.name(zh).to_string(),
                m.tag.clone(),
                fmt(d, 2),
                fmt(mo, 2),
                m.medium.unit().to_string(),
                fmt(f.kgce(m.medium, mo), 2),
                fmt(f.kg_co2(m.medium, mo, year), 2),
            ]);
        }
        // each meter's use in the shifts of the last day (the plant's shift starts)
        let shifts = SETTINGS.with(|s| s.borrow().shifts.clone());
        let mut by_shift = None;
        if !shifts.is_empty() {
            let per: Vec<(&Meter, Vec<Total>)> = c
                .meters
                .iter()
                .filter_map(|m| {
                    Some((
                        m,
                        consumption(m, now - calc::DAY_MS, now, &Step::Shift(shifts.clone()))
                            .ok()?,
                    ))
                })
                .collect();
            if let Some((_, first)) = per.first() {
                let heads: Vec<String> = std::iter::once(t("表计", "Meter"))
                    .chain(first.iter().map(|p| {
                        let hm = (p.start_ms + off).rem_euclid(calc::DAY_MS) / 60_000;
                        format!("{} {:02}:{:02}", t("班次", "shift"), hm / 60, hm % 60)
                    }))
                    .collect();
                let mut table = Table::new(heads).numeric(1);
                for (m, periods) in &per {
                    table.push(
                        std::iter::once(format!("{} ({})", m.name, m.medium.unit()))
                            .chain(periods.iter().map(|p| fmt(p.delta, 2))),
                    );
                }
                by_shift = Some(table);
            }
        }
        // hourly use of the site's electricity, the last two days
        let series: Vec<Series> = c
            .meters
            .iter()
            .filter(|m| m.medium == Medium::Electricity)
            .take(4)
            .filter_map(|m| {
                let hours = consumption(m, now - 2 * calc::DAY_MS, now, &Step::Hour).ok()?;
                Some(Series::new(
                    m.name.clone(),
                    "kWh",
                    hours.iter().map(|h| (h.start_ms, h.delta)).collect(),
                ))
            })
            .collect();
        let pie: Vec<(String, f64)> = fm
            .site
            .iter()
            .map(|(m, v)| (m.name(zh).to_string(), f.kgce(*m, *v) / 1000.0))
            .collect();
        let failing: Vec<String> = calc::coverage(&c.nodes, &c.meters)
            .into_iter()
            .filter(|x| !x.passes())
            .map(|x| {
                format!(
                    "{} · {} {:.0} % < {:.0} %",
                    x.level.name(zh),
                    x.medium.name(zh),
                    x.pct(),
                    x.required_pct
                )
            })
            .collect();
        page = page.kpis(kpis);
        if !failing.is_empty() {
            page = page.notice(
                Tone::Warn,
                format!(
                    "{}{}",
                    t(
                        "计量器具配备率未达 GB 17167 要求：",
                        "Meter coverage below GB 17167: "
                    ),
                    failing.join("；")
                ),
            );
        }
        page = page.table(table);
        if let Some(s) = by_shift {
            page = page.heading(t("各班次用量", "Use per shift")).table(s);
        }
        Ok(page
            .chart(
                t(
                    "用电（每小时，近两天）",
                    "Electricity per hour, last two days",
                ),
                ChartData::TimeSeries(series),
            )
            .chart(
                t(
                    "本月综合能耗构成（tce）",
                    "This month's energy by medium (tce)",
                ),
                ChartData::pie(pie),
            )
            .links([
                (
                    t("表计与层级", "Meters and hierarchy"),
                    "/x/energy/meters".to_string(),
                ),
                (
                    t("折标系数", "Conversion factors"),
                    "/x/energy/factors".to_string(),
                ),
                (t("月报", "Monthly report"), "/x/energy/report".to_string()),
            ])
            .into())
    }

    fn meters(lang: Lang) -> Result<View, String> {
        let zh = lang == Lang::Zh;
        let t = |a: &str, b: &str| lang.pick(a, b).to_string();
        let c = config();
        let mut nodes = Table::new([
            t("编号", "Id"),
            t("名称", "Name"),
            t("层级", "Level"),
            t("上级", "Parent"),
            t("使用介质", "Media"),
            t("设备位号", "Equipment"),
        ]);
        for n in &c.nodes {
            nodes.push([
                n.id.clone(),
                n.name.clone(),
                n.level.name(zh).to_string(),
                n.parent.clone(),
                n.media
                    .iter()
                    .map(|m| m.name(zh))
                    .collect::<Vec<_>>()
                    .join("、"),
                n.equipment.clone(),
            ]);
        }
        let mut meters = Table::new([
            t("编号", "Id"),
            t("名称", "Name"),
            t("介质", "Medium"),
            t("位号", "Tag"),
            t("计量方式", "Kind"),
            t("计量对象", "Node"),
            t("倍率", "Scale"),
        ])
        .numeric(6);
        for m in &c.meters {
            meters.push([
                m.id.clone(),
                m.name.clone(),
                m.medium.name(zh).to_string(),
                m.tag.clone(),
                match m.kind {
                    Kind::Totaliser => t("累计量", "totaliser"),
                    Kind::Rate => t("瞬时量（积分）", "rate (integrated)"),
                },
                m.node.clone(),
                m.scale.to_string(),
            ]);
        }
        let mut cover = Table::new([
            t("层级", "Level"),
            t("介质", "Medium"),
            t("应配", "Needed"),
            t("已配", "Metered"),
            t("配备率 %", "Rate %"),
            t("要求 %", "Required %"),
            t("结论", "Result"),
        ])
        .numeric(2);
        cover.columns[6].numeric = false;
        for x in calc::coverage(&c.nodes, &c.meters) {
            cover.push([
                x.level.name(zh).to_string(),
                x.medium.name(zh).to_string(),
                x.needed.to_string(),
                x.metered.to_string(),
                format!("{:.0}", x.pct()),
                format!("{:.0}", x.required_pct),
                if x.passes() {
                    t("符合", "meets")
                } else {
                    t("不符合", "below")
                },
            ]);
        }
        let media = medium_choices(zh);
        let levels: Vec<(String, String)> = Level::ALL
            .iter()
            .map(|l| (l.id().to_string(), l.name(zh).to_string()))
            .collect();
        let node_ids: Vec<(String, String)> = c
            .nodes
            .iter()
            .map(|n| (n.id.clone(), format!("{} {}", n.id, n.name)))
            .collect();
        let parents: Vec<(String, String)> =
            std::iter::once((String::new(), t("（无：用能单位）", "(none: the site)")))
                .chain(node_ids.iter().cloned())
                .collect();
        let meter_ids: Vec<(String, String)> = c
            .meters
            .iter()
            .map(|m| (m.id.clone(), format!("{} {}", m.id, m.name)))
            .collect();
        let mut page = Page::new(t("表计与层级", "Meters and hierarchy"))
            .heading(t(
                "计量器具配备率（GB 17167-2006）",
                "Meter coverage (GB 17167-2006)",
            ))
            .table(cover)
            .heading(t("计量层级", "Metering hierarchy"))
            .table(nodes)
            .heading(t("表计", "Meters"))
            .table(meters)
            .form(
                Form::new("add_meter", t("保存表计", "Save meter"))
                    .field(Field::text("id", &t("编号", "Id")).required().hint(t(
                        "a-z、0-9、- 和 _；已有编号则修改",
                        "a-z, 0-9, - and _; an existing id is changed",
                    )))
                    .field(Field::text("name", &t("名称", "Name")).required())
                    .field(
                        Field::choice("medium", &t("介质", "Medium"), &choices(&media)).required(),
                    )
                    .field(Field::tag("tag", &t("位号", "Tag")).required().hint(t(
                        "数值型位号：累计量或瞬时量",
                        "A numeric tag: a totaliser or a rate",
                    )))
                    .field(
                        Field::choice(
                            "kind",
                            &t("计量方式", "Kind"),
                            &[
                                ("totaliser", lang.pick("累计量", "totaliser")),
                                ("rate", lang.pick("瞬时量（积分）", "rate (integrated)")),
                            ],
                        )
                        .required()
                        .value("totaliser"),
                    )
                    .field(
                        Field::choice("node", &t("计量对象", "Node"), &choices(&node_ids))
                            .required(),
                    )
                    .field(
                        Field::number("scale", &t("倍率", "Scale"))
                            .value(1)
                            .min(0.000_001)
                            .hint(t(
                                "乘到位号数值上得到介质单位",
                                "Multiplies the tag's figure into the medium's unit",
                            )),
                    ),
            )
            .form(
                Form::new("add_node", t("保存层级节点", "Save node"))
                    .field(Field::text("id", &t("编号", "Id")).required())
                    .field(Field::text("name", &t("名称", "Name")).required())
                    .field(
                        Field::choice("level", &t("层级", "Level"), &choices(&levels)).required(),
                    )
                    .field(Field::choice(
                        "parent",
                        &t("上级", "Parent"),
                        &choices(&parents),
                    ))
                    .field(Field::multi_choice(
                        "media",
                        &t("使用介质", "Media used"),
                        &choices(&media),
                    ))
                    .field(Field::text(
                        "equipment",
                        &t("设备位号（可选）", "Equipment tag number (optional)"),
                    )),
            );
        if !meter_ids.is_empty() {
            page = page.form(
                Form::new("remove_meter", t("删除表计", "Remove meter")).field(
                    Field::choice("id", &t("表计", "Meter"), &choices(&meter_ids)).required(),
                ),
            );
        }
        Ok(page.into())
    }

    fn factors(lang: Lang) -> Result<View, String> {
        let zh = lang == Lang::Zh;
        let t = |a: &str, b: &str| lang.pick(a, b).to_string();
        let versions = factor_versions();
        let current = versions
            .iter()
            .max_by_key(|f| (f.from.clone(), f.version))
            .cloned()
            .unwrap_or_else(Factors::standard);
        let mut coal = Table::new([
            t("介质", "Medium"),
            t("折标系数", "Factor"),
            t("单位", "Unit"),
            t("计入全厂", "In site totals"),
        ])
        .numeric(1);
        coal.columns[2].numeric = false;
        coal.columns[3].numeric = false;
        for m in Medium::ALL {
            coal.push([
                m.name(zh).to_string(),
                current
                    .coal
                    .get(&m)
                    .copied()
                    .unwrap_or(f64::NAN)
                    .to_string(),
                format!("kgce/{}", m.unit()),
                if m.purchased() {
                    t("是", "yes")
                } else {
                    t("否（厂内自产）", "no (made on site)")
                },
            ]);
        }
        let mut grid = Table::new([
            t("年份", "Year"),
            t("电网排放因子 kgCO2/kWh", "Grid factor kgCO2/kWh"),
        ])
        .numeric(1);
        for (y, x) in &current.grid {
            grid.push([y.to_string(), x.to_string()]);
        }
        let mut history = Table::new([
            t("版本", "Version"),
            t("起用日", "From"),
            t("修改人", "By"),
            t("说明", "Note"),
        ])
        .numeric(0);
        for v in versions.iter().rev() {
            history.push([
                v.version.to_string(),
                v.from.clone(),
                v.by.clone(),
                v.note.clone(),
            ]);
        }
        let mut form = Form::new("new_factors", t("保存为新版本", "Save as a new version"))
            .field(Field::date("from", &t("起用日", "In force from")).required())
            .field(Field::text("note", &t("说明", "Note")).required());
        for m in Medium::ALL {
            form = form.field(
                Field::number(
                    &format!("coal_{}", m.id()),
                    &format!("{} kgce/{}", m.name(zh), m.unit()),
                )
                .required()
                .min(0.0)
                .value(current.coal.get(&m).copied().unwrap_or(0.0)),
            );
        }
        let (gy, gx) = current
            .grid
            .iter()
            .next_back()
            .map(|(y, x)| (*y, *x))
            .unwrap_or((2023, 0.5306));
        form = form
            .field(
                Field::integer("grid_year", &t("电网因子年份", "Grid factor year"))
                    .required()
                    .min(1990.0)
                    .max(2100.0)
                    .value(gy),
            )
            .field(
                Field::number(
                    "grid_factor",
                    &t("电网排放因子 kgCO2/kWh", "Grid factor kgCO2/kWh"),
                )
                .required()
                .min(0.0)
                .value(gx),
            )
            .field(
                Field::number("gas_co2", &t("天然气 kgCO2/m³", "Natural gas kgCO2/m³"))
                    .required()
                    .min(0.0)
                    .value(current.gas_co2),
            )
            .field(
                Field::number("heat_co2", &t("外购热力 tCO2/GJ", "Purchased heat tCO2/GJ"))
                    .required()
                    .min(0.0)
                    .value(current.heat_co2),
            );
        Ok(Page::new(t("折标系数", "Conversion factors"))
            .text(t(
                "折标准煤系数按 GB/T 2589-2020（当量值，1 kgce = 29 307 kJ）；电网排放因子按年份取用（当年无值取此前最近一年）；蒸汽排放按外购热力计。修改保存为新版本，历史报表按各自期间起用的版本计算。",
                "Standard coal factors per GB/T 2589-2020 (equivalent value, 1 kgce = 29,307 kJ); the grid factor by year (a year without one takes the latest before it); steam emits as purchased heat. Changes are saved as a new version; each period is computed with the version in force then.",
            ))
            .heading(t("当前版本", "Current version") + &format!(" v{} ({})", current.version, current.from))
            .table(coal)
            .table(grid)
            .form(form)
            .heading(t("版本历史", "Versions"))
            .table(history)
            .into())
    }

    fn report(query: &Values, lang: Lang) -> Result<View, String> {
        let zh = lang == Lang::Zh;
        let t = |a: &str, b: &str| lang.pick(a, b).to_string();
        let c = config();
        let Some(first) = c.meters.first() else {
            return Ok(Page::new(t("月报", "Monthly report"))
                .notice(Tone::Warn, t("还没有表计。", "No meters yet."))
                .into());
        };
        let now = nplusx_sdk::clock::now_ms().map_err(err)?;
        // the last 13 months of the plant calendar
        let months =
            tags::totals(&first.tag, now - 395 * calc::DAY_MS, now, &Step::Month).map_err(err)?;
        let off = offset();
        let links: Vec<(String, String)> = months
            .iter()
            .rev()
            .map(|m| {
                let l = calc::month_of(m.start_ms, off);
                (l.clone(), format!("/x/energy/report?month={l}"))
            })
            .collect();
        let chosen = query.text("month");
        let pick = months
            .iter()
            .rev()
            .find(|m| calc::month_of(m.start_ms, off) == chosen)
            .or(months.last())
            .ok_or("no calendar")?;
        let s = span(&c.meters, pick.start_ms, pick.end_ms.min(now + 1));
        let sheets = report_sheets(&c, &s, &factor_versions(), off, zh);
        let month = calc::month_of(pick.start_ms, off);
        let mut page =
            Page::new(format!("{} {month}", t("能源月报", "Energy report"))).links(links);
        for sh in &sheets {
            let mut table = Table::new(sh.header.clone());
            for r in &sh.rows {
                table.push(r.iter().map(|c| match c {
                    Cell::Empty => String::new(),
                    Cell::Text(s) => s.clone(),
                    Cell::Number(x) => fmt(*x, 3),
                    Cell::Time(ms) => calc::day_of(*ms, off),
                }));
            }
            page = page.heading(sh.name.clone()).table(table);
        }
        if let Ok(Some(addr)) = storage::get(&format!("report:{month}"))
            .map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned()))
        {
            page = page.links([(format!("{} {month}.xlsx", t("下载", "Download")), addr)]);
        }
        Ok(page
            .buttons(vec![
                nplusx_sdk::Button::new("excel", t("生成 Excel", "Make the Excel file")),
                nplusx_sdk::Button::new(
                    "send",
                    t("立即发送给管理人员", "Send to the managers now"),
                ),
            ])
            .into())
    }
}

impl Plugin for Energy {
    fn info() -> Info {
        nplusx_sdk::info("energy", "能源管理", "Energy", env!("CARGO_PKG_VERSION"))
            .page("overview", "能源管理", "Energy", true)
            .page("meters", "表计与层级", "Meters and hierarchy", true)
            .page("factors", "折标系数", "Conversion factors", false)
            .page("report", "能源月报", "Energy report", true)
    }

    fn start(settings: &Values) -> Result<(), String> {
        let shifts: Vec<u16> = settings
            .list("shifts")
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|_| format!("shifts: minutes of the day, not {s:?}"))
            })
            .collect::<Result<_, _>>()?;
        SETTINGS.with(|s| {
            *s.borrow_mut() = Settings {
                sigma: settings.number_or("baseline_sigma", 3.0).unwrap_or(3.0),
                weeks: settings.integer("baseline_weeks").unwrap_or(4).clamp(2, 12),
                channels: settings.list("report_channels"),
                shifts,
            };
        });
        // the first start seeds the hierarchy and meters from the settings
        if storage::get(CONFIG).map_err(err)?.is_none() {
            let nodes = parse_nodes(settings.text("nodes"))?;
            let meters = parse_meters(settings.text("meters"), &nodes)?;
            log::info(&format!(
                "{} nodes and {} meters from the settings",
                nodes.len(),
                meters.len()
            ));
            save_config(&Config { nodes, meters })?;
        }
        schedule::set(&[
            schedule::job("baselines", "0 5 * * * *", 10_000),
            schedule::job("monthly-report", "0 30 7 1 * *", 10_000),
        ])
        .map_err(err)?;
        Ok(())
    }

    fn job(name: &str, due_ms: i64) -> Result<(), String> {
        match name {
            "baselines" => {
                check_baselines(due_ms);
                Ok(())
            }
            // the month that just ended
            "monthly-report" => send_report(due_ms - calc::DAY_MS)
                .map(|s| log::info(&format!("monthly report {s}"))),
            other => Err(format!("no job {other}")),
        }
    }

    fn render(page: &str, query: &Values, lang: Lang) -> Result<View, String> {
        match page {
            "overview" => Energy::overview(lang),
            "meters" => Energy::meters(lang),
            "factors" => Energy::factors(lang),
            "report" => Energy::report(query, lang),
            other => Err(format!("no page {other}")),
        }
    }

    fn action(page: &str, action: &str, fields: &Values, lang: Lang) -> Result<Outcome, String> {
        let t = |a: &str, b: &str| lang.pick(a, b).to_string();
        let mut c = config();
        match action {
            "add_meter" => {
                let m = Meter {
                    id: fields.text("id").to_string(),
                    name: fields.text("name").to_string(),
                    medium: Medium::parse(fields.text("medium")).ok_or("medium")?,
                    tag: fields.text("tag").to_string(),
                    kind: if fields.text("kind") == "rate" {
                        Kind::Rate
                    } else {
                        Kind::Totaliser
                    },
                    node: fields.text("node").to_string(),
                    scale: fields.number_or("scale", 1.0)?,
                };
                let types = tag_types();
                if let Some((field, why)) =
                    calc::meter_problem(&m, &c.nodes, types.get(&m.tag).map(String::as_str))
                {
                    return Ok(Outcome::field_error(field, why));
                }
                let msg = format!("{} {}", t("已保存表计", "Meter saved:"), m.id);
                c.meters.retain(|o| o.id != m.id);
                c.meters.push(m);
                save_config(&c)?;
                Ok(Outcome::message(msg))
            }
            "remove_meter" => {
                let id = fields.text("id");
                c.meters.retain(|m| m.id != id);
                save_config(&c)?;
                let _ = events::clear_alarm(&format!("baseline:{id}"));
                Ok(Outcome::message(format!(
                    "{} {id}",
                    t("已删除表计", "Meter removed:")
                )))
            }
            "add_node" => {
                let media: Vec<Medium> = fields
                    .list("media")
                    .iter()
                    .filter_map(|m| Medium::parse(m))
                    .collect();
                let n = Node {
                    id: fields.text("id").to_string(),
                    name: fields.text("name").to_string(),
                    level: Level::parse(fields.text("level")).ok_or("level")?,
                    parent: fields.text("parent").to_string(),
                    media,
                    equipment: fields.text("equipment").to_string(),
                };
                let others: Vec<Node> = c.nodes.iter().filter(|o| o.id != n.id).cloned().collect();
                if let Some((field, why)) = calc::node_problem(&n, &others) {
                    return Ok(Outcome::field_error(field, why));
                }
                let msg = format!("{} {}", t("已保存节点", "Node saved:"), n.id);
                c.nodes.retain(|o| o.id != n.id);
                c.nodes.push(n);
                save_config(&c)?;
                Ok(Outcome::message(msg))
            }
            "new_factors" => {
                let mut versions = factor_versions();
                let mut f = Factors {
                    version: versions.iter().map(|v| v.version).max().unwrap_or(0) + 1,
                    from: fields.text("from").to_string(),
                    coal: BTreeMap::new(),
                    grid: versions.last().map(|v| v.grid.clone()).unwrap_or_default(),
                    gas_co2: fields.number("gas_co2")?,
                    heat_co2: fields.number("heat_co2")?,
                    by: String::new(),
                    note: fields.text("note").to_string(),
                };
                for m in Medium::ALL {
                    f.coal
                        .insert(m, fields.number(&format!("coal_{}", m.id()))?);
                }
                let year = fields.integer("grid_year")? as i32;
                f.grid.insert(year, fields.number("grid_factor")?);
                if let Some(p) = f.problem() {
                    let field = Medium::ALL
                        .iter()
                        .map(|m| format!("coal_{}", m.id()))
                        .find(|k| p.starts_with(&k[5..]))
                        .unwrap_or_else(|| {
                            if p.starts_with("grid") {
                                "grid_factor".into()
                            } else if p.starts_with("from") {
                                "from".into()
                            } else {
                                "note".into()
                            }
                        });
                    return Ok(Outcome::field_error(field, p));
                }
                let msg = format!("{} v{}", t("已保存折标系数", "Factors saved:"), f.version);
                versions.push(f);
                storage::set_json(FACTORS, &versions).map_err(err)?;
                Ok(Outcome::message(msg))
            }
            "excel" => {
                let now = nplusx_sdk::clock::now_ms().map_err(err)?;
                let (month, _) = write_report(now, lang == Lang::Zh)?;
                Ok(Outcome::message(format!(
                    "{} {month}",
                    t("已生成 Excel：", "Excel file made:")
                ))
                .next(page))
            }
            "send" => {
                let now = nplusx_sdk::clock::now_ms().map_err(err)?;
                send_report(now)
                    .map(|s| Outcome::message(format!("{} {s}", t("已发送：", "Sent:"))))
            }
            other => Err(format!("no action {other}")),
        }
    }
}

nplusx_sdk::plugin!(Energy);
