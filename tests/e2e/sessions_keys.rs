//! The secret key file under FastCGI (the `sessions` example, cookie store, so every session
//! depends on the keys): checked at start (a broken file stops the start, and so stops a
//! SIGUSR2 upgrade while the old process serves on), re-read on SIGHUP (a removed key's
//! cookies are refused at once; a broken file keeps the old ring), and a key file others can
//! read warned about.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{fcgi_client, sessions};
use fcgi_client::{Client, Server, as_refs};
use sessions::{Fixture, Kind, new_key, sessions_bin};
use std::os::unix::fs::PermissionsExt;

fn serve(fx: &Fixture) -> Server {
    let env = fx.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    Server::on_fd0(&sessions_bin(), &["fastcgi"], &env)
}

/// One request on its own connection: status and the new session cookie, if any.
fn ask(server: &Server, method: &str, target: &str, cookie: Option<&str>) -> (u16, Option<String>) {
    let mut client: Client = server.connect();
    let (params, body) = sessions::fcgi_request(method, target, cookie);
    let reply = client.request(1, false, &as_refs(&params), body);
    let lines = reply.header_lines();
    let set = sessions::session_cookie(lines.iter().filter_map(|l| l.split_once(": ")));
    (reply.status(), set)
}

fn login(server: &Server) -> String {
    let (status, cookie) = ask(server, "POST", "/login", None);
    assert_eq!(status, 200, "{}", server.stderr());
    cookie.expect("a session cookie")
}

fn private_key_file(fx: &Fixture, text: &str) {
    std::fs::write(&fx.key_file, text).unwrap();
    std::fs::set_permissions(&fx.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_broken_key_file_stops_a_fastcgi_start() {
    let fx = Fixture::new(Kind::Cookie);
    private_key_file(&fx, "not a key\n");
    let mut server = serve(&fx);
    let status = server.wait_exit().expect("the start stops");
    assert!(!status.success());
    let log = server.stderr();
    assert!(
        log.contains("cannot start") && log.contains("secret key file line 1"),
        "{log}"
    );
}

#[test]
fn a_broken_key_file_on_sigusr2_leaves_the_old_process_serving_every_session() {
    let fx = Fixture::new(Kind::Cookie);
    private_key_file(&fx, &format!("{}\n", new_key()));
    let server = serve(&fx);
    let cookie = login(&server);
    private_key_file(&fx, "broken\n");
    server.signal(libc::SIGUSR2);
    assert!(
        server.wait_for_log("keeps serving"),
        "the upgrade fails: {}",
        server.stderr()
    );
    let log = server.stderr();
    assert!(log.contains("secret key file line 1"), "{log}");
    assert!(log.contains("secret keys not reloaded"), "{log}");
    let (status, _) = ask(&server, "GET", "/me", Some(&cookie));
    assert_eq!(
        status,
        200,
        "the old process serves the session: {}",
        server.stderr()
    );
}

#[test]
fn a_key_removed_then_sighup_refuses_its_cookies_at_once() {
    let fx = Fixture::new(Kind::Cookie);
    let old = new_key();
    private_key_file(&fx, &format!("{old}\n"));
    let server = serve(&fx);
    let cookie = login(&server);
    assert_eq!(ask(&server, "GET", "/me", Some(&cookie)).0, 200);

    // A broken file on SIGHUP: the ring in use stays.
    private_key_file(&fx, "broken\n");
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_for_log("secret keys not reloaded"),
        "{}",
        server.stderr()
    );
    assert_eq!(ask(&server, "GET", "/me", Some(&cookie)).0, 200);

    // The old key removed: its cookie is refused from the next request on.
    private_key_file(&fx, &format!("{}\n", new_key()));
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_for_log("the new ring is in use"),
        "{}",
        server.stderr()
    );
    let (status, _) = ask(&server, "GET", "/me", Some(&cookie));
    assert_eq!(
        status,
        401,
        "a cookie of the removed key: {}",
        server.stderr()
    );
    let fresh = login(&server);
    assert_eq!(ask(&server, "GET", "/me", Some(&fresh)).0, 200);
}

#[test]
fn a_key_file_others_can_read_is_warned_about_at_start() {
    let fx = Fixture::new(Kind::Cookie);
    std::fs::write(&fx.key_file, format!("{}\n", new_key())).unwrap();
    std::fs::set_permissions(&fx.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = serve(&fx);
    assert!(
        server.wait_for_log("readable by its group or others"),
        "{}",
        server.stderr()
    );
    login(&server);
}

#[test]
fn keygen_output_creates_a_private_key_file_then_puts_each_new_key_first() {
    let fx = Fixture::new(Kind::Cookie);
    let file = fx.prefix.join("made-by-keygen");
    let keygen = || {
        std::process::Command::new(sessions_bin())
            .args(["keygen", "--output"])
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = keygen();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "the key goes to the file only");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a new key file is private whatever the umask");
    let first = std::fs::read_to_string(&file).unwrap();
    assert_eq!(first.lines().count(), 1);

    let out = keygen();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = second.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_ne!(lines[0], lines[1]);
    assert_eq!(
        lines[1],
        first.trim(),
        "the old key stays, second (rotation)"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // An existing file others can read is not touched.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = keygen();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mode 644"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), second);
}
