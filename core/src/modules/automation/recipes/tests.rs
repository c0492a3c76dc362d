use super::*;
use crate::store::tests::temp_store;
use crate::tags::model::{DataType, Source};

fn tags() -> Vec<Tag> {
    let mut sp = crate::tags::service::blank_tag("R101.TIC101.SP", DataType::Float, Source::Manual);
    sp.id = 1;
    sp.writable = true;
    sp.range_lo = Some(60.0);
    sp.range_hi = Some(110.0);
    let mut hold = crate::tags::service::blank_tag("R101.HOLD.SP", DataType::Int, Source::Manual);
    hold.id = 2;
    hold.writable = true;
    hold.range_lo = Some(5.0);
    hold.range_hi = Some(240.0);
    let mut pv = crate::tags::service::blank_tag("R101.TT101", DataType::Float, Source::Manual);
    pv.id = 3;
    vec![sp, hold, pv]
}

fn input(params: &[(&str, f64)]) -> RecipeInput {
    RecipeInput {
        code: "PA-101@R101".into(),
        name: "丙烯酸树脂 PA-101".into(),
        product: "FG-PA101".into(),
        unit: "R101".into(),
        params: params
            .iter()
            .map(|(t, v)| ParamInput {
                tag: (*t).into(),
                value: *v,
                note: String::new(),
            })
            .collect(),
        materials: Vec::new(),
        note: String::new(),
    }
}

/// The unit recipes run on.
fn unit(store: &Store) {
    crate::modules::automation::batches::test_unit(store, "R101");
}

fn make(store: &Store, who: &str, params: &[(&str, f64)]) -> Result<Recipe> {
    let t = tags();
    create(
        store,
        &Actor::user(7, who, None),
        input(params),
        &|n| t.iter().find(|x| x.name == n).cloned(),
        &|c| c == "FG-PA101",
        1_000,
    )
}

fn field_key(e: &Error) -> (&'static str, String) {
    match e {
        Error::Invalid { field, msg } => (field, msg.key.to_string()),
        other => ("", other.msg().key.to_string()),
    }
}

#[test]
fn a_recipe_names_writable_tags_with_values_of_their_type_inside_their_range() {
    let (_d, store) = temp_store();
    // a unit the box does not know is refused
    let e = make(&store, "author", &[("R101.TIC101.SP", 88.0)]).unwrap_err();
    assert_eq!(field_key(&e).0, "unit");
    unit(&store);
    let ok = make(
        &store,
        "author",
        &[("R101.TIC101.SP", 88.0), ("R101.HOLD.SP", 30.0)],
    )
    .unwrap();
    assert_eq!((ok.version, ok.state), (1, RecipeState::Draft));
    assert_eq!(ok.params[0].tag_id, 1);
    // each refusal names the parameter
    for (params, key) in [
        (vec![("R101.NOPE", 1.0)], "automation.recipe.err.tag"),
        (vec![("R101.TT101", 80.0)], "automation.recipe.err.param"),
        (
            vec![("R101.TIC101.SP", 130.0)],
            "automation.recipe.err.param",
        ),
        (vec![("R101.HOLD.SP", 12.5)], "automation.recipe.err.param"),
        (
            vec![("R101.TIC101.SP", 80.0), ("R101.TIC101.SP", 81.0)],
            "automation.recipe.err.twice",
        ),
        (vec![], "automation.recipe.err.params"),
    ] {
        let e = make(&store, "author", &params).unwrap_err();
        assert_eq!(field_key(&e), ("params", key.to_string()), "{params:?}");
    }
    let t = tags();
    let mut bad = input(&[("R101.TIC101.SP", 80.0)]);
    bad.product = "FG-NONE".into();
    let e = create(
        &store,
        &Actor::system("t"),
        bad,
        &|n| t.iter().find(|x| x.name == n).cloned(),
        &|c| c == "FG-PA101",
        1,
    )
    .unwrap_err();
    assert_eq!(field_key(&e).0, "product");
}

#[test]
fn versions_are_drafted_approved_by_another_person_and_supersede_the_one_before() {
    let (_d, store) = temp_store();
    unit(&store);
    let v1 = make(&store, "author", &[("R101.TIC101.SP", 85.0)]).unwrap();
    // a second version while the first is still a draft: change the draft instead
    let e = make(&store, "author", &[("R101.TIC101.SP", 86.0)]).unwrap_err();
    assert_eq!(e.msg().key, "automation.recipe.err.draft_exists");
    // not by its author
    let e = approve(&store, &Actor::user(7, "author", None), v1.id, 2).unwrap_err();
    assert_eq!(e.msg().key, "automation.recipe.err.own");
    // nor by someone who changed the draft (the author stays the author)
    let t = tags();
    let edited = update(
        &store,
        &Actor::user(9, "editor", None),
        v1.id,
        input(&[("R101.TIC101.SP", 86.0)]),
        &|n| t.iter().find(|x| x.name == n).cloned(),
        &|_| true,
        2,
    )
    .unwrap();
    assert_eq!(
        (edited.made_by.as_str(), edited.edited_by.clone()),
        ("author", vec!["editor".to_string()])
    );
    let e = approve(&store, &Actor::user(9, "editor", None), v1.id, 2).unwrap_err();
    assert_eq!(e.msg().key, "automation.recipe.err.own");
    let a1 = approve(&store, &Actor::user(8, "lead", None), v1.id, 2).unwrap();
    assert_eq!(a1.state, RecipeState::Approved);
    assert_eq!(a1.approved_by.as_deref(), Some("lead"));
    // an approved version does not change
    let t = tags();
    let e = update(
        &store,
        &Actor::user(7, "author", None),
        v1.id,
        input(&[("R101.TIC101.SP", 90.0)]),
        &|n| t.iter().find(|x| x.name == n).cloned(),
        &|_| true,
        3,
    )
    .unwrap_err();
    assert_eq!(e.msg().key, "automation.recipe.err.not_draft");
    // version 2, approved, supersedes version 1
    let v2 = make(&store, "author", &[("R101.TIC101.SP", 90.0)]).unwrap();
    assert_eq!(v2.version, 2);
    approve(&store, &Actor::user(8, "lead", None), v2.id, 4).unwrap();
    let r = store.read().unwrap();
    assert_eq!(recipe(&r, v1.id).unwrap().state, RecipeState::Superseded);
    assert_eq!(approved(&r, "PA-101@R101").unwrap().unwrap().version, 2);
}

#[test]
fn a_download_report_names_what_differed() {
    let d = Download {
        id: 1,
        recipe: 1,
        code: "X".into(),
        version: 1,
        unit: "R101".into(),
        by: "op".into(),
        at_ms: 0,
        results: vec![
            ParamResult {
                tag: "A".into(),
                wanted: 1.0,
                before: Some(0.0),
                after: Some(1.0),
                ok: true,
                error: None,
            },
            ParamResult {
                tag: "B".into(),
                wanted: 2.0,
                before: Some(0.0),
                after: Some(1.5),
                ok: false,
                error: Some("read back 1.5".into()),
            },
        ],
        ok: false,
    };
    let differed: Vec<&str> = d.differed().map(|p| p.tag.as_str()).collect();
    assert_eq!(differed, ["B"]);
}

#[test]
fn a_bill_of_materials_names_known_materials_once_in_units_they_convert_from() {
    use crate::modules::inventory::{fixtures, service as inv};
    let (_d, store) = temp_store();
    unit(&store);
    let mut tol = fixtures::toluene();
    tol.id = 0;
    inv::save_material(&store, &Actor::system("test"), tol).unwrap();
    let t = tags();
    let with = |materials: &[(&str, f64, &str)]| {
        let mut i = input(&[("R101.TIC101.SP", 85.0)]);
        i.materials = materials
            .iter()
            .map(|(m, q, u)| IngredientInput {
                material: (*m).into(),
                qty: *q,
                unit: (*u).into(),
            })
            .collect();
        create(
            &store,
            &Actor::user(7, "author", None),
            i,
            &|n| t.iter().find(|x| x.name == n).cloned(),
            &|c| c == "FG-PA101",
            1_000,
        )
    };
    // two drums of toluene: kept in kilograms, the material's base unit
    let r = with(&[("RM-TOL", 2.0, "桶")]).unwrap();
    assert_eq!(
        r.materials,
        [Ingredient {
            material: "RM-TOL".into(),
            qty: 340.0,
            unit: "kg".into()
        }]
    );
    let before = store.read().unwrap().count(&RECIPES).unwrap();
    for (materials, key) in [
        (vec![("RM-NONE", 1.0, "")], "automation.recipe.err.product"),
        (
            vec![("RM-TOL", 0.0, "")],
            "automation.recipe.err.material_qty",
        ),
        (
            vec![("RM-TOL", 1.0, "L")],
            "automation.recipe.err.material_qty",
        ),
        (
            vec![("RM-TOL", 1.0, ""), ("RM-TOL", 2.0, "")],
            "automation.recipe.err.material_twice",
        ),
    ] {
        let e = with(&materials).unwrap_err();
        assert_eq!(
            field_key(&e),
            ("materials", key.to_string()),
            "{materials:?}"
        );
    }
    assert_eq!(
        store.read().unwrap().count(&RECIPES).unwrap(),
        before,
        "nothing saved"
    );
}
