//! Tests of `http.rs`.

use super::*;

#[test]
fn method_names_round_trip_and_unknown_methods_are_refused() {
    for m in Method::ALL {
        assert_eq!(Method::from_name(m.as_str()), Some(m), "{m}");
    }
    for name in ["get", "PROPFIND", "", "GET "] {
        assert_eq!(Method::from_name(name), None, "{name:?}");
    }
}

#[test]
fn status_lines_use_standard_phrases_or_the_bare_code() {
    let cases = [
        (200, "200 OK"),
        (413, "413 Content Too Large"),
        (418, "418 I'm a teapot"),
        (577, "577"),
        (299, "299"),
    ];
    for (code, line) in cases {
        assert_eq!(status_line(code), line, "code {code}");
    }
    for code in [
        0,
        9,
        10,
        99,
        100,
        200,
        404,
        999,
        1000,
        9999,
        10000,
        u16::MAX,
    ] {
        let mut written = Vec::new();
        write_status_line(code, &mut written).unwrap();
        assert_eq!(written, status_line(code).as_bytes(), "code {code}");
        assert_eq!(status_line_len(code), written.len(), "code {code}");
    }
}

#[test]
fn title_case_matches_pycnic_header_names() {
    let cases = [
        ("CONTENT_TYPE", "Content-Type"),
        ("X_FORWARDED_FOR", "X-Forwarded-For"),
        ("COOKIE", "Cookie"),
        ("X-API-KEY", "X-Api-Key"),
    ];
    for (raw, titled) in cases {
        assert_eq!(title_case(raw), titled, "{raw}");
    }
}

#[test]
fn headers_are_case_insensitive_and_keep_first_position() {
    let mut h = Headers::new();
    h.set("Content-Type", "application/json").unwrap();
    h.set("X-One", "1").unwrap();
    h.set("content-type", "text/plain").unwrap();
    let listed: Vec<_> = h.iter().collect();
    assert_eq!(listed, [("Content-Type", "text/plain"), ("X-One", "1")]);
    assert_eq!(h.get("CONTENT-TYPE"), Some("text/plain"));
    assert_eq!(h.remove("x-one").as_deref(), Some("1"));
    assert!(!h.contains("X-One"));
}

#[test]
fn header_injection_is_refused() {
    let mut h = Headers::new();
    let bad_values = [
        "a\r\nSet-Cookie: x=1",
        "a\nb",
        "a\rb",
        "nul\0",
        "del\x7f",
        "bell\x07",
    ];
    for value in bad_values {
        assert!(
            matches!(h.set("X-Test", value), Err(HeaderError::InvalidValue(_))),
            "value {value:?}"
        );
    }
    let bad_names = ["", "X Test", "X-Test:", "X\r\nY", "Ünï", "a;b"];
    for name in bad_names {
        assert!(
            matches!(h.set(name, "ok"), Err(HeaderError::InvalidName(_))),
            "name {name:?}"
        );
    }
    assert!(h.is_empty(), "nothing refused may be stored");
    h.set("X-Ok", "tab\tand spaces, \"quotes\" é").unwrap();
}
