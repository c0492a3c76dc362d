use std::cell::Cell;

use time::macros::date;

use super::*;
use crate::modules::equipment::model::{Binding, Criticality};
use crate::modules::inventory::fixtures::toluene;
use crate::modules::inventory::model::{Location, Material, Warehouse};

/// The box as the tests see it: tags that exist, users, a meter reading.
struct TestSite {
    tags: Vec<&'static str>,
    meter: Cell<Option<f64>>,
}

impl Site for TestSite {
    fn tag_exists(&self, name: &str) -> bool {
        self.tags.contains(&name)
    }
    fn tag_unit(&self, name: &str) -> String {
        if name.ends_with(".VT") { "mm/s" } else { "h" }.into()
    }
    fn assignable(&self, user: u64) -> Option<String> {
        (user == 7).then(|| "钱峰".to_string())
    }
    fn meter(&self, _tag: &str) -> Option<f64> {
        self.meter.get()
    }
    fn posting(&self) -> inventory::Posting {
        inventory::Posting {
            now_ms: NOW,
            today: date!(2026 - 12 - 03),
            quality_on: false,
        }
    }
}

const NOW: i64 = 1_796_300_000_000;

fn now() -> Now {
    Now {
        ms: NOW,
        today: date!(2026 - 12 - 03),
        offset: time::UtcOffset::from_hms(8, 0, 0).unwrap(),
    }
}

struct Plant {
    _dir: tempfile::TempDir,
    store: Store,
    admin: Actor,
    lead: Actor,
    tech: Actor,
    site: TestSite,
    pump_cat: u64,
    pump: Equipment,
    bearing: Material,
}

fn person(id: u64, name: &str) -> Actor {
    Actor::user(id, name, None)
}

fn plant() -> Plant {
    let (dir, store) = crate::store::tests::temp_store();
    let admin = Actor::system("test");
    let site = TestSite {
        tags: vec!["P1.VT", "P1.TT", "P1.RH", "P2.VT"],
        meter: Cell::new(None),
    };
    let rot = save_category(
        &store,
        &admin,
        Category {
            id: 0,
            code: "ROT".into(),
            name: "动设备".into(),
            parent: None,
            params: vec![ParamDef {
                key: "rated_power".into(),
                name: "额定功率".into(),
                kind: ParamKind::Number,
                unit: "kW".into(),
                required: true,
            }],
        },
    )
    .unwrap();
    let pump_cat = save_category(
        &store,
        &admin,
        Category {
            id: 0,
            code: "PUMP".into(),
            name: "泵".into(),
            parent: Some(rot.id),
            params: vec![ParamDef {
                key: "seal".into(),
                name: "密封形式".into(),
                kind: ParamKind::Text,
                unit: String::new(),
                required: false,
            }],
        },
    )
    .unwrap()
    .id;
    let wh = inventory::save_warehouse(
        &store,
        &admin,
        Warehouse {
            id: 0,
            code: "WH-SP".into(),
            name: "备件库".into(),
            hazmat_store: false,
            major_hazard: false,
            custodians: vec![],
            consignee: None,
            address: String::new(),
        },
    )
    .unwrap();
    let shelf = inventory::save_location(
        &store,
        &admin,
        Location {
            id: 0,
            warehouse: wh.id,
            code: "SP-01".into(),
            name: String::new(),
            capacity_kg: 0.0,
        },
    )
    .unwrap();
    let bearing = inventory::save_material(
        &store,
        &admin,
        Material {
            id: 0,
            code: "SP-BRG".into(),
            name: "轴承".into(),
            base_unit: "套".into(),
            units: vec![],
            cas: String::new(),
            ghs: vec![],
            hazmat: false,
            precursor_class: 0,
            storage_group: String::new(),
            shelf_life_days: 0,
            inspect: false,
            ..toluene()
        },
    )
    .unwrap();
    inventory::post(
        &store,
        &admin,
        inventory::MoveInput {
            kind: Some(MoveKind::Receipt),
            material: bearing.id,
            lot_number: "B-1".into(),
            to: Some(shelf.id),
            qty: 3.0,
            ..Default::default()
        },
        site.posting(),
    )
    .unwrap();
    let pump = save_equipment(&store, &admin, pump("P-1", pump_cat), &site).unwrap();
    Plant {
        _dir: dir,
        store,
        admin,
        lead: person(5, "徐国平"),
        tech: person(7, "钱峰"),
        site,
        pump_cat,
        pump,
        bearing,
    }
}

fn pump(tag_no: &str, category: u64) -> Equipment {
    Equipment {
        criticality: Criticality::A,
        params: BTreeMap::from([("rated_power".into(), ParamValue::Number(15.0))]),
        bindings: vec![
            Binding {
                tag: "P1.VT".into(),
                role: Role::Vibration,
                point: String::new(),
            },
            Binding {
                tag: "P1.RH".into(),
                role: Role::RunHours,
                point: String::new(),
            },
        ],
        ..Equipment::new(tag_no, "进料泵", category)
    }
}

fn field(e: Error) -> &'static str {
    match e {
        Error::Invalid { field, .. } => field,
        other => panic!("not a field error: {other:?}"),
    }
}

fn key(e: &Error) -> &'static str {
    match e {
        Error::Invalid { msg, .. } | Error::Conflict(msg) | Error::NotFound(msg) => msg.key,
        Error::Forbidden(msg) => msg.key,
        other => panic!("unexpected {other:?}"),
    }
}

fn action(action: &str) -> ActionInput {
    ActionInput {
        action: action.into(),
        ..ActionInput::default()
    }
}

#[test]
fn the_ledger_refuses_what_its_categories_and_bindings_forbid() {
    let p = plant();
    // a duplicate 位号
    let e = save_equipment(&p.store, &p.admin, pump("P-1", p.pump_cat), &p.site).unwrap_err();
    assert_eq!(key(&e), "equipment.err.tag_no_taken");
    // a parameter of the wrong type, a missing required one, an unknown one
    let mut x = pump("P-2", p.pump_cat);
    x.bindings.clear();
    x.params
        .insert("rated_power".into(), ParamValue::Text("十五".into()));
    assert_eq!(
        key(&save_equipment(&p.store, &p.admin, x.clone(), &p.site).unwrap_err()),
        "equipment.err.param_type"
    );
    x.params.clear();
    assert_eq!(
        key(&save_equipment(&p.store, &p.admin, x.clone(), &p.site).unwrap_err()),
        "equipment.err.param_required"
    );
    x.params
        .insert("rated_power".into(), ParamValue::Number(15.0));
    x.params
        .insert("colour".into(), ParamValue::Text("红".into()));
    assert_eq!(
        key(&save_equipment(&p.store, &p.admin, x.clone(), &p.site).unwrap_err()),
        "equipment.err.param_unknown"
    );
    x.params.remove("colour");
    // the parent's parameter (rated_power) and the category's own (seal) both count
    x.params
        .insert("seal".into(), ParamValue::Text("机封".into()));
    // a tag bound on P-1 as vibration cannot be bound here as temperature
    x.bindings = vec![Binding {
        tag: "P1.VT".into(),
        role: Role::BearingTemperature,
        point: String::new(),
    }];
    let e = save_equipment(&p.store, &p.admin, x.clone(), &p.site).unwrap_err();
    assert_eq!(key(&e), "equipment.err.tag_role");
    assert!(format!("{e}").contains("P-1"), "{e}");
    // with the same role it may (a header shared by two machines)
    x.bindings[0].role = Role::Vibration;
    let p2 = save_equipment(&p.store, &p.admin, x.clone(), &p.site).unwrap();
    // a tag that does not exist, a spare part that is not a material, a parent cycle
    let mut y = p2.clone();
    y.bindings.push(Binding {
        tag: "NOPE".into(),
        role: Role::Pressure,
        point: String::new(),
    });
    assert_eq!(
        field(save_equipment(&p.store, &p.admin, y, &p.site).unwrap_err()),
        "bindings"
    );
    let mut y = p2.clone();
    y.bom = vec![BomLine {
        material: 999,
        qty: 1.0,
        note: String::new(),
    }];
    assert_eq!(
        field(save_equipment(&p.store, &p.admin, y, &p.site).unwrap_err()),
        "bom"
    );
    let mut parent = p.pump.clone();
    parent.parent = Some(p2.id);
    save_equipment(&p.store, &p.admin, parent, &p.site).unwrap();
    let mut y = p2.clone();
    y.parent = Some(p.pump.id);
    assert_eq!(
        key(&save_equipment(&p.store, &p.admin, y, &p.site).unwrap_err()),
        "equipment.err.parent_cycle"
    );
    // nothing refused left a trace
    let r = p.store.read().unwrap();
    assert_eq!(all_equipment(&r).unwrap().len(), 2);
    let mut ids = bound(&r, "P1.VT").unwrap().unwrap().1;
    ids.sort_unstable();
    assert_eq!(ids, vec![p.pump.id, p2.id]);
}

#[test]
fn a_deleted_machine_frees_its_tag_no_and_its_label_says_why() {
    let p = plant();
    let o = create_order(
        &p.store,
        &p.admin,
        NewOrder {
            equipment: p.pump.id,
            title: "漏".into(),
            ..NewOrder::default()
        },
        true,
        vec![],
        now(),
    )
    .unwrap();
    let e = delete_equipment(&p.store, &p.admin, p.pump.id).unwrap_err();
    assert_eq!(key(&e), "equipment.err.has_open_orders");
    act(
        &p.store,
        &p.lead,
        o.id,
        ActionInput {
            note: "重复".into(),
            ..action("cancel")
        },
        true,
        &p.site,
        now(),
    )
    .unwrap();
    delete_equipment(&p.store, &p.admin, p.pump.id).unwrap();
    let r = p.store.read().unwrap();
    let e = scanned(&r, p.pump.id).unwrap_err();
    assert_eq!(key(&e), "equipment.err.deleted");
    assert!(format!("{e}").contains("P-1"));
    assert!(bound(&r, "P1.VT").unwrap().is_none());
    drop(r);
    // the 位号 can be used again
    save_equipment(&p.store, &p.admin, pump("P-1", p.pump_cat), &p.site).unwrap();
}

#[test]
fn a_parameter_type_cannot_change_under_values_of_the_old_type() {
    let p = plant();
    let mut c = category(&p.store.read().unwrap(), p.pump_cat).unwrap();
    let mut rot = category(&p.store.read().unwrap(), c.parent.unwrap()).unwrap();
    rot.params[0].kind = ParamKind::Text;
    let e = save_category(&p.store, &p.admin, rot).unwrap_err();
    assert_eq!(key(&e), "equipment.err.param_in_use");
    // a key defined above may not be defined again below
    c.params.push(ParamDef {
        key: "rated_power".into(),
        name: "功率".into(),
        kind: ParamKind::Number,
        unit: String::new(),
        required: false,
    });
    assert_eq!(
        key(&save_category(&p.store, &p.admin, c).unwrap_err()),
        "equipment.err.param_twice"
    );
}

fn change(eq: u64, from: Option<Zone>, to: Zone, v: f64) -> ZoneChange {
    ZoneChange {
        equipment: eq,
        tag: "P1.VT".into(),
        from,
        to,
        value: v,
        ts_ms: NOW,
    }
}

#[test]
fn entering_zone_c_proposes_one_work_order() {
    let p = plant();
    let sys = Actor::system("equipment");
    let id = p.pump.id;
    assert!(
        zone_changes(&p.store, &sys, &[change(id, None, Zone::B, 2.0)], now())
            .unwrap()
            .is_empty()
    );
    let opened = zone_changes(
        &p.store,
        &sys,
        &[change(id, Some(Zone::B), Zone::C, 3.1)],
        now(),
    )
    .unwrap();
    assert_eq!(opened.len(), 1);
    let o = &opened[0];
    assert_eq!(o.priority, WoPriority::High);
    assert!(matches!(&o.origin, Origin::Condition { zone: Zone::C, .. }));
    assert!(o.title.contains("P-1"), "{}", o.title);
    // worse still while that order is open: no second order
    let again = zone_changes(
        &p.store,
        &sys,
        &[change(id, Some(Zone::C), Zone::D, 4.6)],
        now(),
    )
    .unwrap();
    assert!(again.is_empty());
    let r = p.store.read().unwrap();
    assert_eq!(zones_of(&r, id).unwrap()[0].zone, Zone::D);
    let h = zone_history(&r, id, 10).unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[1].work_order, Some(o.id));
    assert_eq!(orders_of(&r, id).unwrap().len(), 1);
}

#[test]
fn a_work_order_runs_its_life_cycle_and_issues_parts_from_stock() {
    let p = plant();
    let o = create_order(
        &p.store,
        &p.admin,
        NewOrder {
            equipment: p.pump.id,
            title: "轴承异响".into(),
            stopped: true,
            ..NewOrder::default()
        },
        true,
        vec![],
        now(),
    )
    .unwrap();
    assert_eq!(o.number, "WO-2026-0001");
    let run = |who: &Actor, a: ActionInput, approver: bool| {
        act(&p.store, who, o.id, a, approver, &p.site, now())
    };
    // assigning needs the approve level and an assignable person; no skipping
    assert!(matches!(
        run(&p.tech, action("start"), false).unwrap_err(),
        Error::Conflict(_)
    ));
    assert!(matches!(
        run(
            &p.tech,
            ActionInput {
                assignee: Some(7),
                ..action("assign")
            },
            false
        )
        .unwrap_err(),
        Error::Forbidden(_)
    ));
    assert_eq!(
        field(
            run(
                &p.lead,
                ActionInput {
                    assignee: Some(99),
                    ..action("assign")
                },
                true
            )
            .unwrap_err()
        ),
        "assignee"
    );
    let x = run(
        &p.lead,
        ActionInput {
            assignee: Some(7),
            ..action("assign")
        },
        true,
    )
    .unwrap();
    assert_eq!(x.order.assignee_name, "钱峰");
    // the technician is told
    let told = crate::notices::list(&p.store.read().unwrap(), 7).unwrap();
    assert!(told[0].zh.contains("WO-2026-0001") && told[0].link.ends_with(&o.id.to_string()));
    run(&p.tech, action("start"), false).unwrap();
    let balance = |store: &Store| {
        inventory::balances_of(&store.read().unwrap(), p.bearing.id)
            .unwrap()
            .iter()
            .map(|b| b.qty)
            .sum::<f64>()
    };
    // more parts than in stock: refused with the reason, nothing moves
    let too_many = ActionInput {
        parts: vec![PartInput {
            material: p.bearing.id,
            qty: 5.0,
            ..PartInput::default()
        }],
        ..action("parts")
    };
    let e = run(&p.tech, too_many, false).unwrap_err();
    assert_eq!(key(&e), "equipment.err.part_stock");
    assert_eq!(balance(&p.store), 3.0);
    // two bearings issued: inventory moves in the same transaction
    let x = run(
        &p.tech,
        ActionInput {
            parts: vec![PartInput {
                material: p.bearing.id,
                qty: 2.0,
                ..PartInput::default()
            }],
            ..action("parts")
        },
        false,
    )
    .unwrap();
    assert_eq!(balance(&p.store), 1.0);
    assert_eq!(x.movements.len(), 1);
    let mv = &x.movements[0];
    assert_eq!(mv.kind, MoveKind::Issue);
    assert_eq!(mv.doc, Some(DocLine::WorkOrder { order: o.id }));
    assert_eq!(mv.reference, "WO-2026-0001");
    assert_eq!(x.order.parts[0].movement, mv.id);
    // one comes back unused
    run(
        &p.tech,
        ActionInput {
            parts: vec![PartInput {
                material: p.bearing.id,
                qty: 1.0,
                ..PartInput::default()
            }],
            ..action("return_parts")
        },
        false,
    )
    .unwrap();
    assert_eq!(balance(&p.store), 2.0);
    assert_eq!(
        key(&run(
            &p.tech,
            ActionInput {
                parts: vec![PartInput {
                    material: p.bearing.id,
                    qty: 2.0,
                    ..PartInput::default()
                }],
                ..action("return_parts")
            },
            false
        )
        .unwrap_err()),
        "equipment.err.part_return"
    );
    run(&p.tech, action("wait_parts"), false).unwrap();
    assert!(matches!(
        run(&p.tech, action("done"), false).unwrap_err(),
        Error::Conflict(_)
    ));
    run(&p.tech, action("resume"), false).unwrap();
    // done needs the report and the hours; parts asked with it that are not in stock
    // refuse the whole step
    assert_eq!(
        field(run(&p.tech, action("done"), false).unwrap_err()),
        "report"
    );
    let done = |hours, qty| ActionInput {
        report: "更换驱动端轴承".into(),
        hours,
        parts: vec![PartInput {
            material: p.bearing.id,
            qty,
            ..PartInput::default()
        }],
        ..action("done")
    };
    assert_eq!(
        field(run(&p.tech, done(None, 1.0), false).unwrap_err()),
        "hours"
    );
    assert_eq!(
        key(&run(&p.tech, done(Some(4.0), 9.0), false).unwrap_err()),
        "equipment.err.part_stock"
    );
    assert_eq!(balance(&p.store), 2.0);
    let x = run(&p.tech, done(Some(4.0), 1.0), false).unwrap();
    assert_eq!(x.order.state, WoState::Done);
    assert_eq!(balance(&p.store), 1.0);
    // the sign-off: not by who did the work, and with words
    assert_eq!(
        key(&run(
            &p.tech,
            ActionInput {
                note: "好".into(),
                ..action("verify")
            },
            true
        )
        .unwrap_err()),
        "equipment.err.self_verify"
    );
    assert_eq!(
        field(run(&p.lead, action("verify"), true).unwrap_err()),
        "note"
    );
    let x = run(
        &p.lead,
        ActionInput {
            note: "试车正常".into(),
            ..action("verify")
        },
        true,
    )
    .unwrap();
    assert_eq!(x.order.state, WoState::Verified);
    assert_eq!(x.order.verified_by, "徐国平");
    assert!(matches!(
        run(
            &p.tech,
            ActionInput {
                hours: Some(1.0),
                ..action("labour")
            },
            false
        )
        .unwrap_err(),
        Error::Conflict(_)
    ));
    // the KPIs see one stop of the pump
    let r = p.store.read().unwrap();
    let (k, _) = kpis(&r, Some(p.pump.id), NOW - 86_400_000, NOW + 1).unwrap();
    assert_eq!(k.failures, 1);
    assert_eq!(k.mttr_h, Some(0.0));
}

#[test]
fn a_job_that_needs_a_permit_does_not_start_without_one() {
    let p = plant();
    let o = create_order(
        &p.store,
        &p.admin,
        NewOrder {
            equipment: p.pump.id,
            title: "泵出口管线补焊".into(),
            needs_permits: vec!["hot_work".into()],
            ..NewOrder::default()
        },
        false,
        vec![],
        now(),
    )
    .unwrap();
    act(
        &p.store,
        &p.lead,
        o.id,
        ActionInput {
            assignee: Some(7),
            ..action("assign")
        },
        true,
        &p.site,
        now(),
    )
    .unwrap();
    let e = act(
        &p.store,
        &p.tech,
        o.id,
        action("start"),
        false,
        &p.site,
        now(),
    )
    .unwrap_err();
    assert_eq!(key(&e), "equipment.err.permit_needed");
    assert_eq!(
        order(&p.store.read().unwrap(), o.id).unwrap().state,
        WoState::Assigned
    );
    let bad = NewOrder {
        equipment: p.pump.id,
        title: "x".into(),
        needs_permits: vec!["height".into()],
        ..NewOrder::default()
    };
    assert_eq!(
        field(create_order(&p.store, &p.admin, bad, false, vec![], now()).unwrap_err()),
        "needs_permits"
    );
}

#[test]
fn plans_fall_due_by_calendar_and_by_run_hours() {
    let p = plant();
    let cal = save_plan(
        &p.store,
        &p.admin,
        Plan {
            id: 0,
            equipment: p.pump.id,
            title: "月度润滑".into(),
            trigger: Trigger::Calendar { every_days: 30 },
            tasks: vec!["加油".into(), "紧固".into()],
            priority: WoPriority::Normal,
            needs_permits: vec![],
            lead_days: 2,
            start: Some("2026-12-05".into()),
            last_done_ms: None,
            last_meter: None,
            meter_low_since_ms: None,
            open_order: None,
            active: true,
        },
        now().today,
    )
    .unwrap();
    let meter = save_plan(
        &p.store,
        &p.admin,
        Plan {
            id: 0,
            equipment: p.pump.id,
            title: "2000 h 换轴承".into(),
            trigger: Trigger::Meter {
                tag: "P1.RH".into(),
                every: 2000.0,
            },
            tasks: vec![],
            priority: WoPriority::Normal,
            needs_permits: vec![],
            lead_days: 0,
            start: None,
            last_done_ms: None,
            last_meter: Some(10_000.0),
            meter_low_since_ms: None,
            open_order: None,
            active: true,
        },
        now().today,
    )
    .unwrap();
    // a meter plan needs a meter tag of its equipment
    let mut bad = meter.clone();
    bad.id = 0;
    bad.trigger = Trigger::Meter {
        tag: "P1.VT".into(),
        every: 10.0,
    };
    assert_eq!(
        key(&save_plan(&p.store, &p.admin, bad, now().today).unwrap_err()),
        "equipment.err.meter_tag"
    );
    let sys = Actor::system("equipment");
    let at = |day: time::Date| Now {
        today: day,
        ..now()
    };
    // 2 Dec: the calendar plan (due 5 Dec, 2 days ahead) waits; the meter reads 11,990 h
    let reading = Cell::new(11_990.0);
    let read = |_: &str| Some(reading.get());
    let opened = scheduled(&p.store, &sys, at(date!(2026 - 12 - 02)), &read).unwrap();
    assert!(opened.is_empty());
    // 3 Dec: the calendar order opens with its checklist, due on the 5th
    let opened = scheduled(&p.store, &sys, at(date!(2026 - 12 - 03)), &read).unwrap();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].checklist.len(), 2);
    assert_eq!(opened[0].origin, Origin::Plan { plan: cal.id });
    assert_eq!(
        crate::plant_time::format_minute(opened[0].due_ms, now().offset),
        "2026-12-05 16:00"
    );
    // not twice while open
    assert!(
        scheduled(&p.store, &sys, at(date!(2026 - 12 - 04)), &read)
            .unwrap()
            .is_empty()
    );
    // the meter passes 12,000 h: the run-hours order opens
    reading.set(12_000.5);
    let opened = scheduled(&p.store, &sys, at(date!(2026 - 12 - 04)), &read).unwrap();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].origin, Origin::Plan { plan: meter.id });
    // done with the checklist ticked: the plan counts from the reading at done
    let o = opened[0].id;
    let run = |who: &Actor, a: ActionInput| act(&p.store, who, o, a, true, &p.site, now());
    run(
        &p.lead,
        ActionInput {
            assignee: Some(7),
            ..action("assign")
        },
    )
    .unwrap();
    run(&p.tech, action("start")).unwrap();
    p.site.meter.set(Some(12_003.0));
    run(
        &p.tech,
        ActionInput {
            report: "已换".into(),
            hours: Some(3.0),
            ..action("done")
        },
    )
    .unwrap();
    let r = p.store.read().unwrap();
    let m = plan(&r, meter.id).unwrap();
    assert_eq!(m.last_meter, Some(12_003.0));
    assert_eq!(m.open_order, None);
    drop(r);
    // a checklist not ticked refuses done
    let cal_order = plan(&p.store.read().unwrap(), cal.id)
        .unwrap()
        .open_order
        .unwrap();
    let run = |who: &Actor, a: ActionInput| act(&p.store, who, cal_order, a, true, &p.site, now());
    run(
        &p.lead,
        ActionInput {
            assignee: Some(7),
            ..action("assign")
        },
    )
    .unwrap();
    run(&p.tech, action("start")).unwrap();
    let done = ActionInput {
        report: "已润滑".into(),
        hours: Some(1.0),
        ..action("done")
    };
    assert_eq!(
        key(&run(&p.tech, done.clone()).unwrap_err()),
        "equipment.err.checklist"
    );
    run(
        &p.tech,
        ActionInput {
            line: Some(0),
            ..action("check")
        },
    )
    .unwrap();
    run(
        &p.tech,
        ActionInput {
            line: Some(1),
            ..action("check")
        },
    )
    .unwrap();
    run(&p.tech, done).unwrap();
    // a drop that does not last (a glitch reading 0) changes nothing
    let last = |s: &Store| plan(&s.read().unwrap(), meter.id).unwrap();
    let later = |minutes: i64| Now {
        ms: NOW + minutes * 60_000,
        ..at(date!(2026 - 12 - 05))
    };
    reading.set(0.0);
    assert!(
        scheduled(&p.store, &sys, later(0), &read)
            .unwrap()
            .is_empty()
    );
    assert_eq!(last(&p.store).last_meter, Some(12_003.0));
    assert!(last(&p.store).meter_low_since_ms.is_some());
    reading.set(12_010.0);
    assert!(
        scheduled(&p.store, &sys, later(1), &read)
            .unwrap()
            .is_empty()
    );
    assert_eq!(last(&p.store).meter_low_since_ms, None);
    // a meter that went back (replaced) and stays there is counted from its new reading
    // once the drop has lasted ten minutes
    reading.set(15.0);
    scheduled(&p.store, &sys, later(2), &read).unwrap();
    scheduled(&p.store, &sys, later(11), &read).unwrap();
    assert_eq!(last(&p.store).last_meter, Some(12_003.0));
    assert!(
        scheduled(&p.store, &sys, later(12), &read)
            .unwrap()
            .is_empty()
    );
    assert_eq!(last(&p.store).last_meter, Some(15.0));
    assert_eq!(last(&p.store).meter_low_since_ms, None);
}

const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 2, 0, 0, 0,
];

#[test]
fn documents_are_checked_by_content_versioned_and_kept_to_their_departments() {
    use super::documents::{DocInput, Viewer, check_document, documents_of, file, save_document};
    use crate::modules::equipment::model::DocKind;
    use crate::modules::safety::archive::model::Status;
    let p = plant();
    let pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n".to_vec();
    // a file that is not what its extension says, a type we do not keep
    assert_eq!(
        key(&check_document("manual.pdf", PNG).unwrap_err()),
        "equipment.err.file_mismatch"
    );
    assert_eq!(
        key(&check_document("notes.txt", b"just text").unwrap_err()),
        "equipment.err.file_type"
    );
    assert_eq!(
        check_document("手册.PDF", &pdf).unwrap().1,
        "application/pdf"
    );
    let everyone = Viewer::default();
    let input = |kind, due: Option<&str>, departments: Vec<u64>| DocInput {
        kind: Some(kind),
        title: "安全阀校验证书".into(),
        due: due.map(str::to_string),
        departments,
        ..DocInput::default()
    };
    let save = |i: DocInput, f: Option<(&str, Vec<u8>)>, v: &Viewer| {
        save_document(
            &p.store,
            &p.admin,
            p.pump.id,
            i,
            f.map(|(n, b)| (n.to_string(), b)),
            v,
            NOW,
        )
    };
    // a certificate needs its due date; a new document needs its file
    assert_eq!(
        field(
            save(
                input(DocKind::Certificate, None, vec![]),
                Some(("a.pdf", pdf.clone())),
                &everyone
            )
            .unwrap_err()
        ),
        "due"
    );
    assert_eq!(
        field(save(input(DocKind::Manual, None, vec![]), None, &everyone).unwrap_err()),
        "file"
    );
    let cert = save(
        input(DocKind::Certificate, Some("2026-12-20"), vec![]),
        Some(("psv.pdf", pdf.clone())),
        &everyone,
    )
    .unwrap();
    assert_eq!(
        super::documents::status(&cert, date!(2026 - 11 - 01)),
        Status::Valid
    );
    assert_eq!(
        super::documents::status(&cert, date!(2026 - 12 - 03)),
        Status::Expiring
    );
    assert_eq!(
        super::documents::status(&cert, date!(2026 - 12 - 21)),
        Status::Expired
    );
    // a new version keeps the old one
    let v2 = save(
        DocInput {
            id: cert.id,
            due: Some("2027-12-20".into()),
            ..input(DocKind::Certificate, None, vec![])
        },
        Some(("psv-2026.pdf", pdf.clone())),
        &everyone,
    )
    .unwrap();
    assert_eq!(v2.versions.len(), 2);
    assert_eq!(v2.due.as_deref(), Some("2027-12-20"));
    let r = p.store.read().unwrap();
    assert_eq!(file(&r, cert.id, 1, &everyone).unwrap().0.name, "psv.pdf");
    assert_eq!(
        file(&r, cert.id, 0, &everyone).unwrap().0.name,
        "psv-2026.pdf"
    );
    drop(r);
    // a drawing kept to department 9: others neither list nor download it
    let dept =
        crate::org::service::create_department(&p.store, &p.admin, "设备动力部", "").unwrap();
    let dwg = save(
        input(DocKind::Drawing, None, vec![dept.id]),
        Some(("seal.pdf", pdf)),
        &everyone,
    )
    .unwrap();
    let r = p.store.read().unwrap();
    let outsider = Viewer::default();
    let member = Viewer {
        department: Some(dept.id),
        ..Viewer::default()
    };
    assert_eq!(documents_of(&r, p.pump.id, &outsider).unwrap().len(), 1);
    assert_eq!(documents_of(&r, p.pump.id, &member).unwrap().len(), 2);
    assert!(file(&r, dwg.id, 0, &outsider).is_err());
    assert!(file(&r, dwg.id, 0, &member).is_ok());
}

#[test]
fn cancelling_a_plans_order_skips_that_occurrence() {
    let p = plant();
    let plan_ = save_plan(
        &p.store,
        &p.admin,
        Plan {
            id: 0,
            equipment: p.pump.id,
            title: "周检".into(),
            trigger: Trigger::Calendar { every_days: 7 },
            tasks: vec![],
            priority: WoPriority::Normal,
            needs_permits: vec!["confined_space".into()],
            lead_days: 0,
            start: Some("2026-12-03".into()),
            last_done_ms: None,
            last_meter: None,
            meter_low_since_ms: None,
            open_order: None,
            active: true,
        },
        now().today,
    )
    .unwrap();
    let sys = Actor::system("equipment");
    let none = |_: &str| None;
    let opened = scheduled(&p.store, &sys, now(), &none).unwrap();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].needs_permits, vec!["confined_space".to_string()]);
    act(
        &p.store,
        &p.lead,
        opened[0].id,
        ActionInput {
            note: "停车检修期间合并处理".into(),
            ..action("cancel")
        },
        true,
        &p.site,
        now(),
    )
    .unwrap();
    // the same day: nothing opens again; the next one is a week on
    assert!(scheduled(&p.store, &sys, now(), &none).unwrap().is_empty());
    let r = p.store.read().unwrap();
    let next = next_due(&plan(&r, plan_.id).unwrap(), now().offset, None);
    assert!(
        matches!(&next, NextDue::Date { date } if date == "2026-12-10"),
        "{next:?}"
    );
}
