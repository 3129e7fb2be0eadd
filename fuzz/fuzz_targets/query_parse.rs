//! Any bytes as a `QUERY_STRING`: parsing and `percent_decode` never panic, and the dict
//! view (`get`, `iter`, JSON) agrees with every kept pair (`pairs`, `get_all`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pycnic::query::{Args, percent_decode};

fuzz_target!(|data: &[u8]| {
    let args = Args::parse(data);
    assert_eq!(args.iter().count(), args.len());
    assert_eq!(args.is_empty(), args.len() == 0);
    assert!(args.pairs().count() >= args.len());
    for (key, value) in args.iter() {
        assert!(!value.is_empty(), "blank values are dropped");
        assert!(args.contains(key));
        assert_eq!(args.get(key), Some(value));
        assert_eq!(args.get_all(key).last().copied(), Some(value));
    }
    for (key, _) in args.pairs() {
        assert!(args.contains(key));
    }
    let _ = serde_json::to_string(&args);

    let decoded = percent_decode(data);
    assert!(decoded.len() <= data.len());
    if !data.contains(&b'%') {
        assert_eq!(decoded, data);
    }
});
