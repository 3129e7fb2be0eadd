//! User and group names for `--socket-owner` and `--socket-group`: a name is looked up in the
//! system's user and group databases (getpwnam_r, getgrnam_r: /etc/passwd, /etc/group or
//! whatever NSS is configured with); a number is taken as the id itself.

use std::ffi::CString;

/// The uid of a user name or number.
pub fn parse_user(text: &str) -> Result<u32, String> {
    lookup(text, "user", |name, buf| {
        // SAFETY: passwd is plain data; getpwnam_r writes into it and `buf` (its length
        // given), and sets `found` to it or to null.
        unsafe {
            let mut entry: libc::passwd = std::mem::zeroed();
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            let status = libc::getpwnam_r(
                name.as_ptr(),
                &mut entry,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            );
            (status, (!found.is_null()).then_some(entry.pw_uid))
        }
    })
}

/// The gid of a group name or number.
pub fn parse_group(text: &str) -> Result<u32, String> {
    lookup(text, "group", |name, buf| {
        // SAFETY: as in `parse_user`, with getgrnam_r and a group entry.
        unsafe {
            let mut entry: libc::group = std::mem::zeroed();
            let mut found: *mut libc::group = std::ptr::null_mut();
            let status = libc::getgrnam_r(
                name.as_ptr(),
                &mut entry,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            );
            (status, (!found.is_null()).then_some(entry.gr_gid))
        }
    })
}

/// A number as it is; a name through `get`, growing the buffer on ERANGE up to 1 MiB.
fn lookup(
    text: &str,
    kind: &str,
    get: impl Fn(&CString, &mut [libc::c_char]) -> (libc::c_int, Option<u32>),
) -> Result<u32, String> {
    let text = text.trim();
    if let Ok(id) = text.parse::<u32>() {
        return Ok(id);
    }
    let name = CString::new(text).map_err(|_| format!("{text:?} is not a {kind} name"))?;
    let mut size = 1024;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; size];
        match get(&name, &mut buf) {
            (0, Some(id)) => return Ok(id),
            (0, None) => return Err(format!("no {kind} named {text:?}")),
            (libc::ERANGE, _) if size < (1 << 20) => size *= 4,
            (errno, _) => {
                let err = std::io::Error::from_raw_os_error(errno);
                return Err(format!("cannot look up {kind} {text:?}: {err}"));
            }
        }
    }
}

#[cfg(test)]
#[path = "ids_tests.rs"]
mod tests;
