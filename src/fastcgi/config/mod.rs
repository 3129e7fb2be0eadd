//! What the `fastcgi` subcommand is told, and what it makes of it: the options as parsed
//! (`options`, user and group names in `ids`) and the limits and timers resolved from them
//! once at start (`settings`).

pub(crate) mod ids;
pub mod options;
pub(crate) mod settings;
