//! Why a request read by `serve` gets no answer from the app: each becomes Pycnic's JSON
//! error with its status (400, 408, 413, 431, 501), or a quiet close when nobody is listening.

use std::fmt;
use std::io;

/// What went wrong reading one request off a connection.
#[derive(Debug)]
pub enum RequestError {
    /// Not HTTP/1.x as RFC 9112 writes it (400).
    Malformed(String),
    /// The request line and headers passed the head limit, or too many headers (431).
    HeadTooLarge,
    /// Both `Transfer-Encoding` and `Content-Length`: a request smuggling attempt (400).
    Smuggling,
    /// A `Transfer-Encoding` other than `chunked` (501).
    UnsupportedEncoding(String),
    /// The body passed `--max-body` (413), by its `Content-Length` when it had one.
    BodyTooLarge {
        /// The length `Content-Length` announced, if it did.
        declared: Option<u64>,
        /// The limit.
        limit: u64,
    },
    /// The client was too slow sending the request (408).
    TimedOut,
    /// The client closed the connection in the middle of a request: nobody to answer.
    Closed,
    /// Reading failed: nobody to answer.
    Io(io::Error),
}

impl RequestError {
    /// The status of the answer, or `None` when the connection is simply closed.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Malformed(_) | RequestError::Smuggling => Some(400),
            RequestError::HeadTooLarge => Some(431),
            RequestError::UnsupportedEncoding(_) => Some(501),
            RequestError::BodyTooLarge { .. } => Some(413),
            RequestError::TimedOut => Some(408),
            RequestError::Closed | RequestError::Io(_) => None,
        }
    }

    /// The message of the JSON error, as a client reads it.
    pub fn message(&self) -> String {
        match self {
            RequestError::Malformed(why) => format!("Malformed request: {why}"),
            RequestError::HeadTooLarge => "Request header fields too large".to_string(),
            RequestError::Smuggling => {
                "Transfer-Encoding and Content-Length in one request".to_string()
            }
            RequestError::UnsupportedEncoding(te) => {
                format!("Transfer-Encoding {te:?} is not supported (only chunked)")
            }
            RequestError::BodyTooLarge {
                declared: Some(len),
                limit,
            } => format!("Request body of {len} bytes is over the limit of {limit} bytes"),
            RequestError::BodyTooLarge {
                declared: None,
                limit,
            } => format!("Request body is over the limit of {limit} bytes"),
            RequestError::TimedOut => "Timed out reading the request".to_string(),
            RequestError::Closed => "Connection closed".to_string(),
            RequestError::Io(err) => format!("Could not read the request: {err}"),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Malformed(why) => write!(f, "malformed request: {why}"),
            RequestError::HeadTooLarge => f.write_str("request head over the limit"),
            RequestError::Smuggling => f.write_str("transfer-encoding with content-length"),
            RequestError::UnsupportedEncoding(te) => {
                write!(f, "unsupported transfer-encoding {te:?}")
            }
            RequestError::BodyTooLarge { limit, .. } => {
                write!(f, "body over the limit of {limit} bytes")
            }
            RequestError::TimedOut => f.write_str("timed out reading the request"),
            RequestError::Closed => f.write_str("client closed the connection mid-request"),
            RequestError::Io(err) => write!(f, "read failed: {err}"),
        }
    }
}

impl std::error::Error for RequestError {}
