//! Tests of `memory.rs`.

use super::*;

#[test]
fn memory_is_given_back_once_after_a_flood_when_quiet() {
    let mut trim = Trim::default();
    assert!(!trim.sweep(3, true), "no flood yet");
    assert!(!trim.sweep(FLOOD, false), "the flood");
    assert!(!trim.sweep(FLOOD - 1, true), "still many open");
    assert!(!trim.sweep(2, false), "not quiet");
    assert!(trim.sweep(2, true), "quiet after the flood");
    assert!(!trim.sweep(2, true), "once");
}
