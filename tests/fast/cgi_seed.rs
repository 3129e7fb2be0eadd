//! Every row of docs/contract.md's seed table through the real `pycnic` binary run as a bare CGI
//! program (cleared environment, GATEWAY_INTERFACE=CGI/1.1, the body on stdin): status, the
//! exact JSON value, each Set-Cookie line, Allow, exit status 0 and nothing on stdout but the
//! response. Also HEAD /login, and `pycnic cgi` answering byte for byte as bare mode.

use crate::cgi as cgi_support;

use crate::cgi::{CgiResponse, Exec, Run, error_body};
use serde_json::{Value, json};

/// One row of the seed table, as a web server would pass it to a CGI program.
struct Row {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    cookie: Option<&'static str>,
    body: Option<&'static str>,
    status: u16,
    json: Value,
    set_cookies: &'static [&'static str],
    allow: Option<&'static str>,
}

const LOGIN_COOKIE: &str = "session_id=1234567890abcdefg; Path=/";
const DELETION_COOKIE: &str =
    "session_id=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Max-Age=0";

fn rows() -> Vec<Row> {
    let row = |name, method, path| Row {
        name,
        method,
        path,
        cookie: None,
        body: None,
        status: 200,
        json: Value::Null,
        set_cookies: &[],
        allow: None,
    };
    vec![
        Row {
            json: json!({"session_id": null}),
            ..row("get_login_without_cookie", "GET", "/login")
        },
        Row {
            cookie: Some("session_id=abc; path=/;"),
            json: json!({"session_id": "abc"}),
            ..row(
                "get_login_with_cookie_and_segments_without_equals",
                "GET",
                "/login",
            )
        },
        Row {
            body: Some(r#"{"username":"foo","password":"foo"}"#),
            json: json!({"message": "Logged in"}),
            set_cookies: &[LOGIN_COOKIE],
            ..row("post_login_good_credentials_sets_cookie", "POST", "/login")
        },
        Row {
            body: Some(r#"{"username":"foo"}"#),
            status: 400,
            json: error_body(400, "Bad Request", "Username and password are required"),
            ..row("post_login_without_password", "POST", "/login")
        },
        Row {
            status: 400,
            json: error_body(400, "Bad Request", "Username and password are required"),
            ..row("post_login_without_body", "POST", "/login")
        },
        Row {
            body: Some(r#"{"username":"foo","password":"bar"}"#),
            status: 401,
            json: error_body(401, "Unauthorized", "Username or password are incorrect"),
            ..row("post_login_wrong_password", "POST", "/login")
        },
        Row {
            body: Some("{bad json"),
            status: 400,
            json: error_body(400, "Bad Request", "Expected JSON in request body"),
            ..row("post_login_bad_json", "POST", "/login")
        },
        Row {
            cookie: Some("session_id=x"),
            json: json!({"message": "Logged out"}),
            set_cookies: &[DELETION_COOKIE],
            ..row("post_logout_with_session_deletes_cookie", "POST", "/logout")
        },
        Row {
            cookie: Some("session_id=DELETED; theme=dark"),
            json: json!({"message": "Already logged out", "cookies": {"theme": "dark"}}),
            ..row(
                "post_logout_with_deleted_session_skips_it",
                "POST",
                "/logout",
            )
        },
        Row {
            status: 405,
            json: error_body(405, "Method Not Allowed", "GET not allowed"),
            allow: Some("POST, OPTIONS"),
            ..row("get_logout_not_allowed", "GET", "/logout")
        },
        Row {
            status: 404,
            json: error_body(404, "Not Found", "Path /nowhere not found"),
            ..row("get_unknown_path_not_found", "GET", "/nowhere")
        },
        Row {
            json: json!({"session_id": null}),
            ..row("get_login_trailing_slash_stripped", "GET", "/login/")
        },
        Row {
            json: json!({}),
            // FIX: HEAD is listed because HEAD runs GET.
            allow: Some("GET, HEAD, POST, OPTIONS"),
            ..row("options_login_lists_allowed_methods", "OPTIONS", "/login")
        },
    ]
}

/// The row as a CGI invocation: Apache-style PATH_INFO and REQUEST_URI, an empty query.
fn exec(row: &Row) -> Exec {
    let mut exec = Exec::cgi()
        .env("REQUEST_METHOD", row.method)
        .env("REQUEST_URI", row.path)
        .env("PATH_INFO", row.path)
        .env("QUERY_STRING", "")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REMOTE_ADDR", "127.0.0.1");
    if let Some(cookie) = row.cookie {
        exec = exec.env("HTTP_COOKIE", cookie);
    }
    if let Some(body) = row.body {
        exec = exec
            .env("CONTENT_TYPE", "application/json")
            .body(body.as_bytes());
    }
    exec
}

fn run_ok(case: &str, exec: &Exec) -> (Run, CgiResponse) {
    let run = exec.run();
    run.assert_clean_exit(case);
    let response = run.response(case);
    (run, response)
}

#[test]
fn every_seed_row_answers_as_the_table_says_over_bare_cgi() {
    for row in rows() {
        let case = row.name;
        let (_, response) = run_ok(case, &exec(&row));
        assert_eq!(response.status, row.status, "{case}: status");
        // The JSON body parses to exactly the value; Content-Length covers all of stdout's
        // body, so nothing but the response was printed.
        let body = response.assert_json_with_length(case);
        assert_eq!(body, row.json, "{case}: JSON body");
        assert_eq!(
            response.header_all("Set-Cookie"),
            row.set_cookies.to_vec(),
            "{case}: Set-Cookie lines"
        );
        assert_eq!(response.header("Allow"), row.allow, "{case}: Allow");
    }
}

#[test]
fn seed_status_lines_carry_the_standard_reason_phrase() {
    for row in rows() {
        let (_, response) = run_ok(row.name, &exec(&row));
        let want = match row.status {
            200 => "200 OK",
            400 => "400 Bad Request",
            401 => "401 Unauthorized",
            404 => "404 Not Found",
            405 => "405 Method Not Allowed",
            other => panic!("{}: unexpected status {other}", row.name),
        };
        assert_eq!(response.status_line, want, "{}: status line", row.name);
    }
}

#[test]
fn seed_headers_come_in_pycnic_order() {
    // Content-Type first, then Set-Cookie lines, Content-Length last (docs/contract.md's order).
    let cases = [
        (
            "post_login_good_credentials_sets_cookie",
            vec!["Content-Type", "Set-Cookie", "Content-Length"],
        ),
        (
            "options_login_lists_allowed_methods",
            vec!["Content-Type", "Allow", "Content-Length"],
        ),
        (
            "get_logout_not_allowed",
            vec!["Content-Type", "Allow", "Content-Length"],
        ),
        (
            "get_login_without_cookie",
            vec!["Content-Type", "Content-Length"],
        ),
    ];
    let rows = rows();
    for (name, want) in cases {
        let row = rows.iter().find(|r| r.name == name).expect("row exists");
        let (_, response) = run_ok(name, &exec(row));
        assert_eq!(response.header_names(), want, "{name}: header order");
    }
}

#[test]
fn head_login_sends_gets_headers_and_no_body() {
    let get_row = Row {
        name: "get",
        method: "GET",
        path: "/login",
        cookie: Some("session_id=abc"),
        body: None,
        status: 200,
        json: Value::Null,
        set_cookies: &[],
        allow: None,
    };
    let head_row = Row {
        name: "head",
        method: "HEAD",
        json: Value::Null,
        ..get_row
    };
    let (_, get) = run_ok("GET /login", &exec(&get_row));
    let (run, head) = run_ok("HEAD /login", &exec(&head_row));
    assert_eq!(head.status_line, "200 OK", "HEAD /login: status");
    assert_eq!(head.headers, get.headers, "HEAD /login: GET's headers");
    assert_eq!(
        head.header("Content-Length"),
        Some(get.body.len().to_string().as_str()),
        "HEAD /login: Content-Length of GET's body"
    );
    assert!(head.body.is_empty(), "HEAD /login: no body");
    assert!(
        run.stdout.ends_with(b"\r\n\r\n"),
        "HEAD /login: stdout ends at the blank line"
    );
}

#[test]
fn cgi_subcommand_answers_byte_for_byte_as_bare_mode() {
    for row in rows() {
        let case = row.name;
        let bare = exec(&row).run();
        let forced = exec(&row).arg("cgi").run();
        bare.assert_clean_exit(case);
        forced.assert_clean_exit(case);
        assert_eq!(
            String::from_utf8_lossy(&forced.stdout),
            String::from_utf8_lossy(&bare.stdout),
            "{case}: pycnic cgi vs bare CGI"
        );
        assert_eq!(forced.stdout, bare.stdout, "{case}: bytes");
    }
}

#[test]
fn cgi_subcommand_works_without_gateway_interface() {
    // `pycnic cgi` forces CGI mode even when the server did not set GATEWAY_INTERFACE.
    let run = Exec::new(cgi_support::pycnic_bin())
        .arg("cgi")
        .env("REQUEST_METHOD", "GET")
        .env("PATH_INFO", "/login")
        .env("HTTP_COOKIE", "session_id=abc")
        .run();
    run.assert_clean_exit("cgi without GATEWAY_INTERFACE");
    let response = run.response("cgi without GATEWAY_INTERFACE");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json("cgi without GATEWAY_INTERFACE"),
        json!({"session_id": "abc"})
    );
}
