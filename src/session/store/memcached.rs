//! `memcached://HOST:PORT`: sessions in memcached under `pycnic:session:<hex of the id hash>`,
//! with an expiry time, so expired sessions disappear by themselves. New sessions use `add`
//! (fails if present), writes use `cas` with the token `gets` returned. The `memcache` crate's
//! pool (r2d2) connects on first use, with connect and IO timeouts, and replaces a connection
//! that stops answering.

use std::sync::Mutex;
use std::time::Duration;

use super::{IdHash, Record, Store, StoreError, Versioned, hex};

/// The memcached store.
pub struct MemcachedStore {
    url: String,
    timeout: Duration,
    client: Mutex<Option<std::sync::Arc<memcache::Client>>>,
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
            client: Mutex::new(None),
        }
    }

    /// The client, built on first use; a failed build is retried by the next request.
    fn client(&self) -> Result<std::sync::Arc<memcache::Client>, StoreError> {
        let mut slot = self.client.lock().map_err(failed)?;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let client = memcache::Client::builder()
            .add_server(self.url.as_str())
            .map_err(failed)?
            .with_max_pool_size(8)
            .with_min_idle_conns(1)
            .with_connection_timeout(self.timeout)
            .build()
            .map_err(failed)?;
        let client = std::sync::Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }
}

impl Store for MemcachedStore {
    fn load(&self, id: &IdHash) -> Result<Option<Versioned>, StoreError> {
        let key = key(id);
        let mut found = self
            .client()?
            .gets::<(Vec<u8>, u32, Option<u64>)>(&[key.as_str()])
            .map_err(failed)?;
        Ok(found.remove(&key).and_then(|(bytes, _, cas)| {
            Some(Versioned {
                record: Record::from_json(&bytes)?,
                version: cas?,
            })
        }))
    }

    fn create(&self, id: &IdHash, record: &Record, ttl: u64) -> Result<(), StoreError> {
        self.client()?
            .add(&key(id), record.to_json().as_slice(), expiry(ttl))
            .map_err(failed)
    }

    fn update(
        &self,
        id: &IdHash,
        record: &Record,
        version: u64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let client = self.client()?;
        let written = client.cas(&key(id), record.to_json().as_slice(), expiry(ttl), version);
        match written {
            Ok(swapped) => Ok(swapped),
            // EXISTS (changed meanwhile) and NOT_FOUND (deleted) are answers, not failures.
            Err(memcache::MemcacheError::CommandError(
                memcache::CommandError::KeyExists | memcache::CommandError::KeyNotFound,
            )) => Ok(false),
            Err(err) => Err(failed(err)),
        }
    }

    fn delete(&self, id: &IdHash) -> Result<(), StoreError> {
        self.client()?.delete(&key(id)).map(|_| ()).map_err(failed)
    }
}
