//! One process's life, apart from the requests it serves: the signals (`signals`), the
//! lifecycle the event loop consults (`lifecycle`: draining on SIGTERM, upgrading on SIGUSR2,
//! through `upgrade`), saying the server serves (`announce`: the pid file, sd_notify, taking a
//! handover), the descriptor limit (`fdlimit`), and memory given back after a flood (`memory`). It imports nothing of the event loop, so a
//! process supervisor can be added here without touching it.

pub(crate) mod announce;
pub(crate) mod fdlimit;
pub(crate) mod lifecycle;
pub(crate) mod memory;
pub(crate) mod signals;
pub(crate) mod upgrade;
