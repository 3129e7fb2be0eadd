//! The answer on the wire: the gateway's CGI bytes (`Status:` line, headers, blank line, body)
//! become an HTTP/1.1 response. `Status:` becomes the status line; `Date`, `Content-Length`
//! and `Connection` are added as HTTP/1.1 needs; every other byte is the one CGI writes.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// What the connection adds to the CGI answer.
#[derive(Clone, Copy, Debug)]
pub struct Framing {
    /// The request was HTTP/1.0 (its keep-alive is said explicitly).
    pub http_1_0: bool,
    /// The connection stays open after this answer.
    pub keep_alive: bool,
}

/// The HTTP/1.1 response for the CGI answer `cgi`; `None` when `cgi` has no `Status:` line
/// (the gateway always writes one).
pub fn to_http(cgi: &[u8], framing: Framing, now: SystemTime) -> Option<Vec<u8>> {
    let head_end = cgi.windows(4).position(|w| w == b"\r\n\r\n")?;
    let body = cgi.get(head_end + 4..)?;
    let (mut out, bodiless) = to_http_head(cgi.get(..head_end)?, framing, Some(body.len()), now)?;
    if !bodiless {
        out.extend_from_slice(body);
    }
    Some(out)
}

/// The HTTP/1.1 head for the CGI head `head` (without its blank line), with `Content-Length:
/// body_len` when the app set none, or `Transfer-Encoding: chunked` when `body_len` is `None`
/// (a streamed body); and whether the status has no body at all.
pub fn to_http_head(
    head: &[u8],
    framing: Framing,
    body_len: Option<usize>,
    now: SystemTime,
) -> Option<(Vec<u8>, bool)> {
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next()?.strip_prefix(b"Status: ")?;
    let code = status_line
        .get(..3)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse::<u16>().ok())?;
    let mut out = Vec::with_capacity(head.len() + 96);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status_line);
    out.extend_from_slice(b"\r\n");
    let mut has_length = false;
    let mut has_date = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(|b| *b == b':').next().unwrap_or_default();
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("Connection") || is("Keep-Alive") || is("Transfer-Encoding") {
            continue;
        }
        has_length |= is("Content-Length");
        has_date |= is("Date");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if !has_date {
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(http_date(now).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // 1xx, 204 and 304 have no body and no length (RFC 9110 §8.6).
    let bodiless = code < 200 || code == 204 || code == 304;
    if !bodiless {
        match body_len {
            Some(_) if has_length => {}
            Some(len) => out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes()),
            None => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        }
    }
    if !framing.keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if framing.http_1_0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Some((out, bodiless))
}

/// A streamed CGI answer as HTTP/1.1 `chunked`: the gateway writes the CGI head and then each
/// chunk, flushing after each, so they reach the client as they come; [`finish`] writes the
/// last chunk. For HTTP/1.1 clients only (an HTTP/1.0 one gets the whole body with its length).
///
/// [`finish`]: ChunkedAnswer::finish
pub struct ChunkedAnswer<'a, W: Write> {
    out: &'a mut W,
    framing: Framing,
    head: Option<Vec<u8>>,
    bodiless: bool,
    /// The bytes written to `out`.
    pub written: usize,
}

impl<'a, W: Write> ChunkedAnswer<'a, W> {
    /// A chunked answer on `out`.
    pub fn new(out: &'a mut W, framing: Framing) -> ChunkedAnswer<'a, W> {
        ChunkedAnswer {
            out,
            framing,
            head: Some(Vec::new()),
            bodiless: false,
            written: 0,
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len();
        Ok(())
    }

    fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() || self.bodiless {
            return Ok(());
        }
        self.send(format!("{:X}\r\n", data.len()).as_bytes())?;
        self.send(data)?;
        self.send(b"\r\n")
    }

    /// Ends the body: the last (empty) chunk.
    pub fn finish(mut self) -> io::Result<usize> {
        if self.head.is_some() {
            return Err(io::Error::other("the answer ended inside its head"));
        }
        if !self.bodiless {
            self.send(b"0\r\n\r\n")?;
        }
        self.out.flush()?;
        Ok(self.written)
    }
}

impl<W: Write> Write for ChunkedAnswer<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(head) = self.head.as_mut() else {
            self.chunk(buf)?;
            return Ok(buf.len());
        };
        head.extend_from_slice(buf);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = head.split_off(end + 4);
            let cgi_head = head.get(..end).unwrap_or_default().to_vec();
            self.head = None;
            let (http, bodiless) = to_http_head(&cgi_head, self.framing, None, SystemTime::now())
                .ok_or_else(|| io::Error::other("not a CGI head"))?;
            self.bodiless = bodiless;
            self.send(&http)?;
            self.chunk(&rest)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// An IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let (hour, minute, second) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        .get((days % 7) as usize)
        .copied()
        .unwrap_or("Thu");
    let (year, month, day) = civil_from_days(days);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .get(month.saturating_sub(1) as usize)
    .copied()
    .unwrap_or("Jan");
    format!("{weekday}, {day:02} {month} {year} {hour:02}:{minute:02}:{second:02} GMT")
}

/// Year, month (1–12) and day of the month of a count of days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
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

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
