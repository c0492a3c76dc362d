//! A plugin for the end-to-end tests. Its `mode` setting decides what it does when its
//! page is rendered: `ok` (a page with the note kept in storage), `loop` (never returns),
//! `memory` (allocates until stopped), `trap` (panics), `ungranted` (calls imports it may
//! not have), `flood` (prints and logs without end), `stock` (posts the stock movement in
//! its `move` setting once per `label` and counts the `inventory.*` events it hears).
//! `crash` makes `start` panic. Pages at the limits: `bigpage` (10 tables of 5,000 cells
//! of ~70 bytes), `emptycells` (26 tables of 50,000 empty cells: the most data per byte of
//! JSON), `overpage` (5 MiB of text), `hugepage` (2,000,000 cells: more than the box takes
//! in one call), `rows4000` (a 4,000-row table). `alarms` raises 200 urgent alarms,
//! `clock` reads the wall clock through WASI, `floodtrap` floods the log and then panics.
//! With contract 0.2: `totals`, `jobs`, `slowjob`, `badjob` and `records` (the modules'
//! records and a proposed work order).
//! The version comes from `PLUGIN_VERSION` at build time, so the tests can build an
//! upgrade of it.

use std::cell::RefCell;

// contract 0.1 (the plugin that proves 0.1 plugins still run), or 0.2 (`wit/0.2/`, frozen) with
// `--features v02`
#[cfg(not(feature = "v02"))]
wit_bindgen::generate!({ path: "../../../wit/0.1", world: "module" });
#[cfg(feature = "v02")]
wit_bindgen::generate!({ path: "../../../wit/0.2", world: "module" });

use nplusx::plugin::types::{Page, Value};
use nplusx::plugin::views::{Block, Field, FieldError, FieldKind, Form};
use nplusx::plugin::{actions, clock, events, log, mqtt, records, storage, tags};

thread_local! {
    static MODE: RefCell<String> = RefCell::new(String::new());
    static SAMPLES: RefCell<u64> = const { RefCell::new(0) };
    static SUM: RefCell<f64> = const { RefCell::new(0.0) };
    static SETTINGS: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
    static HEARD: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The `report` job: once, a workbook made by the box and sent through the channels named
/// in `label` (comma-separated); what each said is kept as `sent:<channel>`.
#[cfg(feature = "v02")]
fn report(due_ms: i64) -> Result<(), String> {
    use nplusx::plugin::files::{self, Cell, Format, Sheet};
    use nplusx::plugin::notify;
    if storage::get("file").ok().flatten().is_some() {
        return Ok(());
    }
    let sheets = [
        Sheet {
            name: "日报".into(),
            header: vec!["时间".into(), "电 kWh".into(), "备注".into()],
            rows: vec![vec![Cell::Time(due_ms), Cell::Number(1234.5), Cell::Text("=cmd".into())], vec![Cell::Empty, Cell::Number(f64::NAN)]],
        },
        Sheet { name: "明细".into(), header: vec!["a".into()], rows: vec![] },
    ];
    let file = files::table("能源日报", Format::Xlsx, &sheets).map_err(|e| format!("{e:?}"))?;
    storage::set("file", file.as_bytes()).map_err(|e| format!("{e:?}"))?;
    let csv = files::table("daily", Format::Csv, &sheets).map_err(|e| format!("{e:?}"))?;
    storage::set("csv", csv.as_bytes()).map_err(|e| format!("{e:?}"))?;
    for channel in setting("label").split(',').filter(|c| !c.is_empty()) {
        let said = match notify::send(channel, "能源日报 Energy daily", "昨日用电 1234.5 kWh", Some(&file)) {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("{e:?}"),
        };
        storage::set(&format!("sent:{channel}"), said.as_bytes()).map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

fn setting(key: &str) -> String {
    SETTINGS.with(|s| s.borrow().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default())
}

const VERSION: &str = match option_env!("PLUGIN_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

/// Good numeric samples: how many, and their sum (the same loop runs natively in the
/// benchmark, as the baseline).
fn summarize(samples: &[Sample]) -> (u64, f64) {
    let mut n = 0;
    let mut sum = 0.0;
    for s in samples {
        if !matches!(s.quality, nplusx::plugin::types::Quality::Good) {
            continue;
        }
        let v = match s.value {
            Value::Float(f) => f,
            Value::Integer(i) => i as f64,
            _ => continue,
        };
        n += 1;
        sum += v;
    }
    (n, sum)
}

struct Plugin;

impl Guest for Plugin {
    fn describe() -> Info {
        Info {
            id: option_env!("PLUGIN_ID").unwrap_or("hostile").into(),
            name_zh: "测试插件".into(),
            name_en: "Test plugin".into(),
            version: VERSION.into(),
            pages: vec![Page {
                id: "main".into(),
                title_zh: "测试".into(),
                title_en: "Test".into(),
                in_menu: true,
            }],
        }
    }

    fn start(settings: Vec<(String, String)>) -> Result<(), String> {
        let mode = settings
            .iter()
            .find(|(k, _)| k == "mode")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "ok".into());
        if mode == "crash" {
            panic!("crashing at start as asked");
        }
        if mode == "refuse" {
            return Err("refusing to start: mode is refuse".into());
        }
        #[cfg(feature = "v02")]
        {
            use nplusx::plugin::schedule::{self, Job};
            let job = |name: &str, cron: &str, ms: u32| Job { name: name.into(), cron: cron.into(), deadline_ms: ms };
            let jobs = match mode.as_str() {
                "jobs" => vec![job("count", "* * * * * *", 1_000)],
                "slowjob" => vec![job("spin", "* * * * * *", 100), job("count", "* * * * * *", 1_000)],
                "badjob" => vec![job("count", "* * * * * *", 1_000), job("weekly", "0 8 * * funday", 1_000)],
                "report" => vec![job("report", "* * * * * *", 5_000)],
                _ => vec![],
            };
            if !jobs.is_empty() {
                schedule::set(&jobs).map_err(|e| format!("{e:?}"))?;
            }
        }
        if mode == "stock" {
            events::listen(&["inventory.".to_string()]).map_err(|e| format!("{e:?}"))?;
        }
        SETTINGS.with(|s| *s.borrow_mut() = settings.clone());
        if mode == "subscribe" || mode == "all" {
            let names: Vec<String> = tags::find("").map_err(|e| format!("{e:?}"))?.into_iter().map(|t| t.name).collect();
            tags::subscribe(&names).map_err(|e| format!("{e:?}"))?;
        }
        MODE.with(|m| *m.borrow_mut() = mode);
        Ok(())
    }

    fn stop() {}

    fn tick(_now_ms: i64) {}

    fn on_tags(samples: Vec<Sample>) {
        // the benchmark's logic: count and sum the good numeric samples
        let (n, sum) = summarize(&samples);
        SAMPLES.with(|s| *s.borrow_mut() += n);
        SUM.with(|s| *s.borrow_mut() += sum);
    }

    #[cfg(feature = "v02")]
    fn run_job(name: String, due_ms: i64) -> Result<(), String> {
        if name == "report" {
            return report(due_ms);
        }
        if name == "spin" {
            let mut x: u64 = 1;
            while x != 0 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1) | 1;
            }
        }
        let runs = storage::get("runs").ok().flatten().map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
        storage::set("runs", &(runs + 1).to_le_bytes()).map_err(|e| format!("{e:?}"))
    }

    #[cfg(feature = "v02")]
    fn on_samples(batch: Samples) {
        // the same logic over columns
        let mut n = 0;
        let mut sum = 0.0;
        for (v, q) in batch.values.iter().zip(&batch.qualities) {
            if *q == 0 && !v.is_nan() {
                n += 1;
                sum += v;
            }
        }
        SAMPLES.with(|s| *s.borrow_mut() += n);
        SUM.with(|s| *s.borrow_mut() += sum);
    }

    fn on_event(event: Event) {
        HEARD.with(|h| h.borrow_mut().push(format!("{} {}", event.kind, event.data)));
    }

    fn render(_page: String, _params: Vec<(String, String)>, _lang: String) -> Result<View, String> {
        let mode = MODE.with(|m| m.borrow().clone());
        let mut blocks = Vec::new();
        match mode.as_str() {
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    if x == 42 {
                        break;
                    }
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    if hoard.len() == usize::MAX {
                        break;
                    }
                }
            }
            "trap" => panic!("trapping as asked"),
            "sleep" => {
                // waiting is not possible in a plugin: this returns at once
                std::thread::sleep(std::time::Duration::from_secs(3600));
                blocks.push(Block::Text("woke up".into()));
            }
            "escape" => {
                // a button aimed at the console's own admin pages
                blocks.push(Block::Buttons(vec![nplusx::plugin::views::Button {
                    action: "../../../admin/plugin-settings/developer-mode".into(),
                    label: "Click me".into(),
                    confirm: String::new(),
                    danger: false,
                }]));
            }
            "ungranted" => {
                let t = tags::find("");
                let s = storage::set("k", b"v");
                let c = clock::now_ms();
                let e = events::emit("x", "{}");
                blocks.push(Block::Text(format!("tags: {t:?}")));
                blocks.push(Block::Text(format!("storage: {s:?}")));
                blocks.push(Block::Text(format!("clock: {c:?}")));
                blocks.push(Block::Text(format!("events: {e:?}")));
            }
            "all" => {
                // every other capability once, with what it answered
                let raised = events::raise_alarm("level", events::Priority::High, "测试报警", "test alarm");
                let emitted = events::emit("checked", r#"{"ok":true}"#);
                let listened = events::listen(&["alarm.".to_string()]);
                let profile = records::query("org.profile", "{}", 1).map(|r| r.len());
                let acked = actions::invoke("alarms.acknowledge-own", r#"{"comment":"seen by the test plugin"}"#);
                let published = mqtt::publish("status", b"{}", false);
                let keys = storage::keys("", 10).map(|k| k.len());
                let bad_key = storage::set("", b"x");
                blocks.push(Block::Text(format!("raised: {raised:?}")));
                blocks.push(Block::Text(format!("emitted: {emitted:?}, listened: {listened:?}")));
                blocks.push(Block::Text(format!("profile: {profile:?}")));
                blocks.push(Block::Text(format!("acked: {acked:?}")));
                blocks.push(Block::Text(format!("published: {published:?}")));
                blocks.push(Block::Text(format!("keys: {keys:?}, bad key: {bad_key:?}")));
            }
            "stock" => {
                // once per label: a page render must not post twice
                let key = format!("moved-{}", setting("label"));
                let done = storage::get(&key).ok().flatten();
                let said = match done {
                    Some(b) => String::from_utf8_lossy(&b).into_owned(),
                    None => {
                        let r = actions::invoke("inventory.move", &setting("move"));
                        let said = format!("{r:?}");
                        storage::set(&key, said.as_bytes()).map_err(|e| format!("{e:?}"))?;
                        said
                    }
                };
                blocks.push(Block::Text(format!("moved: {said}")));
                // the same movement posted by whoever presses the button
                blocks.push(Block::Buttons(vec![nplusx::plugin::views::Button {
                    action: "move".into(),
                    label: "Move".into(),
                    confirm: String::new(),
                    danger: false,
                }]));
                HEARD.with(|h| {
                    for e in h.borrow().iter() {
                        blocks.push(Block::Text(format!("heard: {e}")));
                    }
                });
            }
            "bigpage" | "emptycells" | "hugepage" | "rows4000" => {
                let (tables, rows, cols, cell) = match mode.as_str() {
                    "bigpage" => (10, 1_000, 5, "x".repeat(68)),
                    "emptycells" => (26, 1_000, 50, String::new()),
                    "hugepage" => (40, 1_000, 50, String::new()),
                    _ => (1, 4_000, 8, "cell text of thirty bytes ...".into()),
                };
                for t in 0..tables {
                    blocks.push(Block::Table(nplusx::plugin::views::Table {
                        columns: (0..cols)
                            .map(|c| nplusx::plugin::views::Column { label: format!("c{c}"), numeric: false })
                            .collect(),
                        rows: (0..rows).map(|r| (0..cols).map(|c| if r == 0 && c == 0 { format!("table {t}") } else { cell.clone() }).collect()).collect(),
                        page_size: 50,
                    }));
                }
            }
            "overpage" => blocks.push(Block::Text("y".repeat(5 << 20))),
            "alarms" => {
                let mut ok = 0;
                let mut refused = String::new();
                for i in 0..200 {
                    match events::raise_alarm(&format!("k{i}"), events::Priority::Urgent, "插件报警", "plugin alarm") {
                        Ok(()) => ok += 1,
                        Err(e) if refused.is_empty() => refused = format!("{e:?}"),
                        Err(_) => {}
                    }
                }
                blocks.push(Block::Text(format!("raised {ok}, first refusal: {refused}")));
            }
            "clock" => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let took = std::time::Instant::now().elapsed();
                blocks.push(Block::Text(format!("wall clock {secs} s, monotonic ok {}", took.as_secs() < 5)));
            }
            "floodtrap" => {
                for i in 0..5_000 {
                    log::write(log::Level::Info, &format!("noise {i}"));
                }
                panic!("the reactor model diverged at step 7");
            }
            #[cfg(feature = "v02")]
            "totals" => {
                // the `label` setting names the tag; the last two hours by hour, and shifts
                use nplusx::plugin::tags::Step;
                let now = clock::now_ms().unwrap_or(0);
                let tag = setting("label");
                for (what, step) in [("hour", Step::Hour), ("shift", Step::Shift(vec![480, 1200])), ("badshift", Step::Shift(vec![1440]))] {
                    let said = match tags::totals(&tag, now - 2 * 3_600_000, now, &step) {
                        Ok(t) => {
                            let n: u32 = t.iter().map(|x| x.count).sum();
                            let sane = t.iter().filter(|x| x.count > 0).all(|x| x.min <= x.mean && x.mean <= x.max && x.first >= x.min && x.last <= x.max);
                            format!("{} periods, {n} samples, sane {sane}", t.len())
                        }
                        Err(e) => format!("{e:?}"),
                    };
                    blocks.push(Block::Text(format!("{what}: {said}")));
                }
            }
            #[cfg(feature = "v02")]
            "records" => {
                // the modules' records, each behind its module's grant, and a work order
                // proposed (twice: the second answers the first) for the equipment in `label`
                let now = clock::now_ms().unwrap_or(0);
                let said = |r: Result<Vec<String>, nplusx::plugin::types::Error>| match r {
                    Ok(rows) => format!("{} rows {}", rows.len(), rows.first().map_or("", |x| x.as_str())),
                    Err(e) => format!("{e:?}"),
                };
                blocks.push(Block::Text(format!("collections: {}", records::collections().map(|c| c.join(",")).unwrap_or_default())));
                for c in ["inventory.movements", "production.batches", "equipment.work_orders", "quality.samples", "safety.permits", "alarms.journal"] {
                    blocks.push(Block::Text(format!("{c}: {}", said(records::between(c, now - 30 * 86_400_000, now + 1, "{}", 5)))));
                }
                blocks.push(Block::Text(format!("assets: {}", said(records::query("equipment.assets", &format!("{{\"tag_no\":\"{}\"}}", setting("label")), 5)))));
                blocks.push(Block::Text(format!("locations: {}", said(records::query("inventory.locations", "{}", 5)))));
                blocks.push(Block::Text(format!("untimed window: {}", said(records::between("equipment.assets", now - 60_000, now, "{}", 5)))));
                blocks.push(Block::Text(format!("long window: {}", said(records::between("alarms.journal", 0, now, "{}", 5)))));
                blocks.push(Block::Text(format!("actions: {}", actions::available().map(|c| c.join(",")).unwrap_or_default())));
                let propose = |args: String| match actions::invoke("equipment.propose-work-order", &args) {
                    Ok(x) => x,
                    Err(e) => format!("{e:?}"),
                };
                let good = format!("{{\"equipment\":\"{}\",\"key\":\"energy:baseline\",\"title\":\"Power above its baseline\",\"priority\":\"high\"}}", setting("label"));
                blocks.push(Block::Text(format!("proposed: {}", propose(good.clone()))));
                blocks.push(Block::Text(format!("again: {}", propose(good))));
                blocks.push(Block::Text(format!("unknown: {}", propose("{\"equipment\":\"NO-SUCH\",\"key\":\"k\",\"title\":\"x\"}".into()))));
                blocks.push(Block::Text(format!("untitled: {}", propose(format!("{{\"equipment\":\"{}\",\"key\":\"k2\",\"title\":\" \"}}", setting("label"))))));
            }
            #[cfg(feature = "v02")]
            "board" | "badboard" => {
                // a board of a gauge, a KPI and a chart, arranged by the `arrange` action (the
                // places kept in storage); `badboard` puts a widget off its grid
                use nplusx::plugin::views::{Board, Gauge, Kpi, Tone, Widget, WidgetContent, ChartData, Slice};
                let place = |id: &str, d: (u8, u8, u8, u8)| {
                    storage::get(&format!("at:{id}")).ok().flatten().and_then(|b| {
                        let n: Vec<u8> = String::from_utf8_lossy(&b).split(',').filter_map(|x| x.parse().ok()).collect();
                        (n.len() == 4).then(|| (n[0], n[1], n[2], n[3]))
                    }).unwrap_or(d)
                };
                let w = |id: &str, d: (u8, u8, u8, u8), content: WidgetContent| {
                    let (x, y, w, h) = place(id, d);
                    Widget { id: id.into(), title: format!("widget {id}"), x, y, w, h, content }
                };
                let power = w("power", (0, 0, 4, 3), WidgetContent::Gauge(Gauge { label: "kW".into(), value: 420.0, min: 0.0, max: 1000.0, unit: "kW".into(), tone: Tone::Good }));
                let permits = w("permits", (4, 0, 4, 3), WidgetContent::Kpi(Kpi { label: "permits today".into(), value: "7".into(), unit: String::new(), tone: Tone::Neutral, hint: String::new() }));
                let mut split = w("split", (8, 0, 4, 3), WidgetContent::Chart(ChartData::Pie(vec![Slice { label: "steam".into(), value: 3.0 }, Slice { label: "power".into(), value: 5.0 }])));
                if mode == "badboard" {
                    split.x = 10;
                }
                blocks.push(Block::Board(Board { columns: 12, refresh_seconds: 5, widgets: vec![power, permits, split], arrange_action: "arrange".into() }));
            }
            #[cfg(feature = "v02")]
            "report" => {
                use nplusx::plugin::files::{self, Format, Sheet};
                use nplusx::plugin::notify;
                let got = |k: &str| storage::get(k).ok().flatten().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
                blocks.push(Block::Text(format!("file: {}", got("file"))));
                blocks.push(Block::Text(format!("csv: {}", got("csv"))));
                for channel in setting("label").split(',').filter(|c| !c.is_empty()) {
                    blocks.push(Block::Text(format!("sent {channel}: {}", got(&format!("sent:{channel}")))));
                }
                blocks.push(Block::Text(format!("channels: {:?}", notify::channels())));
                blocks.push(Block::Text(format!("no channel: {:?}", notify::send("no-such-channel", "t", "x", None))));
                blocks.push(Block::Text(format!("no title: {:?}", notify::send("x", " ", "x", None))));
                blocks.push(Block::Text(format!("no file: {:?}", notify::send(setting("label").split(',').next().unwrap_or(""), "t", "x", Some("/x/other/files/1")))));
                let sheet = |name: &str| Sheet { name: name.into(), header: vec!["a".into()], rows: vec![] };
                blocks.push(Block::Text(format!("bad name: {:?}", files::table("a/b", Format::Csv, &[sheet("s")]))));
                blocks.push(Block::Text(format!("bad sheet: {:?}", files::table("a", Format::Xlsx, &[sheet("s[1]")]))));
            }
            "flood" => {
                for i in 0..50_000 {
                    println!("flood line {i}");
                    log::write(log::Level::Info, &format!("log line {i}"));
                }
                blocks.push(Block::Text("flooded".into()));
            }
            _ => {}
        }
        let note = storage::get("note")
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let runs = storage::get("runs").ok().flatten().map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
        blocks.push(Block::Text(format!("version {VERSION}, mode {mode}, note [{note}], samples {}, job runs {runs}", SAMPLES.with(|s| *s.borrow()))));
        blocks.push(Block::Text("<script>alert(1)</script>".into()));
        blocks.push(Block::Form(Form {
            action: "save".into(),
            fields: vec![Field {
                name: "note".into(),
                label: "Note".into(),
                kind: FieldKind::Text,
                required: true,
                value: note,
                choices: vec![],
                min: None,
                max: None,
                hint: String::new(),
            }],
            submit_label: "Save".into(),
        }));
        Ok(View { title: "Test".into(), blocks })
    }

    fn action(_page: String, action: String, fields: Vec<(String, String)>, _lang: String) -> Result<Outcome, String> {
        if action == "arrange" {
            for (id, at) in &fields {
                storage::set(&format!("at:{id}"), at.as_bytes()).map_err(|e| format!("{e:?}"))?;
            }
            return Ok(Outcome { message: format!("arranged {}", fields.len()), errors: vec![], next_page: String::new() });
        }
        if action == "move" {
            // the person who pressed the button moves the stock, with their permission
            let r = actions::invoke("inventory.move", &setting("move"));
            return Ok(Outcome { message: format!("pressed: {r:?}"), errors: vec![], next_page: String::new() });
        }
        let note = fields.iter().find(|(k, _)| k == "note").map(|(_, v)| v.clone()).unwrap_or_default();
        if action != "save" {
            return Err(format!("no action {action}"));
        }
        if note.trim().is_empty() || note.len() > 100 {
            return Ok(Outcome {
                message: String::new(),
                errors: vec![FieldError { field: "note".into(), message: "1–100 characters".into() }],
                next_page: String::new(),
            });
        }
        storage::set("note", note.as_bytes()).map_err(|e| format!("{e:?}"))?;
        Ok(Outcome { message: format!("saved {note}"), errors: vec![], next_page: String::new() })
    }
}

export!(Plugin);
