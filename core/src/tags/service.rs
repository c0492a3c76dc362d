//! The rules of tag and device configuration; the only writer of `tags.defs` and
//! `tags.devices`. After a change the caller reloads the engine and drivers
//! (`App::reload_tags`).

use super::model::{DataType, Device, DriverConfig, Scaling, Source, Tag};
use super::store::{DEVICES, TAGS};
use crate::error::{self, Error, Result};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Reader, Store};

pub fn tags(r: &impl Reader) -> Result<Vec<Tag>> {
    Ok(r.all(&TAGS)?.into_iter().map(|(_, t)| t).collect())
}

pub fn tag_by_name(r: &impl Reader, name: &str) -> Result<Tag> {
    tags(r)?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::NotFound(Msg::new("tags.err.tag_not_found").arg("name", name)))
}

pub fn devices(r: &impl Reader) -> Result<Vec<Device>> {
    Ok(r.all(&DEVICES)?.into_iter().map(|(_, d)| d).collect())
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
    let name = check_name(&t.name)?;
    if tags(r)?.iter().any(|o| o.name == name && o.id != id) {
        return Err(Error::invalid_msg(
            "name",
            Msg::new("tags.err.name_taken").arg("name", &name),
        ));
    }
    match &t.source {
        Source::Manual => {}
        Source::Simulator { device: d, signal } => {
            let dev =
                device(r, *d).map_err(|_| Error::invalid("source", "tags.err.device_not_found"))?;
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
        ..t.clone()
    })
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
    let id =
        u32::try_from(w.next_id(&DEVICES)?).map_err(|_| Error::conflict("tags.err.too_many"))?;
    let d = check_device(&w, &input, id)?;
    w.insert(&DEVICES, &(id as u64), &d)?;
    w.audit(
        "tags.device.create",
        format!("device:{} {}", d.id, d.name),
        Change::created(&d),
    );
    w.commit()?;
    Ok(d)
}

pub fn update_device(store: &Store, actor: &Actor, id: u32, input: Device) -> Result<Device> {
    let mut w = store.write(actor)?;
    let before = device(&w, id)?;
    let d = check_device(&w, &input, id)?;
    w.insert(&DEVICES, &(id as u64), &d)?;
    w.audit(
        "tags.device.update",
        format!("device:{} {}", d.id, d.name),
        Change::updated(&before, &d),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

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
}
