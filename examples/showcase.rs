//! The rest of the API in one application: route arguments, query args, json_args, typed
//! bodies, headers, every cookie option, app and handler hooks, default headers, redirects,
//! text/bytes/streamed replies, 204, panics, a slow handler (for load tests), a handler that
//! prints to stdout (`/print`: the line goes to the log, not into the answer) and `/echo`, which
//! returns everything the request carried. The integration and end-to-end tests drive it.
//!
//! `cargo run --example showcase -- request GET '/hello/ada?greeting=hi'`

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pycnic::pycnic_names::HTTP_403;
use pycnic::{App, Cookie, Handler, HttpError, Json, Reply, Request, Response, SameSite};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `GET /echo`: everything the request carried, as the handler sees it.
struct Echo;

impl Echo {
    fn any(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({
            "method": req.method(),
            "path": req.path(),
            "args": req.args(),
            "args_all": req.args().iter().map(|(k, _)| (k.to_string(), req.args().get_all(k))).collect::<std::collections::BTreeMap<_, _>>(),
            "cookies": req.cookies(),
            "headers": req.headers(),
            "body": String::from_utf8_lossy(req.body()),
            "body_length": req.body().len(),
            "ip": req.ip(),
            "authorization": req.get_header("Authorization"),
        }))
    }
}

/// `GET /hello/<name>[/<greeting>]`: route arguments by position, an unmatched group is None.
struct Hello;

impl Hello {
    fn get(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        let greeting = req
            .route_arg(1)
            .or(req.args().get("greeting"))
            .unwrap_or("hello");
        Ok(json!({ "greeting": format!("{greeting}, {}", req.route_arg(0).unwrap_or("")) }))
    }
}

#[derive(Deserialize, Serialize)]
struct NewUser {
    name: String,
    age: u8,
}

/// `POST /users`: a typed body (400 naming the field when it does not fit), 201, a header.
struct Users {
    next_id: AtomicU64,
}

impl Users {
    fn post(&self, req: &Request, res: &mut Response) -> Result<Json<Value>, HttpError> {
        let user: NewUser = req.data_as()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        res.set_status(201);
        res.set_header("Location", &format!("/users/{id}"))?;
        Ok(Json(json!({"id": id, "user": user})))
    }

    fn get(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({"filter": req.json_args()?}))
    }
}

/// `/cookies`: every Set-Cookie option; each cookie is its own header line. `?fail=1` sets
/// them and a header, then fails: the error answer carries none of them.
struct Cookies;

impl Cookies {
    fn post(&self, req: &Request, res: &mut Response) -> Result<Value, HttpError> {
        res.set_cookie("plain", "1")?;
        res.add_cookie(
            Cookie::new("full", "2")
                .expires("Wed, 21 Oct 2037 07:28:00 GMT")
                .path("/app")
                .domain("example.test")
                .max_age(3600)
                .secure()
                .http_only()
                .same_site(SameSite::Lax),
        )?;
        res.add_cookie(Cookie::new("flagged", "3").flag("Partitioned"))?;
        res.set_cookie("plain", "last wins")?;
        if req.args().get("fail").is_some() {
            // An error drops what the handler set: neither the cookies nor this header go out.
            res.set_header("X-Cookies", "set")?;
            return Err(HttpError::new(409, "Cookies set, then refused"));
        }
        Ok(json!({"set": 3}))
    }

    fn delete(&self, _req: &Request, res: &mut Response) -> Result<Value, HttpError> {
        res.delete_cookie("plain")?;
        res.delete_cookie_at("full", "/app", "example.test")?;
        Ok(json!({"deleted": 2}))
    }
}

/// `/redirect`: a Location with an explicit status (Apache turns a bare Location into 200).
struct Redirect;

impl Redirect {
    fn get(&self, req: &Request, res: &mut Response) -> Result<(), HttpError> {
        let to = req.args().get("to").unwrap_or("/hello/world");
        res.set_status(302);
        res.set_header("Location", to)?;
        Ok(())
    }
}

/// `/admin`: a handler `before` hook that refuses without a token; `after` adds a header.
struct Admin;

impl Admin {
    fn check(&self, req: &Request, _res: &mut Response) -> Result<(), HttpError> {
        match req.get_header("X-Token") {
            Some("secret") => Ok(()),
            _ => Err(HTTP_403("Token required").with_data(json!({"header": "X-Token"}))),
        }
    }
    fn get(&self, _req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        Ok(json!({"admin": true}))
    }
    fn stamp(&self, _req: &Request, res: &mut Response) -> Result<(), HttpError> {
        res.set_header("X-Admin-Checked", "yes")?;
        Ok(())
    }
}

/// `/text`, `/bytes`, `/stream`, `/empty`, `/panic`, `/slow`: the other kinds of answer.
struct Misc;

impl Misc {
    fn text(&self, _req: &Request, res: &mut Response) -> Result<String, HttpError> {
        res.set_header("Content-Type", "text/plain; charset=utf-8")?;
        Ok("plain text, sent verbatim\n".to_string())
    }
    fn bytes(&self, _req: &Request, res: &mut Response) -> Result<Vec<u8>, HttpError> {
        res.set_header("Content-Type", "application/octet-stream")?;
        Ok((0u8..=255).collect())
    }
    fn stream(&self, req: &Request, res: &mut Response) -> Result<Reply, HttpError> {
        let chunks: u64 = req
            .args()
            .get("chunks")
            .and_then(|n| n.parse().ok())
            .unwrap_or(5);
        let delay = Duration::from_millis(
            req.args()
                .get("ms")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        );
        res.set_header("Content-Type", "text/plain")?;
        Ok(Reply::stream((0..chunks.min(10_000)).map(move |i| {
            std::thread::sleep(delay);
            format!("chunk {i}\n").into_bytes()
        })))
    }
    fn empty(&self, _req: &Request, res: &mut Response) -> Result<Value, HttpError> {
        res.set_status(204);
        Ok(json!({"ignored": "204 has no body"}))
    }
    fn panic(&self, _req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        panic!("the showcase panics on purpose")
    }
    fn print(&self, _req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        println!("a stray line printed by the showcase's /print handler");
        Ok(json!({"printed": true}))
    }
    fn slow(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
        let ms: u64 = req
            .args()
            .get("ms")
            .and_then(|n| n.parse().ok())
            .unwrap_or(100);
        std::thread::sleep(Duration::from_millis(ms.min(60_000)));
        Ok(json!({"slept": ms}))
    }
}

fn app() -> App {
    let debug = std::env::var_os("SHOWCASE_DEBUG").is_some();
    let trusted_proxy = std::env::var_os("SHOWCASE_TRUSTED_PROXY").is_some();
    App::new()
        .route(
            "/echo(?:/.*)?",
            Handler::new(Echo)
                .get(Echo::any)
                .post(Echo::any)
                .put(Echo::any)
                .delete(Echo::any)
                .patch(Echo::any),
        )
        .route(
            r"/hello/([^/]+)(?:/([^/]+))?",
            Handler::new(Hello).get(Hello::get),
        )
        .route(
            "/users",
            Handler::new(Users {
                next_id: AtomicU64::new(1),
            })
            .get(Users::get)
            .post(Users::post),
        )
        .route(
            "/cookies",
            Handler::new(Cookies)
                .post(Cookies::post)
                .delete(Cookies::delete),
        )
        .route("/redirect", Handler::new(Redirect).get(Redirect::get))
        .route(
            "/admin",
            Handler::new(Admin)
                .before(Admin::check)
                .get(Admin::get)
                .after(Admin::stamp),
        )
        .route("/text", Handler::new(Misc).named("Text").get(Misc::text))
        .route("/bytes", Handler::new(Misc).named("Bytes").get(Misc::bytes))
        .route(
            "/stream",
            Handler::new(Misc).named("Stream").get(Misc::stream),
        )
        .route("/empty", Handler::new(Misc).named("Empty").get(Misc::empty))
        .route("/panic", Handler::new(Misc).named("Panic").get(Misc::panic))
        .route("/slow", Handler::new(Misc).named("Slow").get(Misc::slow))
        .route("/print", Handler::new(Misc).named("Print").get(Misc::print))
        .before(|req, _res| match req.get_header("X-Block") {
            Some(_) => Err(HttpError::new(418, "Blocked by the app's before hook")),
            None => Ok(()),
        })
        .after(|_req, res| {
            res.set_header("X-Handled-By", "showcase")?;
            Ok(())
        })
        .teardown(|req, res| log::debug!("{} {} -> {}", req.method(), req.path(), res.status()))
        .debug(debug)
        .trusted_proxy(trusted_proxy)
        .header("Access-Control-Allow-Origin", "*")
}

fn main() -> ExitCode {
    pycnic::run!(app())
}
