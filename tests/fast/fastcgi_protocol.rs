//! FastCGI protocol behaviour of the real binary over real sockets: keep-conn sequences,
//! management records, roles, multiplexing, aborts, duplicate params, bodies without
//! CONTENT_LENGTH, the body limit, large and streamed responses, panics.

use crate::fcgi_client::*;
use serde_json::json;

#[test]
fn keep_conn_answers_several_requests_on_one_connection() {
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    for round in 0..5u16 {
        let id = round % 2 + 1; // ids may be reused once a request has ended
        let params = http_params("GET", "/login");
        let mut params = as_refs(&params);
        let cookie = format!("session_id=s{round}");
        params.push((b"HTTP_COOKIE", cookie.as_bytes()));
        let reply = client.request(id, true, &params, b"");
        assert_eq!(reply.status(), 200, "round {round}");
        assert_eq!(
            reply.json(),
            json!({"session_id": format!("s{round}")}),
            "round {round}"
        );
        assert_eq!(
            reply.end,
            Some((0, 0)),
            "END_REQUEST(REQUEST_COMPLETE), round {round}"
        );
    }
}

#[test]
fn without_keep_conn_the_connection_closes_after_end_request() {
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    let params = http_params("GET", "/login");
    let reply = client.request(1, false, &as_refs(&params), b"");
    assert_eq!(reply.status(), 200);
    assert!(
        matches!(client.read_record(), Ok(None)),
        "closed after END_REQUEST"
    );
}

#[test]
fn get_values_answers_the_names_asked_with_real_figures() {
    let server = Server::fastcgi(&pycnic_bin(), &["--max-connections", "77"]);
    let mut client = server.connect();
    let query = pairs(&[
        (b"FCGI_MAX_CONNS", b""),
        (b"FCGI_MPXS_CONNS", b""),
        (b"NOT_A_VALUE", b""),
    ]);
    client.send(&record(GET_VALUES, 0, &query)).unwrap();
    let answer = client.read_record().unwrap().expect("a GET_VALUES_RESULT");
    assert_eq!(answer.record_type, GET_VALUES_RESULT);
    assert_eq!(
        answer.content,
        pairs(&[(b"FCGI_MAX_CONNS", b"77"), (b"FCGI_MPXS_CONNS", b"0")])
    );

    client
        .send(&record(GET_VALUES, 0, &pairs(&[(b"FCGI_MAX_REQS", b"")])))
        .unwrap();
    let answer = client.read_record().unwrap().expect("a second answer");
    assert_eq!(answer.content, pairs(&[(b"FCGI_MAX_REQS", b"77")]));
}

#[test]
fn unknown_management_type_gets_unknown_type_and_the_connection_goes_on() {
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    client.send(&record(42, 0, b"??")).unwrap();
    let answer = client.read_record().unwrap().expect("FCGI_UNKNOWN_TYPE");
    assert_eq!((answer.record_type, answer.content[0]), (UNKNOWN_TYPE, 42));
    assert_eq!(client.get("/login").status(), 200);
}

#[test]
fn authorizer_and_filter_roles_get_unknown_role() {
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    for (role, id) in [(AUTHORIZER, 3), (FILTER, 4)] {
        client.send(&begin(id, role, KEEP_CONN)).unwrap();
        client
            .send(&stream(
                PARAMS,
                id,
                &pairs(&[(b"REQUEST_METHOD", b"GET")]),
                100,
            ))
            .unwrap();
        client.send(&stream(STDIN, id, b"", 100)).unwrap();
        let reply = client.read_reply(id).unwrap();
        assert!(reply.stdout.is_empty(), "role {role}: no output");
        assert_eq!(
            reply.end,
            Some((0, 3)),
            "role {role}: END_REQUEST(UNKNOWN_ROLE)"
        );
    }
    assert_eq!(client.get("/login").status(), 200, "responder still served");
}

#[test]
fn second_begin_request_gets_cant_mpx_conn() {
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    let params = http_params("GET", "/login");
    client.send(&begin(1, RESPONDER, KEEP_CONN)).unwrap();
    client.send(&begin(2, RESPONDER, KEEP_CONN)).unwrap();
    let refused = client.read_reply(2).unwrap();
    assert_eq!(
        refused.end,
        Some((0, 1)),
        "END_REQUEST(CANT_MPX_CONN) for the second"
    );
    client
        .send(&stream(PARAMS, 1, &pairs(&as_refs(&params)), 1000))
        .unwrap();
    client.send(&stream(STDIN, 1, b"", 100)).unwrap();
    assert_eq!(
        client.read_reply(1).unwrap().status(),
        200,
        "the first goes on"
    );
}

#[test]
fn abort_request_stops_the_current_request_and_is_ignored_for_others() {
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    client.send(&begin(1, RESPONDER, KEEP_CONN)).unwrap();
    client.send(&record(ABORT_REQUEST, 5, b"")).unwrap();
    client
        .send(&record(PARAMS, 1, &pairs(&[(b"REQUEST_METHOD", b"GET")])))
        .unwrap();
    client.send(&record(ABORT_REQUEST, 1, b"")).unwrap();
    let aborted = client.read_reply(1).unwrap();
    assert!(
        aborted.stdout.is_empty(),
        "no response for an aborted request"
    );
    assert_eq!(aborted.end, Some((0, 0)));
    assert_eq!(client.get("/login").status(), 200, "next request answered");
}

#[test]
fn duplicate_cookie_params_both_reach_the_cookie_parser() {
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    let params = http_params("POST", "/logout");
    let mut params = as_refs(&params);
    params.push((b"HTTP_COOKIE", b"session_id=DELETED"));
    params.push((b"HTTP_COOKIE", b"theme=dark"));
    params.push((b"CONTENT_LENGTH", b"0"));
    let reply = client.request(1, true, &params, b"");
    assert_eq!(
        reply.json(),
        json!({"message": "Already logged out", "cookies": {"theme": "dark"}})
    );
}

#[test]
fn body_without_content_length_is_read_to_the_empty_stdin() {
    let server = Server::fastcgi(&showcase_bin(), &[]);
    let mut client = server.connect();
    let params = http_params("POST", "/echo");
    let mut params = as_refs(&params);
    params.push((b"CONTENT_LENGTH", b""));
    let body = vec![b'z'; 70_000];
    client.send(&begin(1, RESPONDER, KEEP_CONN)).unwrap();
    client
        .send(&stream(PARAMS, 1, &pairs(&params), 1000))
        .unwrap();
    client.send(&stream(STDIN, 1, &body, 4096)).unwrap();
    let reply = client.read_reply(1).unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json()["body_length"], json!(70_000));
}

#[test]
fn body_over_the_limit_gets_413_and_the_connection_carries_on() {
    let server = Server::fastcgi(&showcase_bin(), &["--max-body", "1000"]);
    let mut client = server.connect();
    for (case, declared) in [("declared", "5000"), ("undeclared", "")] {
        let params = http_params("POST", "/echo");
        let mut params = as_refs(&params);
        params.push((b"CONTENT_LENGTH", declared.as_bytes()));
        let reply = client.request(1, true, &params, &[b'x'; 5000]);
        assert_eq!(reply.status(), 413, "{case}");
        assert_eq!(
            reply.json()["status_code"],
            json!(413),
            "{case}: Pycnic error body"
        );
        assert_eq!(
            client.get("/echo").status(),
            200,
            "{case}: next request on the same connection"
        );
    }
}

#[test]
fn params_over_the_limits_get_431_and_the_connection_carries_on() {
    let server = Server::fastcgi(
        &showcase_bin(),
        &["--max-params-bytes", "2048", "--max-params", "40"],
    );
    let mut client = server.connect();
    let big_cookie = format!("big={}", "x".repeat(4000));
    let many: Vec<(Vec<u8>, Vec<u8>)> = (0..50)
        .map(|i| (format!("HTTP_X_{i}").into_bytes(), b"1".to_vec()))
        .collect();
    type Params = Vec<(Vec<u8>, Vec<u8>)>;
    let cases: [(&str, Params, &str); 2] = [
        (
            "bytes",
            vec![(b"HTTP_COOKIE".to_vec(), big_cookie.into_bytes())],
            "params over 2048 bytes",
        ),
        ("count", many, "more than 40 params"),
    ];
    for (case, extra, reason) in cases {
        let mut params = http_params("POST", "/echo");
        params.extend(extra);
        let reply = client.request(1, true, &as_refs(&params), b"{}");
        assert_eq!(reply.status(), 431, "{case}");
        assert_eq!(
            reply.json()["error"],
            json!(format!("Request headers are over the limit: {reason}")),
            "{case}: Pycnic error body"
        );
        assert_eq!(
            client.get("/echo").status(),
            200,
            "{case}: next request on the same connection"
        );
    }
}

#[test]
fn large_responses_are_split_into_records_of_at_most_65535_bytes() {
    let server = Server::fastcgi(&showcase_bin(), &[]);
    let mut client = server.connect();
    let params = http_params("POST", "/echo");
    let mut params = as_refs(&params);
    params.push((b"CONTENT_LENGTH", b"200000"));
    let reply = client.request(1, true, &params, &[b'a'; 200_000]);
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json()["body_length"], json!(200_000));
    let (end, data) = reply.stdout_records.split_last().unwrap();
    assert_eq!(*end, 0, "the stream ends with an empty record");
    assert!(data.len() >= 4, "{data:?}");
    assert!(data.iter().all(|len| *len <= 65535 && *len > 0), "{data:?}");
}

#[test]
fn streamed_responses_arrive_chunk_by_chunk() {
    let server = Server::fastcgi(&showcase_bin(), &[]);
    let mut client = server.connect();
    let reply = client.get("/stream?chunks=4");
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.body(), b"chunk 0\nchunk 1\nchunk 2\nchunk 3\n");
    assert!(
        reply.stdout_records.len() >= 5,
        "head and each chunk: {:?}",
        reply.stdout_records
    );
}

#[test]
fn a_panicking_handler_gets_500_and_the_server_carries_on() {
    let server = Server::fastcgi(&showcase_bin(), &[]);
    let mut client = server.connect();
    let reply = client.get("/panic");
    assert_eq!(reply.status(), 500);
    assert_eq!(
        reply.json(),
        json!({"error": "Internal server error encountered."})
    );
    assert_eq!(client.get("/echo").status(), 200, "same connection");
    assert_eq!(
        server.connect().get("/echo").status(),
        200,
        "new connection"
    );
}

#[test]
fn params_straddling_records_and_non_utf8_values_are_accepted() {
    let server = Server::fastcgi(&showcase_bin(), &[]);
    let mut client = server.connect();
    let params = http_params("GET", "/echo");
    let mut params = as_refs(&params);
    let long = vec![b'v'; 3000];
    params.push((b"HTTP_X_LONG", &long));
    params.push((b"DOCUMENT_URI", b"/echo\xff\xfe"));
    client.send(&begin(1, RESPONDER, 0)).unwrap();
    client.send(&stream(PARAMS, 1, &pairs(&params), 7)).unwrap(); // pairs cut everywhere
    client.send(&stream(STDIN, 1, b"", 1)).unwrap();
    let reply = client.read_reply(1).unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.json()["headers"]["X-Long"].as_str().map(str::len),
        Some(3000)
    );
}

#[test]
fn access_lines_go_to_stderr_with_access_log_dash_and_nowhere_by_default() {
    let server = Server::fastcgi(&pycnic_bin(), &["--access-log", "-"]);
    server.connect().get("/login?x=1");
    assert!(
        server.wait_for_log("\"GET /login?x=1"),
        "{}",
        server.stderr()
    );
    let line = server
        .stderr()
        .lines()
        .find(|l| l.contains("\"GET /login?x=1"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        line.contains("\" 200 "),
        "the status after the request: {line}"
    );
    // The line is written before the answer leaves: after the answer, it would be there.
    let quiet = Server::fastcgi(&pycnic_bin(), &[]);
    quiet.connect().get("/login?x=2");
    assert!(!quiet.stderr().contains("/login?x=2"), "{}", quiet.stderr());
}
