//! FastCGI name-value pairs on bytes only (spec §3.4): their encoding, their decoding (also
//! when a pair straddles PARAMS records, with limits checked before anything is stored), and
//! the GET_VALUES_RESULT reply made of them (spec §4.1).

use std::ops::Range;

use super::record::{NULL_REQUEST_ID, RecordError, kind, push_record};

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
