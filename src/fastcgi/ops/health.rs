//! Whether the server can run a handler now, for `--ping-path` and the status page. The ping
//! answers `200 pong` only when it can: when every worker slot is held by a handler stuck
//! past `--request-timeout` (the `--max-stuck` cap reached), or no slot is free and requests
//! waited past `--queue-wait` (they got a 503), it answers 503 with the reason, so a load
//! balancer stops sending traffic to a backend that can serve nothing. The status page shows
//! the same, with the stuck handlers and the session store's circuit breakers (a store that
//! is down costs only its routes, which answer 503 at once while its breaker is open).

use serde_json::json;

use crate::session::store::{BreakerState, StoreHealth};
use std::fmt::Write as _;

/// The server's health at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Health {
    /// Handlers still running past `--request-timeout` (answered 504 already).
    pub(crate) stuck: usize,
    /// Of them, those that keep their worker slot (past `--max-stuck`).
    pub(crate) stuck_holding_slots: usize,
    /// Why no handler can run now; `None` when one can.
    pub(crate) unable: Option<&'static str>,
    /// The session store's breakers, once a request has opened the store.
    pub(crate) store: Option<StoreHealth>,
}

/// What the server's parts say, at one moment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signs {
    /// Worker slots in all, and free now.
    pub(crate) workers: usize,
    pub(crate) free: usize,
    /// See [`Health`].
    pub(crate) stuck: usize,
    pub(crate) stuck_holding_slots: usize,
    /// A request waited past `--queue-wait` lately (within the last `--queue-wait`), or the
    /// oldest waiting request has.
    pub(crate) queue_overdue: bool,
}

impl Health {
    /// The health these signs show.
    pub(crate) fn judge(signs: Signs) -> Health {
        let unable = if signs.free > 0 {
            None
        } else if signs.stuck_holding_slots >= signs.workers {
            Some("every worker slot is held by a handler stuck past --request-timeout")
        } else if signs.queue_overdue {
            Some("no worker free: requests waited past --queue-wait")
        } else {
            None
        };
        Health {
            stuck: signs.stuck,
            stuck_holding_slots: signs.stuck_holding_slots,
            unable,
            store: None,
        }
    }

    /// The status page's `health` object.
    pub(crate) fn json(&self) -> serde_json::Value {
        json!({
            "can_run_handlers": self.unable.is_none(),
            "reason": self.unable,
            "handlers_stuck": self.stuck,
            "handlers_stuck_holding_slots": self.stuck_holding_slots,
            "session_store": self.store.as_ref().map(|store| json!({
                "store": store.store,
                "reads": breaker_json(store.reads),
                "writes": breaker_json(store.writes),
                "failures_in_a_row": store.failures,
            })),
        })
    }

    /// The status page's health gauges, in the Prometheus text format.
    pub(crate) fn prometheus(&self, out: &mut String) {
        let families = [
            (
                "pycnic_can_run_handlers",
                "1 when a handler can run now (the ping answers 200), else 0.",
                usize::from(self.unable.is_none()),
            ),
            (
                "pycnic_handlers_stuck",
                "Handlers still running past --request-timeout.",
                self.stuck,
            ),
            (
                "pycnic_handlers_stuck_holding_slots",
                "Stuck handlers keeping their worker slot (past --max-stuck).",
                self.stuck_holding_slots,
            ),
        ];
        for (name, help, value) in families {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        if let Some(store) = &self.store {
            let name = "pycnic_session_store_breaker";
            let _ = writeln!(
                out,
                "# HELP {name} The session store's circuit breaker: 0 closed, 1 half-open, 2 open.\n\
                 # TYPE {name} gauge"
            );
            for (access, state) in [("reads", store.reads), ("writes", store.writes)] {
                let value = match state {
                    BreakerState::Closed => 0,
                    BreakerState::HalfOpen => 1,
                    BreakerState::Open { .. } => 2,
                };
                let _ = writeln!(
                    out,
                    "{name}{{store=\"{}\",access=\"{access}\"}} {value}",
                    store.store
                );
            }
        }
    }
}

/// A breaker's state for the status page: `closed`, `half_open`, or `open` with the seconds
/// before the next probe.
fn breaker_json(state: BreakerState) -> serde_json::Value {
    match state {
        BreakerState::Closed => json!({"state": "closed"}),
        BreakerState::HalfOpen => json!({"state": "half_open"}),
        BreakerState::Open { retry_in } => {
            json!({"state": "open", "retry_in_seconds": retry_in.as_secs_f64()})
        }
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
