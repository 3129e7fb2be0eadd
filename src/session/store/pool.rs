//! How every operation of a server-side store reaches a connection, within bounds: a small
//! per-process [`Pool`] of connections, a deadline of `PYCNIC_SESSION_TIMEOUT_MS` per
//! operation (the retry on a fresh connection gets only what is left of it), a circuit
//! [`Breaker`] that answers at once while the store is known to be down, and failure logging
//! at most once a second per store.
//!
//! **The model.** An operation is `Pool::with(connect, op)`. It is refused at once when the
//! breaker is open; otherwise it runs on an idle connection (or a new one), and a failure on
//! a stale idle connection is retried once on a new one if time is left. Three failures in a
//! row open the breaker for a back-off (1 s, doubling up to 30 s); then one operation is let
//! through as a probe: its success closes the breaker, its failure opens it again. Reads and
//! writes have a breaker each, since a store can fail one and not the other (a SQLite file
//! locked by another process still reads): a read's success does not hide failing writes.
//! Every store operation goes through here, so a new operation gets the same bounds for free.

#![cfg_attr(
    not(any(feature = "sqlite", feature = "redis", feature = "memcached")),
    allow(dead_code)
)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::StoreError;

/// Failures in a row that open the breaker.
const FAILURES_TO_OPEN: u32 = 3;
/// The first back-off; each failed probe doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// At most one failure line per store in this interval (the others are counted).
const LOG_INTERVAL: Duration = Duration::from_secs(1);
/// Idle connections kept per store.
const MAX_IDLE: usize = 16;

/// The breaker's state, as the status page and [`crate::App::session_store_health`] show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Operations run.
    Closed,
    /// Operations are refused at once (a 503) for `retry_in` more.
    Open {
        /// Time left before a probe is let through.
        retry_in: Duration,
    },
    /// The back-off is over: the next operation is a probe (one at a time).
    HalfOpen,
}

/// One store's health: its breakers and their recent failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreHealth {
    /// The store's kind (`sqlite`, `redis`, `memcached`).
    pub store: &'static str,
    /// The reads' breaker now.
    pub reads: BreakerState,
    /// The writes' breaker now.
    pub writes: BreakerState,
    /// Failures in a row, reads and writes counted apart, the larger (0 after successes).
    pub failures: u32,
}

/// Which breaker an operation answers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// An operation that only reads.
    Read,
    /// An operation that writes (or reads and writes).
    Write,
}

#[derive(Debug)]
struct BreakerInner {
    failures: u32,
    /// While open: when a probe may go.
    open_until: Option<Instant>,
    backoff: Duration,
    /// When the probe in flight began (a probe that never reports, say after a panic, stops
    /// blocking others after [`MAX_BACKOFF`]).
    probing: Option<Instant>,
}

/// A circuit breaker: refuses at once while its store is known to be down.
#[derive(Debug)]
pub(crate) struct Breaker {
    inner: Mutex<BreakerInner>,
}

/// What the breaker allowed: a normal operation or the one probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    Normal,
    Probe,
}

impl Breaker {
    pub(crate) fn new() -> Breaker {
        Breaker {
            inner: Mutex::new(BreakerInner {
                failures: 0,
                open_until: None,
                backoff: FIRST_BACKOFF,
                probing: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an operation may run now; `None`: refuse it.
    pub(crate) fn admit(&self, now: Instant) -> Option<Pass> {
        let mut inner = self.lock();
        match inner.open_until {
            None => Some(Pass::Normal),
            Some(until) if now < until => None,
            Some(_) if inner.probing.is_some_and(|at| now < at + MAX_BACKOFF) => None,
            Some(_) => {
                inner.probing = Some(now);
                Some(Pass::Probe)
            }
        }
    }

    /// Records an operation's outcome.
    pub(crate) fn record(&self, pass: Pass, ok: bool, now: Instant) {
        let mut inner = self.lock();
        if pass == Pass::Probe {
            inner.probing = None;
        }
        if ok {
            inner.failures = 0;
            inner.open_until = None;
            inner.backoff = FIRST_BACKOFF;
            return;
        }
        inner.failures = inner.failures.saturating_add(1);
        if pass == Pass::Probe {
            inner.backoff = (inner.backoff * 2).min(MAX_BACKOFF);
            inner.open_until = Some(now + inner.backoff);
        } else if inner.open_until.is_none() && inner.failures >= FAILURES_TO_OPEN {
            inner.open_until = Some(now + inner.backoff);
        }
    }

    /// The state at `now`, and the failures in a row.
    pub(crate) fn state(&self, now: Instant) -> (BreakerState, u32) {
        let inner = self.lock();
        let state = match inner.open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open {
                retry_in: until - now,
            },
            Some(_) => BreakerState::HalfOpen,
        };
        (state, inner.failures)
    }
}

/// Logs store failures at most once per [`LOG_INTERVAL`], saying how many were not logged.
#[derive(Debug)]
struct FailureLog {
    inner: Mutex<(Option<Instant>, u64)>,
}

impl FailureLog {
    fn log(&self, store: &str, err: &StoreError, now: Instant) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (last, skipped) = &mut *inner;
        if last.is_some_and(|at| now.duration_since(at) < LOG_INTERVAL) {
            *skipped += 1;
            return;
        }
        if *skipped > 0 {
            log::error!("session store {store}: {err} ({skipped} more failures not logged)");
        } else {
            log::error!("session store {store}: {err}");
        }
        *last = Some(now);
        *skipped = 0;
    }
}

/// A small per-process pool of connections with its store's bounds: taken out for one
/// operation, put back only after it succeeded, so a broken connection is dropped and the next
/// operation reconnects.
pub(crate) struct Pool<C> {
    name: &'static str,
    timeout: Duration,
    idle: Mutex<Vec<C>>,
    reads: Breaker,
    writes: Breaker,
    failures: FailureLog,
}

impl<C> Pool<C> {
    /// A pool for the store `name` whose operations are bounded by `timeout`.
    pub(crate) fn new(name: &'static str, timeout: Duration) -> Pool<C> {
        Pool {
            name,
            timeout,
            idle: Mutex::new(Vec::new()),
            reads: Breaker::new(),
            writes: Breaker::new(),
            failures: FailureLog {
                inner: Mutex::new((None, 0)),
            },
        }
    }

    /// The store's health now.
    pub(crate) fn health(&self) -> StoreHealth {
        let now = Instant::now();
        let (reads, read_failures) = self.reads.state(now);
        let (writes, write_failures) = self.writes.state(now);
        StoreHealth {
            store: self.name,
            reads,
            writes,
            failures: read_failures.max(write_failures),
        }
    }

    /// Runs `op` within the store's bounds: refused at once while `access`'s breaker is open; on an
    /// idle connection or a new one from `connect` (given the time left); a failure on an idle
    /// connection (it may have gone stale) is retried once on a new one while time is left.
    /// `op` gets the operation's deadline, for waits of its own (a lock, a busy timeout).
    pub(crate) fn with<T>(
        &self,
        access: Access,
        connect: impl Fn(Duration) -> Result<C, StoreError>,
        op: impl Fn(&mut C, Instant) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let breaker = match access {
            Access::Read => &self.reads,
            Access::Write => &self.writes,
        };
        let start = Instant::now();
        let Some(pass) = breaker.admit(start) else {
            return Err(StoreError(format!(
                "{}: unavailable (circuit open after repeated failures)",
                self.name
            )));
        };
        let deadline = start + self.timeout;
        let outcome = self.run(&connect, &op, deadline);
        let now = Instant::now();
        breaker.record(pass, outcome.is_ok(), now);
        if let Err(err) = &outcome {
            self.failures.log(self.name, err, now);
        }
        outcome
    }

    fn run<T>(
        &self,
        connect: &impl Fn(Duration) -> Result<C, StoreError>,
        op: &impl Fn(&mut C, Instant) -> Result<T, StoreError>,
        deadline: Instant,
    ) -> Result<T, StoreError> {
        let fresh = || -> Result<(C, T), StoreError> {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError(format!("{}: timed out", self.name)));
            }
            let mut conn = connect(left)?;
            let out = op(&mut conn, deadline)?;
            Ok((conn, out))
        };
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let (conn, out) = match taken {
            Some(mut conn) => match op(&mut conn, deadline) {
                Ok(out) => (conn, out),
                Err(_) => fresh()?,
            },
            None => fresh()?,
        };
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
