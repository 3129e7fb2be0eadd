use super::*;

const NOW: u64 = 1_800_000_000;

/// A row: its name, the answers (request path, Set-Cookie), the next path, its Cookie header.
type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, Option<&'a str>);

/// Each row: the Set-Cookie answers in order (for the request path), then the Cookie header
/// a request to `path` carries.
#[test]
fn the_jar_follows_a_browsers_rules_from_a_table() {
    let table: [Row<'_>; 10] = [
        (
            "a cookie comes back",
            &[("/login", "a=1; Path=/")],
            "/me",
            Some("a=1"),
        ),
        (
            "replaced by name and path",
            &[("/", "a=1; Path=/"), ("/", "a=2; Path=/")],
            "/",
            Some("a=2"),
        ),
        (
            "Max-Age=0 deletes",
            &[("/", "a=1; Path=/"), ("/", "a=; Max-Age=0; Path=/")],
            "/",
            None,
        ),
        (
            "a past Expires deletes",
            &[
                ("/", "a=1; Path=/"),
                (
                    "/",
                    "a=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
                ),
            ],
            "/",
            None,
        ),
        (
            "a future Expires keeps",
            &[("/", "a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT")],
            "/",
            Some("a=1"),
        ),
        (
            "Max-Age wins over Expires",
            &[(
                "/",
                "a=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            )],
            "/",
            Some("a=1"),
        ),
        (
            "Path limits where it goes",
            &[("/", "a=1; Path=/admin")],
            "/adminx",
            None,
        ),
        (
            "under its path it goes",
            &[("/", "a=1; Path=/admin")],
            "/admin/users",
            Some("a=1"),
        ),
        (
            "the default path is the directory",
            &[("/api/login", "a=1")],
            "/other",
            None,
        ),
        (
            "Secure stays off plain HTTP",
            &[("/", "a=1; Secure; Path=/")],
            "/",
            None,
        ),
    ];
    for (name, answers, path, expected) in table {
        let mut jar = CookieJar::new();
        for (request_path, set_cookie) in answers {
            jar.store(set_cookie, "localhost", request_path, NOW);
        }
        assert_eq!(
            jar.header_for(path, false, NOW).as_deref(),
            expected,
            "{name}"
        );
    }
}

#[test]
fn cookies_expire_with_the_clock_and_longer_paths_go_first() {
    let mut jar = CookieJar::new();
    jar.store("a=1; Max-Age=60; Path=/", "localhost", "/", NOW);
    jar.store("b=2; Path=/api", "localhost", "/", NOW);
    assert_eq!(
        jar.header_for("/api/x", false, NOW).as_deref(),
        Some("b=2; a=1")
    );
    assert_eq!(
        jar.header_for("/api/x", false, NOW + 61).as_deref(),
        Some("b=2")
    );
}

#[test]
fn the_netscape_file_round_trips_and_reads_curls_lines() {
    let mut jar = CookieJar::new();
    jar.store(
        "s=abc; Path=/; HttpOnly; Max-Age=100",
        "localhost",
        "/",
        NOW,
    );
    jar.store("t=1; Path=/; Secure", "localhost", "/", NOW);
    let file = jar.to_netscape(NOW);
    assert!(
        file.contains("#HttpOnly_localhost\tFALSE\t/\tFALSE\t1800000100\ts\tabc\n"),
        "{file}"
    );
    assert_eq!(CookieJar::from_netscape(&file), jar);
    let curl = "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession_id\tx1\n";
    assert_eq!(
        CookieJar::from_netscape(curl).get("session_id", NOW),
        Some("x1")
    );
}

#[test]
fn http_dates_parse_to_epoch_seconds() {
    assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    assert_eq!(
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777)
    );
    assert_eq!(
        parse_http_date("Sun, 06-Nov-1994 08:49:37 GMT"),
        Some(784_111_777)
    );
    assert_eq!(parse_http_date("yesterday"), None);
}
