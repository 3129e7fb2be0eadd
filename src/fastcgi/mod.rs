//! FastCGI 1.0 transport (Responder role): the sans-IO codec (`record`), one connection's
//! state machine (`conn`), and the server that runs the app behind nginx, Apache or lighttpd:
//! `listen` and `options` set it up, `threads` runs it (leader/follower), `server` holds its
//! state, timers, signals and shutdown, `connections` and `slot` its side of each connection
//! (accepting, reading, deadlines), `spool` the memory budget for bodies and the files they
//! spill to, `worker` one request's run, `respond` the framing of answers (`framing` writes
//! them straight into FCGI_STDOUT records), `metrics` and `status` the counters and the
//! status and ping pages, `fdlimit` the process's limits; `running` and
//! `timeout` the handlers running now (`--slow-log`, `--request-timeout`), `access` the access
//! log (`--access-log`); `upgrade` and `announce` the zero-downtime upgrade (SIGUSR2: a new
//! copy of the binary takes the listening sockets over), the pid file and sd_notify.
//!
//! The model: `--workers` + 1 threads take turns; one (the leader) waits for socket events
//! and handles them, and when that completes a request it runs the handler itself and takes
//! the leadership back, so the common request crosses no thread (a watcher hands the
//! leadership on when a handler takes over 1 ms); it writes what the socket takes and leaves
//! the rest to the event side, so only handlers ever hold a thread.
//! Everything buffered is bounded: connections (below RLIMIT_NOFILE, the excess waits in the
//! listen backlog), bodies in memory (past the budget they spill to disk), answers waiting
//! for slow readers (past the budget the handler's thread writes them itself).

mod access;
#[cfg(test)]
mod alloc_tests;
mod announce;
pub mod conn;
mod connections;
mod event;
mod fdlimit;
mod framing;
mod ids;
pub mod listen;
mod metrics;
pub mod options;
pub mod record;
mod respond;
mod running;
pub mod server;
mod signals;
mod slot;
mod spool;
mod status;
mod threads;
mod timeout;
mod upgrade;
pub mod worker;

pub use listen::inherited_listener_present;
pub use options::{FastcgiOptions, SocketPerms};
pub use server::serve;
