//! `sqlite:PATH`: the embedded default store. One file shared by every process on the host
//! (one-shot CGI processes and FastCGI workers at once): WAL journal, a busy timeout, a version
//! column for compare-and-set, an `expires` column swept on some creations and by
//! `pycnic sessions gc`.
//!
//! A deleted store: each operation first checks that the path still names the file its
//! connection opened (same device and inode); if the file was deleted or replaced, the
//! connection is dropped with an error line in the log and the operation runs on a new
//! connection to the file now at the path. A process that creates a new, empty store file
//! says so in the log, so sessions lost with a deleted file are never lost silently.
//!
//! Time bounds: a write first takes this process's turn (a lock waited for only until the
//! operation's deadline), then meets another process's lock with SQLite's busy timeout set to
//! what is left of the deadline; both give up with a store error, so a locked file is a 503
//! within `PYCNIC_SESSION_TIMEOUT_MS`, never a worker held for longer.

use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    Access, AuthKey, AuthRecords, Failures, IdHash, Pool, Record, Store, StoreError, Versioned,
};
use crate::secure_cookie::now;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS pycnic_sessions (
    id BLOB PRIMARY KEY,
    version INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    record BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pycnic_sessions_expires ON pycnic_sessions (expires);
CREATE TABLE IF NOT EXISTS pycnic_users (
    id BLOB PRIMARY KEY,
    revoked_at INTEGER NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pycnic_failures (
    id BLOB PRIMARY KEY,
    count INTEGER NOT NULL,
    until INTEGER NOT NULL
) WITHOUT ROWID;";

/// The SQLite store: a path and a per-process pool of connections opened on first use.
pub struct SqliteStore {
    path: PathBuf,
    pool: Pool<Open>,
    /// Serialises this process's writes: threads queue here instead of sleeping in SQLite's
    /// busy handler (other processes still meet the busy timeout).
    writing: Turn,
}

/// A connection and the file it opened (device and inode), to notice a deleted store.
struct Open {
    conn: Connection,
    file: (u64, u64),
}

/// The device and inode at `path`, if a file is there.
fn identity(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// A lock waited for until a deadline at most (std's `Mutex` cannot give up).
struct Turn {
    taken: Mutex<bool>,
    freed: Condvar,
}

/// Holding the turn; dropping it lets the next writer in.
struct Holding<'a>(&'a Turn);

impl Turn {
    fn take(&self, deadline: Instant) -> Result<Holding<'_>, StoreError> {
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        while *taken {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(failed("timed out waiting for this process's other writes"));
            }
            taken = match self.freed.wait_timeout(taken, left) {
                Ok((guard, _)) => guard,
                Err(poison) => poison.into_inner().0,
            };
        }
        *taken = true;
        Ok(Holding(self))
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        *self.0.taken.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.0.freed.notify_one();
    }
}

fn failed(err: impl std::fmt::Display) -> StoreError {
    StoreError(format!("sqlite: {err}"))
}

impl SqliteStore {
    /// A store at `path`; `timeout` bounds each operation, waits for locks included.
    pub fn new(path: &str, timeout: Duration) -> SqliteStore {
        SqliteStore {
            path: PathBuf::from(path),
            pool: Pool::new("sqlite", timeout),
            writing: Turn {
                taken: Mutex::new(false),
                freed: Condvar::new(),
            },
        }
    }

    fn connect(&self, left: Duration) -> Result<Open, StoreError> {
        // Never a file or folder someone else could have planted or could write.
        super::location::secure(&self.path).map_err(failed)?;
        // Session data is private: create the file owner-only before SQLite opens it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&self.path);
            if created.is_ok() {
                log::warn!(
                    "session store {}: created a new, empty store (no sessions yet)",
                    self.path.display()
                );
            }
        }
        let conn = Connection::open(&self.path).map_err(failed)?;
        conn.busy_timeout(left).map_err(failed)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(failed)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(failed)?;
        conn.execute_batch(SCHEMA).map_err(failed)?;
        let file = identity(&self.path).ok_or_else(|| failed("the store file vanished"))?;
        Ok(Open { conn, file })
    }

    /// Refuses a connection whose file is no longer the one at the path (deleted, replaced).
    fn current(&self, open: &Open) -> Result<(), StoreError> {
        if identity(&self.path) == Some(open.file) {
            return Ok(());
        }
        log::error!(
            "session store {} was deleted or replaced under this process: its sessions are \
             gone; reopening the file now at that path",
            self.path.display()
        );
        Err(failed("the store file was deleted or replaced"))
    }

    fn write<T>(
        &self,
        op: impl Fn(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.pool.with(
            Access::Write,
            |left| self.connect(left),
            |open, deadline| {
                self.current(open)?;
                let _turn = self.writing.take(deadline)?;
                let left = deadline.saturating_duration_since(Instant::now());
                open.conn.busy_timeout(left).map_err(failed)?;
                op(&mut open.conn).map_err(failed)
            },
        )
    }

    fn with<T>(
        &self,
        op: impl Fn(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.pool.with(
            Access::Read,
            |left| self.connect(left),
            |open, deadline| {
                self.current(open)?;
                let left = deadline.saturating_duration_since(Instant::now());
                open.conn.busy_timeout(left).map_err(failed)?;
                op(&mut open.conn).map_err(failed)
            },
        )
    }
}

fn expires_at(ttl: u64) -> i64 {
    i64::try_from(now().saturating_add(ttl)).unwrap_or(i64::MAX)
}

impl Store for SqliteStore {
    fn load(&self, id: &IdHash) -> Result<Option<Versioned>, StoreError> {
        let row: Option<(i64, Vec<u8>)> = self.with(|conn| {
            conn.prepare_cached("SELECT version, record FROM pycnic_sessions WHERE id = ?1")?
                .query_row(params![&id[..]], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
                })
                .optional()
        })?;
        Ok(row.and_then(|(version, bytes)| {
            Some(Versioned {
                record: Record::from_json(&bytes)?,
                version: u64::try_from(version).ok()?,
            })
        }))
    }

    fn create(&self, id: &IdHash, record: &Record, ttl: u64) -> Result<(), StoreError> {
        let sweep = id[0] < 4; // about one creation in 64 sweeps expired rows
        self.write(|conn| {
            conn.prepare_cached(
                "INSERT INTO pycnic_sessions (id, version, expires, record) VALUES (?1, 1, ?2, ?3)",
            )?
            .execute(params![&id[..], expires_at(ttl), record.to_json()])?;
            if sweep {
                sweep_expired(conn)?;
            }
            Ok(())
        })
    }

    fn update(
        &self,
        id: &IdHash,
        record: &Record,
        version: u64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let version = i64::try_from(version).unwrap_or(-1);
        let changed = self.write(|conn| {
            conn.prepare_cached(
                "UPDATE pycnic_sessions SET version = version + 1, expires = ?3, record = ?4 \
                 WHERE id = ?1 AND version = ?2",
            )?
            .execute(params![&id[..], version, expires_at(ttl), record.to_json()])
        })?;
        Ok(changed == 1)
    }

    fn delete(&self, id: &IdHash) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached("DELETE FROM pycnic_sessions WHERE id = ?1")?
                .execute(params![&id[..]])
        })
        .map(|_| ())
    }

    fn gc(&self) -> Result<u64, StoreError> {
        self.write(sweep_expired)
    }

    fn health(&self) -> Option<super::StoreHealth> {
        Some(self.pool.health())
    }

    /// SQLite's limit on one value (`SQLITE_MAX_LENGTH`, 10⁹ bytes by default).
    fn max_record(&self) -> Option<usize> {
        Some(1_000_000_000)
    }
}

/// Expired sessions, revocation records and lapsed login counts; returns how many sessions.
fn sweep_expired(conn: &mut Connection) -> rusqlite::Result<u64> {
    let now = i64::try_from(now()).unwrap_or(i64::MAX);
    let removed = conn
        .prepare_cached("DELETE FROM pycnic_sessions WHERE expires <= ?1")?
        .execute(params![now])?;
    conn.prepare_cached("DELETE FROM pycnic_users WHERE expires <= ?1")?
        .execute(params![now])?;
    conn.prepare_cached("DELETE FROM pycnic_failures WHERE until <= ?1")?
        .execute(params![now])?;
    Ok(removed as u64)
}

// --- Who is logged in (session/auth.rs): per-user revocation and login throttle counters,
// --- shared by every process on the host that uses this file; swept with the sessions.

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl AuthRecords for SqliteStore {
    fn revoked_at(&self, user: &AuthKey) -> Result<u64, StoreError> {
        let at: Option<i64> = self.with(|conn| {
            conn.prepare_cached(
                "SELECT revoked_at FROM pycnic_users WHERE id = ?1 AND expires > ?2",
            )?
            .query_row(params![&user[..], int(now())], |row| row.get(0))
            .optional()
        })?;
        Ok(at.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }

    fn revoke(&self, user: &AuthKey, at: u64, ttl: u64) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached(
                "INSERT INTO pycnic_users (id, revoked_at, expires) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET revoked_at = max(revoked_at, ?2), expires = ?3",
            )?
            .execute(params![&user[..], int(at), expires_at(ttl)])
        })
        .map(|_| ())
    }

    fn failures(&self, key: &AuthKey, now: u64) -> Result<Failures, StoreError> {
        let row: Option<(i64, i64)> = self.with(|conn| {
            conn.prepare_cached(
                "SELECT count, until FROM pycnic_failures WHERE id = ?1 AND until > ?2",
            )?
            .query_row(params![&key[..], int(now)], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
        })?;
        Ok(
            row.map_or_else(Failures::default, |(count, until)| Failures {
                count: u64::try_from(count).unwrap_or(0),
                until: u64::try_from(until).unwrap_or(0),
            }),
        )
    }

    fn fail(&self, key: &AuthKey, now: u64, lockout: u64) -> Result<Failures, StoreError> {
        let until = now.saturating_add(lockout);
        let count: i64 = self.write(|conn| {
            conn.prepare_cached(
                "INSERT INTO pycnic_failures (id, count, until) VALUES (?1, 1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET \
                 count = CASE WHEN until <= ?3 THEN 1 ELSE count + 1 END, until = ?2 \
                 RETURNING count",
            )?
            .query_row(params![&key[..], int(until), int(now)], |row| row.get(0))
        })?;
        Ok(Failures {
            count: u64::try_from(count).unwrap_or(0),
            until,
        })
    }

    fn reset(&self, key: &AuthKey) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached("DELETE FROM pycnic_failures WHERE id = ?1")?
                .execute(params![&key[..]])
        })
        .map(|_| ())
    }
}
