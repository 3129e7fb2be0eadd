//! The app's key ring as the running process holds it: loaded from `PYCNIC_SECRET_KEY_FILE`
//! (or given in code), checked at start, and re-read on demand ([`crate::App::reload_keys`]:
//! SIGHUP and every SIGUSR2 under FastCGI).
//!
//! **The model.** The first load is kept as it is; a reload that reads a different ring
//! replaces it for every request from then on, so a key removed from the file stops verifying
//! its cookies at once. A reload that fails (unreadable file, bad line) keeps the ring in use
//! and says why. Rings are handed out as plain references, so a replaced ring is never freed
//! (requests in flight may still hold it): a reload that changes the ring keeps about 100
//! bytes per key for the process's life, and one that reads the same ring keeps nothing.

use std::sync::{OnceLock, RwLock};

use crate::keys::{KEY_FILE_ENV, KeyError, Keys};

/// The ring in use: the first load, or the latest reload that changed it.
#[derive(Debug, Default)]
pub(crate) struct KeyRing {
    /// Keys given in code: never re-read.
    given: bool,
    first: OnceLock<Result<Keys, KeyError>>,
    reloaded: RwLock<Option<&'static Keys>>,
}

impl KeyRing {
    /// A ring from keys given in code, or (`None`) from the key file on first need.
    pub(crate) fn new(keys: Option<Keys>) -> KeyRing {
        let ring = KeyRing {
            given: keys.is_some(),
            ..KeyRing::default()
        };
        if let Some(keys) = keys {
            let _ = ring.first.set(Ok(keys));
        }
        ring
    }

    /// The ring in use (the key file is read on first need).
    pub(crate) fn get(&self) -> Result<&Keys, KeyError> {
        if let Some(keys) = *self.reloaded.read().unwrap_or_else(|p| p.into_inner()) {
            return Ok(keys);
        }
        self.first
            .get_or_init(Keys::from_env)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Re-reads the key file: `Ok(true)` when the ring changed, `Ok(false)` when it is the
    /// same (or the keys were given in code, or no key file is configured); an error keeps
    /// the ring in use.
    pub(crate) fn reload(&self) -> Result<bool, KeyError> {
        if self.given {
            return Ok(false);
        }
        let fresh = match Keys::from_env() {
            Err(KeyError::NotConfigured) => return Ok(false),
            other => other?,
        };
        if self.first.set(Ok(fresh.clone())).is_ok() {
            return Ok(true);
        }
        if self.get().ok() == Some(&fresh) {
            return Ok(false);
        }
        let leaked: &'static Keys = Box::leak(Box::new(fresh));
        *self.reloaded.write().unwrap_or_else(|p| p.into_inner()) = Some(leaked);
        Ok(true)
    }

    /// Loads the ring now, as a start does; a warning for a key file others may read.
    /// `Ok` when no key file is configured (an app without sessions needs none).
    pub(crate) fn check(&self) -> Result<(), KeyError> {
        match self.get() {
            Ok(_) => {
                if !self.given {
                    warn_if_exposed();
                }
                Ok(())
            }
            Err(KeyError::NotConfigured) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// Warns when the key file can be read by its group or by others.
fn warn_if_exposed() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Some(path) = std::env::var_os(KEY_FILE_ENV) else {
            return;
        };
        if let Ok(meta) = std::fs::metadata(&path)
            && meta.permissions().mode() & 0o077 != 0
        {
            log::warn!(
                "secret key file {} is mode {:03o}: readable by its group or others; make it \
                 0600 (chmod 600), owned by the app's user",
                std::path::Path::new(&path).display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
}
