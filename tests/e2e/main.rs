//! The end-to-end tests, one binary with a module per area: the real `nplusx` binary on a
//! free loopback port with a fresh data dir, driven over HTTP with real peers (PLCs over
//! TCP and a pseudo-terminal, an MQTT broker, an OPC UA server) and, in `browser`, by
//! Playwright in Debian's chromium. `common` is the harness.
//!
//! One binary links once per change and runs its tests in parallel; `common::Server` caps
//! how many appliances run at once so the timing stories keep their margins.

#[path = "../common/mod.rs"]
mod common;

mod alarms;
mod auth;
mod automation;
mod bi;
mod boards;
mod browser;
mod console;
mod energy;
mod equipment;
mod inventory;
mod memory;
mod modbus;
mod mqtt;
mod opcua;
mod operations;
mod park;
mod platform;
mod plugins;
mod quality;
mod remote;
mod safety;
mod twin;
mod video;
mod warehouse;
