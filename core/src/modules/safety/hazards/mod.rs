//! Dual prevention (双重预防机制): the risk register (object → unit → event → measures, graded
//! by LEC into red / orange / yellow / blue), inspection tasks on cycles generating checklists,
//! and hidden dangers reported with photos through assign → rectify → accept.
//!
//! `service` is the only writer of `safety.risks`, `safety.tasks`, `safety.inspections`,
//! `safety.hazards` and `safety.hazard_files`.

pub mod model;
pub mod routes;
pub mod service;
