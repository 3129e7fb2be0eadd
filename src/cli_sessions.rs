//! The `keygen` and `sessions gc` subcommands (their output is the command's stdout).
//! `keygen --output FILE` writes the key into a key file itself: a new file is created mode
//! 0600; an existing one gets the key as its new first line (rotation), and only if it is the
//! user's own and private (as the app checks its session store).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// `pycnic keygen [--output FILE]`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// The key file to create (mode 0600) or to put the new key first in.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

use crate::app::App;

/// `pycnic sessions …`.
#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// Remove expired sessions from the configured store (SQLite; Redis and memcached expire
    /// theirs by TTL) and print how many.
    Gc,
}

/// Prints a new key line (32 random bytes, base64url), or puts it in `--output`'s file.
pub fn keygen(args: KeygenArgs) -> ExitCode {
    let line = match crate::keys::generate_line() {
        Ok(line) => line,
        Err(err) => {
            eprintln!("pycnic keygen: no randomness from the OS: {err}");
            return ExitCode::FAILURE;
        }
    };
    let written = match &args.output {
        Some(path) => write_key_file(path, &line),
        // A key nobody received is a failure: the caller must not go on without it.
        None => writeln!(std::io::stdout().lock(), "{line}")
            .map_err(|err| format!("cannot write the key to stdout: {err}")),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("pycnic keygen: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Creates `path` mode 0600 holding `line`, or puts `line` first in the existing file, which
/// must be a regular file of this user's that its group and others cannot read or write.
fn write_key_file(path: &Path, line: &str) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let shown = path.display();
    let old = match std::fs::symlink_metadata(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(format!("{shown}: {err}")),
        Ok(meta) => {
            // SAFETY: geteuid(2) has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            if !meta.file_type().is_file() {
                return Err(format!("{shown} is not a regular file (a symbolic link?)"));
            }
            if meta.uid() != uid {
                return Err(format!(
                    "{shown} is owned by uid {}, not by uid {uid} (you): refusing to add a key                      to a file another user controls",
                    meta.uid()
                ));
            }
            if meta.mode() & 0o077 != 0 {
                return Err(format!(
                    "{shown} is mode {:03o}: its group or others can read or write it; make                      it 0600 (chmod 600) first, and consider its keys exposed",
                    meta.mode() & 0o777
                ));
            }
            Some(std::fs::read_to_string(path).map_err(|err| format!("{shown}: {err}"))?)
        }
    };
    let text = match &old {
        None => format!("{line}\n"),
        Some(old) => format!("{line}\n{old}"),
    };
    // Written beside the file, then renamed over it: a reader sees the old file or the new.
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let temp = dir.unwrap_or(Path::new(".")).join(format!(
        ".{}.keygen-{}",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path));
    result.map_err(|err| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot write {shown}: {err}")
    })
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
