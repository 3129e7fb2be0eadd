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
mod tests {
    use super::*;
    use crate::cookie::Cookies;
    use proptest::prelude::*;

    #[test]
    fn set_cookie_output_is_canonical() {
        let cases = [
            (
                "defaults: path /",
                Cookie::new("sid", "1234567890abcdefg"),
                "sid=1234567890abcdefg; Path=/",
            ),
            (
                "semicolons removed from value",
                Cookie::new("a", "x;y;"),
                "a=xy; Path=/",
            ),
            ("empty value", Cookie::new("a", ""), "a=; Path=/"),
            ("no path", Cookie::new("a", "1").path(""), "a=1"),
            (
                "other path",
                Cookie::new("a", "1").path("/api"),
                "a=1; Path=/api",
            ),
            (
                "expires",
                Cookie::new("a", "1").expires("Wed, 21 Oct 2015 07:28:00 GMT"),
                "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/",
            ),
            (
                "domain",
                Cookie::new("a", "1").domain("example.com"),
                "a=1; Domain=example.com; Path=/",
            ),
            (
                "max-age",
                Cookie::new("a", "1").max_age(3600),
                "a=1; Path=/; Max-Age=3600",
            ),
            (
                "negative max-age",
                Cookie::new("a", "1").max_age(-1),
                "a=1; Path=/; Max-Age=-1",
            ),
            (
                "secure",
                Cookie::new("a", "1").secure(),
                "a=1; Path=/; Secure",
            ),
            (
                "httponly",
                Cookie::new("a", "1").http_only(),
                "a=1; Path=/; HttpOnly",
            ),
            (
                "samesite strict",
                Cookie::new("a", "1").same_site(SameSite::Strict),
                "a=1; Path=/; SameSite=Strict",
            ),
            (
                "samesite lax",
                Cookie::new("a", "1").same_site(SameSite::Lax),
                "a=1; Path=/; SameSite=Lax",
            ),
            (
                "samesite none",
                Cookie::new("a", "1").same_site(SameSite::None),
                "a=1; Path=/; SameSite=None",
            ),
            (
                "flags in order",
                Cookie::new("a", "1").flag("Partitioned").flag("x=y"),
                "a=1; Path=/; Partitioned; x=y",
            ),
            (
                "everything, in canonical order whatever the call order",
                Cookie::new("a", "1")
                    .flag("Partitioned")
                    .same_site(SameSite::Lax)
                    .http_only()
                    .secure()
                    .max_age(60)
                    .path("/p")
                    .domain("d.example")
                    .expires("Thu, 01 Jan 2037 00:00:00 GMT"),
                "a=1; Expires=Thu, 01 Jan 2037 00:00:00 GMT; Domain=d.example; Path=/p; \
                 Max-Age=60; Secure; HttpOnly; SameSite=Lax; Partitioned",
            ),
            (
                "deletion",
                Cookie::deletion("session_id"),
                "session_id=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Max-Age=0",
            ),
            (
                "value may hold spaces and utf-8",
                Cookie::new("a", "b c é"),
                "a=b c é; Path=/",
            ),
        ];
        for (name, cookie, expected) in cases {
            assert_eq!(cookie.to_header_value().unwrap(), expected, "{name}");
        }
        let deleted = Cookie::deletion("sid");
        assert_eq!((deleted.name(), deleted.value()), ("sid", "DELETED"));
    }

    #[test]
    fn injection_attempts_are_refused() {
        let bad_name = |name: &str| CookieError::InvalidName(name.to_string());
        let bad_value = CookieError::InvalidValue { name: "a".into() };
        let bad = |attribute| CookieError::InvalidAttribute {
            name: "a".into(),
            attribute,
        };
        let cases = [
            ("empty name", Cookie::new("", "1"), bad_name("")),
            ("; in name", Cookie::new("a;b", "1"), bad_name("a;b")),
            ("= in name", Cookie::new("a=b", "1"), bad_name("a=b")),
            ("space in name", Cookie::new("a b", "1"), bad_name("a b")),
            (
                "CRLF in name",
                Cookie::new("a\r\nX: y", "1"),
                bad_name("a\r\nX: y"),
            ),
            ("NUL in name", Cookie::new("a\0", "1"), bad_name("a\0")),
            ("non-ascii name", Cookie::new("é", "1"), bad_name("é")),
            ("CR in value", Cookie::new("a", "1\rX"), bad_value.clone()),
            ("LF in value", Cookie::new("a", "1\nX"), bad_value.clone()),
            (
                "CRLF in value",
                Cookie::new("a", "1\r\nSet-Cookie: admin=1"),
                bad_value.clone(),
            ),
            ("NUL in value", Cookie::new("a", "1\0"), bad_value.clone()),
            ("tab in value", Cookie::new("a", "1\t2"), bad_value.clone()),
            ("DEL in value", Cookie::new("a", "1\x7f"), bad_value.clone()),
            (
                "CRLF in expires",
                Cookie::new("a", "1").expires("x\r\nY: z"),
                bad("Expires"),
            ),
            (
                "; in expires",
                Cookie::new("a", "1").expires("x; Domain=evil"),
                bad("Expires"),
            ),
            (
                "; in domain",
                Cookie::new("a", "1").domain("a;b"),
                bad("Domain"),
            ),
            (
                "LF in domain",
                Cookie::new("a", "1").domain("a\nb"),
                bad("Domain"),
            ),
            (
                "; in path",
                Cookie::new("a", "1").path("/; Secure"),
                bad("Path"),
            ),
            ("CR in path", Cookie::new("a", "1").path("/\r"), bad("Path")),
            (
                "NUL in path",
                Cookie::new("a", "1").path("/\0"),
                bad("Path"),
            ),
            (
                "CRLF in flag",
                Cookie::new("a", "1").flag("x\r\nY: z"),
                bad("flag"),
            ),
            (
                "; in flag",
                Cookie::new("a", "1").flag("Secure; x"),
                bad("flag"),
            ),
            (
                "control byte in flag",
                Cookie::new("a", "1").flag("\x1b[31m"),
                bad("flag"),
            ),
            ("empty flag", Cookie::new("a", "1").flag(""), bad("flag")),
            (
                "bad flag after a good one",
                Cookie::new("a", "1").flag("ok").flag("\n"),
                bad("flag"),
            ),
        ];
        for (case, cookie, expected) in cases {
            assert_eq!(cookie.validate(), Err(expected.clone()), "{case}");
            assert_eq!(cookie.to_header_value(), Err(expected), "{case}");
        }
    }

    #[test]
    fn refusals_become_a_500_naming_the_cookie_not_the_value() {
        let cases = [
            (
                CookieError::InvalidName("a b".into()),
                "invalid cookie name \"a b\"",
            ),
            (
                CookieError::InvalidValue { name: "sid".into() },
                "invalid value for cookie \"sid\": control bytes are not allowed",
            ),
            (
                CookieError::InvalidAttribute {
                    name: "sid".into(),
                    attribute: "Path",
                },
                "invalid Path attribute for cookie \"sid\": \
                 it must be non-empty text without ';' or control bytes",
            ),
        ];
        for (err, message) in cases {
            assert_eq!(err.to_string(), message, "{message}");
            let http: HttpError = err.into();
            assert_eq!((http.status(), http.message()), (500, message), "{message}");
        }
    }

    /// RFC 6265 §4.1.1 `cookie-octet`: what a strict server puts in a value.
    fn cookie_octet() -> impl Strategy<Value = char> {
        prop_oneof![
            Just(0x21u8),
            0x23u8..=0x2b,
            0x2du8..=0x3a,
            0x3cu8..=0x5b,
            0x5du8..=0x7e
        ]
        .prop_map(char::from)
    }

    proptest! {
        #[test]
        fn an_accepted_cookie_renders_no_control_bytes(
            name in prop_oneof!["[a-z]{1,5}", ".*"],
            value in prop_oneof!["[ -~]*", ".*"],
            path in prop_oneof!["[ -~]*", ".*"],
            flag in prop_oneof!["[ -~]*", ".*"],
            max_age in any::<i64>(),
        ) {
            let safe = |t: &str| !t.bytes().any(|b| b == b';' || is_control_byte(b));
            let acceptable = !name.is_empty()
                && name.bytes().all(is_token_byte)
                && !value.bytes().any(is_control_byte)
                && safe(&path)
                && safe(&flag)
                && !flag.is_empty();
            let cookie = Cookie::new(name, value).path(path).flag(flag).max_age(max_age);
            prop_assert_eq!(cookie.validate().is_ok(), acceptable);
            if let Ok(header) = cookie.to_header_value() {
                prop_assert!(!header.bytes().any(is_control_byte), "{:?}", header);
                let start = format!("{}={}", cookie.name(), cookie.value());
                prop_assert!(header.starts_with(&start), "{:?}", header);
            }
        }

        #[test]
        fn token_names_with_cookie_octet_values_round_trip(
            pairs in proptest::collection::vec(
                ("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}", proptest::collection::vec(cookie_octet(), 0..12)),
                1..6,
            )
        ) {
            let mut headers = Vec::new();
            for (name, value) in &pairs {
                let value: String = value.iter().collect();
                let header = Cookie::new(name.as_str(), value.as_str()).path("").to_header_value();
                let expected = format!("{name}={value}");
                prop_assert_eq!(header.as_deref(), Ok(expected.as_str()));
                headers.push(expected);
            }
            let cookies = Cookies::parse(headers.join("; ").as_bytes());
            for (name, _) in &pairs {
                // the last value wins, but a DELETED value is skipped, not stored
                let expected = pairs
                    .iter()
                    .rev()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.iter().collect::<String>())
                    .find(|v| !v.contains(DELETED));
                prop_assert_eq!(cookies.get(name).map(str::to_string), expected);
            }
        }
    }
}
