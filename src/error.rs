//! `HttpError`: what a handler or hook raises to answer with an HTTP error, and the JSON body
//! Pycnic sends for it (`status`, `status_code`, `error`, `data`, in that order).

use std::fmt;

use serde_json::{Map, Value};

use crate::http::{HeaderError, Headers, status_line};

/// An HTTP error answer: Pycnic's `HTTPError(code, message, data=None, headers=[])`.
///
/// When a handler returns one, the headers and cookies it had set are dropped; the client gets
/// `Content-Type`, the app's default headers and this error's own headers.
///
/// It is one pointer wide (its parts live in a box), so `Result<T, HttpError>` stays small
/// and a handler passes clippy's `result_large_err` lint with its default threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpError(Box<Parts>);

/// What an [`HttpError`] holds, behind its box.
#[derive(Clone, Debug, PartialEq)]
struct Parts {
    status: u16,
    message: String,
    data: Value,
    headers: Headers,
}

impl HttpError {
    /// An error with any status code from 100 to 599 (others are sent as 500).
    pub fn new(status: u16, message: impl Into<String>) -> HttpError {
        HttpError(Box::new(Parts {
            status: if (100..=599).contains(&status) {
                status
            } else {
                500
            },
            message: message.into(),
            data: Value::Null,
            headers: Headers::new(),
        }))
    }

    /// Pycnic's `data` argument: any JSON value sent beside the message.
    pub fn with_data(mut self, data: impl Into<Value>) -> HttpError {
        self.0.data = data.into();
        self
    }

    /// Pycnic's `headers` argument. A header that could break the response is refused here,
    /// where the programmer wrote it, rather than dropped silently later.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<HttpError, HeaderError> {
        self.0.headers.set(name, value)?;
        Ok(self)
    }

    /// The status code sent (100–599).
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The message, sent as the body's `error` member.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The JSON sent as the body's `data` member (`null` unless [`with_data`](Self::with_data)).
    pub fn data(&self) -> &Value {
        &self.0.data
    }

    /// The error's own headers (from [`with_header`](Self::with_header)).
    pub fn headers(&self) -> &Headers {
        &self.0.headers
    }

    /// Takes the message out, dropping the rest.
    pub fn into_message(self) -> String {
        self.0.message
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(400, message)
    }
    /// 401 Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> HttpError {
        HttpError::new(401, message)
    }
    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> HttpError {
        HttpError::new(403, message)
    }
    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> HttpError {
        HttpError::new(404, message)
    }
    /// 405 Method Not Allowed.
    pub fn method_not_allowed(message: impl Into<String>) -> HttpError {
        HttpError::new(405, message)
    }
    /// 408 Request Timeout.
    pub fn request_timeout(message: impl Into<String>) -> HttpError {
        HttpError::new(408, message)
    }
    /// 413 Content Too Large.
    pub fn payload_too_large(message: impl Into<String>) -> HttpError {
        HttpError::new(413, message)
    }
    /// 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> HttpError {
        HttpError::new(500, message)
    }
    /// 503 Service Unavailable.
    pub fn service_unavailable(message: impl Into<String>) -> HttpError {
        HttpError::new(503, message)
    }

    /// The body Pycnic sends: `{"status", "status_code", "error", "data"}` in that order.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("status".into(), Value::String(status_line(self.status())));
        body.insert("status_code".into(), Value::from(self.status()));
        body.insert("error".into(), Value::String(self.message().to_string()));
        body.insert("data".into(), self.data().clone());
        Value::Object(body)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", status_line(self.status()), self.message())
    }
}

impl std::error::Error for HttpError {}

/// A header refused at request time is the programmer's error: a 500 that names it.
impl From<HeaderError> for HttpError {
    fn from(err: HeaderError) -> HttpError {
        HttpError::internal(err.to_string())
    }
}

/// Pycnic's error classes under their own names, for code ported line by line:
/// `raise HTTP_400("…")` becomes `return Err(HTTP_400("…"))`.
#[allow(non_snake_case)]
pub mod pycnic_names {
    use super::HttpError;

    /// Pycnic's `HTTPError(code, message)`: any status code.
    pub fn HTTPError(status: u16, message: impl Into<String>) -> HttpError {
        HttpError::new(status, message)
    }
    /// Pycnic's `HTTP_400`: 400 Bad Request.
    pub fn HTTP_400(message: impl Into<String>) -> HttpError {
        HttpError::new(400, message)
    }
    /// Pycnic's `HTTP_401`: 401 Unauthorized.
    pub fn HTTP_401(message: impl Into<String>) -> HttpError {
        HttpError::new(401, message)
    }
    /// Pycnic's `HTTP_403`: 403 Forbidden.
    pub fn HTTP_403(message: impl Into<String>) -> HttpError {
        HttpError::new(403, message)
    }
    /// Pycnic's `HTTP_404`: 404 Not Found.
    pub fn HTTP_404(message: impl Into<String>) -> HttpError {
        HttpError::new(404, message)
    }
    /// Pycnic's `HTTP_405`: 405 Method Not Allowed.
    pub fn HTTP_405(message: impl Into<String>) -> HttpError {
        HttpError::new(405, message)
    }
    /// Pycnic's `HTTP_408`: 408 Request Timeout.
    pub fn HTTP_408(message: impl Into<String>) -> HttpError {
        HttpError::new(408, message)
    }
    /// Pycnic's `HTTP_500`: 500 Internal Server Error.
    pub fn HTTP_500(message: impl Into<String>) -> HttpError {
        HttpError::new(500, message)
    }
}

#[cfg(test)]
mod tests {
    use super::pycnic_names::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn error_body_has_pycnic_shape_and_key_order() {
        let body = HTTP_400("Username and password are required").body();
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"status":"400 Bad Request","status_code":400,"error":"Username and password are required","data":null}"#
        );
    }

    #[test]
    fn named_constructors_carry_their_status() {
        let cases = [
            (HTTP_400("m"), 400),
            (HTTP_401("m"), 401),
            (HTTP_403("m"), 403),
            (HTTP_404("m"), 404),
            (HTTP_405("m"), 405),
            (HTTP_408("m"), 408),
            (HTTP_500("m"), 500),
            (HTTPError(418, "m"), 418),
            (HttpError::payload_too_large("m"), 413),
            (HttpError::service_unavailable("m"), 503),
        ];
        for (err, status) in cases {
            assert_eq!(err.status(), status, "{err}");
            assert_eq!(err.body()["status_code"], json!(status), "{err}");
        }
    }

    #[test]
    fn any_code_is_kept_with_its_phrase_and_out_of_range_codes_become_500() {
        assert_eq!(HttpError::new(577, "x").body()["status"], json!("577"));
        assert_eq!(
            HttpError::new(422, "x").body()["status"],
            json!("422 Unprocessable Content")
        );
        assert_eq!(HttpError::new(99, "x").status(), 500);
        assert_eq!(HttpError::new(600, "x").status(), 500);
    }

    #[test]
    fn data_and_headers_are_carried() {
        let err = HTTP_403("no")
            .with_data(json!({"need": "admin"}))
            .with_header("WWW-Authenticate", "Basic")
            .unwrap();
        assert_eq!(err.body()["data"], json!({"need": "admin"}));
        assert_eq!(err.headers().get("www-authenticate"), Some("Basic"));
        assert!(HTTP_403("no").with_header("X", "a\r\nb").is_err());
    }

    #[test]
    fn an_error_is_one_pointer_so_handler_results_stay_small() {
        // clippy's `result_large_err` fires at 128 bytes; a user's handler returning
        // `Result<Value, HttpError>` must pass it with the default threshold.
        assert_eq!(
            std::mem::size_of::<HttpError>(),
            std::mem::size_of::<usize>()
        );
        let err = HTTP_404("gone").with_data(json!([1]));
        assert_eq!((err.status(), err.message()), (404, "gone"));
        assert_eq!(err.data(), &json!([1]));
        assert_eq!(err.into_message(), "gone");
    }
}
