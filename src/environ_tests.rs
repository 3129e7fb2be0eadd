//! Tests of `environ.rs`.

use super::Environ;
use crate::params::Params;

#[test]
fn environ_keeps_the_params_text_and_decodes_bad_bytes_per_variable() {
    type Case = (&'static str, Params, Vec<(&'static str, &'static str)>);
    let cases: [Case; 3] = [
        (
            "UTF-8, repeats kept",
            [("A", "é"), ("HTTP_COOKIE", "a=1"), ("HTTP_COOKIE", "b=2")]
                .into_iter()
                .collect(),
            vec![("A", "é"), ("HTTP_COOKIE", "a=1"), ("HTTP_COOKIE", "b=2")],
        ),
        (
            "not UTF-8",
            [(&b"PATH_INFO"[..], &b"/caf\xe9"[..]), (b"X", b"ok")]
                .into_iter()
                .collect(),
            vec![("PATH_INFO", "/caf\u{fffd}"), ("X", "ok")],
        ),
        (
            "UTF-8 as a whole, a character split between name and value",
            [(&b"N\xc3"[..], &b"\xa9"[..])].into_iter().collect(),
            vec![("N\u{fffd}", "\u{fffd}")],
        ),
    ];
    for (case, params, want) in cases {
        let environ = Environ::from_params(params);
        assert_eq!(environ.iter().collect::<Vec<_>>(), want, "{case}");
    }
    let environ = Environ::from_pairs(vec![("A".into(), "1".into()), ("A".into(), "2".into())]);
    assert_eq!(environ.get("A"), Some("1"));
    assert_eq!(environ.get_all("A"), ["1", "2"]);
    assert_eq!(environ.get("B"), None);
}
