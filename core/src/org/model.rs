//! Enterprise profile (企业基本情况) and departments, as the application form (附件1) asks.

use serde::{Deserialize, Serialize};

/// 改造类型: the enterprise type decides which modules acceptance requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnterpriseType {
    /// 化工园区内企业
    InPark,
    /// 新招引化工企业
    NewEntrant,
    /// 搬迁入园区企业
    Relocated,
    /// 化工园区外企业
    OutsidePark,
}

impl EnterpriseType {
    pub const ALL: [EnterpriseType; 4] = [
        EnterpriseType::InPark,
        EnterpriseType::NewEntrant,
        EnterpriseType::Relocated,
        EnterpriseType::OutsidePark,
    ];

    pub fn id(self) -> &'static str {
        match self {
            EnterpriseType::InPark => "in_park",
            EnterpriseType::NewEntrant => "new_entrant",
            EnterpriseType::Relocated => "relocated",
            EnterpriseType::OutsidePark => "outside_park",
        }
    }

    pub fn parse(s: &str) -> Option<EnterpriseType> {
        EnterpriseType::ALL.into_iter().find(|t| t.id() == s)
    }

    /// Catalogue key of the type's name.
    pub fn name_key(self) -> &'static str {
        match self {
            EnterpriseType::InPark => "org.type.in_park",
            EnterpriseType::NewEntrant => "org.type.new_entrant",
            EnterpriseType::Relocated => "org.type.relocated",
            EnterpriseType::OutsidePark => "org.type.outside_park",
        }
    }

    /// Minimum project investment for the type (万元, excl. tax), from 三(一)3 of the seed.
    pub fn min_investment_wan(self) -> u32 {
        match self {
            EnterpriseType::InPark => 100,
            EnterpriseType::NewEntrant | EnterpriseType::Relocated => 200,
            EnterpriseType::OutsidePark => 50,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub phone: String,
}

/// 企业基本情况. Every field optional until first saved; `save_profile` enforces the rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    /// 企业名称
    #[serde(default)]
    pub company_name: String,
    /// 统一社会信用代码 (validated, upper case)
    #[serde(default)]
    pub credit_code: String,
    /// 所属行业: a GB/T 4754-2017 class code from `INDUSTRIES`, or empty
    #[serde(default)]
    pub industry: String,
    /// Free text when the subcategory is not in the list, or to refine it
    #[serde(default)]
    pub industry_note: String,
    /// 通讯地址
    #[serde(default)]
    pub address: String,
    /// 法人代表
    #[serde(default)]
    pub legal_rep: String,
    #[serde(default)]
    pub legal_rep_phone: String,
    /// 信息化负责人
    #[serde(default)]
    pub it_lead: String,
    #[serde(default)]
    pub it_lead_phone: String,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// 主要产品
    #[serde(default)]
    pub main_products: String,
    /// 工艺流程
    #[serde(default)]
    pub process_flow: String,
    /// 改造类型
    #[serde(default)]
    pub enterprise_type: Option<EnterpriseType>,
    /// 上年度产值 (万元)
    #[serde(default)]
    pub output_value_wan: Option<f64>,
    /// 员工人数
    #[serde(default)]
    pub employees: Option<u32>,
    /// 占地面积 (亩)
    #[serde(default)]
    pub area_mu: Option<f64>,
    #[serde(default)]
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Department {
    pub id: u64,
    pub name: String,
    /// 部门负责人 (free text: a name and phone)
    #[serde(default)]
    pub head: String,
}

/// Chemical-industry subcategories of GB/T 4754-2017 (大类 26 化学原料和化学制品制造业,
/// with the neighbours fine-chemical plants also report under). Code → (zh, en).
pub const INDUSTRIES: &[(&str, &str, &str)] = &[
    ("2611", "无机酸制造", "Inorganic acids"),
    ("2612", "无机碱制造", "Inorganic bases"),
    ("2613", "无机盐制造", "Inorganic salts"),
    ("2614", "有机化学原料制造", "Organic chemical raw materials"),
    (
        "2619",
        "其他基础化学原料制造",
        "Other basic chemical raw materials",
    ),
    ("2621", "氮肥制造", "Nitrogen fertilisers"),
    ("2622", "磷肥制造", "Phosphate fertilisers"),
    ("2623", "钾肥制造", "Potash fertilisers"),
    ("2624", "复混肥料制造", "Compound fertilisers"),
    (
        "2625",
        "有机肥料及微生物肥料制造",
        "Organic and microbial fertilisers",
    ),
    ("2629", "其他肥料制造", "Other fertilisers"),
    ("2631", "化学农药制造", "Chemical pesticides"),
    (
        "2632",
        "生物化学农药及微生物农药制造",
        "Biochemical and microbial pesticides",
    ),
    ("2641", "涂料制造", "Paints and coatings"),
    (
        "2642",
        "油墨及类似产品制造",
        "Printing inks and similar products",
    ),
    ("2643", "工业颜料制造", "Industrial pigments"),
    ("2644", "工艺美术颜料制造", "Artists' colours"),
    ("2645", "染料制造", "Dyes"),
    (
        "2646",
        "密封用填料及类似品制造",
        "Sealing fillers and similar products",
    ),
    (
        "2651",
        "初级形态塑料及合成树脂制造",
        "Primary plastics and synthetic resins",
    ),
    ("2652", "合成橡胶制造", "Synthetic rubber"),
    (
        "2653",
        "合成纤维单(聚合)体制造",
        "Synthetic fibre monomers and polymers",
    ),
    ("2659", "其他合成材料制造", "Other synthetic materials"),
    (
        "2661",
        "化学试剂和助剂制造",
        "Chemical reagents and auxiliaries",
    ),
    ("2662", "专项化学用品制造", "Special-purpose chemicals"),
    ("2663", "林产化学产品制造", "Forest chemical products"),
    (
        "2664",
        "文化用信息化学品制造",
        "Information chemicals for culture",
    ),
    (
        "2665",
        "医学生产用信息化学品制造",
        "Information chemicals for medicine",
    ),
    (
        "2666",
        "环境污染处理专用药剂材料制造",
        "Pollution-treatment agents",
    ),
    (
        "2669",
        "其他专用化学产品制造",
        "Other special chemical products (e.g. cement additives)",
    ),
    (
        "2671",
        "炸药及火工产品制造",
        "Explosives and pyrotechnic products",
    ),
    ("2672", "焰火、鞭炮产品制造", "Fireworks and firecrackers"),
    ("2681", "肥皂及洗涤剂制造", "Soaps and detergents"),
    ("2682", "化妆品制造", "Cosmetics"),
    ("2683", "口腔清洁用品制造", "Oral-care products"),
    ("2684", "香料、香精制造", "Flavours and fragrances"),
    (
        "2689",
        "其他日用化学产品制造",
        "Other daily-use chemical products",
    ),
    (
        "2710",
        "化学药品原料药制造",
        "Active pharmaceutical ingredients",
    ),
    ("2821", "纤维素纤维原料及纤维制造", "Cellulose fibres"),
    ("2921", "塑料薄膜制造", "Plastic films"),
];

pub fn industry_name(code: &str, zh: bool) -> Option<&'static str> {
    INDUSTRIES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, z, e)| if zh { *z } else { *e })
}
