//! Running one request: the handler (body read back from its spool if it spilled), then the
//! answer in one write when the socket takes it, framed in a buffer the thread reuses. What
//! the socket does not take goes back to the event side with the connection, which finishes
//! sending it, so a web server that reads slowly never holds a handler thread. With
//! `--request-timeout`, the handler's answer is sent only if its thread claims it before the
//! timeout does (see `running`); else it is dropped. With the access log on, the request's
//! fields are captured before the handler takes them.

use std::cell::RefCell;
use std::io;
use std::os::fd::AsRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;

use crate::error::HttpError;

use crate::fastcgi::net::write::{self, SocketWriter};
use crate::fastcgi::ops::access::{AccessParts, RequestId};
use crate::fastcgi::process::scoreboard::mine::Running;
use crate::fastcgi::protocol::answer as framing;

use super::answers::answer;
use super::job::{Done, Job, Pool};
use super::spool::Spool;

thread_local! {
    /// The access-log fields of the request this thread runs, reused.
    static ACCESS_PARTS: RefCell<AccessParts> = RefCell::new(AccessParts::default());
}

/// Runs one request's handler and sends what the socket takes; returns the connection (or
/// `None` when closed) with the rest, for the event side to finish.
pub fn handle(pool: &Pool, mut job: Job) -> Done {
    let keep = job.request.keep_conn;
    // The app never panics (App::handle catches it); this guard keeps the thread alive and
    // the slot accounted for even if something around it does.
    let written = catch_unwind(AssertUnwindSafe(|| run(pool, &mut job)));
    pool.budget.release(std::mem::take(&mut job.held));
    let ticket = job.ticket.as_ref().map(|ticket| ticket.index);
    let mut late = false;
    let mut before_drain = false;
    let (stream, leftover) = match written {
        Ok(Ok(None)) => {
            late = true;
            (Some(job.stream), Vec::new())
        }
        Ok(Ok(Some((leftover, before)))) if keep || !leftover.is_empty() => {
            before_drain = before;
            (Some(job.stream), leftover)
        }
        Ok(Ok(Some(_))) => (None, Vec::new()),
        Ok(Err(err)) => {
            log::warn!("dropped connection: writing the response failed: {err}");
            (None, Vec::new())
        }
        Err(_) => {
            log::error!("dropped connection: the response path panicked");
            // The timeout may have taken the connection on: then its copy is closed only
            // under the server's lock (`give_back`), never here, so the timeout's duplicate
            // is always taken of an open descriptor.
            let claim = job.ticket.as_ref().and_then(|t| t.claim.as_ref());
            if claim.is_some_and(|claim| claim.swap(true, Ordering::AcqRel)) {
                late = true;
                (Some(job.stream), Vec::new())
            } else {
                (None, Vec::new())
            }
        }
    };
    let held = leftover.len();
    Done {
        token: job.token,
        stream,
        leftover,
        held,
        ticket,
        late,
        before_drain,
    }
}

/// Runs the handler and sends what the socket takes; returns the rest and whether the whole
/// answer was sent before the process began to drain, or `None` when the timeout answered
/// first (nothing was sent).
fn run(pool: &Pool, job: &mut Job) -> io::Result<Option<(Vec<u8>, bool)>> {
    let request = std::mem::take(&mut job.request.params);
    let mut body = std::mem::take(&mut job.request.body);
    if pool.access.is_some() {
        ACCESS_PARTS.with(|parts| {
            if let Ok(mut parts) = parts.try_borrow_mut() {
                parts.capture(&request, &RequestId::of(&request, job.seq));
            }
        });
    }
    // Under a master, what this worker runs is on the scoreboard until the answer is sent.
    let _running = Running::begin(
        request.get(b"REQUEST_METHOD").unwrap_or_default(),
        request.get(b"REQUEST_URI").unwrap_or_default(),
    );
    // A request that waited past --queue-wait never gets here: the event side answered it 503
    // when it was taken (Server::next_job) or in its sweep.
    let response = match job.spool.take().map(Spool::read_all) {
        Some(Err(err)) => {
            log::error!("could not read a spilled request body back: {err}");
            pool.app.error_response(HttpError::new(
                500,
                "The request body could not be read back".to_string(),
            ))
        }
        spilled => {
            if let Some(Ok(spilled)) = spilled {
                body = spilled;
            }
            answer(&pool.app, request, body, pool.max_body)
        }
    };
    if let Some(claim) = job.ticket.as_ref().and_then(|t| t.claim.as_ref())
        && claim.swap(true, Ordering::AcqRel)
    {
        return Ok(None);
    }
    let status = response.status;
    let full_body = framing::full_body_len(&response);
    let mut sink = SocketWriter {
        stream: &job.stream,
        timeout: pool.send_timeout,
    };
    // The thread's answer buffer, reused: a whole answer is framed into it without growing.
    let mut tail = crate::spare::output();
    let framed = framing::frame_fastcgi_response(response, job.request.id, &mut sink, &mut tail)?;
    pool.metrics.answered_since(status, job.received);
    if let Some(access) = &pool.access {
        let body_bytes = full_body.unwrap_or(framed.body);
        ACCESS_PARTS.with(|parts| {
            if let Ok(parts) = parts.try_borrow() {
                access.write(&parts, status, body_bytes, job.received.elapsed());
            }
        });
    }
    // The last answer of a kept-alive connection while the process drains: its FIN follows
    // it at once (in the same segment over TCP), before the web server can take the
    // connection for another request; the event side then closes it.
    let draining = pool.draining.load(Ordering::Acquire);
    let last = job.alone && job.request.keep_conn && draining;
    if last {
        write::hold_last(&job.stream);
    }
    let mut sent = write::write_now(&job.stream, &tail)?;
    // What the socket did not take goes to the event loop, within the answers' budget; past
    // it, this worker keeps writing (at most --send-timeout without progress) until the
    // rest fits: many large answers to slow readers cost workers, not unbounded memory.
    while sent < tail.len() && !pool.output_budget.try_take(tail.len() - sent) {
        write::wait_writable(job.stream.as_raw_fd(), pool.send_timeout)?;
        sent += write::write_now(&job.stream, tail.get(sent..).unwrap_or_default())?;
    }
    if last && !(sent >= tail.len() && write::end(&job.stream)) {
        write::release(&job.stream);
    }
    if sent >= tail.len() {
        // All sent: the buffer stays with the thread for its next answer (unless a large
        // answer grew it).
        crate::spare::keep_output(tail);
        return Ok(Some((Vec::new(), !draining)));
    }
    // The rest goes to the event side in this buffer; the next answer starts a new one.
    if sent > 0 {
        tail.drain(..sent);
        tail.shrink_to_fit();
    }
    Ok(Some((tail, false)))
}
