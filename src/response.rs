//! What a handler writes (`Response`: status, headers, cookies — Pycnic's `self.response`),
//! what it returns (`Reply`: JSON, text, bytes or a stream), and what the core hands the
//! transports (`HttpResponse`: status, the final header list, the body). The header list a
//! `Response` starts with (its static `Content-Type`) is the one the `HttpResponse` carries:
//! it is moved, never copied. A thread that sends answers gives their buffers back
//! (`recycle`, into `crate::spare`), and the next `Response` and JSON body on that thread
//! reuse them, so a plain JSON answer allocates nothing of its own once the thread has
//! answered once.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::error::HttpError;
use crate::http::{HeaderError, HeaderText, Headers};
use crate::secure_cookie::{MAX_COOKIE_BYTES, now, seal_private, seal_signed};
use crate::set_cookie::{Cookie, CookieError, SameSite};

/// Pycnic's `self.response`: the status and headers of a successful answer, and its cookies.
#[derive(Clone, Debug)]
pub struct Response {
    status: u16,
    headers: Headers,
    cookies: Vec<Cookie>,
    /// The app's keys for signed and private cookies (set by `App::handle`).
    pub(crate) key_ring: Option<std::sync::Arc<dyn KeySource>>,
}

/// Where a response finds the app's key ring for signed and private cookies: the app's session
/// runtime, which loads the keys on first need. A trait, so that a response knows no session code.
pub(crate) trait KeySource: Send + Sync + fmt::Debug {
    /// The key ring, or the error to answer with (a 500, logged where it was found).
    fn keys(&self) -> Result<&crate::keys::Keys, HttpError>;
}

/// Header lines a `Response`'s list has room for before it grows: Content-Type, Content-Length
/// and two more (a cookie, an app header) without a reallocation.
const HEADER_ROOM: usize = 4;

impl Default for Response {
    fn default() -> Response {
        let mut entries = crate::spare::headers();
        entries.reserve(HEADER_ROOM);
        Response {
            status: 200,
            headers: Headers::one_in(entries, "Content-Type", "application/json"),
            cookies: Vec::new(),
            key_ring: None,
        }
    }
}

impl Response {
    /// A 200 answer with `Content-Type: application/json`, no other header and no cookie.
    pub fn new() -> Response {
        Response::default()
    }

    /// Pycnic's `status_code`.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Sets Pycnic's `status_code`; a code outside 100–599 is sent as 500.
    pub fn set_status(&mut self, status: u16) {
        self.status = if (100..=599).contains(&status) {
            status
        } else {
            500
        };
    }

    /// Pycnic's `set_header(k, v)`: case-insensitive, replaces in place. CR, LF and other
    /// control bytes are refused, never sent.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        self.headers.set(name, value)
    }

    /// The value of the header `name` set so far (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Every header set so far.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Removes the header `name` (case-insensitive) and returns its value.
    pub fn remove_header(&mut self, name: &str) -> Option<String> {
        self.headers.remove(name)
    }

    /// Pycnic's `set_cookie(key, value)` with its defaults (path `/`); `;` is removed from
    /// the value as Pycnic does. Setting the same name twice keeps one cookie: the last value,
    /// in the first position.
    pub fn set_cookie(&mut self, name: &str, value: &str) -> Result<(), CookieError> {
        self.add_cookie(Cookie::new(name, value))
    }

    /// `set_cookie` with every option: `Cookie::new(k, v).expires(…).path(…).domain(…)
    /// .max_age(…).secure().http_only().same_site(…).flag(…)`. Refused when any part could
    /// break the header.
    pub fn add_cookie(&mut self, cookie: Cookie) -> Result<(), CookieError> {
        cookie.validate()?;
        match self.cookies.iter_mut().find(|c| c.name() == cookie.name()) {
            Some(existing) => *existing = cookie,
            None => self.cookies.push(cookie),
        }
        Ok(())
    }

    /// Pycnic's `delete_cookie(key)`: value `DELETED`, expired in 1970, path `/`, Max-Age=0.
    pub fn delete_cookie(&mut self, name: &str) -> Result<(), CookieError> {
        self.add_cookie(Cookie::deletion(name))
    }

    /// Deletes a cookie that was set on another path or domain (browsers only drop a cookie
    /// when both match).
    pub fn delete_cookie_at(
        &mut self,
        name: &str,
        path: &str,
        domain: &str,
    ) -> Result<(), CookieError> {
        self.add_cookie(Cookie::deletion(name).path(path).domain(domain))
    }

    /// The cookies set so far, in the order they will be sent.
    pub fn cookies(&self) -> &[Cookie] {
        &self.cookies
    }

    /// A signed cookie (readable by the client, tamper-evident) with `Path=/`, `HttpOnly` and
    /// `SameSite=Lax`; no expiry. A logged 500 when no secret key is configured.
    pub fn set_signed_cookie(&mut self, name: &str, value: &str) -> Result<(), HttpError> {
        self.add_signed_cookie(secure_defaults(name, value))
    }

    /// Signs `cookie`'s value with its options as given; its `Max-Age`, if any, is also put
    /// inside the signed payload, so the cookie is refused after it even if a client keeps it.
    pub fn add_signed_cookie(&mut self, cookie: Cookie) -> Result<(), HttpError> {
        let keys = self.keys()?;
        let token = seal_signed(
            keys,
            cookie.name(),
            cookie.value().as_bytes(),
            expiry(&cookie),
        );
        self.add_sealed(cookie, token)
    }

    /// A private cookie (AES-256-GCM: unreadable and tamper-evident), with the defaults of
    /// [`Response::set_signed_cookie`].
    pub fn set_private_cookie(&mut self, name: &str, value: &str) -> Result<(), HttpError> {
        self.add_private_cookie(secure_defaults(name, value))
    }

    /// Encrypts `cookie`'s value, like [`Response::add_signed_cookie`].
    pub fn add_private_cookie(&mut self, cookie: Cookie) -> Result<(), HttpError> {
        let keys = self.keys()?;
        let token = seal_private(
            keys,
            cookie.name(),
            cookie.value().as_bytes(),
            expiry(&cookie),
        )
        .map_err(|err| {
            log::error!("no randomness from the OS: {err}");
            HttpError::service_unavailable("Cookie encryption unavailable")
        })?;
        self.add_sealed(cookie, token)
    }

    /// The status, the headers and the cookies, to become an `HttpResponse` without copying.
    pub(crate) fn into_parts(self) -> (u16, Headers, Vec<Cookie>) {
        (self.status, self.headers, self.cookies)
    }

    fn keys(&self) -> Result<&crate::keys::Keys, HttpError> {
        self.key_ring
            .as_deref()
            .ok_or_else(|| HttpError::internal("secure cookies need a response made by an App"))?
            .keys()
    }

    fn add_sealed(&mut self, cookie: Cookie, token: String) -> Result<(), HttpError> {
        let cookie = cookie.with_value(token);
        let length = cookie.to_header_value()?.len();
        if length > MAX_COOKIE_BYTES {
            return Err(HttpError::internal(format!(
                "Cookie {:?} too large: {length} bytes, over the {MAX_COOKIE_BYTES} browsers keep",
                cookie.name()
            )));
        }
        Ok(self.add_cookie(cookie)?)
    }
}

fn secure_defaults(name: &str, value: &str) -> Cookie {
    Cookie::new(name, value)
        .http_only()
        .same_site(SameSite::Lax)
}

/// The authenticated expiry of a sealed cookie: now + its `Max-Age` (0: none).
fn expiry(cookie: &Cookie) -> u64 {
    match cookie.max_age_seconds() {
        Some(seconds) => now().saturating_add(seconds.max(0).unsigned_abs()).max(1),
        None => 0,
    }
}

/// A body produced piece by piece; each chunk is sent as soon as it is produced.
pub type ChunkStream = Box<dyn Iterator<Item = Vec<u8>> + Send>;

/// What a handler method returns on success.
///
/// A handler method returns `Result<R, HttpError>` where `R` is one of these (anything that
/// converts `Into<Reply>`):
///
/// | `R` | example | sent as |
/// |---|---|---|
/// | `serde_json::Value` | `Ok(json!({"ok": true}))` | JSON |
/// | [`Json<T>`] for any `T: Serialize` | `Ok(Json(user))` | JSON |
/// | `String` | `Ok(format!("hello {name}"))` | the text, verbatim |
/// | `&'static str` | `Ok("pong")` | the text, verbatim |
/// | `Vec<u8>` | `Ok(png_bytes)` | the bytes, verbatim |
/// | `()` | `Ok(())` | an empty body |
/// | `Reply` | `Ok(Reply::stream(chunks))` | chunks as they are produced |
///
/// A `&str` borrowed from the request or the handler is not among them: `R` is one type for
/// every call, so it cannot borrow from one call's arguments. Return an owned `String`
/// (`Ok(request.path().to_string())`) instead.
///
/// ```
/// use pycnic::{App, Handler, HttpError, Json, Reply, Request, Response};
/// use serde_json::{Value, json};
///
/// struct Api;
/// impl Api {
///     fn value(&self, _: &Request, _: &mut Response) -> Result<Value, HttpError> {
///         Ok(json!({"ok": true}))
///     }
///     fn typed(&self, _: &Request, _: &mut Response) -> Result<Json<Vec<u8>>, HttpError> {
///         Ok(Json(vec![1, 2]))
///     }
///     fn owned(&self, req: &Request, _: &mut Response) -> Result<String, HttpError> {
///         Ok(req.path().to_string())
///     }
///     fn fixed(&self, _: &Request, _: &mut Response) -> Result<&'static str, HttpError> {
///         Ok("pong")
///     }
///     fn bytes(&self, _: &Request, _: &mut Response) -> Result<Vec<u8>, HttpError> {
///         Ok(vec![0xff])
///     }
///     fn empty(&self, _: &Request, _: &mut Response) -> Result<(), HttpError> {
///         Ok(())
///     }
///     fn stream(&self, _: &Request, _: &mut Response) -> Result<Reply, HttpError> {
///         Ok(Reply::stream(vec![b"a".to_vec(), b"b".to_vec()]))
///     }
/// }
/// let app = App::new()
///     .route("/value", Handler::new(Api).get(Api::value))
///     .route("/typed", Handler::new(Api).get(Api::typed))
///     .route("/owned", Handler::new(Api).get(Api::owned))
///     .route("/fixed", Handler::new(Api).get(Api::fixed))
///     .route("/bytes", Handler::new(Api).get(Api::bytes))
///     .route("/empty", Handler::new(Api).get(Api::empty))
///     .route("/stream", Handler::new(Api).get(Api::stream));
/// let get = |path: &str| {
///     let params = [("REQUEST_METHOD", "GET"), ("REQUEST_URI", path)]
///         .into_iter()
///         .collect();
///     app.handle(pycnic::gateway::build_request(params, Vec::new()))
/// };
/// assert_eq!(get("/value").body_bytes(), Some(&br#"{"ok":true}"#[..]));
/// assert_eq!(get("/typed").body_bytes(), Some(&b"[1,2]"[..]));
/// assert_eq!(get("/owned").body_bytes(), Some(&b"/owned"[..]));
/// assert_eq!(get("/fixed").body_bytes(), Some(&b"pong"[..]));
/// assert_eq!(get("/bytes").body_bytes(), Some(&b"\xff"[..]));
/// assert_eq!(get("/empty").body_bytes(), Some(&b""[..]));
/// assert_eq!(get("/stream").status, 200);
/// ```
///
/// A borrowed `&str` does not compile ("one type is more general than the other"):
///
/// ```compile_fail
/// use pycnic::{Handler, HttpError, Request, Response};
/// struct Api;
/// impl Api {
///     fn path<'a>(&self, req: &'a Request, _: &mut Response) -> Result<&'a str, HttpError> {
///         Ok(req.path())
///     }
/// }
/// let _ = Handler::new(Api).get(Api::path);
/// ```
pub enum Reply {
    /// A JSON document (Pycnic's dict or list).
    Json(Value),
    /// A string sent verbatim (Pycnic's `str`).
    Text(String),
    /// Raw bytes sent verbatim.
    Bytes(Vec<u8>),
    /// Chunks streamed as they come (Pycnic's iterable of bytes); no Content-Length.
    Stream(ChunkStream),
    /// A value that failed to serialise: answered as an uncaught error (500).
    #[doc(hidden)]
    Unserializable(String),
}

impl Reply {
    /// Any `Serialize` value as JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Reply {
        match serde_json::to_value(value) {
            Ok(v) => Reply::Json(v),
            Err(err) => Reply::Unserializable(err.to_string()),
        }
    }

    /// A streamed body from any iterator of byte chunks.
    pub fn stream<I>(chunks: I) -> Reply
    where
        I: IntoIterator<Item = Vec<u8>>,
        I::IntoIter: Send + 'static,
    {
        Reply::Stream(Box::new(chunks.into_iter()))
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Json(v) => f.debug_tuple("Json").field(v).finish(),
            Reply::Text(t) => f.debug_tuple("Text").field(t).finish(),
            Reply::Bytes(b) => f.debug_tuple("Bytes").field(&b.len()).finish(),
            Reply::Stream(_) => f.write_str("Stream(..)"),
            Reply::Unserializable(e) => f.debug_tuple("Unserializable").field(e).finish(),
        }
    }
}

/// Wraps any `Serialize` value so a handler can return it: `Ok(Json(user))`.
#[derive(Clone, Debug)]
pub struct Json<T>(pub T);

impl<T: Serialize> From<Json<T>> for Reply {
    fn from(json: Json<T>) -> Reply {
        Reply::json(&json.0)
    }
}

impl From<Value> for Reply {
    fn from(value: Value) -> Reply {
        Reply::Json(value)
    }
}

impl From<String> for Reply {
    fn from(text: String) -> Reply {
        Reply::Text(text)
    }
}

impl From<&str> for Reply {
    fn from(text: &str) -> Reply {
        Reply::Text(text.to_string())
    }
}

impl From<Vec<u8>> for Reply {
    fn from(bytes: Vec<u8>) -> Reply {
        Reply::Bytes(bytes)
    }
}

impl From<()> for Reply {
    fn from(_: ()) -> Reply {
        Reply::Bytes(Vec::new())
    }
}

/// The body of a finished response.
pub enum Body {
    /// Every byte, known in advance (sent with Content-Length).
    Full(Vec<u8>),
    /// Chunks sent as they are produced (no Content-Length).
    Stream(ChunkStream),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Full(b) => write!(f, "Full({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// Takes back the buffers of an answer that was sent (its header list and whole body), so the
/// next answer on this thread reuses them instead of allocating: the FastCGI server gives back
/// each answer once framed. Large buffers are let go.
pub(crate) fn recycle(response: HttpResponse) {
    crate::spare::keep_headers(response.headers);
    if let Body::Full(body) = response.body {
        crate::spare::keep_body(body);
    }
}

/// What `App::handle` returns to a transport: the status, every header line in order (one
/// `Set-Cookie` entry per cookie), and the body. Names and values are [`HeaderText`]: static,
/// short and numeric text (`Content-Type: application/json`, `Content-Length`) costs no
/// allocation; build one with `("Name".into(), value.into())` from a literal or a `String`.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code, 100–599.
    pub status: u16,
    /// Every header line in order, one `Set-Cookie` entry per cookie.
    pub headers: Vec<(HeaderText, HeaderText)>,
    /// The body.
    pub body: Body,
}

impl HttpResponse {
    /// The first header of that name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body when it is fully known (not a stream).
    pub fn body_bytes(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Full(b) => Some(b),
            Body::Stream(_) => None,
        }
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
