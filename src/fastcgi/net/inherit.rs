//! Listening sockets this process did not bind: the one a web server passes on fd 0
//! (FCGI_LISTENSOCK_FILENO, spec §2.2), systemd's (LISTEN_FDS, fd 3 on), and those an
//! upgrading pycnic hands its new copy (named by [`FDS_VAR`], for the child of [`PARENT_VAR`]).

use std::io;
use std::os::fd::{FromRawFd, RawFd};

use mio::net::{TcpListener, UnixListener};

use super::listen::Listener;

/// FCGI_LISTENSOCK_FILENO: a web server that starts the application passes the listening
/// socket as its standard input (spec §2.2).
const LISTENSOCK_FILENO: RawFd = 0;
/// systemd passes its sockets from fd 3 on (sd_listen_fds(3)).
const SD_LISTEN_FDS_START: RawFd = 3;
/// The listening sockets an upgrading pycnic passes its new copy: descriptors, comma-separated.
pub const FDS_VAR: &str = "PYCNIC_UPGRADE_FDS";
/// The pid of the process that passed them: only its child takes them.
pub const PARENT_VAR: &str = "PYCNIC_UPGRADE_PARENT";

/// Whether `fd` is a listening socket: getpeername fails with ENOTCONN on a socket that is
/// not connected (how libfcgi tells, spec §2.2), and SO_ACCEPTCONN confirms it listens.
fn is_listening_socket(fd: RawFd) -> bool {
    // SAFETY: sockaddr_storage is plain data; getpeername writes at most `len` bytes into it.
    let not_connected = unsafe {
        let mut addr: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        libc::getpeername(fd, (&raw mut addr).cast(), &mut len) == -1
            && io::Error::last_os_error().raw_os_error() == Some(libc::ENOTCONN)
    };
    if !not_connected {
        return false;
    }
    let mut accepting: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `accepting` is a c_int and `len` its size, as SO_ACCEPTCONN expects.
    let status = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut accepting).cast(),
            &mut len,
        )
    };
    status == -1 || accepting != 0
}

/// The address family of a socket.
fn family(fd: RawFd) -> io::Result<libc::c_int> {
    // SAFETY: as in `is_listening_socket`.
    unsafe {
        let mut addr: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if libc::getsockname(fd, (&raw mut addr).cast(), &mut len) == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(libc::c_int::from(addr.ss_family))
    }
}

/// The fds systemd passed to this process, when LISTEN_PID names it (sd_listen_fds(3)).
fn systemd_fds() -> Vec<RawFd> {
    let var = |name| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    match (var("LISTEN_PID"), var("LISTEN_FDS")) {
        (Some(pid), Some(count)) if pid == i64::from(std::process::id()) && count > 0 => {
            let count = RawFd::try_from(count.min(1024)).unwrap_or(0);
            (SD_LISTEN_FDS_START..SD_LISTEN_FDS_START + count).collect()
        }
        _ => Vec::new(),
    }
}

/// Whether systemd passed this process listening sockets (LISTEN_PID names it).
pub(crate) fn from_systemd() -> bool {
    !systemd_fds().is_empty()
}

/// Whether a web server, spawn-fcgi, systemd or an upgrading pycnic (SIGUSR2) handed us a
/// listening socket.
pub fn inherited_listener_present() -> bool {
    upgrade_fds().into_iter().any(is_listening_socket)
        || systemd_fds().into_iter().any(is_listening_socket)
        || is_listening_socket(LISTENSOCK_FILENO)
}

/// The listeners an upgrading pycnic named (see `upgrade`), if it is our parent (a process
/// the app starts later inherits the variables, not the parent).
pub(crate) fn upgrade_fds() -> Vec<RawFd> {
    let parent = std::env::var(PARENT_VAR)
        .ok()
        .and_then(|pid| pid.trim().parse::<libc::pid_t>().ok());
    // SAFETY: getppid has no preconditions.
    if parent != Some(unsafe { libc::getppid() }) {
        return Vec::new();
    }
    std::env::var(FDS_VAR)
        .unwrap_or_default()
        .split(',')
        .filter_map(|fd| fd.trim().parse().ok())
        .filter(|fd| *fd >= 0)
        .collect()
}

/// Takes the inherited listening sockets: systemd's if any, else fd 0.
pub fn inherited() -> io::Result<Vec<Listener>> {
    let systemd = systemd_fds();
    let fds = if systemd.is_empty() {
        vec![LISTENSOCK_FILENO]
    } else {
        systemd
    };
    take(fds)
}

/// Takes the listening sockets at these descriptors (a unix socket's file is left alone at
/// exit); descriptors that are not listening sockets are skipped with a warning.
pub fn take(fds: Vec<RawFd>) -> io::Result<Vec<Listener>> {
    let mut listeners = Vec::new();
    for fd in fds {
        if !is_listening_socket(fd) {
            log::warn!("fd {fd} is not a listening socket; skipped");
            continue;
        }
        // SAFETY: fd is an open listening socket that nothing else in this process owns:
        // it was passed to us, and from here on the listener owns and closes it.
        let listener = unsafe {
            match family(fd)? {
                libc::AF_UNIX => {
                    let std = std::os::unix::net::UnixListener::from_raw_fd(fd);
                    std.set_nonblocking(true)?;
                    Listener::Unix(UnixListener::from_std(std), None)
                }
                _ => {
                    let std = std::net::TcpListener::from_raw_fd(fd);
                    std.set_nonblocking(true)?;
                    Listener::Tcp(TcpListener::from_std(std))
                }
            }
        };
        // SAFETY: fcntl on an fd we own; FD_CLOEXEC keeps it from any child process.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        listeners.push(listener);
    }
    Ok(listeners)
}
