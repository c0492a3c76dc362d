//! The quality service against a real store: formulas kept consistent, samples judged,
//! and lots held and released in inventory with the samples' decisions.

use time::macros::date;

use super::model::*;
use super::rules::{Compare, Limits, Verdict};
use super::service::*;
use crate::error::Error;
use crate::modules::inventory::fixtures::toluene;
use crate::modules::inventory::model::{Location, LotQuality, MoveKind, Warehouse};
use crate::modules::inventory::service::{self as inv, MoveInput, Posting};
use crate::store::{Actor, Store};

const NOW: Now = Now {
    ms: 1_780_000_000_000,
    today: date!(2026 - 06 - 01),
};

struct Lab {
    _dir: tempfile::TempDir,
    store: Store,
    /// Enters results (and sets up).
    a: Actor,
    /// The lab's head: reviews and decides samples (four eyes).
    head: Actor,
    material: u64,
    location: u64,
    point: u64,
    av: u64,
}

fn item(store: &Store, a: &Actor, kw: &str, formula: &str) -> Result<TestItem, Error> {
    save_item(
        store,
        a,
        TestItem {
            id: 0,
            keyword: kw.into(),
            name: kw.into(),
            unit: String::new(),
            method: String::new(),
            kind: ItemKind::Number,
            decimals: 1,
            plausible_low: Some(0.0),
            plausible_high: Some(1000.0),
            formula: formula.into(),
            formula_version: 0,
            active: true,
        },
        NOW,
    )
}

/// Toluene under incoming inspection in a hazmat store, the acid-value items and formula,
/// a goods-in point and a specification AV ≤ 5.0.
fn lab() -> Lab {
    let (dir, store) = crate::store::tests::temp_store();
    let a = Actor::system("test");
    let wh = inv::save_warehouse(
        &store,
        &a,
        Warehouse {
            id: 0,
            code: "WH".into(),
            name: "危化品库".into(),
            hazmat_store: true,
            major_hazard: false,
            custodians: vec![],
            consignee: None,
            address: String::new(),
        },
    );
    // a dedicated store needs custodians: use a general one for this test instead
    assert!(wh.is_err());
    let wh = inv::save_warehouse(
        &store,
        &a,
        Warehouse {
            id: 0,
            code: "WH".into(),
            name: "原料库".into(),
            hazmat_store: false,
            major_hazard: false,
            custodians: vec![],
            consignee: None,
            address: String::new(),
        },
    )
    .unwrap();
    let loc = inv::save_location(
        &store,
        &a,
        Location {
            id: 0,
            warehouse: wh.id,
            code: "A-01".into(),
            name: String::new(),
            capacity_kg: 0.0,
        },
    )
    .unwrap();
    let mut m = toluene();
    m.id = 0;
    m.hazmat = false;
    m.precursor_class = 0;
    m.storage_group = String::new();
    m.inspect = true;
    let m = inv::save_material(&store, &a, m).unwrap();
    for k in ["V", "V0", "c", "m"] {
        item(&store, &a, k, "").unwrap();
    }
    let av = item(&store, &a, "AV", "(V - V0) * c * 56.1 / m").unwrap();
    let point = save_point(
        &store,
        &a,
        SamplingPoint {
            id: 0,
            code: "SP-IN".into(),
            name: "原料进厂".into(),
            stage: Stage::Receipt,
            unit: String::new(),
            every_hours: 0,
            material: None,
        },
    )
    .unwrap();
    save_spec(
        &store,
        &a,
        Spec {
            id: 0,
            material: m.id,
            grade: String::new(),
            customer: None,
            stage: Stage::Receipt,
            compare: Compare::Rounded,
            lines: vec![SpecLine {
                item: av.id,
                limits: Limits {
                    max: Some(5.0),
                    ..Default::default()
                },
            }],
            standard: "Q/LX 001".into(),
            version: 0,
        },
    )
    .unwrap();
    Lab {
        _dir: dir,
        store,
        a,
        head: Actor::user(2, "wu.lihua", None),
        material: m.id,
        location: loc.id,
        point: point.id,
        av: av.id,
    }
}

fn posting() -> Posting {
    Posting {
        now_ms: NOW.ms,
        today: NOW.today,
        quality_on: true,
    }
}

fn receive(l: &Lab, number: &str) -> inv::Posted {
    inv::post(
        &l.store,
        &l.a,
        MoveInput {
            kind: Some(MoveKind::Receipt),
            material: l.material,
            lot_number: number.into(),
            to: Some(l.location),
            qty: 100.0,
            ..Default::default()
        },
        posting(),
    )
    .unwrap()
}

fn issue(l: &Lab, lot: u64) -> Result<inv::Posted, Error> {
    inv::post(
        &l.store,
        &l.a,
        MoveInput {
            kind: Some(MoveKind::Issue),
            material: l.material,
            lot: Some(lot),
            from: Some(l.location),
            qty: 1.0,
            ..Default::default()
        },
        posting(),
    )
}

fn results(pairs: &[(&str, &str)]) -> Vec<ResultInput> {
    pairs
        .iter()
        .map(|(k, v)| ResultInput {
            item: None,
            keyword: (*k).into(),
            value: (*v).into(),
        })
        .collect()
}

fn field(e: &Error) -> &'static str {
    match e {
        Error::Invalid { field, .. } => field,
        other => panic!("not a field error: {other:?}"),
    }
}

/// A receipt of an inspected material and the incoming sample it opened.
fn incoming(l: &Lab, number: &str) -> (inv::Posted, Sample) {
    let got = receive(l, number);
    let s = on_receipt(&l.store, &l.a, got.movement.id, NOW)
        .unwrap()
        .unwrap();
    (got, s)
}

fn release() -> SampleAction {
    SampleAction::Release {
        comment: String::new(),
    }
}

fn decide(l: &Lab, who: &Actor, id: u64, action: SampleAction) -> Result<Sample, Error> {
    act(&l.store, who, id, action, NOW)
}

fn concession() -> SampleAction {
    SampleAction::Concession {
        comment: "客户同意".into(),
    }
}

fn failing(l: &Lab, number: &str) -> (u64, Sample) {
    let (got, s) = incoming(l, number);
    let all = [("V", "12.5"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")];
    let s = enter_results(&l.store, &l.a, s.id, results(&all), NOW).unwrap();
    assert_eq!(s.state, SampleState::Failed);
    (got.lot.id, s)
}

#[test]
fn formulas_are_checked_versioned_and_follow_renames() {
    let l = lab();
    let (s, a) = (&l.store, &l.a);
    // unknown keyword, syntax error: refused with the position, nothing saved
    let e = item(s, a, "HV", "(Vb - V) * 56.1").unwrap_err();
    assert_eq!(field(&e), "formula");
    assert!(e.to_string().contains("2"), "{e}");
    assert!(item(s, a, "HV", "(V - V0 * 56.1").is_err());
    assert!(item_by_keyword(&s.read().unwrap(), "HV").unwrap().is_none());
    // a cycle through two formulas is refused, naming the path
    let x = item(s, a, "X", "AV + 1").unwrap();
    let mut av = item_by_keyword(&s.read().unwrap(), "AV").unwrap().unwrap();
    let before = av.clone();
    av.formula = "X * 2".into();
    let e = save_item(s, a, av, NOW).unwrap_err();
    assert!(
        e.to_string().contains("AV → X → AV") || e.to_string().contains("X → AV → X"),
        "{e}"
    );
    // nothing changed
    assert_eq!(
        item_by_keyword(&s.read().unwrap(), "AV").unwrap().unwrap(),
        before
    );
    // renaming V rewrites the formula that reads it, as a new version
    let mut v = item_by_keyword(&s.read().unwrap(), "V").unwrap().unwrap();
    v.keyword = "Vs".into();
    save_item(s, a, v, NOW).unwrap();
    let av = item_by_keyword(&s.read().unwrap(), "AV").unwrap().unwrap();
    assert_eq!(av.formula, "(Vs - V0) * c * 56.1 / m");
    assert_eq!(av.formula_version, 2);
    let versions = formula_versions(&s.read().unwrap(), Some(av.id)).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].source, "(V - V0) * c * 56.1 / m");
    // an item a formula reads cannot be deactivated
    let mut v0 = item_by_keyword(&s.read().unwrap(), "V0").unwrap().unwrap();
    v0.active = false;
    assert!(matches!(save_item(s, a, v0, NOW), Err(Error::Conflict(_))));
    // removing a formula is a version too
    let mut x2 = x.clone();
    x2.formula = String::new();
    let x2 = save_item(s, a, x2, NOW).unwrap();
    assert_eq!(x2.formula_version, 2);
    // the check endpoint's service: inputs, and a value given values
    let r = s.read().unwrap();
    let vals = [("Vs", 12.5), ("V0", 0.1), ("c", 0.1), ("m", 2.0)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let c = check_formula(&r, "(Vs - V0) * c * 56.1 / m", &vals).unwrap();
    assert!((c.value.unwrap() - 34.782).abs() < 1e-9);
    let zero = [("Vs", 1.0), ("V0", 0.1), ("c", 0.1), ("m", 0.0)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(
        field(&check_formula(&r, "(Vs - V0) * c * 56.1 / m", &zero).unwrap_err()),
        "formula"
    );
}

#[test]
fn a_failed_incoming_sample_holds_the_lot_until_a_concession() {
    let l = lab();
    let got = receive(&l, "B-001");
    assert_eq!(
        got.lot.quality,
        LotQuality::Held,
        "inspected material arrives held"
    );
    let s = on_receipt(&l.store, &l.a, got.movement.id, NOW)
        .unwrap()
        .unwrap();
    assert_eq!(s.lot, Some(got.lot.id));
    assert_eq!(s.number, "QC-2026-000001");
    assert_eq!(s.results.len(), 1, "a line per specification item");
    // once per receipt
    assert!(
        on_receipt(&l.store, &l.a, got.movement.id, NOW)
            .unwrap()
            .is_none()
    );

    // an implausible value is refused and changes nothing
    let e = enter_results(
        &l.store,
        &l.a,
        s.id,
        results(&[("V", "12.5"), ("m", "5000")]),
        NOW,
    )
    .unwrap_err();
    assert!(e.to_string().contains("m"), "{e}");
    assert_eq!(sample(&l.store.read().unwrap(), s.id).unwrap(), s);
    // a computed item cannot be entered
    assert!(enter_results(&l.store, &l.a, s.id, results(&[("AV", "1")]), NOW).is_err());

    // partial results: still pending, the formula waits for its inputs
    let s1 = enter_results(
        &l.store,
        &l.a,
        s.id,
        results(&[("V", "12.5"), ("V0", "0.1")]),
        NOW,
    )
    .unwrap();
    assert_eq!(s1.state, SampleState::Pending);
    let line = s1.results.iter().find(|r| r.item == l.av).unwrap();
    assert!(line.value.is_none() && line.error.contains("c"), "{line:?}");
    // the rest: AV = 34.8 > 5.0 fails, a nonconformance report opens
    let s2 = enter_results(
        &l.store,
        &l.a,
        s.id,
        results(&[("c", "0.1"), ("m", "2")]),
        NOW,
    )
    .unwrap();
    assert_eq!(s2.state, SampleState::Failed);
    assert_eq!(s2.verdict, Verdict::Fail);
    let line = s2.results.iter().find(|r| r.item == l.av).unwrap();
    assert!((line.value.unwrap() - 34.782).abs() < 1e-9);
    assert_eq!(line.formula_version, Some(1));
    let ncr = &ncrs(&l.store.read().unwrap()).unwrap()[0];
    assert_eq!(ncr.sample, s.id);
    assert_eq!(
        ncr.finding, "AV 34.8 (≤ 5)",
        "rounded as reported, the limit as written"
    );

    // the held lot cannot be issued: inventory's rule
    assert!(issue(&l, got.lot.id).is_err());
    // releasing a failed sample is not possible; a concession needs its reason
    assert!(act(&l.store, &l.head, s.id, release(), NOW).is_err());
    assert!(
        act(
            &l.store,
            &l.head,
            s.id,
            SampleAction::Concession {
                comment: " ".into()
            },
            NOW
        )
        .is_err()
    );
    let d = act(
        &l.store,
        &l.head,
        s.id,
        SampleAction::Concession {
            comment: "客户同意让步使用".into(),
        },
        NOW,
    )
    .unwrap();
    assert_eq!(d.state, SampleState::Concession);
    let lot = inv::lot(&l.store.read().unwrap(), got.lot.id).unwrap();
    assert_eq!(lot.quality, LotQuality::Released);
    assert!(
        lot.quality_note.contains("让步接收"),
        "{}",
        lot.quality_note
    );
    issue(&l, got.lot.id).unwrap();
    let ncr = &ncrs(&l.store.read().unwrap()).unwrap()[0];
    assert_eq!(ncr.disposition, Some(Disposition::Concession));
    assert!(ncr.closed_ms.is_some());
    // a decided sample takes no more results
    let e = enter_results(&l.store, &l.a, s.id, results(&[("V", "1")]), NOW).unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
}

#[test]
fn retest_pass_release_and_reject() {
    let l = lab();
    let (got, s) = incoming(&l, "B-002");
    enter_results(
        &l.store,
        &l.a,
        s.id,
        results(&[("V", "1.0"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")]),
        NOW,
    )
    .unwrap();
    // AV = 2.5245 → passes; AV formula items are also rounded to 1 decimal for judgement
    let passed = sample(&l.store.read().unwrap(), s.id).unwrap();
    assert_eq!(passed.state, SampleState::Passed);
    // a retest is only for failures
    assert!(
        act(
            &l.store,
            &l.head,
            s.id,
            SampleAction::Retest {
                comment: String::new()
            },
            NOW
        )
        .is_err()
    );
    act(&l.store, &l.head, s.id, release(), NOW).unwrap();
    assert_eq!(
        inv::lot(&l.store.read().unwrap(), got.lot.id)
            .unwrap()
            .quality,
        LotQuality::Released
    );

    // a failed lot retested: the lot stays held while the retest is open
    let (got, s) = incoming(&l, "B-003");
    enter_results(
        &l.store,
        &l.a,
        s.id,
        results(&[("V", "12.5"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")]),
        NOW,
    )
    .unwrap();
    let old = act(
        &l.store,
        &l.head,
        s.id,
        SampleAction::Retest {
            comment: "平行样偏差大".into(),
        },
        NOW,
    )
    .unwrap();
    assert_eq!(old.state, SampleState::Retested);
    let retest = sample(&l.store.read().unwrap(), old.retest.unwrap()).unwrap();
    assert_eq!(retest.origin, Origin::Retest { of: s.id });
    assert_eq!(
        inv::lot(&l.store.read().unwrap(), got.lot.id)
            .unwrap()
            .quality,
        LotQuality::Held
    );
    assert_eq!(
        open_samples(&l.store.read().unwrap(), got.lot.id)
            .unwrap()
            .len(),
        1
    );
    // the retest fails too and is rejected: 不合格, never shipped or issued
    enter_results(
        &l.store,
        &l.a,
        retest.id,
        results(&[("V", "12.4"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")]),
        NOW,
    )
    .unwrap();
    act(
        &l.store,
        &l.head,
        retest.id,
        SampleAction::Reject {
            comment: "复检仍超标".into(),
        },
        NOW,
    )
    .unwrap();
    assert_eq!(
        inv::lot(&l.store.read().unwrap(), got.lot.id)
            .unwrap()
            .quality,
        LotQuality::Rejected
    );
    assert!(issue(&l, got.lot.id).is_err());
}

#[test]
fn a_division_by_zero_is_an_error_on_the_result_not_a_crash() {
    let l = lab();
    let (_, s) = incoming(&l, "B-004");
    let s = enter_results(
        &l.store,
        &l.a,
        s.id,
        results(&[("V", "1"), ("V0", "0.1"), ("c", "0.1"), ("m", "0")]),
        NOW,
    )
    .unwrap();
    let line = s.results.iter().find(|r| r.item == l.av).unwrap();
    assert_eq!(line.value, None);
    assert!(
        line.error.to_lowercase().contains("division by zero"),
        "{}",
        line.error
    );
    assert_eq!(line.verdict, Verdict::Pending);
    assert_eq!(s.state, SampleState::Pending, "an error never passes");
}

#[test]
fn a_hand_sample_holds_a_released_lot_and_needs_a_known_point() {
    let l = lab();
    let mut mat = inv::material(&l.store.read().unwrap(), l.material).unwrap();
    mat.inspect = false;
    inv::save_material(&l.store, &l.a, mat).unwrap();
    let got = receive(&l, "B-005");
    assert_eq!(got.lot.quality, LotQuality::Released);
    assert!(
        on_receipt(&l.store, &l.a, got.movement.id, NOW)
            .unwrap()
            .is_none()
    );
    let bad = create_sample(
        &l.store,
        &l.a,
        NewSample {
            material: l.material,
            lot: Some(got.lot.id),
            point: 999,
            ..Default::default()
        },
        NOW,
    );
    assert_eq!(field(&bad.unwrap_err()), "point");
    let s = create_sample(
        &l.store,
        &l.a,
        NewSample {
            material: l.material,
            lot: Some(got.lot.id),
            point: l.point,
            ..Default::default()
        },
        NOW,
    )
    .unwrap();
    assert!(s.spec.is_some(), "the material's specification by default");
    assert_eq!(
        inv::lot(&l.store.read().unwrap(), got.lot.id)
            .unwrap()
            .quality,
        LotQuality::Held
    );
}

#[test]
fn a_scheduled_point_opens_its_sample_when_due() {
    let l = lab();
    let p = save_point(
        &l.store,
        &l.a,
        SamplingPoint {
            id: 0,
            code: "SP-R1".into(),
            name: "R-101".into(),
            stage: Stage::Intermediate,
            unit: "R-101".into(),
            every_hours: 4,
            material: Some(l.material),
        },
    )
    .unwrap();
    assert_eq!(scheduled(&l.store, &l.a, NOW).unwrap(), 1);
    // not again within the four hours, again after them
    let later = |h: i64| Now {
        ms: NOW.ms + h * 3_600_000,
        today: NOW.today,
    };
    assert_eq!(scheduled(&l.store, &l.a, later(3)).unwrap(), 0);
    assert_eq!(scheduled(&l.store, &l.a, later(4)).unwrap(), 1);
    let r = l.store.read().unwrap();
    let at_point: Vec<Sample> = samples(&r)
        .unwrap()
        .into_iter()
        .filter(|s| s.point == p.id)
        .collect();
    assert_eq!(at_point.len(), 2);
    assert!(
        at_point
            .iter()
            .all(|s| s.origin == Origin::Schedule && s.lot.is_none())
    );
    // a schedule needs a material
    let mut bad = p.clone();
    bad.material = None;
    assert!(save_point(&l.store, &l.a, bad).is_err());
}

#[test]
fn records_stay_records_and_holds_stay_with_who_placed_them() {
    let l = lab();
    let all = [("V", "12.5"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")];
    // a failed result is not rewritten into a pass
    let (got, s) = incoming(&l, "B-101");
    let failed = enter_results(&l.store, &l.a, s.id, results(&all), NOW).unwrap();
    assert_eq!(failed.state, SampleState::Failed);
    let e = enter_results(&l.store, &l.a, s.id, results(&[("V", "1.0")]), NOW).unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    // rejected: no new sample tests it back into use
    act(
        &l.store,
        &l.head,
        s.id,
        SampleAction::Reject {
            comment: "超标".into(),
        },
        NOW,
    )
    .unwrap();
    let again = create_sample(
        &l.store,
        &l.a,
        NewSample {
            material: l.material,
            lot: Some(got.lot.id),
            point: l.point,
            ..Default::default()
        },
        NOW,
    );
    assert_eq!(field(&again.unwrap_err()), "lot");

    // a hold for a complaint outlives a passing test
    let mut mat = inv::material(&l.store.read().unwrap(), l.material).unwrap();
    mat.inspect = false;
    inv::save_material(&l.store, &l.a, mat).unwrap();
    let got = receive(&l, "B-102");
    inv::set_lot_quality(
        &l.store,
        &l.a,
        got.lot.id,
        LotQuality::Held,
        "客户投诉，冻结待查",
    )
    .unwrap();
    let s = create_sample(
        &l.store,
        &l.a,
        NewSample {
            material: l.material,
            lot: Some(got.lot.id),
            point: l.point,
            ..Default::default()
        },
        NOW,
    )
    .unwrap();
    assert!(!s.holds_lot);
    enter_results(
        &l.store,
        &l.a,
        s.id,
        results(&[("V", "1.0"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")]),
        NOW,
    )
    .unwrap();
    act(&l.store, &l.head, s.id, release(), NOW).unwrap();
    let lot = inv::lot(&l.store.read().unwrap(), got.lot.id).unwrap();
    assert_eq!(lot.quality, LotQuality::Held);
    assert_eq!(lot.quality_note, "客户投诉，冻结待查");

    // 1,250 is not read as 1.25; NaN is not a number
    let got = receive(&l, "B-103");
    let s = create_sample(
        &l.store,
        &l.a,
        NewSample {
            material: l.material,
            lot: Some(got.lot.id),
            point: l.point,
            ..Default::default()
        },
        NOW,
    )
    .unwrap();
    for bad in ["1,250", "NaN", "inf"] {
        assert!(
            enter_results(&l.store, &l.a, s.id, results(&[("V", bad)]), NOW).is_err(),
            "{bad}"
        );
    }
    // a specification line that asks nothing is refused
    let v = item_by_keyword(&l.store.read().unwrap(), "V")
        .unwrap()
        .unwrap();
    let e = save_spec(
        &l.store,
        &l.a,
        Spec {
            id: 0,
            material: l.material,
            grade: "二级".into(),
            customer: None,
            stage: Stage::Receipt,
            compare: Compare::Rounded,
            lines: vec![SpecLine {
                item: v.id,
                limits: Limits::default(),
            }],
            standard: String::new(),
            version: 0,
        },
    )
    .unwrap_err();
    assert_eq!(field(&e), "lines");
}

#[test]
fn who_entered_the_results_does_not_decide_them() {
    let l = lab();
    let (lot, s) = failing(&l, "B-201");
    for a in [
        concession(),
        SampleAction::Reject {
            comment: "超标".into(),
        },
    ] {
        let e = decide(&l, &l.a, s.id, a).unwrap_err();
        assert!(
            matches!(&e, Error::Conflict(m) if m.key == "quality.err.four_eyes"),
            "{e:?}"
        );
    }
    assert_eq!(sample(&l.store.read().unwrap(), s.id).unwrap(), s);
    assert_eq!(
        inv::lot(&l.store.read().unwrap(), lot).unwrap().quality,
        LotQuality::Held
    );
    // someone else decides; ordering a retest is no judgement of one's own results
    decide(&l, &l.head, s.id, concession()).unwrap();
    let (_, s2) = failing(&l, "B-202");
    decide(
        &l,
        &l.a,
        s2.id,
        SampleAction::Retest {
            comment: String::new(),
        },
    )
    .unwrap();
}

#[test]
fn one_retest_and_its_decision_settles_both_reports() {
    let l = lab();
    let retest = || SampleAction::Retest {
        comment: "加倍取样复验".into(),
    };
    // the retest fails too: no third test; the concession closes both reports
    let (_, s) = failing(&l, "B-301");
    let old = decide(&l, &l.head, s.id, retest()).unwrap();
    let r = old.retest.unwrap();
    let all = [("V", "12.5"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")];
    enter_results(&l.store, &l.a, r, results(&all), NOW).unwrap();
    let e = decide(&l, &l.head, r, retest()).unwrap_err();
    assert!(
        matches!(&e, Error::Conflict(m) if m.key == "quality.err.retest_once"),
        "{e:?}"
    );
    decide(&l, &l.head, r, concession()).unwrap();
    let open: Vec<Nonconformance> = ncrs(&l.store.read().unwrap())
        .unwrap()
        .into_iter()
        .filter(|n| n.closed_ms.is_none())
        .collect();
    assert!(open.is_empty(), "{open:?}");

    // the retest passes: released, and the first report closed as passed on retest
    let (lot, s) = failing(&l, "B-302");
    let r = decide(&l, &l.head, s.id, retest()).unwrap().retest.unwrap();
    let good = [("V", "1.0"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")];
    enter_results(&l.store, &l.a, r, results(&good), NOW).unwrap();
    decide(&l, &l.head, r, release()).unwrap();
    let first = ncrs(&l.store.read().unwrap())
        .unwrap()
        .into_iter()
        .find(|n| n.sample == s.id)
        .unwrap();
    assert_eq!(first.disposition, Some(Disposition::Retested));
    assert!(first.closed_ms.is_some());
    assert_eq!(
        inv::lot(&l.store.read().unwrap(), lot).unwrap().quality,
        LotQuality::Released
    );
}

#[test]
fn a_sample_without_results_is_not_rejected() {
    let l = lab();
    let (_, s) = incoming(&l, "B-401");
    let e = decide(
        &l,
        &l.head,
        s.id,
        SampleAction::Reject {
            comment: "看着不对".into(),
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Conflict(m) if m.key == "quality.err.reject_empty"),
        "{e:?}"
    );
}

#[test]
fn a_sample_is_judged_by_the_specification_in_force_when_taken() {
    let l = lab();
    let (_, before) = incoming(&l, "B-501");
    // the specification is tightened to AV ≤ 1.0 after the sample was taken
    let r = l.store.read().unwrap();
    let mut sp = specs(&r).unwrap().remove(0);
    drop(r);
    assert_eq!(sp.version, 1);
    sp.lines[0].limits.max = Some(1.0);
    let sp = save_spec(&l.store, &l.a, sp).unwrap();
    assert_eq!(sp.version, 2);
    // AV 2.5: within the old limit the sample was taken under
    let good = [("V", "1.0"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")];
    let s = enter_results(&l.store, &l.a, before.id, results(&good), NOW).unwrap();
    assert_eq!((s.spec_version, s.state), (Some(1), SampleState::Passed));
    // a sample taken now is judged by the new one
    let (_, after) = incoming(&l, "B-502");
    let s = enter_results(&l.store, &l.a, after.id, results(&good), NOW).unwrap();
    assert_eq!((s.spec_version, s.state), (Some(2), SampleState::Failed));
    let versions = spec_versions(&l.store.read().unwrap(), sp.id).unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(versions[1].lines[0].limits.max, Some(5.0));
}

#[test]
fn an_instrument_file_names_every_bad_row() {
    let l = lab();
    let (_, s) = incoming(&l, "B-601");
    let row = |n: usize, sample: &str, item: &str, value: &str| {
        (n, sample.to_string(), item.to_string(), value.to_string())
    };
    let e = import_results(
        &l.store,
        &l.a,
        vec![
            row(2, &s.number, "V", "1.0"),
            row(3, &s.number, "m", "5000"),
            row(4, &s.number, "Q", "1"),
            row(5, "QC-1999-000009", "V", "1"),
            row(6, &s.number, "AV", "3"),
        ],
        NOW,
    )
    .unwrap_err();
    let Error::Rows(rows) = e else {
        panic!("{e:?}")
    };
    assert_eq!(
        rows.iter().map(|r| (r.row, r.field)).collect::<Vec<_>>(),
        [(3, "value"), (4, "item"), (5, "sample"), (6, "item")]
    );
    assert_eq!(sample(&l.store.read().unwrap(), s.id).unwrap(), s);
    // a decided sample is its rows' fault, named at its first row
    let (_, failed) = failing(&l, "B-602");
    let Error::Rows(rows) = import_results(
        &l.store,
        &l.a,
        vec![row(2, &failed.number, "V", "1.0")],
        NOW,
    )
    .unwrap_err() else {
        panic!()
    };
    assert_eq!((rows[0].row, rows[0].field), (2, "sample"));
}

#[test]
fn a_customer_certificate_needs_every_item_of_their_specification_tested() {
    let l = lab();
    let (got, s) = incoming(&l, "B-701");
    let good = [("V", "1.0"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")];
    enter_results(&l.store, &l.a, s.id, results(&good), NOW).unwrap();
    decide(&l, &l.head, s.id, release()).unwrap();
    let mut c = crate::modules::inventory::fixtures::customer();
    c.id = 0;
    let customer = inv::save_partner(&l.store, &l.a, c).unwrap();
    let extra = item(&l.store, &l.a, "PUR", "").unwrap();
    let theirs = |lines| Spec {
        id: 0,
        material: l.material,
        grade: String::new(),
        customer: Some(customer.id),
        stage: Stage::Receipt,
        compare: Compare::Rounded,
        lines,
        standard: "客户标准".into(),
        version: 0,
    };
    let av = SpecLine {
        item: l.av,
        limits: Limits {
            max: Some(3.0),
            ..Default::default()
        },
    };
    let pur = SpecLine {
        item: extra.id,
        limits: Limits {
            min: Some(99.5),
            ..Default::default()
        },
    };
    save_spec(&l.store, &l.a, theirs(vec![av, pur])).unwrap();
    let e = certificate(&l.store.read().unwrap(), got.lot.id, Some(customer.id)).unwrap_err();
    assert!(
        matches!(&e, Error::Conflict(m) if m.key == "quality.err.coa_untested"),
        "{e:?}"
    );
    assert!(e.to_string().contains("PUR"), "{e}");
    // the plant's own certificate still stands
    let c = certificate(&l.store.read().unwrap(), got.lot.id, None).unwrap();
    assert!(c.conforms);
    // an item a specification asks for is not retired
    let mut x = extra.clone();
    x.active = false;
    assert!(matches!(
        save_item(&l.store, &l.a, x, NOW),
        Err(Error::Conflict(_))
    ));
}

#[test]
fn specification_text_names_every_bad_line_and_formulas_without_inputs_evaluate() {
    let l = lab();
    let r = l.store.read().unwrap();
    let e = spec_lines(&r, "AV ≤ 5.0\nAV ≤ x\nZZ ≤ 1\nV 1 - 2").unwrap_err();
    let Error::Rows(rows) = e else {
        panic!("{e:?}")
    };
    assert_eq!(rows.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 3]);
    let one = spec_lines(&r, "AV ≤ 5.0\nAV ≤ x").unwrap_err();
    assert_eq!(field(&one), "lines");
    let c = check_formula(&r, "round(56.1 / 3, 2)", &Default::default()).unwrap();
    assert_eq!(c.value, Some(18.7));
}

#[test]
fn what_the_domain_review_found() {
    let l = lab();
    // a retest answers the requirement the first sample failed, even if it was loosened
    let (_, s) = failing(&l, "B-801");
    let r = l.store.read().unwrap();
    let mut sp = specs(&r).unwrap().remove(0);
    drop(r);
    sp.lines[0].limits.max = Some(50.0);
    save_spec(&l.store, &l.a, sp).unwrap();
    let r = decide(
        &l,
        &l.head,
        s.id,
        SampleAction::Retest {
            comment: String::new(),
        },
    )
    .unwrap()
    .retest
    .unwrap();
    let all = [("V", "12.5"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")];
    let retest = enter_results(&l.store, &l.a, r, results(&all), NOW).unwrap();
    assert_eq!(
        (retest.spec_version, retest.state),
        (Some(1), SampleState::Failed)
    );

    // one result an item in one entry: a failing reading is not replaced by another
    let (_, s) = incoming(&l, "B-802");
    let e = enter_results(
        &l.store,
        &l.a,
        s.id,
        results(&[("V", "12.5"), ("V", "1.0")]),
        NOW,
    )
    .unwrap_err();
    assert_eq!(field(&e), "results");
    let Error::Rows(rows) = import_results(
        &l.store,
        &l.a,
        vec![
            (2, s.number.clone(), "V".into(), "12.5".into()),
            (3, s.number.clone(), "V".into(), "1.0".into()),
        ],
        NOW,
    )
    .unwrap_err() else {
        panic!()
    };
    assert_eq!((rows[0].row, rows[0].field), (3, "item"));

    // no concession on untested material (a sample without a specification, no results)
    let ipc = save_point(
        &l.store,
        &l.a,
        SamplingPoint {
            id: 0,
            code: "SP-X".into(),
            name: "中控".into(),
            stage: Stage::Intermediate,
            unit: String::new(),
            every_hours: 0,
            material: None,
        },
    )
    .unwrap();
    let bare = create_sample(
        &l.store,
        &l.a,
        NewSample {
            material: l.material,
            lot: Some(receive(&l, "B-804").lot.id),
            point: ipc.id,
            ..Default::default()
        },
        NOW,
    )
    .unwrap();
    assert!(bare.spec.is_none());
    let e = decide(&l, &l.head, bare.id, concession()).unwrap_err();
    assert!(
        matches!(&e, Error::Conflict(m) if m.key == "quality.err.concession_empty"),
        "{e:?}"
    );
    // a rejection without a failing line still has its report
    enter_results(&l.store, &l.a, s.id, results(&[("V", "1.0")]), NOW).unwrap();
    decide(
        &l,
        &l.head,
        s.id,
        SampleAction::Reject {
            comment: "桶内有杂质".into(),
        },
    )
    .unwrap();
    let n = ncrs(&l.store.read().unwrap())
        .unwrap()
        .into_iter()
        .find(|n| n.sample == s.id)
        .expect("a report for the rejection");
    assert_eq!((n.finding.as_str(), n.closed_ms), ("桶内有杂质", None));

    // no certificate for a lot that is held now, though an earlier sample released it
    let (got, s) = incoming(&l, "B-803");
    let good = [("V", "1.0"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")];
    enter_results(&l.store, &l.a, s.id, results(&good), NOW).unwrap();
    decide(&l, &l.head, s.id, release()).unwrap();
    assert!(certificate(&l.store.read().unwrap(), got.lot.id, None).is_ok());
    create_sample(
        &l.store,
        &l.a,
        NewSample {
            material: l.material,
            lot: Some(got.lot.id),
            point: l.point,
            ..Default::default()
        },
        NOW,
    )
    .unwrap();
    let e = certificate(&l.store.read().unwrap(), got.lot.id, None).unwrap_err();
    assert!(
        matches!(&e, Error::Conflict(m) if m.key == "quality.err.coa_lot_status"),
        "{e:?}"
    );
}

#[test]
fn a_form_sent_back_unchanged_records_nothing_and_a_correction_keeps_the_first() {
    let l = lab();
    let (_, s) = incoming(&l, "B-901");
    let good = [("V", "1.0"), ("V0", "0.1"), ("c", "0.1"), ("m", "2")];
    let first = enter_results(&l.store, &l.a, s.id, results(&good), NOW).unwrap();
    // the head sends the same values back: still the analyst's, so the head may decide
    let later = Now {
        ms: NOW.ms + 60_000,
        today: NOW.today,
    };
    let again = enter_results(&l.store, &l.head, s.id, results(&good), later).unwrap();
    assert_eq!(first.results, again.results);
    // a correction keeps what it replaced, and both people count as having entered
    let fixed = enter_results(&l.store, &l.head, s.id, results(&[("V", "1.1")]), later).unwrap();
    let v = item_by_keyword(&l.store.read().unwrap(), "V")
        .unwrap()
        .unwrap();
    let line = fixed.results.iter().find(|x| x.item == v.id).unwrap();
    assert_eq!(line.history.len(), 1);
    assert_eq!(
        (line.history[0].value, line.history[0].by.as_str()),
        (Some(1.0), "system:test")
    );
    for who in [&l.a, &l.head] {
        let e = decide(&l, who, s.id, release()).unwrap_err();
        assert!(
            matches!(&e, Error::Conflict(m) if m.key == "quality.err.four_eyes"),
            "{e:?}"
        );
    }
}
