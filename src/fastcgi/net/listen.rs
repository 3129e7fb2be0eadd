//! Listening sockets bound from `--listen` addresses (TCP, or unix sockets with a stale file
//! replaced and a live one left alone), and the accepted stream, one type for both families.
//! Sockets this process inherits are `inherit`'s.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use crate::fastcgi::config::options::{ListenAddr, SocketPerms};

/// A listening socket, TCP or unix.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener (`--listen HOST:PORT`, or one inherited).
    Tcp(TcpListener),
    /// The path is removed at exit when we created the file.
    Unix(UnixListener, Option<PathBuf>),
}

/// Who connected: an address to check against the allow-list, or a unix-socket peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A TCP peer's address.
    Ip(IpAddr),
    /// A unix-socket peer (always allowed).
    Unix,
}

/// An accepted connection.
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection (TCP_NODELAY set).
    Tcp(TcpStream),
    /// A unix-socket connection.
    Unix(UnixStream),
}

impl Listener {
    /// Accepts one connection; TCP ones get TCP_NODELAY, since each response leaves in as few
    /// writes as possible and must not wait for Nagle's algorithm (docs/design.md).
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, addr) = listener.accept()?;
                stream.set_nodelay(true)?;
                Ok((Stream::Tcp(stream), Peer::Ip(addr.ip())))
            }
            Listener::Unix(listener, _) => {
                let (stream, _) = listener.accept()?;
                Ok((Stream::Unix(stream), Peer::Unix))
            }
        }
    }

    /// The listener as logs name it: `127.0.0.1:9000` or `unix:/run/pycnic.sock`.
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(listener) => listener
                .local_addr()
                .map_or_else(|_| "tcp".into(), |addr| addr.to_string()),
            Listener::Unix(listener, _) => match listener.local_addr() {
                Ok(addr) => match addr.as_pathname() {
                    Some(path) => format!("unix:{}", path.display()),
                    None => "unix socket".into(),
                },
                Err(_) => "unix socket".into(),
            },
        }
    }
}

impl Listener {
    /// Whether a connection waits to be accepted (a poll with no wait; false if it fails).
    pub fn has_waiting(&self) -> bool {
        let fd = match self {
            Listener::Tcp(listener) => listener.as_raw_fd(),
            Listener::Unix(listener, _) => listener.as_raw_fd(),
        };
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, a zero timeout.
        let ready = unsafe { libc::poll(&mut pollfd, 1, 0) };
        ready > 0 && pollfd.revents & libc::POLLIN != 0
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, Some(path)) = self
            && let Err(err) = std::fs::remove_file(&*path)
        {
            log::warn!("could not remove {}: {err}", path.display());
        }
    }
}

impl Source for Listener {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(r, t, i),
            Listener::Unix(l, _) => l.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.reregister(r, t, i),
            Listener::Unix(l, _) => l.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(r),
            Listener::Unix(l, _) => l.deregister(r),
        }
    }
}

impl Stream {
    /// Whether this is a TCP connection (so TCP_NODELAY applies).
    pub fn is_tcp(&self) -> bool {
        matches!(self, Stream::Tcp(_))
    }

    /// A second stream on the connection open as `fd` (a TCP one when `tcp`): a duplicate
    /// descriptor (close-on-exec), sharing the open file and its non-blocking mode. The
    /// caller must know `fd` is open for the duration of the call.
    pub fn duplicate(fd: RawFd, tcp: bool) -> io::Result<Stream> {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a descriptor the caller holds open; the new
        // descriptor is ours alone, owned by the stream made from it.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if copy < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `copy` is a fresh descriptor nothing else owns.
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(copy) };
        Ok(if tcp {
            Stream::Tcp(TcpStream::from_std(std::net::TcpStream::from(owned)))
        } else {
            Stream::Unix(UnixStream::from_std(std::os::unix::net::UnixStream::from(
                owned,
            )))
        })
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
        }
    }
}

/// The listen backlog asked for; the kernel caps it at net.core.somaxconn (4096 on current
/// Linux). mio listens with 128, which a burst of web-server connections overflows, and a
/// SYN dropped there is only retried after a second.
const BACKLOG: libc::c_int = 4096;

/// Binds a `--listen` address, with a deep backlog (connections past `--max-connections`
/// wait there until a slot frees); a unix socket gets its mode, owner and group before this
/// returns. A host name must have been resolved first ([`FastcgiOptions::resolve_hosts`](
/// crate::fastcgi::FastcgiOptions::resolve_hosts)); one that resolves to a single address is bound here.
pub fn bind(addr: &ListenAddr, perms: SocketPerms) -> io::Result<Listener> {
    let listener = match addr {
        ListenAddr::Tcp(addr) => TcpListener::bind(*addr).map(Listener::Tcp)?,
        ListenAddr::Host(..) => {
            let resolved = addr
                .resolve()
                .map_err(|err| io::Error::new(io::ErrorKind::NotFound, err))?;
            return match resolved.as_slice() {
                [one] => bind(one, perms),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{addr} resolves to several addresses: resolve it first"),
                )),
            };
        }
        ListenAddr::Unix(path) => bind_unix(path, perms)?,
    };
    let fd = match &listener {
        Listener::Tcp(l) => l.as_raw_fd(),
        Listener::Unix(l, _) => l.as_raw_fd(),
    };
    // SAFETY: listen on a socket we own; Linux lets a listening socket raise its backlog.
    if unsafe { libc::listen(fd, BACKLOG) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(listener)
}

/// Binds a unix socket. A file left by a dead server is replaced; one a live server answers
/// on, or a file that is not a socket, is an error: we never take over someone else's socket.
fn bind_unix(path: &Path, perms: SocketPerms) -> io::Result<Listener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("a live server answers on {}", path.display()),
                ));
            }
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                log::info!("replacing stale socket {}", path.display());
                std::fs::remove_file(path)?;
            }
            Err(err) => return Err(err),
        }
    }
    let listener = UnixListener::bind(path)?;
    let listener = Listener::Unix(listener, Some(path.to_path_buf()));
    if perms.owner.is_some() || perms.group.is_some() {
        std::os::unix::fs::chown(path, perms.owner, perms.group).map_err(|err| {
            let who = [
                perms.owner.map(|u| format!("uid {u}")),
                perms.group.map(|g| format!("gid {g}")),
            ];
            let who: Vec<String> = who.into_iter().flatten().collect();
            io::Error::new(
                err.kind(),
                format!(
                    "cannot give {} to {}: {err}",
                    path.display(),
                    who.join(", ")
                ),
            )
        })?;
    }
    if let Some(mode) = perms.mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(listener)
}
