//! 能源管理, the first-party energy plugin, on the demo plant: a simulated meter's figures
//! against a hand calculation (GB/T 2589-2020 standard coal, the grid's CO2 factor), factor
//! versions, the GB 17167 coverage check, refusals, the monthly report as a download and
//! through a DingTalk sink.

use crate::common::{self, Server, eventually};
use serde_json::json;

fn row<'a>(page: &'a str, starts: &str) -> &'a str {
    page.split("<tr>")
        .find(|r| r.contains(starts))
        .unwrap_or("")
}

#[test]
fn a_meter_is_counted_converted_and_reported_as_the_standards_say() {
    let s = Server::demo();
    let mut api = s.admin_api();
    api.lang = Some("en");
    // the demo switched the plugin on with the site's meters
    eventually(30, || api.plugin_running("energy"));
    let page = api.get("/x/energy/overview").body;
    assert!(
        page.contains("EM01.E") && page.contains("Energy today"),
        "{page}"
    );
    // the demo's secondary units have no meters of their own: GB 17167 says so
    assert!(page.contains("Meter coverage below GB 17167"), "{page}");

    // a meter of our own: a manual totaliser tag, read 1,000 then 1,400 kWh
    for tag in [
        json!({"id": 0, "name": "EM90.E", "description_zh": "测试电表", "unit": "kWh",
               "data_type": "float", "source": {"kind": "manual"}, "range_lo": 0.0,
               "range_hi": 1e9, "area": "utilities", "writable": true}),
        json!({"id": 0, "name": "LAB.NOTE", "description_zh": "化验备注", "unit": "",
               "data_type": "string", "source": {"kind": "manual"}, "area": "qc"}),
    ] {
        let r = api.post_json("/api/v1/tags", &tag);
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let write = |v: f64| {
        let r = api.post_json("/api/v1/tags/EM90.E/write", &json!({"value": v}));
        assert!(r.status < 300, "{}", r.body);
    };
    write(1000.0);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    write(1400.0);
    let meter = |id: &str, tag: &str| {
        api.post_form(
            "/x/energy/meters/add_meter",
            &[
                ("id", id),
                ("name", "测试电表"),
                ("medium", "electricity"),
                ("tag", tag),
                ("kind", "totaliser"),
                ("node", "utilities"),
                ("scale", "1"),
            ],
        )
    };
    // refused: a tag that is text, a tag that is not there
    let r = meter("note", "LAB.NOTE");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body
            .contains("LAB.NOTE is a string tag; a meter needs a number"),
        "{}",
        r.body
    );
    let r = meter("nope", "NO.SUCH.TAG");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("There is no tag NO.SUCH.TAG."),
        "{}",
        r.body
    );
    let r = meter("em90", "EM90.E");
    assert_eq!(r.status, 303, "{}", r.body);

    // by hand: 400 kWh × 0.1229 kgce/kWh = 49.16 kgce; × 0.5306 kgCO2/kWh (2023, the
    // latest grid factor) = 212.24 kgCO2
    eventually(20, || {
        row(&api.get("/x/energy/overview").body, "测试电表").contains("400.00")
    });
    let page = api.get("/x/energy/overview").body;
    let r = row(&page, "测试电表");
    assert!(
        r.contains("EM90.E") && r.contains("49.16") && r.contains("212.24"),
        "{r}"
    );
    // the coverage now counts the utilities' electricity
    let m = api.get("/x/energy/meters").body;
    assert!(m.contains("em90"), "{m}");

    // a negative factor is refused, by the form's rule before the plugin sees it
    let current = |page: &str, name: &str| -> String {
        page.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string()
    };
    let f = api.get("/x/energy/factors").body;
    let mut fields: Vec<(String, String)> = [
        "coal_electricity",
        "coal_water",
        "coal_steam",
        "coal_natural_gas",
        "coal_compressed_air",
        "coal_nitrogen",
        "grid_year",
        "grid_factor",
        "gas_co2",
        "heat_co2",
    ]
    .iter()
    .map(|n| (n.to_string(), current(&f, n)))
    .collect();
    assert_eq!(fields[0].1, "0.1229", "{f}");
    let post = |fields: &[(String, String)]| {
        let f: Vec<(&str, &str)> = fields
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        api.post_form("/x/energy/factors/new_factors", &f)
    };
    let today = common::plant_today();
    fields.push(("from".into(), today.clone()));
    fields.push(("note".into(), "合同电价口径".into()));
    let mut bad = fields.clone();
    bad[2].1 = "-1".into();
    let r = post(&bad);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("Must be at least 0."), "{}", r.body);
    // a new version from today: 0.3 kgce/kWh → 400 kWh is 120 kgce; the old one stays
    fields[0].1 = "0.3".into();
    let r = post(&fields);
    assert_eq!(r.status, 303, "{}", r.body);
    let page = api.get("/x/energy/overview").body;
    assert!(
        row(&page, "测试电表").contains("120.00"),
        "{}",
        row(&page, "测试电表")
    );
    let f = api.get("/x/energy/factors").body;
    assert!(
        f.contains("v2 (") && f.contains("合同电价口径") && f.contains("GB/T 2589-2020"),
        "{f}"
    );

    // the monthly report: a workbook to download, and sent through the managers' channel
    let ding_got = api.dingtalk_channel("厂长群");
    api.set_plugin_setting("energy", "report_channels", "厂长群");
    eventually(20, || api.plugin_running("energy"));
    let r = api.post_form("/x/energy/report/excel", &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    let report = api.get("/x/energy/report").body;
    let href = report
        .split("href=\"/x/energy/files/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|f| format!("/x/energy/files/{f}"))
        .unwrap_or_else(|| panic!("a download link: {report}"));
    let file = api.get(&href);
    assert_eq!(file.status, 200);
    assert!(file.bytes.starts_with(b"PK"));
    assert!(row(&report, "测试电表").contains("400.000"), "{report}");
    let r = api.post_form("/x/energy/report/send", &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    eventually(15, || {
        ding_got
            .all()
            .iter()
            .any(|(_, b)| b.contains("能源月报") && b.contains("/x/energy/files/"))
    });
    // the plugin's jobs: baselines hourly, the report on the 1st
    let jobs = api.get("/admin/plugins/energy").body;
    assert!(
        jobs.contains("0 5 * * * *") && jobs.contains("0 30 7 1 * *"),
        "{jobs}"
    );
}
