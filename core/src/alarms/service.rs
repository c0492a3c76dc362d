//! Alarm configuration, journal search and the alarm-system KPIs (ISA-18.2 / EEMUA 191).

use std::collections::HashMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::model::{AlarmDef, Condition, Event, EventKind, Priority};
use super::{DEFS, EVENTS};
use crate::error::{self, Error, Result};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Order, Reader, Store};

pub fn defs(r: &impl Reader) -> Result<Vec<AlarmDef>> {
    Ok(r.values(&DEFS)?)
}

fn check(d: &AlarmDef, tags: &crate::tags::engine::Defs) -> Result<()> {
    if matches!(d.condition, Condition::External { .. }) {
        return Err(Error::invalid("condition", "alarms.err.external"));
    }
    let tag = tags
        .get(d.tag)
        .ok_or_else(|| Error::invalid("tag", "alarms.err.tag"))?;
    if tag.data_type == crate::tags::model::DataType::String
        && !matches!(d.condition, Condition::BadQuality { .. })
    {
        return Err(Error::invalid("tag", "alarms.err.tag_text"));
    }
    let finite = |x: f64| x.is_finite();
    let ok = match &d.condition {
        Condition::High { limit }
        | Condition::HighHigh { limit }
        | Condition::Low { limit }
        | Condition::LowLow { limit } => finite(*limit),
        Condition::Deviation { setpoint, limit } => {
            finite(*setpoint) && finite(*limit) && *limit > 0.0
        }
        Condition::RateOfChange { limit_per_min } => finite(*limit_per_min) && *limit_per_min > 0.0,
        Condition::Digital { state } => finite(*state),
        Condition::BadQuality { max_age_s } => *max_age_s <= 86_400,
        Condition::External { .. } => false,
    };
    if !ok {
        return Err(Error::invalid("condition", "alarms.err.limit"));
    }
    if !d.deadband.is_finite() || d.deadband < 0.0 {
        return Err(Error::invalid("deadband", "alarms.err.deadband"));
    }
    if d.on_delay_s > 3600 || d.off_delay_s > 3600 {
        return Err(Error::invalid("on_delay_s", "alarms.err.delay"));
    }
    Ok(())
}

/// A definition as it will be stored, or the first rule it breaks.
fn validated(input: AlarmDef, tags: &crate::tags::engine::Defs) -> Result<AlarmDef> {
    check(&input, tags)?;
    Ok(AlarmDef {
        message_zh: error::text("message_zh", &input.message_zh, 200, true)?,
        message_en: error::text("message_en", &input.message_en, 200, false)?,
        area: error::text("area", &input.area, 40, false)?,
        ..input
    })
}

/// Most definitions one import takes.
pub const MAX_IMPORT: usize = 100_000;

/// Adds many tag alarm definitions at once (a DCS alarm list, a plant template): all rows
/// are checked first, and either every row is added in one transaction or none is and the
/// error names each bad row. Returns the definitions with their ids.
pub fn import_defs(
    store: &Store,
    actor: &Actor,
    tags: &crate::tags::engine::Defs,
    input: Vec<AlarmDef>,
) -> Result<Vec<AlarmDef>> {
    if input.is_empty() || input.len() > MAX_IMPORT {
        return Err(Error::invalid_msg(
            "rows",
            Msg::new("alarms.err.import_size").arg("max", MAX_IMPORT),
        ));
    }
    let mut rows = Vec::new();
    let mut ok = Vec::with_capacity(input.len());
    for (i, d) in input.into_iter().enumerate() {
        match validated(d, tags) {
            Ok(d) => ok.push(d),
            Err(e) => rows.push(e.in_row(i + 1)?),
        }
        // a broken file gets a useful report, not a million lines
        if rows.len() >= 100 {
            break;
        }
    }
    if !rows.is_empty() {
        return Err(Error::Rows(rows));
    }
    let mut w = store.write(actor)?;
    let mut out = Vec::with_capacity(ok.len());
    for d in ok {
        let id = w.next_u32_id(&DEFS)?;
        let d = AlarmDef { id, ..d };
        w.insert(&DEFS, &(id as u64), &d)?;
        out.push(d);
    }
    let (first, last) = (out[0].id, out[out.len() - 1].id);
    w.audit(
        "alarms.def.import",
        format!("alarm:{first}–{last}"),
        Change::created(serde_json::json!({ "count": out.len() })),
    );
    w.commit()?;
    Ok(out)
}

/// Creates (`id` 0) or replaces a tag alarm definition.
pub fn save_def(
    store: &Store,
    actor: &Actor,
    tags: &crate::tags::engine::Defs,
    input: AlarmDef,
) -> Result<AlarmDef> {
    let d = validated(input, tags)?;
    let mut w = store.write(actor)?;
    let before = if d.id == 0 {
        None
    } else {
        w.get(&DEFS, &(d.id as u64))?
    };
    if d.id != 0 && before.is_none() {
        return Err(Error::not_found("alarms.err.not_found"));
    }
    let id = if d.id == 0 {
        w.next_u32_id(&DEFS)?
    } else {
        d.id
    };
    let d = AlarmDef { id, ..d };
    w.insert(&DEFS, &(id as u64), &d)?;
    w.audit_saved("alarms.def", format!("alarm:{id}"), before, &d);
    w.commit()?;
    Ok(d)
}

pub fn delete_def(store: &Store, actor: &Actor, id: u32) -> Result<()> {
    let mut w = store.write(actor)?;
    let before = w
        .remove(&DEFS, &(id as u64))?
        .ok_or_else(|| Error::not_found("alarms.err.not_found"))?;
    w.audit(
        "alarms.def.delete",
        format!("alarm:{id}"),
        Change::deleted(&before),
    );
    w.commit()?;
    Ok(())
}

/// Journal filters.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct JournalQuery {
    /// From (Unix ms).
    #[serde(default)]
    pub from_ms: Option<i64>,
    /// To (Unix ms).
    #[serde(default)]
    pub to_ms: Option<i64>,
    /// `urgent`, `high`, `medium` or `low`.
    #[serde(default)]
    pub priority: Option<String>,
    /// Plant area.
    #[serde(default)]
    pub area: Option<String>,
    /// Text in tag or message.
    #[serde(default)]
    pub q: Option<String>,
    /// One alarm (definition id).
    #[serde(default)]
    pub alarm: Option<u32>,
}

/// Journal entries, newest first, at most `limit`.
pub fn journal(r: &impl Reader, q: &JournalQuery, limit: usize) -> Result<Vec<Event>> {
    let from = q.from_ms.unwrap_or(0).max(0) as u64;
    let to = q.to_ms.map(|t| t.max(0) as u64).unwrap_or(u64::MAX);
    let prio = q
        .priority
        .as_deref()
        .filter(|p| !p.is_empty())
        .and_then(Priority::parse);
    let text = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let area = q.area.as_deref().filter(|a| !a.is_empty());
    let mut out = Vec::new();
    r.visit(&EVENTS, (from, 0)..=(to, u64::MAX), Order::Desc, |_, e| {
        let hit = prio.is_none_or(|p| e.priority == p)
            && q.alarm.is_none_or(|a| e.alarm == a)
            && area.is_none_or(|a| e.area == a)
            && (text.is_empty()
                || e.tag.to_lowercase().contains(&text)
                || e.message_zh.to_lowercase().contains(&text)
                || e.message_en.to_lowercase().contains(&text));
        if hit {
            out.push(e);
        }
        if out.len() >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(out)
}

/// Alarm-system performance over a period (ISA-18.2 section 16, EEMUA 191 benchmarks).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Kpi {
    pub from_ms: i64,
    pub to_ms: i64,
    /// Alarms raised in the period.
    pub raised: usize,
    /// Mean alarms per hour (≈6 acceptable, ≤12 manageable).
    pub per_hour: f64,
    /// Most alarms in any 10-minute window (≤10 target).
    pub peak_per_10min: usize,
    /// Share of the period in flood (>10 per 10 minutes, until <5), in percent (<1 % target).
    pub flood_percent: f64,
    pub floods: Vec<Flood>,
    /// The ten most frequent alarms.
    pub top: Vec<TopAlarm>,
    /// Alarms raised three or more times within a minute (chattering).
    pub chattering: Vec<TopAlarm>,
    /// Raised per priority.
    pub by_priority: HashMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Flood {
    pub start_ms: i64,
    pub end_ms: i64,
    pub alarms: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TopAlarm {
    pub alarm: u32,
    pub tag: String,
    pub message_zh: String,
    pub message_en: String,
    pub count: usize,
}

const WINDOW_MS: i64 = 10 * 60_000;

pub fn kpi(r: &impl Reader, from: i64, to: i64) -> Result<Kpi> {
    let mut raised: Vec<Event> = Vec::new();
    r.visit(
        &EVENTS,
        (from.max(0) as u64, 0)..=(to.max(0) as u64, u64::MAX),
        Order::Asc,
        |_, e| {
            if e.kind == EventKind::Raised {
                raised.push(e);
            }
            ControlFlow::Continue(())
        },
    )?;
    let hours = ((to - from) as f64 / 3_600_000.0).max(1e-9);
    // sliding 10-minute windows over the raise times
    let times: Vec<i64> = raised.iter().map(|e| e.ts_ms).collect();
    let mut peak = 0;
    let mut floods: Vec<Flood> = Vec::new();
    // (start, index of the first alarm in the flood)
    let mut flood: Option<(i64, usize)> = None;
    // a flood ends once fewer than five alarms remain in the trailing window: when the
    // fifth-newest alarm ages out, unless a newer one arrives first
    let ends_at = |newest: usize| {
        if newest >= 4 {
            times[newest - 4] + WINDOW_MS
        } else {
            i64::MIN
        }
    };
    let mut lo = 0;
    for (hi, t) in times.iter().enumerate() {
        if let Some((start, first)) = flood
            && hi > 0
            && ends_at(hi - 1) <= *t
        {
            floods.push(Flood {
                start_ms: start,
                end_ms: ends_at(hi - 1),
                alarms: hi - first,
            });
            flood = None;
        }
        while times[lo] <= t - WINDOW_MS {
            lo += 1;
        }
        let n = hi - lo + 1;
        peak = peak.max(n);
        if flood.is_none() && n > 10 {
            flood = Some((*t, lo));
        }
    }
    if let Some((start, first)) = flood {
        floods.push(Flood {
            start_ms: start,
            end_ms: ends_at(times.len() - 1).min(to),
            alarms: times.len() - first,
        });
    }
    let flood_ms: i64 = floods.iter().map(|f| f.end_ms - f.start_ms).sum();
    let mut counts: HashMap<u32, (usize, &Event)> = HashMap::new();
    let mut per_alarm: HashMap<u32, Vec<i64>> = HashMap::new();
    let mut by_priority: HashMap<String, usize> = HashMap::new();
    for e in &raised {
        counts.entry(e.alarm).or_insert((0, e)).0 += 1;
        per_alarm.entry(e.alarm).or_default().push(e.ts_ms);
        *by_priority.entry(e.priority.id().to_string()).or_default() += 1;
    }
    let top_of = |id: u32, count: usize, e: &Event| TopAlarm {
        alarm: id,
        tag: e.tag.clone(),
        message_zh: e.message_zh.clone(),
        message_en: e.message_en.clone(),
        count,
    };
    let mut top: Vec<TopAlarm> = counts
        .iter()
        .map(|(id, (n, e))| top_of(*id, *n, e))
        .collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then(a.alarm.cmp(&b.alarm)));
    top.truncate(10);
    let mut chattering: Vec<TopAlarm> = per_alarm
        .iter()
        .filter(|(_, ts)| ts.windows(3).any(|w| w[2] - w[0] <= 60_000))
        .map(|(id, ts)| top_of(*id, ts.len(), counts[id].1))
        .collect();
    chattering.sort_by_key(|c| std::cmp::Reverse(c.count));
    Ok(Kpi {
        from_ms: from,
        to_ms: to,
        raised: raised.len(),
        per_hour: raised.len() as f64 / hours,
        peak_per_10min: peak,
        flood_percent: flood_ms as f64 / (to - from).max(1) as f64 * 100.0,
        floods,
        top,
        chattering,
        by_priority,
    })
}

/// A tag alarm definition from what a user typed, for forms.
pub fn condition_of(kind: &str, limit: Option<f64>, setpoint: Option<f64>) -> Result<Condition> {
    let need = |x: Option<f64>, f: &'static str| {
        x.ok_or_else(|| Error::invalid_msg(f, Msg::new("common.err.required").arg("field", f)))
    };
    Ok(match kind {
        "high" => Condition::High {
            limit: need(limit, "limit")?,
        },
        "high_high" => Condition::HighHigh {
            limit: need(limit, "limit")?,
        },
        "low" => Condition::Low {
            limit: need(limit, "limit")?,
        },
        "low_low" => Condition::LowLow {
            limit: need(limit, "limit")?,
        },
        "deviation" => Condition::Deviation {
            setpoint: need(setpoint, "setpoint")?,
            limit: need(limit, "limit")?,
        },
        "rate_of_change" => Condition::RateOfChange {
            limit_per_min: need(limit, "limit")?,
        },
        "digital" => Condition::Digital {
            state: need(limit, "limit")?,
        },
        "bad_quality" => Condition::BadQuality {
            // the limit field: seconds without a reading (empty: only bad values count)
            max_age_s: match limit {
                None => 0,
                Some(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => s as u32,
                Some(_) => return Err(Error::invalid("limit", "alarms.err.max_age")),
            },
        },
        _ => return Err(Error::invalid("kind", "alarms.err.kind")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarms::model::State;
    use crate::store::tests::temp_store;

    fn raised(ts: i64, alarm: u32) -> Event {
        Event {
            ts_ms: ts,
            alarm,
            kind: EventKind::Raised,
            state: State::Unack,
            priority: Priority::High,
            tag: format!("T{alarm}"),
            area: String::new(),
            message_zh: String::new(),
            message_en: String::new(),
            value: None,
            user: None,
            comment: None,
        }
    }

    #[test]
    fn floods_chattering_and_rates() {
        let (_d, s) = temp_store();
        let mut w = s.write(&Actor::system("t")).unwrap();
        let mut seq = 0u64;
        let mut put = |e: Event| {
            seq += 1;
            w.insert(&EVENTS, &(e.ts_ms as u64, seq), &e).unwrap();
        };
        let h = 3_600_000i64;
        // a quiet hour: 4 alarms
        for i in 0..4 {
            put(raised(i * 900_000, 1));
        }
        // a flood: 20 alarms in 5 minutes in the second hour
        for i in 0..20 {
            put(raised(h + i * 15_000, 100 + i as u32 % 3));
        }
        // chattering: alarm 7 three times in 40 s
        for i in 0..3 {
            put(raised(2 * h + i * 20_000, 7));
        }
        w.commit().unwrap();
        let k = kpi(&s.read().unwrap(), 0, 3 * h).unwrap();
        assert_eq!(k.raised, 27);
        assert!((k.per_hour - 9.0).abs() < 1e-9);
        assert_eq!(k.peak_per_10min, 20);
        assert_eq!(k.floods.len(), 1);
        // from the 11th alarm (h+150 s) until the 16th ages out (h+225 s+600 s): 675 s of 3 h
        assert_eq!(
            (k.floods[0].start_ms, k.floods[0].end_ms),
            (h + 150_000, h + 825_000)
        );
        assert_eq!(k.floods[0].alarms, 20);
        assert!(
            (k.flood_percent - 675.0 / 10_800.0 * 100.0).abs() < 1e-9,
            "{}",
            k.flood_percent
        );
        assert!(k.chattering.iter().any(|c| c.alarm == 7));
        assert_eq!(k.top[0].count, 7);
        let j = journal(
            &s.read().unwrap(),
            &JournalQuery {
                q: Some("t7".into()),
                ..Default::default()
            },
            100,
        )
        .unwrap();
        assert_eq!(j.len(), 3);
    }
}
