//! The built-in N modules, one folder each (`mod.rs` registry entry, `model.rs`,
//! `store.rs`, `service.rs`, `routes.rs`, templates in `web/templates/<id>/`).
//!
//! Modules of the guide not yet built here show as "not installed" in the console and the
//! compliance page; they arrive as folders in this directory.

pub mod automation;
pub mod equipment;
pub mod integration;
pub mod inventory;
pub mod quality;
pub mod safety;

use std::sync::Arc;

use crate::registry::Module;

/// Every module compiled into this binary, in the order their demo data is seeded
/// (automation's alarms need integration's tags, its batches inventory's lots and quality's
/// sampling points; safety's permits bind gas detectors, which are tags). Menus follow the
/// guide's row order.
pub fn builtin() -> Vec<Arc<dyn Module>> {
    vec![
        Arc::new(integration::Integration),
        Arc::new(safety::Safety),
        Arc::new(inventory::Inventory),
        Arc::new(quality::Quality),
        Arc::new(automation::Automation),
        Arc::new(equipment::Equipment),
    ]
}
