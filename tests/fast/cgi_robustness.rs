//! The real `pycnic` binary as a bare CGI program under environments and stdin that real
//! servers or hostile clients produce: missing, unknown and lower-case methods, bytes that are
//! not UTF-8 in path, query, cookie, header and method, short bodies, garbage and huge
//! CONTENT_LENGTH (413 without reading stdin), the body limit (`--max-body`,
//! PYCNIC_MAX_BODY, a body exactly at the limit), nginx-style REQUEST_URI without PATH_INFO,
//! percent-encoded paths and an empty environment. Every case answers with the right status
//! and JSON, exits 0 and prints no panic on stderr.

use crate::cgi::{Exec, error_body};
use serde_json::{Value, json};

/// A case: its name, the CGI invocation, and the answer it must get.
struct Case {
    name: String,
    exec: Exec,
    status: u16,
    json: Value,
}

fn get(path: &str) -> Exec {
    Exec::cgi()
        .env("REQUEST_METHOD", "GET")
        .env("PATH_INFO", path)
}

fn post_login() -> Exec {
    Exec::cgi()
        .env("REQUEST_METHOD", "POST")
        .env("PATH_INFO", "/login")
}

fn logged_out() -> Value {
    json!({"session_id": null})
}

fn check(cases: Vec<Case>) {
    for case in cases {
        let name = case.name.as_str();
        let run = case.exec.run();
        run.assert_clean_exit(name);
        let response = run.response(name);
        assert_eq!(response.status, case.status, "{name}: status");
        assert_eq!(
            response.assert_json_with_length(name),
            case.json,
            "{name}: JSON body"
        );
    }
}

/// The answer to a request without REQUEST_METHOD (RFC 3875 §4.1.12: the server must send it).
const NO_METHOD: &str =
    "REQUEST_METHOD is missing or empty: the web server must send it (RFC 3875 §4.1.12)";

#[test]
fn method_variants_are_answered() {
    check(vec![
        Case {
            name: "missing REQUEST_METHOD is a broken invocation, named".into(),
            exec: Exec::cgi().env("PATH_INFO", "/login"),
            status: 500,
            json: error_body(500, "Internal Server Error", NO_METHOD),
        },
        Case {
            name: "empty REQUEST_METHOD is a broken invocation too".into(),
            exec: Exec::cgi()
                .env("REQUEST_METHOD", "")
                .env("PATH_INFO", "/login"),
            status: 500,
            json: error_body(500, "Internal Server Error", NO_METHOD),
        },
        Case {
            name: "lower-case get is upper-cased".into(),
            exec: Exec::cgi()
                .env("REQUEST_METHOD", "get")
                .env("PATH_INFO", "/login"),
            status: 200,
            json: logged_out(),
        },
        Case {
            name: "lower-case post is upper-cased".into(),
            exec: Exec::cgi()
                .env("REQUEST_METHOD", "post")
                .env("PATH_INFO", "/login")
                .body(br#"{"username":"foo","password":"foo"}"#),
            status: 200,
            json: json!({"message": "Logged in"}),
        },
    ]);
}

#[test]
fn unknown_method_is_405_with_allow() {
    let cases = [
        ("PROPFIND", "/login", "GET, HEAD, POST, OPTIONS"),
        ("propfind", "/login", "GET, HEAD, POST, OPTIONS"),
        ("BREW", "/logout", "POST, OPTIONS"),
    ];
    for (method, path, allow) in cases {
        let case = format!("{method} {path}");
        let run = Exec::cgi()
            .env("REQUEST_METHOD", method)
            .env("PATH_INFO", path)
            .run();
        run.assert_clean_exit(&case);
        let response = run.response(&case);
        assert_eq!(response.status, 405, "{case}: status");
        assert_eq!(response.header("Allow"), Some(allow), "{case}: Allow");
        let error = format!("{} not allowed", method.to_ascii_uppercase());
        assert_eq!(
            response.assert_json_with_length(&case),
            error_body(405, "Method Not Allowed", &error),
            "{case}: body"
        );
    }
}

#[test]
fn non_utf8_bytes_in_the_environment_are_decoded_lossily() {
    check(vec![
        Case {
            name: "non-UTF-8 PATH_INFO".into(),
            exec: Exec::cgi()
                .env("REQUEST_METHOD", "GET")
                .env_bytes(b"PATH_INFO", b"/login\xff"),
            status: 404,
            json: error_body(404, "Not Found", "Path /login\u{FFFD} not found"),
        },
        Case {
            name: "non-UTF-8 percent-encoded REQUEST_URI".into(),
            exec: Exec::cgi()
                .env("REQUEST_METHOD", "GET")
                .env("REQUEST_URI", "/login%ff"),
            status: 404,
            json: error_body(404, "Not Found", "Path /login\u{FFFD} not found"),
        },
        Case {
            name: "non-UTF-8 raw REQUEST_URI".into(),
            exec: Exec::cgi()
                .env("REQUEST_METHOD", "GET")
                .env_bytes(b"REQUEST_URI", b"/\xfe\xfflogin"),
            status: 404,
            json: error_body(404, "Not Found", "Path /\u{FFFD}\u{FFFD}login not found"),
        },
        Case {
            name: "non-UTF-8 QUERY_STRING".into(),
            exec: get("/login").env_bytes(b"QUERY_STRING", b"a=\xff&b=%ff"),
            status: 200,
            json: logged_out(),
        },
        Case {
            name: "non-UTF-8 HTTP_COOKIE value".into(),
            exec: get("/login").env_bytes(b"HTTP_COOKIE", b"session_id=a\xffb; x=\xc3"),
            status: 200,
            json: json!({"session_id": "a\u{FFFD}b"}),
        },
        Case {
            name: "non-UTF-8 header value".into(),
            exec: get("/login").env_bytes(b"HTTP_X_THING", b"\xff\xfe"),
            status: 200,
            json: logged_out(),
        },
        Case {
            name: "non-UTF-8 header name".into(),
            exec: get("/login").env_bytes(b"HTTP_X_\xff", b"1"),
            status: 200,
            json: logged_out(),
        },
        Case {
            name: "non-UTF-8 REQUEST_METHOD".into(),
            exec: Exec::cgi()
                .env_bytes(b"REQUEST_METHOD", b"G\xffT")
                .env("PATH_INFO", "/login"),
            status: 405,
            json: error_body(405, "Method Not Allowed", "G\u{FFFD}T not allowed"),
        },
        Case {
            name: "non-UTF-8 CONTENT_LENGTH is no body".into(),
            exec: post_login()
                .env_bytes(b"CONTENT_LENGTH", b"1\xff")
                .stdin_held_open(),
            status: 400,
            json: error_body(400, "Bad Request", "Username and password are required"),
        },
    ]);
}

#[test]
fn short_body_is_400() {
    // CONTENT_LENGTH announces 10 bytes; stdin gives 3 and closes.
    check(vec![Case {
        name: "short body".into(),
        exec: post_login().env("CONTENT_LENGTH", "10").stdin(b"{}x"),
        status: 400,
        json: error_body(400, "Bad Request", "Request body ended after 3 of 10 bytes"),
    }]);
}

#[test]
fn garbage_content_length_reads_no_body() {
    // Pycnic reads no body when CONTENT_LENGTH is not a number; stdin is held open, so an
    // answer proves nothing was read.
    let mut cases = Vec::new();
    for (name, length) in [
        ("CONTENT_LENGTH abc", "abc"),
        ("CONTENT_LENGTH -1", "-1"),
        ("CONTENT_LENGTH 1e3", "1e3"),
        ("CONTENT_LENGTH 0x10", "0x10"),
        ("CONTENT_LENGTH empty", ""),
        ("CONTENT_LENGTH 0", "0"),
    ] {
        cases.push(Case {
            name: name.into(),
            exec: post_login().env("CONTENT_LENGTH", length).stdin_held_open(),
            status: 400,
            json: error_body(400, "Bad Request", "Username and password are required"),
        });
    }
    check(cases);
}

fn too_large(length: &str, limit: u64) -> Value {
    let length: u128 = length.parse().expect("a number");
    // More digits than u64 holds reads as u64::MAX.
    let shown = length.min(u128::from(u64::MAX));
    error_body(
        413,
        "Content Too Large",
        &format!("Request body of {shown} bytes is over the limit of {limit} bytes"),
    )
}

const DEFAULT_LIMIT: u64 = 10 * 1024 * 1024;

#[test]
fn huge_content_length_is_413_without_reading_stdin() {
    let mut cases = Vec::new();
    for (name, length) in [
        ("more digits than u64", "99999999999999999999"),
        ("u64 max", "18446744073709551615"),
        ("11 MiB", "11534336"),
        ("one byte over 10 MiB", "10485761"),
    ] {
        cases.push(Case {
            name: name.into(),
            exec: post_login().env("CONTENT_LENGTH", length).stdin_held_open(),
            status: 413,
            json: too_large(length, DEFAULT_LIMIT),
        });
    }
    check(cases);
}

/// A JSON login body padded with spaces to exactly `len` bytes.
fn login_body(len: usize) -> Vec<u8> {
    let mut body = br#"{"username":"foo","password":"foo"}"#.to_vec();
    assert!(body.len() <= len, "the login body fits in {len} bytes");
    body.resize(len, b' ');
    body
}

#[test]
fn body_limit_is_honoured_from_flag_and_environment() {
    let flag = || post_login().args(["--max-body", "1k"]);
    let env = || post_login().env("PYCNIC_MAX_BODY", "1k");
    let subcommand = || post_login().args(["cgi", "--max-body", "1024"]);
    let logged_in = json!({"message": "Logged in"});
    let mut cases = Vec::new();
    for (how, make) in [
        ("--max-body 1k", &flag as &dyn Fn() -> Exec),
        ("PYCNIC_MAX_BODY=1k", &env),
        ("cgi --max-body 1024", &subcommand),
    ] {
        cases.push(Case {
            name: format!("{how}: 1025 bytes refused"),
            exec: make().env("CONTENT_LENGTH", "1025").stdin_held_open(),
            status: 413,
            json: too_large("1025", 1024),
        });
        cases.push(Case {
            name: format!("{how}: exactly 1024 bytes accepted"),
            exec: make().body(&login_body(1024)),
            status: 200,
            json: logged_in.clone(),
        });
    }
    cases.push(Case {
        name: "the flag wins over PYCNIC_MAX_BODY".into(),
        exec: post_login()
            .env("PYCNIC_MAX_BODY", "10")
            .args(["--max-body", "2k"])
            .body(&login_body(2048)),
        status: 200,
        json: logged_in.clone(),
    });
    cases.push(Case {
        name: "default limit: exactly 10 MiB accepted".into(),
        exec: post_login().body(&login_body(10 * 1024 * 1024)),
        status: 200,
        json: logged_in,
    });
    check(cases);
}

#[test]
fn path_comes_from_request_uri_when_path_info_is_missing() {
    let uri = |uri: &str| {
        Exec::cgi()
            .env("REQUEST_METHOD", "GET")
            .env("REQUEST_URI", uri)
    };
    check(vec![
        Case {
            name: "nginx style /login/?x=1".into(),
            exec: uri("/login/?x=1").env("QUERY_STRING", "x=1"),
            status: 200,
            json: logged_out(),
        },
        Case {
            name: "REQUEST_URI with query and no QUERY_STRING".into(),
            exec: uri("/login?x=1"),
            status: 200,
            json: logged_out(),
        },
        Case {
            name: "empty PATH_INFO falls back to REQUEST_URI".into(),
            exec: uri("/login").env("PATH_INFO", ""),
            status: 200,
            json: logged_out(),
        },
        Case {
            name: "percent-encoded REQUEST_URI path".into(),
            exec: uri("/%6Cog%69n"),
            status: 200,
            json: logged_out(),
        },
        Case {
            name: "percent-encoded space in REQUEST_URI".into(),
            exec: uri("/no%20where?a=b"),
            status: 404,
            json: error_body(404, "Not Found", "Path /no where not found"),
        },
        Case {
            name: "DOCUMENT_URI when REQUEST_URI is missing".into(),
            exec: Exec::cgi()
                .env("REQUEST_METHOD", "GET")
                .env("DOCUMENT_URI", "/login"),
            status: 200,
            json: logged_out(),
        },
    ]);
}

#[test]
fn an_empty_environment_is_a_broken_invocation_and_a_bare_get_is_routed() {
    check(vec![
        Case {
            name: "only GATEWAY_INTERFACE: no REQUEST_METHOD".into(),
            exec: Exec::cgi(),
            status: 500,
            json: error_body(500, "Internal Server Error", NO_METHOD),
        },
        Case {
            name: "only REQUEST_METHOD: the path is /".into(),
            exec: Exec::cgi().env("REQUEST_METHOD", "GET"),
            status: 404,
            json: error_body(404, "Not Found", "Path / not found"),
        },
    ]);
}
