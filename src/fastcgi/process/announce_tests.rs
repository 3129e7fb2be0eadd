//! Tests of `announce.rs`.

use super::*;

#[test]
fn notify_socket_is_a_path_or_an_abstract_name() {
    let path = notify_addr(OsStr::new("/run/systemd/notify")).unwrap();
    assert_eq!(path.as_pathname(), Some(Path::new("/run/systemd/notify")));
    let abstract_name = notify_addr(OsStr::new("@sd-notify/1")).unwrap();
    assert_eq!(abstract_name.as_abstract_name(), Some(&b"sd-notify/1"[..]));
    assert!(notify_addr(OsStr::new("relative")).is_err());
    assert!(notify_addr(OsStr::new("")).is_err());
}

#[test]
fn pid_file_is_written_whole_and_removed_only_while_it_names_us() {
    let dir = std::env::temp_dir().join(format!("pycnic-pidfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.pid");
    let file = PidFile::write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, format!("{}\n", std::process::id()));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temp file left"
    );
    std::fs::write(&path, "1\n").unwrap();
    file.remove_if_ours();
    assert!(path.exists(), "a pid file naming another process stays");
    let file = PidFile::write(&path).unwrap();
    file.remove_if_ours();
    assert!(!path.exists(), "ours is removed");
    std::fs::remove_dir_all(&dir).unwrap();
}
