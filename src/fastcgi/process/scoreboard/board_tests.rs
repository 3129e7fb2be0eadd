//! Tests of `board.rs`: a board written through a second mapping of its memfd, as a
//! worker writes it.

use super::*;
use crate::fastcgi::ops::tally::Counter;
use crate::fastcgi::process::scoreboard::layout::TEXT_BYTES;
use crate::fastcgi::process::scoreboard::mine::Running;

/// A writer's view of slot `index` of `board`, as `join` maps it in a worker.
fn writer(board: &Board, index: usize) -> (Mapping, &'static Slot) {
    let map = Mapping::map(board.fd(), index + 1).expect("a second mapping");
    let slot = map.slot(index).expect("the slot");
    // SAFETY: the test keeps `map` alive for as long as it uses the slot.
    let slot: &'static Slot = unsafe { &*std::ptr::from_ref(slot) };
    (map, slot)
}

#[test]
fn the_master_reads_what_a_worker_runs_and_has_finished() {
    let board = Board::create(3).expect("a board");
    let (_map, slot) = writer(&board, 1);
    let first = Running::record(slot, b"GET", b"/abort");
    let long_target = vec![b'x'; 500];
    let second = Running::record(slot, b"POST", &long_target);
    let running = board.running(1);
    assert_eq!(running.len(), 2);
    assert_eq!(running[1].len(), TEXT_BYTES);
    assert!(running[1].starts_with("POST xxx"));
    drop(second);
    assert_eq!(board.running(1), vec!["GET /abort".to_string()]);
    assert_eq!(board.running(0), Vec::<String>::new());
    assert_eq!(board.requests(1), 1);
    drop(first);
    assert_eq!(board.running(1), Vec::<String>::new());
    assert_eq!(board.requests(1), 2);
    board.clear(1, 0);
    assert_eq!(board.requests(1), 0);
    assert_eq!(board.running(7), Vec::<String>::new());
}

#[test]
fn a_process_that_is_no_worker_records_nothing() {
    let running = Running::begin(b"GET", b"/");
    assert!(running.is_nothing());
}

#[test]
fn a_gone_workers_counters_stay_in_the_header_when_its_slot_is_cleared() {
    let board = Board::create(2).expect("a board");
    let (_map, slot) = writer(&board, 1);
    slot.tally().add(Counter::Accepted, 4);
    slot.tally().add_class(1);
    slot.load().set_handlers(1, 2, 0, 1);
    board.fold(1);
    board.clear(1, 0);
    assert_eq!(slot.tally().totals().get(Counter::Accepted), 0);
    assert_eq!(slot.load().room(), 0);
    let gone = board.map.header().gone().totals();
    assert_eq!(gone.get(Counter::Accepted), 4);
    assert_eq!(gone.classes(), [0, 1, 0, 0, 0]);
}
