//! Pycnic's tiny JSON web API in Rust (crate docs are completed with the seed example).

pub mod error;
pub mod fastcgi;
pub mod http;
