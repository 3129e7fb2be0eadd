//! Whether the server can run a handler now, for `--ping-path` and the status page. The ping
//! answers `200 pong` only when it can: when every worker slot is held by a handler stuck
//! past `--request-timeout` (the `--max-stuck` cap reached), or no slot is free and requests
//! waited past `--queue-wait` (they got a 503), it answers 503 with the reason, so a load
//! balancer stops sending traffic to a backend that can serve nothing.

use serde_json::json;
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
        }
    }

    /// The status page's `health` object.
    pub(crate) fn json(&self) -> serde_json::Value {
        json!({
            "can_run_handlers": self.unable.is_none(),
            "reason": self.unable,
            "handlers_stuck": self.stuck,
            "handlers_stuck_holding_slots": self.stuck_holding_slots,
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
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
