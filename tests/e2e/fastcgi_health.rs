//! Honest health against the real binary over FastCGI (issue 18, item 7): `--ping-path`
//! answers 503 while no handler can run (every worker slot held by a handler stuck past
//! `--request-timeout`, `--max-stuck` reached; or no slot free and requests waited past
//! `--queue-wait`), and 200 `pong` again once one can; the status page shows the stuck
//! handlers. Waits are bounded polls, never timed assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fcgi_client::*;

/// The ping's status on a new connection.
fn ping(server: &Server) -> u16 {
    server.connect().get("/ping").status()
}

/// Starts `target` on a new connection of its own, left to run.
fn start(server: &Server, target: &str) -> Client {
    let mut client = server.connect();
    let params = http_params("GET", target);
    client
        .send(&request_bytes(1, false, &as_refs(&params), b""))
        .unwrap();
    client
}

#[test]
fn past_max_stuck_the_ping_answers_503_and_the_status_page_shows_the_stuck_handlers() {
    let server = Server::fastcgi(
        &showcase_bin(),
        &[
            "--workers",
            "2",
            "--request-timeout",
            "1",
            "--max-stuck",
            "1",
            "--ping-path",
            "/ping",
            "--status-path",
            "/status",
        ],
    );
    assert_eq!(ping(&server), 200, "healthy at start");
    // Three handlers stuck for 12 s: the first is replaced by a new thread (--max-stuck 1),
    // the next two keep both worker slots.
    let mut stuck: Vec<Client> = (0..3).map(|_| start(&server, "/slow?ms=12000")).collect();
    assert!(
        wait_until(|| ping(&server) == 503),
        "the ping answers 503 once every slot is held by a stuck handler\n{}",
        server.stderr()
    );
    let reply = server.connect().get("/ping");
    assert!(
        reply.json()["error"].as_str().unwrap().contains("stuck"),
        "the 503 says why, in Pycnic's error shape: {:?}",
        String::from_utf8_lossy(reply.body())
    );
    let status = server.connect().get("/status").json();
    assert_eq!(status["health"]["can_run_handlers"], false, "{status}");
    assert_eq!(status["health"]["handlers_stuck"], 3, "{status}");
    assert_eq!(
        status["health"]["handlers_stuck_holding_slots"], 2,
        "{status}"
    );
    for client in &mut stuck {
        assert_eq!(client.read_reply(1).unwrap().status(), 504);
    }
    assert!(
        wait_until(|| ping(&server) == 200),
        "the ping answers 200 again once the stuck handlers return"
    );
}

#[test]
fn while_requests_wait_past_queue_wait_the_ping_answers_503() {
    let server = Server::fastcgi(
        &showcase_bin(),
        &[
            "--workers",
            "1",
            "--queue-wait",
            "1",
            "--ping-path",
            "/ping",
        ],
    );
    assert_eq!(ping(&server), 200, "healthy at start");
    let mut busy = start(&server, "/slow?ms=8000");
    let mut waiting = start(&server, "/hello/late");
    assert_eq!(
        waiting.read_reply(1).unwrap().status(),
        503,
        "no worker within --queue-wait"
    );
    assert_eq!(
        ping(&server),
        503,
        "the worker is still busy and the queue overdue"
    );
    assert_eq!(busy.read_reply(1).unwrap().status(), 200);
    assert!(
        wait_until(|| ping(&server) == 200),
        "the ping answers 200 again once the worker is free"
    );
}

/// The status page shows the session store's circuit breaker: a refused memcached opens it
/// after a few failed logins, and the page says so (reads and writes apart).
#[test]
fn the_status_page_shows_the_session_store_s_breaker_open_after_failures() {
    use crate::sessions::{Fixture, Kind, LOGIN, sessions_bin};
    let fx = Fixture::new(Kind::Cookie);
    // Nothing listens on this port: every connection is refused.
    let port = crate::e2e::free_port(crate::e2e::localhost());
    let store = format!("memcached://127.0.0.1:{port}");
    let mut env = fx.env();
    env.push(("PYCNIC_SESSION_STORE".into(), store));
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let server = Server::on_fd0(
        &sessions_bin(),
        &["fastcgi", "--status-path", "/status"],
        &env,
    );
    let login = || {
        let mut params = http_params("POST", "/login");
        params.push((b"CONTENT_TYPE".to_vec(), b"application/json".to_vec()));
        params.push((b"CONTENT_LENGTH".to_vec(), LOGIN.len().to_string().into()));
        server
            .connect()
            .request(1, false, &as_refs(&params), LOGIN.as_bytes())
            .status()
    };
    for n in 0..4 {
        assert_eq!(login(), 503, "login {n} with the store refused");
    }
    let status = server.connect().get("/status").json();
    let store = &status["health"]["session_store"];
    assert_eq!(store["store"], "memcached", "{status}");
    let states = [&store["reads"]["state"], &store["writes"]["state"]];
    assert!(
        states.iter().any(|s| **s == "open"),
        "a breaker is open after 4 refused logins: {store}"
    );
    assert!(store["failures_in_a_row"].as_u64().unwrap() >= 3, "{store}");
}
