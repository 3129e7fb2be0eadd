//! Zero-downtime upgrade, the old process's side (SIGUSR2). The model: the server starts a
//! new copy of the binary at the path it was started from (recorded at start, so a newer
//! build put there by `cargo install`, `install` or a rename runs), with the same arguments
//! and environment, and hands it the listening sockets; the new one takes them instead of
//! binding, and once it serves it says so through a pipe; then the old one stops accepting
//! and drains exactly as on SIGTERM, and exits 0. The kernel's listen queue is shared by
//! both processes meanwhile, so no connection is refused; nothing is ever unlinked or rebound.
//!
//! How the sockets and the pipe cross `exec`: the child inherits duplicates without
//! FD_CLOEXEC, which the old process closes as soon as the child is started (a socket on fd 0,
//! as spawn-fcgi and mod_fcgid pass it, becomes the child's fd 0 again). Three variables name
//! them: [`FDS_VAR`] the listeners, [`READY_VAR`] the write end of the pipe, and
//! [`PARENT_VAR`] the old process's pid, which the new one checks against its parent so that
//! a process the app starts later never takes them for its own. systemd's LISTEN_FDS cannot
//! be reused: its LISTEN_PID must name the child, which only exists once it is started. With
//! nothing to run between fork and exec, std starts the child with posix_spawn (vfork-like,
//! its cost independent of this process's size), on the leader, under the server's lock.
//! A process a handler starts during that moment (well under a millisecond) would inherit
//! the duplicates too.
//!
//! The old process never blocks on the new one: the pipe is on the poller. A byte on it means
//! serving; end of file before that means the new process died (its exit status is logged
//! when it is reaped); no byte within `--upgrade-timeout` (30 s) means it hangs, and it is killed.
//! In every failure the old process keeps serving and logs an ERROR; a SIGUSR2 while an
//! upgrade is under way is ignored with a log line. A failed child is reaped on the next
//! timer ticks; a successful one outlives the old process and is re-parented.
//!
//! The new process's side (taking the sockets, the pid file, sd_notify, the byte on the
//! pipe) is in `announce`.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use mio::{Interest, Registry, Token};

pub(crate) use crate::fastcgi::net::inherit::{FDS_VAR, PARENT_VAR};
use crate::fastcgi::net::listen::Listener;

use super::scoreboard::layout::SCOREBOARD_VAR;
use super::worker::WORKER_VAR;

/// The write end of the pipe on which the new process says it serves.
pub const READY_VAR: &str = "PYCNIC_UPGRADE_READY";
/// The poller's token for the pipe.
pub(crate) const READY_TOKEN: Token = Token(2);

/// How to start this program again: the path it was started from and its arguments, recorded
/// at start. `/proc/self/exe` is no use later: after the file is replaced it names the old,
/// deleted inode.
#[derive(Debug, Clone)]
pub(crate) struct Exe {
    path: PathBuf,
    args: Vec<OsString>,
}

impl Exe {
    /// argv[0] made absolute when it holds a `/` (a symlink stays a symlink, so switching it
    /// to a new build works), else the file the kernel ran (found on PATH).
    pub(crate) fn record() -> Exe {
        let args: Vec<OsString> = std::env::args_os().collect();
        let from_argv = args
            .first()
            .map(PathBuf::from)
            .filter(|p| p.as_os_str().as_encoded_bytes().contains(&b'/'))
            .and_then(|p| std::path::absolute(p).ok());
        let path = from_argv
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_default();
        Exe { path, args }
    }
}

/// An upgrade under way: the new process and the pipe it will write to.
#[derive(Debug)]
pub(crate) struct Upgrade {
    child: Child,
    ready: mio::unix::pipe::Receiver,
    deadline: Instant,
}

/// Listeners' descriptors, as [`FDS_VAR`] names them.
pub(crate) fn listener_fds(listeners: &[Listener]) -> Vec<RawFd> {
    listeners
        .iter()
        .map(|l| match l {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l, _) => l.as_raw_fd(),
        })
        .collect()
}

/// A duplicate of `fd` that a child inherits (no FD_CLOEXEC), numbered 3 or more.
fn inheritable(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD on a descriptor this process owns returns a new one, which we own.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD, 3) };
    if dup == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Starts the new process with the listeners and the pipe's write end, and the systemd
/// variables meant for this process removed; `worker` (a slot and the scoreboard's
/// descriptor) makes it a worker of this process (see `master`), else it is a new copy of
/// this one (an upgrade). The child gets duplicates without FD_CLOEXEC,
/// closed here as soon as it is started (a socket on fd 0 goes to its fd 0, as its standard
/// input); with no code to run between fork and exec, std starts it with posix_spawn, which
/// costs the same whatever this process's size (a fork copies its page tables).
pub(crate) fn spawn(
    exe: &Exe,
    listeners: &[RawFd],
    worker: Option<(usize, RawFd)>,
) -> io::Result<(Child, mio::unix::pipe::Receiver)> {
    let (sender, receiver) = mio::unix::pipe::new()?;
    let ready = inheritable(sender.as_raw_fd())?;
    let mut passed = Vec::with_capacity(listeners.len());
    let mut names = Vec::with_capacity(listeners.len());
    let mut command = Command::new(&exe.path);
    for &fd in listeners {
        if fd == 0 {
            // SAFETY: fd 0 is a listener this process holds open for the whole call.
            let stdin = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?;
            command.stdin(Stdio::from(stdin));
            names.push("0".to_string());
        } else {
            let dup = inheritable(fd)?;
            names.push(dup.as_raw_fd().to_string());
            passed.push(dup);
        }
    }
    if let Some(arg0) = exe.args.first() {
        command.arg0(arg0);
    }
    command
        .args(exe.args.iter().skip(1))
        .env(FDS_VAR, names.join(","))
        .env(READY_VAR, ready.as_raw_fd().to_string())
        .env(PARENT_VAR, std::process::id().to_string())
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_FDNAMES");
    let board = match worker {
        Some((slot, board)) => {
            let board = inheritable(board)?;
            command
                .env(WORKER_VAR, slot.to_string())
                .env(SCOREBOARD_VAR, board.as_raw_fd().to_string());
            Some(board)
        }
        None => {
            command.env_remove(WORKER_VAR).env_remove(SCOREBOARD_VAR);
            None
        }
    };
    let child = command.spawn();
    // Only the child holds the write end now: its exit is end of file on the pipe.
    drop((passed, ready, sender, board));
    Ok((child?, receiver))
}

/// The upgrades of one process: how to start its new copy, the one under way, and the
/// processes of failed ones still to reap.
#[derive(Debug)]
pub(crate) struct Upgrader {
    exe: Exe,
    timeout: std::time::Duration,
    under_way: Option<Upgrade>,
    reap: Vec<Child>,
}

impl Upgrader {
    /// No upgrade yet; `exe` is how to start the new copy, `timeout` `--upgrade-timeout`.
    pub(crate) fn new(exe: Exe, timeout: std::time::Duration) -> Upgrader {
        Upgrader {
            exe,
            timeout,
            under_way: None,
            reap: Vec::new(),
        }
    }

    /// SIGUSR2: start the new process on the same listeners; the pipe tells the rest.
    pub(crate) fn start(&mut self, registry: &Registry, listeners: &[Listener]) {
        if let Some(upgrade) = &self.under_way {
            log::warn!(
                "fastcgi: SIGUSR2: an upgrade is under way (new process {}); ignored",
                upgrade.child.id()
            );
            return;
        }
        let path = self.exe.path.display().to_string();
        let began = Instant::now();
        let started = match spawn(&self.exe, &listener_fds(listeners), None) {
            Ok((child, mut ready)) => {
                match registry.register(&mut ready, READY_TOKEN, Interest::READABLE) {
                    Ok(()) => Ok((child, ready)),
                    Err(err) => {
                        self.reap.push(kill(child));
                        Err(err)
                    }
                }
            }
            Err(err) => Err(err),
        };
        match started {
            Ok((child, ready)) => {
                log::info!(
                    "fastcgi: SIGUSR2: upgrading: started {path} as pid {} (in {:?}); this \
                     process (pid {}) serves until it does",
                    child.id(),
                    began.elapsed(),
                    std::process::id()
                );
                self.under_way = Some(Upgrade {
                    child,
                    ready,
                    deadline: Instant::now() + self.timeout,
                });
            }
            Err(err) => {
                log::error!("fastcgi: upgrade failed: cannot start {path}: {err}; still serving");
            }
        }
    }

    /// The pipe is readable: a byte (the new process serves: the listeners are its now, and
    /// this returns true) or end of file (it died).
    pub(crate) fn on_ready(&mut self, registry: &Registry, listeners: &mut [Listener]) -> bool {
        let Some(upgrade) = self.under_way.as_mut() else {
            return false;
        };
        let mut byte = [0u8; 1];
        match upgrade.ready.read(&mut byte) {
            Ok(0) => self.failed(registry, "exited before serving"),
            Ok(_) => return self.hand_over(registry, listeners),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => self.failed(registry, &format!("cannot be heard from: {err}")),
        }
        false
    }

    /// Timers: an upgrade that took too long, failed children to reap.
    pub(crate) fn check(&mut self, registry: &Registry) {
        if self
            .under_way
            .as_ref()
            .is_some_and(|u| Instant::now() >= u.deadline)
        {
            let within = self.timeout;
            self.failed(
                registry,
                &format!("is not serving within {within:?} (--upgrade-timeout); killed"),
            );
        }
        self.reap.retain_mut(|child| match child.try_wait() {
            Ok(Some(status)) => {
                log::info!(
                    "fastcgi: the failed upgrade's process {} {status}",
                    child.id()
                );
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
    }

    /// SIGTERM during an upgrade: the new process is killed, so that a stop stops everything.
    pub(crate) fn cancel(&mut self, registry: &Registry) {
        let Some(mut upgrade) = self.under_way.take() else {
            return;
        };
        let _ = registry.deregister(&mut upgrade.ready);
        log::warn!(
            "fastcgi: shutting down during an upgrade: killed the new process {}",
            upgrade.child.id()
        );
        self.reap.push(kill(upgrade.child));
    }

    /// Whether the timers have an upgrade to watch or a child to reap.
    pub(crate) fn pending(&self) -> bool {
        self.under_way.is_some() || !self.reap.is_empty()
    }

    fn failed(&mut self, registry: &Registry, why: &str) {
        let Some(mut upgrade) = self.under_way.take() else {
            return;
        };
        let _ = registry.deregister(&mut upgrade.ready);
        let pid = upgrade.child.id();
        let status = match upgrade.child.try_wait() {
            Ok(Some(status)) => format!(" ({status})"),
            _ => String::new(),
        };
        log::error!(
            "fastcgi: upgrade failed: the new process {} (pid {pid}) {why}{status}; this \
             process (pid {}) keeps serving",
            self.exe.path.display(),
            std::process::id()
        );
        self.reap.push(kill(upgrade.child));
    }

    /// The new process serves: the unix socket files (and the pid file, which names the new
    /// process now) are left in place; the caller stops accepting and drains as on SIGTERM.
    fn hand_over(&mut self, registry: &Registry, listeners: &mut [Listener]) -> bool {
        let Some(mut upgrade) = self.under_way.take() else {
            return false;
        };
        let _ = registry.deregister(&mut upgrade.ready);
        log::info!(
            "fastcgi: upgrade: pid {} serves now; pid {} stops accepting and drains",
            upgrade.child.id(),
            std::process::id()
        );
        for listener in listeners {
            if let Listener::Unix(_, path) = listener {
                *path = None;
            }
        }
        // The new process outlives this one (re-parented), so it is neither waited for nor
        // killed: dropping a `Child` does neither.
        drop(upgrade.child);
        true
    }
}

/// Kills a child that is still running (it is reaped by the timers).
fn kill(mut child: Child) -> Child {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill();
    }
    child
}
