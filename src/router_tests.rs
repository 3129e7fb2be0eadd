//! Tests of `router.rs`.

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
fn literal_and_regex_patterns_match_the_same_paths_as_their_regex() {
    // Each pattern against each path: the literal fast path must agree with the regex.
    let patterns = [
        "/login",
        "/a-b_c~d",
        "/",
        "/x.y",
        r"/\.hidden",
        "/(a)",
        "/ümlaut",
    ];
    let paths = [
        "/login", "/login/", "/LOGIN", "/a-b_c~d", "/", "", "/x.y", "/xzy", "/.hidden", "/a",
        "/(a)", "/ümlaut",
    ];
    for pattern in patterns {
        let r = router(&[(pattern, "p")]);
        let regex = Regex::new(&format!("^(?:{pattern})$")).unwrap();
        for path in paths {
            assert_eq!(
                r.find(path).is_some(),
                regex.is_match(path),
                "{pattern} vs {path}"
            );
        }
    }
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
