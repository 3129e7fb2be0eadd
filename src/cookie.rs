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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dict(cookies: &Cookies) -> Vec<(&str, &str)> {
        cookies.iter().collect()
    }

    /// A named case: the input and the dict it must give, in order.
    type Case<'a> = (&'a str, &'a [u8], &'a [(&'a str, &'a str)]);

    /// Each expectation matches Pycnic 0.1.9's `request.cookies` on the same header.
    #[test]
    fn parse_follows_pycnic_rules() {
        let cases: &[Case] = &[
            ("empty header", b"", &[]),
            ("one cookie", b"session_id=abc", &[("session_id", "abc")]),
            (
                "seed example: segment without = skipped, trailing ; fine",
                b"session_id=abc; path=/;",
                &[("session_id", "abc"), ("path", "/")],
            ),
            ("segments without = skipped", b"a; b=2; c", &[("b", "2")]),
            ("only separators", b" ; ;; ", &[]),
            ("segment is stripped, key is not", b" a =b", &[("a ", "b")]),
            ("value keeps inner spaces", b"a= b c ", &[("a", " b c")]),
            (
                "python whitespace stripped",
                b"\x0ba=1\x1f;\tb=2\r\n",
                &[("a", "1"), ("b", "2")],
            ),
            ("= in value kept", b"a=b=c", &[("a", "b=c")]),
            ("empty value kept", b"a=", &[("a", "")]),
            ("empty name kept", b"=v", &[("", "v")]),
            ("blank name and value", b"  ;  ; =", &[("", "")]),
            (
                "last duplicate wins at first position",
                b"a=1;b=2;a=3",
                &[("a", "3"), ("b", "2")],
            ),
            ("quotes not removed", b"x=\"q\"", &[("x", "\"q\"")]),
            ("escapes not decoded", b"x=a%20b+c", &[("x", "a%20b+c")]),
            (
                "DELETED value skipped",
                b"session_id=DELETED; theme=dark",
                &[("theme", "dark")],
            ),
            (
                "DELETED does not erase an earlier value",
                b"a=1; a=DELETED",
                &[("a", "1")],
            ),
            ("value after DELETED kept", b"a=DELETED; a=1", &[("a", "1")]),
            ("DELETED anywhere in the value", b"a=xDELETEDy", &[]),
            (
                "DELETED in the name is fine",
                b"DELETED=1",
                &[("DELETED", "1")],
            ),
            (
                "lower-case deleted is a value",
                b"a=deleted",
                &[("a", "deleted")],
            ),
            ("utf-8 kept", "a=é".as_bytes(), &[("a", "é")]),
            (
                "non-utf-8 lossy",
                b"a=\xe9t\xc3",
                &[("a", "\u{fffd}t\u{fffd}")],
            ),
            ("non-utf-8 name lossy", b"\xff=1", &[("\u{fffd}", "1")]),
            (
                "nginx: two headers joined with '; '",
                b"a=1; b=2; c=3",
                &[("a", "1"), ("b", "2"), ("c", "3")],
            ),
            (
                "apache: two headers joined with ', ' are two cookies (Pycnic: a = '1, b=2')",
                b"a=1, b=2; c=3",
                &[("a", "1"), ("b", "2"), ("c", "3")],
            ),
            (
                "apache: three headers, several cookies each",
                b"a=1; b=2, c=3, d=4; e=5",
                &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")],
            ),
            (
                "', ' not followed by name= stays in the value",
                b"a=x, y; b=p, =q, r s=t",
                &[("a", "x, y"), ("b", "p, =q, r s=t")],
            ),
            (
                "',' without a space is not a join",
                b"a=1,b=2",
                &[("a", "1,b=2")],
            ),
            (
                "the join's cookie can be a DELETED one",
                b"a=1, b=DELETED",
                &[("a", "1")],
            ),
        ];
        for (name, header, expected) in cases {
            let cookies = Cookies::parse(header);
            assert_eq!(dict(&cookies), *expected, "{name}");
            assert_eq!(cookies.len(), expected.len(), "{name}");
            assert_eq!(cookies.is_empty(), expected.is_empty(), "{name}");
            for (key, value) in *expected {
                assert_eq!(cookies.get(key), Some(*value), "{name}: get {key:?}");
                assert!(cookies.contains(key), "{name}: contains {key:?}");
            }
        }
    }

    #[test]
    fn json_form_is_a_dict() {
        let cookies = Cookies::parse(b"session_id=DELETED; theme=dark; b=1; theme=light");
        let json = serde_json::to_string(&cookies).unwrap();
        assert_eq!(json, r#"{"theme":"light","b":"1"}"#);
        assert_eq!(cookies.get("session_id"), None, "deleted cookie absent");
        assert!(!cookies.contains("session_id"), "deleted cookie absent");
    }

    #[test]
    fn many_names_read_the_same_past_the_index_threshold() {
        // Names past INDEX_AFTER are found through the index, repeats still replace in place.
        let mut header = String::new();
        for round in 0..3 {
            for n in 0..(INDEX_AFTER * 3) {
                header.push_str(&format!("c{n}=v{n}r{round}; "));
            }
        }
        header.push_str("c0=DELETED; c1=last");
        let cookies = Cookies::parse(header.as_bytes());
        assert_eq!(cookies.len(), INDEX_AFTER * 3);
        assert_eq!(
            cookies.get("c0"),
            Some("v0r2"),
            "a DELETED value does not replace"
        );
        assert_eq!(cookies.get("c1"), Some("last"));
        assert_eq!(cookies.get(&format!("c{}", INDEX_AFTER * 2)), Some("v32r2"));
        assert_eq!(
            cookies.iter().next(),
            Some(("c0", "v0r2")),
            "first position kept"
        );
        assert!(!cookies.contains("c999"));
        let same = Cookies::parse(format!("c0=v0r2; c1=last; {header}").as_bytes());
        assert_eq!(
            same, cookies,
            "equal by content, whatever the text's layout"
        );
    }

    proptest! {
        #[test]
        fn no_header_panics_and_the_dict_is_consistent(header in any::<Vec<u8>>()) {
            let cookies = Cookies::parse(&header);
            for (name, value) in cookies.iter() {
                prop_assert_eq!(cookies.get(name), Some(value));
                prop_assert!(!value.contains(DELETED));
            }
        }

    }
}
