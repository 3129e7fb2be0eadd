//! One FastCGI connection's state machine, sans IO: bytes read from the web server go in,
//! protocol replies (END_REQUEST, UNKNOWN_TYPE, GET_VALUES_RESULT) and complete requests come
//! out. The server's event loop drives it; a fuzz target drives it with arbitrary bytes.
//!
//! One request at a time (FCGI_MPXS_CONNS = 0). After it hands out a request the machine
//! pauses until [`Connection::response_done`], so bytes the web server sent early wait in the
//! buffer and are read in order afterwards.
//!
//! Memory: the records of a read are handled where they lie (the owner's read buffer), and a
//! body's FCGI_STDIN records piece by piece as their bytes come, so between reads a
//! connection holds only an unfinished header or non-body record (params: at most one record,
//! 64 KiB) and, paused, what followed its request; nothing once it is idle.

use std::collections::VecDeque;

use super::pairs::{Pairs, ParamsDecoder, push_get_values_result};
use super::record::{
    BeginRequest, HEADER_LEN, Header, MAX_CONTENT_LEN, Record, RecordError, kind, parse_record,
    push_unknown_type,
};
pub use crate::fastcgi::protocol::event::{ConnError, ConnLimits, Event, Phase, ReceivedRequest};

#[derive(Debug)]
pub(super) enum State {
    Idle,
    Params {
        id: u16,
        keep_conn: bool,
        decoder: ParamsDecoder,
    },
    /// The params passed a limit: the rest of them is read and dropped, then 431.
    SkippingParams {
        id: u16,
        keep_conn: bool,
        reason: RecordError,
    },
    Body {
        id: u16,
        keep_conn: bool,
        params: Pairs,
        /// The part of the body still held here (the owner may take it, see `take_body`).
        body: Vec<u8>,
        /// Every body byte received, taken or not: what the limit counts.
        received: u64,
    },
    Responding {
        keep_conn: bool,
        discard_stdin_of: Option<u16>,
    },
    Discarding {
        id: u16,
        keep_conn: bool,
    },
    Closed,
}

/// One connection, from the application's side.
#[derive(Debug)]
pub struct Connection {
    pub(super) state: State,
    pub(super) input: Vec<u8>,
    pub(super) output: Vec<u8>,
    /// Bytes at the front of `output` already written.
    pub(super) output_sent: usize,
    pub(super) events: VecDeque<Event>,
    pub(super) limits: ConnLimits,
    /// What is still to come of an FCGI_STDIN record whose first part was handled.
    stdin_left: Option<StdinLeft>,
}

/// The rest of an FCGI_STDIN record taken piece by piece: content bytes for the body of
/// request `id`, then padding.
#[derive(Clone, Copy, Debug)]
struct StdinLeft {
    id: u16,
    content: usize,
    padding: usize,
}

impl StdinLeft {
    /// The record at the start of `input` when it is an FCGI_STDIN record of a request, with
    /// content, whose header is here but not all of it.
    fn begun(input: &[u8]) -> Option<StdinLeft> {
        let header = Header::parse(*input.first_chunk::<HEADER_LEN>()?).ok()?;
        (header.record_type == kind::STDIN
            && header.request_id != 0
            && header.content_length > 0
            && input.len() < header.record_len())
        .then_some(StdinLeft {
            id: header.request_id,
            content: usize::from(header.content_length),
            padding: usize::from(header.padding_length),
        })
    }

    /// What is left after `content` more bytes of content and `skipped` of padding.
    fn after(self, content: usize, skipped: usize) -> Option<StdinLeft> {
        let rest = StdinLeft {
            content: self.content.saturating_sub(content),
            padding: self.padding.saturating_sub(skipped),
            ..self
        };
        (rest.content + rest.padding > 0).then_some(rest)
    }
}

impl Connection {
    /// A connection that has received nothing yet.
    pub fn new(limits: ConnLimits) -> Connection {
        Connection {
            state: State::Idle,
            input: Vec::new(),
            output: Vec::new(),
            output_sent: 0,
            events: VecDeque::new(),
            limits,
            stdin_left: None,
        }
    }

    /// Takes bytes read from the web server and handles every complete record, stopping after
    /// one that produces an event. An error means: send nothing more, close.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        if matches!(self.state, State::Closed) {
            return Ok(());
        }
        let mut rest = bytes;
        if !self.input.is_empty() {
            // A record begun in an earlier read: complete it with only the bytes it lacks
            // (its header first, then the rest of it unless it is a body record, which is
            // taken piece by piece), so what stays held is one record at most.
            for _ in 0..2 {
                let lacking = match self.stdin_left {
                    Some(_) => 0,
                    None => record_lacks(&self.input),
                };
                self.input.reserve_exact(lacking);
                let (head, tail) = rest.split_at(lacking.min(rest.len()));
                self.input.extend_from_slice(head);
                rest = tail;
            }
            self.process()?;
            if !self.input.is_empty() || !self.wants_input() {
                self.input.extend_from_slice(rest);
                return Ok(());
            }
        }
        // The records in this read are handled where they lie; only an unfinished one (or,
        // once a request is handed out, what follows it) is copied, to be held.
        let (used, result) = self.process_slice(rest);
        self.hold(rest.get(used..).unwrap_or_default());
        result
    }

    /// Whether nothing read is held past the request being answered (no byte of a next
    /// record).
    pub fn holds_nothing_more(&self) -> bool {
        self.input.is_empty() && self.stdin_left.is_none()
    }

    /// The web server closed its side. Fine between requests; an error inside one.
    pub fn receive_eof(&mut self) -> Result<(), ConnError> {
        let nothing_held = self.input.is_empty() && self.stdin_left.is_none();
        let inside = match (&self.state, nothing_held) {
            (State::Idle | State::Closed | State::Responding { .. }, true) => None,
            (State::Idle, false) => Some("a record"),
            (State::Params { .. } | State::SkippingParams { .. }, _) => Some("request params"),
            (State::Body { .. }, _) => Some("a request body"),
            // The request was answered (413); a web server that stops sending the rest of
            // the body and closes has simply understood the answer.
            (State::Discarding { .. }, _) => None,
            (State::Responding { .. } | State::Closed, false) => None,
        };
        self.state = State::Closed;
        match inside {
            Some(inside) => Err(ConnError::Eof { inside }),
            None => Ok(()),
        }
    }

    /// The next request or 413 to answer, in order.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Replies to send, in order, before anything else is written to this connection.
    pub fn output(&self) -> &[u8] {
        self.output.get(self.output_sent..).unwrap_or_default()
    }

    /// `count` bytes of [`Connection::output`] were written. The buffer is compacted only
    /// when most of it is sent, so a large answer written piece by piece is not moved again
    /// and again; a large buffer is freed once empty.
    pub fn consume_output(&mut self, count: usize) {
        self.output_sent = self
            .output_sent
            .saturating_add(count)
            .min(self.output.len());
        if self.output_sent == self.output.len() {
            if self.output.capacity() > 1 << 20 {
                self.output = Vec::new();
            }
            self.output.clear();
            self.output_sent = 0;
        } else if self.output_sent >= 64 * 1024 && self.output_sent * 2 >= self.output.len() {
            self.output.drain(..self.output_sent);
            self.output_sent = 0;
        }
    }

    /// Queues bytes the owner built (a 413 or 503 answer written from the event loop).
    pub fn push_output(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    /// Queues bytes the owner built, taking the buffer itself when nothing else waits.
    pub fn push_output_vec(&mut self, bytes: Vec<u8>) {
        if self.output().is_empty() {
            self.output = bytes;
            self.output_sent = 0;
        } else {
            self.output.extend_from_slice(&bytes);
        }
    }

    /// The response to the event handed out (END_REQUEST included) is sent or queued: go on
    /// with the buffered input, or close without FCGI_KEEP_CONN (spec §5.1).
    pub fn response_done(&mut self) -> Result<(), ConnError> {
        let State::Responding {
            keep_conn,
            discard_stdin_of,
        } = self.state
        else {
            return Ok(());
        };
        self.state = match discard_stdin_of {
            Some(id) => State::Discarding { id, keep_conn },
            None => between_requests(keep_conn),
        };
        let processed = self.process();
        if self.input.is_empty() {
            self.input = Vec::new();
        }
        processed
    }

    /// Body bytes of the request being received that are held here (not yet taken).
    pub fn body_buffered(&self) -> usize {
        match &self.state {
            State::Body { body, .. } => body.len(),
            _ => 0,
        }
    }

    /// Takes the body bytes held so far (the owner spills them to a file when buffered bodies
    /// pass its memory budget); the request handed out later carries only the bytes after.
    pub fn take_body(&mut self) -> Vec<u8> {
        match &mut self.state {
            State::Body { body, .. } => std::mem::take(body),
            _ => Vec::new(),
        }
    }

    /// Refuses the body being received (the owner can neither hold nor spill it): returns
    /// the request with its params and no body, to be answered (503) and then
    /// [`response_done`](Self::response_done); the rest of FCGI_STDIN is read and dropped, as
    /// after a 413. `None` when no body is being received.
    pub fn refuse_body(&mut self) -> Option<ReceivedRequest> {
        if !matches!(self.state, State::Body { .. }) {
            return None;
        }
        let State::Body {
            id,
            keep_conn,
            params,
            ..
        } = std::mem::replace(&mut self.state, State::Closed)
        else {
            return None;
        };
        self.state = State::Responding {
            keep_conn,
            discard_stdin_of: Some(id),
        };
        Some(ReceivedRequest {
            id,
            keep_conn,
            params,
            body: Vec::new(),
        })
    }

    /// Where the connection stands, for the owner's timers and read interest.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Idle if self.input.is_empty() && self.stdin_left.is_none() => Phase::Idle,
            State::Idle | State::Params { .. } | State::SkippingParams { .. } => Phase::Head,
            State::Body { .. } | State::Discarding { .. } => Phase::Body,
            State::Responding { .. } => Phase::Responding,
            State::Closed => Phase::Closed,
        }
    }

    /// Whether the owner should read more: not while a response is owed, nor after closing.
    pub fn wants_input(&self) -> bool {
        !matches!(self.phase(), Phase::Responding | Phase::Closed)
    }

    /// Abandons the connection (a timeout, a shutdown): nothing more is read or produced.
    pub fn close(&mut self) {
        self.state = State::Closed;
    }

    /// Handles the records held in `input` (see [`Connection::process_slice`]).
    fn process(&mut self) -> Result<(), ConnError> {
        let input = std::mem::take(&mut self.input);
        let (used, result) = self.process_slice(&input);
        self.input = input;
        self.input.drain(..used.min(self.input.len()));
        result
    }

    /// Holds `rest` as the input still to handle: a connection keeps at most one unfinished
    /// record between reads, not a read's worth, in a buffer no larger than a record (the
    /// one it has, reused from read to read) and none once nothing is left.
    fn hold(&mut self, rest: &[u8]) {
        self.input.clear();
        if rest.is_empty() {
            self.input = Vec::new();
            return;
        }
        if self.input.capacity() > MAX_RECORD_LEN {
            self.input.shrink_to(rest.len());
        }
        self.input.reserve_exact(rest.len());
        self.input.extend_from_slice(rest);
    }

    /// Handles every complete record of `input` while the machine wants input; returns the
    /// bytes used. An error closes the connection.
    fn process_slice(&mut self, input: &[u8]) -> (usize, Result<(), ConnError>) {
        let mut pos = 0;
        let mut result = Ok(());
        while self.wants_input() {
            let here = input.get(pos..).unwrap_or_default();
            if let Some(left) = self.stdin_left {
                // The rest of an FCGI_STDIN record begun earlier: its content goes to the
                // body as it comes, its padding is skipped.
                let content = left.content.min(here.len());
                let skip = left.padding.min(here.len() - content);
                if content + skip == 0 {
                    break;
                }
                pos += content + skip;
                self.stdin_left = left.after(content, skip);
                if content > 0
                    && let Err(err) = self.stdin(left.id, here.get(..content).unwrap_or_default())
                {
                    result = Err(err);
                    break;
                }
                continue;
            }
            match parse_record(here) {
                Ok(Some((record, used))) => {
                    pos += used;
                    if let Err(err) = self.handle(record) {
                        result = Err(err);
                        break;
                    }
                }
                Ok(None) => match StdinLeft::begun(here) {
                    // An FCGI_STDIN record not all here is taken piece by piece: a
                    // connection never holds a body's record between reads.
                    Some(left) => {
                        pos += HEADER_LEN;
                        self.stdin_left = Some(left);
                    }
                    None => break,
                },
                Err(err) => {
                    result = Err(err.into());
                    break;
                }
            }
        }
        if result.is_err() {
            self.state = State::Closed;
        }
        (pos, result)
    }

    fn handle(&mut self, record: Record<'_>) -> Result<(), ConnError> {
        let id = record.header.request_id;
        let record_type = record.header.record_type;
        match (record_type, id) {
            (kind::GET_VALUES, 0) => {
                push_get_values_result(&mut self.output, record.content, &self.limits.figures)?;
                Ok(())
            }
            // Spec §4.2: a management record of a type we do not know.
            (12.., 0) => {
                push_unknown_type(&mut self.output, record_type);
                Ok(())
            }
            (_, 0) => Err(unexpected(record_type, id)),
            (kind::BEGIN_REQUEST, _) => self.begin(id, BeginRequest::parse(record.content)?),
            (kind::ABORT_REQUEST, _) => {
                self.abort(id);
                Ok(())
            }
            (kind::PARAMS, _) => self.params(id, record.content),
            (kind::STDIN, _) => self.stdin(id, record.content),
            // FCGI_DATA belongs to the Filter role; types past 11 are for future versions.
            (kind::DATA | 12.., _) => Ok(()),
            // END_REQUEST, STDOUT, STDERR, GET_VALUES(_RESULT) on a request id, UNKNOWN_TYPE.
            _ => Err(unexpected(record_type, id)),
        }
    }

    pub(super) fn current_id(&self) -> Option<u16> {
        active_id(&self.state)
    }
}

pub(super) fn unexpected(record_type: u8, request_id: u16) -> ConnError {
    ConnError::Unexpected {
        record_type,
        request_id,
    }
}

/// The longest record: header, content and padding.
const MAX_RECORD_LEN: usize = HEADER_LEN + MAX_CONTENT_LEN + 255;

/// How many more bytes the record begun in `input` needs before it can be parsed: the rest
/// of its header, else the rest of the record (0 once it is whole).
fn record_lacks(input: &[u8]) -> usize {
    match input.first_chunk::<HEADER_LEN>() {
        None => HEADER_LEN - input.len(),
        // An FCGI_STDIN record is taken piece by piece: its header is enough.
        Some(_) if StdinLeft::begun(input).is_some() => 0,
        Some(head) => {
            Header::parse(*head).map_or(0, |header| header.record_len().saturating_sub(input.len()))
        }
    }
}

/// After a request: wait for the next, or close without FCGI_KEEP_CONN (spec §5.1).
pub(super) fn between_requests(keep_conn: bool) -> State {
    if keep_conn {
        State::Idle
    } else {
        State::Closed
    }
}

/// The request id being received, if any.
pub(super) fn active_id(state: &State) -> Option<u16> {
    match *state {
        State::Params { id, .. }
        | State::SkippingParams { id, .. }
        | State::Body { id, .. }
        | State::Discarding { id, .. } => Some(id),
        _ => None,
    }
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
