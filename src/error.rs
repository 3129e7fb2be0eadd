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
#[path = "error_tests.rs"]
mod tests;
