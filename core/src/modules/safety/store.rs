//! Tables of the safety module. Only `safety::service` reads or writes them.

use super::model::{CertKind, Certificate, FileBlob};
use crate::store::Table;

/// Certificate kinds added or changed by the plant (built-in defaults are code).
pub(super) const KINDS: Table<String, CertKind> = Table::new("safety.cert_kinds");
pub(super) const CERTS: Table<u64, Certificate> = Table::new("safety.certificates");
/// Attachment bytes, keyed by (certificate id, file id).
pub(super) const FILES: Table<(u64, u64), FileBlob> = Table::new("safety.files");
/// Special work permits.
pub(super) const PERMITS: Table<u64, super::permit_model::Permit> = Table::new("safety.permits");
/// Approval chains and checklists the plant changed, by chain key (defaults are code).
pub(super) const CHAINS: Table<String, super::permit_model::ChainConfig> =
    Table::new("safety.permit_chains");
/// Signing duties of users, by user id.
pub(super) const DUTIES: Table<u64, Vec<super::permit_model::Duty>> = Table::new("safety.duties");
/// The holiday calendar (one row, key `calendar`).
pub(super) const CALENDAR: Table<String, super::permits::Calendar> =
    Table::new("safety.permit_calendar");
