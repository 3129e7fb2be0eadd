//! Load, limits and faults against the real binary: malformed input closes only its own
//! connection, idle and stalled connections never starve new requests, busy workers give a
//! real 503, accept errors are survived, SIGTERM drains requests in flight, the allow-list.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::{Arc, Barrier};

use crate::fcgi_client::*;
use crate::load::serial;
use serde_json::json;

/// A request half sent (BEGIN and part of its params) on a connection of its own.
fn half_sent(server: &Server) -> Client {
    let mut client = server.connect();
    client
        .send(&begin(1, RESPONDER, KEEP_CONN))
        .expect("half-sent request");
    let params = http_params("GET", "/login");
    client
        .send(&record(PARAMS, 1, &pairs(&as_refs(&params))))
        .expect("half-sent request");
    client
}

/// Finishes what `half_sent` began.
fn finish_half_sent(client: &mut Client) -> Reply {
    client
        .send(&record(PARAMS, 1, b""))
        .expect("half-sent request");
    client
        .send(&stream(STDIN, 1, b"", 1))
        .expect("half-sent request");
    client.read_reply(1).expect("half-sent request")
}

#[test]
fn malformed_input_closes_only_that_connection() {
    let _serial = serial();
    // Params over the limits are not malformed: they get a 431 (fastcgi_protocol.rs).
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let good_begin = begin(1, RESPONDER, KEEP_CONN);
    let mut oversized_begin = record(BEGIN_REQUEST, 1, &[0, 1, 0, 0, 0, 0, 0, 0, 0]);
    oversized_begin.truncate(17);
    let overrun = [
        good_begin.clone(),
        record(PARAMS, 1, &[0x7f, 0x01, b'a']),
        record(PARAMS, 1, b""),
    ]
    .concat();
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "wrong version",
            vec![2, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
            false,
        ),
        ("version 0", vec![0; 16], false),
        ("record type 0", record(0, 1, b"x"), false),
        (
            "short begin_request",
            record(BEGIN_REQUEST, 1, &[0, 1, 1]),
            false,
        ),
        ("oversized begin_request", oversized_begin, false),
        ("pair length overruns its params", overrun, false),
        (
            "stdout sent to the application",
            record(STDOUT, 1, b"hi"),
            false,
        ),
        (
            "eof in the middle of a header",
            good_begin[..5].to_vec(),
            true,
        ),
        (
            "eof in the middle of a record",
            [
                good_begin.clone(),
                record(PARAMS, 1, b"abcdef")[..10].to_vec(),
            ]
            .concat(),
            true,
        ),
        ("eof inside a request", good_begin.clone(), true),
    ];
    for (case, bytes, half_close) in cases {
        let mut bystander = half_sent(&server);
        let mut bad = server.connect();
        bad.send(&bytes).unwrap();
        if half_close {
            bad.shutdown_write();
        }
        assert!(
            bad.closed_by_server(),
            "{case}: the bad connection is closed"
        );
        assert_eq!(
            finish_half_sent(&mut bystander).status(),
            200,
            "{case}: other connection unaffected"
        );
        assert_eq!(
            server.connect().get("/login").status(),
            200,
            "{case}: next connection answered"
        );
    }
    assert!(
        server.stderr().contains("dropped connection"),
        "warnings logged: {}",
        server.stderr()
    );
}

#[test]
fn idle_kept_alive_connections_beyond_the_workers_do_not_starve_new_ones() {
    let _serial = serial();
    let server = Server::fastcgi(&pycnic_bin(), &["--workers", "2"]);
    let mut idle: Vec<Client> = (0..12).map(|_| server.connect()).collect();
    for client in &mut idle {
        assert_eq!(client.get("/login").status(), 200, "warm-up request");
    }
    // Twelve idle kept-alive connections, two workers: a new one is still answered.
    assert_eq!(
        server.connect().get("/login").status(),
        200,
        "new connection"
    );
    for client in idle.iter_mut().rev() {
        assert_eq!(
            client.get("/login").status(),
            200,
            "idle connections still served"
        );
    }
}

#[test]
fn stalled_connections_cost_no_worker_and_are_timed_out() {
    let _serial = serial();
    let server = Server::fastcgi(&pycnic_bin(), &["--workers", "1", "--header-timeout", "1"]);
    let mut stalled: Vec<Client> = (0..20)
        .map(|_| {
            let mut client = server.connect();
            client.send(&begin(1, RESPONDER, KEEP_CONN)).unwrap();
            client
        })
        .collect();
    assert_eq!(
        server.connect().get("/login").status(),
        200,
        "answered despite 20 stalled connections"
    );
    for client in &mut stalled {
        assert!(client.closed_by_server(), "stalled connection timed out");
    }
    assert!(
        server.wait_for_log("header-read timeout"),
        "{}",
        server.stderr()
    );
}

#[test]
fn busy_workers_past_the_queue_wait_give_a_real_503() {
    let _serial = serial();
    let server = Server::fastcgi(&showcase_bin(), &["--workers", "1", "--queue-wait", "0.2"]);
    let mut slow = server.connect();
    let params = http_params("GET", "/slow?ms=4000");
    slow.send(&request_bytes(1, true, &as_refs(&params), b""))
        .unwrap();
    // Until the slow request holds the only worker a quick one may still be served; retry
    // (bounded) until one waits past the queue-wait time.
    let mut busy = None;
    for _ in 0..50 {
        let reply = server.connect().get("/echo");
        if reply.status() == 503 {
            busy = Some(reply);
            break;
        }
    }
    let busy = busy.expect("a 503 while the only worker is busy");
    assert_eq!(busy.json()["status_code"], json!(503), "Pycnic error body");
    assert_eq!(
        busy.end,
        Some((0, 0)),
        "a complete FastCGI answer, not a reset"
    );
    assert_eq!(
        slow.read_reply(1).unwrap().json(),
        json!({"slept": 4000}),
        "the slow one finishes"
    );
}

#[test]
fn sigterm_finishes_every_request_in_flight_and_exits_0() {
    let _serial = serial();
    let mut server = Server::fastcgi(&showcase_bin(), &["--workers", "2"]);
    let addr = server.addr.unwrap();
    let sent = Arc::new(Barrier::new(7));
    let clients: Vec<_> = (0..6)
        .map(|n| {
            let sent = Arc::clone(&sent);
            std::thread::spawn(move || {
                let mut client = Client::tcp(addr);
                let params = http_params("GET", &format!("/slow?ms={}", 300 + n * 50));
                client
                    .send(&request_bytes(1, true, &as_refs(&params), b""))
                    .unwrap();
                sent.wait();
                client.read_reply(1).map(|reply| reply.status())
            })
        })
        .collect();
    let mut idle = server.connect();
    assert_eq!(idle.get("/echo").status(), 200);
    sent.wait();
    server.signal(SIGTERM);
    for client in clients {
        assert_eq!(
            client.join().unwrap().unwrap(),
            200,
            "request in flight answered"
        );
    }
    assert!(
        idle.closed_by_server(),
        "idle connection closed on shutdown"
    );
    let status = server.wait_exit().expect("the server exits");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}

#[test]
fn sigint_stops_an_idle_server_with_status_0() {
    let _serial = serial();
    let mut server = Server::fastcgi(&pycnic_bin(), &[]);
    assert_eq!(server.connect().get("/login").status(), 200);
    server.signal(SIGINT);
    assert_eq!(server.wait_exit().expect("exits").code(), Some(0));
}

#[test]
fn a_web_server_that_goes_away_mid_response_does_not_hurt_the_process() {
    let _serial = serial();
    let server = Server::fastcgi(&showcase_bin(), &[]);
    for _ in 0..5 {
        let mut gone = server.connect();
        let params = http_params("POST", "/echo");
        let mut params = as_refs(&params);
        params.push((b"CONTENT_LENGTH", b"600000"));
        gone.send(&request_bytes(1, false, &params, &[b'q'; 600_000]))
            .unwrap();
        drop(gone); // EPIPE / ECONNRESET on the server's side, never SIGPIPE
    }
    assert_eq!(server.connect().get("/echo").status(), 200);
}

#[test]
fn allow_list_refuses_other_addresses_and_matches_v4_mapped() {
    let _serial = serial();
    let refused = Server::on_fd0(
        &pycnic_bin(),
        &["fastcgi"],
        &[("FCGI_WEB_SERVER_ADDRS", "10.1.2.3, ::1")],
    );
    let mut client = refused.connect();
    let _ = client.send(&request_bytes(
        1,
        true,
        &as_refs(&http_params("GET", "/login")),
        b"",
    ));
    assert!(client.closed_by_server(), "127.0.0.1 is not on the list");
    assert!(
        refused.wait_for_log("not in FCGI_WEB_SERVER_ADDRS"),
        "{}",
        refused.stderr()
    );

    let mapped = Server::on_fd0(
        &pycnic_bin(),
        &["fastcgi"],
        &[("FCGI_WEB_SERVER_ADDRS", "10.1.2.3,::ffff:127.0.0.1")],
    );
    assert_eq!(
        mapped.connect().get("/login").status(),
        200,
        "v4-mapped entry matches 127.0.0.1"
    );
}

#[test]
fn at_max_connections_the_oldest_idle_connection_makes_room() {
    let _serial = serial();
    let server = Server::fastcgi(&pycnic_bin(), &["--max-connections", "4"]);
    let mut idle: Vec<Client> = (0..4).map(|_| server.connect()).collect();
    for client in &mut idle {
        assert_eq!(client.get("/login").status(), 200);
    }
    // A GET_VALUES answer proves the event loop holds each connection again (idle), and
    // touches them in order: idle[0] is the one unused longest.
    let query = pairs(&[(b"FCGI_MPXS_CONNS", b"")]);
    for client in &mut idle {
        client.send(&record(GET_VALUES, 0, &query)).unwrap();
        assert!(client.read_record().unwrap().is_some());
    }
    assert_eq!(
        server.connect().get("/login").status(),
        200,
        "a fifth connection is served"
    );
    assert!(idle[0].closed_by_server(), "the oldest idle one was closed");
}

/// A hard descriptor limit far below --max-connections: the server caps its connections
/// below it (and says so) instead of failing accept(2) ten times a second; connections past
/// the cap wait in the backlog and are served once the crowd leaves.
#[test]
fn a_low_descriptor_limit_caps_connections_and_serves_again() {
    let _serial = serial();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = TempDir::new("emfile");
    let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let mut command = std::process::Command::new(pycnic_bin());
    command
        .args(["fastcgi", "--workers", "1"])
        .env("RUST_LOG", "info");
    command.stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)));
    command.stdout(Stdio::null()).stderr(log);
    // SAFETY: setrlimit is async-signal-safe; it only lowers the child's own fd limit.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 24,
                rlim_max: 24,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        });
    }
    let server = Server {
        child: Some(command.spawn().unwrap()),
        addr: Some(addr),
        dir,
    };
    let mut crowd: Vec<Client> = Vec::new();
    for _ in 0..40 {
        crowd.push(Client::tcp(addr));
    }
    assert!(
        server.wait_for_log("RLIMIT_NOFILE 24"),
        "{}",
        server.stderr()
    );
    drop(crowd);
    assert!(
        wait_until(|| {
            let mut client = Client::tcp(addr);
            let params = http_params("GET", "/login");
            client
                .send(&request_bytes(1, false, &as_refs(&params), b""))
                .is_ok()
                && client
                    .read_reply(1)
                    .is_ok_and(|reply| reply.status() == 200)
        }),
        "served again once descriptors are free: {}",
        server.stderr()
    );
}
