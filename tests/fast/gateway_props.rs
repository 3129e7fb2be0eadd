//! Property tests: no meta-variables and body a client or server can send make the gateway or
//! `App::handle` panic, and every answer is a well-formed CGI response whose Content-Length
//! matches its body.

use proptest::prelude::*;
use pycnic::gateway::{build_request, write_response};
use pycnic::{App, Handler, HttpError, Request, Response};
use serde_json::{Value, json};

fn app() -> App {
    fn echo(_: &(), req: &Request, _: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({
            "path": req.path(), "args": req.args(), "cookies": req.cookies(),
            "headers": req.headers(), "data": req.data()?, "json": req.json_args()?,
            "ip": req.ip(), "route": req.route_args(),
        }))
    }
    App::new()
        .route(
            r"/(\w*)(?:/(.*))?",
            Handler::new(()).get(echo).post(echo).put(echo),
        )
        .header("X-App", "1")
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"REQUEST_METHOD".to_vec()),
        Just(b"REQUEST_URI".to_vec()),
        Just(b"PATH_INFO".to_vec()),
        Just(b"QUERY_STRING".to_vec()),
        Just(b"HTTP_COOKIE".to_vec()),
        Just(b"CONTENT_LENGTH".to_vec()),
        Just(b"HTTP_X_FORWARDED_FOR".to_vec()),
        Just(b"REMOTE_ADDR".to_vec()),
        Just(b"DOCUMENT_URI".to_vec()),
        Just(b"HTTP_ACCEPT".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"GET".to_vec()),
        Just(b"POST".to_vec()),
        Just(b"head".to_vec()),
        Just(b"/x/y%2".to_vec()),
        Just(b"json=%7B%7D&a=1".to_vec()),
        Just(b"/status".to_vec()),
        Just(b"format=prometheus".to_vec()),
        Just(b"text/plain; version=0.0.4".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #[test]
    fn any_params_and_body_get_a_well_formed_answer(
        params in proptest::collection::vec((name(), value()), 0..12),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let head = params
            .iter()
            .find(|(n, _)| n == b"REQUEST_METHOD")
            .is_some_and(|(_, v)| String::from_utf8_lossy(v).trim().eq_ignore_ascii_case("HEAD"));
        let response = app().handle(build_request(params.into_iter().collect(), body));
        prop_assert!((100..=599).contains(&response.status));
        let declared = response.header("Content-Length").map(str::to_string);
        let mut out = Vec::new();
        write_response(response, &mut out).unwrap();
        let text = String::from_utf8_lossy(&out);
        prop_assert!(text.starts_with("Status: "), "{}", text);
        let split = out.windows(4).position(|w| w == b"\r\n\r\n");
        prop_assert!(split.is_some(), "head ends with a blank line");
        let body_len = out.len() - split.unwrap() - 4;
        match declared {
            // HEAD keeps GET's Content-Length and sends no body (RFC 9110 §9.3.2).
            Some(_) if head => prop_assert_eq!(body_len, 0),
            Some(declared) => prop_assert_eq!(declared.parse::<usize>().unwrap(), body_len),
            None => {}
        }
    }

    /// The runtime's own pages match the path a handler would see, and reading the params
    /// for them never panics.
    #[test]
    fn ops_pages_see_the_handlers_path(
        params in proptest::collection::vec((name(), value()), 0..12),
    ) {
        let params: pycnic::gateway::Params = params.into_iter().collect();
        let path = pycnic::gateway::request_path_of(&params).into_owned();
        let request = build_request(params.clone(), Vec::new());
        prop_assert_eq!(path.as_str(), request.path());
        let pages = pycnic::ops::OpsPaths {
            status: Some("/status".into()),
            ping: Some("/ping".into()),
        };
        let page = pages.page_for(&params);
        prop_assert_eq!(page == Some(pycnic::ops::Page::Status), path == "/status");
        let _ = pycnic::ops::wants_prometheus(&params);
        let _ = pycnic::ops::OpsPaths::from_params(&params);
        let ping = pycnic::ops::ping_response(&app(), &params);
        prop_assert!(ping.status == 200 || ping.status == 405);
    }
}
