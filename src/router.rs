//! The ordered route table: Pycnic's `routes = [(regex, handler), …]`. The first pattern that
//! matches the whole path wins; capture groups become positional route arguments.
//!
//! A one-shot CGI process answers one request, so start-up cost counts: a pattern with no regex
//! metacharacter (`/login`) is compared as a string and never compiled, and any other pattern is
//! checked for syntax when the route is added (a bad pattern still fails at start-up) but
//! compiled only when a request first reaches it.

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

use crate::handler::Route;

/// A route pattern that does not compile: a programmer error, reported at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteError {
    /// The pattern as written.
    pub pattern: String,
    /// Why the `regex` crate refused it.
    pub reason: String,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid route pattern {:?}: {}",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for RouteError {}

struct Entry {
    pattern: String,
    matcher: Matcher,
    route: Route,
}

/// How an entry recognises its paths.
enum Matcher {
    /// A pattern without metacharacters matches exactly itself.
    Literal,
    /// `^(?:pattern)$`, syntax-checked when added, compiled on first use.
    Regex {
        anchored: String,
        compiled: OnceLock<Option<Regex>>,
    },
}

impl Matcher {
    fn new(pattern: &str) -> Result<Matcher, RouteError> {
        if !pattern.chars().any(regex_syntax::is_meta_character) {
            return Ok(Matcher::Literal);
        }
        let anchored = format!("^(?:{pattern})$");
        regex_syntax::Parser::new()
            .parse(&anchored)
            .map_err(|err| RouteError {
                pattern: pattern.to_string(),
                reason: err.to_string(),
            })?;
        Ok(Matcher::Regex {
            anchored,
            compiled: OnceLock::new(),
        })
    }

    /// The capture groups when `path` matches (none for a literal), or `None`.
    fn captures(&self, pattern: &str, path: &str) -> Option<Vec<Option<String>>> {
        match self {
            Matcher::Literal => (pattern == path).then(Vec::new),
            Matcher::Regex { anchored, compiled } => {
                let regex = compiled.get_or_init(|| match Regex::new(anchored) {
                    Ok(regex) => Some(regex),
                    Err(err) => {
                        // Parsed fine when added; only a compiled-size limit can fail here.
                        log::error!("route pattern {pattern:?} cannot be compiled: {err}");
                        None
                    }
                });
                let caps = regex.as_ref()?.captures(path)?;
                Some(
                    caps.iter()
                        .skip(1)
                        .map(|group| group.map(|m| m.as_str().to_string()))
                        .collect(),
                )
            }
        }
    }
}

/// The routes of an app, in order.
#[derive(Default)]
pub(crate) struct Router {
    entries: Vec<Entry>,
}

/// A successful match: the route and its capture groups.
pub(crate) struct Match<'a> {
    pub(crate) route: &'a Route,
    pub(crate) args: Vec<Option<String>>,
}

impl Router {
    /// Adds a route. The pattern is anchored as `^(?:pattern)$`: Pycnic's `'^' + p + '$'`
    /// lets an alternation such as `a|b` escape the anchors; grouping keeps it whole.
    pub(crate) fn add(&mut self, pattern: &str, route: Route) -> Result<(), RouteError> {
        let matcher = Matcher::new(pattern)?;
        self.entries.push(Entry {
            pattern: pattern.to_string(),
            matcher,
            route,
        });
        Ok(())
    }

    /// The first route whose pattern matches all of `path`.
    pub(crate) fn find(&self, path: &str) -> Option<Match<'_>> {
        self.entries.iter().find_map(|entry| {
            let args = entry.matcher.captures(&entry.pattern, path)?;
            Some(Match {
                route: &entry.route,
                args,
            })
        })
    }

    /// `(pattern, Allow list, handler name)` for each route, in order.
    pub(crate) fn table(&self) -> Vec<(String, String, String)> {
        self.entries
            .iter()
            .map(|e| {
                (
                    e.pattern.clone(),
                    e.route.allow_header(),
                    e.route.name.clone(),
                )
            })
            .collect()
    }
}

/// Pycnic's `strip_path`: drop exactly one trailing `/` when the path is longer than `/`.
pub(crate) fn strip_one_trailing_slash(path: &str) -> &str {
    if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
