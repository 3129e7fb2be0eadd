//! `cookie`: the whole session record in a private (AES-256-GCM) cookie. Stateless: it works
//! across backends that share the key file, with no server. The token's authenticated expiry is
//! the session's own (idle or absolute, whichever comes first), so a stolen copy dies with it;
//! but a copy kept from before a logout stays valid until then, as no server remembers the
//! logout.

use super::Record;
use crate::keys::Keys;
use crate::secure_cookie::{open_private, seal_private};

/// The record carried by the cookie `name`'s token, if it opens at `now`.
pub fn open(keys: &Keys, name: &str, token: &str, now: u64) -> Option<Record> {
    Record::from_json(&open_private(keys, name, token, now)?)
}

/// A token carrying `record` until `expiry`.
pub fn seal(
    keys: &Keys,
    name: &str,
    record: &Record,
    expiry: u64,
) -> Result<String, getrandom::Error> {
    seal_private(keys, name, &record.to_json(), expiry)
}
