//! Tests of `request.rs`.

use crate::params::Params;

#[test]
fn method_and_path_are_read_in_place_and_headers_and_cookies_on_first_use() {
    use super::PathText;
    use std::borrow::Cow;
    let params: Params = [
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/login/?x=1"),
        ("HTTP_COOKIE", "session_id=abc"),
        ("HTTP_X_FORWARDED_FOR", "10.0.0.1"),
    ]
    .into_iter()
    .collect();
    let mut req = build_request(params, Vec::new());
    assert!(
        matches!(req.method, Cow::Borrowed("GET")),
        "a known method is not copied"
    );
    assert!(matches!(req.path, PathText::InEnviron(_)), "{:?}", req.path);
    assert_eq!(req.path(), "/login/");
    req.truncate_path(6);
    assert_eq!(req.path(), "/login");
    assert!(req.headers.get().is_none() && req.cookies.get().is_none());
    assert_eq!(req.get_header("x-forwarded-for"), Some("10.0.0.1"));
    assert_eq!(req.cookies().get("session_id"), Some("abc"));
    assert!(req.headers.get().is_some() && req.cookies.get().is_some());

    let mut decoded = build_request(
        [("REQUEST_URI", "/a%2Fb/")].into_iter().collect(),
        Vec::new(),
    );
    assert!(matches!(decoded.path, PathText::Own(Cow::Owned(_))));
    decoded.truncate_path(4);
    assert_eq!(decoded.path(), "/a/b");
    let mut bare = build_request(Params::new(), Vec::new());
    assert_eq!(bare.path(), "/");
    bare.truncate_path(0);
    assert_eq!(bare.path(), "");
}

use serde::Deserialize;

use crate::gateway::build_request;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Item {
    qty: u8,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Address {
    zip: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct User {
    name: String,
    age: u8,
    address: Option<Address>,
    #[serde(default)]
    items: Vec<Item>,
}

#[test]
fn typed_body_400_names_the_field_even_when_it_is_missing() {
    let cases = [
        ("wrong type", r#"{"name":"a","age":"x"}"#, "age"),
        ("missing top-level field", r#"{"name":"a"}"#, "age"),
        (
            "missing nested field",
            r#"{"name":"a","age":1,"address":{}}"#,
            "address.zip",
        ),
        (
            "wrong type in a list",
            r#"{"name":"a","age":1,"items":[{"qty":-1}]}"#,
            "items[0].qty",
        ),
        ("a list is read by position", "[1]", "[0]"),
        ("not an object", r#""text""#, "."),
    ];
    for (case, body, field) in cases {
        let request = build_request(crate::params::Params::new(), body.as_bytes().to_vec());
        let err = request.data_as::<User>().expect_err(case);
        assert_eq!(err.status(), 400, "{case}: status");
        let body = err.body();
        assert_eq!(body["data"]["field"], field, "{case}: data.field");
        let message = body["error"].as_str().unwrap_or_default().to_string();
        assert!(
            message.starts_with(&format!("Invalid request data at {field}: ")),
            "{case}: message {message:?}"
        );
    }
}
