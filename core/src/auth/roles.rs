//! The built-in roles. They are rules over module ids and kinds rather than stored grant
//! lists, so a module added later (or a plugin installed) is covered without a migration.

use super::model::{Grants, Levels, Role};
use crate::registry::Kind;

/// Ids of the built-in roles, in the order the console lists them.
pub const BUILTIN: [&str; 8] = [
    "admin",
    "manager",
    "safety",
    "operator",
    "warehouse",
    "maintenance",
    "quality",
    "viewer",
];

pub fn is_builtin(id: &str) -> bool {
    BUILTIN.contains(&id)
}

/// What built-in role `role` grants on module `module` of kind `kind`.
pub fn builtin_levels(role: &str, module: &str, kind: Kind) -> Levels {
    use Levels as L;
    let system = kind == Kind::System;
    match role {
        "admin" => L::ALL,
        "manager" => match (system, module) {
            (true, "audit") => L::READ,
            (true, _) => L::NONE,
            _ => L::READ_APPROVE,
        },
        "viewer" if !system => L::READ,
        _ if system => L::NONE,
        "safety" => match module {
            "safety" => L::ALL,
            _ => L::READ,
        },
        // Operators and maintenance read the safety archive; permits and hazard reports
        // (which they will write) come with their own permissions in the safety module.
        "operator" => match module {
            "automation" | "equipment" => L::RW,
            _ => L::READ,
        },
        "warehouse" => match module {
            // the store keepers scan with the warehouse logistics X module
            "inventory" | "logistics" => L::ALL,
            "safety" | "quality" | "integration" => L::READ,
            _ if kind == Kind::X => L::READ,
            _ => L::NONE,
        },
        "maintenance" => match module {
            "equipment" => L::ALL,
            "safety" | "automation" | "inventory" | "integration" => L::READ,
            _ if kind == Kind::X => L::READ,
            _ => L::NONE,
        },
        // the lab analyses gas for work permits, so quality reads safety too
        "quality" => match module {
            "quality" => L::ALL,
            "inventory" | "automation" | "integration" | "safety" => L::READ,
            _ if kind == Kind::X => L::READ,
            _ => L::NONE,
        },
        _ => L::NONE,
    }
}

/// A built-in role as a `Role` value, its grants expanded over the given modules.
pub fn builtin_role(id: &str, modules: &[(&str, Kind)]) -> Role {
    let grants: Grants = modules
        .iter()
        .map(|(m, k)| (m.to_string(), builtin_levels(id, m, *k)))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    Role {
        id: id.to_string(),
        name_zh: crate::i18n::t(crate::i18n::Lang::ZhCn, &format!("role.{id}")).to_string(),
        name_en: crate::i18n::t(crate::i18n::Lang::En, &format!("role.{id}")).to_string(),
        description: String::new(),
        grants,
        builtin: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::model::Level;

    #[test]
    fn only_admin_administers() {
        for r in BUILTIN {
            let can = builtin_levels(r, "admin", Kind::System).has(Level::Write);
            assert_eq!(can, r == "admin", "{r}");
        }
    }

    #[test]
    fn viewer_reads_but_never_writes() {
        for (m, k) in [
            ("safety", Kind::N),
            ("energy", Kind::X),
            ("quality", Kind::N),
        ] {
            let l = builtin_levels("viewer", m, k);
            assert!(l.has(Level::Read) && !l.has(Level::Write) && !l.has(Level::Approve));
        }
        assert!(builtin_levels("viewer", "audit", Kind::System).is_empty());
    }

    #[test]
    fn specialists_own_their_module() {
        for (r, m) in [
            ("safety", "safety"),
            ("warehouse", "inventory"),
            ("maintenance", "equipment"),
            ("quality", "quality"),
        ] {
            assert_eq!(builtin_levels(r, m, Kind::N), Levels::ALL, "{r}");
        }
        assert!(builtin_levels("operator", "automation", Kind::N).has(Level::Write));
        assert!(!builtin_levels("operator", "automation", Kind::N).has(Level::Approve));
    }
}
