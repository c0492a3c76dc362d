//! Tables of the enterprise profile. Only `org::service` writes them.

use super::model::{Department, Profile};
use crate::store::Table;

/// The single profile record, key `"profile"`.
pub(super) const PROFILE: Table<String, Profile> = Table::new("org.profile");
pub(super) const DEPARTMENTS: Table<u64, Department> = Table::new("org.departments");
