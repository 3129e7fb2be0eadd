//! Process resources the server sets up at start. RLIMIT_NOFILE's soft limit is raised to
//! the hard one (the usual soft 1024 is a leftover from select(2)), and `--max-connections`
//! is kept below it with a reserve for listeners and the process's own files, and a second
//! descriptor per connection for its spilled body,
//! so the server runs out of connection slots (and leaves new connections in the kernel's
//! backlog) before it runs out of descriptors. glibc's allocator is told to hand large
//! buffers back to the system.

use std::io;

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in force after.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == -1 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let wanted = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        } else {
            // RLIM_INFINITY as hard limit is refused past fs.nr_open: keep what we have.
            log::debug!(
                "could not raise RLIMIT_NOFILE: {}",
                io::Error::last_os_error()
            );
        }
    }
    Ok(limit.rlim_cur)
}

/// Large buffers (request bodies, answers) come from mmap and go back to the system when
/// freed. glibc otherwise raises its mmap threshold up to 32 MiB after the first large free,
/// and then keeps freed 10 MiB bodies in per-thread heaps: a burst of large requests would
/// leave the process's resident memory at its peak. A request body's first buffer is
/// reserved up to this size (`protocol::requests`), so a large one grows in its own mapping.
pub fn return_large_buffers() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; called before the workers start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Descriptors open in this process now.
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(16, Iterator::count)
}

/// The most connections `nofile` descriptors allow with `open` already in use: 16 stay in
/// reserve (accept's slack, log files), and each connection is counted twice, since its
/// body may spill to a file (a second descriptor) while it is received and handled; at
/// least 4.
pub fn connection_cap(nofile: u64, open: usize) -> usize {
    let nofile = usize::try_from(nofile).unwrap_or(usize::MAX);
    let reserve = open.saturating_add(16);
    (nofile.saturating_sub(reserve) / 2).max(4)
}

#[cfg(test)]
#[path = "fdlimit_tests.rs"]
mod tests;
