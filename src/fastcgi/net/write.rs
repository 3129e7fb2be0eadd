//! Writes on a connection made outside the event loop: what the socket takes now, without
//! waiting (`write_now`), and the blocking writer a streamed response's handler uses
//! (`SocketWriter`, waiting for room with poll(2) up to a timeout); and the last answer on a
//! connection of a draining process, its FIN sent right behind it (`hold_last`, `end`).

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

/// Before the last answer on a TCP connection: hold its tail (TCP_CORK) so that [`end`]'s FIN
/// leaves in the same segment (Linux adds the FIN to a segment not yet sent). A web server
/// then reads the answer and the connection's end together, and does not keep the connection
/// for another request (nginx drops a cached upstream connection at EOF). Nothing to hold on
/// a unix socket, where the FIN follows by one call. [`release`] undoes it when the
/// connection is not ended after all.
pub fn hold_last(stream: &Stream) {
    set_cork(stream, true);
}

/// Lets out what [`hold_last`] held (the connection stays open).
pub fn release(stream: &Stream) {
    set_cork(stream, false);
}

/// Ends the sending side after the last answer (a FIN, behind the answer), unless bytes wait
/// unread (a web server that sent another request without waiting for this answer: it is
/// read and answered, so the connection must stay open for writing). Returns whether it
/// ended; if not, the caller lets out what [`hold_last`] held ([`release`]).
pub fn end(stream: &Stream) -> bool {
    let mut byte = [0u8; 1];
    // SAFETY: recv(2) writes at most one byte into `byte`, which outlives the call.
    let peeked = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            byte.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    // Nothing waits (EAGAIN), or only the web server's own end (0).
    let nothing_waits = match peeked {
        0 => true,
        n if n > 0 => false,
        _ => io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock,
    };
    if !nothing_waits {
        return false;
    }
    let shut = match stream {
        Stream::Tcp(tcp) => tcp.shutdown(std::net::Shutdown::Write),
        Stream::Unix(unix) => unix.shutdown(std::net::Shutdown::Write),
    };
    shut.is_ok()
}

fn set_cork(stream: &Stream, on: bool) {
    if let Stream::Tcp(tcp) = stream {
        let value = libc::c_int::from(on);
        // SAFETY: setsockopt(2) reads a c_int from `value`, which outlives the call.
        unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_CORK,
                (&raw const value).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
