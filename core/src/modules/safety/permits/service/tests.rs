use std::cell::RefCell;
use std::collections::HashMap;

use super::*;
use crate::auth::service::{NewUser, create_user};
use crate::modules::safety::permits::model::BlindAction;
use crate::modules::safety::permits::rules::{Calendar, HotMethod};
use crate::modules::safety::permits::settings::{
    import_holidays, parse_dates, save_calendar, save_chain, set_duties,
};
use crate::store::tests::temp_store;

const OFFSET: UtcOffset = time::macros::offset!(+8);

/// Tuesday 2026-11-24 at `hh:mm` plant time, as UTC ms.
fn at(hh: u8, mm: u8) -> i64 {
    crate::plant_time::parse_local(&format!("2026-11-24 {hh:02}:{mm:02}"), OFFSET).unwrap()
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

/// Gas detectors as the tests set them (unknown unless set).
#[derive(Default)]
struct Detectors(RefCell<HashMap<String, Detector>>);

impl Site for Detectors {
    fn detector(&self, tag: &str) -> Detector {
        self.0
            .borrow()
            .get(tag)
            .copied()
            .unwrap_or(Detector::Unknown)
    }
    /// Cameras are live here unless a detector named "camera" is set to anything but normal.
    fn camera_live(&self, _zones: &[u64]) -> bool {
        self.0
            .borrow()
            .get("camera")
            .is_none_or(|d| *d == Detector::Normal)
    }
}

struct Plant {
    _dir: tempfile::TempDir,
    store: Store,
    guardian: Signer,
    site: Detectors,
}

/// Certificates on file: (number, holder, scope).
const CERTS: &[(&str, &str, &str)] = &[
    (
        "T-WELD-1",
        "王强",
        "焊接与热切割作业 · 熔化焊接与热切割作业",
    ),
    ("T-ELEC-1", "周建明", "电工作业 · 低压电工作业"),
    ("T-LIFT-1", "赵刚", "起重机械作业 · 起重机械指挥"),
];

/// The crew of a permit: the certificated trade its work needs.
fn crew(d: &Details) -> Vec<Worker> {
    let (name, cert) = match d.work() {
        WorkType::TemporaryPower => ("周建明", "T-ELEC-1"),
        WorkType::Lifting => ("赵刚", "T-LIFT-1"),
        _ => ("王强", "T-WELD-1"),
    };
    vec![Worker {
        name: name.into(),
        cert: cert.into(),
    }]
}

/// People whose duties are stored (the service reads duties inside the signing
/// transaction, so every signer of these tests holds them in the store).
const PEOPLE: &[(u64, &[Duty])] = &[
    (100, &[Duty::Applicant]),
    (101, &[Duty::Analyst]),
    (150, &[Duty::Applicant]),
    (555, &[Duty::Guardian]),
];

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
        // duties are stored per user id; the tests' signers are not users, so their
        // duties go straight into the table through the settings service's writer
        let mut w = store.write(&sys).unwrap();
        for (id, d) in PEOPLE {
            w.insert(&crate::modules::safety::store::DUTIES, id, &d.to_vec())
                .unwrap();
        }
        for d in Duty::ALL.into_iter().filter(|d| d.approves()) {
            w.insert(
                &crate::modules::safety::store::DUTIES,
                &(200 + d as u64),
                &vec![d],
            )
            .unwrap();
        }
        // two gas detectors of the data platform
        for name in ["GD201", "GD202"] {
            let mut t = crate::tags::service::blank_tag(
                name,
                crate::tags::model::DataType::Float,
                crate::tags::model::Source::Simulator {
                    device: 1,
                    signal: "gas.lel_tank_farm".into(),
                },
            );
            t.unit = "%LEL".into();
            t.id = crate::tags::service::take_next_id(&mut w).unwrap();
            crate::tags::service::put_tag(&mut w, &t).unwrap();
        }
        w.commit().unwrap();
        // the plant map's work area, where the tests' permits are (x 100, y 50)
        crate::modules::safety::people::service::save_zone(
            &store,
            &sys,
            crate::modules::safety::people::model::Zone {
                id: 0,
                name: "装置区".into(),
                polygon: vec![[0.0, 0.0], [400.0, 0.0], [400.0, 300.0], [0.0, 300.0]],
                floor: None,
                rules: Default::default(),
            },
        )
        .unwrap();
        // the crews' certificates in the enterprise archive
        for (number, holder, scope) in CERTS {
            crate::modules::safety::archive::service::create(
                &store,
                &sys,
                crate::modules::safety::archive::service::CertInput {
                    kind: "special_operation".into(),
                    number: number.to_string(),
                    issuer: "金华市应急管理局".into(),
                    scope: scope.to_string(),
                    holder: holder.to_string(),
                    holder_ref: String::new(),
                    issued: "2024-01-01".into(),
                    expires: Some("2030-01-01".into()),
                    note: String::new(),
                },
            )
            .unwrap();
        }
        let guardian = signer(u.id, "孙伟", &[Duty::Guardian]);
        Plant {
            _dir: dir,
            store,
            guardian,
            site: Detectors::default(),
        }
    }

    fn detector(&self, tag: &str, d: Detector) {
        self.site.0.borrow_mut().insert(tag.into(), d);
    }

    fn input(&self, details: Details, from: &str, to: &str) -> PermitInput {
        let workers = crew(&details);
        PermitInput {
            details,
            applicant_unit: "生产部".into(),
            content: "更换 R-101 进料阀".into(),
            location: "聚合车间一楼".into(),
            x: 100.0,
            y: 50.0,
            work_unit: "设备动力部".into(),
            leader: "徐国平".into(),
            workers,
            guardian_id: Some(self.guardian.user_id),
            linked: Vec::new(),
            risks: "可燃气体泄漏\n高温烫伤".into(),
            from: from.into(),
            to: to.into(),
            windows: Vec::new(),
            activities: Vec::new(),
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

    /// Acts; an analysis carries only the toxic gases the permit names (the tests' `gas`
    /// gives H2S to every permit; the service refuses gases a permit does not name).
    fn act(&self, s: &Signer, id: u64, mut input: ActionInput, now: i64) -> Result<Permit> {
        if let Some(g) = input.gas.as_mut()
            && let Ok(p) = permit(&self.store.read().unwrap(), id)
            && let Ok(l) = gas_limits(&self.store.read().unwrap(), &p)
        {
            g.toxics
                .retain(|t| l.toxics.iter().any(|(n, _)| *n == t.name));
        }
        act(&self.store, &self.site, s, id, input, now, OFFSET)
    }

    fn get(&self, id: u64) -> Permit {
        permit(&self.store.read().unwrap(), id).unwrap()
    }

    fn enforce(&self, now: i64) -> Vec<Permit> {
        enforce(&self.store, &self.site, now).unwrap()
    }

    /// Submit and confirm the measures.
    fn submit(&self, id: u64, now: i64) -> Permit {
        let a = applicant();
        self.act(&a, id, ActionInput::new(Action::Submit), now)
            .unwrap();
        self.act(&a, id, ActionInput::new(Action::ConfirmMeasures), now)
            .unwrap()
    }

    /// Every approval in order.
    fn approve_all(&self, id: u64, now: i64) -> Permit {
        let mut p = self.get(id);
        for (i, d) in p.chain.clone().into_iter().enumerate() {
            let input = ActionInput {
                step: Some(i),
                ..ActionInput::new(Action::Approve)
            };
            p = self.act(&approver(d), id, input, now).unwrap();
        }
        p
    }

    fn brief(&self, id: u64, now: i64) {
        self.act(&applicant(), id, ActionInput::new(Action::Brief), now)
            .unwrap();
    }

    fn start(&self, id: u64, now: i64) -> Result<Permit> {
        self.act(&self.guardian, id, ActionInput::new(Action::Start), now)
    }

    fn notices(&self, user: u64) -> Vec<crate::notices::Notice> {
        crate::notices::list(&self.store.read().unwrap(), user).unwrap()
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
        method_kind: Some(HotMethod::Welding),
        lel_pct: Some(2.1),
        oxygen_service: false,
        space: String::new(),
        outdoor: Some(true),
        wind_force: Some(2),
        wind_approval: String::new(),
        monitor_tags: Vec::new(),
    }
}

fn confined(space: &str) -> Details {
    Details::ConfinedSpace {
        space: space.into(),
        medium: "丙烯酸丁酯".into(),
        lel_pct: Some(1.5),
        enriched: false,
        painting: false,
        toxics: vec![ToxicLimit {
            name: "H2S".into(),
            limit_mg_m3: 0.0,
        }],
    }
}

fn gas_full(sampled: &str, point: &str, combustible: f64, o2: f64, h2s: f64) -> ActionInput {
    ActionInput {
        gas: Some(GasInput {
            sampled: sampled.into(),
            point: point.into(),
            combustible_pct: Some(combustible),
            o2_pct: Some(o2),
            toxics: vec![ToxicReading {
                name: "H2S".into(),
                value: h2s,
            }],
        }),
        ..ActionInput::new(Action::Gas)
    }
}

/// An analysis at the usual point; H2S given (permits that do not name it ignore it).
fn gas(sampled: &str, combustible: f64, o2: f64) -> ActionInput {
    gas_full(sampled, "阀门法兰处", combustible, o2, 1.0)
}

/// An analysis without toxic values (for permits that name none).
fn gas_plain(sampled: &str, combustible: f64) -> ActionInput {
    let mut g = gas(sampled, combustible, 20.9);
    g.gas.as_mut().unwrap().toxics.clear();
    g
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

fn key(e: &Error) -> &'static str {
    match e {
        Error::Invalid { msg, .. }
        | Error::Conflict(msg)
        | Error::Forbidden(msg)
        | Error::NotFound(msg) => msg.key,
        _ => "",
    }
}

/// The right analysis for a permit's limits, passing.
fn passing(plant: &Plant, id: u64, sampled: &str) -> ActionInput {
    let p = plant.get(id);
    let l = gas_limits(&plant.store.read().unwrap(), &p).unwrap();
    ActionInput {
        gas: Some(GasInput {
            sampled: sampled.into(),
            point: "阀门法兰处".into(),
            combustible_pct: Some(0.1),
            o2_pct: Some(20.5),
            toxics: l
                .toxics
                .iter()
                .map(|(n, _)| ToxicReading {
                    name: n.clone(),
                    value: 0.0,
                })
                .collect(),
        }),
        ..ActionInput::new(Action::Gas)
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
                passing(plant, p.id, "2026-11-24 08:40"),
                at(8, 45),
            )
            .unwrap();
    }
    let p = plant.get(p.id);
    assert_eq!(p.stage, Stage::Approval);
    let p = plant.approve_all(p.id, at(8, 50));
    assert_eq!(p.stage, Stage::Briefing);
    plant.brief(p.id, at(8, 55));
    if needs_gas {
        plant
            .act(
                &analyst(),
                p.id,
                passing(plant, p.id, "2026-11-24 08:56"),
                at(8, 57),
            )
            .unwrap();
    }
    let p = plant.start(p.id, at(9, 0)).unwrap();
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
        confined("R-101"),
        Details::Blinding {
            line: "P-1203".into(),
            medium: "甲苯".into(),
            temperature_c: Some(25.0),
            pressure_mpa: Some(0.1),
            blind_spec: "DN80 PN16 304".into(),
            blind_number: "MB-07".into(),
            action: BlindAction::Insert,
        },
        Details::Height {
            height_m: 8.0,
            hazard_factors: false,
            wind_force: Some(2),
        },
        Details::Lifting {
            load_t: 12.0,
            tool: "25 t 汽车吊".into(),
            outdoor: Some(true),
            wind_force: Some(3),
        },
        Details::TemporaryPower {
            connection_point: "配电室 2# 柜".into(),
            voltage_v: 380.0,
            power_kw: 15.0,
            serves: None,
            hazardous_area: Some(true),
            lel_pct: None,
        },
        Details::Excavation {
            depth_m: 1.5,
            area: "罐区东侧 3 m × 2 m".into(),
            hazardous_area: Some(true),
            medium: "甲苯".into(),
            lel_pct: Some(1.1),
            toxics: vec![ToxicLimit {
                name: "甲苯".into(),
                limit_mg_m3: 0.0,
            }],
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
    // a Saturday: 二级 becomes 一级 (safety department signs too), and says why
    let sat = plant
        .create(plant.input(
            hot(HotLevel::Second),
            "2026-11-28 09:00",
            "2026-11-28 12:00",
        ))
        .unwrap();
    assert_eq!(sat.level.as_deref(), Some("first"));
    assert!(sat.upgraded);
    assert_eq!(
        sat.upgrades,
        vec![rules::Upgrade::DayOff {
            date: "2026-11-28".into(),
            holiday: false
        }]
    );
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
    let mut i = plant.input(hot(HotLevel::First), "2026-11-25 09:00", "2026-11-25 12:00");
    if let Details::HotWork { monitor_tags, .. } = &mut i.details {
        *monitor_tags = vec!["GD201".into()];
    }
    let hol = plant.create(i).unwrap();
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
                wind_force: Some(0),
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
    // 二级 on a weekday: allowed; 一级 (by night): 8 h only
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
    let cs = confined("R-101");
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
        wind_force: Some(5),
    };
    let e = plant
        .create(plant.input(windy, "2026-11-24 08:00", "2026-11-24 12:00"))
        .unwrap_err();
    assert!(code(&e).contains("force 5"), "{}", code(&e));
    // below 2 m is not work at height
    let low = Details::Height {
        height_m: 1.5,
        hazard_factors: false,
        wind_force: Some(0),
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
fn values_a_rule_needs_are_required_and_unknown_ones_take_the_stricter_limit() {
    let plant = Plant::new();
    let period = ("2026-11-24 09:00", "2026-11-24 12:00");
    let refuse = |d: Details, field: &str| {
        let e = plant
            .create(plant.input(d, period.0, period.1))
            .unwrap_err();
        assert!(
            matches!(&e, Error::Invalid { field: f, .. } if *f == field),
            "{field}: {e:?}"
        );
    };
    // lifting must say whether it is outdoors (and then the wind)
    refuse(
        Details::Lifting {
            load_t: 12.0,
            tool: "吊车".into(),
            outdoor: None,
            wind_force: Some(2),
        },
        "outdoor",
    );
    refuse(
        Details::Lifting {
            load_t: 12.0,
            tool: "吊车".into(),
            outdoor: Some(true),
            wind_force: None,
        },
        "wind_force",
    );
    // hot work: method kind, outdoors, wind
    for strip in ["method_kind", "outdoor", "wind_force"] {
        let mut d = hot(HotLevel::Second);
        if let Details::HotWork {
            method_kind,
            outdoor,
            wind_force,
            ..
        } = &mut d
        {
            match strip {
                "method_kind" => *method_kind = None,
                "outdoor" => *outdoor = None,
                _ => *wind_force = None,
            }
        }
        refuse(d, strip);
    }
    // a confined space names its toxic gases; a gas not in GBZ 2.1 needs its limit; a
    // limit above the reference is refused, a stricter one kept
    let with = |toxics: Vec<(&str, f64)>| Details::ConfinedSpace {
        space: "R-1".into(),
        medium: "水".into(),
        lel_pct: None,
        enriched: false,
        painting: false,
        toxics: toxics
            .into_iter()
            .map(|(n, l)| ToxicLimit {
                name: n.into(),
                limit_mg_m3: l,
            })
            .collect(),
    };
    refuse(with(vec![]), "toxics");
    refuse(with(vec![("X-99", 0.0)]), "toxics");
    refuse(with(vec![("H2S", 15.0)]), "toxics");
    let p = plant
        .create(plant.input(
            with(vec![("硫化氢", 5.0), ("co", 0.0), ("X-99", 3.0)]),
            period.0,
            period.1,
        ))
        .unwrap();
    match &p.details {
        Details::ConfinedSpace { toxics, .. } => assert_eq!(
            toxics
                .iter()
                .map(|t| (t.name.as_str(), t.limit_mg_m3))
                .collect::<Vec<_>>(),
            vec![("H2S", 5.0), ("CO", 20.0), ("X-99", 3.0)]
        ),
        _ => unreachable!(),
    }
    // deep excavation in a hazardous area names its toxic gases too
    refuse(
        Details::Excavation {
            depth_m: 1.5,
            area: "坑".into(),
            hazardous_area: Some(true),
            medium: String::new(),
            lel_pct: None,
            toxics: Vec::new(),
        },
        "toxics",
    );
    // temporary power says whether it is connected in a hazardous area
    refuse(
        Details::TemporaryPower {
            connection_point: "2# 柜".into(),
            voltage_v: 380.0,
            power_kw: 10.0,
            serves: None,
            hazardous_area: None,
            lel_pct: None,
        },
        "hazardous_area",
    );
    // the refusals created nothing
    assert_eq!(
        permits(
            &plant.store.read().unwrap(),
            &PermitFilter::default(),
            OFFSET
        )
        .unwrap()
        .len(),
        1
    );

    // an unknown LEL: 0.2 % vol, in a confined space as in deep excavation
    let cs = plant
        .create(plant.input(
            with(vec![("H2S", 0.0)]),
            "2026-11-24 09:00",
            "2026-11-24 16:00",
        ))
        .unwrap();
    plant.submit(cs.id, at(8, 5));
    let analysed = |id: u64, c: f64| {
        plant
            .act(&analyst(), id, gas("2026-11-24 08:20", c, 20.9), at(8, 25))
            .unwrap()
    };
    let p = analysed(cs.id, 0.3);
    assert!(!p.gas[0].pass(), "0.3 % with an unknown LEL fails");
    assert!(p.gas[0].failures[0].en.contains("limit of 0.2"));
    assert!(analysed(cs.id, 0.2).gas[1].pass());
}

#[test]
fn temporary_power_is_bound_to_the_work_it_serves_while_it_is_in_force() {
    let plant = Plant::new();
    let hw = plant
        .create(plant.input(hot(HotLevel::First), "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    let power = |serves| Details::TemporaryPower {
        connection_point: "配电室 2# 柜".into(),
        voltage_v: 380.0,
        power_kw: 15.0,
        serves,
        hazardous_area: Some(false),
        lel_pct: None,
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
    // a cancelled permit is served by nothing
    plant
        .act(
            &applicant(),
            hw.id,
            ActionInput::new(Action::Cancel),
            at(8, 1),
        )
        .unwrap();
    let e = plant
        .create(plant.input(power(Some(hw.id)), "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.serves_final");
    // outside a hazardous area no gas test; inside one, one before it is connected
    assert!(!power(None).needs_gas());
    let p = plant
        .create(plant.input(
            every_type()[5].clone(),
            "2026-11-24 09:00",
            "2026-11-24 16:00",
        ))
        .unwrap();
    assert_eq!(plant.submit(p.id, at(8, 5)).stage, Stage::GasAnalysis);
}

#[test]
fn workers_hold_the_certificates_their_work_needs() {
    let plant = Plant::new();
    let period = ("2026-11-24 09:00", "2026-11-24 12:00");
    let with_workers = |d: Details, workers: Vec<(&str, &str)>| {
        let mut i = plant.input(d, period.0, period.1);
        i.workers = workers
            .into_iter()
            .map(|(n, c)| Worker {
                name: n.into(),
                cert: c.into(),
            })
            .collect();
        plant.create(i)
    };
    let refused = |r: Result<Permit>| key(&r.unwrap_err());
    // welding, temporary power and lifting: every worker with a certificate of that
    // trade, on file, issued to them
    let welding = hot(HotLevel::Second);
    assert_eq!(
        refused(with_workers(
            welding.clone(),
            vec![("王强", "T-WELD-1"), ("李四", "")]
        )),
        "safety.permit.err.cert_required"
    );
    assert_eq!(
        refused(with_workers(welding.clone(), vec![])),
        "safety.permit.err.workers_required"
    );
    assert_eq!(
        refused(with_workers(welding.clone(), vec![("王强", "T-NOWHERE")])),
        "safety.permit.err.cert_unknown"
    );
    assert_eq!(
        refused(with_workers(welding.clone(), vec![("李四", "T-WELD-1")])),
        "safety.permit.err.cert_holder"
    );
    assert_eq!(
        refused(with_workers(welding.clone(), vec![("周建明", "T-ELEC-1")])),
        "safety.permit.err.cert_kind"
    );
    assert!(with_workers(welding, vec![("王强", "T-WELD-1")]).is_ok());
    assert!(with_workers(every_type()[5].clone(), vec![("周建明", "T-ELEC-1")]).is_ok());
    assert_eq!(
        refused(with_workers(
            every_type()[5].clone(),
            vec![("王强", "T-WELD-1")]
        )),
        "safety.permit.err.cert_kind"
    );
    assert!(with_workers(every_type()[4].clone(), vec![("赵刚", "T-LIFT-1")]).is_ok());
    // grinding and height work need none
    let mut grinding = hot(HotLevel::Second);
    if let Details::HotWork { method_kind, .. } = &mut grinding {
        *method_kind = Some(HotMethod::Grinding);
    }
    assert!(with_workers(grinding, vec![("李四", "")]).is_ok());
    assert!(with_workers(every_type()[3].clone(), vec![("李四", "T-ANY")]).is_ok());
    // a certificate the archive knows as expired by the end of the work is refused
    let sys = Actor::system("t");
    crate::modules::safety::archive::service::create(
        &plant.store,
        &sys,
        crate::modules::safety::archive::service::CertInput {
            kind: "special_operation".into(),
            number: "T-EXPIRED".into(),
            issuer: "应急管理局".into(),
            scope: "焊接与热切割作业".into(),
            holder: "陈志强".into(),
            holder_ref: String::new(),
            issued: "2020-01-01".into(),
            expires: Some("2026-11-23".into()),
            note: String::new(),
        },
    )
    .unwrap();
    let e = with_workers(hot(HotLevel::Second), vec![("陈志强", "T-EXPIRED")]).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.cert_expired");
    assert!(code(&e).contains("陈志强") && code(&e).contains("2026-11-23"));
    // ... on height work too, where no certificate is required
    assert_eq!(
        refused(with_workers(
            every_type()[3].clone(),
            vec![("陈志强", "T-EXPIRED")]
        )),
        "safety.permit.err.cert_expired"
    );
}

/// Submits a permit at `x` (and `y` 0); returns the error or the permit.
fn submitted(plant: &Plant, d: Details, x: f64) -> Result<Permit> {
    submitted_with(plant, d, x, Vec::new())
}

fn submitted_with(
    plant: &Plant,
    d: Details,
    x: f64,
    activities: Vec<rules::Activity>,
) -> Result<Permit> {
    let mut i = plant.input(d, "2026-11-24 09:00", "2026-11-24 16:00");
    i.x = x;
    i.y = 0.0;
    i.activities = activities;
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
        action: BlindAction::Insert,
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
    // hot work exactly 30 m away: refused (the boundary counts); 31 m away: fine
    let e = submitted(&plant, hot(HotLevel::Second), 130.0).unwrap_err();
    assert!(code(&e).contains("30 m"), "{}", code(&e));
    submitted(&plant, hot(HotLevel::Second), 131.0).unwrap();
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
    // painting 10 m from that hot work, liquid discharged 15 m away, venting 30 m away
    let height = every_type()[3].clone();
    let paint = vec![rules::Activity::SolventPainting];
    let e = submitted_with(&plant, height.clone(), 141.0, paint.clone()).unwrap_err();
    assert_eq!(key(&e), "safety.rule.hot_near_solvent_painting");
    submitted_with(&plant, height.clone(), 141.5, paint).unwrap();
    let e = submitted_with(
        &plant,
        height.clone(),
        146.0,
        vec![rules::Activity::DischargeLiquid],
    )
    .unwrap_err();
    assert_eq!(key(&e), "safety.rule.hot_near_discharge_liquid");
    let e = submitted_with(
        &plant,
        height,
        161.0,
        vec![rules::Activity::VentCombustible],
    )
    .unwrap_err();
    assert_eq!(key(&e), "safety.rule.hot_near_vent_combustible");

    // painting in a vessel with hot work inside it
    let plant = Plant::new();
    let cs = submitted(&plant, confined("R-101"), 0.0).unwrap();
    let mut inside = hot(HotLevel::Second);
    if let Details::HotWork { space, .. } = &mut inside {
        *space = "R-101".into();
    }
    let mut i = plant.input(inside, "2026-11-24 09:00", "2026-11-24 16:00");
    i.linked = vec![cs.id];
    let hw = plant.create(i).unwrap();
    plant
        .act(
            &applicant(),
            hw.id,
            ActionInput::new(Action::Submit),
            at(8, 5),
        )
        .unwrap();
    let mut painting = confined("R-101");
    if let Details::ConfinedSpace { painting: p, .. } = &mut painting {
        *p = true;
    }
    let e = submitted(&plant, painting, 500.0).unwrap_err();
    assert!(code(&e).contains("R-101"), "{}", code(&e));
}

/// A hot-work permit up to the gas-analysis stage.
fn to_gas(plant: &Plant, d: Details) -> Permit {
    let p = plant
        .create(plant.input(d, "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    plant.submit(p.id, at(8, 10))
}

/// A hot-work permit up to the approval stage with a passing analysis.
fn to_approval(plant: &Plant, d: Details) -> Permit {
    let p = to_gas(plant, d);
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
fn every_analysis_is_recorded_and_a_failing_one_blocks_the_start() {
    let plant = Plant::new();
    let p = to_gas(&plant, hot(HotLevel::Second));
    // LEL 2.1 % < 4 %: the limit is 0.2 % vol; 0.3 % is recorded as failing
    let p = plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:20", 0.3, 20.9),
            at(8, 25),
        )
        .unwrap();
    assert_eq!(p.gas.len(), 1);
    assert!(!p.gas[0].pass());
    assert!(p.gas[0].failures[0].en.contains("limit of 0.2"));
    assert_eq!(p.stage, Stage::GasAnalysis, "a failure opens no approvals");
    // the guardian and the safety department are told
    assert_eq!(plant.notices(plant.guardian.user_id).len(), 1);
    // a gas the permit does not name is refused (straight to the service)
    let e = act(
        &plant.store,
        &plant.site,
        &analyst(),
        p.id,
        gas("2026-11-24 08:20", 0.1, 20.9),
        at(8, 25),
        OFFSET,
    )
    .unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.toxic_not_named");
    // bad input is not a failing analysis: refused, nothing recorded
    for bad in [
        gas("2026-11-24 08:20", f64::NAN, 20.9),
        gas("2026-11-24 08:20", 120.0, 20.9),
        gas("2026-11-24 09:20", 0.1, 20.9),
        gas("2026-11-23 08:00", 0.1, 20.9),
    ] {
        assert!(plant.act(&analyst(), p.id, bad, at(8, 25)).is_err());
    }
    assert_eq!(plant.get(p.id).gas.len(), 1);
    // only analysts, and never the applicant on their own permit
    assert!(matches!(
        plant
            .act(
                &applicant(),
                p.id,
                gas("2026-11-24 08:20", 0.1, 20.9),
                at(8, 25)
            )
            .unwrap_err(),
        Error::Forbidden(_)
    ));
    let both = signer(100, "李明", &[Duty::Applicant, Duty::Analyst]);
    let mut w = plant.store.write(&Actor::system("t")).unwrap();
    w.insert(
        &crate::modules::safety::store::DUTIES,
        &100,
        &vec![Duty::Applicant, Duty::Analyst],
    )
    .unwrap();
    w.commit().unwrap();
    let e = plant
        .act(&both, p.id, gas("2026-11-24 08:20", 0.1, 20.9), at(8, 25))
        .unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.own_gas");
    // a pass at another point does not clear the failure at the flange
    let p = plant
        .act(
            &analyst(),
            p.id,
            gas_full("2026-11-24 08:22", "地沟", 0.1, 20.9, 0.0),
            at(8, 25),
        )
        .unwrap();
    assert_eq!(p.stage, Stage::Approval);
    let p = plant.approve_all(p.id, at(8, 30));
    plant.brief(p.id, at(8, 40));
    plant
        .act(
            &analyst(),
            p.id,
            gas_full("2026-11-24 08:50", "地沟", 0.1, 20.9, 0.0),
            at(8, 51),
        )
        .unwrap();
    let e = plant.start(p.id, at(9, 0)).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.gas_failed");
    assert!(code(&e).contains("阀门法兰处"), "{}", code(&e));
    // a later pass at the flange does
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:55", 0.1, 20.9),
            at(8, 56),
        )
        .unwrap();
    assert_eq!(plant.start(p.id, at(9, 0)).unwrap().stage, Stage::Working);
}

#[test]
fn a_failing_analysis_during_work_stops_it_until_a_passing_retest() {
    let plant = Plant::new();
    let cs = plant
        .create(plant.input(confined("R-203"), "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    plant.submit(cs.id, at(8, 10));
    plant
        .act(
            &analyst(),
            cs.id,
            gas("2026-11-24 08:20", 0.1, 20.9),
            at(8, 25),
        )
        .unwrap();
    plant.approve_all(cs.id, at(8, 30));
    plant.brief(cs.id, at(8, 40));
    plant
        .act(
            &analyst(),
            cs.id,
            gas("2026-11-24 08:50", 0.1, 20.9),
            at(8, 51),
        )
        .unwrap();
    plant.start(cs.id, at(9, 0)).unwrap();
    // the 11:00 reading: H2S 12 mg/m³ over its 10 — the work stops at once
    let p = plant
        .act(
            &analyst(),
            cs.id,
            gas_full("2026-11-24 10:58", "阀门法兰处", 0.1, 20.9, 12.0),
            at(11, 0),
        )
        .unwrap();
    assert_eq!(p.stage, Stage::Suspended);
    assert!(p.retest_required);
    let last: Vec<Action> = p
        .signatures
        .iter()
        .rev()
        .take(2)
        .map(|s| s.action)
        .collect();
    assert_eq!(last, vec![Action::Suspend, Action::Gas]);
    assert!(p.signatures.last().unwrap().note.contains("H2S"));
    // an alarm stands while it does
    let r = plant.store.read().unwrap();
    assert!(
        due(&r, at(11, 1))
            .unwrap()
            .iter()
            .any(|(x, d)| x.id == cs.id && matches!(d, Due::GasFailed { .. }))
    );
    drop(r);
    // the guardian and each holder of the safety-department duty are told
    let told = |u: u64| plant.notices(u).iter().any(|n| n.zh.contains(&p.number));
    assert!(told(plant.guardian.user_id));
    assert!(told(200 + Duty::SafetyDept as u64));
    assert!(!told(200 + Duty::Unit as u64));
    // resuming: refused while the failure stands, even after a pass elsewhere
    let resume = || ActionInput::new(Action::Resume);
    let e = plant
        .act(&plant.guardian, cs.id, resume(), at(11, 10))
        .unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.gas_failed");
    plant
        .act(
            &analyst(),
            cs.id,
            gas_full("2026-11-24 11:20", "阀门法兰处", 0.1, 20.9, 3.0),
            at(11, 21),
        )
        .unwrap();
    let r = plant.store.read().unwrap();
    assert!(
        !due(&r, at(11, 22))
            .unwrap()
            .iter()
            .any(|(_, d)| matches!(d, Due::GasFailed { .. }))
    );
    drop(r);
    let p = plant
        .act(&plant.guardian, cs.id, resume(), at(11, 30))
        .unwrap();
    assert_eq!(p.stage, Stage::Working);
    assert!(!p.retest_required);
    assert_eq!(p.gas.len(), 4, "the failing analysis stays on the record");
}

#[test]
fn hot_work_in_a_vessel_follows_the_confined_space_rules_too() {
    let plant = Plant::new();
    let inside = || {
        let mut d = hot(HotLevel::Second);
        if let Details::HotWork { space, outdoor, .. } = &mut d {
            *space = "R-101".into();
            *outdoor = Some(false);
        }
        d
    };
    // without a confined-space permit for the vessel: refused
    let e = plant
        .create(plant.input(inside(), "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.space_permit");
    // a confined-space permit for another vessel does not do
    let other = plant
        .create(plant.input(confined("R-102"), "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    let mut i = plant.input(inside(), "2026-11-24 09:00", "2026-11-24 16:00");
    i.linked = vec![other.id];
    assert!(plant.create(i).is_err());
    // with R-101's permit linked: drafted; its gas limits are the vessel's
    let cs = plant
        .create(plant.input(confined("r-101"), "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    let mut i = plant.input(inside(), "2026-11-24 09:00", "2026-11-24 16:00");
    i.linked = vec![cs.id];
    let hw = plant.create(i).unwrap();
    plant.submit(hw.id, at(8, 10));
    // the lower LEL of the two media (the vessel's 1.5 %, the hot work's 2.1 %)
    let l = gas_limits(&plant.store.read().unwrap(), &plant.get(hw.id)).unwrap();
    assert_eq!(l.lel_pct, Some(1.5));
    // oxygen 22 % is fine for hot work in the open, not inside a vessel
    let p = plant
        .act(
            &analyst(),
            hw.id,
            gas("2026-11-24 08:20", 0.1, 22.0),
            at(8, 21),
        )
        .unwrap();
    assert!(!p.gas[0].pass());
    assert!(p.gas[0].failures[0].field == "o2_pct");
    // the vessel's toxic gas must be measured
    let e = plant
        .act(
            &analyst(),
            hw.id,
            gas_plain("2026-11-24 08:22", 0.1),
            at(8, 23),
        )
        .unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.toxic_missing");
    plant
        .act(
            &analyst(),
            hw.id,
            gas("2026-11-24 08:24", 0.1, 20.9),
            at(8, 25),
        )
        .unwrap();
    plant.approve_all(hw.id, at(8, 30));
    plant.brief(hw.id, at(8, 40));
    plant
        .act(
            &analyst(),
            hw.id,
            gas("2026-11-24 08:50", 0.1, 20.9),
            at(8, 51),
        )
        .unwrap();
    // the hot work starts only while people are in the vessel under its own permit
    let e = plant.start(hw.id, at(9, 0)).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.space_not_working");
    plant.submit(cs.id, at(8, 10));
    plant
        .act(
            &analyst(),
            cs.id,
            gas("2026-11-24 08:50", 0.1, 20.9),
            at(8, 51),
        )
        .unwrap();
    plant.approve_all(cs.id, at(8, 52));
    plant.brief(cs.id, at(8, 53));
    plant.start(cs.id, at(9, 0)).unwrap();
    assert_eq!(plant.start(hw.id, at(9, 0)).unwrap().stage, Stage::Working);
}

#[test]
fn outdoor_hot_work_in_strong_wind_needs_the_special_approval() {
    let plant = Plant::new();
    let windy = |assessed, force, approval: &str, outdoor| {
        let mut d = hot(assessed);
        if let Details::HotWork {
            wind_force,
            wind_approval,
            outdoor: o,
            monitor_tags,
            ..
        } = &mut d
        {
            *wind_force = Some(force);
            *wind_approval = approval.into();
            *o = Some(outdoor);
            *monitor_tags = vec!["GD201".into()];
        }
        plant.create(plant.input(d, "2026-11-24 09:00", "2026-11-24 12:00"))
    };
    assert_eq!(
        windy(HotLevel::Second, 4, "", true)
            .unwrap()
            .level
            .as_deref(),
        Some("second")
    );
    let e = windy(HotLevel::Second, 5, "", true).unwrap_err();
    assert_eq!(key(&e), "safety.rule.wind_hot");
    let p = windy(HotLevel::Second, 5, "反应器泄漏须立即补焊", true).unwrap();
    assert_eq!(p.level.as_deref(), Some("first"));
    assert_eq!(p.upgrades, vec![rules::Upgrade::Wind { force: 5 }]);
    let e = windy(HotLevel::Special, 8, "抢修", true).unwrap_err();
    assert_eq!(key(&e), "safety.rule.wind_hot_special");
    assert!(windy(HotLevel::Special, 8, "", false).is_ok(), "indoors");
    // lifting outdoors stops from force 6, and the checklist says so
    let lift = |force| {
        plant.create(plant.input(
            Details::Lifting {
                load_t: 12.0,
                tool: "吊车".into(),
                outdoor: Some(true),
                wind_force: Some(force),
            },
            "2026-11-24 09:00",
            "2026-11-24 12:00",
        ))
    };
    assert!(lift(5).is_ok());
    assert_eq!(key(&lift(6).unwrap_err()), "safety.rule.wind");
    for lang in [Lang::ZhCn, Lang::En] {
        let list = crate::i18n::t(lang, "safety.measures.lifting");
        assert!(
            list.contains('6') && !list.contains("5 级") && !list.contains("force 5"),
            "{list}"
        );
        let height = crate::i18n::t(lang, "safety.measures.height");
        assert!(!height.contains("不大于 5 级"), "{height}");
    }
}

/// A 特级 hot-work permit on 24 November watched by `tags`.
fn special(plant: &Plant, tags: &[&str]) -> Result<Permit> {
    let mut d = hot(HotLevel::Special);
    if let Details::HotWork {
        monitor_tags,
        lel_pct,
        ..
    } = &mut d
    {
        *monitor_tags = tags.iter().map(|t| t.to_string()).collect();
        *lel_pct = Some(5.0);
    }
    plant.create(plant.input(d, "2026-11-24 09:00", "2026-11-24 16:00"))
}

/// Submitted, analysed, approved, briefed and analysed again: ready to start at 09:00.
fn ready_to_start(plant: &Plant, id: u64) {
    plant.submit(id, at(8, 10));
    plant
        .act(
            &analyst(),
            id,
            gas("2026-11-24 08:20", 0.1, 20.9),
            at(8, 21),
        )
        .unwrap();
    plant.approve_all(id, at(8, 30));
    plant.brief(id, at(8, 40));
    plant
        .act(
            &analyst(),
            id,
            gas("2026-11-24 08:50", 0.1, 20.9),
            at(8, 51),
        )
        .unwrap();
}

#[test]
fn special_hot_work_starts_only_under_a_live_camera() {
    let plant = Plant::new();
    let p = special(&plant, &["GD201"]).unwrap();
    ready_to_start(&plant, p.id);
    plant.detector("GD201", Detector::Normal);
    // the camera covering the location is down: refused, nothing changes
    plant.detector("camera", Detector::Bad);
    let e = plant.start(p.id, at(9, 0)).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.video");
    assert_eq!(plant.get(p.id).stage, Stage::Briefing);
    plant.detector("camera", Detector::Normal);
    plant.start(p.id, at(9, 0)).unwrap();
}

#[test]
fn special_hot_work_is_watched_by_gas_detectors_that_stop_it() {
    let plant = Plant::new();
    let e = special(&plant, &[]).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.monitor_required");
    let e = special(&plant, &["GD999"]).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.monitor_unknown");
    let p = special(&plant, &["GD201", "GD202"]).unwrap();
    ready_to_start(&plant, p.id);
    // not while a detector is silent, bad or in alarm
    plant.detector("GD201", Detector::Normal);
    let e = plant.start(p.id, at(9, 0)).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.detector");
    assert!(code(&e).contains("GD202"));
    plant.detector("GD202", Detector::Alarm);
    assert!(plant.start(p.id, at(9, 0)).is_err());
    plant.detector("GD202", Detector::Normal);
    plant.start(p.id, at(9, 0)).unwrap();
    // nothing to stop while both read normally
    assert!(plant.enforce(at(9, 30)).is_empty());
    // an alarm on one of them: the box stops the work and tells the guardian
    plant.detector("GD201", Detector::Alarm);
    let stopped = plant.enforce(at(9, 31));
    assert_eq!(stopped.len(), 1);
    let p = plant.get(p.id);
    assert_eq!(p.stage, Stage::Suspended);
    assert!(p.retest_required);
    let s = p.signatures.last().unwrap();
    assert_eq!((s.action, s.user_id), (Action::Suspend, 0));
    assert!(s.note.contains("GD201"));
    assert!(
        plant
            .notices(plant.guardian.user_id)
            .iter()
            .any(|n| n.zh.contains("GD201"))
    );
    // resuming needs the detectors back and a new analysis after the stop
    plant.detector("GD201", Detector::Normal);
    let resume = ActionInput::new(Action::Resume);
    let e = plant
        .act(&plant.guardian, p.id, resume.clone(), at(9, 40))
        .unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.retest_required");
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 09:38", 0.1, 20.9),
            at(9, 39),
        )
        .unwrap();
    plant.detector("GD202", Detector::Bad);
    assert!(
        plant
            .act(&plant.guardian, p.id, resume.clone(), at(9, 40))
            .is_err()
    );
    plant.detector("GD202", Detector::Normal);
    assert_eq!(
        plant
            .act(&plant.guardian, p.id, resume, at(9, 40))
            .unwrap()
            .stage,
        Stage::Working
    );
}

#[test]
fn the_box_stops_work_at_the_end_of_its_window_its_permit_and_its_day() {
    let plant = Plant::new();
    // a 二级 job on three day shifts: 72 hours, still 二级
    let mut i = plant.input(
        hot(HotLevel::Second),
        "2026-11-24 08:00",
        "2026-11-26 17:00",
    );
    i.windows = ["24", "25", "26"]
        .iter()
        .map(|d| WindowInput {
            from: format!("2026-11-{d} 08:00"),
            to: format!("2026-11-{d} 17:00"),
        })
        .collect();
    let p = plant.create(i.clone()).unwrap();
    assert_eq!(p.level.as_deref(), Some("second"));
    assert_eq!(p.windows.len(), 3);
    // a night window would need 一级, and 一级 lasts 8 h: refused
    let mut night = i.clone();
    night.windows[1].to = "2026-11-25 21:00".into();
    assert!(plant.create(night).is_err());
    // a window outside the period is refused
    let mut outside = i.clone();
    outside.windows[2].to = "2026-11-26 18:00".into();
    assert_eq!(
        key(&plant.create(outside).unwrap_err()),
        "safety.rule.window"
    );
    plant.submit(p.id, at(7, 10));
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 07:20", 0.1, 20.9),
            at(7, 21),
        )
        .unwrap();
    plant.approve_all(p.id, at(7, 30));
    plant.brief(p.id, at(7, 40));
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 07:50", 0.1, 20.9),
            at(7, 51),
        )
        .unwrap();
    plant.start(p.id, at(8, 0)).unwrap();
    // 17:00: the window ends and the box stops the work
    assert!(plant.enforce(at(16, 59)).is_empty());
    assert_eq!(plant.enforce(at(17, 0)).len(), 1);
    let g = &plant.guardian;
    let resume = || ActionInput::new(Action::Resume);
    // not at night, outside a window
    let night_ms = crate::plant_time::parse_local("2026-11-24 22:00", OFFSET).unwrap();
    let e = plant.act(g, p.id, resume(), night_ms).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.outside");
    // the next morning: a new analysis first (the interruption was over 60 min)
    let morning = crate::plant_time::parse_local("2026-11-25 08:00", OFFSET).unwrap();
    let e = plant.act(g, p.id, resume(), morning).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.retest");
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-25 07:50", 0.1, 20.9),
            morning - 60_000,
        )
        .unwrap();
    plant.act(g, p.id, resume(), morning).unwrap();

    // the daily re-analysis: hot work going on 24 h after its last passing analysis stops
    let plant = Plant::new();
    let mut i = plant.input(
        hot(HotLevel::Second),
        "2026-11-24 09:00",
        "2026-11-26 09:00",
    );
    if let Details::HotWork { outdoor, .. } = &mut i.details {
        *outdoor = Some(false);
    }
    // (a job that runs day and night needs 一级 and 8 h; the re-analysis is shown on a
    // 二级 job whose single window is days long only because the calendar has no nights)
    let cal = Calendar {
        night_from: time::macros::time!(0:00),
        night_to: time::macros::time!(0:00),
        ..Default::default()
    };
    save_calendar(&plant.store, &Actor::system("t"), cal).unwrap();
    let p = plant.create(i).unwrap();
    assert_eq!(p.level.as_deref(), Some("second"));
    plant.submit(p.id, at(8, 10));
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:20", 0.1, 20.9),
            at(8, 21),
        )
        .unwrap();
    plant.approve_all(p.id, at(8, 30));
    plant.brief(p.id, at(8, 40));
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:50", 0.1, 20.9),
            at(8, 51),
        )
        .unwrap();
    plant.start(p.id, at(9, 0)).unwrap();
    let next_day = crate::plant_time::parse_local("2026-11-25 08:50", OFFSET).unwrap();
    assert!(plant.enforce(next_day).is_empty());
    let stopped = plant.enforce(next_day + 60_000);
    assert_eq!(stopped.len(), 1);
    assert!(stopped[0].retest_required);

    // an expired permit with work on site: stopped, and it cannot resume
    let plant = Plant::new();
    let p = to_briefing(&plant);
    plant.brief(p.id, at(8, 40));
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:45", 0.1, 20.9),
            at(8, 46),
        )
        .unwrap();
    plant.start(p.id, at(9, 0)).unwrap();
    assert_eq!(plant.enforce(at(16, 0)).len(), 1);
    let p = plant.get(p.id);
    assert_eq!(p.stage, Stage::Suspended);
    assert!(
        plant
            .act(
                &plant.guardian,
                p.id,
                ActionInput::new(Action::Resume),
                at(16, 5)
            )
            .is_err()
    );
    // the work can still be finished and accepted
    let p = plant
        .act(
            &applicant(),
            p.id,
            ActionInput::new(Action::Finish),
            at(16, 10),
        )
        .unwrap();
    assert_eq!(p.stage, Stage::Acceptance);
}

#[test]
fn work_at_height_is_confirmed_again_after_an_interruption() {
    let plant = Plant::new();
    let mut d = every_type()[3].clone();
    if let Details::Height { height_m, .. } = &mut d {
        *height_m = 4.0;
    }
    // a window at night makes it one level higher (night from the calendar)
    let mut i = plant.input(d.clone(), "2026-11-24 19:00", "2026-11-24 22:00");
    assert_eq!(
        plant.create(i.clone()).unwrap().level.as_deref(),
        Some("ii")
    );
    i.from = "2026-11-24 09:00".into();
    i.to = "2026-11-24 16:00".into();
    let p = plant.create(i).unwrap();
    assert_eq!(p.level.as_deref(), Some("i"));
    let a = applicant();
    plant
        .act(&a, p.id, ActionInput::new(Action::Submit), at(8, 5))
        .unwrap();
    let confirm = ActionInput {
        applies: Some((0..p.checklist.len()).map(|i| i != 0).collect()),
        ..ActionInput::new(Action::ConfirmMeasures)
    };
    plant.act(&a, p.id, confirm, at(8, 6)).unwrap();
    plant.approve_all(p.id, at(8, 10));
    plant.brief(p.id, at(8, 20));
    plant.start(p.id, at(9, 0)).unwrap();
    let g = &plant.guardian;
    plant
        .act(
            g,
            p.id,
            ActionInput {
                note: "下雨".into(),
                ..ActionInput::new(Action::Suspend)
            },
            at(10, 0),
        )
        .unwrap();
    let n = p.checklist.len();
    let resume = |ticks: Option<Vec<bool>>| ActionInput {
        applies: ticks,
        ..ActionInput::new(Action::Resume)
    };
    let e = plant.act(g, p.id, resume(None), at(10, 30)).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.reconfirm");
    // an applicable measure left unticked: refused
    let e = plant
        .act(g, p.id, resume(Some(vec![true; n - 1])), at(10, 30))
        .unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.reconfirm");
    let mut ticks = vec![true; n];
    ticks[0] = false; // it did not apply before
    ticks[1] = false;
    assert!(plant.act(g, p.id, resume(Some(ticks)), at(10, 30)).is_err());
    let mut ticks = vec![true; n];
    ticks[0] = false;
    let p = plant.act(g, p.id, resume(Some(ticks)), at(10, 30)).unwrap();
    assert_eq!(p.stage, Stage::Working);
    assert_eq!(p.checklist[1].confirmed_by, plant.guardian.name);
}

#[test]
fn deep_excavation_in_a_hazardous_area_follows_the_confined_space_rules() {
    let plant = Plant::new();
    let deep = every_type()[6].clone();
    assert!(deep.enclosed() && deep.needs_gas());
    // 24 h at most
    assert!(
        plant
            .create(plant.input(deep.clone(), "2026-11-24 09:00", "2026-11-25 10:00"))
            .is_err()
    );
    let p = plant
        .create(plant.input(deep, "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    plant.submit(p.id, at(8, 10));
    // oxygen and the named toxic gas (toluene, PC-TWA 50 mg/m³) are limits
    let r = plant
        .act(
            &analyst(),
            p.id,
            passing(&plant, p.id, "2026-11-24 08:20"),
            at(8, 21),
        )
        .unwrap();
    assert!(r.gas[0].pass());
    let l = gas_limits(&plant.store.read().unwrap(), &r).unwrap();
    assert_eq!(l.toxics, vec![("C7H8".to_string(), 50.0)]);
    assert_eq!(l.oxygen, rules::OxygenRule::Enclosed { enriched: false });
    plant.approve_all(p.id, at(8, 30));
    plant.brief(p.id, at(8, 40));
    plant
        .act(
            &analyst(),
            p.id,
            passing(&plant, p.id, "2026-11-24 08:50"),
            at(8, 51),
        )
        .unwrap();
    plant.start(p.id, at(9, 0)).unwrap();
    // readings every 2 hours
    let r = plant.store.read().unwrap();
    assert!(due(&r, at(10, 50)).unwrap().is_empty());
    assert!(matches!(
        due(&r, at(10, 51)).unwrap()[0].1,
        Due::ReadingDue { minutes: 121 }
    ));
}

#[test]
fn approvals_go_in_order_by_the_right_people() {
    let plant = Plant::new();
    let mut d = hot(HotLevel::Special);
    if let Details::HotWork {
        lel_pct,
        monitor_tags,
        ..
    } = &mut d
    {
        *lel_pct = Some(5.0);
        *monitor_tags = vec!["GD201".into()];
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
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    // a signer without the step's duty
    let e = plant
        .act(&approver(Duty::SafetyDept), p.id, step(0), at(8, 30))
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    // the step number must be the next one
    let e = plant
        .act(&approver(Duty::Unit), p.id, step(1), at(8, 30))
        .unwrap_err();
    assert!(code(&e).contains("step 1"), "{}", code(&e));
    // the applicant may not approve their own permit, even holding the duty
    let own = signer(100, "李明", &[Duty::Applicant, Duty::Unit]);
    assert!(plant.act(&own, p.id, step(0), at(8, 30)).is_err());
    assert_eq!(plant.get(p.id).approved_steps, 0);
    plant
        .act(&approver(Duty::Unit), p.id, step(0), at(8, 30))
        .unwrap();
    // one person, one step: holding both duties does not let the unit head sign twice
    let mut w = plant.store.write(&Actor::system("t")).unwrap();
    w.insert(
        &crate::modules::safety::store::DUTIES,
        &(200 + Duty::Unit as u64),
        &vec![Duty::Unit, Duty::SafetyDept],
    )
    .unwrap();
    w.commit().unwrap();
    let both = signer(
        200 + Duty::Unit as u64,
        "unit",
        &[Duty::Unit, Duty::SafetyDept],
    );
    assert!(plant.act(&both, p.id, step(1), at(8, 31)).is_err());
    assert!(!offered(&plant.get(p.id), &both).contains(&Action::Approve));
    plant
        .act(&approver(Duty::SafetyDept), p.id, step(1), at(8, 32))
        .unwrap();
    // rejection sends it back to the draft with the reason; the applicant cannot reject
    let reject = |note: &str| ActionInput {
        note: note.into(),
        ..ActionInput::new(Action::Reject)
    };
    assert!(
        plant
            .act(&approver(Duty::Leader), p.id, reject(""), at(8, 33))
            .is_err()
    );
    let e = plant.act(&applicant(), p.id, reject("不想做了"), at(8, 33));
    assert!(matches!(e, Err(Error::Forbidden(_))));
    let p = plant
        .act(
            &approver(Duty::Leader),
            p.id,
            reject("补充特级动火方案"),
            at(8, 33),
        )
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
    plant.submit(p.id, at(8, 35));
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
        let signer = if d == Duty::Unit {
            both.clone()
        } else {
            approver(d)
        };
        plant.act(&signer, p.id, step(i), at(8, 40)).unwrap();
    }
    assert_eq!(plant.get(p.id).stage, Stage::Briefing);
}

#[test]
fn what_a_signer_is_offered_is_exactly_what_they_may_do() {
    let plant = Plant::new();
    // permits in every stage, and people in every part
    let mut ids = Vec::new();
    let draft = plant
        .create(plant.input(confined("R-1"), "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    ids.push(draft.id);
    let gas_stage = to_gas(&plant, confined("R-2"));
    ids.push(gas_stage.id);
    let approval = to_approval(&plant, confined("R-3"));
    ids.push(approval.id);
    let p = plant.approve_all(to_approval(&plant, confined("R-4")).id, at(8, 30));
    ids.push(p.id);
    let p = to_approval(&plant, confined("R-5"));
    plant.approve_all(p.id, at(8, 30));
    plant.brief(p.id, at(8, 40));
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:50", 0.1, 20.9),
            at(8, 51),
        )
        .unwrap();
    plant.start(p.id, at(9, 0)).unwrap();
    ids.push(p.id);
    let people = [
        applicant(),
        signer(150, "周建明", &[Duty::Applicant]),
        analyst(),
        plant.guardian.clone(),
        signer(555, "别人", &[Duty::Guardian]),
        approver(Duty::Unit),
        approver(Duty::SafetyDept),
        approver(Duty::Leader),
        Signer {
            can_write: true,
            ..signer(300, "安全员", &[])
        },
    ];
    for id in ids {
        let p = plant.get(id);
        for s in &people {
            let offers = offered(&p, s);
            for a in Action::ALL {
                let allowed = permission(&p, s, a).is_ok();
                assert_eq!(
                    offers.contains(&a),
                    allowed,
                    "{a:?} by {} at {:?}",
                    s.name,
                    p.stage
                );
                // and the service refuses what is not offered, on the same grounds
                if !allowed {
                    let mut input = ActionInput::new(a);
                    input.note = "原因".into();
                    input.gas = passing(&plant, id, "2026-11-24 09:00").gas;
                    let before = plant.get(id);
                    assert!(
                        plant.act(s, id, input, at(9, 1)).is_err(),
                        "{a:?} by {}",
                        s.name
                    );
                    assert_eq!(plant.get(id), before, "a refused step changes nothing");
                }
            }
        }
    }
}

#[test]
fn duties_are_read_when_signing() {
    let plant = Plant::new();
    let p = to_approval(&plant, hot(HotLevel::Second));
    // the unit head's duty is taken away after their page was loaded
    let unit = approver(Duty::Unit);
    let mut w = plant.store.write(&Actor::system("t")).unwrap();
    w.remove(&crate::modules::safety::store::DUTIES, &unit.user_id)
        .unwrap();
    w.commit().unwrap();
    let e = plant
        .act(&unit, p.id, ActionInput::new(Action::Approve), at(8, 30))
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)));
    assert_eq!(plant.get(p.id).approved_steps, 0);
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
    let e = plant.start(p.id, at(9, 0)).unwrap_err();
    assert!(code(&e).contains("briefing"), "{}", code(&e));
    plant.brief(p.id, at(8, 40));
    // the 08:20 sample is 40 minutes old at 09:00
    let e = plant.start(p.id, at(9, 0)).unwrap_err();
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
    assert!(plant.start(p.id, at(8, 50)).is_err());
    let p = plant.start(p.id, at(9, 0)).unwrap();
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
    plant.submit(p.id, at(8, 5));
    plant.approve_all(p.id, at(8, 10));
    plant.brief(p.id, at(8, 20));
    let e = plant.start(p.id, at(9, 0)).unwrap_err();
    assert!(code(&e).contains("guardian"), "{}", code(&e));
}

#[test]
fn resuming_after_a_long_interruption_needs_a_new_analysis() {
    let plant = Plant::new();
    let p = to_briefing(&plant);
    plant.brief(p.id, at(8, 40));
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:45", 0.1, 20.9),
            at(8, 46),
        )
        .unwrap();
    let g = &plant.guardian;
    plant.start(p.id, at(9, 0)).unwrap();
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
    let p = to_gas(&plant, confined("R-101")).id;
    plant
        .act(&analyst(), p, gas("2026-11-24 08:20", 0.1, 20.9), at(8, 25))
        .unwrap();
    plant.approve_all(p, at(8, 30));
    plant.brief(p, at(8, 35));
    plant
        .act(&analyst(), p, gas("2026-11-24 08:50", 0.1, 20.9), at(8, 51))
        .unwrap();
    plant.start(p, at(9, 0)).unwrap();
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
fn holiday_files_import_and_a_bad_line_changes_nothing() {
    let plant = Plant::new();
    let sys = Actor::system("t");
    let before = settings::calendar(&plant.store.read().unwrap()).unwrap();
    assert!(
        before.is_day_off(time::macros::date!(2026 - 10 - 01)),
        "shipped"
    );
    let e =
        import_holidays(&plant.store, &sys, "2028-01-01 holiday\n2028-02-30 holiday").unwrap_err();
    assert!(code(&e).contains("2"), "{}", code(&e));
    assert_eq!(
        settings::calendar(&plant.store.read().unwrap()).unwrap(),
        before
    );
    let mut file = String::from("2028 official\n2028-01-01 holiday 元旦\n2028-01-08 workday\n");
    for d in 1..=12 {
        file.push_str(&format!("2028-10-{d:02} holiday\n"));
    }
    let (cal, changes) = import_holidays(&plant.store, &sys, &file).unwrap();
    assert!(cal.year(2028).confirmed);
    assert_eq!((changes[0].0.holidays, changes[0].1.holidays), (0, 13));
    assert!(cal.year(2026).confirmed, "other years kept");
    // the new day off upgrades hot work on it
    let p = plant
        .create(plant.input(
            hot(HotLevel::Second),
            "2028-01-01 09:00",
            "2028-01-01 12:00",
        ))
        .unwrap();
    assert_eq!(p.level.as_deref(), Some("first"));
}

#[test]
fn old_single_toxic_fields_become_lists() {
    let (_d, store) = temp_store();
    use ciborium::Value;
    const RAW: crate::store::Table<u64, Value> = crate::store::Table::new("safety.permits");
    let t = |s: &str| Value::Text(s.into());
    let old = Value::Map(vec![
        (t("id"), Value::Integer(7.into())),
        (
            t("details"),
            Value::Map(vec![
                (t("type"), t("confined_space")),
                (t("toxic_name"), t("H2S")),
                (t("toxic_limit"), Value::Float(10.0)),
            ]),
        ),
        (
            t("gas"),
            Value::Array(vec![Value::Map(vec![
                (t("point"), t("A")),
                (t("toxic_value"), Value::Float(2.5)),
            ])]),
        ),
    ]);
    let mut w = store.write(&Actor::system("t")).unwrap();
    w.insert(&RAW, &7, &old).unwrap();
    migrate_toxic_lists(&mut w).unwrap();
    let v = w.get(&RAW, &7).unwrap().unwrap();
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        json.contains(r#""toxics":[{"name":"H2S","limit_mg_m3":10.0}]"#),
        "{json}"
    );
    assert!(
        json.contains(r#""toxics":[{"name":"H2S","value":2.5}]"#),
        "{json}"
    );
    assert!(
        !json.contains("toxic_name") && !json.contains("toxic_value"),
        "{json}"
    );
}

#[test]
fn tampered_signatures_show() {
    let plant = Plant::new();
    let mut p = full_cycle(&plant, hot(HotLevel::Second));
    assert!(signatures_intact(&p));
    p.signatures[2].name = "某某".into();
    assert!(!signatures_intact(&p));
}

#[test]
fn work_that_depends_on_another_permit_stops_with_it() {
    let plant = Plant::new();
    // a vessel entered under its confined-space permit, hot work inside it
    let cs = plant
        .create(plant.input(confined("R-7"), "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    plant.submit(cs.id, at(8, 10));
    plant
        .act(
            &analyst(),
            cs.id,
            gas("2026-11-24 08:20", 0.1, 20.9),
            at(8, 21),
        )
        .unwrap();
    plant.approve_all(cs.id, at(8, 30));
    plant.brief(cs.id, at(8, 40));
    plant
        .act(
            &analyst(),
            cs.id,
            gas("2026-11-24 08:50", 0.1, 20.9),
            at(8, 51),
        )
        .unwrap();
    plant.start(cs.id, at(9, 0)).unwrap();
    let mut inside = hot(HotLevel::Second);
    if let Details::HotWork { space, outdoor, .. } = &mut inside {
        *space = "R-7".into();
        *outdoor = Some(false);
    }
    let mut i = plant.input(inside, "2026-11-24 09:00", "2026-11-24 16:00");
    i.linked = vec![cs.id];
    i.x = 500.0;
    let hw = plant.create(i).unwrap();
    plant.submit(hw.id, at(8, 10));
    plant
        .act(
            &analyst(),
            hw.id,
            gas("2026-11-24 08:52", 0.1, 20.9),
            at(8, 53),
        )
        .unwrap();
    plant.approve_all(hw.id, at(8, 54));
    plant.brief(hw.id, at(8, 55));
    plant.start(hw.id, at(9, 0)).unwrap();
    // temporary power serving the vessel's permit
    let power = Details::TemporaryPower {
        connection_point: "2# 柜".into(),
        voltage_v: 380.0,
        power_kw: 5.0,
        serves: Some(cs.id),
        hazardous_area: Some(false),
        lel_pct: None,
    };
    let tp = plant
        .create(plant.input(power, "2026-11-24 09:00", "2026-11-24 16:00"))
        .unwrap();
    plant.submit(tp.id, at(8, 10));
    plant.approve_all(tp.id, at(8, 54));
    plant.brief(tp.id, at(8, 55));
    plant.start(tp.id, at(9, 0)).unwrap();
    assert!(plant.enforce(at(9, 30)).is_empty());
    // the vessel's reading fails: its permit stops, and with it the hot work inside
    plant
        .act(
            &analyst(),
            cs.id,
            gas_full("2026-11-24 10:00", "阀门法兰处", 0.1, 20.9, 15.0),
            at(10, 1),
        )
        .unwrap();
    let stopped = plant.enforce(at(10, 1));
    assert_eq!(
        stopped.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![hw.id]
    );
    assert!(plant.get(hw.id).retest_required);
    assert!(
        plant
            .get(hw.id)
            .signatures
            .last()
            .unwrap()
            .note
            .contains("R-7")
    );
    assert_eq!(
        plant.get(tp.id).stage,
        Stage::Working,
        "power goes on while the permit lives"
    );
    // the vessel's permit is withdrawn: its temporary power stops
    plant
        .act(
            &plant.guardian,
            cs.id,
            ActionInput {
                note: "停止作业".into(),
                ..ActionInput::new(Action::Withdraw)
            },
            at(10, 5),
        )
        .unwrap();
    let stopped = plant.enforce(at(10, 6));
    assert_eq!(
        stopped.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![tp.id]
    );
}

#[test]
fn readings_count_against_the_limits_the_permit_has_now() {
    let plant = Plant::new();
    // drafted with an LEL of 5 %: 0.4 % passes
    let mut d = hot(HotLevel::Second);
    if let Details::HotWork { lel_pct, .. } = &mut d {
        *lel_pct = Some(5.0);
    }
    let mut input = plant.input(d, "2026-11-24 09:00", "2026-11-24 16:00");
    let p = plant.create(input.clone()).unwrap();
    plant.submit(p.id, at(8, 10));
    let r = plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:50", 0.4, 20.9),
            at(8, 51),
        )
        .unwrap();
    assert!(r.gas[0].pass());
    // rejected and corrected: the medium's LEL is 1.2 %, so 0.2 % applies
    plant
        .act(
            &approver(Duty::Unit),
            p.id,
            ActionInput {
                note: "介质 LEL 有误".into(),
                ..ActionInput::new(Action::Reject)
            },
            at(8, 52),
        )
        .unwrap();
    if let Details::HotWork { lel_pct, .. } = &mut input.details {
        *lel_pct = Some(1.2);
    }
    update(&plant.store, &applicant(), p.id, input, at(8, 53), OFFSET).unwrap();
    plant.submit(p.id, at(8, 54));
    // an older passing analysis elsewhere opens the approvals; the 0.4 % one now fails
    plant
        .act(
            &analyst(),
            p.id,
            gas_full("2026-11-24 08:47", "地沟", 0.1, 20.9, 0.0),
            at(8, 55),
        )
        .unwrap();
    plant.approve_all(p.id, at(8, 56));
    plant.brief(p.id, at(8, 57));
    let e = plant.start(p.id, at(9, 0)).unwrap_err();
    assert_eq!(key(&e), "safety.permit.err.gas_failed");
}

#[test]
fn a_late_failing_result_stands_and_raises_its_alarm() {
    let plant = Plant::new();
    let p = to_briefing(&plant);
    plant.brief(p.id, at(8, 40));
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:45", 0.1, 20.9),
            at(8, 46),
        )
        .unwrap();
    plant.start(p.id, at(9, 0)).unwrap();
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 09:30", 0.1, 20.9),
            at(9, 31),
        )
        .unwrap();
    // a result sampled at 09:20 comes in at 09:40, failing: it stops the work and stands
    let r = plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 09:20", 0.9, 20.9),
            at(9, 40),
        )
        .unwrap();
    assert_eq!(r.stage, Stage::Suspended);
    let d = due(&plant.store.read().unwrap(), at(9, 41)).unwrap();
    assert!(d.iter().any(|(_, d)| matches!(d, Due::GasFailed { .. })));
    // and work starts no earlier than its window: not a minute before
    let plant = Plant::new();
    let p = to_briefing(&plant);
    plant.brief(p.id, at(8, 40));
    plant
        .act(
            &analyst(),
            p.id,
            gas("2026-11-24 08:45", 0.1, 20.9),
            at(8, 46),
        )
        .unwrap();
    assert_eq!(
        key(&plant.start(p.id, at(8, 59)).unwrap_err()),
        "safety.permit.err.outside"
    );
    assert!(plant.start(p.id, at(9, 0)).is_ok());
}
