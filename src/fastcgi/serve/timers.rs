//! The event side's timers, at each turn: requests that waited past `--queue-wait` get a
//! 503 without a handler, stalled and idle connections are closed (whole-params and
//! whole-body deadlines, so a trickle cannot hold a slot; the send timeout), accepting
//! resumes when room or a descriptor frees, memory is given back once a flood has passed, and
//! the running handlers are checked against
//! `--slow-log` and `--request-timeout`.

use std::time::Instant;

use crate::fastcgi::protocol::conn::Phase;
use crate::fastcgi::work::answers;
use crate::fastcgi::work::job::Job;

use super::drive::{furthest_behind, oldest_idle};
use super::server::Server;

impl Server {
    /// A request no handler took within `--queue-wait`: a JSON 503 from the event side.
    pub(crate) fn answer_busy(&mut self, job: Job) {
        self.pool.budget.release(job.held);
        let Some(slot) = self.table.get_mut(job.token) else {
            return;
        };
        slot.stream = Some(job.stream);
        let response = answers::busy_response(&self.pool.app, self.settings.queue_wait);
        log::warn!(
            "no worker free within {:?}: answering 503",
            self.settings.queue_wait
        );
        self.answer_here(job.token, &job.request, job.seq, response, job.received);
        self.pump(job.token);
    }

    /// Timers: stalled and idle connections, requests waiting too long, accept retries.
    pub(crate) fn tick(&mut self) {
        let now = self.clock.now();
        if self
            .running
            .as_ref()
            .and_then(|r| r.next_due)
            .is_some_and(|due| now >= due)
        {
            self.check_running(now);
        }
        let table = &self.table;
        let rate = self.settings.timers.body_min_rate;
        if self.admission.resume(
            now,
            (table.live(), self.settings.max_connections),
            now >= self.clock.next_sweep(),
            || {
                oldest_idle(table.slots()).is_some()
                    || furthest_behind(table.slots(), rate).is_some()
            },
        ) {
            self.accept_all();
        }
        self.look_at_turn();
        if !self.clock.sweep(now) {
            return;
        }
        self.publish_connections();
        let quiet = self.ready.len() == 0 && self.crew.free() == self.settings.workers;
        self.trim.sweep(self.table.live(), quiet);
        let wait = self.settings.queue_wait;
        for job in self.ready.take_stale(wait) {
            self.answer_busy(job);
        }
        let expired = self
            .table
            .indexes_where(|s| s.stream.is_some() && s.deadline.is_some_and(|d| now >= d));
        for index in expired {
            // Bytes may be waiting that a busy loop has not read yet: read them first.
            self.on_event(index, false);
            let Some(slot) = self.table.get(index) else {
                continue;
            };
            if slot.stream.is_none() || slot.deadline.is_none_or(|d| Instant::now() < d) {
                continue;
            }
            let (phase, flushed) = (slot.phase, slot.flushed());
            let reason = match phase {
                _ if !flushed => Some("send timeout".to_string()),
                Phase::Idle => {
                    log::info!("closed an idle connection");
                    None
                }
                Phase::Head => Some("header-read timeout".to_string()),
                Phase::Body => Some("body-read timeout (--body-timeout, --body-min-rate)".into()),
                Phase::Responding | Phase::Closed => Some("send timeout".to_string()),
            };
            self.close(index, reason);
        }
    }
}
