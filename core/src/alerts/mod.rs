//! Alerts (提醒): conditions that need a responsible person, not an operator — a certificate
//! due, an inspection not done, a hidden danger past its deadline, stock below its safety
//! level, a person with an expired certificate at a gate. ISA-18.2 (2016) keeps these off
//! the operators' alarm list: an alarm needs an operator's response, an alert does not.
//!
//! A module raises its alerts with [`sync`] (the standing set under its prefixes, from its
//! periodic checks) or [`pulse`] (an event that stays until someone acknowledges it). Each
//! alert is routed to the people responsible — named owners, and the holders of a level in
//! the module, optionally only those of given departments — resolved to user ids when it is
//! raised and again at every sync, so a person who joins the department sees it. An alert
//! nobody acknowledges within its priority's delay is escalated to the module's approvers
//! plant-wide (managers, the module lead, admins). Alerts have their own list (`/alerts`),
//! badge and notifications (channels that opt in), and never reach the alarm list, its
//! banner or the alarm KPIs.
//!
//! Owns `alerts.items` (standing, by source) and `alerts.closed` (the latest cleared ones).

pub mod routes;

use serde::{Deserialize, Serialize};

use crate::alarms::model::{Priority, Text};
use crate::auth::model::{Level, User};
use crate::error::{Error, Result};
use crate::i18n::{Lang, Msg};
use crate::store::{Actor, Order, Reader, Store, Table, WriteTx};

/// Standing alerts, keyed by source (`safety.certificate:12`).
const ITEMS: Table<String, Alert> = Table::new("alerts.items");
/// Cleared and acknowledged alerts, by id, the latest [`KEEP_CLOSED`].
const CLOSED: Table<u64, Alert> = Table::new("alerts.closed");
const KEEP_CLOSED: usize = 2_000;

/// Who an alert is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Route {
    /// The record's owners (an assignee, an applicant): always included.
    #[serde(default)]
    pub users: Vec<u64>,
    /// The module whose holders of `level` receive it.
    pub module: String,
    pub level: Level,
    /// Only holders in these departments (empty: plant-wide).
    #[serde(default)]
    pub departments: Vec<u64>,
}

impl Route {
    /// Holders of `level` in `module`, plant-wide.
    pub fn holders(module: &str, level: Level) -> Route {
        Route {
            users: Vec::new(),
            module: module.to_string(),
            level,
            departments: Vec::new(),
        }
    }
    pub fn owners(mut self, users: impl IntoIterator<Item = u64>) -> Route {
        self.users.extend(users.into_iter().filter(|u| *u != 0));
        self
    }
    pub fn in_departments(mut self, departments: impl IntoIterator<Item = u64>) -> Route {
        self.departments
            .extend(departments.into_iter().filter(|d| *d != 0));
        self
    }
}

/// What a module raises.
#[derive(Debug, Clone)]
pub struct Raise {
    /// Identifies the condition; a module's sources share its prefixes.
    pub source: String,
    pub priority: Priority,
    pub text: Text,
    /// The page of the record it is about.
    pub link: String,
    pub route: Route,
}

/// Someone's acknowledgement: "seen, I am on it".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ack {
    pub user: u64,
    pub name: String,
    pub at_ms: i64,
    #[serde(default)]
    pub comment: String,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: u64,
    pub source: String,
    /// The module that raised it.
    pub module: String,
    pub priority: Priority,
    pub zh: String,
    pub en: String,
    pub link: String,
    pub route: Route,
    /// The people it was routed to (resolved from `route`).
    pub to: Vec<u64>,
    /// The people it was escalated to, beyond `to`.
    #[serde(default)]
    pub escalated_to: Vec<u64>,
    #[serde(default)]
    pub escalated_ms: Option<i64>,
    /// Whether its condition holds now; an event (a pulse) is inactive from the start and
    /// stays listed until acknowledged.
    pub active: bool,
    pub raised_ms: i64,
    pub changed_ms: i64,
    /// How many times it was raised while standing (events at a gate).
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub ack: Option<Ack>,
    #[serde(default)]
    pub cleared_ms: Option<i64>,
}

fn one() -> u32 {
    1
}

impl Alert {
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::En if !self.en.is_empty() => &self.en,
            _ => &self.zh,
        }
    }

    /// Whether `user` receives it (routed or escalated).
    pub fn is_for(&self, user: u64) -> bool {
        self.to.contains(&user) || self.escalated_to.contains(&user)
    }
}

/// How long an alert may go unacknowledged before it is escalated.
pub fn escalate_after_ms(p: Priority) -> i64 {
    const HOUR: i64 = 3_600_000;
    match p {
        Priority::Urgent | Priority::High => 4 * HOUR,
        Priority::Medium => 24 * HOUR,
        Priority::Low => 72 * HOUR,
    }
}

/// The enabled people and their grants on the modules alerts name, read once per change.
struct People(Vec<(User, crate::auth::model::Grants)>);

impl People {
    fn load(r: &impl Reader, modules: &[&str]) -> Result<People> {
        let refs: Vec<(&str, crate::registry::Kind)> = modules
            .iter()
            .map(|m| (*m, crate::registry::Kind::N))
            .collect();
        let mut out = Vec::new();
        for u in crate::auth::service::users(r)?
            .into_iter()
            .filter(|u| u.enabled)
        {
            let g = crate::auth::service::user_grants(r, &u, &refs)?;
            out.push((u, g));
        }
        Ok(People(out))
    }

    fn holds(&self, g: &crate::auth::model::Grants, module: &str, level: Level) -> bool {
        g.get(module).is_some_and(|l| l.has(level))
    }

    /// The people `route` names: its owners and the holders of its level (in its
    /// departments); when that is nobody, the module's approvers plant-wide, so an alert
    /// always reaches someone who can act on it.
    fn resolve(&self, route: &Route) -> Vec<u64> {
        let mut to: Vec<u64> = self
            .0
            .iter()
            .filter(|(u, g)| {
                route.users.contains(&u.id)
                    || (self.holds(g, &route.module, route.level)
                        && (route.departments.is_empty()
                            || u.department_id
                                .is_some_and(|d| route.departments.contains(&d))))
            })
            .map(|(u, _)| u.id)
            .collect();
        if to.is_empty() {
            to = self.approvers(&route.module);
        }
        to
    }

    /// Holders of the module's approve level, plant-wide.
    fn approvers(&self, module: &str) -> Vec<u64> {
        self.0
            .iter()
            .filter(|(_, g)| self.holds(g, module, Level::Approve))
            .map(|(u, _)| u.id)
            .collect()
    }
}

fn standing_under(r: &impl Reader, prefix: &str) -> Result<Vec<Alert>> {
    Ok(r.values(&ITEMS)?
        .into_iter()
        .filter(|a| a.source.starts_with(prefix))
        .collect())
}

/// Moves a finished alert to the closed list, keeping the latest [`KEEP_CLOSED`].
fn close(w: &mut WriteTx, a: Alert) -> Result<()> {
    w.remove(&ITEMS, &a.source)?;
    w.insert(&CLOSED, &a.id, &a)?;
    let extra = w.count(&CLOSED)? as usize;
    if extra > KEEP_CLOSED {
        let mut old = Vec::new();
        w.visit(&CLOSED, .., Order::Asc, |k, _| {
            old.push(k);
            if old.len() >= extra - KEEP_CLOSED {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })?;
        for k in old {
            w.remove(&CLOSED, &k)?;
        }
    }
    Ok(())
}

fn new_alert(w: &mut WriteTx, module: &str, r: &Raise, to: Vec<u64>, now_ms: i64) -> Result<Alert> {
    Ok(Alert {
        id: w.next_id(&CLOSED)?,
        source: r.source.clone(),
        module: module.to_string(),
        priority: r.priority,
        zh: r.text.zh.clone(),
        en: r.text.en.clone(),
        link: r.link.clone(),
        route: r.route.clone(),
        to,
        escalated_to: Vec::new(),
        escalated_ms: None,
        active: true,
        raised_ms: now_ms,
        changed_ms: now_ms,
        count: 1,
        ack: None,
        cleared_ms: None,
    })
}

/// Makes `module`'s alerts under `prefixes` what `standing` says: raises the new ones,
/// updates the text, priority, link and recipients of those already standing (keeping
/// their acknowledgement unless the priority rose), and clears every other active one
/// under those prefixes. Writes only when something changed. Returns the alerts raised
/// now (for the notification channels).
pub fn sync(
    store: &Store,
    module: &str,
    prefixes: &[&str],
    standing: Vec<Raise>,
    now_ms: i64,
) -> Result<Vec<Alert>> {
    let r = store.read()?;
    let mut before = std::collections::HashMap::new();
    for p in prefixes {
        for a in standing_under(&r, p)? {
            before.insert(a.source.clone(), a);
        }
    }
    let mut modules: Vec<&str> = standing.iter().map(|s| s.route.module.as_str()).collect();
    modules.sort_unstable();
    modules.dedup();
    let people = People::load(&r, &modules)?;
    drop(r);
    let mut raised = Vec::new();
    let mut changes: Vec<Alert> = Vec::new();
    let mut inserts: Vec<(Raise, Vec<u64>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in standing {
        if !seen.insert(s.source.clone()) {
            continue;
        }
        let to = people.resolve(&s.route);
        match before.get(&s.source) {
            Some(a) if a.active => {
                let mut b = a.clone();
                b.zh.clone_from(&s.text.zh);
                b.en.clone_from(&s.text.en);
                b.link.clone_from(&s.link);
                b.route = s.route.clone();
                b.to = to;
                if s.priority < a.priority {
                    // more urgent than when it was seen: it needs a new look
                    b.ack = None;
                    b.escalated_ms = None;
                    b.escalated_to.clear();
                }
                b.priority = s.priority;
                if b != *a {
                    b.changed_ms = now_ms;
                    changes.push(b);
                }
            }
            _ => inserts.push((s, to)),
        }
    }
    let cleared: Vec<Alert> = before
        .into_values()
        .filter(|a| a.active && !seen.contains(&a.source))
        .collect();
    if changes.is_empty() && inserts.is_empty() && cleared.is_empty() {
        return Ok(raised);
    }
    let mut w = store.write(&Actor::system(module))?;
    for a in changes {
        w.insert(&ITEMS, &a.source, &a)?;
    }
    for (s, to) in inserts {
        // a standing event under the same source (acknowledged or not) is replaced
        if let Some(old) = w.get(&ITEMS, &s.source)? {
            let mut old = old;
            old.cleared_ms = Some(now_ms);
            close(&mut w, old)?;
        }
        let a = new_alert(&mut w, module, &s, to, now_ms)?;
        w.insert(&ITEMS, &a.source, &a)?;
        raised.push(a);
    }
    for mut a in cleared {
        a.active = false;
        a.cleared_ms = Some(now_ms);
        a.changed_ms = now_ms;
        close(&mut w, a)?;
    }
    // alerts are the system's bookkeeping of module state: no audit entry per change
    w.commit()?;
    Ok(raised)
}

/// Raises an event alert (a person with an expired certificate at a gate): it stays until
/// someone acknowledges it; another event of the same source meanwhile counts up and
/// takes the newer text. Returns the alert when it is new.
pub fn pulse(store: &Store, module: &str, s: Raise, now_ms: i64) -> Result<Option<Alert>> {
    let r = store.read()?;
    let people = People::load(&r, &[s.route.module.as_str()])?;
    drop(r);
    let to = people.resolve(&s.route);
    let mut w = store.write(&Actor::system(module))?;
    let out = match w.get(&ITEMS, &s.source)? {
        Some(mut a) if a.ack.is_none() => {
            a.count = a.count.saturating_add(1);
            a.zh.clone_from(&s.text.zh);
            a.en.clone_from(&s.text.en);
            a.priority = a.priority.min(s.priority);
            a.to = to;
            a.changed_ms = now_ms;
            w.insert(&ITEMS, &a.source, &a)?;
            None
        }
        old => {
            if let Some(mut old) = old {
                old.cleared_ms = Some(now_ms);
                close(&mut w, old)?;
            }
            let mut a = new_alert(&mut w, module, &s, to, now_ms)?;
            a.active = false;
            w.insert(&ITEMS, &a.source, &a)?;
            Some(a)
        }
    };
    w.commit()?;
    Ok(out)
}

/// Escalates every standing alert nobody acknowledged within its delay to the module's
/// approvers plant-wide. Returns the alerts escalated now.
pub fn escalate(store: &Store, now_ms: i64) -> Result<Vec<Alert>> {
    let r = store.read()?;
    let due: Vec<Alert> = r
        .values(&ITEMS)?
        .into_iter()
        .filter(|a| {
            a.ack.is_none()
                && a.escalated_ms.is_none()
                && now_ms - a.raised_ms >= escalate_after_ms(a.priority)
        })
        .collect();
    if due.is_empty() {
        return Ok(due);
    }
    let mut modules: Vec<&str> = due.iter().map(|a| a.route.module.as_str()).collect();
    modules.sort_unstable();
    modules.dedup();
    let people = People::load(&r, &modules)?;
    drop(r);
    let mut w = store.write(&Actor::system("alerts"))?;
    let mut out = Vec::new();
    for mut a in due {
        a.escalated_to = people
            .approvers(&a.route.module)
            .into_iter()
            .filter(|u| !a.to.contains(u))
            .collect();
        a.escalated_ms = Some(now_ms);
        a.changed_ms = now_ms;
        w.insert(&ITEMS, &a.source, &a)?;
        out.push(a);
    }
    w.commit()?;
    Ok(out)
}

/// Acknowledges one of `user`'s alerts; an event or a cleared one then leaves the list.
pub fn ack(store: &Store, actor: &Actor, id: u64, comment: &str, now_ms: i64) -> Result<Alert> {
    let comment = comment.trim();
    if comment.chars().count() > 500 {
        return Err(Error::invalid("comment", "alerts.err.comment"));
    }
    let mut w = store.write(actor)?;
    let Some(mut a) = w.values(&ITEMS)?.into_iter().find(|a| a.id == id) else {
        return Err(Error::not_found("alerts.err.not_found"));
    };
    if !a.is_for(actor.id) {
        return Err(Error::Forbidden(Msg::new("alerts.err.not_yours")));
    }
    if a.ack.is_some() {
        return Err(Error::Conflict(Msg::new("alerts.err.acked")));
    }
    let before = a.clone();
    a.ack = Some(Ack {
        user: actor.id,
        name: actor.name.clone(),
        at_ms: now_ms,
        comment: comment.to_string(),
    });
    a.changed_ms = now_ms;
    w.audit(
        "alerts.ack",
        format!("alert:{}", a.source),
        crate::store::Change::updated(&before, &a),
    );
    if a.active {
        w.insert(&ITEMS, &a.source, &a)?;
    } else {
        a.cleared_ms.get_or_insert(now_ms);
        close(&mut w, a.clone())?;
    }
    w.commit()?;
    Ok(a)
}

/// `user`'s standing alerts, unacknowledged first, then by priority and newest.
pub fn for_user(r: &impl Reader, user: u64) -> Result<Vec<Alert>> {
    let mut v: Vec<Alert> = r
        .values(&ITEMS)?
        .into_iter()
        .filter(|a| a.is_for(user))
        .collect();
    v.sort_by(|a, b| {
        (a.ack.is_some(), a.priority, std::cmp::Reverse(a.raised_ms)).cmp(&(
            b.ack.is_some(),
            b.priority,
            std::cmp::Reverse(b.raised_ms),
        ))
    });
    Ok(v)
}

/// Every standing alert (for admins and the API's `all`).
pub fn all(r: &impl Reader) -> Result<Vec<Alert>> {
    let mut v = r.values(&ITEMS)?;
    v.sort_by_key(|a| (a.ack.is_some(), a.priority, std::cmp::Reverse(a.raised_ms)));
    Ok(v)
}

/// How many of `user`'s standing alerts nobody has acknowledged: the top bar's badge.
pub fn unacked(r: &impl Reader, user: u64) -> Result<usize> {
    let mut n = 0;
    r.visit(&ITEMS, .., Order::Asc, |_, a: Alert| {
        if a.ack.is_none() && a.is_for(user) {
            n += 1;
        }
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(n)
}

/// The latest closed alerts that were `user`'s (or everyone's with `None`), newest first.
pub fn closed(r: &impl Reader, user: Option<u64>, limit: usize) -> Result<Vec<Alert>> {
    let mut out = Vec::new();
    r.visit(&CLOSED, .., Order::Desc, |_, a: Alert| {
        if user.is_none_or(|u| a.is_for(u)) {
            out.push(a);
        }
        if out.len() >= limit {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests;
