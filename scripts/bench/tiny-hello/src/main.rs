//! A minimal tiny_http server answering every request with the seed's `GET /login` answer
//! (`{"session_id":null}`), on the address given as the only argument.

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8001".into());
    let server = tiny_http::Server::http(&addr).expect("listen");
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
        .expect("a header");
    for request in server.incoming_requests() {
        let response = tiny_http::Response::from_string(r#"{"session_id":null}"#)
            .with_header(header.clone());
        let _ = request.respond(response);
    }
}
