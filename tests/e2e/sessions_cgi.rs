//! Sessions through one-shot CGI processes, for each of the four stores: every request is a
//! new process, so a session that survives from one request to the next lives in the store
//! (or, for the cookie store, in the cookie), never in memory. Real `redis-server` and
//! `memcached` on free loopback ports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::cgi;
use crate::sessions;

use std::time::Duration;

use crate::sessions::{Fixture, Kind, LOGIN, new_key, session_cookie, session_set_cookie_line};
use serde_json::json;

fn cookies_of(resp: &cgi::CgiResponse) -> Option<String> {
    session_cookie(resp.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

fn login_then_me_in_other_processes(kind: Kind) {
    let fx = Fixture::new(kind);
    let first = fx.cgi("POST", "/login", None, LOGIN);
    assert_eq!(first.json("login"), json!({"message": "Logged in"}));
    let line = session_set_cookie_line(&first).expect("a session cookie");
    for flag in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(line.contains(flag), "{kind:?}: {flag} in {line}");
    }
    assert!(
        !line.contains("Secure"),
        "{kind:?}: not Secure over plain HTTP: {line}"
    );
    let mut cookie = cookies_of(&first).unwrap();
    for visits in 1..=3 {
        let me = fx.cgi("GET", "/me", Some(&cookie), "");
        assert_eq!(me.status, 200, "{kind:?}: {}", me.text());
        assert_eq!(me.json("me"), json!({"user": "foo", "visits": visits}));
        // As a browser does: the cookie store sends the new record with each write; the
        // server-side stores keep the id and send nothing.
        match (kind, cookies_of(&me)) {
            (Kind::Cookie, Some(renewed)) => cookie = renewed,
            (Kind::Cookie, None) => panic!("the cookie store re-issues its token on a write"),
            (_, sent) => assert_eq!(sent, None, "{kind:?}: same id, no Set-Cookie"),
        }
    }
    let bad = fx.cgi(
        "POST",
        "/login",
        None,
        r#"{"username":"foo","password":"no"}"#,
    );
    assert_eq!(bad.status, 401);
    let empty = fx.cgi("POST", "/login", None, "{}");
    assert_eq!(empty.status, 400);
}

fn a_client_chosen_id_is_never_adopted(kind: Kind) {
    let fx = Fixture::new(kind);
    // Well-formed for every store's format: 43 base64url characters.
    let planted = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let me = fx.cgi("GET", "/me", Some(planted), "");
    assert_eq!(me.status, 401, "{kind:?}: an unknown id is no session");
    let login = fx.cgi("POST", "/login", Some(planted), LOGIN);
    assert_eq!(login.status, 200);
    let issued = cookies_of(&login).expect("a cookie is issued");
    assert_ne!(issued, planted, "{kind:?}: the planted id is not adopted");
    let me = fx.cgi("GET", "/me", Some(planted), "");
    assert_eq!(
        me.status, 401,
        "{kind:?}: the planted id is still no session"
    );
    let me = fx.cgi("GET", "/me", Some(&issued), "");
    assert_eq!(me.status, 200);
}

fn logout_ends_the_session(kind: Kind) {
    let fx = Fixture::new(kind);
    let cookie = fx.login();
    let out = fx.cgi("POST", "/logout", Some(&cookie), "");
    assert_eq!(out.json("logout"), json!({"message": "Logged out"}));
    let line = session_set_cookie_line(&out).expect("the cookie is cleared");
    assert!(
        line.starts_with("session=;") && line.contains("Max-Age=0"),
        "{line}"
    );
    let again = fx.cgi("POST", "/logout", None, "");
    assert_eq!(
        again.json("logout"),
        json!({"message": "Already logged out"})
    );
    if kind != Kind::Cookie {
        // Server-side stores forget the session: the old cookie is refused.
        let me = fx.cgi("GET", "/me", Some(&cookie), "");
        assert_eq!(me.status, 401, "{kind:?}: old cookie after logout");
        let again = fx.cgi("POST", "/logout", Some(&cookie), "");
        assert_eq!(
            again.json("logout"),
            json!({"message": "Already logged out"})
        );
    }
}

fn every_changed_character_of_the_cookie_is_refused_without_a_500(kind: Kind) {
    let fx = Fixture::new(kind);
    let cookie = fx.login();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut checked = 0;
    for (i, c) in cookie.char_indices() {
        let replacement = alphabet
            .chars()
            .find(|&r| r != c && (r as u32 ^ c as u32) & 0b110000 != 0)
            .unwrap();
        let mut tampered = cookie.clone();
        tampered.replace_range(i..i + 1, &replacement.to_string());
        let me = fx.cgi("GET", "/me", Some(&tampered), "");
        assert_eq!(me.status, 401, "{kind:?}: char {i} changed: {}", me.text());
        checked += 1;
    }
    assert_eq!(checked, cookie.len());
    // Bytes outside the token alphabet, and a cut token, are no cookie either.
    for tampered in [
        format!(".{}", &cookie[1..]),
        format!("{}%00", &cookie[..20]),
        cookie[..cookie.len() - 1].to_string(),
    ] {
        let me = fx.cgi("GET", "/me", Some(&tampered), "");
        assert_eq!(me.status, 401, "{kind:?}: {tampered:?}: {}", me.text());
    }
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(me.status, 200, "{kind:?}: the untouched cookie still works");
}

fn idle_timeout_ends_a_quiet_session(kind: Kind) {
    let fx = Fixture::new(kind).with("PYCNIC_SESSION_IDLE", "2");
    let cookie = fx.login();
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(me.status, 200);
    // Clock seconds: 3.2 s later at least 3 whole seconds have passed, over the idle 2.
    std::thread::sleep(Duration::from_millis(3200));
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(me.status, 401, "{kind:?}: idle for over 2 s");
}

fn absolute_lifetime_ends_even_a_busy_session(kind: Kind) {
    let fx = Fixture::new(kind)
        .with("PYCNIC_SESSION_IDLE", "3")
        .with("PYCNIC_SESSION_ABSOLUTE", "5");
    let start = std::time::Instant::now();
    let mut cookie = fx.login();
    // A request every second keeps the idle clock fresh...
    for second in 1..=3u64 {
        std::thread::sleep(Duration::from_secs(second).saturating_sub(start.elapsed()));
        let me = fx.cgi("GET", "/me", Some(&cookie), "");
        assert_eq!(
            me.status,
            200,
            "{kind:?}: busy at {second} s: {}",
            me.text()
        );
        if let Some(updated) = cookies_of(&me) {
            cookie = updated; // the cookie store re-issues its token
        }
    }
    // ...but 5.5 s after login (at least 5 whole clock seconds) it is over.
    std::thread::sleep(Duration::from_millis(5500).saturating_sub(start.elapsed()));
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(me.status, 401, "{kind:?}: past the absolute lifetime");
}

fn a_read_only_request_sends_no_cookie(kind: Kind) {
    let fx = Fixture::new(kind);
    let cookie = fx.login();
    let put = fx.cgi("PUT", "/note/a", Some(&cookie), r#"{"value":[1,"x"]}"#);
    assert_eq!(put.json("put"), json!({"saved": "a"}));
    let got = fx.cgi("GET", "/note/a", Some(&cookie), "");
    assert_eq!(got.json("get"), json!({"key": "a", "value": [1, "x"]}));
    assert_eq!(got.header_all("Set-Cookie"), Vec::<&str>::new());
    let missing = fx.cgi("GET", "/note/b", Some(&cookie), "");
    assert_eq!(missing.status, 404);
    let anonymous = fx.cgi("GET", "/note/a", None, "");
    assert_eq!(anonymous.status, 401);
}

/// Reads alone keep a session alive past its idle timeout (the throttled touch), and a
/// server-side store sends no cookie for them.
fn reads_alone_keep_a_session_alive_past_its_idle_timeout(kind: Kind) {
    let fx = Fixture::new(kind).with("PYCNIC_SESSION_IDLE", "4");
    let mut cookie = fx.login();
    let put = fx.cgi("PUT", "/note/a", Some(&cookie), r#"{"value":1}"#);
    assert_eq!(put.status, 200);
    if let Some(renewed) = cookies_of(&put) {
        cookie = renewed;
    }
    let start = std::time::Instant::now();
    // Reads every 0.6 s for 6 s: well past the idle 4 s since the last write. A touch comes
    // at most every idle/10 = 1 s, so touches are under 3 clock seconds apart.
    while start.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(600));
        let got = fx.cgi("GET", "/note/a", Some(&cookie), "");
        assert_eq!(
            got.status,
            200,
            "{kind:?} at {:?}: {}",
            start.elapsed(),
            got.text()
        );
        match (kind, cookies_of(&got)) {
            (Kind::Cookie, Some(renewed)) => cookie = renewed,
            (Kind::Cookie, None) => {}
            (_, sent) => assert_eq!(sent, None, "{kind:?}: a read sends no cookie"),
        }
    }
}

/// Two parallel requests change different keys; both keep their change.
fn parallel_writes_of_different_keys_both_stay(kind: Kind) {
    let fx = Fixture::new(kind);
    let cookie = fx.login();
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| {
            fx.cgi(
                "PUT",
                "/note/a?delay_ms=2500",
                Some(&cookie),
                r#"{"value":"slow"}"#,
            )
        });
        // Well after the slow request has loaded the session, well before it saves.
        std::thread::sleep(Duration::from_millis(700));
        let fast = fx.cgi("PUT", "/note/b", Some(&cookie), r#"{"value":"fast"}"#);
        assert_eq!(fast.status, 200, "{}", fast.text());
        let slow = slow.join().unwrap();
        assert_eq!(slow.status, 200, "{kind:?}: {}", slow.text());
    });
    let a = fx.cgi("GET", "/note/a", Some(&cookie), "");
    let b = fx.cgi("GET", "/note/b", Some(&cookie), "");
    assert_eq!(
        a.json("a"),
        json!({"key": "a", "value": "slow"}),
        "{kind:?}"
    );
    assert_eq!(
        b.json("b"),
        json!({"key": "b", "value": "fast"}),
        "{kind:?}"
    );
}

/// A request still in flight when the session is destroyed does not bring it back.
fn a_logout_is_not_undone_by_a_request_in_flight(kind: Kind) {
    let fx = Fixture::new(kind);
    let cookie = fx.login();
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| {
            fx.cgi(
                "PUT",
                "/note/x?delay_ms=2500",
                Some(&cookie),
                r#"{"value":1}"#,
            )
        });
        // Well after the slow request has loaded the session, well before it saves.
        std::thread::sleep(Duration::from_millis(700));
        let out = fx.cgi("POST", "/logout", Some(&cookie), "");
        assert_eq!(out.json("logout"), json!({"message": "Logged out"}));
        let slow = slow.join().unwrap();
        assert_eq!(
            slow.status,
            409,
            "{kind:?}: the late write is refused: {}",
            slow.text()
        );
        assert_eq!(slow.header_all("Set-Cookie"), Vec::<&str>::new());
    });
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(me.status, 401, "{kind:?}: still logged out");
    let note = fx.cgi("GET", "/note/x", Some(&cookie), "");
    assert_eq!(note.status, 401, "{kind:?}: nothing re-created");
}

macro_rules! for_each_store {
    ($($test:ident),* $(,)?) => {
        mod cookie_store { $( #[test] fn $test() { super::$test(super::Kind::Cookie) } )* }
        mod sqlite_store { $( #[test] fn $test() { super::$test(super::Kind::Sqlite) } )* }
        mod redis_store { $( #[test] fn $test() { super::$test(super::Kind::Redis) } )* }
        mod memcached_store { $( #[test] fn $test() { super::$test(super::Kind::Memcached) } )* }
    };
}

macro_rules! for_each_server_store {
    ($($test:ident),* $(,)?) => {
        mod sqlite_concurrency { $( #[test] fn $test() { super::$test(super::Kind::Sqlite) } )* }
        mod redis_concurrency { $( #[test] fn $test() { super::$test(super::Kind::Redis) } )* }
        mod memcached_concurrency { $( #[test] fn $test() { super::$test(super::Kind::Memcached) } )* }
    };
}

for_each_store!(
    login_then_me_in_other_processes,
    a_client_chosen_id_is_never_adopted,
    logout_ends_the_session,
    every_changed_character_of_the_cookie_is_refused_without_a_500,
    idle_timeout_ends_a_quiet_session,
    absolute_lifetime_ends_even_a_busy_session,
    reads_alone_keep_a_session_alive_past_its_idle_timeout,
);

for_each_server_store!(
    a_read_only_request_sends_no_cookie,
    parallel_writes_of_different_keys_both_stay,
    a_logout_is_not_undone_by_a_request_in_flight,
);

#[test]
fn cookie_store_key_rotation_old_key_second_still_valid_removed_refused() {
    let fx = Fixture::new(Kind::Cookie);
    let old = std::fs::read_to_string(&fx.key_file).unwrap();
    let new = new_key();
    let cookie = fx.login();
    std::fs::write(&fx.key_file, format!("{new}\n{old}")).unwrap();
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(me.status, 200, "old key second: {}", me.text());
    // Re-issued with the new key (first line): survives the old key's retirement.
    let renewed = cookies_of(&me).expect("the cookie store re-issues its token on a write");
    std::fs::write(&fx.key_file, format!("{new}\n")).unwrap();
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(me.status, 401, "old key removed");
    let me = fx.cgi("GET", "/me", Some(&renewed), "");
    assert_eq!(
        me.status,
        200,
        "the token re-issued under the new key: {}",
        me.text()
    );
}

#[test]
fn cookie_store_rotation_new_tokens_use_the_first_key() {
    let fx = Fixture::new(Kind::Cookie);
    let old = std::fs::read_to_string(&fx.key_file).unwrap();
    let new = new_key();
    std::fs::write(&fx.key_file, format!("{new}\n{old}")).unwrap();
    let cookie = fx.login();
    std::fs::write(&fx.key_file, format!("{new}\n")).unwrap();
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(me.status, 200, "signed with the first line: {}", me.text());
}

#[test]
fn cookie_store_refuses_a_cookie_over_4096_bytes_and_keeps_the_old_one() {
    let fx = Fixture::new(Kind::Cookie);
    let cookie = fx.login();
    let big = format!(r#"{{"value":"{}"}}"#, "x".repeat(4000));
    let put = fx.cgi("PUT", "/note/big", Some(&cookie), &big);
    assert_eq!(put.status, 500, "{}", put.text());
    let error = put.json("too big")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("4096"), "the error says why: {error}");
    assert_eq!(
        put.header_all("Set-Cookie"),
        Vec::<&str>::new(),
        "never sent"
    );
    let me = fx.cgi("GET", "/me", Some(&cookie), "");
    assert_eq!(
        me.status, 200,
        "the session before the refused write lives on"
    );
}

#[test]
fn cookie_store_without_a_key_is_a_logged_500_not_a_default_key() {
    let fx = Fixture::new(Kind::Cookie).with("PYCNIC_SECRET_KEY_FILE", "/nonexistent/keys");
    let login = fx.cgi("POST", "/login", None, LOGIN);
    assert_eq!(login.status, 500);
    assert!(login.text().contains("secret key"), "{}", login.text());
    assert_eq!(login.header_all("Set-Cookie"), Vec::<&str>::new());
}

#[test]
fn https_requests_get_a_secure_cookie_and_host_prefix_enforces_its_rules() {
    let fx = Fixture::new(Kind::Sqlite);
    let mut resp = fx.cgi("POST", "/login", None, LOGIN);
    assert!(!session_set_cookie_line(&resp).unwrap().contains("Secure"));
    // HTTPS=on as nginx/Apache pass it.
    let fx = fx.with("HTTPS", "on");
    resp = fx.cgi("POST", "/login", None, LOGIN);
    assert!(session_set_cookie_line(&resp).unwrap().contains("; Secure"));
    let fx = Fixture::new(Kind::Sqlite).with("PYCNIC_SESSION_HOST_PREFIX", "1");
    resp = fx.cgi("POST", "/login", None, LOGIN);
    let line = resp.header("Set-Cookie").unwrap().to_string();
    assert!(line.starts_with("__Host-session="), "{line}");
    assert!(line.contains("; Path=/") && line.contains("; Secure") && !line.contains("Domain"));
}

#[test]
fn sessions_gc_removes_expired_sqlite_rows() {
    let fx = Fixture::new(Kind::Sqlite).with("PYCNIC_SESSION_IDLE", "1");
    for _ in 0..3 {
        fx.login();
    }
    std::thread::sleep(Duration::from_millis(2100));
    let out = std::process::Command::new(sessions::sessions_bin())
        .args(["sessions", "gc"])
        .env_clear()
        .envs(fx.env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), "3 expired sessions removed");
}
