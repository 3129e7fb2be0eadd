//! The signals a server process acts on: SIGTERM and SIGINT drain and stop, SIGUSR1
//! reopens the log files (logrotate), SIGUSR2 upgrades to a new copy of the binary without
//! refusing a connection, SIGHUP (and every SIGUSR2) re-reads the secret keys (what each leads
//! to is `lifecycle`'s); SIGURG, a pool worker's nudge (the accept turn may be its own now),
//! only wakes the poller. A handler sets the signal's flag and writes a byte into a socket
//! pair the poller watches (the self-pipe trick, done by signal-hook in an
//! async-signal-safe way); the leader reads the flags under the server's lock. SIGPIPE is
//! already ignored by the Rust runtime, so a write to a closed connection is an EPIPE error,
//! never a dead process.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};

use crate::fastcgi::process::scoreboard::turn::NUDGE;

/// The signals the server acts on, each a flag, and the pipe that wakes the poller.
pub(crate) struct Signals {
    /// Readable when a signal arrived.
    pub(crate) pipe: mio::net::UnixStream,
    stop: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
    upgrade: Arc<AtomicBool>,
    /// SIGHUP: re-read the secret keys.
    reload: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers (flag first, then the wake-up byte, so the flag is set when the
    /// poller wakes).
    pub(crate) fn register() -> io::Result<Signals> {
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
        // A pool worker's nudge (the accept turn may be its own now): it only wakes the
        // poller, which looks at the turn at the end of every round.
        signal_hook::low_level::pipe::register(NUDGE, writer)?;
        Ok(signals)
    }

    /// The signals that arrived since last asked (the pipe is emptied).
    pub(crate) fn arrived(&mut self) -> Arrived {
        let mut drain = [0u8; 64];
        while matches!((&self.pipe).read(&mut drain), Ok(n) if n > 0) {}
        Arrived {
            reopen: self.reopen.swap(false, Ordering::AcqRel),
            upgrade: self.upgrade.swap(false, Ordering::AcqRel),
            stop: self.stop.swap(false, Ordering::AcqRel),
            reload: self.reload.swap(false, Ordering::AcqRel),
        }
    }
}

/// Which signals arrived.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Arrived {
    /// SIGUSR1.
    pub(crate) reopen: bool,
    /// SIGUSR2.
    pub(crate) upgrade: bool,
    /// SIGTERM or SIGINT.
    pub(crate) stop: bool,
    /// SIGHUP.
    pub(crate) reload: bool,
}
