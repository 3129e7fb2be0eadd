//! One process's event loop, made of owned parts: the connection table (`table`), admission
//! (`admission`: the listeners, `--max-connections`), the ready queue (`ready`), the thread
//! counts (`crew`), the clock and timers' dates (`clock`), the lifecycle (`process::lifecycle`:
//! signals, upgrade, shutdown), memory given back after a flood (`process::memory`), this
//! worker among its pool's (`peers`), with the
//! settings and what the handlers' threads share
//! (`work::job::Pool`). Whichever thread leads (see `threads`) waits for socket events and,
//! under the server's lock, hands them here: a connection's bytes are read and fed to its
//! state machine without blocking (`connections`), so idle, stalled and slow-reading
//! connections cost no handler; a complete request is queued for a handler slot; then the
//! timers run (`timers`) and the lifecycle's progress is checked (the exit status is 1 when
//! the shutdown timeout cut requests off).

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Registry, Token, Waker};

use crate::app::App;
use crate::fastcgi::config::options::FastcgiOptions;
use crate::fastcgi::config::settings::Settings;
use crate::fastcgi::net::listen::Listener;
use crate::fastcgi::ops::access::AccessLog;
use crate::fastcgi::ops::metrics::Metrics;
use crate::fastcgi::process::fdlimit;
use crate::fastcgi::process::lifecycle::{Lifecycle, READY_TOKEN, SIGNALS};
use crate::fastcgi::process::memory::Trim;
use crate::fastcgi::process::scoreboard::mine;
use crate::fastcgi::process::upgrade::Exe;
use crate::fastcgi::work::job::Pool;
use crate::fastcgi::work::running::{self, Running};
use crate::fastcgi::work::spill::Spill;
use crate::fastcgi::work::spool::Budget;

use super::admission::Admission;
use super::clock::Clock;
use super::crew::Crew;
use super::peers::Peers;
use super::ready::Ready;
use super::table::Table;

const WAKER: Token = Token(0);
const FIRST_LISTENER: usize = 3;
/// The answers' budget (ends of answers waiting for slow readers) is --body-memory, at least
/// this much.
const OUTPUT_MEMORY_MIN: usize = 16 << 20;

/// One process's event loop: its parts, each a type with its own fields and methods.
pub(crate) struct Server {
    pub(crate) registry: Registry,
    /// The listeners and whether to accept on them now.
    pub(crate) admission: Admission,
    /// The open connections.
    pub(crate) table: Table,
    pub(crate) pool: Arc<Pool>,
    /// Complete requests waiting for a handler slot, oldest first.
    pub(crate) ready: Ready,
    /// The thread counts: handler slots free, threads to start and end, the leadership.
    pub(crate) crew: Crew,
    pub(crate) settings: Settings,
    /// The handlers running, with `--slow-log` or `--request-timeout` (see `running`).
    pub(crate) running: Option<Running>,
    /// The last request's number.
    pub(crate) seq: u64,
    /// The turn's time, when the poll returns at the latest, when the timers sweep.
    pub(crate) clock: Clock,
    /// The process's lifecycle: signals, upgrade, shutdown.
    pub(crate) lifecycle: Lifecycle,
    /// Memory given back to the system once a flood has passed.
    pub(crate) trim: Trim,
    /// Under a master: its load written for its peers, connections left to them.
    pub(crate) peers: Peers,
}

impl Server {
    /// The loop on these listeners, and its poller.
    pub(crate) fn new(
        app: Arc<App>,
        options: &FastcgiOptions,
        max_body: u64,
        listeners: Vec<Listener>,
        exe: Exe,
        nofile: Option<u64>,
    ) -> io::Result<(Server, Poll)> {
        let poll = Poll::new()?;
        for listener in &listeners {
            log::info!("fastcgi: listening on {}", listener.describe());
        }
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let nofile = nofile.map(|nofile| {
            (
                nofile,
                fdlimit::connection_cap(nofile, fdlimit::open_descriptors()),
            )
        });
        let settings = Settings::resolve(options, max_body, nofile);
        let clock = Clock::new(settings.sweep_every);
        let lifecycle = Lifecycle::new(
            poll.registry(),
            exe,
            settings.shutdown_timeout,
            settings.upgrade_timeout,
        )?;
        let access = AccessLog::open(&options.access_log).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("--access-log {}: {err}", options.access_log),
            )
        })?;
        let spill = Spill::open(options.spill_dir.as_deref(), options.spill_disk)
            .map_err(|err| io::Error::other(err.to_string()))?;
        let running = Running::new(running::Limits {
            slow: options.slow_log,
            timeout: options.request_timeout,
            max_stuck: options.max_stuck.unwrap_or_else(|| options.worker_count()),
        });
        let pool = Arc::new(Pool {
            app,
            waker,
            budget: Arc::new(Budget::new(options.body_memory)),
            spill,
            output_budget: Arc::new(Budget::new(options.body_memory.max(OUTPUT_MEMORY_MIN))),
            max_body,
            send_timeout: options.send_timeout,
            metrics: match mine::tally() {
                // A worker counts on the scoreboard, where its pool's page adds it up.
                Some(tally) => Metrics::shared(options.status_path.is_some(), tally),
                None => Metrics::new(options.status_path.is_some()),
            },
            access,
            draining: AtomicBool::new(false),
        });
        let mut server = Server {
            registry: poll.registry().try_clone()?,
            table: Table::new(FIRST_LISTENER + listeners.len()),
            admission: Admission::new(listeners, FIRST_LISTENER),
            pool,
            ready: Ready::default(),
            crew: Crew::new(options.worker_count()),
            settings,
            running,
            seq: 0,
            clock,
            lifecycle,
            trim: Trim::default(),
            peers: Peers::new(),
        };
        if server.peers.in_pool {
            // A pool worker watches the sockets only on its accept turn (`peers`).
            server.mind_turn();
        } else {
            server.admission.watch(&server.registry)?;
        }
        Ok((server, poll))
    }

    /// How long the leader may wait for events: until the next timer, or not at all when
    /// connections wait for another turn.
    pub(crate) fn wait_for(&mut self) -> Duration {
        let now = Instant::now();
        if self.table.has_again() {
            self.clock.wake_by(now);
            return Duration::ZERO;
        }
        let mut wake_at = self.clock.next_sweep();
        if let Some(due) = self.running.as_ref().and_then(|r| r.next_due) {
            wake_at = wake_at.min(due);
        }
        if let Some(at) = self.admission.retry_at() {
            wake_at = wake_at.min(at);
        }
        if let Some(at) = self.peers.due() {
            wake_at = wake_at.min(at);
        }
        if let Some(shutdown) = self.lifecycle.shutdown().filter(|s| !s.grace_over) {
            wake_at = wake_at.min(shutdown.grace_end);
        }
        self.clock.wake_by(wake_at);
        wake_at.saturating_duration_since(now)
    }

    /// Handles what the poller reported.
    pub(crate) fn handle_events(&mut self, events: &Events) {
        for event in events.iter() {
            match event.token() {
                WAKER => {}
                SIGNALS => self.on_signal(),
                READY_TOKEN => self.on_upgrade_ready(),
                Token(t) => match self.table.index_of(t) {
                    None => self.accept(t - FIRST_LISTENER),
                    Some(index) => {
                        self.on_event(index, event.is_read_closed() || event.is_error());
                    }
                },
            }
        }
    }

    /// After events: connections due another turn, timers, the shutdown's progress.
    pub(crate) fn after_events(&mut self) {
        for index in self.table.take_again() {
            self.pump(index);
        }
        self.tick();
        self.publish_load();
        self.lifecycle.tick(&self.registry);
        let Some(shutdown) = self.lifecycle.shutdown() else {
            return;
        };
        if !shutdown.grace_over && self.clock.now() >= shutdown.grace_end {
            self.end_grace();
        }
        if self.table.live() == 0 {
            if self.lifecycle.handed_over() {
                log::info!("fastcgi: stopped; the new process serves");
            } else {
                log::info!("fastcgi: stopped");
            }
            self.stop(Ok(true));
        } else if self.clock.now() >= shutdown.deadline {
            log::error!(
                "shutdown timeout: cut off {} connections still open; exit status 1",
                self.table.live()
            );
            self.stop(Ok(false));
        }
    }
}
