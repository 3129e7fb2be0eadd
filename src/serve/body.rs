//! Request bodies off a connection: exactly `Content-Length` bytes, or a `chunked` body
//! decoded (sizes read with `httparse::parse_chunk_size`, trailers read and dropped), never
//! more than `--max-body` (413).

use std::io::Read;

use super::error::RequestError;
use super::head::MAX_HEAD;
use super::input::Input;

/// Reads exactly `len` body bytes (the caller checked `len` against the limit).
pub fn read_length<S: Read>(input: &mut Input<S>, len: u64) -> Result<Vec<u8>, RequestError> {
    let len = usize::try_from(len).map_err(|_| RequestError::HeadTooLarge)?;
    let mut body = Vec::with_capacity(len.min(1 << 20));
    while body.len() < len {
        if input.pending().is_empty() && input.fill()? == 0 {
            return Err(RequestError::Closed);
        }
        let want = (len - body.len()).min(input.pending().len());
        body.extend_from_slice(input.pending().get(..want).unwrap_or_default());
        input.consume(want);
    }
    Ok(body)
}

/// Reads a chunked body, at most `max_body` bytes of data.
pub fn read_chunked<S: Read>(input: &mut Input<S>, max_body: u64) -> Result<Vec<u8>, RequestError> {
    let mut body = Vec::new();
    loop {
        let size = chunk_size(input)?;
        if size == 0 {
            return skip_trailers(input).map(|()| body);
        }
        if (body.len() as u64).saturating_add(size) > max_body {
            return Err(RequestError::BodyTooLarge {
                declared: None,
                limit: max_body,
            });
        }
        let chunk = read_length(input, size)?;
        body.extend_from_slice(&chunk);
        expect_crlf(input)?;
    }
}

/// The size line of the next chunk.
fn chunk_size<S: Read>(input: &mut Input<S>) -> Result<u64, RequestError> {
    loop {
        match httparse::parse_chunk_size(input.pending()) {
            Ok(httparse::Status::Complete((used, size))) => {
                input.consume(used);
                return Ok(size);
            }
            Ok(httparse::Status::Partial) if input.pending().len() > MAX_HEAD => {
                return Err(RequestError::Malformed("chunk size line too long".into()));
            }
            Ok(httparse::Status::Partial) => {
                if input.fill()? == 0 {
                    return Err(RequestError::Closed);
                }
            }
            Err(_) => return Err(RequestError::Malformed("bad chunk size".into())),
        }
    }
}

/// The CRLF after a chunk's data.
fn expect_crlf<S: Read>(input: &mut Input<S>) -> Result<(), RequestError> {
    while input.pending().len() < 2 {
        if input.fill()? == 0 {
            return Err(RequestError::Closed);
        }
    }
    if input.pending().starts_with(b"\r\n") {
        input.consume(2);
        Ok(())
    } else {
        Err(RequestError::Malformed(
            "chunk data not followed by CRLF".into(),
        ))
    }
}

/// Trailer lines up to the empty line, dropped; all of them within [`MAX_HEAD`].
fn skip_trailers<S: Read>(input: &mut Input<S>) -> Result<(), RequestError> {
    let mut seen = 0usize;
    loop {
        match input.pending().windows(2).position(|w| w == b"\r\n") {
            Some(0) => {
                input.consume(2);
                return Ok(());
            }
            Some(end) => {
                seen += end + 2;
                input.consume(end + 2);
                if seen > MAX_HEAD {
                    return Err(RequestError::HeadTooLarge);
                }
            }
            None if input.pending().len() > MAX_HEAD => return Err(RequestError::HeadTooLarge),
            None => {
                if input.fill()? == 0 {
                    return Err(RequestError::Closed);
                }
            }
        }
    }
}
