//! Tests of `set_cookie.rs`.

use super::*;
use crate::cookie::Cookies;
use proptest::prelude::*;

#[test]
fn set_cookie_output_is_canonical() {
    let cases = [
        (
            "defaults: path /",
            Cookie::new("sid", "1234567890abcdefg"),
            "sid=1234567890abcdefg; Path=/",
        ),
        (
            "semicolons removed from value",
            Cookie::new("a", "x;y;"),
            "a=xy; Path=/",
        ),
        ("empty value", Cookie::new("a", ""), "a=; Path=/"),
        ("no path", Cookie::new("a", "1").path(""), "a=1"),
        (
            "other path",
            Cookie::new("a", "1").path("/api"),
            "a=1; Path=/api",
        ),
        (
            "expires",
            Cookie::new("a", "1").expires("Wed, 21 Oct 2015 07:28:00 GMT"),
            "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/",
        ),
        (
            "domain",
            Cookie::new("a", "1").domain("example.com"),
            "a=1; Domain=example.com; Path=/",
        ),
        (
            "max-age",
            Cookie::new("a", "1").max_age(3600),
            "a=1; Path=/; Max-Age=3600",
        ),
        (
            "negative max-age",
            Cookie::new("a", "1").max_age(-1),
            "a=1; Path=/; Max-Age=-1",
        ),
        (
            "secure",
            Cookie::new("a", "1").secure(),
            "a=1; Path=/; Secure",
        ),
        (
            "httponly",
            Cookie::new("a", "1").http_only(),
            "a=1; Path=/; HttpOnly",
        ),
        (
            "samesite strict",
            Cookie::new("a", "1").same_site(SameSite::Strict),
            "a=1; Path=/; SameSite=Strict",
        ),
        (
            "samesite lax",
            Cookie::new("a", "1").same_site(SameSite::Lax),
            "a=1; Path=/; SameSite=Lax",
        ),
        (
            "samesite none",
            Cookie::new("a", "1").same_site(SameSite::None),
            "a=1; Path=/; SameSite=None",
        ),
        (
            "flags in order",
            Cookie::new("a", "1").flag("Partitioned").flag("x=y"),
            "a=1; Path=/; Partitioned; x=y",
        ),
        (
            "everything, in canonical order whatever the call order",
            Cookie::new("a", "1")
                .flag("Partitioned")
                .same_site(SameSite::Lax)
                .http_only()
                .secure()
                .max_age(60)
                .path("/p")
                .domain("d.example")
                .expires("Thu, 01 Jan 2037 00:00:00 GMT"),
            "a=1; Expires=Thu, 01 Jan 2037 00:00:00 GMT; Domain=d.example; Path=/p; \
             Max-Age=60; Secure; HttpOnly; SameSite=Lax; Partitioned",
        ),
        (
            "deletion",
            Cookie::deletion("session_id"),
            "session_id=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Max-Age=0",
        ),
        (
            "value may hold spaces and utf-8",
            Cookie::new("a", "b c é"),
            "a=b c é; Path=/",
        ),
    ];
    for (name, cookie, expected) in cases {
        assert_eq!(cookie.to_header_value().unwrap(), expected, "{name}");
    }
    let deleted = Cookie::deletion("sid");
    assert_eq!((deleted.name(), deleted.value()), ("sid", "DELETED"));
}

#[test]
fn injection_attempts_are_refused() {
    let bad_name = |name: &str| CookieError::InvalidName(name.to_string());
    let bad_value = CookieError::InvalidValue { name: "a".into() };
    let bad = |attribute| CookieError::InvalidAttribute {
        name: "a".into(),
        attribute,
    };
    let cases = [
        ("empty name", Cookie::new("", "1"), bad_name("")),
        ("; in name", Cookie::new("a;b", "1"), bad_name("a;b")),
        ("= in name", Cookie::new("a=b", "1"), bad_name("a=b")),
        ("space in name", Cookie::new("a b", "1"), bad_name("a b")),
        (
            "CRLF in name",
            Cookie::new("a\r\nX: y", "1"),
            bad_name("a\r\nX: y"),
        ),
        ("NUL in name", Cookie::new("a\0", "1"), bad_name("a\0")),
        ("non-ascii name", Cookie::new("é", "1"), bad_name("é")),
        ("CR in value", Cookie::new("a", "1\rX"), bad_value.clone()),
        ("LF in value", Cookie::new("a", "1\nX"), bad_value.clone()),
        (
            "CRLF in value",
            Cookie::new("a", "1\r\nSet-Cookie: admin=1"),
            bad_value.clone(),
        ),
        ("NUL in value", Cookie::new("a", "1\0"), bad_value.clone()),
        ("tab in value", Cookie::new("a", "1\t2"), bad_value.clone()),
        ("DEL in value", Cookie::new("a", "1\x7f"), bad_value.clone()),
        (
            "CRLF in expires",
            Cookie::new("a", "1").expires("x\r\nY: z"),
            bad("Expires"),
        ),
        (
            "; in expires",
            Cookie::new("a", "1").expires("x; Domain=evil"),
            bad("Expires"),
        ),
        (
            "; in domain",
            Cookie::new("a", "1").domain("a;b"),
            bad("Domain"),
        ),
        (
            "LF in domain",
            Cookie::new("a", "1").domain("a\nb"),
            bad("Domain"),
        ),
        (
            "; in path",
            Cookie::new("a", "1").path("/; Secure"),
            bad("Path"),
        ),
        ("CR in path", Cookie::new("a", "1").path("/\r"), bad("Path")),
        (
            "NUL in path",
            Cookie::new("a", "1").path("/\0"),
            bad("Path"),
        ),
        (
            "CRLF in flag",
            Cookie::new("a", "1").flag("x\r\nY: z"),
            bad("flag"),
        ),
        (
            "; in flag",
            Cookie::new("a", "1").flag("Secure; x"),
            bad("flag"),
        ),
        (
            "control byte in flag",
            Cookie::new("a", "1").flag("\x1b[31m"),
            bad("flag"),
        ),
        ("empty flag", Cookie::new("a", "1").flag(""), bad("flag")),
        (
            "bad flag after a good one",
            Cookie::new("a", "1").flag("ok").flag("\n"),
            bad("flag"),
        ),
    ];
    for (case, cookie, expected) in cases {
        assert_eq!(cookie.validate(), Err(expected.clone()), "{case}");
        assert_eq!(cookie.to_header_value(), Err(expected), "{case}");
    }
}

#[test]
fn refusals_become_a_500_naming_the_cookie_not_the_value() {
    let cases = [
        (
            CookieError::InvalidName("a b".into()),
            "invalid cookie name \"a b\"",
        ),
        (
            CookieError::InvalidValue { name: "sid".into() },
            "invalid value for cookie \"sid\": control bytes are not allowed",
        ),
        (
            CookieError::InvalidAttribute {
                name: "sid".into(),
                attribute: "Path",
            },
            "invalid Path attribute for cookie \"sid\": \
             it must be non-empty text without ';' or control bytes",
        ),
    ];
    for (err, message) in cases {
        assert_eq!(err.to_string(), message, "{message}");
        let http: HttpError = err.into();
        assert_eq!((http.status(), http.message()), (500, message), "{message}");
    }
}

/// RFC 6265 §4.1.1 `cookie-octet`: what a strict server puts in a value.
fn cookie_octet() -> impl Strategy<Value = char> {
    prop_oneof![
        Just(0x21u8),
        0x23u8..=0x2b,
        0x2du8..=0x3a,
        0x3cu8..=0x5b,
        0x5du8..=0x7e
    ]
    .prop_map(char::from)
}

proptest! {
    #[test]
    fn an_accepted_cookie_renders_no_control_bytes(
        name in prop_oneof!["[a-z]{1,5}", ".*"],
        value in prop_oneof!["[ -~]*", ".*"],
        path in prop_oneof!["[ -~]*", ".*"],
        flag in prop_oneof!["[ -~]*", ".*"],
        max_age in any::<i64>(),
    ) {
        let safe = |t: &str| !t.bytes().any(|b| b == b';' || is_control_byte(b));
        let acceptable = !name.is_empty()
            && name.bytes().all(is_token_byte)
            && !value.bytes().any(is_control_byte)
            && safe(&path)
            && safe(&flag)
            && !flag.is_empty();
        let cookie = Cookie::new(name, value).path(path).flag(flag).max_age(max_age);
        prop_assert_eq!(cookie.validate().is_ok(), acceptable);
        if let Ok(header) = cookie.to_header_value() {
            prop_assert!(!header.bytes().any(is_control_byte), "{:?}", header);
            let start = format!("{}={}", cookie.name(), cookie.value());
            prop_assert!(header.starts_with(&start), "{:?}", header);
        }
    }

    #[test]
    fn token_names_with_cookie_octet_values_round_trip(
        pairs in proptest::collection::vec(
            ("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}", proptest::collection::vec(cookie_octet(), 0..12)),
            1..6,
        )
    ) {
        let mut headers = Vec::new();
        for (name, value) in &pairs {
            let value: String = value.iter().collect();
            let header = Cookie::new(name.as_str(), value.as_str()).path("").to_header_value();
            let expected = format!("{name}={value}");
            prop_assert_eq!(header.as_deref(), Ok(expected.as_str()));
            headers.push(expected);
        }
        let cookies = Cookies::parse(headers.join("; ").as_bytes());
        for (name, _) in &pairs {
            // the last value wins, but a DELETED value is skipped, not stored
            let expected = pairs
                .iter()
                .rev()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.iter().collect::<String>())
                .find(|v| !v.contains(DELETED));
            prop_assert_eq!(cookies.get(name).map(str::to_string), expected);
        }
    }
}
