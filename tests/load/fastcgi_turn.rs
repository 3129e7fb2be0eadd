//! The accept turn of a pool (docs/processes.md, `serve/peers.rs`): one worker at a time
//! watches the listening socket, so an idle pool's new connections all go to that one worker
//! (no other is woken for them); when that worker is stopped (SIGSTOP) another takes the turn
//! and new connections are answered; when it dies the master hands the turn on. The pool is
//! talked to directly over FastCGI, one new connection per request, with `examples/faults`
//! (`/pid` answers the worker's pid). Every wait is bounded and fails with the logs.

use crate::e2e;
use crate::fcgi_client::Client;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use e2e::*;

const POOL: usize = 3;
/// The most a test waits for one answer (bounds the test, measures nothing).
const BOUND: Duration = Duration::from_secs(20);

struct Pool {
    prefix: Prefix,
    master: Proc,
    backend: SocketAddr,
}

impl Pool {
    fn start(tag: &str) -> Pool {
        let prefix = Prefix::new(tag);
        let bin = prefix.install_binary(&crate::examples::example_bin("faults"), "pycnic");
        let backend: SocketAddr = (localhost(), free_port(localhost())).into();
        let mut command = Command::new(&bin);
        command
            .args(["fastcgi", "--listen", &backend.to_string()])
            .args(["--processes", &POOL.to_string()])
            .env("RUST_LOG", "info");
        let master = Proc::start("pycnic", command, &prefix.join("pycnic.log"));
        wait_until("the pool", &[&master], &prefix, || {
            log(&prefix).contains("every worker serves")
        });
        Pool {
            prefix,
            master,
            backend,
        }
    }

    /// The pid of the worker that answers `/pid` on a new connection, waited for (bounded)
    /// on a thread of its own.
    fn answering_pid(&self) -> i32 {
        let backend = self.backend;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let reply = Client::tcp(backend).get("/pid");
            let _ = tx.send((reply.status(), reply.json()["pid"].as_i64()));
        });
        match rx.recv_timeout(BOUND) {
            Ok((200, Some(pid))) => i32::try_from(pid).expect("a pid"),
            other => panic!(
                "/pid on a new connection: {other:?}\n{}",
                self.prefix.logs()
            ),
        }
    }
}

fn log(prefix: &Prefix) -> String {
    std::fs::read_to_string(prefix.join("pycnic.log")).unwrap_or_default()
}

fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: kill sends a signal to a worker of the pool this test started.
    unsafe { libc::kill(pid, signal) };
}

/// Whether every thread of `pid` is stopped (state `T` in `/proc/PID/task/*/stat`).
fn all_threads_stopped(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            // The state follows the command name, which is in parentheses.
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('T'))
        })
    })
}

/// Continues a stopped worker when dropped, so that a failing test leaves nothing stopped.
struct Stopped(i32);

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, libc::SIGCONT);
    }
}

#[test]
fn an_idle_pools_new_connections_all_go_to_the_worker_whose_turn_it_is() {
    let _serial = crate::load::serial();
    let pool = Pool::start("turn-one-acceptor");
    let holder = pool.answering_pid();
    for n in 0..20 {
        assert_eq!(
            pool.answering_pid(),
            holder,
            "new connection {n} of an idle pool went to another worker than the holder\n{}",
            pool.prefix.logs()
        );
    }
}

#[test]
fn a_stopped_holder_of_the_turn_is_replaced_and_new_connections_are_answered() {
    let _serial = crate::load::serial();
    let pool = Pool::start("turn-stopped-holder");
    let holder = pool.answering_pid();
    signal(holder, libc::SIGSTOP);
    let stopped = Stopped(holder);
    // kill() returns before every thread has stopped: a connection made before then could
    // still be taken by the holder, and would then wait for SIGCONT.
    wait_until(
        "every thread of the holder stopped",
        &[&pool.master],
        &pool.prefix,
        || all_threads_stopped(holder),
    );
    let answered = pool.answering_pid();
    assert_ne!(answered, holder, "the stopped worker cannot answer");
    assert!(
        log(&pool.prefix).contains("took the accept turn from a worker that left connections"),
        "the worker that took the turn says so\n{}",
        pool.prefix.logs()
    );
    drop(stopped);
    for _ in 0..5 {
        pool.answering_pid();
    }
}

#[test]
fn a_dead_holders_turn_is_handed_on_by_the_master() {
    let _serial = crate::load::serial();
    let pool = Pool::start("turn-dead-holder");
    let holder = pool.answering_pid();
    signal(holder, libc::SIGKILL);
    wait_until(
        "the master logging the dead worker",
        &[&pool.master],
        &pool.prefix,
        || log(&pool.prefix).contains(&format!("worker {holder} ")),
    );
    assert!(
        log(&pool.prefix)
            .lines()
            .any(|line| line.contains(&format!("worker {holder} "))
                && line.contains("it held the accept turn, which the others are told to take")),
        "the master releases the dead worker's turn\n{}",
        pool.prefix.logs()
    );
    let answered = pool.answering_pid();
    assert_ne!(answered, holder);
    assert!(
        !log(&pool.prefix).contains("took the accept turn"),
        "the master handed the turn on; no worker had to find it unaccepted\n{}",
        pool.prefix.logs()
    );
}
