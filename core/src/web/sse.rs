//! Server-Sent Events: the framing and the response headers every live stream uses.

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use futures_util::Stream;
use serde::Serialize;

/// One event: `event: <kind>` and the JSON of `data`.
pub fn event<T: Serialize + ?Sized>(kind: &str, data: &T) -> Bytes {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

/// A comment line that keeps proxies and idle timers from closing a quiet stream.
pub fn keep_alive() -> Bytes {
    Bytes::from_static(b": keep-alive\n\n")
}

/// The streaming response: never cached, compressed or buffered on the way.
pub fn response<S>(stream: S) -> HttpResponse
where
    S: Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("content-encoding", "identity"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream)
}
