//! Secret keys: the key file (`PYCNIC_SECRET_KEY_FILE`, one key a line), rotation (the first
//! line signs and encrypts, every line verifies and decrypts), per-purpose subkeys derived with
//! HKDF-SHA256 (a key is never used raw), and `keygen`'s new key line.
//!
//! A key line is 32 random bytes in unpadded base64url (43 characters); blank lines and lines
//! starting with `#` are skipped. Each key has a 4-byte id (derived, not secret) that tokens
//! carry, so a cookie names the key that made it and rotation needs no trial and error.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use sha2::Sha256;

/// The environment variable naming the key file.
pub const KEY_FILE_ENV: &str = "PYCNIC_SECRET_KEY_FILE";

/// Bytes of secret in one key line.
pub const KEY_BYTES: usize = 32;

/// At most this many keys are read from a key file (rotation needs two or three).
const MAX_KEYS: usize = 16;

/// What a derived subkey is for; each purpose gets its own HKDF `info`, so a signed cookie's
/// MAC key is never the private cookie's encryption key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// HMAC-SHA256 of signed cookies.
    SignedCookie,
    /// AES-256-GCM of private cookies (and of the `cookie` session store).
    PrivateCookie,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::SignedCookie => b"pycnic v1 signed cookie",
            Purpose::PrivateCookie => b"pycnic v1 private cookie",
        }
    }
}

/// One key of the ring: its id and its derived subkeys.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    id: [u8; 4],
    signing: [u8; 32],
    encryption: [u8; 32],
}

impl Key {
    /// Derives the id and the subkeys of one secret.
    pub fn from_secret(secret: &[u8; KEY_BYTES]) -> Key {
        let hkdf = Hkdf::<Sha256>::new(Some(b"pycnic keys"), secret);
        let mut id = [0u8; 4];
        let mut signing = [0u8; 32];
        let mut encryption = [0u8; 32];
        // Output lengths of 4 and 32 bytes are far below HKDF-SHA256's limit (255 × 32).
        let derived = hkdf
            .expand(b"pycnic v1 key id", &mut id)
            .and(hkdf.expand(Purpose::SignedCookie.info(), &mut signing))
            .and(hkdf.expand(Purpose::PrivateCookie.info(), &mut encryption));
        debug_assert!(derived.is_ok());
        Key {
            id,
            signing,
            encryption,
        }
    }

    /// The 4-byte id tokens carry.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }

    /// The subkey for `purpose`.
    pub fn subkey(&self, purpose: Purpose) -> &[u8; 32] {
        match purpose {
            Purpose::SignedCookie => &self.signing,
            Purpose::PrivateCookie => &self.encryption,
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:02x?}, ..)", self.id)
    }
}

/// The key ring: the first key signs and encrypts, every key verifies and decrypts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    keys: Vec<Key>,
}

/// Why a key file was refused. Never holds key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// `PYCNIC_SECRET_KEY_FILE` is not set (and no keys were given in code).
    NotConfigured,
    /// The file could not be read.
    Unreadable(String),
    /// A line is not 32 bytes of unpadded base64url (1-based line number).
    BadLine(usize),
    /// The file holds no key line.
    Empty,
    /// The file holds more than 16 keys.
    TooMany,
}

/// The running program's file name (an app built with `pycnic::run!` is not `pycnic`), for
/// the `keygen` hint.
fn program() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "pycnic".to_string())
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotConfigured => write!(
                f,
                "no secret key: set {KEY_FILE_ENV} to a file made by `{} keygen`",
                program()
            ),
            KeyError::Unreadable(why) => write!(f, "secret key file unreadable: {why}"),
            KeyError::BadLine(n) => write!(
                f,
                "secret key file line {n} is not a key (43 base64url characters from `{} keygen`)",
                program()
            ),
            KeyError::Empty => write!(f, "secret key file holds no key"),
            KeyError::TooMany => write!(f, "secret key file holds more than {MAX_KEYS} keys"),
        }
    }
}

impl std::error::Error for KeyError {}

impl Keys {
    /// A ring from secrets, the signing one first.
    pub fn from_secrets(secrets: &[[u8; KEY_BYTES]]) -> Result<Keys, KeyError> {
        if secrets.is_empty() {
            return Err(KeyError::Empty);
        }
        if secrets.len() > MAX_KEYS {
            return Err(KeyError::TooMany);
        }
        Ok(Keys {
            keys: secrets.iter().map(Key::from_secret).collect(),
        })
    }

    /// Parses a key file's text.
    pub fn parse(text: &str) -> Result<Keys, KeyError> {
        let mut secrets = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bytes = URL_SAFE_NO_PAD
                .decode(line)
                .map_err(|_| KeyError::BadLine(index + 1))?;
            let secret: [u8; KEY_BYTES] =
                bytes.try_into().map_err(|_| KeyError::BadLine(index + 1))?;
            secrets.push(secret);
        }
        Keys::from_secrets(&secrets)
    }

    /// Reads a key file.
    pub fn from_file(path: &Path) -> Result<Keys, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| KeyError::Unreadable(format!("{}: {err}", path.display())))?;
        Keys::parse(&text)
    }

    /// Reads the file named by `PYCNIC_SECRET_KEY_FILE`.
    pub fn from_env() -> Result<Keys, KeyError> {
        match std::env::var_os(KEY_FILE_ENV) {
            Some(path) if !path.is_empty() => Keys::from_file(Path::new(&path)),
            _ => Err(KeyError::NotConfigured),
        }
    }

    /// The key that signs and encrypts.
    pub fn current(&self) -> &Key {
        // `from_secrets` refuses an empty ring.
        &self.keys[0]
    }

    /// The key with this id, if it is still in the ring.
    pub fn by_id(&self, id: [u8; 4]) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// 32 bytes from the operating system's CSPRNG.
pub fn random_bytes() -> Result<[u8; 32], getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// A new key line for a key file (what `pycnic keygen` prints).
pub fn generate_line() -> Result<String, getrandom::Error> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_line_parses_and_rotation_keeps_old_ids() {
        let old = generate_line().unwrap();
        let new = generate_line().unwrap();
        assert_eq!(old.len(), 43);
        let before = Keys::parse(&old).unwrap();
        let after = Keys::parse(&format!("# rotated\n{new}\n\n{old}\n")).unwrap();
        assert_ne!(after.current().id(), before.current().id());
        assert!(after.by_id(before.current().id()).is_some());
        let k = after.current();
        assert_ne!(
            k.subkey(Purpose::SignedCookie),
            k.subkey(Purpose::PrivateCookie)
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        assert_eq!(Keys::parse("\n# none\n").unwrap_err(), KeyError::Empty);
        assert_eq!(Keys::parse("short").unwrap_err(), KeyError::BadLine(1));
        let line = generate_line().unwrap();
        assert_eq!(
            Keys::parse(&format!("{line}\n{line}x\n")).unwrap_err(),
            KeyError::BadLine(2)
        );
    }
}
