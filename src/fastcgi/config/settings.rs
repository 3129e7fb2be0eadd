//! The settings one server process runs with, resolved once at start from the options: the
//! connection limits (`--max-connections` kept below what RLIMIT_NOFILE leaves room for), the
//! timers, the queue wait, the shutdown and upgrade timeouts, the allowed peers, the runtime's
//! pages.

use std::net::IpAddr;
use std::time::Duration;

use crate::fastcgi::protocol::conn::ConnLimits;
use crate::fastcgi::protocol::pairs::Figures;

use super::options::FastcgiOptions;

/// The timers, resolved from the options.
#[derive(Clone, Copy, Debug)]
pub struct Timers {
    /// A new connection's params, whole; also the longest gap inside a body.
    pub header: Duration,
    /// Between requests on a kept-alive connection.
    pub idle: Duration,
    /// A body, whole, before `body_min_rate` extends it.
    pub body: Duration,
    /// Bytes of body that extend `body` by one second.
    pub body_min_rate: u64,
    /// Without progress while an answer waits to be sent.
    pub send: Duration,
}

/// The limits and timers, resolved from the options.
pub(crate) struct Settings {
    pub(crate) limits: ConnLimits,
    pub(crate) max_connections: usize,
    pub(crate) timers: Timers,
    pub(crate) queue_wait: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) upgrade_timeout: Duration,
    pub(crate) allowed: Vec<IpAddr>,
    pub(crate) sweep_every: Duration,
    /// `--workers`.
    pub(crate) workers: usize,
    /// `--status-path` and `--ping-path`.
    pub(crate) ops: crate::ops::OpsPaths,
    /// The version the status page shows: the app's, else pycnic's.
    pub(crate) version: String,
}

impl Settings {
    /// The settings `options` ask for, with `--max-body` and, when known, RLIMIT_NOFILE and the
    /// connections it leaves room for.
    pub(crate) fn resolve(
        options: &FastcgiOptions,
        max_body: u64,
        nofile: Option<(u64, usize)>,
    ) -> Settings {
        let mut max_connections = options.max_connections;
        if let Some((nofile, cap)) = nofile
            && cap < max_connections
        {
            log::warn!(
                "--max-connections {max_connections} is more than RLIMIT_NOFILE {nofile} \
             leaves room for: using {cap}"
            );
            max_connections = cap;
        }
        Settings {
            limits: ConnLimits {
                max_params_bytes: options.max_params_bytes,
                max_params_count: options.max_params,
                max_body,
                // One request per connection (FCGI_MPXS_CONNS=0): as many requests as
                // connections are accepted; `--workers` of them run at once.
                figures: Figures {
                    max_conns: max_connections,
                    max_reqs: max_connections,
                },
            },
            max_connections,
            timers: Timers {
                header: options.header_timeout,
                idle: options.idle_timeout,
                body: options.body_timeout,
                body_min_rate: options.body_min_rate as u64,
                send: options.send_timeout,
            },
            queue_wait: options.queue_wait,
            shutdown_timeout: options.shutdown_timeout,
            upgrade_timeout: options.upgrade_timeout,
            allowed: options.allowed_peers(),
            sweep_every: (options.queue_wait.min(options.header_timeout) / 4)
                .clamp(Duration::from_millis(10), Duration::from_millis(250)),
            workers: options.worker_count(),
            ops: crate::ops::OpsPaths {
                status: options.status_path.clone(),
                ping: options.ping_path.clone(),
            },
            version: options
                .app_version
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
        }
    }
}
