//! Browsing an OPC UA server to pick tags (`/integration/devices/{id}/browse`,
//! `/api/v1/devices/{id}/browse`): the children of a node with the current values of its
//! variables, which tags already read them, and a link that opens the tag form filled in.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::auth::model::Level;
use crate::drivers::opcua::BrowseRow;
use crate::tags::model::{DriverConfig, Source};
use crate::tags::service as svc;
use crate::web::context::to_value;
use crate::web::error::AppError;
use crate::web::grant::{self, Need};

const M: &str = "integration";

#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct BrowseQuery {
    /// The node whose children to list (`ns=2;s=Plant`); empty for the Objects folder.
    #[serde(default)]
    pub node: String,
}

/// A child node and the tags that already read it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BrowseItem {
    #[serde(flatten)]
    pub node: BrowseRow,
    pub tags: Vec<String>,
}

async fn children(
    ctx: &Need<grant::integration::Read>,
    id: u32,
    node: &str,
) -> Result<Vec<BrowseItem>, AppError> {
    let device = svc::device(&ctx.app.store.read()?, id)?;
    if !matches!(device.config, DriverConfig::OpcUa { .. }) {
        return Err(crate::error::Error::conflict("tags.err.driver_cannot_browse").into());
    }
    let rows = ctx.app.drivers.browse(id, node).await?;
    let mut used: HashMap<String, Vec<String>> = HashMap::new();
    for t in ctx.app.tags.defs().iter() {
        if let Source::OpcUa { device, node_id } = &t.source
            && *device == id
        {
            used.entry(node_id.clone())
                .or_default()
                .push(t.name.clone());
        }
    }
    Ok(rows
        .into_iter()
        .map(|node| BrowseItem {
            tags: used.remove(&node.node_id).unwrap_or_default(),
            node,
        })
        .collect())
}

#[get("/integration/devices/{id}/browse")]
async fn page(
    ctx: Need<grant::integration::Read>,
    id: web::Path<u32>,
    q: web::Query<BrowseQuery>,
) -> Result<HttpResponse, AppError> {
    let device = svc::device(&ctx.app.store.read()?, *id)?;
    let (items, error) = match children(&ctx, *id, &q.node).await {
        Ok(items) => (items, None),
        Err(e) => (Vec::new(), Some(e.msg.render(ctx.lang))),
    };
    ctx.page(
        "integration/browse.html",
        context! {
            device => to_value(&device.redacted()),
            node => q.node.trim(),
            items => to_value(&items),
            error,
            can_write => ctx.who.can(M, Level::Write),
        },
    )
}

/// The children of an OPC UA node, with the values of variables and the tags reading them.
#[utoipa::path(tag = "devices", params(("id" = u32, Path, description = "Device id"), BrowseQuery), responses(
    (status = 200, description = "Child nodes", body = Vec<BrowseItem>),
    (status = 404, description = "No such device"),
    (status = 502, description = "The device is off, not connected, or the server refused")), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/devices/{id}/browse")]
async fn api(
    ctx: Need<grant::integration::Read>,
    id: web::Path<u32>,
    q: web::Query<BrowseQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(children(&ctx, *id, &q.node).await?))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(api);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api))]
pub struct Doc;
