//! The fast integration tests: one test binary for everything that needs no server, store or
//! load generator of its own, only this crate in-process, the built `pycnic` and example
//! binaries run as CGI programs or subcommands, and `pycnic fastcgi` spoken to directly over
//! a loopback socket. Each runs in well under a second or two (`own_app` builds a small crate
//! and is the exception), and they run side by side in parallel threads of this one process.
//!
//! What belongs here: a new `tests/fast/NAME.rs`, declared below, when its test starts no web
//! server, launcher (spawn-fcgi, cgi-fcgi), Redis or memcached, and puts no load on the
//! machine. Real servers go in `tests/e2e/`, load, overload and fault tests in `tests/load/`.
//! A test here must be safe beside others in one process: no `std::env::set_var`, no
//! `set_current_dir`, no process-wide signal handler or limit, descriptors created with
//! `O_CLOEXEC` (see `closed_stdout`), temporary paths unique per test.

#[path = "../common/cgi.rs"]
mod cgi;
#[path = "../common/examples.rs"]
mod examples;
#[path = "../common/fcgi_client.rs"]
mod fcgi_client;

mod cgi_robustness;
mod cgi_seed;
mod closed_stdout;
mod conf_systemd_restart;
mod design_files;
mod fastcgi_protocol;
mod fastcgi_seed;
mod fastcgi_startup;
mod gateway_props;
mod markdown_links;
mod missing_method;
mod ops_review;
mod own_app;
mod serve;
mod sessions_core;
mod showcase;
