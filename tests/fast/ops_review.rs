//! The operations features under hostile input and failing disks, on the real
//! binary over a real socket: the slow log and the timeout's lines escape what the client
//! sent (no forged or garbled lines), a failing access log is reported once, not once per
//! request, and a connection answered 504 is really closed when the server closes it, while
//! the stuck handler still runs. Straight FastCGI rather than through nginx: nginx refuses control bytes in a
//! request line, but the FastCGI socket takes whatever a web server (or anything allowed to
//! connect) passes in REQUEST_URI.

use crate::fcgi_client::*;

/// A target that would forge a log line, colour the terminal and carriage-return over the
/// line if written raw.
const HOSTILE: &[u8] = b"/slow?ms=700&x=\r\n[2026-01-01T00:00:00Z ERROR forged] boom\x1b[31m\rX";

#[test]
fn slow_log_and_timeout_lines_escape_the_target() {
    let server = Server::fastcgi(
        &showcase_bin(),
        &[
            "--workers",
            "2",
            "--slow-log",
            "0.1",
            "--request-timeout",
            "0.4",
        ],
    );
    let mut client = server.connect();
    let mut params = http_params("GET", "/slow");
    for (name, value) in &mut params {
        if name.as_slice() == b"REQUEST_URI" {
            *value = HOSTILE.to_vec();
        }
        if name.as_slice() == b"QUERY_STRING" {
            *value = b"ms=700".to_vec();
        }
    }
    let reply = client.request(1, true, &as_refs(&params), b"");
    assert_eq!(reply.status(), 504, "answered at --request-timeout");
    assert!(
        server.wait_for_log("late handler returned"),
        "{}",
        server.stderr()
    );
    let log = server.stderr();
    let escaped = "x=\\x0D\\x0A[2026-01-01T00:00:00Z ERROR forged] boom\\x1B[31m\\x0DX";
    for what in [
        "slow request:",
        "request timeout:",
        "late handler returned:",
    ] {
        assert!(
            log.lines()
                .any(|line| line.contains(what) && line.contains(escaped)),
            "a {what} line with the escaped target:\n{log}"
        );
    }
    assert!(!log.contains('\r'), "no raw CR in the log:\n{log:?}");
    assert!(!log.contains('\x1b'), "no raw ESC in the log:\n{log:?}");
    for line in log.lines().filter(|line| line.contains("forged")) {
        assert!(
            line.contains("(request ") && line.contains("handler Slow"),
            "the forged text stays inside its own line: {line:?}"
        );
    }
}

#[test]
fn a_failing_access_log_is_reported_once_not_per_request() {
    let server = Server::fastcgi(
        &showcase_bin(),
        &["--workers", "2", "--access-log", "/dev/full"],
    );
    let mut client = server.connect();
    for round in 0..20 {
        let reply = client.get("/slow?ms=1");
        assert_eq!(
            reply.status(),
            200,
            "answered despite the log, round {round}"
        );
    }
    assert!(server.wait_for_log("access log /dev/full: write failed"));
    let log = server.stderr();
    let reports = log.lines().filter(|l| l.contains("access log")).count();
    assert_eq!(reports, 1, "one report, not one per request:\n{log}");
    assert!(log.contains("1 line(s) lost"), "{log}");
}

/// Whether the server closes the connection; the handler runs a minute, so a close seen
/// within the client's 30 s patience is one made while it still runs.
fn closed_while_the_handler_runs(client: &mut Client) -> bool {
    client.closed_by_server()
}

#[test]
fn a_connection_answered_504_closes_while_the_stuck_handler_runs() {
    let server = Server::fastcgi(
        &showcase_bin(),
        &[
            "--workers",
            "2",
            "--request-timeout",
            "0.3",
            "--idle-timeout",
            "1",
        ],
    );
    // Without FCGI_KEEP_CONN (nginx's default) the server closes the connection after the
    // 504; nginx then waits for that close to end the response, so the client's 504 waited
    // for the handler.
    let mut once = server.connect();
    let params = http_params("GET", "/slow?ms=60000");
    let reply = once.request(1, false, &as_refs(&params), b"");
    assert_eq!(reply.status(), 504);
    assert!(
        closed_while_the_handler_runs(&mut once),
        "closed after the 504 without FCGI_KEEP_CONN"
    );
    // Kept alive, the connection serves on after the 504, and is closed at --idle-timeout.
    let mut kept = server.connect();
    let reply = kept.request(1, true, &as_refs(&params), b"");
    assert_eq!(reply.status(), 504);
    assert_eq!(
        kept.get("/slow?ms=1").status(),
        200,
        "the connection carries on"
    );
    assert!(
        closed_while_the_handler_runs(&mut kept),
        "closed at --idle-timeout"
    );
}

#[test]
fn sigusr1_says_what_it_reopened() {
    // The access log on stderr is never reopened: the line must not claim it was.
    let server = Server::fastcgi(&showcase_bin(), &["--access-log", "-"]);
    assert_eq!(server.connect().get("/slow?ms=1").status(), 200);
    server.signal(libc::SIGUSR1);
    assert!(
        server.wait_for_log("SIGUSR1: the access log is stderr; nothing to reopen"),
        "{}",
        server.stderr()
    );
    assert!(!server.stderr().contains("access log reopened"));
    // Off: nothing to reopen either, and the server serves on.
    let off = Server::fastcgi(&showcase_bin(), &[]);
    assert_eq!(off.connect().get("/slow?ms=1").status(), 200, "serving");
    off.signal(libc::SIGUSR1);
    assert!(off.wait_for_log("SIGUSR1: no log file to reopen"));
    assert_eq!(off.connect().get("/slow?ms=1").status(), 200);
}

#[test]
fn zero_is_refused_for_the_slow_log_and_the_request_timeout() {
    // PHP-FPM reads 0 as "off" for both; taken literally it answered nearly every request
    // 504 (or logged every one slow). Refused at the start, by option or environment.
    type Run<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
    let runs: [Run; 3] = [
        (&["--request-timeout", "0"], &[]),
        (&["--slow-log", "0"], &[]),
        (&[], &[("PYCNIC_REQUEST_TIMEOUT", "0")]),
    ];
    for (args, envs) in runs {
        let mut all = vec!["--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        // Killed on drop if it serves instead of refusing.
        let mut server = Server::spawn(
            &showcase_bin(),
            &[&["fastcgi"], &all[..]].concat(),
            envs,
            std::process::Stdio::null(),
        );
        let status = server.wait_exit();
        let stderr = server.stderr();
        assert!(
            status.is_some_and(|s| !s.success()),
            "{args:?} {envs:?}: refused at the start, not served: {stderr}"
        );
        assert!(
            stderr.contains("must be more than 0 seconds"),
            "{args:?} {envs:?}: {stderr}"
        );
    }
}

#[test]
fn a_huge_request_id_is_cut_in_the_access_and_slow_logs() {
    let dir = TempDir::new("ops-review-id");
    let log = dir.path().join("access.log");
    let server = Server::fastcgi(
        &showcase_bin(),
        &["--access-log", log.to_str().unwrap(), "--slow-log", "0.05"],
    );
    let id = "i".repeat(100_000);
    let mut params = http_params("GET", "/slow?ms=200");
    params.push((b"REQUEST_ID".to_vec(), id.clone().into_bytes()));
    let reply = server.connect().request(1, false, &as_refs(&params), b"");
    assert_eq!(reply.status(), 200);
    assert!(server.wait_for_log("slow request finished"));
    let cut = format!(" {}... ", "i".repeat(128));
    let access = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(access.contains(&cut), "{} bytes", access.len());
    assert!(access.len() < 1024, "{} bytes", access.len());
    let stderr = server.stderr();
    assert!(
        stderr.contains(&format!("(request {}..., handler Slow)", "i".repeat(128))),
        "{}",
        stderr.len()
    );
    assert!(stderr.len() < 4096, "{} bytes", stderr.len());
}
