//! Unit tables for `App::handle`: hook order, error and panic answers, header order, HEAD,
//! OPTIONS, 405, bodiless statuses, reply kinds, debug output.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::*;
use crate::gateway::build_request;
use crate::handler::Handler;

fn request(method: &str, uri: &str, extra: &[(&str, &str)], body: &str) -> Request {
    let mut params = vec![
        (b"REQUEST_METHOD".to_vec(), method.as_bytes().to_vec()),
        (b"REQUEST_URI".to_vec(), uri.as_bytes().to_vec()),
    ];
    for (n, v) in extra {
        params.push((n.as_bytes().to_vec(), v.as_bytes().to_vec()));
    }
    build_request(params.into_iter().collect(), body.as_bytes().to_vec())
}

fn body_json(res: &HttpResponse) -> Value {
    serde_json::from_slice(res.body_bytes().unwrap_or_default()).unwrap()
}

fn names(res: &HttpResponse) -> Vec<&str> {
    res.headers.iter().map(|(n, _)| n.as_str()).collect()
}

struct Recorder(Arc<Mutex<Vec<&'static str>>>);

impl Recorder {
    fn push(&self, what: &'static str) {
        self.0.lock().unwrap().push(what);
    }
    fn get(&self, _: &Request, _: &mut Response) -> Result<Value, HttpError> {
        self.push("method");
        Ok(json!({}))
    }
    fn fail(&self, _: &Request, _: &mut Response) -> Result<Value, HttpError> {
        self.push("method");
        Err(HttpError::new(409, "conflict"))
    }
    fn boom(&self, _: &Request, _: &mut Response) -> Result<Value, HttpError> {
        self.push("method");
        panic!("boom")
    }
}

fn recording_app(log: &Arc<Mutex<Vec<&'static str>>>) -> App {
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    App::new()
        .route(
            "/ok",
            Handler::new(Recorder(log.clone()))
                .before(|r, _, _| {
                    r.push("handler.before");
                    Ok(())
                })
                .get(Recorder::get)
                .after(|r, _, _| {
                    r.push("handler.after");
                    Ok(())
                }),
        )
        .route(
            "/fail",
            Handler::new(Recorder(log.clone())).get(Recorder::fail),
        )
        .route(
            "/boom",
            Handler::new(Recorder(log.clone())).get(Recorder::boom),
        )
        .before(move |_, _| {
            l1.lock().unwrap().push("app.before");
            Ok(())
        })
        .after(move |_, _| {
            l2.lock().unwrap().push("app.after");
            Ok(())
        })
        .teardown(move |_, _| l3.lock().unwrap().push("teardown"))
}

#[test]
fn hooks_run_in_pycnic_order_and_teardown_always_runs() {
    let cases: [(&str, u16, &[&str]); 4] = [
        (
            "/ok",
            200,
            &[
                "app.before",
                "handler.before",
                "method",
                "handler.after",
                "app.after",
                "teardown",
            ],
        ),
        ("/fail", 409, &["app.before", "method", "teardown"]),
        ("/boom", 500, &["app.before", "method", "teardown"]),
        ("/missing", 404, &["app.before", "teardown"]),
    ];
    for (path, status, order) in cases {
        let log = Arc::new(Mutex::new(Vec::new()));
        let res = recording_app(&log).handle(request("GET", path, &[], ""));
        assert_eq!(res.status, status, "{path}");
        assert_eq!(*log.lock().unwrap(), order, "{path}");
    }
}

#[test]
fn a_hook_error_ends_the_request_with_that_error() {
    let app = App::new()
        .route(
            "/x",
            Handler::new(()).get(|_, _, _| Ok(json!({"reached": true}))),
        )
        .before(|req, _| match req.get_header("X-Deny") {
            Some(_) => Err(HttpError::new(403, "denied")),
            None => Ok(()),
        });
    let denied = app.handle(request("GET", "/x", &[("HTTP_X_DENY", "1")], ""));
    assert_eq!(denied.status, 403, "app.before error");
    assert_eq!(body_json(&denied)["error"], "denied");
    let allowed = app.handle(request("GET", "/x", &[], ""));
    assert_eq!(
        body_json(&allowed),
        json!({"reached": true}),
        "no hook error"
    );
}

#[test]
fn a_panicking_teardown_is_logged_and_does_not_change_the_answer() {
    let app = App::new()
        .route("/x", Handler::new(()).get(|_, _, _| Ok(json!({"ok": 1}))))
        .teardown(|_, _| panic!("teardown fails"));
    let res = app.handle(request("GET", "/x", &[], ""));
    assert_eq!((res.status, body_json(&res)), (200, json!({"ok": 1})));
}

fn header_app() -> App {
    App::new()
        .route(
            "/x",
            Handler::new(())
                .get(|_, _, res| {
                    res.set_header("X-Handler", "h")?;
                    res.set_cookie("a", "1")?;
                    res.set_cookie("b", "2")?;
                    res.set_cookie("a", "3")?;
                    Ok(json!({"ok": true}))
                })
                .post(|_, _, res| {
                    res.set_header("X-Handler", "h")?;
                    res.set_cookie("a", "1")?;
                    Err::<Value, _>(HttpError::new(400, "bad").with_header("X-Error", "e")?)
                })
                .put(|_, _, res| {
                    res.set_header("X-Handler", "h")?;
                    panic!("uncaught");
                    #[allow(unreachable_code)]
                    Ok(json!({}))
                }),
        )
        .header("X-App", "app")
}

#[test]
fn success_headers_are_content_type_handler_cookies_app_then_length() {
    let res = header_app().handle(request("GET", "/x", &[], ""));
    assert_eq!(
        names(&res),
        [
            "Content-Type",
            "X-Handler",
            "Set-Cookie",
            "Set-Cookie",
            "X-App",
            "Content-Length"
        ]
    );
    let cookies: Vec<_> = res
        .headers
        .iter()
        .filter(|(n, _)| n == "Set-Cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        cookies,
        ["a=3; Path=/", "b=2; Path=/"],
        "same name twice: last value, first position"
    );
}

#[test]
fn an_http_error_drops_handler_headers_and_cookies_but_keeps_app_and_error_headers() {
    let res = header_app().handle(request("POST", "/x", &[], ""));
    assert_eq!(res.status, 400);
    assert_eq!(
        names(&res),
        ["Content-Type", "X-App", "X-Error", "Content-Length"]
    );
    assert_eq!(
        body_json(&res),
        json!({"status": "400 Bad Request", "status_code": 400, "error": "bad", "data": null})
    );
}

#[test]
fn a_panic_is_a_bare_500_without_app_headers() {
    let res = header_app().handle(request("PUT", "/x", &[], ""));
    assert_eq!(res.status, 500);
    assert_eq!(names(&res), ["Content-Type", "Content-Length"]);
    assert_eq!(
        body_json(&res),
        json!({"error": "Internal server error encountered."})
    );
}

#[test]
fn debug_mode_pretty_prints_with_four_spaces_and_shows_panic_lines() {
    let app = header_app().debug(true);
    let ok = app.handle(request("GET", "/x", &[], ""));
    assert_eq!(
        ok.body_bytes().unwrap(),
        b"{\n    \"ok\": true\n}",
        "pretty success"
    );
    let res = app.handle(request("PUT", "/x", &[], ""));
    let lines = body_json(&res)["error"].as_array().cloned().unwrap();
    assert!(
        lines[0].as_str().unwrap().ends_with(": uncaught"),
        "{lines:?}"
    );
}

#[test]
fn methods_dispatch_and_refuse_with_allow() {
    let app = App::new()
        .route(
            "/r",
            Handler::new(())
                .named("R")
                .get(|_, _, _| Ok(json!({"m": "get"})))
                .post(|_, _, _| Ok(json!({"m": "post"}))),
        )
        .route(
            "/custom",
            Handler::new(()).options(|_, _, res| {
                res.set_header("Allow", "GET")?;
                Ok(json!({"custom": true}))
            }),
        );
    let cases: [(&str, &str, u16, Value, Option<&str>); 8] = [
        ("get", "/r", 200, json!({"m": "get"}), None),
        ("POST", "/r", 200, json!({"m": "post"}), None),
        (
            "DELETE",
            "/r",
            405,
            json!("DELETE not allowed"),
            Some("GET, HEAD, POST, OPTIONS"),
        ),
        (
            "PROPFIND",
            "/r",
            405,
            json!("PROPFIND not allowed"),
            Some("GET, HEAD, POST, OPTIONS"),
        ),
        (
            "OPTIONS",
            "/r",
            200,
            json!({}),
            Some("GET, HEAD, POST, OPTIONS"),
        ),
        (
            "OPTIONS",
            "/custom",
            200,
            json!({"custom": true}),
            Some("GET"),
        ),
        (
            "GET",
            "/custom",
            405,
            json!("GET not allowed"),
            Some("OPTIONS"),
        ),
        ("GET", "/r/", 200, json!({"m": "get"}), None),
    ];
    for (method, path, status, want, allow) in cases {
        let res = app.handle(request(method, path, &[], ""));
        let case = format!("{method} {path}");
        assert_eq!(res.status, status, "{case}");
        let body = body_json(&res);
        let got = if status == 405 {
            body["error"].clone()
        } else {
            body
        };
        assert_eq!(got, want, "{case}");
        assert_eq!(res.header("Allow"), allow, "{case}");
    }
}

#[test]
fn head_runs_get_and_keeps_its_length_without_a_body() {
    let app = App::new()
        .route("/g", Handler::new(()).get(|_, _, _| Ok(json!({"k": "v"}))))
        .route(
            "/h",
            Handler::new(())
                .get(|_, _, _| Ok(json!({})))
                .head(|_, _, res| {
                    res.set_header("X-Head", "own")?;
                    Ok(json!({"x": 1}))
                }),
        );
    let res = app.handle(request("HEAD", "/g", &[], ""));
    assert_eq!(
        (res.status, res.header("Content-Length")),
        (200, Some("9")),
        "HEAD /g"
    );
    assert_eq!(res.body_bytes(), Some(&b""[..]), "HEAD /g body");
    let own = app.handle(request("HEAD", "/h", &[], ""));
    assert_eq!(own.header("X-Head"), Some("own"), "HEAD /h runs head()");
}

#[test]
fn bodiless_statuses_send_no_body_and_no_length() {
    for status in [204u16, 304] {
        let app = App::new().route(
            "/x",
            Handler::new(status).get(|s, _, res| {
                res.set_status(*s);
                Ok(json!({"dropped": true}))
            }),
        );
        let res = app.handle(request("GET", "/x", &[], ""));
        assert_eq!(res.status, status);
        assert_eq!(res.body_bytes(), Some(&b""[..]), "{status}");
        assert_eq!(res.header("Content-Length"), None, "{status}");
    }
}

#[test]
fn any_status_code_is_sent_as_is() {
    let app = App::new().route(
        "/x",
        Handler::new(()).get(|_, _, res| {
            res.set_status(577);
            Ok(json!({}))
        }),
    );
    assert_eq!(app.handle(request("GET", "/x", &[], "")).status, 577);
}

#[test]
fn strip_path_can_be_turned_off() {
    let app = App::new()
        .route("/x", Handler::new(()).get(|_, _, _| Ok(json!({}))))
        .strip_path(false);
    let res = app.handle(request("GET", "/x/", &[], ""));
    assert_eq!(
        (res.status, body_json(&res)["error"].clone()),
        (404, json!("Path /x/ not found"))
    );
}

#[test]
fn reply_kinds_are_sent_as_documented() {
    use std::collections::HashMap;
    let app = App::new()
        .route(
            "/text",
            Handler::new(()).get(|_, _, _| Ok("verbatim \"text\"")),
        )
        .route("/bytes", Handler::new(()).get(|_, _, _| Ok(vec![0u8, 255])))
        .route(
            "/typed",
            Handler::new(()).get(|_, _, _| Ok(crate::Json(vec![1, 2]))),
        )
        .route(
            "/unserializable",
            Handler::new(()).get(|_, _, _| {
                let map: HashMap<(i32, i32), i32> = HashMap::from([((1, 2), 3)]);
                Ok(crate::Json(map))
            }),
        )
        .route(
            "/stream",
            Handler::new(()).get(|_, _, _| Ok(Reply::stream(vec![b"a".to_vec(), b"b".to_vec()]))),
        );
    let cases: [(&str, u16, Option<&[u8]>); 4] = [
        ("/text", 200, Some(b"verbatim \"text\"")),
        ("/bytes", 200, Some(&[0, 255])),
        ("/typed", 200, Some(b"[1,2]")),
        (
            "/unserializable",
            500,
            Some(br#"{"error":"Internal server error encountered."}"#),
        ),
    ];
    for (path, status, body) in cases {
        let res = app.handle(request("GET", path, &[], ""));
        assert_eq!((res.status, res.body_bytes()), (status, body), "{path}");
    }
    let stream = app.handle(request("GET", "/stream", &[], ""));
    assert!(
        matches!(stream.body, Body::Stream(_)),
        "stream stays a stream"
    );
    assert_eq!(
        stream.header("Content-Length"),
        None,
        "a stream has no length"
    );
}

#[test]
fn request_data_args_and_ip_follow_pycnic() {
    #[derive(serde::Deserialize)]
    struct Creds {
        #[allow(dead_code)]
        username: String,
    }
    let app = App::new().route(
        "/x",
        Handler::new(()).post(|_, req, _| {
            let typed = req
                .data_as::<Creds>()
                .map(|_| "ok")
                .map_err(HttpError::into_message);
            Ok(json!({
                "data": req.data().cloned().map_err(HttpError::into_message),
                "typed": typed,
                "json_args": req.json_args().map_err(HttpError::into_message),
                "ip": req.ip(),
            }))
        }),
    );
    let xff = [
        ("REMOTE_ADDR", "10.0.0.9"),
        ("HTTP_X_FORWARDED_FOR", "1.1.1.1, 2.2.2.2"),
    ];
    let cases: [(&str, &str, &str, Value); 4] = [
        (
            "empty body",
            "/x",
            "",
            json!({"data": {"Ok": {}}, "typed": {"Err": "Invalid request data at username: missing field `username`"}, "json_args": {"Ok": {}}, "ip": "10.0.0.9"}),
        ),
        (
            "bad body",
            "/x?json=%7B%22a%22%3A1%7D",
            "{bad",
            json!({"data": {"Err": "Expected JSON in request body"}, "typed": {"Err": "Expected JSON in request body"}, "json_args": {"Ok": {"a": 1}}, "ip": "10.0.0.9"}),
        ),
        (
            "typed mismatch",
            "/x?json=%7Bbad",
            r#"{"username": 5}"#,
            json!({"data": {"Ok": {"username": 5}}, "typed": {"Err": "Invalid request data at username: invalid type: integer `5`, expected a string"}, "json_args": {"Err": "Invalid JSON in request query string"}, "ip": "10.0.0.9"}),
        ),
        (
            "good",
            "/x",
            r#"{"username": "u"}"#,
            json!({"data": {"Ok": {"username": "u"}}, "typed": {"Ok": "ok"}, "json_args": {"Ok": {}}, "ip": "10.0.0.9"}),
        ),
    ];
    for (case, uri, body, want) in cases {
        let res = app.handle(request("POST", uri, &xff, body));
        assert_eq!(body_json(&res), want, "{case}");
    }
    let trusting = App::new()
        .route("/x", Handler::new(()).get(|_, req, _| Ok(json!(req.ip()))))
        .trusted_proxy(true);
    let res = trusting.handle(request("GET", "/x", &xff, ""));
    assert_eq!(
        body_json(&res),
        json!("2.2.2.2"),
        "trusted proxy: last X-Forwarded-For entry"
    );
}

#[test]
fn json_only_refuses_a_body_of_another_type_with_415_and_keeps_the_rest() {
    let app = App::new()
        .route(
            "/x",
            Handler::new(()).post(|_, _, _| Ok(json!({"ran": true}))),
        )
        .json_only();
    let call = |content_type: Option<&str>, body: &str| {
        let extra: Vec<(&str, &str)> = content_type
            .map(|t| vec![("CONTENT_TYPE", t)])
            .unwrap_or_default();
        app.handle(request("POST", "/x", &extra, body))
    };
    for refused in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let res = call(refused, r#"{"a":1}"#);
        assert_eq!(res.status, 415, "{refused:?}");
        assert_eq!(
            body_json(&res)["error"],
            "The request body must be JSON (Content-Type: application/json)"
        );
    }
    assert_eq!(
        call(Some("application/json; charset=utf-8"), r#"{"a":1}"#).status,
        200
    );
    assert_eq!(
        call(Some("text/plain"), "").status,
        200,
        "no body, nothing to refuse"
    );
    let default = App::new().route("/x", Handler::new(()).post(|_, _, _| Ok(json!({}))));
    let res = default.handle(request(
        "POST",
        "/x",
        &[("CONTENT_TYPE", "text/plain")],
        "{}",
    ));
    assert_eq!(
        res.status, 200,
        "off by default: Pycnic reads any body as JSON"
    );
}
