//! The auth records' rules on a real SQLite store in a temporary file: revocation covers
//! logins up to its time only, the throttle counts, lapses and resets.

use super::*;
use crate::session::store::sqlite::SqliteStore;
use crate::session::store::{Failures, Store};

/// A store in a new private folder (0700, as the store's ownership check asks); the folder is
/// returned for the test to remove.
fn store() -> (SqliteStore, std::path::PathBuf) {
    use std::os::unix::fs::DirBuilderExt;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let folder = std::env::temp_dir().join(format!(
        "pycnic-auth-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&folder)
        .expect("a private folder");
    let path = folder.join("auth.db");
    (
        SqliteStore::new(&path.to_string_lossy(), std::time::Duration::from_secs(2)),
        folder,
    )
}

fn record(login: Option<(&str, u64)>) -> Record {
    let mut record = Record::default();
    if let Some((user, at)) = login {
        let login = serde_json::json!({"u": user, "r": [], "t": at});
        record.data.insert(AUTH_KEY.into(), login);
    }
    record
}

#[test]
fn a_revocation_ends_the_logins_before_it_and_no_later_one() {
    let (store, path) = store();
    let records: &dyn AuthRecords = &store;
    assert!(!is_revoked(Some(records), &record(Some(("ann", 1000)))).unwrap());
    records.revoke(&key("user", "ann"), 2000, 60).unwrap();
    assert!(is_revoked(Some(records), &record(Some(("ann", 1000)))).unwrap());
    assert!(is_revoked(Some(records), &record(Some(("ann", 2000)))).unwrap());
    assert!(!is_revoked(Some(records), &record(Some(("ann", 2001)))).unwrap());
    assert!(
        !is_revoked(Some(records), &record(Some(("bob", 1000)))).unwrap(),
        "another user"
    );
    assert!(
        !is_revoked(Some(records), &record(None)).unwrap(),
        "no login"
    );
    assert!(
        !is_revoked(None, &record(Some(("ann", 1000)))).unwrap(),
        "no records"
    );
    // An older revocation never moves the time back.
    records.revoke(&key("user", "ann"), 500, 60).unwrap();
    assert!(is_revoked(Some(records), &record(Some(("ann", 1500)))).unwrap());
    drop(store);
    let _ = std::fs::remove_dir_all(&path);
}

#[test]
fn failures_count_lapse_and_reset() {
    let (store, path) = store();
    let k = key("user", "ann");
    for n in 1..=3 {
        assert_eq!(store.fail(&k, 100, 10).unwrap().count, n);
    }
    assert_eq!(
        store.failures(&k, 105).unwrap(),
        Failures {
            count: 3,
            until: 110
        }
    );
    assert_eq!(
        store.failures(&k, 110).unwrap(),
        Failures::default(),
        "lapsed"
    );
    assert_eq!(
        store.fail(&k, 111, 10).unwrap().count,
        1,
        "a lapsed count starts again"
    );
    store.reset(&k).unwrap();
    assert_eq!(store.failures(&k, 112).unwrap(), Failures::default());
    assert_ne!(key("user", "x"), key("ip", "x"), "kinds never share a key");
    let _ = store.gc();
    drop(store);
    let _ = std::fs::remove_dir_all(&path);
}
