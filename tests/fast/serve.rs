//! `pycnic serve` over real TCP: every seed request through curl answers with the bytes
//! `pycnic request` (the CGI gateway) writes, apart from the status line and the HTTP/1.1
//! headers; keep-alive and pipelining; chunked bodies and 100-continue; the smuggling case;
//! malformed requests from a table; a slow client that does not block another; loopback only
//! unless `--public`.

use crate::cgi;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `pycnic serve` on a port the OS picked; killed (by PID) on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start() -> Server {
        Server::start_with(&[])
    }

    fn start_with(env: &[(&str, &str)]) -> Server {
        Server::start_bin(std::path::Path::new(env!("CARGO_BIN_EXE_pycnic")), env)
    }

    fn start_bin(bin: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--max-body", "1k"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pycnic serve");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut first = String::new();
        stderr.read_line(&mut first).expect("the URL line");
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no URL in {first:?}"));
        assert!(first.contains("development server"), "{first}");
        let log = Arc::new(Mutex::new(first));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().expect("log").push_str(&line);
                line.clear();
            }
        });
        Server { child, addr, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Head lines and body of a CGI or HTTP answer.
fn split(raw: &[u8]) -> (Vec<String>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]);
    let lines = head.split("\r\n").map(str::to_string).collect();
    (lines, raw[end + 4..].to_vec())
}

fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "30"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {args:?}: {out:?}");
    out.stdout
}

#[test]
fn every_seed_request_over_http_is_the_cgi_answer_with_an_http_status_line() {
    let server = Server::start();
    let rows: [(&str, &str, Option<&str>, Option<&str>); 13] = [
        ("GET", "/login", None, None),
        ("GET", "/login", Some("session_id=abc; path=/;"), None),
        (
            "POST",
            "/login",
            None,
            Some(r#"{"username":"foo","password":"foo"}"#),
        ),
        ("POST", "/login", None, Some(r#"{"username":"foo"}"#)),
        ("POST", "/login", None, None),
        (
            "POST",
            "/login",
            None,
            Some(r#"{"username":"foo","password":"bar"}"#),
        ),
        ("POST", "/login", None, Some("{bad json")),
        ("POST", "/logout", Some("session_id=x"), None),
        (
            "POST",
            "/logout",
            Some("session_id=DELETED; theme=dark"),
            None,
        ),
        ("GET", "/logout", None, None),
        ("GET", "/nowhere", None, None),
        ("GET", "/login/", None, None),
        ("OPTIONS", "/login", None, None),
    ];
    for (method, path, cookie, body) in rows {
        let mut request = vec!["request", method, path];
        let mut http = vec!["-X", method, "-H", "Content-Type: application/json"];
        if let Some(cookie) = cookie {
            request.extend(["-b", cookie]);
            http.extend(["-b", cookie]);
        }
        if let Some(body) = body {
            request.extend(["-d", body]);
            http.extend(["--data-binary", body]);
        }
        let url = server.url(path);
        http.push(&url);
        let cgi = Command::new(env!("CARGO_BIN_EXE_pycnic"))
            .args(&request)
            .output()
            .expect("pycnic request");
        let (cgi_head, cgi_body) = split(&cgi.stdout);
        let (http_head, http_body) = split(&curl(&http));
        let case = format!("{method} {path} {cookie:?} {body:?}");
        assert_eq!(http_body, cgi_body, "{case}: the body");
        let status = cgi_head[0].strip_prefix("Status: ").expect("a Status line");
        assert_eq!(http_head[0], format!("HTTP/1.1 {status}"), "{case}");
        let added = |line: &&String| {
            let name = line
                .split(':')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            name == "date" || name == "connection"
        };
        let http_rest: Vec<&String> = http_head[1..].iter().filter(|l| !added(l)).collect();
        let cgi_rest: Vec<&String> = cgi_head[1..].iter().collect();
        assert_eq!(
            http_rest, cgi_rest,
            "{case}: the headers CGI writes, in order"
        );
        assert!(http_head.iter().any(|l| l.starts_with("Date: ")), "{case}");
    }
    let log = server.log.lock().expect("log").clone();
    assert!(
        log.contains("\"POST /logout\" 200"),
        "one access line per request:\n{log}"
    );
}

/// Reads one HTTP answer off `reader`: head lines and a Content-Length body.
fn read_answer(reader: &mut impl BufRead) -> (Vec<String>, Vec<u8>) {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "closed after {head:?}"
        );
        let line = line.trim_end_matches("\r\n").to_string();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let len: usize = head
        .iter()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |n| n.parse().expect("a length"));
    let mut body = vec![0; len];
    reader.read_exact(&mut body).expect("the body");
    (head, body)
}

#[test]
fn pipelined_requests_on_one_kept_alive_connection_are_answered_in_order() {
    let server = Server::start();
    let mut stream = server.connect();
    let login = r#"{"username":"foo","password":"foo"}"#;
    let batch = format!(
        "GET /login HTTP/1.1\r\nHost: a\r\nCookie: session_id=one\r\n\r\n\
         POST /login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{login}\
         GET /login HTTP/1.1\r\nHost: a\r\nCookie: session_id=three\r\n\r\n",
        login.len()
    );
    stream.write_all(batch.as_bytes()).expect("write");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let bodies: Vec<Vec<u8>> = (0..3).map(|_| read_answer(&mut reader).1).collect();
    assert_eq!(bodies[0], br#"{"session_id":"one"}"#);
    assert_eq!(bodies[1], br#"{"message":"Logged in"}"#);
    assert_eq!(bodies[2], br#"{"session_id":"three"}"#);
    // Still open: a fourth request on the same connection.
    stream
        .write_all(b"GET /login HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .expect("write");
    let (head, _) = read_answer(&mut reader);
    assert!(head.contains(&"Connection: close".to_string()), "{head:?}");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).expect("closed");
    assert!(rest.is_empty());
}

#[test]
fn a_chunked_body_sent_after_100_continue_reaches_the_app() {
    let server = Server::start();
    let url = server.url("/login");
    let out = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Expect: 100-continue",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        r#"{"username":"foo","password":"foo"}"#,
        &url,
    ]);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 100 Continue\r\n"), "{text}");
    assert!(text.ends_with(r#"{"message":"Logged in"}"#), "{text}");
}

#[test]
fn transfer_encoding_with_content_length_is_refused_and_the_connection_closed() {
    let server = Server::start();
    let mut stream = server.connect();
    stream
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\
              Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /login HTTP/1.1\r\nHost: a\r\n\r\n",
        )
        .expect("write");
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("read until closed");
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert_eq!(
        text.matches("HTTP/1.1").count(),
        1,
        "the smuggled request is not answered"
    );
}

#[test]
fn malformed_requests_get_their_json_error() {
    let server = Server::start();
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not HTTP", b"HELLO\r\n\r\n".to_vec(), "400"),
        (
            "no Host in HTTP/1.1",
            b"GET /login HTTP/1.1\r\n\r\n".to_vec(),
            "400",
        ),
        (
            "a space in a header name",
            b"GET / HTTP/1.1\r\nHost: a\r\nA B: c\r\n\r\n".to_vec(),
            "400",
        ),
        ("a head over the limit", big_head.into_bytes(), "431"),
        (
            "a body over --max-body",
            b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n".to_vec(),
            "413",
        ),
        (
            "a transfer coding other than chunked",
            b"POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
            "501",
        ),
        (
            "a bad chunk size",
            b"POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n"
                .to_vec(),
            "400",
        ),
    ];
    for (name, bytes, status) in table {
        let mut stream = server.connect();
        stream.write_all(&bytes).expect("write");
        let mut all = Vec::new();
        let _ = stream.read_to_end(&mut all);
        let text = String::from_utf8_lossy(&all);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{name}: {text}"
        );
        assert!(
            text.contains(r#""status_code":"#),
            "{name}: Pycnic's JSON error: {text}"
        );
    }
}

#[test]
fn a_slow_client_does_not_block_another() {
    let server = Server::start();
    let mut slow = server.connect();
    slow.write_all(b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Le")
        .expect("write");
    let url = server.url("/login");
    let out = curl(&[&url]);
    assert!(String::from_utf8_lossy(&out).ends_with(r#"{"session_id":null}"#));
    slow.write_all(b"ngth: 2\r\n\r\n{}")
        .expect("write the rest");
    let mut reader = BufReader::new(slow);
    let (head, _) = read_answer(&mut reader);
    assert_eq!(
        head[0], "HTTP/1.1 400 Bad Request",
        "the slow request is answered too"
    );
}

#[test]
fn an_address_other_than_loopback_needs_public() {
    let out = Command::new(env!("CARGO_BIN_EXE_pycnic"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .stdin(Stdio::null())
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--public"), "{stderr}");
}

#[test]
fn head_gets_the_get_answers_length_without_a_body_and_the_ping_page_answers() {
    let server = Server::start_with(&[("PYCNIC_PING_PATH", "/ping")]);
    let mut stream = server.connect();
    stream
        .write_all(b"HEAD /login HTTP/1.1\r\nHost: a\r\n\r\nGET /ping HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("write");
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    assert_eq!(head[0], "HTTP/1.1 200 OK");
    assert!(head.contains(&"Content-Length: 19".to_string()), "{head:?}");
    // No body follows the HEAD answer: the next bytes are the ping's answer.
    let (ping, body) = read_answer(&mut reader);
    assert_eq!(ping[0], "HTTP/1.1 200 OK", "{ping:?}");
    assert_eq!(body, b"pong");
}

#[test]
fn a_streamed_answer_goes_out_chunked() {
    let server = Server::start_bin(&cgi::showcase_bin(), &[]);
    let url = server.url("/stream?chunks=3");
    let out = curl(&[&url]);
    let (head, body) = split(&out);
    assert_eq!(head[0], "HTTP/1.1 200 OK");
    assert!(
        head.contains(&"Transfer-Encoding: chunked".to_string()),
        "{head:?}"
    );
    assert_eq!(
        body, b"chunk 0\nchunk 1\nchunk 2\n",
        "curl decoded the chunks"
    );
}
