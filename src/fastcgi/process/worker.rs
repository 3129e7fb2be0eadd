//! A worker process's side of the pool (see `master`): knowing it is one (`PYCNIC_WORKER` set
//! by a master that is this process's parent), and dying with the master
//! (`PR_SET_PDEATHSIG`; a worker whose master died before it could ask is told by the
//! scoreboard's descriptor it still holds, see [`orphaned`]). A worker takes its sockets and says it serves as an upgrade's new
//! process does (`announce`), but writes no pid file, tells systemd nothing, leaves unix socket
//! files to the master, and leaves SIGUSR2 to the master.

use std::os::fd::RawFd;

use crate::fastcgi::net::inherit::PARENT_VAR;
use crate::fastcgi::process::scoreboard::layout::SCOREBOARD_VAR;

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

/// Whether this process was started as a worker by a master that is gone already: it died
/// between starting this process and [`slot`]'s check of the parent, so the process was
/// re-parented and is no worker by that check. It still holds the master's scoreboard
/// (inherited, not close-on-exec, at the descriptor the environment names), which a worker
/// closes as soon as it joins and a process the app starts later therefore never has. Such a
/// process must exit rather than serve on its own on the sockets it inherited (with the
/// pool's `PYCNIC_PROCESSES`, it would start workers of its own and outlive everything).
pub(crate) fn orphaned() -> bool {
    if std::env::var_os(WORKER_VAR).is_none() || master_pid() == Some(parent()) {
        return false;
    }
    let Some(fd) = std::env::var(SCOREBOARD_VAR)
        .ok()
        .and_then(|fd| fd.trim().parse::<RawFd>().ok())
    else {
        return false;
    };
    // SAFETY: F_GETFD reads the descriptor's flags and changes nothing.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 || flags & libc::FD_CLOEXEC != 0 {
        return false;
    }
    std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|target| {
        target
            .to_string_lossy()
            .starts_with("/memfd:pycnic-scoreboard")
    })
}
