//! The FastCGI server's counters for the status page (`--status-path`): atomics shared by
//! the event side and the handler threads, so counting an answer costs a few relaxed atomic
//! adds and takes no lock. With the status page off nothing is counted (one branch on a
//! constant flag per answer).
//!
//! What is counted, and when:
//! - every answer the server sends, exactly once, when it has been framed: a handler's
//!   (`worker`), and the event side's own (503 after `--queue-wait`, 413 over `--max-body`,
//!   431 over the params limits, the status and ping pages) — by status class, and 503, 413
//!   and 431 by code (whoever sent them: the server or the app; 504 is [`Metrics::timed_out`]'s);
//! - its time, from "request complete" (the last params or body byte read, when the request
//!   is queued for a handler or answered on the event side) to "answer framed", so queueing
//!   behind busy handlers counts and the web server's reading does not;
//! - accepted connections; the longest queue seen (requests waiting for a free handler);
//! - slow requests and request timeouts, through [`Metrics::slow_request`] and
//!   [`Metrics::timed_out`], for `--slow-log` and `--request-timeout` to call.
//!
//! Request-time percentiles are over a window of the last [`WINDOW`] answers (a ring of
//! microsecond counts, written with one atomic store per answer), sorted when the page is
//! asked. The counters live in a [`Tally`]: this process's own, or under a master the
//! worker's slot on the scoreboard, so any worker's page adds up the pool's. What is a state rather than an event (connections by state, busy workers, the
//! queue now) is not counted here: the page computes it from the server when asked.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) use super::tally::WINDOW;
use super::tally::{Counter, Tally, Totals};

/// The status classes, 1xx to 5xx.
pub(crate) const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Where the counters live: this process's heap, or its worker slot on the scoreboard.
enum Home {
    Own(Box<Tally>),
    Shared(&'static Tally),
}

/// The server's counters; see the module documentation.
pub(crate) struct Metrics {
    on: bool,
    started: Instant,
    started_unix: f64,
    tally: Home,
}

/// The counters read at one moment, for the status page.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    /// Seconds since the server started.
    pub(crate) uptime: f64,
    /// The server's start (moments after the process's), in seconds since the Unix epoch.
    pub(crate) started_unix: f64,
    /// Connections accepted since the start.
    pub(crate) accepted: u64,
    /// Answers by status class, 1xx to 5xx.
    pub(crate) classes: [u64; 5],
    /// 503 answers.
    pub(crate) busy: u64,
    /// 413 answers.
    pub(crate) too_large: u64,
    /// 431 answers.
    pub(crate) headers_too_large: u64,
    /// Requests that reached `--request-timeout` (504).
    pub(crate) timed_out: u64,
    /// Requests that passed `--slow-log`.
    pub(crate) slow: u64,
    /// Every answer's time, added up, in seconds.
    pub(crate) time_sum: f64,
    /// The longest queue seen.
    pub(crate) queue_peak: usize,
    /// p50, p90 and p99 of the window, in seconds (0 before the first answer).
    pub(crate) quantiles: [(f64, f64); 3],
    /// Answers the quantiles cover.
    pub(crate) window_len: usize,
}

impl Counts {
    /// Answers in all.
    pub(crate) fn total(&self) -> u64 {
        self.classes.iter().sum()
    }

    /// The figures of `totals`, with the percentiles of `window` (answers' times in
    /// microseconds, sorted here, on the page's time), `uptime` seconds since the start at
    /// `started_unix`.
    pub(crate) fn of(
        totals: Totals,
        mut window: Vec<u32>,
        uptime: f64,
        started_unix: f64,
    ) -> Counts {
        window.sort_unstable();
        let quantiles = [0.5, 0.9, 0.99].map(|q| (q, quantile(&window, q)));
        Counts {
            uptime,
            started_unix,
            accepted: totals.get(Counter::Accepted),
            classes: totals.classes(),
            busy: totals.get(Counter::Busy),
            too_large: totals.get(Counter::TooLarge),
            headers_too_large: totals.get(Counter::HeadersTooLarge),
            timed_out: totals.get(Counter::TimedOut),
            slow: totals.get(Counter::Slow),
            time_sum: totals.get(Counter::TimeSumMicros) as f64 / 1e6,
            queue_peak: usize::try_from(totals.get(Counter::QueuePeak)).unwrap_or(usize::MAX),
            quantiles,
            window_len: window.len(),
        }
    }
}

impl Metrics {
    /// Counters of their own that count when `on` (the status page is configured).
    pub(crate) fn new(on: bool) -> Metrics {
        Metrics::with(on, Home::Own(Tally::boxed()))
    }

    /// Counters in `tally` (a worker's slot on the scoreboard, which its pool adds up).
    pub(crate) fn shared(on: bool, tally: &'static Tally) -> Metrics {
        Metrics::with(on, Home::Shared(tally))
    }

    fn with(on: bool, tally: Home) -> Metrics {
        let started_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Metrics {
            on,
            started: Instant::now(),
            started_unix,
            tally,
        }
    }

    fn tally(&self) -> &Tally {
        match &self.tally {
            Home::Own(tally) => tally,
            Home::Shared(tally) => tally,
        }
    }

    /// A connection was accepted.
    pub(crate) fn accepted(&self) {
        if self.on {
            self.tally().add(Counter::Accepted, 1);
        }
    }

    /// [`answered`](Metrics::answered), timed from `received`: the clock is read only when
    /// the counters are kept.
    pub(crate) fn answered_since(&self, status: u16, received: Instant) {
        if self.on {
            self.answered(status, received.elapsed());
        }
    }

    /// An answer with `status` was framed, `took` after its request was complete.
    pub(crate) fn answered(&self, status: u16, took: Duration) {
        if !self.on {
            return;
        }
        let tally = self.tally();
        tally.add_class(usize::from(status / 100).clamp(1, 5) - 1);
        match status {
            503 => tally.add(Counter::Busy, 1),
            413 => tally.add(Counter::TooLarge, 1),
            431 => tally.add(Counter::HeadersTooLarge, 1),
            _ => {}
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        tally.add(Counter::TimeSumMicros, micros);
        tally.record_time(micros);
    }

    /// The queue of requests waiting for a handler is `len` long: kept if the longest yet.
    pub(crate) fn queued(&self, len: usize) {
        if self.on && len > 0 {
            self.tally().queue_seen(len as u64);
        }
    }

    /// A request passed `--slow-log` while in its handler (count it once per request). For
    /// the slow-request log to call; shown as `slow_requests` and
    /// `pycnic_slow_requests_total`.
    pub(crate) fn slow_request(&self) {
        if self.on {
            self.tally().add(Counter::Slow, 1);
        }
    }

    /// A request reached `--request-timeout` and was answered 504 (count it once per
    /// request; its answer is counted by [`Metrics::answered`] as any other, by class). For
    /// the request timeout to call; shown as `answers."504"` and
    /// `pycnic_answers_by_code_total{code="504"}` (a 504 an app handler returns itself is
    /// counted by class only).
    pub(crate) fn timed_out(&self) {
        if self.on {
            self.tally().add(Counter::TimedOut, 1);
        }
    }

    /// This process's counters now, with the window's percentiles.
    pub(crate) fn read(&self) -> Counts {
        let tally = self.tally();
        let mut window = Vec::with_capacity(WINDOW);
        if self.on {
            tally.window_into(&mut window);
        }
        let uptime = self.started.elapsed().as_secs_f64();
        Counts::of(tally.totals(), window, uptime, self.started_unix)
    }
}

/// The nearest-rank quantile `q` of sorted microsecond counts, in seconds.
fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).map_or(0.0, |m| f64::from(*m) / 1e6)
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
