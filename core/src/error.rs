//! Domain-level failures shared by every module's service, before they reach an edge
//! (HTTP: `web::error::AppError`; CLI: printed in both languages).
//!
//! A message key doubles as the stable error code: `org.err.credit_code_check` is reported
//! as code `org.credit_code_check`.

use crate::i18n::{Lang, Msg};
use crate::store::StoreError;

/// What went wrong in a service call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A submitted value broke a rule; `field` names the form field / JSON property.
    #[error("{field}: {}", .msg.render(Lang::En))]
    Invalid { field: &'static str, msg: Msg },
    /// The record does not exist (or is not visible).
    #[error("{}", .0.render(Lang::En))]
    NotFound(Msg),
    /// The request conflicts with the current state (duplicate name, still in use…).
    #[error("{}", .0.render(Lang::En))]
    Conflict(Msg),
    /// The caller lacks the permission; the message names it.
    #[error("{}", .0.render(Lang::En))]
    Forbidden(Msg),
    /// Authentication failed or is required.
    #[error("{}", .0.render(Lang::En))]
    Unauthorized(Msg),
    /// Too many attempts; retry after the given seconds.
    #[error("{}", .msg.render(Lang::En))]
    TooMany { msg: Msg, retry_after_s: u64 },
    /// A device refused or did not answer (a write to a PLC…); the message says which.
    #[error("{}", .0.render(Lang::En))]
    Device(Msg),
    /// Rows of an import broke rules; nothing was written. Each names its row and field.
    #[error("{} rows rejected", .0.len())]
    Rows(Vec<RowError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One rejected row of an import (1-based, as a spreadsheet numbers data rows).
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub row: usize,
    pub field: &'static str,
    pub msg: Msg,
}

impl Error {
    /// The error as a row error of an import, if it is about a field.
    pub fn in_row(self, row: usize) -> Result<RowError, Error> {
        match self {
            Error::Invalid { field, msg } => Ok(RowError { row, field, msg }),
            other => Err(other),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: &'static str, key: &'static str) -> Error {
        Error::Invalid {
            field,
            msg: Msg::new(key),
        }
    }
    pub fn invalid_msg(field: &'static str, msg: Msg) -> Error {
        Error::Invalid { field, msg }
    }
    pub fn not_found(key: &'static str) -> Error {
        Error::NotFound(Msg::new(key))
    }
    pub fn conflict(key: &'static str) -> Error {
        Error::Conflict(Msg::new(key))
    }
    /// The message, if the error carries one for users.
    pub fn msg(&self) -> Msg {
        match self {
            Error::Invalid { msg, .. }
            | Error::TooMany { msg, .. }
            | Error::NotFound(msg)
            | Error::Conflict(msg)
            | Error::Forbidden(msg)
            | Error::Unauthorized(msg)
            | Error::Device(msg) => msg.clone(),
            Error::Rows(rows) => Msg::new("common.err.rows").arg("n", rows.len()),
            Error::Store(StoreError::Locked(p)) => {
                Msg::new("store.err.locked").arg("path", p.display())
            }
            Error::Store(StoreError::TooNew { found, supported }) => Msg::new("store.err.too_new")
                .arg("found", found)
                .arg("supported", supported)
                .arg("version", env!("CARGO_PKG_VERSION")),
            Error::Store(StoreError::Migration {
                version,
                name,
                detail,
                found,
                backup,
            }) => match backup {
                Some(b) => Msg::new("store.err.migration").arg("backup", b.display()),
                None => Msg::new("store.err.migration_new"),
            }
            .arg("version", version)
            .arg("name", name)
            .arg("detail", detail)
            .arg("found", found),
            Error::Store(StoreError::UpgradeBackup { path, detail }) => {
                Msg::new("store.err.upgrade_backup")
                    .arg("path", path.display())
                    .arg("detail", detail)
            }
            Error::Store(_) => Msg::new("store.err.internal"),
        }
    }
}

/// The stable code of a message key: the key without its `.err` segment.
pub fn code_of(key: &str) -> String {
    key.replacen(".err.", ".", 1)
}

/// Trims a text field and enforces a maximum length in characters.
pub fn text(field: &'static str, v: &str, max: usize, required: bool) -> Result<String> {
    let v = v.trim();
    if required && v.is_empty() {
        return Err(Error::invalid_msg(
            field,
            Msg::new("common.err.required").arg("field", field),
        ));
    }
    if v.chars().count() > max {
        return Err(Error::invalid_msg(
            field,
            Msg::new("common.err.too_long").arg("max", max),
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Error::invalid(field, "common.err.control_chars"));
    }
    Ok(v.to_string())
}

/// Validates a phone number: digits with optional +, spaces, dashes and parentheses,
/// 7 to 20 characters (mobile 13812345678, landline 0579-88881234).
pub fn phone(field: &'static str, v: &str) -> Result<String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    let digits = v.chars().filter(|c| c.is_ascii_digit()).count();
    let ok =
        v.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) && (7..=20).contains(&digits);
    if !ok {
        return Err(Error::invalid(field, "common.err.phone"));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_drop_the_err_segment() {
        assert_eq!(
            code_of("org.err.credit_code_check"),
            "org.credit_code_check"
        );
        assert_eq!(code_of("auth.err.login_failed"), "auth.login_failed");
    }

    #[test]
    fn phones() {
        assert!(phone("p", "13812345678").is_ok());
        assert!(phone("p", "0579-88881234").is_ok());
        assert!(phone("p", "+86 138 1234 5678").is_ok());
        assert!(phone("p", "call me").is_err());
        assert!(phone("p", "123").is_err());
    }
}
