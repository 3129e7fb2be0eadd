//! The master of a pool (`--processes` 2 or more). **The master owns the listening sockets and
//! the worker processes; a worker owns connections and threads.** The master never reads a
//! request and never runs the app: it holds the sockets (bound, inherited or handed over),
//! starts each worker by running the binary again with them (`workers`; a worker takes them as
//! an upgrade's new process does and says on a pipe that it serves), and announces the pool
//! (pid file, sd_notify, the old master of an upgrade) once every worker serves. Then it
//! waits on one thread for signals and for its children: a worker that dies is replaced
//! (`pool`'s backoff and log limit; the `scoreboard` tells what it was running), one at
//! `--max-requests`, past `--max-rss` or with `--max-stuck` stuck threads is recycled (its
//! successor serves first), SIGUSR1 is passed on, SIGTERM/SIGINT drains every worker
//! (exit 0 when all drained cleanly), SIGUSR2 starts a new master on the same sockets and
//! drains this pool once it serves (`lifecycle`'s upgrade, unchanged). Re-exec rather than
//! fork: this process may have threads by now (the app is built), and a fork copies only one
//! of them, with the others' locks held forever. It imports nothing of the event loop.

mod pool;
mod recycle;
mod workers;

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::SIGCHLD;

use crate::fastcgi::config::options::FastcgiOptions;
use crate::fastcgi::net::listen::Listener;
use crate::fastcgi::process::announce::{self, Handover};
use crate::fastcgi::process::lifecycle::{Asked, Lifecycle, READY_TOKEN, SIGNALS};
use crate::fastcgi::process::upgrade::{self, Exe};

use workers::{FIRST_TOKEN, Limits, Workers};

/// The poller's token for the SIGCHLD pipe.
const CHILDREN: Token = Token(3);
/// The longest the master sleeps: a death whose SIGCHLD merged with another is seen then.
const TICK: Duration = Duration::from_millis(250);
/// The longest it sleeps with `--max-requests` or `--max-rss`: how often it reads them.
const LIMITS_TICK: Duration = Duration::from_millis(50);
/// How long after `--shutdown-timeout` a worker that still runs is killed.
const KILL_AFTER: Duration = Duration::from_secs(5);

/// Runs the master over `count` workers on `listeners` until SIGTERM or SIGINT (or an upgrade
/// hands the pool over); 0 after a clean drain of every worker, 1 otherwise.
pub(crate) fn run(
    exe: Exe,
    options: &FastcgiOptions,
    listeners: Vec<Listener>,
    handover: Option<Handover>,
    count: usize,
) -> ExitCode {
    match Master::new(exe, options, listeners, handover, count).and_then(Master::serve) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            log::error!("fastcgi master: {err}");
            ExitCode::FAILURE
        }
    }
}

struct Master<'a> {
    options: &'a FastcgiOptions,
    poll: Poll,
    lifecycle: Lifecycle,
    children: mio::net::UnixStream,
    listeners: Vec<Listener>,
    handover: Option<Handover>,
    workers: Workers,
    announced: Option<Option<announce::PidFile>>,
    /// The drain under way: when its workers are killed.
    stopping: Option<Instant>,
    clean: bool,
}

impl<'a> Master<'a> {
    fn new(
        exe: Exe,
        options: &'a FastcgiOptions,
        listeners: Vec<Listener>,
        handover: Option<Handover>,
        count: usize,
    ) -> io::Result<Master<'a>> {
        let poll = Poll::new()?;
        let lifecycle = Lifecycle::new(
            poll.registry(),
            exe.clone(),
            options.shutdown_timeout,
            options.upgrade_timeout,
        )?;
        let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        signal_hook::low_level::pipe::register(SIGCHLD, writer)?;
        let mut children = mio::net::UnixStream::from_std(reader);
        poll.registry()
            .register(&mut children, CHILDREN, Interest::READABLE)?;
        let fds = upgrade::listener_fds(&listeners);
        log::info!(
            "fastcgi master: pid {} starts {count} worker processes",
            std::process::id()
        );
        Ok(Master {
            options,
            poll,
            lifecycle,
            children,
            listeners,
            handover,
            workers: Workers::new(
                exe,
                fds,
                count,
                Limits {
                    max_requests: options.max_requests.map(|n| n as u64),
                    max_rss: options.max_rss,
                    max_stuck: options.request_timeout.map(|_| {
                        let max = options.max_stuck.unwrap_or_else(|| options.worker_count());
                        u32::try_from(max).unwrap_or(u32::MAX)
                    }),
                    kill_after: options.shutdown_timeout + KILL_AFTER,
                },
            )?,
            announced: None,
            stopping: None,
            clean: true,
        })
    }

    /// The master's loop: `true` when every worker drained cleanly.
    fn serve(mut self) -> io::Result<bool> {
        let mut events = Events::with_capacity(64);
        loop {
            let now = Instant::now();
            if self.stopping.is_none() {
                self.workers.start_due(self.poll.registry(), now);
            }
            let tick = if self.options.max_requests.is_some()
                || self.options.max_rss.is_some()
                || self.options.request_timeout.is_some()
            {
                LIMITS_TICK
            } else {
                TICK
            };
            let wait = self
                .workers
                .next_due()
                .map_or(tick, |due| due.saturating_duration_since(now).min(tick));
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            for event in &events {
                match event.token() {
                    SIGNALS => {
                        let asked = self
                            .lifecycle
                            .on_signal(self.poll.registry(), &self.listeners);
                        self.act(asked);
                    }
                    READY_TOKEN => {
                        let asked = self
                            .lifecycle
                            .on_upgrade_ready(self.poll.registry(), &mut self.listeners);
                        self.act(asked);
                    }
                    CHILDREN => {
                        let mut drain = [0u8; 64];
                        while matches!((&self.children).read(&mut drain), Ok(n) if n > 0) {}
                    }
                    token if token.0 >= FIRST_TOKEN => {
                        self.workers.on_ready(self.poll.registry(), token);
                    }
                    _ => {}
                }
            }
            self.lifecycle.tick(self.poll.registry());
            let now = Instant::now();
            let stopping = self.stopping.is_some();
            let reaped = self.workers.reap(self.poll.registry(), now, stopping);
            if stopping {
                self.clean &= !reaped.unclean;
                if self.workers.none_running() {
                    break;
                }
                if self.stopping.is_some_and(|kill_at| now >= kill_at) {
                    log::warn!("fastcgi master: workers still running past the drain: killed");
                    self.workers.signal(libc::SIGKILL);
                    self.stopping = Some(now + TICK);
                }
                continue;
            }
            if reaped.before_serving && self.announced.is_none() {
                log::error!("fastcgi master: a worker exited before it served: giving up");
                self.workers.kill_all();
                return Ok(false);
            }
            if self.announced.is_none() && self.workers.all_serving() {
                self.announce()?;
            }
            if self.announced.is_some() {
                self.workers.recycle(self.poll.registry(), now);
            }
        }
        if let Some(Some(pid_file)) = self.announced.take() {
            pid_file.remove_if_ours();
        }
        Ok(self.clean)
    }

    /// Every worker serves: the pool is announced as one process would be.
    fn announce(&mut self) -> io::Result<()> {
        let pid_file = announce::announce(self.options, &mut self.listeners, self.handover.take())
            .inspect_err(|_| {
                self.workers.kill_all();
            })?;
        log::info!(
            "fastcgi master: pid {}: every worker serves",
            std::process::id()
        );
        self.announced = Some(pid_file);
        Ok(())
    }

    /// What a signal or the upgrade asks: logs reopened by every worker, or a drain.
    fn act(&mut self, asked: Asked) {
        if asked.reopen_logs {
            self.workers.signal(libc::SIGUSR1);
        }
        if asked.drain && self.stopping.is_none() {
            self.lifecycle.cancel_upgrade(self.poll.registry());
            self.workers.stop_replacing();
            self.workers.signal(libc::SIGTERM);
            self.stopping = Some(Instant::now() + self.options.shutdown_timeout + KILL_AFTER);
            log::info!("fastcgi master: draining every worker");
        }
    }
}
