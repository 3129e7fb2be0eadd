//! Where a request comes from: cross-origin protection and credentialed CORS, decided by
//! `App::handle` before routing, so every transport (CGI, FastCGI, the dev server) gets it.
//!
//! **The model.** An [`OriginPolicy`] is settled once per process from the app's builder
//! methods and the environment (`PYCNIC_TRUSTED_ORIGINS`, `PYCNIC_CORS_ORIGINS`,
//! `PYCNIC_CROSS_ORIGIN_EXEMPT`, `PYCNIC_CORS_HEADERS`, `PYCNIC_CROSS_ORIGIN_PROTECTION`).
//! For each request it answers two questions, with Go 1.25's `CrossOriginProtection` rules:
//! [`OriginPolicy::check`] (may this request change anything?) and
//! [`OriginPolicy::cors_origin`] (may this browser origin read the answer, with cookies?).
//!
//! | request | verdict |
//! |---|---|
//! | GET, HEAD, OPTIONS | pass |
//! | path in the exempt list (exact match, never a prefix) | pass |
//! | `Origin` is trusted or CORS-listed (exact match) | pass |
//! | `Sec-Fetch-Site: same-origin` or `none` | pass |
//! | `Sec-Fetch-Site` any other value (`same-site`, `cross-site`) | 403 |
//! | no `Sec-Fetch-Site`, `Origin` equals the request's own origin | pass |
//! | no `Sec-Fetch-Site`, `Origin` present and different (or `null`) | 403 |
//! | neither header (curl, servers, old clients) | pass |
//!
//! The request's own origin is `http`/`https` (from `HTTPS` or `REQUEST_SCHEME`) plus
//! `HTTP_HOST` (with `SERVER_PORT` when `HTTP_HOST` carries no port), default ports dropped. Origins are compared as lower-case
//! `scheme://host[:port]`; the lists accept nothing else (no path, no `*`).

use std::fmt;

use crate::environ::Environ;
use crate::http::HeaderText;
use crate::request::Request;
use crate::response::HttpResponse;

/// How long a browser may cache a preflight answer, by default (seconds).
pub const DEFAULT_MAX_AGE: u64 = 600;

/// The settings as given in code; the environment adds to them when the policy is settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginConfig {
    /// Cross-origin protection on (the default) or off.
    pub protect: bool,
    /// Origins whose requests pass whatever `Sec-Fetch-Site` says.
    pub trusted: Vec<String>,
    /// Origins that may call the API with credentials (CORS); trusted as well.
    pub cors: Vec<String>,
    /// Paths (exact) that skip the protection.
    pub exempt: Vec<String>,
    /// Request headers a CORS preflight may ask for (lower case); `content-type` by default.
    pub cors_headers: Vec<String>,
    /// `Access-Control-Max-Age` of a preflight answer.
    pub max_age: u64,
}

impl Default for OriginConfig {
    fn default() -> OriginConfig {
        OriginConfig {
            protect: true,
            trusted: Vec::new(),
            cors: Vec::new(),
            exempt: Vec::new(),
            cors_headers: vec!["content-type".into()],
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// An origin in a list that is not `scheme://host[:port]`, or a setting that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginError(pub String);

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OriginError {}

/// `scheme://host[:port]` in lower case with the scheme's default port dropped, or an error
/// that says what is accepted.
pub fn normalize(origin: &str) -> Result<String, OriginError> {
    let refused = || {
        OriginError(format!(
            "{origin:?} is not an origin: expected scheme://host[:port], as a browser sends it \
             (no path, no wildcard)"
        ))
    };
    let text = origin.trim().to_ascii_lowercase();
    let (scheme, rest) = text.split_once("://").ok_or_else(refused)?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let host_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    if !scheme_ok || !host_ok {
        return Err(refused());
    }
    Ok(format!("{scheme}://{}", without_default_port(scheme, rest)))
}

fn without_default_port<'a>(scheme: &str, host: &'a str) -> &'a str {
    let default = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return host,
    };
    host.strip_suffix(default).unwrap_or(host)
}

/// Whether the `Origin` header `origin` names the request's own origin: `https` (HTTPS or
/// REQUEST_SCHEME) or `http`, the host of `HTTP_HOST`, and its port, or `SERVER_PORT` when
/// `HTTP_HOST` has none (Debian's `fastcgi_params` send nginx's `$host`, which drops the
/// port); default ports are dropped on both sides. No allocation.
fn is_own_origin(origin: &str, https: bool, host: Option<&str>, server_port: Option<&str>) -> bool {
    let Some(host) = host.map(str::trim).filter(|h| !h.is_empty()) else {
        return false;
    };
    let scheme = if https { "https" } else { "http" };
    let Some(rest) = origin
        .get(..scheme.len())
        .filter(|s| s.eq_ignore_ascii_case(scheme))
        .and_then(|_| origin.get(scheme.len()..))
        .and_then(|r| r.strip_prefix("://"))
    else {
        return false;
    };
    let rest = without_default_port(scheme, rest);
    // A port is what follows the last ':' unless that is inside an IPv6 literal's brackets.
    let has_port = host.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']'));
    if has_port {
        return rest.eq_ignore_ascii_case(without_default_port(scheme, host));
    }
    let Some((origin_host, port)) = rest.rsplit_once(':').filter(|(_, p)| !p.contains(']')) else {
        // The origin has the default port: the request's must be it too (or unknown).
        let default = if https { "443" } else { "80" };
        return rest.eq_ignore_ascii_case(host) && server_port.is_none_or(|p| p.trim() == default);
    };
    origin_host.eq_ignore_ascii_case(host) && server_port.is_some_and(|p| p.trim() == port)
}

/// A request refused by the protection: the `Origin` it came from (or what said so).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// What the log names: the origin, or the `Sec-Fetch-Site` value without one.
    pub from: String,
}

/// The settled policy one app applies to every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPolicy {
    config: OriginConfig,
}

fn list(name: &str) -> Vec<String> {
    std::env::var(name)
        .ok()
        .map(|text| {
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl OriginPolicy {
    /// The policy from `config` alone (lists normalised; an origin that is not one is an
    /// error).
    pub fn new(mut config: OriginConfig) -> Result<OriginPolicy, OriginError> {
        for origins in [&mut config.trusted, &mut config.cors] {
            *origins = origins
                .iter()
                .map(|o| normalize(o))
                .collect::<Result<_, _>>()?;
        }
        for path in &config.exempt {
            if !path.starts_with('/') {
                return Err(OriginError(format!(
                    "exempt path {path:?} must start with / (matched exactly)"
                )));
            }
        }
        for header in &mut config.cors_headers {
            if !crate::http::is_valid_header_name(header) {
                return Err(OriginError(format!("{header:?} is not a header name")));
            }
            *header = header.to_ascii_lowercase();
        }
        Ok(OriginPolicy { config })
    }

    /// `config` plus the environment's lists; `PYCNIC_CROSS_ORIGIN_PROTECTION=0` turns the
    /// protection off (logged as a warning).
    pub fn from_env(mut config: OriginConfig) -> Result<OriginPolicy, OriginError> {
        config.trusted.extend(list("PYCNIC_TRUSTED_ORIGINS"));
        config.cors.extend(list("PYCNIC_CORS_ORIGINS"));
        config.exempt.extend(list("PYCNIC_CROSS_ORIGIN_EXEMPT"));
        let headers = list("PYCNIC_CORS_HEADERS");
        if !headers.is_empty() {
            config.cors_headers = headers;
        }
        match std::env::var("PYCNIC_CROSS_ORIGIN_PROTECTION")
            .ok()
            .as_deref()
            .map(str::trim)
        {
            None | Some("" | "1" | "on" | "true" | "yes") => {}
            Some("0" | "off" | "false" | "no") => config.protect = false,
            Some(other) => {
                return Err(OriginError(format!(
                    "PYCNIC_CROSS_ORIGIN_PROTECTION={other:?}: expected 1 or 0"
                )));
            }
        }
        let policy = OriginPolicy::new(config)?;
        if !policy.config.protect {
            log::warn!(
                "cross-origin protection is off: any web page can make a logged-in user's \
                 browser POST to this app"
            );
        }
        Ok(policy)
    }

    /// The settings in force.
    pub fn config(&self) -> &OriginConfig {
        &self.config
    }

    fn trusts(&self, origin: &str) -> bool {
        let listed = |list: &[String]| list.iter().any(|o| o.eq_ignore_ascii_case(origin));
        listed(&self.config.trusted) || listed(&self.config.cors)
    }

    /// Cross-origin protection: `Err` when the request must get a 403.
    pub fn check(&self, request: &Request) -> Result<(), Refused> {
        let method = request.method();
        if !self.config.protect || matches!(method, "GET" | "HEAD" | "OPTIONS") {
            return Ok(());
        }
        let (path, environ) = (request.path(), request.environ());
        let origin = environ.get("HTTP_ORIGIN");
        let exempt = || {
            self.config.exempt.iter().any(|p| p == path)
                || origin.is_some_and(|o| self.trusts(o.trim()))
        };
        if let Some(site) = environ.get("HTTP_SEC_FETCH_SITE") {
            let site = site.trim();
            if site.eq_ignore_ascii_case("same-origin")
                || site.eq_ignore_ascii_case("none")
                || exempt()
            {
                return Ok(());
            }
            let from = origin.unwrap_or(site);
            return Err(Refused {
                from: from.to_string(),
            });
        }
        let Some(origin) = origin.map(str::trim) else {
            return Ok(());
        };
        let (host, port) = (environ.get("HTTP_HOST"), environ.get("SERVER_PORT"));
        if is_own_origin(origin, request.is_https(), host, port) || exempt() {
            return Ok(());
        }
        Err(Refused {
            from: origin.to_string(),
        })
    }

    /// The request's `Origin` when it is on the CORS list (the answer then carries CORS
    /// headers); `None` otherwise, and always when the list is empty.
    pub fn cors_origin<'e>(&self, environ: &'e Environ) -> Option<&'e str> {
        if self.config.cors.is_empty() {
            return None;
        }
        let origin = environ.get("HTTP_ORIGIN")?.trim();
        self.config
            .cors
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
            .then_some(origin)
    }

    /// Whether the request is a CORS preflight (OPTIONS with `Access-Control-Request-Method`).
    pub fn is_preflight(method: &str, environ: &Environ) -> bool {
        method == "OPTIONS" && environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD").is_some()
    }

    /// The preflight answer for a listed `origin` on a route that allows `methods`: 204 with
    /// the origin echoed, credentials, the methods, the requested headers that are allowed,
    /// the max age and `Vary: Origin`.
    pub fn preflight(&self, origin: &str, methods: &str, environ: &Environ) -> HttpResponse {
        let requested = environ
            .get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
            .unwrap_or("");
        let allowed: Vec<&str> = requested
            .split(',')
            .map(str::trim)
            .filter(|h| {
                !h.is_empty()
                    && self
                        .config
                        .cors_headers
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(h))
            })
            .collect();
        let mut answer = HttpResponse {
            status: 204,
            headers: Vec::with_capacity(7),
            body: crate::response::Body::Full(Vec::new()),
        };
        self.decorate(&mut answer, origin);
        let headers = &mut answer.headers;
        headers.push((
            HeaderText::from_static("Access-Control-Allow-Methods"),
            methods.to_string().into(),
        ));
        if !allowed.is_empty() {
            headers.push((
                HeaderText::from_static("Access-Control-Allow-Headers"),
                allowed.join(", ").into(),
            ));
        }
        headers.push((
            HeaderText::from_static("Access-Control-Max-Age"),
            HeaderText::number(self.config.max_age),
        ));
        answer
    }

    /// Adds the CORS headers for a listed `origin` to an answer: the exact origin (never `*`),
    /// credentials, and `Vary: Origin`.
    pub fn decorate(&self, answer: &mut HttpResponse, origin: &str) {
        answer.headers.push((
            HeaderText::from_static("Access-Control-Allow-Origin"),
            origin.to_string().into(),
        ));
        answer.headers.push((
            HeaderText::from_static("Access-Control-Allow-Credentials"),
            HeaderText::from_static("true"),
        ));
        answer.headers.push((
            HeaderText::from_static("Vary"),
            HeaderText::from_static("Origin"),
        ));
    }
}

#[cfg(test)]
#[path = "origin_tests.rs"]
mod tests;
