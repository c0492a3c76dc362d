//! 可视化管理, the first-party boards plugin, on the demo plant: the boards show what the
//! modules say (alarms, work orders), an admin's arrangement and widget choice are checked
//! and kept, and the daily report is a workbook that reaches a DingTalk sink.

use crate::common::{self, Server, eventually, kpi};
use serde_json::json;

/// A widget's place on the page's board: `x,y,w,h`.
fn place(page: &str, id: &str) -> Option<String> {
    let tag = page.split(&format!("data-widget=\"{id}\"")).nth(1)?;
    let attr = |a: &str| -> Option<String> {
        tag.split(&format!("data-{a}=\""))
            .nth(1)?
            .split('"')
            .next()
            .map(String::from)
    };
    Some(format!(
        "{},{},{},{}",
        attr("x")?,
        attr("y")?,
        attr("w")?,
        attr("h")?
    ))
}

#[test]
fn the_boards_show_the_plant_as_its_modules_do_and_the_daily_report_reaches_the_managers() {
    let s = Server::demo();
    let mut api = s.admin_api();
    api.lang = Some("en");
    eventually(30, || api.plugin_running("boards"));

    // the plant board: every default widget, each module readable
    let page = api.get("/x/boards/overall").body;
    for w in [
        "permits",
        "people",
        "hazards",
        "alarms",
        "output",
        "oee",
        "energy_today",
        "equipment_states",
        "alarm_list",
        "batches",
        "movements",
        "quality",
    ] {
        assert!(
            page.contains(&format!("data-widget=\"{w}\"")),
            "{w}: {page}"
        );
    }
    assert!(
        !page.contains("may not read") && !page.contains("invalid:"),
        "{page}"
    );
    assert!(page.contains("EM01.E") && page.contains("R101"), "{page}");

    // the alarm figures are the alarm system's
    eventually(20, || {
        let alarms = api.get("/api/v1/alarms").json();
        let unack = alarms["items"]
            .as_array()
            .or(alarms.as_array())
            .map_or(0, |l| {
                l.iter()
                    .filter(|a| a["state"] == "unack" || a["state"] == "rtn_unack")
                    .count()
            });
        kpi(&api.get("/x/boards/overall").body, "Unacknowledged") == unack.to_string()
    });

    // a work order opened in the equipment module shows on the equipment board
    let open = |api: &common::Client| -> u64 {
        kpi(&api.get("/x/boards/equipment").body, "Open")
            .parse()
            .unwrap()
    };
    let before = open(&api);
    let pump = api.get("/api/v1/equipment?q=P101").json()["items"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["tag_no"] == "P101"))
        .map(|e| e["id"].clone())
        .expect("the demo's P101");
    let r = api.post_json(
        "/api/v1/equipment/work-orders",
        &json!({"equipment": pump, "title": "机封泄漏", "priority": "urgent"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    eventually(10, || open(&api) == before + 1);

    // an admin drags the alarm list to the top left: kept, the others flow round it
    let r = api.post_form(
        "/x/boards/overall/arrange",
        &[("alarm_list", "0,0,6,4"), ("permits", "6,0,3,2")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = api.get("/x/boards/overall").body;
    assert_eq!(place(&page, "alarm_list").as_deref(), Some("0,0,6,4"));
    assert_eq!(place(&page, "permits").as_deref(), Some("6,0,3,2"));
    // refused, nothing changed: an overlap, a place off the grid, a widget not on the board
    for (fields, why) in [
        (
            vec![("alarm_list", "0,0,6,4"), ("permits", "5,0,3,2")],
            "overlaps widget alarm_list",
        ),
        (vec![("permits", "11,0,3,2")], "off the board&#x27;s grid"),
        (vec![("faults", "0,10,6,3")], "no such widget on this board"),
    ] {
        let r = api.post_form("/x/boards/overall/arrange", &fields);
        assert_eq!(r.status, 422, "{fields:?}: {}", r.body);
        assert!(r.body.contains(why), "{why}: {}", r.body);
    }
    let page = api.get("/x/boards/overall").body;
    assert_eq!(place(&page, "permits").as_deref(), Some("6,0,3,2"));
    // the wall screen: the board alone, in the dark theme
    let wall = api.get("/x/boards/overall?wall=1").body;
    assert!(wall.contains("dark wall") && wall.contains("data-widget=\"alarm_list\""));

    // the widget choice: the energy board gets the gauges; a widget that does not exist is
    // refused by the box (the form's choices)
    let all: Vec<&str> = vec!["energy_today", "gauge-R101_TT101", "gauge-R101_M01_VT"];
    let joined = all.join(",");
    fn form(energy: &str) -> Vec<(&'static str, &str)> {
        vec![
            ("widgets_overall", "permits,alarm_list,people"),
            ("widgets_equipment", "equipment_states,faults"),
            ("widgets_energy", energy),
            ("widgets_operations", "output,batches"),
        ]
    }
    let r = api.post_form("/x/boards/setup/choose", &form("energy_today,bogus"));
    assert_eq!(r.status, 422, "{}", r.body);
    let r = api.post_form("/x/boards/setup/choose", &form(&joined));
    assert_eq!(r.status, 303, "{}", r.body);
    let page = api.get("/x/boards/energy").body;
    for w in &all {
        assert!(
            page.contains(&format!("data-widget=\"{w}\"")),
            "{w}: {page}"
        );
    }
    assert!(!page.contains("data-widget=\"output\""));
    assert!(page.contains("data-plugin-gauge"), "{page}");

    // the daily report: to the managers' DingTalk group, a workbook with the day's figures
    let ding_got = api.dingtalk_channel("厂长群");
    api.set_plugin_setting("boards", "report_channels", "厂长群");
    eventually(20, || api.plugin_running("boards"));
    let r = api.post_form("/x/boards/reports/send_daily", &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    eventually(15, || {
        ding_got
            .all()
            .iter()
            .any(|(_, b)| b.contains("生产日报") && b.contains("/x/boards/files/"))
    });
    let reports = api.get("/x/boards/reports").body;
    let href = reports
        .split("href=\"/x/boards/files/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|f| format!("/x/boards/files/{f}"))
        .unwrap_or_else(|| panic!("a download link: {reports}"));
    let file = api.get(&href);
    assert_eq!(file.status, 200);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(file.bytes)).expect("an xlsx");
    let names = wb.sheet_names();
    for sheet in ["概要", "批次", "作业票", "报警", "工单", "出入库", "能源"] {
        assert!(names.iter().any(|n| n == sheet), "{sheet}: {names:?}");
    }
    let summary = wb.worksheet_range("概要").unwrap();
    let items: Vec<String> = summary.rows().map(|r| r[0].to_string()).collect();
    for item in [
        "完成批次",
        "作业票（计划期与本期重叠，已批准）",
        "报警次数",
        "新建工单",
        "能耗 EM01.E",
    ] {
        assert!(items.iter().any(|i| i == item), "{item}: {items:?}");
    }
    // settings a board cannot work with keep the plugin stopped, with the reason
    let state = |api: &common::Client| -> (String, String) {
        let l = api.get("/api/v1/plugins").json();
        let p = l
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "boards")
            .unwrap();
        (
            p["stats"]["state"].as_str().unwrap_or("").to_string(),
            p["stats"]["detail"].to_string(),
        )
    };
    let good = api
        .get("/api/v1/plugins")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "boards")
        .unwrap()["settings"]["gauges"]
        .as_str()
        .unwrap()
        .to_string();
    for (gauges, why) in [
        ("NOPE.PV|0|10", "gauges: NOPE.PV: no such tag"),
        (
            "R101.TT101|150|0",
            "gauges: R101.TT101: min must be below max",
        ),
        (
            "R101.TT101|0",
            "gauges: \\\"R101.TT101|0\\\" is TAG|min|max",
        ),
    ] {
        api.set_plugin_setting("boards", "gauges", gauges);
        eventually(20, || {
            let (st, detail) = state(&api);
            st == "failed" && detail.contains(why)
        });
    }
    api.set_plugin_setting("boards", "gauges", &good);
    eventually(20, || api.plugin_running("boards"));

    // the jobs the admin's settings name
    let admin = api.get("/admin/plugins/boards").body;
    assert!(
        admin.contains("0 7 * * *") && admin.contains("30 7 * * 1"),
        "{admin}"
    );
}
