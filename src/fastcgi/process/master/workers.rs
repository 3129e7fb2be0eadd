//! The master's worker processes, one slot each: starting a worker (the binary run again with
//! the listening sockets, a pipe and the scoreboard, see `upgrade::spawn`), hearing on its
//! pipe that it serves, reaping it when it dies and planning its replacement (`pool`'s
//! rules), waking the others when the accept turn was the dead worker's (`turn`), and passing
//! signals on. Only the master's thread
//! calls this, so `PR_SET_PDEATHSIG` in the workers follows the master's life.

use std::io::{self, Read};
use std::os::fd::RawFd;
use std::process::Child;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use crate::fastcgi::process::scoreboard::board::Board;
use crate::fastcgi::process::scoreboard::turn::NUDGE;
use crate::fastcgi::process::upgrade::{self, Exe};

use super::pool::{self, LogLimit, Reason};

/// The first poller token of the workers' pipes (slot `i` is `FIRST_TOKEN + i`).
pub(crate) const FIRST_TOKEN: usize = 16;

/// The limits past which a worker is recycled.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    /// `--max-requests`.
    pub(crate) max_requests: Option<u64>,
    /// `--max-rss`, in bytes.
    pub(crate) max_rss: Option<u64>,
    /// `--max-stuck` (resolved), with `--request-timeout` on.
    pub(crate) max_stuck: Option<u32>,
    /// How long a recycled worker may drain before it is killed.
    pub(crate) kill_after: Duration,
}

/// A worker process and its line on the scoreboard.
#[derive(Debug)]
pub(super) struct Worker {
    pub(super) child: Child,
    pub(super) board: usize,
    pub(super) started: Instant,
    /// Its `--max-requests`, jitter included.
    pub(super) max_requests: Option<u64>,
}

/// One slot of the pool: its worker, and the one it replaces while that one drains.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) worker: Option<Worker>,
    ready: Option<mio::unix::pipe::Receiver>,
    pub(super) serving: bool,
    /// Since when its worker serves.
    pub(super) serving_since: Option<Instant>,
    early: u32,
    /// When the next worker starts, if none runs.
    pub(super) due: Option<Instant>,
    /// The worker being recycled: it serves until `worker` does and it reached its limit,
    /// then drains.
    pub(super) outgoing: Option<Outgoing>,
}

/// A worker being recycled.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) worker: Worker,
    pub(super) reason: Reason,
    /// Since when it drains (SIGTERM was sent).
    pub(super) draining: Option<Instant>,
}

/// What a reaped worker tells the master.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Reaped {
    /// A worker died before it ever served.
    pub(crate) before_serving: bool,
    /// A worker's exit was not 0 (during a drain: the timeout cut its requests).
    pub(crate) unclean: bool,
}

/// The pool's slots and how to start a worker.
#[derive(Debug)]
pub(crate) struct Workers {
    exe: Exe,
    listeners: Vec<RawFd>,
    pub(super) slots: Vec<Slot>,
    pub(super) board: Board,
    /// Scoreboard lines no worker holds (twice as many as slots: a successor and the worker it
    /// replaces each have one).
    free_lines: Vec<usize>,
    pub(super) limits: Limits,
    log: LogLimit,
    /// Requests finished by workers that are gone.
    finished_before: u64,
    /// Workers replaced, by reason.
    pub(super) restarts: [u64; Reason::COUNT],
}

impl Workers {
    /// `count` slots, none started, each due now.
    pub(crate) fn new(
        exe: Exe,
        listeners: Vec<RawFd>,
        count: usize,
        limits: Limits,
    ) -> io::Result<Workers> {
        let now = Instant::now();
        let slots = (0..count)
            .map(|_| Slot {
                worker: None,
                ready: None,
                serving: false,
                serving_since: None,
                early: 0,
                due: Some(now),
                outgoing: None,
            })
            .collect();
        Ok(Workers {
            exe,
            listeners,
            slots,
            board: Board::create(count * 2)?,
            free_lines: (0..count * 2).rev().collect(),
            limits,
            log: LogLimit::new(10, Duration::from_secs(10), now),
            finished_before: 0,
            restarts: [0; Reason::COUNT],
        })
    }

    /// Starts the workers that are due; a start that fails is tried again after the backoff.
    pub(crate) fn start_due(&mut self, registry: &Registry, now: Instant) {
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if slot.worker.is_some() || slot.due.is_none_or(|due| due > now) {
                continue;
            }
            if let Err(err) = self.start(registry, index, now) {
                let slot = &mut self.slots[index];
                slot.early = slot.early.saturating_add(1);
                let wait = pool::backoff(slot.early).max(Duration::from_millis(100));
                slot.due = Some(now + wait);
                if let Some(left_out) = self.log.allow(now) {
                    log::error!(
                        "fastcgi master: cannot start a worker: {err}; trying again in \
                         {wait:?}{}",
                        pool::left_out_note(left_out)
                    );
                }
            }
        }
    }

    pub(super) fn start(
        &mut self,
        registry: &Registry,
        index: usize,
        now: Instant,
    ) -> io::Result<()> {
        let line = self
            .free_lines
            .pop()
            .ok_or_else(|| io::Error::other("no free scoreboard line"))?;
        // The jitter is drawn from the clock and the line (the pid is not known yet).
        let seed = nanos() ^ (line as u32).wrapping_mul(0x9E37_79B9);
        let max_requests = self.limits.max_requests.map(|n| n + pool::jitter(n, seed));
        self.board.clear(line, max_requests.unwrap_or(0));
        let spawned = upgrade::spawn(&self.exe, &self.listeners, Some((line, self.board.fd())));
        let (child, mut ready) = match spawned {
            Ok(spawned) => spawned,
            Err(err) => {
                self.free_lines.push(line);
                return Err(err);
            }
        };
        let token = Token(FIRST_TOKEN + index);
        if let Err(err) = registry.register(&mut ready, token, Interest::READABLE) {
            log::warn!("fastcgi master: worker {} pipe: {err}", child.id());
        }
        let slot = &mut self.slots[index];
        slot.worker = Some(Worker {
            child,
            board: line,
            started: now,
            max_requests,
        });
        slot.ready = Some(ready);
        slot.serving = false;
        slot.serving_since = None;
        slot.due = None;
        Ok(())
    }

    /// A worker's pipe is readable: a byte means it serves; end of file, that it died (seen
    /// when it is reaped).
    pub(crate) fn on_ready(&mut self, registry: &Registry, token: Token) {
        let Some(slot) = token
            .0
            .checked_sub(FIRST_TOKEN)
            .and_then(|index| self.slots.get_mut(index))
        else {
            return;
        };
        let Some(ready) = slot.ready.as_mut() else {
            return;
        };
        let mut byte = [0u8; 1];
        match ready.read(&mut byte) {
            Ok(n) => {
                slot.serving |= n > 0;
                if slot.serving {
                    slot.serving_since.get_or_insert_with(Instant::now);
                }
                let _ = registry.deregister(ready);
                slot.ready = None;
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                let _ = registry.deregister(ready);
                slot.ready = None;
            }
        }
    }

    /// Reaps the workers that ended; unless `stopping`, a dead worker is replaced (at once,
    /// or after the backoff of a slot whose workers die early with no request) and logged.
    pub(crate) fn reap(&mut self, registry: &Registry, now: Instant, stopping: bool) -> Reaped {
        let mut reaped = Reaped::default();
        for index in 0..self.slots.len() {
            if let Some(status) =
                try_wait(self.slots[index].outgoing.as_mut().map(|o| &mut o.worker))
                && let Some(Outgoing {
                    worker: old,
                    reason,
                    ..
                }) = self.slots[index].outgoing.take()
            {
                reaped.unclean |= stopping && !status.success();
                let (finished, held_turn) = self.retire(&old);
                log::info!(
                    "fastcgi master: worker {} (slot {index}, {}) {} after {:.1?} and \
                     {finished} requests{}",
                    old.child.id(),
                    reason.name(),
                    pool::cause(status),
                    now.saturating_duration_since(old.started),
                    pool::turn_note(held_turn),
                );
            }
            let Some(status) = try_wait(self.slots[index].worker.as_mut()) else {
                continue;
            };
            let slot = &mut self.slots[index];
            let Some(dead) = slot.worker.take() else {
                continue;
            };
            if let Some(mut ready) = slot.ready.take() {
                let _ = registry.deregister(&mut ready);
            }
            let serving = slot.serving;
            let running = self.board.running(dead.board);
            let (finished, held_turn) = self.retire(&dead);
            let pid = dead.child.id();
            let lived = now.saturating_duration_since(dead.started);
            reaped.before_serving |= !serving;
            reaped.unclean |= !pool::drained_cleanly(status, serving);
            let at_limit = status.success() && dead.max_requests.is_some_and(|m| finished >= m);
            if stopping || at_limit {
                log::info!(
                    "fastcgi master: worker {pid} (slot {index}{}) {} after {lived:.1?} and \
                     {finished} requests{}",
                    if at_limit { ", max-requests" } else { "" },
                    pool::cause(status),
                    pool::turn_note(held_turn)
                );
                if at_limit {
                    self.restarts[Reason::MaxRequests as usize] += 1;
                    self.slots[index].due = Some(now);
                }
                continue;
            }
            self.restarts[Reason::Crash as usize] += 1;
            let slot = &mut self.slots[index];
            // A worker a request killed is replaced at once (requests pace that); one that
            // died early with no request is failing by itself, and backs off.
            slot.early = if finished > 0 || !running.is_empty() {
                0
            } else {
                pool::early_deaths(slot.early, lived)
            };
            let wait = pool::backoff(slot.early);
            slot.due = Some(now + wait);
            if let Some(left_out) = self.log.allow(now) {
                log::error!(
                    "fastcgi master: worker {pid} (slot {index}) {} after {lived:.1?} and \
                     {finished} requests, {}{}; {}{}",
                    pool::cause(status),
                    pool::running_note(&running),
                    pool::turn_note(held_turn),
                    pool::replacement(wait),
                    pool::left_out_note(left_out)
                );
            }
        }
        self.board.publish(self.finished_before, &self.restarts);
        reaped
    }

    /// A worker is gone: its requests and status-page counters are added to the pool's, its
    /// line freed, its accept turn handed on; the requests it finished, and whether it held
    /// the turn (for its line in the log).
    fn retire(&mut self, worker: &Worker) -> (u64, bool) {
        let finished = self.board.requests(worker.board);
        self.finished_before += finished;
        self.board.fold(worker.board);
        let held_turn = self.board.release_turn(worker.board);
        if held_turn {
            // It held the accept turn: the first worker the nudge wakes takes it.
            self.signal(NUDGE);
        }
        self.board.clear(worker.board, 0);
        self.free_lines.push(worker.board);
        (finished, held_turn)
    }

    fn children(&self) -> impl Iterator<Item = &Child> {
        self.slots.iter().flat_map(|slot| {
            let current = slot.worker.as_ref().map(|w| &w.child);
            let outgoing = slot.outgoing.as_ref().map(|o| &o.worker.child);
            current.into_iter().chain(outgoing)
        })
    }

    /// Whether every slot's worker serves.
    pub(crate) fn all_serving(&self) -> bool {
        self.slots
            .iter()
            .all(|slot| slot.worker.is_some() && slot.serving)
    }

    /// Whether no worker runs any more.
    pub(crate) fn none_running(&self) -> bool {
        self.children().next().is_none()
    }

    /// When the next replacement is due, if one is waiting.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|slot| slot.worker.is_none())
            .filter_map(|slot| slot.due)
            .min()
    }

    /// Sends `signal` to every running worker.
    pub(crate) fn signal(&self, signal: libc::c_int) {
        for child in self.children() {
            signal_child(child, signal);
        }
    }

    /// No more replacements: the pool is stopping.
    pub(crate) fn stop_replacing(&mut self) {
        for slot in &mut self.slots {
            slot.due = None;
        }
    }

    /// Kills and reaps every worker still running (the master is giving up).
    pub(crate) fn kill_all(&mut self) {
        self.stop_replacing();
        for slot in &mut self.slots {
            let outgoing = slot.outgoing.take().map(|o| o.worker);
            for mut worker in slot.worker.take().into_iter().chain(outgoing) {
                let _ = worker.child.kill();
                let _ = worker.child.wait();
            }
        }
    }
}

/// The exit status of a worker that ended, if it did.
fn try_wait(worker: Option<&mut Worker>) -> Option<std::process::ExitStatus> {
    let worker = worker?;
    match worker.child.try_wait() {
        Ok(status) => status,
        Err(err) => {
            log::warn!(
                "fastcgi master: waiting for worker {}: {err}",
                worker.child.id()
            );
            None
        }
    }
}

pub(super) fn signal_child(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill sends a signal to a child we have not reaped yet, so its pid is still
        // ours.
        unsafe { libc::kill(pid, signal) };
    }
}

/// The clock's nanoseconds, to vary the jitter between workers started in one turn.
fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}
