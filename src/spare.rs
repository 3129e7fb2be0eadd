//! The buffers a thread keeps from the request it finished for the next one it decodes and
//! answers: the params' text and spans (which became the handler's `Environ`), the cookies'
//! text and spans, the answer's header list and JSON body, and the FastCGI answer's records.
//! Each kind is one slot per thread, taken when the next request needs it and given back
//! emptied when the request is answered; a buffer larger than its kind's bound is let go
//! instead, so a thread keeps at most about 120 KiB of them whatever clients send.

use std::cell::Cell;
use std::ops::Range;
use std::thread::LocalKey;

use crate::http::HeaderText;

/// Names and values (or cookie names and values) as ranges of one buffer: the form the params
/// and the cookies are decoded into, and kept in here between requests.
pub(crate) type Spans = Vec<(Range<usize>, Range<usize>)>;

/// A params buffer kept: bytes of text.
const PARAMS_BYTES: usize = 16 * 1024;
/// A params buffer kept: spans.
const PARAMS_SPANS: usize = 256;
/// A cookies buffer kept: bytes of text.
const COOKIE_BYTES: usize = 8 * 1024;
/// A cookies buffer kept: spans.
const COOKIE_SPANS: usize = 64;
/// A header list kept: lines.
pub(crate) const HEADER_LINES: usize = 32;
/// A JSON body buffer kept: bytes.
pub(crate) const BODY_BYTES: usize = 16 * 1024;
/// A FastCGI answer buffer kept: bytes.
const OUTPUT_BYTES: usize = 64 * 1024;

thread_local! {
    static PARAMS: Cell<(Vec<u8>, Spans)> = const { Cell::new((Vec::new(), Vec::new())) };
    static COOKIES: Cell<(String, Spans)> = const { Cell::new((String::new(), Vec::new())) };
    static HEADERS: Cell<Vec<(HeaderText, HeaderText)>> = const { Cell::new(Vec::new()) };
    static BODY: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static OUTPUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// This thread's spare of a kind (empty, or new when there is none).
fn take<T: Default>(slot: &'static LocalKey<Cell<T>>) -> T {
    slot.try_with(Cell::take).unwrap_or_default()
}

/// Keeps `spare` (already emptied) for this thread's next request.
fn give<T>(slot: &'static LocalKey<Cell<T>>, spare: T) {
    // During the thread's teardown there is no next request: the buffer is simply dropped.
    let _ = slot.try_with(|kept| kept.set(spare));
}

/// Buffers for a request's params.
pub(crate) fn params() -> (Vec<u8>, Spans) {
    take(&PARAMS)
}

/// A finished request's params buffers (its `Environ`'s).
pub(crate) fn keep_params(mut bytes: Vec<u8>, mut spans: Spans) {
    if bytes.capacity() <= PARAMS_BYTES && spans.capacity() <= PARAMS_SPANS {
        bytes.clear();
        spans.clear();
        give(&PARAMS, (bytes, spans));
    }
}

/// Buffers for a request's cookies.
pub(crate) fn cookies() -> (String, Spans) {
    take(&COOKIES)
}

/// A finished request's cookies buffers.
pub(crate) fn keep_cookies(mut text: String, mut spans: Spans) {
    if text.capacity() <= COOKIE_BYTES && spans.capacity() <= COOKIE_SPANS {
        text.clear();
        spans.clear();
        give(&COOKIES, (text, spans));
    }
}

/// A header list for a new `Response`.
pub(crate) fn headers() -> Vec<(HeaderText, HeaderText)> {
    take(&HEADERS)
}

/// A sent answer's header list.
pub(crate) fn keep_headers(mut headers: Vec<(HeaderText, HeaderText)>) {
    if headers.capacity() <= HEADER_LINES {
        headers.clear();
        give(&HEADERS, headers);
    }
}

/// An empty buffer for a JSON body, with room for `capacity` bytes.
pub(crate) fn body(capacity: usize) -> Vec<u8> {
    let mut body = take(&BODY);
    body.reserve(capacity);
    body
}

/// A sent answer's body.
pub(crate) fn keep_body(mut body: Vec<u8>) {
    if body.capacity() <= BODY_BYTES {
        body.clear();
        give(&BODY, body);
    }
}

/// An empty buffer to frame a FastCGI answer in.
pub(crate) fn output() -> Vec<u8> {
    take(&OUTPUT)
}

/// A FastCGI answer buffer whose bytes were all sent.
pub(crate) fn keep_output(mut output: Vec<u8>) {
    if output.capacity() <= OUTPUT_BYTES {
        output.clear();
        give(&OUTPUT, output);
    }
}
