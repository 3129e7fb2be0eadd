//! The runtime's own pages for operators: `--status-path` and `--ping-path` (environment
//! `PYCNIC_STATUS_PATH`, `PYCNIC_PING_PATH`; both off by default).
//!
//! The model: the runtime answers these two paths itself, before the app's routes (no hook,
//! router or handler sees them), matching the path exactly as a handler would see it
//! ([`gateway::request_path_of`]). They take GET and HEAD; any other method gets a 405 with
//! `Allow: GET, HEAD`. Every answer carries `Cache-Control: no-store`.
//!
//! - Ping answers `200 pong` as `text/plain`, under FastCGI and one-shot CGI alike.
//! - Status, under FastCGI, is the server's counters (`fastcgi::status` renders them, as
//!   JSON or Prometheus text). Under one-shot CGI each request is a process of its own and
//!   nothing outlives it, so there is no server to report on: the status path answers 501 Not
//!   Implemented (RFC 9110 §15.6.2: the server does not support what the request asks)
//!   with Pycnic's error shape. Not 404, since the path is configured and the operator should
//!   learn why it says nothing; not 503, which a monitor would read as "down, retry".
//!
//! Under CGI only the environment configures the binary (a web server runs it without
//! arguments), so the two variables are read from the request's environment, which the CGI
//! transport holds anyway: no extra system call.

use std::borrow::Cow;

use crate::app::App;
use crate::error::HttpError;
use crate::gateway::{self, Params};
use crate::http::HeaderText;
use crate::response::{Body, HttpResponse};

/// The environment variable of `--status-path`.
pub const STATUS_PATH_VAR: &str = "PYCNIC_STATUS_PATH";
/// The environment variable of `--ping-path`.
pub const PING_PATH_VAR: &str = "PYCNIC_PING_PATH";

/// The content type of the Prometheus text exposition format, version 0.0.4.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which of the runtime's pages a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// `--status-path`.
    Status,
    /// `--ping-path`.
    Ping,
}

/// The paths the runtime answers itself; both `None` (the default) costs nothing per request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpsPaths {
    /// `--status-path`.
    pub status: Option<String>,
    /// `--ping-path`.
    pub ping: Option<String>,
}

impl OpsPaths {
    /// The paths as one-shot CGI finds them: `PYCNIC_STATUS_PATH` and `PYCNIC_PING_PATH` in
    /// the request's environment (`params`); an empty value or one that does not start with
    /// `/` is off.
    pub fn from_params(params: &Params) -> OpsPaths {
        let get = |name: &str| {
            params
                .get(name.as_bytes())
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| parse_path(v).ok())
        };
        OpsPaths {
            status: get(STATUS_PATH_VAR),
            ping: get(PING_PATH_VAR),
        }
    }

    /// Whether neither page is configured.
    pub fn is_off(&self) -> bool {
        self.status.is_none() && self.ping.is_none()
    }

    /// The page this request asks for, if any.
    pub fn page_for(&self, params: &Params) -> Option<Page> {
        if self.is_off() {
            return None;
        }
        let path = gateway::request_path_of(params);
        if self.status.as_deref() == Some(&*path) {
            Some(Page::Status)
        } else if self.ping.as_deref() == Some(&*path) {
            Some(Page::Ping)
        } else {
            None
        }
    }
}

/// Parses `--status-path` and `--ping-path`: an absolute path such as `/status`.
pub fn parse_path(text: &str) -> Result<String, String> {
    if text.starts_with('/') && !text.contains(['?', '#']) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a path such as /status (it starts with '/', without '?' or '#')"
        ))
    }
}

/// The first value of a param, as text.
pub fn param<'a>(params: &'a Params, name: &str) -> Option<Cow<'a, str>> {
    params.get(name.as_bytes()).map(String::from_utf8_lossy)
}

/// Whether the request is a HEAD (answered without the body).
fn is_head(params: &Params) -> bool {
    param(params, "REQUEST_METHOD").is_some_and(|m| m.trim().eq_ignore_ascii_case("HEAD"))
}

/// The 405 for a method other than GET and HEAD, or `None` when the method is one of them.
pub fn refuse_method(app: &App, params: &Params) -> Option<HttpResponse> {
    let method = param(params, "REQUEST_METHOD").unwrap_or_default();
    let method = method.trim();
    if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        return None;
    }
    let err = HttpError::method_not_allowed(format!("{method} not allowed"))
        .with_header("Allow", "GET, HEAD")
        .unwrap_or_else(|err| HttpError::internal(err.to_string()));
    Some(no_store(app.error_response(err)))
}

/// A 200 with `body` of `content_type`, `Cache-Control: no-store`, and no body for HEAD.
pub fn page_response(params: &Params, content_type: &str, body: Vec<u8>) -> HttpResponse {
    let headers = vec![
        ("Content-Type".into(), HeaderText::copy(content_type)),
        ("Cache-Control".into(), "no-store".into()),
        (
            "Content-Length".into(),
            HeaderText::number(body.len() as u64),
        ),
    ];
    let body = if is_head(params) { Vec::new() } else { body };
    HttpResponse {
        status: 200,
        headers,
        body: Body::Full(body),
    }
}

/// The ping page: `200 pong`, text/plain (or the 405 for another method).
pub fn ping_response(app: &App, params: &Params) -> HttpResponse {
    refuse_method(app, params)
        .unwrap_or_else(|| page_response(params, "text/plain; charset=utf-8", b"pong".to_vec()))
}

/// The status page under one-shot CGI: 501, there is no server to report on.
pub fn cgi_status_response(app: &App, params: &Params) -> HttpResponse {
    refuse_method(app, params).unwrap_or_else(|| {
        let err = HttpError::new(
            501,
            "No status to report: under one-shot CGI each request is a process of its own and \
             nothing is kept between requests; the status page needs `pycnic fastcgi`",
        );
        let answer = no_store(app.error_response(err));
        if is_head(params) {
            HttpResponse {
                body: Body::Full(Vec::new()),
                ..answer
            }
        } else {
            answer
        }
    })
}

/// One-shot CGI: the answer to a ping or status request, or `None` for the app's routes.
pub fn cgi_answer(app: &App, params: &Params) -> Option<HttpResponse> {
    match OpsPaths::from_params(params).page_for(params)? {
        Page::Ping => Some(ping_response(app, params)),
        Page::Status => Some(cgi_status_response(app, params)),
    }
}

/// Whether the status request asks for the Prometheus text format: `?format=prometheus`, or
/// an `Accept` naming `text/plain; version=0.0.4` or `application/openmetrics-text` (what
/// Prometheus' scraper sends; it gets the 0.0.4 text, which it also accepts).
pub fn wants_prometheus(params: &Params) -> bool {
    let query = param(params, "QUERY_STRING").unwrap_or_default();
    let by_query = query.split('&').any(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        key == "format" && value.eq_ignore_ascii_case("prometheus")
    });
    if by_query {
        return true;
    }
    let Some(accept) = param(params, "HTTP_ACCEPT") else {
        return false;
    };
    let accept = accept.to_ascii_lowercase();
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let mut version_004 = || parts.any(|p| p.replace(' ', "") == "version=0.0.4");
        media == "application/openmetrics-text" || (media == "text/plain" && version_004())
    })
}

/// Adds `Cache-Control: no-store`.
fn no_store(mut response: HttpResponse) -> HttpResponse {
    response
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("Cache-Control"));
    response
        .headers
        .push(("Cache-Control".into(), "no-store".into()));
    response
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
