//! Scale-out as conf/nginx/pycnic-scaleout.conf says: one nginx in front of several backends,
//! each a `pycnic fastcgi` on its own host (127.0.0.2, 127.0.0.3, 127.0.0.4: separate
//! loopback addresses, as separate machines would be), started as
//! conf/systemd/pycnic-tcp.service starts it. Clients keep sending requests while one backend
//! is stopped (SIGTERM, the graceful stop `systemctl stop` sends) and later restarted: no
//! request is lost, and the restarted backend takes traffic again.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::e2e::*;

const CLIENTS: usize = 4;
/// Each client stops after this many requests whatever happens: the run is bounded.
const MAX_REQUESTS_PER_CLIENT: usize = 20_000;

/// What the clients saw, by phase of the run.
#[derive(Default)]
struct Tally {
    /// (phase, backend that answered) for each 200.
    answered: Vec<(usize, String)>,
    /// Requests that did not get a 200: status or error, and the phase.
    lost: Vec<(usize, String)>,
}

fn backend_addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), port)
}

#[test]
fn stopping_a_backend_mid_run_loses_no_request_and_a_restarted_one_takes_traffic_again() {
    let prefix = Prefix::new("scaleout");
    let bin = prefix.install_binary(&showcase_bin(), "pycnic");
    // One port on three hosts, as a cluster of machines would run it.
    let port = free_port(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let backends: Vec<SocketAddr> = (2..=4).map(|host| backend_addr(host, port)).collect();
    let mut procs: Vec<Proc> = backends
        .iter()
        .enumerate()
        .map(|(i, addr)| start_tcp_service(&prefix, &format!("pycnic-{}", i + 1), &bin, *addr))
        .collect();
    let http_port = free_port(localhost());
    let site = prefix.render(
        &conf("nginx/pycnic-scaleout.conf"),
        "site.conf",
        &[
            ("BACKEND_1", &backends[0].to_string()),
            ("BACKEND_2", &backends[1].to_string()),
            ("BACKEND_3", &backends[2].to_string()),
            ("PORT", &http_port.to_string()),
        ],
    );
    let nginx = start_nginx(&prefix, &site, http_port);
    let addr: SocketAddr = (localhost(), http_port).into();

    let phase = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (phase, done, tally) = (phase.clone(), done.clone(), tally.clone());
            std::thread::spawn(move || client(addr, &phase, &done, &tally))
        })
        .collect();
    let count = |tally: &Arc<Mutex<Tally>>| {
        let t = tally.lock().unwrap();
        t.answered.len() + t.lost.len()
    };
    let answered_by = |tally: &Arc<Mutex<Tally>>, in_phase: usize, backend: SocketAddr| {
        let t = tally.lock().unwrap();
        let backend = backend.to_string();
        t.answered
            .iter()
            .filter(|(p, b)| *p == in_phase && *b == backend)
            .count()
    };
    let wait_for = |what: &str, mut ready: Box<dyn FnMut() -> bool + '_>| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "{what} did not happen within 20 s\n{}",
                prefix.logs()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    // Phase 0: all three backends answer, for a while.
    wait_for(
        "every backend answering, 150 requests in all",
        Box::new(|| {
            count(&tally) >= 150 && backends.iter().all(|b| answered_by(&tally, 0, *b) > 0)
        }),
    );
    // Phase 1: backend 2 stops gracefully while requests keep coming.
    phase.store(1, Ordering::SeqCst);
    let stopped = procs[1].stop();
    let in_phase_1 = count(&tally);
    wait_for(
        "200 more requests after the stop",
        Box::new(|| count(&tally) >= in_phase_1 + 200),
    );
    // Phase 2: backend 2 restarts on the same address and must take traffic again.
    phase.store(2, Ordering::SeqCst);
    procs[1] = start_tcp_service(&prefix, "pycnic-2-restarted", &bin, backends[1]);
    wait_for(
        "the restarted backend answering",
        Box::new(|| answered_by(&tally, 2, backends[1]) > 0),
    );
    // Phase 3: back in the rotation, it takes its share of the next 300 requests.
    phase.store(3, Ordering::SeqCst);
    let in_phase_3 = count(&tally);
    wait_for(
        "300 more requests after the restart",
        Box::new(|| count(&tally) >= in_phase_3 + 300),
    );
    done.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }

    let tally = tally.lock().unwrap();
    let per_phase = |p: usize| {
        backends
            .iter()
            .map(|b| {
                let b = b.to_string();
                let n = tally
                    .answered
                    .iter()
                    .filter(|(q, a)| *q == p && *a == b)
                    .count();
                format!("{b}: {n}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "scale-out: {} requests, {} lost; answered by, before the stop [{}]; while stopped [{}]; \
         until the restarted one answered [{}]; after [{}]",
        tally.answered.len() + tally.lost.len(),
        tally.lost.len(),
        per_phase(0),
        per_phase(1),
        per_phase(2),
        per_phase(3),
    );
    assert!(
        stopped.is_some_and(|s| s.success()),
        "backend 2 stops cleanly on SIGTERM: {stopped:?}"
    );
    assert!(
        tally.lost.is_empty(),
        "no client request is lost while a backend stops and restarts: {:?}\n{}",
        &tally.lost[..tally.lost.len().min(10)],
        prefix.logs()
    );
    let restarted_share = tally
        .answered
        .iter()
        .filter(|(p, b)| *p == 3 && *b == backends[1].to_string())
        .count();
    assert!(
        restarted_share >= 30,
        "the restarted backend takes its share again: {restarted_share} of the last 300+"
    );
    drop(nginx);
    drop(procs);
}

/// One client: a kept-alive connection to nginx (reopened if nginx closes it), requests until
/// told to stop, each outcome tallied with the phase it ended in.
fn client(addr: SocketAddr, phase: &AtomicUsize, done: &AtomicBool, tally: &Mutex<Tally>) {
    let request = Req::get("/slow?ms=5");
    let mut conn = Conn::open(addr);
    for _ in 0..MAX_REQUESTS_PER_CLIENT {
        if done.load(Ordering::SeqCst) {
            return;
        }
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conn.request(&request)));
        let now = phase.load(Ordering::SeqCst);
        let mut t = tally.lock().expect("no client panics holding the tally");
        match outcome {
            Ok(resp) if resp.status == 200 => {
                let backend = resp.header("X-Pycnic-Backend").unwrap_or("?").to_string();
                t.answered.push((now, backend));
                if resp.header("Connection") == Some("close") {
                    conn = Conn::open(addr);
                }
            }
            Ok(resp) => {
                t.lost
                    .push((now, format!("status {}: {}", resp.status, resp.text())));
                conn = Conn::open(addr);
            }
            Err(_) => {
                t.lost.push((now, "connection error".into()));
                conn = Conn::open(addr);
            }
        }
    }
}
