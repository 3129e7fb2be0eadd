use super::*;

fn head(bytes: &[u8]) -> Result<Option<(Head, usize)>, RequestError> {
    parse_head(bytes)
}

#[test]
fn a_head_is_complete_only_with_its_blank_line() {
    assert!(matches!(head(b"GET / HTTP/1.1\r\nHost: a\r\n"), Ok(None)));
    let (parsed, used) = head(b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\nrest")
        .expect("valid")
        .expect("complete");
    assert_eq!(
        (parsed.method.as_str(), parsed.target.as_str()),
        ("GET", "/x?y=1")
    );
    assert_eq!(used, 32);
}

#[test]
fn body_framing_follows_rfc_9112_and_refuses_smuggling() {
    let framing = |extra: &str| {
        let text = format!("POST / HTTP/1.1\r\nHost: a\r\n{extra}\r\n");
        head(text.as_bytes()).and_then(|h| h.map(|(h, _)| h.framing()).unwrap_or(Ok(Framing::None)))
    };
    assert_eq!(framing("").ok(), Some(Framing::None));
    assert_eq!(
        framing("Content-Length: 5\r\n").ok(),
        Some(Framing::Length(5))
    );
    assert_eq!(
        framing("Content-Length: 5, 5\r\n").ok(),
        Some(Framing::Length(5))
    );
    assert_eq!(
        framing("Transfer-Encoding: Chunked\r\n").ok(),
        Some(Framing::Chunked)
    );
    let refused: [(&str, u16); 5] = [
        ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400),
        ("Content-Length: 5\r\nContent-Length: 6\r\n", 400),
        ("Content-Length: -1\r\n", 400),
        ("Transfer-Encoding: gzip, chunked\r\n", 501),
        ("Transfer-Encoding: identity\r\n", 501),
    ];
    for (extra, status) in refused {
        let err = framing(extra).expect_err(extra);
        assert_eq!(err.status(), Some(status), "{extra:?}: {err}");
    }
}

#[test]
fn heads_over_the_limits_are_431_and_http_1_1_needs_one_host() {
    let long = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n",
        "a".repeat(MAX_HEAD)
    );
    assert_eq!(
        head(long.as_bytes()).expect_err("too long").status(),
        Some(431)
    );
    let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    assert_eq!(
        head(many.as_bytes()).expect_err("too many").status(),
        Some(431)
    );
    let no_host = head(b"GET / HTTP/1.1\r\n\r\n").expect_err("no host");
    assert_eq!(no_host.status(), Some(400));
    assert!(
        head(b"GET / HTTP/1.0\r\n\r\n")
            .expect("1.0 needs none")
            .is_some()
    );
}

#[test]
fn keep_alive_defaults_by_version() {
    let of = |text: &[u8]| head(text).expect("valid").expect("complete").0.keep_alive();
    assert!(of(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert!(!of(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    ));
    assert!(!of(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(of(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
}
