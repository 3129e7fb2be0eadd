//! Real clients and launchers: `cgi-fcgi` (libfcgi) with a 9 KB environment, `spawn-fcgi`
//! and `systemd-socket-activate` starting bare `pycnic`, `--listen` on a unix socket (mode,
//! stale file replaced, live one refused, file removed at exit) and on TCP.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::fcgi_client::*;
use serde_json::json;

/// Runs `cgi-fcgi -bind -connect TARGET` with `env` and `body`; returns its stdout.
fn cgi_fcgi(target: &str, env: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("cgi-fcgi")
        .args(["-bind", "-connect", target])
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cgi-fcgi on PATH (libfcgi-bin)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("body");
    child.wait_with_output().expect("cgi-fcgi output").stdout
}

fn body_json(stdout: &[u8]) -> serde_json::Value {
    let reply = Reply {
        stdout: stdout.to_vec(),
        ..Reply::default()
    };
    reply.json()
}

/// Waits (bounded) until a unix socket at `path` accepts connections.
fn wait_for_unix(path: &Path) -> bool {
    wait_until(|| std::os::unix::net::UnixStream::connect(path).is_ok())
}

#[test]
fn cgi_fcgi_with_a_9kb_environment_is_answered() {
    let server = Server::fastcgi(&showcase_bin(), &[]);
    let target = server.addr.expect("tcp").to_string();
    let big = "b".repeat(9 * 1024);
    let env = [
        ("REQUEST_METHOD", "POST"),
        ("REQUEST_URI", "/echo?from=cgi-fcgi"),
        ("CONTENT_LENGTH", "11"),
        ("HTTP_X_BIG", big.as_str()),
        ("HTTP_COOKIE", "a=1"),
    ];
    let stdout = cgi_fcgi(&target, &env, b"hello world");
    assert!(
        stdout.starts_with(b"Status: 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&stdout)
    );
    let echo = body_json(&stdout);
    assert_eq!(
        echo["headers"]["X-Big"].as_str().map(str::len),
        Some(9 * 1024)
    );
    assert_eq!(echo["body"], json!("hello world"));
    assert_eq!(echo["args"], json!({"from": "cgi-fcgi"}));
}

#[test]
fn spawn_fcgi_starts_bare_pycnic_on_fd_0() {
    let dir = TempDir::new("spawn");
    let socket = dir.path().join("spawn.sock");
    // -n: spawn-fcgi does not fork, it execs pycnic in place, so the guard kills pycnic.
    let child = Command::new("spawn-fcgi")
        .arg("-n")
        .arg("-s")
        .arg(&socket)
        .arg("--")
        .arg(pycnic_bin())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn-fcgi on PATH");
    let _server = Server {
        child: Some(child),
        addr: None,
        dir: TempDir::new("spawn-log"),
    };
    assert!(
        wait_for_unix(&socket),
        "pycnic serves the socket spawn-fcgi made"
    );
    let env = [
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/login"),
        ("HTTP_COOKIE", "session_id=s1"),
    ];
    let stdout = cgi_fcgi(&socket.to_string_lossy(), &env, b"");
    assert_eq!(body_json(&stdout), json!({"session_id": "s1"}));
}

#[test]
fn systemd_socket_activate_starts_bare_pycnic_with_listen_fds() {
    let dir = TempDir::new("systemd");
    let socket = dir.path().join("activate.sock");
    let child = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(&socket)
        .arg(pycnic_bin())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate on PATH");
    // It execs pycnic in place on the first connection: the guard kills pycnic.
    let _server = Server {
        child: Some(child),
        addr: None,
        dir: TempDir::new("systemd-log"),
    };
    // Connectable, not just there: the socket file exists from bind(), a moment before
    // listen(). The probe is the first connection: pycnic, exec'd for it, sees it close.
    assert!(
        wait_until(|| std::os::unix::net::UnixStream::connect(&socket).is_ok()),
        "socket listening"
    );
    let mut client = Client::unix(&socket);
    assert_eq!(client.get("/login").json(), json!({"session_id": null}));
    assert_eq!(
        client.get("/nowhere").status(),
        404,
        "same connection, kept alive"
    );
}

#[test]
fn bare_pycnic_with_a_tcp_socket_on_fd_0_serves_fastcgi() {
    let server = Server::on_fd0(&pycnic_bin(), &[], &[]);
    assert_eq!(server.connect().get("/login").status(), 200);
}

#[test]
fn bare_pycnic_without_a_socket_prints_usage_and_exits_2() {
    let output = Command::new(pycnic_bin())
        .env_remove("GATEWAY_INTERFACE")
        .env_remove("LISTEN_FDS")
        .stdin(Stdio::null())
        .output()
        .expect("run pycnic");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing on stdout");
    assert!(String::from_utf8_lossy(&output.stderr).contains("FastCGI"));
}

#[test]
fn unix_socket_listen_sets_the_mode_replaces_a_stale_file_and_cleans_up() {
    let dir = TempDir::new("unix");
    let socket = dir.path().join("app.sock");
    // A stale socket file: bound, then its owner went away.
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("stale socket"));
    assert!(socket.exists());
    let listen = format!("unix:{}", socket.display());
    let args = [
        "fastcgi",
        "--listen",
        listen.as_str(),
        "--socket-mode",
        "600",
    ];
    let mut server = Server::spawn(&pycnic_bin(), &args, &[], Stdio::null());
    assert!(wait_for_unix(&socket), "{}", server.stderr());
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "--socket-mode");
    assert_eq!(Client::unix(&socket).get("/login").status(), 200);
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit().and_then(|s| s.code()), Some(0));
    assert!(!socket.exists(), "socket file removed at exit");
}

#[test]
fn unix_socket_listen_refuses_a_live_socket() {
    let dir = TempDir::new("live");
    let socket = dir.path().join("live.sock");
    let _live = std::os::unix::net::UnixListener::bind(&socket).expect("a live server");
    let listen = format!("unix:{}", socket.display());
    let mut server = Server::spawn(
        &pycnic_bin(),
        &["fastcgi", "--listen", &listen],
        &[],
        Stdio::null(),
    );
    let status = server.wait_exit().expect("exits at once");
    assert!(!status.success(), "must not take over a live socket");
    assert!(
        server.stderr().contains("live server"),
        "{}",
        server.stderr()
    );
    assert!(socket.exists(), "the live socket is left alone");
}

/// Starts `pycnic fastcgi --listen HOST:PORT` on a free port (retrying if another process
/// takes the port between probing and binding).
fn listen_on_free_port(host: &str) -> Option<(Server, std::net::SocketAddr)> {
    for _ in 0..5 {
        let probe = std::net::TcpListener::bind(format!("{host}:0")).ok()?;
        let addr = probe.local_addr().ok()?;
        drop(probe);
        let listen = addr.to_string();
        let mut server = Server::spawn(
            &pycnic_bin(),
            &["fastcgi", "--listen", &listen],
            &[],
            Stdio::null(),
        );
        let ready = wait_until(|| {
            std::net::TcpStream::connect(addr).is_ok()
                || server
                    .child
                    .as_mut()
                    .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
        });
        if ready
            && server
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
        {
            server.addr = Some(addr);
            return Some((server, addr));
        }
    }
    None
}

#[test]
fn tcp_listen_on_ipv4_and_ipv6_loopback() {
    let (server, _) = listen_on_free_port("127.0.0.1").expect("a free IPv4 port");
    assert_eq!(server.connect().get("/login").status(), 200, "127.0.0.1");
    // IPv6 may be disabled on a machine; only then is the [::1] half skipped.
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let (server, _) = listen_on_free_port("[::1]").expect("a free IPv6 port");
        assert_eq!(server.connect().get("/login").status(), 200, "[::1]");
    }
}

/// The shape of `server` (see `app_shape`) once it is `want`, or as it is after the bounded wait.
fn shape_becomes(server: &Server, want: &[usize]) -> Vec<usize> {
    let mut shape = Vec::new();
    wait_until(|| {
        shape = crate::e2e::app_shape(server.pid(), "pycnic");
        shape == want
    });
    shape
}

#[test]
fn by_default_a_listening_app_is_a_master_over_two_workers_and_an_fd_0_start_one_process() {
    let dir = TempDir::new("shape");
    let socket = dir.path().join("shape.sock");
    let listen = format!("unix:{}", socket.display());
    let pool = Server::spawn(
        &pycnic_bin(),
        &["fastcgi", "--listen", &listen],
        &[],
        Stdio::null(),
    );
    assert!(wait_for_unix(&socket), "{}", pool.stderr());
    assert_eq!(Client::unix(&socket).get("/login").status(), 200);
    assert_eq!(
        shape_becomes(&pool, &[2]),
        [2],
        "--listen: {}",
        pool.stderr()
    );

    let one = Server::on_fd0(&pycnic_bin(), &["fastcgi", "--processes", "1"], &[]);
    assert_eq!(one.connect().get("/login").status(), 200);
    assert_eq!(
        shape_becomes(&one, &[0]),
        [0],
        "--processes 1: {}",
        one.stderr()
    );

    let fd0 = Server::on_fd0(&pycnic_bin(), &[], &[]);
    assert_eq!(fd0.connect().get("/login").status(), 200);
    assert_eq!(shape_becomes(&fd0, &[0]), [0], "fd 0: {}", fd0.stderr());

    let asked = Server::on_fd0(&pycnic_bin(), &[], &[("PYCNIC_PROCESSES", "2")]);
    assert_eq!(asked.connect().get("/login").status(), 200);
    assert_eq!(
        shape_becomes(&asked, &[2]),
        [2],
        "fd 0 with PYCNIC_PROCESSES=2: {}",
        asked.stderr()
    );
}
