//! The `pycnic` binary: the seed example of Pycnic's README, compiled in. Pycnic's
//! `class Login(Handler)` is a struct whose methods answer GET and POST; `class app(WSGI)` with
//! its `routes` is the `App` built in `app()`. Run it as CGI, or see `pycnic --help`.

use std::process::ExitCode;

use pycnic::pycnic_names::{HTTP_400, HTTP_401};
use pycnic::{App, Handler, HttpError, Request, Response};
use serde_json::{Value, json};

struct Login;

impl Login {
    fn get(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({"session_id": request.cookies().get("session_id")}))
    }

    fn post(&self, request: &Request, response: &mut Response) -> Result<Value, HttpError> {
        let data = request.data()?;
        let username = data.get("username").and_then(truthy_str);
        let password = data.get("password").and_then(truthy_str);
        let (Some(username), Some(password)) = (username, password) else {
            return Err(HTTP_400("Username and password are required"));
        };
        if username != "foo" || password != "foo" {
            return Err(HTTP_401("Username or password are incorrect"));
        }
        response.set_cookie("session_id", "1234567890abcdefg")?;
        Ok(json!({"message": "Logged in"}))
    }
}

struct Logout;

impl Logout {
    fn post(&self, request: &Request, response: &mut Response) -> Result<Value, HttpError> {
        if request
            .cookies()
            .get("session_id")
            .is_some_and(|id| !id.is_empty())
        {
            response.delete_cookie("session_id")?;
            return Ok(json!({"message": "Logged out"}));
        }
        Ok(json!({"message": "Already logged out", "cookies": request.cookies()}))
    }
}

/// Python's `if not username`: a missing, null, empty or non-string value is refused.
fn truthy_str(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

fn app() -> App {
    App::new()
        .route(
            "/login",
            Handler::new(Login).get(Login::get).post(Login::post),
        )
        .route("/logout", Handler::new(Logout).post(Logout::post))
}

fn main() -> ExitCode {
    pycnic::run!(app())
}
