//! The enterprise (企业): its profile as the application form 附件1 asks (name, 统一社会信用代码,
//! industry, address, legal representative, IT lead, contacts, products and process, the
//! enterprise type that decides which modules acceptance requires) and its departments.
//!
//! Owns the `org.*` tables; `service` is their only writer.

pub mod model;
pub mod routes;
pub mod service;
mod store;
pub mod uscc;

pub use model::{Department, EnterpriseType, Profile};
