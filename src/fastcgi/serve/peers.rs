//! This worker among its peers, under a master: **the workers take turns at accepting.** One
//! worker at a time (the holder of the accept turn, kept on the scoreboard) watches the
//! listening sockets; the others serve the connections they hold. So a new connection wakes
//! one process, not every worker (the thundering herd), and a burst is taken in one batch as
//! a single process would take it; and a request does not queue behind busy handlers while
//! another process idles, because the turn moves on:
//!
//! - **Deferring** ([`defers`]): the holder accepts a connection while it has room for its
//!   request (free handler slots less the requests queued for them and the connections
//!   accepted whose request is on its way; the least there is while it takes no connection:
//!   draining, at `--max-connections`, accept paused), and past that while no more requests
//!   wait than one behind each free handler (a burst of quick requests is one batch, as in
//!   one process). Beyond that, while a peer has more room, it leaves what waits in the
//!   kernel's backlog until its round ends or a handler gives its slot back: quick requests
//!   have run by then and it takes the next batch; if not, it passes. With no peer that has
//!   more room, it takes them (queued, as one process would).
//! - **Passing** ([`passes`]): the holder passes the turn to the peer with the most room when
//!   it has no handler for another request ([`all_busy`]: every handler runs, it takes no
//!   connection, or it has deferred for [`DEFER_AT_MOST`]) and the peer has more room, or
//!   when the peer has at least [`SPREAD`] more handlers free (long requests spread over the
//!   processes, so that a crash costs fewer of them). The peer is woken by a signal and
//!   watches the sockets from its next round; what waits in the backlog is its to accept.
//! - **Taking** ([`standby_takes`]): a worker that is not the holder looks every
//!   [`TURN_CHECK`] (and at its start, and when woken): it takes the turn when it is
//!   nobody's (the master releases a dead holder's turn and wakes the workers), or when
//!   connections waited at two looks in a row with the holder accepting none in between (it
//!   is stopped, or frozen) and this worker has at least its room.
//! - **Draining**: a worker whose drain begins takes in what the kernel completed, whoever
//!   holds the turn (its peers may be stopping too), then passes the turn to a peer that
//!   takes connections, or leaves it to nobody.
//! - **Writing**: the handler figures (busy, total, queue, room) at the end of every round
//!   and when a handler gives its slot back, only when they changed (a few relaxed stores);
//!   the connections by state at each timers' sweep and when the status page is asked.
//!
//! A process that is no worker has no peers: it watches its sockets always and writes
//! nothing. This file holds the state (`Peers`, one of the server's parts) and the rules;
//! `steer` the server's methods.

use std::time::{Duration, Instant};

use crate::fastcgi::process::scoreboard::mine;
use crate::fastcgi::process::scoreboard::turn::Holder;

/// How often a worker that is not the holder looks at the turn.
pub(crate) const TURN_CHECK: Duration = Duration::from_millis(100);
/// How long the holder may leave connections in the backlog while a handler slot is free but
/// spoken for (connections whose requests have not arrived) before it passes the turn.
pub(crate) const DEFER_AT_MOST: Duration = Duration::from_millis(10);
/// How many more handlers a peer must have free for the holder to pass it the turn while
/// it has room itself.
pub(crate) const SPREAD: i32 = 2;

/// A worker's standing for the turn: its room and its handlers free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Room for a new request (see the module's documentation).
    pub(crate) room: i32,
    /// Handler slots not running a handler.
    pub(crate) free: i32,
}

/// Whether a worker standing at `me` has no handler for another request: every handler
/// runs, or it takes no connection at all (draining, at `--max-connections`); `stalled`: it
/// has left connections in the backlog for [`DEFER_AT_MOST`] (its room is taken by
/// connections whose requests have not arrived).
pub(crate) fn all_busy(me: Standing, stalled: bool) -> bool {
    me.free == 0 || me.room == i32::MIN || (stalled && me.room <= 0)
}

/// Whether the holder, standing at `me`, passes the turn to a peer standing at `peer`: when
/// it has no handler for another request ([`all_busy`]) and the peer has more room, or when
/// the peer has at least [`SPREAD`] more handlers free (and room).
pub(crate) fn passes(me: Standing, peer: Standing, stalled: bool) -> bool {
    (all_busy(me, stalled) && peer.room > me.room)
        || (peer.room > 0 && peer.free >= me.free.saturating_add(SPREAD))
}

/// Whether the holder, standing at `me`, leaves the next connection in the backlog for now:
/// more requests wait for its handlers than one behind each free one (its room is below
/// minus its free handlers), and the peer standing at `peer` has more room. The round's end,
/// or a handler giving its slot back, passes the turn to the peer or takes what waits.
pub(crate) fn defers(me: Standing, peer: Standing) -> bool {
    me.room.saturating_add(me.free) <= 0 && peer.room > me.room
}

/// Whether a worker with `room` that is not the holder takes the turn from `holder`;
/// `unaccepted`: connections waited at its last two looks and the holder accepted none.
pub(crate) fn standby_takes(holder: Holder, room: i32, unaccepted: bool) -> bool {
    if room == i32::MIN {
        return false;
    }
    match holder {
        Holder::Me => false,
        Holder::Nobody => true,
        Holder::Peer { room: theirs, .. } => unaccepted && room >= theirs,
    }
}

/// What this worker last wrote and how it stands with the turn (the server's part; `steer`
/// is what the server does with it).
#[derive(Debug, Default)]
pub(crate) struct Peers {
    /// Under a master (there is a scoreboard).
    pub(crate) in_pool: bool,
    /// The handler figures last written: busy, total, queue, room.
    pub(crate) written: Option<(usize, usize, usize, i32)>,
    /// The listening sockets are in this worker's poller (it holds the turn, or held it
    /// until a moment ago).
    pub(crate) watching: bool,
    /// When this worker, not the holder, looks at the turn next.
    pub(crate) look_at: Option<Instant>,
    /// At the last look, connections waited: the holder's line and its accepted connections.
    pub(crate) seen: Option<(usize, u32)>,
    /// Since when the holder leaves connections in the backlog for its round's end to settle.
    pub(crate) deferred_since: Option<Instant>,
    /// The listeners on which connections were left in the backlog.
    pub(crate) deferred_on: Vec<usize>,
    /// A drain begins: what the kernel completed is taken in whoever holds the turn.
    pub(crate) taking_all: bool,
    /// Connections accepted with no request complete on them yet.
    pub(crate) awaiting: usize,
    /// Connections accepted (wrapping), written for the peers.
    pub(crate) accepts: u32,
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

    /// When this worker looks at the turn next, for the poller's timeout.
    pub(crate) fn due(&self) -> Option<Instant> {
        let stalled = self.deferred_since.map(|since| since + DEFER_AT_MOST);
        self.look_at.into_iter().chain(stalled).min()
    }
}

#[cfg(test)]
#[path = "peers_tests.rs"]
mod tests;
