//! Tank level watch: an example nplusx plugin that uses every capability of the contract.
//!
//! It follows the level tags (unit `%`) of one plant area, raises an alarm when a tank
//! passes the high level the operator set on its page, keeps that threshold and a few
//! counters in its storage, shows KPI cards, a table, a trend and a form, emits a summary
//! event on every tick (and publishes it upstream over MQTT), and listens to alarm events.
//! Copy it to start your own.

use std::cell::RefCell;
use std::collections::BTreeMap;

wit_bindgen::generate!({ path: "../../../wit", world: "module" });

// `Event`, `Info`, `Sample`, `View` and `Outcome` are in scope: the world uses them
use nplusx::plugin::types::{Page, Quality, Value};
use nplusx::plugin::views::{
    Block, Button, Chart, ChartData, Column, Field, FieldError, FieldKind, Form, Kpi, Notice,
    Point, Series, Table, Tone,
};
use nplusx::plugin::{actions, clock, events, log, mqtt, records, storage, tag_write, tags};

/// What the plugin remembers between calls (one instance per plugin, calls one at a time).
#[derive(Default)]
struct State {
    area: String,
    high_pct: f64,
    setpoint_tag: String,
    /// handle → (tag name, unit)
    watched: BTreeMap<u32, (String, String)>,
    /// handle → latest (ts, value, good)
    latest: BTreeMap<u32, (i64, Option<f64>, bool)>,
    alarm_events: u64,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

const THRESHOLD_KEY: &str = "threshold";
const TICKS_KEY: &str = "ticks";

fn zh(lang: &str) -> bool {
    lang.starts_with("zh")
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(x) => Some(*x),
        Value::Integer(i) => Some(*i as f64),
        Value::Boolean(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// The threshold: the operator's (storage) or the admin's setting.
fn threshold(default: f64) -> f64 {
    match storage::get(THRESHOLD_KEY) {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).parse().unwrap_or(default),
        _ => default,
    }
}

fn counter(key: &str) -> u64 {
    match storage::get(key) {
        Ok(Some(b)) => String::from_utf8_lossy(&b).parse().unwrap_or(0),
        _ => 0,
    }
}

/// One sample of a watched tag: kept as the latest, and its level alarm raised or cleared.
fn see(handle: u32, ts_ms: i64, v: Option<f64>, good: bool) {
    let limit = threshold(STATE.with(|s| s.borrow().high_pct));
    let name = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.latest.insert(handle, (ts_ms, v, good));
        s.watched.get(&handle).map(|(n, _)| n.clone())
    });
    let (Some(name), Some(v)) = (name, v) else { return };
    let key = format!("high:{name}");
    if good && v > limit {
        let _ = events::raise_alarm(
            &key,
            events::Priority::High,
            &format!("{name} 液位 {v:.1} % 超过 {limit} %"),
            &format!("{name} level {v:.1} % is above {limit} %"),
        );
    } else if good && v < limit - 2.0 {
        let _ = events::clear_alarm(&key);
    }
}

struct Plugin;

impl Guest for Plugin {
    fn describe() -> Info {
        Info {
            id: "tank-watch".into(),
            name_zh: "储罐液位监视".into(),
            name_en: "Tank level watch".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            pages: vec![Page {
                id: "overview".into(),
                title_zh: "储罐液位".into(),
                title_en: "Tank levels".into(),
                in_menu: true,
            }],
        }
    }

    fn start(settings: Vec<(String, String)>) -> Result<(), String> {
        let get = |k: &str| {
            settings
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let area = get("area");
        let high_pct: f64 = get("high_pct").parse().unwrap_or(85.0);
        let list = tags::find(&area).map_err(|e| format!("cannot list tags: {e:?}"))?;
        let levels: Vec<tags::TagInfo> = list.into_iter().filter(|t| t.unit == "%").collect();
        let names: Vec<String> = levels.iter().map(|t| t.name.clone()).collect();
        let handles = tags::subscribe(&names).map_err(|e| format!("cannot subscribe: {e:?}"))?;
        // the values now; the subscription brings the changes
        let now = tags::read(&names).unwrap_or_default();
        let _ = events::listen(&["alarm.".to_string()]);
        log::write(
            log::Level::Info,
            &format!("watching {} level tags in area {area:?}", names.len()),
        );
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.area = area;
            s.high_pct = high_pct;
            s.setpoint_tag = get("setpoint_tag");
            for (h, c) in handles.iter().zip(&now) {
                let good = matches!(c.quality, Quality::Good);
                s.latest.insert(*h, (c.ts_ms, number(&c.value), good));
            }
            s.watched = handles
                .into_iter()
                .zip(levels)
                .map(|(h, t)| (h, (t.name, t.unit)))
                .collect();
        });
        Ok(())
    }

    fn stop() {
        log::write(log::Level::Info, "stopped");
    }

    fn tick(now_ms: i64) {
        let ticks = counter(TICKS_KEY) + 1;
        let _ = storage::set(TICKS_KEY, ticks.to_string().as_bytes());
        let (count, highest) = STATE.with(|s| {
            let s = s.borrow();
            let highest = s
                .latest
                .values()
                .filter_map(|(_, v, _)| *v)
                .fold(f64::NAN, f64::max);
            (s.watched.len(), highest)
        });
        let data = format!(
            r#"{{"tanks":{count},"highest_pct":{},"at":{now_ms},"clock":{}}}"#,
            if highest.is_finite() { highest.to_string() } else { "null".into() },
            clock::now_ms().unwrap_or(now_ms)
        );
        if let Err(e) = events::emit("summary", &data) {
            log::write(log::Level::Warn, &format!("summary not emitted: {e:?}"));
        }
        // upstream too, when the plant publishes northbound (quietly skipped otherwise)
        if let Err(e) = mqtt::publish("summary", data.as_bytes(), false) {
            log::write(log::Level::Debug, &format!("summary not published: {e:?}"));
        }
    }

    fn on_tags(samples: Vec<Sample>) {
        // text tags only (since 0.2): levels are numbers and come to `on_samples`
        for sm in samples {
            see(sm.handle, sm.ts_ms, number(&sm.value), matches!(sm.quality, Quality::Good));
        }
    }

    fn on_samples(batch: Samples) {
        for i in 0..batch.handles.len() {
            let v = batch.values[i];
            see(
                batch.handles[i],
                batch.ts_ms[i],
                (!v.is_nan()).then_some(v),
                batch.qualities[i] == 0, // 0 good, 1 uncertain, 2 bad
            );
        }
    }
    fn run_job(name: String, _due_ms: i64) -> Result<(), String> {
        // it sets no jobs (its summary runs on `tick`)
        Err(format!("no job {name}"))
    }

    fn on_event(event: Event) {
        if event.kind.starts_with("alarm.") {
            STATE.with(|s| s.borrow_mut().alarm_events += 1);
        }
    }

    fn render(page: String, _params: Vec<(String, String)>, lang: String) -> Result<View, String> {
        if page != "overview" {
            return Err(format!("no page {page}"));
        }
        let zh = zh(&lang);
        let t = |a: &str, b: &str| if zh { a.to_string() } else { b.to_string() };
        let (area, default_high, setpoint_tag, watched, latest, alarm_events) = STATE.with(|s| {
            let s = s.borrow();
            (
                s.area.clone(),
                s.high_pct,
                s.setpoint_tag.clone(),
                s.watched.clone(),
                s.latest.clone(),
                s.alarm_events,
            )
        });
        let limit = threshold(default_high);
        let mut blocks = Vec::new();
        if let Ok(rows) = records::query("org.profile", "{}", 1) {
            if let Some(name) = rows.first().and_then(|r| json_str(r, "company_name")) {
                blocks.push(Block::Text(name));
            }
        }
        let highest = latest.values().filter_map(|(_, v, _)| *v).fold(f64::NAN, f64::max);
        let above = latest.values().filter(|(_, v, _)| v.is_some_and(|v| v > limit)).count();
        blocks.push(Block::Kpis(vec![
            Kpi {
                label: t("监视储罐", "Tanks watched"),
                value: watched.len().to_string(),
                unit: String::new(),
                tone: Tone::Neutral,
                hint: t(&format!("区域 {area}"), &format!("area {area}")),
            },
            Kpi {
                label: t("最高液位", "Highest level"),
                value: if highest.is_finite() { format!("{highest:.1}") } else { "—".into() },
                unit: "%".into(),
                tone: if above > 0 { Tone::Bad } else { Tone::Good },
                hint: t(&format!("阈值 {limit} %"), &format!("threshold {limit} %")),
            },
            Kpi {
                label: t("收到的报警事件", "Alarm events seen"),
                value: alarm_events.to_string(),
                unit: String::new(),
                tone: Tone::Neutral,
                hint: t(&format!("已运行 {} 个周期", counter(TICKS_KEY)), &format!("{} ticks so far", counter(TICKS_KEY))),
            },
        ]));
        if above > 0 {
            blocks.push(Block::Notice(Notice {
                tone: Tone::Warn,
                text: t(&format!("{above} 个储罐高于阈值"), &format!("{above} tanks above the threshold")),
            }));
        }
        let now = clock::now_ms().map_err(|e| format!("{e:?}"))?;
        let rows: Vec<Vec<String>> = watched
            .iter()
            .map(|(h, (name, unit))| {
                let (ts, v, good) = latest.get(h).cloned().unwrap_or((0, None, false));
                vec![
                    name.clone(),
                    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into()),
                    unit.clone(),
                    if good { t("正常", "good") } else { t("不可信", "not good") },
                    if ts > 0 { ((now - ts) / 1000).max(0).to_string() } else { "—".into() },
                ]
            })
            .collect();
        blocks.push(Block::Table(Table {
            columns: vec![
                Column { label: t("位号", "Tag"), numeric: false },
                Column { label: t("液位", "Level"), numeric: true },
                Column { label: t("单位", "Unit"), numeric: false },
                Column { label: t("质量", "Quality"), numeric: false },
                Column { label: t("更新于（秒前）", "Updated (s ago)"), numeric: true },
            ],
            rows,
            page_size: 20,
        }));
        let series: Vec<Series> = watched
            .values()
            .take(4)
            .filter_map(|(name, unit)| {
                let buckets = tags::aggregate(name, now - 3_600_000, now, 60).ok()?;
                Some(Series {
                    name: name.clone(),
                    unit: unit.clone(),
                    points: buckets
                        .into_iter()
                        .filter(|b| b.count > 0)
                        .map(|b| Point { ts_ms: b.ts_ms, value: b.avg })
                        .collect(),
                })
            })
            .collect();
        blocks.push(Block::Chart(Chart {
            title: t("最近一小时液位", "Levels, last hour"),
            data: ChartData::TimeSeries(series),
        }));
        blocks.push(Block::Heading(t("高液位阈值", "High level threshold")));
        blocks.push(Block::Form(Form {
            action: "threshold".into(),
            fields: vec![Field {
                name: "high_pct".into(),
                label: t("阈值（%）", "Threshold (%)"),
                kind: FieldKind::Number,
                required: true,
                value: limit.to_string(),
                choices: vec![],
                min: Some(10.0),
                max: Some(100.0),
                hint: t("高于此值报警，低于它 2 % 恢复", "Alarm above it; back to normal 2 % below"),
            }],
            submit_label: t("保存", "Save"),
        }));
        if !setpoint_tag.is_empty() {
            blocks.push(Block::Form(Form {
                action: "setpoint".into(),
                fields: vec![Field {
                    name: "value".into(),
                    label: setpoint_tag.clone(),
                    kind: FieldKind::Number,
                    required: true,
                    value: String::new(),
                    choices: vec![],
                    min: None,
                    max: None,
                    hint: t("写入过程", "Written to the process"),
                }],
                submit_label: t("写入", "Write"),
            }));
        }
        blocks.push(Block::Buttons(vec![
            Button {
                action: "acknowledge".into(),
                label: t("确认本插件的报警", "Acknowledge this plugin's alarms"),
                confirm: String::new(),
                danger: false,
            },
            Button {
                action: "reset".into(),
                label: t("清零计数", "Reset counters"),
                confirm: t("清零周期计数？", "Reset the tick counter?"),
                danger: true,
            },
        ]));
        Ok(View { title: t("储罐液位", "Tank levels"), blocks })
    }

    fn action(
        _page: String,
        action: String,
        fields: Vec<(String, String)>,
        lang: String,
    ) -> Result<Outcome, String> {
        let zh = zh(&lang);
        let t = |a: &str, b: &str| if zh { a.to_string() } else { b.to_string() };
        let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
        let refuse = |f: &str, m: String| Outcome {
            message: String::new(),
            errors: vec![FieldError { field: f.into(), message: m }],
            next_page: String::new(),
        };
        let done = |m: String| Outcome { message: m, errors: vec![], next_page: String::new() };
        match action.as_str() {
            "threshold" => {
                let Ok(v) = field("high_pct").parse::<f64>() else {
                    return Ok(refuse("high_pct", t("请输入数字", "Enter a number")));
                };
                if !(10.0..=100.0).contains(&v) {
                    return Ok(refuse("high_pct", t("应在 10 到 100 之间", "Between 10 and 100")));
                }
                storage::set(THRESHOLD_KEY, v.to_string().as_bytes()).map_err(|e| format!("{e:?}"))?;
                log::write(log::Level::Info, &format!("threshold set to {v} %"));
                Ok(done(t(&format!("阈值已设为 {v} %"), &format!("Threshold set to {v} %"))))
            }
            "setpoint" => {
                let tag = STATE.with(|s| s.borrow().setpoint_tag.clone());
                let Ok(v) = field("value").parse::<f64>() else {
                    return Ok(refuse("value", t("请输入数字", "Enter a number")));
                };
                match tag_write::write(&tag, &Value::Float(v)) {
                    Ok(()) => Ok(done(t("已写入", "Written"))),
                    Err(e) => Ok(refuse("value", format!("{e:?}"))),
                }
            }
            "acknowledge" => {
                let answer = actions::invoke(
                    "alarms.acknowledge-own",
                    r#"{"comment":"acknowledged from the tank watch page"}"#,
                )
                .map_err(|e| format!("{e:?}"))?;
                Ok(done(t(&format!("已确认：{answer}"), &format!("Acknowledged: {answer}"))))
            }
            "reset" => {
                storage::delete(TICKS_KEY).map_err(|e| format!("{e:?}"))?;
                Ok(done(t("计数已清零", "Counters reset")))
            }
            other => Err(format!("no action {other}")),
        }
    }
}

/// The string value of a top-level field of a flat JSON object (enough for this example;
/// a real plugin would use serde_json).
fn json_str(json: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":\"");
    let start = json.find(&pat)? + pat.len();
    let end = json[start..].find('"')?;
    Some(json[start..start + end].to_string())
}

export!(Plugin);
