//! FastCGI 1.0 transport (Responder role): the sans-IO codec (`record`), one connection's
//! state machine (`conn`), and the server that runs the app behind nginx, Apache or lighttpd:
//! `listen` and `options` set it up, `server` is the event loop (timers, signals, shutdown),
//! `connections` and `slot` its side of each connection (accepting, reading, deadlines),
//! `spool` the memory budget for bodies and the files they spill to, `worker` the pool that
//! runs handlers, `respond` the framing of answers, `fdlimit` the process's limits.
//!
//! The model: one event-loop thread owns every connection except while a worker runs its
//! handler; a worker writes what the socket takes and hands the rest back, so only handlers
//! ever hold workers. Everything buffered is bounded: connections (below RLIMIT_NOFILE, the
//! excess waits in the listen backlog), bodies in memory (past the budget they spill to
//! disk), answers waiting for slow readers (past the budget the worker writes them itself).

pub mod conn;
mod connections;
mod event;
mod fdlimit;
pub mod listen;
pub mod options;
pub mod record;
mod respond;
pub mod server;
mod slot;
mod spool;
pub mod worker;

pub use listen::inherited_listener_present;
pub use options::FastcgiOptions;
pub use server::serve;
