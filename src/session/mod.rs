//! Server-side sessions: the [`Session`] a handler gets from `request.session()?`.
//!
//! **The model.** A session is a JSON object of keys and values that lives in a store; the
//! browser holds only an opaque cookie (a 256-bit random id, or for the `cookie` store the
//! encrypted record itself). A handler reads and changes the object during the request; the
//! core writes the changes after the handler returns, before the answer is sent, with
//! compare-and-set, so nothing is written for a request that only reads.
//!
//! - **Ids**: 32 bytes from the OS's CSPRNG, sent as base64url; stores keep only their SHA-256
//!   hash; an id the store does not hold is never adopted (a new one is issued instead).
//! - **Expiry**: an idle timeout and an absolute lifetime, both checked on every load; a
//!   request that only reads refreshes the idle clock at most every idle/10 seconds.
//! - **Concurrency**: the write re-applies this request's own changes (keys set, keys removed,
//!   or a clear) onto the latest stored version, so two requests that change different keys
//!   both keep their change. For the same key, the request that commits last wins. A session
//!   destroyed (or whose id was cycled) while a request was in flight stays gone: that
//!   request's write is refused with a 409 and nothing is re-created.
//! - **Errors**: a handler that answers with an error saves nothing (as its cookies are
//!   dropped); a store that is down is a 503; a write refused as above is a 409.
//! - **Who is logged in** ([`auth`]): `login(user, roles)` records the user, roles and login
//!   time under `_auth` and cycles the id; route guards read it; a per-user revocation record
//!   in the store ends every session that logged in before it; login failures are counted
//!   in the store per username and per address.
//! - **Cookie store**: the same API, the record in a private cookie; there each response
//!   carries the whole record, so of two parallel writes the last response wins, and a
//!   logout clears the browser's cookie but cannot revoke a copy taken earlier (it dies at its
//!   idle or absolute expiry).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::HttpError;

pub mod auth;
pub mod backend;
mod commit;
pub mod config;
pub mod store;

pub use config::{Runtime, SessionConfig};

/// The session as loaded with the request.
#[derive(Clone, Debug)]
enum Origin {
    /// No live session came with the request.
    Fresh,
    /// A live session, as its store holds it.
    Live(backend::Found),
}

#[derive(Debug)]
struct State {
    origin: Origin,
    /// Whether the request carried a session cookie at all (live or not).
    had_cookie: bool,
    data: Map<String, Value>,
    /// This request's own changes: a key set (`Some`) or removed (`None`).
    changes: BTreeMap<String, Option<Value>>,
    cleared: bool,
    cycle: bool,
    destroyed: bool,
}

/// One request's handle on its session: read and change keys; the core saves the changes
/// after the handler returns. Get it with `request.session()?`.
#[derive(Debug)]
pub struct Session {
    state: Mutex<State>,
}

fn poisoned() -> HttpError {
    HttpError::internal("session state unavailable after a panic")
}

impl Session {
    fn new(origin: Origin, had_cookie: bool) -> Session {
        let data = match &origin {
            Origin::Fresh => Map::new(),
            Origin::Live(found) => found.record.data.clone(),
        };
        Session {
            state: Mutex::new(State {
                origin,
                had_cookie,
                data,
                changes: BTreeMap::new(),
                cleared: false,
                cycle: false,
                destroyed: false,
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, HttpError> {
        self.state
            .lock()
            .map(|mut state| f(&mut state))
            .map_err(|_| poisoned())
    }

    /// Whether the request came with a live session or this request has put something in one
    /// (and not destroyed it).
    pub fn is_active(&self) -> bool {
        self.with(|s| !s.data.is_empty() || !(s.destroyed || matches!(s.origin, Origin::Fresh)))
            .unwrap_or(false)
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.with(|s| s.data.get(key).cloned()).ok().flatten()
    }

    /// The value of `key` as a `T` (`None` when absent or of another shape).
    pub fn get_as<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        serde_json::from_value(self.get(key)?).ok()
    }

    /// Sets `key` (a 500 if the value cannot be serialised as JSON).
    pub fn insert(&self, key: &str, value: impl Serialize) -> Result<(), HttpError> {
        let value = serde_json::to_value(value)
            .map_err(|err| HttpError::internal(format!("session value for {key:?}: {err}")))?;
        self.with(|s| {
            s.data.insert(key.to_string(), value.clone());
            s.changes.insert(key.to_string(), Some(value));
        })
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.with(|s| {
            s.changes.insert(key.to_string(), None);
            s.data.remove(key)
        })
        .ok()
        .flatten()
    }

    /// Removes every key (the session itself lives on; see [`Session::destroy`]).
    pub fn clear(&self) {
        let _ = self.with(|s| {
            s.data.clear();
            s.changes.clear();
            s.cleared = true;
        });
    }

    /// Moves the data to a new id and retires the old one: call it when a user logs in, so an
    /// id planted or seen before the login is worthless after it.
    pub fn cycle_id(&self) {
        let _ = self.with(|s| s.cycle = true);
    }

    /// Ends the session: deleted from the store and the cookie cleared (logout). A request
    /// still in flight on it cannot bring it back. Keys inserted after this start a new
    /// session with a new id.
    pub fn destroy(&self) {
        let _ = self.with(|s| {
            s.destroyed = true;
            s.data.clear();
            s.changes.clear();
        });
    }
}
