use super::*;
use crate::store::tests::temp_store;
use crate::tags::engine::{Defs, Engine};
use crate::tags::model::{Quality, Sample, Source, Value};
use crate::tags::service::blank_tag;

fn tags() -> Vec<Tag> {
    let mut tt = blank_tag("R101.TT101", DataType::Float, Source::Manual);
    tt.id = 1;
    tt.range_lo = Some(0.0);
    tt.range_hi = Some(200.0);
    tt.equipment = "R101".into();
    let mut sp = blank_tag("R101.TIC101.SP", DataType::Float, Source::Manual);
    sp.id = 2;
    let mut run = blank_tag("R101.M01.RUN", DataType::Bool, Source::Manual);
    run.id = 3;
    let mut other = blank_tag("TK201.LT", DataType::Float, Source::Manual);
    other.id = 4;
    vec![tt, sp, run, other]
}

fn bind(tag: &str, show: Show, x: f64, y: f64) -> Binding {
    Binding {
        tag: tag.into(),
        tag_id: 0,
        show,
        x,
        y,
        label: String::new(),
    }
}

fn input(bindings: Vec<Binding>) -> ScreenInput {
    ScreenInput::new("R101 聚合釜", "R101", bindings)
}

#[test]
fn bindings_must_name_a_tag_sit_inside_and_suit_what_they_show() {
    let (_d, store) = temp_store();
    super::super::batches::test_unit(&store, "R101");
    let defs = Defs::new(tags());
    let look = |n: &str| defs.by_name(n).cloned();
    let a = Actor::user(1, "sun.wei", None);
    let refused = |b: Binding| {
        save(
            &store,
            &a,
            input(vec![bind("R101.TT101", Show::Value, 1.0, 1.0), b]),
            &look,
            1,
        )
        .unwrap_err()
        .msg()
    };
    let m = refused(bind("R101.NOPE", Show::Value, 10.0, 10.0));
    assert_eq!(m.key, "automation.screen.err.unknown_tag");
    assert!(m.render(crate::i18n::Lang::En).contains("Binding 2"));
    assert!(m.render(crate::i18n::Lang::En).contains("R101.NOPE"));
    assert_eq!(
        refused(bind("R101.TT101", Show::Value, 100.5, 10.0)).key,
        "automation.screen.err.position"
    );
    assert_eq!(
        refused(bind("R101.TT101", Show::Value, f64::NAN, 10.0)).key,
        "automation.screen.err.position"
    );
    assert_eq!(
        refused(bind("R101.TIC101.SP", Show::Bar, 10.0, 10.0)).key,
        "automation.screen.err.bar_range"
    );
    assert_eq!(
        refused(bind("R101.M01.RUN", Show::Trend, 10.0, 10.0)).key,
        "automation.screen.err.trend_type"
    );
    // no such unit
    let mut bad_unit = input(Vec::new());
    bad_unit.unit = "R999".into();
    assert!(save(&store, &a, bad_unit, &look, 1).is_err());
    // nothing of the refused saves was kept
    assert!(screens(&store.read().unwrap()).unwrap().is_empty());

    // a good one: ids kept, names answered
    let s = save(
        &store,
        &a,
        input(vec![
            bind("R101.TT101", Show::Bar, 40.0, 30.0),
            bind("R101.TT101", Show::Trend, 40.0, 35.0),
            bind(" R101.M01.RUN ", Show::State, 0.0, 100.0),
        ]),
        &look,
        1,
    )
    .unwrap();
    assert_eq!(s.version, 1);
    assert_eq!(
        s.bindings.iter().map(|b| b.tag_id).collect::<Vec<_>>(),
        vec![1, 1, 3]
    );
    assert_eq!(s.bindings[2].tag, "R101.M01.RUN");
}

#[test]
fn a_save_from_an_older_version_is_refused_and_a_rename_keeps_the_binding() {
    let (_d, store) = temp_store();
    super::super::batches::test_unit(&store, "R101");
    let defs = Defs::new(tags());
    let look = |n: &str| defs.by_name(n).cloned();
    let a = Actor::user(1, "sun.wei", None);
    let b = Actor::user(2, "li.ming", None);
    let s = save(
        &store,
        &a,
        input(vec![bind("R101.TT101", Show::Value, 5.0, 5.0)]),
        &look,
        1,
    )
    .unwrap();
    let mut edit = input(vec![bind("R101.TT101", Show::Value, 50.0, 50.0)]);
    edit.id = Some(s.id);
    edit.version = Some(1);
    let s2 = save(&store, &b, edit.clone(), &look, 2).unwrap();
    assert_eq!((s2.version, s2.bindings[0].x), (2, 50.0));
    // a's editor still holds version 1
    let e = save(&store, &a, edit, &look, 3).unwrap_err();
    assert_eq!(e.msg().key, "automation.screen.err.changed");
    assert!(e.msg().render(crate::i18n::Lang::En).contains("li.ming"));
    // the tag is renamed: the screen shows the new name
    let mut renamed = tags();
    renamed[0].name = "R101.TI101".into();
    let after = Defs::new(renamed);
    let shown = named(screen(&store.read().unwrap(), s.id).unwrap(), &|id| {
        after.get(id).cloned()
    });
    assert_eq!(shown.bindings[0].tag, "R101.TI101");
}

#[test]
fn a_background_is_a_picture_or_a_clean_svg_and_a_refused_one_changes_nothing() {
    let (_d, store) = temp_store();
    super::super::batches::test_unit(&store, "R101");
    let defs = Defs::new(tags());
    let look = |n: &str| defs.by_name(n).cloned();
    let a = Actor::user(1, "sun.wei", None);
    let s = save(&store, &a, input(Vec::new()), &look, 1).unwrap();
    let evil =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><rect onload="fetch('/api/v1/users')"/></svg>"#;
    let e = set_background(&store, &a, s.id, evil.to_vec(), 2).unwrap_err();
    assert_eq!(e.msg().key, "automation.screen.err.svg_handler");
    assert!(e.msg().render(crate::i18n::Lang::En).contains("onload"));
    let e = set_background(&store, &a, s.id, b"%PDF-1.4 hello".to_vec(), 2).unwrap_err();
    assert_eq!(e.msg().key, "automation.screen.err.image_type");
    let r = store.read().unwrap();
    assert!(background(&r, s.id).unwrap().is_none());
    assert_eq!(screen(&r, s.id).unwrap().version, 1);
    drop(r);
    // the demo's drawing passes
    let svg = include_bytes!("../demo_assets/r101.svg").to_vec();
    let s = set_background(&store, &a, s.id, svg.clone(), 3).unwrap();
    assert_eq!(s.background.as_ref().unwrap().mime, "image/svg+xml");
    let (mime, bytes) = background(&store.read().unwrap(), s.id).unwrap().unwrap();
    assert_eq!((mime.as_str(), bytes), ("image/svg+xml", svg));
    // as CAD and Visio export it: an XML declaration, perhaps a byte-order mark
    let exported = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"5\" height=\"5\"/></svg>";
    assert_eq!(background_kind(exported).unwrap(), "image/svg+xml");
    let bom = [&[0xEF, 0xBB, 0xBF][..], exported].concat();
    assert_eq!(background_kind(&bom).unwrap(), "image/svg+xml");
    // a PNG by its content
    let png = [
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    assert_eq!(background_kind(&png).unwrap(), "image/png");
    // deleting the screen takes its background
    delete(&store, &a, s.id).unwrap();
    assert!(background(&store.read().unwrap(), s.id).is_err());
}

#[test]
fn a_units_table_holds_its_own_and_its_screens_tags_once() {
    let (_d, store) = temp_store();
    super::super::batches::test_unit(&store, "R101");
    let defs = Defs::new(tags());
    let look = |n: &str| defs.by_name(n).cloned();
    let a = Actor::user(1, "sun.wei", None);
    save(
        &store,
        &a,
        input(vec![
            bind("TK201.LT", Show::Value, 1.0, 1.0),
            bind("R101.TT101", Show::Value, 2.0, 2.0),
        ]),
        &look,
        1,
    )
    .unwrap();
    let r = store.read().unwrap();
    let unit = super::super::batches::unit(&r, "R101").unwrap();
    let names: Vec<String> = unit_tags(&r, &unit, &defs)
        .unwrap()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names, vec!["R101.TT101", "TK201.LT"]);
}

#[test]
fn the_live_feed_sends_what_changed_and_alarm_markers() {
    use crate::alarms::model::{AlarmDef, Condition, Priority};
    use crate::tags::engine::Sink;
    let (_d, store) = temp_store();
    let store = Arc::new(store);
    let engine = Arc::new(Engine::new(tags()));
    crate::alarms::service::save_def(
        &store,
        &Actor::system("t"),
        &engine.defs(),
        AlarmDef {
            id: 0,
            tag: 1,
            condition: Condition::High { limit: 90.0 },
            priority: Priority::High,
            deadband: 0.0,
            on_delay_s: 0,
            off_delay_s: 0,
            message_zh: "釜温高".into(),
            message_en: "high".into(),
            area: String::new(),
            latch: false,
            enabled: true,
        },
    )
    .unwrap();
    let alarms = Arc::new(crate::alarms::Alarms::open(store.clone(), engine.clone()).unwrap());
    let mut feed = live::Feed::new(
        engine.clone(),
        alarms.clone(),
        vec![(1, "R101.TT101".into()), (4, "TK201.LT".into())],
    );
    let put = |tag: u32, ts: i64, v: f64| {
        engine.publish(vec![Sample {
            tag,
            ts_ms: ts,
            value: Some(Value::Float(v)),
            quality: Quality::Good,
        }])
    };
    put(1, 1000, 80.0);
    put(4, 1000, 40.0);
    let first = feed.frame().unwrap();
    assert_eq!(first["values"].as_object().unwrap().len(), 2);
    assert!(feed.frame().is_none(), "nothing changed");
    put(1, 2000, 81.0);
    let f = feed.frame().unwrap();
    let v = f["values"].as_object().unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v["R101.TT101"][0], 81.0);
    assert_eq!(v["R101.TT101"][1], "good");
    // an alarm on a bound tag: the marker comes (active, waiting), then its return, then
    // its end once acknowledged
    let hot = |ts: i64, v: f64| Sample {
        tag: 1,
        ts_ms: ts,
        value: Some(Value::Float(v)),
        quality: Quality::Good,
    };
    alarms.accept(&[hot(3000, 95.0)]);
    let f = feed.frame().unwrap();
    assert_eq!(
        f["alarms"]["R101.TT101"],
        serde_json::json!(["high", true, true])
    );
    alarms.accept(&[hot(4000, 80.0)]);
    let f = feed.frame().unwrap();
    assert_eq!(
        f["alarms"]["R101.TT101"],
        serde_json::json!(["high", true, false])
    );
    let id = alarms.instances(None)[0].id;
    alarms
        .act(
            id,
            crate::alarms::Action::Ack,
            &Actor::user(1, "li.ming", None),
            "",
        )
        .unwrap();
    let f = feed.frame().unwrap();
    assert!(f["alarms"]["R101.TT101"].is_null(), "{f}");
    assert!(feed.frame().is_none());
}
