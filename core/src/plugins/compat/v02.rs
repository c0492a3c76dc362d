//! Contract 0.2's imports, answered by 0.3's: a plugin built against 0.2 keeps running
//! unchanged. The shared `types` are the same Rust types; records and enums declared inside
//! 0.2's interfaces are copied field by field, and 0.2's views (which 0.3 extended) become
//! 0.3's through their serde form, which 0.3 keeps for every 0.2 view.

use crate::plugins::runtime::HostState;
use crate::plugins::runtime::nplusx::plugin as now;
use crate::plugins::runtime::v02::nplusx::plugin as old;
use crate::plugins::runtime::{view, wit};

/// A record of the same fields in both versions.
macro_rules! copy {
    ($src:expr => $ty:path { $($f:ident),* $(,)? }) => {{
        let s = $src;
        $ty { $($f: s.$f),* }
    }};
}

/// An enum of the same cases in both versions.
macro_rules! cases {
    ($src:expr, $from:path => $to:path { $($c:ident),* $(,)? }) => {{
        use $from as F;
        use $to as T;
        match $src {
            $(F::$c => T::$c),*
        }
    }};
}

impl old::log::Host for HostState {
    fn write(&mut self, level: old::log::Level, message: String) {
        let level = cases!(level, old::log::Level => now::log::Level { Debug, Info, Warn, Error });
        now::log::Host::write(self, level, message)
    }
}

impl old::clock::Host for HostState {
    fn now_ms(&mut self) -> Result<i64, wit::Error> {
        now::clock::Host::now_ms(self)
    }
    fn utc_offset_minutes(&mut self) -> Result<i32, wit::Error> {
        now::clock::Host::utc_offset_minutes(self)
    }
}

impl old::tags::Host for HostState {
    fn find(&mut self, area: String) -> Result<Vec<old::tags::TagInfo>, wit::Error> {
        Ok(now::tags::Host::find(self, area)?
            .into_iter()
            .map(|t| {
                copy!(t => old::tags::TagInfo {
                    name, description_zh, description_en, unit, area, data_type, writable,
                })
            })
            .collect())
    }
    fn read(&mut self, names: Vec<String>) -> Result<Vec<old::tags::Current>, wit::Error> {
        Ok(now::tags::Host::read(self, names)?
            .into_iter()
            .map(|c| copy!(c => old::tags::Current { name, ts_ms, value, quality }))
            .collect())
    }
    fn subscribe(&mut self, names: Vec<String>) -> Result<Vec<u32>, wit::Error> {
        now::tags::Host::subscribe(self, names)
    }
    fn history(
        &mut self,
        name: String,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<Vec<(i64, f64)>, wit::Error> {
        now::tags::Host::history(self, name, from_ms, to_ms, limit)
    }
    fn aggregate(
        &mut self,
        name: String,
        from_ms: i64,
        to_ms: i64,
        buckets: u32,
    ) -> Result<Vec<old::tags::Bucket>, wit::Error> {
        Ok(
            now::tags::Host::aggregate(self, name, from_ms, to_ms, buckets)?
                .into_iter()
                .map(|b| copy!(b => old::tags::Bucket { ts_ms, count, min, max, avg, first, last }))
                .collect(),
        )
    }
    fn totals(
        &mut self,
        name: String,
        from_ms: i64,
        to_ms: i64,
        step: old::tags::Step,
    ) -> Result<Vec<old::tags::Total>, wit::Error> {
        let step = match step {
            old::tags::Step::Hour => now::tags::Step::Hour,
            old::tags::Step::Shift(starts) => now::tags::Step::Shift(starts),
            old::tags::Step::Day => now::tags::Step::Day,
            old::tags::Step::Month => now::tags::Step::Month,
        };
        Ok(now::tags::Host::totals(self, name, from_ms, to_ms, step)?
            .into_iter()
            .map(|t| {
                copy!(t => old::tags::Total {
                    start_ms, end_ms, count, min, max, mean, first, last, delta, integral,
                })
            })
            .collect())
    }
}

impl old::tag_write::Host for HostState {
    fn write(&mut self, name: String, value: wit::Value) -> Result<(), wit::Error> {
        now::tag_write::Host::write(self, name, value)
    }
}

impl old::storage::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, wit::Error> {
        now::storage::Host::get(self, key)
    }
    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), wit::Error> {
        now::storage::Host::set(self, key, value)
    }
    fn delete(&mut self, key: String) -> Result<(), wit::Error> {
        now::storage::Host::delete(self, key)
    }
    fn keys(&mut self, prefix: String, limit: u32) -> Result<Vec<String>, wit::Error> {
        now::storage::Host::keys(self, prefix, limit)
    }
    fn usage(&mut self) -> Result<(u64, u64), wit::Error> {
        now::storage::Host::usage(self)
    }
}

impl old::views::Host for HostState {}

impl old::records::Host for HostState {
    fn collections(&mut self) -> Result<Vec<String>, wit::Error> {
        now::records::Host::collections(self)
    }
    fn query(
        &mut self,
        collection: String,
        filter: String,
        limit: u32,
    ) -> Result<Vec<String>, wit::Error> {
        now::records::Host::query(self, collection, filter, limit)
    }
    fn between(
        &mut self,
        collection: String,
        from_ms: i64,
        to_ms: i64,
        filter: String,
        limit: u32,
    ) -> Result<Vec<String>, wit::Error> {
        now::records::Host::between(self, collection, from_ms, to_ms, filter, limit)
    }
}

impl old::actions::Host for HostState {
    fn available(&mut self) -> Result<Vec<String>, wit::Error> {
        now::actions::Host::available(self)
    }
    fn invoke(&mut self, name: String, args: String) -> Result<String, wit::Error> {
        now::actions::Host::invoke(self, name, args)
    }
}

impl old::events::Host for HostState {
    fn emit(&mut self, name: String, data: String) -> Result<(), wit::Error> {
        now::events::Host::emit(self, name, data)
    }
    fn listen(&mut self, kinds: Vec<String>) -> Result<(), wit::Error> {
        now::events::Host::listen(self, kinds)
    }
    fn raise_alarm(
        &mut self,
        key: String,
        priority: old::events::Priority,
        message_zh: String,
        message_en: String,
    ) -> Result<(), wit::Error> {
        let priority = cases!(priority, old::events::Priority => now::events::Priority {
            Urgent, High, Medium, Low,
        });
        now::events::Host::raise_alarm(self, key, priority, message_zh, message_en)
    }
    fn clear_alarm(&mut self, key: String) -> Result<(), wit::Error> {
        now::events::Host::clear_alarm(self, key)
    }
}

impl old::mqtt::Host for HostState {
    fn publish(&mut self, topic: String, payload: Vec<u8>, retain: bool) -> Result<(), wit::Error> {
        now::mqtt::Host::publish(self, topic, payload, retain)
    }
}

impl old::schedule::Host for HostState {
    fn set(&mut self, jobs: Vec<old::schedule::Job>) -> Result<(), wit::Error> {
        let jobs = jobs
            .into_iter()
            .map(|j| copy!(j => now::schedule::Job { name, cron, deadline_ms }))
            .collect();
        now::schedule::Host::set(self, jobs)
    }
}

impl old::files::Host for HostState {
    fn table(
        &mut self,
        name: String,
        format: old::files::Format,
        sheets: Vec<old::files::Sheet>,
    ) -> Result<String, wit::Error> {
        use old::files::Cell as C;
        let format = cases!(format, old::files::Format => now::files::Format { Xlsx, Csv });
        let sheets = sheets
            .into_iter()
            .map(|s| now::files::Sheet {
                name: s.name,
                header: s.header,
                rows: s
                    .rows
                    .into_iter()
                    .map(|r| {
                        r.into_iter()
                            .map(|c| match c {
                                C::Empty => now::files::Cell::Empty,
                                C::Text(t) => now::files::Cell::Text(t),
                                C::Number(n) => now::files::Cell::Number(n),
                                C::Time(t) => now::files::Cell::Time(t),
                            })
                            .collect()
                    })
                    .collect(),
            })
            .collect();
        now::files::Host::table(self, name, format, sheets)
    }
}

impl old::notify::Host for HostState {
    fn channels(&mut self) -> Result<Vec<String>, wit::Error> {
        now::notify::Host::channels(self)
    }
    fn send(
        &mut self,
        channel: String,
        title: String,
        text: String,
        file: Option<String>,
    ) -> Result<(), wit::Error> {
        now::notify::Host::send(self, channel, title, text, file)
    }
}

/// 0.2's view as 0.3's. 0.3 only added to 0.2's views (the scan field, map and label
/// blocks), with the same names, so every 0.2 view's serde form is a 0.3 view's.
pub fn view(v: old::views::View) -> view::View {
    convert(&v).unwrap_or_else(|e| view::View {
        title: v.title,
        blocks: vec![view::Block::Notice(view::Notice {
            tone: view::Tone::Bad,
            text: format!("contract 0.2 view: {e}"),
        })],
    })
}

pub fn outcome(o: old::views::Outcome) -> view::Outcome {
    convert(&o).unwrap_or_else(|e| view::Outcome {
        message: format!("contract 0.2 outcome: {e}"),
        errors: Vec::new(),
        next_page: String::new(),
    })
}

fn convert<A: serde::Serialize, B: serde::de::DeserializeOwned>(a: &A) -> serde_json::Result<B> {
    serde_json::from_value(serde_json::to_value(a)?)
}
