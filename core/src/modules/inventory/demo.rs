//! The demo plant's stores: raw materials of an acrylic resin plant (toluene and sulfuric
//! acid are 易制毒 class 3, dimethyl sulfate is 剧毒, ammonium persulfate an oxidizer),
//! finished resins, a dedicated hazardous-chemical store with two custodians beside the
//! general store, suppliers and customers (one with an expired licence, one near its credit
//! limit), and three months of receipts, issues and deliveries posted through the same
//! service as the console, on the days they happened.

use time::Duration;

use super::model::*;
use super::service::{self as svc, MoveInput, Posting, orders};
use crate::app::App;
use crate::error::Result;
use crate::store::Actor;

struct Mat {
    code: &'static str,
    name: &'static str,
    spec: &'static str,
    category: Category,
    unit: &'static str,
    pack: Option<(&'static str, f64)>,
    cas: &'static str,
    ghs: &'static [&'static str],
    group: &'static str,
    flags: (bool, bool, u8, bool),
    shelf: u32,
    stock: (f64, f64, f64),
    cost: f64,
}

const H: (bool, bool, u8, bool) = (true, false, 0, false);
const PLAIN: (bool, bool, u8, bool) = (false, false, 0, false);

const MATERIALS: &[Mat] = &[
    Mat {
        code: "RM-TOL",
        name: "甲苯",
        spec: "工业级 ≥99.5%",
        category: Category::Raw,
        unit: "kg",
        pack: Some(("桶", 170.0)),
        cas: "108-88-3",
        ghs: &["flam_liq_2", "repr_2", "stot_re_2"],
        group: "flammable_liquid",
        flags: (true, false, 3, false),
        shelf: 720,
        stock: (2000.0, 4000.0, 30_000.0),
        cost: 6.8,
    },
    Mat {
        code: "RM-EAC",
        name: "乙酸乙酯",
        spec: "≥99.7%",
        category: Category::Raw,
        unit: "kg",
        pack: Some(("桶", 180.0)),
        cas: "141-78-6",
        ghs: &["flam_liq_2", "eye_irrit_2"],
        group: "flammable_liquid",
        flags: H,
        shelf: 720,
        stock: (1500.0, 3000.0, 20_000.0),
        cost: 7.2,
    },
    Mat {
        code: "RM-BA",
        name: "丙烯酸丁酯",
        spec: "≥99.5% 含阻聚剂",
        category: Category::Raw,
        unit: "kg",
        pack: Some(("桶", 180.0)),
        cas: "141-32-2",
        ghs: &["flam_liq_3", "skin_sens_1"],
        group: "flammable_liquid",
        flags: H,
        shelf: 180,
        stock: (3000.0, 6000.0, 40_000.0),
        cost: 9.6,
    },
    Mat {
        code: "RM-MMA",
        name: "甲基丙烯酸甲酯",
        spec: "≥99.8%",
        category: Category::Raw,
        unit: "kg",
        pack: Some(("桶", 180.0)),
        cas: "80-62-6",
        ghs: &["flam_liq_2", "skin_sens_1"],
        group: "flammable_liquid",
        flags: H,
        shelf: 180,
        stock: (2000.0, 4000.0, 30_000.0),
        cost: 11.0,
    },
    Mat {
        code: "RM-AA",
        name: "丙烯酸",
        spec: "≥99.5%",
        category: Category::Raw,
        unit: "kg",
        pack: Some(("桶", 200.0)),
        cas: "79-10-7",
        ghs: &["flam_liq_3", "skin_corr_1a"],
        group: "acid",
        flags: H,
        shelf: 180,
        stock: (500.0, 1000.0, 8000.0),
        cost: 8.4,
    },
    Mat {
        code: "RM-H2SO4",
        name: "硫酸",
        spec: "98%",
        category: Category::Auxiliary,
        unit: "kg",
        pack: Some(("桶", 250.0)),
        cas: "7664-93-9",
        ghs: &["skin_corr_1a"],
        group: "acid",
        flags: (true, false, 3, false),
        shelf: 0,
        stock: (200.0, 500.0, 3000.0),
        cost: 0.9,
    },
    Mat {
        code: "RM-APS",
        name: "过硫酸铵",
        spec: "≥98% 引发剂",
        category: Category::Auxiliary,
        unit: "kg",
        pack: Some(("袋", 25.0)),
        cas: "7727-54-0",
        ghs: &["ox_sol_3", "resp_sens_1"],
        group: "oxidizer",
        flags: H,
        shelf: 365,
        stock: (50.0, 100.0, 1000.0),
        cost: 12.5,
    },
    Mat {
        code: "RM-DMS",
        name: "硫酸二甲酯",
        spec: "≥99% 甲基化剂",
        category: Category::Raw,
        unit: "kg",
        pack: Some(("桶", 250.0)),
        cas: "77-78-1",
        ghs: &["acute_tox_2", "carc_1b", "skin_corr_1b"],
        group: "toxic",
        flags: (true, true, 0, false),
        shelf: 365,
        stock: (0.0, 0.0, 1000.0),
        cost: 15.0,
    },
    Mat {
        code: "RM-NAOH",
        name: "氢氧化钠溶液",
        spec: "32%",
        category: Category::Auxiliary,
        unit: "kg",
        pack: None,
        cas: "1310-73-2",
        ghs: &["skin_corr_1a"],
        group: "base",
        flags: H,
        shelf: 0,
        stock: (300.0, 600.0, 5000.0),
        cost: 1.2,
    },
    Mat {
        code: "FG-AR100",
        name: "丙烯酸树脂 AR-100",
        spec: "固含 50% 二甲苯/醋酸丁酯",
        category: Category::Product,
        unit: "kg",
        pack: Some(("桶", 200.0)),
        cas: "",
        ghs: &["flam_liq_3"],
        group: "flammable_liquid",
        flags: H,
        shelf: 365,
        stock: (2000.0, 0.0, 40_000.0),
        cost: 16.0,
    },
    Mat {
        code: "FG-WE200",
        name: "水性丙烯酸乳液 WE-200",
        spec: "固含 45%",
        category: Category::Product,
        unit: "kg",
        pack: Some(("IBC", 1000.0)),
        cas: "",
        ghs: &[],
        group: "",
        flags: PLAIN,
        shelf: 270,
        stock: (5000.0, 0.0, 60_000.0),
        cost: 9.0,
    },
    Mat {
        code: "PK-DRUM",
        name: "200L 开口钢桶",
        spec: "带内涂",
        category: Category::Packaging,
        unit: "个",
        pack: None,
        cas: "",
        ghs: &[],
        group: "",
        flags: PLAIN,
        shelf: 0,
        stock: (100.0, 200.0, 2000.0),
        cost: 95.0,
    },
];

fn user_id(app: &App, name: &str) -> Result<u64> {
    Ok(
        crate::auth::service::user_by_name(&app.store.read()?, name)?
            .map(|u| u.id)
            .unwrap_or(0),
    )
}

pub fn seed(app: &App) -> Result<()> {
    let actor = Actor::system("demo");
    let store = &app.store;
    let mut ids = std::collections::HashMap::new();
    for m in MATERIALS {
        let (hazmat, highly_toxic, precursor_class, explosive_precursor) = m.flags;
        let saved = svc::save_material(
            store,
            &actor,
            Material {
                id: 0,
                code: m.code.into(),
                name: m.name.into(),
                spec: m.spec.into(),
                category: m.category,
                base_unit: m.unit.into(),
                units: m
                    .pack
                    .iter()
                    .map(|(u, f)| UnitConv {
                        unit: u.to_string(),
                        factor: *f,
                    })
                    .collect(),
                cas: m.cas.into(),
                ghs: m.ghs.iter().map(|s| s.to_string()).collect(),
                hazmat,
                highly_toxic,
                precursor_class,
                explosive_precursor,
                storage_group: m.group.into(),
                shelf_life_days: m.shelf,
                safety_stock: m.stock.0,
                reorder_point: m.stock.1,
                max_stock: m.stock.2,
                unit_cost: m.cost,
                list_price: (m.cost * 135.0).round() / 100.0,
                floor_price: (m.cost * 110.0).round() / 100.0,
                active: true,
                // the acrylic monomers are checked on arrival (purity, inhibitor, colour)
                inspect: matches!(m.code, "RM-BA" | "RM-MMA" | "RM-AA"),
            },
        )?;
        ids.insert(m.code, saved.id);
    }
    let keepers = [user_id(app, "chen.xiaoyan")?, user_id(app, "zhao.min")?];
    let haz = svc::save_warehouse(
        store,
        &actor,
        Warehouse {
            id: 0,
            code: "WH-HAZ".into(),
            name: "甲类危化品库".into(),
            hazmat_store: true,
            major_hazard: false,
            custodians: keepers.iter().copied().filter(|u| *u > 0).collect(),
            consignee: None,
            address: "厂区东北角 3 号库".into(),
        },
    )?;
    let general = svc::save_warehouse(
        store,
        &actor,
        Warehouse {
            id: 0,
            code: "WH-GEN".into(),
            name: "原料及成品库".into(),
            hazmat_store: false,
            major_hazard: false,
            custodians: keepers.iter().copied().filter(|u| *u > 0).take(1).collect(),
            consignee: None,
            address: "厂区北侧 1 号库".into(),
        },
    )?;
    let loc = |wh: &Warehouse, code: &str, name: &str, cap: f64| {
        svc::save_location(
            store,
            &actor,
            Location {
                id: 0,
                warehouse: wh.id,
                code: code.into(),
                name: name.into(),
                capacity_kg: cap,
            },
        )
    };
    let l_flam = loc(&haz, "A-01", "易燃液体间", 60_000.0)?.id;
    let l_corr = loc(&haz, "B-01", "腐蚀品间 (酸)", 10_000.0)?.id;
    let l_base = loc(&haz, "B-02", "腐蚀品间 (碱)", 10_000.0)?.id;
    let l_toxic = loc(&haz, "C-01", "剧毒品专柜 (双人双锁)", 2_000.0)?.id;
    let l_fg = loc(&haz, "A-02", "成品 (溶剂型)", 60_000.0)?.id;
    // the oxidizer has a store of its own: it may not share one with flammable liquids
    // (GB 15603)
    let ox = svc::save_warehouse(
        store,
        &actor,
        Warehouse {
            id: 0,
            code: "WH-OX".into(),
            name: "氧化剂库".into(),
            hazmat_store: true,
            major_hazard: false,
            custodians: keepers.iter().copied().filter(|u| *u > 0).collect(),
            consignee: None,
            address: "厂区东北角 4 号库".into(),
        },
    )?;
    let l_ox = loc(&ox, "D-01", "氧化剂专间", 2_000.0)?.id;
    let l_gen = loc(&general, "G-01", "成品 (水性)", 100_000.0)?.id;
    let l_pack = loc(&general, "G-02", "包装物", 0.0)?.id;
    let _ = loc(&general, "G-03", "待检区", 20_000.0)?;

    let partner =
        |code: &str, name: &str, role, credit_code: &str, licences: Vec<Licence>, limit: f64| {
            svc::save_partner(
                store,
                &actor,
                Partner {
                    id: 0,
                    code: code.into(),
                    name: name.into(),
                    role,
                    credit_code: credit_code.into(),
                    address: match code {
                        "S-001" => "浙江省杭州市上城区钱江路 1366 号",
                        "S-002" => "上海市浦东新区浦东北路 2031 号",
                        "C-001" => "浙江省金华市婺城区新兴街 88 号",
                        "C-002" => "浙江省衢州市柯城区白云南大道 18 号",
                        _ => "浙江省兰溪市兰江街道振兴路 6 号",
                    }
                    .into(),
                    licences,
                    credit_limit: limit,
                    credit_policy: CreditPolicy::Approve,
                    payment_days: 30,
                    contacts: vec![Contact {
                        name: "业务经理".into(),
                        phone: "0579-88880000".into(),
                    }],
                    // the packaging customer buys the emulsion at a contract price
                    prices: match code {
                        "C-003" => vec![PartnerPrice {
                            material: ids["FG-WE200"],
                            price: 11.8,
                            floor: 11.5,
                        }],
                        _ => vec![],
                    },
                },
            )
        };
    let lic = |kind, number: &str, expires: &str| Licence {
        kind,
        number: number.into(),
        expires: expires.into(),
    };
    let today = crate::plant_time::today(app.offset);
    let day = |d: i64| crate::plant_time::format_day(today + Duration::days(d));
    let sup1 = partner(
        "S-001",
        "浙江恒源化工贸易有限公司",
        PartnerRole::Supplier,
        "91330100MA27XK1B2U",
        vec![lic(
            LicenceKind::HazTrade,
            "浙杭安经字〔2024〕000318",
            &day(400),
        )],
        0.0,
    )?;
    let sup2 = partner(
        "S-002",
        "上海华谊丙烯酸有限公司",
        PartnerRole::Supplier,
        "91310000607228337K",
        vec![lic(
            LicenceKind::HazProduction,
            "(沪)WH安许证字〔2023〕0112",
            &day(600),
        )],
        0.0,
    )?;
    let c1 = partner(
        "C-001",
        "金华市新锐涂料有限公司",
        PartnerRole::Customer,
        "91330701MA2DB3XU9Y",
        vec![
            lic(LicenceKind::HazTrade, "浙金安经字〔2023〕000077", &day(200)),
            lic(
                LicenceKind::PrecursorPurchase,
                "(浙)3J33070100231",
                &day(120),
            ),
        ],
        300_000.0,
    )?;
    let _c2 = partner(
        "C-002",
        "衢州三友建材有限公司",
        PartnerRole::Customer,
        "91330800MA29U5TC7Y",
        vec![
            lic(LicenceKind::HazTrade, "浙衢安经字〔2021〕000045", &day(-12)),
            lic(
                LicenceKind::PrecursorPurchase,
                "(浙)3J33080000117",
                &day(-12),
            ),
        ],
        100_000.0,
    )?;
    let c3 = partner(
        "C-003",
        "兰溪市永兴包装材料有限公司",
        PartnerRole::Customer,
        "91330781MA2E9B5F4K",
        vec![],
        60_000.0,
    )?;
    let _ = sup2;

    // three months of stock, posted on the days they happened: purchase orders received
    // by lot, weekly issues to the reactors, the batches' resin sold to customers
    let keeper = crate::auth::service::user_by_name(&store.read()?, "chen.xiaoyan")?;
    let second = crate::auth::service::user_by_name(&store.read()?, "zhao.min")?;
    let manager = crate::auth::service::user_by_name(&store.read()?, "zhang.jianguo")?
        .map(|u| Actor::user(u.id, &u.username, None))
        .unwrap_or_else(|| Actor::system("demo-approver"));
    let now = crate::util::now_ms();
    let at = |days_ago: i64, hour: i64| {
        let day = today - Duration::days(days_ago);
        Posting {
            // at the hour of that day, but never later than now
            now_ms: (crate::plant_time::day_start(day, app.offset) + hour * 3_600_000).min(now),
            today: day,
            quality_on: false,
        }
    };
    let mv =
        |kind, code: &str, lot: Option<u64>, number: &str, from, to, qty: f64, reference: &str| {
            MoveInput {
                kind: Some(kind),
                material: ids[code],
                lot,
                lot_number: number.into(),
                supplier: None,
                from,
                to,
                qty,
                reference: reference.into(),
                ..Default::default()
            }
        };
    // a purchase order, approved by the manager when it needs it, received as one lot
    let buy = |code: &str,
               number: &str,
               to: u64,
               qty: f64,
               days_ago: i64,
               supplier: u64,
               price: f64|
     -> Result<u64> {
        let po = orders::create_po(
            store,
            &actor,
            orders::PoInput {
                supplier,
                lines: vec![orders::LineInput {
                    material: ids[code],
                    qty,
                    unit: String::new(),
                    price: Some(price),
                }],
                requisitions: vec![],
                note: String::new(),
            },
            at(days_ago + 5, 10),
        )?;
        if po.state == OrderState::Pending {
            orders::po_act(
                store,
                &manager,
                po.id,
                orders::PoAction::Approve,
                true,
                at(days_ago + 4, 11),
            )?;
        }
        let (_, posted) = orders::po_act(
            store,
            &actor,
            po.id,
            orders::PoAction::Receive {
                lines: vec![orders::ReceiveLine {
                    line: 0,
                    qty,
                    unit: String::new(),
                    lot_number: number.into(),
                    supplier_lot: format!("S{number}"),
                    expires: None,
                    to,
                }],
            },
            true,
            at(days_ago, 9),
        )?;
        Ok(posted[0].lot.id)
    };
    let recv = |code: &str,
                number: &str,
                to: u64,
                qty: f64,
                days_ago: i64,
                supplier: u64|
     -> Result<u64> {
        let m = MATERIALS
            .iter()
            .find(|m| m.code == code)
            .map_or(1.0, |m| m.cost);
        buy(code, number, to, qty, days_ago, supplier, m)
    };
    // a sales order at the list price, delivered from one lot, paid or not yet
    let sell = |customer: u64,
                code: &str,
                lot: u64,
                from: u64,
                qty: f64,
                days_ago: i64,
                paid: bool,
                handler: Option<(&str, &str, &str)>|
     -> Result<()> {
        let (handler, end_use) = match handler {
            Some((name, id, end_use)) => (
                Handler {
                    name: name.into(),
                    id_number: id.into(),
                },
                end_use.to_string(),
            ),
            None => (Handler::default(), String::new()),
        };
        let so = orders::create_so(
            store,
            &actor,
            orders::SoInput {
                customer,
                kind: SalesKind::Standard,
                lines: vec![orders::LineInput {
                    material: ids[code],
                    qty,
                    unit: String::new(),
                    price: None,
                }],
                end_use,
                handler,
                ship_to: String::new(),
                strategy: None,
            },
            at(days_ago + 2, 10),
        )?;
        if so.state == OrderState::Pending {
            orders::so_act(
                store,
                &manager,
                so.id,
                orders::SoAction::Approve,
                true,
                at(days_ago + 1, 11),
            )?;
        }
        let (so, _) = orders::so_act(
            store,
            &actor,
            so.id,
            orders::SoAction::Deliver {
                lines: vec![orders::DeliverLine {
                    line: 0,
                    qty,
                    picks: Some(vec![orders::Pick {
                        lot,
                        location: from,
                        qty,
                    }]),
                    to: None,
                    lot: None,
                }],
            },
            true,
            at(days_ago, 15),
        )?;
        if paid {
            orders::so_act(
                store,
                &actor,
                so.id,
                orders::SoAction::Pay {
                    amount: so.delivered_amount,
                },
                true,
                at(days_ago.saturating_sub(20).max(1), 10),
            )?;
        }
        Ok(())
    };
    let out = |kind,
               code: &str,
               lot: u64,
               from: u64,
               qty: f64,
               days_ago: i64,
               reference: &str|
     -> Result<()> {
        svc::post(
            store,
            &actor,
            mv(kind, code, Some(lot), "", Some(from), None, qty, reference),
            at(days_ago, 14),
        )?;
        Ok(())
    };
    // monthly receipts of the monomers and solvents (butyl acrylate dearer in the third
    // month: a price alert), weekly issues to the reactors
    let mut batch = 0;
    for (month, days_ago) in [(1, 88_i64), (2, 58), (3, 28)] {
        let tol = recv(
            "RM-TOL",
            &format!("TOL2609{month}"),
            l_flam,
            6800.0,
            days_ago,
            sup1.id,
        )?;
        let eac = recv(
            "RM-EAC",
            &format!("EAC2609{month}"),
            l_flam,
            3600.0,
            days_ago,
            sup1.id,
        )?;
        let ba_price = if month == 3 { 11.2 } else { 9.6 };
        let ba = buy(
            "RM-BA",
            &format!("BA2609{month}"),
            l_flam,
            9000.0,
            days_ago,
            sup2.id,
            ba_price,
        )?;
        let mma = recv(
            "RM-MMA",
            &format!("MMA2609{month}"),
            l_flam,
            5400.0,
            days_ago,
            sup2.id,
        )?;
        let aa = recv(
            "RM-AA",
            &format!("AA2609{month}"),
            l_corr,
            1000.0,
            days_ago - 1,
            sup2.id,
        )?;
        for week in 0..4 {
            let d = days_ago - 3 - week * 7;
            if d < 1 {
                break;
            }
            batch += 1;
            let reference = format!("B-{batch:04}");
            out(
                MoveKind::Issue,
                "RM-TOL",
                tol,
                l_flam,
                1500.0,
                d,
                &reference,
            )?;
            out(MoveKind::Issue, "RM-EAC", eac, l_flam, 720.0, d, &reference)?;
            out(MoveKind::Issue, "RM-BA", ba, l_flam, 2160.0, d, &reference)?;
            out(
                MoveKind::Issue,
                "RM-MMA",
                mma,
                l_flam,
                1260.0,
                d,
                &reference,
            )?;
            out(MoveKind::Issue, "RM-AA", aa, l_corr, 200.0, d, &reference)?;
            // what the batch made
            let mut i = mv(
                MoveKind::Receipt,
                "FG-AR100",
                None,
                &format!("AR{batch:04}"),
                None,
                Some(l_fg),
                5000.0,
                &reference,
            );
            i.reason = "生产入库".into();
            let fg = svc::post(store, &actor, i, at(d - 1, 10))?.lot.id;
            if d > 4 {
                // paid within the terms, but for the last month's orders
                sell(c1.id, "FG-AR100", fg, l_fg, 3600.0, d - 3, d > 30, None)?;
            }
        }
        // toluene resold to a paint maker: an 易制毒 class 3 sale, in the register
        if days_ago > 30 {
            sell(
                c1.id,
                "RM-TOL",
                tol,
                l_flam,
                170.0,
                days_ago - 10,
                true,
                Some(("王强", "330781198503120012", "涂料稀释剂")),
            )?;
        }
    }
    let h2so4 = recv("RM-H2SO4", "SA260901", l_corr, 1000.0, 80, sup1.id)?;
    out(
        MoveKind::Issue,
        "RM-H2SO4",
        h2so4,
        l_corr,
        250.0,
        40,
        "中和",
    )?;
    recv("RM-NAOH", "NA260901", l_base, 2000.0, 70, sup1.id)?;
    recv("RM-APS", "APS260901", l_ox, 400.0, 75, sup1.id)?;
    let we = recv("FG-WE200", "WE260901", l_gen, 8000.0, 120, sup2.id)?; // slow-moving
    // an order waiting to be picked and delivered (the warehouse plugin's picking list)
    let open = orders::create_so(
        store,
        &actor,
        orders::SoInput {
            customer: c3.id,
            kind: SalesKind::Standard,
            lines: vec![orders::LineInput {
                material: ids["FG-WE200"],
                qty: 1500.0,
                unit: String::new(),
                price: None,
            }],
            end_use: String::new(),
            handler: Handler::default(),
            ship_to: "兰溪市永兴包装 二号仓库".into(),
            strategy: None,
        },
        at(1, 9),
    )?;
    if open.state == OrderState::Pending {
        orders::so_act(
            store,
            &manager,
            open.id,
            orders::SoAction::Approve,
            true,
            at(1, 10),
        )?;
    }
    // three IBCs on consignment at the packaging customer, one of them used and invoiced
    let so = orders::create_so(
        store,
        &actor,
        orders::SoInput {
            customer: c3.id,
            kind: SalesKind::Consignment,
            lines: vec![orders::LineInput {
                material: ids["FG-WE200"],
                qty: 3.0,
                unit: "IBC".into(),
                price: None,
            }],
            end_use: String::new(),
            handler: Handler::default(),
            ship_to: String::new(),
            strategy: None,
        },
        at(32, 10),
    )?;
    if so.state == OrderState::Pending {
        orders::so_act(
            store,
            &manager,
            so.id,
            orders::SoAction::Approve,
            true,
            at(31, 11),
        )?;
    }
    orders::so_act(
        store,
        &actor,
        so.id,
        orders::SoAction::Deliver {
            lines: vec![orders::DeliverLine {
                line: 0,
                qty: 3000.0,
                picks: Some(vec![orders::Pick {
                    lot: we,
                    location: l_gen,
                    qty: 3000.0,
                }]),
                to: None,
                lot: None,
            }],
        },
        true,
        at(30, 15),
    )?;
    orders::so_act(
        store,
        &actor,
        so.id,
        orders::SoAction::Consume {
            lines: vec![orders::ConsumeLine {
                line: 0,
                qty: 1000.0,
            }],
        },
        true,
        at(5, 10),
    )?;
    let drums = recv("PK-DRUM", "DR260901", l_pack, 300.0, 60, sup1.id)?;
    out(MoveKind::Issue, "PK-DRUM", drums, l_pack, 160.0, 20, "灌装")?;
    // the 剧毒 item: received by one custodian, confirmed by the other (双人双锁)
    if let (Some(k), Some(s)) = (keeper, second) {
        let k = Actor::user(k.id, &k.username, None);
        let s = Actor::user(s.id, &s.username, None);
        let mut i = mv(
            MoveKind::Receipt,
            "RM-DMS",
            None,
            "DMS260901",
            None,
            Some(l_toxic),
            500.0,
            "PO-DMS260901",
        );
        i.supplier = Some(sup1.id);
        let p = svc::post(store, &k, i, at(45, 10))?;
        svc::confirm(store, &s, p.movement.id, at(45, 10))?;
        let i = mv(
            MoveKind::Issue,
            "RM-DMS",
            Some(p.lot.id),
            "",
            Some(l_toxic),
            None,
            50.0,
            "B-DMS-01",
        );
        let p2 = svc::post(store, &k, i, at(10, 9))?;
        svc::confirm(store, &s, p2.movement.id, at(10, 9))?;
        // one waiting for its second custodian now
        let i = mv(
            MoveKind::Issue,
            "RM-DMS",
            Some(p.lot.id),
            "",
            Some(l_toxic),
            None,
            25.0,
            "B-DMS-02",
        );
        svc::post(store, &k, i, at(0, 9))?;
    }
    Ok(())
}
