//! Byte-exact tables for the codec: every expected record is written out by hand from the
//! FastCGI 1.0 specification, not produced by the encoder under test.

use super::*;
use crate::fastcgi::protocol::pairs::*;

fn pair(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_pair(&mut out, name, value);
    out
}

#[test]
fn name_value_lengths_switch_to_four_bytes_at_128() {
    let cases: [(&str, usize, &[u8]); 6] = [
        ("empty", 0, &[0x00]),
        ("one", 1, &[0x01]),
        ("127 fits one byte", 127, &[0x7f]),
        ("128 needs four", 128, &[0x80, 0x00, 0x00, 0x80]),
        ("65535", 65535, &[0x80, 0x00, 0xff, 0xff]),
        ("65536", 65536, &[0x80, 0x01, 0x00, 0x00]),
    ];
    for (case, len, prefix) in cases {
        let name = vec![b'n'; len];
        let encoded = pair(&name, b"");
        let mut expected = prefix.to_vec();
        expected.push(0x00);
        expected.extend_from_slice(&name);
        assert_eq!(encoded, expected, "{case}");
        let decoded = decode_pairs(&encoded).unwrap();
        assert_eq!(decoded, vec![(&name[..], &b""[..])], "{case}");
    }
}

#[test]
fn four_byte_length_ignores_the_top_bit_only() {
    // 0x80 0x00 0x00 0x05: length 5 in the four-byte form (the form is legal below 128 too).
    let bytes = [
        0x80, 0x00, 0x00, 0x05, 0x01, b'h', b'e', b'l', b'l', b'o', b'x',
    ];
    assert_eq!(
        decode_pairs(&bytes).unwrap(),
        vec![(&b"hello"[..], &b"x"[..])]
    );
}

#[test]
fn pairs_cut_short_are_overruns() {
    let cases: [(&str, &[u8]); 4] = [
        ("name length only", &[0x05]),
        ("four-byte length cut", &[0x80, 0x00]),
        ("value missing", &[0x01, 0x03, b'a', b'b']),
        ("huge length", &[0xff, 0xff, 0xff, 0xff, 0x00, b'a']),
    ];
    for (case, bytes) in cases {
        assert_eq!(decode_pairs(bytes), Err(RecordError::PairOverrun), "{case}");
    }
}

#[test]
fn headers_parse_and_reject_bad_versions_and_type_zero() {
    let good = [1, 4, 0x01, 0x02, 0x03, 0x04, 5, 0xee];
    assert_eq!(
        Header::parse(good),
        Ok(Header {
            record_type: kind::PARAMS,
            request_id: 0x0102,
            content_length: 0x0304,
            padding_length: 5,
        })
    );
    assert_eq!(
        Header::parse([2, 4, 0, 1, 0, 0, 0, 0]),
        Err(RecordError::BadVersion(2))
    );
    assert_eq!(
        Header::parse([0, 4, 0, 1, 0, 0, 0, 0]),
        Err(RecordError::BadVersion(0))
    );
    assert_eq!(
        Header::parse([1, 0, 0, 1, 0, 0, 0, 0]),
        Err(RecordError::TypeZero)
    );
}

#[test]
fn parse_record_waits_for_content_and_padding() {
    let record = [1, 5, 0, 1, 0, 3, 2, 0, b'a', b'b', b'c', 0, 0, 9, 9];
    for cut in 0..13 {
        assert_eq!(parse_record(&record[..cut]), Ok(None), "cut at {cut}");
    }
    let (parsed, used) = parse_record(&record).unwrap().unwrap();
    assert_eq!(used, 13, "padding consumed, next record untouched");
    assert_eq!(parsed.content, b"abc");
    assert_eq!(parsed.header.request_id, 1);
    assert_eq!(
        parse_record(&[7]),
        Err(RecordError::BadVersion(7)),
        "early version check"
    );
}

#[test]
fn padding_of_any_length_is_skipped() {
    for padding in [0u8, 1, 7, 8, 255] {
        let mut bytes = vec![1, 5, 0, 1, 0, 1, padding, 0, b'x'];
        bytes.extend(std::iter::repeat_n(0xaa, usize::from(padding)));
        bytes.extend_from_slice(&[1, 5, 0, 1, 0, 0, 0, 0]);
        let (first, used) = parse_record(&bytes).unwrap().unwrap();
        assert_eq!(first.content, b"x", "padding {padding}");
        let (second, _) = parse_record(&bytes[used..]).unwrap().unwrap();
        assert_eq!(second.content, b"", "padding {padding}");
    }
}

#[test]
fn begin_request_body_is_exactly_eight_bytes() {
    let body = [0, 1, 1, 0, 0, 0, 0, 0];
    let begin = BeginRequest::parse(&body).unwrap();
    assert_eq!(
        begin,
        BeginRequest {
            role: role::RESPONDER,
            flags: KEEP_CONN
        }
    );
    assert!(begin.keep_conn());
    assert!(
        !BeginRequest::parse(&[0, 3, 0, 0, 0, 0, 0, 0])
            .unwrap()
            .keep_conn()
    );
    for len in [0, 7, 9] {
        assert!(BeginRequest::parse(&vec![0; len]).is_err(), "length {len}");
    }
}

/// (content length, padding length) of each record expected.
type Layout = Vec<(usize, u8)>;

#[test]
fn stream_records_split_at_65535_and_pad_to_eight() {
    let cases: [(&str, usize, Layout); 7] = [
        ("empty data writes nothing", 0, vec![]),
        ("1 byte, 7 padding", 1, vec![(1, 7)]),
        ("8 bytes, no padding", 8, vec![(8, 0)]),
        ("9 bytes", 9, vec![(9, 7)]),
        ("65535 in one record", 65535, vec![(65535, 1)]),
        ("65536 in two", 65536, vec![(65535, 1), (1, 7)]),
        (
            "131071 in three",
            131071,
            vec![(65535, 1), (65535, 1), (1, 7)],
        ),
    ];
    for (case, len, records) in cases {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        push_stream(&mut out, kind::STDOUT, 0x0102, &data);
        let mut expected = Vec::new();
        let mut offset = 0;
        for (content, padding) in records {
            let [l1, l0] = (content as u16).to_be_bytes();
            expected.extend_from_slice(&[1, 6, 0x01, 0x02, l1, l0, padding, 0]);
            expected.extend_from_slice(&data[offset..offset + content]);
            expected.extend(std::iter::repeat_n(0, usize::from(padding)));
            offset += content;
        }
        assert_eq!(out, expected, "{case}");
    }
}

#[test]
fn stream_end_is_an_empty_record() {
    let mut out = Vec::new();
    push_stream_end(&mut out, kind::STDOUT, 1);
    assert_eq!(out, [1, 6, 0, 1, 0, 0, 0, 0]);
}

#[test]
fn end_request_statuses_are_byte_exact() {
    let cases = [
        (ProtocolStatus::RequestComplete, 0, 0u8),
        (ProtocolStatus::CantMpxConn, 0, 1),
        (ProtocolStatus::Overloaded, 0, 2),
        (ProtocolStatus::UnknownRole, 0, 3),
        (ProtocolStatus::RequestComplete, 0x0102_0304, 0),
    ];
    for (status, app_status, byte) in cases {
        let mut out = Vec::new();
        push_end_request(&mut out, 0x0a0b, app_status, status);
        let [a3, a2, a1, a0] = u32::to_be_bytes(app_status);
        let expected = [1, 3, 0x0a, 0x0b, 0, 8, 0, 0, a3, a2, a1, a0, byte, 0, 0, 0];
        assert_eq!(out, expected, "{status:?}");
    }
}

#[test]
fn unknown_type_names_the_type() {
    let mut out = Vec::new();
    push_unknown_type(&mut out, 42);
    assert_eq!(out, [1, 11, 0, 0, 0, 8, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn get_values_answers_exactly_the_names_asked() {
    let figures = Figures {
        max_conns: 1024,
        max_reqs: 1024,
    };
    let mut query = Vec::new();
    query.extend_from_slice(b"\x0e\x00FCGI_MAX_CONNS");
    query.extend_from_slice(b"\x0f\x00FCGI_MPXS_CONNS");
    query.extend_from_slice(b"\x07\x00UNKNOWN");
    query.extend_from_slice(b"\x0e\x00FCGI_MAX_CONNS");
    let mut out = Vec::new();
    push_get_values_result(&mut out, &query, &figures).unwrap();
    let body = b"\x0e\x04FCGI_MAX_CONNS1024\x0f\x01FCGI_MPXS_CONNS0";
    assert_eq!(body.len(), 38);
    let mut expected = vec![1, 10, 0, 0, 0, 38, 2, 0];
    expected.extend_from_slice(body);
    expected.extend_from_slice(&[0, 0]);
    assert_eq!(out, expected);

    let mut out = Vec::new();
    push_get_values_result(
        &mut out,
        b"\x0d\x00FCGI_MAX_REQS",
        &Figures {
            max_conns: 5,
            max_reqs: 7,
        },
    )
    .unwrap();
    let body = b"\x0d\x01FCGI_MAX_REQS7";
    assert_eq!(body.len(), 16);
    let mut expected = vec![1, 10, 0, 0, 0, 16, 0, 0];
    expected.extend_from_slice(body);
    assert_eq!(out, expected, "max reqs");

    let mut out = Vec::new();
    push_get_values_result(&mut out, b"", &figures).unwrap();
    assert_eq!(
        out,
        [1, 10, 0, 0, 0, 0, 0, 0],
        "nothing asked, nothing answered"
    );
    assert!(
        push_get_values_result(&mut out, b"\x0e", &figures).is_err(),
        "cut query"
    );
}

#[test]
fn params_straddling_records_at_every_split_point() {
    let mut stream = Vec::new();
    stream.extend(pair(b"REQUEST_METHOD", b"GET"));
    stream.extend(pair(&[b'N'; 200], &[b'v'; 300]));
    stream.extend(pair(b"HTTP_COOKIE", b"a=1"));
    stream.extend(pair(b"HTTP_COOKIE", b"b=2"));
    stream.extend(pair(b"DOCUMENT_URI", b"/caf\xe9\xff"));
    for split in 0..=stream.len() {
        let mut decoder = ParamsDecoder::new(1 << 20, 100);
        let (a, b) = stream.split_at(split);
        decoder.feed(a).unwrap();
        decoder.feed(b).unwrap();
        let pairs = decoder.finish().unwrap();
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = pairs
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(pairs.len(), 5, "split {split}");
        assert_eq!(
            pairs[0],
            (b"REQUEST_METHOD".to_vec(), b"GET".to_vec()),
            "split {split}"
        );
        assert_eq!(
            pairs[1],
            (vec![b'N'; 200], vec![b'v'; 300]),
            "split {split}"
        );
        assert_eq!(pairs[2].1, b"a=1", "duplicates kept, split {split}");
        assert_eq!(pairs[3].1, b"b=2", "duplicates kept, split {split}");
        assert_eq!(pairs[4].1, b"/caf\xe9\xff", "non-utf-8 kept, split {split}");
    }
}

#[test]
fn params_byte_at_a_time() {
    let mut stream = pair(&[b'k'; 130], b"value");
    stream.extend(pair(b"X", &[0xff; 129]));
    let mut decoder = ParamsDecoder::new(1 << 20, 100);
    for byte in &stream {
        decoder.feed(std::slice::from_ref(byte)).unwrap();
    }
    let pairs = decoder.finish().unwrap();
    let want: Pairs = [
        (vec![b'k'; 130], b"value".to_vec()),
        (b"X".to_vec(), vec![0xff; 129]),
    ]
    .into_iter()
    .collect();
    assert_eq!(pairs, want);
}

#[test]
fn params_decoded_in_place_stay_text_when_their_names_and_values_are() {
    // Long values have 4-byte lengths, whose first byte has the high bit set: blanked where
    // the pairs were marked, so the buffer is UTF-8 (and becomes the handler's variables
    // without a copy) whenever the names and values are.
    let mut stream = pair(b"HTTP_USER_AGENT", "é".repeat(100).as_bytes());
    stream.extend(pair(b"REQUEST_METHOD", b"GET"));
    stream.extend(pair("NAMÉ".as_bytes(), &[b'v'; 300]));
    for split in [0, 1, 5, stream.len() / 2, stream.len()] {
        let mut decoder = ParamsDecoder::new(1 << 20, 100);
        let (a, b) = stream.split_at(split);
        decoder.feed(a).unwrap();
        decoder.feed(b).unwrap();
        let pairs = decoder.finish().unwrap();
        assert!(
            std::str::from_utf8(pairs.raw()).is_ok(),
            "the buffer is UTF-8, split {split}"
        );
        assert_eq!(
            pairs.get(b"HTTP_USER_AGENT"),
            Some("é".repeat(100).as_bytes())
        );
        assert_eq!(pairs.get(b"REQUEST_METHOD"), Some(&b"GET"[..]));
        assert_eq!(pairs.get("NAMÉ".as_bytes()), Some(&[b'v'; 300][..]));
    }
}

#[test]
fn params_limits_are_enforced() {
    let mut decoder = ParamsDecoder::new(10, 100);
    assert!(decoder.feed(&pair(b"A", b"1")).is_ok(), "3 bytes fit");
    let err = decoder.feed(&pair(b"NAME", b"value")).unwrap_err();
    assert_eq!(err, RecordError::ParamsTooLarge { limit: 10 }, "bytes");

    let mut decoder = ParamsDecoder::new(100, 2);
    let three = [pair(b"A", b""), pair(b"B", b""), pair(b"C", b"")].concat();
    assert_eq!(
        decoder.feed(&three),
        Err(RecordError::TooManyParams { limit: 2 }),
        "count"
    );

    // A length that announces more than the limit fails on its first record.
    let mut decoder = ParamsDecoder::new(1000, 10);
    let err = decoder.feed(&[0xff, 0xff, 0xff, 0xff, 0x00]).unwrap_err();
    assert_eq!(
        err,
        RecordError::ParamsTooLarge { limit: 1000 },
        "announced length"
    );

    let mut decoder = ParamsDecoder::new(1000, 10);
    decoder.feed(&[0x05, 0x00, b'a']).unwrap();
    assert_eq!(
        decoder.finish(),
        Err(RecordError::PairOverrun),
        "ends inside a pair"
    );
}

#[test]
fn errors_display_in_lower_case() {
    let errors = [
        RecordError::BadVersion(2),
        RecordError::TypeZero,
        RecordError::BadContentLength {
            record_type: 1,
            length: 3,
        },
        RecordError::PairOverrun,
        RecordError::ParamsTooLarge { limit: 1 },
        RecordError::TooManyParams { limit: 1 },
    ];
    for err in errors {
        let text = err.to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
}

#[test]
fn http_bytes_on_the_fastcgi_port_get_a_log_line_that_says_what_to_do() {
    let err = parse_record(b"GET / HTTP/1.1\r\n").expect_err("not a record");
    let line = err.to_string();
    assert!(
        line.starts_with("unsupported fastcgi version 71 ('G'"),
        "{line}"
    );
    assert!(
        line.contains("this is a FastCGI port") && line.contains("`serve`"),
        "{line}"
    );
    let binary = RecordError::BadVersion(0).to_string();
    assert_eq!(binary, "unsupported fastcgi version 0");
}
