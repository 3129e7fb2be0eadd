//! Stray output kept out of the answer: file descriptor 1 is the response's, and a `print!`
//! in a handler or a dependency must not land in it. Before the app runs, one-shot CGI (and
//! `request`) moves the response descriptor aside with `dup` and points fd 1 at stderr, so a
//! stray line goes to the web server's error log and the answer stays intact. A FastCGI
//! server answers on sockets, so its fd 1 only ever goes to the log too.

use std::io;
use std::os::fd::RawFd;

/// Moves the response descriptor (fd 1) aside and points fd 1 at stderr. Returns the
/// descriptor the answer is to be written to: the moved copy (close-on-exec), or fd 1 itself
/// when it cannot be moved (then stray output still reaches the answer, as before).
pub fn move_response_aside() -> RawFd {
    // SAFETY: F_DUPFD_CLOEXEC duplicates fd 1 onto a new descriptor, or fails with -1.
    let saved = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_DUPFD_CLOEXEC, 3) };
    if saved < 0 {
        log::warn!(
            "cannot move the response descriptor aside: {}",
            io::Error::last_os_error()
        );
        return libc::STDOUT_FILENO;
    }
    stdout_to_log();
    saved
}

/// Points fd 1 at the log: at stderr, or at /dev/null when stderr is not open or is a
/// listening socket (a launcher that handed the FastCGI socket on every descriptor).
pub fn stdout_to_log() {
    let target = if stderr_is_a_log() {
        libc::STDERR_FILENO
    } else {
        // SAFETY: a NUL-terminated path; the descriptor is closed below after dup2.
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if null < 0 {
            return;
        }
        // SAFETY: both descriptors are open; dup2 onto 2 then 1 replaces them atomically.
        unsafe {
            libc::dup2(null, libc::STDERR_FILENO);
            libc::dup2(null, libc::STDOUT_FILENO);
            libc::close(null);
        }
        return;
    };
    // SAFETY: fd 2 is open (checked); dup2 replaces fd 1 atomically.
    unsafe { libc::dup2(target, libc::STDOUT_FILENO) };
}

/// Whether fd 2 is open and not a listening socket.
fn stderr_is_a_log() -> bool {
    // SAFETY: F_GETFD on any number only reads the descriptor table.
    if unsafe { libc::fcntl(libc::STDERR_FILENO, libc::F_GETFD) } < 0 {
        return false;
    }
    let mut listening: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `listening` and `len` are valid for the call; a non-socket fails with ENOTSOCK.
    let is_socket = unsafe {
        libc::getsockopt(
            libc::STDERR_FILENO,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut listening as *mut libc::c_int).cast(),
            &mut len,
        )
    } == 0;
    !(is_socket && listening != 0)
}
