//! The box's key figures, published northbound for a park or group platform (the `summary`
//! device in Sparkplug B, `<prefix>/summary` in JSON) and read back by a park instance
//! (`park`).
//!
//! Names are stable, `<area>/<key>`: `enterprise/name`, `alarms/active` (annunciated),
//! `alarms/unack`, `alarms/shelved`, `alarms/out_of_service`, `alarms/top_priority`,
//! `alarms/list` (JSON of the most urgent annunciated alarms), `alarms/status`, and for every
//! enabled module its [`Module::figures`] as `<module>/<key>` with `<module>/status` (the
//! worst standing; `attention` when the module could not say) and `<module>/flags`
//! (`key:standing` of the figures not normal). `box/status` is the worst of all.
//!
//! Sent when they change; a figure no longer collected is sent as null (gone), and every
//! minute all of them again, so a park that started later hears from a quiet plant.
//!
//! [`Module::figures`]: crate::registry::Module::figures

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alarms::model::{Priority, State};
use crate::app::App;
use crate::registry::Standing;

/// A figure's value: a count or measure, or a text (a name, a standing, a JSON list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum FigVal {
    Number(f64),
    Text(String),
}

pub type Figures = BTreeMap<String, FigVal>;

/// Figures that changed: `None` for one no longer collected.
pub type Changes = BTreeMap<String, Option<FigVal>>;

/// How often every figure is sent again, changed or not.
pub const RESEND_MS: i64 = 60_000;

/// How many alarms `alarms/list` carries (most urgent, newest first).
pub const ALARM_LIST: usize = 10;

pub fn standing_text(s: Standing) -> &'static str {
    match s {
        Standing::Normal => "normal",
        Standing::Attention => "attention",
        Standing::Danger => "danger",
    }
}

/// The figures now. A module whose figures fail is left out (and logged), not the rest.
pub fn collect(app: &App) -> Figures {
    let mut f = Figures::new();
    let text = |s: &str| FigVal::Text(s.to_string());
    let name = app
        .store
        .read()
        .map_err(crate::error::Error::from)
        .and_then(|r| crate::org::service::profile(&r))
        .map(|p| p.company_name)
        .unwrap_or_default();
    f.insert("enterprise/name".into(), FigVal::Text(name));

    let s = app.alarms.summary();
    let live = app.alarms.instances(None);
    let list: Vec<serde_json::Value> = live
        .iter()
        .filter(|i| i.state.is_annunciated())
        .take(ALARM_LIST)
        .map(|i| {
            serde_json::json!({
                "priority": i.priority, "state": i.state, "tag": i.tag, "area": i.area,
                "message_zh": i.message_zh, "message_en": i.message_en, "raised_ms": i.raised_ms,
            })
        })
        .collect();
    // ISA-18.2: an urgent alarm whose condition holds is danger; anything else annunciated
    // (returned but unacknowledged, latched, lower priorities) wants attention, and so does
    // an urgent or high alarm whose condition holds while it is shelved or out of service
    // (hidden from the operators, still there)
    let hidden = |i: &crate::alarms::model::Instance| {
        matches!(i.state, State::Shelved | State::OutOfService)
            && i.active
            && i.priority <= Priority::High
    };
    let alarms = if live
        .iter()
        .any(|i| i.state.is_annunciated() && i.active && i.priority == Priority::Urgent)
    {
        Standing::Danger
    } else if live.iter().any(|i| i.state.is_annunciated() || hidden(i)) {
        Standing::Attention
    } else {
        Standing::Normal
    };
    f.insert("alarms/active".into(), FigVal::Number(s.active as f64));
    f.insert("alarms/unack".into(), FigVal::Number(s.unack as f64));
    f.insert("alarms/shelved".into(), FigVal::Number(s.shelved as f64));
    f.insert(
        "alarms/out_of_service".into(),
        FigVal::Number(s.out_of_service as f64),
    );
    f.insert(
        "alarms/top_priority".into(),
        text(s.top.map_or("", |p| p.id())),
    );
    f.insert(
        "alarms/list".into(),
        FigVal::Text(serde_json::Value::from(list).to_string()),
    );
    f.insert("alarms/status".into(), text(standing_text(alarms)));

    let mut worst = alarms;
    for m in app.registry.modules() {
        if !app.registry.is_enabled(m.id()) {
            continue;
        }
        let figures = match m.figures(app) {
            Ok(v) if !v.is_empty() => v,
            Ok(_) => continue,
            Err(e) => {
                // the park must not read a module that cannot say as one with nothing to say
                tracing::warn!(module = m.id(), error = %e, "key figures not collected");
                f.insert(
                    format!("{}/status", m.id()),
                    text(standing_text(Standing::Attention)),
                );
                f.insert(format!("{}/flags", m.id()), text("figures:unavailable"));
                worst = worst.max(Standing::Attention);
                continue;
            }
        };
        let status = figures
            .iter()
            .map(|x| x.standing)
            .max()
            .unwrap_or(Standing::Normal);
        let flags: Vec<String> = figures
            .iter()
            .filter(|x| x.standing != Standing::Normal)
            .map(|x| format!("{}:{}", x.key, standing_text(x.standing)))
            .collect();
        for x in &figures {
            f.insert(format!("{}/{}", m.id(), x.key), FigVal::Number(x.value));
        }
        f.insert(format!("{}/status", m.id()), text(standing_text(status)));
        f.insert(format!("{}/flags", m.id()), FigVal::Text(flags.join(",")));
        worst = worst.max(status);
    }
    f.insert("box/status".into(), text(standing_text(worst)));
    f
}

/// The figures as published, and which changed since the collector last took them.
#[derive(Debug, Default)]
pub struct Feed {
    pub current: Figures,
    changed: Changes,
    all_sent_ms: i64,
}

impl Feed {
    /// Takes a fresh collection at `now_ms`; remembers what differs from the last one (and
    /// every figure once a minute).
    pub fn update(&mut self, fresh: Figures, now_ms: i64) {
        let again = now_ms.saturating_sub(self.all_sent_ms) >= RESEND_MS;
        if again {
            self.all_sent_ms = now_ms;
        }
        for k in self.current.keys() {
            if !fresh.contains_key(k) {
                self.changed.insert(k.clone(), None);
            }
        }
        for (k, v) in &fresh {
            if again || self.current.get(k) != Some(v) {
                self.changed.insert(k.clone(), Some(v.clone()));
            }
        }
        self.current = fresh;
    }

    pub fn take_changed(&mut self) -> Changes {
        std::mem::take(&mut self.changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_hands_over_only_what_changed() {
        let mut feed = Feed::default();
        let mut f = Figures::new();
        f.insert("alarms/active".into(), FigVal::Number(2.0));
        f.insert("enterprise/name".into(), FigVal::Text("兰溪化工".into()));
        f.insert("quality/status".into(), FigVal::Text("normal".into()));
        let t0 = 1_000_000;
        feed.update(f.clone(), t0);
        assert_eq!(feed.take_changed().len(), 3);
        feed.update(f.clone(), t0 + 5_000);
        assert!(feed.take_changed().is_empty());
        f.insert("alarms/active".into(), FigVal::Number(3.0));
        // a module switched off: its figures go
        f.remove("quality/status");
        feed.update(f.clone(), t0 + 10_000);
        let changed = feed.take_changed();
        assert_eq!(
            changed.into_iter().collect::<Vec<_>>(),
            [
                ("alarms/active".to_string(), Some(FigVal::Number(3.0))),
                ("quality/status".to_string(), None),
            ]
        );
        // a minute on, all of them again
        feed.update(f.clone(), t0 + RESEND_MS);
        assert_eq!(feed.take_changed().len(), 2);
        // CBOR, as queued items are stored
        let changes: Changes = [
            ("a".to_string(), None),
            ("b".to_string(), Some(FigVal::Number(1.5))),
        ]
        .into();
        let mut bytes = Vec::new();
        ciborium::into_writer(&changes, &mut bytes).unwrap();
        let back: Changes = ciborium::from_reader(&bytes[..]).unwrap();
        assert_eq!(back, changes);
    }
}
