//! Static files embedded at build time (`core/build.rs`): our CSS/JS from `web/static/` and
//! the npm packages' files under `vendor/`. Served at `/static/<path>`; URLs made by
//! [`url`] carry the content hash, so browsers may cache them forever.

use actix_web::{HttpRequest, HttpResponse, get, http::header, web};

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

fn find(path: &str) -> Option<&'static (&'static str, &'static [u8], &'static str, &'static str)> {
    ASSETS.iter().find(|(p, ..)| *p == path)
}

/// `/static/<name>?v=<hash>` for an embedded file, or None if there is no such file.
pub fn url(name: &str) -> Option<String> {
    find(name).map(|(p, _, _, h)| format!("/static/{p}?v={h}"))
}

#[get("/static/{path:.*}")]
pub async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some((_, bytes, ct, hash)) = find(&path) else {
        return HttpResponse::NotFound().finish();
    };
    let etag = format!("\"{hash}\"");
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return HttpResponse::NotModified().finish();
    }
    let versioned = req.query_string().starts_with("v=");
    HttpResponse::Ok()
        .content_type(*ct)
        .insert_header((header::ETAG, etag))
        .insert_header((
            header::CACHE_CONTROL,
            if versioned {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            },
        ))
        .body(*bytes)
}

/// Browsers ask for `/favicon.ico` on pages without an icon link (downloads, the printable
/// permit): the console's icon, so that is not an error either.
#[get("/favicon.ico")]
pub async fn favicon() -> HttpResponse {
    match find("favicon.svg") {
        Some((_, bytes, ct, _)) => HttpResponse::Ok()
            .content_type(*ct)
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(*bytes),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn vendor_and_own_assets_are_embedded() {
        assert!(super::url("app.css").is_some());
        assert!(super::url("app.js").is_some());
        assert!(super::url("vendor/htmx.min.js").is_some());
        assert!(super::url("nope.js").is_none());
    }
}
