//! One-shot CGI (RFC 3875): the environment (read with `vars_os`, so bytes that are not UTF-8
//! cannot panic) and exactly CONTENT_LENGTH bytes of stdin in, one response on stdout out.
//! Also the in-process path of `pycnic request`, which gives the same answer for the same input.
//! Before the app runs, the response descriptor moves aside and fd 1 points at stderr
//! (`stray_output`), so a handler's `print!` goes to the error log, not into the answer.

use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::app::App;
use crate::gateway::{self, Params};
use crate::response::HttpResponse;

/// How long a CGI program waits for body bytes that the server announced but does not send.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the discarding of a refused body waits for its next bytes before giving up: a
/// server that feeds the body goes on sending; one that holds stdin open without sending (or
/// a stalled client) should not keep the process alive until [`BODY_READ_TIMEOUT`].
pub const DISCARD_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// The CGI environment as params: every variable, in the order the OS gives them.
pub fn params_from_env() -> Params {
    std::env::vars_os()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Answers one request whose body is read from `input`: exactly CONTENT_LENGTH bytes, never
/// more than `max_body` (413 without reading on), a short body is a 400.
pub fn answer(app: &App, params: Params, input: &mut dyn Read, max_body: u64) -> HttpResponse {
    answer_and_count_unread(app, params, input, max_body).0
}

/// As [`answer`], and how many announced body bytes were left unread (a body over the limit).
fn answer_and_count_unread(
    app: &App,
    params: Params,
    input: &mut dyn Read,
    max_body: u64,
) -> (HttpResponse, u64) {
    let handled = gateway::handle(app, params, gateway::BodySource::Read(input), max_body);
    (handled.response, handled.unread)
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
    let out = crate::stray_output::move_response_aside();
    let mut stdin = StdinWithDeadline {
        deadline: Instant::now() + BODY_READ_TIMEOUT,
    };
    let params = params_from_env();
    // The runtime's own pages (PYCNIC_PING_PATH, PYCNIC_STATUS_PATH) come before the app's
    // routes; a body sent with them is discarded like a refused one.
    let (response, unread) = match crate::ops::cgi_answer(app, &params) {
        Some(response) => match gateway::content_length(&params) {
            gateway::ContentLength::Bytes(len) => (response, len),
            _ => (response, 0),
        },
        None => answer_and_count_unread(app, params, &mut stdin, max_body),
    };
    let code = write_to_fd(response, out);
    if unread > 0 {
        // Never past the deadline the body had from the start.
        let overall = stdin.deadline;
        let mut idle_limited = IdleLimited {
            stdin: &mut stdin,
            overall,
        };
        discard(&mut idle_limited, unread);
    }
    code
}

/// Stdin whose every read waits at most [`DISCARD_IDLE_TIMEOUT`], and none past `overall`.
struct IdleLimited<'a> {
    stdin: &'a mut StdinWithDeadline,
    overall: Instant,
}

impl Read for IdleLimited<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdin.deadline = (Instant::now() + DISCARD_IDLE_TIMEOUT).min(self.overall);
        self.stdin.read(buf)
    }
}

/// Reads and drops up to `len` bytes of a refused body after the answer is written, until
/// end of input, a read error or a timeout. Exiting with the body unread breaks the answer under
/// Apache's mod_cgid: its daemon hands the program one socket as stdin and stdout, and closing
/// a unix socket with unread input resets it, so Apache gets ECONNRESET instead of the 413
/// and the client an empty reply.
fn discard(input: &mut dyn Read, mut len: u64) {
    let mut sink = [0u8; 64 * 1024];
    while len > 0 {
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(sink.len());
        let Some(window) = sink.get_mut(..want) else {
            return;
        };
        match input.read(window) {
            Ok(0) => return,
            Ok(n) => len = len.saturating_sub(n as u64),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Writes a response to stdout as the CGI transport does: a full response in one write(2)
/// (std's line-buffered stdout would split it at the last newline of the head), a streamed one
/// chunk by chunk. A reader that is gone gives exit status 1 and a logged error, never a panic.
pub fn write_to_stdout(response: HttpResponse) -> std::process::ExitCode {
    write_to_fd(response, libc::STDOUT_FILENO)
}

/// [`write_to_stdout`] to the descriptor `fd`: the response descriptor that
/// `stray_output::move_response_aside` returned.
pub fn write_to_fd(response: HttpResponse, fd: std::os::fd::RawFd) -> std::process::ExitCode {
    match gateway::write_response(response, &mut RawStdout(fd)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            log::error!("could not write the response to stdout: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The response descriptor (fd 1, or where it was moved) without std's buffer: the gateway
/// already hands over whole pieces (the head with a full body, or one chunk of a stream), and
/// nothing else in the process writes to it.
struct RawStdout(std::os::fd::RawFd);

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes; the descriptor is open (std
        // reopens a closed fd 1 on /dev/null at start-up; a moved copy is never closed).
        match unsafe { libc::write(self.0, buf.as_ptr().cast(), buf.len()) } {
            -1 => Err(io::Error::last_os_error()),
            n => Ok(n.unsigned_abs()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_body_is_discarded_up_to_its_announced_length_and_no_further() {
        let cases: [(&str, usize, u64, usize); 3] = [
            ("all of it", 100_000, 100_000, 0),
            ("no further than announced", 100_000, 70_000, 30_000),
            ("input ends first", 10, 70_000, 0),
        ];
        for (name, available, announced, left) in cases {
            let bytes = vec![b'x'; available];
            let mut input = bytes.as_slice();
            discard(&mut input, announced);
            assert_eq!(input.len(), left, "{name}");
        }
    }
}
