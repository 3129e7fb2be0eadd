//! Tests of `scoreboard.rs`: a board written through a second mapping of its memfd, as a
//! worker writes it.

use super::*;

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
    assert!(running.slot.is_none() && running.entry.is_none());
}
