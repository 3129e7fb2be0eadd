//! Where the default SQLite store lives, and the check every SQLite store passes before it is
//! opened: a store file, or the folder it is in, that another user owns or could write is
//! never adopted (someone who planted it could read every session and forge one).
//!
//! **The model.** Each app has its own private folder, named for the app (the program's file
//! name): the first of
//! 1. `$STATE_DIRECTORY` (systemd's `StateDirectory=`),
//! 2. `/var/lib/pycnic-APP` when it exists (the place for a CGI program under the web
//!    server's user, whose environment has no `HOME`),
//! 3. `$XDG_STATE_HOME/pycnic-APP`, else `$HOME/.local/state/pycnic-APP`,
//! 4. `/var/lib/pycnic-APP` again, to be created;
//!
//! and in it `sessions.sqlite3`. A missing store folder is created mode 0700 (its parent must
//! exist, except the per-user state folder of 3, made as the XDG spec says). The folder must be
//! owned by the process's user and not writable by group or others (SQLite writes `-wal` and
//! `-shm` files beside the store); the file, and its `-wal` and `-shm` when present, too.

use std::path::{Path, PathBuf};

/// The store file's name in the app's folder.
const FILE: &str = "sessions.sqlite3";

/// The app's name: the program's file name (without extension), in `[A-Za-z0-9._-]`.
pub fn app_name() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let clean: String = stem
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        "pycnic".into()
    } else {
        clean
    }
}

/// The per-user state folder (`$XDG_STATE_HOME`, else `$HOME/.local/state`).
fn user_state_dir() -> Option<PathBuf> {
    absolute_env("XDG_STATE_HOME").or_else(|| {
        absolute_env("HOME")
            .filter(|home| home.is_dir())
            .map(|home| home.join(".local/state"))
    })
}

fn absolute_env(name: &str) -> Option<PathBuf> {
    let value = std::env::var_os(name)?;
    let path = PathBuf::from(value);
    path.is_absolute().then_some(path)
}

/// The default store's path for the app `app`.
pub fn default_path(app: &str) -> PathBuf {
    let folder = format!("pycnic-{app}");
    let var_lib = Path::new("/var/lib").join(&folder);
    let state = std::env::var_os("STATE_DIRECTORY")
        .and_then(|dirs| std::env::split_paths(&dirs).next())
        .filter(|dir| dir.is_absolute());
    let dir = state
        .or_else(|| var_lib.is_dir().then(|| var_lib.clone()))
        .or_else(|| user_state_dir().map(|d| d.join(&folder)))
        .unwrap_or(var_lib);
    dir.join(FILE)
}

/// Why a store location was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocationError {
    /// The folder could not be created or read.
    Folder(PathBuf, String),
    /// A file or folder another user owns.
    NotOwned {
        /// The file or folder.
        path: PathBuf,
        /// Its owner's uid.
        owner: u32,
    },
    /// A file or folder its group or others may write.
    Writable(PathBuf, u32),
    /// The store path is a symbolic link or not a regular file.
    NotAFile(PathBuf),
}

/// The process's effective uid and, when `/etc/passwd` names it, its user name.
fn me() -> (u32, String) {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    (uid, user_name(uid))
}

fn user_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse::<u32>().ok()?;
            (id == uid).then(|| format!("{name} (uid {uid})"))
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

impl std::fmt::Display for LocationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (_, user) = me();
        match self {
            LocationError::Folder(dir, why) => write!(
                f,
                "cannot use the session store folder {}: {why}; create it mode 0700 owned by \
                 {user}, the user this program runs as, or name a store in PYCNIC_SESSION_STORE",
                dir.display()
            ),
            LocationError::NotOwned { path, owner } => write!(
                f,
                "refusing the session store {}: it is owned by {}, not by {user}, the user \
                 this program runs as; it must be {user}'s (chown it, or remove it)",
                path.display(),
                user_name(*owner)
            ),
            LocationError::Writable(path, mode) => write!(
                f,
                "refusing the session store {}: mode {mode:03o} lets its group or others \
                 write it; it must be {user}'s alone (chmod go-w, folders 0700)",
                path.display()
            ),
            LocationError::NotAFile(path) => write!(
                f,
                "refusing the session store {}: not a regular file (a symbolic link?)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LocationError {}

#[cfg(unix)]
fn check(path: &Path, meta: &std::fs::Metadata, uid: u32) -> Result<(), LocationError> {
    use std::os::unix::fs::MetadataExt;
    if meta.uid() != uid {
        return Err(LocationError::NotOwned {
            path: path.to_path_buf(),
            owner: meta.uid(),
        });
    }
    if meta.mode() & 0o022 != 0 {
        return Err(LocationError::Writable(
            path.to_path_buf(),
            meta.mode() & 0o7777,
        ));
    }
    Ok(())
}

/// Creates the store's folder (mode 0700) if missing, and checks the folder, the store file
/// and its `-wal` and `-shm` files: each owned by the process's user, none writable by group
/// or others.
#[cfg(unix)]
pub fn secure(path: &Path) -> Result<(), LocationError> {
    use std::os::unix::fs::DirBuilderExt;
    let (uid, _) = me();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        let folder_error =
            |err: std::io::Error| LocationError::Folder(dir.clone(), err.to_string());
        // Only the store's own folder is made, and the per-user state folder above it.
        if let Some(state) = user_state_dir()
            && dir.parent() == Some(state.as_path())
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&state)
                .map_err(folder_error)?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(folder_error)?;
    }
    let meta = std::fs::metadata(&dir)
        .map_err(|err| LocationError::Folder(dir.clone(), err.to_string()))?;
    check(&dir, &meta, uid)?;
    let name = path.as_os_str().to_string_lossy().into_owned();
    for file in [name.clone(), format!("{name}-wal"), format!("{name}-shm")] {
        let file = PathBuf::from(file);
        match std::fs::symlink_metadata(&file) {
            Ok(meta) if !meta.file_type().is_file() => return Err(LocationError::NotAFile(file)),
            Ok(meta) => check(&file, &meta, uid)?,
            Err(_) => {}
        }
    }
    Ok(())
}

/// Not checked where there are no Unix owners and modes.
#[cfg(not(unix))]
pub fn secure(_path: &Path) -> Result<(), LocationError> {
    Ok(())
}
