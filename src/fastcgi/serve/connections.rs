//! The event side of each connection, run by the leading thread (see `threads`): accepting
//! (allow-list, --max-connections with admission control, descriptor shortage), reading and
//! writing without blocking, queueing complete requests for the handlers, finishing answers
//! their threads could not send at once, and answering without a handler (413, 431, 503,
//! the status and ping pages).

use std::io;
use std::time::Instant;

use mio::Interest;

use crate::fastcgi::config::options::peer_allowed;
use crate::fastcgi::net::listen::{Peer, Stream};
use crate::fastcgi::ops::access::{AccessParts, RequestId};
use crate::fastcgi::process::scoreboard::mine;
use crate::fastcgi::protocol::answer::write_fastcgi_response;
use crate::fastcgi::protocol::conn::{Connection, Event, Phase, ReceivedRequest};
use crate::fastcgi::serve::drive::{Outcome, drive, furthest_behind, oldest_idle};
use crate::fastcgi::serve::server::Server;
use crate::fastcgi::serve::slot::Slot;
use crate::fastcgi::work::answers;
use crate::fastcgi::work::job::Job;
use crate::fastcgi::work::spill::SpillError;

impl Server {
    pub(crate) fn accept_all(&mut self) {
        for n in 0..self.admission.listeners().len() {
            self.accept(n);
        }
    }

    /// Accepts while there is room. At --max-connections, the connection idle longest
    /// between requests is closed for each new one, else the one furthest behind
    /// `--body-min-rate` sending its params or body (a trickler that reconnects cannot keep
    /// the slots: a slow but steady sender is never behind); when none may be, the rest stay in the
    /// kernel's backlog (admission control) until a slot frees. Under a master, a worker
    /// accepts only on its accept turn, and passes the turn on when it has no handler slot
    /// for a new request and a peer has (`peers`).
    pub(crate) fn accept(&mut self, n: usize) {
        loop {
            if self.lifecycle.shutdown().is_some() || self.admission.paused() {
                return;
            }
            if !self.may_accept(n) {
                return;
            }
            let full = self.table.live() >= self.settings.max_connections;
            let room = full.then(|| self.room_to_make()).flatten();
            if full && room.is_none() {
                self.admission.block();
                return;
            }
            let Some(listener) = self.admission.listeners().get(n) else {
                return;
            };
            match listener.accept() {
                Ok((stream, Peer::Ip(ip))) if !peer_allowed(&self.settings.allowed, ip) => {
                    log::warn!("dropped connection from {ip}: not in FCGI_WEB_SERVER_ADDRS");
                    drop(stream);
                }
                Ok((stream, _)) => {
                    self.admission.accepted();
                    if let Some((index, idle)) = room {
                        if idle {
                            log::debug!(
                                "closed an idle connection to make room (--max-connections {})",
                                self.settings.max_connections
                            );
                        } else {
                            log::debug!(
                                "closed a connection behind --body-min-rate to make room \
                                 (--max-connections {})",
                                self.settings.max_connections
                            );
                        }
                        self.close(index, None);
                    }
                    self.add(stream);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(err) => {
                    if !self.accept_failed(&err) {
                        return;
                    }
                }
            }
        }
    }

    /// At `--max-connections`, the connection to close for a new one: the one idle longest
    /// (`true`), else the one furthest behind `--body-min-rate` in its params or body.
    pub(crate) fn room_to_make(&self) -> Option<(usize, bool)> {
        let slots = self.table.slots();
        oldest_idle(slots).map(|index| (index, true)).or_else(|| {
            furthest_behind(slots, self.settings.timers.body_min_rate).map(|index| (index, false))
        })
    }

    /// EMFILE, ENFILE, ENOBUFS...: close an idle connection and try again (`true`), or stop
    /// accepting until a connection closes (at most ACCEPT_RETRY); one warning per episode.
    fn accept_failed(&mut self, err: &io::Error) -> bool {
        if let Some(index) = oldest_idle(self.table.slots()) {
            log::debug!("accept failed: {err}; closed an idle connection to make room");
            self.close(index, None);
            return true;
        }
        if self.admission.starved(self.table.live(), self.clock.now()) {
            log::warn!(
                "accept failed: {err}; accepting again when a connection closes ({} open)",
                self.table.live()
            );
        }
        false
    }

    pub(crate) fn add(&mut self, mut stream: Stream) {
        let index = self.table.reserve();
        let token = self.table.token(index);
        if let Err(err) = self
            .registry
            .register(&mut stream, token, Interest::READABLE)
        {
            log::warn!("dropped connection: cannot watch it: {err}");
            self.table.unreserve(index);
            return;
        }
        let conn = Connection::new(self.settings.limits);
        let slot = Slot::new(stream, conn, self.clock.now(), &self.settings.timers);
        self.table.put(index, slot);
        self.peers.accepted();
        if self.peers.in_pool {
            // Its peers see the room this connection takes before they decide on the next,
            // and that this worker accepts.
            self.write_load();
            mine::publish_accepts(self.peers.accepts);
        }
        self.pool.metrics.accepted();
    }

    pub(crate) fn close(&mut self, index: usize, reason: Option<String>) {
        let Some(mut slot) = self.table.take(index) else {
            return;
        };
        if let Some(reason) = reason {
            log::warn!("dropped connection: {reason}");
        }
        if slot.awaiting {
            self.peers.arrived();
        }
        slot.body.forget(&self.pool.budget);
        self.pool.output_budget.release(slot.out_held);
        if let Some(mut stream) = slot.stream {
            let _ = self.registry.deregister(&mut stream);
        }
    }

    /// The poller reported the connection (`closed`: its peer's end closed, or an error), or
    /// a timer wants it read: bytes may wait, even while a handler runs on it (they are read
    /// when it comes back).
    pub(crate) fn on_event(&mut self, index: usize, closed: bool) {
        if let Some(slot) = self.table.get_mut(index) {
            slot.unread = true;
            slot.hup |= closed;
        }
        self.pump(index);
    }

    /// Reads, writes and answers on one connection until it has to wait.
    pub(crate) fn pump(&mut self, index: usize) {
        let token = self.table.token(index);
        loop {
            let Some((slot, buf)) = self.table.get_with_buf(index) else {
                return;
            };
            if slot.stream.is_none() {
                return; // a handler runs on it
            }
            let outcome = drive(slot, buf, &self.pool, self.clock.now());
            if slot.out_held > 0 && slot.conn.output().is_empty() {
                self.pool
                    .output_budget
                    .release(std::mem::take(&mut slot.out_held));
            }
            let want_writable = !slot.conn.output().is_empty();
            if want_writable != slot.watch_writable
                && let Some(stream) = slot.stream.as_mut()
            {
                let interest = if want_writable {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                // EPOLL_CTL_MOD reports a readiness that is already there, so room that
                // appeared since the write failed is not missed.
                if let Err(err) = self.registry.reregister(stream, token, interest) {
                    return self.close(index, Some(format!("cannot watch it: {err}")));
                }
                slot.watch_writable = want_writable;
            }
            if matches!(outcome, Outcome::Event(_) | Outcome::Refused(..)) {
                slot.request_arrived(self.lifecycle.shutdown().is_some());
                if std::mem::take(&mut slot.awaiting) {
                    self.peers.arrived();
                }
            }
            match outcome {
                Outcome::Yield => {
                    slot.rearm(self.clock.now(), &self.settings.timers);
                    self.table.again(index);
                    return;
                }
                Outcome::Wait => {
                    slot.rearm(self.clock.now(), &self.settings.timers);
                    let shutdown = self.lifecycle.shutdown();
                    if shutdown.is_some_and(|s| slot.drained(s.grace_over)) {
                        self.close(index, None);
                    }
                    return;
                }
                Outcome::Close(reason) => return self.close(index, reason),
                Outcome::Refused(request, err) => self.refuse(index, &request, &err),
                Outcome::Event(Event::BodyTooLarge(request)) => {
                    slot.body.forget(&self.pool.budget);
                    let response = answers::too_large_response(
                        &self.pool.app,
                        &request.params,
                        self.settings.limits.max_body,
                    );
                    let seq = self.next_seq();
                    self.answer_here(index, &request, seq, response, self.clock.now());
                }
                Outcome::Event(Event::HeadersTooLarge(request, reason)) => {
                    log::warn!("request params refused: {reason}");
                    let response = answers::headers_too_large_response(&self.pool.app, &reason);
                    let seq = self.next_seq();
                    self.answer_here(index, &request, seq, response, self.clock.now());
                }
                Outcome::Event(Event::Request(request)) => {
                    if !slot.conn.output().is_empty() {
                        // Earlier replies are still unsent: the answer goes after them.
                        slot.pending = Some(request);
                    } else if let Some(page) = self.settings.ops.page_for(&request.params) {
                        // The status and ping pages, answered here: never behind handlers.
                        let received = self.clock.now();
                        slot.body.forget(&self.pool.budget);
                        let response = self.ops_page(page, &request.params);
                        let seq = self.next_seq();
                        self.answer_here(index, &request, seq, response, received);
                    } else if self.dispatch(index, request) {
                        return;
                    }
                }
            }
        }
    }

    /// Queues a complete request for a handler; `false` when it was answered here instead
    /// (its body could be neither budgeted nor spilled) and the connection goes on.
    fn dispatch(&mut self, index: usize, mut request: ReceivedRequest) -> bool {
        let Some(slot) = self.table.get_mut(index) else {
            return true;
        };
        let (spool, held) =
            match slot
                .body
                .settle(&mut request, &self.pool.budget, &self.pool.spill)
            {
                Ok(settled) => settled,
                Err(err) => {
                    self.refuse(index, &request, &err);
                    return false;
                }
            };
        let Some(stream) = slot.stream.take() else {
            return true;
        };
        let alone = slot.conn.holds_nothing_more();
        slot.phase = Phase::Responding;
        slot.deadline = None;
        self.seq += 1;
        self.ready.push(Job {
            token: index,
            stream,
            request,
            spool,
            held,
            received: self.clock.now(),
            seq: self.seq,
            ticket: None,
            alone,
        });
        let waiting = self.ready.len().saturating_sub(self.crew.free());
        self.pool.metrics.queued(waiting);
        true
    }

    /// Answers 503 to a request whose body could be neither budgeted nor spilled (the
    /// warning rate-limited); the rest of its body, if any, is read and dropped.
    fn refuse(&mut self, index: usize, request: &ReceivedRequest, err: &SpillError) {
        if let Some(slot) = self.table.get_mut(index) {
            slot.body.forget(&self.pool.budget);
        }
        self.pool.spill.warn(err);
        let response = answers::spill_refused_response(&self.pool.app);
        let seq = self.next_seq();
        self.answer_here(index, request, seq, response, self.clock.now());
    }

    /// A number for a request answered here.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Answers from the event side (413, 431, 503, the status and ping pages): small
    /// responses queued on the connection; counted with their time since `received` (when
    /// the request was complete).
    pub(crate) fn answer_here(
        &mut self,
        index: usize,
        request: &ReceivedRequest,
        seq: u64,
        response: crate::response::HttpResponse,
        received: Instant,
    ) {
        let parts = self.pool.access.as_ref().map(|_| {
            let mut parts = AccessParts::default();
            parts.capture(&request.params, &RequestId::of(&request.params, seq));
            parts
        });
        self.answer_with(index, request.id, parts.as_ref(), received, response);
    }

    /// Answers request `fcgi_id` on connection `index` from the event side, its access line
    /// from `access` (captured when the access log is on).
    pub(crate) fn answer_with(
        &mut self,
        index: usize,
        fcgi_id: u16,
        access: Option<&AccessParts>,
        started: Instant,
        response: crate::response::HttpResponse,
    ) {
        let Some(slot) = self.table.get_mut(index) else {
            return;
        };
        let status = response.status;
        let mut bytes = Vec::new();
        match write_fastcgi_response(response, fcgi_id, &mut bytes) {
            Ok(body_bytes) => {
                self.pool.metrics.answered_since(status, started);
                if let (Some(log), Some(parts)) = (&self.pool.access, access) {
                    log.write(parts, status, body_bytes, started.elapsed());
                }
            }
            Err(err) => log::error!("could not build a {status} answer: {err}"),
        }
        slot.fresh = false;
        slot.conn.push_output(&bytes);
        if let Err(err) = slot.conn.response_done() {
            slot.conn.close();
            log::warn!("dropped connection: {err}");
        }
    }
}
