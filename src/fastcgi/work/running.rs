//! The handlers running now, for `--slow-log` and `--request-timeout`.
//!
//! The model: the server keeps a table with one entry per handler running (its connection,
//! request id, method, target, when it started, whether it was logged slow or timed out).
//! The thread that takes a request pushes its entry and the thread back from the handler pops
//! it, each under the server's lock it takes anyway; entries and their strings are reused,
//! so a request costs no allocation. The table is there only when one of the two options is
//! on. The table knows its next due time (the earliest start plus the slow or timeout
//! threshold); the leader's poll waits no longer than that, and looks at the table only when
//! it is due, so nothing wakes while nothing is due.
//!
//! Slow: past `--slow-log` the request is logged once at WARN while it runs (its handler's
//! name looked up from the route then, never per request), and again when it finishes. The
//! method and target are kept raw (the handler's name is looked up from the target) and
//! escaped and cut only when a line is written (`access::Escaped`).
//!
//! Timeout: who answers a request is decided by one atomic flag (the entry's claim): the
//! handler's thread sets it when its handler returns, the leader sets it at the timeout, and
//! only the side that set it first answers. When the leader wins, it takes a duplicate of the
//! connection's descriptor, moves the connection's registration to it, points the original
//! (which the handler's thread keeps open, to close under the server's lock when it comes
//! back) at /dev/null so that the connection is the duplicate's alone (closing it closes it
//! while the handler still runs), answers a JSON 504 through the app's error response, and
//! the connection carries on (a kept-alive one takes its next request). The late handler's answer is dropped and its copy
//! of the descriptor closed when it returns. The stuck handler's slot is given back at once
//! and a new thread started, so capacity does not shrink, up to `--max-stuck` stuck threads
//! (default: `--workers`); past the cap one ERROR line is logged and the stuck handler keeps
//! its slot. A stuck thread that returns ends, so the thread count comes back.

use std::borrow::Cow;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::app::App;

use super::job::{Job, Ticket};
use crate::fastcgi::ops::access::{AccessParts, Escaped, RequestId};
use crate::fastcgi::ops::metrics::Metrics;

/// The options the table serves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `--slow-log`.
    pub(crate) slow: Option<Duration>,
    /// `--request-timeout`.
    pub(crate) timeout: Option<Duration>,
    /// `--max-stuck`.
    pub(crate) max_stuck: usize,
}

/// One handler running.
#[derive(Debug)]
pub(crate) struct Entry {
    in_use: bool,
    /// The connection's slot.
    pub(crate) token: usize,
    /// The FastCGI request id.
    pub(crate) fcgi_id: u16,
    /// The connection's descriptor, which the handler's thread holds open.
    pub(crate) fd: RawFd,
    pub(crate) tcp: bool,
    id: String,
    method: String,
    target: String,
    /// When its request was complete (a 504's time, like any answer's, counts from then).
    pub(crate) received: Instant,
    started: Instant,
    slow_logged: bool,
    /// The timeout was dealt with (answered 504, or the handler had answered first).
    timeout_seen: bool,
    /// Answered 504 at the timeout.
    pub(crate) timed_out: bool,
    /// A new thread took its place.
    replaced: bool,
    claim: Arc<AtomicBool>,
    /// Its access-log fields, when the access log is on and so is the timeout.
    pub(crate) access: AccessParts,
}

/// What popping an entry tells the server about threads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Popped {
    /// It was answered 504 and its late answer must be dropped.
    pub(crate) timed_out: bool,
    /// A new thread took its place: this one exits, and its slot was given back already.
    pub(crate) replaced: bool,
}

/// The handlers running now.
#[derive(Debug)]
pub(crate) struct Running {
    entries: Vec<Entry>,
    free: Vec<usize>,
    limits: Limits,
    /// When the table next needs a look (a spurious look is harmless).
    pub(crate) next_due: Option<Instant>,
    /// Handlers past their timeout that a new thread replaced.
    pub(crate) stuck: usize,
    cap_logged: bool,
}

impl Running {
    /// The table, when `--slow-log` or `--request-timeout` is on.
    pub(crate) fn new(limits: Limits) -> Option<Running> {
        (limits.slow.is_some() || limits.timeout.is_some()).then(|| Running {
            entries: Vec::new(),
            free: Vec::new(),
            limits,
            next_due: None,
            stuck: 0,
            cap_logged: false,
        })
    }

    /// The earliest threshold.
    fn first_threshold(&self) -> Duration {
        match (self.limits.slow, self.limits.timeout) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(Duration::MAX),
        }
    }

    /// A handler starts on `job`: its entry; returns its ticket and its due time.
    pub(crate) fn push(&mut self, job: &Job, capture_access: bool) -> (Ticket, Instant) {
        let index = self.free.pop().unwrap_or(self.entries.len());
        if index == self.entries.len() {
            self.entries.push(Entry {
                in_use: false,
                token: 0,
                fcgi_id: 0,
                fd: -1,
                tcp: false,
                id: String::new(),
                method: String::new(),
                target: String::new(),
                started: job.received,
                received: job.received,
                slow_logged: false,
                timeout_seen: false,
                timed_out: false,
                replaced: false,
                claim: Arc::default(),
                access: AccessParts::default(),
            });
        }
        let now = Instant::now();
        let timeout = self.limits.timeout.is_some();
        let params = &job.request.params;
        let find = |name: &[u8]| {
            params
                .get(name)
                .map_or(Cow::Borrowed("-"), String::from_utf8_lossy)
        };
        let id = RequestId::of(params, job.seq);
        let mut claim = None;
        if let Some(entry) = self.entries.get_mut(index) {
            entry.in_use = true;
            entry.token = job.token;
            entry.fcgi_id = job.request.id;
            entry.fd = job.stream.as_raw_fd();
            entry.tcp = job.stream.is_tcp();
            let mut bytes = std::mem::take(&mut entry.id).into_bytes();
            bytes.clear();
            id.write_to(&mut bytes);
            entry.id = String::from_utf8(bytes).unwrap_or_default();
            entry.method.clear();
            entry.method.push_str(&find(b"REQUEST_METHOD"));
            entry.target.clear();
            entry.target.push_str(&find(b"REQUEST_URI"));
            entry.started = now;
            entry.received = job.received;
            entry.slow_logged = false;
            entry.timeout_seen = false;
            entry.timed_out = false;
            entry.replaced = false;
            if timeout {
                entry.claim.store(false, Ordering::Release);
                claim = Some(Arc::clone(&entry.claim));
                if capture_access {
                    entry.access.capture(params, &id);
                }
            }
        }
        let due = now + self.first_threshold();
        self.next_due = Some(self.next_due.map_or(due, |at| at.min(due)));
        (Ticket { index, claim }, due)
    }

    /// A handler came back: its entry goes; a slow one is logged with its total time.
    pub(crate) fn pop(&mut self, index: usize, app: &App) -> Popped {
        let Some(entry) = self.entries.get_mut(index).filter(|e| e.in_use) else {
            return Popped {
                timed_out: false,
                replaced: false,
            };
        };
        entry.in_use = false;
        self.free.push(index);
        let took = entry.started.elapsed().as_secs_f64();
        if entry.timed_out {
            log::warn!(
                "late handler returned: {} {} (request {}, handler {}) after {took:.3} s; its \
                 answer was dropped (504 sent at --request-timeout)",
                Escaped(&entry.method),
                Escaped(&entry.target),
                entry.id,
                handler_name(app, &entry.target)
            );
        } else if entry.slow_logged {
            log::warn!(
                "slow request finished: {} {} (request {}, handler {}) took {took:.3} s",
                Escaped(&entry.method),
                Escaped(&entry.target),
                entry.id,
                handler_name(app, &entry.target)
            );
        }
        let popped = Popped {
            timed_out: entry.timed_out,
            replaced: entry.replaced,
        };
        if popped.replaced {
            self.stuck -= 1;
            if self.stuck < self.limits.max_stuck {
                self.cap_logged = false;
            }
        }
        popped
    }

    /// The table is due: logs (and counts) requests newly slow and returns the entries newly past their
    /// timeout whose answer the timeout won (each to be answered 504 by the caller).
    pub(crate) fn check(&mut self, now: Instant, app: &App, metrics: &Metrics) -> Vec<usize> {
        let mut expired = Vec::new();
        let mut next: Option<Instant> = None;
        let mut plan = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        for (index, entry) in self.entries.iter_mut().enumerate() {
            if !entry.in_use {
                continue;
            }
            let elapsed = now.saturating_duration_since(entry.started);
            if let Some(slow) = self.limits.slow.filter(|_| !entry.slow_logged) {
                if elapsed >= slow {
                    entry.slow_logged = true;
                    metrics.slow_request();
                    log::warn!(
                        "slow request: {} {} (request {}, handler {}) running for {:.3} s",
                        Escaped(&entry.method),
                        Escaped(&entry.target),
                        entry.id,
                        handler_name(app, &entry.target),
                        elapsed.as_secs_f64()
                    );
                } else {
                    plan(entry.started + slow);
                }
            }
            if let Some(timeout) = self.limits.timeout.filter(|_| !entry.timeout_seen) {
                if elapsed >= timeout {
                    entry.timeout_seen = true;
                    if !entry.claim.swap(true, Ordering::AcqRel) {
                        entry.timed_out = true;
                        expired.push(index);
                    }
                } else {
                    plan(entry.started + timeout);
                }
            }
        }
        self.next_due = next;
        expired
    }

    /// Handlers still running past `--request-timeout` (answered 504), and of them those that
    /// keep their worker slot (no new thread replaced them: past `--max-stuck`).
    pub(crate) fn stuck_now(&self) -> (usize, usize) {
        let stuck = self.entries.iter().filter(|e| e.in_use && e.timed_out);
        let holding = stuck.clone().filter(|e| !e.replaced).count();
        (stuck.count(), holding)
    }

    /// `--request-timeout` (zero when off).
    pub(crate) fn timeout(&self) -> Duration {
        self.limits.timeout.unwrap_or_default()
    }

    /// The entry at `index`.
    pub(crate) fn entry_mut(&mut self, index: usize) -> Option<&mut Entry> {
        self.entries.get_mut(index)
    }

    /// The entry timed out and was answered: a new thread may take its place (`true`), or
    /// the cap on stuck threads is reached and it keeps its slot.
    pub(crate) fn replace(&mut self, index: usize) -> bool {
        if self.stuck >= self.limits.max_stuck {
            if !self.cap_logged {
                self.cap_logged = true;
                log::error!(
                    "--max-stuck {} reached: {} handlers are stuck past --request-timeout; \
                     no new thread replaces this one, so it keeps its worker slot until it \
                     returns",
                    self.limits.max_stuck,
                    self.stuck
                );
            }
            return false;
        }
        let Some(entry) = self.entries.get_mut(index) else {
            return false;
        };
        entry.replaced = true;
        self.stuck += 1;
        true
    }

    /// What the log says about the entry: method, target, id, handler, age.
    pub(crate) fn describe(&self, index: usize, app: &App) -> String {
        self.entries.get(index).map_or_else(String::new, |e| {
            format!(
                "{} {} (request {}, handler {}) after {:.3} s",
                Escaped(&e.method),
                Escaped(&e.target),
                e.id,
                handler_name(app, &e.target),
                e.started.elapsed().as_secs_f64()
            )
        })
    }
}

/// The name of the handler the target routes to, `-` when none.
fn handler_name(app: &App, target: &str) -> String {
    let path = crate::gateway::uri_path(target);
    app.handler_name(&path).unwrap_or("-").to_string()
}

#[cfg(test)]
#[path = "running_tests.rs"]
mod tests;
