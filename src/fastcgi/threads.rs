//! The server's threads, leader/follower: one thread at a time (the leader) waits for socket
//! events and handles them under the server's lock; when that completes a request it hands
//! the leadership to a waiting follower and runs the handler itself, so the common request
//! crosses no thread. Handlers run at most `--workers` at once; there is one thread more, so
//! someone always watches the sockets (timers, 503 after --queue-wait, accepting) even when
//! every handler is busy. A thread back from a handler gives the connection back itself and
//! drives it on (the next request may already be there).

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use mio::{Events, Poll};

use super::server::Server;
use super::worker;

/// What the threads share: the poller (held by the leader) and the server.
struct Shared {
    poll: Mutex<(Poll, Events)>,
    server: Mutex<Server>,
    /// Followers wait here for a request to run or the leadership to take.
    turn: Condvar,
}

/// Runs the server on `handlers + 1` threads (this one included) until it stops: `true`
/// after a clean drain, `false` when the shutdown timeout cut requests off.
pub(super) fn run(server: Server, poll: Poll, handlers: usize) -> io::Result<bool> {
    let shared = Arc::new(Shared {
        poll: Mutex::new((poll, Events::with_capacity(256))),
        server: Mutex::new(server),
        turn: Condvar::new(),
    });
    let mut others = Vec::with_capacity(handlers);
    for n in 0..handlers {
        let mine = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name(format!("fcgi-{n}"))
            .spawn(move || {
                let _ = lead_or_follow(&mine);
            });
        match spawned {
            Ok(handle) => others.push(handle),
            Err(err) => {
                lock(&shared.server).stop(Err(io::Error::new(err.kind(), err.to_string())));
                shared.turn.notify_all();
                return Err(err);
            }
        }
    }
    let outcome = lead_or_follow(&shared);
    if matches!(outcome, Ok(true)) {
        for handle in others {
            let _ = handle.join();
        }
    }
    outcome
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while a lock is held (handlers run outside it, and App::handle
    // catches theirs); if one did, the state is still whole.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One thread's life: run a request when one waits and a handler slot is free, else lead
/// (wait for events) when nobody does, else wait.
fn lead_or_follow(shared: &Shared) -> io::Result<bool> {
    let mut server = lock(&shared.server);
    loop {
        if let Some(outcome) = server.outcome() {
            return outcome;
        }
        if let Some(job) = server.next_job() {
            let pool = Arc::clone(&server.pool);
            drop(server);
            let done = worker::handle(&pool, job);
            server = lock(&shared.server);
            server.give_back(done);
            continue;
        }
        let Ok(mut poller) = shared.poll.try_lock() else {
            // Someone leads: wait for work or for the leadership.
            server = shared
                .turn
                .wait(server)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let timeout = server.wait_for();
        drop(server);
        let (poll, events) = &mut *poller;
        let polled = poll.poll(events, Some(timeout));
        server = lock(&shared.server);
        match polled {
            Ok(()) => server.handle_events(events),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => server.stop(Err(err)),
        }
        server.after_events();
        drop(poller);
        if server.outcome().is_some() {
            shared.turn.notify_all();
            continue;
        }
        // This thread runs one of the requests; a follower takes each other one, and one
        // more takes the leadership.
        for _ in 0..server.runnable_jobs() {
            shared.turn.notify_one();
        }
    }
}
