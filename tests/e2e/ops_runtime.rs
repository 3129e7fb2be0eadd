//! Operating it through a real nginx (conf/nginx/pycnic-tcp.conf, which
//! passes `REQUEST_ID $request_id`) in front of the showcase: the slow-request log while the
//! request runs and when it ends, the 504 at --request-timeout with the capacity kept, the
//! kept-alive connection usable after it and the --max-stuck cap's line, the access log's
//! fields, off writing nothing, and its reopening on SIGUSR1 (by hand and by logrotate).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::e2e::*;

/// The backend's log (stderr), where the slow log and errors go.
const LOG: &str = "pycnic.log";

/// conf/nginx/pycnic-tcp.conf in front of the showcase, started as
/// conf/systemd/pycnic-tcp.service starts it plus `extra`, in `cwd` when given.
fn deploy(tag: &str, extra: &[&str], cwd: Option<&str>) -> Deployment {
    showcase_behind_nginx(
        tag,
        Backend {
            extra,
            cwd,
            // nginx also tells the client the id it passed, so the tests can compare.
            edit_site: Some(|site| {
                site.replace(
                    "fastcgi_keep_conn on;",
                    "fastcgi_keep_conn on;\n        add_header X-Request-Id $request_id always;",
                )
            }),
            ..Backend::default()
        },
    )
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

/// Polls `path` until a line holds every one of `needles`, up to `within`.
fn wait_for_line(path: &Path, needles: &[&str], within: Duration) -> Option<String> {
    let end = Instant::now() + within;
    loop {
        let found = read(path)
            .lines()
            .find(|line| needles.iter().all(|n| line.contains(n)))
            .map(str::to_string);
        if found.is_some() || Instant::now() >= end {
            return found;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The value after `key` in a log line, up to the next `,` or `)`.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let at = line
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in {line}"))
        + key.len();
    let rest = &line[at..];
    &rest[..rest.find([',', ')']).unwrap_or(rest.len())]
}

fn is_nginx_request_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn a_slow_request_is_logged_while_it_runs_and_again_when_it_ends() {
    let deployment = deploy("ops-slow", &["--slow-log", "0.5"], None);
    let log = deployment.prefix.join(LOG);
    deployment.check(|addr| {
        let request = thread::spawn(move || send(addr, &Req::get("/slow?ms=3000")));
        let running = wait_for_line(
            &log,
            &["slow request: GET /slow?ms=3000", "handler Slow"],
            Duration::from_secs(10),
        )
        .expect("the slow request is logged");
        assert!(
            !request.is_finished(),
            "logged while it still runs: {running}"
        );
        assert!(running.contains("WARN"), "at WARN: {running}");
        let id = field(&running, "(request ");
        assert!(is_nginx_request_id(id), "nginx's request id: {running}");
        let resp = request.join().unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.header("X-Request-Id"), Some(id), "the id nginx sent");
        let done = wait_for_line(
            &log,
            &["slow request finished: GET /slow?ms=3000", "handler Slow"],
            Duration::from_secs(10),
        )
        .expect("the end is logged");
        assert_eq!(field(&done, "(request "), id, "the same id: {done}");
        let took: f64 = field(&done, "took ")
            .trim_end_matches(" s")
            .parse()
            .unwrap_or_else(|_| panic!("a total time: {done}"));
        assert!(took >= 3.0, "its total time: {done}");
        let lines = read(&log);
        assert_eq!(
            lines.matches("slow request: GET").count(),
            1,
            "logged once while running:\n{lines}"
        );
        // A quick request is not logged.
        assert_eq!(send(addr, &Req::get("/text")).status, 200);
        assert!(!read(&log).contains("GET /text"), "{}", read(&log));
    });
}

fn threads_of(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |dir| dir.count())
}

/// The process's thread count once it is `want`, or what it is after 5 s.
fn threads_become(pid: i32, want: usize) -> usize {
    let end = Instant::now() + Duration::from_secs(5);
    while threads_of(pid) != want && Instant::now() < end {
        thread::sleep(Duration::from_millis(20));
    }
    threads_of(pid)
}

#[test]
fn at_the_timeout_stuck_handlers_get_504_capacity_is_kept_and_the_cap_is_logged() {
    let deployment = deploy(
        "ops-timeout",
        &[
            // One process: the test counts the threads of the server's own pid.
            "--processes",
            "1",
            "--request-timeout",
            "1",
            "--workers",
            "2",
            "--access-log",
            "access.log",
        ],
        Some("run"),
    );
    let access = deployment.prefix.join("run/access.log");
    let log = deployment.prefix.join(LOG);
    let pid = deployment.proc("pycnic").pid();
    deployment.check(|addr| {
        // main + workers + the one more that watches the sockets + the watcher.
        let idle_threads = 5;
        assert_eq!(threads_become(pid, idle_threads), 5, "threads at rest");
        let stuck: Vec<_> = (0..2)
            .map(|_| {
                thread::spawn(move || {
                    let mut conn = Conn::open(addr);
                    let timed_out = conn.request(&Req::get("/slow?ms=5000"));
                    // The same kept-alive connection carries on after the 504.
                    let after = conn.request(&Req::get("/text"));
                    (timed_out, after)
                })
            })
            .collect();
        for handle in stuck {
            let (timed_out, after) = handle.join().unwrap();
            assert_eq!(timed_out.status, 504, "{}", timed_out.text());
            assert_eq!(
                timed_out.header("Content-Type"),
                Some("application/json"),
                "the app's error shape"
            );
            let body = timed_out.json();
            assert_eq!(body["status_code"], 504, "{body}");
            assert!(body["error"].as_str().is_some(), "{body}");
            assert_eq!(after.status, 200, "the connection still works");
        }
        // Both handlers still sleep; new threads took their slots, so fast requests are
        // answered before either stuck handler returns.
        for _ in 0..5 {
            assert_eq!(send(addr, &Req::get("/text")).status, 200);
        }
        assert!(
            !read(&log).contains("late handler returned"),
            "answered while both handlers were stuck:\n{}",
            read(&log)
        );
        assert_eq!(
            threads_become(pid, idle_threads + 2),
            idle_threads + 2,
            "two replacements"
        );
        // A third stuck handler passes --max-stuck (default: --workers, 2): still a 504,
        // one ERROR line, and it keeps its slot; the other slot still answers.
        let third = thread::spawn(move || send(addr, &Req::get("/slow?ms=5000")));
        assert_eq!(third.join().unwrap().status, 504);
        let cap = wait_for_line(&log, &["--max-stuck 2 reached"], Duration::from_secs(5))
            .expect("the cap's line");
        assert!(cap.contains("ERROR"), "{cap}");
        assert_eq!(send(addr, &Req::get("/text")).status, 200);
        assert!(!read(&log).contains("late handler returned"));
        // The stuck handlers return: their answers are dropped, the thread count comes back.
        let end = Instant::now() + Duration::from_secs(15);
        while (read(&log).matches("late handler returned").count() < 3
            || threads_of(pid) != idle_threads)
            && Instant::now() < end
        {
            thread::sleep(Duration::from_millis(50));
        }
        let lines = read(&log);
        assert_eq!(lines.matches("late handler returned").count(), 3, "{lines}");
        assert_eq!(lines.matches("reached").count(), 1, "one cap line: {lines}");
        assert_eq!(
            threads_of(pid),
            idle_threads,
            "threads back to their number"
        );
        for _ in 0..3 {
            assert_eq!(send(addr, &Req::get("/text")).status, 200);
        }
        // The access log has the three 504s and no late answer.
        let slow: Vec<Line> = lines_of(&access)
            .iter()
            .map(|l| parse_line(l))
            .filter(|l| l.request.starts_with("GET /slow"))
            .collect();
        let statuses: Vec<u16> = slow.iter().map(|l| l.status).collect();
        assert_eq!(statuses, [504, 504, 504], "{}", read(&access));
        assert!(slow.iter().all(|l| is_nginx_request_id(&l.id)));
        // A 504's time, like any answer's, runs from the request received: at least the
        // timeout (1 s).
        assert!(
            slow.iter().all(|l| l.micros >= 1_000_000),
            "{}",
            read(&access)
        );
    });
}

#[test]
fn a_handler_stuck_past_the_timeout_does_not_hold_up_the_shutdown() {
    let mut deployment = deploy(
        "ops-stuck-stop",
        &["--request-timeout", "0.5", "--workers", "1"],
        None,
    );
    let addr = deployment.addr;
    let resp = send(addr, &Req::get("/slow?ms=60000"));
    assert_eq!(resp.status, 504, "{}", resp.text());
    let pycnic = deployment
        .procs
        .iter_mut()
        .find(|p| p.name == "pycnic")
        .unwrap();
    pycnic.signal(libc::SIGTERM);
    // The handler sleeps a minute more; the drain has nothing left to wait for.
    let status = pycnic.wait_exit(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "exits 0 while the handler is stuck: {status:?}\n{}",
        deployment.prefix.logs()
    );
}

/// The access log's fields of one line.
struct Line {
    addr: String,
    request: String,
    status: u16,
    bytes: usize,
    referer: String,
    agent: String,
    id: String,
    micros: u64,
}

fn parse_line(line: &str) -> Line {
    try_parse_line(line).unwrap_or_else(|| panic!("not an access line: {line:?}"))
}

fn try_parse_line(line: &str) -> Option<Line> {
    let (addr, rest) = line.split_once(" - ")?;
    let (_user, rest) = rest.split_once(" [")?;
    let (time, rest) = rest.split_once("] \"")?;
    assert!(time.ends_with(" +0000") && time.len() == 26, "{line}");
    let (request, rest) = rest.split_once("\" ")?;
    let mut words = rest.splitn(3, ' ');
    let status = words.next()?.parse().ok()?;
    let bytes = words.next()?.parse().ok()?;
    let rest = words.next()?.strip_prefix('"')?;
    let (referer, rest) = rest.split_once("\" \"")?;
    let (agent, rest) = rest.split_once("\" ")?;
    let (id, micros) = rest.split_once(' ')?;
    Some(Line {
        addr: addr.into(),
        request: request.into(),
        status,
        bytes,
        referer: referer.into(),
        agent: agent.into(),
        id: id.into(),
        micros: micros.parse().ok()?,
    })
}

fn lines_of(path: &Path) -> Vec<String> {
    read(path).lines().map(str::to_string).collect()
}

#[test]
fn access_log_lines_carry_the_request_s_fields_and_nginx_s_request_id() {
    let deployment = deploy("ops-access", &["--access-log", "access.log"], Some("run"));
    let path = deployment.prefix.join("run/access.log");
    deployment.check(|addr| {
        let resp = send(
            addr,
            &Req::get("/text?q=1")
                .header("User-Agent", "ops-test/1.0 \"quoted\"")
                .header("Referer", "http://ref.example/from"),
        );
        assert_eq!(resp.status, 200);
        let missing = send(addr, &Req::get("/nowhere"));
        assert_eq!(missing.status, 404);
        let end = Instant::now() + Duration::from_secs(5);
        while lines_of(&path).len() < 2 && Instant::now() < end {
            thread::sleep(Duration::from_millis(20));
        }
        let lines = lines_of(&path);
        assert_eq!(lines.len(), 2, "one line per request: {lines:?}");
        let first = parse_line(&lines[0]);
        assert_eq!(first.addr, "127.0.0.1");
        assert_eq!(first.request, "GET /text?q=1 HTTP/1.1");
        assert_eq!(first.status, 200);
        assert_eq!(first.bytes, resp.body.len(), "the body's bytes");
        assert_eq!(first.referer, "http://ref.example/from");
        assert_eq!(
            first.agent, "ops-test/1.0 \\x22quoted\\x22",
            "escaped like nginx"
        );
        assert_eq!(
            Some(first.id.as_str()),
            resp.header("X-Request-Id"),
            "the id nginx sent: {}",
            lines[0]
        );
        assert!(is_nginx_request_id(&first.id), "{}", lines[0]);
        assert!(first.micros > 0);
        let second = parse_line(&lines[1]);
        assert_eq!(second.request, "GET /nowhere HTTP/1.1");
        assert_eq!(second.status, 404);
        assert_eq!(second.bytes, missing.body.len());
        assert_eq!((second.referer.as_str(), second.agent.as_str()), ("-", "-"));
        assert_eq!(Some(second.id.as_str()), missing.header("X-Request-Id"));
    });
}

#[test]
fn access_log_off_writes_no_file() {
    let deployment = deploy("ops-access-off", &["--access-log", "off"], Some("cwd"));
    deployment.check(|addr| {
        for _ in 0..3 {
            assert_eq!(send(addr, &Req::get("/text")).status, 200);
        }
        let dir = deployment.prefix.join("cwd");
        let files: Vec<_> = fs::read_dir(&dir).unwrap().flatten().collect();
        assert!(files.is_empty(), "nothing written: {files:?}");
        assert!(!read(&deployment.prefix.join(LOG)).contains("GET /text"));
    });
}

/// Sends `count` requests one after another on one kept-alive connection, calling `midway`
/// after half of them.
fn requests_around(addr: SocketAddr, count: usize, midway: impl FnOnce()) {
    let mut conn = Conn::open(addr);
    let mut midway = Some(midway);
    for n in 0..count {
        if n == count / 2
            && let Some(midway) = midway.take()
        {
            midway();
        }
        assert_eq!(conn.request(&Req::get(format!("/text?n={n}"))).status, 200);
    }
}

/// Every line whole, every request's `n` once across both files.
fn check_rotated(old: &Path, new: &Path, count: usize) {
    let (old_lines, new_lines) = (lines_of(old), lines_of(new));
    assert!(
        !old_lines.is_empty(),
        "lines before the rotation stay in the old file"
    );
    assert!(
        !new_lines.is_empty(),
        "lines after it go to a new file at the path"
    );
    let mut seen: Vec<usize> = old_lines
        .iter()
        .chain(&new_lines)
        .map(|line| {
            let request = parse_line(line).request;
            let n = request
                .strip_prefix("GET /text?n=")
                .and_then(|r| r.strip_suffix(" HTTP/1.1"))
                .unwrap_or_else(|| panic!("{line}"));
            n.parse().unwrap()
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..count).collect::<Vec<_>>(),
        "none lost, none twice"
    );
}

fn wait_lines(paths: &[&Path], count: usize) {
    let end = Instant::now() + Duration::from_secs(5);
    while paths.iter().map(|p| lines_of(p).len()).sum::<usize>() < count && Instant::now() < end {
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigusr1_reopens_the_access_log_after_a_rename_with_no_line_lost() {
    const COUNT: usize = 200;
    let deployment = deploy("ops-reopen", &["--access-log", "access.log"], Some("run"));
    let path = deployment.prefix.join("run/access.log");
    let rotated = deployment.prefix.join("run/access.log.1");
    let pycnic = deployment.proc("pycnic");
    deployment.check(|addr| {
        requests_around(addr, COUNT, || {
            fs::rename(&path, &rotated).unwrap();
            pycnic.signal(libc::SIGUSR1);
            let end = Instant::now() + Duration::from_secs(5);
            while !path.exists() && Instant::now() < end {
                thread::sleep(Duration::from_millis(10));
            }
            assert!(path.exists(), "the file is opened again at its path");
        });
        wait_lines(&[&rotated, &path], COUNT);
        check_rotated(&rotated, &path, COUNT);
    });
}

#[test]
fn logrotate_with_the_conf_snippet_rotates_and_the_app_writes_to_the_new_file() {
    let Some(logrotate) = ["/usr/sbin/logrotate", "/usr/bin/logrotate"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        panic!("logrotate is not installed: scripts/install-deps.sh installs it");
    };
    const COUNT: usize = 100;
    let deployment = deploy(
        "ops-logrotate",
        &["--access-log", "access.log"],
        Some("run"),
    );
    let path = deployment.prefix.join("run/access.log");
    let pid_file = deployment.prefix.join("run/pycnic.pid");
    fs::write(&pid_file, format!("{}\n", deployment.proc("pycnic").pid())).unwrap();
    // conf/logrotate/pycnic with this test's log and PID file.
    let snippet = fs::read_to_string(conf("logrotate/pycnic"))
        .unwrap()
        .replace("/var/log/pycnic/access.log", text(&path))
        .replace("/run/pycnic/pycnic.pid", text(&pid_file));
    let config = deployment.prefix.join("logrotate.conf");
    fs::write(&config, snippet).unwrap();
    let state = deployment.prefix.join("logrotate.state");
    deployment.check(|addr| {
        requests_around(addr, COUNT, || {
            let out = Command::new(logrotate)
                .arg("-f")
                .arg("-s")
                .arg(&state)
                .arg(&config)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "logrotate: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        });
        let rotated = deployment.prefix.join("run/access.log.1");
        wait_lines(&[&rotated, &path], COUNT);
        assert!(
            rotated.exists(),
            "rotated, not compressed yet (delaycompress)"
        );
        check_rotated(&rotated, &path, COUNT);
    });
}
