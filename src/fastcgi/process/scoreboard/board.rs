//! The scoreboard's master side: it makes the board (a memfd, before any worker starts),
//! reads what a worker runs and has finished, folds a gone worker's counters into the
//! header, writes the pool's figures there, and clears a slot for the next worker.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::layout::{Mapping, Slot};

/// The master's side: the board it made, read only.
#[derive(Debug)]
pub(crate) struct Board {
    fd: OwnedFd,
    map: Mapping,
}

impl Board {
    /// A board of `slots` slots in a new memfd (closed on exec; each worker gets a duplicate).
    pub(crate) fn create(slots: usize) -> io::Result<Board> {
        // SAFETY: memfd_create with a NUL-terminated name; the new descriptor is ours.
        let fd = unsafe { libc::memfd_create(c"pycnic-scoreboard".as_ptr(), libc::MFD_CLOEXEC) };
        if fd == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: just opened, owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let len = libc::off_t::try_from(Mapping::len(slots))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "scoreboard too large"))?;
        // SAFETY: ftruncate on our own memfd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } == -1 {
            return Err(io::Error::last_os_error());
        }
        let map = Mapping::map(fd.as_raw_fd(), slots)?;
        map.header().set_started_now();
        Ok(Board { fd, map })
    }

    /// The descriptor to pass down.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The requests a slot's worker finished.
    pub(crate) fn requests(&self, slot: usize) -> u64 {
        self.map.slot(slot).map_or(0, Slot::requests)
    }

    /// A slot's worker's threads stuck past `--request-timeout`.
    pub(crate) fn stuck(&self, slot: usize) -> u32 {
        self.map.slot(slot).map_or(0, Slot::stuck)
    }

    /// What a slot's worker is running now ("METHOD target" each).
    pub(crate) fn running(&self, slot: usize) -> Vec<String> {
        self.map.slot(slot).map_or_else(Vec::new, Slot::running)
    }

    /// The master's figures, for every worker's status page.
    pub(crate) fn publish(&self, finished_before: u64, restarts: &[u64]) {
        self.map.header().set(finished_before, restarts);
    }

    /// A slot's worker is gone: its status-page counters are added to the pool's.
    pub(crate) fn fold(&self, slot: usize) {
        if let Some(slot) = self.map.slot(slot) {
            slot.tally().fold_into(self.map.header().gone());
        }
    }

    /// A slot's worker is gone: if it held the accept turn, the turn is nobody's now (true:
    /// the live workers are to be woken to take it).
    pub(crate) fn release_turn(&self, slot: usize) -> bool {
        self.map.header().move_turn(Some(slot), None)
    }

    /// A new worker takes the slot: its figures start again from nothing, and it drains
    /// itself once it has finished `limit` requests (0: never).
    pub(crate) fn clear(&self, slot: usize, limit: u64) {
        if let Some(slot) = self.map.slot(slot) {
            slot.clear(limit);
        }
    }
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
