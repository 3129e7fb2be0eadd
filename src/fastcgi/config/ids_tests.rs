//! Tests of `ids.rs`.

use super::*;

#[test]
fn root_and_numbers_resolve_and_unknown_names_are_refused() {
    assert_eq!(parse_user("root"), Ok(0));
    assert_eq!(parse_group("root"), Ok(0));
    assert_eq!(parse_user("1234"), Ok(1234));
    assert_eq!(parse_group(" 33 "), Ok(33));
    assert!(parse_user("no-such-user-pycnic").is_err());
    assert!(parse_group("no-such-group-pycnic").is_err());
    assert!(parse_group("a\0b").is_err());
}
