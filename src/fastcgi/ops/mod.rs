//! What an operator sees of the server: the counters (`metrics`, a few atomic adds per
//! answer, into a `tally` that may live in shared memory), the load now (`load`: connections
//! by state, busy handlers, the queue), the status page's figures rendered as JSON and
//! Prometheus text (`status`), the access log (`access`), whether a handler can run now
//! (`health`: the ping's answer), and under a master the pool's part of the status page
//! (`pool`).

pub(crate) mod access;
pub(crate) mod health;
pub(crate) mod load;
pub(crate) mod metrics;
pub(crate) mod pool;
pub(crate) mod status;
pub(crate) mod tally;
