//! The breaker's states and the pool's bounds, without a store.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::*;

#[test]
fn three_failures_open_the_breaker_and_a_probe_closes_it() {
    let breaker = Breaker::new();
    let t0 = Instant::now();
    for _ in 0..FAILURES_TO_OPEN {
        assert_eq!(breaker.admit(t0), Some(Pass::Normal));
        breaker.record(Pass::Normal, false, t0);
    }
    assert!(matches!(breaker.state(t0).0, BreakerState::Open { .. }));
    assert_eq!(breaker.admit(t0 + Duration::from_millis(10)), None);
    let later = t0 + FIRST_BACKOFF;
    assert_eq!(breaker.state(later).0, BreakerState::HalfOpen);
    assert_eq!(breaker.admit(later), Some(Pass::Probe));
    assert_eq!(breaker.admit(later), None, "one probe at a time");
    assert_eq!(
        breaker.admit(later + MAX_BACKOFF),
        Some(Pass::Probe),
        "a probe that never reported stops blocking"
    );
    breaker.record(Pass::Probe, true, later);
    assert_eq!(breaker.state(later), (BreakerState::Closed, 0));
    assert_eq!(breaker.admit(later), Some(Pass::Normal));
}

#[test]
fn a_failed_probe_doubles_the_back_off() {
    let breaker = Breaker::new();
    let t0 = Instant::now();
    for _ in 0..FAILURES_TO_OPEN {
        breaker.record(Pass::Normal, false, t0);
    }
    let t1 = t0 + FIRST_BACKOFF;
    assert_eq!(breaker.admit(t1), Some(Pass::Probe));
    breaker.record(Pass::Probe, false, t1);
    assert_eq!(breaker.admit(t1 + FIRST_BACKOFF), None);
    assert_eq!(breaker.admit(t1 + FIRST_BACKOFF * 2), Some(Pass::Probe));
}

#[test]
fn an_open_breaker_refuses_without_connecting() {
    let pool: Pool<()> = Pool::new("test", Duration::from_secs(1));
    let connects = Cell::new(0);
    let connect = |_left: Duration| {
        connects.set(connects.get() + 1);
        Err::<(), _>(StoreError("refused".into()))
    };
    for _ in 0..FAILURES_TO_OPEN {
        assert!(pool.with(Access::Write, connect, |_, _| Ok(())).is_err());
    }
    assert_eq!(connects.get(), FAILURES_TO_OPEN);
    let err = pool
        .with(Access::Write, connect, |_, _| Ok(()))
        .unwrap_err();
    assert!(err.0.contains("circuit open"), "{err}");
    assert_eq!(connects.get(), FAILURES_TO_OPEN, "no connection tried");
    assert!(matches!(pool.health().writes, BreakerState::Open { .. }));
    assert_eq!(
        pool.health().reads,
        BreakerState::Closed,
        "reads have their own breaker"
    );
}

#[test]
fn a_stale_idle_connection_is_retried_once_on_a_new_one() {
    let pool: Pool<u32> = Pool::new("test", Duration::from_secs(5));
    assert_eq!(pool.with(Access::Read, |_| Ok(1), |c, _| Ok(*c)), Ok(1));
    // The idle connection 1 fails; a new one (2) answers.
    let out = pool.with(
        Access::Read,
        |_| Ok(2),
        |c, _| match *c {
            1 => Err(StoreError("stale".into())),
            n => Ok(n),
        },
    );
    assert_eq!(out, Ok(2));
    assert_eq!(pool.health().failures, 0);
}

#[test]
fn no_retry_once_the_deadline_has_passed() {
    let pool: Pool<u32> = Pool::new("test", Duration::from_millis(1));
    assert_eq!(pool.with(Access::Read, |_| Ok(1), |c, _| Ok(*c)), Ok(1));
    let connects = Cell::new(0);
    let out = pool.with(
        Access::Read,
        |_| {
            connects.set(connects.get() + 1);
            Ok(2)
        },
        |_, deadline| {
            while Instant::now() < deadline {
                std::thread::yield_now();
            }
            Err::<u32, _>(StoreError("timed out".into()))
        },
    );
    assert!(out.is_err());
    assert_eq!(connects.get(), 0, "the retry had no time left");
}
