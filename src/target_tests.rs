//! Tests of `target.rs`.

use super::*;
use crate::gateway::build_request;

type Pairs<'a> = &'a [(&'a str, &'a [u8])];

fn params(pairs: Pairs) -> Params {
    pairs.iter().map(|(n, v)| (n.as_bytes(), *v)).collect()
}

#[test]
fn path_comes_from_path_info_else_request_uri_else_document_uri() {
    let cases: [(&str, Pairs, &str); 12] = [
        (
            "path info wins",
            &[("PATH_INFO", b"/a"), ("REQUEST_URI", b"/b")],
            "/a",
        ),
        (
            "empty path info",
            &[("PATH_INFO", b""), ("REQUEST_URI", b"/b?x=1")],
            "/b",
        ),
        (
            "nginx stock params",
            &[
                ("REQUEST_URI", b"/login/?x=1"),
                ("DOCUMENT_URI", b"/login/"),
            ],
            "/login/",
        ),
        (
            "decoded uri",
            &[("REQUEST_URI", b"/caf%C3%A9%20x")],
            "/café x",
        ),
        ("fragment dropped", &[("REQUEST_URI", b"/a#frag")], "/a"),
        (
            "absolute form",
            &[("REQUEST_URI", b"http://example.test/abs?q")],
            "/abs",
        ),
        (
            "'://' inside an origin-form path is path",
            &[("REQUEST_URI", b"/x/a://b/status?q")],
            "/x/a://b/status",
        ),
        (
            "no scheme before '://'",
            &[("REQUEST_URI", b"1a://b/status")],
            "1a://b/status",
        ),
        (
            "absolute form, no path",
            &[("REQUEST_URI", b"https+x.y-z://host?q")],
            "/",
        ),
        ("document uri", &[("DOCUMENT_URI", b"/doc")], "/doc"),
        ("nothing", &[], "/"),
        ("raw non-utf8", &[("PATH_INFO", b"/\xff")], "/\u{fffd}"),
    ];
    for (case, pairs, want) in cases {
        assert_eq!(
            build_request(params(pairs), Vec::new()).path(),
            want,
            "{case}"
        );
        assert_eq!(
            request_path_of(&params(pairs)),
            want,
            "{case}, from the params"
        );
    }
}
