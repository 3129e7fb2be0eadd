use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::pycnic_names::HTTP_401;
use crate::{Handler, HttpError, Request, Response};

struct Login;
impl Login {
    fn post(&self, request: &Request, _: &mut Response) -> Result<Value, HttpError> {
        let session = request.session()?;
        session.insert("user", request.data()?["username"].clone())?;
        session.cycle_id();
        Ok(json!({"message": "Logged in"}))
    }
}

struct Me;
impl Me {
    fn get(&self, request: &Request, _: &mut Response) -> Result<Value, HttpError> {
        match request.session()?.get("user") {
            Some(user) => Ok(json!({"user": user, "args": request.args()})),
            None => Err(HTTP_401("Not logged in")),
        }
    }
}

fn app() -> App {
    App::new()
        .route("/login", Handler::new(Login).post(Login::post))
        .route("/me", Handler::new(Me).get(Me::get))
}

fn login(client: &mut Client) {
    let answer = client
        .post("/login")
        .json(&json!({"username": "ann"}))
        .send();
    assert_eq!(answer.status(), 200, "{}", answer.text());
    assert_eq!(
        answer.cookies().first().map(|c| c.0.as_str()),
        Some("session")
    );
}

#[test]
fn the_jar_carries_the_session_cookie_and_query_args_are_encoded() {
    let mut client = Client::with_session_store(app(), StoreSpec::Cookie).expect("client");
    assert_eq!(client.get("/me").send().status(), 401);
    login(&mut client);
    let me = client.get("/me").query("q", "a b&c").send();
    assert_eq!(me.json(), json!({"user": "ann", "args": {"q": "a b&c"}}));
    client.forget_cookies();
    assert_eq!(client.get("/me").send().status(), 401);
}

#[test]
fn the_moved_clock_ends_a_session_at_its_idle_limit_without_sleeping() {
    let mut client = Client::with_sqlite_sessions(app()).expect("client");
    login(&mut client);
    client.advance(Duration::from_secs(60));
    assert_eq!(
        client.get("/me").send().status(),
        200,
        "a minute is within the idle limit"
    );
    client.advance(Duration::from_secs(SessionConfig::default().idle + 1));
    assert_eq!(
        client.get("/me").send().status(),
        401,
        "past the idle limit"
    );
}

#[test]
fn the_moved_clock_ends_a_session_at_its_absolute_limit() {
    let mut client = Client::with_session_store(app(), StoreSpec::Cookie).expect("client");
    login(&mut client);
    let step = SessionConfig::default().idle / 2;
    let absolute = SessionConfig::default().absolute;
    let mut moved = 0;
    while moved + step < absolute {
        client.advance(Duration::from_secs(step));
        moved += step;
        assert_eq!(
            client.get("/me").send().status(),
            200,
            "at {moved}s, kept alive"
        );
    }
    client.advance(Duration::from_secs(step));
    assert_eq!(
        client.get("/me").send().status(),
        401,
        "past the absolute limit"
    );
}

#[test]
fn the_temporary_sqlite_file_is_removed_on_drop() {
    let client = Client::with_sqlite_sessions(app()).expect("client");
    let folder = client.temp_store.clone().expect("a temporary store");
    let path = folder.join("sessions.sqlite3");
    let mut client = client;
    login(&mut client);
    assert!(path.exists(), "the store is in use");
    drop(client);
    assert!(!path.exists(), "removed on drop");
    assert!(!folder.exists(), "its private folder removed on drop");
}
