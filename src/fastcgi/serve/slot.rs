//! One connection as the event side holds it: its state machine and socket, the clocks its
//! deadlines run on (whole params, whole body with a minimum rate, idle, send), whether it may
//! be closed to make room or, while the process drains, closed as done, and its request body's
//! share of the memory budget (or its spool).

use std::time::{Duration, Instant};

use crate::fastcgi::config::settings::Timers;
use crate::fastcgi::net::listen::Stream;
use crate::fastcgi::protocol::conn::{Connection, Phase, ReceivedRequest};
use crate::fastcgi::work::spill::{Spill, SpillError};
use crate::fastcgi::work::spool::{Budget, Spool};

/// A connection that has sent nothing for this long may be closed to make room, like one
/// idle between requests: a web server sends its request as soon as it connects.
pub const FRESH_GRACE: Duration = Duration::from_secs(1);

/// A connection sending its params or body is judged against the minimum rate after this
/// long in that phase (a web server sends both at once; a wave of tricklers that just
/// reconnected must not hold every slot for long).
pub const RATE_GRACE: Duration = Duration::from_millis(250);

/// One connection owned by the event side; `stream` is `None` while a handler runs on it.
pub struct Slot {
    /// The socket, unless a handler runs on it.
    pub stream: Option<Stream>,
    /// The protocol state machine.
    pub conn: Connection,
    /// The phase the timers were last set for.
    pub phase: Phase,
    /// When the connection entered `phase`.
    pub phase_started: Instant,
    /// Bytes read since it entered `phase`.
    pub phase_bytes: u64,
    /// When the request being received began (its params and body are one window for the
    /// minimum-rate rule, so the bytes of the read that ended the params count for the body).
    pub sending_since: Instant,
    /// Bytes read since the request being received began (0 between requests).
    pub sent: u64,
    /// When bytes last arrived: the order in which the web server last used connections
    /// (not when responses finished, which handlers finish in any order).
    pub last_active: Instant,
    /// When bytes last left.
    pub last_write: Instant,
    /// No request has been answered on it yet.
    pub fresh: bool,
    /// Accepted, and no request complete on it yet: one on its way (a pool counts it against
    /// this worker's room, see `peers`).
    pub awaiting: bool,
    /// Closed when it passes.
    pub deadline: Option<Instant>,
    /// A request received while earlier replies were still unsent: it goes to a handler once
    /// they are, so the answer never overtakes them.
    pub pending: Option<ReceivedRequest>,
    /// Where the body being received is kept.
    pub body: BodyHold,
    /// Bytes of the answers' budget this connection's unsent output holds.
    pub out_held: usize,
    /// Bytes may wait in the socket: the last read did not leave it empty, or an event came
    /// since. Edge-triggered polling reports every arrival after a read that emptied it, so
    /// while this is false a read would only return EAGAIN and is skipped (the read after
    /// each answer, on kept-alive connections).
    pub unread: bool,
    /// The poller reported the peer's end closed (or an error): the socket always has
    /// something to read (EOF or the error), even after a short read, since the edge that
    /// reported it may have come with the last bytes.
    pub hup: bool,
    /// Whether the poller watches the socket for room to write: only while output waits,
    /// since a unix socket reports writable each time the peer reads, which would wake the
    /// event side once more per answer for nothing.
    pub watch_writable: bool,
    /// The process drains and this connection carries a request (one it had when the drain
    /// began, or one that came since): once its answer is sent in full it is closed, not kept
    /// for another request, so the web server takes its next one to a process that stays.
    close_when_done: bool,
}

/// Where a body being received is kept: in the connection, with its share of the memory
/// budget, or (once past the budget) in a spool.
#[derive(Debug, Default)]
pub struct BodyHold {
    /// Budget bytes taken for the body bytes the connection holds.
    held: usize,
    /// The body so far, when it went past the memory budget.
    spool: Option<Spool>,
}

impl Slot {
    /// A connection just accepted.
    pub fn new(stream: Stream, conn: Connection, now: Instant, timers: &Timers) -> Slot {
        Slot {
            stream: Some(stream),
            conn,
            phase: Phase::Idle,
            phase_started: now,
            phase_bytes: 0,
            sending_since: now,
            sent: 0,
            last_active: now,
            last_write: now,
            fresh: true,
            awaiting: true,
            deadline: Some(now + timers.header),
            pending: None,
            body: BodyHold::default(),
            out_held: 0,
            unread: true,
            hup: false,
            watch_writable: false,
            close_when_done: false,
        }
    }

    /// Whether it is idle between requests with nothing to send (and no handler has it).
    pub fn idle(&self) -> bool {
        self.stream.is_some() && self.conn.phase() == Phase::Idle && self.flushed()
    }

    /// The process begins to drain: a connection with a request under way (being received,
    /// run, or its answer being sent) is closed once it is done. An idle one is kept for the
    /// shutdown grace (a request may be on its way).
    pub fn drain_begins(&mut self) {
        self.close_when_done |= !self.idle();
    }

    /// A request arrived in full, to be answered: while the process drains (`draining`), the
    /// connection is closed once that answer is sent.
    pub fn request_arrived(&mut self, draining: bool) {
        self.close_when_done |= draining;
    }

    /// The answer it carried when the drain began had been sent in full already (a handler's
    /// thread sent it before it knew): the web server may be sending its next request on it,
    /// so it is as one idle when the drain began, kept for the grace.
    pub fn answered_before_drain(&mut self) {
        self.close_when_done = false;
    }

    /// While the process drains: whether to close it now. It must be idle with nothing to
    /// send (a request read is always answered, and its END_REQUEST written in full); then it
    /// is closed if it carried a request during the drain, or once the grace is over.
    pub fn drained(&self, grace_over: bool) -> bool {
        self.idle() && (grace_over || self.close_when_done)
    }

    /// Whether nothing waits to be sent on it.
    pub fn flushed(&self) -> bool {
        self.conn.output().is_empty() && self.pending.is_none()
    }

    /// Idle between requests with nothing to send: a web server reopens such a connection
    /// cheaply, so it may be closed to make room. A new one is not, until it has stayed
    /// silent for [`FRESH_GRACE`]: its request is on the way. Nor is one with bytes that may
    /// wait unread (a connection accepted while the loop was busy, its request not read
    /// yet): closing it would reset a request.
    pub fn evictable(&self, now: Instant) -> bool {
        self.stream.is_some()
            && self.phase == Phase::Idle
            && !self.unread
            && !self.hup
            && self.flushed()
            && (!self.fresh || now.saturating_duration_since(self.phase_started) >= FRESH_GRACE)
    }

    /// How many bytes the connection is behind `min_rate` bytes a second since its request
    /// began (params and body together, after [`RATE_GRACE`]), `None` when it is not behind:
    /// a slow but steady sender never is, nor one that sent a large part at once and waits
    /// for its turn. At `--max-connections`, the one furthest behind is closed to make room,
    /// as an idle one is.
    pub fn behind(&self, now: Instant, min_rate: u64) -> Option<u64> {
        if self.stream.is_none() || self.unread || !self.flushed() {
            return None;
        }
        if !matches!(self.phase, Phase::Head | Phase::Body) {
            return None;
        }
        let elapsed = now.saturating_duration_since(self.sending_since);
        if elapsed < RATE_GRACE {
            return None;
        }
        let due = u64::try_from(elapsed.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_mul(min_rate)
            / 1000;
        due.checked_sub(self.sent).filter(|behind| *behind > 0)
    }

    /// Sets the phase and its deadline after reading or writing: the params and the body
    /// each have a whole deadline (the body's extended by its size at the minimum rate, and
    /// no gap longer than the header timeout); an answer waiting to be sent has the send
    /// timeout since the last byte left.
    pub fn rearm(&mut self, now: Instant, timers: &Timers) {
        let phase = self.conn.phase();
        if phase != self.phase {
            let sending = |p: Phase| matches!(p, Phase::Head | Phase::Body);
            if !sending(phase) {
                self.sent = 0;
            } else if !sending(self.phase) {
                // A request begins: the bytes of this read are already in `sent`.
                self.sending_since = now;
            }
            self.phase = phase;
            self.phase_started = now;
            self.phase_bytes = 0;
        }
        if !self.flushed() {
            self.deadline = Some(self.last_write + timers.send);
            return;
        }
        self.deadline = match phase {
            Phase::Idle if self.fresh => Some(self.phase_started + timers.header),
            Phase::Idle => Some(self.phase_started + timers.idle),
            Phase::Head => Some(self.phase_started + timers.header),
            Phase::Body => {
                let extra = Duration::from_secs(self.phase_bytes / timers.body_min_rate.max(1));
                let whole = self.phase_started + timers.body.saturating_add(extra);
                Some(whole.min(self.last_active + timers.header))
            }
            Phase::Responding => None,
            Phase::Closed => Some(self.last_write + timers.send),
        };
    }
}

impl BodyHold {
    /// After bytes arrived: body bytes held past the memory budget go to the spool (all of
    /// this body from then on). An error when they can go neither there nor to a spool (no
    /// file, a full disk, `--spill-disk` reached): the body is then refused (a 503), never
    /// kept in memory over the budget; what it held is given back.
    pub fn account(
        &mut self,
        conn: &mut Connection,
        budget: &Budget,
        spill: &Spill,
    ) -> Result<(), SpillError> {
        let buffered = conn.body_buffered();
        let Some(more) = buffered.checked_sub(self.held).filter(|more| *more > 0) else {
            return Ok(());
        };
        if self.spool.is_none() && budget.try_take(more) {
            self.held = buffered;
            return Ok(());
        }
        let bytes = conn.take_body();
        self.write_spool(&bytes, budget, spill)
    }

    /// The request is complete: its body's budget bytes and spool move to the job. Returns
    /// the spool (with the request's body appended) and the budget bytes the body holds; an
    /// error (and nothing held) when the body can be neither budgeted nor spilled.
    pub fn settle(
        &mut self,
        request: &mut ReceivedRequest,
        budget: &Budget,
        spill: &Spill,
    ) -> Result<(Option<Spool>, usize), SpillError> {
        if self.spool.is_none() {
            let more = request.body.len().saturating_sub(self.held);
            if budget.try_take(more) {
                self.held = 0;
                return Ok((None, request.body.len()));
            }
        }
        let body = std::mem::take(&mut request.body);
        self.write_spool(&body, budget, spill)?;
        Ok((self.spool.take(), 0))
    }

    /// Drops the body's budget bytes and spool (a 413, a 431, a refusal, a closed connection).
    pub fn forget(&mut self, budget: &Budget) {
        budget.release(std::mem::take(&mut self.held));
        self.spool = None;
    }

    /// Moves the body to the spool (made now if there is none yet), with `bytes` after what
    /// the connection held; on an error, everything the body held is given back.
    fn write_spool(
        &mut self,
        bytes: &[u8],
        budget: &Budget,
        spill: &Spill,
    ) -> Result<(), SpillError> {
        let written = match self.spool.as_mut() {
            Some(spool) => spool.append(bytes),
            None => spill.spool().and_then(|mut spool| {
                let written = spool.append(bytes);
                self.spool = Some(spool);
                written
            }),
        };
        budget.release(std::mem::take(&mut self.held));
        if written.is_err() {
            self.spool = None;
        }
        written
    }
}

#[cfg(test)]
#[path = "slot_tests.rs"]
mod tests;
