//! The scoreboard's memory (see the module above): a [`Header`] the master writes, then one
//! [`Slot`] per worker that only that worker writes, every field an atomic (any bytes are a
//! valid board, and the kernel's zero-fill is an empty one); and [`Mapping`], a `MAP_SHARED`
//! view of the memfd.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use crate::fastcgi::ops::load::LoadCell;
use crate::fastcgi::ops::tally::Tally;

/// The scoreboard's descriptor in a worker's environment.
pub const SCOREBOARD_VAR: &str = "PYCNIC_SCOREBOARD";
/// Requests running at once that a slot records (more run unrecorded).
pub(crate) const ENTRIES: usize = 64;
/// Bytes of "METHOD target" an entry keeps.
pub(crate) const TEXT_BYTES: usize = 120;

const FREE: u32 = 0;
const WRITING: u32 = 1;
const RUNNING: u32 = 2;

/// One request running: its state, then its text.
#[repr(C)]
pub(crate) struct Entry {
    state: AtomicU32,
    len: AtomicU32,
    text: [AtomicU8; TEXT_BYTES],
}

impl Entry {
    /// The request ended: the entry is free again.
    pub(crate) fn free(&self) {
        self.state.store(FREE, Ordering::Release);
    }
}

/// What the master writes for every worker to read: the pool's figures that outlive a
/// worker.
#[repr(C)]
pub(crate) struct Header {
    /// Requests finished by workers that are gone.
    finished_before: AtomicU64,
    /// Workers replaced, by reason (`pool::Reason`'s order).
    restarts: [AtomicU64; RESTART_REASONS],
    /// When the pool started (the board was made), in microseconds since the Unix epoch.
    started_micros: AtomicU64,
    /// The worker whose turn it is to accept: its line + 1 (0: nobody's; see `turn`).
    turn: AtomicU64,
    _pad: [AtomicU64; 8 - 3 - RESTART_REASONS],
    /// The status-page counters of workers that are gone.
    gone: Tally,
}

/// The reasons a worker is replaced, as the status page names them.
pub(crate) const REASONS: [&str; RESTART_REASONS] = ["crash", "max-requests", "max-rss", "stuck"];
const RESTART_REASONS: usize = 4;

impl Header {
    /// Requests finished by workers that are gone.
    pub(crate) fn finished_before(&self) -> u64 {
        self.finished_before.load(Ordering::Relaxed)
    }

    /// Restarts by reason, in [`REASONS`]' order.
    pub(crate) fn restarts(&self) -> [u64; RESTART_REASONS] {
        std::array::from_fn(|n| self.restarts[n].load(Ordering::Relaxed))
    }

    /// The master's figures.
    pub(crate) fn set(&self, finished_before: u64, restarts: &[u64]) {
        self.finished_before
            .store(finished_before, Ordering::Relaxed);
        for (cell, n) in self.restarts.iter().zip(restarts) {
            cell.store(*n, Ordering::Relaxed);
        }
    }

    /// When the pool started, in seconds since the Unix epoch.
    pub(crate) fn started_unix(&self) -> f64 {
        self.started_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// The pool starts now.
    pub(crate) fn set_started_now(&self) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let micros = now.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.started_micros.store(micros, Ordering::Relaxed);
    }

    /// The line of the worker whose turn it is to accept, if anybody's.
    pub(crate) fn turn(&self) -> Option<usize> {
        let at = self.turn.load(Ordering::Acquire);
        usize::try_from(at).ok()?.checked_sub(1)
    }

    /// Moves the turn from `from` to `to` if it is still `from`'s (nobody's: `None`).
    pub(crate) fn move_turn(&self, from: Option<usize>, to: Option<usize>) -> bool {
        let code = |line: Option<usize>| line.map_or(0, |line| line as u64 + 1);
        self.turn
            .compare_exchange(code(from), code(to), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The counters of workers that are gone.
    pub(crate) fn gone(&self) -> &Tally {
        &self.gone
    }
}

/// One worker's slot.
#[repr(C)]
pub(crate) struct Slot {
    pid: AtomicU32,
    /// Its threads stuck past `--request-timeout`.
    stuck: AtomicU32,
    /// When its worker started (Unix seconds).
    started_unix: AtomicU64,
    /// Requests finished by the worker now in the slot.
    requests: AtomicU64,
    /// Its `--max-requests` (0: none): once it has finished that many, it drains.
    limit: AtomicU64,
    /// Its load now.
    load: LoadCell,
    /// Its status-page counters.
    tally: Tally,
    entries: [Entry; ENTRIES],
}

impl Slot {
    /// The worker's pid (0: the slot is free).
    pub(crate) fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// When its worker started (Unix seconds).
    pub(crate) fn started_unix(&self) -> u64 {
        self.started_unix.load(Ordering::Relaxed)
    }

    /// Requests its worker finished.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Its worker's threads stuck past `--request-timeout`.
    pub(crate) fn stuck(&self) -> u32 {
        self.stuck.load(Ordering::Relaxed)
    }

    /// Its worker's load now.
    pub(crate) fn load(&self) -> &LoadCell {
        &self.load
    }

    /// Its worker's status-page counters.
    pub(crate) fn tally(&self) -> &Tally {
        &self.tally
    }

    /// A worker takes the slot: `pid`, started at `started_unix`.
    pub(crate) fn claim(&self, pid: u32, started_unix: u64) {
        self.pid.store(pid, Ordering::Relaxed);
        self.started_unix.store(started_unix, Ordering::Relaxed);
    }

    /// Its worker's threads stuck now.
    pub(crate) fn set_stuck(&self, stuck: u32) {
        self.stuck.store(stuck, Ordering::Relaxed);
    }

    /// A request finished: true when that makes the worker's `--max-requests`.
    pub(crate) fn finish_one(&self) -> bool {
        let finished = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        finished == self.limit.load(Ordering::Relaxed)
    }

    /// Empties the slot for a new worker, which drains itself once it has finished `limit`
    /// requests (0: never).
    pub(crate) fn clear(&self, limit: u64) {
        self.pid.store(0, Ordering::Relaxed);
        self.stuck.store(0, Ordering::Relaxed);
        self.started_unix.store(0, Ordering::Relaxed);
        self.requests.store(0, Ordering::Relaxed);
        self.limit.store(limit, Ordering::Relaxed);
        self.load.clear();
        self.tally.clear();
        for entry in &self.entries {
            entry.free();
        }
    }

    /// Takes a free entry and writes "METHOD target" (cut to [`TEXT_BYTES`]) in it; `None`
    /// when all are taken.
    pub(crate) fn record(&self, method: &[u8], target: &[u8]) -> Option<&Entry> {
        let entry = self.entries.iter().find(|entry| {
            entry
                .state
                .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })?;
        let text = method
            .iter()
            .chain(b" ")
            .chain(target)
            .take(TEXT_BYTES)
            .copied();
        let mut len = 0u32;
        for (cell, byte) in entry.text.iter().zip(text) {
            cell.store(byte, Ordering::Relaxed);
            len += 1;
        }
        entry.len.store(len, Ordering::Relaxed);
        entry.state.store(RUNNING, Ordering::Release);
        Some(entry)
    }

    /// What the worker runs now ("METHOD target" each).
    pub(crate) fn running(&self) -> Vec<String> {
        let mut running = Vec::new();
        for entry in &self.entries {
            if entry.state.load(Ordering::Acquire) != RUNNING {
                continue;
            }
            let len = (entry.len.load(Ordering::Relaxed) as usize).min(TEXT_BYTES);
            let text: Vec<u8> = entry.text[..len]
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect();
            running.push(String::from_utf8_lossy(&text).into_owned());
        }
        running
    }
}

/// A mapping of `slots` slots (zero-filled by the kernel: every atomic starts at 0).
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: *mut Slot,
    slots: usize,
}

// SAFETY: the mapping is only reached through atomics.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// The bytes a board of `slots` slots takes.
    pub(crate) fn len(slots: usize) -> usize {
        std::mem::size_of::<Header>() + slots * std::mem::size_of::<Slot>()
    }

    /// Maps `slots` slots of the board in `fd`.
    pub(crate) fn map(fd: RawFd, slots: usize) -> io::Result<Mapping> {
        let len = Mapping::len(slots);
        // SAFETY: a shared mapping of `len` bytes of a file at least that long; the pointer is
        // only used within those bytes, through atomics.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            slots,
        })
    }

    /// The header.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the header opens the mapping, which lives as long as `self`; its fields are
        // atomics, valid for any bytes.
        unsafe { &*self.ptr.cast::<Header>() }
    }

    /// Slot `index`, if the mapping holds it.
    pub(crate) fn slot(&self, index: usize) -> Option<&Slot> {
        // SAFETY: `index` is within the mapping, after the header, and the mapping lives as
        // long as `self`; every field of a Slot is an atomic, valid for any bytes.
        (index < self.slots).then(|| unsafe {
            &*self
                .ptr
                .cast::<u8>()
                .add(std::mem::size_of::<Header>())
                .cast::<Slot>()
                .add(index)
        })
    }
}

impl Mapping {
    /// Every slot with its index.
    pub(crate) fn each(&self) -> impl Iterator<Item = (usize, &Slot)> {
        (0..self.slots).filter_map(|n| self.slot(n).map(|slot| (n, slot)))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `map` mapped; no reference outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), Mapping::len(self.slots)) };
    }
}

/// How many slots the board behind `fd` holds (from its size).
pub(crate) fn board_lines(fd: RawFd) -> Option<usize> {
    // SAFETY: fstat writes into a zeroed stat of the right size.
    let size = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut stat) != 0 {
            return None;
        }
        usize::try_from(stat.st_size).ok()?
    };
    Some(size.checked_sub(std::mem::size_of::<Header>())? / std::mem::size_of::<Slot>())
}
