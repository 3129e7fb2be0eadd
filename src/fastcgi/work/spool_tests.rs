//! Tests of `spool.rs`.

use super::*;

#[test]
fn budget_refuses_past_the_limit_and_takes_back() {
    let budget = Budget::new(10);
    assert!(budget.try_take(6));
    assert!(!budget.try_take(5), "6 + 5 > 10");
    assert!(budget.try_take(4));
    budget.release(6);
    assert_eq!(budget.used(), 4);
    assert!(budget.try_take(6));
}

#[test]
fn spool_gives_back_what_went_in_and_leaves_no_file() {
    let dir = std::env::temp_dir().join(format!("pycnic-spool-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let disk = Arc::new(Budget::new(1 << 20));
    let mut spool = Spool::create(&dir, Arc::clone(&disk), 1 << 20).unwrap();
    spool.append(b"hello ").unwrap();
    spool.append(&[7; 100_000]).unwrap();
    assert_eq!(spool.len(), 100_006);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "unlinked");
    let body = spool.read_all().unwrap();
    assert_eq!(&body[..6], b"hello ");
    assert_eq!(body.len(), 100_006);
    assert_eq!(
        disk.used(),
        0,
        "the disk budget is given back with the file"
    );
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_spool_on_a_full_disk_reports_a_write_error_and_gives_its_bytes_back() {
    let disk = Arc::new(Budget::new(1 << 20));
    let mut spool = Spool {
        file: std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
        len: 0,
        disk: Arc::clone(&disk),
        disk_limit: 1 << 20,
    };
    let err = spool.append(&[0; 4096]).unwrap_err();
    assert!(matches!(err, SpillError::Write(_)), "{err}");
    drop(spool);
    assert_eq!(disk.used(), 0);
}
