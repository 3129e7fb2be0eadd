//! The seed table of docs/contract.md over FastCGI, and byte equality with the CGI transport: for
//! the same params and body, FCGI_STDOUT carries exactly the bytes CGI writes to stdout.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::fcgi_client::*;
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    method: &'static str,
    target: &'static str,
    cookies: &'static [&'static str],
    body: Option<&'static str>,
}

const fn case(
    name: &'static str,
    method: &'static str,
    target: &'static str,
    cookies: &'static [&'static str],
    body: Option<&'static str>,
) -> Case {
    Case {
        name,
        method,
        target,
        cookies,
        body,
    }
}

/// The params a web server sends for a case (one HTTP_COOKIE per Cookie header, as nginx).
fn params_of(case: &Case) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut params = http_params(case.method, case.target);
    for cookie in case.cookies {
        params.push((b"HTTP_COOKIE".to_vec(), cookie.as_bytes().to_vec()));
    }
    let length = case.body.map_or(String::new(), |b| b.len().to_string());
    params.push((b"CONTENT_LENGTH".to_vec(), length.into_bytes()));
    if case.body.is_some() {
        params.push((b"CONTENT_TYPE".to_vec(), b"application/json".to_vec()));
    }
    params
}

/// Runs `bin` as a CGI program with exactly `params` as its environment. An environment
/// holds each name once and the child sees it sorted by name (std's Command), so callers
/// compare with params that are unique and sorted.
fn cgi_stdout(
    bin: &Path,
    params: &[(Vec<u8>, Vec<u8>)],
    body: &[u8],
    extra_env: &[(&str, &str)],
) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut command = Command::new(bin);
    command.env_clear();
    for (name, value) in params {
        command.env(
            std::ffi::OsStr::from_bytes(name),
            std::ffi::OsStr::from_bytes(value),
        );
    }
    command.envs(extra_env.iter().copied());
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the CGI program");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("write the body");
    let output = child.wait_with_output().expect("CGI output");
    assert!(output.status.success(), "CGI exit status");
    output.stdout
}

const SEED: [Case; 13] = [
    case("get login, no cookie", "GET", "/login", &[], None),
    case(
        "get login, cookie",
        "GET",
        "/login",
        &["session_id=abc; path=/;"],
        None,
    ),
    case(
        "post login ok",
        "POST",
        "/login",
        &[],
        Some(r#"{"username":"foo","password":"foo"}"#),
    ),
    case(
        "post login, no password",
        "POST",
        "/login",
        &[],
        Some(r#"{"username":"foo"}"#),
    ),
    case("post login, no body", "POST", "/login", &[], None),
    case(
        "post login, wrong password",
        "POST",
        "/login",
        &[],
        Some(r#"{"username":"foo","password":"bar"}"#),
    ),
    case(
        "post login, bad json",
        "POST",
        "/login",
        &[],
        Some("{bad json"),
    ),
    case(
        "post logout, logged in",
        "POST",
        "/logout",
        &["session_id=x"],
        Some(""),
    ),
    case(
        "post logout, deleted",
        "POST",
        "/logout",
        &["session_id=DELETED; theme=dark"],
        Some(""),
    ),
    case("get logout", "GET", "/logout", &[], None),
    case("get nowhere", "GET", "/nowhere", &[], None),
    case("trailing slash", "GET", "/login/", &[], None),
    case("options login", "OPTIONS", "/login", &[], None),
];

fn error_body(code: u16, status: &str, message: &str) -> Value {
    json!({"status": status, "status_code": code, "error": message, "data": null})
}

#[test]
fn seed_table_over_fastcgi() {
    let expected: [(u16, Value); 13] = [
        (200, json!({"session_id": null})),
        (200, json!({"session_id": "abc"})),
        (200, json!({"message": "Logged in"})),
        (
            400,
            error_body(400, "400 Bad Request", "Username and password are required"),
        ),
        (
            400,
            error_body(400, "400 Bad Request", "Username and password are required"),
        ),
        (
            401,
            error_body(
                401,
                "401 Unauthorized",
                "Username or password are incorrect",
            ),
        ),
        (
            400,
            error_body(400, "400 Bad Request", "Expected JSON in request body"),
        ),
        (200, json!({"message": "Logged out"})),
        (
            200,
            json!({"message": "Already logged out", "cookies": {"theme": "dark"}}),
        ),
        (
            405,
            error_body(405, "405 Method Not Allowed", "GET not allowed"),
        ),
        (
            404,
            error_body(404, "404 Not Found", "Path /nowhere not found"),
        ),
        (200, json!({"session_id": null})),
        (200, json!({})),
    ];
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    for (case, (status, body)) in SEED.iter().zip(expected) {
        let params = params_of(case);
        let reply = client.request(
            1,
            true,
            &as_refs(&params),
            case.body.unwrap_or("").as_bytes(),
        );
        assert_eq!(reply.status(), status, "{}", case.name);
        assert_eq!(reply.json(), body, "{}", case.name);
        let headers = reply.header_lines();
        let has = |line: &str| headers.iter().any(|h| h == line);
        match case.name {
            "post login ok" => assert!(
                has("Set-Cookie: session_id=1234567890abcdefg; Path=/"),
                "{headers:?}"
            ),
            "post logout, logged in" => assert!(
                headers.iter().any(|h| h.starts_with(
                    "Set-Cookie: session_id=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
                )),
                "{headers:?}"
            ),
            "options login" => assert!(has("Allow: GET, HEAD, POST, OPTIONS"), "{headers:?}"),
            _ => {}
        }
    }
}

#[test]
fn fastcgi_stdout_is_byte_for_byte_the_cgi_stdout_for_the_seed_table() {
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    for case in &SEED {
        let mut params = params_of(case);
        params.sort();
        let body = case.body.unwrap_or("").as_bytes();
        let fastcgi = client.request(1, true, &as_refs(&params), body).stdout;
        let cgi = cgi_stdout(&pycnic_bin(), &params, body, &[]);
        assert_eq!(
            String::from_utf8_lossy(&fastcgi),
            String::from_utf8_lossy(&cgi),
            "{}",
            case.name
        );
        assert_eq!(fastcgi, cgi, "{}", case.name);
    }
}

#[test]
fn fastcgi_stdout_is_byte_for_byte_the_cgi_stdout_for_the_showcase() {
    let limit = [("PYCNIC_MAX_BODY", "1000")];
    let server = Server::on_fd0(&showcase_bin(), &["fastcgi"], &limit);
    let mut client = server.connect();
    let big = "x".repeat(5000);
    let cases: Vec<(&str, &str, &str, String)> = vec![
        (
            "echo with a body",
            "POST",
            "/echo?a=1&a=2&b=%20",
            r#"{"k":"v"}"#.into(),
        ),
        ("stream", "GET", "/stream?chunks=3", String::new()),
        ("bytes", "GET", "/bytes", String::new()),
        ("text", "GET", "/text", String::new()),
        ("empty 204", "GET", "/empty", String::new()),
        ("redirect", "GET", "/redirect?to=/x", String::new()),
        ("panic", "GET", "/panic", String::new()),
        ("cookies", "POST", "/cookies", String::new()),
        ("413 declared", "POST", "/echo", big),
        ("short body", "POST", "/echo", "abc".into()),
    ];
    for (name, method, target, body) in cases {
        let mut params = http_params(method, target);
        let declared = if name == "short body" {
            "10".to_string()
        } else {
            body.len().to_string()
        };
        params.push((b"CONTENT_LENGTH".to_vec(), declared.into_bytes()));
        params.push((b"HTTP_COOKIE".to_vec(), b"a=1; b=2".to_vec()));
        params.push((b"HTTP_X_CUSTOM".to_vec(), b"caf\xc3\xa9".to_vec()));
        params.sort();
        let fastcgi = client
            .request(1, true, &as_refs(&params), body.as_bytes())
            .stdout;
        let cgi = cgi_stdout(&showcase_bin(), &params, body.as_bytes(), &limit);
        assert_eq!(
            String::from_utf8_lossy(&fastcgi),
            String::from_utf8_lossy(&cgi),
            "{name}"
        );
        assert_eq!(fastcgi, cgi, "{name}");
    }
}
