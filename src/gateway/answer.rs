//! The gateway's answer direction: an `HttpResponse` becomes CGI response bytes (RFC 3875 §6:
//! `Status:` line, header lines, blank line, body). The CGI transport writes them to stdout,
//! and the FastCGI transport frames the same bytes into FCGI_STDOUT records.

use std::io::{self, Write};

use crate::http::{HeaderText, status_line_len, write_status_line};
use crate::response::{Body, HttpResponse};

/// The CGI response head: `Status: 200 OK\r\n`, each header `Name: value\r\n`, `\r\n`.
/// `Status:` is always explicit (Apache answers 200 to a bare `Location`).
pub fn encode_head(response: &HttpResponse) -> Vec<u8> {
    let mut head = Vec::with_capacity(head_len(response.status, &response.headers));
    // Writing to a Vec cannot fail.
    let _ = write_head(response.status, &response.headers, &mut head);
    head
}

/// The length of the head of an answer with `status` and `headers` ([`encode_head`]'s
/// bytes), to size a buffer once.
pub fn head_len(status: u16, headers: &[(HeaderText, HeaderText)]) -> usize {
    let lines: usize = headers
        .iter()
        .map(|(name, value)| name.len() + 2 + value.len() + 2)
        .sum();
    b"Status: ".len() + status_line_len(status) + 2 + lines + 2
}

/// Writes the head of an answer with `status` and `headers` ([`encode_head`]'s bytes) to
/// `out` piece by piece, with no buffer of its own: the FastCGI transport writes it straight
/// into its FCGI_STDOUT records.
pub fn write_head<W: Write + ?Sized>(
    status: u16,
    headers: &[(HeaderText, HeaderText)],
    out: &mut W,
) -> io::Result<()> {
    out.write_all(b"Status: ")?;
    write_status_line(status, out)?;
    out.write_all(b"\r\n")?;
    for (name, value) in headers {
        out.write_all(name.as_bytes())?;
        out.write_all(b": ")?;
        out.write_all(value.as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    out.write_all(b"\r\n")
}

/// Writes the whole response to `out`. A full body goes out with the head in one `write_all`;
/// a streamed body is flushed after each chunk so it reaches the client as it comes. A panic
/// while producing a chunk ends the body there (logged); the transport then ends the response.
pub fn write_response<W: Write>(response: HttpResponse, out: &mut W) -> io::Result<()> {
    let HttpResponse {
        status,
        headers,
        body,
    } = response;
    let head_len = head_len(status, &headers);
    match body {
        Body::Full(body) => {
            let mut bytes = Vec::with_capacity(head_len + body.len());
            write_head(status, &headers, &mut bytes)?;
            bytes.extend_from_slice(&body);
            out.write_all(&bytes)
        }
        Body::Stream(mut chunks) => {
            let mut head = Vec::with_capacity(head_len);
            write_head(status, &headers, &mut head)?;
            out.write_all(&head)?;
            out.flush()?;
            loop {
                match crate::panic_capture::guarded(|| chunks.next()) {
                    Ok(Some(chunk)) => {
                        if !chunk.is_empty() {
                            out.write_all(&chunk)?;
                            out.flush()?;
                        }
                    }
                    Ok(None) => return Ok(()),
                    Err(_) => {
                        let lines = crate::panic_capture::take().unwrap_or_default();
                        log::error!(
                            "stream {}; body cut short",
                            lines.first().map_or("panicked", String::as_str)
                        );
                        return Ok(());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
