//! N module 设备管理 (equipment), 附件2 row 4 — being built (issue 14). So far only its
//! condition rules (`rules`): the ISO 10816-3 vibration zones the module will judge bound
//! tags by. The ledger, condition monitoring, documents, spares, maintenance and KPIs follow
//! in the shape of `inventory/` (model, store, service, routes, demo), and the module joins
//! `modules::builtin()` when it has pages and an API.

pub mod rules;
