//! The app's access settings, as builder methods: cross-origin protection, trusted and
//! CORS-listed origins ([`crate::origin`]) and the app-wide login requirement
//! ([`crate::session::auth`]), and JSON only (415 for a body of another type). `App::handle`
//! applies them.

use super::App;
use crate::error::HttpError;
use crate::origin::OriginPolicy;
use crate::request::Request;
use crate::response::HttpResponse;

/// Whether a `Content-Type` is JSON: `application/json` or `application/*+json`, any
/// parameters (`; charset=utf-8`), any case (RFC 9110 §8.3.1).
pub(crate) fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype
                .len()
                .checked_sub(5)
                .and_then(|at| subtype.get(at..))
                .is_some_and(|tail| tail.eq_ignore_ascii_case("+json")))
}

impl App {
    /// Answers 415 (JSON) to a request with a body whose `Content-Type` is not JSON, instead
    /// of Pycnic's rule of reading any body as JSON; `PYCNIC_JSON_ONLY=1` does the same. With
    /// it, a form a browser can send from any page (`text/plain`, form encodings) never reaches
    /// a handler, and a cross-origin `fetch` with a JSON body needs a CORS preflight.
    pub fn json_only(mut self) -> App {
        self.json_only = true;
        self
    }

    /// The checks before routing: the origin policy (a 403), JSON only (a 415), and a CORS
    /// preflight from a listed origin to a route (answered here: 204). `Ok`: the request goes
    /// on, with the listed origin whose CORS headers its answer gets.
    pub(super) fn screen(&self, request: &mut Request) -> Result<Option<String>, HttpResponse> {
        let policy = self
            .origin_policy()
            .map_err(|err| self.error_response(err))?;
        if let Err(refused) = policy.check(request) {
            log::info!(
                "cross-origin {} {} from {} refused",
                request.method,
                request.path(),
                refused.from
            );
            return Err(self.error_response(HttpError::forbidden(
                "Cross-origin request refused: this origin may not change anything here",
            )));
        }
        let cors = policy.cors_origin(request.environ()).map(str::to_string);
        if let Some(refused) = self.refuse_non_json(request) {
            // A listed origin's page may read why (the CORS headers go on the 415 too).
            let mut answer = self.error_response(refused);
            if let Some(origin) = &cors {
                policy.decorate(&mut answer, origin);
            }
            return Err(answer);
        }
        if let Some(origin) = &cors
            && OriginPolicy::is_preflight(&request.method, request.environ())
            && let Some(found) = self.router.find(request.path())
        {
            let methods = found.route.allow_header();
            let answer = policy.preflight(origin, &methods, request.environ());
            request.recycle();
            return Err(answer);
        }
        Ok(cors)
    }

    /// Adds the CORS headers for a listed origin to an answer.
    pub(super) fn decorate(&self, answer: &mut HttpResponse, origin: &str) {
        if let Ok(policy) = self.origin_policy() {
            policy.decorate(answer, origin);
        }
    }

    /// The 415 for a body that is not JSON, when JSON only is on.
    pub(super) fn refuse_non_json(&self, request: &Request) -> Option<HttpError> {
        let on = *self.json_only_settled.get_or_init(|| {
            self.json_only
                || std::env::var("PYCNIC_JSON_ONLY")
                    .is_ok_and(|v| matches!(v.trim(), "1" | "on" | "true" | "yes"))
        });
        if !on || request.body().is_empty() {
            return None;
        }
        let content_type = request.environ().get("CONTENT_TYPE").unwrap_or("");
        if is_json_media_type(content_type) {
            return None;
        }
        Some(HttpError::new(
            415,
            "The request body must be JSON (Content-Type: application/json)",
        ))
    }

    /// Every route requires a logged-in user (a 401 otherwise) except handlers marked
    /// [`Handler::public`](crate::Handler::public), as Django's `LoginRequiredMiddleware`.
    pub fn login_required(mut self) -> App {
        self.login_required = true;
        self
    }

    /// Cross-origin protection (on by default): `false` lets any page make a logged-in user's
    /// browser POST here; logged as a warning. `PYCNIC_CROSS_ORIGIN_PROTECTION=0` does the same.
    pub fn cross_origin_protection(mut self, on: bool) -> App {
        self.origin_config.protect = on;
        self
    }

    /// Origins (`scheme://host[:port]`, compared exactly) whose requests pass the cross-origin
    /// protection, added to `PYCNIC_TRUSTED_ORIGINS`. An origin that is not one is refused
    /// when the first request settles the policy (a logged 500).
    pub fn trusted_origins<S: AsRef<str>>(mut self, origins: &[S]) -> App {
        let origins = origins.iter().map(|o| o.as_ref().to_string());
        self.origin_config.trusted.extend(origins);
        self
    }

    /// Origins that may call this app from a browser with its cookies (credentialed CORS),
    /// added to `PYCNIC_CORS_ORIGINS`; each is trusted by the protection as well.
    pub fn cors_origins<S: AsRef<str>>(mut self, origins: &[S]) -> App {
        let origins = origins.iter().map(|o| o.as_ref().to_string());
        self.origin_config.cors.extend(origins);
        self
    }

    /// Request headers a CORS preflight may ask for (instead of `content-type` alone; the
    /// environment's `PYCNIC_CORS_HEADERS` replaces these).
    pub fn cors_headers<S: AsRef<str>>(mut self, headers: &[S]) -> App {
        self.origin_config.cors_headers = headers.iter().map(|h| h.as_ref().to_string()).collect();
        self
    }

    /// A path that skips the cross-origin protection, matched exactly (never as a prefix),
    /// after `strip_path`; `PYCNIC_CROSS_ORIGIN_EXEMPT` adds more.
    pub fn cross_origin_exempt(mut self, path: &str) -> App {
        self.origin_config.exempt.push(path.to_string());
        self
    }

    /// The origin policy in force: the builder's settings plus the environment's, settled on
    /// first use; a setting that does not parse is logged and every request gets a 500.
    pub fn origin_policy(&self) -> Result<&OriginPolicy, HttpError> {
        self.origins
            .get_or_init(|| {
                OriginPolicy::from_env(self.origin_config.clone()).map_err(|err| {
                    log::error!("cross-origin settings: {err}");
                    HttpError::internal("Server misconfigured: cross-origin settings")
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::is_json_media_type;

    #[test]
    fn json_media_types_and_others() {
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
            " application/json ",
        ] {
            assert!(is_json_media_type(yes), "{yes}");
        }
        for no in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "text/json",
            "application/+jso",
            "json",
        ] {
            assert!(!is_json_media_type(no), "{no}");
        }
    }
}
