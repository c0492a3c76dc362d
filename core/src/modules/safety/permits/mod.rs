//! Special work permits (八大特殊作业票) per GB 30871-2022.
//!
//! - `rules`: the standard's rules as pure functions (levels, validity, gas limits, wind,
//!   conflicts); every refusal names the rule.
//! - `model`: the permit record (Annex A fields per type), stages, duties, signatures.
//! - `service`: the life cycle; the only writer of `safety.permits`, `safety.permit_chains`,
//!   `safety.duties` and `safety.permit_calendar`.
//! - `routes`: pages under `/safety/permits` and the API under `/api/v1/safety`.

pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
