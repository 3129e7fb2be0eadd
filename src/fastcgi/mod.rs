//! FastCGI 1.0 transport (Responder role): the codec, one connection's state machine, and the
//! server that runs the app behind nginx, Apache or lighttpd.

pub mod conn;
pub mod record;
