//! The demo plant's archive: documents in every state, dated relative to today so the
//! demo shows green, yellow and red whenever it is started.

use time::Duration;

use super::service::{self as svc, CertInput, RenewInput};
use crate::app::App;
use crate::error::Result;
use crate::store::Actor;

pub fn seed(app: &App) -> Result<()> {
    let actor = Actor::system("demo");
    let today = svc::today(app.offset);
    let day = |offset_days: i64| svc::format_day(today + Duration::days(offset_days));
    let company = crate::org::service::profile(&app.store.read()?)?.company_name;
    // kind, number, issuer, holder ("" = company), issued (days from today), expires, scope
    type Doc<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        i64,
        Option<i64>,
        &'a str,
    );
    let docs: Vec<Doc> = vec![
        (
            "hazchem_license",
            "浙金兰危化经字〔2024〕000087",
            "兰溪市应急管理局",
            "",
            -700,
            Some(395),
            "乙酸乙酯、甲苯、丙酮、甲醇（不带储存设施经营）",
        ),
        (
            "hazchem_production",
            "(浙)WH安许证字〔2023〕-G-1162",
            "浙江省应急管理厅",
            "",
            -1020,
            Some(75),
            "年产 5000 吨丙烯酸树脂、3000 吨油墨连结料",
        ),
        (
            "safety_standardization",
            "浙AQBWHⅢ202300419",
            "金华市应急管理局",
            "",
            -1100,
            Some(-5),
            "危险化学品生产企业安全生产标准化三级",
        ),
        (
            "safety_evaluation",
            "APJ-(浙)-0316-2023-0552",
            "浙江安泰安全技术咨询有限公司",
            "",
            -980,
            None,
            "安全现状评价",
        ),
        (
            "hazchem_registration",
            "330712168",
            "应急管理部化学品登记中心",
            "",
            -400,
            Some(1060),
            "危险化学品登记（8 种）",
        ),
        (
            "emergency_plan",
            "330781-2025-0064",
            "兰溪市应急管理局",
            "",
            -300,
            None,
            "生产安全事故应急预案备案",
        ),
        (
            "special_operation",
            "T330781198503120411",
            "金华市应急管理局",
            "周建明",
            -1800,
            Some(40),
            "电工作业 · 低压电工作业",
        ),
        (
            "special_operation",
            "T330781199011250826",
            "金华市应急管理局",
            "吴丽华",
            -900,
            Some(1300),
            "危险化学品安全作业 · 聚合工艺作业",
        ),
        (
            "special_operation",
            "T330781197808060033",
            "金华市应急管理局",
            "陈志强",
            -2200,
            Some(-20),
            "焊接与热切割作业 · 熔化焊接与热切割作业",
        ),
        (
            "special_equipment",
            "TS330781202100715",
            "兰溪市市场监督管理局",
            "徐国平",
            -1300,
            Some(520),
            "N1 叉车司机",
        ),
        (
            "safety_manager",
            "330781202400031",
            "金华市应急管理局",
            "王海涛",
            -500,
            Some(600),
            "危险化学品生产单位安全生产管理人员",
        ),
    ];
    for (kind, number, issuer, holder, issued, expires, scope) in docs {
        let holder = if holder.is_empty() {
            company.clone()
        } else {
            holder.to_string()
        };
        svc::create(
            &app.store,
            &actor,
            CertInput {
                kind: kind.into(),
                number: number.into(),
                issuer: issuer.into(),
                scope: scope.into(),
                holder,
                holder_ref: String::new(),
                issued: day(issued),
                expires: expires.map(day),
                note: String::new(),
            },
        )?;
    }
    // one licence with a renewal in its history
    let c = svc::create(
        &app.store,
        &actor,
        CertInput {
            kind: "hazchem_license".into(),
            number: "浙金兰危化经字〔2021〕000031".into(),
            issuer: "兰溪市应急管理局".into(),
            scope: "硫酸、盐酸（易制毒三类，不带储存设施经营）".into(),
            holder: company,
            holder_ref: String::new(),
            issued: day(-1800),
            expires: Some(day(-705)),
            note: String::new(),
        },
    )?;
    svc::renew(
        &app.store,
        &actor,
        c.id,
        RenewInput {
            number: "浙金兰危化经字〔2024〕000032".into(),
            issued: day(-710),
            expires: Some(day(385)),
        },
    )?;
    Ok(())
}
