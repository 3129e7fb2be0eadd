//! The end-to-end tests: one test binary for the tests that run the real programs a
//! deployment uses on loopback, in front of or beside the built binaries: nginx, Apache
//! (mod_cgi, mod_cgid, mod_proxy_fcgi, mod_fcgid), lighttpd, spawn-fcgi, cgi-fcgi,
//! systemd-socket-activate, Redis, memcached and wrk (the upgrade tests). The harness is
//! `tests/common/e2e.rs` (servers, processes, a raw HTTP client) with `tests/common/sessions.rs`
//! for the stores.
//!
//! What belongs here: a new `tests/e2e/NAME.rs`, declared below, when its test starts a real
//! web server, launcher or store. A test that exists to load the server or break it (overload,
//! faults) goes in `tests/load/`; one that needs none of these programs in `tests/fast/`. A test
//! here runs beside others in parallel threads of this one process: ports from `free_port`,
//! directories from `Prefix`, every process ended by pid, nothing process-wide changed.

#[path = "../common/cgi.rs"]
mod cgi;
#[path = "../common/e2e.rs"]
mod e2e;
#[path = "../common/examples.rs"]
mod examples;
#[path = "../common/fcgi_client.rs"]
mod fcgi_client;
#[path = "../common/sessions.rs"]
mod sessions;

mod apache;
mod browser_cors;
mod cross_origin;
mod fastcgi_health;
mod fastcgi_launchers;
mod lighttpd;
mod nginx;
mod nginx_socket_group;
mod ops_runtime;
mod ops_status;
mod ops_upgrade;
mod scaleout;
mod sessions_auth;
mod sessions_cgi;
mod sessions_fastcgi;
mod sessions_keys;
mod sessions_store_bounds;
mod sessions_store_location;
mod stray_output;
mod testing_client;
