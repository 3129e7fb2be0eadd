//! Every subcommand survives a reader that has gone away (`pycnic routes | head -1`, a web
//! server that dropped the CGI pipe) or a stdout that was closed (`>&-`): no panic (exit 101),
//! a quiet end where the output was only a listing or a count, a logged error and status 1
//! where a response or a new key was lost.

use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

/// The binary with an empty environment but for a session store in `dir` (for `sessions gc`).
fn pycnic(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pycnic"));
    command
        .env_clear()
        .env(
            "PYCNIC_SESSION_STORE",
            format!("sqlite:{}", dir.join("sessions.sqlite3").display()),
        )
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// A private directory, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("pycnic-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `command` with stdout the write end of a pipe whose read end is already closed, so
/// every write fails with EPIPE (the read end is closed before the program starts: no race).
/// Both ends are close-on-exec: the tests share one process, and a child another test spawns
/// meanwhile must not inherit the read end (it would keep the pipe open and the writes
/// would not fail). The child's stdout is a dup of the write end, which exec keeps.
fn run_with_gone_reader(mut command: Command) -> Output {
    let mut fds = [0; 2];
    // SAFETY: pipe2(2) fills two descriptors that this function then owns.
    assert_eq!(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) },
        0,
        "a pipe"
    );
    let [reader, writer] = fds;
    // SAFETY: both descriptors were just created and are owned here alone.
    let writer = unsafe {
        libc::close(reader);
        std::fs::File::from_raw_fd(writer)
    };
    command.stdout(writer);
    command.output().expect("the binary runs")
}

fn cgi_env(command: &mut Command) {
    command
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", "GET")
        .env("REQUEST_URI", "/login")
        .env("HTTP_COOKIE", "session_id=abc");
}

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    cgi: bool,
    /// The exit status wanted: 0 when only a listing, a count or help text was cut short, 1
    /// when a response or a key could not be delivered.
    status: i32,
}

/// What stderr must say when the status is 1.
fn lost_message(case: &Case) -> &'static str {
    if case.name == "keygen" {
        "cannot write the key to stdout"
    } else {
        "could not write the response to stdout"
    }
}

const CASES: &[Case] = &[
    Case {
        name: "routes",
        args: &["routes"],
        cgi: false,
        status: 0,
    },
    Case {
        name: "--help",
        args: &["--help"],
        cgi: false,
        status: 0,
    },
    Case {
        name: "routes --help",
        args: &["routes", "--help"],
        cgi: false,
        status: 0,
    },
    Case {
        name: "--version",
        args: &["--version"],
        cgi: false,
        status: 0,
    },
    Case {
        name: "request",
        args: &["request", "GET", "/login"],
        cgi: false,
        status: 1,
    },
    Case {
        name: "request -f on an error status",
        args: &["request", "-f", "POST", "/login", "-d", "{}"],
        cgi: false,
        status: 1,
    },
    Case {
        name: "cgi",
        args: &["cgi"],
        cgi: true,
        status: 1,
    },
    Case {
        name: "bare CGI (no arguments)",
        args: &[],
        cgi: true,
        status: 1,
    },
    Case {
        name: "keygen",
        args: &["keygen"],
        cgi: false,
        status: 1,
    },
    Case {
        name: "sessions gc",
        args: &["sessions", "gc"],
        cgi: false,
        status: 0,
    },
];

#[test]
fn no_subcommand_panics_when_the_reader_of_stdout_is_gone() {
    let dir = TempDir::new("gone-reader");
    for case in CASES {
        let mut command = pycnic(&dir.0);
        command.args(case.args);
        if case.cgi {
            cgi_env(&mut command);
        }
        let output = run_with_gone_reader(command);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", case.name);
        assert_eq!(
            output.status.code(),
            Some(case.status),
            "{}: {stderr}",
            case.name
        );
        if case.status == 1 {
            assert!(
                stderr.contains(lost_message(case)),
                "{}: the lost response is logged: {stderr}",
                case.name
            );
        }
    }
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    let dir = TempDir::new("closed-stdout");
    for case in CASES {
        let mut command = pycnic(&dir.0);
        command.args(case.args).stdout(Stdio::inherit());
        if case.cgi {
            cgi_env(&mut command);
        }
        // SAFETY: close(2) is async-signal-safe; fd 1 belongs to the child alone here.
        unsafe {
            command.pre_exec(|| {
                libc::close(libc::STDOUT_FILENO);
                Ok(())
            });
        }
        let output = command.output().expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", case.name);
        assert_ne!(output.status.code(), Some(101), "{}: {stderr}", case.name);
    }
}
