//! Tables of the data platform's configuration. Only `tags::service` writes them; the
//! historian owns its own tables (`historian.*`).

use super::model::{Device, Tag};
use crate::store::Table;

pub(super) const TAGS: Table<u64, Tag> = Table::new("tags.defs");
pub(super) const DEVICES: Table<u64, Device> = Table::new("tags.devices");
