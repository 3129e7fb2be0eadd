//! Tests of `answer.rs`.

use super::*;

#[test]
fn response_bytes_are_status_headers_blank_line_body() {
    let response = HttpResponse {
        status: 404,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Set-Cookie".into(), "a=1; Path=/".into()),
            ("Set-Cookie".into(), "b=2; Path=/".into()),
        ],
        body: Body::Full(b"{}".to_vec()),
    };
    let mut out = Vec::new();
    write_response(response, &mut out).unwrap();
    assert_eq!(
        out,
        b"Status: 404 Not Found\r\nContent-Type: application/json\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; Path=/\r\n\r\n{}"
    );
}

/// Records each write and flush, to see what leaves when.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.events.push(String::from_utf8_lossy(buf).into_owned());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.events.push("<flush>".into());
        Ok(())
    }
}

#[test]
fn full_bodies_leave_in_one_write_and_streams_flush_per_chunk() {
    let full = HttpResponse {
        status: 200,
        headers: vec![],
        body: Body::Full(b"x".to_vec()),
    };
    let mut rec = Recorder::default();
    write_response(full, &mut rec).unwrap();
    assert_eq!(
        rec.events,
        ["Status: 200 OK\r\n\r\nx"],
        "one write, no flush"
    );

    let chunks = vec![b"a".to_vec(), Vec::new(), b"b".to_vec()];
    let stream = HttpResponse {
        status: 200,
        headers: vec![],
        body: Body::Stream(Box::new(chunks.into_iter())),
    };
    let mut rec = Recorder::default();
    write_response(stream, &mut rec).unwrap();
    assert_eq!(
        rec.events,
        [
            "Status: 200 OK\r\n\r\n",
            "<flush>",
            "a",
            "<flush>",
            "b",
            "<flush>"
        ]
    );
}

#[test]
fn a_panicking_stream_ends_the_body_without_unwinding() {
    let chunks = (0..3).map(|i| {
        if i == 1 {
            panic!("chunk fails")
        } else {
            vec![b'0' + i]
        }
    });
    let stream = HttpResponse {
        status: 200,
        headers: vec![],
        body: Body::Stream(Box::new(chunks)),
    };
    let mut out = Vec::new();
    write_response(stream, &mut out).unwrap();
    assert_eq!(out, b"Status: 200 OK\r\n\r\n0");
}
