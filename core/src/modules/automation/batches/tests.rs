use super::*;

fn phases(names: &[(&str, i64)]) -> Vec<PhaseRun> {
    let mut v = Vec::new();
    for (n, at) in names {
        enter_phase(&mut v, n, *at);
    }
    v
}

#[test]
fn a_phase_change_closes_the_phase_before_and_the_same_phase_changes_nothing() {
    let mut p = Vec::new();
    assert!(enter_phase(&mut p, "charge", 10));
    assert!(!enter_phase(&mut p, "charge", 20), "the same phase again");
    assert!(enter_phase(&mut p, "heat", 30));
    assert_eq!(p[0].to_ms, Some(30));
    assert_eq!(p[1].to_ms, None);
    close_phases(&mut p, 50);
    assert_eq!(p[1].to_ms, Some(50));
    // after the end a phase opens anew (a restarted phase is its own run)
    assert!(enter_phase(&mut p, "heat", 60));
    assert_eq!(p.len(), 3);
}

#[test]
fn a_phase_tag_names_a_phase_by_its_number_only() {
    let names: Vec<String> = ["idle", "charge", "heat"].map(String::from).to_vec();
    assert_eq!(phase_of(&names, 0.0), Some("idle"));
    assert_eq!(phase_of(&names, 2.0), Some("heat"));
    assert_eq!(phase_of(&names, 3.0), None, "past the list");
    assert_eq!(phase_of(&names, 1.5), None);
    assert_eq!(phase_of(&names, -1.0), None);
    assert_eq!(phase_of(&names, f64::NAN), None);
}

fn running(number: &str, tag: Option<&str>) -> Batch {
    Batch {
        id: 1,
        number: number.into(),
        unit: "R101".into(),
        product: "FG".into(),
        recipe: None,
        state: BatchState::Running,
        trigger: Trigger::Tag,
        tag_number: tag.map(str::to_string),
        started_ms: 0,
        started_by: "x".into(),
        ended_ms: None,
        ended_by: None,
        phases: Vec::new(),
        planned_qty: 0.0,
        issues: Vec::new(),
        output: None,
        samples: Vec::new(),
        note: String::new(),
    }
}

#[test]
fn a_new_batch_number_on_the_tag_starts_a_batch_and_the_same_number_keeps_it() {
    assert_eq!(
        tag_trigger("R101", 1043.0, None),
        TagTrigger::Start("R101-1043".into())
    );
    let b = running("R101-1043", Some("R101-1043"));
    assert_eq!(tag_trigger("R101", 1043.0, Some(&b)), TagTrigger::Keep);
    assert_eq!(
        tag_trigger("R101", 1044.0, Some(&b)),
        TagTrigger::Start("R101-1044".into())
    );
    // a batch renamed after a collision still answers to its tag's number
    let b = running("R101-1043~2", Some("R101-1043"));
    assert_eq!(tag_trigger("R101", 1043.0, Some(&b)), TagTrigger::Keep);
    // an operator ended the tag's batch: the same number does not start it again
    let mut ended = running("R101-1043", Some("R101-1043"));
    ended.state = BatchState::Done;
    assert_eq!(tag_trigger("R101", 1043.0, Some(&ended)), TagTrigger::Keep);
    // no number, a bad value: nothing happens
    assert_eq!(tag_trigger("R101", 0.0, Some(&b)), TagTrigger::Keep);
    assert_eq!(tag_trigger("R101", 12.5, None), TagTrigger::Keep);
}

#[test]
fn per_phase_figures_take_the_samples_inside_each_phase() {
    let p = phases(&[("charge", 0), ("heat", 100), ("react", 200)]);
    let samples: Vec<(i64, f64)> = vec![
        (-5, 99.0), // before the batch (a sample on its start replaces it)
        (0, 20.0),
        (50, 30.0),
        (100, 40.0), // the boundary belongs to the phase it opens
        (150, 60.0),
        (260, 80.0),
    ];
    let st = phase_stats(&p, 300, &samples);
    assert_eq!(
        st[0],
        Some((20.0, 30.0, 25.0, 2)),
        "a value on the start: none carried"
    );
    assert_eq!(st[1], Some((40.0, 60.0, 50.0, 2)));
    // the value in force when react began (60, kept at 150) counts; the open phase runs
    // to the end
    assert_eq!(st[2], Some((60.0, 80.0, 70.0, 2)));
    // a value that held unchanged through a phase still gives its figures
    let st = phase_stats(&p, 300, &[(-50, 7.0)]);
    assert_eq!(st[1], Some((7.0, 7.0, 7.0, 1)));
    let st = phase_stats(&p, 300, &[]);
    assert!(st.iter().all(Option::is_none), "no samples, no figures");
}

#[test]
fn yield_is_output_over_plan() {
    let mut b = running("B1", None);
    assert_eq!(b.yield_pct(), None);
    b.planned_qty = 4000.0;
    b.output = Some(Output {
        lot: 1,
        lot_number: "L1".into(),
        qty: 3900.0,
        unit: "kg".into(),
        movement: 1,
    });
    assert!((b.yield_pct().unwrap() - 97.5).abs() < 1e-9);
}
