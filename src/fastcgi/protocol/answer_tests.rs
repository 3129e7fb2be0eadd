//! Tests of `answer.rs`.

use super::*;

fn full(status: u16, body: Vec<u8>) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            (
                "Set-Cookie".into(),
                "a=1; Path=/; HttpOnly; SameSite=Lax".to_string().into(),
            ),
            (
                "Content-Length".into(),
                crate::http::HeaderText::number(body.len() as u64),
            ),
        ],
        body: Body::Full(body),
    }
}

#[test]
fn a_full_answer_is_framed_in_one_buffer_sized_once_as_its_cgi_bytes() {
    // Head and body in one record, exactly filling it, one byte over it, and in several.
    let head = gateway::head_len(200, &full(200, vec![0; 65000]).headers);
    let around = (65535 - head - 2..=65535 - head + 2).map(|len| (200, len));
    let cases = [(200, 0), (404, 13), (599, 65535 - 100), (200, 200_000)];
    for (status, len) in cases.into_iter().chain(around) {
        let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut cgi = Vec::new();
        gateway::write_response(full(status, body.clone()), &mut cgi).unwrap();
        let mut want = Vec::new();
        push_stream(&mut want, kind::STDOUT, 7, &cgi);
        push_stream_end(&mut want, kind::STDOUT, 7);
        push_end_request(&mut want, 7, 0, ProtocolStatus::RequestComplete);

        let (mut sink, mut out) = (Vec::new(), Vec::new());
        let framed = frame_fastcgi_response(full(status, body), 7, &mut sink, &mut out);
        assert_eq!(framed.unwrap().body, 0, "{len}: one write, the head");
        assert!(sink.is_empty(), "{len}: nothing flushed early");
        assert_eq!(out, want, "{len}: FCGI_STDOUT carries the CGI bytes");
        assert_eq!(out.capacity(), out.len(), "{len}: sized exactly, once");
    }
}

#[test]
fn a_streamed_answer_flushes_its_head_and_chunks_and_leaves_its_end() {
    let response = HttpResponse {
        status: 200,
        headers: vec![],
        body: Body::Stream(Box::new(vec![b"ab".to_vec(), b"c".to_vec()].into_iter())),
    };
    let (mut sink, mut out) = (Vec::new(), Vec::new());
    let framed = frame_fastcgi_response(response, 1, &mut sink, &mut out).unwrap();
    assert_eq!(framed.body, 3);
    let mut want = Vec::new();
    for piece in [&b"Status: 200 OK\r\n\r\n"[..], b"ab", b"c"] {
        push_stream(&mut want, kind::STDOUT, 1, piece);
    }
    assert_eq!(sink, want);
    let mut end = Vec::new();
    push_stream_end(&mut end, kind::STDOUT, 1);
    push_end_request(&mut end, 1, 0, ProtocolStatus::RequestComplete);
    assert_eq!(out, end);
}
