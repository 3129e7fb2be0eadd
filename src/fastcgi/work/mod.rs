//! Requests as work for a handler thread: a complete request and its connection as a `Job`
//! (`job`), its body spilled past the memory budget (`spool`) to the spill folder within its
//! disk budget (`spill`), the handlers running now with
//! `--slow-log` and `--request-timeout` (`running`), one request's run and its answer on the
//! socket (`run`), and the answers the server gives without a handler (`answers`: 413, 431,
//! 503).

pub(crate) mod answers;
pub(crate) mod job;
pub(crate) mod run;
pub(crate) mod running;
pub(crate) mod spill;
pub(crate) mod spool;
