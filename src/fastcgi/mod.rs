//! FastCGI 1.0 transport (Responder role): the server that runs the app behind nginx, Apache
//! or lighttpd. It is built in layers, one folder each, and each imports only the layers
//! listed before it:
//!
//! - `protocol`: bytes only, no I/O: records, name-value pairs, one connection's state
//!   machine, an answer framed as FCGI_STDOUT records;
//! - `config`: the `fastcgi` options and the settings resolved from them;
//! - `net`: listening sockets (bound, inherited, handed over) and accepted streams, and the
//!   writes made outside the event loop;
//! - `ops`: the counters, the status page's rendering, the access log;
//! - `process`: one process's life: signals, the pid file and sd_notify, the SIGUSR2
//!   handover, the descriptor limit, and the lifecycle (draining, upgrading) the event loop
//!   asks at each turn; a process supervisor belongs here;
//! - `work`: a complete request as a job, its body spool and the memory budget, the handlers
//!   running now (slow log, timeout), one request's run, the answers the server gives itself;
//! - `serve`: one process's event loop and threads, in owned parts (connection table,
//!   admission, ready queue, thread counts, timers), and [`serve`] that starts it.
//!
//! The model: `--workers` + 1 threads take turns; one (the leader) waits for socket events
//! and handles them, and when that completes a request it runs the handler itself and takes
//! the leadership back, so the common request crosses no thread (a watcher hands the
//! leadership on when a handler takes over 1 ms); it writes what the socket takes and leaves
//! the rest to the event side, so only handlers ever hold a thread.
//! Everything buffered is bounded: connections (below RLIMIT_NOFILE, the excess waits in the
//! listen backlog), bodies in memory (past the budget they spill to disk), answers waiting
//! for slow readers (past the budget the handler's thread writes them itself).

#[cfg(test)]
mod alloc_tests;
mod config;
mod net;
mod ops;
mod process;
mod protocol;
mod serve;
mod work;

pub use config::options;
pub use config::options::{FastcgiOptions, SocketPerms};
pub use net::inherit::inherited_listener_present;
pub use serve::serve;

/// The FastCGI codec on bytes alone: records, name-value pairs, the replies (one path for
/// the fuzz targets and tests; the code is in the protocol layer).
pub mod record {
    pub use super::protocol::pairs::{
        Figures, PairRef, Pairs, ParamsDecoder, decode_pairs, push_get_values_result, push_pair,
    };
    pub use super::protocol::record::*;
}

/// Listening sockets: bound from `--listen`, or inherited (fd 0, systemd, an upgrading
/// pycnic), and the accepted stream (one path; the code is in the net layer).
pub mod listen {
    pub use super::net::inherit::{inherited, inherited_listener_present, take};
    pub use super::net::listen::*;
}

/// Serving FastCGI (the earlier path of [`serve`](fn@serve)).
pub mod server {
    pub use super::serve::serve;
}

/// One connection's state machine, with no I/O of its own.
pub mod conn {
    pub use super::protocol::conn::*;
}
