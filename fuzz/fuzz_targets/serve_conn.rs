//! `serve`'s HTTP/1.1 side on arbitrary client bytes: heads parsed by httparse under our
//! limits, Content-Length and chunked bodies, 100-continue, pipelining, and the answer's
//! translation from CGI bytes. Every input must end in answers or a clean close, never a panic.
#![no_main]

use std::io::{self, Cursor, Read, Write};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pycnic::serve::conn::{Limits, serve_connection};
use pycnic::serve::exchange::Peer;
use pycnic::{App, Handler, HttpError, Request, Response};
use serde_json::{Value, json};

fn echo(_: &(), req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
    Ok(json!({"path": req.path(), "headers": req.headers(), "body": req.body().len()}))
}

struct Conn<'a> {
    input: Cursor<&'a [u8]>,
}

impl Read for Conn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Small reads, so heads and chunks arrive split.
        let n = buf.len().min(7);
        self.input.read(&mut buf[..n])
    }
}

impl Write for Conn<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

static APP: std::sync::OnceLock<App> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let app = APP.get_or_init(|| App::new().route(r"/.*", Handler::new(()).get(echo).post(echo)));
    let limits = Limits {
        max_body: 4096,
        request_time: Duration::from_secs(5),
    };
    let peer = Peer {
        remote: "127.0.0.1:5000".parse().unwrap(),
        local: "127.0.0.1:8000".parse().unwrap(),
    };
    let conn = Conn {
        input: Cursor::new(data),
    };
    serve_connection(conn, app, &limits, &peer, &mut |_| {});
});
