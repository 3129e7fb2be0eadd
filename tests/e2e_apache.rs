//! Apache 2.4 in front of the binary, as conf/apache/ says: one-shot CGI through mod_cgi
//! (prefork MPM) and mod_cgid (event MPM); FastCGI through mod_proxy_fcgi over TCP and a unix
//! socket (connections reused), and through mod_fcgid (Apache starts the app on fd 0). Each
//! runs the seed table, the body limit and the showcase cases, Authorization included
//! (`CGIPassAuth On`).

#[path = "common/e2e.rs"]
mod e2e;

use e2e::*;

/// conf/apache/pycnic-cgi.conf under `mpm`, the binary installed in the prefix.
fn apache_cgi(mpm: &str, app: App) -> Deployment {
    let prefix = Prefix::new(&format!("apache-cgi-{mpm}"));
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("apache/pycnic-cgi.conf"),
        "site.conf",
        &[
            ("BIN", text(&bin)),
            ("BIN_DIR", text(&prefix.join("bin"))),
            ("PORT", &port.to_string()),
        ],
    );
    let apache = start_apache(&prefix, mpm, &site, port);
    Deployment {
        procs: vec![apache],
        addr: (localhost(), port).into(),
        prefix,
    }
}

#[test]
fn mod_cgid_under_the_event_mpm_serves_every_case() {
    let server = "apache mod_cgid (event)";
    let seed = apache_cgi("event", App::Seed);
    seed.check(|addr| {
        seed_table(server, addr);
        body_limit(server, addr);
    });
    drop(seed);
    apache_cgi("event", App::Showcase).check(|addr| showcase_cases(server, addr));
}

#[test]
fn mod_cgi_under_the_prefork_mpm_serves_every_case() {
    let server = "apache mod_cgi (prefork)";
    let seed = apache_cgi("prefork", App::Seed);
    seed.check(|addr| {
        seed_table(server, addr);
        body_limit(server, addr);
    });
    drop(seed);
    apache_cgi("prefork", App::Showcase).check(|addr| showcase_cases(server, addr));
}
