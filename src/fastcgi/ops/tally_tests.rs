//! Tests of `tally.rs`.

use super::*;

#[test]
fn a_gone_workers_counters_fold_into_the_pools_and_the_peak_stays_a_maximum() {
    let pool = Tally::boxed();
    let gone = Tally::boxed();
    gone.add(Counter::Accepted, 3);
    gone.add_class(1);
    gone.add_class(4);
    gone.queue_seen(5);
    pool.queue_seen(7);
    gone.fold_into(&pool);
    gone.fold_into(&pool);
    let totals = pool.totals();
    assert_eq!(totals.get(Counter::Accepted), 6);
    assert_eq!(totals.classes(), [0, 2, 0, 0, 2]);
    assert_eq!(totals.get(Counter::QueuePeak), 7);
    gone.clear();
    assert_eq!(gone.totals(), Totals::default());
}

#[test]
fn totals_add_up_and_the_window_holds_only_the_answers_written() {
    let a = Tally::boxed();
    let b = Tally::boxed();
    a.add(Counter::Busy, 2);
    b.add(Counter::Busy, 3);
    a.queue_seen(2);
    b.queue_seen(9);
    let sum = a.totals().plus(b.totals());
    assert_eq!(sum.get(Counter::Busy), 5);
    assert_eq!(sum.get(Counter::QueuePeak), 9);
    let mut window = Vec::new();
    a.window_into(&mut window);
    assert!(window.is_empty());
    for micros in [10, 20, 30] {
        b.record_time(micros);
    }
    b.window_into(&mut window);
    assert_eq!(window, vec![10, 20, 30]);
    for _ in 0..WINDOW {
        a.record_time(1);
    }
    a.window_into(&mut window);
    assert_eq!(window.len(), 3 + WINDOW);
}
