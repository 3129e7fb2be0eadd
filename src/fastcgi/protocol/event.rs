//! What a FastCGI connection hands its owner: the limits it enforces, the requests it has
//! received, the events to answer, why it must close, and the phase that drives its timers.

use std::fmt;

use super::pairs::{Figures, Pairs};
use super::record::RecordError;

/// What one connection may receive, and what GET_VALUES reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// The most FCGI_PARAMS bytes one request may send (`--max-params-bytes`).
    pub max_params_bytes: usize,
    /// The most name-value pairs one request may send (`--max-params`).
    pub max_params_count: usize,
    /// The largest body accepted (`--max-body`); past it the request is answered 413.
    pub max_body: u64,
    /// What FCGI_GET_VALUES answers (FCGI_MAX_CONNS, FCGI_MAX_REQS).
    pub figures: Figures,
}

/// A Responder request whose params (and body, unless over the limit) have arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// The FastCGI request id, repeated in every record of the answer.
    pub id: u16,
    /// FCGI_KEEP_CONN: the web server keeps the connection open after the answer.
    pub keep_conn: bool,
    /// The CGI meta-variables (FCGI_PARAMS), in the order they came.
    pub params: Pairs,
    /// The body (FCGI_STDIN) as received, at most the body limit.
    pub body: Vec<u8>,
}

/// What the connection asks its owner to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Run the app and send its response, then call [`Connection::response_done`](crate::fastcgi::protocol::conn::Connection::response_done).
    Request(ReceivedRequest),
    /// The body passed the limit (by CONTENT_LENGTH or by what FCGI_STDIN carried): answer
    /// 413, then call [`Connection::response_done`](crate::fastcgi::protocol::conn::Connection::response_done); the rest of FCGI_STDIN is read and dropped,
    /// so the web server never writes into a closed socket and loses the answer.
    BodyTooLarge(ReceivedRequest),
    /// The params passed `max_params_bytes` or `max_params_count`: answer 431 (RFC 6585 §5:
    /// nearly all params are request headers), then call [`Connection::response_done`](crate::fastcgi::protocol::conn::Connection::response_done). The
    /// rest of the params and of FCGI_STDIN were or will be read and dropped. The request
    /// carries no params.
    HeadersTooLarge(ReceivedRequest, RecordError),
}

/// Why a connection must be closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnError {
    /// A record that cannot be decoded.
    Record(RecordError),
    /// A record a web server never sends, or one out of place in the request it names.
    Unexpected {
        /// The record's type.
        record_type: u8,
        /// The request id it names.
        request_id: u16,
    },
    /// The web server closed the connection inside a record or a request.
    Eof {
        /// What was being received: a record, params or a body.
        inside: &'static str,
    },
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnError::Record(err) => write!(f, "malformed record: {err}"),
            ConnError::Unexpected {
                record_type,
                request_id,
            } => write!(
                f,
                "unexpected record type {record_type} for request {request_id}"
            ),
            ConnError::Eof { inside } => write!(f, "connection closed inside {inside}"),
        }
    }
}

impl std::error::Error for ConnError {}

impl From<RecordError> for ConnError {
    fn from(err: RecordError) -> ConnError {
        ConnError::Record(err)
    }
}

/// Where the connection stands, for the owner's timers and read interest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Between requests, nothing buffered: the idle keep-alive timer applies.
    Idle,
    /// A request (or a record) has begun and its params are not complete: header-read timer.
    Head,
    /// Reading (or discarding) FCGI_STDIN: the timer restarts with each arrival.
    Body,
    /// An event was handed out; nothing is read until `response_done`.
    Responding,
    /// Close once the output is sent.
    Closed,
}
