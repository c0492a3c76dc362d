//! Contract 0.1's imports, answered by 0.2's: a plugin built against 0.1 keeps running
//! unchanged. The shared types (`types`, `views`) are the same Rust types; the few records
//! and enums declared inside 0.1's interfaces are copied field by field.

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
