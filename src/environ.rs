//! `Environ`: the CGI/FastCGI meta-variables of one request, as a handler reads them
//! (`request.environ()`, Pycnic's `environ`). Their text is kept once, in the buffer the
//! FastCGI params were decoded into when it is UTF-8; each name and value is a span of it.

use std::fmt;
use std::ops::Range;

use crate::cookie::Cookies;
use crate::http::{Headers, title_case};
use crate::params::{Params, Spans};

/// The CGI/FastCGI meta-variables of a request, by name, in arrival order, duplicates kept
/// (nginx sends one `HTTP_COOKIE` per Cookie header). Values that are not UTF-8 are decoded
/// lossily.
#[derive(Clone, Default)]
pub struct Environ {
    /// Every name and value, back to back.
    text: String,
    /// Each variable's name and value in `text`.
    entries: Spans,
}

impl Environ {
    /// The variables from `(name, value)` pairs, in order; a repeated name keeps every value.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Environ {
        let mut environ = Environ::default();
        for (name, value) in &pairs {
            environ.push(name, value);
        }
        environ
    }

    /// The variables of `params`, their buffer kept as it is when it is UTF-8 (the common
    /// case: one request's variables cost no copy), else each name and value decoded lossily.
    pub(crate) fn from_params(params: Params) -> Environ {
        let (bytes, entries) = params.into_parts();
        let bytes = match String::from_utf8(bytes) {
            Ok(text) => {
                let whole = |r: &Range<usize>| {
                    text.is_char_boundary(r.start) && text.is_char_boundary(r.end)
                };
                if entries.iter().all(|(n, v)| whole(n) && whole(v)) {
                    return Environ { text, entries };
                }
                text.into_bytes()
            }
            Err(err) => err.into_bytes(),
        };
        let mut environ = Environ {
            text: String::with_capacity(bytes.len()),
            entries: Vec::with_capacity(entries.len()),
        };
        for (name, value) in entries {
            let piece = |r: Range<usize>| String::from_utf8_lossy(bytes.get(r).unwrap_or_default());
            environ.push(&piece(name), &piece(value));
        }
        environ
    }

    fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        self.text.push_str(name);
        let middle = self.text.len();
        self.text.push_str(value);
        self.entries.push((start..middle, middle..self.text.len()));
    }

    /// The first value of `name` (names are case-sensitive, as in CGI).
    pub fn get(&self, name: &str) -> Option<&str> {
        let (_, value) = self.entries.iter().find(|(n, _)| self.is(n, name))?;
        self.text.get(value.clone())
    }

    /// Every value of `name`, in arrival order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.values(name).collect()
    }

    /// Every value of `name`, in arrival order, without collecting them.
    pub(crate) fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.entries
            .iter()
            .filter(move |(n, _)| self.is(n, name))
            .map(|(_, v)| self.text.get(v.clone()).unwrap_or_default())
    }

    /// Whether the name at `range` is `name`, compared as bytes: the lookups that building a
    /// request makes scan every variable, and only a match's value is taken as text.
    fn is(&self, range: &Range<usize>, name: &str) -> bool {
        self.text.as_bytes().get(range.clone()) == Some(name.as_bytes())
    }

    /// Where `part` lies in the variables' text, when it is a piece of it (a value or a
    /// stretch of one, as borrowed from [`Environ::get`]); `None` for any other text.
    pub(crate) fn span_of(&self, part: &str) -> Option<Range<usize>> {
        let start = (part.as_ptr() as usize).checked_sub(self.text.as_ptr() as usize)?;
        let range = start..start.checked_add(part.len())?;
        let piece = self.text.get(range.clone())?;
        // The same length at the same address: the very bytes, not an equal copy.
        (piece.as_ptr() == part.as_ptr()).then_some(range)
    }

    /// The text of a span [`Environ::span_of`] gave (empty for any other range).
    pub(crate) fn text_at(&self, span: &Range<usize>) -> &str {
        self.text.get(span.clone()).unwrap_or_default()
    }

    /// The text buffer and the spans, for a finished request to give back to its thread
    /// (`crate::spare`).
    pub(crate) fn into_parts(self) -> (Vec<u8>, Spans) {
        (self.text.into_bytes(), self.entries)
    }

    /// Every variable, `(name, value)`, in the order the server sent them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| {
            (
                self.text.get(n.clone()).unwrap_or_default(),
                self.text.get(v.clone()).unwrap_or_default(),
            )
        })
    }
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Pycnic's cookies, from every `HTTP_COOKIE` param (nginx sends one per Cookie header: they
/// are joined with `; `, RFC 6265 §5.4). `Request` calls it on first use of its cookies.
pub(crate) fn cookies_of(environ: &Environ) -> Cookies {
    let mut cookie_headers = environ.values("HTTP_COOKIE");
    match (cookie_headers.next(), cookie_headers.next()) {
        (None, _) => Cookies::default(),
        (Some(one), None) => Cookies::parse(one.as_bytes()),
        (Some(_), Some(_)) => Cookies::parse(environ.get_all("HTTP_COOKIE").join("; ").as_bytes()),
    }
}

/// Pycnic's headers: `HTTP_*` params Title-Cased, plus Content-Type and Content-Length. A
/// repeated header is joined with `, ` (RFC 9110 §5.3), Cookie with `; ` (RFC 6265 §5.4).
/// `Request` calls it on first use of its headers.
pub(crate) fn headers_of(environ: &Environ) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in environ.iter() {
        // nginx passes Content-Type and Content-Length twice: as CONTENT_TYPE from
        // fastcgi_params and as HTTP_CONTENT_TYPE with the other request headers. The CGI
        // variable is the one RFC 3875 §4.1 defines; the HTTP_ copy is not a second header.
        let duplicate = match name {
            "HTTP_CONTENT_TYPE" => environ.get("CONTENT_TYPE").is_some(),
            "HTTP_CONTENT_LENGTH" => environ.get("CONTENT_LENGTH").is_some(),
            _ => false,
        };
        if duplicate {
            continue;
        }
        let header = if let Some(rest) = name.strip_prefix("HTTP_") {
            title_case(rest)
        } else if name == "CONTENT_TYPE" || name == "CONTENT_LENGTH" {
            if value.is_empty() {
                continue;
            }
            title_case(name)
        } else {
            continue;
        };
        let joined = match headers.get(&header) {
            Some(previous) if header == "Cookie" => format!("{previous}; {value}"),
            Some(previous) => format!("{previous}, {value}"),
            None => value.to_string(),
        };
        // Names are built from params: a name that is not a token is simply not a header.
        if headers.set_owned(header, joined).is_err() {
            log::debug!("param {name} is not a valid header; skipped");
        }
    }
    headers
}

#[cfg(test)]
#[path = "environ_tests.rs"]
mod tests;
