//! The `keygen` and `sessions gc` subcommands (their output is the command's stdout).

use std::io::Write;
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
        // A key nobody received is a failure: the caller must not go on without it.
        Ok(line) => match writeln!(std::io::stdout().lock(), "{line}") {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("pycnic keygen: cannot write the key to stdout: {err}");
                ExitCode::FAILURE
            }
        },
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
                // The sweep is done; a reader that went away only misses the count.
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{removed} expired sessions removed"
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("pycnic sessions gc: {err}");
                ExitCode::FAILURE
            }
        },
    }
}
