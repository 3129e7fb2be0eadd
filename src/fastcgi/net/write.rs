//! Writes on a connection made outside the event loop: what the socket takes now, without
//! waiting (`write_now`), and the blocking writer a streamed response's handler uses
//! (`SocketWriter`, waiting for room with poll(2) up to a timeout).

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::listen::Stream;

/// Blocking writes on a non-blocking socket, for the chunks of a streamed response (its
/// handler holds the worker anyway): waits for room with poll(2), at most `timeout` without
/// progress, so a web server that stops reading cannot hold a worker forever.
pub struct SocketWriter<'a> {
    /// The connection.
    pub stream: &'a Stream,
    /// The longest wait for room.
    pub timeout: Duration,
}

impl Write for SocketWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            match (&mut &*self.stream).write(data) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    wait_writable(self.stream.as_raw_fd(), self.timeout)?;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Waits until the socket takes bytes again, at most `timeout`.
pub fn wait_writable(fd: std::os::fd::RawFd, timeout: Duration) -> io::Result<()> {
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    let mut poll_fd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    match unsafe { libc::poll(&mut poll_fd, 1, millis) } {
        -1 => Err(io::Error::last_os_error()),
        0 => Err(io::Error::new(io::ErrorKind::TimedOut, "send timeout")),
        _ => Ok(()),
    }
}

/// Writes what the socket takes now without waiting; returns how much it took (all of it,
/// or less when the socket buffer is full). An error means the connection is gone.
pub fn write_now(stream: &Stream, bytes: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while let Some(rest) = bytes.get(done..).filter(|rest| !rest.is_empty()) {
        match (&mut &*stream).write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(done)
}
