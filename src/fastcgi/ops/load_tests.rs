//! Tests of `load.rs`.

use super::*;

#[test]
fn a_cell_gives_back_what_was_written_and_loads_add_up() {
    let cell = LoadCell::default();
    let by = ByState {
        idle: 1,
        receiving: 2,
        queued: 3,
        in_handler: 4,
        writing: 5,
    };
    cell.set_connections(by);
    cell.set_handlers(4, 8, 3, -2);
    let load = cell.read();
    assert_eq!(load.connections, by);
    assert_eq!((load.busy, load.total, load.queue), (4, 8, 3));
    assert_eq!(cell.room(), -2);
    cell.set_accepts(7);
    assert_eq!(cell.accepts(), 7);
    let twice = load.plus(load);
    assert_eq!(twice.connections.open(), 30);
    assert_eq!((twice.busy, twice.total, twice.queue), (8, 16, 6));
    cell.clear();
    assert_eq!(cell.read(), Load::default());
    assert_eq!(cell.room(), 0);
}
