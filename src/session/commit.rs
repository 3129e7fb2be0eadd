//! Loading a session with the request and saving its changes after the handler: expiry checks,
//! compare-and-set retries, and the session cookie with its defaults (HttpOnly, SameSite=Lax or as set,
//! Path=/, Secure over HTTPS or when configured, `__Host-` rules, at most 4096 bytes). Stores
//! are reached only through [`Backend`].

use serde_json::{Map, Value};

use super::backend::{Backend, Found, Saved};
use super::config::{Runtime, SessionConfig};
use super::store::{Record, StoreError};
use super::{Origin, Session, State};
use crate::cookie::Cookies;
use crate::error::HttpError;
use crate::response::Response;
use crate::secure_cookie::{MAX_COOKIE_BYTES, now};
use crate::set_cookie::Cookie;

/// Compare-and-set attempts before a write gives up (each loses only to another write).
const MAX_ATTEMPTS: usize = 16;

const EPOCH: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

/// A store failure as the client sees it. Server-side stores log their failures themselves, at
/// most once a second (`store::Pool`), so a dead store does not flood the log.
fn unavailable(err: StoreError) -> HttpError {
    log::debug!("session store: {err}");
    HttpError::service_unavailable("Session store unavailable")
}

/// A 413 when `record` is larger than its store keeps: checked before anything is written, so
/// the stored session stays as it was.
fn fits(store: &dyn Backend, record: &Record) -> Result<(), HttpError> {
    let Some((max, name)) = store.max_record() else {
        return Ok(());
    };
    let size = record.to_json().len();
    if size <= max {
        return Ok(());
    }
    Err(HttpError::new(
        413,
        format!(
            "Session too large: {size} bytes, over the {max} the {name} store keeps;              nothing was saved"
        ),
    ))
}

/// The answer of a request whose session was destroyed (or its id cycled) while it ran.
fn gone() -> HttpError {
    HttpError::new(
        409,
        "The session ended while this request ran; its changes were not saved",
    )
}

/// When the record ends: its idle or its absolute expiry, whichever comes first.
fn expiry(record: &Record, config: &SessionConfig) -> u64 {
    let idle = record.touched.saturating_add(config.idle);
    let absolute = record.created.saturating_add(config.absolute);
    idle.min(absolute)
}

impl Session {
    /// The session the request's cookie names, if it is live; otherwise an empty new one.
    pub(crate) fn load(runtime: &Runtime, cookies: &Cookies) -> Result<Session, HttpError> {
        let config = runtime.config()?;
        let name = config.full_cookie_name();
        let token = cookies.get(&name).filter(|t| !t.is_empty());
        let origin = match token {
            None => Origin::Fresh,
            Some(token) => {
                let store = runtime.store()?;
                match store.find(token).map_err(unavailable)? {
                    Some(found)
                        if now() < expiry(&found.record, config)
                            && !super::auth::is_revoked(store.auth_records(), &found.record)
                                .map_err(unavailable)? =>
                    {
                        Origin::Live(found)
                    }
                    // Expired, or its user's sessions were revoked since it logged in.
                    Some(expired) => {
                        store.delete(expired.handle).map_err(unavailable)?;
                        Origin::Fresh
                    }
                    None => Origin::Fresh,
                }
            }
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
        let nothing_to_do = !state.destroyed
            && !state.cycle
            && !state.cleared
            && state.changes.is_empty()
            && matches!(state.origin, Origin::Fresh);
        if nothing_to_do {
            return Ok(());
        }
        let writer = Writer {
            store: runtime.store()?,
            config: runtime.config()?,
            https,
            now: now(),
        };
        writer.commit(&state, response)
    }
}

struct Writer<'a> {
    store: &'a dyn Backend,
    config: &'a SessionConfig,
    https: bool,
    now: u64,
}

impl Writer<'_> {
    fn commit(&self, state: &State, response: &mut Response) -> Result<(), HttpError> {
        let dirty = state.cleared || !state.changes.is_empty();
        if state.destroyed {
            if let Origin::Live(found) = &state.origin {
                self.store.delete(found.handle).map_err(unavailable)?;
            }
            if !state.data.is_empty() {
                // Keys inserted after destroy(): a new session.
                return self.create(state.data.clone(), self.now, response);
            }
            if state.had_cookie {
                response.add_cookie(self.cookie("").max_age(0).expires(EPOCH))?;
            }
            return Ok(());
        }
        match &state.origin {
            Origin::Fresh if state.data.is_empty() => Ok(()),
            Origin::Fresh => self.create(state.data.clone(), self.now, response),
            Origin::Live(found) if state.cycle => {
                // A new id with the data; the old id is retired, so a request still in flight
                // on it cannot write it back.
                let data = apply(state, found.record.data.clone());
                self.create(data, found.record.created, response)?;
                self.store.delete(found.handle).map_err(unavailable)
            }
            Origin::Live(found) if dirty => self.update(state, found.clone(), response),
            Origin::Live(found) => self.touch(found, response),
        }
    }

    /// A request that only read: refresh the idle clock at most every idle/10 seconds.
    fn touch(&self, found: &Found, response: &mut Response) -> Result<(), HttpError> {
        let since = self.now.saturating_sub(found.record.touched);
        if since < self.config.touch_interval() {
            return Ok(());
        }
        let touched = Record {
            touched: self.now,
            ..found.record.clone()
        };
        let until = expiry(&touched, self.config);
        let saved = self
            .store
            .update(found.handle, &touched, found.version, until)
            .map_err(unavailable)?;
        // A conflict means another request wrote the session, and so touched it too.
        if let Saved::Done {
            cookie: Some(value),
        } = saved
        {
            self.set(&value, response)?;
        }
        Ok(())
    }

    /// Re-applies this request's changes onto the latest version until a compare-and-set
    /// succeeds; a session gone meanwhile is not re-created.
    fn update(
        &self,
        state: &State,
        mut found: Found,
        response: &mut Response,
    ) -> Result<(), HttpError> {
        for _ in 0..MAX_ATTEMPTS {
            let record = Record {
                created: found.record.created,
                touched: self.now,
                data: apply(state, found.record.data),
            };
            fits(self.store, &record)?;
            let until = expiry(&record, self.config);
            let saved = self
                .store
                .update(found.handle, &record, found.version, until)
                .map_err(unavailable)?;
            match saved {
                Saved::Done {
                    cookie: Some(value),
                } => return self.set(&value, response),
                Saved::Done { cookie: None } => return Ok(()),
                Saved::Conflict => {}
            }
            found = self
                .store
                .reload(found.handle)
                .map_err(unavailable)?
                .ok_or_else(gone)?;
        }
        log::error!("session write lost {MAX_ATTEMPTS} compare-and-set rounds in a row");
        Err(HttpError::service_unavailable("Session store busy"))
    }

    /// A new session holding `data`, and its cookie.
    fn create(
        &self,
        data: Map<String, Value>,
        created: u64,
        response: &mut Response,
    ) -> Result<(), HttpError> {
        let record = Record {
            created,
            touched: self.now,
            data,
        };
        fits(self.store, &record)?;
        let until = expiry(&record, self.config);
        let value = self.store.create(&record, until).map_err(unavailable)?;
        self.set(&value, response)
    }

    /// Sets the session cookie, unless it would be too large for browsers to keep.
    fn set(&self, value: &str, response: &mut Response) -> Result<(), HttpError> {
        let cookie = self.cookie(value);
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
            .same_site(self.config.same_site);
        if self.config.host_prefix || self.config.secure.unwrap_or(self.https) {
            cookie = cookie.secure();
        }
        cookie
    }
}

/// This request's own changes (a clear, keys set, keys removed) on top of `base`.
fn apply(state: &State, base: Map<String, Value>) -> Map<String, Value> {
    let mut data = if state.cleared { Map::new() } else { base };
    for (key, change) in &state.changes {
        match change {
            Some(value) => data.insert(key.clone(), value.clone()),
            None => data.remove(key),
        };
    }
    data
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn state(changes: BTreeMap<String, Option<Value>>, cleared: bool) -> State {
        State {
            origin: Origin::Fresh,
            had_cookie: false,
            data: Map::new(),
            changes,
            cleared,
            cycle: false,
            destroyed: false,
        }
    }

    fn changes() -> impl Strategy<Value = BTreeMap<String, Option<Value>>> {
        proptest::collection::btree_map("[a-e]", proptest::option::of(any::<u8>()), 0..5).prop_map(
            |m| {
                m.into_iter()
                    .map(|(k, v)| (k, v.map(|n| json!(n))))
                    .collect()
            },
        )
    }

    proptest! {
        /// Two requests that change different keys, committed in either order, both keep
        /// their change; a key neither touched keeps its stored value.
        #[test]
        fn disjoint_changes_commute_and_both_survive(a in changes(), b in changes(),
                                                    base in proptest::collection::btree_map("[a-z]", any::<u8>(), 0..8)) {
            let b: BTreeMap<_, _> = b.into_iter().filter(|(k, _)| !a.contains_key(k)).collect();
            let base: Map<String, Value> = base.into_iter().map(|(k, v)| (k, json!(v))).collect();
            let (sa, sb) = (state(a.clone(), false), state(b.clone(), false));
            let ab = apply(&sb, apply(&sa, base.clone()));
            let ba = apply(&sa, apply(&sb, base.clone()));
            prop_assert_eq!(&ab, &ba);
            for (key, change) in a.iter().chain(b.iter()) {
                prop_assert_eq!(ab.get(key), change.as_ref());
            }
            for (key, value) in &base {
                if !a.contains_key(key) && !b.contains_key(key) {
                    prop_assert_eq!(ab.get(key), Some(value));
                }
            }
        }

        /// Same key: the request applied last wins.
        #[test]
        fn the_last_write_of_one_key_wins(x in any::<u8>(), y in any::<u8>()) {
            let sa = state(BTreeMap::from([("k".to_string(), Some(json!(x)))]), false);
            let sb = state(BTreeMap::from([("k".to_string(), Some(json!(y)))]), false);
            let merged = apply(&sb, apply(&sa, Map::new()));
            prop_assert_eq!(merged.get("k"), Some(&json!(y)));
        }
    }

    #[test]
    fn a_clear_drops_what_was_stored_but_keeps_this_requests_keys() {
        let base: Map<String, Value> = [("old".to_string(), json!(1))].into_iter().collect();
        let s = state(BTreeMap::from([("new".to_string(), Some(json!(2)))]), true);
        assert_eq!(Value::Object(apply(&s, base)), json!({"new": 2}));
    }
}
