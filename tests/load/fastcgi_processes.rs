//! Worker processes under a master (`--processes N`, docs/processes.md), through nginx, with
//! `examples/faults` as the app: a handler that aborts or overflows its stack costs only its
//! own process's requests (every other request in flight gets its 200, new requests are
//! answered, the pool is back to N); a SIGKILL of the master leaves no worker behind; SIGTERM
//! drains every worker and the master exits 0. Every wait is bounded and fails with the logs.

use crate::e2e;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::*;

const POOL: usize = 4;
/// How long the requests kept in flight sleep: past the time the test takes to spread them
/// over every worker and commit the fault (the test fails with the logs if it is not).
const IN_FLIGHT_MS: u64 = 10_000;
/// Handler slots per worker in the fault tests: few, so that what spreads the requests in
/// flight over the pool is the accept turn moving to a peer with 2 more handlers free, not
/// chance; one more than the requests kept in flight on each, for the fault's.
const HANDLERS: usize = 3;
/// Requests kept in flight on each worker.
const IN_FLIGHT_EACH: usize = 2;

/// `target/debug/examples/faults`, built (or found fresh) once per test process: it runs the
/// library as it is now, so a stale copy must not be used.
fn faults_bin() -> PathBuf {
    crate::examples::example_bin("faults")
}

/// The faults app as a pool behind nginx (conf/nginx/pycnic-tcp.conf).
struct Pool {
    prefix: Prefix,
    nginx: Proc,
    master: Proc,
    addr: SocketAddr,
}

impl Pool {
    fn start(tag: &str, extra: &[&str]) -> Pool {
        let prefix = Prefix::new(tag);
        let bin = prefix.install_binary(&faults_bin(), "pycnic");
        let backend: SocketAddr = (localhost(), free_port(localhost())).into();
        let mut command = Command::new(&bin);
        command
            .args(["fastcgi", "--listen", &backend.to_string()])
            .args(["--processes", &POOL.to_string()])
            .args(if extra.contains(&"--workers") {
                &[][..]
            } else {
                &["--workers", "16"][..]
            })
            .args(extra)
            .env("RUST_LOG", "info");
        let master = Proc::start("pycnic", command, &prefix.join("pycnic.log"));
        wait_until("the pool", &[&master], &prefix, || {
            log_of(&prefix).contains("every worker serves")
        });
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
        Pool {
            prefix,
            nginx,
            master,
            addr: (localhost(), port).into(),
        }
    }

    /// The master's live children.
    fn workers(&self) -> BTreeSet<i32> {
        children_of(self.master.pid())
    }

    /// Waits (bounded) until `ready()` holds, failing with the logs.
    fn wait(&self, what: &str, ready: impl FnMut() -> bool) {
        wait_until(what, &[&self.master, &self.nginx], &self.prefix, ready);
    }

    /// As [`Pool::wait`], while the first master may have exited (after an upgrade).
    fn wait_upgraded(&self, what: &str, ready: impl FnMut() -> bool) {
        wait_until(what, &[&self.nginx], &self.prefix, ready);
    }
}

/// Four clients sending `GET /pid` one after the other until stopped, each at most `most`
/// times (bounded whatever happens).
struct Clients {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<(usize, Vec<u16>)>>,
}

impl Clients {
    fn start(addr: SocketAddr, most: usize) -> Clients {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..4)
            .map(|_| {
                let done = done.clone();
                std::thread::spawn(move || {
                    let (mut ok, mut failed) = (0usize, Vec::new());
                    for _ in 0..most {
                        if done.load(std::sync::atomic::Ordering::SeqCst) {
                            break;
                        }
                        let resp = send(addr, &Req::get("/pid"));
                        if resp.status == 200 {
                            ok += 1;
                        } else {
                            failed.push(resp.status);
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        Clients { done, threads }
    }

    /// Stops them: the 200s counted, the other statuses.
    fn stop(self) -> (usize, Vec<u16>) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        let (mut ok, mut failed) = (0, Vec::new());
        for client in self.threads {
            let (o, f) = client.join().expect("a client thread");
            ok += o;
            failed.extend(f);
        }
        (ok, failed)
    }
}

fn log_of(prefix: &Prefix) -> String {
    std::fs::read_to_string(prefix.join("pycnic.log")).unwrap_or_default()
}

/// Live processes (not zombies) whose parent is `parent`.
fn children_of(parent: i32) -> BTreeSet<i32> {
    let mut children = BTreeSet::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() != Some(&"Z") && fields.get(1) == Some(&parent.to_string().as_str()) {
            children.insert(pid);
        }
    }
    children
}

/// Whether `pid` is a live process (not a zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// The pid each `/sleep` id started on, from the workers' "sleep start id=X pid=N" lines.
fn sleep_starts(prefix: &Prefix) -> BTreeMap<usize, i32> {
    let mut starts = BTreeMap::new();
    for line in log_of(prefix).lines() {
        let Some(rest) = line.strip_prefix("sleep start id=") else {
            continue;
        };
        let mut parts = rest.split(" pid=");
        if let (Some(Ok(id)), Some(Ok(pid))) = (
            parts.next().map(str::parse::<usize>),
            parts.next().map(str::parse::<i32>),
        ) {
            starts.insert(id, pid);
        }
    }
    starts
}

/// The pids the master logged as killed by a signal.
fn killed_workers(prefix: &Prefix) -> BTreeSet<i32> {
    log_of(prefix)
        .lines()
        .filter(|line| line.contains("killed by signal"))
        .filter_map(|line| line.split("fastcgi master: worker ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect()
}

/// With requests in flight on every worker, `fault` kills the worker that runs it: only that
/// process's requests are lost, every other gets its 200, new requests are answered and the
/// pool is back to its size. The requests in flight are sent one at a time, each running
/// before the next is sent (--workers 3): the worker whose turn it is to accept passes the
/// turn on once a peer has 2 more handlers free, so each worker runs exactly two of them.
fn a_fault_costs_only_its_own_process(tag: &str, fault: &str) {
    let handlers = HANDLERS.to_string();
    let pool = Pool::start(tag, &["--workers", &handlers]);
    let before = pool.workers();
    assert_eq!(
        before.len(),
        POOL,
        "workers at start\n{}",
        pool.prefix.logs()
    );

    let mut in_flight = Vec::new();
    for id in 0..POOL * IN_FLIGHT_EACH {
        let addr = pool.addr;
        in_flight.push(std::thread::spawn(move || {
            let resp = send(addr, &Req::get(format!("/sleep?ms={IN_FLIGHT_MS}&id={id}")));
            (id, resp.status)
        }));
        pool.wait(&format!("request {id} running"), || {
            sleep_starts(&pool.prefix).contains_key(&id)
        });
    }
    let mut per_worker: BTreeMap<i32, usize> = BTreeMap::new();
    for pid in sleep_starts(&pool.prefix).into_values() {
        *per_worker.entry(pid).or_default() += 1;
    }
    let expected: BTreeMap<i32, usize> = before.iter().map(|pid| (*pid, IN_FLIGHT_EACH)).collect();
    assert_eq!(
        per_worker,
        expected,
        "each worker runs {IN_FLIGHT_EACH} of the requests in flight (a worker leaves new \
         turn on to a peer with 2 more handlers free)\n{}",
        pool.prefix.logs()
    );

    let faulted = send(pool.addr, &Req::get(fault));
    assert_eq!(
        faulted.status,
        502,
        "{fault} through nginx: {}",
        faulted.text()
    );
    pool.wait("the master logging the dead worker", || {
        !killed_workers(&pool.prefix).is_empty()
    });
    // nginx sends a request again when a kept-alive (cached) upstream connection fails, so a
    // fault may kill one worker per retry: each death must be the fault's own.
    let deaths: Vec<String> = log_of(&pool.prefix)
        .lines()
        .filter(|line| line.contains("killed by signal"))
        .map(str::to_string)
        .collect();
    assert!(
        deaths
            .iter()
            .all(|death| death.contains(&format!("\"GET {fault}\""))),
        "every worker that died ran {fault}: {deaths:?}"
    );
    assert!(
        deaths
            .iter()
            .any(|death| death.contains("\"GET /sleep?ms=")),
        "the master's line names the requests the worker ran: {deaths:?}"
    );
    // New requests are answered while the others still run.
    let answered = send(pool.addr, &Req::get("/pid"));
    assert_eq!(answered.status, 200, "a new request after the fault");

    let results: Vec<(usize, u16)> = in_flight
        .into_iter()
        .map(|handle| handle.join().expect("a client thread"))
        .collect();
    pool.wait("the pool back to its size", || {
        let now = pool.workers();
        now.len() == POOL && now.is_disjoint(&killed_workers(&pool.prefix))
    });
    let dead = killed_workers(&pool.prefix);
    let starts = sleep_starts(&pool.prefix);
    let mut lost_on_dead = 0;
    for (id, status) in results {
        let pid = starts[&id];
        if dead.contains(&pid) {
            lost_on_dead += 1;
            assert_ne!(status, 200, "request {id} on the dead worker {pid} got 200");
        } else {
            assert_eq!(
                status,
                200,
                "request {id} on the surviving worker {pid} got {status}\n{}",
                pool.prefix.logs()
            );
        }
    }
    assert!(
        lost_on_dead > 0,
        "the dead worker ran none of the requests in flight"
    );
}

#[test]
fn an_aborting_handler_costs_only_its_own_process() {
    let _serial = crate::load::serial();
    a_fault_costs_only_its_own_process("processes-abort", "/abort");
}

#[test]
fn a_stack_overflow_costs_only_its_own_process() {
    let _serial = crate::load::serial();
    a_fault_costs_only_its_own_process("processes-overflow", "/overflow");
}

#[test]
fn sigkill_of_the_master_leaves_no_worker_behind() {
    let _serial = crate::load::serial();
    let pool = Pool::start("processes-sigkill", &[]);
    let workers = pool.workers();
    assert_eq!(workers.len(), POOL, "{}", pool.prefix.logs());
    pool.master.signal(libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while workers.iter().any(|pid| alive(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<i32> = workers.into_iter().filter(|pid| alive(*pid)).collect();
    assert!(
        left.is_empty(),
        "workers {left:?} outlived the master's SIGKILL\n{}",
        pool.prefix.logs()
    );
}

#[test]
fn sigterm_drains_every_worker_and_the_master_exits_0() {
    let _serial = crate::load::serial();
    let mut pool = Pool::start("processes-sigterm", &[]);
    let workers = pool.workers();
    let addr = pool.addr;
    let running = std::thread::spawn(move || send(addr, &Req::get("/sleep?ms=1500&id=0")));
    pool.wait("the request running", || {
        sleep_starts(&pool.prefix).contains_key(&0)
    });
    pool.master.signal(libc::SIGTERM);
    let status = pool.master.wait_exit(Duration::from_secs(30));
    let resp = running.join().expect("the client thread");
    assert_eq!(resp.status, 200, "the request in flight during the drain");
    let status = status.unwrap_or_else(|| panic!("the master runs on\n{}", pool.prefix.logs()));
    assert!(status.success(), "master: {status}\n{}", pool.prefix.logs());
    let left: Vec<i32> = workers.into_iter().filter(|pid| alive(*pid)).collect();
    assert!(left.is_empty(), "workers {left:?} outlived the drain");
}

#[test]
fn a_crash_loop_keeps_ordinary_requests_answered_and_the_masters_log_bounded() {
    let _serial = crate::load::serial();
    let pool = Pool::start("processes-crash-loop", &[]);
    let clients = Clients::start(pool.addr, 20_000);
    let began = Instant::now();
    let mut aborts = Vec::new();
    for _ in 0..100 {
        aborts.push(send(pool.addr, &Req::get("/abort")).status);
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, failed) = clients.stop();
    let elapsed = began.elapsed();
    assert!(
        aborts.iter().all(|status| *status == 502),
        "every abort loses its own request: {aborts:?}"
    );
    let total = ok + failed.len();
    assert!(
        ok * 100 >= total * 95,
        "{ok} of {total} ordinary requests got 200 during the crash loop; the rest: {failed:?}\n{}",
        pool.prefix.logs()
    );
    let master_lines = log_of(&pool.prefix)
        .lines()
        .filter(|line| line.contains("fastcgi master: worker"))
        .count();
    // A burst of 10, then one line per 10 s (the limit in process/master/pool.rs).
    let allowed = 10 + 1 + elapsed.as_secs() as usize / 10;
    assert!(
        master_lines <= allowed,
        "the master wrote {master_lines} lines about 100 deaths in {elapsed:?} (at most \
         {allowed})"
    );
    pool.wait("the pool back to its size", || pool.workers().len() == POOL);
    let answered = send(pool.addr, &Req::get("/pid"));
    assert_eq!(answered.status, 200, "a request after the crash loop");
    eprintln!(
        "crash loop: 100 aborts in {elapsed:?}; {ok} of {total} ordinary requests got 200; the \
         master wrote {master_lines} lines about deaths"
    );
}

/// The pid a pid file names, if it names one.
fn pid_in(path: &std::path::Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[test]
fn sigusr2_upgrades_the_whole_pool_five_times_under_load_with_no_failed_request() {
    let _serial = crate::load::serial();
    let prefix_pid = std::env::temp_dir().join(format!(
        "pycnic-processes-upgrade-{}.pid",
        std::process::id()
    ));
    let pid_file = prefix_pid.to_string_lossy().into_owned();
    let mut pool = Pool::start("processes-upgrade", &["--pid-file", &pid_file]);
    let clients = Clients::start(pool.addr, 200_000);
    let mut masters = vec![pool.master.pid()];
    for round in 0..5 {
        let old = *masters.last().expect("a master");
        assert_eq!(
            pid_in(&prefix_pid),
            Some(old),
            "the pid file names the master"
        );
        // SAFETY: signalling the master this test started (or its successor).
        unsafe { libc::kill(old, libc::SIGUSR2) };
        pool.wait_upgraded(
            &format!("upgrade {round}: a new master serving, the old one gone"),
            || {
                pid_in(&prefix_pid).is_some_and(|pid| pid != old)
                    && if old == pool.master.pid() {
                        !pool.master.is_running()
                    } else {
                        !alive(old)
                    }
            },
        );
        let new = pid_in(&prefix_pid).expect("the new master's pid");
        pool.wait_upgraded(&format!("upgrade {round}: the new pool"), || {
            children_of(new).len() == POOL
        });
        masters.push(new);
    }
    let (ok, failed) = clients.stop();
    let last = *masters.last().expect("a master");
    // SAFETY: the last master, started by this test's chain of upgrades.
    unsafe { libc::kill(last, libc::SIGTERM) };
    pool.wait_upgraded("the last master's exit", || !alive(last));
    let _ = pool.master.wait_exit(Duration::from_secs(1));
    assert!(
        failed.is_empty(),
        "{} of {} requests failed during 5 upgrades: {failed:?}\n{}",
        failed.len(),
        ok + failed.len(),
        pool.prefix.logs()
    );
    assert!(ok > 0, "no request was answered");
    assert!(
        !prefix_pid.exists(),
        "the pid file outlived the last master"
    );
}

/// Sends `count` requests for `target` from 4 clients; the statuses that were not 200 and
/// the pids that answered.
fn load(addr: SocketAddr, target: &'static str, count: usize) -> (Vec<u16>, BTreeSet<i64>) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let next = next.clone();
            std::thread::spawn(move || {
                let (mut failed, mut pids) = (Vec::new(), BTreeSet::new());
                while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < count {
                    let resp = send(addr, &Req::get(target));
                    if resp.status == 200 {
                        pids.insert(resp.json()["pid"].as_i64().unwrap_or(0));
                    } else {
                        failed.push(resp.status);
                    }
                }
                (failed, pids)
            })
        })
        .collect();
    let (mut failed, mut pids) = (Vec::new(), BTreeSet::new());
    for client in clients {
        let (f, p) = client.join().expect("a client thread");
        failed.extend(f);
        pids.extend(p);
    }
    (failed, pids)
}

#[test]
fn max_requests_recycles_workers_with_no_failed_request() {
    let _serial = crate::load::serial();
    let pool = Pool::start("processes-max-requests", &["--max-requests", "100"]);
    let (failed, pids) = load(pool.addr, "/pid", 2_000);
    assert!(
        failed.is_empty(),
        "{} of 2000 requests failed: {failed:?}\n{}",
        failed.len(),
        pool.prefix.logs()
    );
    // A worker at its limit drains, and a draining worker closes each kept-alive connection
    // as soon as the answer it carries is sent, so nginx takes its next requests to the
    // workers that stay: 2000 requests at about 100 each (plus the jitter, and what a worker
    // finishes between its limit and its drain) take at least 10 workers. Every replaced
    // worker exited 0 after its limit.
    let recycled: Vec<String> = log_of(&pool.prefix)
        .lines()
        .filter(|l| l.contains(", max-requests)"))
        .map(str::to_string)
        .collect();
    let finished: Vec<u64> = recycled
        .iter()
        .map(|line| {
            line.split(" and ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next()?.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    eprintln!(
        "max-requests: 2000 requests answered by {} worker pids; {} replaced, after {finished:?} \
         requests",
        pids.len(),
        recycled.len()
    );
    // A request nginx sent on a connection a draining worker had closed shows here (nginx
    // sends a GET again on another connection, so it is not failed; a POST would be).
    let nginx_log =
        std::fs::read_to_string(pool.prefix.join("nginx-error.log")).unwrap_or_default();
    eprintln!(
        "max-requests: nginx logged {} upstream errors",
        nginx_log.lines().filter(|l| l.contains("upstream")).count()
    );
    assert!(
        pids.len() >= 10 && !recycled.is_empty(),
        "2000 requests with --max-requests 100 were answered by {} worker pids (10 at least \
         expected): {pids:?}\n{}",
        pids.len(),
        pool.prefix.logs()
    );
    for (line, finished) in recycled.iter().zip(&finished) {
        assert!(
            line.contains("exited with status 0") && *finished >= 100,
            "a replaced worker: {line}"
        );
    }
    pool.wait("the pool at its size", || pool.workers().len() == POOL);
}

#[test]
fn max_rss_replaces_a_worker_that_keeps_memory_with_no_failed_request() {
    let _serial = crate::load::serial();
    let pool = Pool::start("processes-max-rss", &["--max-rss", "64M"]);
    let kept = send(pool.addr, &Req::get("/keep?mb=100"));
    assert_eq!(kept.status, 200, "/keep: {}", kept.text());
    let fat = kept.json()["pid"].as_i64().expect("the pid") as i32;
    let (failed, _) = load(pool.addr, "/pid", 400);
    pool.wait("the worker keeping 100 MB gone", || !alive(fat));
    let (more_failed, _) = load(pool.addr, "/pid", 100);
    assert!(
        failed.is_empty() && more_failed.is_empty(),
        "requests failed: {failed:?} {more_failed:?}\n{}",
        pool.prefix.logs()
    );
    pool.wait("the pool at its size", || pool.workers().len() == POOL);
    for pid in pool.workers() {
        let rss_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                let line = status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))?
                    .to_string();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        assert!(rss_kb < 64 * 1024, "worker {pid} holds {rss_kb} kB");
    }
    assert!(
        log_of(&pool.prefix).contains("max-rss"),
        "the master logs why it replaced the worker"
    );
}

#[test]
fn the_status_page_adds_up_every_worker_and_counts_a_dead_workers_requests() {
    let _serial = crate::load::serial();
    let pool = Pool::start("processes-status", &["--status-path", "/status"]);
    let (failed, _) = load(pool.addr, "/pid", 200);
    assert!(failed.is_empty(), "{failed:?}");
    let aborted = send(pool.addr, &Req::get("/abort"));
    assert_eq!(aborted.status, 502);
    pool.wait("the pool back to its size", || pool.workers().len() == POOL);
    let (failed, _) = load(pool.addr, "/pid", 100);
    assert!(failed.is_empty(), "{failed:?}");
    let pages_before = std::cell::Cell::new(0u64);
    let status = || {
        let page = send(pool.addr, &Req::get("/status")).json();
        pages_before.set(pages_before.get() + 1);
        page
    };
    // A request is counted once its answer is sent, which the client may see first.
    pool.wait("the pool's total at 300", || {
        status()["processes"]["requests_total"] == 300
    });
    let page = status();
    let processes = &page["processes"];
    assert_eq!(processes["requests_total"], 300, "{page}");
    // The page's own figures are the pool's too: every 200 the workers sent, the dead one's
    // included, and every status page before this one (a page is counted once sent).
    assert_eq!(
        page["requests"]["2xx"],
        300 + pages_before.get() - 1,
        "the pool's answers, the dead worker's included: {page}"
    );
    assert_eq!(page["requests"]["5xx"], 0, "{page}");
    assert_eq!(
        page["workers"]["total"],
        POOL * 16,
        "every worker's handler slots: {page}"
    );
    assert_eq!(page["workers"]["busy"], 0, "{page}");
    // nginx may send /abort again over another kept-alive connection (see above): the
    // status counts every death the master saw.
    let deaths = log_of(&pool.prefix)
        .lines()
        .filter(|line| line.contains("killed by signal"))
        .count();
    assert!(deaths >= 1);
    assert_eq!(processes["restarts"]["crash"], deaths, "{page}");
    assert_eq!(
        processes["workers"].as_array().map(Vec::len),
        Some(POOL),
        "{page}"
    );
    let prometheus = send(pool.addr, &Req::get("/status?format=prometheus")).text();
    assert!(
        prometheus
            .lines()
            .any(|l| l == "pycnic_pool_requests_total 300"),
        "{prometheus}"
    );
}

#[test]
fn a_pool_under_systemd_socket_activation_serves_and_only_the_master_notifies() {
    let _serial = crate::load::serial();
    use std::os::unix::fs::PermissionsExt;
    let prefix = Prefix::new("processes-systemd");
    let faults = prefix.install_binary(&faults_bin(), "faults");
    let notify_path = prefix.join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).expect("notify socket");
    notify.set_nonblocking(true).unwrap();
    // conf/systemd/pycnic.service's ExecStart runs this, which adds the pool and systemd's
    // NOTIFY_SOCKET (systemd-socket-activate passes neither).
    let wrapper = prefix.join("pycnic-pool");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nNOTIFY_SOCKET={} PYCNIC_PROCESSES=3 RUST_LOG=info exec {} \"$@\"\n",
            notify_path.display(),
            faults.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = prefix.join("pycnic.sock");
    let master = start_socket_activated(&prefix, &wrapper, &socket);
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("nginx/pycnic-unix.conf"),
        "site.conf",
        &[("SOCKET", text(&socket)), ("PORT", &port.to_string())],
    );
    let nginx = start_nginx(&prefix, &site, port);
    let addr: SocketAddr = (localhost(), port).into();
    let first = send(addr, &Req::get("/pid"));
    assert_eq!(first.status, 200, "{}\n{}", first.text(), prefix.logs());
    wait_until("the pool of 3", &[&master, &nginx], &prefix, || {
        children_of(master.pid()).len() == 3
    });
    let mut messages = Vec::new();
    wait_until(
        "READY=1 from the master",
        &[&master, &nginx],
        &prefix,
        || {
            let mut buf = [0u8; 512];
            while let Ok(n) = notify.recv(&mut buf) {
                messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            messages.iter().any(|m| m.contains("READY=1"))
        },
    );
    let (failed, pids) = load(addr, "/pid", 200);
    assert!(failed.is_empty(), "{failed:?}");
    let workers: BTreeSet<i64> = children_of(master.pid())
        .into_iter()
        .map(i64::from)
        .collect();
    assert!(
        pids.is_subset(&workers),
        "answers came from the master's workers: {pids:?} {workers:?}"
    );
    // Workers say they serve to the master before it tells systemd: one message in all.
    let mut buf = [0u8; 512];
    while let Ok(n) = notify.recv(&mut buf) {
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(
        messages,
        vec!["READY=1\n".to_string()],
        "sd_notify messages"
    );
}

#[test]
fn a_worker_whose_stuck_threads_reach_max_stuck_is_replaced_and_its_process_ends() {
    let _serial = crate::load::serial();
    let pool = Pool::start(
        "processes-stuck",
        &[
            "--request-timeout",
            "1",
            "--max-stuck",
            "1",
            "--shutdown-timeout",
            "2",
            "--status-path",
            "/status",
        ],
    );
    let hung = send(pool.addr, &Req::get("/hang"));
    assert_eq!(hung.status, 504, "{}", hung.text());
    pool.wait("the master replacing the stuck worker", || {
        log_of(&pool.prefix).contains("(stuck, ")
    });
    let log = log_of(&pool.prefix);
    let line = log
        .lines()
        .find(|line| line.contains("(stuck, "))
        .unwrap_or_default();
    let stuck: i32 = line
        .split("fastcgi master: worker ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line}"));
    // Its hung thread never returns: the process ends by its drain's timeout or is killed.
    pool.wait("the stuck worker's process gone", || !alive(stuck));
    pool.wait("the pool at its size", || {
        let now = pool.workers();
        now.len() == POOL && !now.contains(&stuck)
    });
    let (failed, _) = load(pool.addr, "/pid", 100);
    assert!(failed.is_empty(), "{failed:?}");
    let page = send(pool.addr, &Req::get("/status")).json();
    assert_eq!(page["processes"]["restarts"]["stuck"], 1, "{page}");
}

#[test]
fn a_workers_stray_output_goes_to_the_log_and_never_into_an_answer() {
    let _serial = crate::load::serial();
    let pool = Pool::start("processes-print", &[]);
    let workers = pool.workers();
    let answer = send(pool.addr, &Req::get("/print"));
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    let pid = body["pid"].as_i64().unwrap_or(0) as i32;
    assert!(
        workers.contains(&pid) && body.as_object().map(|o| o.len()) == Some(1),
        "the answer is the handler's JSON alone, from a worker: {body}"
    );
    assert!(
        !answer.text().contains("stray output"),
        "a print reached the answer: {}",
        answer.text()
    );
    let printed_by = |stream: &str| {
        log_of(&pool.prefix)
            .lines()
            .filter_map(|line| line.strip_prefix(&format!("stray output on {stream} from pid ")))
            .filter_map(|pid| pid.trim().parse::<i32>().ok())
            .collect::<Vec<i32>>()
    };
    pool.wait("the worker's prints in the log", || {
        !printed_by("stdout").is_empty() && !printed_by("stderr").is_empty()
    });
    for stream in ["stdout", "stderr"] {
        let pids = printed_by(stream);
        assert!(
            pids.iter().all(|pid| workers.contains(pid)),
            "{stream} printed by a worker of the pool: {pids:?} of {workers:?}"
        );
    }
}
