//! Tests of `running.rs`.

use super::*;
use crate::fastcgi::net::listen::Stream;
use crate::fastcgi::protocol::conn::ReceivedRequest;

fn job(token: usize) -> (Job, mio::net::UnixStream) {
    let (ours, theirs) = mio::net::UnixStream::pair().unwrap();
    let params = [("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/slow?ms=1")]
        .into_iter()
        .collect();
    let job = Job {
        token,
        stream: Stream::Unix(ours),
        request: ReceivedRequest {
            id: 1,
            keep_conn: true,
            params,
            body: Vec::new(),
        },
        spool: None,
        held: 0,
        received: Instant::now(),
        seq: 7,
        ticket: None,
        alone: true,
    };
    (job, theirs)
}

fn table(slow: Option<Duration>, timeout: Option<Duration>, max_stuck: usize) -> Running {
    Running::new(Limits {
        slow,
        timeout,
        max_stuck,
    })
    .unwrap()
}

#[test]
fn off_means_no_table() {
    let limits = Limits {
        slow: None,
        timeout: None,
        max_stuck: 1,
    };
    assert!(Running::new(limits).is_none());
}

#[test]
fn the_due_time_is_the_first_threshold_and_nothing_is_due_before_it() {
    let app = App::new();
    let mut running = table(
        Some(Duration::from_secs(5)),
        Some(Duration::from_secs(9)),
        1,
    );
    let (job, _peer) = job(3);
    let (ticket, due) = running.push(&job, false);
    assert!(due >= job.received + Duration::from_secs(5));
    assert_eq!(running.next_due, Some(due));
    assert!(
        running
            .check(Instant::now(), &app, &Metrics::new(false))
            .is_empty()
    );
    assert!(running.next_due.is_some(), "still planned");
    let popped = running.pop(ticket.index, &app);
    assert!(!popped.timed_out && !popped.replaced);
}

#[test]
fn exactly_one_side_wins_the_claim() {
    let app = App::new();
    let later = Instant::now() + Duration::from_secs(2);
    // The handler claims first: the timeout answers nothing.
    let mut running = table(None, Some(Duration::from_secs(1)), 1);
    let (job1, _peer1) = job(1);
    let (ticket, _) = running.push(&job1, false);
    let claim = ticket.claim.clone().unwrap();
    assert!(!claim.swap(true, Ordering::AcqRel), "the handler wins");
    assert!(running.check(later, &app, &Metrics::new(false)).is_empty());
    assert!(!running.pop(ticket.index, &app).timed_out);
    // The timeout claims first: the handler must not answer.
    let (job2, _peer2) = job(2);
    let (ticket, _) = running.push(&job2, false);
    assert_eq!(ticket.index, 0, "the entry is reused");
    let claim = ticket.claim.clone().unwrap();
    assert_eq!(
        running.check(later, &app, &Metrics::new(false)),
        vec![ticket.index]
    );
    assert!(claim.swap(true, Ordering::AcqRel), "the handler loses");
    assert!(
        running.check(later, &app, &Metrics::new(false)).is_empty(),
        "dealt with once"
    );
    assert!(running.replace(ticket.index), "under the cap");
    assert_eq!(running.stuck, 1);
    let popped = running.pop(ticket.index, &app);
    assert!(popped.timed_out && popped.replaced);
    assert_eq!(running.stuck, 0);
}

#[test]
fn past_the_cap_a_stuck_handler_is_not_replaced() {
    let app = App::new();
    let later = Instant::now() + Duration::from_secs(2);
    let mut running = table(None, Some(Duration::from_secs(1)), 1);
    let (a, _pa) = job(1);
    let (b, _pb) = job(2);
    let (ta, _) = running.push(&a, false);
    let (tb, _) = running.push(&b, false);
    assert_eq!(running.check(later, &app, &Metrics::new(false)).len(), 2);
    assert!(running.replace(ta.index));
    assert!(!running.replace(tb.index), "the cap (1) is reached");
    let popped = running.pop(tb.index, &app);
    assert!(popped.timed_out && !popped.replaced, "it kept its slot");
    assert_eq!(running.stuck, 1);
}
