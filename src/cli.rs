//! The command line of every pycnic binary: mode detection (CGI when GATEWAY_INTERFACE is
//! set), `cgi`, `routes`, `serve` (the development server), and `request` (one request through the CGI gateway, raw response on
//! stdout — the tool for shell-script tests). Logging goes to stderr through `env_logger`.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::App;
use crate::cgi;
use crate::cookie_jar::CookieJar;
use crate::fastcgi::options::parse_size;
use crate::gateway::Params;

/// The body limit when none is given: 10 MiB.
pub const DEFAULT_MAX_BODY: u64 = 10 * 1024 * 1024;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "A Pycnic JSON API as one CGI/FastCGI program",
    long_about = "A Pycnic JSON API as one CGI/FastCGI program.\n\n\
        Without a command it picks its mode: one-shot CGI when GATEWAY_INTERFACE is set \
        (a web server ran it as a CGI program); a FastCGI server when it was handed a \
        listening socket on fd 0 (spawn-fcgi, mod_fcgid, lighttpd) or by systemd \
        (LISTEN_FDS) or by the pycnic it replaces (SIGUSR2); otherwise usage, exit status 2."
)]
struct Cli {
    /// Largest request body accepted, in bytes (suffixes k, M, G: powers of 1024); larger
    /// bodies get 413 and are not read.
    #[arg(long, global = true, env = "PYCNIC_MAX_BODY", value_name = "BYTES",
          default_value_t = DEFAULT_MAX_BODY, value_parser = parse_size)]
    max_body: u64,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Answer one CGI request: environment and stdin in, response on stdout.
    Cgi,
    /// Serve FastCGI (Responder role) to nginx, Apache or lighttpd.
    Fastcgi(Box<crate::fastcgi::FastcgiOptions>),
    /// Print the route table: Route, Method, Class (as Pycnic's `pycnic routes`).
    Routes,
    /// A development HTTP/1.1 server on 127.0.0.1:8000, for curl and browsers. For
    /// development only: in production put nginx, Apache or lighttpd in front (CGI or
    /// FastCGI).
    Serve(crate::serve::ServeOptions),
    /// Run one request through the CGI gateway and print the raw CGI response.
    Request(RequestArgs),
    /// Print a new secret key line for the file named by PYCNIC_SECRET_KEY_FILE, or with
    /// --output FILE put it in FILE (created 0600, or added as the first line).
    Keygen(crate::cli_sessions::KeygenArgs),
    /// Session maintenance (`sessions gc`).
    #[command(subcommand)]
    Sessions(crate::cli_sessions::SessionsCommand),
}

#[derive(Args, Debug)]
struct RequestArgs {
    /// HTTP method, e.g. GET or POST.
    method: String,
    /// Path and optional query string, e.g. /login or '/search?q=a+b'.
    target: String,
    /// A request header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A Cookie header, e.g. 'a=1; b=2' (repeatable: each is sent as its own Cookie header).
    #[arg(short = 'b', long = "cookie", value_name = "COOKIES")]
    cookies: Vec<String>,
    /// The request body; '@FILE' reads it from a file, '@-' from stdin.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    data: Option<String>,
    /// An extra CGI variable, NAME=VALUE (repeatable), e.g. REMOTE_ADDR=10.0.0.1.
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// A cookie jar (curl's Netscape cookie file): its cookies go with the request, and the
    /// answer's Set-Cookie lines are written back, as a browser would keep them.
    #[arg(short = 'c', long = "cookie-jar", value_name = "FILE")]
    cookie_jar: Option<std::path::PathBuf>,
    /// Exit with status 22 (as curl --fail) when the answer is 400 or above.
    #[arg(short = 'f', long)]
    fail: bool,
}

/// The FastCGI options when none are given on the command line (bare `pycnic` started by a
/// web server): defaults, and the environment variables each option also reads.
#[derive(Parser, Debug)]
struct FastcgiDefaults {
    #[command(flatten)]
    options: crate::fastcgi::FastcgiOptions,
}

/// `PYCNIC_MAX_BODY` as `--max-body` reads it; `None` when it is set but not a size.
fn max_body_from_env() -> Option<u64> {
    match std::env::var_os("PYCNIC_MAX_BODY") {
        None => Some(DEFAULT_MAX_BODY),
        Some(value) => parse_size(value.to_str()?).ok(),
    }
}

/// Logging to stderr, `RUST_LOG` first, else `default_level`. Errors logged by pycnic itself
/// (a port in use, a socket that cannot be created, a handler that panicked) are printed
/// whatever the filter says, so a failed start is never silent.
fn init_logging(default_level: &str) {
    let env = env_logger::Env::default().default_filter_or(default_level);
    let inner = env_logger::Builder::from_env(env)
        .target(env_logger::Target::Stderr)
        .build();
    let level = inner.filter().max(log::LevelFilter::Error);
    if log::set_boxed_logger(Box::new(ErrorsAlways { inner })).is_ok() {
        log::set_max_level(level);
    }
}

/// `env_logger` with a floor: pycnic's own error records pass even when `RUST_LOG` leaves
/// them out (`RUST_LOG=myapp=info`, `RUST_LOG=off`).
struct ErrorsAlways {
    inner: env_logger::Logger,
}

impl ErrorsAlways {
    fn forced(metadata: &log::Metadata<'_>) -> bool {
        let target = metadata.target();
        metadata.level() == log::Level::Error
            && (target == "pycnic" || target.starts_with("pycnic::"))
    }
}

impl log::Log for ErrorsAlways {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.inner.enabled(metadata) || Self::forced(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.inner.matches(record) {
            self.inner.log(record);
        } else if Self::forced(record.metadata()) {
            eprintln!("[ERROR {}] {}", record.target(), record.args());
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Runs the program around `app` in the mode the command line and the environment ask for.
///
/// `--help` and `--version` name pycnic itself; [`run!`](crate::run!) names your crate instead
/// (`fn main() -> ExitCode { pycnic::run!(app()) }`).
pub fn run(app: App) -> ExitCode {
    run_as(app, env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}

/// [`run`] with the program's name and version for `--help` and `--version`; the
/// [`run!`](crate::run!) macro passes your crate's `CARGO_PKG_NAME` and `CARGO_PKG_VERSION`.
pub fn run_as(app: App, name: &'static str, version: &'static str) -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    // A web server running the program as CGI passes no arguments: answer at once, without
    // building the command line parser (a one-shot process pays for every microsecond).
    // An unreadable PYCNIC_MAX_BODY goes on to clap, which reports it as on the command line.
    if std::env::args_os().len() == 1
        && std::env::var_os("GATEWAY_INTERFACE").is_some()
        && let Some(max_body) = max_body_from_env()
    {
        init_logging("warn");
        return cgi::run(&app, max_body);
    }
    // The usage lines name the binary as it was invoked (argv[0]), as clap does by default.
    let matches = Cli::command().name(name).version(version).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    match cli.command {
        Some(Command::Cgi) => {
            init_logging("warn");
            cgi::run(&app, cli.max_body)
        }
        Some(Command::Fastcgi(options)) => {
            init_logging("info");
            serve_fastcgi(app, *options, cli.max_body, version)
        }
        Some(Command::Routes) => print_routes(&app),
        Some(Command::Serve(options)) => {
            init_logging("info");
            crate::serve::serve(std::sync::Arc::new(app), &options, cli.max_body, name)
        }
        Some(Command::Request(args)) => {
            init_logging("warn");
            request(&app, args, cli.max_body, name)
        }
        Some(Command::Keygen(args)) => crate::cli_sessions::keygen(args),
        Some(Command::Sessions(command)) => {
            init_logging("warn");
            crate::cli_sessions::run(&app, command)
        }
        None if std::env::var_os("GATEWAY_INTERFACE").is_some() => {
            init_logging("warn");
            cgi::run(&app, cli.max_body)
        }
        None if crate::fastcgi::inherited_listener_present() => {
            init_logging("info");
            let options = FastcgiDefaults::parse_from(["pycnic"]).options;
            serve_fastcgi(app, options, cli.max_body, version)
        }
        None => {
            let usage = Cli::command()
                .name(name)
                .bin_name(name)
                .version(version)
                .render_long_help();
            eprintln!("{usage}");
            eprintln!(
                "error: not started as CGI (no GATEWAY_INTERFACE) nor as FastCGI (no listening \
                 socket on fd 0 or from systemd); name a command"
            );
            ExitCode::from(2)
        }
    }
}

/// Serves FastCGI once every `--listen` host name is resolved to its addresses; `version` is
/// the one the status page shows.
fn serve_fastcgi(
    app: App,
    mut options: crate::fastcgi::FastcgiOptions,
    max_body: u64,
    version: &str,
) -> ExitCode {
    options.app_version = Some(version.to_string());
    // Keys and session settings are checked before any socket is taken or announced, so a
    // broken key file stops a start, and stops an upgrade (the old process serves on).
    if let Err(err) = app.check_sessions() {
        log::error!("fastcgi server cannot start: {err}");
        return ExitCode::FAILURE;
    }
    // The cross-origin settings are settled now, not on the first request: a setting that does
    // not parse stops the start (logged there), and protection turned off is warned about at
    // start.
    if app.origin_policy().is_err() {
        log::error!("fastcgi server cannot start: the cross-origin settings are refused");
        return ExitCode::FAILURE;
    }
    // Answers go to sockets: stray prints (fd 1) go to the log, never to a socket.
    crate::stray_output::stdout_to_log();
    if let Err(err) = options.resolve_hosts() {
        log::error!("fastcgi server cannot start: {err}");
        return ExitCode::FAILURE;
    }
    crate::fastcgi::serve(std::sync::Arc::new(app), &options, max_body)
}

/// Pycnic's `Route  Method  Class` table: columns two spaces apart, a blank line under the
/// heading, routes in table order (Pycnic's `--sort none`). A reader that goes away early
/// (`pycnic routes | head -1`) ends the listing quietly.
fn print_routes(app: &App) -> ExitCode {
    match write_routes(app, &mut io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pycnic routes: cannot write to stdout: {err}");
            ExitCode::FAILURE
        }
    }
}

fn write_routes(app: &App, out: &mut dyn Write) -> io::Result<()> {
    let mut rows = vec![(
        "Route".to_string(),
        "Method".to_string(),
        "Class".to_string(),
    )];
    rows.extend(app.routes());
    let width = |pick: fn(&(String, String, String)) -> &String| {
        rows.iter()
            .map(|r| pick(r).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (route_w, method_w) = (width(|r| &r.0), width(|r| &r.1));
    for (index, (route, methods, class)) in rows.iter().enumerate() {
        writeln!(out, "{route:<route_w$}  {methods:<method_w$}  {class}")?;
        if index == 0 {
            writeln!(out)?;
        }
    }
    out.flush()
}

fn request(app: &App, args: RequestArgs, max_body: u64, name: &str) -> ExitCode {
    let body = match &args.data {
        None => Vec::new(),
        Some(data) => match read_data(data) {
            Ok(body) => body,
            Err(err) => {
                eprintln!("{name} request: cannot read {data:?}: {err}");
                return ExitCode::from(2);
            }
        },
    };
    let now = crate::secure_cookie::now();
    let path = args.target.split('?').next().unwrap_or("/").to_string();
    let https = args.env.iter().any(|e| e.eq_ignore_ascii_case("HTTPS=on"));
    let mut jar = match args.cookie_jar.as_deref().map(CookieJar::load).transpose() {
        Ok(jar) => jar,
        Err(err) => {
            eprintln!("{name} request: cannot read the cookie jar: {err}");
            return ExitCode::from(2);
        }
    };
    let from_jar = jar.as_ref().and_then(|j| j.header_for(&path, https, now));
    let params = match request_params(&args, &body, from_jar) {
        Ok(params) => params,
        Err(err) => {
            eprintln!("{name} request: {err}");
            return ExitCode::from(2);
        }
    };
    let out = crate::stray_output::move_response_aside();
    let response = cgi::answer(app, params, &mut body.as_slice(), max_body);
    let failed = response.status >= 400;
    if let (Some(jar), Some(file)) = (jar.as_mut(), args.cookie_jar.as_deref()) {
        for (header, value) in &response.headers {
            if header.as_str().eq_ignore_ascii_case("Set-Cookie") {
                jar.store(value.as_str(), "localhost", &path, now);
            }
        }
        if let Err(err) = jar.save(file, now) {
            eprintln!("{name} request: cannot write the cookie jar: {err}");
            return ExitCode::from(2);
        }
    }
    match cgi::write_to_fd(response, out) {
        code if code != ExitCode::SUCCESS => code,
        _ if args.fail && failed => ExitCode::from(22),
        ok => ok,
    }
}

fn read_data(data: &str) -> io::Result<Vec<u8>> {
    match data.strip_prefix('@') {
        Some("-") => {
            let mut body = Vec::new();
            io::stdin().read_to_end(&mut body)?;
            Ok(body)
        }
        Some(path) => std::fs::read(path),
        None => Ok(data.as_bytes().to_vec()),
    }
}

/// The meta-variables a web server would send for this request (RFC 3875 §4.1).
fn request_params(
    args: &RequestArgs,
    body: &[u8],
    from_jar: Option<String>,
) -> Result<Params, String> {
    let (path, query) = args.target.split_once('?').unwrap_or((&args.target, ""));
    if !path.starts_with('/') {
        return Err(format!("the target must start with '/': {:?}", args.target));
    }
    let mut params: Vec<(String, String)> = vec![
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        ("SERVER_PROTOCOL".into(), "HTTP/1.1".into()),
        ("SERVER_SOFTWARE".into(), "pycnic-request".into()),
        ("SERVER_NAME".into(), "localhost".into()),
        ("SERVER_PORT".into(), "80".into()),
        ("REMOTE_ADDR".into(), "127.0.0.1".into()),
        ("REQUEST_METHOD".into(), args.method.clone()),
        ("REQUEST_URI".into(), args.target.clone()),
        ("SCRIPT_NAME".into(), String::new()),
        ("QUERY_STRING".into(), query.into()),
    ];
    if args.data.is_some() {
        params.push(("CONTENT_LENGTH".into(), body.len().to_string()));
    }
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("a header is 'Name: value', not {header:?}"))?;
        let var = name.trim().to_ascii_uppercase().replace('-', "_");
        match var.as_str() {
            "CONTENT_LENGTH" => continue,
            "CONTENT_TYPE" => params.push((var, value.trim().into())),
            _ => params.push((format!("HTTP_{var}"), value.trim().into())),
        }
    }
    if args.data.is_some() && !params.iter().any(|(n, _)| n == "CONTENT_TYPE") {
        params.push(("CONTENT_TYPE".into(), "application/json".into()));
    }
    for cookie in from_jar.iter().chain(&args.cookies) {
        params.push(("HTTP_COOKIE".into(), cookie.clone()));
    }
    for pair in &args.env {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("-e takes NAME=VALUE, not {pair:?}"))?;
        params.retain(|(n, _)| n != name);
        params.push((name.into(), value.into()));
    }
    Ok(params
        .into_iter()
        .map(|(n, v)| (n.into_bytes(), v.into_bytes()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
