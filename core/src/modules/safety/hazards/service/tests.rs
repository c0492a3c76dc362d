use super::*;
use crate::store::tests::temp_store;

const OFFSET: time::UtcOffset = time::macros::offset!(+8);

fn person(id: u64, manages: bool) -> Person {
    Person {
        user_id: id,
        username: format!("u{id}"),
        name: format!("U{id}"),
        manages,
        writes: false,
    }
}

fn png() -> Vec<u8> {
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec()
}

fn user(store: &Store, name: &str) -> u64 {
    crate::auth::service::create_user(
        store,
        &Actor::system("t"),
        crate::auth::service::NewUser {
            username: name.into(),
            display_name: name.into(),
            password: "Hazard-2026-test".into(),
            department_id: None,
            roles: vec!["operator".into()],
            phone: String::new(),
            email: String::new(),
            must_change_password: false,
        },
    )
    .unwrap()
    .id
}

#[test]
fn lec_grades_to_the_four_colours() {
    assert_eq!(RiskLevel::of(400.0), RiskLevel::Major);
    assert_eq!(RiskLevel::of(320.0), RiskLevel::Large);
    assert_eq!(RiskLevel::of(160.0), RiskLevel::Large);
    assert_eq!(RiskLevel::of(159.9), RiskLevel::General);
    assert_eq!(RiskLevel::of(70.0), RiskLevel::General);
    assert_eq!(RiskLevel::of(69.0), RiskLevel::Low);
    assert_eq!(RiskLevel::of(5.0).colour(), "blue");
}

#[test]
fn the_workflow_from_report_to_closure() {
    let (_d, s) = temp_store();
    let fixer = user(&s, "fixer");
    let today = time::macros::date!(2026 - 11 - 24);
    let now = 1_764_000_000_000;
    let reporter = person(900, false);
    let boss = person(901, true);
    let mut f = person(fixer, false);
    f.name = "fixer".into();
    let input = HazardInput {
        title: "罐区防火堤排水阀常开".into(),
        description: "T-03 防火堤排水阀未关闭".into(),
        location: "罐区".into(),
        level: HazardLevel::Major,
        source: Source::Daily,
        risk: None,
    };
    // a photo that is not an image is refused, nothing reported
    let pdf = b"%PDF-1.7\n%%EOF\n".to_vec();
    assert!(
        report(
            &s,
            &reporter,
            input.clone(),
            vec![("a.pdf".into(), pdf)],
            now,
            OFFSET
        )
        .is_err()
    );
    assert!(hazards(&s.read().unwrap(), None, today).unwrap().is_empty());
    let h = report(
        &s,
        &reporter,
        input,
        vec![("现场.png".into(), png())],
        now,
        OFFSET,
    )
    .unwrap();
    assert_eq!(h.photos_before.len(), 1);
    assert!(h.number.starts_with("YH-"));
    let assign = |deadline: &str| HazardAction::Assign {
        assignee: fixer,
        deadline: deadline.into(),
        measures: "关闭排水阀并上锁".into(),
    };
    // only managers assign; no deadline in the past
    assert!(matches!(
        act(&s, &reporter, h.id, assign("2026-11-30"), now, today),
        Err(Error::Forbidden(_))
    ));
    assert!(act(&s, &boss, h.id, assign("2026-11-20"), now, today).is_err());
    let h = act(&s, &boss, h.id, assign("2026-11-26"), now, today).unwrap();
    assert_eq!(h.state, HazardState::Rectifying);
    // rectified needs an after photo, by the assignee
    let done = || HazardAction::Rectify {
        note: "已关闭并上锁".into(),
    };
    assert!(act(&s, &f, h.id, done(), now, today).is_err());
    assert!(matches!(
        add_photos(&s, &f, h.id, true, vec![("after.pdf".into(), png())], now),
        Err(Error::Invalid { .. })
    ));
    add_photos(&s, &f, h.id, true, vec![("after.png".into(), png())], now).unwrap();
    assert!(matches!(
        act(&s, &reporter, h.id, done(), now, today),
        Err(Error::Forbidden(_))
    ));
    let h = act(&s, &f, h.id, done(), now, today).unwrap();
    assert_eq!(h.state, HazardState::PendingAcceptance);
    // rejected back, then accepted; an assignee cannot accept their own work
    let h = act(
        &s,
        &boss,
        h.id,
        HazardAction::Reject {
            note: "阀门未挂牌".into(),
        },
        now,
        today,
    )
    .unwrap();
    assert_eq!(h.state, HazardState::Rectifying);
    act(&s, &f, h.id, done(), now, today).unwrap();
    let mut f_boss = f.clone();
    f_boss.manages = true;
    assert!(
        act(
            &s,
            &f_boss,
            h.id,
            HazardAction::Accept {
                note: String::new()
            },
            now,
            today
        )
        .is_err()
    );
    let h = act(
        &s,
        &boss,
        h.id,
        HazardAction::Accept {
            note: "合格".into(),
        },
        now,
        today,
    )
    .unwrap();
    assert_eq!(h.state, HazardState::Closed);
    let actions: Vec<&str> = h.history.iter().map(|x| x.action.as_str()).collect();
    assert_eq!(
        actions,
        ["report", "assign", "rectify", "reject", "rectify", "accept"]
    );
    let st = stats(&s.read().unwrap(), today, now, time::macros::offset!(+8)).unwrap();
    assert_eq!((st.total, st.open, st.overdue), (1, 0, 0));
}

#[test]
fn overdue_hazards_and_inspection_cycles() {
    let (_d, s) = temp_store();
    let fixer = user(&s, "patrol");
    let a = Actor::system("t");
    let r = save_risk(
        &s,
        &a,
        Risk {
            id: 0,
            object: "甲苯储罐 T-03".into(),
            unit: "罐区".into(),
            event: "泄漏引发火灾".into(),
            measures: vec!["液位报警完好".into(), "呼吸阀畅通".into()],
            l: 3.0,
            e: 6.0,
            c: 15.0,
            owner: "王海涛".into(),
        },
    )
    .unwrap();
    assert_eq!(r.level(), RiskLevel::Large);
    // L out of range
    let mut bad = r.clone();
    bad.l = 20.0;
    assert!(save_risk(&s, &a, bad).is_err());
    let t0 = 1_764_000_000_000;
    save_task(
        &s,
        &a,
        Task {
            id: 0,
            risk: r.id,
            name: "罐区日巡检".into(),
            cycle: Cycle::Day,
            every: 1,
            assignee: fixer,
            items: Vec::new(),
            next_due_ms: t0,
        },
    )
    .unwrap();
    assert_eq!(generate_inspections(&s, t0 - 1).unwrap(), 0);
    assert_eq!(generate_inspections(&s, t0).unwrap(), 1);
    // missed days are not stacked: three days later, one more
    assert_eq!(generate_inspections(&s, t0 + 3 * 86_400_000).unwrap(), 1);
    let pending = inspections(&s.read().unwrap(), Some(fixer), true).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].items.len(), 2, "items from the risk's measures");
    let late = late_inspections(&s.read().unwrap(), t0 + 3 * 86_400_000).unwrap();
    assert_eq!(late.len(), 1);
    // recording: a failed item needs a note and becomes a hidden danger
    let p = Person {
        user_id: fixer,
        username: "patrol".into(),
        name: "patrol".into(),
        manages: false,
        writes: false,
    };
    let id = pending[0].id;
    assert!(
        record_inspection(
            &s,
            &p,
            id,
            vec![(true, String::new()), (false, String::new())],
            t0,
            OFFSET
        )
        .is_err()
    );
    let other = person(999, false);
    assert!(
        record_inspection(
            &s,
            &other,
            id,
            vec![(true, String::new()), (true, String::new())],
            t0,
            OFFSET
        )
        .is_err()
    );
    let i = record_inspection(
        &s,
        &p,
        id,
        vec![
            (false, "液位计不显示".into()),
            (false, "呼吸阀结晶堵塞".into()),
        ],
        t0,
        OFFSET,
    )
    .unwrap();
    // each failed item its own hidden danger
    assert_eq!(i.hazards.len(), 2);
    assert_ne!(i.hazards[0], i.hazards[1]);
    let today = time::macros::date!(2026 - 11 - 24);
    let first = hazard(&s.read().unwrap(), i.hazards[0]).unwrap();
    assert_eq!(first.title, "液位报警完好");
    let h = hazard(&s.read().unwrap(), i.hazards[1]).unwrap();
    assert_eq!(
        (h.title.as_str(), h.risk, h.inspection),
        ("呼吸阀畅通", Some(r.id), Some(id))
    );
    // overdue once its deadline passes
    let boss = person(901, true);
    act(
        &s,
        &boss,
        h.id,
        HazardAction::Assign {
            assignee: fixer,
            deadline: "2026-11-25".into(),
            measures: String::new(),
        },
        t0,
        today,
    )
    .unwrap();
    let r = s.read().unwrap();
    assert!(hazards(&r, Some("overdue"), today).unwrap().is_empty());
    assert_eq!(
        hazards(&r, Some("overdue"), time::macros::date!(2026 - 11 - 26))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_deadline_day_ends_at_midnight_plant_time() {
    let off = time::macros::offset!(+8);
    let d = time::macros::date!(2026 - 11 - 24);
    let ms = |t: time::OffsetDateTime| t.unix_timestamp() * 1000;
    // 23:30 on the day, plant time: on time
    assert!(closed_on_time(
        d,
        ms(time::macros::datetime!(2026-11-24 23:30 +8)),
        off
    ));
    // 00:30 the next day, plant time (still the 24th in UTC): late
    assert!(!closed_on_time(
        d,
        ms(time::macros::datetime!(2026-11-25 00:30 +8)),
        off
    ));
}
