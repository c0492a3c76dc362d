//! The guide's module list (附件2 化工行业数字化改造达标指南) as data: each module's row,
//! kind, which enterprise types must have it (三(二) 改造要求), and its requirement items,
//! which the compliance page checks one by one.

use super::Kind;
use crate::org::EnterpriseType;
use crate::org::EnterpriseType::{InPark, NewEntrant, OutsidePark, Relocated};

#[derive(Debug)]
pub struct GuideEntry {
    pub id: &'static str,
    /// Row number (序号) in 附件2.
    pub row: u8,
    pub kind: Kind,
    /// Enterprise types whose acceptance requires the module.
    pub required_for: &'static [EnterpriseType],
    /// Catalogue keys of the requirement items (the row's 主要内容, split).
    pub items: &'static [&'static str],
}

impl GuideEntry {
    /// Catalogue key of the module name.
    pub fn name_key(&self) -> String {
        format!("module.{}.name", self.id)
    }
    /// Catalogue key of the guide text (主要内容).
    pub fn requirement_key(&self) -> String {
        format!("module.{}.requirement", self.id)
    }
}

const ALL_TYPES: &[EnterpriseType] = &[InPark, NewEntrant, Relocated, OutsidePark];
/// "化工园区外企业: 完成N中安全生产部分" — every other N module is required of the other three.
const PARK_TYPES: &[EnterpriseType] = &[InPark, NewEntrant, Relocated];

pub const GUIDE: &[GuideEntry] = &[
    GuideEntry {
        id: "safety",
        row: 1,
        kind: Kind::N,
        required_for: ALL_TYPES,
        items: &[
            "module.safety.item.archive",
            "module.safety.item.permits",
            "module.safety.item.duty",
            "module.safety.item.tracking",
        ],
    },
    GuideEntry {
        id: "automation",
        row: 2,
        kind: Kind::N,
        required_for: PARK_TYPES,
        items: &["module.automation.item.process"],
    },
    GuideEntry {
        id: "inventory",
        row: 3,
        kind: Kind::N,
        required_for: PARK_TYPES,
        items: &[
            "module.inventory.item.purchase",
            "module.inventory.item.sales",
            "module.inventory.item.stock",
        ],
    },
    GuideEntry {
        id: "equipment",
        row: 4,
        kind: Kind::N,
        required_for: PARK_TYPES,
        items: &[
            "module.equipment.item.condition",
            "module.equipment.item.ledger",
            "module.equipment.item.documents",
            "module.equipment.item.spares",
            "module.equipment.item.mobile",
        ],
    },
    GuideEntry {
        id: "quality",
        row: 5,
        kind: Kind::N,
        required_for: PARK_TYPES,
        items: &[
            "module.quality.item.records",
            "module.quality.item.formulas",
            "module.quality.item.judgement",
        ],
    },
    GuideEntry {
        id: "integration",
        row: 6,
        kind: Kind::N,
        required_for: PARK_TYPES,
        items: &[
            "module.integration.item.realtime",
            "module.integration.item.business",
            "module.integration.item.video",
        ],
    },
    GuideEntry {
        id: "energy",
        row: 7,
        kind: Kind::X,
        required_for: &[],
        items: &["module.energy.item.metering"],
    },
    GuideEntry {
        id: "visualization",
        row: 8,
        kind: Kind::X,
        required_for: &[],
        items: &["module.visualization.item.boards"],
    },
    GuideEntry {
        id: "logistics",
        row: 9,
        kind: Kind::X,
        required_for: &[],
        items: &["module.logistics.item.warehouse"],
    },
    GuideEntry {
        id: "digital_twin",
        row: 10,
        kind: Kind::X,
        required_for: &[],
        items: &[],
    },
    GuideEntry {
        id: "remote_maintenance",
        row: 10,
        kind: Kind::X,
        required_for: &[],
        items: &[],
    },
    GuideEntry {
        id: "cloud",
        row: 10,
        kind: Kind::X,
        required_for: &[],
        items: &[],
    },
    GuideEntry {
        id: "bi",
        row: 10,
        kind: Kind::X,
        required_for: &[],
        items: &[],
    },
];

pub fn entry(id: &str) -> Option<&'static GuideEntry> {
    GUIDE.iter().find(|g| g.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_n_modules_and_every_text_exists() {
        assert_eq!(GUIDE.iter().filter(|g| g.kind == Kind::N).count(), 6);
        for g in GUIDE {
            assert!(crate::i18n::has(&g.name_key()), "{}", g.name_key());
            assert!(
                crate::i18n::has(&g.requirement_key()),
                "{}",
                g.requirement_key()
            );
            for i in g.items {
                assert!(crate::i18n::has(i), "{i}");
            }
        }
    }

    #[test]
    fn outside_park_needs_only_safety() {
        let needed: Vec<_> = GUIDE
            .iter()
            .filter(|g| g.required_for.contains(&OutsidePark))
            .map(|g| g.id)
            .collect();
        assert_eq!(needed, vec!["safety"]);
    }
}
