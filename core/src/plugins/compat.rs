//! Contract 0.1's imports, answered by the current ones: a plugin built against 0.1 keeps running
//! unchanged. The shared `types` are the same Rust types; the few records and enums declared
//! inside 0.1's interfaces are copied field by field, and 0.1's views (which 0.2 extended)
//! are converted into 0.2's.

use super::runtime::HostState;
use super::runtime::nplusx::plugin as now;
use super::runtime::v01::nplusx::plugin as old;
use super::runtime::wit;

impl old::log::Host for HostState {
    fn write(&mut self, level: old::log::Level, message: String) {
        use old::log::Level as L;
        let level = match level {
            L::Debug => now::log::Level::Debug,
            L::Info => now::log::Level::Info,
            L::Warn => now::log::Level::Warn,
            L::Error => now::log::Level::Error,
        };
        now::log::Host::write(self, level, message)
    }
}

impl old::clock::Host for HostState {
    fn now_ms(&mut self) -> Result<i64, wit::Error> {
        now::clock::Host::now_ms(self)
    }
}

impl old::tags::Host for HostState {
    fn find(&mut self, area: String) -> Result<Vec<old::tags::TagInfo>, wit::Error> {
        Ok(now::tags::Host::find(self, area)?
            .into_iter()
            .map(|t| old::tags::TagInfo {
                name: t.name,
                description_zh: t.description_zh,
                description_en: t.description_en,
                unit: t.unit,
                area: t.area,
                data_type: t.data_type,
                writable: t.writable,
            })
            .collect())
    }
    fn read(&mut self, names: Vec<String>) -> Result<Vec<old::tags::Current>, wit::Error> {
        Ok(now::tags::Host::read(self, names)?
            .into_iter()
            .map(|c| old::tags::Current {
                name: c.name,
                ts_ms: c.ts_ms,
                value: c.value,
                quality: c.quality,
            })
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
                .map(|b| old::tags::Bucket {
                    ts_ms: b.ts_ms,
                    count: b.count,
                    min: b.min,
                    max: b.max,
                    avg: b.avg,
                    first: b.first,
                    last: b.last,
                })
                .collect(),
        )
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
        use old::events::Priority as P;
        let priority = match priority {
            P::Urgent => now::events::Priority::Urgent,
            P::High => now::events::Priority::High,
            P::Medium => now::events::Priority::Medium,
            P::Low => now::events::Priority::Low,
        };
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

/// 0.1's views, as 0.2's: 0.2 only added to them (field kinds, the board block), so every
/// 0.1 view has a 0.2 twin.
pub mod views {
    use super::old::views as o;
    use crate::plugins::runtime::view as n;

    fn tone(t: o::Tone) -> n::Tone {
        match t {
            o::Tone::Neutral => n::Tone::Neutral,
            o::Tone::Good => n::Tone::Good,
            o::Tone::Warn => n::Tone::Warn,
            o::Tone::Bad => n::Tone::Bad,
        }
    }

    fn kpi(k: o::Kpi) -> n::Kpi {
        n::Kpi {
            label: k.label,
            value: k.value,
            unit: k.unit,
            tone: tone(k.tone),
            hint: k.hint,
        }
    }

    fn table(t: o::Table) -> n::Table {
        n::Table {
            columns: t
                .columns
                .into_iter()
                .map(|c| n::Column {
                    label: c.label,
                    numeric: c.numeric,
                })
                .collect(),
            rows: t.rows,
            page_size: t.page_size,
        }
    }

    fn slices(s: Vec<o::Slice>) -> Vec<n::Slice> {
        s.into_iter()
            .map(|s| n::Slice {
                label: s.label,
                value: s.value,
            })
            .collect()
    }

    fn chart(c: o::Chart) -> n::Chart {
        n::Chart {
            title: c.title,
            data: match c.data {
                o::ChartData::TimeSeries(s) => n::ChartData::TimeSeries(
                    s.into_iter()
                        .map(|s| n::Series {
                            name: s.name,
                            unit: s.unit,
                            points: s
                                .points
                                .into_iter()
                                .map(|p| n::Point {
                                    ts_ms: p.ts_ms,
                                    value: p.value,
                                })
                                .collect(),
                        })
                        .collect(),
                ),
                o::ChartData::Bars(s) => n::ChartData::Bars(slices(s)),
                o::ChartData::Pie(s) => n::ChartData::Pie(slices(s)),
            },
        }
    }

    fn field(f: o::Field) -> n::Field {
        n::Field {
            name: f.name,
            label: f.label,
            kind: match f.kind {
                o::FieldKind::Text => n::FieldKind::Text,
                o::FieldKind::Multiline => n::FieldKind::Multiline,
                o::FieldKind::Number => n::FieldKind::Number,
                o::FieldKind::Integer => n::FieldKind::Integer,
                o::FieldKind::Boolean => n::FieldKind::Boolean,
                o::FieldKind::Date => n::FieldKind::Date,
                o::FieldKind::Choice => n::FieldKind::Choice,
            },
            required: f.required,
            value: f.value,
            choices: f
                .choices
                .into_iter()
                .map(|c| n::Choice {
                    value: c.value,
                    label: c.label,
                })
                .collect(),
            min: f.min,
            max: f.max,
            hint: f.hint,
        }
    }

    fn block(b: o::Block) -> n::Block {
        match b {
            o::Block::Heading(s) => n::Block::Heading(s),
            o::Block::Text(s) => n::Block::Text(s),
            o::Block::Notice(x) => n::Block::Notice(n::Notice {
                tone: tone(x.tone),
                text: x.text,
            }),
            o::Block::Kpis(k) => n::Block::Kpis(k.into_iter().map(kpi).collect()),
            o::Block::Table(t) => n::Block::Table(table(t)),
            o::Block::Chart(c) => n::Block::Chart(chart(c)),
            o::Block::Form(f) => n::Block::Form(n::Form {
                action: f.action,
                fields: f.fields.into_iter().map(field).collect(),
                submit_label: f.submit_label,
            }),
            o::Block::Buttons(b) => n::Block::Buttons(
                b.into_iter()
                    .map(|b| n::Button {
                        action: b.action,
                        label: b.label,
                        confirm: b.confirm,
                        danger: b.danger,
                    })
                    .collect(),
            ),
        }
    }

    pub fn view(v: o::View) -> n::View {
        n::View {
            title: v.title,
            blocks: v.blocks.into_iter().map(block).collect(),
        }
    }

    pub fn outcome(x: o::Outcome) -> n::Outcome {
        n::Outcome {
            message: x.message,
            errors: x
                .errors
                .into_iter()
                .map(|e| n::FieldError {
                    field: e.field,
                    message: e.message,
                })
                .collect(),
            next_page: x.next_page,
        }
    }
}

pub mod v02;
