//! A request head read with `httparse` (hyper's parser) under limits, and its body framing by
//! RFC 9112 §6: `Content-Length`, `chunked`, or none; both at once is refused (request
//! smuggling), as are differing lengths and any other transfer coding.

use super::error::RequestError;

/// The request line and headers together, at most.
pub const MAX_HEAD: usize = 16 * 1024;
/// Header lines, at most.
pub const MAX_HEADERS: usize = 100;

/// A parsed request head.
#[derive(Debug)]
pub struct Head {
    /// The method as sent.
    pub method: String,
    /// The request target as sent (origin form: path and query).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header names and values, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// How the body comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

impl Head {
    /// Every value of header `name` (case-insensitive), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Whether a header `name` has `token` in its comma-separated list (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name).any(|v| {
            v.split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    }

    /// Whether the connection stays open after this request (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        if self.minor_version == 0 {
            self.has_token("Connection", "keep-alive")
        } else {
            !self.has_token("Connection", "close")
        }
    }

    /// The body framing, or the reason the head is refused.
    pub fn framing(&self) -> Result<Framing, RequestError> {
        let encodings: Vec<&[u8]> = self.values("Transfer-Encoding").collect();
        let lengths: Vec<&[u8]> = self.values("Content-Length").collect();
        if !encodings.is_empty() {
            if !lengths.is_empty() {
                return Err(RequestError::Smuggling);
            }
            let joined = encodings.join(&b","[..]);
            let text = String::from_utf8_lossy(&joined).into_owned();
            if self.minor_version == 0 || !text.trim().eq_ignore_ascii_case("chunked") {
                return Err(RequestError::UnsupportedEncoding(text));
            }
            return Ok(Framing::Chunked);
        }
        let mut length: Option<u64> = None;
        for value in lengths.iter().flat_map(|v| v.split(|b| *b == b',')) {
            let digits = value.trim_ascii();
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(RequestError::Malformed(
                    "Content-Length is not a number".into(),
                ));
            }
            let n = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            if length.is_some_and(|l| l != n) {
                return Err(RequestError::Malformed(
                    "differing Content-Length values".into(),
                ));
            }
            length = Some(n);
        }
        Ok(match length {
            None | Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
        })
    }
}

/// Parses the head at the front of `buf`: `Ok(None)` until all of it is there, then the head
/// and the bytes it used. Leading empty lines are skipped (RFC 9112 §2.2).
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, RequestError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let status = match request.parse(buf) {
        Ok(status) => status,
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::HeadTooLarge),
        Err(err) => return Err(RequestError::Malformed(err.to_string())),
    };
    let used = match status {
        httparse::Status::Partial if buf.len() > MAX_HEAD => {
            return Err(RequestError::HeadTooLarge);
        }
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(used) if used > MAX_HEAD => {
            return Err(RequestError::HeadTooLarge);
        }
        httparse::Status::Complete(used) => used,
    };
    let (Some(method), Some(target), Some(minor_version)) =
        (request.method, request.path, request.version)
    else {
        return Err(RequestError::Malformed("incomplete request line".into()));
    };
    if !target.starts_with('/') {
        return Err(RequestError::Malformed(
            "the target must be a path starting with '/'".into(),
        ));
    }
    let head = Head {
        method: method.to_string(),
        target: target.to_string(),
        minor_version,
        headers: request
            .headers
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect(),
    };
    if minor_version == 1 && head.values("Host").count() != 1 {
        return Err(RequestError::Malformed(
            "HTTP/1.1 needs exactly one Host".into(),
        ));
    }
    Ok(Some((head, used)))
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
