//! A request without `REQUEST_METHOD` is a broken invocation (RFC 3875 §4.1.12 says the server
//! must send it): both transports answer the same JSON 500 naming the variable, never a GET.

use crate::cgi;
use crate::fcgi_client;

use serde_json::json;

const MESSAGE: &str =
    "REQUEST_METHOD is missing or empty: the web server must send it (RFC 3875 §4.1.12)";

#[test]
fn cgi_without_request_method_answers_500_naming_it() {
    let run = cgi::Exec::cgi().env("REQUEST_URI", "/login").run();
    run.assert_clean_exit("no REQUEST_METHOD");
    let response = run.response("no REQUEST_METHOD");
    assert_eq!(response.status, 500);
    assert_eq!(
        response.assert_json_with_length("no REQUEST_METHOD"),
        cgi::error_body(500, "Internal Server Error", MESSAGE)
    );
}

#[test]
fn fastcgi_without_request_method_answers_the_same_500() {
    use fcgi_client::*;
    let server = Server::fastcgi(&pycnic_bin(), &[]);
    let mut client = server.connect();
    let params: Vec<_> = http_params("GET", "/login")
        .into_iter()
        .filter(|(name, _)| name != b"REQUEST_METHOD")
        .collect();
    let reply = client.request(1, true, &as_refs(&params), b"");
    assert_eq!(reply.status(), 500);
    assert_eq!(
        reply.json(),
        json!({"status": "500 Internal Server Error", "status_code": 500,
               "error": MESSAGE, "data": null})
    );
    assert_eq!(client.get("/login").status(), 200, "the connection goes on");
}
