//! The worker pool and the response path: a bounded set of threads takes complete requests
//! from a queue, runs the app through the gateway, and writes FCGI_STDOUT + END_REQUEST with
//! as few writes as it can; then hands the connection back to the event loop.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::app::App;
use crate::error::HttpError;
use crate::gateway::{self, BodyError, ContentLength};
use crate::response::HttpResponse;

use super::conn::ReceivedRequest;
use super::listen::Stream;
use super::record::{
    ProtocolStatus, RecordError, kind, push_end_request, push_stream, push_stream_end,
};

/// A complete request waiting for a worker, with the connection it came on.
#[derive(Debug)]
pub struct Job {
    pub token: usize,
    pub stream: Stream,
    pub request: ReceivedRequest,
    pub received: Instant,
}

/// What a worker tells the event loop: the connection back (kept alive and written in full),
/// or `None` when it was closed.
#[derive(Debug)]
pub struct Done {
    pub token: usize,
    pub stream: Option<Stream>,
}

#[derive(Debug, Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// The jobs waiting for a worker, oldest first.
#[derive(Debug, Default)]
pub struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

impl Queue {
    pub fn push(&self, job: Job) {
        self.lock().jobs.push_back(job);
        self.ready.notify_one();
    }

    /// Jobs that waited longer than `wait`: the event loop answers them 503 itself, so a
    /// request never hangs behind busy workers.
    pub fn take_stale(&self, wait: Duration) -> Vec<Job> {
        let mut state = self.lock();
        let mut stale = Vec::new();
        while state
            .jobs
            .front()
            .is_some_and(|job| job.received.elapsed() > wait)
        {
            stale.extend(state.jobs.pop_front());
        }
        stale
    }

    /// Workers finish the jobs queued, then stop.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    fn pop(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A panic never happens while the lock is held; if one did, the queue is still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What workers share.
pub struct Pool {
    pub app: Arc<App>,
    pub queue: Arc<Queue>,
    pub done: Sender<Done>,
    pub waker: Arc<mio::Waker>,
    pub max_body: u64,
    pub queue_wait: Duration,
    pub send_timeout: Duration,
}

/// Starts `count` workers.
pub fn spawn(pool: Arc<Pool>, count: usize) -> io::Result<Vec<std::thread::JoinHandle<()>>> {
    (0..count)
        .map(|n| {
            let pool = Arc::clone(&pool);
            std::thread::Builder::new()
                .name(format!("fcgi-worker-{n}"))
                .spawn(move || work(&pool))
        })
        .collect()
}

fn work(pool: &Pool) {
    while let Some(mut job) = pool.queue.pop() {
        let keep = job.request.keep_conn;
        // The app never panics (App::handle catches it); this guard keeps the worker alive
        // and the slot accounted for even if something around it does.
        let written = catch_unwind(AssertUnwindSafe(|| run(pool, &mut job)));
        let stream = match written {
            Ok(Ok(())) if keep => Some(job.stream),
            Ok(Ok(())) => None,
            Ok(Err(err)) => {
                log::warn!("dropped connection: writing the response failed: {err}");
                None
            }
            Err(_) => {
                log::error!("dropped connection: the response path panicked");
                None
            }
        };
        if pool
            .done
            .send(Done {
                token: job.token,
                stream,
            })
            .is_ok()
        {
            // If the loop has gone, there is nobody left to tell.
            let _ = pool.waker.wake();
        }
    }
}

fn run(pool: &Pool, job: &mut Job) -> io::Result<()> {
    let request = std::mem::take(&mut job.request.params);
    let body = std::mem::take(&mut job.request.body);
    let line = AccessLine::new(&request, job.received);
    let response = if job.received.elapsed() > pool.queue_wait {
        busy_response(&pool.app, pool.queue_wait)
    } else {
        answer(&pool.app, request, body, pool.max_body)
    };
    let status = response.status;
    let mut sink = SocketWriter {
        stream: &job.stream,
        timeout: pool.send_timeout,
    };
    let bytes = write_fastcgi_response(response, job.request.id, &mut sink)?;
    line.log(status, bytes);
    Ok(())
}

/// The app's answer, with the gateway's body rules, so both transports give the same bytes:
/// exactly CONTENT_LENGTH bytes (a short body is a 400, a long one is cut), 413 over the limit;
/// without a length, all FCGI_STDIN carried (nginx, chunked and unbuffered; the connection
/// already bounded it by the limit).
pub fn answer(
    app: &App,
    params: gateway::Params,
    mut body: Vec<u8>,
    max_body: u64,
) -> HttpResponse {
    let admitted = match gateway::expected_body(&params, max_body) {
        Ok(None) => Ok(body),
        Ok(Some(len)) => match usize::try_from(len) {
            Ok(len) if len <= body.len() => {
                body.truncate(len);
                Ok(body)
            }
            _ => Err(BodyError::Short {
                expected: len,
                got: body.len(),
            }),
        },
        Err(err) => Err(err),
    };
    match admitted {
        Ok(body) => app.handle(gateway::build_request(params, body)),
        Err(err) => {
            log::warn!("request refused: {err}");
            app.error_response(err.into_http(max_body))
        }
    }
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

/// Writes `response` as FCGI_STDOUT records, the end of the stream and END_REQUEST. A full
/// body leaves with the end and END_REQUEST in one write; a streamed one as each chunk comes
/// (the gateway flushes after each). Returns the FCGI_STDOUT bytes written, for the access log.
pub fn write_fastcgi_response<W: Write>(
    response: HttpResponse,
    id: u16,
    sink: &mut W,
) -> io::Result<u64> {
    let mut framer = StdoutFramer {
        sink,
        id,
        framed: Vec::new(),
        bytes: 0,
    };
    gateway::write_response(response, &mut framer)?;
    push_stream_end(&mut framer.framed, kind::STDOUT, id);
    push_end_request(&mut framer.framed, id, 0, ProtocolStatus::RequestComplete);
    framer.sink.write_all(&framer.framed)?;
    Ok(framer.bytes)
}

/// Frames what the gateway writes as FCGI_STDOUT records (split at 65535 bytes) and sends it
/// on `flush` only, so the head and a full body leave together with END_REQUEST.
struct StdoutFramer<'a, W: Write> {
    sink: &'a mut W,
    id: u16,
    framed: Vec<u8>,
    bytes: u64,
}

impl<W: Write> Write for StdoutFramer<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        push_stream(&mut self.framed, kind::STDOUT, self.id, data);
        self.bytes += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.write_all(&self.framed)?;
        self.framed.clear();
        self.sink.flush()
    }
}

/// Blocking writes on a non-blocking socket: waits for room with poll(2), at most `timeout`
/// without progress, so a web server that stops reading cannot hold a worker forever.
struct SocketWriter<'a> {
    stream: &'a Stream,
    timeout: Duration,
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

fn wait_writable(fd: std::os::fd::RawFd, timeout: Duration) -> io::Result<()> {
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

/// One access-log line per request: method, path, status, bytes, duration.
pub struct AccessLine {
    method: String,
    target: String,
    started: Instant,
}

impl AccessLine {
    pub fn new(params: &gateway::Params, started: Instant) -> AccessLine {
        let find = |name: &[u8]| {
            params
                .iter()
                .find(|(n, v)| n == name && !v.is_empty())
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        AccessLine {
            method: find(b"REQUEST_METHOD").unwrap_or_else(|| "-".into()),
            target: find(b"REQUEST_URI")
                .or_else(|| find(b"DOCUMENT_URI"))
                .or_else(|| find(b"PATH_INFO"))
                .unwrap_or_else(|| "/".into()),
            started,
        }
    }

    pub fn log(&self, status: u16, bytes: u64) {
        let millis = self.started.elapsed().as_secs_f64() * 1000.0;
        log::info!(
            target: "pycnic::fastcgi::access",
            "{} {} {status} {bytes} {millis:.1}ms",
            self.method,
            self.target
        );
    }
}
