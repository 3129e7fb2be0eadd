//! `memcached://HOST:PORT`: sessions in memcached under `pycnic:session:<hex of the id hash>`,
//! with an expiry time, so expired sessions disappear by themselves. New sessions use `add`
//! (fails if present), writes use `cas` with the token `gets` returned.
//!
//! The client is these four commands of memcached's text protocol over one `TcpStream` per
//! pooled connection (`Pool`: deadline, breaker): each command is written with one system
//! call and read through a buffer, a refused connection fails at once, and every read and
//! write waits only until the operation's deadline. Replies are read with limits (a line of
//! at most 1 KiB, a value of at most [`MAX_VALUE`] bytes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{
    Access, AuthKey, AuthRecords, Failures, IdHash, Pool, Record, Store, StoreError, Versioned, hex,
};

/// The largest value this store writes or reads: memcached's default item limit is 1 MiB
/// (`-I 1m`), key and item header included, so a value keeps a margin under it.
pub const MAX_VALUE: usize = 1024 * 1024 - 4096;

/// The longest reply line read (a `VALUE` line is under 150 bytes).
const MAX_LINE: u64 = 1024;

/// The memcached store.
pub struct MemcachedStore {
    host: String,
    pool: Pool<Conn>,
}

/// One connection: the socket, read through a buffer.
struct Conn {
    reader: BufReader<TcpStream>,
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

impl Conn {
    fn open(host: &str, left: Duration) -> Result<Conn, StoreError> {
        let mut last = None;
        for addr in host.to_socket_addrs().map_err(failed)? {
            match TcpStream::connect_timeout(&addr, left) {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(failed)?;
                    return Ok(Conn {
                        reader: BufReader::new(stream),
                    });
                }
                Err(err) => last = Some(err),
            }
        }
        Err(match last {
            Some(err) => failed(format!("cannot connect to {host}: {err}")),
            None => failed(format!("{host} resolves to no address")),
        })
    }

    /// Sends one command (with its data block, if any) in one write, within the deadline.
    fn send(
        &mut self,
        command: &str,
        data: Option<&[u8]>,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(failed("timed out"));
        }
        let stream = self.reader.get_mut();
        stream.set_write_timeout(Some(left)).map_err(failed)?;
        stream.set_read_timeout(Some(left)).map_err(failed)?;
        let mut out = Vec::with_capacity(command.len() + data.map_or(0, |d| d.len() + 4) + 2);
        out.extend_from_slice(command.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(data) = data {
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        stream.write_all(&out).map_err(failed)
    }

    /// One reply line, without its CRLF.
    fn line(&mut self) -> Result<String, StoreError> {
        let mut line = Vec::new();
        (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .map_err(failed)?;
        if !line.ends_with(b"\r\n") {
            return Err(failed("reply line cut short or too long"));
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|_| failed("reply line is not text"))
    }

    /// A reply that is one status word: `Ok(word)` for those in `answers`, else an error.
    fn status(&mut self, answers: &[&'static str]) -> Result<&'static str, StoreError> {
        let line = self.line()?;
        answers
            .iter()
            .find(|&&a| a == line)
            .copied()
            .ok_or_else(|| failed(format!("unexpected reply {line:?}")))
    }

    /// `gets KEY`: the value and its CAS token, if present.
    fn gets(&mut self, key: &str, deadline: Instant) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        self.send(&format!("gets {key}"), None, deadline)?;
        let line = self.line()?;
        if line == "END" {
            return Ok(None);
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let (bytes, cas) = match fields.as_slice() {
            ["VALUE", k, _flags, bytes, cas] if *k == key => (bytes.parse::<usize>(), cas.parse()),
            _ => return Err(failed(format!("unexpected reply {line:?}"))),
        };
        let (Ok(bytes), Ok(cas)) = (bytes, cas) else {
            return Err(failed(format!("unexpected reply {line:?}")));
        };
        if bytes > MAX_VALUE {
            return Err(failed(format!(
                "a value of {bytes} bytes, over {MAX_VALUE}"
            )));
        }
        let mut value = vec![0u8; bytes + 2];
        self.reader.read_exact(&mut value).map_err(failed)?;
        if !value.ends_with(b"\r\n") {
            return Err(failed("value not followed by CRLF"));
        }
        value.truncate(bytes);
        self.status(&["END"])?;
        Ok(Some((value, cas)))
    }
}

impl MemcachedStore {
    /// A store for `host:port` (connected on first use).
    pub fn new(host: &str, timeout: Duration) -> MemcachedStore {
        MemcachedStore {
            host: host.to_string(),
            pool: Pool::new("memcached", timeout),
        }
    }

    fn with<T>(
        &self,
        access: Access,
        op: impl Fn(&mut Conn, Instant) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.pool
            .with(access, |left| Conn::open(&self.host, left), op)
    }
}

impl Store for MemcachedStore {
    fn load(&self, id: &IdHash) -> Result<Option<Versioned>, StoreError> {
        let key = key(id);
        let found = self.with(Access::Read, |conn, deadline| conn.gets(&key, deadline))?;
        Ok(found.and_then(|(bytes, cas)| {
            Some(Versioned {
                record: Record::from_json(&bytes)?,
                version: cas,
            })
        }))
    }

    fn create(&self, id: &IdHash, record: &Record, ttl: u64) -> Result<(), StoreError> {
        let bytes = record.to_json();
        let command = format!("add {} 0 {} {}", key(id), expiry(ttl), bytes.len());
        self.with(Access::Write, |conn, deadline| {
            conn.send(&command, Some(&bytes), deadline)?;
            match conn.status(&["STORED", "NOT_STORED"])? {
                "STORED" => Ok(()),
                _ => Err(failed("session id collision")),
            }
        })
    }

    fn update(
        &self,
        id: &IdHash,
        record: &Record,
        version: u64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let bytes = record.to_json();
        let command = format!(
            "cas {} 0 {} {} {version}",
            key(id),
            expiry(ttl),
            bytes.len()
        );
        self.with(Access::Write, |conn, deadline| {
            conn.send(&command, Some(&bytes), deadline)?;
            // EXISTS (changed meanwhile) and NOT_FOUND (deleted) are answers, not failures.
            Ok(conn.status(&["STORED", "EXISTS", "NOT_FOUND"])? == "STORED")
        })
    }

    fn delete(&self, id: &IdHash) -> Result<(), StoreError> {
        let command = format!("delete {}", key(id));
        self.with(Access::Write, |conn, deadline| {
            conn.send(&command, None, deadline)?;
            conn.status(&["DELETED", "NOT_FOUND"]).map(|_| ())
        })
    }

    fn health(&self) -> Option<super::StoreHealth> {
        Some(self.pool.health())
    }

    fn max_record(&self) -> Option<usize> {
        Some(MAX_VALUE)
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

impl MemcachedStore {
    /// `gets KEY` as text: the value and its CAS token, if present.
    fn get_text(&self, key: &str) -> Result<Option<(String, u64)>, StoreError> {
        let found = self.with(Access::Read, |conn, deadline| conn.gets(key, deadline))?;
        Ok(found.and_then(|(bytes, cas)| String::from_utf8(bytes).ok().map(|t| (t, cas))))
    }

    /// Stores `text` under `key` with `command` (`set`, `add`, or `cas … TOKEN`): whether it
    /// was stored (`NOT_STORED`, `EXISTS`, `NOT_FOUND`: another writer came first).
    fn put_text(&self, command: &str, key: &str, text: &str, ttl: u64) -> Result<bool, StoreError> {
        let (verb, token) = command.split_once(' ').unwrap_or((command, ""));
        let line = format!("{verb} {key} 0 {} {} {token}", expiry(ttl), text.len());
        let line = line.trim_end().to_string();
        self.with(Access::Write, |conn, deadline| {
            conn.send(&line, Some(text.as_bytes()), deadline)?;
            Ok(conn.status(&["STORED", "NOT_STORED", "EXISTS", "NOT_FOUND"])? == "STORED")
        })
    }
}

impl AuthRecords for MemcachedStore {
    fn revoked_at(&self, user: &AuthKey) -> Result<u64, StoreError> {
        let found = self.get_text(&user_key(user))?;
        Ok(found.and_then(|(t, _)| t.parse().ok()).unwrap_or(0))
    }

    fn revoke(&self, user: &AuthKey, at: u64, ttl: u64) -> Result<(), StoreError> {
        if self.put_text("set", &user_key(user), &at.to_string(), ttl)? {
            Ok(())
        } else {
            Err(failed("revocation not stored"))
        }
    }

    fn failures(&self, key: &AuthKey, now: u64) -> Result<Failures, StoreError> {
        let found = self.get_text(&fail_key(key))?;
        Ok(found
            .and_then(|(text, _)| parse_failures(&text))
            .filter(|f| f.until > now)
            .unwrap_or_default())
    }

    /// `gets` then `cas` (or `add` when absent), retried when another backend counted in
    /// between, so no failure is lost.
    fn fail(&self, key: &AuthKey, now: u64, lockout: u64) -> Result<Failures, StoreError> {
        let key = fail_key(key);
        for _ in 0..16 {
            let current = self.get_text(&key)?;
            let previous = current
                .as_ref()
                .and_then(|(text, _)| parse_failures(text))
                .filter(|f| f.until > now)
                .unwrap_or_default();
            let next = Failures {
                count: previous.count + 1,
                until: now.saturating_add(lockout),
            };
            let text = format!("{}:{}", next.count, next.until);
            let command = match &current {
                Some((_, cas)) => format!("cas {cas}"),
                None => "add".to_string(),
            };
            if self.put_text(&command, &key, &text, lockout)? {
                return Ok(next);
            }
        }
        Err(StoreError("memcached: login counter busy".into()))
    }

    fn reset(&self, key: &AuthKey) -> Result<(), StoreError> {
        let command = format!("delete {}", fail_key(key));
        self.with(Access::Write, |conn, deadline| {
            conn.send(&command, None, deadline)?;
            conn.status(&["DELETED", "NOT_FOUND"]).map(|_| ())
        })
    }
}
