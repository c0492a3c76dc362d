//! The demo plant's archive: documents in every state, dated relative to today so the
//! demo shows green, yellow and red whenever it is started.

use time::Duration;

use super::archive::service::{self as svc, CertInput, RenewInput};
use super::people::model::PersonKind;
use super::permits::model::{BlindAction, Details, Duty, Stage, ToxicLimit, Worker};
use super::permits::rules::{Activity, HotLevel, HotMethod, WorkType};
use super::permits::service::{
    self as psvc, ActionInput, GasInput, PermitInput, Signer, WindowInput,
};
use super::permits::settings;
use crate::app::App;
use crate::error::Error;
use crate::error::Result;
use crate::store::Actor;
use crate::util::now_ms;

pub fn seed(app: &App) -> Result<()> {
    seed_archive(app)?;
    seed_permits(app)?;
    seed_people(app)?;
    seed_hazards(app)
}

fn seed_archive(app: &App) -> Result<()> {
    let actor = Actor::system("demo");
    let today = crate::plant_time::today(app.offset);
    let day = |offset_days: i64| crate::plant_time::format_day(today + Duration::days(offset_days));
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
            "special_operation",
            "T330781199203150417",
            "金华市应急管理局",
            "王强",
            -640,
            Some(1180),
            "焊接与热切割作业 · 熔化焊接与热切割作业",
        ),
        (
            "special_operation",
            "T330781198807220358",
            "金华市应急管理局",
            "赵刚",
            -420,
            Some(1400),
            "起重机械作业 · 起重机械指挥",
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
/// One person signs one step of a permit, so every chain's steps are held by different
/// people: 陈晓燕 leads the volunteer fire brigade (消防 countersign), 李明 the production unit
/// (基层单位, and the utilities countersign of excavation).
const DUTIES: &[(&str, &[Duty])] = &[
    ("zhang.jianguo", &[Duty::Leader]),
    ("wang.haitao", &[Duty::SafetyDept]),
    ("chen.xiaoyan", &[Duty::Fire]),
    ("li.ming", &[Duty::Unit, Duty::Utilities]),
    ("zhou.jianming", &[Duty::Applicant]),
    (
        "xu.guoping",
        &[Duty::Applicant, Duty::Specialist, Duty::PowerUnit],
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
        settings::set_duties(&app.store, &actor, u.id, duties.to_vec())?;
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
    let worker = |name: &str, cert: &str| Worker {
        name: name.into(),
        cert: cert.into(),
    };
    let base = |details: Details,
                content: &str,
                location: &str,
                (x, y): (f64, f64),
                (from, to): (i64, i64),
                guardian_id: u64| PermitInput {
        // 王强 welds, 周建明 is the electrician, 赵刚 signals lifts: each on the permits of
        // their trade, with their certificate from the archive (陈志强's welding
        // certificate has expired, so he is on no permit)
        workers: match details.work() {
            WorkType::HotWork => vec![worker("王强", "T330781199203150417")],
            WorkType::TemporaryPower => vec![worker("周建明", "T330781198503120411")],
            WorkType::Lifting => vec![worker("赵刚", "T330781198807220358")],
            _ => vec![worker("王强", ""), worker("周建明", "")],
        },
        details,
        applicant_unit: "生产部".into(),
        content: content.into(),
        location: location.into(),
        x,
        y,
        work_unit: "设备动力部".into(),
        leader: "徐国平".into(),
        guardian_id: Some(guardian_id),
        linked: Vec::new(),
        risks: "物料泄漏引发火灾爆炸\n高温烫伤\n触电".into(),
        from: crate::plant_time::format_minute(from, off),
        to: crate::plant_time::format_minute(to, off),
        windows: Vec::new(),
        activities: Vec::new(),
        checklist: None,
    };
    let hot = |assessed, outdoor, monitor: &[&str]| Details::HotWork {
        assessed,
        method: "电焊".into(),
        method_kind: Some(HotMethod::Welding),
        // butyl acrylate, LEL 1.2 % vol: the 0.2 % limit applies
        lel_pct: Some(1.2),
        oxygen_service: false,
        space: String::new(),
        outdoor: Some(outdoor),
        wind_force: Some(2),
        wind_approval: String::new(),
        monitor_tags: monitor.iter().map(|t| t.to_string()).collect(),
    };
    let toxic = |name: &str| ToxicLimit {
        name: name.into(),
        limit_mg_m3: 0.0,
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
                hot(HotLevel::Second, false, &[]),
                "R-101 进料管线法兰焊接修复",
                "聚合车间一楼 R-101 东侧",
                (60.0, 200.0),
                p(-2, 6),
                guardian,
            ),
            "zhou.jianming",
            Stage::Working,
        ),
        (
            // on the tank roof: outdoors, watched by the tank farm's gas detector (it
            // becomes 特级 at night, which needs continuous monitoring)
            base(
                hot(HotLevel::First, true, &["GD201"]),
                "甲苯储罐 T-03 呼吸阀支架补焊",
                "罐区 T-03 罐顶",
                (250.0, 225.0),
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
                    lel_pct: Some(1.2),
                    enriched: false,
                    painting: false,
                    toxics: vec![toxic("H2S"), toxic("丙烯酸正丁酯")],
                },
                "R-203 聚合釜清釜检修",
                "聚合车间二楼 R-203",
                (100.0, 235.0),
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
                (300.0, 160.0),
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
                    wind_force: Some(2),
                },
                "造粒塔外保温层修复",
                "造粒塔 8 m 平台",
                (140.0, 255.0),
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
                    outdoor: Some(true),
                    wind_force: Some(3),
                },
                "新冷凝器 E-105 吊装就位",
                "聚合车间北侧空地",
                (90.0, 275.0),
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
                    hazardous_area: Some(false),
                    medium: String::new(),
                    lel_pct: None,
                    toxics: Vec::new(),
                },
                "循环水管线漏点开挖",
                "厂区东路南段",
                (394.0, 60.0),
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
                (394.0, 75.0),
                p(1, 8),
                guardian2,
            ),
            "zhou.jianming",
            Stage::Approval,
        ),
        (
            // a solvent tank entered with work on site; its next analysis fails below
            base(
                Details::ConfinedSpace {
                    space: "V-105".into(),
                    medium: "甲苯".into(),
                    lel_pct: Some(1.1),
                    enriched: false,
                    painting: false,
                    toxics: vec![toxic("H2S"), toxic("C7H8")],
                },
                "溶剂回收罐 V-105 内部检查",
                "罐区 V-105",
                (320.0, 205.0),
                p(-1, 5),
                guardian2,
            ),
            "zhou.jianming",
            Stage::Working,
        ),
        (
            // its first analysis fails below: the start waits for a passing re-test
            base(
                hot(HotLevel::Second, true, &[]),
                "污水站格栅间排泥管法兰补焊",
                "污水站格栅间",
                (650.0, 640.0),
                p(1, 4),
                guardian2,
            ),
            "zhou.jianming",
            Stage::GasAnalysis,
        ),
        (
            // finished this morning, waiting for the unit's acceptance
            base(
                Details::Height {
                    height_m: 5.5,
                    hazard_factors: false,
                    wind_force: Some(2),
                },
                "成品仓库雨棚检修",
                "成品仓库东侧",
                (210.0, 60.0),
                p(-6, 4),
                guardian2,
            ),
            "zhou.jianming",
            Stage::Acceptance,
        ),
    ];
    // a 二级 job over three working days, day shifts only: it stays 二级 for 72 hours
    let cal = settings::calendar(&app.store.read()?)?;
    let today = crate::plant_time::local(now, off).date();
    let mut d = today + Duration::days(1);
    while (0..3).any(|i| cal.is_day_off(d + Duration::days(i))) {
        d += Duration::days(1);
    }
    let at = |day: time::Date, h: u8| {
        crate::plant_time::parse_local(&format!("{day} {h:02}:00"), off).unwrap_or(now)
    };
    let mut shifts = base(
        hot(HotLevel::Second, false, &[]),
        "循环水泵房管线更换（三个白班）",
        "循环水泵房",
        (380.0, 120.0),
        (at(d, 8), at(d + Duration::days(2), 17)),
        guardian,
    );
    shifts.windows = (0..3)
        .map(|i| {
            let day = d + Duration::days(i);
            WindowInput {
                from: crate::plant_time::format_minute(at(day, 8), off),
                to: crate::plant_time::format_minute(at(day, 17), off),
            }
        })
        .collect();
    plans.push((shifts, "xu.guoping", Stage::Briefing));
    // painting near the pump house's hot work is kept 10 m away
    let mut painting = base(
        Details::Height {
            height_m: 4.0,
            hazard_factors: false,
            wind_force: Some(2),
        },
        "泵房外管廊防腐刷漆",
        "循环水泵房东侧管廊",
        (395.0, 120.0),
        (at(d, 8), at(d, 17)),
        guardian2,
    );
    painting.activities = vec![Activity::SolventPainting];
    plans.push((painting, "zhou.jianming", Stage::Approval));
    plans.push((
        // at work in the polymerisation hall: the hall's camera records it (GB 30871)
        base(
            Details::ConfinedSpace {
                space: "R-102".into(),
                medium: "丙烯酸丁酯".into(),
                lel_pct: Some(1.2),
                enriched: false,
                painting: false,
                toxics: vec![toxic("H2S"), toxic("丙烯酸正丁酯")],
            },
            "R-102 聚合釜内壁检查",
            "聚合车间一楼 R-102",
            (110.0, 190.0),
            p(-1, 6),
            guardian2,
        ),
        "zhou.jianming",
        Stage::Working,
    ));

    let site = super::permits::Instruments(app);
    let mut ids = Vec::new();
    for (input, applicant, target) in plans.drain(..) {
        let a = staff.by_name(applicant)?;
        let from = crate::plant_time::parse_local(&input.from, off).unwrap_or(now);
        let created = (from - 2 * HOUR).min(now - 50 * MIN);
        let permit = psvc::create(&app.store, a, input, created, off, crate::i18n::Lang::ZhCn)?;
        drive(app, &site, &staff, permit.id, a, target, created, from)?;
        ids.push(permit.id);
    }
    let first = psvc::permit(&app.store.read()?, ids[0])?;
    // temporary power for the welding job, connected in the hazardous area after a gas test
    {
        let a = staff.by_name("zhou.jianming")?;
        let input = base(
            Details::TemporaryPower {
                connection_point: "聚合车间配电室 2# 柜".into(),
                voltage_v: 380.0,
                power_kw: 22.0,
                serves: Some(first.id),
                hazardous_area: Some(true),
                lel_pct: Some(1.2),
            },
            "R-101 焊接临时电源",
            "聚合车间一楼",
            (62.0, 202.0),
            (first.from_ms, first.to_ms),
            guardian,
        );
        let created = first.from_ms - 2 * HOUR;
        let permit = psvc::create(&app.store, a, input, created, off, crate::i18n::Lang::ZhCn)?;
        drive(
            app,
            &site,
            &staff,
            permit.id,
            a,
            Stage::Working,
            created,
            first.from_ms,
        )?;
    }
    // V-105: toluene over its limit in the 2-hourly reading: the work stops, people leave,
    // the guardian and the safety department are told, a re-test is needed to resume
    let v105 = ids[8];
    let analyst = staff.with(Duty::Analyst)?;
    let at = now - 10 * MIN;
    psvc::act(
        &app.store,
        &site,
        analyst,
        v105,
        ActionInput {
            gas: Some(GasInput {
                sampled: crate::plant_time::format_minute(at - 2 * MIN, off),
                point: "人孔下 1 m".into(),
                combustible_pct: Some(0.05),
                o2_pct: Some(20.6),
                toxics: vec![psvc_toxic("H2S", 0.0), psvc_toxic("C7H8", 86.0)],
            }),
            ..ActionInput::new(super::permits::model::Action::Gas)
        },
        at,
        off,
    )?;
    // the sewage works: 0.6 % combustible gas over the 0.2 % limit of a medium with LEL 1.2 %
    let sewage = ids[9];
    psvc::act(
        &app.store,
        &site,
        analyst,
        sewage,
        ActionInput {
            gas: Some(GasInput {
                sampled: crate::plant_time::format_minute(now - 25 * MIN, off),
                point: "排泥管法兰".into(),
                combustible_pct: Some(0.6),
                o2_pct: Some(20.9),
                toxics: Vec::new(),
            }),
            ..ActionInput::new(super::permits::model::Action::Gas)
        },
        now - 20 * MIN,
        off,
    )?;
    Ok(())
}

fn psvc_toxic(name: &str, value: f64) -> super::permits::model::ToxicReading {
    super::permits::model::ToxicReading {
        name: name.into(),
        value,
    }
}

/// Signs a permit through its life cycle up to `target`, each step by the staff member
/// holding its duty, at plausible times between `created` and the planned start `from`.
#[allow(clippy::too_many_arguments)]
fn drive(
    app: &App,
    site: &dyn psvc::Site,
    staff: &Staff,
    id: u64,
    applicant: &Signer,
    target: Stage,
    created: i64,
    from: i64,
) -> Result<()> {
    let off = app.offset;
    let act = |s: &Signer, input: ActionInput, at: i64| {
        psvc::act(&app.store, site, s, id, input, at, off)
    };
    let mut p = psvc::permit(&app.store.read()?, id)?;
    // a passing analysis of whatever the permit is held to
    let limits = p
        .details
        .needs_gas()
        .then(|| psvc::gas_limits(&app.store.read()?, &p))
        .transpose()?;
    let gas = |at: i64| ActionInput {
        gas: Some(GasInput {
            sampled: crate::plant_time::format_minute(at - 3 * MIN, off),
            point: "作业点".into(),
            combustible_pct: Some(0.08),
            o2_pct: Some(20.8),
            toxics: limits
                .iter()
                .flat_map(|l| l.toxics.iter())
                .map(|(n, limit)| psvc_toxic(n, (limit * 0.1 * 100.0).round() / 100.0))
                .collect(),
        }),
        ..ActionInput::new(super::permits::model::Action::Gas)
    };
    use super::permits::model::Action as A;
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

/// The demo plant's people: (name, kind, organisation, positioning tag?).
fn demo_people() -> Vec<(String, PersonKind, &'static str, bool)> {
    let mut out: Vec<(String, PersonKind, &'static str, bool)> = [
        ("张建国", "总经理办公室"),
        ("王海涛", "安全环保部"),
        ("李明", "生产部"),
        ("周建明", "生产部"),
        ("陈晓燕", "仓储物流部"),
        ("徐国平", "设备动力部"),
        ("吴丽华", "质量检验部"),
        ("孙伟", "生产部"),
        ("钱峰", "设备动力部"),
    ]
    .into_iter()
    .map(|(n, o)| (n.to_string(), PersonKind::Employee, o, true))
    .collect();
    const SURNAMES: &[&str] = &[
        "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
        "郭", "何", "林",
    ];
    const GIVEN: &[&str] = &[
        "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
        "霞", "平", "刚", "桂英", "建华", "志勇", "海燕", "晓东",
    ];
    const ORGS: &[&str] = &[
        "生产部",
        "生产部",
        "生产部",
        "设备动力部",
        "仓储物流部",
        "质量检验部",
    ];
    let mut i = 0usize;
    while out.len() < 42 {
        let name = format!(
            "{}{}",
            SURNAMES[(i * 7) % SURNAMES.len()],
            GIVEN[(i * 5 + i / 3) % GIVEN.len()]
        );
        if !out.iter().any(|(n, ..)| *n == name) {
            out.push((name, PersonKind::Employee, ORGS[i % ORGS.len()], true));
        }
        i += 1;
    }
    for (n, o) in [
        ("陈志强", "金华恒安设备安装有限公司"),
        ("郑大勇", "金华恒安设备安装有限公司"),
        ("冯小波", "兰溪市建安防腐工程有限公司"),
        ("蒋文斌", "兰溪市建安防腐工程有限公司"),
        ("沈国庆", "浙江安泰安全技术咨询有限公司"),
        ("韩立新", "金华恒安设备安装有限公司"),
    ] {
        out.push((n.into(), PersonKind::Contractor, o, true));
    }
    for (n, o) in [("曹婷", "浙江省化工研究院"), ("彭涛", "兰溪市应急管理局")] {
        out.push((n.into(), PersonKind::Visitor, o, false));
    }
    out
}

/// People, vehicles, gates, the layout map with its zones, a duty roster and the simulated
/// feed: 48 people with tags walking, 2 visitors, 5 vehicles coming and going.
fn seed_people(app: &App) -> Result<()> {
    use super::people::model::{
        Aggregation, Assignment, FeedConfig, Gate, Person, Post, Shift, Vehicle, Zone, ZoneRules,
    };
    use super::people::service as ps;
    let actor = Actor::system("demo");
    let today = crate::plant_time::today(app.offset);
    let day = |d: i64| crate::plant_time::format_day(today + Duration::days(d));
    let r = app.store.read()?;
    let certs = svc::certificates(&r, today, &svc::Filter::default())?;
    drop(r);
    let mut ids = std::collections::HashMap::new();
    for (i, (name, kind, org, tagged)) in demo_people().into_iter().enumerate() {
        let held: Vec<u64> = certs
            .iter()
            .filter(|c| c.cert.holder == name)
            .map(|c| c.cert.id)
            .collect();
        let prefix = match kind {
            PersonKind::Employee => "E",
            PersonKind::Contractor => "C",
            PersonKind::Visitor => "V",
        };
        let p = ps::save_person(
            &app.store,
            &actor,
            Person {
                id: 0,
                kind,
                name: name.clone(),
                organisation: org.into(),
                badge: format!("{prefix}{:04}", 1001 + i),
                tag: if tagged {
                    format!("UWB-{:04}", 1 + i)
                } else {
                    String::new()
                },
                phone: String::new(),
                certs: held,
                valid_until: match kind {
                    PersonKind::Employee => None,
                    PersonKind::Contractor => Some(day(60)),
                    PersonKind::Visitor => Some(day(0)),
                },
                enabled: true,
            },
        )?;
        ids.insert(name, p.id);
    }
    type Car<'a> = (&'a str, bool, &'a str, Option<i64>, &'a str, &'a str);
    let cars: [Car; 5] = [
        (
            "浙G·A2731",
            true,
            "浙交运管许可金字330700301234号",
            Some(300),
            "胡建军",
            "金华顺通危险品运输有限公司",
        ),
        (
            "浙G·D8812",
            true,
            "浙交运管许可金字330700305678号",
            Some(-3),
            "方志明",
            "兰溪市安达化工物流有限公司",
        ),
        (
            "皖K·F3392",
            true,
            "皖交运管许可宣字341800200117号",
            Some(150),
            "汪涛",
            "宣城市华运危货运输有限公司",
        ),
        ("浙A·K6620", false, "", None, "叶明", "杭州百顺快运有限公司"),
        (
            "浙G·B5107",
            false,
            "",
            None,
            "吕斌",
            "兰溪宏达精细化工有限公司",
        ),
    ];
    for (plate, hazmat, permit, expires, driver, company) in cars {
        ps::save_vehicle(
            &app.store,
            &actor,
            Vehicle {
                id: 0,
                plate: plate.into(),
                hazmat,
                hazmat_permit: permit.into(),
                permit_expires: expires.map(day),
                driver: driver.into(),
                company: company.into(),
                enabled: true,
            },
        )?;
    }
    for (code, name, area) in [
        ("east", "东大门（人员）", "plant"),
        ("tank-farm", "罐区门禁", "罐区"),
        ("logistics", "物流门（车辆）", "plant"),
    ] {
        let g = Gate {
            code: code.into(),
            name: name.into(),
            area: area.into(),
        };
        ps::save_gate(&app.store, &actor, g)?;
    }
    let png = include_bytes!("assets/demo-plant.png").to_vec();
    let image = Some(("demo-plant.png".to_string(), png));
    ps::save_map(&app.store, &actor, 400.0, 300.0, image, now_ms())?;
    let rect = |x0: f64, y0: f64, x1: f64, y1: f64| vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
    let rules = |permit_required, max_occupancy, still_seconds| ZoneRules {
        permit_required,
        max_occupancy,
        still_seconds,
        aggregation: None,
    };
    let crowd = ZoneRules {
        aggregation: Some(Aggregation {
            people: 8,
            radius_m: 15.0,
            seconds: 60,
        }),
        ..Default::default()
    };
    let zones = [
        (
            "聚合车间",
            rect(30.0, 170.0, 150.0, 260.0),
            rules(false, Some(25), Some(300)),
        ),
        (
            "罐区",
            rect(220.0, 170.0, 380.0, 280.0),
            rules(true, None, Some(180)),
        ),
        (
            "仓库",
            rect(30.0, 40.0, 110.0, 120.0),
            rules(false, Some(15), None),
        ),
        (
            "中控室",
            rect(125.0, 40.0, 180.0, 90.0),
            rules(false, Some(8), None),
        ),
        (
            "污水站",
            rect(220.0, 40.0, 300.0, 120.0),
            rules(false, None, Some(300)),
        ),
        ("装卸区", rect(320.0, 30.0, 380.0, 110.0), crowd),
        (
            "配电室",
            rect(160.0, 180.0, 185.0, 210.0),
            rules(true, None, None),
        ),
    ];
    let mut zone_ids = Vec::new();
    for (name, polygon, rules) in zones {
        let z = Zone {
            id: 0,
            name: name.into(),
            polygon,
            floor: None,
            rules,
        };
        zone_ids.push(ps::save_zone(&app.store, &actor, z)?.id);
    }
    let shift = |name: &str, from: &str, to: &str| Shift {
        id: 0,
        name: name.into(),
        from: from.into(),
        to: to.into(),
    };
    let day_shift = ps::save_shift(&app.store, &actor, shift("白班", "08:00", "20:00"))?;
    let night = ps::save_shift(&app.store, &actor, shift("夜班", "20:00", "08:00"))?;
    let post = |name: &str, zone: u64, grace_minutes| Post {
        id: 0,
        name: name.into(),
        zone,
        grace_minutes,
    };
    let dcs = ps::save_post(&app.store, &actor, post("DCS 主操岗", zone_ids[3], 10))?;
    let ww = ps::save_post(&app.store, &actor, post("污水站巡检岗", zone_ids[4], 30))?;
    for (post, shift, name) in [
        (dcs.id, day_shift.id, "李明"),
        (dcs.id, night.id, "孙伟"),
        (ww.id, day_shift.id, "钱峰"),
        (ww.id, night.id, "周建明"),
    ] {
        if let Some(person) = ids.get(name) {
            let a = Assignment {
                id: 0,
                post,
                shift,
                person: *person,
            };
            ps::save_assignment(&app.store, &actor, a)?;
        }
    }
    let feed = FeedConfig {
        simulate: true,
        port: 1883,
        ..Default::default()
    };
    ps::save_feed(&app.store, &actor, feed)?;
    Ok(())
}

/// The risk register, inspection tasks and hidden dangers in every state of their workflow.
fn seed_hazards(app: &App) -> Result<()> {
    use super::hazards::model::{Cycle, HazardLevel, Risk, Source, Task};
    use super::hazards::service::{self as hs, HazardAction, HazardInput, Person};
    let actor = Actor::system("demo");
    let r = app.store.read()?;
    let user = |name: &str| -> Result<(u64, String)> {
        crate::auth::service::user_by_name(&r, name)?
            .map(|u| (u.id, u.display_name))
            .ok_or_else(|| Error::NotFound(crate::i18n::Msg::new("safety.permit.err.user")))
    };
    let (safety_id, safety_name) = user("wang.haitao")?;
    let (fixer_id, fixer_name) = user("xu.guoping")?;
    let (patrol_id, _) = user("qian.feng")?;
    let (op_id, op_name) = user("zhou.jianming")?;
    drop(r);
    let person = |id: u64, name: &str, manages: bool| Person {
        user_id: id,
        username: String::new(),
        name: name.into(),
        manages,
        writes: manages,
    };
    let boss = person(safety_id, &safety_name, true);
    let fixer = person(fixer_id, &fixer_name, false);
    let reporter = person(op_id, &op_name, false);
    let risk = |object: &str, unit: &str, event: &str, measures: &[&str], l, e, c| Risk {
        id: 0,
        object: object.into(),
        unit: unit.into(),
        event: event.into(),
        measures: measures.iter().map(|m| m.to_string()).collect(),
        l,
        e,
        c,
        owner: "王海涛".into(),
    };
    let risks = [
        risk(
            "甲苯储罐 T-03",
            "罐区",
            "泄漏引发火灾爆炸",
            &[
                "液位高高联锁完好",
                "呼吸阀、阻火器畅通",
                "防火堤排水阀常闭",
                "可燃气体探测器在线",
            ],
            3.0,
            6.0,
            40.0,
        ),
        risk(
            "聚合釜 R-101",
            "聚合车间",
            "超温超压冲料",
            &["温度联锁投用", "紧急冷却水可用", "爆破片在有效期内"],
            3.0,
            6.0,
            15.0,
        ),
        risk(
            "污水站调节池",
            "污水站",
            "硫化氢中毒",
            &["进入前气体检测", "通风机运行", "配备空气呼吸器"],
            1.0,
            3.0,
            40.0,
        ),
        risk(
            "叉车作业",
            "仓库",
            "车辆伤害",
            &["叉车年检有效", "持证驾驶", "限速 5 km/h"],
            1.0,
            6.0,
            7.0,
        ),
    ];
    let mut ids = Vec::new();
    for x in risks {
        ids.push(hs::save_risk(&app.store, &actor, x)?.id);
    }
    let now = now_ms();
    let day = 86_400_000;
    for (risk, name, cycle, assignee) in [
        (ids[0], "罐区日巡检", Cycle::Day, patrol_id),
        (ids[1], "聚合釜班前检查", Cycle::Day, op_id),
        (ids[2], "污水站周检", Cycle::Week, patrol_id),
    ] {
        let t = Task {
            id: 0,
            risk,
            name: name.into(),
            cycle,
            every: 1,
            assignee,
            items: Vec::new(),
            // due two days ago: one overdue inspection, then today's
            next_due_ms: now - 2 * day,
        };
        hs::save_task(&app.store, &actor, t)?;
        hs::generate_inspections(&app.store, now - 2 * day + 1)?;
    }
    hs::generate_inspections(&app.store, now)?;
    let photo = || {
        vec![(
            "现场.png".to_string(),
            include_bytes!("assets/demo-photo.png").to_vec(),
        )]
    };
    let report = |title: &str, location: &str, level, source, risk: Option<u64>| {
        let input = HazardInput {
            title: title.into(),
            description: String::new(),
            location: location.into(),
            level,
            source,
            risk,
        };
        hs::report(
            &app.store,
            &reporter,
            input,
            photo(),
            now - 3 * day,
            app.offset,
        )
    };
    let today = crate::plant_time::today(app.offset);
    let assign = |id: u64, deadline: i64, on: time::Date| {
        let a = HazardAction::Assign {
            assignee: fixer_id,
            deadline: crate::plant_time::format_day(today + Duration::days(deadline)),
            measures: "立即整改，整改后拍照上传".into(),
        };
        hs::act(&app.store, &boss, id, a, now - 2 * day, on)
    };
    // reported, waiting to be assigned
    report(
        "聚合车间二楼消防通道堆放原料桶",
        "聚合车间二楼",
        HazardLevel::General,
        Source::Daily,
        Some(ids[1]),
    )?;
    // rectifying, due in 5 days
    let h = report(
        "T-03 呼吸阀阻火器结晶",
        "罐区 T-03 罐顶",
        HazardLevel::General,
        Source::Specialist,
        Some(ids[0]),
    )?;
    assign(h.id, 5, today)?;
    // overdue: its deadline was yesterday
    let h = report(
        "污水站调节池固定式硫化氢探测器离线",
        "污水站",
        HazardLevel::Major,
        Source::ControlFailure,
        Some(ids[2]),
    )?;
    assign(h.id, -1, today - Duration::days(3))?;
    // rectified, waiting for acceptance
    let h = report(
        "配电室门口灭火器压力不足",
        "配电室",
        HazardLevel::General,
        Source::Daily,
        None,
    )?;
    assign(h.id, 3, today)?;
    hs::add_photos(&app.store, &fixer, h.id, true, photo(), now - day)?;
    hs::act(
        &app.store,
        &fixer,
        h.id,
        HazardAction::Rectify {
            note: "已更换灭火器".into(),
        },
        now - day,
        today,
    )?;
    // closed
    let h = report(
        "仓库叉车充电区未设警示标识",
        "仓库",
        HazardLevel::General,
        Source::Holiday,
        Some(ids[3]),
    )?;
    assign(h.id, 2, today)?;
    hs::add_photos(&app.store, &fixer, h.id, true, photo(), now - day)?;
    hs::act(
        &app.store,
        &fixer,
        h.id,
        HazardAction::Rectify {
            note: "已设置警示标识".into(),
        },
        now - day,
        today,
    )?;
    hs::act(
        &app.store,
        &boss,
        h.id,
        HazardAction::Accept {
            note: "合格".into(),
        },
        now - day / 2,
        today,
    )?;
    Ok(())
}
