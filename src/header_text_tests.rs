//! Tests of `header_text.rs`.

use super::*;

#[test]
fn every_form_reads_as_its_text_and_compares_by_it() {
    let long = "x".repeat(INLINE + 1);
    let cases = [
        (HeaderText::from_static("Content-Type"), "Content-Type"),
        (HeaderText::copy(""), ""),
        (HeaderText::copy("héllo"), "héllo"),
        (HeaderText::copy(&"y".repeat(INLINE)), &*"y".repeat(INLINE)),
        (HeaderText::copy(&long), &*long),
        (HeaderText::from(long.clone()), &*long),
    ]
    .map(|(text, want)| (text, want.to_string()));
    for (text, want) in cases {
        assert_eq!(text.as_str(), want);
        assert_eq!(
            text,
            HeaderText::from(want.clone()),
            "equal whatever the form"
        );
        assert_eq!(text.clone().into_string(), want);
        assert_eq!(format!("{text:?}"), format!("{want:?}"));
    }
    assert!(matches!(HeaderText::copy(&long).0, Repr::Owned(_)));
    assert!(matches!(HeaderText::copy("short").0, Repr::Inline { .. }));
}

#[test]
fn numbers_are_their_decimal_digits() {
    for n in [0, 7, 10, 1234, u64::from(u32::MAX), u64::MAX] {
        assert_eq!(HeaderText::number(n).as_str(), n.to_string());
    }
}
