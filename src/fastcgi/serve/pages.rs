//! The runtime's pages under FastCGI (`--status-path`, `--ping-path`). The event side answers
//! them itself when their request is complete, under the server's lock, like its own 503:
//! never queued behind busy handlers, so the page answers while every worker is stuck, which
//! is when an operator needs it. The figures that are a state (connections by state, busy
//! and idle workers, the queue, the health) are gathered here when the page is asked; the
//! ping answers 503 when no handler can run (see `ops::health`).

use crate::error::HttpError;
use crate::gateway::Params;
use crate::ops::{self, Page};
use crate::response::HttpResponse;

use crate::fastcgi::ops::health::{Health, Signs};
use crate::fastcgi::ops::load::{ByState, Load};
use crate::fastcgi::ops::metrics::Counts;
use crate::fastcgi::ops::status::{Status, render_json, render_prometheus, resident_bytes};
use crate::fastcgi::process::scoreboard::{mine, view};
use crate::fastcgi::protocol::conn::Phase;
use crate::fastcgi::work::running::Running;

use super::server::Server;

impl Server {
    /// The answer to a request for one of the runtime's pages.
    pub(crate) fn ops_page(&self, page: Page, params: &Params) -> HttpResponse {
        match page {
            Page::Ping => match self.health().unable {
                None => ops::ping_response(&self.pool.app, params),
                Some(reason) => {
                    self.pool
                        .app
                        .error_response(HttpError::service_unavailable(format!(
                            "Cannot serve now: {reason}"
                        )))
                }
            },
            Page::Status => ops::refuse_method(&self.pool.app, params).unwrap_or_else(|| {
                let status = self.status();
                if ops::wants_prometheus(params) {
                    let text = render_prometheus(&status);
                    ops::page_response(params, ops::PROMETHEUS_CONTENT_TYPE, text.into_bytes())
                } else {
                    ops::page_response(params, "application/json", render_json(&status))
                }
            }),
        }
    }

    /// The server's status now; under a master, the pool's (every worker's figures added
    /// up from the scoreboard, this one's written there first).
    fn status(&self) -> Status {
        let load = self.load();
        mine::publish_connections(load.connections);
        let mut status = Status {
            version: self.settings.version.clone(),
            counts: self.pool.metrics.read(),
            load,
            resident_bytes: resident_bytes(),
            pool: None,
            health: self.health(),
        };
        if let Some(pool) = view::pool_view() {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            let uptime = now.map_or(0.0, |d| d.as_secs_f64()) - pool.started_unix;
            status.counts =
                Counts::of(pool.totals, pool.window, uptime.max(0.0), pool.started_unix);
            status.load = pool.load;
            status.pool = Some(pool.pool);
        }
        status
    }

    /// This process's load now: connections by state (a scan of the table), handler slots
    /// busy, the queue.
    pub(crate) fn load(&self) -> Load {
        let waiting = self.ready.len();
        let mut connections = ByState::default();
        let mut without_socket = 0;
        for slot in self.table.slots().iter().flatten() {
            if slot.stream.is_none() {
                without_socket += 1;
                continue;
            }
            let state = match slot.conn.phase() {
                _ if !slot.flushed() => &mut connections.writing,
                Phase::Idle => &mut connections.idle,
                Phase::Head | Phase::Body => &mut connections.receiving,
                Phase::Responding | Phase::Closed => &mut connections.writing,
            };
            *state += 1;
        }
        connections.queued = waiting;
        connections.in_handler = without_socket - waiting.min(without_socket);
        let total = self.settings.workers;
        Load {
            connections,
            busy: total.saturating_sub(self.crew.free()),
            total,
            queue: waiting.saturating_sub(self.crew.free()),
        }
    }

    /// Whether a handler can run now (see `ops::health`).
    fn health(&self) -> Health {
        let (stuck, stuck_holding_slots) = self.running.as_ref().map_or((0, 0), Running::stuck_now);
        let health = Health::judge(Signs {
            workers: self.settings.workers,
            free: self.crew.free(),
            stuck,
            stuck_holding_slots,
            queue_overdue: self.ready.overdue(self.settings.queue_wait),
        });
        Health {
            store: self.pool.app.session_store_health(),
            ..health
        }
    }
}
