//! Signals and what they ask of the server: SIGTERM and SIGINT drain and stop, SIGUSR1
//! reopens the log files (logrotate), SIGUSR2 upgrades to a new copy of the binary without
//! refusing a connection, SIGHUP (and every SIGUSR2) re-reads the secret keys. A handler
//! sets the signal's flag and writes a byte into a socket pair the poller watches (the self-pipe trick, done by signal-hook in an
//! async-signal-safe way); the leader reads the flags under the server's lock. SIGPIPE is
//! already ignored by the Rust runtime, so a write to a closed connection is an EPIPE error,
//! never a dead process.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};

use super::conn::Phase;
use super::server::{SHUTDOWN_GRACE, Server, Shutdown};

/// The signals the server acts on, each a flag, and the pipe that wakes the poller.
pub(super) struct Signals {
    /// Readable when a signal arrived.
    pub(super) pipe: mio::net::UnixStream,
    stop: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
    upgrade: Arc<AtomicBool>,
    /// SIGHUP: re-read the secret keys.
    reload: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers (flag first, then the wake-up byte, so the flag is set when the
    /// poller wakes).
    pub(super) fn register() -> io::Result<Signals> {
        let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let signals = Signals {
            pipe: mio::net::UnixStream::from_std(reader),
            stop: Arc::default(),
            reopen: Arc::default(),
            upgrade: Arc::default(),
            reload: Arc::default(),
        };
        for (signal, flag) in [
            (SIGTERM, &signals.stop),
            (SIGINT, &signals.stop),
            (SIGUSR1, &signals.reopen),
            (SIGUSR2, &signals.upgrade),
            (SIGHUP, &signals.reload),
        ] {
            signal_hook::flag::register(signal, Arc::clone(flag))?;
            signal_hook::low_level::pipe::register(signal, writer.try_clone()?)?;
        }
        Ok(signals)
    }
}

impl Server {
    /// The poller saw the signal pipe readable: act on each signal that arrived.
    pub(super) fn on_signal(&mut self) {
        let mut drain = [0u8; 64];
        while matches!((&self.signals.pipe).read(&mut drain), Ok(n) if n > 0) {}
        if self.signals.reopen.swap(false, Ordering::AcqRel) {
            self.reopen_logs();
        }
        let upgrade = self.signals.upgrade.swap(false, Ordering::AcqRel);
        if self.signals.reload.swap(false, Ordering::AcqRel) || upgrade {
            // Logged there; on an error the keys in use stay.
            let _ = self.pool.app.reload_keys();
        }
        if upgrade {
            // In `upgrade`.
            self.upgrade();
        }
        if self.signals.stop.swap(false, Ordering::AcqRel) {
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

    /// SIGTERM/SIGINT: stop accepting, finish what was received, then stop.
    pub(super) fn begin_shutdown(&mut self) {
        if self.shutdown.is_some() {
            return;
        }
        self.cancel_upgrade();
        // Connections the kernel completed already carry requests the web server considers
        // sent: take them in before closing the listeners.
        self.accept_retry_at = None;
        self.accept_all();
        log::info!(
            "fastcgi: shutting down; finishing {} connections",
            self.live
        );
        let now = Instant::now();
        self.shutdown = Some(Shutdown {
            deadline: now + self.settings.shutdown_timeout,
            grace_end: now + SHUTDOWN_GRACE,
            grace_over: false,
        });
        for mut listener in self.listeners.drain(..) {
            let _ = self.registry.deregister(&mut listener);
        }
    }

    /// The shutdown grace is over: read what idle connections hold (a request that arrived
    /// is answered); those with nothing are closed, and so is every connection that becomes
    /// idle from now on.
    pub(super) fn end_grace(&mut self) {
        if let Some(shutdown) = self.shutdown.as_mut() {
            shutdown.grace_over = true;
        }
        let idle: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.as_ref()
                    .is_some_and(|s| s.stream.is_some() && s.conn.phase() == Phase::Idle)
            })
            .map(|(i, _)| i)
            .collect();
        for index in idle {
            self.on_event(index, false);
        }
    }
}
