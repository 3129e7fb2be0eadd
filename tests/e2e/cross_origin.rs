//! Cross-origin protection and credentialed CORS as a client sees them, through one-shot CGI
//! and through a real nginx in front of `sessions fastcgi`: the rules table (every method ×
//! each `Sec-Fetch-Site` value × a matching, mismatching and absent `Origin`, trusted origins,
//! exact-match exemptions) and the CORS answers. The app is the `sessions` example; its
//! `POST /logout` changes nothing without a session, so each case only asks "refused or not".

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{cgi, e2e, sessions};
use std::net::SocketAddr;

use e2e::{Conn, Prefix, Proc, Req, Unit, accepts, conf, free_port, localhost, start_nginx, text};

const TRUSTED: &str = "https://trusted.example";
const SPA: &str = "http://spa.example:3000";
const OTHER: &str = "http://evil.example";
const REFUSED: &str = "Cross-origin request refused: this origin may not change anything here";

/// The settings every run of the app gets (as `PYCNIC_*` variables).
fn settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("PYCNIC_TRUSTED_ORIGINS", TRUSTED),
        ("PYCNIC_CORS_ORIGINS", SPA),
        ("PYCNIC_CROSS_ORIGIN_EXEMPT", "/logout"),
        ("RUST_LOG", "info"),
    ]
}

/// One answer, whichever way it came.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A way to send a request with extra headers; `own` is the request's own origin.
trait Send {
    fn own(&self) -> String;
    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer;
}

struct Cgi {
    host: String,
}

impl Send for Cgi {
    fn own(&self) -> String {
        format!("http://{}", self.host)
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut exec = cgi::Exec::new(sessions::sessions_bin())
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("REQUEST_METHOD", method)
            .env("REQUEST_URI", path)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", "")
            .env("HTTP_HOST", &self.host);
        for (name, value) in settings() {
            exec = exec.env(name, value);
        }
        for (name, value) in headers {
            let var = format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_"));
            exec = exec.env(&var, value);
        }
        let resp = exec.run().response(&format!("{method} {path} {headers:?}"));
        Answer {
            status: resp.status,
            body: resp.text(),
            headers: resp.headers,
        }
    }
}

/// nginx (conf/nginx/pycnic-tcp.conf, stock fastcgi_params) in front of one backend.
struct Nginx {
    conn: Conn,
    addr: SocketAddr,
    _procs: Vec<Proc>,
    _prefix: Prefix,
}

impl Nginx {
    fn start() -> Nginx {
        let prefix = Prefix::new("cross-origin");
        let bin = prefix.install_binary(&sessions::sessions_bin(), "sessions");
        let backend: SocketAddr = (localhost(), free_port(localhost())).into();
        let unit = prefix.render(
            &conf("systemd/pycnic-tcp.service"),
            "backend.service",
            &[
                ("BIN", text(&bin)),
                ("BACKEND", &backend.to_string()),
                ("WEB_SERVER_ADDRS", "127.0.0.1"),
            ],
        );
        let mut command = Unit::read(&unit).command();
        command.envs(settings());
        let app = Proc::start("backend", command, &prefix.join("backend.log"));
        e2e::wait_until("backend", &[&app], &prefix, || accepts(backend));
        let port = free_port(localhost());
        let site = prefix.render(
            &conf("nginx/pycnic-tcp.conf"),
            "site.conf",
            &[
                ("BACKEND", &backend.to_string()),
                ("PORT", &port.to_string()),
            ],
        );
        let nginx = start_nginx(&prefix, &site, port);
        let addr = SocketAddr::new(localhost(), port);
        Nginx {
            conn: Conn::open(addr),
            addr,
            _procs: vec![nginx, app],
            _prefix: prefix,
        }
    }
}

impl Send for Nginx {
    fn own(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = Req::new(method, path);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = self.conn.request(&req);
        Answer {
            status: resp.status,
            body: resp.text(),
            headers: resp.headers,
        }
    }
}

/// Go 1.25's verdict for an origin that is neither trusted nor exempt.
fn passes(method: &str, site: Option<&str>, origin: Option<&str>, own: &str) -> bool {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return true;
    }
    match site {
        Some("same-origin" | "none") => true,
        Some(_) => false,
        None => origin.is_none_or(|o| o == own),
    }
}

fn the_rules_table(via: &mut impl Send, how: &str) {
    let own = via.own();
    let methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH"];
    let sites = [
        None,
        Some("same-origin"),
        Some("none"),
        Some("same-site"),
        Some("cross-site"),
    ];
    let origins = [None, Some(own.as_str()), Some(OTHER), Some("null")];
    for method in methods {
        for site in sites {
            for origin in origins {
                let mut headers = Vec::new();
                if let Some(site) = site {
                    headers.push(("Sec-Fetch-Site", site));
                }
                if let Some(origin) = origin {
                    headers.push(("Origin", origin));
                }
                let answer = via.send(method, "/login", &headers);
                let case = format!("{how}: {method} /login {headers:?}: {}", answer.body);
                if passes(method, site, origin, &own) {
                    assert_ne!(answer.status, 403, "{case}");
                } else {
                    assert_eq!(answer.status, 403, "{case}");
                    assert_eq!(
                        serde_json::from_str::<serde_json::Value>(&answer.body).unwrap(),
                        cgi::error_body(403, "Forbidden", REFUSED),
                        "{case}: Pycnic's error shape"
                    );
                }
            }
        }
    }
    // Trusted and CORS-listed origins pass whatever Sec-Fetch-Site says.
    for origin in [TRUSTED, SPA] {
        for site in ["cross-site", "same-site"] {
            let answer = via.send(
                "POST",
                "/login",
                &[("Sec-Fetch-Site", site), ("Origin", origin)],
            );
            assert_ne!(
                answer.status, 403,
                "{how}: {origin} {site}: {}",
                answer.body
            );
        }
    }
    // Exemptions are exact: /logout passes, /logout/all does not.
    let cross = [("Sec-Fetch-Site", "cross-site"), ("Origin", OTHER)];
    let exempt = via.send("POST", "/logout", &cross);
    assert_eq!(
        exempt.status, 200,
        "{how}: /logout is exempt: {}",
        exempt.body
    );
    for near in ["/logout/all", "/logouts", "/logout/x"] {
        assert_eq!(
            via.send("POST", near, &cross).status,
            403,
            "{how}: {near} is not exempt"
        );
    }
}

fn cors(via: &mut impl Send, how: &str) {
    let preflight = via.send(
        "OPTIONS",
        "/me",
        &[
            ("Origin", SPA),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "content-type, x-other"),
        ],
    );
    assert_eq!(preflight.status, 204, "{how}: {}", preflight.body);
    assert_eq!(
        preflight.header("Access-Control-Allow-Origin"),
        Some(SPA),
        "{how}"
    );
    assert_eq!(
        preflight.header("Access-Control-Allow-Credentials"),
        Some("true"),
        "{how}"
    );
    assert_eq!(
        preflight.header("Access-Control-Allow-Methods"),
        Some("GET, HEAD, OPTIONS"),
        "{how}"
    );
    assert_eq!(
        preflight.header("Access-Control-Allow-Headers"),
        Some("content-type"),
        "{how}"
    );
    assert_eq!(
        preflight.header("Access-Control-Max-Age"),
        Some("600"),
        "{how}"
    );
    assert_eq!(preflight.header("Vary"), Some("Origin"), "{how}");

    // An actual answer (here a 401) to the listed origin: the same origin, credentials, Vary.
    let actual = via.send("GET", "/me", &[("Origin", SPA)]);
    assert_eq!(actual.status, 401, "{how}: {}", actual.body);
    assert_eq!(
        actual.header("Access-Control-Allow-Origin"),
        Some(SPA),
        "{how}"
    );
    assert_eq!(
        actual.header("Access-Control-Allow-Credentials"),
        Some("true"),
        "{how}"
    );
    assert_eq!(actual.header("Vary"), Some("Origin"), "{how}");

    // An unlisted origin (even a trusted one) gets no CORS header at all.
    for origin in [OTHER, TRUSTED, "null"] {
        for (method, headers) in [
            ("GET", vec![("Origin", origin)]),
            (
                "OPTIONS",
                vec![("Origin", origin), ("Access-Control-Request-Method", "GET")],
            ),
        ] {
            let answer = via.send(method, "/me", &headers);
            let cors: Vec<_> = answer
                .headers
                .iter()
                .filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
                .collect();
            assert!(cors.is_empty(), "{how}: {method} from {origin}: {cors:?}");
            assert_ne!(
                answer.status, 204,
                "{how}: no preflight answer for {origin}"
            );
        }
    }
}

#[test]
fn the_rules_table_through_cgi() {
    the_rules_table(
        &mut Cgi {
            host: "api.example:8080".into(),
        },
        "CGI",
    );
}

#[test]
fn the_rules_table_through_nginx() {
    let mut nginx = Nginx::start();
    the_rules_table(&mut nginx, "nginx");
}

#[test]
fn credentialed_cors_through_cgi() {
    cors(
        &mut Cgi {
            host: "api.example:8080".into(),
        },
        "CGI",
    );
}

#[test]
fn credentialed_cors_through_nginx() {
    let mut nginx = Nginx::start();
    cors(&mut nginx, "nginx");
}

#[test]
fn a_cross_site_session_cookie_is_samesite_none_and_secure_or_refused() {
    use sessions::{Fixture, Kind, LOGIN, session_set_cookie_line};
    let refused = Fixture::new(Kind::Sqlite).with("PYCNIC_SESSION_SAMESITE", "none");
    let resp = refused.cgi("POST", "/login", None, LOGIN);
    assert_eq!(
        resp.status,
        500,
        "SameSite=None without Secure: {}",
        resp.text()
    );
    assert_eq!(
        resp.json("refused")["error"],
        "Server misconfigured: session settings"
    );
    let fx = Fixture::new(Kind::Sqlite)
        .with("PYCNIC_SESSION_SAMESITE", "none")
        .with("PYCNIC_SESSION_SECURE", "1");
    let resp = fx.cgi("POST", "/login", None, LOGIN);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let line = session_set_cookie_line(&resp).expect("a session cookie");
    assert!(
        line.contains("SameSite=None") && line.contains("Secure"),
        "{line}"
    );
}

#[test]
fn turned_off_it_lets_a_cross_site_post_through_and_warns_and_a_refusal_is_logged() {
    let exec = |off: bool| {
        let mut exec = cgi::Exec::new(sessions::sessions_bin())
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("REQUEST_METHOD", "POST")
            .env("REQUEST_URI", "/logout/all")
            .env("HTTP_HOST", "api.example")
            .env("HTTP_ORIGIN", OTHER)
            .env("HTTP_SEC_FETCH_SITE", "cross-site")
            .env("RUST_LOG", "info");
        if off {
            exec = exec.env("PYCNIC_CROSS_ORIGIN_PROTECTION", "0");
        }
        exec.run()
    };
    let on = exec(false);
    assert_eq!(on.response("on").status, 403);
    assert!(
        on.stderr
            .contains("cross-origin POST /logout/all from http://evil.example refused"),
        "the refusal is logged at INFO with the origin: {}",
        on.stderr
    );
    let off = exec(true);
    assert_eq!(
        off.response("off").status,
        401,
        "reaches the guard: {}",
        off.stderr
    );
    assert!(
        off.stderr.contains("cross-origin protection is off"),
        "a warning: {}",
        off.stderr
    );
}

#[test]
fn turned_off_under_fastcgi_it_warns_at_start_before_any_request() {
    let server = crate::fcgi_client::Server::on_fd0(
        &sessions::sessions_bin(),
        &["fastcgi"],
        &[
            ("PYCNIC_CROSS_ORIGIN_PROTECTION", "0"),
            ("PYCNIC_SESSION_STORE", "cookie"),
            ("RUST_LOG", "info"),
        ],
    );
    assert!(
        server.wait_for_log("cross-origin protection is off"),
        "warned at start, with no request sent: {}",
        server.stderr()
    );
}

#[test]
fn a_cross_origin_setting_that_does_not_parse_stops_a_fastcgi_start() {
    let mut child = std::process::Command::new(sessions::sessions_bin())
        .args(["fastcgi", "--listen", "127.0.0.1:0"])
        .env("PYCNIC_CROSS_ORIGIN_PROTECTION", "maybe")
        .env("PYCNIC_SESSION_STORE", "cookie")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the example");
    // Bounded: a server that starts anyway is ended, and the test fails.
    let mut status = None;
    for _ in 0..200 {
        status = child.try_wait().expect("wait");
        if status.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("its output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.is_some_and(|s| !s.success()),
        "the start is refused: {stderr}"
    );
    assert!(
        stderr.contains("PYCNIC_CROSS_ORIGIN_PROTECTION") && stderr.contains("cannot start"),
        "the log says why: {stderr}"
    );
}
