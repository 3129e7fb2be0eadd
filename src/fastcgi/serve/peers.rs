//! This worker among its peers, under a master: it writes its load on the scoreboard for
//! them, and leaves a new connection to a peer with more room than its own (the least-loaded
//! workers take new connections), so a request does not queue behind busy handlers while
//! another process idles, and a pool's requests and queues spread over its processes.
//!
//! - Room: free handler slots less the requests queued for them and the connections
//!   accepted whose first request is still on its way (below 0 when requests wait); the
//!   least there is while this worker takes no connection at all (draining, at
//!   `--max-connections`, accept paused).
//! - Writing: the handler figures (busy, total, queue, room) at the end of every turn and
//!   when a handler gives its slot back, only when they changed (a few relaxed stores); the
//!   connections by state at each timers' sweep and when the status page is asked (they cost
//!   a scan of the table).
//! - Leaving: the kernel wakes every worker that watches the shared listening socket, so a
//!   peer with more room is woken for the same connection and takes it, and this one does not
//!   accept it (the peers with the most room, ties included, never leave one). After
//!   [`LEAVE_AT_MOST`] this worker looks again: if its peers accepted any connection since,
//!   they are alive and it applies the rule afresh to what waits (a peer whose room fell
//!   below this worker's leaves a connection back to it, and no new connection wakes it);
//!   if none did (a peer that died and is not reaped yet, or is stopped), it takes what
//!   waits after all. A slot of its own freeing up takes in what waits as soon as no peer
//!   has more room.
//!
//! A process that is no worker has no peers: it writes nothing and leaves nothing. This file
//! holds the state (`Peers`, one of the server's parts); `steer` the server's methods.

use std::time::{Duration, Instant};

use crate::fastcgi::process::scoreboard::mine;

/// How long a connection is left to a peer with room before this worker takes it after all.
pub(crate) const LEAVE_AT_MOST: Duration = Duration::from_millis(100);

/// What this worker last wrote, and since when it leaves connections to its peers (the
/// server's part; `steer` is what the server does with it).
#[derive(Debug, Default)]
pub(crate) struct Peers {
    /// Under a master (there is a scoreboard).
    pub(crate) in_pool: bool,
    /// The handler figures last written: busy, total, queue, room.
    pub(crate) written: Option<(usize, usize, usize, i32)>,
    /// Since when a connection waits that this worker left to a peer.
    pub(crate) leaving_since: Option<Instant>,
    /// Taking in what waits, after [`LEAVE_AT_MOST`]: nothing is left to a peer.
    pub(crate) taking_all: bool,
    /// Connections accepted with no request complete on them yet.
    pub(crate) awaiting: usize,
    /// Connections accepted (wrapping), written for the peers.
    pub(crate) accepts: u32,
    /// The peers' accepted connections when this worker began leaving one to them.
    pub(crate) peers_accepts_then: u64,
}

impl Peers {
    /// Peers when this process is a worker on a board.
    pub(crate) fn new() -> Peers {
        Peers {
            in_pool: mine::mine().is_some(),
            ..Peers::default()
        }
    }

    /// A connection was accepted: a request is on its way.
    pub(crate) fn accepted(&mut self) {
        self.awaiting += 1;
        self.accepts = self.accepts.wrapping_add(1);
    }

    /// A connection's first request is complete, or it closed before: no longer on its way.
    pub(crate) fn arrived(&mut self) {
        self.awaiting = self.awaiting.saturating_sub(1);
    }

    /// When a connection left to a peer is taken here after all, for the poller's timeout.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.leaving_since.map(|since| since + LEAVE_AT_MOST)
    }
}
