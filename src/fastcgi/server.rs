//! The FastCGI server's event loop. One thread owns the listeners and every connection while
//! it is idle or still receiving a request: it reads without blocking and feeds the bytes to
//! the connection's state machine, so idle and stalled connections cost no worker. A complete
//! request goes to the worker pool with its socket; the worker writes the response and hands
//! the socket back. Timers here close stalled and idle connections and answer 503 for
//! requests no worker took in time. SIGTERM/SIGINT stop accepting and drain.

use std::io::{self, Read};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};

use crate::app::App;

use super::conn::{ConnLimits, Phase};
use super::connections::Slot;
use super::listen::{self, Listener};
use super::options::FastcgiOptions;
use super::record::Figures;
use super::worker::{self, Done, Pool, Queue};

const WAKER: Token = Token(0);
const SIGNALS: Token = Token(1);
const FIRST_LISTENER: usize = 2;
/// How long to wait before accepting again after accept() failed (EMFILE and the like).
pub(super) const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Serves FastCGI until SIGTERM or SIGINT; exit status 0 after a clean drain.
pub fn serve(app: Arc<App>, options: &FastcgiOptions, max_body: u64) -> std::process::ExitCode {
    match open_listeners(options)
        .and_then(|listeners| Server::new(app, options, max_body, listeners))
    {
        Ok(mut server) => match server.run() {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                log::error!("fastcgi server failed: {err}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(err) => {
            log::error!("fastcgi server cannot start: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn open_listeners(options: &FastcgiOptions) -> io::Result<Vec<Listener>> {
    let listeners = if options.listen.is_empty() {
        listen::inherited()?
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

/// The limits and timers, resolved from the options.
pub(super) struct Settings {
    pub(super) limits: ConnLimits,
    pub(super) max_connections: usize,
    pub(super) header_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) queue_wait: Duration,
    pub(super) shutdown_timeout: Duration,
    pub(super) allowed: Vec<IpAddr>,
    pub(super) sweep_every: Duration,
}

pub(super) struct Server {
    pub(super) poll: Poll,
    pub(super) listeners: Vec<Listener>,
    pub(super) first_conn: usize,
    pub(super) slots: Vec<Option<Slot>>,
    pub(super) free: Vec<usize>,
    pub(super) live: usize,
    pub(super) signals: mio::net::UnixStream,
    pub(super) done: Receiver<Done>,
    pub(super) pool: Arc<Pool>,
    pub(super) workers: Vec<std::thread::JoinHandle<()>>,
    pub(super) settings: Settings,
    pub(super) accept_blocked: bool,
    pub(super) accept_retry_at: Option<Instant>,
    pub(super) next_sweep: Instant,
    pub(super) shutdown_deadline: Option<Instant>,
    pub(super) buf: Vec<u8>,
}

impl Server {
    fn new(
        app: Arc<App>,
        options: &FastcgiOptions,
        max_body: u64,
        mut listeners: Vec<Listener>,
    ) -> io::Result<Server> {
        let poll = Poll::new()?;
        for (n, listener) in listeners.iter_mut().enumerate() {
            poll.registry()
                .register(listener, Token(FIRST_LISTENER + n), Interest::READABLE)?;
            log::info!("fastcgi: listening on {}", listener.describe());
        }
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut signals = register_signals()?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let (done_tx, done) = mpsc::channel();
        let settings = Settings {
            limits: ConnLimits {
                max_params_bytes: options.max_params_bytes,
                max_params_count: options.max_params,
                max_body,
                // One request per connection (FCGI_MPXS_CONNS=0): as many requests as
                // connections are accepted; `--workers` of them run at once.
                figures: Figures {
                    max_conns: options.max_connections,
                    max_reqs: options.max_connections,
                },
            },
            max_connections: options.max_connections,
            header_timeout: options.header_timeout,
            idle_timeout: options.idle_timeout,
            queue_wait: options.queue_wait,
            shutdown_timeout: options.shutdown_timeout,
            allowed: options.allowed_peers(),
            sweep_every: (options.queue_wait.min(options.header_timeout) / 4)
                .clamp(Duration::from_millis(10), Duration::from_millis(250)),
        };
        let pool = Arc::new(Pool {
            app,
            queue: Arc::new(Queue::default()),
            done: done_tx,
            waker,
            max_body,
            queue_wait: options.queue_wait,
            send_timeout: options.send_timeout,
        });
        let workers = worker::spawn(Arc::clone(&pool), options.worker_count())?;
        Ok(Server {
            poll,
            first_conn: FIRST_LISTENER + listeners.len(),
            listeners,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            signals,
            done,
            pool,
            workers,
            settings,
            accept_blocked: false,
            accept_retry_at: None,
            next_sweep: Instant::now(),
            shutdown_deadline: None,
            buf: vec![0; 64 * 1024],
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            let mut wake_at = self.next_sweep;
            if let Some(at) = self.accept_retry_at {
                wake_at = wake_at.min(at);
            }
            match self
                .poll
                .poll(&mut events, Some(wake_at.saturating_duration_since(now)))
            {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => other?,
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    SIGNALS => self.on_signal(),
                    Token(t) if t < self.first_conn => self.accept(t - FIRST_LISTENER),
                    Token(t) => self.pump(t - self.first_conn),
                }
            }
            self.collect_done();
            self.tick();
            if let Some(deadline) = self.shutdown_deadline {
                if self.live == 0 {
                    break;
                }
                if Instant::now() >= deadline {
                    log::warn!("shutdown timeout: {} connections still open", self.live);
                    return Ok(());
                }
            }
        }
        self.pool.queue.close();
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
        log::info!("fastcgi: stopped");
        Ok(())
    }

    fn collect_done(&mut self) {
        while let Ok(done) = self.done.try_recv() {
            let Some(place) = self.slots.get_mut(done.token) else {
                continue;
            };
            let Some(stream) = done.stream else {
                // The worker closed the socket, which also took it out of epoll.
                if place.take().is_some() {
                    self.live -= 1;
                    self.free.push(done.token);
                }
                continue;
            };
            let Some(slot) = place.as_mut() else {
                continue;
            };
            slot.stream = Some(stream);
            match slot.conn.response_done() {
                Ok(()) => self.pump(done.token),
                Err(err) => self.close(done.token, Some(err.to_string())),
            }
        }
    }

    /// Timers: stalled and idle connections, requests waiting too long, accept retries.
    fn tick(&mut self) {
        let now = Instant::now();
        let room = self.accept_blocked
            && (self.live < self.settings.max_connections || self.oldest_idle().is_some());
        if room || self.accept_retry_at.is_some_and(|at| now >= at) {
            self.accept_retry_at = None;
            self.accept_blocked = false;
            self.accept_all();
        }
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + self.settings.sweep_every;
        for job in self.pool.queue.take_stale(self.settings.queue_wait) {
            let Some(Some(slot)) = self.slots.get_mut(job.token) else {
                continue;
            };
            slot.stream = Some(job.stream);
            let response = worker::busy_response(&self.pool.app, self.settings.queue_wait);
            log::warn!(
                "no worker free within {:?}: answering 503",
                self.settings.queue_wait
            );
            self.answer_here(job.token, &job.request, response);
            self.pump(job.token);
        }
        let expired: Vec<(usize, Phase)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .filter(|(_, s)| s.stream.is_some() && s.deadline.is_some_and(|d| now >= d))
            .map(|(i, s)| (i, s.phase))
            .collect();
        for (index, phase) in expired {
            let reason = match phase {
                Phase::Idle => {
                    log::info!(
                        "closed a connection idle for {:?}",
                        self.settings.idle_timeout
                    );
                    None
                }
                Phase::Head => Some("header-read timeout".to_string()),
                Phase::Body => Some("body-read timeout".to_string()),
                Phase::Responding | Phase::Closed => Some("send timeout".to_string()),
            };
            self.close(index, reason);
        }
    }

    fn on_signal(&mut self) {
        let mut drain = [0u8; 64];
        while matches!((&self.signals).read(&mut drain), Ok(n) if n > 0) {}
        if self.shutdown_deadline.is_some() {
            return;
        }
        // Connections the kernel completed already carry requests the web server considers
        // sent: take them in before closing the listeners.
        self.accept_all();
        log::info!(
            "fastcgi: shutting down; finishing {} connections",
            self.live
        );
        self.shutdown_deadline = Some(Instant::now() + self.settings.shutdown_timeout);
        for mut listener in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        // Read what idle connections already hold; those with nothing are closed.
        let idle: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.as_ref()
                    .is_some_and(|s| s.stream.is_some() && s.conn.phase() == Phase::Idle)
            })
            .map(|(i, _)| i)
            .collect();
        for index in idle {
            self.pump(index);
        }
    }
}

/// SIGTERM and SIGINT write a byte into a socket pair the loop watches (the self-pipe trick,
/// done by signal-hook in an async-signal-safe way). SIGPIPE is already ignored by the Rust
/// runtime, so a write to a closed connection is an EPIPE error, never a dead process.
fn register_signals() -> io::Result<mio::net::UnixStream> {
    let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
    reader.set_nonblocking(true)?;
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::low_level::pipe::register(signal, writer.try_clone()?)?;
    }
    Ok(mio::net::UnixStream::from_std(reader))
}
