use super::*;
use crate::sparkplug::{Metric, Payload, datatype, metric};

fn payload(seq: Option<u64>, metrics: Vec<Metric>) -> Vec<u8> {
    sparkplug::encode(&Payload {
        timestamp: Some(1),
        seq,
        metrics,
        ..Default::default()
    })
}

fn bd_seq(n: u64) -> Metric {
    Metric {
        name: Some("bdSeq".into()),
        datatype: Some(datatype::INT64),
        value: Some(sparkplug::MetricValue::Long(n)),
        ..Default::default()
    }
}

fn named(name: &str, v: Val) -> Metric {
    Metric {
        alias: None,
        ..metric(Some(name), 0, 5, &v, false)
    }
}

/// A box's session as the northbound publisher starts it: NBIRTH, an area, the summary.
fn born(v: &mut View, node: &str, bd: u64) {
    let g = "park";
    assert_eq!(
        v.on_message(
            &format!("spBv1.0/{g}/NBIRTH/{node}"),
            &payload(Some(0), vec![bd_seq(bd)]),
            10
        ),
        None
    );
    let area = payload(
        Some(1),
        vec![
            metric(Some("TI-101"), 7, 5, &Val::Number(85.5), false),
            metric(Some("Pump run"), 9, 5, &Val::Bool(true), false),
        ],
    );
    assert_eq!(
        v.on_message(&format!("spBv1.0/{g}/DBIRTH/{node}/reactor"), &area, 10),
        None
    );
    let summary = payload(
        Some(2),
        vec![
            named("enterprise/name", Val::Text("兰溪一化".into())),
            named("alarms/active", Val::Number(2.0)),
            named("safety/status", Val::Text("attention".into())),
        ],
    );
    assert_eq!(
        v.on_message(&format!("spBv1.0/{g}/DBIRTH/{node}/summary"), &summary, 10),
        None
    );
}

fn plant<'a>(v: &'a View, node: &str) -> &'a Plant {
    &v.plants[&("park".to_string(), node.to_string())]
}

#[test]
fn births_then_data_keep_each_plants_figures_tags_and_events() {
    let mut v = View::default();
    born(&mut v, "plant-a", 0);
    born(&mut v, "plant-b", 3);
    let a = plant(&v, "plant-a");
    assert!(a.online);
    assert_eq!(a.name(), "兰溪一化");
    assert_eq!(a.figures["alarms/active"], FigVal::Number(2.0));
    assert_eq!(a.areas["reactor"][&7].value, Some(FigVal::Number(85.5)));
    assert_eq!(a.areas["reactor"][&9].value, Some(FigVal::Number(1.0)));

    // data by alias, figures by name, alarm events as JSON
    let data = payload(
        Some(3),
        vec![metric(None, 7, 20, &Val::Number(90.0), false)],
    );
    assert_eq!(
        v.on_message("spBv1.0/park/DDATA/plant-a/reactor", &data, 20),
        None
    );
    let fig = payload(Some(4), vec![named("alarms/active", Val::Number(3.0))]);
    assert_eq!(
        v.on_message("spBv1.0/park/DDATA/plant-a/summary", &fig, 21),
        None
    );
    let ev = payload(
        Some(5),
        vec![named(
            "Alarm",
            Val::Text(r#"{"kind":"raised","tag":"TI-101"}"#.into()),
        )],
    );
    assert_eq!(
        v.on_message("spBv1.0/park/DDATA/plant-a/alarms", &ev, 22),
        None
    );
    let a = plant(&v, "plant-a");
    assert_eq!(a.areas["reactor"][&7].value, Some(FigVal::Number(90.0)));
    assert_eq!(a.areas["reactor"][&7].ts_ms, 20);
    assert_eq!(a.figures["alarms/active"], FigVal::Number(3.0));
    assert_eq!(a.events[0]["tag"], "TI-101");
    // the other plant is untouched
    assert_eq!(
        plant(&v, "plant-b").figures["alarms/active"],
        FigVal::Number(2.0)
    );
    assert_eq!(v.status.rebirths, 0);

    // a new birth's summary replaces the figures: one no longer sent goes
    let fewer = payload(
        Some(6),
        vec![named("enterprise/name", Val::Text("兰溪一化".into()))],
    );
    v.on_message("spBv1.0/park/DBIRTH/plant-a/summary", &fewer, 23);
    assert_eq!(plant(&v, "plant-a").figures.len(), 1);
}

#[test]
fn data_it_cannot_place_asks_for_a_rebirth_at_most_every_ten_seconds() {
    let mut v = View::default();
    // the park started after the box: data from a node never born here
    let data = payload(Some(40), vec![metric(None, 7, 1, &Val::Number(1.0), false)]);
    let r = v.on_message("spBv1.0/park/DDATA/plant-a/reactor", &data, 1_000);
    assert_eq!(
        r.as_ref().map(Rebirth::topic).as_deref(),
        Some("spBv1.0/park/NCMD/plant-a")
    );
    assert_eq!(
        v.on_message("spBv1.0/park/DDATA/plant-a/reactor", &data, 5_000),
        None
    );
    assert!(
        v.on_message("spBv1.0/park/DDATA/plant-a/reactor", &data, 11_000)
            .is_some()
    );
    let back = sparkplug::decode(&Rebirth::payload()).unwrap();
    assert_eq!(
        back.metrics[0].name.as_deref(),
        Some("Node Control/Rebirth")
    );
    assert_eq!(back.metrics[0].val(), Some(Val::Bool(true)));

    // after the birth: an unknown alias, and a gap in the sequence (a lost message)
    born(&mut v, "plant-a", 1);
    let unknown = payload(Some(3), vec![metric(None, 99, 1, &Val::Number(1.0), false)]);
    assert!(
        v.on_message("spBv1.0/park/DDATA/plant-a/reactor", &unknown, 30_000)
            .is_some()
    );
    born(&mut v, "plant-a", 2);
    let skipped = payload(Some(5), vec![metric(None, 7, 1, &Val::Number(1.0), false)]);
    assert!(
        v.on_message("spBv1.0/park/DDATA/plant-a/reactor", &skipped, 50_000)
            .is_some()
    );
    // the value from after the gap is not taken as current
    assert_eq!(
        plant(&v, "plant-a").areas["reactor"][&7].value,
        Some(FigVal::Number(85.5))
    );
    assert_eq!(plant(&v, "plant-a").rebirths, 2);
    assert_eq!(v.status.rebirths, 4);

    // back on the broker after losing it: every plant known is asked at once
    v.lost(60_000);
    assert!(!plant(&v, "plant-a").online);
    let asks = v.reconnected(70_000);
    assert_eq!(
        asks.iter().map(Rebirth::topic).collect::<Vec<_>>(),
        ["spBv1.0/park/NCMD/plant-a"]
    );
}

#[test]
fn only_a_proper_birth_makes_a_plant_and_junk_takes_no_slot() {
    let mut v = View::default();
    // data and deaths from nodes never born: asked for a birth, not kept
    let data = payload(Some(1), vec![named("alarms/active", Val::Number(1.0))]);
    assert!(
        v.on_message("spBv1.0/park/DDATA/junk/summary", &data, 1)
            .is_some()
    );
    v.on_message(
        "spBv1.0/park/NDEATH/junk2",
        &payload(None, vec![bd_seq(0)]),
        1,
    );
    assert!(v.plants.is_empty());
    // a birth without its bdSeq or its sequence number is refused
    v.on_message("spBv1.0/park/NBIRTH/a", &payload(Some(0), vec![]), 1);
    v.on_message("spBv1.0/park/NBIRTH/b", &payload(None, vec![bd_seq(1)]), 1);
    assert!(v.plants.is_empty());
    // a sequence number past 255 is broken, dropped (no overflow either)
    born(&mut v, "plant-a", 0);
    let huge = payload(
        Some(u64::MAX),
        vec![metric(None, 7, 20, &Val::Number(1.0), false)],
    );
    assert_eq!(
        v.on_message("spBv1.0/park/DDATA/plant-a/reactor", &huge, 20),
        None
    );
    assert_eq!(v.status.dropped, 3);
    assert!(plant(&v, "plant-a").online);
}

#[test]
fn a_replayed_backlog_or_an_older_value_is_not_taken_as_now() {
    let mut v = View::default();
    born(&mut v, "plant-a", 0);
    // the box replays what it queued while the broker was away: historical
    let old = Metric {
        is_historical: Some(true),
        ..named("safety/status", Val::Text("danger".into()))
    };
    let old_tag = metric(None, 7, 1_000, &Val::Number(10.0), true);
    v.on_message(
        "spBv1.0/park/DDATA/plant-a/summary",
        &payload(Some(3), vec![old]),
        20,
    );
    v.on_message(
        "spBv1.0/park/DDATA/plant-a/reactor",
        &payload(Some(4), vec![old_tag]),
        20,
    );
    let a = plant(&v, "plant-a");
    assert_eq!(a.figures["safety/status"], FigVal::Text("attention".into()));
    assert_eq!(a.areas["reactor"][&7].value, Some(FigVal::Number(85.5)));
    // a value stamped before the one shown
    let earlier = metric(None, 7, 1, &Val::Number(11.0), false);
    v.on_message(
        "spBv1.0/park/DDATA/plant-a/reactor",
        &payload(Some(5), vec![earlier]),
        21,
    );
    assert_eq!(
        plant(&v, "plant-a").areas["reactor"][&7].value,
        Some(FigVal::Number(85.5))
    );
    // a figure sent as null is gone; a device's death takes its values away
    let gone = named("safety/status", Val::Null);
    v.on_message(
        "spBv1.0/park/DDATA/plant-a/summary",
        &payload(Some(6), vec![gone]),
        22,
    );
    assert!(!plant(&v, "plant-a").figures.contains_key("safety/status"));
    // a text too long for a figure is dropped, the figure kept as it was
    let long = payload(
        Some(7),
        vec![named("enterprise/name", Val::Text("x".repeat(5000)))],
    );
    v.on_message("spBv1.0/park/DDATA/plant-a/summary", &long, 23);
    assert_eq!(plant(&v, "plant-a").name(), "兰溪一化");
    assert_eq!(v.status.dropped, 1);
    v.on_message(
        "spBv1.0/park/DDEATH/plant-a/reactor",
        &payload(Some(8), vec![]),
        24,
    );
    assert!(plant(&v, "plant-a").areas.is_empty());
    assert_eq!(v.status.rebirths, 0);
}

#[test]
fn a_death_ends_only_its_own_session_and_garbage_changes_nothing() {
    let mut v = View::default();
    born(&mut v, "plant-a", 4);
    // a late will of the session before
    v.on_message(
        "spBv1.0/park/NDEATH/plant-a",
        &payload(None, vec![bd_seq(3)]),
        30,
    );
    assert!(plant(&v, "plant-a").online);
    v.on_message(
        "spBv1.0/park/NDEATH/plant-a",
        &payload(None, vec![bd_seq(4)]),
        31,
    );
    let a = plant(&v, "plant-a");
    assert!(!a.online);
    assert_eq!(a.offline_since_ms, Some(31));
    // what it said last is still shown
    assert_eq!(a.figures["safety/status"], FigVal::Text("attention".into()));

    let before = format!("{:?}", v.plants);
    v.on_message(
        "spBv1.0/park/DDATA/plant-a/summary",
        b"\xff\xff\xff garbage",
        40,
    );
    v.on_message("spBv1.0/STATE/host", b"ONLINE", 40);
    v.on_message(
        &format!("spBv1.0/park/DDATA/{}", "n".repeat(65)),
        &payload(Some(0), vec![]),
        40,
    );
    assert_eq!(format!("{:?}", v.plants), before);
    assert_eq!(v.status.dropped, 2);
}

#[test]
fn the_number_of_plants_followed_is_bounded() {
    let mut v = View::default();
    for i in 0..MAX_BOXES + 5 {
        v.on_message(
            &format!("spBv1.0/park/NBIRTH/n{i}"),
            &payload(Some(0), vec![bd_seq(0)]),
            1,
        );
    }
    assert_eq!(v.plants.len(), MAX_BOXES);
    assert_eq!(v.status.dropped, 5);
    // one goes offline: a new plant takes its place
    v.on_message("spBv1.0/park/NDEATH/n7", &payload(None, vec![bd_seq(0)]), 2);
    v.on_message(
        "spBv1.0/park/NBIRTH/new",
        &payload(Some(0), vec![bd_seq(0)]),
        3,
    );
    assert_eq!(v.plants.len(), MAX_BOXES);
    assert!(
        v.plants
            .contains_key(&("park".to_string(), "new".to_string()))
    );
    assert!(
        !v.plants
            .contains_key(&("park".to_string(), "n7".to_string()))
    );
}

#[test]
fn configuration_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let admin = Actor::system("test");
    let bad = |c: Config| save_config(&store, &admin, c).unwrap_err().to_string();
    let on = Config {
        enabled: true,
        host: "broker.park.local".into(),
        ..Config::default()
    };
    assert!(
        bad(Config {
            host: String::new(),
            ..on.clone()
        })
        .contains("host")
    );
    assert!(
        bad(Config {
            groups: vec!["a/b".into()],
            ..on.clone()
        })
        .contains("groups")
    );
    assert!(
        bad(Config {
            groups: vec!["#".into()],
            ..on.clone()
        })
        .contains("groups")
    );
    let saved = save_config(
        &store,
        &admin,
        Config {
            groups: vec![" park ".into(), "".into()],
            ..on
        },
    )
    .unwrap();
    assert_eq!(saved.groups, ["park"]);
    assert_eq!(saved.filters(), ["spBv1.0/park/#"]);
    assert_eq!(Config::default().filters(), ["spBv1.0/+/#"]);
}
