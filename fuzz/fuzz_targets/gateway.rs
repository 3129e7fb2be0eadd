//! The CGI gateway and the core behind it: arbitrary meta-variables and body bytes go through
//! `cgi::answer` (CONTENT_LENGTH handling, body limit), `App::handle` and `write_response`,
//! and the status and ping pages' reading of them (`ops`).
//! Input layout: NUL-separated fields, taken as name, value, name, value, …; the last field is
//! the body on stdin.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pycnic::{App, Handler, HttpError, Request, Response};
use serde_json::{Value, json};

fn echo(_: &(), req: &Request, res: &mut Response) -> Result<Value, HttpError> {
    if let Some(name) = req.args().get("cookie") {
        // Client-chosen cookie names and values must be refused or rendered safely.
        let _ = res.set_cookie(name, req.args().get("value").unwrap_or(""));
    }
    Ok(json!({
        "path": req.path(), "args": req.args(), "cookies": req.cookies(),
        "headers": req.headers(), "data": req.data()?, "json": req.json_args()?,
        "ip": req.ip(), "route": req.route_args(), "all": req.args().get_all("a"),
    }))
}

/// Built once: compiling the route regex on every input would dominate the run.
static APP: std::sync::OnceLock<App> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let app = APP.get_or_init(|| {
        App::new()
            .route(r"/(\w*)(?:/(.*))?", Handler::new(()).get(echo).post(echo))
            .header("X-App", "1")
    });
    let mut fields: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    let mut body = fields.pop().unwrap_or_default();
    let params = fields
        .chunks(2)
        .map(|pair| (pair[0].to_vec(), pair.get(1).copied().unwrap_or_default().to_vec()))
        .collect();
    // The runtime's own pages read the same params: the path rule is the gateway's.
    let pages = pycnic::ops::OpsPaths {
        status: Some("/status".into()),
        ping: Some("/ping".into()),
    };
    let _ = pages.page_for(&params);
    let _ = pycnic::ops::wants_prometheus(&params);
    let _ = pycnic::ops::cgi_answer(app, &params);
    let response = pycnic::cgi::answer(app, params, &mut body, 4096);
    let mut out = Vec::new();
    pycnic::gateway::write_response(response, &mut out).expect("writing to a Vec cannot fail");
    assert!(out.starts_with(b"Status: "));
});
