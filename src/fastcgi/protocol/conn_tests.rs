//! The connection state machine against record sequences a web server (or a broken one)
//! sends: keep-conn sequences, management records, roles, multiplexing, aborts, limits,
//! and every malformed case that must close the connection.

use super::*;
use crate::fastcgi::protocol::pairs::{Figures, push_pair};
use crate::fastcgi::protocol::record::{
    KEEP_CONN, ProtocolStatus, push_end_request, push_stream, push_stream_end, role,
};

const LIMITS: ConnLimits = ConnLimits {
    max_params_bytes: 4096,
    max_params_count: 16,
    max_body: 100,
    figures: Figures {
        max_conns: 1024,
        max_reqs: 1024,
    },
};

fn record(record_type: u8, id: u16, content: &[u8]) -> Vec<u8> {
    let mut out = vec![1, record_type];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(content);
    out
}

fn begin(id: u16, role: u16, flags: u8) -> Vec<u8> {
    let [r1, r0] = role.to_be_bytes();
    record(kind::BEGIN_REQUEST, id, &[r1, r0, flags, 0, 0, 0, 0, 0])
}

fn params(id: u16, pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut content = Vec::new();
    for (name, value) in pairs {
        push_pair(&mut content, name, value);
    }
    let mut out = Vec::new();
    push_stream(&mut out, kind::PARAMS, id, &content);
    push_stream_end(&mut out, kind::PARAMS, id);
    out
}

fn stdin(id: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_stream(&mut out, kind::STDIN, id, body);
    push_stream_end(&mut out, kind::STDIN, id);
    out
}

fn request(id: u16, flags: u8, body: &[u8]) -> Vec<u8> {
    let length = body.len().to_string();
    let pairs: [(&[u8], &[u8]); 2] = [
        (b"REQUEST_METHOD", b"POST"),
        (b"CONTENT_LENGTH", length.as_bytes()),
    ];
    [
        begin(id, role::RESPONDER, flags),
        params(id, &pairs),
        stdin(id, body),
    ]
    .concat()
}

fn end_request(id: u16, status: ProtocolStatus) -> Vec<u8> {
    let mut out = Vec::new();
    push_end_request(&mut out, id, 0, status);
    out
}

fn expect_request(conn: &mut Connection, case: &str) -> ReceivedRequest {
    match conn.next_event() {
        Some(Event::Request(request)) => request,
        other => panic!("{case}: expected a request, got {other:?}"),
    }
}

#[test]
fn one_request_with_body_is_handed_out_then_the_connection_waits() {
    let mut conn = Connection::new(LIMITS);
    assert_eq!(conn.phase(), Phase::Idle);
    conn.receive(&request(1, KEEP_CONN, b"hello")).unwrap();
    let got = expect_request(&mut conn, "one request");
    assert_eq!(
        (got.id, got.keep_conn, &got.body[..]),
        (1, true, &b"hello"[..])
    );
    assert_eq!(
        got.params.iter().next(),
        Some((&b"REQUEST_METHOD"[..], &b"POST"[..]))
    );
    assert_eq!(conn.phase(), Phase::Responding);
    assert!(!conn.wants_input());
    assert!(conn.output().is_empty());
    conn.response_done().unwrap();
    assert_eq!(conn.phase(), Phase::Idle);
}

#[test]
fn keep_conn_requests_come_one_after_another() {
    let mut conn = Connection::new(LIMITS);
    let bytes = [
        request(1, KEEP_CONN, b"a"),
        request(1, KEEP_CONN, b"b"),
        request(7, 0, b"c"),
    ];
    conn.receive(&bytes.concat()).unwrap();
    for (body, keep) in [(b"a", true), (b"b", true), (b"c", false)] {
        let got = expect_request(&mut conn, "sequence");
        assert_eq!((&got.body[..], got.keep_conn), (&body[..], keep));
        assert!(
            conn.next_event().is_none(),
            "paused until the response is done"
        );
        conn.response_done().unwrap();
    }
    assert_eq!(
        conn.phase(),
        Phase::Closed,
        "closed after a request without keep_conn"
    );
}

#[test]
fn without_keep_conn_later_bytes_are_not_read() {
    let mut conn = Connection::new(LIMITS);
    conn.receive(&[request(1, 0, b""), request(2, 0, b"")].concat())
        .unwrap();
    expect_request(&mut conn, "first");
    conn.response_done().unwrap();
    assert_eq!(conn.phase(), Phase::Closed);
    assert!(conn.next_event().is_none());
}

#[test]
fn byte_at_a_time_gives_the_same_requests() {
    let bytes = [request(1, KEEP_CONN, &[7; 70]), request(2, KEEP_CONN, b"")].concat();
    let mut conn = Connection::new(LIMITS);
    let mut bodies = Vec::new();
    for byte in &bytes {
        conn.receive(std::slice::from_ref(byte)).unwrap();
        while let Some(Event::Request(got)) = conn.next_event() {
            bodies.push(got.body);
            conn.response_done().unwrap();
        }
    }
    assert_eq!(bodies, vec![vec![7; 70], vec![]]);
}

/// Reads of any size, across records of 65535 bytes (padded), give the same requests; between
/// reads the connection holds at most the part of a header or of a (small) params record it
/// has begun: a body's records are taken piece by piece (it held a whole read's worth, 128
/// KiB per connection under a flood, then one record, 64 KiB).
#[test]
fn between_reads_only_an_unfinished_record_is_held() {
    let body: Vec<u8> = (0..200_000u32).map(|n| n as u8).collect();
    let bytes = [request(1, KEEP_CONN, &body), request(2, KEEP_CONN, b"end")].concat();
    let limits = ConnLimits {
        max_body: 300_000,
        ..LIMITS
    };
    for size in [1, 7, 8, 9, 1000, 65_536, 70_000, bytes.len()] {
        let mut conn = Connection::new(limits);
        let mut bodies = Vec::new();
        for chunk in bytes.chunks(size) {
            conn.receive(chunk).unwrap();
            while let Some(Event::Request(got)) = conn.next_event() {
                bodies.push(got.body);
                conn.response_done().unwrap();
            }
            assert!(
                conn.input.len() < 64 && conn.input.capacity() < 64,
                "reads of {size}: {} bytes held in {}",
                conn.input.len(),
                conn.input.capacity()
            );
        }
        assert_eq!(
            bodies,
            vec![body.clone(), b"end".to_vec()],
            "reads of {size}"
        );
        assert_eq!(
            conn.input.capacity(),
            0,
            "reads of {size}: nothing held at the end"
        );
    }
}

/// A body record taken piece by piece that passes the limit halfway: 413 at once, the rest
/// of the record (content and padding) dropped after the answer, and the next request on the
/// connection read as usual, whatever the reads' sizes.
#[test]
fn a_body_record_over_the_limit_in_pieces_is_refused_and_the_next_request_read() {
    let pairs: [(&[u8], &[u8]); 1] = [(b"CONTENT_LENGTH", b"")];
    let mut bytes = [begin(1, role::RESPONDER, KEEP_CONN), params(1, &pairs)].concat();
    let mut big = record(kind::STDIN, 1, &[5; 250]);
    big[6] = 5;
    big.extend([0; 5]);
    bytes.extend(big);
    bytes.extend(record(kind::STDIN, 1, b""));
    bytes.extend(request(2, 0, b"next"));
    for size in [1, 3, 9, 40, 120, bytes.len()] {
        let mut conn = Connection::new(LIMITS);
        let mut events = Vec::new();
        for chunk in bytes.chunks(size) {
            conn.receive(chunk).unwrap();
            while let Some(event) = conn.next_event() {
                events.push(match event {
                    Event::BodyTooLarge(_) => "413".to_string(),
                    Event::Request(got) => String::from_utf8(got.body).unwrap(),
                    other => format!("{other:?}"),
                });
                conn.response_done().unwrap();
            }
        }
        assert_eq!(events, ["413", "next"], "reads of {size}");
        assert_eq!(conn.phase(), Phase::Closed, "reads of {size}");
    }
}

/// A declared body's buffer is allocated once, of the declared size up to 1 MiB (from which
/// it is a mapping that grows without copies), from its first byte (it grew by doubling,
/// each step a copy); an undeclared one grows as it arrives.
#[test]
fn a_declared_body_gets_its_buffer_at_once() {
    let limits = ConnLimits {
        max_body: 10 << 20,
        ..LIMITS
    };
    for (length, expected) in [
        (Some(200_000), 200_000),
        (Some(10 << 20), 1 << 20),
        (None, 0),
    ] {
        let mut conn = Connection::new(limits);
        let declared = length.map(|len: usize| len.to_string());
        let mut pairs: Vec<(&[u8], &[u8])> = vec![(b"REQUEST_METHOD", b"POST")];
        if let Some(declared) = &declared {
            pairs.push((b"CONTENT_LENGTH", declared.as_bytes()));
        }
        let head = [begin(1, role::RESPONDER, 0), params(1, &pairs)].concat();
        conn.receive(&head).unwrap();
        conn.receive(&record(kind::STDIN, 1, &[7; 10])).unwrap();
        assert_eq!(conn.body_buffered(), 10);
        let capacity = conn.take_body().capacity();
        match length {
            Some(_) => assert_eq!(capacity, expected, "{length:?}"),
            None => assert!(capacity < 1000, "{capacity}: grows as it arrives"),
        }
    }
}

#[test]
fn duplicate_and_non_utf8_params_are_kept_in_order() {
    let mut conn = Connection::new(LIMITS);
    let pairs: [(&[u8], &[u8]); 3] = [
        (b"HTTP_COOKIE", b"a=1"),
        (b"DOCUMENT_URI", b"/\xff\xfe"),
        (b"HTTP_COOKIE", b"b=2"),
    ];
    let bytes = [
        begin(1, role::RESPONDER, 0),
        params(1, &pairs),
        stdin(1, b""),
    ]
    .concat();
    conn.receive(&bytes).unwrap();
    let got = expect_request(&mut conn, "duplicates");
    let expected: Pairs = pairs
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(got.params, expected);
}

#[test]
fn management_records_are_answered_at_any_time() {
    let mut conn = Connection::new(LIMITS);
    let mut query = Vec::new();
    push_pair(&mut query, b"FCGI_MPXS_CONNS", b"");
    let mut bytes = record(kind::GET_VALUES, 0, &query);
    bytes.extend(record(200, 0, b"?"));
    conn.receive(&bytes).unwrap();
    let mut expected = Vec::new();
    push_get_values_result(&mut expected, &query, &LIMITS.figures).unwrap();
    push_unknown_type(&mut expected, 200);
    assert_eq!(conn.output(), &expected[..]);
    conn.consume_output(expected.len());
    assert!(conn.output().is_empty());
    assert_eq!(conn.phase(), Phase::Idle);
}

#[test]
fn authorizer_and_filter_get_unknown_role() {
    for (case, role, flags, phase) in [
        ("authorizer, keep", role::AUTHORIZER, KEEP_CONN, Phase::Idle),
        ("filter, keep", role::FILTER, KEEP_CONN, Phase::Idle),
        ("role 99, no keep", 99, 0, Phase::Closed),
    ] {
        let mut conn = Connection::new(LIMITS);
        // The web server may send the rejected request's streams anyway: they are ignored.
        let bytes = [begin(3, role, flags), params(3, &[]), stdin(3, b"x")].concat();
        conn.receive(&bytes).unwrap();
        assert_eq!(
            conn.output(),
            &end_request(3, ProtocolStatus::UnknownRole)[..],
            "{case}"
        );
        assert!(conn.next_event().is_none(), "{case}");
        assert_eq!(conn.phase(), phase, "{case}");
    }
}

#[test]
fn second_begin_request_gets_cant_mpx_conn_and_the_first_goes_on() {
    let mut conn = Connection::new(LIMITS);
    let bytes = [
        begin(1, role::RESPONDER, KEEP_CONN),
        begin(2, role::RESPONDER, KEEP_CONN),
        params(2, &[]),
        params(1, &[(b"A", b"1")]),
        stdin(2, b"ignored"),
        stdin(1, b"mine"),
    ]
    .concat();
    conn.receive(&bytes).unwrap();
    assert_eq!(
        conn.output(),
        &end_request(2, ProtocolStatus::CantMpxConn)[..]
    );
    let got = expect_request(&mut conn, "first request");
    assert_eq!((got.id, &got.body[..]), (1, &b"mine"[..]));
}

#[test]
fn abort_stops_the_current_request_and_is_ignored_for_others() {
    let mut conn = Connection::new(LIMITS);
    let bytes = [
        begin(1, role::RESPONDER, KEEP_CONN),
        record(kind::ABORT_REQUEST, 9, b""),
        params(1, &[]),
        record(kind::ABORT_REQUEST, 1, b""),
        stdin(1, b"late"),
    ]
    .concat();
    conn.receive(&bytes).unwrap();
    assert_eq!(
        conn.output(),
        &end_request(1, ProtocolStatus::RequestComplete)[..]
    );
    assert!(
        conn.next_event().is_none(),
        "aborted request never handed out"
    );
    assert_eq!(conn.phase(), Phase::Idle);
    conn.receive(&request(1, KEEP_CONN, b"next")).unwrap();
    assert_eq!(expect_request(&mut conn, "after abort").body, b"next");
}

#[test]
fn declared_body_over_the_limit_is_refused_and_its_stdin_discarded() {
    let mut conn = Connection::new(LIMITS);
    let bytes = [
        request(1, KEEP_CONN, &[1; 101]),
        request(2, KEEP_CONN, b"ok"),
    ]
    .concat();
    conn.receive(&bytes).unwrap();
    match conn.next_event() {
        Some(Event::BodyTooLarge(got)) => assert_eq!((got.id, got.body.len()), (1, 0)),
        other => panic!("expected 413, got {other:?}"),
    }
    conn.response_done().unwrap();
    assert_eq!(expect_request(&mut conn, "next request").body, b"ok");
}

#[test]
fn undeclared_body_is_read_to_the_empty_stdin_up_to_the_limit() {
    for (case, len, too_large) in [("under", 100, false), ("over", 101, true)] {
        let mut conn = Connection::new(LIMITS);
        let pairs: [(&[u8], &[u8]); 1] = [(b"CONTENT_LENGTH", b"")];
        let mut bytes = [begin(1, role::RESPONDER, 0), params(1, &pairs)].concat();
        for chunk in vec![5u8; len].chunks(30) {
            bytes.extend(record(kind::STDIN, 1, chunk));
        }
        bytes.extend(record(kind::STDIN, 1, b""));
        conn.receive(&bytes).unwrap();
        match (conn.next_event(), too_large) {
            (Some(Event::Request(got)), false) => assert_eq!(got.body, vec![5; len], "{case}"),
            (Some(Event::BodyTooLarge(_)), true) => {
                conn.response_done().unwrap();
                assert_eq!(
                    conn.phase(),
                    Phase::Closed,
                    "{case}: stdin drained, no keep"
                );
            }
            (other, _) => panic!("{case}: got {other:?}"),
        }
    }
}

#[test]
fn a_body_taken_piece_by_piece_still_counts_against_the_limit() {
    for (case, len, too_large) in [("under", 100, false), ("over", 101, true)] {
        let mut conn = Connection::new(LIMITS);
        let pairs: [(&[u8], &[u8]); 1] = [(b"CONTENT_LENGTH", b"")];
        conn.receive(&[begin(1, role::RESPONDER, 0), params(1, &pairs)].concat())
            .unwrap();
        let mut taken = Vec::new();
        for chunk in vec![5u8; len].chunks(30) {
            conn.receive(&record(kind::STDIN, 1, chunk)).unwrap();
            assert!(conn.body_buffered() <= 30, "{case}: taken before");
            taken.extend(conn.take_body());
        }
        conn.receive(&record(kind::STDIN, 1, b"")).unwrap();
        match (conn.next_event(), too_large) {
            (Some(Event::Request(got)), false) => {
                assert!(got.body.is_empty(), "{case}: the rest only");
                assert_eq!(taken, vec![5; len], "{case}");
            }
            (Some(Event::BodyTooLarge(_)), true) => {}
            (other, _) => panic!("{case}: got {other:?}"),
        }
    }
}

#[test]
fn eof_while_discarding_an_answered_body_is_clean() {
    let mut conn = Connection::new(LIMITS);
    let bytes = [
        begin(1, role::RESPONDER, KEEP_CONN),
        params(1, &[(b"CONTENT_LENGTH", b"500")]),
    ]
    .concat();
    conn.receive(&bytes).unwrap();
    assert!(matches!(conn.next_event(), Some(Event::BodyTooLarge(_))));
    conn.response_done().unwrap();
    conn.receive(&record(kind::STDIN, 1, &[0; 50])).unwrap();
    assert!(conn.receive_eof().is_ok(), "the web server had its 413");
}

#[test]
fn phases_follow_the_request() {
    let mut conn = Connection::new(LIMITS);
    conn.receive(&begin(1, role::RESPONDER, KEEP_CONN)[..3])
        .unwrap();
    assert_eq!(conn.phase(), Phase::Head, "partial record");
    conn.receive(&begin(1, role::RESPONDER, KEEP_CONN)[3..])
        .unwrap();
    assert_eq!(conn.phase(), Phase::Head, "params pending");
    conn.receive(&params(1, &[])).unwrap();
    assert_eq!(conn.phase(), Phase::Body);
    conn.receive(&stdin(1, b"")).unwrap();
    assert_eq!(conn.phase(), Phase::Responding);
}

#[test]
fn malformed_input_closes_the_connection() {
    let good = request(1, KEEP_CONN, b"");
    let mut oversized_begin = begin(1, role::RESPONDER, 0);
    oversized_begin[5] = 9;
    oversized_begin.push(0);
    let overrun = [
        begin(1, role::RESPONDER, 0),
        record(kind::PARAMS, 1, &[0x05, 0x01, b'a']),
        record(kind::PARAMS, 1, b""),
    ]
    .concat();
    let cases: [(&str, Vec<u8>); 11] = [
        ("wrong version", vec![2, 1, 0, 1, 0, 8, 0, 0]),
        ("record type 0", record(0, 1, b"")),
        ("short begin", record(kind::BEGIN_REQUEST, 1, &[0, 1, 0])),
        ("oversized begin", oversized_begin),
        ("begin with id 0", begin(0, role::RESPONDER, 0)),
        ("stdout from the web server", record(kind::STDOUT, 1, b"x")),
        (
            "get_values on a request id",
            record(kind::GET_VALUES, 1, b""),
        ),
        ("pair overruns params", overrun),
        (
            "stdin before params end",
            [begin(1, role::RESPONDER, 0), stdin(1, b"")].concat(),
        ),
        (
            "begin for the active id",
            [begin(1, role::RESPONDER, 0), begin(1, role::RESPONDER, 0)].concat(),
        ),
        (
            "params after params",
            [begin(1, role::RESPONDER, 0), params(1, &[]), params(1, &[])].concat(),
        ),
    ];
    for (case, bytes) in cases {
        let mut conn = Connection::new(LIMITS);
        let mut all = bytes.clone();
        all.extend_from_slice(&good);
        assert!(conn.receive(&all).is_err(), "{case}");
        assert_eq!(conn.phase(), Phase::Closed, "{case}");
        assert!(conn.next_event().is_none(), "{case}: nothing handed out");
        assert!(
            conn.receive(&good).is_ok(),
            "{case}: closed input is dropped"
        );
        assert!(conn.next_event().is_none(), "{case}: still nothing");
    }
}

#[test]
fn params_over_the_limits_are_skipped_and_answered_431_then_the_next_request_is_read() {
    let many: Vec<(&[u8], &[u8])> = vec![(b"A", b"1"); 17];
    let big = vec![b'x'; 5000];
    // Params split over many records: the limit is passed in the middle of them.
    let mut straddling = Vec::new();
    for chunk in [(b"BIG".as_slice(), big.as_slice())]
        .iter()
        .flat_map(|(n, v)| {
            let mut content = Vec::new();
            push_pair(&mut content, n, v);
            content.chunks(700).map(<[u8]>::to_vec).collect::<Vec<_>>()
        })
    {
        straddling.extend(record(kind::PARAMS, 1, &chunk));
    }
    straddling.extend(record(kind::PARAMS, 1, b""));
    let cases: [(&str, Vec<u8>, RecordError); 3] = [
        (
            "count",
            params(1, &many),
            RecordError::TooManyParams { limit: 16 },
        ),
        (
            "bytes",
            params(1, &[(b"BIG", &big)]),
            RecordError::ParamsTooLarge { limit: 4096 },
        ),
        (
            "bytes over records",
            straddling,
            RecordError::ParamsTooLarge { limit: 4096 },
        ),
    ];
    for (case, params_bytes, reason) in cases {
        let mut conn = Connection::new(LIMITS);
        let bytes = [
            begin(1, role::RESPONDER, KEEP_CONN),
            params_bytes,
            stdin(1, b"dropped body"),
            request(2, KEEP_CONN, b"next"),
        ]
        .concat();
        conn.receive(&bytes).unwrap();
        match conn.next_event() {
            Some(Event::HeadersTooLarge(got, why)) => {
                assert_eq!((got.id, got.params.len(), why), (1, 0, reason), "{case}");
            }
            other => panic!("{case}: expected a 431, got {other:?}"),
        }
        conn.response_done().unwrap();
        let next = expect_request(&mut conn, case);
        assert_eq!(
            (next.id, next.body.as_slice()),
            (2, &b"next"[..]),
            "{case}: next request"
        );
    }
}

#[test]
fn eof_or_stdin_while_skipping_params_is_an_error() {
    let big = vec![b'x'; 5000];
    let mut content = Vec::new();
    push_pair(&mut content, b"BIG", &big);
    let head = [
        begin(1, role::RESPONDER, 0),
        record(kind::PARAMS, 1, &content),
    ]
    .concat();
    let mut conn = Connection::new(LIMITS);
    conn.receive(&head).unwrap();
    assert_eq!(
        conn.phase(),
        Phase::Head,
        "skipping params: the header timer applies"
    );
    assert!(conn.receive_eof().is_err(), "eof inside the params");
    let mut conn = Connection::new(LIMITS);
    conn.receive(&head).unwrap();
    assert!(
        conn.receive(&stdin(1, b"")).is_err(),
        "stdin before the params end"
    );
}

#[test]
fn eof_is_clean_only_between_requests() {
    let whole = request(1, KEEP_CONN, b"body");
    let cases: [(&str, usize, bool); 5] = [
        ("before anything", 0, true),
        ("inside a header", 3, false),
        ("inside params", 8 + 8 + 4, false),
        ("inside the body", whole.len() - 8, false),
        ("inside a record's content", 8 + 4, false),
    ];
    for (case, cut, clean) in cases {
        let mut conn = Connection::new(LIMITS);
        conn.receive(&whole[..cut]).unwrap();
        assert_eq!(conn.receive_eof().is_ok(), clean, "{case}");
        assert_eq!(conn.phase(), Phase::Closed, "{case}");
    }
}

#[test]
fn errors_display_in_lower_case() {
    let errors = [
        ConnError::Record(RecordError::TypeZero),
        ConnError::Unexpected {
            record_type: 6,
            request_id: 1,
        },
        ConnError::Eof { inside: "a record" },
    ];
    for err in errors {
        let text = err.to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
    }
}

#[test]
fn a_refused_body_is_answered_then_its_rest_dropped_and_the_connection_goes_on() {
    let mut conn = Connection::new(LIMITS);
    let pairs: [(&[u8], &[u8]); 1] = [(b"REQUEST_METHOD", b"POST")];
    let mut head = [begin(1, role::RESPONDER, KEEP_CONN), params(1, &pairs)].concat();
    push_stream(&mut head, kind::STDIN, 1, b"first part");
    conn.receive(&head).unwrap();
    assert_eq!(conn.next_event(), None);
    let refused = conn.refuse_body().expect("a body was being received");
    assert_eq!((refused.id, refused.body.len()), (1, 0));
    assert_eq!(
        refused.params.iter().count(),
        1,
        "the params stay for the answer"
    );
    assert_eq!(conn.refuse_body(), None, "refused once");
    conn.response_done().unwrap();
    conn.receive(&stdin(1, b"the rest")).unwrap();
    assert_eq!(conn.next_event(), None, "the rest of the body is dropped");
    conn.receive(&request(2, KEEP_CONN, b"next")).unwrap();
    let next = expect_request(&mut conn, "the request after");
    assert_eq!(&next.body[..], b"next");
}
