//! The FastCGI server's state and its event side. Whichever thread leads (see `threads`)
//! waits for socket events and, under the server's lock, reads and writes without blocking
//! and feeds the bytes to each connection's state machine, so idle, stalled and slow-reading
//! connections cost no handler. A complete request is queued with its socket for a handler
//! slot; the thread that runs it writes what the socket takes and gives the socket back with
//! the rest. Request bodies share one memory budget, past which they spill to unlinked files.
//! Timers here close stalled and idle connections (whole-params and whole-body deadlines, so
//! a trickle cannot hold a slot) and answer 503 for requests no handler took in time. At
//! `--max-connections` (kept below RLIMIT_NOFILE) new connections wait in the kernel's
//! backlog unless one idle between requests can make room. Signals are `signals`' (SIGTERM and
//! SIGINT drain; the exit status is 1 when the shutdown timeout cut requests off).

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::app::App;

use super::access::AccessLog;
use super::announce::{self, Handover};
use super::conn::{ConnLimits, Phase};
use super::fdlimit;
use super::listen::{self, Listener};
use super::metrics::Metrics;
use super::options::FastcgiOptions;
use super::record::Figures;
use super::running::{self, Running};
use super::signals::Signals;
use super::slot::{Slot, Timers};
use super::spool::Budget;
use super::threads;
use super::upgrade::{Exe, READY_TOKEN, Upgrade};
use super::worker::{self, Job, Pool};

const WAKER: Token = Token(0);
const SIGNALS: Token = Token(1);
const FIRST_LISTENER: usize = 3;
/// The longest pause in accepting after accept() failed (EMFILE and the like) with no idle
/// connection to close; accepting resumes as soon as a connection closes.
pub(super) const ACCEPT_RETRY: Duration = Duration::from_secs(1);
/// The answers' budget (ends of answers waiting for slow readers) is --body-memory, at least
/// this much.
const OUTPUT_MEMORY_MIN: usize = 16 << 20;
/// After SIGTERM, idle connections stay open this long: a request the web server sent just
/// before the signal may still be on its way through the kernel.
pub(super) const SHUTDOWN_GRACE: Duration = Duration::from_millis(200);

/// Serves FastCGI until SIGTERM or SIGINT; exit status 0 after a clean drain, 1 when the
/// shutdown timeout cut requests off.
pub fn serve(app: Arc<App>, options: &FastcgiOptions, max_body: u64) -> std::process::ExitCode {
    let exe = Exe::record();
    let handover = Handover::take();
    let nofile = fdlimit::raise_nofile_limit();
    fdlimit::return_large_buffers();
    let handlers = options.worker_count();
    let started = open_listeners(options, handover.as_ref())
        .and_then(|listeners| Server::new(app, options, max_body, listeners, nofile.ok()))
        .and_then(|(mut server, poll)| {
            server.exe = exe;
            let pid_file = announce::announce(options, &mut server.listeners, handover)?;
            Ok((server, poll, pid_file))
        });
    let (server, poll, pid_file) = match started {
        Ok(started) => started,
        Err(err) => {
            log::error!("fastcgi server cannot start: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = threads::run(server, poll, handlers);
    if let Some(pid_file) = pid_file {
        pid_file.remove_if_ours();
    }
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(err) => {
            log::error!("fastcgi server failed: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The sockets an upgrading old process handed over (whatever `--listen` says: they are
/// its), else `--listen`'s, else inherited ones.
fn open_listeners(
    options: &FastcgiOptions,
    handover: Option<&Handover>,
) -> io::Result<Vec<Listener>> {
    let listeners = if let Some(handover) = handover {
        listen::take(handover.fds.clone())?
    } else if options.listen.is_empty() {
        listen::inherited()?
    } else {
        let bound: io::Result<Vec<Listener>> = options
            .listen
            .iter()
            .map(|addr| {
                listen::bind(addr, options.socket_mode)
                    .map_err(|err| io::Error::new(err.kind(), format!("{addr}: {err}")))
            })
            .collect();
        bound?
    };
    if listeners.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "nothing to listen on: give --listen, or start from a web server, spawn-fcgi or systemd",
        ));
    }
    Ok(listeners)
}

/// The limits and timers, resolved from the options.
pub(super) struct Settings {
    pub(super) limits: ConnLimits,
    pub(super) max_connections: usize,
    pub(super) timers: Timers,
    pub(super) queue_wait: Duration,
    pub(super) shutdown_timeout: Duration,
    pub(super) upgrade_timeout: Duration,
    pub(super) allowed: Vec<IpAddr>,
    pub(super) sweep_every: Duration,
    /// `--workers`.
    pub(super) workers: usize,
    /// `--status-path` and `--ping-path`.
    pub(super) ops: crate::ops::OpsPaths,
    /// The version the status page shows: the app's, else pycnic's.
    pub(super) version: String,
}

pub(super) struct Server {
    pub(super) registry: Registry,
    pub(super) listeners: Vec<Listener>,
    pub(super) first_conn: usize,
    pub(super) slots: Vec<Option<Slot>>,
    pub(super) free: Vec<usize>,
    pub(super) live: usize,
    pub(super) signals: Signals,
    pub(super) pool: Arc<Pool>,
    /// Complete requests waiting for a handler slot, oldest first.
    pub(super) ready: VecDeque<Job>,
    /// Handlers that may start now (`--workers` minus those running).
    pub(super) handlers_free: usize,
    /// The leadership left free while its holder runs a handler (see `threads`).
    pub(super) leaderless: threads::Leaderless,
    /// Set when the server stops: the exit status's reason.
    pub(super) stopped: Option<Result<bool, (io::ErrorKind, String)>>,
    pub(super) settings: Settings,
    /// At --max-connections with nothing to close: new connections wait in the backlog.
    pub(super) accept_blocked: bool,
    /// A connection came back from a worker since the last tick: it may make room.
    pub(super) idle_returned: bool,
    /// Accepting paused after an accept error, until then or until a connection closes.
    pub(super) accept_retry_at: Option<Instant>,
    /// Connections open when accept last failed: fewer means a descriptor is free again.
    pub(super) starved_since_live: Option<usize>,
    pub(super) next_sweep: Instant,
    pub(super) shutdown: Option<Shutdown>,
    /// Connections that had their turn with bytes still waiting: driven again next round.
    pub(super) again: Vec<usize>,
    pub(super) buf: Vec<u8>,
    /// The handlers running, with `--slow-log` or `--request-timeout` (see `running`).
    pub(super) running: Option<Running>,
    /// The last request's number.
    pub(super) seq: u64,
    /// When the leader's poll will return at the latest.
    pub(super) wake_at: Instant,
    /// The event side's clock: read once when the poller returns (and when a handler's
    /// thread gives a connection back), and used for every stamp, deadline and timer of that
    /// turn, instead of each reading the clock (a request's turn read it about eight times).
    pub(super) now: Instant,
    /// Threads to start in place of stuck ones (the threads module starts them).
    pub(super) spawn_threads: usize,
    /// Threads to end: stuck ones came back, and the pool is one over its size for each.
    pub(super) excess_threads: usize,
    /// How to start this program again (SIGUSR2).
    pub(super) exe: Exe,
    /// An upgrade under way.
    pub(super) upgrade: Option<Upgrade>,
    /// New processes of failed upgrades, to reap.
    pub(super) reap: Vec<std::process::Child>,
    /// The listeners went to a new process: they stay open there.
    pub(super) handed_over: bool,
}

/// A shutdown under way.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shutdown {
    /// Requests still running then are cut off.
    pub(super) deadline: Instant,
    /// Until then idle connections stay open for requests already on their way.
    pub(super) grace_end: Instant,
    /// Idle connections are closed as soon as they are idle.
    pub(super) grace_over: bool,
}

impl Server {
    fn new(
        app: Arc<App>,
        options: &FastcgiOptions,
        max_body: u64,
        mut listeners: Vec<Listener>,
        nofile: Option<u64>,
    ) -> io::Result<(Server, Poll)> {
        let poll = Poll::new()?;
        for (n, listener) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(listener, Token(FIRST_LISTENER + n), Interest::READABLE)?;
            log::info!("fastcgi: listening on {}", listener.describe());
        }
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut signals = Signals::register()?;
        poll.registry()
            .register(&mut signals.pipe, SIGNALS, Interest::READABLE)?;
        let mut max_connections = options.max_connections;
        if let Some(nofile) = nofile {
            let cap = fdlimit::connection_cap(nofile, fdlimit::open_descriptors());
            if cap < max_connections {
                log::warn!(
                    "--max-connections {max_connections} is more than RLIMIT_NOFILE {nofile} \
                     leaves room for: using {cap}"
                );
                max_connections = cap;
            }
        }
        let settings = Settings {
            limits: ConnLimits {
                max_params_bytes: options.max_params_bytes,
                max_params_count: options.max_params,
                max_body,
                // One request per connection (FCGI_MPXS_CONNS=0): as many requests as
                // connections are accepted; `--workers` of them run at once.
                figures: Figures {
                    max_conns: max_connections,
                    max_reqs: max_connections,
                },
            },
            max_connections,
            timers: Timers {
                header: options.header_timeout,
                idle: options.idle_timeout,
                body: options.body_timeout,
                body_min_rate: options.body_min_rate as u64,
                send: options.send_timeout,
            },
            queue_wait: options.queue_wait,
            shutdown_timeout: options.shutdown_timeout,
            upgrade_timeout: options.upgrade_timeout,
            allowed: options.allowed_peers(),
            sweep_every: (options.queue_wait.min(options.header_timeout) / 4)
                .clamp(Duration::from_millis(10), Duration::from_millis(250)),
            workers: options.worker_count(),
            ops: crate::ops::OpsPaths {
                status: options.status_path.clone(),
                ping: options.ping_path.clone(),
            },
            version: options
                .app_version
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
        };
        let access = AccessLog::open(&options.access_log).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("--access-log {}: {err}", options.access_log),
            )
        })?;
        let running = Running::new(running::Limits {
            slow: options.slow_log,
            timeout: options.request_timeout,
            max_stuck: options.max_stuck.unwrap_or_else(|| options.worker_count()),
        });
        let pool = Arc::new(Pool {
            app,
            waker,
            budget: Arc::new(Budget::new(options.body_memory)),
            output_budget: Arc::new(Budget::new(options.body_memory.max(OUTPUT_MEMORY_MIN))),
            max_body,
            send_timeout: options.send_timeout,
            metrics: Metrics::new(options.status_path.is_some()),
            access,
        });
        let server = Server {
            registry: poll.registry().try_clone()?,
            first_conn: FIRST_LISTENER + listeners.len(),
            listeners,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            signals,
            pool,
            ready: VecDeque::new(),
            handlers_free: options.worker_count(),
            leaderless: threads::Leaderless::default(),
            stopped: None,
            settings,
            accept_blocked: false,
            idle_returned: false,
            accept_retry_at: None,
            starved_since_live: None,
            next_sweep: Instant::now(),
            shutdown: None,
            again: Vec::new(),
            buf: vec![0; 64 * 1024],
            running,
            seq: 0,
            wake_at: Instant::now(),
            now: Instant::now(),
            spawn_threads: 0,
            excess_threads: 0,
            exe: Exe::record(),
            upgrade: None,
            reap: Vec::new(),
            handed_over: false,
        };
        Ok((server, poll))
    }

    /// How long the leader may wait for events: until the next timer, or not at all when
    /// connections wait for another turn.
    pub(super) fn wait_for(&mut self) -> Duration {
        let now = Instant::now();
        if !self.again.is_empty() {
            self.wake_at = now;
            return Duration::ZERO;
        }
        let mut wake_at = self.next_sweep;
        if let Some(due) = self.running.as_ref().and_then(|r| r.next_due) {
            wake_at = wake_at.min(due);
        }
        if let Some(at) = self.accept_retry_at {
            wake_at = wake_at.min(at);
        }
        if let Some(shutdown) = self.shutdown.filter(|s| !s.grace_over) {
            wake_at = wake_at.min(shutdown.grace_end);
        }
        self.wake_at = wake_at;
        wake_at.saturating_duration_since(now)
    }

    /// Handles what the poller reported.
    pub(super) fn handle_events(&mut self, events: &Events) {
        for event in events.iter() {
            match event.token() {
                WAKER => {}
                SIGNALS => self.on_signal(),
                READY_TOKEN => self.on_upgrade_ready(),
                Token(t) if t < self.first_conn => self.accept(t - FIRST_LISTENER),
                Token(t) => self.on_event(
                    t - self.first_conn,
                    event.is_read_closed() || event.is_error(),
                ),
            }
        }
    }

    /// After events: connections due another turn, timers, the shutdown's progress.
    pub(super) fn after_events(&mut self) {
        for index in std::mem::take(&mut self.again) {
            self.pump(index);
        }
        self.tick();
        if self.upgrade_pending() {
            self.check_upgrade();
        }
        let Some(shutdown) = self.shutdown else {
            return;
        };
        if !shutdown.grace_over && self.now >= shutdown.grace_end {
            self.end_grace();
        }
        if self.live == 0 {
            if self.handed_over {
                log::info!("fastcgi: stopped; the new process serves");
            } else {
                log::info!("fastcgi: stopped");
            }
            self.stop(Ok(true));
        } else if self.now >= shutdown.deadline {
            log::error!(
                "shutdown timeout: cut off {} connections still open; exit status 1",
                self.live
            );
            self.stop(Ok(false));
        }
    }

    /// A request no handler took within `--queue-wait`: a JSON 503 from the event side.
    pub(super) fn answer_busy(&mut self, job: Job) {
        self.pool.budget.release(job.held);
        let Some(Some(slot)) = self.slots.get_mut(job.token) else {
            return;
        };
        slot.stream = Some(job.stream);
        let response = worker::busy_response(&self.pool.app, self.settings.queue_wait);
        log::warn!(
            "no worker free within {:?}: answering 503",
            self.settings.queue_wait
        );
        self.answer_here(job.token, &job.request, job.seq, response, job.received);
        self.pump(job.token);
    }

    /// Timers: stalled and idle connections, requests waiting too long, accept retries.
    fn tick(&mut self) {
        let now = self.now;
        if self
            .running
            .as_ref()
            .and_then(|r| r.next_due)
            .is_some_and(|due| now >= due)
        {
            self.check_running(now);
        }
        // Looking for an evictable connection costs a scan: only when one may have become
        // evictable (a connection came back from a worker) or at a sweep (the fresh grace).
        let look = std::mem::take(&mut self.idle_returned) || now >= self.next_sweep;
        let room = self.accept_blocked
            && (self.live < self.settings.max_connections
                || (look && self.oldest_idle().is_some()));
        let fd_freed = self.starved_since_live.is_some_and(|live| self.live < live);
        if self.accept_retry_at.is_some_and(|at| now >= at) || fd_freed {
            self.accept_retry_at = None;
            self.accept_all();
        } else if room && self.accept_retry_at.is_none() {
            self.accept_blocked = false;
            self.accept_all();
        }
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + self.settings.sweep_every;
        let wait = self.settings.queue_wait;
        let mut stale = Vec::new();
        while self
            .ready
            .front()
            .is_some_and(|job| job.received.elapsed() > wait)
        {
            stale.extend(self.ready.pop_front());
        }
        for job in stale {
            self.answer_busy(job);
        }
        let expired: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .filter(|(_, s)| s.stream.is_some() && s.deadline.is_some_and(|d| now >= d))
            .map(|(i, _)| i)
            .collect();
        for index in expired {
            // Bytes may be waiting that a busy loop has not read yet: read them first.
            self.on_event(index, false);
            let Some(Some(slot)) = self.slots.get(index) else {
                continue;
            };
            if slot.stream.is_none() || slot.deadline.is_none_or(|d| Instant::now() < d) {
                continue;
            }
            let (phase, flushed) = (slot.phase, slot.flushed());
            let reason = match phase {
                _ if !flushed => Some("send timeout".to_string()),
                Phase::Idle => {
                    log::info!("closed an idle connection");
                    None
                }
                Phase::Head => Some("header-read timeout".to_string()),
                Phase::Body => Some("body-read timeout (--body-timeout, --body-min-rate)".into()),
                Phase::Responding | Phase::Closed => Some("send timeout".to_string()),
            };
            self.close(index, reason);
        }
    }
}
