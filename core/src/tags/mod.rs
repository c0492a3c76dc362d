//! The real-time data platform (数据互通): tag definitions and devices (`model`, `service`),
//! the in-memory engine that holds current values and fans them out (`engine`). Drivers
//! live in `crate::drivers`; the pages and API in `crate::modules::integration`.
//!
//! Owns the `tags.*` tables; `service` is their only writer.

pub mod engine;
pub mod io;
pub mod model;
pub mod service;
mod store;
