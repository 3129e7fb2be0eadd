//! The scoreboard: what a pool's processes learn of each other without a request crossing a
//! process. It is shared memory the master makes before any worker starts (a memfd, mapped
//! `MAP_SHARED`, passed down to each worker as an inherited descriptor named by
//! `layout::SCOREBOARD_VAR`), one slot per worker written by that worker alone with atomics,
//! and a header the master writes.
//!
//! - `layout`: the memory's shape. A slot holds the worker's pid and start, the requests it
//!   finished (and its `--max-requests`, past which it drains itself), its stuck threads, an
//!   entry per request running now (method and target), its status-page counters (a
//!   `Tally`) and its load now (a `LoadCell`: connections by state, handlers busy, queue,
//!   room for a new request). The header holds what outlives a worker: the pool's start, the counters
//!   and requests of workers that are gone, restarts by reason.
//! - `board`: the master's side. It reads a dead worker's slot (no writer is left, so the
//!   read is whole: what it was running goes in the log), folds its counters into the
//!   header, and clears the slot for the next worker.
//! - `mine`: a worker's side, its own slot for the process's life. A request costs the
//!   worker a compare-and-swap to take an entry, the text's stores and an add; a process that
//!   is no worker has no board and pays one load.
//! - `view`: what a worker reads of its peers: the pool's status page (any worker's page adds
//!   up every slot and the header).
//! - `turn`: the accept turn in the header: which worker watches the listening sockets now,
//!   taken, passed to the peer with the most room, released by the master when its holder
//!   dies.

pub(crate) mod board;
pub(crate) mod layout;
pub(crate) mod mine;
pub(crate) mod turn;
pub(crate) mod view;
