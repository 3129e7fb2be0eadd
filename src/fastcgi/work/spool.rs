//! The memory budget for request bodies (`--body-memory`) and the unlinked temporary file a
//! body spills to once buffering it would pass that budget, as nginx's client_body_temp does:
//! many large bodies at once cost disk pages, not resident memory, and every request is still
//! answered as it would be alone (the handler reads its body back whole).

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Body bytes held in memory by every connection and queued request together, at most
/// `limit`. The event side takes from it as bytes arrive; a handler's thread gives back what
/// its request held once the handler is done with it.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// Takes `count` bytes if they fit; `false` (and nothing taken) when they do not.
    pub fn try_take(&self, count: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(count).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    /// Gives back `count` bytes taken before.
    pub fn release(&self, count: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(count))
            });
    }

    /// Bytes held now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// Why a body could not be spilled.
#[derive(Debug)]
pub enum SpillError {
    /// The spill folder is missing or not writable (at start).
    Dir(PathBuf, io::Error),
    /// No spill file could be made (EMFILE, the folder gone, ...).
    Create(io::Error),
    /// The spill file could not take the bytes (a full disk, a file-size limit).
    Write(io::Error),
    /// The bytes would pass `--spill-disk`.
    Disk(u64),
}

impl fmt::Display for SpillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpillError::Dir(dir, err) => write!(
                f,
                "spill folder {}: {err} (it must exist and be writable by this user: set \
                 --spill-dir or TMPDIR)",
                dir.display()
            ),
            SpillError::Create(err) => write!(f, "cannot create a spill file: {err}"),
            SpillError::Write(err) => write!(f, "cannot write a spill file: {err}"),
            SpillError::Disk(limit) => {
                write!(f, "spilled bodies would pass --spill-disk ({limit} bytes)")
            }
        }
    }
}

impl std::error::Error for SpillError {}

/// A request body spilled to an unlinked temporary file: written as it arrives, read back
/// whole when the handler runs, gone from the disk (and from the disk budget) when dropped.
#[derive(Debug)]
pub struct Spool {
    file: File,
    len: u64,
    /// The disk budget its bytes are taken from (see `spill`), and its limit.
    disk: Arc<Budget>,
    disk_limit: u64,
}

impl Spool {
    /// An empty spool in `dir`, its bytes taken from `disk` (of `disk_limit` bytes).
    pub fn create(dir: &Path, disk: Arc<Budget>, disk_limit: u64) -> Result<Spool, SpillError> {
        let file = unlinked_file(dir).map_err(SpillError::Create)?;
        Ok(Spool {
            file,
            len: 0,
            disk,
            disk_limit,
        })
    }

    /// Appends body bytes, if the disk budget has room for them and the file takes them.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), SpillError> {
        if !self.disk.try_take(bytes.len()) {
            return Err(SpillError::Disk(self.disk_limit));
        }
        self.len += bytes.len() as u64;
        self.file.write_all(bytes).map_err(SpillError::Write)
    }

    /// Bytes written so far.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The whole body, read back.
    pub fn read_all(mut self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.len)
            .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "body too large"))?;
        let mut body = Vec::with_capacity(len);
        self.file.seek(SeekFrom::Start(0))?;
        (&mut self.file).take(self.len).read_to_end(&mut body)?;
        if body.len() != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the spooled body came back short",
            ));
        }
        Ok(body)
    }
}

impl Drop for Spool {
    /// The file's bytes are freed (truncated) before its share of the disk budget is given
    /// back: the file itself closes only after this, and another body could otherwise
    /// spill into the budget while these bytes are still on the disk.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        self.disk
            .release(usize::try_from(self.len).unwrap_or(usize::MAX));
    }
}

/// A file in `dir` with no name: O_TMPFILE where the file system has it, else a fresh name
/// created exclusively and unlinked at once. Readable by this process only (0600).
pub(super) fn unlinked_file(dir: &Path) -> io::Result<File> {
    use std::os::unix::ffi::OsStrExt;
    let mut path = dir.as_os_str().as_bytes().to_vec();
    path.push(0);
    let flags = libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC | libc::O_EXCL;
    // SAFETY: `path` is NUL-terminated; open returns a new fd or -1.
    let fd = unsafe { libc::open(path.as_ptr().cast(), flags, 0o600) };
    if fd >= 0 {
        // SAFETY: a new fd that nothing else owns.
        return Ok(unsafe { File::from_raw_fd(fd) });
    }
    let err = io::Error::last_os_error();
    if !matches!(
        err.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
    ) {
        return Err(err);
    }
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "pycnic-body-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
