//! The server's side of `peers`: writing this worker's load on the scoreboard for its peers,
//! and leaving a new connection to a peer with more room (the rules are in `peers`'
//! documentation).

use crate::fastcgi::process::scoreboard::{mine, view};

use super::peers::LEAVE_AT_MOST;
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

    /// Writes the handler figures if they changed; when a connection this worker left to a
    /// peer waits and it now has as much room as any, it takes that in.
    pub(crate) fn publish_load(&mut self) {
        if !self.peers.in_pool {
            return;
        }
        let room = self.write_load();
        if self.peers.leaving_since.is_some() && !view::peer_has_more_room(room) {
            // Room here now, as much as anywhere: what waits is taken in.
            self.peers.leaving_since = None;
            self.accept_all();
        }
    }

    /// Writes the handler figures if they changed (a connection was just accepted, or a
    /// turn ends); the room.
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

    /// Whether to leave the next connection on listener `n` to a peer: when a peer has more
    /// room than this worker, for at most [`LEAVE_AT_MOST`] from when one was left waiting.
    pub(crate) fn leave_to_peer(&mut self, n: usize) -> bool {
        if !self.peers.in_pool || self.peers.taking_all || !view::peer_has_more_room(self.room()) {
            return false;
        }
        let now = self.clock.now();
        match self.peers.leaving_since {
            None => {
                // The rule is asked again after each connection accepted, for a next one that
                // may not be there: only one that waits starts the clock.
                let waiting = self
                    .admission
                    .listeners()
                    .get(n)
                    .is_some_and(|listener| listener.has_waiting());
                if waiting {
                    self.peers.leaving_since = Some(now);
                    self.peers.peers_accepts_then = view::peers_accepts();
                }
                true
            }
            Some(since) => now < since + LEAVE_AT_MOST,
        }
    }

    /// Nothing waits to be accepted any more: no connection is left to a peer.
    pub(crate) fn nothing_left_to_peers(&mut self) {
        self.peers.leaving_since = None;
    }

    /// At the timers' turn, [`LEAVE_AT_MOST`] after this worker began leaving connections to
    /// its peers: if they accepted any since, what waits is judged by the rule afresh;
    /// if none did (dead or stopped), it is all taken in here.
    pub(crate) fn take_what_was_left(&mut self) {
        if self.peers.due().is_none_or(|due| self.clock.now() < due) {
            return;
        }
        self.peers.leaving_since = None;
        let peers_alive = view::peers_accepts() != self.peers.peers_accepts_then;
        self.peers.taking_all = !peers_alive;
        self.accept_all();
        self.peers.taking_all = false;
    }
}
