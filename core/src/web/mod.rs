//! The web layer: actix-web server, request pipeline (`middleware`), who-is-calling and page
//! rendering (`context`, `render`), the HTTP error type (`error`), embedded assets, TLS,
//! operations endpoints and the OpenAPI document.
//!
//! Route handlers live with their concern (`auth/routes.rs`, `modules/<id>/routes.rs`…);
//! this module only wires them up.

pub mod assets;
pub mod context;
pub mod error;
pub mod export;
pub mod form;
pub mod grant;
pub mod middleware;
pub mod mime;
pub mod ops;
pub mod render;
pub mod source;
pub mod sse;
pub mod tls;

use std::net::TcpListener;

use actix_web::{HttpResponse, get, middleware as mw, web};
use utoipa::OpenApi;

use crate::app::App;

/// Builds the server on an already bound listener. The caller runs and stops it.
pub fn server(
    app: web::Data<App>,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<actix_web::dev::Server> {
    let max = (app.cfg.web.max_upload_mib as usize) << 20;
    let http = actix_web::HttpServer::new(move || {
        let (json, form, query, path) = error::extractor_configs(max);
        let mut svc = actix_web::App::new()
            .app_data(app.clone())
            .app_data(json)
            .app_data(form)
            .app_data(query)
            .app_data(path)
            .app_data(web::PayloadConfig::new(max))
            .wrap(mw::from_fn(middleware::module_gate))
            .wrap(mw::from_fn(middleware::identify))
            .wrap(mw::from_fn(middleware::finish))
            .wrap(mw::Compress::default())
            .service(assets::serve)
            .service(assets::favicon)
            .service(ops::healthz)
            .service(ops::metrics)
            .service(openapi_json);
        for m in app.registry.modules() {
            let m = m.clone();
            svc = svc.configure(move |c| m.routes(c));
        }
        svc.configure(crate::auth::routes::configure)
            .configure(crate::org::routes::configure)
            .configure(crate::registry::routes::configure)
            .configure(crate::store::routes::configure)
            .configure(crate::plugins::routes::configure)
            .configure(crate::notices::routes::configure)
            .configure(crate::alerts::routes::configure)
            .default_service(web::to(middleware::not_found))
    })
    .disable_signals()
    .shutdown_timeout(10);
    let http = match tls {
        Some(c) => http.listen_rustls_0_23(listener, c)?,
        None => http.listen(listener)?,
    };
    Ok(http.run())
}

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "An API token from Admin → API tokens (or --bootstrap-token). \
                             Browsers use the session cookie and send X-CSRF-Token on writes.",
                        ))
                        .build(),
                ),
            );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "nplusx",
        description = "The JSON API of the nplusx appliance. Errors are `{\"error\": {\"code\", \"message\", \"field\"?}}` with the message in the language of `Accept-Language` (zh-CN default, en)."
    ),
    paths(ops::healthz, ops::metrics),
    modifiers(&Security)
)]
struct CoreDoc;

/// The whole API: core concerns plus every built-in module.
pub fn openapi(app: &App) -> utoipa::openapi::OpenApi {
    let mut doc = CoreDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.merge(crate::auth::routes::Doc::openapi());
    doc.merge(crate::org::routes::Doc::openapi());
    doc.merge(crate::registry::routes::Doc::openapi());
    doc.merge(crate::store::routes::Doc::openapi());
    doc.merge(crate::plugins::routes::Doc::openapi());
    doc.merge(crate::notices::routes::Doc::openapi());
    doc.merge(crate::alerts::routes::Doc::openapi());
    for m in app.registry.modules() {
        doc.merge(m.openapi());
    }
    doc
}

/// The OpenAPI 3.1 document of the JSON API.
#[get("/api/v1/openapi.json")]
async fn openapi_json(app: web::Data<App>) -> HttpResponse {
    match openapi(&app).to_json() {
        Ok(s) => HttpResponse::Ok().content_type("application/json").body(s),
        Err(e) => {
            tracing::error!(error = %e, "OpenAPI document failed to serialise");
            HttpResponse::InternalServerError().finish()
        }
    }
}
