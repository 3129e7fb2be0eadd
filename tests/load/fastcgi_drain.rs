//! A draining server and its kept-alive connections: one that carries a request when SIGTERM
//! comes is ended right behind its answer, so a web server that reads the answer finds the
//! connection closed and takes its next request to a process that stays, instead of sending
//! it on through the drain's grace. (That the FIN leaves in the same TCP segment is not
//! checked here: this client reads the reply record by record, slower than the server ends
//! the connection either way; `fastcgi_processes`' recycle test counts nginx's retries.)

use std::io::Read;
use std::time::Duration;

use crate::fcgi_client::*;
use crate::load::*;

/// The handler runs 250 ms and SIGTERM comes 100 ms into it: the drain has begun when the
/// handler's answer leaves, within the 200 ms grace (when the connection would otherwise
/// still take requests). Once the reply is read, the connection's end is already there: a
/// read that does not wait returns EOF, not "would block".
#[test]
fn while_draining_a_kept_alive_connection_is_ended_right_behind_its_answer() {
    let _serial = serial();
    let mut server = Server::fastcgi(&showcase_bin(), &["--shutdown-timeout", "10"]);
    let mut client = server.connect();
    assert_eq!(client.get("/slow?ms=1").status(), 200, "first request");
    client
        .send(&http_request(1, true, "GET", "/slow?ms=250", &[], b""))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.signal(SIGTERM);
    let reply = client
        .read_reply(1)
        .expect("the request in flight is answered");
    assert_eq!(reply.status(), 200, "the request in flight");
    let Client::Tcp(stream) = &mut client else {
        panic!("a TCP client");
    };
    stream.set_nonblocking(true).expect("non-blocking");
    let after = stream.read(&mut [0u8; 1]);
    assert!(
        matches!(after, Ok(0)),
        "after the answer, the connection's end: got {after:?} (a kept-alive connection left \
         open for another request)\n{}",
        server.stderr()
    );
    let status = server.wait_exit().expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}
