//! Sessions across FastCGI backends: two `sessions` backends (127.0.0.2 and 127.0.0.3, as two
//! machines) behind one real nginx, sharing Redis, memcached, one SQLite file or the cookie
//! key; and a store stopped and restarted under the running servers (JSON 503 quickly, the
//! backends keep running, and they reconnect by themselves).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::e2e;
use crate::sessions;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::e2e::{
    Conn, Proc, Req, Resp, Unit, accepts, conf, free_port, localhost, start_nginx, text,
};
use crate::sessions::{Fixture, Kind, LOGIN, StoreServer, sessions_bin};
use serde_json::json;

struct Cluster {
    nginx: Proc,
    backends: Vec<Proc>,
    addr: SocketAddr,
}

/// Two backends as conf/systemd/pycnic-tcp.service starts them, with the store's
/// environment, behind nginx as conf/nginx/pycnic-scaleout.conf sets it up.
fn cluster(fx: &Fixture) -> Cluster {
    let prefix = &fx.prefix;
    let bin = prefix.install_binary(&sessions_bin(), "sessions");
    let port = free_port(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let addrs: Vec<SocketAddr> = [2, 3]
        .iter()
        .map(|&host| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), port))
        .collect();
    let backends = addrs
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
            // The template lists three; the second backend twice keeps the test at two.
            ("BACKEND_3", &addrs[1].to_string()),
            ("PORT", &http_port.to_string()),
        ],
    );
    let nginx = start_nginx(prefix, &site, http_port);
    Cluster {
        nginx,
        backends,
        addr: SocketAddr::new(localhost(), http_port),
    }
}

fn session_cookie(resp: &Resp) -> Option<String> {
    sessions::session_cookie(
        resp.header_lines("Set-Cookie")
            .into_iter()
            .map(|v| ("Set-Cookie", v)),
    )
}

fn login(conn: &mut Conn) -> String {
    let resp = conn.request(&Req::new("POST", "/login").json(LOGIN));
    assert_eq!(resp.status, 200, "login: {}", resp.text());
    session_cookie(&resp).expect("login sets the session cookie")
}

fn a_session_made_on_one_backend_is_read_on_the_other(kind: Kind) {
    let fx = Fixture::new(kind);
    let cluster = cluster(&fx);
    let mut conn = Conn::open(cluster.addr);
    let mut cookie = login(&mut conn);
    let mut answered_by = BTreeSet::new();
    for visits in 1..=8 {
        let resp = conn.request(&Req::get("/me").cookie(&format!("session={cookie}")));
        assert_eq!(
            resp.status,
            200,
            "{kind:?}: {}\n{}",
            resp.text(),
            fx.prefix.logs()
        );
        assert_eq!(
            resp.json(),
            json!({"user": "foo", "visits": visits}),
            "{kind:?}"
        );
        answered_by.insert(resp.header("X-Pycnic-Backend").unwrap_or("?").to_string());
        if let Some(renewed) = session_cookie(&resp) {
            cookie = renewed;
        }
    }
    assert_eq!(
        answered_by.len(),
        2,
        "{kind:?}: both backends answered: {answered_by:?}"
    );
    let out = conn.request(&Req::new("POST", "/logout").cookie(&format!("session={cookie}")));
    assert_eq!(out.json(), json!({"message": "Logged out"}));
    drop(cluster);
}

#[test]
fn cookie_store_across_backends() {
    a_session_made_on_one_backend_is_read_on_the_other(Kind::Cookie);
}

#[test]
fn sqlite_store_across_backends() {
    a_session_made_on_one_backend_is_read_on_the_other(Kind::Sqlite);
}

#[test]
fn redis_store_across_backends() {
    a_session_made_on_one_backend_is_read_on_the_other(Kind::Redis);
}

#[test]
fn memcached_store_across_backends() {
    a_session_made_on_one_backend_is_read_on_the_other(Kind::Memcached);
}

fn a_store_stopped_and_restarted_under_running_backends(kind: Kind) {
    let mut fx = Fixture::new(kind);
    let cluster = cluster(&fx);
    let mut conn = Conn::open(cluster.addr);
    let cookie = login(&mut conn);
    let me = Req::get("/me").cookie(&format!("session={cookie}"));
    assert_eq!(conn.request(&me).status, 200);

    let mut server = fx.server.take().expect("a store server");
    let addr = server.addr;
    server.proc.stop();
    for _ in 0..4 {
        let started = Instant::now();
        let resp = e2e::send(cluster.addr, &me);
        let took = started.elapsed();
        assert_eq!(
            resp.status,
            503,
            "{kind:?} down: {}\n{}",
            resp.text(),
            fx.prefix.logs()
        );
        assert_eq!(resp.header("Content-Type"), Some("application/json"));
        assert_eq!(resp.json()["error"], "Session store unavailable");
        assert!(
            took < Duration::from_secs(10),
            "{kind:?}: a 503 within seconds, took {took:?}"
        );
    }
    for backend in &cluster.backends {
        assert!(backend.is_running(), "{} keeps running", backend.name);
    }

    // Back on the same address (empty: neither keeps data here across a restart). A backend
    // whose circuit breaker opened while the store was down answers 503 until its back-off
    // ends (seconds), then tries the store again: wait for that, bounded.
    fx.server = Some(StoreServer::start_at(kind, &fx.prefix, addr));
    let mut answered_by = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Until each backend's breakers have let the store be tried again and it served a login
    // and a read.
    while answered_by.len() < 2 && Instant::now() < deadline {
        let mut conn = Conn::open(cluster.addr);
        let login = conn.request(&Req::new("POST", "/login").json(LOGIN));
        let resp = match session_cookie(&login) {
            Some(cookie) if login.status == 200 => {
                conn.request(&Req::get("/me").cookie(&format!("session={cookie}")))
            }
            _ => login,
        };
        assert!(
            resp.status == 200 || resp.status == 503,
            "{kind:?} back: {} {}\n{}",
            resp.status,
            resp.text(),
            fx.prefix.logs()
        );
        if resp.status == 200 {
            assert_eq!(resp.json()["user"], "foo", "{kind:?} back");
            answered_by.insert(resp.header("X-Pycnic-Backend").unwrap_or("?").to_string());
        } else {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert_eq!(
        answered_by.len(),
        2,
        "both backends reconnected: {answered_by:?}"
    );
    drop(cluster);
}

#[test]
fn redis_stopped_and_restarted_under_running_backends() {
    a_store_stopped_and_restarted_under_running_backends(Kind::Redis);
}

#[test]
fn memcached_stopped_and_restarted_under_running_backends() {
    a_store_stopped_and_restarted_under_running_backends(Kind::Memcached);
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nginx.stop();
        for backend in &mut self.backends {
            backend.stop();
        }
    }
}
