//! Static files embedded at build time (`core/build.rs`): our CSS/JS from `web/static/` and
//! the npm packages' files under `vendor/` (our own read from disk while developing:
//! `web::source`). Served at `/static/<path>`; URLs made by
//! [`url`] carry the content hash, so browsers may cache them forever.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use actix_web::{HttpRequest, HttpResponse, get, http::header, web};

use super::source;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// A static file: its bytes, content type and content hash.
struct Asset {
    bytes: Cow<'static, [u8]>,
    content_type: &'static str,
    hash: String,
}

/// The file at `path` under `/static/`: from the web directory on disk when the server
/// reads one (`web::source`) and it has the file, else the embedded one.
fn find(path: &str) -> Option<Asset> {
    if let Some(dir) = source::dir_path()
        && !path.split('/').any(|c| c == ".." || c.is_empty())
        && let Ok(bytes) = std::fs::read(dir.join("static").join(path))
    {
        let mut h = std::hash::DefaultHasher::new();
        bytes.hash(&mut h);
        return Some(Asset {
            content_type: super::mime::content_type(path),
            hash: format!("{:016x}", h.finish()),
            bytes: Cow::Owned(bytes),
        });
    }
    ASSETS
        .iter()
        .find(|(p, ..)| *p == path)
        .map(|(_, bytes, ct, hash)| Asset {
            bytes: Cow::Borrowed(*bytes),
            content_type: ct,
            hash: hash.to_string(),
        })
}

/// `/static/<name>?v=<hash>` for a static file, or None if there is no such file.
pub fn url(name: &str) -> Option<String> {
    find(name).map(|a| format!("/static/{name}?v={}", a.hash))
}

#[get("/static/{path:.*}")]
pub async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some(Asset {
        bytes,
        content_type: ct,
        hash,
    }) = find(&path)
    else {
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
        .content_type(ct)
        .insert_header((header::ETAG, etag))
        .insert_header((
            header::CACHE_CONTROL,
            if versioned {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            },
        ))
        .body(bytes)
}

/// Browsers ask for `/favicon.ico` on pages without an icon link (downloads, the printable
/// permit): the console's icon, so that is not an error either.
#[get("/favicon.ico")]
pub async fn favicon() -> HttpResponse {
    match find("favicon.svg") {
        Some(a) => HttpResponse::Ok()
            .content_type(a.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(a.bytes),
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
