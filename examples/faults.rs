//! Faults a handler can commit that no `catch_unwind` catches, for the tests of worker
//! processes (`pycnic fastcgi --processes N`, docs/processes.md) and for trying them by hand.
//! Kept out of the seed binary. Every answer names the process that gave it (`pid`).
//!
//! - `GET /pid`: `{"pid": N}`;
//! - `GET /sleep?ms=N&id=X`: logs `sleep start id=X pid=N` on stderr, sleeps (at most 60 s);
//! - `GET /abort`: `std::process::abort()` (SIGABRT);
//! - `GET /overflow`: unbounded recursion (the stack overflows: SIGSEGV after Rust's message);
//! - `GET /alloc?bytes=N`: allocates N bytes (a huge N fails: "memory allocation failed");
//! - `GET /hang`: never returns;
//! - `GET /keep?mb=N`: allocates N MiB, touches it and keeps it for the process's life;
//! - `GET /print`: writes to stdout and stderr, then answers.
//!
//! `cargo run --example faults -- fastcgi --listen 127.0.0.1:9000 --processes 4`

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use pycnic::{App, Handler, HttpError, Request, Response};
use serde_json::{Value, json};

/// Memory `/keep` holds for the process's life.
static KEPT: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn number(req: &Request, name: &str, default: u64) -> u64 {
    req.args()
        .get(name)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn pid() -> Value {
    json!({ "pid": std::process::id() })
}

/// Recursion that the optimiser cannot turn into a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let frame = black_box([depth; 64]);
    black_box(recurse(depth + 1)).wrapping_add(frame[0])
}

struct Faults;

impl Faults {
    fn pid(&self, _req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        Ok(pid())
    }

    fn sleep(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        let ms = number(req, "ms", 100).min(60_000);
        let id = req.args().get("id").unwrap_or("-");
        eprintln!("sleep start id={id} pid={}", std::process::id());
        std::thread::sleep(Duration::from_millis(ms));
        Ok(pid())
    }

    fn abort(&self, _req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        std::process::abort()
    }

    fn overflow(&self, _req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({ "depth": recurse(0) }))
    }

    fn alloc(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        let bytes = usize::try_from(number(req, "bytes", 0)).unwrap_or(usize::MAX / 4);
        let mut block: Vec<u8> = Vec::with_capacity(bytes);
        block.push(1);
        Ok(json!({ "allocated": black_box(block).capacity() }))
    }

    fn hang(&self, _req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }

    fn keep(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        let mib = usize::try_from(number(req, "mb", 1).min(4096)).unwrap_or(1);
        let block = vec![1u8; mib << 20];
        let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
        kept.push(black_box(block));
        Ok(
            json!({ "kept_mb": kept.iter().map(Vec::len).sum::<usize>() >> 20, "pid": std::process::id() }),
        )
    }

    fn print(&self, _req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        println!("stray output on stdout from pid {}", std::process::id());
        eprintln!("stray output on stderr from pid {}", std::process::id());
        Ok(pid())
    }
}

fn app() -> App {
    let route = |name: &'static str| Handler::new(Faults).named(name);
    App::new()
        .route("/pid", route("Pid").get(Faults::pid))
        .route("/sleep", route("Sleep").get(Faults::sleep))
        .route("/abort", route("Abort").get(Faults::abort))
        .route("/overflow", route("Overflow").get(Faults::overflow))
        .route("/alloc", route("Alloc").get(Faults::alloc))
        .route("/hang", route("Hang").get(Faults::hang))
        .route("/keep", route("Keep").get(Faults::keep))
        .route("/print", route("Print").get(Faults::print))
}

fn main() -> ExitCode {
    pycnic::run!(app())
}
