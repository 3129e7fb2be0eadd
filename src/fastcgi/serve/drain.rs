//! The event loop's side of the lifecycle: it hands the lifecycle the signal and upgrade
//! events and carries out what it is asked: reopen the access log (SIGUSR1), re-read the
//! secret keys (SIGHUP, SIGUSR2), or stop
//! accepting and drain (SIGTERM, SIGINT, an upgrade's new process serving, a pool worker at
//! its `--max-requests` or being replaced). While it drains, a connection that carries a
//! request is closed as soon as that answer is sent in full (its END_REQUEST written), not
//! kept for the web server's next request, which then goes to a process that stays; idle
//! connections are kept for the grace (a request may be on its way) and closed when it ends.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::fastcgi::process::lifecycle::Asked;
use crate::fastcgi::protocol::conn::Phase;

use super::server::Server;

impl Server {
    /// The poller saw the signal pipe readable.
    pub(crate) fn on_signal(&mut self) {
        let asked = self
            .lifecycle
            .on_signal(&self.registry, self.admission.listeners());
        self.carry_out(asked);
    }

    /// The poller saw the upgrade's pipe readable.
    pub(crate) fn on_upgrade_ready(&mut self) {
        let asked = self
            .lifecycle
            .on_upgrade_ready(&self.registry, self.admission.listeners_mut());
        self.carry_out(asked);
    }

    fn carry_out(&mut self, asked: Asked) {
        if asked.reopen_logs {
            self.reopen_logs();
        }
        if asked.reload_keys {
            // Logged there; on an error the keys in use stay.
            let _ = self.pool.app.reload_keys();
        }
        if asked.drain {
            self.begin_shutdown();
        }
    }

    /// SIGUSR1: reopen the log files, as logrotate expects (the access log at its path; a
    /// failure keeps the old file and is logged).
    fn reopen_logs(&mut self) {
        match self.pool.access.as_ref().map(|access| access.reopen()) {
            None => log::info!("fastcgi: SIGUSR1: no log file to reopen"),
            Some(Ok(true)) => log::info!("fastcgi: SIGUSR1: access log reopened"),
            Some(Ok(false)) => {
                log::info!("fastcgi: SIGUSR1: the access log is stderr; nothing to reopen");
            }
            Some(Err(err)) => {
                log::error!(
                    "fastcgi: SIGUSR1: cannot reopen the access log: {err}; kept the old one"
                );
            }
        }
    }

    /// Stop accepting, finish what was received, then stop.
    pub(crate) fn begin_shutdown(&mut self) {
        if self.lifecycle.shutdown().is_some() {
            return;
        }
        self.lifecycle.cancel_upgrade(&self.registry);
        // Connections the kernel completed already carry requests the web server considers
        // sent: take them in before closing the listeners.
        self.admission.unpause();
        // In a pool too, whoever holds the turn: what waits now is taken in, not left to
        // peers that may be stopping as well.
        self.peers.taking_all = true;
        self.accept_all();
        self.peers.taking_all = false;
        log::info!(
            "fastcgi: shutting down; finishing {} connections",
            self.table.live()
        );
        self.lifecycle.begin_shutdown(Instant::now());
        self.pool.draining.store(true, Ordering::Release);
        self.admission.close_listeners(&self.registry);
        for index in self.table.indexes_where(|slot| !slot.idle()) {
            if let Some(slot) = self.table.get_mut(index) {
                slot.drain_begins();
            }
        }
    }

    /// The shutdown grace is over: read what idle connections hold (a request that arrived
    /// is answered); those with nothing are closed, and so is every connection that becomes
    /// idle from now on (one that carried a request since the drain began already was).
    pub(crate) fn end_grace(&mut self) {
        self.lifecycle.end_grace();
        let idle = self
            .table
            .indexes_where(|s| s.stream.is_some() && s.conn.phase() == Phase::Idle);
        for index in idle {
            self.on_event(index, false);
        }
    }
}
