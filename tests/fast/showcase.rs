//! The rest of the API through `target/debug/examples/showcase request …` (and the seed binary
//! where the CLI is concerned): route arguments, args and get_all, json_args, typed bodies,
//! 201 + Location, every cookie option and deletion, app headers, handler and app hooks, an
//! error dropping what the handler set, text/bytes/stream/204 bodies, panics (plain and
//! debug), ip() with and without a trusted proxy, repeated Cookie headers, `routes`, `--help`,
//! `request -f`, and bare mode without GATEWAY_INTERFACE.

use crate::cgi as cgi_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::cgi::{CgiResponse, Exec, error_body, pycnic_bin, showcase_bin};
use serde_json::{Value, json};

const APP_HEADER: (&str, &str) = ("Access-Control-Allow-Origin", "*");

/// `showcase request ARGS…` with a cleared environment plus `env`; asserts exit 0.
fn showcase_with(case: &str, args: &[&str], env: &[(&str, &str)]) -> CgiResponse {
    let run = cgi_support::request(&showcase_bin(), args, env);
    assert_eq!(
        run.exit_code,
        Some(0),
        "{case}: exit; stderr {}",
        run.stderr
    );
    run.response(case)
}

fn showcase(case: &str, args: &[&str]) -> CgiResponse {
    showcase_with(case, args, &[])
}

fn json_of(case: &str, args: &[&str]) -> (CgiResponse, Value) {
    let response = showcase(case, args);
    let value = response.assert_json_with_length(case);
    (response, value)
}

#[test]
fn route_arguments_come_by_position_and_an_unmatched_group_is_none() {
    let cases = [
        ("second group unmatched", "/hello/ada", "hello, ada"),
        ("both groups", "/hello/ada/hi", "hi, ada"),
        (
            "unmatched group falls back to args",
            "/hello/ada?greeting=yo",
            "yo, ada",
        ),
        (
            "group wins over args",
            "/hello/ada/hi?greeting=yo",
            "hi, ada",
        ),
        ("trailing slash stripped", "/hello/ada/", "hello, ada"),
    ];
    for (case, target, greeting) in cases {
        let (response, body) = json_of(case, &["GET", target]);
        assert_eq!(response.status, 200, "{case}: status");
        assert_eq!(body, json!({"greeting": greeting}), "{case}: body");
    }
    let (response, _) = json_of("no name", &["GET", "/hello"]);
    assert_eq!(response.status, 404, "no name: the first group is required");
}

#[test]
fn args_keep_the_last_duplicate_and_get_all_keeps_every_value() {
    let (_, body) = json_of("args", &["GET", "/echo?a=1&a=2&b=&c=x+y%21&d=%E2%9C%93"]);
    assert_eq!(
        body["args"],
        json!({"a": "2", "c": "x y!", "d": "✓"}),
        "args: last wins, blank dropped, + and %XX decoded"
    );
    assert_eq!(
        body["args_all"],
        json!({"a": ["1", "2"], "c": ["x y!"], "d": ["✓"]}),
        "args_all: every value in order"
    );
}

#[test]
fn json_args_parse_the_json_query_parameter() {
    let (response, body) = json_of(
        "good json",
        &["GET", "/users?json=%7B%22a%22%3A%5B1%2C2%5D%7D"],
    );
    assert_eq!(response.status, 200, "good json: status");
    assert_eq!(body, json!({"filter": {"a": [1, 2]}}), "good json: body");

    let (response, body) = json_of("no json", &["GET", "/users"]);
    assert_eq!(response.status, 200, "no json: status");
    assert_eq!(body, json!({"filter": {}}), "no json: body");

    let (response, body) = json_of("bad json", &["GET", "/users?json=%7Bbad"]);
    assert_eq!(response.status, 400, "bad json: status");
    assert_eq!(
        body,
        error_body(400, "Bad Request", "Invalid JSON in request query string"),
        "bad json: body"
    );
}

#[test]
fn typed_body_400_names_the_field() {
    let cases = [
        (
            "wrong type",
            r#"{"name":"ada","age":"x"}"#,
            "age",
            "invalid type",
        ),
        (
            "out of range",
            r#"{"name":"ada","age":300}"#,
            "age",
            "invalid value",
        ),
        (
            "missing field",
            r#"{"name":"ada"}"#,
            "age",
            "missing field `age`",
        ),
        (
            "name not a string",
            r#"{"name":1,"age":3}"#,
            "name",
            "invalid type",
        ),
    ];
    for (case, data, field, reason) in cases {
        let (response, body) = json_of(case, &["POST", "/users", "-d", data]);
        assert_eq!(response.status, 400, "{case}: status");
        assert_eq!(body["data"], json!({"field": field}), "{case}: data.field");
        let error = body["error"].as_str().expect("error is a string");
        assert!(
            error.starts_with(&format!("Invalid request data at {field}: "))
                && error.contains(reason),
            "{case}: error {error:?}"
        );
        assert_eq!(response.header("Location"), None, "{case}: no Location");
    }
    let (response, body) = json_of("not json", &["POST", "/users", "-d", "{nope"]);
    assert_eq!(response.status, 400, "not json: status");
    assert_eq!(
        body,
        error_body(400, "Bad Request", "Expected JSON in request body"),
        "not json: body"
    );
}

#[test]
fn created_user_is_201_with_location() {
    let (response, body) = json_of(
        "create",
        &["POST", "/users", "-d", r#"{"name":"ada","age":36}"#],
    );
    assert_eq!(response.status_line, "201 Created", "create: status");
    assert_eq!(
        response.header("Location"),
        Some("/users/1"),
        "create: Location"
    );
    assert_eq!(
        body,
        json!({"id": 1, "user": {"name": "ada", "age": 36}}),
        "create: body"
    );
}

#[test]
fn redirect_sends_location_with_an_explicit_status() {
    let response = showcase("redirect", &["GET", "/redirect?to=/hello/bob"]);
    assert_eq!(response.status_line, "302 Found", "redirect: status");
    assert_eq!(
        response.header("Location"),
        Some("/hello/bob"),
        "redirect: Location"
    );
    assert_eq!(
        response.header("Content-Length"),
        Some("0"),
        "redirect: empty body"
    );
}

#[test]
fn every_cookie_option_is_one_set_cookie_line() {
    let response = showcase("set cookies", &["POST", "/cookies"]);
    assert_eq!(response.status, 200, "set cookies: status");
    assert_eq!(
        response.header_all("Set-Cookie"),
        vec![
            "plain=last wins; Path=/",
            "full=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Domain=example.test; Path=/app; \
             Max-Age=3600; Secure; HttpOnly; SameSite=Lax",
            "flagged=3; Path=/; Partitioned",
        ],
        "set cookies: one line per cookie, same name set twice keeps its first place"
    );
    assert_eq!(response.json("set cookies"), json!({"set": 3}));
}

#[test]
fn deleted_cookies_expire_in_1970_with_max_age_0() {
    let response = showcase("delete cookies", &["DELETE", "/cookies"]);
    assert_eq!(response.status, 200, "delete cookies: status");
    assert_eq!(
        response.header_all("Set-Cookie"),
        vec![
            "plain=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Max-Age=0",
            "full=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Domain=example.test; \
             Path=/app; Max-Age=0",
        ],
        "delete cookies: deletion lines"
    );
}

#[test]
fn app_headers_go_on_success_and_http_errors_in_pycnic_order() {
    let cases: [(&str, &[&str], u16, &[&str]); 5] = [
        (
            "success",
            &["GET", "/hello/ada"],
            200,
            &[
                "Content-Type",
                "X-Handled-By",
                "Access-Control-Allow-Origin",
                "Content-Length",
            ],
        ),
        (
            "success with cookies",
            &["POST", "/cookies"],
            200,
            &[
                "Content-Type",
                "X-Handled-By",
                "Set-Cookie",
                "Set-Cookie",
                "Set-Cookie",
                "Access-Control-Allow-Origin",
                "Content-Length",
            ],
        ),
        (
            "404",
            &["GET", "/nowhere"],
            404,
            &[
                "Content-Type",
                "Access-Control-Allow-Origin",
                "Content-Length",
            ],
        ),
        (
            "405 with Allow after the app headers",
            &["DELETE", "/hello/ada"],
            405,
            &[
                "Content-Type",
                "Access-Control-Allow-Origin",
                "Allow",
                "Content-Length",
            ],
        ),
        (
            "400 from the handler",
            &["POST", "/users", "-d", "{}"],
            400,
            &[
                "Content-Type",
                "Access-Control-Allow-Origin",
                "Content-Length",
            ],
        ),
    ];
    for (case, args, status, names) in cases {
        let response = showcase(case, args);
        assert_eq!(response.status, status, "{case}: status");
        assert_eq!(
            response.header_names(),
            names.to_vec(),
            "{case}: header order"
        );
        assert_eq!(
            response.header(APP_HEADER.0),
            Some(APP_HEADER.1),
            "{case}: app header"
        );
    }
}

#[test]
fn panic_is_500_with_only_content_type() {
    let response = showcase("panic", &["GET", "/panic"]);
    assert_eq!(
        response.status_line, "500 Internal Server Error",
        "panic: status"
    );
    assert_eq!(
        response.header_names(),
        vec!["Content-Type", "Content-Length"],
        "panic: no app headers"
    );
    assert_eq!(
        response.assert_json_with_length("panic"),
        json!({"error": "Internal server error encountered."}),
        "panic: body"
    );
}

#[test]
fn panic_in_debug_mode_lists_lines_pretty_printed_with_4_spaces() {
    for (case, env) in [
        (
            "debug with backtrace",
            &[("SHOWCASE_DEBUG", "1"), ("RUST_BACKTRACE", "1")][..],
        ),
        ("debug without backtrace", &[("SHOWCASE_DEBUG", "1")][..]),
    ] {
        let response = showcase_with(case, &["GET", "/panic"], env);
        assert_eq!(response.status, 500, "{case}: status");
        let text = response.text();
        assert!(
            text.starts_with("{\n    \"error\": [\n        \"panicked at "),
            "{case}: indent 4: {text:?}"
        );
        let body = response.assert_json_with_length(case);
        let lines = body["error"].as_array().expect("error is a list of lines");
        let first = lines.first().and_then(Value::as_str).unwrap_or_default();
        assert!(
            first.contains("the showcase panics on purpose"),
            "{case}: first line {first:?}"
        );
        assert!(
            lines.iter().all(Value::is_string),
            "{case}: lines are strings"
        );
    }
}

#[test]
fn debug_mode_pretty_prints_success_too() {
    let response = showcase_with(
        "debug success",
        &["GET", "/hello/x"],
        &[("SHOWCASE_DEBUG", "1")],
    );
    assert_eq!(
        response.text(),
        "{\n    \"greeting\": \"hello, x\"\n}",
        "debug success"
    );
}

#[test]
fn handler_before_hook_refuses_and_after_hook_stamps() {
    let (response, body) = json_of("no token", &["GET", "/admin"]);
    assert_eq!(response.status, 403, "no token: status");
    assert_eq!(
        body,
        json!({"status": "403 Forbidden", "status_code": 403, "error": "Token required",
               "data": {"header": "X-Token"}}),
        "no token: body with data"
    );
    assert_eq!(
        response.header("X-Admin-Checked"),
        None,
        "no token: after hook not run"
    );
    assert_eq!(
        response.header("X-Handled-By"),
        None,
        "no token: app after hook not run"
    );

    let (response, body) = json_of("token", &["GET", "/admin", "-H", "X-Token: secret"]);
    assert_eq!(response.status, 200, "token: status");
    assert_eq!(body, json!({"admin": true}), "token: body");
    assert_eq!(
        response.header("X-Admin-Checked"),
        Some("yes"),
        "token: handler after hook"
    );
    assert_eq!(
        response.header("X-Handled-By"),
        Some("showcase"),
        "token: app after hook"
    );
}

#[test]
fn app_before_hook_ends_the_request_with_418() {
    for (case, target) in [
        ("routed path", "/hello/ada"),
        ("before routing: unknown path", "/nowhere"),
        ("before the handler's own hook", "/admin"),
    ] {
        let (response, body) = json_of(case, &["GET", target, "-H", "X-Block: yes"]);
        assert_eq!(response.status_line, "418 I'm a teapot", "{case}: status");
        assert_eq!(
            body,
            error_body(418, "I'm a teapot", "Blocked by the app's before hook"),
            "{case}: body"
        );
        assert_eq!(
            response.header(APP_HEADER.0),
            Some(APP_HEADER.1),
            "{case}: app header"
        );
    }
}

#[test]
fn error_drops_the_headers_and_cookies_the_handler_set() {
    let (response, body) = json_of("cookies then error", &["POST", "/cookies?fail=1"]);
    assert_eq!(response.status, 409, "cookies then error: status");
    assert_eq!(
        body,
        error_body(409, "Conflict", "Cookies set, then refused"),
        "cookies then error: body"
    );
    assert_eq!(
        response.header_names(),
        vec![
            "Content-Type",
            "Access-Control-Allow-Origin",
            "Content-Length"
        ],
        "cookies then error: no Set-Cookie, no handler header"
    );
}

#[test]
fn text_and_bytes_bodies_are_sent_verbatim_with_length() {
    let response = showcase("text", &["GET", "/text"]);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8"),
        "text"
    );
    assert_eq!(response.body, b"plain text, sent verbatim\n", "text: body");
    assert_eq!(
        response.header("Content-Length"),
        Some("26"),
        "text: length"
    );

    let response = showcase("bytes", &["GET", "/bytes"]);
    assert_eq!(
        response.header("Content-Type"),
        Some("application/octet-stream"),
        "bytes"
    );
    assert_eq!(
        response.body,
        (0u8..=255).collect::<Vec<_>>(),
        "bytes: every byte value"
    );
    assert_eq!(
        response.header("Content-Length"),
        Some("256"),
        "bytes: length"
    );
}

#[test]
fn stream_body_has_no_content_length() {
    let response = showcase("stream", &["GET", "/stream?chunks=3"]);
    assert_eq!(response.status, 200, "stream: status");
    assert_eq!(
        response.header("Content-Length"),
        None,
        "stream: no Content-Length"
    );
    assert_eq!(
        response.text(),
        "chunk 0\nchunk 1\nchunk 2\n",
        "stream: body"
    );
}

#[test]
fn no_content_has_no_body_and_no_content_length() {
    let run = cgi_support::request(&showcase_bin(), &["GET", "/empty"], &[]);
    let response = run.response("204");
    assert_eq!(response.status_line, "204 No Content", "204: status");
    assert_eq!(
        response.header("Content-Length"),
        None,
        "204: no Content-Length"
    );
    assert!(response.body.is_empty(), "204: no body");
    assert!(
        run.stdout.ends_with(b"\r\n\r\n"),
        "204: output ends at the blank line"
    );
}

#[test]
fn ip_is_remote_addr_unless_the_proxy_is_trusted() {
    const XFF: &str = "X-Forwarded-For: 1.1.1.1, 2.2.2.2";
    /// Variables for the showcase's environment.
    type Env = &'static [(&'static str, &'static str)];
    const TRUSTED: Env = &[("SHOWCASE_TRUSTED_PROXY", "1")];
    let cases: [(&str, &[&str], Env, &str); 4] = [
        ("request's default REMOTE_ADDR", &[], &[], "127.0.0.1"),
        (
            "REMOTE_ADDR, forged X-Forwarded-For ignored",
            &["-H", XFF, "-e", "REMOTE_ADDR=10.0.0.9"],
            &[],
            "10.0.0.9",
        ),
        (
            "trusted proxy: last X-Forwarded-For entry",
            &["-H", XFF, "-e", "REMOTE_ADDR=10.0.0.9"],
            TRUSTED,
            "2.2.2.2",
        ),
        (
            "trusted proxy without X-Forwarded-For",
            &["-e", "REMOTE_ADDR=10.0.0.9"],
            TRUSTED,
            "10.0.0.9",
        ),
    ];
    for (case, extra, env, ip) in cases {
        let mut args = vec!["GET", "/echo"];
        args.extend_from_slice(extra);
        let response = showcase_with(case, &args, env);
        assert_eq!(response.json(case)["ip"], ip, "{case}: ip");
    }
}

#[test]
fn two_cookie_headers_both_reach_the_app() {
    let (_, body) = json_of("two -b", &["GET", "/echo", "-b", "a=1; c=3", "-b", "b=2"]);
    assert_eq!(
        body["cookies"],
        json!({"a": "1", "c": "3", "b": "2"}),
        "two -b: cookies"
    );
    assert_eq!(
        body["headers"]["Cookie"], "a=1; c=3; b=2",
        "two -b: joined with '; '"
    );
}

#[test]
fn request_sends_body_headers_and_content_type() {
    let (_, body) = json_of(
        "echo post",
        &[
            "POST",
            "/echo/x",
            "-d",
            "hello",
            "-H",
            "Authorization: Bearer t",
        ],
    );
    assert_eq!(body["method"], "POST", "echo post: method");
    assert_eq!(body["path"], "/echo/x", "echo post: path");
    assert_eq!(body["body"], "hello", "echo post: body");
    assert_eq!(body["body_length"], 5, "echo post: body length");
    assert_eq!(body["authorization"], "Bearer t", "echo post: header");
    assert_eq!(
        body["headers"]["Content-Type"], "application/json",
        "echo post: default Content-Type"
    );
}

#[test]
fn request_fail_flag_exits_22_on_http_errors() {
    let cases = [
        ("200 exits 0", vec!["GET", "/login", "-f"], 0),
        ("404 exits 22", vec!["GET", "/nowhere", "-f"], 22),
        ("404 without -f exits 0", vec!["GET", "/nowhere"], 0),
    ];
    for (case, args, code) in cases {
        let run = cgi_support::request(&pycnic_bin(), &args, &[]);
        assert_eq!(run.exit_code, Some(code), "{case}");
        run.response(case);
    }
}

/// `BIN ARGS…` with a cleared environment and stdin from /dev/null.
fn run_cli(bin: &PathBuf, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(bin)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .expect("run the binary");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn routes_prints_pycnics_table_for_the_seed_binary() {
    let (code, stdout, _) = run_cli(&pycnic_bin(), &["routes"]);
    assert_eq!(code, Some(0), "routes: exit");
    assert_eq!(
        stdout,
        "Route    Method                    Class\n\
         \n\
         /login   GET, HEAD, POST, OPTIONS  Login\n\
         /logout  POST, OPTIONS             Logout\n",
        "routes: table"
    );
}

#[test]
fn routes_prints_aligned_columns_two_spaces_apart_for_the_showcase() {
    let (code, stdout, _) = run_cli(&showcase_bin(), &["routes"]);
    assert_eq!(code, Some(0), "showcase routes: exit");
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines.first().copied().unwrap_or_default();
    let method_at = header.find("Method").expect("Method column");
    let class_at = header.find("Class").expect("Class column");
    assert!(
        header.starts_with("Route  "),
        "showcase routes: header {header:?}"
    );
    assert_eq!(
        lines.get(1),
        Some(&""),
        "a blank line under the heading, as Pycnic prints"
    );
    let rows: Vec<(&str, &str, &str)> = lines
        .iter()
        .filter(|line| !line.is_empty())
        .map(|line| {
            (
                line[..method_at].trim_end(),
                line[method_at..class_at].trim_end(),
                &line[class_at..],
            )
        })
        .collect();
    let route_width = rows.iter().map(|r| r.0.len()).max();
    let method_width = rows.iter().map(|r| r.1.len()).max();
    assert_eq!(
        route_width,
        Some(method_at - 2),
        "Route column, then two spaces"
    );
    assert_eq!(
        method_width,
        Some(class_at - method_at - 2),
        "Method column, then two spaces"
    );
    for row in [
        ("/users", "GET, HEAD, POST, OPTIONS", "Users"),
        ("/cookies", "POST, DELETE, OPTIONS", "Cookies"),
        ("/text", "GET, HEAD, OPTIONS", "Text"),
        (
            "/echo(?:/.*)?",
            "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH",
            "Echo",
        ),
    ] {
        assert!(
            rows.contains(&row),
            "showcase routes: row {row:?} in {stdout}"
        );
    }
}

#[test]
fn help_is_printed_for_every_subcommand() {
    for bin in [pycnic_bin(), showcase_bin()] {
        let name = bin
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        for (case, args, usage) in [
            (
                "--help",
                vec!["--help"],
                format!("Usage: {name} [OPTIONS] [COMMAND]"),
            ),
            (
                "cgi --help",
                vec!["cgi", "--help"],
                format!("Usage: {name} cgi [OPTIONS]"),
            ),
            (
                "routes --help",
                vec!["routes", "--help"],
                format!("Usage: {name} routes [OPTIONS]"),
            ),
            (
                "request --help",
                vec!["request", "--help"],
                format!("Usage: {name} request [OPTIONS] <METHOD> <TARGET>"),
            ),
            (
                "help request",
                vec!["help", "request"],
                format!("Usage: {name} request"),
            ),
        ] {
            let (code, stdout, _) = run_cli(&bin, &args);
            assert_eq!(code, Some(0), "{name} {case}: exit");
            assert!(stdout.contains(&usage), "{name} {case}: {stdout}");
        }
    }
}

#[test]
fn bare_binary_without_gateway_interface_prints_usage_and_exits_2() {
    for bin in [pycnic_bin(), showcase_bin()] {
        let (code, stdout, stderr) = run_cli(&bin, &[]);
        let case = bin.display();
        assert_eq!(code, Some(2), "{case}: exit");
        assert!(stdout.is_empty(), "{case}: nothing on stdout: {stdout}");
        assert!(
            stderr.contains("Usage: "),
            "{case}: usage on stderr: {stderr}"
        );
        assert!(
            stderr.contains("GATEWAY_INTERFACE"),
            "{case}: says why: {stderr}"
        );
    }
}

#[test]
fn showcase_as_bare_cgi_answers_like_request() {
    // The same request through both doors gives the same bytes.
    let via_request =
        cgi_support::request(&showcase_bin(), &["GET", "/hello/ada?greeting=hi"], &[]);
    let via_cgi = Exec::new(showcase_bin())
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", "GET")
        .env("REQUEST_URI", "/hello/ada?greeting=hi")
        .env("QUERY_STRING", "greeting=hi")
        .run();
    via_cgi.assert_clean_exit("showcase bare CGI");
    assert_eq!(
        via_cgi.stdout, via_request.stdout,
        "showcase: CGI vs request bytes"
    );
}
