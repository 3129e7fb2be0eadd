//! Tests of `fdlimit.rs`.

use super::*;

#[test]
fn the_cap_counts_a_spill_file_per_connection_and_leaves_a_reserve() {
    assert_eq!(connection_cap(1024, 8), (1024 - 8 - 16) / 2);
    assert_eq!(connection_cap(512, 10), (512 - 10 - 16) / 2);
    let cap = connection_cap(512, 10);
    assert!(
        10 + 16 + 2 * cap <= 512,
        "every connection with its spill file fits"
    );
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
