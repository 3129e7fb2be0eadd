//! `redis://HOST:PORT[/DB]`: sessions in Redis, one hash per session (`v` version, `r` record)
//! under `pycnic:session:<hex of the id hash>`, with a TTL, so expired sessions disappear by
//! themselves. Creation and compare-and-set run as Lua scripts (atomic on the server). A
//! per-process pool of synchronous connections (`Pool`: its deadline and breaker), opened on
//! first use; each command's IO waits only until the operation's deadline; a failed connection
//! is dropped and the next request reconnects.

use std::time::{Duration, Instant};

use super::{
    Access, AuthKey, AuthRecords, Failures, IdHash, Pool, Record, Store, StoreError, Versioned, hex,
};

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
            pool: Pool::new("redis", timeout),
        })
    }

    fn connect(&self, left: Duration) -> Result<redis::Connection, StoreError> {
        self.client
            .get_connection_with_timeout(left)
            .map_err(failed)
    }

    fn query<T: redis::FromRedisValue>(
        &self,
        access: Access,
        cmd: &redis::Cmd,
    ) -> Result<T, StoreError> {
        self.pool.with(
            access,
            |left| self.connect(left),
            |conn, deadline| {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(failed("timed out"));
                }
                conn.set_read_timeout(Some(left)).map_err(failed)?;
                conn.set_write_timeout(Some(left)).map_err(failed)?;
                cmd.query(conn).map_err(failed)
            },
        )
    }
}

impl Store for RedisStore {
    fn load(&self, id: &IdHash) -> Result<Option<Versioned>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(key(id)).arg("v").arg("r");
        let (version, bytes): (Option<u64>, Option<Vec<u8>>) = self.query(Access::Read, &cmd)?;
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
        match self.query::<i64>(Access::Write, &cmd)? {
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
        Ok(self.query::<i64>(Access::Write, &cmd)? == 1)
    }

    fn delete(&self, id: &IdHash) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key(id));
        self.query::<i64>(Access::Write, &cmd).map(|_| ())
    }

    fn health(&self) -> Option<super::StoreHealth> {
        Some(self.pool.health())
    }

    /// Redis's limit on one string (`proto-max-bulk-len`, 512 MiB by default).
    fn max_record(&self) -> Option<usize> {
        Some(512 * 1024 * 1024)
    }
}

// --- Who is logged in (session/auth.rs): per-user revocation and login throttle counters,
// --- shared by every backend that uses this Redis. Same connections as the sessions.

const FAIL: &str = "local r = redis.call('HMGET', KEYS[1], 'c', 'u') \
    local now = tonumber(ARGV[1]) local count = tonumber(r[1]) or 0 \
    if (tonumber(r[2]) or 0) <= now then count = 0 end \
    count = count + 1 local untl = now + tonumber(ARGV[2]) \
    redis.call('HSET', KEYS[1], 'c', count, 'u', untl) \
    redis.call('EXPIRE', KEYS[1], ARGV[2]) return {count, untl}";

fn user_key(user: &AuthKey) -> String {
    format!("pycnic:user:{}", hex(user))
}

fn fail_key(key: &AuthKey) -> String {
    format!("pycnic:fail:{}", hex(key))
}

impl AuthRecords for RedisStore {
    fn revoked_at(&self, user: &AuthKey) -> Result<u64, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(user_key(user));
        Ok(self.query::<Option<u64>>(Access::Read, &cmd)?.unwrap_or(0))
    }

    fn revoke(&self, user: &AuthKey, at: u64, ttl: u64) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(user_key(user)).arg(at).arg("EX").arg(ttl.max(1));
        self.query::<()>(Access::Write, &cmd)
    }

    fn failures(&self, key: &AuthKey, now: u64) -> Result<Failures, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(fail_key(key)).arg("c").arg("u");
        let (count, until): (Option<u64>, Option<u64>) = self.query(Access::Read, &cmd)?;
        Ok(match (count, until) {
            (Some(count), Some(until)) if until > now => Failures { count, until },
            _ => Failures::default(),
        })
    }

    fn fail(&self, key: &AuthKey, now: u64, lockout: u64) -> Result<Failures, StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(FAIL)
            .arg(1)
            .arg(fail_key(key))
            .arg(now)
            .arg(lockout.max(1));
        let (count, until): (u64, u64) = self.query(Access::Write, &cmd)?;
        Ok(Failures { count, until })
    }

    fn reset(&self, key: &AuthKey) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(fail_key(key));
        self.query::<i64>(Access::Write, &cmd).map(|_| ())
    }
}
