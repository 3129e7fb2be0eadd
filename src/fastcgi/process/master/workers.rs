//! The master's worker processes, one slot each: starting a worker (the binary run again with
//! the listening sockets and a pipe, see `upgrade::spawn`), hearing on its pipe that it
//! serves, reaping it when it dies and planning its replacement (`pool`'s rules), and passing
//! signals on. Only the master's thread calls this, so `PR_SET_PDEATHSIG` in the workers
//! follows the master's life.

use std::io::{self, Read};
use std::os::fd::RawFd;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use crate::fastcgi::process::scoreboard::Board;
use crate::fastcgi::process::upgrade::{self, Exe};

use super::pool::{self, LogLimit};

/// The first poller token of the workers' pipes (slot `i` is `FIRST_TOKEN + i`).
pub(crate) const FIRST_TOKEN: usize = 16;

/// One slot of the pool.
#[derive(Debug)]
struct Slot {
    child: Option<Child>,
    ready: Option<mio::unix::pipe::Receiver>,
    started: Instant,
    serving: bool,
    early: u32,
    /// When the next worker starts, if none runs.
    due: Option<Instant>,
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
    slots: Vec<Slot>,
    board: Board,
    log: LogLimit,
    /// Requests finished by workers that are gone.
    finished_before: u64,
}

impl Workers {
    /// `count` slots, none started, each due now.
    pub(crate) fn new(exe: Exe, listeners: Vec<RawFd>, count: usize) -> io::Result<Workers> {
        let now = Instant::now();
        let slots = (0..count)
            .map(|_| Slot {
                child: None,
                ready: None,
                started: now,
                serving: false,
                early: 0,
                due: Some(now),
            })
            .collect();
        Ok(Workers {
            exe,
            listeners,
            slots,
            board: Board::create(count)?,
            log: LogLimit::new(10, Duration::from_secs(10), now),
            finished_before: 0,
        })
    }

    /// Starts the workers that are due; a start that fails is tried again after the backoff.
    pub(crate) fn start_due(&mut self, registry: &Registry, now: Instant) {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.child.is_some() || slot.due.is_none_or(|due| due > now) {
                continue;
            }
            self.board.clear(index);
            match upgrade::spawn(&self.exe, &self.listeners, Some((index, self.board.fd()))) {
                Ok((child, mut ready)) => {
                    let token = Token(FIRST_TOKEN + index);
                    if let Err(err) = registry.register(&mut ready, token, Interest::READABLE) {
                        log::warn!("fastcgi master: worker {} pipe: {err}", child.id());
                    }
                    slot.child = Some(child);
                    slot.ready = Some(ready);
                    slot.started = now;
                    slot.serving = false;
                    slot.due = None;
                }
                Err(err) => {
                    slot.early = slot.early.saturating_add(1);
                    let wait = pool::backoff(slot.early).max(Duration::from_millis(100));
                    slot.due = Some(now + wait);
                    if let Some(left_out) = self.log.allow(now) {
                        log::error!(
                            "fastcgi master: cannot start a worker: {err}; trying again in \
                             {wait:?}{}",
                            left_out_note(left_out)
                        );
                    }
                }
            }
        }
    }

    /// A worker's pipe is readable: a byte means it serves; end of file, that it died (its
    /// death is seen when it is reaped).
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

    /// Reaps the workers that died; unless `stopping`, each is replaced (at once, or after
    /// the backoff of a slot whose workers die early) and its death logged.
    pub(crate) fn reap(&mut self, registry: &Registry, now: Instant, stopping: bool) -> Reaped {
        let mut reaped = Reaped::default();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(child) = slot.child.as_mut() else {
                continue;
            };
            let status = match child.try_wait() {
                Ok(Some(status)) => status,
                Ok(None) => continue,
                Err(err) => {
                    log::warn!("fastcgi master: waiting for worker {}: {err}", child.id());
                    continue;
                }
            };
            let pid = child.id();
            slot.child = None;
            if let Some(mut ready) = slot.ready.take() {
                let _ = registry.deregister(&mut ready);
            }
            let lived = now.saturating_duration_since(slot.started);
            reaped.before_serving |= !slot.serving;
            reaped.unclean |= !status.success();
            let finished = self.board.requests(index);
            self.finished_before += finished;
            let running = self.board.running(index);
            if stopping {
                log::info!(
                    "fastcgi master: worker {pid} (slot {index}) {} after {lived:.1?} and \
                     {finished} requests",
                    pool::cause(status)
                );
                continue;
            }
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
                     {finished} requests, {}; {}{}",
                    pool::cause(status),
                    pool::running_note(&running),
                    replacement(wait),
                    left_out_note(left_out)
                );
            }
        }
        reaped
    }

    /// Whether every slot's worker serves.
    pub(crate) fn all_serving(&self) -> bool {
        self.slots
            .iter()
            .all(|slot| slot.child.is_some() && slot.serving)
    }

    /// Whether no worker runs any more.
    pub(crate) fn none_running(&self) -> bool {
        self.slots.iter().all(|slot| slot.child.is_none())
    }

    /// When the next replacement is due, if one is waiting.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|slot| slot.child.is_none())
            .filter_map(|slot| slot.due)
            .min()
    }

    /// Sends `signal` to every running worker.
    pub(crate) fn signal(&self, signal: libc::c_int) {
        for child in self.slots.iter().filter_map(|slot| slot.child.as_ref()) {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill sends a signal to a child we have not reaped yet, so its pid is
                // still ours.
                unsafe { libc::kill(pid, signal) };
            }
        }
    }

    /// No more replacements: the pool is stopping.
    pub(crate) fn stop_replacing(&mut self) {
        for slot in &mut self.slots {
            slot.due = None;
        }
    }

    /// Kills and reaps every worker still running (the master is giving up).
    pub(crate) fn kill_all(&mut self) -> Option<ExitStatus> {
        self.stop_replacing();
        let mut last = None;
        for child in self.slots.iter_mut().filter_map(|slot| slot.child.take()) {
            let mut child = child;
            let _ = child.kill();
            last = child.wait().ok();
        }
        last
    }
}

fn replacement(wait: Duration) -> String {
    if wait.is_zero() {
        "starting another now".to_string()
    } else {
        format!("it keeps dying early: starting another in {wait:?}")
    }
}

fn left_out_note(left_out: u64) -> String {
    if left_out == 0 {
        String::new()
    } else {
        format!(" ({left_out} such lines left out)")
    }
}
