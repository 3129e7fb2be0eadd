//! Where request bodies spill and what they may take there: the folder (`--spill-dir`, else
//! TMPDIR), checked writable at start, and the disk budget all spilled bytes share
//! (`--spill-disk`). A body that can be neither held in memory nor spilled is refused with
//! a 503 ([`SpillError`] says why); the warnings about it are rate-limited.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use super::spool::SpillError;
use super::spool::{Budget, Spool};

/// At most one spill warning per this long; the others are counted in the next one.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The spill folder and the disk budget its files share.
#[derive(Debug)]
pub struct Spill {
    dir: PathBuf,
    disk: Arc<Budget>,
    disk_limit: u64,
    warned: Mutex<(Option<Instant>, u64)>,
}

impl Spill {
    /// The spill folder `dir` (else TMPDIR, else /tmp) with a budget of `disk_limit` bytes,
    /// once a file could be made and written there.
    pub fn open(dir: Option<&Path>, disk_limit: u64) -> Result<Spill, SpillError> {
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let probe = super::spool::unlinked_file(&dir).and_then(|mut file| {
            use std::io::Write;
            file.write_all(b"x")
        });
        if let Err(err) = probe {
            return Err(SpillError::Dir(dir, err));
        }
        let limit = usize::try_from(disk_limit).unwrap_or(usize::MAX);
        Ok(Spill {
            dir,
            disk: Arc::new(Budget::new(limit)),
            disk_limit,
            warned: Mutex::new((None, 0)),
        })
    }

    /// A new, empty spool in the folder, drawing on the disk budget.
    pub fn spool(&self) -> Result<Spool, SpillError> {
        Spool::create(&self.dir, Arc::clone(&self.disk), self.disk_limit)
    }

    /// Logs `err` about a refused body, at most once per [`WARN_EVERY`] (with how many
    /// were not logged since).
    pub fn warn(&self, err: &SpillError) {
        let Ok(mut warned) = self.warned.lock() else {
            return;
        };
        let (last, skipped) = &mut *warned;
        let now = Instant::now();
        if last.is_some_and(|last| now.saturating_duration_since(last) < WARN_EVERY) {
            *skipped += 1;
            return;
        }
        let more = std::mem::take(skipped);
        *last = Some(now);
        if more > 0 {
            log::warn!(
                "request body refused with 503: {err} (and {more} more since the last warning)"
            );
        } else {
            log::warn!("request body refused with 503: {err}");
        }
    }

    /// Spilled bytes held now.
    #[cfg(test)]
    pub fn disk_used(&self) -> usize {
        self.disk.used()
    }
}

#[cfg(test)]
#[path = "spill_tests.rs"]
mod tests;
