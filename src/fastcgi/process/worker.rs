//! A worker process's side of the pool (see `master`): knowing it is one (`PYCNIC_WORKER` set
//! by a master that is this process's parent), and dying with the master
//! (`PR_SET_PDEATHSIG`). A worker takes its sockets and says it serves as an upgrade's new
//! process does (`announce`), but writes no pid file, tells systemd nothing, leaves unix socket
//! files to the master, and leaves SIGUSR2 to the master.

use crate::fastcgi::net::inherit::PARENT_VAR;

/// Set by the master in a worker's environment: the worker's slot in the pool.
pub const WORKER_VAR: &str = "PYCNIC_WORKER";

/// This process's slot when it is a worker of the master that is its parent. A process the
/// app starts later inherits the variables but not the parent, so it is never a worker.
pub(crate) fn slot() -> Option<usize> {
    let slot = std::env::var(WORKER_VAR).ok()?.trim().parse().ok()?;
    (master_pid()? == parent()).then_some(slot)
}

/// The master's pid, as it named itself.
fn master_pid() -> Option<libc::pid_t> {
    std::env::var(PARENT_VAR).ok()?.trim().parse().ok()
}

fn parent() -> libc::pid_t {
    // SAFETY: getppid has no preconditions.
    unsafe { libc::getppid() }
}

/// Asks the kernel for SIGKILL when the master dies, so that no orphan keeps the sockets; a
/// master that died before the request was made is caught by the parent check after it.
/// Returns false when the master is gone already (the caller exits).
pub(crate) fn die_with_master() -> bool {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and has no other effect.
    let set = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if set != 0 {
        log::warn!(
            "fastcgi worker: PR_SET_PDEATHSIG: {}",
            std::io::Error::last_os_error()
        );
    }
    master_pid() == Some(parent())
}
