//! The server's side of `peers`: writing this worker's load on the scoreboard for its peers,
//! and the accept turn: watching the listening sockets while it is this worker's, passing it
//! on, taking it (the rules are in `peers`' documentation).

use crate::fastcgi::process::scoreboard::mine;
use crate::fastcgi::process::scoreboard::turn::{self, Holder};

use super::peers::{DEFER_AT_MOST, SPREAD, Standing, TURN_CHECK, defers, passes, standby_takes};
use super::server::Server;

impl Server {
    /// The room a new connection would find here now: free handler slots less the requests
    /// queued for them and the connections accepted whose first request is on its way
    /// (below 0 when requests wait); the least there is while no connection is taken at all
    /// (draining, at `--max-connections`, accept paused).
    fn room(&self) -> i32 {
        if self.lifecycle.shutdown().is_some()
            || self.admission.paused()
            || self.admission.blocked()
        {
            return i32::MIN;
        }
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        count(self.crew.free())
            .saturating_sub(count(self.ready.len()).saturating_add(count(self.peers.awaiting)))
    }

    /// Handler slots (`--workers`).
    fn workers(&self) -> i32 {
        i32::try_from(self.settings.workers).unwrap_or(i32::MAX)
    }

    fn standing(&self) -> Standing {
        Standing {
            room: self.room(),
            free: i32::try_from(self.crew.free()).unwrap_or(i32::MAX),
        }
    }

    /// At the end of a round: writes the handler figures if they changed, and minds the turn.
    pub(crate) fn publish_load(&mut self) {
        if !self.peers.in_pool {
            return;
        }
        self.write_load();
        self.mind_turn();
    }

    /// Writes the handler figures if they changed (a connection was just accepted, or a
    /// round ends); the room.
    pub(crate) fn write_load(&mut self) -> i32 {
        let total = self.settings.workers;
        let free = self.crew.free();
        let queue = self.ready.len().saturating_sub(free);
        let room = self.room();
        let now = (total.saturating_sub(free), total, queue, room);
        if self.peers.in_pool && self.peers.written != Some(now) {
            mine::publish_handlers(now.0, now.1, now.2, now.3);
            self.peers.written = Some(now);
        }
        room
    }

    /// Writes the connections by state (at a sweep).
    pub(crate) fn publish_connections(&self) {
        if self.peers.in_pool {
            mine::publish_connections(self.load().connections);
        }
    }

    /// Whether to accept the next connection: always outside a pool and as a drain begins;
    /// in a pool otherwise, while this worker holds the turn, does not pass it and does not
    /// defer (see `peers`).
    pub(crate) fn may_accept(&mut self, n: usize) -> bool {
        if !self.peers.in_pool || self.peers.taking_all {
            return true;
        }
        if !self.peers.watching || self.pass_turn() {
            return false;
        }
        let me = self.standing();
        if me.room > 0 || !turn::peers().any(|(_, room, free)| defers(me, Standing { room, free }))
        {
            return true;
        }
        if self.peers.deferred_since.is_none() {
            self.peers.deferred_since = Some(self.clock.now());
        }
        if !self.peers.deferred_on.contains(&n) {
            self.peers.deferred_on.push(n);
        }
        false
    }

    /// The holder's rule: passes the turn to the peer with the most room among those
    /// [`passes`] names; true when the turn is no longer this worker's.
    fn pass_turn(&mut self) -> bool {
        let me = self.standing();
        let stalled = self
            .peers
            .deferred_since
            .is_some_and(|since| self.clock.now() >= since + DEFER_AT_MOST);
        if me.room > 0 && me.free.saturating_add(SPREAD) > self.workers() {
            // Room here and (nearly) every handler free: no peer can be a reason to pass.
            return false;
        }
        let Some(line) = best_peer(me, stalled) else {
            return false;
        };
        if !turn::pass(line) {
            log::debug!("fastcgi worker: the accept turn was taken from this worker");
        }
        self.unwatch();
        true
    }

    /// After each round, when a handler gives its slot back, at the start and when woken:
    /// watches the listening sockets while the turn is this worker's (passing it on, or
    /// taking in what it deferred), stops when it is not, takes it when a look allows (see
    /// `peers`).
    pub(crate) fn mind_turn(&mut self) {
        let Some(holder) = turn::holder() else {
            return;
        };
        let draining = self.lifecycle.shutdown().is_some();
        match holder {
            Holder::Me if draining => {
                let least = Standing {
                    room: i32::MIN,
                    free: 0,
                };
                if best_peer(least, true).is_none_or(|line| !turn::pass(line)) {
                    turn::give_up();
                }
                self.unwatch();
                self.peers.look_at = None;
            }
            Holder::Me => {
                if !self.peers.watching {
                    self.watch();
                }
                if !self.pass_turn()
                    && let Some(since) = self.peers.deferred_since.take()
                {
                    // What was deferred is taken in now, or deferred again (since then);
                    // only on the listeners where it waits (another would answer EAGAIN).
                    for n in std::mem::take(&mut self.peers.deferred_on) {
                        self.accept(n);
                    }
                    if self.peers.deferred_since.is_some() {
                        self.peers.deferred_since = Some(since);
                    }
                }
            }
            _ if draining => {
                self.unwatch();
                self.peers.look_at = None;
            }
            other => {
                self.unwatch();
                if standby_takes(other, self.room(), false) && turn::take(None) {
                    self.watch();
                } else if self.peers.look_at.is_none() {
                    self.peers.look_at = Some(self.clock.now() + TURN_CHECK);
                }
            }
        }
    }

    /// At the timers' turn: the holder settles connections it deferred for
    /// [`DEFER_AT_MOST`]; a worker that does not hold the turn looks at it every
    /// [`TURN_CHECK`] and takes it if the holder leaves connections waiting unaccepted (see
    /// `peers`).
    pub(crate) fn look_at_turn(&mut self) {
        let now = self.clock.now();
        if self
            .peers
            .deferred_since
            .is_some_and(|since| now >= since + DEFER_AT_MOST)
        {
            self.mind_turn();
        }
        if self.peers.look_at.is_none_or(|at| now < at) {
            return;
        }
        self.peers.look_at = Some(now + TURN_CHECK);
        let Some(holder) = turn::holder() else {
            return;
        };
        let Holder::Peer { line, accepts, .. } = holder else {
            self.peers.seen = None;
            self.mind_turn();
            return;
        };
        let waiting = self
            .admission
            .listeners()
            .iter()
            .any(|listener| listener.has_waiting());
        let seen = waiting.then_some((line, accepts));
        let unaccepted = seen.is_some() && seen == self.peers.seen;
        self.peers.seen = seen;
        if standby_takes(holder, self.room(), unaccepted) && turn::take(Some(line)) {
            log::warn!(
                "fastcgi worker: took the accept turn from a worker that left connections \
                 waiting for {TURN_CHECK:?}"
            );
            self.watch();
        }
    }

    /// The listening sockets go into this worker's poller (what waits is reported at once).
    fn watch(&mut self) {
        self.peers.watching = true;
        self.peers.look_at = None;
        self.peers.seen = None;
        if let Err(err) = self.admission.watch(&self.registry) {
            log::error!("fastcgi worker: cannot watch the listening sockets: {err}");
        }
    }

    /// The listening sockets leave this worker's poller.
    fn unwatch(&mut self) {
        self.peers.deferred_since = None;
        self.peers.deferred_on.clear();
        if self.peers.watching {
            self.peers.watching = false;
            self.admission.unwatch(&self.registry);
        }
    }
}

/// The live peer with the most room among those the holder, standing at `me` (`stalled`: it
/// deferred for too long), passes the turn to (ties: the lowest line).
fn best_peer(me: Standing, stalled: bool) -> Option<usize> {
    let mut best: Option<(usize, i32)> = None;
    for (line, room, free) in turn::peers() {
        if passes(me, Standing { room, free }, stalled) && best.is_none_or(|(_, most)| room > most)
        {
            best = Some((line, room));
        }
    }
    best.map(|(line, _)| line)
}
