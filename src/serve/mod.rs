//! `serve`: a development HTTP/1.1 server, so an app can be tried with curl or a browser
//! without configuring a web server. It is for development: production stays behind nginx,
//! Apache or lighttpd.
//!
//! The model: a blocking listener and one thread per connection (at most
//! [`MAX_CONNECTIONS`]); each connection reads heads with `httparse` under our own limits
//! (`head.rs`), bodies by `Content-Length` or `chunked` (`body.rs`), and answers each request
//! through the same gateway as CGI and FastCGI (`exchange.rs`), so status, headers and body are
//! the bytes CGI writes; `reply.rs` turns them into HTTP/1.1 (status line, `Date`,
//! `Content-Length` or `chunked` for a streamed body, `Connection`). Keep-alive, pipelining,
//! `Expect: 100-continue` and HEAD work; a request with both `Transfer-Encoding` and
//! `Content-Length` is refused.

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::app::App;

pub mod body;
pub mod conn;
pub mod error;
pub mod exchange;
pub mod head;
pub mod input;
pub mod reply;

/// Connections served at once; one more gets a 503 and is closed.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a read may wait: an idle kept-alive connection closes after it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one request (head and body) may take to arrive: a slow client gets a 408.
pub const REQUEST_TIME: Duration = Duration::from_secs(30);

/// The options of `serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// Allow an address other than loopback (the server is for development: anyone who can
    /// reach the address can use the app).
    #[arg(long)]
    pub public: bool,
}

/// Why `serve` cannot start.
#[derive(Debug)]
pub enum ServeError {
    /// The address does not resolve.
    Address(String),
    /// A non-loopback address without `--public`.
    NotLoopback(SocketAddr),
    /// Binding failed.
    Bind(SocketAddr, std::io::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Address(why) => write!(f, "cannot use the address: {why}"),
            ServeError::NotLoopback(addr) => write!(
                f,
                "{addr} is not a loopback address: pass --public to serve it (development only)"
            ),
            ServeError::Bind(addr, err) => write!(f, "cannot listen on {addr}: {err}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Binds the listener `options` name.
pub fn bind(options: &ServeOptions) -> Result<TcpListener, ServeError> {
    let addr = options
        .listen
        .to_socket_addrs()
        .map_err(|err| ServeError::Address(format!("{:?}: {err}", options.listen)))?
        .next()
        .ok_or_else(|| ServeError::Address(format!("{:?} has no address", options.listen)))?;
    if !addr.ip().is_loopback() {
        if !options.public {
            return Err(ServeError::NotLoopback(addr));
        }
        log::warn!("serving on {addr}, not loopback: anyone who reaches it can use the app");
    }
    TcpListener::bind(addr).map_err(|err| ServeError::Bind(addr, err))
}

/// Serves `app` on `options.listen` until the process is stopped.
pub fn serve(app: Arc<App>, options: &ServeOptions, max_body: u64, name: &str) -> ExitCode {
    // Settled at start, as behind a web server: a setting that does not parse stops it, and
    // protection turned off is warned about now.
    if app.origin_policy().is_err() {
        log::error!("{name} serve: the cross-origin settings are refused");
        return ExitCode::FAILURE;
    }
    let listener = match bind(options) {
        Ok(listener) => listener,
        Err(err) => {
            log::error!("{name} serve: {err}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| options.listen.clone(), |a| a.to_string());
    eprintln!(
        "{name} serve: http://{local}/ (a development server: in production put nginx, Apache or lighttpd in front)"
    );
    let limits = conn::Limits {
        max_body,
        request_time: REQUEST_TIME,
    };
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            log::warn!("{MAX_CONNECTIONS} connections already open: one refused");
            refuse_busy(&app, stream);
            continue;
        }
        let (app, active) = (Arc::clone(&app), Arc::clone(&active));
        let spawned = std::thread::Builder::new()
            .name("serve-conn".into())
            .spawn(move || {
                serve_stream(&app, stream, &limits);
                active.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(err) = spawned {
            log::error!("cannot start a connection thread: {err}");
        }
    }
    ExitCode::SUCCESS
}

/// One accepted connection, from socket options to the lingering close.
fn serve_stream(app: &App, stream: TcpStream, limits: &conn::Limits) {
    let (Ok(remote), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let peer = exchange::Peer { remote, local };
    let mut log_line = |line: &conn::AccessLine<'_>| {
        log::info!(
            "{} \"{} {}\" {} {} {:.1}ms",
            remote.ip(),
            line.method,
            line.target,
            line.status,
            line.bytes,
            line.took.as_secs_f64() * 1000.0
        );
    };
    conn::serve_connection(&stream, app, limits, &peer, &mut log_line);
    linger(&stream);
}

/// Closes the sending side, then reads and drops what the client still sends for a moment:
/// closing with unread input would reset the connection, and the client could lose the answer
/// (a 413 sent before the body was read).
fn linger(mut stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut sink = [0u8; 16 * 1024];
    let mut left: usize = 1 << 20;
    while left > 0 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// The 503 for a connection over [`MAX_CONNECTIONS`].
fn refuse_busy(app: &App, stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let response = exchange::answer(
        app,
        crate::gateway::Params::new(),
        Err(crate::error::HttpError::new(
            503,
            "Too many connections to the development server",
        )),
    );
    let mut cgi = Vec::new();
    if crate::gateway::write_response(response, &mut cgi).is_ok()
        && let Some(http) = reply::to_http(
            &cgi,
            reply::Framing {
                http_1_0: false,
                keep_alive: false,
            },
            std::time::SystemTime::now(),
        )
    {
        let _ = std::io::Write::write_all(&mut &stream, &http);
    }
    let _ = stream.shutdown(Shutdown::Both);
}
