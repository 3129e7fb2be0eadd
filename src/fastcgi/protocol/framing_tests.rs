//! Tests of `framing.rs`.

use super::*;
use crate::fastcgi::protocol::record::{kind, push_stream};

#[test]
fn pieces_make_the_records_push_stream_makes_of_them_whole() {
    let big = MAX_CONTENT_LEN;
    let cases: [&[usize]; 9] = [
        &[],
        &[0],
        &[1],
        &[3, 0, 5],
        &[7, 9],
        &[big],
        &[big - 1, 1],
        &[big - 1, 2, 3],
        &[100, big * 2, 17],
    ];
    for sizes in cases {
        let pieces: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 31 + j) as u8).collect())
            .collect();
        let whole = pieces.concat();
        let mut want = b"prefix".to_vec();
        push_stream(&mut want, kind::STDOUT, 258, &whole);

        let mut got = b"prefix".to_vec();
        let mut records = StreamRecords::new(&mut got, kind::STDOUT, 258);
        for piece in &pieces {
            records.push(piece);
        }
        drop(records);
        assert_eq!(got, want, "pieces of {sizes:?}");
        assert_eq!(
            StreamRecords::framed_len(whole.len()),
            want.len() - b"prefix".len(),
            "framed length of {sizes:?}"
        );
    }
}
