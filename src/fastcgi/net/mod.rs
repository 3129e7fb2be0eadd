//! Sockets: listening sockets bound from `--listen`, inherited (fd 0, systemd) or handed over
//! by an upgrading pycnic (`listen`, `inherit`), the accepted streams, and the blocking and
//! non-blocking writes made outside the event loop (`write`).

pub(crate) mod inherit;
pub mod listen;
pub(crate) mod write;
