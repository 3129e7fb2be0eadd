//! Recycling a worker, gracefully: at `--max-requests` (its successor starts at three
//! quarters of the limit), past `--max-rss`, or once its threads stuck past
//! `--request-timeout` reach `--max-stuck`, a successor starts in its slot; once the successor
//! serves (and a `--max-requests` worker reached its limit, which it also drains itself at),
//! the worker drains as on SIGTERM, and it is killed if the drain outlasts
//! `--shutdown-timeout` + 5 s (stuck threads never finish).

use std::time::{Duration, Instant};

use mio::Registry;

use crate::fastcgi::ops::status::process_resident_bytes;

use super::pool::Reason;
use super::workers::{Outgoing, Workers, signal_child};

/// How long a worker being recycled for `--max-requests` may serve on beside its successor
/// before it drains, when it does not reach its limit (traffic stopped).
const OUTGOING_GRACE: Duration = Duration::from_secs(2);

impl Workers {
    /// Recycling: a successor starts for each worker at three quarters of its
    /// `--max-requests` or past `--max-rss`, so that it serves by the time the worker reaches
    /// its limit; then the worker drains.
    pub(crate) fn recycle(&mut self, registry: &Registry, now: Instant) {
        for index in 0..self.slots.len() {
            self.drain_outgoing(index, now);
            let slot = &self.slots[index];
            let Some(worker) = slot.worker.as_ref() else {
                continue;
            };
            if !slot.serving || slot.outgoing.is_some() {
                continue;
            }
            let requests = self.board.requests(worker.board);
            let reason = if worker
                .max_requests
                .is_some_and(|max| requests >= max - max / 4)
            {
                Reason::MaxRequests
            } else if self
                .limits
                .max_stuck
                .is_some_and(|max| self.board.stuck(worker.board) >= max)
            {
                Reason::Stuck
            } else if self
                .limits
                .max_rss
                .zip(process_resident_bytes(worker.child.id()))
                .is_some_and(|(max, rss)| rss > max)
            {
                Reason::MaxRss
            } else {
                continue;
            };
            let slot = &mut self.slots[index];
            let Some(old) = slot.worker.take() else {
                continue;
            };
            log::info!(
                "fastcgi master: worker {} (slot {index}) is to be replaced ({}, {requests} \
                 requests so far); its successor starts",
                old.child.id(),
                reason.name()
            );
            slot.outgoing = Some(Outgoing {
                worker: old,
                reason,
                draining: None,
            });
            slot.due = Some(now);
            self.restarts[reason as usize] += 1;
            if let Err(err) = self.start(registry, index, now) {
                log::error!("fastcgi master: cannot start a successor: {err}");
                let slot = &mut self.slots[index];
                if let Some(outgoing) = slot.outgoing.take() {
                    slot.worker = Some(outgoing.worker);
                    slot.due = None;
                }
            }
        }
    }

    /// The outgoing worker of a slot drains once its successor serves and it reached its
    /// limit (it drains itself at its limit too), or [`OUTGOING_GRACE`] after its successor
    /// serves whatever its count.
    fn drain_outgoing(&mut self, index: usize, now: Instant) {
        let slot = &mut self.slots[index];
        let Some(outgoing) = slot.outgoing.as_mut() else {
            return;
        };
        if let Some(draining) = outgoing.draining {
            // Stuck threads never finish: past the drain's time it is killed.
            if now.saturating_duration_since(draining) >= self.limits.kill_after {
                signal_child(&outgoing.worker.child, libc::SIGKILL);
            }
            return;
        }
        let Some(since) = slot.serving_since else {
            return;
        };
        let at_limit = match outgoing.reason {
            Reason::MaxRequests => outgoing
                .worker
                .max_requests
                .is_none_or(|max| self.board.requests(outgoing.worker.board) >= max),
            _ => true,
        };
        if at_limit || now.saturating_duration_since(since) >= OUTGOING_GRACE {
            signal_child(&outgoing.worker.child, libc::SIGTERM);
            outgoing.draining = Some(now);
        }
    }
}
