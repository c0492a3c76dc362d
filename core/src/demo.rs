//! The demo plant `nplusx demo` seeds into a fresh data dir: a fine-chemicals company in the
//! Lanxi chemical park (resins and ink binders), its departments, one user for every
//! built-in role, then each module's own demo data (`Module::seed_demo`).

use crate::app::{App, Credentials};
use crate::auth::service::{self as auth, NewUser};
use crate::error::Result;
use crate::i18n::{self, Lang};
use crate::org::model::{Contact, EnterpriseType, Profile};
use crate::store::Actor;

/// (department, head)
const DEPARTMENTS: &[(&str, &str)] = &[
    ("总经理办公室", "张建国"),
    ("安全环保部", "王海涛"),
    ("生产部", "李明"),
    ("设备动力部", "徐国平"),
    ("质量检验部", "吴丽华"),
    ("仓储物流部", "陈晓燕"),
    ("综合办公室", "刘洋"),
];

/// (username, display name, department index, role, phone)
const USERS: &[(&str, &str, usize, &str, &str)] = &[
    ("admin", "系统管理员", 6, "admin", ""),
    ("zhang.jianguo", "张建国", 0, "manager", "13905791001"),
    ("wang.haitao", "王海涛", 1, "safety", "13905791002"),
    ("li.ming", "李明", 2, "operator", "13905791003"),
    ("zhou.jianming", "周建明", 2, "operator", "13905791004"),
    ("chen.xiaoyan", "陈晓燕", 5, "warehouse", "13905791005"),
    ("zhao.min", "赵敏", 5, "warehouse", "13905791011"),
    ("xu.guoping", "徐国平", 3, "maintenance", "13905791006"),
    ("wu.lihua", "吴丽华", 4, "quality", "13905791007"),
    ("he.jing", "何静", 4, "quality", "13905791012"),
    ("liu.yang", "刘洋", 6, "viewer", "13905791008"),
    ("sun.wei", "孙伟", 2, "operator", "13905791009"),
    ("qian.feng", "钱峰", 3, "maintenance", "13905791010"),
];

pub fn profile() -> Profile {
    Profile {
        company_name: "兰溪宏达精细化工有限公司".into(),
        credit_code: "91330781MA2E8K4Q7J".into(),
        industry: "2642".into(),
        industry_note: "油墨连结料、丙烯酸树脂".into(),
        address: "浙江省金华市兰溪市灵洞乡化工园区纬三路 8 号".into(),
        legal_rep: "张建国".into(),
        legal_rep_phone: "0579-88123001".into(),
        it_lead: "刘洋".into(),
        it_lead_phone: "13905791008".into(),
        contacts: vec![
            Contact {
                name: "王海涛".into(),
                role: "安全环保部经理".into(),
                phone: "13905791002".into(),
            },
            Contact {
                name: "徐国平".into(),
                role: "设备动力部经理".into(),
                phone: "13905791006".into(),
            },
        ],
        main_products: "丙烯酸树脂 5000 t/a、油墨连结料 3000 t/a、水性油墨 2000 t/a".into(),
        process_flow: "原料计量 → 聚合釜溶液聚合（80–120 °C）→ 保温 → 降温稀释 → 过滤 → 包装；\
                       油墨：连结料 + 颜料预分散 → 砂磨 → 调色 → 检验 → 灌装"
            .into(),
        enterprise_type: Some(EnterpriseType::InPark),
        output_value_wan: Some(18600.0),
        employees: Some(126),
        area_mu: Some(48.5),
        updated_ms: 0,
    }
}

/// Seeds the demo plant. Returns the credentials to print once.
/// A camera on the box's own test picture over RTSP, watching the reactor area (its alarms
/// get clips) and the polymerisation hall on the plant map (its special-grade hot work and
/// confined-space permits are recorded while at work).
fn seed_camera(app: &App) -> Result<()> {
    let zones: Vec<u64> = crate::modules::safety::people::service::zones(&app.store.read()?)?
        .into_iter()
        .filter(|z| z.name == "聚合车间")
        .map(|z| z.id)
        .collect();
    crate::cameras::save(
        &app.store,
        &crate::store::Actor::system("demo"),
        crate::cameras::Camera {
            id: 0,
            name: "聚合车间 R101 测试画面".into(),
            area: "resin".into(),
            rtsp_url: format!("rtsp://{}/pattern", crate::cameras::testcam::HOST),
            snapshot_url: String::new(),
            username: String::new(),
            password: crate::secrets::Secret::Empty,
            enabled: true,
            recording: crate::cameras::Recording::Events,
            zones,
        },
    )?;
    Ok(())
}

pub fn seed(app: &App) -> Result<Credentials> {
    let actor = Actor::system("demo");
    crate::org::service::save_profile(&app.store, &actor, profile())?;
    let mut dep_ids = Vec::new();
    for (name, head) in DEPARTMENTS {
        dep_ids.push(crate::org::service::create_department(&app.store, &actor, name, head)?.id);
    }
    let password = crate::util::random_password();
    let mut rows = Vec::new();
    for (username, name, dep, role, phone) in USERS {
        auth::create_user(
            &app.store,
            &actor,
            NewUser {
                username: username.to_string(),
                display_name: name.to_string(),
                password: password.clone(),
                department_id: Some(dep_ids[*dep]),
                roles: vec![role.to_string()],
                phone: phone.to_string(),
                email: String::new(),
                must_change_password: false,
            },
        )?;
        rows.push((
            username.to_string(),
            name.to_string(),
            i18n::t(Lang::ZhCn, &format!("role.{role}")).to_string(),
        ));
    }
    for m in app.registry.modules() {
        m.seed_demo(app)?;
    }
    seed_camera(app)?;
    app.plugins.seed_demo(app)?;
    tracing::info!(users = USERS.len(), "demo plant seeded");
    Ok(Credentials { rows, password })
}
