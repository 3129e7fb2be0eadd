//! Who is logged in, through the `sessions` example on every store: guards (401 / 403 / 200),
//! "log out everywhere" (every session of one user ends at once, another user's lives on), and
//! the login throttle (per username, per address, reset on success, unknown usernames answered
//! alike) through one-shot CGI processes; and two FastCGI backends behind one nginx sharing
//! the throttle (Redis) and the revocation (Redis, memcached, SQLite).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{cgi, e2e, sessions};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use e2e::{Conn, Proc, Req, Unit, accepts, conf, free_port, localhost, start_nginx, text};
use serde_json::json;
use sessions::{Fixture, Kind, LOGIN, sessions_bin};

const ADMIN: &str = r#"{"username":"admin","password":"admin"}"#;
const WRONG: &str = r#"{"username":"foo","password":"wrong"}"#;
const UNKNOWN: &str = r#"{"username":"nobody","password":"wrong"}"#;

fn cookie_of(resp: &cgi::CgiResponse) -> Option<String> {
    sessions::session_cookie(resp.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

fn login_as(fx: &Fixture, body: &str) -> String {
    let resp = fx.cgi("POST", "/login", None, body);
    assert_eq!(resp.status, 200, "{:?} login: {}", fx.kind, resp.text());
    cookie_of(&resp).expect("a session cookie")
}

fn guards_answer_401_403_200(kind: Kind) {
    let fx = Fixture::new(kind);
    let none = fx.cgi("GET", "/admin", None, "");
    assert_eq!(none.status, 401, "{kind:?}: {}", none.text());
    assert_eq!(
        none.json("401"),
        cgi::error_body(401, "Unauthorized", "Login required")
    );
    let plain = login_as(&fx, LOGIN);
    let forbidden = fx.cgi("GET", "/admin", Some(&plain), "");
    assert_eq!(forbidden.status, 403, "{kind:?}: {}", forbidden.text());
    assert_eq!(
        forbidden.json("403"),
        cgi::error_body(403, "Forbidden", "The role admin is required")
    );
    let admin = login_as(&fx, ADMIN);
    let ok = fx.cgi("GET", "/admin", Some(&admin), "");
    assert_eq!(ok.status, 200, "{kind:?}: {}", ok.text());
    assert_eq!(ok.json("admin"), json!({"admin": true}));
    let all = fx.cgi("POST", "/logout/all", None, "");
    assert_eq!(all.status, 401, "{kind:?}: /logout/all needs a login");
}

fn logout_everywhere_ends_every_session_of_that_user_only(kind: Kind) {
    let fx = Fixture::new(kind);
    let (first, second, other) = (
        login_as(&fx, LOGIN),
        login_as(&fx, LOGIN),
        login_as(&fx, ADMIN),
    );
    assert_ne!(first, second);
    for cookie in [&first, &second, &other] {
        assert_eq!(
            fx.cgi("GET", "/me", Some(cookie), "").status,
            200,
            "{kind:?}"
        );
    }
    let out = fx.cgi("POST", "/logout/all", Some(&first), "");
    assert_eq!(out.status, 200, "{kind:?}: {}", out.text());
    assert_eq!(out.json("all"), json!({"message": "Logged out everywhere"}));
    for (name, cookie) in [
        ("the session that asked", &first),
        ("the other session", &second),
    ] {
        let me = fx.cgi("GET", "/me", Some(cookie), "");
        assert_eq!(
            me.status,
            401,
            "{kind:?}: {name} ended at once: {}",
            me.text()
        );
    }
    let me = fx.cgi("GET", "/me", Some(&other), "");
    assert_eq!(me.status, 200, "{kind:?}: another user's session lives on");
    assert_eq!(me.json("admin")["user"], "admin");
    // A new login after the revocation works.
    let again = login_as(&fx, LOGIN);
    assert_eq!(
        fx.cgi("GET", "/me", Some(&again), "").status,
        200,
        "{kind:?}"
    );
}

fn five_failures_lock_the_username_even_for_the_right_password(kind: Kind) {
    let fx = Fixture::new(kind).with("REMOTE_ADDR", "192.0.2.7");
    let wrong = fx.cgi("POST", "/login", None, WRONG);
    let unknown = fx.cgi("POST", "/login", None, UNKNOWN);
    assert_eq!(wrong.status, 401);
    assert_eq!(
        (wrong.status, wrong.text()),
        (unknown.status, unknown.text()),
        "{kind:?}: an unknown username is answered as a wrong password"
    );
    // A success resets the username's count.
    login_as(&fx, LOGIN);
    for n in 1..=5 {
        let resp = fx.cgi("POST", "/login", None, WRONG);
        assert_eq!(resp.status, 401, "{kind:?}: failure {n}: {}", resp.text());
    }
    let locked = fx.cgi("POST", "/login", None, LOGIN);
    assert_eq!(
        locked.status,
        429,
        "{kind:?}: the right password is refused: {}",
        locked.text()
    );
    let retry: u64 = locked
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{kind:?}: Retry-After {retry}");
    assert_eq!(
        locked.json("429"),
        cgi::error_body(
            429,
            "Too Many Requests",
            "Too many failed logins; try again later"
        )
    );
    // The unknown username reached its limit alike (1 + 4 more failures).
    for _ in 0..4 {
        assert_eq!(fx.cgi("POST", "/login", None, UNKNOWN).status, 401);
    }
    assert_eq!(
        fx.cgi("POST", "/login", None, UNKNOWN).status,
        429,
        "{kind:?}"
    );
    // Another username from the same address still logs in (10 failures < 50 per address).
    login_as(&fx, ADMIN);
}

fn the_address_limit_locks_every_username_from_it(kind: Kind) {
    let fx = Fixture::new(kind)
        .with("REMOTE_ADDR", "192.0.2.8")
        .with("PYCNIC_LOGIN_MAX_FAILURES_PER_IP", "3");
    for body in [WRONG, UNKNOWN, r#"{"username":"admin","password":"x"}"#] {
        assert_eq!(fx.cgi("POST", "/login", None, body).status, 401);
    }
    let locked = fx.cgi("POST", "/login", None, ADMIN);
    assert_eq!(locked.status, 429, "{kind:?}: {}", locked.text());
    let elsewhere = Fixture {
        extra: vec![("REMOTE_ADDR".into(), "192.0.2.9".into())],
        ..fx
    };
    assert_eq!(
        elsewhere.cgi("POST", "/login", None, ADMIN).status,
        200,
        "{kind:?}: another address is not locked"
    );
}

macro_rules! per_store {
    ($($name:ident: $kind:expr;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn guards() { guards_answer_401_403_200($kind); }
            #[test]
            fn logout_everywhere() { logout_everywhere_ends_every_session_of_that_user_only($kind); }
            #[test]
            fn throttle_per_username() { five_failures_lock_the_username_even_for_the_right_password($kind); }
            #[test]
            fn throttle_per_address() { the_address_limit_locks_every_username_from_it($kind); }
        }
    )*};
}

per_store! {
    cookie_with_auth_store: Kind::Cookie;
    sqlite: Kind::Sqlite;
    redis: Kind::Redis;
    memcached: Kind::Memcached;
}

#[test]
fn the_cookie_store_alone_refuses_to_throttle_or_revoke() {
    let fx = Fixture::new(Kind::Cookie);
    let mut env = fx.env();
    env.retain(|(n, _)| n != "PYCNIC_AUTH_STORE");
    let run = |body: &str| {
        let mut exec = cgi::Exec::new(sessions_bin())
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("REQUEST_METHOD", "POST")
            .env("REQUEST_URI", "/login")
            .env("CONTENT_TYPE", "application/json")
            .body(body.as_bytes());
        for (name, value) in &env {
            exec = exec.env(name, value);
        }
        exec.run().response("login")
    };
    let resp = run(LOGIN);
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert_eq!(
        resp.json("500")["error"],
        "Server misconfigured: no store for logins (PYCNIC_AUTH_STORE)"
    );
}

/// Two backends (127.0.0.2 and 127.0.0.3, as two machines) behind one nginx, with the
/// fixture's store; the address nginx serves and the processes to stop.
fn cluster(fx: &Fixture) -> (SocketAddr, Vec<Proc>) {
    let prefix = &fx.prefix;
    let bin = prefix.install_binary(&sessions_bin(), "sessions");
    let port = free_port(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let addrs: Vec<SocketAddr> = [2, 3]
        .iter()
        .map(|&h| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, h)), port))
        .collect();
    let mut procs: Vec<Proc> = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            let name = format!("backend-{}", i + 1);
            let unit = prefix.render(
                &conf("systemd/pycnic-tcp.service"),
                &format!("{name}.service"),
                &[
                    ("BIN", text(&bin)),
                    ("BACKEND", &addr.to_string()),
                    ("WEB_SERVER_ADDRS", "127.0.0.1"),
                ],
            );
            let mut command = Unit::read(&unit).command();
            command.envs(fx.env());
            let proc = Proc::start(&name, command, &prefix.join(&format!("{name}.log")));
            e2e::wait_until(&name, &[&proc], prefix, || accepts(*addr));
            proc
        })
        .collect();
    let http_port = free_port(localhost());
    let site = prefix.render(
        &conf("nginx/pycnic-scaleout.conf"),
        "site.conf",
        &[
            ("BACKEND_1", &addrs[0].to_string()),
            ("BACKEND_2", &addrs[1].to_string()),
            ("BACKEND_3", &addrs[1].to_string()),
            ("PORT", &http_port.to_string()),
        ],
    );
    procs.push(start_nginx(prefix, &site, http_port));
    (SocketAddr::new(localhost(), http_port), procs)
}

/// Failures counted on one backend lock the username on the other.
#[test]
fn two_fastcgi_backends_share_the_throttle_through_redis() {
    let fx = Fixture::new(Kind::Redis);
    let (addr, procs) = cluster(&fx);
    let mut conn = Conn::open(addr);
    let mut answered_by = std::collections::BTreeSet::new();
    for n in 1..=5 {
        let resp = conn.request(&Req::new("POST", "/login").json(WRONG));
        assert_eq!(
            resp.status,
            401,
            "failure {n}: {}\n{}",
            resp.text(),
            fx.prefix.logs()
        );
        answered_by.insert(resp.header("X-Pycnic-Backend").unwrap_or("?").to_string());
    }
    assert_eq!(
        answered_by.len(),
        2,
        "both backends counted: {answered_by:?}"
    );
    for _ in 0..2 {
        // Whichever backend answers, the username is locked.
        let resp = conn.request(&Req::new("POST", "/login").json(LOGIN));
        assert_eq!(resp.status, 429, "{}", resp.text());
        assert!(resp.header("Retry-After").is_some());
    }
    drop(procs);
}

/// "Log out everywhere" answered by one backend ends the user's sessions on both.
fn logout_everywhere_across_backends(kind: Kind) {
    let fx = Fixture::new(kind);
    let (addr, procs) = cluster(&fx);
    let mut conn = Conn::open(addr);
    let mut login = |body: &str| {
        let resp = conn.request(&Req::new("POST", "/login").json(body));
        assert_eq!(resp.status, 200, "{kind:?}: {}", resp.text());
        let lines = resp.header_lines("Set-Cookie");
        sessions::session_cookie(lines.into_iter().map(|v| ("Set-Cookie", v))).unwrap()
    };
    let (first, second, other) = (login(LOGIN), login(LOGIN), login(ADMIN));
    let mut conn = Conn::open(addr);
    let mut me = |cookie: &str| {
        let resp = conn.request(&Req::get("/me").cookie(&format!("session={cookie}")));
        (
            resp.status,
            resp.header("X-Pycnic-Backend").unwrap_or("?").to_string(),
        )
    };
    let out = Conn::open(addr)
        .request(&Req::new("POST", "/logout/all").cookie(&format!("session={first}")));
    assert_eq!(out.status, 200, "{kind:?}: {}", out.text());
    let mut answered_by = std::collections::BTreeSet::new();
    for _ in 0..2 {
        // Three requests in a row meet both backends (nginx's list holds the second twice).
        for cookie in [&first, &first, &first, &second, &second, &second] {
            let (status, backend) = me(cookie);
            assert_eq!(status, 401, "{kind:?}: ended on {backend} too");
            answered_by.insert(backend);
        }
        assert_eq!(
            me(&other).0,
            200,
            "{kind:?}: another user's session lives on"
        );
    }
    assert_eq!(
        answered_by.len(),
        2,
        "{kind:?}: both backends answered: {answered_by:?}"
    );
    drop(procs);
}

#[test]
fn logout_everywhere_across_backends_through_redis() {
    logout_everywhere_across_backends(Kind::Redis);
}

#[test]
fn logout_everywhere_across_backends_through_memcached() {
    logout_everywhere_across_backends(Kind::Memcached);
}

#[test]
fn logout_everywhere_across_backends_through_sqlite() {
    logout_everywhere_across_backends(Kind::Sqlite);
}
