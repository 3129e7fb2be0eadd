//! Tests of `access.rs`.

use super::*;

fn params(pairs: &[(&str, &[u8])]) -> Params {
    pairs
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.to_vec()))
        .collect()
}

fn line_of(params: &Params, seq: u64) -> String {
    let mut parts = AccessParts::default();
    parts.capture(params, &RequestId::of(params, seq));
    let mut out = Vec::new();
    // 2026-12-01 23:48:05 UTC
    parts.line(&mut out, 1_796_168_885, 200, 27, Duration::from_micros(412));
    String::from_utf8(out).unwrap()
}

#[test]
fn a_full_request_gives_the_combined_line_with_id_and_duration() {
    let p = params(&[
        ("REMOTE_ADDR", b"127.0.0.1"),
        ("REQUEST_METHOD", b"GET"),
        ("REQUEST_URI", b"/hello?x=1"),
        ("SERVER_PROTOCOL", b"HTTP/1.1"),
        ("HTTP_REFERER", b"http://example.com/"),
        ("HTTP_USER_AGENT", b"curl/8.0"),
        ("REQUEST_ID", b"5f0c6b1e9a2d4c3b"),
    ]);
    assert_eq!(
        line_of(&p, 9),
        "127.0.0.1 - - [01/Dec/2026:23:48:05 +0000] \"GET /hello?x=1 HTTP/1.1\" 200 27 \
         \"http://example.com/\" \"curl/8.0\" 5f0c6b1e9a2d4c3b 412\n"
    );
}

#[test]
fn quotes_backslashes_controls_and_non_ascii_are_escaped_and_absent_fields_are_dashes() {
    let p = params(&[
        ("REMOTE_USER", b"a\"b"),
        ("REQUEST_METHOD", b"GET"),
        ("REQUEST_URI", b"/caf\xc3\xa9\\"),
        ("HTTP_USER_AGENT", b"x\ny\x7f"),
    ]);
    let pid = std::process::id();
    assert_eq!(
        line_of(&p, 17),
        format!(
            "- - a\\x22b [01/Dec/2026:23:48:05 +0000] \"GET /caf\\xC3\\xA9\\x5C\" 200 27 \
             \"-\" \"x\\x0Ay\\x7F\" {pid}-17 412\n"
        )
    );
    let empty = line_of(&Params::new(), 1);
    assert_eq!(
        empty,
        format!("- - - [01/Dec/2026:23:48:05 +0000] \"-\" 200 27 \"-\" \"-\" {pid}-1 412\n")
    );
}

#[test]
fn log_fields_are_escaped_and_cut() {
    let field = "/slow?x=\r\n[2026-12-02T00:00:00Z ERROR forged]\u{1b}[31m\"caf\u{e9}";
    assert_eq!(
        Escaped(field).to_string(),
        "/slow?x=\\x0D\\x0A[2026-12-02T00:00:00Z ERROR forged]\\x1B[31m\\x22caf\\xC3\\xA9"
    );
    assert_eq!(Escaped("").to_string(), "-");
    let long = "a".repeat(Escaped::MAX + 10);
    assert_eq!(
        Escaped(&long).to_string(),
        format!("{}...", "a".repeat(Escaped::MAX))
    );
}

#[test]
fn a_given_id_is_cut_after_max_given_bytes() {
    let long = vec![b'a'; RequestId::MAX_GIVEN * 100];
    let p = params(&[("REQUEST_ID", &long)]);
    let mut out = Vec::new();
    RequestId::of(&p, 1).write_to(&mut out);
    let want = format!("{}...", "a".repeat(RequestId::MAX_GIVEN));
    assert_eq!(String::from_utf8(out).unwrap(), want);
    let exact = vec![b'b'; RequestId::MAX_GIVEN];
    let p = params(&[("REQUEST_ID", &exact)]);
    let mut out = Vec::new();
    RequestId::of(&p, 1).write_to(&mut out);
    assert_eq!(out, exact, "not cut at the limit");
}

#[test]
fn dates_are_civil_utc() {
    let cases = [
        (0, "01/Jan/1970:00:00:00 +0000"),
        (951_782_400, "29/Feb/2000:00:00:00 +0000"),
        (1_709_251_199, "29/Feb/2024:23:59:59 +0000"),
        (4_102_444_800, "01/Jan/2100:00:00:00 +0000"),
    ];
    for (secs, want) in cases {
        let mut out = Vec::new();
        push_time(&mut out, secs);
        assert_eq!(String::from_utf8(out).unwrap(), want, "{secs}");
    }
}

/// Issue 18 item 11: a space in REMOTE_ADDR (or the user, the id, a part of the request
/// line) would shift every field after it for a log parser.
#[test]
fn spaces_outside_quotes_are_escaped_so_fields_never_shift() {
    let p = params(&[
        ("REMOTE_ADDR", b"1.2.3.4 - evil [x]"),
        ("REMOTE_USER", b"a b"),
        ("REQUEST_METHOD", b"GET"),
        ("REQUEST_URI", b"/a b\" 200 1"),
        ("SERVER_PROTOCOL", b"HTTP/1.1"),
        ("HTTP_USER_AGENT", b"Mozilla/5.0 (X11)"),
        ("REQUEST_ID", b"id 7"),
    ]);
    let line = line_of(&p, 1);
    assert_eq!(
        line,
        "1.2.3.4\\x20-\\x20evil\\x20[x] - a\\x20b [01/Dec/2026:23:48:05 +0000] \
         \"GET /a\\x20b\\x22\\x20200\\x201 HTTP/1.1\" 200 27 \"-\" \"Mozilla/5.0 (X11)\" \
         id\\x207 412\n"
    );
    let unquoted: Vec<&str> = line.split(' ').collect();
    assert_eq!(
        unquoted[..3],
        ["1.2.3.4\\x20-\\x20evil\\x20[x]", "-", "a\\x20b"]
    );
}

/// Issue 18 item 11: a 200 KB target is not logged as a 200 KB line.
#[test]
fn a_huge_target_and_fields_are_cut_and_marked() {
    let target = format!("/x?{}", "q".repeat(200_000));
    let agent = "u".repeat(100_000);
    let p = params(&[
        ("REMOTE_ADDR", b"127.0.0.1"),
        ("REQUEST_METHOD", b"GET"),
        ("REQUEST_URI", target.as_bytes()),
        ("HTTP_USER_AGENT", agent.as_bytes()),
    ]);
    let line = line_of(&p, 1);
    assert!(
        line.len() < TARGET_MAX + FIELD_MAX + 200,
        "{} bytes",
        line.len()
    );
    let cut_target = format!("\"GET {}...\"", &target[..TARGET_MAX]);
    assert!(
        line.contains(&cut_target),
        "the target cut at TARGET_MAX, marked"
    );
    assert!(line.contains(&format!("\"{}...\"", &agent[..FIELD_MAX])));
}
