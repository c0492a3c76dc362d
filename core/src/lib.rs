//! nplusx: the N+X digital plant appliance for chemical plants. One binary: an embedded
//! redb store, the six N modules built in, X modules as WebAssembly plugins, and a web
//! console for browsers and phones on the plant LAN. See ARCHITECTURE.md for the map.

pub mod alarms;
pub mod alerts;
pub mod app;
pub mod auth;
pub mod cameras;
pub mod cli;
pub mod config;
pub mod control;
pub mod demo;
pub mod drivers;
pub mod error;
pub mod historian;
pub mod i18n;
pub mod modules;
pub mod mqtt;
pub mod northbound;
pub mod notices;
pub mod org;
pub mod park;
pub mod pivot;
pub mod plant_time;
pub mod plugins;
pub mod registry;
pub mod secrets;
pub mod sparkplug;
pub mod store;
pub mod tags;
pub mod util;
pub mod web;
