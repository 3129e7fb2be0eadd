//! One connection's input: bytes read ahead (a pipelined next request stays here for the next
//! turn), never more than a bound at once, and a deadline per request so a slow client gets a
//! 408 instead of a thread held forever.

use std::io::{self, Read};
use std::time::Instant;

use super::error::RequestError;

/// How many bytes one read asks for.
const READ_SIZE: usize = 16 * 1024;

/// The stream and the bytes read from it but not yet used: `buf[start..end]`. The buffer's
/// room past `end` is reused from read to read (never zeroed again).
pub struct Input<S> {
    stream: S,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    deadline: Option<Instant>,
}

impl<S: Read> Input<S> {
    /// A connection's input, nothing read yet.
    pub fn new(stream: S) -> Input<S> {
        Input {
            stream,
            buf: Vec::new(),
            start: 0,
            end: 0,
            deadline: None,
        }
    }

    /// The stream (to write answers on).
    pub fn stream(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The bytes read and not yet consumed.
    pub fn pending(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// Marks `n` pending bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Sets (or clears) the instant after which reads fail with [`RequestError::TimedOut`].
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Reads more bytes onto the pending ones: `Ok(0)` at end of stream. A read the socket's
    /// own timeout ends, or one past the deadline, is [`RequestError::TimedOut`].
    pub fn fill(&mut self) -> Result<usize, RequestError> {
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(RequestError::TimedOut);
        }
        if self.buf.len() - self.end < READ_SIZE {
            // Move the pending bytes to the front, then grow only if that is not room enough.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < READ_SIZE {
                self.buf.resize(self.end + READ_SIZE, 0);
            }
        }
        let result = loop {
            let Some(window) = self.buf.get_mut(self.end..) else {
                break Ok(0);
            };
            match self.stream.read(window) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match result {
            Ok(n) => {
                self.end = (self.end + n).min(self.buf.len());
                Ok(n)
            }
            Err(err) => match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Err(RequestError::TimedOut),
                _ => Err(RequestError::Io(err)),
            },
        }
    }
}
