//! The ordered route table: Pycnic's `routes = [(regex, handler), …]`. The first pattern that
//! matches the whole path wins; capture groups become positional route arguments.

use std::fmt;

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
    regex: Regex,
    route: Route,
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
        let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|err| RouteError {
            pattern: pattern.to_string(),
            reason: err.to_string(),
        })?;
        self.entries.push(Entry {
            pattern: pattern.to_string(),
            regex,
            route,
        });
        Ok(())
    }

    /// The first route whose pattern matches all of `path`.
    pub(crate) fn find(&self, path: &str) -> Option<Match<'_>> {
        self.entries.iter().find_map(|entry| {
            let caps = entry.regex.captures(path)?;
            let args = caps
                .iter()
                .skip(1)
                .map(|group| group.map(|m| m.as_str().to_string()))
                .collect();
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
mod tests {
    use super::*;
    use crate::error::HttpError;
    use crate::handler::Handler;
    use crate::request::Request;
    use crate::response::Response;

    fn named(name: &'static str) -> Route {
        fn get(_: &(), _: &Request, _: &mut Response) -> Result<&'static str, HttpError> {
            Ok("")
        }
        Handler::new(()).named(name).get(get).erase()
    }

    fn router(routes: &[(&str, &'static str)]) -> Router {
        let mut r = Router::default();
        for (pattern, name) in routes {
            r.add(pattern, named(name)).unwrap();
        }
        r
    }

    #[test]
    fn first_full_match_wins_in_table_order() {
        let r = router(&[("/a.*", "first"), ("/ab", "second"), ("/b", "third")]);
        let cases = [
            ("/ab", Some("first")),
            ("/b", Some("third")),
            ("/xb", None),
            ("/b/", None),
        ];
        for (path, want) in cases {
            assert_eq!(
                r.find(path).map(|m| m.route.name.as_str()),
                want,
                "path {path}"
            );
        }
    }

    #[test]
    fn patterns_are_anchored_at_both_ends_even_with_alternation() {
        let r = router(&[("/login|/signin", "auth")]);
        let cases = [
            ("/login", true),
            ("/signin", true),
            ("/login/extra", false),
            ("/x/signin", false),
            ("/signin2", false),
        ];
        for (path, matched) in cases {
            assert_eq!(r.find(path).is_some(), matched, "path {path}");
        }
    }

    #[test]
    fn captures_become_positional_args_and_unmatched_groups_are_none() {
        let r = router(&[(r"/user/(\d+)(?:/(\w+))?", "user")]);
        let cases: [(&str, Vec<Option<&str>>); 2] = [
            ("/user/42", vec![Some("42"), None]),
            ("/user/42/posts", vec![Some("42"), Some("posts")]),
        ];
        for (path, want) in cases {
            let m = r.find(path).unwrap();
            let got: Vec<Option<&str>> = m.args.iter().map(|a| a.as_deref()).collect();
            assert_eq!(got, want, "path {path}");
        }
    }

    #[test]
    fn invalid_pattern_is_reported_with_the_pattern() {
        let mut r = Router::default();
        let err = r.add("/broken(", named("x")).unwrap_err();
        assert_eq!(err.pattern, "/broken(");
        assert!(
            err.to_string()
                .starts_with("invalid route pattern \"/broken(\""),
            "{err}"
        );
    }

    #[test]
    fn strip_path_drops_exactly_one_trailing_slash() {
        let cases = [
            ("/", "/"),
            ("/login/", "/login"),
            ("/login//", "/login/"),
            ("/login", "/login"),
            ("", ""),
        ];
        for (path, want) in cases {
            assert_eq!(strip_one_trailing_slash(path), want, "path {path:?}");
        }
    }
}
