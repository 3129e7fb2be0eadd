//! `redis://HOST:PORT[/DB]`: sessions in Redis, one hash per session (`v` version, `r` record)
//! under `pycnic:session:<hex of the id hash>`, with a TTL, so expired sessions disappear by
//! themselves. Creation and compare-and-set run as Lua scripts (atomic on the server). A
//! per-process pool of synchronous connections, opened on first use with a connect and IO
//! timeout; a failed connection is dropped and the next request reconnects.

use std::time::Duration;

use super::{IdHash, Pool, Record, Store, StoreError, Versioned, hex};

const CREATE: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end \
    redis.call('HSET', KEYS[1], 'v', 1, 'r', ARGV[1]) \
    redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1";

const UPDATE: &str = "local v = redis.call('HGET', KEYS[1], 'v') \
    if v ~= ARGV[1] then return 0 end \
    redis.call('HSET', KEYS[1], 'v', tonumber(v) + 1, 'r', ARGV[2]) \
    redis.call('EXPIRE', KEYS[1], ARGV[3]) return 1";

/// The Redis store.
pub struct RedisStore {
    client: redis::Client,
    timeout: Duration,
    pool: Pool<redis::Connection>,
}

fn failed(err: impl std::fmt::Display) -> StoreError {
    StoreError(format!("redis: {err}"))
}

fn key(id: &IdHash) -> String {
    format!("pycnic:session:{}", hex(id))
}

impl RedisStore {
    /// A store for `url` (checked now, connected on first use).
    pub fn new(url: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        Ok(RedisStore {
            client: redis::Client::open(url).map_err(failed)?,
            timeout,
            pool: Pool::new(),
        })
    }

    fn connect(&self) -> Result<redis::Connection, StoreError> {
        let conn = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(failed)?;
        conn.set_read_timeout(Some(self.timeout)).map_err(failed)?;
        conn.set_write_timeout(Some(self.timeout)).map_err(failed)?;
        Ok(conn)
    }

    fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        self.pool
            .with(|| self.connect(), |conn| cmd.query(conn).map_err(failed))
    }
}

impl Store for RedisStore {
    fn load(&self, id: &IdHash) -> Result<Option<Versioned>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(key(id)).arg("v").arg("r");
        let (version, bytes): (Option<u64>, Option<Vec<u8>>) = self.query(&cmd)?;
        Ok(version.zip(bytes).and_then(|(version, bytes)| {
            Some(Versioned {
                record: Record::from_json(&bytes)?,
                version,
            })
        }))
    }

    fn create(&self, id: &IdHash, record: &Record, ttl: u64) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(CREATE).arg(1).arg(key(id)).arg(record.to_json());
        cmd.arg(ttl.max(1));
        match self.query::<i64>(&cmd)? {
            1 => Ok(()),
            _ => Err(StoreError("redis: session id collision".into())),
        }
    }

    fn update(
        &self,
        id: &IdHash,
        record: &Record,
        version: u64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(UPDATE).arg(1).arg(key(id)).arg(version.to_string());
        cmd.arg(record.to_json()).arg(ttl.max(1));
        Ok(self.query::<i64>(&cmd)? == 1)
    }

    fn delete(&self, id: &IdHash) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key(id));
        self.query::<i64>(&cmd).map(|_| ())
    }
}
