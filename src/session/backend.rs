//! What a [`Session`](super::Session) sees of its store: a cookie value in, a record and a
//! version out; a record in, maybe a new cookie value out. Both kinds of store fit behind it,
//! so the session logic never knows which one it has:
//! - [`ServerBackend`] issues random ids, hashes them, and keeps records in a server-side
//!   [`Store`] (SQLite, Redis, memcached), which sees only the hashes;
//! - the `cookie` store ([`CookieStore`](super::store::cookie::CookieStore)) seals the record
//!   into the cookie value itself.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::store::{AuthRecords, IdHash, Record, Store, StoreError, StoreHealth};
use crate::secure_cookie::now;

/// Which stored session a write goes to; opaque to the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle(pub(crate) Option<IdHash>);

/// A session as its store holds it (expired or not: the caller checks).
#[derive(Clone, Debug)]
pub struct Found {
    /// Where it is.
    pub handle: Handle,
    /// Its data and times.
    pub record: Record,
    /// The version a compare-and-set write names.
    pub version: u64,
}

/// The outcome of a compare-and-set write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Written; `cookie` is a new cookie value to send, if the store needs one.
    Done {
        /// The cookie value that now names the session, when it changed.
        cookie: Option<String>,
    },
    /// The session changed or disappeared since that version.
    Conflict,
}

/// A session store as the session uses it.
pub trait Backend: Send + Sync {
    /// The session the cookie value names, if the store holds it.
    fn find(&self, token: &str) -> Result<Option<Found>, StoreError>;
    /// The latest version after a conflict; `None` when the session is gone.
    fn reload(&self, handle: Handle) -> Result<Option<Found>, StoreError>;
    /// Stores a new session that lives until `expiry` (unix seconds); returns the cookie value
    /// that names it.
    fn create(&self, record: &Record, expiry: u64) -> Result<String, StoreError>;
    /// Replaces the session if it is still at `version`.
    fn update(
        &self,
        handle: Handle,
        record: &Record,
        version: u64,
        expiry: u64,
    ) -> Result<Saved, StoreError>;
    /// Forgets the session.
    fn delete(&self, handle: Handle) -> Result<(), StoreError>;
    /// Removes expired sessions where the store does not expire them itself.
    fn gc(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    /// The server-side store's circuit breaker and recent failures (`None` for the cookie
    /// store, which has no server).
    fn health(&self) -> Option<StoreHealth> {
        None
    }
    /// The largest record, as JSON bytes, the store keeps, and the store's name for the
    /// error (`None`: no limit of its own).
    fn max_record(&self) -> Option<(usize, &'static str)> {
        None
    }
    /// Where per-user revocations and login counts live: the server-side store itself, or
    /// the one configured next to the cookie store; `None` when there is none.
    fn auth_records(&self) -> Option<&dyn AuthRecords>;
}

/// Server-side sessions: a random id in the cookie, its hash in the store. The hash covers
/// the app's name too, so apps sharing one store never find each other's sessions.
pub struct ServerBackend {
    store: Box<dyn Store>,
    namespace: String,
}

impl ServerBackend {
    /// Sessions kept in `store`, in no app's namespace.
    pub fn new(store: Box<dyn Store>) -> ServerBackend {
        ServerBackend::for_app(store, "")
    }

    /// Sessions of the app `app` kept in `store` (which other apps may share).
    pub fn for_app(store: Box<dyn Store>, app: &str) -> ServerBackend {
        ServerBackend {
            store,
            namespace: app.to_string(),
        }
    }

    fn hash(&self, id: &[u8]) -> IdHash {
        let mut hasher = Sha256::new();
        if !self.namespace.is_empty() {
            hasher.update(b"pycnic session of ");
            hasher.update((self.namespace.len() as u64).to_be_bytes());
            hasher.update(self.namespace.as_bytes());
        }
        hasher.update(id);
        hasher.finalize().into()
    }
}

/// The id a cookie carries: exactly 32 bytes of base64url, anything else is no id.
fn decode_id(token: &str) -> Option<[u8; 32]> {
    if token.len() != 43 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(token).ok()?.try_into().ok()
}

fn ttl(expiry: u64) -> u64 {
    expiry.saturating_sub(now()).max(1)
}

impl Backend for ServerBackend {
    fn find(&self, token: &str) -> Result<Option<Found>, StoreError> {
        match decode_id(token) {
            Some(raw) => self.reload(Handle(Some(self.hash(&raw)))),
            None => Ok(None),
        }
    }

    fn reload(&self, handle: Handle) -> Result<Option<Found>, StoreError> {
        let Some(id) = handle.0 else {
            return Ok(None);
        };
        Ok(self.store.load(&id)?.map(|found| Found {
            handle,
            record: found.record,
            version: found.version,
        }))
    }

    fn create(&self, record: &Record, expiry: u64) -> Result<String, StoreError> {
        let raw = crate::keys::random_bytes()
            .map_err(|err| StoreError(format!("no randomness from the OS: {err}")))?;
        self.store.create(&self.hash(&raw), record, ttl(expiry))?;
        Ok(URL_SAFE_NO_PAD.encode(raw))
    }

    fn update(
        &self,
        handle: Handle,
        record: &Record,
        version: u64,
        expiry: u64,
    ) -> Result<Saved, StoreError> {
        let Some(id) = handle.0 else {
            return Ok(Saved::Conflict);
        };
        Ok(
            match self.store.update(&id, record, version, ttl(expiry))? {
                true => Saved::Done { cookie: None },
                false => Saved::Conflict,
            },
        )
    }

    fn delete(&self, handle: Handle) -> Result<(), StoreError> {
        match handle.0 {
            Some(id) => self.store.delete(&id),
            None => Ok(()),
        }
    }

    fn gc(&self) -> Result<u64, StoreError> {
        self.store.gc()
    }

    fn health(&self) -> Option<StoreHealth> {
        self.store.health()
    }

    fn max_record(&self) -> Option<(usize, &'static str)> {
        let name = self.store.health().map_or("session", |h| h.store);
        self.store.max_record().map(|max| (max, name))
    }

    fn auth_records(&self) -> Option<&dyn AuthRecords> {
        Some(self.store.as_ref())
    }
}
