//! The plugins' tables: what is installed (`plugins.installed`), the packages of each
//! installed version (`plugins.packages`, for rollback), trusted publisher keys
//! (`plugins.keys`) and each plugin's key-value storage (`plugins.kv`, key
//! `<plugin id> NUL <key>`). Only `plugins::service` and the storage functions here touch them.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use crate::store::{Actor, Order, Reader, Store, StoreError, Table};

pub(super) const INSTALLED: Table<String, Installed> = Table::new("plugins.installed");
pub(super) const PACKAGES: Table<String, serde_bytes::ByteBuf> = Table::new("plugins.packages");
pub(super) const KEYS: Table<String, TrustedKey> = Table::new("plugins.keys");
const KV: Table<String, serde_bytes::ByteBuf> = Table::new("plugins.kv");

/// An installed plugin and the admin's choices for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Installed {
    pub id: String,
    pub version: String,
    #[schema(value_type = Object)]
    pub manifest: Manifest,
    pub enabled: bool,
    /// Capabilities the admin granted (a subset of those the manifest asks for).
    pub grants: Vec<String>,
    /// Settings by name (the manifest's schema), as text.
    pub settings: BTreeMap<String, String>,
    /// Time budget of one call, ms.
    pub deadline_ms: u32,
    /// Memory cap of the instance, MiB.
    pub memory_mib: u32,
    /// Storage quota, MiB.
    pub quota_mib: u32,
    /// The highest priority the plugin's alarms get: raised above it, raised at it.
    #[serde(default = "default_alarm_ceiling")]
    pub alarm_ceiling: crate::alarms::model::Priority,
    /// New alarms (not already standing) the plugin may raise per hour.
    #[serde(default = "default_alarms_per_hour")]
    pub alarms_per_hour: u32,
    /// The signing key's fingerprint; empty for unsigned (developer mode) and bundled.
    pub publisher_key: String,
    /// Built into this binary (not removable; upgraded with the binary).
    #[serde(default)]
    pub bundled: bool,
    pub installed_ms: i64,
    pub installed_by: String,
    /// The version before the last upgrade, for rollback.
    #[serde(default)]
    pub previous: Option<String>,
}

/// A plugin's alarms are at most `high` unless the admin allows `urgent`.
pub fn default_alarm_ceiling() -> crate::alarms::model::Priority {
    crate::alarms::model::Priority::High
}

/// New plugin alarms an hour by default (ISA-18.2 counts about six an hour as what an
/// operator can handle; one plugin gets a bounded share of it).
pub fn default_alarms_per_hour() -> u32 {
    12
}

/// A publisher key the admin trusts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrustedKey {
    /// `ed25519:` and the key, base64.
    pub public_key: String,
    /// Who it belongs to, as the admin noted.
    pub name: String,
    pub added_ms: i64,
    pub added_by: String,
}

fn kv_key(plugin: &str, key: &str) -> String {
    format!("{plugin}\0{key}")
}

pub fn get(store: &Store, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(store
        .read()?
        .get(&KV, &kv_key(plugin, key))?
        .map(|b| b.into_vec()))
}

/// Sets (or with `None` deletes) a key. Bookkeeping of the plugin: not audited.
pub fn put(store: &Store, plugin: &str, key: &str, value: Option<&[u8]>) -> Result<(), StoreError> {
    let mut w = store.write(&Actor::system(&format!("plugin:{plugin}")))?;
    match value {
        Some(v) => w.insert(
            &KV,
            &kv_key(plugin, key),
            &serde_bytes::ByteBuf::from(v.to_vec()),
        )?,
        None => {
            w.remove(&KV, &kv_key(plugin, key))?;
        }
    }
    w.commit()
}

pub fn keys(
    store: &Store,
    plugin: &str,
    prefix: &str,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let start = kv_key(plugin, prefix);
    let mut out = Vec::new();
    store
        .read()?
        .visit(&KV, start.clone().., Order::Asc, |k, _| {
            if !k.starts_with(&start) || out.len() >= limit {
                return ControlFlow::Break(());
            }
            out.push(k[plugin.len() + 1..].to_string());
            ControlFlow::Continue(())
        })?;
    Ok(out)
}

/// Bytes a plugin's storage holds (keys and values).
pub fn usage(store: &Store, plugin: &str) -> Result<u64, StoreError> {
    let start = kv_key(plugin, "");
    let mut n = 0u64;
    store
        .read()?
        .visit(&KV, start.clone().., Order::Asc, |k, v| {
            if !k.starts_with(&start) {
                return ControlFlow::Break(());
            }
            n += (k.len() - start.len() + v.len()) as u64;
            ControlFlow::Continue(())
        })?;
    Ok(n)
}

/// Deletes a plugin's storage (when it is removed).
pub(super) fn clear(w: &mut crate::store::WriteTx, plugin: &str) -> Result<u64, StoreError> {
    remove_prefixed(w, &KV, &kv_key(plugin, ""))
}

/// Removes a table's rows whose key starts with `prefix` (a plugin's, on removal).
pub(super) fn remove_prefixed<V: crate::store::Record>(
    w: &mut crate::store::WriteTx,
    table: &Table<String, V>,
    prefix: &str,
) -> Result<u64, StoreError> {
    let mut keys = Vec::new();
    w.visit(table, prefix.to_string().., Order::Asc, |k, _| {
        if !k.starts_with(prefix) {
            return ControlFlow::Break(());
        }
        keys.push(k);
        ControlFlow::Continue(())
    })?;
    for k in &keys {
        w.remove(table, k)?;
    }
    Ok(keys.len() as u64)
}

pub fn installed(r: &impl Reader) -> Result<Vec<Installed>, StoreError> {
    r.values(&INSTALLED)
}
