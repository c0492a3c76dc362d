//! Vehicles and their hazmat transport permits: pages and API.

use super::*;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(vehicles_page)
        .service(vehicle_submit)
        .service(vehicle_delete)
        .service(api_vehicles)
        .service(api_vehicle_create);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_vehicles, api_vehicle_create))]
pub(super) struct Doc;

#[get("/safety/vehicles")]
async fn vehicles_page(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    vehicles_form(&ctx, serde_json::json!({"enabled": "1"}), None)
}

fn vehicles_form(
    ctx: &Ctx,
    values: serde_json::Value,
    err: Option<AppError>,
) -> Result<HttpResponse, AppError> {
    let list = ps::vehicles(&ctx.app.store.read()?)?;
    let today = crate::plant_time::format_day(today(ctx));
    let c = context! {
        vehicles => to_value(&list),
        today => today,
        values => to_value(&values),
        can_write => ctx.who.can(M, Level::Write),
        can_delete => ctx.who.can(M, Level::Approve),
    };
    match err {
        Some(e) => ctx.form_error("safety/vehicles.html", c, e),
        None => ctx.page("safety/vehicles.html", c),
    }
}

fn vehicle_of(f: &FormData) -> Result<Vehicle, Error> {
    Ok(Vehicle {
        id: f.opt("id")?.unwrap_or(0),
        plate: f.get("plate").into(),
        hazmat: matches!(f.get("hazmat"), "1" | "on"),
        hazmat_permit: f.get("hazmat_permit").into(),
        permit_expires: Some(f.get("permit_expires").to_string()),
        driver: f.get("driver").into(),
        company: f.get("company").into(),
        enabled: !matches!(f.get("disabled"), "1" | "on"),
    })
}

#[post("/safety/vehicles")]
async fn vehicle_submit(
    ctx: Need<grant::safety::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let v = vehicle_of(&f)?;
        ctx.write(move |app, actor| ps::save_vehicle(&app.store, actor, v))
            .await
    }
    .await;
    match r {
        Ok(_) => Ok(redirect_with("/safety/vehicles", Some("flash.saved"))),
        Err(e) => vehicles_form(&ctx, f.echo(), Some(e)),
    }
}

#[post("/safety/vehicles/{id}/delete")]
async fn vehicle_delete(
    ctx: Need<grant::safety::Approve>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let vid = *id;
    ctx.write(move |app, actor| ps::delete_vehicle(&app.store, actor, vid))
        .await?;
    Ok(redirect_with("/safety/vehicles", Some("flash.deleted")))
}

/// Vehicles allowed in.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Vehicles", body = Vec<Vehicle>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/vehicles")]
async fn api_vehicles(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(ps::vehicles(&ctx.app.store.read()?)?))
}

/// Registers (id 0) or changes a vehicle.
#[utoipa::path(tag = "safety", request_body = Vehicle, responses(
    (status = 200, description = "Saved", body = Vehicle), (status = 422, description = "A field breaks a rule")), security(("bearer" = ["safety:write"])))]
#[post("/api/v1/safety/vehicles")]
async fn api_vehicle_create(
    ctx: Need<grant::safety::Write>,
    body: web::Json<Vehicle>,
) -> Result<HttpResponse, AppError> {
    let v = body.into_inner();
    let v = ctx
        .write(move |app, actor| ps::save_vehicle(&app.store, actor, v))
        .await?;
    Ok(HttpResponse::Ok().json(v))
}
