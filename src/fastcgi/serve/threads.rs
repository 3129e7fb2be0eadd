//! The server's threads, leader/follower: one thread at a time (the leader) waits for socket
//! events and handles them under the server's lock; when that completes a request it leaves
//! the leadership free and runs the handler itself, so the common request crosses no thread,
//! then takes the leadership back. A watcher thread gives a free leadership to a waiting
//! follower after 1 ms, so a slow handler never keeps the sockets unwatched. Handlers run at
//! most `--workers` at once; there is one thread more, so someone always watches the sockets
//! (timers, 503 after --queue-wait, accepting) even when every handler is busy. A thread back
//! from a handler gives the connection back itself and drives it on (the next request may
//! already be there). With `--request-timeout`, a handler stuck past it is replaced by a new
//! thread (see `running`); when it comes back its thread ends. The process's main thread
//! runs no handler: it waits for the server to stop, so a handler stuck forever cannot keep
//! the process from exiting.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mio::{Events, Poll};

use crate::fastcgi::serve::server::Server;
use crate::fastcgi::work::job::{Done, Job};
use crate::fastcgi::work::run;

/// How long the leadership may stay free while its last holder runs a handler before the
/// watcher gives it to a waiting thread. Most handlers take microseconds: their thread takes
/// the leadership back itself, and no other thread is woken for the request.
const HANDOFF: Duration = Duration::from_millis(1);
/// The watcher sleeps until woken once the leadership has not been left free for this long.
const WATCH_LINGER: Duration = Duration::from_millis(50);

/// What the threads share: the poller (held by the leader) and the server.
struct Shared {
    poll: Mutex<(Poll, Events)>,
    server: Mutex<Server>,
    /// Followers wait here for a request to run or the leadership to take.
    turn: Condvar,
    /// The watcher waits here while nothing runs.
    watch: Condvar,
    /// CPUs this process may run on: more requests than that at once are not woken
    /// followers for (they would only take turns on the same CPUs); the leader runs them one
    /// after another, and the watcher brings followers in when one takes its time.
    cpus: usize,
    /// The main thread waits here for the server to stop.
    stopped: Condvar,
}

/// Runs the server on `handlers + 1` threads until it stops (this one waits): `true` after a
/// clean drain, `false` when the shutdown timeout cut requests off.
pub(crate) fn run(server: Server, poll: Poll, handlers: usize) -> io::Result<bool> {
    let shared = Arc::new(Shared {
        poll: Mutex::new((poll, Events::with_capacity(256))),
        server: Mutex::new(server),
        turn: Condvar::new(),
        watch: Condvar::new(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        stopped: Condvar::new(),
    });
    let watcher = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("fcgi-watch".into())
            .spawn(move || watch(&shared))?
    };
    let mut others = Vec::with_capacity(handlers + 1);
    for n in 0..=handlers {
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
    let outcome = {
        let mut server = lock(&shared.server);
        loop {
            if let Some(outcome) = server.outcome() {
                break outcome;
            }
            server = shared
                .stopped
                .wait(server)
                .unwrap_or_else(PoisonError::into_inner);
        }
    };
    shared.turn.notify_all();
    shared.watch.notify_all();
    // A handler still stuck past --request-timeout would hold a join forever.
    let stuck = lock(&shared.server)
        .running
        .as_ref()
        .is_some_and(|r| r.stuck > 0);
    if matches!(outcome, Ok(true)) && !stuck {
        for handle in others {
            let _ = handle.join();
        }
        let _ = watcher.join();
    }
    outcome
}

/// Hands the leadership to a waiting thread when it has stayed free for [`HANDOFF`] (a
/// handler that takes its time); sleeps while nothing leaves it free.
fn watch(shared: &Shared) {
    let mut server = lock(&shared.server);
    while server.outcome().is_none() {
        if server
            .crew
            .leaderless_since()
            .is_some_and(|since| since.elapsed() >= HANDOFF)
        {
            // Until a follower takes it (one may be running a request just taken instead).
            shared.turn.notify_one();
        }
        if server.crew.last_leaderless().elapsed() < WATCH_LINGER {
            server = shared
                .watch
                .wait_timeout(server, HANDOFF)
                .map_or_else(|err| err.into_inner().0, |(guard, _)| guard);
        } else {
            server.crew.set_watcher_asleep(true);
            server = shared
                .watch
                .wait(server)
                .unwrap_or_else(PoisonError::into_inner);
            server.crew.set_watcher_asleep(false);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never happens while a lock is held (handlers run outside it, and App::handle
    // catches theirs); if one did, the state is still whole.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts a thread in place of one stuck in a handler past --request-timeout.
fn spawn_replacement(shared: &Arc<Shared>) {
    let mine = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("fcgi-r".into())
        .spawn(move || {
            let _ = lead_or_follow(&mine);
        });
    if let Err(err) = spawned {
        log::error!("cannot start a thread in place of a stuck handler: {err}");
    }
}

/// One thread's life: run a request when one waits and a handler slot is free, else lead
/// (wait for events) when nobody does, else wait.
fn lead_or_follow(shared: &Arc<Shared>) -> io::Result<bool> {
    let mut server = lock(&shared.server);
    loop {
        if let Some(outcome) = server.outcome() {
            shared.stopped.notify_all();
            return outcome;
        }
        if server.crew.take_excess() {
            // A stuck handler came back: the pool is one thread over its size.
            return Ok(true);
        }
        if let Some(job) = server.next_job() {
            let pool = Arc::clone(&server.pool);
            drop(server);
            let done = run::handle(&pool, job);
            server = lock(&shared.server);
            // A thread replaced while stuck ends at the top of the loop.
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
        server.crew.lead();
        let timeout = server.wait_for();
        drop(server);
        let (poll, events) = &mut *poller;
        let polled = poll.poll(events, Some(timeout));
        server = lock(&shared.server);
        server.clock.read();
        match polled {
            Ok(()) => server.handle_events(events),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => server.stop(Err(err)),
        }
        server.after_events();
        drop(poller);
        for _ in 0..server.crew.take_spawns() {
            spawn_replacement(shared);
        }
        if server.outcome().is_some() {
            shared.turn.notify_all();
            shared.watch.notify_all();
            shared.stopped.notify_all();
            continue;
        }
        // This thread runs one of the requests and a follower each other one, up to one
        // thread per CPU (the rest wait for the first free thread, or the watcher). The leadership
        // stays free: this thread takes it back after a quick handler, and the watcher gives
        // it to a follower if the handler takes longer.
        let runnable = server.runnable_jobs();
        if runnable > 0 {
            for _ in 1..runnable.min(shared.cpus) {
                shared.turn.notify_one();
            }
            let now = server.clock.now();
            if server.crew.leave_leadership(now) {
                shared.watch.notify_one();
            }
        }
    }
}

/// What the threads ask of the server: requests to run, connections to give back, the end.
impl Server {
    /// Stops every thread: `Ok(true)` a clean drain, `Ok(false)` requests cut off.
    pub(crate) fn stop(&mut self, outcome: io::Result<bool>) {
        self.crew.stop(outcome);
    }

    /// Whether the server has stopped, and how.
    pub(crate) fn outcome(&self) -> Option<io::Result<bool>> {
        self.crew.outcome()
    }

    /// Requests that may start now.
    pub(crate) fn runnable_jobs(&self) -> usize {
        self.ready.len().min(self.crew.free())
    }

    /// The oldest request waiting, when a handler slot is free (it is then taken).
    pub(crate) fn next_job(&mut self) -> Option<Job> {
        loop {
            if self.crew.free() == 0 {
                return None;
            }
            let mut job = self.ready.pop()?;
            if job.received != self.clock.now() {
                // Queued before this turn: how long it waited is read now (a request taken
                // in the turn that completed it costs no clock read). Past --queue-wait it
                // gets its 503 here, and no handler runs it.
                let now = self.clock.read();
                if now.saturating_duration_since(job.received) > self.settings.queue_wait {
                    self.answer_busy(job);
                    continue;
                }
            }
            self.crew.take_slot();
            self.start_run(&mut job);
            return Some(job);
        }
    }

    /// A handler finished: its slot is free again, and the connection comes back with what
    /// is left to send; it is driven on at once (its next request may be there already).
    /// After a timeout the connection is the event side's already: the thread's copy of it
    /// is closed. A thread replaced while stuck is counted as one too many, to end.
    pub(crate) fn give_back(&mut self, done: Done) {
        let slot_free = self.end_run(done.ticket);
        if slot_free {
            self.crew.give_slot();
            self.publish_load();
        }
        if done.late {
            drop(done.stream);
            return;
        }
        self.give_back_connection(done);
    }

    fn give_back_connection(&mut self, done: Done) {
        let token = done.token;
        if !self.table.holds(token) {
            return;
        }
        let Some(stream) = done.stream else {
            self.pool.output_budget.release(done.held);
            // The handler's thread closed the socket, which also took it out of epoll.
            self.table.take(token);
            self.wake_leader_if_done();
            return;
        };
        let Some(slot) = self.table.get_mut(token) else {
            self.pool.output_budget.release(done.held);
            return;
        };
        // Time passed while the handler ran: the turn's clock is read again.
        self.clock.read();
        slot.stream = Some(stream);
        slot.fresh = false;
        if done.before_drain {
            slot.answered_before_drain();
        }
        self.admission.idle_returned();
        if done.held > 0 {
            // The handler's thread sent what the socket took; the event side sends the rest.
            slot.conn.push_output_vec(done.leftover);
            slot.out_held += done.held;
            slot.last_write = self.clock.now();
        }
        match slot.conn.response_done() {
            Ok(()) => self.pump(token),
            Err(err) => self.close(token, Some(err.to_string())),
        }
        if self.table.has_again() {
            let _ = self.pool.waker.wake();
        }
        self.wake_leader_if_done();
    }

    /// The last connection closed during a shutdown: the leader need not wait for a timer.
    fn wake_leader_if_done(&self) {
        if self.lifecycle.shutdown().is_some() && self.table.live() == 0 {
            let _ = self.pool.waker.wake();
        }
    }
}
