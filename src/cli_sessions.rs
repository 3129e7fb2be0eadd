//! The `keygen` and `sessions gc` subcommands (their output is the command's stdout).

use std::process::ExitCode;

use clap::Subcommand;

use crate::app::App;

/// `pycnic sessions …`.
#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// Remove expired sessions from the configured store (SQLite; Redis and memcached expire
    /// theirs by TTL) and print how many.
    Gc,
}

/// Prints a new key line (32 random bytes, base64url).
pub fn keygen() -> ExitCode {
    match crate::keys::generate_line() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("pycnic keygen: no randomness from the OS: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a `sessions` subcommand.
pub fn run(app: &App, command: SessionsCommand) -> ExitCode {
    match command {
        SessionsCommand::Gc => match app.collect_expired_sessions() {
            Ok(removed) => {
                println!("{removed} expired sessions removed");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("pycnic sessions gc: {err}");
                ExitCode::FAILURE
            }
        },
    }
}
