//! The pool's part of the status page under a master (`--processes` 2 or more): a line per
//! worker process (pid, start, requests finished, resident memory), the restarts by reason,
//! and the requests the pool's handlers finished, dead workers included (so the total never
//! goes down when a worker is replaced). Rendered as a `processes` object in JSON and as
//! `pycnic_pool_*` families in Prometheus text; the figures come from the scoreboard.

use std::fmt::Write;

use serde_json::{Value, json};

/// One worker process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WorkerLine {
    pub(crate) pid: u32,
    /// Unix seconds.
    pub(crate) started_unix: u64,
    pub(crate) requests: u64,
    pub(crate) resident_bytes: Option<u64>,
}

/// The pool's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PoolStatus {
    pub(crate) workers: Vec<WorkerLine>,
    /// Workers replaced, by reason name.
    pub(crate) restarts: Vec<(&'static str, u64)>,
    /// Requests finished by every worker the pool ever ran.
    pub(crate) requests_total: u64,
}

impl PoolStatus {
    /// The `processes` object of the JSON page.
    pub(crate) fn json(&self) -> Value {
        let workers: Vec<Value> = self
            .workers
            .iter()
            .map(|w| {
                json!({
                    "pid": w.pid,
                    "start_time_seconds": w.started_unix,
                    "requests": w.requests,
                    "resident_memory_bytes": w.resident_bytes,
                })
            })
            .collect();
        let restarts: serde_json::Map<String, Value> = self
            .restarts
            .iter()
            .map(|(name, n)| ((*name).to_string(), (*n).into()))
            .collect();
        json!({
            "workers": workers,
            "restarts": restarts,
            "requests_total": self.requests_total,
        })
    }

    /// The `pycnic_pool_*` families of the Prometheus page.
    pub(crate) fn prometheus(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP pycnic_pool_requests_total Requests the pool's handlers finished, replaced \
             workers included.\n# TYPE pycnic_pool_requests_total counter\n\
             pycnic_pool_requests_total {}",
            self.requests_total
        );
        let _ = writeln!(
            out,
            "# HELP pycnic_pool_restarts_total Worker processes replaced, by reason.\n\
             # TYPE pycnic_pool_restarts_total counter"
        );
        for (reason, n) in &self.restarts {
            let _ = writeln!(out, "pycnic_pool_restarts_total{{reason=\"{reason}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP pycnic_pool_worker_requests Requests a worker process finished.\n\
             # TYPE pycnic_pool_worker_requests gauge"
        );
        for w in &self.workers {
            let _ = writeln!(
                out,
                "pycnic_pool_worker_requests{{pid=\"{}\"}} {}",
                w.pid, w.requests
            );
        }
        let _ = writeln!(
            out,
            "# HELP pycnic_pool_worker_resident_memory_bytes A worker process's resident \
             memory.\n# TYPE pycnic_pool_worker_resident_memory_bytes gauge"
        );
        for w in &self.workers {
            if let Some(rss) = w.resident_bytes {
                let _ = writeln!(
                    out,
                    "pycnic_pool_worker_resident_memory_bytes{{pid=\"{}\"}} {rss}",
                    w.pid
                );
            }
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
