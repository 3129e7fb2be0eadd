//! Any bytes through the FastCGI codec: walking records never panics and never reads past
//! what a header announces; the incremental PARAMS decoder, fed in arbitrary pieces, agrees
//! with the one-shot decoder; decoded pairs re-encode to bytes that decode the same; a
//! GET_VALUES answer is always one well-formed record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pycnic::fastcgi::record::{
    Figures, HEADER_LEN, ParamsDecoder, decode_pairs, kind, parse_record, push_get_values_result,
    push_pair,
};

fuzz_target!(|data: &[u8]| {
    // 1. Records, one after another, as the connection reads them.
    let mut rest = data;
    while let Ok(Some((record, used))) = parse_record(rest) {
        assert!(used >= HEADER_LEN + record.content.len());
        assert_eq!(record.content.len(), usize::from(record.header.content_length));
        assert_ne!(record.header.record_type, 0);
        rest = &rest[used..];
    }

    // 2. The first byte picks a piece size and a limit; the rest is a PARAMS stream.
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let piece = usize::from(control % 17) + 1;
    let max_bytes = if control & 0x80 != 0 { 64 } else { 1 << 20 };
    let mut decoder = ParamsDecoder::new(max_bytes, 50);
    let fed: Result<(), _> = stream.chunks(piece).try_for_each(|chunk| decoder.feed(chunk));
    let incremental = fed.and_then(|()| decoder.finish());
    match (decode_pairs(stream), incremental) {
        (Ok(whole), Ok(pieces)) => {
            let whole: pycnic::gateway::Params = whole.into_iter().collect();
            assert_eq!(whole, pieces, "pieces of {piece} bytes");
            // 3. Re-encoding gives bytes that decode to the same pairs.
            let mut encoded = Vec::new();
            for (name, value) in &pieces {
                push_pair(&mut encoded, name, value);
            }
            let again = decode_pairs(&encoded).expect("re-encoded pairs decode");
            assert_eq!(again.len(), pieces.len());
        }
        (Err(_), Ok(pieces)) => panic!("incremental accepted what one-shot refused: {pieces:?}"),
        // Limits may refuse what one-shot accepts; both may refuse.
        (_, Err(_)) => {}
    }

    // 4. GET_VALUES: one GET_VALUES_RESULT record, content within 65535 bytes.
    let figures = Figures { max_conns: 1024, max_reqs: 1024 };
    let mut out = Vec::new();
    if push_get_values_result(&mut out, stream, &figures).is_ok() {
        let (record, used) = parse_record(&out).expect("valid").expect("complete");
        assert_eq!(used, out.len());
        assert_eq!(record.header.record_type, kind::GET_VALUES_RESULT);
        assert!(decode_pairs(record.content).is_ok());
    }
});
