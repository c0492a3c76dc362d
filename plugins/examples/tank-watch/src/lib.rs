//! Tank level watch: an example nplusx plugin that uses every capability of the contract,
//! written with the kit (`plugins/sdk`).
//!
//! It follows the level tags (unit `%`) of one plant area, raises an alarm when a tank
//! passes the high level the operator set on its page, keeps that threshold and a few
//! counters in its storage, shows KPI cards, a table, a trend and a form, emits a summary
//! event on every tick (and publishes it upstream over MQTT), and listens to alarm events.
//! Copy it to start your own.

use std::cell::RefCell;
use std::collections::BTreeMap;

use nplusx_sdk::tags::{self, TagInfo};
use nplusx_sdk::{
    Button, ChartData, Event, Field, Form, Info, Kpi, Lang, Outcome, Page, Plugin, Quality,
    Reading, Series, Table, Tone, Value, Values, View, actions, clock, events, log, mqtt, records,
    storage, tag_write,
};

/// What the plugin remembers between calls (one instance per plugin, calls one at a time).
#[derive(Default)]
struct State {
    area: String,
    high_pct: f64,
    setpoint_tag: String,
    /// tag name → unit
    watched: BTreeMap<String, String>,
    /// tag name → latest (ts, value, good)
    latest: BTreeMap<String, (i64, Option<f64>, bool)>,
    alarm_events: u64,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

const THRESHOLD_KEY: &str = "threshold";
const TICKS_KEY: &str = "ticks";

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
fn see(r: &Reading<'_>) {
    let limit = threshold(STATE.with(|s| s.borrow().high_pct));
    let watched = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.latest
            .insert(r.tag.to_string(), (r.ts_ms, r.value, r.good()));
        s.watched.contains_key(r.tag)
    });
    let (true, Some(v)) = (watched, r.value) else {
        return;
    };
    let name = r.tag;
    let key = format!("high:{name}");
    if r.good() && v > limit {
        let _ = events::raise_alarm(
            &key,
            events::Priority::High,
            &format!("{name} 液位 {v:.1} % 超过 {limit} %"),
            &format!("{name} level {v:.1} % is above {limit} %"),
        );
    } else if r.good() && v < limit - 2.0 {
        let _ = events::clear_alarm(&key);
    }
}

/// The summary event's data.
#[derive(serde::Serialize)]
struct Summary {
    tanks: usize,
    highest_pct: Option<f64>,
    at: i64,
    clock: i64,
}

/// The part of the plant's profile this page shows.
#[derive(serde::Deserialize)]
struct Profile {
    #[serde(default)]
    company_name: String,
}

struct TankWatch;

impl Plugin for TankWatch {
    fn info() -> Info {
        nplusx_sdk::info(
            "tank-watch",
            "储罐液位监视",
            "Tank level watch",
            env!("CARGO_PKG_VERSION"),
        )
        .page("overview", "储罐液位", "Tank levels", true)
    }

    fn start(settings: &Values) -> Result<(), String> {
        let area = settings.text("area").to_string();
        let high_pct = settings.number_or("high_pct", 85.0)?;
        let list = tags::find(&area).map_err(|e| format!("cannot list tags: {e}"))?;
        let levels: Vec<TagInfo> = list.into_iter().filter(|t| t.unit == "%").collect();
        let names: Vec<String> = levels.iter().map(|t| t.name.clone()).collect();
        tags::subscribe(&names).map_err(|e| format!("cannot subscribe: {e}"))?;
        // the values now; the subscription brings the changes
        let now = tags::read(&names).unwrap_or_default();
        let _ = events::listen(&["alarm.".to_string()]);
        log::info(&format!(
            "watching {} level tags in area {area:?}",
            names.len()
        ));
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.area = area;
            s.high_pct = high_pct;
            s.setpoint_tag = settings.text("setpoint_tag").to_string();
            for c in &now {
                let good = matches!(c.quality, Quality::Good);
                s.latest.insert(
                    c.name.clone(),
                    (c.ts_ms, nplusx_sdk::number(&c.value), good),
                );
            }
            s.watched = levels.into_iter().map(|t| (t.name, t.unit)).collect();
        });
        Ok(())
    }

    fn stop() {
        log::info("stopped");
    }

    fn tick(now_ms: i64) {
        let ticks = counter(TICKS_KEY) + 1;
        let _ = storage::set(TICKS_KEY, ticks.to_string().as_bytes());
        let (tanks, highest) = STATE.with(|s| {
            let s = s.borrow();
            let highest = s
                .latest
                .values()
                .filter_map(|(_, v, _)| *v)
                .fold(f64::NAN, f64::max);
            (s.watched.len(), highest)
        });
        let summary = Summary {
            tanks,
            highest_pct: highest.is_finite().then_some(highest),
            at: now_ms,
            clock: clock::now_ms().unwrap_or(now_ms),
        };
        if let Err(e) = events::emit("summary", &summary) {
            log::warn(&format!("summary not emitted: {e}"));
        }
        // upstream too, when the plant publishes northbound (quietly skipped otherwise)
        let data = serde_json::to_vec(&summary).unwrap_or_default();
        if let Err(e) = mqtt::publish("summary", &data, false) {
            log::debug(&format!("summary not published: {e}"));
        }
    }

    fn samples(batch: &[Reading<'_>]) {
        batch.iter().for_each(see);
    }

    fn event(event: &Event) {
        if event.kind.starts_with("alarm.") {
            STATE.with(|s| s.borrow_mut().alarm_events += 1);
        }
    }

    fn render(page: &str, _query: &Values, lang: Lang) -> Result<View, String> {
        if page != "overview" {
            return Err(format!("no page {page}"));
        }
        let t = |a: &str, b: &str| lang.pick(a, b).to_string();
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
        let mut page = Page::new(t("储罐液位", "Tank levels"));
        if let Ok(rows) = records::query::<Profile>("org.profile", &serde_json::json!({}), 1)
            && let Some(p) = rows.first().filter(|p| !p.company_name.is_empty())
        {
            page = page.text(&p.company_name);
        }
        let level = |name: &String| latest.get(name).and_then(|(_, v, _)| *v);
        let highest = watched.keys().filter_map(level).fold(f64::NAN, f64::max);
        let above = watched
            .keys()
            .filter(|n| level(n).is_some_and(|v| v > limit))
            .count();
        let ticks = counter(TICKS_KEY);
        page = page.kpis(vec![
            Kpi::new(t("监视储罐", "Tanks watched"), watched.len())
                .hint(t(&format!("区域 {area}"), &format!("area {area}"))),
            Kpi::new(
                t("最高液位", "Highest level"),
                if highest.is_finite() {
                    format!("{highest:.1}")
                } else {
                    "—".into()
                },
            )
            .unit("%")
            .tone(if above > 0 { Tone::Bad } else { Tone::Good })
            .hint(t(
                &format!("阈值 {limit} %"),
                &format!("threshold {limit} %"),
            )),
            Kpi::new(t("收到的报警事件", "Alarm events seen"), alarm_events).hint(t(
                &format!("已运行 {ticks} 个周期"),
                &format!("{ticks} ticks so far"),
            )),
        ]);
        if above > 0 {
            page = page.notice(
                Tone::Warn,
                t(
                    &format!("{above} 个储罐高于阈值"),
                    &format!("{above} tanks above the threshold"),
                ),
            );
        }
        let now = clock::now_ms().map_err(|e| e.to_string())?;
        let mut table = Table::new([
            t("位号", "Tag"),
            t("液位", "Level"),
            t("单位", "Unit"),
            t("质量", "Quality"),
            t("更新于（秒前）", "Updated (s ago)"),
        ])
        .page_size(20);
        table.columns[1].numeric = true;
        table.columns[4].numeric = true;
        for (name, unit) in &watched {
            let (ts, v, good) = latest.get(name).cloned().unwrap_or((0, None, false));
            table.push([
                name.clone(),
                v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into()),
                unit.clone(),
                if good {
                    t("正常", "good")
                } else {
                    t("不可信", "not good")
                },
                if ts > 0 {
                    ((now - ts) / 1000).max(0).to_string()
                } else {
                    "—".into()
                },
            ]);
        }
        let series: Vec<Series> = watched
            .iter()
            .take(4)
            .filter_map(|(name, unit)| {
                let buckets = tags::aggregate(name, now - 3_600_000, now, 60).ok()?;
                let points = buckets
                    .into_iter()
                    .filter(|b| b.count > 0)
                    .map(|b| (b.ts_ms, b.avg))
                    .collect();
                Some(Series::new(name.clone(), unit.clone(), points))
            })
            .collect();
        page = page
            .table(table)
            .chart(
                t("最近一小时液位", "Levels, last hour"),
                ChartData::TimeSeries(series),
            )
            .heading(t("高液位阈值", "High level threshold"))
            .form(
                Form::new("threshold", t("保存", "Save")).field(
                    Field::number("high_pct", &t("阈值（%）", "Threshold (%)"))
                        .required()
                        .value(limit)
                        .min(10.0)
                        .max(100.0)
                        .hint(t(
                            "高于此值报警，低于它 2 % 恢复",
                            "Alarm above it; back to normal 2 % below",
                        )),
                ),
            );
        if !setpoint_tag.is_empty() {
            page = page.form(
                Form::new("setpoint", t("写入", "Write")).field(
                    Field::number("value", &setpoint_tag)
                        .required()
                        .hint(t("写入过程", "Written to the process")),
                ),
            );
        }
        Ok(page
            .buttons(vec![
                Button::new(
                    "acknowledge",
                    t("确认本插件的报警", "Acknowledge this plugin's alarms"),
                ),
                Button::new("reset", t("清零计数", "Reset counters"))
                    .confirm(t("清零周期计数？", "Reset the tick counter?"))
                    .danger(),
            ])
            .into())
    }

    fn action(_page: &str, action: &str, fields: &Values, lang: Lang) -> Result<Outcome, String> {
        let t = |a: &str, b: &str| lang.pick(a, b).to_string();
        match action {
            "threshold" => {
                let Ok(v) = fields.number("high_pct") else {
                    return Ok(Outcome::field_error(
                        "high_pct",
                        t("请输入数字", "Enter a number"),
                    ));
                };
                if !(10.0..=100.0).contains(&v) {
                    return Ok(Outcome::field_error(
                        "high_pct",
                        t("应在 10 到 100 之间", "Between 10 and 100"),
                    ));
                }
                storage::set(THRESHOLD_KEY, v.to_string().as_bytes()).map_err(|e| e.to_string())?;
                log::info(&format!("threshold set to {v} %"));
                Ok(Outcome::message(t(
                    &format!("阈值已设为 {v} %"),
                    &format!("Threshold set to {v} %"),
                )))
            }
            "setpoint" => {
                let tag = STATE.with(|s| s.borrow().setpoint_tag.clone());
                let Ok(v) = fields.number("value") else {
                    return Ok(Outcome::field_error(
                        "value",
                        t("请输入数字", "Enter a number"),
                    ));
                };
                match tag_write::write(&tag, &Value::Float(v)) {
                    Ok(()) => Ok(Outcome::message(t("已写入", "Written"))),
                    Err(e) => Ok(Outcome::field_error("value", format!("{e:?}"))),
                }
            }
            "acknowledge" => {
                let answer = actions::invoke(
                    "alarms.acknowledge-own",
                    r#"{"comment":"acknowledged from the tank watch page"}"#,
                )
                .map_err(|e| format!("{e:?}"))?;
                Ok(Outcome::message(t(
                    &format!("已确认：{answer}"),
                    &format!("Acknowledged: {answer}"),
                )))
            }
            "reset" => {
                storage::delete(TICKS_KEY).map_err(|e| e.to_string())?;
                Ok(Outcome::message(t("计数已清零", "Counters reset")))
            }
            other => Err(format!("no action {other}")),
        }
    }
}

nplusx_sdk::plugin!(TankWatch);
