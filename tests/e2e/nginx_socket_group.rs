//! The README's nginx-over-a-unix-socket deployment followed literally: `pycnic fastcgi
//! --listen unix:… --socket-mode 660 --socket-group www-data` (and, as root, `--socket-owner
//! nobody`) in front of conf/nginx/pycnic-unix.conf, nginx's workers running as `www-data`.
//! Without the group, nginx answers 502 (permission denied): the snag this option removes.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::e2e::*;

/// The seed app listening on its own unix socket with `socket_args`, nginx in front.
fn nginx_to_app_socket(socket_args: &[&str]) -> Deployment {
    let prefix = Prefix::new("nginx-socket-group");
    let bin = prefix.install_binary(&App::Seed.binary(), "pycnic");
    let run = prefix.join("run");
    fs::create_dir_all(&run).expect("create run/");
    fs::set_permissions(&run, fs::Permissions::from_mode(0o755)).expect("chmod run/");
    let socket = run.join("pycnic.sock");
    let listen = format!("unix:{}", text(&socket));
    let mut args = vec!["fastcgi", "--listen", &listen, "--socket-mode", "660"];
    args.extend_from_slice(socket_args);
    let pycnic = Proc::start(
        "pycnic",
        app_command(&bin, &args),
        &prefix.join("pycnic.log"),
    );
    wait_until("the app's socket", &[&pycnic], &prefix, || {
        unix_accepts(&socket)
    });
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("nginx/pycnic-unix.conf"),
        "site.conf",
        &[("SOCKET", text(&socket)), ("PORT", &port.to_string())],
    );
    let nginx = start_nginx(&prefix, &site, port);
    Deployment {
        procs: vec![nginx, pycnic],
        addr: (localhost(), port).into(),
        prefix,
    }
}

#[test]
fn nginx_reaches_a_socket_given_to_its_group() {
    let web = web_user();
    let mut args = vec!["--socket-group", web.group.as_str()];
    if is_root() {
        args.extend(["--socket-owner", "nobody"]);
    }
    let deployment = nginx_to_app_socket(&args);
    deployment.check(|addr| seed_table("nginx → unix socket with --socket-group", addr));
}

#[test]
fn without_the_group_nginx_gets_permission_denied() {
    // Not root: nginx keeps the test's own user, who owns the socket anyway; the trap only
    // exists where nginx's workers are another user, as on a real server.
    if !is_root() {
        eprintln!("skipped: needs root (nginx's workers must run as www-data)");
        return;
    }
    let deployment = nginx_to_app_socket(&[]);
    deployment.check(|addr| {
        let resp = send(addr, &Req::get("/login"));
        assert_eq!(resp.status, 502, "{}", resp.text());
        let log = fs::read_to_string(deployment.prefix.join("nginx-error.log")).unwrap();
        assert!(log.contains("Permission denied"), "{log}");
    });
}
