use time::macros::date;

use super::*;
use crate::modules::inventory::fixtures::toluene;
use crate::modules::inventory::model::*;

struct Plant {
    _dir: tempfile::TempDir,
    store: Store,
    admin: Actor,
    keeper: Actor,
    second: Actor,
    outsider: Actor,
    haz: Location,
    haz2: Location,
    general: Location,
    tol: Material,
}

fn user(store: &Store, name: &str) -> Actor {
    user_as(store, name, "warehouse")
}

fn user_as(store: &Store, name: &str, role: &str) -> Actor {
    let u = crate::auth::service::create_user(
        store,
        &Actor::system("test"),
        crate::auth::service::NewUser {
            username: name.into(),
            display_name: name.into(),
            password: "Correct-Horse-9".into(),
            department_id: None,
            roles: vec![role.into()],
            phone: String::new(),
            email: String::new(),
            must_change_password: false,
        },
    )
    .unwrap();
    Actor::user(u.id, name, None)
}

fn p() -> Posting {
    Posting {
        now_ms: 1_780_000_000_000,
        today: date!(2026 - 12 - 03),
        quality_on: false,
    }
}

fn plant() -> Plant {
    let (dir, store) = crate::store::tests::temp_store();
    let admin = Actor::system("test");
    let keeper = user(&store, "keeper");
    let second = user(&store, "second");
    let outsider = user(&store, "outsider");
    let wh = save_warehouse(
        &store,
        &admin,
        Warehouse {
            id: 0,
            code: "WH-HAZ".into(),
            name: "危化品库".into(),
            hazmat_store: true,
            major_hazard: false,
            custodians: vec![keeper.id, second.id],
            consignee: None,
            address: String::new(),
        },
    )
    .unwrap();
    let gen_wh = save_warehouse(
        &store,
        &admin,
        Warehouse {
            id: 0,
            code: "WH-GEN".into(),
            name: "普通库".into(),
            hazmat_store: false,
            major_hazard: false,
            custodians: vec![],
            consignee: None,
            address: String::new(),
        },
    )
    .unwrap();
    let loc = |w: u64, code: &str, cap: f64| {
        save_location(
            &store,
            &admin,
            Location {
                id: 0,
                warehouse: w,
                code: code.into(),
                name: String::new(),
                capacity_kg: cap,
            },
        )
        .unwrap()
    };
    let haz = loc(wh.id, "A-01", 10_000.0);
    let haz2 = loc(wh.id, "A-02", 0.0);
    let general = loc(gen_wh.id, "G-01", 0.0);
    let mut t = toluene();
    t.id = 0;
    let tol = save_material(&store, &admin, t).unwrap();
    Plant {
        _dir: dir,
        store,
        admin,
        keeper,
        second,
        outsider,
        haz,
        haz2,
        general,
        tol,
    }
}

fn receipt(material: u64, number: &str, to: u64, qty: f64) -> MoveInput {
    MoveInput {
        kind: Some(MoveKind::Receipt),
        material,
        lot_number: number.into(),
        to: Some(to),
        qty,
        ..Default::default()
    }
}

fn issue(material: u64, lot: u64, from: u64, qty: f64) -> MoveInput {
    MoveInput {
        kind: Some(MoveKind::Issue),
        material,
        lot: Some(lot),
        from: Some(from),
        qty,
        ..Default::default()
    }
}

fn field(e: Error) -> &'static str {
    match e {
        Error::Invalid { field, .. } => field,
        other => panic!("not a field error: {other:?}"),
    }
}

#[test]
fn receipt_then_issue_keeps_the_balance_in_the_same_transaction() {
    let t = plant();
    let mut r = receipt(t.tol.id, "L1", t.haz.id, 2.0);
    r.unit = "桶".into();
    let got = post(&t.store, &t.admin, r, p()).unwrap();
    assert_eq!(got.movement.qty, 340.0);
    assert_eq!(got.movement.state, MoveState::Posted);
    assert_eq!(
        got.lot.expires.as_deref(),
        Some("2027-12-02"),
        "usable 365 days from receipt, the first day included"
    );
    let lot = got.lot.id;
    assert_eq!(
        balance(&t.store.read().unwrap(), t.tol.id, t.haz.id).unwrap(),
        340.0
    );
    post(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 140.0),
        p(),
    )
    .unwrap();
    let rd = t.store.read().unwrap();
    assert_eq!(balance(&rd, t.tol.id, t.haz.id).unwrap(), 200.0);
    let moves = lot_movements(&rd, lot).unwrap();
    assert_eq!(moves.len(), 2);
    assert_eq!(
        ledger(&rd, Some(t.tol.id), 0, i64::MAX, 10).unwrap().len(),
        2
    );
    // emptied balances disappear
    drop(rd);
    post(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 200.0),
        p(),
    )
    .unwrap();
    let rd = t.store.read().unwrap();
    assert!(balances_of(&rd, t.tol.id).unwrap().is_empty());
    assert_eq!(balance(&rd, t.tol.id, t.haz.id).unwrap(), 0.0);
}

#[test]
fn negative_stock_is_refused_and_changes_nothing() {
    let t = plant();
    let lot = post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L1", t.haz.id, 100.0),
        p(),
    )
    .unwrap()
    .lot
    .id;
    let before = t.store.read().unwrap().count(&LEDGER).unwrap();
    let e = post(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 100.5),
        p(),
    )
    .unwrap_err();
    assert_eq!(field(e), "qty");
    let rd = t.store.read().unwrap();
    assert_eq!(rd.count(&LEDGER).unwrap(), before);
    assert_eq!(balance(&rd, t.tol.id, t.haz.id).unwrap(), 100.0);
    drop(rd);
    // allowed when the plant says so
    let s = Settings {
        allow_negative: true,
        ..Settings::default()
    };
    save_settings(&t.store, &t.admin, s).unwrap();
    post(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 100.5),
        p(),
    )
    .unwrap();
    assert!(balance(&t.store.read().unwrap(), t.tol.id, t.haz.id).unwrap() < 0.0);
}

#[test]
fn a_check_applies_every_rule_and_writes_nothing() {
    let t = plant();
    let lot = post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L1", t.haz.id, 100.0),
        p(),
    )
    .unwrap()
    .lot
    .id;
    let count = |t: &Plant| {
        let rd = t.store.read().unwrap();
        (
            rd.count(&LEDGER).unwrap(),
            balance(&rd, t.tol.id, t.haz.id).unwrap(),
            crate::store::audit::search(&rd, &Default::default(), 1_000)
                .unwrap()
                .len(),
        )
    };
    let before = count(&t);
    check(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 40.0),
        p(),
    )
    .unwrap();
    let e = check(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 100.5),
        p(),
    )
    .unwrap_err();
    assert_eq!(field(e), "qty", "the refusal post would give");
    assert_eq!(
        count(&t),
        before,
        "no movement, balance or audit entry written"
    );
    // and the movement checked posts
    post(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 40.0),
        p(),
    )
    .unwrap();
    assert_eq!(count(&t).1, 60.0);
}

#[test]
fn held_and_expired_lots_are_not_issued() {
    let t = plant();
    let mut q = p();
    q.quality_on = true;
    let got = post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L1", t.haz.id, 100.0),
        q,
    )
    .unwrap();
    assert_eq!(
        got.lot.quality,
        LotQuality::Held,
        "received into quality hold"
    );
    let e = post(
        &t.store,
        &t.admin,
        issue(t.tol.id, got.lot.id, t.haz.id, 1.0),
        p(),
    )
    .unwrap_err();
    assert_eq!(field(e), "lot");
    // a hold needs a reason; a release does not
    assert!(set_lot_quality(&t.store, &t.admin, got.lot.id, LotQuality::Held, " ").is_err());
    set_lot_quality(&t.store, &t.admin, got.lot.id, LotQuality::Released, "").unwrap();
    post(
        &t.store,
        &t.admin,
        issue(t.tol.id, got.lot.id, t.haz.id, 1.0),
        p(),
    )
    .unwrap();
    // expired: the day after its last day
    let mut r = receipt(t.tol.id, "L2", t.haz.id, 10.0);
    r.expires = Some("2026-12-02".into());
    let old = post(&t.store, &t.admin, r, p()).unwrap().lot.id;
    let e = post(&t.store, &t.admin, issue(t.tol.id, old, t.haz.id, 1.0), p()).unwrap_err();
    assert_eq!(field(e), "lot");
    // but it may be scrapped
    let scrap = MoveInput {
        kind: Some(MoveKind::Scrap),
        reason: "过期".into(),
        ..issue(t.tol.id, old, t.haz.id, 10.0)
    };
    post(&t.store, &t.admin, scrap, p()).unwrap();
}

#[test]
fn incompatible_put_away_is_refused_with_the_rule() {
    let t = plant();
    post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L1", t.haz.id, 100.0),
        p(),
    )
    .unwrap();
    let ox = save_material(
        &t.store,
        &t.admin,
        Material {
            id: 0,
            code: "RM-APS".into(),
            name: "过硫酸铵".into(),
            cas: "7727-54-0".into(),
            storage_group: "oxidizer".into(),
            precursor_class: 0,
            ..toluene()
        },
    )
    .unwrap();
    // same store, another location: oxidizers and flammables may not share a store
    let e = post(
        &t.store,
        &t.admin,
        receipt(ox.id, "OX1", t.haz2.id, 25.0),
        p(),
    )
    .unwrap_err();
    let msg = e.msg().render(crate::i18n::Lang::En);
    assert!(msg.contains("oxidizer") && msg.contains("甲苯"), "{msg}");
    assert_eq!(
        t.store.read().unwrap().count(&LOTS).unwrap(),
        1,
        "no lot made"
    );
    // the plant may change the rules
    save_storage_rules(&t.store, &t.admin, vec![]).unwrap();
    post(
        &t.store,
        &t.admin,
        receipt(ox.id, "OX1", t.haz2.id, 25.0),
        p(),
    )
    .unwrap();
}

#[test]
fn hazardous_goods_go_to_a_dedicated_store_within_capacity() {
    let t = plant();
    let e = post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L1", t.general.id, 1.0),
        p(),
    )
    .unwrap_err();
    assert_eq!(field(e), "to");
    post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L1", t.haz.id, 9_000.0),
        p(),
    )
    .unwrap();
    let e = post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L2", t.haz.id, 1_001.0),
        p(),
    )
    .unwrap_err();
    assert!(e.msg().render(crate::i18n::Lang::En).contains("10000"));
    post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L2", t.haz.id, 1_000.0),
        p(),
    )
    .unwrap();
}

#[test]
fn a_toxic_movement_waits_for_a_second_custodian() {
    let t = plant();
    let dms = save_material(
        &t.store,
        &t.admin,
        Material {
            id: 0,
            code: "RM-DMS".into(),
            name: "硫酸二甲酯".into(),
            cas: "77-78-1".into(),
            highly_toxic: true,
            precursor_class: 0,
            storage_group: "toxic".into(),
            ..toluene()
        },
    )
    .unwrap();
    // not a custodian, or not a person: refused
    let e = post(
        &t.store,
        &t.outsider,
        receipt(dms.id, "D1", t.haz.id, 50.0),
        p(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)));
    let e = post(
        &t.store,
        &t.admin,
        receipt(dms.id, "D1", t.haz.id, 50.0),
        p(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)));
    let asked = post(
        &t.store,
        &t.keeper,
        receipt(dms.id, "D1", t.haz.id, 50.0),
        p(),
    )
    .unwrap();
    assert_eq!(asked.movement.state, MoveState::Pending);
    let rd = t.store.read().unwrap();
    assert_eq!(
        balance(&rd, dms.id, t.haz.id).unwrap(),
        0.0,
        "nothing moves yet"
    );
    assert_eq!(pending(&rd).unwrap().len(), 1);
    drop(rd);
    // the same custodian cannot confirm their own; an outsider cannot either
    let e = confirm(&t.store, &t.keeper, asked.movement.id, p()).unwrap_err();
    assert!(matches!(e, Error::Conflict(_)));
    let e = confirm(&t.store, &t.outsider, asked.movement.id, p()).unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)));
    let done = confirm(&t.store, &t.second, asked.movement.id, p()).unwrap();
    assert_eq!(done.state, MoveState::Posted);
    assert_eq!(done.second, "second", "the display name");
    let rd = t.store.read().unwrap();
    assert_eq!(balance(&rd, dms.id, t.haz.id).unwrap(), 50.0);
    assert!(pending(&rd).unwrap().is_empty());
    drop(rd);
    // cancelled: gone, nothing moved
    let again = post(
        &t.store,
        &t.second,
        issue(dms.id, asked.lot.id, t.haz.id, 10.0),
        p(),
    )
    .unwrap();
    // withdrawn only by the one who asked or another custodian of the store
    let e = cancel(&t.store, &t.outsider, again.movement.id).unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    assert!(matches!(
        cancel(&t.store, &t.admin, again.movement.id),
        Err(Error::Forbidden(_))
    ));
    cancel(&t.store, &t.keeper, again.movement.id).unwrap();
    assert!(confirm(&t.store, &t.keeper, again.movement.id, p()).is_err());
    assert_eq!(
        balance(&t.store.read().unwrap(), dms.id, t.haz.id).unwrap(),
        50.0
    );
}

#[test]
fn hazardous_chemicals_move_through_a_major_hazard_store_with_two_people() {
    let t = plant();
    let store_of = |major_hazard, custodians: Vec<u64>| Warehouse {
        id: 0,
        code: "TK".into(),
        name: "甲类罐区".into(),
        hazmat_store: true,
        custodians,
        major_hazard,
        address: String::new(),
        consignee: None,
    };
    // two custodians, and a dedicated store
    let e = save_warehouse(&t.store, &t.admin, store_of(true, vec![t.keeper.id])).unwrap_err();
    assert_eq!(field(e), "custodians");
    let mut plain = store_of(true, vec![t.keeper.id, t.second.id]);
    plain.hazmat_store = false;
    assert_eq!(
        field(save_warehouse(&t.store, &t.admin, plain).unwrap_err()),
        "major_hazard"
    );
    let tk = save_warehouse(
        &t.store,
        &t.admin,
        store_of(true, vec![t.keeper.id, t.second.id]),
    )
    .unwrap();
    let tank = save_location(
        &t.store,
        &t.admin,
        Location {
            id: 0,
            warehouse: tk.id,
            code: "T-01".into(),
            name: String::new(),
            capacity_kg: 0.0,
        },
    )
    .unwrap();
    // toluene into the tank farm: not by the system, and it waits for the second person
    let e = post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "TK1", tank.id, 500.0),
        p(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    let asked = post(
        &t.store,
        &t.keeper,
        receipt(t.tol.id, "TK1", tank.id, 500.0),
        p(),
    )
    .unwrap();
    assert_eq!(asked.movement.state, MoveState::Pending);
    assert_eq!(
        balance(&t.store.read().unwrap(), t.tol.id, tank.id).unwrap(),
        0.0
    );
    confirm(&t.store, &t.second, asked.movement.id, p()).unwrap();
    assert_eq!(
        balance(&t.store.read().unwrap(), t.tol.id, tank.id).unwrap(),
        500.0
    );
    // out of the ordinary dedicated store, one custodian is enough
    let one = post(
        &t.store,
        &t.keeper,
        receipt(t.tol.id, "H1", t.haz.id, 10.0),
        p(),
    )
    .unwrap();
    assert_eq!(one.movement.state, MoveState::Posted);
}

#[test]
fn a_custodian_can_post_in_the_store() {
    let t = plant();
    let viewer = user_as(&t.store, "viewer", "viewer");
    let e = save_warehouse(
        &t.store,
        &t.admin,
        Warehouse {
            id: 0,
            code: "WH-V".into(),
            name: "危化品二库".into(),
            hazmat_store: true,
            major_hazard: false,
            custodians: vec![t.keeper.id, viewer.id],
            consignee: None,
            address: String::new(),
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { field: "custodians", msg } if msg.key == "inventory.err.custodian_grant"),
        "{e:?}"
    );
}

#[test]
fn a_store_for_toxics_needs_two_custodians() {
    let t = plant();
    let wh = save_warehouse(
        &t.store,
        &t.admin,
        Warehouse {
            id: 0,
            code: "WH-1".into(),
            name: "单人库".into(),
            hazmat_store: true,
            major_hazard: false,
            custodians: vec![t.keeper.id],
            consignee: None,
            address: String::new(),
        },
    )
    .unwrap();
    let l = save_location(
        &t.store,
        &t.admin,
        Location {
            id: 0,
            warehouse: wh.id,
            code: "X".into(),
            name: String::new(),
            capacity_kg: 0.0,
        },
    )
    .unwrap();
    let dms = save_material(
        &t.store,
        &t.admin,
        Material {
            id: 0,
            code: "RM-DMS".into(),
            cas: String::new(),
            highly_toxic: true,
            ..toluene()
        },
    )
    .unwrap();
    let e = post(&t.store, &t.keeper, receipt(dms.id, "D1", l.id, 1.0), p()).unwrap_err();
    assert_eq!(field(e), "to");
}

#[test]
fn master_data_is_checked() {
    let t = plant();
    // duplicate code
    let mut again = toluene();
    again.id = 0;
    assert_eq!(
        field(save_material(&t.store, &t.admin, again).unwrap_err()),
        "code"
    );
    // bad CAS, zero factor, max below safety stock
    let bad = |f: fn(&mut Material)| {
        let mut m = toluene();
        m.id = 0;
        m.code = "X-1".into();
        f(&mut m);
        field(save_material(&t.store, &t.admin, m).unwrap_err())
    };
    assert_eq!(bad(|m| m.cas = "108-88-4".into()), "cas");
    assert_eq!(bad(|m| m.units[0].factor = 0.0), "units");
    assert_eq!(bad(|m| m.units[0].unit = "kg".into()), "units");
    assert_eq!(bad(|m| m.max_stock = 10.0), "max_stock");
    assert_eq!(bad(|m| m.precursor_class = 4), "precursor_class");
    assert_eq!(
        bad(|m| m.storage_group = "Oxidizer!".into()),
        "storage_group"
    );
    assert_eq!(
        bad(|m| m.storage_group = "oxidizer,no_such_group".into()),
        "storage_group"
    );
    // several groups as written, kept in one form
    let mut nitric = toluene();
    nitric.id = 0;
    nitric.code = "RM-HNO3".into();
    nitric.cas = "7697-37-2".into();
    nitric.storage_group = " oxidizer， acid ,oxidizer".into();
    let nitric = save_material(&t.store, &t.admin, nitric).unwrap();
    assert_eq!(nitric.storage_group, "oxidizer,acid");
    // a malformed 统一社会信用代码
    let mut c = crate::modules::inventory::fixtures::customer();
    c.id = 0;
    c.credit_code = "91330781MA2E8K4Q7K".into();
    assert_eq!(
        field(save_partner(&t.store, &t.admin, c.clone()).unwrap_err()),
        "credit_code"
    );
    c.credit_code = "91330781MA2E8K4Q7J".into();
    c.licences = vec![Licence {
        kind: LicenceKind::HazTrade,
        number: "X".into(),
        expires: "2026-02-30".into(),
    }];
    assert_eq!(
        field(save_partner(&t.store, &t.admin, c.clone()).unwrap_err()),
        "licences"
    );
    c.licences.clear();
    save_partner(&t.store, &t.admin, c.clone()).unwrap();
    assert_eq!(
        field(save_partner(&t.store, &t.admin, c).unwrap_err()),
        "code"
    );
    // a location code is unique within its warehouse only
    let dup = Location {
        id: 0,
        warehouse: t.haz.warehouse,
        code: "A-01".into(),
        name: String::new(),
        capacity_kg: 0.0,
    };
    assert_eq!(
        field(save_location(&t.store, &t.admin, dup.clone()).unwrap_err()),
        "code"
    );
    save_location(
        &t.store,
        &t.admin,
        Location {
            warehouse: t.general.warehouse,
            ..dup
        },
    )
    .unwrap();
}

#[test]
fn units_that_do_not_convert_and_wrong_lots_are_refused() {
    let t = plant();
    let mut r = receipt(t.tol.id, "L1", t.haz.id, 1.0);
    r.unit = "L".into();
    assert_eq!(field(post(&t.store, &t.admin, r, p()).unwrap_err()), "unit");
    let lot = post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L1", t.haz.id, 10.0),
        p(),
    )
    .unwrap()
    .lot
    .id;
    assert_eq!(
        field(
            post(
                &t.store,
                &t.admin,
                receipt(t.tol.id, "L1", t.haz.id, 1.0),
                p()
            )
            .unwrap_err()
        ),
        "lot_number",
        "a lot number is used once per material"
    );
    let mut m2 = toluene();
    m2.id = 0;
    m2.code = "RM-2".into();
    let m2 = save_material(&t.store, &t.admin, m2).unwrap();
    assert_eq!(
        field(post(&t.store, &t.admin, issue(m2.id, lot, t.haz.id, 1.0), p()).unwrap_err()),
        "lot"
    );
    // a transfer needs two different locations
    let tr = MoveInput {
        kind: Some(MoveKind::Transfer),
        to: Some(t.haz.id),
        ..issue(t.tol.id, lot, t.haz.id, 1.0)
    };
    assert_eq!(
        field(post(&t.store, &t.admin, tr.clone(), p()).unwrap_err()),
        "to"
    );
    post(
        &t.store,
        &t.admin,
        MoveInput {
            to: Some(t.haz2.id),
            ..tr
        },
        p(),
    )
    .unwrap();
    let rd = t.store.read().unwrap();
    assert_eq!(balance(&rd, t.tol.id, t.haz.id).unwrap(), 9.0);
    assert_eq!(balance(&rd, t.tol.id, t.haz2.id).unwrap(), 1.0);
}

// ------------------------------------------------------------------ orders

mod orders_flow {
    use super::*;
    use crate::modules::inventory::fixtures::{customer, licence};
    use crate::modules::inventory::rules::Strategy;
    use crate::modules::inventory::service::orders::*;

    fn supplier(t: &Plant) -> Partner {
        save_partner(
            &t.store,
            &t.admin,
            Partner {
                id: 0,
                code: "S-1".into(),
                role: PartnerRole::Supplier,
                licences: vec![licence(LicenceKind::HazTrade, "2030-01-01")],
                ..customer()
            },
        )
        .unwrap()
    }

    fn buyer(t: &Plant, limit: f64, policy: CreditPolicy, licences: Vec<Licence>) -> Partner {
        save_partner(
            &t.store,
            &t.admin,
            Partner {
                id: 0,
                code: format!("C-{}", limit as u64),
                credit_limit: limit,
                credit_policy: policy,
                licences,
                ..customer()
            },
        )
        .unwrap()
    }

    fn po(t: &Plant, s: &Partner, qty: f64, price: f64) -> PurchaseOrder {
        create_po(
            &t.store,
            &t.keeper,
            PoInput {
                supplier: s.id,
                lines: vec![LineInput {
                    material: t.tol.id,
                    qty,
                    unit: String::new(),
                    price: Some(price),
                }],
                requisitions: vec![],
                note: String::new(),
            },
            p(),
        )
        .unwrap()
    }

    fn receive(t: &Plant, id: u64, qty: f64, lot: &str) -> Result<(PurchaseOrder, Vec<Posted>)> {
        po_act(
            &t.store,
            &t.keeper,
            id,
            PoAction::Receive {
                lines: vec![ReceiveLine {
                    line: 0,
                    qty,
                    unit: String::new(),
                    lot_number: lot.into(),
                    supplier_lot: String::new(),
                    expires: None,
                    to: t.haz.id,
                }],
            },
            false,
            p(),
        )
    }

    #[test]
    fn purchase_orders_need_approval_over_the_limit_by_someone_else_then_receive_by_lot() {
        let t = plant();
        let s = supplier(&t);
        // 1,000 kg × 6.5 = 6,500: under the 50,000 limit
        let small = po(&t, &s, 1000.0, 6.5);
        assert_eq!(small.state, OrderState::Approved);
        let big = po(&t, &s, 9000.0, 6.5);
        assert_eq!(big.state, OrderState::Pending);
        assert_eq!(big.needs, vec!["amount"]);
        assert!(
            receive(&t, big.id, 10.0, "L0").is_err(),
            "not before approval"
        );
        // not by the one who placed it, not without the grant
        let e = po_act(&t.store, &t.keeper, big.id, PoAction::Approve, true, p()).unwrap_err();
        assert!(matches!(e, Error::Conflict(_)));
        let e = po_act(&t.store, &t.second, big.id, PoAction::Approve, false, p()).unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)));
        po_act(&t.store, &t.second, big.id, PoAction::Approve, true, p()).unwrap();
        // partial receipts by lot; the order counts them; the stock has them
        let (o, posted) = receive(&t, big.id, 4000.0, "L1").unwrap();
        assert_eq!(posted[0].lot.purchase_order, Some(big.id));
        assert_eq!(o.lines[0].received, 4000.0);
        assert_eq!(o.state, OrderState::Approved);
        let (o, _) = receive(&t, big.id, 5000.0, "L2").unwrap();
        assert_eq!(o.state, OrderState::Done);
        assert_eq!(
            balance(&t.store.read().unwrap(), t.tol.id, t.haz.id).unwrap(),
            9000.0
        );
        // a receipt over the order (beyond 10 %) is refused
        let e = receive(&t, small.id, 1101.0, "L3").unwrap_err();
        assert_eq!(field(e), "qty");
        // invoices match what was received, not more
        let inv = |qty, amount| {
            po_act(
                &t.store,
                &t.keeper,
                big.id,
                PoAction::Invoice {
                    line: 0,
                    qty,
                    amount,
                },
                false,
                p(),
            )
        };
        assert!(inv(9001.0, 1.0).is_err());
        let (o, _) = inv(9000.0, 58_600.0).unwrap();
        let m = matching(&o);
        assert_eq!(m[0].received_amount, 58_500.0);
        assert_eq!(m[0].difference, 100.0);
        // the payables know it
        let pay = payables(&t.store.read().unwrap()).unwrap();
        assert_eq!(pay[0].open, 58_500.0);
        // prices were recorded: a much dearer one raises the alert and waits
        let dear = po(&t, &s, 10.0, 8.0);
        assert_eq!(dear.state, OrderState::Pending);
        assert_eq!(dear.needs, vec!["price"]);
        assert_eq!(dear.lines[0].price_alert, Some(23.1));
    }

    #[test]
    fn hazardous_chemicals_are_not_bought_from_unlicensed_sellers() {
        let t = plant();
        let s = save_partner(
            &t.store,
            &t.admin,
            Partner {
                id: 0,
                code: "S-X".into(),
                role: PartnerRole::Supplier,
                ..customer()
            },
        )
        .unwrap();
        let e = create_po(
            &t.store,
            &t.keeper,
            PoInput {
                supplier: s.id,
                lines: vec![LineInput {
                    material: t.tol.id,
                    qty: 1.0,
                    unit: String::new(),
                    price: Some(6.5),
                }],
                requisitions: vec![],
                note: String::new(),
            },
            p(),
        )
        .unwrap_err();
        assert_eq!(field(e), "supplier");
    }

    fn stock_up(t: &Plant) {
        let s = supplier(t);
        let o = po(t, &s, 1000.0, 6.5);
        receive(t, o.id, 600.0, "OLD").unwrap();
        let mut r = receipt(t.tol.id, "NEW", t.haz2.id, 400.0);
        r.expires = Some("2027-01-31".into());
        post(&t.store, &t.admin, r, p()).unwrap();
    }

    fn so(
        t: &Plant,
        c: &Partner,
        qty: f64,
        price: Option<f64>,
        handler: bool,
    ) -> Result<SalesOrder> {
        so_of(t, c, qty, price, handler, SalesKind::Standard)
    }

    fn so_of(
        t: &Plant,
        c: &Partner,
        qty: f64,
        price: Option<f64>,
        handler: bool,
        kind: SalesKind,
    ) -> Result<SalesOrder> {
        create_so(
            &t.store,
            &t.keeper,
            SoInput {
                customer: c.id,
                kind,
                lines: vec![LineInput {
                    material: t.tol.id,
                    qty,
                    unit: String::new(),
                    price,
                }],
                end_use: if handler {
                    "稀释剂".into()
                } else {
                    String::new()
                },
                handler: if handler {
                    Handler {
                        name: "王强".into(),
                        id_number: "330781198503120012".into(),
                    }
                } else {
                    Handler::default()
                },
                ship_to: String::new(),
                strategy: Some(Strategy::Fefo),
            },
            p(),
        )
    }

    fn licensed() -> Vec<Licence> {
        vec![
            licence(LicenceKind::HazTrade, "2030-01-01"),
            licence(LicenceKind::PrecursorPurchase, "2030-01-01"),
        ]
    }

    #[test]
    fn sales_check_licences_handler_floor_and_credit() {
        let t = plant();
        stock_up(&t);
        // an expired licence: refused, naming it
        let expired = buyer(
            &t,
            100_000.0,
            CreditPolicy::Approve,
            vec![
                licence(LicenceKind::HazTrade, "2030-01-01"),
                licence(LicenceKind::PrecursorPurchase, "2026-11-30"),
            ],
        );
        let e = so(&t, &expired, 10.0, None, true).unwrap_err();
        assert!(e.msg().render(crate::i18n::Lang::En).contains("2026-11-30"));
        let c = buyer(&t, 10_000.0, CreditPolicy::Approve, licensed());
        // toluene is 易制毒: the handler and the end use are required
        assert_eq!(field(so(&t, &c, 10.0, None, false).unwrap_err()), "handler");
        // and the buyer's address for the register
        let mut nowhere = c.clone();
        nowhere.id = 0;
        nowhere.code = "C-NOWHERE".into();
        nowhere.address.clear();
        let nowhere = save_partner(&t.store, &t.admin, nowhere).unwrap();
        assert_eq!(
            field(so(&t, &nowhere, 10.0, None, true).unwrap_err()),
            "ship_to"
        );
        // list price 8.5, floor 7.5
        let ok = so(&t, &c, 100.0, None, true).unwrap();
        assert_eq!((ok.state, ok.amount), (OrderState::Approved, 850.0));
        let cheap = so(&t, &c, 10.0, Some(7.0), true).unwrap();
        assert_eq!(cheap.needs, vec!["floor"]);
        // 850 + 70 open, + 9,100 = 10,020 over 10,000: waits for approval
        let big = so(&t, &c, 1000.0, Some(9.1), true).unwrap();
        assert_eq!(
            (big.state, big.needs.clone()),
            (OrderState::Pending, vec!["credit".to_string()])
        );
        assert_eq!(big.credit_used, 10_020.0);
        // a customer whose policy blocks: refused and nothing saved
        let strict = buyer(&t, 500.0, CreditPolicy::Block, licensed());
        let before = sales_orders(&t.store.read().unwrap()).unwrap().len();
        let e = so(&t, &strict, 100.0, None, true).unwrap_err();
        assert_eq!(field(e), "customer");
        assert_eq!(
            sales_orders(&t.store.read().unwrap()).unwrap().len(),
            before
        );
    }

    #[test]
    fn deliveries_take_lots_fefo_skip_held_ones_and_fill_the_register() {
        let t = plant();
        stock_up(&t);
        let c = buyer(&t, 100_000.0, CreditPolicy::Approve, licensed());
        let o = so(&t, &c, 500.0, None, true).unwrap();
        let deliver = |qty: f64| {
            so_act(
                &t.store,
                &t.keeper,
                o.id,
                SoAction::Deliver {
                    lines: vec![DeliverLine {
                        line: 0,
                        qty,
                        picks: None,
                        to: None,
                        lot: None,
                    }],
                },
                false,
                p(),
            )
        };
        let (o2, posted) = deliver(450.0).unwrap();
        // FEFO: the lot expiring 2027-01-31 first (400), then the one from the order
        assert_eq!(posted.len(), 2);
        assert_eq!(posted[0].lot.number, "NEW");
        assert_eq!(posted[0].movement.qty, 400.0);
        assert_eq!(posted[1].movement.qty, 50.0);
        assert_eq!(o2.lines[0].delivered, 450.0);
        assert_eq!(o2.delivered_amount, 3825.0);
        let reg = register(&t.store.read().unwrap(), "precursor", 0, i64::MAX).unwrap();
        assert_eq!(reg.len(), 2);
        assert_eq!(reg[0].handler_id, "330781198503120012");
        assert_eq!(reg[0].end_use, "稀释剂");
        // the rest of the old lot goes on hold: nothing releasable is left to ship
        let old = posted[1].lot.id;
        set_lot_quality(&t.store, &t.admin, old, LotQuality::Held, "复检").unwrap();
        let e = deliver(50.0).unwrap_err();
        assert_eq!(field(e), "qty");
        set_lot_quality(&t.store, &t.admin, old, LotQuality::Released, "").unwrap();
        // more than ordered is refused
        assert!(deliver(51.0).is_err());
        let (o3, _) = deliver(50.0).unwrap();
        assert_eq!(o3.state, OrderState::Done);
        // receivables until paid
        let rec = receivables(&t.store.read().unwrap(), p().now_ms).unwrap();
        assert_eq!(rec[0].open, 4250.0);
        so_act(
            &t.store,
            &t.keeper,
            o.id,
            SoAction::Pay { amount: 4250.0 },
            false,
            p(),
        )
        .unwrap();
        let rec = receivables(&t.store.read().unwrap(), p().now_ms).unwrap();
        assert_eq!(rec[0].open, 0.0);
    }

    #[test]
    fn a_customers_price_list_sets_the_price_and_the_floor() {
        let t = plant();
        stock_up(&t);
        let mut c = buyer(&t, 100_000.0, CreditPolicy::Approve, licensed());
        // a floor above the price, a material twice: refused
        let line = |price, floor| PartnerPrice {
            material: t.tol.id,
            price,
            floor,
        };
        c.prices = vec![line(8.0, 8.5)];
        assert_eq!(
            field(save_partner(&t.store, &t.admin, c.clone()).unwrap_err()),
            "prices"
        );
        c.prices = vec![line(8.0, 7.0), line(8.1, 0.0)];
        assert_eq!(
            field(save_partner(&t.store, &t.admin, c.clone()).unwrap_err()),
            "prices"
        );
        c.prices = vec![PartnerPrice {
            material: 999,
            price: 1.0,
            floor: 0.0,
        }];
        assert_eq!(
            field(save_partner(&t.store, &t.admin, c.clone()).unwrap_err()),
            "prices"
        );
        // agreed 8.0 (list 8.5), floor 7.8 (list floor 7.5)
        c.prices = vec![line(8.0, 7.8)];
        let c = save_partner(&t.store, &t.admin, c).unwrap();
        let o = so(&t, &c, 10.0, None, true).unwrap();
        assert_eq!((o.lines[0].price, o.state), (8.0, OrderState::Approved));
        let cheap = so(&t, &c, 10.0, Some(7.7), true).unwrap();
        assert_eq!(cheap.needs, vec!["floor"]);
        // without a floor the agreed price is the floor
        let mut c2 = c.clone();
        c2.prices = vec![line(8.0, 0.0)];
        let c2 = save_partner(&t.store, &t.admin, c2).unwrap();
        assert_eq!(
            so(&t, &c2, 1.0, Some(7.9), true).unwrap().needs,
            vec!["floor"]
        );
        // as text, as the form and the sheet write it
        let codes: HashMap<String, u64> = [("RM-TOL".to_string(), t.tol.id)].into();
        let parsed = super::super::super::sheet::parse_prices("RM-TOL 8.0 7.8", &codes).unwrap();
        assert_eq!(parsed, vec![line(8.0, 7.8)]);
        for bad in ["RM-XXX 8", "RM-TOL", "RM-TOL eight", "RM-TOL 8 7 6"] {
            assert!(
                super::super::super::sheet::parse_prices(bad, &codes).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn consigned_goods_stay_ours_until_the_customer_uses_them() {
        let t = plant();
        stock_up(&t);
        let c = buyer(&t, 100_000.0, CreditPolicy::Approve, licensed());
        let o = so_of(&t, &c, 300.0, None, true, SalesKind::Consignment).unwrap();
        let deliver = SoAction::Deliver {
            lines: vec![DeliverLine {
                line: 0,
                qty: 300.0,
                picks: None,
                to: None,
                lot: None,
            }],
        };
        // a held lot does not leave for the customer's site, by any pick
        let old = pickable(&t.store.read().unwrap(), t.tol.id, p().today).unwrap();
        let held = old.iter().find(|x| x.qty >= 300.0).unwrap().clone();
        set_lot_quality(&t.store, &t.admin, held.lot, LotQuality::Held, "复检").unwrap();
        let picked = SoAction::Deliver {
            lines: vec![DeliverLine {
                line: 0,
                qty: 300.0,
                picks: Some(vec![Pick {
                    lot: held.lot,
                    location: held.location,
                    qty: 300.0,
                }]),
                to: None,
                lot: None,
            }],
        };
        assert_eq!(
            field(so_act(&t.store, &t.keeper, o.id, picked, false, p()).unwrap_err()),
            "lot"
        );
        set_lot_quality(&t.store, &t.admin, held.lot, LotQuality::Released, "").unwrap();
        // hazardous goods are consigned only to a customer licensed to keep them: ethyl
        // acetate needs no buyer's licence to be sold, but a store to be kept in
        let ea = save_material(
            &t.store,
            &t.admin,
            Material {
                id: 0,
                code: "RM-EA".into(),
                name: "乙酸乙酯".into(),
                cas: "141-78-6".into(),
                precursor_class: 0,
                ..toluene()
            },
        )
        .unwrap();
        post(
            &t.store,
            &t.admin,
            receipt(ea.id, "EA1", t.haz.id, 100.0),
            p(),
        )
        .unwrap();
        let unlicensed = save_partner(
            &t.store,
            &t.admin,
            Partner {
                id: 0,
                code: "C-NOLIC".into(),
                ..customer()
            },
        )
        .unwrap();
        let ou = create_so(
            &t.store,
            &t.keeper,
            SoInput {
                customer: unlicensed.id,
                kind: SalesKind::Consignment,
                lines: vec![LineInput {
                    material: ea.id,
                    qty: 10.0,
                    unit: String::new(),
                    price: Some(9.0),
                }],
                end_use: String::new(),
                handler: Handler::default(),
                ship_to: String::new(),
                strategy: None,
            },
            p(),
        )
        .unwrap();
        let e = so_act(
            &t.store,
            &t.keeper,
            ou.id,
            SoAction::Deliver {
                lines: vec![DeliverLine {
                    line: 0,
                    qty: 10.0,
                    picks: None,
                    to: None,
                    lot: None,
                }],
            },
            false,
            p(),
        )
        .unwrap_err();
        assert_eq!(field(e), "customer");
        let before = totals(&t.store.read().unwrap()).unwrap()[&t.tol.id];
        let (o1, posted) = so_act(&t.store, &t.keeper, o.id, deliver, false, p()).unwrap();
        // a transfer to the customer's consignment store: still ours, not invoiced
        assert!(posted.iter().all(|x| x.movement.kind == MoveKind::Transfer));
        let r = t.store.read().unwrap();
        let cs = warehouses(&r)
            .unwrap()
            .into_iter()
            .find(|w| w.consignee == Some(c.id))
            .expect("the consignment store");
        let at_customer: f64 = stock(
            &r,
            &StockFilter {
                warehouse: Some(cs.id),
                ..Default::default()
            },
            p().today,
        )
        .unwrap()
        .iter()
        .map(|x| x.balance.qty)
        .sum();
        assert_eq!(at_customer, 300.0);
        assert_eq!(
            totals(&r).unwrap()[&t.tol.id],
            before - 300.0,
            "no longer on hand"
        );
        assert_eq!(
            (o1.lines[0].delivered, o1.delivered_amount, o1.state),
            (300.0, 0.0, OrderState::Approved)
        );
        // the handover is in the register; what waits there is not picked for others
        assert_eq!(
            register(&r, "precursor", 0, i64::MAX).unwrap().len(),
            posted.len()
        );
        assert!(
            pickable(&r, t.tol.id, p().today)
                .unwrap()
                .iter()
                .all(|x| x.location != posted[0].movement.to.unwrap())
        );
        drop(r);
        // nothing else is put into a consignment store
        let mut into = issue(t.tol.id, posted[0].lot.id, t.haz.id, 1.0);
        into.kind = Some(MoveKind::Transfer);
        into.from = Some(t.haz2.id);
        into.to = posted[0].movement.to;
        assert_eq!(
            field(post(&t.store, &t.admin, into, p()).unwrap_err()),
            "to"
        );
        // the customer reports 120 used: invoiced, and on their credit
        let consume = |qty: f64| SoAction::Consume {
            lines: vec![ConsumeLine { line: 0, qty }],
        };
        let (o2, used) = so_act(&t.store, &t.keeper, o.id, consume(120.0), false, p()).unwrap();
        assert!(used.iter().all(|x| x.movement.kind == MoveKind::Delivery));
        assert_eq!((o2.lines[0].consumed, o2.delivered_amount), (120.0, 1020.0));
        let (open, unpaid) = credit_in_use(&t.store.read().unwrap(), c.id, None).unwrap();
        assert_eq!((open, unpaid), (1530.0, 1020.0), "180 still to use at 8.5");
        // more than is there is refused and changes nothing
        let e = so_act(&t.store, &t.keeper, o.id, consume(181.0), false, p()).unwrap_err();
        assert_eq!(field(e), "qty");
        let (o3, _) = so_act(&t.store, &t.keeper, o.id, consume(180.0), false, p()).unwrap();
        assert_eq!(o3.state, OrderState::Done);
        // only consignment orders record use
        let std = so(&t, &c, 10.0, None, true).unwrap();
        assert!(matches!(
            so_act(&t.store, &t.keeper, std.id, consume(1.0), false, p()),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn a_customer_returns_no_more_than_was_shipped_to_them() {
        let t = plant();
        stock_up(&t);
        let c = buyer(&t, 100_000.0, CreditPolicy::Approve, licensed());
        let o = so(&t, &c, 100.0, None, true).unwrap();
        let line = |qty: f64, lot: Option<u64>| SoAction::Deliver {
            lines: vec![DeliverLine {
                line: 0,
                qty,
                picks: None,
                to: Some(t.haz.id),
                lot,
            }],
        };
        let (_, posted) = so_act(&t.store, &t.keeper, o.id, line(100.0, None), false, p()).unwrap();
        let lot = posted[0].lot.id;
        let ret = create_so(
            &t.store,
            &t.keeper,
            SoInput {
                customer: c.id,
                kind: SalesKind::Return,
                lines: vec![LineInput {
                    material: t.tol.id,
                    qty: 150.0,
                    unit: String::new(),
                    price: None,
                }],
                end_use: String::new(),
                handler: Handler::default(),
                ship_to: String::new(),
                strategy: None,
            },
            p(),
        )
        .unwrap();
        if ret.state == OrderState::Pending {
            so_act(&t.store, &t.admin, ret.id, SoAction::Approve, false, p()).unwrap();
        }
        let before = balance(&t.store.read().unwrap(), t.tol.id, t.haz.id).unwrap();
        // 150 back of the 100 shipped: refused, nothing moves
        let e = so_act(
            &t.store,
            &t.keeper,
            ret.id,
            line(150.0, Some(lot)),
            false,
            p(),
        )
        .unwrap_err();
        assert_eq!(field(e), "qty");
        assert_eq!(
            balance(&t.store.read().unwrap(), t.tol.id, t.haz.id).unwrap(),
            before
        );
        so_act(
            &t.store,
            &t.keeper,
            ret.id,
            line(100.0, Some(lot)),
            false,
            p(),
        )
        .unwrap();
        assert_eq!(
            balance(&t.store.read().unwrap(), t.tol.id, t.haz.id).unwrap(),
            before + 100.0
        );
        // nothing left to come back
        assert!(
            so_act(
                &t.store,
                &t.keeper,
                ret.id,
                line(1.0, Some(lot)),
                false,
                p()
            )
            .is_err()
        );
    }

    #[test]
    fn reorder_proposals_count_stock_and_open_orders() {
        let t = plant();
        // nothing in stock, reorder point 1,000, maximum 20,000
        let made = propose_requisitions(&t.store, 14.0, p().now_ms).unwrap();
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].qty, 20_000.0);
        assert!(made[0].proposed);
        // an open requisition is not proposed twice
        assert!(
            propose_requisitions(&t.store, 14.0, p().now_ms)
                .unwrap()
                .is_empty()
        );
    }
}

mod pending_orders {
    use super::*;
    use crate::modules::inventory::fixtures::{customer, licence};
    use crate::modules::inventory::service::orders::*;

    /// A 剧毒 chemical on a sales order: the delivery waits for the second custodian, and the
    /// order cannot be cancelled nor over-delivered meanwhile; the confirmation checks the
    /// buyer's licence again.
    #[test]
    fn toxic_deliveries_wait_and_are_checked_again_at_confirmation() {
        let t = plant();
        let dms = save_material(
            &t.store,
            &t.admin,
            Material {
                id: 0,
                code: "RM-DMS".into(),
                cas: "77-78-1".into(),
                highly_toxic: true,
                precursor_class: 0,
                storage_group: "toxic".into(),
                ..toluene()
            },
        )
        .unwrap();
        let r = post(
            &t.store,
            &t.keeper,
            receipt(dms.id, "D1", t.haz.id, 100.0),
            p(),
        )
        .unwrap();
        confirm(&t.store, &t.second, r.movement.id, p()).unwrap();
        let c = save_partner(
            &t.store,
            &t.admin,
            Partner {
                id: 0,
                licences: vec![licence(LicenceKind::ToxicPurchase, "2026-12-05")],
                ..customer()
            },
        )
        .unwrap();
        let o = create_so(
            &t.store,
            &t.keeper,
            SoInput {
                customer: c.id,
                kind: SalesKind::Sample,
                lines: vec![LineInput {
                    material: dms.id,
                    qty: 60.0,
                    unit: String::new(),
                    price: None,
                }],
                end_use: "分析标样".into(),
                handler: Handler {
                    name: "王强".into(),
                    id_number: "330781198503120012".into(),
                },
                ship_to: String::new(),
                strategy: None,
            },
            p(),
        )
        .unwrap();
        let deliver = |who: &Actor, qty: f64| {
            so_act(
                &t.store,
                who,
                o.id,
                SoAction::Deliver {
                    lines: vec![DeliverLine {
                        line: 0,
                        qty,
                        picks: None,
                        to: None,
                        lot: None,
                    }],
                },
                false,
                p(),
            )
        };
        let (_, posted) = deliver(&t.keeper, 40.0).unwrap();
        assert_eq!(posted[0].movement.state, MoveState::Pending);
        // 40 waiting + 30 more is over the 60 ordered
        assert_eq!(field(deliver(&t.keeper, 30.0).unwrap_err()), "qty");
        // no cancelling an order with a delivery waiting
        let e = so_act(&t.store, &t.keeper, o.id, SoAction::Cancel, false, p()).unwrap_err();
        assert!(matches!(e, Error::Conflict(_)));
        // the buyer's purchase licence runs out before the second custodian comes
        let later = Posting {
            today: date!(2026 - 12 - 06),
            ..p()
        };
        let e = confirm(&t.store, &t.second, posted[0].movement.id, later).unwrap_err();
        assert_eq!(field(e), "customer");
        let done = confirm(&t.store, &t.second, posted[0].movement.id, p()).unwrap();
        assert_eq!(done.state, MoveState::Posted);
        let o = sales_order(&t.store.read().unwrap(), o.id).unwrap();
        assert_eq!(o.lines[0].delivered, 40.0);
        let reg = register(&t.store.read().unwrap(), "toxic", 0, i64::MAX).unwrap();
        assert_eq!(reg.len(), 1);
        assert_eq!(reg[0].by, "user:keeper");
    }

    #[test]
    fn a_delivery_is_posted_only_by_its_sales_order() {
        let t = plant();
        let lot = post(
            &t.store,
            &t.admin,
            receipt(t.tol.id, "L1", t.haz.id, 100.0),
            p(),
        )
        .unwrap()
        .lot
        .id;
        let d = MoveInput {
            kind: Some(MoveKind::Delivery),
            ..issue(t.tol.id, lot, t.haz.id, 10.0)
        };
        assert_eq!(field(post(&t.store, &t.admin, d, p()).unwrap_err()), "kind");
    }
}

mod counting {
    use super::*;
    use crate::modules::inventory::service::counts::*;

    #[test]
    fn a_count_posts_its_variances_once_another_person_approves() {
        let t = plant();
        post(
            &t.store,
            &t.admin,
            receipt(t.tol.id, "L1", t.haz.id, 100.0),
            p(),
        )
        .unwrap();
        post(
            &t.store,
            &t.admin,
            receipt(t.tol.id, "L2", t.haz2.id, 50.0),
            p(),
        )
        .unwrap();
        let c = open_count(&t.store, &t.keeper, t.haz.warehouse, None, p().now_ms).unwrap();
        assert_eq!(c.lines.len(), 2);
        let act =
            |who: &Actor, a: CountAction, can: bool| count_act(&t.store, who, c.id, a, can, p());
        let record = |line, counted| CountAction::Record {
            lines: vec![Counted { line, counted }],
        };
        act(&t.keeper, record(0, 97.5), false).unwrap();
        // not every line counted yet
        assert_eq!(
            field(act(&t.second, CountAction::Approve, true).unwrap_err()),
            "lines"
        );
        assert_eq!(
            field(act(&t.keeper, record(1, -1.0), false).unwrap_err()),
            "counted"
        );
        act(&t.keeper, record(1, 50.0), false).unwrap();
        // not by the one who opened it, not without approve
        assert!(matches!(
            act(&t.keeper, CountAction::Approve, true).unwrap_err(),
            Error::Conflict(_)
        ));
        assert!(matches!(
            act(&t.second, CountAction::Approve, false).unwrap_err(),
            Error::Forbidden(_)
        ));
        let done = act(&t.second, CountAction::Approve, true).unwrap();
        assert_eq!(done.state, OrderState::Done);
        let rd = t.store.read().unwrap();
        assert_eq!(balance(&rd, t.tol.id, t.haz.id).unwrap(), 97.5);
        assert_eq!(balance(&rd, t.tol.id, t.haz2.id).unwrap(), 50.0);
        let last = ledger(&rd, Some(t.tol.id), 0, i64::MAX, 1).unwrap();
        assert_eq!(
            (last[0].kind, last[0].qty, last[0].from),
            (MoveKind::Count, 2.5, Some(t.haz.id))
        );
        drop(rd);
        // closed: nothing more
        assert!(act(&t.keeper, record(0, 1.0), false).is_err());
    }

    #[test]
    fn a_count_freezes_its_stock_and_count_results_come_only_from_counts() {
        let t = plant();
        let lot = post(
            &t.store,
            &t.admin,
            receipt(t.tol.id, "L1", t.haz.id, 100.0),
            p(),
        )
        .unwrap()
        .lot
        .id;
        // a count result by hand is refused
        let by_hand = MoveInput {
            kind: Some(MoveKind::Count),
            ..issue(t.tol.id, lot, t.haz.id, 1.0)
        };
        assert_eq!(
            field(post(&t.store, &t.admin, by_hand, p()).unwrap_err()),
            "kind"
        );
        let c = open_count(
            &t.store,
            &t.keeper,
            t.haz.warehouse,
            Some(t.haz.id),
            p().now_ms,
        )
        .unwrap();
        // the counted location is frozen; another location of the store is not
        let e = post(&t.store, &t.admin, issue(t.tol.id, lot, t.haz.id, 1.0), p()).unwrap_err();
        assert_eq!(field(e), "from");
        post(
            &t.store,
            &t.admin,
            receipt(t.tol.id, "L2", t.haz2.id, 5.0),
            p(),
        )
        .unwrap();
        // a second count over the same location is refused
        assert!(open_count(&t.store, &t.keeper, t.haz.warehouse, None, p().now_ms).is_err());
        count_act(&t.store, &t.keeper, c.id, CountAction::Cancel, false, p()).unwrap();
        post(&t.store, &t.admin, issue(t.tol.id, lot, t.haz.id, 1.0), p()).unwrap();
    }

    #[test]
    fn the_analysis_values_ages_and_classes_the_stock() {
        let t = plant();
        let lot = post(
            &t.store,
            &t.admin,
            receipt(t.tol.id, "L1", t.haz.id, 1000.0),
            p(),
        )
        .unwrap()
        .lot
        .id;
        post(
            &t.store,
            &t.admin,
            issue(t.tol.id, lot, t.haz.id, 400.0),
            p(),
        )
        .unwrap();
        let a = analysis(&t.store.read().unwrap(), p().now_ms, 365).unwrap();
        let x = a.materials.iter().find(|m| m.material == t.tol.id).unwrap();
        assert_eq!(x.on_hand, 600.0);
        assert_eq!(x.value, 3900.0, "600 kg × 6.5");
        assert_eq!(x.consumed, 400.0);
        assert_eq!(x.turnover, Some(0.67), "2,600 used / 3,900 on hand");
        assert_eq!(x.abc, 'A');
        assert_eq!(a.ageing[0], 3900.0, "received today");
        assert_eq!(a.stock_value, 3900.0);
    }
}

#[test]
fn what_stock_was_checked_by_stays_while_it_is_in_store() {
    let t = plant();
    post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "L1", t.haz.id, 10.0),
        p(),
    )
    .unwrap();
    // the material keeps its storage group and hazard classes while in stock
    let mut m = t.tol.clone();
    m.storage_group = "acid".into();
    assert_eq!(
        field(save_material(&t.store, &t.admin, m).unwrap_err()),
        "storage_group"
    );
    let mut m = t.tol.clone();
    m.hazmat = false;
    m.precursor_class = 0;
    assert_eq!(
        field(save_material(&t.store, &t.admin, m).unwrap_err()),
        "hazmat"
    );
    let mut m = t.tol.clone();
    m.highly_toxic = true;
    assert_eq!(
        field(save_material(&t.store, &t.admin, m).unwrap_err()),
        "highly_toxic"
    );
    // a group the rules do not know
    let mut m = toluene();
    m.id = 0;
    m.code = "RM-UNKNOWN".into();
    m.storage_group = "flammable".into();
    assert_eq!(
        field(save_material(&t.store, &t.admin, m).unwrap_err()),
        "storage_group"
    );
    // a name change is fine
    let mut m = t.tol.clone();
    m.name = "甲苯（工业级）".into();
    save_material(&t.store, &t.admin, m).unwrap();
    // the store stays a dedicated one while it holds hazardous chemicals
    let mut wh = warehouse(&t.store.read().unwrap(), t.haz.warehouse).unwrap();
    wh.hazmat_store = false;
    assert_eq!(
        field(save_warehouse(&t.store, &t.admin, wh).unwrap_err()),
        "hazmat_store"
    );
    // a hazardous chemical without a storage group is refused
    let mut m = toluene();
    m.id = 0;
    m.code = "RM-NOGROUP".into();
    m.storage_group.clear();
    assert_eq!(
        field(save_material(&t.store, &t.admin, m).unwrap_err()),
        "storage_group"
    );
}

#[test]
fn a_mass_that_cannot_be_known_does_not_enter_a_location_with_a_capacity() {
    let t = plant();
    let mut m = toluene();
    m.id = 0;
    m.code = "RM-L".into();
    m.base_unit = "L".into();
    m.units.clear();
    let m = save_material(&t.store, &t.admin, m).unwrap();
    // A-01 holds at most 10,000 kg; litres without a kg factor cannot be weighed
    let e = post(&t.store, &t.admin, receipt(m.id, "L1", t.haz.id, 10.0), p()).unwrap_err();
    assert_eq!(field(e), "to");
    // A-02 has no capacity: fine
    post(
        &t.store,
        &t.admin,
        receipt(m.id, "L1", t.haz2.id, 10.0),
        p(),
    )
    .unwrap();
}

/// Postings are made durable by the store's journal, not by syncing their pages: after a
/// power cut (the store file as last synced, plus the journal) opening the store redoes
/// them to the same ledger, lots, balances and audit entries.
#[test]
fn postings_survive_a_power_cut_through_the_journal() {
    let t = plant();
    let mut r = receipt(t.tol.id, "J1", t.haz.id, 2.0);
    r.unit = "桶".into();
    r.expires = Some("2027-06-30".into());
    let got = post(&t.store, &t.admin, r, p()).unwrap();
    post(
        &t.store,
        &t.keeper,
        issue(t.tol.id, got.lot.id, t.haz.id, 40.0),
        p(),
    )
    .unwrap();
    // refused: changes nothing, journals nothing
    assert!(
        post(
            &t.store,
            &t.admin,
            issue(t.tol.id, got.lot.id, t.haz.id, 900.0),
            p()
        )
        .is_err()
    );
    let mut tr = issue(t.tol.id, got.lot.id, t.haz.id, 100.0);
    tr.kind = Some(MoveKind::Transfer);
    tr.to = Some(t.haz2.id);
    post(&t.store, &t.keeper, tr, p()).unwrap();
    assert!(t.store.journal_stats().0 >= 3);

    let seen = |s: &Store| {
        let rd = s.read().unwrap();
        let audit = crate::store::audit::search(&rd, &Default::default(), 1000).unwrap();
        serde_json::json!({
            "ledger": ledger(&rd, None, 0, i64::MAX, 100).unwrap(),
            "lot": lot(&rd, got.lot.id).unwrap(),
            "balances": balances_of(&rd, t.tol.id).unwrap(),
            "audit": audit,
        })
    };
    let want = seen(&t.store);
    let copy = tempfile::tempdir().unwrap();
    for f in [crate::store::DB_FILE, crate::store::journal::JOURNAL_FILE] {
        std::fs::copy(t._dir.path().join(f), copy.path().join(f)).unwrap();
    }
    let after = Store::open(copy.path()).unwrap();
    assert_eq!(after.journal_stats().2, 3, "three batches redone");
    assert_eq!(seen(&after), want);
    assert_eq!(
        balance(&after.read().unwrap(), t.tol.id, t.haz.id).unwrap(),
        200.0
    );
}

#[test]
fn a_pivot_reads_the_same_from_its_rows_as_from_the_ledger() {
    let t = plant();
    let lot = post(
        &t.store,
        &t.admin,
        receipt(t.tol.id, "P1", t.haz.id, 300.0),
        p(),
    )
    .unwrap()
    .lot
    .id;
    post(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 120.0),
        p(),
    )
    .unwrap();
    post(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 30.0),
        p(),
    )
    .unwrap();
    let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let spec = analysis::movement_pivot(
        &words(&["kind"]),
        &words(&["ts_ms:month"]),
        &words(&["sum:qty", "count", "max:qty"]),
    )
    .unwrap();
    let cst = time::UtcOffset::from_hms(8, 0, 0).unwrap();
    // a ledger without its rows marked complete is read itself
    let from_ledger =
        analysis::pivot_movements(&t.store.read().unwrap(), &spec, 0, i64::MAX, cst).unwrap();
    assert_eq!(analysis::fill_pivot_rows(&t.store).unwrap(), 3);
    assert_eq!(analysis::fill_pivot_rows(&t.store).unwrap(), 0, "once");
    let from_rows =
        analysis::pivot_movements(&t.store.read().unwrap(), &spec, 0, i64::MAX, cst).unwrap();
    assert_eq!(from_rows, from_ledger);
    assert_eq!(from_rows.records, 3);
    assert_eq!(from_rows.total, [Some(450.0), Some(3.0), Some(300.0)]);
    // a movement posted afterwards has its row at once
    post(
        &t.store,
        &t.admin,
        issue(t.tol.id, lot, t.haz.id, 50.0),
        p(),
    )
    .unwrap();
    let later =
        analysis::pivot_movements(&t.store.read().unwrap(), &spec, 0, i64::MAX, cst).unwrap();
    assert_eq!(later.total[0], Some(500.0));
}
