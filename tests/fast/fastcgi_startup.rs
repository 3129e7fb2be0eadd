//! `pycnic fastcgi --listen` at start-up: a failure always reaches stderr whatever `RUST_LOG`
//! says, host names bind every address they resolve to, and unix sockets get the owner and
//! group asked for (so nginx's `www-data` can connect) before the server says it listens.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use crate::fcgi_client::*;

/// `pycnic fastcgi ARGS…` with `RUST_LOG` set, run to its exit (bounded by the test's own
/// failure: a start-up error exits at once).
fn start_failure(args: &[&str], rust_log: &str) -> (Option<i32>, String) {
    let output = Command::new(pycnic_bin())
        .arg("fastcgi")
        .args(args)
        .env("RUST_LOG", rust_log)
        .stdin(Stdio::null())
        .output()
        .expect("run pycnic fastcgi");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_port_in_use_is_reported_on_stderr_whatever_rust_log_says() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    let addr = taken.local_addr().expect("local addr").to_string();
    for rust_log in ["info", "foo=info", "off", "pycnic=off", "warn"] {
        let (code, stderr) = start_failure(&["--listen", &addr], rust_log);
        assert_eq!(code, Some(1), "RUST_LOG={rust_log}: {stderr}");
        assert!(
            stderr.contains("cannot start") && stderr.contains(&addr),
            "RUST_LOG={rust_log}: the error names the address: {stderr:?}"
        );
    }
}

#[test]
fn a_host_that_does_not_resolve_is_a_clear_start_up_error() {
    let (code, stderr) = start_failure(&["--listen", "localhost:notaport"], "off");
    assert_eq!(code, Some(2), "refused by the option parser: {stderr}");
    assert!(stderr.contains("localhost:notaport"), "{stderr}");
}

/// A port free on every loopback address `localhost` resolves to, right now.
fn free_localhost_port(addrs: &[SocketAddr]) -> u16 {
    for _ in 0..50 {
        let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
        let port = probe.local_addr().expect("local addr").port();
        drop(probe);
        if addrs
            .iter()
            .all(|a| TcpListener::bind(SocketAddr::new(a.ip(), port)).is_ok())
        {
            return port;
        }
    }
    panic!("no port free on every localhost address");
}

#[test]
fn listen_localhost_binds_every_address_localhost_resolves_to() {
    let mut addrs: Vec<SocketAddr> = ("localhost", 0)
        .to_socket_addrs()
        .expect("resolve localhost")
        .collect();
    addrs.dedup();
    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    let port = free_localhost_port(&addrs);
    let listen = format!("localhost:{port}");
    let server = Server::spawn(
        &pycnic_bin(),
        &["fastcgi", "--listen", &listen],
        &[],
        Stdio::null(),
    );
    for addr in &addrs {
        let expected = format!("listening on {}", SocketAddr::new(addr.ip(), port));
        assert!(
            server.wait_for_log(&expected),
            "{expected}: {}",
            server.stderr()
        );
        let mut client = Client::tcp(SocketAddr::new(addr.ip(), port));
        assert_eq!(client.get("/login").status(), 200, "through {addr}");
    }
}

/// The uid and gid of a user and group that are not root's, from the system's databases.
fn id_of(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().expect("run id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a numeric id")
}

#[test]
fn a_unix_socket_gets_the_owner_group_and_mode_asked_for_before_listening() {
    let dir = TempDir::new("socket-perms");
    let socket = dir.path().join("app.sock");
    let listen = format!("unix:{}", socket.display());
    let root = id_of(&["-u"]) == 0;
    // Root gives the socket away (nginx's case: `--socket-group www-data`); anyone else can
    // still name a group of their own.
    let (owner, group) = if root {
        ("nobody".to_string(), "nogroup".to_string())
    } else {
        (id_of(&["-u"]).to_string(), id_of(&["-g"]).to_string())
    };
    let server = Server::spawn(
        &pycnic_bin(),
        &[
            "fastcgi",
            "--listen",
            &listen,
            "--socket-mode",
            "660",
            "--socket-owner",
            &owner,
            "--socket-group",
            &group,
        ],
        &[],
        Stdio::null(),
    );
    assert!(
        server.wait_for_log("listening on unix:"),
        "{}",
        server.stderr()
    );
    let meta = std::fs::metadata(&socket).expect("the socket exists once announced");
    let want_uid = if root {
        id_of(&["-u", "nobody"])
    } else {
        id_of(&["-u"])
    };
    let want_gid = if root {
        id_of(&["-g", "nobody"])
    } else {
        id_of(&["-g"])
    };
    // `nobody`'s primary group is `nogroup` on Debian; compare with the database anyway.
    let nogroup = Command::new("getent")
        .args(["group", &group])
        .output()
        .expect("run getent");
    let gid: u32 = String::from_utf8_lossy(&nogroup.stdout)
        .split(':')
        .nth(2)
        .and_then(|g| g.trim().parse().ok())
        .unwrap_or(want_gid);
    assert_eq!((meta.uid(), meta.gid()), (want_uid, gid), "owner and group");
    assert_eq!(meta.mode() & 0o7777, 0o660, "mode");
    let mut client = Client::unix(&socket);
    assert_eq!(client.get("/login").status(), 200);
}

#[test]
fn an_unknown_socket_group_is_refused_before_anything_is_bound() {
    let dir = TempDir::new("socket-group");
    let socket = dir.path().join("app.sock");
    let listen = format!("unix:{}", socket.display());
    let (code, stderr) = start_failure(
        &[
            "--listen",
            &listen,
            "--socket-group",
            "no-such-group-pycnic",
        ],
        "off",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no-such-group-pycnic"), "{stderr}");
    assert!(!socket.exists(), "nothing bound");
}

/// Starts bare `pycnic` on a listening socket on fd 0 with a worker's environment naming a
/// master that is not its parent (the master died before the worker checked), and the
/// master's scoreboard (a memfd of that name, inherited at fd 7) when `scoreboard` holds.
fn worker_whose_master_is_gone(scoreboard: bool) -> Server {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    let addr = listener.local_addr().expect("local addr");
    // SAFETY: memfd_create with a NUL-terminated name; close-on-exec, so no other child of
    // this test process inherits it.
    let board = unsafe { libc::memfd_create(c"pycnic-scoreboard".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(board >= 0, "memfd_create");
    // SAFETY: the descriptor was just created and nothing else owns it.
    let board = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(board) };
    let board_fd = board.as_raw_fd();
    let dir = TempDir::new("orphan");
    let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
    let mut command = Command::new(pycnic_bin());
    command
        .env("RUST_LOG", "info")
        .env("PYCNIC_PROCESSES", "2")
        .env("PYCNIC_WORKER", "0")
        // pid 1 is never this test's process, so never the child's parent.
        .env("PYCNIC_UPGRADE_PARENT", "1")
        .env("PYCNIC_SCOREBOARD", "7")
        .stdin(Stdio::from(OwnedFd::from(listener)))
        .stdout(Stdio::null())
        .stderr(log);
    if scoreboard {
        // SAFETY: dup2 is async-signal-safe; it puts the memfd at fd 7 without FD_CLOEXEC, as
        // a master passes it.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(board_fd, 7) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = command.spawn().expect("start pycnic");
    drop(board);
    Server {
        child: Some(child),
        addr: Some(addr),
        dir,
    }
}

#[test]
fn a_worker_whose_master_died_before_it_started_exits_instead_of_serving_alone() {
    let mut orphan = worker_whose_master_is_gone(true);
    let status = orphan.wait_exit().expect("exits at once");
    assert!(!status.success(), "{}", orphan.stderr());
    assert!(
        orphan.stderr().contains("the master is gone"),
        "{}",
        orphan.stderr()
    );
    assert!(
        !orphan.stderr().contains("starts 2 worker processes"),
        "it must not become a master of its own: {}",
        orphan.stderr()
    );
    // The same environment without the scoreboard is a process the app started, which
    // inherits the variables: it starts as the options say (here a pool on fd 0).
    let inherited = worker_whose_master_is_gone(false);
    assert_eq!(
        inherited.connect().get("/login").status(),
        200,
        "{}",
        inherited.stderr()
    );
}
