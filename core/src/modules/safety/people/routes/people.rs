//! The registry of people (employees, contractors, visitors): pages and API.

use super::*;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(people_page)
        .service(person_page)
        .service(person_submit)
        .service(person_delete)
        .service(api_people)
        .service(api_person_create)
        .service(api_person_update)
        .service(api_person_delete);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_people, api_person_create, api_person_update, api_person_delete))]
pub(super) struct Doc;

#[derive(Deserialize, Default)]
struct PeopleQuery {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

/// People's certificates in the archive, for the form's choice.
fn person_certs(ctx: &Ctx) -> Result<Vec<serde_json::Value>, AppError> {
    let r = ctx.app.store.read()?;
    Ok(crate::modules::safety::archive::service::certificates(
        &r,
        today(ctx),
        &crate::modules::safety::archive::service::Filter {
            subject: Some("person".into()),
            ..Default::default()
        },
    )?
    .into_iter()
    .map(|c| serde_json::json!({"id": c.cert.id, "label": format!("{} {} {}", c.cert.holder, c.cert.number, c.cert.scope), "status": c.status}))
    .collect())
}

#[get("/safety/people")]
async fn people_page(
    ctx: Need<grant::safety::Read>,
    q: web::Query<PeopleQuery>,
) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let needle = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let list: Vec<Person> = ps::people(&r)?
        .into_iter()
        .filter(|p| {
            q.kind
                .as_deref()
                .filter(|k| !k.is_empty())
                .is_none_or(|k| PersonKind::parse(k) == Some(p.kind))
        })
        .filter(|p| {
            needle.is_empty()
                || format!("{} {} {} {}", p.name, p.organisation, p.badge, p.tag)
                    .to_lowercase()
                    .contains(&needle)
        })
        .collect();
    let counts = ps::head_counts(&r)?;
    drop(r);
    ctx.page(
        "safety/people.html",
        context! {
            people => to_value(&list),
            counts => to_value(&counts),
            filter => to_value(&serde_json::json!({"kind": q.kind, "q": q.q})),
            certs => to_value(&person_certs(&ctx)?),
            values => to_value(&serde_json::json!({"kind": "employee", "enabled": "1"})),
            can_write => ctx.who.can(M, Level::Write),
        },
    )
}

#[get("/safety/people/{id}")]
async fn person_page(
    ctx: Need<grant::safety::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let p = ps::person(&ctx.app.store.read()?, *id)?;
    let values = person_values(&p);
    person_form(&ctx, Some(&p), values, None)
}

/// A person as the form echoes it: the record with the checkbox as the
/// form sends it.
#[derive(serde::Serialize)]
struct PersonValues<'a> {
    #[serde(flatten)]
    person: &'a Person,
    enabled: &'static str,
}

fn person_values(p: &Person) -> serde_json::Value {
    serde_json::to_value(PersonValues {
        person: p,
        enabled: if p.enabled { "1" } else { "" },
    })
    .unwrap_or_default()
}

fn person_form(
    ctx: &Ctx,
    p: Option<&Person>,
    values: serde_json::Value,
    err: Option<AppError>,
) -> Result<HttpResponse, AppError> {
    let c = context! {
        person => p.map(to_value),
        values => to_value(&values),
        certs => to_value(&person_certs(ctx)?),
        can_write => ctx.who.can(M, Level::Write),
        can_delete => ctx.who.can(M, Level::Approve),
    };
    match err {
        Some(e) => ctx.form_error("safety/person.html", c, e),
        None => ctx.page("safety/person.html", c),
    }
}

fn person_of(f: &FormData, id: u64) -> Result<Person, Error> {
    Ok(Person {
        id,
        kind: PersonKind::parse(f.get("kind")).ok_or(Error::Invalid {
            field: "kind",
            msg: Msg::new("common.err.required").arg("field", "kind"),
        })?,
        name: f.get("name").into(),
        organisation: f.get("organisation").into(),
        badge: f.get("badge").into(),
        tag: f.get("tag").into(),
        phone: f.get("phone").into(),
        certs: f
            .all("certs")
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect(),
        valid_until: Some(f.get("valid_until").to_string()),
        enabled: matches!(f.get("enabled"), "1" | "on"),
    })
}

/// One form for both: id 0 creates.
#[post("/safety/people/{id}")]
async fn person_submit(
    ctx: Need<grant::safety::Write>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let p = person_of(&f, *id)?;
        ctx.write(move |app, actor| ps::save_person(&app.store, actor, p))
            .await
    }
    .await;
    match r {
        Ok(p) => {
            reload(&ctx);
            Ok(redirect_with(
                &format!("/safety/people/{}", p.id),
                Some("flash.saved"),
            ))
        }
        Err(e) => {
            let before = (*id != 0)
                .then(|| ps::person(&ctx.app.store.read().ok()?, *id).ok())
                .flatten();
            let mut values = f.echo();
            if let Some(o) = values.as_object_mut() {
                o.insert("certs".into(), f.all("certs").into());
            }
            person_form(&ctx, before.as_ref(), values, Some(e))
        }
    }
}

#[post("/safety/people/{id}/delete")]
async fn person_delete(
    ctx: Need<grant::safety::Approve>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let pid = *id;
    ctx.write(move |app, actor| ps::delete_person(&app.store, actor, pid))
        .await?;
    reload(&ctx);
    Ok(redirect_with("/safety/people", Some("flash.deleted")))
}

/// The registry of people.
#[utoipa::path(tag = "safety", responses((status = 200, description = "People", body = Vec<Person>)), security(("bearer" = ["safety:read"])))]
#[get("/api/v1/safety/people")]
async fn api_people(ctx: Need<grant::safety::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(ps::people(&ctx.app.store.read()?)?))
}

/// Registers a person (`id` ignored).
#[utoipa::path(tag = "safety", request_body = Person, responses(
    (status = 201, description = "Registered", body = Person), (status = 422, description = "A field breaks a rule (badge or tag taken…)")),
    security(("bearer" = ["safety:write"])))]
#[post("/api/v1/safety/people")]
async fn api_person_create(
    ctx: Need<grant::safety::Write>,
    body: web::Json<Person>,
) -> Result<HttpResponse, AppError> {
    let mut p = body.into_inner();
    p.id = 0;
    let p = ctx
        .write(move |app, actor| ps::save_person(&app.store, actor, p))
        .await?;
    reload(&ctx);
    Ok(HttpResponse::Created().json(p))
}

/// Changes a person.
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Person id")), request_body = Person, responses(
    (status = 200, description = "Changed", body = Person), (status = 404, description = "No such person")), security(("bearer" = ["safety:write"])))]
#[put("/api/v1/safety/people/{id}")]
async fn api_person_update(
    ctx: Need<grant::safety::Write>,
    id: web::Path<u64>,
    body: web::Json<Person>,
) -> Result<HttpResponse, AppError> {
    let mut p = body.into_inner();
    p.id = *id;
    let p = ctx
        .write(move |app, actor| ps::save_person(&app.store, actor, p))
        .await?;
    reload(&ctx);
    Ok(HttpResponse::Ok().json(p))
}

/// Removes a person from the registry (their gate events and tracks stay).
#[utoipa::path(tag = "safety", params(("id" = u64, Path, description = "Person id")), responses((status = 204, description = "Removed")), security(("bearer" = ["safety:approve"])))]
#[delete("/api/v1/safety/people/{id}")]
async fn api_person_delete(
    ctx: Need<grant::safety::Approve>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let pid = *id;
    ctx.write(move |app, actor| ps::delete_person(&app.store, actor, pid))
        .await?;
    reload(&ctx);
    Ok(HttpResponse::NoContent().finish())
}
