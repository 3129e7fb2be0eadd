//! Helpers for the CGI-side integration tests: run a pycnic binary as a bare CGI program (a
//! cleared environment, raw bytes allowed, a body or a held-open pipe on stdin) or through its
//! `request` subcommand, and parse the raw CGI response (RFC 3875 §6) into status, headers in
//! order, and body. Declared once per test binary
//! (`tests/GROUP/main.rs`) as `#[path = "../common/cgi.rs"] mod cgi;`.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The seed binary, as Cargo built it for this test run.
pub fn pycnic_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pycnic"))
}

/// `target/debug/examples/showcase`, up to date (`examples.rs`).
pub fn showcase_bin() -> PathBuf {
    crate::examples::example_bin("showcase")
}

/// `target/<profile>/examples/NAME`, up to date (`examples.rs`).
pub fn example_bin(name: &str) -> PathBuf {
    crate::examples::example_bin(name)
}

/// What the program finds on its stdin.
#[derive(Clone, Debug)]
pub enum Input {
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
    /// A pipe whose write end the test keeps open until the program has exited: any read of
    /// it would block, so an answer proves the program did not read.
    HeldOpen,
}

/// One run of a binary: the raw output and the parsed response.
#[derive(Debug)]
pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub exit_code: Option<i32>,
}

impl Run {
    /// The stdout parsed as one CGI response; panics (failing the test) when it is not one.
    pub fn response(&self, case: &str) -> CgiResponse {
        CgiResponse::parse(&self.stdout).unwrap_or_else(|err| {
            panic!(
                "{case}: stdout is not a CGI response ({err}): {:?}\nstderr: {}",
                String::from_utf8_lossy(&self.stdout),
                self.stderr
            )
        })
    }

    /// Asserts exit status 0 and no panic report on stderr.
    pub fn assert_clean_exit(&self, case: &str) {
        assert_eq!(
            self.exit_code,
            Some(0),
            "{case}: exit status; stderr: {}",
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "{case}: panic text on stderr: {}",
            self.stderr
        );
    }
}

/// A program run with a cleared environment (`env_clear`) plus exactly the variables given.
#[derive(Clone, Debug)]
pub struct Exec {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    input: Input,
}

impl Exec {
    pub fn new(program: impl Into<PathBuf>) -> Exec {
        Exec {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            input: Input::Bytes(Vec::new()),
        }
    }

    /// The seed binary run as a bare CGI program: only GATEWAY_INTERFACE=CGI/1.1 set.
    pub fn cgi() -> Exec {
        Exec::new(pycnic_bin()).env("GATEWAY_INTERFACE", "CGI/1.1")
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Exec {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Exec
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(self, name: &str, value: &str) -> Exec {
        self.env_bytes(name.as_bytes(), value.as_bytes())
    }

    /// A variable whose name or value need not be UTF-8.
    pub fn env_bytes(mut self, name: &[u8], value: &[u8]) -> Exec {
        self.env.push((
            OsStr::from_bytes(name).to_owned(),
            OsStr::from_bytes(value).to_owned(),
        ));
        self
    }

    /// The body on stdin, with CONTENT_LENGTH set to its length.
    pub fn body(self, body: &[u8]) -> Exec {
        let len = body.len().to_string();
        self.env("CONTENT_LENGTH", &len).stdin(body)
    }

    pub fn stdin(mut self, bytes: &[u8]) -> Exec {
        self.input = Input::Bytes(bytes.to_vec());
        self
    }

    pub fn stdin_held_open(mut self) -> Exec {
        self.input = Input::HeldOpen;
        self
    }

    /// Runs the program to its end. Stdin is fed from a thread (the program may stop reading
    /// early); a held-open pipe is closed only after the program has exited.
    pub fn run(&self) -> Run {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(n, v)| (n, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {}: {err}", self.program.display()));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let (feeder, held) = match &self.input {
            Input::Bytes(bytes) => {
                let bytes = bytes.clone();
                let feeder = std::thread::spawn(move || {
                    // The program may answer without reading (413): a broken pipe is fine.
                    let _ = stdin.write_all(&bytes);
                });
                (Some(feeder), None)
            }
            Input::HeldOpen => (None, Some(stdin)),
        };
        let output = child.wait_with_output().expect("wait for the program");
        drop(held);
        if let Some(feeder) = feeder {
            feeder.join().expect("stdin feeder");
        }
        Run {
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            exit_code: output.status.code(),
        }
    }
}

/// `BIN request ARGS…` with a cleared environment plus `env`.
pub fn request(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    env.iter()
        .fold(Exec::new(bin).arg("request").args(args), |exec, (n, v)| {
            exec.env(n, v)
        })
        .run()
}

/// A parsed CGI response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgiResponse {
    pub status: u16,
    /// The whole status line after `Status: `, e.g. `200 OK`.
    pub status_line: String,
    /// Every header line in order, duplicates kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl CgiResponse {
    /// Parses `Status: NNN Reason\r\n`, `Name: value\r\n`…, `\r\n`, body. Every line must end
    /// in CRLF and the Status line must come first.
    pub fn parse(raw: &[u8]) -> Result<CgiResponse, String> {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no blank line after the head")?;
        let head = std::str::from_utf8(&raw[..end]).map_err(|e| format!("head not UTF-8: {e}"))?;
        let body = raw[end + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let status_line = first
            .strip_prefix("Status: ")
            .ok_or_else(|| format!("first line is not a Status line: {first:?}"))?
            .to_string();
        let status = status_line
            .get(..3)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut headers = Vec::new();
        for line in lines {
            if line.contains('\n') || line.contains('\r') {
                return Err(format!("bare CR or LF in header line {line:?}"));
            }
            let (name, value) = line
                .split_once(": ")
                .ok_or_else(|| format!("header line without ': ' {line:?}"))?;
            headers.push((name.to_string(), value.to_string()));
        }
        Ok(CgiResponse {
            status,
            status_line,
            headers,
            body,
        })
    }

    /// The only header of that name (case-insensitive); `None` when absent. Panics when the
    /// name is repeated, since a test asking for one value must not pick one silently.
    pub fn header(&self, name: &str) -> Option<&str> {
        let all = self.header_all(name);
        assert!(all.len() <= 1, "header {name} repeated: {all:?}");
        all.first().copied()
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The header names in order.
    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The body as a JSON value; panics with the case name when it is not JSON.
    pub fn json(&self, case: &str) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "{case}: body is not JSON ({err}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a JSON body whose Content-Length is its exact length.
    pub fn assert_json_with_length(&self, case: &str) -> Value {
        assert_eq!(
            self.header("Content-Type"),
            Some("application/json"),
            "{case}: Content-Type"
        );
        assert_eq!(
            self.header("Content-Length"),
            Some(self.body.len().to_string().as_str()),
            "{case}: Content-Length is the body length"
        );
        self.json(case)
    }
}

/// Pycnic's HTTP-error body.
pub fn error_body(status: u16, reason: &str, error: &str) -> Value {
    serde_json::json!({
        "status": format!("{status} {reason}"),
        "status_code": status,
        "error": error,
        "data": null,
    })
}
