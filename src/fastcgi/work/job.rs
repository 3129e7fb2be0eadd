//! A request as work: a complete request with its connection (`Job`), what a handler's thread
//! gives back (`Done`), and what the threads that run handlers share (`Pool`).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::app::App;
use crate::fastcgi::net::listen::Stream;
use crate::fastcgi::ops::access::AccessLog;
use crate::fastcgi::ops::metrics::Metrics;
use crate::fastcgi::protocol::conn::ReceivedRequest;

use super::spill::Spill;
use super::spool::{Budget, Spool};

/// A complete request waiting for a worker, with the connection it came on.
#[derive(Debug)]
pub struct Job {
    /// The connection's slot in the event loop.
    pub token: usize,
    /// The connection.
    pub stream: Stream,
    /// The request; its body is empty when it was spilled to `spool`.
    pub request: ReceivedRequest,
    /// The body, when it was spilled to a file.
    pub spool: Option<Spool>,
    /// Bytes of the memory budget the body holds, given back once the handler is done.
    pub held: usize,
    /// When the request was complete.
    pub received: Instant,
    /// The request's number in this process (its id when the web server sends none).
    pub seq: u64,
    /// Its entry among the running handlers, with `--slow-log` or `--request-timeout`.
    pub ticket: Option<Ticket>,
    /// Nothing of another request was read with it: while the process drains, its answer
    /// may be the connection's last.
    pub alone: bool,
}

/// What a worker tells the event loop: the connection back with what is left to send (kept
/// alive, or to close once `leftover` is sent), or `None` when it was closed.
#[derive(Debug)]
pub struct Done {
    /// The connection's slot in the event loop.
    pub token: usize,
    /// The connection, unless the worker closed it.
    pub stream: Option<Stream>,
    /// The end of the answer that the socket did not take at once.
    pub leftover: Vec<u8>,
    /// Bytes of the answers' budget `leftover` holds, given back once it is sent.
    pub held: usize,
    /// Its entry among the running handlers.
    pub ticket: Option<usize>,
    /// The timeout answered first: the answer was dropped, and `stream` is this thread's copy
    /// of a connection the event side has taken on (to be closed, nothing more).
    pub late: bool,
    /// The whole answer was sent before the process began to drain: the web server may have
    /// sent its next request on the connection already, which is then as one idle when the
    /// drain began (kept for the grace, not closed at once).
    pub before_drain: bool,
}

/// What the threads that run handlers share.
pub struct Pool {
    /// The application.
    pub app: Arc<App>,
    /// Wakes the thread waiting for events (shutdown, connections to drive again).
    pub waker: Arc<mio::Waker>,
    /// Request bodies held in memory, all connections together.
    pub budget: Arc<Budget>,
    /// Where bodies past `budget` spill, and the disk budget they share.
    pub spill: Spill,
    /// Ends of answers the event loop holds for slow readers, all connections together.
    pub output_budget: Arc<Budget>,
    /// `--max-body`.
    pub max_body: u64,
    /// `--send-timeout`, for the chunks of streamed responses.
    pub send_timeout: Duration,
    /// The status page's counters.
    pub(crate) metrics: Metrics,
    /// `--access-log`, when on.
    pub access: Option<AccessLog>,
    /// The process drains: a handler's thread that sends a kept-alive connection's whole
    /// last answer sends its FIN right behind it (see `run`), so that the web server takes
    /// its next request elsewhere.
    pub draining: AtomicBool,
}

/// What a running request's thread carries: its entry, and the claim when there is a
/// timeout.
#[derive(Debug)]
pub struct Ticket {
    /// The entry's index in the table.
    pub index: usize,
    /// Set by whichever side answers first (handler or timeout).
    pub claim: Option<Arc<AtomicBool>>,
}
