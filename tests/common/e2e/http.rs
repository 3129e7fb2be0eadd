//! A small HTTP/1.1 client over raw bytes: repeated headers, raw non-ASCII targets, every
//! response header line kept; Content-Length, chunked and read-to-close bodies.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use serde_json::Value;

use super::*;

/// One request as raw parts: the target is bytes (raw non-ASCII allowed), headers may repeat.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub target: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Option<Vec<u8>>,
}

impl Req {
    pub fn new(method: &str, target: impl AsRef<[u8]>) -> Req {
        Req {
            method: method.to_string(),
            target: target.as_ref().to_vec(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(target: impl AsRef<[u8]>) -> Req {
        Req::new("GET", target)
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        self.headers
            .push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    pub fn cookie(self, value: &str) -> Req {
        self.header("Cookie", value)
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> Req {
        self.body = Some(body.as_ref().to_vec());
        self
    }

    pub fn json(self, body: impl AsRef<[u8]>) -> Req {
        self.header("Content-Type", "application/json").body(body)
    }

    /// The request's bytes. POST, PUT and PATCH always carry a Content-Length (lighttpd
    /// answers 411 to a POST without one).
    pub fn to_bytes(&self, host: &str, keep_alive: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.as_ref().map_or(0, Vec::len));
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let needs_length = matches!(self.method.as_str(), "POST" | "PUT" | "PATCH");
        if self.body.is_some() || needs_length {
            let len = self.body.as_ref().map_or(0, Vec::len);
            out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if let Some(body) = &self.body {
            out.extend_from_slice(body);
        }
        out
    }
}

/// A response as it arrived: every header line kept, in order.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header line of that name, in order.
    pub fn header_lines(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}\nheaders: {:?}",
                String::from_utf8_lossy(&self.body),
                self.headers
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a new connection (`Connection: close`).
pub fn send(addr: SocketAddr, req: &Req) -> Resp {
    let mut conn = Conn::open(addr);
    conn.request_with(req, false)
}

/// A client connection that may carry several requests (keep-alive).
pub struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Conn {
            addr,
            stream,
            reader,
        }
    }

    /// Sends one request, keeping the connection open, and reads the response.
    pub fn request(&mut self, req: &Req) -> Resp {
        self.request_with(req, true)
    }

    fn request_with(&mut self, req: &Req, keep_alive: bool) -> Resp {
        let bytes = req.to_bytes(&self.addr.to_string(), keep_alive);
        if bytes.len() <= 64 * 1024 {
            self.stream.write_all(&bytes).unwrap();
            return read_response(&mut self.reader, req.method == "HEAD");
        }
        // A large body is written by another thread while this one reads, so an early answer
        // (413 before the body is read) is seen even if the server stops reading.
        let mut writer = self.stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let result = writer.write_all(&bytes);
            if result.is_err() {
                let _ = writer.shutdown(Shutdown::Write);
            }
            result
        });
        let resp = read_response(&mut self.reader, req.method == "HEAD");
        let _ = sender.join();
        resp
    }
}

/// Reads one HTTP/1.1 response: status line, header lines, then a body framed by
/// Content-Length, chunked encoding, or the end of the connection.
pub fn read_response(reader: &mut impl BufRead, head_request: bool) -> Resp {
    let status_line = read_line(reader);
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    assert!(
        version.starts_with("HTTP/1."),
        "not an HTTP response: {status_line:?}"
    );
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader);
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad header line {line:?}"));
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if head_request || status / 100 == 1 || status == 204 || status == 304 {
        return resp;
    }
    let chunked = resp
        .header("Transfer-Encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let size_line = read_line(reader);
            let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            if size == 0 {
                // Trailers, then the blank line.
                while !read_line(reader).is_empty() {}
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk).unwrap();
            resp.body.extend_from_slice(&chunk);
            assert_eq!(read_line(reader), "", "chunk not followed by CRLF");
        }
    } else if let Some(len) = resp.header("Content-Length") {
        let len: usize = len.parse().unwrap();
        resp.body = vec![0; len];
        reader.read_exact(&mut resp.body).unwrap();
    } else {
        reader.read_to_end(&mut resp.body).unwrap();
    }
    resp
}

fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).unwrap();
    assert!(!line.is_empty(), "connection closed before a full response");
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8_lossy(&line).into_owned()
}
