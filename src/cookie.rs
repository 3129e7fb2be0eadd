//! The request's `Cookie` header, read with Pycnic's rules (the `Set-Cookie` builder is
//! `set_cookie.rs`).
//!
//! Reading follows Pycnic, not RFC 6265 §5.4, so that a ported app sees the same dict:
//! split on `;`, skip segments without `=`, strip each segment, split at the first `=`,
//! last duplicate wins, no unquoting or decoding, and a cookie whose value contains
//! `DELETED` is skipped (Pycnic's mark of a deleted cookie). One deliberate difference: `, `
//! followed by `name=` also separates cookies, since Apache joins two `Cookie` headers so.
//!
//! The parsed cookies are text in one buffer with spans beside it, found by a scan while they
//! are few and through an index past that: parsing a usual header costs two allocations.

use std::collections::HashMap;
use std::fmt;

use crate::params::Spans;

/// Past this many names, [`Cookies`] keeps a name → position index; below it a scan of the
/// few names is cheaper than hashing and costs no allocation.
const INDEX_AFTER: usize = 16;

/// The request's cookies: Pycnic's `request.cookies`, a dict from name to value.
///
/// Every kept name and value is text in one buffer, with their spans beside it (a value that
/// a later duplicate replaces stays in the buffer, unused): parsing a header costs two
/// allocations however many cookies it holds, plus a name index for a header with many names.
#[derive(Clone, Default)]
pub struct Cookies {
    /// The names and values, back to back.
    text: String,
    /// `(name, value)` spans in `text`, in the order names were first seen, each with its last
    /// value.
    entries: Spans,
    /// Name → position in `entries`, only past [`INDEX_AFTER`] names, so a header with
    /// thousands of names still parses in linear time.
    index: Option<HashMap<String, usize>>,
}

impl Cookies {
    /// Parses one `Cookie` header value (the `HTTP_COOKIE` meta-variable) with Pycnic's rules.
    ///
    /// When a request carries several `Cookie` headers, the caller joins them with `"; "`
    /// first (RFC 6265 §5.4 and RFC 9113 §8.2.3 say so; nginx passes each one as its own
    /// `HTTP_COOKIE` param). Apache joins them with `", "`; Pycnic's rules would let the first
    /// header's last cookie swallow the next header's first cookie into its value (`a=1, b=2`
    /// → `a` = `"1, b=2"`). A valid cookie value holds neither a comma nor a space (RFC 6265
    /// §4.1.1), so `, ` followed by a cookie name and `=` is read as a separator too: `a=1,
    /// b=2` gives `a` and `b`, while `a=x, y` keeps the value `x, y`.
    ///
    /// Bytes that are not UTF-8 become U+FFFD (Pycnic, reading a latin-1 WSGI string, shows
    /// mojibake instead). Stripping removes the ASCII bytes Python's `str.strip()` removes;
    /// Python also strips U+0085 and U+00A0, which as raw bytes are not UTF-8 here.
    pub fn parse(header: &[u8]) -> Cookies {
        // Every cookie has its `=`: room for that many spans (capped), and for the text.
        let most = header.iter().filter(|&&b| b == b'=').count();
        if most == 0 {
            return Cookies::default();
        }
        // The buffers of the last request's cookies on this thread, else new ones.
        let (mut text, mut entries) = crate::spare::cookies();
        text.reserve(header.len());
        entries.reserve(most.min(64));
        let mut cookies = Cookies {
            text,
            entries,
            index: None,
        };
        for segment in header.split(|&b| b == b';') {
            for_each_apache_part(segment, |part| cookies.add(part));
        }
        cookies
    }

    /// Reads one `name=value` piece of the header.
    fn add(&mut self, piece: &[u8]) {
        let piece = strip_python_whitespace(piece);
        let Some(eq) = piece.iter().position(|&b| b == b'=') else {
            return; // no `=`: a bare attribute-like segment, skipped
        };
        let name = piece.get(..eq).unwrap_or_default();
        let value = piece.get(eq + 1..).unwrap_or_default();
        if value
            .windows(DELETED.len())
            .any(|w| w == DELETED.as_bytes())
        {
            return; // Pycnic checks the value, not the name
        }
        self.insert(
            &String::from_utf8_lossy(name),
            &String::from_utf8_lossy(value),
        );
    }

    fn insert(&mut self, name: &str, value: &str) {
        let position = self.position(name);
        let start = self.text.len();
        self.text.push_str(value);
        let value_span = start..self.text.len();
        if let Some(position) = position {
            if let Some(entry) = self.entries.get_mut(position) {
                entry.1 = value_span;
            }
            return;
        }
        let start = self.text.len();
        self.text.push_str(name);
        let position = self.entries.len();
        self.entries.push((start..self.text.len(), value_span));
        if let Some(index) = &mut self.index {
            index.insert(name.to_string(), position);
        } else if self.entries.len() > INDEX_AFTER {
            let index = self
                .entries
                .iter()
                .enumerate()
                .map(|(at, (n, _))| (self.at(n).to_string(), at))
                .collect();
            self.index = Some(index);
        }
    }

    /// The text of a span.
    fn at(&self, span: &std::ops::Range<usize>) -> &str {
        self.text.get(span.clone()).unwrap_or_default()
    }

    /// Where the cookie `name` is in `entries`.
    fn position(&self, name: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(name).copied(),
            None => self.entries.iter().position(|(n, _)| self.at(n) == name),
        }
    }

    /// The value of the cookie `name`, if the request sent it (Pycnic's `cookies.get(name)`).
    pub fn get(&self, name: &str) -> Option<&str> {
        let (_, value) = self.entries.get(self.position(name)?)?;
        Some(self.at(value))
    }

    /// Every cookie, in the order names were first seen, each with its last value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (self.at(n), self.at(v)))
    }

    /// How many cookies there are (each name once).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the request sent no cookie.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the request sent the cookie `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }
}

impl Cookies {
    /// Gives this request's buffers to the next request's cookies on this thread (small ones:
    /// a header with very many cookies lets its go).
    pub(crate) fn recycle(self) {
        let Cookies {
            text,
            entries,
            index,
        } = self;
        if index.is_none() {
            crate::spare::keep_cookies(text, entries);
        }
    }
}

/// Equal when they hold the same cookies in the same order (however the text is laid out).
impl PartialEq for Cookies {
    fn eq(&self, other: &Cookies) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Cookies {}

impl fmt::Debug for Cookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A JSON object, as Pycnic returns `self.request.cookies`.
impl serde::Serialize for Cookies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// The value Pycnic gives a deleted cookie, and skips when reading one.
pub(crate) const DELETED: &str = "DELETED";

/// The bytes Python's `str.strip()` removes that are ASCII.
fn is_python_whitespace(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
}

fn strip_python_whitespace(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| !is_python_whitespace(b));
    let end = bytes.iter().rposition(|&b| !is_python_whitespace(b));
    match (start, end) {
        (Some(start), Some(end)) => bytes.get(start..=end).unwrap_or_default(),
        _ => &[],
    }
}

/// Calls `each` with every piece of a `;` segment, split at every `, ` that a cookie name and
/// `=` follow (Apache's join of two `Cookie` headers). Linear: the name runs checked after
/// each `, ` never overlap, since a name holds neither a comma nor a space.
fn for_each_apache_part(segment: &[u8], mut each: impl FnMut(&[u8])) {
    let mut start = 0;
    let mut at = 0;
    while let Some(offset) = segment
        .get(at..)
        .and_then(|rest| rest.windows(2).position(|w| w == b", "))
    {
        let comma = at + offset;
        let after = segment.get(comma + 2..).unwrap_or_default();
        let name_len = after.iter().take_while(|&&b| is_token_byte(b)).count();
        if name_len > 0 && after.get(name_len) == Some(&b'=') {
            each(segment.get(start..comma).unwrap_or_default());
            start = comma + 2;
        }
        at = comma + 2;
    }
    each(segment.get(start..).unwrap_or_default());
}

/// A byte of an RFC 9110 token (a cookie name, RFC 6265 §4.1.1).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
#[path = "cookie_tests.rs"]
mod tests;
