//! An `HttpResponse` framed as FastCGI records: its CGI bytes (the gateway's, so FastCGI and CGI
//! answer alike) as FCGI_STDOUT, the end of the stream and END_REQUEST, in one buffer for one
//! write, or flushed chunk by chunk for a streamed body.

use std::io::{self, Write};

use crate::gateway;
use crate::response::{Body, HttpResponse};

use super::framing::{StreamRecords, push_record_with};
use super::record::{
    HEADER_LEN, MAX_CONTENT_LEN, ProtocolStatus, kind, push_end_request, push_stream,
    push_stream_end,
};

/// Writes `response` as FCGI_STDOUT records, the end of the stream and END_REQUEST into
/// `sink`. Returns the body bytes written, for the access log.
pub fn write_fastcgi_response<W: Write>(
    response: HttpResponse,
    id: u16,
    sink: &mut W,
) -> io::Result<u64> {
    let full = full_body_len(&response);
    let mut tail = Vec::new();
    let framed = frame_fastcgi_response(response, id, sink, &mut tail)?;
    sink.write_all(&tail)?;
    Ok(full.unwrap_or(framed.body))
}

/// The body's length when it is whole (not streamed), for the access log.
pub fn full_body_len(response: &HttpResponse) -> Option<u64> {
    match &response.body {
        Body::Full(body) => Some(body.len() as u64),
        Body::Stream(_) => None,
    }
}

/// What framing a response wrote as FCGI_STDOUT.
#[derive(Clone, Copy, Debug)]
pub struct Framed {
    /// All but the first write, which is the head (all of a whole response, see
    /// [`full_body_len`]): the body of a streamed response.
    pub body: u64,
}

/// The bytes END_REQUEST and the empty FCGI_STDOUT record that ends the stream take.
const ENDING_LEN: usize = 3 * HEADER_LEN;

/// Frames `response` as FCGI_STDOUT records, the end of the stream and END_REQUEST, appended
/// to `out`. A full response (head, body, end and END_REQUEST) is all left in `out`, for the
/// caller to send in one write: its records are written in place, `out` grown at most once
/// (a buffer reused across requests is not grown at all), and the response's own buffers are
/// given back for this thread's next answer. A streamed response's head and chunks are
/// written to `sink` as the gateway flushes them (each chunk as it comes, with whatever `out`
/// held before); only its end is left in `out`. Also returns the FCGI_STDOUT byte counts.
pub fn frame_fastcgi_response<W: Write>(
    response: HttpResponse,
    id: u16,
    sink: &mut W,
    out: &mut Vec<u8>,
) -> io::Result<Framed> {
    let body = match &response.body {
        Body::Full(body) => {
            let head_len = gateway::head_len(response.status, &response.headers);
            let content_len = head_len + body.len();
            out.reserve(StreamRecords::framed_len(content_len) + ENDING_LEN);
            if content_len <= MAX_CONTENT_LEN {
                // The usual answer: one record, the head written straight into it.
                push_record_with(out, kind::STDOUT, id, |out| {
                    // Writing into a Vec cannot fail.
                    let _ = gateway::write_head(response.status, &response.headers, out);
                    out.extend_from_slice(body);
                });
            } else {
                let mut records = StreamRecords::new(out, kind::STDOUT, id);
                gateway::write_head(response.status, &response.headers, &mut records)?;
                records.push(body);
                records.close();
            }
            crate::response::recycle(response);
            0
        }
        Body::Stream(_) => {
            let mut framer = StdoutFramer {
                sink,
                id,
                framed: &mut *out,
                bytes: 0,
                head: None,
            };
            gateway::write_response(response, &mut framer)?;
            framer.bytes - framer.head.unwrap_or(framer.bytes)
        }
    };
    push_stream_end(out, kind::STDOUT, id);
    push_end_request(out, id, 0, ProtocolStatus::RequestComplete);
    Ok(Framed { body })
}

/// Frames what the gateway writes as FCGI_STDOUT records (split at 65535 bytes) and sends it
/// on `flush` only (a streamed response: its head, then each chunk).
struct StdoutFramer<'a, W: Write> {
    sink: &'a mut W,
    id: u16,
    framed: &'a mut Vec<u8>,
    bytes: u64,
    /// The size of the first write (the head).
    head: Option<u64>,
}

impl<W: Write> Write for StdoutFramer<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        push_stream(self.framed, kind::STDOUT, self.id, data);
        self.bytes += data.len() as u64;
        self.head.get_or_insert(data.len() as u64);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.write_all(self.framed)?;
        self.framed.clear();
        self.sink.flush()
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
