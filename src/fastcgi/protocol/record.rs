//! The FastCGI 1.0 codec on bytes only: record headers, padding, stream splitting, and the
//! application's replies (END_REQUEST, UNKNOWN_TYPE); name-value pairs are `pairs`'. No sockets, no recursion, no allocation
//! that a length from the wire can size beyond a caller's limit.

use std::fmt;

/// FCGI_VERSION_1, the only version there is (spec §8).
pub const VERSION_1: u8 = 1;
/// FCGI_HEADER_LEN.
pub const HEADER_LEN: usize = 8;
/// The largest content a record can carry: `contentLength` is 16 bits (spec §3.3).
pub const MAX_CONTENT_LEN: usize = 65535;
/// FCGI_NULL_REQUEST_ID: management records use request id 0 (spec §3.3).
pub const NULL_REQUEST_ID: u16 = 0;
/// FCGI_KEEP_CONN, the one flag of FCGI_BEGIN_REQUEST (spec §5.1).
pub const KEEP_CONN: u8 = 1;

/// Record types (spec §8).
pub mod kind {
    /// FCGI_BEGIN_REQUEST
    pub const BEGIN_REQUEST: u8 = 1;
    /// FCGI_ABORT_REQUEST
    pub const ABORT_REQUEST: u8 = 2;
    /// FCGI_END_REQUEST
    pub const END_REQUEST: u8 = 3;
    /// FCGI_PARAMS
    pub const PARAMS: u8 = 4;
    /// FCGI_STDIN
    pub const STDIN: u8 = 5;
    /// FCGI_STDOUT
    pub const STDOUT: u8 = 6;
    /// FCGI_STDERR
    pub const STDERR: u8 = 7;
    /// FCGI_DATA
    pub const DATA: u8 = 8;
    /// FCGI_GET_VALUES
    pub const GET_VALUES: u8 = 9;
    /// FCGI_GET_VALUES_RESULT
    pub const GET_VALUES_RESULT: u8 = 10;
    /// FCGI_UNKNOWN_TYPE
    pub const UNKNOWN_TYPE: u8 = 11;
}

/// Roles of FCGI_BEGIN_REQUEST (spec §5.1).
pub mod role {
    /// FCGI_RESPONDER
    pub const RESPONDER: u16 = 1;
    /// FCGI_AUTHORIZER
    pub const AUTHORIZER: u16 = 2;
    /// FCGI_FILTER
    pub const FILTER: u16 = 3;
}

/// `protocolStatus` of FCGI_END_REQUEST (spec §5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ProtocolStatus {
    /// FCGI_REQUEST_COMPLETE
    RequestComplete = 0,
    /// FCGI_CANT_MPX_CONN
    CantMpxConn = 1,
    /// FCGI_OVERLOADED
    Overloaded = 2,
    /// FCGI_UNKNOWN_ROLE
    UnknownRole = 3,
}

/// Why bytes are not a FastCGI record, or not one this application accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// `version` is not FCGI_VERSION_1.
    BadVersion(u8),
    /// Record type 0 does not exist.
    TypeZero,
    /// A record whose content has a fixed size came with another size.
    BadContentLength {
        /// The record's type.
        record_type: u8,
        /// The content length it came with.
        length: u16,
    },
    /// A name-value length runs past the end of the content that holds it.
    PairOverrun,
    /// The params passed `max_bytes`.
    ParamsTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The params passed `max_count` pairs.
    TooManyParams {
        /// The limit in pairs.
        limit: usize,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `G` of `GET`, `P` of `POST`...: curl or a browser sent HTTP to the FastCGI port.
            RecordError::BadVersion(v) if v.is_ascii_uppercase() => write!(
                f,
                "unsupported fastcgi version {v} ({:?}, as in an HTTP request): this is a \
                 FastCGI port; put a web server in front of it (nginx, Apache, lighttpd), or \
                 run the `serve` command for development",
                char::from(*v)
            ),
            RecordError::BadVersion(v) => write!(f, "unsupported fastcgi version {v}"),
            RecordError::TypeZero => f.write_str("record type 0"),
            RecordError::BadContentLength {
                record_type,
                length,
            } => write!(f, "record type {record_type} with content length {length}"),
            RecordError::PairOverrun => f.write_str("name-value length overruns its content"),
            RecordError::ParamsTooLarge { limit } => write!(f, "params over {limit} bytes"),
            RecordError::TooManyParams { limit } => write!(f, "more than {limit} params"),
        }
    }
}

impl std::error::Error for RecordError {}

/// A record header (FCGI_Header, spec §8); `reserved` is ignored on input, 0 on output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// FCGI_* record type.
    pub record_type: u8,
    /// The request the record belongs to (0: a management record).
    pub request_id: u16,
    /// Bytes of content that follow the header.
    pub content_length: u16,
    /// Bytes of padding after the content.
    pub padding_length: u8,
}

impl Header {
    /// Reads a header; rejects what no record can be (another version, type 0).
    pub fn parse(bytes: [u8; HEADER_LEN]) -> Result<Header, RecordError> {
        let [
            version,
            record_type,
            id1,
            id0,
            len1,
            len0,
            padding_length,
            _reserved,
        ] = bytes;
        if version != VERSION_1 {
            return Err(RecordError::BadVersion(version));
        }
        if record_type == 0 {
            return Err(RecordError::TypeZero);
        }
        Ok(Header {
            record_type,
            request_id: u16::from_be_bytes([id1, id0]),
            content_length: u16::from_be_bytes([len1, len0]),
            padding_length,
        })
    }

    /// The whole record's size on the wire: header, content, padding.
    pub fn record_len(&self) -> usize {
        HEADER_LEN + usize::from(self.content_length) + usize::from(self.padding_length)
    }
}

/// One complete record borrowed from an input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's header.
    pub header: Header,
    /// Its content, without the padding.
    pub content: &'a [u8],
}

/// Parses the record at the front of `buf`: `Ok(None)` until all of it (padding included) is
/// there, then the record and the number of bytes it used.
pub fn parse_record(buf: &[u8]) -> Result<Option<(Record<'_>, usize)>, RecordError> {
    let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
        // A wrong version is reported as soon as its byte is here, not when a header is.
        return match buf.first() {
            Some(&v) if v != VERSION_1 => Err(RecordError::BadVersion(v)),
            _ => Ok(None),
        };
    };
    let header = Header::parse(*head)?;
    let total = header.record_len();
    let content_end = HEADER_LEN + usize::from(header.content_length);
    match (buf.get(HEADER_LEN..content_end), buf.len() >= total) {
        (Some(content), true) => Ok(Some((Record { header, content }, total))),
        _ => Ok(None),
    }
}

/// The body of FCGI_BEGIN_REQUEST (FCGI_BeginRequestBody, spec §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BeginRequest {
    /// FCGI_RESPONDER, FCGI_AUTHORIZER or FCGI_FILTER.
    pub role: u16,
    /// FCGI_KEEP_CONN and future flags.
    pub flags: u8,
}

impl BeginRequest {
    /// Reads the 8-byte body; any other length is a malformed record.
    pub fn parse(content: &[u8]) -> Result<BeginRequest, RecordError> {
        match content {
            [r1, r0, flags, _, _, _, _, _] => Ok(BeginRequest {
                role: u16::from_be_bytes([*r1, *r0]),
                flags: *flags,
            }),
            _ => Err(RecordError::BadContentLength {
                record_type: kind::BEGIN_REQUEST,
                length: u16::try_from(content.len()).unwrap_or(u16::MAX),
            }),
        }
    }

    /// FCGI_KEEP_CONN: the connection stays open after this request.
    pub fn keep_conn(&self) -> bool {
        self.flags & KEEP_CONN != 0
    }
}

/// Padding that puts the next record on an 8-byte boundary, as the spec recommends (§3.3).
pub(crate) fn padding_for(content_len: usize) -> u8 {
    // (8 - len % 8) % 8 is at most 7, so the cast cannot truncate.
    ((8 - content_len % 8) % 8) as u8
}

/// Appends one record; `content` must be at most [`MAX_CONTENT_LEN`] bytes (callers split).
pub(crate) fn push_record(out: &mut Vec<u8>, record_type: u8, request_id: u16, content: &[u8]) {
    let length = u16::try_from(content.len()).unwrap_or(u16::MAX);
    let content = content.get(..usize::from(length)).unwrap_or(content);
    let padding = padding_for(content.len());
    let [id1, id0] = request_id.to_be_bytes();
    let [len1, len0] = length.to_be_bytes();
    out.extend_from_slice(&[VERSION_1, record_type, id1, id0, len1, len0, padding, 0]);
    out.extend_from_slice(content);
    out.extend_from_slice(&[0; 7][..usize::from(padding)]);
}

/// Appends `data` as records of a stream type (STDOUT, STDERR), split at 65535 bytes. It does
/// not end the stream: [`push_stream_end`] does (an empty record, spec §3.3).
pub fn push_stream(out: &mut Vec<u8>, record_type: u8, request_id: u16, data: &[u8]) {
    for chunk in data.chunks(MAX_CONTENT_LEN) {
        push_record(out, record_type, request_id, chunk);
    }
}

/// Appends the empty record that ends a stream.
pub fn push_stream_end(out: &mut Vec<u8>, record_type: u8, request_id: u16) {
    push_record(out, record_type, request_id, &[]);
}

/// Appends FCGI_END_REQUEST (spec §5.5).
pub fn push_end_request(
    out: &mut Vec<u8>,
    request_id: u16,
    app_status: u32,
    status: ProtocolStatus,
) {
    let [a3, a2, a1, a0] = app_status.to_be_bytes();
    let body = [a3, a2, a1, a0, status as u8, 0, 0, 0];
    push_record(out, kind::END_REQUEST, request_id, &body);
}

/// Appends FCGI_UNKNOWN_TYPE naming the type not understood (spec §4.2).
pub fn push_unknown_type(out: &mut Vec<u8>, unknown: u8) {
    let body = [unknown, 0, 0, 0, 0, 0, 0, 0];
    push_record(out, kind::UNKNOWN_TYPE, NULL_REQUEST_ID, &body);
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
