//! Child processes held by guards that stop their whole process group and wait on drop,
//! and bounded readiness polling.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

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

/// How an app started under `root` runs: for each process named `name` (`/proc/PID/comm`)
/// among `root` and its descendants whose parent is not so named, how many children so named
/// it has, sorted. `[2]`: one pycnic master with 2 workers; `[0]`: one process with no master.
pub fn app_shape(root: i32, name: &str) -> Vec<usize> {
    // (pid, parent) of every live process.
    let mut all: Vec<(i32, i32, bool)> = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the name may hold spaces and parentheses.
        let (Some(open), Some((head, rest))) = (stat.find('('), stat.rsplit_once(')')) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let (Some(state), Some(parent)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(parent) = parent.parse::<i32>() else {
            continue;
        };
        if state == "Z" || state == "X" {
            continue;
        }
        all.push((pid, parent, &head[open + 1..] == name));
    }
    let mut tree = vec![root];
    let mut next = 0;
    while next < tree.len() {
        let parent = tree[next];
        tree.extend(all.iter().filter(|p| p.1 == parent).map(|p| p.0));
        next += 1;
    }
    let named: Vec<(i32, i32)> = all
        .iter()
        .filter(|p| p.2 && tree.contains(&p.0))
        .map(|p| (p.0, p.1))
        .collect();
    let is_named = |pid: i32| named.iter().any(|p| p.0 == pid);
    let mut shape: Vec<usize> = named
        .iter()
        .filter(|p| !is_named(p.1))
        .map(|top| named.iter().filter(|p| p.1 == top.0).count())
        .collect();
    shape.sort_unstable();
    shape
}

/// Waits (bounded, [`READY_WITHIN`]) until [`app_shape`] of `root` is `want`; fails with the
/// shape seen last and the logs.
pub fn wait_for_shape(what: &str, root: i32, name: &str, want: &[usize], prefix: &Prefix) {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        let shape = app_shape(root, name);
        if shape == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {name} processes under pid {root} run as {shape:?} (workers per top \
             process), not {want:?}\n{}",
            prefix.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
