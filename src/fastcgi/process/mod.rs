//! Processes, apart from the requests they serve. **The model: the master owns the listening
//! sockets and the worker processes; a worker owns connections and threads.** The master
//! (`master`, with `--processes` 2 or more) never reads a request and never runs the app; it
//! starts each worker by running the binary again with the sockets (as SIGUSR2 starts a new
//! copy), respawns one that dies, passes signals on, and announces the pool. A worker, or the
//! one process of `--processes 1`, is the server: its signals (`signals`), the lifecycle the
//! event loop consults (`lifecycle`: draining on SIGTERM, upgrading on SIGUSR2, through
//! `upgrade`), saying it serves (`announce`: the pid file, sd_notify, taking a handover; a
//! worker only tells its master, `worker`), the descriptor limit (`fdlimit`), and memory
//! given back after a flood (`memory`). The `scoreboard` is the shared memory through which
//! the master learns its workers' requests. Nothing here
//! imports the event loop (`serve`, `work`).

pub(crate) mod announce;
pub(crate) mod fdlimit;
pub(crate) mod lifecycle;
pub(crate) mod master;
pub(crate) mod memory;
pub(crate) mod scoreboard;
pub(crate) mod signals;
pub(crate) mod upgrade;
pub(crate) mod worker;
