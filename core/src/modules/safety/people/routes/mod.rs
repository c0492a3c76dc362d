//! Pages and API of people, vehicles, gates, positions, the plant map and its zones, and
//! the duty roster. Gate controllers and positioning systems post with a machine token
//! holding safety write (or publish over MQTT, see `live`).

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::live::{FeedStatus, PostStatus, live};
use super::model::{
    Aggregation, Assignment, FeedConfig, Gate, GateEvent, Person, PersonKind, PlantMap, Post,
    Shift, Vehicle, Zone, ZoneRules,
};
use super::service::{self as ps, GateInput, HeadCount};
use super::tracking::{Seen, Update};
use crate::auth::model::Level;
use crate::error::Error;
use crate::i18n::Msg;
use crate::util::now_ms;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::{AppError, blocking};
use crate::web::form::FormData;
use crate::web::grant::{self, Need};
use crate::web::sse;

mod gates;
mod map;
mod people;
mod roster;
mod vehicles;

const M: &str = "safety";

pub fn configure(cfg: &mut web::ServiceConfig) {
    people::configure(cfg);
    vehicles::configure(cfg);
    gates::configure(cfg);
    map::configure(cfg);
    roster::configure(cfg);
}

/// The API of the area, for the OpenAPI document.
pub fn doc() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut d = people::Doc::openapi();
    d.merge(vehicles::Doc::openapi());
    d.merge(gates::Doc::openapi());
    d.merge(map::Doc::openapi());
    d.merge(roster::Doc::openapi());
    d
}

/// After the registry, the map or the zones change, the tracker reads them again.
fn reload(ctx: &Ctx) {
    if let Err(e) = live(&ctx.app).reload(&ctx.app) {
        tracing::warn!(error = %e, "positions: registry not reloaded");
    }
}

fn today(ctx: &Ctx) -> time::Date {
    crate::plant_time::today(ctx.app.offset)
}
