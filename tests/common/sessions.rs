//! The sessions test harness: the `sessions` example run as one-shot CGI processes against a
//! store, real `redis-server` and `memcached` started on free loopback ports in temporary
//! directories (stopped and removed on drop), and helpers to log in and read cookies.
//!
//! Declared in `tests/e2e/main.rs` as `mod sessions;` at the root, next to `mod cgi;` and
//! `mod e2e;` (it uses both through `super::`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use super::cgi::{CgiResponse, Exec};
use super::e2e::{Prefix, Proc, accepts, free_port, localhost, require, wait_until};

/// `target/<profile>/examples/sessions`, built once if Cargo has not built it yet.
pub fn sessions_bin() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| super::cgi::example_bin("sessions"))
        .clone()
}

/// The four stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cookie,
    Sqlite,
    Redis,
    Memcached,
}

/// A running `redis-server` or `memcached` on a free loopback port.
pub struct StoreServer {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub proc: Proc,
}

impl StoreServer {
    pub fn start(kind: Kind, prefix: &Prefix) -> StoreServer {
        let addr = SocketAddr::new(localhost(), free_port(localhost()));
        StoreServer::start_at(kind, prefix, addr)
    }

    /// Starts the server on `addr` (again, after a stop).
    pub fn start_at(kind: Kind, prefix: &Prefix, addr: SocketAddr) -> StoreServer {
        let port = addr.port().to_string();
        let (name, command) = match kind {
            Kind::Redis => {
                let mut c = Command::new(require("redis-server"));
                c.args(["--bind", "127.0.0.1", "--port", &port, "--save", ""]);
                c.args(["--appendonly", "no", "--daemonize", "no", "--dir"]);
                c.arg(&prefix.path);
                ("redis-server", c)
            }
            Kind::Memcached => {
                let mut c = Command::new(require("memcached"));
                c.args(["-l", "127.0.0.1", "-p", &port, "-U", "0", "-m", "16"]);
                if super::e2e::is_root() {
                    c.args(["-u", "root"]);
                }
                ("memcached", c)
            }
            other => panic!("{other:?} has no server"),
        };
        let log = prefix.join(&format!("{name}-{port}.log"));
        let proc = Proc::start(name, command, &log);
        wait_until(name, &[&proc], prefix, || accepts(addr));
        StoreServer { kind, addr, proc }
    }
}

/// A store ready for the example: its temporary directory, a key file, the server if any.
pub struct Fixture {
    pub kind: Kind,
    pub server: Option<StoreServer>,
    pub key_file: PathBuf,
    pub extra: Vec<(String, String)>,
    pub prefix: Prefix,
}

impl Fixture {
    pub fn new(kind: Kind) -> Fixture {
        let prefix = Prefix::new(&format!("sessions-{kind:?}").to_lowercase());
        let server = matches!(kind, Kind::Redis | Kind::Memcached)
            .then(|| StoreServer::start(kind, &prefix));
        let key_file = prefix.join("keys");
        std::fs::write(&key_file, format!("{}\n", new_key())).unwrap();
        Fixture {
            kind,
            server,
            key_file,
            extra: Vec::new(),
            prefix,
        }
    }

    /// Adds an environment variable for every run of the app.
    pub fn with(mut self, name: &str, value: &str) -> Fixture {
        self.extra.push((name.into(), value.into()));
        self
    }

    pub fn store_spec(&self) -> String {
        match (self.kind, &self.server) {
            (Kind::Cookie, _) => "cookie".into(),
            // A folder the app creates, as its user's alone (`var/` is the web server's).
            (Kind::Sqlite, _) => {
                format!("sqlite:{}", self.prefix.join("store/sessions.db").display())
            }
            (Kind::Redis, Some(s)) => format!("redis://{}/0", s.addr),
            (Kind::Memcached, Some(s)) => format!("memcached://{}", s.addr),
            (kind, None) => panic!("{kind:?} without its server"),
        }
    }

    /// The app's environment for this store.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("PYCNIC_SESSION_STORE".into(), self.store_spec()),
            (
                "PYCNIC_SECRET_KEY_FILE".into(),
                self.key_file.display().to_string(),
            ),
            ("PYCNIC_SESSION_TIMEOUT_MS".into(), "1000".into()),
            ("RUST_LOG".into(), "error".into()),
        ];
        if self.kind == Kind::Cookie {
            // Revocation and login counts need a server-side record next to the cookie store.
            let auth = format!("sqlite:{}", self.prefix.join("store/auth.db").display());
            env.push(("PYCNIC_AUTH_STORE".into(), auth));
        }
        env.extend(self.extra.iter().cloned());
        env
    }

    /// One request through a new CGI process.
    pub fn cgi(&self, method: &str, target: &str, cookie: Option<&str>, body: &str) -> CgiResponse {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut exec = Exec::new(sessions_bin())
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("REQUEST_METHOD", method)
            .env("REQUEST_URI", target)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query);
        for (name, value) in self.env() {
            exec = exec.env(&name, &value);
        }
        if let Some(value) = cookie {
            exec = exec.env("HTTP_COOKIE", &format!("session={value}"));
        }
        if !body.is_empty() {
            exec = exec
                .env("CONTENT_TYPE", "application/json")
                .body(body.as_bytes());
        }
        let run = exec.run();
        run.response(&format!("{method} {target}"))
    }

    /// Logs in through CGI; returns the session cookie's value.
    pub fn login(&self) -> String {
        let resp = self.cgi("POST", "/login", None, LOGIN);
        assert_eq!(resp.status, 200, "login: {}", resp.text());
        session_cookie(resp.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .expect("login sets the session cookie")
    }
}

/// The seed's good credentials.
pub const LOGIN: &str = r#"{"username":"foo","password":"foo"}"#;

/// A new key line, as `pycnic keygen` prints it.
pub fn new_key() -> String {
    let out = Command::new(sessions_bin()).arg("keygen").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The value of the `session` cookie among `Set-Cookie` headers (`Some("")` when cleared).
pub fn session_cookie<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    headers
        .filter(|(n, _)| n.eq_ignore_ascii_case("Set-Cookie"))
        .find_map(|(_, v)| {
            v.strip_prefix("session=")
                .map(|rest| rest.split(';').next().unwrap_or("").to_string())
        })
}

/// The `Set-Cookie` line for `session`, whole.
pub fn session_set_cookie_line(resp: &CgiResponse) -> Option<String> {
    resp.header_all("Set-Cookie")
        .into_iter()
        .find(|v| v.starts_with("session="))
        .map(str::to_string)
}

/// FastCGI params: name and value bytes, in order.
pub type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// The FastCGI params and body of one request to the sessions example: a POST carries the
/// seed's login as JSON; `cookie` is sent as the session cookie.
pub fn fcgi_request(method: &str, target: &str, cookie: Option<&str>) -> (Params, &'static [u8]) {
    let mut params = super::fcgi_client::http_params(method, target);
    let body: &'static [u8] = if method == "POST" {
        LOGIN.as_bytes()
    } else {
        b""
    };
    if !body.is_empty() {
        params.push((b"CONTENT_TYPE".to_vec(), b"application/json".to_vec()));
        params.push((
            b"CONTENT_LENGTH".to_vec(),
            body.len().to_string().into_bytes(),
        ));
    }
    if let Some(value) = cookie {
        params.push((
            b"HTTP_COOKIE".to_vec(),
            format!("session={value}").into_bytes(),
        ));
    }
    (params, body)
}
