//! A worker's load now, what the status page shows as states rather than counts: connections
//! by state, handler slots busy of all, requests queued for one, and the room (free slots
//! less the requests queued for them, below 0 when requests wait). [`Load`] is read from the
//! server when the page is asked; [`LoadCell`] is its `#[repr(C)]` form in a worker's slot of
//! the scoreboard (atomics, valid when zero-filled), which the worker writes and its peers
//! read: to add up the pool's page, and to choose who takes the accept turn next.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Connections open, by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ByState {
    pub(crate) idle: usize,
    pub(crate) receiving: usize,
    pub(crate) queued: usize,
    pub(crate) in_handler: usize,
    pub(crate) writing: usize,
}

impl ByState {
    /// The states by name, in the page's order.
    pub(crate) fn pairs(&self) -> [(&'static str, usize); 5] {
        [
            ("idle", self.idle),
            ("receiving", self.receiving),
            ("queued", self.queued),
            ("in_handler", self.in_handler),
            ("writing", self.writing),
        ]
    }

    /// Connections open in all.
    pub(crate) fn open(&self) -> usize {
        self.pairs().iter().map(|(_, n)| n).sum()
    }
}

/// A worker's load, or a pool's added up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Load {
    pub(crate) connections: ByState,
    /// Handler slots running a request.
    pub(crate) busy: usize,
    /// Handler slots in all (`--workers`).
    pub(crate) total: usize,
    /// Complete requests waiting for a free slot.
    pub(crate) queue: usize,
}

impl Load {
    /// These and `other` together.
    pub(crate) fn plus(self, other: Load) -> Load {
        let (a, b) = (self.connections, other.connections);
        Load {
            connections: ByState {
                idle: a.idle + b.idle,
                receiving: a.receiving + b.receiving,
                queued: a.queued + b.queued,
                in_handler: a.in_handler + b.in_handler,
                writing: a.writing + b.writing,
            },
            busy: self.busy + other.busy,
            total: self.total + other.total,
            queue: self.queue + other.queue,
        }
    }
}

const CELLS: usize = 10;

/// A [`Load`] in shared memory, plus the room. The worker writes the handler
/// figures whenever they change and the connection states at its timers' sweep (and when
/// its own page is asked); a reader may see one from a moment before the other.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct LoadCell {
    /// idle, receiving, queued, in_handler, writing, busy, total, queue, room (an i32's bits),
    /// connections accepted (wrapping).
    cells: [AtomicU32; CELLS],
}

const ROOM: usize = 8;
const ACCEPTS: usize = 9;

fn to_cell(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl LoadCell {
    /// Writes the handler figures: `busy` of `total` slots, `queue` waiting, the `room` a
    /// new connection would find (free slots less queued requests; `i32::MIN` while this
    /// worker takes none: draining, at its connection limit).
    pub(crate) fn set_handlers(&self, busy: usize, total: usize, queue: usize, room: i32) {
        for (at, n) in [(5, busy), (6, total), (7, queue)] {
            if let Some(cell) = self.cells.get(at) {
                cell.store(to_cell(n), Relaxed);
            }
        }
        if let Some(cell) = self.cells.get(ROOM) {
            cell.store(u32::from_ne_bytes(room.to_ne_bytes()), Relaxed);
        }
    }

    /// Writes the connections by state.
    pub(crate) fn set_connections(&self, by: ByState) {
        for (cell, (_, n)) in self.cells.iter().zip(by.pairs()) {
            cell.store(to_cell(n), Relaxed);
        }
    }

    /// Writes the connections this worker accepted (wrapping): a sign of life its peers read.
    pub(crate) fn set_accepts(&self, accepts: u32) {
        if let Some(cell) = self.cells.get(ACCEPTS) {
            cell.store(accepts, Relaxed);
        }
    }

    /// The connections accepted, as last written (wrapping).
    pub(crate) fn accepts(&self) -> u32 {
        self.cells.get(ACCEPTS).map_or(0, |c| c.load(Relaxed))
    }

    /// The room, as last written (0 before).
    pub(crate) fn room(&self) -> i32 {
        self.cells
            .get(ROOM)
            .map_or(0, |c| i32::from_ne_bytes(c.load(Relaxed).to_ne_bytes()))
    }

    /// Handler slots not running a handler, as last written (total less busy).
    pub(crate) fn free(&self) -> i32 {
        let n = |at: usize| self.cells.get(at).map_or(0, |c| c.load(Relaxed));
        i32::try_from(n(6).saturating_sub(n(5))).unwrap_or(i32::MAX)
    }

    /// The load as last written.
    pub(crate) fn read(&self) -> Load {
        let n = |at: usize| self.cells.get(at).map_or(0, |c| c.load(Relaxed) as usize);
        Load {
            connections: ByState {
                idle: n(0),
                receiving: n(1),
                queued: n(2),
                in_handler: n(3),
                writing: n(4),
            },
            busy: n(5),
            total: n(6),
            queue: n(7),
        }
    }

    /// Back to nothing (a new worker takes the slot).
    pub(crate) fn clear(&self) {
        for cell in &self.cells {
            cell.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
