//! What each record of a request does to a connection's state (spec §5): BEGIN_REQUEST
//! starts one (or is answered CANT_MPX_CONN or UNKNOWN_ROLE), PARAMS are decoded within their
//! limits (431 past them), STDIN is taken within the body limit (413 past it), ABORT_REQUEST
//! ends it. `conn` dispatches the records here.

use crate::gateway::{ContentLength, content_length};

use super::conn::{Connection, State, between_requests, unexpected};
use super::event::{ConnError, Event, ReceivedRequest};
use super::pairs::{Pairs, ParamsDecoder};
use super::record::{BeginRequest, ProtocolStatus, RecordError, kind, push_end_request, role};

/// The size from which glibc gives a buffer a mapping of its own (the mmap threshold the
/// server sets at start, `process::fdlimit`).
const LARGE_BUFFER: usize = 1 << 20;

impl Connection {
    pub(super) fn begin(&mut self, id: u16, begin: BeginRequest) -> Result<(), ConnError> {
        match self.current_id() {
            Some(current) if current == id => Err(unexpected(kind::BEGIN_REQUEST, id)),
            Some(_) => {
                push_end_request(&mut self.output, id, 0, ProtocolStatus::CantMpxConn);
                Ok(())
            }
            None if begin.role != role::RESPONDER => {
                push_end_request(&mut self.output, id, 0, ProtocolStatus::UnknownRole);
                if !begin.keep_conn() {
                    self.state = State::Closed;
                }
                Ok(())
            }
            None => {
                let decoder =
                    ParamsDecoder::new(self.limits.max_params_bytes, self.limits.max_params_count);
                self.state = State::Params {
                    id,
                    keep_conn: begin.keep_conn(),
                    decoder,
                };
                Ok(())
            }
        }
    }

    /// FCGI_ABORT_REQUEST for the request being received ends it with END_REQUEST (spec §5.4);
    /// for any other id it is ignored (spec §3.3: records of inactive requests are ignored).
    pub(super) fn abort(&mut self, id: u16) {
        let keep_conn = match self.state {
            State::Params {
                id: current,
                keep_conn,
                ..
            }
            | State::SkippingParams {
                id: current,
                keep_conn,
                ..
            }
            | State::Body {
                id: current,
                keep_conn,
                ..
            } if current == id => {
                push_end_request(&mut self.output, id, 0, ProtocolStatus::RequestComplete);
                keep_conn
            }
            // The 413 already carried this request's END_REQUEST.
            State::Discarding {
                id: current,
                keep_conn,
            } if current == id => keep_conn,
            _ => return,
        };
        self.state = between_requests(keep_conn);
    }

    /// An error when PARAMS arrive for the current request after its params ended.
    pub(super) fn params(&mut self, id: u16, content: &[u8]) -> Result<(), ConnError> {
        let active = self.current_id() == Some(id);
        match &mut self.state {
            State::Params {
                id: current,
                decoder,
                ..
            } if *current == id => {
                if !content.is_empty() {
                    return match decoder.feed(content) {
                        Err(
                            reason @ (RecordError::ParamsTooLarge { .. }
                            | RecordError::TooManyParams { .. }),
                        ) => {
                            self.skip_params(reason);
                            Ok(())
                        }
                        other => other.map_err(ConnError::from),
                    };
                }
            }
            State::SkippingParams { id: current, .. } if *current == id => {
                if content.is_empty() {
                    self.headers_too_large();
                }
                return Ok(());
            }
            _ if active => return Err(unexpected(kind::PARAMS, id)),
            _ => return Ok(()),
        }
        // The empty record: the params are complete.
        let State::Params {
            keep_conn, decoder, ..
        } = std::mem::replace(&mut self.state, State::Closed)
        else {
            return Ok(());
        };
        let params = match decoder.finish() {
            Err(
                reason @ (RecordError::ParamsTooLarge { .. } | RecordError::TooManyParams { .. }),
            ) => {
                self.state = State::SkippingParams {
                    id,
                    keep_conn,
                    reason,
                };
                self.headers_too_large();
                return Ok(());
            }
            other => other?,
        };
        let request = ReceivedRequest {
            id,
            keep_conn,
            params,
            body: Vec::new(),
        };
        let declared = match content_length(&request.params) {
            ContentLength::Bytes(len) => Some(len),
            ContentLength::Absent | ContentLength::Invalid => None,
        };
        if declared.is_some_and(|len| len > self.limits.max_body) {
            self.too_large(request);
        } else {
            // A declared body's buffer is allocated once, of its size, up to LARGE_BUFFER:
            // grown by doubling from nothing, each step was a copy in the heap, which kept
            // the freed ones. From LARGE_BUFFER on it is a mapping of its own, which grows
            // without copies, whose untouched pages cost nothing and which goes back to the
            // system when freed; reserving all of a large declared size at once would only
            // take address space for bytes that may never come.
            let mut body = request.body;
            if let Some(len) = declared.and_then(|len| usize::try_from(len).ok()) {
                let _ = body.try_reserve_exact(len.min(LARGE_BUFFER));
            }
            self.state = State::Body {
                id,
                keep_conn,
                params: request.params,
                body,
                received: 0,
            };
        }
        Ok(())
    }

    /// An error when FCGI_STDIN arrives for the current request before its params ended.
    pub(super) fn stdin(&mut self, id: u16, content: &[u8]) -> Result<(), ConnError> {
        let max_body = self.limits.max_body;
        match &mut self.state {
            State::Params { id: current, .. } | State::SkippingParams { id: current, .. }
                if *current == id =>
            {
                return Err(unexpected(kind::STDIN, id));
            }
            State::Discarding {
                id: current,
                keep_conn,
            } if *current == id => {
                let keep_conn = *keep_conn;
                if content.is_empty() {
                    self.state = between_requests(keep_conn);
                }
                return Ok(());
            }
            State::Body {
                id: current,
                body,
                received,
                ..
            } if *current == id => {
                let total = u64::try_from(content.len())
                    .ok()
                    .and_then(|len| received.checked_add(len));
                if let Some(total) = total
                    && total <= max_body
                    && !content.is_empty()
                {
                    body.extend_from_slice(content);
                    *received = total;
                    return Ok(());
                }
            }
            _ => return Ok(()),
        }
        // The empty record ends the body; or the body passed the limit.
        let State::Body {
            id,
            keep_conn,
            params,
            body,
            ..
        } = std::mem::replace(&mut self.state, State::Closed)
        else {
            return Ok(());
        };
        let request = ReceivedRequest {
            id,
            keep_conn,
            params,
            body,
        };
        if content.is_empty() {
            self.state = State::Responding {
                keep_conn,
                discard_stdin_of: None,
            };
            self.events.push_back(Event::Request(request));
        } else {
            self.too_large(request);
        }
        Ok(())
    }

    /// Drops what the decoder holds; the rest of the params is skipped until their end.
    fn skip_params(&mut self, reason: RecordError) {
        if let State::Params { id, keep_conn, .. } = self.state {
            self.state = State::SkippingParams {
                id,
                keep_conn,
                reason,
            };
        }
    }

    /// The params over a limit have ended: hand out the 431, then drop FCGI_STDIN.
    fn headers_too_large(&mut self) {
        let State::SkippingParams {
            id,
            keep_conn,
            reason,
        } = std::mem::replace(&mut self.state, State::Closed)
        else {
            return;
        };
        self.state = State::Responding {
            keep_conn,
            discard_stdin_of: Some(id),
        };
        let request = ReceivedRequest {
            id,
            keep_conn,
            params: Pairs::new(),
            body: Vec::new(),
        };
        self.events
            .push_back(Event::HeadersTooLarge(request, reason));
    }

    fn too_large(&mut self, mut request: ReceivedRequest) {
        request.body = Vec::new();
        self.state = State::Responding {
            keep_conn: request.keep_conn,
            discard_stdin_of: Some(request.id),
        };
        self.events.push_back(Event::BodyTooLarge(request));
    }
}
