//! The master's rules for a pool, with no I/O: why a worker is replaced, the jitter of
//! `--max-requests`, when a dead worker's replacement starts
//! (at once, or after a doubling backoff capped at [`MAX_BACKOFF`] for a slot whose workers
//! keep dying soon after their start), how a death is told (signal and core dump, or exit
//! status, and the requests it was running), and how often such lines may be written (a burst, then one per interval, each
//! saying how many were left out).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// The requests a death's log line names at most.
pub(crate) const NAMED: usize = 16;
/// A worker that dies sooner than this after its start died early.
pub(crate) const EARLY: Duration = Duration::from_secs(5);
/// The longest wait before a replacement starts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The first wait, once a slot's workers died early twice in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Why a worker was replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// It died.
    Crash = 0,
    /// `--max-requests`.
    MaxRequests = 1,
    /// `--max-rss`.
    MaxRss = 2,
    /// `--max-stuck` threads stuck past `--request-timeout`.
    Stuck = 3,
}

impl Reason {
    /// How many reasons there are.
    pub(crate) const COUNT: usize = 4;

    /// The reason's name, as the log and the status page give it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Reason::Crash => "crash",
            Reason::MaxRequests => "max-requests",
            Reason::MaxRss => "max-rss",
            Reason::Stuck => "stuck",
        }
    }
}

/// A worker's extra requests past `--max-requests n`: up to a tenth of `n`, drawn from `seed`,
/// so that workers started together are not replaced together.
pub(crate) fn jitter(n: u64, seed: u32) -> u64 {
    let spread = n / 10 + 1;
    // A multiplicative hash spreads neighbouring pids over the range.
    (u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % spread
}

/// What the log says of a dead worker's replacement.
pub(crate) fn replacement(wait: Duration) -> String {
    if wait.is_zero() {
        "starting another now".to_string()
    } else {
        format!("it keeps dying early: starting another in {wait:?}")
    }
}

/// What the log says of the lines the limit left out.
pub(crate) fn left_out_note(left_out: u64) -> String {
    if left_out == 0 {
        String::new()
    } else {
        format!(" ({left_out} such lines left out)")
    }
}

/// How long to wait before starting a slot's next worker, after `early` early deaths in a row:
/// none for the first (a single crash is replaced at once), then 100 ms doubling to 10 s.
pub(crate) fn backoff(early: u32) -> Duration {
    if early < 2 {
        return Duration::ZERO;
    }
    let doublings = (early - 2).min(16);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// A slot's early deaths in a row after a worker that lived `lived` died.
pub(crate) fn early_deaths(before: u32, lived: Duration) -> u32 {
    if lived < EARLY {
        before.saturating_add(1)
    } else {
        0
    }
}

/// Whether a worker's end during the pool's drain was clean: exit status 0, or killed by
/// SIGTERM before it said it serves. A worker installs its signal handlers before it says so
/// (and before it accepts a connection), so a SIGTERM that reaches it earlier (the master's
/// drain, or systemd's to the whole control group, right after the start) ends it with
/// nothing to finish, as one process stopped at that moment exits 0.
pub(crate) fn drained_cleanly(status: ExitStatus, served: bool) -> bool {
    status.success() || (!served && status.signal() == Some(libc::SIGTERM))
}

/// How a worker ended, for the log: "killed by signal 6 (SIGABRT), core dumped" or
/// "exited with status 3".
pub(crate) fn cause(status: ExitStatus) -> String {
    if let Some(signal) = status.signal() {
        let core = if status.core_dumped() {
            ", core dumped"
        } else {
            ""
        };
        return format!("killed by signal {signal} ({}){core}", signal_name(signal));
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("ended ({status})"),
    }
}

/// What a dead worker's line says of the accept turn it held (nothing if it held none).
pub(crate) fn turn_note(held: bool) -> &'static str {
    if held {
        "; it held the accept turn, which the others are told to take"
    } else {
        ""
    }
}

/// The requests a dead worker was running, for the log: at most [`NAMED`] named, cut to 80
/// bytes each, with how many more.
pub(crate) fn running_note(running: &[String]) -> String {
    if running.is_empty() {
        return "running no request".to_string();
    }
    let named: Vec<String> = running
        .iter()
        .take(NAMED)
        .map(|text| {
            let cut: String = text.chars().take(80).collect();
            format!("{cut:?}")
        })
        .collect();
    let more = running.len().saturating_sub(NAMED);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("running {}{more}", named.join(", "))
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGSYS => "SIGSYS",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => "another signal",
    }
}

/// A rate limit on log lines: `burst` lines at once, then one per `every`.
#[derive(Debug)]
pub(crate) struct LogLimit {
    burst: u32,
    every: Duration,
    tokens: u32,
    refilled: Instant,
    left_out: u64,
}

impl LogLimit {
    /// A full limit at `now`.
    pub(crate) fn new(burst: u32, every: Duration, now: Instant) -> LogLimit {
        LogLimit {
            burst,
            every,
            tokens: burst,
            refilled: now,
            left_out: 0,
        }
    }

    /// Whether a line may be written at `now`: `Some(n)`, with `n` the lines left out since
    /// the last one written, or `None` (this one is left out and counted).
    pub(crate) fn allow(&mut self, now: Instant) -> Option<u64> {
        if !self.every.is_zero() {
            while self.tokens < self.burst && now.duration_since(self.refilled) >= self.every {
                self.tokens += 1;
                self.refilled += self.every;
            }
            if self.tokens == self.burst {
                self.refilled = now;
            }
        }
        if self.tokens == 0 {
            self.left_out += 1;
            return None;
        }
        self.tokens -= 1;
        Some(std::mem::take(&mut self.left_out))
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
