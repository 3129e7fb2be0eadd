//! Helpers of the overload tests (tests/load/): one heavy test at a time per
//! test process, the server's peak resident memory, a server started under a lowered
//! RLIMIT_NOFILE or on a unix socket, request bytes with nginx-like params, a receive-buffer
//! knob, a second handle on a client's socket, and timed one-shot requests.
//!
//! Declared in `tests/load/main.rs` next to `fcgi_client.rs`:
//! `#[path = "../common/load.rs"] mod load;`.
#![allow(dead_code)]

use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::fcgi_client::*;

/// Held by each test of tests/load/ for its whole run: they run one after another, so
/// that one test's load does not make another's "answered within N s" bound flaky.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A field of /proc/PID/status in kB (VmHWM: peak resident set; VmRSS: resident now).
pub fn proc_status_kb(pid: i32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{field}:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Raises this test process's soft RLIMIT_NOFILE to its hard limit (the tests hold
/// hundreds of sockets at once).
pub fn raise_own_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on our own process with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// `bin fastcgi args...` on a fresh 127.0.0.1 listening socket (fd 0) with RLIMIT_NOFILE
/// soft = hard = `nofile`, as `ulimit -n nofile` would leave it.
pub fn fastcgi_with_fd_limit(bin: &Path, args: &[&str], nofile: u64) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    let addr = listener.local_addr().expect("local addr");
    let dir = TempDir::new("fd-limit");
    let mut server = spawn_on(bin, args, OwnedFd::from(listener), dir, Some(nofile));
    server.addr = Some(addr);
    server
}

/// `bin fastcgi args...` on a fresh unix listening socket (fd 0), at [`unix_socket`].
pub fn fastcgi_on_unix(bin: &Path, args: &[&str]) -> Server {
    let dir = TempDir::new("unix");
    let listener =
        std::os::unix::net::UnixListener::bind(dir.path().join("fcgi.sock")).expect("bind");
    spawn_on(bin, args, OwnedFd::from(listener), dir, None)
}

/// Where a server from [`fastcgi_on_unix`] listens.
pub fn unix_socket(server: &Server) -> std::path::PathBuf {
    server.dir.path().join("fcgi.sock")
}

/// Starts `bin fastcgi args...` with `listener` on fd 0, its stderr in `dir`.
fn spawn_on(
    bin: &Path,
    args: &[&str],
    listener: OwnedFd,
    dir: TempDir,
    nofile: Option<u64>,
) -> Server {
    let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
    let mut command = Command::new(bin);
    command
        .arg("fastcgi")
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::from(listener))
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(nofile) = nofile {
        // SAFETY: setrlimit is async-signal-safe; it only lowers the child's own limit.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: nofile,
                    rlim_max: nofile,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    Server {
        child: Some(command.spawn().expect("start the server")),
        addr: None,
        dir,
    }
}

/// A second handle on the client's socket, for a thread that writes while another reads.
pub fn writer_of(client: &Client) -> Box<dyn Write + Send> {
    match client {
        Client::Tcp(stream) => Box::new(stream.try_clone().expect("a second handle")),
        Client::Unix(stream) => Box::new(stream.try_clone().expect("a second handle")),
    }
}

/// The bytes of one Responder request for `method target` with nginx-like params, a
/// CONTENT_LENGTH when there is a body, and `extra` params.
pub fn http_request(
    id: u16,
    keep: bool,
    method: &str,
    target: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut params = http_params(method, target);
    if !body.is_empty() {
        params.push((b"CONTENT_LENGTH".to_vec(), body.len().to_string().into()));
    }
    for (name, value) in extra {
        params.push((name.as_bytes().to_vec(), value.as_bytes().to_vec()));
    }
    request_bytes(id, keep, &as_refs(&params), body)
}

/// The TCP stream under a test client.
pub fn tcp_of(client: &Client) -> &TcpStream {
    match client {
        Client::Tcp(stream) => stream,
        Client::Unix(_) => panic!("a TCP client was expected"),
    }
}

/// Sets the socket's receive buffer to `bytes` (which also stops its autotuning), so that a
/// reply the client does not read backs up in the sender after a few megabytes at most.
pub fn set_receive_buffer(stream: &TcpStream, bytes: usize) {
    let size = libc::c_int::try_from(bytes).expect("a buffer size");
    // SAFETY: setsockopt on a socket we own, with a c_int option value of the right size.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt SO_RCVBUF");
}

/// Sends one request on a new connection and reads its reply, with `within` as the read
/// timeout: the outcome (a connection error is an `Err`, not a panic) and how long it took.
pub fn timed_request(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    within: Duration,
) -> (Result<Reply, String>, Duration) {
    let started = std::time::Instant::now();
    let outcome = (|| {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(within))
            .map_err(|e| e.to_string())?;
        let mut client = Client::Tcp(stream);
        client.send(bytes).map_err(|e| format!("send: {e}"))?;
        client.read_reply(1).map_err(|e| format!("read: {e}"))
    })();
    (outcome, started.elapsed())
}
