use super::*;
use crate::store::tests::temp_store;

const HOUR: i64 = 3_600_000;

/// A store with: a maintenance lead in each of two departments, a mechanic (write only) in
/// the first, a plant manager (approve everywhere, no write) and an operator.
struct Plant {
    _dir: tempfile::TempDir,
    store: Store,
    dept_a: u64,
    dept_b: u64,
    lead_a: u64,
    lead_b: u64,
    manager: u64,
    operator: u64,
}

fn user(store: &Store, name: &str, dept: Option<u64>, role: &str) -> u64 {
    crate::auth::service::create_user(
        store,
        &Actor::system("t"),
        crate::auth::service::NewUser {
            username: name.into(),
            display_name: name.into(),
            password: "Alerts-2026-test".into(),
            department_id: dept,
            roles: vec![role.into()],
            phone: String::new(),
            email: String::new(),
            must_change_password: false,
        },
    )
    .unwrap()
    .id
}

fn plant() -> Plant {
    let (dir, store) = temp_store();
    let sys = Actor::system("t");
    let dept_a = crate::org::service::create_department(&store, &sys, "机修一", "")
        .unwrap()
        .id;
    let dept_b = crate::org::service::create_department(&store, &sys, "机修二", "")
        .unwrap()
        .id;
    let lead_a = user(&store, "lead.a", Some(dept_a), "maintenance");
    let lead_b = user(&store, "lead.b", Some(dept_b), "maintenance");
    let manager = user(&store, "boss", None, "manager");
    let operator = user(&store, "op", Some(dept_a), "operator");
    Plant {
        _dir: dir,
        store,
        dept_a,
        dept_b,
        lead_a,
        lead_b,
        manager,
        operator,
    }
}

fn raise(source: &str, p: Priority, route: Route) -> Raise {
    Raise {
        source: source.into(),
        priority: p,
        text: Text {
            zh: format!("提醒 {source}"),
            en: format!("Alert {source}"),
        },
        link: "/equipment".into(),
        route,
    }
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

#[test]
fn an_alert_reaches_its_owners_and_the_level_holders_of_its_departments_only() {
    let p = plant();
    let route = Route::holders("equipment", Level::Approve)
        .in_departments([p.dept_a])
        .owners([p.operator]);
    let up = sync(
        &p.store,
        "equipment",
        &["eq:"],
        vec![raise("eq:1", Priority::Low, route)],
        0,
    )
    .unwrap();
    assert_eq!(up.len(), 1);
    // the lead of department A and the named owner; not B's lead, not the manager (approve
    // is his, but he is in no department of the route)
    assert_eq!(sorted(up[0].to.clone()), sorted(vec![p.lead_a, p.operator]));
    let r = p.store.read().unwrap();
    assert_eq!(unacked(&r, p.lead_a).unwrap(), 1);
    assert_eq!(unacked(&r, p.operator).unwrap(), 1);
    assert_eq!(unacked(&r, p.lead_b).unwrap(), 0);
    assert_eq!(unacked(&r, p.manager).unwrap(), 0);
    assert!(for_user(&r, p.lead_b).unwrap().is_empty());

    // plant-wide write holders: the operator holds equipment write too, the manager not
    let route = Route::holders("equipment", Level::Write);
    let up = sync(
        &p.store,
        "equipment",
        &["eq2:"],
        vec![raise("eq2:1", Priority::Low, route)],
        0,
    )
    .unwrap();
    assert_eq!(
        sorted(up[0].to.clone()),
        sorted(vec![p.lead_a, p.lead_b, p.operator])
    );
}

#[test]
fn an_alert_nobody_is_routed_to_goes_to_the_module_approvers() {
    let p = plant();
    // the quality module's writers: nobody in this plant holds quality write
    let route = Route::holders("quality", Level::Write);
    let up = sync(
        &p.store,
        "quality",
        &["q:"],
        vec![raise("q:1", Priority::Medium, route)],
        0,
    )
    .unwrap();
    assert_eq!(up[0].to, vec![p.manager], "the manager approves quality");
}

#[test]
fn sync_raises_updates_and_clears_and_writes_only_on_change() {
    let p = plant();
    let route = || Route::holders("equipment", Level::Approve).in_departments([p.dept_b]);
    let up = sync(
        &p.store,
        "equipment",
        &["eq:"],
        vec![
            raise("eq:1", Priority::Low, route()),
            raise("eq:2", Priority::Low, route()),
        ],
        10,
    )
    .unwrap();
    assert_eq!(up.len(), 2);
    // the same set again: nothing raised, nothing changed
    let up = sync(
        &p.store,
        "equipment",
        &["eq:"],
        vec![
            raise("eq:1", Priority::Low, route()),
            raise("eq:2", Priority::Low, route()),
        ],
        20,
    )
    .unwrap();
    assert!(up.is_empty());
    assert!(
        all(&p.store.read().unwrap())
            .unwrap()
            .iter()
            .all(|a| a.changed_ms == 10),
        "an unchanged set changes nothing"
    );

    // B's lead acknowledges eq:1; a new text keeps the acknowledgement
    let lead_b = Actor::user(p.lead_b, "lead.b", None);
    let a1 = for_user(&p.store.read().unwrap(), p.lead_b).unwrap()[0].clone();
    ack(&p.store, &lead_b, a1.id, "已安排", 30).unwrap();
    let mut changed = raise(&a1.source, Priority::Low, route());
    changed.text.zh = "新的文字".into();
    sync(
        &p.store,
        "equipment",
        &["eq:"],
        vec![changed, raise("eq:2", Priority::Low, route())],
        40,
    )
    .unwrap();
    let a = all(&p.store.read().unwrap()).unwrap();
    let kept = a.iter().find(|x| x.source == a1.source).unwrap();
    assert_eq!(kept.zh, "新的文字");
    assert_eq!(kept.ack.as_ref().unwrap().comment, "已安排");
    // more urgent than when acknowledged: it needs a new look
    sync(
        &p.store,
        "equipment",
        &["eq:"],
        vec![
            raise(&a1.source, Priority::High, route()),
            raise("eq:2", Priority::Low, route()),
        ],
        50,
    )
    .unwrap();
    let a = all(&p.store.read().unwrap()).unwrap();
    assert!(
        a.iter()
            .find(|x| x.source == a1.source)
            .unwrap()
            .ack
            .is_none()
    );

    // eq:2's cause is gone: it closes; other prefixes are untouched
    sync(
        &p.store,
        "other",
        &["zz:"],
        vec![raise("zz:1", Priority::Low, route())],
        55,
    )
    .unwrap();
    sync(
        &p.store,
        "equipment",
        &["eq:"],
        vec![raise(&a1.source, Priority::High, route())],
        60,
    )
    .unwrap();
    let r = p.store.read().unwrap();
    let standing: Vec<String> = all(&r).unwrap().into_iter().map(|a| a.source).collect();
    assert_eq!(sorted_s(standing), vec!["eq:1".to_string(), "zz:1".into()]);
    let closed = closed(&r, Some(p.lead_b), 10).unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].source, "eq:2");
    assert_eq!(closed[0].cleared_ms, Some(60));
    assert!(!closed[0].active);
}

fn sorted_s(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn only_a_recipient_acknowledges_once() {
    let p = plant();
    let route = Route::holders("equipment", Level::Approve).in_departments([p.dept_a]);
    let a = sync(
        &p.store,
        "equipment",
        &["eq:"],
        vec![raise("eq:1", Priority::Low, route)],
        0,
    )
    .unwrap()
    .remove(0);
    let other = Actor::user(p.lead_b, "lead.b", None);
    let e = ack(&p.store, &other, a.id, "", 1).unwrap_err();
    assert_eq!(e.msg().key, "alerts.err.not_yours");
    let lead = Actor::user(p.lead_a, "lead.a", None);
    let long = "x".repeat(501);
    let e = ack(&p.store, &lead, a.id, &long, 1).unwrap_err();
    assert_eq!(e.msg().key, "alerts.err.comment");
    assert!(
        all(&p.store.read().unwrap()).unwrap()[0].ack.is_none(),
        "nothing changed"
    );
    ack(&p.store, &lead, a.id, "", 2).unwrap();
    let e = ack(&p.store, &lead, a.id, "", 3).unwrap_err();
    assert_eq!(e.msg().key, "alerts.err.acked");
    let e = ack(&p.store, &lead, 999, "", 3).unwrap_err();
    assert_eq!(e.msg().key, "alerts.err.not_found");
    assert_eq!(unacked(&p.store.read().unwrap(), p.lead_a).unwrap(), 0);
}

#[test]
fn an_event_stays_until_acknowledged_and_counts_repeats() {
    let p = plant();
    let route = || Route::holders("equipment", Level::Approve).in_departments([p.dept_a]);
    let first = pulse(
        &p.store,
        "safety",
        raise("gate:east:x", Priority::Medium, route()),
        0,
    )
    .unwrap()
    .expect("new");
    assert!(!first.active);
    let again = pulse(
        &p.store,
        "safety",
        raise("gate:east:x", Priority::Medium, route()),
        5,
    )
    .unwrap();
    assert!(again.is_none(), "the same person again counts up");
    let r = p.store.read().unwrap();
    let a = for_user(&r, p.lead_a).unwrap();
    assert_eq!((a.len(), a[0].count), (1, 2));
    drop(r);
    // a sync of other prefixes does not touch it
    sync(&p.store, "safety", &["safety.other:"], vec![], 6).unwrap();
    let lead = Actor::user(p.lead_a, "lead.a", None);
    ack(&p.store, &lead, first.id, "门岗已拦下", 7).unwrap();
    let r = p.store.read().unwrap();
    assert!(
        all(&r).unwrap().is_empty(),
        "an acknowledged event leaves the list"
    );
    assert_eq!(
        closed(&r, None, 5).unwrap()[0]
            .ack
            .as_ref()
            .unwrap()
            .comment,
        "门岗已拦下"
    );
}

#[test]
fn an_alert_nobody_acknowledges_is_escalated_to_the_approvers_once() {
    let p = plant();
    let route = || Route::holders("equipment", Level::Write).in_departments([p.dept_b]);
    sync(
        &p.store,
        "equipment",
        &["eq:"],
        vec![
            raise("eq:high", Priority::High, route()),
            raise("eq:low", Priority::Low, route()),
        ],
        0,
    )
    .unwrap();
    // within the high delay: nothing
    assert!(escalate(&p.store, 4 * HOUR - 1).unwrap().is_empty());
    let up = escalate(&p.store, 4 * HOUR).unwrap();
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].source, "eq:high");
    // to the approvers plant-wide who did not have it: A's lead and the manager
    assert_eq!(
        sorted(up[0].escalated_to.clone()),
        sorted(vec![p.lead_a, p.manager])
    );
    assert_eq!(unacked(&p.store.read().unwrap(), p.manager).unwrap(), 1);
    assert!(escalate(&p.store, 5 * HOUR).unwrap().is_empty(), "once");
    // the manager may acknowledge what was escalated to him
    let boss = Actor::user(p.manager, "boss", None);
    let high = for_user(&p.store.read().unwrap(), p.manager).unwrap()[0].clone();
    ack(&p.store, &boss, high.id, "", 5 * HOUR).unwrap();
    // an acknowledged alert is not escalated; the low one only after 72 h
    assert!(escalate(&p.store, 72 * HOUR - 1).unwrap().is_empty());
    assert_eq!(escalate(&p.store, 72 * HOUR).unwrap()[0].source, "eq:low");
    let _ = p.dept_a;
}
