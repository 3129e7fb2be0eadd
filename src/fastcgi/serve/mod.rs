//! One process's event loop and its threads. `start` opens the listeners and runs the loop;
//! `server` holds its owned parts and turns events into work; `connections` reads, feeds and
//! writes connections (`drive` drives one), `slot` is one connection's side, `timers` closes stalled ones and
//! answers requests that waited too long, `threads` runs the leader/follower threads,
//! `timeout` answers handlers past `--request-timeout`, `drain` carries out what the
//! lifecycle decides, `pages` gathers the status page, `peers` is this worker among its pool's
//! (its load on the scoreboard, connections left to a peer with room; `steer` acts on it). The loop's parts, each with its own
//! fields: `table` (the connections), `admission`, `ready` (the queue), `crew` (the thread
//! counts), `clock`.

pub(crate) mod admission;
pub(crate) mod clock;
pub(crate) mod connections;
pub(crate) mod crew;
pub(crate) mod drain;
pub(crate) mod drive;
pub(crate) mod pages;
pub(crate) mod peers;
pub(crate) mod ready;
pub(crate) mod server;
pub(crate) mod slot;
pub(crate) mod start;
pub(crate) mod steer;
pub(crate) mod table;
pub(crate) mod threads;
pub(crate) mod timeout;
pub(crate) mod timers;

pub use start::serve;
