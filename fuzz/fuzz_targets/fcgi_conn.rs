//! The connection state machine driven by a sequence of records (mostly well-formed, so the
//! fuzzer reaches deep states: keep-conn sequences, multiplexing, aborts, limits, discards),
//! with raw bytes, byte-at-a-time splits, finished responses and EOF mixed in. It never
//! panics; everything it writes is a sequence of complete, valid records; after an error it
//! is closed and hands out nothing more.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pycnic::fastcgi::conn::{ConnLimits, Connection, Event, Phase};
use pycnic::fastcgi::record::{Figures, parse_record};

const LIMITS: ConnLimits = ConnLimits {
    max_params_bytes: 512,
    max_params_count: 8,
    max_body: 300,
    figures: Figures { max_conns: 10, max_reqs: 10 },
};

/// Reads the fuzz input as a little program of records and actions.
struct Program<'a>(&'a [u8]);

impl Program<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn bytes(&mut self, len: usize) -> &[u8] {
        let (taken, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        taken
    }
}

fn record(record_type: u8, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
    let mut out = vec![1, record_type];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(&[padding, 0]);
    out.extend_from_slice(content);
    out.extend(std::iter::repeat_n(0, usize::from(padding)));
    out
}

fn check_output(conn: &mut Connection) {
    let mut out = conn.output();
    while !out.is_empty() {
        let (_, used) = parse_record(out).expect("valid record").expect("complete record");
        out = &out[used..];
    }
    let len = conn.output().len();
    conn.consume_output(len);
}

fuzz_target!(|data: &[u8]| {
    let mut conn = Connection::new(LIMITS);
    let mut program = Program(data);
    let mut failed = false;
    let mut byte_at_a_time = false;
    let mut taken = 0;
    while let Some(op) = program.byte() {
        let id = u16::from(program.byte().unwrap_or(1) % 3);
        let mut bytes = match op % 12 {
            0 => {
                let role = u16::from(program.byte().unwrap_or(1) % 4);
                let flags = program.byte().unwrap_or(1);
                let [r1, r0] = role.to_be_bytes();
                record(1, id, &[r1, r0, flags, 0, 0, 0, 0, 0], 0)
            }
            1 => record(2, id, b"", 0),
            2 | 3 => {
                let len = usize::from(program.byte().unwrap_or(0));
                let padding = program.byte().unwrap_or(0) % 9;
                record(4, id, program.bytes(len), padding)
            }
            4 | 5 => {
                let len = usize::from(program.byte().unwrap_or(0));
                record(5, id, program.bytes(len), 0)
            }
            6 => {
                let len = usize::from(program.byte().unwrap_or(0));
                record(9, 0, program.bytes(len), 0)
            }
            7 => {
                let len = usize::from(program.byte().unwrap_or(0) % 16);
                program.bytes(len).to_vec()
            }
            8 => {
                let record_type = program.byte().unwrap_or(0);
                record(record_type, id, b"", 0)
            }
            9 if id == 0 => {
                // The owner moves the body received so far elsewhere (a spill to disk).
                taken += conn.take_body().len();
                assert_eq!(conn.body_buffered(), 0);
                Vec::new()
            }
            9 => {
                byte_at_a_time = !byte_at_a_time;
                Vec::new()
            }
            10 => {
                // The owner finished the response it was asked for.
                let _ = conn.response_done();
                Vec::new()
            }
            _ => {
                if conn.receive_eof().is_err() {
                    failed = true;
                }
                assert_eq!(conn.phase(), Phase::Closed);
                Vec::new()
            }
        };
        if !conn.wants_input() {
            bytes.clear(); // the server stops reading while a response is owed
        }
        let pieces: Vec<&[u8]> = if byte_at_a_time {
            bytes.chunks(1).collect()
        } else {
            vec![&bytes[..]]
        };
        for piece in pieces {
            if conn.receive(piece).is_err() {
                failed = true;
                assert_eq!(conn.phase(), Phase::Closed);
            }
        }
        while let Some(event) = conn.next_event() {
            assert!(!failed, "no request after an error");
            match event {
                Event::Request(request) => {
                    assert!(taken + request.body.len() <= 300, "the limit counts taken bytes");
                    taken = 0;
                    assert!(request.params.len() <= 8);
                }
                Event::BodyTooLarge(request) => {
                    assert!(request.body.is_empty());
                    taken = 0;
                }
                Event::HeadersTooLarge(request, _) => {
                    assert!(request.body.is_empty() && request.params.is_empty())
                }
            }
        }
        if conn.phase() != Phase::Body {
            taken = 0; // aborted, closed, or handed out
        }
        check_output(&mut conn);
    }
});
