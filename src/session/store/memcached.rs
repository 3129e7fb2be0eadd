//! `memcached://HOST:PORT`: sessions in memcached under `pycnic:session:<hex of the id hash>`,
//! with an expiry time, so expired sessions disappear by themselves. New sessions use `add`
//! (fails if present), writes use `cas` with the token `gets` returned. Each operation takes a
//! client of its own from a per-process pool (one connection each, made on first use with
//! connect and IO timeouts, not pinged before use); a client that failed is dropped and the
//! next one reconnects.
//!
//! Cost: the `memcache` crate (0.21) writes and reads each binary-protocol header field with
//! its own system call on an unbuffered socket, so this store costs about twice Redis's per
//! request here (scripts/bench-sessions.sh); a buffered client would close the gap.

use std::time::Duration;

use super::{
    AuthKey, AuthRecords, Failures, IdHash, Pool, Record, Store, StoreError, Versioned, hex,
};

/// The memcached store.
pub struct MemcachedStore {
    url: String,
    timeout: Duration,
    pool: Pool<memcache::Client>,
    /// The one helper thread r2d2 needs, shared by every client (r2d2 would start three per
    /// client otherwise).
    helpers: std::sync::Arc<scheduled_thread_pool::ScheduledThreadPool>,
}

fn failed(err: impl std::fmt::Display) -> StoreError {
    StoreError(format!("memcached: {err}"))
}

fn key(id: &IdHash) -> String {
    format!("pycnic:session:{}", hex(id))
}

/// memcached reads an expiry over 30 days as a unix time; sessions never live that long here,
/// but clamp anyway.
fn expiry(ttl: u64) -> u32 {
    u32::try_from(ttl.clamp(1, 30 * 24 * 3600)).unwrap_or(1)
}

impl MemcachedStore {
    /// A store for `host:port` (connected on first use).
    pub fn new(host: &str, timeout: Duration) -> MemcachedStore {
        let secs = timeout.as_secs_f64();
        MemcachedStore {
            url: format!("memcache://{host}?timeout={secs}&tcp_nodelay=true"),
            timeout,
            pool: Pool::new(),
            helpers: std::sync::Arc::new(scheduled_thread_pool::ScheduledThreadPool::new(1)),
        }
    }

    /// A client with one connection of its own. Its pool does not ping memcached before each
    /// use (`test_on_check_out` off: one round trip saved per operation); a client whose
    /// connection failed is dropped by [`Pool`] instead.
    fn connect(&self) -> Result<memcache::Client, StoreError> {
        let url = memcache::Url::parse(&self.url).map_err(failed)?;
        let pool = r2d2::Pool::builder()
            .max_size(1)
            .min_idle(Some(1))
            .test_on_check_out(false)
            .connection_timeout(self.timeout)
            .thread_pool(std::sync::Arc::clone(&self.helpers))
            .build(memcache::ConnectionManager::new(url))
            .map_err(failed)?;
        memcache::Client::with_pool(pool).map_err(failed)
    }

    fn with<T>(
        &self,
        op: impl Fn(&memcache::Client) -> Result<T, memcache::MemcacheError>,
    ) -> Result<T, StoreError> {
        self.pool
            .with(|| self.connect(), |client| op(client).map_err(failed))
    }
}

impl Store for MemcachedStore {
    fn load(&self, id: &IdHash) -> Result<Option<Versioned>, StoreError> {
        let key = key(id);
        let mut found =
            self.with(|client| client.gets::<(Vec<u8>, u32, Option<u64>)>(&[key.as_str()]))?;
        Ok(found.remove(&key).and_then(|(bytes, _, cas)| {
            Some(Versioned {
                record: Record::from_json(&bytes)?,
                version: cas?,
            })
        }))
    }

    fn create(&self, id: &IdHash, record: &Record, ttl: u64) -> Result<(), StoreError> {
        let bytes = record.to_json();
        self.with(|client| client.add(&key(id), bytes.as_slice(), expiry(ttl)))
    }

    fn update(
        &self,
        id: &IdHash,
        record: &Record,
        version: u64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let bytes = record.to_json();
        self.with(|client| {
            match client.cas(&key(id), bytes.as_slice(), expiry(ttl), version) {
                // EXISTS (changed meanwhile) and NOT_FOUND (deleted) are answers, not failures.
                Err(memcache::MemcacheError::CommandError(
                    memcache::CommandError::KeyExists | memcache::CommandError::KeyNotFound,
                )) => Ok(false),
                other => other,
            }
        })
    }

    fn delete(&self, id: &IdHash) -> Result<(), StoreError> {
        self.with(|client| client.delete(&key(id)).map(|_| ()))
    }
}

// --- Who is logged in (session/auth.rs): per-user revocation and login throttle counters,
// --- shared by every backend that uses this memcached. Same clients as the sessions. A
// --- memcached short of memory may evict these records before their time (a revoked session
// --- would come back, a count would restart): give it room, or use Redis.

fn user_key(user: &AuthKey) -> String {
    format!("pycnic:user:{}", hex(user))
}

fn fail_key(key: &AuthKey) -> String {
    format!("pycnic:fail:{}", hex(key))
}

/// A count record as stored: `COUNT:UNTIL`.
fn parse_failures(text: &str) -> Option<Failures> {
    let (count, until) = text.split_once(':')?;
    Some(Failures {
        count: count.parse().ok()?,
        until: until.parse().ok()?,
    })
}

impl AuthRecords for MemcachedStore {
    fn revoked_at(&self, user: &AuthKey) -> Result<u64, StoreError> {
        let found = self.with(|client| client.get::<String>(&user_key(user)))?;
        Ok(found.and_then(|t| t.parse().ok()).unwrap_or(0))
    }

    fn revoke(&self, user: &AuthKey, at: u64, ttl: u64) -> Result<(), StoreError> {
        self.with(|client| client.set(&user_key(user), at.to_string().as_str(), expiry(ttl)))
    }

    fn failures(&self, key: &AuthKey, now: u64) -> Result<Failures, StoreError> {
        let found = self.with(|client| client.get::<String>(&fail_key(key)))?;
        Ok(found
            .as_deref()
            .and_then(parse_failures)
            .filter(|f| f.until > now)
            .unwrap_or_default())
    }

    /// `gets` then `cas` (or `add` when absent), retried when another backend counted in
    /// between, so no failure is lost.
    fn fail(&self, key: &AuthKey, now: u64, lockout: u64) -> Result<Failures, StoreError> {
        let key = fail_key(key);
        for _ in 0..16 {
            let mut found =
                self.with(|client| client.gets::<(String, u32, Option<u64>)>(&[key.as_str()]))?;
            let current = found.remove(&key);
            let previous = current
                .as_ref()
                .and_then(|(text, _, _)| parse_failures(text))
                .filter(|f| f.until > now)
                .unwrap_or_default();
            let next = Failures {
                count: previous.count + 1,
                until: now.saturating_add(lockout),
            };
            let text = format!("{}:{}", next.count, next.until);
            let written = self.with(|client| {
                let outcome = match current.as_ref().and_then(|(_, _, cas)| *cas) {
                    Some(cas) => client.cas(&key, text.as_str(), expiry(lockout), cas),
                    None => client
                        .add(&key, text.as_str(), expiry(lockout))
                        .map(|()| true),
                };
                match outcome {
                    Err(memcache::MemcacheError::CommandError(
                        memcache::CommandError::KeyExists | memcache::CommandError::KeyNotFound,
                    )) => Ok(false),
                    other => other,
                }
            })?;
            if written {
                return Ok(next);
            }
        }
        Err(StoreError("memcached: login counter busy".into()))
    }

    fn reset(&self, key: &AuthKey) -> Result<(), StoreError> {
        self.with(|client| client.delete(&fail_key(key)).map(|_| ()))
    }
}
