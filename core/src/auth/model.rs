//! Users, roles, permissions, API tokens and sessions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::i18n::Lang;

/// What a permission allows within one module (or system area).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// See the module's pages and records.
    Read,
    /// Create and change records.
    Write,
    /// Sign off: approvals, acceptances, releases.
    Approve,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Read, Level::Write, Level::Approve];

    pub fn id(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Approve => "approve",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.id() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of levels, stored as a list (`["read", "write"]`) for readability of exports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<Level>", into = "Vec<Level>")]
pub struct Levels(u8);

impl Levels {
    pub const NONE: Levels = Levels(0);
    pub const READ: Levels = Levels(1);
    pub const RW: Levels = Levels(0b011);
    pub const ALL: Levels = Levels(0b111);
    pub const READ_APPROVE: Levels = Levels(0b101);

    pub fn has(self, l: Level) -> bool {
        self.0 & l.bit() != 0
    }
    pub fn with(self, l: Level) -> Levels {
        Levels(self.0 | l.bit())
    }
    pub fn union(self, o: Levels) -> Levels {
        Levels(self.0 | o.0)
    }
    pub fn intersect(self, o: Levels) -> Levels {
        Levels(self.0 & o.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn list(self) -> Vec<Level> {
        Level::ALL.into_iter().filter(|l| self.has(*l)).collect()
    }
}

impl From<Vec<Level>> for Levels {
    fn from(v: Vec<Level>) -> Levels {
        v.into_iter().fold(Levels::NONE, Levels::with)
    }
}

impl From<Levels> for Vec<Level> {
    fn from(l: Levels) -> Vec<Level> {
        l.list()
    }
}

/// Module id → granted levels.
pub type Grants = BTreeMap<String, Levels>;

/// A person who signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    /// Login name: lower-case ASCII letters, digits, `.`, `_`, `-`.
    pub username: String,
    /// Name shown in the UI and on signatures (usually Chinese).
    pub display_name: String,
    #[serde(default)]
    pub department_id: Option<u64>,
    /// Role ids (built-in like `safety`, or custom).
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    pub enabled: bool,
    /// Set when an admin sets the password; the user must choose a new one at next login.
    #[serde(default)]
    pub must_change_password: bool,
    /// argon2id PHC string.
    pub password_hash: String,
    #[serde(default)]
    pub lang: Option<Lang>,
    pub created_ms: i64,
    #[serde(default)]
    pub password_changed_ms: i64,
    #[serde(default)]
    pub last_login_ms: Option<i64>,
}

/// A role: a named bundle of grants. Built-in roles live in code (`roles.rs`) so new modules
/// extend them automatically; custom roles live in `auth.roles`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    /// `admin`, `safety`… for built-ins; a lower-case slug for custom roles.
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub grants: Grants,
    #[serde(default)]
    pub builtin: bool,
}

/// An API token for machines (gate controllers, ERP, scripts). Only its hash is stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub id: u64,
    pub name: String,
    /// The first characters of the secret, to recognise it in lists (`nxt_AbC1…`).
    pub prefix: String,
    /// SHA-256 of the whole secret.
    pub hash: String,
    pub grants: Grants,
    pub created_ms: i64,
    pub created_by: String,
    #[serde(default)]
    pub expires_ms: Option<i64>,
    #[serde(default)]
    pub last_used_ms: Option<i64>,
    #[serde(default)]
    pub revoked_ms: Option<i64>,
}

impl Token {
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_ms.is_none() && self.expires_ms.is_none_or(|e| e > now)
    }
}

/// A browser session. Keyed by the SHA-256 of the cookie value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user_id: u64,
    /// Synchroniser token every state-changing form and request must echo.
    pub csrf: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: String,
}
