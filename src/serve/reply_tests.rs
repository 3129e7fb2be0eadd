use super::*;

const KEEP: Framing = Framing {
    http_1_0: false,
    keep_alive: true,
};

#[test]
fn the_status_line_replaces_status_and_http_headers_are_added() {
    let cgi = b"Status: 201 Created\r\nContent-Type: application/json\r\n\r\n{}";
    let http = to_http(cgi, KEEP, UNIX_EPOCH).expect("a CGI answer");
    assert_eq!(
        String::from_utf8_lossy(&http),
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\
         Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 2\r\n\r\n{}"
    );
}

#[test]
fn a_closing_answer_says_so_and_bodiless_statuses_get_no_length() {
    let close = Framing {
        http_1_0: false,
        keep_alive: false,
    };
    let http = to_http(b"Status: 204 No Content\r\n\r\n", close, UNIX_EPOCH).expect("answer");
    let text = String::from_utf8_lossy(&http);
    assert!(text.ends_with("Connection: close\r\n\r\n"), "{text}");
    assert!(!text.contains("Content-Length"), "{text}");
    let ten = Framing {
        http_1_0: true,
        keep_alive: true,
    };
    let http = to_http(b"Status: 200 OK\r\n\r\nx", ten, UNIX_EPOCH).expect("answer");
    assert!(String::from_utf8_lossy(&http).contains("Connection: keep-alive\r\n"));
    assert!(to_http(b"HTTP/1.1 200 OK\r\n\r\n", KEEP, UNIX_EPOCH).is_none());
}

#[test]
fn http_dates_are_imf_fixdates() {
    let at = |secs| http_date(UNIX_EPOCH + std::time::Duration::from_secs(secs));
    assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_eq!(at(1_798_761_599), "Thu, 31 Dec 2026 23:59:59 GMT");
}

#[test]
fn a_streamed_answer_goes_out_chunked_as_the_gateway_writes_it() {
    let mut out = Vec::new();
    let mut chunked = ChunkedAnswer::new(&mut out, KEEP);
    chunked
        .write_all(b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        .expect("head");
    chunked.write_all(b"chunk 0\n").expect("chunk");
    chunked.write_all(b"").expect("an empty write is no chunk");
    chunked.write_all(b"chunk 1\n").expect("chunk");
    let written = chunked.finish().expect("finish");
    let text = String::from_utf8_lossy(&out);
    assert_eq!(written, out.len());
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: "),
        "{text}"
    );
    assert!(
        text.contains(
            "Transfer-Encoding: chunked\r\n\r\n8\r\nchunk 0\n\r\n8\r\nchunk 1\n\r\n0\r\n\r\n"
        ),
        "{text}"
    );
    assert!(!text.contains("Content-Length"), "{text}");
}
