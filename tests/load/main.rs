//! The load, overload and fault tests: one test binary for the tests that push the real
//! `pycnic fastcgi` to its limits (hundreds of connections, lowered fd limits, slow readers,
//! bodies that trickle, busy workers, SIGTERM with requests in flight, malformed input) and
//! check the outcome, never a speed. The helpers are `tests/common/fcgi_client.rs`,
//! `tests/common/load.rs` and, for nginx in front, `tests/common/e2e.rs`.
//!
//! What belongs here: a new `tests/load/NAME.rs`, declared below, when its test loads the server
//! or injects a fault. Every test here takes `load::serial()` for its whole run, so that two of
//! them never share the machine and make each other's bounded waits flaky (as when each file
//! was a binary of its own, run one after another). Tests that only need a real server go in
//! `tests/e2e/`, quick ones in `tests/fast/`.

#[path = "../common/e2e.rs"]
mod e2e;
#[path = "../common/examples.rs"]
mod examples;
#[path = "../common/fcgi_client.rs"]
mod fcgi_client;
#[path = "../common/load.rs"]
mod load;

mod fastcgi_drain;
mod fastcgi_faults;
mod fastcgi_memory;
mod fastcgi_overload;
mod fastcgi_overload_nginx;
mod fastcgi_processes;
mod fastcgi_spill;
mod fastcgi_trickle;
mod fastcgi_turn;
