//! The access log (`--access-log PATH|-|off`): one line per request, close to nginx's
//! `combined` format plus the request id and the duration in microseconds:
//!
//! ```text
//! $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_id $duration_us
//! 127.0.0.1 - - [01/Dec/2026:23:48:05 +0000] "GET /hello?x=1 HTTP/1.1" 200 27 "-" "curl/8.0" 5f0c6b1e9a2d4c3b 412
//! ```
//!
//! The fields come from the FastCGI params (REMOTE_ADDR, REMOTE_USER, REQUEST_METHOD +
//! REQUEST_URI + SERVER_PROTOCOL, HTTP_REFERER, HTTP_USER_AGENT, REQUEST_ID), `-` when absent
//! or empty; `"`, `\`, control and non-ASCII bytes are written `\xHH` as nginx does, and
//! so are spaces in the fields outside quotes (address, user, id), so a log parser never
//! shifts fields. Each field is cut after [`FIELD_MAX`] bytes (the target after
//! [`TARGET_MAX`], a REQUEST_ID after [`RequestId::MAX_GIVEN`]) and ends with `...` when cut:
//! the params may carry 256 KiB, a log line does not. The time
//! is UTC (`+0000`), when the line is written. `$body_bytes_sent` counts the body only (not
//! the head), `$duration_us` from the request complete to its answer framed.
//!
//! Off, nothing is captured, formatted or allocated. On, the fields are captured into a
//! reused buffer before the handler takes the params, and the line is assembled into a
//! reused buffer and written with one write(2) to a file opened O_APPEND, so lines from
//! different threads never interleave. SIGUSR1 reopens the file at its path (logrotate
//! renames it, then signals): a line is written whole to the old file or the new one. A
//! failed write (a full disk) is counted and reported at most once a minute, as nginx does.
//! [`Escaped`] gives the slow log and the timeout's lines the same escaping.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::gateway::Params;

/// Where the access log goes, open.
#[derive(Debug)]
pub struct AccessLog {
    /// The file; replaced whole on reopen.
    file: RwLock<File>,
    /// `None`: stderr (never reopened).
    path: Option<PathBuf>,
    /// Lines lost to failed writes since the last report.
    lost: AtomicU64,
    /// When a failed write was last reported (seconds since the epoch; 0: never).
    reported_at: AtomicU64,
}

/// Seconds between two reports of failed writes (nginx's access log waits 60 too): a full
/// disk must not turn every request into an ERROR line on stderr.
const REPORT_EVERY: u64 = 60;

thread_local! {
    /// The line being assembled, reused by each thread.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl AccessLog {
    /// Opens `--access-log`'s target: `off` (or empty) gives `None`, `-` stderr, else the
    /// file at that path (created, appended to).
    pub fn open(spec: &str) -> io::Result<Option<AccessLog>> {
        match spec.trim() {
            "" | "off" => Ok(None),
            "-" => {
                let fd = io::stderr().as_fd().try_clone_to_owned()?;
                Ok(Some(AccessLog {
                    file: RwLock::new(File::from(fd)),
                    path: None,
                    lost: AtomicU64::new(0),
                    reported_at: AtomicU64::new(0),
                }))
            }
            path => {
                let path = PathBuf::from(path);
                let file = open_append(&path)?;
                Ok(Some(AccessLog {
                    file: RwLock::new(file),
                    path: Some(path),
                    lost: AtomicU64::new(0),
                    reported_at: AtomicU64::new(0),
                }))
            }
        }
    }

    /// SIGUSR1: opens the path again (a new file after logrotate renamed the old one) and
    /// writes there from now on; on failure the old file stays in use. `Ok(false)` when the
    /// log is stderr, which is never reopened.
    pub fn reopen(&self) -> io::Result<bool> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let file = open_append(path)?;
        *self.file.write().unwrap_or_else(PoisonError::into_inner) = file;
        Ok(true)
    }

    /// Writes one line: the captured fields with the answer's status, body bytes and the
    /// request's duration. A failed write is reported on stderr (at most once a minute, with
    /// the lines lost meanwhile), never to the client.
    pub fn write(&self, parts: &AccessParts, status: u16, body_bytes: u64, duration: Duration) {
        LINE.with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return;
            };
            line.clear();
            let now = now_secs();
            parts.line(&mut line, now, status, body_bytes, duration);
            let file = self.file.read().unwrap_or_else(PoisonError::into_inner);
            if let Err(err) = (&*file).write_all(&line) {
                drop(file);
                self.failed(now, &err);
            }
        });
    }

    /// A line was lost: counted, and reported when the last report is a minute old.
    fn failed(&self, now: u64, err: &io::Error) {
        self.lost.fetch_add(1, Ordering::Relaxed);
        let last = self.reported_at.load(Ordering::Relaxed);
        if last != 0 && now < last.saturating_add(REPORT_EVERY) {
            return;
        }
        let claimed = self
            .reported_at
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if claimed {
            let lost = self.lost.swap(0, Ordering::Relaxed);
            let target = self
                .path
                .as_ref()
                .map_or_else(|| "stderr".into(), |p| p.display().to_string());
            log::error!(
                "access log {target}: write failed: {err}; {lost} line(s) lost since the last \
                 report (reported at most once every {REPORT_EVERY} s)"
            );
        }
    }
}

fn open_append(path: &std::path::Path) -> io::Result<File> {
    File::options()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", path.display())))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The most bytes of a field (address, user, method, protocol, referer, user agent) written
/// to a line; more is cut and marked `...`.
pub const FIELD_MAX: usize = 512;

/// The most bytes of the request's target written to a line (it may carry a long query).
pub const TARGET_MAX: usize = 2048;

/// A request's fields for its access line, escaped, captured before the handler takes the
/// params: `addr`, `user`, `request`, then `"referer" "user agent" id` in one buffer.
#[derive(Debug, Default)]
pub struct AccessParts {
    buf: Vec<u8>,
    user_at: usize,
    request_at: usize,
    tail_at: usize,
}

impl AccessParts {
    /// Captures the fields of `params` (reusing the buffer); `id` is the request id.
    pub fn capture(&mut self, params: &Params, id: &RequestId) {
        let find = |name: &[u8]| params.get(name).unwrap_or_default();
        let buf = &mut self.buf;
        buf.clear();
        field_into(buf, find(b"REMOTE_ADDR"), FIELD_MAX, Spaces::Escaped);
        self.user_at = buf.len();
        field_into(buf, find(b"REMOTE_USER"), FIELD_MAX, Spaces::Escaped);
        self.request_at = buf.len();
        let (method, uri, protocol) = (
            find(b"REQUEST_METHOD"),
            find(b"REQUEST_URI"),
            find(b"SERVER_PROTOCOL"),
        );
        if method.is_empty() && uri.is_empty() {
            buf.push(b'-');
        } else {
            // Spaces separate the request line's parts: inside them they are escaped.
            field_into(buf, method, FIELD_MAX, Spaces::Escaped);
            buf.push(b' ');
            field_into(buf, uri, TARGET_MAX, Spaces::Escaped);
            if !protocol.is_empty() {
                buf.push(b' ');
                field_into(buf, protocol, FIELD_MAX, Spaces::Escaped);
            }
        }
        self.tail_at = buf.len();
        buf.push(b'"');
        field_into(buf, find(b"HTTP_REFERER"), FIELD_MAX, Spaces::Kept);
        buf.extend_from_slice(b"\" \"");
        field_into(buf, find(b"HTTP_USER_AGENT"), FIELD_MAX, Spaces::Kept);
        buf.extend_from_slice(b"\" ");
        id.write_to(buf);
    }

    /// Appends the whole line, newline included, to `out`.
    fn line(&self, out: &mut Vec<u8>, secs: u64, status: u16, bytes: u64, duration: Duration) {
        let part = |from: usize, to: usize| self.buf.get(from..to).unwrap_or_default();
        out.extend_from_slice(part(0, self.user_at));
        out.extend_from_slice(b" - ");
        out.extend_from_slice(part(self.user_at, self.request_at));
        out.extend_from_slice(b" [");
        push_time(out, secs);
        out.extend_from_slice(b"] \"");
        out.extend_from_slice(part(self.request_at, self.tail_at));
        let _ = write!(out, "\" {status} {bytes} ");
        out.extend_from_slice(part(self.tail_at, self.buf.len()));
        let _ = writeln!(out, " {}", duration.as_micros());
    }
}

/// Whether spaces are written as they are (inside quotes) or as `\x20` (a field outside
/// quotes, or a part of the request line).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spaces {
    Kept,
    Escaped,
}

/// A field escaped ([`escape_into`], spaces as `spaces` says), cut after `max` bytes of the
/// value with `...`.
fn field_into(out: &mut Vec<u8>, value: &[u8], max: usize, spaces: Spaces) {
    let cut = value.get(..max).unwrap_or(value);
    escape_bytes(out, cut, spaces);
    if cut.len() < value.len() {
        out.extend_from_slice(b"...");
    }
}

/// Escapes like nginx's access log: `"`, `\`, control bytes and bytes past ASCII as `\xHH`;
/// an empty value is `-`.
fn escape_into(out: &mut Vec<u8>, value: &[u8]) {
    escape_bytes(out, value, Spaces::Kept);
}

/// [`escape_into`], with spaces escaped too when `spaces` says so.
fn escape_bytes(out: &mut Vec<u8>, value: &[u8], spaces: Spaces) {
    if value.is_empty() {
        out.push(b'-');
        return;
    }
    let hex = |nibble: u8| match nibble {
        0..=9 => b'0' + nibble,
        _ => b'A' + (nibble & 0xf).saturating_sub(10),
    };
    for &byte in value {
        let space = byte == b' ' && spaces == Spaces::Escaped;
        if space || byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte) {
            out.extend_from_slice(&[b'\\', b'x', hex(byte >> 4), hex(byte & 0xf)]);
        } else {
            out.push(byte);
        }
    }
}

/// A request's field (method, target) for a log line: escaped as the access log escapes
/// it ([`escape_into`]: no CR, LF, ESC or other control byte reaches the log raw) and cut
/// after [`Escaped::MAX`] bytes of the original with `...` (the params may hold 256 KiB).
/// Formatting happens only when the line is written.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl Escaped<'_> {
    /// The most bytes of the value written.
    pub const MAX: usize = 1024;
}

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = self.0.as_bytes();
        let cut = bytes.get(..Escaped::MAX).unwrap_or(bytes);
        let mut out = Vec::with_capacity(cut.len() + 3);
        escape_into(&mut out, cut);
        if cut.len() < bytes.len() {
            out.extend_from_slice(b"...");
        }
        // Only ASCII comes out of escape_into.
        f.write_str(std::str::from_utf8(&out).unwrap_or("-"))
    }
}

/// `01/Dec/2026:23:48:05 +0000` for `secs` since the epoch (UTC).
fn push_time(out: &mut Vec<u8>, secs: u64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let name = MONTHS
        .get(usize::try_from(month.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    let _ = write!(
        out,
        "{day:02}/{name}/{year}:{:02}:{:02}:{:02} +0000",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
}

/// Year, month (1-12), day (1-31) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A request's id: the web server's (`fastcgi_param REQUEST_ID $request_id;`) when it sends
/// one, else this process's id and the request's number, e.g. `4242-17`.
#[derive(Debug)]
pub enum RequestId<'a> {
    /// REQUEST_ID as the web server sent it.
    Given(&'a [u8]),
    /// Made here: the process id and the request's number.
    Made(u64),
}

impl<'a> RequestId<'a> {
    /// The id of the request with these params and number `seq`.
    pub fn of(params: &'a Params, seq: u64) -> RequestId<'a> {
        match params
            .iter()
            .find(|(n, v)| n == b"REQUEST_ID" && !v.is_empty())
        {
            Some((_, v)) => RequestId::Given(v),
            None => RequestId::Made(seq),
        }
    }

    /// The most bytes of a given id written: nginx's `$request_id` is 32, a UUID 36; a
    /// deployment that passes a client's header (`fastcgi_param REQUEST_ID
    /// $http_x_request_id;`) must not let it write kilobytes into every log line.
    pub const MAX_GIVEN: usize = 128;

    /// Appends the id (escaped, and cut after [`RequestId::MAX_GIVEN`] bytes with `...`,
    /// when given).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            RequestId::Given(bytes) => {
                field_into(out, bytes, Self::MAX_GIVEN, Spaces::Escaped);
            }
            RequestId::Made(seq) => {
                let _ = write!(out, "{}-{seq}", std::process::id());
            }
        }
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
