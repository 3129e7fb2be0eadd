//! Signed and private cookie values: the token codec (seal and open) and the read-only view a
//! handler gets (`request.signed_cookies()?.get(name)`, `request.private_cookies()?.get(name)`).
//!
//! A token is unpadded base64url of:
//! - signed (readable, tamper-evident): `1 | key id (4) | expiry (8, BE unix s, 0 = none) |
//!   value | HMAC-SHA256 (32)`; the MAC covers the cookie's name, then everything before it;
//! - private (AES-256-GCM): `2 | key id (4) | nonce (12) | ciphertext+tag` of
//!   `expiry (8) | value`, with the name, version and key id as associated data.
//!
//! So the name, the value and the expiry are all authenticated (a token moved to another cookie
//! name fails), the key id picks the ring key without trial and error, and tags are compared in
//! constant time. A token that fails in any way is `None`: the cookie is simply absent.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::cookie::Cookies;
use crate::keys::{Keys, Purpose};

/// Browsers drop a `Set-Cookie` line longer than this (RFC 6265 §6.1's minimum); pycnic refuses
/// to send one, and ignores a token longer than this.
pub const MAX_COOKIE_BYTES: usize = 4096;

const SIGNED: u8 = 1;
const PRIVATE: u8 = 2;
const KID: usize = 4;
const EXPIRY: usize = 8;
const TAG: usize = 32;
const NONCE: usize = 12;

/// Seconds since the Unix epoch, plus the test client's shift on this thread (0 outside
/// the test client's requests).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_add(CLOCK_SHIFT.get())
}

thread_local! {
    /// Seconds the test client has moved the clock, for the request it runs on this thread.
    static CLOCK_SHIFT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Runs `f` with [`now`] moved `seconds` ahead on this thread: the test client's clock, so
/// session and cookie expiry are checked without sleeping.
pub(crate) fn with_clock_shift<R>(seconds: u64, f: impl FnOnce() -> R) -> R {
    let before = CLOCK_SHIFT.replace(seconds);
    let result = f();
    CLOCK_SHIFT.set(before);
    result
}

/// The MAC of a signed token: the name (length-prefixed, so name and payload cannot trade
/// bytes), then the payload.
fn mac(subkey: &[u8; 32], name: &str, payload: &[u8]) -> [u8; TAG] {
    // HMAC accepts a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(subkey) else {
        return [0; TAG];
    };
    mac.update(b"pycnic signed cookie\0");
    mac.update(&(name.len() as u64).to_be_bytes());
    mac.update(name.as_bytes());
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

/// A signed token for `value` under the cookie `name`, expiring at `expiry` (0: never).
pub fn seal_signed(keys: &Keys, name: &str, value: &[u8], expiry: u64) -> String {
    let key = keys.current();
    let mut bytes = Vec::with_capacity(1 + KID + EXPIRY + value.len() + TAG);
    bytes.push(SIGNED);
    bytes.extend_from_slice(&key.id());
    bytes.extend_from_slice(&expiry.to_be_bytes());
    bytes.extend_from_slice(value);
    let tag = mac(key.subkey(Purpose::SignedCookie), name, &bytes);
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of a signed token, or `None` when it is malformed, forged, made for another name,
/// made by a key no longer in the ring, or expired at `now`.
pub fn open_signed(keys: &Keys, name: &str, token: &str, now: u64) -> Option<Vec<u8>> {
    let bytes = decode(token)?;
    let (payload, tag) = bytes.split_at_checked(bytes.len().checked_sub(TAG)?)?;
    let (&version, rest) = payload.split_first()?;
    let (kid, rest) = rest.split_first_chunk::<KID>()?;
    let (expiry, value) = rest.split_first_chunk::<EXPIRY>()?;
    if version != SIGNED {
        return None;
    }
    let key = keys.by_id(*kid)?;
    let expected = mac(key.subkey(Purpose::SignedCookie), name, payload);
    if !bool::from(expected.ct_eq(tag)) || expired(u64::from_be_bytes(*expiry), now) {
        return None;
    }
    Some(value.to_vec())
}

fn associated_data(name: &str, header: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + name.len());
    aad.extend_from_slice(b"pycnic private cookie\0");
    aad.extend_from_slice(&(name.len() as u64).to_be_bytes());
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(header);
    aad
}

/// A private (encrypted and authenticated) token for `value` under the cookie `name`.
pub fn seal_private(
    keys: &Keys,
    name: &str,
    value: &[u8],
    expiry: u64,
) -> Result<String, getrandom::Error> {
    let key = keys.current();
    let mut nonce = [0u8; NONCE];
    getrandom::fill(&mut nonce)?;
    let mut header = Vec::with_capacity(1 + KID + NONCE);
    header.push(PRIVATE);
    header.extend_from_slice(&key.id());
    header.extend_from_slice(&nonce);
    let mut plaintext = Vec::with_capacity(EXPIRY + value.len());
    plaintext.extend_from_slice(&expiry.to_be_bytes());
    plaintext.extend_from_slice(value);
    let aad = associated_data(name, &header);
    let cipher = Aes256Gcm::new(key.subkey(Purpose::PrivateCookie).into());
    let payload = Payload {
        msg: &plaintext,
        aad: &aad,
    };
    // AES-GCM only fails on plaintexts of gigabytes.
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), payload)
        .unwrap_or_default();
    header.extend_from_slice(&sealed);
    Ok(URL_SAFE_NO_PAD.encode(header))
}

/// The value of a private token, or `None` (see [`open_signed`]).
pub fn open_private(keys: &Keys, name: &str, token: &str, now: u64) -> Option<Vec<u8>> {
    let bytes = decode(token)?;
    let (header, sealed) = bytes.split_at_checked(1 + KID + NONCE)?;
    let (&version, rest) = header.split_first()?;
    let (kid, nonce) = rest.split_first_chunk::<KID>()?;
    let nonce: [u8; NONCE] = nonce.try_into().ok()?;
    if version != PRIVATE {
        return None;
    }
    let key = keys.by_id(*kid)?;
    let cipher = Aes256Gcm::new(key.subkey(Purpose::PrivateCookie).into());
    let aad = associated_data(name, header);
    let payload = Payload {
        msg: sealed,
        aad: &aad,
    };
    let plaintext = cipher.decrypt(&Nonce::from(nonce), payload).ok()?;
    let (expiry, value) = plaintext.split_first_chunk::<EXPIRY>()?;
    if expired(u64::from_be_bytes(*expiry), now) {
        return None;
    }
    Some(value.to_vec())
}

fn decode(token: &str) -> Option<Vec<u8>> {
    if token.len() > MAX_COOKIE_BYTES {
        return None;
    }
    URL_SAFE_NO_PAD.decode(token).ok()
}

fn expired(expiry: u64, now: u64) -> bool {
    expiry != 0 && now >= expiry
}

/// Which kind of token a [`SecureCookies`] view opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// HMAC-signed: readable by the client, tamper-evident.
    Signed,
    /// AES-256-GCM: unreadable and tamper-evident.
    Private,
}

/// The request's signed or private cookies: a cookie whose token fails is absent.
#[derive(Debug)]
pub struct SecureCookies<'a> {
    cookies: &'a Cookies,
    keys: &'a Keys,
    kind: Kind,
}

impl<'a> SecureCookies<'a> {
    /// A view of `cookies` opened with `keys`.
    pub fn new(cookies: &'a Cookies, keys: &'a Keys, kind: Kind) -> SecureCookies<'a> {
        SecureCookies {
            cookies,
            keys,
            kind,
        }
    }

    /// The verified value of cookie `name` as bytes.
    pub fn get_bytes(&self, name: &str) -> Option<Vec<u8>> {
        let token = self.cookies.get(name)?;
        match self.kind {
            Kind::Signed => open_signed(self.keys, name, token, now()),
            Kind::Private => open_private(self.keys, name, token, now()),
        }
    }

    /// The verified value of cookie `name` (`None` unless it verifies and is UTF-8).
    pub fn get(&self, name: &str) -> Option<String> {
        String::from_utf8(self.get_bytes(name)?).ok()
    }
}

#[cfg(test)]
#[path = "secure_cookie_tests.rs"]
mod tests;
