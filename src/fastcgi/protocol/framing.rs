//! Stream content written straight into FCGI_STDOUT records at the end of a buffer, in pieces
//! (a CGI head line by line, then the body) with no copy of its own: the records are the
//! ones `record::push_stream` makes of all the pieces at once, so an answer's head, body,
//! end of stream and END_REQUEST are built in one buffer sized once.

use std::io;

use crate::fastcgi::protocol::record::{HEADER_LEN, MAX_CONTENT_LEN, VERSION_1, padding_for};

/// Records of one stream type being written. One record stays open; its header is filled in
/// when it is full (65535 bytes) or closed. Closed on drop.
#[derive(Debug)]
pub struct StreamRecords<'a> {
    out: &'a mut Vec<u8>,
    record_type: u8,
    request_id: u16,
    /// Where the open record's header starts in `out`.
    open: Option<usize>,
}

impl<'a> StreamRecords<'a> {
    /// Records of `record_type` for `request_id`, appended to `out`.
    pub fn new(out: &'a mut Vec<u8>, record_type: u8, request_id: u16) -> StreamRecords<'a> {
        StreamRecords {
            out,
            record_type,
            request_id,
            open: None,
        }
    }

    /// The bytes `content_len` bytes of stream content take as records, headers and padding
    /// included, to size a buffer once.
    pub fn framed_len(content_len: usize) -> usize {
        let record = |len: usize| HEADER_LEN + len + usize::from(padding_for(len));
        let full = content_len / MAX_CONTENT_LEN;
        let rest = content_len % MAX_CONTENT_LEN;
        full * record(MAX_CONTENT_LEN) + if rest == 0 { 0 } else { record(rest) }
    }

    /// Appends `data` to the stream.
    pub fn push(&mut self, mut data: &[u8]) {
        // The usual piece (a head line, a small body) fits the open record.
        if let Some(start) = self.open
            && self.content_len(start) + data.len() <= MAX_CONTENT_LEN
        {
            self.out.extend_from_slice(data);
            return;
        }
        while !data.is_empty() {
            let start = match self.open {
                Some(start) if self.content_len(start) < MAX_CONTENT_LEN => start,
                _ => {
                    self.close();
                    let start = self.out.len();
                    self.out.extend_from_slice(&[0; HEADER_LEN]);
                    self.open = Some(start);
                    start
                }
            };
            let room = MAX_CONTENT_LEN.saturating_sub(self.content_len(start));
            let (now, rest) = data.split_at_checked(room).unwrap_or((data, &[]));
            self.out.extend_from_slice(now);
            data = rest;
        }
    }

    /// The content written so far into the record whose header starts at `start`.
    fn content_len(&self, start: usize) -> usize {
        self.out.len().saturating_sub(start + HEADER_LEN)
    }

    /// Completes the open record (its header and padding), if any.
    pub fn close(&mut self) {
        if let Some(start) = self.open.take() {
            complete(self.out, start, self.record_type, self.request_id);
        }
    }
}

/// Appends one record whose content `fill` appends to `out`, writing its header before and
/// its padding after: the usual answer (head and body together under 64 KiB) is written
/// straight into its record, with no piece-by-piece bookkeeping. The caller knows the content
/// fits one record (at most 65535 bytes); more is cut off in the header's length.
pub fn push_record_with(
    out: &mut Vec<u8>,
    record_type: u8,
    request_id: u16,
    fill: impl FnOnce(&mut Vec<u8>),
) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    fill(out);
    complete(out, start, record_type, request_id);
}

/// Fills in the header of the record that starts at `start` (its content is the rest of
/// `out`) and appends its padding.
fn complete(out: &mut Vec<u8>, start: usize, record_type: u8, request_id: u16) {
    let content_len = out.len().saturating_sub(start + HEADER_LEN);
    let padding = padding_for(content_len);
    let [id1, id0] = request_id.to_be_bytes();
    let [len1, len0] = u16::try_from(content_len).unwrap_or(u16::MAX).to_be_bytes();
    let header = [VERSION_1, record_type, id1, id0, len1, len0, padding, 0];
    if let Some(slot) = out.get_mut(start..start + HEADER_LEN) {
        slot.copy_from_slice(&header);
    }
    out.extend_from_slice(&[0; 7][..usize::from(padding)]);
}

impl io::Write for StreamRecords<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.push(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for StreamRecords<'_> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
