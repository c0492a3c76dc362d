//! The content type of a console file by its extension. Shared with `core/build.rs`, which
//! records it for the embedded files.

pub fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" | "webmanifest" => "application/json",
        // WebAssembly.instantiateStreaming takes nothing else
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}
