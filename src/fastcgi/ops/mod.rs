//! What an operator sees of the server: the counters (`metrics`, a few atomic adds per
//! answer), the status page's figures rendered as JSON and Prometheus text (`status`), and the
//! access log (`access`), and whether a handler can run now (`health`: the ping's answer).

pub(crate) mod access;
pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod status;
