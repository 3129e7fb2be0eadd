//! The answers a request gets on the FastCGI side: the app's (through the gateway's one entry,
//! so both transports apply the same body rules) and the server's own, given without a
//! handler: 413 for a body over the limit, 431 for params over theirs, 503 for a request no
//! handler took in time or a body with no room in memory or on disk.

use std::time::Duration;

use crate::app::App;
use crate::error::HttpError;
use crate::gateway::{self, BodyError, ContentLength};
use crate::response::HttpResponse;

use crate::fastcgi::protocol::record::RecordError;

/// The app's answer, with the gateway's body rules, so both transports give the same bytes:
/// exactly CONTENT_LENGTH bytes (a short body is a 400, a long one is cut), 413 over the limit;
/// without a length, all FCGI_STDIN carried (nginx, chunked and unbuffered; the connection
/// already bounded it by the limit).
pub fn answer(app: &App, params: gateway::Params, body: Vec<u8>, max_body: u64) -> HttpResponse {
    gateway::handle(app, params, gateway::BodySource::Received(body), max_body).response
}

/// The 413 for a body over the limit, declared or not.
pub fn too_large_response(app: &App, params: &gateway::Params, max_body: u64) -> HttpResponse {
    let declared = match gateway::content_length(params) {
        ContentLength::Bytes(len) => Some(len),
        ContentLength::Absent | ContentLength::Invalid => None,
    };
    app.error_response(BodyError::TooLarge { declared }.into_http(max_body))
}

/// The 431 for params over `--max-params-bytes` or `--max-params` (RFC 6585 §5).
pub fn headers_too_large_response(app: &App, reason: &RecordError) -> HttpResponse {
    app.error_response(HttpError::new(
        431,
        format!("Request headers are over the limit: {reason}"),
    ))
}

/// The 503 for a body that could be neither held in memory nor spilled to disk.
pub fn spill_refused_response(app: &App) -> HttpResponse {
    app.error_response(HttpError::service_unavailable(
        "Server busy: no room for the request body now; try again later",
    ))
}

/// The 503 for a request no worker took in time.
pub fn busy_response(app: &App, queue_wait: Duration) -> HttpResponse {
    app.error_response(HttpError::service_unavailable(format!(
        "Server busy: no worker was free within {:.3} s",
        queue_wait.as_secs_f64()
    )))
}
