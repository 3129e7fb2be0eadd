//! One connection's turns: read a head, answer `Expect: 100-continue`, read the body, answer
//! through the gateway, write the HTTP/1.1 answer, and go on while the connection is kept
//! alive (pipelined requests wait in the input). A request that cannot be read gets its JSON
//! error and the connection closes. Works on any `Read + Write`, so the fuzz target and the
//! unit tests drive it on bytes.

use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime};

use crate::app::App;
use crate::error::HttpError;
use crate::gateway::Params;

use super::body::{read_chunked, read_length};
use super::error::RequestError;
use super::exchange::{Peer, answer, params_for};
use super::head::{Framing, Head, MAX_HEAD, parse_head};
use super::input::Input;
use super::reply::{self, to_http};

/// What a connection allows.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `--max-body`.
    pub max_body: u64,
    /// How long one request (head and body) may take to arrive.
    pub request_time: Duration,
}

/// Serves requests on `stream` until the client closes, asks to close, or sends what cannot be
/// answered; `log` gets one access line per answer.
pub fn serve_connection<S: Read + Write>(
    stream: S,
    app: &App,
    limits: &Limits,
    peer: &Peer,
    log: &mut dyn FnMut(&AccessLine<'_>),
) {
    let mut input = Input::new(stream);
    loop {
        input.set_deadline(None);
        let head = match read_head(&mut input, limits) {
            Ok(Some(head)) => head,
            // A clean end, or an idle keep-alive connection timing out: close quietly.
            Ok(None) => return,
            Err(err) => return refuse(&mut input, app, err, log),
        };
        let started = Instant::now();
        let body = match read_body(&mut input, &head, limits) {
            Ok(body) => body,
            Err(err) if err.status().is_none() => return,
            Err(err) => return refuse(&mut input, app, err, log),
        };
        let keep_alive = head.keep_alive();
        let params = params_for(&head, peer, body.as_ref().map(Vec::len));
        let response = answer(app, params, Ok(body.unwrap_or_default()));
        let status = response.status;
        let framing = reply::Framing {
            http_1_0: head.minor_version == 0,
            keep_alive,
        };
        let written = write_answer(&mut input, response, framing);
        log(&AccessLine {
            method: &head.method,
            target: &head.target,
            status,
            bytes: written.unwrap_or(0),
            took: started.elapsed(),
        });
        if written.is_none() || !keep_alive {
            return;
        }
    }
}

/// One answered request, for the access log.
#[derive(Debug)]
pub struct AccessLine<'a> {
    /// The method as sent.
    pub method: &'a str,
    /// The target as sent.
    pub target: &'a str,
    /// The answer's status.
    pub status: u16,
    /// The bytes written.
    pub bytes: usize,
    /// From the end of the head to the answer written.
    pub took: Duration,
}

/// The next head: `Ok(None)` when the client closed (or stayed idle) between requests.
fn read_head<S: Read>(input: &mut Input<S>, limits: &Limits) -> Result<Option<Head>, RequestError> {
    loop {
        if !input.pending().is_empty() {
            if let Some((head, used)) = parse_head(input.pending())? {
                input.consume(used);
                return Ok(Some(head));
            }
            if input.pending().len() > MAX_HEAD {
                return Err(RequestError::HeadTooLarge);
            }
        }
        let idle = input.pending().is_empty();
        match input.fill() {
            Ok(0) if idle => return Ok(None),
            Ok(0) => return Err(RequestError::Closed),
            Ok(_) if idle => input.set_deadline(Some(Instant::now() + limits.request_time)),
            Ok(_) => {}
            Err(RequestError::TimedOut) if idle => return Ok(None),
            Err(err) => return Err(err),
        }
    }
}

/// The body by the head's framing, after a `100 Continue` when the client waits for one.
fn read_body<S: Read + Write>(
    input: &mut Input<S>,
    head: &Head,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, RequestError> {
    let framing = head.framing()?;
    if let Framing::Length(len) = framing
        && len > limits.max_body
    {
        return Err(RequestError::BodyTooLarge {
            declared: Some(len),
            limit: limits.max_body,
        });
    }
    if framing != Framing::None
        && head.minor_version == 1
        && head.has_token("Expect", "100-continue")
        && input.pending().is_empty()
        && input
            .stream()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .is_err()
    {
        return Err(RequestError::Closed);
    }
    match framing {
        Framing::None => Ok(None),
        Framing::Length(len) => read_length(input, len).map(Some),
        Framing::Chunked => read_chunked(input, limits.max_body).map(Some),
    }
}

/// Writes the answer; the bytes written, or `None` when the client is gone. A streamed body
/// goes out chunked as it comes (to an HTTP/1.0 client, whole with its length).
fn write_answer<S: Read + Write>(
    input: &mut Input<S>,
    response: crate::response::HttpResponse,
    framing: reply::Framing,
) -> Option<usize> {
    if matches!(response.body, crate::response::Body::Stream(_)) && !framing.http_1_0 {
        let mut chunked = reply::ChunkedAnswer::new(input.stream(), framing);
        crate::gateway::write_response(response, &mut chunked).ok()?;
        return chunked.finish().ok();
    }
    let mut cgi = Vec::new();
    crate::gateway::write_response(response, &mut cgi).ok()?;
    let http = to_http(&cgi, framing, SystemTime::now())?;
    let stream = input.stream();
    stream.write_all(&http).ok()?;
    stream.flush().ok()?;
    Some(http.len())
}

/// Answers a request that could not be read with its JSON error, and closes.
fn refuse<S: Read + Write>(
    input: &mut Input<S>,
    app: &App,
    err: RequestError,
    log: &mut dyn FnMut(&AccessLine<'_>),
) {
    let Some(status) = err.status() else {
        return;
    };
    log::info!("request refused: {err}");
    let response = answer(
        app,
        Params::new(),
        Err(HttpError::new(status, err.message())),
    );
    let framing = reply::Framing {
        http_1_0: false,
        keep_alive: false,
    };
    let bytes = write_answer(input, response, framing).unwrap_or(0);
    log(&AccessLine {
        method: "-",
        target: "-",
        status,
        bytes,
        took: Duration::ZERO,
    });
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
