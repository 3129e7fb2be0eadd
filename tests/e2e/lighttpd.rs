//! lighttpd in front of the binary, as conf/lighttpd/ says: one-shot CGI through mod_cgi, and
//! FastCGI through mod_fastcgi, both with `bin-path` (lighttpd starts the app on fd 0) and
//! with a `host`/`port` backend. Each runs the seed table, the body limit and the showcase.

use crate::e2e::*;

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

/// conf/lighttpd/pycnic-fastcgi-spawn.conf: lighttpd starts the binary itself (bin-path).
fn lighttpd_fastcgi_spawn(app: App) -> Deployment {
    let prefix = Prefix::new("lighttpd-fastcgi-spawn");
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let port = free_port(localhost());
    // lighttpd creates the socket after dropping to its user: a directory that user owns.
    let sockets = prefix.give_to_web_user("var/sockets");
    let site = prefix.render(
        &conf("lighttpd/pycnic-fastcgi-spawn.conf"),
        "site.conf",
        &[
            ("BIN", text(&bin)),
            ("SOCKET", text(&sockets.join("pycnic.sock"))),
        ],
    );
    let lighttpd = start_lighttpd(&prefix, &site, port);
    Deployment {
        procs: vec![lighttpd],
        addr: (localhost(), port).into(),
        prefix,
    }
}

/// conf/lighttpd/pycnic-fastcgi-tcp.conf in front of the app as pycnic-tcp.service starts it.
fn lighttpd_fastcgi_tcp(app: App) -> Deployment {
    let prefix = Prefix::new("lighttpd-fastcgi-tcp");
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let backend: std::net::SocketAddr = (localhost(), free_port(localhost())).into();
    let pycnic = start_tcp_service(&prefix, "pycnic", &bin, backend);
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("lighttpd/pycnic-fastcgi-tcp.conf"),
        "site.conf",
        &[
            ("BACKEND_HOST", &backend.ip().to_string()),
            ("BACKEND_PORT", &backend.port().to_string()),
        ],
    );
    let lighttpd = start_lighttpd(&prefix, &site, port);
    Deployment {
        procs: vec![lighttpd, pycnic],
        addr: (localhost(), port).into(),
        prefix,
    }
}

#[test]
fn mod_cgi_serves_every_case() {
    every_case("lighttpd mod_cgi", lighttpd_cgi);
}

#[test]
fn mod_fastcgi_with_bin_path_starting_the_app_serves_every_case() {
    every_case("lighttpd mod_fastcgi bin-path", lighttpd_fastcgi_spawn);
}

#[test]
fn mod_fastcgi_with_a_host_and_port_backend_serves_every_case() {
    every_case("lighttpd mod_fastcgi host/port", lighttpd_fastcgi_tcp);
}

/// conf/lighttpd/pycnic-fastcgi-spawn.conf: the process lighttpd starts on fd 0 is a master
/// over 2 worker processes (the template's PYCNIC_PROCESSES=2).
#[test]
fn bin_path_starts_the_app_as_a_master_over_two_workers() {
    let deployment = lighttpd_fastcgi_spawn(App::Seed);
    deployment.check(|addr| {
        assert_eq!(send(addr, &Req::get("/login")).status, 200);
        let lighttpd = deployment.proc("lighttpd").pid();
        wait_for_shape("bin-path", lighttpd, "pycnic", &[2], &deployment.prefix);
    });
}
