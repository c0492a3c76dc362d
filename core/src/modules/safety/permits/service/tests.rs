use super::*;
use crate::auth::service::{NewUser, create_user};
use crate::store::tests::temp_store;

const OFFSET: UtcOffset = time::macros::offset!(+8);

/// Tuesday 2026-11-24 at `hh:mm` plant time, as UTC ms.
fn at(hh: u8, mm: u8) -> i64 {
    parse_local(&format!("2026-11-24 {hh:02}:{mm:02}"), OFFSET).unwrap()
}

fn signer(id: u64, name: &str, duties: &[Duty]) -> Signer {
    Signer {
        user_id: id,
        username: name.to_lowercase(),
        name: name.into(),
        duties: duties.to_vec(),
        can_write: false,
    }
}

struct Plant {
    _dir: tempfile::TempDir,
    store: Store,
    guardian: Signer,
}

impl Plant {
    fn new() -> Plant {
        let (dir, store) = temp_store();
        let sys = Actor::system("test");
        let u = create_user(
            &store,
            &sys,
            NewUser {
                username: "sun.wei".into(),
                display_name: "孙伟".into(),
                password: "Guard-2026-permit".into(),
                department_id: None,
                roles: vec!["operator".into()],
                phone: String::new(),
                email: String::new(),
                must_change_password: false,
            },
        )
        .unwrap();
        set_duties(&store, &sys, u.id, vec![Duty::Guardian]).unwrap();
        let guardian = signer(u.id, "孙伟", &[Duty::Guardian]);
        Plant {
            _dir: dir,
            store,
            guardian,
        }
    }

    fn input(&self, details: Details, from: &str, to: &str) -> PermitInput {
        PermitInput {
            details,
            applicant_unit: "生产部".into(),
            content: "更换 R-101 进料阀".into(),
            location: "聚合车间一楼".into(),
            x: 100.0,
            y: 50.0,
            work_unit: "设备动力部".into(),
            leader: "徐国平".into(),
            workers: vec![Worker {
                name: "王强".into(),
                cert: "T330781199001011234".into(),
            }],
            guardian_id: Some(self.guardian.user_id),
            linked: Vec::new(),
            risks: "可燃气体泄漏\n高温烫伤".into(),
            from: from.into(),
            to: to.into(),
            checklist: None,
        }
    }

    fn create(&self, input: PermitInput) -> Result<Permit> {
        create(
            &self.store,
            &applicant(),
            input,
            at(8, 0),
            OFFSET,
            Lang::ZhCn,
        )
    }

    fn act(&self, s: &Signer, id: u64, input: ActionInput, now: i64) -> Result<Permit> {
        act(&self.store, s, id, input, now, OFFSET)
    }

    fn get(&self, id: u64) -> Permit {
        permit(&self.store.read().unwrap(), id).unwrap()
    }
}

fn applicant() -> Signer {
    signer(100, "李明", &[Duty::Applicant])
}
fn analyst() -> Signer {
    signer(101, "吴丽华", &[Duty::Analyst])
}
/// One signer per approving duty, distinct people.
fn approver(d: Duty) -> Signer {
    signer(200 + d as u64, d.id(), &[d])
}

fn hot(assessed: HotLevel) -> Details {
    Details::HotWork {
        assessed,
        method: "电焊".into(),
        lel_pct: 2.1,
        oxygen_service: false,
        space: String::new(),
        wind_force: 2,
    }
}

fn gas(sampled: &str, combustible: f64, o2: f64) -> ActionInput {
    ActionInput {
        gas: Some(GasInput {
            sampled: sampled.into(),
            point: "阀门法兰处".into(),
            combustible_pct: Some(combustible),
            o2_pct: Some(o2),
            toxic_value: Some(1.0),
        }),
        ..ActionInput::new(Action::Gas)
    }
}

fn code(e: &Error) -> String {
    match e {
        Error::Invalid { msg, .. }
        | Error::Conflict(msg)
        | Error::Forbidden(msg)
        | Error::NotFound(msg) => msg.render(Lang::En),
        other => other.to_string(),
    }
}

/// Drives a permit from draft to closed, with gas where the type needs it; returns it.
fn full_cycle(plant: &Plant, details: Details) -> Permit {
    let needs_gas = details.needs_gas();
    let p = plant
        .create(plant.input(details, "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    let a = applicant();
    let p = plant
        .act(&a, p.id, ActionInput::new(Action::Submit), at(8, 5))
        .unwrap();
    assert_eq!(p.stage, Stage::Measures);
    let p = plant
        .act(
            &a,
            p.id,
            ActionInput::new(Action::ConfirmMeasures),
            at(8, 10),
        )
        .unwrap();
    if needs_gas {
        assert_eq!(p.stage, Stage::GasAnalysis);
        plant
            .act(
                &analyst(),
                p.id,
                gas("2026-11-24 08:40", 0.1, 20.5),
                at(8, 45),
            )
            .unwrap();
    }
    let mut p = plant.get(p.id);
    assert_eq!(p.stage, Stage::Approval);
    for (i, d) in p.chain.clone().into_iter().enumerate() {
        let input = ActionInput {
            step: Some(i),
            ..ActionInput::new(Action::Approve)
        };
        p = plant.act(&approver(d), p.id, input, at(8, 50)).unwrap();
    }
    assert_eq!(p.stage, Stage::Briefing);
    plant
        .act(&a, p.id, ActionInput::new(Action::Brief), at(8, 55))
        .unwrap();
    if needs_gas {
        plant
            .act(
                &analyst(),
                p.id,
                gas("2026-11-24 08:56", 0.1, 20.5),
                at(8, 57),
            )
            .unwrap();
    }
    let p = plant
        .act(
            &plant.guardian,
            p.id,
            ActionInput::new(Action::Start),
            at(9, 0),
        )
        .unwrap();
    assert_eq!(p.stage, Stage::Working);
    let p = plant
        .act(&a, p.id, ActionInput::new(Action::Finish), at(12, 0))
        .unwrap();
    assert_eq!(p.stage, Stage::Acceptance);
    let p = plant
        .act(
            &approver(Duty::Unit),
            p.id,
            ActionInput::new(Action::Accept),
            at(12, 30),
        )
        .unwrap();
    assert_eq!(p.stage, Stage::Closed);
    assert!(signatures_intact(&p));
    p
}

fn every_type() -> Vec<Details> {
    vec![
        hot(HotLevel::Second),
        Details::ConfinedSpace {
            space: "R-101".into(),
            medium: "丙烯酸丁酯".into(),
            lel_pct: 1.5,
            enriched: false,
            painting: false,
            toxic_name: "H2S".into(),
            toxic_limit: Some(10.0),
        },
        Details::Blinding {
            line: "P-1203".into(),
            medium: "甲苯".into(),
            temperature_c: Some(25.0),
            pressure_mpa: Some(0.1),
            blind_spec: "DN80 PN16 304".into(),
            blind_number: "MB-07".into(),
            action: super::super::model::BlindAction::Insert,
        },
        Details::Height {
            height_m: 8.0,
            hazard_factors: false,
            wind_force: 2,
        },
        Details::Lifting {
            load_t: 12.0,
            tool: "25 t 汽车吊".into(),
            outdoor: true,
            wind_force: 3,
        },
        Details::TemporaryPower {
            connection_point: "配电室 2# 柜".into(),
            voltage_v: 380.0,
            power_kw: 15.0,
            serves: None,
        },
        Details::Excavation {
            depth_m: 1.5,
            area: "罐区东侧 3 m × 2 m".into(),
            hazardous_area: true,
        },
        Details::RoadBreak {
            road_section: "纬三路厂内段".into(),
            reason: "管廊基础施工".into(),
            detour: "经北门绕行".into(),
        },
    ]
}

#[test]
fn every_type_goes_through_its_whole_life_cycle() {
    for d in every_type() {
        let plant = Plant::new();
        let work = d.work();
        let p = full_cycle(&plant, d);
        assert_eq!(p.work(), work);
        assert!(p.number.starts_with(work.prefix()), "{}", p.number);
        let actions: Vec<Action> = p.signatures.iter().map(|s| s.action).collect();
        assert_eq!(actions.first(), Some(&Action::Submit));
        assert_eq!(actions.last(), Some(&Action::Accept));
        // every approval signed under the duty its step needs, in order
        let approvals: Vec<Option<Duty>> = p
            .signatures
            .iter()
            .filter(|s| s.action == Action::Approve)
            .map(|s| s.duty)
            .collect();
        assert_eq!(
            approvals,
            p.chain.iter().map(|d| Some(*d)).collect::<Vec<_>>(),
            "{work:?}"
        );
    }
}

#[test]
fn annex_b_chains_by_level() {
    let plant = Plant::new();
    // a Saturday: 二级 becomes 一级 (safety department signs too)
    let sat = plant
        .create(plant.input(
            hot(HotLevel::Second),
            "2026-11-28 09:00",
            "2026-11-28 12:00",
        ))
        .unwrap();
    assert_eq!(sat.level.as_deref(), Some("first"));
    assert!(sat.upgraded);
    let sat = plant
        .act(
            &applicant(),
            sat.id,
            ActionInput::new(Action::Submit),
            at(8, 5),
        )
        .unwrap();
    assert_eq!(sat.chain, vec![Duty::Unit, Duty::SafetyDept]);
    // the calendar is the plant's: a holiday on a Wednesday raises it too
    let cal = Calendar {
        holidays: parse_dates("2026-11-25").unwrap(),
        ..Default::default()
    };
    save_calendar(&plant.store, &Actor::system("t"), cal).unwrap();
    let hol = plant
        .create(plant.input(hot(HotLevel::First), "2026-11-25 09:00", "2026-11-25 12:00"))
        .unwrap();
    assert_eq!(hol.level.as_deref(), Some("special"));
    let p = plant
        .act(
            &applicant(),
            hol.id,
            ActionInput::new(Action::Submit),
            at(8, 5),
        )
        .unwrap();
    assert_eq!(p.chain, vec![Duty::Unit, Duty::SafetyDept, Duty::Leader]);
    // a plant's own chain applies to permits submitted after it changed
    let mut c = chain(&plant.store.read().unwrap(), "height:ii", Lang::ZhCn).unwrap();
    c.steps = vec![Duty::Specialist, Duty::SafetyDept];
    c.checklist = vec!["安全带高挂低用".into()];
    save_chain(&plant.store, &Actor::system("t"), c, false).unwrap();
    let h = plant
        .create(plant.input(
            Details::Height {
                height_m: 10.0,
                hazard_factors: false,
                wind_force: 0,
            },
            "2026-11-24 09:00",
            "2026-11-24 16:00",
        ))
        .unwrap();
    assert_eq!(h.checklist.len(), 1);
    let h = plant
        .act(
            &applicant(),
            h.id,
            ActionInput::new(Action::Submit),
            at(8, 5),
        )
        .unwrap();
    assert_eq!(h.chain, vec![Duty::Specialist, Duty::SafetyDept]);
    // guardian/applicant duties cannot be approval steps
    let mut bad = chain(&plant.store.read().unwrap(), "blinding", Lang::ZhCn).unwrap();
    bad.steps = vec![Duty::Guardian];
    assert!(save_chain(&plant.store, &Actor::system("t"), bad, false).is_err());
}

#[test]
fn form_rules_refuse_and_change_nothing() {
    let plant = Plant::new();
    // 二级 on a weekday: 72 h allowed; 一级 (by night): 8 h only
    assert!(
        plant
            .create(plant.input(
                hot(HotLevel::Second),
                "2026-11-24 08:00",
                "2026-11-24 19:00"
            ))
            .is_ok()
    );
    let e = plant
        .create(plant.input(hot(HotLevel::First), "2026-11-24 08:00", "2026-11-24 19:00"))
        .unwrap_err();
    assert!(code(&e).contains("limit of 8 h"), "{}", code(&e));
    // confined space 24 h, height 7 days
    let cs = every_type()[1].clone();
    assert!(
        plant
            .create(plant.input(cs.clone(), "2026-11-24 08:00", "2026-11-25 08:00"))
            .is_ok()
    );
    assert!(
        plant
            .create(plant.input(cs, "2026-11-24 08:00", "2026-11-25 09:00"))
            .is_err()
    );
    let height = every_type()[3].clone();
    assert!(
        plant
            .create(plant.input(height.clone(), "2026-11-24 08:00", "2026-12-02 08:00"))
            .is_err()
    );
    // wind force 5: no work at height
    let windy = Details::Height {
        height_m: 8.0,
        hazard_factors: false,
        wind_force: 5,
    };
    let e = plant
        .create(plant.input(windy, "2026-11-24 08:00", "2026-11-24 12:00"))
        .unwrap_err();
    assert!(code(&e).contains("force 5"), "{}", code(&e));
    // below 2 m is not work at height
    let low = Details::Height {
        height_m: 1.5,
        hazard_factors: false,
        wind_force: 0,
    };
    assert!(
        plant
            .create(plant.input(low, "2026-11-24 08:00", "2026-11-24 12:00"))
            .is_err()
    );
    // the guardian must hold the duty
    let mut i = plant.input(
        hot(HotLevel::Second),
        "2026-11-24 09:00",
        "2026-11-24 12:00",
    );
    i.guardian_id = Some(999);
    assert!(plant.create(i).is_err());
    // applying needs the applicant duty
    let nobody = signer(300, "路人", &[]);
    let i = plant.input(
        hot(HotLevel::Second),
        "2026-11-24 09:00",
        "2026-11-24 12:00",
    );
    let e = create(&plant.store, &nobody, i, at(8, 0), OFFSET, Lang::En).unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)));
    let r = plant.store.read().unwrap();
    assert_eq!(
        permits(&r, &PermitFilter::default(), OFFSET).unwrap().len(),
        2
    );
}

#[test]
fn temporary_power_is_bound_to_the_work_it_serves() {
    let plant = Plant::new();
    let hw = plant
        .create(plant.input(hot(HotLevel::First), "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    let power = |serves| Details::TemporaryPower {
        connection_point: "配电室 2# 柜".into(),
        voltage_v: 380.0,
        power_kw: 15.0,
        serves,
    };
    // inside the hot work's period: fine
    assert!(
        plant
            .create(plant.input(power(Some(hw.id)), "2026-11-24 09:00", "2026-11-24 16:00"))
            .is_ok()
    );
    // beyond it: refused, naming the permit
    let e = plant
        .create(plant.input(power(Some(hw.id)), "2026-11-24 09:00", "2026-11-24 17:00"))
        .unwrap_err();
    assert!(code(&e).contains(&hw.number), "{}", code(&e));
    // on its own: 15 days at most
    assert!(
        plant
            .create(plant.input(power(None), "2026-11-24 09:00", "2026-12-09 09:00"))
            .is_ok()
    );
    assert!(
        plant
            .create(plant.input(power(None), "2026-11-24 09:00", "2026-12-09 10:00"))
            .is_err()
    );
}

/// Submits a permit; returns the error or the permit.
fn submitted(plant: &Plant, d: Details, x: f64) -> Result<Permit> {
    let mut i = plant.input(d, "2026-11-24 09:00", "2026-11-24 16:00");
    i.x = x;
    let p = plant.create(i)?;
    plant.act(
        &applicant(),
        p.id,
        ActionInput::new(Action::Submit),
        at(8, 5),
    )
}

fn blinding(line: &str) -> Details {
    Details::Blinding {
        line: line.into(),
        medium: "甲苯".into(),
        temperature_c: None,
        pressure_mpa: None,
        blind_spec: "DN80".into(),
        blind_number: "MB-01".into(),
        action: super::super::model::BlindAction::Insert,
    }
}

#[test]
fn conflicts_are_refused_with_the_other_permit_named() {
    let plant = Plant::new();
    let first = submitted(&plant, blinding("P-1203"), 100.0).unwrap();
    // a second blinding on the same line
    let e = submitted(&plant, blinding("P-1203"), 300.0).unwrap_err();
    assert!(
        code(&e).contains("P-1203") && code(&e).contains(&first.number),
        "{}",
        code(&e)
    );
    // on another line: fine
    submitted(&plant, blinding("P-1204"), 300.0).unwrap();
    // hot work 20 m away: refused; 40 m away: fine
    let e = submitted(&plant, hot(HotLevel::Second), 120.0).unwrap_err();
    assert!(code(&e).contains("30 m"), "{}", code(&e));
    submitted(&plant, hot(HotLevel::Second), 140.0).unwrap();
    // the refused permits stayed drafts
    let r = plant.store.read().unwrap();
    let drafts = permits(
        &r,
        &PermitFilter {
            stage: Some("draft".into()),
            ..Default::default()
        },
        OFFSET,
    )
    .unwrap();
    assert_eq!(drafts.len(), 2);
    drop(r);
    // painting in a vessel with hot work inside it
    let plant = Plant::new();
    let mut inside = hot(HotLevel::Second);
    if let Details::HotWork { space, .. } = &mut inside {
        *space = "R-101".into();
    }
    submitted(&plant, inside, 0.0).unwrap();
    let painting = Details::ConfinedSpace {
        space: "R-101".into(),
        medium: "空气".into(),
        lel_pct: 4.0,
        enriched: false,
        painting: true,
        toxic_name: String::new(),
        toxic_limit: None,
    };
    let e = submitted(&plant, painting, 500.0).unwrap_err();
    assert!(code(&e).contains("R-101"), "{}", code(&e));
}

/// A hot-work permit up to the approval stage with a passing analysis.
fn to_approval(plant: &Plant, d: Details) -> Permit {
    let p = plant
        .create(plant.input(d, "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    plant
        .act(
            &applicant(),
            p.id,
            ActionInput::new(Action::Submit),
            at(8, 5),
        )
        .unwrap();
    plant
        .act(
            &applicant(),
            p.id,
            ActionInput::new(Action::ConfirmMeasures),
            at(8, 10),
        )
        .unwrap();
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:20", 0.1, 20.9),
            at(8, 25),
        )
        .unwrap()
}

#[test]
fn gas_analyses_are_checked_against_the_limits() {
    let plant = Plant::new();
    let p = plant
        .create(plant.input(
            hot(HotLevel::Second),
            "2026-11-24 09:00",
            "2026-11-24 16:00",
        ))
        .unwrap();
    plant
        .act(
            &applicant(),
            p.id,
            ActionInput::new(Action::Submit),
            at(8, 5),
        )
        .unwrap();
    plant
        .act(
            &applicant(),
            p.id,
            ActionInput::new(Action::ConfirmMeasures),
            at(8, 10),
        )
        .unwrap();
    // LEL 2.1 % < 4 %: the limit is 0.2 % vol
    let e = plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:20", 0.3, 20.9),
            at(8, 25),
        )
        .unwrap_err();
    assert!(code(&e).contains("limit of 0.2"), "{}", code(&e));
    assert_eq!(plant.get(p.id).gas.len(), 0);
    assert_eq!(plant.get(p.id).stage, Stage::GasAnalysis);
    // only analysts record analyses
    let e = plant
        .act(
            &applicant(),
            p.id,
            gas("2026-11-24 08:20", 0.1, 20.9),
            at(8, 25),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)));
    // a sample in the future is refused
    assert!(
        plant
            .act(
                &analyst(),
                p.id,
                gas("2026-11-24 09:20", 0.1, 20.9),
                at(8, 25)
            )
            .is_err()
    );
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:20", 0.15, 20.9),
            at(8, 25),
        )
        .unwrap();
    assert_eq!(plant.get(p.id).stage, Stage::Approval);
    // confined space: oxygen 19.5–21 %, toxic under its limit
    let plant = Plant::new();
    let cs = to_approval_confined(&plant);
    let e = plant
        .act(
            &analyst(),
            cs,
            gas("2026-11-24 08:20", 0.1, 18.9),
            at(8, 25),
        )
        .unwrap_err();
    assert!(code(&e).contains("outside 19.5"), "{}", code(&e));
    let mut toxic = gas("2026-11-24 08:20", 0.1, 20.9);
    toxic.gas.as_mut().unwrap().toxic_value = Some(12.0);
    let e = plant.act(&analyst(), cs, toxic, at(8, 25)).unwrap_err();
    assert!(code(&e).contains("H2S"), "{}", code(&e));
}

fn to_approval_confined(plant: &Plant) -> u64 {
    let p = plant
        .create(plant.input(
            every_type()[1].clone(),
            "2026-11-24 09:00",
            "2026-11-24 16:00",
        ))
        .unwrap();
    plant
        .act(
            &applicant(),
            p.id,
            ActionInput::new(Action::Submit),
            at(8, 5),
        )
        .unwrap();
    plant
        .act(
            &applicant(),
            p.id,
            ActionInput::new(Action::ConfirmMeasures),
            at(8, 10),
        )
        .unwrap();
    p.id
}

#[test]
fn approvals_go_in_order_by_the_right_people() {
    let plant = Plant::new();
    let mut d = hot(HotLevel::Special);
    if let Details::HotWork { lel_pct, .. } = &mut d {
        *lel_pct = 5.0;
    }
    let p = to_approval(&plant, d);
    assert_eq!(p.chain, vec![Duty::Unit, Duty::SafetyDept, Duty::Leader]);
    let step = |i| ActionInput {
        step: Some(i),
        ..ActionInput::new(Action::Approve)
    };
    // the leader cannot sign before the unit and the safety department
    let e = plant
        .act(&approver(Duty::Leader), p.id, step(2), at(8, 30))
        .unwrap_err();
    assert!(code(&e).contains("step 1"), "{}", code(&e));
    // a signer without the step's duty
    let e = plant
        .act(&approver(Duty::SafetyDept), p.id, step(0), at(8, 30))
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    // the applicant may not approve their own permit, even holding the duty
    let own = signer(100, "李明", &[Duty::Applicant, Duty::Unit]);
    assert!(plant.act(&own, p.id, step(0), at(8, 30)).is_err());
    assert_eq!(plant.get(p.id).approved_steps, 0);
    plant
        .act(&approver(Duty::Unit), p.id, step(0), at(8, 30))
        .unwrap();
    // one person, one step
    let both = signer(
        200 + Duty::Unit as u64,
        "unit",
        &[Duty::Unit, Duty::SafetyDept],
    );
    assert!(plant.act(&both, p.id, step(1), at(8, 31)).is_err());
    plant
        .act(&approver(Duty::SafetyDept), p.id, step(1), at(8, 32))
        .unwrap();
    // rejection sends it back to the draft with the reason
    let no_reason = ActionInput::new(Action::Reject);
    assert!(
        plant
            .act(&approver(Duty::Leader), p.id, no_reason, at(8, 33))
            .is_err()
    );
    let reject = ActionInput {
        note: "补充特级动火方案".into(),
        ..ActionInput::new(Action::Reject)
    };
    let p = plant
        .act(&approver(Duty::Leader), p.id, reject, at(8, 33))
        .unwrap();
    assert_eq!(p.stage, Stage::Draft);
    assert_eq!(p.approved_steps, 0);
    assert!(p.checklist.iter().all(|m| m.applies.is_none()));
    // another applicant cannot push someone else's permit on
    let other = signer(150, "周建明", &[Duty::Applicant]);
    assert!(matches!(
        plant.act(&other, p.id, ActionInput::new(Action::Submit), at(8, 34)),
        Err(Error::Forbidden(_))
    ));
    // resubmitted, the same approvers sign the new round
    let a = applicant();
    plant
        .act(&a, p.id, ActionInput::new(Action::Submit), at(8, 35))
        .unwrap();
    plant
        .act(
            &a,
            p.id,
            ActionInput::new(Action::ConfirmMeasures),
            at(8, 36),
        )
        .unwrap();
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:36", 0.1, 20.9),
            at(8, 37),
        )
        .unwrap();
    for (i, d) in [Duty::Unit, Duty::SafetyDept, Duty::Leader]
        .into_iter()
        .enumerate()
    {
        let step = ActionInput {
            step: Some(i),
            ..ActionInput::new(Action::Approve)
        };
        plant.act(&approver(d), p.id, step, at(8, 40)).unwrap();
    }
    assert_eq!(plant.get(p.id).stage, Stage::Briefing);
}

fn to_briefing(plant: &Plant) -> Permit {
    let p = to_approval(plant, hot(HotLevel::Second));
    plant
        .act(
            &approver(Duty::Unit),
            p.id,
            ActionInput::new(Action::Approve),
            at(8, 30),
        )
        .unwrap()
}

#[test]
fn start_needs_guardian_briefing_and_a_fresh_sample() {
    let plant = Plant::new();
    let p = to_briefing(&plant);
    assert_eq!(p.stage, Stage::Briefing);
    let start = || ActionInput::new(Action::Start);
    // only the permit's guardian starts it
    let other = signer(555, "别人", &[Duty::Guardian]);
    assert!(matches!(
        plant.act(&other, p.id, start(), at(9, 0)).unwrap_err(),
        Error::Forbidden(_)
    ));
    // not before the briefing
    let e = plant
        .act(&plant.guardian, p.id, start(), at(9, 0))
        .unwrap_err();
    assert!(code(&e).contains("briefing"), "{}", code(&e));
    plant
        .act(
            &applicant(),
            p.id,
            ActionInput::new(Action::Brief),
            at(8, 40),
        )
        .unwrap();
    // the 08:20 sample is 40 minutes old at 09:00
    let e = plant
        .act(&plant.guardian, p.id, start(), at(9, 0))
        .unwrap_err();
    assert!(code(&e).contains("40 minutes"), "{}", code(&e));
    assert_eq!(plant.get(p.id).stage, Stage::Briefing);
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:45", 0.1, 20.9),
            at(8, 46),
        )
        .unwrap();
    // not before the permit's period
    assert!(
        plant
            .act(&plant.guardian, p.id, start(), at(8, 50))
            .is_err()
    );
    let p = plant.act(&plant.guardian, p.id, start(), at(9, 0)).unwrap();
    assert_eq!(p.stage, Stage::Working);
    // a permit without a guardian cannot start
    let plant = Plant::new();
    let mut i = plant.input(
        Details::RoadBreak {
            road_section: "纬三路".into(),
            reason: "管廊".into(),
            detour: "北门".into(),
        },
        "2026-11-24 09:00",
        "2026-11-24 16:00",
    );
    i.guardian_id = None;
    let p = plant.create(i).unwrap();
    let a = applicant();
    plant
        .act(&a, p.id, ActionInput::new(Action::Submit), at(8, 5))
        .unwrap();
    plant
        .act(
            &a,
            p.id,
            ActionInput::new(Action::ConfirmMeasures),
            at(8, 6),
        )
        .unwrap();
    for d in [Duty::Fire, Duty::SafetyDept, Duty::Specialist] {
        plant
            .act(
                &approver(d),
                p.id,
                ActionInput::new(Action::Approve),
                at(8, 10),
            )
            .unwrap();
    }
    plant
        .act(&a, p.id, ActionInput::new(Action::Brief), at(8, 20))
        .unwrap();
    let e = plant
        .act(&plant.guardian, p.id, start(), at(9, 0))
        .unwrap_err();
    assert!(code(&e).contains("guardian"), "{}", code(&e));
}

#[test]
fn resuming_after_a_long_interruption_needs_a_new_analysis() {
    let plant = Plant::new();
    let p = to_briefing(&plant);
    plant
        .act(
            &applicant(),
            p.id,
            ActionInput::new(Action::Brief),
            at(8, 40),
        )
        .unwrap();
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:45", 0.1, 20.9),
            at(8, 46),
        )
        .unwrap();
    let g = &plant.guardian;
    plant
        .act(g, p.id, ActionInput::new(Action::Start), at(9, 0))
        .unwrap();
    let suspend = || ActionInput {
        note: "午休".into(),
        ..ActionInput::new(Action::Suspend)
    };
    // a short break (≤ 60 min for 二级): no re-test
    plant.act(g, p.id, suspend(), at(10, 0)).unwrap();
    plant
        .act(g, p.id, ActionInput::new(Action::Resume), at(10, 50))
        .unwrap();
    // a long one: refused until a new analysis after the suspension
    plant.act(g, p.id, suspend(), at(11, 0)).unwrap();
    let e = plant
        .act(g, p.id, ActionInput::new(Action::Resume), at(12, 30))
        .unwrap_err();
    assert!(code(&e).contains("90 min"), "{}", code(&e));
    assert_eq!(plant.get(p.id).stage, Stage::Suspended);
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 12:20", 0.1, 20.9),
            at(12, 21),
        )
        .unwrap();
    let p = plant
        .act(g, p.id, ActionInput::new(Action::Resume), at(12, 30))
        .unwrap();
    assert_eq!(p.stage, Stage::Working);
    // the guardian leaves: withdrawn
    let p = plant
        .act(
            g,
            p.id,
            ActionInput {
                note: "监护人离开".into(),
                ..ActionInput::new(Action::Withdraw)
            },
            at(13, 0),
        )
        .unwrap();
    assert_eq!(p.stage, Stage::Withdrawn);
    // nothing more after a final stage
    assert!(
        plant
            .act(g, p.id, ActionInput::new(Action::Resume), at(13, 5))
            .is_err()
    );
}

#[test]
fn expired_permits_and_missing_readings_are_due() {
    let plant = Plant::new();
    let p = to_approval_confined(&plant);
    plant
        .act(&analyst(), p, gas("2026-11-24 08:20", 0.1, 20.9), at(8, 25))
        .unwrap();
    plant
        .act(
            &approver(Duty::Unit),
            p,
            ActionInput::new(Action::Approve),
            at(8, 30),
        )
        .unwrap();
    plant
        .act(&applicant(), p, ActionInput::new(Action::Brief), at(8, 35))
        .unwrap();
    plant
        .act(&analyst(), p, gas("2026-11-24 08:50", 0.1, 20.9), at(8, 51))
        .unwrap();
    plant
        .act(
            &plant.guardian,
            p,
            ActionInput::new(Action::Start),
            at(9, 0),
        )
        .unwrap();
    let r = plant.store.read().unwrap();
    assert!(due(&r, at(10, 0)).unwrap().is_empty());
    assert_eq!(
        due(&r, at(11, 0)).unwrap()[0].1,
        Due::ReadingDue { minutes: 130 }
    );
    assert_eq!(
        due(&r, at(16, 0)).unwrap()[0].1,
        Due::Expired { on_site: true }
    );
    let stats = daily(&r, time::macros::date!(2026 - 11 - 24), OFFSET).unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].count, stats[0].on_site), (1, 1));
}

#[test]
fn tampered_signatures_show() {
    let plant = Plant::new();
    let mut p = full_cycle(&plant, hot(HotLevel::Second));
    assert!(signatures_intact(&p));
    p.signatures[2].name = "某某".into();
    assert!(!signatures_intact(&p));
}
