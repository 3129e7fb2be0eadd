//! Starting the server: a master over worker processes (`--processes` 2 or more, 2 by
//! default, see `process::master`), or one server process (a worker, `--processes 1`, or a
//! start on fd 0 without the option): the descriptor limit raised, the listening sockets opened
//! (handed over by an upgrading pycnic, bound from `--listen`, or inherited), the event loop
//! built on them, the start announced (pid file, sd_notify, the old process told), then the
//! threads run until the lifecycle ends; the exit status says whether the drain was clean.

use std::io;
use std::sync::Arc;

use crate::app::App;
use crate::fastcgi::config::options::FastcgiOptions;
use crate::fastcgi::net::inherit;
use crate::fastcgi::net::listen::{self, Listener};
use crate::fastcgi::process::announce::{self, Handover};
use crate::fastcgi::process::fdlimit;
use crate::fastcgi::process::upgrade::Exe;
use crate::fastcgi::process::{master, scoreboard, worker};

use super::server::Server;
use super::threads;

/// Serves FastCGI until SIGTERM or SIGINT; exit status 0 after a clean drain, 1 when the
/// shutdown timeout cut requests off.
pub fn serve(app: Arc<App>, options: &FastcgiOptions, max_body: u64) -> std::process::ExitCode {
    let exe = Exe::record();
    let slot = worker::slot();
    let worker = slot.is_some();
    if (worker && !worker::die_with_master()) || (!worker && worker::orphaned()) {
        log::error!("fastcgi worker: the master is gone");
        return std::process::ExitCode::FAILURE;
    }
    if let Some(slot) = slot {
        scoreboard::mine::join(slot);
    }
    let handover = Handover::take();
    let nofile = fdlimit::raise_nofile_limit();
    fdlimit::return_large_buffers();
    // A web server's (or spawn-fcgi's) socket on fd 0, first started or handed over by an
    // upgrade of such a start (the socket stays on fd 0), so an upgrade keeps the pool's shape.
    let fd0_start = options.listen.is_empty()
        && match &handover {
            None => !inherit::from_systemd(),
            Some(handover) => handover.fds == [0],
        };
    let processes = options.process_count(fd0_start);
    if !worker && processes > 1 {
        return match open_listeners(options, handover.as_ref()) {
            Ok(listeners) => master::run(exe, options, listeners, handover, processes),
            Err(err) => {
                log::error!("fastcgi server cannot start: {err}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let handlers = options.worker_count();
    let started = open_listeners(options, handover.as_ref())
        .and_then(|listeners| Server::new(app, options, max_body, listeners, exe, nofile.ok()))
        .and_then(|(mut server, poll)| {
            let pid_file = if worker {
                announce::announce_worker(handover);
                None
            } else {
                announce::announce(options, server.admission.listeners_mut(), handover)?
            };
            Ok((server, poll, pid_file))
        });
    let (server, poll, pid_file) = match started {
        Ok(started) => started,
        Err(err) => {
            log::error!("fastcgi server cannot start: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = threads::run(server, poll, handlers);
    if let Some(pid_file) = pid_file {
        pid_file.remove_if_ours();
    }
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(err) => {
            log::error!("fastcgi server failed: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The sockets an upgrading old process handed over (whatever `--listen` says: they are
/// its), else `--listen`'s, else inherited ones.
fn open_listeners(
    options: &FastcgiOptions,
    handover: Option<&Handover>,
) -> io::Result<Vec<Listener>> {
    let listeners = if let Some(handover) = handover {
        inherit::take(handover.fds.clone())?
    } else if options.listen.is_empty() {
        inherit::inherited()?
    } else {
        let bound: io::Result<Vec<Listener>> = options
            .listen
            .iter()
            .map(|addr| {
                listen::bind(addr, options.socket_mode)
                    .map_err(|err| io::Error::new(err.kind(), format!("{addr}: {err}")))
            })
            .collect();
        bound?
    };
    if listeners.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "nothing to listen on: give --listen, or start from a web server, spawn-fcgi or systemd",
        ));
    }
    Ok(listeners)
}
