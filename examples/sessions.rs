//! The seed's Login/Logout with real sessions. Configured only by the environment
//! (`PYCNIC_SESSION_STORE`, `PYCNIC_SECRET_KEY_FILE`, `PYCNIC_SESSION_IDLE`, …), so it behaves
//! the same as CGI, as FastCGI and under `request`:
//!
//! | request | answer |
//! |---|---|
//! | `POST /login` `{"username":"foo","password":"foo"}` | 200 `{"message":"Logged in"}`; the session holds the user, its id is cycled; 400/401 as the seed. Also `admin`/`admin`, with the role `admin`. Throttled: 429 + `Retry-After` past `PYCNIC_LOGIN_MAX_FAILURES` failures for a username (or `…_PER_IP` for an address), even with the right password |
//! | `GET /login` | the seed's plain answer: `{"session_id": <the plain session_id cookie>}` (no session) |
//! | `GET /me` | 200 `{"user":"foo","visits":N}` (each one writes); 401 without a live session |
//! | `PUT /note/KEY?delay_ms=N` `{"value": any}` | reads the session, sleeps N ms, stores the value under KEY: 200 `{"saved":"KEY"}`; 401 without a session |
//! | `GET /note/KEY` | 200 `{"key":"KEY","value":…}`; 404 when absent; 401 without a session |
//! | `POST /logout` | destroys the session: `{"message":"Logged out"}`, else `{"message":"Already logged out"}` |
//! | `GET /admin` | 200 `{"admin":true}` for a user with the role `admin`; 403 for another user; 401 when not logged in |
//! | `POST /logout/all` | ends every session of the logged-in user on every backend: 200 `{"message":"Logged out everywhere"}`; 401 when not logged in |
//!
//! Every route is protected by the cross-origin check; `PYCNIC_TRUSTED_ORIGINS` and
//! `PYCNIC_CORS_ORIGINS` are read as by every app.
//!
//! `PYCNIC_SESSION_STORE=sqlite:$HOME/.local/state/s.db cargo run --example sessions -- request POST /login
//! '{"username":"foo","password":"foo"}'`

use std::process::ExitCode;
use std::time::Duration;

use pycnic::pycnic_names::{HTTP_400, HTTP_401, HTTP_404};
use pycnic::{App, Handler, HttpError, Request, Response, Session};
use serde_json::{Value, json};

/// The user's session (the route's guard has already answered 401 without one).
fn logged_in(request: &Request) -> Result<(&Session, String), HttpError> {
    let session = request.session()?;
    match session.user() {
        Some(user) => Ok((session, user)),
        None => Err(HTTP_401("Not logged in")),
    }
}

/// The demo's accounts: `(password, roles)` by username.
fn account(username: &str) -> Option<(&'static str, &'static [&'static str])> {
    match username {
        "foo" => Some(("foo", &[])),
        "admin" => Some(("admin", &["admin"])),
        _ => None,
    }
}

struct Login;

impl Login {
    fn get(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({"session_id": request.cookies().get("session_id")}))
    }

    fn post(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        let data = request.data()?;
        let username = data
            .get("username")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let password = data
            .get("password")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let (Some(username), Some(password)) = (username, password) else {
            return Err(HTTP_400("Username and password are required"));
        };
        // Throttled per username and per address, before the password is looked at; an
        // unknown username is counted and answered exactly as a wrong password.
        let attempt = request.login_attempt(username)?;
        let roles = match account(username) {
            Some((expected, roles)) if expected == password => roles,
            _ => return Err(attempt.failed(HTTP_401("Username or password are incorrect"))),
        };
        attempt.succeeded()?;
        request.session()?.login(username, roles)?;
        Ok(json!({"message": "Logged in"}))
    }
}

struct Me;

impl Me {
    fn get(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        let (session, user) = logged_in(request)?;
        let visits = session.get_as::<u64>("visits").unwrap_or(0) + 1;
        session.insert("visits", visits)?;
        Ok(json!({"user": user, "visits": visits}))
    }
}

struct Note;

impl Note {
    fn put(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        let (session, _) = logged_in(request)?;
        let key = request.route_arg(0).unwrap_or_default();
        let value = request.data()?.get("value").cloned().unwrap_or(Value::Null);
        let delay: u64 = request
            .args()
            .get("delay_ms")
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        std::thread::sleep(Duration::from_millis(delay.min(10_000)));
        session.insert(&format!("note:{key}"), value)?;
        Ok(json!({"saved": key}))
    }

    fn get(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        let (session, _) = logged_in(request)?;
        let key = request.route_arg(0).unwrap_or_default();
        match session.get(&format!("note:{key}")) {
            Some(value) => Ok(json!({"key": key, "value": value})),
            None => Err(HTTP_404(format!("No note {key}"))),
        }
    }
}

struct Logout;

impl Logout {
    fn post(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        let session = request.session()?;
        if session.user().is_some() {
            session.logout();
            return Ok(json!({"message": "Logged out"}));
        }
        Ok(json!({"message": "Already logged out"}))
    }
}

struct LogoutAll;

impl LogoutAll {
    fn post(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        let (session, user) = logged_in(request)?;
        request.revoke_user(&user)?;
        session.logout();
        Ok(json!({"message": "Logged out everywhere"}))
    }
}

struct Admin;

impl Admin {
    fn get(&self, _request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({"admin": true}))
    }
}

fn app() -> App {
    App::new()
        .route(
            "/login",
            Handler::new(Login).get(Login::get).post(Login::post),
        )
        .route("/me", Handler::new(Me).get(Me::get).login_required())
        .route(
            "/note/([A-Za-z0-9_-]{1,64})",
            Handler::new(Note)
                .put(Note::put)
                .get(Note::get)
                .login_required(),
        )
        .route("/logout", Handler::new(Logout).post(Logout::post))
        .route(
            "/logout/all",
            Handler::new(LogoutAll)
                .post(LogoutAll::post)
                .login_required(),
        )
        .route(
            "/admin",
            Handler::new(Admin).get(Admin::get).role_required("admin"),
        )
}

fn main() -> ExitCode {
    pycnic::run(app())
}
