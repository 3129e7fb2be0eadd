//! A cookie jar, as a browser keeps one for a single site: `Set-Cookie` answers go in, a
//! `Cookie` header for the next request comes out. It follows deletion (`Max-Age=0`, a past
//! `Expires`), `Path` (RFC 6265 §5.1.4) and expiry, and `Secure` (sent over HTTPS only).
//! Domains are kept but not matched: a jar is for one app under test. The file form is curl's
//! Netscape cookie file, so `curl -b FILE -c FILE` and `request --cookie-jar FILE` share it.
//! The test client (`testing`) and `request --cookie-jar` use the same rules.

use std::fmt::Write as _;

/// One stored cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JarCookie {
    /// The cookie's name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// The domain it came with (or the host), kept for the file.
    pub domain: String,
    /// The path it is sent under.
    pub path: String,
    /// Sent over HTTPS only.
    pub secure: bool,
    /// Not for scripts (kept for the file: `#HttpOnly_`).
    pub http_only: bool,
    /// Expiry in seconds since the epoch; `None` for a session cookie.
    pub expires: Option<u64>,
}

/// The cookies of one site.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<JarCookie>,
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// The cookies still alive at `now`, in the order they were stored.
    pub fn cookies(&self, now: u64) -> impl Iterator<Item = &JarCookie> {
        self.cookies
            .iter()
            .filter(move |c| c.expires.is_none_or(|e| e > now))
    }

    /// The value of the live cookie `name`, whatever its path.
    pub fn get(&self, name: &str, now: u64) -> Option<&str> {
        self.cookies(now)
            .find(|c| c.name == name)
            .map(|c| c.value.as_str())
    }

    /// Removes every cookie.
    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    /// Stores one `Set-Cookie` value received for a request to `request_path`: it replaces the
    /// cookie of the same name and path, and one that is already expired deletes it. A value
    /// without `name=` is ignored (RFC 6265 §5.2).
    pub fn store(&mut self, set_cookie: &str, host: &str, request_path: &str, now: u64) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        let mut cookie = JarCookie {
            name: name.to_string(),
            value: value.trim().to_string(),
            domain: host.to_string(),
            path: default_path(request_path),
            secure: false,
            http_only: false,
            expires: None,
        };
        let mut max_age: Option<i64> = None;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let val = val.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "path" if val.starts_with('/') => cookie.path = val.to_string(),
                "domain" if !val.is_empty() => {
                    cookie.domain = val.trim_start_matches('.').to_ascii_lowercase();
                }
                "secure" => cookie.secure = true,
                "httponly" => cookie.http_only = true,
                "max-age" => max_age = val.parse().ok().or(max_age),
                "expires" if max_age.is_none() => {
                    if let Some(at) = parse_http_date(val) {
                        cookie.expires = Some(at);
                    }
                }
                _ => {}
            }
        }
        // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
        if let Some(seconds) = max_age {
            cookie.expires = Some(match u64::try_from(seconds) {
                Ok(s) if s > 0 => now.saturating_add(s),
                _ => 0,
            });
        }
        self.cookies
            .retain(|c| !(c.name == cookie.name && c.path == cookie.path));
        if cookie.expires.is_none_or(|e| e > now) {
            self.cookies.push(cookie);
        }
    }

    /// The `Cookie` header for a request to `path` (`None` when no cookie applies): longer
    /// paths first (RFC 6265 §5.4), `Secure` ones only when `https`.
    pub fn header_for(&self, path: &str, https: bool, now: u64) -> Option<String> {
        let mut matching: Vec<&JarCookie> = self
            .cookies(now)
            .filter(|c| path_matches(&c.path, path) && (https || !c.secure))
            .collect();
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let mut header = String::new();
        for cookie in matching {
            if !header.is_empty() {
                header.push_str("; ");
            }
            let _ = write!(header, "{}={}", cookie.name, cookie.value);
        }
        (!header.is_empty()).then_some(header)
    }

    /// Reads a Netscape cookie file (curl's `-c`): tab-separated domain, subdomains flag, path,
    /// secure flag, expiry (0: a session cookie), name, value; `#HttpOnly_` before the domain
    /// marks HttpOnly; other `#` lines and lines that are not seven fields are skipped.
    pub fn from_netscape(text: &str) -> CookieJar {
        let mut jar = CookieJar::new();
        for line in text.lines() {
            let (http_only, line) = match line.strip_prefix("#HttpOnly_") {
                Some(rest) => (true, rest),
                None if line.starts_with('#') => continue,
                None => (false, line),
            };
            let fields: Vec<&str> = line.split('\t').collect();
            let [domain, _subdomains, path, secure, expires, name, value] = fields[..] else {
                continue;
            };
            let expires = expires.trim().parse::<u64>().unwrap_or(0);
            jar.cookies.push(JarCookie {
                name: name.to_string(),
                value: value.to_string(),
                domain: domain.trim_start_matches('.').to_string(),
                path: path.to_string(),
                secure: secure.eq_ignore_ascii_case("TRUE"),
                http_only,
                expires: (expires != 0).then_some(expires),
            });
        }
        jar
    }

    /// The jar as a Netscape cookie file, live cookies only.
    pub fn to_netscape(&self, now: u64) -> String {
        let mut out = String::from("# Netscape HTTP Cookie File\n# Written by pycnic.\n\n");
        for c in self.cookies(now) {
            let _ = writeln!(
                out,
                "{}{}\tFALSE\t{}\t{}\t{}\t{}\t{}",
                if c.http_only { "#HttpOnly_" } else { "" },
                c.domain,
                c.path,
                if c.secure { "TRUE" } else { "FALSE" },
                c.expires.unwrap_or(0),
                c.name,
                c.value
            );
        }
        out
    }
}

impl CookieJar {
    /// Reads the jar file at `path`; a file that does not exist is an empty jar.
    pub fn load(path: &std::path::Path) -> std::io::Result<CookieJar> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(CookieJar::from_netscape(&text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(CookieJar::new()),
            Err(err) => Err(err),
        }
    }

    /// Writes the jar's live cookies to `path`, created private (0600) when new.
    pub fn save(&self, path: &std::path::Path, now: u64) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(self.to_netscape(now).as_bytes())
    }
}

/// RFC 6265 §5.1.4: the directory of the request path, `/` when there is none.
fn default_path(request_path: &str) -> String {
    let path = request_path.split('?').next().unwrap_or("/");
    match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(last) => path.get(..last).unwrap_or("/").to_string(),
    }
}

/// RFC 6265 §5.1.4: `cookie_path` is `path`, or a prefix of it ending at a `/`.
fn path_matches(cookie_path: &str, path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// Seconds since the epoch of an IMF-fixdate, `Thu, 01 Jan 1970 00:00:00 GMT` (also with `-`
/// between the date's parts, as some servers write it); `None` for another form.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let rest = text.trim().split_once(", ").map_or(text.trim(), |(_, r)| r);
    let rest = rest.replace('-', " ");
    let mut parts = rest.split_whitespace();
    let day: u64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| month.eq_ignore_ascii_case(m))? as u64
        + 1;
    let year: u64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|n| n.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a date (Howard Hinnant's `days_from_civil`), for years from 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
#[path = "cookie_jar_tests.rs"]
mod tests;
