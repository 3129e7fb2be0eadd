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

use super::{IdHash, Pool, Record, Store, StoreError, Versioned, hex};

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
