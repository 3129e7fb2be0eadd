//! Tests of `ops.rs`.

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
