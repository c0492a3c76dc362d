//! Tables of the safety module. Only `safety::service` reads or writes them.

use super::model::{CertKind, Certificate, FileBlob};
use crate::store::Table;

/// Certificate kinds added or changed by the plant (built-in defaults are code).
pub(super) const KINDS: Table<String, CertKind> = Table::new("safety.cert_kinds");
pub(super) const CERTS: Table<u64, Certificate> = Table::new("safety.certificates");
/// Attachment bytes, keyed by (certificate id, file id).
pub(super) const FILES: Table<(u64, u64), FileBlob> = Table::new("safety.files");
