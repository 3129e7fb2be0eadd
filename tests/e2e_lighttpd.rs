//! lighttpd in front of the binary, as conf/lighttpd/ says: one-shot CGI through mod_cgi, and
//! FastCGI through mod_fastcgi, both with `bin-path` (lighttpd starts the app on fd 0) and
//! with a `host`/`port` backend. Each runs the seed table, the body limit and the showcase.

#[path = "common/e2e.rs"]
mod e2e;

use e2e::*;

/// conf/lighttpd/pycnic-cgi.conf, the binary installed in the prefix.
fn lighttpd_cgi(app: App) -> Deployment {
    let prefix = Prefix::new("lighttpd-cgi");
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("lighttpd/pycnic-cgi.conf"),
        "site.conf",
        &[("BIN", text(&bin))],
    );
    let lighttpd = start_lighttpd(&prefix, &site, port);
    Deployment {
        procs: vec![lighttpd],
        addr: (localhost(), port).into(),
        prefix,
    }
}

#[test]
fn mod_cgi_serves_every_case() {
    let server = "lighttpd mod_cgi";
    let seed = lighttpd_cgi(App::Seed);
    seed.check(|addr| {
        seed_table(server, addr);
        body_limit(server, addr);
    });
    drop(seed);
    lighttpd_cgi(App::Showcase).check(|addr| showcase_cases(server, addr));
}
