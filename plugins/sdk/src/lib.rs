//! # nplusx-sdk: the kit for writing nplusx plugins
//!
//! A plugin is a WebAssembly component implementing the contract in `wit/`
//! (`nplusx:plugin@0.2.0`). This crate holds the contract's bindings and hides their
//! plumbing: implement [`Plugin`] (every function but `info` and `render` has a default),
//! export it with [`plugin!`], and use the helpers —
//!
//! - [`Values`]: settings, query parameters and form fields by name, typed on the way out
//!   (`settings.number("high_pct")?`);
//! - [`tags::subscribe`]: subscribe by name; [`Plugin::samples`] then gets [`Reading`]s that
//!   carry the tag's name, numbers and text alike;
//! - view builders with defaults: [`Page`], [`Kpi::new`], [`Table::new`], [`Form::new`],
//!   [`Field::number`], [`Board::new`], [`Widget::new`], [`Outcome::message`]…;
//! - serde for data: [`events::emit`] and [`events::data`], [`records::query`],
//!   [`storage::get_json`];
//! - [`log::info`] and friends, [`Lang`] for the reader's language.
//!
//! The raw bindings stay reachable ([`nplusx::plugin`]) for anything the kit does not cover.
//!
//! ```ignore
//! use nplusx_sdk::{Info, Lang, Page, Plugin, Values, View, Kpi, Tone, tags};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn info() -> Info {
//!         nplusx_sdk::info("hello", "你好", "Hello", env!("CARGO_PKG_VERSION"))
//!             .page("main", "你好", "Hello", true)
//!     }
//!     fn start(settings: &Values) -> Result<(), String> {
//!         tags::subscribe(&settings.list("tags")).map_err(|e| e.to_string())
//!     }
//!     fn render(_page: &str, _q: &Values, lang: Lang) -> Result<View, String> {
//!         Ok(Page::new(lang.pick("你好", "Hello"))
//!             .kpis(vec![Kpi::new(lang.pick("答案", "Answer"), 42).tone(Tone::Good)])
//!             .into())
//!     }
//! }
//!
//! nplusx_sdk::plugin!(Hello);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// The contract's bindings as `wit-bindgen` makes them.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "module",
        pub_export_macro: true,
        export_macro_name: "__export_module",
        default_bindings_module: "nplusx_sdk::bindings",
    });
}

pub use bindings::{Event, Guest, Info, Outcome, Sample, Samples, View, nplusx};
/// The JSON crate the kit's filters and event data use (`nplusx_sdk::serde_json::json!`).
pub use serde_json;

/// A host call's error as the text a [`Plugin`] function returns, so `?` works in them.
impl From<Error> for String {
    fn from(e: Error) -> String {
        match e {
            Error::Denied(s) => format!("denied: {s}"),
            Error::Invalid(s) => format!("invalid: {s}"),
            Error::NotFound(s) => format!("not found: {s}"),
            Error::Quota(s) => format!("quota: {s}"),
            Error::Failed(s) => format!("failed: {s}"),
        }
    }
}
pub use nplusx::plugin::types::{Error, Page as PageInfo, Quality, Value};
pub use nplusx::plugin::views::{
    Area, Block, Board, Button, Chart, ChartData, Choice, Column, Field, FieldError, FieldKind,
    Form, Gauge, Kpi, Label, Labels, Link, Map, MapBackground, Marker, Notice, Point, Series,
    Slice, Table, Tone, Widget, WidgetContent, Xy,
};

/// What a plugin does. Every function is called by the box one at a time, each within the
/// plugin's time limit; keep state in `thread_local!`s (one instance, one thread).
pub trait Plugin {
    /// Who the plugin is and which pages it has ([`info`] builds it).
    fn info() -> Info;
    /// Starts with the admin's settings; subscribe to tags, listen to events and set jobs
    /// here. An error keeps the plugin stopped and is shown to the admin.
    fn start(settings: &Values) -> Result<(), String> {
        let _ = settings;
        Ok(())
    }
    /// The plugin is being switched off, upgraded, or the box shuts down.
    fn stop() {}
    /// Every `tick_seconds` of the manifest.
    fn tick(now_ms: i64) {
        let _ = now_ms;
    }
    /// Samples of the subscribed tags ([`tags::subscribe`]), at most one batch a second.
    fn samples(batch: &[Reading<'_>]) {
        let _ = batch;
    }
    /// A scheduled job is due ([`schedule::set`]).
    fn job(name: &str, due_ms: i64) -> Result<(), String> {
        let _ = due_ms;
        Err(format!("no job {name}"))
    }
    /// An event of a kind the plugin listens to ([`events::listen`]).
    fn event(e: &Event) {
        let _ = e;
    }
    /// A page: its id, the query parameters, the reader's language.
    fn render(page: &str, query: &Values, lang: Lang) -> Result<View, String>;
    /// A form or button of a page. Since contract 0.2 the box has checked the fields
    /// against the form's kinds and limits; rules of your own are yours to check.
    fn action(page: &str, action: &str, fields: &Values, lang: Lang) -> Result<Outcome, String> {
        let _ = (page, fields, lang);
        Err(format!("no action {action}"))
    }
}

/// Exports a [`Plugin`] as the component's implementation of the contract.
#[macro_export]
macro_rules! plugin {
    ($t:ty) => {
        type __NplusxPlugin = $crate::Adapter<$t>;
        $crate::bindings::__export_module!(__NplusxPlugin);
    };
}

/// The bridge from the contract's exports to a [`Plugin`] (used by [`plugin!`]).
#[doc(hidden)]
pub struct Adapter<P>(std::marker::PhantomData<P>);

thread_local! {
    /// Subscribed tags: handle → name.
    static HANDLES: RefCell<HashMap<u32, Rc<str>>> = RefCell::new(HashMap::new());
}

fn name_of(handle: u32) -> Rc<str> {
    HANDLES.with(|h| {
        h.borrow()
            .get(&handle)
            .cloned()
            .unwrap_or_else(|| Rc::from(""))
    })
}

impl<P: Plugin> Guest for Adapter<P> {
    fn describe() -> Info {
        P::info()
    }
    fn start(settings: Vec<(String, String)>) -> Result<(), String> {
        P::start(&Values::from(settings))
    }
    fn stop() {
        P::stop()
    }
    fn tick(now_ms: i64) {
        P::tick(now_ms)
    }
    fn on_tags(samples: Vec<Sample>) {
        let names: Vec<Rc<str>> = samples.iter().map(|s| name_of(s.handle)).collect();
        let readings: Vec<Reading<'_>> = samples
            .iter()
            .zip(&names)
            .map(|(s, name)| Reading {
                tag: name,
                ts_ms: s.ts_ms,
                value: number(&s.value),
                text: match &s.value {
                    Value::Text(t) => Some(t.as_str()),
                    _ => None,
                },
                quality: s.quality,
            })
            .collect();
        P::samples(&readings)
    }
    fn on_samples(batch: Samples) {
        let names: Vec<Rc<str>> = batch.handles.iter().map(|h| name_of(*h)).collect();
        let readings: Vec<Reading<'_>> = (0..names.len())
            .map(|i| Reading {
                tag: &names[i],
                ts_ms: batch.ts_ms[i],
                value: Some(batch.values[i]).filter(|v| !v.is_nan()),
                text: None,
                quality: match batch.qualities[i] {
                    0 => Quality::Good,
                    1 => Quality::Uncertain,
                    _ => Quality::Bad,
                },
            })
            .collect();
        P::samples(&readings)
    }
    fn run_job(name: String, due_ms: i64) -> Result<(), String> {
        P::job(&name, due_ms)
    }
    fn on_event(event: Event) {
        P::event(&event)
    }
    fn render(page: String, params: Vec<(String, String)>, lang: String) -> Result<View, String> {
        P::render(&page, &Values::from(params), Lang::of(&lang))
    }
    fn action(
        page: String,
        action: String,
        fields: Vec<(String, String)>,
        lang: String,
    ) -> Result<Outcome, String> {
        P::action(&page, &action, &Values::from(fields), Lang::of(&lang))
    }
}

/// A value as a number: integers and booleans too; text and none are `None`.
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(x) => Some(*x),
        Value::Integer(i) => Some(*i as f64),
        Value::Boolean(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Text(_) | Value::None => None,
    }
}

/// One sample of a subscribed tag, by name.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    pub tag: &'a str,
    /// Unix ms.
    pub ts_ms: i64,
    /// The value as a number (booleans 0/1); `None` for text or no value.
    pub value: Option<f64>,
    /// A text tag's value.
    pub text: Option<&'a str>,
    pub quality: Quality,
}

impl Reading<'_> {
    pub fn good(&self) -> bool {
        matches!(self.quality, Quality::Good)
    }
}

/// The reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn of(code: &str) -> Lang {
        if code.starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }
    /// The text in this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// Named values as the box hands them over: settings, query parameters, form fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values(BTreeMap<String, String>);

impl From<Vec<(String, String)>> for Values {
    fn from(v: Vec<(String, String)>) -> Values {
        Values(v.into_iter().collect())
    }
}

impl Values {
    /// The text (trimmed); empty when absent.
    pub fn text(&self, name: &str) -> &str {
        self.0.get(name).map(|s| s.trim()).unwrap_or("")
    }
    pub fn has(&self, name: &str) -> bool {
        !self.text(name).is_empty()
    }
    /// A number; the error names the value.
    pub fn number(&self, name: &str) -> Result<f64, String> {
        self.parse::<f64>(name).and_then(|x| {
            if x.is_finite() {
                Ok(x)
            } else {
                Err(format!("{name}: not a number"))
            }
        })
    }
    /// A number, or `default` when absent.
    pub fn number_or(&self, name: &str, default: f64) -> Result<f64, String> {
        if self.has(name) {
            self.number(name)
        } else {
            Ok(default)
        }
    }
    pub fn integer(&self, name: &str) -> Result<i64, String> {
        self.parse::<i64>(name)
    }
    /// `true` for `true`, `on`, `yes` and `1`.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.text(name), "true" | "on" | "yes" | "1")
    }
    /// A list: the value split at commas, semicolons and line ends, trimmed, empties left out.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.text(name)
            .split([',', ';', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
    /// Any `FromStr` type; the error names the value.
    pub fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        let v = self.text(name);
        if v.is_empty() {
            return Err(format!("{name}: missing"));
        }
        v.parse().map_err(|e| format!("{name}: {e}"))
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The plugin's [`Info`]: id, names, version; add pages with [`Info::page`].
pub fn info(id: &str, name_zh: &str, name_en: &str, version: &str) -> Info {
    Info {
        id: id.into(),
        name_zh: name_zh.into(),
        name_en: name_en.into(),
        version: version.into(),
        pages: Vec::new(),
    }
}

impl Info {
    /// A page at `/x/<id>/<page id>`; `in_menu`: listed in the navigation.
    pub fn page(mut self, id: &str, title_zh: &str, title_en: &str, in_menu: bool) -> Info {
        self.pages.push(PageInfo {
            id: id.into(),
            title_zh: title_zh.into(),
            title_en: title_en.into(),
            in_menu,
        });
        self
    }
}

// ------------------------------------------------------------------ views

/// A page being built; `.into()` makes the [`View`].
#[derive(Debug, Clone)]
pub struct Page {
    view: View,
}

impl Page {
    pub fn new(title: impl Into<String>) -> Page {
        Page {
            view: View {
                title: title.into(),
                blocks: Vec::new(),
            },
        }
    }
    pub fn block(mut self, b: Block) -> Page {
        self.view.blocks.push(b);
        self
    }
    pub fn heading(self, s: impl Into<String>) -> Page {
        self.block(Block::Heading(s.into()))
    }
    pub fn text(self, s: impl Into<String>) -> Page {
        self.block(Block::Text(s.into()))
    }
    pub fn notice(self, tone: Tone, s: impl Into<String>) -> Page {
        self.block(Block::Notice(Notice {
            tone,
            text: s.into(),
        }))
    }
    pub fn kpis(self, k: Vec<Kpi>) -> Page {
        self.block(Block::Kpis(k))
    }
    pub fn table(self, t: Table) -> Page {
        self.block(Block::Table(t))
    }
    pub fn chart(self, title: impl Into<String>, data: ChartData) -> Page {
        self.block(Block::Chart(Chart {
            title: title.into(),
            data,
        }))
    }
    pub fn form(self, f: Form) -> Page {
        self.block(Block::Form(f))
    }
    pub fn buttons(self, b: Vec<Button>) -> Page {
        self.block(Block::Buttons(b))
    }
    pub fn board(self, b: Board) -> Page {
        self.block(Block::Board(b))
    }
    /// A map drawn by the box (since 0.3).
    pub fn map(self, m: Map) -> Page {
        self.block(Block::Map(m))
    }
    /// A sheet of QR labels to print (since 0.3).
    pub fn labels(self, l: Labels) -> Page {
        self.block(Block::Labels(l))
    }
    /// Links to your own pages and files (`/x/<id>/…`), as (label, href).
    pub fn links<L: Into<String>, H: Into<String>>(
        self,
        links: impl IntoIterator<Item = (L, H)>,
    ) -> Page {
        self.block(Block::Links(
            links
                .into_iter()
                .map(|(l, h)| Link {
                    label: l.into(),
                    href: h.into(),
                })
                .collect(),
        ))
    }
}

impl From<Page> for View {
    fn from(p: Page) -> View {
        p.view
    }
}

impl Kpi {
    pub fn new(label: impl Into<String>, value: impl ToString) -> Kpi {
        Kpi {
            label: label.into(),
            value: value.to_string(),
            unit: String::new(),
            tone: Tone::Neutral,
            hint: String::new(),
        }
    }
    pub fn unit(mut self, u: impl Into<String>) -> Kpi {
        self.unit = u.into();
        self
    }
    pub fn tone(mut self, t: Tone) -> Kpi {
        self.tone = t;
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Kpi {
        self.hint = h.into();
        self
    }
}

impl Table {
    /// A table with these columns (text; [`Table::numeric`] marks numbers), all rows shown.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Table {
        Table {
            columns: columns
                .into_iter()
                .map(|c| Column {
                    label: c.into(),
                    numeric: false,
                })
                .collect(),
            rows: Vec::new(),
            page_size: 0,
        }
    }
    /// Columns from `from` on hold numbers (right-aligned, sorted as numbers).
    pub fn numeric(mut self, from: usize) -> Table {
        for c in self.columns.iter_mut().skip(from) {
            c.numeric = true;
        }
        self
    }
    pub fn row<S: ToString>(mut self, cells: impl IntoIterator<Item = S>) -> Table {
        self.rows
            .push(cells.into_iter().map(|c| c.to_string()).collect());
        self
    }
    pub fn push<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows
            .push(cells.into_iter().map(|c| c.to_string()).collect());
    }
    pub fn page_size(mut self, n: u32) -> Table {
        self.page_size = n;
        self
    }
}

impl Series {
    pub fn new(
        name: impl Into<String>,
        unit: impl Into<String>,
        points: Vec<(i64, f64)>,
    ) -> Series {
        Series {
            name: name.into(),
            unit: unit.into(),
            points: points
                .into_iter()
                .map(|(ts_ms, value)| Point { ts_ms, value })
                .collect(),
        }
    }
}

impl ChartData {
    pub fn bars<S: Into<String>>(bars: impl IntoIterator<Item = (S, f64)>) -> ChartData {
        ChartData::Bars(slices(bars))
    }
    pub fn pie<S: Into<String>>(parts: impl IntoIterator<Item = (S, f64)>) -> ChartData {
        ChartData::Pie(slices(parts))
    }
}

fn slices<S: Into<String>>(v: impl IntoIterator<Item = (S, f64)>) -> Vec<Slice> {
    v.into_iter()
        .map(|(l, value)| Slice {
            label: l.into(),
            value,
        })
        .collect()
}

impl Form {
    pub fn new(action: impl Into<String>, submit_label: impl Into<String>) -> Form {
        Form {
            action: action.into(),
            fields: Vec::new(),
            submit_label: submit_label.into(),
        }
    }
    pub fn field(mut self, f: Field) -> Form {
        self.fields.push(f);
        self
    }
}

impl Field {
    fn of(kind: FieldKind, name: &str, label: &str) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            kind,
            required: false,
            value: String::new(),
            choices: Vec::new(),
            min: None,
            max: None,
            hint: String::new(),
        }
    }
    pub fn text(name: &str, label: &str) -> Field {
        Field::of(FieldKind::Text, name, label)
    }
    pub fn multiline(name: &str, label: &str) -> Field {
        Field::of(FieldKind::Multiline, name, label)
    }
    pub fn number(name: &str, label: &str) -> Field {
        Field::of(FieldKind::Number, name, label)
    }
    pub fn integer(name: &str, label: &str) -> Field {
        Field::of(FieldKind::Integer, name, label)
    }
    pub fn boolean(name: &str, label: &str) -> Field {
        Field::of(FieldKind::Boolean, name, label)
    }
    pub fn date(name: &str, label: &str) -> Field {
        Field::of(FieldKind::Date, name, label)
    }
    pub fn date_time(name: &str, label: &str) -> Field {
        Field::of(FieldKind::DateTime, name, label)
    }
    /// Text read from a QR code or barcode with the reader's camera (since 0.3), or typed.
    pub fn scan(name: &str, label: &str) -> Field {
        Field::of(FieldKind::Scan, name, label)
    }
    /// A tag's name (the box offers and checks the tags).
    pub fn tag(name: &str, label: &str) -> Field {
        Field::of(FieldKind::Tag, name, label)
    }
    /// One of `choices` (value, label).
    pub fn choice(name: &str, label: &str, choices: &[(&str, &str)]) -> Field {
        Field::of(FieldKind::Choice, name, label).choices(choices)
    }
    /// Any of `choices`; the action gets them joined with commas.
    pub fn multi_choice(name: &str, label: &str, choices: &[(&str, &str)]) -> Field {
        Field::of(FieldKind::MultiChoice, name, label).choices(choices)
    }
    pub fn choices(mut self, choices: &[(&str, &str)]) -> Field {
        self.choices = choices
            .iter()
            .map(|(v, l)| Choice {
                value: v.to_string(),
                label: l.to_string(),
            })
            .collect();
        self
    }
    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }
    pub fn value(mut self, v: impl ToString) -> Field {
        self.value = v.to_string();
        self
    }
    pub fn min(mut self, m: f64) -> Field {
        self.min = Some(m);
        self
    }
    pub fn max(mut self, m: f64) -> Field {
        self.max = Some(m);
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Field {
        self.hint = h.into();
        self
    }
}

impl Button {
    pub fn new(action: impl Into<String>, label: impl Into<String>) -> Button {
        Button {
            action: action.into(),
            label: label.into(),
            confirm: String::new(),
            danger: false,
        }
    }
    pub fn confirm(mut self, q: impl Into<String>) -> Button {
        self.confirm = q.into();
        self
    }
    pub fn danger(mut self) -> Button {
        self.danger = true;
        self
    }
}

impl Gauge {
    pub fn new(label: impl Into<String>, value: f64, min: f64, max: f64) -> Gauge {
        Gauge {
            label: label.into(),
            value,
            min,
            max,
            unit: String::new(),
            tone: Tone::Neutral,
        }
    }
    pub fn unit(mut self, u: impl Into<String>) -> Gauge {
        self.unit = u.into();
        self
    }
    pub fn tone(mut self, t: Tone) -> Gauge {
        self.tone = t;
        self
    }
}

impl Map {
    /// A map `width` × `height` units (metres, say) on a grid of `grid` units (0: none).
    pub fn new(width: f32, height: f32, grid: f32) -> Map {
        Map {
            width,
            height,
            background: MapBackground::Grid,
            grid,
            areas: Vec::new(),
            markers: Vec::new(),
        }
    }
    /// Drawn on the plant layout the safety module keeps (the plugin needs
    /// `records.safety`; the layout's size then replaces `width` and `height`).
    pub fn on_layout(mut self) -> Map {
        self.background = MapBackground::PlantLayout;
        self
    }
    pub fn area(mut self, a: Area) -> Map {
        self.areas.push(a);
        self
    }
    pub fn marker(mut self, m: Marker) -> Map {
        self.markers.push(m);
        self
    }
}

impl Area {
    /// A rectangle from (x, y), `w` × `h`.
    pub fn rect(label: impl Into<String>, x: f32, y: f32, w: f32, h: f32) -> Area {
        Area {
            label: label.into(),
            points: vec![
                Xy { x, y },
                Xy { x: x + w, y },
                Xy { x: x + w, y: y + h },
                Xy { x, y: y + h },
            ],
            tone: Tone::Neutral,
            hint: String::new(),
            href: String::new(),
        }
    }
    pub fn tone(mut self, t: Tone) -> Area {
        self.tone = t;
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Area {
        self.hint = h.into();
        self
    }
    /// Opened when clicked: a page of the box (`/x/<id>/…`, `/inventory/…`).
    pub fn link(mut self, href: impl Into<String>) -> Area {
        self.href = href.into();
        self
    }
}

impl Marker {
    pub fn new(label: impl Into<String>, x: f32, y: f32) -> Marker {
        Marker {
            label: label.into(),
            at: Xy { x, y },
            tone: Tone::Neutral,
            hint: String::new(),
            href: String::new(),
        }
    }
    pub fn tone(mut self, t: Tone) -> Marker {
        self.tone = t;
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Marker {
        self.hint = h.into();
        self
    }
    pub fn link(mut self, href: impl Into<String>) -> Marker {
        self.href = href.into();
        self
    }
}

impl Labels {
    /// A sheet of `columns` labels a row (1–6).
    pub fn new(columns: u8) -> Labels {
        Labels {
            columns,
            items: Vec::new(),
        }
    }
    /// A label: the QR code says `code`; the title and lines are printed beside it.
    pub fn label<S: Into<String>>(
        mut self,
        code: impl Into<String>,
        title: impl Into<String>,
        lines: impl IntoIterator<Item = S>,
    ) -> Labels {
        self.items.push(Label {
            code: code.into(),
            title: title.into(),
            lines: lines.into_iter().map(Into::into).collect(),
        });
        self
    }
}

impl Board {
    /// A board of `columns` grid columns (12 suits most walls), not refreshed.
    pub fn new(columns: u8) -> Board {
        Board {
            columns,
            refresh_seconds: 0,
            widgets: Vec::new(),
            arrange_action: String::new(),
        }
    }
    /// Reloads every `seconds` (5–3600).
    pub fn refresh(mut self, seconds: u32) -> Board {
        self.refresh_seconds = seconds;
        self
    }
    /// Lets those who may act drag and resize widgets; saving posts `<id>` = `x,y,w,h` to
    /// this action (see [`Widget::place_from`]).
    pub fn arrange(mut self, action: impl Into<String>) -> Board {
        self.arrange_action = action.into();
        self
    }
    pub fn widget(mut self, w: Widget) -> Board {
        self.widgets.push(w);
        self
    }
}

impl Widget {
    /// A widget at the grid's top-left, 3 × 2 cells; place it with [`Widget::at`].
    pub fn new(id: impl Into<String>, title: impl Into<String>, content: WidgetContent) -> Widget {
        Widget {
            id: id.into(),
            title: title.into(),
            x: 0,
            y: 0,
            w: 3,
            h: 2,
            content,
        }
    }
    pub fn at(mut self, x: u8, y: u8, w: u8, h: u8) -> Widget {
        (self.x, self.y, self.w, self.h) = (x, y, w, h);
        self
    }
    /// A place as an arrangement posts it (`x,y,w,h`).
    pub fn place_from(text: &str) -> Option<(u8, u8, u8, u8)> {
        let n: Vec<u8> = text
            .split(',')
            .map(|x| x.trim().parse().ok())
            .collect::<Option<Vec<u8>>>()?;
        match n[..] {
            [x, y, w, h] if w > 0 && h > 0 => Some((x, y, w, h)),
            _ => None,
        }
    }
}

impl Outcome {
    /// Done, nothing to say.
    pub fn done() -> Outcome {
        Outcome {
            message: String::new(),
            errors: Vec::new(),
            next_page: String::new(),
        }
    }
    /// Done, with a message shown after it.
    pub fn message(m: impl Into<String>) -> Outcome {
        Outcome {
            message: m.into(),
            ..Outcome::done()
        }
    }
    /// Refused: the field and why (add more with [`Outcome::error`]).
    pub fn field_error(field: impl Into<String>, why: impl Into<String>) -> Outcome {
        Outcome::done().error(field, why)
    }
    pub fn error(mut self, field: impl Into<String>, why: impl Into<String>) -> Outcome {
        self.errors.push(FieldError {
            field: field.into(),
            message: why.into(),
        });
        self
    }
    /// The page shown next.
    pub fn next(mut self, page: impl Into<String>) -> Outcome {
        self.next_page = page.into();
        self
    }
}

// ------------------------------------------------------------------ host helpers

/// The plugin's log (capability `log`).
pub mod log {
    use super::nplusx::plugin::log::{Level, write};
    pub fn debug(m: &str) {
        write(Level::Debug, m)
    }
    pub fn info(m: &str) {
        write(Level::Info, m)
    }
    pub fn warn(m: &str) {
        write(Level::Warn, m)
    }
    pub fn error(m: &str) {
        write(Level::Error, m)
    }
}

/// Tags by name (capabilities `tags.read`, `tags.history`).
pub mod tags {
    pub use super::nplusx::plugin::tags::{
        Bucket, Current, Step, TagInfo, Total, aggregate, find, history, read, totals,
    };
    use super::{Error, HANDLES};
    use std::rc::Rc;

    /// Follows these tags: their samples come to [`super::Plugin::samples`] by name. Replaces
    /// the previous subscription.
    pub fn subscribe<S: AsRef<str>>(names: &[S]) -> Result<(), Error> {
        let names: Vec<String> = names.iter().map(|n| n.as_ref().to_string()).collect();
        let handles = super::nplusx::plugin::tags::subscribe(&names)?;
        HANDLES.with(|h| {
            let mut h = h.borrow_mut();
            h.clear();
            for (handle, name) in handles.into_iter().zip(names) {
                h.insert(handle, Rc::from(name));
            }
        });
        Ok(())
    }
}

/// Events (capability `events`), with serde for their data.
pub mod events {
    pub use super::nplusx::plugin::events::{Priority, clear_alarm, listen, raise_alarm};
    use super::{Error, Event};

    /// Emits `plugin.<id>.<name>` with `data` as its JSON object.
    pub fn emit<T: serde::Serialize>(name: &str, data: &T) -> Result<(), Error> {
        let json = serde_json::to_string(data).map_err(|e| Error::Invalid(e.to_string()))?;
        super::nplusx::plugin::events::emit(name, &json)
    }

    /// An event's data as your type.
    pub fn data<T: serde::de::DeserializeOwned>(e: &Event) -> Result<T, String> {
        serde_json::from_str(&e.data).map_err(|err| format!("{}: {err}", e.kind))
    }
}

/// The modules' records (capabilities `records.<module>`) as your types.
pub mod records {
    use super::Error;
    pub use super::nplusx::plugin::records::collections;

    fn decode<T: serde::de::DeserializeOwned>(rows: Vec<String>) -> Result<Vec<T>, Error> {
        rows.iter()
            .map(|r| serde_json::from_str(r).map_err(|e| Error::Failed(format!("a record: {e}"))))
            .collect()
    }

    /// A collection's records whose fields equal `filter`'s (`serde_json::json!({})`: all).
    pub fn query<T: serde::de::DeserializeOwned>(
        collection: &str,
        filter: &serde_json::Value,
        limit: u32,
    ) -> Result<Vec<T>, Error> {
        decode(super::nplusx::plugin::records::query(
            collection,
            &filter.to_string(),
            limit,
        )?)
    }

    /// A pivot table the box computes over a timed collection's records in `[from_ms,
    /// to_ms)` (since 0.3): `rows`/`columns` name fields (a time as `ts_ms:month`),
    /// `measures` are `count` or `sum:<field>` and the like. The answer's JSON: `rows`,
    /// `columns`, `cells[row][column][measure]`, `row_totals`, `column_totals`, `total`.
    pub fn pivot(
        collection: &str,
        from_ms: i64,
        to_ms: i64,
        rows: &[String],
        columns: &[String],
        measures: &[String],
    ) -> Result<serde_json::Value, Error> {
        let answer = super::nplusx::plugin::records::pivot(
            collection, from_ms, to_ms, rows, columns, measures,
        )?;
        serde_json::from_str(&answer).map_err(|e| Error::Failed(format!("a pivot: {e}")))
    }

    /// A timed collection's records in `[from_ms, to_ms)`, newest first.
    pub fn between<T: serde::de::DeserializeOwned>(
        collection: &str,
        from_ms: i64,
        to_ms: i64,
        filter: &serde_json::Value,
        limit: u32,
    ) -> Result<Vec<T>, Error> {
        decode(super::nplusx::plugin::records::between(
            collection,
            from_ms,
            to_ms,
            &filter.to_string(),
            limit,
        )?)
    }
}

/// The plugin's storage (capability `storage`), with JSON for your types.
pub mod storage {
    use super::Error;
    pub use super::nplusx::plugin::storage::{delete, get, keys, set, usage};

    pub fn get_json<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
        match get(key)? {
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::Failed(format!("{key}: {e}"))),
            None => Ok(None),
        }
    }
    pub fn set_json<T: serde::Serialize>(key: &str, v: &T) -> Result<(), Error> {
        let b = serde_json::to_vec(v).map_err(|e| Error::Invalid(e.to_string()))?;
        set(key, &b)
    }
}

/// Scheduled jobs (capability `schedule`).
pub mod schedule {
    pub use super::nplusx::plugin::schedule::{Job, set};

    /// A job: name, cron expression of plant time, time limit in ms.
    pub fn job(name: &str, cron: &str, deadline_ms: u32) -> Job {
        Job {
            name: name.into(),
            cron: cron.into(),
            deadline_ms,
        }
    }
}

/// Table files the box writes (capability `files`).
pub mod files {
    pub use super::nplusx::plugin::files::{Cell, Format, Sheet, table};

    impl From<f64> for Cell {
        fn from(x: f64) -> Cell {
            Cell::Number(x)
        }
    }
    impl From<&str> for Cell {
        fn from(s: &str) -> Cell {
            Cell::Text(s.into())
        }
    }
    impl From<String> for Cell {
        fn from(s: String) -> Cell {
            Cell::Text(s)
        }
    }

    impl Sheet {
        pub fn new<S: Into<String>>(
            name: impl Into<String>,
            header: impl IntoIterator<Item = S>,
        ) -> Sheet {
            Sheet {
                name: name.into(),
                header: header.into_iter().map(Into::into).collect(),
                rows: Vec::new(),
            }
        }
        pub fn row(mut self, cells: Vec<Cell>) -> Sheet {
            self.rows.push(cells);
            self
        }
        pub fn push(&mut self, cells: Vec<Cell>) {
            self.rows.push(cells);
        }
    }
}

pub use nplusx::plugin::{actions, clock, link, mqtt, notify, tag_write};

/// Plant time: the box's UTC offset (capability `clock`) and the calendar arithmetic a
/// plugin needs to count days, weeks and months as the plant does (pure functions, so they
/// can be tested natively).
pub mod plant {
    use super::Error;

    pub const HOUR_MS: i64 = 3_600_000;
    pub const DAY_MS: i64 = 86_400_000;

    /// The box's UTC offset in ms (`clock.utc-offset-minutes`).
    pub fn offset_ms() -> Result<i64, Error> {
        Ok(i64::from(super::clock::utc_offset_minutes()?) * 60_000)
    }

    /// (year, month, day) of days since 1970-01-01 (proleptic Gregorian calendar).
    pub fn civil(days: i64) -> (i32, u32, u32) {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
        (y, m, d)
    }

    /// The start (Unix ms) of the plant day holding `ts_ms`.
    pub fn day_start(ts_ms: i64, offset_ms: i64) -> i64 {
        (ts_ms + offset_ms).div_euclid(DAY_MS) * DAY_MS - offset_ms
    }

    /// The start of the plant week (Monday 00:00) holding `ts_ms`.
    pub fn week_start(ts_ms: i64, offset_ms: i64) -> i64 {
        let days = (ts_ms + offset_ms).div_euclid(DAY_MS);
        // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) mod 7
        (days - (days + 3).rem_euclid(7)) * DAY_MS - offset_ms
    }

    /// The plant day of an instant, `YYYY-MM-DD`.
    pub fn day_of(ts_ms: i64, offset_ms: i64) -> String {
        let (y, m, d) = civil((ts_ms + offset_ms).div_euclid(DAY_MS));
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// `YYYY-MM` of an instant in plant time.
    pub fn month_of(ts_ms: i64, offset_ms: i64) -> String {
        day_of(ts_ms, offset_ms)[..7].to_string()
    }

    /// `HH:MM` of an instant in plant time.
    pub fn time_of(ts_ms: i64, offset_ms: i64) -> String {
        let m = (ts_ms + offset_ms).rem_euclid(DAY_MS) / 60_000;
        format!("{:02}:{:02}", m / 60, m % 60)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn plant_days_and_weeks() {
            let cst = 8 * HOUR_MS;
            // 2026-12-01 00:00 +08:00 is 2026-11-30 16:00 UTC, a Tuesday
            let start = 1_796_083_200_000 - cst;
            assert_eq!(day_of(start, cst), "2026-12-01");
            assert_eq!(day_of(start - 1, cst), "2026-11-30");
            assert_eq!(day_start(start + 5 * HOUR_MS, cst), start);
            assert_eq!(week_start(start + 5 * HOUR_MS, cst), start - DAY_MS);
            assert_eq!(week_start(start - DAY_MS, cst), start - DAY_MS);
            assert_eq!(month_of(start + 40 * DAY_MS, cst), "2027-01");
            assert_eq!(time_of(start + 7 * HOUR_MS + 30 * 60_000, cst), "07:30");
            assert_eq!(civil(0), (1970, 1, 1));
        }
    }
}
