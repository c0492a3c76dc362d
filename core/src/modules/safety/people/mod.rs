//! People and vehicles on the site (封闭化管理): the registry of people and vehicles, gates
//! and head counts per area, the plant map with zones, live positions and their rules
//! (`tracking`: the pure tracker; `live`: the running one with its feeds and the duty
//! roster), tracks for playback, and the demo's simulated people (`simulate`).
//!
//! `service` is the only writer of the people, vehicle, gate, map, zone, roster and track
//! tables.

pub mod live;
pub mod model;
pub mod routes;
pub mod service;
pub(crate) mod simulate;
pub mod tracking;
