//! Apache 2.4 in front of the binary, as conf/apache/ says: one-shot CGI through mod_cgi
//! (prefork MPM) and mod_cgid (event MPM); FastCGI through mod_proxy_fcgi over TCP and a unix
//! socket (connections reused), and through mod_fcgid (Apache starts the app on fd 0). Each
//! runs the seed table, the body limit and the showcase cases, Authorization included
//! (`CGIPassAuth On`).

use crate::e2e::*;

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

/// conf/apache/pycnic-proxy-fcgi-tcp.conf in front of the app as pycnic-tcp.service starts it.
fn apache_proxy_fcgi_tcp(app: App) -> Deployment {
    let prefix = Prefix::new("apache-proxy-fcgi-tcp");
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let backend = (localhost(), free_port(localhost())).into();
    let pycnic = start_tcp_service(&prefix, "pycnic", &bin, backend);
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("apache/pycnic-proxy-fcgi-tcp.conf"),
        "site.conf",
        &[
            ("BACKEND", &backend.to_string()),
            ("PORT", &port.to_string()),
        ],
    );
    let apache = start_apache(&prefix, "event", &site, port);
    Deployment {
        procs: vec![apache, pycnic],
        addr: (localhost(), port).into(),
        prefix,
    }
}

/// conf/apache/pycnic-proxy-fcgi-unix.conf in front of the app as
/// conf/spawn-fcgi/pycnic-spawn-fcgi.sh starts it.
fn apache_proxy_fcgi_unix(app: App) -> Deployment {
    let prefix = Prefix::new("apache-proxy-fcgi-unix");
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let socket = prefix.join("run/pycnic.sock");
    let pycnic = start_spawn_fcgi(&prefix, &bin, &socket);
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("apache/pycnic-proxy-fcgi-unix.conf"),
        "site.conf",
        &[("SOCKET", text(&socket)), ("PORT", &port.to_string())],
    );
    let apache = start_apache(&prefix, "event", &site, port);
    Deployment {
        procs: vec![apache, pycnic],
        addr: (localhost(), port).into(),
        prefix,
    }
}

/// conf/apache/pycnic-fcgid.conf: Apache's mod_fcgid starts the binary itself.
fn apache_fcgid(app: App) -> Deployment {
    require_file(
        "/usr/lib/apache2/modules/mod_fcgid.so",
        "libapache2-mod-fcgid",
    );
    let prefix = Prefix::new("apache-fcgid");
    let bin = prefix.install_binary(&app.binary(), "pycnic");
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("apache/pycnic-fcgid.conf"),
        "site.conf",
        &[
            ("BIN", text(&bin)),
            ("BIN_DIR", text(&prefix.join("bin"))),
            ("PORT", &port.to_string()),
        ],
    );
    let apache = start_apache(&prefix, "event", &site, port);
    Deployment {
        procs: vec![apache],
        addr: (localhost(), port).into(),
        prefix,
    }
}

#[test]
fn mod_proxy_fcgi_over_tcp_serves_every_case() {
    every_case("apache mod_proxy_fcgi over TCP", apache_proxy_fcgi_tcp);
}

#[test]
fn mod_proxy_fcgi_over_a_unix_socket_from_spawn_fcgi_serves_every_case() {
    every_case(
        "apache mod_proxy_fcgi over a unix socket (spawn-fcgi)",
        apache_proxy_fcgi_unix,
    );
}

#[test]
fn mod_fcgid_starting_the_app_on_fd_0_serves_every_case() {
    every_case("apache mod_fcgid", apache_fcgid);
}

#[test]
fn mod_cgid_under_the_event_mpm_serves_every_case() {
    every_case("apache mod_cgid (event)", |app| apache_cgi("event", app));
}

#[test]
fn mod_cgi_under_the_prefork_mpm_serves_every_case() {
    every_case("apache mod_cgi (prefork)", |app| apache_cgi("prefork", app));
}

/// conf/spawn-fcgi/pycnic-spawn-fcgi.sh: the app spawn-fcgi starts on fd 0 is a master over 2
/// worker processes (the script's PYCNIC_PROCESSES=2).
#[test]
fn spawn_fcgi_starts_the_app_as_a_master_over_two_workers() {
    let deployment = apache_proxy_fcgi_unix(App::Seed);
    deployment.check(|addr| {
        assert_eq!(send(addr, &Req::get("/login")).status, 200);
        let pid = deployment.proc("pycnic").pid();
        wait_for_shape("spawn-fcgi", pid, "pycnic", &[2], &deployment.prefix);
    });
}

/// conf/apache/pycnic-fcgid.conf: the process mod_fcgid starts on fd 0 for a request is one
/// process with no master (mod_fcgid counts and stops the processes it starts).
#[test]
fn mod_fcgid_starts_the_app_as_one_process_without_a_master() {
    let deployment = apache_fcgid(App::Seed);
    deployment.check(|addr| {
        assert_eq!(send(addr, &Req::get("/login")).status, 200);
        let apache = deployment.proc("apache2").pid();
        wait_for_shape("mod_fcgid", apache, "pycnic", &[0], &deployment.prefix);
    });
}
