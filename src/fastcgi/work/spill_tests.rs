//! Tests of `spill.rs`.

use super::*;

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pycnic-spill-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_missing_folder_is_refused_at_open_with_its_name() {
    let dir = std::env::temp_dir().join(format!("pycnic-spill-none-{}", std::process::id()));
    let err = Spill::open(Some(&dir), 1 << 20).unwrap_err();
    assert!(matches!(err, SpillError::Dir(..)), "{err}");
    assert!(err.to_string().contains(&*dir.to_string_lossy()), "{err}");
}

#[test]
fn a_read_only_folder_is_refused_at_open() {
    use std::os::unix::fs::PermissionsExt;
    let dir = folder("ro");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let result = Spill::open(Some(&dir), 1 << 20);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    // root writes anywhere: the check is only meaningful for other users.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(matches!(result, Err(SpillError::Dir(..))), "{result:?}");
    }
}

#[test]
fn spilled_bytes_stay_within_the_disk_budget_and_come_back_when_dropped() {
    let dir = folder("disk");
    let spill = Spill::open(Some(&dir), 1000).unwrap();
    let mut first = spill.spool().unwrap();
    first.append(&[1; 600]).unwrap();
    let mut second = spill.spool().unwrap();
    let err = second.append(&[2; 600]).unwrap_err();
    assert!(matches!(err, SpillError::Disk(1000)), "{err}");
    second.append(&[2; 400]).unwrap();
    assert_eq!(spill.disk_used(), 1000);
    drop(first);
    drop(second);
    assert_eq!(spill.disk_used(), 0);
    std::fs::remove_dir(&dir).unwrap();
}
