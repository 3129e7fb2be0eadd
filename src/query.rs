//! Query strings with Pycnic's `args` rules — Python's
//! `dict(urllib.parse.parse_qsl(qs))` (Python ≥ 3.10, `keep_blank_values=False`) — and the
//! `%XX` decoding paths use.
//!
//! The rules, as `parse_qsl` applies them:
//! - fields are separated by `&` only (Python 3.10 dropped `;`, RFC 3986 §3.4 leaves the
//!   separator to the application);
//! - a field without `=` is dropped, and so is a field whose raw value is empty (`a=`);
//!   `=v` is kept, with the empty key;
//! - in key and value, `+` becomes a space, then `%XX` escapes are decoded (the
//!   `application/x-www-form-urlencoded` rules of the WHATWG URL standard); an invalid
//!   escape (`%zz`, a lone `%`) is kept as is;
//! - the decoded bytes are read as UTF-8, each invalid sequence becoming U+FFFD (Python's
//!   `errors='replace'`).
//!
//! Every kept pair is stored, so a repeated key can be read in full (`get_all`); `get`, `iter`
//! and the JSON form give Pycnic's dict view: one entry per key, at the key's first position,
//! holding its last value.
//!
//! The decoded pairs are text in one buffer with spans beside it, keys found by a scan while
//! they are few and through an index past that: a usual query costs a few allocations in all.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use crate::params::Spans;

/// Past this many distinct keys, [`Args`] keeps a key → slot index; below it a scan of the
/// few keys is cheaper than hashing and costs no allocation.
const INDEX_AFTER: usize = 16;

/// The end of a key's chain of pairs.
const NO_NEXT: usize = usize::MAX;

/// The parsed query string: Pycnic's `request.args`.
///
/// Every decoded key and value is text in one buffer, with their spans beside it (a repeated
/// key's pairs share its first text): parsing costs a few allocations however many arguments
/// there are, plus a key index for a query with many keys.
#[derive(Clone, Default)]
pub struct Args {
    /// The decoded keys and values, back to back.
    text: String,
    /// Every kept `(key, value)` pair's spans in `text`, in query order.
    pairs: Spans,
    /// One slot per distinct key, in first-seen order: the index in `pairs` of its last value.
    slots: Vec<usize>,
    /// Per slot, the index in `pairs` of its first value.
    firsts: Vec<usize>,
    /// Per pair, the index of the next pair with the same key ([`NO_NEXT`]: none), so
    /// [`Args::get_all`] visits only its key's pairs.
    next: Vec<usize>,
    /// Key → its slot, only past [`INDEX_AFTER`] keys, so parsing stays linear however many
    /// keys there are.
    index: Option<HashMap<String, usize>>,
}

impl Args {
    /// Parses a raw `QUERY_STRING` (without the `?`). Never fails: bytes that do not fit the
    /// rules are dropped or kept as the rules say, in one pass over the input.
    pub fn parse(query: &[u8]) -> Args {
        let mut args = Args::default();
        // The decoded text is about the query's size, and every kept field has its `=`.
        let most = query.iter().filter(|&&b| b == b'=').count();
        if most == 0 {
            return args;
        }
        args.text.reserve(query.len());
        args.pairs.reserve(most.min(64));
        args.slots.reserve(most.min(64));
        args.firsts.reserve(most.min(64));
        args.next.reserve(most.min(64));
        let mut scratch = Vec::new();
        for field in query.split(|&b| b == b'&') {
            let mut halves = field.splitn(2, |&b| b == b'=');
            let (Some(raw_key), Some(raw_value)) = (halves.next(), halves.next()) else {
                continue; // no `=`: parse_qsl drops it without keep_blank_values
            };
            if raw_value.is_empty() {
                continue; // a blank value (`a=`) is dropped; `=v` is kept
            }
            args.push(raw_key, raw_value, &mut scratch);
        }
        args
    }

    /// Decodes and stores one field.
    fn push(&mut self, raw_key: &[u8], raw_value: &[u8], scratch: &mut Vec<u8>) {
        let position = self.pairs.len();
        let key = push_form_component(&mut self.text, raw_key, scratch);
        let key = match self.slot_of(self.at(&key)) {
            Some(slot) => {
                // A repeat: its pair points at the key's first text, this copy is dropped.
                self.text.truncate(key.start);
                let first = self.slots.get(slot).and_then(|&at| self.pairs.get(at));
                let first = first.map_or(key.start..key.start, |(k, _)| k.clone());
                if let Some(last) = self.slots.get_mut(slot) {
                    if let Some(link) = self.next.get_mut(*last) {
                        *link = position;
                    }
                    *last = position;
                }
                first
            }
            None => {
                let slot = self.slots.len();
                self.slots.push(position);
                self.firsts.push(position);
                if self.index.is_some() {
                    let name = self.at(&key).to_string();
                    if let Some(index) = &mut self.index {
                        index.insert(name, slot);
                    }
                } else if self.slots.len() > INDEX_AFTER {
                    self.build_index(&key);
                }
                key
            }
        };
        let value = push_form_component(&mut self.text, raw_value, scratch);
        self.pairs.push((key, value));
        self.next.push(NO_NEXT);
    }

    /// Indexes every key so far: the slots' pairs, and `newest`, whose pair is not stored yet.
    fn build_index(&mut self, newest: &Range<usize>) {
        let mut index = HashMap::with_capacity(self.slots.len() * 2);
        for (slot, &position) in self.slots.iter().enumerate() {
            let key = match self.pairs.get(position) {
                Some((key, _)) => key,
                None => newest,
            };
            index.insert(self.at(key).to_string(), slot);
        }
        self.index = Some(index);
    }

    /// The text of a span.
    fn at(&self, span: &Range<usize>) -> &str {
        self.text.get(span.clone()).unwrap_or_default()
    }

    /// The slot of `key`, if the query held it.
    fn slot_of(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.slots.iter().position(|&position| {
                self.pairs
                    .get(position)
                    .is_some_and(|(k, _)| self.at(k) == key)
            }),
        }
    }

    fn pair(&self, position: usize) -> Option<(&str, &str)> {
        self.pairs
            .get(position)
            .map(|(k, v)| (self.at(k), self.at(v)))
    }

    /// The value of `key`; when the key repeats, the last value wins (Pycnic's dict).
    pub fn get(&self, key: &str) -> Option<&str> {
        let position = *self.slots.get(self.slot_of(key)?)?;
        self.pair(position).map(|(_, v)| v)
    }

    /// Every value of `key`, in query order (`?tag=a&tag=b` → `["a", "b"]`); empty when absent.
    /// Costs a key lookup plus the key's own values (its pairs are chained), so a handler that
    /// calls it for every key stays linear in the query.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        let mut values = Vec::new();
        let Some(mut position) = self
            .slot_of(key)
            .and_then(|slot| self.firsts.get(slot).copied())
        else {
            return values;
        };
        while let Some((_, value)) = self.pair(position) {
            values.push(value);
            position = self.next.get(position).copied().unwrap_or(NO_NEXT);
        }
        values
    }

    /// One `(key, value)` per distinct key, as Pycnic's dict lists them: in the order keys were
    /// first seen, each with its last value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.slots
            .iter()
            .filter_map(|&position| self.pair(position))
    }

    /// Every kept pair, repeats included, in query order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (self.at(k), self.at(v)))
    }

    /// The number of distinct keys.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the query string held no argument.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether the query string held `key` (with or without a value).
    pub fn contains(&self, key: &str) -> bool {
        self.slot_of(key).is_some()
    }
}

/// Equal when they hold the same pairs in the same order (however the text is laid out).
impl PartialEq for Args {
    fn eq(&self, other: &Args) -> bool {
        self.pairs().eq(other.pairs())
    }
}

impl Eq for Args {}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.pairs()).finish()
    }
}

/// A JSON object with dict semantics: one member per key, first position, last value.
impl serde::Serialize for Args {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// Decodes `%XX` escapes (RFC 3986 §2.1; hex digits in either case) and nothing else: `+`
/// stays a `+`, as it must in a path. An invalid escape is kept literally, as Python's
/// `unquote` does.
pub fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    decode(bytes, false)
}

/// Appends one key or value of a form-encoded query to `text` and returns its span: `+` →
/// space, then `%XX`, then lossy UTF-8. A component with neither is copied as it is; another
/// is decoded through `scratch`, which one parse reuses.
fn push_form_component(text: &mut String, bytes: &[u8], scratch: &mut Vec<u8>) -> Range<usize> {
    let start = text.len();
    if bytes.iter().any(|&b| b == b'%' || b == b'+') {
        scratch.clear();
        decode_into(bytes, true, scratch);
        text.push_str(&String::from_utf8_lossy(scratch));
    } else {
        text.push_str(&String::from_utf8_lossy(bytes));
    }
    start..text.len()
}

/// The one decoding loop. `plus_is_space` applies the form rule first, so `%2B` still yields
/// a literal `+` (Python replaces `+` before unquoting, and `+` is never a hex digit, so doing
/// both in one pass gives the same bytes).
fn decode(bytes: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    decode_into(bytes, plus_is_space, &mut out);
    out
}

/// [`decode`], appending to `out`.
fn decode_into(bytes: &[u8], plus_is_space: bool, out: &mut Vec<u8>) {
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        match (b, tail) {
            (b'%', [hi, lo, after @ ..]) => match (hex_value(*hi), hex_value(*lo)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    rest = after;
                    continue;
                }
                _ => out.push(b'%'),
            },
            (b'+', _) if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
        rest = tail;
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
