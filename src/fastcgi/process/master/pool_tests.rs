//! Tests of `pool.rs`.

use super::*;

#[test]
fn a_single_crash_is_replaced_at_once_and_a_crash_loop_backs_off_to_the_cap() {
    assert_eq!(backoff(0), Duration::ZERO);
    assert_eq!(backoff(1), Duration::ZERO);
    assert_eq!(backoff(2), Duration::from_millis(100));
    assert_eq!(backoff(3), Duration::from_millis(200));
    assert_eq!(backoff(8), Duration::from_millis(6400));
    assert_eq!(backoff(9), MAX_BACKOFF);
    assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
}

#[test]
fn a_worker_that_lived_long_enough_clears_the_early_deaths() {
    assert_eq!(early_deaths(0, Duration::from_millis(10)), 1);
    assert_eq!(early_deaths(4, Duration::from_millis(10)), 5);
    assert_eq!(early_deaths(4, EARLY), 0);
    assert_eq!(early_deaths(u32::MAX, Duration::ZERO), u32::MAX);
}

#[test]
fn a_death_names_the_signal_or_the_status() {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        cause(ExitStatus::from_raw(libc::SIGABRT | 0x80)),
        "killed by signal 6 (SIGABRT), core dumped"
    );
    assert_eq!(
        cause(ExitStatus::from_raw(libc::SIGSEGV)),
        "killed by signal 11 (SIGSEGV)"
    );
    assert_eq!(cause(ExitStatus::from_raw(3 << 8)), "exited with status 3");
}

#[test]
fn a_drain_is_clean_when_workers_exit_0_or_sigterm_ended_one_before_it_served() {
    use std::os::unix::process::ExitStatusExt;
    let exited = |code: i32| ExitStatus::from_raw(code << 8);
    let killed = ExitStatus::from_raw;
    assert!(drained_cleanly(exited(0), true));
    assert!(drained_cleanly(exited(0), false));
    assert!(
        !drained_cleanly(exited(1), true),
        "the timeout cut requests off"
    );
    assert!(drained_cleanly(killed(libc::SIGTERM), false));
    assert!(!drained_cleanly(killed(libc::SIGTERM), true));
    assert!(!drained_cleanly(killed(libc::SIGKILL), false));
    assert!(!drained_cleanly(killed(libc::SIGABRT | 0x80), false));
}

#[test]
fn log_lines_come_in_a_burst_then_one_per_interval_counting_the_rest() {
    let start = Instant::now();
    let every = Duration::from_secs(10);
    let mut limit = LogLimit::new(3, every, start);
    assert_eq!(limit.allow(start), Some(0));
    assert_eq!(limit.allow(start), Some(0));
    assert_eq!(limit.allow(start), Some(0));
    assert_eq!(limit.allow(start), None);
    assert_eq!(limit.allow(start + Duration::from_secs(9)), None);
    assert_eq!(limit.allow(start + every), Some(2));
    assert_eq!(limit.allow(start + every), None);
    assert_eq!(limit.allow(start + every * 5), Some(1));
}

#[test]
fn a_death_names_at_most_sixteen_requests_it_was_running() {
    assert_eq!(running_note(&[]), "running no request");
    assert_eq!(
        running_note(&["GET /abort".to_string()]),
        "running \"GET /abort\""
    );
    let many: Vec<String> = (0..NAMED + 2).map(|i| format!("GET /{i}")).collect();
    let note = running_note(&many);
    assert!(note.starts_with("running \"GET /0\", \"GET /1\""), "{note}");
    assert!(
        note.ends_with(&format!("\"GET /{}\" and 2 more", NAMED - 1)),
        "{note}"
    );
}

#[test]
fn jitter_stays_within_a_tenth_and_differs_between_neighbouring_pids() {
    let drawn: std::collections::BTreeSet<u64> = (1000..1016).map(|pid| jitter(100, pid)).collect();
    assert!(drawn.iter().all(|extra| *extra <= 10), "{drawn:?}");
    assert!(
        drawn.len() > 3,
        "neighbouring pids draw different extras: {drawn:?}"
    );
    assert_eq!(jitter(5, 1234), 0);
}
