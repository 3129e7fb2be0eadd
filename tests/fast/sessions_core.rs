//! Signed and private cookies and sessions in-process, through `App::handle`, with the
//! settings and keys given in code.

#![allow(clippy::unwrap_used)]

use pycnic::gateway::build_request;
use pycnic::keys::Keys;
use pycnic::session::store::StoreSpec;
use pycnic::{App, Cookie, Handler, HttpError, HttpResponse, Request, Response, SessionConfig};
use serde_json::{Value, json};

struct Jar;

impl Jar {
    fn put(&self, req: &Request, res: &mut Response) -> Result<Value, HttpError> {
        let value = req.args().get("v").unwrap_or("").to_string();
        res.set_signed_cookie("s", &value)?;
        res.set_private_cookie("p", &value)?;
        res.add_signed_cookie(Cookie::new("short", &value).max_age(60))?;
        Ok(json!({}))
    }

    fn get(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        let signed = req.signed_cookies()?;
        let private = req.private_cookies()?;
        Ok(json!({
            "s": signed.get("s"),
            "p": private.get("p"),
            "short": signed.get("short"),
            "s_as_p": private.get("s"),
        }))
    }
}

struct Plain;

impl Plain {
    fn get(&self, _req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({"plain": true}))
    }
}

fn keys(byte: u8) -> Keys {
    Keys::from_secrets(&[[byte; 32]]).unwrap()
}

fn jar_app() -> App {
    App::new()
        .route("/jar", Handler::new(Jar).post(Jar::put).get(Jar::get))
        .route("/plain", Handler::new(Plain).get(Plain::get))
}

fn call(app: &App, method: &str, uri: &str, cookie: &str) -> HttpResponse {
    let mut params = vec![
        (b"REQUEST_METHOD".to_vec(), method.as_bytes().to_vec()),
        (b"REQUEST_URI".to_vec(), uri.as_bytes().to_vec()),
    ];
    if !cookie.is_empty() {
        params.push((b"HTTP_COOKIE".to_vec(), cookie.as_bytes().to_vec()));
    }
    app.handle(build_request(params.into_iter().collect(), Vec::new()))
}

fn body(resp: &HttpResponse) -> Value {
    serde_json::from_slice(resp.body_bytes().unwrap()).unwrap()
}

/// `name=value` pairs of every Set-Cookie line, as a browser would send them back.
fn cookie_header(resp: &HttpResponse) -> String {
    resp.headers
        .iter()
        .filter(|(n, _)| n == "Set-Cookie")
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn signed_and_private_cookies_round_trip_and_fail_closed() {
    let app = jar_app().secret_keys(keys(1));
    let set = call(&app, "POST", "/jar?v=secret-value", "");
    assert_eq!(set.status, 200);
    let lines: Vec<&str> = set
        .headers
        .iter()
        .filter(|(n, _)| n == "Set-Cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert!(!line.contains("secret-value"), "sealed, not plain: {line}");
    }
    // set_*_cookie's defaults; add_*_cookie keeps the options it was given.
    for line in &lines[..2] {
        assert!(line.contains("; HttpOnly; SameSite=Lax"), "{line}");
    }
    assert!(lines[2].ends_with("; Path=/; Max-Age=60"), "{}", lines[2]);
    let jar = cookie_header(&set);
    let read = call(&app, "GET", "/jar", &jar);
    assert_eq!(
        body(&read),
        json!({"s": "secret-value", "p": "secret-value", "short": "secret-value", "s_as_p": null})
    );

    // A token moved to another name, or read with another key, is absent, never an error.
    let s_token = jar.split("; ").find(|c| c.starts_with("s=")).unwrap();
    let moved = s_token.replacen("s=", "p=", 1);
    let read = call(&app, "GET", "/jar", &moved);
    assert_eq!(body(&read)["p"], Value::Null);
    let other = jar_app().secret_keys(keys(2));
    let read = call(&other, "GET", "/jar", &jar);
    assert_eq!(read.status, 200);
    assert_eq!(
        body(&read),
        json!({"s": null, "p": null, "short": null, "s_as_p": null})
    );
}

#[test]
fn without_a_key_secure_cookies_answer_a_500_that_says_so() {
    // No key in code and none in the environment of the test process.
    let unkeyed = jar_app().sessions(SessionConfig::default());
    if std::env::var_os("PYCNIC_SECRET_KEY_FILE").is_some() {
        return; // the environment provides one: nothing to check here
    }
    let resp = call(&unkeyed, "POST", "/jar?v=x", "");
    assert_eq!(resp.status, 500);
    assert_eq!(body(&resp)["error"], "Server misconfigured: secret key");
    assert!(resp.headers.iter().all(|(n, _)| n != "Set-Cookie"));
}

#[test]
fn a_route_that_never_touches_sessions_opens_no_store() {
    // A store that cannot be opened: only a request that uses the session would notice.
    let config = SessionConfig {
        store: StoreSpec::Sqlite("/nonexistent-dir/x/sessions.db".into()),
        ..SessionConfig::default()
    };
    let app = jar_app().sessions(config);
    let resp = call(
        &app,
        "GET",
        "/plain",
        "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(body(&resp), json!({"plain": true}));
    assert!(resp.headers.iter().all(|(n, _)| n != "Set-Cookie"));
}

struct Counter;

impl Counter {
    fn post(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        let session = req.session()?;
        let n = session.get_as::<u64>("n").unwrap_or(0) + 1;
        session.insert("n", n)?;
        Ok(json!({"n": n}))
    }
}

#[test]
fn a_session_store_that_cannot_open_is_a_503_only_where_sessions_are_used() {
    let config = SessionConfig {
        store: StoreSpec::Sqlite("/nonexistent-dir/x/sessions.db".into()),
        ..SessionConfig::default()
    };
    let app = App::new()
        .route("/count", Handler::new(Counter).post(Counter::post))
        .sessions(config);
    let resp = call(&app, "POST", "/count", "");
    assert_eq!(resp.status, 503);
    assert_eq!(body(&resp)["error"], "Session store unavailable");
}

#[test]
fn sessions_configured_in_code_with_the_cookie_store() {
    let config = SessionConfig {
        store: StoreSpec::Cookie,
        ..SessionConfig::default()
    };
    let app = App::new()
        .route("/count", Handler::new(Counter).post(Counter::post))
        .sessions(config)
        .secret_keys(keys(3));
    let mut jar = String::new();
    for n in 1..=3 {
        let resp = call(&app, "POST", "/count", &jar);
        assert_eq!(body(&resp), json!({"n": n}));
        jar = cookie_header(&resp);
        assert!(jar.starts_with("session="), "{jar}");
    }
}

struct Short;

impl Short {
    fn post(&self, _req: &Request, res: &mut Response) -> Result<Value, HttpError> {
        res.add_private_cookie(Cookie::new("short", "v").max_age(2))?;
        Ok(json!({}))
    }

    fn get(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({"short": req.private_cookies()?.get("short")}))
    }
}

#[test]
fn max_age_is_enforced_inside_the_token_even_if_the_client_keeps_the_cookie() {
    let app = App::new()
        .route(
            "/short",
            Handler::new(Short).post(Short::post).get(Short::get),
        )
        .secret_keys(keys(4));
    let set = call(&app, "POST", "/short", "");
    let jar = cookie_header(&set);
    assert_eq!(
        body(&call(&app, "GET", "/short", &jar)),
        json!({"short": "v"})
    );
    // Max-Age=2: the token expires 1 to 2 s from now (whole clock seconds); 3.1 s later it
    // is past, though the client still sends the cookie.
    std::thread::sleep(std::time::Duration::from_millis(3100));
    assert_eq!(
        body(&call(&app, "GET", "/short", &jar)),
        json!({"short": null})
    );
}
