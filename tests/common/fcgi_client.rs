//! The FastCGI integration tests' own client and process guard. The client encodes records
//! by hand from the FastCGI 1.0 specification (it does not use the crate's codec, so the
//! tests check the wire, not the codec against itself). The guard starts the real binary on
//! a listening socket the test made (passed on fd 0, as spawn-fcgi does: no port race), logs
//! its stderr to a file in its own temp dir, and kills and reaps it on drop.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use std::time::{Duration, Instant};

pub const BEGIN_REQUEST: u8 = 1;
pub const ABORT_REQUEST: u8 = 2;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const STDERR: u8 = 7;
pub const GET_VALUES: u8 = 9;
pub const GET_VALUES_RESULT: u8 = 10;
pub const UNKNOWN_TYPE: u8 = 11;
pub const RESPONDER: u16 = 1;
pub const AUTHORIZER: u16 = 2;
pub const FILTER: u16 = 3;
pub const KEEP_CONN: u8 = 1;

/// A generous bound for anything the tests wait on; never a latency assertion.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn record(record_type: u8, id: u16, content: &[u8]) -> Vec<u8> {
    assert!(content.len() <= 65535, "test record too long");
    let mut out = vec![1, record_type];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(content);
    out
}

pub fn begin(id: u16, role: u16, flags: u8) -> Vec<u8> {
    let [r1, r0] = role.to_be_bytes();
    record(BEGIN_REQUEST, id, &[r1, r0, flags, 0, 0, 0, 0, 0])
}

fn length(out: &mut Vec<u8>, len: usize) {
    if len < 128 {
        out.push(len as u8);
    } else {
        out.extend_from_slice(&(len as u32 | 0x8000_0000).to_be_bytes());
    }
}

pub fn pairs(params: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in params {
        length(&mut out, name.len());
        length(&mut out, value.len());
        out.extend_from_slice(name);
        out.extend_from_slice(value);
    }
    out
}

/// A stream (PARAMS, STDIN) cut into records of at most `chunk` bytes, then its empty record.
pub fn stream(record_type: u8, id: u16, data: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        out.extend(record(record_type, id, piece));
    }
    out.extend(record(record_type, id, b""));
    out
}

/// A whole Responder request: BEGIN, PARAMS, STDIN.
pub fn request_bytes(id: u16, keep: bool, params: &[(&[u8], &[u8])], body: &[u8]) -> Vec<u8> {
    let flags = if keep { KEEP_CONN } else { 0 };
    [
        begin(id, RESPONDER, flags),
        stream(PARAMS, id, &pairs(params), 65535),
        stream(STDIN, id, body, 65535),
    ]
    .concat()
}

/// The params nginx's stock `fastcgi_params` would send for `method target`.
pub fn http_params(method: &str, target: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_METHOD", method),
        ("REQUEST_URI", target),
        ("QUERY_STRING", query),
        ("SCRIPT_NAME", ""),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PORT", "80"),
    ]
    .iter()
    .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
    .collect()
}

pub fn as_refs(params: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    params.iter().map(|(n, v)| (&n[..], &v[..])).collect()
}

/// One record as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub record_type: u8,
    pub id: u16,
    pub content: Vec<u8>,
}

/// What the application sent for one request.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    pub stdout: Vec<u8>,
    pub stdout_records: Vec<usize>,
    /// (appStatus, protocolStatus) of END_REQUEST.
    pub end: Option<(u32, u8)>,
}

impl Reply {
    pub fn status(&self) -> u16 {
        let text = String::from_utf8_lossy(&self.stdout);
        text.strip_prefix("Status: ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    pub fn body(&self) -> &[u8] {
        let at = self.stdout.windows(4).position(|w| w == b"\r\n\r\n");
        at.map_or(&[][..], |at| &self.stdout[at + 4..])
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body()).unwrap_or(serde_json::Value::Null)
    }

    pub fn header_lines(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.stdout).into_owned();
        let head = text
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .to_string();
        head.split("\r\n").skip(1).map(String::from).collect()
    }
}

/// A connection to the application, TCP or unix.
pub enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Client {
    pub fn tcp(addr: std::net::SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the server");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("read timeout");
        Client::Tcp(stream)
    }

    pub fn unix(path: &Path) -> Client {
        let stream = UnixStream::connect(path).expect("connect to the unix socket");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("read timeout");
        Client::Unix(stream)
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Client::Tcp(s) => s.write_all(bytes),
            Client::Unix(s) => s.write_all(bytes),
        }
    }

    /// Half-closes: the application sees EOF.
    pub fn shutdown_write(&self) {
        let _ = match self {
            Client::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Client::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }

    fn read_exact_or_eof(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            let n = match self {
                Client::Tcp(s) => s.read(&mut buf[got..])?,
                Client::Unix(s) => s.read(&mut buf[got..])?,
            };
            if n == 0 {
                return if got == 0 {
                    Ok(false)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
            got += n;
        }
        Ok(true)
    }

    /// The next record, or `None` when the application closed the connection.
    pub fn read_record(&mut self) -> io::Result<Option<Record>> {
        let mut header = [0u8; 8];
        if !self.read_exact_or_eof(&mut header)? {
            return Ok(None);
        }
        assert_eq!(header[0], 1, "version of a record from the application");
        let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
        let mut content = vec![0; len + usize::from(header[6])];
        if !self.read_exact_or_eof(&mut content)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        content.truncate(len);
        Ok(Some(Record {
            record_type: header[1],
            id: u16::from_be_bytes([header[2], header[3]]),
            content,
        }))
    }

    /// Reads records until END_REQUEST for `id`.
    pub fn read_reply(&mut self, id: u16) -> io::Result<Reply> {
        let mut reply = Reply::default();
        loop {
            let Some(rec) = self.read_record()? else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before END_REQUEST",
                ));
            };
            assert_eq!(rec.id, id, "record for another request: {rec:?}");
            match rec.record_type {
                STDOUT => {
                    reply.stdout_records.push(rec.content.len());
                    reply.stdout.extend_from_slice(&rec.content);
                }
                STDERR => {}
                END_REQUEST => {
                    let c = &rec.content;
                    let app = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                    reply.end = Some((app, c[4]));
                    return Ok(reply);
                }
                other => panic!("unexpected record type {other} in a reply"),
            }
        }
    }

    pub fn request(
        &mut self,
        id: u16,
        keep: bool,
        params: &[(&[u8], &[u8])],
        body: &[u8],
    ) -> Reply {
        self.send(&request_bytes(id, keep, params, body))
            .expect("send the request");
        self.read_reply(id).expect("read the reply")
    }

    /// `method target` with nginx-like params, kept alive.
    pub fn get(&mut self, target: &str) -> Reply {
        let params = http_params("GET", target);
        self.request(1, true, &as_refs(&params), b"")
    }

    /// Whether the application closes this connection (EOF or reset) within PATIENCE,
    /// skipping any records it sends first.
    pub fn closed_by_server(&mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            match self.read_record() {
                Ok(None) => return true,
                Ok(Some(_)) => {}
                Err(err)
                    if err.kind() == io::ErrorKind::WouldBlock
                        || err.kind() == io::ErrorKind::TimedOut =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
        false
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temp directory of the test's own, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("pycnic-fcgi-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The shipped binary (the seed app).
pub fn pycnic_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pycnic"))
}

/// The showcase example, up to date (`examples.rs`).
pub fn showcase_bin() -> PathBuf {
    crate::examples::example_bin("showcase")
}

/// A running server, killed and reaped on drop.
pub struct Server {
    pub child: Option<Child>,
    pub addr: Option<std::net::SocketAddr>,
    pub dir: TempDir,
}

impl Server {
    /// Starts `bin args...` with a fresh 127.0.0.1 listening socket on fd 0.
    pub fn on_fd0(bin: &Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test port");
        let addr = listener.local_addr().expect("local addr");
        let mut server = Server::spawn(bin, args, envs, Stdio::from(OwnedFd::from(listener)));
        server.addr = Some(addr);
        server
    }

    /// Starts `bin fastcgi args...` on fd 0.
    pub fn fastcgi(bin: &Path, args: &[&str]) -> Server {
        let mut all = vec!["fastcgi"];
        all.extend_from_slice(args);
        Server::on_fd0(bin, &all, &[])
    }

    pub fn spawn(bin: &Path, args: &[&str], envs: &[(&str, &str)], stdin: Stdio) -> Server {
        let dir = TempDir::new("server");
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
        let child = Command::new(bin)
            .args(args)
            .envs(envs.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the server");
        Server {
            child: Some(child),
            addr: None,
            dir,
        }
    }

    pub fn connect(&self) -> Client {
        Client::tcp(self.addr.expect("a TCP server"))
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Waits (bounded) until stderr contains `text`.
    pub fn wait_for_log(&self, text: &str) -> bool {
        wait_until(|| self.stderr().contains(text))
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, signal) };
        }
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub const SIGTERM: i32 = libc::SIGTERM;
pub const SIGINT: i32 = libc::SIGINT;

/// Polls `check` every 20 ms until it holds, for at most PATIENCE.
pub fn wait_until(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
