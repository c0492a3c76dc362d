//! The demo plant's machines: the resin unit with its reactor, agitator, feed pump,
//! compressor, tanks and instruments, with typed parameters, bound tags (the feed pump's
//! bearing wears its vibration up into zone C), spare parts in a store of their own, plans
//! by calendar and by run hours, and work orders in every state.

use std::collections::BTreeMap;

use super::model::{
    Binding, BomLine, Category, Criticality, EqStatus, Equipment, ParamDef, ParamKind, ParamValue,
    Plan, Role, Trigger, VibrationClass, WoKind, WoPriority,
};
use super::rules::{MachineGroup, Mounting};
use super::service::{self as svc, ActionInput, NewOrder, PartInput};
use crate::app::App;
use crate::error::Result;
use crate::modules::inventory::model::{Location, Material, MoveKind, Warehouse};
use crate::modules::inventory::service as inventory;
use crate::store::Actor;

const DAY_MS: i64 = 86_400_000;

fn p(key: &str, name: &str, kind: ParamKind, unit: &str, required: bool) -> ParamDef {
    ParamDef {
        key: key.into(),
        name: name.into(),
        kind,
        unit: unit.into(),
        required,
    }
}

fn n(v: f64) -> ParamValue {
    ParamValue::Number(v)
}

fn s(v: &str) -> ParamValue {
    ParamValue::Text(v.into())
}

fn user(app: &App, name: &str) -> Result<Actor> {
    let u = crate::auth::service::user_by_name(&app.store.read()?, name)?
        .ok_or_else(|| crate::error::Error::not_found("auth.err.user_not_found"))?;
    Ok(Actor::user(u.id, &u.display_name, None))
}

pub fn seed(app: &App) -> Result<()> {
    let demo = Actor::system("demo");
    let store = &app.store;
    let r = store.read()?;
    let dept = |name: &str| -> Result<Option<u64>> {
        Ok(crate::org::service::departments(&r)?
            .into_iter()
            .find(|d| d.name == name)
            .map(|d| d.id))
    };
    let maint = dept("设备动力部")?;
    let prod = dept("生产部")?;
    drop(r);

    // categories: a unit, rotating and static equipment, instruments
    let cat = |code: &str, name: &str, parent: Option<u64>, params: Vec<ParamDef>| {
        svc::save_category(
            store,
            &demo,
            Category {
                id: 0,
                code: code.into(),
                name: name.into(),
                parent,
                params,
            },
        )
        .map(|c| c.id)
    };
    use ParamKind::*;
    let unit = cat("UNIT", "生产装置", None, vec![])?;
    let rotating = cat(
        "ROT",
        "动设备",
        None,
        vec![
            p("rated_power", "额定功率", Number, "kW", true),
            p("speed", "额定转速", Number, "r/min", false),
            p("explosion_proof", "防爆标志", Text, "", false),
        ],
    )?;
    let pump = cat(
        "ROT-PUMP",
        "离心泵",
        Some(rotating),
        vec![
            p("flow", "额定流量", Number, "m³/h", true),
            p("head", "扬程", Number, "m", false),
            p("seal", "密封形式", Text, "", false),
        ],
    )?;
    let agitator = cat(
        "ROT-AGI",
        "搅拌器",
        Some(rotating),
        vec![p("gearbox", "减速机型号", Text, "", false)],
    )?;
    let compressor = cat(
        "ROT-CMP",
        "压缩机",
        Some(rotating),
        vec![p("discharge", "排气压力", Number, "MPa", true)],
    )?;
    let vessel = cat(
        "STA",
        "静设备（压力容器）",
        None,
        vec![
            p("design_pressure", "设计压力", Number, "MPa", true),
            p("design_temperature", "设计温度", Number, "°C", true),
            p("volume", "容积", Number, "m³", true),
            p("register_no", "特种设备使用登记证号", Text, "", false),
            p("next_inspection", "下次定期检验日期", Date, "", false),
        ],
    )?;
    let tank = cat(
        "STA-TANK",
        "常压储罐",
        None,
        vec![
            p("volume", "容积", Number, "m³", true),
            p("medium", "储存介质", Text, "", true),
            p("floating_roof", "内浮顶", Bool, "", false),
        ],
    )?;
    let instrument = cat(
        "INST",
        "仪表",
        None,
        vec![
            p("range", "量程", Text, "", true),
            p("accuracy", "精度等级", Text, "", false),
            p("calibration_due", "检定有效期至", Date, "", false),
        ],
    )?;

    // spare parts: inventory materials in a store of their own
    let sp_wh = inventory::save_warehouse(
        store,
        &demo,
        Warehouse {
            id: 0,
            code: "WH-SP".into(),
            name: "备品备件库".into(),
            hazmat_store: false,
            major_hazard: false,
            custodians: Vec::new(),
            consignee: None,
            address: "机修车间东侧".into(),
        },
    )?;
    let sp_loc = inventory::save_location(
        store,
        &demo,
        Location {
            id: 0,
            warehouse: sp_wh.id,
            code: "SP-01".into(),
            name: "备件货架 1".into(),
            capacity_kg: 0.0,
        },
    )?
    .id;
    let mut parts = BTreeMap::new();
    for (code, name, spec, unit, cost, stock, reorder) in [
        (
            "SP-BRG-6309",
            "深沟球轴承",
            "6309-2Z/C3",
            "套",
            186.0,
            6.0,
            2.0,
        ),
        (
            "SP-SEAL-P101",
            "机械密封",
            "P101 用 集装式 104-45",
            "套",
            2_850.0,
            2.0,
            1.0,
        ),
        (
            "SP-BRG-22320",
            "调心滚子轴承",
            "22320 CC/W33",
            "套",
            1_420.0,
            2.0,
            1.0,
        ),
        ("SP-OIL-220", "齿轮油", "L-CKD 220", "L", 32.0, 120.0, 40.0),
        (
            "SP-GSK-DN80",
            "缠绕垫片",
            "DN80 PN25 304+石墨",
            "片",
            45.0,
            20.0,
            10.0,
        ),
        (
            "SP-VALVE-CMP",
            "压缩机气阀组件",
            "C101 一级排气阀",
            "套",
            3_600.0,
            0.0,
            1.0,
        ),
    ] {
        let m = inventory::save_material(
            store,
            &demo,
            Material {
                id: 0,
                code: code.into(),
                name: name.into(),
                spec: spec.into(),
                category: crate::modules::inventory::model::Category::Spare,
                base_unit: unit.into(),
                units: Vec::new(),
                cas: String::new(),
                ghs: Vec::new(),
                hazmat: false,
                highly_toxic: false,
                precursor_class: 0,
                explosive_precursor: false,
                storage_group: String::new(),
                shelf_life_days: 0,
                safety_stock: reorder,
                reorder_point: reorder,
                max_stock: reorder * 6.0,
                unit_cost: cost,
                list_price: 0.0,
                floor_price: 0.0,
                active: true,
                inspect: false,
            },
        )?;
        if stock > 0.0 {
            crate::modules::inventory::post(
                app,
                &demo,
                inventory::MoveInput {
                    kind: Some(MoveKind::Receipt),
                    material: m.id,
                    lot_number: format!("{code}-2611"),
                    to: Some(sp_loc),
                    qty: stock,
                    reference: "期初备件".into(),
                    ..Default::default()
                },
            )?;
        }
        parts.insert(code, m.id);
    }
    let bom = |lines: &[(&str, f64, &str)]| -> Vec<BomLine> {
        lines
            .iter()
            .map(|(c, q, note)| BomLine {
                material: parts[c],
                qty: *q,
                note: note.to_string(),
            })
            .collect()
    };

    // the ledger
    let site = super::AppSite(app);
    let save = |e: Equipment| svc::save_equipment(store, &demo, e, &site);
    let blank = |tag_no: &str, name: &str, category: u64| Equipment {
        department: maint,
        location: "树脂车间".into(),
        commissioned: Some("2019-06-18".into()),
        ..Equipment::new(tag_no, name, category)
    };
    let bind = |tag: &str, role: Role, point: &str| Binding {
        tag: tag.into(),
        role,
        point: point.into(),
    };
    let u100 = save(Equipment {
        criticality: Criticality::A,
        department: prod,
        location: "树脂车间 一层".into(),
        ..blank("U-100", "丙烯酸树脂装置", unit)
    })?;
    let r101 = save(Equipment {
        criticality: Criticality::A,
        parent: Some(u100.id),
        manufacturer: "无锡化工装备股份有限公司".into(),
        model: "K5000L".into(),
        serial: "WX-R-1906-031".into(),
        params: BTreeMap::from([
            ("design_pressure".into(), n(0.6)),
            ("design_temperature".into(), n(150.0)),
            ("volume".into(), n(5.0)),
            ("register_no".into(), s("容 3ZJ 浙G 0451(19)")),
            ("next_inspection".into(), s("2027-06-17")),
        ]),
        bindings: vec![bind("R101.PT101", Role::Pressure, "釜顶")],
        bom: bom(&[("SP-GSK-DN80", 4.0, "人孔及进料口")]),
        ..blank("R101", "聚合反应釜", vessel)
    })?;
    let agi = save(Equipment {
        criticality: Criticality::A,
        parent: Some(r101.id),
        manufacturer: "江苏泰隆减速机股份有限公司".into(),
        model: "XLD-7.5".into(),
        params: BTreeMap::from([
            ("rated_power".into(), n(22.0)),
            ("speed".into(), n(85.0)),
            ("explosion_proof".into(), s("Ex d IIB T4 Gb")),
            ("gearbox".into(), s("BLD6-29")),
        ]),
        bindings: vec![
            bind("R101.M01.VT", Role::Vibration, "减速机输出轴"),
            bind("R101.M01.IT", Role::MotorCurrent, ""),
        ],
        vibration: VibrationClass {
            group: Some(MachineGroup::Group2),
            mounting: Some(Mounting::Flexible),
            bounds: None,
        },
        bom: bom(&[
            ("SP-BRG-22320", 1.0, "输出轴"),
            ("SP-OIL-220", 18.0, "减速机换油"),
        ]),
        ..blank("R101-M01", "反应釜搅拌器", agitator)
    })?;
    let p101 = save(Equipment {
        criticality: Criticality::A,
        parent: Some(u100.id),
        manufacturer: "浙江大元泵业股份有限公司".into(),
        model: "IHF65-50-160".into(),
        serial: "DY-2019-05532".into(),
        params: BTreeMap::from([
            ("rated_power".into(), n(15.0)),
            ("speed".into(), n(2900.0)),
            ("explosion_proof".into(), s("Ex d IIB T4 Gb")),
            ("flow".into(), n(25.0)),
            ("head".into(), n(32.0)),
            ("seal".into(), s("集装式机械密封")),
        ]),
        bindings: vec![
            bind("P101.VT", Role::Vibration, "驱动端轴承"),
            bind("P101.TT", Role::BearingTemperature, "驱动端轴承"),
            bind("P101.RH", Role::RunHours, ""),
        ],
        vibration: VibrationClass {
            group: Some(MachineGroup::Group2),
            mounting: Some(Mounting::Rigid),
            bounds: None,
        },
        bom: bom(&[
            ("SP-BRG-6309", 2.0, "驱动端、非驱动端"),
            ("SP-SEAL-P101", 1.0, ""),
        ]),
        ..blank("P101", "单体进料泵", pump)
    })?;
    let c101 = save(Equipment {
        criticality: Criticality::B,
        location: "空压站".into(),
        manufacturer: "阿特拉斯·科普柯".into(),
        model: "GA37VSD".into(),
        params: BTreeMap::from([
            ("rated_power".into(), n(37.0)),
            ("discharge".into(), n(0.8)),
        ]),
        vibration: VibrationClass {
            group: Some(MachineGroup::Group2),
            mounting: None,
            bounds: None,
        },
        bom: bom(&[("SP-VALVE-CMP", 1.0, "一级排气阀")]),
        ..blank("C101", "仪表风空压机", compressor)
    })?;
    let tk201 = save(Equipment {
        criticality: Criticality::A,
        location: "罐区".into(),
        params: BTreeMap::from([
            ("volume".into(), n(100.0)),
            ("medium".into(), s("甲苯")),
            ("floating_roof".into(), ParamValue::Bool(true)),
        ]),
        ..blank("TK201", "甲苯储罐", tank)
    })?;
    save(Equipment {
        criticality: Criticality::B,
        location: "罐区".into(),
        params: BTreeMap::from([
            ("volume".into(), n(100.0)),
            ("medium".into(), s("乙酸乙酯")),
            ("floating_roof".into(), ParamValue::Bool(true)),
        ]),
        ..blank("TK202", "乙酸乙酯储罐", tank)
    })?;
    save(Equipment {
        criticality: Criticality::B,
        parent: Some(r101.id),
        manufacturer: "重庆川仪".into(),
        model: "PDS403H".into(),
        params: BTreeMap::from([
            ("range".into(), s("0–1.0 MPa")),
            ("accuracy".into(), s("0.1 级")),
            ("calibration_due".into(), s("2027-03-31")),
        ]),
        ..blank("PT101", "反应釜压力变送器", instrument)
    })?;
    save(Equipment {
        criticality: Criticality::C,
        parent: Some(u100.id),
        status: EqStatus::Standby,
        params: BTreeMap::from([("rated_power".into(), n(15.0)), ("flow".into(), n(25.0))]),
        bom: bom(&[("SP-BRG-6309", 2.0, ""), ("SP-SEAL-P101", 1.0, "")]),
        ..blank("P101B", "单体进料备用泵", pump)
    })?;
    super::condition::state(app).reload();
    documents(app, &demo, &[(p101.id, "P101"), (r101.id, "R101")], maint)?;

    // plans: by calendar and by run hours
    let today = crate::plant_time::today(app.offset);
    let plan = |e: u64,
                title: &str,
                trigger: Trigger,
                tasks: &[&str],
                start: time::Date,
                last_meter: Option<f64>| {
        svc::save_plan(
            store,
            &demo,
            Plan {
                id: 0,
                equipment: e,
                title: title.into(),
                trigger,
                tasks: tasks.iter().map(|t| t.to_string()).collect(),
                priority: WoPriority::Normal,
                needs_permits: Vec::new(),
                lead_days: 3,
                start: Some(crate::plant_time::format_day(start)),
                last_done_ms: None,
                last_meter,
                meter_low_since_ms: None,
                open_order: None,
                active: true,
            },
            today,
        )
    };
    plan(
        agi.id,
        "搅拌器减速机月度润滑保养",
        Trigger::Calendar { every_days: 30 },
        &[
            "检查油位与油质",
            "补加 L-CKD 220 齿轮油",
            "紧固地脚螺栓",
            "记录振动与温度",
        ],
        today + time::Duration::days(6),
        None,
    )?;
    plan(
        r101.id,
        "聚合釜年度内外部检查",
        Trigger::Calendar { every_days: 365 },
        &[
            "安全阀校验",
            "压力表检定",
            "内壁腐蚀检查（需受限空间作业票）",
        ],
        time::macros::date!(2027 - 06 - 01),
        None,
    )?;
    // last overhauled at 10,000 h: due at 12,000 h (the meter reads 11,820 h)
    plan(
        p101.id,
        "进料泵每 2000 运行小时更换轴承",
        Trigger::Meter {
            tag: "P101.RH".into(),
            every: 2000.0,
        },
        &["更换驱动端与非驱动端轴承", "检查机械密封", "对中找正"],
        today,
        Some(10_000.0),
    )?;

    // work orders in every state, some of them weeks ago
    let now_ms = crate::util::now_ms();
    let at = |days_ago: i64| svc::Now {
        ms: now_ms - days_ago * DAY_MS,
        today: today - time::Duration::days(days_ago),
        offset: app.offset,
    };
    let operator = user(app, "li.ming")?;
    let lead = user(app, "xu.guoping")?;
    let tech = user(app, "qian.feng")?;
    let tech_id = tech.id;
    let new = |e: u64, title: &str, desc: &str, pr: WoPriority, stopped: bool, when: svc::Now| {
        svc::create_order(
            store,
            &operator,
            NewOrder {
                equipment: e,
                kind: WoKind::Corrective,
                title: title.into(),
                description: desc.into(),
                priority: pr,
                stopped,
                due: None,
                needs_permits: Vec::new(),
            },
            true,
            Vec::new(),
            when,
        )
    };
    let act = |who: &Actor, id: u64, a: ActionInput, when: svc::Now| {
        svc::act(store, who, id, a, true, &site, when).map(|x| x.order)
    };
    let step = |action: &str| ActionInput {
        action: action.into(),
        ..ActionInput::default()
    };
    let assign = ActionInput {
        action: "assign".into(),
        assignee: Some(tech_id),
        ..ActionInput::default()
    };
    // verified weeks ago: the agitator's bearing, with the part issued from stock
    let o = new(
        agi.id,
        "搅拌器减速机输出轴异响",
        "巡检发现输出轴轴承处有周期性异响，温度偏高。",
        WoPriority::High,
        true,
        at(24),
    )?;
    act(&lead, o.id, assign.clone(), at(24))?;
    act(&tech, o.id, step("start"), at(24))?;
    act(
        &tech,
        o.id,
        ActionInput {
            action: "done".into(),
            report:
                "输出轴调心滚子轴承保持架磨损，已更换 22320 轴承并补油，试车 2 小时振动 2.1 mm/s。"
                    .into(),
            hours: Some(6.5),
            parts: vec![PartInput {
                material: parts["SP-BRG-22320"],
                qty: 1.0,
                ..PartInput::default()
            }],
            ..ActionInput::default()
        },
        at(23),
    )?;
    act(
        &lead,
        o.id,
        ActionInput {
            action: "verify".into(),
            note: "试车正常，同意关闭。".into(),
            ..ActionInput::default()
        },
        at(23),
    )?;
    // done, waiting for the sign-off
    let o = new(
        tk201.id,
        "甲苯储罐液位计显示跳变",
        "DCS 上 TK201 液位在 60%–75% 之间跳变。",
        WoPriority::Normal,
        false,
        at(3),
    )?;
    act(&lead, o.id, assign.clone(), at(3))?;
    act(&tech, o.id, step("start"), at(2))?;
    act(
        &tech,
        o.id,
        ActionInput {
            action: "done".into(),
            report: "雷达液位计天线结露，清理并加装防冷凝罩后显示稳定。".into(),
            hours: Some(2.0),
            ..ActionInput::default()
        },
        at(2),
    )?;
    // waiting for parts: the compressor's valve is not in stock
    let o = new(
        c101.id,
        "空压机排气温度高停机",
        "C101 排气温度 112 ℃ 联锁停机，已切换备用气源。",
        WoPriority::Urgent,
        true,
        at(1),
    )?;
    act(&lead, o.id, assign.clone(), at(1))?;
    act(&tech, o.id, step("start"), at(1))?;
    act(
        &tech,
        o.id,
        ActionInput {
            action: "labour".into(),
            hours: Some(3.0),
            note: "拆检一级排气阀，阀片断裂。".into(),
            ..ActionInput::default()
        },
        at(1),
    )?;
    act(&tech, o.id, step("wait_parts"), at(1))?;
    // in progress
    let o = new(
        p101.id,
        "进料泵机械密封轻微渗漏",
        "P101 机封处每分钟约 3 滴渗漏。",
        WoPriority::Normal,
        false,
        at(1),
    )?;
    act(&lead, o.id, assign.clone(), at(1))?;
    act(&tech, o.id, step("start"), at(0))?;
    // assigned
    let o = new(
        r101.id,
        "反应釜人孔垫片更换",
        "上次开盖后人孔垫片压痕明显，下次停车时更换。",
        WoPriority::Low,
        false,
        at(2),
    )?;
    act(&lead, o.id, assign, at(2))?;
    // open: reported this morning
    new(
        tk201.id,
        "罐区呼吸阀冬季防冻检查",
        "夜间气温低于 0 ℃，需检查呼吸阀是否冻结。",
        WoPriority::Normal,
        false,
        at(0),
    )?;
    // cancelled: a duplicate report
    let o = new(
        agi.id,
        "搅拌器异响（重复报修）",
        "",
        WoPriority::Normal,
        false,
        at(24),
    )?;
    act(
        &lead,
        o.id,
        ActionInput {
            action: "cancel".into(),
            note: "与前一工单重复。".into(),
            ..ActionInput::default()
        },
        at(24),
    )?;
    rounds(
        app,
        &demo,
        &operator,
        prod,
        [p101.id, c101.id, r101.id, agi.id],
    )
}

/// Inspection routes the production department walks: the pump house every shift (walked
/// twice, the first round finding the compressor's oil low, which opened a work order), the
/// reactor once a day.
fn rounds(
    app: &App,
    demo: &Actor,
    operator: &Actor,
    department: Option<u64>,
    [p101, c101, r101, agi]: [u64; 4],
) -> Result<()> {
    use super::model::{Answer, CheckKind, CheckPoint, InspectionRoute};
    use svc::inspection as insp;
    let store = &app.store;
    let p101b = svc::by_tag_no(&store.read()?, "P101B")?.map_or(p101, |e| e.id);
    let look = |equipment: u64, item: &str| CheckPoint {
        equipment,
        item: item.into(),
        check: CheckKind::Look,
    };
    let reading =
        |equipment: u64, item: &str, unit: &str, lo: Option<f64>, hi: Option<f64>| CheckPoint {
            equipment,
            item: item.into(),
            check: CheckKind::Reading {
                unit: unit.into(),
                lo,
                hi,
            },
        };
    let route = |name: &str, every_hours: u32, points: Vec<CheckPoint>, made_ms: i64| {
        insp::save_route(
            store,
            demo,
            InspectionRoute {
                id: 0,
                name: name.into(),
                department,
                every_hours,
                points,
                active: true,
                made_ms: 0,
                rev: 0,
                last_round_ms: None,
            },
            made_ms,
        )
    };
    let now_ms = crate::util::now_ms();
    let at = |hours_ago: i64| svc::Now {
        ms: now_ms - hours_ago * 3_600_000,
        today: crate::plant_time::today(app.offset),
        offset: app.offset,
    };
    let pumps = route(
        "泵房班检",
        8,
        vec![
            look(p101, "机械密封无泄漏"),
            reading(p101, "出口压力", "MPa", Some(0.25), Some(0.45)),
            reading(p101, "轴承温度（测温枪）", "℃", None, Some(70.0)),
            look(p101, "地脚螺栓、联轴器护罩完好"),
            look(p101b, "备用泵盘车灵活"),
            reading(c101, "排气压力", "MPa", Some(0.6), Some(0.85)),
            look(c101, "油位在视镜 1/2–2/3"),
            look(c101, "无异响、无漏油"),
        ],
        at(72).ms,
    )?;
    let reactor = route(
        "聚合釜日检",
        24,
        vec![
            reading(r101, "釜压（就地表）", "MPa", None, Some(0.5)),
            look(r101, "人孔、法兰无泄漏"),
            look(agi, "减速机无异响"),
            reading(agi, "减速机油温", "℃", None, Some(80.0)),
        ],
        at(72).ms,
    )?;
    let ok = || Answer {
        ok: Some(true),
        ..Answer::default()
    };
    let value = |v: f64| Answer {
        value: Some(v),
        ..Answer::default()
    };
    let low_oil = Answer {
        ok: Some(false),
        note: "油位低于视镜 1/3，已通知加油".into(),
        ..Answer::default()
    };
    let walked = |answers| insp::RoundInput { answers, rev: None };
    let pump_round = |c101_oil: Answer| {
        vec![
            ok(),
            value(0.36),
            value(48.0),
            ok(),
            ok(),
            value(0.72),
            c101_oil,
            ok(),
        ]
    };
    insp::record_round(
        store,
        operator,
        pumps.id,
        walked(pump_round(low_oil)),
        false,
        at(30),
    )?;
    let answers = vec![value(0.12), ok(), ok(), value(55.0)];
    insp::record_round(store, operator, reactor.id, walked(answers), false, at(10))?;
    insp::record_round(
        store,
        operator,
        pumps.id,
        walked(pump_round(ok())),
        false,
        at(6),
    )?;
    Ok(())
}

/// A one-page PDF with a line of text, as a scanned manual stands in for.
fn pdf(line: &str) -> Vec<u8> {
    let content = format!("BT /F1 14 Tf 72 720 Td ({line}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Manuals, a drawing the maintenance department keeps to itself, and the reactor's
/// inspection certificates (one due within its warning days).
fn documents(app: &App, demo: &Actor, eq: &[(u64, &str)], maint: Option<u64>) -> Result<()> {
    use super::model::DocKind;
    use super::service::documents::{DocInput, Viewer, save_document};
    let today = crate::plant_time::today(app.offset);
    let day = |d: i64| crate::plant_time::format_day(today + time::Duration::days(d));
    let all = Viewer {
        approver: true,
        ..Viewer::default()
    };
    let id = |tag: &str| {
        eq.iter()
            .find(|(_, t)| *t == tag)
            .map(|(id, _)| *id)
            .unwrap_or(0)
    };
    let now = crate::util::now_ms();
    for (e, kind, title, number, due, depts, file) in [
        (
            id("P101"),
            DocKind::Manual,
            "IHF 氟塑料离心泵使用说明书",
            "DY-IHF-2019",
            None,
            vec![],
            (
                "IHF65-50-160-manual.pdf",
                pdf("IHF65-50-160 operation manual"),
            ),
        ),
        (
            id("P101"),
            DocKind::Drawing,
            "P101 机械密封装配图",
            "DWG-P101-02",
            None,
            maint.into_iter().collect(),
            ("P101-seal.pdf", pdf("P101 mechanical seal assembly")),
        ),
        (
            id("R101"),
            DocKind::Certificate,
            "聚合釜压力容器定期检验报告",
            "浙特检 2025-0451",
            Some(day(200)),
            vec![],
            (
                "R101-inspection.pdf",
                pdf("R101 periodic inspection report"),
            ),
        ),
        (
            id("R101"),
            DocKind::Certificate,
            "R101 釜顶安全阀校验证书",
            "AQF-2025-1187",
            Some(day(18)),
            vec![],
            ("R101-PSV.pdf", pdf("R101 safety valve test certificate")),
        ),
    ] {
        save_document(
            &app.store,
            demo,
            e,
            DocInput {
                id: 0,
                kind: Some(kind),
                title: title.into(),
                number: number.into(),
                due,
                warn_days: Some(30),
                departments: depts,
                roles: Vec::new(),
                note: "初始归档".into(),
            },
            Some((file.0.to_string(), file.1)),
            &all,
            now,
        )?;
    }
    Ok(())
}
