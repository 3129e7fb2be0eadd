//! The accept turn, on the board: under a master one worker at a time watches the listening
//! sockets (the turn's holder), so a new connection wakes one process, never every worker
//! (the thundering herd), and what arrives in a burst is taken in one batch, as a single
//! process would. What a worker does with the turn is `serve::steer`'s; this file reads and
//! moves it.
//!
//! - [`holder`]: whose turn it is, as this worker sees it (nobody's when the holder's slot is
//!   free: its worker is gone).
//! - [`take`]: from nobody, or from a holder that does not accept (a compare-and-swap, so
//!   two takers cannot both win).
//! - [`peers`]: the live peers' room and handlers free, for the worker to choose one.
//! - [`pass`]: to a peer, which is woken by [`NUDGE`] (SIGURG, whose default action is to
//!   ignore it: a pid that ended and was reused before the signal costs nothing).
//! - The master releases a dead worker's turn and wakes the others (`board`).

use super::mine::mine;

/// The signal that tells a worker to look at the turn (it may be its own now).
pub const NUDGE: libc::c_int = libc::SIGURG;

/// Whose turn it is to accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Nobody's: the first worker to take it holds it.
    Nobody,
    /// This worker's.
    Me,
    /// A live peer's, on `line`, with the room and the accepted connections it last wrote.
    Peer {
        line: usize,
        room: i32,
        accepts: u32,
    },
}

/// Whose turn it is (`None` when this process is no worker).
pub(crate) fn holder() -> Option<Holder> {
    let mine = mine()?;
    let map = mine.map();
    Some(match map.header().turn() {
        None => Holder::Nobody,
        Some(line) if line == mine.index() => Holder::Me,
        Some(line) => match map.slot(line).filter(|slot| slot.pid() != 0) {
            None => Holder::Nobody,
            Some(slot) => Holder::Peer {
                line,
                room: slot.load().room(),
                accepts: slot.load().accepts(),
            },
        },
    })
}

/// Takes the turn from `from` (`None`: nobody) if it is still `from`'s.
pub(crate) fn take(from: Option<usize>) -> bool {
    mine().is_some_and(|mine| mine.map().header().move_turn(from, Some(mine.index())))
}

/// Gives this worker's turn to nobody (it drains and no peer takes new connections).
pub(crate) fn give_up() -> bool {
    mine().is_some_and(|mine| mine.map().header().move_turn(Some(mine.index()), None))
}

/// Every live peer: its line, its room and its handlers free, as it last wrote them.
pub(crate) fn peers() -> impl Iterator<Item = (usize, i32, i32)> {
    let mine = mine();
    let index = mine.map(|mine| mine.index());
    mine.into_iter()
        .flat_map(|mine| mine.map().each())
        .filter(move |(line, slot)| Some(*line) != index && slot.pid() != 0)
        .map(|(line, slot)| (line, slot.load().room(), slot.load().free()))
}

/// Passes this worker's turn to the peer on `line` and wakes it; false when the turn was not
/// this worker's any more.
pub(crate) fn pass(line: usize) -> bool {
    let Some(mine) = mine() else { return false };
    let map = mine.map();
    if !map.header().move_turn(Some(mine.index()), Some(line)) {
        return false;
    }
    if let Some(pid) = map
        .slot(line)
        .and_then(|slot| libc::pid_t::try_from(slot.pid()).ok())
        .filter(|pid| *pid > 0)
    {
        // SAFETY: kill sends a signal whose default action is to be ignored; our workers
        // wake their poller on it.
        unsafe { libc::kill(pid, NUDGE) };
    }
    true
}
