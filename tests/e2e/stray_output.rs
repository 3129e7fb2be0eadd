//! Stray output: a handler that prints to stdout (the showcase's `/print`) behind lighttpd's
//! mod_cgi, under `request`, and under FastCGI. The answer stays intact; the line goes to the
//! error log. Also the log line for HTTP sent to the FastCGI port.

use crate::{e2e, fcgi_client};
use e2e::*;

const STRAY: &str = "a stray line printed by the showcase's /print handler";

#[test]
fn a_handlers_print_goes_to_the_error_log_not_into_the_cgi_answer_behind_lighttpd() {
    let prefix = Prefix::new("lighttpd-cgi-stray");
    let bin = prefix.install_binary(&App::Showcase.binary(), "pycnic");
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("lighttpd/pycnic-cgi.conf"),
        "site.conf",
        &[("BIN", text(&bin))],
    );
    let lighttpd = start_lighttpd(&prefix, &site, port);
    let deployment = Deployment {
        procs: vec![lighttpd],
        addr: (localhost(), port).into(),
        prefix,
    };
    deployment.check(|addr| {
        let resp = send(addr, &Req::get("/print"));
        assert_eq!(resp.status, 200, "the answer is intact: {}", resp.text());
        assert_eq!(resp.json(), serde_json::json!({"printed": true}));
        assert!(
            !resp.text().contains(STRAY),
            "the stray line is not in the body"
        );
    });
    // mod_cgi hands its children lighttpd's own stderr (`server.breakagelog` when set), which
    // the test deployment keeps in lighttpd-stderr.log: wait for the line there.
    let log = deployment.prefix.join("lighttpd-stderr.log");
    wait_until(
        "the stray line in lighttpd's stderr log",
        &[deployment.proc("lighttpd")],
        &deployment.prefix,
        || std::fs::read_to_string(&log).is_ok_and(|text| text.contains(STRAY)),
    );
}

#[test]
fn a_handlers_print_goes_to_stderr_under_request() {
    let out = std::process::Command::new(App::Showcase.binary())
        .args(["request", "GET", "/print"])
        .output()
        .expect("run the showcase");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.starts_with("Status: 200 OK\r\n"),
        "stdout: {stdout:?}"
    );
    assert!(!stdout.contains(STRAY), "stdout: {stdout:?}");
    assert!(stderr.contains(STRAY), "stderr: {stderr:?}");
}

#[test]
fn a_handlers_print_goes_to_the_log_under_fastcgi() {
    let server = fcgi_client::Server::fastcgi(&App::Showcase.binary(), &[]);
    let reply = server.connect().get("/print");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json(), serde_json::json!({"printed": true}));
    assert!(
        server.wait_for_log(STRAY),
        "the stray line is in the log: {}",
        server.stderr()
    );
}

#[test]
fn http_sent_to_the_fastcgi_port_logs_what_to_do() {
    use std::io::{Read, Write};
    let server = fcgi_client::Server::fastcgi(&e2e::pycnic_bin(), &[]);
    let addr = server.addr.expect("a TCP server");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(answer.is_empty(), "no HTTP answer from a FastCGI port");
    assert!(
        server.wait_for_log("this is a FastCGI port"),
        "a clear line in the log: {}",
        server.stderr()
    );
}
