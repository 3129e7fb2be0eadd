//! `cookie`: the whole session record in a private (AES-256-GCM) cookie. Stateless: it works
//! across backends that share the key file, with no server. The token's authenticated expiry is
//! the session's own (idle or absolute, whichever comes first), so a stolen copy dies with it;
//! but a copy kept from before a logout stays valid until then, as no server remembers the
//! logout. Every write re-issues the cookie, so of two parallel writes the last response wins.
//! Revoking a user's sessions and throttling logins need a server-side record: they use the
//! store named by `PYCNIC_AUTH_STORE`, and are refused (a logged 500) without one.

use super::{AuthRecords, Record, Store, StoreError};
use std::sync::Arc;

use crate::key_ring::KeyRing;
use crate::keys::Keys;
use crate::secure_cookie::{now, open_private, seal_private};
use crate::session::backend::{Backend, Found, Handle, Saved};

/// The record carried by the cookie `name`'s token, if it opens at `now`.
pub fn open(keys: &Keys, name: &str, token: &str, now: u64) -> Option<Record> {
    Record::from_json(&open_private(keys, name, token, now)?)
}

/// A token carrying `record` until `expiry`.
pub fn seal(
    keys: &Keys,
    name: &str,
    record: &Record,
    expiry: u64,
) -> Result<String, getrandom::Error> {
    seal_private(keys, name, &record.to_json(), expiry)
}

/// The cookie store: the key ring and the cookie's name, which the token is bound to, and
/// the server-side store for revocations and login counts, if one is configured.
pub struct CookieStore {
    keys: Ring,
    name: String,
    records: Option<Box<dyn Store>>,
}

/// Keys fixed at creation, or the app's ring (which a reload may replace).
enum Ring {
    Fixed(Keys),
    App(Arc<KeyRing>),
}

impl CookieStore {
    /// Sessions sealed with `keys` into the cookie `name`; `records` keeps what a cookie
    /// cannot (`PYCNIC_AUTH_STORE`).
    pub fn new(keys: Keys, name: String, records: Option<Box<dyn Store>>) -> CookieStore {
        CookieStore {
            keys: Ring::Fixed(keys),
            name,
            records,
        }
    }

    /// Sessions sealed with the app's ring as it is at each request.
    pub(crate) fn with_ring(
        ring: Arc<KeyRing>,
        name: String,
        records: Option<Box<dyn Store>>,
    ) -> CookieStore {
        CookieStore {
            keys: Ring::App(ring),
            name,
            records,
        }
    }

    fn keys(&self) -> Result<&Keys, StoreError> {
        match &self.keys {
            Ring::Fixed(keys) => Ok(keys),
            Ring::App(ring) => ring.get().map_err(|err| StoreError(err.to_string())),
        }
    }

    fn seal(&self, record: &Record, expiry: u64) -> Result<String, StoreError> {
        seal(self.keys()?, &self.name, record, expiry)
            .map_err(|err| StoreError(format!("no randomness from the OS: {err}")))
    }
}

impl Backend for CookieStore {
    fn find(&self, token: &str) -> Result<Option<Found>, StoreError> {
        Ok(
            open(self.keys()?, &self.name, token, now()).map(|record| Found {
                handle: Handle(None),
                record,
                version: 0,
            }),
        )
    }

    /// Never asked: a write to the cookie store never conflicts.
    fn reload(&self, _handle: Handle) -> Result<Option<Found>, StoreError> {
        Ok(None)
    }

    fn create(&self, record: &Record, expiry: u64) -> Result<String, StoreError> {
        self.seal(record, expiry)
    }

    fn update(
        &self,
        _handle: Handle,
        record: &Record,
        _version: u64,
        expiry: u64,
    ) -> Result<Saved, StoreError> {
        Ok(Saved::Done {
            cookie: Some(self.seal(record, expiry)?),
        })
    }

    /// Nothing to forget on a server: the session's cookie is cleared instead.
    fn delete(&self, _handle: Handle) -> Result<(), StoreError> {
        Ok(())
    }

    /// Sweeps the auth store's lapsed records, if there is one (the sessions are cookies).
    fn gc(&self) -> Result<u64, StoreError> {
        self.records.as_ref().map_or(Ok(0), |store| store.gc())
    }

    fn auth_records(&self) -> Option<&dyn AuthRecords> {
        self.records
            .as_deref()
            .map(|store| store as &dyn AuthRecords)
    }
}
