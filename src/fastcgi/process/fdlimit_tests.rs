//! Tests of `fdlimit.rs`.

use super::*;

#[test]
fn the_cap_leaves_a_reserve_below_the_limit() {
    assert_eq!(connection_cap(1024, 8), 1024 - 8 - 8 - 128);
    assert_eq!(connection_cap(256, 8), 256 - 8 - 8 - 32);
    assert_eq!(connection_cap(16, 12), 4, "never below 4");
    assert!(connection_cap(u64::MAX, 8) > 1 << 40);
}

#[test]
fn raising_never_lowers_the_limit() {
    let before = {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        limit.rlim_cur
    };
    assert!(raise_nofile_limit().unwrap() >= before);
}
