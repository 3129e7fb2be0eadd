//! The server's side of the running-handlers table (see `running`): entries pushed when a
//! handler starts and popped when it comes back, the look at the table when it is due (slow
//! requests logged, timed-out ones answered 504 on a duplicate of their connection), and the
//! threads that replace stuck handlers.

use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::Interest;

use crate::error::HttpError;

use crate::fastcgi::net::listen::Stream;
use crate::fastcgi::serve::server::Server;
use crate::fastcgi::work::job::Job;
use crate::fastcgi::work::running::Popped;

impl Server {
    /// A handler starts on `job`: its entry in the table, when there is one. The leader is
    /// woken only when the entry is due before its poll returns anyway.
    pub(crate) fn start_run(&mut self, job: &mut Job) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let (ticket, due) = running.push(job, self.pool.access.is_some());
        job.ticket = Some(ticket);
        if due < self.clock.wake_at() {
            self.clock.wake_by(due);
            let _ = self.pool.waker.wake();
        }
    }

    /// A handler came back: its entry goes. Returns whether its worker slot is free again
    /// (not when it was given back already at the timeout). When a new thread took its place,
    /// the pool is a thread over its size: one ends.
    pub(crate) fn end_run(&mut self, ticket: Option<usize>) -> bool {
        let (Some(running), Some(index)) = (self.running.as_mut(), ticket) else {
            return true;
        };
        let Popped {
            timed_out,
            replaced,
        } = running.pop(index, &self.pool.app);
        if replaced {
            self.crew.stuck_returned();
            crate::fastcgi::process::scoreboard::mine::publish_stuck(running.stuck);
        }
        !(timed_out && replaced)
    }

    /// The table is due: slow requests are logged, timed-out ones answered.
    pub(crate) fn check_running(&mut self, now: Instant) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        for index in running.check(now, &self.pool.app, &self.pool.metrics) {
            self.answer_timeout(index);
        }
    }

    /// Entry `index` is past `--request-timeout` and the timeout claimed its answer: the
    /// connection moves to a duplicate of its descriptor, gets a JSON 504 and carries on; a
    /// new thread replaces the stuck one unless the cap is reached.
    fn answer_timeout(&mut self, index: usize) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let what = running.describe(index, &self.pool.app);
        let Some(entry) = running.entry_mut(index) else {
            return;
        };
        let (token, fcgi_id, fd, tcp) = (entry.token, entry.fcgi_id, entry.fd, entry.tcp);
        let access = std::mem::take(&mut entry.access);
        let started = entry.received;
        // The handler's thread holds `fd` open: it closes it only in `give_back`, under the
        // lock held here, so `fd` names the connection until `detach` points it elsewhere.
        let moved = Stream::duplicate(fd, tcp).and_then(|mut copy| {
            self.registry.deregister(&mut mio::unix::SourceFd(&fd))?;
            self.registry
                .register(&mut copy, self.table.token(token), Interest::READABLE)?;
            // The handler's descriptor now names /dev/null: the connection is the copy's
            // alone, so closing it closes it even while the handler runs on.
            detach(fd)?;
            Ok(copy)
        });
        let timeout = self
            .running
            .as_ref()
            .map(|r| r.timeout())
            .unwrap_or_default();
        match (moved, self.table.get_mut(token)) {
            (Ok(copy), Some(slot)) => {
                slot.stream = Some(copy);
                // Watched for reading only, as every connection is until output waits; bytes
                // that came while the handler ran are read now.
                slot.watch_writable = false;
                slot.unread = true;
                log::warn!("request timeout: answering 504 for {what}; the handler runs on");
                let response = self.pool.app.error_response(HttpError::new(
                    504,
                    format!(
                        "The request took longer than {:.3} s",
                        timeout.as_secs_f64()
                    ),
                ));
                self.pool.metrics.timed_out();
                let access = self.pool.access.is_some().then_some(&access);
                self.answer_with(token, fcgi_id, access, started, response);
                self.admission.idle_returned();
                self.pump(token);
            }
            (Err(err), _) => {
                log::error!("request timeout: cannot answer 504 for {what}: {err}");
                self.close(token, None);
            }
            (Ok(_), None) => {}
        }
        if let Some(entry) = self.running.as_mut().and_then(|r| r.entry_mut(index)) {
            entry.access = access;
        }
        if self.running.as_mut().is_some_and(|r| r.replace(index)) {
            self.crew.replace_stuck();
        }
        if let Some(running) = self.running.as_ref() {
            crate::fastcgi::process::scoreboard::mine::publish_stuck(running.stuck);
        }
    }
}

/// Points descriptor `fd`, which a stuck handler's thread holds, at /dev/null (atomically,
/// dup3 with close-on-exec): the thread keeps a valid descriptor to close when it returns,
/// and the connection is left with the event side's copy only. Without this, a connection
/// the event side closes (after the 504 when the web server did not ask to keep it, as
/// nginx does not by default; at the idle timeout; to make room) stayed open until the
/// handler returned, and a web server waiting for the end of the connection held the 504.
fn detach(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    let null = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    // SAFETY: dup3 onto `fd`, which the handler's thread keeps open until `give_back` (it
    // cannot run while the server's lock is held here); `fd` stays open, now on /dev/null,
    // and is still the thread's to close. `null` is closed when dropped.
    let done = unsafe { libc::dup3(null.as_raw_fd(), fd, libc::O_CLOEXEC) };
    if done < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
