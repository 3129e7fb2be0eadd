//! The event side's clock, one part of the event loop: read once when the poller returns
//! (and when a handler's thread gives a connection back, or a queued request is taken), and
//! used for every stamp, deadline and timer of that turn instead of each reading the clock
//! (a request's turn read it about eight times); when the leader's poll returns at the
//! latest; when the timers sweep next.

use std::time::{Duration, Instant};

/// The turn's time and the timers' next dates.
#[derive(Debug)]
pub(crate) struct Clock {
    now: Instant,
    wake_at: Instant,
    next_sweep: Instant,
    sweep_every: Duration,
}

impl Clock {
    /// A clock that sweeps every `sweep_every`, the first sweep due at once.
    pub(crate) fn new(sweep_every: Duration) -> Clock {
        let now = Instant::now();
        Clock {
            now,
            wake_at: now,
            next_sweep: now,
            sweep_every,
        }
    }

    /// The turn's time, as last read.
    pub(crate) fn now(&self) -> Instant {
        self.now
    }

    /// Reads the clock: the turn's time from now on.
    pub(crate) fn read(&mut self) -> Instant {
        self.now = Instant::now();
        self.now
    }

    /// When the leader's poll returns at the latest.
    pub(crate) fn wake_at(&self) -> Instant {
        self.wake_at
    }

    /// The leader's poll returns at `at` at the latest.
    pub(crate) fn wake_by(&mut self, at: Instant) {
        self.wake_at = at;
    }

    /// When the timers sweep next.
    pub(crate) fn next_sweep(&self) -> Instant {
        self.next_sweep
    }

    /// Whether a sweep is due at `now`; if so the next one is set.
    pub(crate) fn sweep(&mut self, now: Instant) -> bool {
        if now < self.next_sweep {
            return false;
        }
        self.next_sweep = now + self.sweep_every;
        true
    }
}
