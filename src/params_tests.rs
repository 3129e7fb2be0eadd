//! Tests of `params.rs`.

use super::*;

#[test]
fn pairs_keep_their_order_repeats_and_bytes() {
    let mut params: Params = [("A", "1"), ("B", ""), ("A", "2")].into_iter().collect();
    params.push(b"", b"\xff\x00");
    let got: Vec<(&[u8], &[u8])> = params.iter().collect();
    let want: Vec<(&[u8], &[u8])> =
        vec![(b"A", b"1"), (b"B", b""), (b"A", b"2"), (b"", b"\xff\x00")];
    assert_eq!(got, want);
    assert_eq!(params.len(), 4);
    assert_eq!(params.get(b"A"), Some(&b"1"[..]), "the first of a repeat");
    assert_eq!(params.get(b"C"), None);
    params.remove(b"A");
    assert_eq!(
        params.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        [b"B" as &[u8], b""]
    );
    assert!(Params::new().is_empty());
}

#[test]
fn parts_name_each_range() {
    let params: Params = [("NAME", "value"), ("X", "")].into_iter().collect();
    let (bytes, ranges) = params.into_parts();
    let text: Vec<(&[u8], &[u8])> = ranges
        .iter()
        .map(|(n, v)| (&bytes[n.clone()], &bytes[v.clone()]))
        .collect();
    assert_eq!(text, [(b"NAME" as &[u8], b"value" as &[u8]), (b"X", b"")]);
}
