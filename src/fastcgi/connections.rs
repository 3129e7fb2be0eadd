//! The event loop's side of each connection: accepting (allow-list, --max-connections,
//! accept errors), reading and writing without blocking, handing complete requests to the
//! workers, and answering from the loop itself when no handler is needed (413, 503).

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::{Interest, Token};

use super::conn::{Connection, Event, Phase, ReceivedRequest};
use super::listen::{Peer, Stream};
use super::options::peer_allowed;
use super::server::{ACCEPT_RETRY, Server};
use super::worker::{self, AccessLine, Job};

/// Stop reading from a connection whose replies pile up unread (GET_VALUES floods).
const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// One connection owned by the event loop; `stream` is `None` while a worker has it.
pub(super) struct Slot {
    pub(super) stream: Option<Stream>,
    pub(super) conn: Connection,
    pub(super) phase: Phase,
    pub(super) deadline: Option<Instant>,
    /// When bytes last arrived: the order in which the web server last used connections
    /// (not when responses finished, which workers report in any order).
    pub(super) last_active: Instant,
}

/// What driving a connection came to.
enum Outcome {
    /// Waits for more bytes (or room to write); `true` when bytes arrived.
    Wait(bool),
    Event(Event),
    /// Close; the reason is logged as a warning when there is one.
    Close(Option<String>),
}

impl Server {
    pub(super) fn accept_all(&mut self) {
        for n in 0..self.listeners.len() {
            self.accept(n);
        }
    }

    pub(super) fn accept(&mut self, n: usize) {
        loop {
            if self.shutdown_deadline.is_some() {
                return;
            }
            let full = self.live >= self.settings.max_connections;
            if full && self.oldest_idle().is_none() {
                // Nothing to make room with: leave new connections in the backlog until a
                // slot frees (stalled ones time out), rather than refuse them.
                self.accept_blocked = true;
                return;
            }
            let Some(listener) = self.listeners.get(n) else {
                return;
            };
            match listener.accept() {
                Ok((stream, Peer::Ip(ip))) if !peer_allowed(&self.settings.allowed, ip) => {
                    log::warn!("dropped connection from {ip}: not in FCGI_WEB_SERVER_ADDRS");
                    drop(stream);
                }
                Ok((stream, _)) => {
                    if full && let Some(index) = self.oldest_idle() {
                        log::info!(
                            "closed an idle connection to make room (--max-connections {})",
                            self.settings.max_connections
                        );
                        self.close(index, None);
                    }
                    self.add(stream);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(err) => {
                    // EMFILE, ENFILE, ENOBUFS...: never fatal; try again shortly.
                    log::warn!(
                        "accept failed: {err}; retrying in {} ms",
                        ACCEPT_RETRY.as_millis()
                    );
                    self.accept_retry_at = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            }
        }
    }

    /// The connection idle the longest: closed to make room for a new one, since a web
    /// server reopens an idle connection cheaply while a refused one is a failed request.
    pub(super) fn oldest_idle(&self) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .filter(|(_, s)| {
                s.stream.is_some() && s.phase == Phase::Idle && s.conn.output().is_empty()
            })
            .min_by_key(|(_, s)| s.last_active)
            .map(|(i, _)| i)
    }

    pub(super) fn add(&mut self, mut stream: Stream) {
        let index = self.free.pop().unwrap_or(self.slots.len());
        let token = Token(self.first_conn + index);
        if let Err(err) = self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("dropped connection: cannot watch it: {err}");
            self.free.push(index);
            return;
        }
        let now = Instant::now();
        let slot = Slot {
            stream: Some(stream),
            conn: Connection::new(self.settings.limits),
            phase: Phase::Idle,
            deadline: Some(now + self.settings.header_timeout.max(self.settings.idle_timeout)),
            last_active: now,
        };
        match self.slots.get_mut(index) {
            Some(place) => *place = Some(slot),
            None => self.slots.push(Some(slot)),
        }
        self.live += 1;
    }

    pub(super) fn close(&mut self, index: usize, reason: Option<String>) {
        let Some(slot) = self.slots.get_mut(index).and_then(Option::take) else {
            return;
        };
        if let Some(reason) = reason {
            log::warn!("dropped connection: {reason}");
        }
        if let Some(mut stream) = slot.stream {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        self.live -= 1;
        self.free.push(index);
    }

    /// Reads, writes and answers on one connection until it has to wait.
    pub(super) fn pump(&mut self, index: usize) {
        loop {
            let shutting_down = self.shutdown_deadline.is_some();
            let Some(Some(slot)) = self.slots.get_mut(index) else {
                return;
            };
            if slot.stream.is_none() {
                return; // a worker has it
            }
            match drive(slot, &mut self.buf) {
                Outcome::Wait(progressed) => {
                    let now = Instant::now();
                    let phase = slot.conn.phase();
                    if progressed {
                        slot.last_active = now;
                    }
                    if phase != slot.phase || (phase == Phase::Body && progressed) {
                        slot.phase = phase;
                        slot.deadline = match phase {
                            Phase::Idle => Some(now + self.settings.idle_timeout),
                            Phase::Responding => None,
                            _ => Some(now + self.settings.header_timeout),
                        };
                    }
                    if shutting_down && phase == Phase::Idle && slot.conn.output().is_empty() {
                        self.close(index, None);
                    }
                    return;
                }
                Outcome::Close(reason) => return self.close(index, reason),
                Outcome::Event(Event::BodyTooLarge(request)) => {
                    let response = worker::too_large_response(
                        &self.pool.app,
                        &request.params,
                        self.settings.limits.max_body,
                    );
                    self.answer_here(index, &request, response);
                }
                Outcome::Event(Event::HeadersTooLarge(request, reason)) => {
                    log::warn!("request params refused: {reason}");
                    let response = worker::headers_too_large_response(&self.pool.app, &reason);
                    self.answer_here(index, &request, response);
                }
                Outcome::Event(Event::Request(request)) => return self.dispatch(index, request),
            }
        }
    }

    fn dispatch(&mut self, index: usize, request: ReceivedRequest) {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return;
        };
        let Some(stream) = slot.stream.take() else {
            return;
        };
        slot.phase = Phase::Responding;
        slot.deadline = None;
        self.pool.queue.push(Job {
            token: index,
            stream,
            request,
            received: Instant::now(),
        });
    }

    /// Answers from the event loop (413, 503): small responses queued on the connection.
    pub(super) fn answer_here(
        &mut self,
        index: usize,
        request: &ReceivedRequest,
        response: crate::response::HttpResponse,
    ) {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return;
        };
        let line = AccessLine::new(&request.params, Instant::now());
        let status = response.status;
        let mut bytes = Vec::new();
        match worker::write_fastcgi_response(response, request.id, &mut bytes) {
            Ok(count) => line.log(status, count),
            Err(err) => log::error!("could not build a {status} answer: {err}"),
        }
        slot.conn.push_output(&bytes);
        if let Err(err) = slot.conn.response_done() {
            slot.conn.close();
            log::warn!("dropped connection: {err}");
        }
    }
}

/// Flushes replies and reads requests on one connection until it must wait or has news.
fn drive(slot: &mut Slot, buf: &mut [u8]) -> Outcome {
    let Some(stream) = slot.stream.as_ref() else {
        return Outcome::Wait(false);
    };
    let mut progressed = false;
    loop {
        while !slot.conn.output().is_empty() {
            match (&mut &*stream).write(slot.conn.output()) {
                Ok(0) => return Outcome::Close(Some("the web server stopped reading".into())),
                Ok(n) => slot.conn.consume_output(n),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Outcome::Close(Some(format!("write failed: {err}"))),
            }
        }
        if let Some(event) = slot.conn.next_event() {
            return Outcome::Event(event);
        }
        if slot.conn.phase() == Phase::Closed && slot.conn.output().is_empty() {
            return Outcome::Close(None);
        }
        if !slot.conn.wants_input() || slot.conn.output().len() >= OUTPUT_HIGH_WATER {
            return Outcome::Wait(progressed);
        }
        match (&mut &*stream).read(buf) {
            Ok(0) => {
                return match slot.conn.receive_eof() {
                    Ok(()) => Outcome::Close(None),
                    Err(err) => Outcome::Close(Some(err.to_string())),
                };
            }
            Ok(n) => {
                progressed = true;
                if let Err(err) = slot.conn.receive(buf.get(..n).unwrap_or_default()) {
                    return Outcome::Close(Some(err.to_string()));
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                return Outcome::Wait(progressed);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Outcome::Close(Some(format!("read failed: {err}"))),
        }
    }
}
