//! The end-to-end harness: real web servers (nginx, Apache, lighttpd) started on loopback from
//! the templates in conf/, each in its own temporary prefix with its own ports, in front of the
//! real binaries; a small HTTP/1.1 client over raw bytes (two Cookie headers, raw non-ASCII
//! paths, every Set-Cookie line seen); and the cases every configuration must pass.
//!
//! Each process is held by a [`Proc`] guard that stops its whole process group and waits for
//! it on drop; each [`Prefix`] removes its directory on drop. Readiness is bounded polling;
//! nothing here asserts a time.
//!
//! Included by each `tests/e2e_*.rs` with `#[path = "common/e2e.rs"] mod e2e;`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a server or backend may take to become ready before the test fails.
pub const READY_WITHIN: Duration = Duration::from_secs(10);
/// How long a stopped process may take to exit after SIGTERM before it gets SIGKILL.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// A read that takes longer fails the test instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// The app's default --max-body (src/cli.rs DEFAULT_MAX_BODY), which conf/ keeps.
pub const APP_MAX_BODY: usize = 10 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Paths, tools, users

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

/// The showcase example next to the seed binary (`target/debug/examples/showcase`), built
/// once per test process when it is missing.
pub fn showcase_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let path = pycnic_bin()
                .parent()
                .expect("the binary has a directory")
                .join("examples/showcase");
            if !path.is_file() {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "--example", "showcase"])
                    .current_dir(repo())
                    .status()
                    .expect("run cargo build --example showcase");
                assert!(status.success(), "cargo build --example showcase failed");
            }
            assert!(path.is_file(), "no showcase at {}", path.display());
            path
        })
        .clone()
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

// ---------------------------------------------------------------------------------------------
// Temporary prefixes, ports, templates

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

// ---------------------------------------------------------------------------------------------
// Processes

/// A child process and its whole process group (nginx workers, Apache children, the apps
/// lighttpd or mod_fcgid start): stopped with SIGTERM, then SIGKILL, and waited for on drop.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Option<Child>,
}

impl Proc {
    /// Starts `command` in its own process group with stdout and stderr in `<log>.log`.
    pub fn start(name: &str, mut command: Command, log: &Path) -> Proc {
        let out = fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Proc {
            name: name.to_string(),
            child: Some(child),
        }
    }

    /// Wraps a child started by the caller (e.g. with a listening socket on fd 0); it must
    /// have been started with `process_group(0)`.
    pub fn adopt(name: &str, child: Child) -> Proc {
        Proc {
            name: name.to_string(),
            child: Some(child),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Whether the process is still running (a zombie counts as exited; it is not reaped).
    pub fn is_running(&self) -> bool {
        self.child.as_ref().is_some_and(|c| alive(c.id()))
    }

    /// Sends `signal` to the process only (not its group).
    pub fn signal(&self, signal: i32) {
        if self.is_running() {
            // SAFETY: kill on our own child's pid.
            unsafe { libc::kill(self.pid(), signal) };
        }
    }

    /// SIGTERM to the group, wait (bounded), SIGKILL to what is left, reap. Returns the exit
    /// status of the leader.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let group = child.id() as i32;
        // SAFETY: signalling the process group we created for this child.
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_WITHIN;
        while alive(child.id()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The leader has exited (or is stuck) but is not reaped, so its group id cannot be
        // reused yet: kill whatever is left in the group, then reap.
        // SAFETY: as above.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        child.wait().ok()
    }

    /// Waits (bounded) for the process to exit by itself and reaps it.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while self.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.is_running() {
            return None;
        }
        let mut child = self.child.take()?;
        let group = child.id() as i32;
        // SAFETY: the leader is a zombie; the group is still ours.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        child.wait().ok()
    }
}

/// Whether our child `pid` has not exited yet; an exited child stays unreaped (WNOWAIT).
fn alive(pid: u32) -> bool {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid on our own child; WNOWAIT leaves it for `wait` to reap.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: si_pid is readable once waitid has filled (or left zeroed) the struct.
    rc == 0 && unsafe { info.si_pid() } == 0
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls until `ready()` holds, up to [`READY_WITHIN`]; fails with the logs if a process
/// exited or time ran out.
pub fn wait_until(what: &str, procs: &[&Proc], prefix: &Prefix, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if ready() {
            return;
        }
        for proc in procs {
            if !proc.is_running() {
                panic!(
                    "{} exited while waiting for {what}\n{}",
                    proc.name,
                    prefix.logs()
                );
            }
        }
        if Instant::now() > deadline {
            panic!(
                "{what} not ready within {READY_WITHIN:?}\n{}",
                prefix.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

pub fn unix_accepts(path: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// A command for a deployed binary: its environment cleared but for PATH and RUST_LOG, so a
/// stray GATEWAY_INTERFACE or PYCNIC_* cannot change its mode.
pub fn app_command(binary: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command.args(args).env_clear();
    command.env("PATH", "/usr/local/bin:/usr/bin:/bin");
    command.env(
        "RUST_LOG",
        std::env::var("PYCNIC_E2E_LOG").unwrap_or_else(|_| "info".into()),
    );
    command
}

// ---------------------------------------------------------------------------------------------
// Deployments: a prefix, the processes in it, the address a client talks to

/// One running deployment. Fields drop in order: processes first, then the directory.
#[derive(Debug)]
pub struct Deployment {
    pub procs: Vec<Proc>,
    pub addr: SocketAddr,
    pub prefix: Prefix,
}

impl Deployment {
    /// Runs `cases` against the deployment; on failure prints the deployment's logs first.
    pub fn check(&self, cases: impl FnOnce(SocketAddr)) {
        let addr = self.addr;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cases(addr)));
        if let Err(panic) = outcome {
            eprintln!("logs of the failed deployment:\n{}", self.prefix.logs());
            std::panic::resume_unwind(panic);
        }
    }

    pub fn proc(&self, name: &str) -> &Proc {
        self.procs
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }
}

/// Starts nginx (`daemon off`, its own prefix) with conf/test/nginx-main.conf holding the
/// rendered site `site`, listening on `port`; waits until it accepts.
pub fn start_nginx(prefix: &Prefix, site: &Path, port: u16) -> Proc {
    let nginx = require("nginx");
    // The site includes the stock fastcgi_params, relative to the main file's directory.
    let params = require_file("/etc/nginx/fastcgi_params", "nginx-common");
    fs::copy(params, prefix.join("fastcgi_params")).unwrap();
    let user = web_user();
    let main = prefix.render(
        &conf("test/nginx-main.conf"),
        "nginx.conf",
        &[
            ("PREFIX", prefix.str()),
            ("SITE", site.to_str().unwrap()),
            ("USER", &user.name),
        ],
    );
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(&prefix.path)
        .arg("-c")
        .arg(&main)
        .arg("-e")
        .arg(prefix.join("nginx-error.log"));
    let proc = Proc::start("nginx", command, &prefix.join("nginx-stderr.log"));
    let addr = SocketAddr::new(localhost(), port);
    wait_until("nginx", &[&proc], prefix, || accepts(addr));
    proc
}

/// Starts Apache (`-DFOREGROUND`, its own ServerRoot) with conf/test/apache-main.conf holding
/// the rendered site, under MPM `mpm` (event or prefork); waits until it accepts.
pub fn start_apache(prefix: &Prefix, mpm: &str, site: &Path, port: u16) -> Proc {
    let apache = require("apache2");
    require_file(
        &format!("/usr/lib/apache2/modules/mod_mpm_{mpm}.so"),
        "apache2-bin",
    );
    fs::create_dir_all(prefix.join("run")).unwrap();
    let user = web_user();
    let port = port.to_string();
    let main = prefix.render(
        &conf("test/apache-main.conf"),
        "apache2.conf",
        &[
            ("PREFIX", prefix.str()),
            ("PORT", &port),
            ("MPM", mpm),
            ("SITE", site.to_str().unwrap()),
            ("USER", &user.name),
            ("GROUP", &user.group),
        ],
    );
    let mut command = Command::new(apache);
    command.arg("-DFOREGROUND").arg("-f").arg(&main);
    // Debian's apache2 reads these from /etc/apache2/envvars when run by apache2ctl; the test
    // configuration names its paths itself, so only the locale matters.
    command.env("LANG", "C");
    let proc = Proc::start("apache2", command, &prefix.join("apache-stderr.log"));
    let addr = SocketAddr::new(localhost(), port.parse().unwrap());
    wait_until("apache2", &[&proc], prefix, || accepts(addr));
    proc
}

/// Starts lighttpd (`-D`) with conf/test/lighttpd-main.conf holding the rendered site;
/// waits until it accepts.
pub fn start_lighttpd(prefix: &Prefix, site: &Path, port: u16) -> Proc {
    let lighttpd = require("lighttpd");
    fs::create_dir_all(prefix.join("htdocs")).unwrap();
    prefix.give_to_web_user("var/uploads");
    let user = web_user();
    let port = port.to_string();
    let main = prefix.render(
        &conf("test/lighttpd-main.conf"),
        "lighttpd.conf",
        &[
            ("PREFIX", prefix.str()),
            ("PORT", &port),
            ("SITE", site.to_str().unwrap()),
            ("USER", &user.name),
            ("GROUP", &user.group),
        ],
    );
    let mut command = Command::new(lighttpd);
    command.arg("-D").arg("-f").arg(&main);
    let proc = Proc::start("lighttpd", command, &prefix.join("lighttpd-stderr.log"));
    let addr = SocketAddr::new(localhost(), port.parse().unwrap());
    wait_until("lighttpd", &[&proc], prefix, || accepts(addr));
    proc
}

// ---------------------------------------------------------------------------------------------
// The app as conf/systemd/ and conf/spawn-fcgi/ start it

/// A rendered systemd unit: its `Key=Value` lines in order (sections are not told apart;
/// the units in conf/ use each key in one section only).
#[derive(Debug)]
pub struct Unit {
    pub path: PathBuf,
    pub entries: Vec<(String, String)>,
}

impl Unit {
    pub fn read(path: &Path) -> Unit {
        let text = fs::read_to_string(path).unwrap();
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(['#', ';', '[']))
            .map(|l| {
                let (k, v) = l
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{}: not Key=Value: {l}", path.display()));
                (k.trim().to_string(), v.trim().to_string())
            })
            .collect();
        Unit {
            path: path.to_path_buf(),
            entries,
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `ExecStart=`, split on white space (the units in conf/ quote nothing).
    pub fn exec_start(&self) -> Vec<String> {
        let line = self
            .get("ExecStart")
            .unwrap_or_else(|| panic!("{} has no ExecStart", self.path.display()));
        line.split_whitespace().map(str::to_string).collect()
    }

    /// Every `Environment=NAME=value`.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .filter(|(k, _)| k == "Environment")
            .map(|(_, v)| {
                let (n, v) = v.split_once('=').expect("Environment=NAME=value");
                (n.to_string(), v.to_string())
            })
            .collect()
    }

    /// The service's command as systemd would run it: ExecStart with only Environment= set
    /// (plus the test's RUST_LOG when PYCNIC_E2E_LOG asks for one).
    pub fn command(&self) -> Command {
        let argv = self.exec_start();
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).env_clear();
        command.envs(self.environment());
        if let Ok(level) = std::env::var("PYCNIC_E2E_LOG") {
            command.env("RUST_LOG", level);
        }
        command
    }
}

/// Checks rendered units with `systemd-analyze verify`: it must pass and warn about nothing
/// in them (an unknown key is only a warning to systemd).
pub fn verify_units(units: &[&Path]) {
    let analyze = require("systemd-analyze");
    let dir = units[0].parent().unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .args(units)
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {stderr}"
    );
    for unit in units {
        let name = unit.file_name().unwrap().to_string_lossy();
        let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains(&*name)).collect();
        assert!(
            complaints.is_empty(),
            "systemd-analyze verify complains about {name}: {complaints:?}"
        );
    }
}

/// `pycnic fastcgi --listen ADDR` as conf/systemd/pycnic-tcp.service runs it; waits until
/// it accepts.
pub fn start_tcp_service(prefix: &Prefix, name: &str, bin: &Path, listen: SocketAddr) -> Proc {
    let unit = prefix.render(
        &conf("systemd/pycnic-tcp.service"),
        &format!("{name}.service"),
        &[
            ("BIN", text(bin)),
            ("BACKEND", &listen.to_string()),
            ("WEB_SERVER_ADDRS", "127.0.0.1"),
        ],
    );
    let command = Unit::read(&unit).command();
    let proc = Proc::start(name, command, &prefix.join(&format!("{name}.log")));
    wait_until(name, &[&proc], prefix, || accepts(listen));
    proc
}

/// The app behind conf/systemd/pycnic.socket + pycnic.service, started the way systemd does
/// it: `systemd-socket-activate` opens the unit's ListenStream and, on the first connection,
/// execs the service's ExecStart with the socket as fd 3 and LISTEN_FDS=1. The socket's
/// SocketGroup and SocketMode are applied as systemd would (the tool has no such options).
pub fn start_socket_activated(prefix: &Prefix, bin: &Path, socket: &Path) -> Proc {
    let web = web_user();
    let socket_unit = prefix.render(
        &conf("systemd/pycnic.socket"),
        "pycnic.socket",
        &[("SOCKET", text(socket)), ("WEB_GROUP", &web.group)],
    );
    let service_unit = prefix.render(
        &conf("systemd/pycnic.service"),
        "pycnic.service",
        &[("BIN", text(bin))],
    );
    let (socket_unit, service_unit) = (Unit::read(&socket_unit), Unit::read(&service_unit));
    let listen = socket_unit.get("ListenStream").unwrap().to_string();
    let mode = u32::from_str_radix(socket_unit.get("SocketMode").unwrap(), 8).unwrap();

    let mut command = Command::new(require("systemd-socket-activate"));
    command.env_clear().arg("-l").arg(&listen);
    let mut environment = service_unit.environment();
    if let Ok(level) = std::env::var("PYCNIC_E2E_LOG") {
        environment.push(("RUST_LOG".into(), level));
    }
    for (name, value) in environment {
        command.arg("-E").arg(format!("{name}={value}"));
    }
    command.args(service_unit.exec_start());
    let proc = Proc::start("pycnic", command, &prefix.join("pycnic.log"));
    wait_until("the activation socket", &[&proc], prefix, || {
        socket.exists()
    });
    fs::set_permissions(socket, fs::Permissions::from_mode(mode)).unwrap();
    if is_root() {
        chown(socket, None, Some(web.gid)).unwrap();
    }
    proc
}

/// conf/spawn-fcgi/pycnic-spawn-fcgi.sh, rendered and run: spawn-fcgi binds the socket (owner,
/// group, mode as the script says) and runs the binary with it on fd 0; the app runs as
/// `nobody` (when root). Waits until the socket accepts.
pub fn start_spawn_fcgi(prefix: &Prefix, bin: &Path, socket: &Path) -> Proc {
    require("spawn-fcgi");
    let web = web_user();
    let app = if is_root() {
        lookup_user("nobody").expect("user nobody")
    } else {
        web.clone()
    };
    let script = prefix.render(
        &conf("spawn-fcgi/pycnic-spawn-fcgi.sh"),
        "pycnic-spawn-fcgi.sh",
        &[
            ("BIN", text(bin)),
            ("SOCKET", text(socket)),
            ("APP_USER", &app.name),
            ("APP_GROUP", &app.group),
            ("WEB_GROUP", &web.group),
        ],
    );
    let mut command = Command::new("sh");
    command
        .arg(script)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    if let Ok(level) = std::env::var("PYCNIC_E2E_LOG") {
        command.env("RUST_LOG", level);
    }
    let proc = Proc::start("pycnic", command, &prefix.join("pycnic.log"));
    wait_until("spawn-fcgi's socket", &[&proc], prefix, || {
        unix_accepts(socket)
    });
    proc
}

// ---------------------------------------------------------------------------------------------
// The HTTP/1.1 client

/// One request as raw parts: the target is bytes (raw non-ASCII allowed), headers may repeat.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub target: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Option<Vec<u8>>,
}

impl Req {
    pub fn new(method: &str, target: impl AsRef<[u8]>) -> Req {
        Req {
            method: method.to_string(),
            target: target.as_ref().to_vec(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(target: impl AsRef<[u8]>) -> Req {
        Req::new("GET", target)
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        self.headers
            .push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    pub fn cookie(self, value: &str) -> Req {
        self.header("Cookie", value)
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> Req {
        self.body = Some(body.as_ref().to_vec());
        self
    }

    pub fn json(self, body: impl AsRef<[u8]>) -> Req {
        self.header("Content-Type", "application/json").body(body)
    }

    /// The request's bytes. POST, PUT and PATCH always carry a Content-Length (lighttpd
    /// answers 411 to a POST without one).
    pub fn to_bytes(&self, host: &str, keep_alive: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.as_ref().map_or(0, Vec::len));
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let needs_length = matches!(self.method.as_str(), "POST" | "PUT" | "PATCH");
        if self.body.is_some() || needs_length {
            let len = self.body.as_ref().map_or(0, Vec::len);
            out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if let Some(body) = &self.body {
            out.extend_from_slice(body);
        }
        out
    }
}

/// A response as it arrived: every header line kept, in order.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header line of that name, in order.
    pub fn header_lines(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}\nheaders: {:?}",
                String::from_utf8_lossy(&self.body),
                self.headers
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a new connection (`Connection: close`).
pub fn send(addr: SocketAddr, req: &Req) -> Resp {
    let mut conn = Conn::open(addr);
    conn.request_with(req, false)
}

/// A client connection that may carry several requests (keep-alive).
pub struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Conn {
            addr,
            stream,
            reader,
        }
    }

    /// Sends one request, keeping the connection open, and reads the response.
    pub fn request(&mut self, req: &Req) -> Resp {
        self.request_with(req, true)
    }

    fn request_with(&mut self, req: &Req, keep_alive: bool) -> Resp {
        let bytes = req.to_bytes(&self.addr.to_string(), keep_alive);
        if bytes.len() <= 64 * 1024 {
            self.stream.write_all(&bytes).unwrap();
            return read_response(&mut self.reader, req.method == "HEAD");
        }
        // A large body is written by another thread while this one reads, so an early answer
        // (413 before the body is read) is seen even if the server stops reading.
        let mut writer = self.stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let result = writer.write_all(&bytes);
            if result.is_err() {
                let _ = writer.shutdown(Shutdown::Write);
            }
            result
        });
        let resp = read_response(&mut self.reader, req.method == "HEAD");
        let _ = sender.join();
        resp
    }
}

/// Reads one HTTP/1.1 response: status line, header lines, then a body framed by
/// Content-Length, chunked encoding, or the end of the connection.
pub fn read_response(reader: &mut impl BufRead, head_request: bool) -> Resp {
    let status_line = read_line(reader);
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    assert!(
        version.starts_with("HTTP/1."),
        "not an HTTP response: {status_line:?}"
    );
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader);
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad header line {line:?}"));
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if head_request || status / 100 == 1 || status == 204 || status == 304 {
        return resp;
    }
    let chunked = resp
        .header("Transfer-Encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let size_line = read_line(reader);
            let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            if size == 0 {
                // Trailers, then the blank line.
                while !read_line(reader).is_empty() {}
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk).unwrap();
            resp.body.extend_from_slice(&chunk);
            assert_eq!(read_line(reader), "", "chunk not followed by CRLF");
        }
    } else if let Some(len) = resp.header("Content-Length") {
        let len: usize = len.parse().unwrap();
        resp.body = vec![0; len];
        reader.read_exact(&mut resp.body).unwrap();
    } else {
        reader.read_to_end(&mut resp.body).unwrap();
    }
    resp
}

fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).unwrap();
    assert!(!line.is_empty(), "connection closed before a full response");
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8_lossy(&line).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The cases every configuration passes

/// Runs the seed table and the body limit on one deployment of `pycnic`, then the showcase
/// cases on one of the showcase: what every configuration in conf/ must pass.
pub fn every_case(server: &str, deploy: fn(App) -> Deployment) {
    let seed = deploy(App::Seed);
    seed.check(|addr| {
        seed_table(server, addr);
        body_limit(server, addr);
    });
    drop(seed);
    deploy(App::Showcase).check(|addr| showcase_cases(server, addr));
}

/// The seed table of PYCNIC.md, through a server in front of `pycnic`, HEAD included.
pub fn seed_table(server: &str, addr: SocketAddr) {
    let error = |status: &str, code: u16, msg: &str| json!({"status": status, "status_code": code, "error": msg, "data": null});
    let logged_in = "session_id=1234567890abcdefg; Path=/";
    let deleted = "session_id=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Max-Age=0";
    struct Case {
        name: &'static str,
        req: Req,
        status: u16,
        body: Option<Value>,
        set_cookie: Vec<&'static str>,
        allow: Option<&'static str>,
    }
    let case = |name, req, status, body: Option<Value>| Case {
        name,
        req,
        status,
        body,
        set_cookie: Vec::new(),
        allow: None,
    };
    let cases = vec![
        case(
            "GET /login, no cookie",
            Req::get("/login"),
            200,
            Some(json!({"session_id": null})),
        ),
        case(
            "GET /login with a cookie (segment without = skipped, trailing ;)",
            Req::get("/login").cookie("session_id=abc; path=/;"),
            200,
            Some(json!({"session_id": "abc"})),
        ),
        Case {
            set_cookie: vec![logged_in],
            ..case(
                "POST /login right credentials",
                Req::new("POST", "/login").json(r#"{"username":"foo","password":"foo"}"#),
                200,
                Some(json!({"message": "Logged in"})),
            )
        },
        case(
            "POST /login without a password",
            Req::new("POST", "/login").json(r#"{"username":"foo"}"#),
            400,
            Some(error(
                "400 Bad Request",
                400,
                "Username and password are required",
            )),
        ),
        case(
            "POST /login without a body",
            Req::new("POST", "/login"),
            400,
            Some(error(
                "400 Bad Request",
                400,
                "Username and password are required",
            )),
        ),
        case(
            "POST /login wrong password",
            Req::new("POST", "/login").json(r#"{"username":"foo","password":"bar"}"#),
            401,
            Some(error(
                "401 Unauthorized",
                401,
                "Username or password are incorrect",
            )),
        ),
        case(
            "POST /login bad JSON",
            Req::new("POST", "/login").json("{bad json"),
            400,
            Some(error(
                "400 Bad Request",
                400,
                "Expected JSON in request body",
            )),
        ),
        Case {
            set_cookie: vec![deleted],
            ..case(
                "POST /logout with a session",
                Req::new("POST", "/logout").cookie("session_id=x"),
                200,
                Some(json!({"message": "Logged out"})),
            )
        },
        case(
            "POST /logout with a DELETED session",
            Req::new("POST", "/logout").cookie("session_id=DELETED; theme=dark"),
            200,
            Some(json!({"message": "Already logged out", "cookies": {"theme": "dark"}})),
        ),
        case(
            "GET /logout",
            Req::get("/logout"),
            405,
            Some(error("405 Method Not Allowed", 405, "GET not allowed")),
        ),
        case(
            "GET /nowhere",
            Req::get("/nowhere"),
            404,
            Some(error("404 Not Found", 404, "Path /nowhere not found")),
        ),
        case(
            "GET /login/ (one trailing slash stripped)",
            Req::get("/login/").cookie("session_id=abc"),
            200,
            Some(json!({"session_id": "abc"})),
        ),
        Case {
            allow: Some("GET, HEAD, POST, OPTIONS"),
            ..case(
                "OPTIONS /login",
                Req::new("OPTIONS", "/login"),
                200,
                Some(json!({})),
            )
        },
        case(
            "HEAD /login (GET without a body)",
            Req::new("HEAD", "/login"),
            200,
            None,
        ),
    ];
    for case in cases {
        let what = format!("{server}: {}", case.name);
        let resp = send(addr, &case.req);
        assert_eq!(
            resp.status,
            case.status,
            "{what}: status; body {}",
            resp.text()
        );
        assert_eq!(
            resp.header("Content-Type"),
            Some("application/json"),
            "{what}: Content-Type"
        );
        match &case.body {
            Some(body) => assert_eq!(&resp.json(), body, "{what}: body"),
            None => assert!(resp.body.is_empty(), "{what}: a HEAD answer has no body"),
        }
        assert_eq!(
            resp.header_lines("Set-Cookie"),
            case.set_cookie,
            "{what}: Set-Cookie lines"
        );
        if let Some(allow) = case.allow {
            assert_eq!(resp.header("Allow"), Some(allow), "{what}: Allow");
        }
    }
}

/// A JSON login body of exactly `len` bytes (padded with a field the handler ignores).
pub fn login_body_of_len(len: usize) -> Vec<u8> {
    let head = br#"{"username":"foo","password":"foo","pad":""#;
    let tail = br#""}"#;
    assert!(len >= head.len() + tail.len());
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(head);
    body.resize(len - tail.len(), b'x');
    body.extend_from_slice(tail);
    body
}

/// A body just under the app's limit is read whole; one byte over it gets the app's JSON 413.
pub fn body_limit(server: &str, addr: SocketAddr) {
    let near = APP_MAX_BODY - 1024;
    let resp = send(
        addr,
        &Req::new("POST", "/login").json(login_body_of_len(near)),
    );
    assert_eq!(
        (resp.status, resp.json()),
        (200, json!({"message": "Logged in"})),
        "{server}: a {near}-byte body (under the limit) is read whole"
    );
    let over = APP_MAX_BODY + 1;
    let resp = send(
        addr,
        &Req::new("POST", "/login").json(login_body_of_len(over)),
    );
    assert_eq!(
        resp.status,
        413,
        "{server}: a {over}-byte body is over the limit: {}",
        resp.text()
    );
    let body = resp.json();
    assert_eq!(
        body["status_code"], 413,
        "{server}: the app's JSON 413: {body}"
    );
}

/// The showcase through a server: request details the app must see, and response details
/// the client must see.
pub fn showcase_cases(server: &str, addr: SocketAddr) {
    // Two Cookie headers: nginx sends two HTTP_COOKIE params, Apache joins with ", " (conf/
    // restores "; "), lighttpd joins with "; ".
    let echo = send(addr, &Req::get("/echo").cookie("a=1").cookie("b=2")).json();
    assert_eq!(
        echo["cookies"],
        json!({"a": "1", "b": "2"}),
        "{server}: two Cookie headers: the app sees both cookies"
    );

    let paths: [(&str, &[u8], &str); 4] = [
        ("percent-encoded UTF-8", b"/echo/caf%C3%A9", "/echo/café"),
        ("raw UTF-8 bytes", "/echo/café".as_bytes(), "/echo/café"),
        ("percent-encoded space", b"/echo/a%20b", "/echo/a b"),
        (
            "raw non-ASCII and a query",
            "/echo/naïve?x=1".as_bytes(),
            "/echo/naïve",
        ),
    ];
    for (name, target, want) in paths {
        let resp = send(addr, &Req::get(target));
        assert_eq!(resp.status, 200, "{server}: path {name}: {}", resp.text());
        assert_eq!(resp.json()["path"], want, "{server}: path {name}");
    }

    // A path that is not UTF-8 once decoded: nginx and Apache pass it on and the app decodes
    // it lossily; lighttpd refuses it with its own 400 before the app sees it.
    let non_utf8: [(&str, &[u8]); 2] = [
        ("percent-encoded non-UTF-8 byte", b"/echo/x%FFy"),
        ("raw non-UTF-8 byte", b"/echo/x\xFFy"),
    ];
    for (name, target) in non_utf8 {
        let resp = send(addr, &Req::get(target));
        if server.starts_with("lighttpd") {
            assert_eq!(
                resp.status, 400,
                "{server}: path {name}: lighttpd refuses it"
            );
        } else {
            assert_eq!(resp.status, 200, "{server}: path {name}: {}", resp.text());
            assert_eq!(
                resp.json()["path"],
                "/echo/x\u{FFFD}y",
                "{server}: path {name}"
            );
        }
    }

    let echo = send(addr, &Req::get("/echo?a=1&b=x+y&c=%26&d=caf%C3%A9&a=2&e=")).json();
    assert_eq!(
        echo["args"],
        json!({"a": "2", "b": "x y", "c": "&", "d": "café"}),
        "{server}: query string args (last duplicate wins, blank dropped)"
    );
    assert_eq!(
        echo["args_all"]["a"],
        json!(["1", "2"]),
        "{server}: every value of a repeated key"
    );

    let big = "v".repeat(6 * 1024);
    let echo = send(
        addr,
        &Req::get("/echo").cookie(&format!("big={big}; small=1")),
    )
    .json();
    assert_eq!(
        echo["cookies"]["big"].as_str().map(str::len),
        Some(big.len()),
        "{server}: a 6 KB cookie header reaches the app whole"
    );
    assert_eq!(
        echo["cookies"]["small"], "1",
        "{server}: 6 KB cookie header"
    );

    let echo = send(addr, &Req::new("PUT", "/echo").json(r#"{"k":"v"}"#)).json();
    assert_eq!(
        (echo["method"].clone(), echo["body"].clone()),
        (json!("PUT"), json!(r#"{"k":"v"}"#)),
        "{server}: PUT with a body"
    );

    let echo = send(
        addr,
        &Req::get("/echo").header("Authorization", "Bearer e2e-token"),
    )
    .json();
    assert_eq!(
        echo["authorization"], "Bearer e2e-token",
        "{server}: Authorization reaches the app"
    );

    let resp = send(addr, &Req::new("POST", "/cookies"));
    assert_eq!(resp.status, 200, "{server}: POST /cookies");
    assert_eq!(
        resp.header_lines("Set-Cookie"),
        vec![
            "plain=last wins; Path=/",
            "full=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Domain=example.test; Path=/app; Max-Age=3600; Secure; HttpOnly; SameSite=Lax",
            "flagged=3; Path=/; Partitioned",
        ],
        "{server}: every Set-Cookie arrives as its own line, in order"
    );

    let redirects: [(&str, &str, &str); 2] = [
        ("relative Location", "/redirect", "/hello/world"),
        (
            "absolute Location",
            "/redirect?to=https://example.test/elsewhere",
            "https://example.test/elsewhere",
        ),
    ];
    for (name, target, location) in redirects {
        let resp = send(addr, &Req::get(target));
        assert_eq!(resp.status, 302, "{server}: redirect, {name}: status");
        assert_eq!(
            resp.header("Location"),
            Some(location),
            "{server}: redirect, {name}: Location"
        );
    }

    let resp = send(
        addr,
        &Req::new("POST", "/users").json(r#"{"name":"ada","age":36}"#),
    );
    assert_eq!(resp.status, 201, "{server}: Status: 201 with a Location");
    assert!(
        resp.header("Location")
            .is_some_and(|l| l.starts_with("/users/")),
        "{server}: 201's Location: {:?}",
        resp.headers
    );

    let statuses: [(&str, Req, u16); 4] = [
        ("204 has no body", Req::get("/empty"), 204),
        ("403 from a before hook", Req::get("/admin"), 403),
        (
            "418 from the app's before hook",
            Req::get("/echo").header("X-Block", "1"),
            418,
        ),
        ("500 from a panic", Req::get("/panic"), 500),
    ];
    for (name, req, status) in statuses {
        let resp = send(addr, &req);
        assert_eq!(resp.status, status, "{server}: {name}: {}", resp.text());
        if status == 204 {
            assert!(resp.body.is_empty(), "{server}: {name}");
        } else {
            assert!(resp.json().is_object(), "{server}: {name}: JSON body");
        }
    }

    let resp = send(addr, &Req::get("/stream?chunks=3"));
    assert_eq!(
        (resp.status, resp.text()),
        (200, "chunk 0\nchunk 1\nchunk 2\n".to_string()),
        "{server}: a streamed body"
    );
}

// ---------------------------------------------------------------------------------------------
// Connections seen in the kernel's table

/// TCP connections to or from `addr` in /proc/net/tcp, by state: (established, time_wait).
/// A connection reused for many requests leaves no TIME-WAIT behind; one per request does.
pub fn tcp_states(addr: SocketAddr) -> (usize, usize) {
    let IpAddr::V4(ip) = addr.ip() else {
        panic!("tcp_states reads IPv4 only");
    };
    let want = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(ip.octets()),
        addr.port()
    );
    let table = fs::read_to_string("/proc/net/tcp").unwrap();
    let (mut established, mut time_wait) = (0, 0);
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote), Some(state)) =
            (fields.get(1), fields.get(2), fields.get(3))
        else {
            continue;
        };
        // Count each connection once: from the side whose remote end is `addr` (the client)
        // for established ones; TIME-WAIT sits on whichever side closed first.
        match *state {
            "01" if *remote == want => established += 1,
            "06" if *remote == want || *local == want => time_wait += 1,
            _ => {}
        }
    }
    (established, time_wait)
}

/// The median of some durations.
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A temporary path as text (they are all UTF-8) for a template's placeholder.
pub fn text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

pub fn os(text: &str) -> &OsStr {
    OsStr::new(text)
}
