//! The server's side of `peers`: writing this worker's load on the scoreboard for its peers,
//! and leaving a new connection to a peer with more handler slots to spare (the rules are in
//! `peers`' documentation).

use crate::fastcgi::process::scoreboard::{mine, view};

use super::peers::LEAVE_AT_MOST;
use super::server::Server;

impl Server {
    /// Handler slots a new connection would find here now: free ones no queued request will
    /// take, less the connections just accepted (`taken`) whose requests are on the way; 0
    /// while no connection is taken at all (draining, at `--max-connections`, accept paused).
    fn spare(&self, taken: usize) -> usize {
        if self.lifecycle.shutdown().is_some()
            || self.admission.paused()
            || self.admission.blocked()
        {
            return 0;
        }
        self.crew.free().saturating_sub(self.ready.len() + taken)
    }

    /// Writes the handler figures if they changed; when a connection this worker left to a
    /// peer waits and it now has as much room as any, it takes that in.
    pub(crate) fn publish_load(&mut self) {
        if !self.peers.in_pool {
            return;
        }
        let total = self.settings.workers;
        let free = self.crew.free();
        let queue = self.ready.len().saturating_sub(free);
        let spare = self.spare(0);
        let now = [total.saturating_sub(free), total, queue, spare];
        if self.peers.written != Some(now) {
            mine::publish_handlers(now[0], now[1], now[2], now[3]);
            self.peers.written = Some(now);
        }
        if spare > 0 && self.peers.leaving_since.is_some() && !view::peer_has_more_spare(spare) {
            // Room here now, as much as anywhere: what waits is taken in.
            self.peers.leaving_since = None;
            self.accept_all();
        }
    }

    /// Writes the connections by state (at a sweep).
    pub(crate) fn publish_connections(&self) {
        if self.peers.in_pool {
            mine::publish_connections(self.load().connections);
        }
    }

    /// Whether to leave the next connection to a peer, `taken` connections accepted already
    /// in this round: when a peer has more slots to spare than this worker would have, for
    /// at most [`LEAVE_AT_MOST`].
    pub(crate) fn leave_to_peer(&mut self, taken: usize) -> bool {
        if !self.peers.in_pool
            || self.peers.taking_all
            || !view::peer_has_more_spare(self.spare(taken))
        {
            return false;
        }
        let now = self.clock.now();
        match self.peers.leaving_since {
            None => {
                self.peers.leaving_since = Some(now);
                true
            }
            Some(since) => now < since + LEAVE_AT_MOST,
        }
    }

    /// Nothing waits to be accepted any more: no connection is left to a peer.
    pub(crate) fn nothing_left_to_peers(&mut self) {
        self.peers.leaving_since = None;
    }

    /// At the timers' turn: a connection left to a peer for [`LEAVE_AT_MOST`] is taken in
    /// here after all, with whatever else waits.
    pub(crate) fn take_what_was_left(&mut self) {
        if self.peers.due().is_none_or(|due| self.clock.now() < due) {
            return;
        }
        self.peers.leaving_since = None;
        self.peers.taking_all = true;
        self.accept_all();
        self.peers.taking_all = false;
    }
}
