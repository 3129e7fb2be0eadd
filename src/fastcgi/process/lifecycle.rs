//! One process's lifecycle, as the event loop consults it: serving, then draining (after
//! SIGTERM or SIGINT, or once an upgrade's new process serves) until the connections are done
//! or the shutdown timeout cuts them off. The loop hands it the signals' and the upgrade
//! pipe's events and its timers' turns; it answers with what the loop must do (reopen the
//! logs, stop accepting and drain) and keeps the rest (the upgrade under way, the deadlines)
//! to itself. A process supervisor (a master over worker processes) is a part of this kind.

use std::io;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use crate::fastcgi::net::listen::Listener;

use super::signals::Signals;
use super::upgrade::{Exe, Upgrader};

pub(crate) use super::upgrade::READY_TOKEN;

/// The poller's token for the signal pipe.
pub(crate) const SIGNALS: Token = Token(1);
/// After SIGTERM, idle connections stay open this long: a request the web server sent just
/// before the signal may still be on its way through the kernel. A connection that carries
/// a request meanwhile is closed once its answer is sent (see `serve::drain`).
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_millis(200);

/// A shutdown under way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shutdown {
    /// Requests still running then are cut off.
    pub(crate) deadline: Instant,
    /// Until then idle connections stay open for requests already on their way.
    pub(crate) grace_end: Instant,
    /// Every connection is closed as soon as it is idle.
    pub(crate) grace_over: bool,
}

/// What the event loop must do after an event of the lifecycle.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Asked {
    /// Reopen the log files (SIGUSR1).
    pub(crate) reopen_logs: bool,
    /// Re-read the secret keys (SIGHUP, and every SIGUSR2).
    pub(crate) reload_keys: bool,
    /// Stop accepting and drain: call [`Lifecycle::begin_shutdown`].
    pub(crate) drain: bool,
}

/// The process's lifecycle: its signals, its upgrades, its shutdown.
pub(crate) struct Lifecycle {
    signals: Signals,
    upgrader: Upgrader,
    shutdown: Option<Shutdown>,
    shutdown_timeout: Duration,
    handed_over: bool,
    /// A worker under a master: SIGUSR2 is the master's to act on.
    worker: bool,
}

impl Lifecycle {
    /// Installs the signal handlers, their pipe on `registry`.
    pub(crate) fn new(
        registry: &Registry,
        exe: Exe,
        shutdown_timeout: Duration,
        upgrade_timeout: Duration,
    ) -> io::Result<Lifecycle> {
        let mut signals = Signals::register()?;
        registry.register(&mut signals.pipe, SIGNALS, Interest::READABLE)?;
        Ok(Lifecycle {
            signals,
            upgrader: Upgrader::new(exe, upgrade_timeout),
            shutdown: None,
            shutdown_timeout,
            handed_over: false,
            worker: super::worker::slot().is_some(),
        })
    }

    /// The signal pipe is readable: SIGUSR2 starts an upgrade here; the rest is asked of the
    /// loop.
    pub(crate) fn on_signal(&mut self, registry: &Registry, listeners: &[Listener]) -> Asked {
        let arrived = self.signals.arrived();
        if arrived.upgrade {
            if self.worker {
                log::info!("fastcgi worker: SIGUSR2 is for the master: ignored");
            } else if self.shutdown.is_some() {
                log::info!("fastcgi: SIGUSR2 while shutting down: ignored");
            } else {
                self.upgrader.start(registry, listeners);
            }
        }
        Asked {
            reopen_logs: arrived.reopen,
            reload_keys: arrived.reload || arrived.upgrade,
            drain: arrived.stop,
        }
    }

    /// The upgrade's pipe is readable: once the new process serves, this one drains.
    pub(crate) fn on_upgrade_ready(
        &mut self,
        registry: &Registry,
        listeners: &mut [Listener],
    ) -> Asked {
        let handed_over = self.upgrader.on_ready(registry, listeners);
        self.handed_over |= handed_over;
        Asked {
            reopen_logs: false,
            reload_keys: false,
            drain: handed_over,
        }
    }

    /// The timers' turn: an upgrade that takes too long, children to reap.
    pub(crate) fn tick(&mut self, registry: &Registry) {
        if self.upgrader.pending() {
            self.upgrader.check(registry);
        }
    }

    /// A shutdown begins: an upgrade under way is cancelled, so that a stop stops everything.
    pub(crate) fn cancel_upgrade(&mut self, registry: &Registry) {
        self.upgrader.cancel(registry);
    }

    /// Starts the shutdown's clocks, unless one is under way already (the loop has stopped
    /// accepting and drains).
    pub(crate) fn begin_shutdown(&mut self, now: Instant) {
        if self.shutdown.is_some() {
            return;
        }
        self.shutdown = Some(Shutdown {
            deadline: now + self.shutdown_timeout,
            grace_end: now + SHUTDOWN_GRACE,
            grace_over: false,
        });
    }

    /// The shutdown grace is over: idle connections are closed from now on.
    pub(crate) fn end_grace(&mut self) {
        if let Some(shutdown) = self.shutdown.as_mut() {
            shutdown.grace_over = true;
        }
    }

    /// The shutdown under way, if any.
    pub(crate) fn shutdown(&self) -> Option<Shutdown> {
        self.shutdown
    }

    /// Whether the listeners went to a new process (they stay open there).
    pub(crate) fn handed_over(&self) -> bool {
        self.handed_over
    }
}
