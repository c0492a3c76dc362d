//! The digital twin, the first-party plugin joining the modules on the plant layout, on the
//! demo plant: its zones, equipment, permits at work, alarms and people are the modules' own
//! records, each links to its record, equipment is placed by an engineer (and refused when
//! the ledger does not know it), and it shows only what it was granted.

use serde_json::{Value, json};

use crate::common::{Client, Server, eventually, kpi};

fn plant(c: &Client) -> String {
    let r = c.get("/x/twin/plant");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// The marker linking to `href`: its hint and its circle's centre.
fn marker(page: &str, href: &str) -> Option<(String, String)> {
    let rest = page
        .split(&format!("<a href=\"{href}\"><g class=\"map-marker"))
        .nth(1)?;
    let hint = rest
        .split("<title>")
        .nth(1)?
        .split("</title>")
        .next()?
        .to_string();
    let circle = rest
        .split("<circle ")
        .nth(1)?
        .split('/')
        .next()?
        .to_string();
    Some((hint, circle))
}

/// The API's equipment id of a tag number.
fn equipment_id(c: &Client, tag_no: &str) -> u64 {
    let list: Value = c.get("/api/v1/equipment").json();
    list["items"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["tag_no"] == tag_no))
        .and_then(|e| e["id"].as_u64())
        .unwrap_or_else(|| panic!("no equipment {tag_no}: {list}"))
}

#[test]
fn the_twin_shows_the_plant_as_the_modules_know_it() {
    let s = Server::demo();
    let mut admin = s.admin_api();
    admin.lang = Some("en");
    eventually(30, || admin.plugin_running("twin"));
    let page = plant(&admin);

    // drawn on the safety module's plant layout, each zone linking to its twin page
    assert!(
        page.contains("<image href=\"/x/twin/map/layout?v="),
        "{page}"
    );
    let zones: Value = admin.get("/api/v1/safety/zones").json();
    let zones = zones.as_array().unwrap();
    assert!(zones.len() >= 7, "{zones:?}");
    for z in zones {
        let link = format!(
            "<a href=\"/x/twin/zone?id={}\"><g class=\"map-area",
            z["id"]
        );
        assert!(page.contains(&link), "{link}");
        assert!(page.contains(&format!(">{}</text>", z["name"].as_str().unwrap())));
    }

    // R101 where the demo placed it (80, 222 m on a 300 m high layout: y runs down on the
    // map), linking to its ledger record, with the batch the automation module runs on it
    let r101 = equipment_id(&admin, "R101");
    eventually(20, || {
        let page = plant(&admin);
        let Some((hint, circle)) = marker(&page, &format!("/equipment/{r101}")) else {
            return false;
        };
        assert!(circle.contains("cx=\"80.0\" cy=\"78.0\""), "{circle}");
        let batches: Value = admin.get("/api/v1/automation/batches").json();
        let running = batches
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["unit"] == "R101" && b["state"] == "running")
            .map(|b| b["number"].as_str().unwrap().to_string());
        // a key value is a measurement with its unit (the reactor's temperature), not a set-point
        hint.contains("R101.TT101 ")
            && hint.contains(" °C")
            && !hint.contains(".SP ")
            && running.is_some_and(|n| hint.contains(&format!("batch {n}")))
    });
    // the agitator sits beside R101 (it is part of it); the tanks in the tank farm their
    // ledger location names
    let m01 = marker(
        &page,
        &format!("/equipment/{}", equipment_id(&admin, "R101-M01")),
    );
    assert!(
        m01.is_some_and(|(h, _)| h.contains("R101.M01.VT")),
        "{page}"
    );
    assert!(page.contains("<td>TK201</td>"), "{page}");

    // every permit at work, linked, and counted
    // on site: at work or suspended (the demo's confined-space entry stopped on a failed gas
    // analysis)
    let mut working: Vec<Value> = Vec::new();
    for stage in ["working", "suspended"] {
        let l: Value = admin
            .get(&format!("/api/v1/safety/permits?stage={stage}"))
            .json();
        working.extend(l.as_array().unwrap().iter().cloned());
    }
    assert!(!working.is_empty(), "the demo has permits at work");
    assert_eq!(
        kpi(&page, "Permits on site (incl. suspended)"),
        working.len().to_string()
    );
    for p in &working {
        assert!(
            page.contains(&format!("href=\"/safety/permits/{}\"", p["id"])),
            "{p}"
        );
        assert!(page.contains(&format!("<td>{}</td>", p["number"].as_str().unwrap())));
    }

    // the people the positioning system sees, each linking to their record
    eventually(20, || {
        let page = plant(&admin);
        let live: Value = admin.get("/api/v1/safety/positions").json();
        let people = live["people"].as_array().unwrap();
        !people.is_empty()
            && kpi(&page, "People located") == people.len().to_string()
            && people
                .iter()
                .all(|p| page.contains(&format!("href=\"/safety/people/{}\"", p["person"])))
    });

    // standing alarms: as many as the alarm list has on the operators' screen
    eventually(20, || {
        let page = plant(&admin);
        let alarms: Value = admin.get("/api/v1/alarms").json();
        let shown = alarms
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| {
                !["shelved", "suppressed", "out_of_service"].contains(&a["state"].as_str().unwrap())
            })
            .count();
        kpi(&page, "Alarms (of which urgent/high)").starts_with(&format!("{shown} ("))
    });

    // a zone's page: the polymerisation hall with its permits and equipment, not the tank farm's
    let hall = zones.iter().find(|z| z["name"] == "聚合车间").unwrap()["id"].clone();
    let zone = admin.get(&format!("/x/twin/zone?id={hall}"));
    assert_eq!(zone.status, 200);
    assert!(zone.body.contains("Zone · 聚合车间"), "{}", zone.body);
    assert!(zone.body.contains(&format!("/equipment/{r101}")));
    assert!(!zone.body.contains("<td>TK201</td>"), "{}", zone.body);
    let in_hall: Vec<&Value> = working
        .iter()
        .filter(|p| {
            let (x, y) = (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap());
            (30.0..=150.0).contains(&x) && (170.0..=260.0).contains(&y)
        })
        .collect();
    assert_eq!(
        kpi(&zone.body, "Permits on site (incl. suspended)"),
        in_hall.len().to_string()
    );
    let nowhere = admin.get("/x/twin/zone?id=99999");
    assert!(nowhere.body.contains("No such zone."), "{}", nowhere.body);
}

#[test]
fn equipment_is_placed_by_tag_number_and_the_twin_shows_only_what_it_was_granted() {
    let s = Server::demo();
    let mut admin = s.admin_api();
    admin.lang = Some("en");
    eventually(30, || admin.plugin_running("twin"));
    let c101 = equipment_id(&admin, "C101");

    // C101's ledger location (空压站) is no zone: not on the map until placed
    let places = admin.get("/x/twin/places").body;
    assert!(places.contains(">C101</td>"), "{places}");
    // placed by hand in the switch room (160–185 × 180–210 m)
    let r = admin.post_form(
        "/x/twin/places/place",
        &[("tag_no", "c101"), ("x", "170"), ("y", "195")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let places = admin.get("/x/twin/places").body;
    let row = places
        .split(">C101</td>")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        row.contains("placed by hand") && row.contains("配电室"),
        "{row}"
    );
    let (_, circle) =
        marker(&plant(&admin), &format!("/equipment/{c101}")).expect("C101 on the map");
    assert!(circle.contains("cx=\"170.0\" cy=\"105.0\""), "{circle}");

    // refused, and nothing changes: a tag number the ledger does not know, a place off the layout
    let r = admin.post_form(
        "/x/twin/places/place",
        &[("tag_no", "X-999"), ("x", "10"), ("y", "10")],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("No equipment with this tag number: X-999"),
        "{}",
        r.body
    );
    let r = admin.post_form(
        "/x/twin/places/place",
        &[("tag_no", "C101"), ("x", "450"), ("y", "10")],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let (_, circle) = marker(&plant(&admin), &format!("/equipment/{c101}")).unwrap();
    assert!(circle.contains("cx=\"170.0\" cy=\"105.0\""), "{circle}");

    // the place removed: off the map again
    let r = admin.post_form("/x/twin/places/unplace", &[("tag_no", "C101")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(marker(&plant(&admin), &format!("/equipment/{c101}")).is_none());

    // without the equipment records, live values and positions the twin draws no equipment
    // and no people, and says why
    let p = admin
        .get("/api/v1/plugins")
        .json()
        .as_array()
        .and_then(|l| l.iter().find(|p| p["id"] == "twin").cloned())
        .unwrap();
    let grants: Vec<Value> = p["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| {
            !["records.equipment", "tags.read", "records.positions"].contains(&g.as_str().unwrap())
        })
        .cloned()
        .collect();
    let r = admin.put_json(
        "/api/v1/plugins/twin/settings",
        &json!({"settings": p["settings"], "grants": grants}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(30, || admin.plugin_running("twin"));
    let page = plant(&admin);
    assert!(page.contains("Not on the view (not granted"), "{page}");
    assert!(page.contains("equipment: denied"), "{page}");
    for tag_no in ["R101", "P101", "TK201"] {
        let href = format!("/equipment/{}", equipment_id(&admin, tag_no));
        assert!(marker(&page, &href).is_none(), "{tag_no}: {page}");
    }
    // nor the people (where named people are is a grant of its own), nor does it call
    // anything normal it could not check
    assert!(!page.contains("href=\"/safety/people/"), "{page}");
    assert_eq!(kpi(&page, "People located"), "—");
    // the rest is still there
    assert!(page.contains("href=\"/safety/permits/"), "{page}");
    // and the denied reads are audited as the plugin's
    let audit: Value = admin
        .get("/api/v1/audit?action=plugins.plugin.denied")
        .json();
    assert!(audit.to_string().contains("records.equipment"), "{audit}");
}
