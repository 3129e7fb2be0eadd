//! Where a request comes from: arbitrary `Origin`, `Sec-Fetch-Site`, `Host`, `SERVER_PORT`,
//! `HTTPS`, method, `Content-Type` and preflight headers through `App::handle` with
//! cross-origin protection, a CORS list and JSON only. Never a panic; a refusal is a 403 or a
//! 415; CORS headers appear only for the listed origin, never `*`, and every header value is
//! safe to write.
//! Input layout: NUL-separated fields in the order of `FIELDS`; the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pycnic::gateway::build_request;
use pycnic::params::Params;
use pycnic::{App, Handler};
use serde_json::json;

const LISTED: &str = "https://spa.example";
const FIELDS: [&str; 8] = [
    "REQUEST_METHOD",
    "HTTP_ORIGIN",
    "HTTP_SEC_FETCH_SITE",
    "HTTP_HOST",
    "SERVER_PORT",
    "HTTPS",
    "CONTENT_TYPE",
    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS",
];

static APP: std::sync::OnceLock<App> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let app = APP.get_or_init(|| {
        App::new()
            .route("/x", Handler::new(()).get(|_, _, _| Ok(json!({}))).post(|_, _, _| Ok(json!({}))))
            .cors_origins(&[LISTED])
            .trusted_origins(&["http://trusted.example:8080"])
            .cross_origin_exempt("/hook")
            .json_only()
    });
    let mut parts = data.splitn(FIELDS.len() + 1, |&b| b == 0);
    let mut params = Params::new();
    params.push(b"REQUEST_URI", b"/x");
    params.push(b"HTTP_ACCESS_CONTROL_REQUEST_METHOD", b"POST");
    let mut origin = Vec::new();
    for name in FIELDS {
        let Some(value) = parts.next() else { break };
        if name == "HTTP_ORIGIN" {
            origin = value.to_vec();
        }
        params.push(name.as_bytes(), value);
    }
    let body = parts.next().unwrap_or_default().to_vec();
    let answer = app.handle(build_request(params, body));
    let allow_origin: Vec<&str> = answer
        .headers
        .iter()
        .filter(|(n, _)| n.as_str() == "Access-Control-Allow-Origin")
        .map(|(_, v)| v.as_str())
        .collect();
    for value in &allow_origin {
        assert_ne!(*value, "*");
        assert!(value.eq_ignore_ascii_case(LISTED), "{value:?}");
        assert_eq!(String::from_utf8_lossy(&origin).trim(), *value);
    }
    for (name, value) in &answer.headers {
        assert!(
            !value.as_str().bytes().any(|b| b == b'\r' || b == b'\n' || b == 0),
            "{name:?}: {value:?}"
        );
    }
    assert!(matches!(answer.status, 200 | 204 | 403 | 405 | 415 | 500), "{}", answer.status);
});
