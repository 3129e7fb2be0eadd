//! The session stores behind one small trait. A store keeps records by the SHA-256 hash of a
//! session id (it never sees an id) and writes with compare-and-set on a version, so a request
//! that read an older version, or a session deleted meanwhile, is detected at write time.
//!
//! `sqlite:PATH`, `redis://HOST:PORT[/DB]` and `memcached://HOST:PORT` are server-side stores;
//! `cookie` keeps the record in a private cookie instead ([`cookie`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub mod cookie;
mod error;
pub mod location;
#[cfg(feature = "memcached")]
pub mod memcached;
mod open;
mod pool;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;

// Only the server-side stores, each behind its feature, take a connection from the pool.
pub use error::StoreError;
#[cfg(any(feature = "sqlite", feature = "redis", feature = "memcached"))]
pub(crate) use pool::{Access, Pool};
pub use pool::{BreakerState, StoreHealth};

/// The SHA-256 hash of a session id: the only form of an id a store sees.
pub type IdHash = [u8; 32];

/// One session's data and times (unix seconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// When the session was created (for the absolute lifetime).
    #[serde(rename = "c")]
    pub created: u64,
    /// When it was last written or touched (for the idle timeout).
    #[serde(rename = "t")]
    pub touched: u64,
    /// The handler's keys and values.
    #[serde(rename = "d")]
    pub data: Map<String, Value>,
}

impl Record {
    /// The record as the JSON the stores keep.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A record read back from a store; `None` when it is not one.
    pub fn from_json(bytes: &[u8]) -> Option<Record> {
        serde_json::from_slice(bytes).ok()
    }
}

/// A record with the version a compare-and-set write must name.
#[derive(Clone, Debug)]
pub struct Versioned {
    /// The record.
    pub record: Record,
    /// Opaque: a counter (SQLite, Redis) or a CAS token (memcached).
    pub version: u64,
}

/// A server-side session store; it also keeps the per-user and throttle records of
/// [`AuthRecords`].
pub trait Store: AuthRecords + Send + Sync {
    /// The record stored under `id`, if any (expired or not: the caller checks).
    fn load(&self, id: &IdHash) -> Result<Option<Versioned>, StoreError>;
    /// Stores a new record; `ttl` is how long it may live, in seconds (at least 1).
    fn create(&self, id: &IdHash, record: &Record, ttl: u64) -> Result<(), StoreError>;
    /// Replaces the record only if it is still at `version`: `false` when it changed or is gone.
    fn update(
        &self,
        id: &IdHash,
        record: &Record,
        version: u64,
        ttl: u64,
    ) -> Result<bool, StoreError>;
    /// Deletes the record (absent is fine).
    fn delete(&self, id: &IdHash) -> Result<(), StoreError>;
    /// Removes expired records where the store does not expire them itself; returns how many.
    fn gc(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    /// The store's circuit breaker and recent failures (`None` for a store without one).
    fn health(&self) -> Option<StoreHealth> {
        None
    }
    /// The largest record, as JSON bytes, the store keeps (`None`: no limit of its own).
    fn max_record(&self) -> Option<usize> {
        None
    }
}

/// The SHA-256 of a user name or a client address, with its kind (`user:`, `ip:`) in front:
/// the only form of either a store sees.
pub type AuthKey = [u8; 32];

/// A login throttle counter: failures so far and when the count lapses (unix seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    /// Failed logins in a row, each within `lockout` seconds of the one before.
    pub count: u64,
    /// When the count lapses: the last failure plus the lockout.
    pub until: u64,
}

/// What `session/auth.rs` keeps in a server-side store, next to the sessions and in the same
/// place (Redis and memcached: shared by every backend; SQLite: by every process on the
/// host), each record expiring by itself (TTL) or swept by `gc`.
pub trait AuthRecords: Send + Sync {
    /// When every session of `user` logged in before was revoked (unix milliseconds; 0: never).
    fn revoked_at(&self, user: &AuthKey) -> Result<u64, StoreError>;
    /// Revokes every session of `user` that logged in at or before `at` (milliseconds); the
    /// record lives `ttl` seconds (the sessions' absolute lifetime, after which none is left).
    fn revoke(&self, user: &AuthKey, at: u64, ttl: u64) -> Result<(), StoreError>;
    /// The failure count under `key`, if one is running at `now`.
    fn failures(&self, key: &AuthKey, now: u64) -> Result<Failures, StoreError>;
    /// Counts one more failure at `now` (a lapsed count starts again at 1), atomically;
    /// returns the new count; the record lapses `lockout` seconds later.
    fn fail(&self, key: &AuthKey, now: u64, lockout: u64) -> Result<Failures, StoreError>;
    /// Forgets the count under `key` (after a successful login).
    fn reset(&self, key: &AuthKey) -> Result<(), StoreError>;
}

/// A parsed `PYCNIC_SESSION_STORE` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    /// `cookie`: the data in a private cookie.
    Cookie,
    /// `sqlite:PATH`.
    Sqlite(String),
    /// `redis://HOST:PORT[/DB]` (the URL as given).
    Redis(String),
    /// `memcached://HOST:PORT`: host and port.
    Memcached(String),
}

impl std::str::FromStr for StoreSpec {
    type Err = String;

    /// As [`StoreSpec::parse`]: `"sqlite:/var/lib/app/s.db".parse::<StoreSpec>()`.
    fn from_str(spec: &str) -> Result<StoreSpec, String> {
        StoreSpec::parse(spec)
    }
}

impl StoreSpec {
    /// Parses a store spec; the error says what is accepted.
    pub fn parse(spec: &str) -> Result<StoreSpec, String> {
        let spec = spec.trim();
        if spec == "cookie" {
            Ok(StoreSpec::Cookie)
        } else if let Some(path) = spec.strip_prefix("sqlite:").filter(|p| !p.is_empty()) {
            Ok(StoreSpec::Sqlite(path.to_string()))
        } else if spec.starts_with("redis://") {
            Ok(StoreSpec::Redis(spec.to_string()))
        } else if let Some(host) = spec.strip_prefix("memcached://").filter(|h| !h.is_empty()) {
            Ok(StoreSpec::Memcached(host.trim_end_matches('/').to_string()))
        } else {
            Err(format!(
                "unknown session store {spec:?}: expected cookie, sqlite:PATH, \
                 redis://HOST:PORT[/DB] or memcached://HOST:PORT"
            ))
        }
    }
}

/// Lowercase hex of an id hash (the key Redis and memcached store under).
#[cfg(any(feature = "redis", feature = "memcached"))]
pub fn hex(id: &IdHash) -> String {
    use std::fmt::Write as _;
    id.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_or_say_what_is_accepted() {
        assert_eq!(StoreSpec::parse("cookie"), Ok(StoreSpec::Cookie));
        assert_eq!("cookie".parse::<StoreSpec>(), Ok(StoreSpec::Cookie));
        assert_eq!(
            StoreSpec::parse("sqlite:/tmp/s.db"),
            Ok(StoreSpec::Sqlite("/tmp/s.db".into()))
        );
        assert_eq!(
            StoreSpec::parse("memcached://127.0.0.1:11211"),
            Ok(StoreSpec::Memcached("127.0.0.1:11211".into()))
        );
        assert!(StoreSpec::parse("redis://127.0.0.1:6379/2").is_ok());
        assert!(
            StoreSpec::parse("files:/tmp")
                .unwrap_err()
                .contains("sqlite:PATH")
        );
        assert!(StoreSpec::parse("sqlite:").is_err());
    }
}
