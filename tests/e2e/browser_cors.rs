//! A real browser's view of credentialed CORS and cross-origin protection: headless Chromium
//! (Debian's `chromium-headless-shell`, or `chromium`) loads a page from one origin that
//! calls the API on another origin through nginx with `fetch(…, {credentials: "include"})`.
//!
//! - The listed origin (`PYCNIC_CORS_ORIGINS`): its preflighted JSON login succeeds, the
//!   browser keeps the session cookie, and its `GET /me` carries it (200, the user).
//! - An unlisted origin: the JSON login is stopped at the preflight, `GET /me` cannot be read,
//!   and a form-like `text/plain` POST (no preflight) reaches the app and is refused with 403
//!   (seen in nginx's log, since the page cannot read it).
//!
//! All three origins are `http://localhost:PORT` (same site, so the `SameSite=Lax` cookie
//! goes along, as for `app.example.com` calling `api.example.com`). Chromium runs with a new
//! empty profile, no network beyond loopback, and `timeout` bounds it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{e2e, sessions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use e2e::{Proc, Unit, accepts, conf, free_port, localhost, start_nginx, text};
use serde_json::Value;
use sessions::{Fixture, Kind, sessions_bin};

/// Chromium's headless shell, or the full browser; the test fails with what to install.
fn browser() -> PathBuf {
    for name in ["chromium-headless-shell", "chromium"] {
        for dir in ["/usr/bin", "/usr/local/bin"] {
            let path = PathBuf::from(dir).join(name);
            if path.exists() {
                return path;
            }
        }
    }
    panic!(
        "no headless Chromium: apt-get install chromium-headless-shell (scripts/install-deps.sh)"
    )
}

const PAGE: &str = r#"<!doctype html>
<html><body><pre id="out">pending</pre><script>
const API = "@API@";
async function step(call) {
  try { const res = await call(); return res.status + " " + (await res.text()); }
  catch (e) { return "blocked"; }
}
(async () => {
  const json = {"Content-Type": "application/json"};
  const r = {};
  r.login = await step(() => fetch(API + "/login", {method: "POST", credentials: "include",
    headers: json, body: JSON.stringify({username: "foo", password: "foo"})}));
  r.me = await step(() => fetch(API + "/me", {credentials: "include"}));
  r.form = await step(() => fetch(API + "/logout/all", {method: "POST", credentials: "include",
    mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: "{}"}));
  document.getElementById("out").textContent = "RESULT " + JSON.stringify(r) + " END";
})();
</script></body></html>
"#;

/// Loads `url` in a new headless browser profile and returns the page's results object.
fn visit(url: &str, profile: &std::path::Path) -> Value {
    let out = Command::new("timeout")
        .arg("90")
        .arg(browser())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let Some(json) = dom
        .split_once("RESULT ")
        .and_then(|(_, rest)| rest.split_once(" END"))
        .map(|(json, _)| {
            json.replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
        })
    else {
        panic!(
            "no result from {url} (exit {:?}):\n{dom}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn a_listed_origin_calls_with_its_cookie_and_an_unlisted_one_is_refused() {
    let fx = Fixture::new(Kind::Sqlite);
    let prefix = &fx.prefix;
    let (api_port, listed_port, unlisted_port) = (
        free_port(localhost()),
        free_port(localhost()),
        free_port(localhost()),
    );
    let listed = format!("http://localhost:{listed_port}");
    let api = format!("http://localhost:{api_port}");

    let bin = prefix.install_binary(&sessions_bin(), "sessions");
    let backend: SocketAddr = (localhost(), free_port(localhost())).into();
    let unit = prefix.render(
        &conf("systemd/pycnic-tcp.service"),
        "backend.service",
        &[
            ("BIN", text(&bin)),
            ("BACKEND", &backend.to_string()),
            ("WEB_SERVER_ADDRS", "127.0.0.1"),
        ],
    );
    let mut command = Unit::read(&unit).command();
    command.envs(fx.env());
    command.env("PYCNIC_CORS_ORIGINS", &listed);
    let app = Proc::start("backend", command, &prefix.join("backend.log"));
    e2e::wait_until("backend", &[&app], prefix, || accepts(backend));

    // The API as conf/nginx/pycnic-tcp.conf serves it, plus two static sites for the pages.
    let pages = prefix.give_to_web_user("pages");
    std::fs::write(pages.join("index.html"), PAGE.replace("@API@", &api)).unwrap();
    let site = prefix.render(
        &conf("nginx/pycnic-tcp.conf"),
        "site.conf",
        &[
            ("BACKEND", &backend.to_string()),
            ("PORT", &api_port.to_string()),
        ],
    );
    let log = prefix.join("var/origin.log");
    let mut extra = format!(
        "log_format origin_test '$request_method $uri $status [$http_origin] [$sent_http_access_control_allow_origin]';\n\
         access_log {} origin_test;\n",
        log.display()
    );
    for port in [listed_port, unlisted_port] {
        extra.push_str(&format!(
            "server {{ listen 127.0.0.1:{port}; root {}; }}\n",
            pages.display()
        ));
    }
    let conf_text = std::fs::read_to_string(&site).unwrap();
    std::fs::write(&site, format!("{extra}{conf_text}")).unwrap();
    let nginx = start_nginx(prefix, &site, api_port);
    for port in [listed_port, unlisted_port] {
        e2e::wait_until("pages", &[&nginx], prefix, || {
            accepts(SocketAddr::new(localhost(), port))
        });
    }

    let seen = visit(
        &format!("{listed}/index.html"),
        &prefix.join("profile-listed"),
    );
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        seen["login"],
        r#"200 {"message":"Logged in"}"#,
        "the listed origin logs in: {seen}\n{}",
        logs()
    );
    assert_eq!(
        seen["me"],
        r#"200 {"user":"foo","visits":1}"#,
        "the browser sent the session cookie: {seen}\n{}",
        logs()
    );

    let unlisted = format!("http://localhost:{unlisted_port}");
    let seen = visit(
        &format!("{unlisted}/index.html"),
        &prefix.join("profile-unlisted"),
    );
    assert_eq!(
        seen["login"],
        "blocked",
        "the preflight fails: {seen}\n{}",
        logs()
    );
    assert_eq!(seen["me"], "blocked", "no CORS headers: {seen}\n{}", logs());
    let lines = logs();
    let refused = format!("POST /logout/all 403 [{unlisted}] [-]");
    assert!(
        lines.lines().any(|l| l == refused),
        "the form-like POST reached the app and got 403: want {refused:?} in\n{lines}"
    );
    let preflight = format!("OPTIONS /login 200 [{unlisted}] [-]");
    assert!(
        lines.lines().any(|l| l == preflight),
        "the unlisted preflight got the route's plain OPTIONS answer, no CORS: {lines}"
    );
    drop((nginx, app));
}
