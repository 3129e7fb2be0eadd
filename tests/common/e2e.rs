//! The end-to-end harness: real web servers (nginx, Apache, lighttpd) started on loopback from
//! the templates in conf/, each in its own temporary prefix with its own ports, in front of the
//! real binaries; a small HTTP/1.1 client over raw bytes (two Cookie headers, raw non-ASCII
//! paths, every Set-Cookie line seen); and the cases every configuration must pass.
//!
//! Each process is held by a [`Proc`] guard that stops its whole process group and waits for
//! it on drop; each [`Prefix`] removes its directory on drop. Readiness is bounded polling;
//! nothing here asserts a time.
//!
//! Declared once per test binary that needs it (`tests/e2e/main.rs`, `tests/load/main.rs`) as
//! `#[path = "../common/e2e.rs"] mod e2e;`; its test files `use crate::e2e::*`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

#[path = "e2e/cases.rs"]
mod cases;
#[path = "e2e/env.rs"]
mod env;
#[path = "e2e/http.rs"]
mod http;
#[path = "e2e/procs.rs"]
mod procs;
#[path = "e2e/servers.rs"]
mod servers;

// Each test file uses a part of the harness.
#[allow(unused_imports)]
pub use {cases::*, env::*, http::*, procs::*, servers::*};

/// How long a server or backend may take to become ready before the test fails.
pub const READY_WITHIN: Duration = Duration::from_secs(10);
/// How long a stopped process may take to exit after SIGTERM before it gets SIGKILL.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// A read that takes longer fails the test instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// The app's default --max-body (src/cli.rs DEFAULT_MAX_BODY), which conf/ keeps.
pub const APP_MAX_BODY: usize = 10 * 1024 * 1024;
