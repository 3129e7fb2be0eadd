//! The cross-origin rules as a table (Go 1.25's `CrossOriginProtection` cases in our words):
//! every method × each `Sec-Fetch-Site` value × a matching, mismatching and absent `Origin`,
//! plus trusted origins, exact-match exemptions, default ports and CORS headers.

use super::*;
use crate::gateway::build_request;

fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
    let mut params = vec![
        (b"REQUEST_METHOD".to_vec(), method.as_bytes().to_vec()),
        (b"REQUEST_URI".to_vec(), path.as_bytes().to_vec()),
        (b"HTTP_HOST".to_vec(), b"api.example:8080".to_vec()),
    ];
    for (n, v) in headers {
        params.push((n.as_bytes().to_vec(), v.as_bytes().to_vec()));
    }
    build_request(params.into_iter().collect(), Vec::new())
}

fn policy() -> OriginPolicy {
    OriginPolicy::new(OriginConfig {
        trusted: vec!["https://trusted.example".into()],
        cors: vec!["http://spa.example:3000".into()],
        exempt: vec!["/hook".into()],
        ..OriginConfig::default()
    })
    .unwrap()
}

const OWN: &str = "http://api.example:8080";
const OTHER: &str = "http://evil.example";

/// The expected verdict by Go's rules for an unlisted origin on a path that is not exempt.
fn expected(method: &str, site: Option<&str>, origin: Option<&str>) -> bool {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return true;
    }
    match site {
        Some("same-origin" | "none") => true,
        Some(_) => false,
        None => origin.is_none_or(|o| o == OWN),
    }
}

#[test]
fn every_method_by_every_sec_fetch_site_by_every_origin() {
    let policy = policy();
    let methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];
    let sites = [
        None,
        Some("same-origin"),
        Some("none"),
        Some("same-site"),
        Some("cross-site"),
    ];
    let origins = [None, Some(OWN), Some(OTHER), Some("null")];
    let mut cases = 0;
    for method in methods {
        for site in sites {
            for origin in origins {
                let mut headers = Vec::new();
                if let Some(site) = site {
                    headers.push(("HTTP_SEC_FETCH_SITE", site));
                }
                if let Some(origin) = origin {
                    headers.push(("HTTP_ORIGIN", origin));
                }
                let got = policy.check(&request(method, "/login", &headers)).is_ok();
                assert_eq!(
                    got,
                    expected(method, site, origin),
                    "{method} Sec-Fetch-Site={site:?} Origin={origin:?}"
                );
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 7 * 5 * 4);
}

#[test]
fn trusted_and_cors_listed_origins_pass_whatever_sec_fetch_site_says() {
    let policy = policy();
    for origin in ["https://trusted.example", "http://spa.example:3000"] {
        for site in ["cross-site", "same-site"] {
            let req = request(
                "POST",
                "/login",
                &[("HTTP_SEC_FETCH_SITE", site), ("HTTP_ORIGIN", origin)],
            );
            assert!(policy.check(&req).is_ok(), "{origin} with {site}");
        }
        let req = request("DELETE", "/x", &[("HTTP_ORIGIN", origin)]);
        assert!(
            policy.check(&req).is_ok(),
            "{origin} without Sec-Fetch-Site"
        );
    }
    // Exact: another scheme, port or a subdomain of a trusted origin is not trusted.
    for near in [
        "http://trusted.example",
        "https://trusted.example:444",
        "https://sub.trusted.example",
        "https://trusted.example.evil",
    ] {
        let req = request("POST", "/login", &[("HTTP_ORIGIN", near)]);
        assert_eq!(
            policy.check(&req),
            Err(Refused { from: near.into() }),
            "{near}"
        );
    }
}

#[test]
fn exempt_paths_match_exactly_never_as_a_prefix() {
    let policy = policy();
    let cross = [
        ("HTTP_SEC_FETCH_SITE", "cross-site"),
        ("HTTP_ORIGIN", OTHER),
    ];
    assert!(policy.check(&request("POST", "/hook", &cross)).is_ok());
    for near in ["/hook/x", "/hooks", "/hook/../login", "/Hook", "/hoo"] {
        assert!(
            policy.check(&request("POST", near, &cross)).is_err(),
            "{near} is not /hook"
        );
    }
}

#[test]
fn the_own_origin_follows_https_and_drops_default_ports() {
    let policy = policy();
    let on = |host: &str, origin: &str, https: Option<(&str, &str)>| {
        let mut params = vec![("HTTP_ORIGIN", origin.to_string())];
        if let Some((n, v)) = https {
            params.push((n, v.to_string()));
        }
        let mut all = vec![
            (b"REQUEST_METHOD".to_vec(), b"POST".to_vec()),
            (b"REQUEST_URI".to_vec(), b"/login".to_vec()),
            (b"HTTP_HOST".to_vec(), host.as_bytes().to_vec()),
        ];
        for (n, v) in params {
            all.push((n.as_bytes().to_vec(), v.into_bytes()));
        }
        policy
            .check(&build_request(all.into_iter().collect(), Vec::new()))
            .is_ok()
    };
    assert!(on("a.example", "https://a.example", Some(("HTTPS", "on"))));
    assert!(on(
        "a.example:443",
        "https://a.example",
        Some(("HTTPS", "on"))
    ));
    assert!(on(
        "a.example",
        "https://a.example",
        Some(("REQUEST_SCHEME", "https"))
    ));
    assert!(
        !on("a.example", "http://a.example", Some(("HTTPS", "on"))),
        "scheme differs"
    );
    assert!(
        !on("a.example", "https://a.example", None),
        "served over http"
    );
    assert!(on("a.example:80", "http://a.example", None));
    assert!(
        on("A.Example", "http://a.example", None),
        "hosts are case-insensitive"
    );
    assert!(
        !on("a.example:8080", "http://a.example", None),
        "port differs"
    );
}

#[test]
fn off_lets_everything_through() {
    let policy = OriginPolicy::new(OriginConfig {
        protect: false,
        ..OriginConfig::default()
    })
    .unwrap();
    let req = request(
        "POST",
        "/login",
        &[
            ("HTTP_SEC_FETCH_SITE", "cross-site"),
            ("HTTP_ORIGIN", OTHER),
        ],
    );
    assert!(policy.check(&req).is_ok());
}

#[test]
fn lists_accept_origins_only() {
    assert!(
        normalize("HTTPS://A.example:443/").is_err(),
        "a path is refused"
    );
    assert_eq!(
        normalize("HTTPS://A.example:443").unwrap(),
        "https://a.example"
    );
    assert_eq!(
        normalize("http://a.example:8080").unwrap(),
        "http://a.example:8080"
    );
    for bad in [
        "*",
        "a.example",
        "https://",
        "https://a.example/x",
        "https://a b",
    ] {
        assert!(normalize(bad).is_err(), "{bad}");
    }
    let config = OriginConfig {
        cors: vec!["*".into()],
        ..OriginConfig::default()
    };
    assert!(
        OriginPolicy::new(config).is_err(),
        "never * with credentials"
    );
}

#[test]
fn cors_headers_only_for_a_listed_origin() {
    let policy = policy();
    let listed = request("GET", "/me", &[("HTTP_ORIGIN", "http://spa.example:3000")]);
    assert_eq!(
        policy.cors_origin(listed.environ()),
        Some("http://spa.example:3000")
    );
    for other in [OTHER, "https://trusted.example", "null"] {
        let req = request("GET", "/me", &[("HTTP_ORIGIN", other)]);
        assert_eq!(policy.cors_origin(req.environ()), None, "{other}");
    }
    let pre = request(
        "OPTIONS",
        "/me",
        &[
            ("HTTP_ORIGIN", "http://spa.example:3000"),
            ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST"),
            (
                "HTTP_ACCESS_CONTROL_REQUEST_HEADERS",
                "Content-Type, X-Secret",
            ),
        ],
    );
    assert!(OriginPolicy::is_preflight("OPTIONS", pre.environ()));
    let answer = policy.preflight(
        "http://spa.example:3000",
        "GET, POST, OPTIONS",
        pre.environ(),
    );
    assert_eq!(answer.status, 204);
    let got: Vec<(&str, &str)> = answer
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("Access-Control-Allow-Origin", "http://spa.example:3000"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
            ("Access-Control-Allow-Headers", "Content-Type"),
            ("Access-Control-Max-Age", "600"),
        ]
    );
}
