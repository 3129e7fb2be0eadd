//! Who is logged in: the user and roles a session carries, guards on routes, revoking every
//! session of a user, and the login throttle.
//!
//! **The model.** `session.login(user, roles)` puts `{user, roles, login time}` in the session
//! under the reserved key `_auth` and cycles its id. Two kinds of record sit next to the
//! sessions in the same store, keyed by the SHA-256 of the app's name and `user:NAME` or
//! `ip:ADDR` (a store never sees a name, an address or a session id; apps sharing a store never
//! share these records):
//! - **revocation**: `request.revoke_user(user)` writes "every login of this user up to now
//!   is over"; a session whose login time is not after it is dead on its next load, on every
//!   backend at once. One record per user, so it works on memcached, which cannot list keys;
//!   it expires after the absolute session lifetime, when no session it covers can be left.
//! - **throttle counts**: failed logins per username and per client address; past the limit
//!   the login answers 429 with `Retry-After`, even with the right password, until the lockout
//!   (counted from the last failure) ends. A success resets the username's count.
//!
//! The cookie store keeps both in the store named by `PYCNIC_AUTH_STORE`, and refuses them
//! (a logged 500) without one.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Session;
use super::config::Runtime;
use super::store::{AuthKey, AuthRecords, Record, StoreError};
use crate::error::HttpError;
use crate::secure_cookie::now;

/// The session key that holds who is logged in.
pub const AUTH_KEY: &str = "_auth";

/// Who is logged in, as the session holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Login {
    #[serde(rename = "u")]
    user: String,
    #[serde(rename = "r", default)]
    roles: Vec<String>,
    /// When (unix milliseconds): a revocation covers logins up to its own time.
    #[serde(rename = "t")]
    at: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The record key of a user name or an address, bound to the app (as session ids are): apps
/// sharing one store never see each other's revocations or login counts.
fn key(kind: &str, name: &str) -> AuthKey {
    static APP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let app = APP.get_or_init(super::store::location::app_name);
    let mut hash = Sha256::new();
    hash.update(b"pycnic auth of ");
    hash.update((app.len() as u64).to_be_bytes());
    hash.update(app.as_bytes());
    hash.update(kind.as_bytes());
    hash.update(b":");
    hash.update(name.as_bytes());
    hash.finalize().into()
}

fn unavailable(err: StoreError) -> HttpError {
    log::error!("auth store: {err}");
    HttpError::service_unavailable("Session store unavailable")
}

/// The store's auth records, or a logged 500 for the cookie store without `PYCNIC_AUTH_STORE`.
fn records(runtime: &Runtime) -> Result<&dyn AuthRecords, HttpError> {
    runtime.store()?.auth_records().ok_or_else(|| {
        log::error!(
            "revoking sessions and throttling logins need a server-side record: the cookie \
             store keeps them in PYCNIC_AUTH_STORE (e.g. redis://… or sqlite:PATH), unset"
        );
        HttpError::internal("Server misconfigured: no store for logins (PYCNIC_AUTH_STORE)")
    })
}

impl Session {
    /// Logs `user` in with `roles`: the session records who and when, and gets a new id (so an
    /// id seen before the login is worthless after it).
    pub fn login(&self, user: &str, roles: &[&str]) -> Result<(), HttpError> {
        let login = Login {
            user: user.to_string(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            at: now_ms(),
        };
        self.insert(AUTH_KEY, login)?;
        self.cycle_id();
        Ok(())
    }

    /// Ends the session (as [`Session::destroy`]): the user is logged out.
    pub fn logout(&self) {
        self.destroy();
    }

    fn login_record(&self) -> Option<Login> {
        self.get_as(AUTH_KEY)
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<String> {
        self.login_record().map(|l| l.user)
    }

    /// The logged-in user's roles (empty when no one is logged in).
    pub fn roles(&self) -> Vec<String> {
        self.login_record().map(|l| l.roles).unwrap_or_default()
    }

    /// Whether the logged-in user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.login_record()
            .is_some_and(|l| l.roles.iter().any(|r| r == role))
    }
}

/// Whether a loaded session's login was revoked since (false when it has no login, or the
/// store keeps no records).
pub(super) fn is_revoked(
    records: Option<&dyn AuthRecords>,
    record: &Record,
) -> Result<bool, StoreError> {
    let (Some(records), Some(value)) = (records, record.data.get(AUTH_KEY)) else {
        return Ok(false);
    };
    let Ok(login) = serde_json::from_value::<Login>(value.clone()) else {
        return Ok(false);
    };
    Ok(records.revoked_at(&key("user", &login.user))? >= login.at)
}

/// What a route requires of the session (see `Handler::login_required`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// The app's rule: open, or login required when the app says so.
    Default,
    /// Open even when the app requires a login everywhere.
    Public,
    /// A logged-in user.
    Login,
    /// A logged-in user with this role.
    Role(String),
}

/// Checks `need` (`None`: any logged-in user; `Some(role)`: that role): 401 when no one is
/// logged in, 403 without the role, both in Pycnic's error shape.
pub(crate) fn require(session: &Session, role: Option<&str>) -> Result<(), HttpError> {
    let Some(login) = session.login_record() else {
        return Err(HttpError::unauthorized("Login required"));
    };
    match role {
        Some(role) if !login.roles.iter().any(|r| r == role) => {
            Err(HttpError::forbidden(format!("The role {role} is required")))
        }
        _ => Ok(()),
    }
}

/// One login attempt under the throttle: got with `Request::login_attempt`, ended with
/// [`LoginAttempt::failed`] or [`LoginAttempt::succeeded`].
#[must_use = "a login attempt counts only when it is ended with failed() or succeeded()"]
pub struct LoginAttempt<'r> {
    records: &'r dyn AuthRecords,
    user: AuthKey,
    ip: AuthKey,
    lockout: u64,
}

fn too_many(until: u64, now: u64) -> HttpError {
    let wait = until.saturating_sub(now).max(1);
    let err = HttpError::new(429, "Too many failed logins; try again later");
    err.clone()
        .with_header("Retry-After", &wait.to_string())
        .unwrap_or(err)
}

impl LoginAttempt<'_> {
    /// Counts a failure for the username and the address, and returns `err` (the app's own
    /// "wrong password" answer, the same for unknown and known usernames).
    pub fn failed(self, err: HttpError) -> HttpError {
        let now = now();
        for key in [&self.user, &self.ip] {
            if let Err(store) = self.records.fail(key, now, self.lockout) {
                return unavailable(store);
            }
        }
        err
    }

    /// Resets the username's count (the address's stays: it counts every name tried from it).
    pub fn succeeded(self) -> Result<(), HttpError> {
        self.records.reset(&self.user).map_err(unavailable)
    }
}

/// Starts a login attempt for `username` from the client address `ip`: a 429 with
/// `Retry-After` while that username or that address is locked out
/// (`PYCNIC_LOGIN_MAX_FAILURES`, `PYCNIC_LOGIN_MAX_FAILURES_PER_IP`, `PYCNIC_LOGIN_LOCKOUT`),
/// whatever the password. `Request::login_attempt` calls it.
pub(crate) fn login_attempt<'r>(
    runtime: &'r Runtime,
    username: &str,
    ip: &str,
) -> Result<LoginAttempt<'r>, HttpError> {
    let config = runtime.config()?;
    let records = records(runtime)?;
    let (user, ip_key) = (key("user", username), key("ip", ip));
    let now = now();
    for (key, max) in [
        (&user, config.login_max_failures),
        (&ip_key, config.login_max_failures_per_ip),
    ] {
        let failures = records.failures(key, now).map_err(unavailable)?;
        if failures.count >= max {
            log::info!(
                "login throttled from {ip} (lockout until {})",
                failures.until
            );
            return Err(too_many(failures.until, now));
        }
    }
    Ok(LoginAttempt {
        records,
        user,
        ip: ip_key,
        lockout: config.login_lockout,
    })
}

/// Ends every session of `user` on every backend at once. `Request::revoke_user` calls it.
pub(crate) fn revoke_user(runtime: &Runtime, user: &str) -> Result<(), HttpError> {
    let ttl = runtime.config()?.absolute;
    records(runtime)?
        .revoke(&key("user", user), now_ms(), ttl)
        .map_err(unavailable)
}

#[cfg(all(test, feature = "sqlite"))]
#[path = "auth_tests.rs"]
mod tests;
