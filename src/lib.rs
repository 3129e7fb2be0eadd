//! Pycnic's tiny JSON web API in Rust (crate docs are completed with the seed example).

pub mod cookie;
pub mod error;
pub mod http;
pub mod query;
