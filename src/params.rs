//! A request's CGI meta-variables as the web server sent them (FastCGI's FCGI_PARAMS, or the
//! CGI environment): names and values are bytes, in arrival order, repeats kept. All of them
//! live in one buffer with their boundaries beside it, already in the `Spans` form the
//! handler's [`Environ`](crate::request::Environ) keeps: decoding a request's thirty-odd
//! variables costs two allocations (the buffer and the spans, both sized from the byte count
//! a record announces) and one copy of each FCGI_PARAMS record's content, whose pairs are
//! marked where they lie (the wire's length prefixes between them blanked); both move into
//! the `Environ` without a copy when it is UTF-8. When the request is answered, the two
//! buffers go back to the thread (`crate::spare`), and the next request decoded on it reuses
//! them: in the steady state, none of this allocates.

use std::fmt;
use std::ops::Range;

/// Each variable's name and value as ranges of one buffer (the form `spare` keeps).
pub(crate) use crate::spare::Spans;

/// The meta-variables of one request, in order. Two are equal when they hold the same
/// variables in the same order, however their buffers are laid out.
#[derive(Clone, Default)]
pub struct Params {
    /// Every name and value, back to back (or, as FastCGI decoding leaves it, with the wire's
    /// length prefixes, blanked, between them).
    bytes: Vec<u8>,
    /// Each pair's name and value ranges in `bytes`, the form `Environ` keeps.
    pairs: Spans,
}

/// The fewest bytes a pair takes on the FastCGI wire is two (both lengths, empty name and
/// value), but real ones average far more (`SERVER_PORT` and `80` is 15): one span per 16
/// announced bytes holds a web server's usual variables without growing, and the cap keeps a
/// large record (a long cookie) from reserving spans it will not fill.
const BYTES_PER_PAIR: usize = 16;
/// The most spans [`Params::reserve`] sets aside at once.
const MAX_RESERVED_PAIRS: usize = 128;

impl Params {
    /// No variables.
    pub fn new() -> Params {
        Params::default()
    }

    /// Room for `bytes` more bytes of names and values (a FastCGI record announces them), and
    /// for the pairs they likely hold, so decoding one record grows neither vector.
    pub fn reserve(&mut self, bytes: usize) {
        if self.bytes.capacity() == 0 && self.pairs.capacity() == 0 {
            // A new request's params: the buffers of the last one this thread finished.
            (self.bytes, self.pairs) = crate::spare::params();
        }
        self.bytes.reserve(bytes);
        self.pairs
            .reserve((bytes / BYTES_PER_PAIR).clamp(1, MAX_RESERVED_PAIRS));
    }

    /// The buffer's bytes, for a decoder that appends the wire form and marks the pairs in it.
    pub(crate) fn raw(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends bytes in the wire form (FCGI_PARAMS content, length prefixes included): one copy
    /// for a whole record, the pairs marked in it afterwards with [`Params::mark`].
    pub(crate) fn append_raw(&mut self, content: &[u8]) {
        self.bytes.extend_from_slice(content);
    }

    /// Adds the variable whose name and value are these ranges of the buffer, after the others;
    /// `framing` (the length prefixes before them) is blanked to NUL bytes when it holds a
    /// 4-byte length (its first byte has the high bit set), so the buffer is UTF-8 whenever
    /// the names and values are.
    pub(crate) fn mark(&mut self, framing: Range<usize>, name: Range<usize>, value: Range<usize>) {
        // One-byte lengths are ASCII already; only a 4-byte one needs blanking.
        if let Some(prefix) = self.bytes.get_mut(framing)
            && prefix.iter().any(|&b| b >= 0x80)
        {
            prefix.fill(0);
        }
        self.pairs.push((name, value));
    }

    /// Adds a variable after the others.
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(name);
        let middle = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.pairs.push((start..middle, middle..self.bytes.len()));
    }

    /// How many variables there are (repeats counted).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Every `(name, value)`, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], &[u8])> + ExactSizeIterator {
        self.pairs.iter().map(|(name, value)| {
            (
                self.bytes.get(name.clone()).unwrap_or_default(),
                self.bytes.get(value.clone()).unwrap_or_default(),
            )
        })
    }

    /// The first value of `name`.
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Drops every variable named `name`.
    pub fn remove(&mut self, name: &[u8]) {
        let bytes = &self.bytes;
        self.pairs
            .retain(|(n, _)| bytes.get(n.clone()) != Some(name));
    }

    /// The buffer and each pair's name and value ranges in it, for a reader that keeps them
    /// (moved, not copied).
    pub(crate) fn into_parts(self) -> (Vec<u8>, Spans) {
        (self.bytes, self.pairs)
    }
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(N, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Params {
        let mut params = Params::new();
        for (name, value) in iter {
            params.push(name.as_ref(), value.as_ref());
        }
        params
    }
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> Extend<(N, V)> for Params {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.push(name.as_ref(), value.as_ref());
        }
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Params) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Params {}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
            .finish()
    }
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
