//! Tests of `response.rs`.

use super::*;

#[test]
fn a_recycled_answer_s_buffers_serve_the_next_one_on_the_thread() {
    let mut headers = Vec::with_capacity(8);
    headers.push(("X-Old".into(), "1".into()));
    let body = Vec::with_capacity(256);
    let (header_buffer, body_buffer) = (headers.as_ptr(), body.as_ptr());
    recycle(HttpResponse {
        status: 200,
        headers,
        body: Body::Full(body),
    });
    let response = Response::new();
    let listed: Vec<_> = response.headers().iter().collect();
    assert_eq!(
        listed,
        [("Content-Type", "application/json")],
        "a fresh list"
    );
    let entries = response.into_parts().1.into_entries();
    assert_eq!(entries.as_ptr(), header_buffer, "the same buffer");
    let body = crate::spare::body(128);
    assert!(body.is_empty() && body.capacity() >= 256);
    assert_eq!(body.as_ptr(), body_buffer, "the same buffer");
    assert_eq!(crate::spare::body(0).capacity(), 0, "taken once");
}

#[test]
fn large_buffers_are_not_kept() {
    recycle(HttpResponse {
        status: 200,
        headers: Vec::with_capacity(crate::spare::HEADER_LINES + 1),
        body: Body::Full(Vec::with_capacity(crate::spare::BODY_BYTES + 1)),
    });
    assert_eq!(crate::spare::body(0).capacity(), 0);
    let entries = Response::new().into_parts().1.into_entries();
    assert!(entries.capacity() <= crate::spare::HEADER_LINES);
}
