//! The enterprise archive (企业档案): licences, certificates and reports of the enterprise
//! and the certificates of people (special operations), with yellow / red status as due
//! dates approach (yellow 3 months before, red once expired, as regional platforms show
//! them), periodic-update dates per kind, attachments and renewal history. Other areas
//! check workers' certificates through `service::person_certificate`.
//!
//! `service` is the only writer of `safety.cert_kinds`, `safety.certificates` and
//! `safety.files`.

pub mod model;
pub mod routes;
pub mod service;
