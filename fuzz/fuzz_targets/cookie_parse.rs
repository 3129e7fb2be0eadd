//! Any bytes as a `Cookie` header: parsing never panics, the dict view is consistent, and
//! every parsed cookie fed back to the Set-Cookie builder either is refused or renders a
//! header value without control bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pycnic::{Cookie, Cookies, SameSite};

fuzz_target!(|data: &[u8]| {
    let cookies = Cookies::parse(data);
    assert_eq!(cookies.iter().count(), cookies.len());
    for (name, value) in cookies.iter() {
        assert_eq!(cookies.get(name), Some(value));
        assert!(cookies.contains(name));
        assert!(!value.contains("DELETED"));

        // The parsed text, reused as a name, value and attributes.
        let cookie = Cookie::new(name, value)
            .path(value)
            .domain(name)
            .expires(value)
            .max_age(value.len() as i64)
            .secure()
            .http_only()
            .same_site(SameSite::Lax)
            .flag(name);
        assert!(!cookie.value().contains(';'));
        if let Ok(header) = cookie.to_header_value() {
            assert!(!header.bytes().any(|b| b < 0x20 || b == 0x7f), "{header:?}");
            assert!(header.starts_with(&format!("{}={}", cookie.name(), cookie.value())));
        }
        let _ = Cookie::deletion(name).to_header_value();
    }
    let _ = serde_json::to_string(&cookies);
});
