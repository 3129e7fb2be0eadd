//! The drain's rule for one connection: one that carries a request while the process drains
//! is closed as soon as its answer is sent in full, never before (a request read is always
//! answered); one idle when the drain begins is kept until the grace is over.

use std::time::{Duration, Instant};

use super::*;
use crate::fastcgi::protocol::conn::{ConnLimits, Event};
use crate::fastcgi::protocol::pairs::{Figures, push_pair};
use crate::fastcgi::protocol::record::{KEEP_CONN, kind, push_stream, push_stream_end, role};

const LIMITS: ConnLimits = ConnLimits {
    max_params_bytes: 4096,
    max_params_count: 16,
    max_body: 100,
    figures: Figures {
        max_conns: 1024,
        max_reqs: 1024,
    },
};

const TIMERS: Timers = Timers {
    header: Duration::from_secs(5),
    idle: Duration::from_secs(60),
    body: Duration::from_secs(30),
    body_min_rate: 1024,
    send: Duration::from_secs(30),
};

/// A kept-alive connection's slot on one end of a socket pair (the other end is returned so
/// that the socket stays open).
fn slot() -> (Slot, mio::net::UnixStream) {
    let (ours, theirs) = mio::net::UnixStream::pair().expect("a socket pair");
    let conn = Connection::new(LIMITS);
    (
        Slot::new(Stream::Unix(ours), conn, Instant::now(), &TIMERS),
        theirs,
    )
}

/// A GET on request id 1 with FCGI_KEEP_CONN, as nginx sends it on a kept-alive connection.
fn get() -> Vec<u8> {
    let [r1, r0] = role::RESPONDER.to_be_bytes();
    let begin = [r1, r0, KEEP_CONN, 0, 0, 0, 0, 0];
    let mut out = vec![1, kind::BEGIN_REQUEST, 0, 1, 0, 8, 0, 0];
    out.extend_from_slice(&begin);
    let mut pairs = Vec::new();
    push_pair(&mut pairs, b"REQUEST_METHOD", b"GET");
    push_stream(&mut out, kind::PARAMS, 1, &pairs);
    push_stream_end(&mut out, kind::PARAMS, 1);
    push_stream_end(&mut out, kind::STDIN, 1);
    out
}

/// Feeds `bytes` and takes the request they complete, as the event side does.
fn receive_request(slot: &mut Slot, bytes: &[u8], draining: bool) {
    slot.conn.receive(bytes).expect("a valid request");
    match slot.conn.next_event() {
        Some(Event::Request(request)) => assert!(request.keep_conn, "a kept-alive request"),
        other => panic!("expected a request, got {other:?}"),
    }
    slot.request_arrived(draining);
}

/// The handler's answer is queued on the connection (its END_REQUEST last) and the response
/// is done; nothing of it is sent yet.
fn answer(slot: &mut Slot) {
    slot.conn.push_output(b"the answer, then END_REQUEST");
    slot.conn.response_done().expect("the response is done");
}

/// Everything queued is written.
fn send_all(slot: &mut Slot) {
    let queued = slot.conn.output().len();
    slot.conn.consume_output(queued);
}

#[test]
fn a_connection_answering_when_the_drain_begins_closes_once_its_answer_is_sent() {
    let (mut slot, _peer) = slot();
    receive_request(&mut slot, &get(), false);
    slot.drain_begins();
    assert!(
        !slot.drained(false),
        "a request being run is answered first"
    );
    answer(&mut slot);
    assert!(!slot.drained(false), "closed before its answer is sent");
    assert!(
        !slot.drained(true),
        "closed before its answer is sent, grace over"
    );
    send_all(&mut slot);
    assert!(
        slot.drained(false),
        "kept for another request after its answer, in the grace"
    );
}

#[test]
fn an_idle_connection_is_kept_for_the_grace_and_closed_after_a_request_it_carries() {
    let (mut slot, _peer) = slot();
    slot.drain_begins();
    assert!(
        !slot.drained(false),
        "an idle connection closed within the grace"
    );
    assert!(slot.drained(true), "an idle connection kept past the grace");
    // A request that was on its way arrives within the grace: answered, then closed.
    receive_request(&mut slot, &get(), true);
    assert!(!slot.drained(true), "a request read is answered");
    answer(&mut slot);
    assert!(!slot.drained(false), "closed before its answer is sent");
    send_all(&mut slot);
    assert!(
        slot.drained(false),
        "kept for another request after its answer, in the grace"
    );
}

#[test]
fn a_next_request_already_read_is_answered_before_the_connection_closes() {
    let (mut slot, _peer) = slot();
    receive_request(&mut slot, &get(), true);
    // The web server sent its next request before reading the answer: its bytes are read.
    slot.conn.receive(&get()).expect("a valid request");
    answer(&mut slot);
    send_all(&mut slot);
    assert!(
        !slot.drained(true),
        "closed with a request read and not answered"
    );
    receive_request(&mut slot, &[], true);
    answer(&mut slot);
    send_all(&mut slot);
    assert!(slot.drained(false), "kept after both answers were sent");
}

#[test]
fn a_connection_that_answered_before_the_drain_is_kept_for_the_grace() {
    let (mut slot, _peer) = slot();
    receive_request(&mut slot, &get(), false);
    answer(&mut slot);
    send_all(&mut slot);
    slot.drain_begins();
    assert!(
        !slot.drained(false),
        "idle at the drain's start, closed within the grace"
    );
    assert!(slot.drained(true), "idle, kept past the grace");
}

#[test]
fn a_connection_whose_answer_was_out_before_the_drain_is_kept_for_the_grace() {
    let (mut slot, _peer) = slot();
    receive_request(&mut slot, &get(), false);
    // The handler's thread sent the whole answer, then the drain began before it gave the
    // connection back.
    slot.drain_begins();
    slot.answered_before_drain();
    slot.conn.response_done().expect("the response is done");
    assert!(
        !slot.drained(false),
        "closed within the grace after an answer sent before the drain"
    );
    assert!(slot.drained(true), "kept past the grace");
}
