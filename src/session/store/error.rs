//! The error every store operation can end in: the store did not answer (down, timed out,
//! refused, full), so the request gets a 503. Its own file so that the pool, below the stores'
//! common types, can use it.

use std::fmt;

/// A store that could not answer (down, timed out, refused): the request gets a 503.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}
