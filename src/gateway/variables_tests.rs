//! Tests of `gateway/variables.rs`.

use super::*;

type Pairs<'a> = &'a [(&'a str, &'a [u8])];

fn params(pairs: Pairs) -> Params {
    pairs
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.to_vec()))
        .collect()
}

#[test]
fn method_is_upper_cased_and_empty_when_missing() {
    let cases: [(Pairs, &str); 4] = [
        (&[("REQUEST_METHOD", b"post")], "POST"),
        (&[], ""),
        (&[("REQUEST_METHOD", b" ")], ""),
        (&[("REQUEST_METHOD", b"\xffget")], "\u{fffd}GET"),
    ];
    for (pairs, want) in cases {
        assert_eq!(
            build_request(params(pairs), Vec::new()).method(),
            want,
            "{pairs:?}"
        );
    }
}

#[test]
fn headers_are_title_cased_and_repeats_joined_cookies_with_semicolons() {
    let req = build_request(
        params(&[
            ("HTTP_COOKIE", b"a=1"),
            ("HTTP_COOKIE", b"b=2"),
            ("HTTP_ACCEPT", b"text/html"),
            ("HTTP_ACCEPT", b"application/json"),
            ("CONTENT_TYPE", b"application/json"),
            ("CONTENT_LENGTH", b""),
            ("HTTP_X_BAD_VALUE", b"a\rb"),
            ("SERVER_NAME", b"localhost"),
        ]),
        Vec::new(),
    );
    let listed: Vec<_> = req.headers().iter().collect();
    assert_eq!(
        listed,
        [
            ("Cookie", "a=1; b=2"),
            ("Accept", "text/html, application/json"),
            ("Content-Type", "application/json"),
        ]
    );
    assert_eq!(req.cookies().get("a"), Some("1"), "first Cookie header");
    assert_eq!(req.cookies().get("b"), Some("2"), "second Cookie header");
    assert_eq!(
        req.environ().get_all("HTTP_COOKIE"),
        ["a=1", "b=2"],
        "duplicates kept"
    );
}

#[test]
fn content_type_and_length_passed_twice_by_nginx_are_one_header() {
    type Listed<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&str, Pairs, Listed); 3] = [
        (
            "nginx: CGI variable and HTTP_ copy",
            &[
                ("CONTENT_TYPE", b"application/json"),
                ("CONTENT_LENGTH", b"2"),
                ("HTTP_CONTENT_TYPE", b"application/json"),
                ("HTTP_CONTENT_LENGTH", b"2"),
            ],
            &[
                ("Content-Type", "application/json"),
                ("Content-Length", "2"),
            ],
        ),
        (
            "only the HTTP_ copy",
            &[("HTTP_CONTENT_TYPE", b"text/plain")],
            &[("Content-Type", "text/plain")],
        ),
        (
            "empty CGI variable and an HTTP_ copy",
            &[("CONTENT_LENGTH", b""), ("HTTP_CONTENT_LENGTH", b"0")],
            &[],
        ),
    ];
    for (case, pairs, want) in cases {
        let req = build_request(params(pairs), Vec::new());
        let listed: Vec<_> = req.headers().iter().collect();
        assert_eq!(listed, want, "{case}");
    }
}

#[test]
fn query_comes_from_query_string_else_request_uri() {
    let cases: [(Pairs, Option<&str>); 3] = [
        (
            &[("QUERY_STRING", b"q=a+b"), ("REQUEST_URI", b"/?q=other")],
            Some("a b"),
        ),
        (&[("REQUEST_URI", b"/x?q=%41")], Some("A")),
        (&[("QUERY_STRING", b""), ("REQUEST_URI", b"/x?q=1")], None),
    ];
    for (pairs, want) in cases {
        assert_eq!(
            build_request(params(pairs), Vec::new()).args().get("q"),
            want,
            "{pairs:?}"
        );
    }
}

#[test]
fn content_length_is_read_as_cgi_servers_send_it() {
    let cases: [(Pairs, ContentLength); 6] = [
        (&[], ContentLength::Absent),
        (&[("CONTENT_LENGTH", b"")], ContentLength::Absent),
        (&[("CONTENT_LENGTH", b"42")], ContentLength::Bytes(42)),
        (&[("CONTENT_LENGTH", b"-1")], ContentLength::Invalid),
        (&[("CONTENT_LENGTH", b"4x")], ContentLength::Invalid),
        (
            &[("CONTENT_LENGTH", b"99999999999999999999999")],
            ContentLength::Bytes(u64::MAX),
        ),
    ];
    for (pairs, want) in cases {
        assert_eq!(content_length(&params(pairs)), want, "{pairs:?}");
    }
}
