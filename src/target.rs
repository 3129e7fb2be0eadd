//! The path a handler routes on, from a request's meta-variables: PATH_INFO, else the path of
//! the request target (REQUEST_URI, RFC 9112 §3.2: query and fragment dropped, an absolute-form
//! target reduced to its path, percent-decoded), else DOCUMENT_URI, else `/`. One rule for the
//! `Request` the gateway builds, the runtime's own pages and the logs.

use std::borrow::Cow;

use crate::params::Params;
use crate::query::percent_decode;
use crate::request::{Environ, PathText};

/// PATH_INFO when non-empty (servers decode it); else the path of REQUEST_URI, percent-decoded
/// the same way — nginx's stock `fastcgi_params` send no PATH_INFO; else DOCUMENT_URI; else `/`.
/// A path that is a stretch of a variable as it is stays a span of the environ (no copy).
pub(crate) fn request_path(environ: &Environ) -> PathText {
    match path_from(|name| environ.get(name).map(str::as_bytes)) {
        Cow::Borrowed(text) => match environ.span_of(text) {
            Some(span) => PathText::InEnviron(span),
            None if text == "/" => PathText::Own(Cow::Borrowed("/")),
            None => PathText::Own(Cow::Owned(text.to_string())),
        },
        Cow::Owned(text) => PathText::Own(Cow::Owned(text)),
    }
}

/// The request's path as a handler sees it (`Request::path`, by the same rule), read from
/// the params without building the request: the runtime's own pages (`--status-path`,
/// `--ping-path`) match it. Borrowed unless it has to be decoded.
pub fn request_path_of(params: &Params) -> Cow<'_, str> {
    path_from(|name| params.get(name.as_bytes()))
}

/// The rule of [`request_path`], over any lookup of the first value of a variable.
fn path_from<'a>(get: impl Fn(&str) -> Option<&'a [u8]>) -> Cow<'a, str> {
    if let Some(info) = get("PATH_INFO").filter(|p| !p.is_empty()) {
        return String::from_utf8_lossy(info);
    }
    if let Some(uri) = get("REQUEST_URI").filter(|u| !u.is_empty())
        && let Some(path) = target_path(uri)
    {
        return path;
    }
    match get("DOCUMENT_URI").filter(|p| !p.is_empty()) {
        Some(doc) => String::from_utf8_lossy(doc),
        None => Cow::Borrowed("/"),
    }
}

/// The path of a request target (REQUEST_URI) as a handler sees it: query and fragment
/// dropped, percent-decoded; `/` when it has none.
pub fn uri_path(uri: &str) -> String {
    target_path(uri.as_bytes()).map_or_else(|| "/".to_string(), Cow::into_owned)
}

/// [`uri_path`], `None` when the target has no path; borrowed unless it has to be decoded.
fn target_path(uri: &[u8]) -> Option<Cow<'_, str>> {
    let end = uri
        .iter()
        .position(|b| *b == b'?' || *b == b'#')
        .unwrap_or(uri.len());
    let raw = uri.get(..end).unwrap_or_default();
    // An absolute-form target (RFC 9112 §3.2.2): keep only its path. Only a target that
    // starts with a scheme is one: an origin-form target starts with `/`, and a `://` later
    // in its path is part of the path (taking what follows it would route `/x/a://b/status`
    // to `/status`, past a web server's location rules for `/status`).
    let raw = match absolute_form_at(raw) {
        Some(at) => {
            let rest = raw.get(at + 3..).unwrap_or_default();
            match rest.iter().position(|b| *b == b'/') {
                Some(slash) => rest.get(slash..).unwrap_or(b"/"),
                None => b"/",
            }
        }
        None => raw,
    };
    if raw.is_empty() {
        return None;
    }
    if !raw.contains(&b'%') {
        return Some(String::from_utf8_lossy(raw));
    }
    Some(Cow::Owned(
        String::from_utf8_lossy(&percent_decode(raw)).into_owned(),
    ))
}

/// Where the `://` of an absolute-form target is: after a scheme (RFC 3986 §3.1: a letter,
/// then letters, digits, `+`, `-`, `.`) that starts the target; `None` for any other target.
fn absolute_form_at(target: &[u8]) -> Option<usize> {
    let at = target.windows(3).position(|w| w == b"://")?;
    let scheme = target.get(..at)?;
    let (first, rest) = scheme.split_first()?;
    let valid = first.is_ascii_alphabetic()
        && rest
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(at)
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
