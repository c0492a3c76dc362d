//! Pages (under `/integration`) and API (`/api/v1/tags`, `/api/v1/devices`,
//! `/api/v1/stream/tags`) of the data platform.

use std::collections::HashSet;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, put, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::auth::model::Level;
use crate::drivers::simulator::SIGNALS;
use crate::error::Error;
use crate::i18n::Lang;
use crate::tags::io;
use crate::tags::model::{Current, Device, DeviceStatus, Tag};
use crate::tags::service as svc;
use crate::web::context::{Ctx, redirect_with, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};
use crate::web::sse;

const M: &str = "integration";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(overview)
        .service(tags_page)
        .service(tag_new_page)
        .service(tag_create_submit)
        .service(tag_page)
        .service(tag_update_submit)
        .service(tag_delete_submit)
        .service(tag_write_submit)
        .service(devices_page)
        .service(device_new_page)
        .service(device_create_submit)
        .service(device_page)
        .service(device_edit_page)
        .service(device_update_submit)
        .service(device_delete_submit)
        .service(device_trust)
        .service(device_switch)
        .service(api_tag_write)
        .service(api_tags)
        .service(api_tag_create)
        .service(api_tag)
        .service(api_tag_update)
        .service(api_tag_delete)
        .service(api_stream)
        .service(api_devices)
        .service(api_device_create)
        .service(api_device)
        .service(api_device_update)
        .service(api_device_delete)
        .service(api_device_status)
        .service(super::history::trends_page)
        .service(super::history::trends_export)
        .service(super::history::api_history);
    crate::northbound::routes::configure(cfg);
    crate::park::routes::configure(cfg);
    super::sheet::configure(cfg);
    super::browse::configure(cfg);
    crate::cameras::routes::configure(cfg);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_tags,
    api_tag_create,
    api_tag,
    api_tag_update,
    api_tag_delete,
    api_tag_write,
    api_stream,
    api_devices,
    api_device_create,
    api_device,
    api_device_update,
    api_device_delete,
    api_device_status,
    super::history::api_history
))]
pub struct Doc;

/// A tag with its current value.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TagView {
    #[serde(flatten)]
    pub tag: Tag,
    pub current: Option<Current>,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct TagFilter {
    /// Plant area.
    #[serde(default)]
    pub area: Option<String>,
    /// Device id.
    #[serde(default)]
    pub device: Option<u32>,
    /// Text in name, description or equipment.
    #[serde(default)]
    pub q: Option<String>,
}

pub fn tag_views(app: &App, f: &TagFilter) -> Vec<TagView> {
    let defs = app.tags.defs();
    let q = f.q.as_deref().unwrap_or("").trim().to_lowercase();
    let mut tags: Vec<Tag> = defs
        .iter()
        .filter(|t| {
            f.area
                .as_deref()
                .filter(|a| !a.is_empty())
                .is_none_or(|a| t.area == a)
        })
        .filter(|t| f.device.is_none_or(|d| t.source.device() == Some(d)))
        .filter(|t| {
            q.is_empty()
                || [&t.name, &t.description_zh, &t.description_en, &t.equipment]
                    .iter()
                    .any(|s| s.to_lowercase().contains(&q))
        })
        .map(|t| (**t).clone())
        .collect();
    tags.sort_by(|a, b| a.area.cmp(&b.area).then(a.name.cmp(&b.name)));
    let ids: Vec<u32> = tags.iter().map(|t| t.id).collect();
    let currents = app.tags.currents(&ids);
    tags.into_iter()
        .zip(currents)
        .map(|(tag, current)| TagView { tag, current })
        .collect()
}

fn areas(app: &App) -> Vec<String> {
    let mut a: Vec<String> = app
        .tags
        .defs()
        .iter()
        .map(|t| t.area.clone())
        .filter(|a| !a.is_empty())
        .collect();
    a.sort();
    a.dedup();
    a
}

/// A device with its live counters.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    #[serde(flatten)]
    pub device: Device,
    pub status: DeviceStatus,
}

fn device_views(app: &App) -> Result<Vec<DeviceView>, AppError> {
    Ok(svc::devices(&app.store.read()?)?
        .into_iter()
        .map(|d| DeviceView {
            status: app.drivers.status(d.id),
            device: d.redacted(),
        })
        .collect())
}

// ------------------------------------------------------------------ pages

#[get("/integration")]
async fn overview(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    let tags = tag_views(&ctx.app, &TagFilter::default());
    let good = tags
        .iter()
        .filter(|t| t.current.as_ref().is_some_and(|c| c.quality.is_good()))
        .count();
    ctx.page(
        "integration/overview.html",
        context! {
            devices => to_value(&device_views(&ctx.app)?),
            tag_count => tags.len(),
            good,
            areas => to_value(&areas(&ctx.app)),
        },
    )
}

#[get("/integration/tags")]
async fn tags_page(
    ctx: Need<grant::integration::Read>,
    f: web::Query<TagFilter>,
) -> Result<HttpResponse, AppError> {
    let tags = tag_views(&ctx.app, &f);
    let names: Vec<&str> = tags.iter().map(|t| t.tag.name.as_str()).collect();
    let area_cameras: Vec<crate::cameras::Camera> =
        match f.area.as_deref().filter(|a| !a.is_empty()) {
            Some(a) => crate::cameras::cameras(&ctx.app.store.read()?)?
                .into_iter()
                .filter(|c| c.area == a)
                .map(|c| c.redacted())
                .collect(),
            None => Vec::new(),
        };
    ctx.page(
        "integration/tags.html",
        context! {
            cameras => to_value(&area_cameras),
            tags => to_value(&tags),
            names => names.join(","),
            areas => to_value(&areas(&ctx.app)),
            devices => to_value(&svc::devices(&ctx.app.store.read()?)?),
            filter => to_value(&serde_json::json!({ "area": f.area, "q": f.q, "device": f.device })),
            can_write => ctx.who.can(M, Level::Write),
        },
    )
}

fn tag_form_ctx(
    ctx: &Ctx,
    tag: Option<&TagView>,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let signals: Vec<serde_json::Value> = SIGNALS
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "label": match ctx.lang { Lang::ZhCn => s.zh, Lang::En => s.en },
            })
        })
        .collect();
    Ok(context! {
        tag => tag.map(to_value),
        values => to_value(&values),
        devices => to_value(&svc::devices(&ctx.app.store.read()?)?),
        signals => to_value(&signals),
        can_write => ctx.who.can(M, Level::Write),
        can_operate => ctx.who.can("automation", Level::Write),
    })
}

/// A new tag's form; the query may fill in its source (links from the OPC UA browser).
#[get("/integration/tags/new")]
async fn tag_new_page(
    ctx: Need<grant::integration::Write>,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let mut values = serde_json::json!({"data_type": "float", "source_kind": "manual", "resolution": "0.001", "deadband": "0", "retention_days": "365"});
    for key in ["name", "data_type", "source_kind", "device", "ua_node"] {
        if let Some(v) = q.get(key) {
            values[key] = v.chars().take(512).collect::<String>().into();
        }
    }
    let c = tag_form_ctx(&ctx, None, values)?;
    ctx.page("integration/tag_form.html", c)
}

#[post("/integration/tags")]
async fn tag_create_submit(
    ctx: Need<grant::integration::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let result = async {
        let t = io::from_fields(&f)?;
        reconfigure(&ctx, move |app, actor| {
            svc::create_tag(&app.store, actor, t)
        })
        .await
    }
    .await;
    ctx.done(
        result.map(|t| format!("/integration/tags/{}", t.name)),
        "flash.saved",
        "integration/tag_form.html",
        || tag_form_ctx(&ctx, None, f.echo()),
    )
}

fn load_tag(ctx: &Ctx, name: &str) -> Result<TagView, AppError> {
    let tag = svc::tag_by_name(&ctx.app.store.read()?, name)?;
    Ok(TagView {
        current: ctx.app.tags.current(tag.id),
        tag,
    })
}

#[get("/integration/tags/{name}")]
async fn tag_page(
    ctx: Need<grant::integration::Read>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let v = load_tag(&ctx, &name)?;
    let values = io::fields(&v.tag);
    let c = tag_form_ctx(&ctx, Some(&v), values)?;
    ctx.page("integration/tag_form.html", c)
}

#[post("/integration/tags/{name}")]
async fn tag_update_submit(
    ctx: Need<grant::integration::Write>,
    name: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let old = name.into_inner();
    let o = old.clone();
    let result = async {
        let t = io::from_fields(&f)?;
        reconfigure(&ctx, move |app, actor| {
            svc::update_tag(&app.store, actor, &o, t)
        })
        .await
    }
    .await;
    ctx.done(
        result.map(|t| format!("/integration/tags/{}", t.name)),
        "flash.saved",
        "integration/tag_form.html",
        || {
            let v = load_tag(&ctx, &old)?;
            let c = tag_form_ctx(&ctx, Some(&v), f.echo())?;
            Ok(c)
        },
    )
}

#[post("/integration/tags/{name}/delete")]
async fn tag_delete_submit(
    ctx: Need<grant::integration::Write>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = name.into_inner();
    ctx.write(move |app, actor| {
        svc::delete_tag(&app.store, actor, &name)?;
        app.reload_tags()
    })
    .await?;
    Ok(redirect_with("/integration/tags", Some("flash.deleted")))
}

/// Writes a value to a tag: checked against the tag's rules, sent to its device (or set,
/// for manual tags), and audited with the old and the new value. Permission
/// `automation.write`: writing to the process is operating it.
pub async fn write_tag(
    ctx: &Need<grant::automation::Write>,
    name: &str,
    value: &serde_json::Value,
) -> Result<Option<Current>, AppError> {
    let tag = ctx.app.tags.defs().by_name(name).cloned().ok_or_else(|| {
        Error::NotFound(crate::i18n::Msg::new("tags.err.tag_not_found").arg("name", name))
    })?;
    let v = svc::check_write(&tag, value)?;
    svc::write(&ctx.app.clone().into_inner(), ctx.actor(), tag.clone(), v).await?;
    Ok(ctx.app.tags.current(tag.id))
}

#[post("/integration/tags/{name}/write")]
async fn tag_write_submit(
    ctx: Need<grant::automation::Write>,
    name: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let text = f.get("value").trim();
    let value = match text {
        "true" | "on" => serde_json::Value::Bool(true),
        "false" | "off" => serde_json::Value::Bool(false),
        t => t
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| serde_json::Value::String(t.to_string())),
    };
    match write_tag(&ctx, &name, &value).await {
        Ok(_) => Ok(redirect_with(
            &format!("/integration/tags/{}", name.as_str()),
            Some("flash.written"),
        )),
        // refused values, control rules and device answers go back to the form; other
        // errors to the error page
        Err(e)
            if e.status == StatusCode::UNPROCESSABLE_ENTITY
                || e.status == StatusCode::CONFLICT
                || e.status == StatusCode::BAD_GATEWAY =>
        {
            let v = load_tag(&ctx, &name)?;
            let values = io::fields(&v.tag);
            let mut c = tag_form_ctx(&ctx, Some(&v), values)?;
            c = context! { write_value => text, ..c };
            let e = AppError {
                field: Some("write_value"),
                ..e
            };
            ctx.form_error("integration/tag_form.html", c, e)
        }
        Err(e) => Err(e),
    }
}

#[get("/integration/devices")]
async fn devices_page(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    ctx.page(
        "integration/devices.html",
        context! { devices => to_value(&device_views(&ctx.app)?), can_write => ctx.who.can(M, Level::Write) },
    )
}

/// The form's string values of a device.
fn device_values(d: &Device) -> serde_json::Value {
    use crate::tags::model::{DriverConfig, ModbusOptions};
    let groups = |o: &ModbusOptions| {
        o.groups
            .iter()
            .map(|g| format!("{}={}", g.name, g.interval_ms))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let base = serde_json::json!({
        "name": d.name, "description": d.description, "enabled": if d.enabled { "on" } else { "" },
        "port": "502", "unit": "1", "rtu_unit": "1", "baud": "9600", "parity": "none", "stop_bits": "1",
        "interval_s": "1", "speed": "1", "seed": "0", "mq_port": "1883", "mq_keep_alive": "30",
        "ua_security": "none", "ua_interval_ms": "1000",
    });
    let mut v = base;
    let defaults = ModbusOptions::default();
    let (driver, extra, options) = match &d.config {
        DriverConfig::Simulator {
            interval_s,
            seed,
            speed,
        } => (
            "simulator",
            serde_json::json!({"interval_s": interval_s.to_string(), "seed": seed.to_string(), "speed": speed.to_string()}),
            &defaults,
        ),
        DriverConfig::ModbusTcp {
            host,
            port,
            unit,
            options,
        } => (
            "modbus_tcp",
            serde_json::json!({"host": host, "port": port.to_string(), "unit": unit.to_string()}),
            options,
        ),
        DriverConfig::Mqtt {
            host,
            port,
            tls,
            username,
            password,
            client_id,
            keep_alive_s,
        } => (
            "mqtt",
            serde_json::json!({"mq_host": host, "mq_port": port.to_string(), "mq_tls": if *tls { "on" } else { "" },
                "mq_username": username, "mq_password_set": password.is_set(), "mq_client_id": client_id,
                "mq_keep_alive": keep_alive_s.to_string()}),
            &defaults,
        ),
        DriverConfig::OpcUa {
            endpoint,
            security,
            username,
            password,
            interval_ms,
        } => (
            "opc_ua",
            serde_json::json!({"ua_endpoint": endpoint, "ua_security": security, "ua_username": username,
                "ua_password_set": password.is_set(), "ua_interval_ms": interval_ms.to_string()}),
            &defaults,
        ),
        DriverConfig::ModbusRtu {
            path,
            baud,
            parity,
            stop_bits,
            unit,
            options,
        } => (
            "modbus_rtu",
            serde_json::json!({"path": path, "baud": baud.to_string(), "parity": parity, "stop_bits": stop_bits.to_string(), "rtu_unit": unit.to_string()}),
            options,
        ),
    };
    v["driver"] = driver.into();
    v["groups"] = groups(options).into();
    v["timeout_ms"] = options.timeout_ms.to_string().into();
    v["max_gap"] = options
        .max_gap
        .map(|g| g.to_string())
        .unwrap_or_default()
        .into();
    v["max_registers"] = options.max_registers.to_string().into();
    if let (Some(v), serde_json::Value::Object(m)) = (v.as_object_mut(), extra) {
        v.extend(m);
    }
    v
}

/// A write to the tag or device configuration, after which the engine and the drivers
/// follow it.
pub(super) async fn reconfigure<T: Send + 'static>(
    ctx: &Ctx,
    f: impl FnOnce(&App, &crate::store::Actor) -> crate::error::Result<T> + Send + 'static,
) -> Result<T, AppError> {
    ctx.write(move |app, actor| {
        let x = f(app, actor)?;
        app.reload_tags()?;
        Ok(x)
    })
    .await
}

/// `default=1000, slow=10000` → polling groups.
fn groups_from_form(text: &str) -> Result<Vec<crate::tags::model::PollGroup>, Error> {
    text.split([',', '，', ';', '\n'])
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| {
            let (name, ms) = g
                .split_once('=')
                .ok_or_else(|| Error::invalid("groups", "tags.err.groups_syntax"))?;
            Ok(crate::tags::model::PollGroup {
                name: name.trim().to_string(),
                interval_ms: ms
                    .trim()
                    .parse()
                    .map_err(|_| Error::invalid("groups", "tags.err.groups_syntax"))?,
            })
        })
        .collect()
}

fn device_from_form(f: &FormData) -> Result<Device, Error> {
    use crate::tags::model::{DriverConfig, ModbusOptions};
    let options = || -> Result<ModbusOptions, Error> {
        let d = ModbusOptions::default();
        Ok(ModbusOptions {
            timeout_ms: f.opt("timeout_ms")?.unwrap_or(d.timeout_ms),
            groups: match f.get("groups").trim() {
                "" => d.groups,
                g => groups_from_form(g)?,
            },
            max_gap: f.opt("max_gap")?,
            max_registers: f.opt("max_registers")?.unwrap_or(d.max_registers),
        })
    };
    let config = match f.get("driver") {
        "simulator" => DriverConfig::Simulator {
            interval_s: f.opt("interval_s")?.unwrap_or(1.0),
            seed: f.opt("seed")?.unwrap_or(0),
            speed: f.opt("speed")?.unwrap_or(1.0),
        },
        "modbus_tcp" => DriverConfig::ModbusTcp {
            host: f.get("host").trim().to_string(),
            port: f.opt("port")?.unwrap_or(502),
            unit: f.opt("unit")?.unwrap_or(1),
            options: options()?,
        },
        "mqtt" => DriverConfig::Mqtt {
            host: f.get("mq_host").trim().to_string(),
            port: f.opt("mq_port")?.unwrap_or(1883),
            tls: f.checked("mq_tls"),
            username: f.get("mq_username").trim().to_string(),
            // an empty password field keeps the stored one; "clear" removes it
            password: f.secret("mq_password", "mq_password_clear"),
            client_id: f.get("mq_client_id").trim().to_string(),
            keep_alive_s: f.opt("mq_keep_alive")?.unwrap_or(30),
        },
        "opc_ua" => DriverConfig::OpcUa {
            endpoint: f.get("ua_endpoint").trim().to_string(),
            security: match f.get("ua_security").trim() {
                "" => Default::default(),
                _ => io::choice(f, "ua_security", "security")?,
            },
            username: f.get("ua_username").trim().to_string(),
            password: f.secret("ua_password", "ua_password_clear"),
            interval_ms: f.opt("ua_interval_ms")?.unwrap_or(1000),
        },
        "modbus_rtu" => DriverConfig::ModbusRtu {
            path: f.get("path").trim().to_string(),
            baud: f.opt("baud")?.unwrap_or(9600),
            parity: io::choice(f, "parity", "parity")?,
            stop_bits: f.opt("stop_bits")?.unwrap_or(1),
            unit: f.opt("rtu_unit")?.unwrap_or(1),
            options: options()?,
        },
        _ => return Err(Error::invalid("driver", "tags.err.driver")),
    };
    Ok(Device {
        id: 0,
        name: f.get("name").into(),
        description: f.get("description").into(),
        config,
        enabled: f.checked("enabled"),
    })
}

#[get("/integration/devices/new")]
async fn device_new_page(ctx: Need<grant::integration::Write>) -> Result<HttpResponse, AppError> {
    let blank = Device {
        id: 0,
        name: String::new(),
        description: String::new(),
        config: crate::tags::model::DriverConfig::ModbusTcp {
            host: String::new(),
            port: 502,
            unit: 1,
            options: Default::default(),
        },
        enabled: true,
    };
    ctx.page(
        "integration/device_form.html",
        context! { values => to_value(&device_values(&blank)) },
    )
}

#[post("/integration/devices")]
async fn device_create_submit(
    ctx: Need<grant::integration::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let result = async {
        let d = device_from_form(&f)?;
        reconfigure(&ctx, move |app, actor| {
            svc::create_device(&app.store, actor, d)
        })
        .await
    }
    .await;
    ctx.done(
        result.map(|d| format!("/integration/devices/{}", d.id)),
        "flash.saved",
        "integration/device_form.html",
        || Ok(context! { values => to_value(&f.echo()) }),
    )
}

#[get("/integration/devices/{id}/edit")]
async fn device_edit_page(
    ctx: Need<grant::integration::Write>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let d = svc::device(&ctx.app.store.read()?, *id)?;
    ctx.page(
        "integration/device_form.html",
        context! { values => to_value(&device_values(&d)), device => to_value(&d.redacted()) },
    )
}

#[post("/integration/devices/{id}")]
async fn device_update_submit(
    ctx: Need<grant::integration::Write>,
    id: web::Path<u32>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = *id;
    let before = svc::device(&ctx.app.store.read()?, id)?;
    let result = async {
        let d = device_from_form(&f)?;
        reconfigure(&ctx, move |app, actor| {
            svc::update_device(&app.store, actor, id, d)
        })
        .await
    }
    .await;
    ctx.done(
        result.map(|d| format!("/integration/devices/{}", d.id)),
        "flash.saved",
        "integration/device_form.html",
        || Ok(context! { values => to_value(&f.echo()), device => to_value(&before.redacted()) }),
    )
}

#[post("/integration/devices/{id}/delete")]
async fn device_delete_submit(
    ctx: Need<grant::integration::Write>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    ctx.write(move |app, actor| {
        svc::delete_device(&app.store, actor, id)?;
        app.reload_tags()
    })
    .await?;
    Ok(redirect_with("/integration/devices", Some("flash.deleted")))
}

#[get("/integration/devices/{id}")]
async fn device_page(
    ctx: Need<grant::integration::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let d = svc::device(&ctx.app.store.read()?, *id)?;
    let tags = tag_views(
        &ctx.app,
        &TagFilter {
            device: Some(d.id),
            ..Default::default()
        },
    );
    let names: Vec<&str> = tags.iter().map(|t| t.tag.name.as_str()).collect();
    ctx.page(
        "integration/device.html",
        context! {
            device => to_value(&DeviceView { status: ctx.app.drivers.status(d.id), device: d.redacted() }),
            names => names.join(","),
            tags => to_value(&tags),
            can_write => ctx.who.can(M, Level::Write),
            can_approve => ctx.who.can(M, Level::Approve),
        },
    )
}

#[post("/integration/devices/{id}/trust-certificate")]
async fn device_trust(
    ctx: Need<grant::integration::Approve>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    trust_certificate(&ctx, *id).await
}

#[post("/integration/devices/{id}/{action}")]
async fn device_switch(
    ctx: Need<grant::integration::Write>,
    path: web::Path<(u32, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let on = match action.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return Err(AppError::not_found()),
    };
    ctx.write(move |app, actor| {
        let mut d = svc::device(&app.store.read()?, id)?;
        d.enabled = on;
        svc::update_device(&app.store, actor, id, d)?;
        app.reload_tags()
    })
    .await?;
    Ok(redirect_with(
        &format!("/integration/devices/{id}"),
        Some("flash.saved"),
    ))
}

/// Trusts whatever certificate the OPC UA server of a device shows next (after it was
/// replaced on purpose). A security decision: approve level, audited.
async fn trust_certificate(
    ctx: &Need<grant::integration::Approve>,
    id: u32,
) -> Result<HttpResponse, AppError> {
    ctx.write(move |app, actor| {
        let d = svc::device(&app.store.read()?, id)?;
        if !matches!(d.config, crate::tags::model::DriverConfig::OpcUa { .. }) {
            return Err(Error::conflict("tags.err.driver_cannot_browse"));
        }
        let mut w = app.store.write(actor)?;
        w.audit(
            "tags.device.trust_certificate",
            format!("device:{id}"),
            crate::store::Change::none(),
        );
        w.commit()?;
        crate::drivers::opcua::forget_pin(&app.drivers.opcua_pki(), id).map_err(|e| {
            Error::Device(crate::i18n::Msg::new("tags.err.write_failed").arg("detail", e))
        })?;
        Ok(())
    })
    .await?;
    Ok(redirect_with(
        &format!("/integration/devices/{id}"),
        Some("flash.saved"),
    ))
}

// ------------------------------------------------------------------ API

/// Tags with their current value, quality and timestamp.
#[utoipa::path(tag = "tags", params(TagFilter), responses((status = 200, description = "Tags", body = Vec<TagView>)), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/tags")]
async fn api_tags(
    ctx: Need<grant::integration::Read>,
    f: web::Query<TagFilter>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(tag_views(&ctx.app, &f)))
}

/// Creates a tag (`id` is assigned; send 0).
#[utoipa::path(tag = "tags", request_body = Tag, responses(
    (status = 201, description = "Created", body = Tag),
    (status = 422, description = "A field breaks a rule; `error.field` names it")), security(("bearer" = ["integration:write"])))]
#[post("/api/v1/tags")]
async fn api_tag_create(
    ctx: Need<grant::integration::Write>,
    body: web::Json<Tag>,
) -> Result<HttpResponse, AppError> {
    let t = body.into_inner();
    let t = reconfigure(&ctx, move |app, actor| {
        svc::create_tag(&app.store, actor, t)
    })
    .await?;
    Ok(HttpResponse::Created().json(t))
}

/// One tag with its current value.
#[utoipa::path(tag = "tags", params(("name" = String, Path, description = "Tag name")), responses(
    (status = 200, description = "The tag", body = TagView), (status = 404, description = "No such tag")), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/tags/{name}")]
async fn api_tag(
    ctx: Need<grant::integration::Read>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(load_tag(&ctx, &name)?))
}

/// Replaces a tag's definition (its id and history stay).
#[utoipa::path(tag = "tags", params(("name" = String, Path, description = "Tag name")), request_body = Tag, responses(
    (status = 200, description = "Updated", body = Tag), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["integration:write"])))]
#[put("/api/v1/tags/{name}")]
async fn api_tag_update(
    ctx: Need<grant::integration::Write>,
    name: web::Path<String>,
    body: web::Json<Tag>,
) -> Result<HttpResponse, AppError> {
    let (name, t) = (name.into_inner(), body.into_inner());
    let t = reconfigure(&ctx, move |app, actor| {
        svc::update_tag(&app.store, actor, &name, t)
    })
    .await?;
    Ok(HttpResponse::Ok().json(t))
}

/// Deletes a tag definition (its history stays until retention removes it).
#[utoipa::path(tag = "tags", params(("name" = String, Path, description = "Tag name")), responses(
    (status = 204, description = "Deleted"), (status = 404, description = "No such tag")), security(("bearer" = ["integration:write"])))]
#[delete("/api/v1/tags/{name}")]
async fn api_tag_delete(
    ctx: Need<grant::integration::Write>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = name.into_inner();
    ctx.write(move |app, actor| {
        svc::delete_tag(&app.store, actor, &name)?;
        app.reload_tags()
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct StreamQuery {
    /// Comma-separated tag names; all tags when absent.
    #[serde(default)]
    pub names: Option<String>,
}

/// One value in a live event.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LiveValue<'a> {
    pub name: &'a str,
    #[schema(value_type = Object)]
    pub value: Option<&'a crate::tags::model::Value>,
    pub quality: crate::tags::model::Quality,
    pub ts_ms: i64,
}

/// Live values as Server-Sent Events: first `snapshot` (every selected tag), then `values`
/// (what changed), a comment every 15 s to keep proxies from closing the stream.
#[utoipa::path(tag = "tags", params(StreamQuery), responses(
    (status = 200, description = "text/event-stream", content_type = "text/event-stream", body = String)), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/stream/tags")]
async fn api_stream(
    ctx: Need<grant::integration::Read>,
    q: web::Query<StreamQuery>,
) -> Result<HttpResponse, AppError> {
    let engine = ctx.app.tags.clone();
    let defs = engine.defs();
    let wanted: Option<HashSet<u32>> = q.names.as_ref().map(|n| {
        n.split(',')
            .filter_map(|name| defs.by_name(name.trim()).map(|t| t.id))
            .collect()
    });
    let rx = engine.subscribe();
    let snapshot = {
        let ids: Vec<u32> = defs
            .iter()
            .map(|t| t.id)
            .filter(|id| wanted.as_ref().is_none_or(|w| w.contains(id)))
            .collect();
        let currents = engine.currents(&ids);
        let values: Vec<LiveValue> = ids
            .iter()
            .zip(&currents)
            .filter_map(|(id, c)| {
                let c = c.as_ref()?;
                Some(LiveValue {
                    name: &defs.get(*id)?.name,
                    value: c.value.as_ref(),
                    quality: c.quality,
                    ts_ms: c.ts_ms,
                })
            })
            .collect();
        sse::event("snapshot", &values)
    };
    let state = (rx, engine, wanted);
    let updates = futures_util::stream::unfold(state, |(mut rx, engine, wanted)| async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
                Err(_) => {
                    return Some((
                        Ok::<_, actix_web::Error>(sse::keep_alive()),
                        (rx, engine, wanted),
                    ));
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Ok(batch)) => {
                    let defs = engine.defs();
                    let values: Vec<LiveValue> = batch
                        .iter()
                        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.tag)))
                        .filter_map(|s| {
                            Some(LiveValue {
                                name: &defs.get(s.tag)?.name,
                                value: s.value.as_ref(),
                                quality: s.quality,
                                ts_ms: s.ts_ms,
                            })
                        })
                        .collect();
                    if values.is_empty() {
                        continue;
                    }
                    let bytes = sse::event("values", &values);
                    return Some((Ok(bytes), (rx, engine, wanted)));
                }
            }
        }
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(snapshot) }),
        updates,
    );
    Ok(sse::response(stream))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct WriteBody {
    /// A number, or `true` / `false` for bool tags, in engineering units.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// Writes a value to a tag's device (needs `automation.write` and a tag marked writable;
/// the value must be inside the tag's range). Answers with the value read back.
#[utoipa::path(tag = "tags", params(("name" = String, Path, description = "Tag name")), request_body = WriteBody, responses(
    (status = 200, description = "Written; the tag's current value after the write", body = Current),
    (status = 403, description = "No automation.write permission"),
    (status = 422, description = "Not writable, wrong type or outside the range; nothing was sent"),
    (status = 409, description = "A control rule refuses it (step, interval, interlock); nothing was sent"),
    (status = 502, description = "The device refused the write or did not answer")), security(("bearer" = ["automation:write"])))]
#[post("/api/v1/tags/{name}/write")]
async fn api_tag_write(
    ctx: Need<grant::automation::Write>,
    name: web::Path<String>,
    body: web::Json<WriteBody>,
) -> Result<HttpResponse, AppError> {
    let current = write_tag(&ctx, &name, &body.value).await?;
    Ok(HttpResponse::Ok().json(current))
}

/// Devices with their live counters.
#[utoipa::path(tag = "devices", responses((status = 200, description = "Devices", body = Vec<DeviceView>)), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/devices")]
async fn api_devices(ctx: Need<grant::integration::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(device_views(&ctx.app)?))
}

/// Adds a device (`id` is assigned; send 0).
#[utoipa::path(tag = "devices", request_body = Device, responses(
    (status = 201, description = "Created", body = Device), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["integration:write"])))]
#[post("/api/v1/devices")]
async fn api_device_create(
    ctx: Need<grant::integration::Write>,
    body: web::Json<Device>,
) -> Result<HttpResponse, AppError> {
    let d = body.into_inner();
    let d = reconfigure(&ctx, move |app, actor| {
        svc::create_device(&app.store, actor, d)
    })
    .await?;
    Ok(HttpResponse::Created().json(d.redacted()))
}

/// One device with its live counters.
#[utoipa::path(tag = "devices", params(("id" = u32, Path, description = "Device id")), responses(
    (status = 200, description = "The device", body = DeviceView), (status = 404, description = "No such device")), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/devices/{id}")]
async fn api_device(
    ctx: Need<grant::integration::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let d = svc::device(&ctx.app.store.read()?, *id)?;
    Ok(HttpResponse::Ok().json(DeviceView {
        status: ctx.app.drivers.status(d.id),
        device: d.redacted(),
    }))
}

/// Replaces a device's configuration; its driver restarts.
#[utoipa::path(tag = "devices", params(("id" = u32, Path, description = "Device id")), request_body = Device, responses(
    (status = 200, description = "Updated", body = Device), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["integration:write"])))]
#[put("/api/v1/devices/{id}")]
async fn api_device_update(
    ctx: Need<grant::integration::Write>,
    id: web::Path<u32>,
    body: web::Json<Device>,
) -> Result<HttpResponse, AppError> {
    let (id, d) = (*id, body.into_inner());
    let d = reconfigure(&ctx, move |app, actor| {
        svc::update_device(&app.store, actor, id, d)
    })
    .await?;
    Ok(HttpResponse::Ok().json(d.redacted()))
}

/// Deletes a device no tag reads from.
#[utoipa::path(tag = "devices", params(("id" = u32, Path, description = "Device id")), responses(
    (status = 204, description = "Deleted"), (status = 409, description = "Tags still read from it")), security(("bearer" = ["integration:write"])))]
#[delete("/api/v1/devices/{id}")]
async fn api_device_delete(
    ctx: Need<grant::integration::Write>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    ctx.write(move |app, actor| {
        svc::delete_device(&app.store, actor, id)?;
        app.reload_tags()
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A device's counters: requests, errors, latency, last error.
#[utoipa::path(tag = "devices", params(("id" = u32, Path, description = "Device id")), responses(
    (status = 200, description = "Status", body = DeviceStatus), (status = 404, description = "No such device")), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/devices/{id}/status")]
async fn api_device_status(
    ctx: Need<grant::integration::Read>,
    id: web::Path<u32>,
) -> Result<HttpResponse, AppError> {
    let d = svc::device(&ctx.app.store.read()?, *id)?;
    Ok(HttpResponse::Ok().json(ctx.app.drivers.status(d.id)))
}
