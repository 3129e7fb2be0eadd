//! `App`: Pycnic's `WSGI` class — the route table, the app hooks, default headers, `debug`,
//! `strip_path` and the trusted-proxy switch. `App::handle(Request) -> HttpResponse` is the
//! core's one entry; it never panics and never fails: every outcome is an answer.

use serde_json::{Value, json};

use crate::error::HttpError;
use crate::handler::{Handler, HookFn};
use crate::http::{HeaderError, HeaderText, Headers, Method};
use crate::origin::{OriginConfig, OriginPolicy};
use crate::panic_capture;
use crate::request::Request;
use crate::response::{Body, HttpResponse, Reply, Response};
use crate::router::{RouteError, Router, strip_one_trailing_slash};
use crate::session::auth::{self, Access};
use crate::session::{Runtime, SessionConfig};

type TeardownFn = Box<dyn Fn(&Request, &Response) + Send + Sync>;

/// A Pycnic application.
pub struct App {
    router: Router,
    before: Option<HookFn>,
    after: Option<HookFn>,
    teardown: Option<TeardownFn>,
    headers: Headers,
    debug: bool,
    strip_path: bool,
    trusted_proxy: bool,
    session_config: Option<SessionConfig>,
    secret_keys: Option<crate::keys::Keys>,
    /// Settings, keys and store for sessions and secure cookies, made on first need.
    sessions: std::sync::Arc<Runtime>,
    /// Every route needs a logged-in user unless marked `Handler::public`.
    login_required: bool,
    /// A body must be JSON (415 otherwise): set in code, or `PYCNIC_JSON_ONLY` (settled once).
    json_only: bool,
    json_only_settled: std::sync::OnceLock<bool>,
    /// Cross-origin protection and CORS as given in code ([`crate::origin`]).
    origin_config: OriginConfig,
    /// The same with the environment's lists, settled on the first request.
    origins: std::sync::OnceLock<Result<OriginPolicy, HttpError>>,
}

impl Default for App {
    fn default() -> App {
        App {
            router: Router::default(),
            before: None,
            after: None,
            teardown: None,
            headers: Headers::new(),
            debug: false,
            strip_path: true,
            trusted_proxy: false,
            session_config: None,
            secret_keys: None,
            sessions: std::sync::Arc::default(),
            login_required: false,
            json_only: false,
            json_only_settled: std::sync::OnceLock::new(),
            origin_config: OriginConfig::default(),
            origins: std::sync::OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("routes", &self.router.table())
            .field("debug", &self.debug)
            .finish_non_exhaustive()
    }
}

impl App {
    /// An empty app: no routes, no hooks, no default headers, debug off, trailing slash stripped.
    pub fn new() -> App {
        App::default()
    }

    /// Adds `(pattern, handler)` to the end of the route table.
    ///
    /// # Panics
    /// When the pattern is not a valid regex: a programmer error, reported loudly at start-up.
    /// Use [`App::try_route`] to handle it instead.
    pub fn route<T>(self, pattern: &str, handler: Handler<T>) -> App {
        match self.try_route(pattern, handler) {
            Ok(app) => app,
            Err(err) => panic!("{err}"),
        }
    }

    /// [`route`](Self::route) that returns a pattern which does not compile as an error instead of panicking.
    pub fn try_route<T>(mut self, pattern: &str, handler: Handler<T>) -> Result<App, RouteError> {
        self.router.add(pattern, handler.erase())?;
        Ok(self)
    }

    /// Pycnic's `WSGI.before`: runs before routing; an error ends the request with it.
    pub fn before<F>(mut self, hook: F) -> App
    where
        F: Fn(&Request, &mut Response) -> Result<(), HttpError> + Send + Sync + 'static,
    {
        self.before = Some(Box::new(hook));
        self
    }

    /// Pycnic's `WSGI.after`: runs after the handler succeeded.
    pub fn after<F>(mut self, hook: F) -> App
    where
        F: Fn(&Request, &mut Response) -> Result<(), HttpError> + Send + Sync + 'static,
    {
        self.after = Some(Box::new(hook));
        self
    }

    /// Pycnic's `WSGI.teardown`: runs last, always, whatever happened. A panic in it is logged
    /// and does not change the answer.
    pub fn teardown<F>(mut self, hook: F) -> App
    where
        F: Fn(&Request, &Response) + Send + Sync + 'static,
    {
        self.teardown = Some(Box::new(hook));
        self
    }

    /// Pycnic's `WSGI.headers`: sent on every success and HTTP-error answer (CORS, say).
    /// A handler that sets the same header wins.
    ///
    /// # Panics
    /// When the name or value could break the header block: a programmer error, reported at
    /// start-up. Use [`App::try_header`] to handle it instead.
    pub fn header(self, name: &str, value: &str) -> App {
        match self.try_header(name, value) {
            Ok(app) => app,
            Err(err) => panic!("{err}"),
        }
    }

    /// [`header`](Self::header) that returns a refused header as an error instead of panicking.
    pub fn try_header(mut self, name: &str, value: &str) -> Result<App, HeaderError> {
        self.headers.set(name, value)?;
        Ok(self)
    }

    /// Pycnic's `debug`: pretty JSON (indent 4) and uncaught errors shown as lines.
    pub fn debug(mut self, on: bool) -> App {
        self.debug = on;
        self
    }

    /// Pycnic's `strip_path` (on by default).
    pub fn strip_path(mut self, on: bool) -> App {
        self.strip_path = on;
        self
    }

    /// Trust the last `X-Forwarded-For` entry for `Request::ip` (only behind a reverse proxy
    /// that sets it).
    pub fn trusted_proxy(mut self, on: bool) -> App {
        self.trusted_proxy = on;
        self
    }

    /// Session settings in code instead of the `PYCNIC_SESSION_*` environment variables.
    pub fn sessions(mut self, config: SessionConfig) -> App {
        self.session_config = Some(config);
        self.sessions = Runtime::new(self.session_config.clone(), self.secret_keys.clone());
        self
    }

    /// Secret keys in code instead of the file named by `PYCNIC_SECRET_KEY_FILE`.
    pub fn secret_keys(mut self, keys: crate::keys::Keys) -> App {
        self.secret_keys = Some(keys);
        self.sessions = Runtime::new(self.session_config.clone(), self.secret_keys.clone());
        self
    }

    /// Removes expired sessions from a store that does not expire them itself (SQLite);
    /// returns how many (Redis and memcached expire theirs: 0). `pycnic sessions gc`.
    pub fn collect_expired_sessions(&self) -> Result<u64, String> {
        let store = self.sessions.store().map_err(|err| err.to_string())?;
        store.gc().map_err(|err| err.to_string())
    }

    /// Loads and checks the session settings and the key file now, as a FastCGI start does
    /// (a broken file stops the start; a key file readable by others is warned about). `Ok`
    /// when no key file is configured: an app without sessions needs none.
    pub fn check_sessions(&self) -> Result<(), String> {
        self.sessions.check()
    }

    /// Re-reads the key file (SIGHUP, and every SIGUSR2, under FastCGI): `Ok(true)` when the
    /// ring changed, so a key removed from the file stops verifying its cookies at once. On an
    /// error the keys in use stay. The outcome is logged.
    pub fn reload_keys(&self) -> Result<bool, String> {
        self.sessions.reload_keys()
    }

    /// The session store's health: its circuit breaker (closed, open with the time left, or
    /// half-open) and its failures in a row. `None` before a request has opened the store, and
    /// for the `cookie` store. For a status page.
    pub fn session_store_health(&self) -> Option<crate::session::store::StoreHealth> {
        self.sessions.store_health()
    }

    /// `(pattern, methods, handler name)` per route: the `pycnic routes` table.
    pub fn routes(&self) -> Vec<(String, String, String)> {
        self.router.table()
    }

    /// The name of the handler `path` routes to (the `Class` column of `pycnic routes`),
    /// `None` when no route matches; for logs, so it costs a route lookup.
    pub fn handler_name(&self, path: &str) -> Option<&str> {
        let path = if self.strip_path {
            strip_one_trailing_slash(path)
        } else {
            path
        };
        self.router
            .find(path)
            .map(|found| found.route.name.as_str())
    }

    /// Answers one request: cross-origin check → JSON only → CORS preflight → app.before →
    /// routing → guard → handler.before → method → handler.after → app.after → teardown
    /// (always) → CORS headers. Panics become a 500 for this request only.
    pub fn handle(&self, mut request: Request) -> HttpResponse {
        request.trusted_proxy = self.trusted_proxy;
        if self.strip_path {
            let stripped = strip_one_trailing_slash(request.path()).len();
            request.truncate_path(stripped);
        }
        if request.method.is_empty() {
            // A broken invocation (RFC 3875 §4.1.12): no handler or hook sees it.
            log::error!("a request without REQUEST_METHOD for {}", request.path());
            return self.error_response(HttpError::internal(
                "REQUEST_METHOD is missing or empty: the web server must send it (RFC 3875 §4.1.12)",
            ));
        }
        // Where it comes from and what it carries, before routing (src/app/access.rs).
        let cors = match self.screen(&mut request) {
            Ok(cors) => cors,
            Err(answer) => return answer,
        };
        let head = request.method == "HEAD";
        request.sessions = Some(std::sync::Arc::clone(&self.sessions));
        let mut response = Response::new();
        response.key_ring = Some(std::sync::Arc::clone(&self.sessions) as _);
        let outcome = panic_capture::guarded(|| {
            let reply = self.run(&mut request, &mut response)?;
            // The session's changes are saved after the handler, before the answer is sent;
            // a request that never touched its session costs nothing here.
            if let Some(Ok(session)) = request.session.get() {
                session.commit(&self.sessions, request.is_https(), &mut response)?;
            }
            Ok(reply)
        });
        if let Some(teardown) = &self.teardown {
            let torn = panic_capture::guarded(|| teardown(&request, &response));
            if torn.is_err() {
                let lines = panic_capture::take().unwrap_or_default();
                log::error!(
                    "teardown hook on {} {}: {}",
                    request.method,
                    request.path(),
                    lines.first().map_or("panicked", String::as_str)
                );
            }
        }
        let answer = match outcome {
            Ok(Ok(Reply::Unserializable(reason))) => {
                log::error!(
                    "{} {}: reply not serialisable: {reason}",
                    request.method,
                    request.path()
                );
                self.uncaught(vec![format!("reply not serialisable: {reason}")])
            }
            Ok(Ok(reply)) => self.success(response, reply),
            Ok(Err(err)) => self.error_response(err),
            Err(payload) => {
                let lines = panic_capture::take()
                    .unwrap_or_else(|| vec![panic_capture::payload_message(payload.as_ref())]);
                log::error!(
                    "{} {}: handler {}",
                    request.method,
                    request.path(),
                    lines.first().map_or("panicked", String::as_str)
                );
                self.uncaught(lines)
            }
        };
        request.recycle();
        let mut answer = if head { without_body(answer) } else { answer };
        if let Some(origin) = &cors {
            self.decorate(&mut answer, origin);
        }
        answer
    }

    fn run(&self, request: &mut Request, response: &mut Response) -> Result<Reply, HttpError> {
        if let Some(before) = &self.before {
            before(request, response)?;
        }
        let found = self
            .router
            .find(request.path())
            .ok_or_else(|| HttpError::not_found(format!("Path {} not found", request.path())))?;
        request.route_args = found.args;
        let route = found.route;
        let not_allowed = || {
            HttpError::method_not_allowed(format!("{} not allowed", request.method))
                .with_header("Allow", &route.allow_header())
                .unwrap_or_else(|err| HttpError::internal(err.to_string()))
        };
        let method = request.http_method().ok_or_else(not_allowed)?;
        // RFC 9110 §9.3.2: HEAD is GET without the body.
        let function = route.method(method).or_else(|| {
            (method == Method::Head)
                .then(|| route.method(Method::Get))
                .flatten()
        });
        if function.is_none() && method != Method::Options {
            return Err(not_allowed());
        }
        // Guards: before the handler's own hook; the default OPTIONS answer shows nothing.
        if function.is_some() {
            match &route.access {
                Access::Public => {}
                Access::Default if !self.login_required => {}
                Access::Default | Access::Login => auth::require(request.session()?, None)?,
                Access::Role(role) => auth::require(request.session()?, Some(role))?,
            }
        }
        if let Some(before) = &route.before {
            before(request, response)?;
        }
        let reply = match function {
            Some(f) => f(request, response)?,
            None => {
                // Pycnic's default options(): Allow and an empty object.
                response.set_header("Allow", &route.allow_header())?;
                Reply::Json(json!({}))
            }
        };
        if let Some(after) = &route.after {
            after(request, response)?;
        }
        if let Some(after) = &self.after {
            after(request, response)?;
        }
        Ok(reply)
    }

    /// A successful answer: Content-Type, handler headers, Set-Cookie lines, app headers. The
    /// handler's header list becomes the answer's (moved, grown at most once).
    fn success(&self, response: Response, reply: Reply) -> HttpResponse {
        let (status, own, cookies) = response.into_parts();
        let mut headers = own.into_entries();
        let own = headers.len();
        // Every line this adds, and Content-Length: one reservation at most.
        headers.reserve(cookies.len() + self.headers.len() + 1);
        for cookie in &cookies {
            match cookie.to_header_value() {
                Ok(line) => headers.push((HeaderText::from_static("Set-Cookie"), line.into())),
                Err(err) => log::error!("cookie dropped: {err}"),
            }
        }
        for (name, value) in self.headers.entries() {
            // A handler that sets the same header wins (only its own lines are looked at).
            let set_by_handler = headers
                .get(..own)
                .unwrap_or_default()
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name));
            if !set_by_handler {
                headers.push((name.clone(), value.clone()));
            }
        }
        let body = match reply {
            Reply::Json(value) => Body::Full(self.encode(&value)),
            Reply::Text(text) => Body::Full(text.into_bytes()),
            Reply::Bytes(bytes) => Body::Full(bytes),
            Reply::Stream(chunks) => Body::Stream(chunks),
            Reply::Unserializable(_) => Body::Full(Vec::new()),
        };
        finish(status, headers, body)
    }

    /// An HTTP-error answer: Content-Type, the app's headers, the error's headers, and Pycnic's
    /// JSON body. The handler's headers and cookies are dropped.
    pub fn error_response(&self, err: HttpError) -> HttpResponse {
        let mut headers = Vec::with_capacity(2 + self.headers.len() + err.headers().len());
        headers.push(content_type_json());
        for (name, value) in self.headers.entries().iter().chain(err.headers().entries()) {
            headers.push((name.clone(), value.clone()));
        }
        finish(err.status(), headers, Body::Full(self.encode(&err.body())))
    }

    /// An uncaught error: 500 with only Content-Type; the lines are shown in debug mode only.
    fn uncaught(&self, lines: Vec<String>) -> HttpResponse {
        let body = if self.debug {
            json!({ "error": lines })
        } else {
            json!({ "error": "Internal server error encountered." })
        };
        let mut headers = Vec::with_capacity(2);
        headers.push(content_type_json());
        finish(500, headers, Body::Full(self.encode(&body)))
    }

    fn encode(&self, value: &Value) -> Vec<u8> {
        // Room for a small document, so most bodies are written without growing the buffer
        // (the last answer's buffer on this thread when it was given back).
        let mut out = crate::spare::body(128);
        let written = if self.debug {
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(value, &mut ser)
        } else {
            serde_json::to_writer(&mut out, value)
        };
        if let Err(err) = written {
            // Serialising a `Value` into a Vec cannot fail; keep the answer well-formed anyway.
            log::error!("json encoding failed: {err}");
            out.clear();
        }
        out
    }
}

/// `Content-Type: application/json`, static.
fn content_type_json() -> (HeaderText, HeaderText) {
    (
        HeaderText::from_static("Content-Type"),
        HeaderText::from_static("application/json"),
    )
}

/// Adds Content-Length when the body is known; 1xx, 204 and 304 carry no body (RFC 9110 §6.4.1).
fn finish(status: u16, mut headers: Vec<(HeaderText, HeaderText)>, body: Body) -> HttpResponse {
    let bodiless = status < 200 || status == 204 || status == 304;
    let body = match body {
        _ if bodiless => Body::Full(Vec::new()),
        body => body,
    };
    if let Body::Full(bytes) = &body
        && !bodiless
    {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("Content-Length"));
        headers.push((
            HeaderText::from_static("Content-Length"),
            HeaderText::number(bytes.len() as u64),
        ));
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// HEAD: the GET answer with its Content-Length and no body.
fn without_body(answer: HttpResponse) -> HttpResponse {
    HttpResponse {
        body: Body::Full(Vec::new()),
        ..answer
    }
}

#[path = "app/access.rs"]
mod access;

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
