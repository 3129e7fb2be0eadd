//! Deployments: nginx, Apache and lighttpd started from conf/test/ holding a rendered conf/
//! site, and the app started as conf/systemd/ and conf/spawn-fcgi/ say.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// One running deployment. Fields drop in order: processes first, then the directory.
#[derive(Debug)]
pub struct Deployment {
    pub procs: Vec<Proc>,
    pub addr: SocketAddr,
    pub prefix: Prefix,
}

impl Deployment {
    /// Runs `cases` against the deployment; on failure prints the deployment's logs first.
    pub fn check(&self, cases: impl FnOnce(SocketAddr)) {
        let addr = self.addr;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cases(addr)));
        if let Err(panic) = outcome {
            eprintln!("logs of the failed deployment:\n{}", self.prefix.logs());
            std::panic::resume_unwind(panic);
        }
    }

    pub fn proc(&self, name: &str) -> &Proc {
        self.procs
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }
}

/// Starts nginx (`daemon off`, its own prefix) with conf/test/nginx-main.conf holding the
/// rendered site `site`, listening on `port`; waits until it accepts.
pub fn start_nginx(prefix: &Prefix, site: &Path, port: u16) -> Proc {
    let nginx = require("nginx");
    // The site includes the stock fastcgi_params, relative to the main file's directory.
    let params = require_file("/etc/nginx/fastcgi_params", "nginx-common");
    fs::copy(params, prefix.join("fastcgi_params")).unwrap();
    let user = web_user();
    let main = prefix.render(
        &conf("test/nginx-main.conf"),
        "nginx.conf",
        &[
            ("PREFIX", prefix.str()),
            ("SITE", site.to_str().unwrap()),
            ("USER", &user.name),
        ],
    );
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(&prefix.path)
        .arg("-c")
        .arg(&main)
        .arg("-e")
        .arg(prefix.join("nginx-error.log"));
    let proc = Proc::start("nginx", command, &prefix.join("nginx-stderr.log"));
    let addr = SocketAddr::new(localhost(), port);
    wait_until("nginx", &[&proc], prefix, || accepts(addr));
    proc
}

/// Starts Apache (`-DFOREGROUND`, its own ServerRoot) with conf/test/apache-main.conf holding
/// the rendered site, under MPM `mpm` (event or prefork); waits until it accepts.
pub fn start_apache(prefix: &Prefix, mpm: &str, site: &Path, port: u16) -> Proc {
    let apache = require("apache2");
    require_file(
        &format!("/usr/lib/apache2/modules/mod_mpm_{mpm}.so"),
        "apache2-bin",
    );
    fs::create_dir_all(prefix.join("run")).unwrap();
    let user = web_user();
    let port = port.to_string();
    let main = prefix.render(
        &conf("test/apache-main.conf"),
        "apache2.conf",
        &[
            ("PREFIX", prefix.str()),
            ("PORT", &port),
            ("MPM", mpm),
            ("SITE", site.to_str().unwrap()),
            ("USER", &user.name),
            ("GROUP", &user.group),
        ],
    );
    let mut command = Command::new(apache);
    command.arg("-DFOREGROUND").arg("-f").arg(&main);
    // Debian's apache2 reads these from /etc/apache2/envvars when run by apache2ctl; the test
    // configuration names its paths itself, so only the locale matters.
    command.env("LANG", "C");
    let proc = Proc::start("apache2", command, &prefix.join("apache-stderr.log"));
    let addr = SocketAddr::new(localhost(), port.parse().unwrap());
    wait_until("apache2", &[&proc], prefix, || accepts(addr));
    proc
}

/// Starts lighttpd (`-D`) with conf/test/lighttpd-main.conf holding the rendered site;
/// waits until it accepts.
pub fn start_lighttpd(prefix: &Prefix, site: &Path, port: u16) -> Proc {
    let lighttpd = require("lighttpd");
    fs::create_dir_all(prefix.join("htdocs")).unwrap();
    prefix.give_to_web_user("var/uploads");
    let user = web_user();
    let port = port.to_string();
    let main = prefix.render(
        &conf("test/lighttpd-main.conf"),
        "lighttpd.conf",
        &[
            ("PREFIX", prefix.str()),
            ("PORT", &port),
            ("SITE", site.to_str().unwrap()),
            ("USER", &user.name),
            ("GROUP", &user.group),
        ],
    );
    let mut command = Command::new(lighttpd);
    command.arg("-D").arg("-f").arg(&main);
    let proc = Proc::start("lighttpd", command, &prefix.join("lighttpd-stderr.log"));
    let addr = SocketAddr::new(localhost(), port.parse().unwrap());
    wait_until("lighttpd", &[&proc], prefix, || accepts(addr));
    proc
}

/// A rendered systemd unit: its `Key=Value` lines in order (sections are not told apart;
/// the units in conf/ use each key in one section only).
#[derive(Debug)]
pub struct Unit {
    pub path: PathBuf,
    pub entries: Vec<(String, String)>,
}

impl Unit {
    pub fn read(path: &Path) -> Unit {
        let text = fs::read_to_string(path).unwrap();
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(['#', ';', '[']))
            .map(|l| {
                let (k, v) = l
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{}: not Key=Value: {l}", path.display()));
                (k.trim().to_string(), v.trim().to_string())
            })
            .collect();
        Unit {
            path: path.to_path_buf(),
            entries,
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `ExecStart=`, split on white space (the units in conf/ quote nothing).
    pub fn exec_start(&self) -> Vec<String> {
        let line = self
            .get("ExecStart")
            .unwrap_or_else(|| panic!("{} has no ExecStart", self.path.display()));
        line.split_whitespace().map(str::to_string).collect()
    }

    /// Every `Environment=NAME=value`. A value under `/run/NAME/` with `RuntimeDirectory=NAME`
    /// points into `run/NAME/` beside the rendered unit instead (created here, as systemd
    /// creates /run/NAME), so a test never touches /run.
    pub fn environment(&self) -> Vec<(String, String)> {
        let runtime = self.get("RuntimeDirectory").map(|name| {
            let dir = self.path.parent().unwrap().join("run").join(name);
            fs::create_dir_all(&dir).unwrap();
            (format!("/run/{name}/"), dir)
        });
        self.entries
            .iter()
            .filter(|(k, _)| k == "Environment")
            .map(|(_, v)| {
                let (n, v) = v.split_once('=').expect("Environment=NAME=value");
                let v = match &runtime {
                    Some((run, dir)) if v.starts_with(run.as_str()) => {
                        dir.join(&v[run.len()..]).to_str().unwrap().to_string()
                    }
                    _ => v.to_string(),
                };
                (n.to_string(), v)
            })
            .collect()
    }

    /// The service's command as systemd would run it: ExecStart with only Environment= set
    /// (plus the test's RUST_LOG when PYCNIC_E2E_LOG asks for one).
    pub fn command(&self) -> Command {
        let argv = self.exec_start();
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).env_clear();
        command.envs(self.environment());
        if let Ok(level) = std::env::var("PYCNIC_E2E_LOG") {
            command.env("RUST_LOG", level);
        }
        command
    }
}

/// Checks rendered units with `systemd-analyze verify`: it must pass and warn about nothing
/// in them (an unknown key is only a warning to systemd).
pub fn verify_units(units: &[&Path]) {
    let analyze = require("systemd-analyze");
    let dir = units[0].parent().unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .args(units)
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {stderr}"
    );
    for unit in units {
        let name = unit.file_name().unwrap().to_string_lossy();
        let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains(&*name)).collect();
        assert!(
            complaints.is_empty(),
            "systemd-analyze verify complains about {name}: {complaints:?}"
        );
    }
}

/// How [`showcase_behind_nginx`] starts the app: options added to the unit's command line,
/// environment variables, a working directory (below the prefix) and a change to nginx's site.
#[derive(Default)]
pub struct Backend<'a> {
    pub extra: &'a [&'a str],
    pub env: &'a [(&'a str, &'a str)],
    pub cwd: Option<&'a str>,
    pub edit_site: Option<fn(String) -> String>,
}

/// The showcase started as conf/systemd/pycnic-tcp.service starts it (its log in
/// `pycnic.log`), behind conf/nginx/pycnic-tcp.conf.
pub fn showcase_behind_nginx(tag: &str, backend_options: Backend) -> Deployment {
    let prefix = Prefix::new(tag);
    let bin = prefix.install_binary(&App::Showcase.binary(), "pycnic");
    let backend: SocketAddr = (localhost(), free_port(localhost())).into();
    let unit = prefix.render(
        &conf("systemd/pycnic-tcp.service"),
        "pycnic.service",
        &[
            ("BIN", text(&bin)),
            ("BACKEND", &backend.to_string()),
            ("WEB_SERVER_ADDRS", "127.0.0.1"),
        ],
    );
    let mut command = Unit::read(&unit).command();
    command
        .args(backend_options.extra)
        .envs(backend_options.env.iter().copied());
    if let Some(dir) = backend_options.cwd {
        fs::create_dir_all(prefix.join(dir)).unwrap();
        command.current_dir(prefix.join(dir));
    }
    let pycnic = Proc::start("pycnic", command, &prefix.join("pycnic.log"));
    wait_until("pycnic", &[&pycnic], &prefix, || accepts(backend));
    let port = free_port(localhost());
    let site = prefix.render(
        &conf("nginx/pycnic-tcp.conf"),
        "site.conf",
        &[
            ("BACKEND", &backend.to_string()),
            ("PORT", &port.to_string()),
        ],
    );
    if let Some(edit) = backend_options.edit_site {
        let edited = edit(fs::read_to_string(&site).unwrap());
        fs::write(&site, edited).unwrap();
    }
    let nginx = start_nginx(&prefix, &site, port);
    Deployment {
        procs: vec![nginx, pycnic],
        addr: (localhost(), port).into(),
        prefix,
    }
}

/// `pycnic fastcgi --listen ADDR` as conf/systemd/pycnic-tcp.service runs it; waits until
/// it accepts.
pub fn start_tcp_service(prefix: &Prefix, name: &str, bin: &Path, listen: SocketAddr) -> Proc {
    let unit = prefix.render(
        &conf("systemd/pycnic-tcp.service"),
        &format!("{name}.service"),
        &[
            ("BIN", text(bin)),
            ("BACKEND", &listen.to_string()),
            ("WEB_SERVER_ADDRS", "127.0.0.1"),
        ],
    );
    let command = Unit::read(&unit).command();
    let proc = Proc::start(name, command, &prefix.join(&format!("{name}.log")));
    wait_until(name, &[&proc], prefix, || accepts(listen));
    proc
}

/// The app behind conf/systemd/pycnic.socket + pycnic.service, started the way systemd does
/// it: `systemd-socket-activate` opens the unit's ListenStream and, on the first connection,
/// execs the service's ExecStart with the socket as fd 3 and LISTEN_FDS=1. The socket's
/// SocketGroup and SocketMode are applied as systemd would (the tool has no such options).
pub fn start_socket_activated(prefix: &Prefix, bin: &Path, socket: &Path) -> Proc {
    let web = web_user();
    let socket_unit = prefix.render(
        &conf("systemd/pycnic.socket"),
        "pycnic.socket",
        &[("SOCKET", text(socket)), ("WEB_GROUP", &web.group)],
    );
    let service_unit = prefix.render(
        &conf("systemd/pycnic.service"),
        "pycnic.service",
        &[("BIN", text(bin))],
    );
    let (socket_unit, service_unit) = (Unit::read(&socket_unit), Unit::read(&service_unit));
    let listen = socket_unit.get("ListenStream").unwrap().to_string();
    let mode = u32::from_str_radix(socket_unit.get("SocketMode").unwrap(), 8).unwrap();

    let mut command = Command::new(require("systemd-socket-activate"));
    command.env_clear().arg("-l").arg(&listen);
    let mut environment = service_unit.environment();
    if let Ok(level) = std::env::var("PYCNIC_E2E_LOG") {
        environment.push(("RUST_LOG".into(), level));
    }
    for (name, value) in environment {
        command.arg("-E").arg(format!("{name}={value}"));
    }
    command.args(service_unit.exec_start());
    let proc = Proc::start("pycnic", command, &prefix.join("pycnic.log"));
    wait_until("the activation socket", &[&proc], prefix, || {
        socket.exists()
    });
    fs::set_permissions(socket, fs::Permissions::from_mode(mode)).unwrap();
    if is_root() {
        chown(socket, None, Some(web.gid)).unwrap();
    }
    proc
}

/// conf/spawn-fcgi/pycnic-spawn-fcgi.sh, rendered and run: spawn-fcgi binds the socket (owner,
/// group, mode as the script says) and runs the binary with it on fd 0; the app runs as
/// `nobody` (when root). Waits until the socket accepts.
pub fn start_spawn_fcgi(prefix: &Prefix, bin: &Path, socket: &Path) -> Proc {
    require("spawn-fcgi");
    let web = web_user();
    let app = if is_root() {
        lookup_user("nobody").expect("user nobody")
    } else {
        web.clone()
    };
    let script = prefix.render(
        &conf("spawn-fcgi/pycnic-spawn-fcgi.sh"),
        "pycnic-spawn-fcgi.sh",
        &[
            ("BIN", text(bin)),
            ("SOCKET", text(socket)),
            ("APP_USER", &app.name),
            ("APP_GROUP", &app.group),
            ("WEB_GROUP", &web.group),
            ("STORE_DIR", text(&prefix.join("var/sessions"))),
        ],
    );
    let mut command = Command::new("sh");
    command
        .arg(script)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    if let Ok(level) = std::env::var("PYCNIC_E2E_LOG") {
        command.env("RUST_LOG", level);
    }
    let proc = Proc::start("pycnic", command, &prefix.join("pycnic.log"));
    wait_until("spawn-fcgi's socket", &[&proc], prefix, || {
        unix_accepts(socket)
    });
    proc
}
