//! Any bytes as a signed or private cookie token, a session cookie-store token, or a key file:
//! decoding never panics, never opens a token it did not make, and a token it made round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pycnic::keys::Keys;
use pycnic::secure_cookie::{open_private, open_signed, seal_private, seal_signed};
use pycnic::session::store::cookie;

fuzz_target!(|data: &[u8]| {
    let Ok(keys) = Keys::from_secrets(&[[7u8; 32], [9u8; 32]]) else {
        return;
    };
    let token = String::from_utf8_lossy(data);
    // A token the fuzzer made up cannot carry a valid MAC or AEAD tag.
    assert_eq!(open_signed(&keys, "c", &token, 1), None);
    assert_eq!(open_private(&keys, "c", &token, 1), None);
    assert_eq!(cookie::open(&keys, "session", &token, 1), None);
    let _ = Keys::parse(&token);

    // The bytes as a value: sealed and opened again, under the same name only.
    let signed = seal_signed(&keys, "c", data, 0);
    assert_eq!(open_signed(&keys, "c", &signed, 1).as_deref(), Some(data));
    assert_eq!(open_signed(&keys, "d", &signed, 1), None);
    if let Ok(private) = seal_private(&keys, "c", data, 0) {
        assert_eq!(open_private(&keys, "c", &private, 1).as_deref(), Some(data));
        assert_eq!(open_private(&keys, "d", &private, 1), None);
    }
});
