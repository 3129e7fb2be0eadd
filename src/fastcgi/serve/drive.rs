//! Driving one connection for the event side: flush its replies, read what waits, feed its
//! state machine and its body's budget or spool, until it must wait or has news (an event,
//! a body refused, a close); and which connection may be closed to make room (the one idle
//! longest, else the one furthest behind the minimum rate).

use std::io::{self, Read, Write};
use std::time::Instant;

use crate::fastcgi::protocol::conn::{Event, Phase, ReceivedRequest};
use crate::fastcgi::serve::slot::Slot;
use crate::fastcgi::work::job::Pool;
use crate::fastcgi::work::spill::SpillError;

/// Stop reading from a connection whose replies pile up unread (GET_VALUES floods).
const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// Reads of one connection in a row before the loop turns to others (64 KiB each): a fast
/// sender of a large body cannot keep the loop from the rest.
const READS_IN_A_ROW: usize = 16;

/// What driving a connection came to.
pub(crate) enum Outcome {
    /// Waits for more bytes (or room to write).
    Wait,
    /// Had its turn with bytes still to read: driven again after the other connections.
    Yield,
    Event(Event),
    /// Its body can be neither budgeted nor spilled: answer 503 (the rest is dropped).
    Refused(ReceivedRequest, SpillError),
    /// Close; the reason is logged as a warning when there is one.
    Close(Option<String>),
}

/// Flushes replies and reads requests on one connection until it must wait or has news.
pub(crate) fn drive(slot: &mut Slot, buf: &mut [u8], pool: &Pool, now: Instant) -> Outcome {
    let Some(stream) = slot.stream.as_ref() else {
        return Outcome::Wait;
    };
    let mut reads = 0;
    loop {
        while !slot.conn.output().is_empty() {
            match (&mut &*stream).write(slot.conn.output()) {
                Ok(0) => return Outcome::Close(Some("the web server stopped reading".into())),
                Ok(n) => {
                    slot.conn.consume_output(n);
                    slot.last_write = now;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Outcome::Close(Some(format!("write failed: {err}"))),
            }
        }
        if slot.conn.output().is_empty()
            && let Some(request) = slot.pending.take()
        {
            return Outcome::Event(Event::Request(request));
        }
        if let Some(event) = slot.conn.next_event() {
            return Outcome::Event(event);
        }
        if slot.conn.phase() == Phase::Closed && slot.conn.output().is_empty() {
            return Outcome::Close(None);
        }
        if !slot.conn.wants_input() || slot.conn.output().len() >= OUTPUT_HIGH_WATER {
            return Outcome::Wait;
        }
        if reads == READS_IN_A_ROW {
            return Outcome::Yield;
        }
        if !slot.unread {
            return Outcome::Wait;
        }
        reads += 1;
        match (&mut &*stream).read(buf) {
            Ok(0) => {
                return match slot.conn.receive_eof() {
                    Ok(()) if slot.conn.output().is_empty() => Outcome::Close(None),
                    // Replies owed before the web server's EOF are still sent.
                    Ok(()) => Outcome::Wait,
                    Err(err) => Outcome::Close(Some(err.to_string())),
                };
            }
            Ok(n) => {
                slot.unread = n == buf.len() || slot.hup;
                slot.last_active = now;
                slot.phase_bytes += n as u64;
                slot.sent += n as u64;
                if let Err(err) = slot.conn.receive(buf.get(..n).unwrap_or_default()) {
                    return Outcome::Close(Some(err.to_string()));
                }
                if let Err(err) = slot.body.account(&mut slot.conn, &pool.budget, &pool.spill)
                    && let Some(request) = slot.conn.refuse_body()
                {
                    return Outcome::Refused(request, err);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                slot.unread = slot.hup;
                return Outcome::Wait;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Outcome::Close(Some(format!("read failed: {err}"))),
        }
    }
}

/// The connection furthest behind `min_rate` (see [`Slot::behind`]), to close to make room
/// when no connection is idle.
pub(crate) fn furthest_behind(slots: &[Option<Slot>], min_rate: u64) -> Option<usize> {
    let now = Instant::now();
    slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.as_ref()?.behind(now, min_rate)?)))
        .max_by_key(|(_, behind)| *behind)
        .map(|(i, _)| i)
}

/// The evictable connection unused longest.
pub(crate) fn oldest_idle(slots: &[Option<Slot>]) -> Option<usize> {
    let now = Instant::now();
    slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
        .filter(|(_, s)| s.evictable(now))
        .min_by_key(|(_, s)| s.last_active)
        .map(|(i, _)| i)
}
