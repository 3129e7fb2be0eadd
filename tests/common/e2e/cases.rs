//! The cases every configuration passes (the seed table, the body limit, the showcase), and
//! the kernel's view of TCP connections for the keep-alive check.

use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

/// Runs the seed table and the body limit on one deployment of `pycnic`, then the showcase
/// cases on one of the showcase: what every configuration in conf/ must pass.
pub fn every_case(server: &str, deploy: fn(App) -> Deployment) {
    let seed = deploy(App::Seed);
    seed.check(|addr| {
        seed_table(server, addr);
        body_limit(server, addr);
    });
    drop(seed);
    deploy(App::Showcase).check(|addr| showcase_cases(server, addr));
}

/// The seed table of docs/contract.md, through a server in front of `pycnic`, HEAD included.
pub fn seed_table(server: &str, addr: SocketAddr) {
    let error = |status: &str, code: u16, msg: &str| json!({"status": status, "status_code": code, "error": msg, "data": null});
    let logged_in = "session_id=1234567890abcdefg; Path=/";
    let deleted = "session_id=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Max-Age=0";
    struct Case {
        name: &'static str,
        req: Req,
        status: u16,
        body: Option<Value>,
        set_cookie: Vec<&'static str>,
        allow: Option<&'static str>,
    }
    let case = |name, req, status, body: Option<Value>| Case {
        name,
        req,
        status,
        body,
        set_cookie: Vec::new(),
        allow: None,
    };
    let cases = vec![
        case(
            "GET /login, no cookie",
            Req::get("/login"),
            200,
            Some(json!({"session_id": null})),
        ),
        case(
            "GET /login with a cookie (segment without = skipped, trailing ;)",
            Req::get("/login").cookie("session_id=abc; path=/;"),
            200,
            Some(json!({"session_id": "abc"})),
        ),
        Case {
            set_cookie: vec![logged_in],
            ..case(
                "POST /login right credentials",
                Req::new("POST", "/login").json(r#"{"username":"foo","password":"foo"}"#),
                200,
                Some(json!({"message": "Logged in"})),
            )
        },
        case(
            "POST /login without a password",
            Req::new("POST", "/login").json(r#"{"username":"foo"}"#),
            400,
            Some(error(
                "400 Bad Request",
                400,
                "Username and password are required",
            )),
        ),
        case(
            "POST /login without a body",
            Req::new("POST", "/login"),
            400,
            Some(error(
                "400 Bad Request",
                400,
                "Username and password are required",
            )),
        ),
        case(
            "POST /login wrong password",
            Req::new("POST", "/login").json(r#"{"username":"foo","password":"bar"}"#),
            401,
            Some(error(
                "401 Unauthorized",
                401,
                "Username or password are incorrect",
            )),
        ),
        case(
            "POST /login bad JSON",
            Req::new("POST", "/login").json("{bad json"),
            400,
            Some(error(
                "400 Bad Request",
                400,
                "Expected JSON in request body",
            )),
        ),
        Case {
            set_cookie: vec![deleted],
            ..case(
                "POST /logout with a session",
                Req::new("POST", "/logout").cookie("session_id=x"),
                200,
                Some(json!({"message": "Logged out"})),
            )
        },
        case(
            "POST /logout with a DELETED session",
            Req::new("POST", "/logout").cookie("session_id=DELETED; theme=dark"),
            200,
            Some(json!({"message": "Already logged out", "cookies": {"theme": "dark"}})),
        ),
        case(
            "GET /logout",
            Req::get("/logout"),
            405,
            Some(error("405 Method Not Allowed", 405, "GET not allowed")),
        ),
        case(
            "GET /nowhere",
            Req::get("/nowhere"),
            404,
            Some(error("404 Not Found", 404, "Path /nowhere not found")),
        ),
        case(
            "GET /login/ (one trailing slash stripped)",
            Req::get("/login/").cookie("session_id=abc"),
            200,
            Some(json!({"session_id": "abc"})),
        ),
        Case {
            allow: Some("GET, HEAD, POST, OPTIONS"),
            ..case(
                "OPTIONS /login",
                Req::new("OPTIONS", "/login"),
                200,
                Some(json!({})),
            )
        },
        case(
            "HEAD /login (GET without a body)",
            Req::new("HEAD", "/login"),
            200,
            None,
        ),
    ];
    for case in cases {
        let what = format!("{server}: {}", case.name);
        let resp = send(addr, &case.req);
        assert_eq!(
            resp.status,
            case.status,
            "{what}: status; body {}",
            resp.text()
        );
        assert_eq!(
            resp.header("Content-Type"),
            Some("application/json"),
            "{what}: Content-Type"
        );
        match &case.body {
            Some(body) => assert_eq!(&resp.json(), body, "{what}: body"),
            None => assert!(resp.body.is_empty(), "{what}: a HEAD answer has no body"),
        }
        assert_eq!(
            resp.header_lines("Set-Cookie"),
            case.set_cookie,
            "{what}: Set-Cookie lines"
        );
        if let Some(allow) = case.allow {
            assert_eq!(resp.header("Allow"), Some(allow), "{what}: Allow");
        }
    }
}

/// A JSON login body of exactly `len` bytes (padded with a field the handler ignores).
pub fn login_body_of_len(len: usize) -> Vec<u8> {
    let head = br#"{"username":"foo","password":"foo","pad":""#;
    let tail = br#""}"#;
    assert!(len >= head.len() + tail.len());
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(head);
    body.resize(len - tail.len(), b'x');
    body.extend_from_slice(tail);
    body
}

/// A body just under the app's limit is read whole; one byte over it gets the app's JSON 413.
pub fn body_limit(server: &str, addr: SocketAddr) {
    let near = APP_MAX_BODY - 1024;
    let resp = send(
        addr,
        &Req::new("POST", "/login").json(login_body_of_len(near)),
    );
    assert_eq!(
        (resp.status, resp.json()),
        (200, json!({"message": "Logged in"})),
        "{server}: a {near}-byte body (under the limit) is read whole"
    );
    let over = APP_MAX_BODY + 1;
    let resp = send(
        addr,
        &Req::new("POST", "/login").json(login_body_of_len(over)),
    );
    assert_eq!(
        resp.status,
        413,
        "{server}: a {over}-byte body is over the limit: {}",
        resp.text()
    );
    let body = resp.json();
    assert_eq!(
        body["status_code"], 413,
        "{server}: the app's JSON 413: {body}"
    );
}

/// The showcase through a server: request details the app must see, and response details
/// the client must see.
pub fn showcase_cases(server: &str, addr: SocketAddr) {
    // Two Cookie headers: nginx sends two HTTP_COOKIE params, Apache joins with ", " (conf/
    // restores "; "), lighttpd joins with "; ".
    let echo = send(addr, &Req::get("/echo").cookie("a=1").cookie("b=2")).json();
    assert_eq!(
        echo["cookies"],
        json!({"a": "1", "b": "2"}),
        "{server}: two Cookie headers: the app sees both cookies"
    );

    let paths: [(&str, &[u8], &str); 4] = [
        ("percent-encoded UTF-8", b"/echo/caf%C3%A9", "/echo/café"),
        ("raw UTF-8 bytes", "/echo/café".as_bytes(), "/echo/café"),
        ("percent-encoded space", b"/echo/a%20b", "/echo/a b"),
        (
            "raw non-ASCII and a query",
            "/echo/naïve?x=1".as_bytes(),
            "/echo/naïve",
        ),
    ];
    for (name, target, want) in paths {
        let resp = send(addr, &Req::get(target));
        assert_eq!(resp.status, 200, "{server}: path {name}: {}", resp.text());
        assert_eq!(resp.json()["path"], want, "{server}: path {name}");
    }

    // A path that is not UTF-8 once decoded: nginx and Apache pass it on and the app decodes
    // it lossily; lighttpd refuses it with its own 400 before the app sees it.
    let non_utf8: [(&str, &[u8]); 2] = [
        ("percent-encoded non-UTF-8 byte", b"/echo/x%FFy"),
        ("raw non-UTF-8 byte", b"/echo/x\xFFy"),
    ];
    for (name, target) in non_utf8 {
        let resp = send(addr, &Req::get(target));
        if server.starts_with("lighttpd") {
            assert_eq!(
                resp.status, 400,
                "{server}: path {name}: lighttpd refuses it"
            );
        } else {
            assert_eq!(resp.status, 200, "{server}: path {name}: {}", resp.text());
            assert_eq!(
                resp.json()["path"],
                "/echo/x\u{FFFD}y",
                "{server}: path {name}"
            );
        }
    }

    let echo = send(addr, &Req::get("/echo?a=1&b=x+y&c=%26&d=caf%C3%A9&a=2&e=")).json();
    assert_eq!(
        echo["args"],
        json!({"a": "2", "b": "x y", "c": "&", "d": "café"}),
        "{server}: query string args (last duplicate wins, blank dropped)"
    );
    assert_eq!(
        echo["args_all"]["a"],
        json!(["1", "2"]),
        "{server}: every value of a repeated key"
    );

    let big = "v".repeat(6 * 1024);
    let echo = send(
        addr,
        &Req::get("/echo").cookie(&format!("big={big}; small=1")),
    )
    .json();
    assert_eq!(
        echo["cookies"]["big"].as_str().map(str::len),
        Some(big.len()),
        "{server}: a 6 KB cookie header reaches the app whole"
    );
    assert_eq!(
        echo["cookies"]["small"], "1",
        "{server}: 6 KB cookie header"
    );

    let echo = send(addr, &Req::new("PUT", "/echo").json(r#"{"k":"v"}"#)).json();
    assert_eq!(
        (echo["method"].clone(), echo["body"].clone()),
        (json!("PUT"), json!(r#"{"k":"v"}"#)),
        "{server}: PUT with a body"
    );

    let echo = send(
        addr,
        &Req::get("/echo").header("Authorization", "Bearer e2e-token"),
    )
    .json();
    assert_eq!(
        echo["authorization"], "Bearer e2e-token",
        "{server}: Authorization reaches the app"
    );

    let resp = send(addr, &Req::new("POST", "/cookies"));
    assert_eq!(resp.status, 200, "{server}: POST /cookies");
    assert_eq!(
        resp.header_lines("Set-Cookie"),
        vec![
            "plain=last wins; Path=/",
            "full=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Domain=example.test; Path=/app; Max-Age=3600; Secure; HttpOnly; SameSite=Lax",
            "flagged=3; Path=/; Partitioned",
        ],
        "{server}: every Set-Cookie arrives as its own line, in order"
    );

    let redirects: [(&str, &str, &str); 2] = [
        ("relative Location", "/redirect", "/hello/world"),
        (
            "absolute Location",
            "/redirect?to=https://example.test/elsewhere",
            "https://example.test/elsewhere",
        ),
    ];
    for (name, target, location) in redirects {
        let resp = send(addr, &Req::get(target));
        assert_eq!(resp.status, 302, "{server}: redirect, {name}: status");
        assert_eq!(
            resp.header("Location"),
            Some(location),
            "{server}: redirect, {name}: Location"
        );
    }

    let resp = send(
        addr,
        &Req::new("POST", "/users").json(r#"{"name":"ada","age":36}"#),
    );
    assert_eq!(resp.status, 201, "{server}: Status: 201 with a Location");
    assert!(
        resp.header("Location")
            .is_some_and(|l| l.starts_with("/users/")),
        "{server}: 201's Location: {:?}",
        resp.headers
    );

    let statuses: [(&str, Req, u16); 4] = [
        ("204 has no body", Req::get("/empty"), 204),
        ("403 from a before hook", Req::get("/admin"), 403),
        (
            "418 from the app's before hook",
            Req::get("/echo").header("X-Block", "1"),
            418,
        ),
        ("500 from a panic", Req::get("/panic"), 500),
    ];
    for (name, req, status) in statuses {
        let resp = send(addr, &req);
        assert_eq!(resp.status, status, "{server}: {name}: {}", resp.text());
        if status == 204 {
            assert!(resp.body.is_empty(), "{server}: {name}");
        } else {
            assert!(resp.json().is_object(), "{server}: {name}: JSON body");
        }
    }

    let resp = send(addr, &Req::get("/stream?chunks=3"));
    assert_eq!(
        (resp.status, resp.text()),
        (200, "chunk 0\nchunk 1\nchunk 2\n".to_string()),
        "{server}: a streamed body"
    );
}

/// TCP connections to or from `addr` in /proc/net/tcp, by state: (established, time_wait).
/// A connection reused for many requests leaves no TIME-WAIT behind; one per request does.
pub fn tcp_states(addr: SocketAddr) -> (usize, usize) {
    let IpAddr::V4(ip) = addr.ip() else {
        panic!("tcp_states reads IPv4 only");
    };
    let want = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(ip.octets()),
        addr.port()
    );
    let table = fs::read_to_string("/proc/net/tcp").unwrap();
    let (mut established, mut time_wait) = (0, 0);
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote), Some(state)) =
            (fields.get(1), fields.get(2), fields.get(3))
        else {
            continue;
        };
        // Count each connection once: from the side whose remote end is `addr` (the client)
        // for established ones; TIME-WAIT sits on whichever side closed first.
        match *state {
            "01" if *remote == want => established += 1,
            "06" if *remote == want || *local == want => time_wait += 1,
            _ => {}
        }
    }
    (established, time_wait)
}

/// The median of some durations.
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
