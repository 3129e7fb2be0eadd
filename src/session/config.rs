//! Session settings (store, idle and absolute expiry, cookie name and flags, store timeout),
//! read from the environment by default, and the per-process runtime that holds the key ring
//! (`KeyRing`: checked at start, reloadable) and opens the store once, lazily, the first time
//! a request needs it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::HttpError;
use crate::key_ring::KeyRing;
use crate::keys::Keys;
use crate::session::backend::{Backend, ServerBackend};
use crate::session::store::cookie::CookieStore;
use crate::session::store::{StoreSpec, location};
use crate::set_cookie::SameSite;

/// How sessions are kept: every setting has an environment variable and a default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// `PYCNIC_SESSION_STORE`: `cookie`, `sqlite:PATH`, `redis://HOST:PORT[/DB]` or
    /// `memcached://HOST:PORT`; default `sqlite:` + `sessions.sqlite3` in the app's private
    /// folder (`$STATE_DIRECTORY`, `/var/lib/pycnic-APP`, `~/.local/state/pycnic-APP`: see
    /// [`location`]).
    pub store: StoreSpec,
    /// `PYCNIC_SESSION_IDLE`: seconds without a request before a session ends (default 1800).
    pub idle: u64,
    /// `PYCNIC_SESSION_ABSOLUTE`: seconds after creation when a session ends whatever happens
    /// (default 43200).
    pub absolute: u64,
    /// `PYCNIC_SESSION_COOKIE`: the cookie's name (default `session`).
    pub cookie_name: String,
    /// `PYCNIC_SESSION_SECURE`: `1` always `Secure`, `0` never; unset: `Secure` when the
    /// request came over HTTPS.
    pub secure: Option<bool>,
    /// `PYCNIC_SESSION_SAMESITE`: `lax` (the default), `strict`, or `none` for a browser app on
    /// another site that calls this one with credentials (CORS); `none` is refused unless
    /// the cookie is always `Secure` (`PYCNIC_SESSION_SECURE=1` or the `__Host-` prefix).
    pub same_site: SameSite,
    /// `PYCNIC_SESSION_HOST_PREFIX=1`: the name gets the `__Host-` prefix and its rules
    /// (`Secure`, `Path=/`, no `Domain`).
    pub host_prefix: bool,
    /// `PYCNIC_AUTH_STORE`: with the `cookie` store, a server-side store (same syntax as
    /// `PYCNIC_SESSION_STORE`) for what a cookie cannot hold: per-user revocation and login
    /// throttle counts. Server-side session stores keep those themselves.
    pub auth_store: Option<StoreSpec>,
    /// `PYCNIC_LOGIN_MAX_FAILURES`: failed logins in a row that lock a username out (default 5).
    pub login_max_failures: u64,
    /// `PYCNIC_LOGIN_MAX_FAILURES_PER_IP`: failed logins from one client address that lock it
    /// out (default 50).
    pub login_max_failures_per_ip: u64,
    /// `PYCNIC_LOGIN_LOCKOUT`: seconds a lockout lasts after the last failure, and how long a
    /// failure is remembered (default 900).
    pub login_lockout: u64,
    /// `PYCNIC_SESSION_TIMEOUT_MS`: bound on connecting to the store and on each read or write
    /// (default 2000), so a store that is down gives a 503 quickly.
    pub timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        let path = location::default_path(&location::app_name());
        SessionConfig {
            store: StoreSpec::Sqlite(path.to_string_lossy().into_owned()),
            idle: 1800,
            absolute: 43200,
            cookie_name: "session".into(),
            secure: None,
            same_site: SameSite::Lax,
            host_prefix: false,
            timeout: Duration::from_millis(2000),
            auth_store: None,
            login_max_failures: 5,
            login_max_failures_per_ip: 50,
            login_lockout: 900,
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn seconds(name: &str, default: u64) -> Result<u64, String> {
    match env(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{name}={text:?} is not a positive whole number")),
    }
}

fn switch(name: &str) -> Result<Option<bool>, String> {
    match env(name).as_deref().map(str::trim) {
        None => Ok(None),
        Some("1" | "true" | "on" | "yes") => Ok(Some(true)),
        Some("0" | "false" | "off" | "no") => Ok(Some(false)),
        Some(other) => Err(format!("{name}={other:?}: expected 1 or 0")),
    }
}

impl SessionConfig {
    /// The settings from the `PYCNIC_SESSION_*` environment variables.
    pub fn from_env() -> Result<SessionConfig, String> {
        let defaults = SessionConfig::default();
        let store = match env("PYCNIC_SESSION_STORE") {
            Some(spec) => StoreSpec::parse(&spec)?,
            None => defaults.store,
        };
        let cookie_name = env("PYCNIC_SESSION_COOKIE").unwrap_or(defaults.cookie_name);
        if !cookie_name.bytes().all(crate::http::is_token_byte) {
            return Err(format!(
                "PYCNIC_SESSION_COOKIE={cookie_name:?} is not a token"
            ));
        }
        let same_site = match env("PYCNIC_SESSION_SAMESITE").map(|v| v.trim().to_ascii_lowercase())
        {
            None => defaults.same_site,
            Some(v) if v == "lax" => SameSite::Lax,
            Some(v) if v == "strict" => SameSite::Strict,
            Some(v) if v == "none" => SameSite::None,
            Some(other) => {
                return Err(format!(
                    "PYCNIC_SESSION_SAMESITE={other:?}: expected lax, strict or none"
                ));
            }
        };
        SessionConfig {
            store,
            idle: seconds("PYCNIC_SESSION_IDLE", defaults.idle)?,
            absolute: seconds("PYCNIC_SESSION_ABSOLUTE", defaults.absolute)?,
            cookie_name,
            secure: switch("PYCNIC_SESSION_SECURE")?,
            host_prefix: switch("PYCNIC_SESSION_HOST_PREFIX")?.unwrap_or(false),
            timeout: Duration::from_millis(seconds(
                "PYCNIC_SESSION_TIMEOUT_MS",
                defaults.timeout.as_millis() as u64,
            )?),
            same_site,
            auth_store: env("PYCNIC_AUTH_STORE")
                .map(|spec| StoreSpec::parse(&spec))
                .transpose()?,
            login_max_failures: seconds("PYCNIC_LOGIN_MAX_FAILURES", defaults.login_max_failures)?,
            login_max_failures_per_ip: seconds(
                "PYCNIC_LOGIN_MAX_FAILURES_PER_IP",
                defaults.login_max_failures_per_ip,
            )?,
            login_lockout: seconds("PYCNIC_LOGIN_LOCKOUT", defaults.login_lockout)?,
        }
        .validate()
    }

    /// The settings when they hold together: `SameSite=None` needs a cookie that is always
    /// `Secure` (browsers drop it otherwise).
    pub fn validate(self) -> Result<SessionConfig, String> {
        let always_secure = self.host_prefix || self.secure == Some(true);
        if self.same_site == SameSite::None && !always_secure {
            return Err("PYCNIC_SESSION_SAMESITE=none needs a Secure cookie: set \
                        PYCNIC_SESSION_SECURE=1 (or PYCNIC_SESSION_HOST_PREFIX=1) and serve HTTPS"
                .into());
        }
        Ok(self)
    }

    /// The cookie name as sent (with `__Host-` when asked).
    pub fn full_cookie_name(&self) -> String {
        if self.host_prefix {
            format!("__Host-{}", self.cookie_name)
        } else {
            self.cookie_name.clone()
        }
    }

    /// Seconds between two writes that only refresh the idle timeout.
    pub fn touch_interval(&self) -> u64 {
        (self.idle / 10).max(1)
    }
}

/// What an App keeps for sessions and secure cookies, shared by its requests: the settings, the
/// keys and the store, each made once on first need (never for an app that does not use them).
#[derive(Default)]
pub struct Runtime {
    config: OnceLock<Result<SessionConfig, String>>,
    keys: Arc<KeyRing>,
    store: OnceLock<Result<Box<dyn Backend>, HttpError>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config.get())
            .finish_non_exhaustive()
    }
}

fn misconfigured(what: &str, why: &str) -> HttpError {
    log::error!("{what}: {why}");
    HttpError::internal(format!("Server misconfigured: {what}"))
}

impl Runtime {
    /// A runtime with settings and keys given in code (`None`: from the environment).
    pub fn new(config: Option<SessionConfig>, keys: Option<Keys>) -> Arc<Runtime> {
        let runtime = Runtime {
            keys: Arc::new(KeyRing::new(keys)),
            ..Runtime::default()
        };
        if let Some(config) = config {
            let _ = runtime.config.set(config.validate());
        }
        Arc::new(runtime)
    }

    /// The settings, or a logged error and a 500.
    pub fn config(&self) -> Result<&SessionConfig, HttpError> {
        self.config
            .get_or_init(SessionConfig::from_env)
            .as_ref()
            .map_err(|why| misconfigured("session settings", why))
    }

    /// The key ring, or a logged error and a 500 (never a built-in key).
    pub fn keys(&self) -> Result<&Keys, HttpError> {
        self.keys
            .get()
            .map_err(|why| misconfigured("secret key", &why.to_string()))
    }

    /// Loads and checks the settings and the key ring now, as a start does (a key file
    /// readable by others is warned about); `Ok` when no key file is configured.
    pub fn check(&self) -> Result<(), String> {
        self.config
            .get_or_init(SessionConfig::from_env)
            .as_ref()
            .map_err(|why| format!("session settings: {why}"))?;
        // The store is not opened here: an app that never uses sessions must not make a
        // store folder at every start. Its location is checked when a request first opens it.
        self.keys.check().map_err(|err| err.to_string())
    }

    /// Re-reads the key file: `Ok(true)` when the ring changed. On an error the ring in use
    /// stays. The outcome is logged.
    pub fn reload_keys(&self) -> Result<bool, String> {
        let outcome = self.keys.reload().map_err(|err| err.to_string());
        match &outcome {
            Ok(true) => log::info!("secret keys reloaded: the new ring is in use"),
            Ok(false) => log::info!("secret keys reloaded: unchanged"),
            Err(err) => log::error!("secret keys not reloaded, the old ones stay in use: {err}"),
        }
        outcome
    }

    /// The session store's breaker and recent failures; `None` until a request has opened it,
    /// and for the cookie store.
    pub fn store_health(&self) -> Option<crate::session::store::StoreHealth> {
        self.store.get()?.as_ref().ok()?.health()
    }

    /// The session store, opened on first need (its connections are made later still), or a
    /// logged error and a 500.
    pub fn store(&self) -> Result<&dyn Backend, HttpError> {
        self.store
            .get_or_init(|| {
                let config = self.config()?;
                let server = config
                    .store
                    .open(config.timeout)
                    .map_err(|why| misconfigured("session store", &why.to_string()))?;
                // Sessions are bound to their app: in a shared store by the id's hash, in the
                // cookie store by the token's authenticated name.
                let app = location::app_name();
                Ok(match server {
                    Some(store) => Box::new(ServerBackend::for_app(store, &app)),
                    None => {
                        self.keys()?;
                        let records = match &config.auth_store {
                            Some(spec) => spec
                                .open(config.timeout)
                                .map_err(|why| misconfigured("auth store", &why.to_string()))?,
                            None => None,
                        };
                        Box::new(CookieStore::with_ring(
                            Arc::clone(&self.keys),
                            format!("{app}/{}", config.full_cookie_name()),
                            records,
                        ))
                    }
                })
            })
            .as_ref()
            .map(|backend| backend.as_ref())
            .map_err(Clone::clone)
    }
}

/// A response reaches the key ring through this, without knowing the session code.
impl crate::response::KeySource for Runtime {
    fn keys(&self) -> Result<&Keys, HttpError> {
        Runtime::keys(self)
    }
}
