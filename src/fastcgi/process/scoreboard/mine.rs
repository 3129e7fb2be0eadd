//! The scoreboard's worker side: a worker takes its slot on the board its master passed
//! down (`join`) and from then on writes it alone: the requests it runs (`Running`), its
//! stuck threads, its load (`publish_handlers`, `publish_connections`); its status-page
//! counters live there (`tally`). In a process that is no worker all of this is nothing.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use crate::fastcgi::ops::load::ByState;
use crate::fastcgi::ops::tally::Tally;

use super::layout::{Entry, Mapping, SCOREBOARD_VAR, Slot, board_lines};

/// This worker's board and its own slot on it.
pub(crate) struct Mine {
    map: Mapping,
    slot: &'static Slot,
    index: usize,
}

impl Mine {
    /// The whole board.
    pub(crate) fn map(&self) -> &Mapping {
        &self.map
    }

    /// This worker's slot's index.
    pub(crate) fn index(&self) -> usize {
        self.index
    }
}

static MINE: OnceLock<Mine> = OnceLock::new();

/// This worker's board, when this process is a worker.
pub(crate) fn mine() -> Option<&'static Mine> {
    MINE.get()
}

/// A worker takes its slot on the board its master passed down (nothing when there is none).
pub(crate) fn join(index: usize) {
    let Some(fd) = std::env::var(SCOREBOARD_VAR)
        .ok()
        .and_then(|fd| fd.trim().parse::<RawFd>().ok())
    else {
        return;
    };
    // SAFETY: the master passed this memfd to us alone; from here on we own and close it
    // (the mapping stays valid after the close).
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let lines = board_lines(fd.as_raw_fd()).unwrap_or(index + 1);
    let map = match Mapping::map(fd.as_raw_fd(), lines.max(index + 1)) {
        Ok(map) => map,
        Err(err) => {
            log::warn!("fastcgi worker: scoreboard: {err}");
            return;
        }
    };
    let Some(slot) = map.slot(index) else { return };
    // SAFETY: the mapping is never dropped once in MINE (a static), so the slot lives for the
    // rest of the process.
    let slot: &'static Slot = unsafe { &*std::ptr::from_ref(slot) };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    slot.claim(std::process::id(), now.map_or(0, |d| d.as_secs()));
    let _ = MINE.set(Mine { map, slot, index });
}

/// This worker's status-page counters on the board (`None` when this process is no worker).
pub(crate) fn tally() -> Option<&'static Tally> {
    MINE.get().map(|mine| mine.slot.tally())
}

/// A worker's threads stuck past `--request-timeout` now, for its master (which replaces it
/// once they reach `--max-stuck`); nothing when this process is no worker.
pub(crate) fn publish_stuck(stuck: usize) {
    if let Some(mine) = MINE.get() {
        mine.slot
            .set_stuck(u32::try_from(stuck).unwrap_or(u32::MAX));
    }
}

/// This worker's handler slots now (see `LoadCell::set_handlers`); nothing when this process
/// is no worker.
pub(crate) fn publish_handlers(busy: usize, total: usize, queue: usize, room: i32) {
    if let Some(mine) = MINE.get() {
        mine.slot.load().set_handlers(busy, total, queue, room);
    }
}

/// The connections this worker accepted (wrapping); nothing when this process is no worker.
pub(crate) fn publish_accepts(accepts: u32) {
    if let Some(mine) = MINE.get() {
        mine.slot.load().set_accepts(accepts);
    }
}

/// This worker's connections by state now; nothing when this process is no worker.
pub(crate) fn publish_connections(by: ByState) {
    if let Some(mine) = MINE.get() {
        mine.slot.load().set_connections(by);
    }
}

/// A request running on this worker, recorded until dropped (then counted as finished).
pub(crate) struct Running {
    slot: Option<&'static Slot>,
    entry: Option<&'static Entry>,
}

impl Running {
    /// Records `method` and `target` (cut to `TEXT_BYTES`) in a free entry of this worker's
    /// slot; nothing when this process is no worker.
    pub(crate) fn begin(method: &[u8], target: &[u8]) -> Running {
        match MINE.get() {
            Some(mine) => Running::record(mine.slot, method, target),
            None => Running {
                slot: None,
                entry: None,
            },
        }
    }

    /// Records the request in `slot`.
    pub(crate) fn record(slot: &'static Slot, method: &[u8], target: &[u8]) -> Running {
        Running {
            slot: Some(slot),
            entry: slot.record(method, target),
        }
    }

    /// Whether this records nothing (the process is no worker).
    #[cfg(test)]
    pub(crate) fn is_nothing(&self) -> bool {
        self.slot.is_none() && self.entry.is_none()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(entry) = self.entry {
            entry.free();
        }
        if self.slot.is_some_and(Slot::finish_one) {
            // Its `--max-requests`: the worker drains as on SIGTERM (its successor is
            // started by the master before this, at three quarters of the limit).
            // SAFETY: raise sends a signal to this process; its handler only sets a flag.
            unsafe { libc::raise(libc::SIGTERM) };
        }
    }
}
