//! The last answer on a connection of a draining process: the peer finds the connection's end
//! as soon as it has read the answer (that both leave in one segment needs a packet capture;
//! not checked here); a connection with bytes waiting unread is not ended, and what was held
//! is let out.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};

use super::*;

/// A loopback TCP connection: our end as the server holds it, and the web server's.
fn pair() -> (Stream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let theirs = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (ours, _) = listener.accept().expect("accept");
    ours.set_nonblocking(true).expect("non-blocking");
    ours.set_nodelay(true).expect("TCP_NODELAY");
    (Stream::Tcp(mio::net::TcpStream::from_std(ours)), theirs)
}

#[test]
fn the_last_answer_is_followed_by_the_connections_end() {
    let (ours, mut theirs) = pair();
    hold_last(&ours);
    assert_eq!(write_now(&ours, b"the answer").expect("write"), 10);
    assert!(end(&ours), "nothing waits unread: the connection is ended");
    let mut answer = [0u8; 10];
    theirs.read_exact(&mut answer).expect("the answer");
    assert_eq!(&answer, b"the answer");
    theirs.set_nonblocking(true).expect("non-blocking");
    let after = theirs.read(&mut [0u8; 1]);
    assert!(matches!(after, Ok(0)), "no end after the answer: {after:?}");
}

#[test]
fn a_connection_with_a_request_waiting_unread_is_not_ended() {
    let (ours, mut theirs) = pair();
    theirs.write_all(b"next request").expect("send");
    // Bounded: the bytes cross loopback at once; a few peeks see them.
    let mut waiting = false;
    for _ in 0..1000 {
        let mut byte = [0u8; 1];
        let Stream::Tcp(tcp) = &ours else {
            unreachable!("a TCP pair");
        };
        match tcp.peek(&mut byte) {
            Ok(n) if n > 0 => {
                waiting = true;
                break;
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
            other => panic!("peek: {other:?}"),
        }
    }
    assert!(waiting, "the request never arrived");
    hold_last(&ours);
    assert_eq!(write_now(&ours, b"the answer").expect("write"), 10);
    assert!(!end(&ours), "ended with a request waiting unread");
    release(&ours);
    let mut answer = [0u8; 10];
    theirs.read_exact(&mut answer).expect("the answer, let out");
    theirs.set_nonblocking(true).expect("non-blocking");
    let after = theirs.read(&mut [0u8; 1]);
    assert!(
        matches!(&after, Err(err) if err.kind() == ErrorKind::WouldBlock),
        "the connection stays open for the next answer: {after:?}"
    );
}
