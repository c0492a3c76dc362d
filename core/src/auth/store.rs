//! Tables of users, roles, tokens and sessions. Only `auth::service` writes them.

use super::model::{Role, Session, Token, User};
use crate::store::Table;

pub(super) const USERS: Table<u64, User> = Table::new("auth.users");
/// Lower-case username → user id.
pub(super) const USERNAMES: Table<String, u64> = Table::new("auth.usernames");
/// Custom roles by id (built-ins are code).
pub(super) const ROLES: Table<String, Role> = Table::new("auth.roles");
pub(super) const TOKENS: Table<u64, Token> = Table::new("auth.tokens");
/// SHA-256 of a token secret → token id.
pub(super) const TOKEN_HASHES: Table<String, u64> = Table::new("auth.token_hashes");
/// SHA-256 of a session cookie → session.
pub(super) const SESSIONS: Table<String, Session> = Table::new("auth.sessions");

/// Tables a backup leaves out: sessions are bound to this running box and expire anyway.
pub const TRANSIENT: &[&str] = &[SESSIONS.name];
