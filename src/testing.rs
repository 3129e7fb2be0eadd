//! An in-process test client: `Client::new(app())` runs each request through the gateway and
//! `App::handle` (no process, no port), keeps a cookie jar as a browser would (the rules of
//! `cookie_jar`, shared with `request --cookie-jar`), and has a clock the test moves, so idle
//! and absolute session expiry are checked without sleeping.
//!
//! The seed's login flow, with sessions in a temporary SQLite file removed on drop:
//!
//! ```
//! use pycnic::pycnic_names::HTTP_401;
//! use pycnic::testing::Client;
//! use pycnic::{App, Handler, HttpError, Request, Response};
//! use serde_json::{Value, json};
//!
//! struct Login;
//! impl Login {
//!     fn post(&self, request: &Request, _: &mut Response) -> Result<Value, HttpError> {
//!         let session = request.session()?;
//!         session.insert("user", request.data()?["username"].clone())?;
//!         session.cycle_id();
//!         Ok(json!({"message": "Logged in"}))
//!     }
//! }
//! struct Me;
//! impl Me {
//!     fn get(&self, request: &Request, _: &mut Response) -> Result<Value, HttpError> {
//!         match request.session()?.get("user") {
//!             Some(user) => Ok(json!({"user": user})),
//!             None => Err(HTTP_401("Not logged in")),
//!         }
//!     }
//! }
//! struct Logout;
//! impl Logout {
//!     fn post(&self, request: &Request, _: &mut Response) -> Result<Value, HttpError> {
//!         request.session()?.destroy();
//!         Ok(json!({"message": "Logged out"}))
//!     }
//! }
//! let app = App::new()
//!     .route("/login", Handler::new(Login).post(Login::post))
//!     .route("/me", Handler::new(Me).get(Me::get))
//!     .route("/logout", Handler::new(Logout).post(Logout::post));
//!
//! let mut client = Client::with_sqlite_sessions(app).unwrap();
//! let login = client.post("/login").json(&json!({"username": "foo"})).send();
//! assert_eq!(login.status(), 200);
//! assert_eq!(client.get("/me").send().json(), json!({"user": "foo"}));
//! client.post("/logout").send();
//! assert_eq!(client.get("/me").send().status(), 401);
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::app::App;
use crate::cookie_jar::CookieJar;
use crate::gateway::Params;
use crate::keys::Keys;
use crate::response::HttpResponse;
use crate::secure_cookie::{now, with_clock_shift};
use crate::session::SessionConfig;
use crate::session::store::StoreSpec;

/// The body limit of the test client's requests.
const MAX_BODY: u64 = crate::cli::DEFAULT_MAX_BODY;

/// An app under test, its cookie jar and its clock.
pub struct Client {
    app: App,
    jar: CookieJar,
    shift: u64,
    https: bool,
    temp_store: Option<PathBuf>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("jar", &self.jar)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `app` as it is configured (its sessions too, if it has them).
    pub fn new(app: App) -> Client {
        Client {
            app,
            jar: CookieJar::new(),
            shift: 0,
            https: false,
            temp_store: None,
        }
    }

    /// A client for `app` with sessions in a new SQLite file, in a new private folder (mode
    /// 0700, as the store's ownership check asks) under the temporary directory, removed when
    /// the client drops, and a fresh secret key.
    pub fn with_sqlite_sessions(app: App) -> Result<Client, String> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let folder = std::env::temp_dir().join(format!(
            "pycnic-test-sessions-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // `create`, not `create_all`: a folder already there (another user's) is an error.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&folder)
            .map_err(|err| format!("cannot create {}: {err}", folder.display()))?;
        let path = folder.join("sessions.sqlite3");
        let store = StoreSpec::Sqlite(path.to_string_lossy().into_owned());
        let mut client = match Client::with_session_store(app, store) {
            Ok(client) => client,
            Err(err) => {
                let _ = std::fs::remove_dir(&folder);
                return Err(err);
            }
        };
        client.temp_store = Some(folder);
        Ok(client)
    }

    /// A client for `app` with sessions in `store` (`StoreSpec::Cookie` needs nothing else)
    /// and a fresh secret key.
    pub fn with_session_store(app: App, store: StoreSpec) -> Result<Client, String> {
        let secret = crate::keys::random_bytes().map_err(|e| e.to_string())?;
        let keys = Keys::from_secrets(&[secret]).map_err(|e| e.to_string())?;
        let config = SessionConfig {
            store,
            ..SessionConfig::default()
        };
        Ok(Client::new(app.sessions(config).secret_keys(keys)))
    }

    /// Requests go as over HTTPS (`HTTPS=on`): `Secure` cookies are sent.
    pub fn https(mut self, on: bool) -> Client {
        self.https = on;
        self
    }

    /// A request with any method.
    pub fn request(&mut self, method: &str, path: &str) -> TestRequest<'_> {
        TestRequest {
            client: self,
            method: method.to_string(),
            path: path.to_string(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            cookies: Vec::new(),
        }
    }

    /// A GET request.
    pub fn get(&mut self, path: &str) -> TestRequest<'_> {
        self.request("GET", path)
    }

    /// A POST request.
    pub fn post(&mut self, path: &str) -> TestRequest<'_> {
        self.request("POST", path)
    }

    /// A PUT request.
    pub fn put(&mut self, path: &str) -> TestRequest<'_> {
        self.request("PUT", path)
    }

    /// A DELETE request.
    pub fn delete(&mut self, path: &str) -> TestRequest<'_> {
        self.request("DELETE", path)
    }

    /// Moves the client's clock ahead: sessions and cookies expire as if that much time
    /// had passed.
    pub fn advance(&mut self, by: Duration) {
        self.shift = self.shift.saturating_add(by.as_secs());
    }

    /// The value of a cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name, self.now())
    }

    /// The jar.
    pub fn jar(&self) -> &CookieJar {
        &self.jar
    }

    /// Empties the jar.
    pub fn forget_cookies(&mut self) {
        self.jar.clear();
    }

    fn now(&self) -> u64 {
        with_clock_shift(self.shift, now)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(folder) = self.temp_store.take() {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

/// A request being built; [`send`](TestRequest::send) runs it.
#[derive(Debug)]
pub struct TestRequest<'a> {
    client: &'a mut Client,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    cookies: Vec<(String, String)>,
}

impl TestRequest<'_> {
    /// Adds a query argument (percent-encoded).
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A JSON body, with `Content-Type: application/json`.
    pub fn json(mut self, value: &impl serde::Serialize) -> Self {
        self.body = Some(serde_json::to_vec(value).unwrap_or_default());
        self.header("Content-Type", "application/json")
    }

    /// A raw body.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Some(bytes.into());
        self
    }

    /// A cookie sent with this request only, besides the jar's.
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push((name.to_string(), value.to_string()));
        self
    }

    /// Runs the request through the app; the answer's `Set-Cookie` lines go into the jar.
    pub fn send(self) -> TestResponse {
        let client = self.client;
        let now = client.now();
        let (path, mut query) = match self.path.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (self.path.clone(), String::new()),
        };
        for (name, value) in &self.query {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&encode(name));
            query.push('=');
            query.push_str(&encode(value));
        }
        let target = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let mut params = Params::new();
        let https = client.https;
        for (name, value) in [
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("SERVER_SOFTWARE", "pycnic-testing"),
            ("SERVER_NAME", "localhost"),
            ("SERVER_PORT", if https { "443" } else { "80" }),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("HTTPS", if https { "on" } else { "off" }),
            ("REQUEST_METHOD", &self.method),
            ("REQUEST_URI", &target),
            ("SCRIPT_NAME", ""),
            ("QUERY_STRING", &query),
        ] {
            params.push(name.as_bytes(), value.as_bytes());
        }
        let body = self.body.unwrap_or_default();
        params.push(b"CONTENT_LENGTH", body.len().to_string().as_bytes());
        for (name, value) in &self.headers {
            let var = name.to_ascii_uppercase().replace('-', "_");
            match var.as_str() {
                "CONTENT_LENGTH" => {}
                "CONTENT_TYPE" => params.push(b"CONTENT_TYPE", value.as_bytes()),
                _ => params.push(format!("HTTP_{var}").as_bytes(), value.as_bytes()),
            }
        }
        let mut cookie = client.jar.header_for(&path, https, now).unwrap_or_default();
        for (name, value) in &self.cookies {
            if !cookie.is_empty() {
                cookie.push_str("; ");
            }
            cookie.push_str(&format!("{name}={value}"));
        }
        if !cookie.is_empty() {
            params.push(b"HTTP_COOKIE", cookie.as_bytes());
        }
        let response = with_clock_shift(client.shift, || answer(&client.app, params, &body));
        let response = TestResponse::from(response);
        for set_cookie in response.header_all("Set-Cookie") {
            client.jar.store(set_cookie, "localhost", &path, now);
        }
        response
    }
}

/// The one call into the gateway: the same body rules and `App::handle` as `pycnic request`.
fn answer(app: &App, params: Params, body: &[u8]) -> HttpResponse {
    crate::cgi::answer(app, params, &mut &body[..], MAX_BODY)
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An answer: status, headers in order, the body (a streamed one collected).
#[derive(Clone, Debug)]
pub struct TestResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl From<HttpResponse> for TestResponse {
    fn from(response: HttpResponse) -> TestResponse {
        let status = response.status;
        let headers = response
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_str().to_string()))
            .collect();
        let mut bytes = Vec::new();
        let _ = crate::gateway::write_response(response, &mut bytes);
        let body = match bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(end) => bytes.split_off(end + 4),
            None => Vec::new(),
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

impl TestResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header of that name, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body's bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The cookies this answer sets, name and value, in order (deletions too).
    pub fn cookies(&self) -> Vec<(String, String)> {
        self.header_all("Set-Cookie")
            .filter_map(|line| {
                let pair = line.split(';').next()?;
                let (name, value) = pair.split_once('=')?;
                Some((name.trim().to_string(), value.trim().to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "testing_tests.rs"]
mod tests;
