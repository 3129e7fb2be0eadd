//! HTTP vocabulary shared by every layer: methods, status reason phrases, and an ordered,
//! case-insensitive header list that refuses bytes which could split a header. Header names
//! and values are [`HeaderText`]: static, short or numeric text costs no allocation.

use std::fmt;

pub use crate::header_text::HeaderText;

/// The HTTP methods a handler can implement (RFC 9110 §9), in Pycnic's `Allow` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
    /// CONNECT.
    Connect,
    /// OPTIONS.
    Options,
    /// TRACE.
    Trace,
    /// PATCH.
    Patch,
}

impl Method {
    /// Every method, in the order Pycnic lists them in `Allow`.
    pub const ALL: [Method; 9] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Connect,
        Method::Options,
        Method::Trace,
        Method::Patch,
    ];

    /// Parses an already upper-cased method name; anything else is `None` (a 405).
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// The method's name as sent on the wire, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The standard reason phrase of a status code (RFC 9110 §15 and the IANA registry); empty
/// for a code without one, which is still sent as is.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "",
    }
}

/// `"404 Not Found"`, or just `"599"` for a code without a phrase.
pub fn status_line(code: u16) -> String {
    let reason = reason_phrase(code);
    if reason.is_empty() {
        code.to_string()
    } else {
        format!("{code} {reason}")
    }
}

/// Writes [`status_line`] to `out` without allocating.
pub(crate) fn write_status_line<W: std::io::Write + ?Sized>(
    code: u16,
    out: &mut W,
) -> std::io::Result<()> {
    let mut digits = [0; 20];
    out.write_all(crate::header_text::decimal(u64::from(code), &mut digits))?;
    let reason = reason_phrase(code);
    if !reason.is_empty() {
        out.write_all(b" ")?;
        out.write_all(reason.as_bytes())?;
    }
    Ok(())
}

/// The length of [`status_line`] in bytes.
pub(crate) fn status_line_len(code: u16) -> usize {
    let digits = match code {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    };
    let reason = reason_phrase(code);
    if reason.is_empty() {
        digits
    } else {
        digits + 1 + reason.len()
    }
}

/// Why a header was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The name is empty or holds a byte outside RFC 9110's `token`.
    InvalidName(String),
    /// The value holds CR, LF, NUL or another control byte (header injection).
    InvalidValue(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::InvalidName(name) => write!(f, "invalid header name {name:?}"),
            HeaderError::InvalidValue(name) => {
                write!(
                    f,
                    "invalid value for header {name:?}: control bytes are not allowed"
                )
            }
        }
    }
}

impl std::error::Error for HeaderError {}

/// RFC 9110 §5.6.2 `tchar`.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 §5.1: a field name is a non-empty token.
pub fn is_valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_token_byte)
}

/// RFC 9110 §5.5: field values may hold visible bytes, spaces and tabs, never CR, LF, NUL
/// or other control bytes.
pub fn is_valid_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// `CONTENT_TYPE` → `Content-Type`, `X_FORWARDED_FOR` → `X-Forwarded-For`.
pub fn title_case(name: &str) -> String {
    if name.is_ascii() {
        // Header names are ASCII (tokens): byte by byte, no Unicode case tables.
        let mut out = Vec::with_capacity(name.len());
        let mut upper = true;
        for b in name.bytes() {
            out.push(match b {
                b'_' | b'-' => b'-',
                _ if upper => b.to_ascii_uppercase(),
                _ => b.to_ascii_lowercase(),
            });
            upper = b == b'_' || b == b'-';
        }
        return String::from_utf8(out).unwrap_or_default();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if c == '_' || c == '-' {
            out.push('-');
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// An ordered header list with case-insensitive names. Setting a header that already exists
/// replaces its value in place (first position kept, as a Python dict does). Names and values
/// are [`HeaderText`], so a static or short header is stored without allocating, and the list
/// moves whole into an `HttpResponse`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(HeaderText, HeaderText)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// The value of `name`, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name)
            .and_then(|index| self.entries.get(index))
            .map(|(_, v)| v.as_str())
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Whether a header of that name is set (case-insensitive).
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Sets `name` to `value`, refusing anything that could break the header block.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        if !is_valid_header_name(name) {
            return Err(HeaderError::InvalidName(name.to_string()));
        }
        if !is_valid_header_value(value) {
            return Err(HeaderError::InvalidValue(name.to_string()));
        }
        self.insert_unchecked(name, value);
        Ok(())
    }

    /// [`Headers::set`] with a name and value already owned, which it keeps without copying.
    pub(crate) fn set_owned(&mut self, name: String, value: String) -> Result<(), HeaderError> {
        if !is_valid_header_name(&name) {
            return Err(HeaderError::InvalidName(name));
        }
        if !is_valid_header_value(&value) {
            return Err(HeaderError::InvalidValue(name));
        }
        self.insert(name.into(), value.into());
        Ok(())
    }

    /// For names and values this crate built itself or already validated.
    pub(crate) fn insert_unchecked(&mut self, name: &str, value: &str) {
        match self
            .entries
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(entry) => entry.1 = HeaderText::copy(value),
            None => self
                .entries
                .push((HeaderText::copy(name), HeaderText::copy(value))),
        }
    }

    /// Sets a header this crate built itself, keeping the first name's spelling.
    pub(crate) fn insert(&mut self, name: HeaderText, value: HeaderText) {
        match self
            .entries
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// One static header, in `entries` (an empty list, perhaps a reused one with room): the
    /// default `Content-Type` of a `Response`.
    pub(crate) fn one_in(
        mut entries: Vec<(HeaderText, HeaderText)>,
        name: &'static str,
        value: &'static str,
    ) -> Headers {
        entries.clear();
        entries.push((
            HeaderText::from_static(name),
            HeaderText::from_static(value),
        ));
        Headers { entries }
    }

    /// Removes the header of that name (case-insensitive) and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let index = self.position(name)?;
        Some(self.entries.remove(index).1.into_string())
    }

    /// Every header, `(name, value)`, in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Every header as stored, in order (cloning one copies no static or short text).
    pub(crate) fn entries(&self) -> &[(HeaderText, HeaderText)] {
        &self.entries
    }

    /// The header list itself, to become a response's without copying.
    pub(crate) fn into_entries(self) -> Vec<(HeaderText, HeaderText)> {
        self.entries
    }

    /// How many headers are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no header is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl serde::Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
