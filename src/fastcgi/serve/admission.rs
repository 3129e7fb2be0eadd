//! Admission, one part of the event loop: the listening sockets, whether they are in the
//! poller (always, but in a pool worker only while the accept turn is its own, see
//! `peers`), and whether to accept on them now. At `--max-connections` with nothing idle to close, accepting stops (`blocked`)
//! and new connections wait in the kernel's backlog until room frees; after accept() failed
//! (EMFILE and the like) with nothing to close, it pauses until a connection closes or
//! ACCEPT_RETRY passes. The accepting itself, which needs the connection table, is
//! `connections`'.

use std::io;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use crate::fastcgi::net::listen::Listener;

/// The longest pause in accepting after accept() failed (EMFILE and the like) with no idle
/// connection to close; accepting resumes as soon as a connection closes.
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// The listeners and whether accepting on them waits.
#[derive(Debug)]
pub(crate) struct Admission {
    listeners: Vec<Listener>,
    /// The poller token of the first listener (the others follow).
    first_token: usize,
    /// At --max-connections with nothing to close: new connections wait in the backlog.
    blocked: bool,
    /// A connection came back from a handler since the last tick: it may make room.
    idle_returned: bool,
    /// Accepting paused after an accept error, until then or until a connection closes.
    retry_at: Option<Instant>,
    /// Connections open when accept last failed: fewer means a descriptor is free again.
    starved_since_live: Option<usize>,
}

impl Admission {
    /// Accepting on `listeners`, whose poller tokens start at `first_token`.
    pub(crate) fn new(listeners: Vec<Listener>, first_token: usize) -> Admission {
        Admission {
            listeners,
            first_token,
            blocked: false,
            idle_returned: false,
            retry_at: None,
            starved_since_live: None,
        }
    }

    /// The listening sockets.
    pub(crate) fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    /// The listening sockets, to change (an upgrade leaves their files to the new process).
    pub(crate) fn listeners_mut(&mut self) -> &mut [Listener] {
        &mut self.listeners
    }

    /// Puts the listeners in the poller (a pool worker's turn to accept, or a process of
    /// its own at its start).
    pub(crate) fn watch(&mut self, registry: &Registry) -> io::Result<()> {
        for (n, listener) in self.listeners.iter_mut().enumerate() {
            registry.register(listener, Token(self.first_token + n), Interest::READABLE)?;
        }
        Ok(())
    }

    /// Takes the listeners out of the poller (a pool worker passed the turn on).
    pub(crate) fn unwatch(&mut self, registry: &Registry) {
        for listener in &mut self.listeners {
            let _ = registry.deregister(listener);
        }
    }

    /// Closes the listeners (a shutdown): new connections go to no one here.
    pub(crate) fn close_listeners(&mut self, registry: &Registry) {
        for mut listener in self.listeners.drain(..) {
            let _ = registry.deregister(&mut listener);
        }
    }

    /// Whether accepting pauses after an accept error.
    pub(crate) fn paused(&self) -> bool {
        self.retry_at.is_some()
    }

    /// Ends a pause at once (a shutdown takes in what the kernel completed).
    pub(crate) fn unpause(&mut self) {
        self.retry_at = None;
    }

    /// When a pause ends, for the poller's timeout.
    pub(crate) fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// At --max-connections with nothing to close: stop until room frees.
    pub(crate) fn block(&mut self) {
        self.blocked = true;
    }

    /// Whether accepting stopped at --max-connections.
    pub(crate) fn blocked(&self) -> bool {
        self.blocked
    }

    /// A connection was accepted: descriptors are there again.
    pub(crate) fn accepted(&mut self) {
        self.starved_since_live = None;
    }

    /// accept() failed with nothing to close, `live` connections open: pause until one
    /// closes or ACCEPT_RETRY passes; true when this starts an episode (worth one warning).
    pub(crate) fn starved(&mut self, live: usize, now: Instant) -> bool {
        let first = self.starved_since_live.is_none();
        self.starved_since_live = Some(live);
        self.retry_at = Some(now + ACCEPT_RETRY);
        first
    }

    /// A connection came back from a handler: it may make room.
    pub(crate) fn idle_returned(&mut self) {
        self.idle_returned = true;
    }

    /// The timers' turn: whether to accept again now, with `live` connections open of
    /// `max`. Looking for an evictable connection (`has_idle`) costs a scan: it is asked only
    /// when one may have become evictable (a connection came back from a handler) or at a
    /// sweep (`sweep`, the fresh grace).
    pub(crate) fn resume(
        &mut self,
        now: Instant,
        (live, max): (usize, usize),
        sweep: bool,
        has_idle: impl FnOnce() -> bool,
    ) -> bool {
        let look = std::mem::take(&mut self.idle_returned) || sweep;
        let room = self.blocked && (live < max || (look && has_idle()));
        let fd_freed = self.starved_since_live.is_some_and(|since| live < since);
        if self.retry_at.is_some_and(|at| now >= at) || fd_freed {
            self.retry_at = None;
            true
        } else if room && self.retry_at.is_none() {
            self.blocked = false;
            true
        } else {
            false
        }
    }
}
