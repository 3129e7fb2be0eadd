//! The scoreboard: what the master learns from its workers without a request crossing a
//! process. It is shared memory the master makes before any worker starts (a memfd, mapped
//! `MAP_SHARED`, passed down to each worker as an inherited descriptor named by
//! [`SCOREBOARD_VAR`]), one slot per worker written by that worker alone with atomics: its pid,
//! the requests it finished (and its `--max-requests`, past which it drains itself), and an entry per request running now (method
//! and target, cut to [`TEXT_BYTES`]); a header before the slots holds what the master keeps
//! (requests of dead workers, restarts by reason), which any worker's status page reads
//! (`pool_status`). The master only reads the slots: after a worker died, what it was
//! running (no writer is left, so the read is whole); any time, its figures. A request costs
//! the worker a compare-and-swap to take an entry, the text's stores and an add; a process
//! that is no worker has no board and pays one load.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use crate::fastcgi::ops::pool::{PoolStatus, WorkerLine};

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
struct Entry {
    state: AtomicU32,
    len: AtomicU32,
    text: [AtomicU8; TEXT_BYTES],
}

/// What the master writes for every worker to read: the pool's figures that outlive a
/// worker.
#[repr(C)]
struct Header {
    /// Requests finished by workers that are gone.
    finished_before: AtomicU64,
    /// Workers replaced, by reason (`pool::Reason`'s order).
    restarts: [AtomicU64; RESTART_REASONS],
    _pad: [AtomicU64; 8 - 1 - RESTART_REASONS],
}

/// The reasons a worker is replaced, as the status page names them.
pub(crate) const REASONS: [&str; RESTART_REASONS] = ["crash", "max-requests", "max-rss", "stuck"];
const RESTART_REASONS: usize = 4;

/// One worker's slot.
#[repr(C)]
struct Slot {
    pid: AtomicU32,
    /// Its threads stuck past `--request-timeout`.
    stuck: AtomicU32,
    /// When its worker started (Unix seconds).
    started_unix: AtomicU64,
    /// Requests finished by the worker now in the slot.
    requests: AtomicU64,
    /// Its `--max-requests` (0: none): once it has finished that many, it drains.
    limit: AtomicU64,
    entries: [Entry; ENTRIES],
}

/// A mapping of `slots` slots (zero-filled by the kernel: every atomic starts at 0).
#[derive(Debug)]
struct Mapping {
    ptr: *mut Slot,
    slots: usize,
}

// SAFETY: the mapping is only reached through atomics.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn len(slots: usize) -> usize {
        std::mem::size_of::<Header>() + slots * std::mem::size_of::<Slot>()
    }

    fn map(fd: RawFd, slots: usize) -> io::Result<Mapping> {
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

    fn header(&self) -> &Header {
        // SAFETY: the header opens the mapping, which lives as long as `self`; its fields are
        // atomics, valid for any bytes.
        unsafe { &*self.ptr.cast::<Header>() }
    }

    fn slot(&self, index: usize) -> Option<&Slot> {
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

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `map` mapped; no reference outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), Mapping::len(self.slots)) };
    }
}

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
        Ok(Board { fd, map })
    }

    /// The descriptor to pass down.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The requests a slot's worker finished.
    pub(crate) fn requests(&self, slot: usize) -> u64 {
        self.map
            .slot(slot)
            .map_or(0, |s| s.requests.load(Ordering::Relaxed))
    }

    /// A slot's worker's threads stuck past `--request-timeout`.
    pub(crate) fn stuck(&self, slot: usize) -> u32 {
        self.map
            .slot(slot)
            .map_or(0, |s| s.stuck.load(Ordering::Relaxed))
    }

    /// What a slot's worker is running now ("METHOD target" each).
    pub(crate) fn running(&self, slot: usize) -> Vec<String> {
        let Some(slot) = self.map.slot(slot) else {
            return Vec::new();
        };
        let mut running = Vec::new();
        for entry in &slot.entries {
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

    /// The master's figures, for every worker's status page.
    pub(crate) fn publish(&self, finished_before: u64, restarts: &[u64]) {
        let header = self.map.header();
        header
            .finished_before
            .store(finished_before, Ordering::Relaxed);
        for (cell, n) in header.restarts.iter().zip(restarts) {
            cell.store(*n, Ordering::Relaxed);
        }
    }

    /// A new worker takes the slot: its figures start again from nothing, and it drains
    /// itself once it has finished `limit` requests (0: never).
    pub(crate) fn clear(&self, slot: usize, limit: u64) {
        let Some(slot) = self.map.slot(slot) else {
            return;
        };
        slot.pid.store(0, Ordering::Relaxed);
        slot.stuck.store(0, Ordering::Relaxed);
        slot.started_unix.store(0, Ordering::Relaxed);
        slot.requests.store(0, Ordering::Relaxed);
        slot.limit.store(limit, Ordering::Relaxed);
        for entry in &slot.entries {
            entry.state.store(FREE, Ordering::Release);
        }
    }
}

/// The worker's side: its own slot, for the process's life.
struct Mine {
    map: Mapping,
    slot: &'static Slot,
}

static MINE: OnceLock<Mine> = OnceLock::new();

/// A worker takes its slot on the board its master passed down (nothing when there is none).
pub(crate) fn join(slot: usize) {
    let Some(fd) = std::env::var(SCOREBOARD_VAR)
        .ok()
        .and_then(|fd| fd.trim().parse::<RawFd>().ok())
    else {
        return;
    };
    // SAFETY: the master passed this memfd to us alone; from here on we own and close it
    // (the mapping stays valid after the close).
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let lines = board_lines(fd.as_raw_fd()).unwrap_or(slot + 1);
    let map = match Mapping::map(fd.as_raw_fd(), lines.max(slot + 1)) {
        Ok(map) => map,
        Err(err) => {
            log::warn!("fastcgi worker: scoreboard: {err}");
            return;
        }
    };
    let Some(slot) = map.slot(slot) else { return };
    // SAFETY: the mapping is never dropped once in MINE (a static), so the slot lives for the
    // rest of the process.
    let slot: &'static Slot = unsafe { &*std::ptr::from_ref(slot) };
    slot.pid.store(std::process::id(), Ordering::Relaxed);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    slot.started_unix
        .store(now.map_or(0, |d| d.as_secs()), Ordering::Relaxed);
    let _ = MINE.set(Mine { map, slot });
}

/// A worker's threads stuck past `--request-timeout` now, for its master (which replaces it
/// once they reach `--max-stuck`); nothing when this process is no worker.
pub(crate) fn publish_stuck(stuck: usize) {
    if let Some(mine) = MINE.get() {
        let stuck = u32::try_from(stuck).unwrap_or(u32::MAX);
        mine.slot.stuck.store(stuck, Ordering::Relaxed);
    }
}

/// How many slots the board behind `fd` holds (from its size).
fn board_lines(fd: RawFd) -> Option<usize> {
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

/// The pool's part of the status page, read from the board by the worker that answers it
/// (`None` when this process is no worker).
pub(crate) fn pool_status() -> Option<PoolStatus> {
    let mine = MINE.get()?;
    let header = mine.map.header();
    let mut workers = Vec::new();
    let mut live = 0;
    for index in 0..mine.map.slots {
        let Some(slot) = mine.map.slot(index) else {
            continue;
        };
        let pid = slot.pid.load(Ordering::Relaxed);
        if pid == 0 {
            continue;
        }
        let requests = slot.requests.load(Ordering::Relaxed);
        live += requests;
        workers.push(WorkerLine {
            pid,
            started_unix: slot.started_unix.load(Ordering::Relaxed),
            requests,
            resident_bytes: process_resident_bytes(pid),
        });
    }
    Some(PoolStatus {
        requests_total: header.finished_before.load(Ordering::Relaxed) + live,
        restarts: REASONS
            .iter()
            .zip(&header.restarts)
            .map(|(name, n)| (*name, n.load(Ordering::Relaxed)))
            .collect(),
        workers,
    })
}

/// A process's resident memory, from /proc/PID/statm.
pub(crate) fn process_resident_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
    pages.checked_mul(page)
}

/// A request running on this worker, recorded until dropped (then counted as finished).
pub(crate) struct Running {
    slot: Option<&'static Slot>,
    entry: Option<&'static Entry>,
}

impl Running {
    /// Records `method` and `target` (cut to [`TEXT_BYTES`]) in a free entry of this worker's
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

    fn record(slot: &'static Slot, method: &[u8], target: &[u8]) -> Running {
        let entry = slot.entries.iter().find(|entry| {
            entry
                .state
                .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        });
        if let Some(entry) = entry {
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
        }
        Running {
            slot: Some(slot),
            entry,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(entry) = self.entry {
            entry.state.store(FREE, Ordering::Release);
        }
        if let Some(slot) = self.slot {
            let finished = slot.requests.fetch_add(1, Ordering::Relaxed) + 1;
            if finished == slot.limit.load(Ordering::Relaxed) {
                // Its `--max-requests`: the worker drains as on SIGTERM (its successor is
                // started by the master before this, at three quarters of the limit).
                // SAFETY: raise sends a signal to this process; its handler only sets a flag.
                unsafe { libc::raise(libc::SIGTERM) };
            }
        }
    }
}

#[cfg(test)]
#[path = "scoreboard_tests.rs"]
mod tests;
