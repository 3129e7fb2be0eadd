//! Pycnic's tiny JSON web API in Rust, shipped as one CGI/FastCGI binary.
//!
//! A handler is a value whose methods answer HTTP methods; an [`App`] lists handlers in an
//! ordered route table; [`run`](fn@run) (or the [`run!`] macro) turns the program into a CGI program, a FastCGI server or a
//! command-line request tool. The seed example of Pycnic's README, line by line:
//!
//! ```
//! use pycnic::pycnic_names::{HTTP_400, HTTP_401};
//! use pycnic::{App, Handler, HttpError, Request, Response};
//! use serde_json::{json, Value};
//!
//! struct Login;
//! impl Login {
//!     fn get(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
//!         Ok(json!({"session_id": request.cookies().get("session_id")}))
//!     }
//!     fn post(&self, request: &Request, response: &mut Response) -> Result<Value, HttpError> {
//!         let data = request.data()?;
//!         let username = data.get("username").and_then(Value::as_str).filter(|s| !s.is_empty());
//!         let password = data.get("password").and_then(Value::as_str).filter(|s| !s.is_empty());
//!         let (Some(username), Some(password)) = (username, password) else {
//!             return Err(HTTP_400("Username and password are required"));
//!         };
//!         if username != "foo" || password != "foo" {
//!             return Err(HTTP_401("Username or password are incorrect"));
//!         }
//!         response.set_cookie("session_id", "1234567890abcdefg")?;
//!         Ok(json!({"message": "Logged in"}))
//!     }
//! }
//!
//! struct Logout;
//! impl Logout {
//!     fn post(&self, request: &Request, response: &mut Response) -> Result<Value, HttpError> {
//!         if request.cookies().get("session_id").is_some_and(|id| !id.is_empty()) {
//!             response.delete_cookie("session_id")?;
//!             return Ok(json!({"message": "Logged out"}));
//!         }
//!         Ok(json!({"message": "Already logged out", "cookies": request.cookies()}))
//!     }
//! }
//!
//! let app = App::new()
//!     .route("/login", Handler::new(Login).get(Login::get).post(Login::post))
//!     .route("/logout", Handler::new(Logout).post(Logout::post));
//!
//! // In `main`: `fn main() -> std::process::ExitCode { pycnic::run!(app) }`.
//! // Here, one request through the same gateway a web server uses:
//! let params = [
//!     ("REQUEST_METHOD", "GET"),
//!     ("REQUEST_URI", "/login"),
//!     ("HTTP_COOKIE", "session_id=abc; path=/;"),
//! ]
//! .into_iter()
//! .collect();
//! let response = app.handle(pycnic::gateway::build_request(params, Vec::new()));
//! assert_eq!(response.status, 200);
//! assert_eq!(response.body_bytes(), Some(&br#"{"session_id":"abc"}"#[..]));
//! ```

#[cfg(test)]
mod alloc_count;
pub mod app;
pub mod cgi;
pub mod cli;
mod cli_sessions;
pub mod cookie;
pub mod cookie_jar;
mod environ;
pub mod error;
pub mod fastcgi;
pub mod gateway;
pub mod handler;
mod header_text;
pub mod http;
mod key_ring;
pub mod keys;
pub mod ops;
pub mod origin;
mod panic_capture;
pub mod params;
pub mod query;
pub mod request;
pub mod response;
mod router;
pub mod secure_cookie;
pub mod serve;
pub mod session;
pub mod set_cookie;
mod spare;
mod stray_output;
mod target;
pub mod testing;

pub use app::App;
pub use cli::{run, run_as};

/// `fn main() -> ExitCode { pycnic::run!(app()) }`: [`run`](fn@crate::run) with your crate's name and version
/// (`CARGO_PKG_NAME`, `CARGO_PKG_VERSION`) in `--help` and `--version`.
///
/// ```no_run
/// fn app() -> pycnic::App {
///     pycnic::App::new()
/// }
/// fn main() -> std::process::ExitCode {
///     pycnic::run!(app())
/// }
/// ```
#[macro_export]
macro_rules! run {
    ($app:expr) => {
        $crate::run_as($app, env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    };
}
pub use cookie::Cookies;
pub use error::{HttpError, pycnic_names};
pub use handler::Handler;
pub use http::{HeaderError, HeaderText, Headers, Method};
pub use keys::Keys;
pub use query::Args;
pub use request::{Environ, Request};
pub use response::{Body, HttpResponse, Json, Reply, Response};
pub use router::RouteError;
pub use secure_cookie::SecureCookies;
pub use session::{Session, SessionConfig};
pub use set_cookie::{Cookie, CookieError, SameSite};
