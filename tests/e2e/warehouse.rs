//! 仓储物流, the first-party warehouse logistics plugin, on the demo plant: the store keeper
//! receives, puts away, picks and issues by scanning label codes, and the stock moves exactly
//! as the inventory API shows, each movement hers via the plugin; codes that name nothing,
//! and a put-away inventory refuses, are refused with the reason and move nothing. Labels
//! and the store map are drawn by the box; only the scanning pages may run WebAssembly.

use std::time::Instant;

use serde_json::Value;

use crate::common::{Client, Server, eventually};

fn id_of(c: &Client, path: &str, code: &str) -> u64 {
    c.get(path)
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .find(|x| x["code"] == code)
        .unwrap_or_else(|| panic!("{code} not in {path}"))["id"]
        .as_u64()
        .unwrap()
}

/// The stock rows of a material, from the inventory API.
fn rows(c: &Client, material: u64) -> Vec<Value> {
    c.get(&format!("/api/v1/inventory/stock?material={material}"))
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// What the inventory API says a lot holds at each location (location code → qty).
fn lot_at(c: &Client, material: u64, lot: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = rows(c, material)
        .iter()
        .filter(|r| r["lot_number"] == lot && r["qty"].as_f64().unwrap() > 0.0)
        .map(|r| {
            (
                format!(
                    "{}/{}",
                    r["warehouse_code"].as_str().unwrap(),
                    r["location_code"].as_str().unwrap()
                ),
                r["qty"].as_f64().unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Submits a scanning form and answers (status, the page shown next, ms to the answer). A
/// posted movement answers 303 to the page, which then shows the message.
fn scan(c: &Client, op: &str, form: &[(&str, &str)]) -> (u16, String, f64) {
    let t = Instant::now();
    let r = c.submit(&format!("/x/warehouse/{op}/post"), form);
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    match r.header("location") {
        Some(next) if r.status == 303 => (303, c.get(next).body, ms),
        _ => (r.status, r.body, ms),
    }
}

#[test]
fn the_keeper_moves_stock_by_scanning_and_inventory_keeps_its_rules() {
    let s = Server::demo();
    let admin = s.admin_api();
    eventually(30, || admin.plugin_running("warehouse"));
    let mut keeper = s.login("chen.xiaoyan");
    keeper.lang = Some("en");
    let we = id_of(&admin, "/api/v1/inventory/materials", "FG-WE200");

    // the scanning pages offer scan fields, and only they may compile WebAssembly
    let page = keeper.get("/x/warehouse/putaway");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("data-scan"), "{}", page.body);
    assert!(page.body.contains("vendor/zxing-reader"), "{}", page.body);
    let csp = page.header("content-security-policy").unwrap().to_string();
    assert!(
        csp.contains("'wasm-unsafe-eval'") && !csp.contains("'unsafe-eval'"),
        "{csp}"
    );
    let sheet = keeper.get("/x/warehouse/labels?kind=locations&wh=WH-GEN");
    assert!(
        !sheet
            .header("content-security-policy")
            .unwrap()
            .contains("wasm"),
        "no WebAssembly on pages without a scan field"
    );
    let wasm = keeper
        .get(&crate::common::attr(&page.body, "data-zxing-wasm=\"").expect("the reader's .wasm"));
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));

    // receipt: the emulsion's material label, into the receiving area the demo set
    let (status, body, ms_receipt) = scan(
        &keeper,
        "receipt",
        &[
            ("material", "NX:MAT:FG-WE200"),
            ("lot_number", "E2E-WE-1"),
            ("qty", "50"),
            ("to", "NX:LOC:WH-GEN/G-03"),
        ],
    );
    assert_eq!(status, 303, "{body}");
    assert!(body.contains("Received"), "{body}");
    assert_eq!(
        lot_at(&admin, we, "E2E-WE-1"),
        [("WH-GEN/G-03".to_string(), 50.0)]
    );

    // put-away: the lot's label and the shelf's; the lot is in one place, so no "from"
    let (status, body, ms_putaway) = scan(
        &keeper,
        "putaway",
        &[
            ("lot", "NX:LOT:FG-WE200/E2E-WE-1"),
            ("from", ""),
            ("to", "NX:LOC:WH-GEN/G-01"),
            ("qty", ""),
        ],
    );
    assert_eq!(status, 303, "{body}");
    assert_eq!(
        lot_at(&admin, we, "E2E-WE-1"),
        [("WH-GEN/G-01".to_string(), 50.0)]
    );

    // pick 20 to the packing area for shipping, typed as a hand scanner types a printed code
    let (status, body, ms_pick) = scan(
        &keeper,
        "pick",
        &[
            ("lot", "FG-WE200/E2E-WE-1"),
            ("from", "WH-GEN/G-01"),
            ("qty", "20"),
            ("to", "NX:LOC:WH-GEN/G-02"),
            ("reference", "SO-E2E"),
        ],
    );
    assert_eq!(status, 303, "{body}");
    assert_eq!(
        lot_at(&admin, we, "E2E-WE-1"),
        [
            ("WH-GEN/G-01".to_string(), 30.0),
            ("WH-GEN/G-02".to_string(), 20.0)
        ]
    );

    // the lot is now in two places: an issue must say which
    let (status, body, _) = scan(
        &keeper,
        "issue",
        &[
            ("lot", "NX:LOT:FG-WE200/E2E-WE-1"),
            ("from", ""),
            ("qty", "5"),
            ("reference", "B-E2E"),
        ],
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("several locations"), "{body}");
    let (status, body, ms_issue) = scan(
        &keeper,
        "issue",
        &[
            ("lot", "NX:LOT:FG-WE200/E2E-WE-1"),
            ("from", "NX:LOC:WH-GEN/G-02"),
            ("qty", "5"),
            ("reference", "B-E2E"),
        ],
    );
    assert_eq!(status, 303, "{body}");
    assert_eq!(
        lot_at(&admin, we, "E2E-WE-1"),
        [
            ("WH-GEN/G-01".to_string(), 30.0),
            ("WH-GEN/G-02".to_string(), 15.0)
        ]
    );

    // each movement is the keeper's, made through the plugin
    let ledger = admin
        .get(&format!("/api/v1/inventory/movements?material={we}"))
        .json();
    let mut kinds: Vec<&str> = ledger["items"]
        .as_array()
        .or(ledger.as_array())
        .unwrap_or_else(|| panic!("{ledger}"))
        .iter()
        .filter(|m| m["by"] == "user:chen.xiaoyan via plugin:warehouse")
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["issue", "receipt", "transfer", "transfer"],
        "{ledger}"
    );

    // codes that name nothing are refused with the reason, and nothing moves
    let before = lot_at(&admin, we, "E2E-WE-1");
    for (form, why) in [
        (
            [
                ("lot", "NX:LOT:FG-WE200/E2E-WE-1"),
                ("from", "WH-GEN/G-01"),
                ("to", "NX:LOC:WH-GEN/Z-99"),
                ("qty", "1"),
            ],
            "No such location: WH-GEN/Z-99",
        ),
        (
            [
                ("lot", "NX:LOT:FG-WE200/NO-SUCH"),
                ("from", "WH-GEN/G-01"),
                ("to", "NX:LOC:WH-GEN/G-02"),
                ("qty", "1"),
            ],
            "No lot in stock: FG-WE200/NO-SUCH",
        ),
        (
            [
                ("lot", "NX:LOC:WH-GEN/G-01"),
                ("from", ""),
                ("to", "NX:LOC:WH-GEN/G-02"),
                ("qty", "1"),
            ],
            "Not a lot label",
        ),
        (
            [
                ("lot", "NX:LOT:FG-WE200/E2E-WE-1"),
                ("from", "WH-GEN/G-01"),
                ("to", "NX:LOC:WH-GEN/G-02"),
                ("qty", "31"),
            ],
            "Refused by inventory",
        ),
    ] {
        let (status, body, _) = scan(&keeper, "putaway", &form);
        assert_eq!(status, 422, "{form:?}: {body}");
        assert!(body.contains(why), "{why}: {body}");
    }
    assert_eq!(lot_at(&admin, we, "E2E-WE-1"), before);

    // a put-away inventory refuses: toluene (flammable) into the general store
    let tol = id_of(&admin, "/api/v1/inventory/materials", "RM-TOL");
    let lot = rows(&admin, tol)
        .into_iter()
        .find(|r| r["qty"].as_f64().unwrap() > 1.0)
        .expect("toluene in stock");
    let (number, at) = (
        lot["lot_number"].as_str().unwrap().to_string(),
        format!(
            "{}/{}",
            lot["warehouse_code"].as_str().unwrap(),
            lot["location_code"].as_str().unwrap()
        ),
    );
    let tol_before = lot_at(&admin, tol, &number);
    let code = format!("NX:LOT:RM-TOL/{number}");
    let (status, body, _) = scan(
        &keeper,
        "putaway",
        &[
            ("lot", &code),
            ("from", &at),
            ("to", "NX:LOC:WH-GEN/G-01"),
            ("qty", "1"),
        ],
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Refused by inventory"), "{body}");
    assert_eq!(lot_at(&admin, tol, &number), tol_before);

    // a held lot is not picked for shipping (the demo's resin lots wait for the lab)
    let all: Vec<Value> = admin
        .get("/api/v1/inventory/stock")
        .json()
        .as_array()
        .unwrap()
        .clone();
    if let Some(held) = all.iter().find(|r| r["quality"] == "held") {
        let code = format!(
            "NX:LOT:{}/{}",
            held["material_code"].as_str().unwrap(),
            held["lot_number"].as_str().unwrap()
        );
        let from = format!(
            "{}/{}",
            held["warehouse_code"].as_str().unwrap(),
            held["location_code"].as_str().unwrap()
        );
        let (status, body, _) = scan(
            &keeper,
            "pick",
            &[
                ("lot", &code),
                ("from", &from),
                ("qty", "1"),
                ("to", "NX:LOC:WH-GEN/G-02"),
                ("reference", "SO-X"),
            ],
        );
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("Only released lots are picked"), "{body}");
    } else {
        panic!("the demo has a held lot: {all:?}");
    }

    // a picking list from an open sales order: FEFO lots, each a link to the pick page
    let orders = admin.get("/api/v1/inventory/sales-orders").json();
    let open =
        orders
            .as_array()
            .or(orders["items"].as_array())
            .unwrap()
            .iter()
            .find(|o| {
                o["state"] == "approved"
                    && o["lines"].as_array().unwrap().iter().any(|l| {
                        l["qty"].as_f64().unwrap() > l["delivered"].as_f64().unwrap_or(0.0)
                    })
            })
            .cloned()
            .expect("the demo has an open sales order");
    let number = format!("SO-{}", open["id"]);
    let list = keeper.get("/x/warehouse/picklist").body;
    assert!(list.contains(&number), "{number}: {list}");
    let href = crate::common::attr(&list, "href=\"/x/warehouse/pick?")
        .map(|q| format!("/x/warehouse/pick?{}", q.replace("&amp;", "&")))
        .expect("a pick link");
    assert!(href.contains(&format!("reference={number}")), "{href}");
    let pick = keeper.get(&href).body;
    let field = |name: &str| {
        crate::common::attr(&pick, &format!("name=\"{name}\" value=\""))
            .unwrap_or_else(|| panic!("{name} prefilled: {pick}"))
            .replace("&#x2f;", "/")
    };
    let (lot, from, qty) = (field("lot"), field("from"), field("qty"));
    let (status, body, _) = scan(
        &keeper,
        "pick",
        &[
            ("lot", &lot),
            ("from", &from),
            ("qty", &qty),
            ("to", "NX:LOC:WH-GEN/G-02"),
            ("reference", &number),
        ],
    );
    assert_eq!(status, 303, "{lot} {from} {qty}: {body}");
    assert!(body.contains("Picked"), "{body}");

    // labels carry the codes the scans read; the map colours the occupied locations
    let labels = sheet.body;
    assert!(
        labels.contains("NX:LOC:WH-GEN/G-01") && labels.contains("<svg"),
        "{labels}"
    );
    let lots = keeper.get("/x/warehouse/labels?kind=lots&wh=WH-GEN").body;
    assert!(lots.contains("NX:LOT:FG-WE200/E2E-WE-1"), "{lots}");
    let map = keeper.get("/x/warehouse/map?wh=WH-GEN").body;
    assert!(map.contains("class=\"map-area tone-good\""), "{map}");
    assert!(
        map.contains("/x/warehouse/bin?wh=WH-GEN&amp;loc=G-01"),
        "{map}"
    );
    let bin = keeper.get("/x/warehouse/bin?wh=WH-GEN&loc=G-01").body;
    assert!(bin.contains("E2E-WE-1") && bin.contains(">30<"), "{bin}");

    // a person who may only read the module sees the pages but cannot post
    let viewer = s.login("zhou.jianming");
    let (status, _, _) = scan(
        &viewer,
        "putaway",
        &[
            ("lot", "NX:LOT:FG-WE200/E2E-WE-1"),
            ("from", "WH-GEN/G-01"),
            ("to", "NX:LOC:WH-GEN/G-02"),
            ("qty", "1"),
        ],
    );
    assert_eq!(status, 403);
    assert_eq!(lot_at(&admin, we, "E2E-WE-1"), before);

    println!(
        "scan → posted movement, round trip on loopback (ms): receipt {ms_receipt:.1}, put-away {ms_putaway:.1}, pick {ms_pick:.1}, issue {ms_issue:.1}"
    );
}

/// A tag's current value as a whole number, from the tags API.
fn int_tag(c: &Client, name: &str) -> Option<i64> {
    c.get(&format!("/api/v1/tags/{name}")).json()["current"]["value"].as_i64()
}

#[test]
fn an_agv_carries_a_transfer_and_inventory_books_it_when_it_is_done() {
    let s = Server::demo();
    let admin = s.admin_api();
    eventually(30, || admin.plugin_running("warehouse"));
    let mut keeper = s.login("chen.xiaoyan");
    keeper.lang = Some("en");
    let we = id_of(&admin, "/api/v1/inventory/materials", "FG-WE200");
    assert_eq!(int_tag(&admin, "AGV1.STATE"), Some(0), "the AGV is ready");

    // a lot received into the receiving area (station 13), handed to the AGV for the finished
    // goods shelf (station 11)
    let (status, body, _) = scan(
        &keeper,
        "receipt",
        &[
            ("material", "NX:MAT:FG-WE200"),
            ("lot_number", "E2E-AGV-1"),
            ("qty", "30"),
            ("to", "NX:LOC:WH-GEN/G-03"),
        ],
    );
    assert_eq!(status, 303, "{body}");
    let (status, body, _) = scan(
        &keeper,
        "transport",
        &[
            ("lot", "NX:LOT:FG-WE200/E2E-AGV-1"),
            ("from", "NX:LOC:WH-GEN/G-03"),
            ("to", "NX:LOC:WH-GEN/G-01"),
            ("qty", "30"),
        ],
    );
    assert_eq!(status, 303, "{body}");
    assert!(body.contains("Queued T-1"), "{body}");
    // nothing is booked while the load travels
    assert_eq!(
        lot_at(&admin, we, "E2E-AGV-1"),
        [("WH-GEN/G-03".to_string(), 30.0)]
    );

    // the box wrote the stations and the task; the AGV took it
    eventually(20, || int_tag(&admin, "AGV1.CUR") == Some(1));
    assert_eq!(int_tag(&admin, "AGV1.FROM"), Some(13));
    assert_eq!(int_tag(&admin, "AGV1.TO"), Some(11));
    // done: inventory books the transfer under the task's number, and the AGV is cleared
    eventually(60, || {
        lot_at(&admin, we, "E2E-AGV-1") == [("WH-GEN/G-01".to_string(), 30.0)]
    });
    let moves: Value = admin
        .get(&format!(
            "/api/v1/inventory/movements?material={we}&limit=5"
        ))
        .json();
    let m = moves
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["reference"] == "T-1")
        .unwrap_or_else(|| panic!("{moves}"));
    assert_eq!(m["kind"], "transfer");
    // the AGV moved it for the keeper who asked
    let reason = m["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("AGV AGV1 (user:") && reason.contains("via plugin:warehouse"),
        "{m}"
    );
    assert!(
        m["by"].as_str().unwrap().ends_with("plugin:warehouse"),
        "the plugin booked it: {m}"
    );
    eventually(20, || {
        int_tag(&admin, "AGV1.TASK") == Some(0) && int_tag(&admin, "AGV1.STATE") == Some(0)
    });
    let page = keeper.get("/x/warehouse/transport").body;
    assert!(page.contains("done, posted"), "{page}");
    assert!(page.contains(&format!("#{}", m["id"])), "{page}");

    // refused before anything moves: a transfer inventory would refuse (toluene into the
    // general store), a location without a station, the same location twice
    let tol = id_of(&admin, "/api/v1/inventory/materials", "RM-TOL");
    let lot = rows(&admin, tol)
        .into_iter()
        .find(|r| r["location_code"] == "A-01" && r["qty"].as_f64().unwrap() > 1.0)
        .expect("toluene in the hazmat store");
    let number = lot["lot_number"].as_str().unwrap().to_string();
    let code = format!("NX:LOT:RM-TOL/{number}");
    let before = lot_at(&admin, tol, &number);
    for (to, why) in [
        ("NX:LOC:WH-GEN/G-01", "Refused by inventory"),
        ("NX:LOC:WH-OX/D-01", "No AGV station at WH-OX/D-01"),
        ("NX:LOC:WH-HAZ/A-01", "The same location as it leaves"),
    ] {
        let (status, body, _) = scan(
            &keeper,
            "transport",
            &[
                ("lot", &code),
                ("from", "NX:LOC:WH-HAZ/A-01"),
                ("to", to),
                ("qty", "1"),
            ],
        );
        assert_eq!(status, 422, "{to}: {body}");
        assert!(body.contains(why), "{to}: {body}");
    }
    let page = keeper.get("/x/warehouse/transport").body;
    assert!(!page.contains("T-2"), "no task was queued: {page}");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(lot_at(&admin, tol, &number), before);
    assert_eq!(
        int_tag(&admin, "AGV1.TASK"),
        Some(0),
        "nothing handed to the AGV"
    );

    // a finished task is not cancelled
    let r = keeper.submit("/x/warehouse/transport/cancel", &[("task", "1")]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("Only a queued task can be cancelled"),
        "{}",
        r.body
    );
}

#[test]
fn the_running_batch_is_picked_by_its_recipe_and_the_issue_joins_its_record() {
    let s = Server::demo();
    let admin = s.admin_api();
    eventually(30, || admin.plugin_running("warehouse"));
    let mut keeper = s.login("chen.xiaoyan");
    keeper.lang = Some("en");

    // the batch running on R101 and what its recipe's bill of materials still wants
    let batches: Value = admin.get("/api/v1/automation/batches").json();
    let b = batches
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["unit"] == "R101" && b["state"] == "running")
        .expect("a batch runs on R101")
        .clone();
    let number = b["number"].as_str().unwrap().to_string();
    let recipes: Value = admin.get("/api/v1/automation/recipes").json();
    let recipe = recipes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == b["recipe"]["id"])
        .expect("the batch's recipe");
    let tol = recipe["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["material"] == "RM-TOL")
        .expect("toluene in its bill of materials")["qty"]
        .as_f64()
        .unwrap();
    assert!(
        admin
            .get("/automation/recipes")
            .body
            .contains(&format!("RM-TOL {tol:?} kg"))
    );

    // the picking list offers the toluene for the batch, its number as the issue's reference
    let want = format!("qty={tol}&amp;reference={number}");
    let page = keeper.get("/x/warehouse/picklist").body;
    assert!(page.contains(&format!("Batch {number} · R101")), "{page}");
    let link = page
        .split("href=\"")
        .map(|h| h.split('"').next().unwrap())
        .find(|h| h.contains("RM-TOL") && h.contains(&want))
        .unwrap_or_else(|| panic!("no toluene issue for {number}: {page}"))
        .replace("&amp;", "&");
    // the link opens the issue page filled in
    let form = keeper.get(&link).body;
    assert!(form.contains(&format!("value=\"{number}\"")), "{form}");
    let value = |name: &str| {
        crate::common::attr(&form, &format!("name=\"{name}\" value=\""))
            .unwrap_or_default()
            .replace("&#x2f;", "/")
    };
    let (lot, from) = (value("lot"), value("from"));
    assert!(lot.starts_with("NX:LOT:RM-TOL/"), "{form}");

    // issued by scanning: the movement joins the batch's materials
    let (status, body, _) = scan(
        &keeper,
        "issue",
        &[
            ("lot", &lot),
            ("from", &from),
            ("qty", &tol.to_string()),
            ("reference", &number),
        ],
    );
    assert_eq!(status, 303, "{body}");
    let id: u64 = body
        .split("movement #")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{body}"));
    let after: Value = admin.get("/api/v1/automation/batches").json();
    let joined = after
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == b["id"])
        .unwrap()["issues"]
        .as_array()
        .unwrap()
        .contains(&Value::from(id));
    assert!(joined, "movement #{id} in batch {number}'s record");
    // and the picking list no longer asks for toluene for it
    let page = keeper.get("/x/warehouse/picklist").body;
    assert!(
        !page
            .split("href=\"")
            .any(|h| h.contains("RM-TOL") && h.contains(&format!("reference={number}"))),
        "{page}"
    );
}

#[test]
fn a_delivery_is_palletised_one_material_a_pallet_within_the_load_with_labels() {
    let s = Server::demo();
    let admin = s.admin_api();
    eventually(30, || admin.plugin_running("warehouse"));
    let mut keeper = s.login("chen.xiaoyan");
    keeper.lang = Some("en");
    let list = keeper.get("/x/warehouse/picklist").body;
    let href = crate::common::attr(&list, "href=\"/x/warehouse/pallets?")
        .map(|q| format!("/x/warehouse/pallets?{}", q.replace("&amp;", "&")))
        .unwrap_or_else(|| panic!("a pallet plan per order: {list}"));
    let number = href.split("so=").nth(1).unwrap().to_string();
    let kpi = |page: &str, label: &str| -> f64 {
        crate::common::kpi(page, label)
            .parse()
            .unwrap_or_else(|_| panic!("KPI {label} is not a number: {page}"))
    };
    for load in [None, Some("500")] {
        if let Some(kg) = load {
            admin.set_plugin_setting("warehouse", "pallet_kg", kg);
            eventually(30, || admin.plugin_running("warehouse"));
        }
        let page = keeper.get(&href).body;
        let (pallets, total) = (kpi(&page, "Pallets"), kpi(&page, "Total weight (kg)"));
        let max = load.map_or(1000.0, |x| x.parse().unwrap());
        assert!(total > 0.0, "{page}");
        // one material in the demo's order: as few pallets as the load allows
        assert_eq!(
            pallets,
            (total / max).ceil(),
            "{total} kg at {max} kg a pallet"
        );
        for n in 1..=pallets as usize {
            assert!(
                page.contains(&format!("NX:PAL:{number}/{n}")),
                "label {n}: {page}"
            );
        }
        assert!(!page.contains(&format!("NX:PAL:{number}/{}", pallets as usize + 1)));
    }
    // an order that waits for nothing is said so
    let none = keeper.get("/x/warehouse/pallets?so=SO-99999").body;
    assert!(
        none.contains("No sales order waits for delivery as SO-99999"),
        "{none}"
    );
}
