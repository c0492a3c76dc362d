//! Inspection rounds (点检): routes of checkpoints on equipment, walked every so many hours
//! with a phone; each checkpoint answered (a look, or a reading judged by its range); the
//! round kept as it was found, and each machine with an abnormal finding gets a corrective
//! work order (one open at a time per machine from rounds).

use std::collections::BTreeMap;

use super::super::model::{
    Answer, CheckKind, CheckResult, Criticality, EqStatus, InspectionRoute, Origin, Round, WoKind,
    WoPriority, WoStep,
};
use super::super::rules::{self, Unanswered};
use super::super::store::{ROUNDS, ROUNDS_BY_ROUTE, ROUTES};
use super::{
    NewOrder, Now, deleted, equipment, ids_under, new_order, orders_of, put, user_id, who,
};
use crate::error::{Error, Result, text};
use crate::i18n::{Lang, Msg};
use crate::store::{Actor, ActorKind, Change, Reader, Store};

/// The most checkpoints a route has (a long walk through a tank farm).
const MAX_POINTS: usize = 200;

pub fn routes(r: &impl Reader) -> Result<Vec<InspectionRoute>> {
    Ok(r.values(&ROUTES)?)
}

pub fn route(r: &impl Reader, id: u64) -> Result<InspectionRoute> {
    r.get(&ROUTES, &id)?
        .ok_or_else(|| Error::not_found("equipment.err.route_not_found"))
}

/// Saves a route: a name, a frequency of 1 hour to 31 days, 1–200 checkpoints each on
/// equipment in the ledger with an item and, for a reading, a range whose low end is not
/// above its high end.
pub fn save_route(
    store: &Store,
    actor: &Actor,
    mut rt: InspectionRoute,
    now_ms: i64,
) -> Result<InspectionRoute> {
    rt.name = text("name", &rt.name, 60, true)?;
    if !(1..=744).contains(&rt.every_hours) {
        return Err(Error::invalid("every_hours", "equipment.err.every_hours"));
    }
    if rt.points.is_empty() || rt.points.len() > MAX_POINTS {
        return Err(Error::invalid_msg(
            "points",
            Msg::new("equipment.err.points_count").arg("max", MAX_POINTS),
        ));
    }
    let mut w = store.write(actor)?;
    for (i, p) in rt.points.iter_mut().enumerate() {
        let bad =
            |key: &'static str| Error::invalid_msg("points", Msg::new(key).arg("line", i + 1));
        p.item = p.item.trim().to_string();
        if p.item.is_empty() || p.item.chars().count() > 60 {
            return Err(bad("equipment.err.point_item"));
        }
        let e = equipment(&w, p.equipment).map_err(|_| bad("equipment.err.point_equipment"))?;
        if e.deleted && rt.active {
            return Err(deleted(&e));
        }
        if let CheckKind::Reading { unit, lo, hi } = &mut p.check {
            *unit = unit.trim().to_string();
            let finite = |x: &Option<f64>| x.is_none_or(f64::is_finite);
            if unit.chars().count() > 12
                || !finite(lo)
                || !finite(hi)
                || matches!((*lo, *hi), (Some(l), Some(h)) if l > h)
            {
                return Err(bad("equipment.err.point_range"));
            }
        }
    }
    if let Some(d) = rt.department
        && crate::org::service::department(&w, d)?.is_none()
    {
        return Err(Error::invalid("department", "equipment.err.department"));
    }
    if routes(&w)?
        .iter()
        .any(|x| x.id != rt.id && x.name.to_lowercase() == rt.name.to_lowercase())
    {
        return Err(Error::invalid_msg(
            "name",
            Msg::new("equipment.err.route_name_taken").arg("name", &rt.name),
        ));
    }
    let before = if rt.id == 0 {
        rt.id = w.next_id(&ROUTES)?;
        rt.made_ms = now_ms;
        rt.last_round_ms = None;
        rt.rev = 1;
        None
    } else {
        let b = route(&w, rt.id)?;
        // switched on again: its rounds are due from now, not late at once
        rt.made_ms = if rt.active && !b.active {
            now_ms
        } else {
            b.made_ms
        };
        rt.last_round_ms = b.last_round_ms;
        rt.rev = b.rev + 1;
        Some(b)
    };
    w.insert(&ROUTES, &rt.id, &rt)?;
    w.audit_saved(
        "equipment.route",
        format!("route:{} {}", rt.id, rt.name),
        before,
        &rt,
    );
    w.commit()?;
    Ok(rt)
}

/// A round as the walker sends it.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct RoundInput {
    /// One per checkpoint, in the route's order.
    pub answers: Vec<Answer>,
    /// The route's revision the walker was shown (the walk page sends it): a round
    /// walked on checkpoints since changed is refused rather than filed under the new ones.
    #[serde(default)]
    pub rev: Option<u64>,
}

/// Records a round walked by a person of the route's department (or one who holds the
/// approve level): every checkpoint answered, in the route's order; a point on a machine
/// that is not running may be skipped. Each machine with abnormal findings gets a
/// corrective work order naming them (high priority on a criticality-A machine); when one
/// opened by an earlier round is still open, the findings are added to it instead.
pub fn record_round(
    store: &Store,
    actor: &Actor,
    route_id: u64,
    input: RoundInput,
    approver: bool,
    now: Now,
) -> Result<Round> {
    // a round is walked: a person's record, not a machine token's
    if actor.kind != ActorKind::User {
        return Err(Error::Forbidden(Msg::new("equipment.err.round_person")));
    }
    let RoundInput { answers, rev } = input;
    let mut w = store.write(actor)?;
    let rt = route(&w, route_id)?;
    if !rt.active {
        return Err(Error::invalid("route", "equipment.err.route_inactive"));
    }
    if rev.is_some_and(|r| r != rt.rev) {
        return Err(Error::Conflict(Msg::new("equipment.err.route_changed")));
    }
    if let Some(d) = rt.department
        && !approver
    {
        let mine = crate::auth::service::user(&w, actor.id)?.and_then(|u| u.department_id);
        if mine != Some(d) {
            let name = crate::org::service::department(&w, d)?
                .map(|x| x.name)
                .unwrap_or_default();
            return Err(Error::Forbidden(
                Msg::new("equipment.err.route_department").arg("department", name),
            ));
        }
    }
    if answers.len() != rt.points.len() {
        return Err(Error::invalid_msg(
            "answers",
            Msg::new("equipment.err.answers_count")
                .arg("points", rt.points.len())
                .arg("answers", answers.len()),
        ));
    }
    let mut results = Vec::with_capacity(answers.len());
    for (i, (p, a)) in rt.points.iter().zip(answers).enumerate() {
        let at = |key: &'static str| {
            Error::invalid_msg(
                "answers",
                Msg::new(key).arg("line", i + 1).arg("item", &p.item),
            )
        };
        let note = a.note.trim().to_string();
        if note.chars().count() > 200 {
            return Err(at("equipment.err.answer_note_long"));
        }
        if a.skip {
            // only a machine that is not running goes unchecked
            let e = equipment(&w, p.equipment)?;
            if e.status == EqStatus::Running {
                return Err(Error::invalid_msg(
                    "answers",
                    Msg::new("equipment.err.skip_running")
                        .arg("line", i + 1)
                        .arg("tag_no", &e.tag_no),
                ));
            }
            results.push(CheckResult {
                equipment: p.equipment,
                item: p.item.clone(),
                check: p.check.clone(),
                normal: true,
                value: None,
                note,
                skipped: true,
            });
            continue;
        }
        let normal = rules::judge_answer(&p.check, &a).map_err(|why| {
            at(match why {
                Unanswered::Missing => "equipment.err.answer_missing",
                Unanswered::NoteNeeded => "equipment.err.answer_note",
                Unanswered::Implausible => "equipment.err.answer_implausible",
            })
        })?;
        results.push(CheckResult {
            equipment: p.equipment,
            item: p.item.clone(),
            check: p.check.clone(),
            normal,
            value: match p.check {
                CheckKind::Look => None,
                CheckKind::Reading { .. } => a.value,
            },
            note,
            skipped: false,
        });
    }
    let actor = w.actor().clone();
    let mut round = Round {
        id: w.next_id(&ROUNDS)?,
        route: rt.id,
        route_name: rt.name.clone(),
        ts_ms: now.ms,
        by: who(&w, &actor)?,
        by_id: user_id(&actor),
        results,
        orders: Vec::new(),
    };
    // the findings, machine by machine in the route's order
    let mut findings: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut order_of_machines = Vec::new();
    for r in round.results.iter().filter(|r| !r.normal) {
        if !findings.contains_key(&r.equipment) {
            order_of_machines.push(r.equipment);
        }
        findings
            .entry(r.equipment)
            .or_default()
            .push(finding_text(r));
    }
    for id in order_of_machines {
        let e = equipment(&w, id)?;
        if e.deleted {
            continue;
        }
        let found = &findings[&id];
        // found again while an earlier round's order is open: the findings go onto it
        if let Some(mut o) = orders_of(&w, id)?
            .into_iter()
            .find(|o| o.state.is_open() && matches!(o.origin, Origin::Inspection { .. }))
        {
            let note: String = found.join("；").chars().take(500).collect();
            o.description = format!(
                "{}\n{}",
                o.description,
                Msg::new("equipment.wo.inspection_again")
                    .arg("route", &rt.name)
                    .arg("by", &round.by)
                    .arg("findings", &note)
                    .render(Lang::ZhCn)
            )
            .chars()
            .take(2000)
            .collect();
            o.steps.push(WoStep {
                at_ms: now.ms,
                by: round.by.clone(),
                action: "finding".into(),
                note,
            });
            put(&mut w, &o, Some(o.state))?;
            round.orders.push(o.id);
            continue;
        }
        let title: String = Msg::new("equipment.wo.inspection_title")
            .arg("tag_no", &e.tag_no)
            .arg("finding", &found[0])
            .render(Lang::ZhCn)
            .chars()
            .take(100)
            .collect();
        let description = Msg::new("equipment.wo.inspection_description")
            .arg("route", &rt.name)
            .arg("by", &round.by)
            .arg("findings", found.join("\n"))
            .render(Lang::ZhCn);
        let o = new_order(
            &mut w,
            &e,
            NewOrder {
                equipment: id,
                kind: WoKind::Corrective,
                title,
                description: description.chars().take(2000).collect(),
                priority: if e.criticality == Criticality::A {
                    WoPriority::High
                } else {
                    WoPriority::Normal
                },
                stopped: false,
                due: None,
                needs_permits: Vec::new(),
            },
            Origin::Inspection {
                route: rt.id,
                round: round.id,
            },
            now,
        )?;
        round.orders.push(o.id);
    }
    w.insert(&ROUNDS, &round.id, &round)?;
    w.insert(&ROUNDS_BY_ROUTE, &(rt.id, round.id), &())?;
    let mut rt = rt;
    rt.last_round_ms = Some(now.ms);
    w.insert(&ROUTES, &rt.id, &rt)?;
    w.audit(
        "equipment.round",
        format!("round:{} {}", round.id, rt.name),
        Change::created(serde_json::json!({
            "route": rt.id, "abnormal": round.abnormal(), "orders": round.orders,
        })),
    );
    w.commit()?;
    Ok(round)
}

/// A finding as a work order names it: `轴承温度 78 ℃（≤ 70）` or `机封无泄漏：滴漏`.
fn finding_text(r: &CheckResult) -> String {
    let mut s = r.item.clone();
    if let (CheckKind::Reading { unit, lo, hi }, Some(v)) = (&r.check, r.value) {
        s.push_str(&format!(" {v} {unit}"));
        let range = match (lo, hi) {
            (Some(l), Some(h)) => format!("{l}–{h}"),
            (None, Some(h)) => format!("≤ {h}"),
            (Some(l), None) => format!("≥ {l}"),
            (None, None) => String::new(),
        };
        if !range.is_empty() {
            s.push_str(&format!("（{range}）"));
        }
    }
    if !r.note.is_empty() {
        s.push_str(&format!("：{}", r.note));
    }
    s
}

pub fn round(r: &impl Reader, id: u64) -> Result<Round> {
    r.get(&ROUNDS, &id)?
        .ok_or_else(|| Error::not_found("equipment.err.round_not_found"))
}

/// A route's rounds, newest first, at most `limit`.
pub fn rounds_of(r: &impl Reader, route: u64, limit: usize) -> Result<Vec<Round>> {
    ids_under(r, &ROUNDS_BY_ROUTE, route)?
        .into_iter()
        .take(limit)
        .map(|id| self::round(r, id))
        .collect()
}

/// When an active route's next round is due.
pub fn due_ms(rt: &InspectionRoute) -> i64 {
    rules::round_due_ms(rt.last_round_ms, rt.made_ms, rt.every_hours)
}

/// Active routes whose round is past due at `now_ms`, with the time it fell due.
pub fn late_routes(r: &impl Reader, now_ms: i64) -> Result<Vec<(InspectionRoute, i64)>> {
    Ok(routes(r)?
        .into_iter()
        .filter(|rt| rt.active)
        .map(|rt| {
            let due = due_ms(&rt);
            (rt, due)
        })
        .filter(|(_, due)| *due < now_ms)
        .collect())
}

/// The latest rounds of every route, newest first.
pub fn recent_rounds(r: &impl Reader, limit: usize) -> Result<Vec<Round>> {
    let mut out = Vec::new();
    r.visit(&ROUNDS, .., crate::store::Order::Desc, |_, v| {
        out.push(v);
        if out.len() >= limit {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })?;
    Ok(out)
}
