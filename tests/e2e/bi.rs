//! BI, the first-party business intelligence plugin, on the demo plant: its pivots are the
//! modules' own numbers (the inventory module's pivot API, the permits the safety API lists),
//! a field no collection offers is refused with the fields that are, views are saved and
//! exported to Excel, and the KPI library renders from every module.

use serde_json::Value;

use crate::common::{Client, Server, eventually, kpi, plant_today};

/// `days` days before a plant day `YYYY-MM-DD`.
fn before(day: &str, days: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(day, &fmt).unwrap() - time::Duration::days(days);
    d.format(&fmt).unwrap()
}

fn run(c: &Client, form: &[(&str, &str)]) -> u16 {
    c.post_form("/x/bi/pivot/run", form).status
}

#[test]
fn bi_figures_are_the_modules_own() {
    let s = Server::demo();
    let mut admin = s.admin_api();
    admin.lang = Some("en");
    eventually(30, || admin.plugin_running("bi"));
    let (to, from) = (plant_today(), before(&plant_today(), 300));

    // stock movements by category: the inventory module's own pivot
    assert_eq!(
        run(
            &admin,
            &[
                ("collection", "inventory.movements"),
                ("rows", "category"),
                ("columns", ""),
                ("measures", "sum:value, count"),
                ("from", &from),
                ("to", &to),
            ],
        ),
        303
    );
    let page = admin.get("/x/bi/pivot").body;
    let api: Value = admin
        .get(&format!(
            "/api/v1/inventory/movements/pivot?rows=category&measures=sum:value,count&from={from}&to={to}"
        ))
        .json();
    let total = api["total"][0].as_f64().unwrap();
    assert!(total > 0.0, "the demo has movements: {api}");
    assert_eq!(kpi(&page, "Total"), format!("{total:.2}"));
    assert_eq!(kpi(&page, "Records read"), api["records"].to_string());
    // every group's total, under the category's name (原料, raw material…) rather than its code
    for (i, _) in api["rows"].as_array().unwrap().iter().enumerate() {
        let cell = format!(
            "<td data-label=\"sum:value\" class=\"num\">{:.2}</td>",
            api["row_totals"][i][0].as_f64().unwrap()
        );
        assert!(page.contains(&cell), "{cell}: {page}");
    }
    if api["rows"].to_string().contains("\"raw\"") {
        assert!(page.contains(">raw material</td>"), "{page}");
    }

    // permits by type: as many as the safety module lists in the window
    assert_eq!(
        run(
            &admin,
            &[
                ("collection", "safety.permits"),
                ("rows", "work"),
                ("columns", ""),
                ("measures", "count"),
                ("from", &from),
                ("to", &to),
            ],
        ),
        303
    );
    let page = admin.get("/x/bi/pivot").body;
    let offset = 8 * 3_600_000;
    let day_ms = |d: &str| {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(d, &fmt)
            .unwrap()
            .midnight()
            .assume_utc()
            .unix_timestamp()
            * 1000
            - offset
    };
    let (lo, hi) = (day_ms(&from), day_ms(&to) + 86_400_000);
    let listed = admin
        .get("/api/v1/safety/permits")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["from_ms"].as_i64().is_some_and(|t| (lo..hi).contains(&t)))
        .count();
    assert!(listed > 0, "the demo has permits");
    assert_eq!(kpi(&page, "Total"), listed.to_string());

    // a field the collection does not offer is refused, naming those it does; nothing kept
    let r = admin.post_form(
        "/x/bi/pivot/run",
        &[
            ("collection", "safety.permits"),
            ("rows", "workers_names"),
            ("columns", ""),
            ("measures", "count"),
            ("from", &from),
            ("to", &to),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body
            .contains("no field &quot;workers_names&quot; to pivot on (readable: work, level"),
        "{}",
        r.body
    );
    let r = admin.post_form(
        "/x/bi/pivot/run",
        &[
            ("collection", "safety.permits"),
            ("rows", "work"),
            ("columns", ""),
            ("measures", "sum:work"),
            ("from", &from),
            ("to", &to),
        ],
    );
    assert_eq!(r.status, 422, "a sum of a text: {}", r.body);
    assert_eq!(
        kpi(&admin.get("/x/bi/pivot").body, "Total"),
        listed.to_string()
    );

    // saved, opened again, exported
    assert_eq!(
        admin
            .post_form("/x/bi/pivot/save", &[("name", "permits-e2e")])
            .status,
        303
    );
    let saved = admin.get("/x/bi/pivot?view=permits-e2e").body;
    assert_eq!(kpi(&saved, "Total"), listed.to_string());
    assert!(
        saved.contains("movement-value-by-month"),
        "the demo's views: {saved}"
    );
    assert_eq!(admin.post_form("/x/bi/pivot/excel", &[]).status, 303);
    let page = admin.get("/x/bi/pivot").body;
    let file = crate::common::attr(&page, "href=\"/x/bi/files/")
        .map(|f| format!("/x/bi/files/{f}"))
        .expect("a download link");
    let xlsx = admin.get(&file);
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.body.starts_with("PK"), "an xlsx workbook");

    // the KPI library reads every module
    let k = admin.get("/x/bi/kpis?days=30").body;
    for label in [
        "First-pass yield",
        "Stock value",
        "Turns in the period",
        "Hidden dangers closed on time",
        "Alarm rate",
        "Energy intensity (electricity)",
    ] {
        kpi(&k, label);
    }
    assert!(!k.contains("denied") && !k.contains("invalid"), "{k}");
}
