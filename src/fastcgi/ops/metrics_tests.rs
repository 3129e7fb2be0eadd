//! Tests of `metrics.rs`.

use super::*;

#[test]
fn answers_are_counted_by_class_and_code_with_their_time() {
    let metrics = Metrics::new(true);
    for (status, millis) in [(200, 1), (200, 2), (404, 3), (503, 4), (413, 5), (431, 6)] {
        metrics.answered(status, Duration::from_millis(millis));
    }
    metrics.accepted();
    metrics.queued(3);
    metrics.queued(1);
    metrics.slow_request();
    metrics.timed_out();
    let counts = metrics.read();
    assert_eq!(counts.classes, [0, 2, 0, 3, 1]);
    assert_eq!(counts.total(), 6);
    assert_eq!(
        (counts.busy, counts.too_large, counts.headers_too_large),
        (1, 1, 1)
    );
    assert_eq!((counts.slow, counts.timed_out, counts.accepted), (1, 1, 1));
    assert_eq!(counts.queue_peak, 3);
    assert!(
        (counts.time_sum - 0.021).abs() < 1e-9,
        "{}",
        counts.time_sum
    );
    assert_eq!(counts.window_len, 6);
    assert_eq!(counts.quantiles[0], (0.5, 0.003));
    assert_eq!(counts.quantiles[2], (0.99, 0.006));
}

#[test]
fn the_window_keeps_the_latest_answers() {
    let metrics = Metrics::new(true);
    for _ in 0..WINDOW {
        metrics.answered(200, Duration::from_secs(1));
    }
    for _ in 0..WINDOW {
        metrics.answered(200, Duration::from_millis(1));
    }
    let counts = metrics.read();
    assert_eq!(counts.window_len, WINDOW);
    assert_eq!(counts.quantiles[2], (0.99, 0.001));
    assert_eq!(counts.total(), 2 * WINDOW as u64);
}

#[test]
fn off_counts_nothing() {
    let metrics = Metrics::new(false);
    metrics.answered(200, Duration::from_millis(1));
    metrics.accepted();
    metrics.slow_request();
    let counts = metrics.read();
    assert_eq!((counts.total(), counts.accepted, counts.slow), (0, 0, 0));
    assert_eq!(counts.quantiles[1], (0.9, 0.0));
}
