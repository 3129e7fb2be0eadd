//! Where things are: the repository, conf/ templates, the binaries under test, installed
//! tools, the web user; private temporary prefixes, free ports, template rendering.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root (where conf/ lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A conf/ template by its path under conf/.
pub fn conf(relative: &str) -> PathBuf {
    let path = repo().join("conf").join(relative);
    assert!(path.is_file(), "missing template {}", path.display());
    path
}

/// The seed binary (`target/debug/pycnic`).
pub fn pycnic_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pycnic"))
}

/// The showcase example next to the seed binary (`target/debug/examples/showcase`), up to
/// date (`examples.rs`).
pub fn showcase_bin() -> PathBuf {
    crate::examples::example_bin("showcase")
}

/// Which binary a deployment runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    /// `pycnic`, the seed example: /login, /logout.
    Seed,
    /// `examples/showcase`: /echo, /redirect, /cookies, /users, /slow...
    Showcase,
}

impl App {
    pub fn binary(self) -> PathBuf {
        match self {
            App::Seed => pycnic_bin(),
            App::Showcase => showcase_bin(),
        }
    }
}

/// The path of an installed program, or a failure that says how to install it.
pub fn require(program: &str) -> PathBuf {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin"];
    std::env::split_paths(&dirs)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!("{program} is not installed: run scripts/install-deps.sh (as root) first")
        })
}

/// A file a test needs from an installed package.
pub fn require_file(path: &str, package: &str) -> PathBuf {
    let path = PathBuf::from(path);
    assert!(
        path.exists(),
        "{} is missing: install {package} (scripts/install-deps.sh)",
        path.display()
    );
    path
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A user as /etc/passwd and /etc/group name it.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
}

/// The user the web servers run as: www-data when the tests run as root (servers drop to it,
/// Apache refuses root), else whoever runs the tests (servers then keep that user).
pub fn web_user() -> User {
    if is_root() {
        lookup_user("www-data").expect("user www-data (Debian's web server user) is missing")
    } else {
        // SAFETY: getuid/getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let name = name_of(Path::new("/etc/passwd"), uid).unwrap_or_else(|| uid.to_string());
        let group = name_of(Path::new("/etc/group"), gid).unwrap_or_else(|| gid.to_string());
        User {
            name,
            group,
            uid,
            gid,
        }
    }
}

pub fn lookup_user(name: &str) -> Option<User> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let fields: Vec<&str> = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))?;
    let uid: u32 = fields.get(2)?.parse().ok()?;
    let gid: u32 = fields.get(3)?.parse().ok()?;
    let group = name_of(Path::new("/etc/group"), gid).unwrap_or_else(|| gid.to_string());
    Some(User {
        name: name.to_string(),
        group,
        uid,
        gid,
    })
}

fn name_of(file: &Path, id: u32) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        f.next()?;
        (f.next()? == id.to_string()).then(|| name.to_string())
    })
}

/// A private temporary directory for one deployment: mode 0755 so a server that dropped to
/// www-data can read its configuration and run the binary; `var/` is owned by the web user
/// for what the server writes after dropping privileges. Removed on drop.
#[derive(Debug)]
pub struct Prefix {
    pub path: PathBuf,
}

impl Prefix {
    pub fn new(tag: &str) -> Prefix {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("pycnic-e2e-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(path.join("var")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        let prefix = Prefix { path };
        prefix.give_to_web_user("var");
        prefix
    }

    pub fn join(&self, relative: &str) -> PathBuf {
        self.path.join(relative)
    }

    pub fn str(&self) -> &str {
        self.path.to_str().expect("temp paths are UTF-8")
    }

    /// Creates `relative` (a directory) owned by the web user, mode 0755.
    pub fn give_to_web_user(&self, relative: &str) -> PathBuf {
        let dir = self.join(relative);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        if is_root() {
            let user = web_user();
            chown(&dir, Some(user.uid), Some(user.gid)).unwrap();
        }
        dir
    }

    /// Installs a binary under `bin/` (a hard link, else a copy), mode 0755, so a server
    /// running as www-data can execute it wherever the repository lives.
    pub fn install_binary(&self, from: &Path, name: &str) -> PathBuf {
        let dir = self.join("bin");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let to = dir.join(name);
        if fs::hard_link(from, &to).is_err() {
            fs::copy(from, &to).unwrap();
        }
        fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).unwrap();
        to
    }

    /// Renders a conf/ template into this prefix.
    pub fn render(&self, template: &Path, name: &str, vars: &[(&str, &str)]) -> PathBuf {
        let to = self.join(name);
        fs::write(&to, render(template, vars)).unwrap();
        fs::set_permissions(&to, fs::Permissions::from_mode(0o644)).unwrap();
        to
    }

    /// Every log the deployment wrote, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let mut files = Vec::new();
        collect_logs(&self.path, &mut files);
        files.sort();
        for file in files {
            let text = fs::read(&file).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            let _ = writeln!(out, "--- {} (last lines)", file.display());
            for line in tail.iter().rev() {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }
}

fn collect_logs(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("bin") {
            collect_logs(&path, files);
        } else if path.extension().is_some_and(|e| e == "log") {
            files.push(path);
        }
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        if std::env::var_os("PYCNIC_E2E_KEEP").is_some() {
            eprintln!("kept {}", self.path.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Substitutes `@NAME@` placeholders; a placeholder left over is a test bug.
pub fn render(template: &Path, vars: &[(&str, &str)]) -> String {
    let mut text = fs::read_to_string(template).unwrap();
    for (name, value) in vars {
        let marker = format!("@{name}@");
        assert!(
            text.contains(&marker),
            "{} has no {marker}",
            template.display()
        );
        text = text.replace(&marker, value);
    }
    if let Some(at) = find_placeholder(&text) {
        panic!(
            "{} still has a placeholder after rendering: {at}",
            template.display()
        );
    }
    text
}

fn find_placeholder(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(start) = text[i..].find('@').map(|p| p + i) {
        let rest = &bytes[start + 1..];
        let len = rest
            .iter()
            .take_while(|b| b.is_ascii_uppercase() || **b == b'_' || b.is_ascii_digit())
            .count();
        if len > 0 && rest.get(len) == Some(&b'@') {
            return Some(text[start..start + len + 2].to_string());
        }
        i = start + 1;
    }
    None
}

/// A port free on `ip` right now (bind port 0, read it, close).
pub fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn localhost() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// A temporary path as text (they are all UTF-8) for a template's placeholder.
pub fn text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

pub fn os(text: &str) -> &OsStr {
    OsStr::new(text)
}
