//! Tests of `cookie.rs`.

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
