//! The `pycnic fastcgi` options (each also from an environment variable) and the settings the
//! server runs with once they are resolved.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Where to listen: `127.0.0.1:9000`, `[::1]:9000`, `localhost:9000` or `unix:/path/to.sock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// An IP address and port.
    Tcp(SocketAddr),
    /// A host name and port, as given: [`FastcgiOptions::resolve_hosts`] turns it into one
    /// [`ListenAddr::Tcp`] per address the name resolves to before the server binds.
    Host(String, u16),
    /// A unix socket's path.
    Unix(PathBuf),
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<ListenAddr, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a path, e.g. unix:/run/pycnic.sock".into());
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        if let Ok(addr) = text.parse() {
            return Ok(ListenAddr::Tcp(addr));
        }
        let bad = || {
            format!(
                "{text:?} is not HOST:PORT (127.0.0.1:9000, [::1]:9000, localhost:9000) \
                 nor unix:/path"
            )
        };
        let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let is_name = |host: &str| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        };
        if !is_name(host) {
            return Err(bad());
        }
        Ok(ListenAddr::Host(host.to_string(), port))
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
            ListenAddr::Host(host, port) => write!(f, "{host}:{port}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl ListenAddr {
    /// Every address this one stands for: a host name resolves to each of its addresses (as
    /// nginx and PHP-FPM bind them all), duplicates dropped, in the resolver's order.
    pub fn resolve(&self) -> Result<Vec<ListenAddr>, String> {
        let ListenAddr::Host(host, port) = self else {
            return Ok(vec![self.clone()]);
        };
        let found = (host.as_str(), *port)
            .to_socket_addrs()
            .map_err(|err| format!("--listen {self}: cannot resolve {host:?}: {err}"))?;
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in found {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.is_empty() {
            return Err(format!("--listen {self}: {host:?} resolves to no address"));
        }
        Ok(addrs.into_iter().map(ListenAddr::Tcp).collect())
    }
}

/// Who owns the unix sockets `--listen` creates, and their mode: `--socket-mode`,
/// `--socket-owner`, `--socket-group`. Applied right after bind, before the server says it
/// listens, so the web server can connect from its first request.
#[derive(clap::Args, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketPerms {
    /// Permissions of the unix sockets --listen creates, in octal (e.g. 660).
    #[arg(long = "socket-mode", env = "PYCNIC_SOCKET_MODE", value_name = "MODE",
          value_parser = parse_mode)]
    pub mode: Option<u32>,

    /// User that owns the unix sockets --listen creates (a name or a uid; root only).
    #[arg(long = "socket-owner", env = "PYCNIC_SOCKET_OWNER", value_name = "USER",
          value_parser = crate::fastcgi::config::ids::parse_user)]
    pub owner: Option<u32>,

    /// Group of the unix sockets --listen creates (a name or a gid), e.g. www-data so nginx
    /// can connect with --socket-mode 660.
    #[arg(long = "socket-group", env = "PYCNIC_SOCKET_GROUP", value_name = "GROUP",
          value_parser = crate::fastcgi::config::ids::parse_group)]
    pub group: Option<u32>,
}

/// A comma-separated list of web-server addresses, as FCGI_WEB_SERVER_ADDRS holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrList(pub Vec<IpAddr>);

impl FromStr for AddrList {
    type Err = String;

    fn from_str(text: &str) -> Result<AddrList, String> {
        let mut addrs = Vec::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let bare = item.trim_start_matches('[').trim_end_matches(']');
            let addr: IpAddr = bare
                .parse()
                .map_err(|_| format!("{item:?} is not an IPv4 or IPv6 address"))?;
            addrs.push(addr);
        }
        Ok(AddrList(addrs))
    }
}

/// Seconds, fractions allowed: `30`, `0.25`.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is not a duration"))
}

/// A threshold that is off unless given (`--slow-log`, `--request-timeout`): seconds, more
/// than zero. PHP-FPM reads 0 as "off" for the same settings (`request_slowlog_timeout`,
/// `request_terminate_timeout`); here 0 would log every request slow or answer nearly every
/// one 504, so it is refused with a message saying how to turn the option off.
fn parse_threshold(text: &str) -> Result<Duration, String> {
    let seconds = parse_seconds(text)?;
    if seconds.is_zero() {
        return Err(format!(
            "{text:?}: must be more than 0 seconds (0 does not turn it off: leave the option \
             and its environment variable out)"
        ));
    }
    Ok(seconds)
}

/// An octal file mode such as `660` or `0o600`.
fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim().trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(format!("{text:?} is not an octal mode such as 660")),
    }
}

/// A size in bytes, with an optional K, M or G suffix (powers of 1024): `64M`, `512K`, `0`.
/// Parses a size: `1048576`, `512k`, `10M`, `1G`, `2 MiB` (powers of 1024). Used by
/// `--max-body` and `--body-memory`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 1048576, 512k, 10M)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} (use k, M or G)")),
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// [`parse_size`] for an in-memory amount.
fn parse_memory(text: &str) -> Result<usize, String> {
    let size = parse_size(text)?;
    usize::try_from(size).map_err(|_| format!("{text:?} is too large"))
}

fn parse_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("{text:?} is not a positive number")),
        Ok(n) => Ok(n),
    }
}

/// Worker processes when `--processes` is not given: a master over 2 workers, so that a
/// worker's crash (an abort, a stack overflow) always leaves one to answer while the master
/// starts its successor (docs/processes.md). A start on fd 0 keeps one process instead (see
/// [`FastcgiOptions::process_count`]); `--processes 1` asks for one process without a master.
pub const DEFAULT_PROCESSES: usize = 2;

/// `pycnic fastcgi`: serve FastCGI (Responder role) to nginx, Apache or lighttpd.
#[derive(clap::Args, Clone, Debug)]
pub struct FastcgiOptions {
    /// `--listen`: where to listen (see [`ListenAddr`]). Empty: the socket a web server or
    /// spawn-fcgi passed on fd 0, or systemd's.
    #[arg(
        long,
        help = "Listen on HOST:PORT (127.0.0.1:9000, [::1]:9000, localhost:9000: every address \
                the name resolves to) or unix:/path (repeatable). Without it: the socket a web \
                server or spawn-fcgi passed on fd 0, or systemd's (LISTEN_FDS)",
        env = "PYCNIC_LISTEN",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    pub listen: Vec<ListenAddr>,

    /// Mode, owner and group of the unix sockets `--listen` creates (named after the first,
    /// `--socket-mode`, which it replaced).
    #[command(flatten)]
    pub socket_mode: SocketPerms,

    /// Handlers that run at once, each on its own thread (one thread more watches the
    /// sockets) [default: 4 per CPU, 4 to 64].
    #[arg(long, env = "PYCNIC_WORKERS", value_name = "N", value_parser = parse_count)]
    pub workers: Option<usize>,

    /// Worker processes under a master (see docs/processes.md): 2 or more start a master
    /// that owns the sockets and respawns a worker that dies; 1 is one process with no master
    /// [default: 2, but 1 for a start on fd 0 (mod_fcgid, spawn-fcgi) without the option].
    #[arg(long, env = "PYCNIC_PROCESSES", value_name = "N", value_parser = parse_count)]
    pub processes: Option<usize>,

    /// With `--processes` 2 or more: a worker that has answered about this many requests
    /// (plus up to a tenth more, drawn per worker so that workers do not restart together) is
    /// replaced gracefully: its successor serves first, then it drains. Off by default.
    #[arg(long, env = "PYCNIC_MAX_REQUESTS", value_name = "N", value_parser = parse_count)]
    pub max_requests: Option<usize>,

    /// With `--processes` 2 or more: a worker whose resident memory passes this size (`512M`),
    /// checked by the master twenty times a second, is replaced gracefully. Off by default.
    #[arg(long, env = "PYCNIC_MAX_RSS", value_name = "SIZE", value_parser = parse_size)]
    pub max_rss: Option<u64>,

    /// Open connections at most (kept below what RLIMIT_NOFILE allows). Past it, the
    /// connection idle longest between requests is closed to make room; when none is, new
    /// connections wait in the kernel's listen backlog until a slot frees.
    #[arg(long, env = "PYCNIC_MAX_CONNECTIONS", value_name = "N", default_value_t = 1024,
          value_parser = parse_count)]
    pub max_connections: usize,

    /// Largest total of FCGI_PARAMS bytes one request may send.
    #[arg(long, env = "PYCNIC_MAX_PARAMS_BYTES", value_name = "BYTES", default_value_t = 256 * 1024,
          value_parser = parse_count)]
    pub max_params_bytes: usize,

    /// Most params (CGI variables and headers) one request may send.
    #[arg(long, env = "PYCNIC_MAX_PARAMS", value_name = "N", default_value_t = 1024,
          value_parser = parse_count)]
    pub max_params: usize,

    /// Seconds a new connection may take to send its request's params (from connecting to
    /// the last param, whatever arrives meanwhile), and at most between two pieces of a body.
    #[arg(long, env = "PYCNIC_HEADER_TIMEOUT", value_name = "SECONDS", default_value = "10",
          value_parser = parse_seconds)]
    pub header_timeout: Duration,

    /// Seconds a kept-alive connection may stay idle between requests.
    #[arg(long, env = "PYCNIC_IDLE_TIMEOUT", value_name = "SECONDS", default_value = "300",
          value_parser = parse_seconds)]
    pub idle_timeout: Duration,

    /// Seconds a received request may wait for a free worker before it is answered 503.
    #[arg(long, env = "PYCNIC_QUEUE_WAIT", value_name = "SECONDS", default_value = "5",
          value_parser = parse_seconds)]
    pub queue_wait: Duration,

    /// Seconds a response write may wait for the web server to read.
    #[arg(long, env = "PYCNIC_SEND_TIMEOUT", value_name = "SECONDS", default_value = "60",
          value_parser = parse_seconds)]
    pub send_timeout: Duration,

    /// Seconds a request body may take in all, extended by one second for every
    /// --body-min-rate bytes received (Apache mod_reqtimeout's body=20,MinRate=500).
    #[arg(long, env = "PYCNIC_BODY_TIMEOUT", value_name = "SECONDS", default_value = "20",
          value_parser = parse_seconds)]
    pub body_timeout: Duration,

    /// Bytes per second that extend --body-timeout by one second each.
    #[arg(long, env = "PYCNIC_BODY_MIN_RATE", value_name = "BYTES", default_value = "500",
          value_parser = parse_count)]
    pub body_min_rate: usize,

    /// Request-body bytes held in memory by all connections together (K, M, G suffixes);
    /// a body that would pass it is spilled to an unlinked file in --spill-dir.
    #[arg(long, env = "PYCNIC_BODY_MEMORY", value_name = "SIZE", default_value = "64M",
          value_parser = parse_memory)]
    pub body_memory: usize,

    /// Where bodies past --body-memory spill (default: TMPDIR, else /tmp); checked at start.
    #[arg(long, env = "PYCNIC_SPILL_DIR", value_name = "DIR")]
    pub spill_dir: Option<std::path::PathBuf>,

    /// Spilled body bytes on disk, all together (K, M, G); a body past it gets a 503.
    #[arg(long, env = "PYCNIC_SPILL_DISK", value_name = "SIZE", default_value = "1G",
          value_parser = parse_size)]
    pub spill_disk: u64,

    /// Seconds SIGTERM/SIGINT wait for requests already received to finish.
    #[arg(long, env = "PYCNIC_SHUTDOWN_TIMEOUT", value_name = "SECONDS", default_value = "30",
          value_parser = parse_seconds)]
    pub shutdown_timeout: Duration,

    /// Seconds in its handler after which a request is logged at WARN while it runs (with
    /// its handler's name), and again with its total time when it finishes. Off by default.
    #[arg(long, env = "PYCNIC_SLOW_LOG", value_name = "SECONDS", value_parser = parse_threshold)]
    pub slow_log: Option<Duration>,

    /// Seconds in its handler after which the client gets a JSON 504 and the connection
    /// carries on; the handler's late answer is dropped and a new thread takes its place (up
    /// to --max-stuck). Off by default.
    #[arg(long, env = "PYCNIC_REQUEST_TIMEOUT", value_name = "SECONDS",
          value_parser = parse_threshold)]
    pub request_timeout: Option<Duration>,

    /// Threads stuck in a handler past --request-timeout that new threads replace at most
    /// [default: --workers]; past it a stuck handler keeps its worker slot.
    #[arg(long, env = "PYCNIC_MAX_STUCK", value_name = "N", value_parser = parse_count)]
    pub max_stuck: Option<usize>,

    /// One line per request (nginx's combined format plus request id and microseconds) to
    /// this file, `-` for stderr, or `off`; SIGUSR1 reopens the file.
    #[arg(
        long,
        env = "PYCNIC_ACCESS_LOG",
        value_name = "PATH|-|off",
        default_value = "off"
    )]
    pub access_log: String,

    /// Seconds the new process of an upgrade (SIGUSR2) may take to serve; past them it is
    /// killed and the old process serves on.
    #[arg(long, env = "PYCNIC_UPGRADE_TIMEOUT", value_name = "SECONDS", default_value = "30",
          value_parser = parse_seconds)]
    pub upgrade_timeout: Duration,

    /// Write the server's pid to this file once it serves (atomically: a temporary file
    /// renamed over it); removed at exit if it still names this process. After an upgrade
    /// (SIGUSR2) it names the new process.
    #[arg(long, env = "PYCNIC_PID_FILE", value_name = "PATH")]
    pub pid_file: Option<std::path::PathBuf>,

    /// Web-server addresses allowed to connect, comma-separated (IPv4, IPv6; v4-mapped IPv6
    /// matches its IPv4). Empty: any. Unix-socket peers are always allowed.
    #[arg(long, env = "FCGI_WEB_SERVER_ADDRS", value_name = "ADDRS")]
    pub web_server_addrs: Vec<AddrList>,

    /// Answer this path with the server's status (JSON, or Prometheus text with
    /// ?format=prometheus), before the app's routes. Off by default.
    #[arg(long, env = "PYCNIC_STATUS_PATH", value_name = "PATH",
          value_parser = crate::ops::parse_path)]
    pub status_path: Option<String>,

    /// Answer this path with 200 `pong` (text/plain), before the app's routes. Off by
    /// default.
    #[arg(long, env = "PYCNIC_PING_PATH", value_name = "PATH",
          value_parser = crate::ops::parse_path)]
    pub ping_path: Option<String>,

    /// The app's version (what its `--version` prints), for the status page; not an option:
    /// the command line sets it.
    #[arg(skip)]
    pub app_version: Option<String>,
}

impl FastcgiOptions {
    /// Replaces each host name in `--listen` by every address it resolves to.
    pub fn resolve_hosts(&mut self) -> Result<(), String> {
        let mut resolved = Vec::new();
        for addr in &self.listen {
            resolved.extend(addr.resolve()?);
        }
        self.listen = resolved;
        Ok(())
    }

    /// The worker count: the option, else 4 per CPU within 4..=64 (handlers may block).
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(1, usize::from);
            (cpus * 4).clamp(4, 64)
        })
    }

    /// How many worker processes run under a master; 1 means no master. `fd0_start`: the
    /// listening socket came on fd 0 (a web server such as mod_fcgid started us and counts
    /// processes itself), which keeps one process unless `--processes` says otherwise.
    pub fn process_count(&self, fd0_start: bool) -> usize {
        match self.processes {
            Some(n) => n,
            None if fd0_start => 1,
            None => DEFAULT_PROCESSES,
        }
    }

    /// The allow-list, canonical (v4-mapped IPv6 as IPv4).
    pub fn allowed_peers(&self) -> Vec<IpAddr> {
        let all = self.web_server_addrs.iter().flat_map(|list| list.0.iter());
        all.map(IpAddr::to_canonical).collect()
    }
}

/// Whether `peer` may talk to us: any address when the list is empty; compared canonically,
/// so `::ffff:127.0.0.1` matches `127.0.0.1`.
pub fn peer_allowed(allowed: &[IpAddr], peer: IpAddr) -> bool {
    allowed.is_empty() || allowed.contains(&peer.to_canonical())
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
