//! A `Set-Cookie` builder with Pycnic's `set_cookie` arguments and typed options, which refuses
//! any name, value or attribute that could break the header (RFC 6265 §4.1; Pycnic let CR and
//! LF through, which is header injection).

use crate::cookie::DELETED;
use crate::error::HttpError;
use crate::http::is_token_byte;
use std::fmt::{self, Write as _};

/// The date Pycnic's `delete_cookie` sends: the start of the epoch, in RFC 9110 §5.6.7's
/// IMF-fixdate.
const EPOCH: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

/// The `SameSite` attribute (RFC 6265bis §4.1.2.7). Browsers refuse `None` without `Secure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent only with requests from the same site.
    Strict,
    /// Also sent when the user follows a link from another site.
    Lax,
    /// Sent with cross-site requests too (needs `Secure`).
    None,
}

impl SameSite {
    /// The attribute's value as sent: `Strict`, `Lax` or `None`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a cookie was refused. Each names the cookie, never its value (it may be a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CookieError {
    /// The name is empty or not an RFC 9110 §5.6.2 token (RFC 6265 §4.1.1 `cookie-name`).
    InvalidName(String),
    /// The value holds CR, LF, NUL or another control byte.
    InvalidValue {
        /// The cookie's name.
        name: String,
    },
    /// An attribute (`Expires`, `Domain`, `Path` or a flag) holds `;` or a control byte,
    /// or a flag is empty.
    InvalidAttribute {
        /// The cookie's name.
        name: String,
        /// The attribute refused.
        attribute: &'static str,
    },
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieError::InvalidName(name) => write!(f, "invalid cookie name {name:?}"),
            CookieError::InvalidValue { name } => {
                write!(
                    f,
                    "invalid value for cookie {name:?}: control bytes are not allowed"
                )
            }
            CookieError::InvalidAttribute { name, attribute } => write!(
                f,
                "invalid {attribute} attribute for cookie {name:?}: \
                 it must be non-empty text without ';' or control bytes"
            ),
        }
    }
}

impl std::error::Error for CookieError {}

/// A cookie refused at request time is the programmer's error: a 500 that names it.
impl From<CookieError> for HttpError {
    fn from(err: CookieError) -> HttpError {
        HttpError::internal(err.to_string())
    }
}

/// One `Set-Cookie` header: Pycnic's `set_cookie(key, value, expires="", path="/",
/// domain="", flags=[])`, plus typed `Max-Age`, `Secure`, `HttpOnly` and `SameSite`.
///
/// Rendered canonically (RFC 6265 §4.1.1):
/// `name=value; Expires=…; Domain=…; Path=/; Max-Age=N; Secure; HttpOnly; SameSite=Lax;
/// flag…`, leaving out an empty `Expires`, `Domain` or `Path` and any unset option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    expires: String,
    path: String,
    domain: String,
    max_age: Option<i64>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
    flags: Vec<String>,
}

impl Cookie {
    /// A cookie with Pycnic's defaults (`Path=/`). Like Pycnic, every `;` is removed from the
    /// value; anything else that could break the header is refused later by `validate`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Cookie {
        let mut value = value.into();
        value.retain(|c| c != ';');
        Cookie {
            name: name.into(),
            value,
            expires: String::new(),
            path: "/".to_string(),
            domain: String::new(),
            max_age: None,
            secure: false,
            http_only: false,
            same_site: None,
            flags: Vec::new(),
        }
    }

    /// Pycnic's `delete_cookie(key)`: value `DELETED`, expired at the epoch, `Path=/`, plus
    /// `Max-Age=0`, which RFC 6265 §5.3 step 3 prefers over `Expires`.
    pub fn deletion(name: impl Into<String>) -> Cookie {
        Cookie::new(name, DELETED).expires(EPOCH).max_age(0)
    }

    /// Pycnic's free-form `expires` string, sent as given (an IMF-fixdate is expected).
    pub fn expires(mut self, expires: impl Into<String>) -> Cookie {
        self.expires = expires.into();
        self
    }

    /// `Path` (default `/`, Pycnic's); an empty path is left out.
    pub fn path(mut self, path: impl Into<String>) -> Cookie {
        self.path = path.into();
        self
    }

    /// `Domain` (default empty: left out, so the cookie is host-only).
    pub fn domain(mut self, domain: impl Into<String>) -> Cookie {
        self.domain = domain.into();
        self
    }

    /// `Max-Age=seconds`: how long the browser keeps the cookie (0 or less: drop it now).
    pub fn max_age(mut self, seconds: i64) -> Cookie {
        self.max_age = Some(seconds);
        self
    }

    /// `Secure`: sent over HTTPS only.
    pub fn secure(mut self) -> Cookie {
        self.secure = true;
        self
    }

    /// `HttpOnly`: not readable by the page's scripts.
    pub fn http_only(mut self) -> Cookie {
        self.http_only = true;
        self
    }

    /// `SameSite=…`: when the browser sends the cookie with cross-site requests.
    pub fn same_site(mut self, same_site: SameSite) -> Cookie {
        self.same_site = Some(same_site);
        self
    }

    /// One of Pycnic's free `flags`, appended after the typed attributes, in order.
    pub fn flag(mut self, flag: impl Into<String>) -> Cookie {
        self.flags.push(flag.into());
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cookie's value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The `Max-Age` set, if any.
    pub fn max_age_seconds(&self) -> Option<i64> {
        self.max_age
    }

    /// The same cookie with another value, taken as is (a sealed token has no `;`).
    pub(crate) fn with_value(mut self, value: String) -> Cookie {
        self.value = value;
        self
    }

    /// Refuses what could split or corrupt the header: a name that is not a token, control
    /// bytes (CR and LF above all) anywhere, `;` in an attribute, an empty flag.
    pub fn validate(&self) -> Result<(), CookieError> {
        if self.name.is_empty() || !self.name.bytes().all(is_token_byte) {
            return Err(CookieError::InvalidName(self.name.clone()));
        }
        if self.value.bytes().any(is_control_byte) {
            return Err(CookieError::InvalidValue {
                name: self.name.clone(),
            });
        }
        let attributes = [
            ("Expires", self.expires.as_str()),
            ("Domain", self.domain.as_str()),
            ("Path", self.path.as_str()),
        ];
        let flags = self.flags.iter().map(|flag| ("flag", flag.as_str()));
        for (attribute, text) in attributes.into_iter().chain(flags) {
            let empty_flag = attribute == "flag" && text.is_empty();
            if empty_flag || text.bytes().any(|b| b == b';' || is_control_byte(b)) {
                return Err(CookieError::InvalidAttribute {
                    name: self.name.clone(),
                    attribute,
                });
            }
        }
        Ok(())
    }

    /// The `Set-Cookie` header value, after `validate`: built in one `String` sized once.
    pub fn to_header_value(&self) -> Result<String, CookieError> {
        self.validate()?;
        let texts = [
            ("Expires", &self.expires),
            ("Domain", &self.domain),
            ("Path", &self.path),
        ];
        // "; Max-Age=" and 20 digits, "; Secure", "; HttpOnly", "; SameSite=Strict".
        let fixed = 30 + 8 + 10 + 17;
        let capacity = self.name.len()
            + 1
            + self.value.len()
            + texts
                .iter()
                .map(|(a, t)| 3 + a.len() + t.len())
                .sum::<usize>()
            + self.flags.iter().map(|flag| 2 + flag.len()).sum::<usize>()
            + fixed;
        let mut out = String::with_capacity(capacity);
        out.push_str(&self.name);
        out.push('=');
        out.push_str(&self.value);
        for (attribute, text) in texts {
            if !text.is_empty() {
                for piece in ["; ", attribute, "=", text] {
                    out.push_str(piece);
                }
            }
        }
        if let Some(seconds) = self.max_age {
            // Writing to a String cannot fail.
            let _ = write!(out, "; Max-Age={seconds}");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if let Some(same_site) = self.same_site {
            out.push_str("; SameSite=");
            out.push_str(same_site.as_str());
        }
        for flag in &self.flags {
            out.push_str("; ");
            out.push_str(flag);
        }
        Ok(out)
    }
}

/// RFC 5234 `CTL`: 0x00–0x1f and DEL. Tab is one too: a cookie never needs it.
fn is_control_byte(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

#[cfg(test)]
#[path = "set_cookie_tests.rs"]
mod tests;
