use std::io;

use serde_json::{Value, json};

use super::*;
use crate::{Handler, Request, Response};

/// A connection on bytes: all of `input` arrives, then the client closes.
struct Bytes {
    input: io::Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Bytes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Bytes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Echo;
impl Echo {
    fn post(&self, req: &Request, _res: &mut Response) -> Result<Value, crate::HttpError> {
        Ok(json!({"body": String::from_utf8_lossy(req.body())}))
    }
}

fn exchange(input: &[u8]) -> String {
    let app = App::new().route("/echo", Handler::new(Echo).post(Echo::post));
    let mut conn = Bytes {
        input: io::Cursor::new(input.to_vec()),
        output: Vec::new(),
    };
    let limits = Limits {
        max_body: 16,
        request_time: Duration::from_secs(5),
    };
    let peer = Peer {
        remote: "127.0.0.1:5000".parse().expect("addr"),
        local: "127.0.0.1:8000".parse().expect("addr"),
    };
    serve_connection(&mut conn, &app, &limits, &peer, &mut |_| {});
    String::from_utf8_lossy(&conn.output).into_owned()
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let out = exchange(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\none\
          POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n",
    );
    let first = out.find(r#"{"body":"one"}"#).expect(&out);
    let second = out.find(r#"{"body":"two"}"#).expect(&out);
    assert!(first < second, "{out}");
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
}

#[test]
fn expect_100_continue_gets_its_interim_answer_before_the_body_is_read() {
    let out = exchange(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    assert!(out.starts_with("HTTP/1.1 100 Continue\r\n\r\n"), "{out}");
}

#[test]
fn a_body_over_the_limit_is_413_and_the_connection_closes() {
    let out = exchange(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n\r\n");
    assert!(
        out.starts_with("HTTP/1.1 413 Content Too Large\r\n"),
        "{out}"
    );
    assert!(out.contains("Connection: close\r\n"), "{out}");
    let chunked =
        exchange(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n");
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
}

#[test]
fn malformed_requests_get_their_json_error_and_nothing_panics() {
    let table: [(&[u8], &str); 8] = [
        (b"GARBAGE\r\n\r\n", "400"),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", "400"),
        (b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", "400"),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", "400"),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400"),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "400"),
        (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br\r\n\r\n", "501"),
    ];
    for (input, status) in table {
        let out = exchange(input);
        assert!(
            out.starts_with(&format!("HTTP/1.1 {status} ")),
            "{:?}: {out}",
            String::from_utf8_lossy(input)
        );
        assert!(out.contains(r#""status_code":"#), "{out}");
    }
}

#[test]
fn a_request_cut_short_gets_no_answer() {
    assert_eq!(
        exchange(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nab"),
        ""
    );
    assert_eq!(exchange(b""), "");
}
