//! Loading a session with the request and saving its changes after the handler: expiry checks,
//! id issue and hashing, compare-and-set retries, and the session cookie with its defaults
//! (HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS or when configured, `__Host-` rules,
//! at most 4096 bytes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Map;
use sha2::{Digest, Sha256};

use super::config::{Runtime, SessionConfig};
use super::store::{self, IdHash, Record, Store, StoreError};
use super::{Origin, Session, State};
use crate::cookie::Cookies;
use crate::error::HttpError;
use crate::response::Response;
use crate::secure_cookie::{MAX_COOKIE_BYTES, now};
use crate::set_cookie::{Cookie, SameSite};

/// Compare-and-set attempts before a write gives up (each loses only to another write).
const MAX_ATTEMPTS: usize = 16;

fn unavailable(err: StoreError) -> HttpError {
    log::error!("session store: {err}");
    HttpError::service_unavailable("Session store unavailable")
}

fn hash(id: &[u8]) -> IdHash {
    Sha256::digest(id).into()
}

/// The id a cookie carries: exactly 32 bytes of base64url, anything else is no id.
fn decode_id(token: &str) -> Option<[u8; 32]> {
    if token.len() != 43 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(token).ok()?.try_into().ok()
}

/// When the record ends: its idle or its absolute expiry, whichever comes first.
fn expiry(record: &Record, config: &SessionConfig) -> u64 {
    let idle = record.touched.saturating_add(config.idle);
    let absolute = record.created.saturating_add(config.absolute);
    idle.min(absolute)
}

fn ttl(record: &Record, config: &SessionConfig, now: u64) -> u64 {
    expiry(record, config).saturating_sub(now).max(1)
}

impl Session {
    /// The session the request's cookie names, if it is live; otherwise an empty new one.
    pub(crate) fn load(runtime: &Runtime, cookies: &Cookies) -> Result<Session, HttpError> {
        let config = runtime.config()?;
        let name = config.full_cookie_name();
        let token = cookies.get(&name).filter(|t| !t.is_empty());
        let now = now();
        let origin = match (runtime.store()?, token) {
            (_, None) => Origin::Fresh,
            (None, Some(token)) => {
                let keys = runtime.keys()?;
                match store::cookie::open(keys, &name, token, now) {
                    Some(record) if now < expiry(&record, config) => Origin::Cookie { record },
                    _ => Origin::Fresh,
                }
            }
            (Some(store), Some(token)) => match decode_id(token) {
                None => Origin::Fresh,
                Some(raw) => {
                    let id = hash(&raw);
                    match store.load(&id).map_err(unavailable)? {
                        Some(found) if now < expiry(&found.record, config) => Origin::Server {
                            id,
                            version: found.version,
                            record: found.record,
                        },
                        Some(_) => {
                            store.delete(&id).map_err(unavailable)?;
                            Origin::Fresh
                        }
                        None => Origin::Fresh,
                    }
                }
            },
        };
        Ok(Session::new(origin, token.is_some()))
    }

    /// Saves this request's changes and sets or clears the cookie on `response`. `https`:
    /// whether the request came over HTTPS.
    pub(crate) fn commit(
        &self,
        runtime: &Runtime,
        https: bool,
        response: &mut Response,
    ) -> Result<(), HttpError> {
        let state = self.state.lock().map_err(|_| super::poisoned())?;
        let config = runtime.config()?;
        let writer = Writer {
            runtime,
            config,
            https,
            now: now(),
        };
        writer.commit(&state, runtime.store()?, response)
    }
}

struct Writer<'a> {
    runtime: &'a Runtime,
    config: &'a SessionConfig,
    https: bool,
    now: u64,
}

impl Writer<'_> {
    fn commit(
        &self,
        state: &State,
        store: Option<&dyn Store>,
        response: &mut Response,
    ) -> Result<(), HttpError> {
        let dirty = state.cleared || !state.changes.is_empty();
        if state.destroyed {
            if let (Some(store), Origin::Server { id, .. }) = (store, &state.origin) {
                store.delete(id).map_err(unavailable)?;
            }
            if state.data.is_empty() {
                if state.had_cookie {
                    let deletion = self.cookie("").max_age(0).expires(EPOCH);
                    response.add_cookie(deletion)?;
                }
                return Ok(());
            }
            return self.create(store, state.data.clone(), self.now, response);
        }
        match &state.origin {
            Origin::Fresh if state.data.is_empty() => Ok(()),
            Origin::Fresh => self.create(store, state.data.clone(), self.now, response),
            Origin::Cookie { record } => {
                if !dirty && !state.cycle && !self.due_for_touch(record) {
                    return Ok(());
                }
                self.create(store, state.data.clone(), record.created, response)
            }
            Origin::Server {
                id,
                version,
                record,
            } => {
                let Some(store) = store else {
                    return Ok(()); // the store setting changed under a live session
                };
                if !dirty && !state.cycle {
                    if self.due_for_touch(record) {
                        let touched = Record {
                            touched: self.now,
                            ..record.clone()
                        };
                        let ttl = ttl(&touched, self.config, self.now);
                        // Lost to another write: that write touched it too.
                        store
                            .update(id, &touched, *version, ttl)
                            .map_err(unavailable)?;
                    }
                    return Ok(());
                }
                self.update(store, state, *id, *version, record.clone(), response)
            }
        }
    }

    fn due_for_touch(&self, record: &Record) -> bool {
        self.now.saturating_sub(record.touched) >= self.config.touch_interval()
    }

    /// Re-applies this request's changes onto the latest version until a compare-and-set
    /// succeeds; a session gone meanwhile is not re-created.
    fn update(
        &self,
        store: &dyn Store,
        state: &State,
        id: IdHash,
        mut version: u64,
        mut base: Record,
        response: &mut Response,
    ) -> Result<(), HttpError> {
        if state.cycle {
            // Moving to a new id: start from the latest version, so writes made meanwhile
            // under the old id come along.
            let latest = store.load(&id).map_err(unavailable)?.ok_or_else(gone)?;
            base = latest.record;
        }
        for _ in 0..MAX_ATTEMPTS {
            let mut data = if state.cleared { Map::new() } else { base.data };
            for (key, change) in &state.changes {
                match change {
                    Some(value) => data.insert(key.clone(), value.clone()),
                    None => data.remove(key),
                };
            }
            if state.cycle {
                self.create(Some(store), data, base.created, response)?;
                return store.delete(&id).map_err(unavailable);
            }
            let record = Record {
                created: base.created,
                touched: self.now,
                data,
            };
            let ttl = ttl(&record, self.config, self.now);
            if store
                .update(&id, &record, version, ttl)
                .map_err(unavailable)?
            {
                return Ok(());
            }
            let latest = store.load(&id).map_err(unavailable)?.ok_or_else(gone)?;
            version = latest.version;
            base = latest.record;
        }
        log::error!("session write lost {MAX_ATTEMPTS} compare-and-set rounds in a row");
        Err(HttpError::service_unavailable("Session store busy"))
    }

    /// A session with a new id (server stores) or a new token (cookie store) holding `data`.
    fn create(
        &self,
        store: Option<&dyn Store>,
        data: Map<String, serde_json::Value>,
        created: u64,
        response: &mut Response,
    ) -> Result<(), HttpError> {
        let record = Record {
            created,
            touched: self.now,
            data,
        };
        let value = match store {
            Some(store) => {
                let raw = crate::keys::random_bytes().map_err(no_randomness)?;
                let ttl = ttl(&record, self.config, self.now);
                store
                    .create(&hash(&raw), &record, ttl)
                    .map_err(unavailable)?;
                URL_SAFE_NO_PAD.encode(raw)
            }
            None => {
                let keys = self.runtime.keys()?;
                let name = self.config.full_cookie_name();
                let until = expiry(&record, self.config);
                store::cookie::seal(keys, &name, &record, until).map_err(no_randomness)?
            }
        };
        let cookie = self.cookie(&value);
        let length = cookie.to_header_value()?.len();
        if length > MAX_COOKIE_BYTES {
            log::error!("session cookie of {length} bytes refused (browsers keep 4096)");
            return Err(HttpError::internal(format!(
                "Session too large: its cookie would be {length} bytes, over the \
                 {MAX_COOKIE_BYTES} browsers keep; store less or use a server-side store"
            )));
        }
        response.add_cookie(cookie)?;
        Ok(())
    }

    /// The session cookie with its defaults.
    fn cookie(&self, value: &str) -> Cookie {
        let mut cookie = Cookie::new(self.config.full_cookie_name(), value)
            .path("/")
            .http_only()
            .same_site(SameSite::Lax);
        let secure = self.config.host_prefix || self.config.secure.unwrap_or(self.https);
        if secure {
            cookie = cookie.secure();
        }
        cookie
    }
}

/// The answer of a request whose session was destroyed (or cycled) while it ran.
fn gone() -> HttpError {
    HttpError::new(
        409,
        "The session ended while this request ran; its changes were not saved",
    )
}

const EPOCH: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

fn no_randomness(err: getrandom::Error) -> HttpError {
    log::error!("no randomness from the OS: {err}");
    HttpError::service_unavailable("Session unavailable")
}
