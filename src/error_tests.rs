//! Tests of `error.rs`.

use super::pycnic_names::*;
use super::*;
use serde_json::json;

#[test]
fn error_body_has_pycnic_shape_and_key_order() {
    let body = HTTP_400("Username and password are required").body();
    assert_eq!(
        serde_json::to_string(&body).unwrap(),
        r#"{"status":"400 Bad Request","status_code":400,"error":"Username and password are required","data":null}"#
    );
}

#[test]
fn named_constructors_carry_their_status() {
    let cases = [
        (HTTP_400("m"), 400),
        (HTTP_401("m"), 401),
        (HTTP_403("m"), 403),
        (HTTP_404("m"), 404),
        (HTTP_405("m"), 405),
        (HTTP_408("m"), 408),
        (HTTP_500("m"), 500),
        (HTTPError(418, "m"), 418),
        (HttpError::payload_too_large("m"), 413),
        (HttpError::service_unavailable("m"), 503),
    ];
    for (err, status) in cases {
        assert_eq!(err.status(), status, "{err}");
        assert_eq!(err.body()["status_code"], json!(status), "{err}");
    }
}

#[test]
fn any_code_is_kept_with_its_phrase_and_out_of_range_codes_become_500() {
    assert_eq!(HttpError::new(577, "x").body()["status"], json!("577"));
    assert_eq!(
        HttpError::new(422, "x").body()["status"],
        json!("422 Unprocessable Content")
    );
    assert_eq!(HttpError::new(99, "x").status(), 500);
    assert_eq!(HttpError::new(600, "x").status(), 500);
}

#[test]
fn data_and_headers_are_carried() {
    let err = HTTP_403("no")
        .with_data(json!({"need": "admin"}))
        .with_header("WWW-Authenticate", "Basic")
        .unwrap();
    assert_eq!(err.body()["data"], json!({"need": "admin"}));
    assert_eq!(err.headers().get("www-authenticate"), Some("Basic"));
    assert!(HTTP_403("no").with_header("X", "a\r\nb").is_err());
}

#[test]
fn an_error_is_one_pointer_so_handler_results_stay_small() {
    // clippy's `result_large_err` fires at 128 bytes; a user's handler returning
    // `Result<Value, HttpError>` must pass it with the default threshold.
    assert_eq!(
        std::mem::size_of::<HttpError>(),
        std::mem::size_of::<usize>()
    );
    let err = HTTP_404("gone").with_data(json!([1]));
    assert_eq!((err.status(), err.message()), (404, "gone"));
    assert_eq!(err.data(), &json!([1]));
    assert_eq!(err.into_message(), "gone");
}
