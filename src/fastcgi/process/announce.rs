//! Saying that the server serves, once its listeners are on the poller and its signal
//! handlers are in place: the pid file (`--pid-file`, written to a temporary file and renamed
//! over, so a reader never sees it half-written), systemd (an sd_notify datagram to
//! `$NOTIFY_SOCKET`: `READY=1`, and `MAINPID=<pid>` first when this process replaces an old
//! one, so that systemd follows it), and the old process of an upgrade (a byte on its pipe,
//! see `upgrade`). At exit the pid file is removed only if it still names this process: after
//! an upgrade it names the new one.
//!
//! Also the new process's side of the handover: [`Handover::take`] claims the descriptors the
//! old process named in the environment, when the old process is this one's parent.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};

use crate::fastcgi::config::options::{FastcgiOptions, ListenAddr};
use crate::fastcgi::net::listen::Listener;
use crate::fastcgi::process::upgrade::READY_VAR;

/// What an old process handed this one: its listeners and the pipe to say "serving" on.
#[derive(Debug)]
pub(crate) struct Handover {
    /// The listening sockets' descriptors.
    pub(crate) fds: Vec<RawFd>,
    ready: Option<OwnedFd>,
}

impl Handover {
    /// The handover meant for this process: the old process must be its parent (a process
    /// the app starts later inherits the variables, not the parent).
    pub(crate) fn take() -> Option<Handover> {
        let fds = crate::fastcgi::net::inherit::upgrade_fds();
        if fds.is_empty() {
            return None;
        }
        let ready = std::env::var(READY_VAR)
            .ok()
            .and_then(|fd| fd.trim().parse::<RawFd>().ok())
            .filter(|fd| is_pipe(*fd) && !fds.contains(fd))
            .map(|fd| {
                // SAFETY: the old process passed this pipe end to us alone, and nothing else
                // in this process owns it; FD_CLOEXEC keeps it from our own children.
                unsafe {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                    OwnedFd::from_raw_fd(fd)
                }
            });
        Some(Handover { fds, ready })
    }
}

fn is_pipe(fd: RawFd) -> bool {
    // SAFETY: fstat writes into a zeroed stat of the right size.
    unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut stat) == 0 && stat.st_mode & libc::S_IFMT == libc::S_IFIFO
    }
}

/// A pid file this process wrote.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path` atomically (a temporary file beside it, renamed).
    pub(crate) fn write(path: &Path) -> io::Result<PidFile> {
        let pid = std::process::id();
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the pid file needs a file name",
            )
        })?;
        let mut temp_name = OsStr::new(".").to_os_string();
        temp_name.push(name);
        temp_name.push(format!(".{pid}.tmp"));
        let temp = path.with_file_name(temp_name);
        let written = std::fs::File::create(&temp)
            .and_then(|mut file| file.write_all(format!("{pid}\n").as_bytes()))
            .and_then(|()| std::fs::rename(&temp, path));
        if let Err(err) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(err);
        }
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }

    /// Removes the file if it still names this process (after an upgrade it names the new
    /// one, which stays).
    pub(crate) fn remove_if_ours(&self) {
        let ours = std::fs::read_to_string(&self.path)
            .is_ok_and(|text| text.trim() == std::process::id().to_string());
        if ours && let Err(err) = std::fs::remove_file(&self.path) {
            log::warn!("could not remove {}: {err}", self.path.display());
        }
    }
}

/// The address `$NOTIFY_SOCKET` names: a path, or `@name` in the abstract namespace.
fn notify_addr(socket: &OsStr) -> io::Result<SocketAddr> {
    match socket.as_encoded_bytes().split_first() {
        Some((b'@', name)) => SocketAddr::from_abstract_name(name),
        Some((b'/', _)) => SocketAddr::from_pathname(socket),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "neither a path nor @name",
        )),
    }
}

/// Sends `state` to systemd when it listens (`$NOTIFY_SOCKET`); a failure is logged, the
/// server serves anyway.
fn sd_notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = notify_addr(&socket).and_then(|addr| {
        let datagram = UnixDatagram::unbound()?;
        datagram.send_to_addr(state.as_bytes(), &addr)
    });
    if let Err(err) = sent {
        log::warn!("sd_notify to {}: {err}", socket.to_string_lossy());
    }
}

/// A byte on the pipe of the process that started this one: "serving".
fn tell_ready(handover: Handover) {
    if let Some(ready) = handover.ready {
        let mut pipe = std::fs::File::from(ready);
        if let Err(err) = pipe.write_all(b"1") {
            log::warn!("could not tell the process that started us we serve: {err}");
        }
    }
}

/// A worker is ready: it tells its master only (the pid file, systemd and the socket files
/// are the master's).
pub(crate) fn announce_worker(handover: Option<Handover>) {
    if let Some(handover) = handover {
        tell_ready(handover);
    }
}

/// The server is ready: write the pid file, tell systemd and the old process. A pid file that
/// cannot be written is an error (the server does not start; the old one keeps serving).
pub(crate) fn announce(
    options: &FastcgiOptions,
    listeners: &mut [Listener],
    handover: Option<Handover>,
) -> io::Result<Option<PidFile>> {
    let pid_file = match &options.pid_file {
        Some(path) => Some(
            PidFile::write(path)
                .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", path.display())))?,
        ),
        None => None,
    };
    let pid = std::process::id();
    match &handover {
        Some(_) => sd_notify(&format!("MAINPID={pid}\nREADY=1\n")),
        None => sd_notify("READY=1\n"),
    }
    if let Some(handover) = handover {
        tell_ready(handover);
        // The unix socket files `--listen` names are ours to remove at exit from now on.
        for listener in listeners.iter_mut() {
            if let Listener::Unix(socket, owned @ None) = listener
                && let Ok(addr) = socket.local_addr()
                && let Some(path) = addr.as_pathname()
                && options
                    .listen
                    .iter()
                    .any(|l| matches!(l, ListenAddr::Unix(p) if p == path))
            {
                *owned = Some(path.to_path_buf());
            }
        }
        log::info!("fastcgi: upgrade: pid {pid} serves on the sockets handed over");
    }
    Ok(pid_file)
}

#[cfg(test)]
#[path = "announce_tests.rs"]
mod tests;
