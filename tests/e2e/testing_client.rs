//! The test client (`pycnic::testing::Client`) on every session store: log in, `/me` twice
//! (the jar carries the cookie), log out, `/me` is 401. Real `redis-server` and `memcached` on
//! free loopback ports, stopped and removed on drop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::sessions;
use pycnic::pycnic_names::HTTP_401;
use pycnic::session::store::StoreSpec;
use pycnic::testing::Client;
use pycnic::{App, Handler, HttpError, Request, Response};
use serde_json::{Value, json};
use sessions::{Fixture, Kind};

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
        let session = request.session()?;
        let Some(user) = session.get("user") else {
            return Err(HTTP_401("Not logged in"));
        };
        let visits = session.get_as::<u64>("visits").unwrap_or(0) + 1;
        session.insert("visits", visits)?;
        Ok(json!({"user": user, "visits": visits}))
    }
}

struct Logout;
impl Logout {
    fn post(&self, request: &Request, _: &mut Response) -> Result<Value, HttpError> {
        request.session()?.destroy();
        Ok(json!({"message": "Logged out"}))
    }
}

fn app() -> App {
    App::new()
        .route("/login", Handler::new(Login).post(Login::post))
        .route("/me", Handler::new(Me).get(Me::get))
        .route("/logout", Handler::new(Logout).post(Logout::post))
}

fn login_me_twice_logout(kind: Kind) {
    let fixture = Fixture::new(kind);
    let store: StoreSpec = fixture.store_spec().parse().expect("a store spec");
    let mut client = Client::with_session_store(app(), store).expect("client");
    let login = client
        .post("/login")
        .json(&json!({"username": "foo"}))
        .send();
    assert_eq!(login.json(), json!({"message": "Logged in"}), "{kind:?}");
    assert!(
        client.cookie("session").is_some(),
        "{kind:?}: the jar holds the session"
    );
    for visits in [1, 2] {
        let me = client.get("/me").send();
        assert_eq!(
            me.json(),
            json!({"user": "foo", "visits": visits}),
            "{kind:?}"
        );
    }
    assert_eq!(client.post("/logout").send().status(), 200, "{kind:?}");
    assert_eq!(
        client.cookie("session"),
        None,
        "{kind:?}: the deletion empties the jar"
    );
    assert_eq!(client.get("/me").send().status(), 401, "{kind:?}");
}

#[test]
fn the_login_flow_works_in_the_test_client_with_the_cookie_store() {
    login_me_twice_logout(Kind::Cookie);
}

#[test]
fn the_login_flow_works_in_the_test_client_with_sqlite() {
    login_me_twice_logout(Kind::Sqlite);
}

#[test]
fn the_login_flow_works_in_the_test_client_with_redis() {
    login_me_twice_logout(Kind::Redis);
}

#[test]
fn the_login_flow_works_in_the_test_client_with_memcached() {
    login_me_twice_logout(Kind::Memcached);
}
