//! Users, roles, permissions, API tokens, sessions and the login throttle.
//!
//! A request is authorised in three steps: `web::middleware::identify` resolves the caller
//! (bearer token or session cookie) and the union of its grants; the handler calls
//! `Ctx::require(module, level)`; the service re-checks rules that depend on data (the last
//! admin cannot be demoted…). Owns the `auth.*` tables; `service` is their only writer.

pub mod model;
pub mod roles;
pub mod routes;
pub mod service;
pub mod store;
pub mod throttle;

use std::collections::BTreeMap;

use crate::app::{App, Credentials};
use crate::error::Result;
use crate::i18n::{self, Lang};
use crate::store::Actor;
use model::Level;

/// Grants for "everything": every level on every module and system area.
pub fn all_grants(app: &App) -> BTreeMap<String, Vec<Level>> {
    app.registry
        .permission_targets()
        .iter()
        .map(|(m, _)| (m.to_string(), Level::ALL.to_vec()))
        .collect()
}

/// Creates the admin API token given with `--bootstrap-token` on a fresh data dir.
pub fn bootstrap_token(app: &App, secret: &str) -> Result<()> {
    service::create_token(
        &app.store,
        &Actor::system("bootstrap"),
        service::NewToken {
            name: "bootstrap".into(),
            grants: all_grants(app),
            expires_days: None,
        },
        Some(secret.to_string()),
        &app.registry.permission_targets(),
    )?;
    Ok(())
}

/// On a fresh (non-demo) data dir: an `admin` user with a random password, to be changed
/// at first login. The password is printed once.
pub fn first_admin(app: &App) -> Result<Credentials> {
    let password = crate::util::random_password();
    service::create_user(
        &app.store,
        &Actor::system("setup"),
        service::NewUser {
            username: "admin".into(),
            display_name: i18n::t(Lang::ZhCn, "role.admin").into(),
            password: password.clone(),
            roles: vec!["admin".into()],
            must_change_password: true,
            ..Default::default()
        },
    )?;
    Ok(Credentials {
        rows: vec![(
            "admin".into(),
            i18n::t(Lang::ZhCn, "role.admin").into(),
            "admin".into(),
        )],
        password,
    })
}
