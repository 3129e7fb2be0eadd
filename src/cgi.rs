//! One-shot CGI (RFC 3875): the environment (read with `vars_os`, so bytes that are not UTF-8
//! cannot panic) and exactly CONTENT_LENGTH bytes of stdin in, one response on stdout out.
//! Also the in-process path of `pycnic request`, which gives the same answer for the same input.

use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::app::App;
use crate::error::HttpError;
use crate::gateway::{self, ContentLength, Params};
use crate::response::HttpResponse;

/// How long a CGI program waits for body bytes that the server announced but does not send.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The CGI environment as params: every variable, in the order the OS gives them.
pub fn params_from_env() -> Params {
    std::env::vars_os()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Why no body could be read.
#[derive(Debug)]
enum BodyError {
    TooLarge(u64),
    Short { expected: u64, got: usize },
    TimedOut,
    Io(io::Error),
}

impl BodyError {
    fn into_http(self, max_body: u64) -> HttpError {
        match self {
            BodyError::TooLarge(len) => HttpError::payload_too_large(format!(
                "Request body of {len} bytes is over the limit of {max_body} bytes"
            )),
            BodyError::Short { expected, got } => HttpError::bad_request(format!(
                "Request body ended after {got} of {expected} bytes"
            )),
            BodyError::TimedOut => HttpError::request_timeout("Timed out reading the request body"),
            BodyError::Io(err) => {
                HttpError::bad_request(format!("Could not read the request body: {err}"))
            }
        }
    }
}

/// Answers one request whose body is read from `input`: exactly CONTENT_LENGTH bytes, never
/// more than `max_body` (413 without reading on), a short body is a 400.
pub fn answer(app: &App, params: Params, input: &mut dyn Read, max_body: u64) -> HttpResponse {
    let body = match content_length(&params) {
        0 => Ok(Vec::new()),
        len if len > max_body => Err(BodyError::TooLarge(len)),
        len => read_exactly(input, len),
    };
    match body {
        Ok(body) => app.handle(gateway::build_request(params, body)),
        Err(err) => {
            log::warn!("request body refused: {err:?}");
            app.error_response(err.into_http(max_body))
        }
    }
}

/// Pycnic reads no body when CONTENT_LENGTH is missing or not a number.
fn content_length(params: &Params) -> u64 {
    match gateway::content_length(params) {
        ContentLength::Bytes(n) => n,
        ContentLength::Absent | ContentLength::Invalid => 0,
    }
}

fn read_exactly(input: &mut dyn Read, len: u64) -> Result<Vec<u8>, BodyError> {
    let expected = usize::try_from(len).map_err(|_| BodyError::TooLarge(len))?;
    let mut body = vec![0u8; expected];
    let mut got = 0;
    while got < expected {
        let Some(window) = body.get_mut(got..) else {
            break;
        };
        match input.read(window) {
            Ok(0) => return Err(BodyError::Short { expected: len, got }),
            Ok(n) => got += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == io::ErrorKind::TimedOut => return Err(BodyError::TimedOut),
            Err(err) => return Err(BodyError::Io(err)),
        }
    }
    Ok(body)
}

/// Stdin with a deadline: a server that announces a body and never sends it gets a 408 instead
/// of a process that hangs forever.
struct StdinWithDeadline {
    deadline: Instant,
}

impl Read for StdinWithDeadline {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let millis = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        let mut fd = libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut fd, 1, millis) };
        match ready {
            -1 => Err(io::Error::last_os_error()),
            0 => Err(io::Error::from(io::ErrorKind::TimedOut)),
            // Read fd 0 directly: std's buffered stdin could hold bytes that poll cannot see.
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
            _ => {
                match unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) }
                {
                    -1 => Err(io::Error::last_os_error()),
                    n => Ok(n.unsigned_abs()),
                }
            }
        }
    }
}

/// Runs one CGI request: environment and stdin in, the response on stdout. The exit status
/// is 0 whatever the HTTP status; 1 only when stdout cannot be written.
pub fn run(app: &App, max_body: u64) -> std::process::ExitCode {
    let mut stdin = StdinWithDeadline {
        deadline: Instant::now() + BODY_READ_TIMEOUT,
    };
    let response = answer(app, params_from_env(), &mut stdin, max_body);
    write_to_stdout(response)
}

/// Writes a response to stdout as the CGI transport does.
pub fn write_to_stdout(response: HttpResponse) -> std::process::ExitCode {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match gateway::write_response(response, &mut out).and_then(|()| out.flush()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            log::error!("could not write the response to stdout: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
