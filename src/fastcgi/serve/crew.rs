//! The thread counts, one part of the event loop: handler slots free (`--workers` minus those
//! running), threads to start in place of stuck ones and to end when those come back, the
//! leadership left free while its holder runs a handler (for the watcher), and the server's
//! outcome once it stops. The threads (`threads`) read and change them under the server's
//! lock.

use std::io;
use std::time::Instant;

/// The thread counts.
#[derive(Debug)]
pub(crate) struct Crew {
    /// Handlers that may start now.
    free: usize,
    /// Threads to start in place of stuck ones.
    spawn: usize,
    /// Threads to end: stuck ones came back, and the pool is one over its size for each.
    excess: usize,
    /// Since when the leadership has been free, if it is.
    leaderless_since: Option<Instant>,
    /// When it was last left free.
    last_leaderless: Instant,
    /// The watcher sleeps without a timeout: wake it when leaving the leadership free.
    watcher_asleep: bool,
    /// Set when the server stops: the exit status's reason.
    stopped: Option<Result<bool, (io::ErrorKind, String)>>,
}

impl Crew {
    /// `workers` handler slots, all free.
    pub(crate) fn new(workers: usize) -> Crew {
        Crew {
            free: workers,
            spawn: 0,
            excess: 0,
            leaderless_since: None,
            last_leaderless: Instant::now(),
            watcher_asleep: false,
            stopped: None,
        }
    }

    /// Handler slots free now.
    pub(crate) fn free(&self) -> usize {
        self.free
    }

    /// Takes a handler slot, if one is free.
    pub(crate) fn take_slot(&mut self) -> bool {
        let taken = self.free > 0;
        if taken {
            self.free -= 1;
        }
        taken
    }

    /// A handler slot is free again.
    pub(crate) fn give_slot(&mut self) {
        self.free += 1;
    }

    /// A stuck handler is replaced: its slot is free, and a new thread is to start.
    pub(crate) fn replace_stuck(&mut self) {
        self.free += 1;
        self.spawn += 1;
    }

    /// A replaced handler came back: one thread is to end.
    pub(crate) fn stuck_returned(&mut self) {
        self.excess += 1;
    }

    /// Threads to start now (counted once).
    pub(crate) fn take_spawns(&mut self) -> usize {
        std::mem::take(&mut self.spawn)
    }

    /// Whether the asking thread is one too many, to end (counted once).
    pub(crate) fn take_excess(&mut self) -> bool {
        let excess = self.excess > 0;
        if excess {
            self.excess -= 1;
        }
        excess
    }

    /// The leader takes the leadership: it is not free.
    pub(crate) fn lead(&mut self) {
        self.leaderless_since = None;
    }

    /// The leader leaves the leadership free to run a handler; true when the watcher sleeps
    /// and must be woken.
    pub(crate) fn leave_leadership(&mut self, now: Instant) -> bool {
        self.leaderless_since = Some(now);
        self.last_leaderless = now;
        self.watcher_asleep
    }

    /// Since when the leadership has been free, if it is.
    pub(crate) fn leaderless_since(&self) -> Option<Instant> {
        self.leaderless_since
    }

    /// When the leadership was last left free.
    pub(crate) fn last_leaderless(&self) -> Instant {
        self.last_leaderless
    }

    /// The watcher goes to sleep without a timeout, or wakes.
    pub(crate) fn set_watcher_asleep(&mut self, asleep: bool) {
        self.watcher_asleep = asleep;
    }

    /// Stops every thread: `Ok(true)` a clean drain, `Ok(false)` requests cut off; the first
    /// reason stays.
    pub(crate) fn stop(&mut self, outcome: io::Result<bool>) {
        if self.stopped.is_none() {
            self.stopped = Some(outcome.map_err(|err| (err.kind(), err.to_string())));
        }
    }

    /// Whether the server has stopped, and how.
    pub(crate) fn outcome(&self) -> Option<io::Result<bool>> {
        self.stopped.as_ref().map(|outcome| match outcome {
            Ok(clean) => Ok(*clean),
            Err((kind, message)) => Err(io::Error::new(*kind, message.clone())),
        })
    }
}
