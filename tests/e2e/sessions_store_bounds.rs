//! Session stores within their time bound (`PYCNIC_SESSION_TIMEOUT_MS`), against the
//! `sessions` example under FastCGI: a refused memcached answers 503 at once, a frozen Redis
//! (SIGSTOP) answers 503 within the bound, a SQLite file locked by another process answers
//! 503 within the bound while routes without a session keep answering 200, and after
//! repeated failures the circuit breaker answers without contacting the store.
//!
//! Each wait is bounded with a margin far above the setting (the machine may be loaded), and
//! far below what the store's fault cost before.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{e2e, fcgi_client, sessions};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fcgi_client::{Client, Server, as_refs};
use sessions::{Fixture, Kind, sessions_bin};

/// The example under FastCGI with the fixture's environment (overrides last).
fn serve(fx: &Fixture, overrides: &[(&str, &str)]) -> Server {
    let mut env = fx.env();
    env.extend(
        overrides
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string())),
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    Server::on_fd0(&sessions_bin(), &["fastcgi"], &env)
}

/// One request on its own connection; its status, or why there was none within `bound`.
fn ask(
    addr: SocketAddr,
    method: &str,
    target: &str,
    cookie: Option<&str>,
    bound: Duration,
) -> Result<(u16, Option<String>), String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(bound)).unwrap();
    let mut client = Client::Tcp(stream);
    let (params, body) = sessions::fcgi_request(method, target, cookie);
    client
        .send(&fcgi_client::request_bytes(
            1,
            false,
            &as_refs(&params),
            body,
        ))
        .map_err(|e| format!("send: {e}"))?;
    let reply = client
        .read_reply(1)
        .map_err(|e| format!("{method} {target}: no answer within {bound:?}: {e}"))?;
    let lines = reply.header_lines();
    let set = sessions::session_cookie(lines.iter().filter_map(|l| l.split_once(": ")));
    Ok((reply.status(), set))
}

#[test]
fn a_refused_memcached_answers_503_at_once() {
    let fx = Fixture::new(Kind::Cookie);
    // Nothing listens on this port: every connection is refused.
    let port = e2e::free_port(e2e::localhost());
    let store = format!("memcached://127.0.0.1:{port}");
    // A bound of 20 s: a client that waited for it (or retried until it) would miss the
    // 10 s this test allows per answer.
    let server = serve(
        &fx,
        &[
            ("PYCNIC_SESSION_STORE", &store),
            ("PYCNIC_SESSION_TIMEOUT_MS", "20000"),
        ],
    );
    let addr = server.addr.unwrap();
    for n in 0..6 {
        let answer = ask(addr, "POST", "/login", None, Duration::from_secs(10));
        assert_eq!(
            answer.as_ref().map(|a| a.0),
            Ok(503),
            "login {n}: {answer:?}\n{}",
            server.stderr()
        );
    }
    // The failures are logged, but not one line each.
    let lines = server.stderr().matches("session store memcached").count();
    assert!(
        lines < 6,
        "{lines} failure lines for 6 failures:\n{}",
        server.stderr()
    );
}

#[test]
fn a_frozen_redis_answers_503_within_the_bound() {
    let fx = Fixture::new(Kind::Redis);
    let server = serve(&fx, &[("PYCNIC_SESSION_TIMEOUT_MS", "2000")]);
    let addr = server.addr.unwrap();
    let bound = Duration::from_millis(3800);
    let (status, cookie) = ask(addr, "POST", "/login", None, bound).unwrap();
    assert_eq!(status, 200, "{}", server.stderr());
    let cookie = cookie.expect("a session cookie");
    let redis = &fx.server.as_ref().unwrap().proc;
    redis.signal(libc::SIGSTOP);
    // Before: 5 s per request against a 2 s bound (a retry on a new connection, each with the
    // whole bound); the wait allowed here is under twice the bound.
    let answer = ask(addr, "GET", "/me", Some(&cookie), bound);
    redis.signal(libc::SIGCONT);
    assert_eq!(answer.map(|a| a.0), Ok(503), "{}", server.stderr());
}

/// A `sqlite3` process holding `BEGIN EXCLUSIVE` on `path` until dropped.
struct Locker(std::process::Child);

impl Locker {
    fn lock(path: &std::path::Path) -> Locker {
        let mut child = Command::new(e2e::require("sqlite3"))
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.as_mut().unwrap();
        stdin
            .write_all(
                b"BEGIN EXCLUSIVE;\nDELETE FROM pycnic_sessions WHERE 0;\nSELECT 'locked';\n",
            )
            .unwrap();
        stdin.flush().unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0u8; 7];
        std::io::Read::read_exact(&mut out, &mut buf).unwrap();
        assert_eq!(&buf, b"locked\n");
        Locker(child)
    }
}

impl Drop for Locker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_locked_sqlite_answers_503_within_the_bound_and_other_routes_still_answer() {
    let fx = Fixture::new(Kind::Sqlite);
    let server = serve(&fx, &[("PYCNIC_SESSION_TIMEOUT_MS", "2000")]);
    let addr = server.addr.unwrap();
    let bound = Duration::from_secs(8);
    let (status, cookie) = ask(addr, "POST", "/login", None, bound).unwrap();
    assert_eq!(status, 200, "{}", server.stderr());
    let cookie = cookie.expect("a session cookie");
    let path = fx.store_spec().trim_start_matches("sqlite:").to_string();
    let locker = Locker::lock(std::path::Path::new(&path));
    // 24 session writes at once: before, they queued one after another on an in-process lock,
    // each then waiting the busy timeout, so the last waited 24 × 2 s and every worker was
    // taken. Now each gives up by its own deadline.
    let session_requests: Vec<_> = (0..24)
        .map(|_| {
            let cookie = cookie.clone();
            std::thread::spawn(move || ask(addr, "GET", "/me", Some(&cookie), bound))
        })
        .collect();
    // Meanwhile, a route that never touches the session answers.
    for n in 0..10 {
        let answer = ask(addr, "GET", "/login", None, bound);
        assert_eq!(
            answer.as_ref().map(|a| a.0),
            Ok(200),
            "GET /login {n} during the lock: {answer:?}\n{}",
            server.stderr()
        );
    }
    for (n, request) in session_requests.into_iter().enumerate() {
        let answer = request.join().unwrap();
        assert_eq!(
            answer.as_ref().map(|a| a.0),
            Ok(503),
            "GET /me {n} during the lock: {answer:?}\n{}",
            server.stderr()
        );
    }
    drop(locker);
}

#[test]
fn an_open_breaker_answers_without_contacting_the_store() {
    let fx = Fixture::new(Kind::Cookie);
    // A store that accepts connections and never answers (as a frozen memcached does), and
    // counts the connections it was asked for.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let store = format!("memcached://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(conn);
        }
    });
    let server = serve(
        &fx,
        &[
            ("PYCNIC_SESSION_STORE", &store),
            ("PYCNIC_SESSION_TIMEOUT_MS", "500"),
        ],
    );
    let addr = server.addr.unwrap();
    let requests = 40;
    for n in 0..requests {
        let answer = ask(addr, "POST", "/login", None, Duration::from_secs(10));
        assert_eq!(
            answer.as_ref().map(|a| a.0),
            Ok(503),
            "login {n}: {answer:?}\n{}",
            server.stderr()
        );
    }
    // Without a breaker every one of the 40 would have connected (a failed connection is
    // dropped); with it, three failures open it and only a probe per back-off goes through.
    let connections = accepted.load(Ordering::SeqCst);
    assert!(
        connections < requests / 2,
        "{connections} connections for {requests} requests: the breaker did not open\n{}",
        server.stderr()
    );
}

#[test]
fn a_session_too_large_for_memcached_is_a_413_and_the_session_stays() {
    let fx = Fixture::new(Kind::Memcached);
    let cookie = fx.login();
    assert_eq!(fx.cgi("GET", "/me", Some(&cookie), "").status, 200);
    // memcached keeps items of up to 1 MiB by default.
    let big = format!(r#"{{"value":"{}"}}"#, "x".repeat(1100 * 1024));
    let resp = fx.cgi("PUT", "/note/big", Some(&cookie), &big);
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert!(resp.text().contains("Session too large"), "{}", resp.text());
    // Nothing was written, and the session lives on as it was.
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json("GET /me")["visits"], 2);
    assert_eq!(fx.cgi("GET", "/note/big", Some(&cookie), "").status, 404);
    // A note that fits is kept.
    let small = r#"{"value":"fits"}"#;
    assert_eq!(
        fx.cgi("PUT", "/note/small", Some(&cookie), small).status,
        200
    );
}
