//! nginx in front of `pycnic fastcgi`, as conf/nginx/ says: over TCP with the app run as
//! conf/systemd/pycnic-tcp.service runs it, and over a unix socket with the app socket-activated
//! as conf/systemd/pycnic.socket + pycnic.service say; both with the stock `fastcgi_params`
//! (no PATH_INFO) and kept-alive upstream connections. Each runs the seed table, the body limit
//! and the showcase cases; one run measures sequential latency on kept-alive connections.

use std::time::{Duration, Instant};

use crate::e2e::*;

/// conf/nginx/pycnic-tcp.conf in front of the app as pycnic-tcp.service starts it.
fn nginx_tcp(app: App) -> Deployment {
    let prefix = Prefix::new("nginx-tcp");
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let backend = (localhost(), free_port(localhost())).into();
    let pycnic = start_tcp_service(&prefix, "pycnic", &bin, backend);
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
    Deployment {
        procs: vec![nginx, pycnic],
        addr: (localhost(), port).into(),
        prefix,
    }
}

/// conf/nginx/pycnic-unix.conf in front of the socket-activated app.
fn nginx_unix(app: App) -> Deployment {
    let prefix = Prefix::new("nginx-unix");
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let socket = prefix.join("pycnic.sock");
    let pycnic = start_socket_activated(&prefix, &bin, &socket);
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("nginx/pycnic-unix.conf"),
        "site.conf",
        &[("SOCKET", text(&socket)), ("PORT", &port.to_string())],
    );
    let nginx = start_nginx(&prefix, &site, port);
    Deployment {
        procs: vec![nginx, pycnic],
        addr: (localhost(), port).into(),
        prefix,
    }
}

#[test]
fn tcp_upstream_with_kept_alive_connections_serves_every_case() {
    every_case("nginx fastcgi over TCP", nginx_tcp);
}

#[test]
fn unix_socket_upstream_from_socket_activation_serves_every_case() {
    every_case(
        "nginx fastcgi over a unix socket (socket-activated)",
        nginx_unix,
    );
}

/// The classic trap: small writes on a kept-alive TCP connection without TCP_NODELAY stall
/// each request ~40 ms (Nagle + delayed ACK). The median is printed, not asserted; what is
/// asserted is structural: nginx reused its upstream connection instead of opening one per
/// request (no TIME-WAIT connections to the backend pile up).
#[test]
fn kept_alive_upstream_connections_are_reused_without_a_per_request_stall() {
    const REQUESTS: usize = 300;
    let deployment = nginx_tcp(App::Seed);
    let backend = {
        let text = std::fs::read_to_string(deployment.prefix.join("site.conf")).unwrap();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("server 127."))
            .expect("the upstream's server line");
        let addr = line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .trim_end_matches(';');
        addr.parse().unwrap()
    };
    deployment.check(|addr| {
        let (_, time_wait_before) = tcp_states(backend);
        let mut conn = Conn::open(addr);
        let request = Req::get("/login").cookie("session_id=abc");
        let mut samples = Vec::with_capacity(REQUESTS);
        for i in 0..REQUESTS {
            let started = Instant::now();
            let resp = conn.request(&request);
            samples.push(started.elapsed());
            assert_eq!(resp.status, 200, "request {i}: {}", resp.text());
        }
        let (established, time_wait_after) = tcp_states(backend);
        let closed = time_wait_after.saturating_sub(time_wait_before);
        let p90 = {
            let mut sorted = samples.clone();
            sorted.sort();
            sorted[sorted.len() * 9 / 10]
        };
        let max = samples.iter().max().copied().unwrap_or(Duration::ZERO);
        let median = median(&mut samples);
        println!(
            "nginx -> pycnic over kept-alive TCP, {REQUESTS} sequential requests: median {:.3} ms, \
             p90 {:.3} ms, max {:.3} ms; upstream connections open {established}, closed {closed}",
            median.as_secs_f64() * 1e3,
            p90.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
        );
        assert!(
            established >= 1,
            "nginx keeps its upstream connection open after the run"
        );
        assert!(
            closed < REQUESTS / 10,
            "nginx reuses upstream connections: {closed} closed for {REQUESTS} requests"
        );
    });
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let prefix = Prefix::new("systemd-verify");
    let bin = prefix.install_binary(&pycnic_bin(), "pycnic");
    let web = web_user();
    let units = [
        prefix.render(
            &conf("systemd/pycnic.socket"),
            "pycnic.socket",
            &[
                ("SOCKET", "/run/pycnic/pycnic.sock"),
                ("WEB_GROUP", &web.group),
            ],
        ),
        prefix.render(
            &conf("systemd/pycnic.service"),
            "pycnic.service",
            &[("BIN", text(&bin))],
        ),
        prefix.render(
            &conf("systemd/pycnic-tcp.service"),
            "pycnic-tcp.service",
            &[
                ("BIN", text(&bin)),
                ("BACKEND", "127.0.0.1:9000"),
                ("WEB_SERVER_ADDRS", "127.0.0.1"),
            ],
        ),
    ];
    let paths: Vec<&std::path::Path> = units.iter().map(|p| p.as_path()).collect();
    verify_units(&paths);
}

/// conf/systemd/pycnic-tcp.service runs a master over 2 worker processes.
#[test]
fn the_tcp_unit_runs_the_app_as_a_master_over_two_workers() {
    let deployment = nginx_tcp(App::Seed);
    deployment.check(|addr| {
        assert_eq!(send(addr, &Req::get("/login")).status, 200);
        let pid = deployment.proc("pycnic").pid();
        wait_for_shape(
            "pycnic-tcp.service",
            pid,
            "pycnic",
            &[2],
            &deployment.prefix,
        );
    });
}

/// conf/systemd/pycnic.socket + pycnic.service: the app systemd starts on the first
/// connection is a master over 2 worker processes.
#[test]
fn the_socket_activated_unit_runs_the_app_as_a_master_over_two_workers() {
    let deployment = nginx_unix(App::Seed);
    deployment.check(|addr| {
        assert_eq!(send(addr, &Req::get("/login")).status, 200);
        let pid = deployment.proc("pycnic").pid();
        wait_for_shape("pycnic.service", pid, "pycnic", &[2], &deployment.prefix);
    });
}
