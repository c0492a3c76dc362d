//! The rules of tag and device configuration; the only writer of `tags.defs` and
//! `tags.devices`. After a change the caller reloads the engine and drivers
//! (`App::reload_tags`).

use super::model::{
    DataType, Device, DriverConfig, ModbusOptions, ModbusPoint, PayloadFormat, RegFormat, Scaling,
    Source, Tag, Value,
};
use super::store::{DEVICES, TAGS};
use crate::error::{self, Error, Result};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Reader, Store, WriteTx};

pub fn tags(r: &impl Reader) -> Result<Vec<Tag>> {
    Ok(r.values(&TAGS)?)
}

pub fn tag_by_name(r: &impl Reader, name: &str) -> Result<Tag> {
    tags(r)?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::NotFound(Msg::new("tags.err.tag_not_found").arg("name", name)))
}

pub fn devices(r: &impl Reader) -> Result<Vec<Device>> {
    Ok(r.values(&DEVICES)?)
}

pub fn device(r: &impl Reader, id: u32) -> Result<Device> {
    r.get(&DEVICES, &(id as u64))?
        .ok_or_else(|| Error::not_found("tags.err.device_not_found"))
}

fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    let ok = (1..=64).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Err(Error::invalid("name", "tags.err.name"));
    }
    Ok(n.to_string())
}

/// Validates a definition against the others and the devices; returns it normalised.
fn check_tag(r: &impl Reader, t: &Tag, id: u32) -> Result<Tag> {
    let others = tags(r)?;
    check_tag_with(t, id, &devices(r)?, |name, id| {
        others.iter().any(|o| o.name == name && o.id != id)
    })
}

/// Validates a definition against `devices`; `name_taken(name, id)` says whether another
/// tag holds the name. Returns it normalised.
pub fn check_tag_with(
    t: &Tag,
    id: u32,
    devices: &[Device],
    name_taken: impl Fn(&str, u32) -> bool,
) -> Result<Tag> {
    let name = check_name(&t.name)?;
    if name_taken(&name, id) {
        return Err(Error::invalid_msg(
            "name",
            Msg::new("tags.err.name_taken").arg("name", &name),
        ));
    }
    let device = |d: u32| -> Result<Device> {
        devices
            .iter()
            .find(|x| x.id == d)
            .cloned()
            .ok_or_else(|| Error::not_found("tags.err.device_not_found"))
    };
    // the source as stored, where it has a canonical spelling
    let mut canonical = None;
    match &t.source {
        Source::Manual => {}
        Source::Simulator { device: d, signal } => {
            let dev =
                device(*d).map_err(|_| Error::invalid("source", "tags.err.device_not_found"))?;
            if !matches!(dev.config, DriverConfig::Simulator { .. }) {
                return Err(Error::invalid("source", "tags.err.source_driver"));
            }
            if crate::drivers::simulator::signal(signal).is_none() {
                return Err(Error::invalid_msg(
                    "source",
                    Msg::new("tags.err.signal").arg("signal", signal),
                ));
            }
        }
        Source::Modbus { device: d, point } => {
            let dev =
                device(*d).map_err(|_| Error::invalid("source", "tags.err.device_not_found"))?;
            let (DriverConfig::ModbusTcp { options, .. } | DriverConfig::ModbusRtu { options, .. }) =
                &dev.config
            else {
                return Err(Error::invalid("source", "tags.err.source_driver"));
            };
            check_point(point, options, t)?;
        }
        Source::Mqtt {
            device: d,
            topic,
            format,
            path,
        } => {
            let dev =
                device(*d).map_err(|_| Error::invalid("source", "tags.err.device_not_found"))?;
            if !matches!(dev.config, DriverConfig::Mqtt { .. }) {
                return Err(Error::invalid("source", "tags.err.source_driver"));
            }
            match format {
                PayloadFormat::SparkplugB => {
                    let parts: Vec<&str> = topic.split('/').collect();
                    let ok = parts.first() == Some(&"spBv1.0")
                        && (3..=4).contains(&parts.len())
                        && parts[1..]
                            .iter()
                            .all(|p| !p.is_empty() && !p.contains(['+', '#']));
                    if !ok {
                        return Err(Error::invalid("topic", "tags.err.sparkplug_topic"));
                    }
                    if path.trim().is_empty() {
                        return Err(Error::invalid("path", "tags.err.metric"));
                    }
                }
                PayloadFormat::Json | PayloadFormat::Text => {
                    if !crate::mqtt::valid_filter(topic) {
                        return Err(Error::invalid("topic", "tags.err.topic"));
                    }
                    if *format == PayloadFormat::Json && !(path.is_empty() || path.starts_with('/'))
                    {
                        return Err(Error::invalid("path", "tags.err.pointer"));
                    }
                }
            }
            if t.writable {
                return Err(Error::invalid("writable", "tags.err.driver_cannot_write"));
            }
        }
        Source::OpcUa { device: d, node_id } => {
            let dev =
                device(*d).map_err(|_| Error::invalid("source", "tags.err.device_not_found"))?;
            if !matches!(dev.config, DriverConfig::OpcUa { .. }) {
                return Err(Error::invalid("source", "tags.err.source_driver"));
            }
            canonical = Some(Source::OpcUa {
                device: *d,
                node_id: crate::drivers::opcua::canonical_node(node_id)
                    .ok_or_else(|| Error::invalid("node_id", "tags.err.node_id"))?,
            });
        }
    }
    if let Some(s) = &t.scaling {
        let finite = [s.raw_lo, s.raw_hi, s.eng_lo, s.eng_hi]
            .iter()
            .all(|x| x.is_finite());
        if !finite || s.raw_lo == s.raw_hi || s.eng_lo == s.eng_hi {
            return Err(Error::invalid("scaling", "tags.err.scaling"));
        }
    }
    if !t.deadband.is_finite() || t.deadband < 0.0 {
        return Err(Error::invalid("deadband", "tags.err.deadband"));
    }
    if !t.resolution.is_finite() || t.resolution <= 0.0 {
        return Err(Error::invalid("resolution", "tags.err.resolution"));
    }
    if let (Some(lo), Some(hi)) = (t.range_lo, t.range_hi)
        && (!lo.is_finite() || !hi.is_finite() || lo >= hi)
    {
        return Err(Error::invalid("range_lo", "tags.err.range"));
    }
    if t.writable && t.data_type == DataType::String {
        return Err(Error::invalid("writable", "tags.err.writable_string"));
    }
    if t.retention_days > 36_500 {
        return Err(Error::invalid("retention_days", "tags.err.retention"));
    }
    Ok(Tag {
        id,
        name,
        description_zh: error::text("description_zh", &t.description_zh, 100, false)?,
        description_en: error::text("description_en", &t.description_en, 100, false)?,
        unit: error::text("unit", &t.unit, 16, false)?,
        area: error::text("area", &t.area, 40, false)?,
        equipment: error::text("equipment", &t.equipment, 40, false)?,
        source: canonical.unwrap_or_else(|| t.source.clone()),
        ..t.clone()
    })
}

/// The id the next new tag will get (without taking it).
pub fn peek_next_id(r: &impl Reader) -> Result<u32> {
    let cur: u64 = crate::store::meta_get(r, "seq:tags.defs")?.unwrap_or(0);
    u32::try_from(cur + 1).map_err(|_| Error::conflict("tags.err.too_many"))
}

/// Takes the next tag id (see [`peek_next_id`]).
pub fn take_next_id(w: &mut crate::store::WriteTx) -> Result<u32> {
    w.next_u32_id(&TAGS)
}

/// Stores a checked definition (imports; the caller audits).
pub fn put_tag(w: &mut crate::store::WriteTx, t: &Tag) -> Result<()> {
    Ok(w.insert(&TAGS, &(t.id as u64), t)?)
}

pub fn create_tag(store: &Store, actor: &Actor, input: Tag) -> Result<Tag> {
    let mut w = store.write(actor)?;
    let id = w.next_id(&TAGS)?;
    let id = u32::try_from(id).map_err(|_| Error::conflict("tags.err.too_many"))?;
    let t = check_tag(&w, &input, id)?;
    w.insert(&TAGS, &(id as u64), &t)?;
    w.audit(
        "tags.tag.create",
        format!("tag:{} {}", t.id, t.name),
        Change::created(&t),
    );
    w.commit()?;
    Ok(t)
}

pub fn update_tag(store: &Store, actor: &Actor, name: &str, input: Tag) -> Result<Tag> {
    let mut w = store.write(actor)?;
    let before = tag_by_name(&w, name)?;
    let t = check_tag(&w, &input, before.id)?;
    w.insert(&TAGS, &(before.id as u64), &t)?;
    w.audit(
        "tags.tag.update",
        format!("tag:{} {}", t.id, t.name),
        Change::updated(&before, &t),
    );
    w.commit()?;
    Ok(t)
}

/// Deletes a tag definition. Its history stays until retention removes it.
pub fn delete_tag(store: &Store, actor: &Actor, name: &str) -> Result<()> {
    let mut w = store.write(actor)?;
    let before = tag_by_name(&w, name)?;
    w.remove(&TAGS, &(before.id as u64))?;
    w.audit(
        "tags.tag.delete",
        format!("tag:{} {}", before.id, before.name),
        Change::deleted(&before),
    );
    w.commit()?;
    Ok(())
}

/// A Modbus address against the device's groups and the tag's type.
fn check_point(p: &ModbusPoint, options: &ModbusOptions, t: &Tag) -> Result<()> {
    if !options.groups.iter().any(|g| g.name == p.group) {
        return Err(Error::invalid_msg(
            "group",
            Msg::new("tags.err.group").arg("group", &p.group),
        ));
    }
    let bits = p.area.is_bits() || p.format == RegFormat::Bit;
    if p.area.is_bits() && (p.format != RegFormat::Bit || p.bit.is_some()) {
        return Err(Error::invalid("format", "tags.err.bit_area"));
    }
    if !p.area.is_bits() && (p.format == RegFormat::Bit) != p.bit.is_some() {
        return Err(Error::invalid("bit", "tags.err.bit_number"));
    }
    if p.bit.is_some_and(|b| b > 15) {
        return Err(Error::invalid("bit", "tags.err.bit_number"));
    }
    let type_ok = match t.data_type {
        DataType::Bool => bits,
        DataType::Int | DataType::Float => !bits || t.data_type == DataType::Int,
        DataType::String => false,
    };
    if !type_ok {
        return Err(Error::invalid("data_type", "tags.err.modbus_type"));
    }
    let span = if p.area.is_bits() {
        1
    } else {
        p.format.words() as u32
    };
    if p.address as u32 + span > 65_536 {
        return Err(Error::invalid("address", "tags.err.address"));
    }
    if t.writable && !p.area.is_writable() {
        return Err(Error::invalid("writable", "tags.err.area_read_only"));
    }
    Ok(())
}

/// Polling settings within what the protocol and a plant network sensibly take.
fn check_modbus_options(o: &ModbusOptions) -> Result<()> {
    if !(10..=60_000).contains(&o.timeout_ms) {
        return Err(Error::invalid("timeout_ms", "tags.err.timeout"));
    }
    if o.groups.is_empty() || o.groups.len() > 16 {
        return Err(Error::invalid("groups", "tags.err.groups"));
    }
    for (i, g) in o.groups.iter().enumerate() {
        let ok_name = (1..=32).contains(&g.name.len())
            && g.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
        if !ok_name || o.groups[..i].iter().any(|x| x.name == g.name) {
            return Err(Error::invalid_msg(
                "groups",
                Msg::new("tags.err.group_name").arg("group", &g.name),
            ));
        }
        if !(50..=3_600_000).contains(&g.interval_ms) {
            return Err(Error::invalid_msg(
                "groups",
                Msg::new("tags.err.group_interval").arg("group", &g.name),
            ));
        }
    }
    if o.max_gap.is_some_and(|g| g > 124) {
        return Err(Error::invalid("max_gap", "tags.err.max_gap"));
    }
    if !(1..=125).contains(&o.max_registers) {
        return Err(Error::invalid("max_registers", "tags.err.max_registers"));
    }
    Ok(())
}

/// The value to write to `t`, checked: the tag must be writable, the value of its type and
/// inside its instrument range. Nothing reaches a device before this passes.
pub fn check_write(t: &Tag, v: &serde_json::Value) -> Result<Value> {
    if !t.writable {
        return Err(Error::invalid("value", "tags.err.not_writable"));
    }
    let value = match (t.data_type, v) {
        (DataType::Bool, serde_json::Value::Bool(b)) => Value::Bool(*b),
        (DataType::Bool, serde_json::Value::Number(n))
            if n.as_f64() == Some(0.0) || n.as_f64() == Some(1.0) =>
        {
            Value::Bool(n.as_f64() == Some(1.0))
        }
        // whole numbers only, and only those an i64 holds exactly (no silent clamping)
        (DataType::Int, serde_json::Value::Number(n))
            if n.as_i64().is_some()
                || n.as_f64()
                    .is_some_and(|x| x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0) =>
        {
            Value::Int(
                n.as_i64()
                    .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64),
            )
        }
        (DataType::Float, serde_json::Value::Number(n)) => {
            Value::Float(n.as_f64().unwrap_or(f64::NAN))
        }
        _ => {
            return Err(Error::invalid_msg(
                "value",
                Msg::new("tags.err.write_type")
                    .arg_key("type", format!("tags.type.{}", type_code(t.data_type))),
            ));
        }
    };
    let x = value.as_f64().unwrap_or(f64::NAN);
    if !x.is_finite() || !t.in_range(x) {
        return Err(Error::invalid_msg(
            "value",
            Msg::new("tags.err.write_range")
                .arg("lo", t.range_lo.map_or("−∞".to_string(), |x| x.to_string()))
                .arg("hi", t.range_hi.map_or("∞".to_string(), |x| x.to_string())),
        ));
    }
    Ok(value)
}

/// Writes a checked value to a tag (its device, or the engine for manual tags) and
/// audits it with the old and the new value, also when the device refuses. The audit
/// runs even if the caller goes away (a closed browser tab).
pub async fn write(
    app: &std::sync::Arc<crate::app::App>,
    actor: crate::store::Actor,
    tag: std::sync::Arc<crate::tags::model::Tag>,
    v: crate::tags::model::Value,
) -> crate::error::Result<()> {
    use crate::tags::model::Source;
    // one write to a tag at a time, from its check to its read-back: two writes at once
    // cannot both pass a rule that the first one's outcome would change
    let lock = write_lock(app, tag.id);
    let _one_at_a_time = lock.lock().await;
    // the modules' control rules (steps, intervals, interlocks) before anything is sent;
    // a command a rule refuses is audited too (who tried what, and why it was refused)
    if let Some(x) = v.as_f64()
        && let Err(e) = app.check_write(&tag, x)
    {
        let (store, t, new) = (app.store.clone(), tag.clone(), v.clone());
        let old = app.tags.current(tag.id).and_then(|c| c.value);
        let why = e.msg().render(crate::i18n::Lang::En);
        let audited = tokio::task::spawn_blocking(move || {
            audit_refused(&store, &actor, &t, old.as_ref(), &new, &why)
        })
        .await;
        if !matches!(audited, Ok(Ok(()))) {
            tracing::error!(tag = %tag.name, "a refused write could not be audited");
        }
        return Err(e);
    }
    let io = app.io();
    let app = app.clone();
    let task = async move {
        let old = app.tags.current(tag.id).and_then(|c| c.value);
        let tag_name = tag.name.clone();
        let result = match &tag.source {
            Source::Manual => {
                app.tags.publish(vec![crate::tags::model::Sample {
                    tag: tag.id,
                    ts_ms: crate::util::now_ms(),
                    value: Some(v.clone()),
                    quality: crate::tags::model::Quality::Good,
                }]);
                Ok(())
            }
            Source::Mqtt { .. } => Err(Error::Device(Msg::new("tags.err.driver_cannot_write"))),
            Source::Simulator { .. } | Source::Modbus { .. } | Source::OpcUa { .. } => {
                let sent_ms = crate::util::now_ms();
                match app.drivers.write(tag.clone(), v.clone()).await {
                    Ok(()) => read_back(&app, &tag, &v, sent_ms).await,
                    Err(e) => Err(e),
                }
            }
        };
        let outcome = result
            .as_ref()
            .map_err(|e| e.msg().render(crate::i18n::Lang::En))
            .err();
        let store = app.store.clone();
        let audited = tokio::task::spawn_blocking(move || {
            audit_write(&store, &actor, &tag, old.as_ref(), &v, outcome.as_deref())
        })
        .await
        .map_err(|_| Error::Device(Msg::new("tags.err.write_failed").arg("detail", "audit")))?;
        if result.is_ok() {
            app.dispatch(
                "tags",
                "tags.written",
                &serde_json::json!({"tag": tag_name}),
            );
        }
        audited.and(result)
    };
    match io {
        Some(rt) => rt.spawn(task).await.map_err(|_| {
            Error::Device(Msg::new("tags.err.write_failed").arg("detail", "stopped"))
        })?,
        None => Err(Error::Device(Msg::new("tags.err.device_off"))),
    }
}

/// A tag's write lock (see [`write`]).
#[derive(Default)]
struct WriteLocks(
    std::sync::Mutex<std::collections::HashMap<u32, std::sync::Arc<tokio::sync::Mutex<()>>>>,
);

fn write_lock(app: &crate::app::App, tag: u32) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    app.state(WriteLocks::default)
        .0
        .lock()
        .expect("write locks are never poisoned")
        .entry(tag)
        .or_default()
        .clone()
}

/// Waits (up to 3 s) for the device's value read after a write and compares it with what was
/// written: a device that took the write but holds something else (clamped, rejected
/// silently, another writer) or that never answers with a value makes the write failed.
/// Modbus reads the register back at once; OPC UA's subscription brings the change.
async fn read_back(
    app: &crate::app::App,
    tag: &Tag,
    written: &Value,
    sent_ms: i64,
) -> crate::error::Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        if let Some(c) = app.tags.current(tag.id)
            && c.ts_ms >= sent_ms
            && let Some(read) = c.value
        {
            return if read_back_matches(tag, written, &read) {
                Ok(())
            } else {
                Err(Error::Device(
                    Msg::new("tags.err.read_back")
                        .arg(
                            "written",
                            serde_json::to_string(written).unwrap_or_default(),
                        )
                        .arg("read", serde_json::to_string(&read).unwrap_or_default()),
                ))
            };
        }
        if tokio::time::Instant::now() >= deadline {
            // a subscription reports changes only: a value written that was already there
            // comes back as no news
            return match app.tags.current(tag.id).and_then(|c| c.value) {
                Some(read) if read_back_matches(tag, written, &read) => Ok(()),
                _ => Err(Error::Device(Msg::new("tags.err.no_read_back"))),
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Whether a value read back is the one written, within what the tag can hold: its
/// resolution, the step of its raw scaling, float32's precision.
pub fn read_back_matches(tag: &Tag, written: &Value, read: &Value) -> bool {
    match (written.as_f64(), read.as_f64()) {
        (Some(w), Some(r)) => {
            let step = tag.scaling.map_or(0.0, |s| {
                ((s.eng_hi - s.eng_lo) / (s.raw_hi - s.raw_lo)).abs()
            });
            let tolerance = tag.resolution.max(step).max(w.abs() * 1e-6);
            (w - r).abs() <= tolerance * 1.5
        }
        _ => written == read,
    }
}

/// Records a write to the process (done or refused by the device) in the audit log.
pub fn audit_write(
    store: &Store,
    actor: &Actor,
    t: &Tag,
    old: Option<&Value>,
    new: &Value,
    failed: Option<&str>,
) -> Result<()> {
    match failed {
        None => audit_value(
            store,
            actor,
            t,
            "tags.tag.write",
            old,
            serde_json::json!({ "value": new }),
        ),
        Some(why) => audit_value(
            store,
            actor,
            t,
            "tags.tag.write_failed",
            old,
            serde_json::json!({ "value": new, "error": why }),
        ),
    }
}

/// Audits a write that a control rule refused before anything was sent.
fn audit_refused(
    store: &Store,
    actor: &Actor,
    t: &Tag,
    old: Option<&Value>,
    new: &Value,
    why: &str,
) -> Result<()> {
    audit_value(
        store,
        actor,
        t,
        "tags.tag.write_refused",
        old,
        serde_json::json!({ "value": new, "refused": why }),
    )
}

/// One audit entry of a command to a tag: the value then → what was asked and how it went.
fn audit_value(
    store: &Store,
    actor: &Actor,
    t: &Tag,
    action: &'static str,
    old: Option<&Value>,
    after: serde_json::Value,
) -> Result<()> {
    let mut w = store.write(actor)?;
    w.audit(
        action,
        format!("tag:{} {}", t.id, t.name),
        Change::updated(serde_json::json!({ "value": old }), after),
    );
    w.commit()?;
    Ok(())
}

fn type_code(d: DataType) -> &'static str {
    match d {
        DataType::Bool => "bool",
        DataType::Int => "int",
        DataType::Float => "float",
        DataType::String => "string",
    }
}

/// Seals the device's credentials (a typed password; "keep" takes the stored one).
fn seal(store: &Store, d: &mut Device, before: Option<&Device>) -> Result<()> {
    if let DriverConfig::OpcUa {
        password, endpoint, ..
    } = &mut d.config
    {
        let (old, same) = match before.map(|b| &b.config) {
            Some(DriverConfig::OpcUa {
                password: p,
                endpoint: e,
                ..
            }) => (
                Some(p),
                crate::secrets::origin(e) == crate::secrets::origin(endpoint),
            ),
            _ => (None, false),
        };
        crate::secrets::check_keep("password", password, old, same)?;
        *password = store.sealer()?.seal(password, old)?;
    }
    if let DriverConfig::Mqtt {
        password,
        host,
        port,
        ..
    } = &mut d.config
    {
        let (old, same) = match before.map(|b| &b.config) {
            Some(DriverConfig::Mqtt {
                password: p,
                host: h,
                port: o,
                ..
            }) => (Some(p), h == host && o == port),
            _ => (None, false),
        };
        crate::secrets::check_keep("password", password, old, same)?;
        *password = store.sealer()?.seal(password, old)?;
    }
    Ok(())
}

fn check_device(r: &impl Reader, d: &Device, id: u32) -> Result<Device> {
    let name = error::text("name", &d.name, 64, true)?;
    if devices(r)?.iter().any(|o| o.name == name && o.id != id) {
        return Err(Error::invalid("name", "tags.err.device_name_taken"));
    }
    match &d.config {
        DriverConfig::Simulator {
            interval_s, speed, ..
        } => {
            if !(0.05..=3600.0).contains(interval_s) {
                return Err(Error::invalid("config", "tags.err.interval"));
            }
            if !(0.01..=10_000.0).contains(speed) {
                return Err(Error::invalid("config", "tags.err.speed"));
            }
        }
        DriverConfig::Mqtt {
            host,
            port,
            username,
            client_id,
            keep_alive_s,
            ..
        } => {
            crate::mqtt::check_broker(host, *port)?;
            error::text("username", username, 128, false)?;
            crate::mqtt::check_client_id(client_id)?;
            if !(5..=3600).contains(keep_alive_s) {
                return Err(Error::invalid("keep_alive_s", "tags.err.keep_alive"));
            }
        }
        DriverConfig::OpcUa {
            endpoint,
            username,
            interval_ms,
            ..
        } => {
            if !crate::drivers::opcua::valid_endpoint(endpoint) {
                return Err(Error::invalid("endpoint", "tags.err.ua_endpoint"));
            }
            error::text("username", username, 128, false)?;
            if !(50..=3_600_000).contains(interval_ms) {
                return Err(Error::invalid("interval_ms", "tags.err.ua_interval"));
            }
        }
        DriverConfig::ModbusTcp {
            host,
            port,
            options,
            ..
        } => {
            crate::mqtt::check_host(host)?;
            if *port == 0 {
                return Err(Error::invalid("port", "tags.err.port"));
            }
            check_modbus_options(options)?;
        }
        DriverConfig::ModbusRtu {
            path,
            baud,
            stop_bits,
            unit,
            options,
            ..
        } => {
            if !path.starts_with("/dev/") || path.len() > 200 {
                return Err(Error::invalid("path", "tags.err.serial_path"));
            }
            if !(300..=1_000_000).contains(baud) {
                return Err(Error::invalid("baud", "tags.err.baud"));
            }
            if !(1..=2).contains(stop_bits) {
                return Err(Error::invalid("stop_bits", "tags.err.stop_bits"));
            }
            if !(1..=247).contains(unit) {
                return Err(Error::invalid("unit", "tags.err.rtu_unit"));
            }
            // one task owns a serial port; units sharing a bus are not multiplexed yet
            if let Some(other) = devices(r)?.iter().find(|o| {
                o.id != id
                    && matches!(&o.config, DriverConfig::ModbusRtu { path: p, .. } if p == path)
            }) {
                return Err(Error::invalid_msg(
                    "path",
                    Msg::new("tags.err.serial_in_use").arg("device", &other.name),
                ));
            }
            check_modbus_options(options)?;
        }
    }
    // a changed device must still serve its tags: same kind of driver, their groups kept
    for t in tags(r)?.iter().filter(|t| t.source.device() == Some(id)) {
        match (&t.source, &d.config) {
            (Source::Simulator { .. }, DriverConfig::Simulator { .. })
            | (Source::Mqtt { .. }, DriverConfig::Mqtt { .. })
            | (Source::OpcUa { .. }, DriverConfig::OpcUa { .. }) => {}
            (
                Source::Modbus { point, .. },
                DriverConfig::ModbusTcp { options, .. } | DriverConfig::ModbusRtu { options, .. },
            ) => {
                if !options.groups.iter().any(|g| g.name == point.group) {
                    return Err(Error::invalid_msg(
                        "groups",
                        Msg::new("tags.err.group_in_use")
                            .arg("group", &point.group)
                            .arg("tag", &t.name),
                    ));
                }
            }
            _ => {
                return Err(Error::invalid_msg(
                    "config",
                    Msg::new("tags.err.driver_in_use").arg("tag", &t.name),
                ));
            }
        }
    }
    Ok(Device {
        id,
        name,
        description: error::text("description", &d.description, 200, false)?,
        ..d.clone()
    })
}

pub fn create_device(store: &Store, actor: &Actor, input: Device) -> Result<Device> {
    let mut w = store.write(actor)?;
    let id = w.next_u32_id(&DEVICES)?;
    let mut d = check_device(&w, &input, id)?;
    seal(store, &mut d, None)?;
    w.insert(&DEVICES, &(id as u64), &d)?;
    w.audit(
        "tags.device.create",
        format!("device:{} {}", d.id, d.name),
        Change::created(d.redacted()),
    );
    w.commit()?;
    Ok(d)
}

pub fn update_device(store: &Store, actor: &Actor, id: u32, input: Device) -> Result<Device> {
    let mut w = store.write(actor)?;
    let before = device(&w, id)?;
    let mut d = check_device(&w, &input, id)?;
    seal(store, &mut d, Some(&before))?;
    w.insert(&DEVICES, &(id as u64), &d)?;
    w.audit(
        "tags.device.update",
        format!("device:{} {}", d.id, d.name),
        Change::updated(before.redacted(), d.redacted()),
    );
    w.commit()?;
    Ok(d)
}

/// Deletes a device no tag reads from.
pub fn delete_device(store: &Store, actor: &Actor, id: u32) -> Result<()> {
    let mut w = store.write(actor)?;
    let before = device(&w, id)?;
    let users = tags(&w)?
        .iter()
        .filter(|t| t.source.device() == Some(id))
        .count();
    if users > 0 {
        return Err(Error::Conflict(
            Msg::new("tags.err.device_in_use").arg("n", users),
        ));
    }
    w.remove(&DEVICES, &(id as u64))?;
    w.audit(
        "tags.device.delete",
        format!("device:{} {}", id, before.name),
        Change::deleted(&before),
    );
    w.commit()?;
    Ok(())
}

/// A tag definition with defaults, for forms and the demo.
pub fn blank_tag(name: &str, data_type: DataType, source: Source) -> Tag {
    Tag {
        id: 0,
        name: name.to_string(),
        description_zh: String::new(),
        description_en: String::new(),
        unit: String::new(),
        data_type,
        source,
        scaling: None::<Scaling>,
        deadband: 0.0,
        resolution: 0.001,
        range_lo: None,
        range_hi: None,
        writable: false,
        area: String::new(),
        equipment: String::new(),
        retention_days: 365,
    }
}

/// Schema 3: Modbus devices saved with the old fixed gap of 32 (the default then) bridge
/// automatically (`ModbusOptions::max_gap` None): on TCP every gap a request can hold, on
/// RTU by the baud rate. A device set to any other gap keeps it.
pub(crate) fn migrate_auto_bridging(w: &mut WriteTx) -> crate::store::Result<()> {
    for (id, mut d) in w.all(&DEVICES)? {
        if let DriverConfig::ModbusTcp { options, .. } | DriverConfig::ModbusRtu { options, .. } =
            &mut d.config
            && options.max_gap == Some(32)
        {
            options.max_gap = None;
            w.insert(&DEVICES, &id, &d)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    #[test]
    fn a_value_read_back_matches_within_what_the_tag_can_hold() {
        let mut t = blank_tag("SP", DataType::Float, Source::Manual);
        assert!(read_back_matches(
            &t,
            &Value::Float(72.5),
            &Value::Float(72.5)
        ));
        // float32 on the wire
        assert!(read_back_matches(
            &t,
            &Value::Float(0.1),
            &Value::Float(0.1f32 as f64)
        ));
        // the PLC clamped it
        assert!(!read_back_matches(
            &t,
            &Value::Float(72.5),
            &Value::Float(70.0)
        ));
        // a 12-bit raw register over 0–1.6 MPa holds steps of 0.00039
        t.scaling = Some(Scaling {
            raw_lo: 0.0,
            raw_hi: 4095.0,
            eng_lo: 0.0,
            eng_hi: 1.6,
        });
        t.resolution = 0.0001;
        assert!(read_back_matches(
            &t,
            &Value::Float(0.8),
            &Value::Float(0.80019)
        ));
        assert!(!read_back_matches(
            &t,
            &Value::Float(0.8),
            &Value::Float(0.81)
        ));
        assert!(read_back_matches(
            &t,
            &Value::Bool(true),
            &Value::Bool(true)
        ));
        assert!(!read_back_matches(
            &t,
            &Value::Bool(true),
            &Value::Bool(false)
        ));
    }

    fn sim(s: &Store) -> Device {
        create_device(
            s,
            &Actor::system("t"),
            Device {
                id: 0,
                name: "Simulator".into(),
                description: String::new(),
                config: DriverConfig::Simulator {
                    interval_s: 1.0,
                    seed: 1,
                    speed: 1.0,
                },
                enabled: true,
            },
        )
        .unwrap()
    }

    #[test]
    fn tags_are_checked_before_they_are_stored() {
        let (_d, s) = temp_store();
        let a = Actor::system("t");
        let d = sim(&s);
        let good = blank_tag(
            "R101.TT101",
            DataType::Float,
            Source::Simulator {
                device: d.id,
                signal: "r101.temperature".into(),
            },
        );
        let t = create_tag(&s, &a, good.clone()).unwrap();
        assert_eq!(t.id, 1);
        assert!(matches!(
            create_tag(&s, &a, good.clone()),
            Err(Error::Invalid { field: "name", .. })
        ));
        let mut bad = good.clone();
        bad.name = "R101 TT".into();
        assert!(matches!(
            create_tag(&s, &a, bad),
            Err(Error::Invalid { field: "name", .. })
        ));
        let mut bad = good.clone();
        bad.name = "X1".into();
        bad.source = Source::Simulator {
            device: d.id,
            signal: "nope".into(),
        };
        assert!(matches!(
            create_tag(&s, &a, bad),
            Err(Error::Invalid {
                field: "source",
                ..
            })
        ));
        let mut bad = good.clone();
        bad.name = "X2".into();
        bad.range_lo = Some(10.0);
        bad.range_hi = Some(5.0);
        assert!(matches!(
            create_tag(&s, &a, bad),
            Err(Error::Invalid {
                field: "range_lo",
                ..
            })
        ));
        assert_eq!(tags(&s.read().unwrap()).unwrap().len(), 1);
        assert!(matches!(
            delete_device(&s, &a, d.id),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn devices_at_the_old_default_gap_bridge_automatically() {
        let (_d, s) = temp_store();
        let a = Actor::system("t");
        let mut ids = Vec::new();
        for (name, gap) in [("old", Some(32)), ("set", Some(8))] {
            let options = ModbusOptions {
                max_gap: gap,
                ..Default::default()
            };
            let d = Device {
                id: 0,
                name: name.into(),
                description: String::new(),
                config: DriverConfig::ModbusTcp {
                    host: "127.0.0.1".into(),
                    port: 502,
                    unit: 1,
                    options,
                },
                enabled: true,
            };
            ids.push(create_device(&s, &a, d).unwrap().id);
        }
        let mut w = s.write(&a).unwrap();
        migrate_auto_bridging(&mut w).unwrap();
        w.commit().unwrap();
        let gap = |id| match device(&s.read().unwrap(), id).unwrap().config {
            DriverConfig::ModbusTcp { options, .. } => options.max_gap,
            _ => unreachable!(),
        };
        assert_eq!((gap(ids[0]), gap(ids[1])), (None, Some(8)));
    }
}
