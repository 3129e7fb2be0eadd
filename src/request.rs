//! `Request`: what a handler reads — Pycnic's `self.request` (path, method, environ, headers,
//! cookies, args, json_args, body, data, ip) plus route arguments and typed body parsing.
//! Built by the gateway from CGI meta-variables; nothing here knows the transport. The
//! variables' text is kept once, in the `Environ`: the method and path are borrowed names or
//! spans of it when they can be, and the headers and cookies are built from it on first use
//! only, so a handler pays for what it reads.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::cookie::Cookies;
pub use crate::environ::Environ;
use crate::error::HttpError;
use crate::http::{Headers, Method};
use crate::query::Args;
use crate::secure_cookie::{Kind, SecureCookies};
use crate::session::auth::LoginAttempt;
use crate::session::{Runtime, Session};

/// Where a request's path is kept: most often a stretch of a variable's value (REQUEST_URI up
/// to its `?`, or PATH_INFO), read in place from the environ's text; else text of its own
/// (percent-decoded, or the `/` default).
#[derive(Debug)]
pub(crate) enum PathText {
    /// A span of the environ's text.
    InEnviron(Range<usize>),
    /// Text that is in no variable as it is.
    Own(Cow<'static, str>),
}

/// One HTTP request as a handler sees it. Headers, cookies, the JSON body and the session are
/// each made on first use and kept.
#[derive(Debug)]
pub struct Request {
    /// Upper case; the nine HTTP methods are borrowed names, anything else its own text.
    pub(crate) method: Cow<'static, str>,
    pub(crate) path: PathText,
    pub(crate) environ: Environ,
    /// Built from `environ` on the first `headers()` or `get_header()` call only: most
    /// handlers never read them.
    pub(crate) headers: OnceLock<Headers>,
    /// Parsed from `environ` on the first `cookies()` call (or a session's or secure
    /// cookies' first read) only.
    pub(crate) cookies: OnceLock<Cookies>,
    pub(crate) args: Args,
    pub(crate) body: Vec<u8>,
    pub(crate) data: OnceLock<Result<Value, HttpError>>,
    pub(crate) route_args: Vec<Option<String>>,
    pub(crate) trusted_proxy: bool,
    /// The app's sessions and keys (set by `App::handle`).
    pub(crate) sessions: Option<std::sync::Arc<Runtime>>,
    /// The session, loaded on the first `session()` call only.
    pub(crate) session: OnceLock<Result<Session, HttpError>>,
}

impl Request {
    /// The request method, upper-cased (Pycnic's `REQUEST_METHOD.upper()`).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The method as one of the nine HTTP methods, or `None` for anything else.
    pub fn http_method(&self) -> Option<Method> {
        Method::from_name(&self.method)
    }

    /// The path routed on (decoded, without the query string; one trailing `/` stripped when
    /// the app's `strip_path` is on).
    pub fn path(&self) -> &str {
        match &self.path {
            PathText::InEnviron(span) => self.environ.text_at(span),
            PathText::Own(text) => text,
        }
    }

    /// Gives the request's buffers (its variables', its cookies') to the next request this
    /// thread decodes, once it is answered: in the steady state a request allocates nothing
    /// for them. The request is left without variables or cookies.
    pub(crate) fn recycle(&mut self) {
        let (text, spans) = std::mem::take(&mut self.environ).into_parts();
        crate::spare::keep_params(text, spans);
        if let Some(cookies) = self.cookies.take() {
            cookies.recycle();
        }
    }

    /// Shortens the path to its first `len` bytes (`strip_path`); `len` is a char boundary.
    pub(crate) fn truncate_path(&mut self, len: usize) {
        match &mut self.path {
            PathText::InEnviron(span) => span.end = span.start + len.min(span.len()),
            PathText::Own(text) if text.is_char_boundary(len) => match text {
                Cow::Borrowed(whole) => *whole = whole.get(..len).unwrap_or(whole),
                Cow::Owned(whole) => whole.truncate(len),
            },
            PathText::Own(_) => {}
        }
    }

    /// Pycnic's `environ`: the CGI/FastCGI params by name.
    pub fn environ(&self) -> &Environ {
        &self.environ
    }

    /// Headers from `HTTP_*` params plus Content-Type and Content-Length, names Title-Cased.
    /// Built on the first call (of this or [`Request::get_header`]), then kept.
    pub fn headers(&self) -> &Headers {
        self.headers
            .get_or_init(|| crate::environ::headers_of(&self.environ))
    }

    /// Pycnic's `get_header(name)`: case-insensitive.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers().get(name)
    }

    /// Pycnic's `cookies` (see `Cookies::parse` for the rules).
    /// Parsed on the first call, then kept.
    pub fn cookies(&self) -> &Cookies {
        self.cookies
            .get_or_init(|| crate::environ::cookies_of(&self.environ))
    }

    /// Pycnic's `args`: the query string; `args().get_all(k)` for every value of a key.
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// Pycnic's `json_args`: the JSON document in the `json=` query parameter (`{}` without).
    pub fn json_args(&self) -> Result<Value, HttpError> {
        match self.args.get("json") {
            None => Ok(Value::Object(Map::new())),
            Some(text) => serde_json::from_str(text)
                .map_err(|_| HttpError::bad_request("Invalid JSON in request query string")),
        }
    }

    /// The raw body: exactly CONTENT_LENGTH bytes (bounded by the body limit).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Pycnic's `data`: the body as JSON, whatever the Content-Type; an empty body is `{}`;
    /// a body that is not JSON is a 400 `Expected JSON in request body`. Parsed once.
    pub fn data(&self) -> Result<&Value, HttpError> {
        self.data
            .get_or_init(|| {
                if self.body.is_empty() {
                    return Ok(Value::Object(Map::new()));
                }
                serde_json::from_slice(&self.body)
                    .map_err(|_| HttpError::bad_request("Expected JSON in request body"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The body parsed into a typed value — Pycnic's `requires_validation`, the Rust way. A
    /// body that does not fit is a 400 whose message and `data.field` name the field.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        let value = self.data()?;
        serde_path_to_error::deserialize(value).map_err(|err| {
            let reason = err.inner().to_string();
            let field = field_name(&err.path().to_string(), &reason);
            HttpError::bad_request(format!("Invalid request data at {field}: {reason}"))
                .with_data(serde_json::json!({ "field": field }))
        })
    }

    /// The client address: `REMOTE_ADDR`, or — only when the app says it sits behind a trusted
    /// reverse proxy — the last `X-Forwarded-For` entry (a client can forge the others).
    pub fn ip(&self) -> &str {
        if self.trusted_proxy
            && let Some(last) = self
                .get_header("X-Forwarded-For")
                .and_then(|list| list.rsplit(',').next())
                .map(str::trim)
                .filter(|ip| !ip.is_empty())
        {
            return last;
        }
        self.environ.get("REMOTE_ADDR").unwrap_or("")
    }

    /// This request's session (loaded from its cookie on first call; an empty new one when the
    /// cookie names no live session). Changes are saved after the handler returns. A 503 when
    /// the store is down; a logged 500 when sessions are misconfigured.
    pub fn session(&self) -> Result<&Session, HttpError> {
        self.session
            .get_or_init(|| Session::load(self.runtime()?, self.cookies()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The request's signed cookies: `request.signed_cookies()?.get(name)` is the value when
    /// its MAC verifies with a key of the ring and it has not expired, else `None`. A logged
    /// 500 when no secret key is configured.
    pub fn signed_cookies(&self) -> Result<SecureCookies<'_>, HttpError> {
        let keys = self.runtime()?.keys()?;
        Ok(SecureCookies::new(self.cookies(), keys, Kind::Signed))
    }

    /// The request's private (encrypted) cookies, read like [`Request::signed_cookies`].
    pub fn private_cookies(&self) -> Result<SecureCookies<'_>, HttpError> {
        let keys = self.runtime()?.keys()?;
        Ok(SecureCookies::new(self.cookies(), keys, Kind::Private))
    }

    /// Whether the request came over HTTPS (`HTTPS=on` or `REQUEST_SCHEME=https`).
    pub fn is_https(&self) -> bool {
        self.environ
            .get("HTTPS")
            .is_some_and(|v| v.eq_ignore_ascii_case("on") || v == "1")
            || self
                .environ
                .get("REQUEST_SCHEME")
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }

    /// Starts a login attempt for `username` from [`Request::ip`]: a 429 with `Retry-After`
    /// while that username or that address is locked out (`PYCNIC_LOGIN_MAX_FAILURES`,
    /// `PYCNIC_LOGIN_MAX_FAILURES_PER_IP`, `PYCNIC_LOGIN_LOCKOUT`), whatever the password.
    /// End it with [`LoginAttempt::failed`] or [`LoginAttempt::succeeded`].
    pub fn login_attempt(&self, username: &str) -> Result<LoginAttempt<'_>, HttpError> {
        crate::session::auth::login_attempt(self.runtime()?, username, self.ip())
    }

    /// Ends every session of `user` on every backend at once (a password change, "log out
    /// everywhere"), this request's included from the next request on.
    pub fn revoke_user(&self, user: &str) -> Result<(), HttpError> {
        crate::session::auth::revoke_user(self.runtime()?, user)
    }

    fn runtime(&self) -> Result<&Runtime, HttpError> {
        self.sessions
            .as_deref()
            .ok_or_else(|| HttpError::internal("sessions need a request answered by an App"))
    }

    /// The route's capture groups, by position; `None` for a group that did not take part.
    pub fn route_args(&self) -> &[Option<String>] {
        &self.route_args
    }

    /// One capture group by position (0 is the first group).
    pub fn route_arg(&self, index: usize) -> Option<&str> {
        self.route_args.get(index).and_then(|a| a.as_deref())
    }
}

/// serde reports a missing field at its parent's path (`.` at the top level) and names the
/// field only in its message (``missing field `age` ``): join the two so the 400 names it.
fn field_name(path: &str, reason: &str) -> String {
    let missing = reason
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match missing {
        Some(name) if path == "." => name.to_string(),
        Some(name) => format!("{path}.{name}"),
        None => path.to_string(),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
