//! `HeaderText`: the text of a header name or value in a response. It costs no allocation when
//! it is static text (`Content-Type`, `application/json`), a number (`Content-Length`) or short
//! (up to 30 bytes are kept inline); longer text is an owned `String`. It reads as a `&str`
//! (`Deref`, `as_str`, `==` with `str`), so code written for `String` headers mostly reads the
//! same.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// The longest text kept inline, in bytes.
const INLINE: usize = 30;

/// A header name or value: static text, short text inline, or an owned `String`.
///
/// Equality, ordering and hashing are those of the text, whichever way it is held.
///
/// ```
/// use pycnic::http::HeaderText;
/// let name: HeaderText = "Content-Type".into();
/// assert_eq!(name, "Content-Type");
/// assert_eq!(HeaderText::number(1234).as_str(), "1234");
/// assert_eq!(HeaderText::copy("a=1; Path=/").len(), 11);
/// assert_eq!(HeaderText::from(String::from("x")), HeaderText::copy("x"));
/// ```
#[derive(Clone)]
pub struct HeaderText(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    /// The first `len` bytes of `bytes`, always copied whole from a `str`.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Owned(String),
}

impl HeaderText {
    /// Static text, kept as a reference.
    pub const fn from_static(text: &'static str) -> HeaderText {
        HeaderText(Repr::Static(text))
    }

    /// A copy of `text`: inline when it is short, else an owned `String`.
    pub fn copy(text: &str) -> HeaderText {
        match inline(text.as_bytes()) {
            Some(repr) => HeaderText(repr),
            None => HeaderText(Repr::Owned(text.to_string())),
        }
    }

    /// The decimal digits of `n` (`Content-Length`), inline.
    pub fn number(n: u64) -> HeaderText {
        let mut digits = [0; 20];
        match inline(decimal(n, &mut digits)) {
            Some(repr) => HeaderText(repr),
            None => HeaderText(Repr::Owned(n.to_string())),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(text) => text,
            Repr::Owned(text) => text,
            // Always valid: the bytes were copied whole from a `str`.
            Repr::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
        }
    }

    /// The text's bytes, with no UTF-8 check (inline text was copied whole from a `str`):
    /// what the answer's head is written from.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Static(text) => text.as_bytes(),
            Repr::Owned(text) => text.as_bytes(),
            Repr::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
        }
    }

    /// The text's length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// The text as a `String` (no copy when it is already one).
    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Owned(text) => text,
            _ => self.as_str().to_string(),
        }
    }
}

/// The inline form of `bytes` when they fit.
fn inline(text: &[u8]) -> Option<Repr> {
    let mut bytes = [0; INLINE];
    bytes.get_mut(..text.len())?.copy_from_slice(text);
    Some(Repr::Inline {
        len: u8::try_from(text.len()).ok()?,
        bytes,
    })
}

/// Writes the decimal digits of `n` at the end of `buf` and returns them (no allocation).
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            // n % 10 is below 10, so the cast cannot truncate.
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or_default()
}

impl Default for HeaderText {
    fn default() -> HeaderText {
        HeaderText::from_static("")
    }
}

impl Deref for HeaderText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for HeaderText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for HeaderText {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for HeaderText {
    fn from(text: &'static str) -> HeaderText {
        HeaderText::from_static(text)
    }
}

impl From<String> for HeaderText {
    fn from(text: String) -> HeaderText {
        HeaderText(Repr::Owned(text))
    }
}

impl From<HeaderText> for String {
    fn from(text: HeaderText) -> String {
        text.into_string()
    }
}

impl fmt::Display for HeaderText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for HeaderText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for HeaderText {
    fn eq(&self, other: &HeaderText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for HeaderText {}

impl PartialEq<str> for HeaderText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for HeaderText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for HeaderText {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<HeaderText> for str {
    fn eq(&self, other: &HeaderText) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<HeaderText> for &str {
    fn eq(&self, other: &HeaderText) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<HeaderText> for String {
    fn eq(&self, other: &HeaderText) -> bool {
        self == other.as_str()
    }
}

impl PartialOrd for HeaderText {
    fn partial_cmp(&self, other: &HeaderText) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HeaderText {
    fn cmp(&self, other: &HeaderText) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for HeaderText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

#[cfg(test)]
#[path = "header_text_tests.rs"]
mod tests;
