//! Tests of `query.rs`: Pycnic's `args` rules from a table, `get_all`, and properties.

use super::*;
use proptest::prelude::*;

fn dict(args: &Args) -> Vec<(&str, &str)> {
    args.iter().collect()
}

/// A named case: the input and the dict it must give, in order.
type Case<'a> = (&'a str, &'a [u8], &'a [(&'a str, &'a str)]);

/// Each expectation was produced by CPython 3.11's `dict(parse_qsl(q))`.
#[test]
fn parse_matches_python_parse_qsl_as_a_dict() {
    let cases: &[Case] = &[
        ("plain pairs", b"a=1&b=2", &[("a", "1"), ("b", "2")]),
        (
            "plus is a space in key and value",
            b"a+b=c+d",
            &[("a b", "c d")],
        ),
        (
            "percent escapes, either case",
            b"a=%41%62%2B%2b",
            &[("a", "Ab++")],
        ),
        ("escaped space then plus", b"a=%20+", &[("a", "  ")]),
        ("plus alone on both sides", b"+=+", &[(" ", " ")]),
        (
            "invalid escapes are kept",
            b"a=%zz&b=%4&c=%&d=%%41",
            &[("a", "%zz"), ("b", "%4"), ("c", "%"), ("d", "%A")],
        ),
        ("blank value dropped", b"a=&b=2", &[("b", "2")]),
        ("field without = dropped", b"a&b=2", &[("b", "2")]),
        ("empty key kept", b"=v", &[("", "v")]),
        ("only the first = splits", b"a=b=c", &[("a", "b=c")]),
        ("empty fields skipped", b"&&a=1&&", &[("a", "1")]),
        (
            "semicolon is not a separator",
            b"a=1;b=2",
            &[("a", "1;b=2")],
        ),
        ("empty query", b"", &[]),
        ("only blanks", b"a=&b&=", &[]),
        (
            "escaped key merges with plain key",
            b"%61=1&a=2",
            &[("a", "2")],
        ),
        ("utf-8 escapes", b"a=%C3%A9", &[("a", "é")]),
        ("raw utf-8 bytes", "a=é".as_bytes(), &[("a", "é")]),
        (
            "invalid utf-8 becomes U+FFFD",
            b"a=%C3%28&b=%FF",
            &[("a", "\u{fffd}("), ("b", "\u{fffd}")],
        ),
        (
            "mixed valid and invalid",
            b"a=%e9t%C3%A9",
            &[("a", "\u{fffd}té")],
        ),
        (
            "raw invalid byte",
            b"a=\xff\xfe",
            &[("a", "\u{fffd}\u{fffd}")],
        ),
    ];
    for (name, query, expected) in cases {
        let args = Args::parse(query);
        assert_eq!(dict(&args), *expected, "{name}");
        assert_eq!(args.len(), expected.len(), "{name}");
        assert_eq!(args.is_empty(), expected.is_empty(), "{name}");
    }
}

#[test]
fn duplicates_keep_first_position_last_value_and_all_values() {
    let args = Args::parse(b"a=1&a=2&b=3&a=4&b=&c");
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        ("repeated key", Some("4"), &["1", "2", "4"]),
        ("blank repeat does not count", Some("3"), &["3"]),
        ("no = means absent", None, &[]),
        ("never sent", None, &[]),
    ];
    for ((case, get, all), key) in cases.iter().zip(["a", "b", "c", "zz"]) {
        assert_eq!(args.get(key), *get, "{case}");
        assert_eq!(args.get_all(key), *all, "{case}");
        assert_eq!(args.contains(key), get.is_some(), "{case}");
    }
    assert_eq!(dict(&args), [("a", "4"), ("b", "3")], "dict order");
    let pairs: Vec<_> = args.pairs().collect();
    assert_eq!(
        pairs,
        [("a", "1"), ("a", "2"), ("b", "3"), ("a", "4")],
        "pairs"
    );
}

#[test]
fn many_keys_read_the_same_past_the_index_threshold() {
    // Keys past INDEX_AFTER are found through the index; an escaped spelling is the same key.
    let mut fields = Vec::new();
    for round in 0..3 {
        for n in 0..(INDEX_AFTER * 3) {
            fields.push(format!("k{n}=v{n}r{round}"));
        }
    }
    fields.push("%6B1=escaped".to_string());
    let args = Args::parse(fields.join("&").as_bytes());
    assert_eq!(args.len(), INDEX_AFTER * 3);
    assert_eq!(args.get("k1"), Some("escaped"));
    assert_eq!(args.get_all("k1"), ["v1r0", "v1r1", "v1r2", "escaped"]);
    assert_eq!(args.get(&format!("k{}", INDEX_AFTER * 2)), Some("v32r2"));
    assert_eq!(
        args.iter().next(),
        Some(("k0", "v0r2")),
        "first position kept"
    );
    assert_eq!(args.pairs().count(), INDEX_AFTER * 9 + 1);
    assert!(!args.contains("k999"));
    let same = Args::parse(fields.join("&").replace("k0=", "%6b0=").as_bytes());
    assert_eq!(same, args, "equal by content, whatever the text's layout");
}

#[test]
fn json_form_is_a_dict() {
    let cases = [
        ("duplicates", &b"b=1&a=2&b=3"[..], r#"{"b":"3","a":"2"}"#),
        ("empty", b"", "{}"),
        ("escaped quote", b"q=%22x%22", r#"{"q":"\"x\""}"#),
    ];
    for (name, query, json) in cases {
        let text = serde_json::to_string(&Args::parse(query)).unwrap();
        assert_eq!(text, json, "{name}");
    }
}

#[test]
fn percent_decode_is_for_paths() {
    let cases: &[(&str, &[u8], &[u8])] = &[
        ("plus stays", b"/a+b", b"/a+b"),
        ("escapes", b"/a%20b%2Fc%2f", b"/a b/c/"),
        ("invalid escapes kept", b"/%zz/%4/%", b"/%zz/%4/%"),
        ("double percent", b"%%41", b"%A"),
        ("bytes stay bytes", b"%FF%00\xfe", b"\xff\x00\xfe"),
        ("empty", b"", b""),
    ];
    for (name, input, expected) in cases {
        assert_eq!(percent_decode(input), *expected, "{name}");
    }
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b' ' => "+".to_string(),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn get_all_walks_only_its_keys_values_past_the_index_threshold() {
    // 9000 keys, each twice, apart: past the index, every key's values in query order.
    let query: Vec<String> = (0..18_000)
        .map(|i| format!("k{}={}", i % 9000, i))
        .collect();
    let args = Args::parse(query.join("&").as_bytes());
    for key in 0..9000 {
        let expected = [key.to_string(), (key + 9000).to_string()];
        assert_eq!(args.get_all(&format!("k{key}")), expected);
    }
    assert!(args.get_all("absent").is_empty());
    // Each pair is on exactly one key's chain: walking every chain visits each pair once.
    let chained: usize = args
        .firsts
        .iter()
        .map(|&first| {
            std::iter::successors(Some(first), |&at| {
                args.next.get(at).copied().filter(|&n| n != NO_NEXT)
            })
            .count()
        })
        .sum();
    assert_eq!(chained, args.pairs().count());
}

proptest! {
    #[test]
    fn no_input_panics_and_the_dict_view_is_consistent(
        query in proptest::collection::vec(
            prop_oneof![Just(b'&'), Just(b'='), Just(b'%'), Just(b'+'), any::<u8>()],
            0..200,
        )
    ) {
        let args = Args::parse(&query);
        let listed: Vec<_> = args.iter().collect();
        prop_assert_eq!(listed.len(), args.len());
        for (key, value) in listed {
            prop_assert!(!value.is_empty(), "a kept value is never empty");
            prop_assert_eq!(args.get(key), Some(value));
            prop_assert_eq!(args.get_all(key).last().copied(), Some(value));
            // The chained walk gives what a scan of every pair gives.
            let scanned: Vec<&str> =
                args.pairs().filter(|(k, _)| *k == key).map(|(_, v)| v).collect();
            prop_assert_eq!(args.get_all(key), scanned);
        }
        prop_assert!(args.pairs().count() >= args.len());
        let _ = percent_decode(&query);
    }

    #[test]
    fn percent_decode_never_grows_and_reverses_full_encoding(bytes in any::<Vec<u8>>()) {
        prop_assert!(percent_decode(&bytes).len() <= bytes.len());
        let encoded: String = bytes.iter().map(|b| format!("%{b:02x}")).collect();
        prop_assert_eq!(percent_decode(encoded.as_bytes()), bytes);
    }

    #[test]
    fn form_encoded_pairs_round_trip(
        pairs in proptest::collection::vec((any::<String>(), ".+"), 0..8)
    ) {
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        let args = Args::parse(query.join("&").as_bytes());
        for (key, _) in &pairs {
            let last = pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            prop_assert_eq!(args.get(key), last);
        }
        prop_assert_eq!(args.pairs().count(), pairs.len());
    }
}
