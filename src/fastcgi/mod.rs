//! FastCGI 1.0 transport (Responder role): the sans-IO codec (`record`), one connection's
//! state machine (`conn`), and the server that runs the app behind nginx, Apache or lighttpd
//! (`listen`, `options`, `server`, `connections`, `worker`).

pub mod conn;
mod connections;
mod event;
mod fdlimit;
pub mod listen;
pub mod options;
pub mod record;
mod respond;
pub mod server;
mod slot;
mod spool;
pub mod worker;

pub use listen::inherited_listener_present;
pub use options::FastcgiOptions;
pub use server::serve;
