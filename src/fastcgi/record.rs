//! The FastCGI 1.0 codec on bytes only: record headers, padding, name-value pairs (also when a
//! pair straddles PARAMS records), stream splitting, and the application's replies
//! (END_REQUEST, UNKNOWN_TYPE, GET_VALUES_RESULT). No sockets, no recursion, no allocation
//! that a length from the wire can size beyond a caller's limit.

use std::fmt;
use std::ops::Range;

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
pub(super) fn padding_for(content_len: usize) -> u8 {
    // (8 - len % 8) % 8 is at most 7, so the cast cannot truncate.
    ((8 - content_len % 8) % 8) as u8
}

/// Appends one record; `content` must be at most [`MAX_CONTENT_LEN`] bytes (callers split).
fn push_record(out: &mut Vec<u8>, record_type: u8, request_id: u16, content: &[u8]) {
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

/// Appends one name-value length: one byte below 128, else four with the top bit set (§3.4).
fn push_length(out: &mut Vec<u8>, len: usize) {
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let len = u32::try_from(len).unwrap_or(0x7fff_ffff) & 0x7fff_ffff;
            out.extend_from_slice(&(len | 0x8000_0000).to_be_bytes());
        }
    }
}

/// Appends one name-value pair in the FastCGI encoding (spec §3.4).
pub fn push_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    push_length(out, name.len());
    push_length(out, value.len());
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

/// Reads one length at `pos`: `Ok(None)` when its bytes are not all there yet.
fn read_length(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let first = *buf.get(pos)?;
    if first & 0x80 == 0 {
        return Some((usize::from(first), pos + 1));
    }
    let four = buf.get(pos..pos + 4)?;
    let [b3, b2, b1, b0] = [*four.first()?, *four.get(1)?, *four.get(2)?, *four.get(3)?];
    let len = u32::from_be_bytes([b3 & 0x7f, b2, b1, b0]);
    Some((usize::try_from(len).ok()?, pos + 4))
}

/// Reads the pair at `pos`: `(name, value, next position)`, or `None` when it is incomplete.
fn read_pair(buf: &[u8], pos: usize) -> Option<(&[u8], &[u8], usize)> {
    let (name_len, pos) = read_length(buf, pos)?;
    let (value_len, pos) = read_length(buf, pos)?;
    let name_end = pos.checked_add(name_len)?;
    let value_end = name_end.checked_add(value_len)?;
    Some((
        buf.get(pos..name_end)?,
        buf.get(name_end..value_end)?,
        value_end,
    ))
}

/// The pair at `pos` as ranges: `(name, value, next position)`, or `None` when it is
/// incomplete.
fn pair_spans(buf: &[u8], pos: usize) -> Option<(Range<usize>, Range<usize>, usize)> {
    let (name_len, name_start) = read_length(buf, pos)?;
    let (value_len, name_start) = read_length(buf, name_start)?;
    let name_end = name_start.checked_add(name_len)?;
    let value_end = name_end.checked_add(value_len)?;
    if value_end > buf.len() {
        return None;
    }
    Some((name_start..name_end, name_end..value_end, value_end))
}

/// A name-value pair borrowed from a record's content.
pub type PairRef<'a> = (&'a [u8], &'a [u8]);

/// Decodes the pairs of one self-contained content (GET_VALUES); a pair cut short is an error.
pub fn decode_pairs(content: &[u8]) -> Result<Vec<PairRef<'_>>, RecordError> {
    let mut pairs = Vec::new();
    let mut pos = 0;
    while pos < content.len() {
        let (name, value, next) = read_pair(content, pos).ok_or(RecordError::PairOverrun)?;
        pairs.push((name, value));
        pos = next;
    }
    Ok(pairs)
}

/// Name-value pairs in wire order; names and values are bytes, duplicates are kept.
pub type Pairs = crate::params::Params;

/// Decodes the FCGI_PARAMS stream incrementally: pairs may straddle records (spec §3.4 puts
/// no boundary on them), so an incomplete tail waits for the next record. Both limits are
/// checked before anything is stored.
#[derive(Debug)]
pub struct ParamsDecoder {
    /// The params, their buffer holding every record's content as it came: pairs are marked
    /// where they lie, and one cut by a record's end completes when the next record is
    /// appended.
    pairs: Pairs,
    /// Where the first pair not yet complete starts in the buffer.
    decoded: usize,
    received: usize,
    max_bytes: usize,
    max_count: usize,
}

impl ParamsDecoder {
    /// A decoder that refuses params past `max_bytes` bytes or `max_count` pairs.
    pub fn new(max_bytes: usize, max_count: usize) -> ParamsDecoder {
        ParamsDecoder {
            pairs: Pairs::new(),
            decoded: 0,
            received: 0,
            max_bytes,
            max_count,
        }
    }

    /// Takes the content of one non-empty PARAMS record.
    pub fn feed(&mut self, content: &[u8]) -> Result<(), RecordError> {
        self.received = self.received.saturating_add(content.len());
        if self.received > self.max_bytes {
            return Err(RecordError::ParamsTooLarge {
                limit: self.max_bytes,
            });
        }
        // One copy of the whole record (room for it, and for the pairs it likely holds, is
        // made once), then the complete pairs are marked where they lie.
        self.pairs.reserve(content.len());
        self.pairs.append_raw(content);
        self.decode()
    }

    /// Marks the complete pairs after the last one marked.
    fn decode(&mut self) -> Result<(), RecordError> {
        let mut pos = self.decoded;
        while let Some((name, value, next)) = pair_spans(self.pairs.raw(), pos) {
            if self.pairs.len() >= self.max_count {
                return Err(RecordError::TooManyParams {
                    limit: self.max_count,
                });
            }
            self.pairs.mark(pos..name.start, name, value);
            pos = next;
        }
        self.decoded = pos;
        // A pair announcing more bytes than the limit leaves can never complete: say so now.
        let raw = self.pairs.raw();
        if let Some((name_len, after)) = read_length(raw, pos)
            && let Some((value_len, _)) = read_length(raw, after)
        {
            let need = name_len.saturating_add(value_len);
            if need > self.max_bytes.saturating_sub(pos) {
                return Err(RecordError::ParamsTooLarge {
                    limit: self.max_bytes,
                });
            }
        }
        Ok(())
    }

    /// The empty PARAMS record arrived: every pair must be complete.
    pub fn finish(self) -> Result<Pairs, RecordError> {
        if self.decoded == self.pairs.raw().len() {
            Ok(self.pairs)
        } else {
            Err(RecordError::PairOverrun)
        }
    }
}

/// The figures FCGI_GET_VALUES can ask about (spec §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    /// FCGI_MAX_CONNS
    pub max_conns: usize,
    /// FCGI_MAX_REQS
    pub max_reqs: usize,
}

/// Answers FCGI_GET_VALUES with a complete GET_VALUES_RESULT record: exactly the names asked
/// that this application knows, each with its true value (FCGI_MPXS_CONNS is 0: one request
/// at a time per connection); names it does not know are left out, as spec §4.1 says.
pub fn push_get_values_result(
    out: &mut Vec<u8>,
    query: &[u8],
    figures: &Figures,
) -> Result<(), RecordError> {
    const NAMES: [&[u8]; 3] = [b"FCGI_MAX_CONNS", b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS"];
    let values = [
        figures.max_conns.to_string(),
        figures.max_reqs.to_string(),
        "0".into(),
    ];
    let mut answered = [false; 3];
    let mut body = Vec::new();
    for (name, _) in decode_pairs(query)? {
        // A name asked twice is answered once, which also keeps the answer within one record.
        let known = NAMES.iter().position(|known| *known == name);
        if let Some(index) = known
            && let (Some(done), Some(value)) = (answered.get_mut(index), values.get(index))
            && !*done
        {
            *done = true;
            push_pair(&mut body, name, value.as_bytes());
        }
    }
    push_record(out, kind::GET_VALUES_RESULT, NULL_REQUEST_ID, &body);
    Ok(())
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
