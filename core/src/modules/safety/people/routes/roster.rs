//! The duty roster (定岗定人): posts in zones, shifts, assignments: pages and API.

use super::*;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(roster_page)
        .service(roster_submit)
        .service(roster_delete)
        .service(api_roster);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_roster))]
pub(super) struct Doc;

/// A roster entry to add.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "what", rename_all = "snake_case")]
enum RosterInput {
    Post(Post),
    Shift(Shift),
    Assignment(Assignment),
}

fn roster_ctx(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let (posts, shifts, assignments, zones, people) = (
        ps::posts(&r)?,
        ps::shifts(&r)?,
        ps::assignments(&r)?,
        ps::zones(&r)?,
        ps::people(&r)?,
    );
    drop(r);
    let status = live(&ctx.app).roster_status(&ctx.app, now_ms())?;
    Ok(context! {
        posts => to_value(&posts),
        shifts => to_value(&shifts),
        assignments => to_value(&assignments),
        zones => to_value(&zones.iter().map(|z| serde_json::json!({"id": z.id, "name": z.name})).collect::<Vec<_>>()),
        people => to_value(&people.iter().map(|p| serde_json::json!({"id": p.id, "name": p.name})).collect::<Vec<_>>()),
        status => to_value(&status),
        values => to_value(&values),
        can_configure => ctx.who.can(M, Level::Approve),
    })
}

#[get("/safety/roster")]
async fn roster_page(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    let c = roster_ctx(&ctx, serde_json::json!({"grace_minutes": "10"}))?;
    ctx.page("safety/roster.html", c)
}

/// One form per kind: `what` = post, shift or assignment.
#[post("/safety/roster")]
async fn roster_submit(
    ctx: Need<grant::safety::Approve>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let parsed: Result<RosterInput, Error> = (|| {
        Ok(match f.get("what") {
            "post" => RosterInput::Post(Post {
                id: 0,
                name: f.get("name").into(),
                zone: f.opt("zone")?.unwrap_or(0),
                grace_minutes: f.opt("grace_minutes")?.unwrap_or(10),
            }),
            "shift" => RosterInput::Shift(Shift {
                id: 0,
                name: f.get("name").into(),
                from: f.get("from").into(),
                to: f.get("to").into(),
            }),
            _ => RosterInput::Assignment(Assignment {
                id: 0,
                post: f.opt("post")?.unwrap_or(0),
                shift: f.opt("shift")?.unwrap_or(0),
                person: f.opt("person")?.unwrap_or(0),
            }),
        })
    })();
    let r = async {
        let input = parsed?;
        ctx.write(move |app, actor| save_roster(&app.store, actor, input))
            .await
    }
    .await;
    match r {
        Ok(()) => Ok(redirect_with("/safety/roster", Some("flash.saved"))),
        Err(e) => {
            let c = roster_ctx(&ctx, f.echo())?;
            ctx.form_error("safety/roster.html", c, e)
        }
    }
}

fn save_roster(
    store: &crate::store::Store,
    actor: &crate::store::Actor,
    i: RosterInput,
) -> crate::error::Result<()> {
    match i {
        RosterInput::Post(p) => ps::save_post(store, actor, p).map(|_| ()),
        RosterInput::Shift(s) => ps::save_shift(store, actor, s).map(|_| ()),
        RosterInput::Assignment(a) => ps::save_assignment(store, actor, a).map(|_| ()),
    }
}

#[post("/safety/roster/{what}/{id}/delete")]
async fn roster_delete(
    ctx: Need<grant::safety::Approve>,
    path: web::Path<(String, u64)>,
) -> Result<HttpResponse, AppError> {
    let (what, id) = path.into_inner();
    if !matches!(what.as_str(), "post" | "shift" | "assignment") {
        return Err(Error::NotFound(Msg::new("safety.roster.err.not_found")).into());
    }
    ctx.write(move |app, actor| ps::delete_roster_entry(&app.store, actor, &what, id))
        .await?;
    Ok(redirect_with("/safety/roster", Some("flash.deleted")))
}

/// The duty roster now: each post, the shift in force, who is assigned and who holds it.
#[utoipa::path(tag = "safety", responses((status = 200, description = "Posts", body = Vec<PostStatus>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/roster")]
async fn api_roster(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(live(&ctx.app).roster_status(&ctx.app, now_ms())?))
}
