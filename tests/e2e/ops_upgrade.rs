//! Zero-downtime upgrade: SIGUSR2 starts a new copy of the binary on the same
//! listening sockets; once it serves, the old one drains and exits 0, and `--pid-file` names
//! the new one. Through a real nginx: wrk runs for the whole of 5 upgrades in a row and sees
//! no error, over TCP with kept-alive upstream connections and over a unix socket without;
//! a replaced binary runs; a failing one leaves the old process serving; a socket on fd 0
//! (spawn-fcgi) is handed over too; systemd hears READY=1, then MAINPID= of the new process.
//!
//! Every process started here, directly or through upgrades, is ended by pid at the end
//! (a [`Fleet`] guard reading the pid file), even when a test fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::e2e::*;

/// How long one upgrade (new process serving, old one gone) may take before the test fails.
const UPGRADE_WITHIN: Duration = Duration::from_secs(20);
const UPGRADES: usize = 5;
/// wrk runs at most this long; the upgrades must be done before it ends. Once they are, it is
/// stopped with SIGINT (it then prints its figures and exits 0), so the test does not wait out
/// the rest.
const WRK_SECONDS: u64 = 15;

/// The pycnic processes of one test: the first and every one an upgrade started (seen in the
/// pid file). On drop each one still running is killed, by pid.
struct Fleet {
    pid_file: PathBuf,
    bin: PathBuf,
    seen: Mutex<Vec<i32>>,
}

impl Fleet {
    fn new(pid_file: PathBuf, bin: &Path) -> Fleet {
        Fleet {
            pid_file,
            bin: bin.to_path_buf(),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The pid the pid file names now (remembered for the cleanup).
    fn pid(&self) -> Option<i32> {
        let pid: i32 = fs::read_to_string(&self.pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.contains(&pid) {
            seen.push(pid);
        }
        Some(pid)
    }

    fn wait_pid(&self, prefix: &Prefix) -> i32 {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(pid) = self.pid().filter(|p| running(*p)) {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "no pid file naming a running process\n{}",
                prefix.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGUSR2 to the process the pid file names; waits until the file names another one
    /// that runs and the old one is gone. Returns (old, new).
    fn upgrade(&self, prefix: &Prefix) -> (i32, i32) {
        let old = self.wait_pid(prefix);
        // SAFETY: a signal to the pycnic process this test started (or its upgrade).
        unsafe { libc::kill(old, libc::SIGUSR2) };
        self.upgrade_done(prefix, old)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.pid();
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for pid in seen {
            // Only a process that still runs this test's binary (pids are reused).
            let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            let ours = exe.starts_with(self.bin.parent().unwrap_or(Path::new("/nonexistent")));
            if running(pid) && ours {
                // SAFETY: a process this test started, directly or through an upgrade.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Whether `pid` runs (a zombie, exited but not reaped, does not).
fn running(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Polls (bounded) until the log holds `text`.
fn wait_log(prefix: &Prefix, log: &Path, text: &str) {
    let deadline = Instant::now() + UPGRADE_WITHIN;
    while !fs::read_to_string(log).unwrap_or_default().contains(text) {
        assert!(
            Instant::now() < deadline,
            "no {text:?} in {}\n{}",
            log.display(),
            prefix.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The app (a copy under the prefix) with `--pid-file`, nginx in front.
struct Setup {
    fleet: Fleet,
    // Fields drop in order: processes, then the directory.
    _procs: Vec<Proc>,
    addr: SocketAddr,
    log: PathBuf,
    bin: PathBuf,
    prefix: Prefix,
}

#[derive(Clone, Copy, PartialEq)]
enum Link {
    /// conf/nginx/pycnic-tcp.conf as it is: kept-alive upstream connections.
    TcpKeepalive,
    /// conf/nginx/pycnic-unix.conf without `keepalive`: a connection per request.
    UnixNoKeepalive,
}

fn start(tag: &str, app: App, link: Link, extra: &[&str]) -> Setup {
    let prefix = Prefix::new(tag);
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let pid_file = prefix.join("var/pycnic.pid");
    let log = prefix.join("pycnic.log");
    let port = free_port(localhost());
    let (listen, site) = match link {
        Link::TcpKeepalive => {
            let backend: SocketAddr = (localhost(), free_port(localhost())).into();
            let site = prefix.render(
                &conf("nginx/pycnic-tcp.conf"),
                "site.conf",
                &[
                    ("BACKEND", &backend.to_string()),
                    ("PORT", &port.to_string()),
                ],
            );
            (backend.to_string(), site)
        }
        Link::UnixNoKeepalive => {
            let socket = prefix.join("pycnic.sock");
            let site = prefix.render(
                &conf("nginx/pycnic-unix.conf"),
                "site.conf",
                &[("SOCKET", text(&socket)), ("PORT", &port.to_string())],
            );
            let rendered = fs::read_to_string(&site).unwrap();
            let plain: String = rendered
                .lines()
                .filter(|l| !l.contains("keepalive 32;") && !l.contains("fastcgi_keep_conn on;"))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_ne!(plain, rendered, "the keepalive lines are gone");
            fs::write(&site, plain).unwrap();
            (format!("unix:{}", socket.display()), site)
        }
    };
    let group = web_user().group;
    let mut args = vec![
        "fastcgi",
        "--listen",
        &listen,
        "--pid-file",
        text(&pid_file),
    ];
    if link == Link::UnixNoKeepalive {
        args.extend(["--socket-mode", "660", "--socket-group", &group]);
    }
    args.extend(extra);
    let command = app_command(&bin, &args);
    let fleet = Fleet::new(pid_file, &bin);
    let pycnic = Proc::start("pycnic", command, &log);
    fleet.wait_pid(&prefix);
    let nginx = start_nginx(&prefix, &site, port);
    Setup {
        fleet,
        _procs: vec![nginx, pycnic],
        addr: (localhost(), port).into(),
        log,
        bin,
        prefix,
    }
}

impl Setup {
    fn status(&self, target: &str) -> u16 {
        send(self.addr, &Req::get(target)).status
    }
}

/// What wrk reported.
#[derive(Debug, Default)]
struct WrkCounts {
    requests: u64,
    non_2xx: u64,
    socket_errors: u64,
}

fn parse_wrk(output: &str) -> WrkCounts {
    let mut counts = WrkCounts::default();
    for line in output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            counts.non_2xx = rest.trim().parse().unwrap();
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 1, write 0, timeout 0"
            counts.socket_errors = rest
                .split(',')
                .map(|part| {
                    part.split_whitespace()
                        .last()
                        .unwrap()
                        .parse::<u64>()
                        .unwrap()
                })
                .sum();
        } else if let Some((n, _)) = line.split_once(" requests in ") {
            counts.requests = n.trim().parse().unwrap();
        }
    }
    counts
}

fn five_upgrades_under_wrk(link: Link, tag: &str) {
    require("wrk");
    let setup = start(tag, App::Showcase, link, &[]);
    assert_eq!(setup.status("/slow?ms=5"), 200, "{}", setup.prefix.logs());
    let url = format!("http://{}/slow?ms=5", setup.addr);
    let wrk_out = setup.prefix.join("wrk.out");
    let mut wrk = Command::new(require("wrk"));
    wrk.args([
        "-t1",
        "-c8",
        &format!("-d{WRK_SECONDS}s"),
        "--timeout",
        "10s",
        &url,
    ]);
    let mut wrk = Proc::start("wrk", wrk, &wrk_out);
    // wrk is connected and loading before the first upgrade.
    std::thread::sleep(Duration::from_millis(500));
    let mut pids = vec![setup.fleet.wait_pid(&setup.prefix)];
    for _ in 0..UPGRADES {
        let (old, new) = setup.fleet.upgrade(&setup.prefix);
        assert_eq!(Some(&old), pids.last());
        pids.push(new);
        assert_eq!(
            setup.status("/slow?ms=1"),
            200,
            "the new process {new} answers"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        wrk.is_running(),
        "the {UPGRADES} upgrades were done while wrk ran (make WRK_SECONDS larger)"
    );
    wrk.signal(libc::SIGINT);
    let status = wrk.wait_exit(Duration::from_secs(WRK_SECONDS + 30));
    assert!(status.is_some_and(|s| s.success()), "wrk: {status:?}");
    let output = fs::read_to_string(&wrk_out).unwrap();
    let counts = parse_wrk(&output);
    println!("{tag}: pids {pids:?}; wrk: {counts:?}\n{output}");
    assert!(counts.requests > 0, "wrk sent requests: {output}");
    assert_eq!(counts.non_2xx, 0, "no non-2xx answer: {output}");
    assert_eq!(counts.socket_errors, 0, "no socket error: {output}");
    let log = fs::read_to_string(&setup.log).unwrap();
    assert_eq!(
        log.matches("stops accepting and drains").count(),
        UPGRADES,
        "each old process handed over: {log}"
    );
    assert!(!log.contains("ERROR"), "no error logged: {log}");
    if link == Link::UnixNoKeepalive {
        assert!(
            setup.prefix.join("pycnic.sock").exists(),
            "the socket file stays through the upgrades"
        );
    }
}

#[test]
fn five_upgrades_under_wrk_over_tcp_with_keepalive_lose_nothing() {
    five_upgrades_under_wrk(Link::TcpKeepalive, "upgrade-tcp");
}

#[test]
fn five_upgrades_under_wrk_over_a_unix_socket_lose_nothing() {
    five_upgrades_under_wrk(Link::UnixNoKeepalive, "upgrade-unix");
}

/// Replaces the binary as `install` and `cargo install` do: a new file renamed over the path
/// (writing into a running executable fails with ETXTBSY).
fn replace_binary(bin: &Path, with: impl FnOnce(&Path)) {
    let fresh = bin.with_extension("new");
    with(&fresh);
    fs::set_permissions(&fresh, fs::Permissions::from_mode(0o755)).unwrap();
    fs::rename(&fresh, bin).unwrap();
}

#[test]
fn a_replaced_binary_serves_after_sigusr2() {
    let setup = start("upgrade-replaced", App::Seed, Link::TcpKeepalive, &[]);
    assert_eq!(setup.status("/login"), 200, "{}", setup.prefix.logs());
    assert_eq!(setup.status("/text"), 404, "the seed has no /text");
    replace_binary(&setup.bin, |to| {
        fs::copy(App::Showcase.binary(), to).unwrap();
    });
    let (old, new) = setup.fleet.upgrade(&setup.prefix);
    assert_ne!(old, new);
    assert_eq!(setup.status("/text"), 200, "the showcase's route answers");
    assert_eq!(setup.status("/login"), 404, "the seed's route is gone");
}

#[test]
fn a_failing_upgrade_leaves_the_old_process_serving() {
    let setup = start("upgrade-failing", App::Seed, Link::TcpKeepalive, &[]);
    let before = setup.fleet.wait_pid(&setup.prefix);
    let pid_text = fs::read_to_string(&setup.fleet.pid_file).unwrap();
    replace_binary(&setup.bin, |to| {
        fs::write(to, "#!/bin/sh\nsleep 1\nexit 1\n").unwrap();
    });
    // SAFETY: signals to the pycnic process this test started.
    unsafe { libc::kill(before, libc::SIGUSR2) };
    wait_log(&setup.prefix, &setup.log, "SIGUSR2: upgrading: started");
    // SAFETY: as above.
    unsafe { libc::kill(before, libc::SIGUSR2) };
    wait_log(&setup.prefix, &setup.log, "an upgrade is under way");
    wait_log(&setup.prefix, &setup.log, "ERROR");
    wait_log(&setup.prefix, &setup.log, "the failed upgrade's process");
    let log = fs::read_to_string(&setup.log).unwrap();
    assert!(
        log.contains("upgrade failed") && log.contains("exited before serving"),
        "{log}"
    );
    assert!(running(before), "the old process runs on");
    assert_eq!(
        fs::read_to_string(&setup.fleet.pid_file).unwrap(),
        pid_text,
        "the pid file is unchanged"
    );
    assert_eq!(setup.status("/login"), 200, "the old process serves");
    assert_eq!(log.matches("SIGUSR2: upgrading: started").count(), 1);
}

#[test]
fn a_socket_on_fd_0_is_handed_over() {
    let prefix = Prefix::new("upgrade-fd0");
    let bin = prefix.install_binary(&App::Seed.binary(), "pycnic");
    let socket = prefix.join("fd0.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).unwrap();
    let pid_file = prefix.join("var/pycnic.pid");
    let log = prefix.join("pycnic.log");
    let out = fs::File::create(&log).unwrap();
    // As spawn-fcgi runs it: bare, with the listening socket as its standard input.
    let mut command = app_command(&bin, &[]);
    command
        .env("PYCNIC_PID_FILE", &pid_file)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0);
    let fleet = Fleet::new(pid_file, &bin);
    let pycnic = Proc::adopt("pycnic", command.spawn().unwrap());
    let first = fleet.wait_pid(&prefix);
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("nginx/pycnic-unix.conf"),
        "site.conf",
        &[("SOCKET", text(&socket)), ("PORT", &port.to_string())],
    );
    let nginx = start_nginx(&prefix, &site, port);
    let addr: SocketAddr = (localhost(), port).into();
    assert_eq!(send(addr, &Req::get("/login")).status, 200);
    let socket_inode = fs::read_link(format!("/proc/{first}/fd/0")).unwrap();
    let (old, new) = fleet.upgrade(&prefix);
    assert_eq!(old, first);
    let fd0 = fs::read_link(format!("/proc/{new}/fd/0")).unwrap();
    assert_eq!(fd0, socket_inode, "the new process has the socket on fd 0");
    // A start on fd 0 is one process with no master, and its upgrade keeps that shape.
    assert_eq!(app_shape(new, "pycnic"), [0], "one process, no workers");
    let held = descriptors(new);
    assert_eq!(
        held.iter().filter(|fd| **fd == socket_inode).count(),
        1,
        "and nowhere else: {held:?}"
    );
    assert_eq!(
        send(addr, &Req::get("/login")).status,
        200,
        "{}",
        prefix.logs()
    );
    fleet.upgrade(&prefix);
    assert_eq!(send(addr, &Req::get("/login")).status, 200);
    assert!(socket.exists(), "the socket file stays");
    drop((nginx, pycnic, fleet));
}

#[test]
fn systemd_hears_ready_then_the_new_main_pid() {
    let prefix = Prefix::new("upgrade-notify");
    let bin = prefix.install_binary(&App::Seed.binary(), "pycnic");
    let notify_path = prefix.join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(UPGRADE_WITHIN))
        .expect("a read timeout");
    let pid_file = prefix.join("var/pycnic.pid");
    let backend: SocketAddr = (localhost(), free_port(localhost())).into();
    let listen = backend.to_string();
    let mut command = app_command(
        &bin,
        &[
            "fastcgi",
            "--listen",
            &listen,
            "--pid-file",
            text(&pid_file),
        ],
    );
    command.env("NOTIFY_SOCKET", &notify_path);
    let fleet = Fleet::new(pid_file, &bin);
    let pycnic = Proc::start("pycnic", command, &prefix.join("pycnic.log"));
    let receive = || {
        let mut buf = [0u8; 512];
        let n = notify
            .recv(&mut buf)
            .unwrap_or_else(|err| panic!("no sd_notify datagram: {err}\n{}", prefix.logs()));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = receive();
    assert_eq!(first, "READY=1\n");
    let pid = fleet.wait_pid(&prefix);
    assert_eq!(pid, pycnic.pid());
    // SAFETY: a signal to the process this test started.
    unsafe { libc::kill(pid, libc::SIGUSR2) };
    let second = receive();
    let (_, new) = fleet.upgrade_done(&prefix, pid);
    assert_eq!(second, format!("MAINPID={new}\nREADY=1\n"));
    assert!(accepts(backend));
}

impl Fleet {
    /// Waits until an upgrade of `old` (signalled already) is done; (old, new).
    fn upgrade_done(&self, prefix: &Prefix, old: i32) -> (i32, i32) {
        let deadline = Instant::now() + UPGRADE_WITHIN;
        loop {
            if let Some(new) = self.pid().filter(|p| *p != old && running(*p))
                && !running(old)
            {
                return (old, new);
            }
            assert!(
                Instant::now() < deadline,
                "upgrade of {old} not done\n{}",
                prefix.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn a_socket_activated_app_hands_systemds_socket_over() {
    let prefix = Prefix::new("upgrade-activated");
    let bin = prefix.install_binary(&App::Seed.binary(), "pycnic");
    let socket = prefix.join("pycnic.sock");
    // conf/systemd/pycnic.socket + pycnic.service; the pid file is the unit's, under the
    // runtime directory the harness gives it.
    let pycnic = start_socket_activated(&prefix, &bin, &socket);
    let fleet = Fleet::new(prefix.join("run/pycnic/pycnic.pid"), &bin);
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("nginx/pycnic-unix.conf"),
        "site.conf",
        &[("SOCKET", text(&socket)), ("PORT", &port.to_string())],
    );
    let nginx = start_nginx(&prefix, &site, port);
    let addr: SocketAddr = (localhost(), port).into();
    // The first connection starts the app.
    assert_eq!(
        send(addr, &Req::get("/login")).status,
        200,
        "{}",
        prefix.logs()
    );
    assert_eq!(fleet.wait_pid(&prefix), pycnic.pid(), "the unit's pid file");
    // systemd's socket, as the first process holds it on fd 3.
    let socket_inode = fs::read_link(format!("/proc/{}/fd/3", pycnic.pid())).unwrap();
    assert!(socket_inode.to_string_lossy().starts_with("socket:"));
    for _ in 0..2 {
        let (_, new) = fleet.upgrade(&prefix);
        let held = descriptors(new);
        assert_eq!(
            held.iter().filter(|fd| **fd == socket_inode).count(),
            1,
            "the new process holds systemd's socket {socket_inode:?} once: {held:?}"
        );
        assert_eq!(
            send(addr, &Req::get("/login")).status,
            200,
            "{}",
            prefix.logs()
        );
    }
    assert!(socket.exists(), "systemd's socket file stays");
    drop((nginx, pycnic, fleet));
}

/// Replaces the binary with a script that starts and never serves, sends the old process
/// (`old`) SIGUSR2, and returns the pid of the new process it started.
fn upgrade_to_a_binary_that_never_serves(setup: &Setup, old: i32) -> i32 {
    replace_binary(&setup.bin, |to| {
        fs::write(to, "#!/bin/sh\nexec sleep 60\n").unwrap();
    });
    // SAFETY: a signal to the pycnic process this test started.
    unsafe { libc::kill(old, libc::SIGUSR2) };
    wait_log(&setup.prefix, &setup.log, "SIGUSR2: upgrading: started");
    let log = fs::read_to_string(&setup.log).unwrap();
    log.split_once(" as pid ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no new pid in {log}"))
}

#[test]
fn sigterm_during_an_upgrade_stops_the_new_process_too() {
    let setup = start("upgrade-cancel", App::Seed, Link::TcpKeepalive, &[]);
    let old = setup.fleet.wait_pid(&setup.prefix);
    let new = upgrade_to_a_binary_that_never_serves(&setup, old);
    // SAFETY: a signal to the pycnic process this test started.
    unsafe { libc::kill(old, libc::SIGTERM) };
    let deadline = Instant::now() + UPGRADE_WITHIN;
    while running(old) || running(new) {
        assert!(
            Instant::now() < deadline,
            "old {old} or new {new} still runs\n{}",
            setup.prefix.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = fs::read_to_string(&setup.log).unwrap();
    assert!(
        log.contains(&format!("killed the new process {new}")),
        "{log}"
    );
}

#[test]
fn a_new_process_that_never_serves_is_killed_at_the_upgrade_timeout() {
    let setup = start(
        "upgrade-timeout",
        App::Seed,
        Link::TcpKeepalive,
        &["--upgrade-timeout", "1"],
    );
    let old = setup.fleet.wait_pid(&setup.prefix);
    let pid_text = fs::read_to_string(&setup.fleet.pid_file).unwrap();
    let new = upgrade_to_a_binary_that_never_serves(&setup, old);
    wait_log(&setup.prefix, &setup.log, "is not serving within 1s");
    wait_log(&setup.prefix, &setup.log, "the failed upgrade's process");
    assert!(!running(new), "the new process was killed");
    assert!(running(old), "the old process runs on");
    assert_eq!(
        fs::read_to_string(&setup.fleet.pid_file).unwrap(),
        pid_text,
        "the pid file is unchanged"
    );
    assert_eq!(setup.status("/login"), 200, "the old process serves");
}

/// What process `pid`'s descriptors point at (`socket:[inode]`, paths...).
fn descriptors(pid: i32) -> Vec<PathBuf> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
        .collect()
}
