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
//! asked. What is a state rather than an event (connections by state, busy workers, the
//! queue now) is not counted here: the page computes it from the server when asked.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How many of the latest answers the request-time percentiles cover.
pub(crate) const WINDOW: usize = 1024;

/// The status classes, 1xx to 5xx.
pub(crate) const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The server's counters; see the module documentation.
pub(crate) struct Metrics {
    on: bool,
    started: Instant,
    started_unix: f64,
    accepted: AtomicU64,
    classes: [AtomicU64; 5],
    busy: AtomicU64,
    too_large: AtomicU64,
    headers_too_large: AtomicU64,
    timed_out: AtomicU64,
    slow: AtomicU64,
    time_sum_micros: AtomicU64,
    queue_peak: AtomicUsize,
    window: Box<[AtomicU32]>,
    next: AtomicU64,
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
}

impl Metrics {
    /// Counters that count when `on` (the status page is configured).
    pub(crate) fn new(on: bool) -> Metrics {
        let started_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let window = if on { WINDOW } else { 0 };
        Metrics {
            on,
            started: Instant::now(),
            started_unix,
            accepted: AtomicU64::new(0),
            classes: Default::default(),
            busy: AtomicU64::new(0),
            too_large: AtomicU64::new(0),
            headers_too_large: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            time_sum_micros: AtomicU64::new(0),
            queue_peak: AtomicUsize::new(0),
            window: (0..window).map(|_| AtomicU32::new(0)).collect(),
            next: AtomicU64::new(0),
        }
    }

    /// A connection was accepted.
    pub(crate) fn accepted(&self) {
        if self.on {
            self.accepted.fetch_add(1, Relaxed);
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
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        if let Some(counter) = self.classes.get(class) {
            counter.fetch_add(1, Relaxed);
        }
        match status {
            503 => _ = self.busy.fetch_add(1, Relaxed),
            413 => _ = self.too_large.fetch_add(1, Relaxed),
            431 => _ = self.headers_too_large.fetch_add(1, Relaxed),
            _ => {}
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.time_sum_micros.fetch_add(micros, Relaxed);
        let at = self.next.fetch_add(1, Relaxed) % WINDOW as u64;
        if let Some(cell) = usize::try_from(at).ok().and_then(|at| self.window.get(at)) {
            cell.store(u32::try_from(micros).unwrap_or(u32::MAX), Relaxed);
        }
    }

    /// The queue of requests waiting for a handler is `len` long: kept if the longest yet.
    pub(crate) fn queued(&self, len: usize) {
        if self.on && len > 0 {
            self.queue_peak.fetch_max(len, Relaxed);
        }
    }

    /// A request passed `--slow-log` while in its handler (count it once per request). For
    /// the slow-request log to call; shown as `slow_requests` and
    /// `pycnic_slow_requests_total`.
    #[allow(dead_code)] // wired to --slow-log at merge
    pub(crate) fn slow_request(&self) {
        if self.on {
            self.slow.fetch_add(1, Relaxed);
        }
    }

    /// A request reached `--request-timeout` and was answered 504 (count it once per
    /// request; its answer is counted by [`Metrics::answered`] as any other, by class). For
    /// the request timeout to call; shown as `answers."504"` and
    /// `pycnic_answers_by_code_total{code="504"}` (a 504 an app handler returns itself is
    /// counted by class only).
    #[allow(dead_code)] // wired to --request-timeout at merge
    pub(crate) fn timed_out(&self) {
        if self.on {
            self.timed_out.fetch_add(1, Relaxed);
        }
    }

    /// The counters now, with the window's percentiles (sorted here, on the page's time).
    pub(crate) fn read(&self) -> Counts {
        let answers = self.next.load(Relaxed);
        let filled = usize::try_from(answers).map_or(WINDOW, |n| n.min(self.window.len()));
        let mut recent: Vec<u32> = self
            .window
            .iter()
            .take(filled)
            .map(|cell| cell.load(Relaxed))
            .collect();
        recent.sort_unstable();
        let quantiles = [0.5, 0.9, 0.99].map(|q| (q, quantile(&recent, q)));
        Counts {
            uptime: self.started.elapsed().as_secs_f64(),
            started_unix: self.started_unix,
            accepted: self.accepted.load(Relaxed),
            classes: std::array::from_fn(|n| self.classes.get(n).map_or(0, |c| c.load(Relaxed))),
            busy: self.busy.load(Relaxed),
            too_large: self.too_large.load(Relaxed),
            headers_too_large: self.headers_too_large.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
            slow: self.slow.load(Relaxed),
            time_sum: self.time_sum_micros.load(Relaxed) as f64 / 1e6,
            queue_peak: self.queue_peak.load(Relaxed),
            quantiles,
            window_len: filled,
        }
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
