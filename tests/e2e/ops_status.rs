//! The status and ping pages through a real nginx in front of the
//! showcase, with conf/nginx/pycnic-tcp.conf's `location = /status` and `location = /ping`:
//! counts exact after a known mix of answers, the JSON and the Prometheus text agree, the
//! page answers while every worker is busy and shows them busy with the queue behind them,
//! a 503 after --queue-wait is counted once; ping through nginx, which lets only localhost
//! reach both pages; both under one-shot CGI.
//!
//! How the pages count themselves: every answer the server sends counts, status and ping
//! pages included, but a status page is framed after it is read, so it never counts itself.

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::e2e::*;
use serde_json::Value;

/// The showcase as conf/systemd/pycnic-tcp.service starts it, plus `extra` options and `env`
/// variables, behind conf/nginx/pycnic-tcp.conf.
fn nginx_showcase(tag: &str, extra: &[&str], env: &[(&str, &str)]) -> Deployment {
    showcase_behind_nginx(
        tag,
        Backend {
            extra,
            env,
            ..Backend::default()
        },
    )
}

const PAGES: [&str; 4] = ["--status-path", "/status", "--ping-path", "/ping"];

fn status_json(addr: SocketAddr) -> Value {
    let resp = send(addr, &Req::get("/status"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    resp.json()
}

/// Parses Prometheus text: every sample line's family has HELP and TYPE lines before it,
/// names are valid, counters end in `_total`. Returns the samples by `name{labels}`.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let valid_name = |name: &str| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut helped = HashSet::new();
    let mut typed = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(helped.insert(name.to_string()), "two HELP lines for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "summary"].contains(&kind),
                "type of {line}"
            );
            assert!(typed.insert(name.to_string(), kind.to_string()).is_none());
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').unwrap();
            let name = series.split('{').next().unwrap();
            assert!(valid_name(name), "metric name {name:?}");
            let family = ["_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains_key(*f)))
                .unwrap_or(name);
            assert!(helped.contains(family), "no HELP before {line}");
            let kind = typed
                .get(family)
                .unwrap_or_else(|| panic!("no TYPE before {line}"));
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} without _total");
            }
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}'));
                for pair in inner
                    .unwrap_or_else(|| panic!("labels of {line}"))
                    .split(',')
                {
                    let (label, quoted) = pair.split_once('=').unwrap();
                    assert!(valid_name(label), "label {label:?} in {line}");
                    assert!(quoted.starts_with('"') && quoted.ends_with('"'), "{line}");
                }
            }
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "{line}"
            );
        }
    }
    samples
}

fn n(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

#[test]
fn counts_are_exact_after_a_known_mix_and_both_formats_agree() {
    let deployment = nginx_showcase(
        "ops-status-mix",
        // The default pool: whichever worker answers the page, its counts are the pool's.
        &[&PAGES[..], &["--max-body", "1k"]].concat(),
        &[],
    );
    deployment.check(|addr| {
        let ping = send(addr, &Req::get("/ping"));
        assert_eq!((ping.status, ping.text().as_str()), (200, "pong"));
        let mut conn = Conn::open(addr);
        let mut sent = |req: Req, want: u16, times: usize| {
            for _ in 0..times {
                let resp = conn.request(&req);
                assert_eq!(resp.status, want, "{} {:?}", req.method, req.target);
            }
        };
        sent(Req::get("/hello/world"), 200, 7);
        sent(Req::get("/nothing-here"), 404, 3);
        sent(Req::get("/admin"), 403, 2);
        sent(Req::new("POST", "/echo").json(vec![b'x'; 4096]), 413, 1);

        let json = status_json(addr);
        println!("status JSON:\n{json:#}");
        // 1 ping + 7 x 200; 3 x 404 + 2 x 403 + 1 x 413; this page not yet.
        assert_eq!(json["requests"]["total"], 14);
        assert_eq!(json["requests"]["2xx"], 8);
        assert_eq!(json["requests"]["4xx"], 6);
        for class in ["1xx", "3xx", "5xx"] {
            assert_eq!(json["requests"][class], 0, "{class}");
        }
        assert_eq!(json["answers"]["413"], 1);
        for code in ["503", "431", "504"] {
            assert_eq!(json["answers"][code], 0, "{code}");
        }
        assert_eq!(json["slow_requests"], 0);
        assert_eq!(json["request_time_seconds"]["count"], 14);
        assert_eq!(json["request_time_seconds"]["window_count"], 14);
        assert!(n(&json["connections"]["accepted"]) >= 1.0);
        assert!(n(&json["connections"]["writing"]) >= 1.0, "this page's own");
        assert_eq!(json["connections"]["in_handler"], 0);
        assert_eq!(json["workers"]["busy"], 0);
        assert_eq!(json["queue"]["now"], 0);
        assert!(n(&json["resident_memory_bytes"]) > 0.0);
        assert!(n(&json["uptime_seconds"]) > 0.0);
        assert!(!json["version"].as_str().unwrap().is_empty());

        let prom = send(addr, &Req::get("/status?format=prometheus"));
        assert_eq!(prom.status, 200);
        assert_eq!(
            prom.header("Content-Type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert_eq!(prom.header("Cache-Control"), Some("no-store"));
        println!("status, Prometheus:\n{}", prom.text());
        let samples = parse_prometheus(&prom.text());
        let get = |series: &str| {
            *samples
                .get(series)
                .unwrap_or_else(|| panic!("no sample {series}"))
        };
        // The JSON page came between: one 2xx more, nothing else changed.
        let class = |c: &str| n(&json["requests"][c]) + if c == "2xx" { 1.0 } else { 0.0 };
        for c in ["1xx", "2xx", "3xx", "4xx", "5xx"] {
            assert_eq!(
                get(&format!("pycnic_requests_total{{class=\"{c}\"}}")),
                class(c)
            );
        }
        for code in ["503", "413", "431", "504"] {
            let series = format!("pycnic_answers_by_code_total{{code=\"{code}\"}}");
            assert_eq!(get(&series), n(&json["answers"][code]), "{code}");
        }
        assert_eq!(get("pycnic_slow_requests_total"), n(&json["slow_requests"]));
        assert_eq!(
            get("pycnic_request_duration_seconds_count"),
            n(&json["request_time_seconds"]["count"]) + 1.0
        );
        // serde_json's float parsing may land one ulp away from Rust's: compare to the µs.
        let start = get("process_start_time_seconds");
        assert!(
            (start - n(&json["start_time_seconds"])).abs() < 1e-6,
            "{start}"
        );
        assert_eq!(get("pycnic_queue_length"), n(&json["queue"]["now"]));
        assert_eq!(get("pycnic_queue_length_max"), n(&json["queue"]["peak"]));
        assert_eq!(
            get("pycnic_workers{state=\"busy\"}"),
            n(&json["workers"]["busy"])
        );
        assert_eq!(
            get("pycnic_workers{state=\"idle\"}"),
            n(&json["workers"]["idle"])
        );
        assert!(get("pycnic_connections_accepted_total") >= n(&json["connections"]["accepted"]));
        for q in ["0.5", "0.9", "0.99"] {
            get(&format!(
                "pycnic_request_duration_seconds{{quantile=\"{q}\"}}"
            ));
        }
        get("process_resident_memory_bytes");
        let version = json["version"].as_str().unwrap();
        assert!(
            samples
                .keys()
                .any(|k| { k.starts_with(&format!("pycnic_build_info{{version=\"{version}\"")) })
        );

        // Prometheus' own Accept header asks for the text format too.
        let scrape = send(
            addr,
            &Req::get("/status").header(
                "Accept",
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            ),
        );
        assert!(
            scrape
                .text()
                .contains("# TYPE pycnic_requests_total counter")
        );
    });
}

#[test]
fn the_status_page_answers_while_every_worker_is_busy_and_shows_the_queue() {
    let deployment = nginx_showcase(
        "ops-status-busy",
        // The default pool of 2 workers, one handler each: the page adds up both. nginx may
        // send two of the slow requests over kept-alive connections to one worker (no new
        // connection for that worker to leave to its peer): --queue-wait 10 lets the second
        // one queued there wait its 6 s.
        &[&PAGES[..], &["--workers", "1", "--queue-wait", "10"]].concat(),
        &[],
    );
    deployment.check(|addr| {
        let started = Instant::now();
        let slow: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(move || send(addr, &Req::get("/slow?ms=3000")).status))
            .collect();
        // Bounded: the first two handlers sleep 3 s; the queue of two is there until then.
        let deadline = started + Duration::from_secs(3);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            last = status_json(addr);
            // Both handlers started and two requests waiting (a page read before the threads
            // took their jobs shows four queued and both workers still idle; the other
            // worker's connection states are as of its last sweep).
            if last["queue"]["now"] == 2
                && last["workers"]["busy"] == 2
                && last["connections"]["queued"] == 2
                && n(&last["connections"]["in_handler"]) >= 2.0
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let json = last;
        assert_eq!(
            json["queue"]["now"],
            2,
            "no page with both workers busy and two requests queued in 3 s ({:?}); the last:\n{json:#}",
            started.elapsed()
        );
        println!("status with both workers busy:\n{json:#}");
        assert_eq!(json["workers"]["busy"], 2);
        assert_eq!(json["workers"]["idle"], 0);
        assert_eq!(json["workers"]["total"], 2);
        // The longest queue one worker saw (each has one handler, so at least one request
        // waited behind it on one of them).
        assert!(n(&json["queue"]["peak"]) >= 1.0);
        assert!(n(&json["connections"]["in_handler"]) >= 2.0);
        assert_eq!(json["connections"]["queued"], 2);
        let statuses: Vec<u16> = slow.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(statuses, [200; 4]);
        // A handler's thread sends its answer before it gives its slot back: the page shows
        // every slot free moments after the last answer (bounded wait).
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut after = status_json(addr);
        while after["workers"]["busy"] != 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            after = status_json(addr);
        }
        assert_eq!(after["workers"]["busy"], 0, "{after:#}");
        assert_eq!(after["queue"]["now"], 0);
        assert!(n(&after["queue"]["peak"]) >= 1.0);
        assert!(n(&after["requests"]["2xx"]) >= 4.0);
    });
}

#[test]
fn a_503_after_queue_wait_is_counted_once() {
    // One process with one handler: a pool would answer the second request on its other
    // worker, not with a 503.
    let extra = [
        &PAGES[..],
        &["--processes", "1", "--workers", "1", "--queue-wait", "0.3"],
    ]
    .concat();
    let deployment = nginx_showcase("ops-status-503", &extra, &[]);
    deployment.check(|addr| {
        let slow = std::thread::spawn(move || send(addr, &Req::get("/slow?ms=3000")).status);
        let deadline = Instant::now() + Duration::from_secs(2);
        while status_json(addr)["workers"]["busy"] != 1 {
            assert!(Instant::now() < deadline, "the slow request never ran");
            std::thread::sleep(Duration::from_millis(20));
        }
        let busy = send(addr, &Req::get("/hello/world"));
        assert_eq!(busy.status, 503, "{}", busy.text());
        assert_eq!(slow.join().unwrap(), 200);
        let json = status_json(addr);
        assert_eq!(json["answers"]["503"], 1);
        assert_eq!(json["requests"]["5xx"], 1);
        assert!(n(&json["queue"]["peak"]) >= 1.0);
    });
}

/// The HTTP status curl gets for `path` when its connection comes from `source`.
fn status_from(source: &str, addr: SocketAddr, path: &str) -> String {
    let out = Command::new(require("curl"))
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(["--interface", source, &format!("http://{addr}{path}")])
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ping_through_nginx_from_localhost_only() {
    // Configured by the environment alone, as a unit's `Environment=` line would.
    let deployment = nginx_showcase("ops-ping", &[], &[("PYCNIC_PING_PATH", "/ping")]);
    deployment.check(|addr| {
        let ping = send(addr, &Req::get("/ping"));
        assert_eq!(ping.status, 200);
        assert_eq!(ping.text(), "pong");
        assert_eq!(
            ping.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(ping.header("Cache-Control"), Some("no-store"));
        let head = send(addr, &Req::new("HEAD", "/ping"));
        assert_eq!((head.status, head.body.len()), (200, 0));
        let post = send(addr, &Req::new("POST", "/ping").body("x"));
        assert_eq!(post.status, 405);
        assert_eq!(post.header("Allow"), Some("GET, HEAD"));
        // No --status-path: the path is the app's (the showcase has no such route).
        assert_eq!(send(addr, &Req::get("/status")).status, 404);
        // conf/nginx's `allow 127.0.0.1; allow ::1; deny all;`: another loopback address is
        // another machine to nginx; the app's own routes stay open to it.
        assert_eq!(status_from("127.0.0.1", addr, "/ping"), "200");
        assert_eq!(status_from("127.0.0.2", addr, "/ping"), "403");
        assert_eq!(status_from("127.0.0.2", addr, "/status"), "403");
        assert_eq!(status_from("127.0.0.2", addr, "/hello/world"), "200");
    });
}

#[test]
fn the_localhost_only_pages_have_no_other_path_through_nginx() {
    // nginx picks the location from the normalized path, the app routes REQUEST_URI as sent:
    // a target with `://` inside its path once routed to the path after it ("absolute
    // form"), so `/x/a://b/status` went through nginx's open `location /` to the status page.
    let deployment = nginx_showcase(
        "ops-bypass",
        &["--status-path", "/status", "--ping-path", "/ping"],
        &[],
    );
    deployment.check(|addr| {
        assert_eq!(status_from("127.0.0.2", addr, "/status"), "403");
        for path in [
            "/x/a://b/status",
            "/a://b/ping",
            "/hello/x://y/status?format=prometheus",
        ] {
            assert_eq!(status_from("127.0.0.2", addr, path), "404", "{path}");
        }
        // The app's own routes stay open to it.
        assert_eq!(status_from("127.0.0.2", addr, "/hello/world"), "200");
    });
}

/// The showcase run as one-shot CGI, its environment cleared but for `env`.
fn cgi(env: &[(&str, &str)]) -> String {
    let mut command = Command::new(App::Showcase.binary());
    command.env_clear().envs([
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_METHOD", "GET"),
    ]);
    command.envs(env.iter().copied());
    let out = command.output().expect("run the showcase as CGI");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ping_and_status_under_one_shot_cgi() {
    let pages = [
        ("PYCNIC_PING_PATH", "/ping"),
        ("PYCNIC_STATUS_PATH", "/status"),
    ];
    let ping = cgi(&[&pages[..], &[("REQUEST_URI", "/ping")]].concat());
    assert!(ping.starts_with("Status: 200 OK\r\n"), "{ping}");
    assert!(ping.contains("Cache-Control: no-store\r\n"), "{ping}");
    assert!(ping.ends_with("\r\n\r\npong"), "{ping}");

    let status = cgi(&[&pages[..], &[("REQUEST_URI", "/status")]].concat());
    assert!(status.starts_with("Status: 501 "), "{status}");
    assert!(status.contains("Cache-Control: no-store\r\n"), "{status}");
    let body = status.split_once("\r\n\r\n").unwrap().1;
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["status_code"], 501);
    assert!(body["error"].as_str().unwrap().contains("CGI"), "{body}");

    // Off by default: the app's routes answer.
    let off = cgi(&[("REQUEST_URI", "/ping")]);
    assert!(off.starts_with("Status: 404 "), "{off}");
}
