//! The ready queue, one part of the event loop: complete requests waiting for a handler slot,
//! oldest first. Past `--queue-wait` a request leaves it for a 503 instead of a handler (and
//! the ping says so for a `--queue-wait`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::fastcgi::work::job::Job;

/// Complete requests waiting for a handler slot, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    jobs: VecDeque<Job>,
    /// When requests were last taken out for waiting past `--queue-wait`.
    last_stale: Option<Instant>,
}

impl Ready {
    /// A request is complete: it waits behind the others.
    pub(crate) fn push(&mut self, job: Job) {
        self.jobs.push_back(job);
    }

    /// The oldest request waiting.
    pub(crate) fn pop(&mut self) -> Option<Job> {
        self.jobs.pop_front()
    }

    /// Requests waiting.
    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }

    /// The requests that have waited longer than `wait` (the oldest are first), taken out.
    pub(crate) fn take_stale(&mut self, wait: Duration) -> Vec<Job> {
        let mut stale = Vec::new();
        while self
            .jobs
            .front()
            .is_some_and(|job| job.received.elapsed() > wait)
        {
            stale.extend(self.jobs.pop_front());
        }
        if !stale.is_empty() {
            self.last_stale = Some(Instant::now());
        }
        stale
    }

    /// Whether requests wait past `wait` now, or did within the last `wait` (the health
    /// the ping reports).
    pub(crate) fn overdue(&self, wait: Duration) -> bool {
        self.last_stale.is_some_and(|at| at.elapsed() <= wait)
            || self
                .jobs
                .front()
                .is_some_and(|job| job.received.elapsed() > wait)
    }
}
