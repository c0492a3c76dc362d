//! The demo plant's archive: documents in every state, dated relative to today so the
//! demo shows green, yellow and red whenever it is started.

use time::Duration;

use super::permit_model::{BlindAction, Details, Duty, Stage, Worker};
use super::permit_service::{self as psvc, ActionInput, GasInput, PermitInput, Signer};
use super::permits::HotLevel;
use super::service::{self as svc, CertInput, RenewInput};
use crate::app::App;
use crate::error::Error;
use crate::error::Result;
use crate::store::Actor;
use crate::util::now_ms;

pub fn seed(app: &App) -> Result<()> {
    seed_archive(app)?;
    seed_permits(app)
}

fn seed_archive(app: &App) -> Result<()> {
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

/// Signing duties of the demo staff (users from `crate::demo`).
const DUTIES: &[(&str, &[Duty])] = &[
    ("zhang.jianguo", &[Duty::Leader]),
    ("wang.haitao", &[Duty::SafetyDept, Duty::Fire]),
    ("li.ming", &[Duty::Unit]),
    ("zhou.jianming", &[Duty::Applicant]),
    (
        "xu.guoping",
        &[
            Duty::Applicant,
            Duty::Specialist,
            Duty::PowerUnit,
            Duty::Utilities,
        ],
    ),
    ("wu.lihua", &[Duty::Analyst]),
    ("sun.wei", &[Duty::Guardian]),
    ("qian.feng", &[Duty::Guardian]),
];

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// The demo staff as signers.
struct Staff(Vec<(Signer, u64)>);

impl Staff {
    fn by_name(&self, username: &str) -> Result<&Signer> {
        self.0
            .iter()
            .map(|(s, _)| s)
            .find(|s| s.username == username)
            .ok_or_else(|| Error::NotFound(crate::i18n::Msg::new("safety.permit.err.user")))
    }
    fn with(&self, d: Duty) -> Result<&Signer> {
        self.0
            .iter()
            .map(|(s, _)| s)
            .find(|s| s.duties.contains(&d))
            .ok_or_else(|| Error::NotFound(crate::i18n::Msg::new("safety.permit.err.user")))
    }
}

/// Demo permits: every type, in different stages, timed around now so the register, the
/// daily statistics and the alarms look like a working day whenever the demo starts.
fn seed_permits(app: &App) -> Result<()> {
    let actor = Actor::system("demo");
    let mut staff = Vec::new();
    for (username, duties) in DUTIES {
        let r = app.store.read()?;
        let Some(u) = crate::auth::service::user_by_name(&r, username)? else {
            continue;
        };
        drop(r);
        psvc::set_duties(&app.store, &actor, u.id, duties.to_vec())?;
        staff.push((
            Signer {
                user_id: u.id,
                username: u.username.clone(),
                name: u.display_name.clone(),
                duties: duties.to_vec(),
                can_write: false,
            },
            u.id,
        ));
    }
    let staff = Staff(staff);
    let now = now_ms();
    let hour_start = now - now.rem_euclid(HOUR);
    let off = app.offset;
    let guardian = staff.by_name("sun.wei")?.user_id;
    let guardian2 = staff.by_name("qian.feng")?.user_id;
    let base = |details: Details,
                content: &str,
                location: &str,
                (x, y): (f64, f64),
                (from, to): (i64, i64),
                guardian_id: u64| PermitInput {
        details,
        applicant_unit: "生产部".into(),
        content: content.into(),
        location: location.into(),
        x,
        y,
        work_unit: "设备动力部".into(),
        leader: "徐国平".into(),
        workers: vec![
            Worker {
                name: "陈志强".into(),
                cert: "T330781197808060033".into(),
            },
            Worker {
                name: "周建明".into(),
                cert: "T330781198503120411".into(),
            },
        ],
        guardian_id: Some(guardian_id),
        linked: Vec::new(),
        risks: "物料泄漏引发火灾爆炸\n高温烫伤\n触电".into(),
        from: psvc::format_local(from, off),
        to: psvc::format_local(to, off),
        checklist: None,
    };
    let hot = |assessed| Details::HotWork {
        assessed,
        method: "电焊".into(),
        lel_pct: 1.2,
        oxygen_service: false,
        space: String::new(),
        wind_force: 2,
    };
    let p = |start_h: i64, hours: i64| {
        (
            hour_start + start_h * HOUR,
            hour_start + (start_h + hours) * HOUR,
        )
    };
    // (form, applicant, the stage to drive it to)
    let mut plans: Vec<(PermitInput, &str, Stage)> = vec![
        (
            base(
                hot(HotLevel::Second),
                "R-101 进料管线法兰焊接修复",
                "聚合车间一楼 R-101 东侧",
                (60.0, 40.0),
                p(-2, 6),
                guardian,
            ),
            "zhou.jianming",
            Stage::Working,
        ),
        (
            base(
                hot(HotLevel::First),
                "甲苯储罐 T-03 呼吸阀支架补焊",
                "罐区 T-03 罐顶",
                (210.0, 150.0),
                p(2, 4),
                guardian,
            ),
            "zhou.jianming",
            Stage::Approval,
        ),
        (
            base(
                Details::ConfinedSpace {
                    space: "R-203".into(),
                    medium: "丙烯酸丁酯".into(),
                    lel_pct: 1.5,
                    enriched: false,
                    painting: false,
                    toxic_name: "H2S".into(),
                    toxic_limit: Some(10.0),
                },
                "R-203 聚合釜清釜检修",
                "聚合车间二楼 R-203",
                (95.0, 60.0),
                p(1, 6),
                guardian2,
            ),
            "zhou.jianming",
            Stage::Briefing,
        ),
        (
            base(
                Details::Blinding {
                    line: "P-1203".into(),
                    medium: "甲苯".into(),
                    temperature_c: Some(25.0),
                    pressure_mpa: Some(0.2),
                    blind_spec: "304 DN80 PN16".into(),
                    blind_number: "MB-07".into(),
                    action: BlindAction::Insert,
                },
                "甲苯进料线 P-1203 加盲板隔离",
                "罐区泵房",
                (180.0, 120.0),
                p(-27, 3),
                guardian2,
            ),
            "zhou.jianming",
            Stage::Closed,
        ),
        (
            base(
                Details::Height {
                    height_m: 8.5,
                    hazard_factors: false,
                    wind_force: 2,
                },
                "造粒塔外保温层修复",
                "造粒塔 8 m 平台",
                (20.0, 200.0),
                p(-1, 6),
                guardian2,
            ),
            "zhou.jianming",
            Stage::Working,
        ),
        (
            base(
                Details::Lifting {
                    load_t: 12.0,
                    tool: "25 t 汽车吊".into(),
                    outdoor: true,
                    wind_force: 3,
                },
                "新冷凝器 E-105 吊装就位",
                "聚合车间北侧空地",
                (120.0, -30.0),
                p(24, 6),
                guardian,
            ),
            "zhou.jianming",
            Stage::Draft,
        ),
        (
            base(
                Details::Excavation {
                    depth_m: 1.5,
                    area: "循环水管线 3 m × 2 m".into(),
                    hazardous_area: false,
                },
                "循环水管线漏点开挖",
                "厂区东路南段",
                (300.0, 20.0),
                p(1, 8),
                guardian2,
            ),
            "zhou.jianming",
            Stage::Measures,
        ),
        (
            base(
                Details::RoadBreak {
                    road_section: "厂区东路南段".into(),
                    reason: "循环水管线开挖".into(),
                    detour: "经西路绕行，消防车道保持畅通".into(),
                },
                "厂区东路南段断路",
                "厂区东路南段",
                (300.0, 30.0),
                p(1, 8),
                guardian2,
            ),
            "zhou.jianming",
            Stage::Approval,
        ),
    ];
    let mut first = None;
    for (i, (input, applicant, target)) in plans.drain(..).enumerate() {
        let a = staff.by_name(applicant)?;
        let from = psvc::parse_local(&input.from, off).unwrap_or(now);
        let created = (from - 2 * HOUR).min(now - 50 * MIN);
        let permit = psvc::create(&app.store, a, input, created, off, crate::i18n::Lang::ZhCn)?;
        drive(app, &staff, permit.id, a, target, created, from)?;
        if i == 0 {
            first = Some(permit);
        }
    }
    // temporary power for the welding job, working under it
    if let Some(hw) = first {
        let a = staff.by_name("zhou.jianming")?;
        let input = base(
            Details::TemporaryPower {
                connection_point: "聚合车间配电室 2# 柜".into(),
                voltage_v: 380.0,
                power_kw: 22.0,
                serves: Some(hw.id),
            },
            "R-101 焊接临时电源",
            "聚合车间一楼",
            (62.0, 42.0),
            (hw.from_ms, hw.to_ms),
            guardian,
        );
        let created = hw.from_ms - 2 * HOUR;
        let permit = psvc::create(&app.store, a, input, created, off, crate::i18n::Lang::ZhCn)?;
        drive(
            app,
            &staff,
            permit.id,
            a,
            Stage::Working,
            created,
            hw.from_ms,
        )?;
    }
    Ok(())
}

/// Signs a permit through its life cycle up to `target`, each step by the staff member
/// holding its duty, at plausible times between `created` and the planned start `from`.
fn drive(
    app: &App,
    staff: &Staff,
    id: u64,
    applicant: &Signer,
    target: Stage,
    created: i64,
    from: i64,
) -> Result<()> {
    let off = app.offset;
    let act =
        |s: &Signer, input: ActionInput, at: i64| psvc::act(&app.store, s, id, input, at, off);
    let gas = |at: i64| ActionInput {
        gas: Some(GasInput {
            sampled: psvc::format_local(at - 3 * MIN, off),
            point: "作业点".into(),
            combustible_pct: Some(0.08),
            o2_pct: Some(20.8),
            toxic_value: Some(0.0),
        }),
        ..ActionInput::new(super::permit_model::Action::Gas)
    };
    use super::permit_model::Action as A;
    let mut p = psvc::permit(&app.store.read()?, id)?;
    let mut t = created + 5 * MIN;
    while p.stage != target && !p.stage.is_final() {
        t += 3 * MIN;
        p = match p.stage {
            Stage::Draft => act(applicant, ActionInput::new(A::Submit), t)?,
            Stage::Measures => act(applicant, ActionInput::new(A::ConfirmMeasures), t)?,
            Stage::GasAnalysis => act(staff.with(Duty::Analyst)?, gas(t), t)?,
            Stage::Approval => {
                let d = p.chain[p.approved_steps];
                let done = act(staff.with(d)?, ActionInput::new(A::Approve), t)?;
                // the demo's open approvals stop half-way
                if target == Stage::Approval && done.approved_steps * 2 >= done.chain.len() {
                    break;
                }
                done
            }
            Stage::Briefing => {
                let at = from - 10 * MIN;
                act(applicant, ActionInput::new(A::Brief), at)?;
                if p.details.needs_gas() {
                    act(
                        staff.with(Duty::Analyst)?,
                        gas(from - 2 * MIN),
                        from - 2 * MIN,
                    )?;
                }
                let g = staff
                    .0
                    .iter()
                    .map(|(s, _)| s)
                    .find(|s| Some(s.user_id) == p.guardian_id)
                    .ok_or_else(|| {
                        Error::NotFound(crate::i18n::Msg::new("safety.permit.err.user"))
                    })?;
                act(g, ActionInput::new(A::Start), from)?
            }
            Stage::Working => act(applicant, ActionInput::new(A::Finish), p.to_ms - 30 * MIN)?,
            Stage::Acceptance => act(
                staff.with(Duty::Unit)?,
                ActionInput::new(A::Accept),
                p.to_ms - 10 * MIN,
            )?,
            _ => break,
        };
    }
    Ok(())
}
