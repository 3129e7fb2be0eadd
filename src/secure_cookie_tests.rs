//! Unit and property tests of the signed/private token codec.

use proptest::prelude::*;

use super::*;

fn ring(secrets: &[u8]) -> Keys {
    let list: Vec<[u8; 32]> = secrets.iter().map(|&b| [b; 32]).collect();
    Keys::from_secrets(&list).unwrap()
}

#[test]
fn round_trips_bind_the_name_and_the_expiry() {
    let keys = ring(&[1]);
    let s = seal_signed(&keys, "a", b"v", 0);
    assert_eq!(open_signed(&keys, "a", &s, 5).as_deref(), Some(&b"v"[..]));
    assert_eq!(open_signed(&keys, "b", &s, 5), None, "other name");
    assert_eq!(open_private(&keys, "a", &s, 5), None, "other kind");
    let p = seal_private(&keys, "a", b"v", 100).unwrap();
    assert_eq!(open_private(&keys, "a", &p, 99).as_deref(), Some(&b"v"[..]));
    assert_eq!(open_private(&keys, "a", &p, 100), None, "expired");
    assert_eq!(open_private(&keys, "b", &p, 5), None, "other name");
    let s = seal_signed(&keys, "a", b"v", 100);
    assert_eq!(open_signed(&keys, "a", &s, 100), None, "expired");
}

#[test]
fn rotation_old_key_second_verifies_removed_refuses() {
    let old = ring(&[1]);
    let token = seal_private(&old, "n", b"x", 0).unwrap();
    let signed = seal_signed(&old, "n", b"x", 0);
    let rotated = ring(&[2, 1]);
    assert!(open_private(&rotated, "n", &token, 1).is_some());
    assert!(open_signed(&rotated, "n", &signed, 1).is_some());
    let retired = ring(&[2]);
    assert_eq!(open_private(&retired, "n", &token, 1), None);
    assert_eq!(open_signed(&retired, "n", &signed, 1), None);
    // New tokens use the first key.
    let fresh = seal_signed(&rotated, "n", b"x", 0);
    assert!(open_signed(&retired, "n", &fresh, 1).is_some());
}

#[test]
fn oversized_tokens_are_ignored() {
    let keys = ring(&[1]);
    let big = seal_signed(&keys, "a", &[7u8; 4000], 0);
    assert!(big.len() > MAX_COOKIE_BYTES);
    assert_eq!(open_signed(&keys, "a", &big, 1), None);
}

proptest! {
    #[test]
    fn every_flipped_character_is_refused(value in proptest::collection::vec(any::<u8>(), 0..64),
                                         private in any::<bool>(), at in any::<prop::sample::Index>(),
                                         with in 0u8..64) {
        let keys = ring(&[3]);
        let token = if private {
            seal_private(&keys, "c", &value, 0).unwrap()
        } else {
            seal_signed(&keys, "c", &value, 0)
        };
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bytes = token.clone().into_bytes();
        let i = at.index(bytes.len());
        let replacement = alphabet[usize::from(with)];
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let tampered = String::from_utf8(bytes).unwrap();
        // The last character of unpadded base64 may carry unused bits: a change there either
        // fails to decode or decodes to the same bytes, which would be the same token.
        let same = URL_SAFE_NO_PAD.decode(&tampered).ok() == URL_SAFE_NO_PAD.decode(&token).ok();
        prop_assume!(!same);
        let opened = if private {
            open_private(&keys, "c", &tampered, 1)
        } else {
            open_signed(&keys, "c", &tampered, 1)
        };
        prop_assert_eq!(opened, None);
    }

    #[test]
    fn arbitrary_tokens_never_panic_and_never_open(token in ".{0,200}") {
        let keys = ring(&[4]);
        prop_assert_eq!(open_signed(&keys, "c", &token, 1), None);
        prop_assert_eq!(open_private(&keys, "c", &token, 1), None);
    }

    #[test]
    fn sealed_values_round_trip(value in proptest::collection::vec(any::<u8>(), 0..300),
                                name in "[a-zA-Z0-9_-]{1,20}") {
        let keys = ring(&[5, 6]);
        let s = seal_signed(&keys, &name, &value, 0);
        prop_assert_eq!(open_signed(&keys, &name, &s, 1), Some(value.clone()));
        let p = seal_private(&keys, &name, &value, 0).unwrap();
        prop_assert_eq!(open_private(&keys, &name, &p, 1), Some(value));
    }
}
