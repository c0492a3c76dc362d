//! The box's key figures, published northbound for a park or group platform (the `summary`
//! device in Sparkplug B, `<prefix>/summary` in JSON) and read back by a park instance
//! (`park`).
//!
//! Names are stable, `<area>/<key>`: `enterprise/name`, `alarms/active`, `alarms/unack`,
//! `alarms/top_priority`, `alarms/list` (JSON of the most urgent annunciated alarms),
//! `alarms/status`, and for every enabled module its [`Module::figures`] as
//! `<module>/<key>` with `<module>/status` (the worst standing) and `<module>/flags`
//! (`key:standing` of the figures not normal). `box/status` is the worst of all.
//!
//! [`Module::figures`]: crate::registry::Module::figures

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alarms::model::Priority;
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
    let list: Vec<serde_json::Value> = app
        .alarms
        .instances(None)
        .into_iter()
        .filter(|i| i.state.is_annunciated())
        .take(ALARM_LIST)
        .map(|i| {
            serde_json::json!({
                "priority": i.priority, "state": i.state, "tag": i.tag, "area": i.area,
                "message_zh": i.message_zh, "message_en": i.message_en, "raised_ms": i.raised_ms,
            })
        })
        .collect();
    // an urgent alarm stands for danger; anything else annunciated wants attention
    let alarms = match s.top {
        Some(Priority::Urgent) => Standing::Danger,
        Some(_) => Standing::Attention,
        None if s.unack > 0 => Standing::Attention,
        None => Standing::Normal,
    };
    f.insert("alarms/active".into(), FigVal::Number(s.active as f64));
    f.insert("alarms/unack".into(), FigVal::Number(s.unack as f64));
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
                tracing::warn!(module = m.id(), error = %e, "key figures not collected");
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
    changed: Figures,
}

impl Feed {
    /// Takes a fresh collection; remembers what differs from the last one.
    pub fn update(&mut self, fresh: Figures) {
        for (k, v) in &fresh {
            if self.current.get(k) != Some(v) {
                self.changed.insert(k.clone(), v.clone());
            }
        }
        self.current = fresh;
    }

    pub fn take_changed(&mut self) -> Figures {
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
        feed.update(f.clone());
        assert_eq!(feed.take_changed().len(), 2);
        feed.update(f.clone());
        assert!(feed.take_changed().is_empty());
        f.insert("alarms/active".into(), FigVal::Number(3.0));
        feed.update(f);
        assert_eq!(
            feed.take_changed().into_iter().collect::<Vec<_>>(),
            [("alarms/active".to_string(), FigVal::Number(3.0))]
        );
        // CBOR, as queued items are stored
        let mut bytes = Vec::new();
        ciborium::into_writer(&feed.current, &mut bytes).unwrap();
        let back: Figures = ciborium::from_reader(&bytes[..]).unwrap();
        assert_eq!(back, feed.current);
    }
}
