//! A newcomer's own application, as the README's "Your own application" section builds it:
//! a crate in a temporary directory that depends on this checkout by path, with a handler
//! returning `Result<Value, HttpError>` and a borrowed `&'static str`. It must pass `cargo
//! clippy -- -D warnings` with clippy's default lints (no `result_large_err`), and its
//! `--version` and `--help` must name the app, not pycnic.
//!
//! Offline: the registry cache is warm after this project's own build, and the checkout's
//! Cargo.lock is copied so the same versions are used. The build goes to the checkout's own
//! `target/` with the checkout's dev profile ([`CHECKOUT_PROFILE`]), so it reuses the
//! dependencies the checkout's clippy and build already compiled; new are the app, pycnic as
//! its dependency, and the few crates whose features the checkout's dev-dependencies widen
//! (bitflags, getrandom, rusqlite). A target of its own, or cargo's default profile, made a
//! clean clone check and build every dependency again (86 s of this test's 90). Cargo no
//! longer holds `target/`'s lock while tests run.

use std::path::{Path, PathBuf};
use std::process::Command;

const CARGO_TOML: &str = r#"[package]
name = "hello-api"
version = "0.3.1"
edition = "2024"

[dependencies]
pycnic = { path = "@CHECKOUT@" }
serde_json = "1"
"#;

const MAIN_RS: &str = r#"//! A newcomer's app: one route, `/profile`.

use std::process::ExitCode;

use pycnic::{App, Handler, HttpError, Request, Response};
use serde_json::{Value, json};

struct Profile;

impl Profile {
    fn get(&self, request: &Request, _response: &mut Response) -> Result<Value, HttpError> {
        let Some(user) = request.cookies().get("user") else {
            return Err(HttpError::unauthorized("Log in first"));
        };
        Ok(json!({"user": user}))
    }

    fn delete(&self, _request: &Request, _response: &mut Response) -> Result<&'static str, HttpError> {
        Ok("bye")
    }
}

fn app() -> App {
    App::new().route(
        "/profile",
        Handler::new(Profile).get(Profile::get).delete(Profile::delete),
    )
}

fn main() -> ExitCode {
    pycnic::run!(app())
}
"#;

/// The checkout's `[profile.dev]` (its Cargo.toml), given to the app's cargo so that the
/// dependencies compile with the same settings as the checkout's, and the ones the checkout
/// already built in `target/` are reused: with cargo's default profile (full debug info) every
/// dependency was checked and built again, most of this test's time. What the test asserts
/// (clippy's verdict, the names) does not depend on debug info.
const CHECKOUT_PROFILE: [&str; 2] = [
    "profile.dev.debug=\"line-tables-only\"",
    "profile.dev.package.\"*\".debug=false",
];

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cargo(dir: &Path, target: &Path, args: &[&str]) -> std::process::Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let (subcommand, rest) = args.split_first().expect("a cargo subcommand");
    Command::new(cargo)
        // After the subcommand: `cargo --config K clippy` does not pass K on to cargo-clippy.
        .arg(subcommand)
        .args(
            CHECKOUT_PROFILE
                .iter()
                .flat_map(|setting| ["--config", setting]),
        )
        .args(rest)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .output()
        .expect("run cargo")
}

#[test]
fn a_users_own_app_builds_passes_clippy_and_names_itself() {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = TempDir(std::env::temp_dir().join(format!("pycnic-own-app-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(dir.0.join("src")).unwrap();
    let manifest = CARGO_TOML.replace("@CHECKOUT@", &checkout.display().to_string());
    std::fs::write(dir.0.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.0.join("src/main.rs"), MAIN_RS).unwrap();
    std::fs::copy(checkout.join("Cargo.lock"), dir.0.join("Cargo.lock")).unwrap();
    let target = checkout.join("target");

    let clippy = cargo(
        &dir.0,
        &target,
        &["clippy", "--offline", "-q", "--", "-D", "warnings"],
    );
    assert!(
        clippy.status.success(),
        "clippy -D warnings on the user's app:\n{}",
        String::from_utf8_lossy(&clippy.stderr)
    );

    let build = cargo(&dir.0, &target, &["build", "--offline", "-q"]);
    assert!(
        build.status.success(),
        "cargo build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let bin = target.join("debug/hello-api");

    let version = Command::new(&bin).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        "hello-api 0.3.1"
    );

    let help = Command::new(&bin).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Usage: hello-api"), "{help}");

    // Bare, outside a web server: the usage names the app too.
    let bare = Command::new(&bin)
        .env_remove("GATEWAY_INTERFACE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let usage = String::from_utf8_lossy(&bare.stderr);
    assert!(
        usage.contains("Usage: hello-api") && !usage.contains("Usage: pycnic"),
        "{usage}"
    );

    let routes = Command::new(&bin).arg("routes").output().unwrap();
    let routes = String::from_utf8_lossy(&routes.stdout);
    assert!(
        routes.contains("/profile") && routes.contains("Profile"),
        "{routes}"
    );

    let answer = Command::new(&bin)
        .args(["request", "GET", "/profile", "-b", "user=ann"])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer.stdout);
    assert!(answer.starts_with("Status: 200 OK"), "{answer}");
    assert!(answer.ends_with(r#"{"user":"ann"}"#), "{answer}");
}
