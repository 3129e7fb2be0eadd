//! CGI meta-variables (RFC 3875 §4.1) to a `Request`, and the body rules every transport
//! applies (what CONTENT_LENGTH says, the limit, a short body).

use std::borrow::Cow;
use std::fmt;
use std::io;

use crate::error::HttpError;
use crate::http::Method;
use crate::params::Params;
use crate::query::Args;
use crate::request::{Environ, Request};

/// What CONTENT_LENGTH says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentLength {
    /// Absent or empty (nginx sends it empty on GET, and for a chunked unbuffered body).
    Absent,
    /// Not a decimal number: Pycnic reads no body.
    Invalid,
    /// A length in bytes.
    Bytes(u64),
}

/// Reads CONTENT_LENGTH from the params (the first one, if the client sent several).
pub fn content_length(params: &Params) -> ContentLength {
    let Some((_, value)) = params.iter().find(|(n, _)| n == b"CONTENT_LENGTH") else {
        return ContentLength::Absent;
    };
    let text = String::from_utf8_lossy(value);
    let text = text.trim();
    if text.is_empty() {
        return ContentLength::Absent;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return ContentLength::Invalid;
    }
    // More digits than u64 holds is still "too large", not "invalid".
    ContentLength::Bytes(text.parse().unwrap_or(u64::MAX))
}

/// How many body bytes a request is to get, by Pycnic's CGI rules: `Some(n)`, exactly `n`
/// (a CONTENT_LENGTH that is not a number means no body); `None`, no length was sent and the
/// transport's own end of stream decides (FastCGI's empty FCGI_STDIN; a CGI program, which has
/// no such end, reads nothing). A length over `max_body` is refused before anything is read.
pub fn expected_body(params: &Params, max_body: u64) -> Result<Option<u64>, BodyError> {
    match content_length(params) {
        ContentLength::Absent => Ok(None),
        ContentLength::Invalid => Ok(Some(0)),
        ContentLength::Bytes(n) if n > max_body => Err(BodyError::TooLarge { declared: Some(n) }),
        ContentLength::Bytes(n) => Ok(Some(n)),
    }
}

/// Why a request gets no body: each becomes the same JSON error on both transports.
#[derive(Debug)]
pub enum BodyError {
    /// Over the body limit, by CONTENT_LENGTH or (`None`) by what the transport carried.
    TooLarge {
        /// The length CONTENT_LENGTH announced, if it did.
        declared: Option<u64>,
    },
    /// The body ended before CONTENT_LENGTH bytes.
    Short {
        /// The bytes CONTENT_LENGTH announced.
        expected: u64,
        /// The bytes that came.
        got: usize,
    },
    /// The body did not arrive in time.
    TimedOut,
    /// Reading the body failed.
    Io(io::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge {
                declared: Some(len),
            } => write!(f, "body of {len} bytes over the limit"),
            BodyError::TooLarge { declared: None } => f.write_str("body over the limit"),
            BodyError::Short { expected, got } => {
                write!(f, "body ended after {got} of {expected} bytes")
            }
            BodyError::TimedOut => f.write_str("timed out reading the body"),
            BodyError::Io(err) => write!(f, "body could not be read: {err}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl BodyError {
    /// The answer: 413, 400 or 408 with Pycnic's JSON body.
    pub fn into_http(self, max_body: u64) -> HttpError {
        match self {
            BodyError::TooLarge {
                declared: Some(len),
            } => HttpError::payload_too_large(format!(
                "Request body of {len} bytes is over the limit of {max_body} bytes"
            )),
            BodyError::TooLarge { declared: None } => HttpError::payload_too_large(format!(
                "Request body is over the limit of {max_body} bytes"
            )),
            BodyError::Short { expected, got } => HttpError::bad_request(format!(
                "Request body ended after {got} of {expected} bytes"
            )),
            BodyError::TimedOut => HttpError::request_timeout("Timed out reading the request body"),
            BodyError::Io(err) => {
                HttpError::bad_request(format!("Could not read the request body: {err}"))
            }
        }
    }
}

/// Builds the request a handler sees from meta-variables and the body already read.
pub fn build_request(params: Params, body: Vec<u8>) -> Request {
    // QUERY_STRING is parsed from its bytes, before the params become text.
    let from_params = params.get(b"QUERY_STRING").map(Args::parse);
    // The params' buffer becomes the variables' text (copied only when not UTF-8).
    let environ = Environ::from_params(params);

    // RFC 3875 §4.1.12: the server must send REQUEST_METHOD. Without it the method stays
    // empty, and `App::handle` answers 500 naming the variable instead of guessing GET.
    // One of the nine methods, as sent, is a borrowed name: no copy for the usual request.
    let sent = environ.get("REQUEST_METHOD").unwrap_or_default().trim();
    let method = match Method::ALL.into_iter().find(|m| m.as_str() == sent) {
        Some(known) => Cow::Borrowed(known.as_str()),
        None => Cow::Owned(sent.to_ascii_uppercase()),
    };
    let path = crate::target::request_path(&environ);
    let args = from_params.unwrap_or_else(|| {
        let query = environ
            .get("REQUEST_URI")
            .and_then(|uri| uri.split_once('?'))
            .map(|(_, q)| q.as_bytes())
            .unwrap_or_default();
        Args::parse(query)
    });
    Request {
        method,
        path,
        environ,
        headers: Default::default(),
        cookies: Default::default(),
        args,
        body,
        data: Default::default(),
        route_args: Vec::new(),
        trusted_proxy: false,
        sessions: None,
        session: Default::default(),
    }
}

#[cfg(test)]
#[path = "variables_tests.rs"]
mod tests;
