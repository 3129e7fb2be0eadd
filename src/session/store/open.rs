//! Opening the store a `StoreSpec` names: the one place that knows every store type (each
//! behind its cargo feature), above them all, so that the stores' common types never import a
//! store.

use std::fmt;
use std::time::Duration;

#[cfg(feature = "memcached")]
use super::memcached;
#[cfg(feature = "redis")]
use super::redis;
#[cfg(feature = "sqlite")]
use super::sqlite;
use super::{Store, StoreError, StoreSpec};

impl StoreSpec {
    /// Opens a server-side store (connections are made lazily, on first use); `None` for
    /// `cookie`. `timeout` bounds connecting and each network read or write.
    pub fn open(&self, timeout: Duration) -> Result<Option<Box<dyn Store>>, StoreError> {
        match self {
            StoreSpec::Cookie => Ok(None),
            #[cfg(feature = "sqlite")]
            StoreSpec::Sqlite(path) => Ok(Some(Box::new(sqlite::SqliteStore::new(path, timeout)))),
            #[cfg(feature = "redis")]
            StoreSpec::Redis(url) => Ok(Some(Box::new(redis::RedisStore::new(url, timeout)?))),
            #[cfg(feature = "memcached")]
            StoreSpec::Memcached(host) => Ok(Some(Box::new(memcached::MemcachedStore::new(
                host, timeout,
            )))),
            #[allow(unreachable_patterns)]
            other => {
                let _ = timeout;
                Err(StoreError(NotBuilt(other).to_string()))
            }
        }
    }
}

/// A store whose cargo feature this binary was built without.
struct NotBuilt<'a>(&'a StoreSpec);

impl fmt::Display for NotBuilt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let feature = match self.0 {
            StoreSpec::Cookie => "",
            StoreSpec::Sqlite(_) => "sqlite",
            StoreSpec::Redis(_) => "redis",
            StoreSpec::Memcached(_) => "memcached",
        };
        write!(
            f,
            "this program was built without the `{feature}` session store (cargo feature \
             `{feature}` of pycnic)"
        )
    }
}
