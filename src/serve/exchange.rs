//! One request through the gateway: the CGI variables a web server would set for a parsed
//! head, and [`answer`], the one place `serve` calls into the gateway and the app (the same
//! calls one-shot CGI makes, so the answers are the ones CGI writes).

use std::net::SocketAddr;

use crate::app::App;
use crate::error::HttpError;
use crate::gateway::{self, Params};
use crate::response::HttpResponse;

use super::head::Head;

/// Where a connection comes from and arrives.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// The client's address.
    pub remote: SocketAddr,
    /// The address the client connected to.
    pub local: SocketAddr,
}

/// The meta-variables (RFC 3875 §4.1) for `head` with a body of `body_len` bytes, as nginx's
/// `fastcgi_params` send them; headers with `_` in their name are dropped, as nginx does, so
/// that `X_Forwarded_For` cannot pose as `X-Forwarded-For`.
pub fn params_for(head: &Head, peer: &Peer, body_len: Option<usize>) -> Params {
    let (path, query) = head.target.split_once('?').unwrap_or((&head.target, ""));
    let host = head.values("Host").next().map(<[u8]>::to_vec);
    let server_name = host
        .as_deref()
        .map(|h| match h.iter().rposition(|b| *b == b':') {
            Some(colon) if !h.ends_with(b"]") => h.get(..colon).unwrap_or(h).to_vec(),
            _ => h.to_vec(),
        })
        .unwrap_or_else(|| peer.local.ip().to_string().into_bytes());
    let mut params = Params::new();
    params.push(b"GATEWAY_INTERFACE", b"CGI/1.1");
    params.push(
        b"SERVER_PROTOCOL",
        if head.minor_version == 0 {
            b"HTTP/1.0"
        } else {
            b"HTTP/1.1"
        },
    );
    params.push(b"SERVER_SOFTWARE", b"pycnic-serve");
    params.push(b"SERVER_NAME", &server_name);
    params.push(b"SERVER_ADDR", peer.local.ip().to_string().as_bytes());
    params.push(b"SERVER_PORT", peer.local.port().to_string().as_bytes());
    params.push(b"REMOTE_ADDR", peer.remote.ip().to_string().as_bytes());
    params.push(b"REMOTE_PORT", peer.remote.port().to_string().as_bytes());
    params.push(b"REQUEST_SCHEME", b"http");
    params.push(b"HTTPS", b"off");
    params.push(b"REQUEST_METHOD", head.method.as_bytes());
    params.push(b"REQUEST_URI", head.target.as_bytes());
    params.push(b"SCRIPT_NAME", b"");
    params.push(b"PATH_INFO", crate::gateway::uri_path(path).as_bytes());
    params.push(b"QUERY_STRING", query.as_bytes());
    if let Some(len) = body_len {
        params.push(b"CONTENT_LENGTH", len.to_string().as_bytes());
    }
    for (name, value) in &head.headers {
        if name.contains('_') {
            continue;
        }
        let var = name.to_ascii_uppercase().replace('-', "_");
        match var.as_str() {
            "CONTENT_LENGTH" | "TRANSFER_ENCODING" => {}
            "CONTENT_TYPE" => params.push(b"CONTENT_TYPE", value),
            _ => params.push(format!("HTTP_{var}").as_bytes(), value),
        }
    }
    // The runtime's own pages, as one-shot CGI finds them in its environment.
    for var in ["PYCNIC_STATUS_PATH", "PYCNIC_PING_PATH"] {
        if let Some(value) = std::env::var_os(var) {
            params.push(var.as_bytes(), value.as_encoded_bytes());
        }
    }
    params
}

/// The app's answer to one request, or Pycnic's JSON error for one that could not be read:
/// the runtime's own pages first, then the gateway's one entry (the body rules, the request,
/// the route table), as one-shot CGI and FastCGI answer. The body was already bounded by
/// `--max-body` as it was read, so the entry is given no second limit.
pub fn answer(app: &App, params: Params, body: Result<Vec<u8>, HttpError>) -> HttpResponse {
    match body {
        Err(err) => app.error_response(err),
        Ok(body) => match crate::ops::cgi_answer(app, &params) {
            Some(page) => page,
            None => {
                gateway::handle(app, params, gateway::BodySource::Received(body), u64::MAX).response
            }
        },
    }
}
