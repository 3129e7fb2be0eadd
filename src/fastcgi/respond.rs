//! Building and sending answers: the app's answer with the gateway's body rules, the
//! server's own error answers (413, 431, 503), FastCGI framing of a response, the blocking
//! writer a streamed response uses.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::app::App;
use crate::error::HttpError;
use crate::gateway::{self, BodyError, ContentLength};
use crate::response::{Body, HttpResponse};

use super::framing::{StreamRecords, push_record_with};
use super::listen::Stream;
use super::record::{
    HEADER_LEN, MAX_CONTENT_LEN, ProtocolStatus, RecordError, kind, push_end_request, push_stream,
    push_stream_end,
};

/// The app's answer, with the gateway's body rules, so both transports give the same bytes:
/// exactly CONTENT_LENGTH bytes (a short body is a 400, a long one is cut), 413 over the limit;
/// without a length, all FCGI_STDIN carried (nginx, chunked and unbuffered; the connection
/// already bounded it by the limit).
pub fn answer(app: &App, params: gateway::Params, body: Vec<u8>, max_body: u64) -> HttpResponse {
    gateway::handle(app, params, gateway::BodySource::Received(body), max_body).response
}

/// The 413 for a body over the limit, declared or not.
pub fn too_large_response(app: &App, params: &gateway::Params, max_body: u64) -> HttpResponse {
    let declared = match gateway::content_length(params) {
        ContentLength::Bytes(len) => Some(len),
        ContentLength::Absent | ContentLength::Invalid => None,
    };
    app.error_response(BodyError::TooLarge { declared }.into_http(max_body))
}

/// The 431 for params over `--max-params-bytes` or `--max-params` (RFC 6585 §5).
pub fn headers_too_large_response(app: &App, reason: &RecordError) -> HttpResponse {
    app.error_response(HttpError::new(
        431,
        format!("Request headers are over the limit: {reason}"),
    ))
}

/// The 503 for a request no worker took in time.
pub fn busy_response(app: &App, queue_wait: Duration) -> HttpResponse {
    app.error_response(HttpError::service_unavailable(format!(
        "Server busy: no worker was free within {:.3} s",
        queue_wait.as_secs_f64()
    )))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn full(status: u16, body: Vec<u8>) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                (
                    "Set-Cookie".into(),
                    "a=1; Path=/; HttpOnly; SameSite=Lax".to_string().into(),
                ),
                (
                    "Content-Length".into(),
                    crate::http::HeaderText::number(body.len() as u64),
                ),
            ],
            body: Body::Full(body),
        }
    }

    #[test]
    fn a_full_answer_is_framed_in_one_buffer_sized_once_as_its_cgi_bytes() {
        // Head and body in one record, exactly filling it, one byte over it, and in several.
        let head = gateway::head_len(200, &full(200, vec![0; 65000]).headers);
        let around = (65535 - head - 2..=65535 - head + 2).map(|len| (200, len));
        let cases = [(200, 0), (404, 13), (599, 65535 - 100), (200, 200_000)];
        for (status, len) in cases.into_iter().chain(around) {
            let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut cgi = Vec::new();
            gateway::write_response(full(status, body.clone()), &mut cgi).unwrap();
            let mut want = Vec::new();
            push_stream(&mut want, kind::STDOUT, 7, &cgi);
            push_stream_end(&mut want, kind::STDOUT, 7);
            push_end_request(&mut want, 7, 0, ProtocolStatus::RequestComplete);

            let (mut sink, mut out) = (Vec::new(), Vec::new());
            let framed = frame_fastcgi_response(full(status, body), 7, &mut sink, &mut out);
            assert_eq!(framed.unwrap().body, 0, "{len}: one write, the head");
            assert!(sink.is_empty(), "{len}: nothing flushed early");
            assert_eq!(out, want, "{len}: FCGI_STDOUT carries the CGI bytes");
            assert_eq!(out.capacity(), out.len(), "{len}: sized exactly, once");
        }
    }

    #[test]
    fn a_streamed_answer_flushes_its_head_and_chunks_and_leaves_its_end() {
        let response = HttpResponse {
            status: 200,
            headers: vec![],
            body: Body::Stream(Box::new(vec![b"ab".to_vec(), b"c".to_vec()].into_iter())),
        };
        let (mut sink, mut out) = (Vec::new(), Vec::new());
        let framed = frame_fastcgi_response(response, 1, &mut sink, &mut out).unwrap();
        assert_eq!(framed.body, 3);
        let mut want = Vec::new();
        for piece in [&b"Status: 200 OK\r\n\r\n"[..], b"ab", b"c"] {
            push_stream(&mut want, kind::STDOUT, 1, piece);
        }
        assert_eq!(sink, want);
        let mut end = Vec::new();
        push_stream_end(&mut end, kind::STDOUT, 1);
        push_end_request(&mut end, 1, 0, ProtocolStatus::RequestComplete);
        assert_eq!(out, end);
    }
}
