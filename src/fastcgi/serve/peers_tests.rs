use super::*;

fn at(room: i32, free: i32) -> Standing {
    Standing { room, free }
}

#[test]
fn the_holder_keeps_the_turn_while_a_handler_is_free_for_what_it_took() {
    assert!(!passes(at(3, 4), at(4, 4), false));
    // A burst of quick requests queued for free handlers is no reason to move.
    assert!(!passes(at(-6, 4), at(4, 4), false));
    // One handler more free is no reason either: a quick request would bounce the turn.
    assert!(!passes(at(2, 3), at(4, 4), false));
}

#[test]
fn the_holder_passes_when_every_handler_runs_and_a_peer_has_more_room() {
    assert!(passes(at(0, 0), at(4, 4), false));
    assert!(passes(at(-3, 0), at(-1, 0), false));
    assert!(
        !passes(at(0, 0), at(0, 0), false),
        "no peer has more: the holder keeps it"
    );
    assert!(!passes(at(-1, 0), at(-2, 0), false));
}

#[test]
fn the_holder_passes_when_it_deferred_too_long_with_no_room() {
    // Four connections accepted whose requests have not arrived take the room.
    assert!(passes(at(0, 4), at(4, 4), true));
    assert!(!passes(at(0, 4), at(4, 4), false));
    assert!(
        !passes(at(1, 4), at(4, 4), true),
        "with room, it was no stall"
    );
}

#[test]
fn a_draining_or_blocked_holder_passes_to_any_peer_that_takes_connections() {
    assert!(passes(at(i32::MIN, 4), at(-5, 0), false));
    assert!(!passes(at(i32::MIN, 4), at(i32::MIN, 4), false));
}

#[test]
fn long_requests_spread_when_a_peer_has_two_more_handlers_free() {
    assert!(passes(at(1, 1), at(3, 3), false));
    assert!(!passes(at(1, 1), at(2, 2), false));
    // Free handlers with no room (requests queued for them) are no reason to go there.
    assert!(!passes(at(1, 1), at(0, 3), false));
}

#[test]
fn the_holder_defers_past_one_request_behind_each_free_handler_while_a_peer_has_more_room() {
    assert!(!defers(at(1, 4), at(4, 4)));
    // Four handlers free, eight requests waiting for them: one behind each is still taken.
    assert!(!defers(at(-3, 4), at(4, 4)));
    assert!(defers(at(-4, 4), at(4, 4)));
    assert!(
        defers(at(0, 0), at(1, 1)),
        "with no handler free, no request waits behind one"
    );
    assert!(defers(at(-5, 4), at(-4, 4)));
    assert!(
        !defers(at(-5, 4), at(-5, 4)),
        "no peer has more: it takes them in"
    );
}

#[test]
fn a_standby_takes_a_turn_that_is_nobodys_unless_it_drains() {
    assert!(standby_takes(Holder::Nobody, 0, false));
    assert!(standby_takes(Holder::Nobody, -4, false));
    assert!(!standby_takes(Holder::Nobody, i32::MIN, false));
    assert!(!standby_takes(Holder::Me, 4, true));
}

#[test]
fn a_standby_takes_the_turn_only_from_a_holder_that_leaves_connections_unaccepted() {
    let holder = Holder::Peer {
        line: 2,
        room: 4,
        accepts: 9,
    };
    assert!(standby_takes(holder, 4, true));
    assert!(
        !standby_takes(holder, 3, true),
        "only with at least the holder's room"
    );
    assert!(!standby_takes(holder, 4, false));
    assert!(!standby_takes(holder, i32::MIN, true));
    let full = Holder::Peer {
        line: 1,
        room: -2,
        accepts: 7,
    };
    assert!(
        !standby_takes(full, 4, false),
        "a full holder passes it itself"
    );
}

#[test]
fn the_due_time_is_the_nearer_of_the_look_and_the_deferral() {
    let now = Instant::now();
    let mut peers = Peers::default();
    assert_eq!(peers.due(), None);
    peers.look_at = Some(now + TURN_CHECK);
    assert_eq!(peers.due(), Some(now + TURN_CHECK));
    peers.deferred_since = Some(now);
    assert_eq!(peers.due(), Some(now + DEFER_AT_MOST));
}
