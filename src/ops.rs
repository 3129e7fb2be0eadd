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
mod tests {
    use super::*;

    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn params(pairs: Pairs) -> Params {
        pairs
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn pages_match_the_path_a_handler_would_see() {
        let paths = OpsPaths {
            status: Some("/status".into()),
            ping: Some("/ping".into()),
        };
        let cases: [(Pairs, Option<Page>); 6] = [
            (
                &[("REQUEST_URI", "/status?format=prometheus")],
                Some(Page::Status),
            ),
            (&[("REQUEST_URI", "/st%61tus")], Some(Page::Status)),
            (
                &[("PATH_INFO", "/ping"), ("REQUEST_URI", "/x")],
                Some(Page::Ping),
            ),
            (&[("REQUEST_URI", "/ping/")], None),
            (&[("REQUEST_URI", "/status/x")], None),
            (&[], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(paths.page_for(&params(pairs)), want, "{pairs:?}");
        }
        assert_eq!(
            OpsPaths::default().page_for(&params(&[("REQUEST_URI", "/")])),
            None
        );
    }

    #[test]
    fn cgi_reads_the_paths_from_the_environment() {
        let env = params(&[
            ("PYCNIC_PING_PATH", "/ping"),
            ("PYCNIC_STATUS_PATH", "nope"),
            ("REQUEST_URI", "/ping"),
        ]);
        let paths = OpsPaths::from_params(&env);
        assert_eq!(paths.ping.as_deref(), Some("/ping"));
        assert_eq!(paths.status, None, "a value that is not a path is off");
    }

    #[test]
    fn the_prometheus_format_is_asked_by_query_or_accept() {
        let cases: [(Pairs, bool); 7] = [
            (&[("QUERY_STRING", "format=prometheus")], true),
            (&[("QUERY_STRING", "a=1&format=Prometheus")], true),
            (&[("QUERY_STRING", "format=json")], false),
            (&[("HTTP_ACCEPT", "text/plain; version=0.0.4")], true),
            (
                &[(
                    "HTTP_ACCEPT",
                    "application/openmetrics-text;version=1.0.0,*/*;q=0.1",
                )],
                true,
            ),
            (&[("HTTP_ACCEPT", "text/plain")], false),
            (&[("HTTP_ACCEPT", "application/json")], false),
        ];
        for (pairs, want) in cases {
            assert_eq!(wants_prometheus(&params(pairs)), want, "{pairs:?}");
        }
    }

    #[test]
    fn paths_must_be_absolute() {
        assert_eq!(parse_path("/status").as_deref(), Ok("/status"));
        for bad in ["", "status", "/s?x", "/s#x"] {
            assert!(parse_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ping_and_the_cgi_status_page() {
        let app = App::new();
        let get = params(&[("REQUEST_METHOD", "GET")]);
        let ping = ping_response(&app, &get);
        assert_eq!(ping.status, 200);
        assert_eq!(ping.body_bytes(), Some(&b"pong"[..]));
        assert_eq!(ping.header("Cache-Control"), Some("no-store"));
        let head = ping_response(&app, &params(&[("REQUEST_METHOD", "HEAD")]));
        assert_eq!(head.body_bytes(), Some(&b""[..]));
        assert_eq!(head.header("Content-Length"), Some("4"));
        let post = ping_response(&app, &params(&[("REQUEST_METHOD", "POST")]));
        assert_eq!(post.status, 405);
        assert_eq!(post.header("Allow"), Some("GET, HEAD"));
        let status = cgi_status_response(&app, &get);
        assert_eq!(status.status, 501);
        assert_eq!(status.header("Cache-Control"), Some("no-store"));
        let body: serde_json::Value =
            serde_json::from_slice(status.body_bytes().unwrap_or_default()).unwrap_or_default();
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("CGI")),
            "{body}"
        );
    }
}
