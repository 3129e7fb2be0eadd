//! The status page's counters as plain memory: [`Tally`] is a `#[repr(C)]` block of atomics,
//! valid when zero-filled, so it can live in a process's heap or in a worker's slot of the
//! scoreboard (shared memory), where any worker's status page adds up the pool's. `metrics`
//! counts into it; [`Totals`] is a tally read at one moment, and totals add up (the longest
//! queue by its maximum).
//!
//! A tally holds the answers by class and by code, accepted connections, slow and timed-out
//! requests, the time of every answer added up, the longest queue, and a ring of the latest
//! [`WINDOW`] answers' times (microseconds) for the percentiles.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// How many of the latest answers the request-time percentiles cover.
pub(crate) const WINDOW: usize = 1024;

/// One counter of a tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    /// Connections accepted.
    Accepted,
    /// Answers 1xx (2xx..5xx follow).
    Class1xx,
    /// 503 answers.
    Busy = 6,
    /// 413 answers.
    TooLarge,
    /// 431 answers.
    HeadersTooLarge,
    /// Requests that reached `--request-timeout`.
    TimedOut,
    /// Requests that passed `--slow-log`.
    Slow,
    /// Every answer's time, added up, in microseconds.
    TimeSumMicros,
    /// The longest queue seen (kept by its maximum).
    QueuePeak,
}

const COUNTERS: usize = Counter::QueuePeak as usize + 1;

/// The counters, in memory of any kind (zero bytes are a fresh tally).
#[repr(C)]
pub(crate) struct Tally {
    counters: [AtomicU64; COUNTERS],
    /// Answers written to the window so far (the next cell is this modulo WINDOW).
    next: AtomicU64,
    window: [AtomicU32; WINDOW],
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally")
            .field("totals", &self.totals())
            .finish_non_exhaustive()
    }
}

impl Tally {
    /// A fresh tally on the heap.
    pub(crate) fn boxed() -> Box<Tally> {
        Box::new(Tally {
            counters: Default::default(),
            next: AtomicU64::new(0),
            window: std::array::from_fn(|_| AtomicU32::new(0)),
        })
    }

    /// Adds `n` to a counter.
    pub(crate) fn add(&self, counter: Counter, n: u64) {
        if let Some(cell) = self.counters.get(counter as usize) {
            cell.fetch_add(n, Relaxed);
        }
    }

    /// Counts an answer of `class` (0 for 1xx .. 4 for 5xx).
    pub(crate) fn add_class(&self, class: usize) {
        if let Some(cell) = self.counters.get(Counter::Class1xx as usize + class.min(4)) {
            cell.fetch_add(1, Relaxed);
        }
    }

    /// Keeps `len` as the longest queue if it is.
    pub(crate) fn queue_seen(&self, len: u64) {
        if let Some(cell) = self.counters.get(Counter::QueuePeak as usize) {
            cell.fetch_max(len, Relaxed);
        }
    }

    /// Writes an answer's time to the window.
    pub(crate) fn record_time(&self, micros: u64) {
        let at = self.next.fetch_add(1, Relaxed) % WINDOW as u64;
        if let Some(cell) = usize::try_from(at).ok().and_then(|at| self.window.get(at)) {
            cell.store(u32::try_from(micros).unwrap_or(u32::MAX), Relaxed);
        }
    }

    /// The counters now.
    pub(crate) fn totals(&self) -> Totals {
        Totals(std::array::from_fn(|n| {
            self.counters.get(n).map_or(0, |c| c.load(Relaxed))
        }))
    }

    /// Appends the window's filled cells to `out`.
    pub(crate) fn window_into(&self, out: &mut Vec<u32>) {
        let filled = usize::try_from(self.next.load(Relaxed)).map_or(WINDOW, |n| n.min(WINDOW));
        out.extend(
            self.window
                .iter()
                .take(filled)
                .map(|cell| cell.load(Relaxed)),
        );
    }

    /// Adds this tally's counters to `into` (a worker that is gone: its answers still count).
    pub(crate) fn fold_into(&self, into: &Tally) {
        let totals = self.totals();
        for (n, (cell, value)) in into.counters.iter().zip(totals.0).enumerate() {
            if n == Counter::QueuePeak as usize {
                cell.fetch_max(value, Relaxed);
            } else {
                cell.fetch_add(value, Relaxed);
            }
        }
    }

    /// Back to a fresh tally (a new worker takes the slot).
    pub(crate) fn clear(&self) {
        for cell in &self.counters {
            cell.store(0, Relaxed);
        }
        self.next.store(0, Relaxed);
    }
}

/// A tally's counters read at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals([u64; COUNTERS]);

impl Totals {
    /// One counter.
    pub(crate) fn get(&self, counter: Counter) -> u64 {
        self.0.get(counter as usize).copied().unwrap_or(0)
    }

    /// Answers by class, 1xx to 5xx.
    pub(crate) fn classes(&self) -> [u64; 5] {
        std::array::from_fn(|n| {
            self.0
                .get(Counter::Class1xx as usize + n)
                .copied()
                .unwrap_or(0)
        })
    }

    /// These and `other` together (the longest queue is the longer one).
    pub(crate) fn plus(self, other: Totals) -> Totals {
        Totals(std::array::from_fn(|n| {
            let (a, b) = (self.0[n], other.0[n]);
            if n == Counter::QueuePeak as usize {
                a.max(b)
            } else {
                a.saturating_add(b)
            }
        }))
    }
}

#[cfg(test)]
#[path = "tally_tests.rs"]
mod tests;
