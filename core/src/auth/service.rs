//! The rules of users, roles, tokens and sessions; the only writer of `auth.*`.
//!
//! Password hashing (argon2id) is deliberately slow: call the functions that hash or verify
//! from a blocking context (`web::block`), never directly on an async worker.

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::model::{Grants, Level, Levels, Role, Session, Token, User};
use super::roles;
use super::store::{ROLES, SESSIONS, TOKEN_HASHES, TOKENS, USERNAMES, USERS};
use super::throttle::{Refusal, Throttle};
use crate::config;
use crate::error::{self, Error, Result};
use crate::i18n::{Lang, Msg};
use crate::registry::Kind;
use crate::store::{Actor, Change, Reader, Store};
use crate::util::{self, now_ms};

/// Prefix of every API token secret, so leaked tokens are recognisable by scanners.
pub const TOKEN_PREFIX: &str = "nxt_";

/// A module or system area permissions can name: `(id, kind)`.
pub type ModuleRef<'a> = (&'a str, Kind);

// ---------------------------------------------------------------- passwords

pub fn hash_password(pw: &str) -> Result<String> {
    argon2::Argon2::default()
        .hash_password(pw.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| Error::invalid("password", "auth.err.password_unusable"))
}

fn verify_password(pw: &str, hash: &str) -> bool {
    argon2::Argon2::default()
        .verify_password(pw.as_bytes(), hash)
        .is_ok()
}

/// A hash of a random password, verified against when the username is unknown so that a
/// failed login costs the same time either way (no user enumeration by timing).
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash_password(&util::random_secret()).expect("hashing a random password works")
});

const COMMON_PASSWORDS: &[&str] = &[
    "12345678",
    "123456789",
    "1234567890",
    "password",
    "password1",
    "qwertyui",
    "11111111",
    "88888888",
    "66666666",
    "abcd1234",
    "a1234567",
    "aa123456",
    "admin123",
    "admin1234",
    "iloveyou",
    "woaini1314",
    "00000000",
    "123123123",
    "qwe12345",
    "1qaz2wsx",
];

/// Password rules: 8–128 characters, not the username, not a well-known password.
pub fn check_password_policy(username: &str, pw: &str) -> Result<()> {
    let n = pw.chars().count();
    if n < 8 {
        return Err(Error::invalid("password", "auth.err.password_short"));
    }
    if n > 128 {
        return Err(Error::invalid("password", "auth.err.password_long"));
    }
    let lower = pw.to_lowercase();
    if lower == username.to_lowercase() || COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err(Error::invalid("password", "auth.err.password_weak"));
    }
    Ok(())
}

fn check_username(name: &str) -> Result<String> {
    let name = name.trim().to_lowercase();
    let ok = (2..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Err(Error::invalid("username", "auth.err.username"));
    }
    Ok(name)
}

// ---------------------------------------------------------------- users

pub fn users(r: &impl Reader) -> Result<Vec<User>> {
    Ok(r.values(&USERS)?)
}

pub fn user(r: &impl Reader, id: u64) -> Result<Option<User>> {
    Ok(r.get(&USERS, &id)?)
}

pub fn user_by_name(r: &impl Reader, username: &str) -> Result<Option<User>> {
    match r.get(&USERNAMES, &username.trim().to_lowercase())? {
        Some(id) => user(r, id),
        None => Ok(None),
    }
}

/// Who records name (an actor's label, `user:wu.lihua`) as people read it (`吴丽华`), for
/// pages that show who did what; read once per page.
pub struct People(BTreeMap<String, String>);

impl People {
    pub fn load(r: &impl Reader) -> Result<People> {
        Ok(People(
            users(r)?
                .into_iter()
                .map(|u| (format!("user:{}", u.username), u.display_name))
                .collect(),
        ))
    }

    /// A user's display name; a plugin, token or the system by the name after its kind.
    pub fn of(&self, label: &str) -> String {
        match self.0.get(label) {
            Some(n) => n.clone(),
            None => label
                .split_once(':')
                .map_or(label, |(_, name)| name)
                .to_string(),
        }
    }
}

/// How many users belong to a department (for `org::service::delete_department`).
pub fn users_in_department(r: &impl Reader, department: u64) -> Result<usize> {
    Ok(users(r)?
        .iter()
        .filter(|u| u.department_id == Some(department))
        .count())
}

/// What an admin fills in for a new user.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password: String,
    #[serde(default)]
    pub department_id: Option<u64>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    /// Ask the user to choose their own password at first login (default true).
    #[serde(default = "yes")]
    pub must_change_password: bool,
}

fn yes() -> bool {
    true
}

/// Changes an admin makes to an existing user (not the password).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct UserUpdate {
    pub display_name: String,
    #[serde(default)]
    pub department_id: Option<u64>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    pub enabled: bool,
}

/// What the audit log shows of a user: never the password hash.
pub fn user_summary(u: &User) -> serde_json::Value {
    serde_json::json!({
        "username": u.username,
        "display_name": u.display_name,
        "department_id": u.department_id,
        "roles": u.roles,
        "phone": u.phone,
        "email": u.email,
        "enabled": u.enabled,
    })
}

fn check_email(v: &str) -> Result<String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    let ok = v.len() <= 100
        && v.split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.starts_with('.'))
        && !v.contains(char::is_whitespace);
    if !ok {
        return Err(Error::invalid("email", "common.err.email"));
    }
    Ok(v.to_string())
}

fn check_roles(r: &impl Reader, ids: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        let id = id.trim();
        if id.is_empty() || out.iter().any(|x| x == id) {
            continue;
        }
        if !roles::is_builtin(id) && r.get(&ROLES, &id.to_string())?.is_none() {
            return Err(Error::invalid_msg(
                "roles",
                Msg::new("auth.err.role_unknown").arg("role", id),
            ));
        }
        out.push(id.to_string());
    }
    Ok(out)
}

fn check_department(r: &impl Reader, d: Option<u64>) -> Result<Option<u64>> {
    match d {
        Some(id) if crate::org::service::department(r, id)?.is_none() => Err(Error::invalid(
            "department_id",
            "org.err.department_not_found",
        )),
        other => Ok(other),
    }
}

pub fn create_user(store: &Store, actor: &Actor, new: NewUser) -> Result<User> {
    let username = check_username(&new.username)?;
    let display_name = error::text("display_name", &new.display_name, 50, true)?;
    check_password_policy(&username, &new.password)?;
    let phone = error::phone("phone", &new.phone)?;
    let email = check_email(&new.email)?;
    let password_hash = hash_password(&new.password)?;
    let mut w = store.write(actor)?;
    if w.get(&USERNAMES, &username)?.is_some() {
        return Err(Error::invalid_msg(
            "username",
            Msg::new("auth.err.username_taken").arg("username", &username),
        ));
    }
    let roles = check_roles(&w, &new.roles)?;
    let department_id = check_department(&w, new.department_id)?;
    let now = now_ms();
    let u = User {
        id: w.next_id(&USERS)?,
        username,
        display_name,
        department_id,
        roles,
        phone,
        email,
        enabled: true,
        must_change_password: new.must_change_password,
        password_hash,
        lang: None,
        created_ms: now,
        password_changed_ms: now,
        last_login_ms: None,
    };
    w.insert(&USERS, &u.id, &u)?;
    w.insert(&USERNAMES, &u.username, &u.id)?;
    w.audit(
        "auth.user.create",
        format!("user:{} {}", u.id, u.username),
        Change::created(user_summary(&u)),
    );
    w.commit()?;
    Ok(u)
}

pub fn update_user(store: &Store, actor: &Actor, id: u64, up: UserUpdate) -> Result<User> {
    let display_name = error::text("display_name", &up.display_name, 50, true)?;
    let phone = error::phone("phone", &up.phone)?;
    let email = check_email(&up.email)?;
    let mut w = store.write(actor)?;
    let before = w
        .get(&USERS, &id)?
        .ok_or_else(|| Error::not_found("auth.err.user_not_found"))?;
    let roles = check_roles(&w, &up.roles)?;
    let department_id = check_department(&w, up.department_id)?;
    // Never lock everyone out: the last enabled admin keeps the role and stays enabled.
    let was_admin = before.enabled && before.roles.iter().any(|r| r == "admin");
    let stays_admin = up.enabled && roles.iter().any(|r| r == "admin");
    if was_admin && !stays_admin && enabled_admins(&w)? <= 1 {
        return Err(Error::conflict("auth.err.last_admin"));
    }
    let u = User {
        display_name,
        department_id,
        roles,
        phone,
        email,
        enabled: up.enabled,
        ..before.clone()
    };
    w.insert(&USERS, &id, &u)?;
    if !u.enabled {
        remove_sessions_of(&mut w, id)?;
    }
    w.audit(
        "auth.user.update",
        format!("user:{} {}", u.id, u.username),
        Change::updated(user_summary(&before), user_summary(&u)),
    );
    w.commit()?;
    Ok(u)
}

fn enabled_admins(r: &impl Reader) -> Result<usize> {
    Ok(users(r)?
        .iter()
        .filter(|u| u.enabled && u.roles.iter().any(|r| r == "admin"))
        .count())
}

fn remove_sessions_of(w: &mut crate::store::WriteTx, user_id: u64) -> Result<usize> {
    let ids: Vec<String> = w
        .all(&SESSIONS)?
        .into_iter()
        .filter(|(_, s)| s.user_id == user_id)
        .map(|(k, _)| k)
        .collect();
    for k in &ids {
        w.remove(&SESSIONS, k)?;
    }
    Ok(ids.len())
}

/// Replaces a user's password hash inside a write; returns the updated user.
fn store_password(
    w: &mut crate::store::WriteTx,
    id: u64,
    hash: String,
    must_change: bool,
) -> Result<User> {
    let mut u = w
        .get(&USERS, &id)?
        .ok_or_else(|| Error::not_found("auth.err.user_not_found"))?;
    u.password_hash = hash;
    u.must_change_password = must_change;
    u.password_changed_ms = now_ms();
    w.insert(&USERS, &id, &u)?;
    Ok(u)
}

/// An admin sets someone's password (forgotten password, first login). Ends their sessions.
pub fn set_password(
    store: &Store,
    actor: &Actor,
    id: u64,
    pw: &str,
    must_change: bool,
) -> Result<()> {
    let u = user(&store.read()?, id)?.ok_or_else(|| Error::not_found("auth.err.user_not_found"))?;
    check_password_policy(&u.username, pw)?;
    let mut w = store.write(actor)?;
    let u = store_password(&mut w, id, hash_password(pw)?, must_change)?;
    let ended = remove_sessions_of(&mut w, id)?;
    w.audit(
        "auth.user.password_set",
        format!("user:{} {}", u.id, u.username),
        Change::created(serde_json::json!({ "must_change": must_change, "sessions_ended": ended })),
    );
    w.commit()?;
    Ok(())
}

/// A user changes their own password; the old one must be right. Other sessions end,
/// the current one (`keep_session`, a session key hash) stays.
pub fn change_own_password(
    store: &Store,
    actor: &Actor,
    id: u64,
    old: &str,
    new: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    let u = user(&store.read()?, id)?.ok_or_else(|| Error::not_found("auth.err.user_not_found"))?;
    if !verify_password(old, &u.password_hash) {
        return Err(Error::invalid("old_password", "auth.err.old_password"));
    }
    if old == new {
        return Err(Error::invalid("password", "auth.err.password_same"));
    }
    check_password_policy(&u.username, new)?;
    let mut w = store.write(actor)?;
    let u = store_password(&mut w, id, hash_password(new)?, false)?;
    let others: Vec<String> = w
        .all(&SESSIONS)?
        .into_iter()
        .filter(|(k, s)| s.user_id == id && Some(k.as_str()) != keep_session)
        .map(|(k, _)| k)
        .collect();
    for k in &others {
        w.remove(&SESSIONS, k)?;
    }
    w.audit(
        "auth.user.password_change",
        format!("user:{} {}", u.id, u.username),
        Change::created(serde_json::json!({ "other_sessions_ended": others.len() })),
    );
    w.commit()?;
    Ok(())
}

/// Remembers a user's language choice.
pub fn set_language(store: &Store, actor: &Actor, id: u64, lang: Lang) -> Result<()> {
    let mut w = store.write(actor)?;
    let Some(mut u) = w.get(&USERS, &id)? else {
        return Ok(());
    };
    if u.lang == Some(lang) {
        return Ok(());
    }
    let before = u.lang;
    u.lang = Some(lang);
    w.insert(&USERS, &id, &u)?;
    w.audit(
        "auth.user.language",
        format!("user:{} {}", u.id, u.username),
        Change::updated(before.map(|l| l.code()), lang.code()),
    );
    w.commit()?;
    Ok(())
}

// ---------------------------------------------------------------- sessions

/// A successful login: the cookie value (shown to the browser once) and the session.
pub struct LoggedIn {
    pub secret: String,
    pub session: Session,
    pub user: User,
}

/// Longest username or password a login attempt may carry (longer ones fail without being
/// hashed or stored: an argon2 of megabytes, or megabytes in the audit log, is an attack).
const MAX_LOGIN_FIELD: usize = 256;

/// Checks a username and password under the login throttle and opens a session.
pub fn login(
    store: &Store,
    throttle: &Throttle,
    username: &str,
    password: &str,
    ip: Option<String>,
    user_agent: &str,
) -> Result<LoggedIn> {
    let name: String = username.trim().to_lowercase().chars().take(64).collect();
    let keys = super::throttle::keys(&name, ip.as_deref());
    let now = now_ms();
    match throttle.begin(&keys, now) {
        Ok(()) => {}
        Err(Refusal::Wait(s)) => {
            tracing::info!(username = %name, ip = ?ip, wait_s = s, "login attempt refused: slow down");
            return Err(Error::TooMany {
                msg: Msg::new("auth.err.slow_down").arg("s", s),
                retry_after_s: s,
            });
        }
        Err(Refusal::Locked(s)) => {
            tracing::warn!(username = %name, ip = ?ip, locked_s = s, "login attempt refused: locked");
            return Err(Error::TooMany {
                msg: Msg::new("auth.err.locked").arg("m", s.div_ceil(60)),
                retry_after_s: s,
            });
        }
    }
    // the reserved attempt is settled whatever happens below
    let result = check_login(store, &name, username.len(), password);
    let now = now_ms();
    match result {
        Ok(user) => {
            throttle.finish(&keys, now, true);
            open_session(store, user, ip, user_agent, now)
        }
        Err(LoginFailure::Denied(reason)) => {
            let locked = throttle.finish(&keys, now, false);
            tracing::warn!(username = %name, ip = ?ip, reason, "login failed");
            let mut w = store.write(&Actor::anonymous(ip.clone()))?;
            w.audit(
                "auth.login_failed",
                format!("user:{name}"),
                Change::created(serde_json::json!({ "reason": reason })),
            );
            for k in &locked {
                tracing::warn!(key = %k, "login locked after repeated failures");
                w.audit("auth.locked", k, Change::none());
            }
            w.commit()?;
            Err(Error::Unauthorized(Msg::new("auth.err.login_failed")))
        }
        Err(LoginFailure::Store(e)) => {
            throttle.finish(&keys, now, false);
            Err(e)
        }
    }
}

enum LoginFailure {
    Denied(&'static str),
    Store(Error),
}

fn check_login(
    store: &Store,
    name: &str,
    raw_len: usize,
    password: &str,
) -> Result<User, LoginFailure> {
    if raw_len > MAX_LOGIN_FIELD || password.len() > MAX_LOGIN_FIELD {
        return Err(LoginFailure::Denied("oversized"));
    }
    let found = store
        .read()
        .map_err(|e| LoginFailure::Store(e.into()))
        .and_then(|r| user_by_name(&r, name).map_err(LoginFailure::Store))?;
    match found {
        None => {
            let _ = verify_password(password, &DUMMY_HASH);
            Err(LoginFailure::Denied("unknown_user"))
        }
        Some(u) if !verify_password(password, &u.password_hash) => {
            Err(LoginFailure::Denied("wrong_password"))
        }
        Some(u) if !u.enabled => Err(LoginFailure::Denied("disabled")),
        Some(u) => Ok(u),
    }
}

fn open_session(
    store: &Store,
    user: User,
    ip: Option<String>,
    user_agent: &str,
    now: i64,
) -> Result<LoggedIn> {
    let secret = util::random_secret();
    let session = Session {
        user_id: user.id,
        csrf: util::random_secret(),
        created_ms: now,
        last_seen_ms: now,
        ip: ip.clone(),
        user_agent: user_agent.chars().take(200).collect(),
    };
    let mut w = store.write(&Actor::user(user.id, &user.username, ip))?;
    w.insert(&SESSIONS, &util::sha256_hex(&secret), &session)?;
    let mut u = user;
    u.last_login_ms = Some(now);
    w.insert(&USERS, &u.id, &u)?;
    w.audit(
        "auth.login",
        format!("user:{} {}", u.id, u.username),
        Change::none(),
    );
    w.commit()?;
    Ok(LoggedIn {
        secret,
        session,
        user: u,
    })
}

/// Lifts sign-in locks of an account (admin action, audited).
pub fn unlock(
    store: &Store,
    throttle: &Throttle,
    actor: &Actor,
    username: &str,
) -> Result<Vec<String>> {
    let name = username.trim().to_lowercase();
    let lifted = throttle.unlock_user(&name, now_ms());
    let mut w = store.write(actor)?;
    w.audit(
        "auth.unlock",
        format!("user:{name}"),
        Change::created(serde_json::json!({ "locks_lifted": lifted })),
    );
    w.commit()?;
    Ok(lifted)
}

/// The live session for a cookie value, or None when unknown, expired or its user disabled.
/// Expired sessions are removed; `last_seen` is refreshed at most once a minute.
pub fn session(
    store: &Store,
    cfg: &config::Session,
    secret: &str,
) -> Result<Option<(String, Session, User)>> {
    let key = util::sha256_hex(secret);
    let r = store.read()?;
    let Some(s) = r.get(&SESSIONS, &key)? else {
        return Ok(None);
    };
    let now = now_ms();
    let idle = now - s.last_seen_ms > cfg.idle_minutes as i64 * 60_000;
    let old = now - s.created_ms > cfg.max_hours as i64 * 3_600_000;
    let user = user(&r, s.user_id)?.filter(|u| u.enabled);
    drop(r);
    if idle || old || user.is_none() {
        let mut w = store.write(&Actor::system("session"))?;
        w.remove(&SESSIONS, &key)?;
        w.commit()?;
        return Ok(None);
    }
    if now - s.last_seen_ms > 60_000 {
        let mut w = store.write(&Actor::system("session"))?;
        let touched = Session {
            last_seen_ms: now,
            ..s.clone()
        };
        w.insert(&SESSIONS, &key, &touched)?;
        w.commit()?;
    }
    Ok(Some((key, s, user.expect("checked above"))))
}

pub fn logout(store: &Store, actor: &Actor, session_key: &str) -> Result<()> {
    let mut w = store.write(actor)?;
    if w.remove(&SESSIONS, &session_key.to_string())?.is_some() {
        w.audit("auth.logout", actor.label(), Change::none());
    }
    w.commit()?;
    Ok(())
}

/// Drops every session past its limits; run periodically.
pub fn purge_sessions(store: &Store, cfg: &config::Session) -> Result<usize> {
    let now = now_ms();
    let mut w = store.write(&Actor::system("session"))?;
    let dead: Vec<String> = w
        .all(&SESSIONS)?
        .into_iter()
        .filter(|(_, s)| {
            now - s.last_seen_ms > cfg.idle_minutes as i64 * 60_000
                || now - s.created_ms > cfg.max_hours as i64 * 3_600_000
        })
        .map(|(k, _)| k)
        .collect();
    for k in &dead {
        w.remove(&SESSIONS, k)?;
    }
    w.commit()?;
    Ok(dead.len())
}

// ---------------------------------------------------------------- roles

/// Every role, built-ins first, with built-in grants expanded over `modules`.
pub fn roles(r: &impl Reader, modules: &[ModuleRef]) -> Result<Vec<Role>> {
    let mut out: Vec<Role> = roles::BUILTIN
        .iter()
        .map(|id| roles::builtin_role(id, modules))
        .collect();
    out.extend(r.all(&ROLES)?.into_iter().map(|(_, r)| r));
    Ok(out)
}

pub fn role(r: &impl Reader, id: &str, modules: &[ModuleRef]) -> Result<Option<Role>> {
    if roles::is_builtin(id) {
        return Ok(Some(roles::builtin_role(id, modules)));
    }
    Ok(r.get(&ROLES, &id.to_string())?)
}

/// What an admin submits for a custom role.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct RoleInput {
    /// Ignored on update (the id is in the path).
    #[serde(default)]
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    #[serde(default)]
    pub description: String,
    /// Module id → levels.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub grants: BTreeMap<String, Vec<Level>>,
}

fn clean_grants(g: &BTreeMap<String, Vec<Level>>, modules: &[ModuleRef]) -> Result<Grants> {
    let mut out = Grants::new();
    for (m, levels) in g {
        if !modules.iter().any(|(id, _)| id == m) {
            return Err(Error::invalid_msg(
                "grants",
                Msg::new("auth.err.module_unknown").arg("module", m),
            ));
        }
        let l: Levels = levels.clone().into();
        if !l.is_empty() {
            out.insert(m.clone(), l);
        }
    }
    Ok(out)
}

/// Creates (`create`) or replaces a custom role.
pub fn save_role(
    store: &Store,
    actor: &Actor,
    input: RoleInput,
    create: bool,
    modules: &[ModuleRef],
) -> Result<Role> {
    let id = input.id.trim().to_lowercase();
    let id_ok = (2..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !id_ok {
        return Err(Error::invalid("id", "auth.err.role_id"));
    }
    if roles::is_builtin(&id) {
        return Err(Error::invalid("id", "auth.err.role_builtin"));
    }
    let role = Role {
        id: id.clone(),
        name_zh: error::text("name_zh", &input.name_zh, 50, true)?,
        name_en: error::text("name_en", &input.name_en, 50, true)?,
        description: error::text("description", &input.description, 500, false)?,
        grants: clean_grants(&input.grants, modules)?,
        builtin: false,
    };
    let mut w = store.write(actor)?;
    let before = w.get(&ROLES, &id)?;
    match (&before, create) {
        (Some(_), true) => return Err(Error::invalid("id", "auth.err.role_exists")),
        (None, false) => return Err(Error::not_found("auth.err.role_not_found")),
        _ => {}
    }
    w.insert(&ROLES, &id, &role)?;
    match before {
        None => w.audit(
            "auth.role.create",
            format!("role:{id}"),
            Change::created(&role),
        ),
        Some(b) => w.audit(
            "auth.role.update",
            format!("role:{id}"),
            Change::updated(&b, &role),
        ),
    }
    w.commit()?;
    Ok(role)
}

pub fn delete_role(store: &Store, actor: &Actor, id: &str) -> Result<()> {
    if roles::is_builtin(id) {
        return Err(Error::conflict("auth.err.role_builtin"));
    }
    let mut w = store.write(actor)?;
    let holders = users(&w)?
        .iter()
        .filter(|u| u.roles.iter().any(|r| r == id))
        .count();
    if holders > 0 {
        return Err(Error::Conflict(
            Msg::new("auth.err.role_in_use").arg("n", holders),
        ));
    }
    let before = w
        .remove(&ROLES, &id.to_string())?
        .ok_or_else(|| Error::not_found("auth.err.role_not_found"))?;
    w.audit(
        "auth.role.delete",
        format!("role:{id}"),
        Change::deleted(&before),
    );
    w.commit()?;
    Ok(())
}

/// The union of the grants of a user's roles. Resolved per request, so a role change takes
/// effect on the user's next click.
pub fn user_grants(r: &impl Reader, u: &User, modules: &[ModuleRef]) -> Result<Grants> {
    let mut g = Grants::new();
    for id in &u.roles {
        if let Some(role) = role(r, id, modules)? {
            for (m, l) in role.grants {
                let e = g.entry(m).or_default();
                *e = e.union(l);
            }
        }
    }
    Ok(g)
}

// ---------------------------------------------------------------- tokens

pub fn tokens(r: &impl Reader) -> Result<Vec<Token>> {
    Ok(r.values(&TOKENS)?)
}

/// What an admin submits for a new token.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub grants: BTreeMap<String, Vec<Level>>,
    /// Days until it expires; none = never.
    #[serde(default)]
    pub expires_days: Option<u32>,
}

/// Creates a token. The returned secret is shown once and never stored. `secret` fixes the
/// value (the bootstrap token); it must be at least 24 characters.
pub fn create_token(
    store: &Store,
    actor: &Actor,
    new: NewToken,
    secret: Option<String>,
    modules: &[ModuleRef],
) -> Result<(Token, String)> {
    let name = error::text("name", &new.name, 64, true)?;
    let grants = clean_grants(&new.grants, modules)?;
    if grants.is_empty() {
        return Err(Error::invalid("grants", "auth.err.token_no_grants"));
    }
    let secret = match secret {
        Some(s) if s.len() < 24 || s.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            return Err(Error::invalid("token", "auth.err.bootstrap_token_weak"));
        }
        Some(s) => s,
        None => format!("{TOKEN_PREFIX}{}", util::random_secret()),
    };
    let hash = util::sha256_hex(&secret);
    let now = now_ms();
    let mut w = store.write(actor)?;
    if w.get(&TOKEN_HASHES, &hash)?.is_some() {
        return Err(Error::conflict("auth.err.token_exists"));
    }
    let t = Token {
        id: w.next_id(&TOKENS)?,
        name,
        // enough to recognise it, too little to matter: "nxt_" + 4, or 4 of a chosen secret
        prefix: match secret.strip_prefix(TOKEN_PREFIX) {
            Some(rest) => format!("{TOKEN_PREFIX}{}", rest.chars().take(4).collect::<String>()),
            None => secret.chars().take(4).collect(),
        },
        hash: hash.clone(),
        grants,
        created_ms: now,
        created_by: actor.label(),
        expires_ms: new.expires_days.map(|d| now + d as i64 * 86_400_000),
        last_used_ms: None,
        revoked_ms: None,
    };
    w.insert(&TOKENS, &t.id, &t)?;
    w.insert(&TOKEN_HASHES, &hash, &t.id)?;
    w.audit(
        "auth.token.create",
        format!("token:{} {}", t.id, t.name),
        Change::created(serde_json::json!({
            "name": t.name, "prefix": t.prefix, "grants": t.grants, "expires_ms": t.expires_ms,
        })),
    );
    w.commit()?;
    Ok((t, secret))
}

pub fn revoke_token(store: &Store, actor: &Actor, id: u64) -> Result<Token> {
    let mut w = store.write(actor)?;
    let mut t = w
        .get(&TOKENS, &id)?
        .ok_or_else(|| Error::not_found("auth.err.token_not_found"))?;
    if t.revoked_ms.is_none() {
        t.revoked_ms = Some(now_ms());
        w.insert(&TOKENS, &id, &t)?;
        w.remove(&TOKEN_HASHES, &t.hash)?;
        w.audit(
            "auth.token.revoke",
            format!("token:{} {}", t.id, t.name),
            Change::none(),
        );
    }
    w.commit()?;
    Ok(t)
}

/// The active token for a presented secret. Records when it was last used (at most once a
/// minute, so a busy integration does not write on every request).
pub fn token_by_secret(store: &Store, secret: &str) -> Result<Option<Token>> {
    let hash = util::sha256_hex(secret);
    let r = store.read()?;
    let Some(id) = r.get(&TOKEN_HASHES, &hash)? else {
        return Ok(None);
    };
    let Some(t) = r.get(&TOKENS, &id)? else {
        return Ok(None);
    };
    drop(r);
    let now = now_ms();
    if !t.is_active(now) {
        return Ok(None);
    }
    if t.last_used_ms.is_none_or(|l| now - l > 60_000) {
        let mut w = store.write(&Actor::system("token"))?;
        let used = Token {
            last_used_ms: Some(now),
            ..t.clone()
        };
        w.insert(&TOKENS, &id, &used)?;
        w.commit()?;
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    const MODS: &[ModuleRef] = &[
        ("admin", Kind::System),
        ("audit", Kind::System),
        ("safety", Kind::N),
    ];

    fn admin(s: &Store) -> User {
        create_user(
            s,
            &Actor::system("t"),
            NewUser {
                username: "Admin".into(),
                display_name: "管理员".into(),
                password: "correct horse".into(),
                roles: vec!["admin".into()],
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn throttle() -> Throttle {
        Throttle::new(config::Login::default())
    }

    #[test]
    fn login_opens_a_session_and_wrong_password_does_not() {
        let (_d, s) = temp_store();
        let u = admin(&s);
        assert_eq!(u.username, "admin");
        let th = throttle();
        let err = login(&s, &th, "admin", "wrong", None, "").err().unwrap();
        assert!(matches!(err, Error::Unauthorized(_)));
        let ok = login(&s, &th, "ADMIN ", "correct horse", None, "ua").unwrap();
        let cfg = config::Session::default();
        let (_, sess, user) = session(&s, &cfg, &ok.secret).unwrap().unwrap();
        assert_eq!(user.id, u.id);
        assert_eq!(sess.csrf, ok.session.csrf);
        assert!(session(&s, &cfg, "forged").unwrap().is_none());
        let log = crate::store::audit::search(&s.read().unwrap(), &Default::default(), 10).unwrap();
        assert_eq!(log[0].action, "auth.login");
        assert_eq!(log[1].action, "auth.login_failed");
    }

    #[test]
    fn idle_and_old_sessions_expire() {
        let (_d, s) = temp_store();
        admin(&s);
        let cfg = config::Session {
            idle_minutes: 30,
            max_hours: 12,
        };
        let ok = login(&s, &throttle(), "admin", "correct horse", None, "").unwrap();
        let key = util::sha256_hex(&ok.secret);
        let age = |s: &Store, idle_ms: i64, age_ms: i64| {
            let mut w = s.write(&Actor::system("t")).unwrap();
            let mut sess = w.get(&SESSIONS, &key).unwrap().unwrap();
            sess.last_seen_ms = now_ms() - idle_ms;
            sess.created_ms = now_ms() - age_ms;
            w.insert(&SESSIONS, &key, &sess).unwrap();
            w.commit().unwrap();
        };
        age(&s, 29 * 60_000, 60_000);
        assert!(
            session(&s, &cfg, &ok.secret).unwrap().is_some(),
            "29 idle minutes is fine"
        );
        age(&s, 31 * 60_000, 60_000);
        assert!(
            session(&s, &cfg, &ok.secret).unwrap().is_none(),
            "31 idle minutes is not"
        );
        assert!(
            s.read().unwrap().get(&SESSIONS, &key).unwrap().is_none(),
            "and it is removed"
        );

        let ok = login(&s, &throttle(), "admin", "correct horse", None, "").unwrap();
        let key2 = util::sha256_hex(&ok.secret);
        let mut w = s.write(&Actor::system("t")).unwrap();
        let mut sess = w.get(&SESSIONS, &key2).unwrap().unwrap();
        sess.created_ms = now_ms() - 13 * 3_600_000;
        w.insert(&SESSIONS, &key2, &sess).unwrap();
        w.commit().unwrap();
        assert!(
            session(&s, &cfg, &ok.secret).unwrap().is_none(),
            "older than 12 h"
        );
    }

    #[test]
    fn the_last_admin_cannot_be_demoted() {
        let (_d, s) = temp_store();
        let u = admin(&s);
        let up = UserUpdate {
            display_name: "x".into(),
            roles: vec!["viewer".into()],
            enabled: true,
            ..Default::default()
        };
        assert!(matches!(
            update_user(&s, &Actor::system("t"), u.id, up),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn disabling_ends_sessions() {
        let (_d, s) = temp_store();
        admin(&s);
        let op = create_user(
            &s,
            &Actor::system("t"),
            NewUser {
                username: "li.ming".into(),
                display_name: "李明".into(),
                password: "operator pass".into(),
                roles: vec!["operator".into()],
                ..Default::default()
            },
        )
        .unwrap();
        let li = login(&s, &throttle(), "li.ming", "operator pass", None, "").unwrap();
        update_user(
            &s,
            &Actor::system("t"),
            op.id,
            UserUpdate {
                display_name: "李明".into(),
                roles: vec!["operator".into()],
                enabled: false,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            session(&s, &config::Session::default(), &li.secret)
                .unwrap()
                .is_none()
        );
        assert!(login(&s, &throttle(), "li.ming", "operator pass", None, "").is_err());
    }

    #[test]
    fn grants_union_roles_and_custom_roles_work() {
        let (_d, s) = temp_store();
        let a = Actor::system("t");
        let mut g = BTreeMap::new();
        g.insert("safety".to_string(), vec![Level::Read, Level::Approve]);
        save_role(
            &s,
            &a,
            RoleInput {
                id: "shift_lead".into(),
                name_zh: "值班长".into(),
                name_en: "Shift lead".into(),
                grants: g,
                ..Default::default()
            },
            true,
            MODS,
        )
        .unwrap();
        let u = create_user(
            &s,
            &a,
            NewUser {
                username: "zhao".into(),
                display_name: "赵".into(),
                password: "shift lead pw".into(),
                roles: vec!["viewer".into(), "shift_lead".into()],
                ..Default::default()
            },
        )
        .unwrap();
        let g = user_grants(&s.read().unwrap(), &u, MODS).unwrap();
        assert!(g["safety"].has(Level::Approve));
        assert!(!g["safety"].has(Level::Write));
        assert!(!g.contains_key("admin"));
        assert!(matches!(
            delete_role(&s, &a, "shift_lead"),
            Err(Error::Conflict(_))
        ));
        assert!(
            save_role(
                &s,
                &a,
                RoleInput {
                    id: "viewer".into(),
                    name_zh: "x".into(),
                    name_en: "x".into(),
                    ..Default::default()
                },
                true,
                MODS
            )
            .is_err()
        );
    }

    #[test]
    fn tokens_resolve_until_revoked() {
        let (_d, s) = temp_store();
        let a = Actor::system("t");
        let mut g = BTreeMap::new();
        g.insert("safety".to_string(), vec![Level::Read]);
        let (t, secret) = create_token(
            &s,
            &a,
            NewToken {
                name: "gate-1".into(),
                grants: g,
                expires_days: None,
            },
            None,
            MODS,
        )
        .unwrap();
        assert!(secret.starts_with(TOKEN_PREFIX));
        assert_eq!(token_by_secret(&s, &secret).unwrap().unwrap().id, t.id);
        revoke_token(&s, &a, t.id).unwrap();
        assert!(token_by_secret(&s, &secret).unwrap().is_none());
        let weak = create_token(
            &s,
            &a,
            NewToken {
                name: "b".into(),
                grants: BTreeMap::from([("admin".to_string(), vec![Level::Write])]),
                expires_days: None,
            },
            Some("short".into()),
            MODS,
        );
        assert!(weak.is_err());
    }

    #[test]
    fn password_policy() {
        assert!(check_password_policy("wang", "short").is_err());
        assert!(check_password_policy("wangwei12", "WANGWEI12").is_err());
        assert!(check_password_policy("wang", "12345678").is_err());
        assert!(check_password_policy("wang", "绿色化工2026").is_ok());
    }
}
