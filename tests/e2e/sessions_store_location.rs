//! Where the default session store lives and whom it belongs to, with the `sessions` example
//! as one-shot CGI programs: each app (named by its program file) has its own private store
//! folder, so two apps on one host never accept each other's session cookie (with default
//! settings, and with a shared key file and the cookie store); and a store file or folder
//! another user could have planted or could write is refused with a clear error. A store file
//! deleted under a running FastCGI process is noticed and reopened, loudly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{cgi, e2e, fcgi_client, sessions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cgi::{CgiResponse, Exec, Run};
use e2e::Prefix;
use sessions::{LOGIN, new_key, session_cookie, sessions_bin};

/// Two copies of the example under two names, a HOME of their own, one key file.
struct Host {
    prefix: Prefix,
    home: PathBuf,
    keys: PathBuf,
}

impl Host {
    fn new(tag: &str) -> Host {
        let prefix = Prefix::new(tag);
        let home = prefix.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let keys = prefix.join("keys");
        std::fs::write(&keys, format!("{}\n", new_key())).unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
        Host { prefix, home, keys }
    }

    fn app(&self, name: &str) -> PathBuf {
        self.prefix.install_binary(&sessions_bin(), name)
    }

    /// The default store's folder for the app `name` under this HOME.
    fn store_dir(&self, name: &str) -> PathBuf {
        self.home.join(format!(".local/state/pycnic-{name}"))
    }

    fn run(
        &self,
        app: &Path,
        method: &str,
        target: &str,
        cookie: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Run {
        let mut exec = Exec::new(app)
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("REQUEST_METHOD", method)
            .env("REQUEST_URI", target)
            .env("PATH_INFO", target)
            .env("HOME", self.home.to_str().unwrap())
            .env("PYCNIC_SECRET_KEY_FILE", self.keys.to_str().unwrap())
            .env("RUST_LOG", "error");
        for (name, value) in extra {
            exec = exec.env(name, value);
        }
        if let Some(value) = cookie {
            exec = exec.env("HTTP_COOKIE", &format!("session={value}"));
        }
        if method == "POST" {
            exec = exec
                .env("CONTENT_TYPE", "application/json")
                .body(LOGIN.as_bytes());
        }
        exec.run()
    }

    fn ask(
        &self,
        app: &Path,
        method: &str,
        target: &str,
        cookie: Option<&str>,
        extra: &[(&str, &str)],
    ) -> CgiResponse {
        self.run(app, method, target, cookie, extra)
            .response(&format!("{} {method} {target}", app.display()))
    }

    fn login(&self, app: &Path, extra: &[(&str, &str)]) -> String {
        let resp = self.ask(app, "POST", "/login", None, extra);
        assert_eq!(resp.status, 200, "login: {}", resp.text());
        session_cookie(resp.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .expect("login sets the session cookie")
    }
}

fn neither_accepts_the_others_cookie(host: &Host, extra: &[(&str, &str)]) {
    let one = host.app("app-one");
    let two = host.app("app-two");
    let cookie_one = host.login(&one, extra);
    let cookie_two = host.login(&two, extra);
    assert_eq!(
        host.ask(&one, "GET", "/me", Some(&cookie_one), extra)
            .status,
        200
    );
    assert_eq!(
        host.ask(&two, "GET", "/me", Some(&cookie_two), extra)
            .status,
        200
    );
    let crossed = host.ask(&two, "GET", "/me", Some(&cookie_one), extra);
    assert_eq!(
        crossed.status,
        401,
        "app-two took app-one's cookie: {}",
        crossed.text()
    );
    let crossed = host.ask(&one, "GET", "/me", Some(&cookie_two), extra);
    assert_eq!(
        crossed.status,
        401,
        "app-one took app-two's cookie: {}",
        crossed.text()
    );
}

#[test]
fn two_apps_with_default_settings_never_accept_each_others_session() {
    let host = Host::new("store-two-apps");
    neither_accepts_the_others_cookie(&host, &[]);
    for name in ["app-one", "app-two"] {
        let dir = host.store_dir(name);
        let meta = std::fs::metadata(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert_eq!(meta.mode() & 0o777, 0o700, "{} is private", dir.display());
        let file = std::fs::metadata(dir.join("sessions.sqlite3")).unwrap();
        assert_eq!(file.mode() & 0o077, 0, "the store file is private");
    }
}

#[test]
fn two_apps_sharing_a_key_file_and_the_cookie_store_never_accept_each_others_session() {
    let host = Host::new("store-two-apps-cookie");
    // The example's login is throttled, which the cookie store keeps in a server-side store:
    // one both apps share, as they share the key file.
    let auth = format!("sqlite:{}", host.prefix.join("auth/auth.db").display());
    neither_accepts_the_others_cookie(
        &host,
        &[
            ("PYCNIC_SESSION_STORE", "cookie"),
            ("PYCNIC_AUTH_STORE", &auth),
        ],
    );
}

fn assert_refused(host: &Host, app: &Path, what: &str) {
    let run = host.run(app, "POST", "/login", None, &[]);
    let resp = run.response("login on a planted store");
    assert_eq!(resp.status, 503, "{what}: {}", resp.text());
    assert!(
        run.stderr.contains("refusing the session store") && run.stderr.contains(what),
        "{what}: {}",
        run.stderr
    );
}

#[test]
fn a_planted_store_file_or_folder_is_refused_with_who_must_own_it() {
    let host = Host::new("store-planted");
    let app = host.app("app-one");
    let dir = host.store_dir("app-one");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let store = dir.join("sessions.sqlite3");

    // A store file anyone may write (as a local user would plant it).
    std::fs::write(&store, b"").unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_refused(&host, &app, "lets its group or others write");

    // A folder anyone may write.
    std::fs::remove_file(&store).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_refused(&host, &app, "lets its group or others write");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    // A store file another user owns (only root can make one here).
    if e2e::is_root() {
        std::fs::write(&store, b"").unwrap();
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&store, Some(65534), Some(65534)).unwrap();
        assert_refused(&host, &app, "is owned by");
        std::fs::remove_file(&store).unwrap();
    }

    // Once the folder and the file are the app user's alone, it serves.
    host.login(&app, &[]);
}

/// One FastCGI request on its own connection: status and the new session cookie, if any.
fn fcgi(
    server: &fcgi_client::Server,
    method: &str,
    target: &str,
    cookie: Option<&str>,
) -> (u16, Option<String>) {
    let mut params = fcgi_client::http_params(method, target);
    let body: &[u8] = if method == "POST" {
        LOGIN.as_bytes()
    } else {
        b""
    };
    if !body.is_empty() {
        params.push((b"CONTENT_TYPE".to_vec(), b"application/json".to_vec()));
        params.push((
            b"CONTENT_LENGTH".to_vec(),
            body.len().to_string().into_bytes(),
        ));
    }
    if let Some(value) = cookie {
        params.push((
            b"HTTP_COOKIE".to_vec(),
            format!("session={value}").into_bytes(),
        ));
    }
    let reply = server
        .connect()
        .request(1, false, &fcgi_client::as_refs(&params), body);
    let lines = reply.header_lines();
    let set = session_cookie(lines.iter().filter_map(|l| l.split_once(": ")));
    (reply.status(), set)
}

#[test]
fn a_store_file_deleted_under_a_running_process_is_reopened_and_logged() {
    let fx = sessions::Fixture::new(sessions::Kind::Sqlite);
    let env = fx.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let server = fcgi_client::Server::on_fd0(&sessions_bin(), &["fastcgi"], &env);
    let (status, cookie) = fcgi(&server, "POST", "/login", None);
    assert_eq!(status, 200, "{}", server.stderr());
    let cookie = cookie.unwrap();
    assert_eq!(fcgi(&server, "GET", "/me", Some(&cookie)).0, 200);
    let path = PathBuf::from(fx.store_spec().trim_start_matches("sqlite:"));
    let name = path.to_str().unwrap().to_string();
    for file in [name.clone(), format!("{name}-wal"), format!("{name}-shm")] {
        let _ = std::fs::remove_file(file);
    }
    // Before: the process went on with the unlinked file (this cookie still worked) and the
    // next process found no file and started empty without a word.
    let (status, _) = fcgi(&server, "GET", "/me", Some(&cookie));
    assert_eq!(
        status,
        401,
        "a session of the deleted file: {}",
        server.stderr()
    );
    let log = server.stderr();
    assert!(
        log.contains("was deleted or replaced under this process"),
        "{log}"
    );
    assert_eq!(
        log.matches("created a new, empty store").count(),
        2,
        "at the first login and after the deletion: {log}"
    );
    assert!(path.exists(), "the store is back at its path");
    let (status, fresh) = fcgi(&server, "POST", "/login", None);
    assert_eq!(status, 200, "{}", server.stderr());
    assert_eq!(fcgi(&server, "GET", "/me", Some(&fresh.unwrap())).0, 200);
}
