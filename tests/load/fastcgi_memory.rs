//! Memory after a flood, against the real binary over FastCGI (issue 18, item 11): after
//! 1000 connections each sent a body at once (queued behind busy workers), the server's
//! resident memory comes back near where it started once it is quiet again, instead of
//! staying at the flood's peak in glibc's heaps. A load test: its figures are printed
//! (`cargo test --test load -- fastcgi_memory --nocapture`); the wait for memory to come back is
//! a bounded poll, never a timed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use crate::fcgi_client::*;
use crate::load::*;

const CONNECTIONS: usize = 1000;
const BODY: usize = 96 * 1024;
/// Resident memory allowed over the figure before the flood, once it has passed.
const SLACK_KB: u64 = 40 * 1024;

/// The showcase's `fastcgi args...` on a 127.0.0.1 socket (fd 0) with the backlog
/// `--listen` gives (std's 128 would reset part of the flood before the server sees it).
fn start(args: &[&str]) -> Server {
    use std::os::fd::{AsRawFd, OwnedFd};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    // SAFETY: listen(2) again on a listening socket we own only changes its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 4096) }, 0);
    let addr = listener.local_addr().expect("local addr");
    let mut all = vec!["fastcgi"];
    all.extend_from_slice(args);
    let stdin = std::process::Stdio::from(OwnedFd::from(listener));
    let mut server = Server::spawn(&showcase_bin(), &all, &[], stdin);
    server.addr = Some(addr);
    server
}

#[test]
fn after_a_1000_connection_body_flood_resident_memory_comes_back() {
    let _serial = serial();
    raise_own_fd_limit();
    let server = start(&["--workers", "2", "--queue-wait", "600"]);
    let addr = server.addr.unwrap();
    assert_eq!(server.connect().get("/hello/warm").status(), 200);
    let before = proc_status_kb(server.pid(), "VmRSS").expect("VmRSS");
    let mut busy: Vec<Client> = (0..2)
        .map(|_| {
            let mut client = server.connect();
            let bytes = http_request(1, false, "GET", "/slow?ms=2000", &[], b"");
            client.send(&bytes).unwrap();
            client
        })
        .collect();
    let body = {
        let mut body = br#"{"pad":""#.to_vec();
        let end = br#"","name":"ada","age":36}"#;
        body.resize(BODY - end.len(), b'm');
        body.extend_from_slice(end);
        body
    };
    let request = Arc::new(http_request(
        1,
        false,
        "POST",
        "/users",
        &[("CONTENT_TYPE", "application/json")],
        &body,
    ));
    let senders: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let request = Arc::clone(&request);
            std::thread::spawn(move || -> Result<u16, String> {
                let stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
                stream
                    .set_read_timeout(Some(Duration::from_secs(120)))
                    .unwrap();
                let mut client = Client::Tcp(stream);
                client.send(&request).map_err(|e| format!("send: {e}"))?;
                Ok(client
                    .read_reply(1)
                    .map_err(|e| format!("read: {e}"))?
                    .status())
            })
        })
        .collect();
    let outcomes: Vec<Result<u16, String>> =
        senders.into_iter().map(|s| s.join().unwrap()).collect();
    for client in &mut busy {
        assert_eq!(client.read_reply(1).unwrap().status(), 200);
    }
    let peak = proc_status_kb(server.pid(), "VmHWM").expect("VmHWM");
    let created = outcomes.iter().filter(|o| **o == Ok(201)).count();
    assert_eq!(
        created,
        CONNECTIONS,
        "every body answered 201: {:?}",
        outcomes.iter().find(|o| **o != Ok(201))
    );
    let mut after = u64::MAX;
    let came_back = wait_until(|| {
        after = proc_status_kb(server.pid(), "VmRSS").unwrap_or(u64::MAX);
        after <= before + SLACK_KB
    });
    println!(
        "{CONNECTIONS} connections x {BODY} bytes: resident {before} kB before, peak {peak} kB, \
         {after} kB after"
    );
    assert!(
        came_back,
        "resident memory {after} kB after the flood, not back within {SLACK_KB} kB of \
         {before} kB (peak {peak} kB)\n{}",
        server.stderr()
    );
}
