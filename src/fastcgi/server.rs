//! The FastCGI server's event loop. One thread owns the listeners and every connection while
//! it is idle or still receiving a request: it reads without blocking and feeds the bytes to
//! the connection's state machine, so idle and stalled connections cost no worker. A complete
//! request goes to the worker pool with its socket; the worker writes the response and hands
//! the socket back. Timers here close stalled and idle connections and answer 503 for
//! requests no worker took in time. SIGTERM/SIGINT stop accepting and drain.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};

use crate::app::App;

use super::conn::{ConnLimits, Connection, Event, Phase, ReceivedRequest};
use super::listen::{self, Listener, Peer, Stream};
use super::options::{FastcgiOptions, peer_allowed};
use super::record::Figures;
use super::worker::{self, AccessLine, Done, Job, Pool, Queue};

const WAKER: Token = Token(0);
const SIGNALS: Token = Token(1);
const FIRST_LISTENER: usize = 2;
/// Stop reading from a connection whose replies pile up unread (GET_VALUES floods).
const OUTPUT_HIGH_WATER: usize = 64 * 1024;
/// How long to wait before accepting again after accept() failed (EMFILE and the like).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

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

/// One connection owned by the event loop; `stream` is `None` while a worker has it.
struct Slot {
    stream: Option<Stream>,
    conn: Connection,
    phase: Phase,
    deadline: Option<Instant>,
    last_active: Instant,
}

struct Settings {
    limits: ConnLimits,
    max_connections: usize,
    header_timeout: Duration,
    idle_timeout: Duration,
    queue_wait: Duration,
    shutdown_timeout: Duration,
    allowed: Vec<IpAddr>,
    sweep_every: Duration,
}

/// What driving a connection came to.
enum Outcome {
    /// Waits for more bytes (or room to write); `true` when bytes arrived.
    Wait(bool),
    Event(Event),
    /// Close; the reason is logged as a warning when there is one.
    Close(Option<String>),
}

struct Server {
    poll: Poll,
    listeners: Vec<Listener>,
    first_conn: usize,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    live: usize,
    signals: mio::net::UnixStream,
    done: Receiver<Done>,
    pool: Arc<Pool>,
    workers: Vec<std::thread::JoinHandle<()>>,
    settings: Settings,
    accept_blocked: bool,
    accept_retry_at: Option<Instant>,
    next_sweep: Instant,
    shutdown_deadline: Option<Instant>,
    buf: Vec<u8>,
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

    fn accept_all(&mut self) {
        for n in 0..self.listeners.len() {
            self.accept(n);
        }
    }

    fn accept(&mut self, n: usize) {
        loop {
            if self.shutdown_deadline.is_some() {
                return;
            }
            let full = self.live >= self.settings.max_connections;
            if full && self.oldest_idle().is_none() {
                // Nothing to make room with: leave new connections in the backlog until a
                // slot frees (stalled ones time out), rather than refuse them.
                self.accept_blocked = true;
                return;
            }
            let Some(listener) = self.listeners.get(n) else {
                return;
            };
            match listener.accept() {
                Ok((stream, Peer::Ip(ip))) if !peer_allowed(&self.settings.allowed, ip) => {
                    log::warn!("dropped connection from {ip}: not in FCGI_WEB_SERVER_ADDRS");
                    drop(stream);
                }
                Ok((stream, _)) => {
                    if full && let Some(index) = self.oldest_idle() {
                        log::info!(
                            "closed an idle connection to make room (--max-connections {})",
                            self.settings.max_connections
                        );
                        self.close(index, None);
                    }
                    self.add(stream);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(err) => {
                    // EMFILE, ENFILE, ENOBUFS...: never fatal; try again shortly.
                    log::warn!(
                        "accept failed: {err}; retrying in {} ms",
                        ACCEPT_RETRY.as_millis()
                    );
                    self.accept_retry_at = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            }
        }
    }

    /// The connection idle the longest: closed to make room for a new one, since a web
    /// server reopens an idle connection cheaply while a refused one is a failed request.
    fn oldest_idle(&self) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .filter(|(_, s)| {
                s.stream.is_some() && s.phase == Phase::Idle && s.conn.output().is_empty()
            })
            .min_by_key(|(_, s)| s.last_active)
            .map(|(i, _)| i)
    }

    fn add(&mut self, mut stream: Stream) {
        let index = self.free.pop().unwrap_or(self.slots.len());
        let token = Token(self.first_conn + index);
        if let Err(err) = self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("dropped connection: cannot watch it: {err}");
            self.free.push(index);
            return;
        }
        let now = Instant::now();
        let slot = Slot {
            stream: Some(stream),
            conn: Connection::new(self.settings.limits),
            phase: Phase::Idle,
            deadline: Some(now + self.settings.header_timeout.max(self.settings.idle_timeout)),
            last_active: now,
        };
        match self.slots.get_mut(index) {
            Some(place) => *place = Some(slot),
            None => self.slots.push(Some(slot)),
        }
        self.live += 1;
    }

    fn close(&mut self, index: usize, reason: Option<String>) {
        let Some(slot) = self.slots.get_mut(index).and_then(Option::take) else {
            return;
        };
        if let Some(reason) = reason {
            log::warn!("dropped connection: {reason}");
        }
        if let Some(mut stream) = slot.stream {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        self.live -= 1;
        self.free.push(index);
    }

    /// Reads, writes and answers on one connection until it has to wait.
    fn pump(&mut self, index: usize) {
        loop {
            let shutting_down = self.shutdown_deadline.is_some();
            let Some(Some(slot)) = self.slots.get_mut(index) else {
                return;
            };
            if slot.stream.is_none() {
                return; // a worker has it
            }
            match drive(slot, &mut self.buf) {
                Outcome::Wait(progressed) => {
                    let now = Instant::now();
                    let phase = slot.conn.phase();
                    if progressed {
                        slot.last_active = now;
                    }
                    if phase != slot.phase || (phase == Phase::Body && progressed) {
                        slot.phase = phase;
                        slot.deadline = match phase {
                            Phase::Idle => Some(now + self.settings.idle_timeout),
                            Phase::Responding => None,
                            _ => Some(now + self.settings.header_timeout),
                        };
                    }
                    if shutting_down && phase == Phase::Idle && slot.conn.output().is_empty() {
                        self.close(index, None);
                    }
                    return;
                }
                Outcome::Close(reason) => return self.close(index, reason),
                Outcome::Event(Event::BodyTooLarge(request)) => {
                    let response = worker::too_large_response(
                        &self.pool.app,
                        request.params.clone(),
                        self.settings.limits.max_body,
                    );
                    self.answer_here(index, &request, response);
                }
                Outcome::Event(Event::Request(request)) => return self.dispatch(index, request),
            }
        }
    }

    fn dispatch(&mut self, index: usize, request: ReceivedRequest) {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return;
        };
        let Some(stream) = slot.stream.take() else {
            return;
        };
        slot.phase = Phase::Responding;
        slot.deadline = None;
        self.pool.queue.push(Job {
            token: index,
            stream,
            request,
            received: Instant::now(),
        });
    }

    /// Answers from the event loop (413, 503): small responses queued on the connection.
    fn answer_here(
        &mut self,
        index: usize,
        request: &ReceivedRequest,
        response: crate::response::HttpResponse,
    ) {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return;
        };
        let line = AccessLine::new(&request.params, Instant::now());
        let status = response.status;
        let mut bytes = Vec::new();
        match worker::write_fastcgi_response(response, request.id, &mut bytes) {
            Ok(count) => line.log(status, count),
            Err(err) => log::error!("could not build a {status} answer: {err}"),
        }
        slot.conn.push_output(&bytes);
        if let Err(err) = slot.conn.response_done() {
            slot.conn.close();
            log::warn!("dropped connection: {err}");
        }
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
            slot.last_active = Instant::now();
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

/// Flushes replies and reads requests on one connection until it must wait or has news.
fn drive(slot: &mut Slot, buf: &mut [u8]) -> Outcome {
    let Some(stream) = slot.stream.as_ref() else {
        return Outcome::Wait(false);
    };
    let mut progressed = false;
    loop {
        while !slot.conn.output().is_empty() {
            match (&mut &*stream).write(slot.conn.output()) {
                Ok(0) => return Outcome::Close(Some("the web server stopped reading".into())),
                Ok(n) => slot.conn.consume_output(n),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Outcome::Close(Some(format!("write failed: {err}"))),
            }
        }
        if let Some(event) = slot.conn.next_event() {
            return Outcome::Event(event);
        }
        if slot.conn.phase() == Phase::Closed && slot.conn.output().is_empty() {
            return Outcome::Close(None);
        }
        if !slot.conn.wants_input() || slot.conn.output().len() >= OUTPUT_HIGH_WATER {
            return Outcome::Wait(progressed);
        }
        match (&mut &*stream).read(buf) {
            Ok(0) => {
                return match slot.conn.receive_eof() {
                    Ok(()) => Outcome::Close(None),
                    Err(err) => Outcome::Close(Some(err.to_string())),
                };
            }
            Ok(n) => {
                progressed = true;
                if let Err(err) = slot.conn.receive(buf.get(..n).unwrap_or_default()) {
                    return Outcome::Close(Some(err.to_string()));
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                return Outcome::Wait(progressed);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Outcome::Close(Some(format!("read failed: {err}"))),
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
